/* stream_socketpair.c - the C twin of stream_socketpair.py: streams over
 * both ends of a socketpair (see the Python script for what it covers). */
#include <ctype.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conformance.h"

static void raised(const char *what)
{
    aio_exc *e = aio_err_fetch();
    CHECK(e != NULL);
    printf("%s %s\n", what, exc_line(e));
    aio_decref(e);
}

static void show_bytes(const char *what, aio_bytes *b)
{
    CHECK(b != NULL);
    char *repr = aio_repr(b);
    printf("%s %s\n", what, repr);
    free(repr);
    aio_decref(b);
}

static void handler(aio_loop *loop, const aio_exception_context *c, void *arg)
{
    (void)loop, (void)arg;
    printf("handler: %s | %s | %s\n", c->message,
           c->exception ? aio_exc_type_of(c->exception)->name : "NoneType",
           c->transport ? "transport" : "");
}
AIO_NAME_CALLBACK(handler);

static aio_protocol *give_protocol(void *arg)
{
    return arg;
}
AIO_NAME_CALLBACK(give_protocol);

typedef struct stream {
    aio_stream_reader *r;
    aio_stream_writer *w;
} stream;

/* What open_connection() does, over a connected socket. */
static stream open_stream(int sock, aio_client_connected_cb cb, void *cb_arg)
{
    aio_loop *loop = aio_get_running_loop();
    stream s;
    s.r = aio_stream_reader_new(&(aio_stream_reader_args){.loop = loop});
    CHECK(s.r != NULL);
    aio_protocol *p = aio_stream_reader_protocol_new(&(aio_stream_reader_protocol_args){
        .stream_reader = s.r, .client_connected_cb = cb, .client_connected_cb_arg = cb_arg,
        .loop = loop});
    CHECK(p != NULL);
    aio_future *fut = aio_loop_connect_accepted_socket(
        loop, &(aio_loop_connect_accepted_socket_args){
                  .protocol_factory = give_protocol, .protocol_factory_arg = p, .sock = sock});
    CHECK(fut != NULL);
    const aio_transport_protocol *tp = aio_await(fut);
    CHECK(tp != NULL);
    s.w = aio_stream_writer_new(tp->transport, p, s.r, loop);
    CHECK(s.w != NULL);
    aio_decref(fut);
    return s;
}

static void pair(stream *s1, stream *s2)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    *s1 = open_stream(sv[0], NULL, NULL);
    *s2 = open_stream(sv[1], NULL, NULL);
}

static void drop(stream *s)
{
    aio_decref(s->w);
    aio_decref(s->r);
}

static void write_str(aio_stream_writer *w, const char *s)
{
    CHECK(aio_stream_writer_write(w, s, strlen(s)) == 0);
}

/* client_connected_cb: upper-cases lines back until EOF. */
static void *echo(aio_stream_reader *reader, aio_stream_writer *writer, void *arg)
{
    aio_future *done = arg;
    for (;;) {
        aio_bytes *line = aio_stream_reader_readline(reader);
        if (line == NULL)
            return NULL;
        size_t n = aio_bytes_size(line);
        if (n == 0) {
            aio_decref(line);
            break;
        }
        char buf[64];
        for (size_t i = 0; i < n && i < sizeof buf; i++)
            buf[i] = (char)toupper(((const unsigned char *)aio_bytes_data(line))[i]);
        aio_decref(line);
        if (aio_stream_writer_write(writer, buf, n) < 0 || aio_stream_writer_drain(writer) < 0)
            return NULL;
    }
    aio_stream_writer_close(writer);
    if (aio_stream_writer_wait_closed(writer) < 0)
        return NULL;
    aio_future_set_result(done, "echo done");
    return NULL;
}
AIO_NAME_CALLBACK(echo);

/* A task awaiting writer.drain(). */
static void *drainer(void *arg)
{
    return aio_stream_writer_drain(arg) < 0 ? NULL : arg;
}
AIO_NAME_CALLBACK(drainer);

