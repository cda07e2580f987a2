/* loop.h - the event loop's state, shared by the files that implement it.
 * Internal.
 *
 * The loop keeps asyncio's own iteration (base_events.py: _run_once): a
 * FIFO of ready handles, a binary heap of timers ordered exactly as Python's
 * heapq orders them, and one poll of libev per iteration.
 */
#ifndef CASYNCIO_RUNTIME_LOOP_H
#define CASYNCIO_RUNTIME_LOOP_H

#include <pthread.h>
#include <signal.h>
#include <sys/types.h>
#include <stdatomic.h>

#include <ev.h>

#include "casyncio/embed.h"
#include "casyncio/exceptions.h"
#include "context.h"
#include "object.h"

/* --- Handles ------------------------------------------------------------- */

typedef enum aio__handle_kind {
    AIO__HANDLE_CALLBACK,      /* callback(arg) */
    AIO__HANDLE_DONE_CALLBACK, /* done_callback(future, arg) */
} aio__handle_kind;

struct aio_handle {
    aio__object ob;
    union {
        aio_callback callback;           /* CALLBACK */
        aio_done_callback done_callback; /* DONE_CALLBACK */
    };
    void *arg;               /* after a debug-mode cancel(): the frozen repr */
    aio_loop *loop;          /* only dereferenced while the timer is scheduled */
    union {
        aio__ctxmap *map;       /* the context captured when context= was None */
        aio_context *context;   /* the context passed as context= (has_context) */
    };
    union {
        double when;            /* TimerHandle: the absolute due time */
        aio_future *future;     /* DONE_CALLBACK: the future handed to it */
    };
    unsigned char kind;
    bool cancelled;
    /* The rest share a byte, so that a handle fits a cache line. */
    bool scheduled : 1;      /* TimerHandle: in the loop's heap */
    bool is_timer : 1;
    bool has_context : 1;    /* context= was given: `context`, not `map` */
    bool repr_frozen : 1;    /* `arg` holds repr(handle) from cancel() */
    bool debug : 1;          /* the loop was in debug mode when it was made */
    bool boxed : 1;          /* `arg` is an aio__arg_box (args_release given) */
    bool persistent : 1;     /* a reader, writer or signal handler: it runs
                                again and again until removed */
    bool hide_args : 1;      /* its repr leaves the arguments out (3.13+
                                outside debug mode, as the handle was made) */
    bool old_names : 1;      /* made at a target before 3.10: a Task's wakeup
                                shows as <TaskWakeupMethWrapper object ...> */
};

/* The argument of a callback given with args_release: the loop releases it
 * when it drops the callback, unless a one-shot callback ran (and so took
 * it over). */
typedef struct aio__arg_box {
    void *arg;
    aio_release_func release;
} aio__arg_box;

/* The argument the callback is called with. */
static inline void *aio__handle_arg(const aio_handle *handle)
{
    return handle->boxed ? ((const aio__arg_box *)handle->arg)->arg : handle->arg;
}

/* A new Handle for callback(arg) in `context` (or a copy of the current
 * context when NULL). New reference; NULL with MemoryError. */
AIO_INTERNAL aio_handle *aio__handle_new(aio_loop *loop, aio_callback callback, void *arg,
                                         aio_context *context);
/* The same, with the caller's args_release (NULL: none) for arg. On
 * failure arg stays the caller's. */
AIO_INTERNAL aio_handle *aio__handle_new_owning(aio_loop *loop, aio_callback callback, void *arg,
                                                aio_release_func release, aio_context *context);
/* Drops a new handle that could not be scheduled: its argument stays the
 * caller's (no release). */
AIO_INTERNAL void aio__handle_discard(aio_handle *handle);
/* A Handle that calls done_callback(future, arg) (Future callbacks). The
 * captured context map reference is taken over. */
AIO_INTERNAL aio_handle *aio__handle_new_done(aio_loop *loop, aio_done_callback fn,
                                              aio_future *future, void *arg,
                                              aio__ctxmap *map, aio_context *context);
/* The same, made in a pool block the caller set aside (aio__pool_alloc())
 * for when memory runs out; `context` is not NULL. Never fails. */
AIO_INTERNAL aio_handle *aio__handle_new_done_in(void *block, aio_loop *loop,
                                                 aio_done_callback fn, aio_future *future,
                                                 void *arg, aio_context *context);
/* Handle._run(): runs the callback in its context; an exception other than
 * SystemExit/KeyboardInterrupt goes to the loop's exception handler. Returns
 * -1 with the exception set when it must end run_forever(). */
