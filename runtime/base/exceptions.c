/* exceptions.c - Python's exception hierarchy, exception objects and the
 * per-thread current exception. */
#include "exc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "casyncio/net.h"
#include "object.h"

/* --- The hierarchy ------------------------------------------------------ */

#define EXC_TYPE(cname, pyname, module, base, base2) \
    const aio_exc_type cname[1] = {{pyname, module, base, base2}}

EXC_TYPE(aio_BaseException, "BaseException", NULL, NULL, NULL);
EXC_TYPE(aio_SystemExit, "SystemExit", NULL, aio_BaseException, NULL);
EXC_TYPE(aio_KeyboardInterrupt, "KeyboardInterrupt", NULL, aio_BaseException, NULL);
EXC_TYPE(aio_GeneratorExit, "GeneratorExit", NULL, aio_BaseException, NULL);
EXC_TYPE(aio_Exception, "Exception", NULL, aio_BaseException, NULL);
EXC_TYPE(aio_ArithmeticError, "ArithmeticError", NULL, aio_Exception, NULL);
EXC_TYPE(aio_OverflowError, "OverflowError", NULL, aio_ArithmeticError, NULL);
EXC_TYPE(aio_ZeroDivisionError, "ZeroDivisionError", NULL, aio_ArithmeticError, NULL);
EXC_TYPE(aio_AssertionError, "AssertionError", NULL, aio_Exception, NULL);
EXC_TYPE(aio_AttributeError, "AttributeError", NULL, aio_Exception, NULL);
EXC_TYPE(aio_EOFError, "EOFError", NULL, aio_Exception, NULL);
EXC_TYPE(aio_LookupError, "LookupError", NULL, aio_Exception, NULL);
EXC_TYPE(aio_IndexError, "IndexError", NULL, aio_LookupError, NULL);
EXC_TYPE(aio_KeyError, "KeyError", NULL, aio_LookupError, NULL);
EXC_TYPE(aio_MemoryError, "MemoryError", NULL, aio_Exception, NULL);
EXC_TYPE(aio_RuntimeError, "RuntimeError", NULL, aio_Exception, NULL);
EXC_TYPE(aio_NotImplementedError, "NotImplementedError", NULL, aio_RuntimeError, NULL);
EXC_TYPE(aio_RecursionError, "RecursionError", NULL, aio_RuntimeError, NULL);
EXC_TYPE(aio_StopIteration, "StopIteration", NULL, aio_Exception, NULL);
EXC_TYPE(aio_StopAsyncIteration, "StopAsyncIteration", NULL, aio_Exception, NULL);
EXC_TYPE(aio_TypeError, "TypeError", NULL, aio_Exception, NULL);
EXC_TYPE(aio_ValueError, "ValueError", NULL, aio_Exception, NULL);
EXC_TYPE(aio_BaseExceptionGroup, "BaseExceptionGroup", NULL, aio_BaseException, NULL);
EXC_TYPE(aio_ExceptionGroup, "ExceptionGroup", NULL, aio_BaseExceptionGroup, aio_Exception);
EXC_TYPE(aio_OSError, "OSError", NULL, aio_Exception, NULL);
EXC_TYPE(aio_BlockingIOError, "BlockingIOError", NULL, aio_OSError, NULL);
EXC_TYPE(aio_ChildProcessError, "ChildProcessError", NULL, aio_OSError, NULL);
EXC_TYPE(aio_ConnectionError, "ConnectionError", NULL, aio_OSError, NULL);
EXC_TYPE(aio_BrokenPipeError, "BrokenPipeError", NULL, aio_ConnectionError, NULL);
EXC_TYPE(aio_ConnectionAbortedError, "ConnectionAbortedError", NULL, aio_ConnectionError, NULL);
EXC_TYPE(aio_ConnectionRefusedError, "ConnectionRefusedError", NULL, aio_ConnectionError, NULL);
EXC_TYPE(aio_ConnectionResetError, "ConnectionResetError", NULL, aio_ConnectionError, NULL);
EXC_TYPE(aio_FileExistsError, "FileExistsError", NULL, aio_OSError, NULL);
EXC_TYPE(aio_FileNotFoundError, "FileNotFoundError", NULL, aio_OSError, NULL);
EXC_TYPE(aio_InterruptedError, "InterruptedError", NULL, aio_OSError, NULL);
EXC_TYPE(aio_IsADirectoryError, "IsADirectoryError", NULL, aio_OSError, NULL);
EXC_TYPE(aio_NotADirectoryError, "NotADirectoryError", NULL, aio_OSError, NULL);
EXC_TYPE(aio_PermissionError, "PermissionError", NULL, aio_OSError, NULL);
EXC_TYPE(aio_ProcessLookupError, "ProcessLookupError", NULL, aio_OSError, NULL);
EXC_TYPE(aio_TimeoutError, "TimeoutError", NULL, aio_OSError, NULL);
EXC_TYPE(aio_Warning, "Warning", NULL, aio_Exception, NULL);
EXC_TYPE(aio_DeprecationWarning, "DeprecationWarning", NULL, aio_Warning, NULL);
EXC_TYPE(aio_ResourceWarning, "ResourceWarning", NULL, aio_Warning, NULL);
EXC_TYPE(aio_RuntimeWarning, "RuntimeWarning", NULL, aio_Warning, NULL);
EXC_TYPE(aio_UserWarning, "UserWarning", NULL, aio_Warning, NULL);

