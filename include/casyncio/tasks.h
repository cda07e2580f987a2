/* casyncio/tasks.h - coroutines and tasks: asyncio's "Coroutines and Tasks"
 * page, in C: what cannot be generated.
 *
 * spec/tasks.toml describes the whole page. Most of it is generated from
 * there, declarations, argument structs and doc comments alike, and this
 * header includes it: run(), create_task(), Task() (aio_task_new()) and
 * Task's methods, current_task(), all_tasks(), shield(), wait_for(),
 * wait(), as_completed(), ensure_future(), timeout() (aio_timeout_after())
 * and timeout_at() in <casyncio/tasks_api.h>; TaskGroup's, Runner's and
 * Timeout's in <casyncio/taskgroups.h>, <casyncio/runners.h> and
 * <casyncio/timeouts.h>. Declared here, by hand: sleep() (aio_sleep(delay)
 * has no result parameter) and gather() (aio_gather_args has its C-only
 * loop first and a plain bool return_exceptions), whose items say
 * hand_written; and what the spec does not describe: `await` itself, the
 * `async with`/`with` enter and exit pairs, aio_is_task(), gather()'s
 * result, wait()'s result release, as_completed()'s iteration,
 * ensure_future() of a coroutine, and asynchronous generators. The
 * conventions are the generated headers' (argument structs whose zero
 * fields mean Python's defaults, NULL or -1 with the exception set on
 * failure).
 *
 * A coroutine is a plain C function, `void *coro(void *arg)`, that runs as
 * a task on a stack of its own. Inside it, aio_await(fut) suspends the task
 * until the future is done and returns its result, or NULL with the
 * exception set (CancelledError when the task is cancelled). The function
 * returns the task's result, or NULL with the current exception set to end
 * the task with that exception:
 *
 *   static void *main_coro(void *arg) {
 *       if (aio_sleep(0.1) < 0)
 *           return NULL;                 // cancelled: propagate
 *       return "done";
 *   }
 *   ...
 *   void *result = aio_run(main_coro, NULL, NULL);
 *
 * The functions documented as coroutines (aio_await, aio_sleep, aio_wait,
 * aio_wait_for, aio_anext, ...) must be called from inside a task: outside
 * one they raise RuntimeError.
 */
#ifndef CASYNCIO_TASKS_H
#define CASYNCIO_TASKS_H

#include <math.h>

#include "casyncio/base.h"
#include "casyncio/exceptions.h"
#include "casyncio/pyversion.h"
#include "casyncio/tasks_api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Tasks. An aio_task is an aio_future: every aio_future_* function applies
 * (result, exception, done, cancelled, add/remove_done_callback, get_loop;
 * aio_future_cancel() is Task.cancel()).
 */

/* asyncio.Task(coro, *, loop=None, name=None, context=None), with the
 * size of the task's stack or a shared stack (aio_task_new(coro, coro_arg,
 * &args), what a task factory calls): <casyncio/tasks_api.h>. */

/* asyncio.create_task(), Task.cancel(msg=None) (the same as
 * aio_future_cancel() on a task), cancelling(), uncancel(), get_name(),
 * set_name(), get_coro() and get_context(): <casyncio/tasks_api.h>. */

/* Whether obj is a Task (isinstance(obj, asyncio.Task)). */
AIO_API int aio_is_task(const void *obj);

/* asyncio.current_task(loop=None) and asyncio.all_tasks(loop=None),
 * aio_all_tasks(loop, &count): <casyncio/tasks_api.h>. */

/* ------------------------------------------------------------------------
 * Awaiting. Coroutines: call them from inside a task.
 */

/* `await fut`: a future that is already done gives its result at once;
 * otherwise the task is suspended until it is. Returns the result
 * (borrowed from the future), or NULL with the exception set: the future's
 * exception, CancelledError, or RuntimeError when called outside a task,
 * for a future of another loop or for the task itself. A NULL result is
 * ambiguous: check aio_err_occurred(). */
AIO_API void *aio_await(aio_future *fut);

