/* test_runner.c - asyncio.Runner (runners.py, 3.11): lazy loop, many runs
 * on one loop, close() and what is refused after it, the loop factory,
 * SIGINT cancelling the main task, misuse and memory errors.
 *
 * Expected behaviour and messages were read from CPython 3.11.7.
 */
#include <signal.h>

#include "test_support.h"

#include "loop.h"

static void *count_coro(void *arg)
{
    int *n = arg;
    if (aio_sleep(0) < 0)
        return NULL;
    (*n)++;
    return P(1);
}
AIO_NAME_CALLBACK(count_coro);

static void test_many_runs_one_loop(void **state)
{
    (void)state;
    aio_runner *r = aio_runner_new(NULL);
    assert_non_null(r);
    assert_int_equal(aio_runner_enter(r), 0);
    aio_loop *loop = aio_runner_get_loop(r);
    assert_non_null(loop);
    /* the runner's loop is the current one */
    assert_ptr_equal(aio_get_event_loop(), loop);
    int n = 0;
    for (int i = 0; i < 10000; i++)
        assert_ptr_equal(aio_runner_run(r, count_coro, &n, NULL), P(1));
    assert_int_equal(n, 10000);
    assert_ptr_equal(aio_runner_get_loop(r), loop);
    assert_int_equal(aio_runner_exit(r), 0);
    /* closed for good */
    assert_null(aio_runner_get_loop(r));
    assert_raised(aio_RuntimeError, "Runner is closed");
    assert_null(aio_runner_run(r, count_coro, &n, NULL));
    assert_raised(aio_RuntimeError, "Runner is closed");
    assert_int_equal(aio_runner_enter(r), -1);
    assert_raised(aio_RuntimeError, "Runner is closed");
    assert_int_equal(aio_runner_close(r), 0);
    aio_decref(r);
    assert_no_leaks();
}

static void test_exit_keeps_exception(void **state)
{
    (void)state;
    aio_runner *r = aio_runner_new(NULL);
    assert_int_equal(aio_runner_enter(r), 0);
    aio_err_set(aio_ValueError, "body");
    assert_int_equal(aio_runner_exit(r), -1);
    assert_raised(aio_ValueError, "body");
    aio_decref(r);
    /* a runner never used: close() and exit() do nothing */
    r = aio_runner_new(NULL);
    assert_int_equal(aio_runner_exit(r), 0);
    aio_decref(r);
    assert_no_leaks();
}

static void *inner_run(void *arg)
{
    aio_runner *r = arg;
    int n = 0;
    assert_null(aio_runner_run(r, count_coro, &n, NULL));
    assert_raised(aio_RuntimeError, "Runner.run() cannot be called from a running event loop");
    assert_null(aio_runner_run(r, NULL, NULL, NULL));
    assert_raised(aio_ValueError, "a coroutine was expected, got None");
    assert_null(aio_run(count_coro, &n, NULL));
    assert_raised(aio_RuntimeError, "asyncio.run() cannot be called from a running event loop");
    return P(2);
}
AIO_NAME_CALLBACK(inner_run);

static void test_misuse(void **state)
{
    (void)state;
    aio_runner *r = aio_runner_new(NULL);
    assert_ptr_equal(aio_runner_run(r, inner_run, r, NULL), P(2));
    /* run(None) before anything was made: nothing is made */
    aio_runner *fresh = aio_runner_new(NULL);
    assert_null(aio_runner_run(fresh, NULL, NULL, NULL));
    assert_raised(aio_ValueError, "a coroutine was expected, got None");
    assert_int_equal(aio_runner_close(fresh), 0);
    assert_non_null(aio_runner_get_loop(fresh)); /* still makes one */
    assert_int_equal(aio_runner_close(fresh), 0);
    aio_decref(fresh);
    assert_int_equal(aio_runner_close(r), 0);
    aio_decref(r);

    assert_int_equal(aio_runner_enter(NULL), -1);
    assert_raised(aio_TypeError, NULL);
    assert_null(aio_runner_get_loop(NULL));
    assert_raised(aio_TypeError, NULL);
    assert_null(aio_runner_run(NULL, count_coro, NULL, NULL));
    assert_raised(aio_TypeError, NULL);
    assert_int_equal(aio_runner_close(NULL), -1);
    assert_raised(aio_TypeError, NULL);
    aio_err_set(aio_MemoryError, NULL);
    assert_int_equal(aio_runner_exit(NULL), -1);
    assert_raised(aio_MemoryError, NULL);
    assert_no_leaks();
}

