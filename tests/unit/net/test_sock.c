/* test_sock.c - loop.sock_recv(), sock_recv_into(), sock_sendall() and
 * sock_accept() (selector_events.py, 3.11) over socketpair()s and loopback
 * sockets: the first try at once, the wait for readiness when it would
 * block, cancellation (the watcher removed), the errors and messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "test_support.h"

static void pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

/* Runs the loop until fut is done (bounded). */
static void wait_done(aio_loop *loop, aio_future *fut)
{
    for (int i = 0; i < 100000 && aio_future_done(fut) != 1; i++)
        run_one_iteration(loop);
    assert_int_equal(aio_future_done(fut), 1);
}

static bool has_reader(aio_loop *loop, int fd)
{
    /* remove_reader() says whether one was registered; put nothing back. */
    return aio_loop_remove_reader(loop, fd) == 1;
}

static bool has_writer(aio_loop *loop, int fd)
{
    return aio_loop_remove_writer(loop, fd) == 1;
}

static const char *exc_line(aio_future *fut, char *out, size_t size)
{
    aio_exc *exc = aio_future_exception(fut);
    snprintf(out, size, "%s: %s", exc ? aio_exc_type_of(exc)->name : "none",
             exc ? aio_exc_str(exc) : "");
    return out;
}

static void test_recv_immediate(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    assert_int_equal(write(sv[1], "hello", 5), 5);
    aio_future *fut = aio_loop_sock_recv(loop, sv[0], 100);
    assert_non_null(fut);
    assert_int_equal(aio_future_done(fut), 1); /* no iteration needed */
    aio_bytes *b = aio_future_result(fut);
    assert_int_equal(aio_bytes_size(b), 5);
    assert_memory_equal(aio_bytes_data(b), "hello", 5);
    assert_false(has_reader(loop, sv[0]));
    aio_decref(fut);
    /* nbytes 0: b'' at once. */
    fut = aio_loop_sock_recv(loop, sv[0], 0);
    assert_non_null(fut);
    assert_int_equal(aio_bytes_size(aio_future_result(fut)), 0);
    aio_decref(fut);
    close(sv[0]);
    close(sv[1]);
    finish(loop);
}

static void write_peer(void *arg)
{
    int fd = (int)(intptr_t)arg;
    assert_int_equal(write(fd, "later", 5), 5);
}
AIO_NAME_CALLBACK(write_peer);

static void test_recv_waits(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    aio_future *fut = aio_loop_sock_recv(loop, sv[0], 3);
    assert_non_null(fut);
    assert_int_equal(aio_future_done(fut), 0);
    run_one_iteration(loop);
    assert_int_equal(aio_future_done(fut), 0);
    soon(loop, write_peer, (void *)(intptr_t)sv[1]);
    wait_done(loop, fut);
    aio_bytes *b = aio_future_result(fut);
    assert_int_equal(aio_bytes_size(b), 3);
    assert_memory_equal(aio_bytes_data(b), "lat", 3);
    run_one_iteration(loop); /* the done callback removed the reader */
    assert_false(has_reader(loop, sv[0]));
    /* A reference keeps the bytes past the future. */
    aio_bytes *kept = aio_incref(b);
    aio_decref(fut);
    assert_memory_equal(aio_bytes_data(kept), "lat", 3);
    aio_decref(kept);
    /* EOF: b'' */
    close(sv[1]);
    fut = aio_loop_sock_recv(loop, sv[0], 100);
    assert_non_null(fut);
    wait_done(loop, fut);
    assert_int_equal(aio_bytes_size(aio_future_result(fut)), 2);
    aio_decref(fut);
    fut = aio_loop_sock_recv(loop, sv[0], 100);
    assert_int_equal(aio_bytes_size(aio_future_result(fut)), 0);
    aio_decref(fut);
    close(sv[0]);
    finish(loop);
}

