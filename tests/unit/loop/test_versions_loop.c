/* test_versions_loop.c - loop behaviours that follow the target version:
 * a handle's callback arguments, left out of its repr (and so of
 * "Exception in callback ...") from 3.13 unless in debug mode; the invalid
 * signal message ("sig N out of range(1, NSIG)" before 3.8, a range check
 * only; "invalid signal number N" with valid_signals() from 3.8);
 * add_signal_handler() from a thread ("... of the main interpreter" from
 * 3.9); "cannot enter context: <Context object ...>" before 3.10,
 * "<_contextvars.Context object ...>" from 3.10; set_event_loop_policy()
 * of another object, AssertionError up to 3.10; a NaN timer at the head
 * of the heap, a ValueError from the poll in 3.13. Checked beside CPython
 * 3.7.16, 3.8.18, 3.9.18, 3.10.13, 3.12.1 and 3.13.0.
 */
#include <math.h>
#include <pthread.h>
#include <signal.h>

#include "test_support.h"

static aio_loop *loop_at(int version, bool debug)
{
    aio_loop *loop = new_loop_at(version);
    aio_loop_set_debug(loop, debug);
    return loop;
}

static void fails(void *arg)
{
    (void)arg;
    aio_err_set(aio_ValueError, "boom");
}
AIO_NAME_CALLBACK(fails);

static void test_callback_args_in_repr(void **state)
{
    (void)state;
    static const struct {
        int version;
        bool debug;
        const char *shown;
    } cases[] = {{AIO_PY(3, 8), false, "fails(0x2a)"},
                 {AIO_PY(3, 12), false, "fails(0x2a)"},
                 {AIO_PY(3, 13), false, "fails()"},
                 {AIO_PY(3, 13), true, "fails(0x2a)"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aio_loop *loop = loop_at(cases[i].version, cases[i].debug);
        handler_report r = {0};
        aio_loop_set_exception_handler(loop, report_handler, &r);
        aio_handle *h = soon(loop, fails, P(42));
        char expected[128];
        snprintf(expected, sizeof expected, "<Handle %s>", cases[i].shown);
        assert_repr(h, expected);
        run_one_iteration(loop);
        assert_int_equal(r.calls, 1);
        snprintf(expected, sizeof expected, "Exception in callback %s", cases[i].shown);
        assert_string_equal(r.message, expected);
        /* a timer, the same */
        aio_timer_handle *th = at(loop, aio_loop_time(loop) + 100, fails, P(42));
        char repr[160];
        repr_copy(th, repr, sizeof repr);
        snprintf(expected, sizeof expected, " %s>", cases[i].shown);
        assert_non_null(strstr(repr, expected));
        aio_handle_cancel((aio_handle *)th);
        finish(loop);
    }
}

/* A future's done callback: its future is an argument too. */
static void on_done(aio_future *fut, void *arg)
{
    (void)fut;
    (void)arg;
    aio_err_set(aio_ValueError, "boom");
}
AIO_NAME_CALLBACK(on_done);

static void test_done_callback_args(void **state)
{
    (void)state;
    static const struct {
        int version;
        bool debug;
        bool shown;
    } cases[] = {{AIO_PY(3, 12), false, true},
                 {AIO_PY(3, 13), false, false},
                 {AIO_PY(3, 13), true, true}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aio_loop *loop = loop_at(cases[i].version, cases[i].debug);
        handler_report r = {0};
        aio_loop_set_exception_handler(loop, report_handler, &r);
        aio_future *f = aio_loop_create_future(loop);
        assert_int_equal(aio_future_add_done_callback(
                             f, &(aio_future_add_done_callback_args){.callback = on_done}),
                         0);
        assert_int_equal(aio_future_set_result(f, NULL), 0);
        run_one_iteration(loop);
        assert_int_equal(r.calls, 1);
        if (cases[i].shown)
            assert_memory_equal(r.message, "Exception in callback on_done(<Future finished",
                                strlen("Exception in callback on_done(<Future finished"));
        else
            assert_string_equal(r.message, "Exception in callback on_done()");
        aio_decref(f);
        finish(loop);
    }
}

static void noop_cb(void *arg)
{
    (void)arg;
}

static void test_invalid_signal_message(void **state)
{
    (void)state;
    char msg[64];
    aio_loop *loop = loop_at(AIO_PY(3, 7), false);
    static const int out_of_range[] = {0, -1, NSIG, 1000};
    for (size_t i = 0; i < sizeof out_of_range / sizeof out_of_range[0]; i++) {
        snprintf(msg, sizeof msg, "sig %d out of range(1, %d)", out_of_range[i], NSIG);
        assert_int_equal(aio_loop_add_signal_handler(loop, out_of_range[i], noop_cb, NULL, NULL),
                         -1);
        assert_raised(aio_ValueError, msg);
        assert_int_equal(aio_loop_remove_signal_handler(loop, out_of_range[i]), -1);
        assert_raised(aio_ValueError, msg);
    }
    /* 32 is in range: the kernel interface refuses it (glibc keeps it) */
    assert_int_equal(aio_loop_add_signal_handler(loop, 32, noop_cb, NULL, NULL), -1);
    assert_raised(aio_RuntimeError, "sig 32 cannot be caught");
    assert_int_equal(aio_loop_remove_signal_handler(loop, 32), 0);
    finish(loop);

    loop = loop_at(AIO_PY(3, 8), false);
    static const int invalid[] = {0, 32, NSIG};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        snprintf(msg, sizeof msg, "invalid signal number %d", invalid[i]);
        assert_int_equal(aio_loop_add_signal_handler(loop, invalid[i], noop_cb, NULL, NULL), -1);
        assert_raised(aio_ValueError, msg);
        assert_int_equal(aio_loop_remove_signal_handler(loop, invalid[i]), -1);
        assert_raised(aio_ValueError, msg);
    }
    finish(loop);
}

