/* hosts.c - the hosts file, read as glibc's "files" module reads it.
 *
 * Python's socket.getaddrinfo() is glibc's, and glibc answers a name from
 * /etc/hosts by rules of its own that another reader of the file (c-ares)
 * does not share: asked for IPv4, it also answers the "::1" line, as
 * 127.0.0.1, and v4-mapped lines as their IPv4 address; every matching line
 * counts when /etc/host.conf says "multi on" (Debian's does), only the
 * first one otherwise. This file applies those rules; dns.c asks it before
 * DNS and sorts what it finds (addrsort.c) as glibc does.
 *
 * The rules, for one line:
 * - leading blanks are skipped, and a line that is then empty or starts
 *   with '#' is no entry; otherwise it is moved to the start of its buffer
 *   by its length without the NUL, as glibc moves it, so that a last line
 *   with leading blanks and no newline ends with its last characters twice
 *   ("  1.2.3.4 foo" at the end of the file names "foooo");
 * - '#' or a newline ends the line; the fields are separated by blanks
 *   (space, \t, \v, \f, \r): the address, then the canonical name, then
 *   aliases; a line with an address alone has the empty name;
 * - the address is read by inet_pton() for the family asked (dotted quads
 *   only, no "127.1", no scope); an IPv4 lookup also takes an IPv6 line of
 *   ::1 (as 127.0.0.1) or of a v4-mapped address (as its IPv4 address); an
 *   IPv6 lookup takes IPv6 lines only; a lookup of both families takes
 *   either, as written. A line whose address does not read is skipped;
 * - names match case-insensitively (ASCII), the canonical name and every
 *   alias alike; the canonical name of an answer is that of its first line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exc.h"
#include "hosts.h"

/* --- Answers ------------------------------------------------------------------------ */

void aio__host_addrs_clear(aio__host_addrs *a)
{
    free(a->items);
    free(a->canon);
    memset(a, 0, sizeof *a);
}

int aio__host_addrs_add(aio__host_addrs *a, int family, const void *bytes)
{
    if (a->len == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 4;
        aio__host_addr *items = aio__realloc(a->items, cap * sizeof *items);
        if (items == NULL)
            return -1;
        a->items = items;
        a->cap = cap;
    }
    aio__host_addr *item = &a->items[a->len++];
    memset(item, 0, sizeof *item);
    item->family = family;
    memcpy(item->bytes, bytes, family == AF_INET ? 4 : 16);
    return 0;
}

/* --- /etc/host.conf: "multi" ---------------------------------------------------------- */

/* Whether every matching line counts, or the first one only. */
static atomic_bool hosts_multi;
static pthread_once_t conf_once = PTHREAD_ONCE_INIT;

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* The first n bytes of a and b are the same but for ASCII case. */
static bool same_ascii_n(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (ascii_lower(a[i]) != ascii_lower(b[i]))
            return false;
    }
    return true;
}

/* glibc's reading of an "on"/"off" argument: a prefix, any case; anything
 * else leaves the setting as it was. */
static void read_bool(const char *arg, bool *flag)
{
    if (same_ascii_n(arg, "on", 2))
        *flag = true;
    else if (same_ascii_n(arg, "off", 3))
        *flag = false;
}

static void read_host_conf(void)
{
    bool multi = false;
    const char *path = getenv("RESOLV_HOST_CONF");
    FILE *f = fopen(path != NULL ? path : "/etc/host.conf", "re");
    if (f != NULL) {
        char buf[256]; /* glibc's buffer: a longer line reads as several */
        while (fgets(buf, sizeof buf, f) != NULL) {
            buf[strcspn(buf, "\n")] = '\0';
            const char *p = buf;
            while (is_blank(*p))
                p++;
            const char *cmd = p;
            while (*p != '\0' && !is_blank(*p) && *p != '#' && *p != ',')
                p++;
            size_t len = (size_t)(p - cmd);
            if (len == 5 && same_ascii_n(cmd, "multi", 5)) {
                while (is_blank(*p))
                    p++;
                read_bool(p, &multi);
            }
        }
        fclose(f);
    }
    const char *env = getenv("RESOLV_MULTI");
    if (env != NULL)
        read_bool(env, &multi);
    atomic_store(&hosts_multi, multi);
}

void aio__hosts_reload_conf(void)
{
    pthread_once(&conf_once, read_host_conf);
    read_host_conf();
}

