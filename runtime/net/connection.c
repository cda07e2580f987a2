/* connection.c - what every method that makes a connection ends with
 * (base_events.py: _create_connection_transport): the protocol from the
 * factory, a socket transport over the connected socket, and a future
 * whose result is the (transport, protocol) pair once connection_made()
 * has run. And loop.connect_accepted_socket(), which is only that.
 */
#include "connection.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "casyncio/log.h"
#include "exc.h"
#include "future.h"
#include "names.h"
#include "socket_transport.h"

/* The future of the pair is the transport's waiter itself, as the task
 * running asyncio's coroutine wakes up in the iteration after the
 * waiter's result: the transport's third callback gives it the pair.
 * Cancelled before that, the transport is closed when the cancellation
 * reaches the coroutine (`except: transport.close(); raise`): a done
 * callback of the future's own, registered first. */
typedef struct connection_future {
    aio_future fut;
    aio_transport_protocol pair;   /* a reference to the transport, the result's once set */
    void *owner;                   /* what makes the connection, if anything */
    void (*owner_release)(void *owner);
} connection_future;

static void connection_dealloc(void *obj)
{
    connection_future *c = obj;
    if (!aio__future_finalize(&c->fut))
        return;
    if (c->owner_release != NULL)
        c->owner_release(c->owner);
    if (c->fut.state != AIO__FUTURE_FINISHED)
        aio__decref(c->pair.transport);
    aio__future_clear(&c->fut);
    free(c);
}

AIO__DEFINE_TYPE(connection_future_type) = {"Future", connection_dealloc, aio__future_repr, 0};

static void free_pair(void *result)
{
    aio_transport_protocol *pair = result;
    aio__decref(pair->transport);
}

/* futures._set_result_unless_cancelled(waiter, None), the task's wakeup
 * and `return transport, protocol`, in one step. */
static void connection_ready(void *arg)
{
    connection_future *c = arg;
    if (c->fut.state == AIO__FUTURE_PENDING)
        aio__future_finish_result(&c->fut, &c->pair, free_pair);
    aio__decref(c);
}

static void drop_connection(void *arg)
{
    aio__decref(arg);
}

static void connection_done(aio_future *fut, void *arg)
{
    (void)arg;
    connection_future *c = (connection_future *)fut;
    if (fut->state == AIO__FUTURE_FINISHED || c->pair.transport == NULL)
        return;
    aio_transport *t = c->pair.transport;
    c->pair.transport = NULL;
    aio__transport_close(t);
    aio_err_clear();
    aio__decref(t);
}

aio_future *aio__connection_future_new(aio_loop *loop)
{
    connection_future *c = aio__calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    aio__future_init(&c->fut, &connection_future_type, loop);
    const aio__future_add_done_callback_args add = {.callback = connection_done};
    if (aio__future_add_done_callback(&c->fut, &add) < 0) {
        aio__decref(c);
        return NULL;
    }
    return &c->fut;
}

void aio__connection_set_owner(aio_future *fut, void *owner, void (*release)(void *owner))
{
    connection_future *c = (connection_future *)fut;
    c->owner = owner;
    c->owner_release = release;
}

char *aio__bind_error_message(aio_loop *loop, int err, const char *address)
{
    aio__strbuf sb = AIO__STRBUF_INIT;
    aio__sb_appendf(&sb, "error while attempting to bind on address %s: ", address);
    size_t at = sb.len;
    if (aio_loop_get_target_version(loop) >= AIO_PY(3, 13))
        aio__sb_appendf(&sb, "[Errno %d] ", err);
    aio__sb_append(&sb, strerror(err));
    char *msg = aio__sb_finish(&sb);
    if (msg == NULL)
        return NULL;
    for (char *c = msg + at; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    return msg;
}

aio_exc *aio__bind_error(aio_loop *loop, int err, const char *address)
{
    char *msg = aio__bind_error_message(loop, err, address);
    if (msg == NULL)
        return NULL;
    aio_exc *exc = aio_exc_oserror(aio_OSError, err, msg);
    free(msg);
    return exc;
}

int aio__set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        aio_err_set_from_errno(errno);
        return -1;
    }
    return 0;
}

void aio__connection_waiter(aio_future *fut, aio__transport_waiter *waiter)
{
    aio__incref(fut);
    *waiter = (aio__transport_waiter){connection_ready, fut, drop_connection};
}

