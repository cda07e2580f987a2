/* test_scheduling.c - loop.call_soon() and loop.call_soon_threadsafe():
 * FIFO order, the snapshot rule of an iteration, callbacks that fail or are
 * missing, debug mode's checks, and waking the loop from other threads.
 *
 * Expected traces and messages come from running the same programs on
 * CPython 3.11 (ASYNCIO-SEMANTICS.md §1, §2).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "test_support.h"

/* --- helpers ------------------------------------------------------------- */

static trace T;

/* Global so that reprs and messages name them. */
static void sc_rec(void *arg)
{
    trace_add(&T, "%s ", (const char *)arg);
}
AIO_NAME_CALLBACK(sc_rec);

static void sc_stop(void *loop)
{
    trace_add(&T, "stop ");
    aio_loop_stop(loop);
}
AIO_NAME_CALLBACK(sc_stop);

/* Records what the exception handler is given. */
typedef struct handler_capture {
    int count;
    aio_loop *loop;
    char message[256];
    const aio_exc_type *exc_type;
    char exc_str[256];
    aio_handle *handle;
    int handle_cancelled;
    char handle_repr[256];
    char first_message[256];
} handler_capture;

static void capture_handler(aio_loop *loop, const aio_exception_context *ctx, void *arg)
{
    handler_capture *cap = arg;
    cap->count++;
    cap->loop = loop;
    snprintf(cap->message, sizeof cap->message, "%s", ctx->message ? ctx->message : "(null)");
    if (cap->count == 1)
        snprintf(cap->first_message, sizeof cap->first_message, "%s", cap->message);
    cap->exc_type = ctx->exception ? aio_exc_type_of(ctx->exception) : NULL;
    snprintf(cap->exc_str, sizeof cap->exc_str, "%s",
             ctx->exception ? aio_exc_str(ctx->exception) : "(none)");
    cap->handle = ctx->handle;
    cap->handle_cancelled = ctx->handle ? aio_handle_cancelled(ctx->handle) : -1;
    char *repr = ctx->handle ? aio_repr(ctx->handle) : NULL;
    snprintf(cap->handle_repr, sizeof cap->handle_repr, "%s", repr ? repr : "(none)");
    free(repr);
}
AIO_NAME_CALLBACK(capture_handler);

typedef struct log_capture {
    int count;
    int level;
    char message[512];
    const aio_exc_type *exc_type;
    char exc_str[256];
} log_capture;

static void capture_log(int level, const char *message, aio_exc *exc, void *arg)
{
    log_capture *cap = arg;
    cap->count++;
    cap->level = level;
    snprintf(cap->message, sizeof cap->message, "%s", message);
    cap->exc_type = exc ? aio_exc_type_of(exc) : NULL;
    snprintf(cap->exc_str, sizeof cap->exc_str, "%s", exc ? aio_exc_str(exc) : "(none)");
}
AIO_NAME_CALLBACK(capture_log);

/* --- call_soon: order and the snapshot rule ------------------------------------ */

