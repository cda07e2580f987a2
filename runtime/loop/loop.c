/* loop.c - the event loop: lifecycle, the iteration, and scheduling.
 *
 * The iteration is asyncio's _run_once (base_events.py), step for step:
 *   1. drop cancelled timers (head only, or rebuild when most are cancelled)
 *   2. poll timeout: 0 when callbacks are ready or the loop is stopping, else
 *      until the first timer (at most a day), else forever
 *   3. one libev poll
 *   4. queue the reader and writer of each ready file descriptor
 *   5. queue every timer due before now + clock resolution
 *   6. run exactly the handles that are ready now; whatever they schedule
 *      waits for the next iteration.
 * When nothing but the loop's own self-pipe is registered and the timeout
 * is 0, the poll could only report the self-pipe; a flag set by the signal
 * handler says whether it would, so the system call is skipped.
 */
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "casyncio/api.h"
#include "casyncio/embed.h"
#include "casyncio/log.h"
#include "exc.h"
#include "impl.h"
#include "hot_memory.h"
#include "names.h"

#define MAXIMUM_SELECT_TIMEOUT (24.0 * 3600.0)
#define CLOCK_RESOLUTION 1e-09

double aio__monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bool debug_from_environment(void)
{
    const char *debug = getenv("PYTHONASYNCIODEBUG");
    return (debug != NULL && *debug != '\0') || aio__dev_mode();
}

/* --- The process and the running loop ------------------------------------------ */

/* The process id, kept up to date across fork(): getpid() is a system call
 * in current glibc, and the running loop is looked up on every await. */
static pid_t process_id;
static pthread_once_t process_id_once = PTHREAD_ONCE_INIT;

static void refresh_process_id(void)
{
    process_id = getpid();
}

static void process_id_setup(void)
{
    refresh_process_id();
    pthread_atfork(NULL, NULL, refresh_process_id);
}

pid_t aio__process_id(void)
{
    pthread_once(&process_id_once, process_id_setup);
    return process_id;
}

/* The running loop: per thread, tagged with the process id, so that a
 * child after fork() has none. */
static _Thread_local aio_loop *running_loop;
static _Thread_local pid_t running_loop_pid;

aio_loop *aio__running_loop(void)
{
    if (running_loop != NULL && running_loop_pid == aio__process_id())
        return running_loop;
    return NULL;
}

void aio__set_running_loop(aio_loop *loop)
{
    running_loop = loop;
    running_loop_pid = loop ? aio__process_id() : 0;
}

aio_loop *aio__get_running_loop(void)
{
    aio_loop *loop = aio__running_loop();
    if (loop == NULL)
        aio_err_set(aio_RuntimeError, "no running event loop");
    return loop;
}

/* --- Parts (loop.h) --------------------------------------------------------- */

_Static_assert(sizeof(aio__loop_part) % sizeof(void *) == 0, "parts lie back to back");

extern const aio__loop_part __stop_aio_loop_parts[] AIO_INTERNAL;

/* The parts in the order they are called, and where each one's slots
 * begin (by its place in the section), worked out once. */
static const aio__loop_part *parts_in_order[AIO__LOOP_PARTS_MAX];
static size_t parts_count;
unsigned aio__part_first_slot[AIO__LOOP_PARTS_MAX];
static pthread_once_t parts_once = PTHREAD_ONCE_INIT;

static void sort_parts(void)
{
    size_t n = (size_t)(__stop_aio_loop_parts - __start_aio_loop_parts);
    unsigned slots = 0;
    for (size_t i = 0; i < n && i < AIO__LOOP_PARTS_MAX; i++) {
        aio__part_first_slot[i] = slots;
        slots += __start_aio_loop_parts[i].slots;
    }
    if (n > AIO__LOOP_PARTS_MAX || slots > AIO__LOOP_PARTS_MAX) {
        fprintf(stderr, "casyncio: the parts declare %u slots in all, AIO__LOOP_PARTS_MAX is %d\n",
                slots, AIO__LOOP_PARTS_MAX);
        abort(); /* a build error, caught by any test */
    }
    for (size_t i = 0; i < n; i++) {
        const aio__loop_part *part = &__start_aio_loop_parts[i];
        size_t j = i;
        while (j > 0 && parts_in_order[j - 1]->order > part->order) {
            parts_in_order[j] = parts_in_order[j - 1];
            j--;
        }
        parts_in_order[j] = part;
    }
    parts_count = n;
}

