/* test_taskgroups.c - asyncio.TaskGroup (taskgroups.py, 3.11): results,
 * the first failure cancelling the rest and the parent, the ExceptionGroup
 * and its order, base errors, the parent's cancellation (uncancel), the
 * misuse messages, a parent that finished before its group, 10^4 tasks,
 * memory errors.
 *
 * Expected behaviour and messages were read from CPython 3.11.7.
 */
#include "test_support.h"

#include "future.h"
#include "loop.h"

typedef struct child_args {
    double delay;
    const aio_exc_type *fail;   /* raised after the sleep */
    int *cancelled;             /* counts the CancelledErrors seen */
    int *done;                  /* counts the returns */
} child_args;

static void *child(void *arg)
{
    child_args *c = arg;
    if (aio_sleep(c->delay) < 0) {
        if (c->cancelled != NULL && aio_err_matches(aio_CancelledError))
            (*c->cancelled)++;
        return NULL;
    }
    if (c->fail != NULL) {
        aio_err_set(c->fail, "child");
        return NULL;
    }
    if (c->done != NULL)
        (*c->done)++;
    return P(7);
}
AIO_NAME_CALLBACK(child);

static aio_task_group *entered_group(void)
{
    aio_task_group *g = aio_task_group_new();
    assert_non_null(g);
    assert_int_equal(aio_task_group_enter(g), 0);
    return g;
}

static void spawn(aio_task_group *g, child_args *c)
{
    aio_task *t = aio_task_group_create_task(g, child, c, NULL);
    assert_non_null(t);
    aio_decref(t);
}

/* --- results and failures -------------------------------------------------------- */

static void *results_coro(void *arg)
{
    (void)arg;
    int done = 0;
    aio_task_group *g = entered_group();
    child_args c = {.delay = 0.001, .done = &done};
    aio_task *a = aio_task_group_create_task(g, child, &c, NULL);
    aio_task *b = aio_task_group_create_task(g, child, &c,
                                             &(aio_task_group_create_task_args){.name = "bee"});
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(aio_task_get_name(b), "bee");
    assert_repr(g, "<TaskGroup tasks=2 entered>");
    assert_int_equal(aio_task_group_exit(g), 0);
    assert_int_equal(done, 2);
    assert_ptr_equal(aio_future_result(a), P(7));
    assert_ptr_equal(aio_future_result(b), P(7));
    assert_repr(g, "<TaskGroup entered>");
    aio_decref(a);
    aio_decref(b);
    aio_decref(g);

    /* an empty group */
    g = entered_group();
    assert_int_equal(aio_task_group_exit(g), 0);
    aio_decref(g);
    return P(1);
}
AIO_NAME_CALLBACK(results_coro);

static void test_results(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_ptr_equal(run_coro(loop, results_coro, NULL), P(1));
    finish(loop);
}

static void *failure_coro(void *arg)
{
    (void)arg;
    aio_task *me = aio_current_task(NULL);
    int cancelled = 0;
    aio_task_group *g = entered_group();
    child_args slow = {.delay = 3600, .cancelled = &cancelled};
    child_args bad = {.delay = 0.001, .fail = aio_ValueError};
    spawn(g, &slow);
    spawn(g, &bad);
    spawn(g, &slow);
    /* the failure cancels the body */
    assert_int_equal(aio_sleep(3600), -1);
    assert_true(aio_err_matches(aio_CancelledError));
    assert_int_equal(aio_task_cancelling(me), 1);
    assert_int_equal(aio_task_group_exit(g), -1);
    assert_int_equal(cancelled, 2);
    aio_exc *eg = aio_err_fetch();
    assert_ptr_equal(aio_exc_type_of(eg), aio_ExceptionGroup);
    assert_string_equal(aio_exc_str(eg), "unhandled errors in a TaskGroup (1 sub-exception)");
    size_t n;
    aio_exc *const *excs = aio_exc_group_exceptions(eg, &n);
    assert_int_equal(n, 1);
    assert_ptr_equal(aio_exc_type_of(excs[0]), aio_ValueError);
    /* the cancellation of the body was the group's: taken back */
    assert_int_equal(aio_task_cancelling(me), 0);
    aio_decref(eg);
    aio_decref(g);

    /* the body's error comes last, after the tasks' */
    g = entered_group();
    child_args now = {.delay = 0, .fail = aio_KeyError};
    spawn(g, &now);
    int slept = 0;
    while (slept < 10 && aio_sleep(0) == 0)
        slept++;
    assert_true(slept < 10);
    assert_raised(aio_CancelledError, NULL); /* the group cancelled the body */
    aio_err_set(aio_ZeroDivisionError, "body");
    assert_int_equal(aio_task_group_exit(g), -1);
    eg = aio_err_fetch();
    excs = aio_exc_group_exceptions(eg, &n);
    assert_int_equal(n, 2);
    assert_ptr_equal(aio_exc_type_of(excs[0]), aio_KeyError);
    assert_ptr_equal(aio_exc_type_of(excs[1]), aio_ZeroDivisionError);
    assert_string_equal(aio_exc_str(eg), "unhandled errors in a TaskGroup (2 sub-exceptions)");
    aio_decref(eg);
    aio_decref(g);
    return P(1);
}
AIO_NAME_CALLBACK(failure_coro);