static void test_call_soon_fifo(void **state)
{
    (void)state;
    static const char *names[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    aio_loop *loop = new_traced_loop_nodebug(&T);
    for (int i = 0; i < 10; i++)
        soon(loop, sc_rec, (void *)names[i]);
    soon(loop, sc_stop, loop);
    run(loop);
    assert_string_equal(T.text, "0 1 2 3 4 5 6 7 8 9 stop ");
    finish(loop);
}

/* Many callbacks: the ready queue grows past its initial size and stays
 * FIFO. */
static int counter_value;
static int counter_errors;

static void sc_count(void *arg)
{
    if ((int)(intptr_t)arg != counter_value)
        counter_errors++;
    counter_value++;
}
AIO_NAME_CALLBACK(sc_count);

static void test_call_soon_fifo_large(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop_nodebug(&T);
    counter_value = counter_errors = 0;
    for (intptr_t i = 0; i < 5000; i++)
        soon(loop, sc_count, (void *)i);
    aio_loop_stop(loop);
    run(loop);
    assert_int_equal(counter_value, 5000);
    assert_int_equal(counter_errors, 0);
    finish(loop);
}

/* Two self-rescheduling chains: each runs once per iteration, so they
 * alternate; a callback scheduled during an iteration never runs in it. */
static aio_loop *the_loop;
static int chain_runs;

static void sc_chain(void *arg)
{
    const char *name = arg;
    trace_add(&T, "%s ", name);
    if (name[0] == 'A' && ++chain_runs == 3)
        aio_loop_stop(the_loop);
    soon(the_loop, sc_chain, arg);
}
AIO_NAME_CALLBACK(sc_chain);

static void test_snapshot_rule(void **state)
{
    (void)state;
    aio_loop *loop = the_loop = new_traced_loop_nodebug(&T);
    chain_runs = 0;
    soon(loop, sc_chain, "A");
    soon(loop, sc_chain, "B");
    run(loop);
    /* Three iterations: stop() in the third lets its batch finish. */
    assert_string_equal(T.text, "A B A B A B ");
    aio_loop_stop(loop);
    run(loop); /* exactly one more iteration */
    assert_string_equal(T.text, "A B A B A B A B ");
    finish(loop);
}

/* Within an iteration: leftovers of the previous one, then due timers.
 * call_later(0) issued beside call_soon(g) runs after g, in g's iteration.
 * CPython: ['e', 'b', 'c', 'z']. */
static void sc_b(void *arg)
{
    (void)arg;
    trace_add(&T, "b ");
    soon(the_loop, sc_stop, the_loop);
}
AIO_NAME_CALLBACK(sc_b);

static void sc_e(void *arg)
{
    (void)arg;
    trace_add(&T, "e ");
    assert_non_null(aio_loop_call_later(the_loop, &(aio_loop_call_later_args){.delay = AIO_ZERO,
                                                                              .callback = sc_rec,
                                                                              .args = "c"}));
    soon(the_loop, sc_b, NULL);
}
AIO_NAME_CALLBACK(sc_e);

static void test_call_later_zero_runs_after_call_soon_same_iteration(void **state)
{
    (void)state;
    aio_loop *loop = the_loop = new_traced_loop_nodebug(&T);
    soon(loop, sc_e, NULL);
    run(loop);
    assert_string_equal(T.text, "e b c stop ");
    finish(loop);
}

static void test_call_soon_returns_pending_handle(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop_nodebug(&T);
    static char tag[] = "tag";
    aio_handle *h = soon(loop, sc_rec, tag);
    assert_int_equal(aio_handle_cancelled(h), 0);
    char expected[64];
    snprintf(expected, sizeof expected, "<Handle sc_rec(%p)>", (void *)tag);
    assert_repr(h, expected);
    aio_handle *h2 = soon(loop, sc_rec, NULL);
    assert_ptr_not_equal(h, h2);
    assert_repr(h2, "<Handle sc_rec()>");
    aio_loop_stop(loop);
    run(loop);
    assert_string_equal(T.text, "tag (null) ");
    finish(loop);
}

/* --- bad arguments ---------------------------------------------------------------- */

static void test_call_soon_null_self_and_closed(void **state)
{
    (void)state;
    assert_null(aio_loop_call_soon(NULL, &(aio_loop_call_soon_args){.callback = sc_rec}));
    assert_raised(aio_TypeError, "descriptor 'call_soon' for 'BaseEventLoop' objects doesn't "
                                 "apply to a 'NoneType' object");
    assert_null(aio_loop_call_soon_threadsafe(
        NULL, &(aio_loop_call_soon_threadsafe_args){.callback = sc_rec}));
    assert_raised(aio_TypeError, "descriptor 'call_soon_threadsafe' for 'BaseEventLoop' "
                                 "objects doesn't apply to a 'NoneType' object");
    assert_null(aio_loop_call_soon(NULL, NULL));
    assert_raised(aio_TypeError, "descriptor 'call_soon' for 'BaseEventLoop' objects doesn't "
                                 "apply to a 'NoneType' object");

    aio_loop *loop = new_traced_loop_nodebug(&T);
    assert_int_equal(aio_loop_close(loop), 0);
    assert_null(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = sc_rec}));
    assert_raised(aio_RuntimeError, "Event loop is closed");
    assert_null(aio_loop_call_soon(loop, NULL));
    assert_raised(aio_RuntimeError, "Event loop is closed");
    assert_null(aio_loop_call_soon_threadsafe(
        loop, &(aio_loop_call_soon_threadsafe_args){.callback = sc_rec}));
    assert_raised(aio_RuntimeError, "Event loop is closed");
    /* Debug mode checks the callback only after the closed check. */
    aio_loop_set_debug(loop, true);
    assert_null(aio_loop_call_soon(loop, NULL));
    assert_raised(aio_RuntimeError, "Event loop is closed");
    assert_null(aio_loop_call_soon_threadsafe(loop, NULL));
    assert_raised(aio_RuntimeError, "Event loop is closed");
    finish(loop);
}

