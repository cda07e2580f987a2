/* test_accept.c - a server's accept loop (selector_events.py, 3.11.7:
 * _accept_connection, _accept_connection2): the order of events for an
 * accepted connection, `backlog` accepts per readiness, out of
 * descriptors (EMFILE) reported and retried after ACCEPT_RETRY_DELAY
 * without spinning, other accept() errors, a failing factory, and many
 * connections. Clients are plain sockets.
 */
#include <math.h>
#include <sys/resource.h>

#include "server_support.h"

/* accept() in the readiness's iteration, the factory in the next (the
 * task's first step), connection_made() in the one after. */
static void test_accept_order(void **state)
{
    (void)state;
    trace t;
    aio_loop *loop = new_traced_loop(&t);
    server_log log = {0};
    aio_future *fut;
    aio_server *s = tcp_server(loop, &log, 0, &fut);
    int c = tcp_client(port_of(aio_server_sockets(s)->fds[0]));
    assert_true(c >= 0);
    run_one_iteration(loop);
    assert_string_equal(log.t.text, "");
    run_one_iteration(loop);
    assert_string_equal(log.t.text, "factory;");
    run_one_iteration(loop);
    assert_string_equal(log.t.text, "factory;made;");
    /* peername is what accept() said */
    struct sockaddr_in local;
    socklen_t len = sizeof local;
    assert_int_equal(getsockname(c, (struct sockaddr *)&local, &len), 0);
    const aio_address *peer = aio_transport_get_peername(log.last);
    assert_non_null(peer);
    assert_int_equal(peer->kind, AIO_ADDRESS_PAIR);
    assert_string_equal(peer->host, "127.0.0.1");
    assert_int_equal(peer->port, ntohs(local.sin_port));
    /* TCP_NODELAY on the accepted socket */
    int fd = aio_transport_get_socket(log.last);
    int v = 0;
    len = sizeof v;
    assert_int_equal(getsockopt(fd, IPPROTO_TCP, 1 /* TCP_NODELAY */, &v, &len), 0);
    assert_int_equal(v, 1);
    assert_int_equal(write(c, "abc", 3), 3);
    shutdown(c, SHUT_WR);
    for (int i = 0; i < 4; i++)
        run_one_iteration(loop);
    assert_string_equal(log.t.text, "factory;made;data(3);eof;lost(None);");
    close(c);
    server_done(loop, s, fut);
    finish(loop);
}

/* At most `backlog` accept() calls per readiness. */
static void test_backlog_per_readiness(void **state)
{
    (void)state;
    trace t;
    aio_loop *loop = new_traced_loop(&t);
    server_log log = {.quiet = true};
    aio_future *fut;
    aio_server *s = tcp_server(loop, &log, 3, &fut);
    int port = port_of(aio_server_sockets(s)->fds[0]);
    /* listen(3) queues 4 connections */
    int c[4];
    for (int i = 0; i < 4; i++)
        assert_true((c[i] = tcp_client(port)) >= 0);
    const int expected[] = {0, 3, 4, 4};
    for (int i = 0; i < 4; i++) {
        run_one_iteration(loop);
        assert_int_equal(log.factory_calls, expected[i]);
    }
    for (int i = 0; i < 4; i++)
        close(c[i]);
    server_done(loop, s, fut);
    assert_int_equal(log.lost, 4);
    finish(loop);
}

/* 2,400 connections accepted, each echoing a message. */
static void test_many_connections(void **state)
{
    (void)state;
    trace t;
    aio_loop *loop = new_traced_loop_nodebug(&t);
    server_log log = {.quiet = true, .echo = true};
    aio_future *fut;
    aio_server *s = tcp_server(loop, &log, 0, &fut);
    int port = port_of(aio_server_sockets(s)->fds[0]);
    enum { TOTAL = 2400, BATCH = 60 };
    for (int done = 0; done < TOTAL; done += BATCH) {
        int c[BATCH];
        for (int i = 0; i < BATCH; i++) {
            assert_true((c[i] = tcp_client(port)) >= 0);
            assert_int_equal(write(c[i], "ping", 4), 4);
        }
        for (int i = 0; i < 10 && log.received < (size_t)(done + BATCH) * 4; i++)
            aio_loop_run_once(loop, 0.5);
        for (int i = 0; i < BATCH; i++) {
            char buf[8];
            assert_true(readable(c[i]));
            assert_int_equal(read(c[i], buf, sizeof buf), 4);
            assert_memory_equal(buf, "ping", 4);
            close(c[i]);
        }
    }
    for (int i = 0; i < 20 && log.lost < TOTAL; i++)
        aio_loop_run_once(loop, 0.5);
    assert_int_equal(log.made, TOTAL);
    assert_int_equal(log.lost, TOTAL);
    assert_int_equal(log.released, TOTAL);
    server_done(loop, s, fut);
    finish(loop);
}

/* --- Out of descriptors --------------------------------------------------------------- */

