/* wait.c - the coroutines that wait: asyncio.sleep(), wait(), wait_for(),
 * (tasks.py, 3.11). */
#include <math.h>
#include <string.h>

#include "casyncio/api.h"
#include "impl.h"
#include "loop.h"
#include "ptrset.h"
#include "task.h"
#include "names.h"

/* --- Waiters ----------------------------------------------------------------------- */

/* _release_waiter(waiter): wakes the waiting coroutine. */
static void release_waiter(void *arg)
{
    aio_future *waiter = arg;
    if (waiter->state == AIO__FUTURE_PENDING)
        aio__future_finish_result(waiter, NULL, NULL);
}

/* functools.partial(_release_waiter, waiter) as a done callback on fut.
 * The registration holds a reference to the waiter. */
static void release_waiter_done(aio_future *fut, void *arg)
{
    (void)fut;
    release_waiter(arg);
    aio__decref(arg);
}

static int add_release_waiter(aio_future *fut, aio_future *waiter)
{
    aio__incref(waiter);
    if (aio__future_add_done_callback(fut, &(aio__future_add_done_callback_args){
                                               .callback = release_waiter_done,
                                               .callback_arg = waiter,
                                           }) < 0) {
        aio__decref(waiter);
        return -1;
    }
    return 0;
}

static void remove_release_waiter(aio_future *fut, aio_future *waiter)
{
    int removed = aio__future_remove_done_callback(fut, release_waiter_done, waiter);
    while (removed-- > 0)
        aio__decref(waiter);
}

/* call_later(delay, _release_waiter, waiter), a reference kept by the caller. */
static aio_handle *release_later(aio_loop *loop, double delay, aio_future *waiter)
{
    aio_handle *h = aio__loop_call_later(loop, &(aio__loop_call_later_args){
                                                   .delay = delay,
                                                   .callback = release_waiter,
                                                   .args = waiter,
                                               });
    return h != NULL ? aio_incref(h) : NULL;
}


/* await waiter: 0, or -1 with the exception set. */
static int await_waiter(aio_future *waiter)
{
    return aio_await(waiter) == NULL && aio_err_occurred() ? -1 : 0;
}

/* --- sleep --------------------------------------------------------------------- */

int aio_sleep(double delay)
{
    aio__task *t = aio__task_running("aio_sleep()");
    if (t == NULL)
        return -1;
    if (delay <= 0)
        return aio__task_suspend(t, NULL); /* __sleep0(): one bare yield */
    aio_loop *loop = t->fut.loop;
    if (isnan(delay) && aio_loop_get_target_version(loop) >= AIO_PY(3, 13)) {
        aio_err_set(aio_ValueError, "Invalid delay: NaN (not a number)");
        return -1;
    }
    /* call_later(delay, futures._set_result_unless_cancelled, future, None),
     * which is what _release_waiter() does. */
    aio_future *fut = aio__loop_create_future(loop);
    if (fut == NULL)
        return -1;
    aio_handle *h = release_later(loop, delay, fut);
    if (h == NULL) {
        aio__decref(fut);
        return -1;
    }
    int rc = await_waiter(fut);
    aio__handle_drop(&h); /* finally: h.cancel() */
    aio__decref(fut);
    return rc;
}

/* --- wait_for ------------------------------------------------------------------------- */

/* _cancel_and_wait(fut): cancels fut and waits until it is done, without
 * awaiting fut itself, so that this stays cancellable. */
static int cancel_and_wait(aio_loop *loop, aio_future *fut)
{
    aio_future *waiter = aio__loop_create_future(loop);
    if (waiter == NULL)
        return -1;
    int rc = -1;
    if (add_release_waiter(fut, waiter) == 0) {
        if (aio__future_cancel_any(fut, NULL) >= 0)
            rc = await_waiter(waiter);
        aio_exc *pending = aio_err_fetch();
        remove_release_waiter(fut, waiter);
        aio_err_restore(pending);
    }
    aio__decref(waiter);
    return rc;
}

