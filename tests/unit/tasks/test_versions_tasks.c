/* test_versions_tasks.c - futures and tasks by target version:
 * Future.set_exception(StopIteration) refused with TypeError up to 3.12,
 * stored from 3.13 as a RuntimeError whose __cause__ and __context__ are
 * the StopIteration; sleep(nan) sleeping up to 3.12, ValueError from 3.13;
 * wait_for() as 3.7 (cancels without waiting, bare TimeoutError), 3.8
 * (waits, then TimeoutError even when the future gave a result), 3.9 to
 * 3.11 (the result kept, TimeoutError from the CancelledError) and 3.12+
 * (a timeout() scope: a done future without suspending, the deadline
 * cancelling the awaited task an iteration sooner); the CancelledError of
 * a cancelled task, a new one chained by __context__ to the task's own up
 * to 3.10, the task's own from 3.11; an expired timeout() left by another
 * exception, which 3.13 marks with a TimeoutError in its context chain; a
 * TaskGroup whose parent is cancelled from outside while a child fails:
 * 3.13 cancels the parent again after raising the ExceptionGroup. Checked
 * Condition.wait() cancelled while taking the lock back (3.13 raises the
 * last CancelledError again and passes the notification on); a Semaphore
 * released and taken again at once (3.8: the releaser barges in before the
 * waiter it woke; 3.9: a scheduled wake-up makes it wait; from 3.10 the
 * count goes to the waiter, and locked() says so); the custom exception
 * handler run in the task's or handle's context from 3.12 (and failing
 * for a task reporting about itself, its context being entered); a task's
 * repr "cancelling" only while the cancellation is its own to deliver up
 * to 3.10, while cancelling() from 3.11; a task's wakeup callback in a
 * future's repr, <TaskWakeupMethWrapper object at ...> up to 3.9; a lock
 * of another loop refused by the awaiting task up to 3.9 ('Task ... got
 * Future <Future pending> attached to a different loop'), by the lock
 * from 3.10 ('... is bound to a different event loop'); asyncio.run(None)
 * refused before a loop is made up to 3.10; the class of a timeout
 * (wait_for, as_completed, a concurrent future's result() and
 * exception()): concurrent.futures' TimeoutError up to 3.7, asyncio's own
 * from 3.8 (concurrent futures keep theirs), the builtin from 3.11. Checked
 * beside CPython
 * 3.7.16, 3.8.18, 3.9.18, 3.10.13, 3.11.7, 3.12.1 and 3.13.0.
 */
#include <math.h>

#include "test_support.h"

static const char stop_message[] = "StopIteration interacts badly with generators and cannot be "
                                   "raised into a Future";

static void test_set_exception_stop_iteration(void **state)
{
    (void)state;
    static const int refused[] = {AIO_PY(3, 8), AIO_PY(3, 12)};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        aio_loop *loop = new_loop_at(refused[i]);
        aio_future *f = aio_loop_create_future(loop);
        aio_exc *stop = aio_exc_new(aio_StopIteration, NULL);
        assert_int_equal(aio_future_set_exception(f, stop), -1);
        assert_raised(aio_TypeError, stop_message);
        assert_int_equal(aio_future_done(f), 0);
        aio_decref(stop);
        aio_decref(f);
        finish(loop);
    }
    aio_loop *loop = new_loop_at(AIO_PY(3, 13));
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
    aio_loop *loop = new_loop_at(AIO_PY(3, 12));
    assert_null(run_coro(loop, sleep_nan, NULL));
    finish(loop);
    loop = new_loop_at(AIO_PY(3, 13));
    char *text = run_coro(loop, sleep_nan, NULL);
    assert_non_null(text);
    assert_string_equal(text, "ValueError('Invalid delay: NaN (not a number)')");
    free(text);
    finish(loop);
}

/* --- wait_for() ------------------------------------------------------------------------- */

static trace wf_trace;

static void note(void *arg)
{
    trace_add(&wf_trace, "%s;", (const char *)arg);
}
AIO_NAME_CALLBACK(note);

/* A done future: 3.12 gives its result without suspending the task, so a
 * callback scheduled before runs after. */
static void *wait_done_future(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    aio_future *f = aio_loop_create_future(loop);
    aio_future_set_result(f, P(5));
    soon(loop, note, "soon");
    void *r = aio_wait_for(f, 10);
    trace_add(&wf_trace, "got %ld;", (long)(intptr_t)r);
    aio_decref(f);
    assert_int_equal(aio_sleep(0), 0);
    return NULL;
}

