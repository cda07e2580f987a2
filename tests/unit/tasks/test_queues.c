/* test_queues.c - Queue, LifoQueue and PriorityQueue: order of items and of
 * wake-ups, cancellation while waiting, misuse (put_nowait on a full queue,
 * get_nowait on an empty one, task_done too many times), join(), heapq's
 * order of equal items, memory errors, scale. */
#include "test_support.h"

/* repr(obj) ends with `suffix`. */
static void assert_repr_suffix(const void *obj, const char *suffix)
{
    char repr[256];
    repr_copy(obj, repr, sizeof repr);
    size_t n = strlen(repr), m = strlen(suffix);
    if (n < m || strcmp(repr + n - m, suffix) != 0) {
        fprintf(stderr, "repr %s does not end with %s\n", repr, suffix);
        fail();
    }
}

static aio_task *spawn(aio_coroutine coro, void *arg)
{
    aio_task *t = aio_loop_create_task(aio_get_running_loop(),
                                       &(aio_loop_create_task_args){.coro = coro, .coro_arg = arg});
    assert_non_null(t);
    return t;
}

static void yield_n(int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(aio_sleep(0), 0);
}

static void gather_and_drop(aio_task **ts, size_t n)
{
    aio_future *all = aio_gather(ts, n, &(aio_gather_args){.return_exceptions = true});
    assert_non_null(aio_await(all));
    aio_decref(all);
    for (size_t i = 0; i < n; i++)
        aio_decref(ts[i]);
}

typedef struct user {
    const char *name;
    trace *log;
    aio_queue *q;
    intptr_t item;
    int rc;
} user;

static void *getter(void *arg)
{
    user *u = arg;
    void *item = aio_queue_get(u->q);
    if (item == NULL && aio_err_occurred()) {
        trace_add(u->log, "%s cancelled;", u->name);
        u->rc = -1;
        return NULL;
    }
    trace_add(u->log, "%s got %d;", u->name, (int)(intptr_t)item);
    return item;
}

static void *putter(void *arg)
{
    user *u = arg;
    u->rc = aio_queue_put(u->q, P(u->item));
    trace_add(u->log, u->rc == 0 ? "%s put;" : "%s cancelled;", u->name);
    return NULL;
}

static void *misuse_main(void *arg)
{
    (void)arg;
    aio_queue *q = aio_queue_new(1);
    assert_int_equal(aio_queue_maxsize(q), 1);
    assert_null(aio_queue_get_nowait(q));
    assert_raised(aio_QueueEmpty, "");
    assert_int_equal(aio_queue_put_nowait(q, NULL), 0);    /* NULL is an item */
    assert_int_equal(aio_queue_full(q), 1);
    assert_int_equal(aio_queue_put_nowait(q, P(2)), -1);
    assert_raised(aio_QueueFull, "");
    assert_repr_suffix(q, " maxsize=1 _queue=[None] tasks=1>");
    assert_null(aio_queue_get(q));
    check_no_exception();
    assert_int_equal(aio_queue_task_done(q), 0);
    assert_int_equal(aio_queue_task_done(q), -1);
    assert_raised(aio_ValueError, "task_done() called too many times");
    assert_int_equal(aio_queue_join(q), 0);               /* nothing unfinished */
    aio_decref(q);
    return NULL;
}

static void test_misuse(void **state)
{
    (void)state;
    aio_run(misuse_main, NULL, NULL);
    check_no_exception();
    aio_queue *q = aio_queue_new(0);
    assert_null(aio_queue_get(q));
    assert_raised(aio_RuntimeError, "aio_queue_get() must be called from inside a task");
    assert_int_equal(aio_queue_put(q, P(1)), -1);
    assert_raised(aio_RuntimeError, "aio_queue_put() must be called from inside a task");
    assert_int_equal(aio_queue_join(q), -1);
    assert_raised(aio_RuntimeError, NULL);
    assert_int_equal(aio_queue_full(q), 0);           /* maxsize 0: never full */
    assert_int_equal(aio_queue_qsize(NULL), -1);
    assert_raised(aio_TypeError, NULL);
    aio_decref(q);
    assert_no_leaks();
}

/* Getters in order; the first cancelled after put_nowait() woke it: the
 * item goes to the next getter, none is lost. */
