/* pipe_transport.c - _UnixReadPipeTransport and _UnixWritePipeTransport
 * (unix_events.py, 3.11), and loop.connect_read_pipe() and
 * loop.connect_write_pipe().
 *
 * A pipe is a file descriptor: a pipe or FIFO, a socket or a character
 * device (anything else is refused), made non-blocking, owned by the
 * transport from its start on and closed after connection_lost() has
 * returned, as Python closes the pipe object.
 *
 * Reads: one read(2) of up to 256 KiB per readiness, handed to
 * data_received(); at end of file the reader goes, then eof_received() and
 * connection_lost(None) come in the next iteration. Writes: tried at once
 * while nothing is buffered; the rest goes in the write buffer
 * (write_buffer.h), written with writev(2) when the pipe is writable
 * again. write(2) on a pipe has no MSG_NOSIGNAL: SIGPIPE is kept from the
 * program (nosigpipe.h), which gets BrokenPipeError. The write end of a
 * pipe, FIFO or socket is also watched for reading: readiness there means
 * the reader went away.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "casyncio/log.h"
#include "connection.h"
#include "exc.h"
#include "future.h"
#include "names.h"
#include "nosigpipe.h"
#include "pipe_transport.h"
#include "transport.h"
#include "write_buffer.h"

typedef struct pipe_transport {
    aio_transport base;
    int fd;                   /* -1 once closed (Python's _pipe is None) */
    int fd_number;            /* for reprs and the 'pipe' extra info */
    bool write_side;
    bool paused;              /* pause_reading() */
    bool reading;             /* our reader is registered with the loop */
    bool writing;             /* our writer is registered with the loop */
    bool lost_scheduled;      /* connection_lost() queued or called */
    bool alive;               /* holds its own reference (the connection) */
    bool base_is_reading;     /* made before 3.11: is_reading() is
                                 ReadTransport's, NotImplementedError */
    aio_exc *lost_exc;        /* what connection_lost() will get */
    aio__write_buffer buffer; /* the write side's */
    bool waiting;             /* the waiter below is still to be called */
    aio__transport_waiter waiter;
    aio__pipe_waiter_fail waiter_fail;
    aio_exc *start_exc;       /* a MemoryError of the reader's start, for the waiter */
} pipe_transport;

static int pt_repr(const void *obj, aio__strbuf *out);
static void pt_dealloc(void *obj);

AIO__DEFINE_TYPE(read_pipe_type) = {"_UnixReadPipeTransport", pt_dealloc, pt_repr,
                                    AIO__TYPE_TRANSPORT};
AIO__DEFINE_TYPE(write_pipe_type) = {"_UnixWritePipeTransport", pt_dealloc, pt_repr,
                                     AIO__TYPE_TRANSPORT};

static inline pipe_transport *as_pt(aio_transport *t)
{
    return (pipe_transport *)t;
}

static int call_soon_with(pipe_transport *pt, aio_callback fn)
{
    return aio__transport_call_soon(&pt->base, fn);
}

static void log_self(pipe_transport *pt, int level, aio_exc *exc, const char *what)
{
    if (pt->base.loop == NULL || !aio__loop_debug(pt->base.loop))
        return;
    char *repr = aio_repr(pt);
    aio_log(level, exc, "%s%s", repr ? repr : "?", what);
    free(repr);
}

/* --- The loop's reader and writer -------------------------------------------------- */

static void read_ready(void *arg);
static void peer_closed(void *arg);
static void write_ready(void *arg);

static void remove_reader(pipe_transport *pt)
{
    aio__transport_remove_reader(&pt->base, pt->fd, &pt->reading);
}

static void remove_writer(pipe_transport *pt)
{
    aio__transport_remove_writer(&pt->base, pt->fd, &pt->writing);
}

/* The write side reads only to learn that the reader went away. */
static int add_reader(pipe_transport *pt)
{
    return aio__transport_add_reader(&pt->base, pt->fd, &pt->reading,
                                     pt->write_side ? peer_closed : read_ready);
}

static int add_writer(pipe_transport *pt)
{
    return aio__transport_add_writer(&pt->base, pt->fd, &pt->writing, write_ready);
}

/* --- Closing --------------------------------------------------------------------------- */

/* _call_connection_lost(exc): connection_lost(), then (finally) the pipe
 * closed, the protocol released, the loop let go of. */
