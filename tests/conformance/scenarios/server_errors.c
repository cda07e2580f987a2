/* create_server() and create_unix_server(): the argument errors in
 * asyncio's order and with its messages, the bind error rewritten with the
 * address (the ephemeral port printed as PORT), a stale Unix socket file
 * replaced, a regular file refused (the temporary directory printed as
 * DIR), and sock= given a socket of the wrong kind. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "conformance.h"

/* os.unlink(path), uncaught when it fails: 3.13's server removed its socket
 * file when it closed, so there the script ends with FileNotFoundError
 * (exit status 1). The temporary directory goes too. */
static void py_unlink(const char *path, const char *dir)
{
    if (unlink(path) == 0)
        return;
    fflush(stdout);
    fprintf(stderr, "FileNotFoundError: [Errno %d] %s: '%s'\n", errno, strerror(errno), path);
    rmdir(dir);
    exit(1);
}

static aio_loop *loop;

static aio_protocol *factory(void *arg)
{
    (void)arg;
    return NULL;
}
AIO_NAME_CALLBACK(factory);

/* text with every `from` replaced by `to`, into a static buffer */
static const char *replace(const char *text, const char *from, const char *to)
{
    static char buf[1024];
    size_t n = 0, flen = from ? strlen(from) : 0;
    while (*text && n < sizeof buf - 64) {
        if (flen && strncmp(text, from, flen) == 0) {
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s", to);
            text += flen;
        } else {
            buf[n++] = *text++;
        }
    }
    buf[n] = '\0';
    return buf;
}

/* Awaits a create_*server() future (NULL: it raised at once). */
static void attempt(const char *what, aio_future *fut, const char *from, const char *to)
{
    aio_server *server = NULL;
    if (fut != NULL)
        server = aio_await(fut);
    if (server == NULL) {
        aio_exc *exc = aio_err_fetch();
        CHECK(exc);
        printf("%s -> %s: %s\n", what, aio_exc_type_of(exc)->name,
               replace(aio_exc_str(exc), from, to));
        aio_decref(exc);
    } else {
        printf("%s -> a server with %zu socket(s)\n", what, aio_server_sockets(server)->len);
        aio_server_close(server);
    }
    aio_decref(fut);
}

static aio_future *tcp(const aio_loop_create_server_args *args)
{
    aio_loop_create_server_args a = *args;
    a.protocol_factory = factory;
    return aio_loop_create_server(loop, &a);
}

static aio_future *unix_(const aio_loop_create_unix_server_args *args)
{
    aio_loop_create_unix_server_args a = *args;
    a.protocol_factory = factory;
    return aio_loop_create_unix_server(loop, &a);
}

static void print_prefix(const char *what)
{
    aio_exc *exc = aio_err_fetch();
    CHECK(exc);
    const char *msg = aio_exc_str(exc);
    const char *at = strstr(msg, " fd=");
    printf("%s -> %s: %.*s\n", what, aio_exc_type_of(exc)->name,
           (int)(at ? at - msg : (ptrdiff_t)strlen(msg)), msg);
    aio_decref(exc);
}

#define LOCAL .host = "127.0.0.1", .port = AIO_ZERO

