/* server.c - asyncio.Server (base_events.py): close(), get_loop(),
 * is_serving(), start_serving(), serve_forever(), wait_closed() and
 * sockets as 3.11.7 has them, 3.13's close_clients() and abort_clients(),
 * and wait_closed() as the loop's target version has it (see there).
 *
 * The loop keeps a list of its servers not yet closed: when the loop
 * closes, their sockets are closed (Python leaves them to the garbage
 * collector) and what they wait for is dropped.
 */
#include "server.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "casyncio/log.h"
#include "exc.h"
#include "future.h"
#include "names.h"
#include "sockaddr.h"

static void servers_closed(aio_loop *loop);

AIO__LOOP_PART(servers_part) = {.name = "servers", .slots = 1, .order = 40,
                                .closed = servers_closed};

static inline aio_server **servers_of(aio_loop *loop)
{
    return (aio_server **)aio__loop_part_slot(loop, &servers_part);
}

static void unlink_server(aio_server *s)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else if (s->loop != NULL && *servers_of(s->loop) == s)
        *servers_of(s->loop) = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

/* Drops what a closed server still holds that is not its own memory. */
static void drop_waiters(aio_server *s)
{
    aio_future **waiters = s->waiters;
    size_t n = s->waiters_len;
    s->waiters = NULL;
    s->waiters_len = s->waiters_cap = 0;
    for (size_t i = 0; i < n; i++)
        aio__decref(waiters[i]);
    free(waiters);
}

static void server_dealloc(void *obj)
{
    aio_server *s = obj;
    if (!s->closed) {
        /* Python's sockets close when the garbage collector gets them. */
        s->closed = true;
        for (size_t i = 0; i < s->count; i++)
            if (s->listeners[i].fd >= 0)
                close(s->listeners[i].fd);
    }
    unlink_server(s);
    drop_waiters(s);
    aio__decref(s->serving_forever);
    free(s->listeners);
    free(s->fds);
    free(s->cleanup_path);
    aio__decref(s->loop);
    free(s);
}

/* <Server sockets=(<asyncio.TransportSocket fd=6, ...>,)> */
static int server_repr(const void *obj, aio__strbuf *out)
{
    const aio_server *s = obj;
    if (aio__sb_append(out, "<Server sockets=(") < 0)
        return -1;
    size_t n = s->closed ? 0 : s->count;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && aio__sb_append(out, ", ") < 0)
            return -1;
        if (aio__socket_repr_at(s->fds[i], "asyncio.TransportSocket",
                                aio_loop_get_target_version(s->loop), out) < 0)
            return -1;
    }
    return aio__sb_append(out, n == 1 ? ",)>" : ")>");
}

AIO__DEFINE_TYPE(server_type) = {"Server", server_dealloc, server_repr, 0};

aio_server *aio__server_new(aio_loop *loop, const int *fds, size_t n,
                            aio_protocol_factory factory, void *factory_arg, int backlog)
{
    aio_server *s = aio__calloc(1, sizeof *s);
    aio__listener *listeners = s ? aio__calloc(n ? n : 1, sizeof *listeners) : NULL;
    int *copy = listeners ? aio__calloc(n ? n : 1, sizeof *copy) : NULL;
    if (copy == NULL) {
        free(listeners);
        free(s);
        for (size_t i = 0; i < n; i++)
            close(fds[i]);
        return NULL;
    }
    aio__object_init(s, &server_type);
    s->loop = aio_incref(loop);
    s->listeners = listeners;
    s->fds = copy;
    s->count = n;
    for (size_t i = 0; i < n; i++) {
        listeners[i].server = s;
        listeners[i].fd = copy[i] = fds[i];
    }
    s->factory = factory;
    s->factory_arg = factory_arg;
    s->backlog = backlog;
    s->list.fds = copy;
    s->list.len = n;
    s->clients.prev = s->clients.next = &s->clients;
    aio_server **head = servers_of(loop);
    s->next = *head;
    if (*head != NULL)
        (*head)->prev = s;
    *head = s;
    return s;
}

int aio__server_start(aio_server *s)
{
    if (s->serving)
        return 0;
    s->serving = true;
    if (s->closed) {
        /* `for sock in self._sockets` with _sockets None, _serving set */
        aio_err_set(aio_TypeError, "'NoneType' object is not iterable");
        return -1;
    }
    for (size_t i = 0; i < s->count; i++) {
        if (s->backlog_is_none) {
            /* sock.listen(None), after _serving was set, as in asyncio */
            aio_err_set(aio_TypeError, "'NoneType' object cannot be interpreted as an integer");
            return -1;
        }
        /* socket.listen() takes a negative backlog as 0 */
        if (listen(s->listeners[i].fd, s->backlog < 0 ? 0 : s->backlog) < 0) {
            aio_err_set_from_errno(errno);
            return -1;
        }
        if (aio__listener_start(&s->listeners[i]) < 0)
            return -1;
    }
    return 0;
}