/* Without debug mode a missing callback is accepted and fails when run.
 * CPython: 'Exception in callback None()', TypeError("'NoneType' object is
 * not callable"), handle <Handle>. */
static void test_null_callback_reported_when_run(void **state)
{
    (void)state;
    handler_capture cap = {0};
    aio_loop *loop = new_traced_loop_nodebug(&T);
    assert_int_equal(aio_loop_set_exception_handler(loop, capture_handler, &cap), 0);
    aio_handle *h1 = aio_loop_call_soon(loop, NULL); /* NULL args: all defaults */
    assert_non_null(h1);
    check_no_exception();
    assert_repr(h1, "<Handle>");
    aio_incref(h1);
    soon(loop, sc_rec, "after");
    aio_loop_stop(loop);
    run(loop);
    assert_int_equal(cap.count, 1);
    assert_ptr_equal(cap.loop, loop);
    assert_string_equal(cap.message, "Exception in callback None()");
    assert_true(cap.exc_type == aio_TypeError);
    assert_string_equal(cap.exc_str, "'NoneType' object is not callable");
    assert_ptr_equal(cap.handle, h1);
    assert_int_equal(cap.handle_cancelled, 0);
    assert_string_equal(cap.handle_repr, "<Handle>");
    /* The failure did not stop the batch. */
    assert_string_equal(T.text, "after ");
    aio_decref(h1);

    /* Same with an args struct whose callback is NULL (CPython:
     * call_soon(None, 42) -> 'Exception in callback None(42)', handle
     * <Handle>), and through call_soon_threadsafe. */
    static char x[] = "x";
    memset(&cap, 0, sizeof cap);
    aio_handle *h2 = aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.args = x});
    assert_non_null(h2);
    assert_repr(h2, "<Handle>");
    assert_non_null(aio_loop_call_soon_threadsafe(loop, NULL));
    aio_loop_stop(loop);
    run(loop);
    assert_int_equal(cap.count, 2);
    char expected[64];
    snprintf(expected, sizeof expected, "Exception in callback None(%p)", (void *)x);
    assert_string_equal(cap.first_message, expected);
    assert_string_equal(cap.message, "Exception in callback None()");
    assert_string_equal(cap.exc_str, "'NoneType' object is not callable");
    assert_string_equal(cap.handle_repr, "<Handle>");
    finish(loop);
}

/* The default handler logs one ERROR record. CPython:
 * 'Exception in callback None()\nhandle: <Handle>' with the TypeError. */
static void test_null_callback_default_handler_log(void **state)
{
    (void)state;
    log_capture cap = {0};
    aio_log_set_handler(capture_log, &cap);
    aio_loop *loop = new_traced_loop_nodebug(&T);
    assert_non_null(aio_loop_call_soon(loop, NULL));
    aio_loop_stop(loop);
    run(loop);
    aio_log_set_handler(NULL, NULL);
    assert_int_equal(cap.count, 1);
    assert_int_equal(cap.level, AIO_LOG_ERROR);
    assert_string_equal(cap.message, "Exception in callback None()\nhandle: <Handle>");
    assert_true(cap.exc_type == aio_TypeError);
    assert_string_equal(cap.exc_str, "'NoneType' object is not callable");
    finish(loop);
}

