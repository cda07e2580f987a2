/* SystemExit and KeyboardInterrupt raised by a callback are not reported
 * to the exception handler: they propagate out of run_forever() (the loop is
 * no longer running afterwards), and the rest of that batch stays queued and
 * runs first on the next run_forever(). A custom exception handler that
 * raises SystemExit propagates it too. The program ends as Python does with
 * an uncaught SystemExit(4): exit status 4. */
#include "conformance.h"

static aio_loop *loop;

static void handler(aio_loop *the_loop, const aio_exception_context *context, void *arg)
{
    (void)the_loop, (void)arg;
    printf("handler called (wrong): %s\n", context->message);
}
AIO_NAME_CALLBACK(handler);

static void say(void *arg)
{
    printf("%s\n", (const char *)arg);
}
AIO_NAME_CALLBACK(say);

static void raise_system_exit(void *arg)
{
    printf("raise SystemExit\n");
    aio_err_set(aio_SystemExit, arg);
}
AIO_NAME_CALLBACK(raise_system_exit);

static void raise_keyboard_interrupt(void *arg)
{
    printf("raise KeyboardInterrupt\n");
    aio_err_set(aio_KeyboardInterrupt, arg);
}
AIO_NAME_CALLBACK(raise_keyboard_interrupt);

static void stop(void *arg)
{
    aio_loop_stop(arg);
}
AIO_NAME_CALLBACK(stop);

static void attempt(const char *label)
{
    if (aio_loop_run_forever(loop) < 0) {
        aio_exc *exc = aio_err_fetch();
        printf("%s: %s running: %s\n", label, exc_line(exc), py_bool(aio_loop_is_running(loop)));
        aio_decref(exc);
    } else {
        printf("%s: returned\n", label);
    }
}

static void soon(aio_callback fn, void *arg)
{
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = fn, .args = arg}));
}

static void exiting_handler(aio_loop *the_loop, const aio_exception_context *context, void *arg)
{
    (void)the_loop, (void)arg;
    const char *message = context->message;
    if (strncmp(message, "Exception in callback", 21) == 0)
        message = "Exception in callback ...";
    printf("exiting handler for '%s'\n", message);
    aio_err_set(aio_SystemExit, "from the handler");
}
AIO_NAME_CALLBACK(exiting_handler);

static void fail(void *arg)
{
    (void)arg;
    aio_err_set(aio_ValueError, "boom");
}
AIO_NAME_CALLBACK(fail);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    aio_loop_set_exception_handler(loop, handler, NULL);
    soon(say, "a");
    soon(raise_system_exit, "3");
    soon(say, "b (rest of the batch)");
    CHECK(aio_loop_call_later(loop, &(aio_loop_call_later_args){
        .delay = 0, .callback = say, .args = "due timer (rest of the batch)"}));
    soon(raise_keyboard_interrupt, "ctrl-c");
    soon(say, "c (rest of the batch)");
    attempt("first run");
    soon(say, "d (scheduled between runs)");
    attempt("second run");
    soon(stop, loop);
    attempt("third run");

    aio_loop_set_exception_handler(loop, exiting_handler, NULL);
    soon(fail, NULL);
    soon(say, "after the failing callback");
    soon(stop, loop);
    attempt("handler raising SystemExit");
    attempt("next run");
    aio_loop_set_exception_handler(loop, NULL, NULL);
    soon(raise_system_exit, "4");
    printf("ending with an uncaught SystemExit(4)\n");
    if (aio_loop_run_forever(loop) < 0 && aio_err_matches(aio_SystemExit)) {
        /* What the interpreter does with an uncaught SystemExit(4). */
        aio_exc *exc = aio_err_fetch();
        int status = atoi(aio_exc_str(exc));
        aio_decref(exc);
        return status;
    }
    return 0;
}
