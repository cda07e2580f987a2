/* asyncio.Timeout as an object: created by timeout()/timeout_at(), entered
 * once, then "finished" (left in time) or "expiring"/"expired" (deadline
 * passed); reschedule() before the enter and after the deadline or the exit
 * is refused, a second enter too, and when()/expired()/repr() still answer
 * after the exit. The repr shows the deadline rounded to 3 decimals only
 * while active. */
#include <math.h>
#include <stdlib.h>

#include "conformance.h"

/* repr(float) for the values here; None for AIO_FOREVER. */
static const char *py_float(double v)
{
    static char buf[64];
    if (isinf(v) && v > 0)
        return "None";
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*f", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return buf;
}

static void show_repr(const char *label, aio_timeout *t)
{
    char *r = aio_repr(t);
    printf("%s: %s", label, r);
    free(r);
}

static void *main_coro(void *arg)
{
    (void)arg;
    aio_timeout *t = aio_timeout_at(AIO_FOREVER);
    CHECK(t);
    show_repr("made", t);
    printf(" %s %s\n", py_float(aio_timeout_when(t)), py_bool(aio_timeout_expired(t)));
    if (aio_timeout_reschedule(t, 1) < 0)
        print_raised("reschedule before enter");
    CHECK(aio_timeout_enter(t) == 0);
    printf("as target is the timeout: True\n");
    show_repr("entered", t);
    printf("\n");
    CHECK(aio_timeout_reschedule(t, 1e10 + 0.12345) == 0);
    show_repr("rescheduled", t);
    printf(" %s\n", py_float(aio_timeout_when(t)));
    if (aio_timeout_enter(t) < 0)
        print_raised("enter again");
    CHECK(aio_timeout_reschedule(t, AIO_FOREVER) == 0);
    show_repr("rescheduled to None", t);
    printf("\n");
    CHECK(aio_timeout_exit(t) == 0);
    show_repr("left", t);
    printf(" %s %s\n", py_float(aio_timeout_when(t)), py_bool(aio_timeout_expired(t)));
    if (aio_timeout_reschedule(t, 1) < 0)
        print_raised("reschedule after exit");
    if (aio_timeout_enter(t) < 0)
        print_raised("enter after exit");
    aio_decref(t);

    t = aio_timeout_after(0);
    CHECK(t);
    CHECK(aio_timeout_enter(t) == 0);
    aio_sleep(0);
    if (aio_timeout_exit(t) < 0) {
        if (aio_err_matches(aio_CancelledError))
            printf("not reached\n");
        else
            print_raised("expired");
    }
    show_repr("after", t);
    printf(" %s\n", py_bool(aio_timeout_expired(t)));
    if (aio_timeout_reschedule(t, AIO_FOREVER) < 0)
        print_raised("reschedule expired");
    aio_decref(t);

    t = aio_timeout_after(0);
    CHECK(t);
    CHECK(aio_timeout_enter(t) == 0);
    if (aio_sleep(1) < 0 && aio_err_matches(aio_CancelledError)) {
        show_repr("inside", t);
        printf(" %s\n", py_bool(aio_timeout_expired(t)));
        aio_exc *cancelled = aio_err_fetch();
        if (aio_timeout_reschedule(t, AIO_FOREVER) < 0)
            print_raised("reschedule expiring");
        aio_err_restore(cancelled);
    }
    if (aio_timeout_exit(t) < 0 && aio_err_matches(aio_TimeoutError)) {
        aio_err_clear();
        show_repr("TimeoutError, then", t);
        printf("\n");
    }
    aio_decref(t);

    t = aio_timeout_at(2e10 + 0.5);
    CHECK(t);
    show_repr("timeout_at", t);
    printf(" %s\n", py_float(aio_timeout_when(t)));
    CHECK(aio_timeout_enter(t) == 0);
    show_repr("active", t);
    printf("\n");
    CHECK(aio_timeout_exit(t) == 0);
    show_repr("finished", t);
    printf("\n");
    aio_decref(t);
    CHECK(!aio_err_occurred());
    return "main result";
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    const char *r = aio_run(main_coro, NULL, NULL);
    CHECK(r);
    printf("%s\n", r);
    return 0;
}
