/* run.c - asyncio.Runner and asyncio.run() on it (runners.py, 3.11), and
 * loop.run_until_complete(). */
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
    aio_task **tasks = aio__all_tasks(loop, &n);
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

/* loop.shutdown_default_executor() as a coroutine: without a default
 * executor it returns at once (its future is done already, and a done
 * future is not awaited, so the task takes one step, as asyncio's does);
 * else it waits for the pool's threads. */
static void *shutdown_default_executor_coro(void *arg)
{
    /* 3.12's Runner passes constants.THREAD_JOIN_TIMEOUT (300 s) */
    aio_loop *loop = arg;
    aio__loop_shutdown_default_executor_args args = {.timeout_is_none = true};
    if (aio_loop_get_target_version(loop) >= AIO_PY(3, 12))
        args = (aio__loop_shutdown_default_executor_args){.timeout = 300.0};
    aio_future *fut = aio__loop_shutdown_default_executor(loop, &args);
    if (fut == NULL)
        return NULL;
    void *result = aio_future_done(fut) == 1 ? aio_future_result(fut) : aio_await(fut);
    aio__decref(fut);
    return result;
}

/* --- Runner ---------------------------------------------------------------------------- */

typedef enum runner_state {
    RUNNER_CREATED,
    RUNNER_INITIALIZED,
    RUNNER_CLOSED,
} runner_state;

struct aio_runner {
    aio__object ob;
    runner_state state;
    bool debug_is_none;            /* debug=None: the loop's own setting */
    bool debug;
    aio_loop_factory loop_factory;
    void *loop_factory_arg;
    aio_loop *loop;                /* a reference, while initialized */
    aio_context *context;          /* a reference, once initialized */
    aio_task *main_task;           /* borrowed, while run() runs it */
    int interrupt_count;
    bool set_event_loop;           /* set_event_loop() was called */
};

static void runner_dealloc(void *obj)
{
    aio_runner *r = obj;
    /* As in Python, a runner dropped without close() leaves its loop as it
     * is (not closed); only the reference goes. */
    aio__decref(r->loop);
    aio__decref(r->context);
    free(r);
}

static int runner_repr(const void *obj, aio__strbuf *out)
{
    return aio__sb_appendf(out, "<asyncio.runners.Runner object at %p>", obj);
}

AIO__DEFINE_TYPE(runner_type) = {"Runner", runner_dealloc, runner_repr, 0};

static void null_self(const char *name)
{
    aio_err_format(aio_TypeError,
                   "descriptor '%s' for 'Runner' objects doesn't apply to a 'NoneType' object",
                   name);
}

aio_runner *aio__runner_new(const aio__runner_args *args)
{
    aio_runner *r = aio__calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    aio__object_init(r, &runner_type);
    r->state = RUNNER_CREATED;
    r->debug_is_none = args->debug_is_none;
    r->debug = args->debug;
    r->loop_factory = args->loop_factory;
    r->loop_factory_arg = args->loop_factory_arg;
    return r;
}

/* Runner._lazy_init(). */
static int runner_lazy_init(aio_runner *r)
{
    if (r->state == RUNNER_CLOSED) {
        aio_err_set(aio_RuntimeError, "Runner is closed");
        return -1;
    }
    if (r->state == RUNNER_INITIALIZED)
        return 0;
    aio_loop *loop;
    bool set_now = false;
    if (r->loop_factory == NULL) {
        loop = aio__new_event_loop();
        if (loop == NULL)
            return -1;
        if (!r->set_event_loop) {
            /* Once only, as asyncio does (child watchers attach to it). */
            if (aio__set_event_loop(loop) < 0)
                goto undo;
            r->set_event_loop = set_now = true;
        }
    } else {
        loop = r->loop_factory(r->loop_factory_arg);
        if (loop == NULL) {
            if (!aio_err_occurred())
                aio_err_set(aio_TypeError, "the loop factory returned None");
            return -1;
        }
    }
    if (!r->debug_is_none && aio__loop_set_debug(loop, r->debug) < 0)
        goto undo;
    aio_context *context = aio_copy_context();
    if (context == NULL)
        goto undo;
    r->loop = loop;
    r->context = context;
    r->state = RUNNER_INITIALIZED;
    return 0;
undo:
    /* Out of memory half way: no loop is left behind, still "created". */
    {
        aio_exc *exc = aio_err_fetch();
        if (set_now) {
            aio__set_event_loop(NULL);
            r->set_event_loop = false;
        }
        aio__loop_close(loop);
        aio__decref(loop);
        aio_err_clear();
        aio_err_restore(exc);
    }
    return -1;
}

int aio_runner_enter(aio_runner *r)
{
    if (r == NULL) {
        null_self("__enter__");
        return -1;
    }
    return runner_lazy_init(r);
}

