/* run_in_executor(): a function's result and its exception come back to the
 * awaiting task; with one worker the results keep the submission order;
 * the default executor is made on first use; set_default_executor() takes
 * only a ThreadPoolExecutor (3.11's TypeError); after
 * shutdown_default_executor() the default executor refuses work with
 * RuntimeError while another executor still works; a closed loop refuses
 * run_in_executor() itself. (Results are integers carried in pointers.) */
#include "conformance.h"

static aio_loop *loop;

static void *double_it(void *arg)
{
    return (void *)((intptr_t)arg * 2);
}
AIO_NAME_CALLBACK(double_it);

static void *fail(void *arg)
{
    aio_err_format(aio_ValueError, "boom %d", (int)(intptr_t)arg);
    return NULL;
}
AIO_NAME_CALLBACK(fail);

#define N(x) ((void *)(intptr_t)(x))

static intptr_t await_int(aio_future *fut)
{
    CHECK(fut);
    intptr_t r = (intptr_t)aio_await(fut);
    aio_decref(fut);
    return r;
}

static void *main_coro(void *arg)
{
    (void)arg;
    printf("result: %d\n", (int)await_int(aio_loop_run_in_executor(loop, NULL, double_it, N(21), NULL)));
    aio_future *f = aio_loop_run_in_executor(loop, NULL, fail, N(1), NULL);
    CHECK(f);
    if (aio_await(f) == NULL && aio_err_occurred())
        print_raised("raised");
    aio_decref(f);
    f = aio_loop_run_in_executor(loop, NULL, double_it, N(5), NULL);
    CHECK(f);
    printf("is a future: True done at once: %s\n", py_bool(aio_future_done(f)));
    printf("awaited: %d\n", (int)await_int(f));

    aio_executor *one = aio_thread_pool_executor_new(&(aio_thread_pool_executor_args){.max_workers = 1});
    CHECK(one);
    aio_future *futs[5];
    for (int n = 1; n <= 5; n++)
        CHECK(futs[n - 1] = aio_loop_run_in_executor(loop, one, double_it, N(n), NULL));
    aio_future *all = aio_gather(futs, 5, NULL);
    CHECK(all);
    const aio_gather_list *list = aio_await(all);
    CHECK(list);
    printf("in order: [");
    for (size_t i = 0; i < list->len; i++)
        printf("%s%d", i ? ", " : "", (int)(intptr_t)list->items[i].result);
    printf("]\n");
    aio_decref(all);
    for (int i = 0; i < 5; i++)
        aio_decref(futs[i]);

    if (aio_loop_set_default_executor(loop, NULL) < 0)
        print_raised("set_default_executor(None)");
    aio_executor *mine = aio_thread_pool_executor_new(&(aio_thread_pool_executor_args){.max_workers = 2});
    CHECK(aio_loop_set_default_executor(loop, mine) == 0);
    printf("mine: %d\n", (int)await_int(aio_loop_run_in_executor(loop, NULL, double_it, N(50), NULL)));

    f = aio_loop_shutdown_default_executor(loop, NULL);
    CHECK(f);
    CHECK(aio_await(f) == NULL && !aio_err_occurred());
    aio_decref(f);
    printf("shutdown_default_executor: None\n");
    if (aio_loop_run_in_executor(loop, NULL, double_it, N(1), NULL) == NULL)
        print_raised("after shutdown");
    if (aio_executor_submit(mine, double_it, N(1)) == NULL)
        print_raised("the pool itself");
    aio_decref(mine);
    printf("another executor: %d\n", (int)await_int(aio_loop_run_in_executor(loop, one, double_it, N(7), NULL)));
    aio_executor_shutdown(one, true, false);
    aio_decref(one);
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = main_coro});
    CHECK(t);
    aio_loop_run_until_complete(loop, t);
    CHECK(!aio_err_occurred());
    aio_decref(t);
    CHECK(aio_loop_close(loop) == 0);
    if (aio_loop_run_in_executor(loop, NULL, double_it, N(1), NULL) == NULL)
        print_raised("closed loop");
    aio_decref(loop);
    return 0;
}
