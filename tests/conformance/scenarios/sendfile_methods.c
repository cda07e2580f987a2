/* sendfile_methods.c - the C twin of sendfile_methods.py: loop.sock_sendfile()
 * and loop.sendfile(), native and fallback, with the file a descriptor. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conformance.h"

static aio_loop *loop;

/* await fut: its result, or NULL after printing "what: Type: message". */
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

/* Awaits a sendfile future: its int result, or -1 after printing. */
static int64_t await_int(aio_future *fut, const char *what)
{
    bool failed;
    void *r = await_or_print(fut, what, &failed);
    aio_decref(fut);
    return failed ? -1 : AIO_RESULT_INT(r);
}

static unsigned char pattern(size_t i)
{
    return (unsigned char)(i * 131 + (i >> 11));
}

static int64_t tell(int fd)
{
    return (int64_t)lseek(fd, 0, SEEK_CUR);
}

/* Reads n bytes from the peer, one try per iteration. malloc()ed. */
static unsigned char *read_all(int fd, size_t n)
{
    unsigned char *got = malloc(n + 1);
    size_t have = 0;
    while (have < n) {
        CHECK(aio_sleep(0) == 0);
        ssize_t r = recv(fd, got + have, n - have, 0);
        if (r > 0)
            have += (size_t)r;
    }
    return got;
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
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    int a = sv[0], b = sv[1];
    size_t size = 3u << 20;
    unsigned char *data = malloc(size);
    for (size_t i = 0; i < size; i++)
        data[i] = pattern(i);
    char path[] = "/tmp/casyncio-sendfile-XXXXXX";
    int f = mkstemp(path);
    CHECK(f >= 0);
    unlink(path);
    CHECK(write(f, data, size) == (ssize_t)size);
    lseek(f, 0, SEEK_SET);

    aio_future *fut = aio_loop_sock_sendfile(loop, &(aio_loop_sock_sendfile_args){.sock = a,
                                                                                  .file = f});
    unsigned char *got = read_all(b, size);
    int64_t sent = await_int(fut, "sock_sendfile");
    printf("sock_sendfile: %lld %s %lld\n", (long long)sent,
           py_bool(memcmp(got, data, size) == 0), (long long)tell(f));
    free(got);
    fut = aio_loop_sock_sendfile(loop, &(aio_loop_sock_sendfile_args){
                                           .sock = a, .file = f, .offset = 1000, .count = 5000});
    got = read_all(b, 5000);
    sent = await_int(fut, "offset, count");
    printf("offset, count: %lld %s %lld\n", (long long)sent,
           py_bool(memcmp(got, data + 1000, 5000) == 0), (long long)tell(f));
    free(got);
    sent = await_int(aio_loop_sock_sendfile(loop, &(aio_loop_sock_sendfile_args){
                                                      .sock = a, .file = f,
                                                      .offset = (int64_t)size - 10, .count = 100}),
                     "past the end");
    printf("past the end: %lld %lld\n", (long long)sent, (long long)tell(f));
    free(read_all(b, 10));
    char epath[] = "/tmp/casyncio-sendfile-XXXXXX";
    int empty = mkstemp(epath);
    unlink(epath);
    sent = await_int(aio_loop_sock_sendfile(
                         loop, &(aio_loop_sock_sendfile_args){.sock = a, .file = empty}),
                     "empty file");
    printf("empty file: %lld %lld\n", (long long)sent, (long long)tell(empty));

    await_int(aio_loop_sock_sendfile(loop, &(aio_loop_sock_sendfile_args){
                                               .sock = a, .file = f, .count = AIO_ZERO}),
              "sock_sendfile count=0");
    await_int(aio_loop_sock_sendfile(loop, &(aio_loop_sock_sendfile_args){
                                               .sock = a, .file = f, .count = -1}),
              "sock_sendfile count=-1");
    await_int(aio_loop_sock_sendfile(loop, &(aio_loop_sock_sendfile_args){
                                               .sock = a, .file = f, .offset = -1}),
              "sock_sendfile offset=-1");
    int udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    await_int(aio_loop_sock_sendfile(loop, &(aio_loop_sock_sendfile_args){.sock = udp,
                                                                            .file = f}),
              "sock_sendfile on a datagram socket");
    close(udp);

    int proc = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    char cmdline[4096];
    ssize_t clen = read(proc, cmdline, sizeof cmdline);
    CHECK(clen > 0);
    lseek(proc, 0, SEEK_SET);
    await_int(aio_loop_sock_sendfile(loop, &(aio_loop_sock_sendfile_args){
                                               .sock = a, .file = proc, .count = clen,
                                               .fallback = AIO_FALSE}),
              "no fallback");
    fut = aio_loop_sock_sendfile(loop, &(aio_loop_sock_sendfile_args){.sock = a, .file = proc,
                                                                      .count = clen});
    got = read_all(b, (size_t)clen);
    sent = await_int(fut, "fallback");
    printf("fallback: %s %s %s\n", py_bool(sent == clen),
           py_bool(memcmp(got, cmdline, (size_t)clen) == 0), py_bool(tell(proc) == clen));
    free(got);

    int tv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, tv) == 0);
    fcntl(tv[1], F_SETFL, fcntl(tv[1], F_GETFL) | O_NONBLOCK);
    fut = aio_loop_connect_accepted_socket(
        loop, &(aio_loop_connect_accepted_socket_args){.protocol_factory = give_plain,
                                                       .sock = tv[0]});
    bool failed;
    aio_transport_protocol *tp = await_or_print(fut, "connect", &failed);
    aio_transport *t = aio_incref(tp->transport);
    aio_decref(fut);
    size_t before = 2u << 20;
    unsigned char *head = malloc(before);
    memset(head, 'H', before);
    CHECK(aio_transport_write(t, head, before) == 0);
    printf("buffered before: %s\n", py_bool(aio_transport_get_write_buffer_size(t) > 0));
    lseek(f, 0, SEEK_SET);
    fut = aio_loop_sendfile(loop, &(aio_loop_sendfile_args){.transport = t, .file = f});
    CHECK(fut);
    CHECK(aio_sleep(0) == 0);
    CHECK(aio_transport_write(t, "x", 1) < 0);
    print_raised("write during sendfile");
    printf("reading during sendfile: %s\n", py_bool(aio_transport_is_reading(t)));
    got = read_all(tv[1], before + size);
    sent = await_int(fut, "sendfile");
    printf("sendfile: %lld %s %lld\n", (long long)sent,
           py_bool(memcmp(got, head, before) == 0 && memcmp(got + before, data, size) == 0),
           (long long)tell(f));
    free(got);
    printf("reading after: %s\n", py_bool(aio_transport_is_reading(t)));
    CHECK(aio_transport_write(t, "after", 5) == 0);
    got = read_all(tv[1], 5);
    printf("write after: b'%.5s'\n", got);
    free(got);
    lseek(proc, 0, SEEK_SET);
    await_int(aio_loop_sendfile(loop, &(aio_loop_sendfile_args){.transport = t, .file = proc,
                                                                  .count = clen,
                                                                  .fallback = AIO_FALSE}),
              "sendfile without fallback");
    fut = aio_loop_sendfile(loop, &(aio_loop_sendfile_args){.transport = t, .file = proc,
                                                              .count = clen});
    got = read_all(tv[1], (size_t)clen);
    sent = await_int(fut, "sendfile fallback");
    printf("sendfile fallback: %s %s %s %s %s\n", py_bool(sent == clen),
           py_bool(memcmp(got, cmdline, (size_t)clen) == 0), py_bool(tell(proc) == clen),
           py_bool(aio_transport_get_protocol(t) == &plain_protocol),
           py_bool(aio_transport_is_reading(t)));
    free(got);
    await_int(aio_loop_sendfile(loop, &(aio_loop_sendfile_args){.transport = t, .file = f,
                                                                  .offset = -1}),
              "sendfile offset=-1");
    aio_transport_close(t);
    await_int(aio_loop_sendfile(loop, &(aio_loop_sendfile_args){.transport = t, .file = f}),
              "sendfile on a closing transport");
    CHECK(aio_sleep(0) == 0);
    aio_decref(t);
    close(tv[1]);
    close(proc);
    close(f);
    close(empty);
    close(a);
    close(b);
    free(head);
    free(data);
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
