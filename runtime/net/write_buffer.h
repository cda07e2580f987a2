/* write_buffer.h - what a stream transport has not written yet. Internal.
 *
 * Bytes in order, in chunks (the first may be partly written), copied in
 * by append() so that the caller's memory is free again when write()
 * returns, and handed to writev()/sendmsg() as an iovec array over
 * several chunks. Shared by the socket and the pipe transports.
 */
#ifndef CASYNCIO_RUNTIME_WRITE_BUFFER_H
#define CASYNCIO_RUNTIME_WRITE_BUFFER_H

#include <stddef.h>
#include <sys/uio.h>

#include "object.h"

typedef struct aio__wbuf_chunk aio__wbuf_chunk;

typedef struct aio__write_buffer {
    aio__wbuf_chunk *head;
    aio__wbuf_chunk *tail;
    size_t size;             /* bytes held, not yet written */
} aio__write_buffer;

/* How many iovecs aio__wbuf_iov() fills at most. */
#define AIO__WBUF_IOV_MAX 64

/* Copies data[:len] to the end: 0, or -1 with MemoryError (the buffer as
 * it was). */
AIO_INTERNAL int aio__wbuf_append(aio__write_buffer *b, const void *data, size_t len);
/* Drops the n bytes written from the front (n <= size). */
AIO_INTERNAL void aio__wbuf_consume(aio__write_buffer *b, size_t n);
/* Empties it. */
AIO_INTERNAL void aio__wbuf_clear(aio__write_buffer *b);
/* Fills iov (AIO__WBUF_IOV_MAX entries) with the front; the count. */
AIO_INTERNAL int aio__wbuf_iov(const aio__write_buffer *b, struct iovec *iov);

#endif /* CASYNCIO_RUNTIME_WRITE_BUFFER_H */
