/* Timers with NaN, infinite and huge deadlines (call_later and call_at).
 * A NaN deadline at the head of the heap makes the poll timeout 0
 * (max(0, nan) is 0) and is due at once (nan >= end_time is false); the
 * heap, ordered with <, leaves the timers a NaN stands above where they
 * are; an infinite deadline never fires; none of them blocks the loop. */
#include <math.h>

#include "conformance.h"

/* loop.run_forever(), which the script does not guard: 3.13's selector
 * fails to round a NaN timeout (ValueError), and the script ends there
 * (exit status 1). */
static void run_forever_or_exit(aio_loop *loop)
{
    if (aio_loop_run_forever(loop) == 0)
        return;
    fflush(stdout);
    aio_err_print();
    exit(1);
}

static char order[256];

static void cb(void *arg)
{
    if (order[0] != '\0')
        strcat(order, " ");
    strcat(order, arg);
}
AIO_NAME_CALLBACK(cb);

static void stop(void *arg)
{
    aio_loop_stop(arg);
}
AIO_NAME_CALLBACK(stop);

static void later(aio_loop *loop, double delay, aio_callback fn, void *arg)
{
    CHECK(aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = delay, .callback = fn,
                                                               .args = arg}) != NULL);
}

static void at(aio_loop *loop, double when, void *arg)
{
    CHECK(aio_loop_call_at(loop, &(aio_loop_call_at_args){.when = when, .callback = cb,
                                                          .args = arg}) != NULL);
}

static void set_five(void *arg)
{
    aio_future_set_result(arg, "five");
}
AIO_NAME_CALLBACK(set_five);

/* t = timeout(delay) (or timeout_at(when)); async with t: the entered
 * Timeout, or NULL with the exception set. */
static aio_timeout *scope_enter_with(aio_timeout *t)
{
    if (t != NULL && aio_timeout_enter(t) < 0) {
        aio_decref(t);
        return NULL;
    }
    return t;
}
#define scope_enter(delay) scope_enter_with(aio_timeout_after(delay))
#define scope_enter_at(when) scope_enter_with(aio_timeout_at(when))

/* The end of the scope, dropping the Timeout: aio_timeout_exit()'s result. */
static int scope_exit(aio_timeout *t)
{
    int rc = aio_timeout_exit(t);
    aio_decref(t);
    return rc;
}

/* sleep, wait_for, wait and timeout scopes with NaN and infinite delays. */
static void *main_coro(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    CHECK(aio_sleep(NAN) == 0);
    printf("sleep(nan) returned\n");
    aio_future *f = aio_loop_create_future(loop);
    if (aio_wait_for(f, NAN) == NULL && aio_err_matches(aio_TimeoutError)) {
        aio_err_clear();
        printf("wait_for(nan): TimeoutError, cancelled %s\n", py_bool(aio_future_cancelled(f)));
    } else if (aio_err_occurred()) {
        uncaught(); /* before 3.11 asyncio.TimeoutError, which `except TimeoutError` misses */
    }
    aio_decref(f);
    f = aio_loop_create_future(loop);
    aio_wait_result r;
    CHECK(aio_wait(&f, 1, &(aio_wait_args){.timeout = NAN}, &r) == 0);
    printf("wait(nan): %zu %zu\n", r.done_len, r.pending_len);
    aio_wait_result_clear(&r);
    aio_future_cancel(f, NULL);
    aio_decref(f);

    aio_timeout *t = scope_enter(NAN);
    CHECK(t != NULL);
    aio_sleep(1);
    bool when_nan = isnan(aio_timeout_when(t));
    if (scope_exit(t) < 0 && aio_err_matches(aio_TimeoutError)) {
        aio_err_clear();
        printf("timeout(nan): TimeoutError, when is nan %s\n", py_bool(when_nan));
    }
    t = scope_enter(-INFINITY);
    aio_sleep(1);
    if (scope_exit(t) < 0 && aio_err_matches(aio_TimeoutError)) {
        aio_err_clear();
        printf("timeout(-inf): TimeoutError\n");
    }
    t = scope_enter(1e308);
    CHECK(aio_sleep(0.01) == 0);
    CHECK(scope_exit(t) == 0);
    printf("timeout(huge): no timeout\n");
    f = aio_loop_create_future(loop);
    later(loop, 0.01, set_five, f);
    const char *result = aio_wait_for(f, INFINITY);
    CHECK(result != NULL);
    printf("wait_for(inf): %s\n", result);
    aio_decref(f);
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    aio_loop *loop = aio_new_event_loop();
    CHECK(loop != NULL);
    aio_timer_handle *h = aio_loop_call_later(
        loop, &(aio_loop_call_later_args){.delay = NAN, .callback = cb, .args = "nan"});
    CHECK(h != NULL);
    aio_incref(h);
    at(loop, NAN, "nan_at");
    later(loop, INFINITY, cb, "inf");
    later(loop, -INFINITY, cb, "-inf");
    later(loop, 1e308, cb, "huge");
    at(loop, -1e308, "-huge");
    later(loop, 0.01, cb, "later");
    later(loop, 0.05, stop, loop);
    run_forever_or_exit(loop);
    printf("ran: %s\n", order);
    printf("nan when is nan: %s\n", py_bool(isnan(aio_timer_handle_when(h))));
    aio_decref(h);
    aio_loop_close(loop);
    aio_decref(loop);

    loop = aio_new_event_loop();
    later(loop, NAN, stop, loop);
    CHECK(aio_loop_run_forever(loop) == 0);
    printf("stopped by a nan timer\n");
    aio_loop_close(loop);
    aio_decref(loop);

    CHECK(aio_run(main_coro, NULL, NULL) == NULL && aio_err_occurred() == NULL);
    return 0;
}
