/* test_handles.c - asyncio.Handle and asyncio.TimerHandle: cancel(),
 * cancelled(), when(), their reprs (plain and debug mode's frozen one), and
 * what cancelling does to the loop: a cancelled handle is skipped, a timer
 * counts as cancelled in the heap only while it is scheduled.
 *
 * Expected values come from CPython 3.11 (ASYNCIO-SEMANTICS.md §2); C
 * reprs name the C function and show the pointer argument where Python
 * shows `cb(42) at file.py:3`.
 */
#include <stdio.h>

#include "test_support.h"

/* --- helpers ------------------------------------------------------------- */

static trace T;

static void hd_cb(void *arg)
{
    trace_add(&T, "%s ", arg ? (const char *)arg : "cb");
}
AIO_NAME_CALLBACK(hd_cb);

static void hd_stop(void *loop)
{
    trace_add(&T, "stop ");
    aio_loop_stop(loop);
}
AIO_NAME_CALLBACK(hd_stop);

/* --- repr ------------------------------------------------------------------ */

/* CPython: <Handle cb() at f.py:3>, <Handle cancelled>,
 * <TimerHandle when=5.0 cb() at f.py:3>, <TimerHandle cancelled when=5.0>. */
static void test_handle_and_timer_repr(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop_nodebug(&T);
    aio_handle *h = soon(loop, hd_cb, NULL);
    assert_repr(h, "<Handle hd_cb()>");
    aio_handle *h42 = soon(loop, hd_cb, (void *)(intptr_t)42);
    assert_repr(h42, "<Handle hd_cb(0x2a)>");
    assert_int_equal(aio_handle_cancel(h42), 0);
    assert_repr(h42, "<Handle cancelled>");

    aio_timer_handle *t = at(loop, 5.0, hd_cb, NULL);
    assert_repr(t, "<TimerHandle when=5.0 hd_cb()>");
    assert_int_equal(aio_handle_cancel(t), 0);
    assert_repr(t, "<TimerHandle cancelled when=5.0>");
    assert_true(aio_timer_handle_when(t) == 5.0); /* kept after cancel */

    /* when is shown as repr(float). */
    assert_repr(at(loop, 5.5, hd_cb, NULL), "<TimerHandle when=5.5 hd_cb()>");
    assert_repr(at(loop, 1e10, hd_cb, NULL), "<TimerHandle when=10000000000.0 hd_cb()>");
    assert_repr(at(loop, 1e16, hd_cb, NULL), "<TimerHandle when=1e+16 hd_cb()>");
    assert_repr(at(loop, 0.1 + 0.2, hd_cb, NULL),
                "<TimerHandle when=0.30000000000000004 hd_cb()>");
    assert_repr(at(loop, -3.5, hd_cb, NULL), "<TimerHandle when=-3.5 hd_cb()>");
    assert_repr(at(loop, AIO_ZERO, hd_cb, (void *)(intptr_t)255),
                "<TimerHandle when=0.0 hd_cb(0xff)>");
    finish(loop);
}

/* Debug mode freezes the repr at cancel time, callback included. CPython:
 * <Handle cancelled cb() at f.py:3 created at f.py:7>. */
static void test_debug_repr_frozen_at_cancel(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop_nodebug(&T);
    aio_loop_set_debug(loop, true);
    aio_handle *h = soon(loop, hd_cb, NULL);
    assert_int_equal(aio_handle_cancel(h), 0);
    assert_repr(h, "<Handle cancelled hd_cb()>");
    assert_int_equal(aio_handle_cancel(h), 0); /* a second cancel keeps it */
    assert_repr(h, "<Handle cancelled hd_cb()>");
    aio_timer_handle *t = at(loop, 5.0, hd_cb, (void *)(intptr_t)16);
    assert_int_equal(aio_handle_cancel(t), 0);
    assert_repr(t, "<TimerHandle cancelled when=5.0 hd_cb(0x10)>");
    /* A handle made before debug mode was turned on is not frozen. */
    aio_loop_set_debug(loop, false);
    aio_handle *plain = soon(loop, hd_cb, NULL);
    aio_loop_set_debug(loop, true);
    assert_int_equal(aio_handle_cancel(plain), 0);
    assert_repr(plain, "<Handle cancelled>");
    finish(loop);
}

/* --- cancel and cancelled ------------------------------------------------------ */

static void test_cancel_is_idempotent(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop_nodebug(&T);
    aio_handle *h = soon(loop, hd_cb, "h");
    aio_timer_handle *t = at(loop, AIO_ZERO, hd_cb, "t");
    soon(loop, hd_cb, "kept");
    assert_int_equal(aio_handle_cancelled(h), 0);
    assert_int_equal(aio_handle_cancelled(t), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(aio_handle_cancel(h), 0);
        assert_int_equal(aio_handle_cancel(t), 0);
        assert_int_equal(aio_handle_cancelled(h), 1);
        assert_int_equal(aio_handle_cancelled(t), 1);
    }
    aio_loop_stop(loop);
    run(loop);
    assert_string_equal(T.text, "kept ");
    finish(loop);
}

