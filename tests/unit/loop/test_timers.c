/* test_timers.c - loop.call_later(), loop.call_at(), loop.time() and the
 * timer heap: ordering, negative delays, exact when() values, Python's heapq
 * order for equal deadlines, and both ways _run_once drops cancelled timers
 * (head pops, or a rebuild when more than half of over 100 are cancelled).
 *
 * The firing orders below were produced by CPython 3.11 running the same
 * schedule (ASYNCIO-SEMANTICS.md §1, §2); a different purge path or heap
 * algorithm gives a different order.
 */
#include <math.h>
#include <stdio.h>
#include <time.h>

#include "test_support.h"

/* --- helpers ------------------------------------------------------------- */

static trace T;

static void tm_rec(void *arg)
{
    trace_add(&T, "%s ", (const char *)arg);
}
AIO_NAME_CALLBACK(tm_rec);

static void tm_stop(void *loop)
{
    trace_add(&T, "stop ");
    aio_loop_stop(loop);
}
AIO_NAME_CALLBACK(tm_stop);

static aio_timer_handle *later(aio_loop *loop, double delay, aio_callback cb, void *arg)
{
    aio_timer_handle *h = aio_loop_call_later(
        loop, &(aio_loop_call_later_args){.delay = delay, .callback = cb, .args = arg});
    assert_non_null(h);
    return h;
}

/* --- ordering -------------------------------------------------------------- */

/* Timers fire in the order of their deadlines (time() at the call plus
 * the delay). The expected order is derived from when() so that a stall of
 * the machine between the calls cannot make the test fail. */
static void test_call_later_order(void **state)
{
    (void)state;
    static const char *const names[] = {"30ms", "10ms", "20ms", "0ms"};
    static const double delays[] = {0.03, 0.01, 0.02, 0.0};
    aio_loop *loop = new_traced_loop_nodebug(&T);
    double when[4];
    for (int i = 0; i < 4; i++) {
        double before = aio_loop_time(loop);
        aio_timer_handle *h = later(loop, delays[i] == 0.0 ? AIO_ZERO : delays[i], tm_rec,
                                    (void *)names[i]);
        double after = aio_loop_time(loop);
        when[i] = aio_timer_handle_when(h);
        assert_true(when[i] >= before + delays[i] && when[i] <= after + delays[i]);
    }
    aio_timer_handle *stop = later(loop, 0.04, tm_stop, loop);
    double stop_when = aio_timer_handle_when(stop);
    assert_non_null(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tm_rec,
                                                                        .args = "soon"}));
    run(loop);
    assert_true(aio_loop_time(loop) >= stop_when - 1e-6);

    trace want = {"soon "};
    bool used[4] = {false};
    for (int k = 0; k < 4; k++) {
        int best = -1;
        for (int i = 0; i < 4; i++)
            if (!used[i] && (best < 0 || when[i] < when[best]))
                best = i;
        used[best] = true;
        trace_add(&want, "%s ", names[best]);
    }
    trace_add(&want, "stop ");
    assert_string_equal(T.text, want.text);
    finish(loop);
}

static void test_call_at_order(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop_nodebug(&T);
    double t = aio_loop_time(loop);
    at(loop, t + 0.02, tm_rec, "t+20ms");
    at(loop, t - 1.0, tm_rec, "t-1");
    at(loop, t + 0.01, tm_rec, "t+10ms");
    at(loop, AIO_ZERO, tm_rec, "zero");
    at(loop, t, tm_rec, "t");
    at(loop, t + 0.03, tm_stop, loop);
    run(loop);
    assert_string_equal(T.text, "zero t-1 t t+10ms t+20ms stop ");
    finish(loop);
}

/* A negative delay is allowed: the timer is due at once, and earlier than
 * a less negative one. */
static void test_negative_delay(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop_nodebug(&T);
    double t0 = aio_loop_time(loop);
    aio_timer_handle *h1 = later(loop, -1.0, tm_rec, "-1");
    aio_timer_handle *h2 = later(loop, -2.0, tm_rec, "-2");
    double t1 = aio_loop_time(loop);
    double w1 = aio_timer_handle_when(h1), w2 = aio_timer_handle_when(h2);
    assert_true(w1 >= t0 - 1.0 && w1 <= t1 - 1.0);
    assert_true(w2 >= t0 - 2.0 && w2 <= t1 - 2.0);
    aio_loop_stop(loop); /* one iteration suffices */
    run(loop);
    assert_string_equal(T.text, "-2 -1 ");
    finish(loop);
}

/* A timer never fires before its time on the loop's clock. */
static aio_loop *when_loop;
static double fired_at[3];
static int fired;

