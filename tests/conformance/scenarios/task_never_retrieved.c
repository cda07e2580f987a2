/* A task that ends with an exception nobody retrieves reports it through the
 * loop's exception handler when the task is destroyed: message 'Task
 * exception was never retrieved', keys exception/future/message. A task
 * nobody keeps a reference to is destroyed right after its last step, in the
 * same iteration. Awaiting the task, calling result() or exception(), or a
 * gather() over it marks the exception retrieved: no report; so does a
 * cancelled task, or a task that swallowed its error.
 * Python's `del t; gc.collect()` is dropping the last reference here. */
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

static void handler(aio_loop *the_loop, const aio_exception_context *context, void *arg)
{
    (void)the_loop, (void)arg;
    printf("iteration %d handler: %s %s %s task: %s\n", it, context->message,
           context_keys(context), exc_line(context->exception),
           aio_task_get_name(context->future));
}
AIO_NAME_CALLBACK(handler);

static void *boom(void *arg)
{
    if (aio_sleep(0) < 0)
        return NULL;
    printf("iteration %d raising %s\n", it, (const char *)arg);
    aio_err_set(aio_ValueError, arg);
    return NULL;
}
AIO_NAME_CALLBACK(boom);

static void say(void *what)
{
    printf("iteration %d %s\n", it, (const char *)what);
}
AIO_NAME_CALLBACK(say);

static void queue_say(void *what)
{
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = say, .args = what}));
}
AIO_NAME_CALLBACK(queue_say);

static void *retrieve_by_await(void *arg)
{
    if (aio_await(arg) == NULL && aio_err_matches(aio_ValueError)) {
        printf("iteration %d ", it);
        print_raised("awaited");
    }
    return NULL;
}
AIO_NAME_CALLBACK(retrieve_by_await);

static void *settle_coro(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++)
        if (aio_sleep(0) < 0)
            return NULL;
    return NULL;
}
AIO_NAME_CALLBACK(settle_coro);

static aio_task *create(aio_coroutine coro, void *arg)
{
    aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = coro, .coro_arg = arg});
    CHECK(t);
    return t;
}

/* loop.run_until_complete(coro()), the coroutine wrapped in a task. */
static void *run_coro(aio_coroutine coro, void *arg)
{
    aio_task *t = create(coro, arg);
    void *result = aio_loop_run_until_complete(loop, t);
    CHECK(!aio_err_occurred());
    aio_decref(t);
    return result;
}

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    aio_loop_set_exception_handler(loop, handler, NULL);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));

    /* 1. Nobody keeps the task: reported right after its last step. */
    aio_decref(create(boom, "unreferenced"));
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){
                                       .callback = queue_say,
                                       .args = "queued after the task's last step"}));
    run_coro(settle_coro, NULL);

    /* 2. Kept, then dropped. */
    aio_task *kept = create(boom, "dropped later");
    run_coro(settle_coro, NULL);
    printf("dropping the task\n");
    aio_decref(kept);

    /* 3. Retrieved in the various ways: no report. */
    static const char *const hows[] = {"await", "result", "exception", "gather", "cancel"};
    for (size_t i = 0; i < sizeof hows / sizeof hows[0]; i++) {
        const char *how = hows[i];
        char msg[64];
        snprintf(msg, sizeof msg, "retrieved by %s", how);
        aio_task *t = create(boom, msg);
        if (strcmp(how, "await") == 0) {
            run_coro(retrieve_by_await, t);
        } else if (strcmp(how, "gather") == 0) {
            aio_future *g = aio_gather(&t, 1, &(aio_gather_args){.return_exceptions = true});
            CHECK(g);
            const aio_gather_list *results = aio_loop_run_until_complete(loop, g);
            CHECK(results);
            printf("gathered: ['%s']\n", aio_exc_type_of(results->items[0].exception)->name);
            aio_decref(g);
        } else if (strcmp(how, "cancel") == 0) {
            aio_task_cancel(t, NULL);
            run_coro(settle_coro, NULL);
            printf("cancelled: %s\n", py_bool(aio_future_cancelled(t)));
        } else {
            run_coro(settle_coro, NULL);
            if (strcmp(how, "result") == 0) {
                aio_future_result(t);
                aio_err_clear();
            } else {
                aio_future_exception(t);
            }
        }
        printf("dropping the task retrieved by %s\n", how);
        aio_decref(t);
    }

    printf("closing\n");
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
