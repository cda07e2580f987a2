/* echo_peer.c - casyncio's side of the interop tests: an echo server, or a
 * client that sends a file and checks what comes back.
 *
 *   echo_peer server [--accept server|manual|auto]
 *       Listens on 127.0.0.1, port 0; prints `LISTENING port=P accept=...`
 *       and echoes every connection (protocol style: data_received() writes
 *       the data back; at end of file the transport closes once its buffer
 *       is sent). Runs until SIGTERM.
 *   echo_peer client PORT FILE [--no-echo] [--connect create_connection|manual|auto]
 *       Connects to 127.0.0.1:PORT, with loop.create_connection(), or
 *       (manual) with connect(2) and the socket handed to
 *       loop.connect_accepted_socket(); auto, the default, is the first
 *       unless it raises NotImplementedError. Sends FILE's bytes in 64 KiB writes,
 *       stopping at pause_writing() and going on at resume_writing(), then
 *       write_eof(); reads until the peer's end of file and checks that the
 *       bytes that came back are exactly FILE's (with --no-echo: that none
 *       came back). Exit 0 and `OK ... connect=HOW` when they are, 1 with a
 *       message when not.
 *
 * Accepting: --accept server uses loop.create_server(); manual accepts on a
 * socket of its own (add_reader(), accept4(), connect_accepted_socket());
 * auto (the default) tries create_server() and falls back to manual when it
 * raises NotImplementedError. Every run is bounded by alarm().
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <casyncio.h>
#include <casyncio/net.h>

#define TIME_LIMIT 60 /* seconds, for any run */
#define WRITE_SIZE (64 * 1024)

static aio_loop *loop;

static void die(const char *what)
{
    fprintf(stderr, "echo_peer: %s failed: ", what);
    aio_err_print();
    exit(1);
}

/* --- The server ------------------------------------------------------------------- */

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

static int listen_fd = -1;

static void on_acceptable(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        aio_future *fut = aio_loop_connect_accepted_socket(
            loop, &(aio_loop_connect_accepted_socket_args){.protocol_factory = echo_factory,
                                                           .sock = fd});
        if (fut == NULL) {
            fprintf(stderr, "echo_peer: connect_accepted_socket failed: ");
            aio_err_print();
            close(fd);
            continue;
        }
        aio_decref(fut);
    }
}
AIO_NAME_CALLBACK(on_acceptable);

static int listen_manual(void)
{
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sin, sizeof sin) < 0 ||
        listen(listen_fd, 100) < 0 || getsockname(listen_fd, (struct sockaddr *)&sin, &len) < 0) {
        perror("echo_peer: listen");
        exit(1);
    }
    if (aio_loop_add_reader(loop, listen_fd, on_acceptable, NULL, NULL) < 0)
        die("add_reader");
    return ntohs(sin.sin_port);
}

