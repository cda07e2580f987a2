/* executor.c - concurrent.futures: Future and ThreadPoolExecutor.
 *
 * Below asyncio, as in Python: nothing here knows the event loop. A future
 * is a small state machine under a mutex, with a condition variable for
 * the threads waiting in result(); a pool is a FIFO of work items under one
 * mutex, served by detached threads started one at a time when no idle
 * thread is left (the idle count is CPython 3.8's idle semaphore).
 */
#include "casyncio/executor.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "casyncio/log.h"
#include "exc.h"
#include "executor_internal.h"
#include "task.h"
#include "loop.h"
#include "object.h"

const aio_exc_type aio_FuturesError[1] = {{"Error", "concurrent.futures._base", aio_Exception,
                                           NULL}};
const aio_exc_type aio_FuturesCancelledError[1] = {
    {"CancelledError", "concurrent.futures._base", aio_FuturesError, NULL}};
const aio_exc_type aio_FuturesInvalidStateError[1] = {
    {"InvalidStateError", "concurrent.futures._base", aio_FuturesError, NULL}};
const aio_exc_type aio_FuturesTimeoutError[1] = {
    {"TimeoutError", "concurrent.futures._base", aio_FuturesError, NULL}};

/* --- Future ------------------------------------------------------------- */

typedef enum cfuture_state {
    PENDING,
    RUNNING,
    CANCELLED,
    CANCELLED_AND_NOTIFIED,
    FINISHED,
} cfuture_state;

static const char *const state_names[] = {"PENDING", "RUNNING", "CANCELLED",
                                          "CANCELLED_AND_NOTIFIED", "FINISHED"};

typedef struct cfuture_cb {
    aio_cfuture_callback fn;
    void *arg;
} cfuture_cb;

struct aio_cfuture {
    aio__object ob;
    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    cfuture_state state;
    void *result;
    aio_exc *exception;
    cfuture_cb *callbacks;      /* inline_callbacks until more are added */
    size_t callbacks_len;
    size_t callbacks_cap;
    /* The first two callbacks need no allocation, so that chaining a new
     * future to the loop cannot fail once it was submitted. */
    cfuture_cb inline_callbacks[2];
};

#define INLINE_CALLBACKS 2

static void cfuture_dealloc(void *obj)
{
    aio_cfuture *fut = obj;
    aio__decref(fut->exception);
    if (fut->callbacks != fut->inline_callbacks)
        free(fut->callbacks);
    pthread_mutex_destroy(&fut->lock);
    pthread_cond_destroy(&fut->done_cond);
    free(fut);
}

/* repr(): "<Future at 0x... state=pending>", as concurrent.futures has it. */
static int cfuture_repr_locked(const aio_cfuture *fut, aio__strbuf *out)
{
    switch (fut->state) {
    case FINISHED:
        if (fut->exception != NULL)
            return aio__sb_appendf(out, "<Future at %p state=finished raised %s>", (void *)fut,
                                   aio_exc_type_of(fut->exception)->name);
        return aio__sb_appendf(out, "<Future at %p state=finished returned %s>", (void *)fut,
                               fut->result ? "pointer" : "NoneType");
    case CANCELLED:
    case CANCELLED_AND_NOTIFIED:
        return aio__sb_appendf(out, "<Future at %p state=cancelled>", (void *)fut);
    case RUNNING:
        return aio__sb_appendf(out, "<Future at %p state=running>", (void *)fut);
    default:
        return aio__sb_appendf(out, "<Future at %p state=pending>", (void *)fut);
    }
}

static int cfuture_repr(const void *obj, aio__strbuf *out)
{
    aio_cfuture *fut = (aio_cfuture *)obj;
    pthread_mutex_lock(&fut->lock);
    int rc = cfuture_repr_locked(fut, out);
    pthread_mutex_unlock(&fut->lock);
    return rc;
}

AIO__DEFINE_TYPE(cfuture_type) = {
    .name = "Future", .dealloc = cfuture_dealloc, .repr = cfuture_repr,
    .flags = AIO__TYPE_ATOMIC};

aio_cfuture *aio_cfuture_new(void)
{
    aio_cfuture *fut = aio__calloc(1, sizeof *fut);
    if (fut == NULL)
        return NULL;
    pthread_mutex_init(&fut->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&fut->done_cond, &attr);
    pthread_condattr_destroy(&attr);
    fut->callbacks = fut->inline_callbacks;
    fut->callbacks_cap = INLINE_CALLBACKS;
    aio__object_init(fut, &cfuture_type);
    return fut;
}