static void tm_when(void *arg)
{
    fired_at[(intptr_t)arg] = aio_loop_time(when_loop);
    if (++fired == 3)
        aio_loop_stop(when_loop);
}
AIO_NAME_CALLBACK(tm_when);

static void test_timer_not_early(void **state)
{
    (void)state;
    aio_loop *loop = when_loop = new_traced_loop_nodebug(&T);
    fired = 0;
    aio_timer_handle *h[3];
    h[0] = later(loop, 0.015, tm_when, (void *)(intptr_t)0);
    h[1] = later(loop, 0.0301, tm_when, (void *)(intptr_t)1);
    h[2] = at(loop, aio_loop_time(loop) + 0.045, tm_when, (void *)(intptr_t)2);
    double when[3];
    for (int i = 0; i < 3; i++)
        when[i] = aio_timer_handle_when(h[i]);
    run(loop);
    assert_int_equal(fired, 3);
    for (int i = 0; i < 3; i++) {
        assert_true(fired_at[i] >= when[i] - 1e-6);
        assert_true(fired_at[i] < when[i] + 10.0);
    }
    finish(loop);
}

/* --- time() and when() ----------------------------------------------------------- */

static void test_time_is_monotonic(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop_nodebug(&T);
    double before = monotonic_now();
    double t = aio_loop_time(loop);
    double after = monotonic_now();
    /* time.monotonic(): CLOCK_MONOTONIC seconds. */
    assert_true(t >= before - 1e-6 && t <= after + 1e-6);
    double prev = t;
    for (int i = 0; i < 10000; i++) {
        double cur = aio_loop_time(loop);
        assert_true(cur >= prev);
        prev = cur;
    }
    /* It keeps working on a closed loop, as in Python. */
    assert_int_equal(aio_loop_close(loop), 0);
    assert_true(aio_loop_time(loop) >= prev);
    check_no_exception();
    assert_true(aio_loop_time(NULL) == -1.0);
    assert_raised(aio_TypeError,
                  "descriptor 'time' for 'BaseEventLoop' objects doesn't apply to a 'NoneType' "
                  "object");
    finish(loop);
}

static void test_when_values(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop_nodebug(&T);
    assert_true(aio_timer_handle_when(at(loop, 12345.678, tm_rec, "a")) == 12345.678);
    assert_true(aio_timer_handle_when(at(loop, 5.0, tm_rec, "b")) == 5.0);
    assert_true(aio_timer_handle_when(at(loop, -3.5, tm_rec, "c")) == -3.5);
    assert_true(aio_timer_handle_when(at(loop, AIO_ZERO, tm_rec, "d")) == 0.0);
    assert_true(aio_timer_handle_when(at(loop, 1e10, tm_rec, "e")) == 1e10);
    /* when=0 (left out) is 0 as well: the field is required. */
    assert_true(aio_timer_handle_when(aio_loop_call_at(
                    loop, &(aio_loop_call_at_args){.callback = tm_rec, .args = "f"})) == 0.0);

    double t0 = aio_loop_time(loop);
    aio_timer_handle *h = later(loop, 0.5, tm_rec, "g");
    aio_timer_handle *z = later(loop, AIO_ZERO, tm_rec, "h");
    aio_timer_handle *big = later(loop, 2 * 86400.0, tm_rec, "i"); /* over a day: allowed */
    double t1 = aio_loop_time(loop);
    assert_true(aio_timer_handle_when(h) >= t0 + 0.5 && aio_timer_handle_when(h) <= t1 + 0.5);
    assert_true(aio_timer_handle_when(z) >= t0 && aio_timer_handle_when(z) <= t1);
    assert_true(aio_timer_handle_when(big) >= t0 + 172800.0);
    check_no_exception();
    finish(loop);
}

/* --- bad arguments ------------------------------------------------------------------ */

static void test_none_delay_and_when(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop_nodebug(&T);
    assert_null(aio_loop_call_later(
        loop, &(aio_loop_call_later_args){.delay = AIO_NONE, .callback = tm_rec}));
    assert_raised(aio_TypeError, "delay must not be None");
    assert_null(aio_loop_call_at(loop, &(aio_loop_call_at_args){.when = AIO_NONE,
                                                                .callback = tm_rec}));
    assert_raised(aio_TypeError, "when cannot be None");
    /* None is refused before the closed check, as in Python. */
    assert_int_equal(aio_loop_close(loop), 0);
    assert_null(aio_loop_call_later(
        loop, &(aio_loop_call_later_args){.delay = AIO_NONE, .callback = tm_rec}));
    assert_raised(aio_TypeError, "delay must not be None");
    assert_null(aio_loop_call_at(loop, &(aio_loop_call_at_args){.when = AIO_NONE,
                                                                .callback = tm_rec}));
    assert_raised(aio_TypeError, "when cannot be None");
    finish(loop);
}