static void test_first_failure_cancels(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_ptr_equal(run_coro(loop, failure_coro, NULL), P(1));
    finish(loop);
}

/* A body failing with a BaseException that is not an Exception group
 * material: BaseExceptionGroup when not every error is an Exception. */
static void *base_coro(void *arg)
{
    (void)arg;
    int cancelled = 0;
    aio_task_group *g = entered_group();
    child_args slow = {.delay = 3600, .cancelled = &cancelled};
    spawn(g, &slow);
    assert_int_equal(aio_sleep(0), 0); /* the child starts */
    aio_err_set(aio_SystemExit, NULL);
    assert_int_equal(aio_task_group_exit(g), -1);
    assert_raised(aio_SystemExit, NULL);
    assert_int_equal(cancelled, 1);
    aio_decref(g);

    g = entered_group();
    aio_err_set(aio_GeneratorExit, NULL);
    assert_int_equal(aio_task_group_exit(g), -1);
    aio_exc *eg = aio_err_fetch();
    assert_ptr_equal(aio_exc_type_of(eg), aio_BaseExceptionGroup);
    aio_decref(eg);
    aio_decref(g);
    return P(1);
}
AIO_NAME_CALLBACK(base_coro);

static void test_base_errors(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_ptr_equal(run_coro(loop, base_coro, NULL), P(1));
    finish(loop);
}

/* A child's KeyboardInterrupt ends the loop run, as asyncio's does. */
static void *ki_child(void *arg)
{
    (void)arg;
    if (aio_sleep(0) < 0)
        return NULL;
    aio_err_set(aio_KeyboardInterrupt, NULL);
    return NULL;
}
AIO_NAME_CALLBACK(ki_child);

static void *ki_main(void *arg)
{
    (void)arg;
    aio_task_group *g = entered_group();
    aio_decref(aio_task_group_create_task(g, ki_child, NULL, NULL));
    int cancelled = 0;
    child_args slow = {.delay = 3600, .cancelled = &cancelled};
    spawn(g, &slow);
    aio_sleep(1);
    aio_task_group_exit(g);
    aio_decref(g);
    return NULL;
}
AIO_NAME_CALLBACK(ki_main);

static void test_child_keyboard_interrupt(void **state)
{
    (void)state;
    assert_null(aio_run(ki_main, NULL, NULL));
    assert_raised(aio_KeyboardInterrupt, NULL);
    assert_no_leaks();
}

/* --- the parent's cancellation -------------------------------------------------------- */

static void *victim(void *arg)
{
    int *cancelled = arg;
    aio_task_group *g = entered_group();
    child_args slow = {.delay = 3600, .cancelled = cancelled};
    spawn(g, &slow);
    spawn(g, &slow);
    aio_sleep(3600);
    int rc = aio_task_group_exit(g);
    aio_decref(g);
    assert_int_equal(rc, -1);
    assert_true(aio_err_matches(aio_CancelledError));
    assert_int_equal(aio_task_cancelling(aio_current_task(NULL)), 1);
    return NULL;
}
AIO_NAME_CALLBACK(victim);

