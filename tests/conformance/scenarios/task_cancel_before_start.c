/* A task cancelled before its first step never runs its body: the first step
 * throws CancelledError into the coroutine that has not started, and the task
 * ends cancelled in that same iteration. cancel() returns True while the task
 * is pending (each call counts in cancelling(), the last message wins) and
 * False once it is done; done callbacks run one iteration after the step;
 * the task awaiting it gets CancelledError with the message. */
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

static void *body(void *arg)
{
    (void)arg;
    printf("iteration %d body runs (it must not)\n", it);
    return "never";
}
AIO_NAME_CALLBACK(body);

static void on_done(aio_future *t, void *arg)
{
    (void)arg;
    printf("iteration %d done callback: %s cancelled: %s\n", it, aio_task_get_name(t),
           py_bool(aio_future_cancelled(t)));
}
AIO_NAME_CALLBACK(on_done);

static void *waiter(void *arg)
{
    aio_task *t = arg;
    printf("iteration %d waiter starts, target done: %s\n", it, py_bool(aio_future_done(t)));
    if (aio_await(t) == NULL && aio_err_matches(aio_CancelledError)) {
        printf("iteration %d ", it);
        print_raised("waiter caught");
        return "waiter finished";
    }
    return NULL;
}
AIO_NAME_CALLBACK(waiter);

static void report_as(const char *label, aio_task *t)
{
    printf("iteration %d %s done: %s cancelled: %s cancelling: %d\n", it, label,
           py_bool(aio_future_done(t)), py_bool(aio_future_cancelled(t)), aio_task_cancelling(t));
}

static void report_later(void *arg)
{
    report_as("after the first step", arg);
}
AIO_NAME_CALLBACK(report_later);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = body});
    CHECK(t);
    CHECK(aio_future_add_done_callback(t, &(aio_future_add_done_callback_args){.callback = on_done}) == 0);
    aio_task *w = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = waiter, .coro_arg = t});
    CHECK(w);
    printf("cancel: %s\n", py_bool(aio_task_cancel(t, "first message")));
    printf("cancel again: %s\n", py_bool(aio_task_cancel(t, "last message")));
    report_as("after cancel", t);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = report_later, .args = t}));
    const char *r = aio_loop_run_until_complete(loop, w);
    CHECK(r);
    printf("waiter: %s\n", r);
    report_as("at the end", t);
    printf("cancel when done: %s\n", py_bool(aio_task_cancel(t, "too late")));
    printf("cancelling when done: %d\n", aio_task_cancelling(t));
    int a = aio_task_uncancel(t), b = aio_task_uncancel(t), c = aio_task_uncancel(t);
    printf("uncancel when done: %d %d %d\n", a, b, c);
    aio_decref(w);
    aio_decref(t);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
