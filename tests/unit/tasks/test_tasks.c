/* test_tasks.c - asyncio.Task (CPython 3.11's _asyncio.Task) as task.c
 * runs it, on the stackful coroutines of coro.c.
 *
 * Expected behaviour was checked against CPython 3.11.7: default names,
 * the context a task runs in, the first step's place among call_soon()
 * callbacks, `await` on done and pending futures, the errors of await
 * (another loop's future, the task itself), cancellation (before the first
 * step, at an await point, caught, nested, repeated, uncancel, on a done
 * task), the refused set_result()/set_exception(), the "Task exception was
 * never retrieved" and "Task was destroyed but it is pending!" reports,
 * current_task(), all_tasks(), the task factory and SystemExit.
 *
 * What is C's own: stacks (their size, the pool that reuses them, the
 * overflow report) and what closing a loop does to suspended tasks.
 *
 * Coroutines record what they saw into structs the test checks afterwards:
 * a failing cmocka assertion must not jump off a task's stack.
 */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "test_support.h"

#include "task.h"

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifdef TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

/* --- What the tests share ------------------------------------------------------- */

static trace g_trace;

/* An exception handler that records what it was given. */
typedef struct report {
    int calls;
    char message[256];
    char exception[256];
    aio_future *future;
    aio_task *task;
} report;

static void record_handler(aio_loop *loop, const aio_exception_context *context, void *arg)
{
    (void)loop;
    report *r = arg;
    r->calls++;
    snprintf(r->message, sizeof r->message, "%s", context->message ? context->message : "");
    if (context->exception != NULL)
        repr_copy(context->exception, r->exception, sizeof r->exception);
    else
        r->exception[0] = '\0';
    r->future = context->future;
    r->task = context->task;
}
AIO_NAME_CALLBACK(record_handler);

/* A call_soon() callback that adds its argument (a string) to the trace. */
static void mark(void *arg)
{
    trace_add(&g_trace, "%s;", (const char *)arg);
}
AIO_NAME_CALLBACK(mark);

static aio_task *create_task(aio_loop *loop, aio_coroutine coro, void *arg)
{
    aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = coro,
                                                                          .coro_arg = arg});
    assert_non_null(t);
    return t;
}

/* Runs iterations until `task` is done (at most `limit`). */
static void run_until_done(aio_loop *loop, aio_task *task, int limit)
{
    for (int i = 0; i < limit && !aio_future_done(task); i++)
        run_one_iteration(loop);
    check_no_exception();
    assert_int_equal(aio_future_done(task), 1);
}

/* The current exception is a CancelledError whose message is msg (NULL:
 * no message); clears it. */
static void assert_cancelled_error(const char *msg)
{
    aio_exc *exc = aio_err_fetch();
    assert_non_null(exc);
    assert_ptr_equal(aio_exc_type_of(exc), aio_CancelledError);
    if (msg == NULL)
        assert_null(aio_exc_message(exc));
    else
        assert_string_equal(aio_exc_message(exc), msg);
    aio_decref(exc);
}

/* --- Coroutines ----------------------------------------------------------------------- */

/* Adds "T(<arg>)" to the trace and returns its argument. */
static void *ret_arg(void *arg)
{
    trace_add(&g_trace, "T(%ld);", (long)(uintptr_t)arg);
    return arg;
}
AIO_NAME_CALLBACK(ret_arg);

/* Awaits a->fut and records what came of it. */
typedef struct awaiter {
    aio_future *fut;     /* what it awaits */
    bool started;
    int awaits;          /* how many aio_await() calls returned */
    void *result;        /* what aio_await() returned */
    aio_exc *exc;        /* what it raised (a reference the test drops) */
    bool catch_it;       /* clear the exception and return `ret` */
    void *ret;
} awaiter;

static void *await_one(void *arg)
{
    awaiter *a = arg;
    a->started = true;
    trace_add(&g_trace, "start;");
    a->result = aio_await(a->fut);
    a->awaits++;
    if (a->result == NULL && aio_err_occurred() != NULL) {
        a->exc = aio_incref(aio_err_occurred());
        trace_add(&g_trace, "raised;");
        if (a->catch_it) {
            aio_err_clear();
            return a->ret;
        }
        return NULL;
    }
    trace_add(&g_trace, "resumed;");
    return a->result;
}
AIO_NAME_CALLBACK(await_one);

static void awaiter_clear(awaiter *a)
{
    aio_decref(a->exc);
    a->exc = NULL;
}

/* --- Creation: names, arguments ------------------------------------------------------- */

static void test_task_default_names(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    aio_task *a = create_task(loop, ret_arg, P(1));
    char name[] = "custom";
    aio_task *named = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = ret_arg, .coro_arg = P(2), .name = name});
    assert_non_null(named);
    name[0] = 'X'; /* the name is copied */
    aio_task *b = create_task(loop, ret_arg, P(3));
    aio_task *c = aio_task_new(ret_arg, P(4), &(aio_task_args){.loop = loop});
    assert_non_null(c);

    /* 'Task-<n>', counting up; a named task takes no number. */
    unsigned long n = 0;
    assert_int_equal(sscanf(aio_task_get_name(a), "Task-%lu", &n), 1);
    assert_true(n >= 1);
    char expected[64];
    snprintf(expected, sizeof expected, "Task-%lu", n + 1);
    assert_string_equal(aio_task_get_name(b), expected);
    snprintf(expected, sizeof expected, "Task-%lu", n + 2);
    assert_string_equal(aio_task_get_name(c), expected);
    assert_string_equal(aio_task_get_name(named), "custom");

    assert_int_equal(aio_is_task(a), 1);
    assert_ptr_equal(aio_future_get_loop(c), loop);
    assert_repr(named, "<Task pending name='custom' coro=<ret_arg() running>>");
    /* Nothing runs before the loop does. */
    assert_int_equal(aio_future_done(a), 0);
    assert_string_equal(g_trace.text, "");

    run_one_iteration(loop);
    check_no_exception();
    assert_string_equal(g_trace.text, "T(1);T(2);T(3);T(4);");
    assert_ptr_equal(aio_future_result(a), P(1));
    assert_ptr_equal(aio_future_result(named), P(2));
    assert_ptr_equal(aio_future_result(b), P(3));
    assert_ptr_equal(aio_future_result(c), P(4));
    char repr[128];
    snprintf(repr, sizeof repr, "<Task finished name='custom' coro=<ret_arg() done> result=%p>",
             P(2));
    assert_repr(named, repr);

    aio_decref(a);
    aio_decref(named);
    aio_decref(b);
    aio_decref(c);
    finish(loop);
}

static void test_task_new_errors(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    /* Task(None) / create_task(None) */
    assert_null(aio_task_new(NULL, NULL, &(aio_task_args){.loop = loop}));
    assert_raised(aio_TypeError, "a coroutine was expected, got None");
    assert_null(aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = NULL}));
    assert_raised(aio_TypeError, "a coroutine was expected, got None");
    size_t count = 99;
    assert_null(aio_all_tasks(loop, &count));
    assert_int_equal(count, 0);
    check_no_exception();

    /* A closed loop takes no new task. */
    assert_int_equal(aio_loop_close(loop), 0);
    assert_null(aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = ret_arg}));
    assert_raised(aio_RuntimeError, "Event loop is closed");
    assert_null(aio_task_new(ret_arg, NULL, &(aio_task_args){.loop = loop}));
    assert_raised(aio_RuntimeError, "Event loop is closed");
    aio_decref(loop);
    assert_no_leaks();
}

static void test_task_accessors(void **state)
{
    (void)state;
    /* Task.get_context() is 3.12's: loops made here, and the process, target 3.12. */
    assert_int_equal(aio_set_target_version(AIO_PY(3, 12)), 0);
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    aio_task *t = create_task(loop, ret_arg, P(7));

    void *arg = NULL;
    assert_ptr_equal(aio_task_get_coro(t, &arg), ret_arg);
    assert_ptr_equal(arg, P(7));
    assert_ptr_equal(aio_task_get_coro(t, NULL), ret_arg);

    /* set_name(value) copies; set_name(None) is str(None). */
    char name[] = "first";
    assert_int_equal(aio_task_set_name(t, name), 0);
    name[0] = 'X';
    assert_string_equal(aio_task_get_name(t), "first");
    assert_int_equal(aio_task_set_name(t, NULL), 0);
    assert_string_equal(aio_task_get_name(t), "None");
    assert_int_equal(aio_task_set_name(t, "second"), 0);
    assert_repr(t, "<Task pending name='second' coro=<ret_arg() running>>");

    aio_context *ctx = aio_task_get_context(t);
    assert_non_null(ctx);
    assert_int_equal(aio_task_cancelling(t), 0);
    assert_int_equal(aio_task_uncancel(t), 0); /* never below 0 */

    /* Task methods on a plain Future, or on None. */
    aio_future *fut = aio_loop_create_future(loop);
    assert_int_equal(aio_is_task(fut), 0);
    assert_int_equal(aio_is_task(NULL), 0);
#define NOT_TASK(name, type) \
    "descriptor '" name "' for '_asyncio.Task' objects doesn't apply to a '" type "' object"
    assert_null(aio_task_get_name(fut));
    assert_raised(aio_TypeError, NOT_TASK("get_name", "_asyncio.Future"));
    assert_int_equal(aio_task_set_name(fut, "x"), -1);
    assert_raised(aio_TypeError, NOT_TASK("set_name", "_asyncio.Future"));
    assert_int_equal(aio_task_cancel(fut, NULL), -1);
    assert_raised(aio_TypeError, NOT_TASK("cancel", "_asyncio.Future"));
    assert_int_equal(aio_task_cancelling(fut), -1);
    assert_raised(aio_TypeError, NOT_TASK("cancelling", "_asyncio.Future"));
    assert_int_equal(aio_task_uncancel(fut), -1);
    assert_raised(aio_TypeError, NOT_TASK("uncancel", "_asyncio.Future"));
    assert_null(aio_task_get_coro(fut, NULL));
    assert_raised(aio_TypeError, NOT_TASK("get_coro", "_asyncio.Future"));
    assert_null(aio_task_get_name(NULL));
    assert_raised(aio_TypeError, NOT_TASK("get_name", "NoneType"));
#undef NOT_TASK
    assert_int_equal(aio_future_done(fut), 0);
    aio_decref(fut);

    run_one_iteration(loop);
    check_no_exception();
    assert_string_equal(g_trace.text, "T(7);");
    assert_ptr_equal(aio_task_get_context(t), ctx);
    aio_decref(t);
    assert_int_equal(aio_set_target_version(AIO_PY_DEFAULT), 0);
    finish(loop);
}

