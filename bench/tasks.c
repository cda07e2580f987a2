/* tasks.c - N tasks whose coroutine returns at once: all created up front
 * with create_task(), then the loop runs until the last one is done (FIFO:
 * it is the last to run). Measures Task creation (the object, its context
 * copy, the first step's call_soon()), the step that runs the coroutine on
 * a stack of its own (taken from the thread's pool) and completion: the
 * time from before the first create_task() to run_until_complete()
 * returning, as tasks/s = N / seconds.
 *
 *   usage: tasks [N]         (default 100000)
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

typedef struct counter {
    long count;
} counter;

static void *noop(void *arg)
{
    counter *c = arg;
    c->count++;
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
    counter c = {0};

    double t0 = bench_now();
    aio_task *last = NULL;
    for (long i = 0; i < total; i++) {
        aio_task *t =
            aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = noop, .coro_arg = &c});
        if (t == NULL)
            bench_die("create_task");
        if (i + 1 < total)
            aio_decref(t); /* the scheduled step keeps it alive */
        else
            last = t;
    }
    if (aio_loop_run_until_complete(loop, last) == NULL && aio_err_occurred())
        bench_die("run_until_complete");
    double t1 = bench_now();

    if (c.count != total) {
        fprintf(stderr, "bench: %ld tasks ran, expected %ld\n", c.count, total);
        return 1;
    }
    bench_report("tasks", total, t1 - t0);
    aio_decref(last);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