static void test_recv_cancel_removes_reader(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    aio_future *fut = aio_loop_sock_recv(loop, sv[0], 10);
    assert_non_null(fut);
    assert_int_equal(aio_future_cancel(fut, NULL), 1);
    run_one_iteration(loop);
    assert_false(has_reader(loop, sv[0]));
    aio_decref(fut);
    /* Dropped while pending: the loop's close lets go of everything. */
    fut = aio_loop_sock_recv(loop, sv[0], 10);
    assert_non_null(fut);
    aio_decref(fut);
    close(sv[0]);
    close(sv[1]);
    finish(loop);
}

/* Two sock_recv() on one descriptor: the second reader replaces the first
 * (which then waits until cancelled), and the first's cancellation leaves
 * the second's reader alone, as in 3.11. */
static void test_recv_concurrent(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    aio_future *first = aio_loop_sock_recv(loop, sv[0], 10);
    aio_future *second = aio_loop_sock_recv(loop, sv[0], 10);
    assert_non_null(first);
    assert_non_null(second);
    assert_int_equal(aio_future_cancel(first, NULL), 1);
    run_one_iteration(loop);
    soon(loop, write_peer, (void *)(intptr_t)sv[1]);
    wait_done(loop, second);
    assert_int_equal(aio_bytes_size(aio_future_result(second)), 5);
    aio_decref(first);
    aio_decref(second);
    close(sv[0]);
    close(sv[1]);
    finish(loop);
}

static void test_recv_errors(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    assert_null(aio_loop_sock_recv(loop, sv[0], -1));
    assert_raised(aio_ValueError, "negative buffersize in recv");
    assert_null(aio_loop_sock_recv(loop, sv[0], INT64_C(1) << 62));
    assert_raised(aio_MemoryError, NULL);
    /* A closed descriptor: the future's OSError, EBADF. */
    int fd = dup(sv[0]);
    close(fd);
    char line[256];
    aio_future *fut = aio_loop_sock_recv(loop, fd, 10);
    assert_non_null(fut);
    assert_string_equal(exc_line(fut, line, sizeof line), "OSError: [Errno 9] Bad file descriptor");
    aio_decref(fut);
    /* Debug mode refuses a blocking socket. */
    int fl = fcntl(sv[0], F_GETFL);
    fcntl(sv[0], F_SETFL, fl & ~O_NONBLOCK);
    aio_loop_set_debug(loop, true);
    assert_null(aio_loop_sock_recv(loop, sv[0], 10));
    assert_raised(aio_ValueError, "the socket must be non-blocking");
    static char buf[4];
    assert_null(aio_loop_sock_recv_into(loop, sv[0], buf, sizeof buf));
    assert_raised(aio_ValueError, "the socket must be non-blocking");
    assert_null(aio_loop_sock_sendall(loop, sv[0], "x", 1));
    assert_raised(aio_ValueError, "the socket must be non-blocking");
    assert_null(aio_loop_sock_accept(loop, sv[0]));
    assert_raised(aio_ValueError, "the socket must be non-blocking");
    aio_loop_set_debug(loop, false);
    /* Not in debug mode: a blocking socket works when data is there. */
    assert_int_equal(write(sv[1], "ab", 2), 2);
    fut = aio_loop_sock_recv(loop, sv[0], 10);
    assert_int_equal(aio_bytes_size(aio_future_result(fut)), 2);
    aio_decref(fut);
    close(sv[0]);
    close(sv[1]);
    finish(loop);
}

static void test_recv_into(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    char buf[4];
    aio_future *fut = aio_loop_sock_recv_into(loop, sv[0], buf, sizeof buf);
    assert_non_null(fut);
    assert_int_equal(aio_future_done(fut), 0);
    soon(loop, write_peer, (void *)(intptr_t)sv[1]);
    wait_done(loop, fut);
    assert_int_equal(AIO_RESULT_INT(aio_future_result(fut)), 4);
    assert_memory_equal(buf, "late", 4);
    aio_decref(fut);
    fut = aio_loop_sock_recv_into(loop, sv[0], buf, sizeof buf); /* "r" is there */
    assert_int_equal(aio_future_done(fut), 1);
    assert_int_equal(AIO_RESULT_INT(aio_future_result(fut)), 1);
    aio_decref(fut);
    fut = aio_loop_sock_recv_into(loop, sv[0], buf, sizeof buf);
    assert_int_equal(aio_future_cancel(fut, NULL), 1);
    run_one_iteration(loop);
    assert_false(has_reader(loop, sv[0]));
    aio_decref(fut);
    assert_null(aio_loop_sock_recv_into(loop, sv[0], NULL, 0));
    assert_raised(aio_TypeError,
                  "recv_into() argument 1 must be read-write bytes-like object, not None");
    close(sv[0]);
    close(sv[1]);
    finish(loop);
}

