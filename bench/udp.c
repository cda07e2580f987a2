/* udp.c - UDP echo over 127.0.0.1: an echo server endpoint
 * (create_datagram_endpoint() with local_addr 127.0.0.1:0, sending every
 * datagram back to its sender) and a client endpoint connected to it
 * (remote_addr), both on the one loop. The client keeps W datagrams of 64
 * bytes in flight, sending the next one each time a reply comes back,
 * until N replies have come. The figure is datagrams echoed per second
 * (round trips). A lost datagram would leave the run short: after 60 s it
 * fails rather than hang.
 *
 *   usage: udp [N [W]]      (default 100000 datagrams, 32 in flight)
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define UDP_SIZE 64
#define UDP_LIMIT 60.0  /* seconds */

typedef struct echo_server {
    aio_protocol base;
    aio_transport *transport;
} echo_server;

static void server_made(aio_protocol *self, aio_transport *t)
{
    ((echo_server *)self)->transport = t;
}

static void server_datagram(aio_protocol *self, const void *data, size_t len,
                            const aio_address *addr)
{
    aio_transport_sendto(((echo_server *)self)->transport,
                         &(aio_transport_sendto_args){.data = data, .data_len = len,
                                                      .addr = addr});
}

typedef struct echo_client {
    aio_protocol base;
    aio_transport *transport;
    long n, sent, received;
    aio_future *done;
    char payload[UDP_SIZE];
} echo_client;

static void client_made(aio_protocol *self, aio_transport *t)
{
    ((echo_client *)self)->transport = t;
}

static int client_send(echo_client *c)
{
    c->sent++;
    return aio_transport_sendto(c->transport, &(aio_transport_sendto_args){
                                                  .data = c->payload, .data_len = UDP_SIZE});
}

static void client_datagram(aio_protocol *self, const void *data, size_t len,
                            const aio_address *addr)
{
    (void)data;
    (void)addr;
    echo_client *c = (echo_client *)self;
    if (len != UDP_SIZE || aio_future_done(c->done))
        return;
    c->received++;
    if (c->sent < c->n)
        client_send(c);
    else if (c->received == c->n)
        aio_future_set_result(c->done, c);
}

static int timed_out;

static void time_limit(void *arg)
{
    aio_future *done = arg;
    if (!aio_future_done(done))
        aio_future_set_result(done, &timed_out);
}

static aio_protocol *give(void *arg)
{
    return arg;
}

/* The endpoint's transport, or NULL with the exception set. */
static aio_transport *open_endpoint(aio_loop *loop, aio_protocol *proto,
                                    const aio_loop_create_datagram_endpoint_args *args)
{
    aio_loop_create_datagram_endpoint_args a = *args;
    a.protocol_factory = give;
    a.protocol_factory_arg = proto;
    aio_future *f = aio_loop_create_datagram_endpoint(loop, &a);
    if (f == NULL || aio_await(f) == NULL)
        return NULL;
    aio_transport *t = aio_incref(((aio_transport_protocol *)aio_future_result(f))->transport);
    aio_decref(f);
    return t;
}

typedef struct udp_run {
    long n, window;
    bool ok;
} udp_run;

static void *main_coro(void *arg)
{
    udp_run *run = arg;
    aio_loop *loop = aio_get_running_loop();
    static echo_server server = {
        .base = {.connection_made = server_made, .datagram_received = server_datagram}};
    static echo_client client = {
        .base = {.connection_made = client_made, .datagram_received = client_datagram}};
    client.n = run->n;
    memset(client.payload, 'x', UDP_SIZE);
    aio_transport *st = open_endpoint(
        loop, &server.base,
        &(aio_loop_create_datagram_endpoint_args){
            .local_addr = &(aio_address){.host = "127.0.0.1", .port = AIO_ZERO}});
    if (st == NULL)
        return NULL;
    const aio_address *where = aio_transport_get_sockname(st);
    aio_transport *ct = open_endpoint(
        loop, &client.base,
        &(aio_loop_create_datagram_endpoint_args){
            .remote_addr = &(aio_address){.host = "127.0.0.1", .port = where->port}});
    if (ct == NULL)
        return NULL;
    client.done = aio_loop_create_future(loop);
    if (client.done == NULL)
        return NULL;
    aio_timer_handle *limit = aio_loop_call_later(
        loop, &(aio_loop_call_later_args){.delay = UDP_LIMIT, .callback = time_limit,
                                          .args = client.done});
    if (limit == NULL)
        return NULL;
    double t0 = bench_now();
    for (long i = 0; i < run->window && client.sent < client.n; i++)
        if (client_send(&client) != 0)
            return NULL;
    void *outcome = aio_await(client.done);
    double seconds = bench_now() - t0;
    aio_handle_cancel(limit);
    aio_decref(limit);
    if (outcome != &client) {
        fprintf(stderr, "udp: %ld of %ld replies within %.0f s\n", client.received, client.n,
                UDP_LIMIT);
        return NULL;
    }
    bench_report("udp", run->n, seconds);
    run->ok = true;
    aio_transport_close(ct);
    aio_transport_close(st);
    aio_decref(ct);
    aio_decref(st);
    aio_decref(client.done);
    return run;
}

int main(int argc, char **argv)
{
    udp_run run = {argc > 1 ? strtol(argv[1], NULL, 10) : 100000,
                   argc > 2 ? strtol(argv[2], NULL, 10) : 32, false};
    if (run.n < 1)
        run.n = 1;
    if (run.window < 1)
        run.window = 1;
    if (aio_run(main_coro, &run, NULL) == NULL)
        bench_die("run");
    return run.ok ? 0 : 1;
}
