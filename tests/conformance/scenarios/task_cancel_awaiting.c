/* Cancelling a task that awaits a future cancels the future with the
 * message (cancel() returns True); the task's next step, one iteration
 * later, raises CancelledError with that message at the await, and a task
 * that lets it propagate ends cancelled. When the awaited future is already
 * done but the task has not resumed yet, cancel() still returns True and the
 * result is dropped: the task resumes with CancelledError instead. A future
 * cancelled directly (not through the task) raises CancelledError in the
 * task too, with cancelling() still 0. */
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

/* Prints "iteration N label: Type: message" for the current exception,
 * leaving it set. */
static void show(const char *label)
{
    printf("iteration %d %s: %s\n", it, label, exc_line(aio_err_occurred()));
}

typedef struct job {
    const char *label;
    aio_future *fut; /* NULL: sleep(3600) */
} job;

static void *awaiter(void *arg)
{
    job *j = arg;
    printf("iteration %d %s awaits\n", it, j->label);
    void *value = NULL;
    int failed;
    if (j->fut != NULL) {
        value = aio_await(j->fut);
        failed = value == NULL && aio_err_occurred();
    } else {
        failed = aio_sleep(3600) < 0;
    }
    if (failed) {
        if (aio_err_matches(aio_CancelledError)) {
            char label[64];
            snprintf(label, sizeof label, "%s caught", j->label);
            show(label);
            printf("iteration %d %s cancelling(): %d\n", it, j->label,
                   aio_task_cancelling(aio_current_task(NULL)));
        }
        return NULL; /* raise */
    }
    printf("iteration %d %s got %s\n", it, j->label, (const char *)value);
    return value;
}
AIO_NAME_CALLBACK(awaiter);

static void on_done(aio_future *t, void *arg)
{
    (void)arg;
    printf("iteration %d done callback %s cancelled: %s\n", it, aio_task_get_name(t),
           py_bool(aio_future_cancelled(t)));
}
AIO_NAME_CALLBACK(on_done);

static aio_task *start(job *j)
{
    aio_task *t = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = awaiter, .coro_arg = j, .name = j->label});
    CHECK(t);
    return t;
}

/* await t, expecting CancelledError. */
static void await_cancelled(aio_task *t, const char *label)
{
    if (aio_await(t) == NULL && aio_err_matches(aio_CancelledError)) {
        show(label);
        aio_err_clear();
    } else {
        CHECK(0);
    }
}

static void *main_coro(void *arg)
{
    (void)arg;
    /* 1. cancel() while the task awaits a pending future. */
    aio_future *fut = aio_loop_create_future(loop);
    job j1 = {"first", fut};
    aio_task *t = start(&j1);
    CHECK(aio_future_add_done_callback(t, &(aio_future_add_done_callback_args){.callback = on_done}) == 0);
    CHECK(aio_sleep(0) == 0);
    int accepted = aio_task_cancel(t, "stop waiting");
    printf("iteration %d cancel: %s future cancelled: %s\n", it, py_bool(accepted),
           py_bool(aio_future_cancelled(fut)));
    CHECK(aio_future_result(fut) == NULL && aio_err_matches(aio_CancelledError));
    show("future.result() raises");
    aio_err_clear();
    printf("iteration %d task done right after cancel: %s cancelling: %d\n", it,
           py_bool(aio_future_done(t)), aio_task_cancelling(t));
    await_cancelled(t, "main awaiting first");
    printf("iteration %d first cancelled: %s\n", it, py_bool(aio_future_cancelled(t)));
    aio_decref(t);
    aio_decref(fut);

    /* 2. The future completes, then cancel() before the task's wakeup. */
    fut = aio_loop_create_future(loop);
    job j2 = {"second", fut};
    t = start(&j2);
    CHECK(aio_sleep(0) == 0);
    CHECK(aio_future_set_result(fut, "lost result") == 0);
    printf("iteration %d cancel after set_result: %s\n", it,
           py_bool(aio_task_cancel(t, "too late for the result")));
    await_cancelled(t, "main awaiting second");
    aio_decref(t);
    aio_decref(fut);

    /* 3. The future cancelled directly. */
    fut = aio_loop_create_future(loop);
    job j3 = {"third", fut};
    t = start(&j3);
    CHECK(aio_sleep(0) == 0);
    printf("iteration %d future.cancel: %s\n", it,
           py_bool(aio_future_cancel(fut, &(aio_future_cancel_args){.msg = "future cancelled directly"})));
    await_cancelled(t, "main awaiting third");
    printf("iteration %d third cancelling: %d cancelled: %s\n", it, aio_task_cancelling(t),
           py_bool(aio_future_cancelled(t)));
    aio_decref(t);
    aio_decref(fut);

    /* 4. cancel() while the task sleeps. */
    job j4 = {"fourth", NULL};
    t = start(&j4);
    CHECK(aio_sleep(0) == 0);
    printf("iteration %d cancel sleeping: %s\n", it, py_bool(aio_task_cancel(t, NULL)));
    await_cancelled(t, "main awaiting fourth");
    aio_decref(t);
    return "main done";
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
