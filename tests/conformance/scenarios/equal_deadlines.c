/* Timers are kept in a heapq ordered by deadline only, so timers with the
 * same deadline do not fire in FIFO order: twelve call_at(t) with one t fire
 * as 0,2,6,5,11,10,9,8,7,1,3,4. Distinct deadlines fire in deadline order
 * whatever order they were scheduled in. */
#include "conformance.h"

static aio_loop *loop;
static char fired[512];

static void append(void *arg)
{
    snprintf(fired + strlen(fired), sizeof fired - strlen(fired), "%s%s",
             *fired ? ", " : "", (const char *)arg);
}
AIO_NAME_CALLBACK(append);

static void stop(void *arg)
{
    aio_loop_stop(arg);
}
AIO_NAME_CALLBACK(stop);

static void at(double when, aio_callback fn, void *arg)
{
    CHECK(aio_loop_call_at(loop, &(aio_loop_call_at_args){.when = when, .callback = fn, .args = arg}));
}

int main(void)
{
    static char names[12][32];
    loop = aio_new_event_loop();
    CHECK(loop);

    double t = aio_loop_time(loop) + 0.05;
    for (int i = 0; i < 12; i++) {
        snprintf(names[i], sizeof names[i], "%d", i);
        at(t, append, names[i]);
    }
    at(t + 0.01, stop, loop);
    CHECK(aio_loop_run_forever(loop) == 0);
    printf("equal deadlines: [%s]\n", fired);

    *fired = '\0';
    t = aio_loop_time(loop) + 0.02;
    const double offsets[] = {0.03, 0.01, 0.02, 0.0, 0.01};
    for (int i = 0; i < 5; i++) {
        snprintf(names[i], sizeof names[i], "%d@%g", i, offsets[i]);
        at(t + offsets[i], append, names[i]);
    }
    at(t + 0.04, stop, loop);
    CHECK(aio_loop_run_forever(loop) == 0);
    printf("distinct deadlines: %s\n", fired);

    *fired = '\0';
    t = aio_loop_time(loop) - 1;
    for (int i = 0; i < 7; i++) {
        snprintf(names[i], sizeof names[i], "%d", i);
        at(t, append, names[i]);
    }
    aio_loop_stop(loop);
    CHECK(aio_loop_run_forever(loop) == 0);
    printf("equal deadlines, all due: [%s]\n", fired);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
