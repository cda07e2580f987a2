/* sock_io.c - loop.sock_recv(), sock_recv_into(), sock_sendall() and
 * sock_accept() (selector_events.py, 3.11), and the future they wait with.
 *
 * Each tries its system call at once and completes without a loop
 * iteration when it succeeds; only when the call would block does it
 * refuse a transport's descriptor (_ensure_fd_no_transport) and register a
 * reader or writer that tries again at each readiness. Errors of the
 * arguments (debug mode's blocking socket, a negative nbytes) are raised
 * by the call (NULL); an error of the system call is the future's
 * exception, so that aio_await() of the call gives it as Python's await.
 */
#include "sock_io.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bytes.h"
#include "casyncio/net.h"
#include "exc.h"
#include "impl.h"
#include "names.h"
#include "sockaddr.h"

/* --- The future -------------------------------------------------------------------------- */

static void sock_future_dealloc(void *obj)
{
    aio__sock_future *sf = obj;
    if (!aio__future_finalize(&sf->fut))
        return;
    if (sf->clear != NULL)
        sf->clear(sf);
    aio__future_clear(&sf->fut);
    free(sf);
}

AIO__DEFINE_TYPE(sock_future_type) = {"Future", sock_future_dealloc, aio__future_repr, 0};

aio__sock_future *aio__sock_future_new(aio_loop *loop, int fd, aio__sock_step step,
                                       void (*clear)(aio__sock_future *sf), void *op)
{
    aio__sock_future *sf = aio__calloc(1, sizeof *sf);
    if (sf == NULL)
        return NULL;
    aio__future_init(&sf->fut, &sock_future_type, loop);
    sf->fd = fd;
    sf->step = step;
    sf->clear = clear;
    sf->op = op;
    return sf;
}

static void drop_ref(void *obj)
{
    aio__decref(obj);
}

/* The reader's or writer's callback: one more try while the future waits. */
static void sock_ready(void *arg)
{
    aio__sock_future *sf = arg;
    if (sf->unwatch_when_ready) {
        /* 3.8's _sock_accept(fut, registered=True): remove_reader() first,
         * added again while accept() would block. Here it stays while the
         * future waits, and goes once it is done. */
        if (sf->fut.state == AIO__FUTURE_PENDING)
            sf->step(sf);
        if (sf->fut.state != AIO__FUTURE_PENDING && sf->handle != NULL) {
            aio_exc *pending = aio_err_fetch();
            aio__incref(sf); /* the removal releases the watcher's reference */
            aio__io_remove_reader(sf->fut.loop, sf->fd);
            aio__decref(sf);
            aio_err_restore(pending);
        }
        return;
    }
    if (sf->fut.state != AIO__FUTURE_PENDING)
        return;
    sf->step(sf);
}

/* The watcher's argument is released when the loop drops its handle
 * (replaced, removed, cancelled, or the loop closed): the future forgets
 * the handle then, so that neither keeps the other alive. */
static void release_watch(void *arg)
{
    aio__sock_future *sf = arg;
    sf->handle = NULL;
    aio__decref(sf);
}

/* _sock_read_done() / _sock_write_done(): the public remove_reader() (so a
 * transport's descriptor raises here, as in asyncio), unless the handle was
 * replaced or cancelled meanwhile. */
static void sock_done(aio_future *fut, void *arg)
{
    (void)arg;
    aio__sock_future *sf = (aio__sock_future *)fut;
    aio_handle *handle = sf->handle;
    if (handle == NULL || handle->cancelled)
        return;
    if (aio__loop_check_fd(fut->loop, sf->fd) < 0)
        return;
    if (sf->reading)
        aio__io_remove_reader(fut->loop, sf->fd);
    else
        aio__io_remove_writer(fut->loop, sf->fd);
}

