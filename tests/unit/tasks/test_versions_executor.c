/* test_versions_executor.c - the executor behaviours that follow the target
 * version: set_default_executor() of something other than a
 * ThreadPoolExecutor (accepted to 3.7, DeprecationWarning 3.8 to 3.10,
 * TypeError 3.11+), and what the loop does with such a default; the default
 * pool's size (cpu_count * 5 before 3.8, min(32, cpu_count + 4) after) and
 * thread names ("asyncio_N" from 3.9); asyncio.run() waiting for the
 * default executor's threads from 3.9 only, and handling SIGINT (the
 * Runner's) from 3.11 only. Checked beside CPython 3.7.16,
 * 3.8.18, 3.10.13, 3.11.7 and 3.13.0.
 */
#include <math.h>
#include <signal.h>
#include <stdatomic.h>

#include "casyncio/warnings.h"
#include "test_support.h"

static const char deprecated[] = "Using the default executor that is not an instance of "
                                 "ThreadPoolExecutor is deprecated and will be prohibited "
                                 "in Python 3.9";


static void *identity(void *arg)
{
    return arg;
}

/* Joins the default pool's threads before finish() counts the objects
 * left (close() would not wait for them); shutdown_default_executor()
 * is 3.9's, so the loop is moved to the default target for it. */
static void join_default_pool(aio_loop *loop)
{
    assert_int_equal(aio_loop_set_target_version(loop, AIO_PY_DEFAULT), 0);
    aio_future *f = aio_loop_shutdown_default_executor(loop, NULL);
    assert_non_null(f);
    aio_loop_run_until_complete(loop, f);
    check_no_exception();
    aio_decref(f);
}

static void *thread_name(void *arg)
{
    pthread_getname_np(pthread_self(), arg, 16);
    return arg;
}

/* Another object as the default executor: kept (with a warning from 3.8);
 * run_in_executor(None) then finds no submit(), shutdown_default_executor()
 * no shutdown(); close() lets go of it. */
static void test_other_default_accepted(void **state)
{
    (void)state;
    static const struct {
        int version;
        int deprecations;
    } cases[] = {{AIO_PY(3, 6), 0}, {AIO_PY(3, 7), 0}, {AIO_PY(3, 8), 1}, {AIO_PY(3, 10), 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aio_loop *loop = new_loop_at(cases[i].version);
        aio_future *other = aio_loop_create_future(loop);
        watch_deprecations(AIO_WARN_ALWAYS);
        assert_int_equal(aio_loop_set_default_executor(loop, (aio_executor *)other), 0);
        assert_int_equal(deprecations, cases[i].deprecations);
        if (cases[i].deprecations)
            assert_string_equal(last_deprecation, deprecated);
        unwatch_deprecations();
        assert_null(aio_loop_run_in_executor(loop, NULL, identity, NULL, NULL));
        assert_raised(aio_AttributeError, "'Future' object has no attribute 'submit'");
        if (cases[i].version >= AIO_PY(3, 9)) {
            aio_future *f = aio_loop_shutdown_default_executor(loop, NULL);
            assert_non_null(f);
            run_until_future_done(loop, f);
            aio_exc *exc = aio_future_exception(f);
            assert_non_null(exc);
            assert_true(aio_exc_isinstance(exc, aio_AttributeError));
            assert_string_equal(aio_exc_str(exc), "'Future' object has no attribute 'shutdown'");
            aio_decref(f);
        }
        aio_decref(other); /* the loop keeps its own reference until close() */
        finish(loop);
    }
}

/* python -W error: the warning is raised and the default left as it was. */
static void test_other_default_warning_as_error(void **state)
{
    (void)state;
    aio_loop *loop = new_loop_at(AIO_PY(3, 9));
    aio_future *other = aio_loop_create_future(loop);
    watch_deprecations(AIO_WARN_ERROR);
    assert_int_equal(aio_loop_set_default_executor(loop, (aio_executor *)other), -1);
    assert_raised(aio_DeprecationWarning, deprecated);
    unwatch_deprecations();
    char name[16] = "";
    aio_future *f = aio_loop_run_in_executor(loop, NULL, thread_name, name, NULL);
    assert_non_null(f);
    aio_loop_run_until_complete(loop, f);
    check_no_exception();
    aio_decref(f);
    assert_string_equal(name, "asyncio_0");
    aio_decref(other);
    join_default_pool(loop);
    finish(loop);
}

static void test_other_default_refused(void **state)
{
    (void)state;
    static const int versions[] = {AIO_PY(3, 11), AIO_PY(3, 13)};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        aio_loop *loop = new_loop_at(versions[i]);
        aio_future *other = aio_loop_create_future(loop);
        assert_int_equal(aio_loop_set_default_executor(loop, (aio_executor *)other), -1);
        assert_raised(aio_TypeError, "executor must be ThreadPoolExecutor instance");
        aio_decref(other);
        finish(loop);
    }
    /* at any version, what is no object at all cannot be kept */
    aio_loop *loop = new_loop_at(AIO_PY(3, 7));
    static long not_an_object[16]; /* aio__is_object() reads a header's worth */
    assert_int_equal(aio_loop_set_default_executor(loop, (aio_executor *)not_an_object), -1);
    assert_raised(aio_TypeError, "executor must be ThreadPoolExecutor instance");
    finish(loop);
}

