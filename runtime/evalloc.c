/* evalloc.c - the allocator libev allocates its own arrays with.
 *
 * libev aborts the process when its allocator returns NULL. Its
 * documentation's answer is an allocator that frees memory and tries again:
 * here a reserve, set aside while memory is plentiful, is given up the
 * moment libev cannot have what it asks for. Before every call into libev
 * that may allocate (a new loop, a new watcher, a poll), the loop checks
 * that the reserve is in place, and raises MemoryError instead of calling
 * libev when it cannot be put back. The one case left to libev's abort is
 * a single allocation larger than the reserve that fails even after it is
 * freed.
 *
 * The allocator is libev's, so process-wide: a program that uses libev
 * itself gets this one too (a realloc() with a fallback).
 */
#include "loop.h"

#include <stdlib.h>

#include "casyncio/exceptions.h"

#define RESERVE_SIZE ((size_t)1 << 20)

static void *reserve; /* swapped atomically: libev may allocate in any loop's thread */
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

static void *ev_allocator(void *ptr, long size)
{
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    for (;;) {
        void *p = realloc(ptr, (size_t)size);
        if (p != NULL)
            return p;
        void *r = __atomic_exchange_n(&reserve, NULL, __ATOMIC_ACQ_REL);
        if (r == NULL)
            return NULL;
        free(r);
    }
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
