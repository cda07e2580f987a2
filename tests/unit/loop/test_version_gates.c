/* test_version_gates.c - the glue's run-time version gates: a function
 * CPython did not have at a loop's target version raises its AttributeError,
 * an argument it had no parameter for its TypeError (before 3.10 without
 * the class in the name), and the same calls pass at versions that have
 * them. The messages are those of CPython 3.8.18, 3.10.13, 3.11.7, 3.12.1
 * and 3.13.0. */
#include <sys/socket.h>
#include <unistd.h>

#include "test_support.h"

static void *coro(void *arg)
{
    return arg;
}

static void done_at(aio_loop *loop)
{
    aio_loop_close(loop);
    aio_decref(loop);
    assert_int_equal(aio_set_target_version(AIO_PY_DEFAULT), 0);
    assert_no_leaks();
}

/* loop.sock_recvfrom() came in 3.11: a loop method takes its loop's target. */
static void test_loop_method_added(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv), 0);
    const int versions[] = {AIO_PY(3, 8), AIO_PY(3, 10)};
    for (size_t i = 0; i < 2; i++) {
        aio_loop *loop = new_loop_at(versions[i]);
        assert_null(aio_loop_sock_recvfrom(loop, sv[0], 16));
        assert_raised(aio_AttributeError,
                      "'_UnixSelectorEventLoop' object has no attribute 'sock_recvfrom'");
        /* The gate comes before the arguments' checks. */
        assert_null(aio_loop_sock_recvfrom(loop, sv[0], -1));
        assert_raised(aio_AttributeError,
                      "'_UnixSelectorEventLoop' object has no attribute 'sock_recvfrom'");
        done_at(loop);
    }
    const int have[] = {AIO_PY(3, 11), AIO_PY(3, 12), AIO_PY(3, 13)};
    for (size_t i = 0; i < 3; i++) {
        aio_loop *loop = new_loop_at(have[i]);
        assert_null(aio_loop_sock_recvfrom(loop, sv[0], -1));
        assert_raised(aio_ValueError, "negative buffersize in recvfrom");
        done_at(loop);
    }
    close(sv[0]);
    close(sv[1]);
}

/* loop.create_connection(ssl_shutdown_timeout=) came in 3.11. family =
 * None is refused by the glue after binding: it shows the order. */
static void test_loop_method_param_added(void **state)
{
    (void)state;
    const char *family_none = "create_connection() argument 'family' must not be None";
    aio_loop_create_connection_args args = {.host = "127.0.0.1", .port = 9,
                                            .family = AIO_NONE, .ssl_shutdown_timeout = 5.0};
    aio_loop *loop = new_loop_at(AIO_PY(3, 8));
    assert_null(aio_loop_create_connection(loop, &args));
    assert_raised(aio_TypeError,
                  "create_connection() got an unexpected keyword argument 'ssl_shutdown_timeout'");
    done_at(loop);
    loop = new_loop_at(AIO_PY(3, 10));
    assert_null(aio_loop_create_connection(loop, &args));
    assert_raised(aio_TypeError, "BaseEventLoop.create_connection() got an unexpected keyword "
                                 "argument 'ssl_shutdown_timeout'");
    /* An explicit 0 is a value too. */
    args.ssl_shutdown_timeout = AIO_ZERO;
    assert_null(aio_loop_create_connection(loop, &args));
    assert_raised(aio_TypeError, "BaseEventLoop.create_connection() got an unexpected keyword "
                                 "argument 'ssl_shutdown_timeout'");
    /* Left out, it is not missed. */
    args.ssl_shutdown_timeout = 0;
    assert_null(aio_loop_create_connection(loop, &args));
    assert_raised(aio_TypeError, family_none);
    done_at(loop);
    const int have[] = {AIO_PY(3, 11), AIO_PY(3, 12), AIO_PY(3, 13)};
    args.ssl_shutdown_timeout = 5.0;
    for (size_t i = 0; i < 3; i++) {
        loop = new_loop_at(have[i]);
        assert_null(aio_loop_create_connection(loop, &args));
        assert_raised(aio_TypeError, family_none);
        done_at(loop);
    }
}