EXC_TYPE(aio_socket_gaierror, "gaierror", "socket", aio_OSError, NULL);
EXC_TYPE(aio_socket_herror, "herror", "socket", aio_OSError, NULL);
EXC_TYPE(aio_SSLError, "SSLError", "ssl", aio_OSError, NULL);
EXC_TYPE(aio_SSLCertVerificationError, "SSLCertVerificationError", "ssl", aio_SSLError,
         aio_ValueError);

EXC_TYPE(aio_CancelledError, "CancelledError", "asyncio.exceptions", aio_BaseException, NULL);
/* asyncio.TimeoutError in 3.8-3.10 (the builtin one from 3.11). */
EXC_TYPE(aio_asyncio_TimeoutError, "TimeoutError", "asyncio.exceptions", aio_Exception, NULL);
EXC_TYPE(aio_InvalidStateError, "InvalidStateError", "asyncio.exceptions", aio_Exception, NULL);
EXC_TYPE(aio_SendfileNotAvailableError, "SendfileNotAvailableError", "asyncio.exceptions",
         aio_RuntimeError, NULL);
EXC_TYPE(aio_IncompleteReadError, "IncompleteReadError", "asyncio.exceptions", aio_EOFError,
         NULL);
EXC_TYPE(aio_LimitOverrunError, "LimitOverrunError", "asyncio.exceptions", aio_Exception, NULL);
EXC_TYPE(aio_BrokenBarrierError, "BrokenBarrierError", "asyncio.exceptions", aio_RuntimeError,
         NULL);
EXC_TYPE(aio_QueueEmpty, "QueueEmpty", "asyncio.queues", aio_Exception, NULL);
EXC_TYPE(aio_QueueFull, "QueueFull", "asyncio.queues", aio_Exception, NULL);
EXC_TYPE(aio_QueueShutDown, "QueueShutDown", "asyncio.queues", aio_Exception, NULL);

bool aio_exc_type_is_subclass(const aio_exc_type *type, const aio_exc_type *base)
{
    if (type == NULL || base == NULL)
        return false;
    if (type == base)
        return true;
    return aio_exc_type_is_subclass(type->base, base) ||
           aio_exc_type_is_subclass(type->base2, base);
}

/* --- Exception objects -------------------------------------------------- */

