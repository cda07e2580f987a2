/* test_queue_shutdown.c - Queue.shutdown(immediate=False) and QueueShutDown
 * (3.13): puts refused, gets refused once the queue is empty (at once with
 * immediate), blocked putters and getters woken to raise, immediate's items
 * counted done for join(), on Queue, PriorityQueue and LifoQueue.
 *
 * Expected values come from CPython 3.13.0 (queues.py), run on the same
 * cases.
 */
#define AIO_API_LEVEL AIO_PY_NEWEST
#include "test_support.h"

static trace T;

/* repr(q) without "<Queue at 0x...": from "maxsize=". */
static void assert_repr_tail(const void *q, const char *tail)
{
    char repr[256];
    repr_copy(q, repr, sizeof repr);
    const char *at = strstr(repr, "maxsize=");
    assert_non_null(at);
    assert_string_equal(at, tail);
}

static aio_task *spawn(aio_coroutine coro, void *arg)
{
    aio_task *t = aio_loop_create_task(aio_get_running_loop(),
                                       &(aio_loop_create_task_args){.coro = coro, .coro_arg = arg});
    assert_non_null(t);
    return t;
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
    aio_queue *q;
    intptr_t item;
} user;

/* Traces "NAME got N;" or "NAME ExcType;". */
static void *getter(void *arg)
{
    user *u = arg;
    void *item = aio_queue_get(u->q);
    aio_exc *exc = aio_err_occurred();
    if (exc != NULL) {
        trace_add(&T, "%s %s;", u->name, aio_exc_type_of(exc)->name);
        aio_err_clear();
        return NULL;
    }
    trace_add(&T, "%s got %d;", u->name, (int)(intptr_t)item);
    return NULL;
}
AIO_NAME_CALLBACK(getter);

static void *putter(void *arg)
{
    user *u = arg;
    if (aio_queue_put(u->q, P(u->item)) == 0) {
        trace_add(&T, "%s put;", u->name);
        return NULL;
    }
    trace_add(&T, "%s %s;", u->name, aio_exc_type_of(aio_err_occurred())->name);
    aio_err_clear();
    return NULL;
}
AIO_NAME_CALLBACK(putter);

static void *joiner(void *arg)
{
    if (aio_queue_join(arg) == 0)
        trace_add(&T, "joined;");
    return NULL;
}
AIO_NAME_CALLBACK(joiner);

static void run_main(aio_coroutine coro)
{
    memset(&T, 0, sizeof T);
    assert_int_equal(aio_set_target_version(AIO_PY(3, 13)), 0); /* outside the loop too */
    aio_loop *loop = new_loop();
    assert_int_equal(aio_loop_set_target_version(loop, AIO_PY(3, 13)), 0);
    run_coro(loop, coro, NULL);
    check_no_exception();
    finish(loop);
}

/* --- Plain shutdown ------------------------------------------------------------- */

static void *plain_main(void *arg)
{
    (void)arg;
    aio_queue *q = aio_queue_new(0);
    assert_int_equal(aio_queue_put(q, P(1)), 0);
    assert_int_equal(aio_queue_put(q, P(2)), 0);
    assert_int_equal(aio_queue_shutdown(q, false), 0);
    assert_repr_tail(q, "maxsize=0 _queue=[0x1, 0x2] tasks=2 shutdown>");
    assert_int_equal(aio_queue_put_nowait(q, P(3)), -1);
    assert_raised(aio_QueueShutDown, ""); /* the class raised: no message */
    assert_int_equal(aio_queue_put(q, P(3)), -1);
    assert_raised(aio_QueueShutDown, "");
    /* what is queued can still be got */
    assert_ptr_equal(aio_queue_get_nowait(q), P(1));
    assert_ptr_equal(aio_queue_get(q), P(2));
    assert_null(aio_queue_get(q));
    assert_raised(aio_QueueShutDown, "");
    assert_null(aio_queue_get_nowait(q));
    assert_raised(aio_QueueShutDown, "");
    assert_true(aio_exc_type_is_subclass(aio_QueueShutDown, aio_Exception));
    /* task_done() and join() work as before */
    assert_int_equal(aio_queue_task_done(q), 0);
    assert_int_equal(aio_queue_task_done(q), 0);
    assert_int_equal(aio_queue_join(q), 0);
    assert_int_equal(aio_queue_task_done(q), -1);
    assert_raised(aio_ValueError, "task_done() called too many times");
    assert_int_equal(aio_queue_shutdown(q, false), 0); /* twice: harmless */
    aio_decref(q);
    return NULL;
}
AIO_NAME_CALLBACK(plain_main);

static void test_plain_shutdown(void **state)
{
    (void)state;
    run_main(plain_main);
}

/* --- Blocked getters and putters ---------------------------------------------------- */

