/* The errors a task raises about its own use: set_result() and
 * set_exception() are refused with RuntimeError ('Task does not support ...
 * operation'); result() and exception() of a pending task raise
 * InvalidStateError; awaiting a future of another loop, or the task itself,
 * raises RuntimeError at the await on the task's next step (one iteration
 * later), and the task can catch it and go on; create_task() on a closed
 * loop raises 'Event loop is closed'. set_name() renames a task. */
#include "conformance.h"

static aio_loop *loop, *other;
static int it;

static void tick(void *arg)
{
    (void)arg;
    it++;
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
}
AIO_NAME_CALLBACK(tick);

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void *awaits_foreign(void *arg)
{
    (void)arg;
    aio_future *foreign = aio_loop_create_future(other);
    CHECK(foreign);
    int start = it;
    if (aio_await(foreign) == NULL && aio_err_matches(aio_RuntimeError)) {
        aio_exc *e = aio_err_fetch();
        const char *msg = aio_exc_str(e);
        printf("foreign: %s %s %s after %d iteration\n", aio_exc_type_of(e)->name,
               py_bool(starts_with(msg, "Task <")),
               py_bool(ends_with(msg, "attached to a different loop")), it - start);
        aio_decref(e);
    }
    aio_decref(foreign);
    start = it;
    if (aio_await(aio_current_task(NULL)) == NULL && aio_err_matches(aio_RuntimeError)) {
        aio_exc *e = aio_err_fetch();
        printf("itself: %s %s after %d iteration\n", aio_exc_type_of(e)->name,
               py_bool(starts_with(aio_exc_str(e), "Task cannot await on itself: <")), it - start);
        aio_decref(e);
    }
    CHECK(!aio_err_occurred());
    return "survived";
}
AIO_NAME_CALLBACK(awaits_foreign);

static void *idle(void *arg)
{
    (void)arg;
    if (aio_sleep(0) < 0)
        return NULL;
    return "idle";
}
AIO_NAME_CALLBACK(idle);

int main(void)
{
    loop = aio_new_event_loop();
    other = aio_new_event_loop();
    CHECK(loop && other);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = idle, .name = "before"});
    CHECK(t);
    CHECK(aio_future_set_result(t, (void *)1) < 0);
    print_raised("pending task");
    aio_exc *value_error = aio_exc_new(aio_ValueError, NULL);
    CHECK(aio_future_set_exception(t, value_error) < 0);
    aio_decref(value_error);
    print_raised("pending task");
    CHECK(aio_future_result(t) == NULL);
    print_raised("pending task");
    CHECK(aio_future_exception(t) == NULL);
    print_raised("pending task");
    CHECK(aio_task_set_name(t, "after") == 0);
    printf("renamed: %s\n", aio_task_get_name(t));
    const char *r = aio_loop_run_until_complete(loop, t);
    CHECK(r);
    printf("%s\n", r);
    CHECK(aio_future_set_result(t, (void *)2) < 0);
    print_raised("done task");
    aio_decref(t);

    t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = awaits_foreign});
    CHECK(t);
    r = aio_loop_run_until_complete(loop, t);
    CHECK(r);
    printf("%s\n", r);
    aio_decref(t);
    aio_loop_close(loop);
    aio_loop_close(other);
    t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = idle});
    CHECK(t == NULL);
    print_raised("closed loop");
    aio_decref(other);
    aio_decref(loop);
    return 0;
}