/* Calls each part's `closing` (closed false) or `closed` hook. */
static void close_parts(aio_loop *loop, bool closed)
{
    for (size_t i = 0; i < parts_count; i++) {
        void (*hook)(aio_loop *) = closed ? parts_in_order[i]->closed : parts_in_order[i]->closing;
        if (hook != NULL)
            hook(loop);
    }
}

int aio__loop_check_fd(aio_loop *loop, int fd)
{
    for (size_t i = 0; i < parts_count; i++) {
        if (parts_in_order[i]->check_fd != NULL && parts_in_order[i]->check_fd(loop, fd) < 0)
            return -1;
    }
    return 0;
}

/* --- The ready queue ------------------------------------------------------ */

/* The ring is a growable region (hot_memory.h). Doubled, the part that had
 * wrapped around to its start moves to just after its old end. */
int aio__loop_ready_grow(aio_loop *loop)
{
    size_t cap = loop->ready_mask + 1;
    aio_handle **ring = aio__region_grow(loop->ready, cap * sizeof *ring,
                                         2 * cap * sizeof *ring, 0);
    if (ring == NULL)
        return -1;
    size_t wrapped = loop->ready_head + loop->ready_len > cap
                         ? loop->ready_head + loop->ready_len - cap : 0;
    memcpy(ring + cap, ring, wrapped * sizeof *ring);
    loop->ready = ring;
    loop->ready_mask = 2 * cap - 1;
    return 0;
}

#define READY_INITIAL 512 /* one page of pointers */

void aio__loop_take_incoming(aio_loop *loop)
{
    pthread_mutex_lock(&loop->incoming_lock);
    size_t i = 0;
    for (; i < loop->incoming_len; i++) {
        if (aio__ready_append(loop, loop->incoming[i]) < 0) {
            /* Out of memory: keep the rest for the next attempt. */
            aio_err_clear();
            break;
        }
    }
    memmove(loop->incoming, loop->incoming + i, (loop->incoming_len - i) * sizeof(aio_handle *));
    loop->incoming_len -= i;
    atomic_store_explicit(&loop->incoming_pending, loop->incoming_len != 0,
                          memory_order_relaxed);
    pthread_mutex_unlock(&loop->incoming_lock);
}

int aio__loop_check_closed(aio_loop *loop)
{
    if (AIO_UNLIKELY(atomic_load_explicit(&loop->closed, memory_order_relaxed))) {
        aio_err_set(aio_RuntimeError, "Event loop is closed");
        return -1;
    }
    return 0;
}

int aio__loop_check_thread(aio_loop *loop)
{
    /* Read from any thread: `running` and `thread` are written atomically
     * by run_forever(). */
    if (__atomic_load_n(&loop->running, __ATOMIC_ACQUIRE) &&
        !pthread_equal(__atomic_load_n(&loop->thread, __ATOMIC_RELAXED), pthread_self())) {
        aio_err_set(aio_RuntimeError, "Non-thread-safe operation invoked on an event loop "
                                      "other than the current one");
        return -1;
    }
    return 0;
}

static int check_callback(bool present, const char *method)
{
    if (!present) {
        aio_err_format(aio_TypeError, "a callable object was expected by %s(), got None",
                       method);
        return -1;
    }
    return 0;
}

void aio__loop_write_to_self(aio_loop *loop)
{
    static const char zero = 0;
    ssize_t n = write(loop->self_wfd, &zero, 1);
    if (n < 0 && loop->debug)
        aio_log(AIO_LOG_DEBUG, NULL, "Fail to write a null byte into the self-pipe socket");
}

/* The self-pipe's reader: drains it and runs the signals it carries. */
static void read_from_self(void *arg)
{
    aio_loop *loop = arg;
    unsigned char buf[4096];
    for (;;) {
        ssize_t n = read(loop->self_rfd, buf, sizeof buf);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            break;
        }
        aio__signals_dispatch(loop, buf, (size_t)n);
    }
}

