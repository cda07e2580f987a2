/* idle.c - N tasks, each suspended in aio_await() on one shared pending
 * future: the memory a suspended task costs. A main task reads VmRSS
 * (/proc/self/status), creates the N tasks, yields once (sleep(0): FIFO, so
 * every one of them has run up to its await when it resumes) and reads
 * VmRSS again; the difference, in MiB and in bytes per task, is the figure.
 * Then it completes the future and waits until every task has finished, so
 * the run ends clean. The seconds reported are those of creating and
 * suspending the N tasks.
 *
 * Each task's stack is reserved, not committed: what it costs is the pages
 * its function touched (one 4 KiB page here: the function, aio_await() and
 * the switch fit in it), plus the Task object, its context and its done
 * callback on the future.
 *
 * Built with -DIDLE_SHARED_STACK (idle-shared), the tasks run on the
 * thread's shared stack (aio_task_args.shared_stack): a suspended one keeps
 * only the part of the stack it uses, in a heap buffer.
 *
 *   usage: idle [N]          (default 100000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

typedef struct idle {
    aio_loop *loop;
    aio_future *fut;
    long total;
    long waiting;     /* tasks that reached their await */
    long finished;    /* tasks that returned from it */
    long failed;
    long rss_before;  /* KiB */
    long rss_after;
    double seconds;
} idle;

/* VmRSS of this process in KiB, or -1. */
static long vmrss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib;
}

static void *waiter(void *arg)
{
    idle *s = arg;
    s->waiting++;
    if (aio_await(s->fut) == NULL && aio_err_occurred()) {
        s->failed++;
        return NULL;
    }
    s->finished++;
    return NULL;
}

static void *main_coro(void *arg)
{
    idle *s = arg;
    s->rss_before = vmrss_kib();
    double t0 = bench_now();
    for (long i = 0; i < s->total; i++) {
#ifdef IDLE_SHARED_STACK
        aio_task *t = aio_task_new(waiter, s, &(aio_task_args){.loop = s->loop, .shared_stack = true});
#else
        aio_task *t = aio_loop_create_task(s->loop,
                                           &(aio_loop_create_task_args){.coro = waiter, .coro_arg = s});
#endif
        if (t == NULL)
            return NULL;
        aio_decref(t); /* its scheduled step, then its stack, keep it alive */
    }
    if (aio_sleep(0) < 0)
        return NULL;
    s->seconds = bench_now() - t0;
    s->rss_after = vmrss_kib();

    if (aio_future_set_result(s->fut, NULL) < 0)
        return NULL;
    /* Each wakeup is a call_soon() made by set_result(): one sleep(0)
     * normally suffices; a few more cost nothing. */
    for (int i = 0; i < 100 && s->finished + s->failed < s->total; i++) {
        if (aio_sleep(0) < 0)
            return NULL;
    }
    return s;
}

int main(int argc, char **argv)
{
    long total = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    if (total < 1)
        total = 1;
    aio_loop *loop = aio_new_event_loop();
    if (loop == NULL)
        bench_die("new_event_loop");
    idle s = {.loop = loop, .total = total};
    if ((s.fut = aio_loop_create_future(loop)) == NULL)
        bench_die("create_future");
    aio_task *task =
        aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = main_coro, .coro_arg = &s});
    if (task == NULL)
        bench_die("create_task");
    if (aio_loop_run_until_complete(loop, task) == NULL)
        bench_die("the main task");
    if (s.waiting != total || s.finished != total || s.failed != 0) {
        fprintf(stderr, "bench: %ld tasks waited, %ld finished, %ld failed; expected %ld\n",
                s.waiting, s.finished, s.failed, total);
        return 1;
    }
    if (s.rss_before < 0 || s.rss_after < 0) {
        fprintf(stderr, "bench: cannot read VmRSS from /proc/self/status\n");
        return 1;
    }
    double bytes = (double)(s.rss_after - s.rss_before) * 1024.0;
#ifdef IDLE_SHARED_STACK
    const char *workload = "idle-shared";
#else
    const char *workload = "idle";
#endif
    printf("BENCH impl=casyncio workload=%s n=%ld seconds=%.9f ops_per_sec=%.1f "
           "rss_mib=%.2f bytes_per_task=%.1f\n",
           workload, total, s.seconds, (double)total / s.seconds, bytes / (1024.0 * 1024.0),
           bytes / (double)total);
    fflush(stdout);
    aio_decref(task);
    aio_decref(s.fut);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