/* The default pool's threads: ThreadPoolExecutor's own names up to 3.8
 * (cut to 15 bytes by the kernel), "asyncio_N" from 3.9. */
static void test_default_pool_thread_names(void **state)
{
    (void)state;
    static const struct {
        int version;
        const char *prefix;
    } cases[] = {{AIO_PY(3, 7), "ThreadPoolExecu"},
                 {AIO_PY(3, 8), "ThreadPoolExecu"},
                 {AIO_PY(3, 9), "asyncio_0"},
                 {AIO_PY(3, 12), "asyncio_0"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aio_loop *loop = new_loop_at(cases[i].version);
        char name[16] = "";
        aio_future *f = aio_loop_run_in_executor(loop, NULL, thread_name, name, NULL);
        assert_non_null(f);
        aio_loop_run_until_complete(loop, f);
        check_no_exception();
        aio_decref(f);
        assert_string_equal(name, cases[i].prefix);
        join_default_pool(loop);
        finish(loop);
    }
}

/* ThreadPoolExecutor()'s max_workers follows the process default target. */
static void test_default_max_workers(void **state)
{
    (void)state;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus <= 0)
        cpus = 1;
    static const int versions[] = {AIO_PY(3, 6), AIO_PY(3, 7), AIO_PY(3, 8), AIO_PY(3, 13)};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        assert_int_equal(aio_set_target_version(versions[i]), 0);
        aio_executor *pool = aio_thread_pool_executor_new(NULL);
        assert_non_null(pool);
        long expected = versions[i] < AIO_PY(3, 8) ? cpus * 5 : (cpus + 4 > 32 ? 32 : cpus + 4);
        assert_int_equal(aio_executor_max_workers(pool), expected);
        aio_executor_shutdown(pool, true, false);
        aio_decref(pool);
    }
    assert_int_equal(aio_set_target_version(AIO_PY_DEFAULT), 0);
}

/* asyncio.run(): from 3.9 it waits for the default executor's threads
 * (shutdown_default_executor()); 3.8's close() leaves them running. */
static atomic_int slow_done;

static void *slow_job(void *arg)
{
    (void)arg;
    sleep_ms(200);
    atomic_store(&slow_done, 1);
    return NULL;
}

static void *start_slow_job(void *arg)
{
    (void)arg;
    aio_future *f = aio_loop_run_in_executor(aio_get_running_loop(), NULL, slow_job, NULL, NULL);
    assert_non_null(f);
    aio_decref(f);
    return NULL;
}

