/* test_oom.c - running out of memory anywhere leaves the loop usable.
 *
 * The test binary replaces malloc() and friends (glibc lets a program do
 * so; internal calls of libc, libev and c-ares go through them too) with
 * versions that fail on demand, in two ways:
 *   - one failure at the Nth allocation, for every N a scenario makes;
 *   - a budget of bytes, as a process limit would impose: allocations fail
 *     while the memory in use would pass it, and memory freed makes room
 *     again (so libev's reserve, given up, can be used).
 * For each, a scenario (a loop, callbacks, timers, a reader, futures with
 * done callbacks, a task that sleeps and awaits, a gather) runs with the
 * failures on: every call that fails must raise MemoryError, nothing may
 * abort or crash. Then, with memory back, the same loop must still run
 * callbacks, timers, readers and tasks, close cleanly, and leave no object
 * alive.
 *
 * AddressSanitizer, ThreadSanitizer and Valgrind replace malloc themselves:
 * there the test says so and skips.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>

#include "test_support.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define OOM_UNSUPPORTED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define OOM_UNSUPPORTED 1
#endif
#endif

#ifndef OOM_UNSUPPORTED

/* --- The failing allocator ------------------------------------------------- */

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void __libc_free(void *ptr);

static long fail_at = -1;       /* fail the allocation with this index */
static long calls;              /* allocations counted since arming */
static size_t budget = SIZE_MAX; /* bytes in use allowed */
static size_t in_use;           /* bytes in use (by malloc_usable_size) */
static long failures;

static bool refuse(size_t more)
{
    long index = __atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED);
    bool fail = index == __atomic_load_n(&fail_at, __ATOMIC_RELAXED) ||
                __atomic_load_n(&in_use, __ATOMIC_RELAXED) + more >
                    __atomic_load_n(&budget, __ATOMIC_RELAXED);
    if (fail)
        __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
    return fail;
}

static void *account(void *p)
{
    if (p != NULL)
        __atomic_add_fetch(&in_use, malloc_usable_size(p), __ATOMIC_RELAXED);
    return p;
}

static void unaccount(void *p)
{
    if (p != NULL)
        __atomic_sub_fetch(&in_use, malloc_usable_size(p), __ATOMIC_RELAXED);
}

void *malloc(size_t size)
{
    if (refuse(size)) {
        errno = ENOMEM;
        return NULL;
    }
    return account(__libc_malloc(size));
}

void *calloc(size_t n, size_t size)
{
    if (refuse(n * size)) {
        errno = ENOMEM;
        return NULL;
    }
    return account(__libc_calloc(n, size));
}

void *realloc(void *ptr, size_t size)
{
    if (size == 0 || ptr == NULL) {
        if (ptr == NULL)
            return malloc(size);
        unaccount(ptr);
        return __libc_realloc(ptr, size);
    }
    size_t old = malloc_usable_size(ptr);
    if (size > old && refuse(size - old)) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = __libc_realloc(ptr, size);
    if (p != NULL) {
        __atomic_sub_fetch(&in_use, old, __ATOMIC_RELAXED);
        account(p);
    }
    return p;
}

void *memalign(size_t alignment, size_t size)
{
    if (refuse(size)) {
        errno = ENOMEM;
        return NULL;
    }
    return account(__libc_memalign(alignment, size));
}

void *aligned_alloc(size_t alignment, size_t size)
{
    return memalign(alignment, size);
}

int posix_memalign(void **out, size_t alignment, size_t size)
{
    void *p = memalign(alignment, size);
    if (p == NULL)
        return ENOMEM;
    *out = p;
    return 0;
}

void free(void *ptr)
{
    unaccount(ptr);
    __libc_free(ptr);
}

static void arm_at(long n)
{
    __atomic_store_n(&calls, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&failures, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&fail_at, n, __ATOMIC_RELAXED);
}

static void arm_budget(size_t extra)
{
    __atomic_store_n(&calls, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&failures, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&budget, __atomic_load_n(&in_use, __ATOMIC_RELAXED) + extra,
                     __ATOMIC_RELAXED);
}

