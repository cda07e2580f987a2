/* coro.c - stacks and the switch between them (see coro.h). */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "casyncio/exceptions.h"
#include "coro.h"

#ifdef AIO_CORO_ASAN
#define AIO_ASAN 1
#endif
#ifdef AIO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#ifdef AIO_CORO_TSAN
/* ThreadSanitizer's fibers (<sanitizer/tsan_interface.h> in newer
 * compilers): each stack is a fiber it tracks its own happens-before for. */
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#define AIO_VALGRIND 1
#endif
#endif

/* Guard regions that do not split the mapping (Linux 6.13); older kernels
 * get an mprotect()ed guard, one more mapping per stack. */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Below every stack: large enough that a function with big locals cannot
 * step over it. Address space only; nothing is ever resident there. */
#define GUARD_SIZE (64u * 1024u)

static __thread aio__coro thread_main;
static __thread aio__coro *current;
static __thread aio__coro *switching_from;

aio__coro *aio__coro_current(void)
{
    return current != NULL ? current : &thread_main;
}

/* --- The switch ------------------------------------------------------------- */

static void coro_start(void);

#ifndef AIO_CORO_UCONTEXT
/* aio__coro_swap(&from->sp, to->sp): pushes the callee-saved registers on
 * the current stack, saves the stack pointer, loads the other one and pops
 * that stack's registers. A new stack is laid out so that the pops and the
 * return land in aio__coro_boot, which calls coro_start(). On x86-64 the
 * return is an indirect jump: a `ret` to another stack's return address is
 * mispredicted on every switch (the return predictor expects the caller). */
AIO_INTERNAL void aio__coro_swap(void **from_sp, void *to_sp);
AIO_INTERNAL void aio__coro_boot(void);

#if defined(__x86_64__)
__asm__(".text\n"
        ".p2align 4\n"
        ".globl aio__coro_swap\n"
        ".hidden aio__coro_swap\n"
        ".type aio__coro_swap, @function\n"
        "aio__coro_swap:\n"
        "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    movq %rsp, (%rdi)\n"
        "    movq %rsi, %rsp\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    popq %rcx\n"
        "    jmpq *%rcx\n"
        ".size aio__coro_swap, .-aio__coro_swap\n"
        ".p2align 4\n"
        ".globl aio__coro_boot\n"
        ".hidden aio__coro_boot\n"
        ".type aio__coro_boot, @function\n"
        "aio__coro_boot:\n"
        "    callq *%rbx\n"
        "    ud2\n");

/* Seven slots popped by the first switch: r15 r14 r13 r12 rbx rbp, then
 * the return address. rsp must be 16-byte aligned when the call in
 * aio__coro_boot is made. */
static void *initial_frame(char *top)
{
    void **sp = (void **)(top - 72);
    memset(sp, 0, 72);
    sp[4] = (void *)(uintptr_t)coro_start; /* rbx */
    sp[6] = (void *)(uintptr_t)aio__coro_boot; /* return address */
    return sp;
}
#elif defined(__aarch64__)
__asm__(".text\n"
        ".p2align 4\n"
        ".globl aio__coro_swap\n"
        ".hidden aio__coro_swap\n"
        ".type aio__coro_swap, %function\n"
        "aio__coro_swap:\n"
        "    sub sp, sp, #160\n"
        "    stp x19, x20, [sp, #0]\n"
        "    stp x21, x22, [sp, #16]\n"
        "    stp x23, x24, [sp, #32]\n"
        "    stp x25, x26, [sp, #48]\n"
        "    stp x27, x28, [sp, #64]\n"
        "    stp x29, x30, [sp, #80]\n"
        "    stp d8, d9, [sp, #96]\n"
        "    stp d10, d11, [sp, #112]\n"
        "    stp d12, d13, [sp, #128]\n"
        "    stp d14, d15, [sp, #144]\n"
        "    mov x9, sp\n"
        "    str x9, [x0]\n"
        "    mov sp, x1\n"
        "    ldp x19, x20, [sp, #0]\n"
        "    ldp x21, x22, [sp, #16]\n"
        "    ldp x23, x24, [sp, #32]\n"
        "    ldp x25, x26, [sp, #48]\n"
        "    ldp x27, x28, [sp, #64]\n"
        "    ldp x29, x30, [sp, #80]\n"
        "    ldp d8, d9, [sp, #96]\n"
        "    ldp d10, d11, [sp, #112]\n"
        "    ldp d12, d13, [sp, #128]\n"
        "    ldp d14, d15, [sp, #144]\n"
        "    add sp, sp, #160\n"
        "    ret\n"
        ".size aio__coro_swap, .-aio__coro_swap\n"
        ".p2align 4\n"
        ".globl aio__coro_boot\n"
        ".hidden aio__coro_boot\n"
        ".type aio__coro_boot, %function\n"
        "aio__coro_boot:\n"
        "    blr x19\n"
        "    brk #0\n");