struct aio_exc {
    aio__object ob;
    const aio_exc_type *type;
    char *message;     /* the single argument; NULL for none */
    int errnum;        /* OSError: errno, 0 when not given */
    char *strerror;    /* OSError: strerror text */
    char *str;         /* str(exc), built once */
    aio_exc *cause;
    aio_exc *context;
    aio_exc **group;   /* an exception group's exceptions */
    size_t group_len;
    aio_bytes *partial; /* IncompleteReadError.partial */
    int64_t expected;   /* IncompleteReadError.expected; -1: None */
    int64_t consumed;   /* LimitOverrunError.consumed */
};

static void exc_dealloc(void *obj)
{
    aio_exc *exc = obj;
    aio__decref(exc->cause);
    aio__decref(exc->context);
    for (size_t i = 0; i < exc->group_len; i++)
        aio__decref(exc->group[i]);
    free(exc->group);
    aio__decref(exc->partial);
    free(exc->message);
    free(exc->strerror);
    free(exc->str);
    free(exc);
}

static int exc_repr(const void *obj, aio__strbuf *out)
{
    const aio_exc *exc = obj;
    aio__sb_append(out, exc->type->name);
    aio__sb_append(out, "(");
    if (exc->errnum != 0) {
        aio__sb_appendf(out, "%d, ", exc->errnum);
        aio__sb_append_pyrepr(out, exc->strerror);
    } else if (exc->message != NULL) {
        aio__sb_append_pyrepr(out, exc->message);
    }
    if (exc->group != NULL) {
        aio__sb_append(out, ", [");
        for (size_t i = 0; i < exc->group_len; i++) {
            if (i > 0)
                aio__sb_append(out, ", ");
            exc_repr(exc->group[i], out);
        }
        aio__sb_append(out, "]");
    }
    return aio__sb_append(out, ")");
}

AIO__DEFINE_TYPE(exc_object_type) = {"BaseException", exc_dealloc, exc_repr, 0};

/* Raised when allocating an exception fails: never freed, never changed. */
static aio_exc memory_error = {AIO__STATIC_OBJECT(&exc_object_type), aio_MemoryError,
                               NULL, 0, NULL, NULL, NULL, NULL, NULL, 0, NULL, 0, 0};

static aio_exc *exc_alloc(const aio_exc_type *type)
{
    aio_exc *exc = calloc(1, sizeof *exc);
    if (exc == NULL)
        return NULL;
    aio__object_init(exc, &exc_object_type);
    exc->type = type ? type : aio_BaseException;
    return exc;
}

aio_exc *aio_exc_new(const aio_exc_type *type, const char *msg)
{
    aio_exc *exc = exc_alloc(type);
    if (exc == NULL)
        return aio_incref(&memory_error);
    if (msg != NULL && (exc->message = strdup(msg)) == NULL) {
        aio__decref(exc);
        return aio_incref(&memory_error);
    }
    return exc;
}

static char *strdup_or_null(const char *s, bool *failed)
{
    if (s == NULL)
        return NULL;
    char *copy = strdup(s);
    if (copy == NULL)
        *failed = true;
    return copy;
}

aio_exc *aio__exc_clone(const aio_exc *exc)
{
    if (exc == NULL)
        return NULL;
    if (exc->ob.refcnt < 0) /* an immortal one: shared safely */
        return (aio_exc *)exc;
    aio_exc *copy = exc_alloc(exc->type);
    if (copy == NULL) {
        aio_err_set(aio_MemoryError, NULL);
        return NULL;
    }
    bool failed = false;
    copy->message = strdup_or_null(exc->message, &failed);
    copy->strerror = strdup_or_null(exc->strerror, &failed);
    copy->errnum = exc->errnum;
    if (!failed && exc->cause != NULL && (copy->cause = aio__exc_clone(exc->cause)) == NULL)
        failed = true;
    if (!failed && exc->context != NULL &&
        (copy->context = aio__exc_clone(exc->context)) == NULL)
        failed = true;
    if (!failed && exc->group_len > 0) {
        copy->group = calloc(exc->group_len, sizeof *copy->group);
        if (copy->group == NULL)
            failed = true;
        for (size_t i = 0; !failed && i < exc->group_len; i++) {
            if ((copy->group[i] = aio__exc_clone(exc->group[i])) == NULL)
                failed = true;
            else
                copy->group_len = i + 1;
        }
    }
    if (failed) {
        aio__decref(copy);
        aio_err_set(aio_MemoryError, NULL);
        return NULL;
    }
    return copy;
}

