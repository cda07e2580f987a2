/* test_sync.c - Lock, Event, Condition, Semaphore, BoundedSemaphore and
 * Barrier: the order of wake-ups, cancellation while waiting, misuse and
 * its messages, loop binding, reprs, and many waiters. */
#include "test_support.h"

typedef struct who {
    const char *name;
    trace *log;
    void *obj;
    int hold;           /* iterations to hold what it acquired */
    int rc;
} who;

static aio_task *spawn(aio_coroutine coro, void *arg)
{
    aio_task *t = aio_loop_create_task(aio_get_running_loop(),
                                       &(aio_loop_create_task_args){.coro = coro, .coro_arg = arg});
    assert_non_null(t);
    return t;
}

static void *run_main(aio_coroutine coro, void *arg)
{
    void *r = aio_run(coro, arg, NULL);
    check_no_exception();
    return r;
}

/* Lets the other tasks run n iterations. */
static void yield_n(int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(aio_sleep(0), 0);
}

/* --- Lock ------------------------------------------------------------------------- */

static void *lock_user(void *arg)
{
    who *w = arg;
    aio_lock *lock = w->obj;
    trace_add(w->log, "%s waits;", w->name);
    w->rc = aio_lock_acquire(lock);
    if (w->rc < 0) {
        trace_add(w->log, "%s cancelled;", w->name);
        return NULL;
    }
    trace_add(w->log, "%s has;", w->name);
    yield_n(w->hold);
    assert_int_equal(aio_lock_release(lock), 0);
    return NULL;
}

static void *lock_fifo_main(void *arg)
{
    trace *t = arg;
    aio_lock *lock = aio_lock_new();
    assert_non_null(lock);
    char repr[128];
    assert_int_equal(aio_lock_release(lock), -1);
    assert_raised(aio_RuntimeError, "Lock is not acquired.");
    assert_int_equal(aio_lock_acquire(lock), 1);
    who w[4] = {{"a", t, lock, 1, 0}, {"b", t, lock, 1, 0}, {"c", t, lock, 0, 0},
                {"d", t, lock, 0, 0}};
    aio_task *tasks[4];
    for (int i = 0; i < 4; i++)
        tasks[i] = spawn(lock_user, &w[i]);
    yield_n(1);
    repr_copy(lock, repr, sizeof repr);
    assert_non_null(strstr(repr, "[locked, waiters:4]>"));
    assert_true(strncmp(repr, "<asyncio.locks.Lock object at 0x", 32) == 0);
    aio_task_cancel(tasks[2], NULL);       /* c leaves the queue */
    assert_int_equal(aio_lock_release(lock), 0);
    aio_future *all = aio_gather(tasks, 4, &(aio_gather_args){.return_exceptions = true});
    assert_non_null(aio_await(all));
    aio_decref(all);
    for (int i = 0; i < 4; i++)
        aio_decref(tasks[i]);
    assert_int_equal(aio_lock_locked(lock), 0);
    aio_decref(lock);
    return NULL;
}

static void test_lock_fifo_and_cancel(void **state)
{
    (void)state;
    trace t = {{0}};
    run_main(lock_fifo_main, &t);
    assert_string_equal(t.text, "a waits;b waits;c waits;d waits;c cancelled;a has;b has;d has;");
    assert_no_leaks();
}

/* A waiter cancelled after release() picked it passes its turn on. */
static void *lock_handoff_main(void *arg)
{
    trace *t = arg;
    aio_lock *lock = aio_lock_new();
    assert_int_equal(aio_lock_acquire(lock), 1);
    who a = {"a", t, lock, 0, 0}, b = {"b", t, lock, 0, 0};
    aio_task *ta = spawn(lock_user, &a), *tb = spawn(lock_user, &b);
    yield_n(1);
    assert_int_equal(aio_lock_release(lock), 0);
    assert_int_equal(aio_task_cancel(ta, NULL), 1);
    aio_task *both[2] = {ta, tb};
    aio_future *all = aio_gather(both, 2, &(aio_gather_args){.return_exceptions = true});
    assert_non_null(aio_await(all));
    aio_decref(all);
    assert_int_equal(a.rc, -1);
    assert_int_equal(b.rc, 1);
    assert_int_equal(aio_lock_locked(lock), 0);
    aio_decref(ta);
    aio_decref(tb);
    aio_decref(lock);
    return NULL;
}

