/* test_loop.c - the loop's lifecycle: new_event_loop, close, is_closed,
 * run_forever and stop, run_until_complete, is_running, debug mode and the
 * slow-callback warning, and SystemExit/KeyboardInterrupt leaving the loop.
 *
 * Every expected trace, exception and message was first obtained by running
 * the same program on CPython 3.11 (ASYNCIO-SEMANTICS.md §1, §6).
 */
#include <stdio.h>
#include <time.h>

#include "test_support.h"
#include "loop.h"

/* --- helpers ------------------------------------------------------------- */

static trace T;

/* Callbacks are named (AIO_NAME_CALLBACK) so that reprs show their names. */
static void lp_rec(void *arg)
{
    trace_add(&T, "%s ", (const char *)arg);
}
AIO_NAME_CALLBACK(lp_rec);

static void lp_stop(void *loop)
{
    trace_add(&T, "stop ");
    assert_int_equal(aio_loop_stop(loop), 0);
}
AIO_NAME_CALLBACK(lp_stop);

/* --- new_event_loop, close, is_closed -------------------------------------- */

static void test_new_loop_initial_state(void **state)
{
    (void)state;
    unsetenv("PYTHONASYNCIODEBUG");
    unsetenv("PYTHONDEVMODE");
    aio_loop *loop = new_traced_loop(&T);
    assert_int_equal(aio_loop_is_running(loop), 0);
    assert_int_equal(aio_loop_is_closed(loop), 0);
    assert_int_equal(aio_loop_get_debug(loop), 0);
    assert_true(aio_loop_slow_callback_duration(loop) == 0.1);
    assert_repr(loop, "<_UnixSelectorEventLoop running=False closed=False debug=False>");
    /* new_event_loop() does not make the loop current or running. */
    assert_null(aio_get_running_loop());
    assert_raised(aio_RuntimeError, "no running event loop");
    /* Two loops are distinct objects. */
    aio_loop *other = aio_new_event_loop();
    assert_non_null(other);
    assert_ptr_not_equal(other, loop);
    assert_int_equal(aio_loop_close(other), 0);
    aio_decref(other);
    finish(loop);
}

static void test_close_is_idempotent(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop(&T);
    assert_int_equal(aio_loop_close(loop), 0);
    check_no_exception();
    assert_int_equal(aio_loop_is_closed(loop), 1);
    assert_int_equal(aio_loop_is_running(loop), 0);
    assert_repr(loop, "<_UnixSelectorEventLoop running=False closed=True debug=False>");
    assert_int_equal(aio_loop_close(loop), 0);
    check_no_exception();
    assert_int_equal(aio_loop_is_closed(loop), 1);
    finish(loop); /* a third close */
}

static void test_close_drops_pending_callbacks(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop(&T);
    static char soon_tag[] = "soon";
    aio_handle *h = aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = lp_rec, .args = soon_tag});
    aio_timer_handle *th = aio_loop_call_later(
        loop, &(aio_loop_call_later_args){.delay = AIO_ZERO, .callback = lp_rec, .args = "later"});
    assert_non_null(h);
    assert_non_null(th);
    aio_incref(h);
    aio_incref(th);
    assert_int_equal(aio_loop_close(loop), 0);
    /* Dropped without running and without being marked cancelled. */
    assert_string_equal(T.text, "");
    assert_int_equal(aio_handle_cancelled(h), 0);
    assert_int_equal(aio_handle_cancelled(th), 0);
    char expected[64];
    snprintf(expected, sizeof expected, "<Handle lp_rec(%p)>", (void *)soon_tag);
    assert_repr(h, expected);
    aio_decref(h);
    aio_decref(th);
    finish(loop);
}

static void lp_close_running(void *loop)
{
    assert_int_equal(aio_loop_close(loop), -1);
    assert_raised(aio_RuntimeError, "Cannot close a running event loop");
    assert_int_equal(aio_loop_is_closed(loop), 0);
    assert_int_equal(aio_loop_is_running(loop), 1);
    assert_repr(loop, "<_UnixSelectorEventLoop running=True closed=False debug=False>");
    trace_add(&T, "tried ");
    aio_loop_stop(loop);
}
AIO_NAME_CALLBACK(lp_close_running);