static void *sleeper(void *arg)
{
    bool swallow = arg != NULL;
    if (aio_sleep(10) < 0) {
        trace_add(&wf_trace, "inner cancelled;");
        if (swallow) {
            aio_err_clear();
            return P(7);
        }
    }
    return NULL;
}

static void *ticker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 6; i++) {
        trace_add(&wf_trace, "tick%d;", i);
        if (aio_sleep(0) < 0)
            return NULL;
    }
    return NULL;
}

static void start_ticker(void *arg)
{
    (void)arg;
    trace_add(&wf_trace, "timer;");
    aio_task *t = aio_loop_create_task(aio_get_running_loop(),
                                       &(aio_loop_create_task_args){.coro = ticker});
    aio_decref(t);
}
AIO_NAME_CALLBACK(start_ticker);

/* wait_for(task, 0.05), with a ticker started at the same deadline: when
 * the task learns of its cancellation, and what wait_for() raises. */
static void *wait_expiring(void *arg)
{
    aio_loop *loop = aio_get_running_loop();
    aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = sleeper,
                                                                        .coro_arg = arg});
    assert_int_equal(aio_sleep(0), 0);
    at(loop, aio_loop_time(loop) + 0.05, start_ticker, NULL);
    void *r = aio_wait_for((aio_future *)t, 0.05);
    aio_exc *exc = aio_err_fetch();
    if (exc == NULL) {
        trace_add(&wf_trace, "got %ld;", (long)(intptr_t)r);
    } else {
        aio_exc *cause = aio_exc_cause(exc);
        trace_add(&wf_trace, "%s cause=%s;", aio_exc_type_of(exc)->name,
                  cause ? aio_exc_type_of(cause)->name : "None");
        aio_decref(exc);
    }
    for (int i = 0; i < 8; i++)
        aio_sleep(0);
    aio_decref(t);
    return NULL;
}

/* wait_for(task, 0) on a pending task. */
static void *wait_zero(void *arg)
{
    aio_loop *loop = aio_get_running_loop();
    aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = sleeper,
                                                                        .coro_arg = arg});
    assert_int_equal(aio_sleep(0), 0);
    void *r = aio_wait_for((aio_future *)t, 0);
    aio_exc *exc = aio_err_fetch();
    if (exc == NULL) {
        trace_add(&wf_trace, "got %ld;", (long)(intptr_t)r);
    } else {
        aio_exc *cause = aio_exc_cause(exc);
        trace_add(&wf_trace, "%s cause=%s done=%d;", aio_exc_type_of(exc)->name,
                  cause ? aio_exc_type_of(cause)->name : "None", aio_future_done((aio_future *)t));
        aio_decref(exc);
    }
    for (int i = 0; i < 3; i++)
        aio_sleep(0);
    aio_decref(t);
    return NULL;
}

static void run_traced(int version, aio_coroutine coro, void *arg, const char *expected)
{
    aio_loop *loop = new_loop_at(version);
    memset(&wf_trace, 0, sizeof wf_trace);
    run_coro(loop, coro, arg);
    assert_string_equal(wf_trace.text, expected);
    finish(loop);
}

static void test_wait_for_done_future(void **state)
{
    (void)state;
    run_traced(AIO_PY(3, 11), wait_done_future, NULL, "soon;got 5;");
    run_traced(AIO_PY(3, 12), wait_done_future, NULL, "got 5;soon;");
    run_traced(AIO_PY(3, 13), wait_done_future, NULL, "got 5;soon;");
}

static void test_wait_for_deadline(void **state)
{
    (void)state;
    static const char *const old_order = "timer;tick0;tick1;inner cancelled;tick2;tick3;";
    char expected[256];
    snprintf(expected, sizeof expected, "%sTimeoutError cause=None;tick4;tick5;", old_order);
    run_traced(AIO_PY(3, 7), wait_expiring, NULL, expected);
    run_traced(AIO_PY(3, 8), wait_expiring, NULL, expected);
    snprintf(expected, sizeof expected, "%sTimeoutError cause=CancelledError;tick4;tick5;",
             old_order);
    run_traced(AIO_PY(3, 11), wait_expiring, NULL, expected);
    run_traced(AIO_PY(3, 12), wait_expiring, NULL,
               "timer;tick0;inner cancelled;tick1;TimeoutError cause=CancelledError;tick2;tick3;"
               "tick4;tick5;");
    /* a task that answers its cancellation with a result */
    snprintf(expected, sizeof expected, "%sTimeoutError cause=None;tick4;tick5;", old_order);
    run_traced(AIO_PY(3, 8), wait_expiring, P(1), expected);
    snprintf(expected, sizeof expected, "%sgot 7;tick4;tick5;", old_order);
    run_traced(AIO_PY(3, 9), wait_expiring, P(1), expected);
    run_traced(AIO_PY(3, 13), wait_expiring, P(1),
               "timer;tick0;inner cancelled;tick1;got 7;tick2;tick3;tick4;tick5;");
}