aio_exc *aio_exc_group_new(const char *message, aio_exc *const *exceptions, size_t n)
{
    if (n == 0 || exceptions == NULL) {
        aio_err_set(aio_ValueError, "second argument (exceptions) must be a non-empty sequence");
        return NULL;
    }
    const aio_exc_type *type = aio_ExceptionGroup;
    for (size_t i = 0; i < n; i++) {
        if (exceptions[i] == NULL) {
            aio_err_format(aio_TypeError,
                           "Item %zu of second argument (exceptions) is not an exception", i);
            return NULL;
        }
        if (!aio_exc_isinstance(exceptions[i], aio_Exception))
            type = aio_BaseExceptionGroup;
    }
    aio_exc *exc = exc_alloc(type);
    if (exc == NULL || (exc->message = strdup(message != NULL ? message : "")) == NULL ||
        (exc->group = calloc(n, sizeof *exc->group)) == NULL) {
        aio__decref(exc);
        aio_err_set(aio_MemoryError, NULL);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        exc->group[i] = aio_incref(exceptions[i]);
    exc->group_len = n;
    return exc;
}

aio_exc *const *aio_exc_group_exceptions(const aio_exc *exc, size_t *n)
{
    *n = exc != NULL ? exc->group_len : 0;
    return exc != NULL ? exc->group : NULL;
}

static aio_exc *exc_vformat(const aio_exc_type *type, const char *fmt, va_list ap)
{
    aio__strbuf sb = AIO__STRBUF_INIT;
    aio__sb_vappendf(&sb, fmt, ap);
    char *msg = aio__sb_finish(&sb);
    if (msg == NULL)
        return aio_incref(&memory_error);
    aio_exc *exc = exc_alloc(type);
    if (exc == NULL) {
        free(msg);
        return aio_incref(&memory_error);
    }
    exc->message = msg;
    return exc;
}

aio_exc *aio_exc_format(const aio_exc_type *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    aio_exc *exc = exc_vformat(type, fmt, ap);
    va_end(ap);
    return exc;
}

static const aio_exc_type *oserror_type_for(int errnum);

aio_exc *aio_exc_oserror(const aio_exc_type *type, int errnum, const char *strerror_text)
{
    /* Like OSError(errno, strerror): plain OSError becomes the subclass
     * that errno calls for. */
    if (type == aio_OSError)
        type = oserror_type_for(errnum);
    aio_exc *exc = exc_alloc(type);
    if (exc == NULL)
        return aio_incref(&memory_error);
    exc->errnum = errnum;
    if (strerror_text == NULL)
        strerror_text = strerror(errnum);
    if ((exc->strerror = strdup(strerror_text)) == NULL) {
        aio__decref(exc);
        return aio_incref(&memory_error);
    }
    return exc;
}

aio_exc *aio__exc_oserror_filename(int errnum, const char *filename)
{
    aio_exc *exc = aio_exc_oserror(aio_OSError, errnum, NULL);
    if (exc == &memory_error || filename == NULL)
        return exc;
    aio__strbuf sb = AIO__STRBUF_INIT;
    aio__sb_appendf(&sb, "[Errno %d] %s: ", errnum, exc->strerror);
    aio__sb_append_pyrepr(&sb, filename);
    char *str = aio__sb_finish(&sb);
    if (str == NULL) {
        aio__decref(exc);
        return aio_incref(&memory_error);
    }
    exc->str = str;
    return exc;
}

/* The OSError subclass Python picks for an errno (PEP 3151). */
static const aio_exc_type *oserror_type_for(int errnum)
{
    switch (errnum) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EALREADY:
    case EINPROGRESS:
        return aio_BlockingIOError;
    case ECHILD:
        return aio_ChildProcessError;
    case EPIPE:
    case ESHUTDOWN:
        return aio_BrokenPipeError;
    case ECONNABORTED:
        return aio_ConnectionAbortedError;
    case ECONNREFUSED:
        return aio_ConnectionRefusedError;
    case ECONNRESET:
        return aio_ConnectionResetError;
    case EEXIST:
        return aio_FileExistsError;
    case ENOENT:
        return aio_FileNotFoundError;
    case EINTR:
        return aio_InterruptedError;
    case EISDIR:
        return aio_IsADirectoryError;
    case ENOTDIR:
        return aio_NotADirectoryError;
    case EACCES:
    case EPERM:
        return aio_PermissionError;
    case ESRCH:
        return aio_ProcessLookupError;
    case ETIMEDOUT:
        return aio_TimeoutError;
    default:
        return aio_OSError;
    }
}

