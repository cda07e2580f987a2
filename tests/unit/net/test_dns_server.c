/* test_dns_server.c - the loopback DNS server the resolver tests use.
 *
 * Queries are made by hand and sent over plain sockets, so that these tests
 * check the server and nothing of casyncio's own DNS code.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include "test_support.h"
#include "dns_server.h"

static const dns_record zone[] = {
    {"host.test", DNS_A, "10.0.0.1", 300},
    {"host.test", DNS_AAAA, "2001:db8::1", 300},
    {"two.test", DNS_A, "10.0.0.2", 60},
    {"two.test", DNS_A, "10.0.0.3", 60},
    {"alias1.test", DNS_CNAME, "alias2.test", 30},
    {"alias2.test", DNS_CNAME, "host.test", 40},
    {"gone.test", DNS_NXDOMAIN, NULL, 0},
    {"broken.test", DNS_SERVFAIL, NULL, 0},
    {"refused.test", DNS_REFUSED, NULL, 0},
    {"silent.test", DNS_DROP, NULL, 0},
    {"big.test", DNS_TRUNCATE, NULL, 0},
    {"big.test", DNS_A, "10.0.1.1", 60},
    {"big.test", DNS_A, "10.0.1.2", 60},
    {"big.test", DNS_AAAA, "2001:db8::2", 60},
    {"1.0.0.10.in-addr.arpa", DNS_PTR, "host.test", 300},
    {"MiXeD.Case.TEST.", DNS_A, "10.0.0.5", 60},
    {"bad.test", DNS_A, "not-an-address", 60},
};

/* --- the client side --------------------------------------------------------- */

/* A query with RD set and an EDNS0 OPT record (with a cookie option, as
 * recent c-ares sends) in the additional section; returns its length. */
static size_t make_query(uint8_t *q, unsigned id, const char *name, int qtype)
{
    static const uint8_t opt[] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 12, 0, 10, 0, 8,
                                  1, 2, 3, 4, 5, 6, 7, 8};
    uint8_t head[12] = {(uint8_t)(id >> 8), (uint8_t)id, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 1};
    size_t n = sizeof head;
    memcpy(q, head, n);
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t l = dot ? (size_t)(dot - name) : strlen(name);
        q[n++] = (uint8_t)l;
        memcpy(q + n, name, l);
        n += l;
        name += l + (dot != NULL);
    }
    uint8_t tail[5] = {0, 0, (uint8_t)qtype, 0, 1};
    memcpy(q + n, tail, sizeof tail);
    memcpy(q + n + sizeof tail, opt, sizeof opt);
    return n + sizeof tail + sizeof opt;
}

static int connect_to(int port, int type)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, type, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* Reads n bytes within timeout_ms; false when they did not come. */
static bool read_full(int fd, uint8_t *buf, size_t n, int timeout_ms)
{
    for (size_t got = 0; got < n;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) != 1)
            return false;
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

/* Sends q over UDP; the reply's length, or -1 when none came in timeout_ms. */
static int udp_exchange(int port, const uint8_t *q, size_t qlen, uint8_t *r, int timeout_ms)
{
    int fd = connect_to(port, SOCK_DGRAM);
    assert_int_equal(send(fd, q, qlen, 0), (ssize_t)qlen);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n = poll(&p, 1, timeout_ms) == 1 ? (int)recv(fd, r, 4096, 0) : -1;
    close(fd);
    return n;
}

/* Reads one length-prefixed message from a TCP connection: its length, or -1. */
static int tcp_read(int fd, uint8_t *r, int timeout_ms)
{
    uint8_t len[2];
    if (!read_full(fd, len, 2, timeout_ms))
        return -1;
    size_t n = (size_t)len[0] << 8 | len[1];
    return read_full(fd, r, n, timeout_ms) ? (int)n : -1;
}

/* Sends q over a new TCP connection; the reply's length, or -1. */
static int tcp_exchange(int port, const uint8_t *q, size_t qlen, uint8_t *r, int timeout_ms)
{
    int fd = connect_to(port, SOCK_STREAM);
    uint8_t msg[600] = {(uint8_t)(qlen >> 8), (uint8_t)qlen};
    memcpy(msg + 2, q, qlen);
    assert_int_equal(send(fd, msg, qlen + 2, MSG_NOSIGNAL), (ssize_t)(qlen + 2));
    int n = tcp_read(fd, r, timeout_ms);
    close(fd);
    return n;
}