typedef struct accept_report {
    int calls;
    char message[128];
    char exception[128];
    int socket;
} accept_report;

static void accept_handler(aio_loop *loop, const aio_exception_context *context, void *arg)
{
    (void)loop;
    accept_report *r = arg;
    r->calls++;
    snprintf(r->message, sizeof r->message, "%s", context->message);
    repr_copy(context->exception, r->exception, sizeof r->exception);
    r->socket = context->socket;
}
AIO_NAME_CALLBACK(accept_handler);

static void count_poll(aio_loop *loop, double timeout, void *arg)
{
    (void)loop;
    (void)timeout;
    ++*(int *)arg;
}
AIO_NAME_CALLBACK(count_poll);

/* Runs the loop for about `seconds`; returns how many iterations ran. */
static int run_for(aio_loop *loop, double seconds)
{
    double end = monotonic_now() + seconds;
    int n = 0;
    while (monotonic_now() < end && n < 100000) {
        assert_true(aio_loop_run_once(loop, end - monotonic_now()) >= 0);
        n++;
    }
    return n;
}

/* accept() fails with EMFILE: the handler hears it `backlog` times (asyncio
 * goes on through its attempts), the reader is removed so the loop does
 * not spin on the readable socket, and accepting resumes after
 * ACCEPT_RETRY_DELAY. */
static void test_emfile(void **state)
{
    (void)state;
    trace t;
    aio_loop *loop = new_traced_loop(&t);
    server_log log = {0};
    accept_report rep = {0};
    aio_loop_set_exception_handler(loop, accept_handler, &rep);
    aio_future *fut;
    aio_server *s = tcp_server(loop, &log, 5, &fut);
    int lfd = aio_server_sockets(s)->fds[0];
    int c = tcp_client(port_of(lfd));
    assert_true(c >= 0);

    struct rlimit saved;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
    struct rlimit low = saved;
    low.rlim_cur = 256;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    int fill[256], nfill = 0;
    for (;;) {
        int d = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (d < 0)
            break;
        assert_true(nfill < 256);
        fill[nfill++] = d;
    }
    assert_int_equal(errno, EMFILE);

    run_one_iteration(loop);
    assert_int_equal(rep.calls, 5);
    assert_string_equal(rep.message, "socket.accept() out of system resource");
    assert_string_equal(rep.exception, "OSError(24, 'Too many open files')");
    assert_int_equal(rep.socket, lfd);
    for (int i = 0; i < nfill; i++)
        close(fill[i]);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);

    /* paused: the socket is readable, yet nothing runs and nothing spins */
    int polls = 0;
    aio_loop_set_poll_hooks(loop, count_poll, NULL, &polls);
    int iterations = run_for(loop, 0.3);
    assert_true(iterations < 10);
    assert_true(polls <= iterations);
    assert_int_equal(rep.calls, 5);
    assert_int_equal(log.factory_calls, 0);
    /* after the delay it accepts */
    double end = monotonic_now() + 3.0;
    while (log.made == 0 && monotonic_now() < end)
        aio_loop_run_once(loop, 0.2);
    assert_int_equal(log.made, 1);
    assert_int_equal(rep.calls, 5);
    aio_loop_set_poll_hooks(loop, NULL, NULL, NULL);
    close(c);
    /* the other retry timers fire harmlessly */
    run_for(loop, 0.1);
    server_done(loop, s, fut);
    finish(loop);
}

