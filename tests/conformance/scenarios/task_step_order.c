/* Task steps share the loop's FIFO queue with call_soon() callbacks:
 * create_task() schedules the first step with call_soon, so the body starts
 * on the next iteration, after the callbacks queued before create_task() and
 * before those queued after it; each sleep(0) puts the next step at the back
 * of the queue. A task created from a callback or from another task starts
 * one iteration later. current_task() is the task whose step runs, None in a
 * plain callback; default names count Task-1, Task-2, ... in creation order. */
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
    aio_task *current = aio_current_task(loop);
    printf("iteration %d %s current: %s\n", it, (const char *)what,
           current ? aio_task_get_name(current) : "None");
}
AIO_NAME_CALLBACK(say);

static void soon(aio_callback cb, void *arg)
{
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = cb, .args = arg}));
}

typedef struct spec {
    const char *label;
    int n;
} spec;

static void *body(void *arg)
{
    spec *s = arg;
    for (int i = 0; i < s->n; i++) {
        printf("iteration %d %s step %d current: %s\n", it, s->label, i,
               aio_task_get_name(aio_current_task(NULL)));
        if (aio_sleep(0) < 0)
            return NULL;
    }
    printf("iteration %d %s returns\n", it, s->label);
    return (void *)s->label;
}
AIO_NAME_CALLBACK(body);

static spec s1 = {"t1", 3}, s2 = {"t2", 2}, s_grand = {"grandchild", 1},
            s_cb = {"from callback", 1};

static aio_task *create(aio_coroutine coro, void *arg, const char *name)
{
    aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){
                                                 .coro = coro, .coro_arg = arg, .name = name});
    CHECK(t);
    return t;
}

static void *spawner(void *arg)
{
    (void)arg;
    printf("iteration %d spawner runs\n", it);
    soon(say, "queued by spawner");
    aio_task *child = create(body, &s_grand, NULL);
    soon(say, "queued by spawner after create_task");
    printf("iteration %d spawner created %s\n", it, aio_task_get_name(child));
    void *result = aio_await(child);
    aio_decref(child);
    return result;
}
AIO_NAME_CALLBACK(spawner);

static void from_callback(void *arg)
{
    (void)arg;
    say("from_callback");
    aio_task *t = create(body, &s_cb, NULL);
    soon(say, "queued after the callback's create_task");
    printf("iteration %d callback created %s\n", it, aio_task_get_name(t));
    aio_decref(t);
}
AIO_NAME_CALLBACK(from_callback);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    soon(tick, NULL);
    soon(say, "callback A");
    aio_task *t1 = create(body, &s1, NULL);
    soon(say, "callback B");
    aio_task *t2 = create(body, &s2, "second");
    soon(say, "callback C");
    soon(from_callback, NULL);
    aio_task *t3 = create(spawner, NULL, NULL);
    printf("created: %s %s %s\n", aio_task_get_name(t1), aio_task_get_name(t2),
           aio_task_get_name(t3));
    printf("done before running: %s %s %s\n", py_bool(aio_future_done(t1)),
           py_bool(aio_future_done(t2)), py_bool(aio_future_done(t3)));
    const char *r = aio_loop_run_until_complete(loop, t1);
    CHECK(r);
    printf("result t1: %s\n", r);
    printf("t2 done: %s result: %s\n", py_bool(aio_future_done(t2)),
           (const char *)aio_future_result(t2));
    r = aio_loop_run_until_complete(loop, t3);
    CHECK(r);
    printf("result t3: %s\n", r);
    printf("ended at iteration %d\n", it);
    aio_decref(t1);
    aio_decref(t2);
    aio_decref(t3);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
