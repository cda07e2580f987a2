/* bytes.h - making bytes objects in place. Internal. */
#ifndef CASYNCIO_RUNTIME_BYTES_H
#define CASYNCIO_RUNTIME_BYTES_H

#include "object.h"

/* A new bytes object of len bytes whose contents the caller writes at
 * *data (a receive straight into it). New reference; NULL with MemoryError. */
AIO_INTERNAL aio_bytes *aio__bytes_alloc(size_t len, void **data);
/* Makes a bytes object the caller just made shorter (fewer bytes came). */
AIO_INTERNAL void aio__bytes_shrink(aio_bytes *bytes, size_t len);

#endif /* CASYNCIO_RUNTIME_BYTES_H */
