/* sock_connect.h - a non-blocking connect() driven by the loop (the
 * selector loop's _sock_connect and _sock_connect_cb), shared by
 * loop.sock_connect() and the methods that open connections. Internal. */
#ifndef CASYNCIO_RUNTIME_SOCK_CONNECT_H
#define CASYNCIO_RUNTIME_SOCK_CONNECT_H

#include "sockaddr.h"

/* Told once how a pending connect ended: exc NULL when connected, else the
 * OSError ("[Errno 111] Connect call failed ('127.0.0.1', 1)"), a new
 * reference the callee takes over. */
typedef void (*aio__connect_done)(void *arg, aio_exc *exc);

typedef struct aio__connect_op aio__connect_op;

/* connect(fd, ss) on the non-blocking socket fd. 0: connected at once.
 * -1: failed at once, the exception set (the OSError of connect() itself,
 * or what refused to watch fd). 1: in progress: *pending is the operation
 * (a reference for the caller); the loop watches fd for writing and calls
 * done(arg, exc) once, from the writer's callback, unless the caller
 * abandons it first. `display` is how the failure message shows the
 * address (str() of Python's address: a tuple's repr, a path as is). */
AIO_INTERNAL int aio__connect_begin(aio_loop *loop, int fd, const struct sockaddr_storage *ss,
                                    socklen_t len, const char *display, aio__connect_done done,
                                    void *arg, aio__connect_op **pending);

/* Stops watching (when still pending: done is never called) and drops the
 * caller's reference. NULL is ignored. */
AIO_INTERNAL void aio__connect_abandon(aio__connect_op *op);

/* str() of the address Python's sock_connect() reports, in `out`: the
 * (host, port) tuple, the 4-tuple for AF_INET6, the AF_UNIX path itself or
 * the repr of an abstract name. */
AIO_INTERNAL int aio__connect_display(const aio_address *a, int family, aio__strbuf *out);

#endif /* CASYNCIO_RUNTIME_SOCK_CONNECT_H */
