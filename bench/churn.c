/* churn.c - N tasks each sleeping a random 0-50 ms: all created up front
 * with create_task() (delays uniform in [0, 50 ms) from splitmix64, seeded
 * as in bench_asyncio.py, computed before the clock starts), then the loop
 * runs until the last has finished. Every task gets a stack when its first
 * step runs and gives it back when it returns, so this measures what a
 * stack per task costs when tasks come and go: the time from before the
 * first create_task() to run_forever() returning, and the peak resident
 * memory of the process (VmHWM), all N tasks being suspended at once.
 *
 * Built with -DCHURN_SHARED_STACK (churn-shared), the tasks run on the
 * thread's shared stack (aio_task_args.shared_stack).
 *
 *   usage: churn [N]         (default 100000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

typedef struct churn {
    aio_loop *loop;
    long total;
    long finished;
    long failed;
} churn;

typedef struct sleeper_arg {
    churn *run;
    double delay;
} sleeper_arg;

/* A field of /proc/self/status ("VmHWM:", "VmRSS:") in KiB, or -1. */
static long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    char line[256];
    long kib = -1;
    size_t len = strlen(field);
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, field, len) == 0) {
            kib = strtol(line + len, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib;
}

static void *sleeper(void *arg)
{
    sleeper_arg *a = arg;
    churn *run = a->run;
    if (aio_sleep(a->delay) < 0)
        run->failed++;
    if (++run->finished == run->total)
        aio_loop_stop(run->loop);
    return NULL;
}

int main(int argc, char **argv)
{
    long total = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    if (total < 1)
        total = 1;
    aio_loop *loop = aio_new_event_loop();
    if (loop == NULL)
        bench_die("new_event_loop");
    churn run = {.loop = loop, .total = total};
    sleeper_arg *args = malloc((size_t)total * sizeof *args);
    if (args == NULL)
        bench_die("malloc");
    uint64_t seed = BENCH_SEED;
    for (long i = 0; i < total; i++)
        args[i] = (sleeper_arg){.run = &run, .delay = bench_uniform(&seed) * 0.050};
    long base_kib = status_kib("VmRSS:");

    double t0 = bench_now();
    for (long i = 0; i < total; i++) {
#ifdef CHURN_SHARED_STACK
        aio_task *t = aio_task_new(sleeper, &args[i],
                                   &(aio_task_args){.loop = loop, .shared_stack = true});
#else
        aio_task *t = aio_loop_create_task(
            loop, &(aio_loop_create_task_args){.coro = sleeper, .coro_arg = &args[i]});
#endif
        if (t == NULL)
            bench_die("create_task");
        aio_decref(t); /* its scheduled step, then its stack, keep it alive */
    }
    if (aio_loop_run_forever(loop) < 0)
        bench_die("run_forever");
    double t1 = bench_now();

    long peak_kib = status_kib("VmHWM:");
    if (run.finished != total || run.failed != 0) {
        fprintf(stderr, "bench: %ld tasks finished, %ld failed; expected %ld\n", run.finished,
                run.failed, total);
        return 1;
    }
    if (base_kib < 0 || peak_kib < 0) {
        fprintf(stderr, "bench: cannot read VmRSS and VmHWM from /proc/self/status\n");
        return 1;
    }
#ifdef CHURN_SHARED_STACK
    const char *workload = "churn-shared";
#else
    const char *workload = "churn";
#endif
    printf("BENCH impl=casyncio workload=%s n=%ld seconds=%.9f ops_per_sec=%.1f "
           "peak_mib=%.2f base_mib=%.2f\n",
           workload, total, t1 - t0, (double)total / (t1 - t0), (double)peak_kib / 1024.0,
           (double)base_kib / 1024.0);
    fflush(stdout);
    free(args);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