/* --- The context a task runs in ------------------------------------------------------- */

typedef struct ctx_probe {
    aio_contextvar *var;
    aio_future *fut;     /* awaited between the two reads */
    long before, after;  /* the variable's value on entry and after the await */
    aio_context *ran_in;
} ctx_probe;

static long value_of(aio_contextvar *var)
{
    void *value = NULL;
    if (aio_contextvar_get(var, &value) < 0) {
        aio_err_clear();
        return -1;
    }
    return (long)(uintptr_t)value;
}

static void *ctx_coro(void *arg)
{
    ctx_probe *p = arg;
    p->before = value_of(p->var);
    p->ran_in = aio__context_current();
    aio_contextvar_token *token = aio_contextvar_set(p->var, P(3));
    aio_decref(token);
    if (aio_await(p->fut) == NULL && aio_err_occurred())
        return NULL;
    p->after = value_of(p->var);
    return NULL;
}
AIO_NAME_CALLBACK(ctx_coro);

static void test_task_context_copied_at_creation(void **state)
{
    (void)state;
    /* Task.get_context() is 3.12's: loops made here, and the process, target 3.12. */
    assert_int_equal(aio_set_target_version(AIO_PY(3, 12)), 0);
    aio_loop *loop = new_loop();
    aio_contextvar *var = aio_contextvar_new("v");
    set_contextvar(var, 1);

    ctx_probe p = {.var = var, .fut = aio_loop_create_future(loop), .before = -2, .after = -2};
    aio_task *t = create_task(loop, ctx_coro, &p);
    /* Set after the task was made: the task does not see it. */
    set_contextvar(var, 2);
    run_one_iteration(loop);
    check_no_exception();
    assert_int_equal(p.before, 1);
    assert_ptr_equal(p.ran_in, aio_task_get_context(t));
    /* What the task set stays in its own context. */
    assert_int_equal(value_of(var), 2);
    void *value = NULL;
    assert_int_equal(aio_context_get(aio_task_get_context(t), var, &value), 1);
    assert_ptr_equal(value, P(3));

    /* The step after the await runs in the same context. */
    assert_int_equal(aio_future_set_result(p.fut, NULL), 0);
    assert_null(aio_loop_run_until_complete(loop, t));
    check_no_exception();
    assert_int_equal(p.after, 3);
    assert_int_equal(value_of(var), 2);

    aio_decref(p.fut);
    aio_decref(t);
    aio_decref(var);
    assert_int_equal(aio_set_target_version(AIO_PY_DEFAULT), 0);
    finish(loop);
}

static void test_task_explicit_context(void **state)
{
    (void)state;
    /* Task.get_context() is 3.12's: loops made here, and the process, target 3.12. */
    assert_int_equal(aio_set_target_version(AIO_PY(3, 12)), 0);
    aio_loop *loop = new_loop();
    aio_contextvar *var = aio_contextvar_new("v");
    set_contextvar(var, 2);
    aio_context *ctx = aio_context_new();

    ctx_probe p = {.var = var, .fut = aio_loop_create_future(loop), .before = -2, .after = -2};
    aio_task *t = aio_task_new(ctx_coro, &p, &(aio_task_args){.loop = loop, .context = ctx});
    assert_non_null(t);
    assert_ptr_equal(aio_task_get_context(t), ctx); /* that very context, not a copy */
    assert_int_equal(aio_future_set_result(p.fut, NULL), 0);
    assert_null(aio_loop_run_until_complete(loop, t));
    check_no_exception();
    assert_int_equal(p.before, -1); /* the new context has no value */
    assert_ptr_equal(p.ran_in, ctx);
    assert_int_equal(p.after, 3);
    void *value = NULL;
    assert_int_equal(aio_context_get(ctx, var, &value), 1);
    assert_ptr_equal(value, P(3));
    assert_int_equal(value_of(var), 2);

    aio_decref(p.fut);
    aio_decref(t);
    aio_decref(ctx);
    aio_decref(var);
    assert_int_equal(aio_set_target_version(AIO_PY_DEFAULT), 0);
    finish(loop);
}

/* --- Stacks --------------------------------------------------------------------------- */

typedef struct stack_probe {
    char *stack;
    size_t size;
    char *frame;
} stack_probe;

static void *stack_coro(void *arg)
{
    stack_probe *p = arg;
    aio__coro *self = aio__coro_current();
    p->stack = self->stack;
    p->size = self->stack_size;
    p->frame = __builtin_frame_address(0);
    return NULL;
}
AIO_NAME_CALLBACK(stack_coro);

static void probe_stack(aio_loop *loop, size_t stack_size, stack_probe *p)
{
    memset(p, 0, sizeof *p);
    aio_task *t = aio_task_new(stack_coro, p, &(aio_task_args){.loop = loop,
                                                              .stack_size = stack_size});
    assert_non_null(t);
    assert_null(aio_loop_run_until_complete(loop, t));
    check_no_exception();
    aio_decref(t);
    assert_non_null(p->stack);
    /* The task ran on that stack. */
    assert_true(p->frame > p->stack && p->frame < p->stack + p->size);
}

static void test_task_stack_size(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    stack_probe p;

    probe_stack(loop, 0, &p);
    assert_int_equal(p.size, 256 * 1024);
    /* Tiny sizes are rounded up to 16 KiB. */
    probe_stack(loop, 1, &p);
    assert_int_equal(p.size, 16 * 1024);
    probe_stack(loop, 100, &p);
    assert_int_equal(p.size, 16 * 1024);
    probe_stack(loop, 16 * 1024, &p);
    assert_int_equal(p.size, 16 * 1024);
    /* Others to whole pages. */
    probe_stack(loop, 40000, &p);
    assert_int_equal(p.size, (40000 + page - 1) / page * page);
    probe_stack(loop, 1024 * 1024, &p);
    assert_int_equal(p.size, 1024 * 1024);

    /* Sizes no stack can have: the task ends with MemoryError, its body
     * never runs. (SIZE_MAX used to wrap around to a 0-byte stack.) */
    const size_t impossible[] = {SIZE_MAX, SIZE_MAX - 100, SIZE_MAX - 40000, SIZE_MAX / 2};
    for (size_t i = 0; i < sizeof impossible / sizeof impossible[0]; i++) {
        memset(&p, 0, sizeof p);
        aio_task *t = aio_task_new(stack_coro, &p, &(aio_task_args){.loop = loop,
                                                                   .stack_size = impossible[i]});
        assert_non_null(t);
        assert_null(aio_loop_run_until_complete(loop, t));
        assert_raised(aio_MemoryError, NULL);
        assert_null(p.stack);
        assert_int_equal(aio_future_done(t), 1);
        aio_decref(t);
    }
    finish(loop);
}

static void test_task_stack_reused(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    stack_probe first, second;
    probe_stack(loop, 0, &first);
    probe_stack(loop, 0, &second);
    /* A default-size stack goes back to the pool and serves the next task. */
    assert_ptr_equal(second.stack, first.stack);
    finish(loop);
}

/* A stack goes back to the pool, or is unmapped, with nothing of its last
 * function left poisoned in AddressSanitizer's shadow: frames that never
 * returned (the final switch away) would otherwise make the next user of
 * that memory -- another task's stack, or whatever mmap() puts there
 * later -- fail with a bogus stack-buffer-underflow. */
static void *deep_coro(void *arg)
{
    stack_probe *p = arg;
    stack_coro(p);
    volatile char buf[2048];
    memset((char *)buf, 1, sizeof buf);
    return P(buf[100]);
}
AIO_NAME_CALLBACK(deep_coro);

