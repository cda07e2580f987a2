/* datagram_transport.h - _SelectorDatagramTransport (selector_events.py,
 * 3.11): a datagram socket (UDP or AF_UNIX SOCK_DGRAM) under a datagram
 * protocol. Internal. */
#ifndef CASYNCIO_RUNTIME_DATAGRAM_TRANSPORT_H
#define CASYNCIO_RUNTIME_DATAGRAM_TRANSPORT_H

#include <stddef.h>

#include "socket_transport.h"

/* A transport for the datagram socket fd (non-blocking already), taking
 * the socket and the protocol over. address: the default destination
 * (remote_addr, the endpoint's `_address`) or NULL. connection_made(), the
 * start of reading and the waiter (when not NULL) come in the next
 * iteration, in that order. New reference; NULL with the exception set,
 * the socket, the protocol and the waiter's reference still the caller's. */
AIO_INTERNAL aio_transport *aio__datagram_transport_new(aio_loop *loop, int fd,
                                                        aio_protocol *protocol,
                                                        const aio__address_buf *address,
                                                        const aio__transport_waiter *waiter);

/* Whether recvfrom()'s address names the sender; Python gives None when it
 * does not (nothing, or an unbound AF_UNIX socket's bare family). */
static inline bool aio__sender_known(const struct sockaddr_storage *ss, socklen_t len)
{
    if (len == 0)
        return false;
    return ss->ss_family != AF_UNIX || len > offsetof(struct sockaddr_un, sun_path);
}

/* What socket.sendto() makes of addr for a socket of `family`: a numeric
 * address at once, a host name through a blocking getaddrinfo(), as
 * Python's socket module does. 0, or -1 with the exception sendto()
 * raises (TypeError for the form, OverflowError for the port,
 * socket.gaierror for a name that does not resolve). */
AIO_INTERNAL int aio__sendto_address(const aio_address *addr, int family,
                                     struct sockaddr_storage *ss, socklen_t *len);

#endif /* CASYNCIO_RUNTIME_DATAGRAM_TRANSPORT_H */
