/* The loop iterations servers and connections take, counted by a ticker
 * that calls itself with call_soon(): create_server() with a numeric host,
 * a list of hosts, sock= (each with start_serving True, and False followed
 * by start_serving() or by serve_forever()), create_unix_server() with a
 * path and with sock=; against each, create_connection() to a numeric host
 * or create_unix_connection() to the path: when the server's and the
 * client's connection_made() run (and which first), when the connecting
 * task resumes, when the data crosses and when the connection is lost on
 * both sides. Last, names: create_server() with host None and
 * create_connection() to "localhost", whose lookups take as long as
 * asyncio's thread takes: only the iterations after the client's
 * connection_made() are printed, counted from it.
 *
 * serve_forever(): Python runs it as a task and awaits sleep(0) once; C
 * calls it after that sleep(0) (its future stands for the task). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "conformance.h"

static int it;

static void tick(void *arg)
{
    (void)arg;
    it++;
    CHECK(aio_loop_call_soon(aio_get_running_loop(), &(aio_loop_call_soon_args){.callback = tick}));
}

/* While counting from the client: the lines kept, with their iterations. */
static bool relative;
static struct {
    int it;
    char *text;
} lines[64];
static size_t lines_len;

static void say(const char *format, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *format, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, format);
    vsnprintf(text, sizeof text, format, ap);
    va_end(ap);
    if (!relative) {
        printf("iteration %d %s\n", it, text);
        return;
    }
    CHECK(lines_len < sizeof lines / sizeof lines[0]);
    lines[lines_len].it = it;
    CHECK((lines[lines_len++].text = strdup(text)) != NULL);
}

typedef struct side {
    aio_protocol base;
    const char *name;
    aio_future *lost;
    aio_transport *transport;
} side;

static void made(aio_protocol *self, aio_transport *t)
{
    side *p = (side *)self;
    say("%s connection_made", p->name);
    p->transport = t;
    if (strcmp(p->name, "client") == 0)
        CHECK(aio_transport_write(t, "ping", 4) == 0);
}

static void received(aio_protocol *self, const void *data, size_t len)
{
    side *p = (side *)self;
    say("%s data_received %.*s", p->name, (int)len, (const char *)data);
    if (strcmp(p->name, "server") == 0) {
        CHECK(aio_transport_write(p->transport, data, len) == 0);
        aio_transport_close(p->transport);
    }
}

static void lost(aio_protocol *self, aio_exc *exc)
{
    side *p = (side *)self;
    say("%s connection_lost %s", p->name, exc ? aio_exc_str(exc) : "None");
    CHECK(aio_future_set_result(p->lost, NULL) == 0);
}

static void release(aio_protocol *self)
{
    free(self);
}

/* The servers' protocol factory: the side of the current session. */
static aio_future *pending_server_lost;

static aio_protocol *factory(void *arg)
{
    (void)arg;
    side *p = calloc(1, sizeof *p);
    CHECK(p);
    p->base = (aio_protocol){
        .connection_made = made, .data_received = received, .connection_lost = lost,
        .release = release};
    p->name = "server";
    p->lost = pending_server_lost;
    return &p->base;
}

static aio_protocol *give(void *arg)
{
    return arg;
}

typedef aio_future *(*connect_fn)(aio_server *server, aio_protocol *client);

/* One client against `server`, to the end of both sides. */
static void session(aio_server *server, connect_fn connect)
{
    aio_loop *loop = aio_get_running_loop();
    aio_future *server_lost = aio_loop_create_future(loop);
    side client = {.base = {.connection_made = made, .data_received = received,
                            .connection_lost = lost},
                   .name = "client", .lost = aio_loop_create_future(loop)};
    CHECK(server_lost && client.lost);
    pending_server_lost = server_lost;
    say("connect");
    aio_future *fut = connect(server, &client.base);
    CHECK(fut);
    const aio_transport_protocol *pair = aio_await(fut);
    CHECK(pair);
    say("connected");
    CHECK(aio_await(client.lost) || !aio_err_occurred());
    CHECK(aio_await(server_lost) || !aio_err_occurred());
    say("both lost");
    aio_transport_close(pair->transport);
    aio_decref(fut);
    aio_decref(client.lost);
    aio_decref(server_lost);
}

enum then { NOTHING, START_SERVING, SERVE_FOREVER };

static void serve_made(const char *name, aio_future *making, connect_fn connect, enum then then)
{
    CHECK(making);
    aio_server *server = aio_await(making);
    CHECK(server);
    say("%s created, serving %s sockets %zu", name, py_bool(aio_server_is_serving(server)),
        aio_server_sockets(server)->len);
    aio_future *forever = NULL;
    if (then == START_SERVING) {
        aio_future *started = aio_server_start_serving(server);
        CHECK(started);
        CHECK(aio_await(started) || !aio_err_occurred());
        aio_decref(started);
        say("%s start_serving() returned, serving %s", name,
            py_bool(aio_server_is_serving(server)));
    } else if (then == SERVE_FOREVER) {
        CHECK(aio_sleep(0) == 0);
        forever = aio_server_serve_forever(server);
        CHECK(forever);
        say("%s serve_forever task started, serving %s", name,
            py_bool(aio_server_is_serving(server)));
    }
    session(server, connect);
    aio_server_close(server);
    aio_future *closed = aio_server_wait_closed(server);
    CHECK(closed);
    CHECK(aio_await(closed) || !aio_err_occurred());
    aio_decref(closed);
    say("%s closed", name);
    if (forever != NULL) {
        if (aio_await(forever) == NULL && aio_err_occurred() &&
            aio_err_matches(aio_CancelledError)) {
            aio_err_clear();
            say("%s serve_forever cancelled", name);
        }
        aio_decref(forever);
    }
    aio_decref(making);
}

