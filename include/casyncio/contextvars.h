/* casyncio/contextvars.h - Python's contextvars for C callbacks.
 *
 * A Context is a mapping of context variables to values. Every callback the
 * loop runs, runs inside a Context: by default a copy of the context current
 * when the callback was scheduled, or the one passed as `context=`. Values
 * are plain pointers; the context does not own them. The contextvars module
 * is Python 3.7's: below API level 3.7 these functions are unavailable.
 */
#ifndef CASYNCIO_CONTEXTVARS_H
#define CASYNCIO_CONTEXTVARS_H

#include "base.h"
#include "pyversion.h"

#ifdef __cplusplus
extern "C" {
#endif

/* contextvars.Context(): a new empty context. New reference. */
AIO__SINCE_3_7 AIO_API aio_context *aio_context_new(void);
/* contextvars.copy_context(): a copy of the current context. New reference. */
AIO__SINCE_3_7 AIO_API aio_context *aio_copy_context(void);
/* Context.run(fn, arg): runs fn(arg) inside ctx. Returns 0, or -1 with the
 * exception set: RuntimeError when ctx is already entered, or whatever fn
 * raised. */
AIO__SINCE_3_7 AIO_API int aio_context_run(aio_context *ctx, aio_callback fn, void *arg);
/* Context.get(var): 1 and *value when var has a value in ctx, else 0. */
AIO__SINCE_3_7 AIO_API int aio_context_get(aio_context *ctx, aio_contextvar *var, void **value);
/* len(ctx). */
AIO__SINCE_3_7 AIO_API size_t aio_context_len(aio_context *ctx);

/* contextvars.ContextVar(name), without a default. New reference. */
AIO__SINCE_3_7 AIO_API aio_contextvar *aio_contextvar_new(const char *name);
/* contextvars.ContextVar(name, default=value). New reference. */
AIO__SINCE_3_7 AIO_API aio_contextvar *aio_contextvar_new_default(const char *name,
                                                                 void *default_value);
/* ContextVar.name (borrowed). */
AIO__SINCE_3_7 AIO_API const char *aio_contextvar_name(aio_contextvar *var);
/* ContextVar.get(): 0 and *value, or -1 with LookupError set when var has
 * neither a value in the current context nor a default. */
AIO__SINCE_3_7 AIO_API int aio_contextvar_get(aio_contextvar *var, void **value);
/* ContextVar.get(default): the value in the current context, else
 * `fallback` (which, as in Python, wins over the variable's own default).
 * Never fails. */
AIO__SINCE_3_7 AIO_API void *aio_contextvar_get_or(aio_contextvar *var, void *fallback);
/* ContextVar.set(value): a Token to undo it (new reference), or NULL. */
AIO__SINCE_3_7 AIO_API aio_contextvar_token *aio_contextvar_set(aio_contextvar *var, void *value);
/* ContextVar.reset(token): 0, or -1 with RuntimeError (token already used)
 * or ValueError (token of another variable or context). */
AIO__SINCE_3_7 AIO_API int aio_contextvar_reset(aio_contextvar *var, aio_contextvar_token *token);

#ifdef __cplusplus
}
#endif

#endif /* CASYNCIO_CONTEXTVARS_H */
