/* test_timeouts.c - asyncio.Timeout as an object (timeouts.py, 3.11): its
 * whole life (created, active, expiring, expired, finished), the misuse
 * messages, when()/expired()/reschedule() and the repr after the exit, and
 * reference counting (the exit does not free it; dropping it while open
 * disarms it).
 *
 * Expected states and messages were read from CPython 3.11.7.
 */
#include <math.h>

#include "test_support.h"

#include "loop.h"

static void assert_repr_prefix(const void *obj, const char *prefix)
{
    char *r = aio_repr(obj);
    assert_non_null(r);
    if (strncmp(r, prefix, strlen(prefix)) != 0) {
        fprintf(stderr, "repr %s does not start with %s\n", r, prefix);
        free(r);
        fail();
    }
    free(r);
}

/* --- the life of one Timeout ---------------------------------------------------- */

static void *life_coro(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    aio_timeout *t = aio_timeout_after(10);
    assert_non_null(t);
    assert_repr(t, "<Timeout [created]>");
    assert_int_equal(aio_timeout_expired(t), 0);
    assert_true(aio_timeout_when(t) > aio_loop_time(loop));
    /* reschedule() before the enter */
    assert_int_equal(aio_timeout_reschedule(t, 5), -1);
    assert_raised(aio_RuntimeError, "Timeout has not been entered");
    /* exit before the enter (asyncio asserts; C says why) */
    assert_int_equal(aio_timeout_exit(t), -1);
    assert_raised(aio_RuntimeError, "Timeout has not been entered");

    assert_int_equal(aio_timeout_enter(t), 0);
    assert_repr_prefix(t, "<Timeout [active] when=");
    /* entered once only, even while open */
    assert_int_equal(aio_timeout_enter(t), -1);
    assert_raised(aio_RuntimeError, "Timeout has already been entered");
    assert_int_equal(aio_sleep(0), 0);
    assert_int_equal(aio_timeout_exit(t), 0);

    /* after the exit: it still answers */
    assert_repr(t, "<Timeout [finished]>");
    assert_int_equal(aio_timeout_expired(t), 0);
    assert_true(aio_timeout_when(t) > aio_loop_time(loop));
    assert_int_equal(aio_timeout_reschedule(t, 5), -1);
    assert_raised(aio_RuntimeError, "Cannot change state of finished Timeout");
    assert_int_equal(aio_timeout_enter(t), -1);
    assert_raised(aio_RuntimeError, "Timeout has already been entered");
    assert_int_equal(aio_timeout_exit(t), -1);
    assert_raised(aio_RuntimeError, "Timeout has already been exited");
    aio_decref(t);
    return P(1);
}
AIO_NAME_CALLBACK(life_coro);

static void test_life_finished(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_ptr_equal(run_coro(loop, life_coro, NULL), P(1));
    finish(loop);
}

static void *expired_coro(void *arg)
{
    (void)arg;
    aio_timeout *t = aio_timeout_after(0);
    assert_non_null(t);
    assert_int_equal(aio_timeout_enter(t), 0);
    assert_repr_prefix(t, "<Timeout [active] when=");
    assert_int_equal(aio_sleep(0), -1); /* the call_soon() fired */
    assert_repr(t, "<Timeout [expiring]>");
    assert_int_equal(aio_timeout_expired(t), 1);
    aio_exc *cancelled = aio_err_fetch();
    assert_int_equal(aio_timeout_reschedule(t, 5), -1);
    assert_raised(aio_RuntimeError, "Cannot change state of expiring Timeout");
    aio_err_restore(cancelled);
    assert_int_equal(aio_timeout_exit(t), -1);
    assert_raised(aio_TimeoutError, NULL);
    assert_repr(t, "<Timeout [expired]>");
    assert_int_equal(aio_timeout_expired(t), 1);
    assert_int_equal(aio_timeout_reschedule(t, 5), -1);
    assert_raised(aio_RuntimeError, "Cannot change state of expired Timeout");
    assert_int_equal(aio_timeout_enter(t), -1);
    assert_raised(aio_RuntimeError, "Timeout has already been entered");
    assert_int_equal(aio_task_cancelling(aio_current_task(NULL)), 0);
    aio_decref(t);
    return P(1);
}
AIO_NAME_CALLBACK(expired_coro);

