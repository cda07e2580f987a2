/* test_datagram.c - loop.create_datagram_endpoint() and the datagram
 * transport (_SelectorDatagramTransport, 3.11.7): endpoints on 127.0.0.1,
 * ::1 and AF_UNIX, connected or not; sendto()'s checks and messages; the
 * queue a full socket makes, flow control and 10^4 datagrams through it;
 * error_received() with ECONNREFUSED; allow_broadcast, reuse_port, sock=;
 * and every allocation failing in turn. Expected behaviour and messages
 * are CPython 3.11.7's (run beside it while writing these).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "test_support.h"

/* --- A datagram protocol that records what it is told -------------------------------- */

typedef struct dproto {
    aio_protocol base;
    trace *t;
    aio_transport *transport;
    long received;
    size_t bytes;
    long next_seq;              /* numbered datagrams: the next one expected */
    bool out_of_order;
    char last[128];
    char last_from[128];
    int errors;
    char last_error[160];
    int lost;
    char lost_exc[160];
    int released;
    int pauses, resumes;
    bool echo;                  /* send each datagram back to its sender */
    bool quiet;                 /* no trace for each datagram */
} dproto;

static dproto *dp(aio_protocol *self)
{
    return (dproto *)self;
}

static void dp_made(aio_protocol *self, aio_transport *t)
{
    dp(self)->transport = t;
    trace_add(dp(self)->t, "made;");
}
AIO_NAME_CALLBACK(dp_made);

static void address_text(const aio_address *a, char *out, size_t size)
{
    if (a == NULL) {
        snprintf(out, size, "None");
        return;
    }
    if (a->path != NULL)
        snprintf(out, size, "%s", a->path);
    else
        snprintf(out, size, "%s:%d", a->host ? a->host : "?", a->port);
}

static void dp_datagram(aio_protocol *self, const void *data, size_t len,
                        const aio_address *addr)
{
    dproto *p = dp(self);
    p->received++;
    p->bytes += len;
    if (len >= sizeof(long)) {
        long seq;
        memcpy(&seq, data, sizeof seq);
        if (seq == p->next_seq)
            p->next_seq++;
        else if (seq >= 0)
            p->out_of_order = true;
    }
    snprintf(p->last, sizeof p->last, "%.*s", (int)(len < 100 ? len : 100), (const char *)data);
    address_text(addr, p->last_from, sizeof p->last_from);
    if (!p->quiet)
        trace_add(p->t, "datagram(%zu);", len);
    if (p->echo)
        aio_transport_sendto(p->transport, &(aio_transport_sendto_args){
                                               .data = data, .data_len = len, .addr = addr});
}
AIO_NAME_CALLBACK(dp_datagram);

static void dp_error(aio_protocol *self, aio_exc *exc)
{
    dproto *p = dp(self);
    p->errors++;
    repr_copy(exc, p->last_error, sizeof p->last_error);
    trace_add(p->t, "error(%s);", p->last_error);
}
AIO_NAME_CALLBACK(dp_error);

static void dp_lost(aio_protocol *self, aio_exc *exc)
{
    dproto *p = dp(self);
    p->lost++;
    repr_copy(exc, p->lost_exc, sizeof p->lost_exc);
    trace_add(p->t, "lost(%s);", p->lost_exc);
}
AIO_NAME_CALLBACK(dp_lost);

static void dp_pause(aio_protocol *self)
{
    dp(self)->pauses++;
    trace_add(dp(self)->t, "pause;");
}
AIO_NAME_CALLBACK(dp_pause);

static void dp_resume(aio_protocol *self)
{
    dp(self)->resumes++;
    trace_add(dp(self)->t, "resume;");
}
AIO_NAME_CALLBACK(dp_resume);

static void dp_release(aio_protocol *self)
{
    dp(self)->released++;
}
AIO_NAME_CALLBACK(dp_release);

static void dp_init(dproto *p, trace *t)
{
    memset(p, 0, sizeof *p);
    p->t = t;
    p->base.connection_made = dp_made;
    p->base.datagram_received = dp_datagram;
    p->base.error_received = dp_error;
    p->base.connection_lost = dp_lost;
    p->base.pause_writing = dp_pause;
    p->base.resume_writing = dp_resume;
    p->base.release = dp_release;
}

static aio_protocol *give(void *arg)
{
    return arg;
}
AIO_NAME_CALLBACK(give);

/* The endpoint's transport once the future is done (it must succeed). */
static aio_transport *endpoint(aio_loop *loop, aio_future *fut)
{
    assert_non_null(fut);
    run_until_future_done(loop, fut);
    if (aio_future_exception(fut) != NULL) {
        char *repr = aio_repr(aio_future_exception(fut));
        fprintf(stderr, "endpoint failed: %s\n", repr);
        free(repr);
        fail();
    }
    const aio_transport_protocol *pair = aio_future_result(fut);
    assert_non_null(pair);
    return pair->transport;
}

static aio_future *open_endpoint(aio_loop *loop, dproto *p,
                                 const aio_loop_create_datagram_endpoint_args *args)
{
    aio_loop_create_datagram_endpoint_args a = *args;
    a.protocol_factory = give;
    a.protocol_factory_arg = p;
    return aio_loop_create_datagram_endpoint(loop, &a);
}

static void run_until(aio_loop *loop, bool (*done)(void *), void *arg, int max)
{
    for (int i = 0; i < max && !done(arg); i++)
        run_one_iteration(loop);
}

static bool has_received(void *arg)
{
    return dp(arg)->received > 0;
}

static bool has_lost(void *arg)
{
    return dp(arg)->lost > 0;
}

static bool has_error(void *arg)
{
    return dp(arg)->errors > 0;
}

/* close(), then connection_lost() once, and the protocol released. */
static void close_endpoint(aio_loop *loop, aio_future *fut, dproto *p)
{
    const aio_transport_protocol *pair = aio_future_result(fut);
    if (p->lost == 0) {
        assert_int_equal(aio_transport_close(pair->transport), 0);
        run_until(loop, has_lost, p, 10);
    }
    assert_int_equal(p->lost, 1);
    assert_int_equal(p->released, 1);
    aio_decref(fut);
}

/* --- Endpoints ---------------------------------------------------------------------- */

/* An unconnected server and a connected client: the client's datagram
 * arrives with the client's address, the server's echo comes back. */
