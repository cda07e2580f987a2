/* test_glue_order.c - the generated glue checks state and arguments in
 * asyncio's order.
 *
 * Where asyncio looks at the object's state before an argument, a C caller
 * gets the state's error, not the argument's: set_exception(None) on a done
 * future is InvalidStateError, getaddrinfo(family=None) on a closed loop is
 * RuntimeError. The spec says so (none_check = "runtime", state_check); the
 * glue follows it. Where asyncio checks the argument first (call_later(None)
 * on a closed loop), so does the glue. Each expectation was run on CPython
 * 3.11.7; tests/args/ checks them all, parameter by parameter.
 */
#include <signal.h>

#include "test_support.h"

static void *coro(void *arg)
{
    return arg;
}
AIO_NAME_CALLBACK(coro);

static aio_loop *closed_loop(void)
{
    aio_loop *loop = new_loop();
    assert_int_equal(aio_loop_close(loop), 0);
    return loop;
}

/* --- Future.set_exception(None) ------------------------------------------------- */

static void test_set_exception_none_on_done_future(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_future *fut = aio_loop_create_future(loop);
    assert_int_equal(aio_future_set_result(fut, NULL), 0);
    assert_int_equal(aio_future_set_exception(fut, NULL), -1);
    assert_raised(aio_InvalidStateError, "invalid state");
    aio_decref(fut);
    finish(loop);
}

static void test_set_exception_none_on_cancelled_future(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_future *fut = aio_loop_create_future(loop);
    assert_int_equal(aio_future_cancel(fut, NULL), 1);
    assert_int_equal(aio_future_set_exception(fut, NULL), -1);
    assert_raised(aio_InvalidStateError, "invalid state");
    aio_decref(fut);
    finish(loop);
}

static void test_set_exception_none_on_pending_future(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_future *fut = aio_loop_create_future(loop);
    assert_int_equal(aio_future_set_exception(fut, NULL), -1);
    assert_raised(aio_TypeError, "invalid exception object");
    assert_int_equal(aio_future_done(fut), 0);
    aio_decref(fut);
    finish(loop);
}

/* --- loop.create_task(None) ----------------------------------------------------- */

static void test_create_task_none_on_closed_loop(void **state)
{
    (void)state;
    aio_loop *loop = closed_loop();
    assert_null(aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = NULL}));
    assert_raised(aio_RuntimeError, "Event loop is closed");
    aio_decref(loop);
    assert_no_leaks();
}

static void test_create_task_none_on_open_loop(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_null(aio_loop_create_task(loop, NULL));
    assert_raised(aio_TypeError, "a coroutine was expected, got None");
    finish(loop);
}

/* --- getaddrinfo() and getnameinfo() with a None number --------------------------- */

#define NOT_AN_INT "'NoneType' object cannot be interpreted as an integer"

static void test_getaddrinfo_none_on_closed_loop(void **state)
{
    (void)state;
    aio_loop *loop = closed_loop();
    const aio_loop_getaddrinfo_args cases[] = {
        {.host = "127.0.0.1", .family = AIO_NONE},
        {.host = "127.0.0.1", .type = AIO_NONE},
        {.host = "127.0.0.1", .proto = AIO_NONE},
        {.host = "127.0.0.1", .flags = AIO_NONE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_null(aio_loop_getaddrinfo(loop, &cases[i]));
        assert_raised(aio_RuntimeError, "Event loop is closed");
    }
    aio_decref(loop);
    assert_no_leaks();
}

static void test_getaddrinfo_none_on_open_loop(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_null(aio_loop_getaddrinfo(loop, &(aio_loop_getaddrinfo_args){
        .host = "127.0.0.1", .family = AIO_NONE}));
    assert_raised(aio_TypeError, NOT_AN_INT);
    assert_null(aio_loop_getaddrinfo(loop, &(aio_loop_getaddrinfo_args){
        .host = "127.0.0.1", .flags = AIO_NONE}));
    assert_raised(aio_TypeError, NOT_AN_INT);
    finish(loop);
}

static void test_getnameinfo_none_flags(void **state)
{
    (void)state;
    const aio_address addr = {.host = "127.0.0.1", .port = 80};
    aio_loop *loop = closed_loop();
    assert_null(aio_loop_getnameinfo(loop, &(aio_loop_getnameinfo_args){
        .sockaddr = &addr, .flags = AIO_NONE}));
    assert_raised(aio_RuntimeError, "Event loop is closed");
    aio_decref(loop);
    loop = new_loop();
    assert_null(aio_loop_getnameinfo(loop, &(aio_loop_getnameinfo_args){
        .sockaddr = &addr, .flags = AIO_NONE}));
    assert_raised(aio_TypeError, NOT_AN_INT);
    finish(loop);
}

/* --- default_exception_handler(None) ------------------------------------------------ */

static void test_default_exception_handler_none(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_int_equal(aio_loop_default_exception_handler(loop, NULL), -1);
    assert_raised(aio_AttributeError, "'NoneType' object has no attribute 'get'");
    finish(loop);
}

/* --- where asyncio checks the argument first ----------------------------------------- */

static void test_argument_first_on_closed_loop(void **state)
{
    (void)state;
    aio_loop *loop = closed_loop();
    assert_null(aio_loop_call_later(loop, &(aio_loop_call_later_args){
        .delay = AIO_NONE, .callback = noop}));
    assert_raised(aio_TypeError, "delay must not be None");
    assert_null(aio_loop_call_at(loop, &(aio_loop_call_at_args){
        .when = AIO_NONE, .callback = noop}));
    assert_raised(aio_TypeError, "when cannot be None");
    assert_int_equal(aio_loop_add_reader(loop, AIO_NONE, noop, NULL, NULL), -1);
    assert_raised(aio_ValueError, "Invalid file object: None");
    assert_int_equal(aio_loop_remove_writer(loop, AIO_NONE), -1);
    assert_raised(aio_ValueError, "Invalid file object: None");
    assert_int_equal(aio_loop_add_signal_handler(loop, 0, noop, NULL, NULL), -1);
    assert_raised(aio_ValueError, "invalid signal number 0");
    /* call_soon's closed check comes first, whatever the callback. */
    assert_null(aio_loop_call_soon(loop, NULL));
    assert_raised(aio_RuntimeError, "Event loop is closed");
    assert_null(aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = coro}));
    assert_raised(aio_RuntimeError, "Event loop is closed");
    aio_decref(loop);
    assert_no_leaks();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_set_exception_none_on_done_future),
    cmocka_unit_test(test_set_exception_none_on_cancelled_future),
    cmocka_unit_test(test_set_exception_none_on_pending_future),
    cmocka_unit_test(test_create_task_none_on_closed_loop),
    cmocka_unit_test(test_create_task_none_on_open_loop),
    cmocka_unit_test(test_getaddrinfo_none_on_closed_loop),
    cmocka_unit_test(test_getaddrinfo_none_on_open_loop),
    cmocka_unit_test(test_getnameinfo_none_flags),
    cmocka_unit_test(test_default_exception_handler_none),
    cmocka_unit_test(test_argument_first_on_closed_loop),
};

AIO_TEST_MAIN(tests)
