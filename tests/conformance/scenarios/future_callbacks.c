/* Future done callbacks: they run in registration order, one iteration after
 * the future completes (scheduled with call_soon at completion, so after
 * callbacks queued before set_result() and before those queued after it);
 * add_done_callback() on a done future schedules the callback at once (it
 * still runs on a later iteration, never inline); remove_done_callback()
 * removes every registration of the callback and returns the count;
 * cancel() runs the callbacks too. */
#include "conformance.h"

static aio_loop *loop;
static aio_future *fut, *other;
static int it;

static void tick(void *arg)
{
    (void)arg;
    it++;
    if (it == 6)
        aio_loop_stop(loop);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
}
AIO_NAME_CALLBACK(tick);

static void cb1(aio_future *f, void *arg)
{
    (void)arg;
    void *result = aio_future_result(f);
    printf("iteration %d cb1 done: %s result: %d\n", it, py_bool(aio_future_done(f)),
           (int)(intptr_t)result);
}
AIO_NAME_CALLBACK(cb1);

static void cb2(aio_future *f, void *arg)
{
    (void)f, (void)arg;
    printf("iteration %d cb2\n", it);
}
AIO_NAME_CALLBACK(cb2);

static void cb3(aio_future *f, void *arg)
{
    (void)f, (void)arg;
    printf("iteration %d cb3\n", it);
}
AIO_NAME_CALLBACK(cb3);

static void late(aio_future *f, void *arg)
{
    (void)f, (void)arg;
    printf("iteration %d late (added when done)\n", it);
}
AIO_NAME_CALLBACK(late);

static void on_cancel(aio_future *f, void *arg)
{
    (void)arg;
    printf("iteration %d on_cancel cancelled: %s\n", it, py_bool(aio_future_cancelled(f)));
}
AIO_NAME_CALLBACK(on_cancel);

static void say(void *what)
{
    printf("iteration %d %s\n", it, (const char *)what);
}
AIO_NAME_CALLBACK(say);

static void add(aio_future *f, aio_done_callback cb)
{
    CHECK(aio_future_add_done_callback(f, &(aio_future_add_done_callback_args){.callback = cb}) == 0);
}

static void complete(void *arg)
{
    (void)arg;
    say("complete: call_soon before set_result");
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = say, .args = "queued before set_result"}));
    CHECK(aio_future_set_result(fut, (void *)42) == 0);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = say, .args = "queued after set_result"}));
    add(fut, late);
    printf("iteration %d done right after set_result: %s\n", it, py_bool(aio_future_done(fut)));
}
AIO_NAME_CALLBACK(complete);

static void cancel_other(void *arg)
{
    (void)arg;
    int first = aio_future_cancel(other, NULL);
    int second = aio_future_cancel(other, NULL);
    printf("iteration %d cancel: %s %s\n", it, py_bool(first), py_bool(second));
    add(other, on_cancel);
}
AIO_NAME_CALLBACK(cancel_other);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    fut = aio_loop_create_future(loop);
    CHECK(fut);
    add(fut, cb1);
    add(fut, cb2);
    add(fut, cb1);
    add(fut, cb3);
    add(fut, cb2);
    printf("removed cb2: %d\n", aio_future_remove_done_callback(fut, cb2, NULL));
    printf("removed cb2 again: %d\n", aio_future_remove_done_callback(fut, cb2, NULL));
    add(fut, cb2);

    other = aio_loop_create_future(loop);
    CHECK(other);
    add(other, on_cancel);

    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = complete}));
    CHECK(aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = 0, .callback = cancel_other}));
    CHECK(aio_loop_run_forever(loop) == 0);
    printf("removed cb1 after completion: %d\n", aio_future_remove_done_callback(fut, cb1, NULL));
    aio_decref(fut);
    aio_decref(other);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
