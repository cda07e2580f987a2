/* test_server.c - loop.create_server(), loop.create_unix_server() and the
 * Server object, as CPython 3.11.7 has them (base_events.py: create_server,
 * Server; unix_events.py: create_unix_server). Clients are plain sockets.
 */
#include <netinet/in.h>
#include <signal.h>
#include <sys/stat.h>

#include "server_support.h"

static bool have_ipv6(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

static int sockopt(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof v;
    assert_int_equal(getsockopt(fd, level, name, &v, &len), 0);
    return v;
}

/* Fails at once with `type(msg)` (msg NULL: any). */
static void create_fails(aio_loop *loop, const aio_loop_create_server_args *args,
                         const aio_exc_type *type, const char *msg)
{
    aio_future *fut = aio_loop_create_server(loop, args);
    assert_null(fut);
    assert_raised(type, msg);
}

/* --- Argument checks, in asyncio's order -------------------------------------------- */

static void test_create_server_checks(void **state)
{
    (void)state;
    trace t;
    aio_loop *loop = new_traced_loop(&t);
    server_log log = {0};
    const aio_protocol_factory f = echo_factory;

    create_fails(loop, &(aio_loop_create_server_args){.protocol_factory = f, .host = "127.0.0.1",
                                                      .ssl = AIO_SSL_TRUE},
                 aio_TypeError, "ssl argument must be an SSLContext or None");
    create_fails(loop, &(aio_loop_create_server_args){.protocol_factory = f, .host = "127.0.0.1",
                                                      .ssl_handshake_timeout = 5},
                 aio_ValueError, "ssl_handshake_timeout is only meaningful with ssl");
    create_fails(loop, &(aio_loop_create_server_args){.protocol_factory = f, .host = "127.0.0.1",
                                                      .ssl_shutdown_timeout = AIO_ZERO},
                 aio_ValueError, "ssl_shutdown_timeout is only meaningful with ssl");
    /* a context: TLS is not there yet */
    static char fake_context;
    aio_future *fut = aio_loop_create_server(
        loop, &(aio_loop_create_server_args){.protocol_factory = f, .host = "127.0.0.1",
                                             .ssl = (aio_ssl_context *)&fake_context});
    assert_null(fut);
    aio_exc *exc = aio_err_fetch();
    assert_true(aio_exc_isinstance(exc, aio_NotImplementedError));
    assert_non_null(strstr(aio_exc_str(exc), "TLS"));
    aio_decref(exc);

    create_fails(loop, &(aio_loop_create_server_args){.protocol_factory = f}, aio_ValueError,
                 "Neither host/port nor sock were specified");
    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    create_fails(loop, &(aio_loop_create_server_args){.protocol_factory = f, .host = "127.0.0.1",
                                                      .sock = udp},
                 aio_ValueError, "host/port and sock can not be specified at the same time");
    create_fails(loop, &(aio_loop_create_server_args){.protocol_factory = f, .port = AIO_ZERO,
                                                      .sock = udp},
                 aio_ValueError, "host/port and sock can not be specified at the same time");
    fut = aio_loop_create_server(loop, &(aio_loop_create_server_args){.protocol_factory = f,
                                                                      .sock = udp});
    assert_null(fut);
    exc = aio_err_fetch();
    assert_true(aio_exc_isinstance(exc, aio_ValueError));
    char want[64];
    snprintf(want, sizeof want, "A Stream Socket was expected, got <socket.socket fd=%d, ", udp);
    assert_memory_equal(aio_exc_str(exc), want, strlen(want));
    assert_non_null(strstr(aio_exc_str(exc), "type=2"));
    aio_decref(exc);
    close(udp);
    /* a descriptor that is no socket */
    int p[2];
    assert_int_equal(pipe(p), 0);
    create_fails(loop, &(aio_loop_create_server_args){.protocol_factory = f, .sock = p[0]},
                 aio_OSError, "[Errno 88] Socket operation on non-socket");
    close(p[0]);
    close(p[1]);
    (void)log;
    finish(loop);
}

/* bind() errors: OSError with the errno, asyncio's text and the address. */
static void test_bind_error(void **state)
{
    (void)state;
    trace t;
    aio_loop *loop = new_traced_loop(&t);
    server_log log = {0};
    aio_future *f1;
    aio_server *s = tcp_server(loop, &log, 0, &f1);
    int port = port_of(aio_server_sockets(s)->fds[0]);
    aio_future *f2 = aio_loop_create_server(
        loop, &(aio_loop_create_server_args){.protocol_factory = echo_factory,
                                             .protocol_factory_arg = &log,
                                             .host = "127.0.0.1",
                                             .port = port});
    assert_non_null(f2);
    assert_null(await_result(loop, f2));
    char want[160];
    snprintf(want, sizeof want,
             "[Errno 98] error while attempting to bind on address ('127.0.0.1', %d): "
             "address already in use",
             port);
    aio_exc *exc = aio_err_fetch();
    assert_true(aio_exc_isinstance(exc, aio_OSError));
    assert_int_equal(aio_exc_errno(exc), EADDRINUSE);
    assert_string_equal(aio_exc_str(exc), want);
    aio_decref(exc);
    aio_decref(f2);
    server_done(loop, s, f1);
    finish(loop);
}

/* family, flags and backlog None (AIO_NONE) fail where asyncio first uses
 * them, with TypeError; a closed loop leaves the lookups pending. */
static void test_none_ints(void **state)
{
    (void)state;
    trace t;
    aio_loop *loop = new_traced_loop(&t);
    server_log log = {0};
    const char *nomsg = "'NoneType' object cannot be interpreted as an integer";
    create_fails(loop, &(aio_loop_create_server_args){.protocol_factory = echo_factory,
                                                      .host = "127.0.0.1",
                                                      .family = AIO_NONE},
                 aio_TypeError, nomsg);
    create_fails(loop, &(aio_loop_create_server_args){.protocol_factory = echo_factory,
                                                      .port = AIO_ZERO,
                                                      .flags = AIO_NONE},
                 aio_TypeError, nomsg);
    /* the checks before come first */
    create_fails(loop, &(aio_loop_create_server_args){.protocol_factory = echo_factory,
                                                      .family = AIO_NONE,
                                                      .backlog = AIO_NONE},
                 aio_ValueError, "Neither host/port nor sock were specified");
    /* a numeric host needs no flags */
    aio_future *fut = aio_loop_create_server(loop, &(aio_loop_create_server_args){
                                                       .protocol_factory = echo_factory,
                                                       .protocol_factory_arg = &log,
                                                       .host = "127.0.0.1",
                                                       .port = AIO_ZERO,
                                                       .flags = AIO_NONE});
    aio_server *s = server_of(loop, fut);
    server_done(loop, s, fut);
    /* backlog: listen(None) */
    fut = aio_loop_create_server(loop, &(aio_loop_create_server_args){
                                           .protocol_factory = echo_factory,
                                           .host = "127.0.0.1",
                                           .port = AIO_ZERO,
                                           .backlog = AIO_NONE});
    assert_null(await_result(loop, fut));
    assert_raised(aio_TypeError, nomsg);
    aio_decref(fut);
    fut = aio_loop_create_server(loop, &(aio_loop_create_server_args){
                                           .protocol_factory = echo_factory,
                                           .host = "127.0.0.1",
                                           .port = AIO_ZERO,
                                           .backlog = AIO_NONE,
                                           .start_serving = AIO_FALSE});
    s = server_of(loop, fut);
    assert_null(aio_server_start_serving(s));
    assert_raised(aio_TypeError, nomsg);
    assert_int_equal(aio_server_is_serving(s), 1); /* _serving was set first */
    server_done(loop, s, fut);
    char dir[] = "/tmp/casyncio-none-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/s", dir);
    assert_null(aio_loop_create_unix_server(
        loop, &(aio_loop_create_unix_server_args){.protocol_factory = echo_factory,
                                                  .path = path,
                                                  .backlog = AIO_NONE}));
    assert_raised(aio_TypeError, nomsg);
    unlink(path);
    rmdir(dir);
    close_loop(loop);
    /* a closed loop: pending, as asyncio's coroutine stays */
    loop = new_loop();
    assert_int_equal(aio_loop_close(loop), 0);
    fut = aio_loop_create_server(loop, &(aio_loop_create_server_args){
                                           .protocol_factory = echo_factory,
                                           .host = "127.0.0.1",
                                           .port = AIO_ZERO});
    assert_non_null(fut);
    assert_int_equal(aio_future_done(fut), 0);
    aio_decref(fut);
    aio_decref(loop);
    assert_no_leaks();
}

