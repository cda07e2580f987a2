/* stop() before run_forever(): exactly one iteration runs, with a zero poll
 * timeout: the ready callbacks and the call_later(0) timer run, a far timer
 * does not, and what they schedule waits for the next run. The stop request
 * is consumed by that run: the next run_forever() runs until stopped again. */
#include "conformance.h"

static aio_loop *loop;

static void follow_up(void *arg)
{
    printf("run follow-up of %s\n", (const char *)arg);
}
AIO_NAME_CALLBACK(follow_up);

static void cb(void *arg)
{
    printf("run %s\n", (const char *)arg);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = follow_up, .args = arg}));
}
AIO_NAME_CALLBACK(cb);

static void stop(void *arg)
{
    aio_loop_stop(arg);
}
AIO_NAME_CALLBACK(stop);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = cb, .args = "soon"}));
    CHECK(aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = 0, .callback = cb, .args = "later(0)"}));
    CHECK(aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = 3600, .callback = cb, .args = "later(3600)"}));
    aio_loop_stop(loop);
    printf("stopping is not running: %s\n", py_bool(aio_loop_is_running(loop)));
    CHECK(aio_loop_run_forever(loop) == 0);
    printf("returned after one iteration\n");
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = stop, .args = loop}));
    CHECK(aio_loop_run_forever(loop) == 0);
    printf("returned again\n");
    aio_loop_stop(loop);
    aio_loop_stop(loop);
    CHECK(aio_loop_run_forever(loop) == 0);
    printf("two stops: one iteration, nothing to run\n");
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
