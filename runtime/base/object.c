/* object.c - reference counting, repr() and allocation for all objects. */
#include "object.h"

#include <string.h>

#include "casyncio/exceptions.h"
#include "casyncio/log.h"

#ifdef AIO_TRACK_OBJECTS
long aio__live_objects;
_Thread_local long aio__fail_alloc_after = -1;

/* An allocation the test asked to fail. */
static bool fail_this_alloc(void)
{
    if (aio__fail_alloc_after < 0 || aio__fail_alloc_after-- > 0)
        return false;
    aio_err_set(aio_MemoryError, NULL);
    return true;
}
bool aio__alloc_fails(void)
{
    return fail_this_alloc();
}
#define FAIL_IF_ASKED(result)                                                                 \
    do {                                                                                       \
        if (fail_this_alloc())                                                                 \
            return result;                                                                     \
    } while (0)
#else
#define FAIL_IF_ASKED(result) ((void)0)
#endif

/* The bounds of the section that holds every type (AIO__DEFINE_TYPE). */
extern const char __start_aio_types[] AIO_INTERNAL;
extern const char __stop_aio_types[] AIO_INTERNAL;

bool aio__is_object(const void *obj)
{
    if (obj == NULL)
        return false;
    const char *type = (const char *)((const aio__object *)obj)->type;
    return type >= __start_aio_types && type < __stop_aio_types;
}

/* What the public functions say of a pointer that is not an object, or
 * of an object that was freed. */
static void not_an_object(const char *function, const void *obj)
{
    if (aio__is_object(obj)) {
        aio__strbuf sb = AIO__STRBUF_INIT;
        aio__type_of(obj)->repr(obj, &sb);
        aio_err_format(aio_RuntimeError, "%s() called on %s, which was already freed: hold a "
                       "reference (aio_incref()) to use an object after its owner drops it",
                       function, sb.data ? sb.data : "?");
        aio__sb_free(&sb);
        return;
    }
    aio_err_format(aio_TypeError, "%s() needs a casyncio object, not %p", function, obj);
}

static bool is_live_object(const void *obj)
{
    return aio__is_object(obj) && !(aio__type_of(obj)->flags & AIO__TYPE_FREED);
}

void *aio_incref(void *obj)
{
    if (obj == NULL)
        return NULL;
    if (AIO_UNLIKELY(!is_live_object(obj))) {
        not_an_object("aio_incref", obj);
        return NULL;
    }
    if (aio__type_of(obj)->flags & AIO__TYPE_ATOMIC)
        aio__incref_atomic(obj);
    else
        aio__incref(obj);
    return obj;
}

void aio_decref(void *obj)
{
    if (obj == NULL)
        return;
    if (AIO_UNLIKELY(!is_live_object(obj))) {
        /* Nothing to hand an exception to: say so and change nothing. */
        aio_exc *pending = aio_err_fetch();
        not_an_object("aio_decref", obj);
        aio_exc *error = aio_err_fetch();
        aio_log(AIO_LOG_ERROR, NULL, "%s: ignored", aio_exc_str(error));
        aio__decref(error);
        aio_err_restore(pending);
        return;
    }
    if (aio__type_of(obj)->flags & AIO__TYPE_ATOMIC)
        aio__decref_atomic(obj);
    else
        aio__decref(obj);
}

int aio__repr_default(const void *obj, aio__strbuf *out)
{
    return aio__sb_appendf(out, "<%s object at %p>", aio__type_of(obj)->name, obj);
}

int aio__repr_into(const void *obj, aio__strbuf *out)
{
    if (obj == NULL)
        return aio__sb_append(out, "None");
    const aio__type *type = aio__type_of(obj);
    return type->repr ? type->repr(obj, out) : aio__repr_default(obj, out);
}

char *aio_repr(const void *obj)
{
    if (obj != NULL && !aio__is_object(obj)) {
        not_an_object("aio_repr", obj);
        return NULL;
    }
    aio__strbuf sb = AIO__STRBUF_INIT;
    aio__repr_into(obj, &sb);
    return aio__sb_finish(&sb);
}

void *aio__malloc(size_t size)
{
    FAIL_IF_ASKED(NULL);
    void *p = malloc(size ? size : 1);
    if (p == NULL)
        aio_err_set(aio_MemoryError, NULL);
    return p;
}

void *aio__calloc(size_t n, size_t size)
{
    FAIL_IF_ASKED(NULL);
    n = n ? n : 1;
    size = size ? size : 1;
    void *p;
    /* glibc's calloc() never takes from its per-thread cache (tcache), so
     * that objects made and freed over and over (a future per awaited read)
     * would go through its bins every time; malloc() and a memset() of a
     * small block take the cached one. Large blocks keep calloc(), which
     * knows when fresh pages need no clearing. */
    if (size <= 1024 / n) {
        p = malloc(n * size);
        if (p != NULL)
            memset(p, 0, n * size);
    } else {
        p = calloc(n, size);
    }
    if (p == NULL)
        aio_err_set(aio_MemoryError, NULL);
    return p;
}

void *aio__realloc(void *ptr, size_t size)
{
    FAIL_IF_ASKED(NULL);
    void *p = realloc(ptr, size ? size : 1);
    if (p == NULL)
        aio_err_set(aio_MemoryError, NULL);
    return p;
}

char *aio__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = aio__malloc(n);
    if (p != NULL)
        memcpy(p, s, n);
    return p;
}
