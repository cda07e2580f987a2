/* nosigpipe.c - SIGPIPE blocked around a write and taken back (nosigpipe.h). */
#include "nosigpipe.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

void aio__sigpipe_block(aio__sigpipe_guard *guard)
{
    sigset_t pipe_set, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &guard->old);
    guard->was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
}

void aio__sigpipe_restore(aio__sigpipe_guard *guard, bool epipe)
{
    int err = errno;
    if (epipe && !guard->was_pending) {
        sigset_t pipe_set;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        const struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &guard->old, NULL);
    errno = err;
}