static void test_timers_null_self_and_closed(void **state)
{
    (void)state;
    assert_null(aio_loop_call_later(NULL, &(aio_loop_call_later_args){.delay = 1,
                                                                      .callback = tm_rec}));
    assert_raised(aio_TypeError, "descriptor 'call_later' for 'BaseEventLoop' objects doesn't "
                                 "apply to a 'NoneType' object");
    assert_null(aio_loop_call_at(NULL, &(aio_loop_call_at_args){.when = 1, .callback = tm_rec}));
    assert_raised(aio_TypeError, "descriptor 'call_at' for 'BaseEventLoop' objects doesn't "
                                 "apply to a 'NoneType' object");
    assert_null(aio_loop_call_later(NULL, NULL));
    assert_raised(aio_TypeError, "descriptor 'call_later' for 'BaseEventLoop' objects doesn't "
                                 "apply to a 'NoneType' object");

    aio_loop *loop = new_traced_loop_nodebug(&T);
    assert_int_equal(aio_loop_close(loop), 0);
    assert_null(aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = 1,
                                                                      .callback = tm_rec}));
    assert_raised(aio_RuntimeError, "Event loop is closed");
    assert_null(aio_loop_call_at(loop, &(aio_loop_call_at_args){.when = 1, .callback = tm_rec}));
    assert_raised(aio_RuntimeError, "Event loop is closed");
    assert_null(aio_loop_call_later(loop, NULL));
    assert_raised(aio_RuntimeError, "Event loop is closed");
    aio_loop_set_debug(loop, true); /* closed comes before the callback check */
    assert_null(aio_loop_call_at(loop, NULL));
    assert_raised(aio_RuntimeError, "Event loop is closed");
    finish(loop);
}

typedef struct handler_capture {
    int count;
    char message[256];
    const aio_exc_type *exc_type;
    char exc_str[256];
    char handle_repr[256];       /* of the last handle reported */
    char first_handle_repr[256]; /* of the first */
} handler_capture;

static void capture_handler(aio_loop *loop, const aio_exception_context *ctx, void *arg)
{
    (void)loop;
    handler_capture *cap = arg;
    cap->count++;
    snprintf(cap->message, sizeof cap->message, "%s", ctx->message ? ctx->message : "(null)");
    cap->exc_type = ctx->exception ? aio_exc_type_of(ctx->exception) : NULL;
    snprintf(cap->exc_str, sizeof cap->exc_str, "%s",
             ctx->exception ? aio_exc_str(ctx->exception) : "(none)");
    char *repr = ctx->handle ? aio_repr(ctx->handle) : NULL;
    snprintf(cap->handle_repr, sizeof cap->handle_repr, "%s", repr ? repr : "(none)");
    if (cap->count == 1)
        snprintf(cap->first_handle_repr, sizeof cap->first_handle_repr, "%s", cap->handle_repr);
    free(repr);
}
AIO_NAME_CALLBACK(capture_handler);

/* NULL args: delay 0 and no callback. Without debug mode the timer is made
 * and fails when it runs; in debug mode the check names call_at(). */
static void test_null_args_and_null_callback(void **state)
{
    (void)state;
    handler_capture cap = {0};
    aio_loop *loop = new_traced_loop_nodebug(&T);
    aio_loop_set_exception_handler(loop, capture_handler, &cap);
    double t0 = aio_loop_time(loop);
    aio_timer_handle *h = aio_loop_call_later(loop, NULL);
    assert_non_null(h);
    double t1 = aio_loop_time(loop);
    assert_true(aio_timer_handle_when(h) >= t0 && aio_timer_handle_when(h) <= t1);
    char *repr = aio_repr(h);
    assert_int_equal(strncmp(repr, "<TimerHandle when=", 18), 0);
    assert_int_equal(repr[strlen(repr) - 1], '>');
    assert_null(strchr(repr, '(')); /* no callback shown */
    free(repr);
    assert_non_null(aio_loop_call_at(loop, NULL));
    aio_loop_stop(loop);
    run(loop);
    assert_int_equal(cap.count, 2);
    assert_string_equal(cap.message, "Exception in callback None()");
    assert_true(cap.exc_type == aio_TypeError);
    assert_string_equal(cap.exc_str, "'NoneType' object is not callable");
    /* call_at(NULL) is due at 0.0, before call_later(NULL). */
    assert_string_equal(cap.first_handle_repr, "<TimerHandle when=0.0>");
    assert_int_equal(strncmp(cap.handle_repr, "<TimerHandle when=", 18), 0);
    assert_ptr_equal(strstr(cap.handle_repr, "("), NULL);

    aio_loop_set_debug(loop, true);
    assert_null(aio_loop_call_later(loop, NULL));
    assert_raised(aio_TypeError, "a callable object was expected by call_at(), got None");
    assert_null(aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = 1}));
    assert_raised(aio_TypeError, "a callable object was expected by call_at(), got None");
    assert_null(aio_loop_call_at(loop, NULL));
    assert_raised(aio_TypeError, "a callable object was expected by call_at(), got None");
    assert_null(aio_loop_call_at(loop, &(aio_loop_call_at_args){.when = 1}));
    assert_raised(aio_TypeError, "a callable object was expected by call_at(), got None");
    /* None for delay/when is checked first, even in debug mode. */
    assert_null(aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = AIO_NONE}));
    assert_raised(aio_TypeError, "delay must not be None");
    assert_null(aio_loop_call_at(loop, &(aio_loop_call_at_args){.when = AIO_NONE}));
    assert_raised(aio_TypeError, "when cannot be None");
    finish(loop);
}

