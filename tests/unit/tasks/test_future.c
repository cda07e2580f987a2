/* test_future.c - asyncio.Future (CPython's _asyncio.Future), see
 * ASYNCIO-SEMANTICS.md §3.
 *
 * Expected behaviour was checked against CPython 3.11.7: states, the exact
 * exceptions and messages, done callbacks (one call_soon hop, registration
 * order, the context captured when added), remove_done_callback, repr, and
 * the "exception was never retrieved" report.
 */
#include "test_support.h"

/* --- An exception handler that records what it was given ------------------ */

typedef struct report {
    int calls;
    char message[256];
    char exception[256];
    char future[256];
    aio_exc *exc_ptr;
    aio_future *fut_ptr;
    bool has_handle, has_task;
    aio_future *keep; /* resurrection: the handler keeps the future */
    bool resurrect;
} report;

static void record_handler(aio_loop *loop, const aio_exception_context *context, void *arg)
{
    (void)loop;
    report *r = arg;
    r->calls++;
    snprintf(r->message, sizeof r->message, "%s", context->message ? context->message : "");
    repr_copy(context->exception, r->exception, sizeof r->exception);
    repr_copy(context->future, r->future, sizeof r->future);
    r->exc_ptr = context->exception;
    r->fut_ptr = context->future;
    r->has_handle = context->handle != NULL;
    r->has_task = context->task != NULL;
    if (r->resurrect)
        r->keep = aio_incref(context->future);
}
AIO_NAME_CALLBACK(record_handler);

/* --- Done callbacks used by the tests --------------------------------------- */

static trace g_trace;

static void cb_a(aio_future *fut, void *arg)
{
    trace_add(&g_trace, "a(%ld,%s);", (long)(uintptr_t)arg,
              aio_future_done(fut) == 1 ? "done" : "pending");
}
AIO_NAME_CALLBACK(cb_a);

static void cb_b(aio_future *fut, void *arg)
{
    (void)fut;
    trace_add(&g_trace, "b(%ld);", (long)(uintptr_t)arg);
}
AIO_NAME_CALLBACK(cb_b);

static void cb_c(aio_future *fut, void *arg)
{
    (void)fut;
    trace_add(&g_trace, "c(%ld);", (long)(uintptr_t)arg);
}
AIO_NAME_CALLBACK(cb_c);

static void cb_d(aio_future *fut, void *arg)
{
    (void)fut;
    trace_add(&g_trace, "d(%ld);", (long)(uintptr_t)arg);
}
AIO_NAME_CALLBACK(cb_d);

static void mark(void *arg)
{
    trace_add(&g_trace, "%s;", (const char *)arg);
}
AIO_NAME_CALLBACK(mark);

static void add_cb(aio_future *fut, aio_done_callback cb, long arg)
{
    assert_int_equal(aio_future_add_done_callback(fut, &(aio_future_add_done_callback_args){
                                                           .callback = cb,
                                                           .callback_arg = P(arg)}),
                     0);
}

/* --- States, results and exceptions --------------------------------------- */

static void test_future_create_pending(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_future *fut = aio_loop_create_future(loop);
    assert_non_null(fut);
    assert_int_equal(aio_future_done(fut), 0);
    assert_int_equal(aio_future_cancelled(fut), 0);
    assert_ptr_equal(aio_future_get_loop(fut), loop);
    assert_repr(fut, "<Future pending>");

    assert_null(aio_future_result(fut));
    assert_raised(aio_InvalidStateError, "Result is not set.");
    assert_null(aio_future_exception(fut));
    assert_raised(aio_InvalidStateError, "Exception is not set.");
    /* still pending after the failed reads */
    assert_int_equal(aio_future_done(fut), 0);

    aio_decref(fut);
    finish(loop);
}

static void test_future_set_result(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_future *fut = aio_loop_create_future(loop);
    assert_int_equal(aio_future_set_result(fut, NULL), 0);
    assert_int_equal(aio_future_done(fut), 1);
    assert_int_equal(aio_future_cancelled(fut), 0);
    assert_repr(fut, "<Future finished result=None>");
    assert_null(aio_future_result(fut));
    assert_null(aio_err_occurred()); /* None, not an error */
    assert_null(aio_future_exception(fut));
    assert_null(aio_err_occurred());

    /* set_result / set_exception on a done future: InvalidStateError */
    assert_int_equal(aio_future_set_result(fut, P(1)), -1);
    assert_raised(aio_InvalidStateError, "invalid state");
    aio_exc *exc = aio_exc_new(aio_ValueError, NULL);
    assert_int_equal(aio_future_set_exception(fut, exc), -1);
    assert_raised(aio_InvalidStateError, "invalid state");
    aio_decref(exc);
    /* the result did not change */
    assert_null(aio_future_result(fut));
    assert_null(aio_err_occurred());
    aio_decref(fut);

    /* A pointer result comes back as is. */
    static int value = 42;
    fut = aio_loop_create_future(loop);
    assert_int_equal(aio_future_set_result(fut, &value), 0);
    assert_ptr_equal(aio_future_result(fut), &value);
    assert_ptr_equal(aio_future_result(fut), &value); /* as often as asked */
    char expected[64];
    snprintf(expected, sizeof expected, "<Future finished result=%p>", (void *)&value);
    assert_repr(fut, expected);
    aio_decref(fut);

    finish(loop);
}

