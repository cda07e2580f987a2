/* Cancelling a task that awaits another task cancels the awaited task
 * instead (Task.cancel() forwards to the future it waits on): the innermost
 * task gets CancelledError first, then each awaiting task one iteration
 * later, from the inside out; every task on the chain counts one request in
 * cancelling(). When the inner task swallows the cancellation and returns,
 * the outer task receives that result and is not cancelled, though its
 * cancelling() is 1. */
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

static void show(const char *label)
{
    printf("iteration %d %s: %s\n", it, label, exc_line(aio_err_occurred()));
}

static void on_done(aio_future *t, void *arg)
{
    (void)arg;
    printf("iteration %d done callback %s cancelled: %s\n", it, aio_task_get_name(t),
           py_bool(aio_future_cancelled(t)));
}
AIO_NAME_CALLBACK(on_done);

typedef struct level_spec {
    const char *name;
    aio_coroutine inner;      /* NULL: sleep(3600) */
    void *inner_arg;
} level_spec;

static void *level(void *arg)
{
    level_spec *s = arg;
    void *result;
    if (s->inner == NULL) {
        result = aio_sleep(3600) < 0 ? NULL : (void *)s->name;
    } else {
        char name[64];
        snprintf(name, sizeof name, "%s.inner", s->name);
        aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){
                                                     .coro = s->inner,
                                                     .coro_arg = s->inner_arg,
                                                     .name = name});
        CHECK(t);
        CHECK(aio_future_add_done_callback(t, &(aio_future_add_done_callback_args){.callback = on_done}) == 0);
        result = aio_await(t);
        aio_decref(t);
    }
    if (result == NULL && aio_err_matches(aio_CancelledError)) {
        char label[64];
        snprintf(label, sizeof label, "%s caught", s->name);
        show(label);
        printf("iteration %d %s cancelling: %d\n", it, s->name,
               aio_task_cancelling(aio_current_task(NULL)));
    }
    return result;
}
AIO_NAME_CALLBACK(level);

static void *swallower(void *arg)
{
    (void)arg;
    if (aio_sleep(3600) < 0) {
        show("swallower caught");
        aio_err_clear();
    }
    return "swallowed";
}
AIO_NAME_CALLBACK(swallower);

static aio_task *create(level_spec *s)
{
    aio_task *t = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = level, .coro_arg = s, .name = s->name});
    CHECK(t);
    return t;
}

static void *main_coro(void *arg)
{
    (void)arg;
    level_spec c = {"c", NULL, NULL};
    level_spec b = {"b", level, &c};
    level_spec a_spec = {"a", level, &b};
    aio_task *a = create(&a_spec);
    CHECK(aio_future_add_done_callback(a, &(aio_future_add_done_callback_args){.callback = on_done}) == 0);
    for (int i = 0; i < 3; i++)
        CHECK(aio_sleep(0) == 0);
    printf("iteration %d cancel a: %s\n", it, py_bool(aio_task_cancel(a, "from main")));
    CHECK(aio_await(a) == NULL && aio_err_matches(aio_CancelledError));
    show("main awaiting a");
    aio_err_clear();
    aio_decref(a);

    level_spec outer_spec = {"outer", swallower, NULL};
    aio_task *outer = create(&outer_spec);
    for (int i = 0; i < 2; i++)
        CHECK(aio_sleep(0) == 0);
    printf("iteration %d cancel outer: %s\n", it, py_bool(aio_task_cancel(outer, "ignored below")));
    const char *result = aio_await(outer);
    CHECK(result);
    printf("iteration %d outer result: %s cancelled: %s cancelling: %d\n", it, result,
           py_bool(aio_future_cancelled(outer)), aio_task_cancelling(outer));
    aio_decref(outer);

    level_spec deep = {"deep", NULL, NULL};
    level_spec twice_spec = {"twice", level, &deep};
    aio_task *twice = create(&twice_spec);
    for (int i = 0; i < 2; i++)
        CHECK(aio_sleep(0) == 0);
    int one = aio_task_cancel(twice, "one");
    int two = aio_task_cancel(twice, "two");
    printf("iteration %d cancel twice: %s %s\n", it, py_bool(one), py_bool(two));
    CHECK(aio_await(twice) == NULL && aio_err_matches(aio_CancelledError));
    show("main awaiting twice");
    aio_err_clear();
    printf("iteration %d twice cancelling: %d\n", it, aio_task_cancelling(twice));
    aio_decref(twice);
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    aio_task *m = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = main_coro});
    CHECK(m);
    aio_loop_run_until_complete(loop, m);
    CHECK(!aio_err_occurred());
    aio_decref(m);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
