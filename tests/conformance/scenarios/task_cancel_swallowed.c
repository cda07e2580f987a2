/* A task may catch the CancelledError of its cancellation: when it then
 * returns a value the task ends with that result (cancelled() False) and
 * cancelling() keeps counting the requests until uncancel() takes them back
 * (never below 0). A task that keeps going after catching it can be
 * cancelled again. A task that cancels itself and returns without awaiting
 * again ends cancelled anyway, with the message; one that cancels itself and
 * then awaits gets the CancelledError at that await. */
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

/* "iteration N label: Type: message" for the current exception, cleared. */
static void show(const char *label)
{
    printf("iteration %d ", it);
    print_raised(label);
}

static void *stubborn(void *arg)
{
    (void)arg;
    aio_task *me = aio_current_task(NULL);
    if (aio_sleep(3600) < 0) {
        CHECK(aio_err_matches(aio_CancelledError));
        show("stubborn caught");
        printf("iteration %d stubborn cancelling: %d\n", it, aio_task_cancelling(me));
    }
    return "stubborn result";
}
AIO_NAME_CALLBACK(stubborn);

static void *persistent(void *arg)
{
    (void)arg;
    aio_task *me = aio_current_task(NULL);
    int caught = 0;
    while (caught < 2) {
        if (aio_sleep(3600) < 0) {
            CHECK(aio_err_matches(aio_CancelledError));
            caught++;
            char label[64];
            snprintf(label, sizeof label, "persistent caught #%d", caught);
            show(label);
            int cancelling = aio_task_cancelling(me);
            printf("iteration %d persistent cancelling: %d uncancel: %d\n", it, cancelling,
                   aio_task_uncancel(me));
        }
    }
    if (aio_sleep(0) < 0)
        return NULL;
    printf("iteration %d persistent returns\n", it);
    return (void *)(intptr_t)caught;
}
AIO_NAME_CALLBACK(persistent);

static void *self_cancel_return(void *arg)
{
    (void)arg;
    aio_task *me = aio_current_task(NULL);
    int accepted = aio_task_cancel(me, "cancelled myself");
    printf("iteration %d self cancel: %s cancelling: %d\n", it, py_bool(accepted),
           aio_task_cancelling(me));
    return "returned anyway";
}
AIO_NAME_CALLBACK(self_cancel_return);

static void *self_cancel_await(void *arg)
{
    (void)arg;
    aio_task *me = aio_current_task(NULL);
    aio_task_cancel(me, "cancelled myself, then awaited");
    if (aio_sleep(0) < 0) {
        printf("iteration %d self_cancel_await caught: %s\n", it, exc_line(aio_err_occurred()));
        return NULL;
    }
    printf("not reached\n");
    return NULL;
}
AIO_NAME_CALLBACK(self_cancel_await);

static aio_task *create(aio_coroutine coro)
{
    aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = coro});
    CHECK(t);
    return t;
}

static void *main_coro(void *arg)
{
    (void)arg;
    aio_task *t = create(stubborn);
    CHECK(aio_sleep(0) == 0);
    int a = aio_task_cancel(t, "please stop");
    int b = aio_task_cancel(t, "really");
    printf("iteration %d cancel: %s %s\n", it, py_bool(a), py_bool(b));
    const char *result = aio_await(t);
    CHECK(result);
    printf("iteration %d result: %s\n", it, result);
    printf("iteration %d stubborn cancelled: %s cancelling: %d\n", it,
           py_bool(aio_future_cancelled(t)), aio_task_cancelling(t));
    a = aio_task_uncancel(t);
    b = aio_task_uncancel(t);
    int c = aio_task_uncancel(t);
    printf("iteration %d uncancel: %d %d %d\n", it, a, b, c);
    aio_decref(t);

    t = create(persistent);
    CHECK(aio_sleep(0) == 0);
    printf("iteration %d cancel persistent: %s\n", it, py_bool(aio_task_cancel(t, "once")));
    CHECK(aio_sleep(0) == 0);
    CHECK(aio_sleep(0) == 0);
    printf("iteration %d cancel persistent again: %s\n", it, py_bool(aio_task_cancel(t, "twice")));
    void *caught = aio_await(t);
    CHECK(!aio_err_occurred());
    printf("iteration %d persistent result: %d cancelling: %d\n", it, (int)(intptr_t)caught,
           aio_task_cancelling(t));
    aio_decref(t);

    t = create(self_cancel_return);
    CHECK(aio_await(t) == NULL && aio_err_matches(aio_CancelledError));
    show("awaiting self_cancel_return");
    printf("iteration %d cancelled: %s\n", it, py_bool(aio_future_cancelled(t)));
    CHECK(aio_future_result(t) == NULL && aio_err_matches(aio_CancelledError));
    show("result() again");
    aio_decref(t);

    t = create(self_cancel_await);
    CHECK(aio_await(t) == NULL && aio_err_matches(aio_CancelledError));
    show("awaiting self_cancel_await");
    printf("iteration %d cancelled: %s\n", it, py_bool(aio_future_cancelled(t)));
    aio_decref(t);
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    aio_task *m = create(main_coro);
    aio_loop_run_until_complete(loop, m);
    CHECK(!aio_err_occurred());
    aio_decref(m);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
