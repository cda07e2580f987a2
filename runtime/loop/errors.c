/* errors.c - the loop's exception handler: set_exception_handler,
 * get_exception_handler, default_exception_handler, call_exception_handler
 * (base_events.py). */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "casyncio/api.h"
#include "casyncio/log.h"
#include "exc.h"
#include "impl.h"
#include "loop.h"

int aio__loop_set_exception_handler(aio_loop *loop, aio_exception_handler handler,
                                    void *handler_arg)
{
    loop->exception_handler = handler;
    loop->exception_handler_arg = handler ? handler_arg : NULL;
    return 0;
}

aio_exception_handler aio__loop_get_exception_handler(aio_loop *loop)
{
    return loop->exception_handler;
}

/* --- Formatting the context like repr() of its values -------------------- */

static int socket_repr(int fd, aio__strbuf *out)
{
    if (fd == AIO_ZERO)
        fd = 0;
    int family = -1, type = -1, proto = -1;
    socklen_t len = sizeof family;
    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len);
    len = sizeof type;
    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
    len = sizeof proto;
    getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len);
    return aio__sb_appendf(out, "<socket.socket fd=%d, family=%d, type=%d, proto=%d>", fd,
                           family, type, proto);
}

typedef struct context_line {
    const char *key;
    char *value;
} context_line;

static int compare_lines(const void *a, const void *b)
{
    return strcmp(((const context_line *)a)->key, ((const context_line *)b)->key);
}

static void context_dict_repr(const aio_exception_context *ctx, aio__strbuf *out, int depth);

/* repr() of one value of the context, by key. */
static char *value_repr(const aio_exception_context *ctx, const char *key, int depth)
{
    aio__strbuf sb = AIO__STRBUF_INIT;
    if (strcmp(key, "message") == 0)
        aio__sb_append_pyrepr(&sb, ctx->message);
    else if (strcmp(key, "exception") == 0)
        aio__repr_into(ctx->exception, &sb);
    else if (strcmp(key, "future") == 0)
        aio__repr_into(ctx->future, &sb);
    else if (strcmp(key, "task") == 0)
        aio__repr_into(ctx->task, &sb);
    else if (strcmp(key, "handle") == 0)
        aio__repr_into(ctx->handle, &sb);
    else if (strcmp(key, "protocol") == 0)
        aio__sb_appendf(&sb, "<aio_protocol object at %p>", (void *)ctx->protocol);
    else if (strcmp(key, "transport") == 0)
        aio__repr_into(ctx->transport, &sb);
    else if (strcmp(key, "socket") == 0)
        socket_repr(ctx->socket, &sb);
    else if (strcmp(key, "asyncgen") == 0)
        aio__sb_appendf(&sb, "<async_generator object at %p>", ctx->asyncgen);
    else if (strcmp(key, "context") == 0)
        context_dict_repr(ctx->context, &sb, depth + 1);
    return aio__sb_finish(&sb);
}

/* The keys present in ctx, in the order a dict built by asyncio has them. */
static size_t context_keys(const aio_exception_context *ctx, const char **keys)
{
    size_t n = 0;
    if (ctx->message != NULL)
        keys[n++] = "message";
    if (ctx->exception != NULL)
        keys[n++] = "exception";
    if (ctx->future != NULL)
        keys[n++] = "future";
    if (ctx->task != NULL)
        keys[n++] = "task";
    if (ctx->handle != NULL)
        keys[n++] = "handle";
    if (ctx->protocol != NULL)
        keys[n++] = "protocol";
    if (ctx->transport != NULL)
        keys[n++] = "transport";
    if (ctx->socket != 0)
        keys[n++] = "socket";
    if (ctx->asyncgen != NULL)
        keys[n++] = "asyncgen";
    if (ctx->source_traceback != NULL)
        keys[n++] = "source_traceback";
    if (ctx->handle_traceback != NULL)
        keys[n++] = "handle_traceback";
    if (ctx->context != NULL)
        keys[n++] = "context";
    return n;
}