bool aio_is_cfuture(const void *obj)
{
    return aio__is_object(obj) && aio__type_of(obj) == &cfuture_type;
}

/* Calls the done callbacks, taken out under the lock (none is added once
 * the future is done), and frees them unless they are `local`. */
static void invoke_callbacks(aio_cfuture *fut, cfuture_cb *callbacks, size_t n,
                             const cfuture_cb *local)
{
    for (size_t i = 0; i < n; i++) {
        aio_exc *pending = aio_err_fetch();
        callbacks[i].fn(fut, callbacks[i].arg);
        aio_exc *raised = aio_err_fetch();
        if (raised != NULL) {
            char *repr = aio_repr(fut);
            aio_log(AIO_LOG_ERROR, raised, "exception calling callback for %s",
                    repr ? repr : "<Future>");
            free(repr);
            aio__decref(raised);
        }
        aio_err_restore(pending);
    }
    if (callbacks != local)
        free(callbacks);
}

/* Marks the future done (the lock held), wakes the waiters and hands the
 * callbacks to the caller, who calls them once the lock is released: the
 * inline ones copied into `local`. */
static cfuture_cb *finish_locked(aio_cfuture *fut, cfuture_state state, size_t *n,
                                 cfuture_cb local[INLINE_CALLBACKS])
{
    fut->state = state;
    pthread_cond_broadcast(&fut->done_cond);
    cfuture_cb *callbacks = fut->callbacks;
    *n = fut->callbacks_len;
    if (callbacks == fut->inline_callbacks) {
        memcpy(local, callbacks, sizeof fut->inline_callbacks);
        callbacks = local;
    }
    fut->callbacks = fut->inline_callbacks;
    fut->callbacks_len = 0;
    fut->callbacks_cap = INLINE_CALLBACKS;
    return callbacks;
}

int aio_cfuture_cancel(aio_cfuture *fut)
{
    pthread_mutex_lock(&fut->lock);
    if (fut->state == RUNNING || fut->state == FINISHED) {
        pthread_mutex_unlock(&fut->lock);
        return 0;
    }
    if (fut->state == CANCELLED || fut->state == CANCELLED_AND_NOTIFIED) {
        pthread_mutex_unlock(&fut->lock);
        return 1;
    }
    size_t n;
    cfuture_cb local[INLINE_CALLBACKS];
    cfuture_cb *callbacks = finish_locked(fut, CANCELLED, &n, local);
    pthread_mutex_unlock(&fut->lock);
    invoke_callbacks(fut, callbacks, n, local);
    return 1;
}

bool aio_cfuture_cancelled(aio_cfuture *fut)
{
    pthread_mutex_lock(&fut->lock);
    bool cancelled = fut->state == CANCELLED || fut->state == CANCELLED_AND_NOTIFIED;
    pthread_mutex_unlock(&fut->lock);
    return cancelled;
}

bool aio_cfuture_running(aio_cfuture *fut)
{
    pthread_mutex_lock(&fut->lock);
    bool running = fut->state == RUNNING;
    pthread_mutex_unlock(&fut->lock);
    return running;
}

bool aio_cfuture_done(aio_cfuture *fut)
{
    pthread_mutex_lock(&fut->lock);
    bool done = fut->state >= CANCELLED;
    pthread_mutex_unlock(&fut->lock);
    return done;
}

/* Waits (the lock held) until the future is done or the timeout passed. */
static void wait_done_locked(aio_cfuture *fut, double timeout)
{
    if (fut->state >= CANCELLED)
        return;
    if (timeout == AIO_FOREVER) {
        while (fut->state < CANCELLED)
            pthread_cond_wait(&fut->done_cond, &fut->lock);
        return;
    }
    if (!(timeout > 0.0))
        return;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    double secs = (double)deadline.tv_sec + deadline.tv_nsec * 1e-9 + timeout;
    deadline.tv_sec = (time_t)secs;
    deadline.tv_nsec = (long)((secs - (double)deadline.tv_sec) * 1e9);
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    while (fut->state < CANCELLED) {
        if (pthread_cond_timedwait(&fut->done_cond, &fut->lock, &deadline) == ETIMEDOUT)
            break;
    }
}

