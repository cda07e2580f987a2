/* sock_dgram.c - the 3.11 datagram socket methods of the loop:
 * sock_recvfrom(), sock_recvfrom_into() and sock_sendto()
 * (selector_events.py, 3.11.7).
 *
 * As the other sock_* methods (sock_io.c): the system call is tried at
 * once and the future is done without a loop iteration when it works; when
 * it would block, a reader or writer tries again at each readiness, and
 * the future's end (its result, its exception or its cancellation) removes
 * it. A datagram longer than the room given is truncated, the rest lost,
 * as recvfrom() does. The results are an aio_datagram (with the sender's
 * address, NULL for None) the future owns, and sock_sendto()'s count of
 * bytes sent.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bytes.h"
#include "datagram_transport.h"
#include "exc.h"
#include "future.h"
#include "impl.h"
#include "sock_io.h"

/* The result: the pair and the address it points to, in one block. */
typedef struct datagram_result {
    aio_datagram d;
    aio__address_buf addr;
} datagram_result;

static void free_result(void *arg)
{
    datagram_result *r = arg;
    aio__decref(r->d.data);
    free(r);
}

/* Makes the result of a datagram (data may be NULL: recvfrom_into) from
 * the kernel's address; NULL with MemoryError (data dropped). */
static datagram_result *make_result(aio_bytes *data, size_t n, const struct sockaddr_storage *ss,
                                    socklen_t sslen)
{
    datagram_result *r = aio__calloc(1, sizeof *r);
    if (r == NULL) {
        aio__decref(data);
        return NULL;
    }
    r->d.data = data;
    r->d.nbytes = n;
    if (aio__sender_known(ss, sslen)) {
        aio__address_from_sockaddr(&r->addr, (const struct sockaddr *)ss, sslen);
        r->d.address = &r->addr.addr;
    }
    return r;
}

/* One recvfrom() into buf (or into new bytes of n when buf is NULL).
 * 1 with *out the result; 0 when it would block; -1 with *err errno's, or
 * with MemoryError set and *err 0. */
static int try_recvfrom(int fd, void *buf, size_t n, datagram_result **out, int *err)
{
    aio_bytes *b = NULL;
    void *into = buf;
    *err = 0;
    if (buf == NULL && (b = aio__bytes_alloc(n, &into)) == NULL)
        return -1;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;
    memset(&ss, 0, sizeof ss);
    char dummy;
    /* recvfrom(0) still takes a datagram off the queue; give it a byte
     * of nothing so that the kernel is asked the same. */
    ssize_t got = recvfrom(fd, n > 0 ? into : &dummy, n, 0, (struct sockaddr *)&ss, &sslen);
    if (got < 0) {
        *err = errno;
        aio__decref(b);
        return aio__sock_would_block(*err) ? 0 : -1;
    }
    if (b != NULL)
        aio__bytes_shrink(b, (size_t)got);
    *out = make_result(b, (size_t)got, &ss, sslen);
    return *out != NULL ? 1 : -1;
}

typedef struct recvfrom_op {
    void *buf;          /* NULL: new bytes */
    size_t n;
} recvfrom_op;

static void clear_op(aio__sock_future *sf)
{
    free(sf->op);
    sf->op = NULL;
}

static void recvfrom_step(aio__sock_future *sf)
{
    recvfrom_op *op = sf->op;
    datagram_result *r = NULL;
    int err;
    int rc = try_recvfrom(sf->fd, op->buf, op->n, &r, &err);
    if (rc == 0)
        return;
    if (rc < 0) {
        aio__future_fail(&sf->fut, err != 0 ? aio_exc_from_errno(err) : aio_err_fetch());
        return;
    }
    aio__future_finish_result(&sf->fut, r, free_result);
}

static aio_future *recvfrom_start(aio_loop *loop, int sock, void *buf, size_t n)
{
    datagram_result *r = NULL;
    int err;
    int rc = try_recvfrom(sock, buf, n, &r, &err);
    if (rc > 0)
        return aio__sock_future_done(loop, r, free_result);
    if (rc < 0)
        return err != 0 ? aio__sock_future_failed(loop, err) : NULL;
    recvfrom_op *op = aio__malloc(sizeof *op);
    if (op == NULL)
        return NULL;
    op->buf = buf;
    op->n = n;
    return aio__sock_future_wait(loop, sock, true, recvfrom_step, clear_op, op);
}

