/* taskgroups.c - asyncio.TaskGroup (taskgroups.py, 3.11): tasks created in
 * a group are awaited when the group is exited; the first one that fails
 * cancels the others and the parent task, and the errors come out together
 * as an ExceptionGroup. KeyboardInterrupt and SystemExit come out as they
 * are, and the parent's own cancellation is told from the group's with
 * Task.uncancel(). */
#include <stdlib.h>

#include "casyncio/api.h"
#include "impl.h"
#include "loop.h"
#include "names.h"
#include "task.h"

/* A task of the group: the registration of its done callback, which holds
 * a reference to the group and one to the task, and the link in the
 * group's list (creation order: asyncio's set has an order of its own,
 * by address, which no program can rely on). */
typedef struct member {
    aio_task_group *group;
    aio_task *task;
    struct member *prev, *next;
} member;

struct aio_task_group {
    aio__object ob;
    bool entered;
    bool exiting;
    bool aborting;
    bool parent_cancel_requested;
    bool errors_dropped;           /* raised once: self._errors = None */
    aio_loop *loop;                /* a reference, once entered */
    aio_task *parent;              /* a reference, once entered */
    member *head, *tail;           /* the tasks not done yet */
    size_t ntasks;
    aio_exc **errors;              /* references, in the order they came */
    size_t nerrors, errors_cap;
    aio_exc *base_error;           /* a reference */
    aio_future *on_completed;      /* a reference, while exit waits */
};

static void group_dealloc(void *obj)
{
    aio_task_group *g = obj;
    /* Every member holds a reference to the group: none is left here. */
    for (size_t i = 0; i < g->nerrors; i++)
        aio__decref(g->errors[i]);
    free(g->errors);
    aio__decref(g->base_error);
    aio__decref(g->on_completed);
    aio__decref(g->parent);
    aio__decref(g->loop);
    free(g);
}

/* "<TaskGroup tasks=2 errors=1 cancelling>" */
static int group_repr(const void *obj, aio__strbuf *out)
{
    const aio_task_group *g = obj;
    aio__sb_append(out, "<TaskGroup");
    if (g->ntasks > 0)
        aio__sb_appendf(out, " tasks=%zu", g->ntasks);
    if (g->nerrors > 0)
        aio__sb_appendf(out, " errors=%zu", g->nerrors);
    if (g->aborting)
        aio__sb_append(out, " cancelling");
    else if (g->entered)
        aio__sb_append(out, " entered");
    return aio__sb_append(out, ">");
}

AIO__DEFINE_TYPE(task_group_type) = {"TaskGroup", group_dealloc, group_repr, 0};

aio_task_group *aio__task_group_new(void)
{
    aio_task_group *g = aio__calloc(1, sizeof *g);
    if (g != NULL)
        aio__object_init(g, &task_group_type);
    return g;
}

static void null_self(const char *name)
{
    aio_err_format(aio_TypeError,
                   "descriptor '%s' for 'TaskGroup' objects doesn't apply to a 'NoneType' object",
                   name);
}

/* RuntimeError(f"TaskGroup {self!r} {what}"). */
static void group_error(aio_task_group *g, const char *what)
{
    char *r = aio_repr(g);
    if (r == NULL)
        return;
    aio_err_format(aio_RuntimeError, "TaskGroup %s %s", r, what);
    free(r);
}

static bool is_base_error(const aio_exc *exc)
{
    return aio_exc_isinstance(exc, aio_SystemExit) || aio_exc_isinstance(exc, aio_KeyboardInterrupt);
}

/* _abort(): cancel every task not done yet. */
static void group_abort(aio_task_group *g)
{
    g->aborting = true;
    for (member *m = g->head; m != NULL; m = m->next)
        if (m->task->state == AIO__FUTURE_PENDING)
            aio__future_cancel_any(m->task, NULL);
}

/* self._errors.append(exc): a new reference. Appending can fail for want
 * of memory only; the error is then kept as the base error if none is, so
 * that the exit still raises something. */
static void add_error(aio_task_group *g, aio_exc *exc)
{
    if (g->nerrors == g->errors_cap) {
        size_t cap = g->errors_cap ? 2 * g->errors_cap : 4;
        aio_exc **grown = realloc(g->errors, cap * sizeof *grown);
        if (grown == NULL) {
            if (g->base_error == NULL)
                g->base_error = aio_incref(exc);
            return;
        }
        g->errors = grown;
        g->errors_cap = cap;
    }
    g->errors[g->nerrors++] = aio_incref(exc);
}