/* The outcome of a done future (the lock held): 1 with *result or the
 * exception set, 0 when not done. */
static int outcome_locked(aio_cfuture *fut, void **result)
{
    if (fut->state == CANCELLED || fut->state == CANCELLED_AND_NOTIFIED) {
        aio_err_set(aio_FuturesCancelledError, NULL);
        *result = NULL;
        return 1;
    }
    if (fut->state == FINISHED) {
        /* A copy: the stored exception may be freed by any thread. */
        if (fut->exception != NULL) {
            aio_exc *copy = aio__exc_clone(fut->exception);
            if (copy != NULL)
                aio_err_restore(copy);
        }
        *result = fut->exception ? NULL : fut->result;
        return 1;
    }
    return 0;
}

void *aio_cfuture_result(aio_cfuture *fut, double timeout)
{
    void *result = NULL;
    pthread_mutex_lock(&fut->lock);
    if (!outcome_locked(fut, &result)) {
        wait_done_locked(fut, timeout);
        if (!outcome_locked(fut, &result))
            aio_err_set(aio__futures_timeout_error(), NULL);
    }
    pthread_mutex_unlock(&fut->lock);
    return result;
}

int aio_cfuture_exception(aio_cfuture *fut, double timeout, aio_exc **exc)
{
    *exc = NULL;
    pthread_mutex_lock(&fut->lock);
    wait_done_locked(fut, timeout);
    int rc = 0;
    if (fut->state == CANCELLED || fut->state == CANCELLED_AND_NOTIFIED) {
        aio_err_set(aio_FuturesCancelledError, NULL);
        rc = -1;
    } else if (fut->state == FINISHED) {
        if (fut->exception != NULL && (*exc = aio__exc_clone(fut->exception)) == NULL)
            rc = -1;
    } else {
        aio_err_set(aio__futures_timeout_error(), NULL);
        rc = -1;
    }
    pthread_mutex_unlock(&fut->lock);
    return rc;
}

int aio_cfuture_add_done_callback(aio_cfuture *fut, aio_cfuture_callback fn, void *arg)
{
    pthread_mutex_lock(&fut->lock);
    if (fut->state != CANCELLED && fut->state != CANCELLED_AND_NOTIFIED &&
        fut->state != FINISHED) {
        if (fut->callbacks_len == fut->callbacks_cap) {
            size_t cap = 2 * fut->callbacks_cap;
            bool inline_now = fut->callbacks == fut->inline_callbacks;
            cfuture_cb *callbacks = aio__realloc(inline_now ? NULL : fut->callbacks,
                                                 cap * sizeof *callbacks);
            if (callbacks == NULL) {
                pthread_mutex_unlock(&fut->lock);
                return -1;
            }
            if (inline_now)
                memcpy(callbacks, fut->inline_callbacks, sizeof fut->inline_callbacks);
            fut->callbacks = callbacks;
            fut->callbacks_cap = cap;
        }
        fut->callbacks[fut->callbacks_len++] = (cfuture_cb){fn, arg};
        pthread_mutex_unlock(&fut->lock);
        return 0;
    }
    pthread_mutex_unlock(&fut->lock);
    cfuture_cb one = {fn, arg};
    invoke_callbacks(fut, &one, 1, &one);
    return 0;
}


int aio_cfuture_set_running_or_notify_cancel(aio_cfuture *fut)
{
    pthread_mutex_lock(&fut->lock);
    if (fut->state == CANCELLED) {
        fut->state = CANCELLED_AND_NOTIFIED;
        pthread_mutex_unlock(&fut->lock);
        return 0;
    }
    if (fut->state == PENDING) {
        fut->state = RUNNING;
        pthread_mutex_unlock(&fut->lock);
        return 1;
    }
    pthread_mutex_unlock(&fut->lock);
    aio_err_set(aio_RuntimeError, "Future in unexpected state");
    return -1;
}

/* set_result()/set_exception(): exc NULL sets the result. With steal the
 * future takes the caller's reference to exc over, even on failure (a
 * worker's exception: once published, its thread must not touch it). */
