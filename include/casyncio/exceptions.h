/* casyncio/exceptions.h - Python's exceptions, the CPython C-API way.
 *
 * A call that fails returns NULL (or -1) and sets the calling thread's
 * current exception. An exception has a type from a hierarchy mirroring
 * Python's, a message, and for OSError and its subclasses an errno.
 */
#ifndef CASYNCIO_EXCEPTIONS_H
#define CASYNCIO_EXCEPTIONS_H

#include <stdarg.h>

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An exception type. Types are static and never freed; define your own as
 *   static const aio_exc_type MyError[1] = {{"MyError", "__main__", aio_Exception}};
 * and raise it with aio_err_set(MyError, "..."). */
typedef struct aio_exc_type aio_exc_type;
struct aio_exc_type {
    const char *name;          /* __qualname__, e.g. "InvalidStateError" */
    const char *module;        /* __module__; NULL for builtins */
    const aio_exc_type *base;  /* first base class; NULL only for BaseException */
    const aio_exc_type *base2; /* second base class, or NULL */
};

/* Python's built-in hierarchy (the part asyncio raises or reports). */
extern AIO_API const aio_exc_type aio_BaseException[1];
extern AIO_API const aio_exc_type aio_SystemExit[1];
extern AIO_API const aio_exc_type aio_KeyboardInterrupt[1];
extern AIO_API const aio_exc_type aio_GeneratorExit[1];
extern AIO_API const aio_exc_type aio_Exception[1];
extern AIO_API const aio_exc_type aio_ArithmeticError[1];
extern AIO_API const aio_exc_type aio_OverflowError[1];
extern AIO_API const aio_exc_type aio_ZeroDivisionError[1];
extern AIO_API const aio_exc_type aio_AssertionError[1];
extern AIO_API const aio_exc_type aio_AttributeError[1];
extern AIO_API const aio_exc_type aio_EOFError[1];
extern AIO_API const aio_exc_type aio_LookupError[1];
extern AIO_API const aio_exc_type aio_IndexError[1];
extern AIO_API const aio_exc_type aio_KeyError[1];
extern AIO_API const aio_exc_type aio_MemoryError[1];
extern AIO_API const aio_exc_type aio_RuntimeError[1];
extern AIO_API const aio_exc_type aio_NotImplementedError[1];
extern AIO_API const aio_exc_type aio_RecursionError[1];
extern AIO_API const aio_exc_type aio_StopIteration[1];
extern AIO_API const aio_exc_type aio_StopAsyncIteration[1];
extern AIO_API const aio_exc_type aio_TypeError[1];
extern AIO_API const aio_exc_type aio_ValueError[1];
/* Exception groups (3.11): BaseExceptionGroup(message, exceptions); the
 * ExceptionGroup subclass is also an Exception. */
extern AIO_API const aio_exc_type aio_BaseExceptionGroup[1];
extern AIO_API const aio_exc_type aio_ExceptionGroup[1];
extern AIO_API const aio_exc_type aio_OSError[1];
extern AIO_API const aio_exc_type aio_BlockingIOError[1];
extern AIO_API const aio_exc_type aio_ChildProcessError[1];
extern AIO_API const aio_exc_type aio_ConnectionError[1];
extern AIO_API const aio_exc_type aio_BrokenPipeError[1];
extern AIO_API const aio_exc_type aio_ConnectionAbortedError[1];
extern AIO_API const aio_exc_type aio_ConnectionRefusedError[1];
extern AIO_API const aio_exc_type aio_ConnectionResetError[1];
extern AIO_API const aio_exc_type aio_FileExistsError[1];
extern AIO_API const aio_exc_type aio_FileNotFoundError[1];
extern AIO_API const aio_exc_type aio_InterruptedError[1];
extern AIO_API const aio_exc_type aio_IsADirectoryError[1];
extern AIO_API const aio_exc_type aio_NotADirectoryError[1];
extern AIO_API const aio_exc_type aio_PermissionError[1];
extern AIO_API const aio_exc_type aio_ProcessLookupError[1];
extern AIO_API const aio_exc_type aio_TimeoutError[1];
extern AIO_API const aio_exc_type aio_Warning[1];
extern AIO_API const aio_exc_type aio_DeprecationWarning[1];
extern AIO_API const aio_exc_type aio_ResourceWarning[1];
extern AIO_API const aio_exc_type aio_RuntimeWarning[1];
extern AIO_API const aio_exc_type aio_UserWarning[1];