/* --- equal deadlines: heapq order, not FIFO ------------------------------------------ */

static const char *const NUM[] = {
    "0",  "1",  "2",  "3",  "4",  "5",  "6",  "7",  "8",  "9",  "10", "11", "12", "13", "14",
    "15", "16", "17", "18", "19", "20", "21", "22", "23", "24", "25", "26", "27", "28", "29",
    "30", "31", "32", "33", "34", "35", "36", "37", "38", "39", "40", "41", "42", "43", "44",
    "45", "46", "47", "48", "49", "50", "51", "52", "53", "54", "55", "56", "57", "58", "59",
    "60", "61", "62", "63", "64", "65", "66", "67", "68", "69", "70", "71", "72", "73", "74",
    "75", "76", "77", "78", "79", "80", "81", "82", "83", "84", "85", "86", "87", "88", "89",
    "90", "91", "92", "93", "94", "95", "96", "97", "98", "99", "100", "101", "102"};

/* The trace "a b c " made from a list of numbers. */
static void expect_order(const int *order, size_t n)
{
    trace want = {{0}};
    for (size_t i = 0; i < n; i++)
        trace_add(&want, "%d ", order[i]);
    assert_string_equal(T.text, want.text);
}

/* Twelve timers due at the same moment, alone in the heap. CPython 3.11:
 * [0, 2, 6, 11, 10, 9, 8, 5, 7, 4, 1, 3]. */
static void test_equal_deadlines_heap_order(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop_nodebug(&T);
    double t = aio_loop_time(loop);
    for (int i = 0; i < 12; i++)
        at(loop, t, tm_rec, (void *)NUM[i]);
    assert_non_null(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tm_stop,
                                                                        .args = loop}));
    run(loop);
    trace_add(&T, "| ");
    static const int order[] = {0, 2, 6, 11, 10, 9, 8, 5, 7, 4, 1, 3};
    char want[128] = "stop ";
    for (size_t i = 0; i < 12; i++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%d ", order[i]);
    strcat(want, "| ");
    assert_string_equal(T.text, want);
    finish(loop);
}

/* The same with a later timer (the stop) in the heap. CPython 3.11 and
 * ASYNCIO-SEMANTICS.md: 0,2,6,5,11,10,9,8,7,1,3,4. */
static void test_equal_deadlines_heap_order_with_later_timer(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop_nodebug(&T);
    double t = aio_loop_time(loop) + 0.01;
    for (int i = 0; i < 12; i++)
        at(loop, t, tm_rec, (void *)NUM[i]);
    at(loop, t + 0.01, tm_stop, loop);
    run(loop);
    assert_string_equal(T.text, "0 2 6 5 11 10 9 8 7 1 3 4 stop ");
    finish(loop);
}

/* --- cancelling timers ------------------------------------------------------------------ */

static aio_timer_handle *victim;

static void tm_cancel_victim(void *arg)
{
    trace_add(&T, "%s ", (const char *)arg);
    assert_int_equal(aio_handle_cancel(victim), 0);
}
AIO_NAME_CALLBACK(tm_cancel_victim);

/* A timer already moved to the ready queue (due in this iteration) and
 * cancelled by an earlier callback of the batch does not run. */
