/* A TCP server's life, by iteration, with plain-socket clients: see the
 * Python twin for the cases (create_server(), an accepted connection's
 * callbacks, wait_closed() with 3.11.7's semantics, close(),
 * start_serving=False, serve_forever() and its errors and cancellation). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conformance.h"

static aio_loop *loop;
static int it;

static void tick(void *arg)
{
    (void)arg;
    it++;
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
}
AIO_NAME_CALLBACK(tick);

static void section(const char *title)
{
    it = 0;
    printf("-- %s\n", title);
}

typedef struct proto {
    aio_protocol base;
    char name[16];
    aio_transport *transport;
    aio_future *lost;
} proto;

static proto protos[8];
static int nprotos;

static proto *P(aio_protocol *self)
{
    return (proto *)self;
}

static const char *py_bytes(const void *data, size_t len)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "b'%.*s'", (int)len, (const char *)data);
    return buf;
}

static void made(aio_protocol *self, aio_transport *t)
{
    P(self)->transport = t;
    printf("iteration %d %s connection_made\n", it, P(self)->name);
}
AIO_NAME_CALLBACK(made);

static void data_received(aio_protocol *self, const void *data, size_t len)
{
    printf("iteration %d %s data_received %s\n", it, P(self)->name, py_bytes(data, len));
    char up[256];
    for (size_t i = 0; i < len && i < sizeof up; i++)
        up[i] = (char)(((const char *)data)[i] >= 'a' && ((const char *)data)[i] <= 'z'
                           ? ((const char *)data)[i] - 'a' + 'A'
                           : ((const char *)data)[i]);
    CHECK(aio_transport_write(P(self)->transport, up, len) == 0);
}
AIO_NAME_CALLBACK(data_received);

static bool eof_received(aio_protocol *self)
{
    printf("iteration %d %s eof_received\n", it, P(self)->name);
    return false;
}
AIO_NAME_CALLBACK(eof_received);

static void connection_lost(aio_protocol *self, aio_exc *exc)
{
    printf("iteration %d %s connection_lost %s\n", it, P(self)->name,
           exc ? exc_line(exc) : "None");
    P(self)->transport = NULL;
    CHECK(aio_future_set_result(P(self)->lost, NULL) == 0);
}
AIO_NAME_CALLBACK(connection_lost);

static aio_protocol *factory(void *arg)
{
    (void)arg;
    proto *p = &protos[nprotos++];
    snprintf(p->name, sizeof p->name, "p%d", nprotos);
    printf("iteration %d factory %s\n", it, p->name);
    p->base.connection_made = made;
    p->base.data_received = data_received;
    p->base.eof_received = eof_received;
    p->base.connection_lost = connection_lost;
    p->lost = aio_loop_create_future(loop);
    CHECK(p->lost);
    return &p->base;
}
AIO_NAME_CALLBACK(factory);

static int connect_to(aio_server *server)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    CHECK(getsockname(aio_server_sockets(server)->fds[0], (struct sockaddr *)&sa, &len) == 0);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(c >= 0);
    if (connect(c, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int err = errno;
        close(c);
        errno = err;
        return -1;
    }
    return c;
}

static void sleep0(void)
{
    CHECK(aio_sleep(0) == 0);
}

static void until_made(int n)
{
    for (int i = 0; i < 100; i++) {
        if (nprotos == n && protos[n - 1].transport != NULL)
            return;
        sleep0();
    }
    printf("timed out\n");
}

static void until_done(aio_future *fut)
{
    for (int i = 0; i < 100; i++) {
        if (aio_future_done(fut) == 1)
            return;
        sleep0();
    }
    printf("timed out\n");
}

static void await_lost(proto *p)
{
    CHECK(aio_await(p->lost) == NULL && !aio_err_occurred());
}

static aio_server *create(aio_future **fut, bool start_serving)
{
    *fut = aio_loop_create_server(loop, &(aio_loop_create_server_args){
                                            .protocol_factory = factory,
                                            .host = "127.0.0.1",
                                            .port = AIO_ZERO,
                                            .start_serving = start_serving ? 0 : AIO_FALSE});
    CHECK(*fut);
    aio_server *server = aio_await(*fut);
    CHECK(server);
    return server;
}

/* str(e).replace(repr(server), "<Server ...>") */
static void print_runtime_error(aio_server *server)
{
    aio_exc *exc = aio_err_fetch();
    CHECK(exc && aio_exc_isinstance(exc, aio_RuntimeError));
    char *repr = aio_repr(server);
    const char *msg = aio_exc_str(exc);
    const char *at = strstr(msg, repr);
    if (at != NULL)
        printf("RuntimeError: %.*s<Server ...>%s\n", (int)(at - msg), msg, at + strlen(repr));
    else
        printf("RuntimeError: %s\n", msg);
    free(repr);
    aio_decref(exc);
}