/* A port out of range: a numeric host fails at bind() (OverflowError);
 * other hosts go through getaddrinfo(), whose error is the server's (and
 * counts as retrieved: nothing is logged). */
static void test_port_out_of_range(void **state)
{
    (void)state;
    trace t;
    aio_loop *loop = new_traced_loop(&t);
    server_log log = {0};
    log_record lr;
    log_record_start(&lr);
    const int ports[] = {70000, -1};
    for (int i = 0; i < 2; i++) {
        aio_future *fut = aio_loop_create_server(
            loop, &(aio_loop_create_server_args){.protocol_factory = echo_factory,
                                                 .protocol_factory_arg = &log,
                                                 .host = "127.0.0.1",
                                                 .port = ports[i]});
        assert_null(await_result(loop, fut));
        assert_raised(aio_OverflowError, "bind(): port must be 0-65535.");
        aio_decref(fut);
    }
    aio_future *fut = aio_loop_create_server(
        loop, &(aio_loop_create_server_args){.protocol_factory = echo_factory,
                                             .protocol_factory_arg = &log,
                                             .family = AF_INET,
                                             .port = -1});
    assert_null(await_result(loop, fut));
    assert_raised(aio_socket_gaierror, "[Errno -8] Servname not supported for ai_socktype");
    aio_decref(fut);
    for (int i = 0; i < 3; i++)
        run_one_iteration(loop);
    log_record_stop();
    assert_int_equal(lr.count, 0);
    finish(loop);
}

/* --- Hosts, ports, families, options ---------------------------------------------------- */

static void test_host_and_port(void **state)
{
    (void)state;
    trace t;
    aio_loop *loop = new_traced_loop(&t);
    server_log log = {0};
    aio_future *fut;
    aio_server *s = tcp_server(loop, &log, 0, &fut);
    const aio_socket_list *socks = aio_server_sockets(s);
    assert_int_equal(socks->len, 1);
    int fd = socks->fds[0];
    assert_true(port_of(fd) > 0);
    /* reuse_address true by default on Unix; listening; non-blocking */
    assert_int_equal(sockopt(fd, SOL_SOCKET, SO_REUSEADDR), 1);
    assert_int_equal(sockopt(fd, SOL_SOCKET, SO_ACCEPTCONN), 1);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(aio_server_is_serving(s), 1);
    assert_ptr_equal(aio_server_get_loop(s), loop);
    server_done(loop, s, fut);

    /* port only: every interface; reuse_address=False */
    fut = aio_loop_create_server(loop, &(aio_loop_create_server_args){
                                           .protocol_factory = echo_factory,
                                           .protocol_factory_arg = &log,
                                           .port = AIO_ZERO,
                                           .family = AF_INET,
                                           .reuse_address = AIO_FALSE});
    s = server_of(loop, fut);
    socks = aio_server_sockets(s);
    assert_int_equal(socks->len, 1);
    assert_int_equal(sockopt(socks->fds[0], SOL_SOCKET, SO_REUSEADDR), 0);
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(socks->fds[0], (struct sockaddr *)&sa, &len), 0);
    assert_int_equal(sa.sin_addr.s_addr, htonl(INADDR_ANY));
    server_done(loop, s, fut);
    finish(loop);
}

