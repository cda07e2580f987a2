/* test_wait.c - the coroutines that wait: asyncio.sleep(), wait_for(),
 * wait(), and the timeout() scope (tasks.py and timeouts.py, 3.11).
 *
 * Expected behaviour was checked against CPython 3.11.7: sleep(0) is one
 * bare yield (exactly one loop iteration), a cancelled sleep cancels its
 * timer, wait_for() cancels the inner future and waits for it before
 * raising TimeoutError from the CancelledError (or returns a result the
 * inner produced anyway), wait()'s three return_when modes, and the
 * timeout scope's state machine and its cooperation with outer
 * cancellations (Task.uncancel()).
 */
#include <math.h>

#include "test_support.h"

#include "future.h"
#include "loop.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

/* --- Helpers ------------------------------------------------------------------- */

/* What a child task does: sleep `delay`, then return `result` or raise. */
typedef struct job {
    double delay;
    void *result;
    aio_exc *raise;         /* raised as is (the job keeps its reference) */
    bool swallow;           /* on CancelledError: sleep(0), return swallowed */
    void *swallowed;
    int cancelled;          /* how many CancelledErrors it saw */
} job;

static void *job_coro(void *arg)
{
    job *j = arg;
    if (aio_sleep(j->delay) < 0) {
        if (aio_err_matches(aio_CancelledError))
            j->cancelled++;
        if (!j->swallow)
            return NULL;
        aio_err_clear();
        if (aio_sleep(0) < 0)
            return NULL;
        return j->swallowed;
    }
    if (j->raise != NULL) {
        aio_err_set_exc(j->raise);
        return NULL;
    }
    return j->result;
}
AIO_NAME_CALLBACK(job_coro);

static aio_task *spawn(aio_loop *loop, job *j)
{
    aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = job_coro,
                                                                          .coro_arg = j});
    assert_non_null(t);
    return t;
}

/* Timers in the loop's heap that are still live (not cancelled). */
static size_t live_timers(aio_loop *loop)
{
    size_t n = 0;
    for (size_t i = 0; i < loop->timers_len; i++)
        n += !aio_handle_cancelled(loop->timers[i].handle);
    return n;
}

/* The current exception is TimeoutError() raised from a CancelledError
 * inside `except CancelledError`: the CancelledError is both its
 * __cause__ and its __context__. */
static void assert_timeout_from_cancelled(void)
{
    aio_exc *exc = aio_err_occurred();
    assert_non_null(exc);
    assert_ptr_equal(aio_exc_type_of(exc), aio_TimeoutError);
    assert_null(aio_exc_message(exc));
    aio_exc *cause = aio_exc_cause(exc);
    assert_non_null(cause);
    assert_ptr_equal(aio_exc_type_of(cause), aio_CancelledError);
    assert_ptr_equal(aio_exc_context(exc), cause);
    assert_raised(aio_TimeoutError, NULL);
}

static void mark(void *arg)
{
    trace_add(arg, "cb;");
}
AIO_NAME_CALLBACK(mark);

/* --- sleep ----------------------------------------------------------------------- */

static void *sleep_zero_coro(void *arg)
{
    trace *log = arg;
    trace_add(log, "a;");
    soon(aio_get_running_loop(), mark, log);
    assert_int_equal(aio_sleep(0), 0); /* the callback runs before we resume */
    trace_add(log, "b;");
    assert_int_equal(aio_sleep(-1), 0); /* negative: the same bare yield */
    trace_add(log, "c;");
    return P(1);
}
AIO_NAME_CALLBACK(sleep_zero_coro);

static void test_sleep_zero_one_iteration(void **state)
{
    (void)state;
    trace log;
    aio_loop *loop = new_traced_loop(&log);
    aio_task *t = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = sleep_zero_coro, .coro_arg = &log});
    run_one_iteration(loop);
    check_no_exception();
    assert_string_equal(log.text, "a;");
    assert_int_equal(loop->timers_len, 0); /* no timer for sleep(0) */
    run_one_iteration(loop);
    check_no_exception();
    assert_string_equal(log.text, "a;cb;b;");
    run_one_iteration(loop);
    check_no_exception();
    assert_string_equal(log.text, "a;cb;b;c;");
    assert_int_equal(aio_future_done(t), 1);
    assert_ptr_equal(aio_future_result(t), P(1));
    aio_decref(t);
    finish(loop);
}

typedef struct sleep_case {
    double delay;
    int rc;
    bool cancelled;
    double elapsed;
} sleep_case;

static void *sleep_coro(void *arg)
{
    sleep_case *s = arg;
    aio_loop *loop = aio_get_running_loop();
    double start = aio_loop_time(loop);
    s->rc = aio_sleep(s->delay);
    s->elapsed = aio_loop_time(loop) - start;
    s->cancelled = aio_err_matches(aio_CancelledError);
    return s->rc == 0 ? P(1) : NULL;
}
AIO_NAME_CALLBACK(sleep_coro);

static void test_sleep_positive_delay(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    sleep_case s = {.delay = 0.05};
    assert_ptr_equal(run_coro(loop, sleep_coro, &s), P(1));
    assert_int_equal(s.rc, 0);
    assert_true(s.elapsed >= 0.045);
    assert_true(s.elapsed < 1.0);
    assert_int_equal(live_timers(loop), 0);
    finish(loop);
}

static void test_sleep_cancelled(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    sleep_case s = {.delay = 10};
    aio_task *t = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = sleep_coro, .coro_arg = &s});
    run_one_iteration(loop);
    check_no_exception();
    /* the sleep's timer: loop.call_later(10, ...) */
    assert_int_equal(loop->timers_len, 1);
    aio_handle *timer = aio_incref(loop->timers[0].handle);
    assert_int_equal(aio_handle_cancelled(timer), 0);
    assert_true(aio_timer_handle_when(timer) > aio_loop_time(loop) + 9);

    assert_int_equal(aio_task_cancel(t, NULL), 1);
    run_one_iteration(loop);
    check_no_exception();
    assert_int_equal(s.rc, -1);
    assert_true(s.cancelled);
    /* finally: h.cancel() */
    assert_int_equal(aio_handle_cancelled(timer), 1);
    assert_int_equal(aio_future_cancelled(t), 1);
    aio_decref(timer);
    aio_decref(t);
    finish(loop);
}

