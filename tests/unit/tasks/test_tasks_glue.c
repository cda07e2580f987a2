/* test_tasks_glue.c - the task API generated from spec/tasks.toml
 * (<casyncio/tasks_api.h>): what its glue does before the runtime. A NULL
 * Task is refused with CPython's descriptor error, defaults and explicit
 * values reach the runtime (debug=None/False/True, timeout AIO_ZERO,
 * return_when), a None return_when is CPython's ValueError, and the
 * out-parameters (all_tasks()' count, get_coro()'s argument, wait()'s
 * result) are filled in. */
#include "test_support.h"

static void *returns_arg(void *arg)
{
    return arg;
}
AIO_NAME_CALLBACK(returns_arg);

/* Every Task method given NULL: TypeError naming the method, as
 * asyncio.Task.get_name(None) says, and nothing else happens. */
static void test_null_task(void **state)
{
    (void)state;
    static const char *const msg =
        "descriptor '%s' for '_asyncio.Task' objects doesn't apply to a 'NoneType' object";
    char text[128];
#define REFUSED(call, name)                       \
    do {                                          \
        assert_true((call));                      \
        snprintf(text, sizeof text, msg, (name)); \
        assert_raised(aio_TypeError, text);       \
    } while (0)
    REFUSED(aio_task_cancel(NULL, "m") == -1, "cancel");
    REFUSED(aio_task_cancelling(NULL) == -1, "cancelling");
    REFUSED(aio_task_uncancel(NULL) == -1, "uncancel");
    REFUSED(aio_task_get_name(NULL) == NULL, "get_name");
    REFUSED(aio_task_set_name(NULL, "x") == -1, "set_name");
    void *arg = P(5);
    REFUSED(aio_task_get_coro(NULL, &arg) == NULL, "get_coro");
    assert_ptr_equal(arg, P(5)); /* untouched */
    REFUSED(aio_task_get_context(NULL) == NULL, "get_context");
#undef REFUSED
    /* A future is not a task: the runtime's check, after the glue's. */
    aio_loop *loop = new_loop();
    aio_future *fut = aio_loop_create_future(loop);
    assert_int_equal(aio_task_cancelling(fut), -1);
    assert_raised(aio_TypeError, "descriptor 'cancelling' for '_asyncio.Task' objects doesn't "
                                 "apply to a '_asyncio.Future' object");
    aio_decref(fut);
    finish(loop);
}

/* Task() with NULL args: the defaults; get_coro() hands back the argument
 * through its out-parameter, and takes NULL for it. */
static void test_task_new_and_get_coro(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_set_event_loop(loop);
    aio_task *t = aio_task_new(returns_arg, P(3), NULL);
    assert_non_null(t);
    assert_ptr_equal(aio_future_get_loop(t), loop);
    void *arg = NULL;
    assert_ptr_equal(aio_task_get_coro(t, &arg), returns_arg);
    assert_ptr_equal(arg, P(3));
    assert_ptr_equal(aio_task_get_coro(t, NULL), returns_arg);
    assert_int_equal(aio_task_set_name(t, "n"), 0);
    assert_string_equal(aio_task_get_name(t), "n");
    assert_int_equal(aio_task_cancel(t, "why"), 1);
    assert_int_equal(aio_task_cancelling(t), 1);
    assert_int_equal(aio_task_uncancel(t), 0);
    assert_null(aio_loop_run_until_complete(loop, t));
    assert_raised(aio_CancelledError, "why");
    aio_decref(t);
    /* The C-only fields pass through: a shared-stack task runs. */
    t = aio_task_new(returns_arg, P(4), &(aio_task_args){.loop = loop, .shared_stack = true});
    assert_non_null(t);
    assert_ptr_equal(aio_loop_run_until_complete(loop, t), P(4));
    aio_decref(t);
    aio_set_event_loop(NULL);
    finish(loop);
}

/* all_tasks(): the count through the out-parameter; 0 and NULL for none. */
static void *counts_tasks(void *arg)
{
    (void)arg;
    size_t count = 99;
    aio_task **tasks = aio_all_tasks(NULL, &count);
    assert_int_equal(count, 2);
    assert_non_null(tasks);
    for (size_t i = 0; i < count; i++)
        aio_decref(tasks[i]);
    free(tasks);
    return P(1);
}
AIO_NAME_CALLBACK(counts_tasks);

