/* test_exception_handler.c - loop.set_exception_handler(),
 * get_exception_handler(), default_exception_handler() and
 * call_exception_handler(), and the reports the loop makes through them
 * (ASYNCIO-SEMANTICS.md §5).
 *
 * The texts are what CPython 3.11.7 logs for the same contexts; the only
 * differences are inherent to C: callbacks show their C name and pointer
 * arguments, without "at file:line".
 */
#include <unistd.h>

#include "test_support.h"

/* What the default handler logs once a test calls log_record_start(&g_log). */
static log_record g_log;

/* --- A custom handler that records its calls ------------------------------ */

typedef struct handler_record {
    int calls;
    aio_loop *loop;
    void *arg;
    char message[512];
    char exception[512];
    char handle[256];
    char future[256];
    aio_exc *exc_ptr;
    const aio_exc_type *raise_type; /* raise this from the handler */
    const char *raise_msg;
    bool fall_back;                  /* call default_exception_handler() */
} handler_record;

static handler_record g_rec;

static void record_handler(aio_loop *loop, const aio_exception_context *context, void *arg)
{
    handler_record *r = &g_rec;
    r->calls++;
    r->loop = loop;
    r->arg = arg;
    snprintf(r->message, sizeof r->message, "%s", context->message ? context->message : "(null)");
    repr_copy(context->exception, r->exception, sizeof r->exception);
    repr_copy(context->handle, r->handle, sizeof r->handle);
    repr_copy(context->future, r->future, sizeof r->future);
    r->exc_ptr = context->exception;
    if (r->fall_back)
        assert_int_equal(aio_loop_default_exception_handler(loop, context), 0);
    if (r->raise_type != NULL)
        aio_err_set(r->raise_type, r->raise_msg);
}
AIO_NAME_CALLBACK(record_handler);

static void handler_start(aio_loop *loop)
{
    memset(&g_rec, 0, sizeof g_rec);
    assert_int_equal(aio_loop_set_exception_handler(loop, record_handler, P(0x5a)), 0);
}

/* --- Callbacks ----------------------------------------------------------------- */

static trace g_trace;

static void boom(void *arg)
{
    (void)arg;
    aio_err_set(aio_RuntimeError, "boom");
}
AIO_NAME_CALLBACK(boom);

static void mark(void *arg)
{
    trace_add(&g_trace, "%s;", (const char *)arg);
}
AIO_NAME_CALLBACK(mark);

static void raise_cancelled(void *arg)
{
    (void)arg;
    aio_err_set(aio_CancelledError, "c");
}
AIO_NAME_CALLBACK(raise_cancelled);

static void raise_generator_exit(void *arg)
{
    (void)arg;
    aio_err_set(aio_GeneratorExit, NULL);
}
AIO_NAME_CALLBACK(raise_generator_exit);

static void done_boom(aio_future *fut, void *arg)
{
    (void)fut;
    (void)arg;
    aio_err_set(aio_ValueError, "done boom");
}
AIO_NAME_CALLBACK(done_boom);

/* --- set / get ------------------------------------------------------------------ */

static void other_handler(aio_loop *loop, const aio_exception_context *context, void *arg)
{
    (void)loop;
    (void)context;
    (void)arg;
}
AIO_NAME_CALLBACK(other_handler);

static void test_set_get_exception_handler(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_null(aio_loop_get_exception_handler(loop));
    assert_null(aio_err_occurred());
    assert_int_equal(aio_loop_set_exception_handler(loop, record_handler, NULL), 0);
    assert_ptr_equal(aio_loop_get_exception_handler(loop), record_handler);
    assert_int_equal(aio_loop_set_exception_handler(loop, other_handler, P(1)), 0);
    assert_ptr_equal(aio_loop_get_exception_handler(loop), other_handler);
    /* None restores the default */
    assert_int_equal(aio_loop_set_exception_handler(loop, NULL, P(1)), 0);
    assert_null(aio_loop_get_exception_handler(loop));
    assert_null(aio_err_occurred());

    /* back on the default, reports go to the log */
    log_record_start(&g_log);
    assert_int_equal(
        aio_loop_call_exception_handler(loop, &(aio_exception_context){.message = "m"}), 0);
    assert_int_equal(g_log.count, 1);
    log_record_stop();
    finish(loop);
}