static void call_connection_lost(pipe_transport *pt)
{
    aio_exc *exc = pt->lost_exc;
    pt->lost_exc = NULL;
    pt->lost_scheduled = true;
    aio_protocol *protocol = pt->base.protocol;
    if (pt->base.protocol_connected && protocol != NULL && protocol->connection_lost != NULL)
        protocol->connection_lost(protocol, exc);
    aio__decref(exc);
    aio_exc *pending = aio_err_fetch(); /* what connection_lost() raised stays set */
    if (pt->base.loop != NULL) {
        remove_reader(pt);
        remove_writer(pt);
        aio__transports_detach(pt->base.loop, pt->fd, &pt->base);
    }
    aio__wbuf_clear(&pt->buffer);
    if (pt->fd >= 0)
        close(pt->fd);
    pt->fd = -1;
    aio__transport_clear(&pt->base);
    aio_err_restore(pending);
    if (pt->alive) {
        pt->alive = false;
        aio__decref(pt);
    }
}

static void call_connection_lost_cb(void *arg)
{
    pipe_transport *pt = arg;
    if (pt->fd >= 0)
        call_connection_lost(pt);
    aio__decref(pt);
}

/* _close(exc): takes exc over. The read side's and the write side's in
 * one: the write side drops its buffer and its writer too. */
static void close_with(pipe_transport *pt, aio_exc *exc)
{
    pt->base.closing = true;
    if (pt->lost_scheduled) {
        aio__decref(exc);
        return;
    }
    remove_writer(pt);
    aio__wbuf_clear(&pt->buffer);
    remove_reader(pt);
    pt->lost_scheduled = true;
    pt->lost_exc = exc;
    if (call_soon_with(pt, call_connection_lost_cb) < 0) {
        /* No memory to schedule it: end the connection here. */
        aio_err_clear();
        aio__incref(pt);
        call_connection_lost(pt);
        aio__decref(pt);
    }
}

/* _fatal_error(exc, message): takes exc over. The read side only logs
 * EIO (in debug mode), the write side any OSError (3.6: of three kinds);
 * anything else goes to the exception handler. */
static void fatal_error(pipe_transport *pt, aio_exc *exc, int err, const char *message)
{
    bool quiet = pt->write_side ? aio__transport_error_is_quiet(&pt->base, exc) : err == EIO;
    if (quiet) {
        if (aio__loop_debug(pt->base.loop)) {
            char *repr = aio_repr(pt);
            aio_log(AIO_LOG_DEBUG, exc, "%s: %s", repr ? repr : "?", message);
            free(repr);
        }
    } else {
        aio__transport_report(&pt->base, message, aio_incref(exc));
    }
    close_with(pt, exc);
}

static int pt_close(aio_transport *t)
{
    pipe_transport *pt = as_pt(t);
    if (t->closing || pt->fd < 0)
        return 0;
    if (!pt->write_side) {
        close_with(pt, NULL);
        return 0;
    }
    /* write_eof() is all closing the write end needs */
    return t->cls->write_eof(t);
}

static int pt_abort(aio_transport *t)
{
    close_with(as_pt(t), NULL);
    return 0;
}

/* --- The read side --------------------------------------------------------------------- */

static void eof_received_cb(void *arg)
{
    pipe_transport *pt = arg;
    aio_protocol *p = pt->base.protocol;
    if (p != NULL && p->eof_received != NULL)
        p->eof_received(p); /* what it returns does not matter here */
    aio__decref(pt);
}

static void read_ready(void *arg)
{
    pipe_transport *pt = arg;
    if (pt->lost_scheduled)
        return;
    void *buf = aio__transports_read_buffer(pt->base.loop);
    if (buf == NULL)
        return; /* MemoryError, reported by the loop as this callback's */
    ssize_t n = read(pt->fd, buf, AIO__READ_SIZE);
    if (n < 0) {
        int err = errno;
        if (err != EAGAIN && err != EWOULDBLOCK && err != EINTR)
            fatal_error(pt, aio_exc_from_errno(err), err, "Fatal read error on pipe transport");
        return;
    }
    if (n > 0) {
        /* An exception of data_received() is the callback's: the loop
         * reports it, and the transport goes on. */
        aio_protocol *p = pt->base.protocol;
        if (p->data_received != NULL)
            p->data_received(p, buf, (size_t)n);
        return;
    }
    log_self(pt, AIO_LOG_INFO, NULL, " was closed by peer");
    pt->base.closing = true;
    remove_reader(pt);
    pt->lost_scheduled = true;
    if (call_soon_with(pt, eof_received_cb) < 0 ||
        call_soon_with(pt, call_connection_lost_cb) < 0) {
        /* MemoryError: the loop reports it as this callback's; the
         * connection ends here. */
        aio_exc *exc = aio_err_fetch();
        aio__incref(pt);
        call_connection_lost(pt);
        aio__decref(pt);
        aio_err_restore(exc);
    }
}