static void echo_pair(const char *host, int family)
{
    trace ts, tc;
    memset(&ts, 0, sizeof ts);
    memset(&tc, 0, sizeof tc);
    aio_loop *loop = new_loop();
    dproto server, client;
    dp_init(&server, &ts);
    dp_init(&client, &tc);
    server.echo = true;
    aio_future *sf = open_endpoint(
        loop, &server,
        &(aio_loop_create_datagram_endpoint_args){
            .local_addr = &(aio_address){.host = host, .port = AIO_ZERO}, .family = family});
    aio_transport *st = endpoint(loop, sf);
    const aio_address *sname = aio_transport_get_sockname(st);
    assert_non_null(sname);
    assert_string_equal(sname->host, host);
    assert_true(sname->port > 0);
    assert_null(aio_transport_get_peername(st));
    assert_true(aio_transport_get_socket(st) >= 0);
    aio_future *cf = open_endpoint(
        loop, &client,
        &(aio_loop_create_datagram_endpoint_args){
            .remote_addr = &(aio_address){.host = host, .port = sname->port}});
    aio_transport *ct = endpoint(loop, cf);
    const aio_address *peer = aio_transport_get_peername(ct);
    assert_non_null(peer);
    assert_int_equal(peer->port, sname->port);
    assert_int_equal(aio_transport_sendto(ct, &(aio_transport_sendto_args){
                                                  .data = "hello", .data_len = 5}),
                     0);
    run_until(loop, has_received, &client, 50);
    assert_int_equal(server.received, 1);
    assert_string_equal(server.last, "hello");
    char expected[128];
    const aio_address *cname = aio_transport_get_sockname(ct);
    snprintf(expected, sizeof expected, "%s:%d", host, cname->port);
    assert_string_equal(server.last_from, expected);
    assert_int_equal(client.received, 1);
    assert_string_equal(client.last, "hello");
    assert_int_equal(aio_transport_get_write_buffer_size(ct), 0);
    close_endpoint(loop, cf, &client);
    close_endpoint(loop, sf, &server);
    assert_string_equal(tc.text, "made;datagram(5);lost(None);");
    assert_string_equal(ts.text, "made;datagram(5);lost(None);");
    finish(loop);
}

static void test_echo_ipv4(void **state)
{
    (void)state;
    echo_pair("127.0.0.1", 0);
}

static bool have_ipv6(void)
{
    int fd = socket(AF_INET6, SOCK_DGRAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool ok = bind(fd, (struct sockaddr *)&sin6, sizeof sin6) == 0;
    close(fd);
    return ok;
}

static void test_echo_ipv6(void **state)
{
    (void)state;
    if (!have_ipv6())
        skip();
    echo_pair("::1", AF_INET6);
}

/* AF_UNIX datagram endpoints: a server at a path, a client bound to its own
 * path and connected to the server's; a stale socket file at the server's
 * path is removed when the next endpoint binds there. */
static void test_unix(void **state)
{
    (void)state;
    char dir[] = "/tmp/casyncio-dgram-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char spath[64], cpath[64];
    snprintf(spath, sizeof spath, "%s/s", dir);
    snprintf(cpath, sizeof cpath, "%s/c", dir);
    trace ts, tc;
    memset(&ts, 0, sizeof ts);
    memset(&tc, 0, sizeof tc);
    aio_loop *loop = new_loop();
    for (int round = 0; round < 2; round++) {
        dproto server, client;
        dp_init(&server, &ts);
        dp_init(&client, &tc);
        server.echo = true;
        aio_future *sf =
            open_endpoint(loop, &server,
                          &(aio_loop_create_datagram_endpoint_args){
                              .local_addr = &(aio_address){.path = spath}, .family = AF_UNIX});
        aio_transport *st = endpoint(loop, sf);
        assert_string_equal(aio_transport_get_sockname(st)->path, spath);
        aio_future *cf = open_endpoint(
            loop, &client,
            &(aio_loop_create_datagram_endpoint_args){.local_addr = &(aio_address){.path = cpath},
                                                      .remote_addr = &(aio_address){.path = spath},
                                                      .family = AF_UNIX});
        aio_transport *ct = endpoint(loop, cf);
        assert_string_equal(aio_transport_get_peername(ct)->path, spath);
        aio_transport_sendto(ct, &(aio_transport_sendto_args){.data = "ping", .data_len = 4});
        check_no_exception();
        run_until(loop, has_received, &client, 50);
        assert_string_equal(server.last_from, cpath);
        assert_string_equal(client.last, "ping");
        assert_string_equal(client.last_from, spath);
        close_endpoint(loop, cf, &client);
        close_endpoint(loop, sf, &server);
        /* the files stay behind, as Python leaves them */
        assert_int_equal(access(spath, F_OK), 0);
    }
    finish(loop);
    unlink(spath);
    unlink(cpath);
    rmdir(dir);
}

/* An endpoint of a family and no address: an unbound socket; unbound
 * AF_UNIX datagram sockets have '' as their name. */
static void test_family_only(void **state)
{
    (void)state;
    trace t;
    memset(&t, 0, sizeof t);
    aio_loop *loop = new_loop();
    dproto p;
    dp_init(&p, &t);
    aio_future *f = open_endpoint(loop, &p,
                                  &(aio_loop_create_datagram_endpoint_args){.family = AF_UNIX});
    aio_transport *tr = endpoint(loop, f);
    const aio_address *name = aio_transport_get_sockname(tr);
    assert_non_null(name);
    assert_int_equal(name->kind, AIO_ADDRESS_UNNAMED);
    assert_null(aio_transport_get_peername(tr));
    close_endpoint(loop, f, &p);
    finish(loop);
}

/* --- The checks ----------------------------------------------------------------------- */

static void test_argument_errors(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    dproto p;
    trace t;
    dp_init(&p, &t);
    int base = count_fds();
    /* 3.11 has no reuse_address: any value is an unexpected keyword. */
    assert_null(open_endpoint(loop, &p,
                              &(aio_loop_create_datagram_endpoint_args){
                                  .family = AF_INET, .reuse_address = AIO_FALSE}));
    assert_raised(aio_TypeError, "BaseEventLoop.create_datagram_endpoint() got an unexpected "
                                 "keyword argument 'reuse_address'");
    assert_null(open_endpoint(loop, &p, &(aio_loop_create_datagram_endpoint_args){0}));
    assert_raised(aio_ValueError, "unexpected address family");
    assert_null(open_endpoint(
        loop, &p,
        &(aio_loop_create_datagram_endpoint_args){
            .family = AF_UNIX, .local_addr = &(aio_address){.host = "127.0.0.1", .port = 1}}));
    assert_raised(aio_TypeError, "string is expected");
    assert_null(open_endpoint(loop, &p,
                              &(aio_loop_create_datagram_endpoint_args){
                                  .remote_addr = &(aio_address){.path = "/tmp/x"}}));
    assert_raised(aio_TypeError, "2-tuple is expected");
    assert_null(open_endpoint(
        loop, &p,
        &(aio_loop_create_datagram_endpoint_args){
            .local_addr = &(aio_address){.host = "::1", .port = 1, .kind = AIO_ADDRESS_QUAD}}));
    assert_raised(aio_TypeError, "2-tuple is expected");

    /* sock=: a datagram socket, alone. */
    int stream = socket(AF_INET, SOCK_STREAM, 0);
    assert_null(open_endpoint(loop, &p, &(aio_loop_create_datagram_endpoint_args){.sock = stream}));
    aio_exc *exc = aio_err_fetch();
    assert_true(aio_exc_isinstance(exc, aio_ValueError));
    char expected[128];
    snprintf(expected, sizeof expected,
             "A UDP Socket was expected, got <socket.socket fd=%d, family=2, type=1, proto=6",
             stream);
    assert_memory_equal(aio_exc_str(exc), expected, strlen(expected));
    aio_decref(exc);
    close(stream);
    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    assert_null(open_endpoint(loop, &p,
                              &(aio_loop_create_datagram_endpoint_args){
                                  .sock = udp,
                                  .local_addr = &(aio_address){.host = "127.0.0.1", .port = AIO_ZERO},
                                  .family = AF_INET,
                                  .reuse_port = AIO_TRUE,
                                  .allow_broadcast = AIO_FALSE}));
    assert_raised(aio_ValueError,
                  "socket modifier keyword arguments can not be used when sock is specified. "
                  "(local_addr=('127.0.0.1', 0), family=2, reuse_port=True)");
    close(udp);
    assert_null(open_endpoint(loop, &p, &(aio_loop_create_datagram_endpoint_args){.sock = 1000}));
    assert_raised(aio_OSError, NULL);
    assert_int_equal(count_fds(), base);
    assert_int_equal(p.released, 0);
    finish(loop);
}

/* Binding a port in use fails the future with bind()'s own OSError (3.11
 * neither rewrites nor combines it); reuse_port lets two share a port. */
static void test_bind_errors_and_reuse_port(void **state)
{
    (void)state;
    trace t;
    memset(&t, 0, sizeof t);
    aio_loop *loop = new_loop();
    dproto a, b, c;
    dp_init(&a, &t);
    dp_init(&b, &t);
    dp_init(&c, &t);
    aio_future *fa = open_endpoint(loop, &a,
                                   &(aio_loop_create_datagram_endpoint_args){
                                       .local_addr = &(aio_address){.host = "127.0.0.1",
                                                                    .port = AIO_ZERO},
                                       .reuse_port = AIO_TRUE});
    aio_transport *ta = endpoint(loop, fa);
    int port = aio_transport_get_sockname(ta)->port;
    int fd = aio_transport_get_socket(ta);
    int on = 0;
    socklen_t len = sizeof on;
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, &len), 0);
    assert_true(on);
    aio_future *fb = open_endpoint(
        loop, &b,
        &(aio_loop_create_datagram_endpoint_args){
            .local_addr = &(aio_address){.host = "127.0.0.1", .port = port}, .reuse_port = true});
    aio_transport *tb = endpoint(loop, fb);
    assert_int_equal(aio_transport_get_sockname(tb)->port, port);
    int base = count_fds();
    aio_future *fc = open_endpoint(loop, &c,
                                   &(aio_loop_create_datagram_endpoint_args){
                                       .local_addr = &(aio_address){.host = "127.0.0.1",
                                                                    .port = port}});
    assert_non_null(fc);
    run_until_future_done(loop, fc);
    aio_exc *exc = aio_future_exception(fc);
    assert_non_null(exc);
    assert_int_equal(aio_exc_errno(exc), EADDRINUSE);
    assert_string_equal(aio_exc_str(exc), "[Errno 98] Address already in use");
    assert_int_equal(c.released, 0); /* the factory is never called */
    assert_int_equal(count_fds(), base);
    aio_decref(fc);
    close_endpoint(loop, fb, &b);
    close_endpoint(loop, fa, &a);
    finish(loop);
}

