/* The TCP echo server and client of the asyncio "Transports and Protocols"
 * page, in one program (examples/echo_protocol.py is the Python original,
 * and prints the same): the server listens on a free port of 127.0.0.1,
 * the client sends one message, the server echoes it and closes the
 * connection.
 *
 * A protocol is a struct whose first member is an aio_protocol: the
 * callbacks left NULL are the ones asyncio.Protocol leaves empty. The
 * server makes one per connection and frees it in `release`, which the
 * transport calls once connection_lost() has run.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <casyncio.h>

/* --- The server's protocol ---------------------------------------------------------- */

typedef struct echo_server_protocol {
    aio_protocol base;
    aio_transport *transport;
} echo_server_protocol;

static void server_connection_made(aio_protocol *self, aio_transport *transport)
{
    const aio_address *peername = aio_transport_get_peername(transport);
    printf("Server: connection from %s\n", peername ? peername->host : "None");
    ((echo_server_protocol *)self)->transport = transport;
}
AIO_NAME_CALLBACK(server_connection_made);

static void server_data_received(aio_protocol *self, const void *data, size_t len)
{
    aio_transport *transport = ((echo_server_protocol *)self)->transport;
    printf("Server: data received: '%.*s'\n", (int)len, (const char *)data);
    printf("Server: send: '%.*s'\n", (int)len, (const char *)data);
    aio_transport_write(transport, data, len);
    printf("Server: close the client socket\n");
    aio_transport_close(transport);
}
AIO_NAME_CALLBACK(server_data_received);

static void server_release(aio_protocol *self)
{
    free(self);
}
AIO_NAME_CALLBACK(server_release);

static aio_protocol *echo_server_protocol_new(void *arg)
{
    (void)arg;
    echo_server_protocol *p = calloc(1, sizeof *p);
    if (p == NULL) {
        aio_err_set(aio_MemoryError, NULL);
        return NULL;
    }
    p->base.connection_made = server_connection_made;
    p->base.data_received = server_data_received;
    p->base.release = server_release;
    return &p->base;
}
AIO_NAME_CALLBACK(echo_server_protocol_new);

/* --- The client's protocol ---------------------------------------------------------- */

typedef struct echo_client_protocol {
    aio_protocol base;
    const char *message;
    aio_future *on_con_lost;
} echo_client_protocol;

static void client_connection_made(aio_protocol *self, aio_transport *transport)
{
    echo_client_protocol *p = (echo_client_protocol *)self;
    aio_transport_write(transport, p->message, strlen(p->message));
    printf("Client: data sent: '%s'\n", p->message);
}
AIO_NAME_CALLBACK(client_connection_made);

static void client_data_received(aio_protocol *self, const void *data, size_t len)
{
    (void)self;
    printf("Client: data received: '%.*s'\n", (int)len, (const char *)data);
}
AIO_NAME_CALLBACK(client_data_received);

static void client_connection_lost(aio_protocol *self, aio_exc *exc)
{
    (void)exc;
    printf("Client: the server closed the connection\n");
    aio_future_set_result(((echo_client_protocol *)self)->on_con_lost, NULL);
}
AIO_NAME_CALLBACK(client_connection_lost);

static aio_protocol *echo_client_protocol_get(void *arg)
{
    return arg;   /* main_coro's, which outlives the connection */
}
AIO_NAME_CALLBACK(echo_client_protocol_get);

/* --- main() ------------------------------------------------------------------------- */

static int server_port(aio_server *server)
{
    const aio_socket_list *sockets = aio_server_sockets(server);
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    if (sockets == NULL || sockets->len == 0 ||
        getsockname(sockets->fds[0], (struct sockaddr *)&sin, &len) < 0)
        return -1;
    return ntohs(sin.sin_port);
}

static void *main_coro(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    void *ok = NULL;
    aio_future *serving = aio_loop_create_server(
        loop, &(aio_loop_create_server_args){.protocol_factory = echo_server_protocol_new,
                                             .host = "127.0.0.1", .port = AIO_ZERO});
    aio_server *server = serving ? aio_await(serving) : NULL;
    if (server == NULL)
        goto out;
    int port = server_port(server);

    echo_client_protocol client = {
        .base = {.connection_made = client_connection_made,
                 .data_received = client_data_received,
                 .connection_lost = client_connection_lost},
        .message = "Hello World!",
        .on_con_lost = aio_loop_create_future(loop),
    };
    if (client.on_con_lost == NULL)
        goto out;
    aio_future *connecting = aio_loop_create_connection(
        loop, &(aio_loop_create_connection_args){.protocol_factory = echo_client_protocol_get,
                                                 .protocol_factory_arg = &client,
                                                 .host = "127.0.0.1", .port = port});
    const aio_transport_protocol *pair = connecting ? aio_await(connecting) : NULL;
    if (pair != NULL) {
        int rc = aio_await(client.on_con_lost) == NULL && aio_err_occurred() ? -1 : 0;
        aio_transport_close(pair->transport);   /* finally: transport.close() */
        if (rc == 0) {
            aio_server_close(server);
            aio_future *closed = aio_server_wait_closed(server);
            if (closed != NULL && (aio_await(closed) != NULL || !aio_err_occurred()))
                ok = "done";
            aio_decref(closed);
        }
    }
    aio_decref(connecting);
    aio_decref(client.on_con_lost);
out:
    aio_decref(serving);
    return ok;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    if (aio_run(main_coro, NULL, NULL) == NULL) {
        aio_err_print();
        return 1;
    }
    return 0;
}
