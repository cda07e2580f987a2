/* sock_sendfile.c - loop.sock_sendfile() (base_events.py, unix_events.py,
 * 3.11): sendfile(2) from the file to the socket, each call tried at once
 * and again when the socket is writable; when sendfile(2) cannot serve
 * (the first call fails: not a regular file, a pipe, a socket) and
 * fallback is true, the file is read in blocks of 256 KiB (at most count)
 * and each block sent as sock_sendall() sends it.
 *
 * The file is a descriptor (sock_sendfile.h). CPython reads the fallback's
 * blocks in its default executor; here a block is read with read(2) on the
 * loop's thread, one block per iteration, which is what a regular file
 * allows without blocking for long.
 */
#include "sock_sendfile.h"

#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exc.h"
#include "names.h"
#include "nosigpipe.h"
#include "sock_io.h"
#include "sockaddr.h"

/* constants.SENDFILE_FALLBACK_READBUFFER_SIZE */
#define FALLBACK_BLOCK (256 * 1024)

typedef struct sendfile_op {
    int file;
    int64_t offset;         /* native: where the next sendfile() reads */
    int64_t start;          /* the offset asked for */
    int64_t count;          /* 0: None */
    int64_t blocksize;
    int64_t total_sent;
    bool fallback;          /* fall back when native is not possible */
    bool in_fallback;       /* the fallback runs */
    bool writer_on;         /* our writer is registered */
    bool done_cb_added;
    /* The fallback's block: `len` read, `pos` of them sent. */
    char *buf;
    size_t len;
    size_t pos;
} sendfile_op;

static void clear_op(aio__sock_future *sf)
{
    sendfile_op *op = sf->op;
    if (op != NULL)
        free(op->buf);
    free(op);
    sf->op = NULL;
}

static void remove_writer(aio__sock_future *sf)
{
    sendfile_op *op = sf->op;
    if (op->writer_on) {
        op->writer_on = false;
        aio__io_remove_writer(sf->fut.loop, sf->fd);
    }
}

static void finish_result(aio__sock_future *sf)
{
    sendfile_op *op = sf->op;
    remove_writer(sf);
    aio__future_finish_result(&sf->fut, (void *)(intptr_t)op->total_sent, NULL);
}

/* Takes exc over; NULL: the current exception. */
static void finish_exception(aio__sock_future *sf, aio_exc *exc)
{
    if (exc == NULL)
        exc = aio_err_fetch();
    remove_writer(sf);
    aio__future_fail(&sf->fut, exc);
}

/* _sock_add_cancellation_callback(): a cancelled future stops watching the
 * socket. */
static void sendfile_done(aio_future *fut, void *arg)
{
    (void)arg;
    aio__sock_future *sf = (aio__sock_future *)fut;
    if (fut->state == AIO__FUTURE_CANCELLED && sf->op != NULL)
        remove_writer(sf);
}

static int add_writer(aio__sock_future *sf)
{
    sendfile_op *op = sf->op;
    if (!op->done_cb_added) {
        const aio__future_add_done_callback_args done = {.callback = sendfile_done};
        if (aio__future_add_done_callback(&sf->fut, &done) < 0)
            return -1;
        op->done_cb_added = true;
    }
    if (op->writer_on)
        return 0;
    if (aio__sock_future_add_writer(sf) < 0)
        return -1;
    op->writer_on = true;
    return 0;
}

/* --- The fallback ----------------------------------------------------------------------- */

static void fallback_step(aio__sock_future *sf);

/* The `finally:` of the fallback: the file's position at offset + sent. */
static int fallback_seek_end(sendfile_op *op)
{
    if (op->total_sent > 0 && lseek(op->file, op->start + op->total_sent, SEEK_SET) < 0) {
        aio_err_set_from_errno(errno);
        return -1;
    }
    return 0;
}

static void fallback_fail(aio__sock_future *sf, aio_exc *exc)
{
    sendfile_op *op = sf->op;
    if (fallback_seek_end(op) < 0) {
        aio__decref(exc);
        exc = NULL; /* the seek's error replaces it, as in a finally: */
    }
    finish_exception(sf, exc);
}

static void fallback_next_cb(void *arg)
{
    aio__sock_future *sf = arg;
    if (sf->fut.state == AIO__FUTURE_PENDING)
        fallback_step(sf);
    aio__decref(sf);
}

