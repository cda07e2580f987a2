/* asyncio.Event, Condition, Semaphore, BoundedSemaphore and Barrier: set()
 * wakes every waiter, in the order they came; notify(n) wakes n waiters in
 * order, each taking the lock back before wait() returns, and wait() and
 * notify() without the lock raise RuntimeError; wait_for() checks its
 * predicate at each wake-up; a Semaphore hands counts to waiters in order
 * and a waiter cancelled after it got a count passes it on; a
 * BoundedSemaphore refuses to go above its value; a Barrier releases its
 * parties together with indexes in arrival order, and reset() and abort()
 * break the tasks waiting with BrokenBarrierError; the reprs. */
#include <stdint.h>

#include "conformance.h"

static int it;

static void tick(void *arg)
{
    (void)arg;
    it++;
    CHECK(aio_loop_call_soon(aio_get_running_loop(), &(aio_loop_call_soon_args){.callback = tick}));
}

static const char *r(const void *obj)
{
    return repr_no_address(obj);
}

/* "iteration N label: Type: message" for the current exception, cleared. */
static void show(const char *label)
{
    aio_exc *e = aio_err_fetch();
    printf("iteration %d %s: %s\n", it, label, exc_line(e));
    aio_decref(e);
}

static aio_task *spawn(aio_coroutine coro, void *arg)
{
    aio_task *t = aio_loop_create_task(aio_get_running_loop(),
                                       &(aio_loop_create_task_args){.coro = coro, .coro_arg = arg});
    CHECK(t);
    return t;
}

static void gather_all(aio_task **tasks, size_t n, bool return_exceptions)
{
    aio_future *all = aio_gather(tasks, n, &(aio_gather_args){.return_exceptions = return_exceptions});
    CHECK(all);
    CHECK(aio_await(all) != NULL || !aio_err_occurred());
    aio_decref(all);
    for (size_t i = 0; i < n; i++)
        aio_decref(tasks[i]);
}

static aio_event *ev;
static aio_condition *cond;
static aio_semaphore *sem;
static aio_barrier *barrier;

static void *event_waiter(void *arg)
{
    CHECK(aio_event_wait(ev) == 1);
    printf("iteration %d %s saw the event\n", it, (const char *)arg);
    return NULL;
}

static void *cond_waiter(void *arg)
{
    CHECK(aio_condition_acquire(cond) == 1);
    printf("iteration %d %s waits\n", it, (const char *)arg);
    CHECK(aio_condition_wait(cond) == 1);
    printf("iteration %d %s woken, locked: %s\n", it, (const char *)arg,
           py_bool(aio_condition_locked(cond)));
    CHECK(aio_condition_release(cond) == 0);
    return NULL;
}

static void *sem_worker(void *arg)
{
    const char *name = arg;
    printf("iteration %d %s acquires\n", it, name);
    if (aio_semaphore_acquire(sem) < 0) {
        printf("iteration %d %s cancelled; %s\n", it, name, r(sem));
        return NULL;
    }
    printf("iteration %d %s has it; %s\n", it, name, r(sem));
    if (aio_sleep(0) < 0)
        return NULL;
    CHECK(aio_semaphore_release(sem) == 0);
    return NULL;
}

static void *party(void *arg)
{
    const char *name = arg;
    int index = aio_barrier_wait(barrier);
    if (index < 0) {
        char label[64];
        snprintf(label, sizeof label, "%s broken", name);
        CHECK(aio_err_matches(aio_BrokenBarrierError));
        show(label);
        return NULL;
    }
    printf("iteration %d %s passes with index %d\n", it, name, index);
    return (void *)(intptr_t)index;
}

static int n_bumped;

static void *bump(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++) {
        CHECK(aio_sleep(0) == 0);
        CHECK(aio_condition_acquire(cond) == 1);
        n_bumped++;
        CHECK(aio_condition_notify_all(cond) == 0);
        CHECK(aio_condition_release(cond) == 0);
    }
    return NULL;
}

static int at_least_two(void *arg)
{
    (void)arg;
    return n_bumped >= 2;
}