static bool multi_lines(void)
{
    pthread_once(&conf_once, read_host_conf);
    return atomic_load(&hosts_multi);
}

/* --- Lines ------------------------------------------------------------------------------ */

/* One line's fields, cut in place. */
typedef struct hosts_line {
    char *addr;
    char *name;    /* "" when the line has an address alone */
    char *aliases; /* the rest, blank-separated */
} hosts_line;

/* The next field of *p: cut after it, *p past the blanks that follow. */
static char *next_field(char **p)
{
    char *field = *p, *end = field;
    while (*end != '\0' && !is_blank(*end))
        end++;
    if (*end != '\0') {
        *end++ = '\0';
        while (is_blank(*end))
            end++;
    }
    *p = end;
    return field;
}

/* Reads the next entry into `line`: 1, 0 at the end (or on a read error:
 * the file is then no source), -1 MemoryError. */
static int read_line(FILE *f, char **buf, size_t *cap, hosts_line *line)
{
    for (;;) {
        errno = 0;
        if (getline(buf, cap, f) < 0) {
            if (errno == ENOMEM) {
                aio_err_set(aio_MemoryError, NULL);
                return -1;
            }
            return 0;
        }
        char *p = *buf;
        while (is_blank(*p))
            p++;
        if (*p == '\0' || *p == '#')
            continue;
        /* glibc's move, without the NUL (see the top of this file). */
        if (p != *buf)
            memmove(*buf, p, strlen(p));
        p = *buf;
        p[strcspn(p, "#\n")] = '\0';
        line->addr = next_field(&p);
        line->name = next_field(&p);
        line->aliases = p;
        return 1;
    }
}

static bool line_has_name(const hosts_line *line, const char *name, size_t name_len)
{
    if (strlen(line->name) == name_len && same_ascii_n(line->name, name, name_len))
        return true;
    for (const char *p = line->aliases; *p != '\0';) {
        size_t len = 0;
        while (p[len] != '\0' && !is_blank(p[len]))
            len++;
        if (len == name_len && same_ascii_n(p, name, name_len))
            return true;
        p += len;
        while (is_blank(*p))
            p++;
    }
    return false;
}

/* The line's address as a lookup of family `af` takes it (the family it
 * takes it as in *family), or false: the line is skipped. */
static bool line_address(const hosts_line *line, int af, int *family, unsigned char bytes[16])
{
    if (af != AF_INET6 && inet_pton(AF_INET, line->addr, bytes) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, line->addr, bytes) != 1)
        return false;
    *family = AF_INET6;
    if (af != AF_INET)
        return true;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                               0, 0, 0, 0, 0, 0, 0, 1};
    if (memcmp(bytes, mapped, sizeof mapped) == 0) {
        memmove(bytes, bytes + 12, 4);
    } else if (memcmp(bytes, loopback, sizeof loopback) == 0) {
        static const unsigned char localhost[4] = {127, 0, 0, 1};
        memcpy(bytes, localhost, 4);
    } else {
        return false;
    }
    *family = AF_INET;
    return true;
}

/* One pass over the file for a lookup of family `af`: the lines named
 * `name`, or (name NULL) the first line of the address `want`. Their
 * addresses are appended to out, the first line's name is out->canon
 * (unless it has one). After the first line, only with `all`. 1 found, 0
 * not (or no file), -1 MemoryError. */
static int scan(const char *path, int af, const char *name, const unsigned char *want, bool all,
                aio__host_addrs *out)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return errno == ENOMEM ? (aio_err_set(aio_MemoryError, NULL), -1) : 0;
    __fsetlocking(f, FSETLOCKING_BYCALLER);
    char *buf = NULL;
    size_t cap = 0, name_len = name != NULL ? strlen(name) : 0;
    int found = 0, rc;
    hosts_line line;
    while ((rc = read_line(f, &buf, &cap, &line)) > 0) {
        int family;
        unsigned char bytes[16];
        if (name != NULL && !line_has_name(&line, name, name_len))
            continue;
        if (!line_address(&line, af, &family, bytes))
            continue;
        if (name == NULL && memcmp(bytes, want, af == AF_INET ? 4 : 16) != 0)
            continue;
        if (out->canon == NULL && (out->canon = aio__strdup(line.name)) == NULL) {
            rc = -1;
            break;
        }
        if (name != NULL && aio__host_addrs_add(out, family, bytes) < 0) {
            rc = -1;
            break;
        }
        found = 1;
        if (!all)
            break;
    }
    free(buf);
    fclose(f);
    return rc < 0 ? -1 : found;
}