static void test_lock_cancelled_waiter_passes_turn(void **state)
{
    (void)state;
    trace t = {{0}};
    run_main(lock_handoff_main, &t);
    assert_string_equal(t.text, "a waits;b waits;a cancelled;b has;");
    assert_no_leaks();
}

/* 100,000 waiters, every other one cancelled: each leaves the queue at
 * once, and the others get the lock in order. Under AddressSanitizer,
 * where each task gets a stack of its own, 5,000. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifdef SANITIZED
enum { MANY = 5000 };
#else
enum { MANY = 100000 };
#endif

static void *many_user(void *arg)
{
    who *w = arg;
    if (aio_lock_acquire(w->obj) < 0) {
        aio_err_clear();
        w->rc = -1;
        return NULL;
    }
    w->rc = ++*(int *)w->log;
    assert_int_equal(aio_lock_release(w->obj), 0);
    return NULL;
}

static void *lock_many_main(void *arg)
{
    (void)arg;
    aio_lock *lock = aio_lock_new();
    int order = 0;
    who *ws = calloc(MANY, sizeof *ws);
    aio_task **tasks = calloc(MANY, sizeof *tasks);
    assert_int_equal(aio_lock_acquire(lock), 1);
    for (int i = 0; i < MANY; i++) {
        ws[i] = (who){"x", (trace *)(void *)&order, lock, 0, 0};
        tasks[i] = aio_task_new(many_user, &ws[i], &(aio_task_args){.shared_stack = true});
        assert_non_null(tasks[i]);
    }
    yield_n(1);
    for (int i = 0; i < MANY; i += 2)
        aio_task_cancel(tasks[i], NULL);
    yield_n(1);
    assert_int_equal(aio_lock_release(lock), 0);
    aio_future *all = aio_gather(tasks, MANY, &(aio_gather_args){.return_exceptions = true});
    assert_non_null(aio_await(all));
    aio_decref(all);
    for (int i = 0; i < MANY; i++) {
        assert_int_equal(ws[i].rc, i % 2 == 0 ? -1 : i / 2 + 1);
        aio_decref(tasks[i]);
    }
    free(tasks);
    free(ws);
    aio_decref(lock);
    return NULL;
}

static void test_lock_many_waiters(void **state)
{
    (void)state;
    run_main(lock_many_main, NULL);
    assert_no_leaks();
}

/* Waiting on a lock bound to another loop. */
static aio_lock *shared_lock;

static void *bind_first(void *arg)
{
    (void)arg;
    assert_int_equal(aio_lock_acquire(shared_lock), 1);
    who w = {"w", NULL, shared_lock, 0, 0};
    trace t = {{0}};
    w.log = &t;
    aio_task *waiter = spawn(lock_user, &w);
    yield_n(1);                   /* it waits: the lock is bound now */
    assert_int_equal(aio_lock_release(shared_lock), 0);
    assert_null(aio_await(waiter));
    check_no_exception();
    aio_decref(waiter);
    return NULL;
}

static void *bind_second(void *arg)
{
    (void)arg;
    assert_int_equal(aio_lock_acquire(shared_lock), 1); /* free: no wait, no check */
    assert_int_equal(aio_lock_acquire(shared_lock), -1);
    aio_exc *e = aio_err_fetch();
    assert_true(aio_exc_isinstance(e, aio_RuntimeError));
    const char *s = aio_exc_str(e);
    const char *tail = "[locked]> is bound to a different event loop";
    assert_true(strlen(s) > strlen(tail) && strcmp(s + strlen(s) - strlen(tail), tail) == 0);
    aio_decref(e);
    return NULL;
}

static void test_lock_bound_to_a_loop(void **state)
{
    (void)state;
    shared_lock = aio_lock_new();
    run_main(bind_first, NULL);
    run_main(bind_second, NULL);
    aio_decref(shared_lock);
    assert_no_leaks();
}

static void test_outside_a_task(void **state)
{
    (void)state;
    aio_lock *lock = aio_lock_new();
    aio_event *ev = aio_event_new();
    aio_semaphore *sem = aio_semaphore_new(1);
    aio_condition *cond = aio_condition_new(lock);
    aio_barrier *b = aio_barrier_new(1);
    assert_int_equal(aio_lock_acquire(lock), -1);
    assert_raised(aio_RuntimeError, "aio_lock_acquire() must be called from inside a task");
    assert_int_equal(aio_event_wait(ev), -1);
    assert_raised(aio_RuntimeError, "aio_event_wait() must be called from inside a task");
    assert_int_equal(aio_semaphore_acquire(sem), -1);
    assert_raised(aio_RuntimeError, NULL);
    assert_int_equal(aio_condition_wait(cond), -1);
    assert_raised(aio_RuntimeError, NULL);
    assert_int_equal(aio_barrier_wait(b), -1);
    assert_raised(aio_RuntimeError, NULL);
    assert_int_equal(aio_lock_release(NULL), -1);
    assert_raised(aio_TypeError, NULL);
    aio_decref(b);
    aio_decref(cond);
    aio_decref(sem);
    aio_decref(ev);
    aio_decref(lock);
    assert_no_leaks();
}