static void test_exception_handler_null_loop(void **state)
{
    (void)state;
    assert_int_equal(aio_loop_set_exception_handler(NULL, record_handler, NULL), -1);
    assert_raised(aio_TypeError, "descriptor 'set_exception_handler' for 'BaseEventLoop' "
                                 "objects doesn't apply to a 'NoneType' object");
    assert_null(aio_loop_get_exception_handler(NULL));
    assert_raised(aio_TypeError, "descriptor 'get_exception_handler' for 'BaseEventLoop' "
                                 "objects doesn't apply to a 'NoneType' object");
    aio_exception_context ctx = {.message = "m"};
    assert_int_equal(aio_loop_default_exception_handler(NULL, &ctx), -1);
    assert_raised(aio_TypeError, "descriptor 'default_exception_handler' for 'BaseEventLoop' "
                                 "objects doesn't apply to a 'NoneType' object");
    assert_int_equal(aio_loop_call_exception_handler(NULL, &ctx), -1);
    assert_raised(aio_TypeError, "descriptor 'call_exception_handler' for 'BaseEventLoop' "
                                 "objects doesn't apply to a 'NoneType' object");
    assert_no_leaks();
}

/* --- default_exception_handler -------------------------------------------------- */

static void test_default_handler_no_message(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    log_record_start(&g_log);
    aio_context_item extra[] = {{"zeta", "1"}, {"alpha", "'x'"}};
    /* message missing */
    assert_int_equal(aio_loop_call_exception_handler(
                         loop, &(aio_exception_context){.extra = extra, .extra_len = 2}),
                     0);
    assert_int_equal(g_log.count, 1);
    assert_int_equal(g_log.level, AIO_LOG_ERROR);
    assert_string_equal(g_log.message, "Unhandled exception in event loop\n"
                                       "alpha: 'x'\n"
                                       "zeta: 1");
    assert_null(g_log.exc_ptr); /* exc_info=False */

    /* message empty: the same */
    assert_int_equal(aio_loop_call_exception_handler(
                         loop, &(aio_exception_context){.message = "", .extra = extra,
                                                        .extra_len = 2}),
                     0);
    assert_int_equal(g_log.count, 2);
    assert_string_equal(g_log.message, "Unhandled exception in event loop\n"
                                       "alpha: 'x'\n"
                                       "zeta: 1");

    /* nothing at all */
    assert_int_equal(aio_loop_default_exception_handler(loop, &(aio_exception_context){0}), 0);
    assert_string_equal(g_log.message, "Unhandled exception in event loop");
    log_record_stop();
    finish(loop);
}

static void test_default_handler_exception_as_exc_info(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    log_record_start(&g_log);
    aio_exc *exc = aio_exc_new(aio_KeyError, "k");
    assert_int_equal(aio_loop_default_exception_handler(
                         loop, &(aio_exception_context){.message = "hello", .exception = exc}),
                     0);
    assert_int_equal(g_log.count, 1);
    /* the exception is not a line: it goes as exc_info */
    assert_string_equal(g_log.message, "hello");
    assert_ptr_equal(g_log.exc_ptr, exc);
    assert_string_equal(g_log.exc, "KeyError('k')");
    aio_decref(exc);
    log_record_stop();
    finish(loop);
}

static void test_default_handler_keys_sorted(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    aio_future *fut = aio_loop_create_future(loop);
    aio_handle *handle = aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = mark});
    aio_exc *exc = aio_exc_new(aio_RuntimeError, "boom");
    aio_context_item extra[] = {{"zeta", "1"}, {"beta", "[1, 2]"}, {"alpha", "'a'"}};
    log_record_start(&g_log);
    aio_exception_context ctx = {
        .message = "m",
        .exception = exc,
        .future = fut,
        .handle = handle,
        .source_traceback = "  File \"f.py\", line 1, in <module>\n    x()\n",
        .extra = extra,
        .extra_len = 3,
    };
    assert_int_equal(aio_loop_call_exception_handler(loop, &ctx), 0);
    assert_int_equal(g_log.count, 1);
    assert_string_equal(g_log.message, "m\n"
                                       "alpha: 'a'\n"
                                       "beta: [1, 2]\n"
                                       "future: <Future pending>\n"
                                       "handle: <Handle mark()>\n"
                                       "source_traceback: Object created at (most recent call "
                                       "last):\n"
                                       "  File \"f.py\", line 1, in <module>\n"
                                       "    x()\n"
                                       "zeta: 1");
    assert_ptr_equal(g_log.exc_ptr, exc);

    /* handle_traceback is formatted the same way */
    aio_exception_context ctx2 = {
        .message = "n",
        .handle_traceback = "  File \"g.py\", line 2, in f\n",
    };
    assert_int_equal(aio_loop_default_exception_handler(loop, &ctx2), 0);
    assert_string_equal(g_log.message, "n\n"
                                       "handle_traceback: Handle created at (most recent call "
                                       "last):\n"
                                       "  File \"g.py\", line 2, in f");
    log_record_stop();
    aio_decref(exc);
    aio_decref(fut);
    finish(loop);
}