/* asyncio.eager_task_factory (3.12), an aio_task_factory for
 * aio_loop_set_task_factory(loop, aio_eager_task_factory, NULL): each task
 * create_task() makes starts eagerly, running its coroutine in the call up
 * to its first suspension when the loop runs in this thread (else it is
 * scheduled as usual), in create_task()'s context (its name is given
 * after that first step, as 3.12.1 and 3.13.0 do). Called
 * directly, it is aio_task_new(coro, coro_arg, {.loop = loop, .eager_start
 * = true}): a new reference, or NULL with the exception set. */
AIO__SINCE_3_12 AIO_API aio_future *aio_eager_task_factory(aio_loop *loop, aio_coroutine coro,
                                                           void *coro_arg, void *factory_arg);

/* asyncio.sleep(delay, result=None): 0, or -1 with CancelledError. A delay
 * of 0 or less yields to the loop for exactly one iteration. */
AIO_API int aio_sleep(double delay);

/* asyncio.gather(*aws, return_exceptions=False): a future (new reference)
 * whose result is an aio_gather_list (owned by the future) holding each
 * awaitable's outcome in argument order. A repeated future is awaited once
 * (found in linear time). With no awaitables, a future already done with an
 * empty list. NULL with TypeError for aws NULL with n > 0 (CPython's text
 * for gather(*None)) or a NULL entry, ValueError for futures of different
 * loops, MemoryError. */
typedef struct aio_gather_args {
    aio_loop *loop;               /* C only. NULL (default): the running loop,
                                     else get_event_loop(); the loop, when aws
                                     is empty */
    bool return_exceptions;       /* false (default): False; true: True */
} aio_gather_args;

typedef struct aio_gather_item {
    void *result;         /* the result, when exception is NULL */
    aio_exc *exception;   /* return_exceptions=True: the exception (borrowed) */
} aio_gather_item;

typedef struct aio_gather_list {
    size_t len;
    aio_gather_item *items;   /* len of them, in argument order */
} aio_gather_list;

AIO_API aio_future *aio_gather(aio_future *const *aws, size_t n, const aio_gather_args *args);

/* asyncio.shield(aw) (aw itself, a new reference, when it is already done)
 * and asyncio.wait_for(aw, timeout): <casyncio/tasks_api.h>. wait_for()'s
 * result is as aio_await()'s; its timeout=None is AIO_FOREVER, and 0 is a
 * timeout of 0 (a plain 0, not AIO_ZERO: the argument has no default). */

/* None for a time (a deadline or timeout): +inf, which therefore cannot be
 * asked for as such. */
#define AIO_FOREVER HUGE_VAL

/* asyncio.wait(aws, *, timeout=None, return_when=ALL_COMPLETED),
 * aio_wait(aws, n, &args, &result), is in <casyncio/tasks_api.h>; its
 * aio_return_when and aio_wait_result in <casyncio/base.h>. For none
 * (aws NULL, as wait(None), or n 0) it raises ValueError('Set of
 * Tasks/Futures is empty.'); a timeout of AIO_ZERO returns what is done
 * after one iteration. Releases the arrays of the result and their
 * references (a result wait() failed to fill is all zero: nothing to do). */
AIO_API void aio_wait_result_clear(aio_wait_result *result);

/* asyncio.as_completed(fs, *, timeout=None): the outcomes of the futures in
 * the order they complete, one per aio_as_completed_next(), which is
 * `await` of the next awaitable the iterator yields:
 *
 *   aio_as_completed_iter *it = aio_as_completed(fs, n, &(aio_as_completed_args){.timeout = 5});
 *   while (it != NULL && aio_as_completed_remaining(it) > 0) {
 *       aio_future *f;
 *       void *r = aio_as_completed_next(it, &f);   // for f in ...: r = await f
 *       ...                                         // NULL: f's exception, or TimeoutError
 *   }
 *   aio_decref(it);
 *
 * A future given twice is handed out once. The futures' callbacks are added
 * when aio_as_completed() is called (asyncio adds them on the first
 * iteration of its generator); the timeout starts with the first
 * aio_as_completed_next(), as asyncio's does. The iterator lives until each
 * future is done or the timeout passed, whatever references are dropped.
 * NULL with TypeError("'NoneType' object is not iterable") for fs NULL
 * with n > 0, TypeError for a NULL entry, ValueError('The future belongs
 * to a different loop than the one specified as the loop argument') for
 * futures of other loops than the first's, RuntimeError from
 * get_event_loop(), MemoryError. aio_as_completed(fs, n, &args) and
 * aio_as_completed_args (a timeout of AIO_ZERO: all not done yet after one
 * iteration time out) are in <casyncio/tasks_api.h>; the iterator is a new
 * reference, its futures' loop the running loop, else get_event_loop()'s. */