static void test_close_while_running(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop(&T);
    aio_loop_set_debug(loop, false);
    soon(loop, lp_close_running, loop);
    assert_int_equal(aio_loop_run_forever(loop), 0);
    check_no_exception();
    assert_string_equal(T.text, "tried ");
    assert_int_equal(aio_loop_is_closed(loop), 0);
    /* Still usable. */
    soon(loop, lp_rec, "again");
    soon(loop, lp_stop, loop);
    assert_int_equal(aio_loop_run_forever(loop), 0);
    assert_string_equal(T.text, "tried again stop ");
    finish(loop);
}

static void test_closed_loop_refuses_to_run(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop(&T);
    aio_future *fut = aio_loop_create_future(loop);
    assert_non_null(fut);
    assert_int_equal(aio_loop_close(loop), 0);

    assert_int_equal(aio_loop_run_forever(loop), -1);
    assert_raised(aio_RuntimeError, "Event loop is closed");
    assert_null(aio_loop_run_until_complete(loop, fut));
    assert_raised(aio_RuntimeError, "Event loop is closed");
    /* The loop is checked before the argument (CPython: ensure_future
     * comes after _check_closed). */
    assert_null(aio_loop_run_until_complete(loop, NULL));
    assert_raised(aio_RuntimeError, "Event loop is closed");
    assert_null(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = lp_rec}));
    assert_raised(aio_RuntimeError, "Event loop is closed");
    assert_int_equal(aio_loop_is_running(loop), 0);
    assert_string_equal(T.text, "");
    aio_decref(fut);
    finish(loop);
}

/* --- run_forever: re-entry and other loops ---------------------------------- */

static aio_loop *other_loop;

static void lp_reenter(void *arg)
{
    aio_loop *loop = arg;
    assert_int_equal(aio_loop_run_forever(loop), -1);
    assert_raised(aio_RuntimeError, "This event loop is already running");
    aio_future *fut = aio_loop_create_future(loop);
    assert_null(aio_loop_run_until_complete(loop, fut));
    assert_raised(aio_RuntimeError, "This event loop is already running");
    aio_decref(fut);
    assert_null(aio_loop_run_until_complete(loop, NULL)); /* running before the argument */
    assert_raised(aio_RuntimeError, "This event loop is already running");
    /* The failed attempts left the loop running. */
    assert_int_equal(aio_loop_is_running(loop), 1);
    assert_ptr_equal(aio_get_running_loop(), loop);

    /* Another loop cannot run in this thread now. */
    assert_int_equal(aio_loop_run_forever(other_loop), -1);
    assert_raised(aio_RuntimeError, "Cannot run the event loop while another loop is running");
    fut = aio_loop_create_future(other_loop);
    assert_null(aio_loop_run_until_complete(other_loop, fut));
    assert_raised(aio_RuntimeError, "Cannot run the event loop while another loop is running");
    aio_decref(fut);
    assert_int_equal(aio_loop_is_running(other_loop), 0);
    /* ...but it can be closed. */
    assert_int_equal(aio_loop_close(other_loop), 0);
    assert_int_equal(aio_loop_is_closed(other_loop), 1);
    trace_add(&T, "checked ");
    aio_loop_stop(loop);
}
AIO_NAME_CALLBACK(lp_reenter);

static void test_nested_and_other_loop_run(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop(&T);
    other_loop = aio_new_event_loop();
    assert_non_null(other_loop);
    soon(loop, lp_reenter, loop);
    assert_int_equal(aio_loop_run_forever(loop), 0);
    check_no_exception();
    assert_string_equal(T.text, "checked ");
    assert_int_equal(aio_loop_is_running(loop), 0);
    assert_null(aio_get_running_loop());
    assert_raised(aio_RuntimeError, "no running event loop");
    aio_decref(other_loop);
    other_loop = NULL;
    finish(loop);
}

/* A closed loop is refused before the running check, even inside a run. */
static void lp_run_closed(void *arg)
{
    (void)arg;
    assert_int_equal(aio_loop_run_forever(other_loop), -1);
    assert_raised(aio_RuntimeError, "Event loop is closed");
    aio_loop_stop(aio_get_running_loop());
}
AIO_NAME_CALLBACK(lp_run_closed);