/* asyncio.create_task(): name came in 3.8, context in 3.11; a module
 * function takes the running loop's target, the process default outside. */
static void test_module_function_params(void **state)
{
    (void)state;
    aio_context *ctx = aio_context_new();
    assert_non_null(ctx);
    assert_int_equal(aio_set_target_version(AIO_PY(3, 10)), 0);
    assert_null(aio_create_task(coro, NULL, &(aio_create_task_args){.context = ctx}));
    assert_raised(aio_TypeError, "create_task() got an unexpected keyword argument 'context'");
    assert_int_equal(aio_set_target_version(AIO_PY(3, 8)), 0);
    assert_null(aio_create_task(coro, NULL, &(aio_create_task_args){.context = ctx}));
    assert_raised(aio_TypeError, "create_task() got an unexpected keyword argument 'context'");
    assert_int_equal(aio_set_target_version(AIO_PY(3, 7)), 0);
    assert_null(aio_create_task(coro, NULL, &(aio_create_task_args){.name = "t"}));
    assert_raised(aio_TypeError, "create_task() got an unexpected keyword argument 'name'");
    /* From 3.11, the gate lets it through: no running loop is the body's. */
    const int have[] = {AIO_PY(3, 11), AIO_PY(3, 12), AIO_PY(3, 13)};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(aio_set_target_version(have[i]), 0);
        assert_null(aio_create_task(coro, NULL, &(aio_create_task_args){.context = ctx}));
        assert_raised(aio_RuntimeError, "no running event loop");
    }
    assert_int_equal(aio_set_target_version(AIO_PY_DEFAULT), 0);
    aio_decref(ctx);
    assert_no_leaks();
}

/* asyncio.TaskGroup came in 3.11: "module 'asyncio' has no attribute". */
static void test_module_class_added(void **state)
{
    (void)state;
    const int versions[] = {AIO_PY(3, 8), AIO_PY(3, 10)};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(aio_set_target_version(versions[i]), 0);
        assert_null(aio_task_group_new());
        assert_raised(aio_AttributeError, "module 'asyncio' has no attribute 'TaskGroup'");
        assert_null(aio_timeout_after(0));
        assert_raised(aio_AttributeError, "module 'asyncio' has no attribute 'timeout'");
    }
    const int have[] = {AIO_PY(3, 11), AIO_PY(3, 12), AIO_PY(3, 13)};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(aio_set_target_version(have[i]), 0);
        aio_task_group *g = aio_task_group_new();
        assert_non_null(g);
        aio_decref(g);
    }
    assert_int_equal(aio_set_target_version(AIO_PY_DEFAULT), 0);
    assert_no_leaks();
}

/* Task.get_context() came in 3.12: a task's method takes its loop's target,
 * not the process default. */
static void test_other_class_method_added(void **state)
{
    (void)state;
    aio_loop *loop = new_loop_at(AIO_PY(3, 13));
    aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = coro});
    assert_non_null(t);
    assert_int_equal(aio_set_target_version(AIO_PY(3, 8)), 0);
    assert_non_null(aio_task_get_context(t));
    const int versions[] = {AIO_PY(3, 8), AIO_PY(3, 10), AIO_PY(3, 11)};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(aio_loop_set_target_version(loop, versions[i]), 0);
        assert_null(aio_task_get_context(t));
        assert_raised(aio_AttributeError, "'_asyncio.Task' object has no attribute 'get_context'");
    }
    /* Task.cancel(msg) came in 3.9; CPython's C Task words it its own way. */
    assert_int_equal(aio_loop_set_target_version(loop, AIO_PY(3, 8)), 0);
    assert_int_equal(aio_task_cancel(t, "m"), -1);
    assert_raised(aio_TypeError, "cancel() takes no keyword arguments");
    assert_int_equal(aio_future_cancelled(t), 0);
    const int have[] = {AIO_PY(3, 12), AIO_PY(3, 13)};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(aio_loop_set_target_version(loop, have[i]), 0);
        assert_non_null(aio_task_get_context(t));
    }
    assert_int_equal(aio_set_target_version(AIO_PY_DEFAULT), 0);
    assert_null(aio_loop_run_until_complete(loop, t));
    aio_decref(t);
    done_at(loop);
}