static void *main_coro(void *arg)
{
    (void)arg;
    attempt("ssl=True", tcp(&(aio_loop_create_server_args){LOCAL, .ssl = AIO_SSL_TRUE}), NULL,
            NULL);
    attempt("handshake timeout",
            tcp(&(aio_loop_create_server_args){LOCAL, .ssl_handshake_timeout = 1}), NULL, NULL);
    attempt("shutdown timeout",
            tcp(&(aio_loop_create_server_args){LOCAL, .ssl_shutdown_timeout = 1}), NULL, NULL);
    attempt("nothing", tcp(&(aio_loop_create_server_args){0}), NULL, NULL);
    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    attempt("host and sock", tcp(&(aio_loop_create_server_args){.host = "127.0.0.1", .sock = udp}),
            NULL, NULL);
    attempt("port and sock", tcp(&(aio_loop_create_server_args){.port = AIO_ZERO, .sock = udp}),
            NULL, NULL);
    CHECK(tcp(&(aio_loop_create_server_args){.sock = udp}) == NULL);
    print_prefix("datagram sock");
    close(udp);

    aio_future *ff = tcp(&(aio_loop_create_server_args){LOCAL});
    aio_server *first = aio_await(ff);
    CHECK(first);
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    CHECK(getsockname(aio_server_sockets(first)->fds[0], (struct sockaddr *)&sa, &len) == 0);
    int port = ntohs(sa.sin_port);
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%d", port);
    attempt("port in use", tcp(&(aio_loop_create_server_args){.host = "127.0.0.1", .port = port}),
            port_text, "PORT");
    attempt("port in use, reuse_port",
            tcp(&(aio_loop_create_server_args){.host = "127.0.0.1",
                                               .port = port,
                                               .reuse_address = AIO_FALSE,
                                               .reuse_port = AIO_TRUE}),
            port_text, "PORT");
    aio_server_close(first);
    aio_decref(ff);
    static const char *const twice[] = {"127.0.0.1", "127.0.0.1", NULL};
    attempt("two hosts, one address",
            tcp(&(aio_loop_create_server_args){.hosts = twice, .port = AIO_ZERO}), NULL, NULL);

    char tmp[] = "/tmp/casyncio-conformance-XXXXXX";
    CHECK(mkdtemp(tmp));
    char path[128], nodir[128];
    snprintf(path, sizeof path, "%s/s.sock", tmp);
    snprintf(nodir, sizeof nodir, "%s/no/s.sock", tmp);
    attempt("unix: ssl=True",
            unix_(&(aio_loop_create_unix_server_args){.path = path, .ssl = AIO_SSL_TRUE}), NULL,
            NULL);
    attempt("unix: handshake timeout",
            unix_(&(aio_loop_create_unix_server_args){.path = path, .ssl_handshake_timeout = 1}),
            NULL, NULL);
    attempt("unix: shutdown timeout",
            unix_(&(aio_loop_create_unix_server_args){.path = path, .ssl_shutdown_timeout = 1}),
            NULL, NULL);
    attempt("unix: nothing", unix_(&(aio_loop_create_unix_server_args){0}), NULL, NULL);
    int t = socket(AF_INET, SOCK_STREAM, 0);
    attempt("unix: path and sock",
            unix_(&(aio_loop_create_unix_server_args){.path = path, .sock = t}), NULL, NULL);
    CHECK(unix_(&(aio_loop_create_unix_server_args){.sock = t}) == NULL);
    print_prefix("unix: tcp sock");
    close(t);
    attempt("unix: empty path", unix_(&(aio_loop_create_unix_server_args){.path = ""}), NULL,
            NULL);
    attempt("unix: no directory", unix_(&(aio_loop_create_unix_server_args){.path = nodir}), tmp,
            "DIR");
    int stale = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    strncpy(un.sun_path, path, sizeof un.sun_path - 1);
    CHECK(bind(stale, (struct sockaddr *)&un, sizeof un) == 0);
    close(stale);
    attempt("unix: stale socket file", unix_(&(aio_loop_create_unix_server_args){.path = path}),
            NULL, NULL);
    struct stat st;
    printf("file left after close: %s\n", py_bool(stat(path, &st) == 0));
    py_unlink(path, tmp);
    FILE *f = fopen(path, "w");
    CHECK(f);
    fclose(f);
    attempt("unix: regular file", unix_(&(aio_loop_create_unix_server_args){.path = path}), tmp,
            "DIR");
    printf("regular file left alone: %s\n", py_bool(stat(path, &st) == 0 && S_ISREG(st.st_mode)));
    unlink(path);
    rmdir(tmp);
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    aio_task *m = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = main_coro});
    CHECK(m);
    aio_loop_run_until_complete(loop, m);
    CHECK(!aio_err_occurred());
    aio_decref(m);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