/* x19..x30 and d8..d15 popped by the first switch; x30 (the return
 * address) points at aio__coro_boot, x19 at coro_start. */
static void *initial_frame(char *top)
{
    void **sp = (void **)(top - 160);
    memset(sp, 0, 160);
    sp[0] = (void *)(uintptr_t)coro_start; /* x19 */
    sp[11] = (void *)(uintptr_t)aio__coro_boot; /* x30 */
    return sp;
}
#endif
#endif /* !AIO_CORO_UCONTEXT */

/* --- Sanitizers ---------------------------------------------------------------- */

static inline void asan_leave(aio__coro *from, aio__coro *to, bool dying)
{
#ifdef AIO_ASAN
    const void *bottom = to->stack != NULL ? to->stack : to->asan_caller_bottom;
    size_t size = to->stack != NULL ? to->stack_size : to->asan_caller_size;
    __sanitizer_start_switch_fiber(dying ? NULL : &from->asan_fake_stack, bottom, size);
#else
    (void)from;
    (void)to;
    (void)dying;
#endif
}

/* Runs on arrival: tells ASan the switch is over, and learns the bounds of
 * a thread's own stack the first time a coroutine is entered from it. */
static inline void asan_arrive(void)
{
#ifdef AIO_ASAN
    const void *bottom;
    size_t size;
    __sanitizer_finish_switch_fiber(current->asan_fake_stack, &bottom, &size);
    if (switching_from != NULL && switching_from->stack == NULL) {
        switching_from->asan_caller_bottom = bottom;
        switching_from->asan_caller_size = size;
    }
#endif
}

/* Tells ThreadSanitizer which fiber runs next; a thread's own stack is the
 * fiber it was running when it first left it. */
static inline void tsan_switch(aio__coro *from, aio__coro *to)
{
#ifdef AIO_CORO_TSAN
    if (from->stack == NULL && from->tsan_fiber == NULL)
        from->tsan_fiber = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#else
    (void)from;
    (void)to;
#endif
}

void aio__coro_switch(aio__coro *from, aio__coro *to)
{
    switching_from = from;
    current = to;
    tsan_switch(from, to);
    asan_leave(from, to, false);
#ifdef AIO_CORO_UCONTEXT
    swapcontext(&from->uc, &to->uc);
#else
    aio__coro_swap(&from->sp, to->sp);
#endif
    asan_arrive();
}

void aio__coro_exit(aio__coro *from, aio__coro *to)
{
    switching_from = from;
    current = to;
    tsan_switch(from, to);
    asan_leave(from, to, true);
#ifdef AIO_CORO_UCONTEXT
    setcontext(&to->uc);
#else
    void *discard;
    aio__coro_swap(&discard, to->sp);
#endif
    __builtin_unreachable();
}

static void coro_start(void)
{
    asan_arrive();
    aio__coro *self = current;
    self->entry(self->entry_arg);
    __builtin_unreachable(); /* entry ends with aio__coro_exit() */
}

/* --- Stack overflow -------------------------------------------------------------- */

static struct sigaction previous_segv;
static pthread_once_t segv_once = PTHREAD_ONCE_INIT;
static __thread bool altstack_ready;

static void write_str(const char *s)
{
    ssize_t rc = write(STDERR_FILENO, s, strlen(s));
    (void)rc;
}

/* A fault in the guard region below the running coroutine's stack is a
 * stack overflow: say whose, and stop. Any other fault is passed on. */
static void on_segv(int sig, siginfo_t *info, void *uctx)
{
    aio__coro *coro = current;
    char *addr = info->si_addr;
    if (coro != NULL && coro->stack != NULL && addr < coro->stack &&
        addr >= coro->stack - GUARD_SIZE) {
        write_str("casyncio: stack overflow in ");
        write_str(coro->label != NULL && *coro->label != NULL ? *coro->label : "a coroutine");
        write_str(" (its stack is too small; give it a larger stack_size)\n");
        signal(SIGABRT, SIG_DFL);
        abort();
    }
    if (previous_segv.sa_flags & SA_SIGINFO) {
        previous_segv.sa_sigaction(sig, info, uctx);
    } else if (previous_segv.sa_handler != SIG_DFL && previous_segv.sa_handler != SIG_IGN) {
        previous_segv.sa_handler(sig);
    } else {
        /* Returning re-runs the faulting instruction, now fatal. */
        signal(SIGSEGV, SIG_DFL);
    }
}

