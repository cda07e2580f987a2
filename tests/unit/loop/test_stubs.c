/* test_stubs.c - what the runtime does not implement yet fails cleanly.
 *
 * Every public function whose item spec/status.toml does not list as
 * implemented is a generated stub: it returns the error value with
 * NotImplementedError('<owner>.<name>() is not implemented yet') and leaves
 * nothing behind. A NULL self is still refused first; the arguments are not
 * checked at all (NotImplementedError even for an argument that must not be
 * None): the glue checks arguments only for what the runtime implements.
 * When the runtime implements one of the functions below, move its case to
 * that feature's tests.
 */
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_support.h"

/* Stubs never look at their object: any non-NULL pointer will do. */
static char fake_object[256];
#define FAKE_TRANSPORT ((aio_transport *)fake_object)
#define FAKE_EXECUTOR ((aio_executor *)fake_object)
#define FAKE_PROTOCOL ((aio_protocol *)fake_object)
#define FAKE_SSL ((aio_ssl_context *)fake_object)

static void expect_not_implemented_(const char *what, const char *file, int line)
{
    char msg[160];
    snprintf(msg, sizeof msg, "%s is not implemented yet", what);
    assert_raised_(aio_NotImplementedError, msg, file, line);
}
#define expect_not_implemented(what) expect_not_implemented_((what), __FILE__, __LINE__)

/* A pointer result: NULL and the exception. */
#define STUB_PTR(call, what)                 \
    do {                                     \
        const void *result_ = (call);        \
        assert_null(result_);                \
        expect_not_implemented(what);        \
    } while (0)

/* An int (or int64_t) result: -1 and the exception. */
#define STUB_INT(call, what)                 \
    do {                                     \
        long long result_ = (call);          \
        assert_int_equal(result_, -1);       \
        expect_not_implemented(what);        \
    } while (0)

static aio_protocol *factory(void *arg)
{
    (void)arg;
    return NULL;
}
AIO_NAME_CALLBACK(factory);

static void *executor_func(void *arg)
{
    return arg;
}
AIO_NAME_CALLBACK(executor_func);

/* --- loop coroutines: NULL instead of a future ---------------------------- */

static void test_loop_coroutine_stubs(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();

    STUB_PTR(aio_loop_start_tls(loop, &(aio_loop_start_tls_args){.transport = FAKE_TRANSPORT,
                                                                  .protocol = FAKE_PROTOCOL,
                                                                  .sslcontext = FAKE_SSL}),
             "loop.start_tls()");
    /* create_datagram_endpoint (test_datagram.c), connect_read_pipe/
     * connect_write_pipe (test_pipes.c) and subprocess_exec/subprocess_shell
     * (test_subprocess.c) are implemented. */

    /* The loop is untouched: it still runs and closes. */
    assert_int_equal(aio_loop_is_closed(loop), 0);
    close_loop(loop);
    assert_no_leaks();
}

/* A closed loop does not change the answer of a stub. */
static void test_stubs_on_closed_loop(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_int_equal(aio_loop_close(loop), 0);
    STUB_PTR(aio_loop_start_tls(loop, &(aio_loop_start_tls_args){.transport = FAKE_TRANSPORT,
                                                                  .protocol = FAKE_PROTOCOL,
                                                                  .sslcontext = FAKE_SSL}),
             "loop.start_tls()");
    aio_decref(loop);
    assert_no_leaks();
}

/* --- a NULL self comes first; arguments are not checked --------------------------- */

static void expect_null_self_(const char *name, const char *cls, const char *file, int line)
{
    char msg[200];
    snprintf(msg, sizeof msg,
             "descriptor '%s' for '%s' objects doesn't apply to a 'NoneType' object", name, cls);
    assert_raised_(aio_TypeError, msg, file, line);
}
#define expect_null_self(name, cls) expect_null_self_((name), (cls), __FILE__, __LINE__)

static void test_null_self_before_stub(void **state)
{
    (void)state;
    assert_null(aio_loop_create_connection(NULL, &(aio_loop_create_connection_args){
        .protocol_factory = factory, .host = "127.0.0.1", .port = 9}));
    expect_null_self("create_connection", "BaseEventLoop");
    assert_null(aio_loop_create_server(NULL, NULL));
    expect_null_self("create_server", "BaseEventLoop");
    assert_null(aio_loop_sock_recv(NULL, 3, 10));
    expect_null_self("sock_recv", "BaseEventLoop");
    assert_null(aio_loop_getaddrinfo(NULL, NULL));
    expect_null_self("getaddrinfo", "BaseEventLoop");
    assert_null(aio_loop_run_in_executor(NULL, NULL, executor_func, NULL, NULL));
    expect_null_self("run_in_executor", "BaseEventLoop");
    assert_int_equal(aio_loop_set_default_executor(NULL, FAKE_EXECUTOR), -1);
    expect_null_self("set_default_executor", "BaseEventLoop");
    assert_null(aio_loop_shutdown_asyncgens(NULL));
    expect_null_self("shutdown_asyncgens", "BaseEventLoop");

    assert_int_equal(aio_server_close(NULL), -1);
    expect_null_self("close", "Server");
    assert_null(aio_server_serve_forever(NULL));
    expect_null_self("serve_forever", "Server");
    assert_null(aio_server_sockets(NULL));
    expect_null_self("sockets", "Server");

    assert_int_equal(aio_transport_write(NULL, "x", 1), -1);
    expect_null_self("write", "BaseTransport");
    assert_null(aio_transport_get_extra_info(NULL, NULL));
    expect_null_self("get_extra_info", "BaseTransport");
    assert_int_equal(aio_transport_get_write_buffer_size(NULL), -1);
    expect_null_self("get_write_buffer_size", "BaseTransport");
    assert_int_equal(aio_transport_kill(NULL), -1);
    expect_null_self("kill", "BaseTransport");
    assert_int_equal(aio_transport_get_returncode(NULL), INT_MIN);
    expect_null_self("get_returncode", "BaseTransport");
    assert_no_leaks();
}

static void test_stub_before_argument_checks(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_null(aio_loop_start_tls(loop, &(aio_loop_start_tls_args){
        .transport = FAKE_TRANSPORT, .ssl_handshake_timeout = -1.0}));
    expect_not_implemented("loop.start_tls()");
    assert_null(aio_loop_start_tls(loop, NULL));
    expect_not_implemented("loop.start_tls()");
    finish(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_loop_coroutine_stubs),
    cmocka_unit_test(test_stubs_on_closed_loop),
    cmocka_unit_test(test_null_self_before_stub),
    cmocka_unit_test(test_stub_before_argument_checks),
};

AIO_TEST_MAIN(tests)
