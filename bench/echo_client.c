/* echo_client.c - the load client of the echo benchmark (plain epoll; it
 * does not use casyncio, so that it loads every server alike).
 *
 *   echo_client --port P [--host 127.0.0.1] [--conns N] [--size S]
 *               [--duration SECONDS] [--warmup SECONDS] [--requests COUNT]
 *               [--server-pid PID] [--cpu C] [--label TEXT]
 *
 * N connections; on each, a request is S bytes sent, then all S bytes read
 * back (checked byte for byte against what was sent), then the next
 * request. Requests that complete during the warm-up are not counted; then
 * the client counts for --duration seconds (or until --requests requests
 * have completed, when given), and prints one line:
 *
 *   BENCH impl=client workload=echo conns=N size=S requests=R seconds=T
 *         rps=... p50_us=... p99_us=... client_busy=... server_cpu_s=...
 *         server_busy=... server_us_per_req=... server_sched_us_per_req=...
 *
 * client_busy and server_busy: the share of the window each spent on a
 * CPU (1.0: all of it; the client's from getrusage()).
 *
 * With --server-pid, the server's CPU time over the same window is read
 * from /proc/PID/stat (utime + stime, all its threads) and from
 * /proc/PID/schedstat (the main thread's run time in ns: finer-grained,
 * given as server_sched_us_per_req); server_us_per_req is the former per
 * request counted. --cpu pins the client to one CPU.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct conn {
    int fd;
    size_t sent;       /* of the current request */
    size_t received;
    uint64_t started;  /* ns, when its first byte was sent */
    int want_out;      /* EPOLLOUT registered */
} conn;

static size_t size = 1024;
static char *message;  /* what every request sends */
static char *scratch;  /* what reads go into */
#define SCRATCH (256 * 1024)

static uint64_t *lat;  /* latencies (ns) of the requests counted */
static size_t lat_len, lat_cap;

