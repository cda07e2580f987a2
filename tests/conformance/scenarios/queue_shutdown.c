/* Queue.shutdown() and QueueShutDown: after a plain shutdown, puts raise
 * and gets drain what is queued before they raise; blocked getters and
 * putters wake, by iteration, and raise; shutdown(immediate=True) drops
 * the items, counts them done for join() (a join() waiting on an item got
 * but not marked done still waits), and a putter it wakes raises; the
 * reprs (without the items, which C prints as pointers). On LifoQueue and
 * PriorityQueue too. Versions: 3.13+ (the twin's marker). */
#include <stdint.h>

#include "conformance.h"

static int it;

static void tick(void *arg)
{
    (void)arg;
    it++;
    CHECK(aio_loop_call_soon(aio_get_running_loop(), &(aio_loop_call_soon_args){.callback = tick}));
}
AIO_NAME_CALLBACK(tick);

/* The repr without the address and the items. */
static const char *r(const void *obj)
{
    static char buf[1024];
    const char *src = repr_no_address(obj);
    const char *items = strstr(src, " _queue=[");
    if (items == NULL)
        return src;
    const char *end = strchr(items, ']');
    snprintf(buf, sizeof buf, "%.*s%s", (int)(items - src), src, end + 1);
    return buf;
}

#define N(x) ((void *)(intptr_t)(x))
#define I(p) ((int)(intptr_t)(p))

/* what: Type: message, for a call that returned its error value. */
static void raised(const char *what, int failed)
{
    if (!failed) {
        printf("%s no exception\n", what);
        return;
    }
    print_raised(what);
}

typedef struct job {
    aio_queue *q;
    const char *name;
    int item;
} job;

static void *getter(void *arg)
{
    job *j = arg;
    printf("iteration %d %s waits\n", it, j->name);
    void *item = aio_queue_get(j->q);
    aio_exc *exc = aio_err_fetch();
    if (exc == NULL)
        printf("iteration %d %s got %d\n", it, j->name, I(item));
    else if (aio_exc_isinstance(exc, aio_QueueShutDown))
        printf("iteration %d %s QueueShutDown '%s'\n", it, j->name, aio_exc_str(exc));
    else if (aio_exc_isinstance(exc, aio_CancelledError))
        printf("iteration %d %s cancelled\n", it, j->name);
    aio_decref(exc);
    return NULL;
}
AIO_NAME_CALLBACK(getter);

static void *putter(void *arg)
{
    job *j = arg;
    printf("iteration %d %s puts %d\n", it, j->name, j->item);
    if (aio_queue_put(j->q, N(j->item)) == 0) {
        printf("iteration %d %s put\n", it, j->name);
        return NULL;
    }
    aio_exc *exc = aio_err_fetch();
    CHECK(aio_exc_isinstance(exc, aio_QueueShutDown));
    printf("iteration %d %s QueueShutDown\n", it, j->name);
    aio_decref(exc);
    return NULL;
}
AIO_NAME_CALLBACK(putter);

static void *joiner(void *arg)
{
    CHECK(aio_queue_join(arg) == 0);
    printf("iteration %d joined\n", it);
    return NULL;
}
AIO_NAME_CALLBACK(joiner);

static aio_task *spawn(aio_coroutine coro, void *arg)
{
    aio_task *t = aio_loop_create_task(aio_get_running_loop(),
                                       &(aio_loop_create_task_args){.coro = coro, .coro_arg = arg});
    CHECK(t);
    return t;
}

static void gather_and_drop(aio_task **ts, size_t n)
{
    aio_future *all = aio_gather(ts, n, NULL);
    CHECK(all);
    CHECK(aio_await(all) != NULL);
    aio_decref(all);
    for (size_t i = 0; i < n; i++)
        aio_decref(ts[i]);
}

static void sleep0(void)
{
    CHECK(aio_sleep(0) == 0);
}

