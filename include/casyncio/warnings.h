/* casyncio/warnings.h - Python's warnings, for what asyncio warns about.
 *
 * Where CPython's asyncio calls warnings.warn() (a DeprecationWarning from
 * get_event_loop() under 3.12, a RuntimeWarning from a slow executor
 * shutdown, ...), casyncio calls aio_warn(). What happens then follows an
 * action per category, as Python's warning filters do:
 *
 *   AIO_WARN_DEFAULT  show the first time a message is warned, then not again
 *                     (Python's "default" action; the initial one for every
 *                     category, as for code in __main__). A message counts
 *                     as the same when its category and text are; the
 *                     library remembers up to 1024 of them, then forgets
 *                     them all, and one it could not remember for want of
 *                     memory shows again: showing too often, never failing;
 *   AIO_WARN_ALWAYS   show every time;
 *   AIO_WARN_IGNORE   drop it;
 *   AIO_WARN_ERROR    raise it: aio_warn() sets the warning as the current
 *                     exception and returns -1, and the function that warned
 *                     fails with it (python -W error).
 *
 * Shown warnings go to the handler; the default one writes
 * "casyncio: <Category>: <message>" on stderr.
 */
#ifndef CASYNCIO_WARNINGS_H
#define CASYNCIO_WARNINGS_H

#include "casyncio/base.h"
#include "casyncio/exceptions.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum aio_warning_action {
    AIO_WARN_DEFAULT = 0,
    AIO_WARN_ALWAYS,
    AIO_WARN_IGNORE,
    AIO_WARN_ERROR
} aio_warning_action;

/* Receives each warning shown: its category and message. */
typedef void (*aio_warning_handler)(const aio_exc_type *category, const char *message, void *arg);

/* Warns: returns 0 when the warning was shown or dropped, -1 with the
 * warning raised when the category's action is AIO_WARN_ERROR. category
 * must be aio_Warning or one of its subclasses (else TypeError, -1), and
 * message not NULL (TypeError). Never fails for want of memory: the
 * thread's current exception, if any, is left as it was unless the warning
 * is raised. aio_warn_format() formats the message first (printf); one that
 * no memory can hold goes out cut to 511 bytes. Thread-safe. */
AIO_API int aio_warn(const aio_exc_type *category, const char *message);
AIO_API int aio_warn_format(const aio_exc_type *category, const char *fmt, ...) AIO_PRINTF(2, 3);

/* Sets the action for category and its subclasses (the most recent setting
 * that covers a category wins, as a filter inserted first does); category
 * NULL resets every category to AIO_WARN_DEFAULT. Either way the messages
 * already shown are forgotten, as a change of Python's filters makes them
 * show once more. -1 with TypeError when category is not a Warning
 * subclass, ValueError for an unknown action, MemoryError. Thread-safe. */
AIO_API int aio_warnings_set_action(const aio_exc_type *category, aio_warning_action action);

/* Routes shown warnings to handler (NULL restores the stderr default). The
 * handler runs in the thread that warned, outside the library's lock (it may
 * warn in turn); message is borrowed for the call. Thread-safe. */
AIO_API void aio_warnings_set_handler(aio_warning_handler handler, void *arg);

#ifdef __cplusplus
}
#endif

#endif /* CASYNCIO_WARNINGS_H */