/* The port, or -1 when create_server() is not implemented. */
static int listen_server(aio_server **out)
{
    aio_future *fut = aio_loop_create_server(
        loop, &(aio_loop_create_server_args){.protocol_factory = echo_factory,
                                             .host = "127.0.0.1",
                                             .port = AIO_ZERO});
    aio_server *server = NULL;
    if (fut != NULL) {
        server = aio_loop_run_until_complete(loop, fut);
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
    if (socks->len == 0 || getsockname(socks->fds[0], (struct sockaddr *)&sin, &len) < 0) {
        fprintf(stderr, "echo_peer: the server has no socket\n");
        exit(1);
    }
    *out = server;
    return ntohs(sin.sin_port);
}

static void on_sigterm(void *arg)
{
    (void)arg;
    aio_loop_stop(loop);
}
AIO_NAME_CALLBACK(on_sigterm);

static int run_server(const char *mode)
{
    aio_server *server = NULL;
    int port = -1;
    const char *used = "server";
    if (strcmp(mode, "manual") != 0)
        port = listen_server(&server);
    if (port < 0) {
        if (strcmp(mode, "server") == 0) {
            fprintf(stderr, "echo_peer: create_server() is not implemented in this build\n");
            return 1;
        }
        port = listen_manual();
        used = "manual";
    }
    if (aio_loop_add_signal_handler(loop, SIGTERM, on_sigterm, NULL, NULL) < 0)
        die("add_signal_handler");
    printf("LISTENING port=%d accept=%s\n", port, used);
    fflush(stdout);
    if (aio_loop_run_forever(loop) < 0)
        die("run_forever");
    if (server != NULL) {
        aio_server_close(server);
        aio_decref(server);
    }
    if (listen_fd >= 0) {
        aio_loop_remove_reader(loop, listen_fd);
        close(listen_fd);
    }
    return 0;
}

/* --- The client ------------------------------------------------------------------- */

typedef struct sender {
    aio_protocol base;
    aio_transport *transport;
    const char *data;
    size_t len;
    size_t sent;
    size_t received;
    bool paused;
    bool expect_echo;
    bool mismatch;
    bool eof;
    bool lost;
    char lost_exc[200];
} sender;

static void pump(sender *s)
{
    while (!s->paused && s->sent < s->len) {
        size_t n = s->len - s->sent < WRITE_SIZE ? s->len - s->sent : WRITE_SIZE;
        if (aio_transport_write(s->transport, s->data + s->sent, n) < 0)
            die("write");
        s->sent += n;
    }
    if (s->sent == s->len && aio_transport_write_eof(s->transport) < 0)
        die("write_eof");
}

static void sender_connection_made(aio_protocol *self, aio_transport *transport)
{
    sender *s = (sender *)self;
    s->transport = transport;
    pump(s);
}
AIO_NAME_CALLBACK(sender_connection_made);

static void sender_data_received(aio_protocol *self, const void *data, size_t len)
{
    sender *s = (sender *)self;
    if (!s->expect_echo || s->received + len > s->len ||
        memcmp(s->data + s->received, data, len) != 0)
        s->mismatch = true;
    s->received += len;
}
AIO_NAME_CALLBACK(sender_data_received);

static bool sender_eof_received(aio_protocol *self)
{
    ((sender *)self)->eof = true;
    return false;
}
AIO_NAME_CALLBACK(sender_eof_received);

static void sender_pause_writing(aio_protocol *self)
{
    ((sender *)self)->paused = true;
}
AIO_NAME_CALLBACK(sender_pause_writing);

static void sender_resume_writing(aio_protocol *self)
{
    sender *s = (sender *)self;
    s->paused = false;
    pump(s);
}
AIO_NAME_CALLBACK(sender_resume_writing);

static void sender_connection_lost(aio_protocol *self, aio_exc *exc)
{
    sender *s = (sender *)self;
    s->lost = true;
    if (exc != NULL) {
        char *r = aio_repr(exc);
        snprintf(s->lost_exc, sizeof s->lost_exc, "%s", r ? r : "?");
        free(r);
    }
    aio_loop_stop(loop);
}
AIO_NAME_CALLBACK(sender_connection_lost);

static aio_protocol *give_sender(void *arg)
{
    return arg;
}
AIO_NAME_CALLBACK(give_sender);

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (f == NULL || fstat(fileno(f), &st) < 0) {
        perror(path);
        exit(1);
    }
    char *data = malloc((size_t)st.st_size + 1);
    if (data == NULL || fread(data, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        fprintf(stderr, "echo_peer: cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    *len = (size_t)st.st_size;
    return data;
}

static const char *used_connect = "?";

static int run_client(int port, const char *path, bool expect_echo, const char *connect_mode)
{
    sender s = {0};
    s.data = read_file(path, &s.len);
    s.expect_echo = expect_echo;
    s.base.connection_made = sender_connection_made;
    s.base.data_received = sender_data_received;
    s.base.eof_received = sender_eof_received;
    s.base.pause_writing = sender_pause_writing;
    s.base.resume_writing = sender_resume_writing;
    s.base.connection_lost = sender_connection_lost;

    aio_future *fut = NULL;
    if (strcmp(connect_mode, "manual") != 0) {
        fut = aio_loop_create_connection(
            loop, &(aio_loop_create_connection_args){.protocol_factory = give_sender,
                                                     .protocol_factory_arg = &s,
                                                     .host = "127.0.0.1",
                                                     .port = port});
        if (fut == NULL && aio_err_matches(aio_NotImplementedError) &&
            strcmp(connect_mode, "auto") == 0)
            aio_err_clear();
        else if (fut == NULL)
            die("create_connection");
        else
            used_connect = "create_connection";
    }
    if (fut == NULL) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
            perror("echo_peer: connect");
            return 1;
        }
        fut = aio_loop_connect_accepted_socket(
            loop, &(aio_loop_connect_accepted_socket_args){.protocol_factory = give_sender,
                                                           .protocol_factory_arg = &s,
                                                           .sock = fd});
        if (fut == NULL)
            die("connect_accepted_socket");
        used_connect = "manual";
    }
    if (aio_loop_run_until_complete(loop, fut) == NULL)
        die("the connection's future");
    aio_decref(fut);
    if (!s.lost && aio_loop_run_forever(loop) < 0)
        die("run_forever");
    int rc = 0;
    if (s.lost_exc[0]) {
        fprintf(stderr, "echo_peer: connection lost with %s\n", s.lost_exc);
        rc = 1;
    }
    if (!s.eof) {
        fprintf(stderr, "echo_peer: no end of file from the peer\n");
        rc = 1;
    }
    if (s.sent != s.len) {
        fprintf(stderr, "echo_peer: sent %zu of %zu bytes\n", s.sent, s.len);
        rc = 1;
    }
    if (s.mismatch || s.received != (expect_echo ? s.len : 0)) {
        fprintf(stderr, "echo_peer: %zu bytes came back, %s; %zu expected\n", s.received,
                s.mismatch ? "not the ones sent" : "as sent", expect_echo ? s.len : 0);
        rc = 1;
    }
    if (rc == 0)
        printf("OK sent=%zu received=%zu connect=%s\n", s.sent, s.received, used_connect);
    free((void *)s.data);
    return rc;
}

int main(int argc, char **argv)
{
    alarm(TIME_LIMIT);
    if (argc < 2) {
        fprintf(stderr, "usage: echo_peer server [--accept server|manual|auto]\n"
                        "       echo_peer client PORT FILE [--no-echo] "
                        "[--connect create_connection|manual|auto]\n");
        return 2;
    }
    loop = aio_new_event_loop();
    if (loop == NULL)
        die("new_event_loop");
    int rc;
    if (strcmp(argv[1], "server") == 0) {
        const char *mode = argc >= 4 && strcmp(argv[2], "--accept") == 0 ? argv[3] : "auto";
        rc = run_server(mode);
    } else if (strcmp(argv[1], "client") == 0 && argc >= 4) {
        bool echo = true;
        const char *connect_mode = "auto";
        for (int i = 4; i < argc; i++) {
            if (strcmp(argv[i], "--no-echo") == 0)
                echo = false;
            else if (strcmp(argv[i], "--connect") == 0 && i + 1 < argc)
                connect_mode = argv[++i];
        }
        rc = run_client(atoi(argv[2]), argv[3], echo, connect_mode);
    } else {
        fprintf(stderr, "echo_peer: unknown mode %s\n", argv[1]);
        rc = 2;
    }
    aio_loop_close(loop);
    return rc;
}
