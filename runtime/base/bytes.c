/* bytes.c - an immutable, reference-counted bytes object (casyncio/net.h). */
#include <string.h>

#include "casyncio/exceptions.h"
#include "casyncio/net.h"
#include "bytes.h"

struct aio_bytes {
    aio__object ob;
    size_t len;
    unsigned char data[]; /* len bytes, then a NUL (never part of it) */
};

static void bytes_dealloc(void *obj)
{
    free(obj);
}

static int bytes_repr(const void *obj, aio__strbuf *out)
{
    const aio_bytes *b = obj;
    return aio__sb_append_bytes_repr(out, b->data, b->len);
}

AIO__DEFINE_TYPE(bytes_type) = {"bytes", bytes_dealloc, bytes_repr, 0};

aio_bytes *aio__bytes_alloc(size_t len, void **data)
{
    if (len > SIZE_MAX - sizeof(aio_bytes) - 1) {
        aio_err_set(aio_MemoryError, NULL);
        return NULL;
    }
    aio_bytes *b = aio__malloc(sizeof *b + len + 1);
    if (b == NULL)
        return NULL;
    aio__object_init(b, &bytes_type);
    b->len = len;
    b->data[len] = 0;
    *data = b->data;
    return b;
}

void aio__bytes_shrink(aio_bytes *bytes, size_t len)
{
    if (len < bytes->len) {
        bytes->len = len;
        bytes->data[len] = 0;
    }
}

aio_bytes *aio_bytes_new(const void *data, size_t len)
{
    if (data == NULL && len > 0) {
        aio_err_set(aio_TypeError, "aio_bytes_new() needs data for a non-empty bytes");
        return NULL;
    }
    void *into;
    aio_bytes *b = aio__bytes_alloc(len, &into);
    if (b != NULL && len > 0)
        memcpy(into, data, len);
    return b;
}

static bool is_bytes(const aio_bytes *bytes)
{
    return aio__is_object(bytes) && aio__type_of(bytes) == &bytes_type;
}

const void *aio_bytes_data(const aio_bytes *bytes)
{
    return is_bytes(bytes) ? bytes->data : NULL;
}

size_t aio_bytes_size(const aio_bytes *bytes)
{
    return is_bytes(bytes) ? bytes->len : 0;
}
