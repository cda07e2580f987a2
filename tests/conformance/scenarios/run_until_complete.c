/* run_until_complete(future): returns the future's result, raises its
 * exception (or CancelledError), and stops the loop one iteration after the
 * future completes (the stop is itself a done callback); a loop stopped
 * before the future completes raises RuntimeError('Event loop stopped before
 * Future completed.'); a future of another loop is refused with ValueError;
 * a closed loop raises 'Event loop is closed'. The program then ends with
 * the future's exception uncaught (exit status 1, as Python's). */
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

static void attempt(const char *label, aio_future *fut)
{
    void *value = aio_loop_run_until_complete(loop, fut);
    if (aio_err_occurred())
        print_raised(label);
    else
        printf("%s: returned %s\n", label, (const char *)value);
}

typedef struct completion {
    int n;
    aio_future *fut;
    const char *how;
} completion;

static void check(void *arg)
{
    completion *c = arg;
    if (it < c->n) {
        CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = check, .args = c}));
        return;
    }
    printf("iteration %d completing with %s\n", it, c->how);
    if (strcmp(c->how, "result") == 0) {
        CHECK(aio_future_set_result(c->fut, "the result") == 0);
    } else if (strcmp(c->how, "exception") == 0) {
        aio_exc *exc = aio_exc_new(aio_KeyError, "missing");
        CHECK(aio_future_set_exception(c->fut, exc) == 0);
        aio_decref(exc);
    } else {
        aio_future_cancel(c->fut, &(aio_future_cancel_args){.msg = "cancelled on purpose"});
    }
}
AIO_NAME_CALLBACK(check);

static void complete_at(completion *c)
{
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = check, .args = c}));
}

static void stop(void *arg)
{
    aio_loop_stop(arg);
}
AIO_NAME_CALLBACK(stop);

static void set_exception(void *arg)
{
    aio_exc *exc = aio_exc_new(aio_ValueError, "uncaught on purpose");
    CHECK(aio_future_set_exception(arg, exc) == 0);
    aio_decref(exc);
}
AIO_NAME_CALLBACK(set_exception);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));

    aio_future *fut = aio_loop_create_future(loop);
    completion c1 = {3, fut, "result"};
    complete_at(&c1);
    attempt("result", fut);
    printf("returned after iteration %d\n", it);
    aio_decref(fut);

    int start = it;
    fut = aio_loop_create_future(loop);
    completion c2 = {it + 2, fut, "exception"};
    complete_at(&c2);
    attempt("exception", fut);
    printf("iterations taken %d\n", it - start);
    aio_decref(fut);

    fut = aio_loop_create_future(loop);
    completion c3 = {it + 1, fut, "cancel"};
    complete_at(&c3);
    attempt("cancelled", fut);

    start = it;
    attempt("already done", fut);
    printf("iterations taken %d\n", it - start);
    aio_decref(fut);

    fut = aio_loop_create_future(loop);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = stop, .args = loop}));
    attempt("stopped first", fut);
    printf("future still pending: %s\n", py_bool(!aio_future_done(fut)));
    CHECK(aio_future_set_result(fut, "late") == 0);
    CHECK(aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = 0.05, .callback = stop, .args = loop}));
    CHECK(aio_loop_run_forever(loop) == 0);
    printf("completing it later did not stop the loop early\n");
    aio_decref(fut);

    aio_loop *other = aio_new_event_loop();
    CHECK(other);
    aio_future *foreign = aio_loop_create_future(other);
    attempt("other loop's future", foreign);
    aio_decref(foreign);
    aio_loop_close(other);
    aio_decref(other);

    fut = aio_loop_create_future(loop);
    aio_exc *exc = aio_exc_new(aio_ValueError, "uncaught on purpose");
    CHECK(aio_future_set_exception(fut, exc) == 0);
    aio_decref(exc);
    aio_loop_close(loop);
    attempt("closed loop", fut);
    aio_future_exception(fut); /* retrieved: no "never retrieved" report */
    aio_decref(fut);
    aio_decref(loop);

    loop = aio_new_event_loop();
    CHECK(loop);
    aio_future *fut2 = aio_loop_create_future(loop);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = set_exception, .args = fut2}));
    printf("ending with an uncaught exception\n");
    aio_loop_run_until_complete(loop, fut2);
    if (aio_err_occurred()) {
        fflush(stdout);
        aio_err_print();
        return 1;
    }
    printf("not reached\n");
    return 0;
}