static void die(const char *what)
{
    fprintf(stderr, "echo_client: %s: %s\n", what, strerror(errno));
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* utime + stime of a process, in seconds; -1 when unreadable. */
static double proc_cpu(long pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command may hold spaces */
    if (p == NULL)
        return -1;
    /* After ')': state (3), then fields 4..; utime is 14, stime 15. */
    unsigned long utime = 0, stime = 0;
    int field = 2;
    for (char *tok = strtok(p + 1, " "); tok != NULL; tok = strtok(NULL, " ")) {
        field++;
        if (field == 14)
            utime = strtoul(tok, NULL, 10);
        else if (field == 15) {
            stime = strtoul(tok, NULL, 10);
            break;
        }
    }
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* The main thread's time on a CPU, in seconds (/proc/PID/schedstat). */
static double proc_sched(long pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/schedstat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    unsigned long long ns = 0;
    int ok = fscanf(f, "%llu", &ns);
    fclose(f);
    return ok == 1 ? (double)ns * 1e-9 : -1;
}

/* The client's own CPU time (user + system), in seconds. */
static double self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void record(uint64_t ns)
{
    if (lat_len == lat_cap) {
        lat_cap = lat_cap ? lat_cap * 2 : 65536;
        lat = realloc(lat, lat_cap * sizeof *lat);
        if (lat == NULL)
            die("realloc");
    }
    lat[lat_len++] = ns;
}

static void set_out(int ep, conn *c, int on)
{
    if (c->want_out == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        die("epoll_ctl");
    c->want_out = on;
}

/* Sends what is left of the request; EPOLLOUT while some is. */
static void pump_out(int ep, conn *c)
{
    while (c->sent < size) {
        ssize_t n = send(c->fd, message + c->sent, size - c->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            die("send");
        }
        c->sent += (size_t)n;
    }
    set_out(ep, c, c->sent < size);
}

static void start_request(int ep, conn *c)
{
    c->sent = c->received = 0;
    c->started = now_ns();
    pump_out(ep, c);
}

/* Reads what is there; true when the request's echo is complete. */
static int pump_in(conn *c)
{
    for (;;) {
        size_t want = size - c->received;
        if (want == 0)
            return 1;
        if (want > SCRATCH)
            want = SCRATCH;
        ssize_t n = recv(c->fd, scratch, want, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return 0;
            die("recv");
        }
        if (n == 0) {
            fprintf(stderr, "echo_client: the server closed a connection\n");
            exit(1);
        }
        if (memcmp(scratch, message + c->received, (size_t)n) != 0) {
            fprintf(stderr, "echo_client: the echo differs from what was sent\n");
            exit(1);
        }
        c->received += (size_t)n;
    }
}

static int connect_to(const char *host, int port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
        fprintf(stderr, "echo_client: not an IPv4 address: %s\n", host);
        exit(2);
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0)
        die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        die("fcntl");
    return fd;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *label = "";
    int port = 0, nconns = 1, cpu = -1;
    double duration = 2.0, warmup = 0.3;
    long requests_max = 0, server_pid = 0;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            fprintf(stderr, "echo_client: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--host"))
            host = v;
        else if (!strcmp(a, "--port"))
            port = atoi(v);
        else if (!strcmp(a, "--conns"))
            nconns = atoi(v);
        else if (!strcmp(a, "--size"))
            size = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--duration"))
            duration = atof(v);
        else if (!strcmp(a, "--warmup"))
            warmup = atof(v);
        else if (!strcmp(a, "--requests"))
            requests_max = atol(v);
        else if (!strcmp(a, "--server-pid"))
            server_pid = atol(v);
        else if (!strcmp(a, "--cpu"))
            cpu = atoi(v);
        else if (!strcmp(a, "--label"))
            label = v;
        else {
            fprintf(stderr, "echo_client: unknown option %s\n", a);
            return 2;
        }
    }
    if (port <= 0 || nconns <= 0 || size == 0 || duration <= 0) {
        fprintf(stderr, "usage: echo_client --port P [--conns N] [--size S] [--duration S] "
                        "[--warmup S] [--requests N] [--server-pid PID] [--cpu C]\n");
        return 2;
    }
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) < 0)
            die("sched_setaffinity");
    }
    message = malloc(size);
    scratch = malloc(SCRATCH);
    conn *conns = calloc((size_t)nconns, sizeof *conns);
    if (message == NULL || scratch == NULL || conns == NULL)
        die("malloc");
    uint64_t seed = 20240611;
    for (size_t i = 0; i < size; i++) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        message[i] = (char)(seed >> 56);
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");
    for (int i = 0; i < nconns; i++) {
        conns[i].fd = connect_to(host, port);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev) < 0)
            die("epoll_ctl");
    }

    uint64_t t0 = now_ns();
    uint64_t counting_from = t0 + (uint64_t)(warmup * 1e9);
    uint64_t stop_at = counting_from + (uint64_t)(duration * 1e9);
    int counting = 0, stopping = 0, outstanding = nconns;
    double cpu0 = 0, sched0 = 0, cpu1 = -1, sched1 = -1, mine0 = 0, mine1 = 0;
    uint64_t t_count = 0, t_end = 0;
    long counted = 0;
    for (int i = 0; i < nconns; i++)
        start_request(ep, &conns[i]);

    struct epoll_event evs[256];
    while (outstanding > 0) {
        int n = epoll_wait(ep, evs, 256, 1000);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        if (n == 0) {
            fprintf(stderr, "echo_client: no progress for a second\n");
            return 1;
        }
        uint64_t t = now_ns();
        if (!counting && t >= counting_from) {
            counting = 1;
            t_count = t;
            mine0 = self_cpu();
            if (server_pid > 0) {
                cpu0 = proc_cpu(server_pid);
                sched0 = proc_sched(server_pid);
            }
        }
        if (counting && !stopping &&
            (t >= stop_at || (requests_max > 0 && counted >= requests_max))) {
            stopping = 1;
            t_end = t;
            mine1 = self_cpu();
            if (server_pid > 0) {
                cpu1 = proc_cpu(server_pid);
                sched1 = proc_sched(server_pid);
            }
        }
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (evs[i].events & EPOLLOUT)
                pump_out(ep, c);
            if (!(evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                continue;
            if (!pump_in(c))
                continue;
            uint64_t done = now_ns();
            if (counting && !stopping) {
                record(done - c->started);
                counted++;
            }
            if (stopping) {
                outstanding--;
                struct epoll_event ev = {0};
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, &ev);
            } else {
                start_request(ep, c);
            }
        }
    }
    for (int i = 0; i < nconns; i++)
        close(conns[i].fd);
    if (counted == 0) {
        fprintf(stderr, "echo_client: no request completed in the window\n");
        return 1;
    }
    double seconds = (double)(t_end - t_count) * 1e-9;
    qsort(lat, lat_len, sizeof *lat, cmp_u64);
    double p50 = (double)lat[lat_len / 2] * 1e-3;
    double p99 = (double)lat[(lat_len * 99) / 100] * 1e-3;
    printf("BENCH impl=client workload=echo%s%s conns=%d size=%zu requests=%ld seconds=%.6f "
           "rps=%.1f p50_us=%.1f p99_us=%.1f client_busy=%.3f",
           *label ? " label=" : "", label, nconns, size, counted, seconds,
           (double)counted / seconds, p50, p99, (mine1 - mine0) / seconds);
    if (server_pid > 0 && cpu0 >= 0 && cpu1 >= 0) {
        printf(" server_cpu_s=%.3f server_busy=%.3f server_us_per_req=%.3f", cpu1 - cpu0,
               (cpu1 - cpu0) / seconds, (cpu1 - cpu0) * 1e6 / (double)counted);
        if (sched0 >= 0 && sched1 >= 0)
            printf(" server_sched_us_per_req=%.3f", (sched1 - sched0) * 1e6 / (double)counted);
    }
    printf("\n");
    free(lat);
    free(conns);
    free(message);
    free(scratch);
    close(ep);
    return 0;
}