AIO_INTERNAL int aio__handle_run(aio_handle *handle);
/* Cancels a handle the caller holds a reference to (a timer it armed),
 * drops that reference and clears the pointer; NULL is ignored. */
AIO_INTERNAL void aio__handle_drop(aio_handle **handle);
/* Turns a new handle into a TimerHandle due at `when`. */
AIO_INTERNAL void aio__handle_make_timer(aio_handle *handle, double when);
/* Appends format_helpers._format_callback_source(): "name(args)". */
AIO_INTERNAL int aio__format_callback(aio__strbuf *out, const aio_handle *handle);
/* What base_events._format_handle() shows of a handle: the object whose
 * method the callback is, when it is named AIO__NAME_LOGGED_AS_SELF (a
 * Task's step or wake-up), else NULL (the handle itself). */
AIO_INTERNAL void *aio__handle_logged_self(const aio_handle *handle);
/* The name of a function pointer: the one registered for it (names.h),
 * else its symbol, else "0x...". */
AIO_INTERNAL int aio__format_function(aio__strbuf *out, void (*fn)(void));

/* --- Parts of the runtime above the loop ----------------------------------
 *
 * asyncio's base loop does not know what its subclasses and the modules
 * above it add; neither does this one. A part of the runtime that keeps
 * state per loop (the tasks, the async generators, the resolver, and later
 * transports, servers, the child watcher, TLS) declares itself once:
 *
 *     AIO__LOOP_PART(resolver_part) = {.name = "resolver", .slots = 2, .order = 10,
 *                                      .closing = resolver_closing};
 *
 * keeps its state in the loop's slots for it (`slots` pointers, NULL at
 * first: aio__loop_part_slot()), and is called when the loop closes:
 * `closing` while the loop is still open (what it cancels may still
 * schedule callbacks), `closed` once it is closed and its queues are empty
 * (nothing can be scheduled any more). Parts are called in increasing
 * `order`. A part that owns descriptors (transports) also checks the
 * public add_reader() and friends against them. The declarations sit in
 * one section, so that the loop finds them all without naming any. */
typedef struct aio__loop_part {
    const char *name;
    unsigned slots;
    int order;
    void (*closing)(aio_loop *loop);
    void (*closed)(aio_loop *loop);
    /* add_reader() and friends on a descriptor the part owns: -1 with the
     * exception (a transport's: RuntimeError), else 0. NULL: owns none. */
    int (*check_fd)(aio_loop *loop, int fd);
} aio__loop_part;

#define AIO__LOOP_PARTS_MAX 16 /* slots, all parts together */
#define AIO__LOOP_PART(var)                                                        \
    static const aio__loop_part var __attribute__((section("aio_loop_parts"), used, \
                                                    aligned(sizeof(void *))))



/* --- The loop -------------------------------------------------------------- */

/* A file descriptor the loop polls: its reader and writer handles. */
typedef struct aio__fdwatch {
    ev_io io;
    aio_loop *loop;
    aio_handle *reader;
    aio_handle *writer;
    int events;  /* EV_READ/EV_WRITE currently asked of libev */
    size_t mark; /* 1 + its index in io_events when recorded by this poll */
} aio__fdwatch;

/* One slot of the timer heap. */
typedef struct aio__timer_entry {
    double when;
    aio_handle *handle;
} aio__timer_entry;

/* An I/O readiness libev reported, dispatched after the poll. */
typedef struct aio__io_event {
    int fd;
    int revents;
} aio__io_event;

struct aio_loop {
    aio__object ob;
    struct ev_loop *ev;

    /* _ready: a ring of handles; each slot holds a reference. */
    aio_handle **ready;
    size_t ready_head;
    size_t ready_len;
    size_t ready_mask;      /* capacity - 1, a power of two */

    /* _scheduled: Python's heapq over TimerHandle.when; holds references.
     * Each entry carries its handle's `when`, so that sifting compares
     * within the array instead of chasing handle pointers. */
    aio__timer_entry *timers;
    size_t timers_len;
    size_t timers_cap;
    size_t timer_cancelled_count;

    /* Handles from other threads wait here until the loop thread takes
     * them; `incoming_pending` lets call_soon() skip the lock. */
    pthread_mutex_t incoming_lock;
    aio_handle **incoming;
    size_t incoming_len;
    size_t incoming_cap;
    atomic_int incoming_pending;

    /* The self-pipe: wakes the poll from other threads and signal handlers. */
    int self_rfd;
    int self_wfd;
    ev_io self_io;
    ev_timer poll_timer;
    bool self_readable;     /* the poll found the self-pipe readable */
    aio_handle *self_reader; /* the handle that drains it */