static void test_run_closed_loop_inside_other(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop(&T);
    other_loop = aio_new_event_loop();
    assert_int_equal(aio_loop_close(other_loop), 0);
    soon(loop, lp_run_closed, NULL);
    assert_int_equal(aio_loop_run_forever(loop), 0);
    aio_decref(other_loop);
    other_loop = NULL;
    finish(loop);
}

/* --- is_running --------------------------------------------------------------- */

static void lp_check_running(void *arg)
{
    aio_loop *loop = arg;
    assert_int_equal(aio_loop_is_running(loop), 1);
    assert_ptr_equal(aio_get_running_loop(), loop);
    assert_ptr_equal(aio_get_event_loop(), loop);
    trace_add(&T, "inside ");
    aio_loop_stop(loop);
    /* stop() only asks: still running until the batch ends. */
    assert_int_equal(aio_loop_is_running(loop), 1);
}
AIO_NAME_CALLBACK(lp_check_running);

static void test_is_running_inside_and_outside(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop(&T);
    assert_int_equal(aio_loop_is_running(loop), 0);
    soon(loop, lp_check_running, loop);
    assert_int_equal(aio_loop_run_forever(loop), 0);
    assert_string_equal(T.text, "inside ");
    assert_int_equal(aio_loop_is_running(loop), 0);
    finish(loop);
}

/* --- stop ----------------------------------------------------------------------- */

static aio_loop *the_loop;

static void lp_stop_and_schedule(void *arg)
{
    trace_add(&T, "%s ", (const char *)arg);
    aio_loop_stop(the_loop);
    soon(the_loop, lp_rec, "d");
}
AIO_NAME_CALLBACK(lp_stop_and_schedule);

/* stop() mid-batch: the rest of the batch runs; what the batch scheduled
 * waits for the next run. CPython: ['a', 'b', 'c', '|', 'd']. */
static void test_stop_mid_batch(void **state)
{
    (void)state;
    aio_loop *loop = the_loop = new_traced_loop(&T);
    soon(loop, lp_stop_and_schedule, "a");
    soon(loop, lp_rec, "b");
    soon(loop, lp_rec, "c");
    assert_int_equal(aio_loop_run_forever(loop), 0);
    check_no_exception();
    trace_add(&T, "| ");
    assert_int_equal(aio_loop_is_running(loop), 0);
    soon(loop, lp_stop, loop);
    assert_int_equal(aio_loop_run_forever(loop), 0);
    assert_string_equal(T.text, "a b c | d stop ");
    finish(loop);
}

/* stop() before run_forever(): one iteration, including due timers, then
 * return. CPython: ['b', 'c'], the 10 s timer still pending. */
static void test_stop_before_run_forever(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop(&T);
    assert_int_equal(aio_loop_stop(loop), 0);
    assert_int_equal(aio_loop_stop(loop), 0); /* twice: still one iteration */
    soon(loop, lp_rec, "b");
    assert_non_null(aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = AIO_ZERO,
                                                                          .callback = lp_rec,
                                                                          .args = "c"}));
    aio_timer_handle *far = aio_loop_call_later(
        loop, &(aio_loop_call_later_args){.delay = 10, .callback = lp_rec, .args = "d"});
    assert_non_null(far);
    aio_incref(far);
    double t0 = aio_loop_time(loop);
    assert_int_equal(aio_loop_run_forever(loop), 0);
    check_no_exception();
    assert_true(aio_loop_time(loop) - t0 < 5.0); /* did not wait for the 10 s timer */
    assert_string_equal(T.text, "b c ");
    assert_int_equal(aio_loop_is_running(loop), 0);
    assert_int_equal(aio_handle_cancelled(far), 0);
    /* The stop flag was consumed: the next run needs its own stop. */
    soon(loop, lp_stop, loop);
    assert_int_equal(aio_loop_run_forever(loop), 0);
    assert_string_equal(T.text, "b c stop ");
    aio_decref(far);
    finish(loop);
}

static int resched_count;

static void lp_resched(void *loop)
{
    resched_count++;
    soon(loop, lp_resched, loop);
}
AIO_NAME_CALLBACK(lp_resched);

/* One iteration runs exactly one generation of a self-rescheduling
 * callback. */
