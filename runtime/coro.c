/* coro.c - stacks and the switch between them (see coro.h). */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "casyncio/exceptions.h"
#include "coro.h"

#if defined(__SANITIZE_ADDRESS__)
#define AIO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AIO_ASAN 1
#endif
#endif
#ifdef AIO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
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

/* Below every stack: large enough that a function with big locals cannot
 * step over it. Address space only; nothing is ever resident there. */
#define GUARD_SIZE (64u * 1024u)
/* Default-size stacks a thread keeps for reuse. */
#define POOL_MAX 64

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

void aio__coro_switch(aio__coro *from, aio__coro *to)
{
    switching_from = from;
    current = to;
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

typedef struct stack_pool {
    char *stacks[POOL_MAX];
    int len;
} stack_pool;

static __thread stack_pool pool;

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
    char *stack = NULL;
    if (size == AIO__CORO_DEFAULT_STACK && pool.len > 0) {
        stack = pool.stacks[--pool.len];
    } else if ((stack = stack_map(size)) == NULL) {
        aio_err_set(aio_MemoryError, NULL);
        return -1;
    }
    coro->stack = stack;
    coro->stack_size = size;
    coro->entry = entry;
    coro->entry_arg = arg;
    coro->asan_fake_stack = NULL;
#ifdef AIO_VALGRIND
    coro->valgrind_id = VALGRIND_STACK_REGISTER(stack, stack + size);
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

/* --- The shared stack ------------------------------------------------------------- */

/* ucontext keeps its own copy of the registers, ASan its own map of the
 * stack: neither survives the copy, so there coroutines asked to share get
 * stacks of their own. */
#if !defined(AIO_CORO_UCONTEXT) && !defined(AIO_ASAN)
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
    coro->asan_fake_stack = NULL;
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
    if (coro->stack_size == AIO__CORO_DEFAULT_STACK && pool.len < POOL_MAX) {
        pool.stacks[pool.len++] = coro->stack;
    } else {
        stack_unmap(coro->stack, coro->stack_size);
    }
    coro->stack = NULL;
}

/* --- Threads ---------------------------------------------------------------------- */

/* What a thread that ran coroutines keeps (pooled stacks, the shared stack,
 * the alternate signal stack) goes back when the thread ends. */
static pthread_key_t thread_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;

static void thread_release(void *unused)
{
    (void)unused;
    while (pool.len > 0)
        stack_unmap(pool.stacks[--pool.len], AIO__CORO_DEFAULT_STACK);
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
    pthread_setspecific(thread_key, &pool); /* any non-NULL value */
}
