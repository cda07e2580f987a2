/* datagram_transport.c - _SelectorDatagramTransport (selector_events.py,
 * 3.11): a datagram socket under a DatagramProtocol.
 *
 * Reads: one recvfrom() of up to 256 KiB per readiness, handed to
 * datagram_received(data, addr); an OSError of recvfrom() goes to
 * error_received() (ECONNREFUSED after an ICMP port unreachable on a
 * connected UDP socket arrives that way), and the transport stays open.
 * Writes: sendto() tries at once while nothing is buffered; a datagram the
 * socket cannot take now (EAGAIN) is copied, with its destination, into a
 * queue sent in order once the socket is writable. Send errors other than
 * EAGAIN go to error_received() too. As in socket_transport.c, each loop
 * callback holds a reference, and the transport one to itself while its
 * connection lives.
 */
#include "datagram_transport.h"

#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "casyncio/log.h"
#include "casyncio/net.h"
#include "exc.h"
#include "names.h"
#include "sockaddr.h"

/* One queued datagram. Queued behind others, it keeps the address as the
 * caller gave it (`deferred`), its strings after the data: asyncio queues
 * (data, addr) unchecked and looks at, and resolves, the address when the
 * datagram's turn comes. */
typedef struct dgram {
    struct dgram *next;
    struct sockaddr_storage ss;
    socklen_t sslen;            /* 0: send() on the connected socket */
    bool deferred;              /* addr, not ss, says where it goes */
    bool has_addr;              /* addr is not None */
    aio_address addr;
    size_t len;
    char data[];
} dgram;

typedef struct datagram_transport {
    aio_transport base;
    int fd;                     /* -1 once closed */
    int fd_number;
    int family;
    aio__address_buf sockname;
    aio__address_buf peername;
    aio__address_buf address;   /* the default destination (_address) */
    bool has_sockname;
    bool has_peername;          /* getpeername() answered: the 'peername' extra info */
    bool sends;                 /* the peername is true in Python's eyes: send(), no address */
    bool has_address;
    bool paused;
    bool reading;
    bool writing;
    bool alive;
    aio_exc *lost_exc;
    dgram *head;
    dgram *tail;
    size_t buffered;            /* bytes queued (_buffer_size) */
} datagram_transport;

static int dt_repr(const void *obj, aio__strbuf *out);
static void dt_dealloc(void *obj);

AIO__DEFINE_TYPE(datagram_transport_type) = {"_SelectorDatagramTransport", dt_dealloc, dt_repr,
                                             AIO__TYPE_TRANSPORT};

static inline datagram_transport *as_dt(aio_transport *t)
{
    return (datagram_transport *)t;
}

static int call_soon_with(datagram_transport *dt, aio_callback fn)
{
    return aio__transport_call_soon(&dt->base, fn);
}

/* --- The loop's reader and writer ------------------------------------------------------ */

static void read_ready(void *arg);
static void sendto_ready(void *arg);

static void remove_reader(datagram_transport *dt)
{
    aio__transport_remove_reader(&dt->base, dt->fd, &dt->reading);
}

static void remove_writer(datagram_transport *dt)
{
    aio__transport_remove_writer(&dt->base, dt->fd, &dt->writing);
}

static bool is_reading(datagram_transport *dt)
{
    return !dt->base.closing && !dt->paused;
}

static int add_reader(datagram_transport *dt)
{
    if (!is_reading(dt))
        return 0;
    return aio__transport_add_reader(&dt->base, dt->fd, &dt->reading, read_ready);
}

static int add_writer(datagram_transport *dt)
{
    return aio__transport_add_writer(&dt->base, dt->fd, &dt->writing, sendto_ready);
}

/* --- The queue ---------------------------------------------------------------------------- */

static void queue_clear(datagram_transport *dt)
{
    for (dgram *d = dt->head, *next; d != NULL; d = next) {
        next = d->next;
        free(d);
    }
    dt->head = dt->tail = NULL;
    dt->buffered = 0;
}

