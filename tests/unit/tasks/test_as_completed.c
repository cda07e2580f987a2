/* test_as_completed.c - asyncio.as_completed() and ensure_future()
 * (tasks.py, 3.11): completion order at scale, duplicates, the timeout,
 * an iterator dropped early, two tasks sharing one iterator, misuse and
 * memory errors.
 *
 * Expected behaviour and messages were read from CPython 3.11.7.
 */
#include "test_support.h"

#include "future.h"
#include "loop.h"

#define MANY 10000

typedef struct order_state {
    aio_future **futs;
    size_t n;
    aio_future **seen; /* each future handed out, in that order */
    size_t nseen;
} order_state;

static void finish_fut(void *arg)
{
    aio_future_set_result(arg, arg);
}
AIO_NAME_CALLBACK(finish_fut);

static void *order_coro(void *arg)
{
    order_state *st = arg;
    aio_loop *loop = aio_get_running_loop();
    /* completed in reverse order, one per iteration */
    for (size_t i = 0; i < st->n; i++)
        assert_non_null(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){
                                                     .callback = finish_fut,
                                                     .args = st->futs[st->n - 1 - i]}));
    aio_as_completed_iter *it = aio_as_completed(st->futs, st->n, NULL);
    assert_non_null(it);
    assert_int_equal(aio_as_completed_remaining(it), st->n);
    while (aio_as_completed_remaining(it) > 0) {
        aio_future *f;
        void *r = aio_as_completed_next(it, &f);
        assert_ptr_equal(r, f);
        st->seen[st->nseen++] = f;
    }
    assert_null(aio_as_completed_next(it, NULL));
    assert_raised(aio_StopIteration, NULL);
    aio_decref(it);
    return P(1);
}
AIO_NAME_CALLBACK(order_coro);

static void test_completion_order_at_scale(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_future **futs = calloc(MANY, sizeof *futs);
    aio_future **seen = calloc(MANY, sizeof *seen);
    for (size_t i = 0; i < MANY; i++)
        futs[i] = aio_loop_create_future(loop);
    order_state st = {futs, MANY, seen, 0};
    assert_ptr_equal(run_coro(loop, order_coro, &st), P(1));
    assert_int_equal(st.nseen, MANY);
    /* handed out in completion order: the reverse of the argument order */
    for (size_t i = 0; i < MANY; i++)
        assert_ptr_equal(seen[i], futs[MANY - 1 - i]);
    for (size_t i = 0; i < MANY; i++)
        aio_decref(futs[i]);
    free(futs);
    free(seen);
    finish(loop);
}

/* --- duplicates, timeout, exceptions --------------------------------------------- */

static void *timeout_coro(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    aio_future *a = aio_loop_create_future(loop), *b = aio_loop_create_future(loop);
    aio_future *fs[] = {a, b, a, a};
    aio_exc *e = aio_exc_new(aio_KeyError, "k");
    aio_future_set_exception(b, e);
    aio_decref(e);
    aio_as_completed_iter *it = aio_as_completed(fs, 4, &(aio_as_completed_args){.timeout = AIO_ZERO});
    assert_non_null(it);
    assert_int_equal(aio_as_completed_remaining(it), 2);
    aio_future *f;
    assert_null(aio_as_completed_next(it, &f));
    assert_ptr_equal(f, b);
    assert_raised(aio_KeyError, NULL);
    assert_null(aio_as_completed_next(it, &f));
    assert_null(f);
    assert_raised(aio_TimeoutError, NULL);
    assert_int_equal(aio_as_completed_remaining(it), 0);
    aio_decref(it);
    /* completing a after the timeout reaches no iterator */
    aio_future_set_result(a, P(3));
    assert_int_equal(aio_sleep(0), 0);
    aio_decref(a);
    aio_decref(b);
    return P(1);
}
AIO_NAME_CALLBACK(timeout_coro);

static void test_duplicates_and_timeout(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_ptr_equal(run_coro(loop, timeout_coro, NULL), P(1));
    finish(loop);
}

