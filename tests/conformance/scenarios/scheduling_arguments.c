/* Argument checks of the scheduling methods: call_later(None) raises
 * TypeError('delay must not be None') and call_at(None) TypeError('when
 * cannot be None') - before the closed check, so also on a closed loop;
 * delays may be ints, floats, zero or negative; call_soon() and call_later()
 * return Handle and TimerHandle objects whose when() is absolute. None is
 * written AIO_NONE. */
#include "conformance.h"

static void say(void *arg)
{
    printf("%s\n", (const char *)arg);
}
AIO_NAME_CALLBACK(say);

/* type(h).__name__: only a TimerHandle has when(). */
static const char *type_name(aio_handle *h)
{
    if (aio_timer_handle_when(h) == -1.0 && aio_err_occurred()) {
        aio_err_clear();
        return "Handle";
    }
    return "TimerHandle";
}

static aio_handle *attempt(const char *label, aio_handle *h)
{
    if (h == NULL)
        print_raised(label);
    else
        printf("%s: returned %s\n", label, type_name(h));
    return h;
}

int main(void)
{
    aio_loop *loop = aio_new_event_loop();
    CHECK(loop);
    attempt("call_later(None)", aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = AIO_NONE, .callback = say}));
    attempt("call_at(None)", aio_loop_call_at(loop, &(aio_loop_call_at_args){.when = AIO_NONE, .callback = say}));
    double now = aio_loop_time(loop);
    aio_handle *h = attempt("call_later(2)", aio_loop_call_later(loop, &(aio_loop_call_later_args){
        .delay = 2, .callback = say, .args = "x"}));
    CHECK(h);
    double d = aio_timer_handle_when(h) - now;
    printf("  when - now in [2, 3): %s\n", py_bool(2 <= d && d < 3));
    aio_handle_cancel(h);
    h = attempt("call_at(now + 5)", aio_loop_call_at(loop, &(aio_loop_call_at_args){
        .when = now + 5, .callback = say, .args = "x"}));
    CHECK(h);
    printf("  when == now + 5: %s\n", py_bool(aio_timer_handle_when(h) == now + 5));
    aio_handle_cancel(h);
    h = attempt("call_soon", aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = say, .args = "x"}));
    CHECK(h);
    aio_handle_cancel(h);
    h = attempt("call_soon_threadsafe", aio_loop_call_soon_threadsafe(loop, &(aio_loop_call_soon_threadsafe_args){
        .callback = say, .args = "x"}));
    CHECK(h);
    aio_handle_cancel(h);
    aio_loop_close(loop);
    attempt("closed: call_later(None)", aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = AIO_NONE, .callback = say}));
    attempt("closed: call_at(None)", aio_loop_call_at(loop, &(aio_loop_call_at_args){.when = AIO_NONE, .callback = say}));
    attempt("closed: call_later(1)", aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = 1, .callback = say}));
    aio_decref(loop);
    return 0;
}
