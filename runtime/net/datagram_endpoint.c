/* datagram_endpoint.c - loop.create_datagram_endpoint() (base_events.py,
 * 3.11.7).
 *
 * The checks come first, in asyncio's order, and raise at once. Then the
 * addresses: none (a socket of `family` alone), AF_UNIX paths (a stale
 * socket file at the local path removed first), or (host, port) pairs
 * resolved as create_connection() resolves them (a numeric host at once,
 * a name on the loop's getaddrinfo(), with type SOCK_DGRAM), local first.
 * The answers are grouped by (family, proto) in the order they came, and
 * each group that has every address asked for is tried in turn: socket,
 * SO_REUSEPORT, SO_BROADCAST, bind, connect (unless allow_broadcast: the
 * remote address is then only the default destination). The first group
 * that works gives the transport; when none does, the future fails with
 * the first group's OSError (3.11 neither combines them nor rewrites
 * them). The future is connection.c's: its result is the pair once
 * connection_made() has run.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "casyncio/log.h"
#include "casyncio/net.h"
#include "casyncio/warnings.h"
#include "connection.h"
#include "create_connection.h"
#include "datagram_transport.h"
#include "exc.h"
#include "future.h"
#include "impl.h"
#include "loop.h"
#include "sockaddr.h"

/* One (family, proto) group: the index of its local and remote target. */
typedef struct pair_info {
    int family, proto;
    long local, remote;   /* -1: none */
} pair_info;

typedef struct dgram_op {
    aio__object ob;
    aio_loop *loop;
    aio_future *fut;
    aio_protocol_factory factory;
    void *factory_arg;
    bool has_local, has_remote;
    bool reuse_port, allow_broadcast;
    bool reuse_address;         /* SO_REUSEADDR: before the bpo-37228 fix only */
    int reuse_address_given;    /* -1: not given; else the value (3.8.1 to 3.10) */
    int family, proto, flags;
    bool family_none, proto_none, flags_none;   /* AIO_NONE: fails where used */
    char *local_host, *remote_host;
    int local_port, remote_port;
    aio__conn_targets local, remote;
    aio_future *lookup;
    char *local_repr, *remote_repr;   /* for debug mode's line */
} dgram_op;

static void op_stop(dgram_op *op)
{
    if (op->lookup != NULL) {
        aio_future *lookup = op->lookup;
        op->lookup = NULL;
        if (lookup->state == AIO__FUTURE_PENDING && aio__future_cancel_any(lookup, NULL) < 0)
            aio_err_clear();
        aio__decref(lookup);
    }
}

static void op_dealloc(void *obj)
{
    dgram_op *op = obj;
    op_stop(op);
    aio__conn_targets_clear(&op->local);
    aio__conn_targets_clear(&op->remote);
    free(op->local_host);
    free(op->remote_host);
    free(op->local_repr);
    free(op->remote_repr);
    free(op);
}

AIO__DEFINE_TYPE(dgram_op_type) = {"create_datagram_endpoint", op_dealloc, aio__repr_default, 0};

static bool op_pending(const dgram_op *op)
{
    return op->fut != NULL && op->fut->state == AIO__FUTURE_PENDING;
}

/* Takes exc over (NULL: MemoryError). */
static void op_fail(dgram_op *op, aio_exc *exc)
{
    if (exc == NULL)
        exc = aio_exc_new(aio_MemoryError, NULL);
    if (op_pending(op))
        aio__future_fail(op->fut, exc);
    else
        aio__decref(exc);
    op_stop(op);
}

static void op_done(aio_future *fut, void *arg)
{
    (void)fut;
    op_stop(arg);
}

static void op_owner_release(void *arg)
{
    dgram_op *op = arg;
    op->fut = NULL;
    op_stop(op);
    aio__decref(op);
}

/* --- The end: the transport ------------------------------------------------------------ */