/* _wakeup(): wait_closed()'s waiters get their result, and later calls
 * return at once. */
static void wakeup(aio_server *s)
{
    aio_future **waiters = s->waiters;
    size_t n = s->waiters_len;
    s->waiters = NULL;
    s->waiters_len = s->waiters_cap = 0;
    s->waiters_gone = true;
    for (size_t i = 0; i < n; i++) {
        if (waiters[i]->state == AIO__FUTURE_PENDING &&
            aio__future_finish_result(waiters[i], NULL, NULL) < 0)
            aio_err_clear();
        aio__decref(waiters[i]);
    }
    free(waiters);
}

/* --- The methods -------------------------------------------------------------------------- */

int aio__server_close(aio_server *s)
{
    if (s->closed)
        return 0;
    aio__incref(s); /* the readers' references go with them */
    s->closed = true;
    s->list.len = 0;
    for (size_t i = 0; i < s->count; i++)
        aio__listener_stop(&s->listeners[i]);
    if (s->cleanup_path != NULL)
        aio__unix_server_cleanup(s);
    s->serving = false;
    aio_future *forever = s->serving_forever;
    if (forever != NULL && forever->state == AIO__FUTURE_PENDING) {
        s->serving_forever = NULL;
        if (aio__future_cancel_any(forever, NULL) < 0)
            aio_err_clear();
        aio__decref(forever);
    }
    if (s->active_count == 0)
        wakeup(s);
    unlink_server(s);
    aio__decref(s);
    return 0;
}

aio_loop *aio__server_get_loop(aio_server *s)
{
    return s->loop;
}

int aio__server_is_serving(aio_server *s)
{
    return s->serving;
}

const aio_socket_list *aio__server_sockets(aio_server *s)
{
    return &s->list;
}

static void drop_result_server(void *result)
{
    aio__decref(result);
}

int aio__server_complete(aio_server *s, bool start_serving, aio_future *fut, bool inline_sleep)
{
    int rc = -1;
    if (!start_serving || aio__server_start(s) == 0) {
        aio__incref(s);
        rc = aio__future_finish_result(fut, s, drop_result_server);
        if (rc < 0)
            aio__decref(s);
        else if (start_serving && inline_sleep)
            aio__future_done_after_yield(fut); /* `await tasks.sleep(0)` */
    }
    if (rc < 0) {
        aio_exc *exc = aio_err_fetch();
        aio__server_close(s);
        aio_err_restore(exc);
    } else if (aio__loop_debug(s->loop)) {
        char *repr = aio_repr(s);
        aio_log(AIO_LOG_INFO, NULL, "%s is serving", repr ? repr : "<Server>");
        free(repr);
    }
    aio__decref(s);
    return rc;
}

aio_future *aio__server_start_serving(aio_server *s)
{
    if (aio__server_start(s) < 0)
        return NULL;
    /* `await tasks.sleep(0)`: done, its awaiting task resumed next iteration */
    aio_future *fut = aio__loop_create_future(s->loop);
    if (fut != NULL && aio__future_finish_result(fut, NULL, NULL) < 0) {
        aio__decref(fut);
        return NULL;
    }
    if (fut != NULL)
        aio__future_done_after_yield(fut);
    return fut;
}

/* serve_forever()'s future, which stands for asyncio's task running the
 * coroutine: cancelled (by its caller, or by close() cancelling
 * _serving_forever_fut), it closes the server in the next iteration (the
 * task's step: close(), then wait_closed()) and is cancelled once
 * wait_closed() is done: at once up to 3.11; from 3.12 on, when the
 * connections the server accepted are all lost (a second cancel() ends
 * that wait). Its end clears _serving_forever_fut. */
typedef struct serve_future {
    aio_future fut;
    aio_server *server;   /* a reference */
    bool cancelling;
    char *cancel_msg;
    aio_future *closing;  /* 3.12+: the wait_closed() awaited (a reference) */
} serve_future;

static void closing_done(aio_future *closing, void *arg);

static void serve_future_dealloc(void *obj)
{
    serve_future *f = obj;
    if (!aio__future_finalize(&f->fut))
        return;
    if (f->closing != NULL) {
        /* its done callback holds f borrowed */
        aio__future_remove_done_callback(f->closing, closing_done, f);
        aio__decref(f->closing);
    }
    aio__decref(f->server);
    free(f->cancel_msg);
    aio__future_clear(&f->fut);
    free(f);
}

AIO__DEFINE_TYPE(serve_future_type) = {"Future", serve_future_dealloc, aio__future_repr, 0};

