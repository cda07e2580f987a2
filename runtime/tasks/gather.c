/* gather.c - asyncio.gather() and asyncio.shield() (tasks.py, 3.11). */
#include <string.h>

#include "casyncio/api.h"
#include "impl.h"
#include "loop.h"
#include "ptrset.h"
#include "task.h"
#include "names.h"

/* --- gather ------------------------------------------------------------------ */

/* _GatheringFuture: the outer future, holding its children. */
typedef struct gathering {
    aio_future fut;
    aio_future **children;      /* one per argument, repeated ones shared */
    size_t n_children;
    size_t n_futs;              /* distinct children */
    size_t n_finished;
    bool return_exceptions;
    bool cancel_requested;
    bool abandoned;             /* aio_gather() failed: nobody has it */
} gathering;

static void gathering_dealloc(void *obj)
{
    gathering *g = obj;
    if (!aio__future_finalize(&g->fut))
        return;
    for (size_t i = 0; i < g->n_children; i++)
        aio__decref(g->children[i]);
    free(g->children);
    aio__future_clear(&g->fut);
    free(g);
}

AIO__DEFINE_TYPE(gathering_type) = {"_GatheringFuture", gathering_dealloc, aio__future_repr,
                                    0};

/* _GatheringFuture.cancel(): cancels the children; True if any accepted. */
static int gathering_cancel(aio_future *fut, const char *msg)
{
    gathering *g = (gathering *)fut;
    if (fut->state != AIO__FUTURE_PENDING)
        return 0;
    int accepted = 0;
    for (size_t i = 0; i < g->n_children; i++) {
        int rc = aio__future_cancel_any(g->children[i], msg);
        if (rc < 0)
            return -1;
        accepted |= rc;
    }
    if (accepted)
        g->cancel_requested = true;
    return accepted;
}

static void gather_list_free(void *result)
{
    aio_gather_list *list = result;
    for (size_t i = 0; i < list->len; i++)
        aio__decref(list->items[i].exception);
    free(list);
}

/* The results, in argument order, once every child is done. */
static void gather_complete(gathering *g)
{
    aio_gather_list *list = aio__calloc(1, sizeof *list + g->n_children * sizeof *list->items);
    if (list == NULL) {
        aio__future_fail(&g->fut, NULL);
        return;
    }
    list->items = (aio_gather_item *)(list + 1); /* in the same block */
    list->len = g->n_children;
    for (size_t i = 0; i < g->n_children; i++) {
        aio_future *child = g->children[i];
        if (child->state == AIO__FUTURE_CANCELLED) {
            /* CancelledError('' if fut._cancel_message is None else
             * fut._cancel_message): a task whose function let its
             * CancelledError propagate has no message of its own. */
            const char *msg = child->cancel_message;
            list->items[i].exception = aio_exc_new(aio_CancelledError, msg ? msg : "");
        } else if (child->exception != NULL) {
            child->log_traceback = false;
            list->items[i].exception = aio_incref(child->exception);
        } else {
            list->items[i].result = child->result;
        }
    }
    if (g->cancel_requested) {
        gather_list_free(list);
        /* fut._make_cancelled_error(), fut being the loop variable of the
         * results loop above: the last child in argument order, not the
         * one that finished last. */
        aio__future_fail(&g->fut, aio__future_make_cancelled_error(g->children[g->n_children - 1]));
    } else {
        aio__future_finish_result(&g->fut, list, gather_list_free);
    }
}

/* _done_callback, for each distinct child. Each registration holds a
 * reference to the outer future. */
static void gather_child_done(aio_future *child, void *arg)
{
    gathering *g = arg;
    if (g->abandoned) {
        aio__decref(g);
        return;
    }
    g->n_finished++;
    if (g->fut.state != AIO__FUTURE_PENDING) {
        if (child->state != AIO__FUTURE_CANCELLED)
            child->log_traceback = false; /* fut.exception(): retrieved */
    } else if (!g->return_exceptions && child->state == AIO__FUTURE_CANCELLED) {
        aio__future_fail(&g->fut, aio__future_make_cancelled_error(child));
    } else if (!g->return_exceptions && child->exception != NULL) {
        child->log_traceback = false;
        aio__future_finish_exception(&g->fut, child->exception);
    } else if (g->n_finished == g->n_futs) {
        gather_complete(g);
    }
    aio__decref(g);
}

/* aio_gather() failed after registering its callback on the first
 * `registered` children: it takes them back, so that the caller's futures
 * are left as they were. Those scheduled at once (children already done)
 * cannot be taken back; they only drop their reference when they run. */
static void gather_abandon(gathering *g, size_t registered)
{
    g->abandoned = true;
    for (size_t i = 0; i < registered; i++) {
        int removed = aio__future_remove_done_callback(g->children[i], gather_child_done, g);
        while (removed-- > 0)
            aio__decref(g);
    }
}

