/* sock_io.h - what the loop's sock_* coroutines share (selector_events.py,
 * 3.11): a future that waits for a socket to be readable or writable and
 * does one step of its operation each time it is. Internal.
 *
 * The step runs only while the future is pending (`if fut.done(): return`);
 * it completes the future, or leaves it pending to be called again. When
 * the future is done (or cancelled), a done callback of its own removes the
 * reader or writer, unless the handle was replaced or cancelled meanwhile
 * (another sock_recv() on the same descriptor), as _sock_read_done() and
 * _sock_write_done() do.
 */
#ifndef CASYNCIO_RUNTIME_SOCK_IO_H
#define CASYNCIO_RUNTIME_SOCK_IO_H

#include <errno.h>

#include "future.h"
#include "loop.h"

typedef struct aio__sock_future aio__sock_future;
typedef void (*aio__sock_step)(aio__sock_future *sf);

struct aio__sock_future {
    aio_future fut;
    int fd;
    bool reading;            /* a reader (else a writer) is registered */
    aio_handle *handle;      /* the reader's or writer's handle while the loop
                                holds it (not a reference) */
    aio__sock_step step;     /* one try of the operation */
    void (*clear)(aio__sock_future *sf); /* frees what the operation holds */
    void *op;                /* the operation's own state */
    bool unwatch_when_ready; /* 3.8's sock_accept(): no done callback; the
                                reader goes when it runs and finds the
                                future done (a cancel leaves it till then) */
};

/* A pending sock future of `loop` for fd; op (may be NULL) is freed with
 * clear (may be NULL) when the future is. New reference; NULL with
 * MemoryError (clear(op) not called: op is still the caller's). */
AIO_INTERNAL aio__sock_future *aio__sock_future_new(aio_loop *loop, int fd, aio__sock_step step,
                                                    void (*clear)(aio__sock_future *sf),
                                                    void *op);

/* The three ends of a first try, each a new reference or NULL with the
 * exception set: a future already done with `result` (freed with
 * result_free, also when the future cannot be made); one failed with errno
 * `err`'s OSError; one that waits for fd to be readable (writable) and
 * then runs step, owning op (clear(op) also when it cannot be made). */
AIO_INTERNAL aio_future *aio__sock_future_done(aio_loop *loop, void *result,
                                               void (*result_free)(void *));
AIO_INTERNAL aio_future *aio__sock_future_failed(aio_loop *loop, int err);
AIO_INTERNAL aio_future *aio__sock_future_wait(aio_loop *loop, int fd, bool reading,
                                               aio__sock_step step,
                                               void (*clear)(aio__sock_future *sf), void *op);

/* _ensure_fd_no_transport(fd), then _add_reader/_add_writer(fd, step) and
 * the done callback that removes it. 0, or -1 with the exception set
 * (nothing registered). */
AIO_INTERNAL int aio__sock_future_watch(aio__sock_future *sf, bool reading);

/* The public add_writer(fd, step) alone (_ensure_fd_no_transport first),
 * with no done callback: for operations that manage their writer
 * themselves (sock_sendfile). 0 or -1 with the exception set. */
AIO_INTERNAL int aio__sock_future_add_writer(aio__sock_future *sf);

/* Debug mode's check of sock_*(): ValueError('the socket must be
 * non-blocking') for a descriptor without O_NONBLOCK. 0 or -1. */
AIO_INTERNAL int aio__sock_check_nonblocking(aio_loop *loop, int fd);

/* True for the errors a non-blocking call retries later (BlockingIOError,
 * InterruptedError). */
static inline bool aio__sock_would_block(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

#endif /* CASYNCIO_RUNTIME_SOCK_IO_H */