/* --- wait_for ------------------------------------------------------------------------ */

typedef struct wait_for_case {
    aio_future *inner;
    double timeout;
    void *result;
    aio_exc *exc;           /* what wait_for() raised (a reference) */
    bool inner_done;        /* when wait_for() returned */
    bool inner_cancelled;
    size_t live_timers;     /* when wait_for() returned */
} wait_for_case;

static void *wait_for_coro(void *arg)
{
    wait_for_case *w = arg;
    w->result = aio_wait_for(w->inner, w->timeout);
    w->exc = aio_err_fetch();
    w->inner_done = aio_future_done(w->inner) == 1;
    w->inner_cancelled = aio_future_cancelled(w->inner) == 1;
    w->live_timers = live_timers(aio_get_running_loop());
    if (w->exc != NULL) {
        aio_err_set_exc(w->exc);
        return NULL;
    }
    return P(1);
}
AIO_NAME_CALLBACK(wait_for_coro);

static void test_wait_for_success(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    job j = {.delay = 0.01, .result = P(7)};
    wait_for_case w = {.inner = spawn(loop, &j), .timeout = 1.0};
    assert_ptr_equal(run_coro(loop, wait_for_coro, &w), P(1));
    assert_ptr_equal(w.result, P(7));
    assert_null(w.exc);
    assert_true(w.inner_done);
    assert_int_equal(w.live_timers, 0); /* the timeout handle was cancelled */
    aio_decref(w.inner);

    /* a future already done */
    w = (wait_for_case){.inner = aio_loop_create_future(loop), .timeout = 1.0};
    aio_future_set_result(w.inner, P(8));
    assert_ptr_equal(run_coro(loop, wait_for_coro, &w), P(1));
    assert_ptr_equal(w.result, P(8));
    aio_decref(w.inner);
    finish(loop);
}

static void test_wait_for_inner_exception(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    job j = {.delay = 0, .raise = aio_exc_new(aio_ValueError, "inner")};
    wait_for_case w = {.inner = spawn(loop, &j), .timeout = 1.0};
    aio_task *t = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = wait_for_coro, .coro_arg = &w});
    aio_loop_run_until_complete(loop, t);
    assert_raised(aio_ValueError, "inner");
    assert_ptr_equal(w.exc, j.raise); /* the very object */
    aio_decref(w.exc);
    aio_decref(t);
    aio_decref(w.inner);
    aio_decref(j.raise);
    finish(loop);
}

static void test_wait_for_timeout(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    job j = {.delay = 10};
    wait_for_case w = {.inner = spawn(loop, &j), .timeout = 0.01};
    aio_task *t = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = wait_for_coro, .coro_arg = &w});
    aio_loop_run_until_complete(loop, t);
    assert_null(w.result);
    assert_raised(aio_TimeoutError, NULL); /* the task's */
    aio_err_restore(w.exc);
    assert_timeout_from_cancelled();
    /* the inner was cancelled, and was done before wait_for() returned */
    assert_int_equal(j.cancelled, 1);
    assert_true(w.inner_done);
    assert_true(w.inner_cancelled);
    assert_int_equal(w.live_timers, 0);
    aio_decref(t);
    aio_decref(w.inner);
    finish(loop);
}

static void test_wait_for_timeout_inner_swallows(void **state)
{
    (void)state;
    /* The inner catches its cancellation and returns: that result. */
    aio_loop *loop = new_loop();
    job j = {.delay = 10, .swallow = true, .swallowed = P(5)};
    wait_for_case w = {.inner = spawn(loop, &j), .timeout = 0.01};
    assert_ptr_equal(run_coro(loop, wait_for_coro, &w), P(1));
    assert_ptr_equal(w.result, P(5));
    assert_null(w.exc);
    assert_true(w.inner_done);
    assert_false(w.inner_cancelled);
    aio_decref(w.inner);
    finish(loop);
}

static void test_wait_for_timeout_not_positive(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    /* a pending future: cancelled at once, TimeoutError from it */
    wait_for_case w = {.inner = aio_loop_create_future(loop), .timeout = 0};
    aio_task *t = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = wait_for_coro, .coro_arg = &w});
    aio_loop_run_until_complete(loop, t);
    assert_raised(aio_TimeoutError, NULL);
    aio_err_restore(w.exc);
    assert_timeout_from_cancelled();
    assert_true(w.inner_cancelled);
    aio_decref(t);
    aio_decref(w.inner);

    /* a pending task, negative timeout */
    job j = {.delay = 10};
    w = (wait_for_case){.inner = spawn(loop, &j), .timeout = -1};
    t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = wait_for_coro,
                                                                .coro_arg = &w});
    aio_loop_run_until_complete(loop, t);
    assert_raised(aio_TimeoutError, NULL);
    aio_err_restore(w.exc);
    assert_timeout_from_cancelled();
    assert_true(w.inner_done);
    assert_true(w.inner_cancelled);
    aio_decref(t);
    aio_decref(w.inner);

    /* a done future: its result, at once */
    w = (wait_for_case){.inner = aio_loop_create_future(loop), .timeout = 0};
    aio_future_set_result(w.inner, P(3));
    assert_ptr_equal(run_coro(loop, wait_for_coro, &w), P(1));
    assert_ptr_equal(w.result, P(3));
    aio_decref(w.inner);
    finish(loop);
}

static void test_wait_for_forever(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    job j = {.delay = 0.02, .result = P(4)};
    wait_for_case w = {.inner = spawn(loop, &j), .timeout = AIO_FOREVER};
    assert_ptr_equal(run_coro(loop, wait_for_coro, &w), P(1));
    assert_ptr_equal(w.result, P(4));
    aio_decref(w.inner);
    finish(loop);
}

