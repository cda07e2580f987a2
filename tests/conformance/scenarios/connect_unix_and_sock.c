/* create_unix_connection() to a listening Unix socket in a temporary
 * directory, and create_connection(sock=) and create_unix_connection(sock=)
 * with sockets connected already: the iterations of connection_made(), the
 * awaiting task's wakeup and connection_lost() after close(), counted by a
 * ticker; then a Unix path nobody listens on (the socket file exists):
 * ConnectionRefusedError from connect() itself. */
#include <arpa/inet.h>
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

typedef struct recorder {
    aio_protocol base;
    const char *name;
    aio_future *lost;
} recorder;

static void made(aio_protocol *self, aio_transport *t)
{
    (void)t;
    printf("iteration %d %s connection_made\n", it, ((recorder *)self)->name);
}

static void lost(aio_protocol *self, aio_exc *exc)
{
    recorder *r = (recorder *)self;
    printf("iteration %d %s connection_lost %s\n", it, r->name, exc ? aio_exc_str(exc) : "None");
    CHECK(aio_future_set_result(r->lost, NULL) == 0);
}

static aio_protocol *give(void *arg)
{
    return arg;
}

static aio_protocol plain;

static aio_protocol *make_plain(void *arg)
{
    (void)arg;
    return &plain;
}

/* run(): what make() starts, to its end. */
static void run(const char *name, const char *path, int unix_sock, int tcp_sock)
{
    aio_loop *loop = aio_get_running_loop();
    recorder r = {.base = {.connection_made = made, .connection_lost = lost}, .name = name};
    r.lost = aio_loop_create_future(loop);
    CHECK(r.lost);
    printf("iteration %d %s start\n", it, name);
    aio_future *fut;
    if (tcp_sock >= 0)
        fut = aio_loop_create_connection(loop, &(aio_loop_create_connection_args){
                                                   .protocol_factory = give,
                                                   .protocol_factory_arg = &r,
                                                   .sock = tcp_sock});
    else
        fut = aio_loop_create_unix_connection(loop, &(aio_loop_create_unix_connection_args){
                                                        .protocol_factory = give,
                                                        .protocol_factory_arg = &r,
                                                        .path = path,
                                                        .sock = unix_sock});
    CHECK(fut);
    const aio_transport_protocol *pair = aio_await(fut);
    CHECK(pair);
    printf("iteration %d %s connected\n", it, name);
    aio_transport_close(pair->transport);
    CHECK(aio_await(r.lost) == NULL && !aio_err_occurred());
    printf("iteration %d %s done\n", it, name);
    aio_decref(fut);
    aio_decref(r.lost);
}

static void *main_coro(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    CHECK(aio_sleep(0) == 0);
    char dir[] = "/tmp/casyncio-unix-XXXXXX";
    CHECK(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/s", dir);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    int server = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(bind(server, (struct sockaddr *)&sun, sizeof sun) == 0);
    CHECK(listen(server, 5) == 0);
    run("unix path", path, 0, -1);
    close(accept(server, NULL, NULL));

    int a = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(connect(a, (struct sockaddr *)&sun, sizeof sun) == 0);
    run("unix sock", NULL, a, -1);
    close(accept(server, NULL, NULL));

    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(listener, (struct sockaddr *)&sin, sizeof sin) == 0);
    CHECK(listen(listener, 5) == 0);
    socklen_t len = sizeof sin;
    getsockname(listener, (struct sockaddr *)&sin, &len);
    int b = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(connect(b, (struct sockaddr *)&sin, sizeof sin) == 0);
    run("tcp sock", NULL, 0, b);
    close(accept(listener, NULL, NULL));
    close(listener);

    close(server);
    printf("iteration %d refused path\n", it);
    aio_future *fut = aio_loop_create_unix_connection(
        loop,
        &(aio_loop_create_unix_connection_args){.protocol_factory = make_plain, .path = path});
    if (fut == NULL || aio_await(fut) == NULL) {
        aio_exc *e = aio_err_fetch();
        CHECK(e);
        printf("iteration %d %s %s\n", it, aio_exc_type_of(e)->name, aio_exc_str(e));
        aio_decref(e);
    }
    aio_decref(fut);
    unlink(path);
    rmdir(dir);
    return NULL;
}

int main(void)
{
    aio_run(main_coro, NULL, NULL);
    CHECK(!aio_err_occurred());
    return 0;
}