static void test_life_expired(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_ptr_equal(run_coro(loop, expired_coro, NULL), P(1));
    finish(loop);
}

/* --- repr ------------------------------------------------------------------------ */

static void *repr_coro(void *arg)
{
    (void)arg;
    aio_timeout *t = aio_timeout_at(AIO_FOREVER);
    assert_non_null(t);
    assert_repr(t, "<Timeout [created]>");
    assert_int_equal(aio_timeout_enter(t), 0);
    assert_repr(t, "<Timeout [active] when=None>");
    /* round(when, 3) */
    assert_int_equal(aio_timeout_reschedule(t, 1e9 + 0.12345), 0);
    assert_repr(t, "<Timeout [active] when=1000000000.123>");
    assert_int_equal(aio_timeout_reschedule(t, 2e9 + 0.5), 0);
    assert_repr(t, "<Timeout [active] when=2000000000.5>");
    assert_int_equal(aio_timeout_reschedule(t, 3e9), 0);
    assert_repr(t, "<Timeout [active] when=3000000000.0>");
    assert_int_equal(aio_timeout_reschedule(t, AIO_FOREVER), 0);
    assert_true(isinf(aio_timeout_when(t)));
    assert_int_equal(aio_timeout_exit(t), 0);
    assert_repr(t, "<Timeout [finished]>");
    aio_decref(t);
    return P(1);
}
AIO_NAME_CALLBACK(repr_coro);

static void test_repr(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_ptr_equal(run_coro(loop, repr_coro, NULL), P(1));
    finish(loop);
}

/* --- where it may be made and entered ----------------------------------------------- */

static void outside_cb(void *arg)
{
    int *ran = arg;
    /* a loop runs, no task: made, but not entered */
    aio_timeout *t = aio_timeout_after(1);
    assert_non_null(t);
    assert_int_equal(aio_timeout_enter(t), -1);
    assert_raised(aio_RuntimeError, "Timeout should be used inside a task");
    assert_repr(t, "<Timeout [created]>");
    aio_decref(t);
    (*ran)++;
}
AIO_NAME_CALLBACK(outside_cb);

static void test_outside_a_task(void **state)
{
    (void)state;
    /* timeout() needs a running loop; timeout_at() does not */
    assert_null(aio_timeout_after(1));
    assert_raised(aio_RuntimeError, "no running event loop");
    aio_timeout *t = aio_timeout_at(5);
    assert_non_null(t);
    assert_repr(t, "<Timeout [created]>");
    assert_true(aio_timeout_when(t) == 5);
    assert_int_equal(aio_timeout_enter(t), -1);
    assert_raised(aio_RuntimeError, "no running event loop");
    aio_decref(t);

    aio_loop *loop = new_loop();
    int ran = 0;
    soon(loop, outside_cb, &ran);
    run_one_iteration(loop);
    assert_int_equal(ran, 1);
    finish(loop);
}

static void test_null_self(void **state)
{
    (void)state;
    assert_int_equal(aio_timeout_enter(NULL), -1);
    assert_raised(aio_TypeError,
                  "descriptor '__aenter__' for 'Timeout' objects doesn't apply to a 'NoneType' object");
    assert_int_equal(aio_timeout_reschedule(NULL, 1), -1);
    assert_raised(aio_TypeError,
                  "descriptor 'reschedule' for 'Timeout' objects doesn't apply to a 'NoneType' object");
    assert_true(aio_timeout_when(NULL) == -1.0);
    assert_raised(aio_TypeError, NULL);
    assert_int_equal(aio_timeout_expired(NULL), -1);
    assert_raised(aio_TypeError, NULL);
    /* exit(NULL): what made it NULL is left set */
    aio_err_set(aio_MemoryError, NULL);
    assert_int_equal(aio_timeout_exit(NULL), -1);
    assert_raised(aio_MemoryError, NULL);
    assert_no_leaks();
}