/* socket and ssl. */
extern AIO_API const aio_exc_type aio_socket_gaierror[1];   /* socket.gaierror */
extern AIO_API const aio_exc_type aio_socket_herror[1];     /* socket.herror */
extern AIO_API const aio_exc_type aio_SSLError[1];          /* ssl.SSLError */
extern AIO_API const aio_exc_type aio_SSLCertVerificationError[1];

/* asyncio's own (asyncio.exceptions), as of Python 3.11: CancelledError is a
 * BaseException, asyncio.TimeoutError is the builtin TimeoutError. */
extern AIO_API const aio_exc_type aio_CancelledError[1];
extern AIO_API const aio_exc_type aio_InvalidStateError[1];
extern AIO_API const aio_exc_type aio_SendfileNotAvailableError[1];
extern AIO_API const aio_exc_type aio_IncompleteReadError[1];
extern AIO_API const aio_exc_type aio_LimitOverrunError[1];
extern AIO_API const aio_exc_type aio_BrokenBarrierError[1];  /* 3.11 */
/* asyncio.TimeoutError is a class of its own before 3.11, which the builtin
 * TimeoutError does not catch:
 *   3.6, 3.7   concurrent.futures' TimeoutError (aio_FuturesTimeoutError,
 *              an Exception through concurrent.futures._base.Error;
 *              casyncio/executor.h)
 *   3.8-3.10   aio_asyncio_TimeoutError (asyncio.exceptions.TimeoutError, an
 *              Exception, not an OSError)
 *   3.11-      aio_TimeoutError, the builtin one
 * wait_for() and as_completed() raise the class of the running loop's target
 * version (concurrent futures' result() and exception() that of the
 * running loop's target, or of the process default outside any loop: the
 * builtin from 3.11, aio_FuturesTimeoutError before). Each prints as
 * "TimeoutError" (repr "TimeoutError()"); aio_exc_type_is_subclass() tells
 * them apart. aio_asyncio_timeout_error_type(version) returns the one of a
 * target version, the class to match a timeout with:
 *   aio_err_matches(aio_asyncio_timeout_error_type(
 *       aio_loop_get_target_version(loop)))
 * It takes any version (AIO_PY(3, 9) or AIO_PY_MICRO(3, 9, 18)). */
extern AIO_API const aio_exc_type aio_asyncio_TimeoutError[1]; /* 3.8-3.10 */
AIO_API const aio_exc_type *aio_asyncio_timeout_error_type(int target_version);
/* asyncio.QueueEmpty and asyncio.QueueFull (asyncio.queues), and 3.13's
 * QueueShutDown, which a shut-down queue raises (aio_queue_shutdown()). */
extern AIO_API const aio_exc_type aio_QueueEmpty[1];
extern AIO_API const aio_exc_type aio_QueueFull[1];
extern AIO_API const aio_exc_type aio_QueueShutDown[1]; /* 3.13 */

/* True when `type` is `base` or derives from it (issubclass). */
AIO_API bool aio_exc_type_is_subclass(const aio_exc_type *type, const aio_exc_type *base);

/* --- Exception instances (reference counted; drop with aio_decref) ----- */

/* type(msg), or type() when msg is NULL. New reference. */
AIO_API aio_exc *aio_exc_new(const aio_exc_type *type, const char *msg);
/* type(fmt % ...). New reference. */
AIO_API aio_exc *aio_exc_format(const aio_exc_type *type, const char *fmt, ...) AIO_PRINTF(2, 3);
/* OSError(errnum, strerror(errnum)) of the subclass Python picks for that
 * errno (ECONNREFUSED -> ConnectionRefusedError, ...). New reference. */
AIO_API aio_exc *aio_exc_from_errno(int errnum);
/* BaseExceptionGroup(message, exceptions): the n exceptions (each gets a
 * new reference), n > 0. As in Python, the group is an ExceptionGroup when
 * every one of them is an Exception. NULL with TypeError for none (n 0 or
 * a NULL entry: "second argument (exceptions) must be a non-empty
 * sequence"), MemoryError. New reference. */
AIO_API aio_exc *aio_exc_group_new(const char *message, aio_exc *const *exceptions, size_t n);
/* eg.exceptions: the group's exceptions (borrowed from it), *n of them;
 * NULL with *n 0 when exc is not a group. */