/* The timeout starts with the first next(), as the generator's first
 * iteration starts it: a deadline shorter than the wait before iterating
 * has not passed yet. */
static void *late_start_coro(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    aio_future *f = aio_loop_create_future(loop);
    aio_as_completed_iter *it = aio_as_completed(&f, 1, &(aio_as_completed_args){.timeout = 0.01});
    assert_non_null(it);
    assert_int_equal(aio_sleep(0.05), 0);
    aio_future_set_result(f, P(8));
    assert_ptr_equal(aio_as_completed_next(it, NULL), P(8));
    aio_decref(it);
    aio_decref(f);
    return P(1);
}
AIO_NAME_CALLBACK(late_start_coro);

static void test_timeout_starts_at_first_next(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_ptr_equal(run_coro(loop, late_start_coro, NULL), P(1));
    finish(loop);
}

/* --- the iterator dropped early, and shared ---------------------------------------- */

static void *dropped_coro(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    aio_future *fs[3];
    for (int i = 0; i < 3; i++)
        fs[i] = aio_loop_create_future(loop);
    aio_future_set_result(fs[0], P(1)); /* its callback is scheduled already */
    aio_as_completed_iter *it = aio_as_completed(fs, 3, &(aio_as_completed_args){.timeout = 10});
    aio_decref(it); /* the callbacks keep it */
    assert_int_equal(aio_sleep(0), 0);
    aio_future_set_result(fs[1], P(2));
    aio_future_cancel(fs[2], NULL);
    assert_int_equal(aio_sleep(0), 0);
    for (int i = 0; i < 3; i++)
        aio_decref(fs[i]);
    return P(1);
}
AIO_NAME_CALLBACK(dropped_coro);

static void test_dropped_early(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_ptr_equal(run_coro(loop, dropped_coro, NULL), P(1));
    finish(loop); /* nothing leaked, the timer gone */
}

typedef struct shared {
    aio_as_completed_iter *it;
    char order[8];
    int n;
} shared;

static void *consumer(void *arg)
{
    shared *sh = arg;
    void *r = aio_as_completed_next(sh->it, NULL);
    if (r != NULL)
        sh->order[sh->n++] = (char)(uintptr_t)r;
    return NULL;
}
AIO_NAME_CALLBACK(consumer);

static void *shared_coro(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    aio_future *fs[2] = {aio_loop_create_future(loop), aio_loop_create_future(loop)};
    shared sh = {.it = aio_as_completed(fs, 2, NULL)};
    aio_task *t1 = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = consumer, .coro_arg = &sh});
    aio_task *t2 = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = consumer, .coro_arg = &sh});
    assert_int_equal(aio_sleep(0), 0);
    /* the second waiter is cancelled: the first still gets its outcome,
     * and the cancelled one used up its turn */
    aio_task_cancel(t2, NULL);
    aio_future_set_result(fs[1], P('b'));
    aio_future_set_result(fs[0], P('a'));
    aio_future *both[] = {t1, t2};
    aio_wait_result res;
    assert_int_equal(aio_wait(both, 2, NULL, &res), 0);
    aio_wait_result_clear(&res);
    assert_int_equal(sh.n, 1);
    assert_int_equal(sh.order[0], 'b');
    assert_int_equal(aio_future_cancelled(t2), 1);
    assert_int_equal(aio_as_completed_remaining(sh.it), 0);
    aio_decref(t1);
    aio_decref(t2);
    aio_decref(sh.it);
    aio_decref(fs[0]);
    aio_decref(fs[1]);
    return P(1);
}
AIO_NAME_CALLBACK(shared_coro);

static void test_shared_between_tasks(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_ptr_equal(run_coro(loop, shared_coro, NULL), P(1));
    finish(loop);
}

/* --- misuse, ensure_future --------------------------------------------------------- */

static void *coro(void *arg)
{
    return arg;
}
AIO_NAME_CALLBACK(coro);

