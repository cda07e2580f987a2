/* exc.h - exception helpers shared inside the runtime. Internal. */
#ifndef CASYNCIO_RUNTIME_EXC_H
#define CASYNCIO_RUNTIME_EXC_H

#include "casyncio/exceptions.h"
#include "object.h"

/* Appends the type's name as tracebacks print it ("asyncio.exceptions.X"). */
AIO_INTERNAL int aio__exc_type_qualname(const aio_exc_type *type, aio__strbuf *out);
/* The exception as the last lines of a traceback, causes first, each line
 * ending in a newline; NULL when out of memory. */
AIO_INTERNAL char *aio__exc_format_lines(const aio_exc *exc);

#endif /* CASYNCIO_RUNTIME_EXC_H */
