/* memory.h - how the loop's hot paths get memory. Internal.
 *
 * The handle pool: call_soon() and call_later() make a handle each and the loop frees it
 * once run, millions of times a second; a burst of timers makes hundreds of
 * thousands at once. Handles come from per-thread free lists over slabs that
 * grow from 64 KiB to 2 MiB (the large ones backed by transparent huge
 * pages, which spares the kernel a page fault per 4 KiB). Slabs are kept for
 * reuse: the pool follows the peak number of live handles. Under
 * AddressSanitizer the pool is bypassed so that every use after free is
 * caught.
 */
#ifndef CASYNCIO_RUNTIME_MEMORY_H
#define CASYNCIO_RUNTIME_MEMORY_H

#include <stddef.h>

#include "object.h"

/* The size of every pooled block: one cache line. */
#define AIO__POOL_BLOCK 64

/* A block of AIO__POOL_BLOCK bytes, or NULL with MemoryError. */
AIO_INTERNAL void *aio__pool_alloc(void);
AIO_INTERNAL void aio__pool_free(void *block);

/* Growable regions, for the ready queue and the timer heap: a mapping of
 * their own, grown with mremap() so that growing copies nothing and faults
 * no page twice, and backed by huge pages where the kernel allows. A region
 * holds `offset` bytes of slack before the pointer it returns.
 * aio__region_grow(NULL, 0, ...) makes one; NULL with MemoryError. */
AIO_INTERNAL void *aio__region_grow(void *ptr, size_t old_size, size_t size, size_t offset);
AIO_INTERNAL void aio__region_free(void *ptr, size_t size, size_t offset);

#endif /* CASYNCIO_RUNTIME_MEMORY_H */