static void log_created(dgram_op *op, const aio_transport_protocol *pair)
{
    aio__strbuf sb = AIO__STRBUF_INIT;
    aio__repr_into(pair->transport, &sb);
    if (op->has_local)
        aio_log(AIO_LOG_INFO, NULL,
                "Datagram endpoint local_addr=%s remote_addr=%s created: (%s, "
                "<aio_protocol object at %p>)",
                op->local_repr ? op->local_repr : "None",
                op->remote_repr ? op->remote_repr : "None", sb.data ? sb.data : "?",
                (void *)pair->protocol);
    else
        aio_log(AIO_LOG_DEBUG, NULL,
                "Datagram endpoint remote_addr=%s created: (%s, <aio_protocol object at %p>)",
                op->remote_repr ? op->remote_repr : "None", sb.data ? sb.data : "?",
                (void *)pair->protocol);
    aio__sb_free(&sb);
    aio_err_clear();
}

/* protocol_factory(), the transport over fd (taken over: closed on
 * failure when `own_fd`), the pair given to the future. 0, or -1 with the
 * exception set. */
static int make_transport(dgram_op *op, int fd, bool own_fd, const aio__address_buf *r_addr)
{
    if (op->factory == NULL) {
        aio_err_set(aio_TypeError, "'NoneType' object is not callable");
        goto fail;
    }
    aio_protocol *protocol = op->factory(op->factory_arg);
    if (protocol == NULL) {
        if (aio_err_occurred() == NULL)
            aio_err_set(aio_AttributeError,
                        "'NoneType' object has no attribute 'connection_made'");
        goto fail;
    }
    aio__transport_waiter waiter;
    aio__connection_waiter(op->fut, &waiter);
    aio_transport *t = aio__datagram_transport_new(op->loop, fd, protocol, r_addr, &waiter);
    if (t == NULL) {
        waiter.release(waiter.arg);
        aio__protocol_release(protocol);
        goto fail;
    }
    aio__connection_set_pair(op->fut, t, protocol);
    if (aio__loop_debug(op->loop)) {
        aio_transport_protocol pair = {t, protocol};
        log_created(op, &pair);
    }
    return 0;
fail:
    if (own_fd)
        close(fd);
    return -1;
}

/* --- The attempts ---------------------------------------------------------------------- */

/* One group: 0 with *fd_out the ready socket; 1 when an OSError (set)
 * failed it; -1 for any other exception (set). */
static int none_as_int(void)
{
    aio_err_set(aio_TypeError, "'NoneType' object cannot be interpreted as an integer");
    return -1;
}

static int try_group(dgram_op *op, int family, int proto, const aio__conn_target *local,
                     const aio__conn_target *remote, int *fd_out)
{
    if (op->family_none || op->proto_none)
        return none_as_int();
    /* socket.socket()'s -1s: the default family, the default protocol */
    if (family == -1)
        family = AF_INET;
    if (proto == -1)
        proto = 0;
    int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, proto);
    if (fd < 0) {
        aio_err_set_from_errno(errno);
        return 1;
    }
    if (op->reuse_address && aio__set_socket_flag(fd, SOL_SOCKET, SO_REUSEADDR) < 0)
        goto os_error;
    if (op->reuse_port) {
#ifdef SO_REUSEPORT
        if (aio__set_socket_flag(fd, SOL_SOCKET, SO_REUSEPORT) < 0) {
            aio_err_set(aio_ValueError, "reuse_port not supported by socket module, "
                                        "SO_REUSEPORT defined but not implemented.");
            close(fd);
            return -1;
        }
#else
        aio_err_set(aio_ValueError, "reuse_port not supported by socket module");
        close(fd);
        return -1;
#endif
    }
    if (op->allow_broadcast && aio__set_socket_flag(fd, SOL_SOCKET, SO_BROADCAST) < 0)
        goto os_error;
    if (local != NULL && bind(fd, (const struct sockaddr *)&local->ss, local->len) < 0) {
        aio_err_set_from_errno(errno);
        goto os_error;
    }
    if (remote != NULL && !op->allow_broadcast) {
        int rc;
        while ((rc = connect(fd, (const struct sockaddr *)&remote->ss, remote->len)) < 0 &&
               errno == EINTR)
            ;
        if (rc < 0) {
            aio_err_set_from_errno(errno);
            goto os_error;
        }
    }
    *fd_out = fd;
    return 0;
