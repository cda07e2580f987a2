/* create_server.c - loop.create_server() (base_events.py, 3.11.7).
 *
 * The checks in asyncio's order; then either the socket given (sock=), or
 * each host resolved with the loop's getaddrinfo() (all of them at once,
 * as asyncio gathers them), one listening socket per distinct address:
 * SO_REUSEADDR (by default on Unix), SO_REUSEPORT when asked, IPV6_V6ONLY
 * on IPv6 sockets, and bind() errors rewritten as asyncio does. asyncio
 * puts the addresses in a set, so its sockets come in an order that
 * changes from run to run; here they keep the order of the hosts and of
 * getaddrinfo()'s answers.
 *
 * The iterations are asyncio's: it gathers one task per host, each
 * awaiting its lookup. Here the lookup's done callback stands for that
 * task's step (the first iteration for an answer given at once), one
 * call_soon() later gather()'s callback (gather_step_cb) binds the
 * sockets, and one more later the coroutine, resumed, listens and sleeps
 * (serve_step_cb): the future completes there, and its awaiting task
 * resumes when asyncio's would. Without a lookup to wait for (sock=, no
 * host), the sleep(0) is the awaiting task's (server.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "casyncio/log.h"
#include "connection.h"
#include "exc.h"
#include "future.h"
#include "server.h"
#include "sockaddr.h"

/* One create_server() waiting for its hosts to resolve. */
typedef struct create_op {
    int refs;                  /* the caller's, and one per lookup pending */
    aio_loop *loop;            /* a reference */
    aio_future *fut;           /* the result's (a reference) */
    aio_protocol_factory factory;
    void *factory_arg;
    int backlog;
    bool backlog_is_none, reuse_address, reuse_port, start_serving;
    bool bad_port;             /* a numeric host with a port bind() refuses */
    size_t n;                  /* hosts */
    size_t left;               /* lookups not finished */
    aio_future **lookups;      /* each a reference */
    char **hosts;              /* their names, for the message of an empty answer */
} create_op;

static void op_release(create_op *op)
{
    if (--op->refs > 0)
        return;
    for (size_t i = 0; i < op->n; i++) {
        aio__decref(op->lookups[i]);
        free(op->hosts[i]);
    }
    free(op->lookups);
    free(op->hosts);
    aio__decref(op->fut);
    aio__decref(op->loop);
    free(op);
}

static bool same_info(const aio_addrinfo *a, const aio_addrinfo *b)
{
    return a->family == b->family && a->type == b->type && a->proto == b->proto &&
           strcmp(a->canonname ? a->canonname : "", b->canonname ? b->canonname : "") == 0 &&
           a->addrlen == b->addrlen && memcmp(&a->addr, &b->addr, a->addrlen) == 0;
}

/* OSError(err.errno, 'error while attempting to bind on address %r: %s'
 * % (sa, err.strerror.lower())) (3.13: str(err).lower()); in debug mode,
 * 3.13 logs the message of an address it skips (`skipped`). */
static void bind_error(aio_loop *loop, int err, const aio_address *sa, bool skipped)
{
    if (skipped && !aio__loop_debug(loop))
        return;
    aio__strbuf sb = AIO__STRBUF_INIT;
    aio__address_repr(sa, &sb);
    char *address = aio__sb_finish(&sb);
    if (skipped) { /* a log line, at best effort */
        char *msg = address ? aio__bind_error_message(loop, err, address) : NULL;
        if (msg != NULL)
            aio_log(AIO_LOG_WARNING, NULL, "%s", msg);
        free(msg);
        free(address);
        aio_err_clear();
        return;
    }
    if (address == NULL)
        return;
    aio_exc *exc = aio__bind_error(loop, err, address);
    free(address);
    if (exc != NULL)
        aio_err_restore(exc);
}

/* OSError('could not bind on any address out of %r' % ([info[4] for info
 * in infos],)): 3.13, when no socket was left. */
static void bind_none_error(const aio_addrinfo *const *infos, size_t count)
{
    aio__strbuf sb = AIO__STRBUF_INIT;
    aio__sb_append(&sb, "could not bind on any address out of [");
    for (size_t i = 0; i < count; i++) {
        if (i > 0)
            aio__sb_append(&sb, ", ");
        aio__address_repr(&infos[i]->sockaddr, &sb);
    }
    aio__sb_append(&sb, "]");
    char *msg = aio__sb_finish(&sb);
    if (msg == NULL)
        return;
    aio_err_set(aio_OSError, msg);
    free(msg);
}

/* One socket per address, bound; the descriptors go into fds (*n of
 * them). -1 with the exception set, every socket made closed. */