/* The default handler's record below the log level is dropped. */
static void test_default_handler_respects_log_level(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    log_record_start(&g_log);
    assert_int_equal(aio_log_get_level(), AIO_LOG_WARNING);
    aio_log_set_level(AIO_LOG_CRITICAL);
    assert_int_equal(
        aio_loop_call_exception_handler(loop, &(aio_exception_context){.message = "m"}), 0);
    assert_int_equal(g_log.count, 0);
    aio_log_set_level(AIO_LOG_WARNING);
    assert_int_equal(
        aio_loop_call_exception_handler(loop, &(aio_exception_context){.message = "m"}), 0);
    assert_int_equal(g_log.count, 1);
    log_record_stop();
    finish(loop);
}

/* Without a log handler the record goes to stderr: the message, then the
 * exception's last traceback line. */
static void test_default_output_on_stderr(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = boom});
    stderr_capture c;
    capture_start(&c);
    aio_loop_stop(loop);
    int rc = aio_loop_run_forever(loop);
    capture_end(&c);
    assert_int_equal(rc, 0);
    assert_string_equal(c.text, "Exception in callback boom()\n"
                                "handle: <Handle boom()>\n"
                                "RuntimeError: boom\n");

    /* no exception: just the lines */
    aio_context_item extra[] = {{"zeta", "1"}, {"alpha", "'x'"}};
    capture_start(&c);
    aio_loop_call_exception_handler(loop, &(aio_exception_context){.message = "",
                                                                   .extra = extra,
                                                                   .extra_len = 2});
    capture_end(&c);
    assert_string_equal(c.text, "Unhandled exception in event loop\nalpha: 'x'\nzeta: 1\n");

    /* KeyError prints its key's repr */
    aio_exc *exc = aio_exc_new(aio_KeyError, "k");
    capture_start(&c);
    aio_loop_call_exception_handler(loop,
                                    &(aio_exception_context){.message = "hello", .exception = exc});
    capture_end(&c);
    assert_string_equal(c.text, "hello\nKeyError: 'k'\n");
    aio_decref(exc);
    finish(loop);
}

/* --- call_exception_handler with a custom handler --------------------------------- */

static void test_call_exception_handler_custom(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    handler_start(loop);
    log_record_start(&g_log);
    aio_exc *exc = aio_exc_new(aio_OSError, "x");
    aio_future *fut = aio_loop_create_future(loop);
    assert_int_equal(aio_loop_call_exception_handler(
                         loop, &(aio_exception_context){.message = "custom", .exception = exc,
                                                        .future = fut}),
                     0);
    assert_int_equal(g_rec.calls, 1);
    assert_ptr_equal(g_rec.loop, loop);
    assert_ptr_equal(g_rec.arg, P(0x5a));
    assert_string_equal(g_rec.message, "custom");
    assert_ptr_equal(g_rec.exc_ptr, exc);
    assert_string_equal(g_rec.future, "<Future pending>");
    /* the default handler was not involved */
    assert_int_equal(g_log.count, 0);

    /* a handler may fall back on the default one */
    g_rec.fall_back = true;
    assert_int_equal(aio_loop_call_exception_handler(
                         loop, &(aio_exception_context){.message = "via fallback", .future = fut}),
                     0);
    assert_int_equal(g_rec.calls, 2);
    assert_int_equal(g_log.count, 1);
    assert_string_equal(g_log.message, "via fallback\nfuture: <Future pending>");

    log_record_stop();
    aio_decref(exc);
    aio_decref(fut);
    finish(loop);
}

