/* Future done callbacks once the future completes: each one is a separate
 * Handle, so one that raises is reported to the exception handler ('handle'
 * key present, no 'future' key) and the others still run; once the future
 * is done, remove_done_callback() finds nothing (0) and cannot stop callbacks
 * already scheduled; a callback that adds another one to the done future
 * gets it run on the next iteration. */
#include "conformance.h"

static aio_loop *loop;
static int it;

static void tick(void *arg)
{
    (void)arg;
    it++;
    if (it == 3)
        aio_loop_stop(loop);
    else
        CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
}
AIO_NAME_CALLBACK(tick);

static void handler(aio_loop *the_loop, const aio_exception_context *context, void *arg)
{
    (void)the_loop, (void)arg;
    printf("iteration %d handler: %s %s %s\n", it, context_keys(context),
           py_bool(strncmp(context->message, "Exception in callback", 21) == 0), exc_line(context->exception));
}
AIO_NAME_CALLBACK(handler);

static void third(aio_future *fut, void *arg)
{
    (void)fut, (void)arg;
    printf("iteration %d third still runs\n", it);
}
AIO_NAME_CALLBACK(third);

static void added_later(aio_future *fut, void *arg)
{
    (void)fut, (void)arg;
    printf("iteration %d added_later\n", it);
}
AIO_NAME_CALLBACK(added_later);

static void first(aio_future *fut, void *arg)
{
    (void)arg;
    printf("iteration %d first: remove_done_callback(third) -> %d\n", it,
           aio_future_remove_done_callback(fut, third, NULL));
    CHECK(aio_future_add_done_callback(fut, &(aio_future_add_done_callback_args){.callback = added_later}) == 0);
}
AIO_NAME_CALLBACK(first);

static void failing(aio_future *fut, void *arg)
{
    (void)fut, (void)arg;
    printf("iteration %d failing\n", it);
    aio_err_set(aio_ZeroDivisionError, "division by zero");
}
AIO_NAME_CALLBACK(failing);

static void set_result(void *fut)
{
    CHECK(aio_future_set_result(fut, NULL) == 0);
}
AIO_NAME_CALLBACK(set_result);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    aio_loop_set_exception_handler(loop, handler, NULL);
    aio_future *fut = aio_loop_create_future(loop);
    CHECK(fut);
    aio_done_callback cbs[] = {first, failing, third};
    for (int i = 0; i < 3; i++)
        CHECK(aio_future_add_done_callback(fut, &(aio_future_add_done_callback_args){.callback = cbs[i]}) == 0);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = set_result, .args = fut}));
    CHECK(aio_loop_run_forever(loop) == 0);
    aio_decref(fut);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
