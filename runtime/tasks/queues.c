/* queues.c - asyncio.Queue, PriorityQueue and LifoQueue (queues.py, 3.11,
 * and 3.13's shutdown()), with CPython's order of items and wake-ups:
 * getters and putters wait in FIFO order, a waiter woken but cancelled
 * before it ran passes the wake-up on, and a PriorityQueue is a binary heap
 * kept exactly as heapq keeps it (only `<` is asked), so that equal items
 * come out in CPython's order. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "casyncio/api.h"
#include "impl.h"
#include "loop.h"
#include "task.h"
#include "waiters.h"

typedef enum queue_kind { QUEUE_FIFO, QUEUE_LIFO, QUEUE_PRIORITY } queue_kind;

static const char *const queue_names[] = {"Queue", "LifoQueue", "PriorityQueue"};

struct aio_queue {
    aio__object ob;
    aio_loop *loop;
    queue_kind kind;
    int maxsize;
    /* The items: a ring (FIFO) or an array from index 0 (LIFO, and the
     * heap of a PriorityQueue). */
    void **items;
    size_t head, len, cap;
    aio_compare_func compare;
    void *compare_arg;
    aio__waiters getters, putters;
    long unfinished_tasks;
    aio_event *finished;
    bool is_shutdown;     /* shutdown() was called (3.13) */
};

static void queue_dealloc(void *obj)
{
    aio_queue *q = obj;
    aio__waiters_clear(&q->getters);
    aio__waiters_clear(&q->putters);
    aio__decref(q->finished);
    aio__decref(q->loop);
    free(q->items);
    free(q);
}

static void *item_at(const aio_queue *q, size_t i)
{
    return q->kind == QUEUE_FIFO ? q->items[(q->head + i) % q->cap] : q->items[i];
}

/* <Queue at 0x... maxsize=0 _queue=[0x1, 0x2] _getters[1] _putters[1] tasks=2>: the
 * items are pointers, shown as such (None for NULL). */
static int queue_repr(const void *obj, aio__strbuf *out)
{
    const aio_queue *q = obj;
    aio__sb_appendf(out, "<%s at %p maxsize=%d", queue_names[q->kind], obj, q->maxsize);
    if (q->len > 0) {
        aio__sb_append(out, " _queue=[");
        for (size_t i = 0; i < q->len; i++) {
            void *item = item_at(q, i);
            if (i > 0)
                aio__sb_append(out, ", ");
            if (item == NULL)
                aio__sb_append(out, "None");
            else
                aio__sb_appendf(out, "%p", item);
        }
        aio__sb_append(out, "]");
    }
    if (q->getters.len > 0)
        aio__sb_appendf(out, " _getters[%zu]", q->getters.len);
    if (q->putters.len > 0)
        aio__sb_appendf(out, " _putters[%zu]", q->putters.len);
    if (q->unfinished_tasks > 0)
        aio__sb_appendf(out, " tasks=%ld", q->unfinished_tasks);
    if (q->is_shutdown)
        aio__sb_append(out, " shutdown");
    return aio__sb_append(out, ">");
}

AIO__DEFINE_TYPE(queue_type) = {"Queue", queue_dealloc, queue_repr, 0};

static aio_queue *queue_new(queue_kind kind, int maxsize)
{
    aio_queue *q = aio__calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    aio__object_init(q, &queue_type);
    q->kind = kind;
    q->maxsize = maxsize;
    /* self._finished = locks.Event(); self._finished.set() */
    if ((q->finished = aio__event_new()) == NULL) {
        aio__decref(q);
        return NULL;
    }
    aio__event_set(q->finished);
    return q;
}

aio_queue *aio__queue_new(int maxsize)
{
    return queue_new(QUEUE_FIFO, maxsize);
}

aio_queue *aio__lifo_queue_new(int maxsize)
{
    return queue_new(QUEUE_LIFO, maxsize);
}

