/* test_handle_context.c - Handle.get_context() and TimerHandle.get_context()
 * (3.12): the context a callback runs in, borrowed from the handle.
 *
 * CPython 3.12/3.13: a handle made without context= holds the copy of the
 * current context taken by call_soon()/call_at(); with context= it holds
 * that object; the context stays after cancel(); the callback runs in the
 * very object get_context() returns.
 */
#define AIO_API_LEVEL AIO_PY_NEWEST
#include "test_support.h"

static aio_contextvar *var;
static long seen;

static void read_var(void *arg)
{
    (void)arg;
    seen = (long)(intptr_t)aio_contextvar_get_or(var, P(-1));
}
AIO_NAME_CALLBACK(read_var);

static long value_in(aio_context *ctx)
{
    void *value = NULL;
    int found = aio_context_get(ctx, var, &value);
    assert_true(found >= 0);
    return found ? (long)(intptr_t)value : -1;
}

/* The loop, and the process default for what runs outside it, at 3.13. */
static aio_loop *new_loop_313(void)
{
    assert_int_equal(aio_set_target_version(AIO_PY(3, 13)), 0);
    aio_loop *loop = new_loop();
    assert_int_equal(aio_loop_set_target_version(loop, AIO_PY(3, 13)), 0);
    var = aio_contextvar_new("v");
    assert_non_null(var);
    seen = 0;
    return loop;
}

static void drop_var(void)
{
    aio_decref(var);
    var = NULL;
}

static void set_in(void *ctx_value)
{
    set_contextvar(var, (long)(intptr_t)ctx_value);
}

typedef struct made {
    aio_loop *loop;
    aio_handle *h;
    aio_timer_handle *t;
} made;

/* Schedules a Handle and a TimerHandle in the current context. */
static void schedule(void *arg)
{
    made *m = arg;
    m->h = soon(m->loop, read_var, NULL);
    m->t = at(m->loop, 1e9, read_var, NULL);
}

/* Without context=: the copy taken at call_soon(); later changes of the
 * current context do not reach it. The same object every time. */
static void test_copy_taken_when_scheduled(void **state)
{
    (void)state;
    aio_loop *loop = new_loop_313();
    aio_context *outer = aio_copy_context();
    assert_non_null(outer);
    aio_context_run(outer, set_in, P(10));

    made m = {loop, NULL, NULL};
    /* scheduled from inside `outer`, where v is 10 */
    assert_int_equal(aio_context_run(outer, schedule, &m), 0);

    aio_context *ctx = aio_handle_get_context(m.h);
    assert_non_null(ctx);
    assert_ptr_equal(aio_handle_get_context(m.h), ctx);
    assert_ptr_not_equal(ctx, outer);
    assert_int_equal(value_in(ctx), 10);
    aio_context *tctx = aio_handle_get_context(m.t);
    assert_non_null(tctx);
    assert_int_equal(value_in(tctx), 10);

    aio_context_run(outer, set_in, P(20)); /* the copies keep 10 */
    assert_int_equal(value_in(ctx), 10);
    assert_int_equal(value_in(tctx), 10);

    /* The callback runs in the returned object: what is set in it shows. */
    assert_int_equal(aio_context_run(ctx, set_in, P(30)), 0);
    run_one_iteration(loop);
    check_no_exception();
    assert_int_equal(seen, 30);

    aio_decref(outer);
    drop_var();
    finish(loop);
}

/* With context=: that very object, borrowed. */
static void test_explicit_context(void **state)
{
    (void)state;
    aio_loop *loop = new_loop_313();
    aio_context *given = aio_context_new();
    assert_non_null(given);
    aio_handle *h = aio_loop_call_soon(
        loop, &(aio_loop_call_soon_args){.callback = read_var, .context = given});
    assert_non_null(h);
    aio_timer_handle *t = aio_loop_call_later(
        loop, &(aio_loop_call_later_args){.delay = 100, .callback = read_var, .context = given});
    assert_non_null(t);
    assert_ptr_equal(aio_handle_get_context(h), given);
    assert_ptr_equal(aio_handle_get_context(t), given);
    assert_int_equal(aio_handle_cancel(t), 0);
    run_one_iteration(loop);
    check_no_exception();
    assert_int_equal(seen, -1);
    aio_decref(given);
    drop_var();
    finish(loop);
}

/* cancel() drops the callback, not the context (CPython keeps _context). */
static void test_context_kept_after_cancel(void **state)
{
    (void)state;
    aio_loop *loop = new_loop_313();
    set_contextvar(var, 7);
    aio_handle *h = aio_incref(soon(loop, read_var, NULL));
    aio_timer_handle *t = aio_incref(at(loop, 1e9, read_var, NULL));
    assert_int_equal(aio_handle_cancel(h), 0);
    assert_int_equal(aio_handle_cancel(t), 0);
    aio_context *ctx = aio_handle_get_context(h);
    assert_non_null(ctx);
    assert_int_equal(value_in(ctx), 7);
    assert_int_equal(value_in(aio_handle_get_context(t)), 7);
    run_one_iteration(loop);
    check_no_exception();
    assert_int_equal(seen, 0);             /* never ran */
    assert_int_equal(value_in(aio_handle_get_context(h)), 7); /* still there */
    aio_decref(h);
    aio_decref(t);
    drop_var();
    finish(loop);
}

/* The callback asks for its own handle's context while it runs (in a
 * context made for the run): what the run set ends up in that object. */
static aio_handle *running;
static aio_context *seen_ctx;

static void ask_own_context(void *arg)
{
    (void)arg;
    set_contextvar(var, 41);
    seen_ctx = aio_handle_get_context(running);
    assert_non_null(seen_ctx);
    set_contextvar(var, 42);
}
AIO_NAME_CALLBACK(ask_own_context);

static void test_asked_while_running(void **state)
{
    (void)state;
    aio_loop *loop = new_loop_313();
    running = aio_incref(soon(loop, ask_own_context, NULL));
    run_one_iteration(loop);
    check_no_exception();
    assert_ptr_equal(aio_handle_get_context(running), seen_ctx);
    assert_int_equal(value_in(seen_ctx), 42);
    assert_int_equal(aio_contextvar_get_or(var, P(-1)), P(-1)); /* not set outside */
    aio_decref(running);
    running = NULL;
    drop_var();
    finish(loop);
}

/* Below 3.12 a Handle has no get_context(): AttributeError, as CPython. */
static void test_refused_before_312(void **state)
{
    (void)state;
    assert_int_equal(aio_set_target_version(AIO_PY(3, 11)), 0);
    aio_loop *loop = new_loop();
    var = aio_contextvar_new("v");
    aio_handle *h = soon(loop, read_var, NULL);
    assert_null(aio_handle_get_context(h));
    assert_raised(aio_AttributeError, "'Handle' object has no attribute 'get_context'");
    run_one_iteration(loop);
    check_no_exception();
    drop_var();
    finish(loop);
}

/* A NULL self raises (the glue's check); nothing crashes. */
static void test_null_self(void **state)
{
    (void)state;
    assert_null(aio_handle_get_context(NULL));
    assert_non_null(aio_err_occurred());
    aio_err_clear();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_copy_taken_when_scheduled),
    cmocka_unit_test(test_explicit_context),
    cmocka_unit_test(test_context_kept_after_cancel),
    cmocka_unit_test(test_asked_while_running),
    cmocka_unit_test(test_null_self),
    cmocka_unit_test(test_refused_before_312),
};

AIO_TEST_MAIN(tests)
