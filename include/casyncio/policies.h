/* casyncio/policies.h - event loop policies made in C.
 *
 * Hand-written; C only. In Python a policy is an instance of a class
 * derived from AbstractEventLoopPolicy or DefaultEventLoopPolicy. In C it is
 * a reference-counted object whose struct (struct aio_event_loop_policy,
 * casyncio/policy.h) holds one function pointer per method: a caller makes
 * one here, fills in or replaces the fields it overrides, installs it with
 * aio_set_event_loop_policy() and drops its reference with aio_decref().
 *
 * Both constructors take the size of the caller's struct, which may start
 * with a struct aio_event_loop_policy and go on with fields of its own
 * (0 or sizeof(aio_event_loop_policy) when there are none); the extra room
 * is zero-filled and freed with the object.
 *
 *     typedef struct counting_policy {
 *         aio_event_loop_policy base;
 *         aio_loop *(*parent_get_event_loop)(aio_event_loop_policy *self);
 *         int calls;
 *     } counting_policy;
 *
 *     counting_policy *p = (counting_policy *)aio_default_event_loop_policy_new(sizeof *p);
 *     p->parent_get_event_loop = p->base.get_event_loop;
 *     p->base.get_event_loop = counting_get_event_loop;   // class P(DefaultEventLoopPolicy)
 *     aio_set_event_loop_policy(&p->base);
 *     aio_decref(p);
 *
 * Every method field may be replaced so, get_child_watcher and
 * set_child_watcher too: asyncio.get_child_watcher() and
 * set_child_watcher() (aio_get_child_watcher(), aio_set_child_watcher())
 * call the fields of the policy in force.
 *
 * The default policy behaves as the target version's does (the running
 * loop's, else the process default; casyncio/pyversion.h):
 *
 * - get_event_loop() creates the main thread's loop when set_event_loop()
 *   was never called there, silently up to 3.11 (as 3.10.9+ and 3.11.1+
 *   do; the 3.10.0-3.10.8 and 3.11.0 warnings are not reproduced), with
 *   DeprecationWarning "There is no current event loop" (aio_warn()) from
 *   3.12, before the loop is made, so that under AIO_WARN_ERROR none is.
 *   Elsewhere: RuntimeError "There is no current event loop in thread
 *   'NAME'.", NAME being "MainThread", an executor worker's "<prefix>_<n>",
 *   or "Dummy-N" for any other thread (Python's name for threads it did not
 *   start).
 * - set_event_loop() of what is not a loop raises AssertionError (no
 *   message) before 3.11, TypeError "loop must be an instance of
 *   AbstractEventLoop or None, not '<type>'" from 3.11; either way the
 *   thread counts as having called it, as in CPython.
 *
 * Child watchers. The library reaps each child itself (a pidfd the loop
 * polls, or a thread blocked in waitpid() where pidfds are missing), for
 * every loop in every thread; no watcher needs attaching. A child watcher
 * here is an object (aio_repr(), aio_incref() and aio_decref() work on it,
 * from any thread) that stands for that reaping, named as the class the
 * target version's policy would create: SafeChildWatcher before 3.8,
 * ThreadedChildWatcher, and PidfdChildWatcher from 3.12 where pidfd_open()
 * works. The default policy's get_child_watcher() makes one on first use
 * and keeps it (the pointer is borrowed: valid until set_child_watcher()
 * replaces it); set_child_watcher() takes NULL or a watcher it returned
 * (anything else: AssertionError, no message) and keeps a reference.
 * Setting one changes what get_child_watcher() returns, never how children
 * are reaped. From 3.12 both methods warn (DeprecationWarning
 * "'get_child_watcher' is deprecated as of Python 3.12 and will be removed
 * in Python 3.14.", likewise 'set_child_watcher'), after doing their work,
 * as CPython does; 3.14 removed them, and targets stop at 3.13. asyncio's
 * watcher classes themselves (AbstractChildWatcher, ThreadedChildWatcher(),
 * attach_loop(), add_child_handler(), ...) are not offered.
 */
#ifndef CASYNCIO_POLICIES_H
#define CASYNCIO_POLICIES_H

#include "casyncio/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* AbstractEventLoopPolicy(): every method field NULL, so that each raises
 * NotImplementedError until the caller fills it in. `size` is the size of
 * the caller's struct (see above). New reference; NULL with MemoryError, or
 * ValueError when size is smaller than struct aio_event_loop_policy. */
AIO_API aio_event_loop_policy *aio_event_loop_policy_new(size_t size);

/* DefaultEventLoopPolicy(): asyncio's default policy, with per-thread
 * loops; its method fields may be replaced (keep the old pointer to call the
 * default behaviour, as super() would). New reference; NULL with
 * MemoryError, or ValueError when size is too small. */
AIO_API aio_event_loop_policy *aio_default_event_loop_policy_new(size_t size);

#ifdef __cplusplus
}
#endif

#endif /* CASYNCIO_POLICIES_H */