static void disarm(void)
{
    __atomic_store_n(&fail_at, -1, __ATOMIC_RELAXED);
    __atomic_store_n(&budget, SIZE_MAX, __ATOMIC_RELAXED);
}

/* --- The scenario ----------------------------------------------------------- */

typedef struct outcome {
    bool stuck;       /* the task never finished */
    int errors;       /* calls that failed, each with MemoryError */
    int wrong;        /* calls that failed with something else */
    char what[256];   /* the first wrong one */
} outcome;

static void failed(outcome *o, const char *where);

/* One iteration of the loop, whatever memory is left. */
static void iterate(aio_loop *loop, outcome *o)
{
    aio_loop_stop(loop);
    if (aio_loop_run_forever(loop) < 0)
        failed(o, "run_forever");
}

/* After a call that failed: MemoryError, taken. */
static void failed(outcome *o, const char *where)
{
    aio_exc *exc = aio_err_fetch();
    if (exc != NULL && aio_exc_isinstance(exc, aio_MemoryError)) {
        o->errors++;
    } else {
        if (o->wrong++ == 0)
            snprintf(o->what, sizeof o->what, "%s: %s", where,
                     exc ? aio_exc_type_of(exc)->name : "nothing raised");
    }
    aio_decref(exc);
}

static int g_calls;

static void count(void *arg)
{
    (void)arg;
    g_calls++;
    if (getenv("OOM_TRACE"))
        fprintf(stderr, "count %p\n", arg);
}
AIO_NAME_CALLBACK(count);

static void drain(void *arg)
{
    char buf[16];
    while (read(*(int *)arg, buf, sizeof buf) > 0) {
    }
    g_calls++;
    if (getenv("OOM_TRACE"))
        fprintf(stderr, "drain\n");
}
AIO_NAME_CALLBACK(drain);

static void done(aio_future *fut, void *arg)
{
    (void)fut;
    (void)arg;
    g_calls++;
}
AIO_NAME_CALLBACK(done);

static void set_it(void *arg)
{
    if (aio_future_set_result(arg, P(1)) < 0)
        aio_err_clear();
}
AIO_NAME_CALLBACK(set_it);

/* t = timeout(delay) (or timeout_at(when)); async with t: the entered
 * Timeout, or NULL with the exception set. */
static aio_timeout *scope_enter_with(aio_timeout *t)
{
    if (t != NULL && aio_timeout_enter(t) < 0) {
        aio_decref(t);
        return NULL;
    }
    return t;
}
#define scope_enter(delay) scope_enter_with(aio_timeout_after(delay))
#define scope_enter_at(when) scope_enter_with(aio_timeout_at(when))

/* The end of the scope, dropping the Timeout: aio_timeout_exit()'s result. */
static int scope_exit(aio_timeout *t)
{
    int rc = aio_timeout_exit(t);
    aio_decref(t);
    return rc;
}

/* A task: sleep(0), then await a future a timer completes, then gather. */
static void *worker(void *arg)
{
    aio_loop *loop = arg;
    if (aio_sleep(0) < 0)
        return NULL;
    aio_future *f = aio_loop_create_future(loop);
    if (f == NULL)
        return NULL;
    if (aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = 0.0, .callback = set_it,
                                                             .args = f}) == NULL) {
        aio_decref(f);
        return NULL;
    }
    void *r = aio_await(f);
    aio_decref(f);
    if (r == NULL)
        return NULL;
    aio_future *a = aio_loop_create_future(loop);
    if (a == NULL)
        return NULL;
    aio_future_set_result(a, P(2));
    aio_future *g = aio_gather(&a, 1, NULL);
    aio_decref(a);
    if (g == NULL)
        return NULL;
    r = aio_await(g);
    aio_decref(g);
    if (r == NULL)
        return NULL;
    /* A context variable, a timeout scope, wait_for() and a numeric lookup. */
    aio_contextvar *var = aio_contextvar_new("v");
    if (var == NULL)
        return NULL;
    aio_contextvar_token *token = aio_contextvar_set(var, P(1));
    aio_decref(var);
    if (token == NULL)
        return NULL;
    aio_decref(token);
    aio_timeout *scope = scope_enter(10.0);
    if (scope == NULL)
        return NULL;
    int slept = aio_sleep(0);
    if (scope_exit(scope) < 0 || slept < 0)
        return NULL;
    aio_future *later = aio_loop_create_future(loop);
    if (later == NULL)
        return NULL;
    aio_future_set_result(later, P(4));
    r = aio_wait_for(later, 5.0);
    aio_decref(later);
    if (r == NULL)
        return NULL;
    aio_future *lookup = aio_loop_getaddrinfo(loop, &(aio_loop_getaddrinfo_args){
                                                        .host = "127.0.0.1", .port = "80"});
    if (lookup == NULL)
        return NULL;
    r = aio_await(lookup);
    aio_decref(lookup);
    return r == NULL ? NULL : P(3);
}
AIO_NAME_CALLBACK(worker);