static void *waiter_victim(void *arg)
{
    int *cancelled = arg;
    aio_task_group *g = entered_group();
    child_args slow = {.delay = 3600, .cancelled = cancelled};
    spawn(g, &slow);
    /* cancelled while the exit waits: the exit cancels the tasks */
    int rc = aio_task_group_exit(g);
    aio_decref(g);
    assert_int_equal(rc, -1);
    assert_true(aio_err_matches(aio_CancelledError));
    return NULL;
}
AIO_NAME_CALLBACK(waiter_victim);

static void test_parent_cancelled_from_outside(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_coroutine coros[] = {victim, waiter_victim};
    for (int i = 0; i < 2; i++) {
        int cancelled = 0;
        aio_task *t = aio_loop_create_task(
            loop, &(aio_loop_create_task_args){.coro = coros[i], .coro_arg = &cancelled});
        run_one_iteration(loop);
        run_one_iteration(loop);
        assert_int_equal(aio_task_cancel(t, "outside"), 1);
        run_until_future_done(loop, t);
        assert_int_equal(aio_future_cancelled(t), 1);
        assert_int_equal(cancelled, i == 0 ? 2 : 1);
        aio_decref(t);
    }
    finish(loop);
}

/* --- misuse ---------------------------------------------------------------------------- */

static void *misuse_coro(void *arg)
{
    (void)arg;
    aio_task_group *g = aio_task_group_new();
    assert_null(aio_task_group_create_task(g, child, NULL, NULL));
    assert_raised(aio_RuntimeError, "TaskGroup <TaskGroup> has not been entered");
    assert_int_equal(aio_task_group_enter(g), 0);
    assert_int_equal(aio_task_group_enter(g), -1);
    assert_raised(aio_RuntimeError, "TaskGroup <TaskGroup entered> has already been entered");
    assert_null(aio_task_group_create_task(g, NULL, NULL, NULL));
    assert_raised(aio_TypeError, "a coroutine was expected, got None");
    assert_int_equal(aio_task_group_exit(g), 0);
    assert_null(aio_task_group_create_task(g, child, NULL, NULL));
    assert_raised(aio_RuntimeError, "TaskGroup <TaskGroup entered> is finished");
    aio_decref(g);

    g = entered_group();
    aio_err_set(aio_ValueError, "body");
    child_args slow = {.delay = 3600};
    spawn(g, &slow);
    /* exit with the body's error: the group aborts while it waits */
    assert_int_equal(aio_task_group_exit(g), -1);
    assert_raised(aio_ExceptionGroup, NULL);
    assert_repr(g, "<TaskGroup cancelling>");
    assert_null(aio_task_group_create_task(g, child, NULL, NULL));
    assert_raised(aio_RuntimeError, "TaskGroup <TaskGroup cancelling> is finished");
    aio_decref(g);
    return P(1);
}
AIO_NAME_CALLBACK(misuse_coro);

static void test_misuse(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_ptr_equal(run_coro(loop, misuse_coro, NULL), P(1));

    /* no loop, no task, no group */
    aio_task_group *g = aio_task_group_new();
    assert_int_equal(aio_task_group_enter(g), -1);
    assert_raised(aio_RuntimeError, "no running event loop");
    assert_int_equal(aio_task_group_exit(g), -1);
    assert_raised(aio_RuntimeError, "aio_task_group_exit() must be called from inside a task");
    aio_decref(g);
    assert_int_equal(aio_task_group_enter(NULL), -1);
    assert_raised(aio_TypeError, NULL);
    assert_null(aio_task_group_create_task(NULL, child, NULL, NULL));
    assert_raised(aio_TypeError, NULL);
    aio_err_set(aio_MemoryError, NULL);
    assert_int_equal(aio_task_group_exit(NULL), -1);
    assert_raised(aio_MemoryError, NULL);
    finish(loop);
}

/* --- a parent that finished first --------------------------------------------------------- */

static aio_task_group *orphaned;