#define MAX_KEYS 16

static void context_dict_repr(const aio_exception_context *ctx, aio__strbuf *out, int depth)
{
    if (ctx == NULL || depth > 8) {
        aio__sb_append(out, ctx ? "{...}" : "None");
        return;
    }
    const char *keys[MAX_KEYS];
    size_t n = context_keys(ctx, keys);
    aio__sb_append(out, "{");
    for (size_t i = 0; i < n + ctx->extra_len; i++) {
        const char *key = i < n ? keys[i] : ctx->extra[i - n].key;
        if (i > 0)
            aio__sb_append(out, ", ");
        aio__sb_append_pyrepr(out, key);
        aio__sb_append(out, ": ");
        if (i >= n) {
            aio__sb_append(out, ctx->extra[i - n].value ? ctx->extra[i - n].value : "None");
        } else if (strcmp(key, "source_traceback") == 0 || strcmp(key, "handle_traceback") == 0) {
            aio__sb_append_pyrepr(out, strcmp(key, "source_traceback") == 0
                                           ? ctx->source_traceback
                                           : ctx->handle_traceback);
        } else {
            char *value = value_repr(ctx, key, depth);
            aio__sb_append(out, value ? value : "?");
            free(value);
        }
    }
    aio__sb_append(out, "}");
}

/* default_exception_handler(): one ERROR record on the `asyncio` logger. */
int aio__loop_default_exception_handler(aio_loop *loop, const aio_exception_context *ctx)
{
    (void)loop;
    if (ctx == NULL) {
        aio_err_set(aio_AttributeError, "'NoneType' object has no attribute 'get'");
        return -1;
    }
    aio__strbuf text = AIO__STRBUF_INIT;
    aio__sb_append(&text, ctx->message && *ctx->message ? ctx->message
                                                         : "Unhandled exception in event loop");

    const char *keys[MAX_KEYS];
    size_t n = context_keys(ctx, keys);
    size_t total = n + ctx->extra_len;
    context_line *lines = aio__calloc(total ? total : 1, sizeof *lines);
    if (lines == NULL) {
        aio__sb_free(&text);
        return -1;
    }
    size_t count = 0;
    for (size_t i = 0; i < total; i++) {
        const char *key = i < n ? keys[i] : ctx->extra[i - n].key;
        if (key == NULL || strcmp(key, "message") == 0 || strcmp(key, "exception") == 0)
            continue;
        aio__strbuf value = AIO__STRBUF_INIT;
        if (i >= n) {
            aio__sb_append(&value, ctx->extra[i - n].value ? ctx->extra[i - n].value : "None");
        } else if (strcmp(key, "source_traceback") == 0) {
            aio__sb_append(&value, "Object created at (most recent call last):\n");
            aio__sb_append(&value, ctx->source_traceback);
        } else if (strcmp(key, "handle_traceback") == 0) {
            aio__sb_append(&value, "Handle created at (most recent call last):\n");
            aio__sb_append(&value, ctx->handle_traceback);
        } else {
            char *repr = value_repr(ctx, key, 0);
            aio__sb_append(&value, repr ? repr : "?");
            free(repr);
        }
        lines[count].key = key;
        lines[count].value = aio__sb_finish(&value);
        count++;
    }
    /* Python sorts the keys; equal keys cannot occur in a dict. */
    qsort(lines, count, sizeof *lines, compare_lines);
    for (size_t i = 0; i < count; i++) {
        char *value = lines[i].value;
        /* Tracebacks are printed without their trailing newline. */
        if (value != NULL) {
            size_t len = strlen(value);
            while (len > 0 && (value[len - 1] == '\n' || value[len - 1] == ' '))
                value[--len] = '\0';
        }
        aio__sb_appendf(&text, "\n%s: %s", lines[i].key, value ? value : "?");
        free(value);
    }
    free(lines);
    char *message = aio__sb_finish(&text);
    if (message == NULL)
        return -1;
    aio_log(AIO_LOG_ERROR, ctx->exception, "%s", message);
    free(message);
    return 0;
}

