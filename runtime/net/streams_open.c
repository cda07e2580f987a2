/* streams_open.c - open_connection(), start_server() and their Unix twins
 * (streams.py, 3.11): each runs in the calling task, makes the reader and
 * protocol, and awaits the loop's method. */
#include <stdlib.h>

#include "loop.h"
#include "streams.h"
#include "task.h"

/* The public spelling of an int the glue split into value and None. */
static int public_int(int value, bool is_none)
{
    return is_none ? 0 : value == 0 ? AIO_ZERO : value;
}

static double public_double(double value, bool is_none)
{
    return is_none ? 0 : value == 0 ? AIO_ZERO : value;
}

static int public_bool(bool value, bool is_none)
{
    return is_none ? 0 : value ? AIO_TRUE : AIO_FALSE;
}

/* `lambda: protocol`: the transport gets a reference of its own. */
static aio_protocol *hand_protocol(void *arg)
{
    aio_protocol *protocol = arg;
    aio__incref(aio__stream_protocol_of(protocol));
    return protocol;
}
AIO_NAME_CALLBACK(hand_protocol);

/* The client side: reader and protocol made, then `await connect(...)`
 * with the factory filled in, then the writer. */
typedef aio_future *(*connect_func)(aio_loop *loop, aio_protocol_factory factory,
                                    aio_protocol *protocol, const void *args);

static aio_stream_pair open_stream(const char *what, int limit, connect_func connect,
                                   const void *args)
{
    aio_stream_pair pair = {NULL, NULL};
    if (aio__task_running(what) == NULL)
        return pair;
    aio_loop *loop = aio__running_loop();
    aio_stream_reader *reader =
        aio__stream_reader_new(&(aio__stream_reader_args){.limit = limit, .loop = loop});
    if (reader == NULL)
        return pair;
    aio_protocol *protocol = aio__stream_reader_protocol_new(
        &(aio__stream_reader_protocol_args){.stream_reader = reader, .loop = loop});
    aio__stream_protocol *p = protocol != NULL ? aio__stream_protocol_of(protocol) : NULL;
    aio_future *fut = p != NULL ? connect(loop, hand_protocol, protocol, args) : NULL;
    const aio_transport_protocol *tp = fut != NULL ? aio_await(fut) : NULL;
    if (tp != NULL)
        pair.writer = aio__stream_writer_make(tp->transport, p, reader, loop);
    if (pair.writer != NULL) {
        pair.reader = reader;
        reader = NULL;
    } else if (tp != NULL) {
        aio_transport_close(tp->transport);
    }
    aio__decref(fut);
    aio__decref(p);
    aio__decref(reader);
    return pair;
}

static aio_future *tcp_connect(aio_loop *loop, aio_protocol_factory factory,
                               aio_protocol *protocol, const void *a)
{
    const aio__open_connection_args *args = a;
    return aio_loop_create_connection(
        loop,
        &(aio_loop_create_connection_args){
            .protocol_factory = factory,
            .protocol_factory_arg = protocol,
            .host = args->host,
            .port = public_int(args->port, args->port_is_none),
            .ssl = args->ssl,
            .family = args->family,
            .proto = args->proto,
            .flags = args->flags,
            .sock = public_int(args->sock, args->sock_is_none),
            .local_addr = args->local_addr,
            .server_hostname = args->server_hostname,
            .ssl_handshake_timeout =
                public_double(args->ssl_handshake_timeout, args->ssl_handshake_timeout_is_none),
            .ssl_shutdown_timeout =
                public_double(args->ssl_shutdown_timeout, args->ssl_shutdown_timeout_is_none),
            .happy_eyeballs_delay =
                public_double(args->happy_eyeballs_delay, args->happy_eyeballs_delay_is_none),
            .interleave = public_int(args->interleave, args->interleave_is_none),
        });
}

aio_stream_pair aio__open_connection(const aio__open_connection_args *args)
{
    return open_stream("aio_open_connection()", args->limit, tcp_connect, args);
}

static aio_future *unix_connect(aio_loop *loop, aio_protocol_factory factory,
                                aio_protocol *protocol, const void *a)
{
    const aio__open_unix_connection_args *args = a;
    return aio_loop_create_unix_connection(
        loop,
        &(aio_loop_create_unix_connection_args){
            .protocol_factory = factory,
            .protocol_factory_arg = protocol,
            .path = args->path,
            .ssl = args->ssl,
            .sock = public_int(args->sock, args->sock_is_none),
            .server_hostname = args->server_hostname,
            .ssl_handshake_timeout =
                public_double(args->ssl_handshake_timeout, args->ssl_handshake_timeout_is_none),
            .ssl_shutdown_timeout =
                public_double(args->ssl_shutdown_timeout, args->ssl_shutdown_timeout_is_none),
        });
}

aio_stream_pair aio__open_unix_connection(const aio__open_unix_connection_args *args)
{
    return open_stream("aio_open_unix_connection()", args->limit, unix_connect, args);
}

/* --- Servers -------------------------------------------------------------------------- */

/* What a server's protocol factory makes each protocol with. The server
 * keeps the pointer as long as it may accept, which it never says; the
 * loop frees them all when it closes. */