static void test_wait_for_zero(void **state)
{
    (void)state;
    run_traced(AIO_PY(3, 7), wait_zero, NULL, "TimeoutError cause=None done=0;inner cancelled;");
    run_traced(AIO_PY(3, 8), wait_zero, NULL,
               "inner cancelled;TimeoutError cause=CancelledError done=1;");
    run_traced(AIO_PY(3, 8), wait_zero, P(1), "inner cancelled;TimeoutError cause=None done=1;");
    run_traced(AIO_PY(3, 11), wait_zero, P(1), "inner cancelled;got 7;");
    run_traced(AIO_PY(3, 12), wait_zero, NULL,
               "inner cancelled;TimeoutError cause=CancelledError done=1;");
}

/* --- The TimeoutError classes ------------------------------------------------------------ */

/* The class each timeout raises, with what tells it apart: its type, its
 * name and repr, whether the builtin TimeoutError catches it, and the last
 * line of its traceback (the module named). */
static void expect_timeout(aio_exc *exc, const aio_exc_type *type, const char *line)
{
    assert_non_null(exc);
    assert_ptr_equal(aio_exc_type_of(exc), type);
    assert_string_equal(aio_exc_type_of(exc)->name, "TimeoutError");
    assert_repr(exc, "TimeoutError()");
    assert_int_equal(aio_exc_isinstance(exc, aio_TimeoutError), type == aio_TimeoutError);
    assert_int_equal(aio_exc_isinstance(exc, aio_OSError), type == aio_TimeoutError);
    assert_true(aio_exc_isinstance(exc, aio_Exception));
    stderr_capture c;
    capture_start(&c);
    aio_err_restore(exc); /* the reference goes with it */
    aio_err_print();
    const char *text = capture_end(&c);
    size_t n = strlen(text), k = strlen(line);
    assert_true(n >= k);
    assert_string_equal(text + n - k, line); /* the last line, whole */
    assert_true(n == k || text[n - k - 1] == '\n');
}

typedef struct timeout_case {
    const aio_exc_type *asyncio_type;   /* wait_for, as_completed */
    const aio_exc_type *futures_type;   /* a concurrent future's result() */
    const char *asyncio_line;
    const char *futures_line;
} timeout_case;

static void *timeouts_of(void *arg)
{
    const timeout_case *tc = arg;
    aio_loop *loop = aio_get_running_loop();
    assert_ptr_equal(aio_asyncio_timeout_error_type(aio_loop_get_target_version(loop)),
                     tc->asyncio_type);

    aio_future *f = aio_loop_create_future(loop);
    assert_null(aio_wait_for(f, 0.01));
    aio_exc *exc = aio_err_fetch();
    expect_timeout(exc, tc->asyncio_type, tc->asyncio_line);
    aio_decref(f);

    f = aio_loop_create_future(loop);
    aio_as_completed_iter *it = aio_as_completed(&f, 1, &(aio_as_completed_args){.timeout = 0.01});
    assert_non_null(it);
    assert_null(aio_as_completed_next(it, NULL));
    expect_timeout(aio_err_fetch(), tc->asyncio_type, tc->asyncio_line);
    aio_decref(it);
    aio_future_cancel(f, NULL);
    aio_decref(f);

    aio_cfuture *cf = aio_cfuture_new();
    assert_non_null(cf);
    assert_null(aio_cfuture_result(cf, 0));
    expect_timeout(aio_err_fetch(), tc->futures_type, tc->futures_line);
    aio_exc *got = NULL;
    assert_int_equal(aio_cfuture_exception(cf, 0.001, &got), -1);
    assert_null(got);
    expect_timeout(aio_err_fetch(), tc->futures_type, tc->futures_line);
    aio_decref(cf);
    return NULL;
}

