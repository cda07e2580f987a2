/* context.h - contexts as the loop uses them. Internal.
 *
 * A context's variables live in an immutable map shared by copies;
 * ContextVar.set() swaps in a new map. A handle keeps only the map it
 * captured, and runs in a context made for that one run: the copy Python
 * makes with copy_context() is never seen by anyone else, so it need not be
 * an object of its own. NULL is the empty map.
 */
#ifndef CASYNCIO_RUNTIME_CONTEXT_H
#define CASYNCIO_RUNTIME_CONTEXT_H

#include <stdint.h>

#include "casyncio/contextvars.h"
#include "object.h"

typedef struct aio__ctxmap aio__ctxmap;

struct aio_context {
    aio__object ob;
    aio__ctxmap *map;
    aio_context *prev;   /* the context current before this one was entered */
    uint64_t id;         /* identity for tokens; 0 until a token needs it */
    bool entered;
};

/* The current thread's context. */
AIO_INTERNAL aio_context *aio__context_current(void);
/* The current map, with a reference taken (copy_context without the object). */
AIO_INTERNAL aio__ctxmap *aio__ctxmap_capture(void);
AIO_INTERNAL void aio__ctxmap_incref(aio__ctxmap *map);
AIO_INTERNAL void aio__ctxmap_decref(aio__ctxmap *map);
/* A new context object over map (a reference of its own taken); NULL
 * with MemoryError. */
AIO_INTERNAL aio_context *aio__context_from_map(aio__ctxmap *map);

/* Enters ctx; -1 with RuntimeError when it is already entered. */
AIO_INTERNAL int aio__context_enter(aio_context *ctx);
AIO_INTERNAL void aio__context_exit(aio_context *ctx);
/* Sets up `scratch` as a fresh context over map (taking a reference) and
 * enters it; aio__context_exit_scratch() leaves it and drops what it holds. */
AIO_INTERNAL void aio__context_enter_scratch(aio_context *scratch, aio__ctxmap *map);
AIO_INTERNAL void aio__context_exit_scratch(aio_context *scratch);

#endif /* CASYNCIO_RUNTIME_CONTEXT_H */