/* A queued datagram with room for `extra` bytes after its data. */
static dgram *dgram_new(const void *data, size_t len, size_t extra)
{
    if (len > SIZE_MAX - sizeof(dgram) - extra) {
        aio_err_set(aio_MemoryError, NULL);
        return NULL;
    }
    dgram *d = aio__calloc(1, sizeof(dgram) + len + extra);
    if (d == NULL)
        return NULL;
    d->len = len;
    if (len > 0)
        memcpy(d->data, data, len);
    return d;
}

static void queue_link(datagram_transport *dt, dgram *d)
{
    if (dt->tail != NULL)
        dt->tail->next = d;
    else
        dt->head = d;
    dt->tail = d;
    dt->buffered += d->len;
}

static int queue_append(datagram_transport *dt, const void *data, size_t len,
                        const struct sockaddr_storage *ss, socklen_t sslen)
{
    dgram *d = dgram_new(data, len, 0);
    if (d == NULL)
        return -1;
    d->sslen = sslen;
    if (sslen > 0)
        memcpy(&d->ss, ss, sslen);
    queue_link(dt, d);
    return 0;
}

static size_t path_bytes(const aio_address *a)
{
    if (a->path == NULL)
        return 0;
    return a->kind == AIO_ADDRESS_ABSTRACT ? a->path_len : strlen(a->path) + 1;
}

/* Queues the datagram with the address as given (NULL: None). */
static int queue_append_deferred(datagram_transport *dt, const void *data, size_t len,
                                 const aio_address *addr)
{
    size_t host = addr != NULL && addr->host != NULL ? strlen(addr->host) + 1 : 0;
    size_t path = addr != NULL ? path_bytes(addr) : 0;
    if (host > SIZE_MAX / 2 || path > SIZE_MAX / 2) {
        aio_err_set(aio_MemoryError, NULL);
        return -1;
    }
    dgram *d = dgram_new(data, len, host + path);
    if (d == NULL)
        return -1;
    d->deferred = true;
    if (addr != NULL) {
        d->has_addr = true;
        d->addr = *addr;
        char *strings = d->data + len;
        if (host > 0)
            d->addr.host = memcpy(strings, addr->host, host);
        if (path > 0)
            d->addr.path = memcpy(strings + host, addr->path, path);
    }
    queue_link(dt, d);
    return 0;
}

/* --- Closing ------------------------------------------------------------------------------ */

static void call_connection_lost(datagram_transport *dt)
{
    aio_exc *exc = dt->lost_exc;
    dt->lost_exc = NULL;
    aio_protocol *protocol = dt->base.protocol;
    if (dt->base.protocol_connected && protocol != NULL && protocol->connection_lost != NULL)
        protocol->connection_lost(protocol, exc);
    aio__decref(exc);
    aio_exc *pending = aio_err_fetch();
    remove_reader(dt);
    remove_writer(dt);
    aio__transports_detach(dt->base.loop, dt->fd, &dt->base);
    close(dt->fd);
    dt->fd = -1;
    aio__transport_clear(&dt->base);
    aio_err_restore(pending);
    if (dt->alive) {
        dt->alive = false;
        aio__decref(dt);
    }
}

static void call_connection_lost_cb(void *arg)
{
    datagram_transport *dt = arg;
    call_connection_lost(dt);
    aio__decref(dt);
}

/* _force_close(exc): takes exc over. */
static void force_close(datagram_transport *dt, aio_exc *exc)
{
    if (dt->base.conn_lost) {
        aio__decref(exc);
        return;
    }
    if (dt->buffered > 0 || dt->head != NULL) {
        queue_clear(dt);
        remove_writer(dt);
    }
    if (!dt->base.closing) {
        dt->base.closing = true;
        remove_reader(dt);
    }
    dt->base.conn_lost++;
    dt->lost_exc = exc;
    if (call_soon_with(dt, call_connection_lost_cb) < 0) {
        aio_err_clear();
        call_connection_lost(dt);
    }
}

/* _fatal_error(exc, message): takes exc over. */
static void fatal_error(datagram_transport *dt, aio_exc *exc, const char *message)
{
    if (aio__transport_error_is_quiet(&dt->base, exc)) {
        if (dt->base.loop != NULL && aio__loop_debug(dt->base.loop)) {
            char *repr = aio_repr(dt);
            aio_log(AIO_LOG_DEBUG, exc, "%s: %s", repr ? repr : "?", message);
            free(repr);
        }
    } else {
        aio__transport_report(&dt->base, message, aio_incref(exc));
    }
    force_close(dt, exc);
}