static int bind_all(create_op *op, const aio_addrinfo *const *infos, size_t count, int *fds,
                    size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < count; i++) {
        const aio_addrinfo *ai = infos[i];
        int fd = socket(ai->family, ai->type | SOCK_CLOEXEC, ai->proto);
        if (fd < 0) {
            /* Taken for a bad family/type/protocol combination. */
            if (aio__loop_debug(op->loop))
                aio_log(AIO_LOG_WARNING, NULL,
                        "create_server() failed to create socket.socket(%d, %d, %d)",
                        ai->family, ai->type, ai->proto);
            continue;
        }
        fds[(*n)++] = fd;
        if (op->reuse_address && aio__set_socket_flag(fd, SOL_SOCKET, SO_REUSEADDR) < 0)
            goto fail;
#ifdef SO_REUSEPORT
        if (op->reuse_port && aio__set_socket_flag(fd, SOL_SOCKET, SO_REUSEPORT) < 0) {
            aio_err_set(aio_ValueError, "reuse_port not supported by socket module, "
                                        "SO_REUSEPORT defined but not implemented.");
            goto fail;
        }
#else
        if (op->reuse_port) {
            aio_err_set(aio_ValueError, "reuse_port not supported by socket module");
            goto fail;
        }
#endif
        if (ai->family == AF_INET6 && aio__set_socket_flag(fd, IPPROTO_IPV6, IPV6_V6ONLY) < 0)
            goto fail;
        if (bind(fd, (const struct sockaddr *)&ai->addr, ai->addrlen) < 0) {
            int err = errno;
            bool skip = err == EADDRNOTAVAIL && aio__bind_skips_unavailable(op->loop);
            bind_error(op->loop, err, &ai->sockaddr, skip);
            if (!skip)
                goto fail;
            close(fds[--*n]);
        }
    }
    if (*n == 0 && aio__bind_skips_unavailable(op->loop)) {
        bind_none_error(infos, count);
        return -1;
    }
    return 0;
fail:
    for (size_t i = 0; i < *n; i++)
        close(fds[i]);
    *n = 0;
    return -1;
}

/* The serving step of op_bind(). */
typedef struct serve_step {
    aio_server *server; /* the caller's reference, taken over */
    create_op *op;      /* a reference */
} serve_step;

static void serve_step_release(void *arg)
{
    serve_step *st = arg;
    if (st->server != NULL) {
        aio_exc *exc = aio_err_fetch();
        aio__server_close(st->server);
        aio__decref(st->server);
        aio_err_restore(exc);
    }
    op_release(st->op);
    free(st);
}

/* The iteration where the coroutine, past gather(), starts serving and
 * sleeps: fut is done, its task resumes in the next one. A future
 * cancelled meanwhile closes the server. */
static void serve_step_cb(void *arg)
{
    serve_step *st = arg;
    create_op *op = st->op;
    if (op->fut->state == AIO__FUTURE_PENDING) {
        aio_server *s = st->server;
        st->server = NULL;
        if (aio__server_complete(s, true, op->fut, false) < 0)
            aio__future_fail(op->fut, NULL);
    }
    aio_err_clear();
    serve_step_release(st);
}

/* Every host resolved (gather() done): the sockets and the server, in the
 * iteration where asyncio's coroutine resumes after gather(). Errors fail
 * fut there. Without start_serving fut completes there too; with it the
 * server listens in the next iteration (serve_step_cb), where asyncio's
 * coroutine, resumed, listens and sleeps, unless `inline_sleep` (no
 * lookup was awaited: the caller is the coroutine's first step). */
static void op_bind(create_op *op, bool inline_sleep)
{
    size_t total = 0;
    for (size_t i = 0; i < op->n; i++)
        total += ((aio_addrinfo_list *)op->lookups[i]->result)->len;
    const aio_addrinfo **infos = aio__calloc(total ? total : 1, sizeof *infos);
    int *fds = infos ? aio__calloc(total ? total : 1, sizeof *fds) : NULL;
    if (fds == NULL) {
        free(infos);
        aio__future_fail(op->fut, NULL);
        return;
    }
    size_t count = 0;
    for (size_t i = 0; i < op->n; i++) {
        const aio_addrinfo_list *list = op->lookups[i]->result;
        for (size_t j = 0; j < list->len; j++) {
            size_t k = 0;
            while (k < count && !same_info(infos[k], &list->items[j]))
                k++;
            if (k == count)
                infos[count++] = &list->items[j];
        }
    }
    size_t n = 0;
    aio_server *s = NULL;
    if (op->bad_port)
        aio_err_set(aio_OverflowError, "bind(): port must be 0-65535.");
    else if (bind_all(op, infos, count, fds, &n) == 0) {
        size_t i = 0;
        while (i < n && aio__set_nonblocking(fds[i]) == 0)
            i++;
        if (i < n) {
            for (i = 0; i < n; i++)
                close(fds[i]);
        } else {
            s = aio__server_new(op->loop, fds, n, op->factory, op->factory_arg, op->backlog);
            if (s != NULL)
                s->backlog_is_none = op->backlog_is_none;
        }
    }
    free(infos);
    free(fds);
    if (s == NULL) {
        aio__future_fail(op->fut, NULL);
        return;
    }
    if (!op->start_serving || inline_sleep) {
        if (aio__server_complete(s, op->start_serving, op->fut, true) < 0)
            aio__future_fail(op->fut, NULL);
        return;
    }
    serve_step *st = aio__calloc(1, sizeof *st);
    if (st == NULL) {
        aio_exc *exc = aio_err_fetch();
        aio__server_close(s);
        aio__decref(s);
        aio__future_fail(op->fut, exc);
        return;
    }
    st->server = s;
    st->op = op;
    op->refs++;
    const aio__loop_call_soon_args soon = {
        .callback = serve_step_cb, .args = st, .args_release = serve_step_release};
    if (aio__loop_call_soon(op->loop, &soon) == NULL) {
        aio_exc *exc = aio_err_fetch();
        serve_step_release(st);
        aio__future_fail(op->fut, exc);
    }
}

