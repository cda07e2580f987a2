/* A task that ends cancelled because its coroutine let a CancelledError
 * propagate keeps that exception for the first retrieval only: the first
 * await, result() or exception() gets it, with the cancel message; every
 * later one builds a new CancelledError from the task's own cancel message,
 * which is None on that path (the message is lost). A task cancelled while
 * it returned (cancel() with no await left) keeps its message for every
 * retrieval. */
#include "conformance.h"

static aio_loop *loop;

static void retrieve(const char *label, const char *how, aio_task *t)
{
    char what[64];
    snprintf(what, sizeof what, "%s %s()", label, how);
    if (strcmp(how, "result") == 0) {
        CHECK(aio_future_result(t) == NULL);
        print_raised(what);
    } else {
        aio_exc *e = aio_future_exception(t);
        if (e == NULL) {
            print_raised(what);
        } else {
            aio_err_set_exc(e);
            print_raised(what);
        }
    }
}

static void *body(void *arg)
{
    (void)arg;
    aio_sleep(3600);
    return NULL;
}
AIO_NAME_CALLBACK(body);

static void *waiter(void *arg)
{
    aio_task **pair = arg;
    if (aio_await(pair[1]) == NULL && aio_err_matches(aio_CancelledError))
        print_raised((const char *)pair[0]);
    return NULL;
}
AIO_NAME_CALLBACK(waiter);

static void *returns_anyway(void *arg)
{
    (void)arg;
    aio_task_cancel(aio_current_task(NULL), "cancelled while returning");
    return "dropped";
}
AIO_NAME_CALLBACK(returns_anyway);

static void *sleep0(void *arg)
{
    (void)arg;
    aio_sleep(0);
    return NULL;
}
AIO_NAME_CALLBACK(sleep0);

static aio_task *create(aio_coroutine coro, void *arg)
{
    aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = coro, .coro_arg = arg});
    CHECK(t);
    return t;
}

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);

    aio_task *t = create(body, NULL);
    aio_task_cancel(t, "before the first step");
    CHECK(aio_loop_run_until_complete(loop, t) == NULL);
    print_raised("run_until_complete");
    retrieve("then", "result", t);
    retrieve("then", "exception", t);
    aio_decref(t);

    t = create(body, NULL);
    void *p1[] = {"first waiter", t}, *p2[] = {"second waiter", t};
    aio_task *w1 = create(waiter, p1), *w2 = create(waiter, p2);
    aio_task *s = create(sleep0, NULL);
    aio_loop_run_until_complete(loop, s);
    CHECK(!aio_err_occurred());
    aio_decref(s);
    aio_task_cancel(t, "while awaiting");
    aio_future *both = aio_gather((aio_future *[]){w1, w2}, 2, NULL);
    CHECK(both);
    CHECK(aio_loop_run_until_complete(loop, both));
    retrieve("then", "exception", t);
    aio_decref(both);
    aio_decref(w1);
    aio_decref(w2);
    aio_decref(t);

    t = create(returns_anyway, NULL);
    CHECK(aio_loop_run_until_complete(loop, t) == NULL);
    print_raised("run_until_complete");
    retrieve("then", "result", t);
    retrieve("then", "exception", t);
    aio_decref(t);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