static void sc_raise(void *arg)
{
    trace_add(&T, "raise ");
    aio_err_format(aio_ValueError, "bad %d", (int)(intptr_t)arg);
}
AIO_NAME_CALLBACK(sc_raise);

/* A callback's exception goes to the handler; the loop goes on. CPython:
 * 'Exception in callback boom(42) at f.py:3\nhandle: <Handle boom(42) at
 * f.py:3>' + ValueError: bad 42. C shows the pointer argument. */
static void test_callback_exception_reported(void **state)
{
    (void)state;
    log_capture cap = {0};
    aio_log_set_handler(capture_log, &cap);
    aio_loop *loop = new_traced_loop_nodebug(&T);
    soon(loop, sc_raise, (void *)(intptr_t)42);
    soon(loop, sc_rec, "next");
    soon(loop, sc_stop, loop);
    run(loop);
    aio_log_set_handler(NULL, NULL);
    assert_string_equal(T.text, "raise next stop ");
    assert_int_equal(cap.count, 1);
    assert_int_equal(cap.level, AIO_LOG_ERROR);
    assert_string_equal(cap.message,
                        "Exception in callback sc_raise(0x2a)\nhandle: <Handle sc_raise(0x2a)>");
    assert_true(cap.exc_type == aio_ValueError);
    assert_string_equal(cap.exc_str, "bad 42");
    finish(loop);
}

static void test_null_callback_debug_raises_at_once(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop_nodebug(&T);
    aio_loop_set_debug(loop, true);
    assert_null(aio_loop_call_soon(loop, NULL));
    assert_raised(aio_TypeError, "a callable object was expected by call_soon(), got None");
    assert_null(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.args = "x"}));
    assert_raised(aio_TypeError, "a callable object was expected by call_soon(), got None");
    assert_null(aio_loop_call_soon_threadsafe(loop, NULL));
    assert_raised(aio_TypeError,
                  "a callable object was expected by call_soon_threadsafe(), got None");
    /* Nothing was scheduled: one iteration runs only the stop. */
    handler_capture cap = {0};
    aio_loop_set_exception_handler(loop, capture_handler, &cap);
    soon(loop, sc_stop, loop);
    run(loop);
    assert_int_equal(cap.count, 0);
    assert_string_equal(T.text, "stop ");
    finish(loop);
}

/* --- debug mode: the thread check ---------------------------------------------------- */

typedef struct thread_result {
    aio_loop *loop;
    int n;
    const aio_exc_type *types[8];
    char messages[8][160];
} thread_result;

static void record_outcome(thread_result *r, const void *ok)
{
    aio_exc *exc = aio_err_fetch();
    if (ok != NULL && exc == NULL) {
        r->types[r->n] = NULL;
        snprintf(r->messages[r->n], sizeof r->messages[0], "ok");
    } else if (exc != NULL) {
        r->types[r->n] = aio_exc_type_of(exc);
        snprintf(r->messages[r->n], sizeof r->messages[0], "%s", aio_exc_str(exc));
    } else {
        r->types[r->n] = NULL;
        snprintf(r->messages[r->n], sizeof r->messages[0], "NULL without exception");
    }
    aio_decref(exc);
    r->n++;
}

static void *foreign_calls(void *arg)
{
    thread_result *r = arg;
    aio_loop *loop = r->loop;
    record_outcome(r, aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = sc_rec,
                                                                          .args = "soon"}));
    record_outcome(r, aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = AIO_ZERO,
                                                                            .callback = sc_rec,
                                                                            .args = "later"}));
    record_outcome(r, aio_loop_call_at(loop, &(aio_loop_call_at_args){.when = AIO_ZERO,
                                                                      .callback = sc_rec,
                                                                      .args = "at"}));
    record_outcome(r, aio_loop_call_soon_threadsafe(
                          loop, &(aio_loop_call_soon_threadsafe_args){.callback = sc_rec,
                                                                      .args = "threadsafe"}));
    return NULL;
}

static thread_result foreign;