/* asyncio.Task(): name came in 3.8, context in 3.11. CPython's C Task
 * (Argument Clinic) counts the arguments first, then names the keyword. */
static void test_task_constructor_params(void **state)
{
    (void)state;
    aio_loop *loop = new_loop_at(AIO_PY(3, 13));
    aio_context *ctx = aio_context_new();
    assert_non_null(ctx);
    assert_int_equal(aio_set_target_version(AIO_PY(3, 7)), 0);
    assert_null(aio_task_new(coro, NULL, &(aio_task_args){.name = "t"}));
    assert_raised(aio_TypeError, "'name' is an invalid keyword argument for Task()");
    assert_null(aio_task_new(coro, NULL, &(aio_task_args){.loop = loop, .name = "t"}));
    assert_raised(aio_TypeError, "Task() takes at most 2 arguments (3 given)");
    assert_null(aio_task_new(coro, NULL, &(aio_task_args){.name = "t", .context = ctx}));
    assert_raised(aio_TypeError, "Task() takes at most 2 arguments (3 given)");
    const int versions[] = {AIO_PY(3, 8), AIO_PY(3, 10)};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(aio_set_target_version(versions[i]), 0);
        assert_null(aio_task_new(coro, NULL, &(aio_task_args){.loop = loop, .context = ctx}));
        assert_raised(aio_TypeError, "'context' is an invalid keyword argument for Task()");
        assert_null(aio_task_new(coro, NULL, &(aio_task_args){.loop = loop, .name = "t",
                                                              .context = ctx}));
        assert_raised(aio_TypeError, "Task() takes at most 3 arguments (4 given)");
    }
    assert_int_equal(aio_set_target_version(AIO_PY(3, 11)), 0);
    aio_task *t = aio_task_new(coro, NULL, &(aio_task_args){.loop = loop, .name = "t",
                                                            .context = ctx});
    assert_non_null(t);
    assert_int_equal(aio_set_target_version(AIO_PY_DEFAULT), 0);
    assert_null(aio_loop_run_until_complete(loop, t));
    aio_decref(t);
    aio_decref(ctx);
    done_at(loop);
}

/* asyncio.to_thread() came in 3.9; hand-written, gated by the runtime. */
static void *length_of(void *arg)
{
    return (void *)(uintptr_t)strlen(arg);
}
AIO_NAME_CALLBACK(length_of);

static void *to_thread_main(void *arg)
{
    (void)arg;
    return aio_to_thread(length_of, "abcd");
}
AIO_NAME_CALLBACK(to_thread_main);

static void test_to_thread_added(void **state)
{
    (void)state;
    aio_loop *loop = new_loop_at(AIO_PY(3, 8));
    aio_task *task = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = to_thread_main});
    assert_null(aio_loop_run_until_complete(loop, task));
    assert_raised(aio_AttributeError, "module 'asyncio' has no attribute 'to_thread'");
    aio_decref(task);
    assert_int_equal(aio_loop_set_target_version(loop, AIO_PY(3, 9)), 0);
    task = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = to_thread_main});
    assert_ptr_equal(aio_loop_run_until_complete(loop, task), (void *)4);
    aio_decref(task);
    aio_future *f = aio_loop_shutdown_default_executor(loop, NULL);
    assert_null(aio_loop_run_until_complete(loop, f));
    check_no_exception();
    aio_decref(f);
    done_at(loop);
}

