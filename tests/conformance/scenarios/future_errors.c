/* Future.result()/exception() errors and state checks: a pending future
 * raises InvalidStateError('Result is not set.') / ('Exception is not set.');
 * a second set_result()/set_exception() raises InvalidStateError('invalid
 * state'); result() raises a stored exception and exception() returns it;
 * set_exception(StopIteration()) is refused with TypeError and the future
 * stays pending; a cancelled future raises CancelledError with the cancel
 * message (empty without one) from result() and exception(). */
#include "conformance.h"

/* Prints "label: returned <value>" or "label: Type: message". */
static void report_ptr(const char *label, void *value)
{
    if (aio_err_occurred()) {
        char what[128];
        snprintf(what, sizeof what, "%s", label);
        print_raised(what);
    } else {
        printf("%s: returned %d\n", label, (int)(intptr_t)value);
    }
}

static void report_int(const char *label, int rc)
{
    if (rc < 0)
        print_raised(label);
    else
        printf("%s: returned None\n", label);
}

static void report_exc(const char *label, aio_exc *exc)
{
    if (aio_err_occurred())
        print_raised(label);
    else if (exc == NULL)
        printf("%s: returned None\n", label);
    else
        printf("%s: returned %s\n", label, aio_exc_str(exc));
}

int main(void)
{
    aio_loop *loop = aio_new_event_loop();
    CHECK(loop);

    aio_future *f = aio_loop_create_future(loop);
    CHECK(f);
    printf("pending: done %s cancelled %s get_loop is loop %s\n", py_bool(aio_future_done(f)),
           py_bool(aio_future_cancelled(f)), py_bool(aio_future_get_loop(f) == loop));
    report_ptr("pending result()", aio_future_result(f));
    report_exc("pending exception()", aio_future_exception(f));
    CHECK(aio_future_set_result(f, (void *)1) == 0);
    report_ptr("result()", aio_future_result(f));
    report_exc("exception()", aio_future_exception(f));
    report_int("set_result again", aio_future_set_result(f, (void *)2));
    aio_exc *late = aio_exc_new(aio_ValueError, "late");
    report_int("set_exception when done", aio_future_set_exception(f, late));
    aio_decref(late);
    printf("cancel when done: returned %s\n", py_bool(aio_future_cancel(f, NULL)));
    printf("still result: %d done %s cancelled %s\n", (int)(intptr_t)aio_future_result(f),
           py_bool(aio_future_done(f)), py_bool(aio_future_cancelled(f)));
    aio_decref(f);

    f = aio_loop_create_future(loop);
    CHECK(f);
    aio_exc *stop = aio_exc_new(aio_StopIteration, NULL);
    report_int("set_exception(StopIteration())", aio_future_set_exception(f, stop));
    aio_decref(stop);
    printf("after StopIteration: done %s\n", py_bool(aio_future_done(f)));
    aio_exc *bad = aio_exc_new(aio_ValueError, "bad value");
    if (aio_future_set_exception(f, bad) < 0) {
        /* 3.13 stored the StopIteration as a RuntimeError: the future is
         * done, and this call, which the script does not guard, fails
         * (InvalidStateError, exit status 1) */
        fflush(stdout);
        aio_err_print();
        exit(1);
    }
    aio_decref(bad);
    report_ptr("result() with exception", aio_future_result(f));
    aio_exc *stored = aio_future_exception(f);
    printf("exception(): %s\n", exc_line(stored));
    report_int("set_result after exception", aio_future_set_result(f, (void *)3));
    aio_decref(f);

    f = aio_loop_create_future(loop);
    CHECK(f);
    printf("cancel('stop it'): %s\n", py_bool(aio_future_cancel(f, &(aio_future_cancel_args){.msg = "stop it"})));
    printf("cancelled %s done %s\n", py_bool(aio_future_cancelled(f)), py_bool(aio_future_done(f)));
    report_ptr("cancelled result()", aio_future_result(f));
    report_exc("cancelled exception()", aio_future_exception(f));
    report_int("set_result on cancelled", aio_future_set_result(f, (void *)4));
    printf("cancel again: %s\n", py_bool(aio_future_cancel(f, &(aio_future_cancel_args){.msg = "other"})));
    report_ptr("message kept", aio_future_result(f));
    aio_decref(f);

    f = aio_loop_create_future(loop);
    CHECK(f);
    aio_future_cancel(f, NULL);
    report_ptr("cancelled without message result()", aio_future_result(f));
    aio_decref(f);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
