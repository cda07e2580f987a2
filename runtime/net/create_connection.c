/* create_connection.c - loop.create_connection() and
 * loop.create_unix_connection() (base_events.py: create_connection,
 * _connect_sock, _ensure_resolved, _ipaddr_info; unix_events.py:
 * create_unix_connection).
 *
 * The coroutine becomes a small state machine: resolve the host (at once
 * when it is numeric, else on the loop's resolver), then the local
 * address, then try the addresses one after the other, or staggered with
 * Happy Eyeballs (happy_eyeballs.c). Its steps happen in the iterations
 * the task running asyncio's coroutine would take them: a connect that
 * completes is acted on in the next iteration (the task's wakeup), and the
 * last failure is reported at once (the task that awaits the future wakes
 * in the next iteration, as it would when the coroutine raises). The
 * transport and the future are connection.c's.
 */
#include "create_connection.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "connection.h"
#include "exc.h"
#include "future.h"
#include "impl.h"
#include "loop.h"
#include "casyncio/log.h"
#include "casyncio/net.h"
#include "names.h"

/* --- Targets -------------------------------------------------------------------------- */

void aio__conn_targets_clear(aio__conn_targets *t)
{
    for (size_t i = 0; i < t->len; i++)
        free(t->items[i].display);
    free(t->items);
    t->items = NULL;
    t->len = 0;
}

static aio__conn_target *targets_add(aio__conn_targets *t, size_t cap)
{
    if (t->items == NULL && (t->items = aio__calloc(cap ? cap : 1, sizeof *t->items)) == NULL)
        return NULL;
    aio__conn_target *item = &t->items[t->len++];
    memset(item, 0, sizeof *item);
    return item;
}

int aio__conn_ipaddr_info(const char *host, int port, int family, int type, int proto,
                          unsigned flowinfo, unsigned scope_id, const char *method,
                          aio__conn_targets *t)
{
    if (host == NULL || (proto != 0 && proto != IPPROTO_TCP && proto != IPPROTO_UDP) ||
        strchr(host, '%') != NULL)
        return 0;
    if (proto == 0)
        proto = type == SOCK_DGRAM ? IPPROTO_UDP : IPPROTO_TCP;
    int families[2] = {AF_INET, AF_INET6};
    size_t nfamilies = 2;
    if (family != AF_UNSPEC) {
        families[0] = family;
        nfamilies = 1;
    }
    for (size_t i = 0; i < nfamilies; i++) {
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof ss);
        socklen_t len;
        if (families[i] == AF_INET) {
            struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
            if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
                continue;
            sin->sin_family = AF_INET;
            sin->sin_port = htons((uint16_t)port);
            len = sizeof *sin;
        } else if (families[i] == AF_INET6) {
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
            if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
                continue;
            sin6->sin6_family = AF_INET6;
            sin6->sin6_port = htons((uint16_t)port);
            sin6->sin6_flowinfo = htonl(flowinfo);
            sin6->sin6_scope_id = scope_id;
            len = sizeof *sin6;
        } else {
            continue;
        }
        /* socket.connect() refuses the port before anything else. */
        if (port < 0 || port > 65535) {
            aio_err_format(aio_OverflowError, "%s(): port must be 0-65535.", method);
            return -1;
        }
        aio__conn_target *item = targets_add(t, 1);
        if (item == NULL)
            return -1;
        item->family = families[i];
        item->type = type;
        item->proto = proto;
        item->ss = ss;
        item->len = len;
        aio_address a = {.host = host, .port = port, .flowinfo = flowinfo, .scope_id = scope_id};
        aio__strbuf sb = AIO__STRBUF_INIT;
        if (aio__connect_display(&a, families[i], &sb) < 0)
            return -1;
        item->display = aio__sb_finish(&sb);
        return item->display != NULL ? 1 : -1;
    }
    return 0;
}