static void *sleeps(void *arg)
{
    (void)arg;
    return aio_sleep(0) < 0 ? NULL : P(2);
}
AIO_NAME_CALLBACK(sleeps);

static void test_all_tasks_count(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    size_t count = 99;
    assert_null(aio_all_tasks(loop, &count));
    check_no_exception();
    assert_int_equal(count, 0);
    count = 99;
    assert_null(aio_all_tasks(NULL, &count));
    assert_raised(aio_RuntimeError, "no running event loop");
    assert_int_equal(count, 0);
    aio_task *other = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = sleeps});
    assert_ptr_equal(run_coro(loop, counts_tasks, NULL), P(1));
    assert_ptr_equal(aio_loop_run_until_complete(loop, other), P(2));
    aio_decref(other);
    finish(loop);
}

/* asyncio.run(debug=): 0 and AIO_NONE leave the loop's setting, AIO_FALSE
 * and AIO_TRUE (or true) set it. */
static void *reports_debug(void *arg)
{
    (void)arg;
    return P(1 + aio_loop_get_debug(aio_get_running_loop()));
}
AIO_NAME_CALLBACK(reports_debug);

static void test_run_debug(void **state)
{
    (void)state;
    assert_ptr_equal(aio_run(reports_debug, NULL, &(aio_run_args){.debug = AIO_TRUE}), P(2));
    assert_ptr_equal(aio_run(reports_debug, NULL, &(aio_run_args){.debug = true}), P(2));
    assert_ptr_equal(aio_run(reports_debug, NULL, &(aio_run_args){.debug = AIO_FALSE}), P(1));
    void *dflt = aio_run(reports_debug, NULL, NULL);
    assert_true(dflt == P(1) || dflt == P(2)); /* PYTHONASYNCIODEBUG decides */
    assert_ptr_equal(aio_run(reports_debug, NULL, &(aio_run_args){.debug = AIO_NONE}), dflt);
    check_no_exception();
    assert_no_leaks();
}

/* wait(): return_when None is CPython's ValueError, also outside a task
 * (asyncio checks it before it needs the loop); a bad number is the
 * runtime's; AIO_ZERO is a timeout of 0, 0 none; the result out-parameter. */
static void *waits(void *arg)
{
    aio_future **fs = arg;
    aio_wait_result r;
    assert_int_equal(aio_wait(fs, 2, &(aio_wait_args){.timeout = AIO_ZERO}, &r), 0);
    assert_int_equal(r.done_len, 1);
    assert_ptr_equal(r.done[0], fs[0]);
    assert_int_equal(r.pending_len, 1);
    aio_wait_result_clear(&r);
    assert_int_equal(aio_wait(fs, 2, &(aio_wait_args){.return_when = AIO_FIRST_COMPLETED}, &r),
                     0);
    assert_int_equal(r.done_len, 1);
    assert_int_equal(r.pending_len, 1);
    aio_wait_result_clear(&r);
    return P(1);
}
AIO_NAME_CALLBACK(waits);

static void test_wait_glue(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_future *fs[2] = {aio_loop_create_future(loop), aio_loop_create_future(loop)};
    assert_int_equal(aio_future_set_result(fs[0], NULL), 0);
    aio_wait_result r;
    assert_int_equal(aio_wait(fs, 2, &(aio_wait_args){.return_when = AIO_NONE}, &r), -1);
    assert_raised(aio_ValueError, "Invalid return_when value: None");
    assert_int_equal(aio_wait(fs, 2, &(aio_wait_args){.return_when = (aio_return_when)9}, &r),
                     -1);
    assert_raised(aio_ValueError, "Invalid return_when value: 9");
    assert_int_equal(aio_wait(NULL, 0, NULL, &r), -1);
    assert_raised(aio_ValueError, "Set of Tasks/Futures is empty.");
    assert_ptr_equal(run_coro(loop, waits, fs), P(1));
    aio_decref(fs[0]);
    aio_decref(fs[1]);
    finish(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_null_task),
    cmocka_unit_test(test_task_new_and_get_coro),
    cmocka_unit_test(test_all_tasks_count),
    cmocka_unit_test(test_run_debug),
    cmocka_unit_test(test_wait_glue),
};

AIO_TEST_MAIN(tests)
