/* dns_server.h - a tiny authoritative DNS server on loopback for the resolver
 * tests: start one with the records you want, point the resolver at
 * 127.0.0.1:dns_server_port(), stop it at the end (see test_dns_server.c).
 *
 * A thread of its own serves UDP and TCP (length-prefixed, several queries per
 * connection) on one ephemeral port. Records: A, AAAA, PTR, CNAME (the answer
 * holds the chain, then the records of the asked type of its target if that
 * is in the zone). Pseudo-records give a name a behaviour instead: NXDOMAIN,
 * SERVFAIL, REFUSED, DROP (read the query, never answer), TRUNCATE (over UDP,
 * TC=1 and no answers; over TCP, the name's real records). Names match
 * case-insensitively, a trailing dot ignored. A name in the zone without
 * records of the asked type: NOERROR, no answers, no SOA (NODATA); a name not
 * in the zone: NXDOMAIN.
 *
 * Limits: one question, class IN (else REFUSED); no wildcards, delegation,
 * SOA/NS, ANY or DNSSEC. A query's EDNS0 OPT is ignored and replies carry
 * none, so UDP replies are 512 bytes at most (else TC=1). Malformed queries
 * (labels holding '.' or NUL too) get FORMERR; responses and messages shorter
 * than a header get nothing. DNS__MAX_CONN TCP connections at a time. The
 * zone array is copied, its strings are not: they must outlive the server.
 * Needs POSIX.1-2008 (_POSIX_C_SOURCE 200809L, or the Makefile's _GNU_SOURCE).
 */
#ifndef CASYNCIO_TESTS_DNS_SERVER_H
#define CASYNCIO_TESTS_DNS_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
    /* Records: their QTYPE. */
    DNS_A = 1,     /* value "1.2.3.4" */
    DNS_CNAME = 5, /* value: the target name */
    DNS_PTR = 12,  /* name "4.3.2.1.in-addr.arpa", value: a host name */
    DNS_AAAA = 28, /* value "2001:db8::1" */
    /* Behaviours of a name (no value, no ttl): minus their RCODE, if any. */
    DNS_SERVFAIL = -2, DNS_NXDOMAIN = -3, DNS_REFUSED = -5,
    DNS_DROP = -100,     /* read the query, never answer */
    DNS_TRUNCATE = -101, /* UDP: TC=1, no answers; TCP: the real records */
};

typedef struct dns_record {
    const char *name;
    int type; /* DNS_A ... DNS_TRUNCATE */
    const char *value;
    int ttl;
} dns_record;

#define DNS__MAX_CONN 8
#define DNS__TCP_MAX 4096 /* the longest reply over TCP (else SERVFAIL) */
#define DNS__UDP_MAX 512  /* the longest reply over UDP (else TC=1) */

typedef struct dns_server {
    dns_record *zone;
    size_t n;
    int udp, tcp, wake[2], port; /* wake: the self-pipe that stops the thread */
    pthread_t thread;
    atomic_uint udp_queries, tcp_queries;
    struct {
        int fd; /* -1: a free slot */
        size_t len;
        uint8_t buf[1024]; /* what came of a query, length prefix included */
    } conn[DNS__MAX_CONN];
} dns_server;

/* --- names and the reply buffer ------------------------------------------ */

/* a and b are the same name: case-insensitive, a trailing dot ignored. */
static inline int dns__name_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    la -= la > 0 && a[la - 1] == '.';
    lb -= lb > 0 && b[lb - 1] == '.';
    return la == lb && strncasecmp(a, b, la) == 0;
}

typedef struct dns__buf {
    uint8_t *p;
    size_t len, cap;
    int err; /* 1: the reply did not fit, 2: a bad name or address in the zone */
} dns__buf;