static void test_cancel_due_timer(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop_nodebug(&T);
    double t = aio_loop_time(loop);
    at(loop, t, tm_cancel_victim, "first");   /* heap order: first, then second */
    victim = at(loop, t, tm_rec, "second");
    aio_incref(victim);
    aio_loop_stop(loop);
    run(loop);
    assert_string_equal(T.text, "first ");
    assert_int_equal(aio_handle_cancelled(victim), 1);
    aio_decref(victim);
    victim = NULL;

    /* Cancelled before the loop runs: never runs, and later timers do. */
    aio_timer_handle *h = later(loop, AIO_ZERO, tm_rec, "cancelled");
    later(loop, 0.01, tm_rec, "kept");
    later(loop, 0.02, tm_stop, loop);
    assert_int_equal(aio_handle_cancel(h), 0);
    run(loop);
    assert_string_equal(T.text, "first kept stop ");
    finish(loop);
}

/* Schedules n timers due now, cancels the listed ones (each `times` times),
 * runs one iteration and checks the order the survivors fired in. */
static void purge_scenario(aio_loop *loop, int n, const int *cancel, size_t ncancel, int times,
                           const int *order, size_t norder)
{
    memset(&T, 0, sizeof T);
    aio_timer_handle *h[103];
    double t = aio_loop_time(loop);
    for (int i = 0; i < n; i++)
        h[i] = at(loop, t, tm_rec, (void *)NUM[i]);
    for (int k = 0; k < times; k++)
        for (size_t i = 0; i < ncancel; i++)
            assert_int_equal(aio_handle_cancel(h[cancel[i]]), 0);
    aio_loop_stop(loop);
    run(loop);
    expect_order(order, norder);
}

static int evens[51], odds[50];

static void fill_even_odd(void)
{
    for (int i = 0; i < 51; i++)
        evens[i] = 2 * i; /* 0..100 */
    for (int i = 0; i < 50; i++)
        odds[i] = 2 * i + 1; /* 1..99 */
}

/* 101 timers, 50 odd ones cancelled (not over half): only the head is
 * popped, the survivors fire in heappop order. */
static const int HEAD_101_50[] = {
    0,  2,  6,  14, 30, 62, 100, 98, 96, 94, 92, 90, 88, 86, 84, 82, 80,
    78, 76, 74, 72, 70, 68, 66,  64, 60, 58, 56, 54, 52, 50, 48, 46, 44,
    42, 40, 38, 36, 34, 32, 28,  26, 24, 22, 20, 18, 16, 12, 10, 8,  4};

/* 101 timers, 51 cancelled (> 100 timers, > 50%): the heap is rebuilt from
 * the survivors, which then fire in heapify order. */
static const int REBUILT_101_51[] = {
    61, 29, 13, 5,  1,  23, 47, 95, 3,  91, 43, 87, 19, 83, 39, 79, 7,
    75, 35, 71, 15, 67, 31, 59, 63, 27, 55, 11, 51, 49, 97, 9,  89, 41,
    81, 17, 73, 33, 57, 65, 25, 99, 21, 85, 37, 53, 69, 45, 93, 77};

static void test_purge_rebuild_over_100_timers(void **state)
{
    (void)state;
    fill_even_odd();
    aio_loop *loop = new_traced_loop_nodebug(&T);
    purge_scenario(loop, 101, evens, 51, 1, REBUILT_101_51,
                   sizeof REBUILT_101_51 / sizeof(int));
    /* The rebuild reset the count: 50 of 101 next time do not rebuild. */
    purge_scenario(loop, 101, odds, 50, 1, HEAD_101_50, sizeof HEAD_101_50 / sizeof(int));
    finish(loop);
}

/* Cancelled timers popped off the head are uncounted: 60 cancelled far
 * timers leave the count at 0 (CPython: 60, then 0), so 50 of 101 later do
 * not rebuild. */
static void test_purge_head_pops_uncount(void **state)
{
    (void)state;
    fill_even_odd();
    aio_loop *loop = new_traced_loop_nodebug(&T);
    double t = aio_loop_time(loop);
    for (int i = 0; i < 60; i++)
        assert_int_equal(aio_handle_cancel(at(loop, t + 100.0, tm_rec, "far")), 0);
    aio_loop_stop(loop);
    run(loop);
    assert_string_equal(T.text, "");
    purge_scenario(loop, 101, odds, 50, 1, HEAD_101_50, sizeof HEAD_101_50 / sizeof(int));
    finish(loop);
}

