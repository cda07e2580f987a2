/* An exception raised by a callback goes to the loop's exception handler as
 * handler(loop, context) with context keys 'message' (starting 'Exception in
 * callback'), 'exception' (the exception raised) and 'handle' (the Handle or
 * TimerHandle that ran it); the loop goes on with the rest of the batch. A
 * None callback fails only when it runs: 'Exception in callback None()' with
 * TypeError("'NoneType' object is not callable"). get_exception_handler()
 * returns the handler, or None when the default one is in use; without a
 * custom handler the default one logs an ERROR record with the exception. */
#include "conformance.h"

static aio_loop *loop;
static aio_handle *zero_handle, *timer_handle;

static void printer(int level, const char *message, aio_exc *exc, void *arg)
{
    (void)arg;
    const char *first = first_line(message);
    if (strncmp(first, "Exception in callback", 21) == 0)
        first = "Exception in callback ...";
    printf("log: %s %s | %s\n", level_name(level), first, exc ? aio_exc_type_of(exc)->name : "None");
}
AIO_NAME_CALLBACK(printer);

/* isinstance(h, asyncio.TimerHandle): only a TimerHandle has when(). */
static bool is_timer_handle(aio_handle *h)
{
    if (aio_timer_handle_when(h) == -1.0 && aio_err_occurred()) {
        aio_err_clear();
        return false;
    }
    return true;
}

static void handler(aio_loop *the_loop, const aio_exception_context *context, void *arg)
{
    (void)arg;
    printf("handler: loop is loop: %s\n", py_bool(the_loop == loop));
    printf("  keys: %s\n", context_keys(context));
    printf("  message starts 'Exception in callback': %s\n",
           py_bool(strncmp(context->message, "Exception in callback", 21) == 0));
    printf("  exception: %s\n", exc_line(context->exception));
    const char *what = aio_exc_message(context->exception);
    aio_handle *expected = strcmp(what, "zero") == 0 ? zero_handle : strcmp(what, "timer") == 0 ? timer_handle : NULL;
    printf("  handle is the scheduled one: %s TimerHandle: %s\n", py_bool(context->handle == expected),
           py_bool(is_timer_handle(context->handle)));
}
AIO_NAME_CALLBACK(handler);

static void boom(void *arg)
{
    const char *what = arg;
    printf("boom %s\n", what);
    if (strcmp(what, "zero") == 0)
        aio_err_set(aio_ZeroDivisionError, "zero");
    else
        aio_err_set(aio_KeyError, what);
}
AIO_NAME_CALLBACK(boom);

static void say(void *arg)
{
    printf("%s\n", (const char *)arg);
}
AIO_NAME_CALLBACK(say);

static void show_none(aio_loop *the_loop, const aio_exception_context *context, void *arg)
{
    (void)the_loop, (void)arg;
    printf("None callback: '%s' %s\n", context->message, exc_line(context->exception));
}
AIO_NAME_CALLBACK(show_none);

int main(void)
{
    aio_log_set_handler(printer, NULL);
    loop = aio_new_event_loop();
    CHECK(loop);
    printf("default handler: %s\n", aio_loop_get_exception_handler(loop) ? "set" : "None");
    aio_loop_set_exception_handler(loop, handler, NULL);
    printf("custom handler installed: %s\n", py_bool(aio_loop_get_exception_handler(loop) == handler));
    zero_handle = aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = boom, .args = "zero"});
    CHECK(zero_handle);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = say, .args = "the batch goes on"}));
    timer_handle = aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = 0, .callback = boom, .args = "timer"});
    CHECK(timer_handle);
    aio_loop_stop(loop);
    CHECK(aio_loop_run_forever(loop) == 0);

    aio_loop_set_exception_handler(loop, show_none, NULL);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = NULL}));
    aio_loop_stop(loop);
    CHECK(aio_loop_run_forever(loop) == 0);

    aio_loop_set_exception_handler(loop, NULL, NULL);
    printf("handler reset: %s\n", aio_loop_get_exception_handler(loop) ? "set" : "None");
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = boom, .args = "default"}));
    aio_loop_stop(loop);
    CHECK(aio_loop_run_forever(loop) == 0);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