static void test_wait_for_outer_cancelled(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    job j = {.delay = 10};
    wait_for_case w = {.inner = spawn(loop, &j), .timeout = 5};
    aio_task *t = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = wait_for_coro, .coro_arg = &w});
    run_one_iteration(loop);
    check_no_exception();
    assert_int_equal(aio_task_cancel(t, NULL), 1);
    run_until_future_done(loop, t);
    check_no_exception();
    /* the inner was cancelled and done before wait_for() raised */
    assert_int_equal(j.cancelled, 1);
    assert_true(w.inner_done);
    assert_true(w.inner_cancelled);
    assert_ptr_equal(aio_exc_type_of(w.exc), aio_CancelledError);
    assert_int_equal(aio_future_cancelled(t), 1);
    assert_int_equal(w.live_timers, 0);
    aio_decref(w.exc);
    aio_decref(t);
    aio_decref(w.inner);
    finish(loop);
}

static void test_wait_for_outer_cancelled_inner_done(void **state)
{
    (void)state;
    /* 3.11: the inner finished in the same iteration; wait_for() returns
     * its result and the cancellation is swallowed. */
    aio_loop *loop = new_loop();
    wait_for_case w = {.inner = aio_loop_create_future(loop), .timeout = 5};
    aio_task *t = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = wait_for_coro, .coro_arg = &w});
    run_one_iteration(loop);
    check_no_exception();
    assert_int_equal(aio_future_set_result(w.inner, P(3)), 0);
    assert_int_equal(aio_task_cancel(t, NULL), 1);
    run_until_future_done(loop, t);
    check_no_exception();
    assert_ptr_equal(w.result, P(3));
    assert_null(w.exc);
    assert_int_equal(aio_future_cancelled(t), 0);
    assert_ptr_equal(aio_future_result(t), P(1));
    assert_int_equal(aio_task_cancelling(t), 1);
    aio_decref(t);
    aio_decref(w.inner);
    finish(loop);
}

static void *wait_for_errors_coro(void *arg)
{
    aio_loop *other = arg;
    assert_null(aio_wait_for(NULL, 1.0));
    assert_raised(aio_TypeError, "An asyncio.Future, a coroutine or an awaitable is required");
    aio_future *foreign = aio_loop_create_future(other);
    assert_null(aio_wait_for(foreign, 1.0));
    assert_raised(aio_ValueError, "The future belongs to a different loop than the one "
                                  "specified as the loop argument");
    aio_decref(foreign);
    return P(1);
}
AIO_NAME_CALLBACK(wait_for_errors_coro);

static void test_wait_for_bad_arguments(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_loop *other = new_loop();
    assert_ptr_equal(run_coro(loop, wait_for_errors_coro, other), P(1));
    close_loop(other);
    finish(loop);
}

/* --- wait --------------------------------------------------------------------------- */

typedef struct wait_case {
    aio_future **fs;
    size_t n;
    aio_wait_args args;
    int rc;
    aio_wait_result result;
} wait_case;

static void *wait_coro(void *arg)
{
    wait_case *w = arg;
    w->rc = aio_wait(w->fs, w->n, &w->args, &w->result);
    if (w->rc < 0)
        return NULL;
    return P(1);
}
AIO_NAME_CALLBACK(wait_coro);

static void set_result_cb(void *arg)
{
    aio_future_set_result(arg, P(9));
}
AIO_NAME_CALLBACK(set_result_cb);

static void test_wait_all_completed(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    job a = {.delay = 0.02, .result = P(1)}, b = {.delay = 0.01, .result = P(2)};
    aio_future *f = aio_loop_create_future(loop);
    aio_future *fs[] = {spawn(loop, &a), spawn(loop, &b), f};
    aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = 0.015,
                                                          .callback = set_result_cb,
                                                          .args = f});
    wait_case w = {.fs = fs, .n = 3};
    assert_ptr_equal(run_coro(loop, wait_coro, &w), P(1));
    assert_int_equal(w.rc, 0);
    assert_int_equal(w.result.done_len, 3);
    assert_int_equal(w.result.pending_len, 0);
    /* argument order */
    for (size_t i = 0; i < 3; i++)
        assert_ptr_equal(w.result.done[i], fs[i]);
    aio_wait_result_clear(&w.result);
    for (size_t i = 0; i < 3; i++)
        aio_decref(fs[i]);
    finish(loop);
}

static void test_wait_first_completed(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    job a = {.delay = 10}, b = {.delay = 0.01, .result = P(2)};
    aio_future *fs[] = {spawn(loop, &a), spawn(loop, &b)};
    wait_case w = {.fs = fs, .n = 2, .args = {.return_when = AIO_FIRST_COMPLETED}};
    assert_ptr_equal(run_coro(loop, wait_coro, &w), P(1));
    assert_int_equal(w.result.done_len, 1);
    assert_ptr_equal(w.result.done[0], fs[1]);
    assert_int_equal(w.result.pending_len, 1);
    assert_ptr_equal(w.result.pending[0], fs[0]);
    assert_int_equal(aio_future_done(fs[0]), 0); /* not cancelled */
    /* the callbacks were taken back */
    assert_int_equal(fs[0]->callbacks_len, 0);
    aio_wait_result_clear(&w.result);
    aio_future_cancel(fs[0], NULL);
    run_until_future_done(loop, fs[0]);
    aio_decref(fs[0]);
    aio_decref(fs[1]);
    finish(loop);
}