static void test_run_waits_for_executor(void **state)
{
    (void)state;
    static const struct {
        int version;
        int waited;
    } cases[] = {{AIO_PY(3, 8), 0}, {AIO_PY(3, 9), 1}, {AIO_PY(3, 12), 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        atomic_store(&slow_done, 0);
        assert_int_equal(aio_set_target_version(cases[i].version), 0);
        aio_run(start_slow_job, NULL, NULL);
        check_no_exception();
        assert_int_equal(atomic_load(&slow_done), cases[i].waited);
        while (atomic_load(&slow_done) == 0)
            sleep_ms(10);
        sleep_ms(20); /* the worker ends */
    }
    assert_int_equal(aio_set_target_version(AIO_PY_DEFAULT), 0);
}

static void *sigint_is_default(void *arg)
{
    (void)arg;
    struct sigaction current;
    assert_int_equal(sigaction(SIGINT, NULL, &current), 0);
    return current.sa_handler == SIG_DFL ? P(1) : P(2);
}

static void test_run_sigint(void **state)
{
    (void)state;
    assert_int_equal(aio_set_target_version(AIO_PY(3, 10)), 0);
    assert_ptr_equal(aio_run(sigint_is_default, NULL, NULL), P(1));
    assert_int_equal(aio_set_target_version(AIO_PY(3, 11)), 0);
    assert_ptr_equal(aio_run(sigint_is_default, NULL, NULL), P(2));
    assert_int_equal(aio_set_target_version(AIO_PY_DEFAULT), 0);
    check_no_exception();
}

/* shutdown_default_executor(timeout): a TypeError before 3.12. 3.12 awaits
 * the shutdown, then joins the thread for at most timeout seconds: the
 * thread is done by then, so 0 and -1 give no warning, while NaN and a
 * time past a 64-bit count of nanoseconds fail the join (after the
 * shutdown). 3.13 bounds the wait: a RuntimeWarning, then shutdown(wait=False).
 * Checked beside 3.11.7, 3.12.1 and 3.13.0. */
static int runtime_warned;
static char runtime_warning[256];

static void on_runtime_warning(const aio_exc_type *category, const char *message, void *arg)
{
    (void)arg;
    assert_ptr_equal(category, aio_RuntimeWarning);
    runtime_warned++;
    snprintf(runtime_warning, sizeof runtime_warning, "%s", message);
}

/* Shuts the default pool of a loop that ran one job down with timeout;
 * returns what run_until_complete() gave. */
static void *shutdown_after_job(aio_loop *loop, aio_executor_func job, double timeout)
{
    aio_future *f = aio_loop_run_in_executor(loop, NULL, job, P(1), NULL);
    assert_non_null(f);
    if (job == identity)
        assert_ptr_equal(aio_loop_run_until_complete(loop, f), P(1));
    aio_decref(f);
    f = aio_loop_shutdown_default_executor(
        loop, &(aio_loop_shutdown_default_executor_args){.timeout = timeout});
    if (f == NULL)
        return P(-1);
    void *result = aio_loop_run_until_complete(loop, f);
    aio_decref(f);
    return result;
}

static void test_shutdown_timeout_refused_before_312(void **state)
{
    (void)state;
    aio_loop *loop = new_loop_at(AIO_PY(3, 11));
    assert_null(aio_loop_shutdown_default_executor(
        loop, &(aio_loop_shutdown_default_executor_args){.timeout = 1.0}));
    assert_raised(aio_TypeError, "BaseEventLoop.shutdown_default_executor() got an "
                                 "unexpected keyword argument 'timeout'");
    assert_null(aio_loop_shutdown_default_executor(
        loop, &(aio_loop_shutdown_default_executor_args){.timeout = AIO_NONE}));
    assert_raised(aio_TypeError, NULL);
    finish(loop);
}

static void test_shutdown_timeout_312(void **state)
{
    (void)state;
    static const struct {
        double timeout;
        const aio_exc_type *error;
        const char *message;
    } cases[] = {
        {AIO_NONE, NULL, NULL},
        {AIO_ZERO, NULL, NULL},
        {-1.0, NULL, NULL},
        {-INFINITY, NULL, NULL},
        {9.2e9, NULL, NULL},
        {NAN, aio_ValueError, "Invalid value NaN (not a number)"},
        {INFINITY, aio_OverflowError, "timestamp out of range for platform time_t"},
        {9.3e9, aio_OverflowError, "timestamp out of range for platform time_t"},
    };
    aio_warnings_set_handler(on_runtime_warning, NULL);
    assert_int_equal(aio_warnings_set_action(aio_RuntimeWarning, AIO_WARN_ALWAYS), 0);
    runtime_warned = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aio_loop *loop = new_loop_at(AIO_PY(3, 12));
        assert_null(shutdown_after_job(loop, identity, cases[i].timeout));
        if (cases[i].error == NULL)
            check_no_exception();
        else
            assert_raised(cases[i].error, cases[i].message);
        finish(loop);
    }
    assert_int_equal(runtime_warned, 0);
    unwatch_deprecations();
}