static void test_task_stack_released_clean(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    const size_t sizes[] = {0, 64 * 1024};
    for (size_t i = 0; i < 2; i++) {
        stack_probe p = {0};
        aio_task *t = aio_task_new(deep_coro, &p, &(aio_task_args){.loop = loop,
                                                                   .stack_size = sizes[i]});
        assert_non_null(t);
        assert_ptr_equal(aio_loop_run_until_complete(loop, t), P(1));
        check_no_exception();
        assert_non_null(p.stack);
#ifdef TEST_ASAN
        /* Pooled (default size) or unmapped (any other): clean either way. */
        void *poisoned = __asan_region_is_poisoned(p.stack, p.size);
        if (poisoned != NULL) {
            fprintf(stderr, "stack %p..%p: poisoned at %p\n", (void *)p.stack,
                    (void *)(p.stack + p.size), poisoned);
            fail();
        }
        /* What mmap() hands out there next is usable. */
        if (sizes[i] != 0) {
            char *mem = mmap(p.stack, p.size, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
            if (mem != MAP_FAILED) {
                for (size_t j = 0; j < p.size; j += 8)
                    *(volatile uint64_t *)(mem + j) = j;
                munmap(mem, p.size);
            }
        }
#endif
        aio_decref(t);
    }
    finish(loop);
}

/* --- The first step --------------------------------------------------------------------- */

static void test_task_first_step_fifo(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    soon(loop, mark, "A");
    aio_task *t1 = create_task(loop, ret_arg, P(1));
    soon(loop, mark, "B");
    aio_task *t2 = create_task(loop, ret_arg, P(2));
    soon(loop, mark, "C");
    assert_string_equal(g_trace.text, "");
    run_one_iteration(loop);
    check_no_exception();
    /* Each first step is a call_soon() callback of its own, in order. */
    assert_string_equal(g_trace.text, "A;T(1);B;T(2);C;");
    assert_int_equal(aio_future_done(t1), 1);
    assert_int_equal(aio_future_done(t2), 1);
    aio_decref(t1);
    aio_decref(t2);
    finish(loop);
}

/* --- Awaiting --------------------------------------------------------------------------- */

/* Awaits three futures that are already done, one after the other. */
typedef struct done_awaits {
    aio_future *futs[3];
    void *results[3];
    aio_exc *excs[3];
} done_awaits;

static void *await_done_coro(void *arg)
{
    done_awaits *d = arg;
    for (int i = 0; i < 3; i++) {
        d->results[i] = aio_await(d->futs[i]);
        d->excs[i] = aio_err_fetch();
        trace_add(&g_trace, "await%d;", i);
    }
    return P(9);
}
AIO_NAME_CALLBACK(await_done_coro);

static void test_task_await_done_future(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    done_awaits d = {0};
    for (int i = 0; i < 3; i++)
        d.futs[i] = aio_loop_create_future(loop);
    assert_int_equal(aio_future_set_result(d.futs[0], P(5)), 0);
    aio_exc *exc = aio_exc_new(aio_ValueError, "bad");
    assert_int_equal(aio_future_set_exception(d.futs[1], exc), 0);
    assert_int_equal(aio_future_cancel(d.futs[2], &(aio_future_cancel_args){.msg = "gone"}), 1);

    aio_task *t = create_task(loop, await_done_coro, &d);
    soon(loop, mark, "X");
    run_one_iteration(loop);
    check_no_exception();
    /* No await suspended the task: all ran before X. */
    assert_string_equal(g_trace.text, "await0;await1;await2;X;");
    assert_ptr_equal(aio_future_result(t), P(9));

    assert_ptr_equal(d.results[0], P(5));
    assert_null(d.excs[0]);
    assert_null(d.results[1]);
    assert_ptr_equal(d.excs[1], exc); /* the future's exception itself */
    assert_null(d.results[2]);
    assert_non_null(d.excs[2]);
    assert_ptr_equal(aio_exc_type_of(d.excs[2]), aio_CancelledError);
    assert_string_equal(aio_exc_message(d.excs[2]), "gone");

    for (int i = 0; i < 3; i++) {
        aio_decref(d.excs[i]);
        aio_decref(d.futs[i]);
    }
    aio_decref(exc);
    aio_decref(t);
    finish(loop);
}

static void test_task_await_pending_result(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    awaiter a = {.fut = aio_loop_create_future(loop)};
    aio_task *t = create_task(loop, await_one, &a);
    assert_int_equal(aio_task_set_name(t, "w"), 0);
    run_one_iteration(loop);
    check_no_exception();
    assert_string_equal(g_trace.text, "start;");
    assert_int_equal(a.awaits, 0);
    assert_int_equal(aio_future_done(t), 0);
    /* wait_for=<Future pending cb=[...]>: the task's wakeup is a static
     * function, which repr shows by address. */
    char repr[256];
    repr_copy(t, repr, sizeof repr);
    const char *head = "<Task pending name='w' coro=<await_one() running> "
                       "wait_for=<Future pending cb=[";
    assert_true(strncmp(repr, head, strlen(head)) == 0);
    assert_string_equal(repr + strlen(repr) - 5, "()]>>");
    /* Nothing happens while the future is pending. */
    run_one_iteration(loop);
    assert_string_equal(g_trace.text, "start;");

    assert_int_equal(aio_future_set_result(a.fut, P(7)), 0);
    assert_ptr_equal(aio_loop_run_until_complete(loop, t), P(7));
    check_no_exception();
    assert_string_equal(g_trace.text, "start;resumed;");
    assert_int_equal(a.awaits, 1);
    assert_ptr_equal(a.result, P(7));
    assert_null(a.exc);
    assert_repr(t, "<Task finished name='w' coro=<await_one() done> result=0x7>");

    aio_decref(a.fut);
    aio_decref(t);
    finish(loop);
}

static void test_task_await_pending_exception(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    report r = {0};
    aio_loop_set_exception_handler(loop, record_handler, &r);
    awaiter a = {.fut = aio_loop_create_future(loop)};
    aio_task *t = create_task(loop, await_one, &a);
    run_one_iteration(loop);
    aio_exc *exc = aio_exc_new(aio_ValueError, "bad");
    assert_int_equal(aio_future_set_exception(a.fut, exc), 0);
    run_until_done(loop, t, 5);
    assert_string_equal(g_trace.text, "start;raised;");
    /* The future's exception, raised at the await point, then the task's. */
    assert_ptr_equal(a.exc, exc);
    assert_ptr_equal(aio_future_exception(t), exc);
    assert_null(aio_future_result(t));
    assert_ptr_equal(aio_err_occurred(), exc);
    assert_raised(aio_ValueError, "bad");
    assert_int_equal(aio_future_cancelled(t), 0);

    /* The task retrieved the future's exception: no report for either. */
    aio_decref(a.fut);
    aio_decref(t);
    assert_int_equal(r.calls, 0);
    awaiter_clear(&a);
    aio_decref(exc);
    finish(loop);
}

static void test_task_await_pending_cancelled(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    awaiter a = {.fut = aio_loop_create_future(loop)};
    aio_task *t = create_task(loop, await_one, &a);
    run_one_iteration(loop);
    /* The future (not the task) is cancelled. */
    assert_int_equal(aio_future_cancel(a.fut, &(aio_future_cancel_args){.msg = "why"}), 1);
    assert_null(aio_loop_run_until_complete(loop, t));
    assert_cancelled_error("why");
    assert_string_equal(g_trace.text, "start;raised;");
    assert_ptr_equal(aio_exc_type_of(a.exc), aio_CancelledError);
    assert_string_equal(aio_exc_message(a.exc), "why");
    /* The CancelledError went through the task: it is cancelled too. */
    assert_int_equal(aio_future_cancelled(t), 1);
    /* The task's own CancelledError went to the first retrieval; later ones
     * get a new one without the message, as in CPython 3.11. */
    assert_null(aio_future_result(t));
    assert_cancelled_error(NULL);
    assert_int_equal(aio_task_cancelling(t), 0);

    awaiter_clear(&a);
    aio_decref(a.fut);
    aio_decref(t);
    finish(loop);
}

/* aio_await() where no task runs. */
typedef struct outside {
    void *result;
    aio_exc *exc;
    aio_future *fut;
} outside;

static void await_in_callback(void *arg)
{
    outside *o = arg;
    o->result = aio_await(o->fut);
    o->exc = aio_err_fetch();
}
AIO_NAME_CALLBACK(await_in_callback);

static void test_task_await_outside_task(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_future *fut = aio_loop_create_future(loop);
    assert_null(aio_await(fut));
    assert_raised(aio_RuntimeError, "aio_await() must be called from inside a task");
    assert_int_equal(aio_future_set_result(fut, P(1)), 0);
    assert_null(aio_await(fut)); /* even when the future is done */
    assert_raised(aio_RuntimeError, "aio_await() must be called from inside a task");
    assert_null(aio_await(NULL));
    assert_raised(aio_TypeError, "object NoneType can't be used in 'await' expression");

    /* A plain callback of a running loop is not a task either. */
    outside o = {.fut = fut, .result = P(99)};
    soon(loop, await_in_callback, &o);
    run_one_iteration(loop);
    check_no_exception();
    assert_null(o.result);
    assert_non_null(o.exc);
    assert_ptr_equal(aio_exc_type_of(o.exc), aio_RuntimeError);
    assert_string_equal(aio_exc_str(o.exc), "aio_await() must be called from inside a task");
    aio_decref(o.exc);
    aio_decref(fut);
    finish(loop);
}

/* Awaits a->fut after noting its own repr and scheduling mark("X"). */
typedef struct bad_await {
    aio_future *fut;     /* NULL: the task itself */
    bool null_future;    /* await NULL */
    char repr[512];      /* the task's repr just before it awaited */
    aio_exc *exc;
    void *result;
} bad_await;

static void *bad_await_coro(void *arg)
{
    bad_await *b = arg;
    aio_task *self = aio_current_task(NULL);
    aio_future *fut = b->null_future ? NULL : b->fut != NULL ? b->fut : self;
    repr_copy(self, b->repr, sizeof b->repr);
    aio_loop_call_soon(aio_future_get_loop(self),
                       &(aio_loop_call_soon_args){.callback = mark, .args = "X"});
    b->result = aio_await(fut);
    b->exc = aio_err_fetch();
    trace_add(&g_trace, "awaited;");
    return P(1);
}
AIO_NAME_CALLBACK(bad_await_coro);

static void test_task_await_future_of_other_loop(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    aio_loop *other = new_loop();
    bad_await b = {.fut = aio_loop_create_future(other), .result = P(99)};
    aio_task *t = create_task(loop, bad_await_coro, &b);
    assert_ptr_equal(aio_loop_run_until_complete(loop, t), P(1));
    check_no_exception();
    /* Raised at the next step, not at once: X ran in between. */
    assert_string_equal(g_trace.text, "X;awaited;");
    assert_null(b.result);
    assert_non_null(b.exc);
    assert_ptr_equal(aio_exc_type_of(b.exc), aio_RuntimeError);
    char expected[1024];
    snprintf(expected, sizeof expected,
             "Task %s got Future <Future pending> attached to a different loop", b.repr);
    assert_string_equal(aio_exc_str(b.exc), expected);
    assert_true(strncmp(b.repr, "<Task pending name='Task-", 25) == 0);
    /* The other loop's future was left alone. */
    assert_int_equal(aio_future_done(b.fut), 0);
    assert_repr(b.fut, "<Future pending>");

    aio_decref(b.exc);
    aio_decref(t);

    /* A done future of another loop gives its result: `await` on a done
     * future never yields, so the step has nothing to check. */
    memset(&g_trace, 0, sizeof g_trace);
    assert_int_equal(aio_future_set_result(b.fut, P(4)), 0);
    b.exc = NULL;
    t = create_task(loop, bad_await_coro, &b);
    assert_ptr_equal(aio_loop_run_until_complete(loop, t), P(1));
    check_no_exception();
    assert_string_equal(g_trace.text, "awaited;X;");
    assert_ptr_equal(b.result, P(4));
    assert_null(b.exc);

    aio_decref(b.fut);
    aio_decref(t);
    close_loop(other);
    finish(loop);
}

static void test_task_await_itself(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    bad_await b = {.result = P(99)};
    aio_task *t = create_task(loop, bad_await_coro, &b);
    assert_ptr_equal(aio_loop_run_until_complete(loop, t), P(1));
    check_no_exception();
    assert_string_equal(g_trace.text, "X;awaited;");
    assert_null(b.result);
    assert_non_null(b.exc);
    assert_ptr_equal(aio_exc_type_of(b.exc), aio_RuntimeError);
    char expected[1024];
    snprintf(expected, sizeof expected, "Task cannot await on itself: %s", b.repr);
    assert_string_equal(aio_exc_str(b.exc), expected);
    aio_decref(b.exc);
    aio_decref(t);
    finish(loop);
}

static void test_task_await_null(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    bad_await b = {.null_future = true, .result = P(99)};
    aio_task *t = create_task(loop, bad_await_coro, &b);
    assert_ptr_equal(aio_loop_run_until_complete(loop, t), P(1));
    check_no_exception();
    /* TypeError at once: no suspension. */
    assert_string_equal(g_trace.text, "awaited;X;");
    assert_null(b.result);
    assert_non_null(b.exc);
    assert_ptr_equal(aio_exc_type_of(b.exc), aio_TypeError);
    assert_string_equal(aio_exc_str(b.exc), "object NoneType can't be used in 'await' expression");
    aio_decref(b.exc);
    aio_decref(t);
    finish(loop);
}

/* --- Cancellation ------------------------------------------------------------------------- */

static void test_task_cancel_before_first_step(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    aio_task *t = create_task(loop, ret_arg, P(1));
    assert_int_equal(aio_task_cancel(t, "early"), 1);
    assert_int_equal(aio_task_cancelling(t), 1);
    assert_int_equal(aio_future_cancelled(t), 0); /* not before its step */
    char expected[128];
    snprintf(expected, sizeof expected, "<Task cancelling name='%s' coro=<ret_arg() running>>",
             aio_task_get_name(t));
    assert_repr(t, expected);
    run_one_iteration(loop);
    check_no_exception();
    /* The body never ran. */
    assert_string_equal(g_trace.text, "");
    assert_int_equal(aio_future_cancelled(t), 1);
    assert_null(aio_future_result(t));
    assert_cancelled_error("early");

    /* Future.cancel() on a task is Task.cancel(); uncancel() does not
     * take a pending cancellation back (3.11). */
    aio_task *u = create_task(loop, ret_arg, P(2));
    assert_int_equal(aio_future_cancel(u, NULL), 1);
    assert_int_equal(aio_task_uncancel(u), 0);
    run_one_iteration(loop);
    check_no_exception();
    assert_string_equal(g_trace.text, "");
    assert_int_equal(aio_future_cancelled(u), 1);
    assert_null(aio_future_result(u));
    assert_cancelled_error(NULL);

    aio_decref(t);
    aio_decref(u);
    finish(loop);
}

static void test_task_cancel_while_awaiting(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    awaiter a = {.fut = aio_loop_create_future(loop)};
    aio_task *t = create_task(loop, await_one, &a);
    assert_int_equal(aio_task_set_name(t, "w"), 0);
    run_one_iteration(loop);
    assert_string_equal(g_trace.text, "start;");

    assert_int_equal(aio_task_cancel(t, "stop it"), 1);
    assert_int_equal(aio_task_cancelling(t), 1);
    /* The future it waits on is cancelled with the message. */
    assert_int_equal(aio_future_cancelled(a.fut), 1);
    assert_int_equal(aio_future_done(t), 0);
    assert_repr(t, "<Task cancelling name='w' coro=<await_one() running> "
                   "wait_for=<Future cancelled>>");

    assert_null(aio_loop_run_until_complete(loop, t));
    assert_cancelled_error("stop it");
    /* CancelledError('stop it') at the await point. */
    assert_string_equal(g_trace.text, "start;raised;");
    assert_ptr_equal(aio_exc_type_of(a.exc), aio_CancelledError);
    assert_string_equal(aio_exc_message(a.exc), "stop it");
    assert_int_equal(aio_future_cancelled(t), 1);
    /* Only the first retrieval (run_until_complete) had the message. */
    assert_null(aio_future_result(t));
    assert_cancelled_error(NULL);
    assert_null(aio_future_exception(t));
    assert_cancelled_error(NULL);
    assert_repr(t, "<Task cancelled name='w' coro=<await_one() done>>");

    awaiter_clear(&a);
    aio_decref(a.fut);
    aio_decref(t);
    finish(loop);
}

static void test_task_cancel_caught(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    awaiter a = {.fut = aio_loop_create_future(loop), .catch_it = true, .ret = P(5)};
    aio_task *t = create_task(loop, await_one, &a);
    run_one_iteration(loop);
    assert_int_equal(aio_task_cancel(t, NULL), 1);
    assert_ptr_equal(aio_loop_run_until_complete(loop, t), P(5));
    check_no_exception();
    assert_string_equal(g_trace.text, "start;raised;");
    assert_ptr_equal(aio_exc_type_of(a.exc), aio_CancelledError);
    assert_null(aio_exc_message(a.exc));
    /* It went on and returned: not cancelled; cancelling() still counts. */
    assert_int_equal(aio_future_cancelled(t), 0);
    assert_ptr_equal(aio_future_result(t), P(5));
    assert_int_equal(aio_task_cancelling(t), 1);
    assert_int_equal(aio_task_uncancel(t), 0);

    awaiter_clear(&a);
    aio_decref(a.fut);
    aio_decref(t);
    finish(loop);
}

/* The outer task awaits an inner one, which awaits a future. */
typedef struct nested {
    aio_loop *loop;
    awaiter inner_await;
    aio_task *inner;
    aio_exc *exc;
} nested;

static void *outer_coro(void *arg)
{
    nested *n = arg;
    n->inner = aio_loop_create_task(
        n->loop, &(aio_loop_create_task_args){.coro = await_one, .coro_arg = &n->inner_await});
    if (n->inner == NULL)
        return NULL;
    void *result = aio_await(n->inner);
    if (result == NULL && aio_err_occurred() != NULL) {
        n->exc = aio_incref(aio_err_occurred());
        return NULL;
    }
    return result;
}
AIO_NAME_CALLBACK(outer_coro);

static void test_task_cancel_nested(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    nested n = {.loop = loop};
    n.inner_await.fut = aio_loop_create_future(loop);
    aio_task *outer = create_task(loop, outer_coro, &n);
    run_one_iteration(loop); /* outer starts, makes inner */
    run_one_iteration(loop); /* inner starts, awaits the future */
    assert_non_null(n.inner);
    assert_string_equal(g_trace.text, "start;");

    assert_int_equal(aio_task_cancel(outer, "outer-msg"), 1);
    /* Cancelling the outer task cancels what it waits on: the inner task,
     * which cancels its own future. */
    assert_int_equal(aio_task_cancelling(outer), 1);
    assert_int_equal(aio_task_cancelling(n.inner), 1);
    assert_int_equal(aio_future_cancelled(n.inner_await.fut), 1);

    assert_null(aio_loop_run_until_complete(loop, outer));
    assert_cancelled_error("outer-msg");
    assert_int_equal(aio_future_cancelled(n.inner), 1);
    assert_int_equal(aio_future_cancelled(outer), 1);
    assert_string_equal(aio_exc_message(n.inner_await.exc), "outer-msg");
    assert_string_equal(aio_exc_message(n.exc), "outer-msg");
    assert_null(aio_future_result(outer));
    assert_cancelled_error(NULL); /* the first retrieval took the message */

    awaiter_clear(&n.inner_await);
    aio_decref(n.inner_await.fut);
    aio_decref(n.exc);
    aio_decref(n.inner);
    aio_decref(outer);
    finish(loop);
}

static void test_task_cancel_twice_and_uncancel(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    awaiter a = {.fut = aio_loop_create_future(loop)};
    aio_task *t = create_task(loop, await_one, &a);
    run_one_iteration(loop);

    assert_int_equal(aio_task_cancel(t, "m1"), 1);
    assert_int_equal(aio_task_cancel(t, "m2"), 1);
    assert_int_equal(aio_task_cancelling(t), 2);
    assert_int_equal(aio_task_uncancel(t), 1);
    assert_int_equal(aio_task_cancelling(t), 1);
    /* uncancel() leaves the requested cancellation in place (3.11). */
    assert_null(aio_loop_run_until_complete(loop, t));
    /* The future was cancelled with the first message: that is what the
     * task sees (CPython 3.11 does the same). */
    assert_cancelled_error("m1");
    assert_string_equal(aio_exc_message(a.exc), "m1");
    assert_int_equal(aio_future_cancelled(t), 1);
    assert_int_equal(aio_task_cancelling(t), 1);

    awaiter_clear(&a);
    aio_decref(a.fut);
    aio_decref(t);
    finish(loop);
}

static void *self_cancel_coro(void *arg)
{
    (void)arg;
    aio_task_cancel(aio_current_task(NULL), "me");
    return P(1);
}
AIO_NAME_CALLBACK(self_cancel_coro);

static void test_task_cancel_done_task(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    aio_task *t = create_task(loop, ret_arg, P(1));
    assert_ptr_equal(aio_loop_run_until_complete(loop, t), P(1));
    assert_int_equal(aio_task_cancel(t, "late"), 0);
    assert_int_equal(aio_future_cancel(t, NULL), 0);
    assert_int_equal(aio_task_cancelling(t), 0);
    assert_int_equal(aio_future_cancelled(t), 0);
    assert_ptr_equal(aio_future_result(t), P(1));

    /* A task that cancels itself and then returns ends cancelled. */
    aio_task *s = create_task(loop, self_cancel_coro, NULL);
    assert_null(aio_loop_run_until_complete(loop, s));
    assert_cancelled_error("me");
    assert_int_equal(aio_future_cancelled(s), 1);
    assert_int_equal(aio_task_cancel(s, NULL), 0);
    assert_int_equal(aio_task_cancelling(s), 1);

    aio_decref(t);
    aio_decref(s);
    finish(loop);
}

/* cancel() while running, then an await: the awaited future is cancelled
 * with the message at once, and CancelledError comes out of the await. */
typedef struct self_cancel_await {
    aio_future *fut;
    aio_exc *exc;
    int fut_cancelled;
} self_cancel_await;

static void *self_cancel_await_coro(void *arg)
{
    self_cancel_await *s = arg;
    aio_task_cancel(aio_current_task(NULL), "self");
    if (aio_await(s->fut) == NULL && aio_err_occurred() != NULL) {
        s->exc = aio_err_fetch(); /* caught */
        s->fut_cancelled = aio_future_cancelled(s->fut);
    }
    return P(7);
}
AIO_NAME_CALLBACK(self_cancel_await_coro);

static void test_task_cancel_self_then_await(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    self_cancel_await s = {.fut = aio_loop_create_future(loop), .fut_cancelled = -1};
    aio_task *t = create_task(loop, self_cancel_await_coro, &s);
    assert_ptr_equal(aio_loop_run_until_complete(loop, t), P(7));
    check_no_exception();
    assert_non_null(s.exc);
    assert_ptr_equal(aio_exc_type_of(s.exc), aio_CancelledError);
    assert_string_equal(aio_exc_message(s.exc), "self");
    assert_int_equal(s.fut_cancelled, 1);
    assert_int_equal(aio_future_cancelled(t), 0);
    assert_int_equal(aio_task_cancelling(t), 1);
    aio_decref(s.exc);
    aio_decref(s.fut);
    aio_decref(t);
    finish(loop);
}

/* --- Task is not a settable Future ---------------------------------------------------- */

static void test_task_set_result_refused(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    aio_task *t = create_task(loop, ret_arg, P(1));
    assert_int_equal(aio_future_set_result(t, P(2)), -1);
    assert_raised(aio_RuntimeError, "Task does not support set_result operation");
    aio_exc *exc = aio_exc_new(aio_ValueError, NULL);
    assert_int_equal(aio_future_set_exception(t, exc), -1);
    assert_raised(aio_RuntimeError, "Task does not support set_exception operation");
    assert_int_equal(aio_future_done(t), 0);
    assert_ptr_equal(aio_loop_run_until_complete(loop, t), P(1));
    /* Done or not, the answer is the same. */
    assert_int_equal(aio_future_set_result(t, P(2)), -1);
    assert_raised(aio_RuntimeError, "Task does not support set_result operation");
    assert_int_equal(aio_future_set_exception(t, exc), -1);
    assert_raised(aio_RuntimeError, "Task does not support set_exception operation");
    assert_ptr_equal(aio_future_result(t), P(1));
    aio_decref(exc);
    aio_decref(t);
    finish(loop);
}

/* --- Reports ---------------------------------------------------------------------------- */

static void *raise_coro(void *arg)
{
    aio_err_set(aio_ValueError, arg);
    return P(123); /* ignored: an exception is set */
}
AIO_NAME_CALLBACK(raise_coro);

static void test_task_exception_never_retrieved(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    report r = {0};
    aio_loop_set_exception_handler(loop, record_handler, &r);
    aio_task *t = create_task(loop, raise_coro, "x");
    run_until_done(loop, t, 3);
    assert_int_equal(aio_future_cancelled(t), 0);
    assert_int_equal(r.calls, 0);
    aio_future *ptr = t;
    aio_decref(t);
    assert_int_equal(r.calls, 1);
    assert_string_equal(r.message, "Task exception was never retrieved");
    assert_string_equal(r.exception, "ValueError('x')");
    assert_ptr_equal(r.future, ptr);
    assert_null(r.task);

    /* Retrieved (exception() or result()): no report. */
    t = create_task(loop, raise_coro, "y");
    run_until_done(loop, t, 3);
    assert_non_null(aio_future_exception(t));
    aio_decref(t);
    t = create_task(loop, raise_coro, "z");
    run_until_done(loop, t, 3);
    assert_null(aio_future_result(t));
    assert_raised(aio_ValueError, "z");
    aio_decref(t);
    assert_int_equal(r.calls, 1);
    finish(loop);
}

/* --- current_task() and all_tasks() ------------------------------------------------------ */

typedef struct current_probe {
    aio_loop *loop;
    aio_task *seen_null, *seen_loop;
    size_t all_count;
    bool all_has_self;
} current_probe;

static void *current_coro(void *arg)
{
    current_probe *p = arg;
    p->seen_null = aio_current_task(NULL);
    p->seen_loop = aio_current_task(p->loop);
    aio_task **all = aio_all_tasks(NULL, &p->all_count);
    for (size_t i = 0; i < p->all_count; i++) {
        p->all_has_self |= all[i] == p->seen_null;
        aio_decref(all[i]);
    }
    free(all);
    return NULL;
}
AIO_NAME_CALLBACK(current_coro);

static void current_in_callback(void *arg)
{
    current_probe *p = arg;
    p->seen_null = aio_current_task(NULL);
    p->seen_loop = aio_current_task(p->loop);
}
AIO_NAME_CALLBACK(current_in_callback);

static void test_task_current_task(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    /* No loop running: RuntimeError for loop=None. */
    assert_null(aio_current_task(NULL));
    assert_raised(aio_RuntimeError, "no running event loop");
    /* A loop that is not running has no current task. */
    assert_null(aio_current_task(loop));
    check_no_exception();

    current_probe p = {.loop = loop};
    aio_task *t = create_task(loop, current_coro, &p);
    assert_null(aio_loop_run_until_complete(loop, t));
    check_no_exception();
    assert_ptr_equal(p.seen_null, t);
    assert_ptr_equal(p.seen_loop, t);
    assert_int_equal(p.all_count, 1);
    assert_true(p.all_has_self);
    assert_null(aio_current_task(loop));

    /* A plain callback runs outside any task. */
    current_probe q = {.loop = loop, .seen_null = P(1), .seen_loop = P(1)};
    soon(loop, current_in_callback, &q);
    run_one_iteration(loop);
    check_no_exception();
    assert_null(q.seen_null);
    assert_null(q.seen_loop);

    aio_decref(t);
    finish(loop);
}

/* Task(coro) with loop=None inside a task: the running loop's. */
typedef struct spawn {
    aio_task *child;
    aio_loop *child_loop;
    void *child_result;
} spawn;

static void *spawn_coro(void *arg)
{
    spawn *s = arg;
    s->child = aio_task_new(ret_arg, P(5), NULL);
    if (s->child == NULL)
        return NULL;
    s->child_loop = aio_future_get_loop(s->child);
    s->child_result = aio_await(s->child);
    return aio_err_occurred() ? NULL : P(1);
}
AIO_NAME_CALLBACK(spawn_coro);

static void test_task_new_uses_running_loop(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    spawn s = {0};
    aio_task *t = create_task(loop, spawn_coro, &s);
    assert_ptr_equal(aio_loop_run_until_complete(loop, t), P(1));
    check_no_exception();
    assert_non_null(s.child);
    assert_ptr_equal(s.child_loop, loop);
    assert_ptr_equal(s.child_result, P(5));
    assert_string_equal(g_trace.text, "T(5);");
    aio_decref(s.child);
    aio_decref(t);
    finish(loop);
}

static bool tasks_contain(aio_task **tasks, size_t count, aio_task *t)
{
    for (size_t i = 0; i < count; i++) {
        if (tasks[i] == t)
            return true;
    }
    return false;
}

static void free_tasks(aio_task **tasks, size_t count)
{
    for (size_t i = 0; i < count; i++)
        aio_decref(tasks[i]);
    free(tasks);
}

static void test_task_all_tasks(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    size_t count = 99;
    assert_null(aio_all_tasks(NULL, &count));
    assert_int_equal(count, 0);
    assert_raised(aio_RuntimeError, "no running event loop");
    count = 99;
    assert_null(aio_all_tasks(loop, &count));
    assert_int_equal(count, 0);
    check_no_exception();

    aio_future *fut = aio_loop_create_future(loop);
    awaiter a1 = {.fut = fut}, a2 = {.fut = fut};
    aio_task *t1 = create_task(loop, await_one, &a1);
    aio_task *t2 = create_task(loop, await_one, &a2);
    aio_task *t3 = create_task(loop, ret_arg, P(3));

    aio_task **all = aio_all_tasks(loop, &count);
    assert_non_null(all);
    assert_int_equal(count, 3);
    assert_true(tasks_contain(all, count, t1));
    assert_true(tasks_contain(all, count, t2));
    assert_true(tasks_contain(all, count, t3));
    free_tasks(all, count);

    run_one_iteration(loop);
    check_no_exception();
    /* Only those not done. */
    all = aio_all_tasks(loop, &count);
    assert_int_equal(count, 2);
    assert_true(tasks_contain(all, count, t1));
    assert_true(tasks_contain(all, count, t2));
    free_tasks(all, count);

    /* The future is done, its wakeups are scheduled: cancelling t2 now
     * cannot cancel the future, so t2 gets CancelledError at its next step. */
    assert_int_equal(aio_future_set_result(fut, P(1)), 0);
    assert_int_equal(aio_task_cancel(t2, "late"), 1);
    run_until_done(loop, t1, 3);
    run_until_done(loop, t2, 3);
    assert_ptr_equal(aio_future_result(t1), P(1));
    assert_int_equal(aio_future_cancelled(t2), 1);
    assert_string_equal(aio_exc_message(a2.exc), "late");
    count = 99;
    assert_null(aio_all_tasks(loop, &count));
    assert_int_equal(count, 0);
    check_no_exception();

    awaiter_clear(&a1);
    awaiter_clear(&a2);
    aio_decref(fut);
    aio_decref(t1);
    aio_decref(t2);
    aio_decref(t3);
    finish(loop);
}

/* --- The task factory ------------------------------------------------------------------- */

typedef struct factory_state {
    int calls;
    aio_loop *loop_seen;
    bool fail;
} factory_state;

static aio_future *counting_factory(aio_loop *loop, aio_coroutine coro, void *coro_arg, void *arg)
{
    factory_state *f = arg;
    f->calls++;
    f->loop_seen = loop;
    if (f->fail) {
        aio_err_set(aio_ValueError, "no task today");
        return NULL;
    }
    return aio_task_new(coro, coro_arg, &(aio_task_args){.loop = loop});
}
AIO_NAME_CALLBACK(counting_factory);

static void test_task_factory(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    factory_state f = {0};
    assert_null(aio_loop_get_task_factory(loop));
    assert_int_equal(aio_loop_set_task_factory(loop, counting_factory, &f), 0);
    assert_ptr_equal(aio_loop_get_task_factory(loop), counting_factory);

    aio_task *t1 = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = ret_arg, .coro_arg = P(1), .name = "named"});
    assert_non_null(t1);
    assert_int_equal(f.calls, 1);
    assert_ptr_equal(f.loop_seen, loop);
    /* name= is applied with set_name(). */
    assert_string_equal(aio_task_get_name(t1), "named");
    aio_task *t2 = create_task(loop, ret_arg, P(2));
    assert_int_equal(f.calls, 2);
    assert_true(strncmp(aio_task_get_name(t2), "Task-", 5) == 0);

    /* What the factory raises, create_task() raises. */
    f.fail = true;
    assert_null(aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = ret_arg}));
    assert_raised(aio_ValueError, "no task today");
    assert_int_equal(f.calls, 3);
    f.fail = false;

    run_one_iteration(loop);
    check_no_exception();
    assert_string_equal(g_trace.text, "T(1);T(2);");

    /* None restores the default. */
    assert_int_equal(aio_loop_set_task_factory(loop, NULL, NULL), 0);
    assert_null(aio_loop_get_task_factory(loop));
    aio_task *t3 = create_task(loop, ret_arg, P(3));
    assert_int_equal(f.calls, 3);
    assert_ptr_equal(aio_loop_run_until_complete(loop, t3), P(3));

    aio_decref(t1);
    aio_decref(t2);
    aio_decref(t3);
    finish(loop);
}

