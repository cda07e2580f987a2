/* pipe_transport.h - the pipe transports of pipe_transport.c, for what
 * makes them without connect_read_pipe()/connect_write_pipe() (the
 * subprocess transport's pipes). Internal. */
#ifndef CASYNCIO_RUNTIME_PIPE_TRANSPORT_H
#define CASYNCIO_RUNTIME_PIPE_TRANSPORT_H

#include <stdbool.h>

#include "transport.h"

/* What is called instead of the waiter's callback when the transport's
 * reader cannot start for want of memory (a transport that would never
 * read): the transport is closed already; arg is the waiter's (its
 * reference taken over), exc a reference. */
typedef void (*aio__pipe_waiter_fail)(void *arg, aio_transport *t, aio_exc *exc);

/* A _UnixReadPipeTransport (write_side false) or _UnixWritePipeTransport
 * over fd, which must be non-blocking already and is the transport's once
 * this succeeds, taking the protocol over: connection_made() and the
 * reader (on the write side only with watch_reader: a pipe, FIFO or socket
 * whose reader going away is noticed so) in the next iteration, then the
 * waiter's callback when waiter is not NULL (or waiter_fail, when not NULL,
 * if the reader failed with MemoryError). New reference; NULL with the
 * exception set, the fd, the waiter and the protocol still the caller's. */
AIO_INTERNAL aio_transport *aio__pipe_transport_new(aio_loop *loop, int fd, bool write_side,
                                                    bool watch_reader, aio_protocol *protocol,
                                                    const aio__transport_waiter *waiter,
                                                    aio__pipe_waiter_fail waiter_fail);

#endif /* CASYNCIO_RUNTIME_PIPE_TRANSPORT_H */
