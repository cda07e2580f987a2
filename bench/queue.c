/* queue.c - a Queue ping-pong between two tasks: ping puts an item into one
 * queue and waits for it on another, pong gets it and puts it back. Each
 * item passed is one put() and one get() with a task switch between, so
 * the figure, items per second, is the cost of handing work from one task
 * to another through asyncio.Queue.
 *
 *   usage: queue [N]         (default 1000000 items, N/2 round trips)
 */
#include <stdint.h>
#include <stdlib.h>

#include "bench.h"

typedef struct pingpong {
    aio_queue *there, *back;
    long round_trips;
} pingpong;

static void *pong(void *arg)
{
    pingpong *p = arg;
    for (long i = 0; i < p->round_trips; i++) {
        void *item = aio_queue_get(p->there);
        if ((item == NULL && aio_err_occurred()) || aio_queue_put(p->back, item) < 0)
            return NULL;
    }
    return p;
}

static void *ping(void *arg)
{
    pingpong *p = arg;
    aio_task *other = aio_loop_create_task(aio_get_running_loop(),
                                           &(aio_loop_create_task_args){.coro = pong, .coro_arg = p});
    if (other == NULL)
        return NULL;
    double t0 = bench_now();
    for (long i = 0; i < p->round_trips; i++) {
        if (aio_queue_put(p->there, (void *)(intptr_t)i) < 0)
            return NULL;
        void *item = aio_queue_get(p->back);
        if ((intptr_t)item != i)
            return NULL;
    }
    double seconds = bench_now() - t0;
    if (aio_await(other) == NULL)
        return NULL;
    aio_decref(other);
    bench_report("queue", 2 * p->round_trips, seconds);
    return p;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    pingpong p = {aio_queue_new(0), aio_queue_new(0), n > 1 ? n / 2 : 1};
    if (p.there == NULL || p.back == NULL)
        bench_die("Queue()");
    if (aio_run(ping, &p, NULL) == NULL)
        bench_die("run");
    aio_decref(p.there);
    aio_decref(p.back);
    return 0;
}
