/* test_versions_datagram.c - create_datagram_endpoint() and the datagram
 * transport at several target versions: reuse_address= honoured (before
 * the bpo-37228 fix: 3.6.0-3.6.9, 3.7.0-3.7.5, 3.8.0), refused or deprecations
 * (3.6.10+, 3.7.6+, 3.8.1 to 3.10), an unexpected keyword (3.11+); the
 * sock= type check and its message (3.13: only stream sockets, "A datagram
 * socket was expected") and the socket's repr (enum names to 3.10); an
 * empty payload dropped (to 3.12) or sent (3.13).
 * Each checked beside CPython 3.6.15, 3.7.16, 3.10.13, 3.12.1, 3.13.0.
 */
#include <netinet/in.h>
#include <sys/socket.h>

#include "casyncio/warnings.h"
#include "test_support.h"

typedef struct dproto {
    aio_protocol base;
    aio_transport *transport;
    long received;
    size_t last_len;
    int lost, released;
} dproto;

static void dp_made(aio_protocol *self, aio_transport *t)
{
    ((dproto *)self)->transport = t;
}
AIO_NAME_CALLBACK(dp_made);

static void dp_datagram(aio_protocol *self, const void *data, size_t len,
                        const aio_address *addr)
{
    (void)data;
    (void)addr;
    ((dproto *)self)->received++;
    ((dproto *)self)->last_len = len;
}
AIO_NAME_CALLBACK(dp_datagram);

static void dp_lost(aio_protocol *self, aio_exc *exc)
{
    (void)exc;
    ((dproto *)self)->lost++;
}
AIO_NAME_CALLBACK(dp_lost);

static void dp_release(aio_protocol *self)
{
    ((dproto *)self)->released++;
}
AIO_NAME_CALLBACK(dp_release);

static void dp_init(dproto *p)
{
    memset(p, 0, sizeof *p);
    p->base.connection_made = dp_made;
    p->base.datagram_received = dp_datagram;
    p->base.connection_lost = dp_lost;
    p->base.release = dp_release;
}

static aio_protocol *give(void *arg)
{
    return arg;
}
AIO_NAME_CALLBACK(give);

static aio_future *open_endpoint(aio_loop *loop, dproto *p,
                                 const aio_loop_create_datagram_endpoint_args *args)
{
    aio_loop_create_datagram_endpoint_args a = *args;
    a.protocol_factory = give;
    a.protocol_factory_arg = p;
    return aio_loop_create_datagram_endpoint(loop, &a);
}

static const aio_address local_any = {.host = "127.0.0.1", .port = AIO_ZERO};

/* The future's exception once done (NULL: it succeeded). */
static aio_exc *outcome(aio_loop *loop, aio_future *fut)
{
    assert_non_null(fut);
    run_until_future_done(loop, fut);
    return aio_future_exception(fut);
}

static void close_endpoint(aio_loop *loop, aio_future *fut, dproto *p)
{
    assert_int_equal(aio_transport_close(p->transport), 0);
    for (int i = 0; i < 10 && p->lost == 0; i++)
        run_one_iteration(loop);
    assert_int_equal(p->lost, 1);
    assert_int_equal(p->released, 1);
    aio_decref(fut);
}

static int reuseaddr_of(dproto *p)
{
    int on = -1;
    socklen_t len = sizeof on;
    assert_int_equal(getsockopt(aio_transport_get_socket(p->transport), SOL_SOCKET,
                                SO_REUSEADDR, &on, &len),
                     0);
    return on;
}

/* --- reuse_address= ------------------------------------------------------------------------ */

/* Before the fix: None is Unix's default, SO_REUSEADDR on; False leaves it
 * off; a True one is among the options refused beside sock=. */
static void test_reuse_address_honoured(void **state)
{
    (void)state;
    static const int versions[] = {AIO_PY(3, 6), AIO_PY_MICRO(3, 7, 5), AIO_PY(3, 8)};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        aio_loop *loop = new_loop_at(versions[i]);
        dproto p;
        dp_init(&p);
        aio_future *f = open_endpoint(
            loop, &p, &(aio_loop_create_datagram_endpoint_args){.local_addr = &local_any});
        assert_null(outcome(loop, f));
        assert_int_not_equal(reuseaddr_of(&p), 0);
        close_endpoint(loop, f, &p);
        dp_init(&p);
        f = open_endpoint(loop, &p,
                          &(aio_loop_create_datagram_endpoint_args){
                              .local_addr = &local_any, .reuse_address = AIO_FALSE});
        assert_null(outcome(loop, f));
        assert_int_equal(reuseaddr_of(&p), 0);
        close_endpoint(loop, f, &p);
        int udp = socket(AF_INET, SOCK_DGRAM, 0);
        assert_null(open_endpoint(
            loop, &p, &(aio_loop_create_datagram_endpoint_args){.sock = udp,
                                                                .reuse_address = AIO_TRUE}));
        assert_raised(aio_ValueError, "socket modifier keyword arguments can not be used when "
                                      "sock is specified. (reuse_address=True)");
        close(udp);
        finish(loop);
    }
}