/* allow_broadcast: SO_BROADCAST set and the remote address only the
 * default destination (the socket is not connected). */
static void test_allow_broadcast(void **state)
{
    (void)state;
    trace t;
    memset(&t, 0, sizeof t);
    aio_loop *loop = new_loop();
    dproto server, client;
    dp_init(&server, &t);
    dp_init(&client, &t);
    aio_future *sf = open_endpoint(loop, &server,
                                   &(aio_loop_create_datagram_endpoint_args){
                                       .local_addr = &(aio_address){.host = "127.0.0.1",
                                                                    .port = AIO_ZERO}});
    aio_transport *st = endpoint(loop, sf);
    int port = aio_transport_get_sockname(st)->port;
    aio_future *cf = open_endpoint(
        loop, &client,
        &(aio_loop_create_datagram_endpoint_args){
            .remote_addr = &(aio_address){.host = "127.0.0.1", .port = port},
            .allow_broadcast = AIO_TRUE});
    aio_transport *ct = endpoint(loop, cf);
    int on = 0;
    socklen_t len = sizeof on;
    assert_int_equal(getsockopt(aio_transport_get_socket(ct), SOL_SOCKET, SO_BROADCAST, &on, &len),
                     0);
    assert_true(on);
    assert_null(aio_transport_get_peername(ct));
    aio_transport_sendto(ct, &(aio_transport_sendto_args){.data = "b", .data_len = 1});
    check_no_exception();
    run_until(loop, has_received, &server, 50);
    assert_int_equal(server.received, 1);
    /* the default destination is still the only one allowed */
    assert_int_equal(aio_transport_sendto(ct, &(aio_transport_sendto_args){
                                                  .data = "b", .data_len = 1,
                                                  .addr = &(aio_address){.host = "127.0.0.1",
                                                                         .port = 9}}),
                     -1);
    char expected[96];
    snprintf(expected, sizeof expected, "Invalid address: must be None or ('127.0.0.1', %d)",
             port);
    assert_raised(aio_ValueError, expected);
    close_endpoint(loop, cf, &client);
    close_endpoint(loop, sf, &server);
    finish(loop);
}

/* --- sendto() ------------------------------------------------------------------------ */

