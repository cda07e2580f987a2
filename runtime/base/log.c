/* log.c - the `asyncio` logger: records of WARNING and above go to stderr
 * the way Python's last-resort handler writes them, unless a handler takes
 * them. */
#include "casyncio/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "exc.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static aio_log_handler log_handler;
static void *log_handler_arg;
static int log_level = AIO_LOG_WARNING;

void aio_log_set_handler(aio_log_handler handler, void *arg)
{
    pthread_mutex_lock(&log_lock);
    log_handler = handler;
    log_handler_arg = arg;
    pthread_mutex_unlock(&log_lock);
}

void aio_log_set_level(int level)
{
    pthread_mutex_lock(&log_lock);
    log_level = level;
    pthread_mutex_unlock(&log_lock);
}

int aio_log_get_level(void)
{
    pthread_mutex_lock(&log_lock);
    int level = log_level;
    pthread_mutex_unlock(&log_lock);
    return level;
}

static void write_stderr(const char *message, aio_exc *exc)
{
    char *lines = exc ? aio__exc_format_lines(exc) : NULL;
    flockfile(stderr);
    fputs(message, stderr);
    fputc('\n', stderr);
    if (lines != NULL)
        fputs(lines, stderr);
    fflush(stderr);
    funlockfile(stderr);
    free(lines);
}

void aio_log(int level, aio_exc *exc, const char *fmt, ...)
{
    pthread_mutex_lock(&log_lock);
    int threshold = log_level;
    aio_log_handler handler = log_handler;
    void *arg = log_handler_arg;
    pthread_mutex_unlock(&log_lock);
    if (level < threshold)
        return;

    /* Building the message must not disturb an exception being handled. */
    aio_exc *saved = aio_err_fetch();
    aio__strbuf sb = AIO__STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    aio__sb_vappendf(&sb, fmt, ap);
    va_end(ap);
    char *message = aio__sb_finish(&sb);
    if (handler != NULL)
        handler(level, message ? message : "(out of memory)", exc, arg);
    else
        write_stderr(message ? message : "(out of memory)", exc);
    free(message);
    aio_err_clear();
    aio_err_restore(saved);
}

bool aio__dev_mode(void)
{
    const char *dev = getenv("PYTHONDEVMODE");
    return dev != NULL && *dev != '\0';
}

void aio__resource_warning(const char *fmt, const void *obj)
{
    if (!aio__dev_mode())
        return;
    char *repr = aio_repr(obj);
    char message[1024];
    snprintf(message, sizeof message, fmt, repr ? repr : "?");
    free(repr);
    aio_log(AIO_LOG_WARNING, NULL, "ResourceWarning: %s", message);
}