static int port_of(int fd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    CHECK(getsockname(fd, (struct sockaddr *)&sin, &len) == 0);
    return ntohs(sin.sin_port);
}

static aio_future *tcp_connect(aio_server *server, aio_protocol *client)
{
    int port = port_of(aio_server_sockets(server)->fds[0]);
    return aio_loop_create_connection(
        aio_get_running_loop(),
        &(aio_loop_create_connection_args){
            .protocol_factory = give, .protocol_factory_arg = client, .host = "127.0.0.1",
            .port = port});
}

static char path[128];

static aio_future *unix_connect(aio_server *server, aio_protocol *client)
{
    (void)server;
    return aio_loop_create_unix_connection(
        aio_get_running_loop(),
        &(aio_loop_create_unix_connection_args){
            .protocol_factory = give, .protocol_factory_arg = client, .path = path});
}

static int tcp_sock(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(fd > 0 && bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0);
    return fd;
}

/* serve(name, make, connect, then): "start" is said before the server is
 * made, as the script's serve() says it before calling make(). */
#define serve(name, making, connect, then)                                                     \
    (say("%s start", (name)), serve_made((name), (making), (connect), (then)))

static int unix_sock(void)
{
    if (unlink(path) < 0) {
        /* 3.13's server removed its socket file when it closed: the
         * script's os.unlink() fails, uncaught (exit status 1) */
        fflush(stdout);
        fprintf(stderr, "FileNotFoundError: [Errno %d] %s: '%s'\n", errno, strerror(errno), path);
        *strrchr(path, '/') = '\0';
        rmdir(path);
        exit(1);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    strcpy(sun.sun_path, path);
    CHECK(fd > 0 && bind(fd, (struct sockaddr *)&sun, sizeof sun) == 0);
    return fd;
}

static int by_name_port;

static aio_future *name_connect(aio_server *server, aio_protocol *client)
{
    (void)server;
    return aio_loop_create_connection(
        aio_get_running_loop(),
        &(aio_loop_create_connection_args){.protocol_factory = give,
                                           .protocol_factory_arg = client,
                                           .host = "localhost",
                                           .port = by_name_port});
}

static void by_name(void)
{
    aio_loop *loop = aio_get_running_loop();
    aio_future *making = aio_loop_create_server(
        loop, &(aio_loop_create_server_args){.protocol_factory = factory, .port = AIO_ZERO});
    CHECK(making);
    aio_server *server = aio_await(making);
    CHECK(server);
    const aio_socket_list *sockets = aio_server_sockets(server);
    for (size_t i = 0; i < sockets->len && by_name_port == 0; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        CHECK(getsockname(sockets->fds[i], (struct sockaddr *)&ss, &len) == 0);
        if (ss.ss_family == AF_INET)
            by_name_port = port_of(sockets->fds[i]);
    }
    relative = true;
    session(server, name_connect);
    aio_server_close(server);
    aio_future *closed = aio_server_wait_closed(server);
    CHECK(closed);
    CHECK(aio_await(closed) || !aio_err_occurred());
    aio_decref(closed);
    say("closed");
    relative = false;
    int base = -1;
    for (size_t i = 0; i < lines_len && base < 0; i++)
        if (strcmp(lines[i].text, "client connection_made") == 0)
            base = lines[i].it;
    for (size_t i = 0; i < lines_len; i++) {
        if (lines[i].it >= base)
            printf("names: iteration +%d %s\n", lines[i].it - base, lines[i].text);
        free(lines[i].text);
    }
    aio_decref(making);
}

static void *main_coro(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    CHECK(aio_sleep(0) == 0);

    static const char *const hosts[] = {"127.0.0.1", "127.0.0.1", NULL};
#define TCP(...)                                                                               \
    aio_loop_create_server(loop, &(aio_loop_create_server_args){.protocol_factory = factory,   \
                                                                __VA_ARGS__})
    serve("host", TCP(.host = "127.0.0.1", .port = AIO_ZERO), tcp_connect, NOTHING);
    serve("hosts", TCP(.hosts = hosts, .port = AIO_ZERO), tcp_connect, NOTHING);
    serve("host, start_serving=False then start_serving()",
          TCP(.host = "127.0.0.1", .port = AIO_ZERO, .start_serving = AIO_FALSE), tcp_connect,
          START_SERVING);
    serve("host, start_serving=False then serve_forever()",
          TCP(.host = "127.0.0.1", .port = AIO_ZERO, .start_serving = AIO_FALSE), tcp_connect,
          SERVE_FOREVER);
    serve("sock", TCP(.sock = tcp_sock()), tcp_connect, NOTHING);
    serve("sock, start_serving=False then start_serving()",
          TCP(.sock = tcp_sock(), .start_serving = AIO_FALSE), tcp_connect, START_SERVING);

    char dir[] = "/tmp/net_iterations.XXXXXX";
    CHECK(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/s", dir);
#define UNIX(...)                                                                              \
    aio_loop_create_unix_server(                                                               \
        loop, &(aio_loop_create_unix_server_args){.protocol_factory = factory, __VA_ARGS__})
    serve("unix path", UNIX(.path = path), unix_connect, NOTHING);
    serve("unix sock", UNIX(.sock = unix_sock()), unix_connect, NOTHING);
    serve("unix path, start_serving=False then serve_forever()",
          UNIX(.path = path, .start_serving = AIO_FALSE), unix_connect, SERVE_FOREVER);
    unlink(path);
    rmdir(dir);

    by_name();
    return "done";
}

int main(void)
{
    if (aio_run(main_coro, NULL, NULL) == NULL) {
        aio_err_print();
        return 3;
    }
    return 0;
}