int aio__conn_targets_from_addrinfo(aio__conn_targets *t, const aio_addrinfo_list *infos)
{
    for (size_t i = 0; infos != NULL && i < infos->len; i++) {
        const aio_addrinfo *ai = &infos->items[i];
        aio__conn_target *item = targets_add(t, infos->len);
        if (item == NULL)
            return -1;
        item->family = ai->family;
        item->type = ai->type;
        item->proto = ai->proto;
        item->ss = ai->addr;
        item->len = ai->addrlen;
        aio__strbuf sb = AIO__STRBUF_INIT;
        if (aio__address_repr(&ai->sockaddr, &sb) < 0)
            return -1;
        if ((item->display = aio__sb_finish(&sb)) == NULL)
            return -1;
    }
    return 0;
}

/* --- The state -------------------------------------------------------------------------- */

void aio__conn_attempt_close(aio__conn_attempt *a)
{
    aio__connect_abandon(a->op);
    a->op = NULL;
    if (a->fd >= 0) {
        close(a->fd);
        a->fd = -1;
    }
}

static void cc_stop(aio__create_conn *cc)
{
    aio__handle_drop(&cc->timer);
    for (size_t i = 0; i < cc->started; i++)
        aio__conn_attempt_close(&cc->attempts[i]);
    cc->running = 0;
    if (cc->lookup != NULL) {
        aio_future *lookup = cc->lookup;
        cc->lookup = NULL;
        if (lookup->state == AIO__FUTURE_PENDING && aio__future_cancel_any(lookup, NULL) < 0)
            aio_err_clear();
        aio__decref(lookup);
    }
}

static void cc_dealloc(void *obj)
{
    aio__create_conn *cc = obj;
    cc_stop(cc);
    for (size_t i = 0; i < cc->started; i++) {
        aio__conn_attempt *a = &cc->attempts[i];
        for (size_t j = 0; j < a->nexcs; j++)
            aio__decref(a->excs[j]);
        free(a->excs);
    }
    free(cc->attempts);
    aio__conn_targets_clear(&cc->remote);
    aio__conn_targets_clear(&cc->local);
    free(cc->host);
    free(cc->local_host);
    free(cc);
}

AIO__DEFINE_TYPE(create_conn_type) = {"create_connection", cc_dealloc, aio__repr_default, 0};

static bool cc_pending(const aio__create_conn *cc)
{
    return cc->fut != NULL && cc->fut->state == AIO__FUTURE_PENDING;
}

void aio__conn_fail(aio__create_conn *cc, aio_exc *exc)
{
    if (exc == NULL)
        exc = aio_exc_new(aio_MemoryError, NULL);
    if (cc_pending(cc))
        aio__future_fail(cc->fut, exc);
    else
        aio__decref(exc);
    cc_stop(cc);
}

/* Debug mode's "<socket> connected to host:port: (transport, protocol)". */
static void log_connected(aio__create_conn *cc, const aio_transport_protocol *pair)
{
    aio__strbuf sb = AIO__STRBUF_INIT;
    aio__socket_repr_at(aio_transport_get_socket(pair->transport), "asyncio.TransportSocket",
                        aio_loop_get_target_version(cc->loop), &sb);
    aio__sb_appendf(&sb, " connected to %s:%s: (", cc->host ? cc->host : "None",
                    cc->has_port ? cc->port : "None");
    aio__repr_into(pair->transport, &sb);
    aio__sb_appendf(&sb, ", <aio_protocol object at %p>)", (void *)pair->protocol);
    if (sb.data != NULL)
        aio_log(AIO_LOG_DEBUG, NULL, "%s", sb.data);
    aio__sb_free(&sb);
    aio_err_clear();
}

/* The future is done, whichever way: nothing more is tried. Connected, it
 * is when the coroutine returns, and logs in debug mode. */
static void cc_done(aio_future *fut, void *arg)
{
    aio__create_conn *cc = arg;
    cc_stop(cc);
    if (cc->log_connected && fut->state == AIO__FUTURE_FINISHED && fut->exception == NULL &&
        fut->result != NULL && aio__loop_debug(fut->loop))
        log_connected(cc, fut->result);
}

/* The future is freed: so is what it owns. */
static void cc_owner_release(void *arg)
{
    aio__create_conn *cc = arg;
    cc->fut = NULL;
    cc_stop(cc);
    aio__decref(cc);
}

/* A callback of cc's own, holding a reference to it. */
static void cc_release(void *arg)
{
    aio__decref(arg);
}

