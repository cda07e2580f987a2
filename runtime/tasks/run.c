/* run.c - asyncio.run(): asyncio.Runner's run() and close() (runners.py,
 * 3.11), for one coroutine. */
#include <signal.h>

#include "casyncio/api.h"
#include "impl.h"
#include "loop.h"
#include "task.h"
#include "names.h"

/* runners._cancel_all_tasks(): cancel what is left and wait for it. */
static void cancel_all_tasks(aio_loop *loop)
{
    size_t n;
    aio_task **tasks = aio_all_tasks(loop, &n);
    if (tasks == NULL) {
        aio_err_clear();
        return;
    }
    for (size_t i = 0; i < n; i++)
        aio__future_cancel_any(tasks[i], NULL);
    aio_future *all = aio_gather(tasks, n, &(aio_gather_args){.return_exceptions = true});
    if (all != NULL) {
        aio__loop_run_until_complete(loop, all);
        aio__decref(all);
    }
    aio_err_clear();
    for (size_t i = 0; i < n; i++) {
        aio_task *task = tasks[i];
        if (task->state == AIO__FUTURE_FINISHED && task->exception != NULL) {
            task->log_traceback = false;
            aio_exception_context context = {
                .message = "unhandled exception during asyncio.run() shutdown",
                .exception = task->exception,
                .task = task,
            };
            aio__loop_call_exception_handler(loop, &context);
            aio_err_clear();
        }
        aio__decref(task);
    }
    free(tasks);
}

/* BaseEventLoop.shutdown_default_executor() without a default executor:
 * `if self._default_executor is None: return`. */
static void *shutdown_default_executor_coro(void *arg)
{
    (void)arg;
    return NULL;
}

/* Runner._on_sigint: the first Ctrl-C cancels the main task, the next one
 * raises KeyboardInterrupt. */
typedef struct sigint_state {
    aio_task *main_task;
    int interrupts;
} sigint_state;

static void on_sigint(void *arg)
{
    sigint_state *st = arg;
    if (++st->interrupts == 1 && st->main_task->state == AIO__FUTURE_PENDING) {
        aio__future_cancel_any(st->main_task, NULL);
        return;
    }
    aio_err_set(aio_KeyboardInterrupt, NULL);
}

/* Installed only in the main thread, over SIGINT's default disposition (the
 * analogue of Python's default_int_handler). */
static bool install_sigint(aio_loop *loop, sigint_state *st)
{
    struct sigaction current;
    if (!aio__in_main_thread() || sigaction(SIGINT, NULL, &current) != 0 ||
        (current.sa_flags & SA_SIGINFO) || current.sa_handler != SIG_DFL)
        return false;
    if (aio__loop_add_signal_handler(loop, SIGINT, on_sigint, st, NULL) < 0) {
        aio_err_clear();
        return false;
    }
    return true;
}

/* Runner.close(): the loop's shutdown, whatever happened before. */
static void runner_close(aio_loop *loop)
{
    aio_exc *pending = aio_err_fetch();
    cancel_all_tasks(loop);
    aio_future *shutdown = aio__loop_shutdown_asyncgens(loop);
    if (shutdown != NULL) {
        aio__loop_run_until_complete(loop, shutdown);
        aio__decref(shutdown);
    }
    aio_err_clear();
    /* loop.run_until_complete(loop.shutdown_default_executor()): no default
     * executor exists yet, so the coroutine returns at once; but it still
     * runs as a task (numbered Task-<n>) for a loop run of two iterations,
     * as asyncio's does without an executor. */
    aio_task *executor = aio_task_new(shutdown_default_executor_coro, NULL,
                                      &(aio_task_args){.loop = loop});
    if (executor != NULL) {
        aio__loop_run_until_complete(loop, executor);
        aio__decref(executor);
    }
    aio_err_clear();
    aio__set_event_loop(NULL);
    aio__loop_close(loop);
    aio_err_restore(pending);
}

