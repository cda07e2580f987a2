/* How many loop iterations a task takes to resume: a future completed in
 * iteration N (by a callback or by another task) resumes the awaiting task
 * in N+1, since the wakeup is a done callback scheduled at completion; a task
 * awaiting another task resumes one iteration after that task returns (two
 * tasks deep, two iterations after the future); sleep(0) and sleep(-1) yield
 * for exactly one iteration; awaiting a future that is already done does not
 * yield at all. */
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

typedef struct completion {
    aio_future *fut;
    const char *value;
} completion;

static void complete(void *arg)
{
    completion *c = arg;
    printf("iteration %d callback completes the future\n", it);
    CHECK(aio_future_set_result(c->fut, (void *)c->value) == 0);
}
AIO_NAME_CALLBACK(complete);

static void *wait_on(const char *label, aio_future *fut)
{
    int start = it;
    const char *value = aio_await(fut);
    CHECK(value);
    printf("iteration %d %s resumed with %s after %d iterations\n", it, label, value, it - start);
    return (void *)value;
}

static void *setter(void *arg)
{
    printf("iteration %d setter task completes the future\n", it);
    CHECK(aio_future_set_result(arg, "from a task") == 0);
    return NULL;
}
AIO_NAME_CALLBACK(setter);

static void *inner_returns(void *arg)
{
    (void)arg;
    if (aio_sleep(0) < 0)
        return NULL;
    printf("iteration %d inner returns\n", it);
    return "inner value";
}
AIO_NAME_CALLBACK(inner_returns);

static void *middle(void *arg)
{
    return wait_on("middle", arg);
}
AIO_NAME_CALLBACK(middle);

static aio_task *create(aio_coroutine coro, void *arg)
{
    aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = coro, .coro_arg = arg});
    CHECK(t);
    return t;
}

static void *main_coro(void *arg)
{
    (void)arg;
    aio_future *fut = aio_loop_create_future(loop);
    completion c1 = {fut, "from a callback"};
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = complete, .args = &c1}));
    wait_on("main (callback)", fut);
    aio_decref(fut);

    fut = aio_loop_create_future(loop);
    aio_decref(create(setter, fut));
    wait_on("main (task)", fut);
    aio_decref(fut);

    aio_task *t = create(inner_returns, NULL);
    wait_on("main (awaiting a task)", t);
    aio_decref(t);

    fut = aio_loop_create_future(loop);
    aio_task *mid = create(middle, fut);
    completion c2 = {fut, "two tasks deep"};
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = complete, .args = &c2}));
    wait_on("main (task awaiting a task)", mid);
    aio_decref(mid);
    aio_decref(fut);

    static const struct {
        double delay;
        const char *repr;
    } delays[] = {{0, "0"}, {-1, "-1"}, {0.0, "0.0"}};
    for (size_t i = 0; i < 3; i++) {
        int start = it;
        CHECK(aio_sleep(delays[i].delay) == 0);
        printf("iteration %d sleep(%s) took %d iterations\n", it, delays[i].repr, it - start);
    }

    aio_future *done = aio_loop_create_future(loop);
    CHECK(aio_future_set_result(done, "already there") == 0);
    wait_on("main (done future)", done);
    int start = it;
    for (int i = 0; i < 3; i++)
        CHECK(aio_await(done));
    printf("iteration %d three awaits of a done future took %d iterations\n", it, it - start);
    aio_decref(done);
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    aio_task *m = create(main_coro, NULL);
    aio_loop_run_until_complete(loop, m);
    CHECK(!aio_err_occurred());
    aio_decref(m);
    printf("ended at iteration %d\n", it);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
