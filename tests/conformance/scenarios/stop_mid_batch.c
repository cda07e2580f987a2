/* stop() called from a callback in the middle of a batch: the rest of that
 * batch (including timers that were due) still runs, then run_forever()
 * returns; callbacks scheduled during the batch run on the next
 * run_forever(), and the loop is not running in between. */
#include "conformance.h"

static aio_loop *loop;
static const char X[] = "x (scheduled by b after stop)";

static void cb(void *arg)
{
    const char *name = arg;
    printf("run %s running: %s\n", name, py_bool(aio_loop_is_running(loop)));
    if (strcmp(name, "b") == 0) {
        aio_loop_stop(loop);
        CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = cb, .args = (void *)X}));
    }
    if (strcmp(name, X) == 0)
        aio_loop_stop(loop);
}
AIO_NAME_CALLBACK(cb);

static void again(void *arg)
{
    (void)arg;
    printf("run again: stop again\n");
    aio_loop_stop(loop);
}
AIO_NAME_CALLBACK(again);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = cb, .args = "a"}));
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = cb, .args = "b"}));
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = cb, .args = "c"}));
    CHECK(aio_loop_call_at(loop, &(aio_loop_call_at_args){
        .when = aio_loop_time(loop) - 1, .callback = cb, .args = "due timer"}));
    CHECK(aio_loop_call_later(loop, &(aio_loop_call_later_args){
        .delay = 3600, .callback = cb, .args = "far timer"}));
    CHECK(aio_loop_run_forever(loop) == 0);
    printf("first run_forever returned; running: %s\n", py_bool(aio_loop_is_running(loop)));
    CHECK(aio_loop_run_forever(loop) == 0);
    printf("second run_forever returned\n");
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = again}));
    CHECK(aio_loop_run_forever(loop) == 0);
    printf("third run_forever returned\n");
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
