/* task.c - asyncio.Task (the behaviour of CPython's _asyncio.Task, 3.11),
 * with the coroutine a C function on its own stack (see task.h). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "casyncio/api.h"
#include "impl.h"
#include "loop.h"
#include "ptrset.h"
#include "task.h"
#include "hot_memory.h"
#include "names.h"

static void task_dealloc(void *obj);
static int task_repr(const void *obj, aio__strbuf *out);

AIO__DEFINE_TYPE(task_type) = {"Task", task_dealloc, task_repr, 0};

/* Task names count from 1 across the process, as itertools.count() does. */
static atomic_ulong task_name_counter;

static void task_step(aio__task *t, aio_exc *exc);

/* --- The tasks' part of a loop: all_tasks() and current_task() -------------------
 *
 * Two slots per loop (loop.h): the list of its tasks (not holding
 * references) and the one whose step is running. When the loop closes, the
 * tasks still suspended are unwound (tasks_closed). */

static void tasks_closed(aio_loop *loop);

AIO__LOOP_PART(tasks_part) = {
    .name = "tasks", .slots = 2, .order = 100, .closed = tasks_closed};

static inline aio__task **tasks_of(aio_loop *loop)
{
    return (aio__task **)aio__loop_part_slot(loop, &tasks_part);
}

static inline aio__task **current_of(aio_loop *loop)
{
    return (aio__task **)aio__loop_part_slot(loop, &tasks_part) + 1;
}

static void registry_add(aio_loop *loop, aio__task *t)
{
    aio__task **head = tasks_of(loop);
    t->prev = NULL;
    t->next = *head;
    if (*head != NULL)
        (*head)->prev = t;
    *head = t;
}

static void registry_remove(aio_loop *loop, aio__task *t)
{
    aio__task **head = tasks_of(loop);
    if (t->prev != NULL)
        t->prev->next = t->next;
    else if (*head == t)
        *head = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
}

/* --- Creation -------------------------------------------------------------------- */

/* "Task-<n>" without printf: this runs for every task. */
static void default_name(aio__task *t)
{
    unsigned long n = atomic_fetch_add_explicit(&task_name_counter, 1, memory_order_relaxed) + 1;
    char digits[24];
    int len = 0;
    do {
        digits[len++] = (char)('0' + n % 10);
        n /= 10;
    } while (n > 0);
    memcpy(t->name_buf, "Task-", 5);
    for (int i = 0; i < len; i++)
        t->name_buf[5 + i] = digits[len - 1 - i];
    t->name_buf[5 + len] = '\0';
    t->label = t->name_buf;
}

static void task_step_cb(aio_future *fut, void *arg)
{
    (void)arg;
    aio__task *t = (aio__task *)fut;
    aio_exc *exc = t->step_exc;
    t->step_exc = NULL;
    task_step(t, exc);
}

/* call_soon(self.__step, exc, context=self._context); takes exc over. */
static int schedule_step(aio__task *t, aio_exc *exc)
{
    aio__decref(t->step_exc);
    t->step_exc = exc;
    return aio__loop_call_soon_done(t->fut.loop, task_step_cb, &t->fut, NULL, NULL, t->context);
}

/* The next step of a task that is suspended: scheduled as schedule_step()
 * does, and when memory runs out, in the block set aside for it, with the
 * MemoryError thrown in at the await (unless another exception was to be).
 * A suspended task whose step could not be scheduled would wait forever. */
static void schedule_next_step(aio__task *t, aio_exc *exc)
{
    if (schedule_step(t, exc) == 0)
        return;
    aio_loop *loop = t->fut.loop;
    if (t->spare_step == NULL || !aio_err_matches(aio_MemoryError) ||
        aio__loop_check_closed(loop) < 0)
        return; /* the error goes to the handler, as the step's */
    aio_exc *error = aio_err_fetch();
    if (t->step_exc == NULL)
        t->step_exc = error;
    else
        aio__decref(error);
    aio_handle *h = aio__handle_new_done_in(t->spare_step, loop, task_step_cb, &t->fut, NULL,
                                            t->context);
    t->spare_step = NULL;
    if (aio__loop_ready_push(loop, h) < 0)
        aio__decref(h);
}

