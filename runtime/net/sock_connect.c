/* sock_connect.c - loop.sock_connect() and the non-blocking connect under
 * it (selector_events.py: sock_connect, _sock_connect, _sock_connect_cb,
 * _sock_write_done).
 *
 * connect() is tried at once; EINPROGRESS (or EINTR) has the loop watch
 * the socket for writing, and the writer's callback reads SO_ERROR: 0 is a
 * connection, EAGAIN-like values mean "not yet" (it waits on), anything
 * else is OSError(err, "Connect call failed <address>"). An AF_INET or
 * AF_INET6 address whose host is not numeric is resolved first on the
 * loop's resolver, the first answer being the one connected to.
 */
#include "sock_connect.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "exc.h"
#include "future.h"
#include "impl.h"
#include "loop.h"
#include "names.h"

/* --- The operation ------------------------------------------------------------------- */

struct aio__connect_op {
    aio__object ob;
    aio_loop *loop;
    int fd;
    bool finished;            /* told, or abandoned: the writer is gone */
    aio__connect_done done;
    void *arg;
    char *display;
};

static void op_dealloc(void *obj)
{
    aio__connect_op *op = obj;
    free(op->display);
    free(op);
}

AIO__DEFINE_TYPE(connect_op_type) = {"_sock_connect", op_dealloc, aio__repr_default, 0};

static void op_release(void *arg)
{
    aio__decref(arg);
}

static void op_stop_watching(aio__connect_op *op)
{
    op->finished = true;
    if (aio__io_remove_writer(op->loop, op->fd) < 0)
        aio_err_clear();
}

/* _sock_connect_cb: the socket is writable, the connect has ended. */
static void connect_writable(void *arg)
{
    aio__connect_op *op = arg;
    if (op->finished)
        return;
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(op->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err == EINPROGRESS || err == EALREADY || err == EAGAIN || err == EINTR)
        return; /* still connecting: stay registered */
    aio_exc *exc = NULL;
    if (err != 0) {
        aio__strbuf sb = AIO__STRBUF_INIT;
        aio__sb_appendf(&sb, "Connect call failed %s", op->display);
        char *msg = aio__sb_finish(&sb);
        exc = msg != NULL ? aio_exc_oserror(aio_OSError, err, msg) : NULL;
        free(msg);
        if (exc == NULL)
            exc = aio_err_fetch(); /* MemoryError instead */
    }
    aio__incref(op);
    op_stop_watching(op);
    op->done(op->arg, exc);
    aio__decref(op);
}

int aio__connect_begin(aio_loop *loop, int fd, const struct sockaddr_storage *ss, socklen_t len,
                       const char *display, aio__connect_done done, void *arg,
                       aio__connect_op **pending)
{
    *pending = NULL;
    if (connect(fd, (const struct sockaddr *)ss, len) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR && errno != EAGAIN) {
        aio_err_set_from_errno(errno);
        return -1;
    }
    /* _ensure_fd_no_transport(fd), then _add_writer(). */
    if (aio__loop_check_fd(loop, fd) < 0)
        return -1;
    aio__connect_op *op = aio__calloc(1, sizeof *op);
    if (op == NULL)
        return -1;
    aio__object_init(op, &connect_op_type);
    op->loop = loop;
    op->fd = fd;
    op->done = done;
    op->arg = arg;
    if ((op->display = aio__strdup(display)) == NULL) {
        aio__decref(op);
        return -1;
    }
    aio__incref(op); /* the writer's */
    if (aio__io_add_writer(loop, fd, connect_writable, op, op_release) < 0) {
        aio__decref(op);
        aio__decref(op);
        return -1;
    }
    *pending = op;
    return 1;
}

void aio__connect_abandon(aio__connect_op *op)
{
    if (op == NULL)
        return;
    if (!op->finished)
        op_stop_watching(op);
    aio__decref(op);
}