static int dt_close(aio_transport *t)
{
    datagram_transport *dt = as_dt(t);
    if (t->closing)
        return 0;
    t->closing = true;
    remove_reader(dt);
    if (dt->head == NULL) {
        t->conn_lost++;
        remove_writer(dt);
        dt->lost_exc = NULL;
        if (call_soon_with(dt, call_connection_lost_cb) < 0)
            return -1;
    }
    return 0;
}

static int dt_abort(aio_transport *t)
{
    force_close(as_dt(t), NULL);
    return 0;
}

/* --- The protocol's error callback -------------------------------------------------------- */

/* protocol.error_received(exc) (exc borrowed by the callback; dropped
 * here). What the callback raises propagates out of the loop callback, as
 * it does from Python's _read_ready and sendto(): it stays set. */
static void error_received(datagram_transport *dt, aio_exc *exc)
{
    aio_protocol *p = dt->base.protocol;
    if (p != NULL && p->error_received != NULL)
        p->error_received(p, exc);
    aio__decref(exc);
}

/* --- Reading ------------------------------------------------------------------------------ */

static void read_ready(void *arg)
{
    datagram_transport *dt = arg;
    if (dt->base.conn_lost)
        return;
    void *buf = aio__transports_read_buffer(dt->base.loop);
    if (buf == NULL) {
        fatal_error(dt, aio_err_fetch(), "Fatal read error on datagram transport");
        return;
    }
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;
    memset(&ss, 0, sizeof ss);
    ssize_t n = recvfrom(dt->fd, buf, AIO__READ_SIZE, 0, (struct sockaddr *)&ss, &sslen);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            error_received(dt, aio_exc_from_errno(errno));
        return;
    }
    aio__address_buf from;
    const aio_address *addr = NULL;
    if (aio__sender_known(&ss, sslen)) {
        aio__address_from_sockaddr(&from, (struct sockaddr *)&ss, sslen);
        addr = &from.addr;
    }
    aio_protocol *p = dt->base.protocol;
    if (p != NULL && p->datagram_received != NULL)
        p->datagram_received(p, buf, (size_t)n, addr);
}

static int dt_is_reading(aio_transport *t)
{
    return is_reading(as_dt(t));
}

static void log_reading(datagram_transport *dt, const char *what)
{
    if (aio__loop_debug(dt->base.loop)) {
        char *repr = aio_repr(dt);
        aio_log(AIO_LOG_DEBUG, NULL, "%s %s reading", repr ? repr : "?", what);
        free(repr);
    }
}

static int dt_pause_reading(aio_transport *t)
{
    datagram_transport *dt = as_dt(t);
    if (!is_reading(dt))
        return 0;
    dt->paused = true;
    remove_reader(dt);
    log_reading(dt, "pauses");
    return 0;
}

static int dt_resume_reading(aio_transport *t)
{
    datagram_transport *dt = as_dt(t);
    if (t->closing || !dt->paused)
        return 0;
    dt->paused = false;
    if (add_reader(dt) < 0)
        return -1;
    log_reading(dt, "resumes");
    return 0;
}

/* --- Writing ------------------------------------------------------------------------------- */