/* --- SystemExit --------------------------------------------------------------------------- */

static void *system_exit_coro(void *arg)
{
    (void)arg;
    trace_add(&g_trace, "exiting;");
    aio_err_set(aio_SystemExit, "bye");
    return NULL;
}
AIO_NAME_CALLBACK(system_exit_coro);

static void test_task_system_exit(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    report r = {0};
    aio_loop_set_exception_handler(loop, record_handler, &r);
    aio_task *t = create_task(loop, system_exit_coro, NULL);
    soon(loop, mark, "after");
    assert_null(aio_loop_run_until_complete(loop, t));
    /* Out of run_until_complete(), straight from the step: the callback
     * behind it did not run. */
    assert_raised(aio_SystemExit, "bye");
    assert_string_equal(g_trace.text, "exiting;");
    assert_int_equal(aio_loop_is_running(loop), 0);
    /* The task holds it as its exception. */
    assert_int_equal(aio_future_done(t), 1);
    aio_exc *exc = aio_future_exception(t);
    assert_non_null(exc);
    assert_ptr_equal(aio_exc_type_of(exc), aio_SystemExit);
    assert_int_equal(r.calls, 0);

    /* The loop goes on working. */
    aio_task *u = create_task(loop, ret_arg, P(4));
    assert_ptr_equal(aio_loop_run_until_complete(loop, u), P(4));
    check_no_exception();
    assert_string_equal(g_trace.text, "exiting;after;T(4);");

    aio_decref(t);
    aio_decref(u);
    assert_int_equal(r.calls, 0);
    finish(loop);
}