static void test_handler_raises(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    handler_start(loop);
    g_rec.raise_type = aio_ValueError;
    g_rec.raise_msg = "bad handler";
    log_record_start(&g_log);
    aio_exc *exc = aio_exc_new(aio_KeyError, "k");
    assert_int_equal(aio_loop_call_exception_handler(
                         loop, &(aio_exception_context){.message = "orig", .exception = exc}),
                     0);
    /* not propagated: reported by the default handler instead */
    assert_null(aio_err_occurred());
    assert_int_equal(g_rec.calls, 1);
    assert_int_equal(g_log.count, 1);
    assert_int_equal(g_log.level, AIO_LOG_ERROR);
    assert_string_equal(g_log.message, "Unhandled error in exception handler\n"
                                       "context: {'message': 'orig', 'exception': "
                                       "KeyError('k')}");
    assert_string_equal(g_log.exc, "ValueError('bad handler')");
    aio_decref(exc);

    /* the same for a failing callback: the context dict shows the handle */
    memset(&g_log, 0, sizeof g_log);
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = boom});
    run_one_iteration(loop);
    assert_int_equal(g_rec.calls, 2);
    assert_string_equal(g_log.message, "Unhandled error in exception handler\n"
                                       "context: {'message': 'Exception in callback boom()', "
                                       "'exception': RuntimeError('boom'), 'handle': <Handle "
                                       "boom()>}");
    assert_string_equal(g_log.exc, "ValueError('bad handler')");

    /* on stderr, with the handler's exception */
    log_record_stop();
    stderr_capture c;
    capture_start(&c);
    aio_loop_call_exception_handler(loop, &(aio_exception_context){.message = "orig"});
    capture_end(&c);
    assert_string_equal(c.text, "Unhandled error in exception handler\n"
                                "context: {'message': 'orig'}\n"
                                "ValueError: bad handler\n");
    finish(loop);
}

static void test_handler_raises_system_exit(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    handler_start(loop);
    log_record_start(&g_log);
    g_rec.raise_type = aio_SystemExit;
    g_rec.raise_msg = "3";
    assert_int_equal(
        aio_loop_call_exception_handler(loop, &(aio_exception_context){.message = "orig"}), -1);
    assert_raised(aio_SystemExit, "3");
    g_rec.raise_type = aio_KeyboardInterrupt;
    g_rec.raise_msg = NULL;
    assert_int_equal(
        aio_loop_call_exception_handler(loop, &(aio_exception_context){.message = "orig"}), -1);
    assert_raised(aio_KeyboardInterrupt, "");
    assert_int_equal(g_log.count, 0); /* nothing logged */
    log_record_stop();
    finish(loop);
}

/* A handler's SystemExit while reporting a callback's exception ends
 * run_forever(); the rest of the iteration runs on the next run. */
static void test_handler_system_exit_from_callback(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    handler_start(loop);
    g_rec.raise_type = aio_SystemExit;
    g_rec.raise_msg = "3";
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = mark, .args = "first"});
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = boom});
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = mark, .args = "second"});
    assert_int_equal(aio_loop_run_forever(loop), -1);
    assert_raised(aio_SystemExit, "3");
    assert_int_equal(g_rec.calls, 1);
    assert_string_equal(g_rec.message, "Exception in callback boom()");
    assert_string_equal(g_trace.text, "first;");
    assert_int_equal(aio_loop_is_running(loop), 0);

    /* back to the default handler: the leftover runs */
    aio_loop_set_exception_handler(loop, NULL, NULL);
    run_one_iteration(loop);
    assert_string_equal(g_trace.text, "first;second;");
    finish(loop);
}

/* --- What the loop reports ------------------------------------------------------ */

static void test_exception_in_callback_context(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    handler_start(loop);
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = boom, .args = P(0x2a)});
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = mark, .args = "next"});
    run_one_iteration(loop);
    assert_int_equal(g_rec.calls, 1);
    char expected[256];
    snprintf(expected, sizeof expected, "Exception in callback boom(%p)", P(0x2a));
    assert_string_equal(g_rec.message, expected);
    assert_string_equal(g_rec.exception, "RuntimeError('boom')");
    snprintf(expected, sizeof expected, "<Handle boom(%p)>", P(0x2a));
    assert_string_equal(g_rec.handle, expected);
    assert_string_equal(g_rec.future, "None");
    /* the loop went on with the next callback */
    assert_string_equal(g_trace.text, "next;");

    /* without an argument */
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = boom});
    run_one_iteration(loop);
    assert_int_equal(g_rec.calls, 2);
    assert_string_equal(g_rec.message, "Exception in callback boom()");
    assert_string_equal(g_rec.handle, "<Handle boom()>");
    finish(loop);
}