static int rp_is_reading(aio_transport *t)
{
    return !as_pt(t)->paused && !t->closing;
}

/* transport.is_reading(): the read pipe transport has its own from 3.11. */
static int rp_is_reading_method(aio_transport *t)
{
    if (as_pt(t)->base_is_reading) {
        aio_err_set(aio_NotImplementedError, NULL);
        return -1;
    }
    return rp_is_reading(t);
}

static int rp_pause_reading(aio_transport *t)
{
    pipe_transport *pt = as_pt(t);
    if (!rp_is_reading(t))
        return 0;
    pt->paused = true;
    remove_reader(pt);
    log_self(pt, AIO_LOG_DEBUG, NULL, " pauses reading");
    return 0;
}

static int rp_resume_reading(aio_transport *t)
{
    pipe_transport *pt = as_pt(t);
    if (t->closing || !pt->paused)
        return 0;
    pt->paused = false;
    if (add_reader(pt) < 0)
        return -1;
    log_self(pt, AIO_LOG_DEBUG, NULL, " resumes reading");
    return 0;
}

/* --- The write side -------------------------------------------------------------------- */

static ssize_t write_nosignal(int fd, const struct iovec *iov, int n_iov)
{
    aio__sigpipe_guard guard;
    aio__sigpipe_block(&guard);
    ssize_t n = writev(fd, iov, n_iov);
    aio__sigpipe_restore(&guard, n < 0 && errno == EPIPE);
    return n;
}

