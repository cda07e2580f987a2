/* Producers and a consumer as tasks: gather() runs them together, and
 * wait_for() gives up on a job that takes too long.
 *
 *   class Mailbox:
 *       def __init__(self):
 *           self.items, self.waiter = [], None
 *       def put(self, item):
 *           self.items.append(item)
 *           if self.waiter is not None and not self.waiter.done():
 *               self.waiter.set_result(None)
 *       async def get(self):
 *           while not self.items:
 *               self.waiter = asyncio.get_running_loop().create_future()
 *               await self.waiter
 *           return self.items.pop(0)
 *
 *   async def producer(box, name, delay):
 *       for i in range(3):
 *           await asyncio.sleep(delay)
 *           box.put(f'{name}{i}')
 *       return name
 *
 *   async def consumer(box, count):
 *       for _ in range(count):
 *           print('consumed', await box.get())
 *       return count
 *
 *   async def slow_job():
 *       await asyncio.sleep(10)
 *
 *   async def main():
 *       box = Mailbox()
 *       results = await asyncio.gather(producer(box, 'a', 0.01),
 *                                      producer(box, 'b', 0.015),
 *                                      consumer(box, 6))
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
#include <string.h>

#include <casyncio.h>

typedef struct mailbox {
    char items[8][8];
    size_t len;
    aio_future *waiter;
} mailbox;

static void mailbox_put(mailbox *box, const char *item)
{
    snprintf(box->items[box->len++], sizeof box->items[0], "%s", item);
    if (box->waiter != NULL && !aio_future_done(box->waiter))
        aio_future_set_result(box->waiter, NULL);
}

/* A coroutine: the first item, waiting for one when there is none. The
 * item is copied into out. 0, or -1 with the exception set (cancelled). */
static int mailbox_get(mailbox *box, char *out, size_t size)
{
    while (box->len == 0) {
        box->waiter = aio_loop_create_future(aio_get_running_loop());
        if (box->waiter == NULL)
            return -1;
        int failed = aio_await(box->waiter) == NULL && aio_err_occurred();
        aio_decref(box->waiter);
        box->waiter = NULL;
        if (failed)
            return -1;
    }
    snprintf(out, size, "%s", box->items[0]);
    memmove(box->items[0], box->items[1], --box->len * sizeof box->items[0]);
    return 0;
}

struct producer_args {
    mailbox *box;
    const char *name;
    double delay;
};

static void *producer(void *arg)
{
    struct producer_args *p = arg;
    for (int i = 0; i < 3; i++) {
        if (aio_sleep(p->delay) < 0)
            return NULL;
        char item[8];
        snprintf(item, sizeof item, "%s%d", p->name, i);
        mailbox_put(p->box, item);
    }
    return (void *)p->name;
}
AIO_NAME_CALLBACK(producer);

static void *consumer(void *arg)
{
    mailbox *box = arg;
    for (int i = 0; i < 6; i++) {
        char item[8];
        if (mailbox_get(box, item, sizeof item) < 0)
            return NULL;
        printf("consumed %s\n", item);
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
    mailbox box = {0};
    /* The arguments live on this task's stack: it outlives the children,
     * since it awaits them. */
    struct producer_args a = {&box, "a", 0.01}, b = {&box, "b", 0.015};
    aio_task *tasks[3] = {spawn(producer, &a), spawn(producer, &b), spawn(consumer, &box)};
    aio_future *all = aio_gather(tasks, 3, NULL);
    const aio_gather_list *results = aio_await(all);
    if (results != NULL)
        printf("gathered ['%s', '%s', %d]\n", (const char *)results->items[0].result,
               (const char *)results->items[1].result, (int)(intptr_t)results->items[2].result);
    aio_decref(all);
    for (int i = 0; i < 3; i++)
        aio_decref(tasks[i]);
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