static int set_outcome_(aio_cfuture *fut, void *result, aio_exc *exc, bool steal)
{
    pthread_mutex_lock(&fut->lock);
    if (fut->state == CANCELLED || fut->state == CANCELLED_AND_NOTIFIED ||
        fut->state == FINISHED) {
        aio__strbuf sb = AIO__STRBUF_INIT;
        cfuture_repr_locked(fut, &sb);
        const char *name = state_names[fut->state];
        pthread_mutex_unlock(&fut->lock);
        if (steal)
            aio__decref(exc);
        aio_err_format(aio_FuturesInvalidStateError, "%s: %s", name, sb.data ? sb.data : "");
        aio__sb_free(&sb);
        return -1;
    }
    if (exc != NULL && !steal)
        aio__incref(exc);
    fut->exception = exc;
    fut->result = exc ? NULL : result;
    size_t n;
    cfuture_cb local[INLINE_CALLBACKS];
    cfuture_cb *callbacks = finish_locked(fut, FINISHED, &n, local);
    pthread_mutex_unlock(&fut->lock);
    invoke_callbacks(fut, callbacks, n, local);
    return 0;
}

static int set_outcome(aio_cfuture *fut, void *result, aio_exc *exc)
{
    return set_outcome_(fut, result, exc, false);
}

int aio_cfuture_set_result(aio_cfuture *fut, void *result)
{
    return set_outcome(fut, result, NULL);
}

int aio_cfuture_set_exception(aio_cfuture *fut, aio_exc *exc)
{
    if (exc == NULL) {
        aio_err_set(aio_TypeError, "exceptions must derive from BaseException");
        return -1;
    }
    return set_outcome(fut, NULL, exc);
}

int aio__cfuture_outcome(aio_cfuture *fut, void **result, aio_exc **exc, bool steal)
{
    pthread_mutex_lock(&fut->lock);
    int rc;
    *result = NULL;
    *exc = NULL;
    if (fut->state == CANCELLED || fut->state == CANCELLED_AND_NOTIFIED) {
        rc = AIO__CFUTURE_CANCELLED;
    } else {
        rc = AIO__CFUTURE_FINISHED;
        *result = fut->result;
        *exc = fut->exception;
        if (steal)
            fut->exception = NULL;
        else if (*exc != NULL && (*exc = aio__exc_clone(*exc)) == NULL)
            *exc = aio_err_fetch(); /* MemoryError, as the outcome */
    }
    pthread_mutex_unlock(&fut->lock);
    return rc;
}

/* --- ThreadPoolExecutor ---------------------------------------------------- */

typedef struct work_item {
    struct work_item *next;
    aio_cfuture *future;
    aio_executor_func fn;
    void *arg;
} work_item;

/* What the threads share with the executor object: the executor's last
 * reference may go while they run. */
typedef struct pool_core {
    atomic_long refcnt;
    pthread_mutex_t lock;
    pthread_cond_t work_cond;   /* work queued, or shutdown */
    pthread_cond_t exit_cond;   /* a thread ended */
    work_item *head;
    work_item *tail;
    size_t idle;                /* the idle semaphore's count */
    size_t threads;             /* threads started and not ended */
    size_t started;             /* threads ever started */
    size_t named;               /* threads that took a name: the next name */
    int max_workers;
    bool shutdown;
    char prefix[];
} pool_core;

struct aio_executor {
    aio__object ob;
    pool_core *core;
};

static void core_decref(pool_core *core)
{
    if (atomic_fetch_sub_explicit(&core->refcnt, 1, memory_order_acq_rel) == 1) {
        pthread_mutex_destroy(&core->lock);
        pthread_cond_destroy(&core->work_cond);
        pthread_cond_destroy(&core->exit_cond);
        free(core);
    }
}

/* Runs one item. The thread counts itself idle before it completes the
 * future, so that work submitted by whoever waited for it finds it idle
 * (CPython releases its idle semaphore a little later, which leaves that
 * to chance). */
static void run_item(pool_core *core, work_item *item)
{
    bool ran = aio_cfuture_set_running_or_notify_cancel(item->future) == 1;
    if (ran) {
        void *result = NULL;
        if (item->fn != NULL)
            result = item->fn(item->arg);
        else
            aio_err_set(aio_TypeError, "'NoneType' object is not callable");
        aio_exc *exc = aio_err_fetch();
        pthread_mutex_lock(&core->lock);
        core->idle++;
        pthread_mutex_unlock(&core->lock);
        if (exc != NULL) {
            set_outcome_(item->future, NULL, exc, true);
        } else {
            set_outcome(item->future, result, NULL);
        }
    }
    aio_err_clear();
    aio__decref_atomic(item->future);
    free(item);
    if (!ran) {
        pthread_mutex_lock(&core->lock);
        core->idle++;
        pthread_mutex_unlock(&core->lock);
    }
}