/* '' and None: every interface, an IPv4 and an IPv6 socket, the latter
 * IPV6_V6ONLY. */
static void test_all_interfaces(void **state)
{
    (void)state;
    if (!have_ipv6())
        skip();
    trace t;
    aio_loop *loop = new_traced_loop(&t);
    server_log log = {0};
    const char *hosts[] = {"", NULL};
    for (int i = 0; i < 2; i++) {
        aio_future *fut = aio_loop_create_server(loop, &(aio_loop_create_server_args){
                                                           .protocol_factory = echo_factory,
                                                           .protocol_factory_arg = &log,
                                                           .host = hosts[i],
                                                           .port = AIO_ZERO});
        aio_server *s = server_of(loop, fut);
        const aio_socket_list *socks = aio_server_sockets(s);
        assert_int_equal(socks->len, 2);
        int families = 0;
        for (size_t k = 0; k < socks->len; k++) {
            struct sockaddr_storage ss;
            socklen_t len = sizeof ss;
            assert_int_equal(getsockname(socks->fds[k], (struct sockaddr *)&ss, &len), 0);
            families |= ss.ss_family == AF_INET6 ? 2 : 1;
            if (ss.ss_family == AF_INET6)
                assert_int_equal(sockopt(socks->fds[k], IPPROTO_IPV6, IPV6_V6ONLY), 1);
        }
        assert_int_equal(families, 3);
        server_done(loop, s, fut);
    }
    finish(loop);
}

/* A sequence of hosts: one socket per distinct address. */
static void test_host_list(void **state)
{
    (void)state;
    trace t;
    aio_loop *loop = new_traced_loop(&t);
    server_log log = {0};
    bool v6 = have_ipv6();
    const char *const both[] = {"127.0.0.1", v6 ? "::1" : NULL, NULL};
    aio_future *fut = aio_loop_create_server(loop, &(aio_loop_create_server_args){
                                                       .protocol_factory = echo_factory,
                                                       .protocol_factory_arg = &log,
                                                       .hosts = both,
                                                       .port = AIO_ZERO});
    aio_server *s = server_of(loop, fut);
    assert_int_equal(aio_server_sockets(s)->len, v6 ? 2 : 1);
    server_done(loop, s, fut);

    /* the same address twice is bound once */
    const char *const twice[] = {"127.0.0.1", "127.0.0.1", NULL};
    fut = aio_loop_create_server(loop, &(aio_loop_create_server_args){
                                           .protocol_factory = echo_factory,
                                           .protocol_factory_arg = &log,
                                           .hosts = twice,
                                           .port = AIO_ZERO});
    s = server_of(loop, fut);
    assert_int_equal(aio_server_sockets(s)->len, 1);
    server_done(loop, s, fut);

    /* an empty sequence: a server with no socket, as asyncio makes */
    const char *const none[] = {NULL};
    fut = aio_loop_create_server(loop, &(aio_loop_create_server_args){
                                           .protocol_factory = echo_factory,
                                           .protocol_factory_arg = &log,
                                           .hosts = none,
                                           .port = AIO_ZERO});
    s = server_of(loop, fut);
    assert_int_equal(aio_server_sockets(s)->len, 0);
    assert_repr(s, "<Server sockets=()>");
    server_done(loop, s, fut);
    finish(loop);
}

/* reuse_port: two servers share a port. */
static void test_reuse_port(void **state)
{
    (void)state;
    trace t;
    aio_loop *loop = new_traced_loop(&t);
    server_log log = {0};
    aio_future *f1 = aio_loop_create_server(loop, &(aio_loop_create_server_args){
                                                      .protocol_factory = echo_factory,
                                                      .protocol_factory_arg = &log,
                                                      .host = "127.0.0.1",
                                                      .port = AIO_ZERO,
                                                      .reuse_port = AIO_TRUE});
    aio_server *s1 = server_of(loop, f1);
    int fd = aio_server_sockets(s1)->fds[0];
    assert_int_equal(sockopt(fd, SOL_SOCKET, SO_REUSEPORT), 1);
    aio_future *f2 = aio_loop_create_server(loop, &(aio_loop_create_server_args){
                                                      .protocol_factory = echo_factory,
                                                      .protocol_factory_arg = &log,
                                                      .host = "127.0.0.1",
                                                      .port = port_of(fd),
                                                      .reuse_port = AIO_TRUE});
    aio_server *s2 = server_of(loop, f2);
    assert_int_equal(port_of(aio_server_sockets(s2)->fds[0]), port_of(fd));
    server_done(loop, s2, f2);
    server_done(loop, s1, f1);
    finish(loop);
}

/* sock=: the server takes a bound stream socket over, listens on it, and
 * closes it when it closes. */