static int cc_call_soon(aio__create_conn *cc, aio_callback fn)
{
    aio__incref(cc);
    if (aio__loop_call_soon(cc->loop,
                            &(aio__loop_call_soon_args){
                                .callback = fn, .args = cc, .args_release = cc_release}) == NULL) {
        aio__decref(cc);
        return -1;
    }
    return 0;
}

/* --- The end: the transport, or the errors --------------------------------------------- */

void aio__conn_win(aio__create_conn *cc, size_t i)
{
    aio__conn_attempt *a = &cc->attempts[i];
    int fd = a->fd;
    a->fd = -1;
    cc_stop(cc);
    if (!cc_pending(cc)) {
        close(fd);
        return;
    }
    if (cc->factory == NULL) {
        close(fd);
        aio__conn_fail(cc, aio_exc_new(aio_TypeError, "'NoneType' object is not callable"));
        return;
    }
    if (aio__connection_attach(cc->fut, fd, cc->factory, cc->factory_arg, NULL) < 0) {
        close(fd);
        aio__conn_fail(cc, aio_err_fetch());
    }
}

void aio__conn_fail_all(aio__create_conn *cc)
{
    size_t total = 0;
    for (size_t i = 0; i < cc->started; i++)
        total += cc->attempts[i].nexcs;
    aio_exc *first = NULL;
    bool all_same = true;
    aio__strbuf sb = AIO__STRBUF_INIT;
    aio__sb_append(&sb, "Multiple exceptions: ");
    for (size_t i = 0; i < cc->started; i++) {
        const aio__conn_attempt *a = &cc->attempts[i];
        for (size_t j = 0; j < a->nexcs; j++) {
            if (first == NULL)
                first = a->excs[j];
            else {
                aio__sb_append(&sb, ", ");
                if (strcmp(aio_exc_str(first), aio_exc_str(a->excs[j])) != 0)
                    all_same = false;
            }
            aio__sb_append(&sb, aio_exc_str(a->excs[j]));
        }
    }
    aio_exc *exc;
    if (first == NULL) {
        exc = aio_exc_new(aio_IndexError, "list index out of range");
    } else if (total == 1 || all_same) {
        aio__incref(first);
        exc = first;
    } else {
        char *msg = aio__sb_finish(&sb);
        sb.data = NULL;
        exc = msg != NULL ? aio_exc_new(aio_OSError, msg) : NULL;
        free(msg);
    }
    aio__sb_free(&sb);
    aio__conn_fail(cc, exc);
}

/* --- One attempt: _connect_sock() ------------------------------------------------------- */

static int record(aio__conn_attempt *a, aio_exc *exc)
{
    aio_exc **excs = aio__realloc(a->excs, (a->nexcs + 1) * sizeof *excs);
    if (excs == NULL) {
        aio__decref(exc);
        return -2;
    }
    a->excs = excs;
    a->excs[a->nexcs++] = exc;
    return -1;
}

/* The current exception: recorded when it is an OSError (-1), else left
 * set (-2). */
static int record_current(aio__conn_attempt *a)
{
    if (!aio_err_matches(aio_OSError))
        return -2;
    return record(a, aio_err_fetch());
}

static const char *family_name(int family)
{
    switch (family) {
    case AF_INET:
        return "AF_INET";
    case AF_INET6:
        return "AF_INET6";
    case AF_UNIX:
        return "AF_UNIX";
    default:
        return NULL;
    }
}

/* The socket is bound to the first local address of its family that takes
 * it; each refusal becomes OSError(errno, "error while attempting to bind
 * on address <addr>: <strerror, lowercased>") (aio__bind_error()). 0, -1
 * (recorded), -2. */
static int bind_local(aio__create_conn *cc, aio__conn_attempt *a, int family)
{
    size_t failed = 0;
    for (size_t k = 0; k < cc->local.len; k++) {
        const aio__conn_target *l = &cc->local.items[k];
        if (l->family != family)
            continue;
        if (bind(a->fd, (const struct sockaddr *)&l->ss, l->len) == 0)
            return 0;
        aio_exc *exc = aio__bind_error(cc->loop, errno, l->display);
        if (exc == NULL || record(a, exc) == -2)
            return -2;
        failed++;
    }
    if (failed > 0)
        return -1; /* my_exceptions.pop() raised, and appended again */
    aio__strbuf sb = AIO__STRBUF_INIT;
    const char *name = family_name(family);
    if (name != NULL)
        aio__sb_appendf(&sb, "no matching local address with family=<AddressFamily.%s: %d> found",
                        name, family);
    else
        aio__sb_appendf(&sb, "no matching local address with family=%d found", family);
    char *msg = aio__sb_finish(&sb);
    if (msg == NULL)
        return -2;
    aio_exc *exc = aio_exc_new(aio_OSError, msg);
    free(msg);
    return exc != NULL ? record(a, exc) : -2;
}