aio_exc *aio_exc_from_errno(int errnum)
{
    return aio_exc_oserror(aio_OSError, errnum, NULL);
}

aio_exc *aio_exc_incomplete_read_new(const void *partial, size_t len, int64_t expected)
{
    aio_bytes *bytes = aio_bytes_new(partial, len);
    if (bytes == NULL)
        return NULL;
    aio_exc *exc = expected < 0
                       ? aio_exc_format(aio_IncompleteReadError,
                                        "%zu bytes read on a total of undefined expected bytes", len)
                       : aio_exc_format(aio_IncompleteReadError,
                                        "%zu bytes read on a total of %lld expected bytes", len,
                                        (long long)expected);
    if (exc == &memory_error) {
        aio__decref(bytes);
        aio__decref(exc);
        aio_err_set(aio_MemoryError, NULL);
        return NULL;
    }
    exc->partial = bytes;
    exc->expected = expected < 0 ? -1 : expected;
    return exc;
}

aio_bytes *aio_exc_incomplete_read_partial(const aio_exc *exc)
{
    return exc != NULL ? exc->partial : NULL;
}

int64_t aio_exc_incomplete_read_expected(const aio_exc *exc)
{
    return exc != NULL && exc->partial != NULL ? exc->expected : -1;
}

aio_exc *aio_exc_limit_overrun_new(const char *message, int64_t consumed)
{
    aio_exc *exc = aio_exc_new(aio_LimitOverrunError, message);
    if (exc == &memory_error) {
        aio__decref(exc);
        aio_err_set(aio_MemoryError, NULL);
        return NULL;
    }
    exc->consumed = consumed;
    return exc;
}

int64_t aio_exc_limit_overrun_consumed(const aio_exc *exc)
{
    return aio_exc_isinstance(exc, aio_LimitOverrunError) ? exc->consumed : -1;
}

const aio_exc_type *aio_exc_type_of(const aio_exc *exc)
{
    return exc ? exc->type : NULL;
}

bool aio_exc_isinstance(const aio_exc *exc, const aio_exc_type *type)
{
    return exc != NULL && aio_exc_type_is_subclass(exc->type, type);
}

const char *aio_exc_str(const aio_exc *exc)
{
    if (exc == NULL)
        return "";
    if (exc->str != NULL)
        return exc->str;
    aio__strbuf sb = AIO__STRBUF_INIT;
    if (exc->errnum != 0)
        aio__sb_appendf(&sb, "[Errno %d] %s", exc->errnum, exc->strerror);
    else if (exc->message != NULL && aio_exc_type_is_subclass(exc->type, aio_KeyError))
        aio__sb_append_pyrepr(&sb, exc->message); /* str(KeyError('k')) is "'k'" */
    else if (exc->message != NULL)
        aio__sb_append(&sb, exc->message);
    if (exc->group != NULL)
        aio__sb_appendf(&sb, " (%zu sub-exception%s)", exc->group_len,
                        exc->group_len == 1 ? "" : "s");
    char *str = aio__sb_finish(&sb);
    if (str == NULL)
        return exc->message ? exc->message : "";
    /* The cache does not change what the exception is. */
    ((aio_exc *)exc)->str = str;
    return str;
}

