/* addrsort.c - the order of getaddrinfo()'s answers, as glibc sorts them.
 *
 * glibc sorts every answer of more than one address by the rules of RFC
 * 3484 (its own variant of them), which is why Python gets ::1 before
 * 127.0.0.1 for a "localhost" that /etc/hosts lists the other way round.
 * Each destination is rated with the source address the kernel would use
 * for it: a UDP socket is connect()ed to it (no packet leaves) and asked
 * getsockname(), and the source is looked up among the machine's addresses
 * (a netlink dump, as glibc's __check_pf() makes it) for its prefix length,
 * interface and flags. Then, comparing two destinations, the first rule
 * that tells them apart decides:
 *   1. one is reachable (has a source address), the other not;
 *   2. one's scope is that of its source, the other's not;
 *   3. one's source is not deprecated (or optimistic), the other's is;
 *   4. one's source is a home address, the other's not;
 *   5. one's label is that of its source, the other's not;
 *   6. the higher precedence;
 *   7. of sources on two interfaces, the one not on a tunnel;
 *   8. the smaller scope;
 *   9. of one family: the longer prefix shared with its source (for IPv4,
 *      only inside the source's network; for IPv6, counted in the first
 *      32-bit word where either differs);
 *  10. the order they came in.
 * glibc keeps the machine's addresses only when it has an IPv6 address
 * other than ::1; without them no source has flags, and the network of an
 * IPv4 source is its address alone.
 * Labels, precedences and IPv4 scopes are glibc's tables, or those of
 * /etc/gai.conf, read at the first sort (again when it changes, with
 * "reload yes"). The entries are ordered by glibc's merge sort, so that
 * even where the rules are not a total order (rule 9 compares only
 * destinations of one family) the outcome is glibc's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <linux/if_arp.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "exc.h"
#include "hosts.h"

/* --- Tables -------------------------------------------------------------------------- */

typedef struct prefix_entry {
    unsigned char prefix[16];
    unsigned bits;
    int value;
} prefix_entry;

typedef struct scope_entry {
    uint32_t addr;    /* network order */
    uint32_t netmask; /* network order, compared as stored, as glibc does */
    int scope;
} scope_entry;

#define V6(...) {__VA_ARGS__}
static const prefix_entry default_labels[] = {
    {V6(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1), 128, 0},
    {V6(0x20, 0x02), 16, 2},
    {V6(0), 96, 3},
    {V6(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff), 96, 4},
    {V6(0xfe, 0xc0), 10, 5},
    {V6(0xfc, 0x00), 7, 6},
    {V6(0x20, 0x01), 32, 7},
    {V6(0), 0, 1},
};

static const prefix_entry default_precedence[] = {
    {V6(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1), 128, 50},
    {V6(0x20, 0x02), 16, 30},
    {V6(0), 96, 20},
    {V6(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff), 96, 10},
    {V6(0), 0, 40},
};
#undef V6

static const scope_entry default_scopes[] = {
    {0, 0, 2}, /* 169.254.0.0/16 and 127.0.0.0/8, set at load */
    {0, 0, 2},
    {0, 0, 14},
};

typedef struct sort_tables {
    const prefix_entry *labels, *precedence;
    const scope_entry *scopes;
    prefix_entry *own_labels, *own_precedence; /* from gai.conf, else NULL */
    scope_entry *own_scopes;
    scope_entry builtin_scopes[3];
    bool reload;        /* "reload yes": read again when the file changes */
    bool loaded;
    struct timespec mtime;
    char path[4096];    /* "": no file, glibc's tables */
} sort_tables;

static sort_tables tables = {.path = "/etc/gai.conf"};
static pthread_mutex_t tables_lock = PTHREAD_MUTEX_INITIALIZER;

static void use_builtin_tables(void)
{
    free(tables.own_labels);
    free(tables.own_precedence);
    free(tables.own_scopes);
    tables.own_labels = tables.own_precedence = NULL;
    tables.own_scopes = NULL;
    memcpy(tables.builtin_scopes, default_scopes, sizeof default_scopes);
    tables.builtin_scopes[0].addr = htonl(0xa9fe0000);
    tables.builtin_scopes[0].netmask = htonl(0xffff0000);
    tables.builtin_scopes[1].addr = htonl(0x7f000000);
    tables.builtin_scopes[1].netmask = htonl(0xff000000);
    tables.labels = default_labels;
    tables.precedence = default_precedence;
    tables.scopes = tables.builtin_scopes;
}