aio_queue *aio__priority_queue_new(int maxsize, aio_compare_func compare, void *compare_arg)
{
    aio_queue *q = queue_new(QUEUE_PRIORITY, maxsize);
    if (q != NULL) {
        q->compare = compare;
        q->compare_arg = compare_arg;
    }
    return q;
}

/* --- The items ------------------------------------------------------------------ */

/* Room for one more item: 0, or -1 with MemoryError (nothing changed). */
static int reserve(aio_queue *q)
{
    if (q->len < q->cap)
        return 0;
    size_t cap = q->cap ? 2 * q->cap : 8;
    void **items = aio__malloc(cap * sizeof *items);
    if (items == NULL)
        return -1;
    for (size_t i = 0; i < q->len; i++)
        items[i] = item_at(q, i);
    free(q->items);
    q->items = items;
    q->cap = cap;
    q->head = 0;
    return 0;
}

/* a < b, as the heap asks it. */
static bool less(const aio_queue *q, void *a, void *b)
{
    if (q->compare != NULL)
        return q->compare(a, b, q->compare_arg) < 0;
    return (intptr_t)a < (intptr_t)b;
}

/* heapq._siftdown(heap, startpos, pos). */
static void sift_down(aio_queue *q, size_t start, size_t pos)
{
    void **heap = q->items;
    void *item = heap[pos];
    while (pos > start) {
        size_t parent = (pos - 1) >> 1;
        if (!less(q, item, heap[parent]))
            break;
        heap[pos] = heap[parent];
        pos = parent;
    }
    heap[pos] = item;
}

/* heapq._siftup(heap, pos): down to a leaf along the smaller children, then
 * back up. */
static void sift_up(aio_queue *q, size_t pos)
{
    void **heap = q->items;
    size_t end = q->len, start = pos;
    void *item = heap[pos];
    size_t child = 2 * pos + 1;
    while (child < end) {
        size_t right = child + 1;
        if (right < end && !less(q, heap[child], heap[right]))
            child = right;
        heap[pos] = heap[child];
        pos = child;
        child = 2 * pos + 1;
    }
    heap[pos] = item;
    sift_down(q, start, pos);
}

/* _put(item); reserve() made room. */
static void put_item(aio_queue *q, void *item)
{
    if (q->kind == QUEUE_FIFO) {
        q->items[(q->head + q->len) % q->cap] = item;
        q->len++;
    } else {
        q->items[q->len++] = item;
        if (q->kind == QUEUE_PRIORITY)
            sift_down(q, 0, q->len - 1);
    }
}

/* _get(); the queue is not empty. */
static void *get_item(aio_queue *q)
{
    void *item;
    if (q->kind == QUEUE_FIFO) {
        item = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        q->len--;
    } else if (q->kind == QUEUE_LIFO) {
        item = q->items[--q->len];
    } else {
        void *last = q->items[--q->len];
        if (q->len == 0)
            return last;
        item = q->items[0];
        q->items[0] = last;
        sift_up(q, 0);
    }
    return item;
}

/* --- The methods ------------------------------------------------------------------- */

static bool queue_full(const aio_queue *q)
{
    return q->maxsize > 0 && q->len >= (size_t)q->maxsize;
}

/* _wakeup_next(waiters): the first waiter not done is woken; those before
 * it (done already) leave the queue with it. */
static void wakeup_next(aio__waiters *waiters)
{
    aio__waiter *w;
    while ((w = aio__waiter_popleft(waiters)) != NULL) {
        bool done = aio__waiter_done(w);
        if (!done)
            aio__waiter_wake(w);
        aio__decref(w);
        if (!done)
            break;
    }
}

int aio__queue_qsize(aio_queue *q)
{
    return q->len > INT32_MAX ? INT32_MAX : (int)q->len;
}

int aio__queue_maxsize(aio_queue *q)
{
    return q->maxsize;
}

int aio__queue_empty(aio_queue *q)
{
    return q->len == 0;
}

int aio__queue_full(aio_queue *q)
{
    return queue_full(q);
}

/* `raise QueueShutDown`: the class, so no message. */
static int shut_down(void)
{
    aio_err_set(aio_QueueShutDown, NULL);
    return -1;
}