typedef struct {
    aio_loop *loop;
    int rc;
    bool runtime_error;
    char msg[128];
} thread_add;

/* cmocka's asserts stay in the main thread: this one only records. */
static void *add_from_thread(void *arg)
{
    thread_add *a = arg;
    a->rc = aio_loop_add_signal_handler(a->loop, SIGUSR1, noop_cb, NULL, NULL);
    a->runtime_error = aio_err_matches(aio_RuntimeError);
    aio_exc *exc = aio_err_fetch();
    snprintf(a->msg, sizeof a->msg, "%s", exc ? aio_exc_str(exc) : "");
    aio_decref(exc);
    return NULL;
}

/* add_signal_handler() outside the main thread: signal.set_wakeup_fd()'s
 * message, which 3.9 extended. */
static void test_signal_from_thread_message(void **state)
{
    (void)state;
    static const struct {
        int version;
        const char *msg;
    } cases[] = {{AIO_PY(3, 8), "set_wakeup_fd only works in main thread"},
                 {AIO_PY(3, 9), "set_wakeup_fd only works in main thread of the main interpreter"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        thread_add a = {.loop = loop_at(cases[i].version, false)};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, add_from_thread, &a), 0);
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_int_equal(a.rc, -1);
        assert_true(a.runtime_error);
        assert_string_equal(a.msg, cases[i].msg);
        finish(a.loop);
    }
}

static void nothing(void *arg)
{
    (void)arg;
}

static void enter_again(void *arg)
{
    aio_context_run(arg, nothing, NULL);
}

static void one_iteration(void *arg)
{
    run_one_iteration(arg);
}

/* A handle whose context is entered already (the loop runs inside
 * ctx.run()): "cannot enter context" names the type as its repr did, with
 * its module from 3.10. Outside a loop, the process default decides. */
