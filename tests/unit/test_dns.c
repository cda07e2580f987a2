/* test_dns.c - loop.getaddrinfo() and loop.getnameinfo() (dns.c).
 *
 * Local lookups (numeric hosts, host=None, AI_NUMERICHOST, service names,
 * /etc/hosts names, every error of the service or the hints) are checked
 * against the system's getaddrinfo()/getnameinfo() called directly here,
 * which is what asyncio runs in its executor. Names are resolved against the
 * loopback DNS server of dns_server.h, the resolver pointed at it with
 * aio_loop_set_resolver_options(); the expected error codes are those glibc
 * gives for the same answers (checked by hand with _res pointed at the same
 * server): NXDOMAIN -2, NODATA -5, SERVFAIL / REFUSED / no answer -3.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "test_support.h"
#include "dns_server.h"

/* --- Helpers ------------------------------------------------------------------------ */

typedef struct query {
    const char *host;
    const char *port;
    int family, type, proto, flags;
} query;

/* Python's repr of one getaddrinfo() tuple, numbers for the enums, plus a
 * newline. */
static void format_entry(char *out, size_t size, int family, int type, int proto,
                         const char *canon, const char *host, int port, unsigned flowinfo,
                         unsigned scope_id)
{
    size_t len = strlen(out);
    if (family == AF_INET6)
        snprintf(out + len, size - len, "(%d, %d, %d, '%s', ('%s', %d, %u, %u))\n", family, type,
                 proto, canon, host, port, flowinfo, scope_id);
    else
        snprintf(out + len, size - len, "(%d, %d, %d, '%s', ('%s', %d))\n", family, type, proto,
                 canon, host, port);
}

static void format_list(const aio_addrinfo_list *list, char *out, size_t size)
{
    out[0] = '\0';
    for (size_t i = 0; i < list->len; i++) {
        const aio_addrinfo *a = &list->items[i];
        assert_non_null(a->canonname);
        assert_non_null(a->sockaddr.host);
        format_entry(out, size, a->family, a->type, a->proto, a->canonname, a->sockaddr.host,
                     a->sockaddr.port, a->sockaddr.flowinfo, a->sockaddr.scope_id);
    }
}

/* What socket.getaddrinfo() returns for q, formatted; the gai error code. */
static int system_getaddrinfo(const query *q, char *out, size_t size)
{
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = q->family;
    hints.ai_socktype = q->type;
    hints.ai_protocol = q->proto;
    hints.ai_flags = q->flags;
    out[0] = '\0';
    int rc = getaddrinfo(q->host, q->port, &hints, &ai);
    if (rc != 0)
        return rc;
    for (const struct addrinfo *p = ai; p != NULL; p = p->ai_next) {
        char host[NI_MAXHOST];
        assert_int_equal(getnameinfo(p->ai_addr, p->ai_addrlen, host, sizeof host, NULL, 0,
                                     NI_NUMERICHOST),
                         0);
        const char *canon = p->ai_canonname ? p->ai_canonname : "";
        if (p->ai_family == AF_INET6) {
            const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)p->ai_addr;
            format_entry(out, size, p->ai_family, p->ai_socktype, p->ai_protocol, canon, host,
                         ntohs(s6->sin6_port), ntohl(s6->sin6_flowinfo), s6->sin6_scope_id);
        } else {
            const struct sockaddr_in *s4 = (const struct sockaddr_in *)p->ai_addr;
            format_entry(out, size, p->ai_family, p->ai_socktype, p->ai_protocol, canon, host,
                         ntohs(s4->sin_port), 0, 0);
        }
    }
    freeaddrinfo(ai);
    return 0;
}

/* A query: Q(host, port, .family = ..., .type = ..., .proto = ..., .flags = ...). */
#define Q(h, p, ...) (&(query){.host = (h), .port = (p), __VA_ARGS__})

static aio_future *start_getaddrinfo(aio_loop *loop, const query *q)
{
    aio_future *fut = aio_loop_getaddrinfo(
        loop, &(aio_loop_getaddrinfo_args){.host = q->host, .port = q->port, .family = q->family,
                                           .type = q->type, .proto = q->proto,
                                           .flags = q->flags});
    check_no_exception();
    assert_non_null(fut);
    return fut;
}

/* loop.getaddrinfo(q), run to its end; the future, a new reference. */
static aio_future *resolve(aio_loop *loop, const query *q)
{
    aio_future *fut = start_getaddrinfo(loop, q);
    run_until_future_done(loop, fut);
    return fut;
}

/* The future holds socket.gaierror(code, gai_strerror(code)). */
static void assert_gaierror_(aio_future *fut, int code, const char *file, int line)
{
    assert_int_equal(aio_future_done(fut), 1);
    assert_int_equal(aio_future_cancelled(fut), 0);
    aio_exc *exc = aio_future_exception(fut);
    check_no_exception();
    if (exc == NULL) {
        fprintf(stderr, "%s:%d: expected gaierror %d, got a result\n", file, line, code);
        fail();
    }
    char expected[256];
    snprintf(expected, sizeof expected, "[Errno %d] %s", code, gai_strerror(code));
    if (!aio_exc_isinstance(exc, aio_socket_gaierror) || aio_exc_errno(exc) != code ||
        strcmp(aio_exc_str(exc), expected) != 0) {
        char repr[256];
        fprintf(stderr, "%s:%d: expected gaierror(%s), got %s\n", file, line, expected,
                repr_copy(exc, repr, sizeof repr));
        fail();
    }
    assert_true(aio_exc_isinstance(exc, aio_OSError));
    /* result() raises it too */
    assert_null(aio_future_result(fut));
    assert_raised(aio_socket_gaierror, expected);
}
#define assert_gaierror(fut, code) assert_gaierror_((fut), (code), __FILE__, __LINE__)

/* The future's result, formatted (it must have one). */
static const char *result_text(aio_future *fut, char *out, size_t size)
{
    assert_int_equal(aio_future_done(fut), 1);
    aio_addrinfo_list *list = aio_future_result(fut);
    check_no_exception();
    assert_non_null(list);
    format_list(list, out, size);
    return out;
}

/* loop.getaddrinfo(q) gives exactly what socket.getaddrinfo(q) gives. */
static void assert_like_system_(aio_loop *loop, const query *q, const char *file, int line)
{
    static char expected[16384], got[16384];
    int rc = system_getaddrinfo(q, expected, sizeof expected);
    aio_future *fut = resolve(loop, q);
    if (rc != 0) {
        assert_gaierror_(fut, rc, file, line);
    } else {
        result_text(fut, got, sizeof got);
        if (strcmp(expected, got) != 0) {
            fprintf(stderr,
                    "%s:%d: getaddrinfo(%s, %s, family=%d, type=%d, proto=%d, flags=%#x)\n"
                    "system:\n%sloop:\n%s",
                    file, line, q->host ? q->host : "None", q->port ? q->port : "None",
                    q->family, q->type, q->proto, q->flags, expected, got);
            fail();
        }
        assert_true(expected[0] != '\0');
    }
    aio_decref(fut);
}
#define assert_like_system(loop, h, p, ...) \
    assert_like_system_((loop), Q((h), (p), __VA_ARGS__), __FILE__, __LINE__)

/* loop.getaddrinfo(q) fails with gaierror(code). */
#define assert_resolve_fails(loop, code, h, p, ...)                    \
    do {                                                              \
        aio_future *fut_ = resolve((loop), Q((h), (p), __VA_ARGS__)); \
        assert_gaierror(fut_, (code));                                \
        aio_decref(fut_);                                             \
    } while (0)

/* loop.getaddrinfo(q) gives `expected` (entries in order). */
#define assert_resolves_to(loop, expected, h, p, ...)                          \
    do {                                                                       \
        char got_[4096];                                                       \
        aio_future *fut_ = resolve((loop), Q((h), (p), __VA_ARGS__));          \
        assert_string_equal(result_text(fut_, got_, sizeof got_), (expected)); \
        aio_decref(fut_);                                                      \
    } while (0)

static aio_future *start_getnameinfo(aio_loop *loop, const char *host, int port, int flags)
{
    aio_address addr = {.host = host, .port = port};
    aio_future *fut = aio_loop_getnameinfo(
        loop, &(aio_loop_getnameinfo_args){.sockaddr = &addr, .flags = flags});
    check_no_exception();
    assert_non_null(fut);
    return fut;
}