/* How many outcomes are still to be handed out (the awaitables the
 * generator will still yield); 0 for NULL. */
AIO_API size_t aio_as_completed_remaining(aio_as_completed_iter *it);
/* Coroutine: waits for the next future to complete and returns its result
 * (borrowed from it), or NULL with its exception set; *fut (when not NULL)
 * is that future (borrowed from the iterator), NULL on a timeout. NULL with
 * TimeoutError once the timeout passed (for every outcome not handed out
 * before), StopIteration when all were handed out, CancelledError,
 * RuntimeError outside a task, MemoryError (the first call, scheduling the
 * timeout). */
AIO_API void *aio_as_completed_next(aio_as_completed_iter *it, aio_future **fut);

/* asyncio.ensure_future(obj, *, loop=None) of a future or task,
 * aio_ensure_future(fut, &args), is in <casyncio/tasks_api.h>. Of a
 * coroutine: loop.create_task(coro(coro_arg)) on loop, or the running
 * loop, else get_event_loop()'s. New reference; NULL with the TypeError
 * above for a NULL coro, or as aio_loop_create_task(). */
AIO_API aio_task *aio_ensure_future_coro(aio_coroutine coro, void *coro_arg,
                                         const aio_ensure_future_args *args);

/* asyncio.Timeout (3.11): the object asyncio.timeout(delay) and
 * asyncio.timeout_at(when) return, and `async with` enters and exits.
 *
 *   aio_timeout *t = aio_timeout_after(1.5);      // t = timeout(1.5)
 *   if (t == NULL || aio_timeout_enter(t) < 0)    // async with t:
 *       ...;
 *   void *r = aio_await(fut);                      //     r = await fut
 *   int rc = aio_timeout_exit(t);                  // TimeoutError raised here
 *   ... aio_timeout_expired(t), aio_timeout_when(t), aio_repr(t) ...
 *   aio_decref(t);
 *
 * A Timeout is reference counted: aio_timeout_exit() ends the scope but the
 * object lives on (when(), expired(), reschedule() and the repr still answer,
 * as in Python) until its last aio_decref(). One dropped while its scope is
 * open no longer fires. Its life: "created", "active" once entered (once
 * only), then "finished" when exited in time, or "expiring" once the
 * deadline passed and "expired" after the exit.
 *
 * AIO_FOREVER is None: a timeout that never fires (+inf cannot be told
 * from None). 0, or a deadline already past, fires on the next iteration.
 */
/* asyncio.timeout(delay) (C name aio_timeout_after(): `aio_timeout` is the
 * type; due loop.time() + delay) and asyncio.timeout_at(when) (needs no
 * loop) are in <casyncio/tasks_api.h>. */
/* Coroutine, `async with t:` (Timeout.__aenter__): starts the scope in the
 * calling task. 0, or -1 with RuntimeError('Timeout has already been
 * entered') when it was entered before (even if exited since),
 * RuntimeError('no running event loop'), RuntimeError('Timeout should be
 * used inside a task') outside a task, or MemoryError (the Timeout is then
 * still "created"). */
AIO__SINCE_3_11 AIO_API int aio_timeout_enter(aio_timeout *timeout);
/* Timeout.__aexit__: ends the scope. When the deadline passed and the
 * current exception is the CancelledError it caused (no other cancellation
 * of the task is pending), that becomes TimeoutError (its cause and context
 * the CancelledError); otherwise the current exception, if any, is left as
 * it was. Returns 0, or -1 with the exception set. Does not free the
 * Timeout. C only: with a NULL timeout (the aio_timeout_after() that
 * failed) returns -1 leaving its exception; on a Timeout not entered, or
 * exited already, -1 with RuntimeError('Timeout has not been entered' /
 * 'Timeout has already been exited') unless an exception is pending
 * (asyncio asserts there). */
