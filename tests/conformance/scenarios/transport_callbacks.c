/* The socket transport's callbacks, in order and by iteration, over
 * connect_accepted_socket() on one end of a socketpair whose other end the
 * program drives with plain send()/shutdown()/close(): see the Python twin
 * for the cases. */
#include <errno.h>
#include <fcntl.h>
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

static void handler(aio_loop *l, const aio_exception_context *ctx, void *arg)
{
    (void)l;
    (void)arg;
    printf("iteration %d handler: %s | %s %s %s\n", it, ctx->message,
           ctx->exception ? aio_exc_type_of(ctx->exception)->name : "None",
           ctx->protocol ? "| protocol" : "", ctx->transport ? "| transport" : "");
}
AIO_NAME_CALLBACK(handler);

static const char *py_bytes(const void *data, size_t len)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "b'%.*s'", (int)len, (const char *)data);
    return buf;
}

/* --- Recorder(asyncio.Protocol) ------------------------------------------------------- */

typedef struct recorder {
    aio_protocol base;
    const char *name;
    int eof_result; /* -1: None, else a bool */
    bool fail_on_data;
    aio_transport *transport;
    aio_future *lost;
} recorder;

static recorder *R(aio_protocol *self)
{
    return (recorder *)self;
}

static void rec_made(aio_protocol *self, aio_transport *t)
{
    R(self)->transport = t;
    const aio_address *peer = aio_transport_get_peername(t);
    printf("iteration %d %s connection_made %s\n", it, R(self)->name,
           py_bool(peer != NULL && peer->kind == AIO_ADDRESS_UNNAMED));
}
AIO_NAME_CALLBACK(rec_made);

static void rec_data(aio_protocol *self, const void *data, size_t len)
{
    printf("iteration %d %s data_received %s\n", it, R(self)->name, py_bytes(data, len));
    if (R(self)->fail_on_data)
        aio_err_set(aio_ValueError, "bad data");
}
AIO_NAME_CALLBACK(rec_data);

static bool rec_eof(aio_protocol *self)
{
    int r = R(self)->eof_result;
    printf("iteration %d %s eof_received -> %s\n", it, R(self)->name,
           r < 0 ? "None" : py_bool(r));
    return r > 0;
}
AIO_NAME_CALLBACK(rec_eof);

static void rec_pause(aio_protocol *self)
{
    printf("%s pause_writing, above high: %s\n", R(self)->name,
           py_bool(aio_transport_get_write_buffer_size(R(self)->transport) > 16384));
}
AIO_NAME_CALLBACK(rec_pause);

static void rec_resume(aio_protocol *self)
{
    printf("%s resume_writing, at or below low: %s\n", R(self)->name,
           py_bool(aio_transport_get_write_buffer_size(R(self)->transport) <= 1024));
}
AIO_NAME_CALLBACK(rec_resume);

static void rec_lost(aio_protocol *self, aio_exc *exc)
{
    printf("iteration %d %s connection_lost %s\n", it, R(self)->name, exc_line(exc));
    CHECK(aio_future_set_result(R(self)->lost, NULL) == 0);
}
AIO_NAME_CALLBACK(rec_lost);

static void recorder_init(recorder *p, const char *name, int eof_result, bool fail_on_data)
{
    memset(p, 0, sizeof *p);
    p->base.connection_made = rec_made;
    p->base.data_received = rec_data;
    p->base.eof_received = rec_eof;
    p->base.pause_writing = rec_pause;
    p->base.resume_writing = rec_resume;
    p->base.connection_lost = rec_lost;
    p->name = name;
    p->eof_result = eof_result;
    p->fail_on_data = fail_on_data;
    p->lost = aio_loop_create_future(loop);
    CHECK(p->lost);
}

/* --- Buffered(asyncio.BufferedProtocol) ------------------------------------------------- */

typedef struct buffered {
    aio_protocol base;
    const char *name;
    char buf[4];
    char got[64];
    size_t got_len;
    aio_future *lost;
} buffered;

static buffered *B(aio_protocol *self)
{
    return (buffered *)self;
}

static void buf_made(aio_protocol *self, aio_transport *t)
{
    (void)t;
    printf("iteration %d %s connection_made\n", it, B(self)->name);
}
AIO_NAME_CALLBACK(buf_made);

static aio_buffer buf_get(aio_protocol *self, int sizehint)
{
    printf("iteration %d %s get_buffer %d\n", it, B(self)->name, sizehint);
    return (aio_buffer){B(self)->buf, sizeof B(self)->buf};
}
AIO_NAME_CALLBACK(buf_get);

static void buf_updated(aio_protocol *self, int nbytes)
{
    buffered *p = B(self);
    memcpy(p->got + p->got_len, p->buf, (size_t)nbytes);
    p->got_len += (size_t)nbytes;
    printf("iteration %d %s buffer_updated %d %s\n", it, p->name, nbytes,
           py_bytes(p->buf, (size_t)nbytes));
}
AIO_NAME_CALLBACK(buf_updated);

static bool buf_eof(aio_protocol *self)
{
    printf("iteration %d %s eof_received, got %s\n", it, B(self)->name,
           py_bytes(B(self)->got, B(self)->got_len));
    return false;
}
AIO_NAME_CALLBACK(buf_eof);

static void buf_lost(aio_protocol *self, aio_exc *exc)
{
    printf("iteration %d %s connection_lost %s\n", it, B(self)->name, exc_line(exc));
    CHECK(aio_future_set_result(B(self)->lost, NULL) == 0);
}
AIO_NAME_CALLBACK(buf_lost);

/* --- The scenario ---------------------------------------------------------------------- */

static aio_protocol *give(void *arg)
{
    return arg;
}
AIO_NAME_CALLBACK(give);