static void test_sock(void **state)
{
    (void)state;
    trace t;
    aio_loop *loop = new_traced_loop(&t);
    server_log log = {0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    aio_future *fut = aio_loop_create_server(
        loop, &(aio_loop_create_server_args){.protocol_factory = echo_factory,
                                             .protocol_factory_arg = &log,
                                             .sock = fd});
    /* without start_serving, done at once (no `await sleep(0)`) */
    aio_future *idle = aio_loop_create_server(
        loop, &(aio_loop_create_server_args){.protocol_factory = echo_factory,
                                             .sock = dup(fd),
                                             .start_serving = AIO_FALSE});
    assert_int_equal(aio_future_done(idle), 1);
    aio_server_close(aio_future_result(idle));
    aio_decref(idle);
    aio_server *s = server_of(loop, fut);
    assert_int_equal(aio_server_sockets(s)->len, 1);
    assert_int_equal(aio_server_sockets(s)->fds[0], fd);
    int c = tcp_client(port_of(fd));
    assert_true(c >= 0);
    for (int i = 0; i < 3; i++)
        run_one_iteration(loop);
    assert_int_equal(log.made, 1);
    server_done(loop, s, fut);
    assert_int_equal(fcntl(fd, F_GETFD), -1); /* closed with the server */
    close(c);
    for (int i = 0; i < 3; i++)
        run_one_iteration(loop);
    finish(loop);
}

/* --- Iterations ---------------------------------------------------------------------- */

/* How many iterations pass until fut is done (at most 20). */
static int iterations_until_done(aio_loop *loop, aio_future *fut)
{
    int n = 0;
    while (n < 20 && aio_future_done(fut) != 1) {
        run_one_iteration(loop);
        n++;
    }
    return n;
}

/* A task that awaits create_server(sock=) or start_serving() and notes the
 * iteration it resumes in. */
typedef struct awaiting {
    aio_future *fut;
    int *iteration;
    int resumed_at;
} awaiting;

static void *await_and_note(void *arg)
{
    awaiting *a = arg;
    a->resumed_at = -1;
    int before = *a->iteration;
    assert_int_equal(aio_future_done(a->fut), 1); /* done already... */
    void *result = aio_await(a->fut);             /* ...and one yield */
    a->resumed_at = *a->iteration - before;
    return result;
}
AIO_NAME_CALLBACK(await_and_note);

static int counted;

static void count_iteration(void *arg)
{
    aio_loop *loop = arg;
    counted++;
    soon(loop, count_iteration, loop);
}
AIO_NAME_CALLBACK(count_iteration);

/* asyncio's hops: with a host, gather() of one task per host (its step,
 * then gather's callback), then the coroutine resumes, listens and sleeps
 * once: the future is done in the third iteration and the server listens
 * only then; errors of bind() come one iteration earlier, as does the
 * server without start_serving. With sock= (or a Unix path) the coroutine
 * listens at once and its sleep(0) is the awaiting task's: the future is
 * done at once, and a task awaiting it resumes in the next iteration;
 * start_serving() likewise. */
static void test_iterations(void **state)
{
    (void)state;
    trace t;
    aio_loop *loop = new_traced_loop(&t);
    server_log log = {0};
    const char *const hosts[] = {"127.0.0.1", "127.0.0.1", NULL};
    for (int i = 0; i < 2; i++) {
        aio_loop_create_server_args args = {.protocol_factory = echo_factory,
                                            .protocol_factory_arg = &log,
                                            .port = AIO_ZERO};
        if (i == 0)
            args.host = "127.0.0.1";
        else
            args.hosts = hosts;
        aio_future *fut = aio_loop_create_server(loop, &args);
        assert_non_null(fut);
        run_one_iteration(loop);
        run_one_iteration(loop);
        assert_int_equal(aio_future_done(fut), 0);
        run_one_iteration(loop);
        assert_int_equal(aio_future_done(fut), 1);
        aio_server *s = server_of(loop, fut);
        assert_int_equal(aio_server_is_serving(s), 1);
        assert_int_equal(aio_server_sockets(s)->len, 1);
        int port = port_of(aio_server_sockets(s)->fds[0]);
        if (i == 1) {
            /* bind() fails in the second iteration */
            aio_future *busy = aio_loop_create_server(
                loop, &(aio_loop_create_server_args){.protocol_factory = echo_factory,
                                                     .host = "127.0.0.1",
                                                     .port = port,
                                                     .reuse_address = AIO_FALSE});
            assert_non_null(busy);
            assert_int_equal(iterations_until_done(loop, busy), 2);
            assert_null(await_result(loop, busy));
            assert_raised(aio_OSError, NULL);
            aio_decref(busy);
        }
        server_done(loop, s, fut);
    }
    aio_future *fut = aio_loop_create_server(
        loop, &(aio_loop_create_server_args){.protocol_factory = echo_factory,
                                             .protocol_factory_arg = &log,
                                             .host = "127.0.0.1",
                                             .port = AIO_ZERO,
                                             .start_serving = AIO_FALSE});
    assert_int_equal(iterations_until_done(loop, fut), 2);
    aio_server *s = server_of(loop, fut);
    assert_int_equal(aio_server_is_serving(s), 0);
    /* start_serving(): done at once, its awaiting task resumed next */
    soon(loop, count_iteration, loop);
    awaiting a = {.fut = aio_server_start_serving(s), .iteration = &counted};
    assert_non_null(a.fut);
    aio_task *task = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = await_and_note, .coro_arg = &a});
    assert_non_null(task);
    for (int i = 0; i < 3; i++)
        run_one_iteration(loop);
    assert_int_equal(aio_future_done(task), 1);
    check_no_exception();
    assert_int_equal(a.resumed_at, 1);
    aio_decref(task);
    aio_decref(a.fut);
    server_done(loop, s, fut);

    /* sock=: the same */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    a.fut = aio_loop_create_server(
        loop, &(aio_loop_create_server_args){.protocol_factory = echo_factory,
                                             .protocol_factory_arg = &log,
                                             .sock = fd});
    assert_non_null(a.fut);
    s = aio_future_result(a.fut);
    assert_non_null(s);
    assert_int_equal(aio_server_is_serving(s), 1);
    task = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = await_and_note, .coro_arg = &a});
    assert_non_null(task);
    for (int i = 0; i < 3; i++)
        run_one_iteration(loop);
    assert_int_equal(aio_future_done(task), 1);
    assert_ptr_equal(aio_future_result(task), s);
    assert_int_equal(a.resumed_at, 1);
    aio_decref(task);
    server_done(loop, s, a.fut);
    close_loop(loop);
    assert_no_leaks();
}

/* --- The Server object ---------------------------------------------------------------- */