/* Runs in the loop: another thread calls while this callback waits for it. */
static void sc_call_from_thread(void *loop)
{
    memset(&foreign, 0, sizeof foreign);
    foreign.loop = loop;
    run_in_thread(foreign_calls, &foreign);
    aio_loop_stop(loop);
}
AIO_NAME_CALLBACK(sc_call_from_thread);

static void test_debug_wrong_thread(void **state)
{
    (void)state;
    static const char *const thread_msg =
        "Non-thread-safe operation invoked on an event loop other than the current one";
    aio_loop *loop = new_traced_loop_nodebug(&T);
    aio_loop_set_debug(loop, true);
    soon(loop, sc_call_from_thread, loop);
    run(loop);
    assert_int_equal(foreign.n, 4);
    assert_true(foreign.types[0] == aio_RuntimeError);
    assert_string_equal(foreign.messages[0], thread_msg);
    assert_true(foreign.types[1] == aio_RuntimeError);
    assert_string_equal(foreign.messages[1], thread_msg);
    assert_true(foreign.types[2] == aio_RuntimeError);
    assert_string_equal(foreign.messages[2], thread_msg);
    assert_null(foreign.types[3]);
    assert_string_equal(foreign.messages[3], "ok");
    /* Only call_soon_threadsafe's callback was scheduled. */
    soon(loop, sc_stop, loop);
    run(loop);
    assert_string_equal(T.text, "threadsafe stop ");

    /* A loop that is not running has no thread to check against. */
    memset(&foreign, 0, sizeof foreign);
    foreign.loop = loop;
    run_in_thread(foreign_calls, &foreign);
    assert_int_equal(foreign.n, 4);
    for (int i = 0; i < 4; i++) {
        assert_null(foreign.types[i]);
        assert_string_equal(foreign.messages[i], "ok");
    }
    memset(&T, 0, sizeof T);
    aio_loop_stop(loop);
    run(loop);
    /* Ready callbacks first (call_soon and call_soon_threadsafe in the
     * order made), then the timers: call_at(0) is due before call_later. */
    assert_string_equal(T.text, "soon threadsafe at later ");
    finish(loop);
}

/* Without debug mode no thread check is made. */
static void test_no_thread_check_without_debug(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop_nodebug(&T);
    soon(loop, sc_call_from_thread, loop);
    run(loop);
    assert_int_equal(foreign.n, 4);
    for (int i = 0; i < 4; i++)
        assert_string_equal(foreign.messages[i], "ok");
    soon(loop, sc_stop, loop);
    run(loop);
    /* The stop joins the ready callbacks; the due timers still run. */
    assert_string_equal(T.text, "soon threadsafe stop at later ");
    finish(loop);
}

/* --- call_soon_threadsafe ------------------------------------------------------------ */

typedef struct waker {
    aio_loop *loop;
    int delay_ms;
    pthread_t loop_thread;
    atomic_int ran_in_loop_thread;
    atomic_int call_failed;
} waker;

static void sc_wake_stop(void *arg)
{
    waker *w = arg;
    atomic_store(&w->ran_in_loop_thread, pthread_equal(pthread_self(), w->loop_thread) ? 1 : 2);
    trace_add(&T, "woken ");
    aio_loop_stop(w->loop);
}
AIO_NAME_CALLBACK(sc_wake_stop);

static void *wake_later(void *arg)
{
    waker *w = arg;
    sleep_ms(w->delay_ms);
    aio_handle *h = aio_loop_call_soon_threadsafe(
        w->loop, &(aio_loop_call_soon_threadsafe_args){.callback = sc_wake_stop, .args = w});
    if (h == NULL) {
        atomic_store(&w->call_failed, 1);
        aio_err_clear();
    }
    return NULL;
}

static void sc_timeout_stop(void *loop)
{
    trace_add(&T, "timeout ");
    aio_loop_stop(loop);
}
AIO_NAME_CALLBACK(sc_timeout_stop);

/* A loop blocked on a 10 s timer wakes as soon as another thread calls
 * call_soon_threadsafe(). */
