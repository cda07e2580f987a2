/* locks.c - asyncio's synchronization primitives (locks.py, 3.11): Lock,
 * Event, Condition, Semaphore, BoundedSemaphore and Barrier, with the same
 * order of wake-ups, the same handling of a waiter cancelled after it was
 * chosen, and the same messages. */
#include <stdlib.h>

#include "casyncio/api.h"
#include "impl.h"
#include "loop.h"
#include "task.h"
#include "waiters.h"

/* The calling task, for the coroutines: RuntimeError outside one. */
static bool in_task(const char *what)
{
    return aio__task_running(what) != NULL;
}

/* The repr's head, as object.__repr__ writes it. */
static void repr_head(const void *obj, const char *cls, aio__strbuf *out)
{
    aio__sb_appendf(out, "<asyncio.locks.%s object at %p [", cls, obj);
}

static void repr_waiters(const aio__waiters *waiters, aio__strbuf *out)
{
    if (waiters->len > 0)
        aio__sb_appendf(out, ", waiters:%zu", waiters->len);
    aio__sb_append(out, "]>");
}

/* --- Lock ------------------------------------------------------------------------ */

struct aio_lock {
    aio__object ob;
    aio_loop *loop;
    aio__waiters waiters;
    bool locked;
};

static void lock_dealloc(void *obj)
{
    aio_lock *lock = obj;
    aio__waiters_clear(&lock->waiters);
    aio__decref(lock->loop);
    free(lock);
}

static int lock_repr(const void *obj, aio__strbuf *out)
{
    const aio_lock *lock = obj;
    repr_head(lock, "Lock", out);
    aio__sb_append(out, lock->locked ? "locked" : "unlocked");
    repr_waiters(&lock->waiters, out);
    return 0;
}

AIO__DEFINE_TYPE(lock_type) = {"Lock", lock_dealloc, lock_repr, 0};

aio_lock *aio__lock_new(void)
{
    aio_lock *lock = aio__calloc(1, sizeof *lock);
    if (lock != NULL)
        aio__object_init(lock, &lock_type);
    return lock;
}

int aio__lock_locked(aio_lock *lock)
{
    return lock->locked;
}

/* _wake_up_first(): the first waiter, unless it is done already (it will
 * then take the lock, or pass its turn on, when it runs). */
static void lock_wake_up_first(aio_lock *lock)
{
    if (lock->waiters.head != NULL)
        aio__waiter_wake(lock->waiters.head);
}

static bool all_cancelled(const aio__waiters *waiters)
{
    for (const aio__waiter *w = waiters->head; w != NULL; w = w->next)
        if (w->fut.state != AIO__FUTURE_CANCELLED)
            return false;
    return true;
}

/* Lock.acquire(), from a task. */
static int lock_acquire(aio_lock *lock)
{
    if (!lock->locked && all_cancelled(&lock->waiters)) {
        lock->locked = true;
        return 1;
    }
    aio_loop *loop = aio__bind_loop(&lock->loop, lock);
    aio__waiter *w = loop != NULL ? aio__waiter_append(&lock->waiters, loop) : NULL;
    if (w == NULL)
        return -1;
    int rc = aio__waiter_await(w);
    aio__waiter_remove(w); /* finally: self._waiters.remove(fut) */
    aio__decref(w);
    if (rc < 0) {
        if (aio_err_matches(aio_CancelledError) && !lock->locked) {
            aio_exc *exc = aio_err_fetch();
            lock_wake_up_first(lock);
            aio_err_restore(exc);
        }
        return -1;
    }
    lock->locked = true;
    return 1;
}

int aio__lock_acquire(aio_lock *lock)
{
    if (!in_task("aio_lock_acquire()"))
        return -1;
    return lock_acquire(lock);
}

int aio__lock_release(aio_lock *lock)
{
    if (!lock->locked) {
        aio_err_set(aio_RuntimeError, "Lock is not acquired.");
        return -1;
    }
    lock->locked = false;
    lock_wake_up_first(lock);
    return 0;
}

/* --- Event ----------------------------------------------------------------------- */

struct aio_event {
    aio__object ob;
    aio_loop *loop;
    aio__waiters waiters;
    bool value;
};