/* A list read from gai.conf, in the file's order. */
typedef struct conf_list {
    void *items;
    size_t len, cap, size;
    bool any_bits; /* an entry that matches every address */
} conf_list;

static bool list_add(conf_list *l, const void *item)
{
    if (l->len == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        void *items = realloc(l->items, cap * l->size);
        if (items == NULL)
            return false;
        l->items = items;
        l->cap = cap;
    }
    memcpy((char *)l->items + l->len++ * l->size, item, l->size);
    return true;
}

/* "label" and "precedence": PREFIX[/BITS] VALUE, as glibc reads them. A
 * prefix without /BITS is taken as /128. */
static bool add_prefix(conf_list *l, char *val1, const char *val2)
{
    prefix_entry e;
    unsigned long bits = 128, value;
    char *endp = NULL;
    errno = 0;
    char *slash = strchr(val1, '/');
    if (slash != NULL)
        *slash++ = '\0';
    if (inet_pton(AF_INET6, val1, e.prefix) != 1)
        return true;
    if (slash != NULL && (((bits = strtoul(slash, &endp, 10)) == ULONG_MAX && errno == ERANGE) ||
                          *endp != '\0'))
        return true;
    if (bits > 128 || ((value = strtoul(val2, &endp, 10)) == ULONG_MAX && errno == ERANGE) ||
        *endp != '\0' || value > INT_MAX)
        return true;
    e.bits = (unsigned)bits;
    e.value = (int)value;
    l->any_bits |= bits == 0;
    return list_add(l, &e);
}

/* "scopev4": an IPv4 prefix (or its v4-mapped IPv6 form) and a scope. */
static bool add_scope(conf_list *l, char *val1, const char *val2)
{
    unsigned char prefix[16] = {0};
    unsigned long bits = 32, value;
    char *endp = NULL;
    errno = 0;
    char *slash = strchr(val1, '/');
    if (slash != NULL)
        *slash++ = '\0';
    bool v6 = inet_pton(AF_INET6, val1, prefix) == 1;
    if (v6) {
        bits = 128;
        if (!IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)prefix))
            return true;
    } else if (inet_pton(AF_INET, val1, prefix + 12) != 1) {
        return true;
    }
    if (slash != NULL && (((bits = strtoul(slash, &endp, 10)) == ULONG_MAX && errno == ERANGE) ||
                          *endp != '\0'))
        return true;
    if ((v6 && (bits < 96 || bits > 128)) || (!v6 && bits > 32))
        return true;
    if (((value = strtoul(val2, &endp, 10)) == ULONG_MAX && errno == ERANGE) || *endp != '\0' ||
        value > INT_MAX)
        return true;
    if (!v6)
        bits += 96;
    scope_entry e;
    uint32_t addr;
    memcpy(&addr, prefix + 12, 4);
    e.netmask = htonl(bits != 96 ? 0xffffffffu << (128 - bits) : 0);
    e.addr = addr & e.netmask;
    e.scope = (int)value;
    l->any_bits |= bits == 96;
    return list_add(l, &e);
}

/* Most specific first; a stable sort, as glibc's qsort() (a merge sort)
 * is: entries of one length keep the file's order. */
static void sort_prefixes(prefix_entry *e, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        prefix_entry x = e[i];
        size_t j = i;
        for (; j > 0 && e[j - 1].bits < x.bits; j--)
            e[j] = e[j - 1];
        e[j] = x;
    }
}

static void sort_scopes(scope_entry *e, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        scope_entry x = e[i];
        size_t j = i;
        for (; j > 0 && e[j - 1].netmask < x.netmask; j--)
            e[j] = e[j - 1];
        e[j] = x;
    }
}

/* The list as a table: its entries, then the catch-all entry unless one of
 * them matches everything already. NULL when empty, or out of memory. */
static void *make_table(conf_list *l, const void *catch_all)
{
    if (l->len == 0 || (!l->any_bits && !list_add(l, catch_all)))
        return NULL;
    void *items = l->items;
    l->items = NULL;
    return items;
}

/* Reads the tables as glibc's gaiconf_init() does; with no file (or no
 * memory), glibc's own. */