/* --- loop factory ------------------------------------------------------------------------ */

static aio_loop *failing_factory(void *arg)
{
    (void)arg;
    aio_err_set(aio_OSError, "no loop today");
    return NULL;
}
AIO_NAME_CALLBACK(failing_factory);

static aio_loop *factory(void *arg)
{
    int *calls = arg;
    (*calls)++;
    return aio_new_event_loop();
}
AIO_NAME_CALLBACK(factory);

static void test_loop_factory(void **state)
{
    (void)state;
    aio_runner *r = aio_runner_new(&(aio_runner_args){.loop_factory = failing_factory});
    assert_int_equal(aio_runner_enter(r), -1);
    assert_raised(aio_OSError, "no loop today");
    aio_decref(r);

    int calls = 0;
    r = aio_runner_new(&(aio_runner_args){.loop_factory = factory, .loop_factory_arg = &calls,
                                          .debug = AIO_FALSE});
    aio_loop *loop = aio_runner_get_loop(r);
    assert_non_null(loop);
    assert_int_equal(aio_loop_get_debug(loop), 0);
    int n = 0;
    assert_ptr_equal(aio_runner_run(r, count_coro, &n, NULL), P(1));
    assert_int_equal(calls, 1);
    assert_int_equal(aio_runner_close(r), 0);
    aio_decref(r);
    assert_no_leaks();
}

/* --- SIGINT ---------------------------------------------------------------------------- */

static void *interrupted(void *arg)
{
    int *saw = arg;
    raise(SIGINT);
    if (aio_sleep(10) < 0 && aio_err_matches(aio_CancelledError))
        (*saw)++;
    return NULL;
}
AIO_NAME_CALLBACK(interrupted);

static void test_sigint_cancels_main_task(void **state)
{
    (void)state;
    signal(SIGINT, SIG_DFL);
    aio_runner *r = aio_runner_new(NULL);
    int saw = 0;
    assert_null(aio_runner_run(r, interrupted, &saw, NULL));
    assert_raised(aio_KeyboardInterrupt, NULL);
    assert_int_equal(saw, 1);
    /* the handler is gone after run(), and the runner still runs */
    int n = 0;
    assert_ptr_equal(aio_runner_run(r, count_coro, &n, NULL), P(1));
    assert_int_equal(aio_runner_close(r), 0);
    aio_decref(r);
    assert_no_leaks();
}

/* --- out of memory --------------------------------------------------------------------- */

static void test_out_of_memory(void **state)
{
    (void)state;
    for (long k = 0; k < 40; k++) {
        aio__fail_alloc_after = k;
        aio_runner *r = aio_runner_new(NULL);
        int n = 0;
        void *result = r != NULL ? aio_runner_run(r, count_coro, &n, NULL) : NULL;
        aio__fail_alloc_after = -1;
        if (result == NULL)
            assert_raised(aio_MemoryError, NULL);
        if (r != NULL) {
            assert_int_equal(aio_runner_close(r), 0);
            aio_decref(r);
        }
        aio_err_clear();
        assert_no_leaks();
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_many_runs_one_loop),
    cmocka_unit_test(test_exit_keeps_exception),
    cmocka_unit_test(test_misuse),
    cmocka_unit_test(test_loop_factory),
    cmocka_unit_test(test_sigint_cancels_main_task),
    cmocka_unit_test(test_out_of_memory),
};

AIO_TEST_MAIN(tests)