int aio__sock_future_watch(aio__sock_future *sf, bool reading)
{
    aio_loop *loop = sf->fut.loop;
    if (aio__loop_check_fd(loop, sf->fd) < 0)
        return -1;
    aio__incref(sf);
    int rc = reading ? aio__io_add_reader(loop, sf->fd, sock_ready, sf, release_watch)
                     : aio__io_add_writer(loop, sf->fd, sock_ready, sf, release_watch);
    if (rc < 0) {
        aio__decref(sf);
        return -1;
    }
    aio__fdwatch *watch = loop->fds[sf->fd];
    sf->reading = reading;
    sf->handle = reading ? watch->reader : watch->writer; /* not a reference */
    if (sf->unwatch_when_ready)
        return 0;
    const aio__future_add_done_callback_args done = {.callback = sock_done};
    if (aio__future_add_done_callback(&sf->fut, &done) < 0) {
        aio__incref(sf); /* the removal releases the watcher's reference */
        if (reading)
            aio__io_remove_reader(loop, sf->fd);
        else
            aio__io_remove_writer(loop, sf->fd);
        aio__decref(sf);
        return -1;
    }
    return 0;
}

int aio__sock_future_add_writer(aio__sock_future *sf)
{
    aio_loop *loop = sf->fut.loop;
    if (aio__loop_check_fd(loop, sf->fd) < 0)
        return -1;
    aio__incref(sf);
    if (aio__io_add_writer(loop, sf->fd, sock_ready, sf, drop_ref) < 0) {
        aio__decref(sf);
        return -1;
    }
    return 0;
}

int aio__sock_check_nonblocking(aio_loop *loop, int fd)
{
    if (!aio__loop_debug(loop))
        return 0;
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0 && !(flags & O_NONBLOCK)) {
        aio_err_set(aio_ValueError, "the socket must be non-blocking");
        return -1;
    }
    return 0;
}

/* The future's exception from errno (the system call failed). */
static void fail_errno(aio__sock_future *sf, int err)
{
    aio__future_fail(&sf->fut, aio_exc_from_errno(err));
}

aio_future *aio__sock_future_done(aio_loop *loop, void *result, void (*result_free)(void *))
{
    aio__sock_future *sf = aio__sock_future_new(loop, -1, NULL, NULL, NULL);
    if (sf == NULL) {
        if (result_free != NULL)
            result_free(result);
        return NULL;
    }
    aio__future_finish_result(&sf->fut, result, result_free);
    return &sf->fut;
}

aio_future *aio__sock_future_failed(aio_loop *loop, int err)
{
    aio__sock_future *sf = aio__sock_future_new(loop, -1, NULL, NULL, NULL);
    if (sf == NULL)
        return NULL;
    fail_errno(sf, err);
    return &sf->fut;
}

aio_future *aio__sock_future_wait(aio_loop *loop, int fd, bool reading, aio__sock_step step,
                                  void (*clear)(aio__sock_future *sf), void *op)
{
    aio__sock_future *sf = aio__sock_future_new(loop, fd, step, clear, op);
    if (sf == NULL) {
        if (clear != NULL) {
            aio__sock_future tmp = {.op = op};
            clear(&tmp);
        }
        return NULL;
    }
    if (aio__sock_future_watch(sf, reading) < 0) {
        aio__decref(sf);
        return NULL;
    }
    return &sf->fut;
}

/* --- sock_recv ----------------------------------------------------------------------------- */

/* The most a bytes object may ask for here; beyond it Python's allocation
 * fails as surely (MemoryError), and sanitizers refuse to try. */
#define MAX_RECV ((int64_t)1 << 40)

static void free_bytes(void *bytes)
{
    aio__decref(bytes);
}

/* sock.recv(n): 1 and the bytes; 0 when it would block; -1 with the
 * exception set (errno's OSError as *err, or MemoryError with *err 0). */
static int try_recv(int fd, int64_t n, aio_bytes **out, int *err)
{
    void *data;
    aio_bytes *b = aio__bytes_alloc((size_t)n, &data);
    *err = 0;
    if (b == NULL)
        return -1;
    if (n == 0) { /* socket.recv(0) asks the system nothing */
        *out = b;
        return 1;
    }
    ssize_t got = recv(fd, data, (size_t)n, 0);
    if (got < 0) {
        *err = errno;
        aio__decref(b);
        return aio__sock_would_block(*err) ? 0 : -1;
    }
    aio__bytes_shrink(b, (size_t)got);
    *out = b;
    return 1;
}