static void load_tables(void)
{
    use_builtin_tables();
    tables.loaded = true;
    FILE *f = tables.path[0] != '\0' ? fopen(tables.path, "re") : NULL;
    struct stat st;
    if (f == NULL || fstat(fileno(f), &st) != 0) {
        if (f != NULL)
            fclose(f);
        return;
    }
    tables.mtime = st.st_mtim;
    conf_list labels = {.size = sizeof(prefix_entry)};
    conf_list precedence = {.size = sizeof(prefix_entry)};
    conf_list scopes = {.size = sizeof(scope_entry)};
    char *line = NULL;
    size_t cap = 0;
    bool ok = true;
    while (ok && getline(&line, &cap, f) > 0) {
        char *p = strchr(line, '#');
        if (p != NULL)
            *p = '\0';
        p = line;
        while (*p == ' ' || (*p >= '\t' && *p <= '\r'))
            p++;
        char *fields[3];
        for (int i = 0; i < 3; i++) {
            fields[i] = p;
            while (*p != '\0' && *p != ' ' && !(*p >= '\t' && *p <= '\r'))
                p++;
            if (*p != '\0')
                *p++ = '\0';
            while (*p == ' ' || (*p >= '\t' && *p <= '\r'))
                p++;
        }
        const char *cmd = fields[0];
        if (*cmd == '\0')
            continue;
        if (strcmp(cmd, "label") == 0)
            ok = add_prefix(&labels, fields[1], fields[2]);
        else if (strcmp(cmd, "precedence") == 0)
            ok = add_prefix(&precedence, fields[1], fields[2]);
        else if (strcmp(cmd, "scopev4") == 0)
            ok = add_scope(&scopes, fields[1], fields[2]);
        else if (strcmp(cmd, "reload") == 0)
            tables.reload = strcmp(fields[1], "yes") == 0;
    }
    free(line);
    fclose(f);
    static const prefix_entry any_label = {{0}, 0, 1}, any_precedence = {{0}, 0, 40};
    static const scope_entry any_scope = {0, 0, 14};
    if (ok) {
        tables.own_labels = make_table(&labels, &any_label);
        tables.own_precedence = make_table(&precedence, &any_precedence);
        tables.own_scopes = make_table(&scopes, &any_scope);
        ok = (labels.len == 0 || tables.own_labels != NULL) &&
             (precedence.len == 0 || tables.own_precedence != NULL) &&
             (scopes.len == 0 || tables.own_scopes != NULL);
    }
    free(labels.items);
    free(precedence.items);
    free(scopes.items);
    if (!ok) {
        use_builtin_tables();
        return;
    }
    if (tables.own_labels != NULL) {
        sort_prefixes(tables.own_labels, labels.len);
        tables.labels = tables.own_labels;
    }
    if (tables.own_precedence != NULL) {
        sort_prefixes(tables.own_precedence, precedence.len);
        tables.precedence = tables.own_precedence;
    }
    if (tables.own_scopes != NULL) {
        sort_scopes(tables.own_scopes, scopes.len);
        tables.scopes = tables.own_scopes;
    }
}

/* With the lock held: the tables, read or read again as glibc would. */
static void check_tables(void)
{
    if (!tables.loaded) {
        load_tables();
        return;
    }
    if (!tables.reload)
        return;
    struct stat st;
    if (stat(tables.path, &st) != 0 || st.st_mtim.tv_sec != tables.mtime.tv_sec ||
        st.st_mtim.tv_nsec != tables.mtime.tv_nsec)
        load_tables();
}

void aio__addrsort_reload_conf(const char *path)
{
    pthread_mutex_lock(&tables_lock);
    snprintf(tables.path, sizeof tables.path, "%s", path != NULL ? path : "");
    tables.reload = false;
    load_tables();
    pthread_mutex_unlock(&tables_lock);
}

/* --- The machine's addresses ---------------------------------------------------------- */

/* What glibc's __check_pf() learns over netlink: every address of every
 * interface (IPv4 ones as v4-mapped), with its prefix length, interface and
 * flags, sorted by address; and whether the machine has an IPv4 address
 * other than 127.0.0.1, an IPv6 one other than ::1. The list is kept only
 * when it has such an IPv6 address, as glibc keeps it. */
typedef struct if_addr {
    unsigned char addr[16];
    uint32_t index;
    uint8_t prefixlen;
    bool deprecated, home;
} if_addr;