/* gather()'s done callback for one lookup, in the iteration after the
 * lookup's coroutine (_create_server_getaddrinfo) ended. */
typedef struct gather_step {
    create_op *op;      /* a reference */
    aio_future *lookup; /* a reference */
} gather_step;

static void gather_step_release(void *arg)
{
    gather_step *g = arg;
    aio__decref(g->lookup);
    op_release(g->op);
    free(g);
}

static void gather_step_cb(void *arg)
{
    gather_step *g = arg;
    create_op *op = g->op;
    aio_future *lookup = g->lookup;
    op->left--;
    if (op->fut->state == AIO__FUTURE_PENDING) {
        /* gather(): the first failure is the coroutine's. */
        if (lookup->state == AIO__FUTURE_CANCELLED) {
            aio__future_cancel_plain(op->fut, NULL);
        } else if (lookup->exception != NULL) {
            lookup->log_traceback = false; /* gather() retrieved it */
            aio__future_finish_exception(op->fut, lookup->exception);
        } else if (((aio_addrinfo_list *)lookup->result)->len == 0) {
            size_t i = 0;
            while (i < op->n && op->lookups[i] != lookup)
                i++;
            aio__strbuf sb = AIO__STRBUF_INIT;
            aio__sb_append(&sb, "getaddrinfo(");
            if (i < op->n && op->hosts[i] != NULL)
                aio__sb_append_pyrepr(&sb, op->hosts[i]);
            else
                aio__sb_append(&sb, "None");
            aio__sb_append(&sb, ") returned empty list");
            if (!sb.failed)
                aio_err_set(aio_OSError, sb.data);
            aio__sb_free(&sb);
            aio__future_fail(op->fut, NULL);
        } else if (op->left == 0) {
            op_bind(op, false);
        }
    }
    aio_err_clear();
    gather_step_release(g);
}

/* A lookup is done: the step of its coroutine that sees it (asyncio's
 * task for _create_server_getaddrinfo(), resumed, or in its first step
 * for a numeric host) ends that coroutine; gather() hears of it in the
 * next iteration (gather_step_cb). */
static void op_resolved(aio_future *lookup, void *arg)
{
    create_op *op = arg;
    gather_step *g = aio__calloc(1, sizeof *g);
    if (g != NULL) {
        g->op = op; /* the lookup's reference moves to the step */
        g->lookup = aio_incref(lookup);
        const aio__loop_call_soon_args soon = {
            .callback = gather_step_cb, .args = g, .args_release = gather_step_release};
        if (aio__loop_call_soon(op->loop, &soon) != NULL)
            return;
        aio__decref(g->lookup);
        free(g);
    }
    /* No step: the coroutine's failure, at once. */
    if (op->fut->state == AIO__FUTURE_PENDING)
        aio__future_fail(op->fut, NULL);
    aio_err_clear();
    op->left--;
    op_release(op);
}

/* What Python says of a None where an int is needed. */
static void none_as_int(void)
{
    aio_err_set(aio_TypeError, "'NoneType' object cannot be interpreted as an integer");
}

static bool is_numeric(const char *host)
{
    struct in6_addr a;
    return host != NULL &&
           (inet_pton(AF_INET, host, &a) == 1 || inet_pton(AF_INET6, host, &a) == 1);
}