static bool same_string(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* What `addr == self._address` compares: the tuples, field by field (a
 * 2-tuple never equals the 4-tuple of an AF_INET6 address). */
static bool same_address(const aio_address *a, const aio_address *b)
{
    aio_address_kind ka = aio__address_kind(a), kb = aio__address_kind(b);
    if (ka != kb)
        return false;
    switch (ka) {
    case AIO_ADDRESS_PAIR:
        return same_string(a->host, b->host) && a->port == b->port;
    case AIO_ADDRESS_QUAD:
        return same_string(a->host, b->host) && a->port == b->port &&
               a->flowinfo == b->flowinfo && a->scope_id == b->scope_id;
    case AIO_ADDRESS_ABSTRACT:
        return a->path_len == b->path_len && memcmp(a->path, b->path, a->path_len) == 0;
    default:
        return same_string(a->path, b->path);
    }
}

static int destination(datagram_transport *dt, const aio_address *addr,
                       struct sockaddr_storage *ss, socklen_t *len)
{
    if (addr == NULL) {
        if (dt->family == AF_UNIX)
            aio_err_set(aio_TypeError, "a bytes-like object is required, not 'NoneType'");
        else
            aio_err_format(aio_TypeError, "sendto(): %s address must be tuple, not NoneType",
                           dt->family == AF_INET6 ? "AF_INET6" : "AF_INET");
        return -1;
    }
    return aio__sendto_address(addr, dt->family, ss, len);
}

int aio__sendto_address(const aio_address *addr, int family, struct sockaddr_storage *ss,
                        socklen_t *len)
{
    int rc = aio__sockaddr_from_address(addr, family, "sendto", ss, len);
    if (rc <= 0)
        return rc;
    struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_DGRAM};
    struct addrinfo *res = NULL;
    int code = getaddrinfo(addr->host, NULL, &hints, &res);
    if (code != 0) {
        if (code == EAI_MEMORY)
            aio_err_set(aio_MemoryError, NULL);
        else if (code == EAI_SYSTEM)
            aio_err_set_from_errno(errno);
        else {
            aio_exc *exc = aio_exc_oserror(aio_socket_gaierror, code, gai_strerror(code));
            if (exc != NULL)
                aio_err_restore(exc);
        }
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    if (family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)addr->port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)addr->port);
    return 0;
}

static ssize_t send_one(datagram_transport *dt, const void *data, size_t len,
                        const struct sockaddr_storage *ss, socklen_t sslen)
{
    if (sslen == 0)
        return send(dt->fd, data, len, MSG_NOSIGNAL);
    return sendto(dt->fd, data, len, MSG_NOSIGNAL, (const struct sockaddr *)ss, sslen);
}

static int dt_sendto(aio_transport *t, const void *data, size_t len, const aio_address *addr)
{
    datagram_transport *dt = as_dt(t);
    if (data == NULL && len > 0) {
        aio_err_set(aio_TypeError,
                    "data argument must be a bytes-like object, not 'NoneType'");
        return -1;
    }
    if (len == 0 && aio_loop_get_target_version(t->loop) < AIO_PY(3, 13))
        return 0; /* dropped up to 3.12; 3.13 sends an empty datagram */
    if (dt->has_address) {
        if (addr != NULL && !same_address(addr, &dt->address.addr)) {
            aio__strbuf sb = AIO__STRBUF_INIT;
            aio__address_repr(&dt->address.addr, &sb);
            aio_err_format(aio_ValueError, "Invalid address: must be None or %s",
                           sb.data ? sb.data : "?");
            aio__sb_free(&sb);
            return -1;
        }
        addr = &dt->address.addr;
    }
    if (t->conn_lost && dt->has_address) {
        if (t->conn_lost >= AIO__LOG_THRESHOLD_FOR_CONNLOST_WRITES)
            aio_log(AIO_LOG_WARNING, NULL, "socket.send() raised exception.");
        t->conn_lost++;
        return 0;
    }
    if (dt->fd < 0) {
        /* Python's socket is None by now, and so is the loop its
         * _fatal_error() would report to. */
        aio_err_set(aio_AttributeError,
                    "'NoneType' object has no attribute 'call_exception_handler'");
        return -1;
    }
    if (dt->head != NULL && !dt->sends) {
        if (queue_append_deferred(dt, data, len, addr) < 0)
            return -1;
        aio__transport_maybe_pause_protocol(t);
        return 0;
    }
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    if (!dt->sends && destination(dt, addr, &ss, &sslen) < 0) {
        aio_exc *exc = aio_err_fetch();
        if (aio_exc_isinstance(exc, aio_OSError)) {
            error_received(dt, exc);
            return aio_err_occurred() != NULL ? -1 : 0;
        }
        if (aio_exc_isinstance(exc, aio_MemoryError)) {
            aio_err_restore(exc);
            return -1;
        }
        fatal_error(dt, exc, "Fatal write error on datagram transport");
        return 0;
    }
    if (dt->head == NULL) {
        ssize_t n = send_one(dt, data, len, &ss, sslen);
        if (n >= 0)
            return 0;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            error_received(dt, aio_exc_from_errno(errno));
            return aio_err_occurred() != NULL ? -1 : 0;
        }
        if (add_writer(dt) < 0)
            return -1;
    }
    if (queue_append(dt, data, len, &ss, sslen) < 0)
        return -1;
    aio__transport_maybe_pause_protocol(t);
    return 0;
}