static void *main_coro(void *arg)
{
    (void)arg;
    CHECK(aio_loop_call_soon(aio_get_running_loop(), &(aio_loop_call_soon_args){.callback = tick}));
    sleep0();

    printf("-- plain\n");
    aio_queue *q = aio_queue_new(0);
    CHECK(aio_queue_put_nowait(q, N(1)) == 0 && aio_queue_put_nowait(q, N(2)) == 0);
    CHECK(aio_queue_shutdown(q, false) == 0);
    printf("%s\n", r(q));
    raised("put_nowait", aio_queue_put_nowait(q, N(3)) < 0);
    if (aio_queue_put(q, N(3)) < 0 && aio_err_matches(aio_QueueShutDown)) {
        aio_err_clear();
        printf("put: QueueShutDown\n");
    }
    void *first = aio_queue_get_nowait(q);
    void *second = aio_queue_get(q);
    CHECK(!aio_err_occurred());
    printf("get_nowait: %d get: %d\n", I(first), I(second));
    raised("get_nowait", aio_queue_get_nowait(q) == NULL && aio_err_occurred());
    if (aio_queue_get(q) == NULL && aio_err_matches(aio_QueueShutDown)) {
        aio_err_clear();
        printf("get: QueueShutDown\n");
    }
    CHECK(aio_queue_task_done(q) == 0 && aio_queue_task_done(q) == 0);
    CHECK(aio_queue_join(q) == 0);
    printf("joined; shutdown again: %s\n", aio_queue_shutdown(q, false) == 0 ? "None" : "?");
    aio_decref(q);

    printf("-- blocked getters\n");
    it = 0;
    q = aio_queue_new(1);
    job g[3] = {{q, "g1", 0}, {q, "g2", 0}, {q, "g3", 0}};
    aio_task *ts[3];
    for (int i = 0; i < 3; i++)
        ts[i] = spawn(getter, &g[i]);
    sleep0();
    printf("iteration %d shutdown: %s\n", it, r(q));
    CHECK(aio_queue_shutdown(q, false) == 0);
    CHECK(aio_task_cancel(ts[1], NULL) == 1);
    printf("iteration %d after: %s\n", it, r(q));
    gather_and_drop(ts, 3);
    aio_decref(q);

    printf("-- blocked putters\n");
    it = 0;
    q = aio_queue_new(1);
    CHECK(aio_queue_put_nowait(q, N(7)) == 0);
    job p[2] = {{q, "p1", 1}, {q, "p2", 2}};
    ts[0] = spawn(putter, &p[0]);
    ts[1] = spawn(putter, &p[1]);
    sleep0();
    printf("iteration %d shutdown: %s\n", it, r(q));
    CHECK(aio_queue_shutdown(q, false) == 0);
    gather_and_drop(ts, 2);
    int size = aio_queue_qsize(q);
    printf("qsize: %d get: %d\n", size, I(aio_queue_get_nowait(q)));
    aio_decref(q);

    printf("-- immediate\n");
    it = 0;
    q = aio_queue_new(0);
    for (int i = 1; i <= 3; i++)
        CHECK(aio_queue_put_nowait(q, N(i)) == 0);
    printf("got %d\n", I(aio_queue_get_nowait(q)));
    aio_task *j = spawn(joiner, q);
    sleep0();
    CHECK(aio_queue_shutdown(q, true) == 0);
    printf("iteration %d %s qsize %d\n", it, r(q), aio_queue_qsize(q));
    sleep0();
    sleep0();
    printf("iteration %d join done: %s\n", it, py_bool(aio_future_done(j)));
    raised("get_nowait", aio_queue_get_nowait(q) == NULL && aio_err_occurred());
    CHECK(aio_queue_task_done(q) == 0);
    CHECK(aio_await(j) == NULL && !aio_err_occurred());
    aio_decref(j);
    raised("task_done", aio_queue_task_done(q) < 0);
    aio_decref(q);
    q = aio_queue_new(1);
    CHECK(aio_queue_put_nowait(q, N(7)) == 0);
    job p3 = {q, "p3", 3};
    aio_task *t = spawn(putter, &p3);
    sleep0();
    CHECK(aio_queue_shutdown(q, true) == 0);
    CHECK(aio_await(t) == NULL && !aio_err_occurred());
    aio_decref(t);
    printf("qsize: %d\n", aio_queue_qsize(q));
    aio_decref(q);
    q = aio_queue_new(0);
    CHECK(aio_queue_put_nowait(q, N(1)) == 0);
    CHECK(aio_queue_shutdown(q, false) == 0 && aio_queue_shutdown(q, true) == 0);
    printf("plain then immediate: %s %d\n", r(q), aio_queue_qsize(q));
    aio_decref(q);

    printf("-- LifoQueue and PriorityQueue\n");
    for (int k = 0; k < 2; k++) {
        const char *name = k == 0 ? "LifoQueue" : "PriorityQueue";
        for (int immediate = 0; immediate < 2; immediate++) {
            q = k == 0 ? aio_lifo_queue_new(0) : aio_priority_queue_new(0, NULL, NULL);
            CHECK(q);
            int items[] = {3, 1, 2};
            for (int i = 0; i < 3; i++)
                CHECK(aio_queue_put_nowait(q, N(items[i])) == 0);
            CHECK(aio_queue_shutdown(q, immediate) == 0);
            if (immediate) {
                printf("%s immediate: %d %s\n", name, aio_queue_qsize(q), r(q));
            } else {
                int a = I(aio_queue_get_nowait(q)), b = I(aio_queue_get_nowait(q)),
                    c = I(aio_queue_get_nowait(q));
                printf("%s [%d, %d, %d] %s\n", name, a, b, c, r(q));
                raised("get_nowait", aio_queue_get_nowait(q) == NULL && aio_err_occurred());
            }
            aio_decref(q);
        }
    }
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    aio_run(main_coro, NULL, NULL);
    CHECK(!aio_err_occurred());
    return 0;
}