static void install_segv_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &previous_segv);
}

/* The overflow handler cannot run on the stack that overflowed: each thread
 * that runs coroutines gets an alternate signal stack, unless it has one.
 * The first coroutine of each thread comes through here, and the first of
 * the process installs the handler. */
#define ALTSTACK_SIZE (64u * 1024u)
static __thread void *altstack_mem; /* the one made here, if any */

static void thread_track(void);

static void ensure_altstack(void)
{
    pthread_once(&segv_once, install_segv_handler);
    altstack_ready = true;
    thread_track();
    stack_t old;
    if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE))
        return;
    void *mem = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
    if (mem == MAP_FAILED)
        return;
    stack_t ss = {.ss_sp = mem, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0)
        munmap(mem, ALTSTACK_SIZE);
    else
        altstack_mem = mem;
}

/* --- Stacks ----------------------------------------------------------------------- */

/* Memcheck is told which memory a program must not touch: guard regions,
 * and the stacks the pool keeps free (so that its leak check neither reads
 * them word by word, each read a fault, nor takes what dead frames left
 * there for pointers). */
static void valgrind_noaccess(void *ptr, size_t len)
{
#ifdef AIO_VALGRIND
    VALGRIND_MAKE_MEM_NOACCESS(ptr, len);
#else
    (void)ptr;
    (void)len;
#endif
}

/* What the kernel is told about many ranges at once: one process_madvise()
 * of the calling process (PIDFD_SELF, Linux 6.15) per IOV_BATCH ranges where
 * it can, else one madvise() per range. Returns how many ranges, from the
 * first, were advised. */
#define PIDFD_SELF_PROCESS (-10001)
#define IOV_BATCH 256

static atomic_bool no_process_madvise;

static size_t madvise_ranges(struct iovec *iov, size_t n, int advice)
{
    size_t done = 0;
#ifdef SYS_process_madvise
#ifdef AIO_VALGRIND
    if (RUNNING_ON_VALGRIND)
        atomic_store_explicit(&no_process_madvise, true, memory_order_relaxed);
#endif
    while (done < n && !atomic_load_explicit(&no_process_madvise, memory_order_relaxed)) {
        size_t batch = n - done < IOV_BATCH ? n - done : IOV_BATCH;
        long rc = syscall(SYS_process_madvise, PIDFD_SELF_PROCESS, iov + done, batch, advice, 0u);
        if (rc < 0) {
            if (done == 0 && advice != MADV_POPULATE_WRITE)
                atomic_store_explicit(&no_process_madvise, true, memory_order_relaxed);
            break;
        }
        /* It stops at the first range it cannot advise. */
        size_t bytes = (size_t)rc, advised = 0;
        while (advised < batch && bytes >= iov[done + advised].iov_len)
            bytes -= iov[done + advised++].iov_len;
        done += advised;
        if (advised < batch)
            break;
    }
#endif
    for (; done < n; done++) {
        if (madvise(iov[done].iov_base, iov[done].iov_len, advice) != 0)
            break;
    }
    return done;
}

/* Stacks of the default size come from a pool of the thread's: chunks of
 * slots (a guard region, then a stack) mapped a chunk at a time, as many
 * slots as the thread has stacks in use (between CHUNK_MIN and CHUNK_MAX),
 * so that a burst of tasks costs few system calls. A stack whose task is
 * done goes back to its slot for the next task, whose page is then already
 * there. Pages are put in ahead of use, a batch at a time
 * (MADV_POPULATE_WRITE of each stack's top page), which costs less than a
 * page fault per stack.
 *
 * The pool follows the load. It keeps free slots up to twice as many as
 * are in use (at least FREE_MIN): past that (by SLACK), it unmaps the
 * chunks that have no stack in use, least recently used first; when a burst
 * of tasks is over, that gives nearly all back, a system call per chunk.
 * It keeps free stacks whose pages are resident ("warm") up to as many as
 * are in use (at least WARM_MIN): past that, once it has been so for
 * DECAY_NS, it gives the pages of the least recently used ones back
 * (MADV_DONTNEED: their slots stay, "cold"). That takes a call per 256
 * stacks and the kernel's work per page, which a burst that ends by itself
 * saves: stacks that finish in any order empty their chunks only at the
 * end, and until then every warm stack given back would have been one
 * page freed twice over. As in allocators that decay (jemalloc), the pool
 * looks at the clock only when it is used: a thread whose tasks all sleep
 * keeps what it has until one starts or ends, or the thread ends. Other
 * sizes get a mapping each. */