typedef struct server_factory {
    struct server_factory *next;
    aio_loop *loop;             /* borrowed: the loop frees the factory */
    int limit;
    aio_client_connected_cb cb;
    void *cb_arg;
} server_factory;

static void streams_closed(aio_loop *loop);

AIO__LOOP_PART(streams_part) = {.name = "streams", .slots = 1, .order = 60,
                                .closed = streams_closed};

static server_factory **factories_of(aio_loop *loop)
{
    return (server_factory **)aio__loop_part_slot(loop, &streams_part);
}

static void streams_closed(aio_loop *loop)
{
    server_factory **slot = factories_of(loop);
    while (*slot != NULL) {
        server_factory *f = *slot;
        *slot = f->next;
        free(f);
    }
}

static server_factory *factory_new(aio_loop *loop, int limit, aio_client_connected_cb cb,
                                   void *cb_arg)
{
    server_factory *f = aio__calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    *f = (server_factory){*factories_of(loop), loop, limit, cb, cb_arg};
    *factories_of(loop) = f;
    return f;
}

/* Drops a factory no server took. */
static void factory_drop(server_factory *f)
{
    for (server_factory **at = factories_of(f->loop); *at != NULL; at = &(*at)->next) {
        if (*at == f) {
            *at = f->next;
            free(f);
            return;
        }
    }
}

/* factory(): a reader and its protocol for one accepted connection. */
static aio_protocol *make_server_protocol(void *arg)
{
    server_factory *f = arg;
    aio_stream_reader *reader =
        aio__stream_reader_new(&(aio__stream_reader_args){.limit = f->limit, .loop = f->loop});
    if (reader == NULL)
        return NULL;
    aio_protocol *protocol = aio__stream_reader_protocol_new(&(aio__stream_reader_protocol_args){
        .stream_reader = reader,
        .client_connected_cb = f->cb,
        .client_connected_cb_arg = f->cb_arg,
        .loop = f->loop,
    });
    aio__decref(reader);
    return protocol;
}
AIO_NAME_CALLBACK(make_server_protocol);

typedef aio_future *(*serve_func)(aio_loop *loop, server_factory *f, const void *args);

static aio_server *start_stream_server(const char *what, aio_client_connected_cb cb,
                                       void *cb_arg, int limit, serve_func serve,
                                       const void *args)
{
    if (aio__task_running(what) == NULL)
        return NULL;
    aio_loop *loop = aio__running_loop();
    server_factory *f = factory_new(loop, limit, cb, cb_arg);
    if (f == NULL)
        return NULL;
    aio_future *fut = serve(loop, f, args);
    aio_server *server = fut != NULL ? aio_await(fut) : NULL;
    if (server != NULL)
        aio_incref(server);
    else
        factory_drop(f);
    aio__decref(fut);
    return server;
}

static aio_future *tcp_serve(aio_loop *loop, server_factory *f, const void *a)
{
    const aio__start_server_args *args = a;
    return aio_loop_create_server(
        loop, &(aio_loop_create_server_args){
                  .protocol_factory = make_server_protocol,
                  .protocol_factory_arg = f,
                  .host = args->host,
                  .hosts = args->hosts,
                  .port = public_int(args->port, args->port_is_none),
                  .family = public_int(args->family, false),
                  .flags = public_int(args->flags, false),
                  .sock = public_int(args->sock, args->sock_is_none),
                  .backlog = public_int(args->backlog, false),
                  .ssl = args->ssl,
                  .reuse_address = public_bool(args->reuse_address, args->reuse_address_is_none),
                  .reuse_port = public_bool(args->reuse_port, args->reuse_port_is_none),
                  .ssl_handshake_timeout = public_double(args->ssl_handshake_timeout,
                                                         args->ssl_handshake_timeout_is_none),
                  .ssl_shutdown_timeout = public_double(args->ssl_shutdown_timeout,
                                                        args->ssl_shutdown_timeout_is_none),
                  .start_serving = public_bool(args->start_serving, false),
              });
}

aio_server *aio__start_server(const aio__start_server_args *args)
{
    return start_stream_server("aio_start_server()", args->client_connected_cb,
                               args->client_connected_cb_arg, args->limit, tcp_serve, args);
}

static aio_future *unix_serve(aio_loop *loop, server_factory *f, const void *a)
{
    const aio__start_unix_server_args *args = a;
    return aio_loop_create_unix_server(
        loop, &(aio_loop_create_unix_server_args){
                  .protocol_factory = make_server_protocol,
                  .protocol_factory_arg = f,
                  .path = args->path,
                  .sock = public_int(args->sock, args->sock_is_none),
                  .backlog = public_int(args->backlog, false),
                  .ssl = args->ssl,
                  .ssl_handshake_timeout = public_double(args->ssl_handshake_timeout,
                                                         args->ssl_handshake_timeout_is_none),
                  .ssl_shutdown_timeout = public_double(args->ssl_shutdown_timeout,
                                                        args->ssl_shutdown_timeout_is_none),
                  .start_serving = public_bool(args->start_serving, false),
              });
}

aio_server *aio__start_unix_server(const aio__start_unix_server_args *args)
{
    return start_stream_server("aio_start_unix_server()", args->client_connected_cb,
                               args->client_connected_cb_arg, args->limit, unix_serve, args);
}
