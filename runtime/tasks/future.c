/* future.c - asyncio.Future (the behaviour of CPython's _asyncio.Future). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "casyncio/api.h"
#include "exc.h"
#include "future.h"
#include "impl.h"
#include "loop.h"
#include "names.h"

static void future_dealloc(void *obj);

AIO__DEFINE_TYPE(future_type) = {"Future", future_dealloc, aio__future_repr, 0};

aio_future *aio__loop_create_future(aio_loop *loop)
{
    aio_future *fut = aio__calloc(1, sizeof *fut);
    if (fut == NULL)
        return NULL;
    aio__future_init(fut, &future_type, loop);
    return fut;
}

bool aio__future_reuse(aio_future *fut)
{
    if (aio__type_of(fut) != &future_type || fut->ob.refcnt != 1 ||
        fut->state != AIO__FUTURE_FINISHED || fut->exception != NULL ||
        fut->result_free != NULL || fut->callbacks_len != 0 || fut->cancel_message != NULL ||
        fut->cancelled_exc != NULL || fut->log_traceback)
        return false;
    fut->state = AIO__FUTURE_PENDING;
    fut->result = NULL;
    fut->yield_on_await = false;
    return true;
}

void aio__future_init(aio_future *fut, const aio__type *type, aio_loop *loop)
{
    aio__object_init(fut, type);
    fut->loop = aio_incref(loop);
    fut->state = AIO__FUTURE_PENDING;
    fut->yield_on_await = false;
    fut->callbacks = fut->callbacks_inline;
    fut->callbacks_len = 0;
    fut->callbacks_cap = 1;
}

static void callbacks_clear(aio_future *fut)
{
    for (size_t i = 0; i < fut->callbacks_len; i++)
        aio__decref(fut->callbacks[i]);
    fut->callbacks_len = 0;
}

bool aio__future_report_from_del(aio_future *fut, const aio_exception_context *context)
{
    fut->ob.refcnt = 1; /* alive while the handler sees it */
    /* Like __del__: the caller's exception survives, and what the handler
     * raised (SystemExit, ...) cannot propagate from here. */
    aio_exc *saved = aio_err_fetch();
    aio__loop_call_exception_handler(fut->loop, context);
    aio_err_restore(saved);
    if (--fut->ob.refcnt > 0) {
        AIO__TRACK(1); /* the handler kept a reference: alive again */
        return false;
    }
    return true;
}

bool aio__future_finalize(aio_future *fut)
{
    if (!fut->log_traceback || fut->loop == NULL)
        return true;
    fut->log_traceback = false;
    /* f'{self.__class__.__name__} exception was never retrieved' */
    char message[96];
    snprintf(message, sizeof message, "%s exception was never retrieved",
             aio__type_of(fut)->name);
    aio_exception_context context = {
        .message = message,
        .exception = fut->exception,
        .future = fut,
    };
    return aio__future_report_from_del(fut, &context);
}

void aio__future_clear(aio_future *fut)
{
    callbacks_clear(fut);
    if (fut->callbacks != fut->callbacks_inline)
        free(fut->callbacks);
    fut->callbacks = fut->callbacks_inline;
    fut->callbacks_cap = 1;
    if (fut->result_free != NULL)
        fut->result_free(fut->result);
    aio__decref(fut->exception);
    aio__decref(fut->cancelled_exc);
    free(fut->cancel_message);
    aio__decref(fut->loop);
}

/* Future.__del__: an exception nobody retrieved goes to the handler. */
static void future_dealloc(void *obj)
{
    aio_future *fut = obj;
    if (!aio__future_finalize(fut))
        return;
    aio__future_clear(fut);
    free(fut);
}

static int format_callbacks(const aio_future *fut, aio__strbuf *out)
{
    size_t n = fut->callbacks_len;
    aio__sb_append(out, " cb=[");
    for (size_t i = 0; i < n; i++) {
        if (n > 2 && i == 1) {
            aio__sb_appendf(out, "<%zu more>, ", n - 2);
            i = n - 2;
            continue;
        }
        void (*fn)(void) = (void (*)(void))fut->callbacks[i]->done_callback;
        int flags = aio__name_append(NULL, fn);
        if (flags > 0 && (flags & AIO__NAME_WAKEUP) && fut->callbacks[i]->old_names)
            aio__sb_appendf(out, "<" AIO__WAKEUP_WRAPPER_NAME " object at %p>",
                            aio__handle_arg(fut->callbacks[i]));
        else
            aio__format_function(out, fn);
        aio__sb_append(out, i + 1 < n ? "(), " : "()");
    }
    return aio__sb_append(out, "]");
}