static bool would_block(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

/* The reader of the write end is ready: the reader went away. */
static void peer_closed(void *arg)
{
    pipe_transport *pt = arg;
    log_self(pt, AIO_LOG_INFO, NULL, " was closed by peer");
    close_with(pt, pt->buffer.size > 0 ? aio_exc_new(aio_BrokenPipeError, NULL) : NULL);
}

static int wp_write(aio_transport *t, const void *data, size_t len)
{
    pipe_transport *pt = as_pt(t);
    if (len == 0)
        return 0;
    if (t->conn_lost || t->closing) {
        if (t->conn_lost >= AIO__LOG_THRESHOLD_FOR_CONNLOST_WRITES)
            aio_log(AIO_LOG_WARNING, NULL,
                    "pipe closed by peer or os.write(pipe, data) raised exception.");
        t->conn_lost++;
        return 0;
    }
    const char *p = data;
    if (pt->buffer.size == 0) {
        struct iovec iov = {(void *)p, len};
        ssize_t n = write_nosignal(pt->fd, &iov, 1);
        if (n < 0) {
            int err = errno;
            if (!would_block(err)) {
                t->conn_lost++;
                fatal_error(pt, aio_exc_from_errno(err), err,
                            "Fatal write error on pipe transport");
                return 0;
            }
            n = 0;
        }
        if ((size_t)n == len)
            return 0;
        p += n;
        len -= (size_t)n;
        if (add_writer(pt) < 0)
            return -1;
    }
    if (aio__wbuf_append(&pt->buffer, p, len) < 0)
        return -1;
    aio__transport_maybe_pause_protocol(t);
    return 0;
}

static void write_ready(void *arg)
{
    pipe_transport *pt = arg;
    if (pt->buffer.size == 0)
        return;
    struct iovec iov[AIO__WBUF_IOV_MAX];
    int n_iov = aio__wbuf_iov(&pt->buffer, iov);
    ssize_t n = write_nosignal(pt->fd, iov, n_iov);
    if (n < 0) {
        int err = errno;
        if (would_block(err))
            return;
        aio__wbuf_clear(&pt->buffer);
        pt->base.conn_lost++;
        remove_writer(pt);
        fatal_error(pt, aio_exc_from_errno(err), err, "Fatal write error on pipe transport");
        return;
    }
    if ((size_t)n < pt->buffer.size) {
        aio__wbuf_consume(&pt->buffer, (size_t)n);
        return;
    }
    aio__wbuf_clear(&pt->buffer);
    remove_writer(pt);
    aio__transport_maybe_resume_protocol(&pt->base); /* may write again */
    if (pt->base.closing && !pt->lost_scheduled) {
        remove_reader(pt);
        aio__incref(pt); /* until connection_lost() has returned */
        call_connection_lost(pt);
        aio__decref(pt);
    }
}

static int wp_write_eof(aio_transport *t)
{
    pipe_transport *pt = as_pt(t);
    if (t->closing)
        return 0;
    t->closing = true;
    if (pt->buffer.size == 0) {
        remove_reader(pt);
        pt->lost_scheduled = true;
        if (call_soon_with(pt, call_connection_lost_cb) < 0) {
            pt->lost_scheduled = false;
            return -1;
        }
    }
    return 0;
}

static int wp_can_write_eof(aio_transport *t)
{
    (void)t;
    return 1;
}

static int64_t wp_get_write_buffer_size(aio_transport *t)
{
    return (int64_t)as_pt(t)->buffer.size;
}

/* --- Both sides -------------------------------------------------------------------------- */

static const void *pt_extra_info(aio_transport *t, const char *name, bool *found)
{
    *found = name != NULL && strcmp(name, "pipe") == 0;
    return *found ? &as_pt(t)->fd_number : NULL;
}

/* The loop closed with the transport open: what its __del__ does. */
static void pt_orphan(aio_transport *t)
{
    pipe_transport *pt = as_pt(t);
    aio__resource_warning("unclosed transport %s", pt);
    aio__wbuf_clear(&pt->buffer);
    pt->reading = pt->writing = false; /* the loop dropped them already */
    pt->base.closing = true;           /* a closed pipe from now on */
    pt->lost_scheduled = true;
    if (pt->fd >= 0)
        close(pt->fd);
    pt->fd = -1;
    aio__transport_clear(t);
    if (pt->alive) {
        pt->alive = false;
        aio__decref(pt);
    }
}

static const aio__transport_class read_pipe_class = {
    .name = "_UnixReadPipeTransport",
    .close = pt_close,
    .is_reading = rp_is_reading_method,
    .pause_reading = rp_pause_reading,
    .resume_reading = rp_resume_reading,
    .extra_info = pt_extra_info,
    .unguarded_fd = true,
    .orphan = pt_orphan,
};

static const aio__transport_class write_pipe_class = {
    .name = "_UnixWritePipeTransport",
    .close = pt_close,
    .abort = pt_abort,
    .write = wp_write,
    .write_eof = wp_write_eof,
    .can_write_eof = wp_can_write_eof,
    .get_write_buffer_size = wp_get_write_buffer_size,
    .extra_info = pt_extra_info,
    .unguarded_fd = true,
    .orphan = pt_orphan,
};

static int pt_repr(const void *obj, aio__strbuf *out)
{
    const pipe_transport *pt = obj;
    aio__sb_appendf(out, "<%s", pt->write_side ? "_UnixWritePipeTransport"
                                                : "_UnixReadPipeTransport");
    if (pt->fd < 0)
        aio__sb_append(out, " closed");
    else if (pt->base.closing)
        aio__sb_append(out, " closing");
    aio__sb_appendf(out, " fd=%d", pt->fd_number);
    if (pt->fd >= 0 && pt->base.loop != NULL && !aio__loop_is_closed(pt->base.loop)) {
        bool polling = pt->write_side ? pt->writing : pt->reading;
        aio__sb_append(out, polling ? " polling" : " idle");
        if (pt->write_side)
            aio__sb_appendf(out, " bufsize=%zu", pt->buffer.size);
    } else {
        aio__sb_append(out, pt->fd >= 0 ? " open" : " closed");
    }
    return aio__sb_append(out, ">");
}

static void pt_dealloc(void *obj)
{
    pipe_transport *pt = obj;
    aio__wbuf_clear(&pt->buffer);
    aio__decref(pt->lost_exc);
    aio__decref(pt->start_exc);
    if (pt->waiting && pt->waiter.release != NULL) /* its callback dropped unrun */
        pt->waiter.release(pt->waiter.arg);
    if (pt->fd >= 0)
        close(pt->fd);
    aio__transport_clear(&pt->base);
    free(pt);
}

/* --- The start ---------------------------------------------------------------------------- */

static void connection_made_cb(void *arg)
{
    pipe_transport *pt = arg;
    aio_protocol *p = pt->base.protocol;
    if (p != NULL && p->connection_made != NULL)
        p->connection_made(p, &pt->base);
    aio__decref(pt);
}

/* The read side's _add_reader(): only while reading. The write side's
 * watch of the reader going away. */
static void start_reading_cb(void *arg)
{
    pipe_transport *pt = arg;
    if (pt->fd >= 0 && (pt->write_side || rp_is_reading(&pt->base)) && add_reader(pt) < 0 &&
        pt->waiting && pt->waiter_fail != NULL && aio_err_matches(aio_MemoryError)) {
        /* A transport that would never read (or never see its reader go):
         * the connection fails instead, the MemoryError going to whoever
         * waits for it. Other errors are the loop's to report, as
         * asyncio's _add_reader() raising in a callback is. */
        aio__decref(pt->start_exc);
        pt->start_exc = aio_err_fetch();
    }
    aio__decref(pt);
}

/* The waiter: futures._set_result_unless_cancelled(waiter, None); or,
 * when the reader could not start, what `except: transport.close(); raise`
 * does in the coroutine that waits. */
static void waiter_cb(void *arg)
{
    pipe_transport *pt = arg;
    if (pt->waiting) {
        pt->waiting = false;
        aio_exc *exc = pt->start_exc;
        pt->start_exc = NULL;
        if (exc == NULL) {
            pt->waiter.callback(pt->waiter.arg);
        } else {
            aio__transport_close(&pt->base);
            aio_err_clear();
            pt->waiter_fail(pt->waiter.arg, &pt->base, exc);
        }
    }
    aio__decref(pt);
}

/* The transport over fd (pipe_transport.h): connection_made(), the reader
 * and the waiter in the next iteration, in that order. NULL with the
 * exception set, the waiter's reference and the protocol still the
 * caller's. */
aio_transport *aio__pipe_transport_new(aio_loop *loop, int fd, bool write_side,
                                       bool watch_reader, aio_protocol *protocol,
                                       const aio__transport_waiter *waiter,
                                       aio__pipe_waiter_fail waiter_fail)
{
    pipe_transport *pt = aio__calloc(1, sizeof *pt);
    if (pt == NULL)
        return NULL;
    aio__transport_init(&pt->base, write_side ? &write_pipe_type : &read_pipe_type,
                        write_side ? &write_pipe_class : &read_pipe_class, loop, protocol);
    pt->fd = pt->fd_number = fd;
    pt->write_side = write_side;
    pt->base_is_reading = aio_loop_get_target_version(loop) < AIO_PY(3, 11);
    pt->alive = true;
    aio__incref(pt); /* the connection's own reference, dropped once it is lost */
    if (aio__transports_attach(loop, fd, &pt->base) < 0)
        goto fail;
    if (call_soon_with(pt, connection_made_cb) < 0)
        goto fail_attached;
    if ((!write_side || watch_reader) && call_soon_with(pt, start_reading_cb) < 0)
        goto fail_attached;
    if (waiter != NULL) {
        if (call_soon_with(pt, waiter_cb) < 0)
            goto fail_attached;
        pt->waiter = *waiter;
        pt->waiter_fail = waiter_fail;
        pt->waiting = true;
    }
    return &pt->base;

fail_attached:
    aio__transports_detach(loop, fd, &pt->base);
fail:
    /* Nothing ran yet: a callback already queued finds the pipe closed. */
    pt->fd = -1;
    pt->base.protocol = NULL;
    pt->base.closing = true;
    pt->lost_scheduled = true;
    pt->alive = false;
    aio__decref(pt);
    aio__decref(pt);
    return NULL;
}

/* Debug mode's "Read pipe 5 connected: (transport, protocol)", when the
 * coroutine would return. arg: the pipe's number, times 2, plus 1 for the
 * write side. */
static void log_connected(aio_future *fut, void *arg)
{
    if (fut->state != AIO__FUTURE_FINISHED || fut->exception != NULL || fut->result == NULL ||
        !aio__loop_debug(fut->loop))
        return;
    intptr_t code = (intptr_t)arg;
    const aio_transport_protocol *pair = fut->result;
    aio__strbuf sb = AIO__STRBUF_INIT;
    aio__sb_appendf(&sb, "%s pipe %d connected: (", code & 1 ? "Write" : "Read",
                    (int)(code >> 1));
    aio__repr_into(pair->transport, &sb);
    aio__sb_appendf(&sb, ", <aio_protocol object at %p>)", (void *)pair->protocol);
    if (sb.data != NULL)
        aio_log(AIO_LOG_DEBUG, NULL, "%s", sb.data);
    aio__sb_free(&sb);
    aio_err_clear();
}

/* The pipe's reader could not start: the future of (transport, protocol)
 * fails with exc (taken over) and lets go of the transport, closed. */
static void connect_failed(void *arg, aio_transport *t, aio_exc *exc)
{
    aio_future *fut = arg;
    if (fut->state == AIO__FUTURE_PENDING) {
        /* Still the future's pair (a cancellation would have taken it). */
        aio__connection_set_pair(fut, NULL, NULL);
        aio__future_fail(fut, exc);
        aio__decref(t);
    } else {
        aio__decref(exc);
    }
    aio__decref(fut);
}

/* connect_read_pipe() and connect_write_pipe() up to their await: the
 * protocol from the factory, the pipe's kind checked, the pipe made
 * non-blocking, the transport started. */
static aio_future *connect_pipe(aio_loop *loop, aio_protocol_factory factory, void *factory_arg,
                                int fd, bool write_side)
{
    if (factory == NULL) {
        aio_err_set(aio_TypeError, "'NoneType' object is not callable");
        return NULL;
    }
    aio_protocol *protocol = factory(factory_arg);
    if (protocol == NULL && aio_err_occurred() != NULL)
        return NULL;
    aio_future *fut = NULL;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        aio_err_set_from_errno(errno);
        goto fail;
    }
    bool fifo = S_ISFIFO(st.st_mode), sock = S_ISSOCK(st.st_mode);
    if (!fifo && !sock && !S_ISCHR(st.st_mode)) {
        aio_err_set(aio_ValueError, write_side ? "Pipe transport is only for pipes, sockets "
                                                 "and character devices"
                                               : "Pipe transport is for pipes/sockets only.");
        goto fail;
    }
    if (aio__set_nonblocking(fd) < 0)
        goto fail;
    if (protocol == NULL) {
        /* call_soon(self._protocol.connection_made, self) */
        aio_err_set(aio_AttributeError, "'NoneType' object has no attribute 'connection_made'");
        return NULL;
    }
    fut = aio__connection_future_new(loop);
    if (fut == NULL)
        goto fail;
    aio__transport_waiter waiter;
    aio__connection_waiter(fut, &waiter);
    aio_transport *t = aio__pipe_transport_new(loop, fd, write_side, fifo || sock, protocol,
                                               &waiter, connect_failed);
    if (t == NULL) {
        waiter.release(waiter.arg);
        goto fail;
    }
    aio__connection_set_pair(fut, t, protocol);
    if (aio__loop_debug(loop)) {
        const aio__future_add_done_callback_args add = {
            .callback = log_connected, .callback_arg = (void *)(((intptr_t)fd << 1) | write_side)};
        if (aio__future_add_done_callback(fut, &add) < 0)
            aio_err_clear(); /* no memory for a debug line: nothing else is lost */
    }
    return fut;

fail:
    aio__decref(fut);
    aio__protocol_release(protocol);
    return NULL;
}