typedef struct rr {
    char owner[256];
    unsigned type, ttl;
    char data[256]; /* an address or a name, as text */
} rr;

typedef struct reply {
    unsigned id, flags, rcode, qd, an, qtype;
    char qname[256];
    rr answer[8];
} reply;

/* The name at m[pos] (compression pointers followed) into out; returns the
 * position after it. */
static size_t read_name(const uint8_t *m, size_t len, size_t pos, char *out)
{
    size_t n = 0, end = 0;
    for (int jumps = 0; m[pos] != 0; assert_true(pos < len)) {
        if ((m[pos] & 0xc0) == 0xc0) {
            assert_true(++jumps < 10 && pos + 1 < len);
            end = end ? end : pos + 2;
            pos = (size_t)(m[pos] & 0x3f) << 8 | m[pos + 1];
            continue;
        }
        assert_true(m[pos] < 64 && pos + 1 + m[pos] < len && n + m[pos] + 2 < 256);
        if (n)
            out[n++] = '.';
        memcpy(out + n, m + pos + 1, m[pos]);
        n += m[pos];
        pos += 1 + m[pos];
    }
    out[n] = '\0';
    return end ? end : pos + 1;
}

static unsigned get16(const uint8_t *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

/* Parses a whole reply; nothing may follow the answers. */
static void parse_reply(const uint8_t *m, int len, reply *r)
{
    memset(r, 0, sizeof *r);
    assert_true(len >= 12);
    r->id = get16(m);
    r->flags = get16(m + 2);
    r->rcode = r->flags & 0xf;
    r->qd = get16(m + 4);
    r->an = get16(m + 6);
    assert_int_equal(get16(m + 8), 0);
    assert_int_equal(get16(m + 10), 0);
    assert_true(r->qd <= 1 && r->an <= 8);
    size_t pos = 12;
    if (r->qd) {
        pos = read_name(m, (size_t)len, pos, r->qname);
        r->qtype = get16(m + pos);
        assert_int_equal(get16(m + pos + 2), 1);
        pos += 4;
    }
    for (unsigned i = 0; i < r->an; i++) {
        rr *a = &r->answer[i];
        pos = read_name(m, (size_t)len, pos, a->owner);
        assert_true(pos + 10 <= (size_t)len);
        a->type = get16(m + pos);
        assert_int_equal(get16(m + pos + 2), 1);
        a->ttl = get16(m + pos + 4) << 16 | get16(m + pos + 6);
        size_t rdlen = get16(m + pos + 8), rdata = pos + 10;
        assert_true(rdata + rdlen <= (size_t)len);
        if (a->type == DNS_A || a->type == DNS_AAAA) {
            assert_int_equal(rdlen, a->type == DNS_A ? 4 : 16);
            inet_ntop(a->type == DNS_A ? AF_INET : AF_INET6, m + rdata, a->data, sizeof a->data);
        } else {
            assert_int_equal(read_name(m, (size_t)len, rdata, a->data), rdata + rdlen);
        }
        pos = rdata + rdlen;
    }
    assert_int_equal(pos, (size_t)len);
}

static unsigned next_id = 0x1234;

/* Asks s about name over UDP or TCP and checks the header and the question. */
static reply ask(dns_server *s, const char *name, int qtype, bool tcp)
{
    uint8_t q[512], m[4096];
    unsigned id = next_id++;
    size_t qlen = make_query(q, id, name, qtype);
    int n = (tcp ? tcp_exchange : udp_exchange)(dns_server_port(s), q, qlen, m, 2000);
    assert_true(n > 0);
    reply r;
    parse_reply(m, n, &r);
    assert_int_equal(r.id, id);
    assert_int_equal(r.flags & 0xfdf0, 0x8580); /* QR, AA, RD, RA; QUERY, Z=0 */
    assert_int_equal(r.qd, 1);
    assert_string_equal(r.qname, name); /* its case kept */
    assert_int_equal(r.qtype, qtype);
    return r;
}

static void assert_answer(const reply *r, unsigned i, const char *owner, int type,
                          const char *data, unsigned ttl)
{
    assert_true(i < r->an);
    assert_string_equal(r->answer[i].owner, owner);
    assert_int_equal(r->answer[i].type, type);
    assert_string_equal(r->answer[i].data, data);
    assert_int_equal(r->answer[i].ttl, ttl);
}

static dns_server *start(void)
{
    dns_server *s = dns_server_start(zone, sizeof zone / sizeof zone[0]);
    assert_non_null(s);
    assert_true(dns_server_port(s) > 0);
    return s;
}

/* --- answers ----------------------------------------------------------------- */

static void test_a(void **state)
{
    (void)state;
    dns_server *s = start();
    reply r = ask(s, "host.test", DNS_A, false);
    assert_int_equal(r.rcode, 0);
    assert_int_equal(r.an, 1);
    assert_answer(&r, 0, "host.test", DNS_A, "10.0.0.1", 300);
    r = ask(s, "two.test", DNS_A, false);
    assert_int_equal(r.an, 2);
    assert_answer(&r, 0, "two.test", DNS_A, "10.0.0.2", 60);
    assert_answer(&r, 1, "two.test", DNS_A, "10.0.0.3", 60);
    assert_int_equal(dns_server_queries(s), 2);
    assert_int_equal(dns_server_udp_queries(s), 2);
    assert_int_equal(dns_server_tcp_queries(s), 0);
    dns_server_stop(s);
}

static void test_aaaa(void **state)
{
    (void)state;
    dns_server *s = start();
    for (int tcp = 0; tcp <= 1; tcp++) {
        reply r = ask(s, "host.test", DNS_AAAA, tcp);
        assert_int_equal(r.rcode, 0);
        assert_int_equal(r.an, 1);
        assert_answer(&r, 0, "host.test", DNS_AAAA, "2001:db8::1", 300);
    }
    assert_int_equal(dns_server_udp_queries(s), 1);
    assert_int_equal(dns_server_tcp_queries(s), 1);
    dns_server_stop(s);
}

static void test_cname_chain(void **state)
{
    (void)state;
    dns_server *s = start();
    reply r = ask(s, "alias1.test", DNS_A, false);
    assert_int_equal(r.rcode, 0);
    assert_int_equal(r.an, 3);
    assert_answer(&r, 0, "alias1.test", DNS_CNAME, "alias2.test", 30);
    assert_answer(&r, 1, "alias2.test", DNS_CNAME, "host.test", 40);
    assert_answer(&r, 2, "host.test", DNS_A, "10.0.0.1", 300);
    /* Asked for the CNAME itself: only it. */
    r = ask(s, "alias1.test", DNS_CNAME, false);
    assert_int_equal(r.an, 1);
    assert_answer(&r, 0, "alias1.test", DNS_CNAME, "alias2.test", 30);
    dns_server_stop(s);
}

static void test_ptr(void **state)
{
    (void)state;
    dns_server *s = start();
    reply r = ask(s, "1.0.0.10.in-addr.arpa", DNS_PTR, false);
    assert_int_equal(r.rcode, 0);
    assert_int_equal(r.an, 1);
    assert_answer(&r, 0, "1.0.0.10.in-addr.arpa", DNS_PTR, "host.test", 300);
    assert_int_equal(ask(s, "2.0.0.10.in-addr.arpa", DNS_PTR, false).rcode, 3);
    dns_server_stop(s);
}

static void test_case_insensitive(void **state)
{
    (void)state;
    dns_server *s = start();
    reply r = ask(s, "mIxEd.cAsE.tEsT", DNS_A, false);
    assert_int_equal(r.an, 1);
    assert_answer(&r, 0, "mIxEd.cAsE.tEsT", DNS_A, "10.0.0.5", 60);
    r = ask(s, "HOST.Test", DNS_AAAA, true);
    assert_answer(&r, 0, "HOST.Test", DNS_AAAA, "2001:db8::1", 300);
    dns_server_stop(s);
}

/* --- errors and behaviours --------------------------------------------------- */

static void test_rcodes(void **state)
{
    (void)state;
    dns_server *s = start();
    static const struct {
        const char *name;
        unsigned rcode;
    } cases[] = {{"unknown.test", 3}, {"gone.test", 3}, {"broken.test", 2},
                 {"refused.test", 5}, {"host.test.more", 3}, {"test", 3},
                 {"bad.test", 2}}; /* a bad zone: SERVFAIL */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int tcp = 0; tcp <= 1; tcp++) {
            reply r = ask(s, cases[i].name, DNS_A, tcp);
            assert_int_equal(r.rcode, cases[i].rcode);
            assert_int_equal(r.an, 0);
        }
    dns_server_stop(s);
}