static void event_dealloc(void *obj)
{
    aio_event *event = obj;
    aio__waiters_clear(&event->waiters);
    aio__decref(event->loop);
    free(event);
}

static int event_repr(const void *obj, aio__strbuf *out)
{
    const aio_event *event = obj;
    repr_head(event, "Event", out);
    aio__sb_append(out, event->value ? "set" : "unset");
    repr_waiters(&event->waiters, out);
    return 0;
}

AIO__DEFINE_TYPE(event_type) = {"Event", event_dealloc, event_repr, 0};

aio_event *aio__event_new(void)
{
    aio_event *event = aio__calloc(1, sizeof *event);
    if (event != NULL)
        aio__object_init(event, &event_type);
    return event;
}

int aio__event_is_set(aio_event *event)
{
    return event->value;
}

int aio__event_set(aio_event *event)
{
    if (!event->value) {
        event->value = true;
        for (aio__waiter *w = event->waiters.head; w != NULL; w = w->next)
            aio__waiter_wake(w);
    }
    return 0;
}

int aio__event_clear(aio_event *event)
{
    event->value = false;
    return 0;
}

/* Event.wait(), from a task (queues.c's join() uses it too). */
int aio__event_wait_in_task(aio_event *event)
{
    if (event->value)
        return 1;
    aio_loop *loop = aio__bind_loop(&event->loop, event);
    aio__waiter *w = loop != NULL ? aio__waiter_append(&event->waiters, loop) : NULL;
    if (w == NULL)
        return -1;
    int rc = aio__waiter_await(w);
    aio__waiter_remove(w);
    aio__decref(w);
    return rc < 0 ? -1 : 1;
}

int aio__event_wait(aio_event *event)
{
    if (!in_task("aio_event_wait()"))
        return -1;
    return aio__event_wait_in_task(event);
}

/* --- Condition ---------------------------------------------------------------------- */

struct aio_condition {
    aio__object ob;
    aio_loop *loop;
    aio_lock *lock;
    aio__waiters waiters;
};

static void condition_dealloc(void *obj)
{
    aio_condition *cond = obj;
    aio__waiters_clear(&cond->waiters);
    aio__decref(cond->lock);
    aio__decref(cond->loop);
    free(cond);
}

static int condition_repr(const void *obj, aio__strbuf *out)
{
    const aio_condition *cond = obj;
    repr_head(cond, "Condition", out);
    aio__sb_append(out, cond->lock->locked ? "locked" : "unlocked");
    repr_waiters(&cond->waiters, out);
    return 0;
}

AIO__DEFINE_TYPE(condition_type) = {"Condition", condition_dealloc, condition_repr, 0};

aio_condition *aio__condition_new(aio_lock *lock)
{
    if (lock != NULL && aio__type_of(lock) != &lock_type) {
        aio_err_set(aio_TypeError, "lock must be an asyncio.Lock");
        return NULL;
    }
    aio_condition *cond = aio__calloc(1, sizeof *cond);
    if (cond == NULL)
        return NULL;
    aio__object_init(cond, &condition_type);
    cond->lock = lock != NULL ? aio_incref(lock) : aio__lock_new();
    if (cond->lock == NULL) {
        aio__decref(cond);
        return NULL;
    }
    return cond;
}

int aio__condition_acquire(aio_condition *cond)
{
    if (!in_task("aio_condition_acquire()"))
        return -1;
    return lock_acquire(cond->lock);
}

int aio__condition_release(aio_condition *cond)
{
    return aio__lock_release(cond->lock);
}

int aio__condition_locked(aio_condition *cond)
{
    return cond->lock->locked;
}

/* _notify(n): wakes up to n waiters not woken yet. */
static void condition_wake(aio_condition *cond, int n)
{
    int woken = 0;
    for (aio__waiter *w = cond->waiters.head; w != NULL && woken < n; w = w->next) {
        if (!aio__waiter_done(w)) {
            woken++;
            aio__waiter_wake(w);
        }
    }
}

int aio__condition_notify(aio_condition *cond, int n)
{
    if (!cond->lock->locked) {
        aio_err_set(aio_RuntimeError, "cannot notify on un-acquired lock");
        return -1;
    }
    condition_wake(cond, n);
    return 0;
}

