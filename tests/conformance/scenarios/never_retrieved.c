/* A Future whose exception nobody retrieved reports it through the loop's
 * exception handler when the future is destroyed: message 'Future exception
 * was never retrieved', keys exception/future/message, and the default
 * handler's text shows the future's repr. Calling result() or exception(),
 * or cancel() (even on a done future), marks the exception retrieved: no
 * report. A future with a result, or a cancelled one, reports nothing.
 * Python's `del fut; gc.collect()` is dropping the last reference here. */
#include "conformance.h"

static aio_loop *loop;

static void printer(int level, const char *message, aio_exc *exc, void *arg)
{
    (void)arg;
    printf("record: %s exc_info: %s\n", level_name(level), exc_line(exc));
    for (const char *line = message;; line++) {
        size_t n = strcspn(line, "\n");
        printf("  | %.*s\n", (int)n, line);
        line += n;
        if (*line == '\0')
            break;
    }
}
AIO_NAME_CALLBACK(printer);

static void handler(aio_loop *the_loop, const aio_exception_context *context, void *arg)
{
    (void)the_loop, (void)arg;
    printf("handler: '%s' %s\n", context->message, context_keys(context));
    printf("  exception: %s\n", exc_line(context->exception));
    char *repr = aio_repr(context->future);
    printf("  future: %s\n", repr);
    free(repr);
}
AIO_NAME_CALLBACK(handler);

static void drop(const char *label, const char *how)
{
    aio_future *fut = aio_loop_create_future(loop);
    CHECK(fut);
    aio_exc *exc = aio_exc_new(aio_ValueError, label);
    CHECK(aio_future_set_exception(fut, exc) == 0);
    aio_decref(exc);
    if (how && strcmp(how, "result") == 0) {
        aio_future_result(fut);
        aio_err_clear();
    } else if (how && strcmp(how, "exception") == 0) {
        aio_future_exception(fut);
    } else if (how && strcmp(how, "cancel") == 0) {
        printf("cancel() on the done future: %s\n", py_bool(aio_future_cancel(fut, NULL)));
    }
    printf("dropping %s\n", label);
    aio_decref(fut);
}

int main(void)
{
    aio_log_set_handler(printer, NULL);
    loop = aio_new_event_loop();
    CHECK(loop);
    aio_loop_set_exception_handler(loop, handler, NULL);
    drop("never looked at", NULL);
    drop("result() called", "result");
    drop("exception() called", "exception");
    drop("cancelled when done", "cancel");

    aio_future *fut = aio_loop_create_future(loop);
    CHECK(fut);
    CHECK(aio_future_set_result(fut, (void *)1) == 0);
    printf("dropping a future with a result\n");
    aio_decref(fut);
    fut = aio_loop_create_future(loop);
    CHECK(fut);
    aio_future_cancel(fut, NULL);
    printf("dropping a cancelled future\n");
    aio_decref(fut);

    aio_loop_set_exception_handler(loop, NULL, NULL);
    drop("to the default handler", NULL);
    aio_loop_close(loop);
    drop("after close", NULL);
    aio_decref(loop);
    return 0;
}
