/* wait_for() in 3.11 when its task is cancelled and the inner task finishes
 * before wait_for resumes: the cancellation reaches the internal waiter, but
 * since the inner task is done by then wait_for returns its result and the
 * cancellation is swallowed (the task is not cancelled; cancelling() is 1).
 * When the inner task is still pending, the inner task is cancelled and
 * awaited first, then CancelledError propagates. */
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

static void show(const char *label)
{
    printf("iteration %d %s: %s\n", it, label, exc_line(aio_err_occurred()));
}

static void *inner_work(void *arg)
{
    int steps = (int)(intptr_t)arg;
    for (int i = 0; i < steps; i++) {
        if (aio_sleep(0) < 0) {
            printf("iteration %d inner cancelled\n", it);
            return NULL;
        }
    }
    printf("iteration %d inner returns\n", it);
    return "inner result";
}
AIO_NAME_CALLBACK(inner_work);

static void *outer(void *arg)
{
    const char *r = aio_wait_for(arg, 10);
    if (r == NULL) {
        if (aio_err_matches(aio_CancelledError))
            show("outer caught");
        return NULL;
    }
    printf("iteration %d outer got %s\n", it, r);
    return (void *)r;
}
AIO_NAME_CALLBACK(outer);

static aio_task *task(aio_coroutine coro, void *arg, const char *name)
{
    aio_task *t = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = coro, .coro_arg = arg, .name = name});
    CHECK(t);
    return t;
}

static void *main_coro(void *arg)
{
    (void)arg;
    aio_task *inner = task(inner_work, (void *)2, "inner");
    aio_task *o = task(outer, inner, "outer");
    CHECK(aio_sleep(0) == 0);
    CHECK(aio_sleep(0) == 0);
    int done = aio_future_done(inner);
    printf("iteration %d inner done: %s - cancel outer: %s\n", it, py_bool(done),
           py_bool(aio_task_cancel(o, "race")));
    const char *r = aio_await(o);
    if (r == NULL) {
        /* 3.12's wait_for() cancelled the inner task too: the outer task
         * raises CancelledError, which the script does not catch (exit
         * status 1) */
        fflush(stdout);
        aio_err_print();
        exit(1);
    }
    printf("iteration %d outer returned %s cancelled: %s cancelling: %d\n", it, r,
           py_bool(aio_future_cancelled(o)), aio_task_cancelling(o));
    aio_decref(o);
    aio_decref(inner);

    inner = task(inner_work, (void *)5, "inner2");
    o = task(outer, inner, "outer2");
    CHECK(aio_sleep(0) == 0);
    CHECK(aio_sleep(0) == 0);
    done = aio_future_done(inner);
    printf("iteration %d inner done: %s - cancel outer: %s\n", it, py_bool(done),
           py_bool(aio_task_cancel(o, "no race")));
    CHECK(aio_await(o) == NULL && aio_err_matches(aio_CancelledError));
    show("awaiting outer2");
    aio_err_clear();
    printf("iteration %d inner cancelled: %s outer cancelled: %s\n", it,
           py_bool(aio_future_cancelled(inner)), py_bool(aio_future_cancelled(o)));
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
