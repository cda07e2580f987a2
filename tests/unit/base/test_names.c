/* test_names.c - what reprs and logs call callbacks.
 *
 * asyncio prints callbacks by name; a static C function has no symbol the
 * library can find, so callers name them with AIO_NAME_CALLBACK() or
 * aio_name_callback(), and the runtime names its own callbacks as CPython
 * names the equivalent ones (Task.task_wakeup, TaskStepMethWrapper, ...).
 * In debug mode, a slow step of a task is reported as the task, as
 * base_events._format_handle() does.
 */
#include "test_support.h"

#include "loop.h"

static void tick(void *arg)
{
    (void)arg;
}
AIO_NAME_CALLBACK(tick);

static void anonymous(void *arg)
{
    (void)arg;
}

static void on_done(aio_future *fut, void *arg)
{
    (void)fut;
    (void)arg;
}
AIO_NAME_CALLBACK(on_done);

static void test_named_static_callbacks(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_handle *h = soon(loop, tick, NULL);
    assert_repr(h, "<Handle tick()>");
    h = soon(loop, anonymous, NULL);
    char buf[256];
    repr_copy(h, buf, sizeof buf);
    assert_true(strncmp(buf, "<Handle 0x", 10) == 0); /* no name, no symbol */

    /* Named at run time, and renamed. */
    assert_int_equal(aio_name_callback((void (*)(void))anonymous, "Clock.tick"), 0);
    assert_repr(h, "<Handle Clock.tick()>");
    assert_int_equal(aio_name_callback((void (*)(void))anonymous, "other"), 0);
    assert_repr(h, "<Handle other()>");

    aio_future *fut = aio_loop_create_future(loop);
    aio_future_add_done_callback(fut, &(aio_future_add_done_callback_args){.callback = on_done});
    assert_repr(fut, "<Future pending cb=[on_done()]>");
    aio_future_set_result(fut, NULL);
    run_one_iteration(loop);
    aio_decref(fut);

    assert_int_equal(aio_name_callback(NULL, "x"), -1);
    assert_raised(aio_ValueError, NULL);
    assert_int_equal(aio_name_callback((void (*)(void))tick, ""), -1);
    assert_raised(aio_ValueError, NULL);
    assert_int_equal(aio_name_callback((void (*)(void))tick, NULL), -1);
    assert_raised(aio_ValueError, NULL);
    finish(loop);
}

/* The runtime's own callbacks carry CPython's names. */
static aio_future *g_waited;

static void *waiter_coro(void *arg)
{
    (void)arg;
    return aio_await(g_waited);
}
AIO_NAME_CALLBACK(waiter_coro);

static void test_runtime_callback_names(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    g_waited = aio_loop_create_future(loop);
    aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = waiter_coro});
    assert_non_null(t);
    /* The first step, queued: <Handle <TaskStepMethWrapper object at 0x...>()>. */
    char buf[512], expected[512];
    repr_copy(loop->ready[loop->ready_head], buf, sizeof buf);
    snprintf(expected, sizeof expected, "<Handle <TaskStepMethWrapper object at %p>()>",
             (void *)t);
    assert_string_equal(buf, expected);
    run_one_iteration(loop);
    /* Suspended on the future, which holds the task's wake-up. */
    assert_repr(g_waited, "<Future pending cb=[Task.task_wakeup()]>");
    repr_copy(t, buf, sizeof buf);
    assert_true(strstr(buf, "coro=<waiter_coro() running> wait_for=<Future pending "
                            "cb=[Task.task_wakeup()]>") != NULL);
    aio_future_set_result(g_waited, NULL);
    /* The wake-up, queued: Task.task_wakeup(<Future finished result=None>). */
    repr_copy(loop->ready[loop->ready_head], buf, sizeof buf);
    assert_string_equal(buf, "<Handle Task.task_wakeup(<Future finished result=None>)>");
    run_until_future_done(loop, t);
    aio_decref(t);
    aio_decref(g_waited);
    finish(loop);
}

/* Debug mode: a slow task step is logged as the task. */
typedef struct slow_log {
    int slow_task;
    int other;
} slow_log;

static void capture(int level, const char *message, aio_exc *exc, void *arg)
{
    (void)exc;
    slow_log *log = arg;
    if (level == AIO_LOG_WARNING && strncmp(message, "Executing <Task ", 16) == 0 &&
        strstr(message, "coro=<slow_coro() ") != NULL)
        log->slow_task++;
    else if (strncmp(message, "Executing <Handle ", 18) != 0)
        log->other++; /* anything but a slow-callback warning */
}
AIO_NAME_CALLBACK(capture);

static void *slow_coro(void *arg)
{
    (void)arg;
    sleep_ms(30);
    return NULL;
}
AIO_NAME_CALLBACK(slow_coro);

static void test_slow_task_step_logged_as_task(void **state)
{
    (void)state;
    slow_log log = {0};
    aio_log_set_handler(capture, &log);
    aio_loop *loop = new_loop();
    aio_loop_set_debug(loop, true);
    assert_int_equal(aio_loop_set_slow_callback_duration(loop, 0.01), 0);
    aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = slow_coro});
    aio_loop_run_until_complete(loop, t);
    check_no_exception();
    aio_log_set_handler(NULL, NULL);
    assert_int_equal(log.slow_task, 1);
    assert_int_equal(log.other, 0);
    aio_decref(t);
    finish(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_named_static_callbacks),
    cmocka_unit_test(test_runtime_callback_names),
    cmocka_unit_test(test_slow_task_step_logged_as_task),
};

AIO_TEST_MAIN(tests)