typedef struct if_addrs {
    if_addr *items;
    size_t len, cap;
    bool seen_ipv4, seen_ipv6;
} if_addrs;

/* A dump request of `type` on a bound netlink socket; the socket's port id
 * in *pid. -1 (no socket, or it failed). */
static int netlink_dump(int type, uint32_t seq, uint32_t *pid)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return -1;
    struct sockaddr_nl nl = {.nl_family = AF_NETLINK};
    socklen_t len = sizeof nl;
    struct {
        struct nlmsghdr nlh;
        struct rtgenmsg g;
        char pad[3];
    } req;
    memset(&req, 0, sizeof req);
    req.nlh.nlmsg_len = sizeof req;
    req.nlh.nlmsg_type = (uint16_t)type;
    req.nlh.nlmsg_flags = NLM_F_ROOT | NLM_F_MATCH | NLM_F_REQUEST;
    req.nlh.nlmsg_seq = seq;
    req.g.rtgen_family = AF_UNSPEC;
    if (bind(fd, (struct sockaddr *)&nl, sizeof nl) != 0 ||
        getsockname(fd, (struct sockaddr *)&nl, &len) != 0) {
        close(fd);
        return -1;
    }
    *pid = nl.nl_pid;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    ssize_t sent;
    while ((sent = sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel)) < 0 &&
           errno == EINTR)
        ;
    if (sent < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The next batch of the dump's messages into buf: its length, or -1. */
static ssize_t netlink_read(int fd, char *buf, size_t size, struct sockaddr_nl *from)
{
    struct iovec iov = {buf, size};
    struct msghdr msg = {.msg_name = from, .msg_namelen = sizeof *from, .msg_iov = &iov,
                         .msg_iovlen = 1};
    ssize_t n;
    while ((n = recvmsg(fd, &msg, 0)) < 0 && errno == EINTR)
        ;
    return n < 0 || (msg.msg_flags & MSG_TRUNC) ? -1 : n;
}

static int if_addr_cmp(const if_addr *a, const if_addr *b)
{
    return memcmp(a->addr, b->addr, 16);
}

/* A stable sort (glibc's qsort() is a merge sort). */
static void sort_if_addrs(if_addr *e, size_t n, if_addr *tmp)
{
    if (n <= 1)
        return;
    size_t n1 = n / 2, n2 = n - n1;
    if_addr *b1 = e, *b2 = e + n1, *out = tmp;
    sort_if_addrs(b1, n1, tmp);
    sort_if_addrs(b2, n2, tmp);
    while (n1 > 0 && n2 > 0) {
        if (if_addr_cmp(b1, b2) <= 0) {
            *out++ = *b1++;
            n1--;
        } else {
            *out++ = *b2++;
            n2--;
        }
    }
    if (n1 > 0)
        memcpy(out, b1, n1 * sizeof *b1);
    memcpy(e, tmp, (n - n2) * sizeof *e);
}

/* 0; -1 with MemoryError. When netlink fails, nothing is known: both
 * families count as seen, and no address is listed, as with glibc. */
static int read_if_addrs(if_addrs *out)
{
    memset(out, 0, sizeof *out);
    static atomic_uint seq_counter;
    uint32_t seq = (uint32_t)time(NULL) + atomic_fetch_add(&seq_counter, 1), pid;
    int fd = netlink_dump(RTM_GETADDR, seq, &pid);
    bool done = fd < 0, failed = fd < 0;
    char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
    while (!done) {
        struct sockaddr_nl from;
        ssize_t n = netlink_read(fd, buf, sizeof buf, &from);
        if (n < 0) {
            failed = true;
            break;
        }
        size_t left = (size_t)n;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, left);
             h = NLMSG_NEXT(h, left)) {
            if (from.nl_pid != 0 || h->nlmsg_pid != pid || h->nlmsg_seq != seq)
                continue;
            if (h->nlmsg_type == NLMSG_DONE) {
                done = true;
                break;
            }
            if (h->nlmsg_type == NLMSG_ERROR) {
                failed = done = true;
                break;
            }
            if (h->nlmsg_type != RTM_NEWADDR)
                continue;
            const struct ifaddrmsg *ifa = NLMSG_DATA(h);
            if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
                continue;
            /* IFA_ADDRESS when there is one (the peer of a point-to-point
             * link), else IFA_LOCAL: glibc's choice. */
            const void *local = NULL, *address = NULL;
            size_t alen = IFA_PAYLOAD(h);
            for (struct rtattr *rta = IFA_RTA(ifa); RTA_OK(rta, alen); rta = RTA_NEXT(rta, alen)) {
                if (rta->rta_type == IFA_ADDRESS)
                    address = RTA_DATA(rta);
                else if (rta->rta_type == IFA_LOCAL && address == NULL)
                    local = RTA_DATA(rta);
            }
            if (address == NULL)
                address = local;
            if (address == NULL)
                continue;
            if_addr e = {.index = ifa->ifa_index, .prefixlen = ifa->ifa_prefixlen};
            e.deprecated = (ifa->ifa_flags & (IFA_F_DEPRECATED | IFA_F_OPTIMISTIC)) != 0;
            e.home = (ifa->ifa_flags & IFA_F_HOMEADDRESS) != 0;
            if (ifa->ifa_family == AF_INET) {
                e.addr[10] = e.addr[11] = 0xff;
                memcpy(e.addr + 12, address, 4);
                static const unsigned char loopback4[4] = {127, 0, 0, 1};
                out->seen_ipv4 |= memcmp(address, loopback4, 4) != 0;
            } else {
                memcpy(e.addr, address, 16);
                out->seen_ipv6 |= !IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)address);
            }
            if (out->len == out->cap) {
                size_t cap = out->cap ? 2 * out->cap : 16;
                if_addr *items = aio__realloc(out->items, cap * sizeof *items);
                if (items == NULL) {
                    close(fd);
                    free(out->items);
                    return -1;
                }
                out->items = items;
                out->cap = cap;
            }
            out->items[out->len++] = e;
        }
    }
    if (fd >= 0)
        close(fd);
    if (failed || !out->seen_ipv6) {
        free(out->items);
        out->items = NULL;
        out->len = out->cap = 0;
    }
    if (failed)
        out->seen_ipv4 = out->seen_ipv6 = true;
    if (out->len > 1) {
        if_addr *tmp = aio__malloc(out->len * sizeof *tmp);
        if (tmp == NULL) {
            free(out->items);
            return -1;
        }
        sort_if_addrs(out->items, out->len, tmp);
        free(tmp);
    }
    return 0;
}