static char tag_h[] = "h", tag_t[] = "t";

/* After the callback ran, cancel() only marks the handle (CPython:
 * cancelled() becomes True) and has no other effect. */
static void test_cancel_after_run(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop_nodebug(&T);
    aio_handle *h = aio_incref(soon(loop, hd_cb, tag_h));
    aio_timer_handle *t = aio_incref(at(loop, 7.25, hd_cb, tag_t));
    aio_loop_stop(loop);
    run(loop);
    assert_string_equal(T.text, "h t ");
    /* Having run neither cancels a handle nor forgets its callback. */
    char expected[96];
    assert_int_equal(aio_handle_cancelled(h), 0);
    assert_int_equal(aio_handle_cancelled(t), 0);
    snprintf(expected, sizeof expected, "<Handle hd_cb(%p)>", (void *)tag_h);
    assert_repr(h, expected);
    snprintf(expected, sizeof expected, "<TimerHandle when=7.25 hd_cb(%p)>", (void *)tag_t);
    assert_repr(t, expected);

    assert_int_equal(aio_handle_cancel(h), 0);
    assert_int_equal(aio_handle_cancel(t), 0);
    assert_int_equal(aio_handle_cancelled(h), 1);
    assert_int_equal(aio_handle_cancelled(t), 1);
    assert_repr(h, "<Handle cancelled>");
    assert_repr(t, "<TimerHandle cancelled when=7.25>");
    assert_true(aio_timer_handle_when(t) == 7.25);
    check_no_exception();

    /* Nothing runs again. */
    aio_loop_stop(loop);
    run(loop);
    assert_string_equal(T.text, "h t ");
    aio_decref(h);
    aio_decref(t);
    finish(loop);
}

/* A handle kept past close(): close() drops it without cancelling it, and
 * cancelling it afterwards is safe, even once the loop is gone. */
static void test_handle_outlives_loop(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop_nodebug(&T);
    aio_handle *h = aio_incref(soon(loop, hd_cb, NULL));
    aio_timer_handle *t = aio_incref(at(loop, 100.0, hd_cb, NULL));
    assert_int_equal(aio_loop_close(loop), 0);
    assert_int_equal(aio_handle_cancelled(h), 0);
    assert_int_equal(aio_handle_cancelled(t), 0);
    aio_decref(loop);
    assert_int_equal(aio_handle_cancel(h), 0);
    assert_int_equal(aio_handle_cancel(t), 0);
    assert_int_equal(aio_handle_cancelled(t), 1);
    assert_repr(t, "<TimerHandle cancelled when=100.0>");
    assert_true(aio_timer_handle_when(t) == 100.0);
    aio_decref(h);
    aio_decref(t);
    assert_no_leaks();
}

/* A handle cancelled by an earlier callback of the same batch is skipped.
 * CPython: ['a', 'c']. */
static aio_handle *victim;

static void hd_cancel_victim(void *arg)
{
    trace_add(&T, "%s ", (const char *)arg);
    assert_int_equal(aio_handle_cancel(victim), 0);
}
AIO_NAME_CALLBACK(hd_cancel_victim);

static void test_cancel_from_earlier_callback(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop_nodebug(&T);
    soon(loop, hd_cancel_victim, "a");
    victim = soon(loop, hd_cb, "b");
    soon(loop, hd_cb, "c");
    soon(loop, hd_stop, loop);
    run(loop);
    assert_string_equal(T.text, "a c stop ");
    victim = NULL;
    finish(loop);
}

/* A timer cancelling itself while it runs. CPython: [False, True]. */
static aio_timer_handle *self_timer;

static void hd_cancel_self(void *arg)
{
    (void)arg;
    trace_add(&T, "%d ", aio_handle_cancelled(self_timer));
    assert_int_equal(aio_handle_cancel(self_timer), 0);
    trace_add(&T, "%d ", aio_handle_cancelled(self_timer));
}
AIO_NAME_CALLBACK(hd_cancel_self);

static void test_timer_cancels_itself(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop_nodebug(&T);
    self_timer = aio_incref(at(loop, AIO_ZERO, hd_cancel_self, NULL));
    aio_loop_stop(loop);
    run(loop);
    assert_string_equal(T.text, "0 1 ");
    aio_decref(self_timer);
    self_timer = NULL;
    finish(loop);
}

/* --- what a cancel counts -------------------------------------------------------- */

