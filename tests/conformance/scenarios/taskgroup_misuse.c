/* TaskGroup's misuse messages and repr: create_task() before the enter,
 * a second enter, create_task() once the group is shutting down and after
 * it is finished; the repr counts tasks and errors and says entered or
 * cancelling. A group used outside a task cannot find its parent. */
#include <stdlib.h>

#include "conformance.h"

static void *child(void *arg)
{
    if (aio_sleep(0) < 0)
        return NULL;
    if (arg != NULL)
        aio_err_set(aio_ValueError, "child");
    return NULL;
}
AIO_NAME_CALLBACK(child);

static void show_repr(const char *label, const void *obj)
{
    char *r = aio_repr(obj);
    printf("%s: %s\n", label, r);
    free(r);
}

static void *main_coro(void *arg)
{
    (void)arg;
    aio_task_group *g = aio_task_group_new();
    CHECK(g);
    show_repr("new", g);
    if (aio_task_group_create_task(g, child, NULL, NULL) == NULL)
        print_raised("before enter");
    CHECK(aio_task_group_enter(g) == 0);
    show_repr("entered", g);
    if (aio_task_group_enter(g) < 0)
        print_raised("second enter");
    aio_decref(aio_task_group_create_task(g, child, NULL, NULL));
    aio_decref(aio_task_group_create_task(g, child, NULL, NULL));
    show_repr("two tasks", g);
    CHECK(aio_task_group_exit(g) == 0);
    show_repr("after", g);
    if (aio_task_group_create_task(g, child, NULL, NULL) == NULL)
        print_raised("after exit");
    aio_decref(g);

    g = aio_task_group_new();
    CHECK(g);
    CHECK(aio_task_group_enter(g) == 0);
    aio_decref(aio_task_group_create_task(g, child, "fail", NULL));
    aio_decref(aio_task_group_create_task(g, child, NULL, NULL));
    if (aio_sleep(1) < 0 && aio_err_matches(aio_CancelledError)) {
        aio_exc *cancelled = aio_err_fetch();
        show_repr("shutting down", g);
        if (aio_task_group_create_task(g, child, NULL, NULL) == NULL)
            print_raised("while shutting down");
        aio_err_restore(cancelled);
    }
    if (aio_task_group_exit(g) < 0 && aio_err_matches(aio_ExceptionGroup)) {
        aio_exc *eg = aio_err_fetch();
        printf("raised: %s %s\n", aio_exc_type_of(eg)->name, aio_exc_str(eg));
        aio_decref(eg);
    }
    show_repr("after", g);
    aio_decref(g);
    CHECK(!aio_err_occurred());
    return "main result";
}
AIO_NAME_CALLBACK(main_coro);

static void cb(void *arg)
{
    if (aio_task_group_enter(arg) < 0)
        print_raised("outside a task");
}
AIO_NAME_CALLBACK(cb);

static void stop(void *arg)
{
    aio_loop_stop(arg);
}
AIO_NAME_CALLBACK(stop);

int main(void)
{
    const char *r = aio_run(main_coro, NULL, NULL);
    CHECK(r);
    printf("%s\n", r);

    aio_task_group *g = aio_task_group_new();
    aio_loop *loop = aio_new_event_loop();
    CHECK(g && loop);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = cb, .args = g}));
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = stop, .args = loop}));
    CHECK(aio_loop_run_forever(loop) == 0);
    aio_loop_close(loop);
    aio_decref(loop);
    aio_decref(g);
    return 0;
}