/* --- Stack overflow ------------------------------------------------------------------------- */

#define OVERFLOW_CHILD_ENV "CASYNCIO_TEST_STACK_OVERFLOW_CHILD"

static volatile long g_depth_limit = LONG_MAX;

__attribute__((noinline)) static long recurse(volatile char *outer, long depth)
{
    volatile char buf[1024];
    buf[0] = (char)depth;
    buf[sizeof buf - 1] = (char)depth;
    if (outer != NULL)
        outer[1] = buf[0]; /* the caller's frame stays live across the call */
    if (depth >= g_depth_limit)
        return buf[0];
    return recurse(buf, depth + 1) + buf[1];
}

static void *overflow_coro(void *arg)
{
    (void)arg;
    return P(recurse(NULL, 0));
}
AIO_NAME_CALLBACK(overflow_coro);

/* The child: a task with a 32 KiB stack recursing until it overflows. */
_Noreturn static void stack_overflow_child(void)
{
    aio_loop *loop = aio_new_event_loop();
    if (loop == NULL)
        _exit(2);
    aio_task *t = aio_task_new(overflow_coro, NULL,
                               &(aio_task_args){.loop = loop, .stack_size = 32 * 1024});
    if (t == NULL)
        _exit(2);
    aio_loop_run_until_complete(loop, t);
    fprintf(stderr, "the task returned\n");
    _exit(3);
}

