/* Cancelling, from an earlier callback of the same iteration, a timer that
 * is already due (popped into the ready queue) skips it; cancelling a ready
 * call_soon handle from an earlier callback of the batch likewise.
 * cancel() on a timer that already ran still marks it cancelled; when()
 * returns the deadline call_at() was given. */
#include "conformance.h"

static aio_loop *loop;
static aio_handle *second_handle, *soon_handle;

static void say(void *arg)
{
    printf("%s\n", (const char *)arg);
}
AIO_NAME_CALLBACK(say);

static void first(void *arg)
{
    (void)arg;
    printf("first: cancel second\n");
    aio_handle_cancel(second_handle);
}
AIO_NAME_CALLBACK(first);

static void cancel_soon(void *arg)
{
    (void)arg;
    printf("ready callback: cancel the soon handle\n");
    aio_handle_cancel(soon_handle);
}
AIO_NAME_CALLBACK(cancel_soon);

static void second(void *arg)
{
    (void)arg;
    printf("second ran (wrong)\n");
}
AIO_NAME_CALLBACK(second);

static void third(void *arg)
{
    (void)arg;
    printf("third ran\n");
}
AIO_NAME_CALLBACK(third);

static aio_handle *at(double when, aio_callback fn)
{
    aio_handle *h = aio_loop_call_at(loop, &(aio_loop_call_at_args){.when = when, .callback = fn});
    CHECK(h);
    return aio_incref(h); /* kept to ask cancelled() after it ran */
}

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    double t = aio_loop_time(loop) - 1;
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = cancel_soon}));
    aio_handle *first_handle = at(t, first);
    second_handle = at(t + 0.5, second);
    aio_handle *third_handle = at(t + 0.6, third);
    soon_handle = aio_loop_call_soon(loop, &(aio_loop_call_soon_args){
        .callback = say, .args = "soon handle ran (wrong)"});
    CHECK(soon_handle);
    aio_incref(soon_handle);
    printf("when() == t: %s %s\n", py_bool(aio_timer_handle_when(first_handle) == t),
           py_bool(aio_timer_handle_when(second_handle) == t + 0.5));
    aio_loop_stop(loop);
    CHECK(aio_loop_run_forever(loop) == 0);
    printf("cancelled: %s %s %s %s\n", py_bool(aio_handle_cancelled(first_handle)),
           py_bool(aio_handle_cancelled(second_handle)), py_bool(aio_handle_cancelled(third_handle)),
           py_bool(aio_handle_cancelled(soon_handle)));
    aio_handle_cancel(third_handle);
    printf("cancel after it ran: %s\n", py_bool(aio_handle_cancelled(third_handle)));
    aio_decref(first_handle);
    aio_decref(second_handle);
    aio_decref(third_handle);
    aio_decref(soon_handle);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