/* --- Lookups ------------------------------------------------------------------------------ */

int aio__hosts_by_name(const char *path, const char *name, int family, int flags,
                       aio__host_addrs *out)
{
    memset(out, 0, sizeof *out);
    bool multi = multi_lines();
    if (family != AF_INET6)
        return scan(path, family, name, NULL, multi, out);

    /* IPv6: the IPv6 lines; with AI_V4MAPPED, when there are none (or
     * always with AI_ALL), the IPv4 answer too, mapped. */
    int found6 = scan(path, AF_INET6, name, NULL, multi, out);
    if (found6 < 0)
        return -1;
    bool have_ipv6 = found6 > 0;
    int found4 = 0;
    if ((flags & AI_V4MAPPED) && ((flags & AI_ALL) || !found6)) {
        aio__host_addrs v4 = {0};
        found4 = scan(path, AF_INET, name, NULL, multi, &v4);
        for (size_t i = 0; found4 > 0 && i < v4.len; i++) {
            unsigned char mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
            memcpy(mapped + 12, v4.items[i].bytes, 4);
            if (aio__host_addrs_add(out, AF_INET6, mapped) < 0)
                found4 = -1;
        }
        if (found4 > 0 && out->canon == NULL) {
            out->canon = v4.canon;
            v4.canon = NULL;
        }
        aio__host_addrs_clear(&v4);
        if (found4 < 0)
            return -1;
        /* glibc notes the family of the last answer that held addresses. */
        if (found4 > 0)
            have_ipv6 = false;
    }
    /* With AI_V4MAPPED alone and IPv6 addresses found, the v4-mapped ones
     * are dropped, those of IPv6 lines too. */
    if (have_ipv6 && (flags & (AI_V4MAPPED | AI_ALL)) == AI_V4MAPPED) {
        size_t kept = 0;
        for (size_t i = 0; i < out->len; i++) {
            if (!IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)out->items[i].bytes))
                out->items[kept++] = out->items[i];
        }
        out->len = kept;
    }
    return found6 > 0 || found4 > 0;
}

int aio__hosts_by_addr(const char *path, int family, const void *bytes, char **name)
{
    aio__host_addrs found = {0};
    int rc = scan(path, family, NULL, bytes, false, &found);
    *name = rc > 0 ? found.canon : NULL;
    if (rc > 0)
        found.canon = NULL;
    aio__host_addrs_clear(&found);
    return rc;
}

/* The canonical name of `name` as gethostbyname() finds it in the file (an
 * IPv4 lookup), if it holds a dot: what follows the dot, else NULL. */
static int domain_of_name(const char *path, const char *name, char **domain)
{
    aio__host_addrs found = {0};
    int rc = scan(path, AF_INET, name, NULL, false, &found);
    const char *dot = rc > 0 ? strchr(found.canon, '.') : NULL;
    if (dot != NULL && (*domain = aio__strdup(dot + 1)) == NULL)
        rc = -1;
    aio__host_addrs_clear(&found);
    return rc < 0 ? -1 : 0;
}

int aio__hosts_trim_domain(const char *path, char *name)
{
    char *domain = NULL;
    if (domain_of_name(path, "localhost", &domain) < 0)
        return -1;
    char host[256];
    if (domain == NULL && gethostname(host, sizeof host) == 0) {
        host[sizeof host - 1] = '\0';
        const char *dot = strchr(host, '.');
        if (dot != NULL && (domain = aio__strdup(dot + 1)) == NULL)
            return -1;
        if (domain == NULL && domain_of_name(path, host, &domain) < 0)
            return -1;
    }
    if (domain == NULL) {
        static const unsigned char loopback[4] = {127, 0, 0, 1};
        char *canon = NULL;
        if (aio__hosts_by_addr(path, AF_INET, loopback, &canon) < 0)
            return -1;
        const char *dot = canon != NULL ? strchr(canon, '.') : NULL;
        if (dot != NULL)
            domain = aio__strdup(dot + 1);
        free(canon);
        if (dot != NULL && domain == NULL)
            return -1;
    }
    /* glibc cuts at the domain wherever it appears after a dot, not only
     * at the end. */
    char *at = domain != NULL ? strstr(name, domain) : NULL;
    if (at != NULL && at != name && at[-1] == '.')
        at[-1] = '\0';
    free(domain);
    return 0;
}
