/* ptrset.h - a set of pointers keyed by identity, for the helpers that
 * must tell repeated arguments apart (gather()'s arg_to_fut dict, wait()'s
 * set(fs)): an add and a lookup in one, in constant time, so that n
 * arguments cost O(n) and not O(n^2). Internal.
 *
 * It is sized once for the number of adds it will see, so that an add never
 * allocates and never fails: the only failure is in aio__ptrset_init(). Few
 * pointers (up to AIO__PTRSET_INLINE / 2) need no allocation at all.
 */
#ifndef CASYNCIO_RUNTIME_PTRSET_H
#define CASYNCIO_RUNTIME_PTRSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "object.h"

#define AIO__PTRSET_INLINE 16

typedef struct aio__ptrset {
    const void **slots;   /* a power of two of them; NULL marks a free one */
    size_t mask;          /* their number - 1 */
    unsigned shift;       /* 64 - log2(their number): the hash's top bits */
    const void *inline_slots[AIO__PTRSET_INLINE];
} aio__ptrset;

/* An empty set that takes up to `n` adds. 0, or -1 with MemoryError. */
AIO_INTERNAL int aio__ptrset_init(aio__ptrset *set, size_t n);
AIO_INTERNAL void aio__ptrset_clear(aio__ptrset *set);

/* Adds `ptr` (not NULL): true when it was not in the set yet. */
static inline bool aio__ptrset_add(aio__ptrset *set, const void *ptr)
{
    /* Fibonacci hashing: the multiply mixes the low bits, which alignment
     * leaves zero, into the top ones that pick the slot. */
    size_t i = (size_t)(((uint64_t)(uintptr_t)ptr * UINT64_C(0x9E3779B97F4A7C15)) >> set->shift);
    for (;;) {
        const void *slot = set->slots[i];
        if (slot == NULL) {
            set->slots[i] = ptr;
            return true;
        }
        if (slot == ptr)
            return false;
        i = (i + 1) & set->mask;
    }
}

#endif /* CASYNCIO_RUNTIME_PTRSET_H */