static void run_and_handle(aio__task *t, aio_exc *exc);

/* Task.__eager_start (3.12): the first step, here and now, with the task
 * as the current one and in its context; the task that called (if any)
 * is current again after. Run from inside a task, the new task's stack
 * is switched to from that task's and back. A task asked to run on the
 * shared stack gets a stack of its own unless it starts from the loop's
 * side: the shared stack may hold a task suspended in this very call. An
 * exception the step lets out (SystemExit, KeyboardInterrupt) and a
 * context that cannot be entered fail the call: 0, or -1 with it set. */
static int eager_start(aio__task *t)
{
    aio_loop *loop = t->fut.loop;
    if (t->shared_stack && aio__coro_current()->stack != NULL)
        t->shared_stack = false;
    aio_exc *pending = aio_err_fetch(); /* the step starts clean */
    if (aio__context_enter(t->context) < 0) {
        aio__decref(pending);
        return -1;
    }
    aio__task *prev = *current_of(loop);
    *current_of(loop) = t;
    aio__incref(t);
    run_and_handle(t, NULL);
    *current_of(loop) = prev;
    aio__context_exit(t->context);
    aio__decref(t);
    if (aio_err_occurred() != NULL) {
        aio__decref(pending);
        return -1;
    }
    aio_err_restore(pending);
    return 0;
}

aio_task *aio__task_new(aio_coroutine coro, void *coro_arg, const aio__task_args *args)
{
    aio_loop *loop = args->loop != NULL ? args->loop : aio__get_event_loop();
    if (loop == NULL)
        return NULL;
    aio__task *t = aio__calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    if ((t->spare_step = aio__pool_alloc()) == NULL) {
        free(t);
        return NULL;
    }
    aio__future_init(&t->fut, &task_type, loop);
    t->fut.is_task = true;
    t->fut.cancel = aio__task_request_cancel;
    registry_add(loop, t);
    if (coro == NULL) {
        aio_err_set(aio_TypeError, "a coroutine was expected, got None");
        aio__decref(t);
        return NULL;
    }
    t->coro = coro;
    t->coro_arg = coro_arg;
    t->stack_size = args->stack_size;
    t->shared_stack = args->shared_stack;
    bool eager = args->eager_start && aio__running_loop() == loop;
    if (args->name != NULL) {
        if ((t->name = aio__strdup(args->name)) == NULL) {
            aio__decref(t);
            return NULL;
        }
        t->label = t->name;
    } else {
        default_name(t);
    }
    t->context = args->context != NULL ? aio_incref(args->context) : aio_copy_context();
    if (t->context == NULL || (eager ? eager_start(t) : schedule_step(t, NULL)) < 0) {
        aio__decref(t);
        return NULL;
    }
    t->log_destroy_pending = t->fut.state == AIO__FUTURE_PENDING;
    return &t->fut;
}

aio_future *aio_eager_task_factory(aio_loop *loop, aio_coroutine coro, void *coro_arg,
                                   void *factory_arg)
{
    (void)factory_arg;
    return aio__task_new(coro, coro_arg, &(aio__task_args){.loop = loop, .eager_start = true});
}

aio_task *aio__loop_create_task(aio_loop *loop, const aio__loop_create_task_args *args)
{
    if (aio__loop_check_closed(loop) < 0)
        return NULL;
    if (loop->task_factory == NULL)
        return aio__task_new(args->coro, args->coro_arg,
                             &(aio__task_args){.loop = loop, .name = args->name,
                                               .context = args->context});
    aio_future *task;
    if (loop->task_factory == aio_eager_task_factory) {
        /* 3.12.1 and 3.13.0 call factory(self, coro, context=context) and
         * name the task after: the eager first step sees the default name. */
        task = aio__task_new(args->coro, args->coro_arg,
                             &(aio__task_args){.loop = loop,
                                               .context = args->context,
                                               .eager_start = true});
    } else if (args->context != NULL) {
        aio_err_set(aio_TypeError, "the task factory takes no context");
        return NULL;
    } else {
        task = loop->task_factory(loop, args->coro, args->coro_arg, loop->task_factory_arg);
    }
    if (task == NULL) {
        if (!aio_err_occurred())
            aio_err_set(aio_TypeError, "the task factory returned None");
        return NULL;
    }
    if (args->name != NULL && task->is_task && aio__task_set_name(task, args->name) < 0) {
        aio__decref(task);
        return NULL;
    }
    return task;
}