static const char *const NUM[] = {
    "0",  "1",  "2",  "3",  "4",  "5",  "6",  "7",  "8",  "9",  "10", "11", "12", "13", "14",
    "15", "16", "17", "18", "19", "20", "21", "22", "23", "24", "25", "26", "27", "28", "29",
    "30", "31", "32", "33", "34", "35", "36", "37", "38", "39", "40", "41", "42", "43", "44",
    "45", "46", "47", "48", "49", "50", "51", "52", "53", "54", "55", "56", "57", "58", "59",
    "60", "61", "62", "63", "64", "65", "66", "67", "68", "69", "70", "71", "72", "73", "74",
    "75", "76", "77", "78", "79", "80", "81", "82", "83", "84", "85", "86", "87", "88", "89",
    "90", "91", "92", "93", "94", "95", "96", "97", "98", "99", "100"};

/* 101 timers due now with the 50 odd ones cancelled fire in heappop order
 * (no rebuild); one more counted cancel (51 > half) would rebuild the heap
 * and fire them in another order. */
static const int HEAD_101_50[] = {
    0,  2,  6,  14, 30, 62, 100, 98, 96, 94, 92, 90, 88, 86, 84, 82, 80,
    78, 76, 74, 72, 70, 68, 66,  64, 60, 58, 56, 54, 52, 50, 48, 46, 44,
    42, 40, 38, 36, 34, 32, 28,  26, 24, 22, 20, 18, 16, 12, 10, 8,  4};

static void run_101_with_50_cancelled(aio_loop *loop)
{
    memset(&T, 0, sizeof T);
    aio_timer_handle *h[101];
    double t = aio_loop_time(loop);
    for (int i = 0; i < 101; i++)
        h[i] = at(loop, t, hd_cb, (void *)NUM[i]);
    for (int i = 1; i < 101; i += 2)
        assert_int_equal(aio_handle_cancel(h[i]), 0);
    aio_loop_stop(loop);
    run(loop);
    trace want = {{0}};
    for (size_t i = 0; i < sizeof HEAD_101_50 / sizeof(int); i++)
        trace_add(&want, "%d ", HEAD_101_50[i]);
    assert_string_equal(T.text, want.text);
}

/* Cancelling timers that are no longer in the heap (already run, running,
 * or dropped as cancelled) counts nothing: CPython's
 * _timer_cancelled_count stays 0, so 50 of 101 do not trigger a rebuild. */
static void test_cancel_of_unscheduled_timer_not_counted(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop_nodebug(&T);
    aio_timer_handle *ran = aio_incref(at(loop, AIO_ZERO, hd_cb, "ran"));
    self_timer = aio_incref(at(loop, AIO_ZERO, hd_cancel_self, NULL));
    aio_loop_stop(loop);
    run(loop);
    assert_string_equal(T.text, "ran 0 1 ");
    assert_int_equal(aio_handle_cancel(ran), 0);
    assert_int_equal(aio_handle_cancel(ran), 0);
    run_101_with_50_cancelled(loop);
    aio_decref(ran);
    aio_decref(self_timer);
    self_timer = NULL;
    finish(loop);
}

/* A plain Handle cancelled never counts either. */
static void test_cancel_of_plain_handle_not_counted(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop_nodebug(&T);
    for (int i = 0; i < 5; i++)
        assert_int_equal(aio_handle_cancel(soon(loop, hd_cb, NULL)), 0);
    run_101_with_50_cancelled(loop);
    finish(loop);
}

/* --- bad arguments ------------------------------------------------------------------ */

static void test_handle_null_self(void **state)
{
    (void)state;
    assert_int_equal(aio_handle_cancel(NULL), -1);
    assert_raised(aio_TypeError,
                  "descriptor 'cancel' for 'Handle' objects doesn't apply to a 'NoneType' object");
    assert_int_equal(aio_handle_cancelled(NULL), -1);
    assert_raised(aio_TypeError, "descriptor 'cancelled' for 'Handle' objects doesn't apply to "
                                 "a 'NoneType' object");
    assert_true(aio_timer_handle_when(NULL) == -1.0);
    assert_raised(aio_TypeError, "descriptor 'when' for 'TimerHandle' objects doesn't apply to "
                                 "a 'NoneType' object");
    assert_no_leaks();
}

/* when() of a plain Handle: the C API's TimerHandle.when(handle) refuses a
 * Handle (CPython's Python class has no when() on Handle at all). */
static void test_when_of_plain_handle(void **state)
{
    (void)state;
    aio_loop *loop = new_traced_loop_nodebug(&T);
    aio_handle *h = soon(loop, hd_cb, NULL);
    assert_true(aio_timer_handle_when(h) == -1.0);
    assert_raised(aio_TypeError, "descriptor 'when' for 'TimerHandle' objects doesn't apply to "
                                 "a 'Handle' object");
    assert_int_equal(aio_handle_cancel(h), 0);
    assert_true(aio_timer_handle_when(h) == -1.0);
    assert_raised(aio_TypeError, "descriptor 'when' for 'TimerHandle' objects doesn't apply to "
                                 "a 'Handle' object");
    finish(loop);
}