/* `raise TimeoutError from exc` inside `except CancelledError as exc`:
 * the CancelledError is both the cause and the context. The class is the
 * target's asyncio.TimeoutError (timeouts() is 3.11+: the builtin). */
void aio__raise_timeout_from_cancelled(void)
{
    aio_exc *cancelled = aio_err_fetch();
    aio_exc *timeout = aio_exc_new(aio__asyncio_timeout_error(), NULL);
    if (timeout != NULL) {
        aio_exc_set_cause(timeout, cancelled);
        aio_exc_set_context(timeout, cancelled);
        aio_err_restore(timeout);
    }
    aio__decref(cancelled); /* out of memory: MemoryError stays set */
}

/* fut.result(), with a CancelledError turned into TimeoutError from it. */
static void *result_or_timeout(aio_future *fut)
{
    void *result = aio__future_result(fut);
    if (result == NULL && aio_err_matches(aio_CancelledError))
        aio__raise_timeout_from_cancelled();
    return result;
}

/* What wait_for() makes of a future it cancelled at its deadline: from 3.9
 * its outcome (a CancelledError as TimeoutError from it); 3.8 raises
 * TimeoutError regardless (from the CancelledError when timeout <= 0, an
 * exception of fut's own propagating then); 3.7 a bare TimeoutError. */
static void *outcome_after_deadline(int version, aio_future *fut, bool immediate)
{
    if (version >= AIO_PY(3, 9))
        return result_or_timeout(fut);
    if (version >= AIO_PY(3, 8) && immediate) {
        (void)aio__future_result(fut); /* raises fut's exception, if any */
        if (aio_err_matches(aio_CancelledError)) {
            aio__raise_timeout_from_cancelled();
            return NULL;
        }
        if (aio_err_occurred() != NULL)
            return NULL;
    }
    aio_err_set(aio__asyncio_timeout_error(), NULL);
    return NULL;
}

/* 3.12's wait_for() past its timeout <= 0 case: `async with
 * timeout(timeout): return await fut` - the deadline cancels the current
 * task, and so the future it awaits, and the scope's exit turns that
 * cancellation into TimeoutError; a future already done gives its outcome
 * without a suspension. */
static void *wait_for_in_timeout(aio_future *fut, double timeout)
{
    aio_timeout *to = aio__timeout_after(timeout);
    if (to == NULL)
        return NULL;
    if (aio_timeout_enter(to) < 0) {
        aio__decref(to);
        return NULL;
    }
    void *result = aio_await(fut);
    int rc = aio_timeout_exit(to);
    aio__decref(to);
    return rc < 0 ? NULL : result;
}

