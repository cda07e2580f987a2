/* evalloc.c - the allocator libev allocates its own arrays with.
 *
 * libev aborts the process when its allocator returns NULL. Its
 * documentation's answer is an allocator that frees memory and tries again.
 * Here there are two fallbacks, tried in turn when realloc() fails:
 *   - a reserve of heap memory, set aside while memory is plentiful and
 *     given up the moment libev cannot have what it asks for;
 *   - a static arena, for what libev asks for while the reserve is gone
 *     (its poll grows its event buffer when a poll fills it, and a poll is
 *     not a call that can raise MemoryError without stalling the loop).
 * Before the calls into libev that may allocate and that can raise (a new
 * loop, a new watcher), the loop puts the reserve back, and raises
 * MemoryError instead of calling libev when it cannot. The only case left
 * to libev's abort is an allocation that neither the heap, the reserve
 * nor what is left of the arena can satisfy.
 *
 * The allocator is libev's, so process-wide: a program that uses libev
 * itself gets this one too (a realloc() with fallbacks).
 */
#include "loop.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "casyncio/exceptions.h"

#define RESERVE_SIZE ((size_t)1 << 20)
#define ARENA_SIZE ((size_t)256 << 10)
#define ARENA_ALIGN 16

static void *reserve; /* swapped atomically: libev may allocate in any loop's thread */
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

/* The arena: blocks carved one after the other, each after a header with
 * its size; it starts over once every block in it was freed. */
static pthread_mutex_t arena_lock = PTHREAD_MUTEX_INITIALIZER;
static _Alignas(ARENA_ALIGN) unsigned char arena[ARENA_SIZE];
static size_t arena_used;
static size_t arena_live;

static bool in_arena(const void *p)
{
    return (const unsigned char *)p >= arena && (const unsigned char *)p < arena + ARENA_SIZE;
}

static void *arena_alloc(size_t size)
{
    size_t need = ARENA_ALIGN + ((size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1));
    void *p = NULL;
    pthread_mutex_lock(&arena_lock);
    if (size <= ARENA_SIZE && need <= ARENA_SIZE - arena_used) {
        unsigned char *block = arena + arena_used;
        memcpy(block, &size, sizeof size);
        arena_used += need;
        arena_live++;
        p = block + ARENA_ALIGN;
    }
    pthread_mutex_unlock(&arena_lock);
    return p;
}

static size_t arena_size_of(const void *p)
{
    size_t size;
    memcpy(&size, (const unsigned char *)p - ARENA_ALIGN, sizeof size);
    return size;
}

static void arena_free(void *p)
{
    (void)p;
    pthread_mutex_lock(&arena_lock);
    if (--arena_live == 0)
        arena_used = 0;
    pthread_mutex_unlock(&arena_lock);
}

/* malloc(), then the reserve given up, then the arena. */
static void *alloc_fresh(size_t size)
{
    for (;;) {
        void *p = malloc(size);
        if (p != NULL)
            return p;
        void *r = __atomic_exchange_n(&reserve, NULL, __ATOMIC_ACQ_REL);
        if (r == NULL)
            return arena_alloc(size);
        free(r);
    }
}

static void *ev_allocator(void *ptr, long lsize)
{
    size_t size = (size_t)lsize;
    if (ptr != NULL && in_arena(ptr)) {
        void *moved = size > 0 ? alloc_fresh(size) : NULL;
        if (moved != NULL) {
            size_t old = arena_size_of(ptr);
            memcpy(moved, ptr, old < size ? old : size);
        }
        if (size == 0 || moved != NULL)
            arena_free(ptr);
        return moved;
    }
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    if (ptr == NULL)
        return alloc_fresh(size);
    for (;;) {
        void *p = realloc(ptr, size);
        if (p != NULL)
            return p;
        void *r = __atomic_exchange_n(&reserve, NULL, __ATOMIC_ACQ_REL);
        if (r == NULL)
            break;
        free(r);
    }
    /* Into the arena, keeping what ptr holds. */
    void *moved = arena_alloc(size);
    if (moved != NULL) {
        size_t old = malloc_usable_size(ptr);
        memcpy(moved, ptr, old < size ? old : size);
        free(ptr);
    }
    return moved;
}

static void install(void)
{
    ev_set_allocator(ev_allocator);
}

int aio__ev_reserve(void)
{
    if (AIO_LIKELY(__atomic_load_n(&reserve, __ATOMIC_ACQUIRE) != NULL))
        return 0;
    pthread_once(&install_once, install);
    void *r = malloc(RESERVE_SIZE);
    if (r == NULL) {
        aio_err_set(aio_MemoryError, NULL);
        return -1;
    }
    void *expected = NULL;
    if (!__atomic_compare_exchange_n(&reserve, &expected, r, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        free(r); /* another thread put one back first */
    return 0;
}