/* After the fix: True fails the future with ValueError, False warns (and
 * raises, as the warning, under AIO_WARN_ERROR); None stays quiet and
 * leaves SO_REUSEADDR off. */
static void test_reuse_address_refused(void **state)
{
    (void)state;
    static const struct {
        int version;
        const char *since;
    } cases[] = {{AIO_PY_MICRO(3, 6, 10), "3.6.10"},
                 {AIO_PY_MICRO(3, 7, 6), "3.7.6"},
                 {AIO_PY_MICRO(3, 8, 1), "3.5.10"},
                 {AIO_PY(3, 10), "3.5.10"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aio_loop *loop = new_loop_at(cases[i].version);
        dproto p;
        dp_init(&p);
        watch_deprecations(AIO_WARN_ALWAYS);
        aio_future *f = open_endpoint(
            loop, &p,
            &(aio_loop_create_datagram_endpoint_args){.local_addr = &local_any,
                                                      .reuse_address = AIO_TRUE});
        aio_exc *exc = outcome(loop, f);
        assert_non_null(exc);
        assert_true(aio_exc_isinstance(exc, aio_ValueError));
        assert_string_equal(aio_exc_str(exc),
                            "Passing `reuse_address=True` is no longer supported, as the usage "
                            "of SO_REUSEPORT in UDP poses a significant security concern.");
        assert_int_equal(p.released, 0);
        aio_decref(f);

        f = open_endpoint(loop, &p,
                          &(aio_loop_create_datagram_endpoint_args){
                              .local_addr = &local_any, .reuse_address = AIO_FALSE});
        assert_null(outcome(loop, f));
        assert_int_equal(deprecations, 1);
        char expected[160];
        snprintf(expected, sizeof expected,
                 "The *reuse_address* parameter has been deprecated as of %s and is scheduled "
                 "for removal in 3.11.",
                 cases[i].since);
        assert_string_equal(last_deprecation, expected);
        assert_int_equal(reuseaddr_of(&p), 0);
        close_endpoint(loop, f, &p);

        dp_init(&p);
        f = open_endpoint(loop, &p,
                          &(aio_loop_create_datagram_endpoint_args){.local_addr = &local_any});
        assert_null(outcome(loop, f));
        assert_int_equal(deprecations, 1);
        assert_int_equal(reuseaddr_of(&p), 0);
        close_endpoint(loop, f, &p);

        /* python -W error: the future fails with the warning */
        dp_init(&p);
        watch_deprecations(AIO_WARN_ERROR);
        f = open_endpoint(loop, &p,
                          &(aio_loop_create_datagram_endpoint_args){
                              .family = AF_INET, .reuse_address = AIO_FALSE});
        exc = outcome(loop, f);
        assert_non_null(exc);
        assert_true(aio_exc_isinstance(exc, aio_DeprecationWarning));
        assert_string_equal(aio_exc_str(exc), expected);
        assert_int_equal(p.released, 0);
        aio_decref(f);
        unwatch_deprecations();
        finish(loop);
    }
}

static void test_reuse_address_removed(void **state)
{
    (void)state;
    static const int versions[] = {AIO_PY(3, 11), AIO_PY(3, 13)};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        aio_loop *loop = new_loop_at(versions[i]);
        dproto p;
        dp_init(&p);
        assert_null(open_endpoint(loop, &p,
                                  &(aio_loop_create_datagram_endpoint_args){
                                      .family = AF_INET, .reuse_address = AIO_FALSE}));
        assert_raised(aio_TypeError, "BaseEventLoop.create_datagram_endpoint() got an "
                                     "unexpected keyword argument 'reuse_address'");
        finish(loop);
    }
}

/* A (host, port) pair expected: asserted up to 3.8 and in 3.10, a
 * TypeError in 3.9 and from 3.11. */
static void test_pair_expected(void **state)
{
    (void)state;
    static const struct {
        int version;
        const aio_exc_type *type;
    } cases[] = {{AIO_PY(3, 7), aio_AssertionError}, {AIO_PY(3, 8), aio_AssertionError},
                 {AIO_PY(3, 9), aio_TypeError},      {AIO_PY(3, 10), aio_AssertionError},
                 {AIO_PY(3, 11), aio_TypeError},     {AIO_PY(3, 13), aio_TypeError}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aio_loop *loop = new_loop_at(cases[i].version);
        dproto p;
        dp_init(&p);
        assert_null(open_endpoint(loop, &p,
                                  &(aio_loop_create_datagram_endpoint_args){
                                      .remote_addr = &(aio_address){.path = "/tmp/x"}}));
        assert_raised(cases[i].type, "2-tuple is expected");
        finish(loop);
    }
}