AIO__SINCE_3_11 AIO_API int aio_timeout_exit(aio_timeout *timeout);
/* Timeout.when(), reschedule(when) and expired() are generated from
 * spec/tasks.toml: <casyncio/timeouts.h>. They answer after the exit too;
 * reschedule() raises RuntimeError('Timeout has not been entered') before
 * the enter and RuntimeError('Cannot change state of <expiring|expired|
 * finished> Timeout') once the deadline passed or after the exit.
 * repr(): aio_repr(t) gives "<Timeout [created]>", "<Timeout [active]
 * when=12.346>" (rounded to 3 decimals; when=None for AIO_FOREVER),
 * "<Timeout [expiring]>", "<Timeout [expired]>", "<Timeout [finished]>". */

/* asyncio.TaskGroup (3.11): tasks made in the group are awaited when it is
 * exited. The first task that fails (other than by cancellation) cancels
 * the others and the task that entered the group (its "parent", so that a
 * body waiting inside the group stops waiting); the exit then waits for
 * every task and raises ExceptionGroup('unhandled errors in a TaskGroup',
 * [errors...]) (a BaseExceptionGroup when one is not an Exception), the
 * errors in the order the tasks failed, the body's own error last.
 * KeyboardInterrupt and SystemExit, from a task or the body, are raised as
 * they are instead. A cancellation of the parent from outside cancels the
 * tasks and comes out of the exit as CancelledError (unless tasks failed:
 * their errors come first); the group's own cancellation of the parent is
 * taken back with Task.uncancel(), so the parent carries on after the
 * exit.
 *
 *   aio_task_group *g = aio_task_group_new();     // g = TaskGroup()
 *   if (g == NULL || aio_task_group_enter(g) < 0)  // async with g:
 *       ...;
 *   aio_task *t = aio_task_group_create_task(g, child, arg, NULL);
 *   aio_decref(t);                                 //     g.create_task(child())
 *   ... the body, which may fail (set an exception) ...
 *   int rc = aio_task_group_exit(g);               // waits; raises the errors
 *   aio_decref(g);
 *
 * Reference counted; each task not done yet keeps its group alive.
 * TaskGroup() (aio_task_group_new()) and create_task(coro, *, name=None,
 * context=None) (aio_task_group_create_task(group, coro, coro_arg, &args),
 * a new reference) are generated from spec/tasks.toml:
 * <casyncio/taskgroups.h>. What is here is `async with`. */
/* Coroutine, `async with g:` (TaskGroup.__aenter__): binds the group to
 * the running loop and the calling task. 0, or -1 with RuntimeError:
 * 'TaskGroup <TaskGroup entered> has already been entered', 'no running
 * event loop', 'TaskGroup <TaskGroup> cannot determine the parent task'
 * (no task runs). */
AIO__SINCE_3_11 AIO_API int aio_task_group_enter(aio_task_group *group);

/* Coroutine, TaskGroup.__aexit__: the current exception, if any, is what
 * the body raised (it is taken; the exit decides what comes out). Waits
 * until every task of the group is done, then: 0 when nothing failed (or
 * the body's CancelledError was the group's own), else -1 with
 * KeyboardInterrupt/SystemExit, CancelledError, or the ExceptionGroup
 * ('unhandled errors in a TaskGroup (N sub-exception(s))' as str()) set.
 * Must be called in the task that entered the group. C only: with a NULL
 * group (an aio_task_group_new() that failed) returns -1 leaving its
 * exception. */
AIO__SINCE_3_11 AIO_API int aio_task_group_exit(aio_task_group *group);
/* repr(): "<TaskGroup>", "<TaskGroup tasks=2 entered>", "<TaskGroup
 * tasks=1 errors=1 cancelling>". */

/* asyncio.run(main, *, debug=None), aio_run(main, arg, &args):
 * <casyncio/tasks_api.h>. */

