/* test_dns.c - loop.getaddrinfo() and loop.getnameinfo() (dns.c, hosts.c,
 * addrsort.c).
 *
 * Local lookups (numeric hosts, host=None, AI_NUMERICHOST, service names,
 * every error of the service or the hints) are checked against the system's
 * getaddrinfo()/getnameinfo() called directly here, which is what asyncio
 * runs in its executor. Names are resolved from hosts files the tests write
 * (never the machine's /etc/hosts), with the entries glibc gives for them
 * spelled out, and against the loopback DNS server of dns_server.h, the
 * resolver pointed at it with aio_loop_set_resolver_options(); the expected
 * error codes are those glibc gives for the same answers (checked by hand
 * with _res pointed at the same server): NXDOMAIN -2, NODATA -5, SERVFAIL /
 * REFUSED / no answer -3.
 *
 * Where the machine allows it (root, Linux namespaces), the differential
 * tests also run the system's resolver on the same hosts files: this binary
 * starts itself again inside a private mount namespace where the test's
 * file is /etc/hosts (resolver_sandbox.h), and there compares glibc's
 * answers with the loop's for a table of lookups; in one, inside a network
 * namespace, both also ask the loopback DNS server on port 53. Elsewhere
 * they are skipped, saying why.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <float.h>
#include <math.h>
#include <sys/wait.h>

#include "test_support.h"
#include "dns_server.h"
#include "hosts.h"
#include "resolver_sandbox.h"

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

/* --- Hosts files ------------------------------------------------------------------------- */

/* The Debian installer's /etc/hosts (hostname "debian"), as the bug report
 * has it: glibc answers an IPv4 lookup of localhost from both lines. */
#define DEBIAN_HOSTS "127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n::1\tlocalhost ip6-localhost ip6-loopback\n"

/* This machine's, when the tests were written: IPv4 lines only. */
#define IPV4_ONLY_HOSTS "127.0.0.1 localhost\n127.0.0.1 runsc\n127.0.0.1 vm\n"

/* The test's own files, in a directory made on first use and removed by
 * remove_hosts_files() (each such test's teardown). */
static char hosts_dir[64];
static unsigned hosts_count;

static const char *write_hosts_n(const char *text, size_t len)
{
    if (hosts_dir[0] == '\0') {
        snprintf(hosts_dir, sizeof hosts_dir, "/tmp/casyncio-hosts-XXXXXX");
        assert_non_null(mkdtemp(hosts_dir));
    }
    static char paths[16][96];
    char *path = paths[hosts_count % 16];
    snprintf(path, sizeof paths[0], "%s/hosts%u", hosts_dir, hosts_count++);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

static const char *write_hosts(const char *text)
{
    return write_hosts_n(text, strlen(text));
}

/* A path in the test's directory where no file is. */
static const char *missing_hosts(void)
{
    const char *path = write_hosts("");
    assert_int_equal(unlink(path), 0);
    return path;
}

static int remove_hosts_files(void **state)
{
    (void)state;
    if (hosts_dir[0] != '\0') {
        char path[128];
        for (unsigned i = 0; i < hosts_count; i++) {
            snprintf(path, sizeof path, "%s/hosts%u", hosts_dir, i);
            unlink(path);
        }
        rmdir(hosts_dir);
    }
    hosts_dir[0] = '\0';
    hosts_count = 0;
    return 0;
}

#define hosts_test(f) cmocka_unit_test_teardown(f, remove_hosts_files)

/* A loop that finds names in the hosts file at `path` and asks no one
 * else. */
static aio_loop *hosts_loop(const char *path)
{
    aio_loop *loop = new_loop();
    assert_int_equal(aio_loop_set_resolver_options(
                         loop, &(aio_resolver_options){.hosts_file = path, .lookups = "f"}),
                     0);
    check_no_exception();
    return loop;
}

static aio_loop *hosts_text_loop(const char *text)
{
    return hosts_loop(write_hosts(text));
}

/* A loop that reads the hosts file at `path`, then asks s. */
static aio_loop *hosts_then_server_loop(const char *path, dns_server *s, const char *lookups)
{
    char servers[64];
    snprintf(servers, sizeof servers, "127.0.0.1:%d", dns_server_port(s));
    aio_loop *loop = new_loop();
    assert_int_equal(aio_loop_set_resolver_options(
                         loop, &(aio_resolver_options){.servers = servers,
                                                       .lookups = lookups,
                                                       .hosts_file = path,
                                                       .no_search = true,
                                                       .timeout = 0.5,
                                                       .tries = 1}),
                     0);
    return loop;
}

/* glibc sorts ::1 first when it can reach it (rule 6: precedence 50 over
 * IPv4's 10), last when it cannot (rule 1: machines without IPv6). */
static bool ipv6_loopback_usable(void)
{
    int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons(9)};
    sa.sin6_addr = in6addr_loopback;
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* Appends Python's tuples for `addr` and these socket types ("s" stream,
 * "d" datagram, "r" raw) to out; `canon` goes on the first tuple of out. */
static char *expect(char *out, size_t size, const char *addr, int port, const char *types,
                    const char *canon)
{
    static const struct {
        char letter;
        int type, proto;
    } kinds[] = {{'s', SOCK_STREAM, IPPROTO_TCP}, {'d', SOCK_DGRAM, IPPROTO_UDP}, {'r', SOCK_RAW, 0}};
    int family = strchr(addr, ':') != NULL ? AF_INET6 : AF_INET;
    for (const char *t = types; *t != '\0'; t++) {
        for (size_t k = 0; k < 3; k++) {
            if (kinds[k].letter == *t)
                format_entry(out, size, family, kinds[k].type, kinds[k].proto,
                             out[0] == '\0' && canon != NULL ? canon : "", addr, port, 0, 0);
        }
    }
    return out;
}

/* The Debian layout's answer for localhost of both families: ::1 first
 * where IPv6 works. */