static void test_future_set_exception(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_future *fut = aio_loop_create_future(loop);
    aio_exc *exc = aio_exc_new(aio_RuntimeError, "boom");
    assert_int_equal(aio_future_set_exception(fut, exc), 0);
    aio_decref(exc); /* the future holds its own reference */
    assert_int_equal(aio_future_done(fut), 1);
    assert_int_equal(aio_future_cancelled(fut), 0);
    assert_repr(fut, "<Future finished exception=RuntimeError('boom')>");

    /* exception() returns the stored one (borrowed) */
    assert_ptr_equal(aio_future_exception(fut), exc);
    assert_null(aio_err_occurred());
    /* result() raises that very exception */
    assert_null(aio_future_result(fut));
    assert_ptr_equal(aio_err_occurred(), exc);
    assert_raised(aio_RuntimeError, "boom");

    assert_int_equal(aio_future_set_exception(fut, exc), -1);
    assert_raised(aio_InvalidStateError, "invalid state");
    assert_int_equal(aio_future_set_result(fut, NULL), -1);
    assert_raised(aio_InvalidStateError, "invalid state");
    assert_ptr_equal(aio_future_exception(fut), exc);

    aio_decref(fut);
    finish(loop);
}

static const aio_exc_type MyStop[1] = {{"MyStop", "__main__", aio_StopIteration, NULL}};

static void test_future_set_exception_bad(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_future *fut = aio_loop_create_future(loop);

    assert_int_equal(aio_future_set_exception(fut, NULL), -1);
    assert_raised(aio_TypeError, "invalid exception object");
    assert_int_equal(aio_future_done(fut), 0);

    aio_exc *stop = aio_exc_new(aio_StopIteration, NULL);
    assert_int_equal(aio_future_set_exception(fut, stop), -1);
    assert_raised(aio_TypeError, "StopIteration interacts badly with generators and cannot be "
                                 "raised into a Future");
    aio_decref(stop);
    /* the future stays pending and usable */
    assert_int_equal(aio_future_done(fut), 0);
    assert_repr(fut, "<Future pending>");

    /* 3.11 checks the exact type: a StopIteration subclass is stored. */
    aio_exc *mine = aio_exc_new(MyStop, NULL);
    assert_int_equal(aio_future_set_exception(fut, mine), 0);
    assert_ptr_equal(aio_future_exception(fut), mine);
    aio_decref(mine);
    aio_decref(fut);

    /* After a refused StopIteration, set_result still works. */
    fut = aio_loop_create_future(loop);
    stop = aio_exc_new(aio_StopIteration, "x");
    assert_int_equal(aio_future_set_exception(fut, stop), -1);
    assert_raised(aio_TypeError, NULL);
    aio_decref(stop);
    assert_int_equal(aio_future_set_result(fut, P(3)), 0);
    assert_ptr_equal(aio_future_result(fut), P(3));
    aio_decref(fut);

    finish(loop);
}

static void test_future_cancel(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_future *fut = aio_loop_create_future(loop);
    /* NULL args: msg=None */
    assert_int_equal(aio_future_cancel(fut, NULL), 1);
    assert_int_equal(aio_future_cancel(fut, NULL), 0);
    assert_int_equal(aio_future_cancelled(fut), 1);
    assert_int_equal(aio_future_done(fut), 1);
    assert_repr(fut, "<Future cancelled>");

    /* CancelledError() without arguments: str '' */
    assert_null(aio_future_result(fut));
    aio_exc *exc = aio_err_fetch();
    assert_non_null(exc);
    assert_ptr_equal(aio_exc_type_of(exc), aio_CancelledError);
    assert_string_equal(aio_exc_str(exc), "");
    assert_null(aio_exc_message(exc));
    assert_repr(exc, "CancelledError()");
    aio_decref(exc);
    assert_null(aio_future_exception(fut));
    assert_raised(aio_CancelledError, "");

    assert_int_equal(aio_future_set_result(fut, NULL), -1);
    assert_raised(aio_InvalidStateError, "invalid state");
    aio_decref(fut);

    /* cancel(msg): CancelledError(msg) */
    fut = aio_loop_create_future(loop);
    assert_int_equal(aio_future_cancel(fut, &(aio_future_cancel_args){.msg = "bye"}), 1);
    assert_int_equal(aio_future_cancel(fut, &(aio_future_cancel_args){.msg = "again"}), 0);
    assert_null(aio_future_result(fut));
    exc = aio_err_fetch();
    assert_true(aio_exc_isinstance(exc, aio_CancelledError));
    assert_false(aio_exc_isinstance(exc, aio_Exception));
    assert_string_equal(aio_exc_str(exc), "bye");
    assert_string_equal(aio_exc_message(exc), "bye");
    assert_repr(exc, "CancelledError('bye')");
    aio_decref(exc);
    assert_null(aio_future_exception(fut));
    assert_raised(aio_CancelledError, "bye");
    aio_decref(fut);

    /* The message is copied. */
    char msg[] = "copied";
    fut = aio_loop_create_future(loop);
    aio_future_cancel(fut, &(aio_future_cancel_args){.msg = msg});
    msg[0] = 'X';
    assert_null(aio_future_result(fut));
    assert_raised(aio_CancelledError, "copied");
    aio_decref(fut);

    /* cancel() on a finished future: False, nothing changes. */
    fut = aio_loop_create_future(loop);
    aio_future_set_result(fut, P(5));
    assert_int_equal(aio_future_cancel(fut, NULL), 0);
    assert_int_equal(aio_future_cancelled(fut), 0);
    assert_ptr_equal(aio_future_result(fut), P(5));
    aio_decref(fut);

    finish(loop);
}