static void test_start_serving_false(void **state)
{
    (void)state;
    trace t;
    aio_loop *loop = new_traced_loop(&t);
    server_log log = {0};
    aio_future *fut = aio_loop_create_server(loop, &(aio_loop_create_server_args){
                                                       .protocol_factory = echo_factory,
                                                       .protocol_factory_arg = &log,
                                                       .host = "127.0.0.1",
                                                       .port = AIO_ZERO,
                                                       .start_serving = AIO_FALSE});
    aio_server *s = server_of(loop, fut);
    assert_int_equal(aio_server_is_serving(s), 0);
    int port = port_of(aio_server_sockets(s)->fds[0]);
    /* not listening yet: refused */
    assert_int_equal(tcp_client(port), -1);
    assert_int_equal(errno, ECONNREFUSED);
    aio_future *started = aio_server_start_serving(s);
    assert_non_null(started);
    assert_int_equal(aio_server_is_serving(s), 1);
    /* done at once: the `await sleep(0)` is the awaiting task's (one
     * yield in aio_await()) */
    assert_int_equal(aio_future_done(started), 1);
    assert_null(aio_future_result(started));
    aio_decref(started);
    /* harmless a second time */
    started = aio_server_start_serving(s);
    await_result(loop, started);
    aio_decref(started);
    int c = tcp_client(port);
    assert_true(c >= 0);
    for (int i = 0; i < 3; i++)
        run_one_iteration(loop);
    assert_string_equal(log.t.text, "factory;made;");
    close(c);
    server_done(loop, s, fut);
    assert_string_equal(log.t.text, "factory;made;eof;lost(None);");
    finish(loop);
}

/* close(): the listening sockets go, connections stay; sockets is empty,
 * is_serving() false; closing twice is harmless. */
static void test_close(void **state)
{
    (void)state;
    trace t;
    aio_loop *loop = new_traced_loop(&t);
    server_log log = {.echo = true};
    aio_future *fut;
    aio_server *s = tcp_server(loop, &log, 0, &fut);
    int lfd = aio_server_sockets(s)->fds[0];
    int port = port_of(lfd);
    char want[256];
    snprintf(want, sizeof want,
             "<Server sockets=(<asyncio.TransportSocket fd=%d, family=2, type=1, proto=6, "
             "laddr=('127.0.0.1', %d)>,)>",
             lfd, port);
    assert_repr(s, want);
    int c = tcp_client(port);
    for (int i = 0; i < 3; i++)
        run_one_iteration(loop);
    assert_int_equal(log.made, 1);
    assert_int_equal(aio_server_close(s), 0);
    assert_int_equal(aio_server_close(s), 0);
    assert_int_equal(aio_server_is_serving(s), 0);
    const aio_socket_list *socks = aio_server_sockets(s);
    assert_non_null(socks);
    assert_int_equal(socks->len, 0);
    assert_repr(s, "<Server sockets=()>");
    assert_int_equal(fcntl(lfd, F_GETFD), -1);
    /* start_serving() on a closed server: asyncio's TypeError, after
     * _serving was set */
    assert_null(aio_server_start_serving(s));
    assert_raised(aio_TypeError, "'NoneType' object is not iterable");
    assert_int_equal(aio_server_is_serving(s), 1);
    assert_int_equal(tcp_client(port), -1);
    /* the connection still echoes */
    assert_int_equal(write(c, "ping", 4), 4);
    char buf[8];
    for (int i = 0; i < 5 && !readable(c); i++)
        run_one_iteration(loop);
    run_one_iteration(loop);
    assert_int_equal(read(c, buf, sizeof buf), 4);
    assert_int_equal(log.lost, 0);
    close(c);
    for (int i = 0; i < 3; i++)
        run_one_iteration(loop);
    assert_int_equal(log.lost, 1);
    assert_int_equal(log.released, 1);
    aio_decref(fut);
    finish(loop);
}

/* wait_closed() as 3.11.7: at once on a closed server (even with a
 * connection open); on an open one, after close() and the last
 * connection. */
static void test_wait_closed(void **state)
{
    (void)state;
    trace t;
    aio_loop *loop = new_traced_loop(&t);
    server_log log = {0};
    aio_future *fut;
    aio_server *s = tcp_server(loop, &log, 0, &fut);
    int c = tcp_client(port_of(aio_server_sockets(s)->fds[0]));
    for (int i = 0; i < 3; i++)
        run_one_iteration(loop);
    assert_int_equal(log.made, 1);
    aio_future *w1 = aio_server_wait_closed(s);
    aio_future *w2 = aio_server_wait_closed(s);
    run_one_iteration(loop);
    assert_int_equal(aio_future_done(w1), 0);
    aio_server_close(s);
    /* a wait_closed() after close() returns at once */
    aio_future *w3 = aio_server_wait_closed(s);
    assert_int_equal(aio_future_done(w3), 1);
    run_one_iteration(loop);
    assert_int_equal(aio_future_done(w1), 0); /* a connection is open */
    close(c);
    for (int i = 0; i < 4 && log.lost == 0; i++)
        run_one_iteration(loop);
    assert_int_equal(log.lost, 1);
    assert_int_equal(aio_future_done(w1), 1);
    assert_int_equal(aio_future_done(w2), 1);
    assert_null(aio_future_result(w1));
    aio_decref(w1);
    aio_decref(w2);
    aio_decref(w3);

    /* on an idle server: close() wakes it */
    aio_future *f2;
    aio_server *s2 = tcp_server(loop, &log, 0, &f2);
    w1 = aio_server_wait_closed(s2);
    run_one_iteration(loop);
    assert_int_equal(aio_future_done(w1), 0);
    aio_server_close(s2);
    assert_int_equal(aio_future_done(w1), 1);
    aio_decref(w1);
    aio_decref(f2);
    aio_decref(fut);
    run_one_iteration(loop);
    finish(loop);
}