const char *aio_exc_message(const aio_exc *exc)
{
    if (exc == NULL)
        return NULL;
    return exc->errnum != 0 ? exc->strerror : exc->message;
}

int aio_exc_errno(const aio_exc *exc)
{
    return exc ? exc->errnum : 0;
}

aio_exc *aio_exc_cause(const aio_exc *exc)
{
    return exc ? exc->cause : NULL;
}

void aio_exc_set_cause(aio_exc *exc, aio_exc *cause)
{
    if (exc == NULL || exc == &memory_error)
        return;
    if (cause != NULL)
        aio__incref(cause);
    aio__decref(exc->cause);
    exc->cause = cause;
}

aio_exc *aio_exc_context(const aio_exc *exc)
{
    return exc ? exc->context : NULL;
}

void aio_exc_set_context(aio_exc *exc, aio_exc *context)
{
    if (exc == NULL || exc == &memory_error)
        return;
    if (context != NULL)
        aio__incref(context);
    aio__decref(exc->context);
    exc->context = context;
}

/* --- The current exception ---------------------------------------------- */

static _Thread_local aio_exc *current;

void aio_err_restore(aio_exc *exc)
{
    aio_exc *old = current;
    current = exc;
    aio__decref(old);
}

void aio_err_set_exc(aio_exc *exc)
{
    if (exc != NULL)
        aio__incref(exc);
    aio_err_restore(exc);
}

void aio_err_set(const aio_exc_type *type, const char *msg)
{
    aio_err_restore(aio_exc_new(type, msg));
}

void aio_err_vformat(const aio_exc_type *type, const char *fmt, va_list ap)
{
    aio_err_restore(exc_vformat(type, fmt, ap));
}

void aio_err_format(const aio_exc_type *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    aio_err_vformat(type, fmt, ap);
    va_end(ap);
}

void aio_err_set_from_errno(int errnum)
{
    aio_err_restore(aio_exc_from_errno(errnum));
}

aio_exc *aio_err_occurred(void)
{
    return current;
}

bool aio_err_matches(const aio_exc_type *type)
{
    return aio_exc_isinstance(current, type);
}

aio_exc *aio_err_fetch(void)
{
    aio_exc *exc = current;
    current = NULL;
    return exc;
}

void aio_err_clear(void)
{
    aio_err_restore(NULL);
}

void aio_err_print(void)
{
    aio_exc *exc = aio_err_fetch();
    if (exc == NULL)
        return;
    char *text = aio__exc_format_lines(exc);
    fputs(text ? text : "MemoryError\n", stderr);
    free(text);
    aio__decref(exc);
}

/* --- Formatting, as traceback.format_exception_only() ------------------- */

int aio__exc_type_qualname(const aio_exc_type *type, aio__strbuf *out)
{
    if (type->module != NULL && strcmp(type->module, "__main__") != 0 &&
        strcmp(type->module, "builtins") != 0) {
        aio__sb_append(out, type->module);
        aio__sb_append(out, ".");
    }
    return aio__sb_append(out, type->name);
}

/* What traceback.format_exception() prints of an exception that has no
 * traceback: its chain of causes and contexts first, then its last line;
 * an exception group as the boxes Python draws around its exceptions. */
typedef struct format_ctx {
    aio__strbuf *out;
    int group_depth;   /* exception_group_depth */
    bool need_close;
} format_ctx;

enum { MAX_GROUP_WIDTH = 15, MAX_GROUP_DEPTH = 10 };