/* --- libev callbacks: record what the poll found ------------------------- */

static void on_self_readable(struct ev_loop *ev, ev_io *io, int revents)
{
    (void)io;
    (void)revents;
    aio_loop *loop = ev_userdata(ev);
    loop->self_readable = true;
}

static void on_poll_timeout(struct ev_loop *ev, ev_timer *timer, int revents)
{
    (void)ev;
    (void)timer;
    (void)revents;
}

/* --- Construction and destruction ------------------------------------------ */

static void loop_dealloc(void *obj);
static int loop_repr(const void *obj, aio__strbuf *out);
AIO__DEFINE_TYPE(loop_type) = {"_UnixSelectorEventLoop", loop_dealloc, loop_repr, 0};

bool aio__is_loop(const void *obj)
{
    return aio__is_object(obj) && aio__type_of(obj) == &loop_type;
}

aio_loop *aio__loop_new(void)
{
    aio_loop *loop = aio__calloc(1, sizeof *loop);
    if (loop == NULL)
        return NULL;
    aio__object_init(loop, &loop_type);
    pthread_once(&parts_once, sort_parts); /* before any part looks at its slots */
    loop->self_rfd = loop->self_wfd = -1;
    loop->embed_fd = -1;
    loop->debug = debug_from_environment();
    loop->slow_callback_duration = 0.1;
    loop->target_version = aio_get_target_version();
    atomic_init(&loop->closed, false);
    atomic_init(&loop->incoming_pending, 0);
    pthread_mutex_init(&loop->incoming_lock, NULL);

    loop->ready_mask = READY_INITIAL - 1;
    loop->ready = aio__region_grow(NULL, 0, READY_INITIAL * sizeof *loop->ready, 0);
    if (aio__ev_reserve() == 0)
        loop->ev = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
    int fds[2];
    if (loop->ready == NULL || loop->ev == NULL || pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
        if (!aio_err_occurred())
            aio_err_set_from_errno(loop->ev ? errno : ENOMEM);
        atomic_store(&loop->closed, true);
        if (loop->ev != NULL)
            ev_loop_destroy(loop->ev);
        loop->ev = NULL;
        aio__decref(loop);
        return NULL;
    }
    loop->self_rfd = fds[0];
    loop->self_wfd = fds[1];
    ev_set_userdata(loop->ev, loop);
    ev_io_init(&loop->self_io, on_self_readable, loop->self_rfd, EV_READ);
    ev_io_start(loop->ev, &loop->self_io);
    ev_init(&loop->poll_timer, on_poll_timeout);

    loop->self_reader = aio__handle_new(loop, read_from_self, loop, NULL);
    if (loop->self_reader == NULL) {
        aio__decref(loop);
        return NULL;
    }
    if (aio_log_get_level() <= AIO_LOG_DEBUG)
        aio_log(AIO_LOG_DEBUG, NULL, "Using selector: EpollSelector");
    return loop;
}

static void loop_release(aio_loop *loop)
{
    while (loop->ready_len > 0)
        aio__decref(aio__ready_popleft(loop));
    aio__timers_clear(loop);
    pthread_mutex_lock(&loop->incoming_lock);
    for (size_t i = 0; i < loop->incoming_len; i++)
        aio__decref(loop->incoming[i]);
    free(loop->incoming);
    loop->incoming = NULL;
    loop->incoming_len = loop->incoming_cap = 0;
    atomic_store(&loop->incoming_pending, 0);
    pthread_mutex_unlock(&loop->incoming_lock);
}

static void loop_dealloc(void *obj)
{
    aio_loop *loop = obj;
    if (!atomic_load(&loop->closed)) {
        aio__resource_warning("unclosed event loop %s", loop); /* __del__ */
        if (!loop->running) {
            loop->ob.refcnt = AIO__IMMORTAL; /* no re-entry while closing */
            aio__loop_close(loop);
        }
    }
    loop_release(loop);
    aio__decref(loop->self_reader);
    aio__region_free(loop->ready, (loop->ready_mask + 1) * sizeof *loop->ready, 0);
    pthread_mutex_destroy(&loop->incoming_lock);
    free(loop);
}