static void test_future_null_self(void **state)
{
    (void)state;
#define NULL_SELF(name) \
    "descriptor '" name "' for 'Future' objects doesn't apply to a 'NoneType' object"
    assert_null(aio_future_result(NULL));
    assert_raised(aio_TypeError, NULL_SELF("result"));
    assert_null(aio_future_exception(NULL));
    assert_raised(aio_TypeError, NULL_SELF("exception"));
    assert_int_equal(aio_future_set_result(NULL, NULL), -1);
    assert_raised(aio_TypeError, NULL_SELF("set_result"));
    aio_exc *exc = aio_exc_new(aio_ValueError, NULL);
    assert_int_equal(aio_future_set_exception(NULL, exc), -1);
    assert_raised(aio_TypeError, NULL_SELF("set_exception"));
    aio_decref(exc);
    assert_int_equal(aio_future_done(NULL), -1);
    assert_raised(aio_TypeError, NULL_SELF("done"));
    assert_int_equal(aio_future_cancelled(NULL), -1);
    assert_raised(aio_TypeError, NULL_SELF("cancelled"));
    assert_int_equal(aio_future_cancel(NULL, NULL), -1);
    assert_raised(aio_TypeError, NULL_SELF("cancel"));
    assert_int_equal(aio_future_add_done_callback(NULL, &(aio_future_add_done_callback_args){
                                                            .callback = cb_a}),
                     -1);
    assert_raised(aio_TypeError, NULL_SELF("add_done_callback"));
    assert_int_equal(aio_future_remove_done_callback(NULL, cb_a, NULL), -1);
    assert_raised(aio_TypeError, NULL_SELF("remove_done_callback"));
    assert_null(aio_future_get_loop(NULL));
    assert_raised(aio_TypeError, NULL_SELF("get_loop"));
#undef NULL_SELF
    assert_null(aio_loop_create_future(NULL));
    assert_raised(aio_TypeError, "descriptor 'create_future' for 'BaseEventLoop' objects "
                                 "doesn't apply to a 'NoneType' object");
    assert_no_leaks();
}

/* --- Done callbacks ---------------------------------------------------------- */

static aio_future *g_fut;

static void complete_g_fut(void *arg)
{
    trace_add(&g_trace, "set;");
    assert_int_equal(aio_future_set_result(g_fut, arg), 0);
    trace_add(&g_trace, "after-set;"); /* callbacks are never called directly */
}
AIO_NAME_CALLBACK(complete_g_fut);

static void test_future_callbacks_order_and_hop(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    g_fut = aio_loop_create_future(loop);
    add_cb(g_fut, cb_a, 1);
    add_cb(g_fut, cb_b, 2);
    add_cb(g_fut, cb_a, 3);
    assert_string_equal(g_trace.text, "");

    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = complete_g_fut});
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = mark, .args = "m1"});
    /* iteration 1: the future completes; its callbacks wait for the next one */
    run_one_iteration(loop);
    assert_string_equal(g_trace.text, "set;after-set;m1;");
    /* iteration 2: the callbacks, in registration order */
    run_one_iteration(loop);
    assert_string_equal(g_trace.text, "set;after-set;m1;a(1,done);b(2);a(3,done);");
    /* once run, they are gone */
    run_one_iteration(loop);
    assert_string_equal(g_trace.text, "set;after-set;m1;a(1,done);b(2);a(3,done);");
    assert_repr(g_fut, "<Future finished result=None>");

    aio_decref(g_fut);
    finish(loop);
}

static void test_future_callbacks_after_call_soon_order(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    aio_future *fut = aio_loop_create_future(loop);
    add_cb(fut, cb_a, 1);
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = mark, .args = "before"});
    /* completing outside the loop schedules the callbacks with call_soon now */
    assert_int_equal(aio_future_set_result(fut, NULL), 0);
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = mark, .args = "after"});
    assert_string_equal(g_trace.text, "");
    run_one_iteration(loop);
    assert_string_equal(g_trace.text, "before;a(1,done);after;");
    aio_decref(fut);
    finish(loop);
}