/* Names the worker "<prefix>_<n>", n counting the pool's threads, as
 * ThreadPoolExecutor does: in full where the library prints it ("There is
 * no current event loop in thread 'asyncio_0'."), and cut to the 15 bytes
 * Linux keeps for the system's name (ps, top, gdb). The lock held. */
static void name_worker(pool_core *core)
{
    char name[64];
    snprintf(name, sizeof name, "%s_%zu", core->prefix, core->named++);
    aio__set_thread_name(name);
    name[15] = '\0';
    pthread_setname_np(pthread_self(), name);
}

static void *worker_main(void *arg)
{
    pool_core *core = arg;
    pthread_mutex_lock(&core->lock);
    name_worker(core);
    for (;;) {
        while (core->head == NULL && !core->shutdown)
            pthread_cond_wait(&core->work_cond, &core->lock);
        work_item *item = core->head;
        if (item == NULL)
            break;
        core->head = item->next;
        if (core->head == NULL)
            core->tail = NULL;
        pthread_mutex_unlock(&core->lock);
        run_item(core, item);
        pthread_mutex_lock(&core->lock);
    }
    core->threads--;
    pthread_cond_broadcast(&core->exit_cond);
    pthread_mutex_unlock(&core->lock);
    core_decref(core);
    return NULL;
}

static void executor_dealloc(void *obj)
{
    aio_executor *executor = obj;
    aio_executor_shutdown(executor, false, false);
    core_decref(executor->core);
    free(executor);
}

static int executor_repr(const void *obj, aio__strbuf *out)
{
    return aio__sb_appendf(out, "<concurrent.futures.thread.ThreadPoolExecutor object at %p>",
                           obj);
}

AIO__DEFINE_TYPE(executor_type) = {
    .name = "ThreadPoolExecutor", .dealloc = executor_dealloc, .repr = executor_repr,
    .flags = AIO__TYPE_ATOMIC};

static atomic_uint pool_counter;

int aio__default_max_workers(int version)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus <= 0)
        cpus = 1;
    if (version < AIO_PY(3, 8))
        return (int)cpus * 5;
    return cpus + 4 > 32 ? 32 : (int)cpus + 4;
}

aio_executor *aio_thread_pool_executor_new(const aio_thread_pool_executor_args *args)
{
    static const aio_thread_pool_executor_args defaults = {0};
    if (args == NULL)
        args = &defaults;
    int max_workers = args->max_workers;
    if (max_workers == 0) {
        max_workers = aio__default_max_workers(aio__current_target_version());
    } else if (max_workers < 0) { /* AIO_ZERO too */
        aio_err_set(aio_ValueError, "max_workers must be greater than 0");
        return NULL;
    }
    char counter_name[48];
    const char *prefix = args->thread_name_prefix;
    if (prefix == NULL || prefix[0] == '\0') {
        snprintf(counter_name, sizeof counter_name, "ThreadPoolExecutor-%u",
                 atomic_fetch_add(&pool_counter, 1));
        prefix = counter_name;
    }
    size_t len = strlen(prefix);
    aio_executor *executor = aio__malloc(sizeof *executor);
    if (executor == NULL)
        return NULL;
    pool_core *core = aio__calloc(1, sizeof *core + len + 1);
    if (core == NULL) {
        free(executor);
        return NULL;
    }
    memcpy(core->prefix, prefix, len + 1);
    atomic_init(&core->refcnt, 1);
    pthread_mutex_init(&core->lock, NULL);
    pthread_cond_init(&core->work_cond, NULL);
    pthread_cond_init(&core->exit_cond, NULL);
    core->max_workers = max_workers;
    executor->core = core;
    aio__object_init(executor, &executor_type);
    return executor;
}

bool aio_is_thread_pool_executor(const void *obj)
{
    return aio__is_object(obj) && aio__type_of(obj) == &executor_type;
}

int aio_executor_max_workers(aio_executor *executor)
{
    return executor->core->max_workers;
}

/* _adjust_thread_count(), the lock held: a new thread when no idle one is
 * left and there is room. -1 with RuntimeError when none could start. */