os_error:
    close(fd);
    return 1;
}

/* reuse_address= between the bpo-37228 fix and its removal (3.8.1 to 3.10,
 * 3.7.6+, 3.6.10+): True is refused, False warns; checked where CPython
 * checks it, once the addresses are known. */
static int reuse_address_check(int version, bool value)
{
    if (value) {
        aio_err_set(aio_ValueError, "Passing `reuse_address=True` is no longer supported, as "
                                    "the usage of SO_REUSEPORT in UDP poses a significant "
                                    "security concern.");
        return -1;
    }
    const char *since = version < AIO_PY(3, 7)   ? "3.6.10"
                        : version < AIO_PY(3, 8) ? "3.7.6"
                                                 : "3.5.10";
    return aio_warn_format(aio_DeprecationWarning,
                           "The *reuse_address* parameter has been deprecated as of %s and is "
                           "scheduled for removal in 3.11.",
                           since);
}

/* The groups, tried in turn; the future gets the pair or the first error. */
static void try_groups(dgram_op *op, const pair_info *groups, size_t n)
{
    if (op->reuse_address_given >= 0 && reuse_address_check(aio_loop_get_target_version(op->loop),
                                                                op->reuse_address_given) < 0) {
        op_fail(op, aio_err_fetch());
        return;
    }
    aio_exc *first = NULL;
    for (size_t i = 0; i < n; i++) {
        const aio__conn_target *local = groups[i].local >= 0 ? &op->local.items[groups[i].local]
                                                             : NULL;
        const aio__conn_target *remote =
            groups[i].remote >= 0 ? &op->remote.items[groups[i].remote] : NULL;
        int fd = -1;
        int rc = try_group(op, groups[i].family, groups[i].proto, local, remote, &fd);
        if (rc == 0) {
            aio__decref(first);
            aio__address_buf r_addr;
            if (remote != NULL)
                aio__address_from_sockaddr(&r_addr, (const struct sockaddr *)&remote->ss,
                                           remote->len);
            if (make_transport(op, fd, true, remote != NULL ? &r_addr : NULL) < 0)
                op_fail(op, aio_err_fetch());
            return;
        }
        aio_exc *exc = aio_err_fetch();
        if (rc < 0) {
            aio__decref(first);
            op_fail(op, exc);
            return;
        }
        if (first == NULL)
            first = exc;
        else
            aio__decref(exc);
    }
    op_fail(op, first != NULL ? first : aio_exc_new(aio_ValueError,
                                                    "can not get address information"));
}

/* The (family, proto) groups of the resolved addresses, in order. */
static void group_and_try(dgram_op *op)
{
    size_t cap = op->local.len + op->remote.len;
    pair_info *groups = aio__calloc(cap ? cap : 1, sizeof *groups);
    if (groups == NULL) {
        op_fail(op, aio_err_fetch());
        return;
    }
    size_t n = 0;
    for (int side = 0; side < 2; side++) {
        aio__conn_targets *t = side == 0 ? &op->local : &op->remote;
        for (size_t i = 0; i < t->len; i++) {
            size_t g;
            for (g = 0; g < n; g++)
                if (groups[g].family == t->items[i].family && groups[g].proto == t->items[i].proto)
                    break;
            if (g == n) {
                groups[n] = (pair_info){t->items[i].family, t->items[i].proto, -1, -1};
                n++;
            }
            /* a later answer for the same key replaces the earlier one */
            if (side == 0)
                groups[g].local = (long)i;
            else
                groups[g].remote = (long)i;
        }
    }
    size_t kept = 0;
    for (size_t g = 0; g < n; g++) {
        if ((op->has_local && groups[g].local < 0) || (op->has_remote && groups[g].remote < 0))
            continue;
        groups[kept++] = groups[g];
    }
    if (kept == 0)
        op_fail(op, aio_exc_new(aio_ValueError, "can not get address information"));
    else
        try_groups(op, groups, kept);
    free(groups);
}

