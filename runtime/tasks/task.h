/* task.h - asyncio.Task: a Future driven by a C function on its own stack.
 * Internal.
 *
 * A step (Task.__step) switches to the task's stack; the function runs until
 * it awaits a pending future (aio_await), yields bare (sleep(0)), or
 * returns. Back on the loop's stack, the step does what asyncio's does with
 * what the coroutine yielded: a done callback on the future, or call_soon()
 * of the next step.
 */
#ifndef CASYNCIO_RUNTIME_TASK_H
#define CASYNCIO_RUNTIME_TASK_H

#include "casyncio/tasks.h"
#include "coro.h"
#include "future.h"

typedef enum aio__task_run {
    AIO__TASK_NEW,        /* its function has not started: no stack yet */
    AIO__TASK_SUSPENDED,  /* stopped in aio_await(), or a bare yield */
    AIO__TASK_RUNNING,
    AIO__TASK_RETURNED,   /* its function returned; the stack is released */
} aio__task_run;

typedef enum aio__task_yield {
    AIO__YIELD_BARE,      /* sleep(0): the next step is scheduled at once */
    AIO__YIELD_FUTURE,    /* a pending future: the step waits for it */
} aio__task_yield;

typedef struct aio__task aio__task;

struct aio__task {
    aio_future fut;               /* a Task is a Future */
    aio_coroutine coro;
    void *coro_arg;
    aio_context *context;         /* every step runs in it */
    char *name;                   /* NULL: name_buf ("Task-<n>") */
    char name_buf[28];
    const char *label;            /* the name, for stack overflow reports */
    aio__coro stack;
    size_t stack_size;
    bool shared_stack;            /* runs on the thread's shared stack */
    aio__coro *resume_at;         /* where a step resumes it (its own stack,
                                     or that of an async generator it drives) */
    aio__coro *step_from;         /* where it returns to when it suspends */
    unsigned char run;            /* aio__task_run */
    unsigned char yielded;        /* aio__task_yield of the last suspension */
    bool must_cancel;
    bool log_destroy_pending;
    bool closing;                 /* being unwound (GeneratorExit) */
    int num_cancels_requested;
    char *cancel_msg;             /* for the pending cancellation */
    aio_future *awaiting;         /* what the last suspension yielded */
    aio_future *fut_waiter;       /* the future it waits on (_fut_waiter) */
    aio_exc *step_exc;            /* what the next scheduled step throws in */
    void *spare_step;             /* a pool block set aside for a step that
                                     cannot be scheduled for want of memory */
    aio_exc *throw_exc;           /* raised at the await point on resume */
    aio_exc *saved_exc;           /* the task's own pending exception while
                                     it is switched out */
    void *outcome;                /* the function's result, once returned */
    aio_exc *outcome_exc;         /* or the exception it raised */
    aio__task *prev, *next;       /* the loop's tasks (all_tasks) */
};

static inline bool aio__is_task(const void *obj)
{
    return ((const aio_future *)obj)->is_task;
}

/* Task.cancel(msg). */
AIO_INTERNAL int aio__task_request_cancel(aio_future *task, const char *msg);
/* Suspends the running task until the next step: yields `fut` (a pending
 * future) or, for NULL, a bare yield. 0 when resumed normally, -1 with the
 * exception set when resumed with one (cancellation, a failed future, or an
 * error the step found in what was yielded). The caller must be inside a
 * task (aio__task_running() is not NULL). */
AIO_INTERNAL int aio__task_suspend(aio__task *task, aio_future *fut);
/* The task the calling code runs in; NULL with RuntimeError outside one.
 * `what` names the coroutine in the message. */
AIO_INTERNAL aio__task *aio__task_running(const char *what);

/* `raise TimeoutError from exc` inside `except CancelledError as exc`: the
 * current CancelledError becomes the new TimeoutError's cause and context. */
AIO_INTERNAL void aio__raise_timeout_from_cancelled(void);

/* The class a timeout raises at the current target version
 * (timeout_class.c): asyncio.TimeoutError (wait_for, as_completed) and
 * concurrent.futures.TimeoutError (a concurrent future's result()). */
AIO_INTERNAL const aio_exc_type *aio__asyncio_timeout_error(void);
AIO_INTERNAL const aio_exc_type *aio__futures_timeout_error(void);

#endif /* CASYNCIO_RUNTIME_TASK_H */
