/* timeouts.c - asyncio.Timeout, timeout() and timeout_at() (timeouts.py,
 * 3.11): an object with a life of its own (created, entered once, then
 * expired or finished), which still answers when(), expired() and repr()
 * after its scope is over. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "casyncio/api.h"
#include "impl.h"
#include "loop.h"
#include "names.h"
#include "task.h"

typedef enum timeout_state {
    TIMEOUT_CREATED,
    TIMEOUT_ENTERED,   /* "active" */
    TIMEOUT_EXPIRING,
    TIMEOUT_EXPIRED,
    TIMEOUT_EXITED,    /* "finished" */
} timeout_state;

static const char *const state_names[] = {"created", "active", "expiring", "expired", "finished"};

struct aio_timeout {
    aio__object ob;
    timeout_state state;
    double when;               /* HUGE_VAL for None */
    aio__task *task;           /* a reference, once entered */
    int cancelling;            /* task.cancelling() on entry */
    aio_handle *handler;       /* a reference, while scheduled */
};

static bool is_none(double when)
{
    return isinf(when) && when > 0;
}

/* A NULL self, as Python words Timeout.method(None). */
static void null_self(const char *name)
{
    aio_err_format(aio_TypeError,
                   "descriptor '%s' for 'Timeout' objects doesn't apply to a 'NoneType' object",
                   name);
}

static void timeout_dealloc(void *obj)
{
    aio_timeout *to = obj;
    /* Dropped while its scope is still open: nothing may fire into it. */
    aio__handle_drop(&to->handler);
    aio__decref(to->task);
    free(to);
}

/* "<Timeout [active] when=12.346>": the deadline, rounded to milliseconds,
 * only while the scope is active. */
static int timeout_repr(const void *obj, aio__strbuf *out)
{
    const aio_timeout *to = obj;
    aio__sb_appendf(out, "<Timeout [%s]", state_names[to->state]);
    if (to->state == TIMEOUT_ENTERED) {
        aio__sb_append(out, " when=");
        if (is_none(to->when)) {
            aio__sb_append(out, "None");
        } else {
            /* round(when, 3): the correctly rounded decimal, read back. */
            char buf[64];
            snprintf(buf, sizeof buf, "%.3f", to->when);
            aio__sb_append_float(out, strtod(buf, NULL));
        }
    }
    return aio__sb_append(out, ">");
}

AIO__DEFINE_TYPE(timeout_type) = {"Timeout", timeout_dealloc, timeout_repr, 0};

static aio_timeout *timeout_new(double when)
{
    aio_timeout *to = aio__calloc(1, sizeof *to);
    if (to == NULL)
        return NULL;
    aio__object_init(to, &timeout_type);
    to->state = TIMEOUT_CREATED;
    to->when = when;
    return to;
}

aio_timeout *aio__timeout_at(double when)
{
    return timeout_new(when);
}

aio_timeout *aio__timeout_after(double delay)
{
    aio_loop *loop = aio__get_running_loop();
    if (loop == NULL)
        return NULL;
    return timeout_new(is_none(delay) ? delay : aio__loop_time(loop) + delay);
}

/* Timeout._on_timeout: cancel the task; the CancelledError it gets becomes
 * TimeoutError at exit. */
static void timeout_fire(void *arg)
{
    aio_timeout *to = arg;
    aio__task_request_cancel(&to->task->fut, NULL);
    to->state = TIMEOUT_EXPIRING;
    aio__decref(to->handler);
    to->handler = NULL;
}

int aio__timeout_reschedule(aio_timeout *to, double when)
{
    if (to->state != TIMEOUT_ENTERED) {
        if (to->state == TIMEOUT_CREATED)
            aio_err_set(aio_RuntimeError, "Timeout has not been entered");
        else
            aio_err_format(aio_RuntimeError, "Cannot change state of %s Timeout",
                           state_names[to->state]);
        return -1;
    }
    to->when = when;
    aio__handle_drop(&to->handler);
    if (is_none(when))
        return 0;
    aio_loop *loop = aio__get_running_loop();
    if (loop == NULL)
        return -1;
    aio_handle *h;
    if (when <= aio__loop_time(loop))
        h = aio__loop_call_soon(loop, &(aio__loop_call_soon_args){.callback = timeout_fire,
                                                                  .args = to});
    else
        h = aio__loop_call_at(loop, &(aio__loop_call_at_args){
                                        .when = when, .callback = timeout_fire, .args = to});
    if (h == NULL)
        return -1;
    to->handler = aio_incref(h);
    return 0;
}