static void attempt_connected(void *arg, aio_exc *exc);

int aio__conn_attempt_run(aio__create_conn *cc, size_t i)
{
    aio__conn_attempt *a = &cc->attempts[i];
    const aio__conn_target *t = &cc->remote.items[i];
    a->cc = cc;
    a->fd = socket(t->family, t->type | SOCK_NONBLOCK | SOCK_CLOEXEC, t->proto);
    if (a->fd < 0) {
        aio_err_set_from_errno(errno);
        return record_current(a);
    }
    if (cc->has_local) {
        int rc = bind_local(cc, a, t->family);
        if (rc < 0)
            return rc;
    }
    int rc = aio__connect_begin(cc->loop, a->fd, &t->ss, t->len, t->display, attempt_connected,
                                a, &a->op);
    if (rc == 1)
        cc->running++;
    return rc < 0 ? record_current(a) : rc;
}

/* The task's wakeup after a connect that succeeded. */
static void win_soon(void *arg)
{
    aio__create_conn *cc = arg;
    if (cc_pending(cc))
        aio__conn_win(cc, cc->winner);
    aio__decref(cc);
}

static void next_soon(void *arg);

static void attempt_connected(void *arg, aio_exc *exc)
{
    aio__conn_attempt *a = arg;
    aio__create_conn *cc = a->cc;
    size_t i = (size_t)(a - cc->attempts);
    aio__connect_abandon(a->op);
    a->op = NULL;
    cc->running--;
    if (!cc_pending(cc)) {
        aio__decref(exc);
        aio__conn_attempt_close(a);
        return;
    }
    if (exc == NULL) {
        /* The winner: other attempts stop at once (Happy Eyeballs cancels
         * them), the transport comes in the task's next step. */
        cc->winner = i;
        aio__handle_drop(&cc->timer);
        for (size_t k = 0; k < cc->started; k++)
            if (k != i)
                aio__conn_attempt_close(&cc->attempts[k]);
        cc->running = 0;
        if (cc_call_soon(cc, win_soon) < 0) {
            aio__conn_fail(cc, aio_err_fetch());
        }
        return;
    }
    bool os_error = aio_exc_isinstance(exc, aio_OSError);
    int rc = os_error ? record(a, exc) : -2; /* record() takes exc over */
    aio__conn_attempt_close(a);
    if (rc == -2) {
        aio__conn_fail(cc, os_error ? aio_err_fetch() : exc);
        return;
    }
    if (cc->happy_eyeballs) {
        aio__he_attempt_failed(cc, i);
    } else if (cc->started < cc->remote.len) {
        if (cc_call_soon(cc, next_soon) < 0)
            aio__conn_fail(cc, aio_err_fetch());
    } else {
        aio__conn_fail_all(cc);
    }
}

/* The addresses one after the other, until one connects or none is left. */
static void sequential_next(aio__create_conn *cc)
{
    while (cc->started < cc->remote.len) {
        size_t i = cc->started++;
        int rc = aio__conn_attempt_run(cc, i);
        if (rc == 0) {
            aio__conn_win(cc, i);
            return;
        }
        if (rc == 1)
            return;
        aio__conn_attempt_close(&cc->attempts[i]);
        if (rc == -2) {
            aio__conn_fail(cc, aio_err_fetch());
            return;
        }
    }
    aio__conn_fail_all(cc);
}

static void next_soon(void *arg)
{
    aio__create_conn *cc = arg;
    if (cc_pending(cc))
        sequential_next(cc);
    aio__decref(cc);
}

/* --- Resolving ---------------------------------------------------------------------- */

