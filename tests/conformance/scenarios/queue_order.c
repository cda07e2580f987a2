/* asyncio.Queue, LifoQueue and PriorityQueue: the order items come out in
 * (PriorityQueue as heapq orders equal items), getters and putters woken in
 * the order they began to wait, put_nowait() on a full queue raising
 * QueueFull and get_nowait() on an empty one QueueEmpty, task_done() called
 * too many times raising ValueError, join() returning once every item is
 * done, a getter cancelled after put_nowait() woke it passing the item on
 * to the next getter, and the reprs (without the items, which C prints
 * as pointers). */
#include <stdint.h>

#include "conformance.h"

static int it;
static aio_queue *q;

static void tick(void *arg)
{
    (void)arg;
    it++;
    CHECK(aio_loop_call_soon(aio_get_running_loop(), &(aio_loop_call_soon_args){.callback = tick}));
}

/* The repr without the address and the items. */
static const char *r(const void *obj)
{
    static char buf[1024];
    const char *src = repr_no_address(obj);
    const char *items = strstr(src, " _queue=[");
    if (items == NULL)
        return src;
    const char *end = strchr(items, ']');
    snprintf(buf, sizeof buf, "%.*s%s", (int)(items - src), src, end + 1);
    return buf;
}

#define N(x) ((void *)(intptr_t)(x))
#define I(p) ((int)(intptr_t)(p))

static void *getter(void *arg)
{
    const char *name = arg;
    printf("iteration %d %s waits\n", it, name);
    void *item = aio_queue_get(q);
    if (item == NULL && aio_err_occurred()) {
        printf("iteration %d %s cancelled\n", it, name);
        return NULL;
    }
    printf("iteration %d %s got %d\n", it, name, I(item));
    return item;
}

typedef struct put_job {
    const char *name;
    int item;
} put_job;

static void *putter(void *arg)
{
    put_job *p = arg;
    printf("iteration %d %s puts %d\n", it, p->name, p->item);
    CHECK(aio_queue_put(q, N(p->item)) == 0);
    printf("iteration %d %s put %d\n", it, p->name, p->item);
    return NULL;
}

static void *worker(void *arg)
{
    (void)arg;
    for (;;) {
        void *item = aio_queue_get(q);
        if (item == NULL && aio_err_occurred())
            return NULL;
        if (aio_sleep(0) < 0)
            return NULL;
        printf("iteration %d worker did %d\n", it, I(item));
        CHECK(aio_queue_task_done(q) == 0);
    }
}

static aio_task *spawn(aio_coroutine coro, void *arg)
{
    aio_task *t = aio_loop_create_task(aio_get_running_loop(),
                                       &(aio_loop_create_task_args){.coro = coro, .coro_arg = arg});
    CHECK(t);
    return t;
}

static void gather_all(aio_task **tasks, size_t n, bool return_exceptions)
{
    aio_future *all = aio_gather(tasks, n, &(aio_gather_args){.return_exceptions = return_exceptions});
    CHECK(all);
    CHECK(aio_await(all));
    aio_decref(all);
}

typedef struct key {
    int key;
    const char *name;
} key;

static int by_key(const void *a, const void *b, void *arg)
{
    (void)arg;
    const key *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key;
}