int aio_timeout_enter(aio_timeout *to)
{
    if (to == NULL) {
        null_self("__aenter__");
        return -1;
    }
    if (to->state != TIMEOUT_CREATED) {
        aio_err_set(aio_RuntimeError, "Timeout has already been entered");
        return -1;
    }
    aio_loop *loop = aio__get_running_loop();
    if (loop == NULL)
        return -1;
    aio_task *task = aio__current_task(loop);
    if (task == NULL) {
        aio_err_set(aio_RuntimeError, "Timeout should be used inside a task");
        return -1;
    }
    aio__task *t = (aio__task *)task;
    to->state = TIMEOUT_ENTERED;
    to->task = aio_incref(t);
    to->cancelling = t->num_cancels_requested;
    if (aio__timeout_reschedule(to, to->when) < 0) {
        /* Out of memory: the scope was not entered after all. */
        to->state = TIMEOUT_CREATED;
        aio__decref(to->task);
        to->task = NULL;
        return -1;
    }
    return 0;
}

/* 3.13's Timeout._insert_timeout_error(): the first CancelledError in
 * exc's __context__ chain gets a TimeoutError put before it (its cause and
 * context), so that the chain tells of the timeout. */
static void insert_timeout_error(aio_exc *exc)
{
    for (aio_exc *e = exc; aio_exc_context(e) != NULL; e = aio_exc_context(e)) {
        aio_exc *ctx = aio_exc_context(e);
        if (aio_exc_isinstance(ctx, aio_CancelledError)) {
            aio_exc *te = aio_exc_new(aio_TimeoutError, NULL);
            if (aio_exc_type_of(te) != aio_TimeoutError) { /* MemoryError */
                aio__decref(te);
                return;
            }
            aio_exc_set_cause(te, ctx);
            aio_exc_set_context(te, ctx);
            aio_exc_set_context(e, te);
            aio__decref(te);
            return;
        }
    }
}

/* The exception leaving an expired scope that is not its cancellation:
 * 3.13 marks the timeout in its context chain (and in each of an
 * ExceptionGroup's exceptions). */
static void mark_timeout(aio_exc *exc)
{
    insert_timeout_error(exc);
    size_t n = 0;
    aio_exc *const *group = aio_exc_group_exceptions(exc, &n);
    for (size_t i = 0; group != NULL && i < n; i++)
        insert_timeout_error(group[i]);
}

int aio_timeout_exit(aio_timeout *to)
{
    if (to == NULL)
        return -1; /* what made it NULL is still set */
    if (to->state != TIMEOUT_ENTERED && to->state != TIMEOUT_EXPIRING) {
        /* asyncio asserts here; C gets the reason, unless an exception is
         * already pending (an enter that failed), which is left as it is. */
        if (aio_err_occurred() == NULL) {
            if (to->state == TIMEOUT_CREATED)
                aio_err_set(aio_RuntimeError, "Timeout has not been entered");
            else
                aio_err_set(aio_RuntimeError, "Timeout has already been exited");
        }
        return -1;
    }
    aio__handle_drop(&to->handler);
    if (to->state == TIMEOUT_EXPIRING) {
        to->state = TIMEOUT_EXPIRED;
        aio_exc *exc = aio_err_occurred();
        bool v313 = aio_loop_get_target_version(to->task->fut.loop) >= AIO_PY(3, 13);
        if (aio__task_uncancel(&to->task->fut) <= to->cancelling && exc != NULL) {
            /* No other cancellation is pending: this one was ours (3.13: a
             * subclass of CancelledError too). */
            if (v313 ? aio_exc_isinstance(exc, aio_CancelledError)
                     : aio_exc_type_of(exc) == aio_CancelledError)
                aio__raise_timeout_from_cancelled();
            else if (v313)
                mark_timeout(exc);
        }
    } else {
        to->state = TIMEOUT_EXITED;
    }
    return aio_err_occurred() ? -1 : 0;
}

double aio__timeout_when(aio_timeout *to)
{
    return to->when;
}

int aio__timeout_expired(aio_timeout *to)
{
    return to->state == TIMEOUT_EXPIRING || to->state == TIMEOUT_EXPIRED;
}

/* What reprs and logs call this callback: CPython's name for it. */
AIO__NAME(timeout_fire, "Timeout._on_timeout", AIO__NAME_SELF_ARG);