int aio__connect_display(const aio_address *a, int family, aio__strbuf *out)
{
    if (family == AF_INET6 && a->host != NULL) {
        aio_address quad = *a;
        quad.kind = AIO_ADDRESS_QUAD;
        return aio__address_repr(&quad, out);
    }
    if (family == AF_INET && a->host != NULL) {
        aio_address pair = *a;
        pair.kind = AIO_ADDRESS_PAIR;
        return aio__address_repr(&pair, out);
    }
    if (a->kind == AIO_ADDRESS_ABSTRACT || a->kind == AIO_ADDRESS_UNNAMED || a->path == NULL)
        return aio__address_repr(a, out);
    return aio__sb_append(out, a->path);
}

/* --- loop.sock_connect() ------------------------------------------------------------ */

/* The coroutine's future, with what it waits on. */
typedef struct sock_connect {
    aio_future fut;             /* the result, None */
    int fd;
    aio_future *lookup;         /* getaddrinfo(), while resolving */
    aio__connect_op *op;        /* the connect, while pending */
} sock_connect;

static void sc_resolved(aio_future *lookup, void *arg);

/* Stops what is in flight: the writer (_sock_write_done()), the lookup. */
static void sc_stop(sock_connect *sc)
{
    aio__connect_op *op = sc->op;
    sc->op = NULL;
    aio__connect_abandon(op);
    aio_future *lookup = sc->lookup;
    sc->lookup = NULL;
    if (lookup != NULL) {
        /* sc_resolved() still runs, and drops its reference */
        if (lookup->state == AIO__FUTURE_PENDING && aio__future_cancel_any(lookup, NULL) < 0)
            aio_err_clear();
        aio__decref(lookup);
    }
}

static void sc_dealloc(void *obj)
{
    sock_connect *sc = obj;
    if (!aio__future_finalize(&sc->fut))
        return;
    sc_stop(sc);
    aio__future_clear(&sc->fut);
    free(sc);
}

AIO__DEFINE_TYPE(sock_connect_type) = {"Future", sc_dealloc, aio__future_repr, 0};

static void sc_finish(sock_connect *sc, aio_exc *exc)
{
    if (sc->fut.state != AIO__FUTURE_PENDING) {
        aio__decref(exc);
        return;
    }
    if (exc == NULL)
        aio__future_finish_result(&sc->fut, NULL, NULL);
    else
        aio__future_fail(&sc->fut, exc);
}

static void sc_connected(void *arg, aio_exc *exc)
{
    sock_connect *sc = arg;
    aio__connect_op *op = sc->op;
    sc->op = NULL;
    sc_finish(sc, exc);
    aio__connect_abandon(op);
}

static void sc_begin(sock_connect *sc, const struct sockaddr_storage *ss, socklen_t len,
                     const char *display)
{
    int rc = aio__connect_begin(sc->fut.loop, sc->fd, ss, len, display, sc_connected, sc,
                                &sc->op);
    if (rc == 0)
        sc_finish(sc, NULL);
    else if (rc < 0)
        sc_finish(sc, aio_err_fetch());
}

/* The future is done (a cancellation, most often): nothing more waits. */
static void sc_done(aio_future *fut, void *arg)
{
    (void)arg;
    sc_stop((sock_connect *)fut);
}

/* The address is resolved: `_, _, _, _, address = resolved[0]`. */
static void sc_resolved(aio_future *lookup, void *arg)
{
    sock_connect *sc = arg;
    if (sc->lookup != lookup) {
        aio__decref(sc);
        return;
    }
    sc->lookup = NULL;
    if (sc->fut.state == AIO__FUTURE_PENDING) {
        if (lookup->state == AIO__FUTURE_CANCELLED) {
            aio__future_cancel_plain(&sc->fut, NULL);
        } else if (lookup->exception != NULL) {
            lookup->log_traceback = false;
            aio__incref(lookup->exception);
            sc_finish(sc, lookup->exception);
        } else {
            const aio_addrinfo_list *infos = lookup->result;
            aio__strbuf sb = AIO__STRBUF_INIT;
            if (infos == NULL || infos->len == 0) {
                /* resolved[0] of an empty list */
                sc_finish(sc, aio_exc_new(aio_IndexError, "list index out of range"));
            } else if (aio__address_repr(&infos->items[0].sockaddr, &sb) < 0 || sb.data == NULL) {
                sc_finish(sc, aio_err_fetch());
            } else {
                sc_begin(sc, &infos->items[0].addr, infos->items[0].addrlen, sb.data);
            }
            aio__sb_free(&sb);
        }
    }
    aio__decref(lookup);
    aio__decref(sc);
}