static void test_future_add_done_callback_on_done(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    aio_future *fut = aio_loop_create_future(loop);
    aio_future_set_result(fut, NULL);
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = mark, .args = "x"});
    /* already done: scheduled with call_soon at once, not called */
    add_cb(fut, cb_b, 7);
    assert_string_equal(g_trace.text, "");
    assert_repr(fut, "<Future finished result=None>"); /* not stored */
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = mark, .args = "y"});
    /* remove_done_callback does not reach a callback already scheduled */
    assert_int_equal(aio_future_remove_done_callback(fut, cb_b, P(7)), 0);
    run_one_iteration(loop);
    assert_string_equal(g_trace.text, "x;b(7);y;");

    /* A cancelled future is done too. */
    aio_future *cancelled = aio_loop_create_future(loop);
    aio_future_cancel(cancelled, NULL);
    add_cb(cancelled, cb_c, 8);
    run_one_iteration(loop);
    assert_string_equal(g_trace.text, "x;b(7);y;c(8);");

    aio_decref(cancelled);
    aio_decref(fut);
    finish(loop);
}

static void test_future_cancel_schedules_callbacks(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    aio_future *fut = aio_loop_create_future(loop);
    add_cb(fut, cb_c, 1);
    add_cb(fut, cb_d, 2);
    assert_int_equal(aio_future_cancel(fut, &(aio_future_cancel_args){.msg = "m"}), 1);
    assert_repr(fut, "<Future cancelled>");
    assert_string_equal(g_trace.text, "");
    run_one_iteration(loop);
    assert_string_equal(g_trace.text, "c(1);d(2);");
    aio_decref(fut);
    finish(loop);
}

/* The future passed to a callback stays alive while the callback is pending. */
static void test_future_callback_keeps_future_alive(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    aio_future *fut = aio_loop_create_future(loop);
    add_cb(fut, cb_a, 1);
    aio_future_set_result(fut, NULL);
    aio_decref(fut); /* only the scheduled callback holds it now */
    run_one_iteration(loop);
    assert_string_equal(g_trace.text, "a(1,done);");
    finish(loop);
}

/* --- Contexts of done callbacks -------------------------------------------- */

static aio_contextvar *g_var;

static long current_value(void)
{
    return (long)(uintptr_t)aio_contextvar_get_or(g_var, P(0));
}

static void cb_ctx(aio_future *fut, void *arg)
{
    (void)fut;
    trace_add(&g_trace, "%s=%ld;", (const char *)arg, current_value());
    aio_contextvar_token *t = aio_contextvar_set(g_var, P(99));
    aio_decref(t);
}
AIO_NAME_CALLBACK(cb_ctx);

static void set_var_7(void *arg)
{
    (void)arg;
    set_contextvar(g_var, 7);
}
AIO_NAME_CALLBACK(set_var_7);

static void test_future_callback_context_captured_at_add(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    g_var = aio_contextvar_new("v");
    aio_loop *loop = new_loop();
    aio_future *fut = aio_loop_create_future(loop);

    set_contextvar(g_var, 1);
    aio_future_add_done_callback(fut, &(aio_future_add_done_callback_args){
                                          .callback = cb_ctx, .callback_arg = "first"});
    set_contextvar(g_var, 2);
    aio_future_add_done_callback(fut, &(aio_future_add_done_callback_args){
                                          .callback = cb_ctx, .callback_arg = "second"});
    set_contextvar(g_var, 3);
    /* the callbacks run in the contexts captured when they were added,
     * not the one current at set_result(); the first's set does not leak */
    assert_int_equal(aio_future_set_result(fut, NULL), 0);
    run_one_iteration(loop);
    assert_string_equal(g_trace.text, "first=1;second=2;");
    assert_int_equal(current_value(), 3);

    /* On a done future the context is captured at add time too. */
    memset(&g_trace, 0, sizeof g_trace);
    set_contextvar(g_var, 4);
    aio_future_add_done_callback(fut, &(aio_future_add_done_callback_args){
                                          .callback = cb_ctx, .callback_arg = "done"});
    set_contextvar(g_var, 5);
    run_one_iteration(loop);
    assert_string_equal(g_trace.text, "done=4;");
    assert_int_equal(current_value(), 5);

    aio_decref(fut);
    close_loop(loop);
    aio_decref(g_var);
    assert_no_leaks();
}

static void test_future_callback_explicit_context(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    g_var = aio_contextvar_new("v");
    aio_loop *loop = new_loop();
    aio_context *ctx = aio_context_new();
    assert_int_equal(aio_context_run(ctx, set_var_7, NULL), 0);
    set_contextvar(g_var, 1);

    aio_future *fut = aio_loop_create_future(loop);
    aio_future_add_done_callback(fut, &(aio_future_add_done_callback_args){
                                          .callback = cb_ctx, .callback_arg = "p",
                                          .context = ctx});
    aio_future_add_done_callback(fut, &(aio_future_add_done_callback_args){
                                          .callback = cb_ctx, .callback_arg = "q",
                                          .context = ctx});
    aio_future_add_done_callback(fut, &(aio_future_add_done_callback_args){
                                          .callback = cb_ctx, .callback_arg = "r"});
    aio_future_set_result(fut, NULL);
    /* the future can go: its callbacks hold what they need */
    aio_decref(fut);
    run_one_iteration(loop);
    /* p and q share ctx, so q sees p's change; r ran in a copy of the caller's */
    assert_string_equal(g_trace.text, "p=7;q=99;r=1;");
    void *value = NULL;
    assert_int_equal(aio_context_get(ctx, g_var, &value), 1);
    assert_ptr_equal(value, P(99));
    assert_int_equal(current_value(), 1);

    /* context= on an already-done future */
    memset(&g_trace, 0, sizeof g_trace);
    fut = aio_loop_create_future(loop);
    aio_future_set_result(fut, NULL);
    aio_context *ctx2 = aio_context_new();
    aio_future_add_done_callback(fut, &(aio_future_add_done_callback_args){
                                          .callback = cb_ctx, .callback_arg = "s",
                                          .context = ctx2});
    aio_decref(ctx2); /* the scheduled callback keeps it */
    run_one_iteration(loop);
    assert_string_equal(g_trace.text, "s=0;");

    aio_decref(fut);
    aio_decref(ctx);
    close_loop(loop);
    aio_decref(g_var);
    assert_no_leaks();
}

