/* coro.h - stackful coroutines: a C function on a stack of its own, and the
 * switch between stacks. Internal.
 *
 * A task (and an async generator) runs its C function on one of these. The
 * switch saves only the callee-saved registers and the stack pointer (the
 * hand-written x86-64 and aarch64 routines in coro.c); other machines use
 * ucontext. Stacks are reserved, not committed: a page becomes resident
 * when the function first touches it. Default-size stacks come from a pool
 * per thread that follows the load (coro.c says how). Below each stack lies
 * a guard region; running into it stops the process with a message naming
 * the stack's owner, instead of corrupting whatever lies below.
 */
#ifndef CASYNCIO_RUNTIME_CORO_H
#define CASYNCIO_RUNTIME_CORO_H

#include <stddef.h>
#include <stdint.h>

#include "object.h"

#if !defined(AIO_CORO_UCONTEXT) && !defined(__x86_64__) && !defined(__aarch64__)
#define AIO_CORO_UCONTEXT 1
#endif

#if defined(__SANITIZE_ADDRESS__)
#define AIO_CORO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AIO_CORO_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define AIO_CORO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define AIO_CORO_TSAN 1
#endif
#endif
#ifdef AIO_CORO_UCONTEXT
#include <ucontext.h>
#endif

/* The default stack of a task: reserved address space, resident only as far
 * as it is used. */
#define AIO__CORO_DEFAULT_STACK (256u * 1024u)
#define AIO__CORO_MIN_STACK (16u * 1024u)

typedef struct aio__coro aio__coro;
typedef void (*aio__coro_entry)(void *arg);

struct aio__coro {
#ifdef AIO_CORO_UCONTEXT
    ucontext_t uc;
#else
    void *sp;               /* the saved stack pointer while switched out */
#endif
    char *stack;            /* lowest usable address; NULL for a thread's own stack */
    size_t stack_size;      /* usable bytes above the guard */
    void *pool_chunk;       /* where in the stack pool it comes from; NULL: a
                               mapping of its own */
    aio__coro_entry entry;  /* what runs on it, when first switched to */
    void *entry_arg;
    const char *const *label; /* where the owner keeps its name (overflow reports) */
#ifdef AIO_CORO_ASAN
    void *asan_fake_stack;  /* AddressSanitizer's state while switched out */
    const void *asan_caller_bottom; /* a thread's own stack, as ASan knows it */
    size_t asan_caller_size;
#endif
#ifdef AIO_CORO_TSAN
    void *tsan_fiber;       /* ThreadSanitizer's fiber for this stack */
#endif
    unsigned valgrind_id;
    bool shared;            /* runs on the thread's shared stack (below) */
    char *saved;            /* shared: its used part while switched out */
    size_t saved_len;
    size_t saved_cap;
};

/* Gives `coro` a stack of `stack_size` bytes (0: the default) on which
 * entry(arg) will run when it is first switched to. entry must not return:
 * it ends by switching away for the last time (aio__coro_exit). -1 with
 * MemoryError when no stack can be had. */
AIO_INTERNAL int aio__coro_init(aio__coro *coro, size_t stack_size, aio__coro_entry entry,
                                void *arg);
/* Like aio__coro_init(), on the thread's shared stack: while the coroutine
 * is switched out, only the part of the stack it uses is kept, in a heap
 * buffer (aio__coro_stash), and copied back before it runs again
 * (aio__coro_unstash). It costs a copy of that part per switch and saves
 * the resident page a stack of its own keeps; but nothing may point into
 * its stack while it is switched out, since others run there meanwhile.
 * The switches to and from it must go through a stack that is not shared.
 * Where the copy cannot work (ucontext, AddressSanitizer), the coroutine
 * gets a stack of its own. */
AIO_INTERNAL int aio__coro_init_shared(aio__coro *coro, aio__coro_entry entry, void *arg);
/* After a shared coroutine switched out: copies its used stack aside. 0, or
 * -1 with MemoryError (it must not be resumed then). */
AIO_INTERNAL int aio__coro_stash(aio__coro *coro);
/* Before switching to a shared coroutine: puts its stack back. */
AIO_INTERNAL void aio__coro_unstash(aio__coro *coro);

/* Returns the stack to the pool; the coroutine must not be running. Any
 * thread may, though the stack's pool is its first thread's. */
AIO_INTERNAL void aio__coro_release(aio__coro *coro);

#ifdef AIO_TRACK_OBJECTS
/* For tests: the calling thread's pool of default-size stacks. */
typedef struct aio__coro_pool_stats {
    size_t in_use;              /* stacks of it in use */
    size_t warm, cold;          /* free slots, with and without their pages */
    size_t chunks;              /* mappings of slots */
    size_t mapped_bytes;        /* of those chunks */
    size_t free_resident_bytes; /* what the free slots hold resident (mincore) */
} aio__coro_pool_stats;
AIO_INTERNAL void aio__coro_pool_get_stats(aio__coro_pool_stats *out);
/* How long the pool keeps more warm stacks than it needs before it gives
 * their pages back (1 s; 0 in tests that want it at once). */
extern uint64_t aio__coro_pool_decay_ns;
#endif

/* Switches from the running coroutine (or the thread's own stack, `from`
 * being the thread's aio__coro_main()) to `to`; returns when something
 * switches back to `from`. */
AIO_INTERNAL void aio__coro_switch(aio__coro *from, aio__coro *to);
/* The last switch away from a coroutine whose function is done. */
AIO_INTERNAL _Noreturn void aio__coro_exit(aio__coro *from, aio__coro *to);

/* The coroutine running on this thread (the thread's own stack when no
 * coroutine is). */
AIO_INTERNAL aio__coro *aio__coro_current(void);

#endif /* CASYNCIO_RUNTIME_CORO_H */
