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

/* A copy of exc, its cause, context and group copied too (a new
 * reference), sharing no reference count with it: for an exception that
 * another thread holds (a concurrent future's). NULL with MemoryError. */
AIO_INTERNAL aio_exc *aio__exc_clone(const aio_exc *exc);

/* sys.flags.dev_mode: PYTHONDEVMODE is set (and not empty). */
AIO_INTERNAL bool aio__dev_mode(void);
/* OSError(errnum, strerror, filename) of errnum's subclass: its str() is
 * "[Errno N] text: 'filename'". New reference (MemoryError's when out of
 * memory). */
AIO_INTERNAL aio_exc *aio__exc_oserror_filename(int errnum, const char *filename);
/* warnings.warn(fmt % repr(obj), ResourceWarning): shown, as Python's
 * default filters show it, only in development mode, through the asyncio
 * logger. fmt has one %s, for the repr. */
AIO_INTERNAL void aio__resource_warning(const char *fmt, const void *obj);

#endif /* CASYNCIO_RUNTIME_EXC_H */
