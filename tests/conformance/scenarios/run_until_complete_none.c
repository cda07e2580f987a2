/* run_until_complete(None): asyncio checks the loop first (closed, then
 * already running) and only then the argument, so None gives
 * RuntimeError('Event loop is closed') on a closed loop, RuntimeError('This
 * event loop is already running') from inside a callback, and the TypeError
 * 'An asyncio.Future, a coroutine or an awaitable is required' otherwise. */
#include "conformance.h"

static aio_loop *loop;

static void attempt(const char *label)
{
    void *value = aio_loop_run_until_complete(loop, NULL);
    if (aio_err_occurred())
        print_raised(label);
    else
        printf("%s: returned %p\n", label, value);
}

static void inside(void *arg)
{
    (void)arg;
    attempt("running loop, None");
    aio_loop_stop(loop);
}
AIO_NAME_CALLBACK(inside);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    attempt("open loop, None");
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = inside}));
    CHECK(aio_loop_run_forever(loop) == 0);
    aio_loop_close(loop);
    attempt("closed loop, None");
    aio_decref(loop);
    return 0;
}