/* The most a bytes object may ask for (as sock_recv()). */
#define MAX_RECV ((int64_t)1 << 40)

aio_future *aio__loop_sock_recvfrom(aio_loop *loop, int sock, int64_t bufsize)
{
    if (aio__sock_check_nonblocking(loop, sock) < 0)
        return NULL;
    if (bufsize < 0) {
        aio_err_set(aio_ValueError, "negative buffersize in recvfrom");
        return NULL;
    }
    if (bufsize > MAX_RECV) {
        aio_err_set(aio_MemoryError, NULL);
        return NULL;
    }
    return recvfrom_start(loop, sock, NULL, (size_t)bufsize);
}

aio_future *aio__loop_sock_recvfrom_into(aio_loop *loop,
                                         const aio__loop_sock_recvfrom_into_args *args)
{
    if (aio__sock_check_nonblocking(loop, args->sock) < 0)
        return NULL;
    if (args->buf == NULL) {
        if (args->nbytes == 0) /* len(buf) */
            aio_err_set(aio_TypeError, "object of type 'NoneType' has no len()");
        else
            aio_err_set(aio_TypeError, "recvfrom_into() argument 1 must be read-write "
                                       "bytes-like object, not None");
        return NULL;
    }
    int64_t n = args->nbytes == 0 ? (int64_t)args->buf_len : args->nbytes;
    if (n < 0) {
        aio_err_set(aio_ValueError, "negative buffersize in recvfrom_into");
        return NULL;
    }
    if ((uint64_t)n > args->buf_len) {
        aio_err_set(aio_ValueError, "nbytes is greater than the length of the buffer");
        return NULL;
    }
    return recvfrom_start(loop, args->sock, args->buf, (size_t)n);
}

/* --- sock_sendto ----------------------------------------------------------------------- */

typedef struct sendto_op {
    struct sockaddr_storage ss;
    socklen_t sslen;
    size_t len;
    char data[];
} sendto_op;

static void sendto_step(aio__sock_future *sf)
{
    sendto_op *op = sf->op;
    ssize_t n = sendto(sf->fd, op->data, op->len, MSG_NOSIGNAL, (struct sockaddr *)&op->ss,
                       op->sslen);
    if (n < 0) {
        if (!aio__sock_would_block(errno))
            aio__future_fail(&sf->fut, aio_exc_from_errno(errno));
        return;
    }
    aio__future_finish_result(&sf->fut, (void *)(intptr_t)n, NULL);
}

aio_future *aio__loop_sock_sendto(aio_loop *loop, int sock, const void *data, size_t data_len,
                                  const aio_address *address)
{
    if (aio__sock_check_nonblocking(loop, sock) < 0)
        return NULL;
    if (data == NULL) {
        aio_err_set(aio_TypeError, "a bytes-like object is required, not 'NoneType'");
        return NULL;
    }
    int family, type, proto;
    aio__socket_kind(sock, &family, &type, &proto);
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    if (family >= 0) {
        if (address == NULL) {
            if (family == AF_UNIX)
                aio_err_set(aio_TypeError, "a bytes-like object is required, not 'NoneType'");
            else
                aio_err_format(aio_TypeError,
                               "sendto(): %s address must be tuple, not NoneType",
                               family == AF_INET6 ? "AF_INET6" : "AF_INET");
            return NULL;
        }
        if (aio__sendto_address(address, family, &ss, &sslen) < 0)
            return NULL;
    }
    ssize_t n = sendto(sock, data_len > 0 ? data : "", data_len, MSG_NOSIGNAL,
                       sslen > 0 ? (struct sockaddr *)&ss : NULL, sslen);
    if (n >= 0)
        return aio__sock_future_done(loop, (void *)(intptr_t)n, NULL);
    if (!aio__sock_would_block(errno))
        return aio__sock_future_failed(loop, errno);
    if (data_len > SIZE_MAX - sizeof(sendto_op)) {
        aio_err_set(aio_MemoryError, NULL);
        return NULL;
    }
    sendto_op *op = aio__malloc(sizeof *op + data_len);
    if (op == NULL)
        return NULL;
    op->ss = ss;
    op->sslen = sslen;
    op->len = data_len;
    if (data_len > 0)
        memcpy(op->data, data, data_len);
    return aio__sock_future_wait(loop, sock, false, sendto_step, clear_op, op);
}