/* --- Event ------------------------------------------------------------------------- */

static void *event_user(void *arg)
{
    who *w = arg;
    trace_add(w->log, "%s waits;", w->name);
    w->rc = aio_event_wait(w->obj);
    trace_add(w->log, w->rc == 1 ? "%s woke;" : "%s cancelled;", w->name);
    return NULL;
}

static void *event_main(void *arg)
{
    trace *t = arg;
    aio_event *ev = aio_event_new();
    char repr[128];
    repr_copy(ev, repr, sizeof repr);
    assert_true(strncmp(repr, "<asyncio.locks.Event object at 0x", 33) == 0);
    assert_non_null(strstr(repr, "[unset]>"));
    who a = {"a", t, ev, 0, 0}, b = {"b", t, ev, 0, 0}, c = {"c", t, ev, 0, 0};
    aio_task *ts[3] = {spawn(event_user, &a), spawn(event_user, &b), spawn(event_user, &c)};
    yield_n(1);
    aio_task_cancel(ts[1], NULL);
    yield_n(1);
    assert_int_equal(aio_event_set(ev), 0);
    assert_int_equal(aio_event_is_set(ev), 1);
    yield_n(1);
    assert_int_equal(aio_event_wait(ev), 1);   /* set: at once */
    assert_int_equal(aio_event_clear(ev), 0);
    assert_int_equal(aio_event_is_set(ev), 0);
    for (int i = 0; i < 3; i++)
        aio_decref(ts[i]);
    aio_decref(ev);
    return NULL;
}

static void test_event(void **state)
{
    (void)state;
    trace t = {{0}};
    run_main(event_main, &t);
    assert_string_equal(t.text, "a waits;b waits;c waits;b cancelled;a woke;c woke;");
    assert_no_leaks();
}

/* --- Condition --------------------------------------------------------------------- */

static void *cond_user(void *arg)
{
    who *w = arg;
    aio_condition *cond = w->obj;
    assert_int_equal(aio_condition_acquire(cond), 1);
    trace_add(w->log, "%s waits;", w->name);
    w->rc = aio_condition_wait(cond);
    /* The lock is held again, cancelled or not. */
    assert_int_equal(aio_condition_locked(cond), 1);
    trace_add(w->log, w->rc == 1 ? "%s woke;" : "%s cancelled;", w->name);
    if (w->rc < 0)
        assert_raised(aio_CancelledError, NULL);
    assert_int_equal(aio_condition_release(cond), 0);
    return NULL;
}

static void *cond_main(void *arg)
{
    trace *t = arg;
    aio_condition *cond = aio_condition_new(NULL);
    assert_int_equal(aio_condition_notify(cond, 1), -1);
    assert_raised(aio_RuntimeError, "cannot notify on un-acquired lock");
    assert_int_equal(aio_condition_notify_all(cond), -1);
    assert_raised(aio_RuntimeError, "cannot notify on un-acquired lock");
    assert_int_equal(aio_condition_wait(cond), -1);
    assert_raised(aio_RuntimeError, "cannot wait on un-acquired lock");
    assert_int_equal(aio_condition_release(cond), -1);
    assert_raised(aio_RuntimeError, "Lock is not acquired.");
    who w[4] = {{"a", t, cond, 0, 0}, {"b", t, cond, 0, 0}, {"c", t, cond, 0, 0},
                {"d", t, cond, 0, 0}};
    aio_task *ts[4];
    for (int i = 0; i < 4; i++)
        ts[i] = spawn(cond_user, &w[i]);
    yield_n(1);
    /* b is cancelled while the lock is held: it waits to take it back. */
    assert_int_equal(aio_condition_acquire(cond), 1);
    aio_task_cancel(ts[1], NULL);
    assert_int_equal(aio_condition_notify(cond, 2), 0);  /* a, then c (b is done) */
    yield_n(1);
    trace_add(t, "main releases;");
    assert_int_equal(aio_condition_release(cond), 0);
    yield_n(4);
    assert_int_equal(aio_condition_acquire(cond), 1);
    assert_int_equal(aio_condition_notify_all(cond), 0);
    assert_int_equal(aio_condition_release(cond), 0);
    aio_future *all = aio_gather(ts, 4, &(aio_gather_args){.return_exceptions = true});
    assert_non_null(aio_await(all));
    aio_decref(all);
    for (int i = 0; i < 4; i++)
        aio_decref(ts[i]);
    aio_decref(cond);
    return NULL;
}

