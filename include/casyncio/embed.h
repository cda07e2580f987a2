/* casyncio/embed.h - the loop inside another program's main loop.
 *
 * Hand-written; C only (asyncio has no such thing; libuv's uv_backend_fd(),
 * uv_backend_timeout() and UV_RUN_NOWAIT are the model). A program that
 * already owns its main loop (GTK, Qt, libev, a game loop, an interpreter
 * that makes this loop its event loop) drives casyncio's from there:
 *
 *     int fd = aio_loop_backend_fd(loop);        // watch it for reading
 *     for (;;) {
 *         double wait = aio_loop_backend_timeout(loop);  // HUGE_VAL: no deadline
 *         ... the host waits for fd, its own sources, at most `wait` seconds ...
 *         if (aio_loop_run_once(loop, 0) != 0)  // 1: stop() was called
 *             break;
 *     }
 *
 * Each aio_loop_run_once() is exactly one iteration of asyncio's loop (the
 * callbacks ready when it starts, then I/O and due timers, then exactly
 * those), so the order of events is the same as under run_forever(); only
 * the waiting is the host's.
 */
#ifndef CASYNCIO_EMBED_H
#define CASYNCIO_EMBED_H

#include "casyncio/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A file descriptor that polls readable whenever the loop has I/O to
 * handle: a watched descriptor is ready, a signal arrived, or another
 * thread called call_soon_threadsafe(). It is the loop's own (an epoll
 * descriptor): watch it, never read it or close it. -1 with RuntimeError
 * when the loop is closed. */
AIO_API int aio_loop_backend_fd(aio_loop *loop);

/* How long the host may wait before the loop's next iteration is due, in
 * seconds: 0 when callbacks are ready or the loop is stopping, the time
 * until the first timer (at most a day), or HUGE_VAL when only I/O can wake
 * it. It may be early (a cancelled timer not yet purged), never late. -1.0
 * with RuntimeError when the loop is closed. */
AIO_API double aio_loop_backend_timeout(aio_loop *loop);

/* One iteration of the loop, whose poll waits at most `timeout` seconds
 * (0: it does not wait; HUGE_VAL: as long as the iteration itself would,
 * as under run_forever()). The loop is running during the call, as in
 * run_forever(): get_running_loop() finds it, and it cannot run elsewhere.
 * 0, or 1 when stop() was called during the iteration (the stop is then
 * spent, as run_forever() spends it), or -1 with the exception set:
 * RuntimeError as run_forever() raises it, ValueError for a negative or NaN
 * timeout, SystemExit/KeyboardInterrupt from a callback, or what a poll
 * hook raised. */
AIO_API int aio_loop_run_once(aio_loop *loop, double timeout);

/* Called just before and just after the loop blocks in its poll (never
 * around a poll that does not wait), with the poll's timeout in seconds
 * (HUGE_VAL: none): a host releases a lock there (an interpreter's GIL)
 * and takes it back, and checks its own pending signals after. An
 * exception the `after` hook leaves set ends run_forever() (or
 * aio_loop_run_once()) with it, as a KeyboardInterrupt from a callback
 * would; nothing is lost: what the poll found is handled in the next
 * iteration. */
typedef void (*aio_poll_hook)(aio_loop *loop, double timeout, void *arg);

/* Sets both hooks (either may be NULL) and the argument they get. 0, or -1
 * with TypeError for a NULL loop. */
AIO_API int aio_loop_set_poll_hooks(aio_loop *loop, aio_poll_hook before, aio_poll_hook after,
                                    void *arg);

#ifdef __cplusplus
}
#endif

#endif /* CASYNCIO_EMBED_H */
