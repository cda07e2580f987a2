/* socket_transport.c - _SelectorSocketTransport (selector_events.py, 3.11):
 * a connected stream socket (TCP or AF_UNIX) under a protocol.
 *
 * Reads: one recv() of up to 256 KiB per readiness, handed to
 * data_received(), or recv() into the buffer a BufferedProtocol gives
 * (get_buffer(), buffer_updated()). Writes: tried at once while nothing is
 * buffered; what the socket does not take is copied into the write buffer
 * (write_buffer.h) and sent with sendmsg() over several of its chunks when
 * the socket is writable again,
 * never raising SIGPIPE. The callbacks the loop runs for a transport each
 * hold a reference to it, and the transport holds one to itself while its
 * connection lives, so that it outlives everything that may still call it.
 */
#include "socket_transport.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "casyncio/log.h"
#include "casyncio/net.h"
#include "exc.h"
#include "future.h"
#include "names.h"
#include "write_buffer.h"

typedef struct socket_transport {
    aio_transport base;
    int fd;                     /* -1 once closed */
    int fd_number;              /* the descriptor's number, for reprs and 'socket' */
    aio__address_buf sockname;
    aio__address_buf peername;
    bool has_sockname;
    bool has_peername;
    bool paused;                /* pause_reading() */
    bool eof;                   /* write_eof() */
    bool buffered_protocol;     /* the protocol has get_buffer */
    bool reading;               /* our reader is registered with the loop */
    bool writing;               /* our writer is registered with the loop */
    bool alive;                 /* holds its own reference (the connection) */
    aio_exc *lost_exc;          /* what connection_lost() will get */
    aio__write_buffer buffer;   /* what the socket has not taken yet */
    aio__transport_detach detach; /* the server it is attached to */
    void *detach_arg;
    aio_future *empty_waiter;   /* loop.sendfile() waits for the buffer to empty */
} socket_transport;

static int st_repr(const void *obj, aio__strbuf *out);
static void st_dealloc(void *obj);

AIO__DEFINE_TYPE(socket_transport_type) = {"_SelectorSocketTransport", st_dealloc, st_repr,
                                           AIO__TYPE_TRANSPORT};

static inline socket_transport *as_st(aio_transport *t)
{
    return (socket_transport *)t;
}

static int call_soon_with(socket_transport *st, aio_callback fn)
{
    return aio__transport_call_soon(&st->base, fn);
}

/* --- The loop's reader and writer ----------------------------------------------------- */

static void read_ready(void *arg);
static void write_ready(void *arg);

static void remove_reader(socket_transport *st)
{
    aio__transport_remove_reader(&st->base, st->fd, &st->reading);
}

static void remove_writer(socket_transport *st)
{
    aio__transport_remove_writer(&st->base, st->fd, &st->writing);
}

static int is_reading(socket_transport *st)
{
    return !st->base.closing && !st->paused;
}

/* _add_reader(): only while reading (not paused, not closing). */
static int add_reader(socket_transport *st)
{
    if (!is_reading(st))
        return 0;
    return aio__transport_add_reader(&st->base, st->fd, &st->reading, read_ready);
}

static int add_writer(socket_transport *st)
{
    return aio__transport_add_writer(&st->base, st->fd, &st->writing, write_ready);
}

/* --- sendfile's empty waiter (loop.sendfile()) ----------------------------------------- */

/* Takes exc over. */
static void empty_waiter_fail(socket_transport *st, aio_exc *exc)
{
    if (st->empty_waiter != NULL && st->empty_waiter->state == AIO__FUTURE_PENDING)
        aio__future_fail(st->empty_waiter, exc);
    else
        aio__decref(exc);
}

aio_future *aio__socket_transport_make_empty_waiter(aio_transport *t)
{
    socket_transport *st = as_st(t);
    if (st->empty_waiter != NULL) {
        aio_err_set(aio_RuntimeError, "Empty waiter is already set");
        return NULL;
    }
    aio_future *waiter = aio__loop_create_future(t->loop);
    if (waiter == NULL)
        return NULL;
    if (st->buffer.size == 0 && aio__future_set_result(waiter, NULL) < 0) {
        aio__decref(waiter);
        return NULL;
    }
    st->empty_waiter = aio_incref(waiter);
    return waiter;
}

void aio__socket_transport_reset_empty_waiter(aio_transport *t)
{
    socket_transport *st = as_st(t);
    aio_future *waiter = st->empty_waiter;
    st->empty_waiter = NULL;
    aio__decref(waiter);
}

bool aio__socket_transport_sendfile_active(aio_transport *t)
{
    return as_st(t)->empty_waiter != NULL;
}

