/* SystemExit and KeyboardInterrupt raised in a task end the task with that
 * exception and are re-raised out of the loop at once: run_until_complete()
 * raises them in the middle of the iteration, callbacks queued after the
 * step wait for the next run, and the task's pending stop callback does not
 * stop that next run (run_until_complete's callback ignores these two). */
#include "conformance.h"

static aio_loop *loop;
static int it;

static void tick(void *arg)
{
    (void)arg;
    it++;
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
}
AIO_NAME_CALLBACK(tick);

static void say(void *what)
{
    printf("iteration %d %s\n", it, (const char *)what);
}
AIO_NAME_CALLBACK(say);

static void *exiting(void *arg)
{
    const aio_exc_type *type = arg;
    if (aio_sleep(0) < 0)
        return NULL;
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = say, .args = "queued before the raise"}));
    printf("iteration %d raising %s\n", it, type->name);
    if (type == aio_SystemExit)
        aio_err_set(type, "3");
    else
        aio_err_set(type, NULL);
    return NULL;
}
AIO_NAME_CALLBACK(exiting);

static void *settle(void *arg)
{
    static char buf[64];
    for (int i = 0; i < (int)(intptr_t)arg; i++)
        if (aio_sleep(0) < 0)
            return NULL;
    snprintf(buf, sizeof buf, "settled at iteration %d", it);
    return buf;
}
AIO_NAME_CALLBACK(settle);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    const aio_exc_type *types[] = {aio_SystemExit, aio_KeyboardInterrupt};
    for (int i = 0; i < 2; i++) {
        aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){
                                                     .coro = exiting, .coro_arg = (void *)types[i]});
        CHECK(t);
        CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = say, .args = "queued after the task"}));
        aio_loop_run_until_complete(loop, t);
        if (aio_err_occurred()) {
            printf("iteration %d ", it);
            print_raised("escaped");
        }
        aio_exc *e = aio_future_exception(t);
        printf("task done: %s exception: %s running: %s\n", py_bool(aio_future_done(t)),
               e ? aio_exc_type_of(e)->name : "NoneType", py_bool(aio_loop_is_running(loop)));
        aio_decref(t);
        aio_task *s = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = settle, .coro_arg = (void *)3});
        CHECK(s);
        const char *r = aio_loop_run_until_complete(loop, s);
        CHECK(r);
        printf("%s\n", r);
        aio_decref(s);
    }
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