static void test_sendto_checks(void **state)
{
    (void)state;
    trace t;
    memset(&t, 0, sizeof t);
    aio_loop *loop = new_loop();
    handler_report report = {0};
    aio_loop_set_exception_handler(loop, report_handler, &report);
    dproto server, client, loose;
    dp_init(&server, &t);
    dp_init(&client, &t);
    dp_init(&loose, &t);
    aio_future *sf = open_endpoint(loop, &server,
                                   &(aio_loop_create_datagram_endpoint_args){
                                       .local_addr = &(aio_address){.host = "127.0.0.1",
                                                                    .port = AIO_ZERO}});
    aio_transport *st = endpoint(loop, sf);
    int port = aio_transport_get_sockname(st)->port;
    aio_future *cf = open_endpoint(
        loop, &client,
        &(aio_loop_create_datagram_endpoint_args){
            .remote_addr = &(aio_address){.host = "127.0.0.1", .port = port}});
    aio_transport *ct = endpoint(loop, cf);
    /* Another address than the connected one. */
    assert_int_equal(aio_transport_sendto(ct, &(aio_transport_sendto_args){
                                                  .data = "x", .data_len = 1,
                                                  .addr = &(aio_address){.host = "127.0.0.1",
                                                                         .port = port + 1}}),
                     -1);
    char expected[96];
    snprintf(expected, sizeof expected, "Invalid address: must be None or ('127.0.0.1', %d)",
             port);
    assert_raised(aio_ValueError, expected);
    /* The same address, spelled out, is fine; b'' sends nothing. */
    assert_int_equal(aio_transport_sendto(ct, &(aio_transport_sendto_args){
                                                  .data = "y", .data_len = 1,
                                                  .addr = &(aio_address){.host = "127.0.0.1",
                                                                         .port = port}}),
                     0);
    assert_int_equal(aio_transport_sendto(ct, &(aio_transport_sendto_args){.data = "",
                                                                           .data_len = 0}),
                     0);
    run_until(loop, has_received, &server, 50);
    for (int i = 0; i < 3; i++)
        run_one_iteration(loop);
    assert_int_equal(server.received, 1);
    assert_string_equal(server.last, "y");

    /* An unconnected endpoint without an address: a fatal TypeError. */
    aio_future *lf = open_endpoint(loop, &loose,
                                   &(aio_loop_create_datagram_endpoint_args){
                                       .local_addr = &(aio_address){.host = "127.0.0.1",
                                                                    .port = AIO_ZERO}});
    aio_transport *lt = endpoint(loop, lf);
    assert_int_equal(aio_transport_sendto(lt, &(aio_transport_sendto_args){.data = "z",
                                                                           .data_len = 1}),
                     0);
    assert_int_equal(report.calls, 1);
    assert_string_equal(report.message, "Fatal write error on datagram transport");
    assert_string_equal(report.exception,
                        "TypeError('sendto(): AF_INET address must be tuple, not NoneType')");
    assert_int_equal(aio_transport_is_closing(lt), 1);
    run_until(loop, has_lost, &loose, 10);
    assert_string_equal(loose.lost_exc,
                        "TypeError('sendto(): AF_INET address must be tuple, not NoneType')");
    /* After the loss, Python's socket and loop are gone: AttributeError. */
    assert_int_equal(aio_transport_sendto(lt, &(aio_transport_sendto_args){
                                                  .data = "z", .data_len = 1,
                                                  .addr = &(aio_address){.host = "127.0.0.1",
                                                                         .port = port}}),
                     -1);
    assert_raised(aio_AttributeError,
                  "'NoneType' object has no attribute 'call_exception_handler'");
    aio_decref(lf);

    /* A connected endpoint closed: writes are counted, and logged from the
     * fifth on. */
    log_record rec;
    log_record_start(&rec);
    aio_transport_close(ct);
    run_until(loop, has_lost, &client, 10);
    for (int i = 0; i < 6; i++)
        assert_int_equal(aio_transport_sendto(ct, &(aio_transport_sendto_args){.data = "w",
                                                                               .data_len = 1}),
                         0);
    log_record_stop();
    assert_int_equal(rec.count, 2);
    assert_string_equal(rec.message, "socket.send() raised exception.");
    close_endpoint(loop, cf, &client);
    close_endpoint(loop, sf, &server);
    finish(loop);
}

/* A name as sendto()'s address is resolved; a name that does not resolve
 * gives socket.gaierror to error_received(), and the transport stays. */
static void test_sendto_names(void **state)
{
    (void)state;
    trace t;
    memset(&t, 0, sizeof t);
    aio_loop *loop = new_loop();
    dproto server, client;
    dp_init(&server, &t);
    dp_init(&client, &t);
    aio_future *sf = open_endpoint(loop, &server,
                                   &(aio_loop_create_datagram_endpoint_args){
                                       .local_addr = &(aio_address){.host = "127.0.0.1",
                                                                    .port = AIO_ZERO}});
    aio_transport *st = endpoint(loop, sf);
    int port = aio_transport_get_sockname(st)->port;
    aio_future *cf = open_endpoint(loop, &client,
                                   &(aio_loop_create_datagram_endpoint_args){
                                       .local_addr = &(aio_address){.host = "127.0.0.1",
                                                                    .port = AIO_ZERO}});
    aio_transport *ct = endpoint(loop, cf);
    aio_transport_sendto(ct, &(aio_transport_sendto_args){
                                 .data = "n", .data_len = 1,
                                 .addr = &(aio_address){.host = "localhost", .port = port}});
    check_no_exception();
    run_until(loop, has_received, &server, 50);
    assert_int_equal(server.received, 1);
    aio_transport_sendto(ct, &(aio_transport_sendto_args){
                                 .data = "n", .data_len = 1,
                                 .addr = &(aio_address){.host = "no-such-host.invalid",
                                                        .port = port}});
    check_no_exception();
    assert_int_equal(client.errors, 1);
    assert_memory_equal(client.last_error, "gaierror(", 9);
    assert_int_equal(aio_transport_is_closing(ct), 0);
    close_endpoint(loop, cf, &client);
    close_endpoint(loop, sf, &server);
    finish(loop);
}

/* ECONNREFUSED after sending to a closed port reaches error_received() on
 * a connected socket, and only there: the transport stays open. */
static void test_error_received_refused(void **state)
{
    (void)state;
    trace t;
    memset(&t, 0, sizeof t);
    aio_loop *loop = new_loop();
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&sin, &len), 0);
    int port = ntohs(sin.sin_port);
    close(s);
    dproto p;
    dp_init(&p, &t);
    aio_future *f = open_endpoint(
        loop, &p,
        &(aio_loop_create_datagram_endpoint_args){
            .remote_addr = &(aio_address){.host = "127.0.0.1", .port = port}});
    aio_transport *tr = endpoint(loop, f);
    for (int i = 0; i < 20 && p.errors == 0; i++) {
        aio_transport_sendto(tr, &(aio_transport_sendto_args){.data = "?", .data_len = 1});
        check_no_exception();
        run_until(loop, has_error, &p, 5);
    }
    assert_true(p.errors >= 1);
    assert_string_equal(p.last_error, "ConnectionRefusedError(111, 'Connection refused')");
    assert_int_equal(p.lost, 0);
    assert_int_equal(aio_transport_is_closing(tr), 0);
    close_endpoint(loop, f, &p);
    assert_memory_equal(t.text, "made;error(ConnectionRefusedError(111, 'Connection refused'));",
                        strlen("made;error(ConnectionRefusedError(111, 'Connection refused'));"));
    finish(loop);
}

