/* run_in_executor.c - asyncio over concurrent.futures: wrap_future(),
 * loop.run_in_executor(), the loop's default executor, to_thread().
 *
 * A chain joins a concurrent future (src, completed on any thread) to an
 * asyncio future of a loop (dest, touched on the loop's thread only), as
 * futures._chain_future() does. Its two sides let go of it separately: the
 * source side when src is done (after handing the outcome to the loop with
 * call_soon_threadsafe()), the loop side when dest is done (its done
 * callback), or when the loop closes. The loop's pointer is read by the
 * source side under the chain's lock, which the loop side takes to forget
 * the loop: no worker touches a loop that was closed and freed.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "casyncio/api.h"
#include "casyncio/executor.h"
#include "casyncio/log.h"
#include "casyncio/tasks.h"
#include "casyncio/warnings.h"
#include "executor_internal.h"
#include "future.h"
#include "impl.h"
#include "loop.h"
#include "names.h"

/* --- The executors' part of a loop: three slots -------------------------- *
 * the default executor (a reference), whether shutdown_default_executor()
 * or close() was called (not NULL), and the chains whose dest is pending. */

static void executors_closed(aio_loop *loop);

AIO__LOOP_PART(executors_part) = {.name = "executors", .slots = 3, .order = 95,
                                  .closed = executors_closed};

static inline aio_executor **default_executor_of(aio_loop *loop)
{
    return (aio_executor **)aio__loop_part_slot(loop, &executors_part);
}

static inline void **shutdown_called_of(aio_loop *loop)
{
    return aio__loop_part_slot(loop, &executors_part) + 1;
}

typedef struct chain chain;
static inline chain **chains_of(aio_loop *loop)
{
    return (chain **)(aio__loop_part_slot(loop, &executors_part) + 2);
}

/* --- Chains -------------------------------------------------------------- */

struct chain {
    atomic_int refcnt;          /* the loop side, the source side */
    pthread_mutex_t lock;       /* guards `loop` for the source side */
    aio_loop *loop;             /* NULL once the loop side let go */
    aio_future *dest;           /* a reference; loop side, loop thread only */
    aio_cfuture *src;           /* a reference */
    bool steal;                 /* src is private: its exception moves to dest */
    bool no_func;               /* run_in_executor(None): args never used */
    /* run_in_executor()'s args and args_release: released on the loop's
     * thread when func will never run. */
    void *args;
    aio_release_func args_release;
    chain *prev, *next;         /* the loop's pending chains */
    pthread_t owner;            /* the loop's thread, which made the chain */
};

static void chain_unref(void *arg)
{
    chain *c = arg;
    if (atomic_fetch_sub_explicit(&c->refcnt, 1, memory_order_acq_rel) == 1) {
        aio__decref_atomic(c->src);
        pthread_mutex_destroy(&c->lock);
        free(c);
    }
}

/* func will never run: its argument goes back to the caller's release. */
static void release_args(chain *c)
{
    aio_release_func release = c->args_release;
    c->args_release = NULL;
    if (release != NULL)
        release(c->args);
}

/* The loop side lets go (on the loop's thread). */
static void loop_side_release(chain *c)
{
    aio_loop *loop = c->loop;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        *chains_of(loop) = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    pthread_mutex_lock(&c->lock);
    c->loop = NULL;
    pthread_mutex_unlock(&c->lock);
    if (aio_cfuture_cancelled(c->src))
        release_args(c);
    aio_future *dest = c->dest;
    c->dest = NULL;
    aio__decref(dest);
    chain_unref(c);
}

/* _set_state(dest, src), on the loop's thread: copies src's outcome into
 * dest unless dest was cancelled meanwhile. */