static void test_condition(void **state)
{
    (void)state;
    trace t = {{0}};
    run_main(cond_main, &t);
    assert_string_equal(t.text, "a waits;b waits;c waits;d waits;main releases;"
                                "b cancelled;a woke;c woke;d woke;");
    assert_no_leaks();
}

static int counter;

static int reached_three(void *arg)
{
    (void)arg;
    return counter >= 3 ? 7 : 0;
}

static int failing_predicate(void *arg)
{
    (void)arg;
    aio_err_set(aio_ValueError, "bad predicate");
    return -1;
}

static void *bumper(void *arg)
{
    aio_condition *cond = arg;
    for (int i = 0; i < 5; i++) {
        yield_n(1);
        assert_int_equal(aio_condition_acquire(cond), 1);
        counter++;
        assert_int_equal(aio_condition_notify(cond, 1), 0);
        assert_int_equal(aio_condition_release(cond), 0);
    }
    return NULL;
}

static void *wait_for_main(void *arg)
{
    (void)arg;
    aio_lock *lock = aio_lock_new();
    aio_condition *cond = aio_condition_new(lock);
    counter = 0;
    aio_task *b = spawn(bumper, cond);
    assert_int_equal(aio_condition_acquire(cond), 1);
    assert_int_equal(aio_lock_locked(lock), 1);   /* the condition's lock is ours */
    assert_int_equal(aio_condition_wait_for(cond, reached_three, NULL), 7);
    assert_int_equal(counter, 3);
    assert_int_equal(aio_condition_wait_for(cond, failing_predicate, NULL), -1);
    assert_raised(aio_ValueError, "bad predicate");
    assert_int_equal(aio_condition_wait_for(cond, NULL, NULL), -1);
    assert_raised(aio_TypeError, NULL);
    assert_int_equal(aio_condition_release(cond), 0);
    assert_null(aio_await(b));
    aio_decref(b);
    aio_decref(cond);
    aio_decref(lock);
    return NULL;
}

static void test_condition_wait_for(void **state)
{
    (void)state;
    run_main(wait_for_main, NULL);
    assert_no_leaks();
}

/* --- Semaphore ------------------------------------------------------------------------ */

static void *sem_user(void *arg)
{
    who *w = arg;
    trace_add(w->log, "%s waits;", w->name);
    w->rc = aio_semaphore_acquire(w->obj);
    if (w->rc < 0) {
        trace_add(w->log, "%s cancelled;", w->name);
        return NULL;
    }
    trace_add(w->log, "%s has;", w->name);
    yield_n(w->hold);
    assert_int_equal(aio_semaphore_release(w->obj), 0);
    return NULL;
}

static void *sem_main(void *arg)
{
    trace *t = arg;
    assert_null(aio_semaphore_new(-1));
    assert_raised(aio_ValueError, "Semaphore initial value must be >= 0");
    aio_semaphore *sem = aio_semaphore_new(0);
    assert_int_equal(aio_semaphore_locked(sem), 1);
    who w[4] = {{"a", t, sem, 1, 0}, {"b", t, sem, 1, 0}, {"c", t, sem, 0, 0},
                {"d", t, sem, 0, 0}};
    aio_task *ts[4];
    for (int i = 0; i < 4; i++)
        ts[i] = spawn(sem_user, &w[i]);
    yield_n(1);
    assert_int_equal(aio_semaphore_release(sem), 0);
    assert_int_equal(aio_semaphore_release(sem), 0);   /* a and b get a count */
    aio_task_cancel(ts[0], NULL);                      /* a's count goes on to c */
    aio_future *all = aio_gather(ts, 4, &(aio_gather_args){.return_exceptions = true});
    assert_non_null(aio_await(all));
    aio_decref(all);
    assert_int_equal(aio_semaphore_locked(sem), 0);
    char repr[128];
    repr_copy(sem, repr, sizeof repr);
    assert_non_null(strstr(repr, "[unlocked, value:2]>"));
    for (int i = 0; i < 4; i++)
        aio_decref(ts[i]);
    aio_decref(sem);

    aio_semaphore *bs = aio_bounded_semaphore_new(2);
    assert_int_equal(aio_semaphore_release(bs), -1);
    assert_raised(aio_ValueError, "BoundedSemaphore released too many times");
    assert_int_equal(aio_semaphore_acquire(bs), 1);
    assert_int_equal(aio_semaphore_release(bs), 0);
    repr_copy(bs, repr, sizeof repr);
    assert_true(strncmp(repr, "<asyncio.locks.BoundedSemaphore object at 0x", 44) == 0);
    aio_decref(bs);
    return NULL;
}