bool aio__is_socket_transport(aio_transport *t)
{
    return aio__type_of(t) == &socket_transport_type;
}

int aio__socket_transport_fd(aio_transport *t)
{
    return as_st(t)->fd;
}

/* --- Closing ----------------------------------------------------------------------------- */

/* The end of the connection: the protocol's connection_lost(exc), then the
 * socket closed, the protocol released, the loop and the server let go of.
 * The transport drops its own reference last. */
static void call_connection_lost(socket_transport *st)
{
    aio_exc *exc = st->lost_exc;
    st->lost_exc = NULL;
    aio_protocol *protocol = st->base.protocol;
    if (st->base.protocol_connected && protocol != NULL && protocol->connection_lost != NULL)
        protocol->connection_lost(protocol, exc);
    aio__decref(exc);
    /* finally: (an exception connection_lost() raised stays set) */
    aio_exc *pending = aio_err_fetch();
    aio_loop *loop = st->base.loop;
    remove_reader(st);
    remove_writer(st);
    aio__transports_detach(loop, st->fd, &st->base);
    close(st->fd);
    st->fd = -1;
    if (st->detach != NULL) {
        aio__transport_detach detach = st->detach;
        st->detach = NULL;
        detach(st->detach_arg);
    }
    aio__transport_clear(&st->base);
    empty_waiter_fail(st, aio_exc_new(aio_ConnectionError, "Connection is closed by peer"));
    aio_err_restore(pending);
    if (st->alive) {
        st->alive = false;
        aio__decref(st);
    }
}

static void call_connection_lost_cb(void *arg)
{
    socket_transport *st = arg;
    call_connection_lost(st);
    aio__decref(st);
}

/* _force_close(exc): takes exc over. */
static void force_close(socket_transport *st, aio_exc *exc)
{
    if (st->base.conn_lost) {
        aio__decref(exc);
        return;
    }
    if (st->buffer.size > 0) {
        aio__wbuf_clear(&st->buffer);
        remove_writer(st);
    }
    if (!st->base.closing) {
        st->base.closing = true;
        remove_reader(st);
    }
    st->base.conn_lost++;
    st->lost_exc = exc;
    if (call_soon_with(st, call_connection_lost_cb) < 0) {
        /* No memory to schedule it: end the connection here. */
        aio_err_clear();
        call_connection_lost(st);
    }
}

/* _fatal_error(exc, message): takes exc over. An OSError (3.6: of three
 * kinds) is only logged in debug mode; anything else goes to the exception
 * handler. */
static void fatal_error(socket_transport *st, aio_exc *exc, const char *message)
{
    if (aio__transport_error_is_quiet(&st->base, exc)) {
        if (st->base.loop != NULL && aio__loop_debug(st->base.loop)) {
            char *repr = aio_repr(st);
            aio_log(AIO_LOG_DEBUG, exc, "%s: %s", repr ? repr : "?", message);
            free(repr);
        }
    } else {
        aio__transport_report(&st->base, message, aio_incref(exc));
    }
    force_close(st, exc);
}

/* After a protocol callback: SystemExit and KeyboardInterrupt stay set (they
 * end the loop's run); any other exception is a fatal error. True when the
 * callback raised. */
static bool callback_failed(socket_transport *st, const char *message)
{
    aio_exc *exc = aio_err_occurred();
    if (exc == NULL)
        return false;
    if (aio_exc_isinstance(exc, aio_SystemExit) || aio_exc_isinstance(exc, aio_KeyboardInterrupt))
        return true;
    fatal_error(st, aio_err_fetch(), message);
    return true;
}

static int st_close(aio_transport *t)
{
    socket_transport *st = as_st(t);
    if (t->closing)
        return 0;
    t->closing = true;
    remove_reader(st);
    if (st->buffer.size == 0) {
        t->conn_lost++;
        remove_writer(st);
        st->lost_exc = NULL;
        if (call_soon_with(st, call_connection_lost_cb) < 0)
            return -1;
    }
    return 0;
}

static int st_abort(aio_transport *t)
{
    force_close(as_st(t), NULL);
    return 0;
}

/* --- Reading ------------------------------------------------------------------------------ */

static void on_eof(socket_transport *st)
{
    if (aio__loop_debug(st->base.loop)) {
        char *repr = aio_repr(st);
        aio_log(AIO_LOG_DEBUG, NULL, "%s received EOF", repr ? repr : "?");
        free(repr);
    }
    aio_protocol *p = st->base.protocol;
    bool keep_open = p->eof_received != NULL ? p->eof_received(p) : false;
    if (callback_failed(st, "Fatal error: protocol.eof_received() call failed."))
        return;
    if (keep_open)
        remove_reader(st); /* it may still write; it cannot read any more */
    else
        st_close(&st->base);
}

