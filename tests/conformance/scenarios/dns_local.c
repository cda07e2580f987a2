/* loop.getaddrinfo() and loop.getnameinfo() on what is answered without a
 * name server, the hosts file or the services database, so that the trace is
 * the same on every machine: numeric IPv4 and IPv6 hosts, host None with and
 * without AI_PASSIVE, AI_CANONNAME (on the first entry only), numeric ports,
 * family/type/proto filters, and the errors: socket.gaierror's type, errno
 * and text (AI_NUMERICHOST with a name, an unknown service, a family that
 * does not fit, None and None, ...). getnameinfo() with NI_NUMERICHOST |
 * NI_NUMERICSERV and on hosts that are not numeric. Every entry is printed
 * as (family, type, proto, canonname, sockaddr) with the enums as numbers.
 * No DNS server is asked.
 * Names from the hosts file (localhost, the reverse lookup of 127.0.0.1)
 * depend on the machine's /etc/hosts; tests/unit/net/test_dns.c tests those
 * lookups, against hosts files the test controls. Service names ('http',
 * getnameinfo() without NI_NUMERICSERV) come from /etc/services: see
 * dns_services. */
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "conformance.h"

typedef struct addrinfo_case {
    const char *label, *host, *port;
    int family, type, proto, flags;
} addrinfo_case;

static const addrinfo_case addrinfo_cases[] = {
    {"ipv4", "127.0.0.1", "80", 0, 0, 0, 0},
    {"ipv4 no port", "127.0.0.1", NULL, 0, 0, 0, 0},
    {"ipv4 stream", "10.1.2.3", "8080", 0, SOCK_STREAM, 0, 0},
    {"ipv4 udp proto", "127.0.0.1", "53", 0, 0, IPPROTO_UDP, 0},
    {"ipv6", "::1", "80", 0, 0, 0, 0},
    {"ipv6 mapped", "::ffff:10.0.0.1", "53", 0, SOCK_DGRAM, 0, 0},
    {"v4 as v6 mapped", "127.0.0.1", "80", AF_INET6, SOCK_STREAM, 0, AI_V4MAPPED},
    {"none passive", NULL, "80", 0, 0, 0, AI_PASSIVE},
    {"none", NULL, "80", 0, 0, 0, 0},
    {"none stream", NULL, "0", 0, SOCK_STREAM, 0, 0},
    {"canonname ipv4", "127.0.0.1", "80", 0, 0, 0, AI_CANONNAME},
    {"canonname ipv6", "::1", NULL, 0, SOCK_STREAM, 0, AI_CANONNAME},
    {"numericserv", "127.0.0.1", "8080", 0, SOCK_STREAM, 0, AI_NUMERICSERV},
    {"numerichost name", "localhost", "80", 0, 0, 0, AI_NUMERICHOST},
    {"numerichost other name", "no-such-host.invalid", "80", 0, 0, 0, AI_NUMERICHOST},
    {"bad service", "127.0.0.1", "nosuchservice", 0, 0, 0, 0},
    {"bad service name", "localhost", "nosuchservice", 0, 0, 0, 0},
    {"bad service unknown name", "no-such-host.invalid", "nosuchservice", 0, 0, 0, 0},
    {"numericserv name", "localhost", "http", 0, 0, 0, AI_NUMERICSERV},
    {"raw with port", "127.0.0.1", "80", 0, SOCK_RAW, 0, 0},
    {"ipv4 as inet6", "127.0.0.1", "80", AF_INET6, 0, 0, 0},
    {"ipv6 as inet", "::1", "80", AF_INET, 0, 0, 0},
    {"unix family", "127.0.0.1", "80", AF_UNIX, 0, 0, 0},
    {"bad type", "localhost", "80", 0, 12345, 0, 0},
    {"stream udp", "127.0.0.1", "80", 0, SOCK_STREAM, IPPROTO_UDP, 0},
    {"bad flags", "localhost", "80", 0, 0, 0, 0x10000},
    {"empty host", "", "80", 0, 0, 0, 0},
    {"none none", NULL, NULL, 0, 0, 0, 0},
    {"none canonname", NULL, "80", 0, 0, 0, AI_CANONNAME},
};

typedef struct nameinfo_case {
    const char *label;
    aio_address sockaddr;
    int flags;
} nameinfo_case;

static const nameinfo_case nameinfo_cases[] = {
    {"numeric serv", {.host = "127.0.0.1", .port = 80}, NI_NUMERICHOST | NI_NUMERICSERV},
    {"numeric ipv6 dgram serv", {.host = "::1", .port = 53},
     NI_NUMERICHOST | NI_NUMERICSERV | NI_DGRAM},
    {"name", {.host = "localhost", .port = 80}, 0},
    {"name numeric", {.host = "localhost", .port = 80}, NI_NUMERICHOST},
    {"empty", {.host = "", .port = 80}, NI_NUMERICHOST},
};

/* The gaierror that was raised, as the script prints it; anything else is
 * unexpected. */
static void error(const char *label)
{
    aio_exc *e = aio_err_fetch();
    CHECK(e != NULL);
    if (!aio_exc_isinstance(e, aio_socket_gaierror)) {
        aio_err_restore(e);
        CHECK(!"a gaierror");
    }
    printf("%s: %s | errno %d | OSError %s\n", label, exc_line(e), aio_exc_errno(e),
           py_bool(aio_exc_isinstance(e, aio_OSError)));
    aio_decref(e);
}

static void *main_coro(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    for (size_t i = 0; i < sizeof addrinfo_cases / sizeof addrinfo_cases[0]; i++) {
        const addrinfo_case *c = &addrinfo_cases[i];
        aio_future *fut = aio_loop_getaddrinfo(
            loop, &(aio_loop_getaddrinfo_args){.host = c->host, .port = c->port,
                                               .family = c->family, .type = c->type,
                                               .proto = c->proto, .flags = c->flags});
        CHECK(fut);
        aio_addrinfo_list *list = aio_await(fut);
        if (list == NULL) {
            error(c->label);
            aio_decref(fut);
            continue;
        }
        printf("%s: %zu entries\n", c->label, list->len);
        for (size_t k = 0; k < list->len; k++) {
            const aio_addrinfo *a = &list->items[k];
            printf("  %d %d %d '%s' ", a->family, a->type, a->proto, a->canonname);
            if (a->family == AF_INET6)
                printf("('%s', %d, %u, %u)\n", a->sockaddr.host, a->sockaddr.port,
                       a->sockaddr.flowinfo, a->sockaddr.scope_id);
            else
                printf("('%s', %d)\n", a->sockaddr.host, a->sockaddr.port);
        }
        aio_decref(fut);
    }
    for (size_t i = 0; i < sizeof nameinfo_cases / sizeof nameinfo_cases[0]; i++) {
        const nameinfo_case *c = &nameinfo_cases[i];
        aio_future *fut = aio_loop_getnameinfo(
            loop, &(aio_loop_getnameinfo_args){.sockaddr = &c->sockaddr, .flags = c->flags});
        CHECK(fut);
        aio_nameinfo *info = aio_await(fut);
        if (info == NULL)
            error(c->label);
        else
            printf("%s: ('%s', '%s')\n", c->label, info->host, info->port);
        aio_decref(fut);
    }
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    aio_run(main_coro, NULL, NULL);
    if (aio_err_occurred()) {
        aio_err_print();
        return 1;
    }
    return 0;
}