static void test_semaphore(void **state)
{
    (void)state;
    trace t = {{0}};
    run_main(sem_main, &t);
    assert_string_equal(t.text, "a waits;b waits;c waits;d waits;a cancelled;b has;c has;d has;");
    assert_no_leaks();
}

/* --- Barrier ----------------------------------------------------------------------------- */

static void *barrier_user(void *arg)
{
    who *w = arg;
    w->rc = aio_barrier_wait(w->obj);
    if (w->rc < 0 && aio_err_matches(aio_CancelledError))
        return NULL;
    if (w->rc < 0) {
        aio_exc *e = aio_err_fetch();
        trace_add(w->log, "%s %s(%s);", w->name, aio_exc_type_of(e)->name, aio_exc_str(e));
        aio_decref(e);
        return NULL;
    }
    trace_add(w->log, "%s %d;", w->name, w->rc);
    return NULL;
}

static void *barrier_main(void *arg)
{
    trace *t = arg;
    assert_null(aio_barrier_new(0));
    assert_raised(aio_ValueError, "parties must be > 0");
    aio_barrier *b = aio_barrier_new(2);
    assert_int_equal(aio_barrier_parties(b), 2);
    who w[5] = {{"a", t, b, 0, 0}, {"b", t, b, 0, 0}, {"c", t, b, 0, 0}, {"d", t, b, 0, 0},
                {"e", t, b, 0, 0}};
    aio_task *ts[5];
    for (int i = 0; i < 3; i++)
        ts[i] = spawn(barrier_user, &w[i]);
    yield_n(6);
    assert_int_equal(aio_barrier_n_waiting(b), 1);   /* c waits for a partner */
    assert_int_equal(aio_barrier_abort(b), 0);
    assert_int_equal(aio_barrier_broken(b), 1);
    yield_n(3);
    ts[3] = spawn(barrier_user, &w[3]);
    yield_n(3);
    assert_int_equal(aio_barrier_reset(b), 0);
    assert_int_equal(aio_barrier_broken(b), 0);
    ts[4] = spawn(barrier_user, &w[4]);
    yield_n(1);
    char repr[128];
    repr_copy(b, repr, sizeof repr);
    assert_non_null(strstr(repr, "[filling, waiters:1/2]>"));
    aio_task_cancel(ts[4], NULL);
    aio_future *all = aio_gather(ts, 5, &(aio_gather_args){.return_exceptions = true});
    assert_non_null(aio_await(all));
    aio_decref(all);
    assert_int_equal(aio_barrier_n_waiting(b), 0);
    assert_int_equal(aio_future_cancelled(ts[4]), 1);
    for (int i = 0; i < 5; i++)
        aio_decref(ts[i]);
    aio_decref(b);
    return NULL;
}

static void test_barrier(void **state)
{
    (void)state;
    trace t = {{0}};
    run_main(barrier_main, &t);
    assert_string_equal(t.text, "b 1;a 0;c BrokenBarrierError(Abort or reset of barrier);"
                                "d BrokenBarrierError(Barrier aborted);");
    assert_no_leaks();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_lock_fifo_and_cancel),
    cmocka_unit_test(test_lock_cancelled_waiter_passes_turn),
    cmocka_unit_test(test_lock_many_waiters),
    cmocka_unit_test(test_lock_bound_to_a_loop),
    cmocka_unit_test(test_outside_a_task),
    cmocka_unit_test(test_event),
    cmocka_unit_test(test_condition),
    cmocka_unit_test(test_condition_wait_for),
    cmocka_unit_test(test_semaphore),
    cmocka_unit_test(test_barrier),
};

AIO_TEST_MAIN(tests)