/* loop.getnameinfo((host, port), flags) gives (exp_host, exp_port). */
static void assert_nameinfo(aio_loop *loop, const char *host, int port, int flags,
                            const char *exp_host, const char *exp_port)
{
    aio_future *fut = start_getnameinfo(loop, host, port, flags);
    run_until_future_done(loop, fut);
    aio_nameinfo *info = aio_future_result(fut);
    check_no_exception();
    assert_non_null(info);
    assert_string_equal(info->host, exp_host);
    assert_string_equal(info->port, exp_port);
    aio_decref(fut);
}

static void assert_nameinfo_fails(aio_loop *loop, const char *host, int port, int flags,
                                  int code)
{
    aio_future *fut = start_getnameinfo(loop, host, port, flags);
    run_until_future_done(loop, fut);
    assert_gaierror(fut, code);
    aio_decref(fut);
}

/* What socket.getnameinfo((host, port), flags) gives, into host/serv: the
 * sockaddr of getaddrinfo(host, port, AI_NUMERICHOST), flowinfo and scope_id
 * then set from the tuple (0 here), as socketmodule.c does. */
static int system_getnameinfo(const char *addr, int port, int flags, char *host, char *serv)
{
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICHOST;
    int rc = getaddrinfo(addr, portstr, &hints, &ai);
    if (rc != 0)
        return rc;
    if (ai->ai_family == AF_INET6) {
        ((struct sockaddr_in6 *)ai->ai_addr)->sin6_flowinfo = 0;
        ((struct sockaddr_in6 *)ai->ai_addr)->sin6_scope_id = 0;
    }
    rc = getnameinfo(ai->ai_addr, ai->ai_addrlen, host, NI_MAXHOST, serv, NI_MAXSERV, flags);
    freeaddrinfo(ai);
    return rc;
}

static void assert_nameinfo_like_system(aio_loop *loop, const char *addr, int port, int flags)
{
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    int rc = system_getnameinfo(addr, port, flags, host, serv);
    if (rc != 0)
        assert_nameinfo_fails(loop, addr, port, flags, rc);
    else
        assert_nameinfo(loop, addr, port, flags, host, serv);
}

/* --- The loopback DNS server -------------------------------------------------------- */

static const dns_record zone[] = {
    {"host.test", DNS_A, "10.0.0.1", 60},
    {"host6.test", DNS_AAAA, "2001:db8::1", 60},
    {"dual.test", DNS_A, "10.0.0.2", 60},
    {"dual.test", DNS_AAAA, "2001:db8::2", 60},
    {"two.test", DNS_A, "10.0.0.3", 60},
    {"two.test", DNS_A, "10.0.0.4", 60},
    {"alias.test", DNS_CNAME, "alias2.test", 60},
    {"alias2.test", DNS_CNAME, "host.test", 60},
    {"nodata.test", DNS_PTR, "elsewhere.test", 60}, /* a name without addresses */
    {"gone.test", DNS_NXDOMAIN, NULL, 0},
    {"broken.test", DNS_SERVFAIL, NULL, 0},
    {"refused.test", DNS_REFUSED, NULL, 0},
    {"silent.test", DNS_DROP, NULL, 0},
    {"big.test", DNS_TRUNCATE, NULL, 0},
    {"big.test", DNS_A, "10.0.1.1", 60},
    {"big.test", DNS_AAAA, "2001:db8::11", 60},
    {"1.0.0.10.in-addr.arpa", DNS_PTR, "host.test", 60},
    {"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", DNS_PTR,
     "host6.test", 60},
    {"5.0.0.10.in-addr.arpa", DNS_SERVFAIL, NULL, 0},
    {"6.0.0.10.in-addr.arpa", DNS_DROP, NULL, 0},
};

static dns_server *start_server(const dns_record *records, size_t n)
{
    dns_server *s = dns_server_start(records, n);
    assert_non_null(s);
    return s;
}

/* A loop whose resolver asks only s, names as given, one try of `timeout`
 * seconds. */
static aio_loop *server_loop_timeout(dns_server *s, double timeout)
{
    char servers[64];
    snprintf(servers, sizeof servers, "127.0.0.1:%d", dns_server_port(s));
    aio_loop *loop = new_loop();
    assert_int_equal(aio_loop_set_resolver_options(
                         loop, &(aio_resolver_options){.servers = servers,
                                                       .lookups = "b",
                                                       .no_search = true,
                                                       .timeout = timeout,
                                                       .tries = 1}),
                     0);
    check_no_exception();
    return loop;
}

static aio_loop *server_loop(dns_server *s)
{
    return server_loop_timeout(s, 0.2);
}

static dns_server *start_zone(void)
{
    return start_server(zone, sizeof zone / sizeof zone[0]);
}

/* ======================================================================================
 * Local lookups: what the system answers without asking anyone.
 * ====================================================================================== */

static void test_numeric_ipv4(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_like_system(loop, "127.0.0.1", "80");
    assert_like_system(loop, "127.0.0.1", NULL);
    assert_like_system(loop, "127.0.0.1", "0");
    assert_like_system(loop, "10.1.2.3", "65535", .type = SOCK_STREAM);
    assert_like_system(loop, "127.1", "80"); /* inet_aton's short forms */
    assert_like_system(loop, "0.0.0.0", "8080", .type = SOCK_DGRAM);
    /* Python's view of it, spelled out once */
    assert_resolves_to(loop,
                       "(2, 1, 6, '', ('127.0.0.1', 80))\n"
                       "(2, 2, 17, '', ('127.0.0.1', 80))\n"
                       "(2, 3, 0, '', ('127.0.0.1', 80))\n",
                       "127.0.0.1", "80");
    finish(loop);
}

static void test_numeric_ipv6(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_like_system(loop, "::1", "80");
    assert_like_system(loop, "::1", "http");
    assert_like_system(loop, "2001:db8::5", "443", .type = SOCK_STREAM);
    assert_like_system(loop, "::ffff:10.0.0.1", "53", .type = SOCK_DGRAM);
    assert_like_system(loop, "fe80::1%lo", "80", .type = SOCK_STREAM); /* a scope id */
    assert_resolves_to(loop, "(10, 1, 6, '', ('::1', 80, 0, 0))\n", "::1", "http");
    finish(loop);
}

static void test_numeric_hosts_no_resolver(void **state)
{
    (void)state;
    /* numeric hosts never reach c-ares, nor any server */
    dns_server *s = start_server(NULL, 0);
    aio_loop *loop = server_loop(s);
    assert_like_system(loop, "127.0.0.1", "80");
    assert_like_system(loop, "::1", NULL);
    assert_like_system(loop, NULL, "80", .flags = AI_PASSIVE);
    assert_like_system(loop, "127.0.0.1", "http", .flags = AI_CANONNAME);
    assert_int_equal(dns_server_queries(s), 0);
    finish(loop);
    dns_server_stop(s);
}

static void test_host_none(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_like_system(loop, NULL, "80", .flags = AI_PASSIVE);
    assert_like_system(loop, NULL, "80");
    assert_like_system(loop, NULL, "http", .flags = AI_PASSIVE, .family = AF_INET6);
    assert_like_system(loop, NULL, "0", .flags = AI_PASSIVE, .type = SOCK_STREAM);
    assert_like_system(loop, NULL, "53", .family = AF_INET, .type = SOCK_DGRAM);
    /* neither host nor port: EAI_NONAME; None and AI_CANONNAME: EAI_BADFLAGS */
    assert_like_system(loop, NULL, NULL);
    assert_resolve_fails(loop, EAI_NONAME, NULL, NULL);
    assert_like_system(loop, NULL, "80", .flags = AI_CANONNAME);
    assert_resolve_fails(loop, EAI_BADFLAGS, NULL, "80", .flags = AI_CANONNAME);
    assert_resolves_to(loop,
                       "(2, 1, 6, '', ('0.0.0.0', 80))\n"
                       "(10, 1, 6, '', ('::', 80, 0, 0))\n",
                       NULL, "80", .flags = AI_PASSIVE, .type = SOCK_STREAM);
    finish(loop);
}

