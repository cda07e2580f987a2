/* A TaskGroup inside a timeout(): the deadline cancels the parent while
 * the group's exit waits; the group cancels its tasks and lets the
 * CancelledError out, which the timeout turns into TimeoutError. A task
 * group inside a task cancelled from outside, and a timeout inside a
 * group's task, each keep their own cancellations apart (uncancel). (One
 * task is left to cancel at a time: asyncio cancels a group's tasks in the
 * order of a set.) */
#include "conformance.h"

typedef struct job {
    const char *name;
    double delay;
} job;

static void *child(void *arg)
{
    job *j = arg;
    if (aio_sleep(j->delay) < 0) {
        if (aio_err_matches(aio_CancelledError))
            printf("%s cancelled\n", j->name);
        return NULL;
    }
    printf("%s done\n", j->name);
    return (void *)j->name;
}
AIO_NAME_CALLBACK(child);

static void *timed_child(void *arg)
{
    const char *name = arg;
    aio_timeout *t = aio_timeout_after(0.01);
    CHECK(t);
    CHECK(aio_timeout_enter(t) == 0);
    aio_sleep(3600);
    if (aio_timeout_exit(t) < 0 && aio_err_matches(aio_TimeoutError)) {
        aio_err_clear();
        printf("%s timed out, cancelling: %d\n", name, aio_task_cancelling(aio_current_task(NULL)));
    }
    aio_decref(t);
    return arg;
}
AIO_NAME_CALLBACK(timed_child);

static void spawn(aio_task_group *g, aio_coroutine coro, void *arg)
{
    aio_task *t = aio_task_group_create_task(g, coro, arg, NULL);
    CHECK(t);
    aio_decref(t);
}

static void *main_coro(void *arg)
{
    (void)arg;
    aio_task *me = aio_current_task(NULL);
    aio_timeout *t = aio_timeout_after(0.02);
    CHECK(t);
    CHECK(aio_timeout_enter(t) == 0);
    aio_task_group *g = aio_task_group_new();
    CHECK(g);
    CHECK(aio_task_group_enter(g) == 0);
    job a = {"a", 3600}, b = {"b", 0};
    spawn(g, child, &a);
    spawn(g, child, &b);
    aio_task_group_exit(g);
    aio_decref(g);
    if (aio_timeout_exit(t) < 0 && aio_err_matches(aio_TimeoutError)) {
        aio_exc *e = aio_err_fetch();
        printf("TimeoutError from %s expired: %s\n", aio_exc_type_of(aio_exc_cause(e))->name,
               py_bool(aio_timeout_expired(t)));
        aio_decref(e);
    }
    aio_decref(t);
    printf("cancelling: %d\n", aio_task_cancelling(me));

    g = aio_task_group_new();
    CHECK(g);
    CHECK(aio_task_group_enter(g) == 0);
    job y = {"y", 0.02};
    aio_task *xt = aio_task_group_create_task(g, timed_child, "x", NULL);
    aio_task *yt = aio_task_group_create_task(g, child, &y, NULL);
    CHECK(xt && yt);
    CHECK(aio_task_group_exit(g) == 0);
    aio_decref(g);
    printf("group done: %s %s cancelling: %d\n", (const char *)aio_future_result(xt),
           (const char *)aio_future_result(yt), aio_task_cancelling(me));
    aio_decref(xt);
    aio_decref(yt);

    t = aio_timeout_after(3600);
    CHECK(t);
    CHECK(aio_timeout_enter(t) == 0);
    g = aio_task_group_new();
    CHECK(g);
    CHECK(aio_task_group_enter(g) == 0);
    job c = {"c", 3600};
    spawn(g, child, &c);
    CHECK(aio_timeout_reschedule(t, aio_loop_time(aio_get_running_loop())) == 0);
    aio_sleep(3600);
    aio_task_group_exit(g);
    aio_decref(g);
    if (aio_timeout_exit(t) < 0 && aio_err_matches(aio_TimeoutError)) {
        aio_err_clear();
        printf("rescheduled deadline: TimeoutError, expired: %s\n", py_bool(aio_timeout_expired(t)));
    }
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