static void *deserter(void *arg)
{
    (void)arg;
    orphaned = entered_group();
    child_args *bad = calloc(1, sizeof *bad);
    bad->delay = 0.001;
    bad->fail = aio_ValueError;
    spawn(orphaned, bad);
    return bad; /* returns without the exit */
}
AIO_NAME_CALLBACK(deserter);

static void test_parent_done_first(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    handler_report r = {0};
    aio_loop_set_exception_handler(loop, report_handler, &r);
    void *bad = run_coro(loop, deserter, NULL);
    aio_decref(orphaned);
    aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = 0.01, .callback = stop_cb,
                                                          .args = loop});
    run(loop);
    assert_int_equal(r.calls, 1);
    assert_non_null(strstr(r.message, "has errored out but its parent task"));
    assert_non_null(strstr(r.message, "is already completed"));
    assert_true(r.has_task);
    free(bad);
    finish(loop);
}

/* --- scale ------------------------------------------------------------------------------ */

#define MANY 10000

static void *many_coro(void *arg)
{
    int mode = *(int *)arg;
    int done = 0, cancelled = 0;
    child_args ok = {.delay = 0, .done = &done, .cancelled = &cancelled};
    child_args slow = {.delay = 3600, .cancelled = &cancelled};
    child_args bad = {.delay = 0, .fail = aio_ValueError};
    aio_task_group *g = entered_group();
    for (int i = 0; i < MANY; i++)
        spawn(g, mode == 0 ? &ok : mode == 1 ? (i == MANY / 2 ? &bad : &slow) : &bad);
    int rc = aio_task_group_exit(g);
    aio_decref(g);
    if (mode == 0) {
        assert_int_equal(rc, 0);
        assert_int_equal(done, MANY);
        return P(1);
    }
    assert_int_equal(rc, -1);
    aio_exc *eg = aio_err_fetch();
    size_t n;
    aio_exc *const *excs = aio_exc_group_exceptions(eg, &n);
    assert_int_equal(n, mode == 1 ? 1 : MANY);
    assert_ptr_equal(aio_exc_type_of(excs[n - 1]), aio_ValueError);
    if (mode == 1)
        assert_int_equal(cancelled, MANY - 1);
    aio_decref(eg);
    /* the group cancelled the parent while its exit waited: 3.11.7 leaves
     * that cancellation counted */
    assert_int_equal(aio_task_cancelling(aio_current_task(NULL)), 1);
    aio_task_uncancel(aio_current_task(NULL));
    return P(1);
}
AIO_NAME_CALLBACK(many_coro);

static void test_many(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    for (int mode = 0; mode < 3; mode++)
        assert_ptr_equal(run_coro(loop, many_coro, &mode), P(1));
    finish(loop);
}

/* --- out of memory ---------------------------------------------------------------------- */

static void *oom_coro(void *arg)
{
    (void)arg;
    aio_task_group *g = entered_group();
    child_args ok = {.delay = 0};
    /* each allocation of create_task fails in turn; the group stays usable */
    for (long k = 0; k < 8; k++) {
        aio__fail_alloc_after = k;
        aio_task *t = aio_task_group_create_task(g, child, &ok, NULL);
        aio__fail_alloc_after = -1;
        if (t == NULL)
            assert_raised(aio_MemoryError, NULL);
        else
            aio_decref(t);
    }
    assert_int_equal(aio_task_group_exit(g), 0);
    aio_decref(g);
    aio__fail_alloc_after = 0;
    g = aio_task_group_new();
    aio__fail_alloc_after = -1;
    assert_null(g);
    assert_raised(aio_MemoryError, NULL);
    return P(1);
}
AIO_NAME_CALLBACK(oom_coro);

static void test_out_of_memory(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_ptr_equal(run_coro(loop, oom_coro, NULL), P(1));
    finish(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_results),
    cmocka_unit_test(test_first_failure_cancels),
    cmocka_unit_test(test_base_errors),
    cmocka_unit_test(test_child_keyboard_interrupt),
    cmocka_unit_test(test_parent_cancelled_from_outside),
    cmocka_unit_test(test_misuse),
    cmocka_unit_test(test_parent_done_first),
    cmocka_unit_test(test_many),
    cmocka_unit_test(test_out_of_memory),
};

AIO_TEST_MAIN(tests)
