/* wait_for(aw, timeout): a result in time is returned (the waiting task
 * resumes two iterations after the inner task returns: one for the done
 * callback that releases the waiter, one for the wakeup); on timeout the
 * inner task is cancelled and wait_for waits until it is done before
 * raising TimeoutError (from the CancelledError), so the inner task's
 * cleanup has run; an inner task that swallows that cancellation and returns
 * makes wait_for return its value instead. timeout <= 0: a done future's
 * result at once, without yielding; a pending task is cancelled (before its
 * first step: its body never runs) and TimeoutError raised. timeout=None
 * just awaits. Cancelling the task inside wait_for cancels the inner task
 * too and raises CancelledError. */
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

/* "label: Type: message" for the current exception, left set. */
static void show(const char *label)
{
    printf("%s: %s\n", label, exc_line(aio_err_occurred()));
}

typedef struct spec {
    const char *name;
    long steps;
    bool swallow;
    int mark;
} spec;

static void *worker(void *arg)
{
    spec *s = arg;
    printf("%s starts\n", s->name);
    for (long i = 0; i < s->steps; i++) {
        if (aio_sleep(0) < 0) {
            s->mark = it;
            char label[64];
            snprintf(label, sizeof label, "%s cancelled", s->name);
            show(label);
            aio_exc *cancelled = aio_err_fetch();
            if (aio_sleep(0) < 0) {
                aio_decref(cancelled);
                return NULL;
            }
            printf("%s cleanup done after %d iteration\n", s->name, it - s->mark);
            if (s->swallow) {
                aio_decref(cancelled);
                return "stubborn swallowed";
            }
            aio_err_restore(cancelled);
            return NULL;
        }
    }
    s->mark = it;
    printf("%s returns\n", s->name);
    return (void *)s->name;
}
AIO_NAME_CALLBACK(worker);

static void *sleeper(void *arg)
{
    spec *s = arg;
    printf("%s starts\n", s->name);
    if (aio_sleep(3600) < 0) {
        s->mark = it;
        show("inner cancelled");
        return NULL;
    }
    return NULL;
}
AIO_NAME_CALLBACK(sleeper);

static aio_task *task(aio_coroutine coro, spec *s)
{
    aio_task *t = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = coro, .coro_arg = s, .name = s->name});
    CHECK(t);
    return t;
}

static spec s_inner = {"inner", 0, false, 0};
static aio_task *inner;

static void *outer(void *arg)
{
    (void)arg;
    void *r = aio_wait_for(inner, 3600);
    if (r == NULL && aio_err_matches(aio_CancelledError)) {
        show("outer caught");
        printf("inner done: %s cancelled: %s\n", py_bool(aio_future_done(inner)),
               py_bool(aio_future_cancelled(inner)));
    }
    return r;
}
AIO_NAME_CALLBACK(outer);

/* The class `except asyncio.TimeoutError` catches at the target version. */
static const aio_exc_type *asyncio_timeout_error(void)
{
    return aio_asyncio_timeout_error_type(aio_loop_get_target_version(aio_get_running_loop()));
}

static void *main_coro(void *arg)
{
    (void)arg;
    spec quick = {"quick", 2, false, 0};
    aio_task *t = task(worker, &quick);
    const char *r = aio_wait_for(t, 10);
    CHECK(r);
    printf("wait_for returned %s iterations after the return: %d\n", r, it - quick.mark);
    aio_decref(t);

    spec slow = {"slow", 1000000000L, false, 0};
    t = task(worker, &slow);
    if (aio_wait_for(t, 0.01) == NULL && aio_err_matches(asyncio_timeout_error())) {
        show("wait_for raised");
        aio_exc *e = aio_err_fetch();
        aio_exc *cause = aio_exc_cause(e);
        printf("cause: %s isinstance of TimeoutError: %s\n",
               cause ? aio_exc_type_of(cause)->name : "NoneType",
               py_bool(aio_exc_isinstance(e, aio_TimeoutError)));
        aio_decref(e);
        printf("inner done: %s cancelled: %s iterations since its cancel: %d\n",
               py_bool(aio_future_done(t)), py_bool(aio_future_cancelled(t)), it - slow.mark);
    }
    CHECK(!aio_err_occurred());
    aio_decref(t);

    spec stubborn = {"stubborn", 1000000000L, true, 0};
    t = task(worker, &stubborn);
    r = aio_wait_for(t, 0.01);
    if (r == NULL)
        uncaught(); /* 3.8: TimeoutError although the task returned */
    printf("wait_for returned '%s' cancelled: %s\n", r, py_bool(aio_future_cancelled(t)));
    aio_decref(t);

    aio_future *done = aio_loop_create_future(loop);
    CHECK(aio_future_set_result(done, "ready") == 0);
    int start = it;
    r = aio_wait_for(done, 0);
    CHECK(r);
    printf("wait_for(done, 0): %s iterations: %d\n", r, it - start);
    aio_decref(done);

    spec never = {"never", 1, false, 0};
    t = task(worker, &never);
    start = it;
    if (aio_wait_for(t, -1) == NULL && aio_err_matches(asyncio_timeout_error())) {
        show("wait_for(pending, -1) raised");
        aio_err_clear();
    }
    CHECK(!aio_err_occurred());
    printf("never cancelled: %s iterations: %d\n", py_bool(aio_future_cancelled(t)), it - start);
    aio_decref(t);

    spec unbounded = {"unbounded", 3, false, 0};
    t = task(worker, &unbounded);
    start = it;
    r = aio_wait_for(t, AIO_FOREVER);
    CHECK(r);
    printf("wait_for(None): %s iterations: %d\n", r, it - start);
    aio_decref(t);

    inner = task(sleeper, &s_inner);
    spec s_outer = {"outer", 0, false, 0};
    aio_task *o = task(outer, &s_outer);
    CHECK(aio_sleep(0) == 0);
    CHECK(aio_sleep(0) == 0);
    printf("cancel outer: %s\n", py_bool(aio_task_cancel(o, "outer cancelled")));
    if (aio_await(o) == NULL && aio_err_matches(aio_CancelledError)) {
        show("awaiting outer");
        aio_err_clear();
    }
    CHECK(!aio_err_occurred());
    aio_decref(o);
    aio_decref(inner);
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
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
