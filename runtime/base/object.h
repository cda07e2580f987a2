/* object.h - the header every casyncio object starts with, and the small
 * helpers that allocate, name and free objects. Internal. */
#ifndef CASYNCIO_RUNTIME_OBJECT_H
#define CASYNCIO_RUNTIME_OBJECT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "casyncio/base.h"
#include "strbuf.h"

#if defined(__GNUC__) || defined(__clang__)
#define AIO_LIKELY(x) __builtin_expect(!!(x), 1)
#define AIO_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define AIO_INTERNAL __attribute__((visibility("hidden")))
#else
#define AIO_LIKELY(x) (x)
#define AIO_UNLIKELY(x) (x)
#define AIO_INTERNAL
#endif

/* What a kind of object does when it is freed and printed. */
typedef struct aio__type {
    const char *name;                                /* Python class name */
    void (*dealloc)(void *obj);                      /* frees the object */
    int (*repr)(const void *obj, aio__strbuf *out);  /* appends repr(obj) */
    unsigned flags;                                  /* AIO__TYPE_* */
} aio__type;

/* The type of an object that was freed: its memory is still there (a
 * handle in the pool or in debug mode's quarantine), marked so that a use
 * of a stale pointer is refused instead of acting on another object. */
#define AIO__TYPE_FREED 1u
/* A transport (runtime/net/transport.h): its struct starts with struct
 * aio_transport. */
#define AIO__TYPE_TRANSPORT 2u
/* An object any thread may hold (an executor, a concurrent future): its
 * reference count is atomic, in aio_incref() and aio_decref() too. */
#define AIO__TYPE_ATOMIC 4u

/* The first member of every object. A negative refcount marks an object
 * that is never freed (static singletons). */
typedef struct aio__object {
    intptr_t refcnt;
    const aio__type *type;
} aio__object;

#define AIO__IMMORTAL ((intptr_t)-1)

/* Every type lives in one section of its own, so that the public
 * aio_incref(), aio_decref() and aio_repr() can tell an object from any
 * other pointer by where its type pointer points, without reading it. */
#define AIO__DEFINE_TYPE(name) \
    static const aio__type name __attribute__((section("aio_types"), used, aligned(16)))

/* True when obj starts with the header of a casyncio object. */
AIO_INTERNAL bool aio__is_object(const void *obj);

/* Test builds count live objects, so that tests can assert nothing leaked. */
#ifdef AIO_TRACK_OBJECTS
extern long aio__live_objects;
#define AIO__TRACK(delta) ((void)__atomic_add_fetch(&aio__live_objects, (delta), __ATOMIC_RELAXED))
/* And make an allocation fail: after this many more aio__malloc(),
 * aio__calloc() or aio__realloc() calls of the thread succeed, the next one
 * fails with MemoryError (once); -1, the default, fails none. */
extern _Thread_local long aio__fail_alloc_after;
#else
#define AIO__TRACK(delta) ((void)0)
#endif
#define AIO__STATIC_OBJECT(type_ptr) {AIO__IMMORTAL, (type_ptr)}

static inline void aio__object_init(void *obj, const aio__type *type)
{
    aio__object *ob = (aio__object *)obj;
    ob->refcnt = 1;
    ob->type = type;
    AIO__TRACK(1);
}

static inline void aio__incref(void *obj)
{
    aio__object *ob = (aio__object *)obj;
    if (ob->refcnt >= 0)
        ob->refcnt++;
}

static inline void aio__decref(void *obj)
{
    aio__object *ob = (aio__object *)obj;
    if (ob != NULL && ob->refcnt > 0 && --ob->refcnt == 0) {
        AIO__TRACK(-1);
        ob->type->dealloc(ob);
    }
}

/* The reference counting of AIO__TYPE_ATOMIC objects. */
static inline void aio__incref_atomic(void *obj)
{
    __atomic_fetch_add(&((aio__object *)obj)->refcnt, 1, __ATOMIC_RELAXED);
}

static inline void aio__decref_atomic(void *obj)
{
    aio__object *ob = (aio__object *)obj;
    if (ob != NULL && __atomic_sub_fetch(&ob->refcnt, 1, __ATOMIC_ACQ_REL) == 0) {
        AIO__TRACK(-1);
        ob->type->dealloc(ob);
    }
}

static inline const aio__type *aio__type_of(const void *obj)
{
    return ((const aio__object *)obj)->type;
}

/* Whether the allocation about to be made is one a test asked to fail
 * (aio__fail_alloc_after): true with MemoryError set. For allocators that
 * hand out memory they keep (caches), so that they fail where malloc would. */
#ifdef AIO_TRACK_OBJECTS
AIO_INTERNAL bool aio__alloc_fails(void);
#else
static inline bool aio__alloc_fails(void)
{
    return false;
}
#endif

/* malloc/calloc/realloc/strdup that set MemoryError on failure. */
AIO_INTERNAL void *aio__malloc(size_t size);
AIO_INTERNAL void *aio__calloc(size_t n, size_t size);
AIO_INTERNAL void *aio__realloc(void *ptr, size_t size);
AIO_INTERNAL char *aio__strdup(const char *s);

/* Appends repr(obj) of any object; "None" for NULL. */
AIO_INTERNAL int aio__repr_into(const void *obj, aio__strbuf *out);
/* Appends a generic "<Name object at 0x...>". */
AIO_INTERNAL int aio__repr_default(const void *obj, aio__strbuf *out);

#endif /* CASYNCIO_RUNTIME_OBJECT_H */