/* --- Stepping ---------------------------------------------------------------------- */

/* Runs on the task's own stack: the coroutine function, start to end. */
static void task_entry(void *arg)
{
    aio__task *t = arg;
    void *result = t->coro(t->coro_arg);
    t->outcome_exc = aio_err_fetch();
    t->outcome = t->outcome_exc != NULL ? NULL : result;
    t->run = AIO__TASK_RETURNED;
    aio__coro_exit(aio__coro_current(), t->step_from);
}

/* What __step does when the coroutine returned or raised. */
static void task_finished(aio__task *t)
{
    aio_exc *exc = t->outcome_exc;
    t->outcome_exc = NULL;
    if (exc == NULL) {
        if (t->must_cancel) {
            t->must_cancel = false;
            aio__future_cancel_plain(&t->fut, t->cancel_msg);
        } else {
            aio__future_finish_result(&t->fut, t->outcome, NULL);
        }
    } else if (aio_exc_isinstance(exc, aio_CancelledError)) {
        /* self._cancelled_exc = exc; super().cancel(): the exception,
         * message and all, goes to the first retrieval. */
        aio__future_cancel_plain(&t->fut, NULL);
        aio__decref(t->fut.cancelled_exc);
        t->fut.cancelled_exc = exc;
    } else if (aio_exc_isinstance(exc, aio_SystemExit) ||
               aio_exc_isinstance(exc, aio_KeyboardInterrupt)) {
        aio__future_finish_exception(&t->fut, exc);
        aio_err_restore(exc); /* and re-raised, out of the loop */
    } else {
        aio__future_fail(&t->fut, exc);
    }
}

static void task_wakeup(aio_future *fut, void *arg);

/* What __step does with what the coroutine yielded. */
static void task_yielded(aio__task *t)
{
    if (t->yielded == AIO__YIELD_BARE) {
        schedule_next_step(t, NULL);
        return;
    }
    aio_future *fut = t->awaiting;
    t->awaiting = NULL;
    if (fut->loop != t->fut.loop) {
        char *trepr = aio_repr(t), *frepr = aio_repr(fut);
        schedule_next_step(t, aio_exc_format(aio_RuntimeError,
                                             "Task %s got Future %s attached to a different loop",
                                        trepr ? trepr : "?", frepr ? frepr : "?"));
        free(trepr);
        free(frepr);
        aio__decref(fut);
        return;
    }
    if (fut == &t->fut) {
        char *trepr = aio_repr(t);
        schedule_next_step(t, aio_exc_format(aio_RuntimeError,
                                             "Task cannot await on itself: %s",
                                             trepr ? trepr : "?"));
        free(trepr);
        aio__decref(fut);
        return;
    }
    const aio__future_add_done_callback_args add = {
        .callback = task_wakeup,
        .callback_arg = t,
        .context = t->context,
    };
    if (aio__future_add_done_callback(fut, &add) < 0) {
        /* Nothing would wake the task up: the error is thrown in at its
         * await instead. */
        aio__decref(fut);
        schedule_next_step(t, aio_err_fetch());
        return;
    }
    t->fut_waiter = fut;
    if (t->must_cancel && aio__future_cancel_any(fut, t->cancel_msg) > 0)
        t->must_cancel = false;
}

/* Switches to the task where it stopped, from the loop's side, and back.
 * A task on the shared stack has its stack put back first and set aside
 * again after. */
static void resume(aio__task *t)
{
    t->step_from = aio__coro_current();
    if (t->stack.shared)
        aio__coro_unstash(&t->stack);
    aio__coro_switch(t->step_from, t->resume_at);
    if (t->stack.shared && t->run != AIO__TASK_RETURNED && aio__coro_stash(&t->stack) < 0) {
        /* It could not be resumed without its stack. */
        fprintf(stderr, "casyncio: out of memory setting aside the stack of %s\n", t->label);
        abort();
    }
}

