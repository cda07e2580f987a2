/* accept.c - the accept loop of a listening socket (selector_events.py,
 * 3.11.7: _start_serving, _accept_connection, _accept_connection2,
 * _stop_serving).
 *
 * Each readiness of a listening socket accepts up to `backlog`
 * connections. Each is made into a socket transport in the next
 * iteration (where asyncio's task for it takes its first step): the
 * protocol from the factory, then connection_made() one iteration later.
 * When accept() runs out of descriptors or memory (EMFILE, ENFILE,
 * ENOBUFS, ENOMEM) the exception handler hears of it, the reader is
 * removed and put back after ACCEPT_RETRY_DELAY seconds, so the loop does
 * not spin on a socket that stays readable; as in asyncio, the loop goes
 * on through its `backlog` attempts, each reported and each arming a
 * retry.
 */
#include "server.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "casyncio/log.h"
#include "exc.h"
#include "names.h"
#include "sockaddr.h"
#include "socket_transport.h"

static void release_listener(void *arg)
{
    aio__listener *l = arg;
    aio__decref(l->server);
}

/* An accepted connection waiting for its transport. */
typedef struct accepted {
    aio_server *server;       /* a reference */
    int fd;                   /* -1 once a transport has it */
    aio__address_buf peername;
} accepted;

static void release_accepted(void *arg)
{
    accepted *a = arg;
    if (a->fd >= 0)
        close(a->fd);
    aio__decref(a->server);
    free(a);
}

/* In debug mode only, as asyncio's task reports it. Takes exc over. */
static void report_creation_error(aio_loop *loop, aio_exc *exc, aio_protocol *protocol,
                                  aio_transport *t)
{
    if (aio__loop_debug(loop)) {
        aio_exception_context context = {
            .message = "Error on transport creation for incoming connection",
            .exception = exc,
            .protocol = protocol,
            .transport = t,
        };
        aio__loop_call_exception_handler(loop, &context);
        aio_err_clear();
    }
    aio__decref(exc);
}

/* _accept_connection2(): the protocol, then the transport, attached to
 * the server. */
static void make_transport(accepted *a)
{
    aio_server *s = a->server;
    aio_loop *loop = s->loop;
    aio_protocol *protocol = s->factory(s->factory_arg);
    if (protocol == NULL) {
        if (aio_err_occurred() == NULL)
            aio_err_set(aio_AttributeError,
                        "'NoneType' object has no attribute 'connection_made'");
        report_creation_error(loop, aio_err_fetch(), NULL, NULL);
        return;
    }
    if (s->closed) {
        /* Server._attach() asserts the server is open. */
        aio_err_set(aio_AssertionError, NULL);
        report_creation_error(loop, aio_err_fetch(), protocol, NULL);
        aio__protocol_release(protocol);
        return;
    }
    aio__server_client *client = aio__server_client_new(s);
    aio_transport *t = NULL;
    if (client != NULL)
        t = aio__socket_transport_new(loop, a->fd, protocol, NULL, &a->peername,
                                      aio__server_detach, client);
    if (t == NULL) {
        free(client);
        report_creation_error(loop, aio_err_fetch(), protocol, NULL);
        aio__protocol_release(protocol);
        return;
    }
    a->fd = -1;
    aio__server_attach(client, t);
    aio__decref(t);
}

/* A one-shot callback: it owns its argument once it runs. */
static void accept_step(void *arg)
{
    make_transport(arg);
    release_accepted(arg);
}

/* Debug mode's record of an accepted connection: "<Server ...> got a new
 * connection from ('127.0.0.1', 5000): <socket.socket ...>". */
static void log_accepted(aio_server *s, int fd, const aio__address_buf *peer)
{
    aio__strbuf sb = AIO__STRBUF_INIT;
    char *server = aio_repr(s);
    aio__address_repr(&peer->addr, &sb);
    size_t at = sb.len;
    aio__socket_repr_at(fd, "socket.socket", aio_loop_get_target_version(s->loop), &sb);
    if (sb.data != NULL)
        aio_log(AIO_LOG_DEBUG, NULL, "%s got a new connection from %.*s: %s",
                server ? server : "<Server>", (int)at, sb.data, sb.data + at);
    aio_err_clear();
    free(server);
    aio__sb_free(&sb);
}