static int loop_repr(const void *obj, aio__strbuf *out)
{
    const aio_loop *loop = obj;
    return aio__sb_appendf(out, "<_UnixSelectorEventLoop running=%s closed=%s debug=%s>",
                           loop->running ? "True" : "False",
                           atomic_load(&loop->closed) ? "True" : "False",
                           loop->debug ? "True" : "False");
}

/* --- The iteration ----------------------------------------------------------- */

/* libev's epoll backend takes at most 64 events from its first poll (its
 * buffer only grows when a poll fills it), where selectors asks for one per
 * registered fd: poll again, without waiting, until no fd is new, so that
 * every ready fd is seen in this iteration as in asyncio. */
static void poll_rest(aio_loop *loop)
{
    size_t seen = loop->io_events_len;
    while (seen >= 64) {
        ev_run(loop->ev, EVRUN_NOWAIT);
        aio__io_poll_done(loop, seen);
        if (loop->io_events_len == seen)
            break;
        seen = loop->io_events_len;
    }
}

static int poll_once(aio_loop *loop, double timeout)
{
    loop->self_readable = false;
    if (timeout == 0.0 && loop->fds_active == 0) {
        loop->self_readable = aio__signals_pending(loop);
        return 0;
    }
    /* libev may grow its arrays while polling: the reserve, back if it can
     * be (else the arena of evalloc.c is there). */
    if (AIO_UNLIKELY(aio__ev_reserve() < 0))
        aio_err_clear();
    /* This poll sees every byte written so far: a later skipped poll must
     * not take the flag for one more. */
    (void)aio__signals_pending(loop);
    size_t first = loop->io_events_len;
    if (timeout == 0.0) {
        ev_run(loop->ev, EVRUN_NOWAIT);
        aio__io_poll_done(loop, first);
        poll_rest(loop);
        return 0;
    }
    if (timeout > 0.0) {
        /* Like selectors.EpollSelector, wait whole milliseconds, rounded up. */
        ev_now_update(loop->ev);
        ev_timer_set(&loop->poll_timer, ceil(timeout * 1e3) * 1e-3, 0.0);
        ev_timer_start(loop->ev, &loop->poll_timer);
    }
    if (loop->poll_before != NULL)
        loop->poll_before(loop, timeout < 0.0 ? HUGE_VAL : timeout, loop->poll_hooks_arg);
    ev_run(loop->ev, EVRUN_ONCE);
    aio__io_poll_done(loop, first);
    ev_timer_stop(loop->ev, &loop->poll_timer);
    if (loop->poll_after != NULL) {
        loop->poll_after(loop, timeout < 0.0 ? HUGE_VAL : timeout, loop->poll_hooks_arg);
        if (aio_err_occurred() != NULL)
            return -1; /* what the host raised ends the run, as SystemExit would */
    }
    poll_rest(loop);
    return 0;
}

static int run_handle_debug(aio_loop *loop, aio_handle *handle)
{
    loop->current_handle = handle;
    double t0 = aio__monotonic();
    int rc = aio__handle_run(handle);
    double dt = aio__monotonic() - t0;
    loop->current_handle = NULL;
    if (rc == 0 && dt >= loop->slow_callback_duration) {
        /* base_events._format_handle(): a Task's step or wake-up is shown
         * as the task. */
        void *self = aio__handle_logged_self(handle);
        char *repr = aio_repr(self != NULL ? self : (void *)handle);
        aio_log(AIO_LOG_WARNING, NULL, "Executing %s took %.3f seconds", repr ? repr : "", dt);
        free(repr);
        aio_err_clear();
    }
    return rc;
}

/* An exception the caller left set outside any callback (an ignored error
 * before run_forever(), or between two iterations the host drives): it is
 * nobody's callback's, so it is reported as such and cleared, and the
 * callbacks run clean. SystemExit and KeyboardInterrupt end the run as they
 * would from a callback. */
