/* as_completed.c - asyncio.as_completed() and ensure_future() (tasks.py,
 * 3.11). as_completed() hands out, one at a time, the outcome of the next
 * future to complete: the futures' done callbacks put them on a Queue, as
 * asyncio's do, so waiters are served in asyncio's order; a timeout puts a
 * None for every outcome not yet handed out, which becomes TimeoutError. */
#include <math.h>
#include <stdlib.h>

#include "casyncio/api.h"
#include "impl.h"
#include "loop.h"
#include "names.h"
#include "ptrset.h"
#include "task.h"

typedef struct member {
    aio_as_completed_iter *it;
    aio_future *fut;            /* a reference */
    bool in_todo;               /* its callback is registered */
} member;

struct aio_as_completed_iter {
    aio__object ob;
    aio_loop *loop;             /* a reference */
    aio_queue *done;            /* the futures done, or NULL (None) for a timeout */
    member *members;            /* the distinct futures, in argument order */
    size_t n;
    size_t ntodo;               /* how many are still in todo */
    size_t left;                /* outcomes not handed out yet */
    aio_handle *timeout_handle; /* a reference, while scheduled */
    double timeout;             /* 0: None; AIO_ZERO: 0 */
    bool started;               /* the first next() came: the timer runs */
};

static void on_completion(aio_future *fut, void *arg);

static void iter_dealloc(void *obj)
{
    aio_as_completed_iter *it = obj;
    /* No callback is left: each registered one holds a reference. */
    aio__handle_drop(&it->timeout_handle);
    for (size_t i = 0; i < it->n; i++)
        aio__decref(it->members[i].fut);
    free(it->members);
    aio__decref(it->done);
    aio__decref(it->loop);
    free(it);
}

/* What Python shows for the generator object as_completed() returns. */
static int iter_repr(const void *obj, aio__strbuf *out)
{
    return aio__sb_appendf(out, "<generator object as_completed at %p>", obj);
}

AIO__DEFINE_TYPE(as_completed_type) = {"generator", iter_dealloc, iter_repr, 0};

/* _on_completion(f). The queue never grows here: it was made large enough
 * for every put it can get. The registration's reference to the iterator
 * goes at the end. */
static void on_completion(aio_future *fut, void *arg)
{
    member *m = arg;
    aio_as_completed_iter *it = m->it;
    if (it->ntodo > 0 && m->in_todo) { /* else _on_timeout() was here first */
        m->in_todo = false;
        it->ntodo--;
        aio__queue_put_nowait(it->done, fut);
        if (it->ntodo == 0 && it->timeout_handle != NULL)
            aio__handle_drop(&it->timeout_handle);
    }
    aio__decref(it);
}

/* Takes back the callbacks not scheduled yet, with their references: how
 * many were. A callback already scheduled still runs (and finds nothing
 * left to do). */
static size_t withdraw_callbacks(aio_as_completed_iter *it)
{
    size_t withdrawn = 0;
    for (size_t i = 0; i < it->n; i++) {
        member *m = &it->members[i];
        if (m->in_todo && aio__future_remove_done_callback(m->fut, on_completion, m) > 0)
            withdrawn++;
    }
    return withdrawn;
}

/* _on_timeout(): every future still in todo gives up its callback, and a
 * None is queued for each. */
static void on_timeout(void *arg)
{
    aio_as_completed_iter *it = arg;
    aio__decref(it->timeout_handle);
    it->timeout_handle = NULL;
    size_t withdrawn = withdraw_callbacks(it);
    for (size_t i = 0; i < it->n; i++) {
        member *m = &it->members[i];
        if (!m->in_todo)
            continue;
        m->in_todo = false;
        aio__queue_put_nowait(it->done, NULL);
    }
    it->ntodo = 0;
    while (withdrawn-- > 0)
        aio__decref(it);
}