static void test_purge_head_only_at_half(void **state)
{
    (void)state;
    fill_even_odd();
    aio_loop *loop = new_traced_loop_nodebug(&T);
    purge_scenario(loop, 101, odds, 50, 1, HEAD_101_50, sizeof HEAD_101_50 / sizeof(int));
    finish(loop);

    /* 102 timers, 51 cancelled: exactly half is not more than half. */
    static const int head_102_51[] = {
        101, 99, 97, 95, 93, 91, 89, 87, 85, 83, 81, 79, 77, 75, 73, 71, 69,
        67,  65, 61, 63, 59, 57, 55, 53, 51, 49, 47, 45, 43, 41, 39, 37, 35,
        33,  29, 31, 27, 25, 23, 21, 19, 17, 13, 15, 11, 9,  5,  7,  1,  3};
    loop = new_traced_loop_nodebug(&T);
    purge_scenario(loop, 102, evens, 51, 1, head_102_51, sizeof head_102_51 / sizeof(int));
    finish(loop);
}

/* 100 timers with 60 cancelled: more than half, but not more than 100
 * timers, so only head pops (a rebuild would give
 * 81, 49, 33, 25, 21, ...). */
static void test_purge_head_only_up_to_100_timers(void **state)
{
    (void)state;
    int cancel[60];
    for (int i = 0; i < 50; i++)
        cancel[i] = 2 * i;
    for (int i = 0; i < 10; i++)
        cancel[50 + i] = 2 * i + 1;
    static const int order[] = {99, 97, 95, 93, 91, 89, 87, 85, 83, 81, 79, 77, 75, 73,
                                71, 69, 67, 65, 61, 63, 59, 57, 55, 53, 51, 49, 47, 45,
                                43, 41, 39, 37, 35, 33, 29, 31, 27, 25, 23, 21};
    aio_loop *loop = new_traced_loop_nodebug(&T);
    purge_scenario(loop, 100, cancel, 60, 1, order, sizeof order / sizeof(int));
    finish(loop);
}

/* Cancelling a timer twice counts once: 50 of 101, no rebuild. */
static void test_purge_double_cancel_counts_once(void **state)
{
    (void)state;
    fill_even_odd();
    aio_loop *loop = new_traced_loop_nodebug(&T);
    purge_scenario(loop, 101, odds, 50, 2, HEAD_101_50, sizeof HEAD_101_50 / sizeof(int));
    finish(loop);
}

/* CPython's count of cancelled timers is not decremented for a cancelled
 * timer popped as due (step 5): after 10 timers with 5 cancelled, 2 stay
 * counted, so a later 101 timers with 50 cancelled counts 52 and rebuilds.
 * CPython: [9, 5, 7, 1, 3] then the rebuilt order below. */
static void test_purge_cancelled_count_carries_over(void **state)
{
    (void)state;
    fill_even_odd();
    aio_loop *loop = new_traced_loop_nodebug(&T);
    static const int first[] = {9, 5, 7, 1, 3};
    purge_scenario(loop, 10, evens, 5, 1, first, 5);
    static const int rebuilt[] = {
        60, 28, 12, 4,  0,  22, 98, 46, 94, 2,  90, 42, 86, 18, 82, 38, 78,
        6,  74, 34, 70, 14, 66, 30, 58, 62, 26, 54, 10, 50, 48, 96, 8,  88,
        40, 80, 16, 72, 32, 56, 64, 24, 100, 20, 84, 36, 52, 68, 44, 92, 76};
    purge_scenario(loop, 101, odds, 50, 1, rebuilt, sizeof rebuilt / sizeof(int));
    finish(loop);
}

/* A rebuild among timers that are not due yet: the loop then waits for
 * the right survivor, and the dropped timers are freed. */
static void test_purge_then_wait_for_next_timer(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop_nodebug(&T);
    aio_timer_handle *far[150];
    for (int i = 0; i < 150; i++)
        far[i] = later(loop, 100.0 + i, tm_rec, "far");
    for (int i = 0; i < 120; i++)
        assert_int_equal(aio_handle_cancel(far[i]), 0);
    later(loop, 0.01, tm_rec, "near");
    later(loop, 0.02, tm_stop, loop);
    double t0 = aio_loop_time(loop);
    run(loop);
    assert_true(aio_loop_time(loop) - t0 < 10.0);
    assert_string_equal(T.text, "near stop ");
    finish(loop);
}

/* --- NaN, infinite and huge deadlines -------------------------------------- */

/* As in CPython 3.11 (the same program printed "nan -huge later"): a NaN
 * deadline at the head of the heap makes the poll timeout 0 (max(0, nan) is
 * 0) and is due at once (`nan >= end_time` is false); the heap, ordered with
 * `<` as heapq orders it, leaves the timers NaN stands above where they are
 * (nan_at and -inf never come up), and an infinite deadline never fires. */