static void test_call_soon_threadsafe_wakes_blocked_loop(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop_nodebug(&T);
    aio_timer_handle *far = aio_loop_call_later(
        loop, &(aio_loop_call_later_args){.delay = 10, .callback = sc_timeout_stop, .args = loop});
    assert_non_null(far);
    waker w = {.loop = loop, .delay_ms = 30, .loop_thread = pthread_self()};
    pthread_t thread;
    double t0 = monotonic_now();
    assert_int_equal(pthread_create(&thread, NULL, wake_later, &w), 0);
    run(loop);
    double elapsed = monotonic_now() - t0;
    assert_int_equal(pthread_join(thread, NULL), 0);
    assert_int_equal(atomic_load(&w.call_failed), 0);
    assert_string_equal(T.text, "woken ");
    assert_int_equal(atomic_load(&w.ran_in_loop_thread), 1);
    assert_true(elapsed < 5.0);
    assert_int_equal(aio_handle_cancelled(far), 0); /* still pending */
    finish(loop);
}

/* Also when the call comes before the loop starts polling. */
static void test_call_soon_threadsafe_before_run(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop_nodebug(&T);
    assert_non_null(aio_loop_call_later(
        loop, &(aio_loop_call_later_args){.delay = 10, .callback = sc_timeout_stop, .args = loop}));
    waker w = {.loop = loop, .delay_ms = 0, .loop_thread = pthread_self()};
    run_in_thread(wake_later, &w);
    double t0 = monotonic_now();
    run(loop);
    assert_true(monotonic_now() - t0 < 5.0);
    assert_string_equal(T.text, "woken ");
    assert_int_equal(atomic_load(&w.ran_in_loop_thread), 1);
    finish(loop);
}

static void *threadsafe_on_closed(void *arg)
{
    thread_result *r = arg;
    record_outcome(r, aio_loop_call_soon_threadsafe(
                          r->loop, &(aio_loop_call_soon_threadsafe_args){.callback = sc_rec}));
    return NULL;
}

static void test_call_soon_threadsafe_closed_loop(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop_nodebug(&T);
    assert_int_equal(aio_loop_close(loop), 0);
    assert_null(aio_loop_call_soon_threadsafe(
        loop, &(aio_loop_call_soon_threadsafe_args){.callback = sc_rec}));
    assert_raised(aio_RuntimeError, "Event loop is closed");
    thread_result r = {.loop = loop};
    run_in_thread(threadsafe_on_closed, &r);
    assert_int_equal(r.n, 1);
    assert_true(r.types[0] == aio_RuntimeError);
    assert_string_equal(r.messages[0], "Event loop is closed");
    finish(loop);
}

static aio_handle *threadsafe(aio_loop *loop, aio_callback cb, void *arg)
{
    aio_handle *h = aio_loop_call_soon_threadsafe(
        loop, &(aio_loop_call_soon_threadsafe_args){.callback = cb, .args = arg});
    assert_non_null(h);
    return h;
}

static void sc_mix(void *arg)
{
    (void)arg;
    trace_add(&T, "mix ");
    soon(the_loop, sc_rec, "s1");
    threadsafe(the_loop, sc_rec, "t1");
    soon(the_loop, sc_rec, "s2");
    threadsafe(the_loop, sc_rec, "t2");
    threadsafe(the_loop, sc_stop, the_loop);
}
AIO_NAME_CALLBACK(sc_mix);

/* From the loop's own thread, call_soon_threadsafe() keeps its place among
 * call_soon() calls, running or not. */
static void test_call_soon_threadsafe_order_with_call_soon(void **state)
{
    (void)state;
    aio_loop *loop = the_loop = new_traced_loop_nodebug(&T);
    soon(loop, sc_rec, "a");
    threadsafe(loop, sc_rec, "b");
    soon(loop, sc_rec, "c");
    threadsafe(loop, sc_rec, "d");
    soon(loop, sc_mix, NULL);
    threadsafe(loop, sc_rec, "e");
    run(loop);
    assert_string_equal(T.text, "a b c d mix e s1 t1 s2 t2 stop ");
    finish(loop);
}

/* Several threads at once: every callback runs, each thread's in order. */
#define N_THREADS 4
#define PER_THREAD 250