static void set_state(void *arg)
{
    chain *c = arg;
    aio_future *dest = c->dest;
    if (dest != NULL && dest->state == AIO__FUTURE_PENDING) {
        void *result;
        aio_exc *exc;
        if (aio__cfuture_outcome(c->src, &result, &exc, c->steal) == AIO__CFUTURE_CANCELLED) {
            release_args(c);
            aio__future_cancel_any(dest, NULL);
        } else if (exc != NULL) {
            if (c->no_func)
                release_args(c);
            aio__future_finish_exception(dest, exc);
            aio__decref(exc);
        } else {
            aio__future_finish_result(dest, result, NULL);
        }
    }
    chain_unref(c);
}

/* _call_set_state, on the thread that completed src. */
static void source_done(aio_cfuture *src, void *arg)
{
    (void)src;
    chain *c = arg;
    bool handed = false, direct = false;
    pthread_mutex_lock(&c->lock);
    aio_loop *loop = c->loop;
    if (loop != NULL && !atomic_load(&loop->closed)) {
        aio_exc *pending = aio_err_fetch();
        const aio__loop_call_soon_threadsafe_args args = {
            .callback = set_state, .args = c, .args_release = chain_unref};
        handed = aio__loop_call_soon_threadsafe(loop, &args) != NULL;
        if (!handed && !aio_err_matches(aio_RuntimeError)) {
            /* Out of memory. On the loop's own thread (src was done when
             * it was chained) the outcome is copied at once instead; from
             * a worker, dest stays pending until the loop closes. */
            if (pthread_equal(pthread_self(), c->owner))
                direct = true;
            else
                aio_log(AIO_LOG_ERROR, aio_err_occurred(),
                        "run_in_executor: the outcome could not be handed to the loop");
        }
        aio_err_restore(pending);
    }
    pthread_mutex_unlock(&c->lock);
    if (direct)
        set_state(c);
    else if (!handed)
        chain_unref(c);
}

/* _call_check_cancel, dest's done callback: a cancelled dest cancels src
 * (which fails when src is running: its outcome will be dropped). */
static void dest_done(aio_future *dest, void *arg)
{
    chain *c = arg;
    if (dest->state == AIO__FUTURE_CANCELLED)
        aio_cfuture_cancel(c->src);
    loop_side_release(c);
}

/* The loop closed: every pending dest is let go of; the workers' outcomes
 * will find no loop. */
static void executors_closed(aio_loop *loop)
{
    *shutdown_called_of(loop) = (void *)1;
    aio_executor *executor = *default_executor_of(loop);
    *default_executor_of(loop) = NULL;
    if (executor != NULL) {
        /* another object (up to 3.10) has no shutdown(): Python's close()
         * raises AttributeError then; this one lets go of it silently */
        if (aio_is_thread_pool_executor(executor))
            aio_executor_shutdown(executor, false, false);
        aio_decref(executor);
    }
    while (*chains_of(loop) != NULL) {
        chain *c = *chains_of(loop);
        aio__future_remove_done_callback(c->dest, dest_done, c);
        loop_side_release(c);
    }
}

/* The loop side of a new chain: dest, the chain and dest's done callback;
 * the source comes with chain_attach(). NULL with MemoryError. */
static chain *chain_new(aio_loop *loop, bool steal, void *args, aio_release_func args_release)
{
    aio_future *dest = aio__loop_create_future(loop);
    if (dest == NULL)
        return NULL;
    chain *c = aio__calloc(1, sizeof *c);
    if (c == NULL) {
        aio__decref(dest);
        return NULL;
    }
    const aio__future_add_done_callback_args cb = {.callback = dest_done, .callback_arg = c};
    if (aio__future_add_done_callback(dest, &cb) < 0) {
        free(c);
        aio__decref(dest);
        return NULL;
    }
    atomic_init(&c->refcnt, 2);
    pthread_mutex_init(&c->lock, NULL);
    c->loop = loop;
    c->owner = pthread_self();
    c->dest = dest;
    c->steal = steal;
    c->args = args;
    c->args_release = args_release;
    c->next = *chains_of(loop);
    if (c->next != NULL)
        c->next->prev = c;
    *chains_of(loop) = c;
    return c;
}