static void test_stop_before_run_runs_one_iteration(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop(&T);
    resched_count = 0;
    soon(loop, lp_resched, loop);
    aio_loop_stop(loop);
    assert_int_equal(aio_loop_run_forever(loop), 0);
    assert_int_equal(resched_count, 1);
    aio_loop_stop(loop);
    assert_int_equal(aio_loop_run_forever(loop), 0);
    assert_int_equal(resched_count, 2);
    aio_loop_stop(loop);
    aio_loop_stop(loop);
    assert_int_equal(aio_loop_run_forever(loop), 0);
    assert_int_equal(resched_count, 3);
    finish(loop); /* the pending generation is dropped */
}

/* --- run_until_complete --------------------------------------------------------- */

static aio_future *the_future;
static int answer = 42;

static void lp_complete(void *arg)
{
    trace_add(&T, "cb1 ");
    assert_int_equal(aio_future_set_result(the_future, &answer), 0);
    soon(arg, lp_rec, "cb2");
}
AIO_NAME_CALLBACK(lp_complete);

static void lp_cb2_schedules(void *loop)
{
    trace_add(&T, "cb2 ");
    soon(loop, lp_rec, "cb3");
}
AIO_NAME_CALLBACK(lp_cb2_schedules);

static void test_run_until_complete_result(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop(&T);
    the_future = aio_loop_create_future(loop);
    assert_non_null(the_future);
    soon(loop, lp_complete, loop);
    void *result = aio_loop_run_until_complete(loop, the_future);
    check_no_exception();
    assert_ptr_equal(result, &answer);
    /* The stop is a done callback: callbacks queued before it ran too.
     * CPython: 42 ['cb1', 'cb2']. */
    assert_string_equal(T.text, "cb1 cb2 ");
    assert_int_equal(aio_loop_is_running(loop), 0);
    /* Running again on the done future: one more iteration. */
    soon(loop, lp_rec, "x");
    assert_ptr_equal(aio_loop_run_until_complete(loop, the_future), &answer);
    assert_string_equal(T.text, "cb1 cb2 x ");
    aio_decref(the_future);
    the_future = NULL;
    finish(loop);
}

static void lp_complete_then_more(void *loop)
{
    trace_add(&T, "cb1 ");
    assert_int_equal(aio_future_set_result(the_future, NULL), 0);
    soon(loop, lp_cb2_schedules, loop);
}
AIO_NAME_CALLBACK(lp_complete_then_more);

static void test_run_until_complete_stops_one_iteration_later(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop(&T);
    the_future = aio_loop_create_future(loop);
    soon(loop, lp_complete_then_more, loop);
    assert_null(aio_loop_run_until_complete(loop, the_future));
    check_no_exception(); /* a NULL result, not an error */
    assert_string_equal(T.text, "cb1 cb2 ");
    soon(loop, lp_stop, loop);
    assert_int_equal(aio_loop_run_forever(loop), 0);
    assert_string_equal(T.text, "cb1 cb2 cb3 stop ");
    aio_decref(the_future);
    the_future = NULL;
    finish(loop);
}

static void test_run_until_complete_exception(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop(&T);
    aio_future *fut = aio_loop_create_future(loop);
    aio_exc *exc = aio_exc_new(aio_ValueError, "bad");
    assert_int_equal(aio_future_set_exception(fut, exc), 0);
    assert_null(aio_loop_run_until_complete(loop, fut));
    /* The future's own exception object is raised. */
    assert_ptr_equal(aio_err_occurred(), exc);
    assert_raised(aio_ValueError, "bad");
    /* Raised again on every call. */
    assert_null(aio_loop_run_until_complete(loop, fut));
    assert_raised(aio_ValueError, "bad");
    assert_int_equal(aio_loop_is_running(loop), 0);
    aio_decref(exc);
    aio_decref(fut);
    finish(loop);
}

static void test_run_until_complete_cancelled(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop(&T);
    aio_future *fut = aio_loop_create_future(loop);
    assert_int_equal(aio_future_cancel(fut, NULL), 1);
    assert_null(aio_loop_run_until_complete(loop, fut));
    aio_exc *exc = aio_err_fetch();
    assert_non_null(exc);
    assert_true(aio_exc_isinstance(exc, aio_CancelledError));
    assert_false(aio_exc_isinstance(exc, aio_Exception)); /* a BaseException in 3.11 */
    assert_string_equal(aio_exc_str(exc), "");
    assert_null(aio_exc_message(exc)); /* CancelledError(), no args */
    aio_decref(exc);
    aio_decref(fut);

    fut = aio_loop_create_future(loop);
    assert_int_equal(aio_future_cancel(fut, &(aio_future_cancel_args){.msg = "why"}), 1);
    assert_null(aio_loop_run_until_complete(loop, fut));
    assert_raised(aio_CancelledError, "why");
    aio_decref(fut);
    finish(loop);
}

