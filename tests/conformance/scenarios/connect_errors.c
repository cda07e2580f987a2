/* The argument checks of create_connection(), create_unix_connection() and
 * sock_connect(), and the errors of connecting: a local address of no
 * matching family, a local address in use (asyncio's rewrite of the bind
 * error), a Unix socket path that does not exist; then a Unix connection
 * that works. Ports are printed as PORT, and a socket's repr is cut before
 * its fd. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "conformance.h"

static aio_protocol plain;

static aio_protocol *make_plain(void *arg)
{
    (void)arg;
    return &plain;
}

/* show(): "label: Type: text", the text cut before " fd=", the port hidden. */
static void show(const char *label, aio_exc *e, int port)
{
    char text[512];
    snprintf(text, sizeof text, "%s", aio_exc_str(e));
    char *cut = strstr(text, " fd=");
    if (cut != NULL)
        *cut = '\0';
    char p[16], out[512];
    snprintf(p, sizeof p, "%d", port);
    size_t n = 0;
    for (const char *s = text; *s && n + 5 < sizeof out;) {
        if (port > 0 && strncmp(s, p, strlen(p)) == 0) {
            memcpy(out + n, "PORT", 4);
            n += 4;
            s += strlen(p);
        } else {
            out[n++] = *s++;
        }
    }
    out[n] = '\0';
    printf("%s: %s: %s\n", label, aio_exc_type_of(e)->name, out);
}

/* attempt(): a call that fails at once or whose future fails, or returns. */
static const void *attempt(const char *label, aio_future *fut, int port)
{
    const void *result = NULL;
    if (fut != NULL)
        result = aio_await(fut);
    if (fut == NULL || result == NULL) {
        aio_exc *e = aio_err_fetch();
        if (e == NULL) {
            printf("%s: returned NoneType\n", label);
        } else {
            show(label, e, port);
            aio_decref(e);
        }
    } else {
        printf("%s: returned tuple\n", label);
    }
    return result;
}

#define CC(...)                                                                           \
    aio_loop_create_connection(loop, &(aio_loop_create_connection_args){                  \
                                         .protocol_factory = make_plain, __VA_ARGS__})
#define UC(...)                                                                           \
    aio_loop_create_unix_connection(loop, &(aio_loop_create_unix_connection_args){        \
                                              .protocol_factory = make_plain, __VA_ARGS__})

static void *main_coro(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    int stream = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int dgram = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
    int unix_sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    attempt("nothing", CC(.host = NULL), 0);
    attempt("host and sock", CC(.host = "127.0.0.1", .port = 80, .sock = stream), 0);
    attempt("port and sock", CC(.port = 80, .sock = stream), 0);
    attempt("server_hostname", CC(.host = "127.0.0.1", .port = 80, .server_hostname = "x"), 0);
    attempt("ssl_handshake_timeout",
            CC(.host = "127.0.0.1", .port = 80, .ssl_handshake_timeout = 1.0), 0);
    attempt("ssl_shutdown_timeout",
            CC(.host = "127.0.0.1", .port = 80, .ssl_shutdown_timeout = 1.0), 0);
    attempt("datagram sock", CC(.sock = dgram), 0);
    attempt("local_addr family",
            CC(.host = "127.0.0.1", .port = 80,
               .local_addr = &(aio_address){.host = "::1", .port = 0}), 0);
    int taken = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(taken, (struct sockaddr *)&sin, sizeof sin) == 0);
    CHECK(listen(taken, 1) == 0);
    socklen_t len = sizeof sin;
    getsockname(taken, (struct sockaddr *)&sin, &len);
    int tport = ntohs(sin.sin_port);
    attempt("local_addr in use",
            CC(.host = "127.0.0.1", .port = tport,
               .local_addr = &(aio_address){.host = "127.0.0.1", .port = tport}), tport);

    attempt("unix nothing", UC(.path = NULL), 0);
    attempt("unix path and sock", UC(.path = "/x", .sock = unix_sock), 0);
    attempt("unix server_hostname", UC(.path = "/x", .server_hostname = "x"), 0);
    attempt("unix ssl_handshake_timeout", UC(.path = "/x", .ssl_handshake_timeout = 1.0), 0);
    attempt("unix ssl_shutdown_timeout", UC(.path = "/x", .ssl_shutdown_timeout = 1.0), 0);
    attempt("unix inet sock", UC(.sock = stream), 0);
    attempt("unix missing path", UC(.path = "/nonexistent/casyncio/socket"), 0);
    char dir[] = "/tmp/casyncio-conn-XXXXXX";
    CHECK(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/s", dir);
    int server = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    CHECK(bind(server, (struct sockaddr *)&sun, sizeof sun) == 0);
    CHECK(listen(server, 1) == 0);
    aio_future *fut = UC(.path = path);
    const aio_transport_protocol *pair = attempt("unix path", fut, 0);
    CHECK(pair);
    aio_transport_close(pair->transport);
    close(accept(server, NULL, NULL));
    close(server);
    aio_decref(fut);
    unlink(path);
    rmdir(dir);

    int blocking = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    aio_loop_set_debug(loop, true);
    attempt("sock_connect blocking (debug)",
            aio_loop_sock_connect(loop, blocking, &(aio_address){.host = "127.0.0.1", .port = 80}),
            0);
    aio_loop_set_debug(loop, false);
    close(stream);
    close(dgram);
    close(unix_sock);
    close(taken);
    close(blocking);
    return NULL;
}

int main(void)
{
    aio_run(main_coro, NULL, NULL);
    CHECK(!aio_err_occurred());
    return 0;
}