static void test_timeout_classes(void **state)
{
    (void)state;
    static const char futures_line[] = "concurrent.futures._base.TimeoutError\n";
    static const char builtin_line[] = "TimeoutError\n";
    const timeout_case v37 = {aio_FuturesTimeoutError, aio_FuturesTimeoutError, futures_line,
                              futures_line};
    const timeout_case v310 = {aio_asyncio_TimeoutError, aio_FuturesTimeoutError,
                               "asyncio.exceptions.TimeoutError\n", futures_line};
    const timeout_case v311 = {aio_TimeoutError, aio_TimeoutError, builtin_line, builtin_line};
    struct {
        int version;
        const timeout_case *tc;
    } runs[] = {{AIO_PY(3, 7), &v37},  {AIO_PY(3, 8), &v310},  {AIO_PY(3, 10), &v310},
                {AIO_PY(3, 11), &v311}, {AIO_PY(3, 13), &v311}};
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        aio_loop *loop = new_loop_at(runs[i].version);
        run_coro(loop, timeouts_of, (void *)runs[i].tc);
        finish(loop);
    }
    /* the classes themselves */
    assert_string_equal(aio_asyncio_TimeoutError->module, "asyncio.exceptions");
    assert_ptr_equal(aio_asyncio_TimeoutError->base, aio_Exception);
    assert_string_equal(aio_FuturesTimeoutError->module, "concurrent.futures._base");
    assert_ptr_equal(aio_FuturesTimeoutError->base, aio_FuturesError);
    assert_ptr_equal(aio_asyncio_timeout_error_type(AIO_PY_MICRO(3, 10, 13)),
                     aio_asyncio_TimeoutError);
    assert_ptr_equal(aio_asyncio_timeout_error_type(AIO_PY_MICRO(3, 11, 0)), aio_TimeoutError);
    assert_ptr_equal(aio_asyncio_timeout_error_type(AIO_PY(3, 6)), aio_FuturesTimeoutError);
    /* a concurrent future outside any loop: the process default (3.11) */
    aio_cfuture *cf = aio_cfuture_new();
    assert_non_null(cf);
    assert_null(aio_cfuture_result(cf, 0));
    expect_timeout(aio_err_fetch(), aio_TimeoutError, builtin_line);
    aio_decref(cf);
}

/* --- A cancelled task's CancelledError ---------------------------------------------------- */

static void *cancel_and_await(void *arg)
{
    aio_loop *loop = aio_get_running_loop();
    aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = sleeper});
    assert_int_equal(aio_sleep(0), 0);
    assert_int_equal(aio_task_cancel(t, arg), 1);
    assert_null(aio_await((aio_future *)t));
    aio_exc *exc = aio_err_fetch();
    char a[64], b[64];
    trace_add(&wf_trace, "await %s ctx %s;", repr_copy(exc, a, sizeof a),
              repr_copy(aio_exc_context(exc), b, sizeof b));
    aio_decref(exc);
    for (int i = 0; i < 2; i++) {
        assert_null(aio_future_result((aio_future *)t));
        exc = aio_err_fetch();
        trace_add(&wf_trace, "result %s ctx %s;", repr_copy(exc, a, sizeof a),
                  repr_copy(aio_exc_context(exc), b, sizeof b));
        aio_decref(exc);
    }
    aio_decref(t);
    return NULL;
}

static void test_cancelled_error_chain(void **state)
{
    (void)state;
    /* the task's own CancelledError: "inner cancelled;" then what is seen */
    run_traced(AIO_PY(3, 8), cancel_and_await, NULL,
               "inner cancelled;await CancelledError() ctx None;"
               "result CancelledError() ctx None;result CancelledError() ctx None;");
    run_traced(AIO_PY(3, 10), cancel_and_await, "bye",
               "inner cancelled;await CancelledError() ctx CancelledError('bye');"
               "result CancelledError() ctx CancelledError('bye');"
               "result CancelledError() ctx CancelledError('bye');");
    run_traced(AIO_PY(3, 11), cancel_and_await, "bye",
               "inner cancelled;await CancelledError('bye') ctx None;"
               "result CancelledError() ctx None;result CancelledError() ctx None;");
}

/* --- timeout() left by another exception ----------------------------------------------- */

static void *timeout_then_value_error(void *arg)
{
    (void)arg;
    aio_timeout *to = aio_timeout_after(0.01);
    assert_int_equal(aio_timeout_enter(to), 0);
    assert_int_equal(aio_sleep(10), -1);
    aio_exc *cancelled = aio_err_fetch(); /* except CancelledError: raise ValueError */
    aio_exc *v = aio_exc_new(aio_ValueError, "v");
    aio_exc_set_context(v, cancelled);
    aio_decref(cancelled);
    aio_err_restore(v);
    assert_int_equal(aio_timeout_exit(to), -1);
    aio_decref(to);
    aio_exc *exc = aio_err_fetch();
    aio_exc *c = aio_exc_context(exc);
    char a[64], b[64], d[64], e[64];
    trace_add(&wf_trace, "%s ctx %s ctx %s cause %s;", repr_copy(exc, a, sizeof a),
              repr_copy(c, b, sizeof b), repr_copy(aio_exc_context(c), d, sizeof d),
              repr_copy(aio_exc_cause(c), e, sizeof e));
    aio_decref(exc);
    return NULL;
}

