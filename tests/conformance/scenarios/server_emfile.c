/* accept() out of descriptors (EMFILE): the exception handler hears
 * 'socket.accept() out of system resource' with the OSError and the
 * socket, once per remaining accept attempt of that readiness (backlog=3:
 * three times), accepting pauses (the socket stays readable, yet nothing
 * more is reported and no connection is made while the loop runs on), and
 * the pending connection is accepted after ACCEPT_RETRY_DELAY. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conformance.h"

static aio_loop *loop;
static int reports;
static aio_future *made;

static void handler(aio_loop *l, const aio_exception_context *ctx, void *arg)
{
    (void)l;
    (void)arg;
    printf("handler: %s | %s %d | %s\n", ctx->message, aio_exc_type_of(ctx->exception)->name,
           aio_exc_errno(ctx->exception), ctx->socket != 0 ? "socket" : "");
    reports++;
}
AIO_NAME_CALLBACK(handler);

static void connection_made(aio_protocol *self, aio_transport *t)
{
    (void)self;
    printf("connection_made\n");
    CHECK(aio_transport_close(t) == 0);
}
AIO_NAME_CALLBACK(connection_made);

static void connection_lost(aio_protocol *self, aio_exc *exc)
{
    (void)self;
    printf("connection_lost %s\n", exc ? exc_line(exc) : "None");
    CHECK(aio_future_set_result(made, NULL) == 0);
}
AIO_NAME_CALLBACK(connection_lost);

static aio_protocol proto = {.connection_made = connection_made,
                             .connection_lost = connection_lost};

static aio_protocol *factory(void *arg)
{
    (void)arg;
    return &proto;
}
AIO_NAME_CALLBACK(factory);

static void *main_coro(void *arg)
{
    (void)arg;
    aio_future *fut = aio_loop_create_server(loop, &(aio_loop_create_server_args){
                                                       .protocol_factory = factory,
                                                       .host = "127.0.0.1",
                                                       .port = AIO_ZERO,
                                                       .backlog = 3});
    CHECK(fut);
    aio_server *server = aio_await(fut);
    CHECK(server);
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    CHECK(getsockname(aio_server_sockets(server)->fds[0], (struct sockaddr *)&sa, &len) == 0);
    int client = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(connect(client, (struct sockaddr *)&sa, sizeof sa) == 0);
    struct rlimit saved, low;
    CHECK(getrlimit(RLIMIT_NOFILE, &saved) == 0);
    low = saved;
    low.rlim_cur = 256;
    CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
    int filler[256], n = 0;
    for (int fd; n < 256 && (fd = open("/dev/null", O_RDONLY)) >= 0;)
        filler[n++] = fd;
    while (reports == 0)
        CHECK(aio_sleep(0) == 0);
    for (int i = 0; i < n; i++)
        close(filler[i]);
    CHECK(setrlimit(RLIMIT_NOFILE, &saved) == 0);
    for (int i = 0; i < 20; i++)
        CHECK(aio_sleep(0) == 0);
    printf("reports: %d accepted yet: %s\n", reports, py_bool(aio_future_done(made)));
    CHECK(aio_await(made) == NULL && !aio_err_occurred());
    printf("reports after the retry: %d\n", reports);
    close(client);
    aio_server_close(server);
    aio_decref(fut);
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    aio_loop_set_exception_handler(loop, handler, NULL);
    made = aio_loop_create_future(loop);
    aio_task *m = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = main_coro});
    CHECK(m);
    aio_loop_run_until_complete(loop, m);
    CHECK(!aio_err_occurred());
    aio_decref(m);
    aio_decref(made);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