/* serve_forever(): the messages; cancelling it closes the server. */
static void test_serve_forever(void **state)
{
    (void)state;
    trace t;
    aio_loop *loop = new_traced_loop(&t);
    server_log log = {0};
    aio_future *fut = aio_loop_create_server(loop, &(aio_loop_create_server_args){
                                                       .protocol_factory = echo_factory,
                                                       .protocol_factory_arg = &log,
                                                       .host = "127.0.0.1",
                                                       .port = AIO_ZERO,
                                                       .start_serving = AIO_FALSE});
    aio_server *s = server_of(loop, fut);
    aio_future *forever = aio_server_serve_forever(s);
    assert_non_null(forever);
    assert_int_equal(aio_server_is_serving(s), 1);
    char want[300], repr[200];
    repr_copy(s, repr, sizeof repr);
    snprintf(want, sizeof want, "server %s is already being awaited on serve_forever()", repr);
    assert_null(aio_server_serve_forever(s));
    assert_raised(aio_RuntimeError, want);
    int c = tcp_client(port_of(aio_server_sockets(s)->fds[0]));
    for (int i = 0; i < 3; i++)
        run_one_iteration(loop);
    assert_int_equal(log.made, 1);
    assert_int_equal(aio_future_done(forever), 0);
    assert_int_equal(aio_future_cancel(forever, NULL), 1);
    assert_int_equal(aio_server_is_serving(s), 1); /* until the next step */
    assert_int_equal(aio_future_done(forever), 0);
    run_one_iteration(loop);
    assert_int_equal(aio_future_cancelled(forever), 1);
    assert_int_equal(aio_server_is_serving(s), 0);
    assert_int_equal(aio_server_sockets(s)->len, 0);
    assert_int_equal(log.lost, 0); /* connections stay */
    aio_decref(forever);
    assert_null(aio_server_serve_forever(s));
    assert_raised(aio_RuntimeError, "server <Server sockets=()> is closed");
    close(c);
    for (int i = 0; i < 3; i++)
        run_one_iteration(loop);
    assert_int_equal(log.lost, 1);
    aio_decref(fut);

    /* close() cancels a pending serve_forever() */
    s = tcp_server(loop, &log, 0, &fut);
    forever = aio_server_serve_forever(s);
    run_one_iteration(loop);
    aio_server_close(s);
    /* as the task running the coroutine ends in its next step */
    assert_int_equal(aio_future_done(forever), 0);
    run_one_iteration(loop);
    assert_int_equal(aio_future_cancelled(forever), 1);
    aio_decref(forever);
    aio_decref(fut);
    finish(loop);
}

typedef struct forever_task {
    aio_server *server;
    int outcome;
} forever_task;

static void *serve_forever_coro(void *arg)
{
    forever_task *ft = arg;
    aio_future *f = aio_server_serve_forever(ft->server);
    assert_non_null(f);
    void *r = aio_await(f);
    ft->outcome = r == NULL && aio_err_matches(aio_CancelledError) ? 1 : 2;
    aio_decref(f);
    return NULL;
}
AIO_NAME_CALLBACK(serve_forever_coro);

/* In a task, as asyncio is used: cancelling the task closes the server. */
static void test_serve_forever_task(void **state)
{
    (void)state;
    trace t;
    aio_loop *loop = new_traced_loop(&t);
    server_log log = {0};
    aio_future *fut;
    aio_server *s = tcp_server(loop, &log, 0, &fut);
    forever_task ft = {s, 0};
    aio_task *task = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = serve_forever_coro, .coro_arg = &ft});
    for (int i = 0; i < 3; i++)
        run_one_iteration(loop);
    assert_int_equal(aio_server_is_serving(s), 1);
    aio_task_cancel(task, NULL);
    for (int i = 0; i < 3; i++)
        run_one_iteration(loop);
    assert_int_equal(ft.outcome, 1);
    assert_int_equal(aio_future_cancelled((aio_future *)task), 1);
    assert_int_equal(aio_server_is_serving(s), 0);
    assert_int_equal(aio_server_sockets(s)->len, 0);
    aio_decref(task);
    aio_decref(fut);
    finish(loop);
}

/* The loop closes with a server open: its sockets are closed, nothing
 * leaks. */
static void test_loop_closed_with_server(void **state)
{
    (void)state;
    trace t;
    aio_loop *loop = new_traced_loop(&t);
    server_log log = {0};
    aio_future *fut;
    aio_server *s = tcp_server(loop, &log, 0, &fut);
    int lfd = aio_server_sockets(s)->fds[0];
    aio_future *w = aio_server_wait_closed(s);
    aio_future *forever = aio_server_serve_forever(s);
    close_loop(loop);
    assert_int_equal(fcntl(lfd, F_GETFD), -1);
    assert_int_equal(aio_server_sockets(s)->len, 0);
    aio_decref(w);
    aio_decref(forever);
    aio_decref(fut);
    assert_no_leaks();
}

/* asyncio 3.11's _ensure_fd_no_transport() knows transports only: a
 * server's listening socket is not refused by add_reader(). */
static void test_add_reader_on_listening_fd(void **state)
{
    (void)state;
    trace t;
    aio_loop *loop = new_traced_loop(&t);
    server_log log = {0};
    aio_future *fut;
    aio_server *s = tcp_server(loop, &log, 0, &fut);
    int lfd = aio_server_sockets(s)->fds[0];
    assert_int_equal(aio_loop_add_reader(loop, lfd, noop, NULL, NULL), 0);
    assert_int_equal(aio_loop_remove_reader(loop, lfd), 1);
    server_done(loop, s, fut);
    finish(loop);
}

/* --- create_unix_server() ------------------------------------------------------------- */

static char tmpdir[64];

static const char *tmp_path(const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", tmpdir, name);
    return out;
}