static void test_nodata(void **state)
{
    (void)state;
    dns_server *s = start();
    reply r = ask(s, "two.test", DNS_AAAA, false);
    assert_int_equal(r.rcode, 0);
    assert_int_equal(r.an, 0);
    r = ask(s, "host.test", DNS_PTR, true);
    assert_int_equal(r.rcode, 0);
    assert_int_equal(r.an, 0);
    dns_server_stop(s);
}

static void test_drop(void **state)
{
    (void)state;
    dns_server *s = start();
    uint8_t q[512], m[4096];
    size_t qlen = make_query(q, 7, "silent.test", DNS_A);
    assert_int_equal(udp_exchange(dns_server_port(s), q, qlen, m, 200), -1);
    assert_int_equal(tcp_exchange(dns_server_port(s), q, qlen, m, 200), -1);
    assert_int_equal(dns_server_udp_queries(s), 1);
    assert_int_equal(dns_server_tcp_queries(s), 1);
    assert_int_equal(ask(s, "host.test", DNS_A, false).an, 1); /* still serving */
    dns_server_stop(s);
}

static void test_truncate(void **state)
{
    (void)state;
    dns_server *s = start();
    reply r = ask(s, "big.test", DNS_A, false);
    assert_int_equal(r.flags & 0x0200, 0x0200);
    assert_int_equal(r.rcode, 0);
    assert_int_equal(r.an, 0);
    r = ask(s, "big.test", DNS_A, true);
    assert_int_equal(r.flags & 0x0200, 0);
    assert_int_equal(r.an, 2);
    assert_answer(&r, 0, "big.test", DNS_A, "10.0.1.1", 60);
    assert_answer(&r, 1, "big.test", DNS_A, "10.0.1.2", 60);
    r = ask(s, "big.test", DNS_AAAA, true);
    assert_answer(&r, 0, "big.test", DNS_AAAA, "2001:db8::2", 60);
    assert_int_equal(dns_server_udp_queries(s), 1);
    assert_int_equal(dns_server_tcp_queries(s), 2);
    dns_server_stop(s);
}