/* --- Resolving --------------------------------------------------------------------------- */

static void resolve(dgram_op *op, bool local);

static void next_step(dgram_op *op, bool local)
{
    if (local)
        resolve(op, false);
    else
        group_and_try(op);
}

static void resolved(aio_future *lookup, void *arg, bool local)
{
    dgram_op *op = arg;
    if (op->lookup == lookup && op_pending(op)) {
        op->lookup = NULL;
        aio__conn_targets *t = local ? &op->local : &op->remote;
        if (lookup->state == AIO__FUTURE_CANCELLED) {
            aio__future_cancel_plain(op->fut, NULL);
        } else if (lookup->exception != NULL) {
            lookup->log_traceback = false;
            aio__incref(lookup->exception);
            op_fail(op, lookup->exception);
        } else if (aio__conn_targets_from_addrinfo(t, lookup->result) < 0) {
            op_fail(op, aio_err_fetch());
        } else if (t->len == 0) {
            op_fail(op, aio_exc_new(aio_OSError, "getaddrinfo() returned empty list"));
        } else {
            next_step(op, local);
        }
        aio__decref(lookup);
    }
    aio__decref(op);
}

static void local_resolved(aio_future *lookup, void *arg)
{
    resolved(lookup, arg, true);
}

static void remote_resolved(aio_future *lookup, void *arg)
{
    resolved(lookup, arg, false);
}

/* _ensure_resolved() of the local address, then of the remote one. */
static void resolve(dgram_op *op, bool local)
{
    if (!(local ? op->has_local : op->has_remote)) {
        next_step(op, local);
        return;
    }
    if (op->family_none || op->proto_none) {
        none_as_int();
        op_fail(op, aio_err_fetch());
        return;
    }
    const char *host = local ? op->local_host : op->remote_host;
    int port = local ? op->local_port : op->remote_port;
    aio__conn_targets *t = local ? &op->local : &op->remote;
    int rc = aio__conn_ipaddr_info(host, port, op->family, SOCK_DGRAM, op->proto, 0, 0,
                                   local ? "bind" : "connect", t);
    if (rc < 0) {
        op_fail(op, aio_err_fetch());
        return;
    }
    if (rc == 1) {
        next_step(op, local);
        return;
    }
    if (op->flags_none) {
        none_as_int();
        op_fail(op, aio_err_fetch());
        return;
    }
    char portbuf[16];
    snprintf(portbuf, sizeof portbuf, "%d", port);
    aio_future *lookup = aio__loop_getaddrinfo(
        op->loop, &(aio__loop_getaddrinfo_args){.host = host,
                                                .port = portbuf,
                                                .family = op->family,
                                                .type = SOCK_DGRAM,
                                                .proto = op->proto,
                                                .flags = op->flags});
    if (lookup == NULL) {
        op_fail(op, aio_err_fetch());
        return;
    }
    op->lookup = lookup;
    aio__incref(op);
    if (aio__future_add_done_callback(
            lookup, &(aio__future_add_done_callback_args){
                        .callback = local ? local_resolved : remote_resolved,
                        .callback_arg = op}) < 0) {
        aio__decref(op);
        op_fail(op, aio_err_fetch());
    }
}

/* --- The checks ------------------------------------------------------------------------------ */

static int append_problem(aio__strbuf *sb, const char *name, const char *value)
{
    if (sb->len > 0)
        aio__sb_append(sb, ", ");
    return aio__sb_appendf(sb, "%s=%s", name, value);
}

/* repr() of an address as given (AIO_ZERO is port 0). */
static void repr_given(const aio_address *a, aio__strbuf *out)
{
    aio_address copy = *a;
    if (copy.port == AIO_ZERO)
        copy.port = 0;
    aio__address_repr(&copy, out);
}

static int append_address_problem(aio__strbuf *sb, const char *name, const aio_address *a)
{
    aio__strbuf v = AIO__STRBUF_INIT;
    repr_given(a, &v);
    int rc = append_problem(sb, name, v.data ? v.data : "?");
    aio__sb_free(&v);
    return rc;
}