static void test_shutdown_timeout_unused_pool(void **state)
{
    (void)state;
    /* without a default executor nothing looks at timeout (3.12 and 3.13) */
    for (int v = AIO_PY(3, 12); v <= AIO_PY(3, 13); v++) {
        aio_loop *loop = new_loop_at(v);
        aio_future *f = aio_loop_shutdown_default_executor(
            loop, &(aio_loop_shutdown_default_executor_args){.timeout = NAN});
        assert_non_null(f);
        assert_null(aio_loop_run_until_complete(loop, f));
        check_no_exception();
        aio_decref(f);
        finish(loop);
    }
}

static void stop_loop(void *arg)
{
    aio_loop_stop(arg);
}

static void test_shutdown_timeout_313(void **state)
{
    (void)state;
    static const struct {
        double timeout;
        const char *text;
    } cases[] = {{0.05, "0.05"}, {AIO_ZERO, "0"}, {-1.0, "-1"}, {1.5e-3, "0.0015"}};
    aio_warnings_set_handler(on_runtime_warning, NULL);
    assert_int_equal(aio_warnings_set_action(aio_RuntimeWarning, AIO_WARN_ALWAYS), 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        runtime_warned = 0;
        atomic_store(&slow_done, 0);
        aio_loop *loop = new_loop_at(AIO_PY(3, 13));
        assert_null(shutdown_after_job(loop, slow_job, cases[i].timeout));
        check_no_exception();
        assert_int_equal(runtime_warned, 1);
        char expected[128];
        snprintf(expected, sizeof expected,
                 "The executor did not finishing joining its threads within %s seconds.",
                 cases[i].text);
        assert_string_equal(runtime_warning, expected);
        assert_int_equal(atomic_load(&slow_done), 0); /* not waited for */
        /* the pool's thread ends on its own: let the loop see it */
        assert_non_null(aio_loop_call_later(
            loop, &(aio_loop_call_later_args){.delay = 0.4, .callback = stop_loop, .args = loop}));
        assert_int_equal(aio_loop_run_forever(loop), 0);
        assert_int_equal(atomic_load(&slow_done), 1);
        finish(loop);
    }
    /* a pool done in time: no warning; NaN is refused */
    runtime_warned = 0;
    aio_loop *loop = new_loop_at(AIO_PY(3, 13));
    assert_null(shutdown_after_job(loop, identity, 5.0));
    check_no_exception();
    assert_int_equal(runtime_warned, 0);
    finish(loop);
    loop = new_loop_at(AIO_PY(3, 13));
    assert_ptr_equal(shutdown_after_job(loop, identity, NAN), P(-1));
    assert_raised(aio_ValueError, "cannot convert float NaN to integer");
    /* the shutdown goes on: let the loop see it end */
    assert_non_null(aio_loop_call_later(
        loop, &(aio_loop_call_later_args){.delay = 0.1, .callback = stop_loop, .args = loop}));
    assert_int_equal(aio_loop_run_forever(loop), 0);
    finish(loop);
    unwatch_deprecations();
}