/* --- a borrowed handle used after its callback ran -------------------------- */

#define FREED_TAIL ", which was freed once its callback ran or was dropped: keep a " \
                   "reference (aio_incref()) to use a handle after that"

/* The handle of a callback that ran is refused, named, and nothing changes
 * (in Python, cancel() after the fact is a harmless no-op on an object the
 * caller still holds; in C the caller holds a borrowed pointer that is no
 * longer valid). */
static void test_handle_used_after_it_ran(void **state)
{
    (void)state;
    memset(&T, 0, sizeof T);
    aio_loop *loop = new_traced_loop_nodebug(&T);
    aio_handle *h = soon(loop, hd_cb, "ran");
    run_one_iteration(loop);
    assert_string_equal(T.text, "ran ");
    char expected[512];
    assert_int_equal(aio_handle_cancel(h), -1);
    snprintf(expected, sizeof expected, "Handle.cancel() called on <freed Handle hd_cb(%p)>"
             FREED_TAIL, (void *)"ran");
    assert_raised(aio_RuntimeError, expected);
    assert_int_equal(aio_handle_cancelled(h), -1);
    snprintf(expected, sizeof expected, "Handle.cancelled() called on <freed Handle hd_cb(%p)>"
             FREED_TAIL, (void *)"ran");
    assert_raised(aio_RuntimeError, expected);
    /* aio_incref() refuses it too; aio_decref() logs and ignores it. */
    assert_null(aio_incref(h));
    assert_raised(aio_RuntimeError, NULL);
    aio_decref(h);
    check_no_exception();
    finish(loop);
}

/* In debug mode a freed handle is kept aside (a quarantine) before the
 * pool reuses it: a stale use long after is still caught, not applied to
 * another callback's handle. */
static void test_stale_handle_caught_in_debug_mode(void **state)
{
    (void)state;
    memset(&T, 0, sizeof T);
    aio_loop *loop = new_traced_loop(&T);
    aio_loop_set_debug(loop, true);
    aio_timer_handle *stale = aio_loop_call_later(
        loop, &(aio_loop_call_later_args){.delay = 0.0, .callback = hd_cb, .args = "timer"});
    assert_non_null(stale);
    run_one_iteration(loop);
    /* Many handles later... */
    aio_handle *fresh[100];
    for (int i = 0; i < 100; i++)
        fresh[i] = soon(loop, hd_cb, "fresh");
    assert_true(aio_timer_handle_when(stale) == -1.0);
    char expected[512];
    snprintf(expected, sizeof expected,
             "TimerHandle.when() called on <freed TimerHandle hd_cb(%p)>" FREED_TAIL,
             (void *)"timer");
    assert_raised(aio_RuntimeError, expected);
    assert_int_equal(aio_handle_cancel(stale), -1);
    assert_raised(aio_RuntimeError, NULL);
    for (int i = 0; i < 100; i++)
        assert_int_equal(aio_handle_cancelled(fresh[i]), 0); /* none was touched */
    memset(&T, 0, sizeof T);
    run_one_iteration(loop);
    assert_true(strncmp(T.text, "fresh fresh ", 12) == 0);
    finish(loop);
}

/* A reference keeps a handle usable after its callback ran, as in Python. */
static void test_handle_reference_outlives_run(void **state)
{
    (void)state;
    memset(&T, 0, sizeof T);
    aio_loop *loop = new_traced_loop_nodebug(&T);
    aio_handle *h = aio_incref(soon(loop, hd_cb, NULL));
    run_one_iteration(loop);
    assert_int_equal(aio_handle_cancel(h), 0);
    assert_int_equal(aio_handle_cancelled(h), 1);
    aio_decref(h);
    finish(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_handle_used_after_it_ran),
    cmocka_unit_test(test_stale_handle_caught_in_debug_mode),
    cmocka_unit_test(test_handle_reference_outlives_run),
    cmocka_unit_test(test_handle_and_timer_repr),
    cmocka_unit_test(test_debug_repr_frozen_at_cancel),
    cmocka_unit_test(test_cancel_is_idempotent),
    cmocka_unit_test(test_cancel_after_run),
    cmocka_unit_test(test_handle_outlives_loop),
    cmocka_unit_test(test_cancel_from_earlier_callback),
    cmocka_unit_test(test_timer_cancels_itself),
    cmocka_unit_test(test_cancel_of_unscheduled_timer_not_counted),
    cmocka_unit_test(test_cancel_of_plain_handle_not_counted),
    cmocka_unit_test(test_handle_null_self),
    cmocka_unit_test(test_when_of_plain_handle),
};

AIO_TEST_MAIN(tests)