/* What reuse_address= does at a target version: */
typedef enum reuse_address_rule {
    REUSE_ADDRESS_HONOURED,   /* SO_REUSEADDR, by default on Unix (before bpo-37228) */
    REUSE_ADDRESS_REFUSED,    /* True: ValueError; False: DeprecationWarning */
    REUSE_ADDRESS_REMOVED     /* 3.11+: an unexpected keyword */
} reuse_address_rule;

static reuse_address_rule reuse_address_rule_at(int version)
{
    if (version >= AIO_PY(3, 11))
        return REUSE_ADDRESS_REMOVED;
    if (version >= AIO_PY_MICRO(3, 8, 1) ||
        (version >= AIO_PY_MICRO(3, 7, 6) && version < AIO_PY(3, 8)) ||
        (version >= AIO_PY_MICRO(3, 6, 10) && version < AIO_PY(3, 7)))
        return REUSE_ADDRESS_REFUSED;
    return REUSE_ADDRESS_HONOURED;
}

/* The checks of sock=: a datagram socket and no other socket option. */
static int check_sock(aio_loop *loop, const aio__loop_create_datagram_endpoint_args *args)
{
    int version = aio_loop_get_target_version(loop);
    int family, type, proto;
    aio__socket_kind(args->sock, &family, &type, &proto);
    if (type < 0) {
        aio_err_set_from_errno(fcntl(args->sock, F_GETFD) < 0 ? EBADF : ENOTSOCK);
        return -1;
    }
    /* 3.13 refuses only stream sockets, with a new message */
    bool v313 = version >= AIO_PY(3, 13);
    if (v313 ? type == SOCK_STREAM : type != SOCK_DGRAM) {
        aio__strbuf sb = AIO__STRBUF_INIT;
        aio__socket_repr_at(args->sock, "socket.socket", version, &sb);
        aio_err_format(aio_ValueError, "%s was expected, got %s",
                       v313 ? "A datagram socket" : "A UDP Socket", sb.data ? sb.data : "?");
        aio__sb_free(&sb);
        return -1;
    }
    bool reuse_port = !args->reuse_port_is_none && args->reuse_port;
    bool broadcast = !args->allow_broadcast_is_none && args->allow_broadcast;
    /* before the fix reuse_address= was one of the socket options refused
     * here; after it, a True one is still listed when another is refused */
    reuse_address_rule rule = reuse_address_rule_at(version);
    bool reuse_address = rule != REUSE_ADDRESS_REMOVED && !args->reuse_address_is_none &&
                         args->reuse_address;
    if (args->local_addr == NULL && args->remote_addr == NULL && args->family == 0 &&
        args->proto == 0 && args->flags == 0 && !reuse_port && !broadcast &&
        !(reuse_address && rule == REUSE_ADDRESS_HONOURED))
        return 0;
    aio__strbuf sb = AIO__STRBUF_INIT;
    char num[16];
    if (args->local_addr != NULL)
        append_address_problem(&sb, "local_addr", args->local_addr);
    if (args->remote_addr != NULL)
        append_address_problem(&sb, "remote_addr", args->remote_addr);
    if (args->family != 0) {
        snprintf(num, sizeof num, "%d", args->family);
        append_problem(&sb, "family", num);
    }
    if (args->proto != 0) {
        snprintf(num, sizeof num, "%d", args->proto);
        append_problem(&sb, "proto", num);
    }
    if (args->flags != 0) {
        snprintf(num, sizeof num, "%d", args->flags);
        append_problem(&sb, "flags", num);
    }
    if (reuse_address)
        append_problem(&sb, "reuse_address", "True");
    if (reuse_port)
        append_problem(&sb, "reuse_port", "True");
    if (broadcast)
        append_problem(&sb, "allow_broadcast", "True");
    aio_err_format(aio_ValueError,
                   "socket modifier keyword arguments can not be used when sock is specified. "
                   "(%s)",
                   sb.data ? sb.data : "");
    aio__sb_free(&sb);
    return -1;
}