/* Everything the scenario made, so that it can be released afterwards. */
typedef struct made {
    aio_loop *loop;
    aio_future *fut;
    aio_task *task;
    int fds[2];
} made;

static void run_scenario(made *m, outcome *o)
{
    m->loop = aio_new_event_loop();
    if (m->loop == NULL) {
        failed(o, "new_event_loop");
        return;
    }
    aio_loop *loop = m->loop;
    if (aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = count,
                                                            .args = P(1)}) == NULL)
        failed(o, "call_soon");
    if (aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = 0.0, .callback = count,
                                                             .args = P(2)}) == NULL)
        failed(o, "call_later");
    if (aio_loop_add_reader(loop, m->fds[0], drain, &m->fds[0], NULL) < 0)
        failed(o, "add_reader");
    if (aio_loop_call_soon_threadsafe(loop, &(aio_loop_call_soon_threadsafe_args){
                                                .callback = count, .args = P(3)}) == NULL)
        failed(o, "call_soon_threadsafe");
    if (aio_loop_add_signal_handler(loop, SIGUSR1, count, P(4), NULL) < 0)
        failed(o, "add_signal_handler");
    else
        raise(SIGUSR1);
    (void)!write(m->fds[1], "x", 1);
    m->fut = aio_loop_create_future(loop);
    if (m->fut == NULL) {
        failed(o, "create_future");
    } else {
        if (aio_future_add_done_callback(m->fut, &(aio_future_add_done_callback_args){
                                                     .callback = done}) < 0)
            failed(o, "add_done_callback");
        if (aio_future_set_result(m->fut, P(1)) < 0)
            failed(o, "set_result");
    }
    m->task = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = worker,
                                                                      .coro_arg = loop});
    if (m->task == NULL)
        failed(o, "create_task");
    /* Iterations, each started with stop() (which allocates nothing), until
     * the task is done: a bounded number, so that a task that nothing will
     * wake up shows as a failure rather than a hang. */
    for (int i = 0; i < 50 && (m->task == NULL || !aio_future_done(m->task)); i++)
        iterate(loop, o);
    if (m->task != NULL && !aio_future_done(m->task))
        o->stuck = true;
    /* A few more, for what comes a couple of iterations later (the signal). */
    for (int i = 0; i < 5; i++)
        iterate(loop, o);
}

