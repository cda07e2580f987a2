/* asyncio.timeout(): a scope whose deadline passes cancels the task; the
 * CancelledError that leaves the scope becomes TimeoutError (from it),
 * expired() is True and the task's cancelling() is back where it was. A
 * scope left in time raises nothing and its timer is cancelled. timeout(0)
 * schedules the cancellation with call_soon: it lands on the next await,
 * one iteration later, unless the scope is left first. A body that catches
 * the CancelledError leaves the scope normally (expired() still True).
 * reschedule(None) disables the deadline. When another cancellation is
 * pending too, the CancelledError propagates as it is.
 * The Timeout outlives its scope: expired() is read after the exit, as the
 * Python twin does. */
#include "conformance.h"

static aio_loop *loop;
static int it;

static void tick(void *arg)
{
    (void)arg;
    it++;
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
}
AIO_NAME_CALLBACK(tick);

/* t = timeout(delay); async with t: ... */
static aio_timeout *enter(double delay)
{
    aio_timeout *t = aio_timeout_after(delay);
    CHECK(t);
    CHECK(aio_timeout_enter(t) == 0);
    return t;
}

static void *main_coro(void *arg)
{
    (void)arg;
    aio_task *me = aio_current_task(NULL);
    aio_timeout *cm = enter(0.01);
    CHECK(cm);
    CHECK(aio_sleep(3600) < 0);
    if (aio_timeout_exit(cm) < 0 && aio_err_matches(aio_TimeoutError)) {
        aio_exc *e = aio_err_fetch();
        printf("expired scope raised %s from %s\n", aio_exc_type_of(e)->name,
               aio_exc_type_of(aio_exc_cause(e))->name);
        aio_decref(e);
    }
    CHECK(!aio_err_occurred());
    int expired = aio_timeout_expired(cm);
    aio_decref(cm);
    printf("expired: %s cancelling: %d\n", py_bool(expired), aio_task_cancelling(me));

    cm = enter(3600);
    CHECK(cm);
    CHECK(aio_sleep(0) == 0);
    const char *r = "body finished";
    CHECK(aio_timeout_exit(cm) == 0);
    expired = aio_timeout_expired(cm);
    aio_decref(cm);
    printf("%s - expired: %s cancelling: %d\n", r, py_bool(expired), aio_task_cancelling(me));

    int start = it;
    cm = enter(0);
    CHECK(cm);
    printf("in timeout(0)\n");
    if (aio_sleep(0) == 0)
        printf("not reached\n");
    if (aio_timeout_exit(cm) < 0 && aio_err_matches(aio_TimeoutError))
        print_raised("timeout(0) raised");
    expired = aio_timeout_expired(cm);
    aio_decref(cm);
    CHECK(!aio_err_occurred());
    printf("iterations: %d expired: %s\n", it - start, py_bool(expired));

    cm = enter(-1);
    CHECK(cm);
    r = "left before the cancellation ran";
    CHECK(aio_timeout_exit(cm) == 0);
    expired = aio_timeout_expired(cm);
    aio_decref(cm);
    printf("%s - expired: %s\n", r, py_bool(expired));
    CHECK(aio_sleep(0) == 0);
    CHECK(aio_sleep(0) == 0);
    printf("cancelling after a few iterations: %d\n", aio_task_cancelling(me));

    cm = enter(0);
    CHECK(cm);
    if (aio_sleep(3600) < 0 && aio_err_matches(aio_CancelledError))
        print_raised("body caught");
    CHECK(aio_timeout_exit(cm) == 0);
    expired = aio_timeout_expired(cm);
    aio_decref(cm);
    printf("left normally, expired: %s cancelling: %d\n", py_bool(expired), aio_task_cancelling(me));

    cm = enter(0);
    CHECK(cm);
    CHECK(aio_timeout_reschedule(cm, AIO_FOREVER) == 0);
    CHECK(aio_sleep(0) == 0);
    CHECK(aio_sleep(0) == 0);
    CHECK(aio_timeout_exit(cm) == 0);
    expired = aio_timeout_expired(cm);
    aio_decref(cm);
    printf("rescheduled to None, expired: %s\n", py_bool(expired));

    cm = enter(0);
    CHECK(cm);
    aio_task_cancel(me, "external");
    CHECK(aio_sleep(0) < 0);
    if (aio_timeout_exit(cm) < 0 && aio_err_matches(aio_CancelledError))
        print_raised("with another cancellation");
    expired = aio_timeout_expired(cm);
    aio_decref(cm);
    CHECK(!aio_err_occurred());
    int cancelling = aio_task_cancelling(me);
    printf("expired: %s cancelling: %d uncancel: %d\n", py_bool(expired), cancelling,
           aio_task_uncancel(me));

    aio_timeout *outer = enter(0.01);
    CHECK(outer);
    aio_timeout *inner = enter(3600);
    CHECK(inner);
    CHECK(aio_sleep(3600) < 0);
    aio_timeout_exit(inner);
    int inner_expired = aio_timeout_expired(inner);
    aio_decref(inner);
    int outer_rc = aio_timeout_exit(outer);
    aio_decref(outer);
    if (outer_rc < 0 && aio_err_matches(aio_TimeoutError)) {
        aio_exc *e = aio_err_fetch();
        printf("outer scope expired, inner expired: %s %s\n", py_bool(inner_expired),
               aio_exc_type_of(e)->name);
        aio_decref(e);
    }
    CHECK(!aio_err_occurred());
    return "main result";
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    aio_task *m = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = main_coro});
    CHECK(m);
    const char *r = aio_loop_run_until_complete(loop, m);
    CHECK(r);
    printf("%s\n", r);
    aio_decref(m);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
