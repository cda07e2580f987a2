/* test_eager_tasks.c - 3.12's eager tasks: Task(eager_start=True) and
 * eager_task_factory. The first step runs inside the call that makes the
 * task, with the new task current and in its own context; a coroutine that
 * ends without suspending gives a task already done; from inside a task,
 * the new task's stack is switched to and back; with the loop not running,
 * the task is scheduled as usual.
 *
 * The expected trace is what CPython 3.12.1 and 3.13.0 print for the same
 * program (tests written from /tmp runs of its Python twin, quoted in each
 * test).
 */
#define AIO_API_LEVEL AIO_PY_NEWEST
#include "test_support.h"

static trace T;
static aio_contextvar *v;

static const char *current_name(void)
{
    aio_task *t = aio_current_task(NULL);
    return t != NULL ? aio_task_get_name(t) : "None";
}

/* child(n): logs its start, sets v to 99; "*quick" ones return at once,
 * the others sleep(0) first. */
static void *child(void *arg)
{
    const char *n = arg;
    trace_add(&T, "%s start cur=%s v=%ld;", n, current_name(),
              (long)(intptr_t)aio_contextvar_get_or(v, P(0)));
    set_contextvar(v, 99);
    if (strstr(n, "quick") != NULL)
        return arg;
    if (aio_sleep(0) < 0)
        return NULL;
    trace_add(&T, "%s resumed;", n);
    return arg;
}
AIO_NAME_CALLBACK(child);

static void *nested(void *arg)
{
    (void)arg;
    trace_add(&T, "nested start;");
    aio_task *g = aio_loop_create_task(aio_get_running_loop(),
                                       &(aio_loop_create_task_args){.coro = child,
                                                                    .coro_arg = "grand",
                                                                    .name = "G"});
    assert_non_null(g);
    trace_add(&T, "nested after create: cur=%s;", current_name());
    aio_await(g);
    aio_decref(g);
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

static aio_task *create(const char *n, const char *name)
{
    aio_task *t = aio_loop_create_task(
        aio_get_running_loop(),
        &(aio_loop_create_task_args){.coro = child, .coro_arg = (void *)n, .name = name});
    assert_non_null(t);
    return t;
}

static void gather2(aio_task *a, aio_task *b)
{
    aio_future *fs[2] = {a, b};
    aio_future *all = aio_gather(fs, 2, NULL);
    assert_non_null(aio_await(all));
    aio_decref(all);
}

/* The Python twin's main(): the factory, then Task(eager_start=True). */
static void *main_coro(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    assert_int_equal(aio_loop_set_task_factory(loop, aio_eager_task_factory, NULL), 0);
    set_contextvar(v, 5);
    trace_add(&T, "before;");
    aio_task *t1 = create("c1", "N1");
    trace_add(&T, "after c1: done=%s cur=%s v=%ld;", aio_future_done(t1) ? "True" : "False",
              current_name(), (long)(intptr_t)aio_contextvar_get_or(v, P(0)));
    aio_task *t2 = create("c2quick", "N2");
    trace_add(&T, "after c2: done=%s result=%s;", aio_future_done(t2) ? "True" : "False",
              (const char *)aio_future_result(t2));
    aio_task *t3 = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = nested, .name = "N3"});
    assert_non_null(t3);
    trace_add(&T, "after c3: done=%s;", aio_future_done(t3) ? "True" : "False");
    aio_task *t4 = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = boom});
    assert_non_null(t4);
    trace_add(&T, "boom done=%s exc=%s;", aio_future_done(t4) ? "True" : "False",
              aio_exc_str(aio_future_exception(t4)));
    gather2(t1, t3);
    trace_add(&T, "gathered;");
    aio_decref(t1);
    aio_decref(t2);
    aio_decref(t3);
    aio_decref(t4);

    assert_int_equal(aio_loop_set_task_factory(loop, NULL, NULL), 0);
    aio_task *t5 = aio_task_new(child, "c5",
                                &(aio_task_args){.loop = loop, .eager_start = true, .name = "N5"});
    assert_non_null(t5);
    trace_add(&T, "after c5: done=%s;", aio_future_done(t5) ? "True" : "False");
    aio_task *t6 = aio_task_new(child, "c6", &(aio_task_args){.loop = loop, .name = "N6"});
    assert_non_null(t6);
    trace_add(&T, "after c6: done=%s;", aio_future_done(t6) ? "True" : "False");
    gather2(t5, t6);
    aio_decref(t5);
    aio_decref(t6);

    aio_context *ctx = aio_copy_context();
    aio_task *t7 = aio_task_new(
        child, "c7quick", &(aio_task_args){.loop = loop, .eager_start = true, .context = ctx});
    assert_non_null(t7);
    void *in_ctx = NULL;
    assert_int_equal(aio_context_get(ctx, v, &in_ctx), 1);
    trace_add(&T, "c7: ctx v=%ld here v=%ld;", (long)(intptr_t)in_ctx,
              (long)(intptr_t)aio_contextvar_get_or(v, P(0)));
    aio_decref(t7);
    aio_decref(ctx);

    aio_task *t8 = aio_task_new(child, "c8", &(aio_task_args){.loop = loop, .eager_start = true});
    assert_non_null(t8);
    assert_int_equal(aio_task_cancel(t8, NULL), 1);
    assert_null(aio_await(t8));
    if (aio_err_matches(aio_CancelledError)) {
        aio_err_clear();
        trace_add(&T, "c8 cancelled;");
    }
    aio_decref(t8);
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

