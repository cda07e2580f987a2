/* memory.c - the handle pool and growable regions (see memory.h). */
#include "memory.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "casyncio/exceptions.h"

#if defined(__SANITIZE_ADDRESS__)
#define POOL_BYPASS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_BYPASS 1
#endif
#endif

#ifdef POOL_BYPASS

void *aio__pool_alloc(void)
{
    return aio__malloc(AIO__POOL_BLOCK);
}

void aio__pool_free(void *block)
{
    free(block);
}

#else

#define SLAB_MIN (64u * 1024u)
#define SLAB_MAX (2u * 1024u * 1024u)

typedef struct free_block {
    struct free_block *next;
} free_block;

/* Every slab ever made, so that the memory stays reachable. */
typedef struct slab {
    struct slab *next;
} slab;

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static slab *slabs;
static free_block *orphans; /* free lists left by threads that ended */

static _Thread_local free_block *free_blocks;
static _Thread_local char *bump;      /* the unused rest of this thread's slab */
static _Thread_local char *bump_end;
static _Thread_local size_t next_slab_size = SLAB_MIN;
static _Thread_local int exit_hook_set;

static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

/* A thread that ends hands its free blocks to the others. */
static void on_thread_exit(void *unused)
{
    (void)unused;
    if (free_blocks == NULL)
        return;
    free_block *last = free_blocks;
    while (last->next != NULL)
        last = last->next;
    pthread_mutex_lock(&pool_lock);
    last->next = orphans;
    orphans = free_blocks;
    pthread_mutex_unlock(&pool_lock);
    free_blocks = NULL;
}

static void exit_key_init(void)
{
    pthread_key_create(&exit_key, on_thread_exit);
}

static __attribute__((noinline)) void set_exit_hook(void)
{
    pthread_once(&exit_key_once, exit_key_init);
    pthread_setspecific(exit_key, &exit_key);
    exit_hook_set = 1;
}

static int new_slab(void)
{
    size_t size = next_slab_size;
    void *memory;
    if (size >= SLAB_MAX) {
        memory = aligned_alloc(SLAB_MAX, size);
        if (memory != NULL)
            madvise(memory, size, MADV_HUGEPAGE);
    } else {
        memory = malloc(size);
        next_slab_size = SLAB_MAX; /* a thread past its first slab is busy */
    }
    if (memory == NULL) {
        aio_err_set(aio_MemoryError, NULL);
        return -1;
    }
    slab *s = memory;
    pthread_mutex_lock(&pool_lock);
    s->next = slabs;
    slabs = s;
    pthread_mutex_unlock(&pool_lock);
    /* The slab's first block holds its link. */
    bump = (char *)memory + AIO__POOL_BLOCK;
    bump_end = (char *)memory + size;
    return 0;
}

/* Past the free list and the slab: other threads' leftovers, or a new slab. */
static __attribute__((noinline)) void *pool_alloc_slow(void)
{
    if (!exit_hook_set)
        set_exit_hook();
    pthread_mutex_lock(&pool_lock);
    free_block *block = orphans;
    orphans = NULL;
    pthread_mutex_unlock(&pool_lock);
    if (block != NULL) {
        free_blocks = block->next;
        return block;
    }
    if (new_slab() < 0)
        return NULL;
    void *out = bump;
    bump += AIO__POOL_BLOCK;
    return out;
}

void *aio__pool_alloc(void)
{
    free_block *block = free_blocks;
    if (AIO_LIKELY(block != NULL)) {
        free_blocks = block->next;
        return block;
    }
    if (AIO_LIKELY(bump < bump_end)) {
        void *out = bump;
        bump += AIO__POOL_BLOCK;
        return out;
    }
    return pool_alloc_slow();
}

void aio__pool_free(void *ptr)
{
    free_block *block = ptr;
    if (AIO_UNLIKELY(!exit_hook_set))
        set_exit_hook(); /* noinline: keeps this path short */
    block->next = free_blocks;
    free_blocks = block;
}

#endif /* POOL_BYPASS */

/* --- Growable regions ------------------------------------------------------ */

static size_t region_bytes(size_t size, size_t offset)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return (size + offset + page - 1) & ~(page - 1);
}

void *aio__region_grow(void *ptr, size_t old_size, size_t size, size_t offset)
{
    void *base;
    if (ptr == NULL)
        base = mmap(NULL, region_bytes(size, offset), PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    else
        base = mremap((char *)ptr - offset, region_bytes(old_size, offset),
                      region_bytes(size, offset), MREMAP_MAYMOVE);
    if (base == MAP_FAILED) {
        aio_err_set(aio_MemoryError, NULL);
        return NULL;
    }
    madvise(base, region_bytes(size, offset), MADV_HUGEPAGE);
    return (char *)base + offset;
}

void aio__region_free(void *ptr, size_t size, size_t offset)
{
    if (ptr != NULL)
        munmap((char *)ptr - offset, region_bytes(size, offset));
}