static void test_nonfinite_deadlines(void **state)
{
    (void)state;
    memset(&T, 0, sizeof T);
    aio_loop *loop = new_loop();
    aio_timer_handle *h = later(loop, NAN, tm_rec, "nan");
    aio_loop_call_at(loop, &(aio_loop_call_at_args){.when = NAN, .callback = tm_rec,
                                                    .args = "nan_at"});
    later(loop, INFINITY, tm_rec, "inf");
    later(loop, -INFINITY, tm_rec, "-inf");
    later(loop, 1e308, tm_rec, "huge");
    aio_loop_call_at(loop, &(aio_loop_call_at_args){.when = -1e308, .callback = tm_rec,
                                                    .args = "-huge"});
    later(loop, 0.01, tm_rec, "later");
    later(loop, 0.05, tm_stop, loop);
    assert_true(isnan(aio_timer_handle_when(h)));
    assert_int_equal(aio_loop_run_forever(loop), 0);
    assert_string_equal(T.text, "nan -huge later stop ");
    finish(loop);
}

/* A NaN timer alone does not block the poll (it used to block forever). */
static void test_nan_timer_alone_runs(void **state)
{
    (void)state;
    memset(&T, 0, sizeof T);
    aio_loop *loop = new_loop();
    later(loop, NAN, tm_stop, loop);
    double t0 = monotonic_now();
    assert_int_equal(aio_loop_run_forever(loop), 0);
    assert_true(monotonic_now() - t0 < 5.0);
    assert_string_equal(T.text, "stop ");
    aio_loop_call_at(loop, &(aio_loop_call_at_args){.when = NAN, .callback = tm_stop,
                                                    .args = loop});
    assert_int_equal(aio_loop_run_forever(loop), 0);
    assert_string_equal(T.text, "stop stop ");
    finish(loop);
}

/* --- Timer order at scale against a model of CPython's heapq ---------------------- */

/* The model: base_events._run_once's timer steps over a list managed as
 * Lib/heapq.py manages it, written out here on its own (ids and deadlines;
 * a cancelled flag per id). */
typedef struct model_item {
    double when;
    int id;
} model_item;

typedef struct model {
    model_item *heap;
    size_t len;
    bool *cancelled;
    size_t cancelled_count; /* _timer_cancelled_count */
} model;

static void model_siftdown(model_item *heap, size_t startpos, size_t pos)
{
    model_item newitem = heap[pos];
    while (pos > startpos) {
        size_t parentpos = (pos - 1) >> 1;
        model_item parent = heap[parentpos];
        if (newitem.when < parent.when) {
            heap[pos] = parent;
            pos = parentpos;
            continue;
        }
        break;
    }
    heap[pos] = newitem;
}

static void model_siftup(model_item *heap, size_t endpos, size_t pos)
{
    size_t startpos = pos;
    model_item newitem = heap[pos];
    size_t childpos = 2 * pos + 1;
    while (childpos < endpos) {
        size_t rightpos = childpos + 1;
        if (rightpos < endpos && !(heap[childpos].when < heap[rightpos].when))
            childpos = rightpos;
        heap[pos] = heap[childpos];
        pos = childpos;
        childpos = 2 * pos + 1;
    }
    heap[pos] = newitem;
    model_siftdown(heap, startpos, pos);
}

static void model_push(model *m, double when, int id)
{
    m->heap[m->len] = (model_item){when, id};
    m->len++;
    model_siftdown(m->heap, 0, m->len - 1);
}

static model_item model_pop(model *m)
{
    model_item last = m->heap[--m->len];
    if (m->len == 0)
        return last;
    model_item top = m->heap[0];
    m->heap[0] = last;
    model_siftup(m->heap, m->len, 0);
    return top;
}

/* One iteration's timer steps; appends the ids that run to `ran`. */
static void model_iteration(model *m, double end_time, int *ran, size_t *nran)
{
    if (m->len > 100 && (double)m->cancelled_count / (double)m->len > 0.5) {
        size_t kept = 0;
        for (size_t i = 0; i < m->len; i++) {
            if (!m->cancelled[m->heap[i].id])
                m->heap[kept++] = m->heap[i];
        }
        m->len = kept;
        for (size_t i = kept / 2; i-- > 0;)
            model_siftup(m->heap, kept, i);
        m->cancelled_count = 0;
    } else {
        while (m->len > 0 && m->cancelled[m->heap[0].id]) {
            m->cancelled_count--;
            model_pop(m);
        }
    }
    while (m->len > 0 && !(m->heap[0].when >= end_time)) {
        model_item it = model_pop(m);
        if (!m->cancelled[it.id])
            ran[(*nran)++] = it.id;
    }
}

typedef struct fired_ids {
    int *ids;
    size_t len;
} fired_ids;

static fired_ids g_fired;