static void read_failed(socket_transport *st, int err)
{
    fatal_error(st, aio_exc_from_errno(err), "Fatal read error on socket transport");
}

static void read_into_protocol_buffer(socket_transport *st)
{
    aio_protocol *p = st->base.protocol;
    aio_buffer buf = p->get_buffer(p, -1);
    if (buf.data == NULL && aio_err_occurred() == NULL)
        aio_err_set(aio_RuntimeError, "get_buffer() returned an empty buffer");
    else if (buf.data != NULL && buf.len == 0 && aio_err_occurred() == NULL)
        aio_err_set(aio_RuntimeError, "get_buffer() returned an empty buffer");
    if (callback_failed(st, "Fatal error: protocol.get_buffer() call failed."))
        return;
    ssize_t n = recv(st->fd, buf.data, buf.len, 0);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            read_failed(st, errno);
        return;
    }
    if (n == 0) {
        on_eof(st);
        return;
    }
    p->buffer_updated(p, (int)n);
    callback_failed(st, "Fatal error: protocol.buffer_updated() call failed.");
}

static void read_into_data_received(socket_transport *st)
{
    void *buf = aio__transports_read_buffer(st->base.loop);
    if (buf == NULL) {
        fatal_error(st, aio_err_fetch(), "Fatal read error on socket transport");
        return;
    }
    ssize_t n = recv(st->fd, buf, AIO__READ_SIZE, 0);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            read_failed(st, errno);
        return;
    }
    if (n == 0) {
        on_eof(st);
        return;
    }
    aio_protocol *p = st->base.protocol;
    if (p->data_received != NULL)
        p->data_received(p, buf, (size_t)n);
    callback_failed(st, "Fatal error: protocol.data_received() call failed.");
}

static void read_ready(void *arg)
{
    socket_transport *st = arg;
    if (st->base.conn_lost)
        return;
    if (st->buffered_protocol)
        read_into_protocol_buffer(st);
    else
        read_into_data_received(st);
}

static int st_is_reading(aio_transport *t)
{
    return is_reading(as_st(t));
}

static void log_reading(socket_transport *st, const char *what)
{
    if (aio__loop_debug(st->base.loop)) {
        char *repr = aio_repr(st);
        aio_log(AIO_LOG_DEBUG, NULL, "%s %s reading", repr ? repr : "?", what);
        free(repr);
    }
}

static int st_pause_reading(aio_transport *t)
{
    socket_transport *st = as_st(t);
    if (!is_reading(st))
        return 0;
    st->paused = true;
    remove_reader(st);
    log_reading(st, "pauses");
    return 0;
}

static int st_resume_reading(aio_transport *t)
{
    socket_transport *st = as_st(t);
    if (t->closing || !st->paused)
        return 0;
    st->paused = false;
    if (add_reader(st) < 0)
        return -1;
    log_reading(st, "resumes");
    return 0;
}

/* --- Writing -------------------------------------------------------------------------------- */

static int st_writelines_check(aio_transport *t)
{
    socket_transport *st = as_st(t);
    if (st->eof) {
        aio_err_set(aio_RuntimeError, "Cannot call writelines() after write_eof()");
        return -1;
    }
    if (st->empty_waiter != NULL) {
        aio_err_set(aio_RuntimeError, "unable to writelines; sendfile is in progress");
        return -1;
    }
    return 0;
}

static int st_write(aio_transport *t, const void *data, size_t len)
{
    socket_transport *st = as_st(t);
    if (st->eof) {
        aio_err_set(aio_RuntimeError, "Cannot call write() after write_eof()");
        return -1;
    }
    if (st->empty_waiter != NULL) {
        aio_err_set(aio_RuntimeError, "unable to write; sendfile is in progress");
        return -1;
    }
    if (len == 0)
        return 0;
    if (t->conn_lost) {
        if (t->conn_lost >= AIO__LOG_THRESHOLD_FOR_CONNLOST_WRITES)
            aio_log(AIO_LOG_WARNING, NULL, "socket.send() raised exception.");
        t->conn_lost++;
        return 0;
    }
    const char *p = data;
    if (st->buffer.size == 0) {
        /* Try to send now. */
        ssize_t n = send(st->fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                fatal_error(st, aio_exc_from_errno(errno), "Fatal write error on socket transport");
                return 0;
            }
            n = 0;
        }
        p += n;
        len -= (size_t)n;
        if (len == 0)
            return 0;
        if (add_writer(st) < 0)
            return -1;
    }
    if (aio__wbuf_append(&st->buffer, p, len) < 0)
        return -1;
    aio__transport_maybe_pause_protocol(t);
    return 0;
}