/* glibc's bsearch(), so that of equal addresses the same one is found. */
static const if_addr *find_if_addr(const if_addrs *all, const unsigned char key[16])
{
    size_t lo = 0, hi = all->len;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = memcmp(key, all->items[mid].addr, 16);
        if (c < 0)
            hi = mid;
        else if (c > 0)
            lo = mid + 1;
        else
            return &all->items[mid];
    }
    return NULL;
}

int aio__addrconfig(bool *seen_ipv4, bool *seen_ipv6)
{
    if_addrs all;
    if (read_if_addrs(&all) < 0)
        return -1;
    *seen_ipv4 = all.seen_ipv4;
    *seen_ipv6 = all.seen_ipv6;
    free(all.items);
    return 0;
}

/* Whether each interface is a native one (not a tunnel), as glibc's
 * __check_native() finds it; an interface not listed is not native. */
typedef struct if_native {
    uint32_t index;
    bool native;
} if_native;

static int read_if_natives(if_native **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    uint32_t seq = (uint32_t)time(NULL), pid;
    int fd = netlink_dump(RTM_GETLINK, seq, &pid);
    if (fd < 0)
        return 0;
    char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
    size_t cap = 0;
    for (bool done = false; !done;) {
        struct sockaddr_nl from;
        ssize_t n = netlink_read(fd, buf, sizeof buf, &from);
        if (n < 0)
            break;
        size_t left = (size_t)n;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, left);
             h = NLMSG_NEXT(h, left)) {
            if (from.nl_pid != 0 || h->nlmsg_pid != pid || h->nlmsg_seq != seq)
                continue;
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
                done = true;
                break;
            }
            if (h->nlmsg_type != RTM_NEWLINK)
                continue;
            const struct ifinfomsg *ifi = NLMSG_DATA(h);
            if (*len == cap) {
                cap = cap ? 2 * cap : 16;
                if_native *items = aio__realloc(*out, cap * sizeof *items);
                if (items == NULL) {
                    close(fd);
                    free(*out);
                    *out = NULL;
                    return -1;
                }
                *out = items;
            }
            (*out)[(*len)++] = (if_native){(uint32_t)ifi->ifi_index,
                                           ifi->ifi_type != ARPHRD_TUNNEL6 &&
                                               ifi->ifi_type != ARPHRD_TUNNEL &&
                                               ifi->ifi_type != ARPHRD_SIT};
        }
    }
    close(fd);
    return 0;
}

