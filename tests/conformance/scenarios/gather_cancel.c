/* Cancelling gather()'s outer future cancels every child that is not done
 * (True if any accepted) and, once all children are done, completes the
 * outer future with a CancelledError as its exception: outer.cancelled() is
 * False. With return_exceptions=True that CancelledError is the one of the
 * last child in argument order (not of the last to finish), even when a
 * child swallowed its cancellation and returned. A child cancelled on its
 * own makes the outer future fail with CancelledError at once
 * (return_exceptions=False) while the others keep running. Cancelling a task that awaits gather() goes through the outer
 * future to the children. */
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

/* "iteration N label: Type: message" for the current exception, left set. */
static void show(const char *label)
{
    printf("iteration %d %s: %s\n", it, label, exc_line(aio_err_occurred()));
}

static void show_labeled(const char *name, const char *what)
{
    char label[64];
    snprintf(label, sizeof label, "%s %s", name, what);
    show(label);
}

typedef struct spec {
    const char *name;
    int n;
} spec;

static void *sleeper(void *arg)
{
    spec *s = arg;
    for (int i = 0; i < s->n; i++) {
        if (aio_sleep(0) < 0) {
            show_labeled(s->name, "cancelled");
            return NULL;
        }
    }
    printf("iteration %d %s returns\n", it, s->name);
    return (void *)s->name;
}
AIO_NAME_CALLBACK(sleeper);

static void *swallower(void *arg)
{
    spec *s = arg;
    if (aio_sleep(3600) < 0) {
        show_labeled(s->name, "swallows");
        aio_err_clear();
    }
    if (aio_sleep(0) < 0 || aio_sleep(0) < 0)
        return NULL;
    printf("iteration %d %s returns\n", it, s->name);
    return (void *)s->name;
}
AIO_NAME_CALLBACK(swallower);

static aio_task *task(aio_coroutine coro, spec *s)
{
    aio_task *t = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = coro, .coro_arg = s, .name = s->name});
    CHECK(t);
    return t;
}

static aio_future *gather2(aio_future *x, aio_future *y, bool return_exceptions)
{
    aio_future *aws[] = {x, y};
    aio_future *outer = aio_gather(aws, 2, &(aio_gather_args){.return_exceptions = return_exceptions});
    CHECK(outer);
    return outer;
}

static void await_outer(aio_future *outer, const char *label)
{
    if (aio_await(outer) == NULL && aio_err_matches(aio_CancelledError)) {
        show(label);
        aio_err_clear();
    } else {
        CHECK(0);
    }
}

static spec sf = {"f", 3600}, sg = {"g", 3600};

static void *gatherer(void *arg)
{
    (void)arg;
    aio_task *f = task(sleeper, &sf), *g = task(sleeper, &sg);
    aio_future *outer = gather2(f, g, false);
    aio_decref(f);
    aio_decref(g);
    void *result = aio_await(outer);
    if (result == NULL && aio_err_matches(aio_CancelledError))
        show("gatherer caught");
    aio_decref(outer);
    return result;
}
AIO_NAME_CALLBACK(gatherer);

static void *main_coro(void *arg)
{
    (void)arg;
    /* 1. outer.cancel(): the children first, then the outer future. */
    spec sa = {"a", 3600}, sb = {"b", 3600};
    aio_task *a = task(sleeper, &sa), *b = task(sleeper, &sb);
    aio_future *outer = gather2(a, b, false);
    CHECK(aio_sleep(0) == 0);
    printf("iteration %d outer.cancel: %s\n", it,
           py_bool(aio_future_cancel(outer, &(aio_future_cancel_args){.msg = "stop all"})));
    await_outer(outer, "awaiting outer");
    printf("iteration %d outer cancelled: %s exception: %s children cancelled: %s %s\n", it,
           py_bool(aio_future_cancelled(outer)), aio_exc_type_of(aio_future_exception(outer))->name,
           py_bool(aio_future_cancelled(a)), py_bool(aio_future_cancelled(b)));
    aio_decref(outer);
    aio_decref(a);
    aio_decref(b);

    /* 2. return_exceptions=True, a child swallows it and finishes last: the
     * exception is still the last child's in argument order. */
    spec ss = {"s", 0}, sc = {"c", 3600};
    aio_task *s = task(swallower, &ss), *c = task(sleeper, &sc);
    outer = gather2(s, c, true);
    CHECK(aio_sleep(0) == 0);
    printf("iteration %d outer.cancel: %s\n", it,
           py_bool(aio_future_cancel(outer, &(aio_future_cancel_args){.msg = "stop again"})));
    await_outer(outer, "awaiting outer");
    printf("iteration %d s result: %s outer cancelled: %s\n", it,
           (const char *)aio_future_result(s), py_bool(aio_future_cancelled(outer)));
    aio_decref(outer);
    aio_decref(s);
    aio_decref(c);

    /* 3. One child cancelled on its own. */
    spec sd = {"d", 3600}, se = {"e", 4};
    aio_task *d = task(sleeper, &sd), *e = task(sleeper, &se);
    outer = gather2(d, e, false);
    CHECK(aio_sleep(0) == 0);
    printf("iteration %d d.cancel: %s\n", it, py_bool(aio_task_cancel(d, "only d")));
    await_outer(outer, "awaiting outer");
    printf("iteration %d outer cancelled: %s e done: %s\n", it,
           py_bool(aio_future_cancelled(outer)), py_bool(aio_future_done(e)));
    CHECK(aio_await(e));
    printf("iteration %d e result: %s\n", it, (const char *)aio_future_result(e));
    aio_decref(outer);
    aio_decref(d);
    aio_decref(e);

    /* 4. Cancelling the task that awaits gather(). */
    spec sgat = {"gatherer", 0};
    aio_task *t = task(gatherer, &sgat);
    CHECK(aio_sleep(0) == 0);
    CHECK(aio_sleep(0) == 0);
    printf("iteration %d gatherer.cancel: %s\n", it, py_bool(aio_task_cancel(t, "from main")));
    await_outer(t, "awaiting gatherer");
    printf("iteration %d gatherer cancelled: %s cancelling: %d\n", it,
           py_bool(aio_future_cancelled(t)), aio_task_cancelling(t));
    aio_decref(t);
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
