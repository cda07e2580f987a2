/* future.h - the Future object, shared with tasks. Internal. */
#ifndef CASYNCIO_RUNTIME_FUTURE_H
#define CASYNCIO_RUNTIME_FUTURE_H

#include "context.h"
#include "object.h"

typedef enum aio__future_state {
    AIO__FUTURE_PENDING,
    AIO__FUTURE_CANCELLED,
    AIO__FUTURE_FINISHED,
} aio__future_state;


struct aio_future {
    aio__object ob;
    aio_loop *loop;
    aio__future_state state;
    void *result;
    void (*result_free)(void *result);
    aio_exc *exception;
    char *cancel_message;
    aio_exc *cancelled_exc;   /* a Task's own CancelledError, handed to the
                                 first retrieval only (_cancelled_exc) */
    bool log_traceback;       /* an exception nobody has looked at yet */
    /* The done callbacks, each already made into the Handle that will run
     * it (with the context captured when it was added), so that completing
     * the future allocates nothing and cannot lose a callback for want of
     * memory. Their `future` is set when they are scheduled. */
    aio_handle **callbacks;   /* callbacks_inline until a second one */
    size_t callbacks_len;
    size_t callbacks_cap;
    /* The first callback's place, so that a future with one done callback
     * (a task waiting on it: the common case) allocates no array. */
    aio_handle *callbacks_inline[1];
    bool is_task;             /* an aio__task (task.h) */
    /* Done before the coroutine it stands for would return: that coroutine
     * ends with `await sleep(0)`, so the first aio_await() of the done
     * future yields once (aio__future_done_after_yield()). */
    bool yield_on_await;
    /* A subclass's cancel(msg) (Task, gather's future); NULL: Future's. */
    int (*cancel)(aio_future *fut, const char *msg);
};

/* call_soon(futures._set_result_unless_cancelled, fut, None): 0, or -1
 * with the exception set (nothing scheduled). */
AIO_INTERNAL int aio__future_set_result_soon(aio_future *fut);
/* Marks a done future as a coroutine's result whose last step is `await
 * sleep(0)`: the task that first awaits it with aio_await() is resumed on
 * the next iteration, as the awaiting coroutine would be. */
AIO_INTERNAL void aio__future_done_after_yield(aio_future *fut);
/* Makes a future of aio_loop_create_future() that finished with a plain
 * result (no exception, no owned result, no callbacks left) pending again,
 * for its only holder to wait on anew instead of making another: true, or
 * false (untouched) when it is not such a future or others hold it. */
AIO_INTERNAL bool aio__future_reuse(aio_future *fut);
/* Sets up a future (or the Future part of a Task) of `loop`, pending. */
AIO_INTERNAL void aio__future_init(aio_future *fut, const aio__type *type, aio_loop *loop);
/* Future.__del__'s report of an exception nobody retrieved ("<class name>
 * exception was never retrieved"): false when the handler kept the future
 * alive. */
AIO_INTERNAL bool aio__future_finalize(aio_future *fut);
/* Calls the exception handler from a dealloc (a __del__): the future lives
 * while the handler sees it; false when the handler kept it alive. */
AIO_INTERNAL bool aio__future_report_from_del(aio_future *fut,
                                              const aio_exception_context *context);
/* Drops what the future holds (not the future itself). */
AIO_INTERNAL void aio__future_clear(aio_future *fut);
/* "pending", "cancelled", "finished". */
AIO_INTERNAL const char *aio__future_state_name(const aio_future *fut);
/* repr(): "<ClassName state ...>", the class name being the type's. */
AIO_INTERNAL int aio__future_repr(const void *obj, aio__strbuf *out);
/* The part of repr() after the state: result or exception, callbacks. */
AIO_INTERNAL int aio__future_repr_tail(const aio_future *fut, aio__strbuf *out);

/* Future.set_result(), set_exception() and cancel() themselves, which a
 * Task uses internally (its own methods refuse the first two and replace
 * the third). */
AIO_INTERNAL int aio__future_finish_result(aio_future *fut, void *result,
                                           void (*result_free)(void *));
AIO_INTERNAL int aio__future_finish_exception(aio_future *fut, aio_exc *exception);
/* finish_exception() taking exception over; NULL takes the current
 * exception (what a failed allocation raised). */
AIO_INTERNAL void aio__future_fail(aio_future *fut, aio_exc *exception);
AIO_INTERNAL int aio__future_cancel_plain(aio_future *fut, const char *msg);
/* remove_done_callback() of every `callback` whose argument `which`
 * accepts, in one walk of the callbacks (many removals from one future
 * would each walk them all). Returns how many. */
AIO_INTERNAL size_t aio__future_remove_done_callbacks_if(aio_future *fut, aio_done_callback callback,
                                                         bool (*which)(void *callback_arg));
/* ensure_future(fut, loop=loop)'s checks: TypeError for None, ValueError
 * for a future of another loop than `loop` (unless NULL). 0 or -1. */
AIO_INTERNAL int aio__future_check_ensure(aio_future *fut, aio_loop *loop);
/* _make_cancelled_error(): the saved CancelledError the first time, then
 * CancelledError(cancel message). New reference. */
AIO_INTERNAL aio_exc *aio__future_make_cancelled_error(aio_future *fut);
/* The one result() raises (up to 3.10 it keeps the saved CancelledError
 * for later retrievals; from 3.11 the same as above). */
AIO_INTERNAL aio_exc *aio__future_result_cancelled_error(aio_future *fut);
/* fut.cancel(msg), whatever fut's class: 1, 0, or -1 with the exception set. */
static inline int aio__future_cancel_any(aio_future *fut, const char *msg)
{
    return fut->cancel != NULL ? fut->cancel(fut, msg) : aio__future_cancel_plain(fut, msg);
}

/* set_result() handing the future ownership of the result, freed with
 * result_free when the future is (coroutine methods' results). */
AIO_INTERNAL int aio__future_set_result_owned(aio_future *fut, void *result,
                                              void (*result_free)(void *));

#endif /* CASYNCIO_RUNTIME_FUTURE_H */