int aio__condition_notify_all(aio_condition *cond)
{
    size_t n = cond->waiters.len;
    return aio__condition_notify(cond, n > (size_t)INT32_MAX ? INT32_MAX : (int)n);
}

/* Condition.wait(), from a task. By target version, when cancelled while
 * taking the lock back: up to 3.12 a new CancelledError is raised, 3.13
 * raises the last one again; and 3.13 passes a notification on to another
 * waiter (_notify(1)) whenever wait() fails, as it may have been this
 * one's. */
static int condition_wait_failed(aio_condition *cond, bool v313)
{
    if (v313)
        condition_wake(cond, 1);
    return -1;
}

static int condition_wait(aio_condition *cond)
{
    if (!cond->lock->locked) {
        aio_err_set(aio_RuntimeError, "cannot wait on un-acquired lock");
        return -1;
    }
    aio__lock_release(cond->lock);
    int rc = -1;
    aio_loop *loop = aio__bind_loop(&cond->loop, cond);
    aio__waiter *w = loop != NULL ? aio__waiter_append(&cond->waiters, loop) : NULL;
    if (w != NULL) {
        rc = aio__waiter_await(w);
        aio__waiter_remove(w);
        aio__decref(w);
    }
    /* finally: the lock is taken again, even when cancelled meanwhile. */
    bool v313 = aio__current_target_version() >= AIO_PY(3, 13);
    aio_exc *pending = aio_err_fetch();
    aio_exc *last = NULL; /* the last CancelledError while taking it */
    for (;;) {
        if (lock_acquire(cond->lock) > 0)
            break;
        if (!aio_err_matches(aio_CancelledError)) {
            /* Another error replaces the one in flight. */
            aio__decref(pending);
            aio__decref(last);
            return condition_wait_failed(cond, v313);
        }
        aio__decref(last);
        last = aio_err_fetch();
    }
    if (last != NULL) {
        aio_exc *exc = v313 ? last : aio_exc_new(aio_CancelledError, NULL);
        if (!v313)
            aio__decref(last);
        if (pending != exc)
            aio_exc_set_context(exc, pending);
        aio__decref(pending);
        aio_err_restore(exc);
        return condition_wait_failed(cond, v313);
    }
    aio_err_restore(pending);
    return rc < 0 ? condition_wait_failed(cond, v313) : 1;
}

int aio__condition_wait(aio_condition *cond)
{
    if (!in_task("aio_condition_wait()"))
        return -1;
    return condition_wait(cond);
}

/* Condition.wait_for(predicate) over a C predicate. */
static int condition_wait_for(aio_condition *cond, aio_predicate predicate, void *arg)
{
    int result = predicate(arg);
    while (result == 0) {
        if (condition_wait(cond) < 0)
            return -1;
        result = predicate(arg);
    }
    if (result < 0 && !aio_err_occurred())
        aio_err_set(aio_RuntimeError, "the predicate returned -1 without an exception");
    return result;
}

int aio__condition_wait_for(aio_condition *cond, aio_predicate predicate, void *predicate_arg)
{
    if (!in_task("aio_condition_wait_for()"))
        return -1;
    return condition_wait_for(cond, predicate, predicate_arg);
}

/* --- Semaphore and BoundedSemaphore ---------------------------------------------------- */

struct aio_semaphore {
    aio__object ob;
    aio_loop *loop;
    aio__waiters waiters;
    int value;
    int bound_value;
    bool bounded;
    bool wakeup_scheduled;  /* 3.9's _wakeup_scheduled */
};

/* The semaphore's target version: its loop's once bound, else the running
 * loop's (the process default outside one). Up to 3.9 release() only adds
 * to the count and a woken waiter takes it when it runs (3.8: anyone may
 * take it first; 3.9: newcomers wait while a wake-up is scheduled); from
 * 3.10 release() hands the count to the first waiter, in FIFO order. */
static int semaphore_version(const aio_semaphore *sem)
{
    return sem->loop != NULL ? aio_loop_get_target_version(sem->loop)
                             : aio__current_target_version();
}

static void semaphore_dealloc(void *obj)
{
    aio_semaphore *sem = obj;
    aio__waiters_clear(&sem->waiters);
    aio__decref(sem->loop);
    free(sem);
}

