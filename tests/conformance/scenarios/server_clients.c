/* The connections a TCP server accepted, as 3.13 treats them: see the
 * Python twin for the cases (close_clients(), abort_clients(), wait_closed()
 * after close() waiting for the connections, serve_forever()'s cancellation
 * waiting for them). Versions: 3.13+ (the twin's marker). */
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

/* connection_lost() lines, printed sorted by flush_lost() */
static char lost_lines[8][1200];
static int nlost;

static void made(aio_protocol *self, aio_transport *t)
{
    ((proto *)self)->transport = t;
}
AIO_NAME_CALLBACK(made);

static void connection_lost(aio_protocol *self, aio_exc *exc)
{
    proto *p = (proto *)self;
    CHECK(nlost < 8);
    snprintf(lost_lines[nlost++], sizeof lost_lines[0], "iteration %d %s connection_lost %s", it,
             p->name, exc ? exc_line(exc) : "None");
    CHECK(aio_future_set_result(p->lost, NULL) == 0);
}
AIO_NAME_CALLBACK(connection_lost);

static int by_text(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void flush_lost(void)
{
    qsort(lost_lines, (size_t)nlost, sizeof lost_lines[0], by_text);
    for (int i = 0; i < nlost; i++)
        printf("%s\n", lost_lines[i]);
    nlost = 0;
}

static aio_protocol *factory(void *arg)
{
    (void)arg;
    proto *p = &protos[nprotos++];
    snprintf(p->name, sizeof p->name, "p%d", nprotos);
    p->base.connection_made = made;
    p->base.connection_lost = connection_lost;
    p->lost = aio_loop_create_future(loop);
    CHECK(p->lost);
    return &p->base;
}
AIO_NAME_CALLBACK(factory);

static int port_of(aio_server *server)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    CHECK(getsockname(aio_server_sockets(server)->fds[0], (struct sockaddr *)&sa, &len) == 0);
    return ntohs(sa.sin_port);
}

static int connect_to(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(c >= 0);
    CHECK(connect(c, (struct sockaddr *)&sa, sizeof sa) == 0);
    return c;
}

static void sleep0(void)
{
    CHECK(aio_sleep(0) == 0);
}

static void sleeps(int n)
{
    for (int i = 0; i < n; i++)
        sleep0();
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

static aio_server *create(aio_future **fut)
{
    *fut = aio_loop_create_server(loop, &(aio_loop_create_server_args){
                                            .protocol_factory = factory,
                                            .host = "127.0.0.1",
                                            .port = AIO_ZERO});
    CHECK(*fut);
    aio_server *server = aio_await(*fut);
    CHECK(server);
    return server;
}

static bool reads_eof(int c)
{
    char buf[100];
    ssize_t n = recv(c, buf, sizeof buf, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* loop.create_task(server.wait_closed()) */
static void *wait_closed_coro(void *arg)
{
    aio_future *w = aio_server_wait_closed(arg);
    CHECK(w);
    CHECK(aio_await(w) == NULL && !aio_err_occurred());
    aio_decref(w);
    return NULL;
}
AIO_NAME_CALLBACK(wait_closed_coro);

static void *main_coro(void *arg)
{
    (void)arg;
    aio_future *f1, *f2;
    aio_server *server = create(&f1);
    int port = port_of(server);

    int c1 = connect_to(port), c2 = connect_to(port), c3 = connect_to(port);
    until_made(3);
    section("close_clients");
    close(c1);
    await_lost(&protos[0]);
    flush_lost();
    CHECK(aio_server_close_clients(server) == 0);
    printf("iteration %d close_clients returned; closing: [%s, %s]\n", it,
           py_bool(aio_transport_is_closing(protos[1].transport)),
           py_bool(aio_transport_is_closing(protos[2].transport)));
    sleeps(2);
    flush_lost();
    printf("clients read EOF: %s %s\n", py_bool(reads_eof(c2)), py_bool(reads_eof(c3)));
    printf("is_serving: %s\n", py_bool(aio_server_is_serving(server)));
    CHECK(aio_server_close_clients(server) == 0);
    printf("close_clients with none left: ok\n");
    close(c2);
    close(c3);

    int c4 = connect_to(port);
    until_made(4);
    section("abort_clients");
    aio_transport *t4 = protos[3].transport;
    size_t big = (size_t)16 << 20;
    char *data = calloc(big, 1);
    CHECK(data);
    memset(data, 'x', big);
    CHECK(aio_transport_write(t4, data, big) == 0);
    free(data);
    sleep0();
    printf("buffered: %s\n", py_bool(aio_transport_get_write_buffer_size(t4) > 0));
    CHECK(aio_server_close_clients(server) == 0);
    sleeps(3);
    printf("iteration %d after close_clients, lost: %s\n", it,
           py_bool(aio_future_done(protos[3].lost)));
    CHECK(aio_server_abort_clients(server) == 0);
    sleeps(2);
    flush_lost();
    close(c4);

    int c5 = connect_to(port);
    until_made(5);
    section("close, wait_closed");
    CHECK(aio_server_close(server) == 0);
    aio_task *waiter = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = wait_closed_coro, .coro_arg = server});
    CHECK(waiter);
    sleeps(3);
    printf("iteration %d waiter done with a connection open: %s\n", it,
           py_bool(aio_future_done(waiter)));
    CHECK(aio_server_close_clients(server) == 0);
    until_done(waiter);
    flush_lost();
    printf("iteration %d waiter done: %s\n", it, py_bool(aio_future_done(waiter)));
    aio_decref(waiter);
    aio_future *again = aio_server_wait_closed(server);
    CHECK(again && aio_future_done(again) == 1);
    CHECK(aio_await(again) == NULL && !aio_err_occurred());
    aio_decref(again);
    printf("wait_closed again returned at once\n");
    close(c5);
    aio_decref(f1);

    server = create(&f2);
    port = port_of(server);
    int c6 = connect_to(port);
    until_made(6);
    aio_future *forever = aio_server_serve_forever(server);
    CHECK(forever);
    sleep0();
    section("serve_forever cancelled");
    CHECK(aio_future_cancel(forever, NULL) == 1);
    sleeps(3);
    printf("iteration %d is_serving: %s forever done: %s\n", it,
           py_bool(aio_server_is_serving(server)), py_bool(aio_future_done(forever)));
    CHECK(aio_server_close_clients(server) == 0);
    until_done(forever);
    flush_lost();
    printf("iteration %d forever cancelled: %s\n", it, py_bool(aio_future_cancelled(forever)));
    aio_decref(forever);
    close(c6);
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
