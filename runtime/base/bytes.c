/* bytes.c - an immutable, reference-counted bytes object (casyncio/net.h).
 *
 * Bytes of more than 1 KiB (what a stream's read() returns) come from a
 * small per-thread cache of freed ones, by size class (four classes per
 * power of two, so at most a quarter is slack), rather than from malloc
 * each time: glibc's tcache stops at about 1 KiB, and above it every
 * malloc/free of a read's bytes goes through its bins (and consolidation),
 * some 500 instructions a read. The cache holds at most CACHE_PER_CLASS
 * blocks of a class and CACHE_MAX_BYTES in all per thread (more is freed
 * at once); a thread that ends frees what it holds. Holding a few blocks
 * also keeps the top of the heap in use, so that glibc does not trim and
 * regrow it around every read. Under AddressSanitizer the cache is
 * bypassed so that every use after free is caught. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "casyncio/exceptions.h"
#include "casyncio/net.h"
#include "bytes.h"

struct aio_bytes {
    aio__object ob;
    size_t len;
    uint32_t size_class; /* its class in the cache + 1; 0: plain malloc */
    unsigned char data[]; /* len bytes, then a NUL (never part of it) */
};

#if defined(__SANITIZE_ADDRESS__)
#define CACHE_BYPASS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CACHE_BYPASS 1
#endif
#endif

/* Allocations (header, data and NUL) of CACHE_MIN_SIZE bytes or less go to
 * malloc alone; classes run from there to CACHE_MAX_SIZE. */
#define CACHE_MIN_SIZE ((size_t)1024)
#define CACHE_MAX_SIZE ((size_t)512 * 1024)
#define CACHE_CLASSES 36 /* 4 per power of two from 2^10 to 2^19 */
#define CACHE_PER_CLASS 4
#define CACHE_MAX_BYTES ((size_t)1024 * 1024)

/* The class of an allocation of `size` bytes, in (CACHE_MIN_SIZE,
 * CACHE_MAX_SIZE]: the smallest base + q * base / 4 (q in 1..4, base the
 * power of two below size) that holds it. */
static unsigned size_class_of(size_t size)
{
    unsigned k = 63u - (unsigned)__builtin_clzll((unsigned long long)(size - 1));
    size_t base = (size_t)1 << k, step = base / 4;
    size_t q = (size - base + step - 1) / step;
    return (k - 10) * 4 + (unsigned)q - 1;
}

static size_t class_size(unsigned cls)
{
    size_t base = (size_t)1 << (cls / 4 + 10);
    return base + (cls % 4 + 1) * (base / 4);
}

#ifndef CACHE_BYPASS
typedef struct cached_block {
    struct cached_block *next;
} cached_block;

typedef struct bytes_cache {
    cached_block *blocks[CACHE_CLASSES];
    unsigned char count[CACHE_CLASSES];
    size_t bytes;
    bool exit_hook_set;
} bytes_cache;

static _Thread_local bytes_cache cache;
static pthread_key_t cache_key;
static pthread_once_t cache_key_once = PTHREAD_ONCE_INIT;

static void cache_drop(void *unused)
{
    (void)unused;
    for (unsigned c = 0; c < CACHE_CLASSES; c++) {
        while (cache.blocks[c] != NULL) {
            cached_block *b = cache.blocks[c];
            cache.blocks[c] = b->next;
            free(b);
        }
        cache.count[c] = 0;
    }
    cache.bytes = 0;
    cache.exit_hook_set = false;
}

static void cache_key_init(void)
{
    pthread_key_create(&cache_key, cache_drop);
}

/* Keeps a freed block of class `cls`, or frees it. */
static void cache_put(void *block, unsigned cls)
{
    size_t size = class_size(cls);
    if (cache.count[cls] >= CACHE_PER_CLASS || cache.bytes + size > CACHE_MAX_BYTES) {
        free(block);
        return;
    }
    if (!cache.exit_hook_set) {
        pthread_once(&cache_key_once, cache_key_init);
        if (pthread_setspecific(cache_key, &cache) != 0) {
            free(block);
            return;
        }
        cache.exit_hook_set = true;
    }
    cached_block *b = block;
    b->next = cache.blocks[cls];
    cache.blocks[cls] = b;
    cache.count[cls]++;
    cache.bytes += size;
}

static void *cache_get(unsigned cls)
{
    cached_block *b = cache.blocks[cls];
    if (b == NULL)
        return NULL;
    cache.blocks[cls] = b->next;
    cache.count[cls]--;
    cache.bytes -= class_size(cls);
    return b;
}
#endif

static void bytes_dealloc(void *obj)
{
#ifndef CACHE_BYPASS
    aio_bytes *b = obj;
    if (b->size_class != 0) {
        cache_put(b, b->size_class - 1);
        return;
    }
#endif
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
    size_t size = sizeof(aio_bytes) + len + 1;
    aio_bytes *b;
    uint32_t size_class = 0;
    if (size > CACHE_MIN_SIZE && size <= CACHE_MAX_SIZE) {
        unsigned cls = size_class_of(size);
        size_class = cls + 1;
#ifndef CACHE_BYPASS
        if (aio__alloc_fails())
            return NULL;
        b = cache_get(cls);
        if (b == NULL)
            b = malloc(class_size(cls));
        if (b == NULL) {
            aio_err_set(aio_MemoryError, NULL);
            return NULL;
        }
#else
        b = aio__malloc(class_size(cls));
        if (b == NULL)
            return NULL;
#endif
    } else {
        b = aio__malloc(size);
        if (b == NULL)
            return NULL;
    }
    aio__object_init(b, &bytes_type);
    b->size_class = size_class;
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
