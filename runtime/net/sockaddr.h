/* sockaddr.h - socket addresses between Python's forms and the kernel's.
 * Internal. */
#ifndef CASYNCIO_RUNTIME_SOCKADDR_H
#define CASYNCIO_RUNTIME_SOCKADDR_H

#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "object.h"

/* An address the library hands out: the aio_address and the strings it
 * points to, in one block. */
typedef struct aio__address_buf {
    aio_address addr;
    char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
} aio__address_buf;

/* Copies an address buffer (its pointers point into itself). */
AIO_INTERNAL void aio__address_buf_copy(aio__address_buf *dst, const aio__address_buf *src);

/* The form of `a`: its kind, or the one AIO_ADDRESS_AUTO stands for (a
 * path, unnamed, or a host and port). */
AIO_INTERNAL aio_address_kind aio__address_kind(const aio_address *a);

/* setsockopt(fd, level, name, 1): 0, or -1 with the OSError set. */
AIO_INTERNAL int aio__set_socket_flag(int fd, int level, int name);

/* What socket.getsockname() makes of a kernel address. */
AIO_INTERNAL void aio__address_from_sockaddr(aio__address_buf *out, const struct sockaddr *sa,
                                             socklen_t len);

/* What socket.connect() (bind(), sendto(): `method`) makes of `a` for a
 * socket of `family`: 0 and the kernel's address; 1 when the host is not a
 * numeric address (the caller resolves it first); -1 with the exception
 * Python raises (TypeError for the wrong form, OverflowError for the port,
 * OSError('AF_UNIX path too long')). */
AIO_INTERNAL int aio__sockaddr_from_address(const aio_address *a, int family,
                                            const char *method, struct sockaddr_storage *ss,
                                            socklen_t *len);

/* repr() of the address as Python prints it: ('127.0.0.1', 80),
 * ('::1', 80, 0, 0), '/run/x.sock', b'\x00name', ''. */
AIO_INTERNAL int aio__address_repr(const aio_address *a, aio__strbuf *out);

/* The socket's family, type and protocol (getsockopt), -1 each when they
 * cannot be had (not a socket). */
AIO_INTERNAL void aio__socket_kind(int fd, int *family, int *type, int *proto);

/* repr() of a socket: "<socket.socket fd=5, family=2, type=1, proto=6,
 * laddr=(...), raddr=(...)>" (`name` "socket.socket", or
 * "asyncio.TransportSocket"), as the running loop's target version (the
 * process default outside a loop) prints it; _at: as `version` prints it
 * (to 3.10 the enums by name: family=AddressFamily.AF_INET,
 * type=SocketKind.SOCK_STREAM; before 3.8 no TransportSocket). */
AIO_INTERNAL int aio__socket_repr(int fd, const char *name, aio__strbuf *out);
AIO_INTERNAL int aio__socket_repr_at(int fd, const char *name, int version, aio__strbuf *out);

#endif /* CASYNCIO_RUNTIME_SOCKADDR_H */