static void test_wait_first_exception(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    handler_report rep = {0};
    aio_loop_set_exception_handler(loop, report_handler, &rep);
    job a = {.delay = 0.01, .result = P(1)};
    job b = {.delay = 0.02, .raise = aio_exc_new(aio_ValueError, "b")};
    job c = {.delay = 10};
    aio_future *cancelled = aio_loop_create_future(loop);
    aio_future_cancel(cancelled, NULL); /* a cancellation is no exception */
    aio_future *fs[] = {spawn(loop, &a), spawn(loop, &b), spawn(loop, &c), cancelled};
    wait_case w = {.fs = fs, .n = 4, .args = {.return_when = AIO_FIRST_EXCEPTION}};
    assert_ptr_equal(run_coro(loop, wait_coro, &w), P(1));
    assert_int_equal(w.result.done_len, 3);
    assert_ptr_equal(w.result.done[0], fs[0]);
    assert_ptr_equal(w.result.done[1], fs[1]);
    assert_ptr_equal(w.result.done[2], fs[3]);
    assert_int_equal(w.result.pending_len, 1);
    assert_ptr_equal(w.result.pending[0], fs[2]);
    aio_wait_result_clear(&w.result);
    aio_future_cancel(fs[2], NULL);
    run_until_future_done(loop, fs[2]);
    for (size_t i = 0; i < 4; i++)
        aio_decref(fs[i]);
    /* wait() looked at b's exception: not reported */
    assert_int_equal(rep.calls, 0);
    aio_decref(b.raise);

    /* no exception: as ALL_COMPLETED */
    job d = {.delay = 0.01, .result = P(1)}, e = {.delay = 0.02, .result = P(2)};
    aio_future *fs2[] = {spawn(loop, &d), spawn(loop, &e)};
    w = (wait_case){.fs = fs2, .n = 2, .args = {.return_when = AIO_FIRST_EXCEPTION}};
    assert_ptr_equal(run_coro(loop, wait_coro, &w), P(1));
    assert_int_equal(w.result.done_len, 2);
    assert_int_equal(w.result.pending_len, 0);
    aio_wait_result_clear(&w.result);
    aio_decref(fs2[0]);
    aio_decref(fs2[1]);
    finish(loop);
}

static void test_wait_timeout(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    job a = {.delay = 10}, b = {.delay = 0, .result = P(2)};
    aio_future *fs[] = {spawn(loop, &a), spawn(loop, &b)};
    wait_case w = {.fs = fs, .n = 2, .args = {.timeout = 0.05}};
    double start = aio_loop_time(loop);
    assert_ptr_equal(run_coro(loop, wait_coro, &w), P(1));
    assert_true(aio_loop_time(loop) - start >= 0.045);
    assert_int_equal(w.result.done_len, 1);
    assert_ptr_equal(w.result.done[0], fs[1]);
    assert_int_equal(w.result.pending_len, 1);
    assert_ptr_equal(w.result.pending[0], fs[0]);
    assert_int_equal(aio_future_done(fs[0]), 0);
    aio_wait_result_clear(&w.result);

    /* timeout=0 (AIO_ZERO): whatever is done after one iteration */
    w = (wait_case){.fs = fs, .n = 1, .args = {.timeout = AIO_ZERO}};
    assert_ptr_equal(run_coro(loop, wait_coro, &w), P(1));
    assert_int_equal(w.result.done_len, 0);
    assert_int_equal(w.result.pending_len, 1);
    assert_ptr_equal(w.result.pending[0], fs[0]);
    assert_int_equal(live_timers(loop), 1); /* only the sleep's */
    aio_wait_result_clear(&w.result);

    aio_future_cancel(fs[0], NULL);
    run_until_future_done(loop, fs[0]);
    aio_decref(fs[0]);
    aio_decref(fs[1]);
    finish(loop);
}

static void test_wait_duplicates_counted_once(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_future *f = aio_loop_create_future(loop);
    aio_future *g = aio_loop_create_future(loop);
    aio_future *fs[] = {f, g, f, g, f};
    soon(loop, set_result_cb, f);
    aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = 0.01,
                                                          .callback = set_result_cb,
                                                          .args = g});
    wait_case w = {.fs = fs, .n = 5};
    assert_ptr_equal(run_coro(loop, wait_coro, &w), P(1));
    assert_int_equal(w.result.done_len, 2);
    assert_ptr_equal(w.result.done[0], f);
    assert_ptr_equal(w.result.done[1], g);
    assert_int_equal(w.result.pending_len, 0);
    aio_wait_result_clear(&w.result);
    aio_decref(f);
    aio_decref(g);
    finish(loop);
}

static void test_wait_cancelled(void **state)
{
    (void)state;
    /* finally: the timer is cancelled and the callbacks taken back */
    aio_loop *loop = new_loop();
    aio_future *f = aio_loop_create_future(loop);
    aio_future *fs[] = {f};
    wait_case w = {.fs = fs, .n = 1, .args = {.timeout = 10}};
    aio_task *t = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = wait_coro, .coro_arg = &w});
    run_one_iteration(loop);
    check_no_exception();
    assert_int_equal(f->callbacks_len, 1);
    assert_int_equal(live_timers(loop), 1);
    assert_int_equal(aio_task_cancel(t, NULL), 1);
    run_until_future_done(loop, t);
    check_no_exception();
    assert_int_equal(w.rc, -1);
    assert_int_equal(aio_future_cancelled(t), 1);
    assert_int_equal(f->callbacks_len, 0);
    assert_int_equal(live_timers(loop), 0);
    assert_int_equal(aio_future_done(f), 0); /* not cancelled by wait() */
    assert_null(w.result.done);
    assert_null(w.result.pending);
    aio_decref(t);
    aio_decref(f);
    finish(loop);
}

static void *wait_errors_coro(void *arg)
{
    (void)arg;
    aio_wait_result result;
    memset(&result, 0xff, sizeof result);
    assert_int_equal(aio_wait(NULL, 0, NULL, &result), -1);
    assert_raised(aio_ValueError, "Set of Tasks/Futures is empty.");
    /* the result is zeroed on failure: clearing it is safe */
    assert_null(result.done);
    assert_int_equal(result.done_len, 0);
    assert_null(result.pending);
    aio_wait_result_clear(&result);

    aio_future *f = aio_loop_create_future(aio_get_running_loop());
    aio_future *fs[] = {f};
    assert_int_equal(
        aio_wait(fs, 1, &(aio_wait_args){.return_when = (aio_return_when)7}, &result), -1);
    assert_raised(aio_ValueError, "Invalid return_when value: 7");
    aio_future *with_null[] = {f, NULL};
    assert_int_equal(aio_wait(with_null, 2, NULL, &result), -1);
    assert_raised(aio_TypeError, NULL);
    /* no array: wait(None), which is empty to `if not fs` */
    assert_int_equal(aio_wait(NULL, 3, NULL, &result), -1);
    assert_raised(aio_ValueError, "Set of Tasks/Futures is empty.");
    assert_int_equal(f->callbacks_len, 0);
    aio_decref(f);
    return P(1);
}
AIO_NAME_CALLBACK(wait_errors_coro);

static void test_wait_bad_arguments(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_ptr_equal(run_coro(loop, wait_errors_coro, NULL), P(1));
    finish(loop);
}