/* a, peer = socket.socketpair(); peer.setblocking(False) */
static void make_pair(int *a, int *peer)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    *a = sv[0];
    *peer = sv[1];
    fcntl(*peer, F_SETFL, fcntl(*peer, F_GETFL) | O_NONBLOCK);
}

static aio_transport *accept_(aio_protocol *proto, int sock)
{
    int start = it;
    aio_future *fut = aio_loop_connect_accepted_socket(
        loop, &(aio_loop_connect_accepted_socket_args){
                  .protocol_factory = give, .protocol_factory_arg = proto, .sock = sock});
    CHECK(fut);
    aio_transport_protocol *pair = aio_await(fut);
    CHECK(pair);
    printf("iteration %d result after %d iterations, same protocol: %s\n", it, it - start,
           py_bool(pair->protocol == proto));
    aio_transport *t = aio_incref(pair->transport);
    aio_decref(fut);
    return t;
}

static void wait_lost(aio_future *lost)
{
    CHECK(aio_await(lost) == NULL && !aio_err_occurred());
    aio_decref(lost);
}

static void sleep0(int n)
{
    for (int i = 0; i < n; i++)
        CHECK(aio_sleep(0) == 0);
}

static void *main_coro(void *arg)
{
    (void)arg;
    int a, peer;
    recorder p;
    aio_transport *t;
    char buf[1 << 16];

    section("eof_received returns None");
    make_pair(&a, &peer);
    recorder_init(&p, "p1", -1, false);
    t = accept_(&p.base, a);
    CHECK(send(peer, "hello", 5, 0) == 5);
    shutdown(peer, SHUT_WR);
    wait_lost(p.lost);
    printf("is_closing: %s\n", py_bool(aio_transport_is_closing(t)));
    aio_decref(t);
    close(peer);

    section("eof_received returns True");
    make_pair(&a, &peer);
    recorder_init(&p, "p2", 1, false);
    t = accept_(&p.base, a);
    shutdown(peer, SHUT_WR);
    sleep0(3);
    printf("is_closing after eof: %s can_write_eof: %s\n", py_bool(aio_transport_is_closing(t)),
           py_bool(aio_transport_can_write_eof(t)));
    CHECK(aio_transport_write(t, "reply", 5) == 0);
    CHECK(aio_transport_write_eof(t) == 0);
    sleep0(2);
    ssize_t n1 = recv(peer, buf, 100, 0);
    ssize_t n2 = recv(peer, buf + 5, 100, 0);
    CHECK(n1 == 5 && n2 == 0);
    printf("peer got: %s b''\n", py_bytes(buf, (size_t)n1));
    CHECK(aio_transport_close(t) == 0);
    wait_lost(p.lost);
    aio_decref(t);
    close(peer);

    section("flow control");
    make_pair(&a, &peer);
    int sndbuf = 4096;
    setsockopt(a, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    recorder_init(&p, "p3", -1, false);
    t = accept_(&p.base, a);
    CHECK(aio_transport_set_write_buffer_limits(
              t, &(aio_transport_set_write_buffer_limits_args){.high = 16384, .low = 1024}) ==
          0);
    aio_write_buffer_limits limits = aio_transport_get_write_buffer_limits(t);
    printf("limits: (%lld, %lld)\n", (long long)limits.low, (long long)limits.high);
    static char chunk[8192];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 64; i++) {
        CHECK(aio_transport_write(t, chunk, sizeof chunk) == 0);
        if (aio_transport_get_write_buffer_size(t) > 16384)
            break;
    }
    long total = 0;
    for (;;) {
        CHECK(aio_sleep(0) == 0);
        ssize_t n = recv(peer, buf, sizeof buf, 0);
        if (n < 0)
            n = 0;
        total += n;
        if (aio_transport_get_write_buffer_size(t) == 0 && n == 0)
            break;
    }
    printf("peer drained everything: %s\n", py_bool(total % 8192 == 0 && total > 16384));
    section("close after the drain");
    CHECK(aio_transport_close(t) == 0);
    wait_lost(p.lost);
    aio_decref(t);
    close(peer);

    section("BufferedProtocol");
    make_pair(&a, &peer);
    buffered bp = {.base = {.connection_made = buf_made,
                            .get_buffer = buf_get,
                            .buffer_updated = buf_updated,
                            .eof_received = buf_eof,
                            .connection_lost = buf_lost},
                   .name = "p4"};
    bp.lost = aio_loop_create_future(loop);
    CHECK(bp.lost);
    aio_decref(accept_(&bp.base, a));
    CHECK(send(peer, "0123456789", 10, 0) == 10);
    shutdown(peer, SHUT_WR);
    wait_lost(bp.lost);
    close(peer);

    section("peer resets");
    make_pair(&a, &peer);
    recorder_init(&p, "p5", -1, false);
    t = accept_(&p.base, a);
    CHECK(aio_transport_write(t, "unread", 6) == 0);
    struct linger lg = {1, 0};
    setsockopt(peer, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(peer);
    for (int i = 0; i < 3; i++) {
        CHECK(aio_transport_write(t, "more", 4) == 0);
        CHECK(aio_sleep(0) == 0);
    }
    wait_lost(p.lost);
    aio_decref(t);

    section("data_received raises");
    make_pair(&a, &peer);
    recorder_init(&p, "p6", -1, true);
    aio_decref(accept_(&p.base, a));
    CHECK(send(peer, "boom", 4, 0) == 4);
    wait_lost(p.lost);
    close(peer);
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    aio_loop_set_exception_handler(loop, handler, NULL);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    aio_task *m = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = main_coro});
    CHECK(m);
    aio_loop_run_until_complete(loop, m);
    CHECK(!aio_err_occurred());
    aio_decref(m);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
