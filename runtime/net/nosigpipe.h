/* nosigpipe.h - writing where the reader may be gone without SIGPIPE.
 * Internal.
 *
 * send() has MSG_NOSIGNAL; sendfile(2) and write(2) on a pipe have nothing
 * like it, and a reader gone raises SIGPIPE, which Python ignores for the
 * whole process and a library must not. Around such a call SIGPIPE is
 * blocked in the calling thread; a SIGPIPE the call raised (it failed with
 * EPIPE) is taken back with sigtimedwait(), unless one was pending before
 * (that one is the program's and stays pending). The program sees EPIPE
 * (BrokenPipeError), never the signal, whatever SIGPIPE's disposition.
 */
#ifndef CASYNCIO_RUNTIME_NOSIGPIPE_H
#define CASYNCIO_RUNTIME_NOSIGPIPE_H

#include <signal.h>
#include <stdbool.h>

#include "object.h"

typedef struct aio__sigpipe_guard {
    sigset_t old;        /* the thread's mask before */
    bool was_pending;    /* a SIGPIPE was pending already */
} aio__sigpipe_guard;

/* Blocks SIGPIPE in the calling thread. */
AIO_INTERNAL void aio__sigpipe_block(aio__sigpipe_guard *guard);
/* After the call: epipe is true when it failed with EPIPE. Consumes the
 * SIGPIPE it raised and restores the mask. errno is preserved. */
AIO_INTERNAL void aio__sigpipe_restore(aio__sigpipe_guard *guard, bool epipe);

#endif /* CASYNCIO_RUNTIME_NOSIGPIPE_H */