/* A reply too long for UDP (512 bytes): TC=1 and no answers; whole over TCP. */
static void test_udp_overflow_truncates(void **state)
{
    (void)state;
    static char addrs[40][16];
    dns_record many[40];
    for (int i = 0; i < 40; i++) {
        snprintf(addrs[i], sizeof addrs[i], "10.1.0.%d", i);
        many[i] = (dns_record){"many.test", DNS_A, addrs[i], 5};
    }
    dns_server *s = dns_server_start(many, 40);
    assert_non_null(s);
    reply r = ask(s, "many.test", DNS_A, false);
    assert_int_equal(r.flags & 0x0200, 0x0200);
    assert_int_equal(r.an, 0);
    uint8_t q[512], m[4096];
    size_t qlen = make_query(q, 5, "many.test", DNS_A);
    int n = tcp_exchange(dns_server_port(s), q, qlen, m, 2000);
    assert_int_equal(n, 12 + 11 + 4 + 40 * (11 + 10 + 4));
    assert_int_equal(get16(m + 2) & 0x020f, 0);
    assert_int_equal(get16(m + 6), 40);
    dns_server_stop(s);
}

/* Two queries in one write on one connection: two replies, in order. */
static void test_tcp_pipelined(void **state)
{
    (void)state;
    dns_server *s = start();
    uint8_t msg[1024], m[4096];
    size_t a = make_query(msg + 2, 1, "host.test", DNS_A);
    size_t b = make_query(msg + a + 4, 2, "host.test", DNS_AAAA);
    msg[0] = 0, msg[1] = (uint8_t)a, msg[a + 2] = 0, msg[a + 3] = (uint8_t)b;
    int fd = connect_to(dns_server_port(s), SOCK_STREAM);
    assert_int_equal(send(fd, msg, a + b + 4, MSG_NOSIGNAL), (ssize_t)(a + b + 4));
    reply r;
    parse_reply(m, tcp_read(fd, m, 2000), &r);
    assert_int_equal(r.id, 1);
    assert_answer(&r, 0, "host.test", DNS_A, "10.0.0.1", 300);
    parse_reply(m, tcp_read(fd, m, 2000), &r);
    assert_int_equal(r.id, 2);
    assert_answer(&r, 0, "host.test", DNS_AAAA, "2001:db8::1", 300);
    close(fd);
    dns_server_stop(s);
}