static void test_timeout_marks_other_exception(void **state)
{
    (void)state;
    run_traced(AIO_PY(3, 12), timeout_then_value_error, NULL,
               "ValueError('v') ctx CancelledError() ctx None cause None;");
    run_traced(AIO_PY(3, 13), timeout_then_value_error, NULL,
               "ValueError('v') ctx TimeoutError() ctx CancelledError() cause CancelledError();");
}

/* --- TaskGroup: cancelled from outside, a child failing ----------------------------------- */

static void *failing_child(void *arg)
{
    (void)arg;
    aio_sleep(10);
    aio_err_set(aio_ValueError, "child"); /* finally: raise ValueError */
    return NULL;
}

static void *group_parent(void *arg)
{
    (void)arg;
    aio_task_group *g = aio_task_group_new();
    assert_int_equal(aio_task_group_enter(g), 0);
    aio_task *c = aio_task_group_create_task(g, failing_child, NULL, NULL);
    assert_non_null(c);
    aio_decref(c);
    aio_sleep(10); /* cancelled from outside */
    assert_int_equal(aio_task_group_exit(g), -1);
    aio_exc *exc = aio_err_fetch();
    aio_task *me = aio_current_task(aio_get_running_loop());
    trace_add(&wf_trace, "exit %s %d;", aio_exc_type_of(exc)->name, aio_task_cancelling(me));
    aio_decref(exc);
    aio_decref(g);
    if (aio_sleep(0) == 0) {
        trace_add(&wf_trace, "no cancel;");
    } else {
        trace_add(&wf_trace, "cancelled again %d;", aio_task_cancelling(me));
        aio_err_clear();
    }
    return NULL;
}

static void *cancel_group_parent(void *arg)
{
    (void)arg;
    aio_task *t = aio_loop_create_task(aio_get_running_loop(),
                                       &(aio_loop_create_task_args){.coro = group_parent});
    assert_int_equal(aio_sleep(0), 0);
    aio_task_cancel(t, NULL);
    aio_await((aio_future *)t);
    aio_err_clear();
    aio_decref(t);
    return NULL;
}

static void test_task_group_recancels_parent(void **state)
{
    (void)state;
    run_traced(AIO_PY(3, 12), cancel_group_parent, NULL, "exit ExceptionGroup 1;no cancel;");
    run_traced(AIO_PY(3, 13), cancel_group_parent, NULL,
               "exit ExceptionGroup 1;cancelled again 1;");
}

/* --- Condition.wait() cancelled after a notify() ------------------------------------------ */

static aio_condition *cond;

static void *cond_waiter(void *arg)
{
    const char *name = arg;
    assert_int_equal(aio_condition_acquire(cond), 1);
    if (aio_condition_wait(cond) == 1) {
        trace_add(&wf_trace, "%s woke;", name);
    } else {
        aio_exc *exc = aio_err_fetch();
        char a[64], b[64];
        trace_add(&wf_trace, "%s cancelled %s ctx %s;", name, repr_copy(exc, a, sizeof a),
                  repr_copy(aio_exc_context(exc), b, sizeof b));
        aio_decref(exc);
    }
    aio_condition_release(cond);
    return NULL;
}

static void *notify_then_cancel(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    cond = aio_condition_new(NULL);
    aio_task *w1 = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = cond_waiter, .coro_arg = "w1"});
    aio_task *w2 = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = cond_waiter, .coro_arg = "w2"});
    assert_int_equal(aio_sleep(0), 0);
    assert_int_equal(aio_condition_acquire(cond), 1);
    assert_int_equal(aio_condition_notify(cond, 1), 0);
    aio_task_cancel(w1, "first");
    assert_int_equal(aio_sleep(0), 0);
    aio_task_cancel(w1, "second");
    assert_int_equal(aio_sleep(0), 0);
    aio_condition_release(cond);
    for (int i = 0; i < 5; i++)
        assert_int_equal(aio_sleep(0), 0);
    trace_add(&wf_trace, "w2 done=%d;", aio_future_done((aio_future *)w2));
    aio_task_cancel(w2, NULL);
    for (int i = 0; i < 3; i++)
        assert_int_equal(aio_sleep(0), 0);
    aio_decref(w1);
    aio_decref(w2);
    aio_decref(cond);
    return NULL;
}