static __attribute__((noinline)) int report_stray_exception(aio_loop *loop)
{
    aio_exc *exc = aio_err_fetch();
    if (aio_exc_isinstance(exc, aio_SystemExit) ||
        aio_exc_isinstance(exc, aio_KeyboardInterrupt)) {
        aio_err_restore(exc);
        return -1;
    }
    aio_exception_context context = {
        .message = "Exception left set outside any callback (cleared before the loop's next "
                   "callback ran)",
        .exception = exc,
    };
    int rc = aio__loop_call_exception_handler(loop, &context);
    aio__decref(exc);
    return rc;
}

/* The poll's timeout: 0 when callbacks are ready or the loop is stopping,
 * else until the first timer (at most a day), else -1 (forever). */
static double poll_timeout(const aio_loop *loop)
{
    if (loop->ready_len > 0 || loop->stopping)
        return 0.0;
    if (loop->timers_len == 0)
        return -1.0;
    /* min(max(0, when - time()), MAXIMUM_SELECT_TIMEOUT), with Python's
     * max() and min(): a NaN deadline gives 0, as any comparison with NaN
     * is false. */
    double timeout = loop->timers[0].when - aio__monotonic();
    if (loop->target_version >= AIO_PY(3, 13)) {
        /* 3.13 compares instead (`if timeout > MAX ... elif timeout < 0`):
         * a NaN deadline stays NaN, which the selector then fails to round
         * (run_once) */
        if (timeout > MAXIMUM_SELECT_TIMEOUT)
            return MAXIMUM_SELECT_TIMEOUT;
        return timeout < 0.0 ? 0.0 : timeout;
    }
    timeout = timeout > 0.0 ? timeout : 0.0;
    return timeout > MAXIMUM_SELECT_TIMEOUT ? MAXIMUM_SELECT_TIMEOUT : timeout;
}

/* One iteration; the poll waits at most max_wait seconds (< 0: as long as
 * the iteration rule says). */
static int run_once(aio_loop *loop, double max_wait)
{
    if (AIO_UNLIKELY(aio_err_occurred() != NULL) && report_stray_exception(loop) < 0)
        return -1;
    if (loop->timers_len > 0)
        aio__timers_purge_cancelled(loop);

    if (atomic_load_explicit(&loop->incoming_pending, memory_order_relaxed))
        aio__loop_take_incoming(loop);
    double timeout = poll_timeout(loop);
    if (AIO_UNLIKELY(isnan(timeout))) {
        /* 3.13: selector.select() rounds it with math.ceil() */
        aio_err_set(aio_ValueError, "cannot convert float NaN to integer");
        return -1;
    }
    if (AIO_UNLIKELY(max_wait >= 0.0) && (timeout < 0.0 || timeout > max_wait))
        timeout = max_wait;
    if (poll_once(loop, timeout) < 0)
        return -1;

    /* Handles other threads scheduled during the poll were in the ready
     * queue before the poll's events, as in asyncio. */
    if (atomic_load_explicit(&loop->incoming_pending, memory_order_relaxed))
        aio__loop_take_incoming(loop);
    if (loop->self_readable || loop->io_events_len > 0)
        aio__io_dispatch(loop);

    if (loop->timers_len > 0) {
        double end_time = aio__monotonic() + CLOCK_RESOLUTION;
        /* `if handle._when >= end_time: break`: a NaN deadline is due. */
        while (loop->timers_len > 0 && !(loop->timers[0].when >= end_time)) {
            aio_handle *timer = aio__timers_pop(loop);
            if (loop->timers_len > 0)
                __builtin_prefetch(loop->timers[0].handle, 1); /* the next one */
            timer->scheduled = false;
            if (aio__ready_append(loop, timer) < 0) {
                aio__decref(timer);
                return -1;
            }
        }
    }

    for (size_t ntodo = loop->ready_len; ntodo > 0; ntodo--) {
        /* Handles lie all over memory: fetch a few ahead of their turn. */
        if (ntodo > 4)
            __builtin_prefetch(loop->ready[(loop->ready_head + 4) & loop->ready_mask], 1);
        aio_handle *handle = aio__ready_popleft(loop);
        int rc = 0;
        if (!handle->cancelled)
            rc = loop->debug ? run_handle_debug(loop, handle) : aio__handle_run(handle);
        aio__decref(handle);
        if (AIO_UNLIKELY(rc < 0))
            return -1;
    }
    return 0;
}