static bool semaphore_locked(const aio_semaphore *sem)
{
    if (sem->value == 0)
        return true;
    if (semaphore_version(sem) < AIO_PY(3, 10))
        return false;
    for (const aio__waiter *w = sem->waiters.head; w != NULL; w = w->next)
        if (w->fut.state != AIO__FUTURE_CANCELLED)
            return true;
    return false;
}

static int semaphore_repr(const void *obj, aio__strbuf *out)
{
    const aio_semaphore *sem = obj;
    repr_head(sem, sem->bounded ? "BoundedSemaphore" : "Semaphore", out);
    if (semaphore_locked(sem))
        aio__sb_append(out, "locked");
    else
        aio__sb_appendf(out, "unlocked, value:%d", sem->value);
    repr_waiters(&sem->waiters, out);
    return 0;
}

AIO__DEFINE_TYPE(semaphore_type) = {"Semaphore", semaphore_dealloc, semaphore_repr, 0};

static aio_semaphore *semaphore_new(int value, bool bounded)
{
    if (value < 0) {
        aio_err_set(aio_ValueError, "Semaphore initial value must be >= 0");
        return NULL;
    }
    aio_semaphore *sem = aio__calloc(1, sizeof *sem);
    if (sem == NULL)
        return NULL;
    aio__object_init(sem, &semaphore_type);
    sem->value = value;
    sem->bound_value = value;
    sem->bounded = bounded;
    return sem;
}

aio_semaphore *aio__semaphore_new(int value)
{
    return semaphore_new(value, false);
}

aio_semaphore *aio__bounded_semaphore_new(int value)
{
    return semaphore_new(value, true);
}

int aio__semaphore_locked(aio_semaphore *sem)
{
    return semaphore_locked(sem);
}

/* _wake_up_next(): the first waiter not done yet gets a count; false when
 * there was none. */
static bool semaphore_wake_up_next(aio_semaphore *sem)
{
    for (aio__waiter *w = sem->waiters.head; w != NULL; w = w->next) {
        if (!aio__waiter_done(w)) {
            sem->value--;
            aio__waiter_wake(w);
            return true;
        }
    }
    return false;
}

/* The end of acquire(): up to 3.12 one more waiter is woken when a count
 * is left; 3.13 wakes as many as there are counts (waiters that queued
 * behind the FIFO meanwhile). */
static void semaphore_wake_after_acquire(aio_semaphore *sem, bool v313)
{
    if (!v313) {
        if (sem->value > 0)
            semaphore_wake_up_next(sem);
        return;
    }
    while (sem->value > 0 && semaphore_wake_up_next(sem))
        ;
}

/* 3.8 and 3.9's _wake_up_next(): pops waiters until one not done, and
 * wakes it. */
static void semaphore_wake_up_next_legacy(aio_semaphore *sem, int version)
{
    aio__waiter *w;
    while ((w = aio__waiter_popleft(&sem->waiters)) != NULL) {
        bool pending = !aio__waiter_done(w);
        if (pending)
            aio__waiter_wake(w);
        aio__decref(w);
        if (pending) {
            if (version >= AIO_PY(3, 9))
                sem->wakeup_scheduled = true;
            return;
        }
    }
}

/* 3.8 and 3.9's acquire(): a loop, waiting while the count is 0 (3.9: or
 * a wake-up is scheduled); a waiter left in the queue when cancelled. */
static int semaphore_acquire_legacy(aio_semaphore *sem, int version)
{
    bool v39 = version >= AIO_PY(3, 9);
    while ((v39 && sem->wakeup_scheduled) || sem->value <= 0) {
        aio_loop *loop = aio__bind_loop(&sem->loop, sem);
        aio__waiter *w = loop != NULL ? aio__waiter_append(&sem->waiters, loop) : NULL;
        if (w == NULL)
            return -1;
        int rc = aio__waiter_await(w);
        if (rc < 0) {
            aio_exc *exc = aio_err_fetch();
            if (v39) {
                if (aio_exc_isinstance(exc, aio_CancelledError))
                    semaphore_wake_up_next_legacy(sem, version);
            } else {
                /* except: fut.cancel(); wake the next when a count is left */
                if (!aio__waiter_done(w) && aio__future_cancel_any(&w->fut, NULL) < 0)
                    aio_err_clear();
                if (sem->value > 0 && w->fut.state != AIO__FUTURE_CANCELLED)
                    semaphore_wake_up_next_legacy(sem, version);
            }
            aio_err_restore(exc);
            aio__decref(w);
            return -1;
        }
        aio__decref(w);
        if (v39)
            sem->wakeup_scheduled = false;
    }
    sem->value--;
    return 1;
}