static void record_id(void *arg)
{
    g_fired.ids[g_fired.len++] = (int)(intptr_t)arg;
}
AIO_NAME_CALLBACK(record_id);

static uint64_t g_rand = 0x9E3779B97F4A7C15u;

static uint32_t next_rand(void)
{
    g_rand = g_rand * 6364136223846793005u + 1442695040888963407u;
    return (uint32_t)(g_rand >> 33);
}

static void test_timer_order_matches_heapq_model(void **state)
{
    (void)state;
    enum { ROUNDS = 8, PER_ROUND = 1500, TOTAL = ROUNDS * PER_ROUND };
    static const int cancel_percent[ROUNDS] = {10, 60, 30, 85, 5, 55, 0, 95};
    aio_loop *loop = new_loop();
    model m = {.heap = calloc(TOTAL, sizeof(model_item)), .cancelled = calloc(TOTAL, 1)};
    aio_timer_handle **handles = calloc(TOTAL, sizeof *handles);
    int *expected = calloc(TOTAL, sizeof(int));
    g_fired.ids = calloc(TOTAL, sizeof(int));
    g_fired.len = 0;
    size_t nexpected = 0;
    double base = aio_loop_time(loop);
    int next_id = 0;
    for (int round = 0; round < ROUNDS; round++) {
        /* Due timers (in the past, few distinct deadlines: many are equal)
         * and timers that stay (far ahead), interleaved. */
        for (int i = 0; i < PER_ROUND; i++) {
            int id = next_id++;
            bool due = next_rand() % 10 < 7;
            double when = due ? base - 1000.0 + next_rand() % 8 : base + 1000.0 + next_rand() % 8;
            handles[id] = aio_incref(aio_loop_call_at(loop, &(aio_loop_call_at_args){
                .when = when, .callback = record_id, .args = (void *)(intptr_t)id}));
            assert_non_null(handles[id]);
            model_push(&m, when, id);
        }
        /* Cancel a share of what is still in the heap. */
        for (size_t i = 0; i < m.len; i++) {
            int id = m.heap[i].id;
            if (!m.cancelled[id] && (int)(next_rand() % 100) < cancel_percent[round]) {
                m.cancelled[id] = true;
                m.cancelled_count++;
                aio_handle_cancel(handles[id]);
            }
        }
        model_iteration(&m, aio_loop_time(loop), expected, &nexpected);
        aio_loop_stop(loop);
        assert_int_equal(aio_loop_run_forever(loop), 0);
        assert_int_equal(g_fired.len, nexpected);
        for (size_t i = 0; i < nexpected; i++) {
            if (g_fired.ids[i] != expected[i]) {
                fprintf(stderr, "round %d: position %zu: timer %d ran where the model has %d\n",
                        round, i, g_fired.ids[i], expected[i]);
                fail();
            }
        }
    }
    assert_true(nexpected > (size_t)TOTAL / 3);
    for (int id = 0; id < TOTAL; id++) {
        if (handles[id] != NULL) {
            aio_handle_cancel(handles[id]);
            aio_decref(handles[id]);
        }
    }
    free(m.heap);
    free(m.cancelled);
    free(handles);
    free(expected);
    free(g_fired.ids);
    finish(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_timer_order_matches_heapq_model),
    cmocka_unit_test(test_nonfinite_deadlines),
    cmocka_unit_test(test_nan_timer_alone_runs),
    cmocka_unit_test(test_call_later_order),
    cmocka_unit_test(test_call_at_order),
    cmocka_unit_test(test_negative_delay),
    cmocka_unit_test(test_timer_not_early),
    cmocka_unit_test(test_time_is_monotonic),
    cmocka_unit_test(test_when_values),
    cmocka_unit_test(test_none_delay_and_when),
    cmocka_unit_test(test_timers_null_self_and_closed),
    cmocka_unit_test(test_null_args_and_null_callback),
    cmocka_unit_test(test_equal_deadlines_heap_order),
    cmocka_unit_test(test_equal_deadlines_heap_order_with_later_timer),
    cmocka_unit_test(test_cancel_due_timer),
    cmocka_unit_test(test_purge_rebuild_over_100_timers),
    cmocka_unit_test(test_purge_head_only_at_half),
    cmocka_unit_test(test_purge_head_pops_uncount),
    cmocka_unit_test(test_purge_head_only_up_to_100_timers),
    cmocka_unit_test(test_purge_double_cancel_counts_once),
    cmocka_unit_test(test_purge_cancelled_count_carries_over),
    cmocka_unit_test(test_purge_then_wait_for_next_timer),
};

AIO_TEST_MAIN(tests)
