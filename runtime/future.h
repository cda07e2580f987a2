/* future.h - the Future object, shared with tasks. Internal. */
#ifndef CASYNCIO_RUNTIME_FUTURE_H
#define CASYNCIO_RUNTIME_FUTURE_H

#include "context.h"
#include "object.h"

typedef enum aio__future_state {
    AIO__FUTURE_PENDING,
    AIO__FUTURE_CANCELLED,
    AIO__FUTURE_FINISHED,
} aio__future_state;

/* A done callback and the context it runs in: the one given as context=,
 * or (map) a copy of the context current when it was added. */
typedef struct aio__future_callback {
    aio_done_callback fn;
    void *arg;
    aio__ctxmap *map;
    aio_context *context;
} aio__future_callback;

struct aio_future {
    aio__object ob;
    aio_loop *loop;
    aio__future_state state;
    void *result;
    void (*result_free)(void *result);
    aio_exc *exception;
    char *cancel_message;
    bool log_traceback;       /* an exception nobody has looked at yet */
    aio__future_callback *callbacks;
    size_t callbacks_len;
    size_t callbacks_cap;
};

/* set_result() handing the future ownership of the result, freed with
 * result_free when the future is (coroutine methods' results). */
AIO_INTERNAL int aio__future_set_result_owned(aio_future *fut, void *result,
                                              void (*result_free)(void *));

#endif /* CASYNCIO_RUNTIME_FUTURE_H */
