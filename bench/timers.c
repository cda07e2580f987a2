/* timers.c - N call_later() timers with delays uniform in [0, 10 ms)
 * (splitmix64, seeded as in bench_asyncio.py), all scheduled up front, then
 * run to completion; the timer that brings the count to N stops the loop.
 * Measures timer-heap push and pop, TimerHandle creation and the loop's
 * sleeping between deadlines: the time from before the first call_later()
 * to run_forever() returning, as ops/s = N / seconds. The 10 ms spread is a
 * floor on the time, so the figure cannot exceed N / 10 ms.
 *
 *   usage: timers [N]        (default 100000)
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

typedef struct fired {
    aio_loop *loop;
    long count;
    long total;
} fired;

static void fire(void *arg)
{
    fired *f = arg;
    if (++f->count == f->total)
        aio_loop_stop(f->loop);
}

int main(int argc, char **argv)
{
    long total = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    if (total < 1)
        total = 1;
    double *delays = malloc((size_t)total * sizeof *delays);
    if (delays == NULL) {
        fprintf(stderr, "bench: out of memory\n");
        return 1;
    }
    uint64_t state = BENCH_SEED;
    for (long i = 0; i < total; i++)
        delays[i] = bench_uniform(&state) * 0.010;

    aio_loop *loop = aio_new_event_loop();
    if (loop == NULL)
        bench_die("new_event_loop");
    fired f = {.loop = loop, .total = total};

    double t0 = bench_now();
    for (long i = 0; i < total; i++) {
        if (aio_loop_call_later(loop, &(aio_loop_call_later_args){
                                          .delay = delays[i], .callback = fire, .args = &f}) ==
            NULL)
            bench_die("call_later");
    }
    if (aio_loop_run_forever(loop) < 0)
        bench_die("run_forever");
    double t1 = bench_now();

    if (f.count != total) {
        fprintf(stderr, "bench: fired %ld timers, expected %ld\n", f.count, total);
        return 1;
    }
    bench_report("timers", total, t1 - t0);
    aio_loop_close(loop);
    aio_decref(loop);
    free(delays);
    return 0;
}
