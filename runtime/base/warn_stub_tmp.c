/* TEMPORARY (helper beh): weak stand-ins for casyncio/warnings.h until
 * helper pol's runtime/base/warnings.c is merged; removed then. Enough for
 * the version tests: one action for all categories, the handler. */
#include <stdarg.h>
#include <stdio.h>

#include "casyncio/warnings.h"
#include "exc.h"

static aio_warning_action stub_action;
static aio_warning_handler stub_handler;
static void *stub_arg;

__attribute__((weak)) int aio_warn(const aio_exc_type *category, const char *message)
{
    if (stub_action == AIO_WARN_IGNORE)
        return 0;
    if (stub_action == AIO_WARN_ERROR) {
        aio_err_set(category, message);
        return -1;
    }
    if (stub_handler != NULL)
        stub_handler(category, message, stub_arg);
    else
        fprintf(stderr, "casyncio: warning: %s\n", message);
    return 0;
}

__attribute__((weak)) int aio_warn_format(const aio_exc_type *category, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return aio_warn(category, buf);
}

__attribute__((weak)) int aio_warnings_set_action(const aio_exc_type *category,
                                                  aio_warning_action action)
{
    (void)category;
    stub_action = action;
    return 0;
}

__attribute__((weak)) void aio_warnings_set_handler(aio_warning_handler handler, void *arg)
{
    stub_handler = handler;
    stub_arg = arg;
}