/* set_default_executor(None) (spec none_in): up to 3.10 the default is
 * dropped, and the next run_in_executor(None) makes a new pool (3.8 to
 * 3.10 warn first: None is not a ThreadPoolExecutor either); 3.11+:
 * TypeError. Checked beside 3.6.15, 3.8.18, 3.10.13, 3.11.7, 3.13.0. */
static void test_default_none(void **state)
{
    (void)state;
    static const struct {
        int version;
        int deprecations;
        bool refused;
    } cases[] = {{AIO_PY(3, 6), 0, false},  {AIO_PY(3, 7), 0, false}, {AIO_PY(3, 8), 1, false},
                 {AIO_PY(3, 10), 1, false}, {AIO_PY(3, 11), 0, true}, {AIO_PY(3, 13), 0, true}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aio_loop *loop = new_loop_at(cases[i].version);
        aio_future *other = aio_loop_create_future(loop);
        if (!cases[i].refused) {
            watch_deprecations(AIO_WARN_IGNORE);
            assert_int_equal(aio_loop_set_default_executor(loop, (aio_executor *)other), 0);
        }
        watch_deprecations(AIO_WARN_ALWAYS);
        if (cases[i].refused) {
            assert_int_equal(aio_loop_set_default_executor(loop, NULL), -1);
            assert_raised(aio_TypeError, "executor must be ThreadPoolExecutor instance");
        } else {
            assert_int_equal(aio_loop_set_default_executor(loop, NULL), 0);
            check_no_exception();
        }
        assert_int_equal(deprecations, cases[i].deprecations);
        if (cases[i].deprecations)
            assert_string_equal(last_deprecation, deprecated);
        unwatch_deprecations();
        /* the other object is no longer the default: a new pool runs it */
        aio_future *f = aio_loop_run_in_executor(loop, NULL, identity, P(7), NULL);
        assert_non_null(f);
        assert_ptr_equal(aio_loop_run_until_complete(loop, f), P(7));
        aio_decref(f);
        join_default_pool(loop);
        aio_decref(other);
        finish(loop);
    }
    /* closed (3.10): accepted and deprecations all the same; -W error (3.8):
     * raised, the default left as it was */
    aio_loop *loop = new_loop_at(AIO_PY(3, 10));
    aio_loop_close(loop);
    watch_deprecations(AIO_WARN_ALWAYS);
    assert_int_equal(aio_loop_set_default_executor(loop, NULL), 0);
    assert_int_equal(deprecations, 1);
    unwatch_deprecations();
    finish(loop);
    loop = new_loop_at(AIO_PY(3, 8));
    aio_future *other = aio_loop_create_future(loop);
    watch_deprecations(AIO_WARN_IGNORE);
    assert_int_equal(aio_loop_set_default_executor(loop, (aio_executor *)other), 0);
    watch_deprecations(AIO_WARN_ERROR);
    assert_int_equal(aio_loop_set_default_executor(loop, NULL), -1);
    assert_raised(aio_DeprecationWarning, deprecated);
    unwatch_deprecations();
    assert_null(aio_loop_run_in_executor(loop, NULL, identity, NULL, NULL));
    assert_raised(aio_AttributeError, "'Future' object has no attribute 'submit'");
    aio_decref(other);
    finish(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_run_sigint),
    cmocka_unit_test(test_run_waits_for_executor),
    cmocka_unit_test(test_other_default_accepted),
    cmocka_unit_test(test_other_default_warning_as_error),
    cmocka_unit_test(test_other_default_refused),
    cmocka_unit_test(test_default_pool_thread_names),
    cmocka_unit_test(test_default_max_workers),
    cmocka_unit_test(test_shutdown_timeout_refused_before_312),
    cmocka_unit_test(test_shutdown_timeout_312),
    cmocka_unit_test(test_shutdown_timeout_unused_pool),
    cmocka_unit_test(test_shutdown_timeout_313),
    cmocka_unit_test(test_default_none),
};

AIO_TEST_MAIN(tests)
