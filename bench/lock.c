/* lock.c - Lock acquire/release under contention: 100 tasks each take the
 * lock, yield once to the loop while holding it (so the others queue up
 * behind it), and release it, over and over. The figure is acquisitions
 * per second: each is a release waking the next waiter, a loop iteration
 * and an acquire.
 *
 *   usage: lock [N]          (default 1000000 acquisitions, 100 tasks)
 */
#include <stdlib.h>

#include "bench.h"

enum { TASKS = 100 };

typedef struct contention {
    aio_lock *lock;
    long each;
    long total;
} contention;

static void *contender(void *arg)
{
    contention *c = arg;
    for (long i = 0; i < c->each; i++) {
        if (aio_lock_acquire(c->lock) < 0 || aio_sleep(0) < 0 ||
            aio_lock_release(c->lock) < 0)
            return NULL;
        c->total++;
    }
    return c;
}

static void *main_coro(void *arg)
{
    contention *c = arg;
    aio_loop *loop = aio_get_running_loop();
    aio_task *tasks[TASKS];
    double t0 = bench_now();
    for (int i = 0; i < TASKS; i++) {
        tasks[i] = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = contender,
                                                                           .coro_arg = c});
        if (tasks[i] == NULL)
            return NULL;
    }
    aio_future *all = aio_gather(tasks, TASKS, NULL);
    if (all == NULL || aio_await(all) == NULL)
        return NULL;
    double seconds = bench_now() - t0;
    aio_decref(all);
    for (int i = 0; i < TASKS; i++)
        aio_decref(tasks[i]);
    bench_report("lock", c->total, seconds);
    return c;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    contention c = {aio_lock_new(), n / TASKS > 0 ? n / TASKS : 1, 0};
    if (c.lock == NULL)
        bench_die("Lock()");
    if (aio_run(main_coro, &c, NULL) == NULL)
        bench_die("run");
    if (c.total != c.each * TASKS)
        return 1;
    aio_decref(c.lock);
    return 0;
}
