/* asyncio.TaskGroup: tasks run and are awaited at the exit; the first
 * failure cancels the other tasks and the body (the parent task), and the
 * exit raises ExceptionGroup('unhandled errors in a TaskGroup', errors) in
 * the order the tasks failed, the body's own error last; the parent's
 * cancellation by the group is taken back (cancelling() is 0 after), but a
 * cancellation from outside propagates as CancelledError. KeyboardInterrupt
 * from the body comes out as it is. A task failing while the exit already
 * waits leaves the parent's cancellation counted (3.11.7's behaviour). */
#include "conformance.h"

static void show_group(const char *label)
{
    aio_exc *eg = aio_err_fetch();
    CHECK(eg);
    size_t n;
    aio_exc *const *excs = aio_exc_group_exceptions(eg, &n);
    printf("%s: %s | %s | ", label, aio_exc_type_of(eg)->name, aio_exc_str(eg));
    for (size_t i = 0; i < n; i++) {
        printf("%s%s", i ? ", " : "", exc_line(excs[i]));
    }
    printf("\n");
    aio_decref(eg);
}

typedef struct job {
    const char *name;
    double delay;
    const aio_exc_type *fail;
    const char *msg;
} job;

static void *child(void *arg)
{
    job *j = arg;
    if (aio_sleep(j->delay) < 0) {
        if (aio_err_matches(aio_CancelledError))
            printf("%s cancelled\n", j->name);
        return NULL;
    }
    if (j->fail != NULL) {
        printf("%s fails\n", j->name);
        aio_err_set(j->fail, j->msg);
        return NULL;
    }
    printf("%s done\n", j->name);
    return (void *)j->name;
}
AIO_NAME_CALLBACK(child);

static aio_task_group *enter(void)
{
    aio_task_group *g = aio_task_group_new();
    CHECK(g);
    CHECK(aio_task_group_enter(g) == 0);
    return g;
}

static void spawn(aio_task_group *g, job *j)
{
    aio_task *t = aio_task_group_create_task(g, child, j, NULL);
    CHECK(t);
    aio_decref(t);
}

/* exit, then drop the group: the exit's result */
static int leave(aio_task_group *g)
{
    int rc = aio_task_group_exit(g);
    aio_decref(g);
    return rc;
}