static void lp_two_iterations(void *loop)
{
    trace_add(&T, "first ");
    soon(loop, lp_stop, loop);
}
AIO_NAME_CALLBACK(lp_two_iterations);

static void test_run_until_complete_stopped_early(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop(&T);
    aio_future *fut = aio_loop_create_future(loop);
    soon(loop, lp_stop, loop);
    assert_null(aio_loop_run_until_complete(loop, fut));
    assert_raised(aio_RuntimeError, "Event loop stopped before Future completed.");
    assert_int_equal(aio_future_done(fut), 0);
    assert_int_equal(aio_loop_is_running(loop), 0);
    /* The done callback was removed: completing the future now schedules
     * nothing that would stop a later run early. */
    assert_int_equal(aio_future_set_result(fut, &answer), 0);
    soon(loop, lp_two_iterations, loop);
    assert_int_equal(aio_loop_run_forever(loop), 0);
    assert_string_equal(T.text, "stop first stop ");
    assert_ptr_equal(aio_loop_run_until_complete(loop, fut), &answer);
    aio_decref(fut);
    finish(loop);
}

static void test_run_until_complete_bad_futures(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop(&T);
    aio_loop *loop2 = aio_new_event_loop();
    aio_future *fut = aio_loop_create_future(loop2);
    assert_null(aio_loop_run_until_complete(loop, fut));
    assert_raised(aio_ValueError,
                  "The future belongs to a different loop than the one specified as the loop "
                  "argument");
    assert_null(aio_loop_run_until_complete(loop, NULL));
    assert_raised(aio_TypeError, "An asyncio.Future, a coroutine or an awaitable is required");
    assert_int_equal(aio_future_done(fut), 0);
    aio_decref(fut);
    assert_int_equal(aio_loop_close(loop2), 0);
    aio_decref(loop2);
    finish(loop);
}

static void test_null_self_lifecycle(void **state)
{
    (void)state;
    assert_int_equal(aio_loop_run_forever(NULL), -1);
    assert_raised(aio_TypeError,
                  "descriptor 'run_forever' for 'BaseEventLoop' objects doesn't apply to a "
                  "'NoneType' object");
    assert_null(aio_loop_run_until_complete(NULL, NULL));
    assert_raised(aio_TypeError, "descriptor 'run_until_complete' for 'BaseEventLoop' objects "
                                 "doesn't apply to a 'NoneType' object");
    assert_int_equal(aio_loop_stop(NULL), -1);
    assert_raised(aio_TypeError,
                  "descriptor 'stop' for 'BaseEventLoop' objects doesn't apply to a 'NoneType' "
                  "object");
    assert_int_equal(aio_loop_is_running(NULL), -1);
    assert_raised(aio_TypeError, "descriptor 'is_running' for 'BaseEventLoop' objects doesn't "
                                 "apply to a 'NoneType' object");
    assert_int_equal(aio_loop_is_closed(NULL), -1);
    assert_raised(aio_TypeError, "descriptor 'is_closed' for 'BaseEventLoop' objects doesn't "
                                 "apply to a 'NoneType' object");
    assert_int_equal(aio_loop_close(NULL), -1);
    assert_raised(aio_TypeError,
                  "descriptor 'close' for 'BaseEventLoop' objects doesn't apply to a "
                  "'NoneType' object");
    assert_int_equal(aio_loop_get_debug(NULL), -1);
    assert_raised(aio_TypeError, "descriptor 'get_debug' for 'BaseEventLoop' objects doesn't "
                                 "apply to a 'NoneType' object");
    assert_int_equal(aio_loop_set_debug(NULL, true), -1);
    assert_raised(aio_TypeError, "descriptor 'set_debug' for 'BaseEventLoop' objects doesn't "
                                 "apply to a 'NoneType' object");
    assert_true(aio_loop_slow_callback_duration(NULL) == -1.0);
    assert_raised(aio_TypeError, "descriptor 'slow_callback_duration' for 'BaseEventLoop' "
                                 "objects doesn't apply to a 'NoneType' object");
    assert_int_equal(aio_loop_set_slow_callback_duration(NULL, 1.0), -1);
    assert_raised(aio_TypeError, "descriptor 'slow_callback_duration' for 'BaseEventLoop' "
                                 "objects doesn't apply to a 'NoneType' object");
    assert_no_leaks();
}

