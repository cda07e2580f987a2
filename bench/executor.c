/* executor.c - run_in_executor() round trips: one task awaits
 * loop.run_in_executor(None, fn) N times in a row, fn returning at once on
 * a thread of the default pool. Each round trip is a submission (the work
 * queue, a worker woken), the worker's completion handed back through
 * call_soon_threadsafe() (the self-pipe waking the loop), and the task's
 * wake-up. The figure is round trips per second.
 *
 *   usage: executor [N]      (default 100000 round trips)
 */
#include <stdlib.h>

#include "bench.h"

static void *work(void *arg)
{
    return arg;
}

typedef struct trips {
    long n;
    long done;
} trips;

static void *main_coro(void *arg)
{
    trips *t = arg;
    aio_loop *loop = aio_get_running_loop();
    /* The pool's first thread is started before the clock. */
    aio_future *warm = aio_loop_run_in_executor(loop, NULL, work, t, NULL);
    if (warm == NULL || aio_await(warm) == NULL)
        return NULL;
    aio_decref(warm);
    double t0 = bench_now();
    for (long i = 0; i < t->n; i++) {
        aio_future *f = aio_loop_run_in_executor(loop, NULL, work, t, NULL);
        if (f == NULL || aio_await(f) != t)
            return NULL;
        aio_decref(f);
        t->done++;
    }
    bench_report("executor", t->n, bench_now() - t0);
    return t;
}

int main(int argc, char **argv)
{
    trips t = {argc > 1 ? strtol(argv[1], NULL, 10) : 100000, 0};
    if (t.n < 1)
        t.n = 1;
    if (aio_run(main_coro, &t, NULL) == NULL)
        bench_die("run");
    return t.done == t.n ? 0 : 1;
}