static void *main_coro(void *arg)
{
    (void)arg;
    aio_task *me = aio_current_task(NULL);

    aio_task_group *g = enter();
    job ja = {"a", 0.02, NULL, NULL}, jb = {"b", 0.01, NULL, NULL}, jc = {"c", 0, NULL, NULL};
    aio_task *a = aio_task_group_create_task(g, child, &ja, NULL);
    aio_task *b = aio_task_group_create_task(g, child, &jb,
                                             &(aio_task_group_create_task_args){.name = "bee"});
    aio_task *c = aio_task_group_create_task(g, child, &jc, NULL);
    CHECK(a && b && c);
    printf("body done, tasks: %s %s\n", py_bool(aio_task_get_name(a)[0] != '\0'),
           aio_task_get_name(b));
    CHECK(leave(g) == 0);
    printf("all done: %s %s %s\n", (const char *)aio_future_result(a),
           (const char *)aio_future_result(b), (const char *)aio_future_result(c));
    aio_decref(a);
    aio_decref(b);
    aio_decref(c);

    g = enter();
    job slow = {"slow", 3600, NULL, NULL}, bad = {"bad", 0.01, aio_ValueError, "bad"};
    spawn(g, &slow);
    spawn(g, &bad);
    if (aio_sleep(3600) < 0 && aio_err_matches(aio_CancelledError))
        printf("body cancelled, cancelling: %d\n", aio_task_cancelling(me));
    if (leave(g) < 0 && aio_err_matches(aio_ExceptionGroup))
        show_group("one failure");
    printf("cancelling after: %d\n", aio_task_cancelling(me));

    g = enter();
    job x = {"x", 0, aio_ValueError, "x"}, y = {"y", 0, aio_KeyError, "y"},
        z = {"z", 0.5, NULL, NULL};
    spawn(g, &x);
    spawn(g, &y);
    spawn(g, &z);
    if (leave(g) < 0 && aio_err_matches(aio_ExceptionGroup))
        show_group("two failures");

    g = enter();
    job w = {"w", 3600, NULL, NULL};
    spawn(g, &w);
    CHECK(aio_sleep(0) == 0);
    aio_err_set(aio_ZeroDivisionError, "body");
    if (leave(g) < 0 && aio_err_matches(aio_ExceptionGroup))
        show_group("body error");

    g = enter();
    job v = {"v", 0.01, aio_ValueError, "v"};
    spawn(g, &v);
    if (aio_sleep(3600) == 0)
        aio_err_set(aio_ZeroDivisionError, "not reached");
    if (leave(g) < 0 && aio_err_matches(aio_ExceptionGroup)) {
        const aio_exc *context = aio_exc_context(aio_err_occurred());
        const char *name = context ? aio_exc_type_of(context)->name : "NoneType";
        show_group("body cancelled by the group");
        printf("context of the group: %s\n", name);
    }

    g = enter();
    job u = {"u", 3600, NULL, NULL};
    spawn(g, &u);
    CHECK(aio_sleep(0) == 0);
    aio_err_set(aio_KeyboardInterrupt, NULL);
    if (leave(g) < 0 && aio_err_matches(aio_KeyboardInterrupt)) {
        aio_err_clear();
        printf("KeyboardInterrupt came out as it is: KeyboardInterrupt\n");
    }

    g = enter();
    job late = {"late", 0.01, aio_ValueError, "late"};
    spawn(g, &late);
    if (leave(g) < 0 && aio_err_matches(aio_ExceptionGroup))
        show_group("failed during the exit");
    int cancelling = aio_task_cancelling(me);
    printf("cancelling after: %d uncancel: %d\n", cancelling, aio_task_uncancel(me));

    g = enter();
    job quiet = {"quiet", 0.01, NULL, NULL};
    aio_task *t = aio_task_group_create_task(g, child, &quiet, NULL);
    CHECK(t);
    aio_task_cancel(t, NULL);
    CHECK(leave(g) == 0);
    printf("a cancelled task is no error: %s\n", py_bool(aio_future_cancelled(t)));
    aio_decref(t);
    CHECK(!aio_err_occurred());
    return "main result";
}
AIO_NAME_CALLBACK(main_coro);

static void *victim(void *arg)
{
    (void)arg;
    aio_task_group *g = enter();
    job inner = {"inner", 3600, NULL, NULL};
    spawn(g, &inner);
    aio_sleep(3600);
    if (leave(g) < 0 && aio_err_matches(aio_CancelledError)) {
        aio_exc *e = aio_err_fetch();
        printf("outer cancellation: %s\n", exc_line(e));
        printf("victim cancelling: %d\n", aio_task_cancelling(aio_current_task(NULL)));
        aio_err_restore(e);
    }
    return NULL;
}
AIO_NAME_CALLBACK(victim);

static void *outer(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    aio_task *v = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = victim});
    CHECK(v);
    CHECK(aio_sleep(0.01) == 0);
    aio_task_cancel(v, "from outside");
    if (aio_await(v) == NULL && aio_err_matches(aio_CancelledError)) {
        aio_err_clear();
        printf("victim cancelled: %s\n", py_bool(aio_future_cancelled(v)));
    }
    aio_decref(v);
    const char *r = main_coro(NULL);
    CHECK(r);
    printf("%s\n", r);
    return NULL;
}
AIO_NAME_CALLBACK(outer);

int main(void)
{
    aio_run(outer, NULL, NULL);
    CHECK(!aio_err_occurred());
    return 0;
}