static void test_condition_wait_cancelled(void **state)
{
    (void)state;
    run_traced(AIO_PY(3, 12), notify_then_cancel, NULL,
               "w1 cancelled CancelledError() ctx CancelledError('first');w2 done=0;"
               "w2 cancelled CancelledError() ctx None;");
    run_traced(AIO_PY(3, 13), notify_then_cancel, NULL,
               "w1 cancelled CancelledError('second') ctx CancelledError('first');w2 woke;"
               "w2 done=1;");
}

/* --- Semaphore: release() then acquire() at once ----------------------------------------- */

static aio_semaphore *sem;

static void *sem_user(void *arg)
{
    (void)arg;
    assert_int_equal(aio_semaphore_acquire(sem), 1);
    trace_add(&wf_trace, "B in;");
    assert_int_equal(aio_sleep(0), 0);
    trace_add(&wf_trace, "B out;");
    aio_semaphore_release(sem);
    return NULL;
}

static void *sem_barging(void *arg)
{
    (void)arg;
    sem = aio_semaphore_new(1);
    assert_int_equal(aio_semaphore_acquire(sem), 1);
    aio_task *b = aio_loop_create_task(aio_get_running_loop(),
                                       &(aio_loop_create_task_args){.coro = sem_user});
    assert_int_equal(aio_sleep(0), 0);
    aio_semaphore_release(sem); /* wakes B */
    trace_add(&wf_trace, "locked=%d;", aio_semaphore_locked(sem));
    assert_int_equal(aio_semaphore_acquire(sem), 1);
    trace_add(&wf_trace, "main in;");
    assert_int_equal(aio_sleep(0), 0);
    assert_int_equal(aio_sleep(0), 0);
    trace_add(&wf_trace, "main out;");
    aio_semaphore_release(sem);
    aio_await((aio_future *)b);
    check_no_exception();
    aio_decref(b);
    aio_decref(sem);
    return NULL;
}

static void test_semaphore_fairness(void **state)
{
    (void)state;
    run_traced(AIO_PY(3, 8), sem_barging, NULL, "locked=0;main in;main out;B in;B out;");
    run_traced(AIO_PY(3, 9), sem_barging, NULL, "locked=0;B in;B out;main in;main out;");
    run_traced(AIO_PY(3, 10), sem_barging, NULL, "locked=1;B in;B out;main in;main out;");
    run_traced(AIO_PY(3, 13), sem_barging, NULL, "locked=1;B in;B out;main in;main out;");
}

/* --- The custom exception handler's context ----------------------------------------------- */

static aio_contextvar *var;

static void ctx_handler(aio_loop *loop, const aio_exception_context *context, void *arg)
{
    (void)loop;
    (void)arg;
    trace_add(&wf_trace, "handler %s %s;", context->message,
              (const char *)aio_contextvar_get_or(var, "outer"));
}

static void failing_cb(void *arg)
{
    (void)arg;
    aio_contextvar_token *tok = aio_contextvar_set(var, "in-cb");
    aio_decref(tok);
    aio_err_set(aio_ValueError, "boom");
}
AIO_NAME_CALLBACK(failing_cb);

static void *other_task(void *arg)
{
    (void)arg;
    aio_contextvar_token *tok = aio_contextvar_set(var, "other-task");
    aio_decref(tok);
    assert_int_equal(aio_sleep(0), 0);
    return NULL;
}

static void *report_contexts(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    aio_loop_set_exception_handler(loop, ctx_handler, NULL);
    soon(loop, failing_cb, NULL);
    assert_int_equal(aio_sleep(0.01), 0);
    aio_contextvar_token *tok = aio_contextvar_set(var, "task-val");
    aio_decref(tok);
    aio_task *me = aio_current_task(loop);
    log_record rec;
    log_record_start(&rec);
    aio_loop_call_exception_handler(
        loop, &(aio_exception_context){.message = "from task", .task = me});
    log_record_stop();
    if (rec.count > 0)
        trace_add(&wf_trace, "logged %s %s;", rec.message, rec.exc);
    aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = other_task});
    aio_await((aio_future *)t);
    aio_loop_call_exception_handler(
        loop, &(aio_exception_context){.message = "other task", .task = t});
    aio_decref(t);
    return NULL;
}

