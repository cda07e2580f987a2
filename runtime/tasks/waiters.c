/* waiters.c - queues of waiting tasks and the loop binding of asyncio's
 * locks and queues (see waiters.h). */
#include <stdlib.h>

#include "casyncio/tasks.h"
#include "impl.h"
#include "loop.h"
#include "waiters.h"

static void waiter_dealloc(void *obj)
{
    aio__waiter *w = obj;
    if (!aio__future_finalize(&w->fut))
        return;
    aio__future_clear(&w->fut);
    free(w);
}

AIO__DEFINE_TYPE(waiter_type) = {"Future", waiter_dealloc, aio__future_repr, 0};

aio_loop *aio__bind_loop(aio_loop **bound, const void *obj)
{
    aio_loop *loop = aio__running_loop();
    if (*bound == NULL && loop != NULL)
        *bound = aio_incref(loop);
    aio_task *task = loop != NULL ? aio__current_task(loop) : NULL;
    if (loop != NULL && loop != *bound && task != NULL &&
        aio_loop_get_target_version(loop) < AIO_PY(3, 10)) {
        /* Up to 3.9 the object made its future on its own loop and the
         * awaiting task refused it (thrown into the coroutine one step
         * later there; here at once). */
        char *repr = aio_repr(task);
        aio_err_format(aio_RuntimeError,
                       "Task %s got Future <Future pending> attached to a different loop",
                       repr ? repr : "?");
        free(repr);
        return NULL;
    }
    if (loop == NULL || loop != *bound) {
        char *repr = aio_repr(obj);
        aio_err_format(aio_RuntimeError, "%s is bound to a different event loop",
                       repr ? repr : "?");
        free(repr);
        return NULL;
    }
    return loop;
}

aio__waiter *aio__waiter_append(aio__waiters *list, aio_loop *loop)
{
    aio__waiter *w = aio__calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    aio__future_init(&w->fut, &waiter_type, loop);
    aio__incref(w); /* the queue's */
    w->list = list;
    w->prev = list->tail;
    if (list->tail != NULL)
        list->tail->next = w;
    else
        list->head = w;
    list->tail = w;
    list->len++;
    return w;
}

static void unlink_waiter(aio__waiter *w)
{
    aio__waiters *list = w->list;
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        list->head = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    else
        list->tail = w->prev;
    list->len--;
    w->prev = w->next = NULL;
    w->list = NULL;
}

void aio__waiter_remove(aio__waiter *w)
{
    if (w->list == NULL)
        return;
    unlink_waiter(w);
    aio__decref(w);
}

aio__waiter *aio__waiter_popleft(aio__waiters *list)
{
    aio__waiter *w = list->head;
    if (w != NULL)
        unlink_waiter(w);
    return w;
}

void aio__waiters_clear(aio__waiters *list)
{
    aio__waiter *w;
    while ((w = aio__waiter_popleft(list)) != NULL)
        aio__decref(w);
}

void aio__waiter_wake(aio__waiter *w)
{
    if (w->fut.state == AIO__FUTURE_PENDING)
        aio__future_finish_result(&w->fut, NULL, NULL);
}

int aio__waiter_await(aio__waiter *w)
{
    return aio_await(&w->fut) == NULL && aio_err_occurred() ? -1 : 0;
}