/* Task.__step_run_and_handle_result: send (or throw exc) into the coroutine. */
static void run_and_handle(aio__task *t, aio_exc *exc)
{
    if (t->run == AIO__TASK_NEW) {
        if (exc != NULL) {
            /* Thrown into a coroutine that never started: it raises at once
             * and its body never runs. */
            t->outcome_exc = exc;
            t->run = AIO__TASK_RETURNED;
            task_finished(t);
            return;
        }
        int rc = t->shared_stack ? aio__coro_init_shared(&t->stack, task_entry, t)
                                 : aio__coro_init(&t->stack, t->stack_size, task_entry, t);
        if (rc < 0) {
            t->outcome_exc = aio_err_fetch();
            t->run = AIO__TASK_RETURNED;
            task_finished(t);
            return;
        }
        t->stack.label = &t->label;
        t->resume_at = &t->stack;
        aio__incref(t); /* a function on its stack keeps its task alive */
    } else {
        t->throw_exc = exc;
    }
    t->run = AIO__TASK_RUNNING;
    resume(t);
    if (t->run == AIO__TASK_RETURNED) {
        aio__coro_release(&t->stack);
        task_finished(t);
        aio__decref(t); /* the stack's reference; the step holds another */
    } else {
        task_yielded(t);
    }
}

static void task_step(aio__task *t, aio_exc *exc)
{
    aio_loop *loop = t->fut.loop;
    if (t->fut.state != AIO__FUTURE_PENDING) {
        char *trepr = aio_repr(t);
        char *erepr = aio_repr(exc);
        aio_err_format(aio_InvalidStateError, "_step(): already done: %s, %s", trepr ? trepr : "?",
                       erepr ? erepr : "?");
        free(trepr);
        free(erepr);
        aio__decref(exc);
        return;
    }
    if (t->must_cancel) {
        if (exc == NULL || !aio_exc_isinstance(exc, aio_CancelledError)) {
            aio__decref(exc);
            exc = aio_exc_new(aio_CancelledError, t->cancel_msg);
        }
        t->must_cancel = false;
    }
    aio__decref(t->fut_waiter);
    t->fut_waiter = NULL;
    if (*current_of(loop) != NULL) {
        char *trepr = aio_repr(t), *crepr = aio_repr(*current_of(loop));
        aio_err_format(aio_RuntimeError,
                       "Cannot enter into task %s while another task %s is being executed.",
                       trepr ? trepr : "?", crepr ? crepr : "?");
        free(trepr);
        free(crepr);
        aio__decref(exc);
        return;
    }
    if (AIO_UNLIKELY(t->spare_step == NULL) && (t->spare_step = aio__pool_alloc()) == NULL)
        aio_err_clear(); /* set aside again once memory allows */
    aio__incref(t);
    *current_of(loop) = t;
    run_and_handle(t, exc);
    *current_of(loop) = NULL;
    aio__decref(t);
}

static void task_wakeup(aio_future *fut, void *arg)
{
    aio__task *t = arg;
    aio_exc *exc = NULL;
    if (fut->state == AIO__FUTURE_CANCELLED) {
        exc = aio__future_result_cancelled_error(fut); /* future.result() */
    } else if (fut->exception != NULL) {
        fut->log_traceback = false;
        exc = aio_incref(fut->exception);
    }
    task_step(t, exc);
}

int aio__task_suspend(aio__task *t, aio_future *fut)
{
    if (aio__context_current() != t->context) {
        aio_err_set(aio_RuntimeError, "cannot await inside aio_context_run()");
        return -1;
    }
    t->yielded = fut != NULL ? AIO__YIELD_FUTURE : AIO__YIELD_BARE;
    t->awaiting = aio_incref(fut);
    t->saved_exc = aio_err_fetch();
    t->run = AIO__TASK_SUSPENDED;
    t->resume_at = aio__coro_current();
    aio__coro_switch(t->resume_at, t->step_from);
    /* Resumed by a step. */
    aio_exc *exc = t->throw_exc;
    aio_exc *saved = t->saved_exc;
    t->throw_exc = t->saved_exc = NULL;
    if (exc != NULL) {
        aio__decref(saved);
        aio_err_restore(exc);
        return -1;
    }
    aio_err_restore(saved);
    return 0;
}