static const char *const state_names[] = {"pending", "cancelled", "finished"};

const char *aio__future_state_name(const aio_future *fut)
{
    return state_names[fut->state];
}

int aio__future_repr_tail(const aio_future *fut, aio__strbuf *out)
{
    if (fut->state == AIO__FUTURE_FINISHED) {
        if (fut->exception != NULL) {
            aio__sb_append(out, " exception=");
            aio__repr_into(fut->exception, out);
        } else if (fut->result == NULL) {
            aio__sb_append(out, " result=None");
        } else {
            aio__sb_appendf(out, " result=%p", fut->result);
        }
    }
    if (fut->callbacks_len > 0)
        format_callbacks(fut, out);
    return 0;
}

int aio__future_repr(const void *obj, aio__strbuf *out)
{
    const aio_future *fut = obj;
    aio__sb_appendf(out, "<%s %s", aio__type_of(fut)->name, aio__future_state_name(fut));
    aio__future_repr_tail(fut, out);
    return aio__sb_append(out, ">");
}

/* __schedule_callbacks: each callback, in order, via call_soon. */
static int schedule_callbacks(aio_future *fut)
{
    size_t n = fut->callbacks_len;
    fut->callbacks_len = 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            rc = aio__loop_schedule_done(fut->loop, fut->callbacks[i], fut);
        else
            aio__decref(fut->callbacks[i]); /* call_soon raised: the rest is lost */
    }
    return rc;
}

static int invalid_state(const char *message)
{
    aio_err_set(aio_InvalidStateError, message);
    return -1;
}

/* Up to 3.10 a cancelled future's CancelledError is always a new one (its
 * message the future's own), chained from 3.9 to the Task's CancelledError
 * by __context__; result() and exception() keep that one for the next
 * retrieval, _make_cancelled_error() (`consume`) lets go of it. 3.11 hands
 * the Task's own CancelledError to the first retrieval. */
static aio_exc *cancelled_error(aio_future *fut, bool consume)
{
    int version = aio_loop_get_target_version(fut->loop);
    if (version >= AIO_PY(3, 11)) {
        aio_exc *exc = fut->cancelled_exc;
        if (exc != NULL) {
            fut->cancelled_exc = NULL;
            return exc;
        }
        return aio_exc_new(aio_CancelledError, fut->cancel_message);
    }
    aio_exc *exc = aio_exc_new(aio_CancelledError, fut->cancel_message);
    if (version >= AIO_PY(3, 9) && fut->cancelled_exc != NULL &&
        aio_exc_type_of(exc) == aio_CancelledError) {
        aio_exc_set_context(exc, fut->cancelled_exc);
        if (consume) {
            aio__decref(fut->cancelled_exc);
            fut->cancelled_exc = NULL;
        }
    }
    return exc;
}

aio_exc *aio__future_make_cancelled_error(aio_future *fut)
{
    return cancelled_error(fut, true);
}

aio_exc *aio__future_result_cancelled_error(aio_future *fut)
{
    return cancelled_error(fut, false);
}

static void raise_cancelled(aio_future *fut)
{
    aio_err_restore(cancelled_error(fut, false));
}

void *aio__future_result(aio_future *fut)
{
    if (fut->state == AIO__FUTURE_CANCELLED) {
        raise_cancelled(fut);
        return NULL;
    }
    if (fut->state != AIO__FUTURE_FINISHED) {
        invalid_state("Result is not set.");
        return NULL;
    }
    fut->log_traceback = false;
    if (fut->exception != NULL) {
        aio_err_set_exc(fut->exception);
        return NULL;
    }
    return fut->result;
}