static inline void dns__put(dns__buf *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        b->err = b->err ? b->err : 1;
        return;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static inline void dns__put16(dns__buf *b, unsigned v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    dns__put(b, x, 2);
}

/* A dotted name as labels, uncompressed. */
static inline void dns__put_name(dns__buf *b, const char *name)
{
    for (size_t wire = 1; *name;) {
        const char *dot = strchr(name, '.');
        size_t l = dot ? (size_t)(dot - name) : strlen(name);
        uint8_t lb = (uint8_t)l;
        if (l == 0 || l > 63 || (wire += l + 1) > 255) {
            b->err = 2;
            return;
        }
        dns__put(b, &lb, 1);
        dns__put(b, name, l);
        name += l + (dot != NULL);
    }
    dns__put(b, "", 1);
}

/* --- queries and replies --------------------------------------------------- */

typedef struct dns__query {
    unsigned id, rd, qtype, qclass;
    char name[256]; /* dotted, no trailing dot, its case kept */
} dns__query;

/* Parses the message m: 0 for a query, -1 for no reply, else the RCODE of a
 * reply without question (then id and rd are set). */
static inline int dns__parse(const uint8_t *m, size_t len, dns__query *q)
{
    if (len < 12 || (m[2] & 0x80)) /* no header, or a response */
        return -1;
    q->id = (unsigned)m[0] << 8 | m[1];
    q->rd = m[2] & 1;
    if ((m[2] >> 3) & 0xf) /* an OPCODE other than QUERY: NOTIMP */
        return 4;
    if (m[4] != 0 || m[5] != 1) /* QDCOUNT */
        return 1;
    size_t pos = 12, end = 0, n = 0, wire = 1;
    for (int jumps = 0; pos < len && m[pos] != 0;) {
        size_t l = m[pos];
        if ((l & 0xc0) == 0xc0) { /* a compression pointer */
            if (pos + 1 >= len || ++jumps > 16)
                return 1;
            end = end ? end : pos + 2;
            pos = (l & 0x3f) << 8 | m[pos + 1];
            continue;
        }
        if ((l & 0xc0) || pos + 1 + l > len || (wire += l + 1) > 255 ||
            memchr(m + pos + 1, '.', l) || memchr(m + pos + 1, 0, l))
            return 1;
        if (n)
            q->name[n++] = '.';
        memcpy(q->name + n, m + pos + 1, l);
        n += l;
        pos += l + 1;
    }
    q->name[n] = '\0';
    end = end ? end : pos + 1;
    if (pos >= len || end + 4 > len)
        return 1;
    q->qtype = (unsigned)m[end] << 8 | m[end + 1];
    q->qclass = (unsigned)m[end + 2] << 8 | m[end + 3];
    return 0; /* the other sections (an EDNS0 OPT) are ignored */
}

/* Starts the reply over: the header (QR, AA, RA, RD as asked; `flags` adds TC
 * and the RCODE) and, when `question`, the question. */
static inline void dns__header(dns__buf *b, const dns__query *q, unsigned flags, int question)
{
    *b = (dns__buf){b->p, 0, b->cap, 0};
    dns__put16(b, q->id);
    dns__put16(b, 0x8000 | 0x0400 | q->rd << 8 | 0x0080 | flags);
    dns__put16(b, question ? 1 : 0);
    dns__put(b, "\0\0\0\0\0\0", 6); /* ANCOUNT (set at the end), NSCOUNT, ARCOUNT */
    if (question) {
        dns__put_name(b, q->name);
        dns__put16(b, q->qtype);
        dns__put16(b, q->qclass);
    }
}

/* One answer: the record r, under the name `owner` (uncompressed). */
static inline void dns__rr(dns__buf *b, const char *owner, const dns_record *r)
{
    uint8_t addr[16];
    dns__put_name(b, owner);
    dns__put16(b, (unsigned)r->type);
    dns__put16(b, 1); /* class IN */
    dns__put16(b, (unsigned)r->ttl >> 16);
    dns__put16(b, (unsigned)r->ttl & 0xffff);
    size_t at = b->len;
    dns__put16(b, 0); /* RDLENGTH, set below */
    if (r->type == DNS_CNAME || r->type == DNS_PTR)
        dns__put_name(b, r->value);
    else if (inet_pton(r->type == DNS_A ? AF_INET : AF_INET6, r->value, addr) == 1)
        dns__put(b, addr, r->type == DNS_A ? 4 : 16);
    else
        b->err = 2;
    if (!b->err) {
        b->p[at] = (uint8_t)((b->len - at - 2) >> 8);
        b->p[at + 1] = (uint8_t)(b->len - at - 2);
    }
}

/* The first record of `name` of this type (0: of any), or NULL. */
static inline const dns_record *dns__find(const dns_server *s, const char *name, int type)
{
    for (size_t i = 0; i < s->n; i++)
        if ((type == 0 || s->zone[i].type == type) && dns__name_eq(s->zone[i].name, name))
            return &s->zone[i];
    return NULL;
}

/* Writes the reply to the message m into out (cap bytes); returns its length,
 * 0 for no reply. */
static inline size_t dns__reply(const dns_server *s, const uint8_t *m, size_t len, uint8_t *out,
                                size_t cap, int tcp)
{
    dns__query q;
    dns__buf b = {out, 0, cap, 0};
    int rcode = dns__parse(m, len, &q), behaviour = 0;
    if (rcode > 0)
        dns__header(&b, &q, (unsigned)rcode, 0);
    if (rcode != 0)
        return b.len;
    for (size_t i = 0; i < s->n && !behaviour; i++)
        if (s->zone[i].type < 0 && dns__name_eq(s->zone[i].name, q.name))
            behaviour = s->zone[i].type;
    if (behaviour == DNS_DROP)
        return 0;
    if (q.qclass != 1)
        rcode = 5;
    else if (behaviour == DNS_TRUNCATE && !tcp)
        rcode = 0x0200; /* TC */
    else if (behaviour < 0 && behaviour != DNS_TRUNCATE)
        rcode = -behaviour;
    else if (!dns__find(s, q.name, 0))
        rcode = 3;
    dns__header(&b, &q, (unsigned)rcode, 1);
    if (rcode != 0)
        return b.len;

    unsigned answers = 0;
    const char *cur = q.name;
    for (int hop = 0; hop < 16; hop++) { /* follows CNAMEs, 16 at most */
        int found = 0;
        for (size_t i = 0; i < s->n; i++)
            if (s->zone[i].type == (int)q.qtype && dns__name_eq(s->zone[i].name, cur)) {
                dns__rr(&b, cur, &s->zone[i]);
                answers++;
                found = 1;
            }
        const dns_record *cname = dns__find(s, cur, DNS_CNAME);
        if (found || q.qtype == DNS_CNAME || !cname)
            break;
        dns__rr(&b, cur, cname);
        answers++;
        cur = cname->value;
    }
    if (b.err) { /* too long for UDP: TC; a bad zone: SERVFAIL */
        dns__header(&b, &q, b.err == 1 && !tcp ? 0x0200 : 2, 1);
        return b.len;
    }
    out[6] = (uint8_t)(answers >> 8);
    out[7] = (uint8_t)answers;
    return b.len;
}

/* --- the server thread ----------------------------------------------------- */

/* Reads from TCP connection i and answers each whole query it holds; closes
 * it at EOF, on errors, and on a length no query has. */
static inline void dns__serve_conn(dns_server *s, int i, uint8_t *out)
{
    uint8_t *buf = s->conn[i].buf;
    ssize_t got = read(s->conn[i].fd, buf + s->conn[i].len, sizeof s->conn[i].buf - s->conn[i].len);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    size_t have = s->conn[i].len + (got > 0 ? (size_t)got : 0);
    while (got > 0 && have >= 2) {
        size_t want = (size_t)buf[0] << 8 | buf[1];
        if (want + 2 > sizeof s->conn[i].buf)
            got = 0; /* longer than any query */
        if (got == 0 || have < want + 2)
            break;
        atomic_fetch_add(&s->tcp_queries, 1);
        size_t n = dns__reply(s, buf + 2, want, out + 2, DNS__TCP_MAX, 1);
        out[0] = (uint8_t)(n >> 8);
        out[1] = (uint8_t)n;
        if (n > 0 && send(s->conn[i].fd, out, n + 2, MSG_NOSIGNAL) != (ssize_t)(n + 2))
            got = 0; /* a client that does not read */
        memmove(buf, buf + want + 2, have - want - 2);
        have -= want + 2;
    }
    s->conn[i].len = have;
    if (got <= 0) {
        close(s->conn[i].fd);
        s->conn[i].fd = -1;
        s->conn[i].len = 0;
    }
}

static inline void *dns__thread(void *arg)
{
    dns_server *s = arg;
    uint8_t in[4096], out[DNS__TCP_MAX + 2];
    for (;;) {
        struct pollfd p[3 + DNS__MAX_CONN];
        int fds[3] = {s->wake[0], s->udp, s->tcp};
        for (int i = 0; i < 3 + DNS__MAX_CONN; i++) /* fd -1: skipped */
            p[i] = (struct pollfd){.fd = i < 3 ? fds[i] : s->conn[i - 3].fd, .events = POLLIN};
        int ready = poll(p, 3 + DNS__MAX_CONN, -1);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0 || p[0].revents) /* p[0]: dns_server_stop() */
            return NULL;
        if (p[1].revents) { /* errors too: recvfrom() clears them */
            struct sockaddr_storage from;
            socklen_t fromlen = sizeof from;
            ssize_t got = recvfrom(s->udp, in, sizeof in, 0, (struct sockaddr *)&from, &fromlen);
            if (got >= 0)
                atomic_fetch_add(&s->udp_queries, 1);
            size_t n = got < 0 ? 0 : dns__reply(s, in, (size_t)got, out, DNS__UDP_MAX, 0);
            if (n > 0)
                sendto(s->udp, out, n, 0, (struct sockaddr *)&from, fromlen);
        }
        int fd = p[2].revents ? accept(s->tcp, NULL, NULL) : -1, i = 0;
        while (fd >= 0 && i < DNS__MAX_CONN && s->conn[i].fd >= 0)
            i++;
        if (fd >= 0 && (i == DNS__MAX_CONN || fcntl(fd, F_SETFL, O_NONBLOCK) != 0))
            close(fd); /* too many connections */
        else if (fd >= 0)
            s->conn[i].fd = fd;
        for (i = 0; i < DNS__MAX_CONN; i++) /* not one just accepted */
            if (s->conn[i].fd >= 0 && p[3 + i].fd == s->conn[i].fd && p[3 + i].revents)
                dns__serve_conn(s, i, out);
    }
}