static void test_wait_result_clear(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_future *f = aio_loop_create_future(loop);
    aio_future *g = aio_loop_create_future(loop);
    aio_future_set_result(f, NULL);
    aio_future *fs[] = {f, g};
    wait_case w = {.fs = fs, .n = 2, .args = {.timeout = 0.01}};
    assert_ptr_equal(run_coro(loop, wait_coro, &w), P(1));
    assert_int_equal(w.result.done_len, 1);
    assert_int_equal(w.result.pending_len, 1);
    aio_decref(f);
    aio_decref(g);
    /* the result holds references of its own */
    assert_int_equal(aio_future_done(w.result.done[0]), 1);
    assert_int_equal(aio_future_done(w.result.pending[0]), 0);
    aio_wait_result_clear(&w.result);
    assert_null(w.result.done);
    assert_null(w.result.pending);
    assert_int_equal(w.result.done_len, 0);
    assert_int_equal(w.result.pending_len, 0);
    aio_wait_result_clear(&w.result); /* twice: nothing */
    aio_wait_result_clear(NULL);
    finish(loop);
}

/* 400,000 arguments over 300,000 futures (every fourth a repeat): set(fs)
 * in linear time, as CPython's set; the earlier scan of every distinct
 * future seen took quadratic time. The done and pending arrays hold each
 * future once, in argument order. */
typedef struct wait_many {
    aio_future **args;
    size_t n;
    aio_future *last;       /* pending until the wait is under way */
    int rc;
    aio_wait_result result;
} wait_many;

static void set_last_cb(void *arg)
{
    wait_many *w = arg;
    aio_future_set_result(w->last, P(1));
}
AIO_NAME_CALLBACK(set_last_cb);

static void *wait_many_coro(void *arg)
{
    wait_many *w = arg;
    aio_loop_call_soon(aio_get_running_loop(),
                       &(aio_loop_call_soon_args){.callback = set_last_cb, .args = w});
    w->rc = aio_wait(w->args, w->n, NULL, &w->result);
    return w->rc == 0 ? P(1) : NULL;
}
AIO_NAME_CALLBACK(wait_many_coro);

static void test_wait_many_with_repeats(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    wait_many w = {.n = RUNNING_ON_VALGRIND ? 20000 : 400000};
    w.args = malloc(w.n * sizeof *w.args);
    assert_non_null(w.args);
    size_t distinct = 0;
    for (size_t i = 0; i < w.n; i++) {
        if (i % 4 == 3) {
            w.args[i] = w.args[(i * 7919) % i];
        } else {
            w.args[i] = aio_loop_create_future(loop);
            assert_non_null(w.args[i]);
            if (i != 1)
                assert_int_equal(aio_future_set_result(w.args[i], NULL), 0);
            distinct++;
        }
    }
    w.last = w.args[1];
    assert_ptr_equal(run_coro(loop, wait_many_coro, &w), P(1));
    assert_int_equal(w.rc, 0);
    assert_int_equal(w.result.pending_len, 0);
    assert_int_equal(w.result.done_len, distinct);
    /* each once, in argument order */
    size_t next = 0;
    for (size_t i = 0; i < w.n; i++) {
        if (i % 4 != 3)
            assert_ptr_equal(w.result.done[next++], w.args[i]);
        assert_int_equal(w.args[i]->callbacks_len, 0);
    }
    aio_wait_result_clear(&w.result);
    for (size_t i = 0; i < w.n; i++) {
        if (i % 4 != 3)
            aio_decref(w.args[i]);
    }
    free(w.args);
    finish(loop);
}

/* Every allocation aio_wait() makes fails in turn (until one call gets
 * through): each time it raises MemoryError, and leaves no callback on the
 * futures and no timer behind. */
typedef struct wait_nomem {
    aio_future *fs[40];
    size_t n;
    int failures;
    int other_errors;
    int leftovers;          /* callbacks or timers left after a failure */
    bool succeeded;
} wait_nomem;

static void *wait_nomem_coro(void *arg)
{
    wait_nomem *w = arg;
    aio_loop *loop = aio_get_running_loop();
    for (long k = 0; k < 1000 && !w->succeeded; k++) {
        aio_wait_result result;
        aio__fail_alloc_after = k;
        int rc = aio_wait(w->fs, w->n, &(aio_wait_args){.timeout = AIO_ZERO}, &result);
        aio__fail_alloc_after = -1;
        if (rc == 0) {
            w->succeeded = true;
            aio_wait_result_clear(&result);
        } else if (aio_err_matches(aio_MemoryError)) {
            aio_err_clear();
            w->failures++;
            if (result.done != NULL || result.pending != NULL)
                w->leftovers++;
        } else {
            aio_err_clear();
            w->other_errors++;
        }
        for (size_t i = 0; i < w->n; i++)
            w->leftovers += w->fs[i]->callbacks_len != 0;
        w->leftovers += live_timers(loop) != 0;
    }
    return P(1);
}
AIO_NAME_CALLBACK(wait_nomem_coro);

/* t = timeout(delay) (or timeout_at(when)); async with t: the entered
 * Timeout, or NULL with the exception set. */
static aio_timeout *scope_enter_with(aio_timeout *t)
{
    if (t != NULL && aio_timeout_enter(t) < 0) {
        aio_decref(t);
        return NULL;
    }
    return t;
}
#define scope_enter(delay) scope_enter_with(aio_timeout_after(delay))
#define scope_enter_at(when) scope_enter_with(aio_timeout_at(when))

/* The end of the scope, dropping the Timeout: aio_timeout_exit()'s result. */
static int scope_exit(aio_timeout *t)
{
    int rc = aio_timeout_exit(t);
    aio_decref(t);
    return rc;
}

