/* await.c - one task doing aio_sleep(0) N times: each is a bare yield to
 * the loop (asyncio's __sleep0) and back, i.e. one switch off the task's
 * stack, one call_soon() of the next step, one loop iteration, and one
 * switch back. Timed inside the task, from before the first sleep to after
 * the last; reported as ns per round trip.
 *
 *   usage: await [N]         (default 1000000)
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

typedef struct trips {
    long total;
    long done;
    double seconds;
} trips;

static void *sleeper(void *arg)
{
    trips *r = arg;
    double t0 = bench_now();
    for (long i = 0; i < r->total; i++) {
        if (aio_sleep(0) < 0)
            return NULL;
        r->done++;
    }
    r->seconds = bench_now() - t0;
    return r;
}

int main(int argc, char **argv)
{
    long total = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    if (total < 1)
        total = 1;
    aio_loop *loop = aio_new_event_loop();
    if (loop == NULL)
        bench_die("new_event_loop");
    trips r = {.total = total};
    aio_task *task =
        aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = sleeper, .coro_arg = &r});
    if (task == NULL)
        bench_die("create_task");
    if (aio_loop_run_until_complete(loop, task) == NULL)
        bench_die("run_until_complete");
    if (r.done != total) {
        fprintf(stderr, "bench: %ld round trips, expected %ld\n", r.done, total);
        return 1;
    }
    bench_report_ns("await", total, r.seconds);
    aio_decref(task);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