static aio_future *create_from_sock(aio_loop *loop, const aio__loop_create_server_args *args)
{
    if (args->sock_is_none) {
        aio_err_set(aio_ValueError, "Neither host/port nor sock were specified");
        return NULL;
    }
    if (aio__check_stream_socket(args->sock) < 0 || aio__set_nonblocking(args->sock) < 0)
        return NULL;
    aio_future *fut = aio__loop_create_future(loop);
    if (fut == NULL)
        return NULL;
    aio_server *s = aio__server_new(loop, &args->sock, 1, args->protocol_factory,
                                    args->protocol_factory_arg, args->backlog);
    if (s != NULL)
        s->backlog_is_none = args->backlog_is_none;
    if (s == NULL || aio__server_complete(s, args->start_serving, fut, true) < 0) {
        aio__decref(fut);
        return NULL;
    }
    return fut;
}

aio_future *aio__loop_create_server(aio_loop *loop, const aio__loop_create_server_args *args)
{
    if (args->ssl == AIO_SSL_TRUE) {
        aio_err_set(aio_TypeError, "ssl argument must be an SSLContext or None");
        return NULL;
    }
    if (aio__check_no_ssl(args->ssl, !args->ssl_handshake_timeout_is_none,
                          !args->ssl_shutdown_timeout_is_none) < 0)
        return NULL;
    if (args->host == NULL && args->hosts == NULL && args->port_is_none)
        return create_from_sock(loop, args);
    if (!args->sock_is_none) {
        aio_err_set(aio_ValueError, "host/port and sock can not be specified at the same time");
        return NULL;
    }
    if (aio_loop_is_closed(loop) == 1) {
        /* asyncio's coroutine waits for lookups that never start */
        return aio__loop_create_future(loop);
    }
    if (args->family_is_none) {
        none_as_int();
        return NULL;
    }

    /* '' and None are every interface; a sequence is each of its hosts. */
    static const char *const every[] = {NULL};
    const char *const *hosts = every;
    size_t n = 1;
    if (args->hosts != NULL) {
        hosts = args->hosts;
        for (n = 0; hosts[n] != NULL; n++)
            ;
    } else if (args->host != NULL && args->host[0] != '\0') {
        hosts = &args->host;
    }
    create_op *op = aio__calloc(1, sizeof *op);
    if (op == NULL)
        return NULL;
    op->refs = 1;
    op->loop = aio_incref(loop);
    op->factory = args->protocol_factory;
    op->factory_arg = args->protocol_factory_arg;
    op->backlog = args->backlog;
    op->backlog_is_none = args->backlog_is_none;
    op->reuse_address = args->reuse_address_is_none ? true : args->reuse_address;
    op->reuse_port = !args->reuse_port_is_none && args->reuse_port;
    op->start_serving = args->start_serving;
    op->lookups = aio__calloc(n ? n : 1, sizeof *op->lookups);
    op->hosts = aio__calloc(n ? n : 1, sizeof *op->hosts);
    op->fut = aio__loop_create_future(loop);
    if (op->lookups == NULL || op->hosts == NULL || op->fut == NULL) {
        op_release(op);
        return NULL;
    }
    char port[16];
    bool port_in_range = args->port >= 0 && args->port <= 65535;
    if (!args->port_is_none)
        snprintf(port, sizeof port, "%d", args->port);
    for (size_t i = 0; i < n; i++) {
        /* A numeric host skips getaddrinfo() and its flags (_ipaddr_info). */
        if (args->flags_is_none && !is_numeric(hosts[i])) {
            none_as_int();
            goto fail;
        }
        op->n = i + 1; /* what op_release() frees */
        if (hosts[i] != NULL && (op->hosts[i] = aio__strdup(hosts[i])) == NULL)
            goto fail;
        /* A numeric host skips getaddrinfo(): a port out of range fails
         * only at bind(). */
        bool numeric = is_numeric(hosts[i]);
        if (numeric && !args->port_is_none && !port_in_range)
            op->bad_port = true;
        const aio__loop_getaddrinfo_args gai = {
            .host = hosts[i],
            .port = args->port_is_none || (numeric && !port_in_range) ? NULL : port,
            .family = args->family,
            .type = SOCK_STREAM,
            .flags = args->flags_is_none ? 0 : args->flags,
        };
        if ((op->lookups[i] = aio__loop_getaddrinfo(loop, &gai)) == NULL)
            goto fail;
    }
    op->n = n;
    op->left = n;
    for (size_t i = 0; i < n; i++) {
        const aio__future_add_done_callback_args add = {.callback = op_resolved,
                                                        .callback_arg = op};
        if (aio__future_add_done_callback(op->lookups[i], &add) < 0)
            goto fail;
        op->refs++;
    }
    if (n == 0)
        op_bind(op, true); /* no host: gather() is done, a server without sockets */
    aio_future *fut = aio_incref(op->fut);
    op_release(op);
    return fut;
fail:;
    /* Lookups already asked for finish on their own; their callbacks find
     * the future done. */
    aio_exc *exc = aio_err_fetch();
    aio__future_cancel_plain(op->fut, NULL);
    op_release(op);
    aio_err_restore(exc);
    return NULL;
}