static void *blocked_main(void *arg)
{
    (void)arg;
    aio_queue *q = aio_queue_new(1);
    user g1 = {"g1", q, 0}, g2 = {"g2", q, 0};
    aio_task *ts[2] = {spawn(getter, &g1), spawn(getter, &g2)};
    assert_int_equal(aio_sleep(0), 0);
    assert_int_equal(aio_queue_shutdown(q, false), 0);
    assert_repr_tail(q, "maxsize=1 shutdown>"); /* the getters left the line */
    gather_and_drop(ts, 2);
    assert_string_equal(T.text, "g1 QueueShutDown;g2 QueueShutDown;");
    aio_decref(q);

    /* putters on a full queue: woken, still full, they raise; the item stays */
    memset(&T, 0, sizeof T);
    q = aio_queue_new(1);
    assert_int_equal(aio_queue_put_nowait(q, P(7)), 0);
    user p1 = {"p1", q, 1}, p2 = {"p2", q, 2};
    ts[0] = spawn(putter, &p1);
    ts[1] = spawn(putter, &p2);
    assert_int_equal(aio_sleep(0), 0);
    assert_int_equal(aio_queue_shutdown(q, false), 0);
    gather_and_drop(ts, 2);
    assert_string_equal(T.text, "p1 QueueShutDown;p2 QueueShutDown;");
    assert_int_equal(aio_queue_qsize(q), 1);
    assert_ptr_equal(aio_queue_get_nowait(q), P(7));
    aio_decref(q);

    /* a getter woken by shutdown() but cancelled before it ran: CancelledError */
    memset(&T, 0, sizeof T);
    q = aio_queue_new(0);
    ts[0] = spawn(getter, &(user){"g1", q, 0});
    user g2b = {"g2", q, 0};
    ts[1] = spawn(getter, &g2b);
    assert_int_equal(aio_sleep(0), 0);
    assert_int_equal(aio_queue_shutdown(q, false), 0);
    assert_int_equal(aio_task_cancel(ts[0], NULL), 1);
    gather_and_drop(ts, 2);
    assert_string_equal(T.text, "g1 CancelledError;g2 QueueShutDown;");
    aio_decref(q);
    return NULL;
}
AIO_NAME_CALLBACK(blocked_main);

static void test_blocked_getters_and_putters(void **state)
{
    (void)state;
    run_main(blocked_main);
}

/* --- immediate ---------------------------------------------------------------------- */

static void *immediate_main(void *arg)
{
    (void)arg;
    /* three put, one got and not marked done: join() waits for that one */
    aio_queue *q = aio_queue_new(0);
    for (intptr_t i = 1; i <= 3; i++)
        assert_int_equal(aio_queue_put_nowait(q, P(i)), 0);
    assert_ptr_equal(aio_queue_get_nowait(q), P(1));
    aio_task *j = spawn(joiner, q);
    assert_int_equal(aio_sleep(0), 0);
    assert_int_equal(aio_queue_shutdown(q, true), 0);
    assert_repr_tail(q, "maxsize=0 tasks=1 shutdown>");
    assert_int_equal(aio_queue_qsize(q), 0);
    assert_int_equal(aio_sleep(0), 0);
    assert_int_equal(aio_sleep(0), 0);
    assert_string_equal(T.text, "");
    assert_int_equal(aio_future_done(j), 0);
    assert_null(aio_queue_get(q)); /* at once */
    assert_raised(aio_QueueShutDown, "");
    assert_int_equal(aio_queue_task_done(q), 0);
    assert_null(aio_await(j));
    check_no_exception();
    assert_string_equal(T.text, "joined;");
    aio_decref(j);
    aio_decref(q);

    /* a putter on a full queue: woken with room made, put_nowait() refuses */
    memset(&T, 0, sizeof T);
    q = aio_queue_new(1);
    assert_int_equal(aio_queue_put_nowait(q, P(7)), 0);
    aio_task *ts[1] = {spawn(putter, &(user){"p1", q, 1})};
    assert_int_equal(aio_sleep(0), 0);
    assert_int_equal(aio_queue_shutdown(q, true), 0);
    gather_and_drop(ts, 1);
    assert_string_equal(T.text, "p1 QueueShutDown;");
    assert_int_equal(aio_queue_qsize(q), 0);
    aio_decref(q);

    /* immediate after a plain shutdown drops what is left */
    q = aio_queue_new(0);
    assert_int_equal(aio_queue_put_nowait(q, P(1)), 0);
    assert_int_equal(aio_queue_shutdown(q, false), 0);
    assert_int_equal(aio_queue_shutdown(q, true), 0);
    assert_int_equal(aio_queue_qsize(q), 0);
    assert_repr_tail(q, "maxsize=0 shutdown>");
    assert_int_equal(aio_queue_join(q), 0);
    aio_decref(q);
    return NULL;
}
AIO_NAME_CALLBACK(immediate_main);

