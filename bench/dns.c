/* dns.c - loop.getaddrinfo() lookups per second, CONCURRENCY of them in
 * flight at a time.
 *
 * A main task makes one untimed lookup (which starts the loop's c-ares
 * channel and checks the name resolves), then starts CONCURRENCY worker
 * tasks and gathers them. Worker w makes lookups w, w + CONCURRENCY,
 * w + 2 * CONCURRENCY, ... < N one after the other: aio_loop_getaddrinfo(
 * host, port "80") and aio_await() of its future; each answer must be a
 * non-empty list whose first address is the expected one. Timed from
 * before the first worker is created to the gather returning; lookups/s =
 * N / seconds.
 *
 * Two programs are built from this file:
 *
 *   dns-hosts    "localhost", with the default resolver options (those of
 *                /etc/resolv.conf, lookups "fb"): runtime/net/hosts.c finds
 *                it in /etc/hosts, which it reads on each lookup, as glibc
 *                does; no packet is sent. bench_asyncio.py runs the same on asyncio and uvloop,
 *                whose getaddrinfo() is the system's, in a thread.
 *   dns-server   (-DDNS_SERVER) names served by the loopback DNS server of
 *                the unit tests (../tests/unit/net/dns_server.h), started in
 *                this process on a thread of its own (pinned with it, when
 *                run.py pins); the loop is pointed at it with servers
 *                "127.0.0.1:PORT", lookups "b" (DNS only) and no_search.
 *                DNS_NAMES names, h0.bench.test ..., each with one A record
 *                of TTL 0 (nothing may cache it); lookup i asks name
 *                i % DNS_NAMES. Family 0 (AF_UNSPEC): c-ares asks A and
 *                AAAA, two UDP queries per lookup, the AAAA answered NOERROR
 *                with no records. The server's UDP receive buffer is raised
 *                to 4 MiB (the default holds fewer datagrams than the 200
 *                queries in flight). Prints queries= (what the server
 *                received, 2 * N when nothing was lost) and retries= (the
 *                datagrams lost, each of which c-ares sent again after its
 *                timeout, 5 s by default: the server socket's drops from
 *                /proc/net/udp plus the queries beyond 2 * N).
 *
 *   usage: dns-hosts [N [CONCURRENCY]]     (default 50000, 100)
 *          dns-server [N [CONCURRENCY]]    (default 50000, 100)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#ifdef DNS_SERVER
#include "../tests/unit/net/dns_server.h"
#define WORKLOAD "dns-server"
#define DNS_NAMES 100
#else
#define WORKLOAD "dns-hosts"
#endif

typedef struct dns_bench {
    aio_loop *loop;
    long total;
    long concurrency;
    long answered;
    long failed;
    size_t entries; /* of the warm-up lookup's answer */
    double seconds;
#ifdef DNS_SERVER
    char names[DNS_NAMES][32];
    char addrs[DNS_NAMES][16];
#endif
} dns_bench;

typedef struct worker {
    dns_bench *b;
    long first;
} worker;

#ifdef DNS_SERVER
/* The datagrams the kernel dropped for want of room in the receive buffer
 * of the UDP socket bound to 127.0.0.1:port (the last field of its line in
 * /proc/net/udp), or 0 when that cannot be read. */
static unsigned long udp_drops(int port)
{
    FILE *f = fopen("/proc/net/udp", "r");
    if (f == NULL)
        return 0;
    char line[512], local[32];
    snprintf(local, sizeof local, "0100007F:%04X", port);
    unsigned long drops = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strstr(line, local) == NULL)
            continue;
        char *end = line + strlen(line);
        while (end > line && (end[-1] == '\n' || end[-1] == ' '))
            *--end = '\0';
        char *last = strrchr(line, ' ');
        drops = last ? strtoul(last + 1, NULL, 10) : 0;
        break;
    }
    fclose(f);
    return drops;
}
#endif

static const char *host_of(dns_bench *b, long i)
{
#ifdef DNS_SERVER
    return b->names[i % DNS_NAMES];
#else
    (void)b;
    (void)i;
    return "localhost";
#endif
}

static const char *addr_of(dns_bench *b, long i)
{
#ifdef DNS_SERVER
    return b->addrs[i % DNS_NAMES];
#else
    (void)b;
    (void)i;
    return "127.0.0.1";
#endif
}

/* One lookup of name i: 0 when it gave the expected address, else -1 (with
 * the exception set when there is one). */
static int lookup(dns_bench *b, long i)
{
    aio_future *fut = aio_loop_getaddrinfo(
        b->loop, &(aio_loop_getaddrinfo_args){.host = host_of(b, i), .port = "80"});
    if (fut == NULL)
        return -1;
    const aio_addrinfo_list *list = aio_await(fut);
    int rc = -1;
    if (list == NULL) {
        if (!aio_err_occurred())
            fprintf(stderr, "bench: getaddrinfo(%s) gave no list\n", host_of(b, i));
    } else if (list->len == 0 || strcmp(list->items[0].sockaddr.host, addr_of(b, i)) != 0) {
        fprintf(stderr, "bench: getaddrinfo(%s) gave %zu entries, the first %s; expected %s\n",
                host_of(b, i), list->len, list->len ? list->items[0].sockaddr.host : "-",
                addr_of(b, i));
    } else {
        b->entries = list->len;
        rc = 0;
    }
    aio_decref(fut);
    return rc;
}