static void write_ready(void *arg)
{
    socket_transport *st = arg;
    if (st->base.conn_lost || st->buffer.size == 0)
        return;
    struct iovec iov[AIO__WBUF_IOV_MAX];
    int n_iov = aio__wbuf_iov(&st->buffer, iov);
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = iov;
    msg.msg_iovlen = (size_t)n_iov;
    ssize_t n = sendmsg(st->fd, &msg, MSG_NOSIGNAL);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        int err = errno;
        remove_writer(st);
        aio__wbuf_clear(&st->buffer);
        aio_exc *exc = aio_exc_from_errno(err);
        fatal_error(st, aio_incref(exc), "Fatal write error on socket transport");
        empty_waiter_fail(st, exc);
        return;
    }
    if (n > 0)
        aio__wbuf_consume(&st->buffer, (size_t)n);
    aio__transport_maybe_resume_protocol(&st->base); /* may add to the buffer */
    if (st->buffer.size == 0) {
        remove_writer(st);
        if (st->empty_waiter != NULL && st->empty_waiter->state == AIO__FUTURE_PENDING)
            aio__future_set_result(st->empty_waiter, NULL);
        if (st->base.closing) {
            aio__incref(st); /* until connection_lost() has returned */
            call_connection_lost(st);
            aio__decref(st);
        } else if (st->eof) {
            shutdown(st->fd, SHUT_WR);
        }
    }
}

static int st_write_eof(aio_transport *t)
{
    socket_transport *st = as_st(t);
    if (t->closing || st->eof)
        return 0;
    st->eof = true;
    if (st->buffer.size == 0 && shutdown(st->fd, SHUT_WR) < 0) {
        aio_err_set_from_errno(errno);
        return -1;
    }
    return 0;
}

static int st_can_write_eof(aio_transport *t)
{
    (void)t;
    return 1;
}

static int64_t st_get_write_buffer_size(aio_transport *t)
{
    return (int64_t)as_st(t)->buffer.size;
}

/* --- The protocol and the extra info -------------------------------------------------------- */

static void st_protocol_set(aio_transport *t)
{
    /* isinstance(protocol, BufferedProtocol) */
    as_st(t)->buffered_protocol = t->protocol != NULL && t->protocol->get_buffer != NULL;
}

static const void *st_extra_info(aio_transport *t, const char *name, bool *found)
{
    socket_transport *st = as_st(t);
    if (name == NULL) {
        *found = false;
        return NULL;
    }
    *found = true;
    if (strcmp(name, "socket") == 0)
        return &st->fd_number;
    if (strcmp(name, "sockname") == 0)
        return st->has_sockname ? &st->sockname.addr : NULL;
    if (strcmp(name, "peername") == 0)
        return st->has_peername ? &st->peername.addr : NULL;
    *found = false;
    return NULL;
}

/* The loop closed with the transport open: what its __del__ does. */
static void st_orphan(aio_transport *t)
{
    socket_transport *st = as_st(t);
    aio__resource_warning("unclosed transport %s", st);
    aio__wbuf_clear(&st->buffer);
    st->reading = st->writing = false; /* the loop dropped them already */
    if (st->fd >= 0)
        close(st->fd);
    st->fd = -1;
    if (st->detach != NULL) {
        st->detach(st->detach_arg);
        st->detach = NULL;
    }
    aio__transport_clear(t);
    if (st->alive) {
        st->alive = false;
        aio__decref(st);
    }
}

static const aio__transport_class socket_transport_class = {
    .name = "_SelectorSocketTransport",
    .close = st_close,
    .abort = st_abort,
    .is_reading = st_is_reading,
    .pause_reading = st_pause_reading,
    .resume_reading = st_resume_reading,
    .write = st_write,
    .writelines_check = st_writelines_check,
    .write_eof = st_write_eof,
    .can_write_eof = st_can_write_eof,
    .get_write_buffer_size = st_get_write_buffer_size,
    .protocol_set = st_protocol_set,
    .extra_info = st_extra_info,
    .orphan = st_orphan,
};

/* --- The object ---------------------------------------------------------------------------- */

