/* waiters.h - the queues of waiting tasks that locks and queues keep
 * (their `_waiters`, `_getters`, `_putters` deques of futures). Internal.
 *
 * A waiter is a plain pending Future, with links so that a task leaving
 * the queue (its `finally: waiters.remove(fut)`) takes itself out at once,
 * however long the queue. Its links live in the heap, not on the waiting
 * task's stack, which a shared-stack task lends to others while it waits.
 * A linked waiter holds a reference of the queue's.
 *
 * Also the loop binding of asyncio's _LoopBoundMixin: an object is bound to
 * the loop running when it first needs a future, and refuses any other.
 */
#ifndef CASYNCIO_RUNTIME_WAITERS_H
#define CASYNCIO_RUNTIME_WAITERS_H

#include "future.h"

typedef struct aio__waiter aio__waiter;
typedef struct aio__waiters aio__waiters;

struct aio__waiter {
    aio_future fut;                 /* a Future ("Future" in reprs) */
    aio__waiter *prev, *next;
    aio__waiters *list;             /* NULL once out of the queue */
};

struct aio__waiters {
    aio__waiter *head, *tail;
    size_t len;
};

/* _get_loop(): the running loop, binding *bound to it the first time
 * (a reference); RuntimeError('<repr of obj> is bound to a different event
 * loop') when obj is bound to another. NULL with the exception set. */
AIO_INTERNAL aio_loop *aio__bind_loop(aio_loop **bound, const void *obj);

/* fut = loop.create_future(); waiters.append(fut): a new waiter at the end
 * (the caller's reference; the queue holds another). */
AIO_INTERNAL aio__waiter *aio__waiter_append(aio__waiters *list, aio_loop *loop);
/* waiters.remove(fut), when it is still there; the queue's reference goes. */
AIO_INTERNAL void aio__waiter_remove(aio__waiter *w);
/* waiters.popleft(): the first waiter, out of the queue, with the queue's
 * reference handed to the caller; NULL when empty. */
AIO_INTERNAL aio__waiter *aio__waiter_popleft(aio__waiters *list);
/* Drops every waiter still queued (when the owner is freed). */
AIO_INTERNAL void aio__waiters_clear(aio__waiters *list);
/* fut.set_result(...) of a pending waiter. */
AIO_INTERNAL void aio__waiter_wake(aio__waiter *w);
/* `await fut`: 0, or -1 with the exception set (CancelledError, ...). */
AIO_INTERNAL int aio__waiter_await(aio__waiter *w);

static inline bool aio__waiter_done(const aio__waiter *w)
{
    return w->fut.state != AIO__FUTURE_PENDING;
}

/* Event.wait() from inside a task (queues' join() waits on one): 1, or -1
 * with the exception set. */
AIO_INTERNAL int aio__event_wait_in_task(aio_event *event);

#endif /* CASYNCIO_RUNTIME_WAITERS_H */