/* --- The queue and flow control ---------------------------------------------------------- */

/* A transport over an AF_UNIX datagram socket and a peer, each bound to an
 * abstract name and connected to the other (sock=; a socketpair's peer
 * would be unnamed, '', which asyncio takes for an unconnected socket); the peer does not read until
 * told: the sender's sends fail with EAGAIN and the datagrams are queued,
 * in order, with their sizes counted. */
typedef struct qpair {
    aio_loop *loop;
    trace t;
    dproto p;
    aio_future *fut;
    aio_transport *tr;
    int peer;
} qpair;

static void qpair_open(qpair *q)
{
    memset(&q->t, 0, sizeof q->t);
    q->loop = new_loop();
    dp_init(&q->p, &q->t);
    static int pairs;
    int sv[2];
    struct sockaddr_un un[2];
    socklen_t unlen[2];
    for (int i = 0; i < 2; i++) {
        sv[i] = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert_true(sv[i] >= 0);
        un[i] = (struct sockaddr_un){.sun_family = AF_UNIX};
        unlen[i] = offsetof(struct sockaddr_un, sun_path) + 1 +
                   (socklen_t)snprintf(un[i].sun_path + 1, sizeof un[i].sun_path - 1,
                                       "casyncio-qpair-%d-%d-%d", (int)getpid(), pairs, i);
        assert_int_equal(bind(sv[i], (struct sockaddr *)&un[i], unlen[i]), 0);
    }
    pairs++;
    assert_int_equal(connect(sv[0], (struct sockaddr *)&un[1], unlen[1]), 0);
    assert_int_equal(connect(sv[1], (struct sockaddr *)&un[0], unlen[0]), 0);
    q->peer = sv[1];
    q->fut = open_endpoint(q->loop, &q->p, &(aio_loop_create_datagram_endpoint_args){.sock = sv[0]});
    q->tr = endpoint(q->loop, q->fut);
    int fl = fcntl(sv[0], F_GETFL);
    assert_true(fl & O_NONBLOCK); /* sock.setblocking(False) */
}