aio_exc *aio__future_exception(aio_future *fut)
{
    if (fut->state == AIO__FUTURE_CANCELLED) {
        raise_cancelled(fut);
        return NULL;
    }
    if (fut->state != AIO__FUTURE_FINISHED) {
        invalid_state("Exception is not set.");
        return NULL;
    }
    fut->log_traceback = false;
    return fut->exception;
}

int aio__future_finish_result(aio_future *fut, void *result, void (*result_free)(void *))
{
    if (fut->state != AIO__FUTURE_PENDING) {
        if (result_free != NULL)
            result_free(result);
        return invalid_state("invalid state");
    }
    fut->result = result;
    fut->result_free = result_free;
    fut->state = AIO__FUTURE_FINISHED;
    return schedule_callbacks(fut);
}

/* Task overrides set_result() and set_exception() to refuse them. */
static int task_refuses(const char *operation)
{
    aio_err_format(aio_RuntimeError, "Task does not support %s operation", operation);
    return -1;
}

int aio__future_set_result_owned(aio_future *fut, void *result, void (*result_free)(void *))
{
    if (AIO_UNLIKELY(fut->is_task)) {
        if (result_free != NULL)
            result_free(result);
        return task_refuses("set_result");
    }
    return aio__future_finish_result(fut, result, result_free);
}

int aio__future_set_result(aio_future *fut, void *result)
{
    return aio__future_set_result_owned(fut, result, NULL);
}

int aio__future_finish_exception(aio_future *fut, aio_exc *exception)
{
    if (fut->state != AIO__FUTURE_PENDING)
        return invalid_state("invalid state");
    if (exception == NULL) {
        aio_err_set(aio_TypeError, "invalid exception object");
        return -1;
    }
    static const char stop_message[] = "StopIteration interacts badly with generators and "
                                       "cannot be raised into a Future";
    aio_exc *stored;
    if (aio_loop_get_target_version(fut->loop) >= AIO_PY(3, 13)) {
        /* 3.13 stores a RuntimeError caused by it (a subclass too) */
        if (!aio_exc_isinstance(exception, aio_StopIteration)) {
            stored = aio_incref(exception);
        } else {
            stored = aio_exc_new(aio_RuntimeError, stop_message);
            if (aio_exc_type_of(stored) != aio_RuntimeError) { /* MemoryError */
                aio_err_restore(stored);
                return -1;
            }
            aio_exc_set_cause(stored, exception);
            aio_exc_set_context(stored, exception);
        }
    } else if (aio_exc_type_of(exception) == aio_StopIteration) {
        aio_err_set(aio_TypeError, stop_message);
        return -1;
    } else {
        stored = aio_incref(exception);
    }
    fut->exception = stored;
    fut->state = AIO__FUTURE_FINISHED;
    fut->log_traceback = true;
    return schedule_callbacks(fut);
}

void aio__future_fail(aio_future *fut, aio_exc *exception)
{
    if (exception == NULL)
        exception = aio_err_fetch();
    aio__future_finish_exception(fut, exception);
    aio__decref(exception);
}

int aio__future_set_exception(aio_future *fut, aio_exc *exception)
{
    if (AIO_UNLIKELY(fut->is_task))
        return task_refuses("set_exception");
    return aio__future_finish_exception(fut, exception);
}

int aio__future_done(aio_future *fut)
{
    return fut->state != AIO__FUTURE_PENDING;
}

int aio__future_cancelled(aio_future *fut)
{
    return fut->state == AIO__FUTURE_CANCELLED;
}

int aio__future_cancel_plain(aio_future *fut, const char *msg)
{
    fut->log_traceback = false;
    if (fut->state != AIO__FUTURE_PENDING)
        return 0;
    if (msg != NULL && (fut->cancel_message = aio__strdup(msg)) == NULL)
        return -1;
    fut->state = AIO__FUTURE_CANCELLED;
    return schedule_callbacks(fut) < 0 ? -1 : 1;
}

int aio__future_cancel(aio_future *fut, const aio__future_cancel_args *args)
{
    return aio__future_cancel_any(fut, args->msg);
}

