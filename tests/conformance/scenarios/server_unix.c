/* A Unix server's life, by iteration, with a plain AF_UNIX client: the
 * factory one iteration after accept(), connection_made() one after that,
 * the peer's name '' (an unnamed client) and the socket's own name the path
 * (the temporary directory printed as DIR), data echoed, the client's EOF,
 * connection_lost(); close() leaves the socket file in place (3.11); a
 * stale socket file is replaced by the next server; a server over a socket
 * bound to an abstract name (sock=; the process id in it printed as PID). */
#include <errno.h>
#include <stddef.h>
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
static int it;
static char tmp[] = "/tmp/casyncio-conformance-XXXXXX";
static char pid[16];

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

typedef struct echo {
    aio_protocol base;
    aio_transport *transport;
    aio_future *lost;
} echo;

static echo protos[8];
static int nmade, nprotos;

/* repr() of an AF_UNIX address, with the directory as DIR and the process
 * id as PID. */
static const char *addr_repr(const aio_address *a)
{
    static char buf[256];
    char name[200] = "";
    if (a == NULL)
        return "None";
    if (a->kind == AIO_ADDRESS_PATH) {
        size_t n = strlen(tmp);
        if (strncmp(a->path, tmp, n) == 0)
            snprintf(buf, sizeof buf, "'DIR%s'", a->path + n);
        else
            snprintf(buf, sizeof buf, "'%s'", a->path);
    } else if (a->kind == AIO_ADDRESS_ABSTRACT) {
        snprintf(name, sizeof name, "%.*s", (int)a->path_len - 1, a->path + 1);
        char *at = strstr(name, pid);
        if (at != NULL)
            snprintf(at, sizeof name - (size_t)(at - name), "PID");
        snprintf(buf, sizeof buf, "b'\\x00%s'", name);
    } else {
        snprintf(buf, sizeof buf, "''");
    }
    return buf;
}

static void made(aio_protocol *self, aio_transport *t)
{
    echo *p = (echo *)self;
    p->transport = t;
    printf("iteration %d connection_made peername: %s", it,
           addr_repr(aio_transport_get_peername(t)));
    printf(" sockname: %s\n", addr_repr(aio_transport_get_sockname(t)));
    nmade++;
}
AIO_NAME_CALLBACK(made);

static void data_received(aio_protocol *self, const void *data, size_t len)
{
    printf("iteration %d data_received b'%.*s'\n", it, (int)len, (const char *)data);
    char rev[64];
    for (size_t i = 0; i < len && i < sizeof rev; i++)
        rev[i] = ((const char *)data)[len - 1 - i];
    CHECK(aio_transport_write(((echo *)self)->transport, rev, len) == 0);
}
AIO_NAME_CALLBACK(data_received);

static bool eof_received(aio_protocol *self)
{
    (void)self;
    printf("iteration %d eof_received\n", it);
    return false;
}
AIO_NAME_CALLBACK(eof_received);

static void connection_lost(aio_protocol *self, aio_exc *exc)
{
    printf("iteration %d connection_lost %s\n", it, exc ? exc_line(exc) : "None");
    CHECK(aio_future_set_result(((echo *)self)->lost, NULL) == 0);
}
AIO_NAME_CALLBACK(connection_lost);

static aio_protocol *factory(void *arg)
{
    (void)arg;
    printf("iteration %d factory\n", it);
    echo *p = &protos[nprotos++];
    p->base.connection_made = made;
    p->base.data_received = data_received;
    p->base.eof_received = eof_received;
    p->base.connection_lost = connection_lost;
    p->lost = aio_loop_create_future(loop);
    CHECK(p->lost);
    return &p->base;
}
AIO_NAME_CALLBACK(factory);

static void until_made(int n)
{
    while (nmade < n)
        CHECK(aio_sleep(0) == 0);
}

static void await_lost(echo *p)
{
    CHECK(aio_await(p->lost) == NULL && !aio_err_occurred());
}

static void serve_one(const struct sockaddr_un *sa, socklen_t len)
{
    section("a connection");
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(connect(c, (const struct sockaddr *)sa, len) == 0);
    until_made(nmade + 1);
    CHECK(send(c, "abc", 3, 0) == 3);
    for (int i = 0; i < 3; i++)
        CHECK(aio_sleep(0) == 0);
    char buf[16];
    ssize_t n = recv(c, buf, sizeof buf, 0);
    printf("client got: b'%.*s'\n", (int)n, buf);
    shutdown(c, SHUT_WR);
    await_lost(&protos[nprotos - 1]);
    close(c);
}

static aio_server *create(aio_future **fut, const aio_loop_create_unix_server_args *args)
{
    *fut = aio_loop_create_unix_server(loop, args);
    CHECK(*fut);
    aio_server *s = aio_await(*fut);
    CHECK(s);
    return s;
}

static void *main_coro(void *arg)
{
    (void)arg;
    char path[128];
    snprintf(path, sizeof path, "%s/s.sock", tmp);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strncpy(sa.sun_path, path, sizeof sa.sun_path - 1);
    aio_future *f1, *f2, *f3;
    aio_server *server =
        create(&f1, &(aio_loop_create_unix_server_args){.protocol_factory = factory, .path = path});
    printf("sockets: %zu is_serving: %s\n", aio_server_sockets(server)->len,
           py_bool(aio_server_is_serving(server)));
    serve_one(&sa, sizeof sa);
    aio_server_close(server);
    aio_future *w = aio_server_wait_closed(server);
    CHECK(aio_await(w) == NULL && !aio_err_occurred());
    aio_decref(w);
    struct stat st;
    printf("socket file left after close: %s\n", py_bool(stat(path, &st) == 0));

    server =
        create(&f2, &(aio_loop_create_unix_server_args){.protocol_factory = factory, .path = path});
    printf("stale file replaced: is_serving: %s\n", py_bool(aio_server_is_serving(server)));
    serve_one(&sa, sizeof sa);
    aio_server_close(server);
    py_unlink(path, tmp);

    struct sockaddr_un an = {.sun_family = AF_UNIX};
    int n = snprintf(an.sun_path + 1, sizeof an.sun_path - 1, "casyncio-conformance-%s", pid);
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(bind(s, (struct sockaddr *)&an, alen) == 0);
    server = create(&f3, &(aio_loop_create_unix_server_args){.protocol_factory = factory,
                                                             .sock = s});
    struct sockaddr_un got;
    socklen_t glen = sizeof got;
    CHECK(getsockname(aio_server_sockets(server)->fds[0], (struct sockaddr *)&got, &glen) == 0);
    printf("abstract: listening on a name that starts with NUL: %s\n",
           py_bool(got.sun_path[0] == '\0'));
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(connect(c, (struct sockaddr *)&an, alen) == 0);
    section("abstract");
    until_made(nmade + 1);
    close(c);
    await_lost(&protos[nprotos - 1]);
    aio_server_close(server);
    aio_decref(f1);
    aio_decref(f2);
    aio_decref(f3);
    rmdir(tmp);
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    CHECK(mkdtemp(tmp));
    snprintf(pid, sizeof pid, "%d", (int)getpid());
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