aio_as_completed_iter *aio__as_completed(aio_future *const *fs, size_t n,
                                         const aio__as_completed_args *args)
{
    if (fs == NULL && n > 0) {
        aio_err_set(aio_TypeError, "'NoneType' object is not iterable");
        return NULL;
    }
    aio_loop *loop = aio_get_event_loop();
    if (loop == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (aio__future_check_ensure(fs[i], loop) < 0)
            return NULL;
    aio__ptrset seen;
    if (aio__ptrset_init(&seen, n) < 0)
        return NULL;
    aio_as_completed_iter *it = aio__calloc(1, sizeof *it);
    if (it == NULL) {
        aio__ptrset_clear(&seen);
        return NULL;
    }
    aio__object_init(it, &as_completed_type);
    it->loop = aio_incref(loop);
    it->members = n > 0 ? aio__calloc(n, sizeof *it->members) : NULL;
    it->done = aio__queue_new(0);
    if ((n > 0 && it->members == NULL) || it->done == NULL)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        if (!aio__ptrset_add(&seen, fs[i]))
            continue;
        member *m = &it->members[it->n++];
        m->it = it;
        m->fut = aio_incref(fs[i]);
    }
    /* Size the queue for the n puts it may get, so that none of them
     * (in a done callback, where nothing can be reported) can fail. */
    for (size_t i = 0; i < it->n; i++)
        if (aio__queue_put_nowait(it->done, NULL) < 0)
            goto fail;
    for (size_t i = 0; i < it->n; i++) {
        aio__queue_get_nowait(it->done);
        aio__queue_task_done(it->done);
    }
    for (size_t i = 0; i < it->n; i++) {
        member *m = &it->members[i];
        if (aio__future_add_done_callback(m->fut, &(aio__future_add_done_callback_args){
                                                      .callback = on_completion,
                                                      .callback_arg = m,
                                                  }) < 0)
            goto fail;
        aio__incref(it);
        m->in_todo = true;
        it->ntodo++;
    }
    it->timeout = args->timeout_is_none ? 0.0
                  : args->timeout == 0.0 ? (double)AIO_ZERO : args->timeout;
    it->left = it->n;
    aio__ptrset_clear(&seen);
    return it;
fail:
    aio__ptrset_clear(&seen);
    {
        aio_exc *exc = aio_err_fetch();
        size_t withdrawn = withdraw_callbacks(it);
        for (size_t i = 0; i < it->n; i++)
            it->members[i].in_todo = false;
        it->ntodo = 0;
        while (withdrawn-- > 0)
            aio__decref(it);
        aio__handle_drop(&it->timeout_handle);
        aio__decref(it);
        aio_err_restore(exc);
    }
    return NULL;
}

size_t aio_as_completed_remaining(aio_as_completed_iter *it)
{
    return it != NULL ? it->left : 0;
}

void *aio_as_completed_next(aio_as_completed_iter *it, aio_future **fut)
{
    if (fut != NULL)
        *fut = NULL;
    if (it == NULL) {
        aio_err_set(aio_TypeError, "'NoneType' object is not an iterator");
        return NULL;
    }
    if (it->left == 0) {
        aio_err_set(aio_StopIteration, NULL);
        return NULL;
    }
    if (aio__task_running("aio_as_completed_next()") == NULL)
        return NULL;
    if (!it->started) {
        /* asyncio's generator starts the timer on its first iteration. */
        if (it->ntodo > 0 && it->timeout != 0) {
            aio_handle *h = aio__loop_call_later(
                it->loop, &(aio__loop_call_later_args){
                              .delay = it->timeout == (double)AIO_ZERO ? 0.0 : it->timeout,
                              .callback = on_timeout,
                              .args = it,
                          });
            if (h == NULL)
                return NULL;
            it->timeout_handle = aio_incref(h);
        }
        it->started = true;
    }
    it->left--; /* handed out: the coroutine is yielded, then awaited */
    aio__incref(it);
    void *result = NULL;
    aio_future *f = aio__queue_get(it->done); /* f = await done.get() */
    if (f == NULL) {
        if (!aio_err_occurred())
            aio_err_set(aio__asyncio_timeout_error(), NULL); /* the dummy of _on_timeout() */
    } else {
        if (fut != NULL)
            *fut = f;
        result = aio__future_result(f);
    }
    aio__decref(it);
    return result;
}

aio_future *aio__ensure_future(aio_future *fut, const aio__ensure_future_args *args)
{
    if (aio__future_check_ensure(fut, args->loop) < 0)
        return NULL;
    return aio_incref(fut);
}

aio_task *aio_ensure_future_coro(aio_coroutine coro, void *coro_arg,
                                 const aio_ensure_future_args *args)
{
    static const aio_ensure_future_args defaults;
    if (args == NULL)
        args = &defaults;
    if (coro == NULL) {
        aio_err_set(aio_TypeError, "An asyncio.Future, a coroutine or an awaitable is required");
        return NULL;
    }
    aio_loop *loop = args->loop != NULL ? args->loop : aio_get_event_loop();
    if (loop == NULL)
        return NULL;
    return aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = coro,
                                                                    .coro_arg = coro_arg});
}

/* What reprs and logs call these callbacks: CPython's names for them. */
AIO__NAME(on_completion, "as_completed.<locals>._on_completion", 0);
AIO__NAME(on_timeout, "as_completed.<locals>._on_timeout", 0);
