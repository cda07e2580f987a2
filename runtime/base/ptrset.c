/* ptrset.c - a set of pointers keyed by identity (see ptrset.h). */
#include "ptrset.h"

#include <string.h>

#include "casyncio/exceptions.h"

_Static_assert(AIO__PTRSET_INLINE == 16, "the inline slots are 2^4");

int aio__ptrset_init(aio__ptrset *set, size_t n)
{
    /* At most half full: a probe then ends within a slot or two. */
    size_t size = AIO__PTRSET_INLINE;
    unsigned bits = 4;
    while (size / 2 < n) {
        if (size > SIZE_MAX / 2 / sizeof *set->slots) {
            aio_err_set(aio_MemoryError, NULL);
            return -1;
        }
        size *= 2;
        bits++;
    }
    if (size == AIO__PTRSET_INLINE) {
        set->slots = set->inline_slots;
        memset(set->inline_slots, 0, sizeof set->inline_slots);
    } else if ((set->slots = aio__calloc(size, sizeof *set->slots)) == NULL) {
        return -1;
    }
    set->mask = size - 1;
    set->shift = 64 - bits;
    return 0;
}

void aio__ptrset_clear(aio__ptrset *set)
{
    if (set->slots != set->inline_slots)
        free(set->slots);
    set->slots = NULL;
}