static void serve_forever_done(aio_future *fut, void *arg)
{
    (void)arg;
    aio_server *s = ((serve_future *)fut)->server;
    if (s->serving_forever == fut) {
        s->serving_forever = NULL;
        aio__decref(fut);
    }
}

static void serve_end(serve_future *f)
{
    if (f->fut.state == AIO__FUTURE_PENDING &&
        aio__future_cancel_plain(&f->fut, f->cancel_msg) < 0)
        aio_err_clear();
}

/* wait_closed() is done (or was cancelled): the CancelledError goes on. */
static void closing_done(aio_future *closing, void *arg)
{
    serve_future *f = arg;
    if (f->closing == closing) {
        f->closing = NULL;
        aio__decref(closing);
    }
    serve_end(f);
}

/* The step that sees the CancelledError: close(), wait_closed(), then the
 * future ends. */
static void serve_cancelled(serve_future *f)
{
    aio_server *s = f->server;
    aio__server_close(s);
    if (f->fut.state != AIO__FUTURE_PENDING)
        return;
    if (aio_loop_get_target_version(f->fut.loop) >= AIO_PY(3, 12) && !s->waiters_gone) {
        /* wait_closed() waits for the connections still attached. Out of
         * memory, the future ends at once. */
        aio_future *closing = aio__server_wait_closed(s);
        if (closing != NULL && closing->state == AIO__FUTURE_PENDING) {
            const aio__future_add_done_callback_args add = {.callback = closing_done,
                                                            .callback_arg = f};
            if (aio__future_add_done_callback(closing, &add) == 0) {
                f->closing = closing;
                return;
            }
        }
        aio__decref(closing);
        aio_err_clear();
    }
    serve_end(f);
}

static void serve_cancel_step(void *arg)
{
    serve_cancelled(arg);
    aio__decref(arg); /* a one-shot callback owns its argument */
}

static void drop_serve_future(void *arg)
{
    aio__decref(arg);
}

static int serve_cancel(aio_future *fut, const char *msg)
{
    serve_future *f = (serve_future *)fut;
    if (fut->state != AIO__FUTURE_PENDING)
        return 0;
    if (f->cancelling) {
        if (f->closing != NULL) {
            /* cancelled again inside wait_closed(): the wait ends */
            free(f->cancel_msg);
            f->cancel_msg = NULL;
            if (msg != NULL && (f->cancel_msg = aio__strdup(msg)) == NULL)
                aio_err_clear();
            if (aio__future_cancel_any(f->closing, NULL) < 0)
                aio_err_clear();
        }
        return 1;
    }
    f->cancelling = true;
    if (msg != NULL && (f->cancel_msg = aio__strdup(msg)) == NULL)
        aio_err_clear(); /* cancelled without its message */
    aio__incref(f);
    const aio__loop_call_soon_args soon = {
        .callback = serve_cancel_step, .args = f, .args_release = drop_serve_future};
    if (aio__loop_call_soon(fut->loop, &soon) == NULL) {
        aio_err_clear();
        serve_cancelled(f); /* no step: at once */
        aio__decref(f);
    }
    return 1;
}

aio_future *aio__server_serve_forever(aio_server *s)
{
    if (s->serving_forever != NULL || s->closed) {
        char *repr = aio_repr(s);
        if (s->serving_forever != NULL)
            aio_err_format(aio_RuntimeError,
                           "server %s is already being awaited on serve_forever()",
                           repr ? repr : "<Server>");
        else
            aio_err_format(aio_RuntimeError, "server %s is closed", repr ? repr : "<Server>");
        free(repr);
        return NULL;
    }
    if (aio__server_start(s) < 0)
        return NULL;
    serve_future *f = aio__calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    aio__future_init(&f->fut, &serve_future_type, s->loop);
    f->fut.cancel = serve_cancel;
    f->server = aio_incref(s);
    const aio__future_add_done_callback_args add = {.callback = serve_forever_done};
    if (aio__future_add_done_callback(&f->fut, &add) < 0) {
        aio__decref(f);
        return NULL;
    }
    s->serving_forever = aio_incref(&f->fut);
    return &f->fut;
}

/* Whether wait_closed() is done at once. 3.11: on a closed server (even
 * with connections open). 3.12.0: also on an open one without connections.
 * 3.12.1: only once close() and the last connection's loss have both
 * happened (_waiters is None). */
static bool wait_closed_at_once(aio_server *s)
{
    if (s->waiters_gone)
        return true;
    int target = aio_loop_get_target_version(s->loop);
    if (target >= AIO_PY_MICRO(3, 12, 1))
        return false;
    if (target >= AIO_PY(3, 12))
        return s->active_count == 0;
    return s->closed;
}

