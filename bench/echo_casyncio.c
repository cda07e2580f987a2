/* echo_casyncio.c - the echo benchmark's server on casyncio, protocol
 * style: data_received() writes what it got back to its transport, as
 * echo_asyncio.py's EchoProtocol does.
 *
 *   echo_casyncio [--accept server|manual|auto] [--port P] [--cpu C]
 *
 * Listens on 127.0.0.1 (port 0 by default: the kernel picks one), prints
 * `LISTENING port=P accept=server|manual` once it accepts, and runs until
 * SIGTERM or SIGINT.
 *
 * How connections are accepted:
 *   server  loop.create_server(EchoProtocol, '127.0.0.1', port), as the
 *           Python server does;
 *   manual  a listening socket of its own, watched with add_reader(); each
 *           readiness accepts with accept4() until EAGAIN and hands every
 *           socket to loop.connect_accepted_socket(). The transports are
 *           the same; only the accepting differs, which the benchmark does
 *           not measure (its connections are made before it counts);
 *   auto    (the default) create_server(), and manual when it raises
 *           NotImplementedError (a build where it is not implemented yet).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <casyncio.h>
#include <casyncio/net.h>

typedef struct echo_protocol {
    aio_protocol base;
    aio_transport *transport;
} echo_protocol;

static void echo_connection_made(aio_protocol *self, aio_transport *transport)
{
    ((echo_protocol *)self)->transport = transport;
}
AIO_NAME_CALLBACK(echo_connection_made);

static void echo_data_received(aio_protocol *self, const void *data, size_t len)
{
    aio_transport_write(((echo_protocol *)self)->transport, data, len);
}
AIO_NAME_CALLBACK(echo_data_received);

static void echo_release(aio_protocol *self)
{
    free(self);
}
AIO_NAME_CALLBACK(echo_release);

static aio_protocol *echo_factory(void *arg)
{
    (void)arg;
    echo_protocol *p = calloc(1, sizeof *p);
    if (p == NULL) {
        aio_err_set(aio_MemoryError, NULL);
        return NULL;
    }
    p->base.connection_made = echo_connection_made;
    p->base.data_received = echo_data_received;
    p->base.release = echo_release;
    return &p->base;
}
AIO_NAME_CALLBACK(echo_factory);

static void die(const char *what)
{
    fprintf(stderr, "echo_casyncio: %s failed: ", what);
    aio_err_print();
    exit(1);
}

/* --- Accepting by hand ------------------------------------------------------------- */

typedef struct acceptor {
    aio_loop *loop;
    int fd;
} acceptor;

static void on_acceptable(void *arg)
{
    acceptor *a = arg;
    for (;;) {
        int fd = accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        aio_future *fut = aio_loop_connect_accepted_socket(
            a->loop, &(aio_loop_connect_accepted_socket_args){.protocol_factory = echo_factory,
                                                              .sock = fd});
        if (fut == NULL) {
            fprintf(stderr, "echo_casyncio: connect_accepted_socket failed: ");
            aio_err_print();
            close(fd);
            continue;
        }
        aio_decref(fut); /* the transport's waiter holds it until it is done */
    }
}
AIO_NAME_CALLBACK(on_acceptable);

static int listen_manual(aio_loop *loop, acceptor *a, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(fd, 100) < 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
        perror("echo_casyncio: listen");
        exit(1);
    }
    a->loop = loop;
    a->fd = fd;
    if (aio_loop_add_reader(loop, fd, on_acceptable, a, NULL) < 0)
        die("add_reader");
    return ntohs(sin.sin_port);
}

/* --- create_server() ----------------------------------------------------------------- */

/* The port, or -1 when create_server() is not implemented (no error set). */
static int listen_server(aio_loop *loop, int port, aio_server **out)
{
    aio_future *fut = aio_loop_create_server(
        loop, &(aio_loop_create_server_args){.protocol_factory = echo_factory,
                                             .host = "127.0.0.1",
                                             .port = port ? port : AIO_ZERO});
    aio_server *server = NULL;
    if (fut != NULL) {
        server = aio_loop_run_until_complete(loop, fut);
        if (server != NULL)
            aio_incref(server);
        aio_decref(fut);
    }
    if (server == NULL) {
        if (aio_err_matches(aio_NotImplementedError)) {
            aio_err_clear();
            return -1;
        }
        die("create_server");
    }
    const aio_socket_list *socks = aio_server_sockets(server);
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    if (socks == NULL || socks->len == 0 ||
        getsockname(socks->fds[0], (struct sockaddr *)&sin, &len) < 0) {
        fprintf(stderr, "echo_casyncio: the server has no socket\n");
        exit(1);
    }
    *out = server;
    return ntohs(sin.sin_port);
}

static void on_signal(void *arg)
{
    aio_loop_stop(arg);
}
AIO_NAME_CALLBACK(on_signal);

int main(int argc, char **argv)
{
    int port = 0, cpu = -1;
    const char *accept_mode = "auto";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port"))
            port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--cpu"))
            cpu = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--accept"))
            accept_mode = argv[i + 1];
        else {
            fprintf(stderr, "usage: echo_casyncio [--accept server|manual|auto] [--port P] "
                            "[--cpu C]\n");
            return 2;
        }
    }
    if (strcmp(accept_mode, "auto") && strcmp(accept_mode, "server") &&
        strcmp(accept_mode, "manual")) {
        fprintf(stderr, "echo_casyncio: --accept takes server, manual or auto\n");
        return 2;
    }
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        sched_setaffinity(0, sizeof set, &set);
    }
    aio_loop *loop = aio_new_event_loop();
    if (loop == NULL)
        die("new_event_loop");
    aio_server *server = NULL;
    acceptor acc = {NULL, -1};
    int bound = -1;
    const char *used = "server";
    if (strcmp(accept_mode, "manual") != 0) {
        bound = listen_server(loop, port, &server);
        if (bound < 0 && strcmp(accept_mode, "server") == 0) {
            fprintf(stderr, "echo_casyncio: create_server() is not implemented in this build\n");
            return 1;
        }
    }
    if (bound < 0) {
        bound = listen_manual(loop, &acc, port);
        used = "manual";
    }
    if (aio_loop_add_signal_handler(loop, SIGTERM, on_signal, loop, NULL) < 0 ||
        aio_loop_add_signal_handler(loop, SIGINT, on_signal, loop, NULL) < 0)
        die("add_signal_handler");
    printf("LISTENING port=%d accept=%s\n", bound, used);
    fflush(stdout);
    if (aio_loop_run_forever(loop) < 0)
        die("run_forever");
    if (server != NULL) {
        aio_server_close(server);
        aio_decref(server);
    }
    if (acc.fd >= 0) {
        aio_loop_remove_reader(loop, acc.fd);
        close(acc.fd);
    }
    aio_loop_close(loop);
    return 0;
}