static void *failing(aio_stream_reader *reader, aio_stream_writer *writer, void *arg)
{
    (void)writer, (void)arg;
    aio_bytes *line = aio_stream_reader_readline(reader);
    if (line == NULL)
        return NULL;
    aio_decref(line);
    aio_err_set(aio_RuntimeError, "boom");
    return NULL;
}
AIO_NAME_CALLBACK(failing);

static void *main_coro(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    aio_loop_set_exception_handler(loop, handler, NULL);

    stream s1, s2;
    pair(&s1, &s2);
    printf("can_write_eof %s is_closing %s\n", py_bool(aio_stream_writer_can_write_eof(s1.w)),
           py_bool(aio_stream_writer_is_closing(s1.w)));
    const char *dflt = "dflt";
    printf("socket %s nothing %s\n",
           py_bool(aio_stream_writer_get_extra_info(
                       s1.w, &(aio_stream_writer_get_extra_info_args){.name = "socket"}) != NULL),
           (const char *)aio_stream_writer_get_extra_info(
               s1.w, &(aio_stream_writer_get_extra_info_args){.name = "nothing",
                                                              .default_ = (void *)dflt}));
    char *repr = aio_repr(aio_stream_writer_transport(s1.w));
    printf("transport %.*s\n", (int)strcspn(repr + 1, " >"), repr + 1);
    free(repr);
    write_str(s1.w, "line one\n");
    aio_bytes_view lines[] = {{"line ", 5}, {"two\n", 4}, {"tail", 4}};
    CHECK(aio_stream_writer_writelines(s1.w, lines, 3) == 0);
    CHECK(aio_stream_writer_drain(s1.w) == 0);
    show_bytes("readline", aio_stream_reader_readline(s2.r));
    show_bytes("readline", aio_stream_reader_readline(s2.r));
    show_bytes("readexactly", aio_stream_reader_readexactly(s2.r, 4));
    CHECK(aio_stream_writer_write_eof(s1.w) == 0);
    show_bytes("read at eof", aio_stream_reader_read(s2.r, -1));
    printf("at_eof %s w1 closing %s\n", py_bool(aio_stream_reader_at_eof(s2.r)),
           py_bool(aio_stream_writer_is_closing(s1.w)));
    write_str(s2.w, "still open\n");
    CHECK(aio_stream_writer_drain(s2.w) == 0);
    show_bytes("back", aio_stream_reader_readline(s1.r));
    aio_stream_writer_close(s2.w);
    CHECK(aio_stream_writer_wait_closed(s2.w) == 0);
    printf("w2 closed %s ", py_bool(aio_stream_writer_is_closing(s2.w)));
    show_bytes("r1 read", aio_stream_reader_read(s1.r, -1));
    aio_stream_writer_close(s1.w);
    CHECK(aio_stream_writer_wait_closed(s1.w) == 0);
    drop(&s1);
    drop(&s2);

    /* Flow control: the peer does not read, then reads. */
    pair(&s1, &s2);
    aio_transport *t1 = aio_stream_writer_transport(s1.w);
    CHECK(aio_transport_set_write_buffer_limits(
              t1, &(aio_transport_set_write_buffer_limits_args){.high = 4096}) == 0);
    static unsigned char chunk[65536];
    for (size_t i = 0; i < sizeof chunk; i++)
        chunk[i] = (unsigned char)i;
    int64_t total = 0;
    while (aio_transport_get_write_buffer_size(t1) <= 1 << 20) {
        CHECK(aio_stream_writer_write(s1.w, chunk, sizeof chunk) == 0);
        total += (int64_t)sizeof chunk;
    }
    printf("buffered %s\n", py_bool(aio_transport_get_write_buffer_size(t1) > 1 << 20));
    aio_task *drained = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = drainer,
                                           .coro_arg = s1.w});
    CHECK(drained != NULL);
    CHECK(aio_sleep(0.01) == 0);
    printf("drain waits %s\n", py_bool(!aio_future_done(drained)));
    int64_t got = 0;
    while (!aio_future_done(drained) || got < total) {
        aio_bytes *data = aio_stream_reader_read(s2.r, 65536);
        CHECK(data != NULL);
        got += (int64_t)aio_bytes_size(data);
        aio_decref(data);
        if (got >= total)
            break;
    }
    aio_await(drained);
    CHECK(aio_err_occurred() == NULL);
    aio_decref(drained);
    printf("drained, peer got all %s\n", py_bool(got == total));

    /* close() then drain(): one pass of the loop, then the lost connection. */
    aio_stream_writer_close(s1.w);
    CHECK(aio_stream_writer_drain(s1.w) < 0);
    raised("drain after close");
    CHECK(aio_stream_writer_wait_closed(s1.w) == 0);
    aio_bytes *rest = aio_stream_reader_read(s2.r, -1);
    CHECK(rest != NULL);
    repr = aio_repr(rest);
    printf("peer reads %s %s\n", repr, py_bool(aio_stream_reader_at_eof(s2.r)));
    free(repr);
    aio_decref(rest);
    /* Writing to a peer that went away. */
    write_str(s2.w, "x");
    CHECK(aio_stream_writer_drain(s2.w) < 0);
    raised("drain to a closed peer");
    if (aio_stream_writer_wait_closed(s2.w) == 0)
        printf("wait_closed ok\n");
    else
        raised("wait_closed");
    drop(&s1);
    drop(&s2);

    /* A reset: unread data at the peer (not reading) when it aborts. */
    pair(&s1, &s2);
    CHECK(aio_transport_pause_reading(aio_stream_writer_transport(s2.w)) == 0);
    write_str(s1.w, "unread");
    CHECK(aio_stream_writer_drain(s1.w) == 0);
    CHECK(aio_sleep(0.01) == 0);
    CHECK(aio_transport_abort(aio_stream_writer_transport(s2.w)) == 0);
    CHECK(aio_stream_writer_wait_closed(s2.w) == 0);
    CHECK(aio_stream_reader_read(s1.r, 1) == NULL);
    raised("read");
    CHECK(aio_stream_writer_drain(s1.w) < 0);
    raised("drain");
    CHECK(aio_stream_writer_wait_closed(s1.w) < 0);
    raised("wait_closed");
    printf("w1 closing %s\n", py_bool(aio_stream_writer_is_closing(s1.w)));
    drop(&s1);
    drop(&s2);

    /* A server-side protocol: client_connected_cb runs as a task. */
    aio_future *done = aio_loop_create_future(loop);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    stream server_side = open_stream(sv[0], echo, done);
    stream client = open_stream(sv[1], NULL, NULL);
    const char *words[] = {"alpha\n", "beta\n"};
    for (int i = 0; i < 2; i++) {
        write_str(client.w, words[i]);
        show_bytes("echo", aio_stream_reader_readline(client.r));
    }
    CHECK(aio_stream_writer_write_eof(client.w) == 0);
    printf("%s\n", (const char *)aio_await(done));
    aio_decref(done);
    show_bytes("client reads", aio_stream_reader_read(client.r, -1));
    aio_stream_writer_close(client.w);
    CHECK(aio_stream_writer_wait_closed(client.w) == 0);
    drop(&server_side);
    drop(&client);

    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    server_side = open_stream(sv[0], failing, NULL);
    client = open_stream(sv[1], NULL, NULL);
    write_str(client.w, "hi\n");
    show_bytes("client reads", aio_stream_reader_read(client.r, -1));
    aio_stream_writer_close(client.w);
    CHECK(aio_stream_writer_wait_closed(client.w) == 0);
    aio_stream_writer_close(server_side.w);
    drop(&server_side);
    drop(&client);
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    aio_run(main_coro, NULL, NULL);
    CHECK(aio_err_occurred() == NULL);
    return 0;
}