static bool is_exit(const aio_exc *exc)
{
    return aio_exc_isinstance(exc, aio_SystemExit) ||
           aio_exc_isinstance(exc, aio_KeyboardInterrupt);
}

/* From 3.12 the custom handler runs in the context of the task, else (no
 * future either) of the handle the report is about: ctx.run(handler). A
 * context already entered (a task reporting about itself) makes that fail
 * with RuntimeError, which is then the handler's error, as in CPython. */
static void run_custom_handler(aio_loop *loop, const aio_exception_context *ctx)
{
    aio_context *run_in = NULL;
    aio__ctxmap *map = NULL;
    if (ctx != NULL && aio_loop_get_target_version(loop) >= AIO_PY(3, 12)) {
        if (ctx->task != NULL) {
            run_in = aio__task_get_context(ctx->task);
            if (run_in == NULL)
                aio_err_clear();
        } else if (ctx->future == NULL && ctx->handle != NULL) {
            if (ctx->handle->has_context)
                run_in = ctx->handle->context;
            else if (!ctx->handle->repr_frozen)
                map = ctx->handle->map;
        }
    }
    if (run_in != NULL) {
        if (aio__context_enter(run_in) < 0)
            return; /* RuntimeError: cannot enter context */
        loop->exception_handler(loop, ctx, loop->exception_handler_arg);
        aio_exc *exc = aio_err_fetch();
        aio__context_exit(run_in);
        aio_err_restore(exc);
    } else if (map != NULL) {
        aio_context scratch;
        aio__context_enter_scratch(&scratch, map);
        loop->exception_handler(loop, ctx, loop->exception_handler_arg);
        aio_exc *exc = aio_err_fetch();
        aio__context_exit_scratch(&scratch);
        aio_err_restore(exc);
    } else {
        loop->exception_handler(loop, ctx, loop->exception_handler_arg);
    }
}

/* call_exception_handler(): the custom handler if one is set, else the
 * default; what a handler raises is reported rather than propagated, except
 * SystemExit and KeyboardInterrupt. */
static int call_handler(aio_loop *loop, const aio_exception_context *ctx)
{
    if (loop->exception_handler == NULL) {
        if (aio__loop_default_exception_handler(loop, ctx) < 0) {
            aio_exc *exc = aio_err_fetch();
            if (is_exit(exc)) {
                aio_err_restore(exc);
                return -1;
            }
            aio_log(AIO_LOG_ERROR, exc, "Exception in default exception handler");
            aio__decref(exc);
        }
        return 0;
    }
    run_custom_handler(loop, ctx);
    aio_exc *exc = aio_err_fetch();
    if (exc == NULL)
        return 0;
    if (is_exit(exc)) {
        aio_err_restore(exc);
        return -1;
    }
    aio_exception_context failure = {
        .message = "Unhandled error in exception handler",
        .exception = exc,
        .context = ctx,
    };
    if (aio__loop_default_exception_handler(loop, &failure) < 0) {
        aio_exc *again = aio_err_fetch();
        if (is_exit(again)) {
            aio__decref(exc);
            aio_err_restore(again);
            return -1;
        }
        aio_log(AIO_LOG_ERROR, again,
                "Exception in default exception handler while handling an unexpected error "
                "in custom exception handler");
        aio__decref(again);
    }
    aio__decref(exc);
    return 0;
}

int aio__loop_call_exception_handler(aio_loop *loop, const aio_exception_context *ctx)
{
    /* A NULL context (None) goes to the handler as it is, as in asyncio:
     * the default handler's AttributeError is logged, a custom handler
     * gets NULL. The handler runs with no exception set. An exception the caller had
     * set (a C caller reporting while unwinding) is kept for it, unless the
     * handler raises SystemExit or KeyboardInterrupt. */
    aio_exc *outer = aio_err_fetch();
    int rc = call_handler(loop, ctx);
    if (rc == 0)
        aio_err_restore(outer);
    else
        aio__decref(outer);
    return rc;
}