static void drop_ref(void *obj)
{
    aio__decref(obj);
}

/* Sends what is left of the block, reads the next one when it is all sent
 * (in the next iteration, as the executor's read would come back). */
static void fallback_step(aio__sock_future *sf)
{
    sendfile_op *op = sf->op;
    if (op->pos < op->len) {
        ssize_t n = send(sf->fd, op->buf + op->pos, op->len - op->pos, MSG_NOSIGNAL);
        if (n < 0) {
            if (aio__sock_would_block(errno)) {
                if (add_writer(sf) < 0)
                    fallback_fail(sf, NULL);
                return;
            }
            fallback_fail(sf, aio_exc_from_errno(errno));
            return;
        }
        op->pos += (size_t)n;
        if (op->pos < op->len) {
            if (add_writer(sf) < 0)
                fallback_fail(sf, NULL);
            return;
        }
        op->total_sent += (int64_t)op->len;
        op->len = op->pos = 0;
        remove_writer(sf);
        /* The next block in the next iteration. */
        aio__incref(sf);
        const aio__loop_call_soon_args next = {
            .callback = fallback_next_cb, .args = sf, .args_release = drop_ref};
        if (aio__loop_call_soon(sf->fut.loop, &next) == NULL) {
            aio__decref(sf);
            fallback_fail(sf, NULL);
        }
        return;
    }
    size_t want = (size_t)op->blocksize;
    if (op->count > 0) {
        int64_t left = op->count - op->total_sent;
        if (left <= 0) {
            if (fallback_seek_end(op) < 0)
                finish_exception(sf, NULL);
            else
                finish_result(sf);
            return;
        }
        if ((int64_t)want > left)
            want = (size_t)left;
    }
    ssize_t got = read(op->file, op->buf, want);
    if (got < 0) {
        fallback_fail(sf, aio_exc_from_errno(errno));
        return;
    }
    if (got == 0) {
        if (fallback_seek_end(op) < 0)
            finish_exception(sf, NULL);
        else
            finish_result(sf);
        return;
    }
    op->len = (size_t)got;
    op->pos = 0;
    fallback_step(sf);
}

/* Switches the future to the fallback: `if offset: file.seek(offset)`, the
 * buffer, the first block. */
static void fallback_start(aio__sock_future *sf)
{
    sendfile_op *op = sf->op;
    op->in_fallback = true;
    op->total_sent = 0;
    op->offset = op->start;
    if (op->start != 0 && lseek(op->file, op->start, SEEK_SET) < 0) {
        finish_exception(sf, aio_exc_from_errno(errno));
        return;
    }
    op->blocksize = op->count > 0 && op->count < FALLBACK_BLOCK ? op->count : FALLBACK_BLOCK;
    op->buf = aio__malloc((size_t)op->blocksize);
    if (op->buf == NULL) {
        finish_exception(sf, NULL);
        return;
    }
    fallback_step(sf);
}

/* --- Native ------------------------------------------------------------------------------ */

static void update_filepos(sendfile_op *op)
{
    if (op->total_sent > 0)
        lseek(op->file, op->offset, SEEK_SET);
}

/* Native is not possible: the fallback, or SendfileNotAvailableError. */
static void not_available(aio__sock_future *sf, const char *why)
{
    sendfile_op *op = sf->op;
    if (op->fallback) {
        remove_writer(sf);
        fallback_start(sf);
        return;
    }
    finish_exception(sf, aio_exc_new(aio_SendfileNotAvailableError, why));
}

/* sendfile(2) has no MSG_NOSIGNAL: SIGPIPE is kept from the program
 * (nosigpipe.h). */
static ssize_t sendfile_nosignal(int sock, int file, off_t *off, size_t count)
{
    aio__sigpipe_guard guard;
    aio__sigpipe_block(&guard);
    ssize_t sent = sendfile(sock, file, off, count);
    aio__sigpipe_restore(&guard, sent < 0 && errno == EPIPE);
    return sent;
}

