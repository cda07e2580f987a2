/* A negative delay is accepted and makes the timer due at once: it runs in
 * the first iteration, after the ready callbacks, and timers run in deadline
 * order (the most negative first), not in the order they were scheduled.
 * The TimerHandle's when() is loop.time() + delay, in the past. */
#include "conformance.h"

static aio_loop *loop;

static void say(void *arg)
{
    printf("%s\n", (const char *)arg);
}
AIO_NAME_CALLBACK(say);

static aio_timer_handle *later(double delay, const char *name)
{
    aio_timer_handle *h = aio_loop_call_later(loop, &(aio_loop_call_later_args){
        .delay = delay, .callback = say, .args = (void *)name});
    CHECK(h);
    return h;
}

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = say, .args = "call_soon"}));
    later(0, "call_later(0)");
    aio_timer_handle *h1 = later(-1, "call_later(-1)");
    aio_timer_handle *h5 = later(-5, "call_later(-5)");
    aio_timer_handle *h_half = later(-0.5, "call_later(-0.5)");
    double w1 = aio_timer_handle_when(h1), w5 = aio_timer_handle_when(h5);
    double w_half = aio_timer_handle_when(h_half);
    printf("when() in the past: %s %s\n", py_bool(w1 < aio_loop_time(loop)),
           py_bool(w5 < w1 && w1 < w_half));
    aio_loop_stop(loop);
    CHECK(aio_loop_run_forever(loop) == 0);
    printf("one iteration ran them all\n");
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
