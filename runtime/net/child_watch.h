/* child_watch.h - waiting for one child process from the loop, without
 * racing with anyone else's waitpid(): a pidfd the loop polls (Linux 5.3
 * and later), or a thread blocked in waitpid() on that one pid, which
 * wakes the loop through a pipe (ThreadedChildWatcher's way). Internal. */
#ifndef CASYNCIO_RUNTIME_CHILD_WATCH_H
#define CASYNCIO_RUNTIME_CHILD_WATCH_H

#include <stdbool.h>
#include <sys/types.h>

#include "transport.h"

typedef struct aio__child_watch aio__child_watch;

/* Called on the loop's thread once the child is reaped, with its return
 * code as Popen gives it (the exit status, or -signal); 255 with a
 * warning logged when somebody else reaped it. The watch is spent then:
 * the callback frees it (aio__child_watch_free). */
typedef void (*aio__child_exited)(void *arg, int returncode);

/* Starts watching pid. The descriptor the loop polls is attached to
 * `owner` (transports: loop close orphans the owner). NULL with the
 * exception set; the caller then reaps the child itself. */
AIO_INTERNAL aio__child_watch *aio__child_watch_start(aio_loop *loop, pid_t pid,
                                                      aio_transport *owner,
                                                      aio__child_exited callback, void *arg);
/* After the callback: frees a spent watch. */
AIO_INTERNAL void aio__child_watch_free(aio__child_watch *w);
/* The owner goes away before the child was reaped (the loop closed): the
 * watch stops calling, and the child is reaped in the background, so that
 * it leaves no zombie. Frees the watch. */
AIO_INTERNAL void aio__child_watch_orphan(aio__child_watch *w);
/* Forces the fallback (a thread per child), for tests. */
AIO_INTERNAL void aio__child_watch_force_threads(bool on);

#endif /* CASYNCIO_RUNTIME_CHILD_WATCH_H */
