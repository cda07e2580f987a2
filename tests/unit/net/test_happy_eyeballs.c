/* test_happy_eyeballs.c - create_connection() with happy_eyeballs_delay
 * and interleave (RFC 8305 as asyncio 3.11 does it: _interleave_addrinfos
 * and staggered_race).
 *
 * Two addresses of one host name come from a hosts file the test writes
 * (127.0.0.1 and 127.0.0.2, both on lo): one is made to hang (a listener
 * whose accept queue is full drops the SYN), refuse (bound, not
 * listening) or accept, as each test needs.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "create_connection.h"
#include "test_support.h"

/* --- _interleave_addrinfos() ------------------------------------------------------- */

/* Targets named by letters, each of a family; the order after interleaving,
 * as letters. The expected strings are CPython's. */
static void interleave(const char *families, int first_count, const char *want)
{
    size_t n = strlen(families);
    aio__conn_targets t = {calloc(n, sizeof(aio__conn_target)), n};
    for (size_t i = 0; i < n; i++) {
        t.items[i].family = families[i] == '6' ? AF_INET6 : AF_INET;
        t.items[i].display = malloc(2);
        t.items[i].display[0] = (char)('a' + i);
        t.items[i].display[1] = '\0';
    }
    assert_int_equal(aio__interleave_targets(&t, first_count), 0);
    char got[32] = {0};
    for (size_t i = 0; i < n; i++) {
        got[i] = t.items[i].display[0];
        free(t.items[i].display);
    }
    free(t.items);
    assert_string_equal(got, want);
}

static void test_interleave(void **state)
{
    (void)state;
    interleave("66446444", 1, "acbdefgh");
    interleave("66446444", 2, "abcedfgh");
    interleave("66446444", 3, "abecdfgh");
    interleave("66446444", 10, "abecdfgh");
    interleave("4444", 1, "abcd");
    interleave("46", 1, "ab");
    interleave("4", 1, "a");
}

/* --- Sockets and names ------------------------------------------------------------- */

static struct sockaddr_in addr_of(const char *host, int port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &sin.sin_addr);
    return sin;
}

/* Bound to host:port; listening with `backlog` unless it is negative. */
static int bound(const char *host, int port, int backlog)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = addr_of(host, port);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 ||
        (backlog >= 0 && listen(fd, backlog) < 0)) {
        close(fd);
        return -1;
    }
    return fd;
}

static int port_of(int fd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    getsockname(fd, (struct sockaddr *)&sin, &len);
    return ntohs(sin.sin_port);
}

/* A listener on host:port that never completes a connection: its accept
 * queue is full, so the kernel drops further SYNs. fill[] get the
 * connections that fill it. */
static int hanging(const char *host, int port, int fill[4])
{
    int fd = bound(host, port, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sin = addr_of(host, port_of(fd));
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        connect(fill[i], (struct sockaddr *)&sin, sizeof sin);
    }
    usleep(1000);
    return fd;
}

typedef struct names {
    char dir[40];
    char hosts[64];
    char first[16], second[16];   /* the name's addresses, in the order resolved */
} names;

/* he.example is 127.0.0.1 and 127.0.0.2 for the loop's resolver; the order
 * the resolver gives them in is found out first. */
static void names_setup(names *nm, aio_loop *loop)
{
    snprintf(nm->dir, sizeof nm->dir, "/tmp/casyncio-he-XXXXXX");
    assert_non_null(mkdtemp(nm->dir));
    snprintf(nm->hosts, sizeof nm->hosts, "%s/hosts", nm->dir);
    FILE *f = fopen(nm->hosts, "w");
    assert_non_null(f);
    fputs("127.0.0.1 he.example\n127.0.0.2 he.example\n", f);
    fclose(f);
    assert_int_equal(aio_loop_set_resolver_options(
                         loop, &(aio_resolver_options){.lookups = "f", .hosts_file = nm->hosts}),
                     0);
    aio_future *fut = aio_loop_getaddrinfo(
        loop, &(aio_loop_getaddrinfo_args){.host = "he.example", .port = "1",
                                           .type = SOCK_STREAM});
    run_until_future_done(loop, fut);
    const aio_addrinfo_list *l = aio_future_result(fut);
    assert_non_null(l);
    assert_int_equal(l->len, 2);
    snprintf(nm->first, sizeof nm->first, "%s", l->items[0].sockaddr.host);
    snprintf(nm->second, sizeof nm->second, "%s", l->items[1].sockaddr.host);
    aio_decref(fut);
}