/* Reads what the peer has; counts the datagrams and checks their order. */
static long drain(qpair *q, long *next)
{
    char buf[2048];
    long n = 0;
    ssize_t r;
    while ((r = recv(q->peer, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
        long seq;
        memcpy(&seq, buf, sizeof seq);
        assert_int_equal(seq, *next);
        (*next)++;
        n++;
    }
    return n;
}

static void send_seq(qpair *q, long seq, size_t size)
{
    char buf[2048] = {0};
    memcpy(buf, &seq, sizeof seq);
    assert_int_equal(aio_transport_sendto(q->tr, &(aio_transport_sendto_args){
                                                     .data = buf, .data_len = size}),
                     0);
}

static void test_queue_and_flow_control(void **state)
{
    (void)state;
    qpair q;
    qpair_open(&q);
    aio_transport_set_write_buffer_limits(q.tr, &(aio_transport_set_write_buffer_limits_args){
                                                    .high = 8000, .low = 2000});
    check_no_exception();
    long sent = 0;
    while (aio_transport_get_write_buffer_size(q.tr) == 0 && sent < 100000)
        send_seq(&q, sent++, 1000);
    assert_int_equal(aio_transport_get_write_buffer_size(q.tr), 1000);
    assert_int_equal(q.p.pauses, 0);
    for (int i = 0; i < 9; i++)
        send_seq(&q, sent++, 1000);
    assert_int_equal(aio_transport_get_write_buffer_size(q.tr), 10000);
    assert_int_equal(q.p.pauses, 1);
    char expected[128];
    snprintf(expected, sizeof expected,
             "<_SelectorDatagramTransport fd=%d read=polling write=<polling, bufsize=10000>>",
             aio_transport_get_socket(q.tr));
    assert_repr(q.tr, expected);
    /* The peer reads: the queue empties, resume_writing() once below 2000. */
    long next = 0;
    for (int i = 0; i < 100 && aio_transport_get_write_buffer_size(q.tr) > 0; i++) {
        drain(&q, &next);
        run_one_iteration(q.loop);
    }
    drain(&q, &next);
    assert_int_equal(next, sent);
    assert_int_equal(q.p.resumes, 1);
    assert_string_equal(q.t.text, "made;pause;resume;");
    aio_transport_close(q.tr);
    run_until(q.loop, has_lost, &q.p, 10);
    aio_decref(q.fut);
    close(q.peer);
    finish(q.loop);
}

/* Behind a queue, asyncio keeps (data, addr) as given and looks at the
 * address when the datagram's turn comes: a None address on an unconnected
 * socket is no error at the call, and a fatal one (TypeError, the
 * transport closed) once the queue drains to it. */
static void test_queued_address_checked_at_send(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    trace t = {{0}};
    dproto p;
    dp_init(&p, &t);
    /* A sink bound to an abstract name, reading only when told, and a
     * sender that is not connected: each datagram names the sink. */
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    socklen_t unlen = offsetof(struct sockaddr_un, sun_path) + 1 +
                      (socklen_t)snprintf(un.sun_path + 1, sizeof un.sun_path - 1,
                                          "casyncio-sink-%d", (int)getpid());
    int sink = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_int_equal(bind(sink, (struct sockaddr *)&un, unlen), 0);
    const aio_address to = {.path = un.sun_path, .kind = AIO_ADDRESS_ABSTRACT,
                            .path_len = unlen - offsetof(struct sockaddr_un, sun_path)};
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    aio_future *fut = open_endpoint(loop, &p, &(aio_loop_create_datagram_endpoint_args){.sock = fd});
    aio_transport *tr = endpoint(loop, fut);
    long sent = 0;
    char buf[1000] = {0};
    while (aio_transport_get_write_buffer_size(tr) == 0 && sent < 100000) {
        sent++;
        assert_int_equal(aio_transport_sendto(tr, &(aio_transport_sendto_args){
                                                      .data = buf, .data_len = sizeof buf,
                                                      .addr = &to}),
                         0);
    }
    assert_int_equal(p.errors, 0);
    /* Queued unchecked: no error now... */
    assert_int_equal(aio_transport_sendto(tr, &(aio_transport_sendto_args){
                                                  .data = "y", .data_len = 1, .addr = NULL}),
                     0);
    check_no_exception();
    assert_false(aio_transport_is_closing(tr));
    assert_int_equal(aio_transport_get_write_buffer_size(tr), 1001);
    /* ...and a fatal one once the queue drains to it. */
    long got = 0;
    for (int i = 0; i < 100 && p.lost == 0; i++) {
        while (recv(sink, buf, sizeof buf, MSG_DONTWAIT) > 0)
            got++;
        run_one_iteration(loop);
    }
    while (recv(sink, buf, sizeof buf, MSG_DONTWAIT) > 0)
        got++;
    assert_int_equal(p.lost, 1);
    assert_string_equal(p.lost_exc, "TypeError(\"a bytes-like object is required, not 'NoneType'\")");
    assert_int_equal(got, sent);
    aio_decref(fut);
    close(sink);
    finish(loop);
}

/* A socketpair's peer is unnamed: its 'peername' is '', false to asyncio,
 * which then sends with sendto(data, addr): without an address, the
 * TypeError of sendto(data, None), fatal. */
static void test_socketpair_peer_is_not_connected(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    trace t = {{0}};
    dproto p;
    dp_init(&p, &t);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
    aio_future *fut = open_endpoint(loop, &p, &(aio_loop_create_datagram_endpoint_args){.sock = sv[0]});
    aio_transport *tr = endpoint(loop, fut);
    const aio_address *peer = aio_transport_get_peername(tr);
    assert_non_null(peer);
    assert_int_equal(aio_transport_sendto(tr, &(aio_transport_sendto_args){.data = "x", .data_len = 1}),
                     0);
    run_until(loop, has_lost, &p, 10);
    assert_string_equal(p.lost_exc, "TypeError(\"a bytes-like object is required, not 'NoneType'\")");
    char c;
    assert_int_equal(recv(sv[1], &c, 1, MSG_DONTWAIT), -1);
    aio_decref(fut);
    close(sv[1]);
    finish(loop);
}

static void test_queue_order_and_close(void **state)
{
    (void)state;
    qpair q;
    qpair_open(&q);
    long sent = 0, next = 0;
    while (aio_transport_get_write_buffer_size(q.tr) == 0)
        send_seq(&q, sent++, 1000);
    for (int i = 0; i < 20; i++)
        send_seq(&q, sent++, 1000);
    /* close() waits for the queue; abort() would not. */
    assert_int_equal(aio_transport_close(q.tr), 0);
    assert_int_equal(aio_transport_is_closing(q.tr), 1);
    for (int i = 0; i < 3; i++)
        run_one_iteration(q.loop);
    assert_int_equal(q.p.lost, 0);
    for (int i = 0; i < 200 && q.p.lost == 0; i++) {
        drain(&q, &next);
        run_one_iteration(q.loop);
    }
    drain(&q, &next);
    assert_int_equal(q.p.lost, 1);
    assert_int_equal(next, sent);
    assert_string_equal(q.t.text, "made;lost(None);");
    aio_decref(q.fut);
    close(q.peer);
    finish(q.loop);
}

static void test_abort_drops_queue(void **state)
{
    (void)state;
    qpair q;
    qpair_open(&q);
    long sent = 0, next = 0;
    while (aio_transport_get_write_buffer_size(q.tr) == 0)
        send_seq(&q, sent++, 1000);
    send_seq(&q, sent++, 1000);
    assert_int_equal(aio_transport_abort(q.tr), 0);
    assert_int_equal(aio_transport_get_write_buffer_size(q.tr), 0);
    run_one_iteration(q.loop);
    assert_int_equal(q.p.lost, 1);
    long got = drain(&q, &next);
    assert_int_equal(got, sent - 2);
    aio_decref(q.fut);
    close(q.peer);
    finish(q.loop);
}

/* 10^4 numbered datagrams through the queue, the peer reading as the loop
 * runs: all arrive, in order; pause and resume alternate. */
static void test_ten_thousand(void **state)
{
    (void)state;
    qpair q;
    qpair_open(&q);
    q.p.quiet = true;
    aio_transport_set_write_buffer_limits(q.tr, &(aio_transport_set_write_buffer_limits_args){
                                                    .high = 16000, .low = 4000});
    long sent = 0, next = 0;
    const long total = 10000;
    while (next < total) {
        while (sent < total && q.p.pauses == q.p.resumes)
            send_seq(&q, sent++, 512);
        drain(&q, &next);
        run_one_iteration(q.loop);
    }
    assert_int_equal(next, total);
    assert_int_equal(aio_transport_get_write_buffer_size(q.tr), 0);
    assert_true(q.p.pauses >= 1);
    assert_int_equal(q.p.pauses, q.p.resumes);
    aio_transport_close(q.tr);
    run_until(q.loop, has_lost, &q.p, 10);
    aio_decref(q.fut);
    close(q.peer);
    finish(q.loop);
}

/* 10^4 datagrams received: each one a datagram_received() with its bytes. */
static void test_receive_many(void **state)
{
    (void)state;
    qpair q;
    qpair_open(&q);
    q.p.quiet = true;
    long total = 10000, written = 0;
    char buf[64] = {0};
    while (q.p.received < total) {
        while (written < total) {
            memcpy(buf, &written, sizeof written);
            if (send(q.peer, buf, sizeof buf, MSG_DONTWAIT) < 0)
                break;
            written++;
        }
        run_one_iteration(q.loop);
    }
    assert_int_equal(q.p.received, total);
    assert_int_equal(q.p.next_seq, total);
    assert_false(q.p.out_of_order);
    assert_int_equal(q.p.bytes, (size_t)total * sizeof buf);
    aio_transport_close(q.tr);
    run_until(q.loop, has_lost, &q.p, 10);
    aio_decref(q.fut);
    close(q.peer);
    finish(q.loop);
}


/* A datagram_received() that raises: the loop's exception handler hears
 * of it as of any callback; the transport stays open and reads on. */
static void raising_datagram(aio_protocol *self, const void *data, size_t len,
                             const aio_address *addr)
{
    dp_datagram(self, data, len, addr);
    aio_err_set(aio_RuntimeError, "boom in datagram_received");
}
AIO_NAME_CALLBACK(raising_datagram);

static void test_protocol_raises_and_orphan(void **state)
{
    (void)state;
    int base = count_fds();
    qpair q;
    qpair_open(&q);
    handler_report report = {0};
    aio_loop_set_exception_handler(q.loop, report_handler, &report);
    q.p.base.datagram_received = raising_datagram;
    assert_int_equal(send(q.peer, "a", 1, 0), 1);
    assert_int_equal(send(q.peer, "b", 1, 0), 1);
    for (int i = 0; i < 5 && q.p.received < 2; i++)
        run_one_iteration(q.loop);
    assert_int_equal(q.p.received, 2);
    assert_int_equal(report.calls, 2);
    assert_string_equal(report.exception, "RuntimeError('boom in datagram_received')");
    assert_memory_equal(report.message, "Exception in callback ", 22);
    assert_int_equal(aio_transport_is_closing(q.tr), 0);
    /* The loop closes with the transport open: its socket is closed, the
     * protocol released, no connection_lost(). */
    aio_decref(q.fut);
    close(q.peer);
    assert_int_equal(aio_loop_close(q.loop), 0);
    aio_err_clear();
    assert_int_equal(q.p.lost, 0);
    assert_int_equal(q.p.released, 1);
    aio_decref(q.loop);
    assert_no_leaks();
    assert_int_equal(count_fds(), base);
}

/* --- Resolving through the loop's resolver --------------------------------------------- */

static void test_resolved_names(void **state)
{
    (void)state;
    char dir[] = "/tmp/casyncio-dgram-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char hosts[64];
    snprintf(hosts, sizeof hosts, "%s/hosts", dir);
    FILE *f = fopen(hosts, "w");
    fputs("127.0.0.1 dgram.example\n", f);
    fclose(f);
    trace t;
    memset(&t, 0, sizeof t);
    aio_loop *loop = new_loop();
    assert_int_equal(aio_loop_set_resolver_options(
                         loop, &(aio_resolver_options){.lookups = "f", .hosts_file = hosts}),
                     0);
    dproto server, client;
    dp_init(&server, &t);
    dp_init(&client, &t);
    aio_future *sf = open_endpoint(loop, &server,
                                   &(aio_loop_create_datagram_endpoint_args){
                                       .local_addr = &(aio_address){.host = "dgram.example",
                                                                    .port = AIO_ZERO}});
    aio_transport *st = endpoint(loop, sf);
    assert_string_equal(aio_transport_get_sockname(st)->host, "127.0.0.1");
    int port = aio_transport_get_sockname(st)->port;
    aio_future *cf = open_endpoint(
        loop, &client,
        &(aio_loop_create_datagram_endpoint_args){
            .remote_addr = &(aio_address){.host = "dgram.example", .port = port}});
    aio_transport *ct = endpoint(loop, cf);
    assert_int_equal(aio_transport_get_peername(ct)->port, port);
    /* the connected address is the resolved one */
    assert_int_equal(aio_transport_sendto(ct, &(aio_transport_sendto_args){
                                                  .data = "x", .data_len = 1,
                                                  .addr = &(aio_address){.host = "dgram.example",
                                                                         .port = port}}),
                     -1);
    char expected[96];
    snprintf(expected, sizeof expected, "Invalid address: must be None or ('127.0.0.1', %d)",
             port);
    assert_raised(aio_ValueError, expected);
    /* a name that does not resolve fails the future */
    dproto bad;
    dp_init(&bad, &t);
    aio_future *bf = open_endpoint(loop, &bad,
                                   &(aio_loop_create_datagram_endpoint_args){
                                       .local_addr = &(aio_address){.host = "nothing.example",
                                                                    .port = AIO_ZERO}});
    run_until_future_done(loop, bf);
    assert_true(aio_exc_isinstance(aio_future_exception(bf), aio_socket_gaierror));
    aio_decref(bf);
    /* an IPv4 local and an IPv6 remote share no family */
    aio_future *nf = open_endpoint(
        loop, &bad,
        &(aio_loop_create_datagram_endpoint_args){
            .local_addr = &(aio_address){.host = "127.0.0.1", .port = AIO_ZERO},
            .remote_addr = &(aio_address){.host = "::1", .port = port}});
    run_until_future_done(loop, nf);
    assert_true(aio_exc_isinstance(aio_future_exception(nf), aio_ValueError));
    assert_string_equal(aio_exc_str(aio_future_exception(nf)), "can not get address information");
    aio_decref(nf);
    assert_int_equal(bad.released, 0);
    close_endpoint(loop, cf, &client);
    close_endpoint(loop, sf, &server);
    finish(loop);
    unlink(hosts);
    rmdir(dir);
}

/* Cancelled while it resolves: nothing is made. */
static void test_cancel_while_resolving(void **state)
{
    (void)state;
    int base = count_fds();
    aio_loop *loop = new_loop();
    dproto p;
    trace t;
    dp_init(&p, &t);
    aio_future *f = open_endpoint(loop, &p,
                                  &(aio_loop_create_datagram_endpoint_args){
                                      .local_addr = &(aio_address){.host = "localhost",
                                                                   .port = AIO_ZERO}});
    assert_non_null(f);
    assert_int_equal(aio_future_cancel(f, NULL), 1);
    for (int i = 0; i < 5; i++)
        run_one_iteration(loop);
    assert_int_equal(aio_future_cancelled(f), 1);
    assert_int_equal(p.released, 0);
    aio_decref(f);
    finish(loop);
    assert_int_equal(count_fds(), base);
}

/* --- Every allocation failing in turn --------------------------------------------------- */

static void count_reports(aio_loop *loop, const aio_exception_context *context, void *arg)
{
    (void)loop;
    (void)context;
    (*(int *)arg)++;
}
AIO_NAME_CALLBACK(count_reports);

static void fault_run(int which, long k, bool *reached)
{
    int base = count_fds();
    aio_loop *loop = new_loop();
    int reports = 0;
    aio_loop_set_exception_handler(loop, count_reports, &reports);
    trace t;
    memset(&t, 0, sizeof t);
    dproto p;
    dp_init(&p, &t);
    p.quiet = true;
    int peer = -1;
    aio__fail_alloc_after = k;
    aio_future *fut;
    if (which == 0) {
        fut = open_endpoint(loop, &p,
                            &(aio_loop_create_datagram_endpoint_args){
                                .local_addr = &(aio_address){.host = "127.0.0.1",
                                                             .port = AIO_ZERO},
                                .remote_addr = &(aio_address){.host = "127.0.0.1", .port = 9}});
    } else if (which == 1) {
        fut = open_endpoint(loop, &p,
                            &(aio_loop_create_datagram_endpoint_args){
                                .local_addr = &(aio_address){.host = "localhost",
                                                             .port = AIO_ZERO}});
    } else {
        int sv[2];
        socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv);
        peer = sv[1];
        fut = open_endpoint(loop, &p, &(aio_loop_create_datagram_endpoint_args){.sock = sv[0]});
        if (fut == NULL)
            close(sv[0]);
    }
    if (fut == NULL) {
        assert_raised(aio_MemoryError, NULL);
    } else {
        for (int i = 0; i < 200 && aio_future_done(fut) != 1; i++)
            run_one_iteration(loop);
        aio_err_clear();
        if (aio_future_done(fut) != 1) {
            aio_future_cancel(fut, NULL);
        } else if (aio_future_cancelled(fut) != 1 && aio_future_exception(fut) == NULL) {
            const aio_transport_protocol *pair = aio_future_result(fut);
            /* some traffic under failing allocations: a queue and reads */
            char buf[1500] = {0};
            for (int i = 0; i < 400; i++) {
                aio_transport_sendto(pair->transport,
                                     &(aio_transport_sendto_args){.data = buf,
                                                                  .data_len = sizeof buf,
                                                                  .addr = NULL});
                aio_err_clear();
            }
            if (peer >= 0)
                send(peer, buf, 10, MSG_DONTWAIT);
            run_one_iteration(loop);
            aio_err_clear();
            aio_transport_abort(pair->transport);
        }
        aio_err_clear();
        for (int i = 0; i < 5; i++)
            run_one_iteration(loop);
        aio_err_clear();
        aio_decref(fut);
    }
    *reached = aio__fail_alloc_after < 0;
    aio__fail_alloc_after = -1;
    if (peer >= 0)
        close(peer);
    assert_int_equal(aio_loop_close(loop), 0);
    aio_decref(loop);
    aio_err_clear();
    assert_no_leaks();
    assert_int_equal(count_fds(), base);
    assert_true(p.lost <= 1);
    assert_int_equal(p.released, p.lost > 0 ? 1 : p.released);
}

static void test_allocation_failures(void **state)
{
    (void)state;
    for (int which = 0; which < 3; which++) {
        bool reached = true;
        long k;
        for (k = 0; reached && k < 3000; k++)
            fault_run(which, k, &reached);
        assert_false(reached);
        print_message("endpoint %d: %ld allocations\n", which, k);
        assert_true(k > 5);
    }
}


/* --- Interop: a CPython DatagramProtocol peer ---------------------------------------------- */

/* python3 runs an asyncio echo endpoint (each datagram sent back
 * reversed); ours, connected to it, sends 1000 numbered datagrams in
 * windows of 50 and checks every answer. Skipped without python3. */
static const char echo_script[] =
    "import asyncio\n"
    "class E(asyncio.DatagramProtocol):\n"
    "    def connection_made(self, t): self.t = t\n"
    "    def datagram_received(self, d, a):\n"
    "        if d == b'quit':\n"
    "            self.done.set_result(None)\n"
    "            return\n"
    "        self.t.sendto(d[::-1], a)\n"
    "async def main():\n"
    "    loop = asyncio.get_running_loop()\n"
    "    t, p = await loop.create_datagram_endpoint(E, local_addr=('127.0.0.1', 0))\n"
    "    p.done = loop.create_future()\n"
    "    print(t.get_extra_info('sockname')[1], flush=True)\n"
    "    await asyncio.wait_for(p.done, 30)\n"
    "    t.close()\n"
    "asyncio.run(main())\n";

typedef struct interop_proto {
    dproto d;
    int answers;
    bool bad;
} interop_proto;

static void interop_datagram(aio_protocol *self, const void *data, size_t len,
                             const aio_address *addr)
{
    (void)addr;
    interop_proto *p = (interop_proto *)self;
    char want[32];
    snprintf(want, sizeof want, "dgram-%d", p->answers);
    size_t n = strlen(want);
    if (len != n)
        p->bad = true;
    for (size_t i = 0; i < n && i < len; i++)
        if (((const char *)data)[i] != want[n - 1 - i])
            p->bad = true;
    p->answers++;
}
AIO_NAME_CALLBACK(interop_datagram);

static bool window_answered(void *arg)
{
    interop_proto *p = arg;
    return p->answers % 50 == 0 && p->answers > 0;
}

static void test_interop_cpython(void **state)
{
    (void)state;
    if (system("python3 -c 'import asyncio' >/dev/null 2>&1") != 0)
        skip();
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "python3 -c \"$(cat <<'PYEOF'\n%sPYEOF\n)\"", echo_script);
    FILE *child = popen(cmd, "r");
    assert_non_null(child);
    int port = 0;
    assert_int_equal(fscanf(child, "%d", &port), 1);
    assert_true(port > 0);
    trace t;
    memset(&t, 0, sizeof t);
    aio_loop *loop = new_loop();
    interop_proto p;
    dp_init(&p.d, &t);
    p.d.quiet = true;
    p.d.base.datagram_received = interop_datagram;
    p.answers = 0;
    p.bad = false;
    aio_future *f = open_endpoint(
        loop, &p.d,
        &(aio_loop_create_datagram_endpoint_args){
            .remote_addr = &(aio_address){.host = "127.0.0.1", .port = port}});
    aio_transport *tr = endpoint(loop, f);
    for (int w = 0; w < 20; w++) {
        for (int i = 0; i < 50; i++) {
            char msg[32];
            int n = snprintf(msg, sizeof msg, "dgram-%d", w * 50 + i);
            aio_transport_sendto(tr, &(aio_transport_sendto_args){.data = msg,
                                                                  .data_len = (size_t)n});
            check_no_exception();
        }
        /* bounded in time, not in iterations: the peer may be slow */
        double deadline = monotonic_now() + 20.0;
        while (p.answers < (w + 1) * 50 && monotonic_now() < deadline) {
            run_one_iteration(loop);
            if (p.answers < (w + 1) * 50)
                sleep_ms(1);
        }
        assert_int_equal(p.answers, (w + 1) * 50);
        (void)window_answered;
    }
    assert_false(p.bad);
    assert_int_equal(p.d.errors, 0);
    aio_transport_sendto(tr, &(aio_transport_sendto_args){.data = "quit", .data_len = 4});
    check_no_exception();
    assert_int_equal(pclose(child), 0);
    close_endpoint(loop, f, &p.d);
    finish(loop);
}

