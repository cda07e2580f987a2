/* callbacks.c - a chain of N call_soon() callbacks, each scheduling the
 * next; the last one stops the loop. Measures one loop iteration plus one
 * call_soon() and one callback: the time from the first call_soon() to
 * run_forever() returning, as ops/s = N / seconds.
 *
 *   usage: callbacks [N]     (default 1000000)
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

typedef struct chain {
    aio_loop *loop;
    long count; /* callbacks run so far */
    long total; /* callbacks to run */
    int failed;
} chain;

static void step(void *arg)
{
    chain *c = arg;
    if (++c->count >= c->total) {
        aio_loop_stop(c->loop);
        return;
    }
    if (aio_loop_call_soon(c->loop, &(aio_loop_call_soon_args){.callback = step, .args = c}) ==
        NULL) {
        c->failed = 1;
        aio_loop_stop(c->loop);
    }
}

int main(int argc, char **argv)
{
    long total = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    if (total < 1)
        total = 1;
    aio_loop *loop = aio_new_event_loop();
    if (loop == NULL)
        bench_die("new_event_loop");
    chain c = {.loop = loop, .total = total};

    double t0 = bench_now();
    if (aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = step, .args = &c}) ==
        NULL)
        bench_die("call_soon");
    if (aio_loop_run_forever(loop) < 0)
        bench_die("run_forever");
    double t1 = bench_now();

    if (c.failed)
        bench_die("call_soon in a callback");
    if (c.count != total) {
        fprintf(stderr, "bench: ran %ld callbacks, expected %ld\n", c.count, total);
        return 1;
    }
    bench_report("callbacks", total, t1 - t0);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