/* _sock_sendfile_native_impl(): one sendfile() call. */
static void native_step(aio__sock_future *sf)
{
    sendfile_op *op = sf->op;
    if (op->in_fallback) {
        fallback_step(sf);
        return;
    }
    bool from_writer = op->writer_on;
    remove_writer(sf);
    if (op->count > 0) {
        op->blocksize = op->count - op->total_sent;
        if (op->blocksize <= 0) {
            update_filepos(op);
            finish_result(sf);
            return;
        }
    }
    off_t off = (off_t)op->offset;
    ssize_t sent = sendfile_nosignal(sf->fd, op->file, &off, (size_t)op->blocksize);
    if (sent < 0) {
        int err = errno;
        if (aio__sock_would_block(err)) {
            if (add_writer(sf) < 0)
                finish_exception(sf, NULL);
            return;
        }
        update_filepos(op);
        if (op->total_sent == 0) {
            not_available(sf, "os.sendfile call failed");
            return;
        }
        if (from_writer && err == ENOTCONN)
            finish_exception(sf, aio_exc_new(aio_ConnectionError, "socket is not connected"));
        else
            finish_exception(sf, aio_exc_from_errno(err));
        return;
    }
    if (sent == 0) {
        update_filepos(op);
        finish_result(sf);
        return;
    }
    op->offset += sent;
    op->total_sent += sent;
    if (add_writer(sf) < 0)
        finish_exception(sf, NULL);
}

/* --- The method ---------------------------------------------------------------------------- */

int aio__check_sendfile_params(int sock, int file, int64_t offset, int64_t count,
                               bool count_is_none)
{
    (void)file; /* a descriptor has no text mode: always "binary" */
    int family, type, proto;
    aio__socket_kind(sock, &family, &type, &proto);
    if (type < 0) {
        aio_err_set_from_errno(errno == ENOTSOCK ? ENOTSOCK : EBADF);
        return -1;
    }
    if (type != SOCK_STREAM) {
        aio_err_set(aio_ValueError, "only SOCK_STREAM type sockets are supported");
        return -1;
    }
    if (!count_is_none && count <= 0) {
        aio_err_format(aio_ValueError, "count must be a positive integer (got %lld)",
                       (long long)count);
        return -1;
    }
    if (offset < 0) {
        aio_err_format(aio_ValueError, "offset must be a non-negative integer (got %lld)",
                       (long long)offset);
        return -1;
    }
    return 0;
}

static aio__sock_future *sendfile_future(aio_loop *loop, int sock, int file, int64_t offset,
                                         int64_t count, bool fallback)
{
    sendfile_op *op = aio__calloc(1, sizeof *op);
    if (op == NULL)
        return NULL;
    op->file = file;
    op->offset = op->start = offset;
    op->count = count;
    op->fallback = fallback;
    aio__sock_future *sf = aio__sock_future_new(loop, sock, native_step, clear_op, op);
    if (sf == NULL)
        free(op);
    return sf;
}

aio_future *aio__sock_sendfile_start(aio_loop *loop, int sock, int file, int64_t offset,
                                     int64_t count, bool fallback)
{
    aio__sock_future *sf = sendfile_future(loop, sock, file, offset, count, fallback);
    if (sf == NULL)
        return NULL;
    sendfile_op *op = sf->op;
    struct stat st;
    if (fstat(file, &st) < 0) {
        not_available(sf, "not a regular file");
    } else {
        op->blocksize = count > 0 ? count : (int64_t)st.st_size;
        if (op->blocksize == 0)
            finish_result(sf); /* an empty file */
        else
            native_step(sf);
    }
    return &sf->fut;
}

aio_future *aio__sock_sendfile_fallback(aio_loop *loop, int sock, int file, int64_t offset,
                                        int64_t count)
{
    aio__sock_future *sf = sendfile_future(loop, sock, file, offset, count, true);
    if (sf == NULL)
        return NULL;
    fallback_start(sf);
    return &sf->fut;
}

aio_future *aio__loop_sock_sendfile(aio_loop *loop, const aio__loop_sock_sendfile_args *args)
{
    if (aio__sock_check_nonblocking(loop, args->sock) < 0 ||
        aio__check_sendfile_params(args->sock, args->file, args->offset, args->count,
                                   args->count_is_none) < 0)
        return NULL;
    return aio__sock_sendfile_start(loop, args->sock, args->file, args->offset,
                                    args->count_is_none ? 0 : args->count, args->fallback);
}

/* What reprs and logs call these callbacks. */
AIO__NAME(sendfile_done, "_UnixSelectorEventLoop._sock_add_cancellation_callback.<locals>.cb",
          0);
AIO__NAME(fallback_next_cb, "BaseEventLoop._sock_sendfile_fallback", AIO__NAME_SELF_ARG);