static void *worker_coro(void *arg)
{
    worker *w = arg;
    dns_bench *b = w->b;
    for (long i = w->first; i < b->total; i += b->concurrency) {
        if (lookup(b, i) < 0) {
            b->failed++;
            return NULL; /* with the exception, if any: gather raises it */
        }
        b->answered++;
    }
    return w;
}

static void *main_coro(void *arg)
{
    dns_bench *b = arg;
    if (lookup(b, 0) < 0) /* untimed: starts c-ares, checks the answer */
        return NULL;
    long n = b->concurrency < b->total ? b->concurrency : b->total;
    worker *workers = calloc((size_t)n, sizeof *workers);
    aio_future **tasks = calloc((size_t)n, sizeof *tasks);
    if (workers == NULL || tasks == NULL) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    double t0 = bench_now();
    for (long w = 0; w < n; w++) {
        workers[w] = (worker){.b = b, .first = w};
        aio_task *t = aio_loop_create_task(
            b->loop, &(aio_loop_create_task_args){.coro = worker_coro, .coro_arg = &workers[w]});
        if (t == NULL)
            bench_die("create_task");
        tasks[w] = (aio_future *)t;
    }
    aio_future *all = aio_gather(tasks, (size_t)n, NULL);
    if (all == NULL)
        bench_die("gather");
    void *r = aio_await(all);
    b->seconds = bench_now() - t0;
    aio_decref(all);
    for (long w = 0; w < n; w++)
        aio_decref(tasks[w]);
    free(tasks);
    free(workers);
    return r;
}

int main(int argc, char **argv)
{
    long total = argc > 1 ? strtol(argv[1], NULL, 10) : 50000;
    long concurrency = argc > 2 ? strtol(argv[2], NULL, 10) : 100;
    if (total < 1)
        total = 1;
    if (concurrency < 1)
        concurrency = 1;
    static dns_bench b;
    b.total = total;
    b.concurrency = concurrency;
    aio_loop *loop = aio_new_event_loop();
    if (loop == NULL)
        bench_die("new_event_loop");
    b.loop = loop;

#ifdef DNS_SERVER
    static dns_record zone[DNS_NAMES];
    for (int i = 0; i < DNS_NAMES; i++) {
        snprintf(b.names[i], sizeof b.names[i], "h%d.bench.test", i);
        snprintf(b.addrs[i], sizeof b.addrs[i], "10.0.%d.%d", i / 250, i % 250 + 1);
        zone[i] = (dns_record){b.names[i], DNS_A, b.addrs[i], 0};
    }
    dns_server *server = dns_server_start(zone, DNS_NAMES);
    if (server == NULL) {
        fprintf(stderr, "bench: cannot start the DNS server\n");
        return 1;
    }
    /* Room for every query in flight and more (the default, ~208 KiB, holds
     * under 200 small datagrams on Linux: 2 * 100 could overflow it). */
    int rcvbuf = 4 << 20;
    setsockopt(server->udp, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    char servers[32];
    snprintf(servers, sizeof servers, "127.0.0.1:%d", dns_server_port(server));
    if (aio_loop_set_resolver_options(
            loop, &(aio_resolver_options){.servers = servers, .lookups = "b", .no_search = true}) < 0)
        bench_die("set_resolver_options");
#endif

    aio_task *task =
        aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = main_coro, .coro_arg = &b});
    if (task == NULL)
        bench_die("create_task");
    if (aio_loop_run_until_complete(loop, task) == NULL)
        bench_die("the lookups");
    if (b.answered != total || b.failed != 0) {
        fprintf(stderr, "bench: %ld lookups answered, %ld failed; expected %ld\n", b.answered,
                b.failed, total);
        return 1;
    }
    aio_decref(task);
    aio_loop_close(loop);
    aio_decref(loop);

    printf("BENCH impl=casyncio workload=" WORKLOAD " n=%ld seconds=%.9f ops_per_sec=%.1f "
           "concurrency=%ld entries=%zu",
           total, b.seconds, (double)total / b.seconds, concurrency, b.entries);
#ifdef DNS_SERVER
    /* Each datagram lost costs one retry of c-ares, after its timeout (5 s
     * by default): a query the server's socket dropped (not counted by the
     * server, its retry is), or a reply c-ares's socket dropped (the retry
     * is one query more). The warm-up lookup's two queries are left out. */
    unsigned queries = dns_server_queries(server) - 2;
    unsigned long drops = udp_drops(dns_server_port(server));
    unsigned long retries = drops + (queries > 2 * total ? queries - 2 * (unsigned long)total : 0);
    printf(" queries=%u retries=%lu", queries, retries);
    if (retries > 0)
        fprintf(stderr, "bench: c-ares retried %lu times (datagrams lost); the time includes "
                        "its timeouts\n", retries);
    dns_server_stop(server);
#endif
    printf("\n");
    fflush(stdout);
    return 0;
}