/* add_done_callback(None): accepted (the C Future does not check), shown as
 * None() in the repr, and failing when run. CPython: '<Future pending
 * cb=[None()]>', then 'Exception in callback None(<Future finished
 * result=None>)' with TypeError("'NoneType' object is not callable") and
 * handle '<Handle>'. NULL args is the same as a NULL callback. */
static void test_future_null_callback(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    report r = {0};
    aio_loop_set_exception_handler(loop, record_handler, &r);
    aio_future *fut = aio_loop_create_future(loop);
    assert_int_equal(aio_future_add_done_callback(fut, NULL), 0);
    assert_repr(fut, "<Future pending cb=[None()]>");
    add_cb(fut, cb_b, 1);
    assert_repr(fut, "<Future pending cb=[None(), cb_b()]>");
    aio_future_set_result(fut, NULL);
    run_one_iteration(loop);
    assert_int_equal(r.calls, 1);
    assert_string_equal(r.message, "Exception in callback None(<Future finished result=None>)");
    assert_string_equal(r.exception, "TypeError(\"'NoneType' object is not callable\")");
    assert_true(r.has_handle);
    /* the failure did not stop the next callback */
    assert_string_equal(g_trace.text, "b(1);");
    aio_decref(fut);
    finish(loop);
}

/* --- remove_done_callback -------------------------------------------------- */

static void test_future_remove_done_callback(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    aio_future *fut = aio_loop_create_future(loop);
    add_cb(fut, cb_a, 1);
    add_cb(fut, cb_b, 1);
    add_cb(fut, cb_a, 1);
    add_cb(fut, cb_a, 2); /* same function, another argument */
    add_cb(fut, cb_c, 1);

    /* every registration equal in function AND argument goes */
    assert_int_equal(aio_future_remove_done_callback(fut, cb_a, P(1)), 2);
    assert_int_equal(aio_future_remove_done_callback(fut, cb_a, P(1)), 0);
    assert_int_equal(aio_future_remove_done_callback(fut, cb_d, P(1)), 0);
    assert_int_equal(aio_future_remove_done_callback(fut, cb_c, P(2)), 0);
    assert_int_equal(aio_future_remove_done_callback(fut, NULL, NULL), 0);
    assert_repr(fut, "<Future pending cb=[cb_b(), <1 more>, cb_c()]>");
    assert_int_equal(aio_future_remove_done_callback(fut, cb_c, P(1)), 1);
    assert_repr(fut, "<Future pending cb=[cb_b(), cb_a()]>");

    aio_future_set_result(fut, NULL);
    run_one_iteration(loop);
    assert_string_equal(g_trace.text, "b(1);a(2,done);");

    /* nothing left to remove on a done future */
    assert_int_equal(aio_future_remove_done_callback(fut, cb_b, P(1)), 0);
    aio_decref(fut);
    finish(loop);
}

/* --- repr ------------------------------------------------------------------- */

static void test_future_repr_callbacks(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_future *fut = aio_loop_create_future(loop);
    add_cb(fut, cb_a, 0);
    assert_repr(fut, "<Future pending cb=[cb_a()]>");
    add_cb(fut, cb_b, 0);
    assert_repr(fut, "<Future pending cb=[cb_a(), cb_b()]>");
    add_cb(fut, cb_a, 0);
    assert_repr(fut, "<Future pending cb=[cb_a(), <1 more>, cb_a()]>");
    add_cb(fut, cb_b, 0);
    assert_repr(fut, "<Future pending cb=[cb_a(), <2 more>, cb_b()]>");
    add_cb(fut, cb_c, 0);
    assert_repr(fut, "<Future pending cb=[cb_a(), <3 more>, cb_c()]>");
    /* once done, the callbacks are scheduled and no longer shown */
    aio_exc *exc = aio_exc_new(aio_RuntimeError, "boom");
    aio_future_set_exception(fut, exc);
    aio_decref(exc);
    assert_repr(fut, "<Future finished exception=RuntimeError('boom')>");
    aio_future_exception(fut);
    run_one_iteration(loop);
    aio_decref(fut);

    fut = aio_loop_create_future(loop);
    aio_future_cancel(fut, &(aio_future_cancel_args){.msg = "not shown"});
    assert_repr(fut, "<Future cancelled>");
    aio_decref(fut);

    fut = aio_loop_create_future(loop);
    exc = aio_exc_new(aio_KeyError, "it's");
    aio_future_set_exception(fut, exc);
    aio_decref(exc);
    assert_repr(fut, "<Future finished exception=KeyError(\"it's\")>");
    aio_future_exception(fut);
    aio_decref(fut);

    fut = aio_loop_create_future(loop);
    exc = aio_exc_from_errno(111);
    aio_future_set_exception(fut, exc);
    aio_decref(exc);
    assert_repr(fut, "<Future finished exception=ConnectionRefusedError(111, 'Connection "
                     "refused')>");
    aio_future_exception(fut);
    aio_decref(fut);

    finish(loop);
}