#define SLOT_SIZE ((size_t)GUARD_SIZE + AIO__CORO_DEFAULT_STACK)
#define CHUNK_MIN 4u
#define CHUNK_MAX 256u
#define WARM_MIN 64u
#define FREE_MIN 256u
#define SLACK 64u
#define DECAY_NS 1000000000u
_Static_assert(CHUNK_MAX <= IOV_BATCH, "a chunk's guards are installed in one go");

typedef struct stack_pool stack_pool;
typedef struct stack_chunk stack_chunk;

struct stack_chunk {
    stack_chunk *prev, *next;   /* in its pool's avail or empty list */
    stack_pool *pool;
    char *base;                 /* nslots slots of SLOT_SIZE */
    unsigned nslots;
    unsigned nwarm;             /* free slots: warm ones at slots[0 .. nwarm), */
    unsigned ncold;             /* cold ones at slots[nslots - ncold .. nslots) */
    unsigned nremote;           /* freed on other threads: slots[nslots ..), under pools_lock */
    bool listed;                /* in avail or empty: it has a free slot */
    bool empty;                 /* in empty: every slot is free */
    stack_chunk *remote_next;   /* in its pool's remote list, while nremote > 0 */
    uint16_t slots[];           /* 2 * nslots slot numbers */
};

typedef struct chunk_list {
    stack_chunk *first, *last;
} chunk_list;

struct stack_pool {
    chunk_list avail;           /* chunks with stacks in use and free slots, last used first */
    chunk_list empty;           /* chunks with no stack in use, last used first */
    size_t in_use;              /* its stacks in use */
    size_t nwarm, ncold;        /* its free slots */
    size_t nchunks;
    size_t mapped;              /* bytes of its chunks */
    uint64_t warm_over_since;   /* when nwarm went past what it keeps; 0: it is not */
    /* Ranges for madvise_ranges(): this may run on a task's stack, which
     * need not have 4 KiB to spare. */
    struct iovec iov[IOV_BATCH];
    /* Under pools_lock: */
    stack_chunk *remote;        /* chunks with stacks freed on other threads */
    bool orphaned;              /* its thread ended; it goes when its last stack does */
    atomic_bool remote_pending;
};

/* Stacks freed on another thread than their pool's, and pools whose thread
 * ended: rare, and under one lock. */
static pthread_mutex_t pools_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread stack_pool *my_pool;

static void list_remove(chunk_list *list, stack_chunk *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        list->first = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    else
        list->last = c->prev;
    c->prev = c->next = NULL;
}

static void list_push_front(chunk_list *list, stack_chunk *c)
{
    c->prev = NULL;
    c->next = list->first;
    if (list->first != NULL)
        list->first->prev = c;
    else
        list->last = c;
    list->first = c;
}

static char *slot_stack(const stack_chunk *c, unsigned slot)
{
    return c->base + (size_t)slot * SLOT_SIZE + GUARD_SIZE;
}

static size_t max_size(size_t a, size_t b)
{
    return a > b ? a : b;
}

/* A chunk of n slots, each with its guard: none of its pages is resident
 * yet (all its slots are cold). NULL when it cannot be had. */
static stack_chunk *chunk_map(stack_pool *p, unsigned n)
{
    stack_chunk *c = calloc(1, sizeof *c + 2 * n * sizeof c->slots[0]);
    if (c == NULL)
        return NULL;
    size_t size = (size_t)n * SLOT_SIZE;
    c->base = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (c->base == MAP_FAILED) {
        free(c);
        return NULL;
    }
    /* A huge page would make 2 MiB of stacks resident at the first touch. */
    madvise(c->base, size, MADV_NOHUGEPAGE);
    struct iovec *iov = p->iov; /* n <= CHUNK_MAX == IOV_BATCH */
    for (size_t i = 0; i < n; i++)
        iov[i] = (struct iovec){.iov_base = c->base + i * SLOT_SIZE, .iov_len = GUARD_SIZE};
    for (size_t i = madvise_ranges(iov, n, MADV_GUARD_INSTALL); i < n; i++) {
        if (mprotect(iov[i].iov_base, GUARD_SIZE, PROT_NONE) != 0) {
            munmap(c->base, size);
            free(c);
            return NULL;
        }
    }
    valgrind_noaccess(c->base, size);
    c->pool = p;
    c->nslots = n;
    c->ncold = n;
    for (unsigned i = 0; i < n; i++)
        c->slots[i] = (uint16_t)i;
    p->ncold += n;
    p->nchunks++;
    p->mapped += size;
    return c;
}