/* --- sock_sendall: several MiB through a full socket buffer --------------------------- */

typedef struct drain {
    aio_loop *loop;
    int fd;
    unsigned char *got;
    size_t len;
    size_t cap;
} drain;

static void drain_cb(void *arg)
{
    drain *d = arg;
    for (;;) {
        ssize_t n = read(d->fd, d->got + d->len, d->cap - d->len);
        if (n <= 0)
            break;
        d->len += (size_t)n;
    }
}
AIO_NAME_CALLBACK(drain_cb);

static void test_sendall_large(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    size_t size = 8u << 20;
    unsigned char *data = malloc(size);
    assert_non_null(data);
    for (size_t i = 0; i < size; i++)
        data[i] = (unsigned char)(i * 7 + (i >> 13));
    aio_future *fut = aio_loop_sock_sendall(loop, sv[0], data, size);
    assert_non_null(fut);
    assert_int_equal(aio_future_done(fut), 0); /* the buffer is full */
    /* The data was copied: the caller's is its own again. */
    unsigned char *copy = malloc(size);
    memcpy(copy, data, size);
    memset(data, 0, size);
    drain d = {loop, sv[1], malloc(size), 0, size};
    assert_int_equal(aio_loop_add_reader(loop, sv[1], drain_cb, &d, NULL), 0);
    wait_done(loop, fut);
    assert_null(aio_future_exception(fut));
    while (d.len < size)
        run_one_iteration(loop);
    assert_int_equal(d.len, size);
    assert_memory_equal(d.got, copy, size);
    run_one_iteration(loop);
    assert_false(has_writer(loop, sv[0]));
    assert_int_equal(aio_loop_remove_reader(loop, sv[1]), 1);
    aio_decref(fut);
    free(data);
    free(copy);
    free(d.got);
    close(sv[0]);
    close(sv[1]);
    finish(loop);
}

static void test_sendall_cancel_and_errors(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    static char big[1 << 20];
    aio_future *fut = aio_loop_sock_sendall(loop, sv[0], big, sizeof big);
    assert_int_equal(aio_future_done(fut), 0);
    assert_int_equal(aio_future_cancel(fut, NULL), 1);
    run_one_iteration(loop);
    assert_false(has_writer(loop, sv[0]));
    aio_decref(fut);
    /* Empty data: done at once. */
    fut = aio_loop_sock_sendall(loop, sv[0], "", 0);
    assert_int_equal(aio_future_done(fut), 1);
    assert_null(aio_future_result(fut));
    aio_decref(fut);
    assert_null(aio_loop_sock_sendall(loop, sv[0], NULL, 0));
    assert_raised(aio_TypeError, "a bytes-like object is required, not 'NoneType'");
    /* The peer gone: BrokenPipeError, and no SIGPIPE. */
    close(sv[1]);
    fut = aio_loop_sock_sendall(loop, sv[0], "x", 1);
    char line[256];
    assert_string_equal(exc_line(fut, line, sizeof line), "BrokenPipeError: [Errno 32] Broken pipe");
    aio_decref(fut);
    close(sv[0]);
    finish(loop);
}

/* --- sock_accept --------------------------------------------------------------------------- */

static void connect_cb(void *arg)
{
    int *fds = arg; /* [listener, client] */
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    assert_int_equal(getsockname(fds[0], (struct sockaddr *)&sin, &len), 0);
    fds[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(fds[1], (struct sockaddr *)&sin, len), 0);
}
AIO_NAME_CALLBACK(connect_cb);

