/* test_versions_transport.c - socket transports by target version: fatal
 * errors (3.6 only logs, in debug mode, BrokenPipeError,
 * ConnectionResetError and ConnectionAbortedError and reports any other
 * error to the exception handler; from 3.7 every OSError is only logged;
 * the transport's socket is swapped for /dev/null, so that send() fails
 * with ENOTSOCK); writelines(), WriteTransport's join-and-write up to 3.11
 * and the socket transport's own from 3.12 (its messages); from 3.12 a
 * new socket transport refuses a descriptor another transport uses; a
 * cancelled sock_accept() leaves its reader registered in 3.8 (until the
 * socket is readable), removes it from 3.9; a read pipe transport's
 * is_reading(), ReadTransport's NotImplementedError before 3.11. Checked beside CPython 3.8.18,
 * 3.9.18, 3.11.7, 3.12.1 and 3.13.0
 * and against 3.6.15 and 3.7.16's sources.
 */
#include <fcntl.h>
#include <sys/socket.h>

#include "server_support.h"

static void test_fatal_write_error(void **state)
{
    (void)state;
    static const struct {
        int version;
        int reported;
    } cases[] = {{AIO_PY(3, 6), 1}, {AIO_PY(3, 7), 0}, {AIO_PY(3, 13), 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aio_loop *loop = new_loop();
        assert_int_equal(aio_loop_set_target_version(loop, cases[i].version), 0);
        handler_report r = {0};
        aio_loop_set_exception_handler(loop, report_handler, &r);
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        server_log log = {0};
        aio_future *f = aio_loop_connect_accepted_socket(
            loop, &(aio_loop_connect_accepted_socket_args){
                      .protocol_factory = echo_factory, .protocol_factory_arg = &log,
                      .sock = sv[0]});
        const aio_transport_protocol *pair = await_result(loop, f);
        check_no_exception();
        assert_non_null(pair);
        int devnull = open("/dev/null", O_WRONLY);
        assert_true(devnull >= 0);
        assert_int_equal(dup2(devnull, sv[0]), sv[0]);
        close(devnull);
        assert_int_equal(aio_transport_write(pair->transport, "x", 1), 0);
        for (int n = 0; n < 5 && log.lost == 0; n++)
            run_one_iteration(loop);
        assert_int_equal(log.lost, 1);
        assert_int_equal(r.calls, cases[i].reported);
        if (cases[i].reported) {
            assert_string_equal(r.message, "Fatal write error on socket transport");
            assert_non_null(strstr(r.exception, "OSError(88, "));
        }
        aio_decref(f);
        close(sv[1]);
        finish(loop);
    }
}

static void test_writelines(void **state)
{
    (void)state;
    static const struct {
        int version;
        const char *none_item, *after_eof;
    } cases[] = {
        {AIO_PY(3, 11), "sequence item 1: expected a bytes-like object, NoneType found",
         "Cannot call write() after write_eof()"},
        {AIO_PY(3, 12), "memoryview: a bytes-like object is required, not 'NoneType'",
         "Cannot call writelines() after write_eof()"},
        {AIO_PY(3, 13), "memoryview: a bytes-like object is required, not 'NoneType'",
         "Cannot call writelines() after write_eof()"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aio_loop *loop = new_loop();
        assert_int_equal(aio_loop_set_target_version(loop, cases[i].version), 0);
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        server_log log = {0};
        aio_future *f = aio_loop_connect_accepted_socket(
            loop, &(aio_loop_connect_accepted_socket_args){
                      .protocol_factory = echo_factory, .protocol_factory_arg = &log,
                      .sock = sv[0]});
        const aio_transport_protocol *pair = await_result(loop, f);
        check_no_exception();
        aio_transport *t = pair->transport;
        const aio_bytes_view bad[] = {{"a", 1}, {NULL, 1}};
        assert_int_equal(aio_transport_writelines(t, bad, 2), -1);
        assert_raised(aio_TypeError, cases[i].none_item);
        assert_int_equal(aio_transport_writelines(t, NULL, 0), 0); /* [] */
        const aio_bytes_view good[] = {{"ab", 2}, {"cd", 2}};
        assert_int_equal(aio_transport_writelines(t, good, 2), 0);
        char buf[8] = "";
        assert_int_equal(read(sv[1], buf, sizeof buf), 4);
        assert_memory_equal(buf, "abcd", 4);
        assert_int_equal(aio_transport_write_eof(t), 0);
        assert_int_equal(aio_transport_writelines(t, good, 2), -1);
        assert_raised(aio_RuntimeError, cases[i].after_eof);
        assert_int_equal(aio_transport_writelines(t, good, 0), -1);
        assert_raised(aio_RuntimeError, cases[i].after_eof);
        aio_transport_close(t);
        for (int n = 0; n < 5 && log.lost == 0; n++)
            run_one_iteration(loop);
        aio_decref(f);
        close(sv[1]);
        finish(loop);
    }
}

/* 3.12: a second transport over a descriptor in use is refused. */
static void test_fd_in_use(void **state)
{
    (void)state;
    static const int versions[] = {AIO_PY(3, 12), AIO_PY(3, 13)};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        aio_loop *loop = new_loop();
        assert_int_equal(aio_loop_set_target_version(loop, versions[i]), 0);
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        server_log log = {0};
        aio_future *f = aio_loop_connect_accepted_socket(
            loop, &(aio_loop_connect_accepted_socket_args){
                      .protocol_factory = echo_factory, .protocol_factory_arg = &log,
                      .sock = sv[0]});
        const aio_transport_protocol *pair = await_result(loop, f);
        check_no_exception();
        server_log log2 = {0};
        aio_future *f2 = aio_loop_connect_accepted_socket(
            loop, &(aio_loop_connect_accepted_socket_args){
                      .protocol_factory = echo_factory, .protocol_factory_arg = &log2,
                      .sock = sv[0]});
        aio_exc *exc = NULL;
        if (f2 == NULL) {
            exc = aio_err_fetch();
        } else {
            await_result(loop, f2);
            exc = aio_err_fetch();
            aio_decref(f2);
        }
        assert_non_null(exc);
        char want[64];
        snprintf(want, sizeof want, "File descriptor %d is used by transport <", sv[0]);
        assert_true(aio_exc_isinstance(exc, aio_RuntimeError));
        assert_memory_equal(aio_exc_str(exc), want, strlen(want));
        aio_decref(exc);
        aio_transport_close(pair->transport);
        for (int n = 0; n < 5 && log.lost == 0; n++)
            run_one_iteration(loop);
        aio_decref(f);
        close(sv[1]);
        finish(loop);
    }
}

static int listener(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 4), 0);
    return fd;
}

