/* casyncio/net.h - what the network API hands C beside the generated
 * functions: bytes objects, and typed forms of a transport's extra info.
 *
 * Hand-written; C only. See docs/transports.md for who owns what.
 */
#ifndef CASYNCIO_NET_H
#define CASYNCIO_NET_H

#include "casyncio/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- bytes ---------------------------------------------------------------------
 * An immutable, reference-counted bytes object: what sock_recv() gives (the
 * future owns it; aio_incref() it to keep it), and what a program may hand
 * out as one. */

/* bytes(data[:len]), copied. New reference; NULL with MemoryError. */
AIO_API aio_bytes *aio_bytes_new(const void *data, size_t len);
/* Its data (borrowed from it; never NULL, even when empty) and its length. */
AIO_API const void *aio_bytes_data(const aio_bytes *bytes);
AIO_API size_t aio_bytes_size(const aio_bytes *bytes);

/* --- A transport's extra info, typed ---------------------------------------------
 * transport.get_extra_info(name) returns a `const void *` whose type depends
 * on the key: 'socket' and 'pipe' a `const int *` (the file descriptor; a
 * pointer, so that fd 0 is not None), 'peername' and 'sockname' a
 * `const aio_address *`; NULL (or the default given) when the transport has
 * no such key. All belong to the transport: valid until its connection is
 * lost (connection_lost() returned), or while a reference to it is held.
 * These say the same with their types: */

/* get_extra_info('socket'): the socket's file descriptor (owned by the
 * transport: do not close it), or -1 when it has none (no exception). */
AIO_API int aio_transport_get_socket(aio_transport *transport);
/* get_extra_info('pipe') of a pipe transport (connect_read_pipe(),
 * connect_write_pipe()): the pipe's file descriptor, 0 included (owned by
 * the transport, which closes it after connection_lost(): do not close
 * it), or -1 for a transport that has no pipe (no exception). The number
 * stays what it was once the pipe is closed, as Python keeps the closed
 * pipe object. */
AIO_API int aio_transport_get_pipe(aio_transport *transport);
/* get_extra_info('peername') and ('sockname'): NULL for None. */
AIO_API const aio_address *aio_transport_get_peername(aio_transport *transport);
AIO_API const aio_address *aio_transport_get_sockname(aio_transport *transport);

#ifdef __cplusplus
}
#endif

#endif /* CASYNCIO_NET_H */