static int adjust_thread_count(pool_core *core)
{
    if (core->idle > 0) {
        core->idle--;
        return 0;
    }
    if (core->threads >= (size_t)core->max_workers)
        return 0;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    atomic_fetch_add_explicit(&core->refcnt, 1, memory_order_relaxed);
    pthread_t thread;
    /* The new thread blocks all signals: a loop's signal handlers must run
     * on the threads that expect them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&thread, &attr, worker_main, core);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        atomic_fetch_sub_explicit(&core->refcnt, 1, memory_order_relaxed);
        aio_err_set(aio_RuntimeError, "can't start new thread");
        return -1;
    }
    core->threads++;
    core->started++;
    return 0;
}

aio_cfuture *aio_executor_submit(aio_executor *executor, aio_executor_func fn, void *arg)
{
    pool_core *core = executor->core;
    pthread_mutex_lock(&core->lock);
    bool shutdown = core->shutdown;
    pthread_mutex_unlock(&core->lock);
    if (shutdown) {
        aio_err_set(aio_RuntimeError, "cannot schedule new futures after shutdown");
        return NULL;
    }
    aio_cfuture *fut = aio_cfuture_new();
    if (fut == NULL)
        return NULL;
    work_item *item = aio__malloc(sizeof *item);
    if (item == NULL) {
        aio__decref_atomic(fut);
        return NULL;
    }
    aio__incref_atomic(fut);
    *item = (work_item){.future = fut, .fn = fn, .arg = arg};
    pthread_mutex_lock(&core->lock);
    if (core->shutdown) {
        pthread_mutex_unlock(&core->lock);
        aio_err_set(aio_RuntimeError, "cannot schedule new futures after shutdown");
        goto fail;
    }
    if (adjust_thread_count(core) < 0 && core->threads == 0) {
        pthread_mutex_unlock(&core->lock);
        goto fail;
    }
    aio_err_clear(); /* a thread failed to start but others will serve */
    if (core->tail != NULL)
        core->tail->next = item;
    else
        core->head = item;
    core->tail = item;
    pthread_cond_signal(&core->work_cond);
    pthread_mutex_unlock(&core->lock);
    return fut;
fail:
    aio__decref_atomic(fut);
    aio__decref_atomic(fut);
    free(item);
    return NULL;
}

int aio_executor_shutdown(aio_executor *executor, bool wait, bool cancel_futures)
{
    pool_core *core = executor->core;
    work_item *dropped = NULL;
    pthread_mutex_lock(&core->lock);
    core->shutdown = true;
    if (cancel_futures) {
        dropped = core->head;
        core->head = core->tail = NULL;
    }
    pthread_cond_broadcast(&core->work_cond);
    pthread_mutex_unlock(&core->lock);
    while (dropped != NULL) {
        work_item *next = dropped->next;
        aio_cfuture_cancel(dropped->future);
        aio__decref_atomic(dropped->future);
        free(dropped);
        dropped = next;
    }
    if (wait) {
        pthread_mutex_lock(&core->lock);
        while (core->threads > 0)
            pthread_cond_wait(&core->exit_cond, &core->lock);
        pthread_mutex_unlock(&core->lock);
    }
    return 0;
}

int aio_executor_map(aio_executor *executor, aio_executor_func fn, void *const *args,
                     size_t n, void **results, double timeout)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double end = (double)now.tv_sec + now.tv_nsec * 1e-9 + timeout;
    aio_cfuture **fs = aio__calloc(n, sizeof *fs);
    if (fs == NULL)
        return -1;
    size_t submitted = 0;
    int rc = 0;
    for (; submitted < n; submitted++) {
        fs[submitted] = aio_executor_submit(executor, fn, args[submitted]);
        if (fs[submitted] == NULL) {
            rc = -1;
            break;
        }
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        double left = AIO_FOREVER;
        if (timeout != AIO_FOREVER) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            left = end - ((double)now.tv_sec + now.tv_nsec * 1e-9);
        }
        results[i] = aio_cfuture_result(fs[i], left);
        if (results[i] == NULL && aio_err_occurred())
            rc = -1;
    }
    for (size_t i = 0; i < submitted; i++) {
        if (rc < 0)
            aio_cfuture_cancel(fs[i]);
        aio__decref_atomic(fs[i]);
    }
    free(fs);
    return rc;
}