static void test_exception_in_timer_callback(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    handler_start(loop);
    aio_timer_handle *timer = aio_loop_call_later(
        loop, &(aio_loop_call_later_args){.delay = AIO_ZERO, .callback = boom});
    assert_non_null(timer);
    char expected[256];
    repr_copy(timer, expected, sizeof expected);
    assert_int_equal(strncmp(expected, "<TimerHandle when=", 18), 0);
    run_one_iteration(loop);
    assert_int_equal(g_rec.calls, 1);
    assert_string_equal(g_rec.message, "Exception in callback boom()");
    assert_string_equal(g_rec.handle, expected);
    finish(loop);
}

/* Any BaseException other than SystemExit/KeyboardInterrupt is reported. */
static void test_base_exceptions_from_callbacks_reported(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    handler_start(loop);
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = raise_cancelled});
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = raise_generator_exit});
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = mark, .args = "after"});
    run_one_iteration(loop);
    assert_int_equal(g_rec.calls, 2);
    assert_string_equal(g_rec.message, "Exception in callback raise_generator_exit()");
    assert_string_equal(g_rec.exception, "GeneratorExit()");
    assert_string_equal(g_trace.text, "after;");
    finish(loop);
}

/* A callback's SystemExit is not reported: it ends run_forever(). */
static void raise_system_exit(void *arg)
{
    (void)arg;
    aio_err_set(aio_SystemExit, NULL);
}
AIO_NAME_CALLBACK(raise_system_exit);

static void test_system_exit_from_callback_not_reported(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    handler_start(loop);
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = raise_system_exit});
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = mark, .args = "left"});
    assert_int_equal(aio_loop_run_forever(loop), -1);
    assert_raised(aio_SystemExit, NULL);
    assert_int_equal(g_rec.calls, 0);
    assert_string_equal(g_trace.text, "");
    run_one_iteration(loop);
    assert_string_equal(g_trace.text, "left;");
    finish(loop);
}

static void test_exception_in_done_callback(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    handler_start(loop);
    aio_future *fut = aio_loop_create_future(loop);
    aio_future_add_done_callback(fut, &(aio_future_add_done_callback_args){.callback = done_boom});
    aio_future_add_done_callback(fut, &(aio_future_add_done_callback_args){
                                          .callback = done_boom, .callback_arg = P(0x10)});
    aio_future_set_result(fut, NULL);
    run_one_iteration(loop);
    assert_int_equal(g_rec.calls, 2);
    char expected[256];
    snprintf(expected, sizeof expected,
             "Exception in callback done_boom(<Future finished result=None>, %p)", P(0x10));
    assert_string_equal(g_rec.message, expected);
    snprintf(expected, sizeof expected, "<Handle done_boom(<Future finished result=None>, %p)>",
             P(0x10));
    assert_string_equal(g_rec.handle, expected);
    assert_string_equal(g_rec.exception, "ValueError('done boom')");
    aio_decref(fut);
    finish(loop);
}

/* The message of a default report for a callback, through the log. */
static void test_exception_in_callback_default_log(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    log_record_start(&g_log);
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = boom});
    run_one_iteration(loop);
    assert_int_equal(g_log.count, 1);
    assert_int_equal(g_log.level, AIO_LOG_ERROR);
    assert_string_equal(g_log.message, "Exception in callback boom()\nhandle: <Handle boom()>");
    assert_string_equal(g_log.exc, "RuntimeError('boom')");
    log_record_stop();
    finish(loop);
}

/* A handler may keep the future it was given. */
static aio_future *g_kept;

static void keeping_handler(aio_loop *loop, const aio_exception_context *context, void *arg)
{
    (void)loop;
    (void)arg;
    g_kept = aio_incref(context->future);
}
AIO_NAME_CALLBACK(keeping_handler);

static void test_handler_keeps_future(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_loop_set_exception_handler(loop, keeping_handler, NULL);
    aio_future *fut = aio_loop_create_future(loop);
    aio_exc *exc = aio_exc_new(aio_RuntimeError, "kept");
    aio_future_set_exception(fut, exc);
    aio_decref(exc);
    aio_decref(fut);
    assert_ptr_equal(g_kept, fut);
    assert_string_equal(aio_exc_str(aio_future_exception(g_kept)), "kept");
    aio_decref(g_kept);
    finish(loop);
}

/* A handler raising SystemExit while a future is being destroyed cannot
 * propagate (CPython writes it as unraisable); nothing leaks. */