int aio__semaphore_acquire(aio_semaphore *sem)
{
    if (!in_task("aio_semaphore_acquire()"))
        return -1;
    int version = semaphore_version(sem);
    if (version < AIO_PY(3, 10))
        return semaphore_acquire_legacy(sem, version);
    if (!semaphore_locked(sem)) {
        sem->value--;
        return 1;
    }
    aio_loop *loop = aio__bind_loop(&sem->loop, sem);
    aio__waiter *w = loop != NULL ? aio__waiter_append(&sem->waiters, loop) : NULL;
    if (w == NULL)
        return -1;
    bool v313 = aio_loop_get_target_version(loop) >= AIO_PY(3, 13);
    int rc = aio__waiter_await(w);
    aio__waiter_remove(w);
    if (rc < 0) {
        /* Given a count but cancelled before it ran: the count goes on. */
        aio_exc *exc = aio_err_fetch();
        if (aio_exc_isinstance(exc, aio_CancelledError) &&
            w->fut.state != AIO__FUTURE_CANCELLED &&
            (!v313 || w->fut.state != AIO__FUTURE_PENDING)) {
            sem->value++;
            if (!v313)
                semaphore_wake_up_next(sem);
        }
        if (v313) /* finally: */
            semaphore_wake_after_acquire(sem, true);
        aio_err_restore(exc);
        aio__decref(w);
        return -1;
    }
    aio__decref(w);
    semaphore_wake_after_acquire(sem, v313);
    return 1;
}

int aio__semaphore_release(aio_semaphore *sem)
{
    if (sem->bounded && sem->value >= sem->bound_value) {
        aio_err_set(aio_ValueError, "BoundedSemaphore released too many times");
        return -1;
    }
    sem->value++;
    int version = semaphore_version(sem);
    if (version < AIO_PY(3, 10))
        semaphore_wake_up_next_legacy(sem, version);
    else
        semaphore_wake_up_next(sem);
    return 0;
}

/* --- Barrier ------------------------------------------------------------------------------- */

typedef enum barrier_state {
    BARRIER_FILLING,
    BARRIER_DRAINING,
    BARRIER_RESETTING,
    BARRIER_BROKEN,
} barrier_state;

static const char *const barrier_state_names[] = {"filling", "draining", "resetting", "broken"};

struct aio_barrier {
    aio__object ob;
    aio_condition *cond;    /* notifies every task when the state changes */
    int parties;
    int count;              /* tasks in the barrier */
    barrier_state state;
};

static void barrier_dealloc(void *obj)
{
    aio_barrier *barrier = obj;
    aio__decref(barrier->cond);
    free(barrier);
}

static int barrier_n_waiting(const aio_barrier *barrier)
{
    return barrier->state == BARRIER_FILLING ? barrier->count : 0;
}

static int barrier_repr(const void *obj, aio__strbuf *out)
{
    const aio_barrier *barrier = obj;
    repr_head(barrier, "Barrier", out);
    aio__sb_append(out, barrier_state_names[barrier->state]);
    if (barrier->state != BARRIER_BROKEN)
        aio__sb_appendf(out, ", waiters:%d/%d", barrier_n_waiting(barrier), barrier->parties);
    return aio__sb_append(out, "]>");
}

AIO__DEFINE_TYPE(barrier_type) = {"Barrier", barrier_dealloc, barrier_repr, 0};

aio_barrier *aio__barrier_new(int parties)
{
    if (parties < 1) {
        aio_err_set(aio_ValueError, "parties must be > 0");
        return NULL;
    }
    aio_barrier *barrier = aio__calloc(1, sizeof *barrier);
    if (barrier == NULL)
        return NULL;
    aio__object_init(barrier, &barrier_type);
    barrier->parties = parties;
    if ((barrier->cond = aio__condition_new(NULL)) == NULL) {
        aio__decref(barrier);
        return NULL;
    }
    return barrier;
}

