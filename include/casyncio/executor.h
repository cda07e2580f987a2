/* casyncio/executor.h - concurrent.futures' ThreadPoolExecutor and Future,
 * and the asyncio functions over them (wrap_future, to_thread).
 *
 * Hand-written. loop.run_in_executor(), loop.set_default_executor() and
 * loop.shutdown_default_executor() are declared with the other loop methods
 * (casyncio/loop.h); they take the aio_executor made here.
 *
 *   aio_executor *pool = aio_thread_pool_executor_new(NULL);  // ThreadPoolExecutor()
 *   aio_cfuture *f = aio_executor_submit(pool, work, arg);     // pool.submit(work, arg)
 *   void *r = aio_cfuture_result(f, AIO_FOREVER);              // f.result()
 *   aio_decref(f);
 *   aio_executor_shutdown(pool, true, false);                  // pool.shutdown()
 *   aio_decref(pool);
 *
 * A function run by a pool gets its one `void *` argument and returns the
 * result; it raises by setting its thread's current exception
 * (aio_err_set()) and returning, whatever it returns then being ignored.
 *
 * Unlike the loop's objects, executors and concurrent futures may be used
 * from any thread: their reference counts are atomic (aio_incref() and
 * aio_decref() on them are thread-safe), and every function below is
 * thread-safe. The exception a concurrent future hands out (result(),
 * exception(), wrap_future()) is a copy of the one the worker raised (its
 * type, message, errno, cause and context), one per retrieval: exceptions'
 * own reference counts are not atomic, so threads share none. Python hands
 * out the same object each time; only its identity differs here.
 *
 * ProcessPoolExecutor is left out: a C function pointer and a `void *`
 * argument cannot be pickled to another process, and a fork()ed worker
 * could not hand a pointer result back.
 */
#ifndef CASYNCIO_EXECUTOR_H
#define CASYNCIO_EXECUTOR_H

#include <math.h>

#include "base.h"
#include "exceptions.h"
#include "pyversion.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef AIO_FOREVER
#define AIO_FOREVER HUGE_VAL /* timeout=None */
#endif

/* concurrent.futures.Future. */
typedef struct aio_cfuture aio_cfuture;
/* A done callback of a concurrent future: called with the future, in the
 * thread that completed it (or in the caller's, when it is already done). */
typedef void (*aio_cfuture_callback)(aio_cfuture *fut, void *arg);

/* concurrent.futures' exceptions (concurrent.futures._base): Error is an
 * Exception; CancelledError, InvalidStateError and (before 3.11)
 * TimeoutError derive from it. Unlike asyncio's CancelledError this
 * CancelledError is an Exception. A timeout of result(), exception() and
 * map() raises aio_FuturesTimeoutError when the target version (the running
 * loop's, or the process default outside any loop) is before 3.11, the
 * builtin aio_TimeoutError from 3.11, when concurrent.futures.TimeoutError
 * became it. */
extern AIO_API const aio_exc_type aio_FuturesError[1];
extern AIO_API const aio_exc_type aio_FuturesCancelledError[1];
extern AIO_API const aio_exc_type aio_FuturesInvalidStateError[1];
extern AIO_API const aio_exc_type aio_FuturesTimeoutError[1]; /* before 3.11 */

/* --- ThreadPoolExecutor ------------------------------------------------- */

/* ThreadPoolExecutor(max_workers=None, thread_name_prefix=''). */
typedef struct aio_thread_pool_executor_args {
    /* 0: None, min(32, os.cpu_count() + 4); AIO_ZERO or a negative number
     * raises ValueError("max_workers must be greater than 0"). */
    int max_workers;
    /* NULL or "": "ThreadPoolExecutor-N", N counting the pools made. The
     * threads are named "<prefix>_<n>", n counting the pool's threads from
     * 0: in full (up to 63 bytes) where the library prints a thread's name
     * ("There is no current event loop in thread 'asyncio_0'."), and with
     * pthread_setname_np() cut to the 15 bytes Linux keeps (ps, top). */
    const char *thread_name_prefix;
} aio_thread_pool_executor_args;

/* A new thread pool (a new reference; args NULL: all defaults). Threads are
 * started as work comes, one at a time, only when no idle thread is left
 * (CPython 3.8+), up to max_workers. NULL with ValueError or MemoryError.
 * Dropping the last reference shuts it down without waiting. */
AIO_API aio_executor *aio_thread_pool_executor_new(const aio_thread_pool_executor_args *args);
/* isinstance(executor, ThreadPoolExecutor): every aio_executor is one. */
AIO_API bool aio_is_thread_pool_executor(const void *obj);
/* executor._max_workers. */
AIO_API int aio_executor_max_workers(aio_executor *executor);