static void unlink_member(aio_task_group *g, member *m)
{
    if (m->prev != NULL)
        m->prev->next = m->next;
    else
        g->head = m->next;
    if (m->next != NULL)
        m->next->prev = m->prev;
    else
        g->tail = m->prev;
    g->ntasks--;
}

/* _on_task_done(task). */
static void on_task_done(aio_future *task, void *arg)
{
    member *m = arg;
    aio_task_group *g = m->group;
    unlink_member(g, m);
    aio__decref(m->task); /* the task lives on: the callback runs with it */
    free(m);

    if (g->on_completed != NULL && g->head == NULL && g->on_completed->state == AIO__FUTURE_PENDING)
        aio__future_finish_result(g->on_completed, NULL, NULL);

    aio_exc *exc = task->state == AIO__FUTURE_FINISHED ? aio__future_exception(task) : NULL;
    if (exc != NULL) {
        add_error(g, exc);
        if (is_base_error(exc) && g->base_error == NULL)
            g->base_error = aio_incref(exc);
        if (g->parent->state != AIO__FUTURE_PENDING) {
            char *trepr = aio_repr(task), *prepr = aio_repr(g->parent);
            if (trepr != NULL && prepr != NULL) {
                aio__strbuf msg = {0};
                aio__sb_appendf(&msg, "Task %s has errored out but its parent task %s is already completed",
                                trepr, prepr);
                if (msg.data != NULL) {
                    aio_exception_context context = {
                        .message = msg.data,
                        .exception = exc,
                        .task = task,
                    };
                    aio__loop_call_exception_handler(g->loop, &context);
                }
                aio__sb_free(&msg);
            }
            free(trepr);
            free(prepr);
            aio_err_clear();
        } else if (!g->aborting && !g->parent_cancel_requested) {
            /* Stop whatever the parent is doing in the group's body; the
             * exit takes this cancellation back with uncancel(). */
            group_abort(g);
            g->parent_cancel_requested = true;
            aio__future_cancel_any(g->parent, NULL);
        }
    }
    aio__decref(g);
}

int aio_task_group_enter(aio_task_group *g)
{
    if (g == NULL) {
        null_self("__aenter__");
        return -1;
    }
    if (g->entered) {
        group_error(g, "has already been entered");
        return -1;
    }
    if (g->loop == NULL) {
        aio_loop *loop = aio__get_running_loop();
        if (loop == NULL)
            return -1;
        g->loop = aio_incref(loop);
    }
    aio_task *parent = aio__current_task(g->loop);
    if (parent == NULL) {
        if (!aio_err_occurred())
            group_error(g, "cannot determine the parent task");
        return -1;
    }
    aio__decref(g->parent);
    g->parent = aio_incref(parent);
    g->entered = true;
    return 0;
}

aio_task *aio__task_group_create_task(aio_task_group *g, aio_coroutine coro, void *coro_arg,
                                      const aio__task_group_create_task_args *args)
{
    if (!g->entered) {
        group_error(g, "has not been entered");
        return NULL;
    }
    if (g->exiting && g->head == NULL) {
        group_error(g, "is finished");
        return NULL;
    }
    if (g->aborting) {
        group_error(g, "is shutting down");
        return NULL;
    }
    member *m = aio__calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    aio_task *task = aio__loop_create_task(g->loop, &(aio__loop_create_task_args){
                                                        .coro = coro,
                                                        .coro_arg = coro_arg,
                                                        .name = args->name,
                                                        .context = args->context,
                                                    });
    if (task == NULL) {
        free(m);
        return NULL;
    }
    m->group = g;
    m->task = aio_incref(task);
    if (aio__future_add_done_callback(task, &(aio__future_add_done_callback_args){
                                                .callback = on_task_done,
                                                .callback_arg = m,
                                            }) < 0) {
        /* Out of memory: a task the group cannot follow must not run. */
        aio_exc *exc = aio_err_fetch();
        aio__future_cancel_any(task, NULL);
        aio_err_restore(exc);
        aio__decref(task);
        aio__decref(task);
        free(m);
        return NULL;
    }
    aio_incref(g);
    m->prev = g->tail;
    if (g->tail != NULL)
        g->tail->next = m;
    else
        g->head = m;
    g->tail = m;
    g->ntasks++;
    return task;
}