static bool is_path(const aio_address *a)
{
    if (a->kind == AIO_ADDRESS_AUTO)
        return a->path != NULL;
    return a->kind == AIO_ADDRESS_PATH || a->kind == AIO_ADDRESS_UNNAMED ||
           a->kind == AIO_ADDRESS_ABSTRACT;
}

static bool is_pair(const aio_address *a)
{
    return a->kind == AIO_ADDRESS_PAIR || (a->kind == AIO_ADDRESS_AUTO && a->path == NULL);
}

/* The stale socket file at an AF_UNIX local path goes first. */
static void remove_stale_socket(const aio_address *a)
{
    if (a->kind == AIO_ADDRESS_ABSTRACT || a->path == NULL || a->path[0] == '\0')
        return;
    struct stat st;
    int err = 0;
    if (stat(a->path, &st) == 0) {
        if (S_ISSOCK(st.st_mode) && unlink(a->path) < 0)
            err = errno;
    } else {
        err = errno;
    }
    if (err == 0 || err == ENOENT)
        return;
    aio_exc *exc = aio_exc_from_errno(err);
    char *repr = exc != NULL ? aio_repr(exc) : NULL;
    aio__strbuf path = AIO__STRBUF_INIT;
    aio__address_repr(a, &path);
    aio_log(AIO_LOG_ERROR, NULL, "Unable to check or remove stale UNIX socket %s: %s",
            path.data ? path.data : "?", repr ? repr : "?");
    aio__sb_free(&path);
    free(repr);
    aio__decref(exc);
    aio_err_clear();
}

/* An AF_UNIX address as the one target of its side. */
static int unix_target(const aio_address *a, aio__conn_targets *t)
{
    t->items = aio__calloc(1, sizeof *t->items);
    if (t->items == NULL)
        return -1;
    t->len = 1;
    t->items[0].family = AF_UNIX;
    t->items[0].type = SOCK_DGRAM;
    return aio__sockaddr_from_address(a, AF_UNIX, "bind", &t->items[0].ss, &t->items[0].len);
}

static char *address_repr(const aio_address *a)
{
    if (a == NULL)
        return NULL;
    aio__strbuf sb = AIO__STRBUF_INIT;
    repr_given(a, &sb);
    aio_err_clear();
    return aio__sb_finish(&sb);
}

static dgram_op *op_new(aio_loop *loop, const aio__loop_create_datagram_endpoint_args *args)
{
    dgram_op *op = aio__calloc(1, sizeof *op);
    if (op == NULL)
        return NULL;
    aio__object_init(op, &dgram_op_type);
    op->loop = loop;
    op->factory = args->protocol_factory;
    op->factory_arg = args->protocol_factory_arg;
    op->family = args->family;
    op->proto = args->proto;
    op->flags = args->flags;
    op->family_none = args->family_is_none;
    op->proto_none = args->proto_is_none;
    op->flags_none = args->flags_is_none;
    op->reuse_port = !args->reuse_port_is_none && args->reuse_port;
    op->allow_broadcast = !args->allow_broadcast_is_none && args->allow_broadcast;
    op->reuse_address_given = -1;
    switch (reuse_address_rule_at(aio_loop_get_target_version(loop))) {
    case REUSE_ADDRESS_HONOURED: /* None: the default, True on Unix */
        op->reuse_address = args->reuse_address_is_none || args->reuse_address;
        break;
    case REUSE_ADDRESS_REFUSED:
        if (!args->reuse_address_is_none)
            op->reuse_address_given = args->reuse_address;
        break;
    case REUSE_ADDRESS_REMOVED:
        break;
    }
    if ((op->fut = aio__connection_future_new(loop)) == NULL) {
        aio__decref(op);
        return NULL;
    }
    aio__connection_set_owner(op->fut, op, op_owner_release);
    if (aio__future_add_done_callback(op->fut, &(aio__future_add_done_callback_args){
                                                   .callback = op_done, .callback_arg = op}) < 0) {
        aio__decref(op->fut);
        return NULL;
    }
    if (aio__loop_debug(loop)) {
        op->local_repr = address_repr(args->local_addr);
        op->remote_repr = address_repr(args->remote_addr);
    }
    return op;
}