void *aio__wait_for(aio_future *fut, double timeout)
{
    aio__task *t = aio__task_running("aio_wait_for()");
    if (t == NULL)
        return NULL;
    aio_loop *loop = t->fut.loop;
    if (aio__future_check_ensure(fut, NULL) < 0)
        return NULL;
    if (isinf(timeout) && timeout > 0)
        return aio_await(fut); /* timeout=None */
    int version = aio_loop_get_target_version(loop);
    if (timeout > 0 && version >= AIO_PY(3, 12))
        return wait_for_in_timeout(fut, timeout);
    if (aio__future_check_ensure(fut, loop) < 0)
        return NULL;
    if (timeout <= 0) {
        if (fut->state != AIO__FUTURE_PENDING)
            return aio__future_result(fut);
        if (version < AIO_PY(3, 8)) { /* 3.7 cancels without waiting */
            if (aio__future_cancel_any(fut, NULL) >= 0)
                aio_err_set(aio__asyncio_timeout_error(), NULL);
            return NULL;
        }
        if (cancel_and_wait(loop, fut) < 0)
            return NULL;
        return outcome_after_deadline(version, fut, true);
    }
    aio_future *waiter = aio__loop_create_future(loop);
    if (waiter == NULL)
        return NULL;
    aio_handle *timer = release_later(loop, timeout, waiter);
    if (timer == NULL || add_release_waiter(fut, waiter) < 0) {
        aio__handle_drop(&timer);
        aio__decref(waiter);
        return NULL;
    }
    void *result = NULL;
    aio__incref(fut);
    if (await_waiter(waiter) < 0) {
        if (version < AIO_PY(3, 8) && aio_err_matches(aio_CancelledError)) {
            /* 3.7: cancels fut, done or not, and waits for nothing */
            aio_exc *cancelled = aio_err_fetch();
            remove_release_waiter(fut, waiter);
            if (aio__future_cancel_any(fut, NULL) < 0)
                aio__decref(cancelled);
            else
                aio_err_restore(cancelled);
        } else if (aio_err_matches(aio_CancelledError) && fut->state != AIO__FUTURE_PENDING) {
            aio_err_clear();
            result = aio__future_result(fut);
        } else {
            /* Cancelled: fut must not run on after wait_for() returns. */
            aio_exc *cancelled = aio_err_fetch();
            remove_release_waiter(fut, waiter);
            if (cancel_and_wait(loop, fut) < 0) {
                aio__decref(cancelled);
            } else {
                aio_err_restore(cancelled);
            }
        }
    } else if (fut->state != AIO__FUTURE_PENDING) {
        result = aio__future_result(fut);
    } else {
        remove_release_waiter(fut, waiter);
        if (cancel_and_wait(loop, fut) == 0)
            result = outcome_after_deadline(version, fut, false);
    }
    aio_exc *pending = aio_err_fetch();
    aio__handle_drop(&timer); /* finally: timeout_handle.cancel() */
    aio__decref(waiter);
    aio__decref(fut);
    aio_err_restore(pending);
    return result;
}

/* --- wait -------------------------------------------------------------------------------- */

/* _wait()'s shared state; each registration on a future holds a reference,
 * since a completion may be scheduled but not yet run when wait() returns. */
typedef struct wait_state {
    int refs;
    size_t counter;
    aio_return_when return_when;
    aio_future *waiter;
    aio_handle *timer;
} wait_state;

static void wait_state_decref(wait_state *st)
{
    if (--st->refs == 0) {
        aio__decref(st->waiter);
        aio__decref(st->timer);
        free(st);
    }
}

/* _on_completion(f). */
static void wait_on_completion(aio_future *f, void *arg)
{
    wait_state *st = arg;
    st->counter--;
    /* counter <= 0 or return_when == FIRST_COMPLETED or (return_when ==
     * FIRST_EXCEPTION and not f.cancelled() and f.exception() is not None):
     * f.exception(), which marks it retrieved, is only evaluated in the
     * last case. */
    bool release = st->counter == 0 || st->return_when == AIO_FIRST_COMPLETED;
    if (!release && st->return_when == AIO_FIRST_EXCEPTION &&
        f->state == AIO__FUTURE_FINISHED) {
        f->log_traceback = false; /* f.exception() was read */
        release = f->exception != NULL;
    }
    if (release) {
        if (st->timer != NULL)
            aio__handle_cancel(st->timer);
        if (st->waiter->state == AIO__FUTURE_PENDING)
            aio__future_finish_result(st->waiter, NULL, NULL);
    }
    wait_state_decref(st);
}

void aio_wait_result_clear(aio_wait_result *result)
{
    if (result == NULL)
        return;
    for (size_t i = 0; i < result->done_len; i++)
        aio__decref(result->done[i]);
    for (size_t i = 0; i < result->pending_len; i++)
        aio__decref(result->pending[i]);
    free(result->done);
    free(result->pending);
    memset(result, 0, sizeof *result);
}

/* set(fs): the distinct futures, in argument order; their number, or -1
 * with MemoryError. */
static ptrdiff_t distinct(aio_future *const *aws, size_t n, aio_future **out)
{
    aio__ptrset seen;
    if (aio__ptrset_init(&seen, n) < 0)
        return -1;
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        if (aio__ptrset_add(&seen, aws[i]))
            out[len++] = aws[i];
    }
    aio__ptrset_clear(&seen);
    return (ptrdiff_t)len;
}