static void test_handler_context(void **state)
{
    (void)state;
    var = aio_contextvar_new("v");
    aio_loop *loop = new_loop_at(AIO_PY(3, 11));
    memset(&wf_trace, 0, sizeof wf_trace);
    run_coro(loop, report_contexts, NULL);
    close_loop(loop);
    assert_string_equal(wf_trace.text,
                        "handler Exception in callback failing_cb() outer;handler from task "
                        "task-val;handler other task task-val;");
    memset(&wf_trace, 0, sizeof wf_trace);
    loop = new_loop_at(AIO_PY(3, 12));
    run_coro(loop, report_contexts, NULL);
    close_loop(loop);
    assert_memory_equal(wf_trace.text,
                        "handler Exception in callback failing_cb() in-cb;"
                        "logged Unhandled error in exception handler",
                        strlen("handler Exception in callback failing_cb() in-cb;"
                               "logged Unhandled error in exception handler"));
    assert_non_null(strstr(wf_trace.text, "RuntimeError('cannot enter context: "));
    assert_non_null(strstr(wf_trace.text, ";handler other task other-task;"));
    aio_decref(var);
    assert_no_leaks();
}

/* --- "cancelling" in a task's repr ---------------------------------------------------------- */

static void *repr_states(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = sleeper});
    aio_task *t2 = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = sleeper});
    assert_int_equal(aio_sleep(0), 0);
    aio_task_cancel(t, NULL); /* handed to the future it awaits */
    char *r = aio_repr(t);
    trace_add(&wf_trace, "%.13s;", r);
    free(r);
    aio_decref(t2);
    t2 = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = sleeper});
    aio_task_cancel(t2, NULL); /* not started: its own to deliver */
    r = aio_repr(t2);
    trace_add(&wf_trace, "%.16s;", r);
    free(r);
    for (int i = 0; i < 3; i++)
        aio_sleep(0);
    aio_decref(t);
    aio_decref(t2);
    aio_err_clear();
    return NULL;
}

static void test_task_repr_cancelling(void **state)
{
    (void)state;
    run_traced(AIO_PY(3, 10), repr_states, NULL,
               "<Task pending;<Task cancelling;inner cancelled;");
    run_traced(AIO_PY(3, 11), repr_states, NULL,
               "<Task cancell;<Task cancelling;inner cancelled;");
}

/* --- wait() of nothing --------------------------------------------------------------------- */

static void *wait_nothing(void *arg)
{
    (void)arg;
    aio_wait_result res;
    assert_int_equal(aio_wait(NULL, 0, NULL, &res), -1);
    aio_exc *exc = aio_err_fetch();
    trace_add(&wf_trace, "%s;", aio_exc_str(exc));
    aio_decref(exc);
    return NULL;
}

static void test_wait_empty(void **state)
{
    (void)state;
    run_traced(AIO_PY(3, 8), wait_nothing, NULL, "Set of coroutines/Futures is empty.;");
    run_traced(AIO_PY(3, 10), wait_nothing, NULL, "Set of coroutines/Futures is empty.;");
    run_traced(AIO_PY(3, 11), wait_nothing, NULL, "Set of Tasks/Futures is empty.;");
}

/* --- a Task's wakeup in a future's repr ------------------------------------------------- */

static void *await_it(void *arg)
{
    aio_await(arg);
    return NULL;
}

static void *wakeup_repr(void *arg)
{
    (void)arg;
    aio_future *fut = aio_loop_create_future(aio_get_running_loop());
    assert_non_null(fut);
    aio_task *t = aio_create_task(await_it, fut, NULL);
    assert_non_null(t);
    assert_int_equal(aio_sleep(0), 0);
    char *r = aio_repr(fut);
    char wrapper[80];
    snprintf(wrapper, sizeof wrapper, "<TaskWakeupMethWrapper object at %p>", (void *)t);
    trace_add(&wf_trace, "%s;", strcmp(r, "<Future pending cb=[Task.task_wakeup()]>") == 0 ? "task_wakeup"
                                : strstr(r, wrapper) != NULL && strncmp(r, "<Future pending cb=[<", 21) == 0
                                    ? "wrapper" : r);
    free(r);
    assert_int_equal(aio_future_set_result(fut, NULL), 0);
    assert_null(aio_await(t));
    aio_decref(t);
    aio_decref(fut);
    return NULL;
}

static void test_wakeup_repr(void **state)
{
    (void)state;
    run_traced(AIO_PY(3, 8), wakeup_repr, NULL, "wrapper;");
    run_traced(AIO_PY(3, 9), wakeup_repr, NULL, "wrapper;");
    run_traced(AIO_PY(3, 10), wakeup_repr, NULL, "task_wakeup;");
}

/* --- asyncio.run(None) ------------------------------------------------------------------ */

