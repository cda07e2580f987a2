/* sock_methods.c - the C twin of sock_methods.py: loop.sock_recv(),
 * sock_recv_into(), sock_sendall() and sock_accept() on non-blocking
 * sockets, their waits, cancellation and errors. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conformance.h"

static aio_loop *loop;

/* await fut, printing "what: Type: message" when it fails; the result. */
static void *await_or_print(aio_future *fut, const char *what, bool *failed)
{
    *failed = false;
    if (fut == NULL) {
        print_raised(what);
        *failed = true;
        return NULL;
    }
    void *result = aio_await(fut);
    if (result == NULL && aio_err_occurred() != NULL) {
        print_raised(what);
        *failed = true;
    }
    return result;
}

static void print_bytes(const char *what, aio_future *fut)
{
    bool failed;
    aio_bytes *b = await_or_print(fut, what, &failed);
    if (!failed) {
        char *repr = aio_repr(b);
        printf("%s: %s\n", what, repr);
        free(repr);
    }
    aio_decref(fut);
}

static void nonblocking(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static aio_protocol plain_protocol;

static aio_protocol *give_plain(void *arg)
{
    (void)arg;
    return &plain_protocol;
}
AIO_NAME_CALLBACK(give_plain);

static void *main_coro(void *arg)
{
    (void)arg;
    bool failed;
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    int a = sv[0], b = sv[1];
    nonblocking(a);
    nonblocking(b);

    CHECK(send(b, "hello", 5, 0) == 5);
    print_bytes("recv", aio_loop_sock_recv(loop, a, 100));
    print_bytes("recv 0", aio_loop_sock_recv(loop, a, 0));
    aio_future *fut = aio_loop_sock_recv(loop, a, 3);
    CHECK(aio_sleep(0) == 0);
    printf("recv waits: %s\n", py_bool(aio_future_done(fut)));
    CHECK(send(b, "later", 5, 0) == 5);
    print_bytes("recv waited", fut);
    print_bytes("recv rest", aio_loop_sock_recv(loop, a, 100));

    char buf[4];
    CHECK(send(b, "abcdef", 6, 0) == 6);
    for (int i = 0; i < 2; i++) {
        fut = aio_loop_sock_recv_into(loop, a, buf, sizeof buf);
        void *r = await_or_print(fut, "recv_into", &failed);
        int64_t n = AIO_RESULT_INT(r);
        printf("recv_into: %lld b'%.*s'\n", (long long)n, (int)n, buf);
        aio_decref(fut);
    }
    fut = aio_loop_sock_recv_into(loop, a, buf, 0);
    printf("recv_into empty: %lld\n",
           (long long)AIO_RESULT_INT(await_or_print(fut, "recv_into", &failed)));
    aio_decref(fut);

    fut = aio_loop_sock_sendall(loop, a, "xxxxxxxxxx", 10);
    await_or_print(fut, "sendall", &failed);
    aio_decref(fut);
    char got10[100];
    ssize_t n10 = recv(b, got10, sizeof got10, 0);
    printf("sendall: None b'%.*s'\n", (int)n10, got10);
    fut = aio_loop_sock_sendall(loop, a, "", 0);
    await_or_print(fut, "sendall", &failed);
    printf("sendall empty: None\n");
    aio_decref(fut);
    size_t size = 256 * 8192;
    unsigned char *big = malloc(size), *got = malloc(size);
    for (size_t i = 0; i < size; i++)
        big[i] = (unsigned char)i;
    fut = aio_loop_sock_sendall(loop, a, big, size);
    CHECK(aio_sleep(0) == 0);
    printf("sendall waits: %s\n", py_bool(aio_future_done(fut)));
    size_t have = 0;
    while (have < size) {
        CHECK(aio_sleep(0) == 0);
        ssize_t n = recv(b, got + have, size - have < (1 << 20) ? size - have : (1 << 20), 0);
        if (n > 0)
            have += (size_t)n;
    }
    await_or_print(fut, "sendall", &failed);
    printf("sendall waited: None %s\n", py_bool(memcmp(got, big, size) == 0));
    aio_decref(fut);
    free(big);
    free(got);

    fut = aio_loop_sock_recv(loop, a, 10);
    CHECK(aio_sleep(0) == 0);
    aio_future_cancel(fut, NULL);
    CHECK(aio_sleep(0) == 0);
    printf("cancelled: %s reader left: %s\n", py_bool(aio_future_cancelled(fut)),
           py_bool(aio_loop_remove_reader(loop, a)));
    aio_decref(fut);

    CHECK(aio_loop_sock_recv(loop, a, -1) == NULL);
    print_raised("recv -1");
    fut = aio_loop_sock_accept(loop, a);
    await_or_print(fut, "accept on a connected socket", &failed);
    aio_decref(fut);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    close(c);
    fut = aio_loop_sock_recv(loop, c, 10);
    await_or_print(fut, "recv on a closed descriptor", &failed);
    aio_decref(fut);

    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    CHECK(bind(listener, (struct sockaddr *)&sin, sizeof sin) == 0);
    CHECK(listen(listener, 128) == 0);
    CHECK(getsockname(listener, (struct sockaddr *)&sin, &len) == 0);
    nonblocking(listener);
    fut = aio_loop_sock_accept(loop, listener);
    CHECK(aio_sleep(0) == 0);
    printf("accept waits: %s\n", py_bool(aio_future_done(fut)));
    int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(connect(client, (struct sockaddr *)&sin, len) == 0);
    const aio_socket_address *pair = await_or_print(fut, "accept", &failed);
    int conn = pair->conn;
    printf("accepted: %s %s int\n", py_bool(!(fcntl(conn, F_GETFL) & O_NONBLOCK)),
           pair->address.host);
    aio_decref(fut);
    CHECK(send(client, "over tcp", 8, 0) == 8);
    print_bytes("recv conn", aio_loop_sock_recv(loop, conn, 100));
    close(conn);
    close(client);
    fut = aio_loop_sock_accept(loop, listener);
    CHECK(aio_sleep(0) == 0);
    aio_future_cancel(fut, NULL);
    CHECK(aio_sleep(0) == 0);
    printf("accept cancelled: %s reader left: %s\n", py_bool(aio_future_cancelled(fut)),
           py_bool(aio_loop_remove_reader(loop, listener)));
    aio_decref(fut);
    close(listener);

    int tv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, tv) == 0);
    {
        fut = aio_loop_connect_accepted_socket(
            loop, &(aio_loop_connect_accepted_socket_args){.protocol_factory = give_plain,
                                                           .sock = tv[0]});
        aio_transport_protocol *tp = await_or_print(fut, "connect", &failed);
        aio_future *r = aio_loop_sock_recv(loop, tv[0], 10);
        CHECK(r == NULL);
        aio_exc *e = aio_err_fetch();
        printf("transport's descriptor: %s %s %s\n", aio_exc_type_of(e)->name,
               py_bool(strncmp(aio_exc_str(e), "File descriptor ", 16) == 0),
               py_bool(strstr(aio_exc_str(e), "is used by transport") != NULL));
        aio_decref(e);
        aio_transport_close(tp->transport);
        aio_decref(fut);
        CHECK(aio_sleep(0) == 0);
        close(tv[1]);
    }

    int bl[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, bl) == 0);
    aio_loop_set_debug(loop, true);
    char one[1];
    CHECK(aio_loop_sock_recv(loop, bl[0], 1) == NULL);
    print_raised("debug sock_recv");
    CHECK(aio_loop_sock_recv_into(loop, bl[0], one, 1) == NULL);
    print_raised("debug sock_recv_into");
    CHECK(aio_loop_sock_sendall(loop, bl[0], "x", 1) == NULL);
    print_raised("debug sock_sendall");
    CHECK(aio_loop_sock_accept(loop, bl[0]) == NULL);
    print_raised("debug sock_accept");
    CHECK(aio_loop_sock_sendfile(loop, &(aio_loop_sock_sendfile_args){.sock = bl[0],
                                                                      .file = bl[1]}) == NULL);
    print_raised("debug sock_sendfile");
    aio_loop_set_debug(loop, false);
    close(bl[0]);
    close(bl[1]);
    close(a);
    close(b);
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = main_coro});
    CHECK(t);
    aio_loop_run_until_complete(loop, t);
    CHECK(aio_err_occurred() == NULL);
    aio_decref(t);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