    /* File descriptors watched for readers and writers, indexed by fd. */
    aio__fdwatch **fds;
    size_t fds_cap;
    size_t fds_active;      /* how many have events registered with libev */
    aio__io_event *io_events;
    size_t io_events_len;
    size_t io_events_cap;

    /* Signal handlers, by signal number. */
    aio_handle *signal_handlers[NSIG];
    size_t signal_handler_count;

    /* Lifecycle. `closed` is read by other threads (call_soon_threadsafe);
     * so are `running`, `thread` and `debug`, which are written with atomic
     * stores and read from other threads with atomic loads. */
    atomic_bool closed;
    bool stopping;
    bool running;           /* _thread_id is not None */
    pthread_t thread;       /* the thread running it, while running */

    /* For a host program's main loop (embed.h): an epoll descriptor of our
     * own watching what libev watches, made when first asked for. */
    int embed_fd;
    /* What a host program is called with around a blocking poll (embed.h). */
    aio_poll_hook poll_before;
    aio_poll_hook poll_after;
    void *poll_hooks_arg;

    /* Debug mode and the exception handler. */
    bool debug;
    double slow_callback_duration;
    int target_version;     /* AIO_PY(3, N): the CPython this loop behaves as */
    aio_handle *current_handle;
    aio_exception_handler exception_handler;
    void *exception_handler_arg;
    aio_task_factory task_factory;
    void *task_factory_arg;

    /* What the parts above the loop keep for it (aio__loop_part_slot()). */
    void *part_slots[AIO__LOOP_PARTS_MAX];
};

/* loop.get_debug(), from any thread. */
static inline bool aio__loop_debug(const aio_loop *loop)
{
    return __atomic_load_n(&loop->debug, __ATOMIC_RELAXED);
}

/* The first of the slots where `part` keeps its state for `loop` (NULL
 * until it sets them). */
extern const aio__loop_part __start_aio_loop_parts[] AIO_INTERNAL;
extern unsigned aio__part_first_slot[AIO__LOOP_PARTS_MAX] AIO_INTERNAL;

static inline void **aio__loop_part_slot(aio_loop *loop, const aio__loop_part *part)
{
    return &loop->part_slots[aio__part_first_slot[part - __start_aio_loop_parts]];
}

/* A new loop (new_event_loop() without the policy). */
AIO_INTERNAL aio_loop *aio__loop_new(void);

/* Monotonic time in seconds: loop.time(). */
AIO_INTERNAL double aio__monotonic(void);

/* run_forever()'s checks that the loop is not running, nor another loop
 * in this thread: 0, or -1 with RuntimeError. */
AIO_INTERNAL int aio__loop_check_running(aio_loop *loop);
/* Raises RuntimeError('Event loop is closed') when it is. */
AIO_INTERNAL int aio__loop_check_closed(aio_loop *loop);
/* The ready queue: a ring that doubles when full. */
AIO_INTERNAL int aio__loop_ready_grow(aio_loop *loop);
/* Moves handles other threads scheduled into the ready queue, keeping the
 * order in which they were scheduled relative to this thread's. */
AIO_INTERNAL void aio__loop_take_incoming(aio_loop *loop);

static inline int aio__ready_append(aio_loop *loop, aio_handle *handle)
{
    if (AIO_UNLIKELY(loop->ready_len > loop->ready_mask) && aio__loop_ready_grow(loop) < 0)
        return -1;
    loop->ready[(loop->ready_head + loop->ready_len) & loop->ready_mask] = handle;
    loop->ready_len++;
    return 0;
}

static inline aio_handle *aio__ready_popleft(aio_loop *loop)
{
    aio_handle *handle = loop->ready[loop->ready_head];
    loop->ready_head = (loop->ready_head + 1) & loop->ready_mask;
    loop->ready_len--;
    return handle;
}

/* call_soon() without argument checks: appends the handle (taking over the
 * reference) to the ready queue, after what other threads scheduled. */
static inline int aio__loop_ready_push(aio_loop *loop, aio_handle *handle)
{
    if (AIO_UNLIKELY(atomic_load_explicit(&loop->incoming_pending, memory_order_relaxed)))
        aio__loop_take_incoming(loop);
    return aio__ready_append(loop, handle);
}

/* _add_callback(): queues a handle that stays registered (a reader, a
 * writer, a signal handler), taking a reference. Out of memory the event is
 * dropped, as a full poll would: -1, with no exception left set. */