static void test_misuse_and_ensure_future(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    /* outside a running loop, get_event_loop() decides: make it this one */
    assert_int_equal(aio_set_event_loop(loop), 0);
    aio_future *f = aio_loop_create_future(loop);
    aio_future *fs[] = {f, NULL};
    assert_null(aio_as_completed(NULL, 1, NULL));
    assert_raised(aio_TypeError, "'NoneType' object is not iterable");
    assert_null(aio_as_completed(fs, 2, NULL));
    assert_raised(aio_TypeError, "An asyncio.Future, a coroutine or an awaitable is required");
    aio_loop *other = new_loop();
    aio_future *g = aio_loop_create_future(other);
    aio_future *mixed[] = {f, g};
    assert_null(aio_as_completed(mixed, 2, NULL));
    assert_raised(aio_ValueError,
                  "The future belongs to a different loop than the one specified as the loop argument");
    /* next() outside a task */
    aio_as_completed_iter *it = aio_as_completed(fs, 1, NULL);
    assert_non_null(it);
    assert_null(aio_as_completed_next(it, NULL));
    assert_raised(aio_RuntimeError, "aio_as_completed_next() must be called from inside a task");
    assert_int_equal(aio_as_completed_remaining(it), 1);
    aio_future_cancel(f, NULL);
    run_one_iteration(loop);
    aio_decref(it);
    assert_null(aio_as_completed_next(NULL, NULL));
    assert_raised(aio_TypeError, NULL);

    /* ensure_future */
    aio_future *same = aio_ensure_future(f, &(aio_ensure_future_args){.loop = loop});
    assert_ptr_equal(same, f);
    aio_decref(same);
    assert_null(aio_ensure_future(g, &(aio_ensure_future_args){.loop = loop}));
    assert_raised(aio_ValueError, NULL);
    assert_null(aio_ensure_future_coro(NULL, NULL, NULL));
    assert_raised(aio_TypeError, "An asyncio.Future, a coroutine or an awaitable is required");
    aio_task *t = aio_ensure_future_coro(coro, P(5), &(aio_ensure_future_args){.loop = other});
    assert_non_null(t);
    assert_ptr_equal(aio_future_get_loop(t), other);
    assert_ptr_equal(aio_loop_run_until_complete(other, t), P(5));
    aio_decref(t);
    aio_future_cancel(g, NULL);
    aio_decref(g);
    aio_decref(f);
    close_loop(other);
    assert_int_equal(aio_set_event_loop(NULL), 0);
    finish(loop);
}

/* --- out of memory ------------------------------------------------------------------ */

static void test_out_of_memory(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_int_equal(aio_set_event_loop(loop), 0);
    aio_future *fs[40];
    for (int i = 0; i < 40; i++)
        fs[i] = aio_loop_create_future(loop);
    aio_future_set_result(fs[3], NULL);
    for (long k = 0; k < 30; k++) {
        aio__fail_alloc_after = k;
        aio_as_completed_iter *it = aio_as_completed(fs, 40, &(aio_as_completed_args){.timeout = 5});
        aio__fail_alloc_after = -1;
        if (it == NULL)
            assert_raised(aio_MemoryError, NULL);
        aio_decref(it);
        run_one_iteration(loop); /* a callback scheduled for fs[3] runs */
    }
    for (int i = 0; i < 40; i++) {
        aio_future_cancel(fs[i], NULL);
        run_one_iteration(loop);
        aio_decref(fs[i]);
    }
    run_one_iteration(loop);
    assert_int_equal(aio_set_event_loop(NULL), 0);
    finish(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_completion_order_at_scale),
    cmocka_unit_test(test_duplicates_and_timeout),
    cmocka_unit_test(test_timeout_starts_at_first_next),
    cmocka_unit_test(test_dropped_early),
    cmocka_unit_test(test_shared_between_tasks),
    cmocka_unit_test(test_misuse_and_ensure_future),
    cmocka_unit_test(test_out_of_memory),
};

AIO_TEST_MAIN(tests)