static int st_repr(const void *obj, aio__strbuf *out)
{
    const socket_transport *st = obj;
    aio__sb_append(out, "<_SelectorSocketTransport");
    if (st->fd < 0)
        aio__sb_append(out, " closed");
    else if (st->base.closing)
        aio__sb_append(out, " closing");
    aio__sb_appendf(out, " fd=%d", st->fd_number);
    if (st->base.loop != NULL && !aio__loop_is_closed(st->base.loop)) {
        aio__sb_append(out, st->reading ? " read=polling" : " read=idle");
        aio__sb_appendf(out, " write=<%s, bufsize=%zu>", st->writing ? "polling" : "idle",
                        st->buffer.size);
    }
    return aio__sb_append(out, ">");
}

static void st_dealloc(void *obj)
{
    socket_transport *st = obj;
    aio__wbuf_clear(&st->buffer);
    aio__decref(st->lost_exc);
    aio__decref(st->empty_waiter);
    if (st->fd >= 0)
        close(st->fd);
    aio__transport_clear(&st->base);
    free(st);
}

/* --- Callbacks of the start ------------------------------------------------------------------ */

static void connection_made_cb(void *arg)
{
    socket_transport *st = arg;
    aio_protocol *p = st->base.protocol;
    if (p != NULL && p->connection_made != NULL)
        p->connection_made(p, &st->base);
    aio__decref(st);
}

static void start_reading_cb(void *arg)
{
    socket_transport *st = arg;
    if (!st->base.conn_lost)
        add_reader(st);
    aio__decref(st);
}

static void set_nodelay(int fd)
{
    int family, type, proto;
    aio__socket_kind(fd, &family, &type, &proto);
    if ((family == AF_INET || family == AF_INET6) && type == SOCK_STREAM &&
        proto == IPPROTO_TCP) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
}

aio_transport *aio__socket_transport_new(aio_loop *loop, int fd, aio_protocol *protocol,
                                         const aio__transport_waiter *waiter,
                                         const aio__address_buf *peername,
                                         aio__transport_detach detach, void *detach_arg)
{
    if (aio__transports_check_new(loop, fd) < 0)
        return NULL;
    socket_transport *st = aio__calloc(1, sizeof *st);
    if (st == NULL)
        return NULL;
    aio__transport_init(&st->base, &socket_transport_type, &socket_transport_class, loop,
                        protocol);
    st->fd = st->fd_number = fd;
    st->alive = true;
    aio__incref(st); /* the connection's own reference, dropped once it is lost */
    st_protocol_set(&st->base);

    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
        aio__address_from_sockaddr(&st->sockname, (struct sockaddr *)&ss, len);
        st->has_sockname = true;
    }
    if (peername != NULL) {
        aio__address_buf_copy(&st->peername, peername);
        st->has_peername = true;
    } else {
        len = sizeof ss;
        if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
            aio__address_from_sockaddr(&st->peername, (struct sockaddr *)&ss, len);
            st->has_peername = true;
        }
    }
    if (aio__transports_attach(loop, fd, &st->base) < 0)
        goto fail;
    set_nodelay(fd);
    /* connection_made, then reading, then the waiter: three call_soon()s,
     * so all in the next iteration, in that order. */
    if (call_soon_with(st, connection_made_cb) < 0)
        goto fail_attached;
    if (call_soon_with(st, start_reading_cb) < 0)
        goto fail_attached;
    if (waiter != NULL &&
        aio__loop_call_soon(loop, &(aio__loop_call_soon_args){.callback = waiter->callback,
                                                               .args = waiter->arg,
                                                               .args_release =
                                                                   waiter->release}) == NULL)
        goto fail_attached;
    st->detach = detach;
    st->detach_arg = detach_arg;
    return &st->base;

fail_attached:
    aio__transports_detach(loop, fd, &st->base);
fail:
    /* Nothing ran yet: the caller keeps its socket and its protocol. A
     * callback already queued finds no protocol and a lost connection. */
    st->fd = -1;
    st->base.protocol = NULL;
    st->base.closing = true;
    st->base.conn_lost = 1;
    st->alive = false;
    aio__decref(st);
    aio__decref(st);
    return NULL;
}

/* What reprs and logs call these callbacks: CPython's names for them. */
AIO__NAME(read_ready, "_SelectorSocketTransport._read_ready", AIO__NAME_SELF_ARG);
AIO__NAME(write_ready, "_SelectorSocketTransport._write_ready", AIO__NAME_SELF_ARG);
AIO__NAME(call_connection_lost_cb, "_SelectorSocketTransport._call_connection_lost",
          AIO__NAME_SELF_ARG);
AIO__NAME(connection_made_cb, "Protocol.connection_made", AIO__NAME_ARG_OBJECT);
AIO__NAME(start_reading_cb, "_SelectorSocketTransport._add_reader", AIO__NAME_SELF_ARG);
