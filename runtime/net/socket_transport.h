/* socket_transport.h - _SelectorSocketTransport. Internal. */
#ifndef CASYNCIO_RUNTIME_SOCKET_TRANSPORT_H
#define CASYNCIO_RUNTIME_SOCKET_TRANSPORT_H

#include "sockaddr.h"
#include "transport.h"

/* Called once when the transport's connection ends (Server._detach()). */
typedef void (*aio__transport_detach)(void *arg);

/* A transport for the connected stream socket fd (non-blocking already),
 * taking the socket and the protocol over: connection_made(), the start
 * of reading and the waiter (when waiter is not NULL) come in the next
 * iteration, in that order. peername: what accept() said, or NULL to ask
 * getpeername(). New reference; NULL with the exception set, the socket,
 * the protocol and the waiter's reference still the caller's. */
AIO_INTERNAL aio_transport *aio__socket_transport_new(aio_loop *loop, int fd,
                                                      aio_protocol *protocol,
                                                      const aio__transport_waiter *waiter,
                                                      const aio__address_buf *peername,
                                                      aio__transport_detach detach,
                                                      void *detach_arg);

/* loop.sendfile()'s hooks (selector_events.py): a socket transport is
 * sendfile's TRY_NATIVE kind; its descriptor; _make_empty_waiter(), a
 * future done once the write buffer is empty (new reference; NULL with
 * RuntimeError('Empty waiter is already set')), failed by a write error or
 * the connection's loss; while it is set, write() raises RuntimeError
 * ('unable to write; sendfile is in progress'); _reset_empty_waiter(). */
AIO_INTERNAL bool aio__is_socket_transport(aio_transport *t);
AIO_INTERNAL int aio__socket_transport_fd(aio_transport *t);
AIO_INTERNAL aio_future *aio__socket_transport_make_empty_waiter(aio_transport *t);
AIO_INTERNAL void aio__socket_transport_reset_empty_waiter(aio_transport *t);
/* True while the empty waiter is set (a sendfile() in progress). */
AIO_INTERNAL bool aio__socket_transport_sendfile_active(aio_transport *t);

#endif /* CASYNCIO_RUNTIME_SOCKET_TRANSPORT_H */