static void *task_number(void *arg)
{
    (void)arg;
    const char *name = aio_task_get_name(aio_current_task(NULL));
    assert_non_null(name);
    assert_memory_equal(name, "Task-", 5);
    return P(atol(name + 5));
}

/* Up to 3.10 run() refuses None before it makes a loop; 3.11's Runner
 * makes one first and shuts it down (two more Task numbers: the shutdown
 * steps). */
static void test_run_none(void **state)
{
    (void)state;
    static const struct {
        int version;
        long step;
    } cases[] = {{AIO_PY(3, 9), 3}, {AIO_PY(3, 10), 3}, {AIO_PY(3, 11), 5}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(aio_set_target_version(cases[i].version), 0);
        long first = (long)(intptr_t)aio_run(task_number, NULL, NULL);
        check_no_exception();
        assert_null(aio_run(NULL, NULL, NULL));
        assert_raised(aio_ValueError, "a coroutine was expected, got None");
        long second = (long)(intptr_t)aio_run(task_number, NULL, NULL);
        check_no_exception();
        assert_int_equal(second - first, cases[i].step);
    }
    assert_int_equal(aio_set_target_version(AIO_PY_DEFAULT), 0);
    assert_no_leaks();
}

/* --- a Lock bound to another loop ------------------------------------------------------ */

static void *take_lock(void *arg)
{
    assert_int_equal(aio_lock_acquire(arg), 1);
    return NULL;
}

/* Takes the lock, and has a task wait for it (which binds it to this loop)
 * and take it. */
static void *bind_lock(void *arg)
{
    assert_int_equal(aio_lock_acquire(arg), 1);
    aio_task *t = aio_create_task(take_lock, arg, NULL);
    assert_non_null(t);
    assert_int_equal(aio_sleep(0), 0);
    assert_int_equal(aio_lock_release(arg), 0);
    assert_null(aio_await(t));
    check_no_exception();
    aio_decref(t);
    return NULL;
}

static void *take_lock_elsewhere(void *arg)
{
    assert_int_equal(aio_lock_acquire(arg), -1);
    aio_exc *exc = aio_err_fetch();
    const char *s = aio_exc_str(exc);
    static const char tail[] = " got Future <Future pending> attached to a different loop";
    bool old = strncmp(s, "Task <Task pending ", 19) == 0 && strlen(s) > strlen(tail) &&
               strcmp(s + strlen(s) - strlen(tail), tail) == 0;
    bool new = strstr(s, "[locked]> is bound to a different event loop") != NULL;
    trace_add(&wf_trace, "%s %s;", aio_exc_type_of(exc) == aio_RuntimeError ? "RuntimeError" : "?",
              old ? "task got future" : new ? "bound" : s);
    aio_decref(exc);
    return NULL;
}

static void test_lock_of_another_loop(void **state)
{
    (void)state;
    static const struct {
        int version;
        const char *expected;
    } cases[] = {{AIO_PY(3, 8), "RuntimeError task got future;"},
                 {AIO_PY(3, 9), "RuntimeError task got future;"},
                 {AIO_PY(3, 10), "RuntimeError bound;"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aio_lock *lock = aio_lock_new();
        aio_loop *first = new_loop_at(cases[i].version), *second = new_loop_at(cases[i].version);
        memset(&wf_trace, 0, sizeof wf_trace);
        run_coro(first, bind_lock, lock);
        run_coro(second, take_lock_elsewhere, lock);
        assert_string_equal(wf_trace.text, cases[i].expected);
        assert_true(aio_lock_locked(lock));
        aio_decref(lock);
        close_loop(first);
        finish(second);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_run_none),
    cmocka_unit_test(test_wakeup_repr),
    cmocka_unit_test(test_lock_of_another_loop),
    cmocka_unit_test(test_wait_empty),
    cmocka_unit_test(test_task_repr_cancelling),
    cmocka_unit_test(test_handler_context),
    cmocka_unit_test(test_semaphore_fairness),
    cmocka_unit_test(test_condition_wait_cancelled),
    cmocka_unit_test(test_task_group_recancels_parent),
    cmocka_unit_test(test_timeout_marks_other_exception),
    cmocka_unit_test(test_cancelled_error_chain),
    cmocka_unit_test(test_wait_for_done_future),
    cmocka_unit_test(test_wait_for_deadline),
    cmocka_unit_test(test_wait_for_zero),
    cmocka_unit_test(test_timeout_classes),
    cmocka_unit_test(test_set_exception_stop_iteration),
    cmocka_unit_test(test_sleep_nan),
};

AIO_TEST_MAIN(tests)
