/* call_soon() runs callbacks once each, in the order they were scheduled
 * (FIFO), passing *args; a cancelled handle is skipped; callbacks scheduled
 * while the batch runs wait for the next iteration, after everything that
 * was already queued. */
#include "conformance.h"

static aio_loop *loop;
static char order[256];

static void cb(void *arg)
{
    int n = (int)(intptr_t)arg;
    snprintf(order + strlen(order), sizeof order - strlen(order), "%s%d", *order ? ", " : "", n);
    printf("cb %d\n", n);
    if (n == 2) {
        CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = cb, .args = (void *)10}));
        CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = cb, .args = (void *)11}));
    }
    if (n == 11)
        aio_loop_stop(loop);
}
AIO_NAME_CALLBACK(cb);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    aio_handle *handles[6];
    for (intptr_t n = 0; n < 6; n++) {
        handles[n] = aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = cb, .args = (void *)n});
        CHECK(handles[n]);
    }
    printf("handle 3 cancelled before: %s\n", py_bool(aio_handle_cancelled(handles[3])));
    aio_incref(handles[3]); /* kept past its cancellation to ask cancelled() */
    aio_handle_cancel(handles[3]);
    aio_handle_cancel(handles[3]);
    printf("handle 3 cancelled after: %s\n", py_bool(aio_handle_cancelled(handles[3])));
    CHECK(aio_loop_run_forever(loop) == 0);
    aio_decref(handles[3]);
    printf("order: [%s]\n", order);
    printf("running after stop: %s\n", py_bool(aio_loop_is_running(loop)));
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
