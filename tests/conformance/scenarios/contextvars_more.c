/* More contexts: call_soon_threadsafe() captures the context of the thread
 * that calls it (a new thread starts with an empty context, so the variable
 * shows its default until that thread sets it); add_done_callback(...,
 * context=ctx) and call_later(..., context=ctx) run in ctx itself, so what
 * one sets the next one sees and ctx keeps; call_soon_threadsafe() on a
 * closed loop from another thread raises 'Event loop is closed'. A callback
 * whose context= is the context the loop itself runs in cannot enter it:
 * RuntimeError('cannot enter context: ... is already entered'), reported
 * to the exception handler like any callback error. */
#include <pthread.h>

#include "conformance.h"

static aio_contextvar *var;
static aio_loop *loop;

/* var.get() */
static const char *get(void)
{
    void *value;
    CHECK(aio_contextvar_get(var, &value) == 0);
    return value;
}

static void set(const char *value)
{
    aio_contextvar_token *token = aio_contextvar_set(var, (void *)value);
    CHECK(token);
    aio_decref(token);
}

static void show(void *label)
{
    printf("%s: %s\n", (const char *)label, get());
}
AIO_NAME_CALLBACK(show);

static void set_in_callback(void *arg)
{
    const char **label_value = arg;
    printf("%s: sees %s sets %s\n", label_value[0], get(), label_value[1]);
    set(label_value[1]);
}
AIO_NAME_CALLBACK(set_in_callback);

static void done_in_ctx(aio_future *fut, void *arg)
{
    (void)fut, (void)arg;
    printf("done callback in ctx: sees %s sets done\n", get());
    set("done");
}
AIO_NAME_CALLBACK(done_in_ctx);

static void threadsafe(const char *label)
{
    CHECK(aio_loop_call_soon_threadsafe(loop, &(aio_loop_call_soon_threadsafe_args){
        .callback = show, .args = (void *)label}));
}

static void *worker(void *arg)
{
    (void)arg;
    threadsafe("threadsafe from a new thread");
    set("thread");
    threadsafe("threadsafe after the thread set it");
    return NULL;
}

static void *closed_from_thread(void *arg)
{
    (void)arg;
    if (aio_loop_call_soon_threadsafe(loop, &(aio_loop_call_soon_threadsafe_args){
            .callback = show, .args = "never"}) == NULL)
        print_raised("threadsafe on a closed loop from a thread");
    return NULL;
}

static void set_result(void *fut)
{
    CHECK(aio_future_set_result(fut, NULL) == 0);
}
AIO_NAME_CALLBACK(set_result);

static void stop(void *arg)
{
    aio_loop_stop(arg);
}
AIO_NAME_CALLBACK(stop);

static void handler(aio_loop *the_loop, const aio_exception_context *context, void *arg)
{
    (void)the_loop, (void)arg;
    const char *text = aio_exc_str(context->exception);
    const char *end = "> is already entered";
    size_t len = strlen(text), end_len = strlen(end);
    printf("handler: %s %s %s %s\n", py_bool(strncmp(context->message, "Exception in callback", 21) == 0),
           aio_exc_type_of(context->exception)->name,
           py_bool(strncmp(text, "cannot enter context: <_contextvars.Context object at ", 54) == 0),
           py_bool(len >= end_len && strcmp(text + len - end_len, end) == 0));
}
AIO_NAME_CALLBACK(handler);

static void run_forever(void *arg)
{
    CHECK(aio_loop_run_forever(arg) == 0);
}
AIO_NAME_CALLBACK(run_forever);

int main(void)
{
    var = aio_contextvar_new_default("var", "default");
    loop = aio_new_event_loop();
    CHECK(var && loop);
    set("main");
    pthread_t t;
    CHECK(pthread_create(&t, NULL, worker, NULL) == 0);
    pthread_join(t, NULL);
    threadsafe("threadsafe from the main thread");

    aio_context *ctx = aio_context_new();
    CHECK(ctx);
    const char *timer_args[] = {"timer in ctx", "timer"};
    CHECK(aio_loop_call_later(loop, &(aio_loop_call_later_args){
        .delay = 0, .callback = set_in_callback, .args = timer_args, .context = ctx}));
    aio_future *fut = aio_loop_create_future(loop);
    CHECK(fut);
    CHECK(aio_future_add_done_callback(fut, &(aio_future_add_done_callback_args){
        .callback = done_in_ctx, .context = ctx}) == 0);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = set_result, .args = fut}));
    CHECK(aio_loop_call_later(loop, &(aio_loop_call_later_args){
        .delay = 0.01, .callback = show, .args = "timer in ctx after the others", .context = ctx}));
    CHECK(aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = 0.02, .callback = stop, .args = loop}));
    CHECK(aio_loop_run_forever(loop) == 0);
    void *value = NULL;
    aio_context_get(ctx, var, &value);
    printf("ctx holds: %s\n", (const char *)value);
    printf("main still: %s\n", get());

    aio_context *outer = aio_context_new();
    CHECK(outer);
    aio_loop_set_exception_handler(loop, handler, NULL);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){
        .callback = show, .args = "never: outer is entered", .context = outer}));
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = stop, .args = loop}));
    CHECK(aio_context_run(outer, run_forever, loop) == 0);
    aio_decref(outer);
    aio_loop_close(loop);
    CHECK(pthread_create(&t, NULL, closed_from_thread, NULL) == 0);
    pthread_join(t, NULL);
    aio_decref(fut);
    aio_decref(ctx);
    aio_decref(loop);
    aio_decref(var);
    return 0;
}
