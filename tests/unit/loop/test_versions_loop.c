/* test_versions_loop.c - loop behaviours that follow the target version:
 * a handle's callback arguments, left out of its repr (and so of
 * "Exception in callback ...") from 3.13 unless in debug mode; the invalid
 * signal message ("sig N out of range(1, NSIG)" before 3.8, a range check
 * only; "invalid signal number N" with valid_signals() from 3.8). Checked
 * beside CPython 3.7.16, 3.8.18, 3.12.1 and 3.13.0.
 */
#include <signal.h>

#include "test_support.h"

static aio_loop *loop_at(int version, bool debug)
{
    aio_loop *loop = new_loop();
    assert_int_equal(aio_loop_set_target_version(loop, version), 0);
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

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_callback_args_in_repr),
    cmocka_unit_test(test_done_callback_args),
    cmocka_unit_test(test_invalid_signal_message),
};

AIO_TEST_MAIN(tests)