/* --- Running and stopping ---------------------------------------------------- */

int aio__loop_check_running(aio_loop *loop)
{
    if (loop->running) {
        aio_err_set(aio_RuntimeError, "This event loop is already running");
        return -1;
    }
    if (aio__running_loop() != NULL) {
        aio_err_set(aio_RuntimeError,
                    "Cannot run the event loop while another loop is running");
        return -1;
    }
    return 0;
}

/* _run_forever_setup() and _run_forever_cleanup(). */
static int run_setup(aio_loop *loop)
{
    if (aio__loop_check_closed(loop) < 0 || aio__loop_check_running(loop) < 0)
        return -1;
    aio__incref(loop);
    __atomic_store_n(&loop->thread, pthread_self(), __ATOMIC_RELAXED);
    __atomic_store_n(&loop->running, true, __ATOMIC_RELEASE);
    aio__set_running_loop(loop);
    return 0;
}

static void run_cleanup(aio_loop *loop)
{
    loop->stopping = false;
    __atomic_store_n(&loop->running, false, __ATOMIC_RELEASE);
    aio__set_running_loop(NULL);
    aio__decref(loop);
}

int aio__loop_run_forever(aio_loop *loop)
{
    if (run_setup(loop) < 0)
        return -1;
    int rc = 0;
    for (;;) {
        if (run_once(loop, -1.0) < 0) {
            rc = -1;
            break;
        }
        if (loop->stopping)
            break;
    }
    run_cleanup(loop);
    return rc;
}

/* --- Embedding (casyncio/embed.h) ---------------------------------------------- */

int aio_loop_backend_fd(aio_loop *loop)
{
    if (loop == NULL) {
        aio_err_set(aio_TypeError, "aio_loop_backend_fd() needs a loop");
        return -1;
    }
    if (aio__loop_check_closed(loop) < 0)
        return -1;
    if (loop->embed_fd < 0 && aio__io_embed_start(loop) < 0)
        return -1;
    return loop->embed_fd;
}

double aio_loop_backend_timeout(aio_loop *loop)
{
    if (loop == NULL) {
        aio_err_set(aio_TypeError, "aio_loop_backend_timeout() needs a loop");
        return -1.0;
    }
    if (aio__loop_check_closed(loop) < 0)
        return -1.0;
    if (atomic_load_explicit(&loop->incoming_pending, memory_order_relaxed))
        return 0.0;
    /* Cancelled timers still at the head make it early, never late. */
    double timeout = poll_timeout(loop);
    if (isnan(timeout))
        return 0.0; /* run_once() at once, which raises 3.13's ValueError */
    return timeout < 0.0 ? HUGE_VAL : timeout;
}

int aio_loop_run_once(aio_loop *loop, double timeout)
{
    if (loop == NULL) {
        aio_err_set(aio_TypeError, "aio_loop_run_once() needs a loop");
        return -1;
    }
    if (isnan(timeout) || timeout < 0.0) {
        aio_err_set(aio_ValueError, "timeout must be non-negative (HUGE_VAL: no limit)");
        return -1;
    }
    if (run_setup(loop) < 0)
        return -1;
    int rc = run_once(loop, isinf(timeout) ? -1.0 : timeout);
    if (rc == 0 && loop->stopping)
        rc = 1;
    run_cleanup(loop);
    return rc;
}

int aio_loop_set_poll_hooks(aio_loop *loop, aio_poll_hook before, aio_poll_hook after, void *arg)
{
    if (loop == NULL) {
        aio_err_set(aio_TypeError, "aio_loop_set_poll_hooks() needs a loop");
        return -1;
    }
    loop->poll_before = before;
    loop->poll_after = after;
    loop->poll_hooks_arg = (before || after) ? arg : NULL;
    return 0;
}

int aio__loop_stop(aio_loop *loop)
{
    loop->stopping = true;
    return 0;
}