static void test_task_stack_overflow(void **state)
{
    (void)state;
    if (getenv(OVERFLOW_CHILD_ENV) != NULL)
        stack_overflow_child(); /* does not return */
    if (RUNNING_ON_VALGRIND) {
        /* /proc/self/exe is valgrind's tool there; the plain and ASan
         * builds run this test. */
        print_message("skipped under valgrind: the child re-executes this binary\n");
        return;
    }

    /* The child is this test in a fresh process (fork, then exec): the
     * library's SIGSEGV handler is installed when its first stack is made,
     * and in a process that already ran other tests cmocka may since have
     * replaced it. */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 1);
        setenv(OVERFLOW_CHILD_ENV, "1", 1);
        execl("/proc/self/exe", "test_tasks", "test_task_stack_overflow", (char *)NULL);
        stack_overflow_child(); /* no /proc: in this copy of the process, then */
    }
    close(fds[1]);
    char text[8192];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fds[0], text + len, sizeof text - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    text[len] = '\0';
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);

#ifdef TEST_ASAN
    if (strstr(text, "casyncio: stack overflow") == NULL && strstr(text, "AddressSanitizer")) {
        fprintf(stderr, "skipped: AddressSanitizer caught the overflow before casyncio's "
                        "SIGSEGV handler:\n%s\n", text);
        skip();
    }
#endif
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT ||
        strstr(text, "casyncio: stack overflow in Task-") == NULL) {
        fprintf(stderr, "child status %#x, stderr:\n%s\n", status, text);
        fail();
    }
    assert_non_null(strstr(text, "(its stack is too small; give it a larger stack_size)"));
}

/* --- Closing a loop with tasks still suspended -------------------------------------------- */

static void test_task_loop_closed_while_suspended(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    report r = {0};
    aio_loop_set_exception_handler(loop, record_handler, &r);
    awaiter a = {.fut = aio_loop_create_future(loop), .result = P(99)};
    aio_task *t = create_task(loop, await_one, &a);
    assert_int_equal(aio_task_set_name(t, "stuck"), 0);
    run_one_iteration(loop);
    assert_string_equal(g_trace.text, "start;");
    /* A second task that never got to run. */
    aio_task *never = create_task(loop, ret_arg, P(1));
    assert_int_equal(aio_task_set_name(never, "never"), 0);

    assert_int_equal(aio_loop_close(loop), 0);
    check_no_exception();
    /* Closing unwound the suspended task: GeneratorExit at its await. */
    assert_string_equal(g_trace.text, "start;raised;");
    assert_int_equal(a.awaits, 1);
    assert_null(a.result);
    assert_non_null(a.exc);
    assert_ptr_equal(aio_exc_type_of(a.exc), aio_GeneratorExit);
    /* Neither task finished, and nothing was reported yet. */
    assert_int_equal(aio_future_done(t), 0);
    assert_int_equal(aio_future_done(never), 0);
    assert_int_equal(r.calls, 0);
    /* The future is no longer waited on. */
    assert_repr(a.fut, "<Future pending>");

    aio_future *ptr = t;
    aio_decref(t);
    assert_int_equal(r.calls, 1);
    assert_string_equal(r.message, "Task was destroyed but it is pending!");
    assert_ptr_equal(r.task, ptr);
    assert_null(r.future);
    ptr = never;
    aio_decref(never);
    assert_int_equal(r.calls, 2);
    assert_string_equal(r.message, "Task was destroyed but it is pending!");
    assert_ptr_equal(r.task, ptr);

    awaiter_clear(&a);
    aio_decref(a.fut);
    aio_decref(loop);
    assert_no_leaks();
}