/* Undoes chain_new() when no source could be attached. */
static void chain_abandon(chain *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        *chains_of(c->loop) = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    aio__future_remove_done_callback(c->dest, dest_done, c);
    aio__decref(c->dest);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* Chains src to the chain's dest: dest (a new reference), or NULL with
 * MemoryError, the chain abandoned. A future just submitted cannot fail
 * here: its first callbacks need no memory. */
static aio_future *chain_attach(chain *c, aio_cfuture *src)
{
    aio__incref_atomic(src);
    c->src = src;
    aio_future *dest = c->dest;
    aio__incref(dest); /* the caller's */
    if (aio_cfuture_add_done_callback(src, source_done, c) < 0) {
        aio__decref(dest);
        c->src = NULL;
        aio__decref_atomic(src);
        chain_abandon(c);
        return NULL;
    }
    return dest;
}

/* futures.wrap_future(src, loop=loop). On a closed loop the future would
 * never get src's outcome (asyncio drops it then): it is left unchained,
 * since the loop will not let go of a chain made after it closed. */
static aio_future *wrap(aio_loop *loop, aio_cfuture *src, bool steal)
{
    if (atomic_load(&loop->closed))
        return aio__loop_create_future(loop);
    chain *c = chain_new(loop, steal, NULL, NULL);
    return c != NULL ? chain_attach(c, src) : NULL;
}

aio_future *aio_wrap_future(aio_cfuture *fut, aio_loop *loop)
{
    if (!aio_is_cfuture(fut)) {
        aio_err_set(aio_TypeError, "concurrent.futures.Future is expected, got None");
        return NULL;
    }
    if (loop == NULL && (loop = aio_get_event_loop()) == NULL)
        return NULL;
    return wrap(loop, fut, false);
}

/* --- The loop's methods ------------------------------------------------------ */

aio_future *aio__loop_run_in_executor(aio_loop *loop, aio_executor *executor,
                                      aio_executor_func func, void *args,
                                      aio_release_func args_release)
{
    if (aio__loop_check_closed(loop) < 0)
        return NULL;
    if (aio__loop_debug(loop) && func == NULL) {
        aio_err_set(aio_TypeError,
                    "a callable object was expected by run_in_executor(), got None");
        return NULL;
    }
    if (executor == NULL) {
        executor = *default_executor_of(loop);
        if (*shutdown_called_of(loop) != NULL) {
            aio_err_set(aio_RuntimeError, "Executor shutdown has been called");
            return NULL;
        }
        if (executor == NULL) {
            /* 3.8's default pool had ThreadPoolExecutor's own thread names
             * and 3.6/3.7's cpu_count() * 5 workers */
            int version = aio_loop_get_target_version(loop);
            executor = aio_thread_pool_executor_new(&(aio_thread_pool_executor_args){
                .max_workers = aio__default_max_workers(version),
                .thread_name_prefix = version >= AIO_PY(3, 9) ? "asyncio" : NULL});
            if (executor == NULL)
                return NULL;
            *default_executor_of(loop) = executor;
        }
    }
    if (!aio_is_thread_pool_executor(executor)) {
        /* What executor.submit() meets in Python on another object. */
        if (aio__is_object(executor))
            aio_err_format(aio_AttributeError, "'%s' object has no attribute 'submit'",
                           aio__type_of(executor)->name);
        else
            aio_err_set(aio_TypeError, "executor must be a ThreadPoolExecutor");
        return NULL;
    }
    /* All the loop side needs is made first: once submitted, func may run
     * at once, and the call can no longer fail. */
    chain *c = chain_new(loop, true, args, args_release);
    if (c == NULL)
        return NULL;
    c->no_func = func == NULL;
    aio_cfuture *src = aio_executor_submit(executor, func, args);
    if (src == NULL) {
        chain_abandon(c);
        return NULL;
    }
    aio_future *dest = chain_attach(c, src);
    aio__decref_atomic(src);
    return dest;
}

int aio__loop_set_default_executor(aio_loop *loop, aio_executor *executor)
{
    /* Up to 3.10 any object became the default executor (3.8 to 3.10
     * warning), None too (the glue passes NULL on there): the next
     * run_in_executor(None) makes a new pool. In C it must at least be an
     * object, to be kept. */
    if (!aio_is_thread_pool_executor(executor)) {
        int version = aio_loop_get_target_version(loop);
        if (version >= AIO_PY(3, 11) || (executor != NULL && !aio__is_object(executor))) {
            aio_err_set(aio_TypeError, "executor must be ThreadPoolExecutor instance");
            return -1;
        }
        if (version >= AIO_PY(3, 8) &&
            aio_warn(aio_DeprecationWarning,
                     "Using the default executor that is not an instance of "
                     "ThreadPoolExecutor is deprecated and will be prohibited in Python 3.9") < 0)
            return -1;
    }
    if (atomic_load(&loop->closed))
        return 0; /* never used again: nothing would release it */
    if (executor != NULL)
        aio_incref(executor);
    aio_executor *old = *default_executor_of(loop);
    *default_executor_of(loop) = executor;
    if (old != NULL)
        aio_decref(old);
    return 0;
}

/* The thread of shutdown_default_executor(): shuts the pool down, waiting,
 * and completes the future the loop awaits. */
typedef struct shutdown_job {
    aio_executor *executor;
    aio_cfuture *done;
} shutdown_job;

static void *shutdown_thread(void *arg)
{
    shutdown_job *job = arg;
    aio_cfuture *done = job->done;
    aio_executor_shutdown(job->executor, true, false);
    aio__decref_atomic(job->executor);
    free(job);
    /* The chain keeps `done` alive until its callback has run: completing
     * it is the last thing this thread does with any object, so that once
     * the loop sees the outcome nothing of the thread's is left (asyncio
     * joins this thread). */
    aio__decref_atomic(done);
    aio_cfuture_set_result(done, NULL);
    return NULL;
}

static aio_future *start_shutdown(aio_loop *loop)
{
    *shutdown_called_of(loop) = (void *)1;
    aio_executor *executor = *default_executor_of(loop);
    if (executor == NULL || !aio_is_thread_pool_executor(executor)) {
        aio_future *fut = aio__loop_create_future(loop);
        if (fut == NULL || executor == NULL) {
            if (fut != NULL)
                aio__future_finish_result(fut, NULL, NULL);
            return fut;
        }
        /* another object as the default (up to 3.10): its missing
         * shutdown() fails the future */
        aio_exc *exc = aio_exc_format(aio_AttributeError,
                                      "'%s' object has no attribute 'shutdown'",
                                      aio__type_of(executor)->name);
        if (exc == NULL) {
            aio__decref(fut);
            return NULL;
        }
        aio__future_fail(fut, exc);
        return fut;
    }
    shutdown_job *job = aio__malloc(sizeof *job);
    if (job == NULL)
        return NULL;
    job->done = aio_cfuture_new();
    if (job->done == NULL) {
        free(job);
        return NULL;
    }
    aio_future *fut = wrap(loop, job->done, true);
    if (fut == NULL) {
        aio__decref_atomic(job->done);
        free(job);
        return NULL;
    }
    job->executor = executor;
    aio__incref_atomic(executor);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    int rc = pthread_create(&thread, &attr, shutdown_thread, job);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        aio_cfuture_cancel(job->done);
        aio__decref_atomic(job->done);
        aio__decref_atomic(executor);
        free(job);
        aio__decref(fut);
        aio_err_set(aio_RuntimeError, "can't start new thread");
        return NULL;
    }
    return fut;
}