aio_future *aio__loop_connect_read_pipe(aio_loop *loop, aio_protocol_factory protocol_factory,
                                        void *protocol_factory_arg, int pipe)
{
    return connect_pipe(loop, protocol_factory, protocol_factory_arg, pipe, false);
}

aio_future *aio__loop_connect_write_pipe(aio_loop *loop, aio_protocol_factory protocol_factory,
                                         void *protocol_factory_arg, int pipe)
{
    return connect_pipe(loop, protocol_factory, protocol_factory_arg, pipe, true);
}

/* What reprs and logs call these callbacks: CPython's names for them. */
AIO__NAME(read_ready, "_UnixReadPipeTransport._read_ready", AIO__NAME_SELF_ARG);
AIO__NAME(peer_closed, "_UnixWritePipeTransport._read_ready", AIO__NAME_SELF_ARG);
AIO__NAME(write_ready, "_UnixWritePipeTransport._write_ready", AIO__NAME_SELF_ARG);
AIO__NAME(call_connection_lost_cb, "_UnixPipeTransport._call_connection_lost",
          AIO__NAME_SELF_ARG);
AIO__NAME(eof_received_cb, "Protocol.eof_received", AIO__NAME_ARG_OBJECT);
AIO__NAME(connection_made_cb, "Protocol.connection_made", AIO__NAME_ARG_OBJECT);
AIO__NAME(log_connected, "BaseEventLoop.connect_pipe", AIO__NAME_SELF_ARG);
AIO__NAME(start_reading_cb, "_UnixPipeTransport._add_reader", AIO__NAME_SELF_ARG);
AIO__NAME(waiter_cb, "futures._set_result_unless_cancelled", AIO__NAME_SELF_ARG);