/* --- Rating a destination -------------------------------------------------------------- */

/* A destination and what the kernel would send to it from. */
typedef struct sort_item {
    const struct addrinfo *dest;
    struct sockaddr_storage source;
    bool reachable;
    bool deprecated, home, native; /* of the source address */
    uint8_t prefixlen;             /* of the source address's network */
    uint32_t index;                /* of its interface; ~0: not known */
} sort_item;

/* The address as IPv6 (IPv4 as v4-mapped), for the prefix tables. */
static void as_ipv6(const struct sockaddr *sa, unsigned char out[16])
{
    if (sa->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    } else {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    }
}

static int match_prefix(const struct sockaddr *sa, const prefix_entry *table)
{
    unsigned char addr[16];
    as_ipv6(sa, addr);
    for (size_t i = 0;; i++) {
        const prefix_entry *e = &table[i];
        unsigned bits = e->bits;
        size_t byte = 0;
        while (bits >= 8 && e->prefix[byte] == addr[byte]) {
            byte++;
            bits -= 8;
        }
        if (bits == 0)
            return e->value;
        if (bits < 8) {
            unsigned mask = (0xff00u >> bits) & 0xff;
            if ((e->prefix[byte] & mask) == (addr[byte] & mask))
                return e->value;
        }
    }
}

static int scope_of(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_MULTICAST(a))
            return a->s6_addr[1] & 0xf;
        if (IN6_IS_ADDR_LINKLOCAL(a) || IN6_IS_ADDR_LOOPBACK(a))
            return 2;
        if (IN6_IS_ADDR_SITELOCAL(a))
            return 5;
        return 14;
    }
    if (sa->sa_family == AF_INET) {
        uint32_t addr = ((const struct sockaddr_in *)sa)->sin_addr.s_addr;
        for (size_t i = 0;; i++) {
            if ((addr & tables.scopes[i].netmask) == tables.scopes[i].addr)
                return tables.scopes[i].scope;
        }
    }
    return 15;
}

/* How many leading bits of a and b are equal (32 if all). */
static int common_bits(uint32_t a, uint32_t b)
{
    uint32_t x = a ^ b;
    int n = 0;
    for (uint32_t mask = 0x80000000u; mask != 0 && !(x & mask); mask >>= 1)
        n++;
    return n;
}

/* Rule 9 for an IPv4 destination: the bits it shares with its source when
 * both are in the source's network, else 0. With no prefix length known,
 * glibc shifts its mask by 32, which its x86-64 build takes as no shift
 * (checked against it): the network is the whole address then. */
static int ipv4_prefix_bits(const sort_item *a)
{
    uint32_t dst = ntohl(((const struct sockaddr_in *)a->dest->ai_addr)->sin_addr.s_addr);
    uint32_t src = ntohl(((const struct sockaddr_in *)&a->source)->sin_addr.s_addr);
    uint32_t netmask = a->prefixlen == 0 ? 0xffffffffu : 0xffffffffu << (32 - a->prefixlen);
    return (src & netmask) == (dst & netmask) ? common_bits(dst, src) : 0;
}

/* Rule 9 for two IPv6 destinations: counted in the first 32-bit word where
 * either differs from its source. */
static void ipv6_prefix_bits(const sort_item *a1, const sort_item *a2, int *bit1, int *bit2)
{
    uint32_t w[4][4];
    memcpy(w[0], &((const struct sockaddr_in6 *)a1->dest->ai_addr)->sin6_addr, 16);
    memcpy(w[1], &((const struct sockaddr_in6 *)&a1->source)->sin6_addr, 16);
    memcpy(w[2], &((const struct sockaddr_in6 *)a2->dest->ai_addr)->sin6_addr, 16);
    memcpy(w[3], &((const struct sockaddr_in6 *)&a2->source)->sin6_addr, 16);
    *bit1 = *bit2 = 0;
    for (int i = 0; i < 4; i++) {
        if (w[0][i] != w[1][i] || w[2][i] != w[3][i]) {
            *bit1 = common_bits(ntohl(w[0][i]), ntohl(w[1][i]));
            *bit2 = common_bits(ntohl(w[2][i]), ntohl(w[3][i]));
            return;
        }
    }
}

