/* asyncio.as_completed(): the outcomes come in the order the futures
 * complete, not the order given; an exception is raised by the await that
 * hands it out; a future given twice is handed out once; with a timeout,
 * every outcome not handed out by then raises TimeoutError; an empty list
 * yields nothing. ensure_future() returns a future as it is and wraps a
 * coroutine in a task; its TypeError and ValueError. */
#include "conformance.h"

typedef struct later_op {
    aio_future *fut;
    const char *result;
    const char *error;
} later_op;

static void complete(void *arg)
{
    later_op *op = arg;
    if (op->error != NULL) {
        aio_exc *e = aio_exc_new(aio_ValueError, op->error);
        aio_future_set_exception(op->fut, e);
        aio_decref(e);
    } else {
        aio_future_set_result(op->fut, (void *)op->result);
    }
}
AIO_NAME_CALLBACK(complete);

static void later(aio_loop *loop, double delay, later_op *op)
{
    CHECK(aio_loop_call_later(loop, &(aio_loop_call_later_args){
                                        .delay = delay, .callback = complete, .args = op}));
}

static void *coro(void *arg)
{
    (void)arg;
    return "coroutine result";
}
AIO_NAME_CALLBACK(coro);

static void *main_coro(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    aio_future *futs[5];
    for (int i = 0; i < 4; i++)
        CHECK(futs[i] = aio_loop_create_future(loop));
    futs[4] = futs[1];
    later_op ops[] = {{futs[0], "zero", NULL}, {futs[1], "one", NULL}, {futs[2], NULL, "two"}};
    later(loop, 0.03, &ops[0]);
    later(loop, 0.01, &ops[1]);
    later(loop, 0.02, &ops[2]);
    aio_future_set_result(futs[3], "three (already done)");
    aio_as_completed_iter *it = aio_as_completed(futs, 5, NULL);
    CHECK(it);
    while (aio_as_completed_remaining(it) > 0) {
        const char *r = aio_as_completed_next(it, NULL);
        if (r != NULL)
            printf("got %s\n", r);
        else if (aio_err_matches(aio_ValueError))
            print_raised("raised");
    }
    aio_decref(it);
    for (int i = 0; i < 4; i++)
        aio_decref(futs[i]);

    aio_future *pair[2];
    CHECK(pair[0] = aio_loop_create_future(loop)); /* slow */
    CHECK(pair[1] = aio_loop_create_future(loop)); /* quick */
    later_op quick = {pair[1], "quick", NULL};
    later(loop, 0.01, &quick);
    int n = 0;
    it = aio_as_completed(pair, 2, &(aio_as_completed_args){.timeout = 0.05});
    CHECK(it);
    while (aio_as_completed_remaining(it) > 0) {
        n++;
        const char *r = aio_as_completed_next(it, NULL);
        if (r != NULL)
            printf("got %s\n", r);
        else if (aio_err_matches(aio_TimeoutError))
            print_raised("timed out");
        else /* before 3.11 asyncio.TimeoutError, which `except TimeoutError` misses */
            uncaught();
    }
    printf("awaitables handed out: %d slow done: %s\n", n, py_bool(aio_future_done(pair[0])));
    aio_future_cancel(pair[0], NULL);
    aio_decref(it);
    aio_decref(pair[0]);
    aio_decref(pair[1]);

    it = aio_as_completed(NULL, 0, NULL);
    CHECK(it);
    printf("empty: %s\n", aio_as_completed_remaining(it) == 0 ? "[]" : "?");
    aio_decref(it);

    aio_future *f = aio_loop_create_future(loop);
    CHECK(f);
    aio_future *same = aio_ensure_future(f, NULL);
    printf("ensure_future(future) is future: %s\n", py_bool(same == f));
    aio_decref(same);
    aio_future_cancel(f, NULL);
    aio_decref(f);

    aio_task *t = aio_ensure_future_coro(coro, NULL, NULL);
    CHECK(t);
    const char *r = aio_await(t);
    printf("ensure_future(coro) is a task: %s %s\n", py_bool(aio_is_task(t)), r);
    aio_decref(t);
    if (aio_ensure_future(NULL, NULL) == NULL)
        print_raised("ensure_future(None)");
    aio_loop *other = aio_new_event_loop();
    CHECK(other);
    aio_future *g = aio_loop_create_future(other);
    CHECK(g);
    if (aio_ensure_future(g, &(aio_ensure_future_args){.loop = loop}) == NULL)
        print_raised("other loop");
    aio_decref(g);
    aio_loop_close(other);
    aio_decref(other);
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