static void *main_coro(void *arg)
{
    (void)arg;
    CHECK(aio_loop_call_soon(aio_get_running_loop(), &(aio_loop_call_soon_args){.callback = tick}));

    /* Event. */
    ev = aio_event_new();
    CHECK(ev);
    printf("event: %s %s\n", r(ev), py_bool(aio_event_is_set(ev)));
    aio_task *ws[5] = {spawn(event_waiter, "e1"), spawn(event_waiter, "e2")};
    CHECK(aio_sleep(0) == 0);
    printf("event waited: %s\n", r(ev));
    CHECK(aio_event_set(ev) == 0);
    printf("event set: %s %s\n", r(ev), py_bool(aio_event_is_set(ev)));
    gather_all(ws, 2, false);
    CHECK(aio_event_clear(ev) == 0);
    printf("cleared: %s no wait\n", py_bool(aio_event_is_set(ev)));

    /* Condition. */
    cond = aio_condition_new(NULL);
    CHECK(cond);
    if (aio_condition_notify(cond, 1) < 0)
        show("notify unlocked");
    if (aio_condition_notify_all(cond) < 0)
        show("notify unlocked");
    if (aio_condition_wait(cond) < 0)
        show("wait unlocked");
    ws[0] = spawn(cond_waiter, "c1");
    ws[1] = spawn(cond_waiter, "c2");
    ws[2] = spawn(cond_waiter, "c3");
    CHECK(aio_sleep(0) == 0);
    printf("condition: %s\n", r(cond));
    CHECK(aio_condition_acquire(cond) == 1);
    CHECK(aio_condition_notify(cond, 2) == 0);
    printf("iteration %d notified 2, still locked: %s\n", it, py_bool(aio_condition_locked(cond)));
    CHECK(aio_sleep(0) == 0);
    CHECK(aio_condition_release(cond) == 0);
    CHECK(aio_sleep(0) == 0);
    CHECK(aio_sleep(0) == 0);
    CHECK(aio_condition_acquire(cond) == 1);
    CHECK(aio_condition_notify_all(cond) == 0);
    CHECK(aio_condition_release(cond) == 0);
    gather_all(ws, 3, false);
    aio_task *b = spawn(bump, NULL);
    CHECK(aio_condition_acquire(cond) == 1);
    int got = aio_condition_wait_for(cond, at_least_two, NULL);
    printf("iteration %d wait_for -> %s n = %d\n", it, py_bool(got), n_bumped);
    CHECK(aio_condition_release(cond) == 0);
    CHECK(aio_await(b) == NULL && !aio_err_occurred());
    aio_decref(b);

    /* Semaphore. */
    if (aio_semaphore_new(-1) == NULL)
        show("Semaphore(-1)");
    sem = aio_semaphore_new(2);
    CHECK(sem);
    printf("semaphore: %s %s\n", r(sem), py_bool(aio_semaphore_locked(sem)));
    const char *names[] = {"s1", "s2", "s3", "s4", "s5"};
    for (int i = 0; i < 5; i++)
        ws[i] = spawn(sem_worker, (void *)names[i]);
    CHECK(aio_sleep(0) == 0);
    printf("semaphore full: %s\n", r(sem));
    aio_task_cancel(ws[2], NULL);
    gather_all(ws, 5, true);
    printf("semaphore after: %s\n", r(sem));
    CHECK(aio_semaphore_acquire(sem) == 1);
    CHECK(aio_semaphore_acquire(sem) == 1);
    ws[0] = spawn(sem_worker, "x");
    ws[1] = spawn(sem_worker, "y");
    CHECK(aio_sleep(0) == 0);
    CHECK(aio_semaphore_release(sem) == 0);
    aio_task_cancel(ws[0], NULL);
    gather_all(ws, 2, true);
    CHECK(aio_semaphore_release(sem) == 0);
    printf("passed on: %s\n", r(sem));
    aio_semaphore *bs = aio_bounded_semaphore_new(1);
    CHECK(bs);
    CHECK(aio_semaphore_acquire(bs) == 1);
    CHECK(aio_semaphore_release(bs) == 0);
    if (aio_semaphore_release(bs) < 0)
        show("bounded release");
    printf("bounded: %s\n", r(bs));
    aio_decref(bs);

    /* Barrier. */
    if (aio_barrier_new(0) == NULL)
        show("Barrier(0)");
    barrier = aio_barrier_new(3);
    CHECK(barrier);
    printf("barrier: %s %d %d %s\n", r(barrier), aio_barrier_parties(barrier),
           aio_barrier_n_waiting(barrier), py_bool(aio_barrier_broken(barrier)));
    const char *bnames[] = {"b1", "b2", "b3", "b4"};
    for (int i = 0; i < 4; i++)
        ws[i] = spawn(party, (void *)bnames[i]);
    CHECK(aio_sleep(0) == 0);
    CHECK(aio_sleep(0) == 0);
    printf("barrier filling: %s %d\n", r(barrier), aio_barrier_n_waiting(barrier));
    for (int i = 0; i < 4; i++)
        CHECK(aio_sleep(0) == 0);
    printf("barrier after a round: %s %d\n", r(barrier), aio_barrier_n_waiting(barrier));
    CHECK(aio_barrier_reset(barrier) == 0);
    printf("reset: %s\n", r(barrier));
    gather_all(ws, 4, false);
    ws[0] = spawn(party, "b5");
    ws[1] = spawn(party, "b6");
    CHECK(aio_sleep(0) == 0);
    CHECK(aio_sleep(0) == 0);
    CHECK(aio_barrier_abort(barrier) == 0);
    gather_all(ws, 2, false);
    printf("aborted: %s %s %d\n", r(barrier), py_bool(aio_barrier_broken(barrier)),
           aio_barrier_n_waiting(barrier));
    CHECK(party("b7") == NULL);
    printf("late: None\n");
    aio_decref(barrier);
    aio_decref(sem);
    aio_decref(cond);
    aio_decref(ev);
    return NULL;
}

int main(void)
{
    aio_run(main_coro, NULL, NULL);
    CHECK(!aio_err_occurred());
    return 0;
}
