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