static void test_numerichost_with_a_name(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_like_system(loop, "localhost", "80", .flags = AI_NUMERICHOST);
    aio_future *fut = resolve(loop, Q("localhost", "80", .flags = AI_NUMERICHOST));
    assert_gaierror(fut, EAI_NONAME);
    assert_int_equal(EAI_NONAME, -2);
    assert_string_equal(gai_strerror(EAI_NONAME), "Name or service not known");
    aio_decref(fut);
    assert_resolve_fails(loop, EAI_NONAME, "host.test", NULL, .flags = AI_NUMERICHOST);
    assert_resolve_fails(loop, EAI_NONAME, "", "80");
    assert_like_system(loop, "", "80");
    /* the gaierror is already there when the future is returned */
    fut = start_getaddrinfo(loop, Q("localhost", "80", .flags = AI_NUMERICHOST));
    assert_int_equal(aio_future_done(fut), 1);
    assert_gaierror(fut, EAI_NONAME);
    aio_decref(fut);
    finish(loop);
}

static void test_canonname(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_like_system(loop, "127.0.0.1", "80", .flags = AI_CANONNAME);
    assert_like_system(loop, "::1", NULL, .flags = AI_CANONNAME);
    assert_like_system(loop, "localhost", "80", .flags = AI_CANONNAME);
    assert_like_system(loop, "localhost", "http", .flags = AI_CANONNAME, .type = SOCK_STREAM);
    /* only the first entry has it */
    assert_resolves_to(loop,
                       "(2, 1, 6, '127.0.0.1', ('127.0.0.1', 80))\n"
                       "(2, 2, 17, '', ('127.0.0.1', 80))\n"
                       "(2, 3, 0, '', ('127.0.0.1', 80))\n",
                       "127.0.0.1", "80", .flags = AI_CANONNAME);
    finish(loop);
}

static void test_services(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_like_system(loop, "127.0.0.1", "http");
    assert_like_system(loop, "127.0.0.1", "domain");
    assert_like_system(loop, "127.0.0.1", "domain", .type = SOCK_DGRAM);
    assert_like_system(loop, "::1", "https", .type = SOCK_STREAM);
    assert_like_system(loop, "localhost", "domain");
    assert_like_system(loop, "127.0.0.1", "8080");
    assert_like_system(loop, "127.0.0.1", "80", .flags = AI_NUMERICSERV);
    assert_resolves_to(loop,
                       "(2, 1, 6, '', ('127.0.0.1', 53))\n"
                       "(2, 2, 17, '', ('127.0.0.1', 53))\n",
                       "127.0.0.1", "domain");
    finish(loop);
}

static void test_bad_service(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_like_system(loop, "127.0.0.1", "nosuchservice");
    aio_future *fut = resolve(loop, Q("127.0.0.1", "nosuchservice"));
    assert_gaierror(fut, EAI_SERVICE);
    assert_int_equal(EAI_SERVICE, -8);
    assert_string_equal(gai_strerror(EAI_SERVICE), "Servname not supported for ai_socktype");
    aio_decref(fut);
    /* checked before the host, even a name */
    assert_like_system(loop, "localhost", "nosuchservice");
    assert_resolve_fails(loop, EAI_SERVICE, "no-such-host.invalid", "nosuchservice");
    /* a service of no protocol for SOCK_RAW */
    assert_like_system(loop, "127.0.0.1", "http", .type = SOCK_RAW);
    assert_like_system(loop, "127.0.0.1", "80", .type = SOCK_RAW);
    assert_like_system(loop, "localhost", "80", .type = SOCK_RAW);
    /* AI_NUMERICSERV with a service name */
    assert_like_system(loop, "127.0.0.1", "http", .flags = AI_NUMERICSERV);
    finish(loop);
}

static void test_numericserv_name_with_a_name(void **state)
{
    (void)state;
    /* The service is rejected before anything is asked, whatever the host. */
    dns_server *s = start_zone();
    aio_loop *loop = server_loop(s);
    assert_like_system(loop, "localhost", "http", .flags = AI_NUMERICSERV);
    assert_resolve_fails(loop, EAI_NONAME, "host.test", "http", .flags = AI_NUMERICSERV);
    assert_resolve_fails(loop, EAI_NONAME, "silent.test", "http", .flags = AI_NUMERICSERV);
    assert_int_equal(dns_server_queries(s), 0);
    assert_resolves_to(loop, "(2, 1, 6, '', ('10.0.0.1', 80))\n", "host.test", "80",
                       .type = SOCK_STREAM, .flags = AI_NUMERICSERV);
    finish(loop);
    dns_server_stop(s);
}

static void test_filters(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    /* family */
    assert_like_system(loop, "127.0.0.1", "80", .family = AF_INET);
    assert_like_system(loop, "::1", "80", .family = AF_INET6);
    assert_like_system(loop, "127.0.0.1", "80", .family = AF_INET6);
    assert_resolve_fails(loop, EAI_ADDRFAMILY, "127.0.0.1", "80", .family = AF_INET6);
    assert_like_system(loop, "::1", "80", .family = AF_INET);
    assert_like_system(loop, "127.0.0.1", "80", .family = AF_UNIX);
    assert_like_system(loop, "localhost", "80", .family = AF_UNIX);
    assert_like_system(loop, "127.0.0.1", "80", .family = 12345);
    assert_like_system(loop, "localhost", "80", .family = AF_INET);
    assert_like_system(loop, NULL, "80", .family = AF_INET6, .flags = AI_PASSIVE);
    assert_like_system(loop, "127.0.0.1", "80", .family = AF_INET6, .flags = AI_V4MAPPED);
    /* type */
    assert_like_system(loop, "127.0.0.1", "80", .type = SOCK_STREAM);
    assert_like_system(loop, "127.0.0.1", "80", .type = SOCK_DGRAM);
    assert_like_system(loop, "127.0.0.1", NULL, .type = SOCK_RAW);
    assert_like_system(loop, "127.0.0.1", "80", .type = 12345);
    assert_like_system(loop, "localhost", "80", .type = 12345);
    assert_like_system(loop, "localhost", "80", .type = SOCK_DGRAM);
    /* proto */
    assert_like_system(loop, "127.0.0.1", "80", .proto = IPPROTO_UDP);
    assert_like_system(loop, "127.0.0.1", "80", .proto = IPPROTO_TCP);
    assert_like_system(loop, "127.0.0.1", "80", .type = SOCK_STREAM, .proto = IPPROTO_UDP);
    assert_like_system(loop, "127.0.0.1", "80", .proto = 12345);
    assert_like_system(loop, "localhost", "80", .proto = IPPROTO_TCP);
    assert_like_system(loop, "localhost", "80", .type = SOCK_STREAM, .proto = IPPROTO_UDP);
    /* flags */
    assert_like_system(loop, "127.0.0.1", "80", .flags = 0x10000);
    assert_like_system(loop, "localhost", "80", .flags = 0x10000);
    assert_like_system(loop, "localhost", "80", .flags = AI_PASSIVE);
    finish(loop);
}

static void test_localhost(void **state)
{
    (void)state;
    /* the system's configuration: /etc/hosts answers, no server is asked */
    aio_loop *loop = new_loop();
    assert_like_system(loop, "localhost", NULL);
    assert_like_system(loop, "localhost", "80");
    assert_like_system(loop, "localhost", "80", .type = SOCK_STREAM);
    assert_like_system(loop, "LocalHost", "80", .flags = AI_CANONNAME);
    /* whatever /etc/hosts says, localhost is a loopback address */
    aio_future *fut = start_getaddrinfo(loop, Q("localhost", "80", .type = SOCK_STREAM));
    run_until_future_done(loop, fut);
    aio_addrinfo_list *list = aio_future_result(fut);
    assert_non_null(list);
    assert_true(list->len >= 1);
    bool loopback = false;
    for (size_t i = 0; i < list->len; i++) {
        assert_int_equal(list->items[i].type, SOCK_STREAM);
        assert_int_equal(list->items[i].sockaddr.port, 80);
        loopback |= strcmp(list->items[i].sockaddr.host, "127.0.0.1") == 0 ||
                    strcmp(list->items[i].sockaddr.host, "::1") == 0;
    }
    assert_true(loopback);
    aio_decref(fut);
    finish(loop);
}