static void names_teardown(names *nm)
{
    unlink(nm->hosts);
    rmdir(nm->dir);
}

typedef struct counting {
    aio_protocol base;
    int made, lost;
} counting;

static void c_made(aio_protocol *self, aio_transport *t)
{
    (void)t;
    ((counting *)self)->made++;
}

static void c_lost(aio_protocol *self, aio_exc *exc)
{
    (void)exc;
    ((counting *)self)->lost++;
}

static aio_protocol *give(void *arg)
{
    return arg;
}

static aio_future *connect_he(aio_loop *loop, counting *p, int port, double delay)
{
    memset(p, 0, sizeof *p);
    p->base.connection_made = c_made;
    p->base.connection_lost = c_lost;
    aio_future *fut = aio_loop_create_connection(
        loop, &(aio_loop_create_connection_args){.protocol_factory = give,
                                                 .protocol_factory_arg = p,
                                                 .host = "he.example",
                                                 .port = port,
                                                 .happy_eyeballs_delay = delay});
    assert_non_null(fut);
    return fut;
}

/* The peer address of the transport's socket. */
static void peer_host(aio_future *fut, char *out, size_t size)
{
    const aio_transport_protocol *pair = aio_future_result(fut);
    assert_non_null(pair);
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    assert_int_equal(getpeername(aio_transport_get_socket(pair->transport),
                                 (struct sockaddr *)&sin, &len), 0);
    inet_ntop(AF_INET, &sin.sin_addr, out, (socklen_t)size);
}

static void close_pair(aio_loop *loop, aio_future *fut, counting *p)
{
    const aio_transport_protocol *pair = aio_future_result(fut);
    aio_transport_close(pair->transport);
    for (int i = 0; i < 5 && p->lost == 0; i++)
        run_one_iteration(loop);
    assert_int_equal(p->lost, 1);
}

/* --- The race ------------------------------------------------------------------------- */

/* The first address hangs: after the delay the second is tried and wins;
 * the first attempt's socket is closed. */
static void test_delay_starts_second(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    names nm;
    names_setup(&nm, loop);
    int fill[4];
    int lfd = bound(nm.second, 0, 16);
    assert_true(lfd >= 0);
    int port = port_of(lfd);
    int hfd = hanging(nm.first, port, fill);
    if (hfd < 0) {
        close(lfd);
        skip();
    }
    int before = count_fds();
    counting p;
    aio_future *fut = connect_he(loop, &p, port, 0.05);
    run_until_future_done(loop, fut);
    char peer[32];
    peer_host(fut, peer, sizeof peer);
    assert_string_equal(peer, nm.second);
    assert_int_equal(p.made, 1);
    /* the winner's socket only: the hanging attempt's is closed */
    assert_int_equal(count_fds(), before + 1);
    close_pair(loop, fut, &p);
    aio_decref(fut);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(hfd);
    close(lfd);
    finish(loop);
    names_teardown(&nm);
}

/* The first address refuses: the second starts at once, without waiting
 * for the delay (which would outlast the test's alarm). */
static void test_failure_starts_next_at_once(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    names nm;
    names_setup(&nm, loop);
    int lfd = bound(nm.second, 0, 16);
    int port = port_of(lfd);
    int rfd = bound(nm.first, port, -1);
    assert_true(rfd >= 0);
    counting p;
    aio_future *fut = connect_he(loop, &p, port, 1000.0);
    run_until_future_done(loop, fut);
    char peer[32];
    peer_host(fut, peer, sizeof peer);
    assert_string_equal(peer, nm.second);
    close_pair(loop, fut, &p);
    aio_decref(fut);
    close(rfd);
    close(lfd);
    finish(loop);
    names_teardown(&nm);
}

/* Both refuse: one OSError naming both, in the order they were tried. */
static void test_all_fail(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    names nm;
    names_setup(&nm, loop);
    int afd = bound(nm.first, 0, -1);
    int port = port_of(afd);
    int bfd = bound(nm.second, port, -1);
    assert_true(bfd >= 0);
    int before = count_fds();
    counting p;
    aio_future *fut = connect_he(loop, &p, port, 0.01);
    run_until_future_done(loop, fut);
    aio_exc *exc = aio_future_exception(fut);
    assert_non_null(exc);
    assert_true(aio_exc_type_of(exc) == aio_OSError);
    char want[256];
    snprintf(want, sizeof want,
             "Multiple exceptions: [Errno 111] Connect call failed ('%s', %d), "
             "[Errno 111] Connect call failed ('%s', %d)", nm.first, port, nm.second, port);
    assert_string_equal(aio_exc_str(exc), want);
    assert_int_equal(p.made, 0);
    assert_int_equal(count_fds(), before);
    aio_decref(fut);
    close(afd);
    close(bfd);
    finish(loop);
    names_teardown(&nm);
}