/* --- reference counting ------------------------------------------------------------- */

static void *dropped_coro(void *arg)
{
    (void)arg;
    aio_timeout *t = aio_timeout_after(0.001);
    assert_non_null(t);
    assert_int_equal(aio_timeout_enter(t), 0);
    /* dropped while open: it can no longer fire into the task */
    aio_decref(t);
    assert_int_equal(aio_sleep(0.02), 0);
    assert_int_equal(aio_task_cancelling(aio_current_task(NULL)), 0);

    /* the exit does not free it: a reference taken stays good after */
    t = aio_timeout_after(10);
    assert_int_equal(aio_timeout_enter(t), 0);
    aio_timeout *again = aio_incref(t);
    assert_int_equal(aio_timeout_exit(t), 0);
    aio_decref(t);
    assert_repr(again, "<Timeout [finished]>");
    aio_decref(again);
    return P(1);
}
AIO_NAME_CALLBACK(dropped_coro);

static void test_refcount(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_ptr_equal(run_coro(loop, dropped_coro, NULL), P(1));
    finish(loop);
}

/* Many scopes, each entered and left, then all read after: 10^4 objects
 * that outlive their scopes. */
#define MANY 10000

static void *many_coro(void *arg)
{
    aio_timeout **ts = arg;
    for (int i = 0; i < MANY; i++) {
        ts[i] = aio_timeout_after(i % 2 ? 0 : 100);
        assert_non_null(ts[i]);
        assert_int_equal(aio_timeout_enter(ts[i]), 0);
        if (i % 2) {
            assert_int_equal(aio_sleep(0), -1);
            assert_int_equal(aio_timeout_exit(ts[i]), -1);
            assert_raised(aio_TimeoutError, NULL);
        } else {
            assert_int_equal(aio_timeout_exit(ts[i]), 0);
        }
    }
    return P(1);
}
AIO_NAME_CALLBACK(many_coro);

static void test_many(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_timeout **ts = calloc(MANY, sizeof *ts);
    assert_non_null(ts);
    assert_ptr_equal(run_coro(loop, many_coro, ts), P(1));
    for (int i = 0; i < MANY; i++) {
        assert_int_equal(aio_timeout_expired(ts[i]), i % 2);
        assert_repr(ts[i], i % 2 ? "<Timeout [expired]>" : "<Timeout [finished]>");
        aio_decref(ts[i]);
    }
    free(ts);
    finish(loop);
}

/* --- out of memory ------------------------------------------------------------------- */

static void *oom_coro(void *arg)
{
    (void)arg;
    aio_timeout *t = aio_timeout_after(10);
    assert_non_null(t);
    aio__fail_alloc_after = 0;
    int rc = aio_timeout_enter(t);
    aio__fail_alloc_after = -1;
    if (rc < 0) {
        /* the handle could not be made: still "created", may be entered */
        assert_raised(aio_MemoryError, NULL);
        assert_repr(t, "<Timeout [created]>");
        assert_int_equal(aio_timeout_enter(t), 0);
    }
    assert_int_equal(aio_timeout_exit(t), 0);
    aio_decref(t);
    aio__fail_alloc_after = 0;
    t = aio_timeout_at(1);
    aio__fail_alloc_after = -1;
    assert_null(t);
    assert_raised(aio_MemoryError, NULL);
    return P(1);
}
AIO_NAME_CALLBACK(oom_coro);

static void test_out_of_memory(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_ptr_equal(run_coro(loop, oom_coro, NULL), P(1));
    finish(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_life_finished),
    cmocka_unit_test(test_life_expired),
    cmocka_unit_test(test_repr),
    cmocka_unit_test(test_outside_a_task),
    cmocka_unit_test(test_null_self),
    cmocka_unit_test(test_refcount),
    cmocka_unit_test(test_many),
    cmocka_unit_test(test_out_of_memory),
};

AIO_TEST_MAIN(tests)