static void test_context_entered_message(void **state)
{
    (void)state;
    static const struct {
        int version;
        const char *name;
    } cases[] = {{AIO_PY(3, 9), "('cannot enter context: <Context object at "},
                 {AIO_PY(3, 10), "('cannot enter context: <_contextvars.Context object at "}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aio_loop *loop = loop_at(cases[i].version, false);
        handler_report r = {0};
        aio_loop_set_exception_handler(loop, report_handler, &r);
        aio_context *ctx = aio_context_new();
        assert_non_null(ctx);
        assert_non_null(aio_loop_call_soon(
            loop, &(aio_loop_call_soon_args){.callback = noop_cb, .context = ctx}));
        assert_int_equal(aio_context_run(ctx, one_iteration, loop), 0);
        assert_int_equal(r.calls, 1);
        assert_true(strncmp(r.exception, "RuntimeError", 12) == 0);
        assert_non_null(strstr(r.exception, cases[i].name));
        assert_non_null(strstr(r.exception, "> is already entered"));

        assert_int_equal(aio_set_target_version(cases[i].version), 0);
        assert_int_equal(aio_context_run(ctx, enter_again, ctx), -1);
        aio_exc *exc = aio_err_fetch();
        assert_non_null(exc);
        assert_non_null(strstr(aio_exc_str(exc), cases[i].name + 2));
        aio_decref(exc);
        assert_int_equal(aio_set_target_version(AIO_PY_DEFAULT), 0);
        aio_decref(ctx);
        finish(loop);
    }
}

/* set_event_loop_policy() of another object: an assert up to 3.10 (bare
 * AssertionError), 3.11's TypeError. No loop runs: the process default
 * decides. */
static void test_set_policy_non_policy(void **state)
{
    (void)state;
    aio_loop *loop = aio_new_event_loop();
    assert_non_null(loop);
    assert_int_equal(aio_set_target_version(AIO_PY(3, 10)), 0);
    assert_int_equal(aio_set_event_loop_policy((aio_event_loop_policy *)loop), -1);
    assert_raised(aio_AssertionError, "");
    assert_int_equal(aio_set_target_version(AIO_PY(3, 11)), 0);
    assert_int_equal(aio_set_event_loop_policy((aio_event_loop_policy *)loop), -1);
    assert_raised(aio_TypeError, "policy must be an instance of AbstractEventLoopPolicy or None, "
                                 "not '_UnixSelectorEventLoop'");
    assert_int_equal(aio_set_target_version(AIO_PY_DEFAULT), 0);
    finish(loop);
}

static void stop_loop(void *arg)
{
    aio_loop_stop(arg);
}

/* A NaN deadline at the head of the heap: up to 3.12 the poll timeout is
 * max(0, nan) = 0 and the timer is due at once; 3.13 keeps the NaN, which
 * the selector fails to round (ValueError out of run_forever()). */
static void test_nan_timer_poll(void **state)
{
    (void)state;
    static const int versions[] = {AIO_PY(3, 12), AIO_PY(3, 13)};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        aio_loop *loop = loop_at(versions[i], false);
        aio_timer_handle *h = at(loop, NAN, stop_loop, loop);
        if (versions[i] < AIO_PY(3, 13)) {
            assert_true(aio_loop_backend_timeout(loop) == 0.0);
            assert_int_equal(aio_loop_run_forever(loop), 0);
        } else {
            /* an embedding host is told to run an iteration at once */
            assert_true(aio_loop_backend_timeout(loop) == 0.0);
            assert_int_equal(aio_loop_run_forever(loop), -1);
            assert_raised(aio_ValueError, "cannot convert float NaN to integer");
            assert_false(aio_loop_is_running(loop));
            assert_int_equal(aio_handle_cancel((aio_handle *)h), 0);
        }
        finish(loop);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_callback_args_in_repr),
    cmocka_unit_test(test_done_callback_args),
    cmocka_unit_test(test_invalid_signal_message),
    cmocka_unit_test(test_signal_from_thread_message),
    cmocka_unit_test(test_context_entered_message),
    cmocka_unit_test(test_set_policy_non_policy),
    cmocka_unit_test(test_nan_timer_poll),
};

AIO_TEST_MAIN(tests)
