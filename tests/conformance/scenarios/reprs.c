/* The reprs that contain no Python source location or object address: the
 * loop's (running/closed/debug flags), a Future's in each state (result
 * None, an exception, cancelled, pending) and a cancelled Handle's, as they
 * appear in logs and exception-handler contexts. */
#include "conformance.h"

static aio_loop *loop;

static void print_repr(const char *prefix, const void *obj)
{
    char *repr = aio_repr(obj);
    CHECK(repr);
    printf("%s%s\n", prefix, repr);
    free(repr);
}

static void inside(void *arg)
{
    (void)arg;
    print_repr("inside: ", loop);
    aio_loop_stop(loop);
}
AIO_NAME_CALLBACK(inside);

static void never(void *arg)
{
    (void)arg;
}
AIO_NAME_CALLBACK(never);

static void with_exception(aio_exc *exc)
{
    aio_future *fut = aio_loop_create_future(loop);
    CHECK(fut);
    CHECK(aio_future_set_exception(fut, exc) == 0);
    aio_decref(exc);
    print_repr("", fut);
    aio_future_exception(fut);
    aio_decref(fut);
}

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    print_repr("", loop);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = inside}));
    CHECK(aio_loop_run_forever(loop) == 0);
    aio_loop_set_debug(loop, true);
    print_repr("debug: ", loop);
    aio_loop_set_debug(loop, false);

    aio_future *fut = aio_loop_create_future(loop);
    CHECK(fut);
    print_repr("", fut);
    CHECK(aio_future_set_result(fut, NULL) == 0);
    print_repr("", fut);
    aio_decref(fut);
    with_exception(aio_exc_new(aio_ValueError, "it's bad"));
    with_exception(aio_exc_new(aio_KeyError, "k"));
    with_exception(aio_exc_new(aio_RuntimeError, NULL));
    fut = aio_loop_create_future(loop);
    CHECK(fut);
    aio_future_cancel(fut, &(aio_future_cancel_args){.msg = "with a message"});
    print_repr("", fut);
    aio_decref(fut);

    aio_handle *h = aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = never, .args = "never"});
    CHECK(h);
    aio_handle_cancel(h);
    print_repr("", h);
    aio_loop_close(loop);
    print_repr("", loop);
    aio_decref(loop);
    return 0;
}