/* Every name of /etc/hosts resolves as the system resolves it, from the
 * file: the DNS server behind it is never asked. */
static void test_hosts_file_names(void **state)
{
    (void)state;
    FILE *f = fopen("/etc/hosts", "r");
    if (f == NULL)
        skip();
    static char names[64][256];
    size_t n = 0;
    char line[1024];
    while (n < 64 && fgets(line, sizeof line, f) != NULL) {
        char *hash = strchr(line, '#');
        if (hash != NULL)
            *hash = '\0';
        char *save = NULL, *addr = strtok_r(line, " \t\r\n", &save);
        unsigned char buf[16];
        if (addr == NULL || (inet_pton(AF_INET, addr, buf) != 1 &&
                             inet_pton(AF_INET6, addr, buf) != 1))
            continue;
        for (char *name; n < 64 && (name = strtok_r(NULL, " \t\r\n", &save)) != NULL;) {
            bool seen = false;
            for (size_t i = 0; i < n; i++)
                seen |= strcasecmp(names[i], name) == 0;
            if (!seen && strlen(name) < sizeof names[0])
                snprintf(names[n++], sizeof names[0], "%s", name);
        }
    }
    fclose(f);
    dns_server *s = start_server(NULL, 0);
    char servers[64];
    snprintf(servers, sizeof servers, "127.0.0.1:%d", dns_server_port(s));
    aio_loop *loop = new_loop();
    assert_int_equal(aio_loop_set_resolver_options(
                         loop, &(aio_resolver_options){.servers = servers, .lookups = "fb",
                                                       .no_search = true}),
                     0);
    for (size_t i = 0; i < n; i++) {
        assert_like_system(loop, names[i], NULL);
        assert_like_system(loop, names[i], "80", .type = SOCK_STREAM, .flags = AI_CANONNAME);
        assert_like_system(loop, names[i], "domain", .flags = AI_CANONNAME);
    }
    assert_int_equal(dns_server_queries(s), 0);
    finish(loop);
    dns_server_stop(s);
}

static void test_getnameinfo_local(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_nameinfo_like_system(loop, "127.0.0.1", 80, NI_NUMERICHOST);
    assert_nameinfo(loop, "127.0.0.1", 80, NI_NUMERICHOST, "127.0.0.1", "http");
    assert_nameinfo(loop, "127.0.0.1", 80, NI_NUMERICHOST | NI_NUMERICSERV, "127.0.0.1", "80");
    assert_nameinfo(loop, "::1", 53, NI_NUMERICHOST | NI_DGRAM, "::1", "domain");
    assert_nameinfo_like_system(loop, "::1", 8080, NI_NUMERICHOST);
    assert_nameinfo_like_system(loop, "127.0.0.1", 0, NI_NUMERICHOST);
    assert_nameinfo_like_system(loop, "fe80::1%lo", 80, NI_NUMERICHOST);
    /* the tuple's scope_id (0) wins over the one in the string, as in Python */
    assert_nameinfo(loop, "fe80::1%lo", 80, NI_NUMERICHOST, "fe80::1", "http");
    aio_address scoped = {.host = "fe80::1", .port = 80, .scope_id = 1};
    aio_future *fut = aio_loop_getnameinfo(
        loop, &(aio_loop_getnameinfo_args){.sockaddr = &scoped, .flags = NI_NUMERICHOST});
    assert_non_null(fut);
    char ifname[64] = "fe80::1%";
    if (if_indextoname(1, ifname + strlen(ifname)) == NULL)
        snprintf(ifname, sizeof ifname, "fe80::1%%1");
    assert_string_equal(((aio_nameinfo *)aio_future_result(fut))->host, ifname);
    aio_decref(fut);
    /* the reverse lookup of a loopback address: /etc/hosts */
    assert_nameinfo_like_system(loop, "127.0.0.1", 80, 0);
    assert_nameinfo_like_system(loop, "127.0.0.1", 53, NI_DGRAM);
    assert_nameinfo_like_system(loop, "127.0.0.1", 80, NI_NUMERICSERV);
    /* the host must be numeric: socket.getnameinfo() asks AI_NUMERICHOST */
    assert_nameinfo_like_system(loop, "localhost", 80, 0);
    assert_nameinfo_fails(loop, "localhost", 80, 0, EAI_NONAME);
    assert_nameinfo_fails(loop, "localhost", 80, NI_NUMERICHOST, EAI_NONAME);
    assert_nameinfo_fails(loop, "", 80, NI_NUMERICHOST, EAI_NONAME);
    /* no sockaddr */
    assert_null(aio_loop_getnameinfo(loop, &(aio_loop_getnameinfo_args){.sockaddr = NULL}));
    assert_raised(aio_TypeError, "getnameinfo() argument 1 must be a tuple");
    finish(loop);
}

/* ======================================================================================
 * Names, against the loopback DNS server.
 * ====================================================================================== */

static void test_a(void **state)
{
    (void)state;
    dns_server *s = start_zone();
    aio_loop *loop = server_loop(s);
    assert_resolves_to(loop, "(2, 1, 6, '', ('10.0.0.1', 80))\n", "host.test", "80",
                       .type = SOCK_STREAM);
    assert_resolves_to(loop,
                       "(2, 1, 6, '', ('10.0.0.1', 0))\n"
                       "(2, 2, 17, '', ('10.0.0.1', 0))\n"
                       "(2, 3, 0, '', ('10.0.0.1', 0))\n",
                       "host.test", NULL, .family = AF_INET);
    assert_resolves_to(loop, "(2, 2, 17, '', ('10.0.0.1', 53))\n", "HOST.test.", "domain",
                       .type = SOCK_DGRAM);
    /* several addresses */
    char got[4096];
    aio_future *fut = resolve(loop, Q("two.test", "80", .type = SOCK_STREAM));
    result_text(fut, got, sizeof got);
    assert_true(strcmp(got, "(2, 1, 6, '', ('10.0.0.3', 80))\n"
                            "(2, 1, 6, '', ('10.0.0.4', 80))\n") == 0 ||
                strcmp(got, "(2, 1, 6, '', ('10.0.0.4', 80))\n"
                            "(2, 1, 6, '', ('10.0.0.3', 80))\n") == 0);
    aio_decref(fut);
    assert_true(dns_server_udp_queries(s) >= 4);
    assert_int_equal(dns_server_tcp_queries(s), 0);
    finish(loop);
    dns_server_stop(s);
}

static void test_aaaa(void **state)
{
    (void)state;
    dns_server *s = start_zone();
    aio_loop *loop = server_loop(s);
    assert_resolves_to(loop, "(10, 1, 6, '', ('2001:db8::1', 443, 0, 0))\n", "host6.test",
                       "443", .family = AF_INET6, .type = SOCK_STREAM);
    assert_resolves_to(loop, "(10, 1, 6, '', ('2001:db8::1', 443, 0, 0))\n", "host6.test",
                       "https", .type = SOCK_STREAM);
    assert_resolves_to(loop, "(10, 2, 17, 'host6.test', ('2001:db8::1', 0, 0, 0))\n",
                       "host6.test", NULL, .type = SOCK_DGRAM, .flags = AI_CANONNAME);
    finish(loop);
    dns_server_stop(s);
}

/* Lines of a and b are the same, in any order. */
static void assert_same_lines(const char *a, const char *b)
{
    char sa[4096], sb[4096];
    const char *in[2] = {a, b};
    char *out[2] = {sa, sb};
    for (int k = 0; k < 2; k++) {
        char lines[32][256];
        size_t n = 0;
        for (const char *p = in[k]; *p && n < 32;) {
            size_t l = strcspn(p, "\n");
            snprintf(lines[n++], sizeof lines[0], "%.*s", (int)l, p);
            p += l + (p[l] == '\n');
        }
        qsort(lines, n, sizeof lines[0], (int (*)(const void *, const void *))strcmp);
        out[k][0] = '\0';
        for (size_t i = 0; i < n; i++) {
            strcat(out[k], lines[i]);
            strcat(out[k], "\n");
        }
    }
    assert_string_equal(sa, sb);
}

