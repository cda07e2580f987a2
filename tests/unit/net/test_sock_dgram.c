/* test_sock_dgram.c - loop.sock_recvfrom(), sock_recvfrom_into() and
 * sock_sendto() (3.11.7): done at once when the call works, pending then
 * done at readiness, cancelled (the watcher removed), truncation, the
 * argument checks and their messages, debug mode's blocking-socket check,
 * the sender's address (None for an unbound AF_UNIX socket), allocation
 * failures.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "test_support.h"

/* A non-blocking UDP socket on 127.0.0.1 and its port. */
static int udp_socket(int *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    *port = ntohs(sin.sin_port);
    return fd;
}

static void send_to_port(int fd, int port, const char *text)
{
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                              .sin_port = htons((uint16_t)port)};
    assert_int_equal(sendto(fd, text, strlen(text), 0, (struct sockaddr *)&sin, sizeof sin),
                     (ssize_t)strlen(text));
}

static void test_recvfrom_at_once_and_truncation(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int pa, pb;
    int a = udp_socket(&pa), b = udp_socket(&pb);
    send_to_port(b, pa, "abcdef");
    send_to_port(b, pa, "xyz");
    usleep(1000);
    aio_future *f = aio_loop_sock_recvfrom(loop, a, 3);
    assert_non_null(f);
    assert_int_equal(aio_future_done(f), 1); /* no iteration needed */
    const aio_datagram *d = aio_future_result(f);
    assert_non_null(d);
    assert_int_equal(aio_bytes_size(d->data), 3);
    assert_memory_equal(aio_bytes_data(d->data), "abc", 3);
    assert_int_equal(d->nbytes, 3);
    assert_string_equal(d->address->host, "127.0.0.1");
    assert_int_equal(d->address->port, pb);
    aio_decref(f);
    /* the rest of the first datagram is lost: the next is "xyz" */
    char buf[16];
    f = aio_loop_sock_recvfrom_into(loop, &(aio_loop_sock_recvfrom_into_args){
                                              .sock = a, .buf = buf, .buf_len = sizeof buf});
    assert_int_equal(aio_future_done(f), 1);
    d = aio_future_result(f);
    assert_null(d->data);
    assert_int_equal(d->nbytes, 3);
    assert_memory_equal(buf, "xyz", 3);
    assert_int_equal(d->address->port, pb);
    aio_decref(f);
    /* recvfrom_into with nbytes: truncated there */
    send_to_port(b, pa, "123456");
    usleep(1000);
    f = aio_loop_sock_recvfrom_into(loop, &(aio_loop_sock_recvfrom_into_args){
                                              .sock = a, .buf = buf, .buf_len = sizeof buf,
                                              .nbytes = 2});
    assert_int_equal(((const aio_datagram *)aio_future_result(f))->nbytes, 2);
    assert_memory_equal(buf, "12", 2);
    aio_decref(f);
    close(a);
    close(b);
    finish(loop);
}

static void test_argument_checks(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int pa;
    int a = udp_socket(&pa);
    char buf[4];
    assert_null(aio_loop_sock_recvfrom(loop, a, -1));
    assert_raised(aio_ValueError, "negative buffersize in recvfrom");
    assert_null(aio_loop_sock_recvfrom_into(loop, &(aio_loop_sock_recvfrom_into_args){
                                                      .sock = a, .buf = buf, .buf_len = 4,
                                                      .nbytes = 5}));
    assert_raised(aio_ValueError, "nbytes is greater than the length of the buffer");
    assert_null(aio_loop_sock_recvfrom_into(loop, &(aio_loop_sock_recvfrom_into_args){
                                                      .sock = a, .buf = buf, .buf_len = 4,
                                                      .nbytes = -1}));
    assert_raised(aio_ValueError, "negative buffersize in recvfrom_into");
    assert_null(aio_loop_sock_sendto(loop, a, "x", 1, NULL));
    assert_raised(aio_TypeError, "sendto(): AF_INET address must be tuple, not NoneType");
    assert_null(aio_loop_sock_sendto(loop, a, "x", 1, &(aio_address){.path = "/x"}));
    assert_raised(aio_TypeError, "sendto(): AF_INET address must be tuple, not str");
    assert_null(aio_loop_sock_sendto(loop, a, "x", 1,
                                     &(aio_address){.host = "127.0.0.1", .port = 70000}));
    assert_raised(aio_OverflowError, "sendto(): port must be 0-65535.");
    assert_null(aio_loop_sock_sendto(loop, a, "x", 1,
                                     &(aio_address){.host = "no-such-host.invalid", .port = 1}));
    assert_raised(aio_socket_gaierror, NULL);
    /* debug mode: a blocking socket is refused */
    int blocking = socket(AF_INET, SOCK_DGRAM, 0);
    aio_loop_set_debug(loop, true);
    assert_null(aio_loop_sock_recvfrom(loop, blocking, 1));
    assert_raised(aio_ValueError, "the socket must be non-blocking");
    assert_null(aio_loop_sock_recvfrom_into(loop, &(aio_loop_sock_recvfrom_into_args){
                                                      .sock = blocking, .buf = buf, .buf_len = 4}));
    assert_raised(aio_ValueError, "the socket must be non-blocking");
    assert_null(aio_loop_sock_sendto(loop, blocking, "x", 1,
                                     &(aio_address){.host = "127.0.0.1", .port = pa}));
    assert_raised(aio_ValueError, "the socket must be non-blocking");
    aio_loop_set_debug(loop, false);
    /* a descriptor that is not open: the future's OSError */
    aio_future *f = aio_loop_sock_recvfrom(loop, 1000, 1);
    assert_non_null(f);
    assert_int_equal(aio_exc_errno(aio_future_exception(f)), EBADF);
    aio_decref(f);
    close(blocking);
    close(a);
    finish(loop);
}