/* call_later(None) / call_at(None) (spec none_in): 3.11's TypeErrors from
 * 3.11 on; up to 3.10 the addition's TypeError (before the closed-loop
 * check) and TimerHandle's bare AssertionError (after it), as CPython
 * 3.6.15, 3.8.18, 3.10.13, 3.11.7 and 3.13.0 give them. */
static void test_call_later_at_none(void **state)
{
    (void)state;
    static const char addition[] = "unsupported operand type(s) for +: 'float' and 'NoneType'";
    const int versions[] = {AIO_PY(3, 6), AIO_PY(3, 8), AIO_PY(3, 10), AIO_PY(3, 11),
                            AIO_PY(3, 13)};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        bool old = versions[i] < AIO_PY(3, 11);
        for (int closed = 0; closed < 2; closed++) {
            aio_loop *loop = new_loop_at(versions[i]);
            if (closed)
                aio_loop_close(loop);
            assert_null(aio_loop_call_later(
                loop, &(aio_loop_call_later_args){.delay = AIO_NONE, .callback = noop}));
            assert_raised(aio_TypeError, old ? addition : "delay must not be None");
            assert_null(aio_loop_call_at(
                loop, &(aio_loop_call_at_args){.when = AIO_NONE, .callback = noop}));
            if (old && closed)
                assert_raised(aio_RuntimeError, "Event loop is closed");
            else if (old)
                assert_raised(aio_AssertionError, "");
            else
                assert_raised(aio_TypeError, "when cannot be None");
            /* a number still schedules at every version */
            if (!closed) {
                assert_non_null(aio_loop_call_later(
                    loop, &(aio_loop_call_later_args){.delay = AIO_ZERO, .callback = noop}));
                assert_non_null(aio_loop_call_at(
                    loop, &(aio_loop_call_at_args){.when = 1.0, .callback = noop}));
            }
            done_at(loop);
        }
    }
}

/* getaddrinfo()'s and getnameinfo()'s integers given None (spec none_in):
 * up to 3.9 the int conversion said "an integer is required (got type
 * NoneType)"; the closed-loop check comes first at every version. As
 * CPython 3.6.15, 3.9.18, 3.10.13 and 3.11.7 give them. */
static void test_dns_int_none(void **state)
{
    (void)state;
    const int versions[] = {AIO_PY(3, 6), AIO_PY(3, 9), AIO_PY(3, 10), AIO_PY(3, 11)};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        const char *msg = versions[i] < AIO_PY(3, 10)
                              ? "an integer is required (got type NoneType)"
                              : "'NoneType' object cannot be interpreted as an integer";
        aio_loop *loop = new_loop_at(versions[i]);
        const aio_loop_getaddrinfo_args each[] = {
            {.host = "localhost", .family = AIO_NONE},
            {.host = "localhost", .type = AIO_NONE},
            {.host = "localhost", .proto = AIO_NONE},
            {.host = "localhost", .flags = AIO_NONE},
        };
        for (size_t j = 0; j < 4; j++) {
            assert_null(aio_loop_getaddrinfo(loop, &each[j]));
            assert_raised(aio_TypeError, msg);
        }
        /* (the glue checks flags whatever sockaddr is) */
        assert_null(aio_loop_getnameinfo(loop, &(aio_loop_getnameinfo_args){.flags = AIO_NONE}));
        assert_raised(aio_TypeError, msg);
        aio_loop_close(loop);
        assert_null(aio_loop_getaddrinfo(loop, &each[0]));
        assert_raised(aio_RuntimeError, "Event loop is closed");
        done_at(loop);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_to_thread_added),
    cmocka_unit_test(test_loop_method_added),
    cmocka_unit_test(test_loop_method_param_added),
    cmocka_unit_test(test_module_function_params),
    cmocka_unit_test(test_module_class_added),
    cmocka_unit_test(test_other_class_method_added),
    cmocka_unit_test(test_task_constructor_params),
    cmocka_unit_test(test_call_later_at_none),
    cmocka_unit_test(test_dns_int_none),
};

AIO_TEST_MAIN(tests)