static void chunk_unmap(stack_chunk *c)
{
    munmap(c->base, (size_t)c->nslots * SLOT_SIZE);
    free(c);
}

/* Pages for up to `want` cold slots of c, in one go; they become warm. */
static void chunk_warm_up(stack_pool *p, stack_chunk *c, size_t want)
{
    size_t n = c->ncold < want ? c->ncold : want;
    if (n > IOV_BATCH)
        n = IOV_BATCH;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    struct iovec *iov = p->iov;
    for (size_t i = 0; i < n; i++) {
        unsigned slot = c->slots[c->nslots - c->ncold + i];
        iov[i] = (struct iovec){.iov_base = slot_stack(c, slot) + AIO__CORO_DEFAULT_STACK - page,
                                .iov_len = page};
    }
    /* Without process_madvise() a page fault costs what madvise() would. */
    if (!atomic_load_explicit(&no_process_madvise, memory_order_relaxed))
        madvise_ranges(iov, n, MADV_POPULATE_WRITE);
    for (size_t i = 0; i < n; i++)
        c->slots[c->nwarm++] = c->slots[c->nslots - c->ncold--];
    p->ncold -= n;
    p->nwarm += n;
}

/* Gives the pages of the least recently used warm stacks back until at
 * most `keep` are left warm. */
static void pool_trim_warm(stack_pool *p, size_t keep)
{
    struct iovec *iov = p->iov;
    chunk_list *lists[] = {&p->avail, &p->empty};
    for (int l = 0; l < 2 && p->nwarm > keep; l++) {
        for (stack_chunk *c = lists[l]->last; c != NULL && p->nwarm > keep; c = c->prev) {
            while (c->nwarm > 0 && p->nwarm > keep) {
                size_t n = 0;
                while (c->nwarm > 0 && p->nwarm > keep && n < IOV_BATCH) {
                    unsigned slot = c->slots[--c->nwarm];
                    c->slots[c->nslots - ++c->ncold] = (uint16_t)slot;
                    p->nwarm--;
                    p->ncold++;
                    iov[n++] = (struct iovec){.iov_base = slot_stack(c, slot),
                                              .iov_len = AIO__CORO_DEFAULT_STACK};
                }
                madvise_ranges(iov, n, MADV_DONTNEED);
            }
        }
    }
}

/* Unmaps chunks with no stack in use, least recently used first, until
 * at most `keep` free slots are left (or none of them can go). */
static void pool_trim_free(stack_pool *p, size_t keep)
{
    while (p->nwarm + p->ncold > keep && p->empty.last != NULL) {
        stack_chunk *c = p->empty.last;
        list_remove(&p->empty, c);
        p->nwarm -= c->nwarm;
        p->ncold -= c->ncold;
        p->nchunks--;
        p->mapped -= (size_t)c->nslots * SLOT_SIZE;
        chunk_unmap(c);
    }
}

#ifdef AIO_TRACK_OBJECTS
uint64_t aio__coro_pool_decay_ns = DECAY_NS;
#define POOL_DECAY_NS aio__coro_pool_decay_ns
#else
#define POOL_DECAY_NS DECAY_NS
#endif

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* What the pool keeps follows the load (above). */
static void pool_maintain(stack_pool *p)
{
    size_t free_keep = max_size(FREE_MIN, 2 * p->in_use);
    if (p->nwarm + p->ncold > free_keep + SLACK)
        pool_trim_free(p, free_keep);
    size_t warm_keep = max_size(WARM_MIN, p->in_use);
    if (p->nwarm <= warm_keep + SLACK) {
        p->warm_over_since = 0;
        return;
    }
    uint64_t now = monotonic_ns();
    if (p->warm_over_since == 0)
        p->warm_over_since = now;
    if (now - p->warm_over_since >= POOL_DECAY_NS) {
        pool_trim_warm(p, warm_keep);
        p->warm_over_since = 0;
    }
}

/* A slot of c is free again; c moves to the front of its list. */
static void chunk_put(stack_pool *p, stack_chunk *c, unsigned slot)
{
    c->slots[c->nwarm++] = (uint16_t)slot;
    p->nwarm++;
    p->in_use--;
    if (c->listed)
        list_remove(c->empty ? &p->empty : &p->avail, c);
    c->listed = true;
    c->empty = c->nwarm + c->ncold == c->nslots;
    list_push_front(c->empty ? &p->empty : &p->avail, c);
}