static void test_wait_memory_error(void **state)
{
    (void)state;
    const size_t sizes[] = {3, 40};
    for (size_t s = 0; s < 2; s++) {
        aio_loop *loop = new_loop();
        wait_nomem w = {.n = sizes[s]};
        for (size_t i = 0; i < w.n; i++) {
            w.fs[i] = i % 5 == 4 ? aio_incref(w.fs[i - 1]) : aio_loop_create_future(loop);
            assert_non_null(w.fs[i]);
        }
        assert_int_equal(aio_future_set_result(w.fs[0], NULL), 0);
        assert_ptr_equal(run_coro(loop, wait_nomem_coro, &w), P(1));
        assert_true(w.succeeded);
        assert_true(w.failures >= 3);
        assert_int_equal(w.other_errors, 0);
        assert_int_equal(w.leftovers, 0);
        for (size_t i = 0; i < w.n; i++)
            aio_decref(w.fs[i]);
        finish(loop);
    }
}

/* --- timeout() --------------------------------------------------------------------------- */

typedef struct scope_case {
    double delay;           /* the scope's delay */
    double sleep;           /* what the body sleeps */
    bool set_error;         /* the body ends with ValueError set */
    bool catch;             /* the body clears the CancelledError */
    bool outside_cancel;    /* a callback cancels the task from outside */
    int sleep_rc;
    int expired_in_body;
    int exit_rc;
    aio_exc *exc;           /* left after exit (a reference) */
    int cancelling_after;
} scope_case;

static void cancel_task_cb(void *arg)
{
    aio_task_cancel(arg, NULL);
}
AIO_NAME_CALLBACK(cancel_task_cb);

static void *scope_coro(void *arg)
{
    scope_case *s = arg;
    aio_task *me = aio_current_task(NULL);
    aio_timeout *to = scope_enter(s->delay);
    assert_non_null(to);
    assert_int_equal(aio_timeout_expired(to), 0);
    if (s->outside_cancel)
        soon(aio_get_running_loop(), cancel_task_cb, me);
    s->sleep_rc = aio_sleep(s->sleep);
    s->expired_in_body = aio_timeout_expired(to);
    if (s->catch)
        aio_err_clear();
    if (s->set_error)
        aio_err_set(aio_ValueError, "body");
    s->exit_rc = scope_exit(to);
    s->exc = aio_err_fetch();
    s->cancelling_after = aio_task_cancelling(me);
    return P(1); /* the task carries on */
}
AIO_NAME_CALLBACK(scope_coro);

static void test_timeout_expires(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    scope_case s = {.delay = 0.01, .sleep = 10};
    assert_ptr_equal(run_coro(loop, scope_coro, &s), P(1));
    assert_int_equal(s.sleep_rc, -1);
    assert_int_equal(s.expired_in_body, 1);
    assert_int_equal(s.exit_rc, -1);
    /* TimeoutError from the CancelledError the scope caused */
    aio_err_restore(s.exc);
    assert_timeout_from_cancelled();
    assert_int_equal(s.cancelling_after, 0); /* uncancel()led */
    assert_int_equal(live_timers(loop), 0);
    finish(loop);
}

static void test_timeout_not_expiring(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    scope_case s = {.delay = 10, .sleep = 0.01};
    assert_ptr_equal(run_coro(loop, scope_coro, &s), P(1));
    assert_int_equal(s.sleep_rc, 0);
    assert_int_equal(s.expired_in_body, 0);
    assert_int_equal(s.exit_rc, 0);
    assert_null(s.exc);
    assert_int_equal(live_timers(loop), 0); /* the scope's handle cancelled */

    /* an exception from the body is left as it was */
    s = (scope_case){.delay = 10, .sleep = 0, .set_error = true};
    assert_ptr_equal(run_coro(loop, scope_coro, &s), P(1));
    assert_int_equal(s.exit_rc, -1);
    aio_err_restore(s.exc);
    assert_raised(aio_ValueError, "body");

    /* forever */
    s = (scope_case){.delay = AIO_FOREVER, .sleep = 0.01};
    assert_ptr_equal(run_coro(loop, scope_coro, &s), P(1));
    assert_int_equal(s.exit_rc, 0);
    assert_null(s.exc);
    finish(loop);
}

static void test_timeout_expired_but_caught(void **state)
{
    (void)state;
    /* The body swallowed the CancelledError: nothing is raised at exit. */
    aio_loop *loop = new_loop();
    scope_case s = {.delay = 0.01, .sleep = 10, .catch = true};
    assert_ptr_equal(run_coro(loop, scope_coro, &s), P(1));
    assert_int_equal(s.expired_in_body, 1);
    assert_int_equal(s.exit_rc, 0);
    assert_null(s.exc);
    assert_int_equal(s.cancelling_after, 0);

    /* An error other than CancelledError passes through. */
    s = (scope_case){.delay = 0.01, .sleep = 10, .catch = true, .set_error = true};
    assert_ptr_equal(run_coro(loop, scope_coro, &s), P(1));
    assert_int_equal(s.exit_rc, -1);
    aio_err_restore(s.exc);
    assert_raised(aio_ValueError, "body");
    finish(loop);
}

typedef struct resched_case {
    double when_forever;
    double when_set;
    double expected_when;
    int reschedule_rc;
    aio_exc *reschedule_exc;
    int exit_rc;
    aio_exc *exc;
} resched_case;

static void *reschedule_coro(void *arg)
{
    resched_case *r = arg;
    aio_loop *loop = aio_get_running_loop();
    aio_timeout *to = scope_enter(AIO_FOREVER);
    assert_non_null(to);
    r->when_forever = aio_timeout_when(to);
    r->expected_when = aio_loop_time(loop) + 0.01;
    assert_int_equal(aio_timeout_reschedule(to, r->expected_when), 0);
    r->when_set = aio_timeout_when(to);
    assert_int_equal(aio_sleep(10), -1);
    assert_int_equal(aio_timeout_expired(to), 1);
    /* Timeout.reschedule() once it fired */
    aio_exc *cancelled = aio_err_fetch();
    r->reschedule_rc = aio_timeout_reschedule(to, aio_loop_time(loop) + 5);
    r->reschedule_exc = aio_err_fetch();
    aio_err_restore(cancelled);
    r->exit_rc = scope_exit(to);
    r->exc = aio_err_fetch();
    return P(1);
}
AIO_NAME_CALLBACK(reschedule_coro);

