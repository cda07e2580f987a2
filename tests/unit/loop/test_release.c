/* test_release.c - args_release: the loop releases a callback's argument
 * exactly once when it drops the callback without running it.
 *
 * A C caller that hands a malloc'd argument to call_soon() and friends
 * gives args_release with it: a one-shot callback that runs takes its
 * argument over (the loop never releases it); one that is cancelled, or
 * dropped because the loop closed, has it released once. A reader, writer
 * or signal handler runs many times; its argument is released once when it
 * is replaced or removed, or when the loop closes. A call that fails
 * leaves the argument to the caller.
 */
#include <signal.h>

#include "test_support.h"

typedef struct counted {
    int runs;
    int releases;
} counted;

static void release_counted(void *arg)
{
    ((counted *)arg)->releases++;
}
AIO_NAME_CALLBACK(release_counted);

static void run_counted(void *arg)
{
    ((counted *)arg)->runs++;
}
AIO_NAME_CALLBACK(run_counted);

static void release_raising(void *arg)
{
    ((counted *)arg)->releases++;
    aio_err_set(aio_RuntimeError, "from a release");
}
AIO_NAME_CALLBACK(release_raising);

static aio_handle *soon_owned(aio_loop *loop, counted *c)
{
    return aio_loop_call_soon(loop, &(aio_loop_call_soon_args){
                                        .callback = run_counted,
                                        .args = c,
                                        .args_release = release_counted});
}

static void test_one_shot_callbacks(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    /* Runs: the callback took the argument over. */
    counted ran = {0};
    aio_handle *h = aio_incref(soon_owned(loop, &ran));
    run_one_iteration(loop);
    assert_int_equal(ran.runs, 1);
    assert_int_equal(ran.releases, 0);
    assert_int_equal(aio_handle_cancel(h), 0); /* after the run: a no-op */
    aio_decref(h);
    assert_int_equal(ran.releases, 0);

    /* Cancelled: released at once, once. */
    counted cancelled = {0};
    h = soon_owned(loop, &cancelled);
    assert_int_equal(aio_handle_cancel(h), 0);
    assert_int_equal(cancelled.releases, 1);
    assert_int_equal(aio_handle_cancel(h), 0);
    run_one_iteration(loop);
    assert_int_equal(cancelled.runs, 0);
    assert_int_equal(cancelled.releases, 1);

    /* A timer cancelled, and a timer that runs. */
    counted timer = {0}, timer_ran = {0};
    aio_timer_handle *t = aio_loop_call_later(loop, &(aio_loop_call_later_args){
        .delay = 100, .callback = run_counted, .args = &timer, .args_release = release_counted});
    aio_loop_call_at(loop, &(aio_loop_call_at_args){.when = aio_loop_time(loop) - 1,
                                                    .callback = run_counted,
                                                    .args = &timer_ran,
                                                    .args_release = release_counted});
    assert_int_equal(aio_handle_cancel(t), 0);
    assert_int_equal(timer.releases, 1);
    run_one_iteration(loop);
    assert_int_equal(timer.runs + timer_ran.releases, 0);
    assert_int_equal(timer_ran.runs, 1);
    finish(loop);
}

/* A callback that cancels its own handle while it runs keeps its argument. */
static aio_handle *g_self;

static void cancel_self(void *arg)
{
    ((counted *)arg)->runs++;
    aio_handle_cancel(g_self);
}
AIO_NAME_CALLBACK(cancel_self);

static void test_self_cancel_while_running(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    counted c = {0};
    g_self = aio_loop_call_soon(loop, &(aio_loop_call_soon_args){
        .callback = cancel_self, .args = &c, .args_release = release_counted});
    run_one_iteration(loop);
    assert_int_equal(c.runs, 1);
    assert_int_equal(c.releases, 0);
    finish(loop);
}

/* Pending when the loop closes: released once each (call_soon, timers,
 * call_soon_threadsafe from another thread). */
typedef struct from_thread {
    aio_loop *loop;
    counted *c;
} from_thread;

static void *schedule_from_thread(void *arg)
{
    from_thread *ft = arg;
    aio_handle *h = aio_loop_call_soon_threadsafe(
        ft->loop, &(aio_loop_call_soon_threadsafe_args){
                      .callback = run_counted, .args = ft->c, .args_release = release_counted});
    assert_non_null(h);
    return NULL;
}

static void test_released_when_the_loop_closes(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    counted soon = {0}, later = {0}, threadsafe = {0};
    soon_owned(loop, &soon);
    aio_loop_call_later(loop, &(aio_loop_call_later_args){
        .delay = 100, .callback = run_counted, .args = &later, .args_release = release_counted});
    from_thread ft = {loop, &threadsafe};
    run_in_thread(schedule_from_thread, &ft);
    assert_int_equal(aio_loop_close(loop), 0);
    assert_int_equal(soon.releases, 1);
    assert_int_equal(later.releases, 1);
    assert_int_equal(threadsafe.releases, 1);
    assert_int_equal(soon.runs + later.runs + threadsafe.runs, 0);
    aio_decref(loop);
    assert_no_leaks();
}