/* shutdown_default_executor(timeout) from 3.12: `outer` follows `inner`
 * (the shutdown thread's future). 3.12 awaits the shutdown and then joins
 * the thread for at most timeout seconds: the thread is done by then, so
 * only the join's own checks of timeout remain (NaN, too large). 3.13 bounds
 * the wait itself: a timer warns, shuts the pool down without waiting and
 * ends outer. */
typedef struct shutdown_wait {
    int refcnt;           /* the done callback of inner, the timer */
    aio_loop *loop;       /* borrowed: outer keeps it alive */
    aio_future *outer;    /* a reference */
    aio_handle *timer;    /* a reference, or NULL */
    double timeout;
    bool joined_after;    /* 3.12: the join's checks once inner is done */
} shutdown_wait;

static void shutdown_wait_decref(void *arg)
{
    shutdown_wait *w = arg;
    if (--w->refcnt > 0)
        return;
    aio__decref(w->outer);
    free(w);
}

/* time.sleep()'s and Thread.join()'s conversion of a timeout: the errors of
 * a NaN and of a time past what a 64-bit count of nanoseconds holds. */
static int check_join_timeout(double timeout)
{
    if (isnan(timeout)) {
        aio_err_set(aio_ValueError, "Invalid value NaN (not a number)");
        return -1;
    }
    if (timeout * 1e9 >= 9223372036854775807.0) {
        aio_err_set(aio_OverflowError, "timestamp out of range for platform time_t");
        return -1;
    }
    return 0;
}