/* A non-blocking socket bound to 127.0.0.1:port (listening if a stream), or -1. */
static inline int dns__bind(int type, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, type, 0), one = 1;
    if (fd >= 0 && (fcntl(fd, F_SETFL, O_NONBLOCK) != 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 ||
                    (type == SOCK_STREAM &&
                     setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) ||
                    bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
                    (type == SOCK_STREAM && listen(fd, 16) != 0))) {
        close(fd);
        return -1;
    }
    return fd;
}

/* --- API ------------------------------------------------------------------- */

/* Stops the server's thread, closes its sockets and frees it; NULL: nothing. */
static inline void dns_server_stop(dns_server *s)
{
    if (s == NULL)
        return;
    if (s->wake[1] >= 0) {
        while (write(s->wake[1], "x", 1) < 0 && errno == EINTR)
            ;
        pthread_join(s->thread, NULL);
    }
    int fds[4 + DNS__MAX_CONN] = {s->udp, s->tcp, s->wake[0], s->wake[1]};
    for (int i = 0; i < DNS__MAX_CONN; i++)
        fds[4 + i] = s->conn[i].fd;
    for (int i = 0; i < 4 + DNS__MAX_CONN; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(s->zone);
    free(s);
}

/* Serves the n records of zone on 127.0.0.1, UDP and TCP on `port` (0: one
 * ephemeral port), from a new thread; NULL on failure. */
static inline dns_server *dns_server_start_on(const dns_record *zone, size_t n, int port)
{
    dns_server *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->udp = s->tcp = s->wake[0] = s->wake[1] = -1;
    for (int i = 0; i < DNS__MAX_CONN; i++)
        s->conn[i].fd = -1;
    s->n = n;
    if ((s->zone = malloc(n ? n * sizeof *zone : 1)) == NULL)
        goto fail;
    if (n)
        memcpy(s->zone, zone, n * sizeof *zone);
    /* UDP on an ephemeral port, then TCP on the same: another try if taken. */
    for (int attempt = 0; attempt < (port ? 1 : 100) && s->tcp < 0; attempt++) {
        struct sockaddr_in sa;
        socklen_t salen = sizeof sa;
        if (s->udp >= 0)
            close(s->udp);
        s->udp = dns__bind(SOCK_DGRAM, port);
        if (s->udp < 0 || getsockname(s->udp, (struct sockaddr *)&sa, &salen) != 0)
            goto fail;
        s->port = ntohs(sa.sin_port);
        s->tcp = dns__bind(SOCK_STREAM, s->port);
    }
    if (s->tcp < 0 || pipe(s->wake) != 0)
        goto fail;
    if (pthread_create(&s->thread, NULL, dns__thread, s) != 0) {
        close(s->wake[1]);
        s->wake[1] = -1; /* no thread to stop */
        goto fail;
    }
    return s;
fail:
    dns_server_stop(s);
    return NULL;
}

/* Serves them on one ephemeral port. */
static inline dns_server *dns_server_start(const dns_record *zone, size_t n)
{
    return dns_server_start_on(zone, n, 0);
}

/* The port the server listens on, UDP and TCP. */
static inline int dns_server_port(dns_server *s) { return s->port; }

/* How many queries it received: over UDP, over TCP, in all. */
static inline unsigned dns_server_udp_queries(dns_server *s) { return s->udp_queries; }
static inline unsigned dns_server_tcp_queries(dns_server *s) { return s->tcp_queries; }
static inline unsigned dns_server_queries(dns_server *s) { return s->udp_queries + s->tcp_queries; }

#endif /* CASYNCIO_TESTS_DNS_SERVER_H */
