/* shield(inner): cancelling the task that awaits the shield cancels only the
 * shield's outer future; the awaiting task gets CancelledError while the
 * inner task keeps running and completes with its own result. Once the outer
 * future is cancelled it lets go of the inner task, so an inner task that
 * fails afterwards reports 'Task exception was never retrieved' when
 * dropped. An inner task cancelled directly cancels the outer future (with
 * no message); a result or an exception passes through; shield() of a done
 * future returns that future itself. */
#include "conformance.h"

static aio_loop *loop;
static int it;

static void tick(void *arg)
{
    (void)arg;
    it++;
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
}
AIO_NAME_CALLBACK(tick);

static void handler(aio_loop *the_loop, const aio_exception_context *context, void *arg)
{
    (void)the_loop, (void)arg;
    printf("iteration %d handler: %s %s\n", it, context->message,
           aio_exc_type_of(context->exception)->name);
}
AIO_NAME_CALLBACK(handler);

/* "iteration N label: Type: message" for the current exception, left set. */
static void show(const char *label)
{
    printf("iteration %d %s: %s\n", it, label, exc_line(aio_err_occurred()));
}

typedef struct spec {
    const char *name;
    int steps;
    bool fail;
    char result[32];
} spec;

static void *work(void *arg)
{
    spec *s = arg;
    for (int i = 0; i < s->steps; i++)
        if (aio_sleep(0) < 0)
            return NULL;
    if (s->fail) {
        printf("iteration %d %s raises\n", it, s->name);
        aio_err_set(aio_ValueError, s->name);
        return NULL;
    }
    printf("iteration %d %s returns\n", it, s->name);
    snprintf(s->result, sizeof s->result, "%s result", s->name);
    return s->result;
}
AIO_NAME_CALLBACK(work);

static void *guarded(void *arg)
{
    aio_future *shield = aio_shield(arg);
    CHECK(shield);
    void *r = aio_await(shield);
    if (r == NULL && aio_err_matches(aio_CancelledError))
        show("guarded caught");
    aio_decref(shield);
    return r;
}
AIO_NAME_CALLBACK(guarded);

static aio_task *task(aio_coroutine coro, void *arg, const char *name)
{
    aio_task *t = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = coro, .coro_arg = arg, .name = name});
    CHECK(t);
    return t;
}

static void expect(aio_exc_type const *type, const char *label)
{
    CHECK(aio_err_matches(type));
    show(label);
    aio_err_clear();
}

static void *main_coro(void *arg)
{
    (void)arg;
    spec s_inner = {"inner", 4, false, ""};
    aio_task *inner = task(work, &s_inner, "inner");
    aio_task *g = task(guarded, inner, "guarded");
    CHECK(aio_sleep(0) == 0);
    int accepted = aio_task_cancel(g, "stop guarded");
    printf("iteration %d cancel guarded: %s inner cancelling: %d\n", it, py_bool(accepted),
           aio_task_cancelling(inner));
    CHECK(aio_await(g) == NULL);
    expect(aio_CancelledError, "awaiting guarded");
    printf("iteration %d inner done: %s\n", it, py_bool(aio_future_done(inner)));
    const char *r = aio_await(inner);
    CHECK(r);
    printf("iteration %d inner result: %s\n", it, r);
    aio_decref(g);
    aio_decref(inner);

    spec s_failing = {"failing", 3, true, ""};
    aio_task *failing = task(work, &s_failing, "failing");
    g = task(guarded, failing, "guarded");
    CHECK(aio_sleep(0) == 0);
    aio_task_cancel(g, NULL);
    CHECK(aio_await(g) == NULL);
    expect(aio_CancelledError, "awaiting guarded");
    for (int i = 0; i < 4; i++)
        CHECK(aio_sleep(0) == 0);
    printf("iteration %d failing done: %s - dropping it\n", it, py_bool(aio_future_done(failing)));
    aio_decref(failing);
    aio_decref(g);

    spec s_victim = {"victim", 3, false, ""};
    aio_task *victim = task(work, &s_victim, "victim");
    aio_future *outer = aio_shield(victim);
    CHECK(outer);
    CHECK(aio_sleep(0) == 0);
    aio_task_cancel(victim, "victim message");
    CHECK(aio_await(outer) == NULL);
    expect(aio_CancelledError, "awaiting the shield of a cancelled task");
    printf("iteration %d outer cancelled: %s\n", it, py_bool(aio_future_cancelled(outer)));
    aio_decref(outer);
    aio_decref(victim);

    spec s_ok = {"ok", 1, false, ""};
    aio_task *ok = task(work, &s_ok, "ok");
    outer = aio_shield(ok);
    CHECK(outer);
    r = aio_await(outer);
    CHECK(r);
    printf("iteration %d through the shield: %s\n", it, r);
    aio_decref(outer);
    spec s_bad = {"bad", 1, true, ""};
    aio_task *bad = task(work, &s_bad, "bad");
    outer = aio_shield(bad);
    CHECK(outer);
    CHECK(aio_await(outer) == NULL);
    expect(aio_ValueError, "through the shield");
    aio_decref(outer);
    aio_decref(bad);
    outer = aio_shield(ok);
    printf("shield(done) is done: %s\n", py_bool(outer == ok));
    aio_decref(outer);
    aio_decref(ok);
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    aio_loop_set_exception_handler(loop, handler, NULL);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    aio_task *m = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = main_coro});
    CHECK(m);
    aio_loop_run_until_complete(loop, m);
    CHECK(!aio_err_occurred());
    aio_decref(m);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