/* Pending until a datagram comes; then done, and the reader is gone. */
static void test_recvfrom_waits(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int pa, pb;
    int a = udp_socket(&pa), b = udp_socket(&pb);
    aio_future *f = aio_loop_sock_recvfrom(loop, a, 100);
    assert_non_null(f);
    assert_int_equal(aio_future_done(f), 0);
    run_one_iteration(loop);
    assert_int_equal(aio_future_done(f), 0);
    send_to_port(b, pa, "late");
    run_until_future_done(loop, f);
    const aio_datagram *d = aio_future_result(f);
    assert_int_equal(aio_bytes_size(d->data), 4);
    assert_int_equal(d->address->port, pb);
    run_one_iteration(loop);
    assert_int_equal(aio_loop_remove_reader(loop, a), 0); /* removed already */
    aio_decref(f);
    /* recvfrom_into too */
    char buf[8];
    f = aio_loop_sock_recvfrom_into(loop, &(aio_loop_sock_recvfrom_into_args){
                                              .sock = a, .buf = buf, .buf_len = sizeof buf});
    assert_int_equal(aio_future_done(f), 0);
    send_to_port(b, pa, "later");
    run_until_future_done(loop, f);
    assert_int_equal(((const aio_datagram *)aio_future_result(f))->nbytes, 5);
    assert_memory_equal(buf, "later", 5);
    aio_decref(f);
    close(a);
    close(b);
    finish(loop);
}

/* Cancelled while pending: the reader is removed, the datagram stays. */
static void test_recvfrom_cancelled(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int pa, pb;
    int a = udp_socket(&pa), b = udp_socket(&pb);
    aio_future *f = aio_loop_sock_recvfrom(loop, a, 100);
    assert_int_equal(aio_future_cancel(f, NULL), 1);
    run_one_iteration(loop);
    assert_int_equal(aio_future_cancelled(f), 1);
    assert_int_equal(aio_loop_remove_reader(loop, a), 0);
    aio_decref(f);
    send_to_port(b, pa, "kept");
    usleep(1000);
    char buf[8];
    assert_int_equal(recv(a, buf, sizeof buf, 0), 4);
    close(a);
    close(b);
    finish(loop);
}

/* sock_sendto(): the count at once; on a full AF_UNIX peer it waits for
 * the writer, and a cancellation removes it. The sender of an unbound
 * AF_UNIX socket has no address: None. */