int main(int argc, char **argv)
{
    alarm(120);
    signal(SIGPIPE, SIG_DFL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_ipv4),
        cmocka_unit_test(test_echo_ipv6),
        cmocka_unit_test(test_unix),
        cmocka_unit_test(test_family_only),
        cmocka_unit_test(test_argument_errors),
        cmocka_unit_test(test_bind_errors_and_reuse_port),
        cmocka_unit_test(test_allow_broadcast),
        cmocka_unit_test(test_sendto_checks),
        cmocka_unit_test(test_sendto_names),
        cmocka_unit_test(test_error_received_refused),
        cmocka_unit_test(test_queue_and_flow_control),
        cmocka_unit_test(test_queued_address_checked_at_send),
    cmocka_unit_test(test_socketpair_peer_is_not_connected),
    cmocka_unit_test(test_queue_order_and_close),
        cmocka_unit_test(test_abort_drops_queue),
        cmocka_unit_test(test_ten_thousand),
        cmocka_unit_test(test_receive_many),
        cmocka_unit_test(test_protocol_raises_and_orphan),
        cmocka_unit_test(test_resolved_names),
        cmocka_unit_test(test_cancel_while_resolving),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_interop_cpython),
    };
    return AIO_TEST_RUN(tests, argc, argv);
}