/* --- SystemExit and KeyboardInterrupt -------------------------------------------- */

static void lp_exit(void *arg)
{
    trace_add(&T, "%s ", (const char *)arg);
    aio_err_set(aio_SystemExit, "bye");
}
AIO_NAME_CALLBACK(lp_exit);

static void lp_interrupt(void *arg)
{
    (void)arg;
    trace_add(&T, "ki ");
    aio_err_set(aio_KeyboardInterrupt, NULL);
}
AIO_NAME_CALLBACK(lp_interrupt);

/* CPython: ['a', "SystemExit('bye')", False, 'b', 'c'] and d pending. */
static void test_system_exit_leaves_rest_of_batch(void **state)
{
    (void)state;
    aio_loop *loop = the_loop = new_traced_loop(&T);
    soon(loop, lp_exit, "a");
    soon(loop, lp_stop_and_schedule, "b"); /* also schedules d and stops */
    soon(loop, lp_rec, "c");
    assert_int_equal(aio_loop_run_forever(loop), -1);
    assert_raised(aio_SystemExit, "bye");
    trace_add(&T, "| ");
    assert_int_equal(aio_loop_is_running(loop), 0);
    assert_null(aio_get_running_loop());
    assert_raised(aio_RuntimeError, "no running event loop");
    /* The exception did not leave a stop request behind, nor was the
     * exception handler involved: b and c run on the next run. */
    assert_int_equal(aio_loop_run_forever(loop), 0);
    check_no_exception();
    assert_string_equal(T.text, "a | b c ");
    soon(loop, lp_stop, loop);
    assert_int_equal(aio_loop_run_forever(loop), 0);
    assert_string_equal(T.text, "a | b c d stop ");
    finish(loop);
}

static void lp_set_answer(void *arg)
{
    (void)arg;
    trace_add(&T, "set ");
    assert_int_equal(aio_future_set_result(the_future, &answer), 0);
}
AIO_NAME_CALLBACK(lp_set_answer);

/* CPython: run_until_complete raises KeyboardInterrupt with the future
 * pending; the next run_until_complete returns its result. */
static void test_keyboard_interrupt_from_run_until_complete(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop(&T);
    the_future = aio_loop_create_future(loop);
    soon(loop, lp_interrupt, NULL);
    soon(loop, lp_set_answer, NULL);
    assert_null(aio_loop_run_until_complete(loop, the_future));
    aio_exc *exc = aio_err_fetch();
    assert_non_null(exc);
    assert_true(aio_exc_type_of(exc) == aio_KeyboardInterrupt);
    assert_false(aio_exc_isinstance(exc, aio_Exception));
    aio_decref(exc);
    assert_int_equal(aio_future_done(the_future), 0);
    assert_string_equal(T.text, "ki ");
    assert_ptr_equal(aio_loop_run_until_complete(loop, the_future), &answer);
    assert_string_equal(T.text, "ki set ");
    aio_decref(the_future);
    the_future = NULL;
    finish(loop);
}

/* --- debug mode --------------------------------------------------------------- */

static int debug_with_env(const char *debug, const char *devmode)
{
    if (debug)
        setenv("PYTHONASYNCIODEBUG", debug, 1);
    else
        unsetenv("PYTHONASYNCIODEBUG");
    if (devmode)
        setenv("PYTHONDEVMODE", devmode, 1);
    else
        unsetenv("PYTHONDEVMODE");
    aio_loop *loop = aio_new_event_loop();
    assert_non_null(loop);
    int debug_on = aio_loop_get_debug(loop);
    aio_loop_close(loop);
    aio_decref(loop);
    unsetenv("PYTHONASYNCIODEBUG");
    unsetenv("PYTHONDEVMODE");
    return debug_on;
}