/* sock_accept() cancelled while it waits: 3.8 has no done callback, so
 * the reader stays until it runs (the next connection) and finds the
 * future done; 3.9 removes it with the cancel. */
static void test_sock_accept_cancelled(void **state)
{
    (void)state;
    static const struct {
        int version;
        int reader_left;
    } cases[] = {{AIO_PY(3, 8), 1}, {AIO_PY(3, 9), 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int remove = 0; remove < 2; remove++) {
            aio_loop *loop = new_loop();
            assert_int_equal(aio_loop_set_target_version(loop, cases[i].version), 0);
            int fd = listener();
            aio_future *f = aio_loop_sock_accept(loop, fd);
            assert_non_null(f);
            run_one_iteration(loop);
            assert_int_equal(aio_future_cancel(f, NULL), 1);
            run_one_iteration(loop);
            assert_true(aio_future_cancelled(f));
            if (remove) {
                assert_int_equal(aio_loop_remove_reader(loop, fd), cases[i].reader_left);
            } else {
                /* a connection: 3.8's reader runs once and goes */
                int client = tcp_client(port_of(fd));
                assert_true(client >= 0);
                for (int n = 0; n < 3; n++)
                    run_one_iteration(loop);
                assert_int_equal(aio_loop_remove_reader(loop, fd), 0);
                close(client);
            }
            aio_decref(f);
            close(fd);
            finish(loop);
        }
    }
}

/* The read pipe transport's own is_reading() is 3.11's; before, the base
 * class's raised NotImplementedError. pause/resume work at every version. */
static void test_read_pipe_is_reading(void **state)
{
    (void)state;
    static const int versions[] = {AIO_PY(3, 8), AIO_PY(3, 10), AIO_PY(3, 11)};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        aio_loop *loop = new_loop();
        assert_int_equal(aio_loop_set_target_version(loop, versions[i]), 0);
        int p[2];
        assert_int_equal(pipe(p), 0);
        server_log log = {0};
        aio_future *f = aio_loop_connect_read_pipe(loop, echo_factory, &log, p[0]);
        assert_non_null(f);
        const aio_transport_protocol *pair = await_result(loop, f);
        check_no_exception();
        aio_transport *t = pair->transport;
        for (int paused = 0; paused < 2; paused++) {
            if (versions[i] < AIO_PY(3, 11)) {
                assert_int_equal(aio_transport_is_reading(t), -1);
                assert_raised(aio_NotImplementedError, "");
            } else {
                assert_int_equal(aio_transport_is_reading(t), !paused);
            }
            assert_int_equal(aio_transport_pause_reading(t), 0);
        }
        assert_int_equal(aio_transport_resume_reading(t), 0);
        assert_int_equal(aio_transport_close(t), 0);
        for (int n = 0; n < 5 && log.lost == 0; n++)
            run_one_iteration(loop);
        aio_decref(f);
        close(p[1]);
        finish(loop);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_read_pipe_is_reading),
    cmocka_unit_test(test_sock_accept_cancelled),
    cmocka_unit_test(test_fd_in_use),
    cmocka_unit_test(test_writelines),
    cmocka_unit_test(test_fatal_write_error),
};

AIO_TEST_MAIN(tests)
