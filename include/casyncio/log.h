/* casyncio/log.h - the `asyncio` logger.
 *
 * asyncio reports through logging.getLogger('asyncio'). casyncio has one
 * logger too: by default it writes records of level WARNING and above to
 * stderr the way Python's last-resort handler does (the message, then the
 * exception's last traceback line); a handler can take them instead.
 */
#ifndef CASYNCIO_LOG_H
#define CASYNCIO_LOG_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    AIO_LOG_DEBUG = 10,
    AIO_LOG_INFO = 20,
    AIO_LOG_WARNING = 30,
    AIO_LOG_ERROR = 40,
    AIO_LOG_CRITICAL = 50
};

/* Receives one record: its level, the message, and the exception of
 * exc_info (NULL when none). */
typedef void (*aio_log_handler)(int level, const char *message, aio_exc *exc, void *arg);

/* Routes records to handler (NULL restores the stderr default). */
AIO_API void aio_log_set_handler(aio_log_handler handler, void *arg);
/* Records below level are dropped (logger.setLevel). Default: WARNING. */
AIO_API void aio_log_set_level(int level);
AIO_API int aio_log_get_level(void);
/* Emits a record, as logger.log(level, message, exc_info=exc) would. */
AIO_API void aio_log(int level, aio_exc *exc, const char *fmt, ...) AIO_PRINTF(3, 4);

#ifdef __cplusplus
}
#endif

#endif /* CASYNCIO_LOG_H */
