/* asyncio.Lock: waiters take the lock in the order they came (FIFO); a
 * waiter cancelled after release() chose it passes its turn on, so no
 * release is lost; a waiter cancelled while the lock is still held just
 * leaves the queue; release() of an unlocked lock raises RuntimeError('Lock
 * is not acquired.'); the repr shows the state and the number of waiters;
 * a lock waited on in one loop refuses another. */
#include "conformance.h"

static int it;
static aio_lock *lock;

static void tick(void *arg)
{
    (void)arg;
    it++;
    CHECK(aio_loop_call_soon(aio_get_running_loop(), &(aio_loop_call_soon_args){.callback = tick}));
}

typedef struct job {
    const char *name;
    int hold;
} job;

static void *worker(void *arg)
{
    job *j = arg;
    printf("iteration %d %s waits\n", it, j->name);
    if (aio_lock_acquire(lock) < 0) {
        printf("iteration %d %s cancelled while waiting; locked: %s\n", it, j->name,
               py_bool(aio_lock_locked(lock)));
        return NULL;
    }
    printf("iteration %d %s has the lock\n", it, j->name);
    for (int i = 0; i < j->hold; i++)
        CHECK(aio_sleep(0) == 0);
    CHECK(aio_lock_release(lock) == 0);
    printf("iteration %d %s released\n", it, j->name);
    return (void *)j->name;
}

static void *grab(void *arg)
{
    const char *name = arg;
    CHECK(aio_lock_acquire(lock) == 1);
    printf("iteration %d %s inside\n", it, name);
    CHECK(aio_sleep(0) == 0);
    CHECK(aio_lock_release(lock) == 0);
    printf("iteration %d %s outside\n", it, name);
    return NULL;
}

static aio_task *spawn(aio_coroutine coro, void *arg, const char *name)
{
    aio_task *t = aio_loop_create_task(aio_get_running_loop(),
                                       &(aio_loop_create_task_args){.coro = coro, .coro_arg = arg, .name = name});
    CHECK(t);
    return t;
}

static void gather_all(aio_task **tasks, size_t n, bool return_exceptions)
{
    aio_future *all = aio_gather(tasks, n, &(aio_gather_args){.return_exceptions = return_exceptions});
    CHECK(all);
    CHECK(aio_await(all));
    aio_decref(all);
    for (size_t i = 0; i < n; i++)
        aio_decref(tasks[i]);
}

static void *main_coro(void *arg)
{
    (void)arg;
    CHECK(aio_loop_call_soon(aio_get_running_loop(), &(aio_loop_call_soon_args){.callback = tick}));
    lock = aio_lock_new();
    CHECK(lock);
    printf("new: %s %s\n", repr_no_address(lock), py_bool(aio_lock_locked(lock)));
    if (aio_lock_release(lock) < 0)
        print_raised("release unlocked");

    /* FIFO order among waiters. */
    CHECK(aio_lock_acquire(lock) == 1);
    job ja = {"a", 1}, jb = {"b", 1}, jc = {"c", 1};
    aio_task *tasks[3] = {spawn(worker, &ja, "a"), spawn(worker, &jb, "b"), spawn(worker, &jc, "c")};
    CHECK(aio_sleep(0) == 0);
    printf("held with waiters: %s\n", repr_no_address(lock));
    CHECK(aio_lock_release(lock) == 0);
    printf("released: %s\n", repr_no_address(lock));
    gather_all(tasks, 3, false);
    printf("after: %s\n", repr_no_address(lock));

    /* A waiter cancelled after it was chosen passes its turn on. */
    CHECK(aio_lock_acquire(lock) == 1);
    job jd = {"d", 0}, je = {"e", 0};
    aio_task *d = spawn(worker, &jd, "d"), *e = spawn(worker, &je, "e");
    CHECK(aio_sleep(0) == 0);
    CHECK(aio_lock_release(lock) == 0);
    aio_task_cancel(d, NULL);
    aio_incref(d);
    aio_incref(e);
    aio_task *de[2] = {d, e};
    gather_all(de, 2, true);
    printf("d cancelled: %s e result: %s locked: %s\n", py_bool(aio_future_cancelled(d)),
           (const char *)aio_future_result(e), py_bool(aio_lock_locked(lock)));
    aio_decref(d);
    aio_decref(e);

    /* A waiter cancelled while the lock is held leaves the queue. */
    CHECK(aio_lock_acquire(lock) == 1);
    job jf = {"f", 0}, jg = {"g", 0};
    aio_task *f = spawn(worker, &jf, "f"), *g = spawn(worker, &jg, "g");
    CHECK(aio_sleep(0) == 0);
    aio_task_cancel(f, NULL);
    CHECK(aio_sleep(0) == 0);
    printf("after f cancelled: %s\n", repr_no_address(lock));
    CHECK(aio_lock_release(lock) == 0);
    aio_incref(f);
    aio_incref(g);
    aio_task *fg[2] = {f, g};
    gather_all(fg, 2, true);
    printf("f cancelled: %s g result: %s locked: %s\n", py_bool(aio_future_cancelled(f)),
           (const char *)aio_future_result(g), py_bool(aio_lock_locked(lock)));
    aio_decref(f);
    aio_decref(g);

    /* Two acquisitions in one iteration: the second waits. */
    aio_task *hi[2] = {spawn(grab, "h", NULL), spawn(grab, "i", NULL)};
    gather_all(hi, 2, false);
    return NULL;
}

static void *other(void *arg)
{
    (void)arg;
    if (aio_lock_acquire(lock) == 1) {
        printf("acquired at once in another loop: %s\n", py_bool(aio_lock_locked(lock)));
        if (aio_lock_acquire(lock) < 0 && aio_err_matches(aio_RuntimeError)) {
            aio_exc *e = aio_err_fetch();
            const char *s = aio_exc_str(e);
            const char *tail = "is bound to a different event loop";
            printf("other loop: %s %s\n", aio_exc_type_of(e)->name,
                   py_bool(strlen(s) >= strlen(tail) && strcmp(s + strlen(s) - strlen(tail), tail) == 0));
            aio_decref(e);
        }
    }
    return NULL;
}

int main(void)
{
    aio_run(main_coro, NULL, NULL);
    CHECK(!aio_err_occurred());
    aio_run(other, NULL, NULL);
    CHECK(!aio_err_occurred());
    aio_decref(lock);
    return 0;
}
