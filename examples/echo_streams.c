/* An echo server and its client with streams, in one program, in the task
 * style: start_server() runs handle_echo() as a task for each connection,
 * open_connection() gives the client its reader and writer. It prints what
 * its Python twin, echo_streams.py, prints:
 *
 *   async def handle_echo(reader, writer):
 *       while line := await reader.readline():
 *           print(f"server: got {line.decode()!r}")
 *           writer.write(line)
 *           await writer.drain()
 *       print("server: client hung up")
 *       writer.close()
 *       await writer.wait_closed()
 *
 *   async def main():
 *       server = await asyncio.start_server(handle_echo, "127.0.0.1", 0)
 *       port = server.sockets[0].getsockname()[1]
 *       reader, writer = await asyncio.open_connection("127.0.0.1", port)
 *       for message in ("hello\n", "streams\n", "bye\n"):
 *           writer.write(message.encode())
 *           await writer.drain()
 *           reply = await reader.readline()
 *           print(f"client: sent {message!r}, got back {reply.decode()!r}")
 *       writer.write_eof()
 *       print(f"client: after EOF the server sends {await reader.read()!r}")
 *       writer.close()
 *       await writer.wait_closed()
 *       server.close()
 *       await server.wait_closed()
 *       print("server: closed")
 *
 *   asyncio.run(main())
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <casyncio.h>

/* Python's repr() of a short line of text: 'hello\n'. */
static const char *text_repr(const void *data, size_t len)
{
    static char buf[256];
    size_t n = 0;
    buf[n++] = '\'';
    for (size_t i = 0; i < len && n < sizeof buf - 4; i++) {
        char c = ((const char *)data)[i];
        if (c == '\n') {
            buf[n++] = '\\';
            buf[n++] = 'n';
        } else {
            buf[n++] = c;
        }
    }
    buf[n++] = '\'';
    buf[n] = '\0';
    return buf;
}

static void *handle_echo(aio_stream_reader *reader, aio_stream_writer *writer, void *arg)
{
    (void)arg;
    for (;;) {
        aio_bytes *line = aio_stream_reader_readline(reader);
        if (line == NULL)
            return NULL;
        size_t len = aio_bytes_size(line);
        if (len == 0) {
            aio_decref(line);
            break;
        }
        printf("server: got %s\n", text_repr(aio_bytes_data(line), len));
        int rc = aio_stream_writer_write(writer, aio_bytes_data(line), len);
        aio_decref(line);
        if (rc < 0 || aio_stream_writer_drain(writer) < 0)
            return NULL;
    }
    printf("server: client hung up\n");
    aio_stream_writer_close(writer);
    aio_stream_writer_wait_closed(writer);
    return NULL;
}
AIO_NAME_CALLBACK(handle_echo);

static int server_port(aio_server *server)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    const aio_socket_list *socks = aio_server_sockets(server);
    if (socks == NULL || socks->len == 0 ||
        getsockname(socks->fds[0], (struct sockaddr *)&sin, &len) < 0)
        return -1;
    return ntohs(sin.sin_port);
}

static void *main_coro(void *arg)
{
    (void)arg;
    aio_server *server = aio_start_server(&(aio_start_server_args){
        .client_connected_cb = handle_echo, .host = "127.0.0.1", .port = AIO_ZERO});
    if (server == NULL)
        return NULL;
    aio_stream_pair conn = aio_open_connection(
        &(aio_open_connection_args){.host = "127.0.0.1", .port = server_port(server)});
    if (conn.reader == NULL) {
        aio_decref(server);
        return NULL;
    }
    const char *messages[] = {"hello\n", "streams\n", "bye\n"};
    for (int i = 0; i < 3; i++) {
        if (aio_stream_writer_write(conn.writer, messages[i], strlen(messages[i])) < 0 ||
            aio_stream_writer_drain(conn.writer) < 0)
            break;
        aio_bytes *reply = aio_stream_reader_readline(conn.reader);
        if (reply == NULL)
            break;
        printf("client: sent %s, ", text_repr(messages[i], strlen(messages[i])));
        printf("got back %s\n", text_repr(aio_bytes_data(reply), aio_bytes_size(reply)));
        aio_decref(reply);
    }
    if (!aio_err_occurred() && aio_stream_writer_write_eof(conn.writer) == 0) {
        aio_bytes *rest = aio_stream_reader_read(conn.reader, -1);
        if (rest != NULL) {
            char *repr = aio_repr(rest);
            printf("client: after EOF the server sends %s\n", repr);
            free(repr);
            aio_decref(rest);
        }
    }
    aio_stream_writer_close(conn.writer);
    aio_stream_writer_wait_closed(conn.writer);
    aio_decref(conn.writer);
    aio_decref(conn.reader);

    aio_server_close(server);
    aio_future *closed = aio_server_wait_closed(server);
    if (closed != NULL)
        aio_await(closed);
    aio_decref(closed);
    aio_decref(server);
    printf("server: closed\n");
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    aio_run(main_coro, NULL, NULL);
    if (aio_err_occurred() != NULL) {
        aio_err_print();
        return 1;
    }
    return 0;
}