static void sendto_ready(void *arg)
{
    datagram_transport *dt = arg;
    while (dt->head != NULL) {
        dgram *d = dt->head;
        struct sockaddr_storage ss;
        socklen_t sslen = d->sslen;
        aio_exc *bad = NULL;
        ssize_t n = -1;
        if (d->deferred) {
            sslen = 0;
            if (destination(dt, d->has_addr ? &d->addr : NULL, &ss, &sslen) < 0)
                bad = aio_err_fetch();
        } else if (sslen > 0) {
            memcpy(&ss, &d->ss, sslen);
        }
        if (bad == NULL) {
            n = send_one(dt, d->data, d->len, &ss, sslen);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                break;
        }
        int err = errno;
        dt->head = d->next;
        if (dt->head == NULL)
            dt->tail = NULL;
        dt->buffered -= d->len;
        free(d);
        if (bad != NULL) {
            /* What sock.sendto() raised: an OSError (a name that does not
             * resolve) goes to error_received(), anything else is fatal. */
            if (aio_exc_isinstance(bad, aio_OSError))
                error_received(dt, bad);
            else
                fatal_error(dt, bad, "Fatal write error on datagram transport");
            return;
        }
        if (n < 0) {
            error_received(dt, aio_exc_from_errno(err));
            return;
        }
    }
    aio__transport_maybe_resume_protocol(&dt->base); /* may queue more */
    if (dt->head == NULL) {
        remove_writer(dt);
        if (dt->base.closing && !dt->base.conn_lost) {
            aio__incref(dt);
            call_connection_lost(dt);
            aio__decref(dt);
        }
    }
}

static int64_t dt_get_write_buffer_size(aio_transport *t)
{
    return (int64_t)as_dt(t)->buffered;
}

/* --- The extra info ---------------------------------------------------------------------- */

static const void *dt_extra_info(aio_transport *t, const char *name, bool *found)
{
    datagram_transport *dt = as_dt(t);
    if (name == NULL) {
        *found = false;
        return NULL;
    }
    *found = true;
    if (strcmp(name, "socket") == 0)
        return &dt->fd_number;
    if (strcmp(name, "sockname") == 0)
        return dt->has_sockname ? &dt->sockname.addr : NULL;
    if (strcmp(name, "peername") == 0)
        return dt->has_peername ? &dt->peername.addr : NULL;
    *found = false;
    return NULL;
}

static void dt_orphan(aio_transport *t)
{
    datagram_transport *dt = as_dt(t);
    aio__resource_warning("unclosed transport %s", dt);
    queue_clear(dt);
    dt->reading = dt->writing = false;
    if (dt->fd >= 0)
        close(dt->fd);
    dt->fd = -1;
    aio__transport_clear(t);
    if (dt->alive) {
        dt->alive = false;
        aio__decref(dt);
    }
}

static const aio__transport_class datagram_transport_class = {
    .name = "_SelectorDatagramTransport",
    .close = dt_close,
    .abort = dt_abort,
    .is_reading = dt_is_reading,
    .pause_reading = dt_pause_reading,
    .resume_reading = dt_resume_reading,
    .sendto = dt_sendto,
    .get_write_buffer_size = dt_get_write_buffer_size,
    .extra_info = dt_extra_info,
    .orphan = dt_orphan,
};

/* --- The object ----------------------------------------------------------------------------- */

