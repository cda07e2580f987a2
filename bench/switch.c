/* switch.c - the bare stack switch of the task machinery: two coroutines
 * ping-ponging through aio__coro_switch() (runtime/tasks/coro.h, internal), with
 * no loop and no task around them. Each round trip is two one-way switches;
 * after a warm-up (the first switch onto a fresh stack faults its pages in)
 * N one-way switches are timed on the first coroutine's stack. Reported as
 * ns per one-way switch. Links the library's own copy of the switch
 * (../build/libcasyncio.a), so it measures what tasks use.
 *
 *   usage: switch [N]        (default 20000000 one-way switches)
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "coro.h"

#define WARMUP 10000

static aio__coro ping, pong;
static aio__coro *home; /* this thread's own stack, which ping returns to */
static long round_trips;
static double seconds;

static void ping_entry(void *arg)
{
    (void)arg;
    for (long i = 0; i < WARMUP; i++)
        aio__coro_switch(&ping, &pong);
    double t0 = bench_now();
    for (long i = 0; i < round_trips; i++)
        aio__coro_switch(&ping, &pong);
    seconds = bench_now() - t0;
    aio__coro_exit(&ping, home);
}

static void pong_entry(void *arg)
{
    long *count = arg;
    for (;;) {
        ++*count;
        aio__coro_switch(&pong, &ping);
    }
}

int main(int argc, char **argv)
{
    long total = argc > 1 ? strtol(argv[1], NULL, 10) : 20000000;
    if (total < 2)
        total = 2;
    round_trips = total / 2;
    total = round_trips * 2;
    long pongs = 0;
    if (aio__coro_init(&ping, 0, ping_entry, NULL) < 0 ||
        aio__coro_init(&pong, 0, pong_entry, &pongs) < 0)
        bench_die("aio__coro_init");
    home = aio__coro_current();
    aio__coro_switch(home, &ping);
    if (pongs != WARMUP + round_trips) {
        fprintf(stderr, "bench: %ld round trips, expected %ld\n", pongs, WARMUP + round_trips);
        return 1;
    }
    bench_report_ns("switch", total, seconds);
    aio__coro_release(&ping);
    aio__coro_release(&pong);
    return 0;
}