/* Under pools_lock: takes in the stacks other threads freed. */
static void pool_collect_remote(stack_pool *p)
{
    for (stack_chunk *c = p->remote; c != NULL; c = c->remote_next) {
        for (unsigned i = 0; i < c->nremote; i++)
            chunk_put(p, c, c->slots[c->nslots + i]);
        c->nremote = 0;
    }
    p->remote = NULL;
    atomic_store_explicit(&p->remote_pending, false, memory_order_relaxed);
}

/* A default-size stack of the thread's pool; NULL when none can be had. */
static char *pool_take(stack_chunk **chunk_out)
{
    stack_pool *p = my_pool;
    if (AIO_UNLIKELY(p == NULL)) {
        if ((p = my_pool = calloc(1, sizeof *p)) == NULL)
            return NULL;
        thread_track(); /* again, if this runs in a thread-exit destructor */
    }
    if (atomic_load_explicit(&p->remote_pending, memory_order_acquire)) {
        pthread_mutex_lock(&pools_lock);
        pool_collect_remote(p);
        pthread_mutex_unlock(&pools_lock);
    }
    /* A warm stack if there is one (the chunks last used come first). */
    stack_chunk *c = p->avail.first;
    if (c == NULL || (c->nwarm == 0 && p->empty.first != NULL && p->empty.first->nwarm > 0))
        c = p->empty.first;
    if (c == NULL) {
        size_t n = p->in_use < CHUNK_MIN ? CHUNK_MIN : p->in_use < CHUNK_MAX ? p->in_use : CHUNK_MAX;
        if ((c = chunk_map(p, (unsigned)n)) == NULL)
            return NULL;
        c->listed = c->empty = true;
        list_push_front(&p->empty, c);
    }
    if (c->nwarm == 0) /* as many as a quarter of those in use, in one go */
        chunk_warm_up(p, c, max_size(1, p->in_use / 4));
    unsigned slot = c->slots[--c->nwarm];
    p->nwarm--;
    p->in_use++;
    list_remove(c->empty ? &p->empty : &p->avail, c);
    c->empty = false;
    c->listed = c->nwarm + c->ncold > 0;
    if (c->listed)
        list_push_front(&p->avail, c);
    if (p->warm_over_since != 0)
        pool_maintain(p); /* it may have been over for long enough */
    *chunk_out = c;
    return slot_stack(c, slot);
}

/* Under pools_lock: a pool whose thread ended gets one of its stacks
 * back, and unmaps the chunk when that was its last in use. */
static void orphan_put(stack_chunk *c, unsigned slot)
{
    stack_pool *p = c->pool;
    c->slots[c->nslots - ++c->ncold] = (uint16_t)slot;
    if (c->nwarm + c->ncold < c->nslots)
        return;
    if (c->listed)
        list_remove(c->empty ? &p->empty : &p->avail, c);
    chunk_unmap(c);
    if (--p->nchunks == 0)
        free(p);
}

static void pool_put(stack_chunk *c, char *stack)
{
    unsigned slot = (unsigned)((size_t)(stack - GUARD_SIZE - c->base) / SLOT_SIZE);
    stack_pool *p = c->pool;
    if (AIO_LIKELY(p == my_pool)) {
        chunk_put(p, c, slot);
        pool_maintain(p);
        return;
    }
    pthread_mutex_lock(&pools_lock);
    if (p->orphaned) {
        orphan_put(c, slot);
    } else {
        if (c->nremote++ == 0) {
            c->remote_next = p->remote;
            p->remote = c;
        }
        c->slots[c->nslots + c->nremote - 1] = (uint16_t)slot;
        atomic_store_explicit(&p->remote_pending, true, memory_order_release);
    }
    pthread_mutex_unlock(&pools_lock);
}

/* The thread ends: its pool gives back what it can. Chunks with a stack in
 * use (a task that never finished) stay, the pool with them, until their
 * last stack is freed, by any thread. */
static void pool_release(void)
{
    stack_pool *p = my_pool;
    if (p == NULL)
        return;
    my_pool = NULL;
    pthread_mutex_lock(&pools_lock);
    pool_collect_remote(p);
    pool_trim_free(p, 0);
    pool_trim_warm(p, 0);
    if (p->nchunks == 0)
        free(p);
    else
        p->orphaned = true;
    pthread_mutex_unlock(&pools_lock);
}

/* A stack with a mapping of its own (a size other than the default). */
static void stack_unmap(char *stack, size_t size)
{
    munmap(stack - GUARD_SIZE, size + GUARD_SIZE);
}