/* A retry timer pending when the server closes does nothing. */
static void test_emfile_then_close(void **state)
{
    (void)state;
    trace t;
    aio_loop *loop = new_traced_loop(&t);
    server_log log = {0};
    accept_report rep = {0};
    aio_loop_set_exception_handler(loop, accept_handler, &rep);
    aio_future *fut;
    aio_server *s = tcp_server(loop, &log, 2, &fut);
    int c = tcp_client(port_of(aio_server_sockets(s)->fds[0]));
    struct rlimit saved, low;
    getrlimit(RLIMIT_NOFILE, &saved);
    low = saved;
    low.rlim_cur = 256;
    setrlimit(RLIMIT_NOFILE, &low);
    int fill[256], nfill = 0;
    for (int d; nfill < 256 && (d = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;)
        fill[nfill++] = d;
    run_one_iteration(loop);
    for (int i = 0; i < nfill; i++)
        close(fill[i]);
    setrlimit(RLIMIT_NOFILE, &saved);
    assert_int_equal(rep.calls, 2);
    aio_server_close(s);
    run_for(loop, 1.3);
    assert_int_equal(rep.calls, 2);
    assert_int_equal(log.factory_calls, 0);
    close(c);
    aio_decref(fut);
    finish(loop);
}

/* Another accept() error is the callback's exception, reported as the loop
 * reports a failing callback. */
static void test_accept_error(void **state)
{
    (void)state;
    trace t;
    aio_loop *loop = new_traced_loop(&t);
    server_log log = {0};
    handler_report rep = {0};
    aio_loop_set_exception_handler(loop, report_handler, &rep);
    aio_future *fut;
    aio_server *s = tcp_server(loop, &log, 0, &fut);
    int lfd = aio_server_sockets(s)->fds[0];
    assert_int_equal(shutdown(lfd, SHUT_RD), 0); /* accept(): EINVAL, still readable */
    run_one_iteration(loop);
    assert_true(rep.calls >= 1);
    assert_string_equal(rep.message,
                        "Exception in callback BaseSelectorEventLoop._accept_connection()");
    assert_string_equal(rep.exception, "OSError(22, 'Invalid argument')");
    server_done(loop, s, fut);
    finish(loop);
}

/* The factory fails: the connection is closed; only debug mode reports it. */
static void test_factory_fails(void **state)
{
    (void)state;
    for (int debug = 0; debug < 2; debug++) {
        trace t;
        aio_loop *loop = new_traced_loop(&t);
        aio_loop_set_debug(loop, debug);
        server_log log = {.factory_fails = true};
        handler_report rep = {0};
        aio_loop_set_exception_handler(loop, report_handler, &rep);
        log_record lr;
        log_record_start(&lr);
        aio_future *fut;
        aio_server *s = tcp_server(loop, &log, 0, &fut);
        int c = tcp_client(port_of(aio_server_sockets(s)->fds[0]));
        for (int i = 0; i < 3; i++)
            run_one_iteration(loop);
        log_record_stop();
        assert_int_equal(log.factory_calls, 1);
        assert_true(readable(c));
        char b;
        assert_int_equal(read(c, &b, 1), 0);
        if (debug) {
            assert_int_equal(rep.calls, 1);
            assert_string_equal(rep.message, "Error on transport creation for incoming connection");
            assert_string_equal(rep.exception,
                                "AttributeError(\"'NoneType' object has no attribute "
                                "'connection_made'\")");
        } else {
            assert_int_equal(rep.calls, 0);
        }
        close(c);
        server_done(loop, s, fut);
        finish(loop);
    }
}

/* Closed between accept() and the transport: Server._attach()'s assertion
 * drops the connection. */
static void test_closed_before_transport(void **state)
{
    (void)state;
    trace t;
    aio_loop *loop = new_traced_loop(&t);
    server_log log = {0};
    aio_future *fut;
    aio_server *s = tcp_server(loop, &log, 0, &fut);
    int c = tcp_client(port_of(aio_server_sockets(s)->fds[0]));
    run_one_iteration(loop);
    assert_int_equal(log.factory_calls, 0);
    aio_server_close(s);
    for (int i = 0; i < 3; i++)
        run_one_iteration(loop);
    assert_int_equal(log.factory_calls, 1);
    assert_int_equal(log.made, 0);
    assert_int_equal(log.released, 1);
    assert_true(readable(c));
    char b;
    assert_int_equal(read(c, &b, 1), 0);
    close(c);
    aio_decref(fut);
    finish(loop);
}

/* Debug mode logs the server's start (INFO) and each accepted connection
 * (DEBUG), as asyncio's logger does. */
static void test_debug_logs(void **state)
{
    (void)state;
    trace t;
    aio_loop *loop = new_traced_loop(&t);
    aio_loop_set_debug(loop, true);
    server_log log = {0};
    log_record lr;
    log_record_start(&lr);
    int level = aio_log_get_level();
    aio_log_set_level(AIO_LOG_DEBUG);
    aio_future *fut;
    aio_server *s = tcp_server(loop, &log, 0, &fut);
    char repr[256];
    repr_copy(s, repr, sizeof repr);
    char want[512];
    snprintf(want, sizeof want, "%s is serving", repr);
    assert_int_equal(lr.level, AIO_LOG_INFO);
    assert_string_equal(lr.message, want);
    int c = tcp_client(port_of(aio_server_sockets(s)->fds[0]));
    struct sockaddr_in local;
    socklen_t len = sizeof local;
    assert_int_equal(getsockname(c, (struct sockaddr *)&local, &len), 0);
    run_one_iteration(loop);
    snprintf(want, sizeof want, "%s got a new connection from ('127.0.0.1', %d): <socket.socket fd=",
             repr, ntohs(local.sin_port));
    assert_int_equal(lr.level, AIO_LOG_DEBUG);
    assert_memory_equal(lr.message, want, strlen(want));
    aio_log_set_level(level);
    log_record_stop();
    for (int i = 0; i < 2; i++)
        run_one_iteration(loop);
    assert_int_equal(log.made, 1);
    close(c);
    server_done(loop, s, fut);
    finish(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_accept_order),
    cmocka_unit_test(test_backlog_per_readiness),
    cmocka_unit_test(test_many_connections),
    cmocka_unit_test(test_emfile),
    cmocka_unit_test(test_emfile_then_close),
    cmocka_unit_test(test_accept_error),
    cmocka_unit_test(test_factory_fails),
    cmocka_unit_test(test_closed_before_transport),
    cmocka_unit_test(test_debug_logs),
};

AIO_TEST_MAIN(tests)
