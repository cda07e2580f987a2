/* Callbacks and contexts: call_soon()/call_later() capture a copy of the
 * current context when they are scheduled (later changes are not seen);
 * changes a callback makes inside its copy do not leak to the caller or to
 * other callbacks; context=ctx runs the callback in ctx itself, so its
 * changes persist in ctx for the next callback given the same context;
 * Future done callbacks capture the context at add_done_callback() time. */
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

typedef struct change_args {
    const char *label;
    const char *value;
} change_args;

static void change(void *arg)
{
    change_args *c = arg;
    printf("%s: sees %s sets %s\n", c->label, get(), c->value);
    set(c->value);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = show, .args = "  scheduled after the change"}));
}
AIO_NAME_CALLBACK(change);

static void on_done(aio_future *fut, void *arg)
{
    (void)fut, (void)arg;
    printf("done callback: %s\n", get());
}
AIO_NAME_CALLBACK(on_done);

static void soon(aio_callback fn, void *arg, aio_context *ctx)
{
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = fn, .args = arg, .context = ctx}));
}

int main(void)
{
    var = aio_contextvar_new_default("var", "default");
    loop = aio_new_event_loop();
    CHECK(var && loop);
    printf("start: %s\n", get());
    set("A");
    soon(show, "scheduled with A", NULL);
    CHECK(aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = 0, .callback = show, .args = "timer scheduled with A"}));
    set("B");
    soon(show, "scheduled with B", NULL);
    change_args in_copy = {"change in a copy", "C"};
    soon(change, &in_copy, NULL);
    soon(show, "scheduled with B, after the change", NULL);

    aio_context *ctx = aio_context_new();
    void *value;
    printf("fresh context has var: %s\n", py_bool(aio_context_get(ctx, var, &value)));
    change_args in_ctx = {"change in ctx", "X"};
    soon(change, &in_ctx, ctx);
    soon(show, "next callback in ctx", ctx);
    aio_context *copied = aio_copy_context();
    soon(show, "in a copy taken with B", copied);

    aio_future *fut = aio_loop_create_future(loop);
    CHECK(fut);
    set("D");
    CHECK(aio_future_add_done_callback(fut, &(aio_future_add_done_callback_args){.callback = on_done}) == 0);
    set("E");
    CHECK(aio_future_set_result(fut, NULL) == 0);
    aio_loop_stop(loop);
    CHECK(aio_loop_run_forever(loop) == 0);
    aio_loop_stop(loop);
    CHECK(aio_loop_run_forever(loop) == 0);
    printf("caller after the run: %s\n", get());
    CHECK(aio_context_get(ctx, var, &value) == 1);
    printf("ctx now holds: %s len %zu\n", (const char *)value, aio_context_len(ctx));
    CHECK(aio_context_get(copied, var, &value) == 1);
    printf("copied still holds: %s\n", (const char *)value);
    aio_decref(fut);
    aio_decref(ctx);
    aio_decref(copied);
    aio_loop_close(loop);
    aio_decref(loop);
    aio_decref(var);
    return 0;
}