static inline int aio__loop_add_callback(aio_loop *loop, aio_handle *handle)
{
    if (AIO_UNLIKELY(aio__loop_ready_push(loop, handle) < 0)) {
        aio_err_clear();
        return -1;
    }
    aio__incref(handle);
    return 0;
}
/* Schedules a done-callback handle made in advance (a Future's), handing
 * it `future`; takes the handle's reference over, even on failure. */
AIO_INTERNAL int aio__loop_schedule_done(aio_loop *loop, aio_handle *handle,
                                         aio_future *future);
/* Schedules done_callback(future, arg) with the given context. */
AIO_INTERNAL int aio__loop_call_soon_done(aio_loop *loop, aio_done_callback fn,
                                          aio_future *future, void *arg,
                                          aio__ctxmap *map, aio_context *context);
/* Debug mode's "Non-thread-safe operation" check. */
AIO_INTERNAL int aio__loop_check_thread(aio_loop *loop);
/* Writes a byte to the self-pipe to wake the poll. */
AIO_INTERNAL void aio__loop_write_to_self(aio_loop *loop);

/* Timer heap (timers.c). */
AIO_INTERNAL int aio__timers_push(aio_loop *loop, aio_handle *timer);
AIO_INTERNAL aio_handle *aio__timers_pop(aio_loop *loop);
AIO_INTERNAL void aio__timers_purge_cancelled(aio_loop *loop);
AIO_INTERNAL void aio__timers_clear(aio_loop *loop);

/* Makes sure libev's allocator has its reserve before a call into libev
 * that may allocate (evalloc.c): 0, or -1 with MemoryError. */
AIO_INTERNAL int aio__ev_reserve(void);

/* File descriptors (io.c). The loop's own _add_reader() and friends, for
 * descriptors a part of the runtime owns: no check that a part owns them. */
AIO_INTERNAL int aio__io_add_reader(aio_loop *loop, int fd, aio_callback callback, void *args,
                                    aio_release_func release);
AIO_INTERNAL int aio__io_remove_reader(aio_loop *loop, int fd);
AIO_INTERNAL int aio__io_add_writer(aio_loop *loop, int fd, aio_callback callback, void *args,
                                    aio_release_func release);
AIO_INTERNAL int aio__io_remove_writer(aio_loop *loop, int fd);
/* What the parts say of a descriptor the public methods get (check_fd). */
AIO_INTERNAL int aio__loop_check_fd(aio_loop *loop, int fd);
AIO_INTERNAL void aio__io_dispatch(aio_loop *loop);
/* After one ev_run(): puts the events it recorded (from index `first`)
 * back in epoll's order (libev reports them last first). */
AIO_INTERNAL void aio__io_poll_done(aio_loop *loop, size_t first);
/* Makes loop->embed_fd, watching the self-pipe and every watched fd; from
 * then on it follows every change. 0, or -1 with OSError. */
AIO_INTERNAL int aio__io_embed_start(aio_loop *loop);
AIO_INTERNAL void aio__io_close(aio_loop *loop);


/* Signals (signals.c). */
AIO_INTERNAL void aio__signals_dispatch(aio_loop *loop, const unsigned char *bytes, size_t len);
AIO_INTERNAL bool aio__signals_pending(aio_loop *loop);
AIO_INTERNAL void aio__signals_close(aio_loop *loop);

/* True in the process's main thread (policy.c). */
AIO_INTERNAL bool aio__in_main_thread(void);
/* threading.current_thread().name for this thread, as messages print it
 * (policy.c): "MainThread"; the name given with aio__set_thread_name() (an
 * executor's "<prefix>_<n>"); else "Dummy-N", as Python names threads it
 * did not start. aio__set_thread_name() keeps up to 63 bytes; NULL forgets. */
AIO_INTERNAL void aio__set_thread_name(const char *name);
AIO_INTERNAL void aio__thread_name(char *buf, size_t size);
/* True when obj is an event loop (loop.c). */
AIO_INTERNAL bool aio__is_loop(const void *obj);
/* getpid(), without the system call, kept right across fork(). */
AIO_INTERNAL pid_t aio__process_id(void);
/* The running loop of this thread. */
AIO_INTERNAL aio_loop *aio__running_loop(void);
AIO_INTERNAL void aio__set_running_loop(aio_loop *loop);

/* Target versions (version.c): whether `version` is one we know, and the
 * running loop's target (the process default outside any loop). A
 * behaviour that changed in CPython 3.N tests
 * `aio_loop_get_target_version(loop) >= AIO_PY(3, N)`. */
AIO_INTERNAL bool aio__version_valid(int version);
AIO_INTERNAL int aio__current_target_version(void);

#endif /* CASYNCIO_RUNTIME_LOOP_H */
