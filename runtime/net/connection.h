/* connection.h - making a connection's transport and protocol. Internal. */
#ifndef CASYNCIO_RUNTIME_CONNECTION_H
#define CASYNCIO_RUNTIME_CONNECTION_H

#include "socket_transport.h"

/* _create_connection_transport(): fd made non-blocking, the protocol from
 * factory(factory_arg), a socket transport over fd (which it takes over).
 * The future (new reference) has the (transport, protocol) pair as its
 * result once connection_made() has run; cancelled or failed, the
 * transport is closed. NULL with the exception set when nothing was made
 * (fd still the caller's; a protocol made, released). */
AIO_INTERNAL aio_future *aio__connection_start(aio_loop *loop, int fd,
                                               aio_protocol_factory factory, void *factory_arg,
                                               const aio__address_buf *peername);

/* The same in two steps, for a method that must hand out its future before
 * the socket is connected: a pending future that the pair will complete
 * (new reference; cancelled or failed, the transport, once there, is
 * closed), then attach() of the connected fd, which does the rest. attach:
 * 0, or -1 with the exception set and fd still the caller's (the future
 * is left pending, for the caller to fail). */
AIO_INTERNAL aio_future *aio__connection_future_new(aio_loop *loop);
/* Hands the future `owner`, released (release(owner)) when the future is
 * freed: the state of the method connecting, which lives as long as its
 * future. */
AIO_INTERNAL void aio__connection_set_owner(aio_future *fut, void *owner,
                                            void (*release)(void *owner));
AIO_INTERNAL int aio__connection_attach(aio_future *fut, int fd, aio_protocol_factory factory,
                                        void *factory_arg, const aio__address_buf *peername);

/* os.set_blocking(fd, False): 0, or -1 with OSError. */
AIO_INTERNAL int aio__set_nonblocking(int fd);

/* For a transport other than a socket's (a pipe's, a datagram endpoint's): the waiter its start
 * ends with, which completes fut with the pair (it takes a reference to
 * fut: release it when the transport could not be made), and the pair once
 * the transport is made (the future takes the reference to t over). */
AIO_INTERNAL void aio__connection_waiter(aio_future *fut, aio__transport_waiter *waiter);
AIO_INTERNAL void aio__connection_set_pair(aio_future *fut, aio_transport *t,
                                           aio_protocol *protocol);

/* `sock.type != SOCK_STREAM`: ValueError('A Stream Socket was expected,
 * got <socket...>'); OSError for what is not a socket. */
AIO_INTERNAL int aio__check_stream_socket(int fd);

/* The checks of ssl's companions, and, until TLS lands, NotImplementedError
 * for ssl itself. */
AIO_INTERNAL int aio__check_no_ssl(aio_ssl_context *ssl, bool handshake_timeout_given,
                                   bool shutdown_timeout_given);

/* OSError(err, "error while attempting to bind on address <address>:
 * <reason>"), the reason lowercased: strerror up to 3.12, str(exc) from
 * 3.13 ("[errno 98] address already in use"), as `loop`'s target version
 * has it. `address` is the repr already made. A new reference, NULL on
 * MemoryError (set). */
AIO_INTERNAL aio_exc *aio__bind_error(aio_loop *loop, int err, const char *address);
/* Its message alone (malloc'd; NULL on MemoryError, set). */
AIO_INTERNAL char *aio__bind_error_message(aio_loop *loop, int err, const char *address);

/* 3.13's create_server() skips an address that bind() refuses with
 * EADDRNOTAVAIL (its family taken for disabled, bpo-30945). */
static inline bool aio__bind_skips_unavailable(aio_loop *loop)
{
    return aio_loop_get_target_version(loop) >= AIO_PY(3, 13);
}

#endif /* CASYNCIO_RUNTIME_CONNECTION_H */