int aio__loop_is_running(aio_loop *loop)
{
    return __atomic_load_n(&loop->running, __ATOMIC_ACQUIRE);
}

int aio__loop_is_closed(aio_loop *loop)
{
    return atomic_load(&loop->closed);
}

int aio__loop_close(aio_loop *loop)
{
    if (loop->running) {
        aio_err_set(aio_RuntimeError, "Cannot close a running event loop");
        return -1;
    }
    if (atomic_load(&loop->closed))
        return 0;
    if (loop->debug) {
        char *repr = aio_repr(loop);
        aio_log(AIO_LOG_DEBUG, NULL, "Close %s", repr ? repr : "");
        free(repr);
    }
    close_parts(loop, false);
    /* Other threads see `closed` under the lock, so none writes to the
     * self-pipe once it is closed. */
    pthread_mutex_lock(&loop->incoming_lock);
    atomic_store(&loop->closed, true);
    pthread_mutex_unlock(&loop->incoming_lock);

    aio__signals_close(loop);
    aio__io_close(loop);
    if (loop->ev != NULL) {
        ev_io_stop(loop->ev, &loop->self_io);
        ev_loop_destroy(loop->ev);
        loop->ev = NULL;
    }
    if (loop->self_rfd >= 0)
        close(loop->self_rfd);
    if (loop->self_wfd >= 0)
        close(loop->self_wfd);
    loop->self_rfd = loop->self_wfd = -1;
    loop->embed_fd = -1;
    loop_release(loop);
    close_parts(loop, true);
    aio_err_clear();
    return 0;
}

/* --- Scheduling -------------------------------------------------------------- */

/* What call_soon() and call_at() check first: the loop is open and, in
 * debug mode, called from its own thread with a callback. */
static inline int check_schedule(aio_loop *loop, aio_callback callback, const char *method)
{
    if (aio__loop_check_closed(loop) < 0)
        return -1;
    if (AIO_UNLIKELY(loop->debug) &&
        (aio__loop_check_thread(loop) < 0 || check_callback(callback, method) < 0))
        return -1;
    return 0;
}

/* Queues a new handle (its reference goes to the ready queue) and returns
 * it borrowed; NULL when it could not be made or queued. */
static inline aio_handle *schedule(aio_loop *loop, aio_handle *handle)
{
    if (handle != NULL && aio__loop_ready_push(loop, handle) < 0) {
        aio__handle_discard(handle);
        return NULL;
    }
    return handle;
}

aio_handle *aio__loop_call_soon(aio_loop *loop, const aio__loop_call_soon_args *args)
{
    if (check_schedule(loop, args->callback, "call_soon") < 0)
        return NULL;
    return schedule(loop, aio__handle_new_owning(loop, args->callback, args->args,
                                                 args->args_release, args->context));
}

int aio__loop_call_soon_done(aio_loop *loop, aio_done_callback fn, aio_future *future,
                             void *arg, aio__ctxmap *map, aio_context *context)
{
    if (aio__loop_check_closed(loop) < 0 || (loop->debug && aio__loop_check_thread(loop) < 0)) {
        aio__ctxmap_decref(map);
        return -1;
    }
    return schedule(loop, aio__handle_new_done(loop, fn, future, arg, map, context)) ? 0 : -1;
}

int aio__loop_schedule_done(aio_loop *loop, aio_handle *handle, aio_future *future)
{
    if (aio__loop_check_closed(loop) < 0 || (loop->debug && aio__loop_check_thread(loop) < 0)) {
        aio__decref(handle);
        return -1;
    }
    handle->future = aio_incref(future);
    return schedule(loop, handle) ? 0 : -1;
}