static void test_both_families(void **state)
{
    (void)state;
    dns_server *s = start_zone();
    aio_loop *loop = server_loop(s);
    char got[4096];
    aio_future *fut = resolve(loop, Q("dual.test", "80", .type = SOCK_STREAM));
    assert_same_lines(result_text(fut, got, sizeof got),
                      "(2, 1, 6, '', ('10.0.0.2', 80))\n"
                      "(10, 1, 6, '', ('2001:db8::2', 80, 0, 0))\n");
    aio_decref(fut);
    /* the canonical name goes on the first entry, whichever it is */
    fut = resolve(loop, Q("dual.test", "80", .type = SOCK_STREAM, .flags = AI_CANONNAME));
    aio_addrinfo_list *list = aio_future_result(fut);
    assert_non_null(list);
    assert_int_equal(list->len, 2);
    assert_string_equal(list->items[0].canonname, "dual.test");
    assert_string_equal(list->items[1].canonname, "");
    aio_decref(fut);
    /* one family asked: one answer */
    assert_resolves_to(loop, "(2, 1, 6, '', ('10.0.0.2', 80))\n", "dual.test", "80",
                       .family = AF_INET, .type = SOCK_STREAM);
    assert_resolves_to(loop, "(10, 1, 6, '', ('2001:db8::2', 80, 0, 0))\n", "dual.test", "80",
                       .family = AF_INET6, .type = SOCK_STREAM);
    /* family 0 and only one of them: that one */
    assert_resolves_to(loop, "(2, 1, 6, '', ('10.0.0.1', 80))\n", "host.test", "80",
                       .type = SOCK_STREAM);
    assert_resolves_to(loop, "(10, 1, 6, '', ('2001:db8::1', 80, 0, 0))\n", "host6.test", "80",
                       .type = SOCK_STREAM);
    /* every socket type of each address, as for numeric hosts */
    fut = resolve(loop, Q("dual.test", "80"));
    assert_same_lines(result_text(fut, got, sizeof got),
                      "(2, 1, 6, '', ('10.0.0.2', 80))\n"
                      "(2, 2, 17, '', ('10.0.0.2', 80))\n"
                      "(2, 3, 0, '', ('10.0.0.2', 80))\n"
                      "(10, 1, 6, '', ('2001:db8::2', 80, 0, 0))\n"
                      "(10, 2, 17, '', ('2001:db8::2', 80, 0, 0))\n"
                      "(10, 3, 0, '', ('2001:db8::2', 80, 0, 0))\n");
    aio_decref(fut);
    finish(loop);
    dns_server_stop(s);
}

static void test_v4mapped(void **state)
{
    (void)state;
    /* AF_INET6 with AI_V4MAPPED: IPv4 addresses as ::ffff:a.b.c.d when there
     * is no IPv6 one, as glibc does */
    dns_server *s = start_zone();
    aio_loop *loop = server_loop(s);
    assert_resolves_to(loop, "(10, 1, 6, '', ('::ffff:10.0.0.1', 80, 0, 0))\n", "host.test",
                       "80", .family = AF_INET6, .type = SOCK_STREAM, .flags = AI_V4MAPPED);
    assert_resolves_to(loop, "(10, 1, 6, '', ('2001:db8::2', 80, 0, 0))\n", "dual.test", "80",
                       .family = AF_INET6, .type = SOCK_STREAM, .flags = AI_V4MAPPED);
    char got[4096];
    aio_future *fut = resolve(loop, Q("dual.test", "80", .family = AF_INET6,
                                             .type = SOCK_STREAM,
                                             .flags = AI_V4MAPPED | AI_ALL));
    assert_same_lines(result_text(fut, got, sizeof got),
                      "(10, 1, 6, '', ('::ffff:10.0.0.2', 80, 0, 0))\n"
                      "(10, 1, 6, '', ('2001:db8::2', 80, 0, 0))\n");
    aio_decref(fut);
    /* without AF_INET6, AI_V4MAPPED is ignored */
    assert_resolves_to(loop, "(2, 1, 6, '', ('10.0.0.1', 80))\n", "host.test", "80",
                       .type = SOCK_STREAM, .flags = AI_V4MAPPED);
    assert_resolve_fails(loop, EAI_NODATA, "nodata.test", "80", .family = AF_INET6,
                         .flags = AI_V4MAPPED);
    finish(loop);
    dns_server_stop(s);
}

static void test_cname_chain(void **state)
{
    (void)state;
    dns_server *s = start_zone();
    aio_loop *loop = server_loop(s);
    /* the chain's end is the canonical name */
    assert_resolves_to(loop, "(2, 1, 6, 'host.test', ('10.0.0.1', 80))\n", "alias.test", "80",
                       .type = SOCK_STREAM, .flags = AI_CANONNAME);
    assert_resolves_to(loop, "(2, 1, 6, 'host.test', ('10.0.0.1', 80))\n", "alias2.test",
                       "80", .family = AF_INET, .type = SOCK_STREAM, .flags = AI_CANONNAME);
    assert_resolves_to(loop,
                       "(2, 1, 6, 'host.test', ('10.0.0.1', 80))\n"
                       "(2, 2, 17, '', ('10.0.0.1', 80))\n"
                       "(2, 3, 0, '', ('10.0.0.1', 80))\n",
                       "alias.test", "80", .flags = AI_CANONNAME);
    /* without AI_CANONNAME, no name */
    assert_resolves_to(loop, "(2, 1, 6, '', ('10.0.0.1', 80))\n", "alias.test", "80",
                       .type = SOCK_STREAM);
    /* without a CNAME, the name itself */
    assert_resolves_to(loop, "(2, 1, 6, 'host.test', ('10.0.0.1', 80))\n", "host.test", "80",
                       .type = SOCK_STREAM, .flags = AI_CANONNAME);
    finish(loop);
    dns_server_stop(s);
}

static void test_nxdomain(void **state)
{
    (void)state;
    dns_server *s = start_zone();
    aio_loop *loop = server_loop(s);
    assert_resolve_fails(loop, EAI_NONAME, "gone.test", "80");
    assert_resolve_fails(loop, EAI_NONAME, "gone.test", "80", .family = AF_INET);
    assert_resolve_fails(loop, EAI_NONAME, "gone.test", NULL, .family = AF_INET6,
                         .flags = AI_CANONNAME);
    assert_resolve_fails(loop, EAI_NONAME, "unknown.test", "80", .type = SOCK_STREAM);
    assert_true(dns_server_queries(s) >= 4);
    finish(loop);
    dns_server_stop(s);
}

static void test_nodata(void **state)
{
    (void)state;
    dns_server *s = start_zone();
    aio_loop *loop = server_loop(s);
    assert_int_equal(EAI_NODATA, -5);
    assert_resolve_fails(loop, EAI_NODATA, "nodata.test", "80");
    assert_resolve_fails(loop, EAI_NODATA, "nodata.test", "80", .family = AF_INET);
    assert_resolve_fails(loop, EAI_NODATA, "host.test", "80", .family = AF_INET6);
    assert_resolve_fails(loop, EAI_NODATA, "host6.test", "80", .family = AF_INET);
    finish(loop);
    dns_server_stop(s);
}

static void test_servfail_refused(void **state)
{
    (void)state;
    dns_server *s = start_zone();
    aio_loop *loop = server_loop(s);
    assert_int_equal(EAI_AGAIN, -3);
    assert_string_equal(gai_strerror(EAI_AGAIN), "Temporary failure in name resolution");
    assert_resolve_fails(loop, EAI_AGAIN, "broken.test", "80");
    assert_resolve_fails(loop, EAI_AGAIN, "broken.test", "80", .family = AF_INET);
    assert_resolve_fails(loop, EAI_AGAIN, "refused.test", "80", .family = AF_INET6);
    assert_resolve_fails(loop, EAI_AGAIN, "refused.test", "80");
    finish(loop);
    dns_server_stop(s);
}

