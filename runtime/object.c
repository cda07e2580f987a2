/* object.c - reference counting, repr() and allocation for all objects. */
#include "object.h"

#include <string.h>

#include "casyncio/exceptions.h"

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
#define FAIL_IF_ASKED(result)                                                                 \
    do {                                                                                       \
        if (fail_this_alloc())                                                                 \
            return result;                                                                     \
    } while (0)
#else
#define FAIL_IF_ASKED(result) ((void)0)
#endif

void *aio_incref(void *obj)
{
    if (obj != NULL)
        aio__incref(obj);
    return obj;
}

void aio_decref(void *obj)
{
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
    void *p = calloc(n ? n : 1, size ? size : 1);
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