static const char *expect_localhost_both(char *out, size_t size, int port, const char *types,
                                         const char *canon)
{
    out[0] = '\0';
    bool v6 = ipv6_loopback_usable();
    expect(out, size, v6 ? "::1" : "127.0.0.1", port, types, canon);
    return expect(out, size, v6 ? "127.0.0.1" : "::1", port, types, canon);
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
    aio_loop *loop = hosts_text_loop(DEBIAN_HOSTS);
    assert_like_system(loop, "127.0.0.1", "80", .flags = AI_CANONNAME);
    assert_like_system(loop, "::1", NULL, .flags = AI_CANONNAME);
    /* only the first entry has it */
    assert_resolves_to(loop,
                       "(2, 1, 6, '127.0.0.1', ('127.0.0.1', 80))\n"
                       "(2, 2, 17, '', ('127.0.0.1', 80))\n"
                       "(2, 3, 0, '', ('127.0.0.1', 80))\n",
                       "127.0.0.1", "80", .flags = AI_CANONNAME);
    /* a name from the hosts file: the first name of the first line that
     * matched, on the first entry after sorting */
    char want[1024];
    assert_resolves_to(loop, expect_localhost_both(want, sizeof want, 80, "sdr", "localhost"),
                       "localhost", "80", .flags = AI_CANONNAME);
    assert_resolves_to(loop, expect_localhost_both(want, sizeof want, 80, "s", "localhost"),
                       "LocalHost", "http", .flags = AI_CANONNAME, .type = SOCK_STREAM);
    want[0] = '\0';
    assert_resolves_to(loop, expect(want, sizeof want, "127.0.0.1", 80, "s", "localhost"),
                       "ip6-localhost", "80", .family = AF_INET, .type = SOCK_STREAM,
                       .flags = AI_CANONNAME);
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
    assert_like_system(loop, "127.0.0.1", "8080");
    assert_like_system(loop, "127.0.0.1", "80", .flags = AI_NUMERICSERV);
    assert_resolves_to(loop,
                       "(2, 1, 6, '', ('127.0.0.1', 53))\n"
                       "(2, 2, 17, '', ('127.0.0.1', 53))\n",
                       "127.0.0.1", "domain");
    finish(loop);
    /* a name: the service's types for each address */
    loop = hosts_text_loop(DEBIAN_HOSTS);
    char want[1024];
    assert_resolves_to(loop, expect_localhost_both(want, sizeof want, 53, "sd", NULL),
                       "localhost", "domain");
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
    /* Names from the Debian installer's hosts file, where glibc answers an
     * IPv4 lookup of localhost twice: from 127.0.0.1 and from ::1. */
    aio_loop *loop = hosts_text_loop(DEBIAN_HOSTS);
    char want[1024];
    /* family */
    assert_like_system(loop, "127.0.0.1", "80", .family = AF_INET);
    assert_like_system(loop, "::1", "80", .family = AF_INET6);
    assert_like_system(loop, "127.0.0.1", "80", .family = AF_INET6);
    assert_resolve_fails(loop, EAI_ADDRFAMILY, "127.0.0.1", "80", .family = AF_INET6);
    assert_like_system(loop, "::1", "80", .family = AF_INET);
    assert_like_system(loop, "127.0.0.1", "80", .family = AF_UNIX);
    assert_like_system(loop, "localhost", "80", .family = AF_UNIX);
    assert_like_system(loop, "127.0.0.1", "80", .family = 12345);
    want[0] = '\0';
    expect(want, sizeof want, "127.0.0.1", 80, "sdr", NULL); /* from 127.0.0.1 */
    expect(want, sizeof want, "127.0.0.1", 80, "sdr", NULL); /* from ::1 */
    assert_resolves_to(loop, want, "localhost", "80", .family = AF_INET);
    want[0] = '\0';
    assert_resolves_to(loop, expect(want, sizeof want, "::1", 80, "sdr", NULL), "localhost", "80",
                       .family = AF_INET6);
    assert_like_system(loop, NULL, "80", .family = AF_INET6, .flags = AI_PASSIVE);
    assert_like_system(loop, "127.0.0.1", "80", .family = AF_INET6, .flags = AI_V4MAPPED);
    /* type */
    assert_like_system(loop, "127.0.0.1", "80", .type = SOCK_STREAM);
    assert_like_system(loop, "127.0.0.1", "80", .type = SOCK_DGRAM);
    assert_like_system(loop, "127.0.0.1", NULL, .type = SOCK_RAW);
    assert_like_system(loop, "127.0.0.1", "80", .type = 12345);
    assert_like_system(loop, "localhost", "80", .type = 12345);
    assert_resolves_to(loop, expect_localhost_both(want, sizeof want, 80, "d", NULL), "localhost",
                       "80", .type = SOCK_DGRAM);
    /* proto */
    assert_like_system(loop, "127.0.0.1", "80", .proto = IPPROTO_UDP);
    assert_like_system(loop, "127.0.0.1", "80", .proto = IPPROTO_TCP);
    assert_like_system(loop, "127.0.0.1", "80", .type = SOCK_STREAM, .proto = IPPROTO_UDP);
    assert_like_system(loop, "127.0.0.1", "80", .proto = 12345);
    assert_resolves_to(loop, expect_localhost_both(want, sizeof want, 80, "s", NULL), "localhost",
                       "80", .proto = IPPROTO_TCP);
    assert_like_system(loop, "localhost", "80", .type = SOCK_STREAM, .proto = IPPROTO_UDP);
    /* flags */
    assert_like_system(loop, "127.0.0.1", "80", .flags = 0x10000);
    assert_like_system(loop, "localhost", "80", .flags = 0x10000);
    assert_resolves_to(loop, expect_localhost_both(want, sizeof want, 80, "sdr", NULL),
                       "localhost", "80", .flags = AI_PASSIVE);
    finish(loop);
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
    /* the host must be numeric: socket.getnameinfo() asks AI_NUMERICHOST */
    assert_nameinfo_like_system(loop, "localhost", 80, 0);
    assert_nameinfo_fails(loop, "localhost", 80, 0, EAI_NONAME);
    assert_nameinfo_fails(loop, "localhost", 80, NI_NUMERICHOST, EAI_NONAME);
    assert_nameinfo_fails(loop, "", 80, NI_NUMERICHOST, EAI_NONAME);
    /* flags the system does not know */
    assert_nameinfo_like_system(loop, "127.0.0.1", 80, 0x1000);
    assert_nameinfo_fails(loop, "127.0.0.1", 80, 0x1000, EAI_BADFLAGS);
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
AIO_NAME_CALLBACK(mixed_coro);

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
AIO_NAME_CALLBACK(wait_for_coro);

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
AIO_NAME_CALLBACK(record_done);

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
    assert_like_system(loop, "127.0.0.1", "80");
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

/* ======================================================================================
 * Names from hosts files the tests write, with glibc's answers spelled out.
 * ====================================================================================== */

static void test_hosts_debian_layout(void **state)
{
    (void)state;
    aio_loop *loop = hosts_text_loop(DEBIAN_HOSTS);
    char want[2048];
    /* IPv4: 127.0.0.1 from its own line and from ::1's, as glibc answers */
    want[0] = '\0';
    expect(want, sizeof want, "127.0.0.1", 80, "sdr", NULL);
    expect(want, sizeof want, "127.0.0.1", 80, "sdr", NULL);
    assert_resolves_to(loop, want, "localhost", "80", .family = AF_INET);
    /* both families: sorted, ::1 first where IPv6 works, although the file
     * lists 127.0.0.1 first */
    assert_resolves_to(loop, expect_localhost_both(want, sizeof want, 80, "sdr", NULL),
                       "localhost", "80");
    assert_resolves_to(loop, expect_localhost_both(want, sizeof want, 0, "sdr", NULL), "localhost",
                       NULL);
    /* IPv6: the ::1 line; with AI_V4MAPPED too, since there is an IPv6
     * address; with AI_ALL the IPv4 answer as well, mapped */
    want[0] = '\0';
    assert_resolves_to(loop, expect(want, sizeof want, "::1", 80, "s", NULL), "localhost", "80",
                       .family = AF_INET6, .type = SOCK_STREAM);
    assert_resolves_to(loop, want, "localhost", "80", .family = AF_INET6, .type = SOCK_STREAM,
                       .flags = AI_V4MAPPED);
    if (ipv6_loopback_usable()) {
        expect(want, sizeof want, "::ffff:127.0.0.1", 80, "s", NULL); /* 127.0.0.1 */
        expect(want, sizeof want, "::ffff:127.0.0.1", 80, "s", NULL); /* ::1 as IPv4 */
        assert_resolves_to(loop, want, "localhost", "80", .family = AF_INET6,
                           .type = SOCK_STREAM, .flags = AI_V4MAPPED | AI_ALL);
    }
    /* the host's own name: IPv4 only */
    want[0] = '\0';
    assert_resolves_to(loop, expect(want, sizeof want, "127.0.1.1", 22, "s", "debian"), "DEBIAN",
                       "22", .type = SOCK_STREAM, .flags = AI_CANONNAME);
    assert_resolve_fails(loop, EAI_NONAME, "debian", "22", .family = AF_INET6);
    want[0] = '\0';
    assert_resolves_to(loop, expect(want, sizeof want, "::ffff:127.0.1.1", 22, "sdr", NULL),
                       "debian", "22", .family = AF_INET6, .flags = AI_V4MAPPED);
    /* an alias of the ::1 line, asked for IPv4: 127.0.0.1, named localhost */
    want[0] = '\0';
    assert_resolves_to(loop, expect(want, sizeof want, "127.0.0.1", 80, "s", "localhost"),
                       "ip6-loopback", "80", .family = AF_INET, .type = SOCK_STREAM,
                       .flags = AI_CANONNAME);
    want[0] = '\0';
    assert_resolves_to(loop, expect(want, sizeof want, "::1", 80, "s", NULL), "Ip6-LocalHost",
                       "80", .type = SOCK_STREAM);
    /* not in the file, and no other source */
    assert_resolve_fails(loop, EAI_NONAME, "debian.example.org", "80");
    assert_resolve_fails(loop, EAI_NONAME, "localhost.", "80");
    /* back: the first line of the address; the ::1 line answers 127.0.0.1
     * only after the 127.0.0.1 line */
    assert_nameinfo(loop, "127.0.1.1", 80, 0, "debian", "http");
    assert_nameinfo(loop, "127.0.1.1", 53, NI_DGRAM | NI_NAMEREQD, "debian", "domain");
    assert_nameinfo(loop, "127.0.0.1", 80, NI_NUMERICSERV, "localhost", "80");
    assert_nameinfo(loop, "::1", 443, 0, "localhost", "https");
    assert_nameinfo(loop, "127.0.0.2", 80, 0, "127.0.0.2", "http");
    assert_nameinfo_fails(loop, "127.0.0.2", 80, NI_NAMEREQD, EAI_NONAME);
    assert_nameinfo_fails(loop, "::ffff:127.0.0.1", 80, NI_NAMEREQD, EAI_NONAME);
    finish(loop);

    /* the option's path is copied */
    char path[128];
    snprintf(path, sizeof path, "%s", write_hosts(DEBIAN_HOSTS));
    loop = new_loop();
    assert_int_equal(aio_loop_set_resolver_options(
                         loop, &(aio_resolver_options){.hosts_file = path, .lookups = "f"}),
                     0);
    memset(path, 'x', sizeof path - 1);
    want[0] = '\0';
    assert_resolves_to(loop, expect(want, sizeof want, "127.0.1.1", 80, "s", NULL), "debian",
                       "80", .type = SOCK_STREAM);
    finish(loop);
}

/* This machine's layout when the tests were written: no ::1 line. */
static void test_hosts_ipv4_only_layout(void **state)
{
    (void)state;
    aio_loop *loop = hosts_text_loop(IPV4_ONLY_HOSTS);
    char want[1024];
    want[0] = '\0';
    assert_resolves_to(loop, expect(want, sizeof want, "127.0.0.1", 80, "sdr", NULL), "localhost",
                       "80");
    assert_resolves_to(loop, want, "localhost", "80", .family = AF_INET);
    want[0] = '\0';
    assert_resolves_to(loop, expect(want, sizeof want, "127.0.0.1", 0, "s", "vm"), "VM", NULL,
                       .type = SOCK_STREAM, .flags = AI_CANONNAME);
    assert_resolve_fails(loop, EAI_NONAME, "localhost", "80", .family = AF_INET6);
    want[0] = '\0';
    assert_resolves_to(loop, expect(want, sizeof want, "::ffff:127.0.0.1", 80, "s", NULL),
                       "runsc", "80", .family = AF_INET6, .type = SOCK_STREAM,
                       .flags = AI_V4MAPPED);
    assert_nameinfo(loop, "127.0.0.1", 80, 0, "localhost", "http");
    assert_nameinfo(loop, "::1", 80, 0, "::1", "http");
    finish(loop);
}

/* How lines read: comments, blanks, case, aliases, and what is no entry.
 * The last line has leading blanks and no newline: glibc moves it to the
 * start of its buffer without the NUL, so its last character comes twice
 * ("last.linee"). */
#define SYNTAX_HOSTS                                                                      \
    "# a comment\n"                                                                       \
    "   # an indented comment\n"                                                          \
    "\n"                                                                                  \
    "127.0.0.10\tTab.Example\talias-one   ALIAS-two # a comment after the names\n"        \
    "  127.0.0.11   leading.blanks\r\n"                                                   \
    "127.0.0.12 glued#comment\n"                                                          \
    "127.1 short.form\n"                                                                  \
    "010.0.0.1 leading.zero\n"                                                            \
    "fe80::1%lo scoped.form\n"                                                            \
    "not-an-address junk.form\n"                                                          \
    "127.0.0.14\n"                                                                        \
    "127.0.0.15 MiXeD.Case mixed.CASE\n"                                                  \
    "127.0.0.17\f\vformfeed\n"                                                            \
    "127.0.0.16 nul\0hidden\n"                                                            \
    "\t127.0.0.18\tlast.line"

static void test_hosts_syntax(void **state)
{
    (void)state;
    aio_loop *loop = hosts_loop(write_hosts_n(SYNTAX_HOSTS, sizeof SYNTAX_HOSTS - 1));
    char want[1024];
    const struct {
        const char *name, *addr, *canon;
    } found[] = {
        {"tab.example", "127.0.0.10", "Tab.Example"},
        {"ALIAS-ONE", "127.0.0.10", "Tab.Example"},
        {"alias-two", "127.0.0.10", "Tab.Example"},
        {"leading.blanks", "127.0.0.11", "leading.blanks"},
        {"glued", "127.0.0.12", "glued"},
        {"mixed.case", "127.0.0.15", "MiXeD.Case"},
        {"formfeed", "127.0.0.17", "formfeed"},
        {"NUL", "127.0.0.16", "nul"},
        {"last.linee", "127.0.0.18", "last.linee"},
    };
    for (size_t i = 0; i < sizeof found / sizeof found[0]; i++) {
        want[0] = '\0';
        assert_resolves_to(loop, expect(want, sizeof want, found[i].addr, 80, "s", found[i].canon),
                           found[i].name, "80", .type = SOCK_STREAM, .flags = AI_CANONNAME);
        want[0] = '\0';
        assert_resolves_to(loop, expect(want, sizeof want, found[i].addr, 80, "s", NULL),
                           found[i].name, "80", .family = AF_INET, .type = SOCK_STREAM);
    }
    const char *absent[] = {"comment", "glued#comment", "short.form", "leading.zero",
                            "scoped.form", "junk.form", "hidden", "last.line", "a", "Tab"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
        assert_resolve_fails(loop, EAI_NONAME, absent[i], "80");
    /* a line with an address alone has the empty name */
    assert_nameinfo(loop, "127.0.0.14", 80, 0, "", "http");
    assert_nameinfo(loop, "127.0.0.10", 80, 0, "Tab.Example", "http");
    assert_nameinfo(loop, "10.0.0.1", 80, 0, "10.0.0.1", "http");
    finish(loop);

    /* A line longer than any buffer: 5,000 aliases. */
    size_t cap = 16 + 5000 * 8;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t len = (size_t)snprintf(text, cap, "127.0.0.19");
    for (int i = 0; i < 5000; i++)
        len += (size_t)snprintf(text + len, cap - len, " a%d", i);
    text[len++] = '\n';
    loop = hosts_loop(write_hosts_n(text, len));
    free(text);
    want[0] = '\0';
    assert_resolves_to(loop, expect(want, sizeof want, "127.0.0.19", 80, "s", "a0"), "A4999", "80",
                       .type = SOCK_STREAM, .flags = AI_CANONNAME);
    finish(loop);
}

/* Every line of a name counts ("multi on", as Debian's /etc/host.conf
 * has it); with "multi off", the first one. */
#define MULTI_HOSTS                                                                         \
    "127.0.0.2 multi\n"                                                                     \
    "127.0.0.4 other multi-alias\n"                                                         \
    "127.0.0.3 MULTI\n"                                                                     \
    "::1 multi\n"                                                                           \
    "127.0.0.2 Multi\n"

static void test_hosts_multi(void **state)
{
    (void)state;
    aio_loop *loop = hosts_text_loop(MULTI_HOSTS);
    char want[1024];
    /* 127.0.0.1 (of ::1) first: it is its own source; the others share as
     * long a prefix with it, and keep the file's order */
    want[0] = '\0';
    expect(want, sizeof want, "127.0.0.1", 80, "s", "multi");
    expect(want, sizeof want, "127.0.0.2", 80, "s", NULL);
    expect(want, sizeof want, "127.0.0.3", 80, "s", NULL);
    expect(want, sizeof want, "127.0.0.2", 80, "s", NULL);
    assert_resolves_to(loop, want, "multi", "80", .family = AF_INET, .type = SOCK_STREAM,
                       .flags = AI_CANONNAME);
    want[0] = '\0';
    bool v6 = ipv6_loopback_usable();
    if (v6)
        expect(want, sizeof want, "::1", 80, "s", NULL);
    expect(want, sizeof want, "127.0.0.2", 80, "s", NULL);
    expect(want, sizeof want, "127.0.0.3", 80, "s", NULL);
    expect(want, sizeof want, "127.0.0.2", 80, "s", NULL);
    if (!v6)
        expect(want, sizeof want, "::1", 80, "s", NULL);
    assert_resolves_to(loop, want, "MuLtI", "80", .type = SOCK_STREAM);
    want[0] = '\0';
    assert_resolves_to(loop, expect(want, sizeof want, "127.0.0.4", 80, "s", "other"),
                       "multi-alias", "80", .type = SOCK_STREAM, .flags = AI_CANONNAME);

    /* multi off: the first matching line */
    setenv("RESOLV_MULTI", "off", 1);
    aio__hosts_reload_conf();
    want[0] = '\0';
    assert_resolves_to(loop, expect(want, sizeof want, "127.0.0.2", 80, "s", "multi"), "multi",
                       "80", .type = SOCK_STREAM, .flags = AI_CANONNAME);
    assert_resolves_to(loop, want, "multi", "80", .family = AF_INET, .type = SOCK_STREAM,
                       .flags = AI_CANONNAME);
    want[0] = '\0';
    assert_resolves_to(loop, expect(want, sizeof want, "::1", 80, "s", NULL), "multi", "80",
                       .family = AF_INET6, .type = SOCK_STREAM);
    setenv("RESOLV_MULTI", "on", 1);
    aio__hosts_reload_conf();
    finish(loop);
}

/* IPv6 lines of IPv4 addresses, and the ::1 line, in each kind of lookup. */
#define MAPPED_HOSTS                                                                         \
    "::ffff:127.0.0.5 mapped\n"                                                              \
    "::1 both\n"                                                                             \
    "::ffff:127.0.0.6 both\n"                                                                \
    "127.0.0.7 both\n"

static void test_hosts_mapped_lines(void **state)
{
    (void)state;
    aio_loop *loop = hosts_text_loop(MAPPED_HOSTS);
    char want[1024];
    want[0] = '\0';
    assert_resolves_to(loop, expect(want, sizeof want, "127.0.0.5", 80, "s", NULL), "mapped", "80",
                       .family = AF_INET, .type = SOCK_STREAM);
    want[0] = '\0';
    assert_resolves_to(loop, expect(want, sizeof want, "::ffff:127.0.0.5", 80, "s", NULL),
                       "mapped", "80", .family = AF_INET6, .type = SOCK_STREAM);
    assert_resolves_to(loop, want, "mapped", "80", .type = SOCK_STREAM);
    /* AI_V4MAPPED without AI_ALL drops v4-mapped addresses when IPv6 ones
     * were found, and these are IPv6 ones: nothing is left */
    assert_resolve_fails(loop, EAI_NONAME, "mapped", "80", .family = AF_INET6,
                         .flags = AI_V4MAPPED);
    /* IPv4: ::1 as 127.0.0.1, the mapped line as IPv4; sorted (127.0.0.1
     * is its own source) */
    want[0] = '\0';
    expect(want, sizeof want, "127.0.0.1", 80, "s", NULL);
    expect(want, sizeof want, "127.0.0.6", 80, "s", NULL);
    expect(want, sizeof want, "127.0.0.7", 80, "s", NULL);
    assert_resolves_to(loop, want, "both", "80", .family = AF_INET, .type = SOCK_STREAM);
    want[0] = '\0';
    assert_resolves_to(loop, expect(want, sizeof want, "::1", 80, "s", NULL), "both", "80",
                       .family = AF_INET6, .type = SOCK_STREAM, .flags = AI_V4MAPPED);
    if (ipv6_loopback_usable()) {
        expect(want, sizeof want, "::ffff:127.0.0.6", 80, "s", NULL);
        assert_resolves_to(loop, want, "both", "80", .family = AF_INET6, .type = SOCK_STREAM);
        want[0] = '\0';
        expect(want, sizeof want, "::1", 80, "s", NULL);
        expect(want, sizeof want, "::ffff:127.0.0.1", 80, "s", NULL);
        expect(want, sizeof want, "::ffff:127.0.0.6", 80, "s", NULL);
        expect(want, sizeof want, "::ffff:127.0.0.6", 80, "s", NULL);
        expect(want, sizeof want, "::ffff:127.0.0.7", 80, "s", NULL);
        assert_resolves_to(loop, want, "both", "80", .family = AF_INET6, .type = SOCK_STREAM,
                           .flags = AI_V4MAPPED | AI_ALL);
    }
    /* back: an IPv4 address finds the ::1 and mapped lines too */
    assert_nameinfo(loop, "127.0.0.5", 80, 0, "mapped", "http");
    assert_nameinfo(loop, "127.0.0.1", 80, 0, "both", "http");
    assert_nameinfo(loop, "::ffff:127.0.0.6", 80, 0, "both", "http");
    assert_nameinfo(loop, "::ffff:127.0.0.7", 80, 0, "::ffff:127.0.0.7", "http");
    finish(loop);
}

/* A file that is missing, empty or a directory knows no name: the next
 * source (DNS) is asked, and with none the name is not found. */
static void test_hosts_missing_empty_unreadable(void **state)
{
    (void)state;
    dns_server *s = start_zone();
    const char *paths[] = {missing_hosts(), write_hosts(""), hosts_dir, ""};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        aio_loop *loop = hosts_then_server_loop(paths[i], s, "fb");
        unsigned asked = dns_server_queries(s);
        assert_resolves_to(loop, "(2, 1, 6, '', ('10.0.0.1', 80))\n", "host.test", "80",
                           .type = SOCK_STREAM);
        assert_true(dns_server_queries(s) > asked);
        assert_nameinfo(loop, "10.0.0.1", 80, 0, "host.test", "http");
        finish(loop);
        loop = hosts_loop(paths[i]);
        assert_resolve_fails(loop, EAI_NONAME, "host.test", "80");
        assert_resolve_fails(loop, EAI_NONAME, "localhost", "80", .family = AF_INET);
        assert_nameinfo(loop, "127.0.0.1", 80, 0, "127.0.0.1", "http");
        finish(loop);
    }
    dns_server_stop(s);
}

/* The file first, DNS for what it does not know: per family, as glibc's
 * "files" answers per family. */
static void test_hosts_then_dns(void **state)
{
    (void)state;
    static const dns_record records[] = {
        {"dual.test", DNS_A, "10.0.0.2", 60},
        {"dual.test", DNS_AAAA, "2001:db8::2", 60},
        {"host.test", DNS_A, "10.0.0.1", 60},
        {"only.file", DNS_NXDOMAIN, NULL, 0},
        {"nodata.test", DNS_PTR, "x.test", 60},
        {"localhost", DNS_A, "10.0.0.99", 60},
        {"1.0.0.10.in-addr.arpa", DNS_PTR, "host.test", 60},
        {"2.0.0.10.in-addr.arpa", DNS_PTR, "dual.test", 60},
    };
    dns_server *s = start_server(records, sizeof records / sizeof records[0]);
    const char *path = write_hosts("10.9.9.9 dual.test\n127.0.0.9 only.file\n10.0.0.2 file.name\n");
    aio_loop *loop = hosts_then_server_loop(path, s, "fb");
    char want[1024];
    /* in the file: DNS is not asked */
    want[0] = '\0';
    assert_resolves_to(loop, expect(want, sizeof want, "10.9.9.9", 80, "s", NULL), "dual.test",
                       "80", .type = SOCK_STREAM);
    assert_resolves_to(loop, want, "dual.test", "80", .family = AF_INET, .type = SOCK_STREAM);
    want[0] = '\0';
    assert_resolves_to(loop, expect(want, sizeof want, "::ffff:10.9.9.9", 80, "s", NULL),
                       "dual.test", "80", .family = AF_INET6, .type = SOCK_STREAM,
                       .flags = AI_V4MAPPED);
    assert_nameinfo(loop, "10.0.0.2", 80, 0, "file.name", "http");
    assert_int_equal(dns_server_queries(s), 0);
    /* in the file, but not of the family asked: DNS */
    assert_resolves_to(loop, "(10, 1, 6, '', ('2001:db8::2', 80, 0, 0))\n", "dual.test", "80",
                       .family = AF_INET6, .type = SOCK_STREAM);
    assert_true(dns_server_queries(s) > 0);
    /* not in the file */
    assert_resolves_to(loop, "(2, 1, 6, 'host.test', ('10.0.0.1', 80))\n", "host.test", "80",
                       .type = SOCK_STREAM, .flags = AI_CANONNAME);
    assert_resolve_fails(loop, EAI_NODATA, "nodata.test", "80");
    assert_resolve_fails(loop, EAI_NONAME, "gone.test", "80");
    assert_nameinfo(loop, "10.0.0.1", 80, 0, "host.test", "http");
    /* DNS is never asked about localhost */
    unsigned asked = dns_server_queries(s);
    assert_resolve_fails(loop, EAI_NONAME, "localhost", "80");
    assert_int_equal(dns_server_queries(s), asked);
    /* the unspecified address has no name anywhere: nobody is asked */
    assert_nameinfo(loop, "::", 80, 0, "::", "http");
    assert_nameinfo_fails(loop, "::", 80, NI_NAMEREQD, EAI_NONAME);
    assert_int_equal(dns_server_queries(s), asked);
    finish(loop);

    /* DNS first, then the file */
    loop = hosts_then_server_loop(path, s, "bf");
    assert_resolves_to(loop, "(2, 1, 6, '', ('10.0.0.2', 80))\n", "dual.test", "80",
                       .family = AF_INET, .type = SOCK_STREAM);
    want[0] = '\0';
    assert_resolves_to(loop, expect(want, sizeof want, "127.0.0.9", 80, "s", "only.file"),
                       "only.file", "80", .type = SOCK_STREAM, .flags = AI_CANONNAME);
    assert_nameinfo(loop, "10.0.0.2", 80, 0, "dual.test", "http");
    assert_resolve_fails(loop, EAI_NONAME, "gone.test", "80");
    finish(loop);

    /* DNS twice, the file between: each source in turn */
    loop = hosts_then_server_loop(write_hosts("# nothing\n"), s, "bfb");
    asked = dns_server_queries(s);
    assert_resolve_fails(loop, EAI_NONAME, "gone.test", "80", .family = AF_INET);
    assert_int_equal(dns_server_queries(s), asked + 2);
    finish(loop);
    dns_server_stop(s);
}

/* 100,000 lines: each lookup reads them all, as glibc does. */
static char *huge_hosts(size_t *len)
{
    size_t cap = 100000 * 48, n = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    for (unsigned i = 0; i < 100000; i++) {
        if (i % 100 == 0)
            n += (size_t)snprintf(text + n, cap - n, "# block %u\n", i / 100);
        n += (size_t)snprintf(text + n, cap - n, "127.%u.%u.%u h%u H%u.Example%s\n", i >> 16,
                              (i >> 8) & 255, i & 255, i, i, i % 1000 == 999 ? " every1000" : "");
    }
    *len = n;
    return text;
}

static void test_hosts_huge_file(void **state)
{
    (void)state;
    size_t len;
    char *text = huge_hosts(&len);
    aio_loop *loop = hosts_loop(write_hosts_n(text, len));
    free(text);
    char want[1024];
    want[0] = '\0';
    assert_resolves_to(loop, expect(want, sizeof want, "127.1.134.159", 80, "s", "h99999"),
                       "H99999.EXAMPLE", "80", .type = SOCK_STREAM, .flags = AI_CANONNAME);
    want[0] = '\0';
    assert_resolves_to(loop, expect(want, sizeof want, "127.0.0.0", 80, "s", NULL), "h0", "80",
                       .family = AF_INET, .type = SOCK_STREAM);
    assert_resolve_fails(loop, EAI_NONAME, "h100000", "80");
    /* a name on 100 lines: 100 addresses, sorted */
    aio_future *fut = resolve(loop, Q("every1000", "80", .family = AF_INET, .type = SOCK_STREAM));
    aio_addrinfo_list *list = aio_future_result(fut);
    assert_non_null(list);
    assert_int_equal(list->len, 100);
    bool seen[100] = {false};
    for (size_t i = 0; i < list->len; i++) {
        unsigned a, b, c, d;
        assert_int_equal(sscanf(list->items[i].sockaddr.host, "%u.%u.%u.%u", &a, &b, &c, &d), 4);
        unsigned line = b << 16 | c << 8 | d;
        assert_int_equal(line % 1000, 999);
        assert_false(seen[line / 1000]);
        seen[line / 1000] = true;
    }
    aio_decref(fut);
    assert_nameinfo(loop, "127.1.134.159", 80, 0, "h99999", "http");
    finish(loop);
}

/* getnameinfo() with NI_NOFQDN cuts the local domain, learnt as glibc
 * learns it: here from the name of localhost. glibc cuts it wherever it
 * follows a dot, not only at the end. Names longer than Python's buffer
 * are EAI_OVERFLOW. */
static void test_getnameinfo_hosts_nofqdn(void **state)
{
    (void)state;
    char text[2048];
    int n = snprintf(text, sizeof text,
                     "127.0.0.1 localhost.example.org localhost\n"
                     "10.1.2.3 www.example.org www\n"
                     "10.1.2.4 www.example.org.evil\n"
                     "10.1.2.5 example.org\n"
                     "10.1.2.6 www.other.org\n"
                     "10.1.2.7 ");
    memset(text + n, 'a', 1100);
    strcpy(text + n + 1100, "\n");
    aio_loop *loop = hosts_text_loop(text);
    assert_nameinfo(loop, "10.1.2.3", 80, NI_NOFQDN, "www", "http");
    assert_nameinfo(loop, "10.1.2.3", 80, 0, "www.example.org", "http");
    assert_nameinfo(loop, "10.1.2.4", 80, NI_NOFQDN, "www", "http");
    assert_nameinfo(loop, "10.1.2.5", 80, NI_NOFQDN, "example.org", "http");
    assert_nameinfo(loop, "10.1.2.6", 80, NI_NOFQDN, "www.other.org", "http");
    assert_nameinfo(loop, "127.0.0.1", 80, NI_NOFQDN, "localhost", "http");
    assert_nameinfo_fails(loop, "10.1.2.7", 80, 0, EAI_OVERFLOW);
    finish(loop);
}

/* /etc/gai.conf's tables, as glibc reads them: here IPv4 preferred. */
static void test_gai_conf_precedence(void **state)
{
    (void)state;
    aio_loop *loop = hosts_text_loop(DEBIAN_HOSTS);
    const char *conf = write_hosts("# prefer IPv4\n  precedence  ::ffff:0:0/96  100 # over ::1\n"
                                   "label ::1/128 0\nnot a command\nscopev4 bad 1\n");
    aio__addrsort_reload_conf(conf);
    char want[1024];
    want[0] = '\0';
    expect(want, sizeof want, "127.0.0.1", 80, "s", NULL);
    assert_resolves_to(loop, expect(want, sizeof want, "::1", 80, "s", NULL), "localhost", "80",
                       .type = SOCK_STREAM);
    aio__addrsort_reload_conf(NULL); /* glibc's own tables */
    assert_resolves_to(loop, expect_localhost_both(want, sizeof want, 80, "s", NULL),
                       "localhost", "80", .type = SOCK_STREAM);
    finish(loop);
}

/* A timeout that is no number of seconds is refused; one too large for
 * c-ares is its largest; the smallest is a millisecond. */
static void test_resolver_options_timeout(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    const struct {
        double timeout;
        const char *msg;
    } bad[] = {
        {NAN, "timeout must be a number of seconds >= 0, not nan"},
        {-NAN, "timeout must be a number of seconds >= 0, not -nan"},
        {-1.0, "timeout must be a number of seconds >= 0, not -1"},
        {-INFINITY, "timeout must be a number of seconds >= 0, not -inf"},
        {-DBL_MIN, "timeout must be a number of seconds >= 0, not -2.22507e-308"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(aio_loop_set_resolver_options(
                             loop, &(aio_resolver_options){.timeout = bad[i].timeout}),
                         -1);
        assert_raised(aio_ValueError, bad[i].msg);
    }
    assert_int_equal(aio_loop_set_resolver_options(loop, &(aio_resolver_options){.tries = -3}),
                     -1);
    assert_raised(aio_ValueError, "tries must be >= 0, not -3");
    finish(loop);

    dns_server *s = start_zone();
    char servers[64];
    snprintf(servers, sizeof servers, "127.0.0.1:%d", dns_server_port(s));
    const double huge[] = {INFINITY, DBL_MAX, 1e300, 2147483.6475, 3e6, -0.0, 0.0};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        loop = new_loop();
        assert_int_equal(aio_loop_set_resolver_options(
                             loop, &(aio_resolver_options){.servers = servers, .lookups = "b",
                                                           .timeout = huge[i], .tries = 1}),
                         0);
        assert_resolves_to(loop, "(2, 1, 6, '', ('10.0.0.1', 80))\n", "host.test", "80",
                           .type = SOCK_STREAM);
        /* an unanswered query is still in flight after a moment */
        aio_future *fut = start_getaddrinfo(loop, Q("silent.test", "80"));
        for (int k = 0; k < 5; k++) {
            sleep_ms(10);
            run_one_iteration(loop);
        }
        check_no_exception();
        assert_int_equal(aio_future_done(fut), 0);
        aio_decref(fut); /* cancelled when the loop closes */
        finish(loop);
    }
    /* the shortest: a millisecond, not zero */
    const double tiny[] = {DBL_MIN, 1e-300, 0.0004};
    for (size_t i = 0; i < sizeof tiny / sizeof tiny[0]; i++) {
        loop = new_loop();
        assert_int_equal(aio_loop_set_resolver_options(
                             loop, &(aio_resolver_options){.servers = servers, .lookups = "b",
                                                           .timeout = tiny[i], .tries = 1}),
                         0);
        double t0 = monotonic_now();
        assert_resolve_fails(loop, EAI_AGAIN, "silent.test", "80", .family = AF_INET);
        assert_true(monotonic_now() - t0 < 1.0);
        finish(loop);
    }
    dns_server_stop(s);
}

/* ======================================================================================
 * Differential: glibc on the same hosts files, in a sandbox.
 * ====================================================================================== */

/* The Debian installer's whole file. */
#define DEBIAN_FULL_HOSTS                                                                     \
    "127.0.0.1\tlocalhost\n"                                                                  \
    "127.0.1.1\tdebian.example.org\tdebian\n"                                                 \
    "\n"                                                                                      \
    "# The following lines are desirable for IPv6 capable hosts\n"                            \
    "::1     localhost ip6-localhost ip6-loopback\n"                                          \
    "ff02::1 ip6-allnodes\n"                                                                  \
    "ff02::2 ip6-allrouters\n"

/* Addresses of every kind on a few names, for the sort. */
#define SORT_HOSTS                                                                            \
    "198.51.100.7 mix v4\n"                                                                   \
    "127.0.0.1 mix v4\n"                                                                      \
    "127.1.0.0 mix v4\n"                                                                      \
    "127.0.0.2 mix v4\n"                                                                      \
    "10.20.30.40 mix v4\n"                                                                    \
    "169.254.1.1 mix v4\n"                                                                    \
    "2001:db8::7 mix v6\n"                                                                    \
    "::1 mix v6\n"                                                                            \
    "fe80::1 mix v6\n"                                                                        \
    "fc00::1 mix v6\n"                                                                        \
    "fec0::1 mix v6\n"                                                                        \
    "2002:c000:0204::1 mix v6\n"                                                              \
    "2001:0:0:1::1 mix v6\n"                                                                  \
    "::ffff:10.1.1.1 mix v6\n"                                                                \
    "::ffff:127.0.0.3 mix v6\n"                                                               \
    "ff02::1 mix v6\n"                                                                        \
    "::127.0.0.4 mix v6\n"                                                                    \
    "192.0.2.2 mix v4 here\n"                                                                 \
    "fd00::2 mix v6 here\n"                                                                   \
    "127.0.0.1 dup\n"                                                                         \
    "127.0.0.1 dup\n"                                                                         \
    "::1 dup\n"                                                                               \
    "::1 dup\n"

#define SORT_NAMES "mix v4 v6 here dup MIX"

/* Tables that turn most of the order round. */
#define GAI_CONF_TABLES                                                                       \
    "reload yes\n"                                                                            \
    "precedence ::ffff:0:0/96 100\n"                                                          \
    "precedence ::1/128 5\n"                                                                  \
    "precedence fc00::/7 70\n"                                                                \
    "label ::1/128 9\n"                                                                       \
    "label ::ffff:0:0/96 9\n"                                                                 \
    "label 2001:db8::/32 3\n"                                                                 \
    "scopev4 127.0.0.0/8 14\n"                                                                \
    "scopev4 ::ffff:169.254.0.0/112 5\n"                                                      \
    "scopev4 10.0.0.0/8 3\n"

/* The zone of the DNS scenario: what is not in its hosts file, and names
 * the file has for one family only. */
static const dns_record diff_zone[] = {
    {"host.test", DNS_A, "10.0.0.1", 60},
    {"host6.test", DNS_AAAA, "2001:db8::1", 60},
    {"dual.test", DNS_A, "10.0.0.2", 60},
    {"dual.test", DNS_AAAA, "2001:db8::2", 60},
    {"multi.test", DNS_A, "198.51.100.5", 60},
    {"multi.test", DNS_AAAA, "2001:db8::5", 60},
    {"multi.test", DNS_A, "127.0.0.5", 60},
    {"multi.test", DNS_AAAA, "::1", 60},
    {"multi.test", DNS_A, "10.0.0.5", 60},
    {"alias.test", DNS_CNAME, "alias2.test", 60},
    {"alias2.test", DNS_CNAME, "host.test", 60},
    {"nodata.test", DNS_PTR, "elsewhere.test", 60},
    {"gone.test", DNS_NXDOMAIN, NULL, 0},
    {"broken.test", DNS_SERVFAIL, NULL, 0},
    {"refused.test", DNS_REFUSED, NULL, 0},
    {"big.test", DNS_TRUNCATE, NULL, 0},
    {"big.test", DNS_A, "10.0.1.1", 60},
    {"big.test", DNS_AAAA, "2001:db8::11", 60},
    {"filev4.test", DNS_AAAA, "2001:db8::44", 60},
    {"filev4.test", DNS_A, "10.44.44.44", 60},
    {"mapped.test", DNS_AAAA, "::ffff:10.7.7.7", 60},
    {"1.0.0.10.in-addr.arpa", DNS_PTR, "host.test", 60},
    {"2.0.0.10.in-addr.arpa", DNS_PTR, "dual.test", 60},
    {"4.4.4.10.in-addr.arpa", DNS_PTR, "from-dns.test", 60},
    {"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", DNS_PTR,
     "host6.test", 60},
};

typedef struct scenario {
    const char *name;
    const char *hosts; /* NULL: the 100,000 lines of huge_hosts() */
    size_t hosts_len;  /* 0: strlen(hosts) */
    const char *names; /* looked up, blank-separated */
    const char *addrs; /* looked up back, blank-separated */
    const char *gai_conf;
    const char *hostname;
    bool netns, multi_off;
    bool dns; /* then DNS: diff_zone on 127.0.0.1:53, in a network namespace */
} scenario;

static const scenario scenarios[] = {
    {.name = "debian",
     .hosts = DEBIAN_HOSTS,
     .names = "localhost LOCALHOST ip6-localhost ip6-loopback debian nothere",
     .addrs = "127.0.0.1 127.0.1.1 ::1 127.0.0.2 :: ::ffff:127.0.0.1"},
    {.name = "debian-full",
     .hosts = DEBIAN_FULL_HOSTS,
     .names = "localhost debian debian.example.org ip6-allnodes ip6-allrouters",
     .addrs = "127.0.0.1 127.0.1.1 ::1 ff02::1 ff02::2",
     .hostname = "debian"},
    {.name = "debian-netns",
     .hosts = DEBIAN_HOSTS,
     .names = "localhost ip6-loopback debian",
     .addrs = "127.0.0.1 ::1",
     .netns = true},
    {.name = "debian-multi-off",
     .hosts = DEBIAN_HOSTS,
     .names = "localhost ip6-loopback debian",
     .addrs = "127.0.0.1 ::1",
     .multi_off = true},
    {.name = "debian-prefer-ipv4",
     .hosts = DEBIAN_HOSTS,
     .names = "localhost",
     .addrs = "127.0.0.1",
     .gai_conf = "precedence ::ffff:0:0/96 100\n"},
    {.name = "ipv4-only", .hosts = IPV4_ONLY_HOSTS, .names = "localhost runsc vm",
     .addrs = "127.0.0.1 ::1"},
    {.name = "syntax",
     .hosts = SYNTAX_HOSTS,
     .hosts_len = sizeof SYNTAX_HOSTS - 1,
     .names = "tab.example ALIAS-ONE alias-two leading.blanks glued glued#comment comment "
              "short.form leading.zero scoped.form junk.form mixed.case formfeed NUL hidden "
              "last.line last.linee",
     .addrs = "127.0.0.10 127.0.0.14 127.0.0.16 127.0.0.18 127.1"},
    {.name = "multi", .hosts = MULTI_HOSTS, .names = "multi multi-alias other",
     .addrs = "127.0.0.2 127.0.0.1 ::1"},
    {.name = "multi-off", .hosts = MULTI_HOSTS, .names = "multi multi-alias",
     .addrs = "127.0.0.2", .multi_off = true},
    {.name = "mapped", .hosts = MAPPED_HOSTS, .names = "mapped both",
     .addrs = "127.0.0.5 127.0.0.6 ::ffff:127.0.0.6 127.0.0.1"},
    {.name = "sort", .hosts = SORT_HOSTS, .names = SORT_NAMES,
     .addrs = "127.0.0.1 ::1 198.51.100.7"},
    {.name = "sort-netns", .hosts = SORT_HOSTS, .names = SORT_NAMES, .addrs = "::1",
     .netns = true},
    {.name = "sort-tables", .hosts = SORT_HOSTS, .names = SORT_NAMES, .addrs = "::1",
     .gai_conf = GAI_CONF_TABLES},
    {.name = "nofqdn",
     .hosts = "127.0.0.1 localhost\n127.0.1.1 myhost.example.org myhost\n"
              "10.1.2.3 www.example.org\n10.1.2.4 www.example.org.evil\n10.1.2.5 example.org\n",
     .names = "myhost www.example.org",
     .addrs = "127.0.1.1 10.1.2.3 10.1.2.4 10.1.2.5",
     .hostname = "myhost"},
    {.name = "nofqdn-hostname",
     .hosts = "10.1.2.3 www.example.org\n10.1.2.4 example.org\n",
     .names = "",
     .addrs = "10.1.2.3 10.1.2.4",
     .hostname = "box.example.org"},
    {.name = "empty", .hosts = "", .names = "localhost", .addrs = "127.0.0.1"},
    {.name = "huge",
     .names = "h0 h99999 H77777.example every1000 nothere",
     .addrs = "127.1.134.159 127.0.3.231"},
    {.name = "dns",
     .hosts = "10.4.4.4 filev4.test\n127.0.0.1 localhost\n",
     .names = "host.test host6.test dual.test multi.test alias.test alias2.test nodata.test "
              "gone.test broken.test refused.test big.test filev4.test mapped.test localhost "
              "HOST.TEST. unknown",
     .addrs = "10.0.0.1 10.0.0.2 10.4.4.4 2001:db8::1 10.9.9.9",
     .hostname = "box",
     .netns = true,
     .dns = true},
};

#define SCENARIO_COUNT (sizeof scenarios / sizeof scenarios[0])

/* The getaddrinfo() hints each name is looked up with. */
static const query lookups_per_name[] = {
    {NULL, "80", AF_UNSPEC, 0, 0, 0},
    {NULL, "80", AF_UNSPEC, 0, 0, AI_CANONNAME},
    {NULL, "80", AF_UNSPEC, 0, 0, AI_ADDRCONFIG},
    {NULL, NULL, AF_UNSPEC, SOCK_STREAM, 0, 0},
    {NULL, "domain", AF_UNSPEC, 0, 0, AI_CANONNAME},
    {NULL, "80", AF_INET, 0, 0, 0},
    {NULL, "80", AF_INET, SOCK_STREAM, 0, AI_CANONNAME},
    {NULL, "80", AF_INET, 0, 0, AI_ADDRCONFIG},
    {NULL, "80", AF_INET6, 0, 0, 0},
    {NULL, "80", AF_INET6, SOCK_STREAM, 0, AI_CANONNAME},
    {NULL, "80", AF_INET6, 0, 0, AI_ADDRCONFIG},
    {NULL, "80", AF_INET6, SOCK_STREAM, 0, AI_V4MAPPED},
    {NULL, "80", AF_INET6, SOCK_STREAM, 0, AI_V4MAPPED | AI_CANONNAME},
    {NULL, "80", AF_INET6, 0, 0, AI_V4MAPPED | AI_ALL},
};

static const int nameinfo_flags[] = {0, NI_NAMEREQD, NI_NOFQDN, NI_NUMERICSERV | NI_DGRAM};

/* Python's tuples (as format_entry() writes them) of the system's answer,
 * or "gaierror N". */
static void system_answer(const query *q, char *out, size_t size)
{
    int rc = system_getaddrinfo(q, out, size);
    if (rc != 0)
        snprintf(out, size, "gaierror %d\n", rc);
}

/* The loop's answer, written the same way. */
static void loop_answer(aio_loop *loop, const query *q, char *out, size_t size)
{
    out[0] = '\0';
    aio_future *fut = aio_loop_getaddrinfo(
        loop, &(aio_loop_getaddrinfo_args){.host = q->host, .port = q->port, .family = q->family,
                                           .type = q->type, .proto = q->proto,
                                           .flags = q->flags});
    if (fut == NULL) {
        snprintf(out, size, "no future");
        aio_err_clear();
        return;
    }
    aio_addrinfo_list *list = aio_loop_run_until_complete(loop, fut);
    if (list == NULL) {
        aio_exc *exc = aio_err_fetch();
        snprintf(out, size, "gaierror %d\n", exc != NULL ? aio_exc_errno(exc) : 0);
        aio_decref(exc);
    }
    for (size_t i = 0; list != NULL && i < list->len; i++) {
        const aio_addrinfo *a = &list->items[i];
        format_entry(out, size, a->family, a->type, a->proto, a->canonname, a->sockaddr.host,
                     a->sockaddr.port, a->sockaddr.flowinfo, a->sockaddr.scope_id);
    }
    aio_decref(fut);
}

static void system_nameinfo_answer(const char *addr, int flags, char *out, size_t size)
{
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    int rc = system_getnameinfo(addr, 80, flags, host, serv);
    if (rc != 0)
        snprintf(out, size, "gaierror %d", rc);
    else
        snprintf(out, size, "('%s', '%s')", host, serv);
}

static void loop_nameinfo_answer(aio_loop *loop, const char *addr, int flags, char *out,
                                 size_t size)
{
    aio_address a = {.host = addr, .port = 80};
    aio_future *fut =
        aio_loop_getnameinfo(loop, &(aio_loop_getnameinfo_args){.sockaddr = &a, .flags = flags});
    aio_nameinfo *info = fut != NULL ? aio_loop_run_until_complete(loop, fut) : NULL;
    if (info != NULL) {
        snprintf(out, size, "('%s', '%s')", info->host, info->port);
    } else {
        aio_exc *exc = aio_err_fetch();
        snprintf(out, size, "gaierror %d", exc != NULL ? aio_exc_errno(exc) : 0);
        aio_decref(exc);
    }
    if (fut != NULL)
        aio_decref(fut);
}

/* What c-ares cannot tell glibc's way: an answer of CNAMEs alone, with no
 * address of the family asked, is "no data" to c-ares (which keeps no
 * CNAME of a failed lookup) and "no such name" to glibc. */
static bool known_difference(const query *q, const char *want, const char *got)
{
    return strncmp(q->host, "alias", 5) == 0 && strcmp(want, "gaierror -2\n") == 0 &&
           strcmp(got, "gaierror -5\n") == 0;
}

/* In the child: enters the sandbox of scenario `index`, looks every name
 * and address of it up both ways, prints what differs. Exit status 0 when
 * nothing does, 1 when something does, 77 when there is no sandbox. */
static int differential_child(size_t index)
{
    if (index >= SCENARIO_COUNT)
        return 2;
    const scenario *sc = &scenarios[index];
    size_t len = sc->hosts_len ? sc->hosts_len : sc->hosts ? strlen(sc->hosts) : 0;
    char *huge = sc->hosts == NULL ? huge_hosts(&len) : NULL;
    sandbox_config config = {huge != NULL ? huge : sc->hosts, len, sc->gai_conf, sc->hostname,
                             sc->netns,
                             sc->dns ? "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"
                                     : NULL};
    char why[256];
    int entered = sandbox_enter(&config, why, sizeof why);
    free(huge);
    if (entered < 0) {
        printf("%s\n", why);
        return 77;
    }
    setenv("RESOLV_MULTI", sc->multi_off ? "off" : "on", 1);
    dns_server *server = NULL;
    if (sc->dns &&
        (server = dns_server_start_on(diff_zone, sizeof diff_zone / sizeof diff_zone[0], 53)) ==
            NULL) {
        printf("cannot serve DNS on 127.0.0.1:53\n");
        return 77;
    }
    /* The loop's options are the system's (its files), but for DNS. */
    aio_loop *loop = aio_new_event_loop();
    if (loop == NULL ||
        (!sc->dns &&
         aio_loop_set_resolver_options(loop, &(aio_resolver_options){.lookups = "f"}) < 0))
        return 2;
    static char want[65536], got[65536];
    int cases = 0, differ = 0;
    char names[4096];
    snprintf(names, sizeof names, "%s", sc->names);
    char *save = NULL;
    for (char *name = strtok_r(names, " ", &save); name != NULL;
         name = strtok_r(NULL, " ", &save)) {
        for (size_t i = 0; i < sizeof lookups_per_name / sizeof lookups_per_name[0]; i++) {
            query q = lookups_per_name[i];
            q.host = name;
            system_answer(&q, want, sizeof want);
            loop_answer(loop, &q, got, sizeof got);
            cases++;
            if (strcmp(want, got) != 0) {
                bool known = known_difference(&q, want, got);
                differ += !known;
                printf("%sgetaddrinfo(%s, %s, family=%d, type=%d, flags=%#x)\nglibc:\n%sloop:\n%s",
                       known ? "known: " : "", q.host, q.port ? q.port : "None", q.family, q.type,
                       q.flags, want, got);
            }
        }
    }
    char addrs[4096];
    snprintf(addrs, sizeof addrs, "%s", sc->addrs);
    for (char *addr = strtok_r(addrs, " ", &save); addr != NULL;
         addr = strtok_r(NULL, " ", &save)) {
        for (size_t i = 0; i < sizeof nameinfo_flags / sizeof nameinfo_flags[0]; i++) {
            system_nameinfo_answer(addr, nameinfo_flags[i], want, sizeof want);
            loop_nameinfo_answer(loop, addr, nameinfo_flags[i], got, sizeof got);
            cases++;
            if (strcmp(want, got) != 0) {
                differ++;
                printf("getnameinfo((%s, 80), %#x)\nglibc: %s\nloop:  %s\n", addr,
                       nameinfo_flags[i], want, got);
            }
        }
    }
    aio_loop_close(loop);
    aio_decref(loop);
    dns_server_stop(server);
    printf("%s: %d lookups, %d differ\n", sc->name, cases, differ);
    return differ == 0 ? 0 : 1;
}

/* Runs scenario `index` in a child (this program again, in a sandbox):
 * fails with what differs; skipped, saying why, where there is no
 * sandbox. */
static void run_differential(size_t index)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        print_message("differential skipped: /proc/self/exe unreadable\n");
        skip();
    }
    self[n] = '\0';
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char arg[16];
        snprintf(arg, sizeof arg, "%zu", index);
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        execl(self, self, "--differential", arg, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    static char out[1 << 16];
    size_t len = 0;
    for (ssize_t got; (got = read(fds[0], out + len, sizeof out - 1 - len)) != 0;) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            break;
        len += (size_t)got;
    }
    out[len] = '\0';
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (rc == 77) {
        print_message("differential '%s' skipped: %s", scenarios[index].name, out);
        skip();
    }
    if (rc != 0) {
        fprintf(stderr, "differential '%s' (exit %d):\n%s", scenarios[index].name, rc, out);
        fail();
    }
}