aio_future *aio__loop_create_datagram_endpoint(aio_loop *loop,
                                               const aio__loop_create_datagram_endpoint_args *args)
{
    reuse_address_rule rule = reuse_address_rule_at(aio_loop_get_target_version(loop));
    if (!args->reuse_address_is_none && rule == REUSE_ADDRESS_REMOVED) {
        aio_err_set(aio_TypeError, "BaseEventLoop.create_datagram_endpoint() got an "
                                   "unexpected keyword argument 'reuse_address'");
        return NULL;
    }
    const aio_address *la = args->local_addr, *ra = args->remote_addr;
    if (!args->sock_is_none) {
        if (check_sock(loop, args) < 0)
            return NULL;
        int flags = fcntl(args->sock, F_GETFL);
        if (flags < 0 || fcntl(args->sock, F_SETFL, flags | O_NONBLOCK) < 0) {
            aio_err_set_from_errno(errno);
            return NULL;
        }
        if (aio__loop_check_closed(loop) < 0)
            return NULL;
        dgram_op *op = op_new(loop, args);
        if (op == NULL)
            return NULL;
        aio_future *fut = op->fut;
        if (make_transport(op, args->sock, false, NULL) < 0) {
            aio__decref(fut);
            return NULL;
        }
        return fut;
    }
    if (la == NULL && ra == NULL) {
        if (args->family == 0 && !args->family_is_none) {
            aio_err_set(aio_ValueError, "unexpected address family");
            return NULL;
        }
        if (args->family_is_none || args->proto_is_none) { /* socket.socket() meets it */
            none_as_int();
            return NULL;
        }
    } else if (args->family == AF_UNIX) {
        if ((la != NULL && !is_path(la)) || (ra != NULL && !is_path(ra))) {
            aio_err_set(aio_TypeError, "string is expected");
            return NULL;
        }
    } else {
        if ((la != NULL && !is_pair(la)) || (ra != NULL && !is_pair(ra))) {
            /* an assert up to 3.8 and again in 3.10 */
            int version = aio_loop_get_target_version(loop);
            bool assertion = version < AIO_PY(3, 9) ||
                             (version >= AIO_PY(3, 10) && version < AIO_PY(3, 11));
            aio_err_set(assertion ? aio_AssertionError : aio_TypeError, "2-tuple is expected");
            return NULL;
        }
    }
    if (aio__loop_check_closed(loop) < 0)
        return NULL;
    dgram_op *op = op_new(loop, args);
    if (op == NULL)
        return NULL;
    aio_future *fut = op->fut;
    op->has_local = la != NULL;
    op->has_remote = ra != NULL;
    if (la == NULL && ra == NULL) {
        pair_info group = {args->family, args->proto, -1, -1};
        try_groups(op, &group, 1);
        return fut;
    }
    if (args->family == AF_UNIX) {
        if (la != NULL)
            remove_stale_socket(la);
        if ((la != NULL && unix_target(la, &op->local) < 0) ||
            (ra != NULL && unix_target(ra, &op->remote) < 0)) {
            op_fail(op, aio_err_fetch());
            return fut;
        }
        pair_info group = {AF_UNIX, args->proto, la != NULL ? 0 : -1, ra != NULL ? 0 : -1};
        try_groups(op, &group, 1);
        return fut;
    }
    bool ok = true;
    if (la != NULL) {
        op->local_port = la->port == AIO_ZERO ? 0 : la->port;
        ok = la->host == NULL || (op->local_host = aio__strdup(la->host)) != NULL;
    }
    if (ok && ra != NULL) {
        op->remote_port = ra->port == AIO_ZERO ? 0 : ra->port;
        ok = ra->host == NULL || (op->remote_host = aio__strdup(ra->host)) != NULL;
    }
    if (!ok) {
        op_fail(op, aio_err_fetch());
        return fut;
    }
    resolve(op, true);
    return fut;
}