static void test_sendto(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int pa, pb;
    int a = udp_socket(&pa), b = udp_socket(&pb);
    aio_future *f = aio_loop_sock_sendto(loop, b, "hello", 5,
                                         &(aio_address){.host = "127.0.0.1", .port = pa});
    assert_non_null(f);
    assert_int_equal(aio_future_done(f), 1);
    assert_int_equal(AIO_RESULT_INT(aio_future_result(f)), 5);
    aio_decref(f);
    f = aio_loop_sock_sendto(loop, b, "", 0, &(aio_address){.host = "localhost", .port = pa});
    assert_int_equal(AIO_RESULT_INT(aio_future_result(f)), 0);
    aio_decref(f);
    char buf[8];
    usleep(1000);
    assert_int_equal(recv(a, buf, sizeof buf, 0), 5);
    assert_int_equal(recv(a, buf, sizeof buf, 0), 0);
    close(a);
    close(b);

    char dir[] = "/tmp/casyncio-sockdgram-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/r", dir);
    int r = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    assert_int_equal(bind(r, (struct sockaddr *)&sun, sizeof sun), 0);
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    long sent = 0;
    for (;;) {
        f = aio_loop_sock_sendto(loop, s, "0123456789", 10, &(aio_address){.path = path});
        assert_non_null(f);
        if (aio_future_done(f) != 1)
            break;
        aio_decref(f);
        sent++;
        assert_true(sent < 1000000);
    }
    /* the peer's queue is full: f waits */
    run_one_iteration(loop);
    assert_int_equal(aio_future_done(f), 0);
    long got = 0;
    aio_future *g = aio_loop_sock_recvfrom(loop, r, 64);
    assert_int_equal(aio_future_done(g), 1);
    assert_null(((const aio_datagram *)aio_future_result(g))->address);
    aio_decref(g);
    got++;
    while (recv(r, buf, sizeof buf, 0) > 0)
        got++;
    run_until_future_done(loop, f);
    assert_int_equal(AIO_RESULT_INT(aio_future_result(f)), 10);
    aio_decref(f);
    assert_int_equal(got, sent);
    /* fill again, then cancel the waiting send: the writer goes */
    for (;;) {
        f = aio_loop_sock_sendto(loop, s, "0123456789", 10, &(aio_address){.path = path});
        if (aio_future_done(f) != 1)
            break;
        aio_decref(f);
    }
    assert_int_equal(aio_future_cancel(f, NULL), 1);
    run_one_iteration(loop);
    assert_int_equal(aio_loop_remove_writer(loop, s), 0);
    aio_decref(f);
    close(s);
    close(r);
    unlink(path);
    rmdir(dir);
    finish(loop);
}

/* Every allocation failing in turn: a result or MemoryError, no leak. */
static void test_allocation_failures(void **state)
{
    (void)state;
    int base = count_fds();
    bool reached = true;
    long k;
    for (k = 0; reached && k < 500; k++) {
        aio_loop *loop = new_loop();
        int pa, pb;
        int a = udp_socket(&pa), b = udp_socket(&pb);
        char buf[8];
        aio__fail_alloc_after = k;
        aio_future *f1 = aio_loop_sock_recvfrom(loop, a, 10);       /* pending */
        aio_future *f2 = aio_loop_sock_sendto(loop, b, "ab", 2,
                                              &(aio_address){.host = "127.0.0.1", .port = pa});
        aio_err_clear();
        for (int i = 0; i < 3; i++)
            run_one_iteration(loop);
        aio_err_clear();
        aio_future *f3 = aio_loop_sock_recvfrom_into(
            loop, &(aio_loop_sock_recvfrom_into_args){.sock = a, .buf = buf, .buf_len = 8});
        aio_err_clear();
        reached = aio__fail_alloc_after < 0;
        aio__fail_alloc_after = -1;
        aio_future *fs[3] = {f1, f2, f3};
        for (int i = 0; i < 3; i++)
            if (fs[i] != NULL && aio_future_done(fs[i]) == 1 && aio_future_cancelled(fs[i]) != 1)
                aio_future_exception(fs[i]); /* retrieved */
        aio_err_clear();
        aio_decref(f1);
        aio_decref(f2);
        aio_decref(f3);
        close(a);
        close(b);
        assert_int_equal(aio_loop_close(loop), 0);
        aio_decref(loop);
        aio_err_clear();
        assert_no_leaks();
        assert_int_equal(count_fds(), base);
    }
    assert_false(reached);
    assert_true(k > 3);
}

int main(int argc, char **argv)
{
    alarm(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recvfrom_at_once_and_truncation),
        cmocka_unit_test(test_argument_checks),
        cmocka_unit_test(test_recvfrom_waits),
        cmocka_unit_test(test_recvfrom_cancelled),
        cmocka_unit_test(test_sendto),
        cmocka_unit_test(test_allocation_failures),
    };
    return AIO_TEST_RUN(tests, argc, argv);
}