/* --- "Future exception was never retrieved" --------------------------------- */

static void test_future_never_retrieved_reported(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    report r = {0};
    aio_loop_set_exception_handler(loop, record_handler, &r);
    aio_future *fut = aio_loop_create_future(loop);
    aio_exc *exc = aio_exc_new(aio_RuntimeError, "boom");
    aio_future_set_exception(fut, exc);
    assert_int_equal(r.calls, 0);
    aio_decref(fut);
    assert_int_equal(r.calls, 1);
    assert_string_equal(r.message, "Future exception was never retrieved");
    assert_ptr_equal(r.exc_ptr, exc);
    assert_string_equal(r.exception, "RuntimeError('boom')");
    assert_ptr_equal(r.fut_ptr, fut);
    assert_string_equal(r.future, "<Future finished exception=RuntimeError('boom')>");
    assert_false(r.has_handle);
    assert_false(r.has_task);
    assert_null(aio_err_occurred());
    aio_decref(exc);

    /* The loop need not be open: CPython reports from __del__ regardless. */
    fut = aio_loop_create_future(loop);
    exc = aio_exc_new(aio_ValueError, NULL);
    aio_future_set_exception(fut, exc);
    aio_decref(exc);
    assert_int_equal(aio_loop_close(loop), 0);
    aio_decref(fut);
    assert_int_equal(r.calls, 2);
    assert_string_equal(r.exception, "ValueError()");

    aio_decref(loop);
    assert_no_leaks();
}

static void test_future_never_retrieved_not_when_read(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    report r = {0};
    aio_loop_set_exception_handler(loop, record_handler, &r);

    /* exception() */
    aio_future *fut = aio_loop_create_future(loop);
    aio_exc *exc = aio_exc_new(aio_RuntimeError, "boom");
    aio_future_set_exception(fut, exc);
    aio_future_exception(fut);
    aio_decref(fut);
    /* result() */
    fut = aio_loop_create_future(loop);
    aio_future_set_exception(fut, exc);
    assert_null(aio_future_result(fut));
    assert_raised(aio_RuntimeError, "boom");
    aio_decref(fut);
    /* cancel() on the finished future returns False but clears the flag */
    fut = aio_loop_create_future(loop);
    aio_future_set_exception(fut, exc);
    assert_int_equal(aio_future_cancel(fut, NULL), 0);
    assert_int_equal(aio_future_cancelled(fut), 0);
    aio_decref(fut);
    /* cancelled, results, pending futures: nothing to report */
    fut = aio_loop_create_future(loop);
    aio_future_cancel(fut, NULL);
    aio_decref(fut);
    fut = aio_loop_create_future(loop);
    aio_future_set_result(fut, NULL);
    aio_decref(fut);
    fut = aio_loop_create_future(loop);
    aio_decref(fut);

    assert_int_equal(r.calls, 0);
    aio_decref(exc);
    finish(loop);
}

/* A failed read (pending future) does not count as retrieving. */
static void test_future_never_retrieved_after_done_callbacks(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    report r = {0};
    aio_loop_set_exception_handler(loop, record_handler, &r);
    aio_future *fut = aio_loop_create_future(loop);
    add_cb(fut, cb_b, 1);
    aio_exc *exc = aio_exc_new(aio_RuntimeError, "late");
    aio_future_set_exception(fut, exc);
    aio_decref(exc);
    aio_decref(fut);
    /* the scheduled callback still holds the future */
    assert_int_equal(r.calls, 0);
    memset(&g_trace, 0, sizeof g_trace);
    run_one_iteration(loop);
    assert_string_equal(g_trace.text, "b(1);");
    /* dropped after the callback ran: reported then */
    assert_int_equal(r.calls, 1);
    assert_string_equal(r.future, "<Future finished exception=RuntimeError('late')>");
    finish(loop);
}