/* An outer task awaiting an inner one that awaits a future: closing the
 * loop unwinds both, whichever comes first. */
static void test_task_loop_closed_nested(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    report r = {0};
    aio_loop_set_exception_handler(loop, record_handler, &r);
    nested n = {.loop = loop};
    n.inner_await.fut = aio_loop_create_future(loop);
    aio_task *outer = create_task(loop, outer_coro, &n);
    run_one_iteration(loop);
    run_one_iteration(loop);
    assert_non_null(n.inner);
    assert_string_equal(g_trace.text, "start;");

    assert_int_equal(aio_loop_close(loop), 0);
    check_no_exception();
    assert_ptr_equal(aio_exc_type_of(n.inner_await.exc), aio_GeneratorExit);
    assert_ptr_equal(aio_exc_type_of(n.exc), aio_GeneratorExit);
    assert_int_equal(aio_future_done(n.inner), 0);
    assert_int_equal(aio_future_done(outer), 0);
    assert_int_equal(r.calls, 0);

    aio_decref(n.inner);
    aio_decref(outer);
    assert_int_equal(r.calls, 2);
    assert_string_equal(r.message, "Task was destroyed but it is pending!");
    awaiter_clear(&n.inner_await);
    aio_decref(n.inner_await.fut);
    aio_decref(n.exc);
    aio_decref(loop);
    assert_no_leaks();
}

/* --- Tasks on another thread's loop ------------------------------------------------------ */

typedef struct thread_run {
    int tasks_done;
    void *results[3];
    char *stacks[3];
    int errors;
} thread_run;

typedef struct thread_task {
    thread_run *run;
    int index;
    aio_future *fut;
} thread_task;

static void *thread_coro(void *arg)
{
    thread_task *tt = arg;
    tt->run->stacks[tt->index] = aio__coro_current()->stack;
    void *result = aio_await(tt->fut);
    if (result == NULL && aio_err_occurred())
        return NULL;
    tt->run->tasks_done++;
    return (char *)result + tt->index;
}
AIO_NAME_CALLBACK(thread_coro);

static void set_result_cb(void *arg)
{
    aio_future_set_result(arg, P(100));
}
AIO_NAME_CALLBACK(set_result_cb);

static void *thread_main_fn(void *arg)
{
    thread_run *run = arg;
    aio_loop *loop = aio_new_event_loop();
    if (loop == NULL) {
        run->errors++;
        return NULL;
    }
    aio_future *fut = aio_loop_create_future(loop);
    thread_task tts[3];
    aio_task *tasks[3];
    for (int i = 0; i < 3; i++) {
        tts[i] = (thread_task){.run = run, .index = i, .fut = fut};
        tasks[i] = aio_loop_create_task(
            loop, &(aio_loop_create_task_args){.coro = thread_coro, .coro_arg = &tts[i]});
        if (tasks[i] == NULL)
            run->errors++;
    }
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = set_result_cb, .args = fut});
    for (int i = 0; i < 3; i++) {
        run->results[i] = aio_loop_run_until_complete(loop, tasks[i]);
        if (aio_err_occurred()) {
            aio_err_clear();
            run->errors++;
        }
        aio_decref(tasks[i]);
    }
    aio_decref(fut);
    if (aio_loop_close(loop) < 0)
        run->errors++;
    aio_decref(loop);
    if (aio_err_occurred())
        run->errors++;
    return NULL;
}

static void test_task_other_thread(void **state)
{
    (void)state;
    thread_run run = {0};
    run_in_thread(thread_main_fn, &run);
    assert_int_equal(run.errors, 0);
    assert_int_equal(run.tasks_done, 3);
    for (int i = 0; i < 3; i++) {
        assert_ptr_equal(run.results[i], (char *)P(100) + i);
        assert_non_null(run.stacks[i]);
    }
    assert_true(run.stacks[0] != run.stacks[1] && run.stacks[1] != run.stacks[2]);

    /* Then this thread runs tasks of its own. */
    memset(&g_trace, 0, sizeof g_trace);
    aio_loop *loop = new_loop();
    aio_task *t = create_task(loop, ret_arg, P(8));
    assert_ptr_equal(aio_loop_run_until_complete(loop, t), P(8));
    aio_decref(t);
    finish(loop);
}

/* --- Many tasks ------------------------------------------------------------------------------ */

#define MANY 10000

typedef struct many_state {
    aio_future *fut;
    int done;
    char *stacks[MANY];
} many_state;

static many_state g_many;

static void *many_coro(void *arg)
{
    size_t i = (size_t)(uintptr_t)arg;
    g_many.stacks[i] = aio__coro_current()->stack;
    void *result = aio_await(g_many.fut);
    if (result == NULL && aio_err_occurred())
        return NULL;
    g_many.done++;
    return (char *)result + i;
}
AIO_NAME_CALLBACK(many_coro);

static int compare_ptrs(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (char *const *)a, y = (uintptr_t) * (char *const *)b;
    return x < y ? -1 : x > y;
}

static void test_task_many_tasks_one_future(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    memset(&g_many, 0, sizeof g_many);
    g_many.fut = aio_loop_create_future(loop);
    aio_task **tasks = calloc(MANY, sizeof *tasks);
    assert_non_null(tasks);
    for (size_t i = 0; i < MANY; i++)
        tasks[i] = create_task(loop, many_coro, P(i));
    run_one_iteration(loop);
    check_no_exception();
    size_t count = 0;
    aio_task **all = aio_all_tasks(loop, &count);
    assert_int_equal(count, MANY);
    free_tasks(all, count);

    /* Every suspended task has a stack of its own. */
    char **sorted = malloc(MANY * sizeof *sorted);
    assert_non_null(sorted);
    memcpy(sorted, g_many.stacks, MANY * sizeof *sorted);
    qsort(sorted, MANY, sizeof *sorted, compare_ptrs);
    assert_non_null(sorted[0]);
    for (size_t i = 1; i < MANY; i++)
        assert_true(sorted[i] != sorted[i - 1]);

    assert_int_equal(aio_future_set_result(g_many.fut, P(1000)), 0);
    run_one_iteration(loop);
    check_no_exception();
    assert_int_equal(g_many.done, MANY);
    for (size_t i = 0; i < MANY; i++) {
        assert_int_equal(aio_future_done(tasks[i]), 1);
        assert_ptr_equal(aio_future_result(tasks[i]), (char *)P(1000) + i);
        aio_decref(tasks[i]);
    }

    /* The stacks they released serve the next tasks. */
    for (size_t i = 0; i < 64; i++)
        tasks[i] = create_task(loop, many_coro, P(i));
    g_many.done = 0;
    run_one_iteration(loop);
    check_no_exception();
    assert_int_equal(g_many.done, 64);
    for (size_t i = 0; i < 64; i++) {
        assert_non_null(bsearch(&g_many.stacks[i], sorted, MANY, sizeof *sorted, compare_ptrs));
        assert_ptr_equal(aio_future_result(tasks[i]), (char *)P(1000) + i);
        aio_decref(tasks[i]);
    }
    free(sorted);
    free(tasks);
    aio_decref(g_many.fut);
    finish(loop);
}

/* Closing a loop with 100,000 tasks suspended on one future: each is taken
 * off the future and unwound, in time linear in them (it was quadratic:
 * the list of tasks was searched from its start for each, and each was
 * taken off the future's callbacks by a walk of all of them, 4.8 s for
 * 40,000 and some 30 s for these; the test's time limit tells them apart).
 * On the shared stack, to spare memory (fewer under AddressSanitizer and
 * Valgrind). */
#define CLOSE_MANY 100000

static void *closed_many_coro(void *arg)
{
    aio_future *fut = arg;
    if (aio_await(fut) == NULL && aio_err_matches(aio_GeneratorExit))
        g_many.done++;
    return NULL;
}
AIO_NAME_CALLBACK(closed_many_coro);

static void test_task_loop_closed_with_many_suspended(void **state)
{
    (void)state;
#ifdef TEST_ASAN
    size_t n = CLOSE_MANY / 20; /* a stack each there, and ASan's memory for each */
#else
    size_t n = RUNNING_ON_VALGRIND ? 2000 : CLOSE_MANY;
#endif
    aio_loop *loop = new_loop();
    report r = {0};
    aio_loop_set_exception_handler(loop, record_handler, &r);
    memset(&g_many, 0, sizeof g_many);
    aio_future *fut = aio_loop_create_future(loop);
    aio_task **tasks = calloc(n, sizeof *tasks);
    assert_non_null(tasks);
    for (size_t i = 0; i < n; i++) {
        tasks[i] = aio_task_new(closed_many_coro, fut,
                                &(aio_task_args){.loop = loop, .shared_stack = true});
        assert_non_null(tasks[i]);
    }
    run_one_iteration(loop);
    check_no_exception();
    assert_int_equal(fut->callbacks_len, n);

    assert_int_equal(aio_loop_close(loop), 0);
    check_no_exception();
    assert_int_equal(g_many.done, n);
    assert_int_equal(fut->callbacks_len, 0);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(aio_future_done(tasks[i]), 0);
        aio_decref(tasks[i]);
    }
    assert_int_equal(r.calls, n); /* "Task was destroyed but it is pending!" */
    free(tasks);
    aio_decref(fut);
    aio_decref(loop);
    assert_no_leaks();
}

/* --- The pool of stacks follows the load ------------------------------------------------------ */

#define BURST 10000