/* glibc's rfc3484_sort(): < 0 when entry i1 goes first. */
static int compare(const sort_item *items, size_t i1, size_t i2)
{
    const sort_item *a1 = &items[i1], *a2 = &items[i2];
    const struct sockaddr *d1 = a1->dest->ai_addr, *d2 = a2->dest->ai_addr;
    const struct sockaddr *s1 = (const struct sockaddr *)&a1->source;
    const struct sockaddr *s2 = (const struct sockaddr *)&a2->source;

    /* Rule 1: avoid unusable destinations. */
    if (a1->reachable != a2->reachable)
        return a1->reachable ? -1 : 1;
    /* Rule 2: prefer matching scope. */
    int scope1 = scope_of(d1), scope2 = scope_of(d2);
    if (a1->reachable) {
        bool match1 = scope1 == scope_of(s1), match2 = scope2 == scope_of(s2);
        if (match1 != match2)
            return match1 ? -1 : 1;
    }
    /* Rule 3: avoid deprecated addresses. Rule 4: prefer home addresses. */
    if (a1->reachable && a1->deprecated != a2->deprecated)
        return a1->deprecated ? 1 : -1;
    if (a1->reachable && a1->home != a2->home)
        return a1->home ? -1 : 1;
    /* Rule 5: prefer matching label. */
    if (a1->reachable) {
        bool match1 = match_prefix(d1, tables.labels) == match_prefix(s1, tables.labels);
        bool match2 = match_prefix(d2, tables.labels) == match_prefix(s2, tables.labels);
        if (match1 != match2)
            return match1 ? -1 : 1;
    }
    /* Rule 6: prefer higher precedence. */
    int prec1 = match_prefix(d1, tables.precedence), prec2 = match_prefix(d2, tables.precedence);
    if (prec1 != prec2)
        return prec1 > prec2 ? -1 : 1;
    /* Rule 7: prefer native transport. */
    if (a1->reachable && a1->index != a2->index && a1->native != a2->native)
        return a1->native ? -1 : 1;
    /* Rule 8: prefer smaller scope. */
    if (scope1 != scope2)
        return scope1 < scope2 ? -1 : 1;
    /* Rule 9: use longest matching prefix. */
    if (a1->reachable && d1->sa_family == d2->sa_family) {
        int bit1 = 0, bit2 = 0;
        if (d1->sa_family == AF_INET) {
            bit1 = ipv4_prefix_bits(a1);
            bit2 = ipv4_prefix_bits(a2);
        } else if (d1->sa_family == AF_INET6) {
            ipv6_prefix_bits(a1, a2, &bit1, &bit2);
        }
        if (bit1 != bit2)
            return bit1 > bit2 ? -1 : 1;
    }
    /* Rule 10: otherwise, the order they came in. */
    return i1 < i2 ? -1 : 1;
}

/* glibc's msort_with_tmp(), on indexes. */
static void merge_sort(const sort_item *items, size_t *b, size_t n, size_t *tmp)
{
    if (n <= 1)
        return;
    size_t n1 = n / 2, n2 = n - n1;
    size_t *b1 = b, *b2 = b + n1, *out = tmp;
    merge_sort(items, b1, n1, tmp);
    merge_sort(items, b2, n2, tmp);
    while (n1 > 0 && n2 > 0) {
        if (compare(items, *b1, *b2) <= 0) {
            *out++ = *b1++;
            n1--;
        } else {
            *out++ = *b2++;
            n2--;
        }
    }
    if (n1 > 0)
        memcpy(out, b1, n1 * sizeof *b1);
    memcpy(b, tmp, (n - n2) * sizeof *b);
}

/* The source address for a destination, as glibc finds it: one UDP socket
 * for all, made anew only when the first is IPv4 and an IPv6 destination
 * comes (an IPv6 socket connects to IPv4 destinations too, as v4-mapped),
 * disconnected between two. The key under which the source is listed among
 * the machine's addresses goes to `key`. */