static void test_future_never_retrieved_resurrection(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    report r = {0};
    r.resurrect = true;
    aio_loop_set_exception_handler(loop, record_handler, &r);
    aio_future *fut = aio_loop_create_future(loop);
    aio_exc *exc = aio_exc_new(aio_RuntimeError, "boom");
    aio_future_set_exception(fut, exc);
    aio_decref(exc);
    aio_decref(fut);
    assert_int_equal(r.calls, 1);
    /* the handler kept the future: still usable */
    assert_ptr_equal(r.keep, fut);
    assert_int_equal(aio_future_done(r.keep), 1);
    assert_repr(r.keep, "<Future finished exception=RuntimeError('boom')>");
    assert_ptr_equal(aio_future_get_loop(r.keep), loop);
    /* releasing it later frees it without a second report */
    r.resurrect = false;
    aio_decref(r.keep);
    assert_int_equal(r.calls, 1);
    finish(loop);
}

/* The default handler: one ERROR record through the log. */
static void test_future_never_retrieved_default_handler(void **state)
{
    (void)state;
    log_record rec;
    log_record_start(&rec);
    aio_loop *loop = new_loop();
    aio_future *fut = aio_loop_create_future(loop);
    aio_exc *exc = aio_exc_new(aio_RuntimeError, "boom");
    aio_future_set_exception(fut, exc);
    aio_decref(exc);
    aio_decref(fut);
    assert_int_equal(rec.count, 1);
    assert_int_equal(rec.level, AIO_LOG_ERROR);
    assert_string_equal(rec.message, "Future exception was never retrieved\n"
                                     "future: <Future finished exception=RuntimeError('boom')>");
    assert_string_equal(rec.exc, "RuntimeError('boom')");
    log_record_stop();
    finish(loop);
}

/* An exception being handled by the caller survives the report. */
static void test_future_never_retrieved_keeps_current_exception(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    report r = {0};
    aio_loop_set_exception_handler(loop, record_handler, &r);
    aio_future *fut = aio_loop_create_future(loop);
    aio_exc *exc = aio_exc_new(aio_RuntimeError, "boom");
    aio_future_set_exception(fut, exc);
    aio_decref(exc);
    aio_err_set(aio_ValueError, "in flight");
    aio_decref(fut);
    assert_int_equal(r.calls, 1);
    assert_raised(aio_ValueError, "in flight");
    finish(loop);
}

/* --- A closed loop ----------------------------------------------------------- */

static void test_future_closed_loop(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_future *with_cb = aio_loop_create_future(loop);
    add_cb(with_cb, cb_a, 1);
    aio_future *cancel_cb = aio_loop_create_future(loop);
    add_cb(cancel_cb, cb_a, 2);
    aio_future *plain = aio_loop_create_future(loop);
    aio_future *plain2 = aio_loop_create_future(loop);
    assert_int_equal(aio_loop_close(loop), 0);

    /* set_result with callbacks: the state changes, then call_soon fails */
    assert_int_equal(aio_future_set_result(with_cb, P(1)), -1);
    assert_raised(aio_RuntimeError, "Event loop is closed");
    assert_int_equal(aio_future_done(with_cb), 1);
    assert_ptr_equal(aio_future_result(with_cb), P(1));
    assert_null(aio_err_occurred());
    char expected[64];
    snprintf(expected, sizeof expected, "<Future finished result=%p>", P(1));
    assert_repr(with_cb, expected); /* the callbacks are gone */

    /* cancel with callbacks: RuntimeError, but cancelled */
    assert_int_equal(aio_future_cancel(cancel_cb, NULL), -1);
    assert_raised(aio_RuntimeError, "Event loop is closed");
    assert_int_equal(aio_future_cancelled(cancel_cb), 1);

    /* without callbacks nothing needs the loop */
    assert_int_equal(aio_future_set_result(plain, NULL), 0);
    assert_int_equal(aio_future_cancel(plain2, NULL), 1);

    /* add_done_callback on a done future calls call_soon: closed */
    assert_int_equal(aio_future_add_done_callback(plain, &(aio_future_add_done_callback_args){
                                                             .callback = cb_a}),
                     -1);
    assert_raised(aio_RuntimeError, "Event loop is closed");
    /* on a pending future it only stores the callback */
    aio_future *pending = aio_loop_create_future(loop);
    assert_non_null(pending);
    add_cb(pending, cb_a, 3);
    assert_repr(pending, "<Future pending cb=[cb_a()]>");

    aio_decref(pending);
    aio_decref(with_cb);
    aio_decref(cancel_cb);
    aio_decref(plain);
    aio_decref(plain2);
    aio_decref(loop);
    assert_no_leaks();
}

/* The future keeps its loop alive. */
static void test_future_holds_loop(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_future *fut = aio_loop_create_future(loop);
    assert_int_equal(aio_loop_close(loop), 0);
    aio_decref(loop);
    assert_ptr_equal(aio_future_get_loop(fut), loop);
    assert_int_equal(aio_loop_is_closed(aio_future_get_loop(fut)), 1);
    aio_decref(fut);
    assert_no_leaks();
}

/* run_until_complete() with a future completed by a callback. */
static void complete_with_arg(void *arg)
{
    aio_future_set_result(g_fut, arg);
}
AIO_NAME_CALLBACK(complete_with_arg);