/* One line (text ending in a newline) with the margin of the depth. */
static void emit(format_ctx *ctx, const char *text, char margin)
{
    for (int i = 0; i < 2 * ctx->group_depth; i++)
        aio__sb_append(ctx->out, " ");
    if (ctx->group_depth > 0) {
        char m[3] = {margin, ' ', '\0'};
        aio__sb_append(ctx->out, m);
    }
    aio__sb_append(ctx->out, text);
}

static void emit_only(format_ctx *ctx, const aio_exc *exc)
{
    aio__strbuf line = AIO__STRBUF_INIT;
    aio__exc_type_qualname(exc->type, &line);
    const char *str = aio_exc_str(exc);
    if (*str != '\0') {
        aio__sb_append(&line, ": ");
        aio__sb_append(&line, str);
    }
    aio__sb_append(&line, "\n");
    char *text = aio__sb_finish(&line);
    if (text != NULL)
        emit(ctx, text, '|');
    free(text);
}

static void format_exc(format_ctx *ctx, const aio_exc *exc, int chain_depth)
{
    /* A chained cause or context prints first, as Python's traceback does. */
    if (chain_depth < 16) {
        if (exc->cause != NULL) {
            format_exc(ctx, exc->cause, chain_depth + 1);
            emit(ctx, "\n", '|');
            emit(ctx, "The above exception was the direct cause of the following exception:\n",
                 '|');
            emit(ctx, "\n", '|');
        } else if (exc->context != NULL) {
            format_exc(ctx, exc->context, chain_depth + 1);
            emit(ctx, "\n", '|');
            emit(ctx, "During handling of the above exception, another exception occurred:\n",
                 '|');
            emit(ctx, "\n", '|');
        }
    }
    if (exc->group == NULL) {
        emit_only(ctx, exc);
        return;
    }
    if (ctx->group_depth > MAX_GROUP_DEPTH) {
        char text[64];
        snprintf(text, sizeof text, "... (max_group_depth is %d)\n", MAX_GROUP_DEPTH);
        emit(ctx, text, '|');
        return;
    }
    bool toplevel = ctx->group_depth == 0;
    if (toplevel)
        ctx->group_depth++;
    emit_only(ctx, exc);
    size_t n = exc->group_len > MAX_GROUP_WIDTH ? MAX_GROUP_WIDTH + 1 : exc->group_len;
    ctx->need_close = false;
    for (size_t i = 0; i < n; i++) {
        bool last = i == n - 1;
        if (last)
            ctx->need_close = true;
        bool truncated = i >= MAX_GROUP_WIDTH;
        for (int k = 0; k < 2 * ctx->group_depth; k++)
            aio__sb_append(ctx->out, " ");
        if (truncated)
            aio__sb_appendf(ctx->out, "%s+---------------- ... ----------------\n",
                            i == 0 ? "+-" : "  ");
        else
            aio__sb_appendf(ctx->out, "%s+---------------- %zu ----------------\n",
                            i == 0 ? "+-" : "  ", i + 1);
        ctx->group_depth++;
        if (!truncated) {
            format_exc(ctx, exc->group[i], 0);
        } else {
            size_t remaining = exc->group_len - MAX_GROUP_WIDTH;
            char text[64];
            snprintf(text, sizeof text, "and %zu more exception%s\n", remaining,
                     remaining > 1 ? "s" : "");
            emit(ctx, text, '|');
        }
        if (last && ctx->need_close) {
            for (int k = 0; k < 2 * ctx->group_depth; k++)
                aio__sb_append(ctx->out, " ");
            aio__sb_append(ctx->out, "+------------------------------------\n");
            ctx->need_close = false;
        }
        ctx->group_depth--;
    }
    if (toplevel)
        ctx->group_depth = 0;
}

char *aio__exc_format_lines(const aio_exc *exc)
{
    aio__strbuf sb = AIO__STRBUF_INIT;
    format_ctx ctx = {&sb, 0, false};
    format_exc(&ctx, exc, 0);
    return aio__sb_finish(&sb);
}