static int dt_repr(const void *obj, aio__strbuf *out)
{
    const datagram_transport *dt = obj;
    aio__sb_append(out, "<_SelectorDatagramTransport");
    if (dt->fd < 0)
        aio__sb_append(out, " closed");
    else if (dt->base.closing)
        aio__sb_append(out, " closing");
    aio__sb_appendf(out, " fd=%d", dt->fd_number);
    if (dt->base.loop != NULL && !aio__loop_is_closed(dt->base.loop)) {
        aio__sb_append(out, dt->reading ? " read=polling" : " read=idle");
        aio__sb_appendf(out, " write=<%s, bufsize=%zu>", dt->writing ? "polling" : "idle",
                        dt->buffered);
    }
    return aio__sb_append(out, ">");
}

static void dt_dealloc(void *obj)
{
    datagram_transport *dt = obj;
    queue_clear(dt);
    aio__decref(dt->lost_exc);
    if (dt->fd >= 0)
        close(dt->fd);
    aio__transport_clear(&dt->base);
    free(dt);
}

/* --- The start -------------------------------------------------------------------------------- */

static void connection_made_cb(void *arg)
{
    datagram_transport *dt = arg;
    aio_protocol *p = dt->base.protocol;
    if (p != NULL && p->connection_made != NULL)
        p->connection_made(p, &dt->base);
    aio__decref(dt);
}

static void start_reading_cb(void *arg)
{
    datagram_transport *dt = arg;
    if (!dt->base.conn_lost)
        add_reader(dt);
    aio__decref(dt);
}

aio_transport *aio__datagram_transport_new(aio_loop *loop, int fd, aio_protocol *protocol,
                                           const aio__address_buf *address,
                                           const aio__transport_waiter *waiter)
{
    if (aio__transports_check_new(loop, fd) < 0)
        return NULL;
    datagram_transport *dt = aio__calloc(1, sizeof *dt);
    if (dt == NULL)
        return NULL;
    aio__transport_init(&dt->base, &datagram_transport_type, &datagram_transport_class, loop,
                        protocol);
    dt->fd = dt->fd_number = fd;
    dt->alive = true;
    aio__incref(dt);
    int type, proto;
    aio__socket_kind(fd, &dt->family, &type, &proto);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
        aio__address_from_sockaddr(&dt->sockname, (struct sockaddr *)&ss, len);
        dt->has_sockname = true;
    }
    len = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
        aio__address_from_sockaddr(&dt->peername, (struct sockaddr *)&ss, len);
        dt->has_peername = true;
        /* An unnamed AF_UNIX peer (a socketpair's) is '', which is false:
         * asyncio then calls sendto(data, addr) as on an unconnected
         * socket, and a None address fails. */
        dt->sends = !(ss.ss_family == AF_UNIX && len <= offsetof(struct sockaddr_un, sun_path));
    }
    if (address != NULL) {
        aio__address_buf_copy(&dt->address, address);
        dt->has_address = true;
    }
    if (aio__transports_attach(loop, fd, &dt->base) < 0)
        goto fail;
    if (call_soon_with(dt, connection_made_cb) < 0)
        goto fail_attached;
    if (call_soon_with(dt, start_reading_cb) < 0)
        goto fail_attached;
    if (waiter != NULL &&
        aio__loop_call_soon(loop, &(aio__loop_call_soon_args){.callback = waiter->callback,
                                                               .args = waiter->arg,
                                                               .args_release =
                                                                   waiter->release}) == NULL)
        goto fail_attached;
    return &dt->base;

fail_attached:
    aio__transports_detach(loop, fd, &dt->base);
fail:
    dt->fd = -1;
    dt->base.protocol = NULL;
    dt->base.closing = true;
    dt->base.conn_lost = 1;
    dt->alive = false;
    aio__decref(dt);
    aio__decref(dt);
    return NULL;
}

AIO__NAME(read_ready, "_SelectorDatagramTransport._read_ready", AIO__NAME_SELF_ARG);
AIO__NAME(sendto_ready, "_SelectorDatagramTransport._sendto_ready", AIO__NAME_SELF_ARG);
AIO__NAME(call_connection_lost_cb, "_SelectorDatagramTransport._call_connection_lost",
          AIO__NAME_SELF_ARG);
AIO__NAME(connection_made_cb, "DatagramProtocol.connection_made", AIO__NAME_ARG_OBJECT);
AIO__NAME(start_reading_cb, "_SelectorDatagramTransport._add_reader", AIO__NAME_SELF_ARG);