static void test_future_run_until_complete(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    g_fut = aio_loop_create_future(loop);
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = complete_with_arg,
                                                        .args = P(77)});
    assert_ptr_equal(aio_loop_run_until_complete(loop, g_fut), P(77));
    assert_null(aio_err_occurred());
    aio_decref(g_fut);

    /* a future holding an exception: run_until_complete raises it */
    g_fut = aio_loop_create_future(loop);
    aio_exc *exc = aio_exc_new(aio_KeyError, "k");
    aio_future_set_exception(g_fut, exc);
    aio_decref(exc);
    assert_null(aio_loop_run_until_complete(loop, g_fut));
    assert_raised(aio_KeyError, "'k'");
    aio_decref(g_fut);

    /* a cancelled one raises CancelledError */
    g_fut = aio_loop_create_future(loop);
    aio_future_cancel(g_fut, &(aio_future_cancel_args){.msg = "stop"});
    assert_null(aio_loop_run_until_complete(loop, g_fut));
    assert_raised(aio_CancelledError, "stop");
    aio_decref(g_fut);
    finish(loop);
}


/* The first done callback is kept in the future itself, the others in an
 * array made when the second comes: callbacks added, removed and added
 * again across that edge run in the order they were added, and an array
 * that cannot be made raises MemoryError, leaving those already added. */
typedef struct cb_trace {
    int order[16];
    int n;
} cb_trace;

static cb_trace the_trace;

static void trace_cb(aio_future *fut, void *arg)
{
    (void)fut;
    if (the_trace.n < 16)
        the_trace.order[the_trace.n++] = (int)(intptr_t)arg;
}
AIO_NAME_CALLBACK(trace_cb);

static void add_trace(aio_future *fut, int which)
{
    assert_int_equal(aio_future_add_done_callback(
                         fut, &(aio_future_add_done_callback_args){trace_cb, P(which), NULL}),
                     0);
}

static void test_future_callbacks_inline_then_array(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_future *fut = aio_loop_create_future(loop);
    memset(&the_trace, 0, sizeof the_trace);
    add_trace(fut, 1);
    assert_int_equal(aio_future_remove_done_callback(fut, trace_cb, P(1)), 1);
    add_trace(fut, 2); /* in the inline place again */
    /* The array for a second one cannot be made: MemoryError, the first
     * one kept. */
    aio__fail_alloc_after = 0;
    assert_int_equal(aio_future_add_done_callback(
                         fut, &(aio_future_add_done_callback_args){trace_cb, P(3), NULL}),
                     -1);
    assert_raised(aio_MemoryError, NULL);
    aio__fail_alloc_after = -1;
    add_trace(fut, 3);
    add_trace(fut, 4);
    add_trace(fut, 5);
    assert_int_equal(aio_future_remove_done_callback(fut, trace_cb, P(2)), 1);
    add_trace(fut, 6);
    assert_int_equal(aio_future_set_result(fut, NULL), 0);
    run_one_iteration(loop);
    assert_int_equal(the_trace.n, 4);
    assert_int_equal(the_trace.order[0], 3);
    assert_int_equal(the_trace.order[1], 4);
    assert_int_equal(the_trace.order[2], 5);
    assert_int_equal(the_trace.order[3], 6);
    aio_decref(fut);

    /* 10^4 futures with one callback, and as many with three, freed
     * pending (their callbacks dropped unrun). */
    for (int i = 0; i < 10000; i++) {
        fut = aio_loop_create_future(loop);
        assert_non_null(fut);
        for (int k = 0; k <= (i % 2) * 2; k++)
            add_trace(fut, 100 + k);
        aio_decref(fut);
    }
    assert_int_equal(the_trace.n, 4);
    finish(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_future_callbacks_inline_then_array),
    cmocka_unit_test(test_future_create_pending),
    cmocka_unit_test(test_future_set_result),
    cmocka_unit_test(test_future_set_exception),
    cmocka_unit_test(test_future_set_exception_bad),
    cmocka_unit_test(test_future_cancel),
    cmocka_unit_test(test_future_null_self),
    cmocka_unit_test(test_future_callbacks_order_and_hop),
    cmocka_unit_test(test_future_callbacks_after_call_soon_order),
    cmocka_unit_test(test_future_add_done_callback_on_done),
    cmocka_unit_test(test_future_cancel_schedules_callbacks),
    cmocka_unit_test(test_future_callback_keeps_future_alive),
    cmocka_unit_test(test_future_callback_context_captured_at_add),
    cmocka_unit_test(test_future_callback_explicit_context),
    cmocka_unit_test(test_future_null_callback),
    cmocka_unit_test(test_future_remove_done_callback),
    cmocka_unit_test(test_future_repr_callbacks),
    cmocka_unit_test(test_future_never_retrieved_reported),
    cmocka_unit_test(test_future_never_retrieved_not_when_read),
    cmocka_unit_test(test_future_never_retrieved_after_done_callbacks),
    cmocka_unit_test(test_future_never_retrieved_resurrection),
    cmocka_unit_test(test_future_never_retrieved_default_handler),
    cmocka_unit_test(test_future_never_retrieved_keeps_current_exception),
    cmocka_unit_test(test_future_closed_loop),
    cmocka_unit_test(test_future_holds_loop),
    cmocka_unit_test(test_future_run_until_complete),
};

AIO_TEST_MAIN(tests)