aio__task *aio__task_running(const char *what)
{
    aio_loop *loop = aio__running_loop();
    aio__task *t = loop != NULL ? *current_of(loop) : NULL;
    if (t == NULL || aio__coro_current()->stack == NULL) {
        aio_err_format(aio_RuntimeError, "%s must be called from inside a task", what);
        return NULL;
    }
    return t;
}

/* --- Awaiting ------------------------------------------------------------------------ */

void *aio_await(aio_future *fut)
{
    if (fut == NULL) {
        aio_err_set(aio_TypeError, "object NoneType can't be used in 'await' expression");
        return NULL;
    }
    aio__task *t = aio__task_running("aio_await()");
    if (t == NULL)
        return NULL;
    if (fut->state == AIO__FUTURE_PENDING) {
        if (aio__task_suspend(t, fut) < 0)
            return NULL;
        if (fut->state == AIO__FUTURE_PENDING) {
            aio_err_set(aio_RuntimeError, "await wasn't used with future");
            return NULL;
        }
    } else if (fut->yield_on_await) {
        /* the coroutine's closing `await sleep(0)` */
        fut->yield_on_await = false;
        if (aio__task_suspend(t, NULL) < 0)
            return NULL;
    }
    return aio__future_result(fut);
}

/* --- Task methods ---------------------------------------------------------------------- */

int aio__task_request_cancel(aio_future *fut, const char *msg)
{
    aio__task *t = (aio__task *)fut;
    fut->log_traceback = false;
    if (fut->state != AIO__FUTURE_PENDING)
        return 0;
    t->num_cancels_requested++;
    if (t->fut_waiter != NULL) {
        int rc = aio__future_cancel_any(t->fut_waiter, msg);
        if (rc != 0)
            return rc;
    }
    char *copy = NULL;
    if (msg != NULL && (copy = aio__strdup(msg)) == NULL)
        return -1;
    free(t->cancel_msg);
    t->cancel_msg = copy;
    t->must_cancel = true;
    return 1;
}

static aio__task *as_task(aio_task *task, const char *method)
{
    if (task == NULL || !aio__is_task(task)) {
        const char *type = task == NULL ? "NoneType" : aio__type_of(task)->name;
        aio_err_format(aio_TypeError,
                       "descriptor '%s' for '_asyncio.Task' objects doesn't apply to a '%s%s' "
                       "object",
                       method, strcmp(type, "Future") == 0 ? "_asyncio." : "", type);
        return NULL;
    }
    return (aio__task *)task;
}

int aio_is_task(const void *obj)
{
    return obj != NULL && aio__type_of(obj) == &task_type;
}

int aio__task_cancel(aio_task *task, const char *msg)
{
    return as_task(task, "cancel") ? aio__future_cancel_any(task, msg) : -1;
}

int aio__task_cancelling(aio_task *task)
{
    aio__task *t = as_task(task, "cancelling");
    return t != NULL ? t->num_cancels_requested : -1;
}

int aio__task_uncancel(aio_task *task)
{
    aio__task *t = as_task(task, "uncancel");
    if (t == NULL)
        return -1;
    if (t->num_cancels_requested > 0)
        t->num_cancels_requested--;
    return t->num_cancels_requested;
}

const char *aio__task_get_name(aio_task *task)
{
    aio__task *t = as_task(task, "get_name");
    return t != NULL ? t->label : NULL;
}

int aio__task_set_name(aio_task *task, const char *value)
{
    aio__task *t = as_task(task, "set_name");
    if (t == NULL)
        return -1;
    char *copy = aio__strdup(value != NULL ? value : "None");
    if (copy == NULL)
        return -1;
    free(t->name);
    t->name = copy;
    t->label = copy;
    return 0;
}

aio_coroutine aio__task_get_coro(aio_task *task, void **coro_arg)
{
    aio__task *t = as_task(task, "get_coro");
    if (t == NULL)
        return NULL;
    if (coro_arg != NULL)
        *coro_arg = t->coro_arg;
    return t->coro;
}

aio_context *aio__task_get_context(aio_task *task)
{
    aio__task *t = as_task(task, "get_context");
    return t != NULL ? t->context : NULL;
}