static const char *sockets_repr(aio_server *server)
{
    return aio_server_sockets(server)->len == 0 ? "()" : "(...)";
}

static void *main_coro(void *arg)
{
    (void)arg;
    char buf[128];
    aio_future *f1, *f2;

    section("create_server");
    aio_server *server = create(&f1, true);
    printf("is_serving: %s sockets: %zu loop: %s\n", py_bool(aio_server_is_serving(server)),
           aio_server_sockets(server)->len, py_bool(aio_server_get_loop(server) == loop));

    section("a connection");
    int c1 = connect_to(server);
    until_made(1);
    CHECK(send(c1, "hello", 5, 0) == 5);
    for (int i = 0; i < 3; i++)
        sleep0();
    ssize_t n = recv(c1, buf, sizeof buf, 0);
    printf("client got: %s\n", py_bytes(buf, (size_t)n));
    shutdown(c1, SHUT_WR);
    await_lost(&protos[0]);
    n = recv(c1, buf, sizeof buf, 0);
    printf("client reads EOF: %s\n", py_bytes(buf, (size_t)n));
    close(c1);

    section("wait_closed");
    int c2 = connect_to(server);
    until_made(2);
    aio_future *waiter = aio_server_wait_closed(server);
    CHECK(waiter);
    sleep0();
    sleep0();
    printf("iteration %d waiter done: %s\n", it, py_bool(aio_future_done(waiter)));
    CHECK(aio_server_close(server) == 0);
    CHECK(aio_server_close(server) == 0);
    char *repr = aio_repr(server);
    printf("iteration %d closed: is_serving: %s sockets: %s %s\n", it,
           py_bool(aio_server_is_serving(server)), sockets_repr(server), repr);
    free(repr);
    aio_future *w2 = aio_server_wait_closed(server);
    CHECK(aio_await(w2) == NULL && !aio_err_occurred());
    aio_decref(w2);
    printf("iteration %d wait_closed on a closed server returned\n", it);
    for (int i = 0; i < 3; i++)
        sleep0();
    printf("iteration %d waiter done with a connection open: %s\n", it,
           py_bool(aio_future_done(waiter)));
    close(c2);
    await_lost(&protos[1]);
    until_done(waiter);
    printf("waiter done after the last connection: %s\n", py_bool(aio_future_done(waiter)));
    aio_decref(waiter);
    aio_decref(f1);

    server = create(&f2, false);
    section("start_serving=False");
    printf("is_serving: %s\n", py_bool(aio_server_is_serving(server)));
    if (connect_to(server) < 0)
        printf("client: %s\n", errno == ECONNREFUSED ? "ConnectionRefusedError" : "OSError");
    aio_future *started = aio_server_start_serving(server);
    CHECK(started);
    CHECK(aio_await(started) == NULL && !aio_err_occurred());
    aio_decref(started);
    printf("after start_serving: is_serving: %s\n", py_bool(aio_server_is_serving(server)));
    section("a connection to it");
    int c3 = connect_to(server);
    until_made(3);

    section("serve_forever");
    aio_future *forever = aio_server_serve_forever(server);
    CHECK(forever);
    sleep0();
    CHECK(aio_server_serve_forever(server) == NULL);
    print_runtime_error(server);
    CHECK(aio_future_cancel(forever, NULL) == 1);
    printf("iteration %d cancelled: is_serving: %s\n", it,
           py_bool(aio_server_is_serving(server)));
    sleep0();
    printf("iteration %d is_serving: %s sockets: %s done: %s\n", it,
           py_bool(aio_server_is_serving(server)), sockets_repr(server),
           py_bool(aio_future_done(forever)));
    sleep0();
    printf("iteration %d forever cancelled: %s\n", it, py_bool(aio_future_cancelled(forever)));
    aio_decref(forever);
    CHECK(aio_server_serve_forever(server) == NULL);
    aio_exc *exc = aio_err_fetch();
    CHECK(exc && aio_exc_isinstance(exc, aio_RuntimeError));
    printf("RuntimeError: %s\n", aio_exc_str(exc));
    aio_decref(exc);
    printf("connection still open: %s\n",
           py_bool(protos[2].transport != NULL && !aio_transport_is_closing(protos[2].transport)));
    close(c3);
    await_lost(&protos[2]);
    aio_decref(f2);
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    aio_task *m = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = main_coro});
    CHECK(m);
    aio_loop_run_until_complete(loop, m);
    CHECK(!aio_err_occurred());
    aio_decref(m);
    for (int i = 0; i < nprotos; i++)
        aio_decref(protos[i].lost);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
