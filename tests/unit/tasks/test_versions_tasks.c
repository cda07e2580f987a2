/* test_versions_tasks.c - futures and tasks by target version:
 * Future.set_exception(StopIteration) refused with TypeError up to 3.12,
 * stored from 3.13 as a RuntimeError whose __cause__ and __context__ are
 * the StopIteration; sleep(nan) sleeping up to 3.12, ValueError from 3.13.
 * Checked beside CPython 3.8.18, 3.12.1 and 3.13.0.
 */
#include <math.h>

#include "test_support.h"

static const char stop_message[] = "StopIteration interacts badly with generators and cannot be "
                                   "raised into a Future";

static aio_loop *loop_at(int version)
{
    aio_loop *loop = new_loop();
    assert_int_equal(aio_loop_set_target_version(loop, version), 0);
    return loop;
}

static void test_set_exception_stop_iteration(void **state)
{
    (void)state;
    static const int refused[] = {AIO_PY(3, 8), AIO_PY(3, 12)};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        aio_loop *loop = loop_at(refused[i]);
        aio_future *f = aio_loop_create_future(loop);
        aio_exc *stop = aio_exc_new(aio_StopIteration, NULL);
        assert_int_equal(aio_future_set_exception(f, stop), -1);
        assert_raised(aio_TypeError, stop_message);
        assert_int_equal(aio_future_done(f), 0);
        aio_decref(stop);
        aio_decref(f);
        finish(loop);
    }
    aio_loop *loop = loop_at(AIO_PY(3, 13));
    aio_future *f = aio_loop_create_future(loop);
    aio_exc *stop = aio_exc_new(aio_StopIteration, "x");
    assert_int_equal(aio_future_set_exception(f, stop), 0);
    aio_exc *stored = aio_future_exception(f);
    assert_non_null(stored);
    assert_ptr_equal(aio_exc_type_of(stored), aio_RuntimeError);
    assert_string_equal(aio_exc_str(stored), stop_message);
    assert_ptr_equal(aio_exc_cause(stored), stop);
    assert_ptr_equal(aio_exc_context(stored), stop);
    aio_decref(stop);
    aio_decref(f);
    /* other exceptions are stored as they are */
    f = aio_loop_create_future(loop);
    aio_exc *v = aio_exc_new(aio_ValueError, "v");
    assert_int_equal(aio_future_set_exception(f, v), 0);
    assert_ptr_equal(aio_future_exception(f), v);
    aio_decref(v);
    aio_decref(f);
    finish(loop);
}

static void *sleep_nan(void *arg)
{
    (void)arg;
    if (aio_sleep(NAN) < 0) {
        aio_exc *exc = aio_err_fetch();
        char *text = aio_repr(exc);
        aio_decref(exc);
        return text;
    }
    return NULL;
}

static void test_sleep_nan(void **state)
{
    (void)state;
    aio_loop *loop = loop_at(AIO_PY(3, 12));
    assert_null(run_coro(loop, sleep_nan, NULL));
    finish(loop);
    loop = loop_at(AIO_PY(3, 13));
    char *text = run_coro(loop, sleep_nan, NULL);
    assert_non_null(text);
    assert_string_equal(text, "ValueError('Invalid delay: NaN (not a number)')");
    free(text);
    finish(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_set_exception_stop_iteration),
    cmocka_unit_test(test_sleep_nan),
};

AIO_TEST_MAIN(tests)