aio_task *aio__create_task(aio_coroutine coro, void *coro_arg, const aio__create_task_args *args)
{
    aio_loop *loop = aio__get_running_loop();
    if (loop == NULL)
        return NULL;
    return aio__loop_create_task(loop, &(aio__loop_create_task_args){
                                           .coro = coro,
                                           .coro_arg = coro_arg,
                                           .name = args->name,
                                           .context = args->context,
                                       });
}

aio_task *aio__current_task(aio_loop *loop)
{
    if (loop == NULL && (loop = aio__get_running_loop()) == NULL)
        return NULL;
    aio__task *t = *current_of(loop);
    return t != NULL ? &t->fut : NULL;
}

aio_task **aio__all_tasks(aio_loop *loop, size_t *count)
{
    *count = 0;
    if (loop == NULL && (loop = aio__get_running_loop()) == NULL)
        return NULL;
    size_t n = 0;
    for (aio__task *t = *tasks_of(loop); t != NULL; t = t->next)
        n += t->fut.state == AIO__FUTURE_PENDING;
    if (n == 0)
        return NULL;
    aio_task **tasks = aio__malloc(n * sizeof *tasks);
    if (tasks == NULL)
        return NULL;
    /* The list runs newest first; the array lists them as created. */
    size_t i = n;
    for (aio__task *t = *tasks_of(loop); t != NULL; t = t->next) {
        if (t->fut.state == AIO__FUTURE_PENDING)
            tasks[--i] = aio_incref(&t->fut);
    }
    *count = n;
    return tasks;
}

/* --- Closing a loop with tasks still suspended ------------------------------------------ */

/* sys.unraisablehook's default output, for an error nobody can receive. */
static void report_unraisable(aio__task *t, const char *error)
{
    char *repr = aio_repr(t);
    fprintf(stderr, "Exception ignored in: %s\n%s\n", repr ? repr : "?", error);
    free(repr);
}

/* Resumes a suspended task with GeneratorExit at its await point, taken off
 * the future it waited on already. */
static void unwind(aio__task *t)
{
    t->closing = true;
    aio_exc *pending = aio_err_fetch();
    t->throw_exc = aio_exc_new(aio_GeneratorExit, NULL);
    t->run = AIO__TASK_RUNNING;
    bool entered = aio__context_enter(t->context) == 0;
    aio_err_clear();
    resume(t);
    if (entered)
        aio__context_exit(t->context);
    if (t->run == AIO__TASK_RETURNED) {
        aio__coro_release(&t->stack);
        aio__decref(t->outcome_exc);
        t->outcome_exc = NULL;
        aio__decref(t); /* the stack's reference */
    } else {
        /* It awaited again: RuntimeError('coroutine ignored
         * GeneratorExit'); it stays suspended, and is leaked. */
        aio__decref(t->awaiting);
        t->awaiting = NULL;
        report_unraisable(t, "RuntimeError: coroutine ignored GeneratorExit");
    }
    aio_err_restore(pending);
}

static void take_off_waiter(aio__task *t)
{
    if (t->fut_waiter != NULL) {
        aio__future_remove_done_callback(t->fut_waiter, task_wakeup, t);
        aio__decref(t->fut_waiter);
        t->fut_waiter = NULL;
    }
}

static bool is_closing(void *task)
{
    return ((aio__task *)task)->closing;
}

/* Takes the tasks (marked closing) off the futures they wait on: one walk
 * of each future's callbacks, however many of them wait on it (a walk per
 * task would take time quadratic in them). */
static void take_off_waiters(aio__task **tasks, size_t n)
{
    aio__ptrset seen;
    if (aio__ptrset_init(&seen, n) < 0) {
        aio_err_clear(); /* then a walk per task */
        for (size_t i = 0; i < n; i++)
            take_off_waiter(tasks[i]);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        aio_future *fut = tasks[i]->fut_waiter;
        if (fut != NULL && aio__ptrset_add(&seen, fut))
            aio__future_remove_done_callbacks_if(fut, task_wakeup, is_closing);
    }
    aio__ptrset_clear(&seen);
    for (size_t i = 0; i < n; i++) {
        aio__decref(tasks[i]->fut_waiter);
        tasks[i]->fut_waiter = NULL;
    }
}

static bool to_unwind(const aio__task *t)
{
    return t->run == AIO__TASK_SUSPENDED && !t->closing;
}

