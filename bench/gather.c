/* gather.c - asyncio.gather() over N pending futures, every fourth argument
 * one given before (so that repeated futures are sought among the others):
 * the time of the gather() call itself, which registers one done callback
 * per distinct future and tells the repeated ones apart. Then every future
 * gets its result and the loop runs until the outer future is done (its
 * time is printed as complete_seconds, not tabled), and the list of results
 * is checked.
 *
 *   usage: gather [N]        (default 200000)
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

int main(int argc, char **argv)
{
    long total = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
    if (total < 1)
        total = 1;
    size_t n = (size_t)total;
    aio_loop *loop = aio_new_event_loop();
    if (loop == NULL)
        bench_die("new_event_loop");
    aio_future **futs = malloc(n * sizeof *futs);
    if (futs == NULL)
        bench_die("malloc");
    for (size_t i = 0; i < n; i++) {
        futs[i] = i % 4 == 3 ? futs[i / 2] : aio_loop_create_future(loop);
        if (futs[i] == NULL)
            bench_die("create_future");
    }

    double t0 = bench_now();
    aio_future *outer = aio_gather(futs, n, NULL);
    double t1 = bench_now();
    if (outer == NULL)
        bench_die("gather");
    for (size_t i = 0; i < n; i++) {
        if (i % 4 != 3 && aio_future_set_result(futs[i], (void *)(uintptr_t)(i + 1)) < 0)
            bench_die("set_result");
    }
    const aio_gather_list *list = aio_loop_run_until_complete(loop, outer);
    double t2 = bench_now();
    if (list == NULL)
        bench_die("run_until_complete");
    for (size_t i = 0; i < n; i++) {
        size_t first = i;
        while (first % 4 == 3)
            first /= 2;
        if (list->len != n || list->items[i].result != (void *)(uintptr_t)(first + 1)) {
            fprintf(stderr, "bench: result %zu is wrong\n", i);
            return 1;
        }
    }
    printf("BENCH impl=casyncio workload=gather n=%ld seconds=%.9f ops_per_sec=%.1f "
           "complete_seconds=%.9f\n",
           total, t1 - t0, (double)total / (t1 - t0), t2 - t1);
    fflush(stdout);
    aio_decref(outer);
    for (size_t i = 0; i < n; i++) {
        if (i % 4 != 3)
            aio_decref(futs[i]);
    }
    free(futs);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