aio_future *aio__loop_sock_connect(aio_loop *loop, int sock, const aio_address *address)
{
    /* As asyncio: the socket and the address first; a closed loop is
     * found when the writer is added (or the future completes). */
    if (aio__loop_debug(loop)) {
        int flags = fcntl(sock, F_GETFL);
        if (flags >= 0 && !(flags & O_NONBLOCK)) {
            aio_err_set(aio_ValueError, "the socket must be non-blocking");
            return NULL;
        }
    }
    int family, type, proto;
    aio__socket_kind(sock, &family, &type, &proto);
    if (address == NULL) {
        if (family == AF_INET || family == AF_INET6)
            aio_err_set(aio_TypeError, "'NoneType' object is not subscriptable");
        else
            aio_err_set(aio_TypeError, "a bytes-like object is required, not 'NoneType'");
        return NULL;
    }
    struct sockaddr_storage ss;
    socklen_t len = 0;
    int numeric = 0;
    if (family == AF_INET || family == AF_INET6 || family == AF_UNIX) {
        numeric = aio__sockaddr_from_address(address, family, "connect", &ss, &len);
        if (numeric < 0)
            return NULL;
    } else {
        /* What connect() says of a descriptor that is no socket. */
        memset(&ss, 0, sizeof ss);
        ss.ss_family = AF_INET;
        len = sizeof(struct sockaddr_in);
    }
    sock_connect *sc = aio__calloc(1, sizeof *sc);
    if (sc == NULL)
        return NULL;
    aio__future_init(&sc->fut, &sock_connect_type, loop);
    sc->fd = sock;
    if (numeric == 1) {
        char port[16];
        snprintf(port, sizeof port, "%d", address->port);
        sc->lookup = aio__loop_getaddrinfo(
            loop, &(aio__loop_getaddrinfo_args){
                      .host = address->host, .port = port, .family = family, .type = type,
                      .proto = proto});
        if (sc->lookup == NULL) {
            aio__decref(sc);
            return NULL;
        }
        aio__incref(sc); /* sc_resolved's */
        if (aio__future_add_done_callback(sc->lookup, &(aio__future_add_done_callback_args){
                                                          .callback = sc_resolved,
                                                          .callback_arg = sc}) < 0) {
            aio__decref(sc);
            aio__decref(sc);
            return NULL;
        }
    } else {
        /* connect() at once: its own error, or a closed loop when the writer
         * is added, is raised here, as the coroutine raises it */
        aio__strbuf sb = AIO__STRBUF_INIT;
        int rc = -1;
        if (aio__connect_display(address, family, &sb) == 0 && sb.data != NULL)
            rc = aio__connect_begin(loop, sock, &ss, len, sb.data, sc_connected, sc, &sc->op);
        aio__sb_free(&sb);
        if (rc < 0) {
            aio__decref(sc);
            return NULL;
        }
        if (rc == 0)
            sc_finish(sc, NULL);
    }
    /* Something is in flight: the future's end stops it (_sock_write_done). */
    if (sc->fut.state == AIO__FUTURE_PENDING &&
        aio__future_add_done_callback(
            &sc->fut, &(aio__future_add_done_callback_args){.callback = sc_done}) < 0) {
        aio__decref(sc);
        return NULL;
    }
    return &sc->fut;
}

/* What reprs and logs call these callbacks. */
AIO__NAME(connect_writable, "BaseSelectorEventLoop._sock_connect_cb", AIO__NAME_SELF_ARG);
AIO__NAME(sc_done, "BaseSelectorEventLoop._sock_write_done", AIO__NAME_SELF_ARG);