static void tasks_closed(aio_loop *loop)
{
    /* Python destroys such a task when nothing refers to it any more and
     * closes its coroutine: GeneratorExit at the await point. Here the loop
     * can never resume them, so they are unwound now, newest first: those
     * suspended now, each held while it is unwound. */
    size_t n = 0;
    for (aio__task *t = *tasks_of(loop); t != NULL; t = t->next)
        n += to_unwind(t);
    if (n == 0)
        return;
    aio__task **tasks = malloc(n * sizeof *tasks);
    if (tasks == NULL) {
        /* One at a time, each found from the start of the list again. */
        for (;;) {
            aio__task *t = *tasks_of(loop);
            while (t != NULL && !to_unwind(t))
                t = t->next;
            if (t == NULL)
                return;
            aio__incref(t);
            take_off_waiter(t);
            unwind(t);
            aio__decref(t);
        }
    }
    size_t i = 0;
    for (aio__task *t = *tasks_of(loop); t != NULL; t = t->next) {
        if (to_unwind(t)) {
            t->closing = true;
            tasks[i++] = aio_incref(t);
        }
    }
    aio_exc *pending = aio_err_fetch();
    take_off_waiters(tasks, n);
    aio_err_restore(pending);
    for (i = 0; i < n; i++) {
        aio__task *t = tasks[i];
        if (t->run == AIO__TASK_SUSPENDED)
            unwind(t);
        aio__decref(t);
    }
    free(tasks);
}

/* --- Object protocol ------------------------------------------------------------------------ */

static void task_dealloc(void *obj)
{
    aio__task *t = obj;
    if (t->fut.state == AIO__FUTURE_PENDING && t->log_destroy_pending) {
        t->log_destroy_pending = false;
        aio_exception_context context = {
            .message = "Task was destroyed but it is pending!",
            .task = &t->fut,
        };
        if (!aio__future_report_from_del(&t->fut, &context))
            return;
    }
    if (!aio__future_finalize(&t->fut))
        return;
    registry_remove(t->fut.loop, t);
    free(t->name);
    free(t->cancel_msg);
    aio__decref(t->context);
    aio__decref(t->awaiting);
    aio__decref(t->fut_waiter);
    aio__decref(t->step_exc);
    aio__decref(t->throw_exc);
    aio__decref(t->saved_exc);
    aio__decref(t->outcome_exc);
    aio__coro_release(&t->stack);
    aio__future_clear(&t->fut);
    if (t->spare_step != NULL)
        aio__pool_free(t->spare_step);
    free(t);
}

/* base_tasks._task_repr_info: state, name, coro, wait_for, then what a
 * Future shows. */
static int task_repr(const void *obj, aio__strbuf *out)
{
    const aio__task *t = obj;
    const char *state = aio__future_state_name(&t->fut);
    /* "cancelling": up to 3.10 only while _must_cancel (a cancellation
     * not handed to an awaited future yet); from 3.11 cancelling() */
    bool cancelling = aio_loop_get_target_version(t->fut.loop) >= AIO_PY(3, 11)
                          ? t->num_cancels_requested > 0
                          : t->must_cancel;
    if (cancelling && t->fut.state == AIO__FUTURE_PENDING)
        state = "cancelling";
    aio__sb_appendf(out, "<Task %s name='%s' coro=<", state, t->label);
    aio__format_function(out, (void (*)(void))t->coro);
    aio__sb_append(out, t->run == AIO__TASK_RETURNED ? "() done>" : "() running>");
    if (t->fut_waiter != NULL) {
        aio__sb_append(out, " wait_for=");
        aio__repr_into(t->fut_waiter, out);
    }
    aio__future_repr_tail(&t->fut, out);
    return aio__sb_append(out, ">");
}

/* What reprs and logs call these callbacks: CPython's names for them. */
AIO__NAME(task_step_cb, "TaskStepMethWrapper", AIO__NAME_STEP | AIO__NAME_LOGGED_AS_SELF);
AIO__NAME(task_wakeup, "Task.task_wakeup",
          AIO__NAME_SELF_ARG | AIO__NAME_LOGGED_AS_SELF | AIO__NAME_WAKEUP);
