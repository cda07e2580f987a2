/* hot_memory.h - how the loop's hot paths get memory. Internal.
 *
 * The handle pool: call_soon() and call_later() make a handle each and the loop frees it
 * once run, millions of times a second; a burst of timers makes hundreds of
 * thousands at once. Handles come from per-thread free lists, so that the
 * loop's thread allocates and frees them without a lock. A handle may be
 * freed by another thread than the one that made it (call_soon_threadsafe():
 * a producer makes it, the loop's thread frees it), so what threads free
 * must reach those that allocate: a thread keeps at most two lists of 256
 * free blocks (one in use, one set aside) and gives any more, a list at a
 * time, to a depot that all threads share; a thread whose lists are empty
 * takes one from the depot before it carves new memory. Memory is carved
 * from slabs (64 KiB, then 2 MiB backed by transparent huge pages, which
 * spares the kernel a page fault per 4 KiB) in chunks of 16 KiB per thread.
 * A thread that ends gives its free blocks and the rest of its chunk to the
 * depot. Slabs are kept for reuse: the pool follows the peak number of
 * live handles, plus a few lists and a chunk per thread, however many
 * threads come and go. A free block is the pool's in its first word only:
 * the rest keeps what the block held (a freed handle names itself to a
 * stale use). Under AddressSanitizer the pool is bypassed so that every use
 * after free is caught.
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
#ifdef AIO_TRACK_OBJECTS
/* For tests: what the pool took from the system so far, in bytes (0 under
 * AddressSanitizer, where there is no pool). */
AIO_INTERNAL size_t aio__pool_slab_bytes(void);
#endif

/* Growable regions, for the ready queue and the timer heap: a mapping of
 * their own, grown with mremap() so that growing copies nothing and faults
 * no page twice, and backed by huge pages where the kernel allows. A region
 * holds `offset` bytes of slack before the pointer it returns.
 * aio__region_grow(NULL, 0, ...) makes one; NULL with MemoryError. */
AIO_INTERNAL void *aio__region_grow(void *ptr, size_t old_size, size_t size, size_t offset);
AIO_INTERNAL void aio__region_free(void *ptr, size_t size, size_t offset);

#endif /* CASYNCIO_RUNTIME_MEMORY_H */