static void retry_start(void *arg);

/* accept() ran out of a system resource: reported, and the reader put
 * back after a while. */
static void out_of_resource(aio__listener *l, int err)
{
    aio_server *s = l->server;
    aio_exc *exc = aio_exc_from_errno(err);
    aio_exception_context context = {
        .message = "socket.accept() out of system resource",
        .exception = exc,
        .socket = l->fd == 0 ? AIO_ZERO : l->fd,
    };
    aio__loop_call_exception_handler(s->loop, &context);
    aio_err_clear();
    aio__decref(exc);
    if (aio__io_remove_reader(s->loop, l->fd) < 0)
        aio_err_clear();
    aio__incref(s);
    const aio__loop_call_later_args later = {.delay = AIO__ACCEPT_RETRY_DELAY,
                                             .callback = retry_start,
                                             .args = l,
                                             .args_release = release_listener};
    if (aio__loop_call_later(s->loop, &later) == NULL) {
        /* No timer: accepting goes on at the next readiness instead. */
        aio_err_clear();
        aio__decref(s);
        if (aio__listener_start(l) < 0)
            aio_err_clear();
    }
}

static void accept_connection(void *arg)
{
    aio__listener *l = arg;
    aio_server *s = aio_incref(l->server); /* the handler may close it */
    for (int i = 0; i < s->backlog && l->fd >= 0; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int err = errno;
            if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNABORTED)
                break;
            if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
                out_of_resource(l, err);
                continue;
            }
            /* The loop reports it as the callback's exception. */
            aio_err_set_from_errno(err);
            break;
        }
        accepted *a = aio__calloc(1, sizeof *a);
        if (a == NULL) {
            close(fd);
            break;
        }
        a->server = aio_incref(s);
        a->fd = fd;
        aio__address_from_sockaddr(&a->peername, (struct sockaddr *)&ss, len);
        if (aio__loop_debug(s->loop))
            log_accepted(s, fd, &a->peername);
        const aio__loop_call_soon_args soon = {
            .callback = accept_step, .args = a, .args_release = release_accepted};
        if (aio__loop_call_soon(s->loop, &soon) == NULL) {
            release_accepted(a);
            break;
        }
    }
    aio_exc *pending = aio_err_fetch();
    aio__decref(s);
    aio_err_restore(pending);
}

int aio__listener_start(aio__listener *l)
{
    aio__incref(l->server);
    if (aio__io_add_reader(l->server->loop, l->fd, accept_connection, l, release_listener) < 0) {
        aio__decref(l->server);
        return -1;
    }
    return 0;
}

/* The retry timer's _start_serving(). asyncio's timer outlives close()
 * and then fails on the closed socket; here it does nothing. */
static void retry_start(void *arg)
{
    aio__listener *l = arg;
    aio_server *s = aio_incref(l->server);
    release_listener(l); /* a one-shot callback owns its argument */
    /* A failure is the callback's exception, which the loop reports. */
    if (!s->closed && l->fd >= 0)
        aio__listener_start(l);
    aio_exc *pending = aio_err_fetch();
    aio__decref(s);
    aio_err_restore(pending);
}

void aio__listener_stop(aio__listener *l)
{
    if (l->fd < 0)
        return;
    aio_server *s = l->server;
    aio__incref(s);
    if (aio__io_remove_reader(s->loop, l->fd) < 0)
        aio_err_clear();
    close(l->fd);
    l->fd = -1;
    aio__decref(s);
}

/* What reprs and logs call these callbacks. */
AIO__NAME(accept_connection, "BaseSelectorEventLoop._accept_connection", AIO__NAME_SELF_ARG);
AIO__NAME(accept_step, "BaseSelectorEventLoop._accept_connection2", AIO__NAME_SELF_ARG);
AIO__NAME(retry_start, "BaseSelectorEventLoop._start_serving", AIO__NAME_SELF_ARG);