static void test_no_answer(void **state)
{
    (void)state;
    dns_server *s = start_zone();
    aio_loop *loop = server_loop(s);
    const int families[] = {0, AF_INET, AF_INET6};
    for (size_t i = 0; i < 3; i++) {
        unsigned before = dns_server_udp_queries(s);
        double t0 = monotonic_now();
        aio_future *fut = resolve(loop, Q("silent.test", "80", .family = families[i]));
        double elapsed = monotonic_now() - t0;
        assert_gaierror(fut, EAI_AGAIN);
        aio_decref(fut);
        assert_true(elapsed >= 0.15); /* it waited for the timeout */
        assert_true(elapsed < 2.0);
        assert_true(dns_server_udp_queries(s) > before);
    }
    /* the resolver still works afterwards */
    assert_resolves_to(loop, "(2, 1, 6, '', ('10.0.0.1', 80))\n", "host.test", "80",
                       .type = SOCK_STREAM);
    finish(loop);
    dns_server_stop(s);
}

/* A server nobody listens on: nothing answers (ICMP unreachable or not). */
static void test_no_server(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd); /* the port is now (most likely) free */
    char servers[64];
    snprintf(servers, sizeof servers, "127.0.0.1:%d", ntohs(sa.sin_port));
    aio_loop *loop = new_loop();
    assert_int_equal(aio_loop_set_resolver_options(
                         loop, &(aio_resolver_options){.servers = servers, .lookups = "b",
                                                       .no_search = true, .timeout = 0.2,
                                                       .tries = 1}),
                     0);
    double t0 = monotonic_now();
    aio_future *fut = resolve(loop, Q("host.test", "80"));
    assert_true(monotonic_now() - t0 < 2.0);
    assert_gaierror(fut, EAI_AGAIN);
    aio_decref(fut);
    finish(loop);
}

static void test_truncated_over_tcp(void **state)
{
    (void)state;
    dns_server *s = start_zone();
    aio_loop *loop = server_loop(s);
    assert_resolves_to(loop, "(2, 1, 6, '', ('10.0.1.1', 80))\n", "big.test", "80",
                       .family = AF_INET, .type = SOCK_STREAM);
    assert_true(dns_server_udp_queries(s) >= 1);
    assert_true(dns_server_tcp_queries(s) >= 1);
    unsigned tcp = dns_server_tcp_queries(s);
    char got[4096];
    aio_future *fut = resolve(loop, Q("big.test", "80", .type = SOCK_STREAM));
    assert_same_lines(result_text(fut, got, sizeof got),
                      "(2, 1, 6, '', ('10.0.1.1', 80))\n"
                      "(10, 1, 6, '', ('2001:db8::11', 80, 0, 0))\n");
    aio_decref(fut);
    assert_true(dns_server_tcp_queries(s) >= tcp + 2); /* A and AAAA */
    finish(loop);
    dns_server_stop(s);
}

static void test_getnameinfo_ptr(void **state)
{
    (void)state;
    dns_server *s = start_zone();
    aio_loop *loop = server_loop(s);
    assert_nameinfo(loop, "10.0.0.1", 80, 0, "host.test", "http");
    assert_nameinfo(loop, "10.0.0.1", 80, NI_NUMERICSERV, "host.test", "80");
    assert_nameinfo(loop, "10.0.0.1", 53, NI_DGRAM, "host.test", "domain");
    assert_nameinfo(loop, "10.0.0.1", 80, NI_NAMEREQD, "host.test", "http");
    assert_nameinfo(loop, "10.0.0.1", 12345, 0, "host.test", "12345");
    assert_nameinfo(loop, "2001:db8::1", 443, 0, "host6.test", "https");
    unsigned asked = dns_server_queries(s);
    assert_true(asked >= 6);
    /* NI_NUMERICHOST: nobody is asked */
    assert_nameinfo(loop, "10.0.0.1", 80, NI_NUMERICHOST, "10.0.0.1", "http");
    assert_nameinfo(loop, "2001:db8::1", 80, NI_NUMERICHOST | NI_NUMERICSERV, "2001:db8::1",
                    "80");
    assert_int_equal(dns_server_queries(s), asked);
    /* no PTR: the numeric address, or with NI_NAMEREQD EAI_NONAME */
    assert_nameinfo(loop, "10.0.0.2", 80, 0, "10.0.0.2", "http");
    assert_nameinfo(loop, "2001:db8::2", 80, NI_NUMERICSERV, "2001:db8::2", "80");
    assert_nameinfo_fails(loop, "10.0.0.2", 80, NI_NAMEREQD, EAI_NONAME);
    assert_nameinfo_fails(loop, "2001:db8::2", 80, NI_NAMEREQD, EAI_NONAME);
    /* SERVFAIL, no answer: glibc gives EAI_AGAIN, NI_NAMEREQD or not; c-ares
     * (1.18) turns every failure of the PTR query into "not found", which is
     * the numeric address, or EAI_NONAME with NI_NAMEREQD. Either way the
     * lookup ends, within the resolver's timeout. */
    const char *failing[] = {"10.0.0.5", "10.0.0.6"};
    for (size_t i = 0; i < 2; i++) {
        for (int namereqd = 0; namereqd < 2; namereqd++) {
            double t0 = monotonic_now();
            aio_future *fut = start_getnameinfo(loop, failing[i], 80, namereqd ? NI_NAMEREQD : 0);
            run_until_future_done(loop, fut);
            assert_true(monotonic_now() - t0 < 2.0);
            aio_nameinfo *info = aio_future_result(fut);
            if (info != NULL) {
                assert_false(namereqd);
                assert_string_equal(info->host, failing[i]);
                assert_string_equal(info->port, "http");
            } else {
                aio_exc *exc = aio_err_fetch();
                assert_true(aio_exc_isinstance(exc, aio_socket_gaierror));
                assert_true(aio_exc_errno(exc) == EAI_AGAIN ||
                            (namereqd && aio_exc_errno(exc) == EAI_NONAME));
                aio_decref(exc);
            }
            aio_decref(fut);
        }
    }
    /* a name is not an address */
    assert_nameinfo_fails(loop, "host.test", 80, 0, EAI_NONAME);
    finish(loop);
    dns_server_stop(s);
}

/* --- Many at once ------------------------------------------------------------------- */

#define MANY 200

static void test_many_concurrent(void **state)
{
    (void)state;
    static char names[MANY][32], addrs[MANY][32];
    static dns_record records[MANY];
    for (int i = 0; i < MANY; i++) {
        snprintf(names[i], sizeof names[i], "n%d.test", i);
        snprintf(addrs[i], sizeof addrs[i], "10.1.%d.%d", i / 100, i % 100);
        records[i] = (dns_record){names[i], DNS_A, addrs[i], 60};
    }
    dns_server *s = start_server(records, MANY);
    /* a longer timeout: every query must be answered, even on a slow machine */
    aio_loop *loop = server_loop_timeout(s, 2.0);
    aio_future *futs[MANY];
    for (int i = 0; i < MANY; i++)
        futs[i] = start_getaddrinfo(
            loop, Q(names[i], i % 2 ? "80" : "http", .family = AF_INET, .type = SOCK_STREAM));
    for (int i = 0; i < MANY; i++)
        assert_int_equal(aio_future_done(futs[i]), 0);
    aio_future *all = aio_gather(futs, MANY, &(aio_gather_args){.loop = loop});
    assert_non_null(all);
    assert_non_null(aio_loop_run_until_complete(loop, all));
    check_no_exception();
    for (int i = 0; i < MANY; i++) {
        aio_addrinfo_list *list = aio_future_result(futs[i]);
        check_no_exception();
        assert_non_null(list);
        assert_int_equal(list->len, 1);
        assert_string_equal(list->items[0].sockaddr.host, addrs[i]);
        assert_int_equal(list->items[0].sockaddr.port, 80);
        aio_decref(futs[i]);
    }
    aio_decref(all);
    assert_int_equal(dns_server_queries(s), MANY);
    finish(loop);
    dns_server_stop(s);
}

/* Awaiting lookups from a task: many of each kind, and errors, at once. */
typedef struct mixed {
    int answered, failed;
} mixed;