static void shutdown_inner_done(aio_future *inner, void *arg)
{
    shutdown_wait *w = arg;
    if (w->timer != NULL) {
        aio__handle_cancel(w->timer);
        aio__decref(w->timer);
        w->timer = NULL;
    }
    if (w->outer->state == AIO__FUTURE_PENDING) {
        if (inner->state == AIO__FUTURE_CANCELLED)
            aio__future_cancel_any(w->outer, NULL);
        else if (inner->exception != NULL)
            aio__future_finish_exception(w->outer, inner->exception);
        else if (w->joined_after && check_join_timeout(w->timeout) < 0)
            aio__future_fail(w->outer, NULL);
        else
            aio__future_finish_result(w->outer, NULL, NULL);
    }
    shutdown_wait_decref(w);
}

/* Python's "{timeout}" of a float: integral values as an int would print
 * (asyncio.run() passes the int 300), others in the shortest digits that
 * read back the same. */
static void format_timeout(char *buf, size_t size, double timeout)
{
    if (timeout == floor(timeout) && fabs(timeout) < 1e16) {
        snprintf(buf, size, "%.0f", timeout);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, timeout);
        if (strtod(buf, NULL) == timeout)
            return;
    }
}

static void warn_and_stop_waiting(shutdown_wait *w)
{
    char num[64], msg[160];
    format_timeout(num, sizeof num, w->timeout);
    snprintf(msg, sizeof msg,
             "The executor did not finishing joining its threads within %s seconds.", num);
    if (aio_warn(aio_RuntimeWarning, msg) < 0) {
        aio__future_fail(w->outer, NULL);
        return;
    }
    aio_executor *executor = *default_executor_of(w->loop);
    if (executor != NULL && aio_is_thread_pool_executor(executor))
        aio_executor_shutdown(executor, false, false);
    aio__future_finish_result(w->outer, NULL, NULL);
}

/* The timer's callback: it owns the timer's reference to w (a one-shot
 * callback takes its argument over). */
static void shutdown_timed_out(void *arg)
{
    shutdown_wait *w = arg;
    if (w->timer != NULL) {
        aio__decref(w->timer);
        w->timer = NULL;
    }
    if (w->outer->state == AIO__FUTURE_PENDING)
        warn_and_stop_waiting(w);
    shutdown_wait_decref(w);
}