static void test_debug_from_environment(void **state)
{
    (void)state;
    assert_int_equal(debug_with_env(NULL, NULL), 0);
    assert_int_equal(debug_with_env("1", NULL), 1);
    assert_int_equal(debug_with_env("0", NULL), 1); /* any non-empty value */
    assert_int_equal(debug_with_env("no", NULL), 1);
    assert_int_equal(debug_with_env("", NULL), 0);
    assert_int_equal(debug_with_env(NULL, "1"), 1); /* Python Development Mode */
    assert_int_equal(debug_with_env("", ""), 0);

    /* Read when the loop is made, not later. */
    setenv("PYTHONASYNCIODEBUG", "1", 1);
    aio_loop *loop = aio_new_event_loop();
    unsetenv("PYTHONASYNCIODEBUG");
    assert_int_equal(aio_loop_get_debug(loop), 1);
    assert_repr(loop, "<_UnixSelectorEventLoop running=False closed=False debug=True>");
    finish(loop);
}

static void test_set_debug_get_debug(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop(&T);
    assert_int_equal(aio_loop_set_debug(loop, true), 0);
    assert_int_equal(aio_loop_get_debug(loop), 1);
    assert_repr(loop, "<_UnixSelectorEventLoop running=False closed=False debug=True>");
    assert_int_equal(aio_loop_set_debug(loop, false), 0);
    assert_int_equal(aio_loop_get_debug(loop), 0);
    assert_int_equal(aio_loop_set_slow_callback_duration(loop, 0.25), 0);
    assert_true(aio_loop_slow_callback_duration(loop) == 0.25);
    assert_int_equal(aio_loop_set_slow_callback_duration(loop, AIO_ZERO), 0);
    assert_true(aio_loop_slow_callback_duration(loop) == 0.0);
    /* Works on a closed loop too. */
    assert_int_equal(aio_loop_close(loop), 0);
    assert_int_equal(aio_loop_set_debug(loop, true), 0);
    assert_int_equal(aio_loop_get_debug(loop), 1);
    finish(loop);
}

static void lp_debug_on(void *arg)
{
    assert_int_equal(aio_loop_set_debug(arg, true), 0);
}
AIO_NAME_CALLBACK(lp_debug_on);

/* CPython's set_debug() on a running loop queues a callback (to switch
 * coroutine-origin tracking) with call_soon_threadsafe; queued after stop(),
 * it is still in the ready queue when run_forever() returns (len(_ready) is
 * 1 in CPython 3.11). On a loop that is not running it queues nothing. */
static void test_set_debug_while_running_queues_callback(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop(&T);
    aio_loop_set_debug(loop, false);
    assert_non_null(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){
        .callback = lp_debug_on, .args = loop}));
    assert_non_null(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){
        .callback = stop_cb, .args = loop}));
    assert_int_equal(aio_loop_run_forever(loop), 0);
    assert_int_equal(aio_loop_get_debug(loop), 1);
    assert_int_equal(loop->ready_len, 1);
    assert_int_equal(aio_loop_set_debug(loop, false), 0);
    assert_int_equal(loop->ready_len, 1);
    finish(loop);
}

typedef struct log_capture {
    int count;       /* records */
    int slow_count;  /* records about lp_slow */
    int bad_count;   /* records that are not slow-callback warnings */
    int level;
    char message[512];
    bool had_exc;
} log_capture;

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* A loaded machine may make any callback slow: count the records about
 * lp_slow, and check every record is a slow-callback warning. */
static void capture_log(int level, const char *message, aio_exc *exc, void *arg)
{
    log_capture *cap = arg;
    cap->count++;
    if (level != AIO_LOG_WARNING || exc != NULL || strncmp(message, "Executing <Handle ", 18) != 0 ||
        !ends_with(message, " seconds"))
        cap->bad_count++;
    if (strstr(message, "lp_slow") != NULL) {
        cap->slow_count++;
        cap->level = level;
        snprintf(cap->message, sizeof cap->message, "%s", message);
        cap->had_exc = exc != NULL;
    }
}
AIO_NAME_CALLBACK(capture_log);

static void lp_slow(void *arg)
{
    (void)arg;
    sleep_ms(30);
}
AIO_NAME_CALLBACK(lp_slow);

static void lp_fast(void *arg)
{
    (void)arg;
}
AIO_NAME_CALLBACK(lp_fast);