/* asyncio.Runner(*, debug=None, loop_factory=None) (3.11): a loop made on
 * first use (the enter, get_loop() or run()), that runs coroutines one
 * after another with run(), and close() shuts down (cancels the tasks left,
 * shuts down async generators and the default executor, closes the loop).
 * `with Runner() as r:` is aio_runner_enter(r) ... aio_runner_exit(r).
 *
 *   aio_runner *r = aio_runner_new(NULL);
 *   if (r == NULL || aio_runner_enter(r) < 0) ...;
 *   void *a = aio_runner_run(r, first, NULL, NULL);
 *   void *b = aio_runner_run(r, second, NULL, NULL);   // the same loop
 *   aio_runner_exit(r);                                // close()
 *   aio_decref(r);
 *
 * Reference counted. A Runner dropped without close() leaves its loop
 * unclosed, as Python's does. Runner(*, debug=None, loop_factory=None)
 * (aio_runner_new()), run(coro, *, context=None) (aio_runner_run(runner,
 * coro, coro_arg, &args)), close() and get_loop() are generated from
 * spec/tasks.toml: <casyncio/runners.h>. What is here is `with`. */
/* `with runner:` (Runner.__enter__): makes the loop if not yet made. 0, or
 * -1 with RuntimeError('Runner is closed'), or the loop factory's
 * exception. */
AIO__SINCE_3_11 AIO_API int aio_runner_enter(aio_runner *runner);
/* Runner.__exit__: close(). The current exception, if any, is left as it
 * is (-1 then). C only: NULL (an aio_runner_new() that failed) returns -1
 * leaving its exception. */
AIO__SINCE_3_11 AIO_API int aio_runner_exit(aio_runner *runner);
/* repr(): "<asyncio.runners.Runner object at 0x...>". */

/* ------------------------------------------------------------------------
 * Asynchronous generators: a function on a stack of its own that hands
 * values to its consumer with aio_yield() and may await in between.
 *
 *   static void *numbers(aio_asyncgen *gen, void *arg) {
 *       for (int i = 0; i < 3; i++) {
 *           if (aio_sleep(0) < 0 || aio_yield(gen, &values[i]) < 0)
 *               return NULL;             // cancelled, or closed: unwind
 *       }
 *       return NULL;                     // StopAsyncIteration for the consumer
 *   }
 *   ...
 *   aio_asyncgen *gen = aio_asyncgen_new(numbers, NULL, NULL);
 *   void *v;
 *   while ((v = aio_anext(gen)) != NULL || !aio_err_occurred()) ...
 *   // StopAsyncIteration is set at the end
 *
 * The first aio_anext() hands the generator to the running loop, which
 * closes those still open in loop.shutdown_asyncgens().
 */
typedef struct aio_asyncgen aio_asyncgen;
typedef void *(*aio_asyncgen_func)(aio_asyncgen *gen, void *arg);

typedef struct aio_asyncgen_args {
    const char *name;           /* NULL: None (default): the function's name */
    size_t stack_size;          /* 0 (default): 256 KiB; as
                                   aio_task_args.stack_size */
} aio_asyncgen_args;

/* A new generator (new reference); nothing runs until the first anext. */
AIO_API aio_asyncgen *aio_asyncgen_new(aio_asyncgen_func func, void *arg,
                                       const aio_asyncgen_args *args);
/* Inside the generator: hands value to the consumer and waits to be
 * resumed. 0 when resumed by anext/asend, -1 with the exception set when
 * aclose() (GeneratorExit) or athrow() resumed it: the generator should
 * then return. */
AIO_API int aio_yield(aio_asyncgen *gen, void *value);
/* Inside the generator: the value the last asend() passed (NULL for anext). */
AIO_API void *aio_asyncgen_sent(aio_asyncgen *gen);
/* Coroutines: `await anext(gen)`, `await gen.asend(value)`,
 * `await gen.athrow(exc)`: the next yielded value, or NULL with the
 * exception set (StopAsyncIteration at the end). */
AIO_API void *aio_anext(aio_asyncgen *gen);
AIO_API void *aio_asyncgen_asend(aio_asyncgen *gen, void *value);
AIO_API void *aio_asyncgen_athrow(aio_asyncgen *gen, aio_exc *exc);
/* Coroutine: `await gen.aclose()`: 0, or -1 with the exception set
 * (RuntimeError('async generator ignored GeneratorExit') when it yields). */
AIO_API int aio_asyncgen_aclose(aio_asyncgen *gen);

#ifdef __cplusplus
}
#endif

#endif /* CASYNCIO_TASKS_H */