/* One test per scenario, its name the test's initial state. */
static void test_differential(void **state)
{
    for (size_t i = 0; i < SCENARIO_COUNT; i++) {
        if (strcmp(scenarios[i].name, *state) == 0) {
            run_differential(i);
            return;
        }
    }
    fail_msg("no scenario '%s'", (const char *)*state);
}

#define differential_test(name) \
    {"test_differential_" name, test_differential, NULL, NULL, (void *)(name)}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_numeric_ipv4),
    cmocka_unit_test(test_numeric_ipv6),
    cmocka_unit_test(test_numeric_hosts_no_resolver),
    cmocka_unit_test(test_host_none),
    cmocka_unit_test(test_numerichost_with_a_name),
    hosts_test(test_canonname),
    hosts_test(test_services),
    cmocka_unit_test(test_bad_service),
    cmocka_unit_test(test_numericserv_name_with_a_name),
    hosts_test(test_filters),
    cmocka_unit_test(test_getnameinfo_local),
    hosts_test(test_hosts_debian_layout),
    hosts_test(test_hosts_ipv4_only_layout),
    hosts_test(test_hosts_syntax),
    hosts_test(test_hosts_multi),
    hosts_test(test_hosts_mapped_lines),
    hosts_test(test_hosts_missing_empty_unreadable),
    hosts_test(test_hosts_then_dns),
    hosts_test(test_hosts_huge_file),
    hosts_test(test_getnameinfo_hosts_nofqdn),
    hosts_test(test_gai_conf_precedence),
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
    cmocka_unit_test(test_resolver_options_timeout),
    cmocka_unit_test(test_resolver_options_in_flight),
    cmocka_unit_test(test_closed_loop),
    differential_test("debian"),
    differential_test("debian-full"),
    differential_test("debian-netns"),
    differential_test("debian-multi-off"),
    differential_test("debian-prefer-ipv4"),
    differential_test("ipv4-only"),
    differential_test("syntax"),
    differential_test("multi"),
    differential_test("multi-off"),
    differential_test("mapped"),
    differential_test("sort"),
    differential_test("sort-netns"),
    differential_test("sort-tables"),
    differential_test("nofqdn"),
    differential_test("nofqdn-hostname"),
    differential_test("empty"),
    differential_test("huge"),
    differential_test("dns"),
};

/* AIO_TEST_MAIN's, and the child of the differential tests. */
int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--differential") == 0)
        return differential_child(strtoul(argv[2], NULL, 10));
    /* The answers spelled out here are those of "multi on" and of glibc's
     * own sort tables, whatever /etc/host.conf and /etc/gai.conf say. */
    setenv("RESOLV_MULTI", "on", 1);
    aio__hosts_reload_conf();
    aio__addrsort_reload_conf(NULL);
    return AIO_TEST_RUN(tests, argc, argv);
}
