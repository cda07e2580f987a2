/* switch_test.c - the stack switch alone, without the loop: two coroutines
 * ping-pong while keeping integer and floating-point values live across
 * every switch, then one ends and hands control back to the thread's own
 * stack. Built for the host and, when a cross compiler and qemu-user are
 * installed, for aarch64 (make check-coro-cross). Prints "ok" on success. */
#include <stdio.h>
#include <stdlib.h>

#include "casyncio/exceptions.h"
#include "coro.h"

/* coro.c reports an impossible stack with MemoryError; nothing else of the
 * library is linked in. */
const aio_exc_type aio_MemoryError[1];
void aio_err_set(const aio_exc_type *type, const char *msg)
{
    (void)type;
    fprintf(stderr, "aio_err_set: %s\n", msg ? msg : "MemoryError");
}

static aio__coro thread_stack, ping, pong;
static int rounds;

static double scale(double x)
{
    return x * 1.5;
}

static void ping_entry(void *arg)
{
    long add = (long)arg;
    double acc = 1.0, d1 = 0.25, d2 = 0.5, d3 = 0.75;
    for (int i = 0; i < 1000; i++) {
        acc = scale(acc) / 1.5 + (double)add;
        d1 += 1.0;
        d2 += 2.0;
        d3 += 3.0;
        aio__coro_switch(&ping, &pong);
    }
    if (acc != 1.0 + 1000.0 * (double)add || d1 != 1000.25 || d2 != 2000.5 || d3 != 3000.75) {
        printf("ping lost its values: %f %f %f %f\n", acc, d1, d2, d3);
        exit(1);
    }
    aio__coro_exit(&ping, &thread_stack);
}

static void pong_entry(void *arg)
{
    volatile char buffer[512];
    long tag = (long)arg;
    for (;;) {
        buffer[rounds % sizeof buffer] = (char)tag;
        rounds++;
        aio__coro_switch(&pong, &ping);
    }
}

int main(void)
{
    double live = 42.5;
    long kept = 7;
    if (aio__coro_init(&ping, 0, ping_entry, (void *)2L) < 0 ||
        aio__coro_init(&pong, 32 * 1024, pong_entry, (void *)9L) < 0)
        return 1;
    aio__coro_switch(&thread_stack, &ping);
    aio__coro_release(&ping);
    aio__coro_release(&pong);
    if (rounds != 1000 || live != 42.5 || kept != 7) {
        printf("bad state after the switches: rounds=%d\n", rounds);
        return 1;
    }
    printf("ok\n");
    return 0;
}
