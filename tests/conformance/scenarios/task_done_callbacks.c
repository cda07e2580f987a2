/* Done callbacks of a task run in registration order one iteration after the
 * task returns, interleaved with the wakeups of the tasks awaiting it (each
 * await registers one when it suspends); remove_done_callback() removes
 * every registration of a callback and returns the count; a callback added
 * to a finished task is scheduled at once and runs on the next iteration. A
 * task that raises has its callbacks run the same way, and they see the
 * exception. */
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

static void report(const char *name, aio_future *t)
{
    printf("iteration %d %s for %s ", it, name, aio_task_get_name(t));
    if (aio_future_cancelled(t))
        printf("cancelled\n");
    else if (aio_future_exception(t) != NULL)
        printf("raised %s\n", aio_exc_type_of(aio_future_exception(t))->name);
    else
        printf("result %d\n", (int)(intptr_t)aio_future_result(t));
}

static void cb1(aio_future *t, void *arg) { (void)arg; report("cb1", t); }
static void cb2(aio_future *t, void *arg) { (void)arg; report("cb2", t); }
static void cb3(aio_future *t, void *arg) { (void)arg; report("cb3", t); }
static void late(aio_future *t, void *arg) { (void)arg; report("late", t); }
static void never_added(aio_future *t, void *arg) { (void)arg; report("never added", t); }

static void add(aio_future *t, aio_done_callback cb)
{
    CHECK(aio_future_add_done_callback(t, &(aio_future_add_done_callback_args){.callback = cb}) == 0);
}
AIO_NAME_CALLBACK(never_added);
AIO_NAME_CALLBACK(late);
AIO_NAME_CALLBACK(cb3);
AIO_NAME_CALLBACK(cb2);
AIO_NAME_CALLBACK(cb1);

static void *body(void *arg)
{
    (void)arg;
    if (aio_sleep(0) < 0)
        return NULL;
    printf("iteration %d body returns\n", it);
    return (void *)7;
}
AIO_NAME_CALLBACK(body);

static void *failing(void *arg)
{
    (void)arg;
    if (aio_sleep(0) < 0)
        return NULL;
    printf("iteration %d failing raises\n", it);
    aio_err_set(aio_KeyError, "boom");
    return NULL;
}
AIO_NAME_CALLBACK(failing);

static void *waiter(void *arg)
{
    aio_task *t = arg;
    printf("iteration %d waiter awaits %s\n", it, aio_task_get_name(t));
    void *value = aio_await(t);
    if (value == NULL && aio_err_matches(aio_KeyError)) {
        aio_exc *e = aio_err_fetch();
        printf("iteration %d waiter resumed with KeyError %s\n", it, aio_exc_str(e));
        aio_decref(e);
    } else {
        CHECK(!aio_err_occurred());
        printf("iteration %d waiter resumed with %d\n", it, (int)(intptr_t)value);
    }
    add(t, late);
    printf("iteration %d waiter added late\n", it);
    return NULL;
}
AIO_NAME_CALLBACK(waiter);

static void rearrange(void *arg)
{
    aio_task *t = arg;
    add(t, cb3);
    add(t, cb2);
    printf("iteration %d removed cb2: %d\n", it, aio_future_remove_done_callback(t, cb2, NULL));
    add(t, cb2);
    printf("iteration %d removed one never added: %d\n", it,
           aio_future_remove_done_callback(t, never_added, NULL));
}
AIO_NAME_CALLBACK(rearrange);

static void *sleep0(void *arg)
{
    (void)arg;
    aio_sleep(0);
    return NULL;
}
AIO_NAME_CALLBACK(sleep0);

static void run(aio_coroutine coro, const char *name)
{
    aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = coro, .name = name});
    CHECK(t);
    add(t, cb1);
    add(t, cb2);
    char wname[64];
    snprintf(wname, sizeof wname, "waiter-%s", name);
    aio_task *w = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = waiter, .coro_arg = t, .name = wname});
    CHECK(w);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = rearrange, .args = t}));
    aio_loop_run_until_complete(loop, w);
    CHECK(!aio_err_occurred());
    aio_task *s = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = sleep0});
    CHECK(s);
    aio_loop_run_until_complete(loop, s);
    CHECK(!aio_err_occurred());
    printf("after the run, removed cb1: %d\n", aio_future_remove_done_callback(t, cb1, NULL));
    aio_decref(s);
    aio_decref(w);
    aio_decref(t);
}

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    run(body, "returns");
    run(failing, "raises");
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