static void *getters_main(void *arg)
{
    trace *t = arg;
    aio_queue *q = aio_queue_new(0);
    user u[3] = {{"a", t, q, 0, 0}, {"b", t, q, 0, 0}, {"c", t, q, 0, 0}};
    aio_task *ts[3] = {spawn(getter, &u[0]), spawn(getter, &u[1]), spawn(getter, &u[2])};
    yield_n(1);
    assert_int_equal(aio_queue_put_nowait(q, P(1)), 0);
    aio_task_cancel(ts[0], NULL);
    assert_int_equal(aio_queue_put_nowait(q, P(2)), 0);
    gather_and_drop(ts, 3);
    assert_int_equal(aio_queue_empty(q), 1);
    aio_decref(q);
    return NULL;
}

static void test_getters_order_and_cancel(void **state)
{
    (void)state;
    trace t = {{0}};
    aio_run(getters_main, &t, NULL);
    check_no_exception();
    assert_string_equal(t.text, "a cancelled;b got 1;c got 2;");
    assert_no_leaks();
}

static void *putters_main(void *arg)
{
    trace *t = arg;
    aio_queue *q = aio_queue_new(1);
    assert_int_equal(aio_queue_put_nowait(q, P(0)), 0);
    user u[3] = {{"a", t, q, 1, 0}, {"b", t, q, 2, 0}, {"c", t, q, 3, 0}};
    aio_task *ts[3] = {spawn(putter, &u[0]), spawn(putter, &u[1]), spawn(putter, &u[2])};
    yield_n(1);
    aio_task_cancel(ts[1], NULL);       /* b leaves the queue of putters */
    yield_n(1);
    for (int i = 0; i < 3; i++) {
        trace_add(t, "got %d;", (int)(intptr_t)aio_queue_get(q));
        yield_n(1);
    }
    gather_and_drop(ts, 3);
    aio_decref(q);
    return NULL;
}

static void test_putters_order_and_cancel(void **state)
{
    (void)state;
    trace t = {{0}};
    aio_run(putters_main, &t, NULL);
    check_no_exception();
    assert_string_equal(t.text, "b cancelled;got 0;a put;got 1;c put;got 3;");
    assert_no_leaks();
}

static void *worker(void *arg)
{
    user *u = arg;
    for (;;) {
        void *item = aio_queue_get(u->q);
        if (item == NULL && aio_err_occurred())
            return NULL;
        if (aio_sleep(0) < 0)
            return NULL;
        trace_add(u->log, "did %d;", (int)(intptr_t)item);
        assert_int_equal(aio_queue_task_done(u->q), 0);
    }
}

static void *join_main(void *arg)
{
    trace *t = arg;
    aio_queue *q = aio_queue_new(2);
    user u = {"w", t, q, 0, 0};
    aio_task *w = spawn(worker, &u);
    for (int i = 1; i <= 4; i++)
        assert_int_equal(aio_queue_put(q, P(i)), 0);
    assert_int_equal(aio_queue_join(q), 0);
    trace_add(t, "joined;");
    aio_task_cancel(w, NULL);
    gather_and_drop(&w, 1);
    aio_decref(q);
    return NULL;
}

static void test_join(void **state)
{
    (void)state;
    trace t = {{0}};
    aio_run(join_main, &t, NULL);
    check_no_exception();
    assert_string_equal(t.text, "did 1;did 2;did 3;did 4;joined;");
    assert_no_leaks();
}

/* heapq's order, ties included: the same sequence Python gives for
 * PriorityQueue of (key, name) items compared by key alone. */
typedef struct keyed {
    int key;
    char name;
} keyed;

static int by_key(const void *a, const void *b, void *arg)
{
    (void)arg;
    return ((const keyed *)a)->key - ((const keyed *)b)->key;
}