static void test_handler_system_exit_in_future_dealloc(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    handler_start(loop);
    g_rec.raise_type = aio_SystemExit;
    aio_future *fut = aio_loop_create_future(loop);
    aio_exc *exc = aio_exc_new(aio_RuntimeError, "boom");
    aio_future_set_exception(fut, exc);
    aio_decref(exc);
    aio_decref(fut);
    assert_int_equal(g_rec.calls, 1);
    assert_string_equal(g_rec.message, "Future exception was never retrieved");
    assert_null(aio_err_occurred());
    finish(loop);
}

/* call_exception_handler(None): the default handler's AttributeError is
 * logged as CPython logs it; a custom handler is handed NULL. */
static bool g_got_null_context;

static void null_context_handler(aio_loop *loop, const aio_exception_context *context, void *arg)
{
    (void)loop;
    (void)arg;
    g_got_null_context = context == NULL;
}
AIO_NAME_CALLBACK(null_context_handler);

static void test_call_exception_handler_none(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    log_record_start(&g_log);
    assert_int_equal(aio_loop_call_exception_handler(loop, NULL), 0);
    log_record_stop();
    check_no_exception();
    assert_int_equal(g_log.count, 1);
    assert_string_equal(g_log.message, "Exception in default exception handler");
    assert_string_equal(g_log.exc, "AttributeError(\"'NoneType' object has no attribute 'get'\")");
    assert_int_equal(aio_loop_set_exception_handler(loop, null_context_handler, NULL), 0);
    assert_int_equal(aio_loop_call_exception_handler(loop, NULL), 0);
    assert_true(g_got_null_context);
    finish(loop);
}

/* An exception the caller left set outside any callback is not blamed on
 * the next callback: it is reported as what it is, and the callback runs
 * with no exception set. */
static bool g_clean_on_entry;

static void check_clean(void *arg)
{
    g_clean_on_entry = aio_err_occurred() == NULL;
    mark(arg);
}
AIO_NAME_CALLBACK(check_clean);

static void test_stray_exception_not_blamed_on_next_callback(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    handler_start(loop);
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = check_clean, .args = "cb"});
    /* An ignored error, as from aio_loop_time(NULL). */
    assert_true(aio_loop_time(NULL) < 0);
    assert_non_null(aio_err_occurred());
    run_one_iteration(loop);
    assert_true(g_clean_on_entry);
    assert_string_equal(g_trace.text, "cb;");
    assert_int_equal(g_rec.calls, 1);
    assert_string_equal(g_rec.message, "Exception left set outside any callback (cleared before "
                                       "the loop's next callback ran)");
    assert_true(strncmp(g_rec.exception, "TypeError(", 10) == 0);
    assert_string_equal(g_rec.handle, "None"); /* no callback is named */
    check_no_exception();

    /* A stray KeyboardInterrupt ends the run, as from a callback. */
    aio_err_set(aio_KeyboardInterrupt, NULL);
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = mark, .args = "later"});
    assert_int_equal(aio_loop_run_forever(loop), -1);
    assert_raised(aio_KeyboardInterrupt, NULL);
    assert_string_equal(g_trace.text, "cb;");
    run_one_iteration(loop);
    assert_string_equal(g_trace.text, "cb;later;");
    assert_int_equal(g_rec.calls, 1);
    finish(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_set_get_exception_handler),
    cmocka_unit_test(test_exception_handler_null_loop),
    cmocka_unit_test(test_default_handler_no_message),
    cmocka_unit_test(test_default_handler_exception_as_exc_info),
    cmocka_unit_test(test_default_handler_keys_sorted),
    cmocka_unit_test(test_default_handler_respects_log_level),
    cmocka_unit_test(test_default_output_on_stderr),
    cmocka_unit_test(test_call_exception_handler_custom),
    cmocka_unit_test(test_handler_raises),
    cmocka_unit_test(test_handler_raises_system_exit),
    cmocka_unit_test(test_handler_system_exit_from_callback),
    cmocka_unit_test(test_exception_in_callback_context),
    cmocka_unit_test(test_exception_in_timer_callback),
    cmocka_unit_test(test_base_exceptions_from_callbacks_reported),
    cmocka_unit_test(test_system_exit_from_callback_not_reported),
    cmocka_unit_test(test_exception_in_done_callback),
    cmocka_unit_test(test_exception_in_callback_default_log),
    cmocka_unit_test(test_handler_keeps_future),
    cmocka_unit_test(test_handler_system_exit_in_future_dealloc),
    cmocka_unit_test(test_stray_exception_not_blamed_on_next_callback),
    cmocka_unit_test(test_call_exception_handler_none),
};

AIO_TEST_MAIN(tests)