aio_handle *aio__loop_call_soon_threadsafe(aio_loop *loop,
                                           const aio__loop_call_soon_threadsafe_args *args)
{
    if (aio__loop_check_closed(loop) < 0)
        return NULL;
    if (aio__loop_debug(loop) && check_callback(args->callback, "call_soon_threadsafe") < 0)
        return NULL;
    aio_handle *handle = aio__handle_new_owning(loop, args->callback, args->args,
                                                args->args_release, args->context);
    if (handle == NULL)
        return NULL;
    if (aio__running_loop() == loop) {
        /* On the loop's own thread this is call_soon() plus a wakeup that
         * the running loop does not need. */
        return schedule(loop, handle);
    }
    pthread_mutex_lock(&loop->incoming_lock);
    if (atomic_load(&loop->closed)) {
        pthread_mutex_unlock(&loop->incoming_lock);
        aio__handle_discard(handle);
        aio_err_set(aio_RuntimeError, "Event loop is closed");
        return NULL;
    }
    if (loop->incoming_len == loop->incoming_cap) {
        size_t cap = loop->incoming_cap ? 2 * loop->incoming_cap : 16;
        aio_handle **incoming = aio__realloc(loop->incoming, cap * sizeof *incoming);
        if (incoming == NULL) {
            pthread_mutex_unlock(&loop->incoming_lock);
            aio__handle_discard(handle);
            return NULL;
        }
        loop->incoming = incoming;
        loop->incoming_cap = cap;
    }
    loop->incoming[loop->incoming_len++] = handle;
    atomic_store_explicit(&loop->incoming_pending, 1, memory_order_relaxed);
    aio__loop_write_to_self(loop);
    pthread_mutex_unlock(&loop->incoming_lock);
    return handle;
}

static aio_timer_handle *call_at(aio_loop *loop, double when, aio_callback callback,
                                 void *arg, aio_release_func release, aio_context *context)
{
    if (check_schedule(loop, callback, "call_at") < 0)
        return NULL;
    aio_handle *timer = aio__handle_new_owning(loop, callback, arg, release, context);
    if (timer == NULL)
        return NULL;
    aio__handle_make_timer(timer, when);
    if (aio__timers_push(loop, timer) < 0) {
        aio__handle_discard(timer);
        return NULL;
    }
    return timer;
}

aio_timer_handle *aio__loop_call_later(aio_loop *loop, const aio__loop_call_later_args *args)
{
    return call_at(loop, aio__monotonic() + args->delay, args->callback, args->args,
                   args->args_release, args->context);
}

aio_timer_handle *aio__loop_call_at(aio_loop *loop, const aio__loop_call_at_args *args)
{
    return call_at(loop, args->when, args->callback, args->args, args->args_release,
                   args->context);
}

double aio__loop_time(aio_loop *loop)
{
    (void)loop;
    return aio__monotonic();
}

/* --- Debug mode and the task factory ----------------------------------------- */

int aio__loop_get_debug(aio_loop *loop)
{
    return loop->debug;
}

/* What asyncio schedules to switch coroutine-origin tracking, which C has
 * no use for; the callback still takes its turn in the ready queue. */
static void set_coroutine_origin_tracking(void *arg)
{
    (void)arg;
}

int aio__loop_set_debug(aio_loop *loop, bool enabled)
{
    __atomic_store_n(&loop->debug, enabled, __ATOMIC_RELAXED);
    if (loop->running) {
        const aio__loop_call_soon_threadsafe_args args = {
            .callback = set_coroutine_origin_tracking,
        };
        return aio__loop_call_soon_threadsafe(loop, &args) ? 0 : -1;
    }
    return 0;
}

double aio__loop_slow_callback_duration(aio_loop *loop)
{
    return loop->slow_callback_duration;
}

int aio__loop_set_slow_callback_duration(aio_loop *loop, double value)
{
    loop->slow_callback_duration = value;
    return 0;
}

int aio__loop_set_task_factory(aio_loop *loop, aio_task_factory factory, void *factory_arg)
{
    loop->task_factory = factory;
    loop->task_factory_arg = factory ? factory_arg : NULL;
    return 0;
}

aio_task_factory aio__loop_get_task_factory(aio_loop *loop)
{
    return loop->task_factory;
}

/* What reprs and logs call these callbacks: CPython's names for them. */
AIO__NAME(set_coroutine_origin_tracking, "BaseEventLoop._set_coroutine_origin_tracking", AIO__NAME_SELF_ARG);
AIO__NAME(read_from_self, "BaseSelectorEventLoop._read_from_self", AIO__NAME_SELF_ARG);