/* --- sock= ----------------------------------------------------------------------------------- */

/* `kind`: how the repr shows family and type, e.g. "family=1, type=1" */
static void expect_sock_refused(aio_loop *loop, int fd, const char *what, const char *kind)
{
    dproto p;
    dp_init(&p);
    assert_null(open_endpoint(loop, &p, &(aio_loop_create_datagram_endpoint_args){.sock = fd}));
    aio_exc *exc = aio_err_fetch();
    assert_true(aio_exc_isinstance(exc, aio_ValueError));
    char expected[160];
    snprintf(expected, sizeof expected,
             "%s was expected, got <socket.socket fd=%d, %s, proto=0", what, fd, kind);
    assert_memory_equal(aio_exc_str(exc), expected, strlen(expected));
    aio_decref(exc);
}

static void test_sock_type_check(void **state)
{
    (void)state;
    int stream = socket(AF_UNIX, SOCK_STREAM, 0);
    int seqpacket = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    assert_true(stream >= 0 && seqpacket >= 0);

    /* to 3.10 the repr names the socket module's enums */
    aio_loop *loop = new_loop_at(AIO_PY(3, 10));
    expect_sock_refused(loop, stream, "A UDP Socket",
                        "family=AddressFamily.AF_UNIX, type=SocketKind.SOCK_STREAM");
    expect_sock_refused(loop, seqpacket, "A UDP Socket",
                        "family=AddressFamily.AF_UNIX, type=SocketKind.SOCK_SEQPACKET");
    finish(loop);

    loop = new_loop_at(AIO_PY(3, 12));
    expect_sock_refused(loop, stream, "A UDP Socket", "family=1, type=1");
    expect_sock_refused(loop, seqpacket, "A UDP Socket", "family=1, type=5");
    finish(loop);

    loop = new_loop_at(AIO_PY(3, 13));
    expect_sock_refused(loop, stream, "A datagram socket", "family=1, type=1");
    dproto p;
    dp_init(&p);
    aio_future *f = open_endpoint(loop, &p,
                                  &(aio_loop_create_datagram_endpoint_args){.sock = seqpacket});
    assert_null(outcome(loop, f));   /* 3.13 takes any socket but a stream one */
    close_endpoint(loop, f, &p);     /* and closes it */
    finish(loop);
    close(stream);
}

/* --- An empty payload --------------------------------------------------------------------- */

static void test_empty_payload(void **state)
{
    (void)state;
    static const struct {
        int version;
        long received;
    } cases[] = {{AIO_PY(3, 8), 0}, {AIO_PY(3, 12), 0}, {AIO_PY(3, 13), 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aio_loop *loop = new_loop_at(cases[i].version);
        dproto server, client;
        dp_init(&server);
        dp_init(&client);
        aio_future *fs = open_endpoint(
            loop, &server, &(aio_loop_create_datagram_endpoint_args){.local_addr = &local_any});
        assert_null(outcome(loop, fs));
        aio_address to = {.host = "127.0.0.1",
                          .port = aio_transport_get_sockname(server.transport)->port};
        aio_future *fc = open_endpoint(
            loop, &client, &(aio_loop_create_datagram_endpoint_args){.remote_addr = &to});
        assert_null(outcome(loop, fc));
        assert_int_equal(aio_transport_sendto(client.transport,
                                              &(aio_transport_sendto_args){.data = "", .data_len = 0}),
                         0);
        assert_int_equal(aio_transport_sendto(client.transport,
                                              &(aio_transport_sendto_args){.data = "x", .data_len = 1}),
                         0);
        for (int n = 0; n < 50 && server.received < cases[i].received + 1; n++)
            run_one_iteration(loop);
        assert_int_equal(server.received, cases[i].received + 1);
        assert_int_equal(server.last_len, 1);
        close_endpoint(loop, fc, &client);
        close_endpoint(loop, fs, &server);
        finish(loop);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse_address_honoured),
        cmocka_unit_test(test_reuse_address_refused),
        cmocka_unit_test(test_reuse_address_removed),
        cmocka_unit_test(test_pair_expected),
        cmocka_unit_test(test_sock_type_check),
        cmocka_unit_test(test_empty_payload),
    };
    alarm(60);
    return AIO_TEST_RUN(tests, argc, argv);
}