aio_future *aio_gather(aio_future *const *aws, size_t n, const aio_gather_args *args)
{
    static const aio_gather_args defaults;
    if (args == NULL)
        args = &defaults;
    if (n == 0) {
        aio_loop *loop = args->loop != NULL ? args->loop : aio__get_event_loop();
        if (loop == NULL)
            return NULL;
        aio_future *outer = aio__loop_create_future(loop);
        aio_gather_list *list = outer != NULL ? aio__calloc(1, sizeof *list) : NULL;
        if (list == NULL) {
            aio__decref(outer);
            return NULL;
        }
        aio__future_finish_result(outer, list, free);
        return outer;
    }
    if (aws == NULL) {
        /* gather(*None) */
        aio_err_set(aio_TypeError,
                    "asyncio.tasks.gather() argument after * must be an iterable, not NoneType");
        return NULL;
    }
    aio_loop *loop = NULL;
    for (size_t i = 0; i < n; i++) {
        if (aio__future_check_ensure(aws[i], loop) < 0)
            return NULL;
        loop = aws[i]->loop; /* ensure_future(arg, loop=loop) after the first */
    }
    /* arg_to_fut: which children were seen already. */
    aio__ptrset seen;
    if (aio__ptrset_init(&seen, n) < 0)
        return NULL;
    gathering *g = aio__calloc(1, sizeof *g);
    aio_future **children = g != NULL ? aio__calloc(n, sizeof *children) : NULL;
    if (children == NULL) {
        free(g);
        aio__ptrset_clear(&seen);
        return NULL;
    }
    aio__future_init(&g->fut, &gathering_type, loop);
    g->fut.cancel = gathering_cancel;
    g->children = children;
    g->n_children = n;
    g->return_exceptions = args->return_exceptions;
    for (size_t i = 0; i < n; i++)
        children[i] = aio_incref(aws[i]);
    /* Every distinct child gets the callback, in argument order. A child
     * already done has its callback scheduled at once. */
    const aio__future_add_done_callback_args add = {
        .callback = gather_child_done,
        .callback_arg = g,
    };
    for (size_t i = 0; i < n; i++) {
        if (!aio__ptrset_add(&seen, aws[i]))
            continue;
        g->n_futs++;
        aio__incref(g);
        if (aio__future_add_done_callback(aws[i], &add) < 0) {
            aio__decref(g);
            gather_abandon(g, i);
            aio__decref(g);
            aio__ptrset_clear(&seen);
            return NULL;
        }
    }
    aio__ptrset_clear(&seen);
    return &g->fut;
}

/* --- shield ----------------------------------------------------------------------- */

/* The outer future keeps the inner one, whose result it shares. */
typedef struct shielded {
    aio_future fut;
    aio_future *inner;
} shielded;

static void shielded_dealloc(void *obj)
{
    shielded *s = obj;
    if (!aio__future_finalize(&s->fut))
        return;
    aio__decref(s->inner);
    aio__future_clear(&s->fut);
    free(s);
}

AIO__DEFINE_TYPE(shielded_type) = {"Future", shielded_dealloc, aio__future_repr, 0};

/* _inner_done_callback: the outer follows the inner unless cancelled. The
 * registration holds a reference to the outer future. */
static void shield_inner_done(aio_future *inner, void *arg)
{
    shielded *s = arg;
    aio_future *outer = &s->fut;
    if (outer->state == AIO__FUTURE_CANCELLED) {
        if (inner->state != AIO__FUTURE_CANCELLED)
            inner->log_traceback = false;
    } else if (outer->state == AIO__FUTURE_PENDING) {
        if (inner->state == AIO__FUTURE_CANCELLED) {
            aio__future_cancel_plain(outer, NULL);
        } else if (inner->exception != NULL) {
            inner->log_traceback = false;
            aio__future_finish_exception(outer, inner->exception);
        } else {
            aio__future_finish_result(outer, inner->result, NULL);
        }
    }
    aio__decref(s);
}

/* _outer_done_callback: a cancelled outer lets go of the inner. */
static void shield_outer_done(aio_future *outer, void *arg)
{
    (void)arg;
    shielded *s = (shielded *)outer;
    if (s->inner->state == AIO__FUTURE_PENDING) {
        int removed = aio__future_remove_done_callback(s->inner, shield_inner_done, s);
        while (removed-- > 0)
            aio__decref(s);
    }
}

aio_future *aio__shield(aio_future *aw)
{
    if (aio__future_check_ensure(aw, NULL) < 0)
        return NULL;
    if (aw->state != AIO__FUTURE_PENDING)
        return aio_incref(aw);
    shielded *s = aio__calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    aio__future_init(&s->fut, &shielded_type, aw->loop);
    s->inner = aio_incref(aw);
    aio__incref(s);
    if (aio__future_add_done_callback(aw, &(aio__future_add_done_callback_args){
                                              .callback = shield_inner_done,
                                              .callback_arg = s,
                                          }) < 0) {
        aio__decref(s);
        aio__decref(s);
        return NULL;
    }
    if (aio__future_add_done_callback(&s->fut, &(aio__future_add_done_callback_args){
                                                   .callback = shield_outer_done,
                                               }) < 0) {
        aio__decref(s);
        return NULL;
    }
    return &s->fut;
}

/* What reprs and logs call these callbacks: CPython's names for them. */
AIO__NAME(gather_child_done, "gather.<locals>._done_callback", AIO__NAME_SELF_ARG);
AIO__NAME(shield_inner_done, "shield.<locals>._inner_done_callback", AIO__NAME_SELF_ARG);
AIO__NAME(shield_outer_done, "shield.<locals>._outer_done_callback", AIO__NAME_SELF_ARG);