int aio__wait(aio_future *const *aws, size_t n, const aio__wait_args *args, aio_wait_result *result)
{
    memset(result, 0, sizeof *result);
    if (n == 0 || aws == NULL) {
        /* `if not fs`: wait(None) says the same (the running loop's
         * target names coroutines up to 3.10) */
        aio_err_set(aio_ValueError, aio__current_target_version() >= AIO_PY(3, 11)
                                        ? "Set of Tasks/Futures is empty."
                                        : "Set of coroutines/Futures is empty.");
        return -1;
    }
    if (args->return_when != AIO_ALL_COMPLETED && args->return_when != AIO_FIRST_COMPLETED &&
        args->return_when != AIO_FIRST_EXCEPTION) {
        aio_err_format(aio_ValueError, "Invalid return_when value: %d", (int)args->return_when);
        return -1;
    }
    aio__task *t = aio__task_running("aio_wait()");
    if (t == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (aws[i] == NULL) {
            aio_err_set(aio_TypeError, "expect a list of futures, not NoneType");
            return -1;
        }
    }
    aio_loop *loop = t->fut.loop;
    aio_future **fs = aio__malloc(n * sizeof *fs);
    wait_state *st = aio__calloc(1, sizeof *st);
    if (fs == NULL || st == NULL) {
        free(fs);
        free(st);
        return -1;
    }
    ptrdiff_t distinct_len = distinct(aws, n, fs);
    if (distinct_len < 0) {
        free(fs);
        free(st);
        return -1;
    }
    size_t len = (size_t)distinct_len;
    st->refs = 1;
    st->counter = len;
    st->return_when = (aio_return_when)args->return_when;
    int rc = -1;
    if ((st->waiter = aio__loop_create_future(loop)) == NULL)
        goto out;
    if (!args->timeout_is_none) {
        if ((st->timer = release_later(loop, args->timeout, st->waiter)) == NULL)
            goto out;
    }
    size_t registered = 0;
    for (; registered < len; registered++) {
        st->refs++;
        if (aio__future_add_done_callback(fs[registered],
                                          &(aio__future_add_done_callback_args){
                                              .callback = wait_on_completion,
                                              .callback_arg = st,
                                          }) < 0) {
            st->refs--;
            break;
        }
    }
    if (registered == len)
        rc = await_waiter(st->waiter);
    /* finally: cancel the timer, take the callbacks back. */
    aio_exc *pending = aio_err_fetch();
    if (st->timer != NULL)
        aio__handle_cancel(st->timer);
    for (size_t i = 0; i < registered; i++) {
        int removed = aio__future_remove_done_callback(fs[i], wait_on_completion, st);
        while (removed-- > 0)
            wait_state_decref(st);
    }
    aio_err_restore(pending);
    if (rc == 0) {
        result->done = aio__malloc(len * sizeof *result->done);
        result->pending = aio__malloc(len * sizeof *result->pending);
        if (result->done == NULL || result->pending == NULL) {
            aio_wait_result_clear(result);
            rc = -1;
            goto out;
        }
        for (size_t i = 0; i < len; i++) {
            if (fs[i]->state != AIO__FUTURE_PENDING)
                result->done[result->done_len++] = aio_incref(fs[i]);
            else
                result->pending[result->pending_len++] = aio_incref(fs[i]);
        }
    }
out:
    wait_state_decref(st);
    free(fs);
    return rc;
}

/* What reprs and logs call these callbacks: CPython's names for them. */
AIO__NAME(release_waiter, "_release_waiter", AIO__NAME_ARG_OBJECT);
AIO__NAME(release_waiter_done, "_release_waiter", AIO__NAME_ARG_OBJECT);
AIO__NAME(wait_on_completion, "_wait.<locals>._on_completion", AIO__NAME_SELF_ARG);
