/* loop.getaddrinfo() and loop.getnameinfo() with service names, which come
 * from the machine's services database (/etc/services, from Debian's
 * netbase): a service name as the port of a numeric host and of host None,
 * with and without a socket type (a TCP-only service gives its TCP entry
 * alone), and getnameinfo() naming the port without NI_NUMERICSERV, with
 * NI_DGRAM, and a port that has no name. The trace assumes the standard
 * entries: http 80/tcp, https 443/tcp, domain 53/tcp and 53/udp, no name for
 * port 12345. Hosts are numeric or None: no hosts file, no DNS server. The
 * errors of services (unknown, AI_NUMERICSERV, SOCK_RAW) are in dns_local.
 * requires: /etc/services */
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "conformance.h"

typedef struct addrinfo_case {
    const char *label, *host, *port;
    int family, type, proto, flags;
} addrinfo_case;

static const addrinfo_case addrinfo_cases[] = {
    {"ipv6 https", "::1", "https", 0, SOCK_STREAM, 0, 0},
    {"none passive inet6 http", NULL, "http", AF_INET6, 0, 0, AI_PASSIVE},
    {"http", "127.0.0.1", "http", 0, 0, 0, 0},
    {"domain", "127.0.0.1", "domain", 0, 0, 0, 0},
    {"domain dgram", "127.0.0.1", "domain", 0, SOCK_DGRAM, 0, 0},
};

typedef struct nameinfo_case {
    const char *label;
    aio_address sockaddr;
    int flags;
} nameinfo_case;

static const nameinfo_case nameinfo_cases[] = {
    {"numeric", {.host = "127.0.0.1", .port = 80}, NI_NUMERICHOST},
    {"numeric https", {.host = "127.0.0.1", .port = 443}, NI_NUMERICHOST},
    {"numeric ipv6 dgram", {.host = "::1", .port = 53}, NI_NUMERICHOST | NI_DGRAM},
    {"numeric unknown port", {.host = "::1", .port = 12345}, NI_NUMERICHOST},
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