static void test_accept(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int fds[2] = {socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), -1};
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fds[0], (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(listen(fds[0], 8), 0);
    aio_future *fut = aio_loop_sock_accept(loop, fds[0]);
    assert_non_null(fut);
    assert_int_equal(aio_future_done(fut), 0);
    soon(loop, connect_cb, fds);
    wait_done(loop, fut);
    const aio_socket_address *r = aio_future_result(fut);
    assert_non_null(r);
    assert_true(r->conn >= 0);
    assert_int_equal(r->address.kind, AIO_ADDRESS_PAIR);
    assert_string_equal(r->address.host, "127.0.0.1");
    assert_true(fcntl(r->conn, F_GETFL) & O_NONBLOCK); /* non-blocking, as asyncio sets it */
    int conn = r->conn;
    aio_decref(fut);
    /* The caller owns the connection: still open after the future. */
    assert_int_equal(write(fds[1], "hi", 2), 2);
    fut = aio_loop_sock_recv(loop, conn, 10);
    wait_done(loop, fut);
    assert_int_equal(aio_bytes_size(aio_future_result(fut)), 2);
    aio_decref(fut);
    close(conn);
    run_one_iteration(loop);
    assert_false(has_reader(loop, fds[0]));
    /* Cancelled while waiting: the reader goes. */
    fut = aio_loop_sock_accept(loop, fds[0]);
    assert_int_equal(aio_future_cancel(fut, NULL), 1);
    run_one_iteration(loop);
    assert_false(has_reader(loop, fds[0]));
    aio_decref(fut);
    /* A connected socket is no listener: OSError(EINVAL) in the future. */
    fut = aio_loop_sock_accept(loop, fds[1]);
    char line[256];
    assert_string_equal(exc_line(fut, line, sizeof line), "OSError: [Errno 22] Invalid argument");
    aio_decref(fut);
    close(fds[0]);
    close(fds[1]);
    finish(loop);
}

/* Many accepts, each waiting first: nothing leaks. */
static void test_accept_many(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int fds[2] = {socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), -1};
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fds[0], (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(listen(fds[0], 8), 0);
    for (int i = 0; i < 2000; i++) {
        aio_future *fut = aio_loop_sock_accept(loop, fds[0]);
        soon(loop, connect_cb, fds);
        wait_done(loop, fut);
        const aio_socket_address *r = aio_future_result(fut);
        assert_non_null(r);
        close(r->conn);
        close(fds[1]);
        aio_decref(fut);
    }
    close(fds[0]);
    finish(loop);
}

/* A transport's descriptor: the first try still happens, then the wait
 * is refused with the transport's RuntimeError. */
static aio_protocol plain_protocol;
static aio_protocol *give_plain(void *arg)
{
    (void)arg;
    return &plain_protocol;
}
AIO_NAME_CALLBACK(give_plain);

static void test_transport_fd_refused(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    aio_future *conn = aio_loop_connect_accepted_socket(
        loop, &(aio_loop_connect_accepted_socket_args){.protocol_factory = give_plain,
                                                       .sock = sv[0]});
    assert_non_null(conn);
    wait_done(loop, conn);
    assert_null(aio_loop_sock_recv(loop, sv[0], 10));
    aio_exc *exc = aio_err_fetch();
    assert_non_null(exc);
    assert_true(aio_exc_isinstance(exc, aio_RuntimeError));
    char expected[64];
    snprintf(expected, sizeof expected, "File descriptor %d is used by transport <", sv[0]);
    assert_memory_equal(aio_exc_str(exc), expected, strlen(expected));
    aio_decref(exc);
    aio_transport_protocol *tp = aio_future_result(conn);
    aio_transport_close(tp->transport);
    aio_decref(conn);
    for (int i = 0; i < 3; i++)
        run_one_iteration(loop);
    close(sv[1]);
    finish(loop);
}

static void test_closed_loop_waits_nothing(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    aio_loop_close(loop);
    assert_null(aio_loop_sock_recv(loop, sv[0], 10));
    assert_raised(aio_RuntimeError, "Event loop is closed");
    aio_decref(loop);
    close(sv[0]);
    close(sv[1]);
    assert_no_leaks();
}

/* --- Memory running out ------------------------------------------------------------- */

/* Runs one operation with its n-th allocation failing: the call's NULL with
 * MemoryError, or a future that ends (result or MemoryError) or is
 * cancelled; nothing leaks and the loop goes on. True when no allocation
 * failed (n is past the operation's last). */