static int unix_client(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strncpy(sa.sun_path, path, sizeof sa.sun_path - 1);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int setup_tmpdir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/casyncio-server-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_unix_server(void **state)
{
    (void)state;
    trace t;
    aio_loop *loop = new_traced_loop(&t);
    server_log log = {.echo = true};
    char path[128];
    tmp_path("s.sock", path, sizeof path);
    /* a stale socket file */
    int stale = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strncpy(sa.sun_path, path, sizeof sa.sun_path - 1);
    assert_int_equal(bind(stale, (struct sockaddr *)&sa, sizeof sa), 0);
    close(stale);
    aio_future *fut = aio_loop_create_unix_server(
        loop, &(aio_loop_create_unix_server_args){.protocol_factory = echo_factory,
                                                  .protocol_factory_arg = &log,
                                                  .path = path});
    aio_server *s = server_of(loop, fut);
    char want[256];
    snprintf(want, sizeof want,
             "<Server sockets=(<asyncio.TransportSocket fd=%d, family=1, type=1, proto=0, "
             "laddr=%s>,)>",
             aio_server_sockets(s)->fds[0], path);
    char got[256];
    repr_copy(s, got, sizeof got);
    assert_memory_equal(got, want, strlen(want));
    int c = unix_client(path);
    assert_true(c >= 0);
    for (int i = 0; i < 3; i++)
        run_one_iteration(loop);
    assert_int_equal(log.made, 1);
    const aio_address *peer = aio_transport_get_peername(log.last);
    assert_non_null(peer);
    assert_int_equal(peer->kind, AIO_ADDRESS_UNNAMED);
    assert_int_equal(write(c, "hey", 3), 3);
    for (int i = 0; i < 5 && !readable(c); i++)
        run_one_iteration(loop);
    char buf[4];
    assert_int_equal(read(c, buf, sizeof buf), 3);
    close(c);
    server_done(loop, s, fut);
    /* 3.11 leaves the file when the server closes */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    unlink(path);
    finish(loop);
}

static void test_unix_server_errors(void **state)
{
    (void)state;
    trace t;
    aio_loop *loop = new_traced_loop(&t);
    server_log log = {0};
    const aio_protocol_factory f = echo_factory;
    char path[128], want[256];
    tmp_path("regular", path, sizeof path);
    FILE *file = fopen(path, "w");
    fclose(file);
    assert_null(aio_loop_create_unix_server(
        loop, &(aio_loop_create_unix_server_args){.protocol_factory = f, .path = path}));
    snprintf(want, sizeof want, "[Errno 98] Address '%s' is already in use", path);
    assert_raised(aio_OSError, want);
    struct stat st;
    assert_int_equal(stat(path, &st), 0); /* left alone */
    unlink(path);

    assert_null(aio_loop_create_unix_server(
        loop, &(aio_loop_create_unix_server_args){.protocol_factory = f, .ssl = AIO_SSL_TRUE}));
    assert_raised(aio_TypeError, "ssl argument must be an SSLContext or None");
    assert_null(aio_loop_create_unix_server(
        loop, &(aio_loop_create_unix_server_args){.protocol_factory = f, .path = path,
                                                  .ssl_handshake_timeout = 1}));
    assert_raised(aio_ValueError, "ssl_handshake_timeout is only meaningful with ssl");
    assert_null(aio_loop_create_unix_server(
        loop, &(aio_loop_create_unix_server_args){.protocol_factory = f, .path = path,
                                                  .ssl_shutdown_timeout = 1}));
    assert_raised(aio_ValueError, "ssl_shutdown_timeout is only meaningful with ssl");
    assert_null(aio_loop_create_unix_server(
        loop, &(aio_loop_create_unix_server_args){.protocol_factory = f}));
    assert_raised(aio_ValueError, "path was not specified, and no sock specified");
    int tcp = socket(AF_INET, SOCK_STREAM, 0);
    assert_null(aio_loop_create_unix_server(
        loop, &(aio_loop_create_unix_server_args){.protocol_factory = f, .path = path,
                                                  .sock = tcp}));
    assert_raised(aio_ValueError, "path and sock can not be specified at the same time");
    assert_null(aio_loop_create_unix_server(
        loop, &(aio_loop_create_unix_server_args){.protocol_factory = f, .sock = tcp}));
    snprintf(want, sizeof want,
             "A UNIX Domain Stream Socket was expected, got <socket.socket fd=%d, family=2, "
             "type=1, proto=",
             tcp);
    aio_exc *exc = aio_err_fetch();
    assert_true(aio_exc_isinstance(exc, aio_ValueError));
    assert_memory_equal(aio_exc_str(exc), want, strlen(want));
    aio_decref(exc);
    close(tcp);
    int dgram = socket(AF_UNIX, SOCK_DGRAM, 0);
    assert_null(aio_loop_create_unix_server(
        loop, &(aio_loop_create_unix_server_args){.protocol_factory = f, .sock = dgram}));
    assert_raised(aio_ValueError, NULL);
    close(dgram);
    assert_null(aio_loop_create_unix_server(
        loop, &(aio_loop_create_unix_server_args){.protocol_factory = f, .path = ""}));
    assert_raised(aio_IndexError, "string index out of range");
    /* a directory that does not exist */
    tmp_path("no/such/dir.sock", path, sizeof path);
    assert_null(aio_loop_create_unix_server(
        loop, &(aio_loop_create_unix_server_args){.protocol_factory = f, .path = path}));
    assert_raised(aio_FileNotFoundError, "[Errno 2] No such file or directory");
    (void)log;
    finish(loop);
}

/* An abstract name, bound by the caller and given as sock=. */
static void test_unix_server_abstract(void **state)
{
    (void)state;
    trace t;
    aio_loop *loop = new_traced_loop(&t);
    server_log log = {0};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int n = snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1, "casyncio-test-%d", (int)getpid());
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);
    aio_future *fut = aio_loop_create_unix_server(
        loop, &(aio_loop_create_unix_server_args){.protocol_factory = echo_factory,
                                                  .protocol_factory_arg = &log,
                                                  .sock = fd});
    aio_server *s = server_of(loop, fut);
    char r[256];
    repr_copy(s, r, sizeof r);
    assert_non_null(strstr(r, "laddr=b'\\x00casyncio-test-"));
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(connect(c, (struct sockaddr *)&sa, len), 0);
    for (int i = 0; i < 3; i++)
        run_one_iteration(loop);
    assert_int_equal(log.made, 1);
    close(c);
    server_done(loop, s, fut);
    finish(loop);
}