/* executor.submit(fn, arg): fn(arg) on a pool thread. New reference to
 * its future; NULL with RuntimeError("cannot schedule new futures after
 * shutdown"), RuntimeError("can't start new thread") or MemoryError (then
 * fn is never called). */
AIO_API aio_cfuture *aio_executor_submit(aio_executor *executor, aio_executor_func fn, void *arg);

/* list(executor.map(fn, args, timeout=timeout)): fn(args[i]) for each of
 * the n arguments, all submitted first, results[i] their results in order.
 * timeout (AIO_FOREVER: None) counts from the call. 0, or -1 with the first
 * exception in order (or TimeoutError), the calls not started yet being
 * cancelled, as when a map iterator is dropped. */
AIO_API int aio_executor_map(aio_executor *executor, aio_executor_func fn, void *const *args,
                             size_t n, void **results, double timeout);

/* executor.shutdown(wait=True, *, cancel_futures=False): refuses new work;
 * with cancel_futures the work not started yet is cancelled; with wait
 * blocks until every thread has ended (the queued work done). Calling it
 * again is harmless. Returns 0. */
AIO_API int aio_executor_shutdown(aio_executor *executor, bool wait, bool cancel_futures);

/* --- concurrent.futures.Future ------------------------------------------ */

/* Future(): a new pending future (a new reference), or NULL with
 * MemoryError. Executors make them; a caller that completes its own uses
 * the set_* functions below. */
AIO_API aio_cfuture *aio_cfuture_new(void);
/* isinstance(obj, concurrent.futures.Future). */
AIO_API bool aio_is_cfuture(const void *obj);

/* fut.result(timeout): waits up to timeout seconds (AIO_FOREVER: None)
 * for the result. NULL with the worker's exception, CancelledError()
 * (aio_FuturesCancelledError) or TimeoutError(); a result may be NULL too
 * (check aio_err_occurred()). */
AIO_API void *aio_cfuture_result(aio_cfuture *fut, double timeout);
/* fut.exception(timeout): 0 with *exc the exception (a new reference) or
 * NULL when it returned a result; -1 with CancelledError() or
 * TimeoutError(). */
AIO_API int aio_cfuture_exception(aio_cfuture *fut, double timeout, aio_exc **exc);
/* fut.cancel(): 1 when cancelled (or already), 0 when running or done. */
AIO_API int aio_cfuture_cancel(aio_cfuture *fut);
AIO_API bool aio_cfuture_cancelled(aio_cfuture *fut);
AIO_API bool aio_cfuture_running(aio_cfuture *fut);
AIO_API bool aio_cfuture_done(aio_cfuture *fut);
/* fut.add_done_callback(fn): fn(fut, arg) once the future is done, at once
 * (in this thread) when it is. An exception fn leaves set is logged
 * ("exception calling callback for <Future ...>") and cleared. 0, or -1
 * with MemoryError (fn is then not called). */
AIO_API int aio_cfuture_add_done_callback(aio_cfuture *fut, aio_cfuture_callback fn, void *arg);

/* What executors call (Future.set_running_or_notify_cancel(),
 * set_result(), set_exception()). set_running_or_notify_cancel: 1 now
 * running, 0 cancelled (the callbacks are called), -1 with RuntimeError
 * ("Future in unexpected state"). set_*: 0, or -1 with InvalidStateError
 * ("FINISHED: <Future ...>") when done; set_exception takes a new
 * reference to exc. */
AIO_API int aio_cfuture_set_running_or_notify_cancel(aio_cfuture *fut);
AIO_API int aio_cfuture_set_result(aio_cfuture *fut, void *result);
AIO_API int aio_cfuture_set_exception(aio_cfuture *fut, aio_exc *exc);

/* --- asyncio over them ---------------------------------------------------- */

/* asyncio.wrap_future(fut, loop=loop): an asyncio future of loop (NULL:
 * the current event loop) chained to fut. Its outcome is copied over on
 * the loop's thread through call_soon_threadsafe(); cancelling it cancels
 * fut unless fut is already running (then fut's outcome is dropped when it
 * comes). New reference, or NULL with the exception set. */
AIO_API aio_future *aio_wrap_future(aio_cfuture *fut, aio_loop *loop);

/* await asyncio.to_thread(fn, arg) (3.9), inside a task: runs fn(arg) on
 * the running loop's default executor in a copy of the caller's context
 * (contextvars) and returns its result, or NULL with its exception
 * (CancelledError when the awaiting task is cancelled; fn still runs to
 * its end, its result dropped). RuntimeError("no running event loop")
 * outside a loop. */
AIO__SINCE_3_9 AIO_API void *aio_to_thread(aio_executor_func fn, void *arg);

#ifdef __cplusplus
}
#endif

#endif /* CASYNCIO_EXECUTOR_H */
