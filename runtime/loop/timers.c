/* timers.c - the loop's timer heap: Python's heapq, step for step.
 *
 * asyncio keeps TimerHandles in a list managed by heapq and compares them by
 * `when` alone, so timers with equal deadlines do not run in FIFO order but
 * in the order heapq's sifting leaves them. Reproducing heapq exactly (push:
 * sift toward the root while strictly smaller; pop: move the last element to
 * the root, walk it down to a leaf always taking the right child unless the
 * left is strictly smaller, then sift it back up) gives the same order.
 */
#include <stdlib.h>

#include "loop.h"
#include "hot_memory.h"

typedef aio__timer_entry entry;

/* The heap is a growable region (hot_memory.h) that starts 16 bytes past a
 * cache line, so that the four grandchildren of every slot share one line:
 * a pop fetches the next level while it compares this one. */
#define HEAP_OFFSET 16

/* heapq._siftdown: move heap[pos] toward `start` while it is smaller. */
static void sift_down(entry *heap, size_t start, size_t pos)
{
    entry item = heap[pos];
    while (pos > start) {
        size_t parent = (pos - 1) >> 1;
        if (!(item.when < heap[parent].when))
            break;
        heap[pos] = heap[parent];
        pos = parent;
    }
    heap[pos] = item;
}

/* heapq._siftup: move heap[pos] down to a leaf, then back up. */
static void sift_up(entry *heap, size_t len, size_t pos)
{
    size_t start = pos;
    entry item = heap[pos];
    size_t child = 2 * pos + 1;
    while (child < len) {
        __builtin_prefetch(&heap[2 * child + 1]);
        size_t right = child + 1;
        if (right < len && !(heap[child].when < heap[right].when))
            child = right;
        heap[pos] = heap[child];
        pos = child;
        child = 2 * pos + 1;
    }
    heap[pos] = item;
    sift_down(heap, start, pos);
}

int aio__timers_push(aio_loop *loop, aio_handle *timer)
{
    if (loop->timers_len == loop->timers_cap) {
        size_t cap = loop->timers_cap ? loop->timers_cap * 2 : 252;
        entry *timers = aio__region_grow(loop->timers, loop->timers_cap * sizeof(entry),
                                         cap * sizeof(entry), HEAP_OFFSET);
        if (timers == NULL)
            return -1;
        loop->timers = timers;
        loop->timers_cap = cap;
    }
    loop->timers[loop->timers_len].when = timer->when;
    loop->timers[loop->timers_len].handle = timer;
    sift_down(loop->timers, 0, loop->timers_len);
    loop->timers_len++;
    timer->scheduled = true;
    return 0;
}

/* heapq.heappop; the caller takes over the reference. */
aio_handle *aio__timers_pop(aio_loop *loop)
{
    entry *heap = loop->timers;
    entry last = heap[--loop->timers_len];
    if (loop->timers_len == 0)
        return last.handle;
    aio_handle *first = heap[0].handle;
    heap[0] = last;
    sift_up(heap, loop->timers_len, 0);
    return first;
}

/* Step 1 of _run_once: drop cancelled timers. With more than 100 timers of
 * which more than half are cancelled, rebuild the heap; otherwise only pop
 * cancelled ones off the top. */
void aio__timers_purge_cancelled(aio_loop *loop)
{
    size_t len = loop->timers_len;
    if (len > 100 && (double)loop->timer_cancelled_count / (double)len > 0.5) {
        size_t kept = 0;
        for (size_t i = 0; i < len; i++) {
            aio_handle *timer = loop->timers[i].handle;
            if (timer->cancelled) {
                timer->scheduled = false;
                aio__decref(timer);
            } else {
                loop->timers[kept++] = loop->timers[i];
            }
        }
        loop->timers_len = kept;
        for (size_t i = kept / 2; i-- > 0;)
            sift_up(loop->timers, kept, i);
        loop->timer_cancelled_count = 0;
        return;
    }
    while (loop->timers_len > 0 && loop->timers[0].handle->cancelled) {
        aio_handle *timer = aio__timers_pop(loop);
        loop->timer_cancelled_count--;
        timer->scheduled = false;
        aio__decref(timer);
    }
}

/* close(): drop every timer without running it. */
void aio__timers_clear(aio_loop *loop)
{
    for (size_t i = 0; i < loop->timers_len; i++) {
        loop->timers[i].handle->scheduled = false;
        aio__decref(loop->timers[i].handle);
    }
    loop->timers_len = 0;
    loop->timer_cancelled_count = 0;
    aio__region_free(loop->timers, loop->timers_cap * sizeof(entry), HEAP_OFFSET);
    loop->timers = NULL;
    loop->timers_cap = 0;
}