static aio_loop *new_loop_313(void)
{
    memset(&T, 0, sizeof T);
    assert_int_equal(aio_set_target_version(AIO_PY(3, 13)), 0); /* outside the loop too */
    aio_loop *loop = new_loop();
    assert_int_equal(aio_loop_set_target_version(loop, AIO_PY(3, 13)), 0);
    v = aio_contextvar_new("v");
    assert_non_null(v);
    return loop;
}

/* Task names are counted per process; the twin's Task-2 ... are the
 * default names, so they are matched by shape here. */
static void test_as_cpython_does(void **state)
{
    (void)state;
    aio_loop *loop = new_loop_313();
    aio_context *fresh = aio_context_new(); /* the twin's asyncio.run() context */
    assert_non_null(fresh);
    aio_task *m = aio_task_new(main_coro, NULL, &(aio_task_args){.loop = loop, .context = fresh});
    assert_non_null(m);
    aio_loop_run_until_complete(loop, m);
    check_no_exception();
    aio_decref(m);
    aio_decref(fresh);
    /* Replace the default names "Task-<n>" by "Task-#" to compare. */
    char got[4096], *o = got;
    for (const char *p = T.text; *p != '\0';) {
        if (strncmp(p, "Task-", 5) == 0) {
            memcpy(o, "Task-#", 6);
            o += 6;
            p += 5;
            while (*p >= '0' && *p <= '9')
                p++;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    assert_string_equal(got, "before;"
                             "c1 start cur=Task-# v=5;"
                             "after c1: done=False cur=Task-# v=5;"
                             "c2quick start cur=Task-# v=5;"
                             "after c2: done=True result=c2quick;"
                             "nested start;"
                             "grand start cur=Task-# v=5;"
                             "nested after create: cur=Task-#;"
                             "after c3: done=False;"
                             "boom done=True exc=x;"
                             "c1 resumed;"
                             "grand resumed;"
                             "gathered;"
                             "c5 start cur=N5 v=5;"
                             "after c5: done=False;"
                             "after c6: done=False;"
                             "c5 resumed;"
                             "c6 start cur=N6 v=5;"
                             "c6 resumed;"
                             "c7quick start cur=Task-# v=5;"
                             "c7: ctx v=99 here v=5;"
                             "c8 start cur=Task-# v=5;"
                             "c8 cancelled;");
    aio_decref(v);
    finish(loop);
}

/* The loop not running: scheduled as usual. */
static void test_loop_not_running(void **state)
{
    (void)state;
    aio_loop *loop = new_loop_313();
    aio_task *t = aio_task_new(child, "c9quick",
                               &(aio_task_args){.loop = loop, .eager_start = true, .name = "N9"});
    assert_non_null(t);
    assert_int_equal(aio_future_done(t), 0);
    assert_string_equal(T.text, "");
    aio_loop_run_until_complete(loop, t);
    check_no_exception();
    assert_string_equal(T.text, "c9quick start cur=N9 v=0;");
    aio_decref(t);
    aio_decref(v);
    finish(loop);
}

/* A shared-stack task started eagerly from inside a task gets a stack of
 * its own (the creator may be on the shared stack); from the loop's side
 * it keeps the shared stack. Both run right. */
static void *shared_creator(void *arg)
{
    (void)arg;
    aio_task *t = aio_task_new(child, "s1", &(aio_task_args){.eager_start = true,
                                                           .shared_stack = true});
    assert_non_null(t);
    const char *r = aio_await(t);
    assert_non_null(r);
    assert_string_equal(r, "s1");
    aio_decref(t);
    return NULL;
}
AIO_NAME_CALLBACK(shared_creator);

static void from_callback(void *arg)
{
    aio_task **out = arg;
    *out = aio_task_new(child, "s2", &(aio_task_args){.eager_start = true, .shared_stack = true});
    assert_non_null(*out);
}
AIO_NAME_CALLBACK(from_callback);

static void test_shared_stacks(void **state)
{
    (void)state;
    aio_loop *loop = new_loop_313();
    aio_task *m = aio_task_new(shared_creator, NULL,
                               &(aio_task_args){.loop = loop, .shared_stack = true});
    aio_loop_run_until_complete(loop, m);
    check_no_exception();
    aio_decref(m);
    aio_task *t = NULL;
    soon(loop, from_callback, &t);
    run_one_iteration(loop);
    assert_non_null(t);
    assert_int_equal(aio_future_done(t), 0);
    aio_loop_run_until_complete(loop, t);
    check_no_exception();
    assert_non_null(strstr(T.text, "s1 start"));
    assert_non_null(strstr(T.text, "s1 resumed;s2 start"));
    assert_non_null(strstr(T.text, "s2 resumed;"));
    aio_decref(t);
    aio_decref(v);
    finish(loop);
}

/* Below 3.12, Task() has no eager_start: TypeError, and no task. */
static void test_refused_before_312(void **state)
{
    (void)state;
    assert_int_equal(aio_set_target_version(AIO_PY(3, 11)), 0);
    aio_loop *loop = new_loop();
    v = aio_contextvar_new("v");
    memset(&T, 0, sizeof T);
    assert_null(aio_task_new(child, "c", &(aio_task_args){.loop = loop, .eager_start = true}));
    aio_exc *exc = aio_err_fetch();
    assert_non_null(exc);
    assert_true(aio_exc_isinstance(exc, aio_TypeError));
    aio_decref(exc);
    assert_string_equal(T.text, "");
    aio_decref(v);
    finish(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_as_cpython_does),
    cmocka_unit_test(test_loop_not_running),
    cmocka_unit_test(test_shared_stacks),
    cmocka_unit_test(test_refused_before_312),
};

AIO_TEST_MAIN(tests)