static void start_attempts(aio__create_conn *cc)
{
    if (cc->interleave && aio__interleave_targets(&cc->remote, cc->interleave) < 0) {
        aio__conn_fail(cc, aio_err_fetch());
        return;
    }
    cc->attempts = aio__calloc(cc->remote.len, sizeof *cc->attempts);
    if (cc->attempts == NULL) {
        aio__conn_fail(cc, aio_err_fetch());
        return;
    }
    for (size_t i = 0; i < cc->remote.len; i++) {
        cc->attempts[i].cc = cc;
        cc->attempts[i].fd = -1;
    }
    if (cc->happy_eyeballs)
        aio__he_next(cc);
    else
        sequential_next(cc);
}

static void resolve(aio__create_conn *cc, bool local);

/* A lookup ended: the targets, or the lookup's exception. */
static void resolved(aio_future *lookup, void *arg, bool local)
{
    aio__create_conn *cc = arg;
    if (cc->lookup == lookup && cc_pending(cc)) {
        cc->lookup = NULL;
        aio__conn_targets *t = local ? &cc->local : &cc->remote;
        if (lookup->state == AIO__FUTURE_CANCELLED) {
            aio__future_cancel_plain(cc->fut, NULL);
        } else if (lookup->exception != NULL) {
            lookup->log_traceback = false;
            aio__incref(lookup->exception);
            aio__conn_fail(cc, lookup->exception);
        } else if (aio__conn_targets_from_addrinfo(t, lookup->result) < 0) {
            aio__conn_fail(cc, aio_err_fetch());
        } else if (t->len == 0) {
            aio__conn_fail(cc, aio_exc_new(aio_OSError, "getaddrinfo() returned empty list"));
        } else if (!local) {
            resolve(cc, true);
        } else {
            start_attempts(cc);
        }
        aio__decref(lookup);
    }
    aio__decref(cc);
}

static void remote_resolved(aio_future *lookup, void *arg)
{
    resolved(lookup, arg, false);
}

static void local_resolved(aio_future *lookup, void *arg)
{
    resolved(lookup, arg, true);
}

/* _ensure_resolved() of the remote address, then of the local one. */
static void resolve(aio__create_conn *cc, bool local)
{
    if (local && !cc->has_local) {
        start_attempts(cc);
        return;
    }
    const char *host = local ? cc->local_host : cc->host;
    bool has_port = local || cc->has_port;
    int port = local ? cc->local_port_num : (has_port ? atoi(cc->port) : 0);
    aio__conn_targets *t = local ? &cc->local : &cc->remote;
    int rc = aio__conn_ipaddr_info(host, port, cc->family, SOCK_STREAM, cc->proto,
                                   local ? cc->local_flowinfo : 0,
                                   local ? cc->local_scope_id : 0, "connect", t);
    if (rc < 0) {
        aio__conn_fail(cc, aio_err_fetch());
        return;
    }
    if (rc == 1) {
        if (!local)
            resolve(cc, true);
        else
            start_attempts(cc);
        return;
    }
    aio_future *lookup = aio__loop_getaddrinfo(
        cc->loop, &(aio__loop_getaddrinfo_args){
                      .host = host,
                      .port = local ? cc->local_port : (has_port ? cc->port : NULL),
                      .family = cc->family,
                      .type = SOCK_STREAM,
                      .proto = cc->proto,
                      .flags = cc->flags});
    if (lookup == NULL) {
        aio__conn_fail(cc, aio_err_fetch());
        return;
    }
    cc->lookup = lookup;
    aio__incref(cc);
    if (aio__future_add_done_callback(
            lookup, &(aio__future_add_done_callback_args){
                        .callback = local ? local_resolved : remote_resolved,
                        .callback_arg = cc}) < 0) {
        aio__decref(cc);
        aio__conn_fail(cc, aio_err_fetch());
    }
}

/* --- The methods -------------------------------------------------------------------- */

