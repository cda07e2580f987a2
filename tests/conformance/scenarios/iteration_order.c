/* One loop iteration runs, in this order: the callbacks queued before it
 * started, then the timers that are due after the poll. So call_later(0, t)
 * scheduled in the same callback as call_soon(g) runs after g but in the
 * same iteration as g; a timer already in the past runs in the first
 * iteration, after the ready callbacks, ordered by deadline. */
#include "conformance.h"

static aio_loop *loop;
static int it;

static void tick(void *arg)
{
    (void)arg;
    it++;
    if (it == 4)
        aio_loop_stop(loop);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
}
AIO_NAME_CALLBACK(tick);

static void log_name(void *name)
{
    printf("iteration %d %s\n", it, (const char *)name);
}
AIO_NAME_CALLBACK(log_name);

static void soon(const char *name)
{
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = log_name, .args = (void *)name}));
}

static void a(void *arg)
{
    (void)arg;
    log_name("A");
    soon("g (call_soon from A)");
    CHECK(aio_loop_call_later(loop, &(aio_loop_call_later_args){
        .delay = 0, .callback = log_name, .args = "t (call_later(0) from A)"}));
    soon("h (call_soon from A)");
}
AIO_NAME_CALLBACK(a);

static void t_past(void *arg)
{
    (void)arg;
    log_name("T_past (call_at in the past)");
    soon("p (call_soon from T_past)");
}
AIO_NAME_CALLBACK(t_past);

static void t_zero(void *arg)
{
    (void)arg;
    log_name("T0 (call_later(0) before run)");
    CHECK(aio_loop_call_later(loop, &(aio_loop_call_later_args){
        .delay = 0, .callback = log_name, .args = "t2 (call_later(0) from T0)"}));
}
AIO_NAME_CALLBACK(t_zero);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    CHECK(aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = 0, .callback = t_zero}));
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = a}));
    CHECK(aio_loop_call_at(loop, &(aio_loop_call_at_args){
        .when = aio_loop_time(loop) - 1, .callback = t_past}));
    CHECK(aio_loop_run_forever(loop) == 0);
    printf("stopped at iteration %d\n", it);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
