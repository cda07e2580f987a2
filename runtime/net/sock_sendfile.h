/* sock_sendfile.h - loop.sock_sendfile() for loop.sendfile(). Internal.
 *
 * A file is a file descriptor in C: a regular file for sendfile(2); any
 * readable descriptor for the fallback. Its position is its lseek()
 * offset, which is where the fallback reads from and what is updated to
 * offset + bytes sent, as Python's file.seek() does.
 */
#ifndef CASYNCIO_RUNTIME_SOCK_SENDFILE_H
#define CASYNCIO_RUNTIME_SOCK_SENDFILE_H

#include "impl.h"
#include "object.h"

/* base_events._check_sendfile_params(): 0, or -1 with ValueError (or
 * OSError for what is not a socket). */
AIO_INTERNAL int aio__check_sendfile_params(int sock, int file, int64_t offset, int64_t count,
                                            bool count_is_none);

/* sock_sendfile() after its checks: native first, then (fallback) reading
 * and sending by hand. New reference; NULL with the exception set. */
AIO_INTERNAL aio_future *aio__sock_sendfile_start(aio_loop *loop, int sock, int file,
                                                  int64_t offset, int64_t count, bool fallback);

/* base_events._sock_sendfile_fallback() alone (count 0: None), as CPython's
 * own tests call it. */
AIO_INTERNAL aio_future *aio__sock_sendfile_fallback(aio_loop *loop, int sock, int file,
                                                     int64_t offset, int64_t count);

#endif /* CASYNCIO_RUNTIME_SOCK_SENDFILE_H */