static aio__create_conn *cc_new(aio_loop *loop, aio_protocol_factory factory, void *factory_arg)
{
    aio__create_conn *cc = aio__calloc(1, sizeof *cc);
    if (cc == NULL)
        return NULL;
    aio__object_init(cc, &create_conn_type);
    cc->loop = loop;
    cc->factory = factory;
    cc->factory_arg = factory_arg;
    if ((cc->fut = aio__connection_future_new(loop)) == NULL) {
        aio__decref(cc);
        return NULL;
    }
    aio__connection_set_owner(cc->fut, cc, cc_owner_release);
    if (aio__future_add_done_callback(cc->fut, &(aio__future_add_done_callback_args){
                                                   .callback = cc_done, .callback_arg = cc}) < 0) {
        aio__decref(cc->fut);
        return NULL;
    }
    return cc;
}

/* Hands out the future, which owns cc. */
static aio_future *cc_future(aio__create_conn *cc)
{
    return cc->fut;
}

/* The given socket: no resolution, no connect. */
static aio_future *connect_given_socket(aio_loop *loop, int fd, aio_protocol_factory factory,
                                        void *factory_arg, bool log)
{
    if (factory == NULL) {
        aio_err_set(aio_TypeError, "'NoneType' object is not callable");
        return NULL;
    }
    aio__create_conn *cc = cc_new(loop, factory, factory_arg);
    if (cc == NULL)
        return NULL;
    cc->log_connected = log;
    if (aio__connection_attach(cc->fut, fd, factory, factory_arg, NULL) < 0) {
        aio__decref(cc->fut);
        return NULL;
    }
    return cc_future(cc);
}

aio_future *aio__loop_create_connection(aio_loop *loop,
                                        const aio__loop_create_connection_args *args)
{
    bool ssl = args->ssl != NULL;
    if (args->server_hostname != NULL && !ssl) {
        aio_err_set(aio_ValueError, "server_hostname is only meaningful with ssl");
        return NULL;
    }
    if (args->server_hostname == NULL && ssl && (args->host == NULL || *args->host == '\0')) {
        aio_err_set(aio_ValueError, "You must set server_hostname when using ssl without a host");
        return NULL;
    }
    if (aio__check_no_ssl(args->ssl, !args->ssl_handshake_timeout_is_none,
                          !args->ssl_shutdown_timeout_is_none) < 0)
        return NULL;
    if (args->host == NULL && args->port_is_none) {
        if (args->sock_is_none) {
            aio_err_set(aio_ValueError, "host and port was not specified and no sock specified");
            return NULL;
        }
        if (aio__check_stream_socket(args->sock) < 0)
            return NULL;
        if (aio__loop_check_closed(loop) < 0)
            return NULL;
        return connect_given_socket(loop, args->sock, args->protocol_factory,
                                    args->protocol_factory_arg, true);
    }
    if (!args->sock_is_none) {
        aio_err_set(aio_ValueError, "host/port and sock can not be specified at the same time");
        return NULL;
    }
    if (aio__loop_check_closed(loop) < 0)
        return NULL;
    aio__create_conn *cc = cc_new(loop, args->protocol_factory, args->protocol_factory_arg);
    if (cc == NULL)
        return NULL;
    cc->log_connected = true;
    cc->family = args->family;
    cc->proto = args->proto;
    cc->flags = args->flags;
    cc->happy_eyeballs = !args->happy_eyeballs_delay_is_none;
    cc->delay = args->happy_eyeballs_delay;
    cc->interleave = args->interleave_is_none ? (cc->happy_eyeballs ? 1 : 0) : args->interleave;
    cc->has_port = !args->port_is_none;
    snprintf(cc->port, sizeof cc->port, "%d", args->port);
    const aio_address *la = args->local_addr;
    cc->has_local = la != NULL;
    bool ok = args->host == NULL || (cc->host = aio__strdup(args->host)) != NULL;
    if (ok && la != NULL) {
        ok = la->host == NULL || (cc->local_host = aio__strdup(la->host)) != NULL;
        cc->local_port_num = la->port == AIO_ZERO ? 0 : la->port; /* 0 either way */
        snprintf(cc->local_port, sizeof cc->local_port, "%d", cc->local_port_num);
        cc->local_flowinfo = la->flowinfo;
        cc->local_scope_id = la->scope_id;
    }
    if (!ok) {
        aio__conn_fail(cc, aio_err_fetch());
        return cc_future(cc);
    }
    resolve(cc, false);
    return cc_future(cc);
}