static void test_slow_callback_warning(void **state)
{
    (void)state;
    log_capture cap = {0};
    aio_log_set_handler(capture_log, &cap);
    aio_loop *loop = new_traced_loop(&T);
    aio_loop_set_debug(loop, true);
    assert_int_equal(aio_loop_set_slow_callback_duration(loop, 0.01), 0);
    assert_true(aio_loop_slow_callback_duration(loop) == 0.01);
    soon(loop, lp_fast, NULL);
    soon(loop, lp_slow, NULL);
    soon(loop, lp_stop, loop);
    assert_int_equal(aio_loop_run_forever(loop), 0);
    aio_log_set_handler(NULL, NULL);
    check_no_exception();

    assert_int_equal(cap.bad_count, 0);
    assert_int_equal(cap.slow_count, 1);
    assert_int_equal(cap.level, AIO_LOG_WARNING);
    assert_false(cap.had_exc);
    /* CPython: 'Executing <Handle slow() at f.py:5 created at f.py:6> took
     * 0.030 seconds'; C has no source lines to show. */
    const char *prefix = "Executing <Handle lp_slow()> took ";
    if (strncmp(cap.message, prefix, strlen(prefix)) != 0 || !ends_with(cap.message, " seconds")) {
        fprintf(stderr, "unexpected message: %s\n", cap.message);
        fail();
    }
    double took = strtod(cap.message + strlen(prefix), NULL);
    assert_true(took >= 0.029 && took < 30.0);
    /* Three decimals, like %.3f. */
    const char *dot = strchr(cap.message + strlen(prefix), '.');
    assert_non_null(dot);
    assert_string_equal(dot + 4, " seconds");
    finish(loop);
}

static void test_slow_callback_not_logged_without_debug(void **state)
{
    (void)state;
    log_capture cap = {0};
    aio_log_set_handler(capture_log, &cap);
    aio_loop *loop = new_traced_loop(&T);
    aio_loop_set_debug(loop, false);
    assert_int_equal(aio_loop_set_slow_callback_duration(loop, 0.01), 0);
    soon(loop, lp_slow, NULL);
    soon(loop, lp_stop, loop);
    assert_int_equal(aio_loop_run_forever(loop), 0);
    assert_int_equal(cap.count, 0);

    /* Debug on, but the callback is well below the threshold. */
    aio_loop_set_debug(loop, true);
    assert_int_equal(aio_loop_set_slow_callback_duration(loop, 5.0), 0);
    soon(loop, lp_slow, NULL);
    soon(loop, lp_stop, loop);
    assert_int_equal(aio_loop_run_forever(loop), 0);
    aio_log_set_handler(NULL, NULL);
    assert_int_equal(cap.count, 0);
    finish(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_new_loop_initial_state),
    cmocka_unit_test(test_close_is_idempotent),
    cmocka_unit_test(test_close_drops_pending_callbacks),
    cmocka_unit_test(test_close_while_running),
    cmocka_unit_test(test_closed_loop_refuses_to_run),
    cmocka_unit_test(test_nested_and_other_loop_run),
    cmocka_unit_test(test_run_closed_loop_inside_other),
    cmocka_unit_test(test_is_running_inside_and_outside),
    cmocka_unit_test(test_stop_mid_batch),
    cmocka_unit_test(test_stop_before_run_forever),
    cmocka_unit_test(test_stop_before_run_runs_one_iteration),
    cmocka_unit_test(test_run_until_complete_result),
    cmocka_unit_test(test_run_until_complete_stops_one_iteration_later),
    cmocka_unit_test(test_run_until_complete_exception),
    cmocka_unit_test(test_run_until_complete_cancelled),
    cmocka_unit_test(test_run_until_complete_stopped_early),
    cmocka_unit_test(test_run_until_complete_bad_futures),
    cmocka_unit_test(test_null_self_lifecycle),
    cmocka_unit_test(test_system_exit_leaves_rest_of_batch),
    cmocka_unit_test(test_keyboard_interrupt_from_run_until_complete),
    cmocka_unit_test(test_debug_from_environment),
    cmocka_unit_test(test_set_debug_get_debug),
    cmocka_unit_test(test_set_debug_while_running_queues_callback),
    cmocka_unit_test(test_slow_callback_warning),
    cmocka_unit_test(test_slow_callback_not_logged_without_debug),
};

AIO_TEST_MAIN(tests)
