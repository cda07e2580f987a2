/* With more than 100 scheduled timers of which more than half are cancelled,
 * the next iteration rebuilds the heap (heapq.heapify of the survivors)
 * instead of popping cancelled timers off the top. The survivors still fire,
 * in deadline order, and timers sharing a deadline fire in the order the
 * rebuilt heap gives them - which only an exact heapify reproduces.
 * Cancelling a timer twice, or after the purge, changes nothing. */
#include "conformance.h"

static aio_loop *loop;
static int fired[200];
static int nfired;
static aio_timer_handle *handles[150];

static void append(void *arg)
{
    fired[nfired++] = (int)(intptr_t)arg;
}
AIO_NAME_CALLBACK(append);

static void stop(void *arg)
{
    aio_loop_stop(arg);
}
AIO_NAME_CALLBACK(stop);

static aio_timer_handle *at(double when, aio_callback fn, void *arg)
{
    aio_timer_handle *h = aio_loop_call_at(loop, &(aio_loop_call_at_args){.when = when, .callback = fn, .args = arg});
    CHECK(h);
    return h;
}

static void print_class(const char *label, int k, int mod)
{
    printf("%s %d [", label, k);
    const char *sep = "";
    for (int i = 0; i < nfired; i++) {
        if (fired[i] % mod == k) {
            printf("%s%d", sep, fired[i]);
            sep = ", ";
        }
    }
    printf("]\n");
}

static void after_purge(void *arg)
{
    (void)arg;
    aio_handle_cancel(handles[3]);
    aio_handle_cancel(handles[6]);
    aio_handle_cancel(handles[147]);
    printf("cancelled 3 more after the purge\n");
}
AIO_NAME_CALLBACK(after_purge);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    double t0 = aio_loop_time(loop) + 0.05;
    for (intptr_t i = 0; i < 150; i++)
        handles[i] = aio_incref(at(t0 + (double)(i % 4) * 0.01, append, (void *)i));
    int cancelled = 0;
    for (int i = 0; i < 150; i++) {
        if (i % 3 != 0) {
            aio_handle_cancel(handles[i]);
            aio_handle_cancel(handles[i]);
            cancelled++;
        }
    }
    printf("scheduled %d cancelled %d\n", 150, cancelled);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = after_purge}));
    at(t0 + 0.05, stop, loop);
    CHECK(aio_loop_run_forever(loop) == 0);
    printf("fired %d\n", nfired);
    for (int k = 0; k < 4; k++)
        print_class("deadline", k, 4);
    int sorted = 1;
    for (int i = 1; i < nfired; i++)
        sorted &= fired[i - 1] % 4 <= fired[i] % 4;
    printf("in deadline order: %s\n", py_bool(sorted));
    for (int i = 0; i < 150; i++)
        aio_decref(handles[i]);

    nfired = 0;
    t0 = aio_loop_time(loop) + 0.02;
    for (intptr_t i = 0; i < 100; i++)
        handles[i] = at(t0 + (double)(i % 2) * 0.01, append, (void *)i);
    for (int i = 0; i < 100; i += 5)
        for (int j = 0; j < 3; j++)
            aio_handle_cancel(handles[i + j]);
    at(t0 + 0.03, stop, loop);
    CHECK(aio_loop_run_forever(loop) == 0);
    printf("below threshold fired %d\n", nfired);
    print_class("deadline", 0, 2);
    print_class("deadline", 1, 2);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
