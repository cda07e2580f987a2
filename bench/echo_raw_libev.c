/* echo_raw_libev.c - the floor of the echo benchmark: an echo server on
 * libev and nothing else, doing what any event-loop echo server must do
 * and no more.
 *
 *   echo_raw_libev [--port P] [--cpu C]
 *
 * Listens on 127.0.0.1 (port 0 by default: the kernel picks one) and
 * prints `LISTENING port=P` once it accepts. Per connection: TCP_NODELAY,
 * one level-triggered read watcher; each readiness is one recv() of up to
 * 256 KiB into a buffer shared by all connections (as casyncio's loop
 * has), sent back at once with send(); what the socket does not take is
 * copied to a per-connection buffer, reading stops and a write watcher
 * sends the rest when the socket is writable. Runs until SIGTERM or
 * SIGINT.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_SIZE (256 * 1024)

typedef struct conn {
    ev_io r, w;
    char *pending;   /* what send() did not take */
    size_t off, len;
} conn;

static char read_buf[READ_SIZE];

static void conn_free(struct ev_loop *loop, conn *c)
{
    ev_io_stop(loop, &c->r);
    ev_io_stop(loop, &c->w);
    close(c->r.fd);
    free(c->pending);
    free(c);
}

static void on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    conn *c = (conn *)((char *)w - offsetof(conn, w));
    ssize_t n = send(w->fd, c->pending + c->off, c->len - c->off, MSG_NOSIGNAL);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return;
        conn_free(loop, c);
        return;
    }
    c->off += (size_t)n;
    if (c->off == c->len) {
        c->off = c->len = 0;
        ev_io_stop(loop, &c->w);
        ev_io_start(loop, &c->r);
    }
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    conn *c = (conn *)w;
    ssize_t n = recv(w->fd, read_buf, READ_SIZE, 0);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        conn_free(loop, c);
        return;
    }
    ssize_t sent = send(w->fd, read_buf, (size_t)n, MSG_NOSIGNAL);
    if (sent < 0) {
        if (errno != EAGAIN && errno != EINTR) {
            conn_free(loop, c);
            return;
        }
        sent = 0;
    }
    if (sent == n)
        return;
    size_t rest = (size_t)(n - sent);
    char *p = realloc(c->pending, rest);
    if (p == NULL) {
        conn_free(loop, c);
        return;
    }
    memcpy(p, read_buf + sent, rest);
    c->pending = p;
    c->off = 0;
    c->len = rest;
    ev_io_stop(loop, &c->r);
    ev_io_start(loop, &c->w);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    for (;;) {
        int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn *c = calloc(1, sizeof *c);
        if (c == NULL) {
            close(fd);
            continue;
        }
        ev_io_init(&c->r, on_readable, fd, EV_READ);
        ev_io_init(&c->w, on_writable, fd, EV_WRITE);
        ev_io_start(loop, &c->r);
    }
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

int main(int argc, char **argv)
{
    int port = 0, cpu = -1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port"))
            port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--cpu"))
            cpu = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: echo_raw_libev [--port P] [--cpu C]\n");
            return 2;
        }
    }
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        sched_setaffinity(0, sizeof set, &set);
    }
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    if (bind(lfd, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(lfd, 128) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sin, &len) < 0) {
        perror("echo_raw_libev");
        return 1;
    }
    struct ev_loop *loop = ev_default_loop(EVBACKEND_EPOLL);
    ev_io accept_w;
    ev_io_init(&accept_w, on_accept, lfd, EV_READ);
    ev_io_start(loop, &accept_w);
    ev_signal sigterm, sigint;
    ev_signal_init(&sigterm, on_signal, SIGTERM);
    ev_signal_init(&sigint, on_signal, SIGINT);
    ev_signal_start(loop, &sigterm);
    ev_signal_start(loop, &sigint);
    printf("LISTENING port=%d\n", ntohs(sin.sin_port));
    fflush(stdout);
    ev_run(loop, 0);
    close(lfd);
    return 0;
}