static void test_timeout_reschedule(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    resched_case r = {0};
    assert_ptr_equal(run_coro(loop, reschedule_coro, &r), P(1));
    assert_true(isinf(r.when_forever) && r.when_forever > 0);
    assert_true(r.when_set == r.expected_when);
    /* CPython says "expiring" until __aexit__ ran ("expired" after, which
     * C cannot reach: scope_exit() frees the scope). */
    assert_int_equal(r.reschedule_rc, -1);
    aio_err_restore(r.reschedule_exc);
    assert_raised(aio_RuntimeError, "Cannot change state of expiring Timeout");
    assert_int_equal(r.exit_rc, -1);
    aio_err_restore(r.exc);
    assert_timeout_from_cancelled();
    finish(loop);
}

static void *reschedule_forever_coro(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    double before = aio_loop_time(loop);
    aio_timeout *to = scope_enter(0.01);
    assert_non_null(to);
    double when = aio_timeout_when(to);
    assert_true(when >= before + 0.01 && when <= aio_loop_time(loop) + 0.01);
    /* reschedule(None): no deadline any more */
    assert_int_equal(aio_timeout_reschedule(to, AIO_FOREVER), 0);
    assert_true(isinf(aio_timeout_when(to)));
    assert_int_equal(aio_sleep(0.03), 0);
    assert_int_equal(aio_timeout_expired(to), 0);
    assert_int_equal(scope_exit(to), 0);

    /* a deadline in the past fires on the next iteration */
    to = scope_enter_at(AIO_FOREVER);
    assert_non_null(to);
    assert_int_equal(aio_timeout_reschedule(to, aio_loop_time(loop) - 1), 0);
    assert_int_equal(aio_sleep(0), -1);
    assert_int_equal(aio_timeout_expired(to), 1);
    assert_int_equal(scope_exit(to), -1);
    assert_timeout_from_cancelled();

    /* timeout_at(when) */
    double at = aio_loop_time(loop) + 0.01;
    to = scope_enter_at(at);
    assert_true(aio_timeout_when(to) == at);
    assert_int_equal(aio_sleep(10), -1);
    assert_int_equal(scope_exit(to), -1);
    assert_timeout_from_cancelled();
    return P(1);
}
AIO_NAME_CALLBACK(reschedule_forever_coro);

static void test_timeout_reschedule_forever_and_past(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_ptr_equal(run_coro(loop, reschedule_forever_coro, NULL), P(1));
    finish(loop);
}

static void test_timeout_outer_cancel_not_swallowed(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    /* task.cancel() from outside while in the scope: CancelledError stays */
    scope_case s = {.delay = 10, .sleep = 10, .outside_cancel = true};
    aio_task *t = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = scope_coro, .coro_arg = &s});
    aio_loop_run_until_complete(loop, t);
    check_no_exception();
    assert_int_equal(s.expired_in_body, 0);
    assert_int_equal(s.exit_rc, -1);
    assert_ptr_equal(aio_exc_type_of(s.exc), aio_CancelledError);
    assert_int_equal(s.cancelling_after, 1);
    aio_decref(s.exc);
    aio_decref(t);

    /* The deadline passed too, in the same iteration: the outer
     * cancellation is still pending (uncancel() > 0), so no TimeoutError. */
    s = (scope_case){.delay = 0, .sleep = 10, .outside_cancel = true};
    t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = scope_coro,
                                                                .coro_arg = &s});
    aio_loop_run_until_complete(loop, t);
    check_no_exception();
    assert_int_equal(s.expired_in_body, 1);
    assert_int_equal(s.exit_rc, -1);
    assert_ptr_equal(aio_exc_type_of(s.exc), aio_CancelledError);
    assert_int_equal(s.cancelling_after, 1);
    aio_decref(s.exc);
    aio_decref(t);
    finish(loop);
}

static void *nested_coro(void *arg)
{
    int *which = arg;
    aio_timeout *outer = scope_enter(*which == 0 ? 0.01 : 10);
    aio_timeout *inner = scope_enter(*which == 0 ? 10 : 0.01);
    assert_int_equal(aio_sleep(10), -1);
    int inner_expired = aio_timeout_expired(inner);
    int rc = scope_exit(inner);
    if (*which == 0) {
        /* the outer's deadline: the inner leaves the CancelledError alone */
        assert_int_equal(inner_expired, 0);
        assert_int_equal(rc, -1);
        assert_true(aio_err_matches(aio_CancelledError));
        assert_int_equal(aio_timeout_expired(outer), 1);
    } else {
        assert_int_equal(inner_expired, 1);
        assert_int_equal(rc, -1);
        assert_true(aio_err_matches(aio_TimeoutError));
        assert_int_equal(aio_timeout_expired(outer), 0);
    }
    assert_int_equal(scope_exit(outer), -1);
    assert_timeout_from_cancelled();
    assert_int_equal(aio_task_cancelling(aio_current_task(NULL)), 0);
    return P(1);
}
AIO_NAME_CALLBACK(nested_coro);

static void test_timeout_nested(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int which = 0;
    assert_ptr_equal(run_coro(loop, nested_coro, &which), P(1));
    which = 1;
    assert_ptr_equal(run_coro(loop, nested_coro, &which), P(1));
    finish(loop);
}

/* --- Outside a task -------------------------------------------------------------------------- */

static void check_outside_task(void)
{
    assert_int_equal(aio_sleep(0), -1);
    assert_raised(aio_RuntimeError, "aio_sleep() must be called from inside a task");
    assert_int_equal(aio_sleep(1), -1);
    assert_raised(aio_RuntimeError, "aio_sleep() must be called from inside a task");
    aio_future *f = aio_loop_create_future(aio_get_event_loop());
    assert_non_null(f);
    assert_null(aio_wait_for(f, 1.0));
    assert_raised(aio_RuntimeError, "aio_wait_for() must be called from inside a task");
    assert_null(aio_wait_for(f, AIO_FOREVER));
    assert_raised(aio_RuntimeError, "aio_wait_for() must be called from inside a task");
    assert_null(aio_await(f));
    assert_raised(aio_RuntimeError, "aio_await() must be called from inside a task");
    aio_wait_result result;
    assert_int_equal(aio_wait(&f, 1, NULL, &result), -1);
    assert_raised(aio_RuntimeError, "aio_wait() must be called from inside a task");
    assert_int_equal(f->callbacks_len, 0);
    aio_decref(f);
}