static void *mixed_coro(void *arg)
{
    mixed *m = arg;
    aio_loop *loop = aio_get_running_loop();
    aio_future *futs[60];
    for (int i = 0; i < 20; i++) {
        futs[3 * i] = start_getaddrinfo(
            loop, Q(i % 2 ? "dual.test" : "alias.test", "80", .type = SOCK_STREAM));
        futs[3 * i + 1] = start_getnameinfo(loop, "10.0.0.1", 80, 0);
        futs[3 * i + 2] = start_getaddrinfo(loop, Q("gone.test", "80"));
    }
    for (int i = 0; i < 60; i++) {
        void *r = aio_await(futs[i]);
        if (i % 3 == 2) {
            assert_null(r);
            assert_raised(aio_socket_gaierror, "[Errno -2] Name or service not known");
            m->failed++;
        } else {
            check_no_exception();
            assert_non_null(r);
            if (i % 3 == 1)
                assert_string_equal(((aio_nameinfo *)r)->host, "host.test");
            m->answered++;
        }
        aio_decref(futs[i]);
    }
    return P(1);
}

static void test_await_from_task(void **state)
{
    (void)state;
    dns_server *s = start_zone();
    aio_loop *loop = server_loop_timeout(s, 2.0);
    mixed m = {0, 0};
    assert_ptr_equal(run_coro(loop, mixed_coro, &m), P(1));
    assert_int_equal(m.answered, 40);
    assert_int_equal(m.failed, 20);
    finish(loop);
    dns_server_stop(s);
}

/* --- Cancelling ------------------------------------------------------------------- */

static void test_cancel_lookup(void **state)
{
    (void)state;
    dns_server *s = start_zone();
    aio_loop *loop = server_loop(s);
    aio_future *fut = start_getaddrinfo(loop, Q("silent.test", "80"));
    run_one_iteration(loop);
    check_no_exception();
    assert_int_equal(aio_future_done(fut), 0);
    assert_int_equal(aio_future_cancel(fut, &(aio_future_cancel_args){0}), 1);
    assert_int_equal(aio_future_cancelled(fut), 1);
    assert_int_equal(aio_future_cancel(fut, &(aio_future_cancel_args){0}), 0);
    assert_null(aio_future_result(fut));
    assert_raised(aio_CancelledError, NULL);
    aio_decref(fut);
    /* nothing is in flight any more: the options can change at once */
    run_one_iteration(loop);
    check_no_exception();
    char servers[64];
    snprintf(servers, sizeof servers, "127.0.0.1:%d", dns_server_port(s));
    assert_int_equal(aio_loop_set_resolver_options(
                         loop, &(aio_resolver_options){.servers = servers, .lookups = "b",
                                                       .no_search = true, .timeout = 0.2,
                                                       .tries = 1}),
                     0);
    /* later lookups work */
    assert_resolves_to(loop, "(2, 1, 6, '', ('10.0.0.1', 80))\n", "host.test", "80",
                       .type = SOCK_STREAM);
    /* cancelling before the loop ever ran */
    fut = start_getaddrinfo(loop, Q("host.test", "80"));
    assert_int_equal(aio_future_cancel(fut, &(aio_future_cancel_args){.msg = "bye"}), 1);
    run_one_iteration(loop);
    assert_int_equal(aio_future_cancelled(fut), 1);
    aio_decref(fut);
    /* a done lookup cannot be cancelled */
    fut = resolve(loop, Q("host.test", "80"));
    assert_int_equal(aio_future_cancel(fut, &(aio_future_cancel_args){0}), 0);
    assert_int_equal(aio_future_cancelled(fut), 0);
    aio_decref(fut);
    finish(loop);
    dns_server_stop(s);
}

/* Cancelling a reverse lookup stops its query too: nothing is left in
 * flight, so the options can change at once. */
static void test_cancel_reverse_lookup(void **state)
{
    (void)state;
    dns_server *s = start_zone();
    aio_loop *loop = server_loop_timeout(s, 5.0);
    aio_future *fut = start_getnameinfo(loop, "10.0.0.6", 80, 0); /* its PTR query is dropped */
    run_one_iteration(loop);
    check_no_exception();
    assert_int_equal(aio_future_done(fut), 0);
    assert_int_equal(aio_future_cancel(fut, &(aio_future_cancel_args){0}), 1);
    assert_int_equal(aio_future_cancelled(fut), 1);
    aio_decref(fut);
    run_one_iteration(loop);
    check_no_exception();
    assert_int_equal(aio_loop_set_resolver_options(loop, NULL), 0);
    finish(loop);
    dns_server_stop(s);
}

static void test_cancel_one_of_several(void **state)
{
    (void)state;
    dns_server *s = start_zone();
    aio_loop *loop = server_loop_timeout(s, 5.0);
    double t0 = monotonic_now();
    aio_future *silent = start_getaddrinfo(loop, Q("silent.test", "80"));
    aio_future *host = start_getaddrinfo(loop, Q("host.test", "80", .type = SOCK_STREAM));
    aio_future *ptr = start_getnameinfo(loop, "10.0.0.1", 80, 0);
    aio_future *gone = start_getaddrinfo(loop, Q("gone.test", "80"));
    assert_int_equal(aio_future_cancel(gone, &(aio_future_cancel_args){0}), 1);
    aio_decref(gone); /* c-ares still holds it until it answers */
    assert_int_equal(aio_future_cancel(silent, &(aio_future_cancel_args){0}), 1);
    run_until_future_done(loop, host);
    run_until_future_done(loop, ptr);
    char got[256];
    assert_string_equal(result_text(host, got, sizeof got), "(2, 1, 6, '', ('10.0.0.1', 80))\n");
    assert_string_equal(((aio_nameinfo *)aio_future_result(ptr))->host, "host.test");
    assert_int_equal(aio_future_cancelled(silent), 1);
    aio_decref(host);
    aio_decref(ptr);
    aio_decref(silent);
    /* once nothing waits for c-ares, the abandoned queries stop: nothing is
     * in flight, long before the 5 s timeout */
    assert_int_equal(aio_loop_set_resolver_options(loop, NULL), 0);
    check_no_exception();
    assert_true(monotonic_now() - t0 < 2.0);
    finish(loop);
    dns_server_stop(s);
}

typedef struct wait_for_case {
    aio_future *fut;
    bool timed_out;
    bool cancelled;
} wait_for_case;

static void *wait_for_coro(void *arg)
{
    wait_for_case *w = arg;
    void *r = aio_wait_for(w->fut, 0.05);
    assert_null(r);
    w->timed_out = aio_err_matches(aio_TimeoutError);
    aio_err_clear();
    w->cancelled = aio_future_cancelled(w->fut) == 1;
    return P(1);
}

static void test_wait_for_lookup(void **state)
{
    (void)state;
    dns_server *s = start_zone();
    aio_loop *loop = server_loop_timeout(s, 5.0);
    wait_for_case w = {start_getaddrinfo(loop, Q("silent.test", "80")), false, false};
    double t0 = monotonic_now();
    assert_ptr_equal(run_coro(loop, wait_for_coro, &w), P(1));
    assert_true(monotonic_now() - t0 < 1.0); /* not the resolver's 5 s */
    assert_true(w.timed_out);
    assert_true(w.cancelled);
    aio_decref(w.fut);
    /* and the resolver goes on */
    assert_resolves_to(loop, "(2, 1, 6, '', ('10.0.0.1', 80))\n", "host.test", "80",
                       .type = SOCK_STREAM);
    finish(loop);
    dns_server_stop(s);
}

static void record_done(aio_future *fut, void *arg)
{
    (void)fut;
    (*(int *)arg)++;
}

static void test_close_with_lookups_in_flight(void **state)
{
    (void)state;
    dns_server *s = start_zone();
    aio_loop *loop = server_loop_timeout(s, 5.0);
    aio_future *a = start_getaddrinfo(loop, Q("silent.test", "80"));
    aio_future *b = start_getaddrinfo(loop, Q("silent.test", NULL, .family = AF_INET));
    aio_future *c = start_getnameinfo(loop, "10.0.0.6", 80, 0);
    /* answered, or not yet: cancelled by close() */
    aio_future *d = start_getaddrinfo(loop, Q("host.test", "80"));
    aio_future *e = start_getaddrinfo(loop, Q("silent.test", "80"));
    assert_int_equal(aio_future_cancel(e, &(aio_future_cancel_args){0}), 1);
    int calls = 0;
    assert_int_equal(aio_future_add_done_callback(
                         a, &(aio_future_add_done_callback_args){.callback = record_done,
                                                                 .callback_arg = &calls}),
                     0);
    run_one_iteration(loop);
    check_no_exception();
    assert_int_equal(aio_future_done(a), 0);
    assert_int_equal(aio_future_done(c), 0);
    assert_int_equal(aio_loop_close(loop), 0);
    check_no_exception();
    aio_future *all[] = {a, b, c, d, e};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(aio_future_done(all[i]), 1);
        assert_int_equal(aio_future_cancelled(all[i]), all[i] != d || !aio_future_result(d));
        aio_err_clear();
        aio_decref(all[i]);
    }
    assert_int_equal(calls, 0); /* the loop is closed: no callback runs */
    aio_decref(loop);
    assert_no_leaks();
    dns_server_stop(s);
}