static void test_priority_and_lifo_order(void **state)
{
    (void)state;
    static keyed items[] = {{3, 'a'}, {1, 'b'}, {3, 'c'}, {2, 'd'}, {1, 'e'},
                            {3, 'f'}, {0, 'g'}, {2, 'h'}, {3, 'i'}, {1, 'j'}};
    aio_queue *pq = aio_priority_queue_new(0, by_key, NULL);
    for (int i = 0; i < 10; i++)
        assert_int_equal(aio_queue_put_nowait(pq, &items[i]), 0);
    char order[16] = {0};
    for (int i = 0; i < 10; i++)
        order[i] = ((keyed *)aio_queue_get_nowait(pq))->name;
    assert_string_equal(order, "gbejdhfcia");   /* CPython 3.11's heapq order */
    aio_decref(pq);

    /* NULL compare: the pointers as numbers. */
    pq = aio_priority_queue_new(0, NULL, NULL);
    int values[] = {5, -3, 8, 0, -3, 2};
    for (int i = 0; i < 6; i++)
        assert_int_equal(aio_queue_put_nowait(pq, P((intptr_t)values[i])), 0);
    int expect[] = {-3, -3, 0, 2, 5, 8};
    for (int i = 0; i < 6; i++)
        assert_int_equal((int)(intptr_t)aio_queue_get_nowait(pq), expect[i]);
    aio_decref(pq);

    aio_queue *lq = aio_lifo_queue_new(0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(aio_queue_put_nowait(lq, P(i)), 0);
    for (int i = 4; i >= 0; i--)
        assert_int_equal((int)(intptr_t)aio_queue_get_nowait(lq), i);
    assert_repr_suffix(lq, " maxsize=0 tasks=5>");
    aio_decref(lq);
    assert_no_leaks();
}

/* A FIFO queue whose ring wraps around while it grows keeps its order. */
static void test_fifo_ring(void **state)
{
    (void)state;
    aio_queue *q = aio_queue_new(0);
    intptr_t next_in = 0, next_out = 0;
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 7; i++)
            assert_int_equal(aio_queue_put_nowait(q, P(next_in++)), 0);
        for (int i = 0; i < 5; i++)
            assert_int_equal((intptr_t)aio_queue_get_nowait(q), next_out++);
    }
    assert_int_equal(aio_queue_qsize(q), (int)(next_in - next_out));
    while (next_out < next_in)
        assert_int_equal((intptr_t)aio_queue_get_nowait(q), next_out++);
    aio_decref(q);
    assert_no_leaks();
}

/* put_nowait() that cannot grow the queue raises MemoryError and changes
 * nothing. */
static void test_memory_error(void **state)
{
    (void)state;
    aio_queue *q = aio_queue_new(0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(aio_queue_put_nowait(q, P(i)), 0);
    aio__fail_alloc_after = 0;
    assert_int_equal(aio_queue_put_nowait(q, P(8)), -1);
    aio__fail_alloc_after = -1;
    assert_raised(aio_MemoryError, NULL);
    assert_int_equal(aio_queue_qsize(q), 8);
    assert_int_equal(aio_queue_put_nowait(q, P(8)), 0);
    for (int i = 0; i < 9; i++)
        assert_int_equal((intptr_t)aio_queue_get_nowait(q), i);
    aio_decref(q);
    assert_no_leaks();
}

/* A million items through a bounded queue between two tasks. */
enum { ITEMS = 1000000 };

static void *produce(void *arg)
{
    aio_queue *q = arg;
    for (intptr_t i = 0; i < ITEMS; i++)
        assert_int_equal(aio_queue_put(q, P(i)), 0);
    return NULL;
}

static void *scale_main(void *arg)
{
    (void)arg;
    aio_queue *q = aio_queue_new(100);
    aio_task *p = spawn(produce, q);
    for (intptr_t i = 0; i < ITEMS; i++)
        assert_int_equal((intptr_t)aio_queue_get(q), i);
    assert_null(aio_await(p));
    check_no_exception();
    aio_decref(p);
    aio_decref(q);
    return NULL;
}

static void test_scale(void **state)
{
    (void)state;
    aio_run(scale_main, NULL, NULL);
    check_no_exception();
    assert_no_leaks();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_misuse),
    cmocka_unit_test(test_getters_order_and_cancel),
    cmocka_unit_test(test_putters_order_and_cancel),
    cmocka_unit_test(test_join),
    cmocka_unit_test(test_priority_and_lifo_order),
    cmocka_unit_test(test_fifo_ring),
    cmocka_unit_test(test_memory_error),
    cmocka_unit_test(test_scale),
};

AIO_TEST_MAIN(tests)