static void *main_coro(void *arg)
{
    (void)arg;
    CHECK(aio_loop_call_soon(aio_get_running_loop(), &(aio_loop_call_soon_args){.callback = tick}));
    q = aio_queue_new(2);
    CHECK(q);
    printf("new: %s %d %d %s %s\n", r(q), aio_queue_maxsize(q), aio_queue_qsize(q),
           py_bool(aio_queue_empty(q)), py_bool(aio_queue_full(q)));
    if (aio_queue_get_nowait(q) == NULL && aio_err_matches(aio_QueueEmpty)) {
        aio_exc *e = aio_err_fetch();
        printf("get_nowait empty: %s '%s'\n", aio_exc_type_of(e)->name, aio_exc_str(e));
        aio_decref(e);
    }
    CHECK(aio_queue_put_nowait(q, N(1)) == 0);
    CHECK(aio_queue_put_nowait(q, N(2)) == 0);
    printf("full: %s %s\n", py_bool(aio_queue_full(q)), r(q));
    if (aio_queue_put_nowait(q, N(3)) < 0 && aio_err_matches(aio_QueueFull)) {
        aio_exc *e = aio_err_fetch();
        printf("put_nowait full: %s '%s'\n", aio_exc_type_of(e)->name, aio_exc_str(e));
        aio_decref(e);
    }

    /* Putters wait in order. */
    put_job p1 = {"p1", 3}, p2 = {"p2", 4};
    aio_task *ps[2] = {spawn(putter, &p1), spawn(putter, &p2)};
    CHECK(aio_sleep(0) == 0);
    printf("putters waiting: %s\n", r(q));
    int a = I(aio_queue_get_nowait(q)), b = I(aio_queue_get_nowait(q));
    printf("got %d %d\n", a, b);
    gather_all(ps, 2, false);
    aio_decref(ps[0]);
    aio_decref(ps[1]);
    a = I(aio_queue_get_nowait(q));
    b = I(aio_queue_get_nowait(q));
    printf("got %d %d empty: %s\n", a, b, py_bool(aio_queue_empty(q)));

    /* Getters wait in order; one woken and cancelled passes the item on. */
    aio_task *gs[3] = {spawn(getter, "g1"), spawn(getter, "g2"), spawn(getter, "g3")};
    CHECK(aio_sleep(0) == 0);
    printf("getters waiting: %s\n", r(q));
    CHECK(aio_queue_put_nowait(q, N(10)) == 0);
    aio_task_cancel(gs[0], NULL);
    CHECK(aio_queue_put_nowait(q, N(11)) == 0);
    gather_all(gs, 3, true);
    printf("results: ['%s', %d, %d]\n", aio_future_cancelled(gs[0]) ? "cancelled" : "?",
           I(aio_future_result(gs[1])), I(aio_future_result(gs[2])));
    for (int i = 0; i < 3; i++)
        aio_decref(gs[i]);

    /* task_done() and join(). */
    printf("unfinished repr: %s\n", r(q));
    for (int i = 0; i < 6; i++)
        CHECK(aio_queue_task_done(q) == 0);
    if (aio_queue_task_done(q) < 0)
        print_raised("task_done");
    aio_task *w = spawn(worker, NULL);
    for (int i = 0; i < 3; i++)
        CHECK(aio_queue_put(q, N(i)) == 0);
    CHECK(aio_queue_join(q) == 0);
    printf("iteration %d joined %s\n", it, r(q));
    aio_task_cancel(w, NULL);
    gather_all(&w, 1, true);
    aio_decref(w);

    /* LIFO and priority order. */
    aio_queue *lq = aio_lifo_queue_new(0);
    CHECK(lq);
    for (int i = 0; i < 4; i++)
        CHECK(aio_queue_put_nowait(lq, N(i)) == 0);
    printf("lifo: %s [", r(lq));
    for (int i = 0; i < 4; i++)
        printf("%s%d", i ? ", " : "", I(aio_queue_get_nowait(lq)));
    printf("]\n");
    aio_decref(lq);
    static key keys[] = {{3, "a"}, {1, "b"}, {3, "c"}, {2, "d"}, {1, "e"},
                         {3, "f"}, {0, "g"}, {2, "h"}, {3, "i"}, {1, "j"}};
    aio_queue *pq = aio_priority_queue_new(0, by_key, NULL);
    CHECK(pq);
    for (int i = 0; i < 10; i++)
        CHECK(aio_queue_put_nowait(pq, &keys[i]) == 0);
    printf("priority: [");
    for (int i = 0; i < 10; i++) {
        key *k = aio_queue_get_nowait(pq);
        printf("%s(%d, '%s')", i ? ", " : "", k->key, k->name);
    }
    printf("]\n");
    aio_decref(pq);
    aio_decref(q);
    return NULL;
}

int main(void)
{
    aio_run(main_coro, NULL, NULL);
    CHECK(!aio_err_occurred());
    return 0;
}