static void test_close_after_lookups(void **state)
{
    (void)state;
    /* a resolver that was used and is idle, and one never used */
    dns_server *s = start_zone();
    aio_loop *loop = server_loop(s);
    assert_resolves_to(loop, "(2, 1, 6, '', ('10.0.0.1', 80))\n", "host.test", "80",
                       .type = SOCK_STREAM);
    finish(loop);
    loop = server_loop(s);
    finish(loop);
    /* lookups nobody holds any more (c-ares alone does) */
    loop = server_loop_timeout(s, 5.0);
    aio_decref(start_getaddrinfo(loop, Q("silent.test", "80")));
    aio_decref(start_getaddrinfo(loop, Q("host.test", "80")));
    aio_decref(start_getnameinfo(loop, "10.0.0.6", 80, 0));
    run_one_iteration(loop);
    check_no_exception();
    finish(loop);
    dns_server_stop(s);
}

/* --- Options and a closed loop --------------------------------------------------------- */

static void test_resolver_options_errors(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    const char *bad_servers[] = {"not a server", "127.0.0.1:port", "localhost", "300.1.1.1",
                                 "127.0.0.1:"};
    for (size_t i = 0; i < sizeof bad_servers / sizeof bad_servers[0]; i++) {
        char msg[128];
        snprintf(msg, sizeof msg, "invalid resolver servers '%s'", bad_servers[i]);
        assert_int_equal(aio_loop_set_resolver_options(
                             loop, &(aio_resolver_options){.servers = bad_servers[i]}),
                         -1);
        assert_raised(aio_ValueError, msg);
    }
    assert_int_equal(
        aio_loop_set_resolver_options(loop, &(aio_resolver_options){.lookups = "fx"}), -1);
    assert_raised(aio_ValueError, "lookups must be made of 'f' and 'b', not 'fx'");
    assert_int_equal(
        aio_loop_set_resolver_options(loop, &(aio_resolver_options){.lookups = "dns"}), -1);
    assert_raised(aio_ValueError, "lookups must be made of 'f' and 'b', not 'dns'");
    assert_int_equal(
        aio_loop_set_resolver_options(loop, &(aio_resolver_options){.timeout = -1}), -1);
    assert_raised(aio_ValueError, NULL);
    assert_int_equal(aio_loop_set_resolver_options(loop, &(aio_resolver_options){.tries = -1}),
                     -1);
    assert_raised(aio_ValueError, NULL);
    assert_int_equal(aio_loop_set_resolver_options(NULL, NULL), -1);
    assert_raised(aio_TypeError, NULL);
    /* good ones, and back to the system's */
    assert_int_equal(aio_loop_set_resolver_options(
                         loop, &(aio_resolver_options){.servers = "127.0.0.1:5353,[::1]:53",
                                                       .lookups = "bf"}),
                     0);
    assert_int_equal(aio_loop_set_resolver_options(loop, NULL), 0);
    assert_like_system(loop, "localhost", "80");
    finish(loop);
}

static void test_resolver_options_in_flight(void **state)
{
    (void)state;
    dns_server *s = start_zone();
    aio_loop *loop = server_loop(s);
    aio_future *fut = start_getaddrinfo(loop, Q("host.test", "80", .type = SOCK_STREAM));
    assert_int_equal(aio_loop_set_resolver_options(loop, NULL), -1);
    assert_raised(aio_RuntimeError, "resolver options cannot change while lookups are in flight");
    aio_future *rev = start_getnameinfo(loop, "10.0.0.6", 80, 0); /* never answered */
    run_until_future_done(loop, fut);
    assert_int_equal(aio_future_done(rev), 0);
    assert_int_equal(aio_loop_set_resolver_options(loop, NULL), -1); /* the PTR is pending */
    assert_raised(aio_RuntimeError, "resolver options cannot change while lookups are in flight");
    run_until_future_done(loop, rev);
    aio_decref(fut);
    aio_decref(rev);
    /* local lookups are never in flight */
    fut = start_getaddrinfo(loop, Q("127.0.0.1", "80"));
    /* options that take effect at once: the next lookup uses them */
    assert_int_equal(aio_loop_set_resolver_options(
                         loop, &(aio_resolver_options){.servers = "127.0.0.1:1", .lookups = "f"}),
                     0);
    aio_decref(fut);
    assert_resolve_fails(loop, EAI_NONAME, "host.test", "80");
    unsigned asked = dns_server_queries(s);
    finish(loop);
    assert_int_equal(dns_server_queries(s), asked);
    dns_server_stop(s);
}

static void test_closed_loop(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_int_equal(aio_loop_close(loop), 0);
    assert_null(aio_loop_getaddrinfo(loop, &(aio_loop_getaddrinfo_args){.host = "127.0.0.1",
                                                                         .port = "80"}));
    assert_raised(aio_RuntimeError, "Event loop is closed");
    assert_null(aio_loop_getaddrinfo(loop, &(aio_loop_getaddrinfo_args){.host = "localhost"}));
    assert_raised(aio_RuntimeError, "Event loop is closed");
    aio_address addr = {.host = "127.0.0.1", .port = 80};
    assert_null(aio_loop_getnameinfo(loop, &(aio_loop_getnameinfo_args){.sockaddr = &addr}));
    assert_raised(aio_RuntimeError, "Event loop is closed");
    /* nothing to set on a closed loop */
    assert_int_equal(aio_loop_set_resolver_options(
                         loop, &(aio_resolver_options){.servers = "127.0.0.1:53"}),
                     -1);
    assert_raised(aio_RuntimeError, "Event loop is closed");
    aio_decref(loop);
    assert_no_leaks();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_numeric_ipv4),
    cmocka_unit_test(test_numeric_ipv6),
    cmocka_unit_test(test_numeric_hosts_no_resolver),
    cmocka_unit_test(test_host_none),
    cmocka_unit_test(test_numerichost_with_a_name),
    cmocka_unit_test(test_canonname),
    cmocka_unit_test(test_services),
    cmocka_unit_test(test_bad_service),
    cmocka_unit_test(test_numericserv_name_with_a_name),
    cmocka_unit_test(test_filters),
    cmocka_unit_test(test_localhost),
    cmocka_unit_test(test_hosts_file_names),
    cmocka_unit_test(test_getnameinfo_local),
    cmocka_unit_test(test_a),
    cmocka_unit_test(test_aaaa),
    cmocka_unit_test(test_both_families),
    cmocka_unit_test(test_v4mapped),
    cmocka_unit_test(test_cname_chain),
    cmocka_unit_test(test_nxdomain),
    cmocka_unit_test(test_nodata),
    cmocka_unit_test(test_servfail_refused),
    cmocka_unit_test(test_no_answer),
    cmocka_unit_test(test_no_server),
    cmocka_unit_test(test_truncated_over_tcp),
    cmocka_unit_test(test_getnameinfo_ptr),
    cmocka_unit_test(test_many_concurrent),
    cmocka_unit_test(test_await_from_task),
    cmocka_unit_test(test_cancel_lookup),
    cmocka_unit_test(test_cancel_one_of_several),
    cmocka_unit_test(test_cancel_reverse_lookup),
    cmocka_unit_test(test_wait_for_lookup),
    cmocka_unit_test(test_close_with_lookups_in_flight),
    cmocka_unit_test(test_close_after_lookups),
    cmocka_unit_test(test_resolver_options_errors),
    cmocka_unit_test(test_resolver_options_in_flight),
    cmocka_unit_test(test_closed_loop),
};

AIO_TEST_MAIN(tests)
