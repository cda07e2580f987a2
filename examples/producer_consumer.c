/* Producers and a consumer as tasks, passing items through a queue:
 * gather() runs them together, and wait_for() gives up on a job that takes
 * too long.
 *
 *   async def producer(queue, name, delay):
 *       for i in range(3):
 *           await asyncio.sleep(delay)
 *           await queue.put(f'{name}{i}')
 *       return name
 *
 *   async def consumer(queue, count):
 *       for _ in range(count):
 *           print('consumed', await queue.get())
 *           queue.task_done()
 *       return count
 *
 *   async def slow_job():
 *       await asyncio.sleep(10)
 *
 *   async def main():
 *       queue = asyncio.Queue()
 *       results = await asyncio.gather(producer(queue, 'a', 0.01),
 *                                      producer(queue, 'b', 0.015),
 *                                      consumer(queue, 6))
 *       print('gathered', results)
 *       try:
 *           await asyncio.wait_for(slow_job(), timeout=0.05)
 *       except TimeoutError:
 *           print('slow job timed out')
 *
 *   asyncio.run(main())
 */
#include <stdint.h>
#include <stdio.h>

#include <casyncio.h>

struct producer_args {
    aio_queue *queue;
    const char *name;
    const char *items[3];   /* f'{name}{i}' */
    double delay;
};

static void *producer(void *arg)
{
    struct producer_args *p = arg;
    for (int i = 0; i < 3; i++) {
        if (aio_sleep(p->delay) < 0 || aio_queue_put(p->queue, (void *)p->items[i]) < 0)
            return NULL;
    }
    return (void *)p->name;
}
AIO_NAME_CALLBACK(producer);

static void *consumer(void *arg)
{
    aio_queue *queue = arg;
    for (int i = 0; i < 6; i++) {
        const char *item = aio_queue_get(queue);
        if (item == NULL)
            return NULL;
        printf("consumed %s\n", item);
        aio_queue_task_done(queue);
    }
    return (void *)(intptr_t)6;
}
AIO_NAME_CALLBACK(consumer);

static void *slow_job(void *arg)
{
    (void)arg;
    return aio_sleep(10) < 0 ? NULL : "finished";
}
AIO_NAME_CALLBACK(slow_job);

static aio_task *spawn(aio_coroutine coro, void *arg)
{
    return aio_loop_create_task(aio_get_running_loop(),
                                &(aio_loop_create_task_args){.coro = coro, .coro_arg = arg});
}

static void *main_coro(void *arg)
{
    (void)arg;
    aio_queue *queue = aio_queue_new(0);
    if (queue == NULL)
        return NULL;
    /* The arguments live on this task's stack: it outlives the children,
     * since it awaits them. */
    struct producer_args a = {queue, "a", {"a0", "a1", "a2"}, 0.01};
    struct producer_args b = {queue, "b", {"b0", "b1", "b2"}, 0.015};
    aio_task *tasks[3] = {spawn(producer, &a), spawn(producer, &b), spawn(consumer, queue)};
    aio_future *all = aio_gather(tasks, 3, NULL);
    const aio_gather_list *results = aio_await(all);
    if (results != NULL)
        printf("gathered ['%s', '%s', %d]\n", (const char *)results->items[0].result,
               (const char *)results->items[1].result, (int)(intptr_t)results->items[2].result);
    aio_decref(all);
    for (int i = 0; i < 3; i++)
        aio_decref(tasks[i]);
    aio_decref(queue);
    if (results == NULL)
        return NULL;

    aio_task *slow = spawn(slow_job, NULL);
    void *r = aio_wait_for(slow, 0.05);
    aio_decref(slow);
    if (r == NULL && aio_err_matches(aio_TimeoutError)) {
        aio_err_clear();
        printf("slow job timed out\n");
    }
    return aio_err_occurred() ? NULL : "ok";
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    if (aio_run(main_coro, NULL, NULL) == NULL) {
        aio_err_print();
        return 1;
    }
    return 0;
}
