/* conformance.h - what the C twins of the conformance scenarios share.
 *
 * Not a scenario itself (run.py pairs only .py and .c files). Each helper
 * prints what the Python scripts print with the same few lines of Python:
 *
 *   exc_line(e)      f"{type(e).__name__}: {e}"
 *   py_bool(x)       str(bool(x))                  "True" / "False"
 *   log records      "log: LEVEL first-line-of-message | ExcType-or-None",
 *                    as the logging.Handler the scripts attach to the
 *                    'asyncio' logger prints them
 *
 * An unexpected failure of a call the scenario relies on prints the
 * exception on stderr and exits with status 3, which no Python twin uses.
 *
 * The target version the twin's loops have is set before main() by
 * ../support/target_version.c, which run.py links into every twin (the
 * examples, which do not include this header, too).
 */
#ifndef CONFORMANCE_H
#define CONFORMANCE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <casyncio.h>

static inline const char *py_bool(int value)
{
    return value ? "True" : "False";
}

/* "Type: message" of an exception, into a static buffer. */
static inline const char *exc_line(const aio_exc *exc)
{
    static char buf[1024];
    if (exc == NULL)
        return "None";
    snprintf(buf, sizeof buf, "%s: %s", aio_exc_type_of(exc)->name, aio_exc_str(exc));
    return buf;
}

/* Prints "<what>: Type: message" for the current exception and clears it,
 * or "<what>: no exception" when none is set. */
static inline void print_raised(const char *what)
{
    aio_exc *exc = aio_err_fetch();
    if (exc == NULL) {
        printf("%s: no exception\n", what);
        return;
    }
    printf("%s: %s\n", what, exc_line(exc));
    aio_decref(exc);
}

/* repr(obj) without its " at 0x..." address, into a static buffer, as
 * re.sub(r' at 0x[0-9a-f]+', '', repr(obj)) prints it. */
static inline const char *repr_no_address(const void *obj)
{
    static char buf[1024];
    char *repr = aio_repr(obj);
    const char *src = repr ? repr : "?";
    size_t n = 0;
    while (*src != '\0' && n + 1 < sizeof buf) {
        if (strncmp(src, " at 0x", 6) == 0) {
            src += 6;
            while ((*src >= '0' && *src <= '9') || (*src >= 'a' && *src <= 'f'))
                src++;
            continue;
        }
        buf[n++] = *src++;
    }
    buf[n] = '\0';
    free(repr);
    return buf;
}

/* Ends the program when an exception nobody expected is set. */
static inline void check_(int failed, const char *expr, int line)
{
    if (!failed)
        return;
    fflush(stdout);
    fprintf(stderr, "line %d: %s failed: ", line, expr);
    if (aio_err_occurred() != NULL)
        aio_err_print();
    else
        fprintf(stderr, "no exception set\n");
    exit(3);
}
#define CHECK(expr) check_(!(expr), #expr, __LINE__)

/* Where the script lets the current exception propagate: Python prints its
 * traceback and exits with status 1 (only stdout and the status are
 * compared). */
static inline void uncaught(void)
{
    fflush(stdout);
    aio_err_print();
    exit(1);
}

static inline const char *level_name(int level)
{
    switch (level) {
    case AIO_LOG_DEBUG:
        return "DEBUG";
    case AIO_LOG_INFO:
        return "INFO";
    case AIO_LOG_WARNING:
        return "WARNING";
    case AIO_LOG_ERROR:
        return "ERROR";
    case AIO_LOG_CRITICAL:
        return "CRITICAL";
    default:
        return "Level ?";
    }
}

/* The message's first line, into a static buffer. */
static inline const char *first_line(const char *message)
{
    static char buf[1024];
    size_t n = strcspn(message, "\n");
    if (n >= sizeof buf)
        n = sizeof buf - 1;
    memcpy(buf, message, n);
    buf[n] = '\0';
    return buf;
}

/* The log handler most scenarios install with aio_log_set_handler(). */
static inline void print_log_record(int level, const char *message, aio_exc *exc, void *arg)
{
    (void)arg;
    printf("log: %s %s | %s\n", level_name(level), first_line(message),
           exc ? aio_exc_type_of(exc)->name : "None");
}
AIO_NAME_CALLBACK(print_log_record);

static inline int compare_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* sorted(context) of an exception-handler context, as Python prints the
 * list: "['exception', 'handle', 'message']". Static buffer. */
static inline const char *context_keys(const aio_exception_context *ctx)
{
    static char buf[1024];
    const char *keys[64];
    size_t n = 0;
    const struct {
        bool present;
        const char *name;
    } fields[] = {
        {ctx->message != NULL, "message"},
        {ctx->exception != NULL, "exception"},
        {ctx->future != NULL, "future"},
        {ctx->task != NULL, "task"},
        {ctx->handle != NULL, "handle"},
        {ctx->protocol != NULL, "protocol"},
        {ctx->transport != NULL, "transport"},
        {ctx->socket != 0, "socket"},
        {ctx->asyncgen != NULL, "asyncgen"},
        {ctx->source_traceback != NULL, "source_traceback"},
        {ctx->handle_traceback != NULL, "handle_traceback"},
        {ctx->context != NULL, "context"},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (fields[i].present)
            keys[n++] = fields[i].name;
    for (size_t i = 0; i < ctx->extra_len && n < 64; i++)
        keys[n++] = ctx->extra[i].key;
    qsort(keys, n, sizeof keys[0], compare_keys);
    size_t len = 0;
    buf[len++] = '[';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s'%s'", i ? ", " : "", keys[i]);
    snprintf(buf + len, sizeof buf - len, "]");
    return buf;
}

/* The value of an extra key of a context (already a repr), or NULL. */
static inline const char *context_extra(const aio_exception_context *ctx, const char *key)
{
    for (size_t i = 0; i < ctx->extra_len; i++)
        if (strcmp(ctx->extra[i].key, key) == 0)
            return ctx->extra[i].value;
    return NULL;
}

#endif /* CONFORMANCE_H */
