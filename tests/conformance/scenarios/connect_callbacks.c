/* loop.create_connection() to a plain listening socket on 127.0.0.1: the
 * iterations in which connection_made(), the awaiting task's wakeup, the
 * data, eof_received() and connection_lost() come, counted by a ticker;
 * then a refused connection (a socket bound but not listening), whose
 * OSError comes back in the iteration after the refusal is seen, and
 * sock_connect() succeeding and refused. Ports are printed as PORT. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conformance.h"

static int it;

static void tick(void *arg)
{
    (void)arg;
    it++;
    CHECK(aio_loop_call_soon(aio_get_running_loop(), &(aio_loop_call_soon_args){.callback = tick}));
}

/* str(text).replace(str(port), "PORT") */
static const char *hide(const char *text, int port)
{
    static char buf[512];
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    size_t n = 0, plen = strlen(p);
    while (*text != '\0' && n + 5 < sizeof buf) {
        if (strncmp(text, p, plen) == 0) {
            memcpy(buf + n, "PORT", 4);
            n += 4;
            text += plen;
        } else {
            buf[n++] = *text++;
        }
    }
    buf[n] = '\0';
    return buf;
}

typedef struct recorder {
    aio_protocol base;
    aio_future *lost;
} recorder;

static void made(aio_protocol *self, aio_transport *t)
{
    (void)self;
    (void)t;
    printf("iteration %d connection_made\n", it);
}

static void data(aio_protocol *self, const void *buf, size_t len)
{
    (void)self;
    printf("iteration %d data_received b'%.*s'\n", it, (int)len, (const char *)buf);
}

static bool eof(aio_protocol *self)
{
    (void)self;
    printf("iteration %d eof_received\n", it);
    return false;
}

static void lost(aio_protocol *self, aio_exc *exc)
{
    printf("iteration %d connection_lost %s\n", it, exc ? aio_exc_str(exc) : "None");
    CHECK(aio_future_set_result(((recorder *)self)->lost, NULL) == 0);
}

static aio_protocol *make_recorder(void *arg)
{
    return arg;
}

static aio_protocol *make_plain(void *arg)
{
    static aio_protocol plain;
    (void)arg;
    return &plain;
}

static int bound_socket(int backlog, int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0);
    if (backlog >= 0)
        CHECK(listen(fd, backlog) == 0);
    socklen_t len = sizeof sin;
    getsockname(fd, (struct sockaddr *)&sin, &len);
    *port = ntohs(sin.sin_port);
    return fd;
}

static void print_failure(aio_future *fut, int port)
{
    CHECK(fut);
    CHECK(aio_await(fut) == NULL);
    aio_exc *e = aio_err_fetch();
    CHECK(e);
    printf("iteration %d %s %s %d\n", it, aio_exc_type_of(e)->name, hide(aio_exc_str(e), port),
           aio_exc_errno(e));
    aio_decref(e);
    aio_decref(fut);
}

static void *main_coro(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    int port;
    int listener = bound_socket(5, &port);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    CHECK(aio_sleep(0) == 0);
    printf("iteration %d create_connection\n", it);
    recorder rec = {.base = {.connection_made = made, .data_received = data,
                             .eof_received = eof, .connection_lost = lost}};
    rec.lost = aio_loop_create_future(loop);
    CHECK(rec.lost);
    aio_future *fut = aio_loop_create_connection(
        loop, &(aio_loop_create_connection_args){.protocol_factory = make_recorder,
                                                 .protocol_factory_arg = &rec,
                                                 .host = "127.0.0.1",
                                                 .port = port});
    CHECK(fut);
    const aio_transport_protocol *pair = aio_await(fut);
    CHECK(pair);
    printf("iteration %d connected Recorder\n", it);
    int peer = accept(listener, NULL, NULL);
    CHECK(write(peer, "hello", 5) == 5);
    close(peer);
    CHECK(aio_await(rec.lost) == NULL && !aio_err_occurred());
    printf("iteration %d lost awaited\n", it);
    aio_decref(fut);
    aio_decref(rec.lost);

    int rport;
    int refusing = bound_socket(-1, &rport);
    printf("iteration %d create_connection refused\n", it);
    print_failure(aio_loop_create_connection(
                      loop, &(aio_loop_create_connection_args){.protocol_factory = make_plain,
                                                               .host = "127.0.0.1",
                                                               .port = rport}),
                  rport);

    int sock = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    printf("iteration %d sock_connect\n", it);
    fut = aio_loop_sock_connect(loop, sock, &(aio_address){.host = "127.0.0.1", .port = port});
    CHECK(fut);
    CHECK(aio_await(fut) == NULL && !aio_err_occurred());
    printf("iteration %d sock_connect -> None\n", it);
    aio_decref(fut);
    close(accept(listener, NULL, NULL));
    close(sock);
    sock = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    printf("iteration %d sock_connect refused\n", it);
    print_failure(
        aio_loop_sock_connect(loop, sock, &(aio_address){.host = "127.0.0.1", .port = rport}),
        rport);
    close(sock);
    close(refusing);
    close(listener);
    return NULL;
}

int main(void)
{
    aio_run(main_coro, NULL, NULL);
    CHECK(!aio_err_occurred());
    return 0;
}