int aio__queue_put_nowait(aio_queue *q, void *item)
{
    if (q->is_shutdown)
        return shut_down();
    if (queue_full(q)) {
        aio_err_set(aio_QueueFull, NULL);
        return -1;
    }
    if (reserve(q) < 0)
        return -1;
    put_item(q, item);
    q->unfinished_tasks++;
    aio__event_clear(q->finished);
    wakeup_next(&q->getters);
    return 0;
}

void *aio__queue_get_nowait(aio_queue *q)
{
    if (q->len == 0) {
        if (q->is_shutdown)
            shut_down();
        else
            aio_err_set(aio_QueueEmpty, NULL);
        return NULL;
    }
    void *item = get_item(q);
    wakeup_next(&q->putters);
    return item;
}

/* The wait of put() and get(): `await waiter`, and when that fails (for
 * any reason), the waiter is cancelled and dropped, and a wake-up it got
 * but cannot take goes to the next in line. 0, or -1 with the exception
 * set. */
static int wait_turn(aio_queue *q, aio__waiters *waiters, bool for_get)
{
    aio_loop *loop = aio__bind_loop(&q->loop, q);
    aio__waiter *w = loop != NULL ? aio__waiter_append(waiters, loop) : NULL;
    if (w == NULL)
        return -1;
    int rc = aio__waiter_await(w);
    if (rc < 0) {
        aio_exc *exc = aio_err_fetch();
        aio__future_cancel_plain(&w->fut, NULL);
        aio_err_clear();
        aio__waiter_remove(w);
        bool can_take = for_get ? q->len > 0 : !queue_full(q);
        if (can_take && w->fut.state != AIO__FUTURE_CANCELLED)
            wakeup_next(waiters);
        aio_err_restore(exc);
    }
    aio__decref(w);
    return rc;
}

int aio__queue_put(aio_queue *q, void *item)
{
    if (aio__task_running("aio_queue_put()") == NULL)
        return -1;
    while (queue_full(q)) {
        if (q->is_shutdown)
            return shut_down();
        if (wait_turn(q, &q->putters, false) < 0)
            return -1;
    }
    return aio__queue_put_nowait(q, item);
}

void *aio__queue_get(aio_queue *q)
{
    if (aio__task_running("aio_queue_get()") == NULL)
        return NULL;
    while (q->len == 0) {
        if (q->is_shutdown) {
            shut_down();
            return NULL;
        }
        if (wait_turn(q, &q->getters, true) < 0)
            return NULL;
    }
    return aio__queue_get_nowait(q);
}

int aio__queue_task_done(aio_queue *q)
{
    if (q->unfinished_tasks <= 0) {
        aio_err_set(aio_ValueError, "task_done() called too many times");
        return -1;
    }
    if (--q->unfinished_tasks == 0)
        aio__event_set(q->finished);
    return 0;
}

int aio__queue_join(aio_queue *q)
{
    if (aio__task_running("aio_queue_join()") == NULL)
        return -1;
    if (q->unfinished_tasks > 0 && aio__event_wait_in_task(q->finished) < 0)
        return -1;
    return 0;
}

/* Wakes every waiter not done yet, emptying the line. */
static void wake_all(aio__waiters *waiters)
{
    aio__waiter *w;
    while ((w = aio__waiter_popleft(waiters)) != NULL) {
        if (!aio__waiter_done(w))
            aio__waiter_wake(w);
        aio__decref(w);
    }
}

int aio__queue_shutdown(aio_queue *q, bool immediate)
{
    q->is_shutdown = true;
    if (immediate) {
        /* the items go, each counted done as task_done() would */
        while (q->len > 0) {
            get_item(q);
            if (q->unfinished_tasks > 0)
                q->unfinished_tasks--;
        }
        if (q->unfinished_tasks == 0)
            aio__event_set(q->finished);
    }
    wake_all(&q->getters);
    wake_all(&q->putters);
    return 0;
}
