/* get_running_loop() raises RuntimeError('no running event loop') outside a
 * running loop and returns the loop inside its callbacks (get_event_loop()
 * too, whatever loop is set); in the main thread get_event_loop() creates
 * and sets a loop the first time and keeps returning it; new_event_loop()
 * does not make its loop current; after set_event_loop(None) get_event_loop()
 * raises "There is no current event loop in thread 'MainThread'.", and
 * set_event_loop(loop) makes it current again. */
#include "conformance.h"

static aio_loop *loop;

static aio_loop *attempt(const char *label, aio_loop *(*fn)(void))
{
    aio_loop *value = fn();
    if (value == NULL)
        print_raised(label);
    else
        printf("%s: returned a loop\n", label);
    return value;
}

static void inside(void *arg)
{
    (void)arg;
    printf("inside: get_running_loop() is loop: %s\n", py_bool(aio_get_running_loop() == loop));
    printf("inside: get_event_loop() is loop: %s\n", py_bool(aio_get_event_loop() == loop));
    aio_loop_stop(loop);
}
AIO_NAME_CALLBACK(inside);

int main(void)
{
    attempt("get_running_loop() outside", aio_get_running_loop);
    aio_loop *implicit = attempt("get_event_loop() first call", aio_get_event_loop);
    CHECK(implicit);
    printf("same loop next time: %s\n", py_bool(aio_get_event_loop() == implicit));
    printf("implicit loop running: %s closed: %s\n", py_bool(aio_loop_is_running(implicit)),
           py_bool(aio_loop_is_closed(implicit)));
    aio_incref(implicit); /* borrowed from the policy, which drops it below */
    loop = aio_new_event_loop();
    CHECK(loop);
    printf("new loop is current: %s\n", py_bool(aio_get_event_loop() == loop));

    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = inside}));
    CHECK(aio_loop_run_forever(loop) == 0);
    attempt("get_running_loop() after the run", aio_get_running_loop);

    CHECK(aio_set_event_loop(NULL) == 0);
    attempt("get_event_loop() after set_event_loop(None)", aio_get_event_loop);
    attempt("again", aio_get_event_loop);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = inside}));
    CHECK(aio_loop_run_forever(loop) == 0);
    CHECK(aio_set_event_loop(loop) == 0);
    printf("after set_event_loop(loop): %s\n", py_bool(aio_get_event_loop() == loop));
    CHECK(aio_set_event_loop(NULL) == 0);
    aio_loop_close(implicit);
    aio_decref(implicit);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