/* Out of memory at each allocation of create_server(), the server's start
 * and its first connection: MemoryError or a working server, the loop
 * usable, nothing leaked. */
static void test_out_of_memory(void **state)
{
    (void)state;
    bool completed = false;
    for (long k = 0; k < 400 && !completed; k++) {
        trace t;
        aio_loop *loop = new_traced_loop_nodebug(&t);
        server_log log = {.quiet = true};
        handler_report rep = {0};
        aio_loop_set_exception_handler(loop, report_handler, &rep);
        aio__fail_alloc_after = k;
        aio_future *fut = aio_loop_create_server(loop, &(aio_loop_create_server_args){
                                                           .protocol_factory = echo_factory,
                                                           .protocol_factory_arg = &log,
                                                           .host = "127.0.0.1",
                                                           .port = AIO_ZERO});
        aio_server *s = NULL;
        int c = -1;
        if (fut == NULL) {
            assert_raised(aio_MemoryError, NULL);
        } else {
            for (int i = 0; i < 5 && aio_future_done(fut) != 1; i++)
                run_one_iteration(loop);
            aio_err_clear();
            if (aio_future_done(fut) == 1 && aio_future_cancelled(fut) != 1 &&
                aio_future_exception(fut) == NULL)
                s = aio_future_result(fut);
            if (s != NULL && aio_server_sockets(s)->len == 1) {
                c = tcp_client(port_of(aio_server_sockets(s)->fds[0]));
                for (int i = 0; i < 4; i++)
                    run_one_iteration(loop);
                aio_err_clear();
            }
        }
        completed = aio__fail_alloc_after >= 0; /* nothing failed: done */
        aio__fail_alloc_after = -1;
        if (s != NULL)
            aio_server_close(s);
        if (c >= 0)
            close(c);
        for (int i = 0; i < 4; i++)
            run_one_iteration(loop);
        aio_err_clear();
        aio_decref(fut);
        finish(loop);
    }
    assert_true(completed);
}

/* The same for create_unix_server(), serve_forever() and its
 * cancellation, wait_closed(). */
static void test_out_of_memory_unix(void **state)
{
    (void)state;
    char path[128];
    tmp_path("oom.sock", path, sizeof path);
    bool completed = false;
    for (long k = 0; k < 400 && !completed; k++) {
        trace t;
        aio_loop *loop = new_traced_loop_nodebug(&t);
        server_log log = {.quiet = true};
        handler_report rep = {0};
        aio_loop_set_exception_handler(loop, report_handler, &rep);
        aio__fail_alloc_after = k;
        aio_future *fut = aio_loop_create_unix_server(
            loop, &(aio_loop_create_unix_server_args){
                      .protocol_factory = echo_factory, .protocol_factory_arg = &log, .path = path});
        aio_future *forever = NULL, *w = NULL;
        aio_server *s = NULL;
        if (fut == NULL) {
            assert_raised(aio_MemoryError, NULL);
        } else {
            for (int i = 0; i < 3 && aio_future_done(fut) != 1; i++)
                run_one_iteration(loop);
            aio_err_clear();
            if (aio_future_done(fut) == 1 && aio_future_cancelled(fut) != 1 &&
                aio_future_exception(fut) == NULL)
                s = aio_future_result(fut);
        }
        if (s != NULL) {
            forever = aio_server_serve_forever(s);
            aio_err_clear();
            w = aio_server_wait_closed(s);
            aio_err_clear();
            run_one_iteration(loop);
            aio_err_clear();
            if (forever != NULL)
                aio_future_cancel(forever, NULL);
            aio_err_clear();
            for (int i = 0; i < 3; i++)
                run_one_iteration(loop);
            aio_err_clear();
        }
        completed = aio__fail_alloc_after >= 0;
        aio__fail_alloc_after = -1;
        if (completed) {
            assert_int_equal(aio_future_cancelled(forever), 1);
            assert_int_equal(aio_future_done(w), 1);
        }
        if (s != NULL)
            aio_server_close(s);
        run_one_iteration(loop);
        aio_err_clear();
        aio_decref(forever);
        aio_decref(w);
        aio_decref(fut);
        unlink(path);
        finish(loop);
    }
    assert_true(completed);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_create_server_checks),
    cmocka_unit_test(test_bind_error),
    cmocka_unit_test(test_none_ints),
    cmocka_unit_test(test_port_out_of_range),
    cmocka_unit_test(test_host_and_port),
    cmocka_unit_test(test_all_interfaces),
    cmocka_unit_test(test_host_list),
    cmocka_unit_test(test_reuse_port),
    cmocka_unit_test(test_sock),
    cmocka_unit_test(test_iterations),
    cmocka_unit_test(test_start_serving_false),
    cmocka_unit_test(test_close),
    cmocka_unit_test(test_wait_closed),
    cmocka_unit_test(test_serve_forever),
    cmocka_unit_test(test_serve_forever_task),
    cmocka_unit_test(test_loop_closed_with_server),
    cmocka_unit_test(test_add_reader_on_listening_fd),
    cmocka_unit_test(test_out_of_memory),
    cmocka_unit_test_setup_teardown(test_out_of_memory_unix, setup_tmpdir, remove_tmpdir),
    cmocka_unit_test_setup_teardown(test_unix_server, setup_tmpdir, remove_tmpdir),
    cmocka_unit_test_setup_teardown(test_unix_server_errors, setup_tmpdir, remove_tmpdir),
    cmocka_unit_test(test_unix_server_abstract),
};

AIO_TEST_MAIN(tests)
