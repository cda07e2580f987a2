/* Running a loop from inside itself or while another loop runs in the same
 * thread: run_forever()/run_until_complete() on the running loop raise
 * RuntimeError('This event loop is already running'); on a second loop they
 * raise RuntimeError('Cannot run the event loop while another loop is
 * running'). The failed attempts leave the running loop running and the
 * future pending; once the first loop has stopped the second one runs
 * normally. */
#include "conformance.h"

static aio_loop *loop, *loop2;

static void report_int(const char *label, int rc)
{
    if (rc < 0)
        print_raised(label);
    else
        printf("%s: returned None\n", label);
}

static void report_ptr(const char *label, void *value)
{
    if (aio_err_occurred())
        print_raised(label);
    else
        printf("%s: returned %p\n", label, value);
}

static void inside(void *arg)
{
    (void)arg;
    aio_future *fut = aio_loop_create_future(loop);
    CHECK(fut);
    report_int("run_forever on itself", aio_loop_run_forever(loop));
    report_ptr("run_until_complete on itself", aio_loop_run_until_complete(loop, fut));
    printf("still running: %s future pending: %s\n", py_bool(aio_loop_is_running(loop)),
           py_bool(!aio_future_done(fut)));
    aio_future *fut2 = aio_loop_create_future(loop2);
    CHECK(fut2);
    report_int("run_forever on another loop", aio_loop_run_forever(loop2));
    report_ptr("run_until_complete on another loop", aio_loop_run_until_complete(loop2, fut2));
    printf("other loop running: %s\n", py_bool(aio_loop_is_running(loop2)));
    aio_decref(fut);
    aio_decref(fut2);
    aio_loop_stop(loop);
}
AIO_NAME_CALLBACK(inside);

static void say(void *arg)
{
    printf("%s\n", (const char *)arg);
}
AIO_NAME_CALLBACK(say);

static void stop(void *arg)
{
    aio_loop_stop(arg);
}
AIO_NAME_CALLBACK(stop);

int main(void)
{
    loop = aio_new_event_loop();
    loop2 = aio_new_event_loop();
    CHECK(loop && loop2);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = inside}));
    CHECK(aio_loop_run_forever(loop) == 0);
    printf("first loop stopped; running: %s\n", py_bool(aio_loop_is_running(loop)));
    CHECK(aio_loop_call_soon(loop2, &(aio_loop_call_soon_args){.callback = say, .args = "second loop runs now"}));
    CHECK(aio_loop_call_soon(loop2, &(aio_loop_call_soon_args){.callback = stop, .args = loop2}));
    CHECK(aio_loop_run_forever(loop2) == 0);
    aio_loop_close(loop2);
    aio_loop_close(loop);
    aio_decref(loop2);
    aio_decref(loop);
    return 0;
}