typedef struct recv_op {
    int64_t nbytes;
} recv_op;

static void clear_op(aio__sock_future *sf)
{
    free(sf->op);
    sf->op = NULL;
}

static void recv_step(aio__sock_future *sf)
{
    recv_op *op = sf->op;
    aio_bytes *b = NULL;
    int err;
    int rc = try_recv(sf->fd, op->nbytes, &b, &err);
    if (rc == 0)
        return; /* try again next time */
    if (rc < 0) {
        if (err != 0)
            fail_errno(sf, err);
        else
            aio__future_fail(&sf->fut, NULL);
        return;
    }
    aio__future_finish_result(&sf->fut, b, free_bytes);
}

aio_future *aio__loop_sock_recv(aio_loop *loop, int sock, int64_t nbytes)
{
    if (aio__sock_check_nonblocking(loop, sock) < 0)
        return NULL;
    if (nbytes < 0) {
        aio_err_set(aio_ValueError, "negative buffersize in recv");
        return NULL;
    }
    if (nbytes > MAX_RECV) {
        aio_err_set(aio_MemoryError, NULL);
        return NULL;
    }
    aio_bytes *b = NULL;
    int err;
    int rc = try_recv(sock, nbytes, &b, &err);
    if (rc > 0)
        return aio__sock_future_done(loop, b, free_bytes);
    if (rc < 0)
        return err != 0 ? aio__sock_future_failed(loop, err) : NULL;
    recv_op *op = aio__malloc(sizeof *op);
    if (op == NULL)
        return NULL;
    op->nbytes = nbytes;
    return aio__sock_future_wait(loop, sock, true, recv_step, clear_op, op);
}

/* --- sock_recv_into -------------------------------------------------------------------------- */

typedef struct recv_into_op {
    void *buf;
    size_t len;
} recv_into_op;

static void recv_into_step(aio__sock_future *sf)
{
    recv_into_op *op = sf->op;
    ssize_t got = recv(sf->fd, op->buf, op->len, 0);
    if (got < 0) {
        if (!aio__sock_would_block(errno))
            fail_errno(sf, errno);
        return;
    }
    aio__future_finish_result(&sf->fut, (void *)(intptr_t)got, NULL);
}

aio_future *aio__loop_sock_recv_into(aio_loop *loop, int sock, void *buf, size_t buf_len)
{
    if (aio__sock_check_nonblocking(loop, sock) < 0)
        return NULL;
    if (buf == NULL) {
        aio_err_set(aio_TypeError,
                    "recv_into() argument 1 must be read-write bytes-like object, not None");
        return NULL;
    }
    /* socket.recv_into() of an empty buffer asks the system nothing. */
    ssize_t got = buf_len == 0 ? 0 : recv(sock, buf, buf_len, 0);
    if (got >= 0)
        return aio__sock_future_done(loop, (void *)(intptr_t)got, NULL);
    if (!aio__sock_would_block(errno))
        return aio__sock_future_failed(loop, errno);
    recv_into_op *op = aio__malloc(sizeof *op);
    if (op == NULL)
        return NULL;
    op->buf = buf;
    op->len = buf_len;
    return aio__sock_future_wait(loop, sock, true, recv_into_step, clear_op, op);
}

/* --- sock_sendall ------------------------------------------------------------------------- */

/* What is left to send: a copy, so the caller's data is its own again when
 * the call returns. */
typedef struct sendall_op {
    size_t len;
    size_t pos;
    char data[];
} sendall_op;

static void sendall_step(aio__sock_future *sf)
{
    sendall_op *op = sf->op;
    ssize_t n = send(sf->fd, op->data + op->pos, op->len - op->pos, MSG_NOSIGNAL);
    if (n < 0) {
        if (!aio__sock_would_block(errno))
            fail_errno(sf, errno);
        return;
    }
    op->pos += (size_t)n;
    if (op->pos == op->len)
        aio__future_finish_result(&sf->fut, NULL, NULL);
}