static bool find_source(int *fd, int *af, const struct addrinfo *q, sort_item *item,
                        unsigned char key[16])
{
    if (*fd < 0 || (*af == AF_INET && q->ai_family == AF_INET6)) {
        if (*fd >= 0)
            close(*fd);
        *af = q->ai_family;
        *fd = socket(*af, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_IP);
    } else {
        struct sockaddr unspec = {.sa_family = AF_UNSPEC};
        connect(*fd, &unspec, sizeof unspec);
    }
    struct sockaddr_in6 source;
    for (;;) {
        socklen_t len = sizeof source;
        if (*fd >= 0 && connect(*fd, q->ai_addr, q->ai_addrlen) == 0 &&
            getsockname(*fd, (struct sockaddr *)&source, &len) == 0)
            break;
        if (errno == EAFNOSUPPORT && *af == AF_INET6 && q->ai_family == AF_INET) {
            /* IPv6 sockets may be IPv6-only. */
            if (*fd >= 0)
                close(*fd);
            *af = AF_INET;
            *fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_IP);
            continue;
        }
        return false;
    }
    if (q->ai_family == AF_INET && *af == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&source;
        memset(key, 0, 10);
        key[10] = key[11] = 0xff;
        /* Any 127/8 source is listed as lo's 127.0.0.1. */
        if ((ntohl(sin->sin_addr.s_addr) & 0xff000000u) == 0x7f000000u) {
            key[12] = 127, key[13] = 0, key[14] = 0, key[15] = 1;
        } else {
            memcpy(key + 12, &sin->sin_addr, 4);
        }
        memcpy(&item->source, sin, sizeof *sin);
    } else {
        memcpy(key, &source.sin6_addr, 16);
        if (q->ai_family == AF_INET) {
            /* An IPv6 socket's source for an IPv4 destination: v4-mapped. */
            struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = source.sin6_port};
            memcpy(&sin.sin_addr, source.sin6_addr.s6_addr + 12, 4);
            memcpy(&item->source, &sin, sizeof sin);
        } else {
            memcpy(&item->source, &source, sizeof source);
        }
    }
    return true;
}

int aio__addrinfo_sort(struct addrinfo **entries, size_t n)
{
    if (n < 2)
        return 0;
    sort_item *items = aio__calloc(n, sizeof *items);
    size_t *order = items != NULL ? aio__malloc(2 * n * sizeof *order) : NULL;
    struct addrinfo **sorted = order != NULL ? aio__malloc(n * sizeof *sorted) : NULL;
    if_addrs machine = {0};
    if (sorted == NULL || read_if_addrs(&machine) < 0) {
        free(items);
        free(order);
        free(sorted);
        return -1;
    }
    int fd = -1, af = AF_UNSPEC;
    bool several_interfaces = false;
    for (size_t i = 0; i < n; i++) {
        const struct addrinfo *q = entries[i];
        sort_item *item = &items[i];
        item->dest = q;
        item->index = 0xffffffffu;
        order[i] = i;
        const struct addrinfo *last = i > 0 ? entries[i - 1] : NULL;
        if (last != NULL && last->ai_addrlen == q->ai_addrlen &&
            memcmp(last->ai_addr, q->ai_addr, q->ai_addrlen) == 0) {
            *item = items[i - 1];
            item->dest = q;
            continue;
        }
        unsigned char key[16];
        item->reachable = find_source(&fd, &af, q, item, key);
        const if_addr *found = item->reachable ? find_if_addr(&machine, key) : NULL;
        if (found != NULL) {
            item->deprecated = found->deprecated;
            item->home = found->home;
            item->prefixlen = found->prefixlen;
            item->index = found->index;
        }
        several_interfaces |= item->index != items[0].index;
    }
    if (fd >= 0)
        close(fd);
    free(machine.items);
    /* Rule 7 asks which interfaces are tunnels, when it compares sources on
     * two interfaces. */
    if (several_interfaces) {
        if_native *natives;
        size_t len;
        if (read_if_natives(&natives, &len) < 0) {
            free(items);
            free(order);
            free(sorted);
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            for (size_t k = 0; k < len; k++) {
                if (natives[k].index == items[i].index) {
                    items[i].native = natives[k].native;
                    break;
                }
            }
        }
        free(natives);
    }
    pthread_mutex_lock(&tables_lock);
    check_tables();
    merge_sort(items, order, n, order + n);
    pthread_mutex_unlock(&tables_lock);
    for (size_t i = 0; i < n; i++)
        sorted[i] = entries[order[i]];
    memcpy(entries, sorted, n * sizeof *entries);
    free(sorted);
    free(items);
    free(order);
    return 0;
}