int aio__future_add_done_callback(aio_future *fut, const aio__future_add_done_callback_args *args)
{
    if (fut->state != AIO__FUTURE_PENDING) {
        aio__ctxmap *map = args->context ? NULL : aio__ctxmap_capture();
        return aio__loop_call_soon_done(fut->loop, args->callback, fut, args->callback_arg, map,
                                        args->context);
    }
    if (fut->callbacks_len == fut->callbacks_cap) {
        size_t cap = fut->callbacks_cap ? 2 * fut->callbacks_cap : 2;
        aio_handle **callbacks;
        if (fut->callbacks == fut->callbacks_inline || fut->callbacks == NULL) {
            callbacks = aio__malloc(cap * sizeof *callbacks);
            if (callbacks == NULL)
                return -1;
            if (fut->callbacks_len > 0)
                memcpy(callbacks, fut->callbacks, fut->callbacks_len * sizeof *callbacks);
        } else {
            callbacks = aio__realloc(fut->callbacks, cap * sizeof *callbacks);
            if (callbacks == NULL)
                return -1;
        }
        fut->callbacks = callbacks;
        fut->callbacks_cap = cap;
    }
    aio__ctxmap *map = args->context ? NULL : aio__ctxmap_capture();
    aio_handle *handle = aio__handle_new_done(fut->loop, args->callback, NULL, args->callback_arg,
                                              map, args->context);
    if (handle == NULL)
        return -1;
    fut->callbacks[fut->callbacks_len++] = handle;
    return 0;
}

int aio__future_remove_done_callback(aio_future *fut, aio_done_callback callback,
                                     void *callback_arg)
{
    size_t kept = 0, removed = 0;
    for (size_t i = 0; i < fut->callbacks_len; i++) {
        aio_handle *cb = fut->callbacks[i];
        if (cb->done_callback == callback && cb->arg == callback_arg) {
            aio__decref(cb);
            removed++;
        } else {
            fut->callbacks[kept++] = cb;
        }
    }
    fut->callbacks_len = kept;
    return (int)removed;
}

size_t aio__future_remove_done_callbacks_if(aio_future *fut, aio_done_callback callback,
                                            bool (*which)(void *callback_arg))
{
    size_t kept = 0, removed = 0;
    for (size_t i = 0; i < fut->callbacks_len; i++) {
        aio_handle *cb = fut->callbacks[i];
        if (cb->done_callback == callback && which(cb->arg)) {
            aio__decref(cb);
            removed++;
        } else {
            fut->callbacks[kept++] = cb;
        }
    }
    fut->callbacks_len = kept;
    return removed;
}

/* futures._set_result_unless_cancelled(fut, None). */
static void set_result_unless_cancelled(void *arg)
{
    aio_future *fut = arg;
    if (fut->state != AIO__FUTURE_CANCELLED)
        aio__future_finish_result(fut, NULL, NULL);
}

static void drop_future(void *arg)
{
    aio__decref(arg);
}

static void set_result_unless_cancelled_cb(void *arg)
{
    set_result_unless_cancelled(arg);
    aio__decref(arg);
}

int aio__future_set_result_soon(aio_future *fut)
{
    aio__incref(fut);
    const aio__loop_call_soon_args args = {
        .callback = set_result_unless_cancelled_cb, .args = fut, .args_release = drop_future};
    if (aio__loop_call_soon(fut->loop, &args) == NULL) {
        aio__decref(fut);
        return -1;
    }
    return 0;
}

void aio__future_done_after_yield(aio_future *fut)
{
    fut->yield_on_await = fut->state != AIO__FUTURE_PENDING;
}

int aio__future_check_ensure(aio_future *fut, aio_loop *loop)
{
    if (fut == NULL) {
        aio_err_set(aio_TypeError, "An asyncio.Future, a coroutine or an awaitable is required");
        return -1;
    }
    if (loop != NULL && fut->loop != loop) {
        aio_err_set(aio_ValueError, "The future belongs to a different loop than the one "
                                    "specified as the loop argument");
        return -1;
    }
    return 0;
}

aio_loop *aio__future_get_loop(aio_future *fut)
{
    return fut->loop;
}

/* What reprs and logs call these callbacks: CPython's names for them. */
AIO__NAME(set_result_unless_cancelled_cb, "futures._set_result_unless_cancelled",
          AIO__NAME_ARG_OBJECT);