static char *stack_map(size_t size)
{
    /* 0: round_stack_size() wrapped around; too large to add the guard. */
    if (size == 0 || size > SIZE_MAX - GUARD_SIZE)
        return NULL;
    size_t total = size + GUARD_SIZE;
    char *base = mmap(NULL, total, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    if (madvise(base, GUARD_SIZE, MADV_GUARD_INSTALL) != 0 &&
        mprotect(base, GUARD_SIZE, PROT_NONE) != 0) {
        munmap(base, total);
        return NULL;
    }
    valgrind_noaccess(base, GUARD_SIZE);
    return base + GUARD_SIZE;
}

static size_t round_stack_size(size_t size)
{
    if (size == 0)
        return AIO__CORO_DEFAULT_STACK;
    if (size < AIO__CORO_MIN_STACK)
        size = AIO__CORO_MIN_STACK;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return (size + page - 1) & ~(page - 1);
}

int aio__coro_init(aio__coro *coro, size_t stack_size, aio__coro_entry entry, void *arg)
{
    if (AIO_UNLIKELY(!altstack_ready))
        ensure_altstack();
    size_t size = round_stack_size(stack_size);
    stack_chunk *chunk = NULL;
    char *stack = size == AIO__CORO_DEFAULT_STACK ? pool_take(&chunk) : NULL;
    if (stack == NULL && (stack = stack_map(size)) == NULL) {
        aio_err_set(aio_MemoryError, NULL);
        return -1;
    }
    coro->stack = stack;
    coro->stack_size = size;
    coro->pool_chunk = chunk;
    coro->entry = entry;
    coro->entry_arg = arg;
#ifdef AIO_ASAN
    coro->asan_fake_stack = NULL;
#endif
#ifdef AIO_CORO_TSAN
    coro->tsan_fiber = __tsan_create_fiber(0);
#endif
#ifdef AIO_VALGRIND
    coro->valgrind_id = VALGRIND_STACK_REGISTER(stack, stack + size);
    /* A pooled stack is no-access while free; what lies below the first
     * frame becomes accessible as the stack pointer moves down. */
    VALGRIND_MAKE_MEM_UNDEFINED(stack + size - 256, 256);
#endif
#ifdef AIO_CORO_UCONTEXT
    getcontext(&coro->uc);
    coro->uc.uc_stack.ss_sp = stack;
    coro->uc.uc_stack.ss_size = size;
    coro->uc.uc_link = NULL;
    makecontext(&coro->uc, coro_start, 0);
#else
    coro->sp = initial_frame(stack + size);
#endif
    return 0;
}

#ifdef AIO_TRACK_OBJECTS
void aio__coro_pool_get_stats(aio__coro_pool_stats *out)
{
    memset(out, 0, sizeof *out);
    stack_pool *p = my_pool;
    if (p == NULL)
        return;
    out->in_use = p->in_use;
    out->warm = p->nwarm;
    out->cold = p->ncold;
    out->chunks = p->nchunks;
    out->mapped_bytes = p->mapped;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char vec[AIO__CORO_DEFAULT_STACK / 4096];
    chunk_list *lists[] = {&p->avail, &p->empty};
    for (int l = 0; l < 2; l++) {
        for (stack_chunk *c = lists[l]->first; c != NULL; c = c->next) {
            for (unsigned i = 0; i < c->nslots; i++) {
                bool is_free = i < c->nwarm || i >= c->nslots - c->ncold;
                if (!is_free || page > 4096 ||
                    mincore(slot_stack(c, c->slots[i]), AIO__CORO_DEFAULT_STACK, vec) != 0)
                    continue;
                for (size_t j = 0; j < sizeof vec; j++)
                    out->free_resident_bytes += (vec[j] & 1) * page;
            }
        }
    }
}
#endif

/* --- The shared stack ------------------------------------------------------------- */

/* ucontext keeps its own copy of the registers, ASan its own map of the
 * stack and TSan its own per fiber: none survives the copy, so there
 * coroutines asked to share get stacks of their own. */
#if !defined(AIO_CORO_UCONTEXT) && !defined(AIO_ASAN) && !defined(AIO_CORO_TSAN)
#define AIO_SHARED_STACK 1
static __thread char *shared_stack;
#ifdef AIO_VALGRIND
static __thread unsigned shared_valgrind_id;
#endif
#endif

int aio__coro_init_shared(aio__coro *coro, aio__coro_entry entry, void *arg)
{
#ifndef AIO_SHARED_STACK
    return aio__coro_init(coro, 0, entry, arg);
#else
    if (AIO_UNLIKELY(!altstack_ready))
        ensure_altstack();
    if (shared_stack == NULL) {
        if ((shared_stack = stack_map(AIO__CORO_DEFAULT_STACK)) == NULL) {
            aio_err_set(aio_MemoryError, NULL);
            return -1;
        }
#ifdef AIO_VALGRIND
        shared_valgrind_id =
            VALGRIND_STACK_REGISTER(shared_stack, shared_stack + AIO__CORO_DEFAULT_STACK);
#endif
    }
    coro->stack = shared_stack;
    coro->stack_size = AIO__CORO_DEFAULT_STACK;
    coro->entry = entry;
    coro->entry_arg = arg;
#ifdef AIO_ASAN
    coro->asan_fake_stack = NULL;
#endif
    coro->shared = true;
    coro->saved_len = 0;
#ifdef AIO_VALGRIND
    VALGRIND_MAKE_MEM_UNDEFINED(shared_stack + AIO__CORO_DEFAULT_STACK - 256, 256);
#endif
    coro->sp = initial_frame(shared_stack + AIO__CORO_DEFAULT_STACK);
    return 0;
#endif
}

int aio__coro_stash(aio__coro *coro)
{
#ifndef AIO_SHARED_STACK
    (void)coro;
    return 0;
#else
    char *top = coro->stack + coro->stack_size;
    size_t len = (size_t)(top - (char *)coro->sp);
    if (len > coro->saved_cap) {
        char *saved = realloc(coro->saved, len);
        if (saved == NULL) {
            aio_err_set(aio_MemoryError, NULL);
            return -1;
        }
        coro->saved = saved;
        coro->saved_cap = len;
    }
    memcpy(coro->saved, coro->sp, len);
    coro->saved_len = len;
    return 0;
#endif
}

void aio__coro_unstash(aio__coro *coro)
{
#ifdef AIO_SHARED_STACK
    if (coro->saved_len > 0) {
#ifdef AIO_VALGRIND
        /* Valgrind took the shared stack below the last coroutine's stack
         * pointer for dead: this part is alive again. */
        VALGRIND_MAKE_MEM_UNDEFINED(coro->sp, coro->saved_len);
#endif
        memcpy(coro->sp, coro->saved, coro->saved_len);
    }
#else
    (void)coro;
#endif
}

void aio__coro_release(aio__coro *coro)
{
    if (coro->shared) {
        free(coro->saved);
        coro->saved = NULL;
        coro->saved_len = coro->saved_cap = 0;
        coro->shared = false;
        coro->stack = NULL;
        return;
    }
    if (coro->stack == NULL)
        return;
#ifdef AIO_ASAN
    /* The frames that never returned (the last switch away) left their
     * redzones poisoned: whatever uses this memory next, a pooled stack or
     * a later mapping, must not inherit them. */
    __asan_unpoison_memory_region(coro->stack, coro->stack_size);
#endif
#ifdef AIO_VALGRIND
    VALGRIND_STACK_DEREGISTER(coro->valgrind_id);
#endif
#ifdef AIO_CORO_TSAN
    /* Not __tsan_destroy_fiber(): clang 14's runtime crashes later on a
     * destroyed fiber's memory (fixed in LLVM 22). ThreadSanitizer builds
     * keep each finished coroutine's fiber: they run the threaded tests,
     * with tasks by the hundred, not by the hundred thousand. */
    coro->tsan_fiber = NULL;
#endif
    if (coro->pool_chunk != NULL) {
        valgrind_noaccess(coro->stack, coro->stack_size);
        pool_put(coro->pool_chunk, coro->stack);
    } else {
        stack_unmap(coro->stack, coro->stack_size);
    }
    coro->stack = NULL;
    coro->pool_chunk = NULL;
}

/* --- Threads ---------------------------------------------------------------------- */

/* What a thread that ran coroutines keeps (pooled stacks, the shared stack,
 * the alternate signal stack) goes back when the thread ends. */
static pthread_key_t thread_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;

static void thread_release(void *unused)
{
    (void)unused;
    pool_release();
#ifdef AIO_SHARED_STACK
    if (shared_stack != NULL) {
#ifdef AIO_VALGRIND
        VALGRIND_STACK_DEREGISTER(shared_valgrind_id);
#endif
        stack_unmap(shared_stack, AIO__CORO_DEFAULT_STACK);
        shared_stack = NULL;
    }
#endif
    if (altstack_mem != NULL) {
        stack_t ss = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
        if (sigaltstack(&ss, NULL) == 0)
            munmap(altstack_mem, ALTSTACK_SIZE);
        altstack_mem = NULL;
    }
}

static void thread_key_create(void)
{
    pthread_key_create(&thread_key, thread_release);
}

static void thread_track(void)
{
    pthread_once(&thread_key_once, thread_key_create);
    pthread_setspecific(thread_key, &thread_key); /* any non-NULL value */
}
