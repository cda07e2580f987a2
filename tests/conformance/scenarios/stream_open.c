/* stream_open.c - the C twin of stream_open.py: open_connection() and
 * start_server(), and their Unix twins (see the Python script). */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conformance.h"

static int it;

static void tick(void *arg)
{
    it++;
    aio_loop_call_soon(arg, &(aio_loop_call_soon_args){.callback = tick, .args = arg});
}
AIO_NAME_CALLBACK(tick);

static const char *bytes_repr(aio_bytes *b)
{
    static char buf[256];
    char *repr = aio_repr(b);
    snprintf(buf, sizeof buf, "%s", repr);
    free(repr);
    return buf;
}

static void *handle(aio_stream_reader *reader, aio_stream_writer *writer, void *arg)
{
    (void)arg;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd = aio_transport_get_socket(aio_stream_writer_transport(writer));
    CHECK(getsockname(fd, (struct sockaddr *)&ss, &len) == 0);
    printf("iteration %d server: connected, peer family %s\n", it,
           ss.ss_family == AF_UNIX ? "AF_UNIX" : ss.ss_family == AF_INET ? "AF_INET" : "?");
    for (;;) {
        aio_bytes *line = aio_stream_reader_readline(reader);
        CHECK(line != NULL);
        size_t n = aio_bytes_size(line);
        if (n == 0) {
            aio_decref(line);
            break;
        }
        printf("iteration %d server: got %s\n", it, bytes_repr(line));
        char up[64];
        for (size_t i = 0; i < n && i < sizeof up; i++)
            up[i] = (char)toupper(((const unsigned char *)aio_bytes_data(line))[i]);
        aio_decref(line);
        CHECK(aio_stream_writer_write(writer, up, n) == 0);
        CHECK(aio_stream_writer_drain(writer) == 0);
    }
    printf("iteration %d server: EOF\n", it);
    aio_stream_writer_close(writer);
    CHECK(aio_stream_writer_wait_closed(writer) == 0);
    return NULL;
}
AIO_NAME_CALLBACK(handle);

static void exchange(aio_stream_pair c)
{
    const char *lines[] = {"one\n", "two\n"};
    for (int i = 0; i < 2; i++) {
        CHECK(aio_stream_writer_write(c.writer, lines[i], 4) == 0);
        CHECK(aio_stream_writer_drain(c.writer) == 0);
        int at = it;
        aio_bytes *reply = aio_stream_reader_readline(c.reader);
        CHECK(reply != NULL);
        printf("iteration %d client: got %s\n", at, bytes_repr(reply));
        aio_decref(reply);
    }
    CHECK(aio_stream_writer_write_eof(c.writer) == 0);
    int at = it;
    aio_bytes *rest = aio_stream_reader_read(c.reader, -1);
    CHECK(rest != NULL);
    printf("iteration %d client: read %s\n", at, bytes_repr(rest));
    aio_decref(rest);
    aio_stream_writer_close(c.writer);
    CHECK(aio_stream_writer_wait_closed(c.writer) == 0);
    printf("iteration %d client: closed\n", it);
    aio_decref(c.writer);
    aio_decref(c.reader);
}

static void close_server(aio_server *server)
{
    CHECK(aio_server_close(server) == 0);
    aio_future *closed = aio_server_wait_closed(server);
    CHECK(closed != NULL);
    aio_await(closed);
    CHECK(aio_err_occurred() == NULL);
    aio_decref(closed);
}

static void *main_coro(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick, .args = loop});
    aio_server *server = aio_start_server(&(aio_start_server_args){
        .client_connected_cb = handle, .host = "127.0.0.1", .port = AIO_ZERO});
    CHECK(server != NULL);
    const aio_socket_list *socks = aio_server_sockets(server);
    printf("iteration %d started, serving %s sockets %zu\n", it,
           py_bool(aio_server_is_serving(server)), socks->len);
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    CHECK(getsockname(socks->fds[0], (struct sockaddr *)&sin, &len) == 0);
    int port = ntohs(sin.sin_port);
    aio_stream_pair c =
        aio_open_connection(&(aio_open_connection_args){.host = "127.0.0.1", .port = port});
    CHECK(c.reader != NULL);
    const aio_address *peer = aio_stream_writer_get_extra_info(
        c.writer, &(aio_stream_writer_get_extra_info_args){.name = "peername"});
    printf("iteration %d client: connected, peer port matches %s\n", it,
           py_bool(peer != NULL && peer->port == port));
    exchange(c);
    close_server(server);
    printf("iteration %d server closed, serving %s\n", it, py_bool(aio_server_is_serving(server)));
    aio_decref(server);

    c = aio_open_connection(&(aio_open_connection_args){.host = "127.0.0.1", .port = port});
    CHECK(c.reader == NULL);
    aio_exc *e = aio_err_fetch();
    printf("refused: %s %d\n", aio_exc_type_of(e)->name, aio_exc_errno(e));
    aio_decref(e);
    c = aio_open_connection(
        &(aio_open_connection_args){.host = "127.0.0.1", .port = port, .limit = AIO_ZERO});
    CHECK(c.reader == NULL);
    e = aio_err_fetch();
    printf("limit=0: %s %s\n", aio_exc_type_of(e)->name, aio_exc_str(e));
    aio_decref(e);

    char dir[] = "/tmp/stream_open-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/s.sock", dir);
    server = aio_start_unix_server(
        &(aio_start_unix_server_args){.client_connected_cb = handle, .path = path});
    CHECK(server != NULL);
    printf("iteration %d unix server started\n", it);
    c = aio_open_unix_connection(&(aio_open_unix_connection_args){.path = path});
    CHECK(c.reader != NULL);
    printf("iteration %d unix client connected\n", it);
    exchange(c);
    close_server(server);
    printf("iteration %d unix server closed\n", it);
    aio_decref(server);
    unlink(path);
    rmdir(dir);
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    aio_run(main_coro, NULL, NULL);
    CHECK(aio_err_occurred() == NULL);
    return 0;
}