static void outside_cb(void *arg)
{
    int *ran = arg;
    check_outside_task();
    /* a loop runs, but no task */
    assert_null(scope_enter(1.0));
    assert_raised(aio_RuntimeError, "Timeout should be used inside a task");
    assert_null(scope_enter_at(1.0));
    assert_raised(aio_RuntimeError, "Timeout should be used inside a task");
    /* scope_exit(NULL): enter failed, its exception still set */
    assert_int_equal(scope_exit(scope_enter(1.0)), -1);
    assert_raised(aio_RuntimeError, NULL);
    (*ran)++;
}
AIO_NAME_CALLBACK(outside_cb);

static void test_outside_a_task(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_int_equal(aio_set_event_loop(loop), 0);
    /* no loop running */
    check_outside_task();
    assert_null(scope_enter(1.0));
    assert_raised(aio_RuntimeError, "no running event loop");
    assert_null(scope_enter_at(1.0));
    assert_raised(aio_RuntimeError, NULL);
    /* in a callback of a running loop */
    int ran = 0;
    soon(loop, outside_cb, &ran);
    run_one_iteration(loop);
    check_no_exception();
    assert_int_equal(ran, 1);
    assert_int_equal(aio_set_event_loop(NULL), 0);
    finish(loop);
}

/* --- NaN and infinite timeouts ------------------------------------------------------ */

/* As CPython 3.11 does (the same program in Python printed these): a NaN
 * delay or deadline is due at once, an infinite one never. */
static void *nonfinite_coro(void *arg)
{
    trace *t = arg;
    aio_loop *loop = aio_get_running_loop();
    assert_int_equal(aio_sleep(NAN), 0);
    trace_add(t, "sleep(nan) returned;");

    aio_future *f = aio_loop_create_future(loop);
    assert_null(aio_wait_for(f, NAN));
    trace_add(t, "wait_for(nan): %s %d;", aio_exc_type_of(aio_err_occurred())->name,
              aio_future_cancelled(f));
    aio_err_clear();
    aio_decref(f);

    f = aio_loop_create_future(loop);
    aio_wait_result r;
    assert_int_equal(aio_wait(&f, 1, &(aio_wait_args){.timeout = NAN}, &r), 0);
    trace_add(t, "wait(nan): %zu %zu;", r.done_len, r.pending_len);
    aio_wait_result_clear(&r);
    aio_decref(f);

    aio_timeout *to = scope_enter(NAN);
    assert_non_null(to);
    assert_int_equal(aio_sleep(1), -1);
    bool when_nan = isnan(aio_timeout_when(to));
    assert_int_equal(scope_exit(to), -1);
    trace_add(t, "timeout(nan): %s %d;", aio_exc_type_of(aio_err_occurred())->name, when_nan);
    aio_err_clear();

    to = scope_enter(-INFINITY);
    assert_int_equal(aio_sleep(1), -1);
    assert_int_equal(scope_exit(to), -1);
    trace_add(t, "timeout(-inf): %s;", aio_exc_type_of(aio_err_occurred())->name);
    aio_err_clear();

    to = scope_enter(1e308);
    assert_int_equal(aio_sleep(0.01), 0);
    assert_int_equal(scope_exit(to), 0);
    trace_add(t, "timeout(huge): fine;");

    f = aio_loop_create_future(loop);
    aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = 0.01,
                                                         .callback = set_result_cb,
                                                         .args = f});
    void *res = aio_wait_for(f, INFINITY);
    trace_add(t, "wait_for(inf): %p;", res);
    aio_decref(f);
    return NULL;
}
AIO_NAME_CALLBACK(nonfinite_coro);

static void test_nonfinite_timeouts(void **state)
{
    (void)state;
    trace t = {{0}};
    aio_loop *loop = new_loop();
    run_coro(loop, nonfinite_coro, &t);
    char expected[512];
    snprintf(expected, sizeof expected,
             "sleep(nan) returned;wait_for(nan): TimeoutError 1;wait(nan): 0 1;"
             "timeout(nan): TimeoutError 1;timeout(-inf): TimeoutError;timeout(huge): fine;"
             "wait_for(inf): %p;", P(9));
    assert_string_equal(t.text, expected);
    finish(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_nonfinite_timeouts),
    cmocka_unit_test(test_sleep_zero_one_iteration),
    cmocka_unit_test(test_sleep_positive_delay),
    cmocka_unit_test(test_sleep_cancelled),
    cmocka_unit_test(test_wait_for_success),
    cmocka_unit_test(test_wait_for_inner_exception),
    cmocka_unit_test(test_wait_for_timeout),
    cmocka_unit_test(test_wait_for_timeout_inner_swallows),
    cmocka_unit_test(test_wait_for_timeout_not_positive),
    cmocka_unit_test(test_wait_for_forever),
    cmocka_unit_test(test_wait_for_outer_cancelled),
    cmocka_unit_test(test_wait_for_outer_cancelled_inner_done),
    cmocka_unit_test(test_wait_for_bad_arguments),
    cmocka_unit_test(test_wait_all_completed),
    cmocka_unit_test(test_wait_first_completed),
    cmocka_unit_test(test_wait_first_exception),
    cmocka_unit_test(test_wait_timeout),
    cmocka_unit_test(test_wait_duplicates_counted_once),
    cmocka_unit_test(test_wait_cancelled),
    cmocka_unit_test(test_wait_bad_arguments),
    cmocka_unit_test(test_wait_result_clear),
    cmocka_unit_test(test_wait_many_with_repeats),
    cmocka_unit_test(test_wait_memory_error),
    cmocka_unit_test(test_timeout_expires),
    cmocka_unit_test(test_timeout_not_expiring),
    cmocka_unit_test(test_timeout_expired_but_caught),
    cmocka_unit_test(test_timeout_reschedule),
    cmocka_unit_test(test_timeout_reschedule_forever_and_past),
    cmocka_unit_test(test_timeout_outer_cancel_not_swallowed),
    cmocka_unit_test(test_timeout_nested),
    cmocka_unit_test(test_outside_a_task),
};

AIO_TEST_MAIN(tests)