aio_future *aio__loop_sock_sendall(aio_loop *loop, int sock, const void *data, size_t data_len)
{
    if (aio__sock_check_nonblocking(loop, sock) < 0)
        return NULL;
    if (data == NULL) {
        aio_err_set(aio_TypeError, "a bytes-like object is required, not 'NoneType'");
        return NULL;
    }
    ssize_t n = send(sock, data, data_len, MSG_NOSIGNAL);
    if (n < 0) {
        if (!aio__sock_would_block(errno))
            return aio__sock_future_failed(loop, errno);
        n = 0;
    }
    if ((size_t)n == data_len)
        return aio__sock_future_done(loop, NULL, NULL);
    size_t left = data_len - (size_t)n;
    sendall_op *op = aio__malloc(sizeof *op + left);
    if (op == NULL)
        return NULL;
    op->len = left;
    op->pos = 0;
    memcpy(op->data, (const char *)data + n, left);
    return aio__sock_future_wait(loop, sock, false, sendall_step, clear_op, op);
}

/* --- sock_accept ----------------------------------------------------------------------------- */

/* The (conn, address) pair, with the address's strings. The future owns
 * the pair, the caller the connection. */
typedef struct accept_result {
    aio_socket_address pair;
    aio__address_buf address;
} accept_result;

/* sock.accept() and conn.setblocking(False): 1 with the result; 0 when it
 * would block; -1 with *err (errno) or the exception set (*err 0). */
static int try_accept(int fd, accept_result **out, int *err)
{
    *err = 0;
    /* The result's room first: an accepted connection is never dropped
     * for want of memory. */
    accept_result *r = aio__malloc(sizeof *r);
    if (r == NULL)
        return -1;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int conn = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (conn < 0) {
        *err = errno;
        free(r);
        return aio__sock_would_block(*err) ? 0 : -1;
    }
    aio__address_from_sockaddr(&r->address, (struct sockaddr *)&ss, len);
    r->pair.conn = conn;
    r->pair.address = r->address.addr;
    *out = r;
    return 1;
}

static void accept_step(aio__sock_future *sf)
{
    accept_result *r = NULL;
    int err;
    int rc = try_accept(sf->fd, &r, &err);
    if (rc == 0)
        return;
    if (rc < 0) {
        if (err != 0)
            fail_errno(sf, err);
        else
            aio__future_fail(&sf->fut, NULL);
        return;
    }
    aio__future_finish_result(&sf->fut, &r->pair, free);
}

aio_future *aio__loop_sock_accept(aio_loop *loop, int sock)
{
    if (aio__sock_check_nonblocking(loop, sock) < 0)
        return NULL;
    /* The future first, so that an accepted connection always has a place
     * (never a descriptor lost for want of memory). */
    aio__sock_future *sf = aio__sock_future_new(loop, sock, accept_step, NULL, NULL);
    if (sf == NULL)
        return NULL;
    accept_result *r = NULL;
    int err;
    int rc = try_accept(sock, &r, &err);
    if (rc > 0) {
        aio__future_finish_result(&sf->fut, &r->pair, free);
        return &sf->fut;
    }
    if (rc < 0) {
        if (err != 0) {
            fail_errno(sf, err);
            return &sf->fut;
        }
        aio__decref(sf);
        return NULL;
    }
    /* 3.9 added the done callback that removes the reader (a cancel
     * included) */
    sf->unwatch_when_ready = aio_loop_get_target_version(loop) < AIO_PY(3, 9);
    if (aio__sock_future_watch(sf, true) < 0) {
        aio__decref(sf);
        return NULL;
    }
    return &sf->fut;
}

/* What reprs and logs call these callbacks: CPython's names for them. */
AIO__NAME(sock_ready, "BaseSelectorEventLoop._sock_ready", AIO__NAME_SELF_ARG);
AIO__NAME(sock_done, "BaseSelectorEventLoop._sock_read_done", AIO__NAME_SELF_ARG);