aio_future *aio__loop_shutdown_default_executor(aio_loop *loop,
                                                const aio__loop_shutdown_default_executor_args *args)
{
    bool has_pool = *default_executor_of(loop) != NULL &&
                    aio_is_thread_pool_executor(*default_executor_of(loop));
    aio_future *inner = start_shutdown(loop);
    if (inner == NULL || args->timeout_is_none || !has_pool ||
        aio_loop_get_target_version(loop) < AIO_PY(3, 12))
        return inner;
    bool bounded = aio_loop_get_target_version(loop) >= AIO_PY(3, 13);
    double timeout = args->timeout;
    if (bounded && isnan(timeout)) {
        /* 3.13's timer at NaN breaks the loop's select() (the error comes
         * out of run_until_complete()); here the call raises it */
        aio__decref(inner);
        aio_err_set(aio_ValueError, "cannot convert float NaN to integer");
        return NULL;
    }
    shutdown_wait *w = aio__malloc(sizeof *w);
    aio_future *outer = w != NULL ? aio__loop_create_future(loop) : NULL;
    if (outer == NULL) {
        free(w);
        aio__decref(inner);
        return NULL;
    }
    *w = (shutdown_wait){.refcnt = 1, .loop = loop, .outer = aio_incref(outer),
                         .timeout = timeout, .joined_after = !bounded};
    if (bounded && !isinf(timeout)) {
        w->timer = aio__loop_call_later(loop, &(aio__loop_call_later_args){
                                                  .delay = timeout,
                                                  .callback = shutdown_timed_out,
                                                  .args = w,
                                                  .args_release = shutdown_wait_decref});
        if (w->timer == NULL)
            goto fail;
        aio_incref(w->timer);
        w->refcnt++;
    }
    if (aio__future_add_done_callback(inner, &(aio__future_add_done_callback_args){
                                                 .callback = shutdown_inner_done,
                                                 .callback_arg = w}) < 0) {
        if (w->timer != NULL) {
            aio__handle_cancel(w->timer);
            aio__decref(w->timer);
            w->timer = NULL;
        }
        goto fail;
    }
    aio__decref(inner);
    return outer;
fail:
    shutdown_wait_decref(w);
    aio__decref(outer);
    aio__decref(inner);
    return NULL;
}

/* --- asyncio.to_thread() ----------------------------------------------------- */

typedef struct to_thread_call {
    aio_executor_func fn;
    void *arg;
    void *result;
    aio_context *context;
} to_thread_call;

static void to_thread_release(void *arg)
{
    to_thread_call *call = arg;
    aio_decref(call->context);
    free(call);
}

static void to_thread_in_context(void *arg)
{
    to_thread_call *call = arg;
    if (call->fn == NULL)
        aio_err_set(aio_TypeError, "'NoneType' object is not callable");
    else
        call->result = call->fn(call->arg);
}

/* functools.partial(ctx.run, func, *args), on the pool's thread: the copy
 * of the context is this call's alone, so it is released here. */
static void *to_thread_run(void *arg)
{
    to_thread_call *call = arg;
    aio_context_run(call->context, to_thread_in_context, call);
    void *result = call->result;
    aio_exc *exc = aio_err_fetch();
    to_thread_release(call);
    aio_err_restore(exc);
    return result;
}

void *aio_to_thread(aio_executor_func fn, void *arg)
{
    /* Hand-written, so gated here rather than in the generated glue. */
    if (aio__current_target_version() < AIO_PY(3, 9)) {
        aio_err_set(aio_AttributeError, "module 'asyncio' has no attribute 'to_thread'");
        return NULL;
    }
    aio_loop *loop = aio__get_running_loop();
    if (loop == NULL)
        return NULL;
    to_thread_call *call = aio__calloc(1, sizeof *call);
    if (call == NULL)
        return NULL;
    call->fn = fn;
    call->arg = arg;
    call->context = aio_copy_context();
    if (call->context == NULL) {
        free(call);
        return NULL;
    }
    aio_future *fut = aio__loop_run_in_executor(loop, NULL, to_thread_run, call,
                                                to_thread_release);
    if (fut == NULL) {
        to_thread_release(call);
        return NULL;
    }
    void *result = aio_await(fut);
    aio__decref(fut);
    return result;
}

AIO__NAME(set_state, "futures._chain_future.<locals>._call_set_state", 0);
AIO__NAME(dest_done, "futures._chain_future.<locals>._call_check_cancel", 0);