/* A call that fails leaves the argument to the caller. */
static void test_failed_call_keeps_argument(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_int_equal(aio_loop_close(loop), 0);
    counted c = {0};
    assert_null(soon_owned(loop, &c));
    assert_raised(aio_RuntimeError, "Event loop is closed");
    assert_null(aio_loop_call_soon_threadsafe(loop, &(aio_loop_call_soon_threadsafe_args){
        .callback = run_counted, .args = &c, .args_release = release_counted}));
    assert_raised(aio_RuntimeError, "Event loop is closed");
    assert_int_equal(aio_loop_add_reader(loop, 0, run_counted, &c, release_counted), -1);
    assert_raised(aio_RuntimeError, "Event loop is closed");
    aio_decref(loop);
    loop = new_loop();
    assert_int_equal(aio_loop_add_reader(loop, -1, run_counted, &c, release_counted), -1);
    assert_raised(aio_ValueError, "Invalid file descriptor: -1");
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGKILL, run_counted, &c,
                                                 release_counted), -1);
    assert_raised(aio_RuntimeError, "sig 9 cannot be caught");
    assert_int_equal(c.releases, 0);
    finish(loop);
}

/* Readers and writers: released when replaced or removed (after any number
 * of runs), or when the loop closes. */
static void test_readers_and_writers(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(write(fds[1], "x", 1), 1);
    counted first = {0}, second = {0}, writer = {0}, at_close = {0};
    assert_int_equal(aio_loop_add_reader(loop, fds[0], run_counted, &first, release_counted), 0);
    run_one_iteration(loop);
    run_one_iteration(loop);
    assert_int_equal(first.runs, 2); /* level-triggered: the byte is still there */
    assert_int_equal(first.releases, 0);
    assert_int_equal(aio_loop_add_reader(loop, fds[0], run_counted, &second, release_counted), 0);
    assert_int_equal(first.releases, 1); /* replaced */
    run_one_iteration(loop);
    assert_int_equal(second.runs, 1);
    assert_int_equal(aio_loop_remove_reader(loop, fds[0]), 1);
    assert_int_equal(second.releases, 1); /* removed */
    assert_int_equal(aio_loop_remove_reader(loop, fds[0]), 0);
    assert_int_equal(second.releases, 1);

    assert_int_equal(aio_loop_add_writer(loop, fds[1], run_counted, &writer, release_counted), 0);
    run_one_iteration(loop);
    assert_int_equal(writer.runs, 1);
    assert_int_equal(aio_loop_remove_writer(loop, fds[1]), 1);
    assert_int_equal(writer.releases, 1);

    assert_int_equal(aio_loop_add_reader(loop, fds[0], run_counted, &at_close, release_counted),
                     0);
    assert_int_equal(aio_loop_close(loop), 0);
    assert_int_equal(at_close.releases, 1);
    aio_decref(loop);
    close(fds[0]);
    close(fds[1]);
    assert_int_equal(first.releases + second.releases + writer.releases + at_close.releases, 4);
    assert_no_leaks();
}

/* Signal handlers: released when replaced, removed, or at close. */
static void test_signal_handlers(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    counted first = {0}, second = {0}, third = {0};
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGUSR1, run_counted, &first,
                                                 release_counted), 0);
    raise(SIGUSR1);
    for (int i = 0; i < 3; i++)
        run_one_iteration(loop);
    assert_int_equal(first.runs, 1);
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGUSR1, run_counted, &second,
                                                 release_counted), 0);
    assert_int_equal(first.releases, 1);
    assert_int_equal(aio_loop_remove_signal_handler(loop, SIGUSR1), 1);
    assert_int_equal(second.releases, 1);
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGUSR2, run_counted, &third,
                                                 release_counted), 0);
    assert_int_equal(aio_loop_close(loop), 0);
    assert_int_equal(third.releases, 1);
    aio_decref(loop);
    assert_no_leaks();
}

/* A release that raises does not leak its exception anywhere, and the
 * caller's pending exception survives it. */
static void test_release_runs_clean(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    counted c = {0};
    aio_handle *h = aio_loop_call_soon(loop, &(aio_loop_call_soon_args){
        .callback = run_counted, .args = &c, .args_release = release_raising});
    aio_err_set(aio_ValueError, "mine");
    aio_handle_cancel(h);
    assert_raised(aio_ValueError, "mine");
    assert_int_equal(c.releases, 1);
    /* Debug mode freezes the repr at cancel: it shows the argument. */
    aio_loop_set_debug(loop, true);
    counted d = {0};
    h = aio_incref(soon_owned(loop, &d));
    aio_handle_cancel(h);
    char expected[128];
    snprintf(expected, sizeof expected, "<Handle cancelled run_counted(%p)>", (void *)&d);
    assert_repr(h, expected);
    assert_int_equal(d.releases, 1);
    aio_decref(h);
    finish(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_one_shot_callbacks),
    cmocka_unit_test(test_self_cancel_while_running),
    cmocka_unit_test(test_released_when_the_loop_closes),
    cmocka_unit_test(test_failed_call_keeps_argument),
    cmocka_unit_test(test_readers_and_writers),
    cmocka_unit_test(test_signal_handlers),
    cmocka_unit_test(test_release_runs_clean),
};

AIO_TEST_MAIN(tests)