static int seen[N_THREADS];
static int order_errors;
static int total_seen;

static void sc_tally(void *arg)
{
    intptr_t v = (intptr_t)arg;
    int t = (int)(v / PER_THREAD), i = (int)(v % PER_THREAD);
    if (seen[t] != i)
        order_errors++;
    seen[t] = i + 1;
    if (++total_seen == N_THREADS * PER_THREAD)
        aio_loop_stop(the_loop);
}
AIO_NAME_CALLBACK(sc_tally);

typedef struct producer {
    aio_loop *loop;
    int index;
    int failures;
} producer;

static void *produce(void *arg)
{
    producer *p = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        if (aio_loop_call_soon_threadsafe(
                p->loop, &(aio_loop_call_soon_threadsafe_args){
                             .callback = sc_tally,
                             .args = (void *)(intptr_t)(p->index * PER_THREAD + i)}) == NULL) {
            p->failures++;
            aio_err_clear();
        }
        if (i % 50 == 0)
            sleep_ms(1);
    }
    return NULL;
}

static void sc_never(void *loop)
{
    trace_add(&T, "never ");
    aio_loop_stop(loop);
}
AIO_NAME_CALLBACK(sc_never);

static void test_call_soon_threadsafe_many_threads(void **state)
{
    (void)state;
    aio_loop *loop = the_loop = new_traced_loop_nodebug(&T);
    memset(seen, 0, sizeof seen);
    order_errors = total_seen = 0;
    /* A safety net: a lost wakeup ends the test instead of hanging it. */
    assert_non_null(aio_loop_call_later(
        loop, &(aio_loop_call_later_args){.delay = 10, .callback = sc_never, .args = loop}));
    producer p[N_THREADS];
    pthread_t threads[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) {
        p[t] = (producer){.loop = loop, .index = t};
        assert_int_equal(pthread_create(&threads[t], NULL, produce, &p[t]), 0);
    }
    run(loop);
    for (int t = 0; t < N_THREADS; t++) {
        assert_int_equal(pthread_join(threads[t], NULL), 0);
        assert_int_equal(p[t].failures, 0);
        assert_int_equal(seen[t], PER_THREAD);
    }
    assert_string_equal(T.text, "");
    assert_int_equal(total_seen, N_THREADS * PER_THREAD);
    assert_int_equal(order_errors, 0);
    finish(loop);
}

/* A callback scheduled from another thread that is still waiting when the
 * loop closes is dropped, not run. */
static void test_call_soon_threadsafe_pending_at_close(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop_nodebug(&T);
    waker w = {.loop = loop, .delay_ms = 0, .loop_thread = pthread_self()};
    run_in_thread(wake_later, &w);
    assert_int_equal(atomic_load(&w.call_failed), 0);
    finish(loop);
    assert_string_equal(T.text, "");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_call_soon_fifo),
    cmocka_unit_test(test_call_soon_fifo_large),
    cmocka_unit_test(test_snapshot_rule),
    cmocka_unit_test(test_call_later_zero_runs_after_call_soon_same_iteration),
    cmocka_unit_test(test_call_soon_returns_pending_handle),
    cmocka_unit_test(test_call_soon_null_self_and_closed),
    cmocka_unit_test(test_null_callback_reported_when_run),
    cmocka_unit_test(test_null_callback_default_handler_log),
    cmocka_unit_test(test_callback_exception_reported),
    cmocka_unit_test(test_null_callback_debug_raises_at_once),
    cmocka_unit_test(test_debug_wrong_thread),
    cmocka_unit_test(test_no_thread_check_without_debug),
    cmocka_unit_test(test_call_soon_threadsafe_wakes_blocked_loop),
    cmocka_unit_test(test_call_soon_threadsafe_before_run),
    cmocka_unit_test(test_call_soon_threadsafe_closed_loop),
    cmocka_unit_test(test_call_soon_threadsafe_order_with_call_soon),
    cmocka_unit_test(test_call_soon_threadsafe_many_threads),
    cmocka_unit_test(test_call_soon_threadsafe_pending_at_close),
};

AIO_TEST_MAIN(tests)