/* --- malformed queries ------------------------------------------------------- */

static void test_malformed(void **state)
{
    (void)state;
    dns_server *s = start();
    static const struct {
        uint8_t msg[32];
        size_t len;
        int rcode; /* -1: no reply */
    } cases[] = {
        {{1, 2, 3, 4, 5}, 5, -1},                                         /* no header */
        {{0, 9, 0x81, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1}, 19, -1}, /* a response */
        {{0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 4, 'h', 'o'}, 15, 1},       /* name cut short */
        {{0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1}, 18, 1}, /* pointer loop */
        {{0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 200, 0, 1, 0, 1}, 18, 1}, /* out of bounds */
        {{0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41, 'a', 0, 0, 1, 0, 1}, 19, 1}, /* bad label */
        {{0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'a', '.', 'b', 0, 0, 1, 0, 1}, 21, 1}, /* a dot */
        {{0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 1}, 17, 1},   /* no QCLASS */
        {{0, 9, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1}, 19, 1}, /* 2 questions */
        {{0, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 12, 1},                       /* no question */
        {{0, 9, 0x11, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1}, 19, 4}, /* STATUS */
    };
    uint8_t m[4096];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int n = udp_exchange(dns_server_port(s), cases[i].msg, cases[i].len, m,
                             cases[i].rcode < 0 ? 100 : 2000);
        if (cases[i].rcode < 0) {
            assert_int_equal(n, -1);
            continue;
        }
        reply r;
        parse_reply(m, n, &r);
        assert_int_equal(r.id, 9);
        assert_int_equal(r.flags & 0x8000, 0x8000);
        assert_int_equal(r.rcode, cases[i].rcode);
        assert_int_equal(r.qd, 0);
    }
    /* A compressed question: its name points past QTYPE/QCLASS to host.test. */
    static const uint8_t compressed[] = {0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 18,
                                         0, 1, 0, 1, 4, 'h', 'o', 's', 't', 4, 't', 'e',
                                         's', 't', 0};
    reply r;
    parse_reply(m, udp_exchange(dns_server_port(s), compressed, sizeof compressed, m, 2000), &r);
    assert_string_equal(r.qname, "host.test");
    assert_answer(&r, 0, "host.test", DNS_A, "10.0.0.1", 300);
    /* Over TCP: a length no query has closes the connection. */
    int fd = connect_to(dns_server_port(s), SOCK_STREAM);
    assert_int_equal(send(fd, "\xff\xff", 2, MSG_NOSIGNAL), 2);
    assert_int_equal(tcp_read(fd, m, 2000), -1);
    close(fd);
    assert_int_equal(dns_server_udp_queries(s), 12);
    assert_int_equal(ask(s, "host.test", DNS_A, true).an, 1); /* still serving */
    dns_server_stop(s);
}

/* --- life cycle -------------------------------------------------------------- */

static void test_start_stop_twice(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        dns_server *s = start();
        assert_int_equal(ask(s, "host.test", DNS_A, i == 1).an, 1);
        int idle = connect_to(dns_server_port(s), SOCK_STREAM); /* left open */
        sleep_ms(20);
        double t0 = monotonic_now();
        dns_server_stop(s);
        assert_true(monotonic_now() - t0 < 0.5);
        close(idle);
    }
    dns_server *s = dns_server_start(NULL, 0); /* an empty zone */
    assert_non_null(s);
    assert_int_equal(ask(s, "host.test", DNS_A, false).rcode, 3);
    dns_server_stop(s);
    dns_server_stop(NULL);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_a),
    cmocka_unit_test(test_aaaa),
    cmocka_unit_test(test_cname_chain),
    cmocka_unit_test(test_ptr),
    cmocka_unit_test(test_case_insensitive),
    cmocka_unit_test(test_rcodes),
    cmocka_unit_test(test_nodata),
    cmocka_unit_test(test_drop),
    cmocka_unit_test(test_truncate),
    cmocka_unit_test(test_udp_overflow_truncates),
    cmocka_unit_test(test_tcp_pipelined),
    cmocka_unit_test(test_malformed),
    cmocka_unit_test(test_start_stop_twice),
};

AIO_TEST_MAIN(tests)
