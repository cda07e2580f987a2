/* casyncio.h - Python's asyncio event loop, in C.
 *
 *   #include <casyncio.h>
 *
 * Names mirror asyncio: asyncio.new_event_loop() is aio_new_event_loop(),
 * loop.call_later(...) is aio_loop_call_later(loop, ...), and so on. See
 * docs/c-api.md for the conventions and generated/docs/api.md for every
 * function with its defaults and version history.
 */
#ifndef CASYNCIO_H
#define CASYNCIO_H

#include "casyncio/base.h"
#include "casyncio/pyversion.h"
#include "casyncio/exceptions.h"
#include "casyncio/contextvars.h"
#include "casyncio/log.h"
#include "casyncio/warnings.h"
#include "casyncio/api.h"
#include "casyncio/tasks.h"
#include "casyncio/executor.h"
#include "casyncio/resolver.h"
#include "casyncio/policies.h"
#include "casyncio/embed.h"
#include "casyncio/net.h"

#endif /* CASYNCIO_H */