/* Tasks of a burst: every one awaits g_many.fut, and those whose index is a
 * multiple of `stay_every` (0: none) await g_stay after it. */
static aio_future *g_stay;
static size_t g_stay_every;

static void *burst_coro(void *arg)
{
    size_t i = (size_t)(uintptr_t)arg;
    if (aio_await(g_many.fut) == NULL && aio_err_occurred())
        return NULL;
    if (g_stay_every != 0 && i % g_stay_every == 0 &&
        aio_await(g_stay) == NULL && aio_err_occurred())
        return NULL;
    g_many.done++;
    return P(i);
}
AIO_NAME_CALLBACK(burst_coro);

/* Starts BURST tasks and runs them to their first await. */
static aio_task **start_burst(aio_loop *loop)
{
    g_many.done = 0;
    g_many.fut = aio_loop_create_future(loop);
    g_stay = aio_loop_create_future(loop);
    aio_task **tasks = calloc(BURST, sizeof *tasks);
    assert_non_null(tasks);
    for (size_t i = 0; i < BURST; i++)
        tasks[i] = create_task(loop, burst_coro, P(i));
    run_one_iteration(loop);
    check_no_exception();
    return tasks;
}

static void end_burst(aio_loop *loop, aio_task **tasks)
{
    if (!aio_future_done(g_stay)) {
        assert_int_equal(aio_future_set_result(g_stay, NULL), 0);
        run_one_iteration(loop);
    }
    check_no_exception();
    assert_int_equal(g_many.done, BURST);
    for (size_t i = 0; i < BURST; i++) {
        assert_ptr_equal(aio_future_result(tasks[i]), P(i));
        aio_decref(tasks[i]);
    }
    free(tasks);
    aio_decref(g_many.fut);
    aio_decref(g_stay);
}

static void print_pool(const char *when, const aio__coro_pool_stats *st)
{
    print_message("stack pool %s: %zu in use, %zu warm, %zu cold, %zu chunks, %zu MiB mapped, "
                  "%zu KiB resident in free stacks\n",
                  when, st->in_use, st->warm, st->cold, st->chunks, st->mapped_bytes >> 20,
                  st->free_resident_bytes >> 10);
}

/* After a burst of tasks, each with a stack of its own, is over, the
 * thread's pool of stacks gives the memory back: the chunks it mapped, and
 * with them the pages of the stacks (what mincore() finds resident in the
 * free ones). Deterministic: the pool decides on each stack given back. */
static void test_task_stack_pool_gives_memory_back(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_task **tasks = start_burst(loop);
    aio__coro_pool_stats busy;
    aio__coro_pool_get_stats(&busy);
    print_pool("in the burst", &busy);
    assert_true(busy.in_use >= BURST);
    assert_true(busy.mapped_bytes >= (size_t)BURST * 256 * 1024);

    assert_int_equal(aio_future_set_result(g_many.fut, NULL), 0);
    run_one_iteration(loop);
    aio__coro_pool_stats idle;
    aio__coro_pool_get_stats(&idle);
    print_pool("after it", &idle);
    assert_int_equal(idle.in_use, 0);
    /* It keeps a few hundred free slots, not 10,000 (3 GiB of address
     * space, 40 MiB of pages). */
    assert_true(idle.warm + idle.cold <= 1024);
    assert_true(idle.mapped_bytes <= busy.mapped_bytes / 10);
    assert_true(idle.free_resident_bytes <= 4 * 1024 * 1024);
    end_burst(loop, tasks);

    /* It serves the next burst, from its chunks and new ones. */
    tasks = start_burst(loop);
    assert_int_equal(aio_future_set_result(g_many.fut, NULL), 0);
    run_one_iteration(loop);
    end_burst(loop, tasks);
    finish(loop);
}

/* When the load falls but some tasks stay, in every chunk, no chunk can
 * go: the pool gives back the pages of the free stacks past as many as are
 * in use, once it has had too many for a while (here at once). */
static void test_task_stack_pool_gives_pages_back(void **state)
{
    (void)state;
    uint64_t decay = aio__coro_pool_decay_ns;
    aio__coro_pool_decay_ns = 0;
    aio_loop *loop = new_loop();
    g_stay_every = 10;
    aio_task **tasks = start_burst(loop);
    assert_int_equal(aio_future_set_result(g_many.fut, NULL), 0);
    run_one_iteration(loop);
    assert_int_equal(g_many.done, BURST - BURST / 10);
    aio__coro_pool_stats st;
    aio__coro_pool_get_stats(&st);
    print_pool("with a tenth left", &st);
    assert_int_equal(st.in_use, BURST / 10);
    /* 9,000 free stacks: the pages of those past 1,000 (and some slack)
     * went back. */
    assert_true(st.warm <= BURST / 10 + 64);
    assert_true(st.free_resident_bytes <= (BURST / 10 + 64) * 8 * 1024);
    end_burst(loop, tasks);
    g_stay_every = 0;
    aio__coro_pool_decay_ns = decay;
    finish(loop);
}

/* A thread that ends with tasks still suspended on its loop: their stacks
 * outlive the thread's pool, and go when the loop, closed by another
 * thread, unwinds them. */
typedef struct stranded {
    aio_loop *loop;
    aio_task *tasks[300];
    report reports;
    int errors;
} stranded;

static void *stranded_coro(void *arg)
{
    (void)arg;
    if (aio_sleep(3600) < 0)
        return NULL; /* CancelledError, or GeneratorExit when the loop closes */
    return P(1);
}
AIO_NAME_CALLBACK(stranded_coro);

static void *stranded_thread(void *arg)
{
    stranded *st = arg;
    if ((st->loop = aio_new_event_loop()) == NULL) {
        st->errors++;
        return NULL;
    }
    aio_loop_set_exception_handler(st->loop, record_handler, &st->reports);
    for (size_t i = 0; i < 300; i++) {
        st->tasks[i] = aio_loop_create_task(
            st->loop, &(aio_loop_create_task_args){.coro = stranded_coro, .coro_arg = st});
        if (st->tasks[i] == NULL)
            st->errors++;
    }
    /* Some finish (their stacks go back to the pool), the others stay
     * suspended as the thread ends. */
    if (aio_loop_stop(st->loop) < 0 || aio_loop_run_forever(st->loop) < 0)
        st->errors++;
    for (size_t i = 0; i < 300; i += 2)
        aio_task_cancel(st->tasks[i], NULL);
    if (aio_loop_stop(st->loop) < 0 || aio_loop_run_forever(st->loop) < 0)
        st->errors++;
    if (aio_err_occurred())
        st->errors++;
    return NULL;
}

static void test_task_stacks_outlive_their_thread(void **state)
{
    (void)state;
    stranded st = {0};
    run_in_thread(stranded_thread, &st);
    assert_int_equal(st.errors, 0);
    for (size_t i = 0; i < 300; i++)
        assert_int_equal(aio_future_done(st.tasks[i]), i % 2 == 0);
    /* Closing the loop here unwinds the suspended ones: their stacks go
     * back to a pool whose thread is gone, which unmaps them. */
    assert_int_equal(aio_loop_close(st.loop), 0);
    check_no_exception();
    for (size_t i = 0; i < 300; i++)
        aio_decref(st.tasks[i]);
    /* Those left pending: "Task was destroyed but it is pending!" */
    assert_int_equal(st.reports.calls, 150);
    aio_decref(st.loop);
    assert_no_leaks();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_task_default_names),
    cmocka_unit_test(test_task_new_errors),
    cmocka_unit_test(test_task_accessors),
    cmocka_unit_test(test_task_context_copied_at_creation),
    cmocka_unit_test(test_task_explicit_context),
    cmocka_unit_test(test_task_stack_size),
    cmocka_unit_test(test_task_stack_reused),
    cmocka_unit_test(test_task_stack_released_clean),
    cmocka_unit_test(test_task_first_step_fifo),
    cmocka_unit_test(test_task_await_done_future),
    cmocka_unit_test(test_task_await_pending_result),
    cmocka_unit_test(test_task_await_pending_exception),
    cmocka_unit_test(test_task_await_pending_cancelled),
    cmocka_unit_test(test_task_await_outside_task),
    cmocka_unit_test(test_task_await_future_of_other_loop),
    cmocka_unit_test(test_task_await_itself),
    cmocka_unit_test(test_task_await_null),
    cmocka_unit_test(test_task_cancel_before_first_step),
    cmocka_unit_test(test_task_cancel_while_awaiting),
    cmocka_unit_test(test_task_cancel_caught),
    cmocka_unit_test(test_task_cancel_nested),
    cmocka_unit_test(test_task_cancel_twice_and_uncancel),
    cmocka_unit_test(test_task_cancel_done_task),
    cmocka_unit_test(test_task_cancel_self_then_await),
    cmocka_unit_test(test_task_set_result_refused),
    cmocka_unit_test(test_task_exception_never_retrieved),
    cmocka_unit_test(test_task_current_task),
    cmocka_unit_test(test_task_new_uses_running_loop),
    cmocka_unit_test(test_task_all_tasks),
    cmocka_unit_test(test_task_factory),
    cmocka_unit_test(test_task_system_exit),
    cmocka_unit_test(test_task_stack_overflow),
    cmocka_unit_test(test_task_loop_closed_while_suspended),
    cmocka_unit_test(test_task_loop_closed_nested),
    cmocka_unit_test(test_task_other_thread),
    cmocka_unit_test(test_task_many_tasks_one_future),
    cmocka_unit_test(test_task_loop_closed_with_many_suspended),
    cmocka_unit_test(test_task_stack_pool_gives_memory_back),
    cmocka_unit_test(test_task_stack_pool_gives_pages_back),
    cmocka_unit_test(test_task_stacks_outlive_their_thread),
};

AIO_TEST_MAIN(tests)