typedef aio_future *(*sock_op)(aio_loop *loop, int fd, void *arg);

static bool run_failing(sock_op op, long n, void *arg, int peer_writes)
{
    aio_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    aio__fail_alloc_after = n;
    aio_future *fut = op(loop, sv[0], arg);
    if (peer_writes > 0)
        assert_int_equal(write(sv[1], "0123456789", (size_t)peer_writes), peer_writes);
    static char sink[1 << 21];
    for (int i = 0; i < 50 && fut != NULL && aio_future_done(fut) != 1; i++) {
        while (read(sv[1], sink, sizeof sink) > 0)
            ;
        aio_loop_stop(loop);
        aio_loop_run_forever(loop);
        aio_err_clear();
    }
    bool untouched = aio__fail_alloc_after >= 0;
    aio__fail_alloc_after = -1;
    if (fut == NULL) {
        assert_raised(aio_MemoryError, NULL);
    } else {
        if (aio_future_done(fut) != 1) {
            aio_future_cancel(fut, NULL);
            run_one_iteration(loop);
        }
        aio_exc *exc = aio_future_cancelled(fut) == 1 ? NULL : aio_future_exception(fut);
        if (exc != NULL)
            assert_true(aio_exc_isinstance(exc, aio_MemoryError));
        aio_decref(fut);
    }
    aio_err_clear();
    close(sv[0]);
    close(sv[1]);
    finish(loop);
    return untouched;
}

static aio_future *op_recv(aio_loop *loop, int fd, void *arg)
{
    (void)arg;
    return aio_loop_sock_recv(loop, fd, 10);
}

static aio_future *op_recv_into(aio_loop *loop, int fd, void *arg)
{
    return aio_loop_sock_recv_into(loop, fd, arg, 4);
}

static aio_future *op_sendall(aio_loop *loop, int fd, void *arg)
{
    return aio_loop_sock_sendall(loop, fd, arg, 1 << 20);
}

static aio_future *op_accept(aio_loop *loop, int fd, void *arg)
{
    (void)fd;
    return aio_loop_sock_accept(loop, *(int *)arg);
}

static void test_each_allocation_failing(void **state)
{
    (void)state;
    static char data[1 << 20], buf[4];
    long n;
    for (n = 0; n < 100 && !run_failing(op_recv, n, NULL, 5); n++)
        ;
    assert_true(n > 1 && n < 100);
    for (n = 0; n < 100 && !run_failing(op_recv_into, n, buf, 5); n++)
        ;
    assert_true(n > 1 && n < 100);
    for (n = 0; n < 100 && !run_failing(op_sendall, n, data, 0); n++)
        ;
    assert_true(n > 1 && n < 100);
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    assert_int_equal(bind(listener, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(listen(listener, 128), 0);
    assert_int_equal(getsockname(listener, (struct sockaddr *)&sin, &len), 0);
    for (n = 0; n < 100; n++) {
        int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_int_equal(connect(client, (struct sockaddr *)&sin, len), 0);
        bool done = run_failing(op_accept, n, &listener, 0);
        close(client);
        /* An accepted connection is the caller's; one not accepted waits in
         * the backlog: accept it away. */
        int left;
        while ((left = accept(listener, NULL, NULL)) >= 0)
            close(left);
        if (done)
            break;
    }
    assert_true(n > 0 && n < 100);
    close(listener);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_recv_immediate),
    cmocka_unit_test(test_recv_waits),
    cmocka_unit_test(test_recv_cancel_removes_reader),
    cmocka_unit_test(test_recv_concurrent),
    cmocka_unit_test(test_recv_errors),
    cmocka_unit_test(test_recv_into),
    cmocka_unit_test(test_sendall_large),
    cmocka_unit_test(test_sendall_cancel_and_errors),
    cmocka_unit_test(test_accept),
    cmocka_unit_test(test_accept_many),
    cmocka_unit_test(test_transport_fd_refused),
    cmocka_unit_test(test_closed_loop_waits_nothing),
    cmocka_unit_test(test_each_allocation_failing),
};

AIO_TEST_MAIN(tests)