/* With memory back: the same loop still works, then everything goes. */
static void check_usable_and_release(made *m)
{
    check_no_exception();
    if (m->loop == NULL) {
        /* Nothing was made; a new loop must work now. */
        m->loop = aio_new_event_loop();
        assert_non_null(m->loop);
    }
    aio_loop *loop = m->loop;
    if (getenv("OOM_TRACE"))
        fprintf(stderr, "check phase\n");
    aio_loop_remove_reader(loop, m->fds[0]);
    aio_loop_remove_signal_handler(loop, SIGUSR1);
    g_calls = 0;
    soon(loop, count, NULL);
    aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = 0.0, .callback = count});
    assert_int_equal(aio_loop_add_reader(loop, m->fds[0], drain, &m->fds[0], NULL), 0);
    (void)!write(m->fds[1], "y", 1);
    aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = worker,
                                                                          .coro_arg = loop});
    assert_non_null(t);
    assert_ptr_equal(aio_loop_run_until_complete(loop, t), P(3));
    check_no_exception();
    if (g_calls != 3)
        fprintf(stderr, "callbacks that ran: %d\n", g_calls);
    assert_int_equal(g_calls, 3);
    aio_decref(t);
    assert_int_equal(aio_loop_remove_reader(loop, m->fds[0]), 1);
    if (m->task != NULL) {
        assert_int_equal(aio_future_done(m->task), 1);
        aio_err_clear();
        aio_future_exception(m->task); /* read: not "never retrieved" */
        aio_err_clear();
        aio_decref(m->task);
    }
    aio_decref(m->fut);
    assert_int_equal(aio_loop_close(loop), 0);
    aio_decref(loop);
    aio_set_event_loop_policy(NULL);
    check_no_exception();
    assert_no_leaks();
}

static void quiet_handler(aio_loop *loop, const aio_exception_context *context, void *arg)
{
    (void)loop;
    (void)context;
    (void)arg;
}

/* How many allocations a whole scenario makes when none fails. */
static long allocations_of_scenario(int fds[2])
{
    made m = {.fds = {fds[0], fds[1]}};
    outcome o = {0};
    arm_at(-1);
    run_scenario(&m, &o);
    long n = __atomic_load_n(&calls, __ATOMIC_RELAXED);
    disarm();
    assert_int_equal(o.errors + o.wrong, 0);
    check_usable_and_release(&m);
    return n;
}

static void setup_quiet(void)
{
    /* Reports of lost callbacks go to a quiet log: the test looks at what
     * the calls raise, not at what the loop logs. */
    aio_log_set_handler(NULL, NULL);
    if (getenv("OOM_TRACE"))
        return;
    static int devnull = -1;
    if (devnull < 0)
        devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
}

static void test_every_single_allocation_failure(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe2(fds, O_NONBLOCK), 0);
    (void)quiet_handler;
    long n = allocations_of_scenario(fds);
    assert_true(n > 10);
    int saved = dup(2);
    setup_quiet();
    for (long i = 0; i < n + 5; i++) {
        made m = {.fds = {fds[0], fds[1]}};
        outcome o = {0};
        if (getenv("OOM_TRACE"))
            dprintf(saved, "failing allocation %ld of %ld\n", i, n);
        arm_at(i);
        run_scenario(&m, &o);
        disarm();
        if (o.wrong != 0 || o.stuck) {
            dup2(saved, 2);
            fprintf(stderr, "allocation %ld failed: %s\n", i,
                    o.stuck ? "the task was never woken up" : o.what);
            fail();
        }
        check_usable_and_release(&m);
    }
    dup2(saved, 2);
    close(fds[0]);
    close(fds[1]);
}

static void test_memory_budget_exhausted(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe2(fds, O_NONBLOCK), 0);
    allocations_of_scenario(fds); /* warm: libev's reserve and the pools */
    int saved = dup(2);
    setup_quiet();
    for (size_t extra = 0; extra < 400 * 1024; extra += extra < 4096 ? 64 : 1024) {
        made m = {.fds = {fds[0], fds[1]}};
        outcome o = {0};
        arm_budget(extra);
        run_scenario(&m, &o);
        disarm();
        if (o.wrong != 0 || o.stuck) {
            dup2(saved, 2);
            fprintf(stderr, "with %zu bytes to spare: %s\n", extra,
                    o.stuck ? "the task was never woken up" : o.what);
            fail();
        }
        check_usable_and_release(&m);
    }
    dup2(saved, 2);
    close(fds[0]);
    close(fds[1]);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_single_allocation_failure),
    cmocka_unit_test(test_memory_budget_exhausted),
};

#else /* OOM_UNSUPPORTED */

static void test_oom_skipped(void **state)
{
    (void)state;
    fprintf(stderr, "test_oom: skipped: this build's sanitizer replaces malloc() itself\n");
    skip();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_oom_skipped),
};

#endif /* OOM_UNSUPPORTED */

AIO_TEST_MAIN(tests)