/* On a closed loop asyncio still makes the socket and calls connect():
 * its error comes first, then the closed loop when it would wait. */
static aio_future *unix_connect_closed(const char *path)
{
    aio_address a = {.path = path, .kind = *path ? AIO_ADDRESS_PATH : AIO_ADDRESS_UNNAMED};
    struct sockaddr_storage ss;
    socklen_t len;
    if (aio__sockaddr_from_address(&a, AF_UNIX, "connect", &ss, &len) < 0)
        return NULL;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int rc = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&ss, len);
    int err = errno;
    if (fd >= 0)
        close(fd);
    if (rc < 0 && err != EINPROGRESS && err != EAGAIN && err != EINTR)
        aio_err_set_from_errno(err);
    else
        aio_err_set(aio_RuntimeError, "Event loop is closed");
    return NULL;
}

aio_future *aio__loop_create_unix_connection(aio_loop *loop,
                                             const aio__loop_create_unix_connection_args *args)
{
    if (args->ssl != NULL) {
        if (args->server_hostname == NULL) {
            aio_err_set(aio_ValueError, "you have to pass server_hostname when using ssl");
            return NULL;
        }
    } else if (args->server_hostname != NULL) {
        aio_err_set(aio_ValueError, "server_hostname is only meaningful with ssl");
        return NULL;
    }
    if (aio__check_no_ssl(args->ssl, !args->ssl_handshake_timeout_is_none,
                          !args->ssl_shutdown_timeout_is_none) < 0)
        return NULL;
    if (args->path == NULL) {
        if (args->sock_is_none) {
            aio_err_set(aio_ValueError, "no path and sock were specified");
            return NULL;
        }
        int family, type, proto;
        aio__socket_kind(args->sock, &family, &type, &proto);
        if (type < 0) {
            aio_err_set_from_errno(fcntl(args->sock, F_GETFD) < 0 ? EBADF : ENOTSOCK);
            return NULL;
        }
        if (family != AF_UNIX || type != SOCK_STREAM) {
            aio__strbuf sb = AIO__STRBUF_INIT;
            aio__socket_repr_at(args->sock, "socket.socket", aio_loop_get_target_version(loop),
                                &sb);
            aio_err_format(aio_ValueError, "A UNIX Domain Stream Socket was expected, got %s",
                           sb.data ? sb.data : "?");
            aio__sb_free(&sb);
            return NULL;
        }
        if (aio__loop_check_closed(loop) < 0)
            return NULL;
        return connect_given_socket(loop, args->sock, args->protocol_factory,
                                    args->protocol_factory_arg, false);
    }
    if (!args->sock_is_none) {
        aio_err_set(aio_ValueError, "path and sock can not be specified at the same time");
        return NULL;
    }
    if (aio_loop_is_closed(loop) == 1)
        return unix_connect_closed(args->path);
    aio__create_conn *cc = cc_new(loop, args->protocol_factory, args->protocol_factory_arg);
    if (cc == NULL)
        return NULL;
    aio__conn_target *t = targets_add(&cc->remote, 1);
    aio_address a = {.path = args->path, .kind = AIO_ADDRESS_PATH};
    if (*args->path == '\0')
        a.kind = AIO_ADDRESS_UNNAMED;
    if (t == NULL || aio__sockaddr_from_address(&a, AF_UNIX, "connect", &t->ss, &t->len) < 0 ||
        (t->display = aio__strdup(args->path)) == NULL) {
        aio__conn_fail(cc, aio_err_fetch());
        return cc_future(cc);
    }
    t->family = AF_UNIX;
    t->type = SOCK_STREAM;
    start_attempts(cc);
    return cc_future(cc);
}

/* What reprs and logs call these callbacks. */
AIO__NAME(cc_done, "BaseEventLoop.create_connection", AIO__NAME_SELF_ARG);
AIO__NAME(win_soon, "Task.task_wakeup", AIO__NAME_SELF_ARG);
AIO__NAME(next_soon, "Task.task_wakeup", AIO__NAME_SELF_ARG);
AIO__NAME(remote_resolved, "Task.task_wakeup", AIO__NAME_SELF_ARG);
AIO__NAME(local_resolved, "Task.task_wakeup", AIO__NAME_SELF_ARG);