/* Cancelled while both attempts hang: both sockets closed, the timer gone. */
static void test_cancel_mid_race(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    names nm;
    names_setup(&nm, loop);
    int fill1[4], fill2[4];
    int h1 = hanging(nm.first, 0, fill1);
    assert_true(h1 >= 0);
    int port = port_of(h1);
    int h2 = hanging(nm.second, port, fill2);
    assert_true(h2 >= 0);
    int before = count_fds();
    counting p;
    aio_future *fut = connect_he(loop, &p, port, 0.01);
    /* until both attempts run */
    for (int i = 0; i < 10000 && count_fds() < before + 2 && !aio_future_done(fut); i++)
        run_one_iteration(loop);
    assert_int_equal(aio_future_done(fut), 0);
    assert_int_equal(count_fds(), before + 2);
    assert_int_equal(aio_future_cancel(fut, NULL), 1);
    run_one_iteration(loop);
    assert_int_equal(count_fds(), before);
    assert_int_equal(p.made, 0);
    aio_decref(fut);
    for (int i = 0; i < 4; i++) {
        close(fill1[i]);
        close(fill2[i]);
    }
    close(h1);
    close(h2);
    finish(loop);
    names_teardown(&nm);
}

/* Without Happy Eyeballs, interleave still reorders (sequential tries). */
static void test_sequential_all_fail_order(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    names nm;
    names_setup(&nm, loop);
    int afd = bound(nm.first, 0, -1);
    int port = port_of(afd);
    int bfd = bound(nm.second, port, -1);
    assert_true(bfd >= 0);
    counting p;
    memset(&p, 0, sizeof p);
    aio_future *fut = aio_loop_create_connection(
        loop, &(aio_loop_create_connection_args){.protocol_factory = give,
                                                 .protocol_factory_arg = &p,
                                                 .host = "he.example",
                                                 .port = port,
                                                 .interleave = 1});
    run_until_future_done(loop, fut);
    aio_exc *exc = aio_future_exception(fut);
    char want[256];
    snprintf(want, sizeof want,
             "Multiple exceptions: [Errno 111] Connect call failed ('%s', %d), "
             "[Errno 111] Connect call failed ('%s', %d)", nm.first, port, nm.second, port);
    assert_string_equal(aio_exc_str(exc), want);
    aio_decref(fut);
    close(afd);
    close(bfd);
    finish(loop);
    names_teardown(&nm);
}


/* Every attempt failing with the same message (the local address in use):
 * that one OSError, not "Multiple exceptions". */
static void test_same_errors_raise_one(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    names nm;
    names_setup(&nm, loop);
    int taken = bound("127.0.0.1", 0, 4);
    int tport = port_of(taken);
    for (int happy = 0; happy < 2; happy++) {
        counting p;
        memset(&p, 0, sizeof p);
        aio_future *fut = aio_loop_create_connection(
            loop, &(aio_loop_create_connection_args){
                      .protocol_factory = give,
                      .protocol_factory_arg = &p,
                      .host = "he.example",
                      .port = tport,
                      .local_addr = &(aio_address){.host = "127.0.0.1", .port = tport},
                      .happy_eyeballs_delay = happy ? 0.01 : 0.0});
        run_until_future_done(loop, fut);
        aio_exc *exc = aio_future_exception(fut);
        char want[160];
        snprintf(want, sizeof want,
                 "[Errno 98] error while attempting to bind on address ('127.0.0.1', %d): "
                 "address already in use", tport);
        assert_non_null(exc);
        assert_string_equal(aio_exc_str(exc), want);
        assert_int_equal(aio_exc_errno(exc), EADDRINUSE);
        aio_decref(fut);
    }
    close(taken);
    finish(loop);
    names_teardown(&nm);
}

/* No test may hang. */
__attribute__((constructor)) static void arm_alarm(void)
{
    alarm(120);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_interleave),
    cmocka_unit_test(test_delay_starts_second),
    cmocka_unit_test(test_failure_starts_next_at_once),
    cmocka_unit_test(test_all_fail),
    cmocka_unit_test(test_cancel_mid_race),
    cmocka_unit_test(test_sequential_all_fail_order),
    cmocka_unit_test(test_same_errors_raise_one),
};

AIO_TEST_MAIN(tests)
