/* Eager tasks: with eager_task_factory, create_task() runs the coroutine
 * at once, up to its first suspension, the new task current and in its
 * own context copy (a variable it sets stays there); a coroutine that ends
 * (or raises) without suspending gives a task already done; a task started
 * eagerly from inside an eager step nests; the factory's tasks are named
 * after that first step (3.12.1 and 3.13.0 call factory(loop, coro) and
 * set_name() after), Task(eager_start=True) ones before it; the loop not
 * running, an eager task is scheduled as usual; an eager task that
 * suspended can be cancelled. Versions: 3.12+ (the twin's marker). */
#include <stdint.h>

#include "conformance.h"

static aio_contextvar *v;

static long v_get(void)
{
    return (long)(intptr_t)aio_contextvar_get_or(v, NULL);
}

static void v_set(long value)
{
    aio_contextvar_token *token = aio_contextvar_set(v, (void *)(intptr_t)value);
    CHECK(token);
    aio_decref(token);
}

static const char *current_name(void)
{
    return aio_task_get_name(aio_current_task(NULL));
}

static void *child(void *arg)
{
    const char *n = arg;
    printf("%s start cur=%s v=%ld\n", n, current_name(), v_get());
    v_set(99);
    if (strstr(n, "quick") != NULL)
        return arg;
    if (aio_sleep(0) < 0)
        return NULL;
    printf("%s resumed\n", n);
    return arg;
}
AIO_NAME_CALLBACK(child);

static void *nested(void *arg)
{
    (void)arg;
    printf("nested start\n");
    aio_task *t = aio_loop_create_task(
        aio_get_running_loop(),
        &(aio_loop_create_task_args){.coro = child, .coro_arg = "grand", .name = "G"});
    CHECK(t);
    printf("nested after create: cur=%s\n", current_name());
    CHECK(aio_await(t) != NULL);
    aio_decref(t);
    return "nested";
}
AIO_NAME_CALLBACK(nested);

static void *boom(void *arg)
{
    (void)arg;
    aio_err_set(aio_ValueError, "x");
    return NULL;
}
AIO_NAME_CALLBACK(boom);

static aio_task *create(aio_coroutine coro, void *arg, const char *name)
{
    aio_task *t = aio_loop_create_task(
        aio_get_running_loop(),
        &(aio_loop_create_task_args){.coro = coro, .coro_arg = arg, .name = name});
    CHECK(t);
    return t;
}

static void gather2(aio_task *a, aio_task *b)
{
    aio_future *fs[2] = {a, b};
    aio_future *all = aio_gather(fs, 2, NULL);
    CHECK(all);
    CHECK(aio_await(all) != NULL);
    aio_decref(all);
}

static void *main_coro(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    CHECK(aio_loop_set_task_factory(loop, aio_eager_task_factory, NULL) == 0);
    v_set(5);
    printf("before\n");
    aio_task *t1 = create(child, "c1", "N1");
    printf("after c1: done=%s name=%s cur=%s v=%ld\n", py_bool(aio_future_done(t1)),
           aio_task_get_name(t1), current_name(), v_get());
    aio_task *t2 = create(child, "c2quick", "N2");
    printf("after c2: done=%s result=%s\n", py_bool(aio_future_done(t2)),
           (const char *)aio_future_result(t2));
    aio_task *t3 = create(nested, NULL, "N3");
    printf("after c3: done=%s\n", py_bool(aio_future_done(t3)));
    aio_task *t4 = create(boom, NULL, NULL);
    printf("boom done=%s exc=%s\n", py_bool(aio_future_done(t4)),
           exc_line(aio_future_exception(t4)));
    gather2(t1, t3);
    printf("gathered\n");
    aio_decref(t1);
    aio_decref(t2);
    aio_decref(t3);
    aio_decref(t4);

    CHECK(aio_loop_set_task_factory(loop, NULL, NULL) == 0);
    aio_task *t5 = aio_task_new(child, "c5",
                                &(aio_task_args){.loop = loop, .eager_start = true, .name = "N5"});
    CHECK(t5);
    printf("after c5: done=%s\n", py_bool(aio_future_done(t5)));
    aio_task *t6 = aio_task_new(child, "c6", &(aio_task_args){.loop = loop, .name = "N6"});
    CHECK(t6);
    printf("after c6: done=%s\n", py_bool(aio_future_done(t6)));
    gather2(t5, t6);
    aio_decref(t5);
    aio_decref(t6);

    aio_context *ctx = aio_copy_context();
    CHECK(ctx);
    aio_task *t7 = aio_task_new(
        child, "c7quick", &(aio_task_args){.loop = loop, .eager_start = true, .context = ctx});
    CHECK(t7);
    void *in_ctx = NULL;
    CHECK(aio_context_get(ctx, v, &in_ctx) == 1);
    printf("c7: ctx v=%ld here v=%ld\n", (long)(intptr_t)in_ctx, v_get());
    aio_decref(t7);
    aio_decref(ctx);

    aio_task *t8 = aio_task_new(child, "c8", &(aio_task_args){.loop = loop, .eager_start = true});
    CHECK(t8);
    aio_task_cancel(t8, NULL);
    if (aio_await(t8) == NULL && aio_err_matches(aio_CancelledError)) {
        aio_err_clear();
        printf("c8 cancelled\n");
    }
    aio_decref(t8);
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    v = aio_contextvar_new("v");
    CHECK(v);
    aio_run(main_coro, NULL, NULL);
    CHECK(!aio_err_occurred());
    aio_loop *loop = aio_new_event_loop();
    CHECK(loop);
    aio_task *t = aio_task_new(child, "c9quick",
                               &(aio_task_args){.loop = loop, .eager_start = true, .name = "N9"});
    CHECK(t);
    printf("not running: done %s\n", py_bool(aio_future_done(t)));
    const char *result = aio_loop_run_until_complete(loop, t);
    CHECK(result);
    printf("result %s\n", result);
    aio_decref(t);
    aio_loop_close(loop);
    aio_decref(loop);
    aio_decref(v);
    return 0;
}