/* The predicates of _block() and _wait(). */
static int barrier_not_draining(void *arg)
{
    const aio_barrier *barrier = arg;
    return barrier->state != BARRIER_DRAINING && barrier->state != BARRIER_RESETTING;
}

static int barrier_not_filling(void *arg)
{
    const aio_barrier *barrier = arg;
    return barrier->state != BARRIER_FILLING;
}

/* _exit(): the last task out ends the draining or resetting. */
static void barrier_exit(aio_barrier *barrier)
{
    if (barrier->count == 0) {
        if (barrier->state == BARRIER_RESETTING || barrier->state == BARRIER_DRAINING)
            barrier->state = BARRIER_FILLING;
        aio__condition_notify_all(barrier->cond);
    }
}

/* `async with self._cond:`'s exit: the lock is released whatever happened
 * inside, and an error of the release replaces the one in flight. */
static int barrier_unlock(aio_barrier *barrier, int rc)
{
    aio_exc *pending = aio_err_fetch();
    if (aio__lock_release(barrier->cond->lock) < 0) {
        aio__decref(pending);
        return -1;
    }
    aio_err_restore(pending);
    return rc;
}

int aio__barrier_wait(aio_barrier *barrier)
{
    if (!in_task("aio_barrier_wait()"))
        return -1;
    aio__incref(barrier);
    int rc = lock_acquire(barrier->cond->lock);
    if (rc < 0)
        goto out;
    /* _block(): wait while the barrier drains or resets. */
    if (condition_wait_for(barrier->cond, barrier_not_draining, barrier) < 0) {
        rc = barrier_unlock(barrier, -1);
        goto out;
    }
    if (barrier->state == BARRIER_BROKEN) {
        aio_err_set(aio_BrokenBarrierError, "Barrier aborted");
        rc = barrier_unlock(barrier, -1);
        goto out;
    }
    int index = barrier->count++;
    if (index + 1 == barrier->parties) {
        /* _release(): drain; the next tasks wait until it is over. */
        barrier->state = BARRIER_DRAINING;
        aio__condition_notify_all(barrier->cond);
        rc = index;
    } else if (condition_wait_for(barrier->cond, barrier_not_filling, barrier) < 0) {
        rc = -1;
    } else if (barrier->state == BARRIER_BROKEN || barrier->state == BARRIER_RESETTING) {
        aio_err_set(aio_BrokenBarrierError, "Abort or reset of barrier");
        rc = -1;
    } else {
        rc = index;
    }
    /* finally: */
    barrier->count--;
    aio_exc *pending = aio_err_fetch();
    barrier_exit(barrier);
    aio_err_restore(pending);
    rc = barrier_unlock(barrier, rc);
out:
    aio__decref(barrier);
    return rc;
}

int aio__barrier_reset(aio_barrier *barrier)
{
    if (!in_task("aio_barrier_reset()"))
        return -1;
    if (lock_acquire(barrier->cond->lock) < 0)
        return -1;
    if (barrier->count > 0) {
        if (barrier->state != BARRIER_RESETTING)
            barrier->state = BARRIER_RESETTING;
    } else {
        barrier->state = BARRIER_FILLING;
    }
    aio__condition_notify_all(barrier->cond);
    return barrier_unlock(barrier, 0);
}

int aio__barrier_abort(aio_barrier *barrier)
{
    if (!in_task("aio_barrier_abort()"))
        return -1;
    if (lock_acquire(barrier->cond->lock) < 0)
        return -1;
    barrier->state = BARRIER_BROKEN;
    aio__condition_notify_all(barrier->cond);
    return barrier_unlock(barrier, 0);
}

int aio__barrier_parties(aio_barrier *barrier)
{
    return barrier->parties;
}

int aio__barrier_n_waiting(aio_barrier *barrier)
{
    return barrier_n_waiting(barrier);
}

int aio__barrier_broken(aio_barrier *barrier)
{
    return barrier->state == BARRIER_BROKEN;
}