void *aio_run(aio_coroutine main, void *arg, const aio_run_args *args)
{
    static const aio_run_args defaults;
    if (args == NULL)
        args = &defaults;
    if (aio__running_loop() != NULL) {
        aio_err_set(aio_RuntimeError, "asyncio.run() cannot be called from a running event loop");
        return NULL;
    }
    aio_loop *loop = aio__new_event_loop();
    if (loop == NULL)
        return NULL;
    void *result = NULL;
    if (aio__set_event_loop(loop) < 0)
        goto out;
    if (args->debug != 0 && args->debug != AIO_NONE &&
        aio__loop_set_debug(loop, args->debug != AIO_FALSE) < 0)
        goto close;
    if (main == NULL) {
        /* Runner.run()'s check, made after `with Runner()` set the loop up:
         * its close() still shuts the new loop down. */
        aio_err_set(aio_ValueError, "a coroutine was expected, got None");
        goto close;
    }
    aio_context *context = aio_copy_context();
    if (context == NULL)
        goto close;
    aio_task *task = aio_task_new(main, arg, &(aio_task_args){.loop = loop, .context = context});
    aio__decref(context);
    if (task == NULL)
        goto close;
    sigint_state sigint = {.main_task = task};
    bool sigint_installed = install_sigint(loop, &sigint);
    result = aio__loop_run_until_complete(loop, task);
    if (result == NULL && sigint.interrupts > 0 && aio_err_matches(aio_CancelledError) &&
        aio_task_uncancel(task) == 0) {
        aio_err_set(aio_KeyboardInterrupt, NULL);
    }
    if (sigint_installed) {
        aio_exc *pending = aio_err_fetch();
        aio__loop_remove_signal_handler(loop, SIGINT);
        aio_err_restore(pending);
    }
    aio__decref(task);
close:
    runner_close(loop);
out:
    aio__decref(loop);
    return result;
}

/* --- loop.run_until_complete() ---------------------------------------------------- *
 * A loop method, but one that takes a future: it lives with the futures,
 * above the loop. */

static void run_until_complete_done(aio_future *fut, void *arg)
{
    (void)arg;
    /* A future that ended in SystemExit or KeyboardInterrupt already ended
     * run_forever(); any other outcome stops the loop. */
    if (!aio__future_cancelled(fut)) {
        aio_exc *exc = aio__future_exception(fut);
        if (aio_exc_isinstance(exc, aio_SystemExit) ||
            aio_exc_isinstance(exc, aio_KeyboardInterrupt))
            return;
    }
    aio__loop_stop(aio__future_get_loop(fut));
}

void *aio__loop_run_until_complete(aio_loop *loop, aio_future *future)
{
    if (aio__loop_check_closed(loop) < 0 || aio__loop_check_running(loop) < 0)
        return NULL;
    if (aio__ensure_future(future, loop) < 0) /* after the loop's own checks */
        return NULL;
    aio__incref(future);
    const aio__future_add_done_callback_args add = {
        .callback = run_until_complete_done,
    };
    if (aio__future_add_done_callback(future, &add) < 0) {
        aio__decref(future);
        return NULL;
    }
    int rc = aio__loop_run_forever(loop);
    aio_exc *pending = aio_err_fetch();
    aio__future_remove_done_callback(future, run_until_complete_done, NULL);
    void *result = NULL;
    if (rc < 0) {
        aio_err_restore(pending);
    } else if (!aio__future_done(future)) {
        aio__decref(pending);
        aio_err_set(aio_RuntimeError, "Event loop stopped before Future completed.");
    } else {
        aio__decref(pending);
        result = aio__future_result(future);
    }
    aio__decref(future);
    return result;
}

/* What reprs and logs call these callbacks: CPython's names for them. */
AIO__NAME(on_sigint, "Runner._on_sigint", AIO__NAME_SELF_ARG);
AIO__NAME(run_until_complete_done, "_run_until_complete_cb", 0);