aio_future *aio__server_wait_closed(aio_server *s)
{
    aio_future *fut = aio__loop_create_future(s->loop);
    if (fut == NULL)
        return NULL;
    if (wait_closed_at_once(s)) {
        if (aio__future_finish_result(fut, NULL, NULL) < 0) {
            aio__decref(fut);
            return NULL;
        }
        return fut;
    }
    if (s->waiters_len == s->waiters_cap) {
        size_t cap = s->waiters_cap ? 2 * s->waiters_cap : 4;
        aio_future **w = aio__realloc(s->waiters, cap * sizeof *w);
        if (w == NULL) {
            aio__decref(fut);
            return NULL;
        }
        s->waiters = w;
        s->waiters_cap = cap;
    }
    s->waiters[s->waiters_len++] = aio_incref(fut);
    return fut;
}

/* --- Connections attached to the server ----------------------------------------------------- */

static void client_unlink(aio__server_client *c)
{
    c->prev->next = c->next;
    c->next->prev = c->prev;
    c->prev = c->next = c;
}

/* Links c in before `at` (at the end of the list whose sentinel is `at`). */
static void client_link_before(aio__server_client *at, aio__server_client *c)
{
    c->prev = at->prev;
    c->next = at;
    at->prev->next = c;
    at->prev = c;
}

aio__server_client *aio__server_client_new(aio_server *s)
{
    aio__server_client *c = aio__malloc(sizeof *c);
    if (c == NULL)
        return NULL;
    c->prev = c->next = c;
    c->server = s;
    c->transport = NULL;
    return c;
}

/* Server._attach(). */
void aio__server_attach(aio__server_client *c, aio_transport *t)
{
    aio_server *s = c->server;
    c->transport = t;
    client_link_before(&s->clients, c);
    s->active_count++;
    aio__incref(s); /* the connection's reference */
}

/* Server._detach(), when an accepted connection is lost. */
void aio__server_detach(void *arg)
{
    aio__server_client *c = arg;
    aio_server *s = c->server;
    client_unlink(c);
    free(c);
    if (s->active_count > 0 && --s->active_count == 0 && s->closed && !s->waiters_gone)
        wakeup(s);
    aio__decref(s);
}

/* close_clients() and abort_clients(): `for transport in
 * self._clients.copy()`. The clients move to a list of their own and go
 * back one by one as each is closed, so that a connection lost during the
 * walk (a close() that ends it at once, a connection_lost() that closes
 * others) leaves whichever list holds it, and the walk needs no copy. */
static int end_clients(aio_server *s, int (*end)(aio_transport *))
{
    if (s->clients.next == &s->clients)
        return 0;
    aio__server_client pending;
    pending.next = s->clients.next;
    pending.prev = s->clients.prev;
    pending.next->prev = pending.prev->next = &pending;
    s->clients.prev = s->clients.next = &s->clients;
    aio__incref(s); /* the last connection's loss may drop the last reference */
    int rc = 0;
    while (pending.next != &pending) {
        aio__server_client *c = pending.next;
        client_unlink(c);
        client_link_before(&s->clients, c);
        aio_transport *t = aio_incref(c->transport);
        rc = end(t);
        aio__decref(t);
        if (rc < 0)
            break;
    }
    /* After an exception, the ones not reached go back, in their order. */
    while (pending.next != &pending) {
        aio__server_client *c = pending.next;
        client_unlink(c);
        client_link_before(&s->clients, c);
    }
    aio__decref(s);
    return rc;
}

int aio__server_close_clients(aio_server *s)
{
    return end_clients(s, aio__transport_close);
}

int aio__server_abort_clients(aio_server *s)
{
    return end_clients(s, aio__transport_abort);
}

/* --- The loop closes ------------------------------------------------------------------------ */

static void servers_closed(aio_loop *loop)
{
    aio_server **head = servers_of(loop);
    while (*head != NULL) {
        aio_server *s = *head;
        aio__incref(s);
        unlink_server(s);
        s->closed = true;
        s->serving = false;
        s->list.len = 0;
        for (size_t i = 0; i < s->count; i++) {
            if (s->listeners[i].fd >= 0)
                close(s->listeners[i].fd);
            s->listeners[i].fd = -1;
        }
        drop_waiters(s);
        aio_future *forever = s->serving_forever;
        s->serving_forever = NULL;
        aio__decref(forever);
        aio__decref(s);
    }
}

AIO__NAME(serve_forever_done, "Server.serve_forever", AIO__NAME_SELF_ARG);
AIO__NAME(serve_cancel_step, "Server.serve_forever", AIO__NAME_SELF_ARG);
AIO__NAME(closing_done, "Server.serve_forever", AIO__NAME_SELF_ARG);