int aio__runner_close(aio_runner *r)
{
    if (r->state != RUNNER_INITIALIZED)
        return 0;
    aio_loop *loop = r->loop;
    aio_exc *pending = aio_err_fetch();
    cancel_all_tasks(loop);
    aio_future *shutdown = aio__loop_shutdown_asyncgens(loop);
    if (shutdown != NULL) {
        aio__loop_run_until_complete(loop, shutdown);
        aio__decref(shutdown);
    }
    aio_err_clear();
    /* loop.run_until_complete(loop.shutdown_default_executor()): a task
     * (numbered Task-<n>) that waits for the default executor's threads, or
     * returns at once when there is none (a loop run of two iterations).
     * 3.7 and 3.8 have no such step: close() leaves the threads running. */
    if (aio_loop_get_target_version(loop) >= AIO_PY(3, 9)) {
        aio_task *executor = aio_task_new(shutdown_default_executor_coro, loop,
                                          &(aio_task_args){.loop = loop});
        if (executor != NULL) {
            aio__loop_run_until_complete(loop, executor);
            aio__decref(executor);
        }
        aio_err_clear();
    }
    if (r->set_event_loop)
        aio__set_event_loop(NULL);
    aio__loop_close(loop);
    aio_err_clear();
    r->loop = NULL;
    r->state = RUNNER_CLOSED;
    aio__decref(loop);
    aio_err_restore(pending);
    return pending != NULL ? -1 : 0;
}

int aio_runner_exit(aio_runner *r)
{
    if (r == NULL)
        return -1; /* what made it NULL is still set */
    return aio__runner_close(r);
}

aio_loop *aio__runner_get_loop(aio_runner *r)
{
    return runner_lazy_init(r) < 0 ? NULL : r->loop;
}

/* Runner._on_sigint: the first Ctrl-C cancels the main task, the next one
 * raises KeyboardInterrupt. */
static void on_sigint(void *arg)
{
    aio_runner *r = arg;
    if (++r->interrupt_count == 1 && r->main_task != NULL &&
        r->main_task->state == AIO__FUTURE_PENDING) {
        aio__future_cancel_any(r->main_task, NULL);
        return;
    }
    aio_err_set(aio_KeyboardInterrupt, NULL);
}

/* Installed only in the main thread, over SIGINT's default disposition (the
 * analogue of Python's default_int_handler); only from 3.11 (asyncio.run()
 * before the Runner left SIGINT alone). */
static bool install_sigint(aio_runner *r)
{
    struct sigaction current;
    if (aio_loop_get_target_version(r->loop) < AIO_PY(3, 11) || !aio__in_main_thread() ||
        sigaction(SIGINT, NULL, &current) != 0 ||
        (current.sa_flags & SA_SIGINFO) || current.sa_handler != SIG_DFL)
        return false;
    if (aio__loop_add_signal_handler(r->loop, SIGINT, on_sigint, r, NULL) < 0) {
        aio_err_clear();
        return false;
    }
    return true;
}

void *aio__runner_run(aio_runner *r, aio_coroutine coro, void *arg,
                      const aio__runner_run_args *args)
{
    if (coro == NULL) {
        aio_err_set(aio_ValueError, "a coroutine was expected, got None");
        return NULL;
    }
    if (aio__running_loop() != NULL) {
        aio_err_set(aio_RuntimeError, "Runner.run() cannot be called from a running event loop");
        return NULL;
    }
    if (runner_lazy_init(r) < 0)
        return NULL;
    aio_context *context = args->context != NULL ? args->context : r->context;
    aio_task *task = aio__task_new(coro, arg, &(aio__task_args){.loop = r->loop, .context = context});
    if (task == NULL)
        return NULL;
    aio__incref(r); /* a handler of the loop points to it while it runs */
    r->main_task = task;
    bool sigint_installed = install_sigint(r);
    r->interrupt_count = 0;
    void *result = aio__loop_run_until_complete(r->loop, task);
    if (result == NULL && r->interrupt_count > 0 && aio_err_matches(aio_CancelledError) &&
        aio__task_uncancel(task) == 0) {
        aio_err_set(aio_KeyboardInterrupt, NULL);
    }
    if (sigint_installed) {
        aio_exc *pending = aio_err_fetch();
        aio__loop_remove_signal_handler(r->loop, SIGINT);
        aio_err_restore(pending);
    }
    r->main_task = NULL;
    aio__decref(task);
    aio__decref(r);
    return result;
}

/* --- asyncio.run() ------------------------------------------------------------------------ */

void *aio__run(aio_coroutine main, void *arg, const aio__run_args *args)
{
    if (aio__running_loop() != NULL) {
        aio_err_set(aio_RuntimeError, "asyncio.run() cannot be called from a running event loop");
        return NULL;
    }
    if (main == NULL && aio__current_target_version() < AIO_PY(3, 11)) {
        /* before the Runner, run() checked its argument before making a
         * loop: no shutdown, no Task numbers taken */
        aio_err_set(aio_ValueError, "a coroutine was expected, got None");
        return NULL;
    }
    /* with Runner(debug=debug) as runner: return runner.run(main); the
     * internal calls, since asyncio.run() predates the public Runner (3.11)
     * and must not meet its version gate. */
    aio_runner *runner = aio__runner_new(&(aio__runner_args){
        .debug = args->debug, .debug_is_none = args->debug_is_none});
    if (runner == NULL)
        return NULL;
    void *result = NULL;
    if (aio_runner_enter(runner) == 0)
        result = aio__runner_run(runner, main, arg, &(aio__runner_run_args){0});
    aio_runner_exit(runner);
    aio__decref(runner);
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
    if (aio__future_check_ensure(future, loop) < 0) /* after the loop's own checks */
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
