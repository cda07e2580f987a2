/* test_task_api.c - the task API the spec describes beyond the loop's:
 * loop.create_task(context=) (3.11), and exception groups. */
#include "test_support.h"
#include "exc.h"

static aio_contextvar *var;

static void *reads_var(void *arg)
{
    (void)arg;
    return aio_contextvar_get_or(var, P(0));
}

static void set_var(void *arg)
{
    aio_contextvar_token *tok = aio_contextvar_set(var, arg);
    assert_non_null(tok);
    aio_decref(tok);
}

static aio_future *factory(aio_loop *loop, aio_coroutine coro, void *coro_arg, void *arg)
{
    (void)arg;
    return aio_task_new(coro, coro_arg, &(aio_task_args){.loop = loop});
}

static void test_create_task_context(void **state)
{
    (void)state;
    /* Task.get_context() is 3.12's: loops made here, and the process, target 3.12. */
    assert_int_equal(aio_set_target_version(AIO_PY(3, 12)), 0);
    aio_loop *loop = new_loop();
    var = aio_contextvar_new("v");
    aio_context *ctx = aio_context_new();
    assert_int_equal(aio_context_run(ctx, set_var, P(7)), 0);
    aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){
                                                 .coro = reads_var, .context = ctx});
    assert_non_null(t);
    assert_ptr_equal(aio_task_get_context(t), ctx);
    assert_ptr_equal(aio_loop_run_until_complete(loop, t), P(7));
    aio_decref(t);
    /* Without it: a copy of the current context, where v is unset. */
    t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = reads_var});
    assert_null(aio_loop_run_until_complete(loop, t));
    check_no_exception();
    aio_decref(t);
    /* A C task factory has no context parameter. */
    assert_int_equal(aio_loop_set_task_factory(loop, factory, NULL), 0);
    assert_null(aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = reads_var,
                                                                        .context = ctx}));
    assert_raised(aio_TypeError, "the task factory takes no context");
    aio_decref(ctx);
    aio_decref(var);
    assert_int_equal(aio_set_target_version(AIO_PY_DEFAULT), 0);
    finish(loop);
}

static void test_exception_groups(void **state)
{
    (void)state;
    aio_exc *excs[2] = {aio_exc_new(aio_ValueError, "x"), aio_exc_new(aio_KeyError, "k")};
    aio_exc *eg = aio_exc_group_new("m", excs, 2);
    assert_non_null(eg);
    assert_ptr_equal(aio_exc_type_of(eg), aio_ExceptionGroup);
    assert_true(aio_exc_isinstance(eg, aio_Exception));
    assert_true(aio_exc_isinstance(eg, aio_BaseExceptionGroup));
    assert_string_equal(aio_exc_str(eg), "m (2 sub-exceptions)");
    assert_repr(eg, "ExceptionGroup('m', [ValueError('x'), KeyError('k')])");
    size_t n;
    aio_exc *const *got = aio_exc_group_exceptions(eg, &n);
    assert_int_equal(n, 2);
    assert_ptr_equal(got[0], excs[0]);
    /* As traceback.print_exception() draws it. */
    aio_err_set_exc(eg);
    aio_exc *outer_excs[2] = {eg, aio_exc_new(aio_TypeError, "t")};
    aio_exc *outer = aio_exc_group_new("outer", outer_excs, 2);
    aio_err_clear();
    char *text = aio__exc_format_lines(outer);
    assert_string_equal(text,
                        "  | ExceptionGroup: outer (2 sub-exceptions)\n"
                        "  +-+---------------- 1 ----------------\n"
                        "    | ExceptionGroup: m (2 sub-exceptions)\n"
                        "    +-+---------------- 1 ----------------\n"
                        "      | ValueError: x\n"
                        "      +---------------- 2 ----------------\n"
                        "      | KeyError: 'k'\n"
                        "      +------------------------------------\n"
                        "    +---------------- 2 ----------------\n"
                        "    | TypeError: t\n"
                        "    +------------------------------------\n");
    free(text);
    aio_exc *ki[1] = {aio_exc_new(aio_KeyboardInterrupt, NULL)};
    aio_exc *beg = aio_exc_group_new("b", ki, 1);
    assert_ptr_equal(aio_exc_type_of(beg), aio_BaseExceptionGroup);
    assert_false(aio_exc_isinstance(beg, aio_Exception));
    assert_string_equal(aio_exc_str(beg), "b (1 sub-exception)");
    assert_null(aio_exc_group_new("e", NULL, 0));
    assert_raised(aio_ValueError, "second argument (exceptions) must be a non-empty sequence");
    aio_exc *holes[2] = {excs[0], NULL};
    assert_null(aio_exc_group_new("e", holes, 2));
    assert_raised(aio_TypeError, "Item 1 of second argument (exceptions) is not an exception");
    aio_decref(beg);
    aio_decref(ki[0]);
    aio_decref(outer);
    aio_decref(outer_excs[1]);
    aio_decref(eg);
    aio_decref(excs[0]);
    aio_decref(excs[1]);
    assert_no_leaks();
}

/* asyncio.create_task(): on the running loop, name= and context=. */
static void *returns_arg(void *arg)
{
    return arg;
}
AIO_NAME_CALLBACK(returns_arg);

static void *create_task_coro(void *arg)
{
    (void)arg;
    aio_context *ctx = aio_context_new();
    aio_task *t = aio_create_task(returns_arg, P(9),
                                  &(aio_create_task_args){.name = "named", .context = ctx});
    assert_non_null(t);
    assert_string_equal(aio_task_get_name(t), "named");
    assert_ptr_equal(aio_task_get_context(t), ctx);
    assert_ptr_equal(aio_future_get_loop(t), aio_get_running_loop());
    assert_ptr_equal(aio_await(t), P(9));
    aio_decref(t);
    aio_decref(ctx);
    assert_null(aio_create_task(NULL, NULL, NULL));
    assert_raised(aio_TypeError, "a coroutine was expected, got None");
    return P(1);
}
AIO_NAME_CALLBACK(create_task_coro);

static void test_module_create_task(void **state)
{
    (void)state;
    /* Task.get_context() is 3.12's: loops made here, and the process, target 3.12. */
    assert_int_equal(aio_set_target_version(AIO_PY(3, 12)), 0);
    assert_null(aio_create_task(returns_arg, NULL, NULL));
    assert_raised(aio_RuntimeError, "no running event loop");
    aio_loop *loop = new_loop();
    assert_ptr_equal(run_coro(loop, create_task_coro, NULL), P(1));
    assert_int_equal(aio_set_target_version(AIO_PY_DEFAULT), 0);
    finish(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_module_create_task),
    cmocka_unit_test(test_create_task_context),
    cmocka_unit_test(test_exception_groups),
};

AIO_TEST_MAIN(tests)