/* Raises exc (a reference, taken over) as the exit's outcome, with the
 * exception the exit was given as its context, as `raise` in __aexit__
 * sets it. */
static int raise_from_exit(aio_exc *exc, aio_exc *given)
{
    if (given != NULL && given != exc && aio_exc_context(exc) == NULL)
        aio_exc_set_context(exc, given);
    aio_err_restore(exc);
    return -1;
}

int aio_task_group_exit(aio_task_group *g)
{
    if (g == NULL)
        return -1; /* what made it NULL is still set */
    if (aio__task_running("aio_task_group_exit()") == NULL)
        return -1;
    aio_exc *exc = aio_err_fetch(); /* exc_val; et is its type */
    g->exiting = true;
    if (exc != NULL && is_base_error(exc) && g->base_error == NULL)
        g->base_error = aio_incref(exc);

    /* 3.13: CancelledError's subclasses count as it; the group takes its
     * own cancellation of the parent back after its tasks are done (not at
     * all when a base error ends it), where earlier versions do it first. */
    bool v313 = aio_loop_get_target_version(g->loop) >= AIO_PY(3, 13);
    bool body_cancelled = exc != NULL && (v313 ? aio_exc_isinstance(exc, aio_CancelledError)
                                               : aio_exc_type_of(exc) == aio_CancelledError);
    aio_exc *propagate = NULL; /* propagate_cancellation_error, a reference */
    if (body_cancelled)
        propagate = aio_incref(exc);
    if (!v313 && g->parent_cancel_requested && g->parent != NULL) {
        /* The group cancelled the parent: that cancellation is its own. */
        if (aio__task_uncancel(g->parent) == 0)
            aio__decref(propagate), propagate = NULL;
    }
    if (exc != NULL && !g->aborting)
        group_abort(g); /* the body failed, or the parent is cancelled */

    while (g->head != NULL) {
        if (g->on_completed == NULL) {
            g->on_completed = aio__loop_create_future(g->loop);
            if (g->on_completed == NULL) {
                aio__decref(propagate);
                aio__decref(exc);
                return -1;
            }
        }
        if (aio_await(g->on_completed) == NULL && aio_err_occurred()) {
            aio_exc *ex = aio_err_fetch();
            if (aio_exc_isinstance(ex, aio_CancelledError) && !g->aborting) {
                /* The parent is cancelled while its tasks still run. */
                aio__decref(propagate);
                propagate = aio_incref(ex);
                group_abort(g);
            }
            aio__decref(ex);
        }
        aio__decref(g->on_completed);
        g->on_completed = NULL;
    }

    int rc = 0;
    if (v313 && g->base_error == NULL && g->parent_cancel_requested && g->parent != NULL) {
        if (aio__task_uncancel(g->parent) == 0)
            aio__decref(propagate), propagate = NULL;
    }
    if (g->base_error != NULL) {
        rc = raise_from_exit(aio_incref(g->base_error), exc);
    } else if (propagate != NULL && g->nerrors == 0) {
        /* CancelledError, unless there are errors: those come first. */
        rc = raise_from_exit(aio_incref(propagate), exc == propagate ? NULL : exc);
    } else {
        if (exc != NULL && !body_cancelled && !g->errors_dropped)
            add_error(g, exc);
        if (g->nerrors > 0 && v313 && g->parent != NULL &&
            aio__task_cancelling(g->parent) > 0) {
            /* cancelled from outside the group too: uncancel() and
             * cancel() again keep the count as it is */
            aio__task_uncancel(g->parent);
            aio_task_cancel(g->parent, NULL);
        }
        if (g->nerrors > 0) {
            aio_exc *eg = aio_exc_group_new("unhandled errors in a TaskGroup", g->errors, g->nerrors);
            for (size_t i = 0; i < g->nerrors; i++)
                aio__decref(g->errors[i]);
            g->nerrors = 0;
            g->errors_dropped = true;
            if (eg == NULL) {
                rc = -1; /* MemoryError */
            } else {
                /* `raise me from None`: the exception handled stays its
                 * context, the cause is suppressed. */
                rc = raise_from_exit(eg, exc);
            }
        }
    }
    aio__decref(propagate);
    aio__decref(exc);
    return rc;
}

/* What reprs and logs call this callback: CPython's name for it. */
AIO__NAME(on_task_done, "TaskGroup._on_task_done", AIO__NAME_SELF_ARG);
