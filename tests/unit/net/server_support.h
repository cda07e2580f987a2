/* server_support.h - what test_server.c and test_accept.c share: an echo
 * protocol made per connection, plain-socket clients, and servers made
 * and awaited. */
#ifndef CASYNCIO_TEST_SERVER_SUPPORT_H
#define CASYNCIO_TEST_SERVER_SUPPORT_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "test_support.h"

/* What the factory and the protocols it made saw, for a whole server. */
typedef struct server_log {
    trace t;
    int made, factory_calls, lost, released, eofs;
    size_t received;
    bool echo;            /* data_received() writes the data back */
    bool factory_fails;   /* the factory returns NULL */
    bool quiet;           /* nothing traced per connection */
    aio_transport *last;  /* the last transport connection_made() got */
} server_log;

typedef struct echo_protocol {
    aio_protocol base;
    server_log *log;
    aio_transport *transport;
} echo_protocol;

static void echo_made(aio_protocol *self, aio_transport *t)
{
    echo_protocol *p = (echo_protocol *)self;
    p->transport = t;
    p->log->made++;
    p->log->last = t;
    if (!p->log->quiet)
        trace_add(&p->log->t, "made;");
}
AIO_NAME_CALLBACK(echo_made);

static void echo_data(aio_protocol *self, const void *data, size_t len)
{
    echo_protocol *p = (echo_protocol *)self;
    p->log->received += len;
    if (!p->log->quiet)
        trace_add(&p->log->t, "data(%zu);", len);
    if (p->log->echo)
        aio_transport_write(p->transport, data, len);
}
AIO_NAME_CALLBACK(echo_data);

static bool echo_eof(aio_protocol *self)
{
    echo_protocol *p = (echo_protocol *)self;
    p->log->eofs++;
    if (!p->log->quiet)
        trace_add(&p->log->t, "eof;");
    return false;
}
AIO_NAME_CALLBACK(echo_eof);

static void echo_lost(aio_protocol *self, aio_exc *exc)
{
    echo_protocol *p = (echo_protocol *)self;
    char r[128];
    p->log->lost++;
    if (!p->log->quiet)
        trace_add(&p->log->t, "lost(%s);", repr_copy(exc, r, sizeof r));
}
AIO_NAME_CALLBACK(echo_lost);

static void echo_release(aio_protocol *self)
{
    echo_protocol *p = (echo_protocol *)self;
    p->log->released++;
    free(p);
}
AIO_NAME_CALLBACK(echo_release);

static aio_protocol *echo_factory(void *arg)
{
    server_log *log = arg;
    log->factory_calls++;
    if (!log->quiet)
        trace_add(&log->t, "factory;");
    if (log->factory_fails)
        return NULL;
    echo_protocol *p = calloc(1, sizeof *p);
    if (p == NULL) {
        aio_err_set(aio_MemoryError, NULL);
        return NULL;
    }
    p->log = log;
    p->base.connection_made = echo_made;
    p->base.data_received = echo_data;
    p->base.eof_received = echo_eof;
    p->base.connection_lost = echo_lost;
    p->base.release = echo_release;
    return &p->base;
}
AIO_NAME_CALLBACK(echo_factory);

/* Runs the loop until fut is done and returns its result; NULL when it
 * failed (the exception left set for the test). */
static inline void *await_result(aio_loop *loop, aio_future *fut)
{
    for (int i = 0; i < 1000 && aio_future_done(fut) != 1; i++)
        run_one_iteration(loop);
    assert_int_equal(aio_future_done(fut), 1);
    if (aio_future_cancelled(fut) == 1)
        return NULL;
    aio_exc *exc = aio_future_exception(fut);
    if (exc != NULL) {
        aio_err_set_exc(exc);
        return NULL;
    }
    return aio_future_result(fut);
}

/* The server a create_server() future gives; *fut keeps it alive. */
static inline aio_server *server_of(aio_loop *loop, aio_future *fut)
{
    assert_non_null(fut);
    aio_server *s = await_result(loop, fut);
    check_no_exception();
    assert_non_null(s);
    return s;
}

/* A TCP server on 127.0.0.1 with a free port. */
static inline aio_server *tcp_server(aio_loop *loop, server_log *log, int backlog,
                                     aio_future **fut)
{
    *fut = aio_loop_create_server(loop, &(aio_loop_create_server_args){
                                            .protocol_factory = echo_factory,
                                            .protocol_factory_arg = log,
                                            .host = "127.0.0.1",
                                            .port = AIO_ZERO,
                                            .backlog = backlog});
    return server_of(loop, *fut);
}

/* The port a listening socket has. */
static inline int port_of(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* A blocking client connected to 127.0.0.1:port; -1 with errno. */
static inline int tcp_client(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

/* Waits (at most a second) for fd to be readable. */
static inline bool readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 1000) == 1;
}

/* Closes the server, runs the loop until its connections are gone, and
 * drops the create_server() future. */
static inline void server_done(aio_loop *loop, aio_server *s, aio_future *fut)
{
    assert_int_equal(aio_server_close(s), 0);
    for (int i = 0; i < 5; i++)
        run_one_iteration(loop);
    aio_decref(fut);
}

#endif /* CASYNCIO_TEST_SERVER_SUPPORT_H */
