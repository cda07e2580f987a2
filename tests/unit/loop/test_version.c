/* test_version.c - the target version: the process default, each loop's
 * own, and the values refused. */
#include "test_support.h"

static void test_default_is_the_target(void **state)
{
    (void)state;
    assert_int_equal(aio_get_target_version(), AIO_PY_DEFAULT);
    assert_int_equal(AIO_PY(3, 11), 0x030B00);
    assert_int_equal(AIO_PY_MICRO(3, 8, 1), 0x030801);
    assert_true(AIO_PY_MICRO(3, 8, 1) > AIO_PY(3, 8));
    assert_true(AIO_PY_MICRO(3, 8, 1) < AIO_PY(3, 9));
    aio_loop *loop = aio_new_event_loop();
    assert_non_null(loop);
    assert_int_equal(aio_loop_get_target_version(loop), AIO_PY_DEFAULT);
    aio_loop_close(loop);
    aio_decref(loop);
    assert_no_leaks();
}

static void test_new_loops_take_the_process_default(void **state)
{
    (void)state;
    aio_loop *before = aio_new_event_loop();
    assert_int_equal(aio_set_target_version(AIO_PY(3, 8)), 0);
    assert_int_equal(aio_get_target_version(), AIO_PY(3, 8));
    aio_loop *after = aio_new_event_loop();
    assert_int_equal(aio_loop_get_target_version(before), AIO_PY_DEFAULT);
    assert_int_equal(aio_loop_get_target_version(after), AIO_PY(3, 8));
    assert_int_equal(aio_set_target_version(AIO_PY_DEFAULT), 0);
    assert_int_equal(aio_loop_get_target_version(after), AIO_PY(3, 8));
    aio_loop_close(before);
    aio_loop_close(after);
    aio_decref(before);
    aio_decref(after);
    assert_no_leaks();
}

static void test_loop_version_is_its_own(void **state)
{
    (void)state;
    aio_loop *loop = aio_new_event_loop();
    assert_int_equal(aio_loop_set_target_version(loop, AIO_PY(3, 13)), 0);
    assert_int_equal(aio_loop_get_target_version(loop), AIO_PY(3, 13));
    assert_int_equal(aio_get_target_version(), AIO_PY_DEFAULT);
    assert_int_equal(aio_loop_set_target_version(loop, AIO_PY_MICRO(3, 8, 1)), 0);
    assert_int_equal(aio_loop_get_target_version(loop), AIO_PY_MICRO(3, 8, 1));
    aio_loop_close(loop);
    aio_decref(loop);
    assert_no_leaks();
}

static void test_bad_versions_refused(void **state)
{
    (void)state;
    const int bad[] = {0, -1, AIO_PY(2, 7), AIO_PY(3, 5), AIO_PY(3, 14), AIO_PY(4, 0), 311, 0x7fffffff};
    aio_loop *loop = aio_new_event_loop();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(aio_set_target_version(bad[i]), -1);
        assert_raised(aio_ValueError, NULL);
        assert_int_equal(aio_loop_set_target_version(loop, bad[i]), -1);
        assert_raised(aio_ValueError, NULL);
    }
    assert_int_equal(aio_get_target_version(), AIO_PY_DEFAULT);
    assert_int_equal(aio_loop_get_target_version(loop), AIO_PY_DEFAULT);
    assert_int_equal(aio_loop_set_target_version(NULL, AIO_PY(3, 11)), -1);
    assert_raised(aio_TypeError, "loop must not be NULL");
    aio_loop_close(loop);
    aio_decref(loop);
    assert_no_leaks();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_default_is_the_target),
    cmocka_unit_test(test_new_loops_take_the_process_default),
    cmocka_unit_test(test_loop_version_is_its_own),
    cmocka_unit_test(test_bad_versions_refused),
};

AIO_TEST_MAIN(tests)