void aio__connection_set_pair(aio_future *fut, aio_transport *t, aio_protocol *protocol)
{
    connection_future *c = (connection_future *)fut;
    c->pair.transport = t;
    c->pair.protocol = protocol;
}

int aio__connection_attach(aio_future *fut, int fd, aio_protocol_factory factory,
                           void *factory_arg, const aio__address_buf *peername)
{
    if (aio__set_nonblocking(fd) < 0) /* sock.setblocking(False) */
        return -1;
    aio_protocol *protocol = factory(factory_arg);
    if (protocol == NULL) {
        if (aio_err_occurred() == NULL)
            aio_err_set(aio_AttributeError,
                        "'NoneType' object has no attribute 'connection_made'");
        return -1;
    }
    aio__transport_waiter waiter;
    aio__connection_waiter(fut, &waiter);
    aio_transport *t =
        aio__socket_transport_new(fut->loop, fd, protocol, &waiter, peername, NULL, NULL);
    if (t == NULL) {
        aio__protocol_release(protocol);
        aio__decref(fut);
        return -1;
    }
    aio__connection_set_pair(fut, t, protocol);
    return 0;
}

aio_future *aio__connection_start(aio_loop *loop, int fd, aio_protocol_factory factory,
                                  void *factory_arg, const aio__address_buf *peername)
{
    aio_future *fut = aio__connection_future_new(loop);
    if (fut == NULL)
        return NULL;
    if (aio__connection_attach(fut, fd, factory, factory_arg, peername) < 0) {
        aio__decref(fut);
        return NULL;
    }
    return fut;
}

/* --- loop.connect_accepted_socket() --------------------------------------------------------- */

int aio__check_stream_socket(int fd)
{
    int family, type, proto;
    aio__socket_kind(fd, &family, &type, &proto);
    if (type < 0) {
        aio_err_set_from_errno(fcntl(fd, F_GETFD) < 0 ? EBADF : ENOTSOCK);
        return -1;
    }
    if (type != SOCK_STREAM) {
        aio__strbuf sb = AIO__STRBUF_INIT;
        aio__socket_repr(fd, "socket.socket", &sb);
        aio_err_format(aio_ValueError, "A Stream Socket was expected, got %s",
                       sb.data ? sb.data : "?");
        aio__sb_free(&sb);
        return -1;
    }
    return 0;
}

int aio__check_no_ssl(aio_ssl_context *ssl, bool handshake_timeout_given,
                      bool shutdown_timeout_given)
{
    if (handshake_timeout_given && ssl == NULL) {
        aio_err_set(aio_ValueError, "ssl_handshake_timeout is only meaningful with ssl");
        return -1;
    }
    if (shutdown_timeout_given && ssl == NULL) {
        aio_err_set(aio_ValueError, "ssl_shutdown_timeout is only meaningful with ssl");
        return -1;
    }
    if (ssl != NULL) {
        aio_err_set(aio_NotImplementedError, "TLS (ssl=) is not implemented yet");
        return -1;
    }
    return 0;
}

aio_future *aio__loop_connect_accepted_socket(aio_loop *loop,
                                              const aio__loop_connect_accepted_socket_args *args)
{
    /* In asyncio's order: the socket, ssl, then the factory is called,
     * and only making the transport finds a closed loop. */
    if (aio__check_stream_socket(args->sock) < 0 ||
        aio__check_no_ssl(args->ssl, !args->ssl_handshake_timeout_is_none,
                          !args->ssl_shutdown_timeout_is_none) < 0)
        return NULL;
    if (args->protocol_factory == NULL) {
        aio_err_set(aio_TypeError, "'NoneType' object is not callable");
        return NULL;
    }
    aio_future *fut = aio__connection_start(loop, args->sock, args->protocol_factory,
                                            args->protocol_factory_arg, NULL);
    if (fut != NULL && aio__loop_debug(loop)) {
        aio__strbuf sb = AIO__STRBUF_INIT;
        aio__socket_repr_at(args->sock, "asyncio.TransportSocket",
                            aio_loop_get_target_version(loop), &sb);
        aio_log(AIO_LOG_DEBUG, NULL, "%s handled", sb.data ? sb.data : "?");
        aio__sb_free(&sb);
    }
    return fut;
}

/* What reprs and logs call these callbacks. */
AIO__NAME(connection_ready, "futures._set_result_unless_cancelled", AIO__NAME_ARG_OBJECT);
AIO__NAME(connection_done, "BaseEventLoop._create_connection_transport", AIO__NAME_SELF_ARG);
