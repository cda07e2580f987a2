/* Handle.get_context() and TimerHandle.get_context(): the copy of the
 * current context call_soon()/call_later() took (the same object each time,
 * later changes of the current context not in it), the context= object
 * itself, kept after cancel(); the callback runs in that very object, so
 * what is set in it before the run is seen, and what the run sets stays in
 * it. Versions: 3.12+ (the twin's marker). C's handles are borrowed: the
 * ones used after their run are held with aio_incref(). */
#include <stdint.h>

#include "conformance.h"

static aio_contextvar *v;

static long v_get(void)
{
    return (long)(intptr_t)aio_contextvar_get_or(v, NULL);
}

static void v_set(long value)
{
    aio_contextvar_token *token = aio_contextvar_set(v, (void *)(intptr_t)value);
    CHECK(token);
    aio_decref(token);
}

static void set_50(void *arg)
{
    (void)arg;
    v_set(50);
}
AIO_NAME_CALLBACK(set_50);

/* ctx[v] */
static long in(aio_context *ctx)
{
    void *value = NULL;
    CHECK(aio_context_get(ctx, v, &value) == 1);
    return (long)(intptr_t)value;
}

static void cb(void *arg)
{
    printf("%s runs with v = %ld\n", (const char *)arg, v_get());
    v_set(v_get() + 100);
}
AIO_NAME_CALLBACK(cb);

static void stop(void *loop)
{
    aio_loop_stop(loop);
}
AIO_NAME_CALLBACK(stop);

static aio_handle *soon(aio_loop *loop, const char *name, aio_context *context)
{
    aio_handle *h = aio_loop_call_soon(
        loop, &(aio_loop_call_soon_args){.callback = cb, .args = (void *)name, .context = context});
    CHECK(h);
    return h;
}

int main(void)
{
    v = aio_contextvar_new("v");
    CHECK(v);
    aio_loop *loop = aio_new_event_loop();
    CHECK(loop);

    v_set(1);
    aio_handle *h = aio_incref(soon(loop, "h", NULL));
    aio_context *ctx = aio_handle_get_context(h);
    CHECK(ctx);
    printf("same object: %s v in it: %ld\n", py_bool(aio_handle_get_context(h) == ctx), in(ctx));
    v_set(2);
    printf("after v.set(2): in it %ld here %ld\n", in(ctx), v_get());
    CHECK(aio_context_run(ctx, set_50, NULL) == 0);
    aio_timer_handle *th = aio_loop_call_later(
        loop, &(aio_loop_call_later_args){.delay = AIO_ZERO, .callback = cb, .args = "th"});
    CHECK(th);
    aio_incref(th);
    printf("timer's v: %ld\n", in(aio_handle_get_context(th)));
    aio_context *given = aio_context_new();
    CHECK(given);
    aio_handle *hg = soon(loop, "hg", given);
    printf("given is kept: %s\n", py_bool(aio_handle_get_context(hg) == given));
    aio_handle *hc = aio_incref(soon(loop, "hc", NULL));
    CHECK(aio_handle_cancel(hc) == 0);
    printf("after cancel: %ld\n", in(aio_handle_get_context(hc)));
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = stop, .args = loop}));
    CHECK(aio_loop_run_forever(loop) == 0);
    printf("h's context after its run: %ld\n", in(ctx));
    printf("th's after its run: %ld\n", in(aio_handle_get_context(th)));
    printf("given after its run: %ld\n", in(given));
    aio_decref(h);
    aio_decref(th);
    aio_decref(hc);
    aio_decref(given);
    aio_loop_close(loop);
    aio_decref(loop);
    aio_decref(v);
    return 0;
}
