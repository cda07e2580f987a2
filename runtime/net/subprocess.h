/* subprocess.h - what the subprocess streams (subprocess_streams.c) ask of
 * the subprocess transport (subprocess.c). Internal. */
#ifndef CASYNCIO_RUNTIME_SUBPROCESS_H
#define CASYNCIO_RUNTIME_SUBPROCESS_H

#include "casyncio/api.h"
#include "impl.h"

/* `await transport._wait()`, inside a task: the return code once the
 * process has exited, or INT_MIN with the exception set (CancelledError,
 * ...). The waiters wake where the loop's target version wakes them:
 * in _process_exited() before 3.11, after connection_lost() from 3.11. */
AIO_INTERNAL int aio__subprocess_wait(aio_transport *t);

#endif /* CASYNCIO_RUNTIME_SUBPROCESS_H */