static void test_immediate(void **state)
{
    (void)state;
    run_main(immediate_main);
}

/* --- PriorityQueue and LifoQueue ------------------------------------------------------ */

static void *kinds_main(void *arg)
{
    (void)arg;
    aio_queue *pq = aio_priority_queue_new(0, NULL, NULL);
    aio_queue *lq = aio_lifo_queue_new(0);
    intptr_t items[] = {3, 1, 2};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(aio_queue_put_nowait(pq, P(items[i])), 0);
        assert_int_equal(aio_queue_put_nowait(lq, P(items[i])), 0);
    }
    assert_int_equal(aio_queue_shutdown(pq, false), 0);
    assert_int_equal(aio_queue_shutdown(lq, false), 0);
    intptr_t want_p[] = {1, 2, 3}, want_l[] = {2, 1, 3};
    for (int i = 0; i < 3; i++) {
        assert_ptr_equal(aio_queue_get_nowait(pq), P(want_p[i]));
        assert_ptr_equal(aio_queue_get_nowait(lq), P(want_l[i]));
    }
    assert_null(aio_queue_get_nowait(pq));
    assert_raised(aio_QueueShutDown, "");
    assert_int_equal(aio_queue_put_nowait(lq, P(1)), -1);
    assert_raised(aio_QueueShutDown, "");
    aio_decref(pq);
    aio_decref(lq);

    pq = aio_priority_queue_new(0, NULL, NULL);
    for (int i = 0; i < 3; i++)
        assert_int_equal(aio_queue_put_nowait(pq, P(items[i])), 0);
    assert_int_equal(aio_queue_shutdown(pq, true), 0);
    assert_int_equal(aio_queue_qsize(pq), 0);
    assert_int_equal(aio_queue_join(pq), 0);
    aio_decref(pq);
    return NULL;
}
AIO_NAME_CALLBACK(kinds_main);

static void test_priority_and_lifo(void **state)
{
    (void)state;
    run_main(kinds_main);
}

/* Outside a task and with a NULL queue: no crash, an exception. */
static void test_no_task_and_null(void **state)
{
    (void)state;
    assert_int_equal(aio_set_target_version(AIO_PY(3, 13)), 0); /* no loop here */
    aio_queue *q = aio_queue_new(0);
    assert_non_null(q);
    assert_int_equal(aio_queue_shutdown(q, true), 0); /* no loop needed */
    assert_int_equal(aio_queue_put_nowait(q, P(1)), -1);
    assert_raised(aio_QueueShutDown, "");
    aio_decref(q);
    assert_int_equal(aio_queue_shutdown(NULL, false), -1);
    assert_non_null(aio_err_occurred());
    aio_err_clear();
}

/* Below 3.13 a queue has no shutdown(): AttributeError, and nothing done. */
static void test_refused_before_313(void **state)
{
    (void)state;
    assert_int_equal(aio_set_target_version(AIO_PY(3, 12)), 0);
    aio_queue *q = aio_queue_new(0);
    assert_int_equal(aio_queue_put_nowait(q, P(1)), 0);
    assert_int_equal(aio_queue_shutdown(q, true), -1);
    assert_raised(aio_AttributeError, "'Queue' object has no attribute 'shutdown'");
    assert_int_equal(aio_queue_qsize(q), 1);
    assert_int_equal(aio_queue_put_nowait(q, P(2)), 0);
    aio_decref(q);
}

/* A thousand getters all wake, each raising. */
static void *many_main(void *arg)
{
    (void)arg;
    enum { N = 1000 };
    aio_queue *q = aio_queue_new(0);
    static aio_task *ts[N];
    static user us[N];
    for (int i = 0; i < N; i++) {
        us[i] = (user){"g", q, 0};
        ts[i] = spawn(getter, &us[i]);
    }
    assert_int_equal(aio_sleep(0), 0);
    assert_int_equal(aio_queue_shutdown(q, false), 0);
    aio_future *all = aio_gather(ts, N, &(aio_gather_args){.return_exceptions = true});
    assert_non_null(aio_await(all));
    aio_decref(all);
    for (int i = 0; i < N; i++) {
        assert_int_equal(aio_future_done(ts[i]), 1);
        aio_decref(ts[i]);
    }
    aio_decref(q);
    return NULL;
}
AIO_NAME_CALLBACK(many_main);

static void test_many_getters(void **state)
{
    (void)state;
    run_main(many_main);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_plain_shutdown),
    cmocka_unit_test(test_blocked_getters_and_putters),
    cmocka_unit_test(test_immediate),
    cmocka_unit_test(test_priority_and_lifo),
    cmocka_unit_test(test_no_task_and_null),
    cmocka_unit_test(test_refused_before_313),
    cmocka_unit_test(test_many_getters),
};

AIO_TEST_MAIN(tests)