AIO_API aio_exc *const *aio_exc_group_exceptions(const aio_exc *exc, size_t *n);
/* type(errnum, strerror). As in Python, OSError itself becomes the subclass
 * for errnum; strerror NULL means strerror(errnum). */
AIO_API aio_exc *aio_exc_oserror(const aio_exc_type *type, int errnum, const char *strerror);

/* asyncio.IncompleteReadError(partial, expected): the read ended at end
 * of file after len bytes (copied into .partial) of the expected (-1 for
 * None). str(): "<len> bytes read on a total of <expected> expected bytes"
 * ("undefined" for None). New reference; NULL with MemoryError. */
AIO_API aio_exc *aio_exc_incomplete_read_new(const void *partial, size_t len, int64_t expected);
/* IncompleteReadError.partial: the bytes read before the end of file
 * (borrowed from exc; read them with aio_bytes_data() and aio_bytes_size()
 * of casyncio/net.h); NULL when exc is not an IncompleteReadError. */
AIO_API aio_bytes *aio_exc_incomplete_read_partial(const aio_exc *exc);
/* IncompleteReadError.expected: the number of bytes expected, -1 for None
 * (and when exc is not an IncompleteReadError). */
AIO_API int64_t aio_exc_incomplete_read_expected(const aio_exc *exc);
/* asyncio.LimitOverrunError(message, consumed): a stream's limit was
 * reached while looking for a separator. New reference; NULL with
 * MemoryError. */
AIO_API aio_exc *aio_exc_limit_overrun_new(const char *message, int64_t consumed);
/* LimitOverrunError.consumed: how many bytes are to be consumed; -1 when
 * exc is not a LimitOverrunError. */
AIO_API int64_t aio_exc_limit_overrun_consumed(const aio_exc *exc);

/* type(exc). */
AIO_API const aio_exc_type *aio_exc_type_of(const aio_exc *exc);
/* isinstance(exc, type). */
AIO_API bool aio_exc_isinstance(const aio_exc *exc, const aio_exc_type *type);
/* str(exc), borrowed from exc: "" when created without a message. */
AIO_API const char *aio_exc_str(const aio_exc *exc);
/* The message argument, or NULL when the exception has no arguments. */
AIO_API const char *aio_exc_message(const aio_exc *exc);
/* OSError.errno, or 0. */
AIO_API int aio_exc_errno(const aio_exc *exc);
/* __cause__ (borrowed, may be NULL) and its setter (takes a new reference). */
AIO_API aio_exc *aio_exc_cause(const aio_exc *exc);
AIO_API void aio_exc_set_cause(aio_exc *exc, aio_exc *cause);
/* __context__ (borrowed, may be NULL) and its setter. */
AIO_API aio_exc *aio_exc_context(const aio_exc *exc);
AIO_API void aio_exc_set_context(aio_exc *exc, aio_exc *context);

/* --- The current exception of this thread ------------------------------ */

/* Sets type(msg) as the current exception, replacing any. */
AIO_API void aio_err_set(const aio_exc_type *type, const char *msg);
AIO_API void aio_err_format(const aio_exc_type *type, const char *fmt, ...) AIO_PRINTF(2, 3);
AIO_API void aio_err_vformat(const aio_exc_type *type, const char *fmt, va_list ap);
/* Sets the OSError subclass for errnum (see aio_exc_from_errno). */
AIO_API void aio_err_set_from_errno(int errnum);
/* Sets exc (a new reference is taken). */
AIO_API void aio_err_set_exc(aio_exc *exc);
/* The current exception (borrowed), or NULL. */
AIO_API aio_exc *aio_err_occurred(void);
/* True when the current exception is an instance of type. */
AIO_API bool aio_err_matches(const aio_exc_type *type);
/* Takes the current exception out (a new reference) and clears it. */
AIO_API aio_exc *aio_err_fetch(void);
/* Makes exc current again, stealing the reference (NULL clears). */
AIO_API void aio_err_restore(aio_exc *exc);
AIO_API void aio_err_clear(void);
/* Prints the current exception to stderr as Python's last traceback line
 * ("RuntimeError: boom") and clears it. */
AIO_API void aio_err_print(void);

#ifdef __cplusplus
}
#endif

#endif /* CASYNCIO_EXCEPTIONS_H */
