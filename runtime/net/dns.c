/* dns.c - loop.getaddrinfo() and loop.getnameinfo() on the loop itself.
 *
 * asyncio runs socket.getaddrinfo() in a thread. Here, what the system
 * resolver answers without asking anyone (numeric addresses, a None host,
 * AI_NUMERICHOST, service names from /etc/services) is answered at once by
 * the system's own getaddrinfo(). Names go through the sources of the
 * resolver options' lookups, in order ("fb": files, then DNS, as the
 * system's "hosts: files dns"): the hosts file is read here by glibc's
 * rules (hosts.c), at once; DNS is c-ares, whose sockets are watched by the
 * loop and whose timeouts are loop timers. A source that does not know the
 * name hands it to the next. Each address found is turned into entries by
 * the system's getaddrinfo() again, with AI_NUMERICHOST, one socket type at
 * a time, so that the entries (one per socket type, the port, the sockaddr)
 * are exactly those Python would get; an answer of several addresses is
 * then ordered as glibc orders it (addrsort.c).
 */
#include <arpa/inet.h>
#include <ares.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "casyncio/api.h"
#include "casyncio/resolver.h"
#include "future.h"
#include "hosts.h"
#include "impl.h"
#include "loop.h"
#include "names.h"

/* c-ares on one loop. */
typedef struct aio__resolver {
    ares_channel channel;
    aio_loop *loop;
    aio_handle *timer;          /* the next c-ares timeout, a reference */
    size_t active;              /* lookups c-ares has not answered yet */
    size_t cancelled;           /* of those, whose future was cancelled */
    struct resolver_fd **fds;   /* the sockets c-ares asked the loop to watch */
    size_t fds_len;
} aio__resolver;

typedef struct resolver_fd {
    aio__resolver *res;
    int fd;
} resolver_fd;

/* --- Errors ----------------------------------------------------------------------- */

/* socket.gaierror(code, gai_strerror(code)). */
static aio_exc *gaierror(int code)
{
    return aio_exc_oserror(aio_socket_gaierror, code, gai_strerror(code));
}

/* What the system resolver reports for what c-ares met. */
static int eai_for_ares(int status)
{
    switch (status) {
    case ARES_ENOTFOUND:
    case ARES_EBADNAME:
    case ARES_ENONAME:
        return EAI_NONAME;
    case ARES_ENODATA:
        return EAI_NODATA;
    case ARES_ESERVFAIL:
    case ARES_ETIMEOUT:
    case ARES_ECONNREFUSED:
    case ARES_EREFUSED:
        return EAI_AGAIN;
    case ARES_EBADFAMILY:
        return EAI_FAMILY;
    case ARES_ENOMEM:
        return EAI_MEMORY;
    case ARES_ESERVICE:
        return EAI_SERVICE;
    case ARES_EBADFLAGS:
    case ARES_EBADHINTS:
        return EAI_BADFLAGS;
    default:
        return EAI_FAIL;
    }
}

/* --- Results ------------------------------------------------------------------------ */

/* An aio_addrinfo_list and the strings it points to, freed together. */
typedef struct addrinfo_result {
    aio_addrinfo_list list;
    size_t cap;
    char **strings;
    size_t strings_len;
    size_t strings_cap;
} addrinfo_result;

static void addrinfo_result_free(void *ptr)
{
    addrinfo_result *r = ptr;
    for (size_t i = 0; i < r->strings_len; i++)
        free(r->strings[i]);
    free(r->strings);
    free(r->list.items);
    free(r);
}

static const char *keep_string(addrinfo_result *r, const char *s)
{
    if (r->strings_len == r->strings_cap) {
        size_t cap = r->strings_cap ? 2 * r->strings_cap : 8;
        char **strings = aio__realloc(r->strings, cap * sizeof *strings);
        if (strings == NULL)
            return NULL;
        r->strings = strings;
        r->strings_cap = cap;
    }
    char *copy = aio__strdup(s);
    if (copy != NULL)
        r->strings[r->strings_len++] = copy;
    return copy;
}

/* Appends one entry of a system getaddrinfo() answer as socket.getaddrinfo()
 * makes its tuple, with this canonname. 0, or -1 with MemoryError. */
static int append_entry(addrinfo_result *r, const struct addrinfo *ai, const char *canon)
{
    char host[NI_MAXHOST];
    if (getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof host, NULL, 0, NI_NUMERICHOST) != 0)
        return 0; /* not an address family Python would show either */
    if (r->list.len == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 8;
        aio_addrinfo *items = aio__realloc(r->list.items, cap * sizeof *items);
        if (items == NULL)
            return -1;
        r->list.items = items;
        r->cap = cap;
    }
    aio_addrinfo *item = &r->list.items[r->list.len];
    memset(item, 0, sizeof *item);
    item->family = ai->ai_family;
    item->type = ai->ai_socktype;
    item->proto = ai->ai_protocol;
    if ((item->canonname = keep_string(r, canon)) == NULL ||
        (item->sockaddr.host = keep_string(r, host)) == NULL)
        return -1;
    if (ai->ai_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ai->ai_addr;
        item->sockaddr.port = ntohs(sin6->sin6_port);
        item->sockaddr.flowinfo = ntohl(sin6->sin6_flowinfo);
        item->sockaddr.scope_id = sin6->sin6_scope_id;
        item->sockaddr.kind = AIO_ADDRESS_QUAD;
    } else {
        item->sockaddr.port = ntohs(((const struct sockaddr_in *)ai->ai_addr)->sin_port);
        item->sockaddr.kind = AIO_ADDRESS_PAIR;
    }
    if (ai->ai_addrlen <= sizeof item->addr) {
        memcpy(&item->addr, ai->ai_addr, ai->ai_addrlen);
        item->addrlen = ai->ai_addrlen;
    }
    r->list.len++;
    return 0;
}

/* Appends every entry of a system getaddrinfo() answer; the first has its
 * canonical name. 0, or -1 with MemoryError. */
static int append_entries(addrinfo_result *r, const struct addrinfo *ai)
{
    for (; ai != NULL; ai = ai->ai_next) {
        const char *canon = r->list.len == 0 && ai->ai_canonname != NULL ? ai->ai_canonname : "";
        if (append_entry(r, ai, canon) < 0)
            return -1;
    }
    return 0;
}

static addrinfo_result *result_new(void)
{
    return aio__calloc(1, sizeof(addrinfo_result));
}

/* Completes fut with r, or with MemoryError if building it failed. */
static void finish_addrinfo(aio_future *fut, addrinfo_result *r, int rc)
{
    if (rc < 0) {
        addrinfo_result_free(r);
        aio__future_fail(fut, NULL);
        return;
    }
    aio__future_finish_result(fut, &r->list, addrinfo_result_free);
}

/* --- Entries of the addresses found --------------------------------------------------- */

/* The system's answers for the addresses of a lookup, to be freed. */
typedef struct answer_lists {
    struct addrinfo **items;
    size_t len, cap;
} answer_lists;

static int keep_list(answer_lists *a, struct addrinfo *ai)
{
    if (a->len == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 8;
        struct addrinfo **items = aio__realloc(a->items, cap * sizeof *items);
        if (items == NULL) {
            freeaddrinfo(ai);
            return -1;
        }
        a->items = items;
        a->cap = cap;
    }
    a->items[a->len++] = ai;
    return 0;
}

static void answer_lists_free(answer_lists *a)
{
    for (size_t i = 0; i < a->len; i++)
        freeaddrinfo(a->items[i]);
    free(a->items);
}

/* The port a numeric port string stands for, read as the system reads it
 * (strtoul, truncated to 16 bits), or -1 for a service name. */
static long numeric_port(const char *port)
{
    if (port == NULL)
        return 0;
    char *end;
    unsigned long value = strtoul(port, &end, 10);
    return *end == '\0' ? (long)(uint16_t)value : -1;
}

/* Keeps the entries the system makes of one numeric address. For any
 * socket type it makes one per type (stream and datagram where the service
 * exists, raw for a numeric or no port) and then sorts them (RFC 3484),
 * which costs a socket, a connect() and a getsockname() per entry. Asked
 * one type at a time it has one entry each and nothing to sort: the same
 * entries in the same order, without those system calls. 0, or -1 with
 * MemoryError. */
static int expand_address(answer_lists *a, const char *host, const char *port,
                          const struct addrinfo *hints)
{
    if (hints->ai_socktype != 0 || hints->ai_protocol != 0) {
        struct addrinfo *ai = NULL;
        if (getaddrinfo(host, port, hints, &ai) != 0)
            return 0;
        return keep_list(a, ai);
    }
    static const int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_RAW};
    long raw_port = numeric_port(port);
    for (size_t i = 0; i < 3; i++) {
        struct addrinfo h = *hints, *ai = NULL;
        h.ai_socktype = types[i];
        bool raw = types[i] == SOCK_RAW;
        if (raw && raw_port < 0)
            continue; /* a raw socket has no service names */
        /* The system gives a raw entry the port only in this mixed list;
         * asked alone it refuses the port: the port is set afterwards. */
        if (getaddrinfo(host, raw ? NULL : port, &h, &ai) != 0)
            continue;
        if (raw) {
            uint16_t net = htons((uint16_t)raw_port);
            if (ai->ai_family == AF_INET6)
                ((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = net;
            else
                ((struct sockaddr_in *)ai->ai_addr)->sin_port = net;
        }
        if (keep_list(a, ai) < 0)
            return -1;
    }
    return 0;
}

/* Completes fut with the entries of the addresses found (in the order the
 * system has them before sorting), ordered as glibc orders an answer of
 * more than one address; canon (NULL: none) on the first entry. No entry at
 * all (the hints let none through): gaierror EAI_NONAME. */
static void finish_with_addresses(aio_future *fut, const aio__host_addrs *found, const char *canon,
                                  const char *port, const struct addrinfo *asked)
{
    struct addrinfo hints = *asked;
    hints.ai_flags = (hints.ai_flags & ~(AI_CANONNAME | AI_V4MAPPED | AI_ALL | AI_ADDRCONFIG)) |
                     AI_NUMERICHOST;
    answer_lists lists = {0};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < found->len; i++) {
        char host[INET6_ADDRSTRLEN];
        hints.ai_family = found->items[i].family;
        if (inet_ntop(hints.ai_family, found->items[i].bytes, host, sizeof host) != NULL)
            rc = expand_address(&lists, host, port, &hints);
    }
    size_t n = 0;
    for (size_t i = 0; i < lists.len; i++) {
        for (const struct addrinfo *ai = lists.items[i]; ai != NULL; ai = ai->ai_next)
            n++;
    }
    struct addrinfo **entries = NULL;
    if (rc == 0 && n > 0 && (entries = aio__malloc(n * sizeof *entries)) == NULL)
        rc = -1;
    for (size_t i = 0, k = 0; entries != NULL && i < lists.len; i++) {
        for (struct addrinfo *ai = lists.items[i]; ai != NULL; ai = ai->ai_next)
            entries[k++] = ai;
    }
    /* glibc sorts an answer of several addresses, one address twice too. */
    if (rc == 0 && found->len > 1)
        rc = aio__addrinfo_sort(entries, n);
    addrinfo_result *r = rc == 0 ? result_new() : NULL;
    if (rc == 0 && r == NULL)
        rc = -1;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = append_entry(r, entries[i], r->list.len == 0 && canon != NULL ? canon : "");
    free(entries);
    answer_lists_free(&lists);
    if (rc < 0) {
        if (r != NULL)
            addrinfo_result_free(r);
        aio__future_fail(fut, NULL);
    } else if (r->list.len == 0) {
        addrinfo_result_free(r);
        aio__future_fail(fut, gaierror(EAI_NONAME));
    } else {
        aio__future_finish_result(fut, &r->list, addrinfo_result_free);
    }
}

/* --- The resolver: c-ares driven by the loop ------------------------------------------ */

static void resolver_rearm(aio__resolver *res);

static void process_timeouts(void *arg)
{
    aio__resolver *res = arg;
    aio__decref(res->timer);
    res->timer = NULL;
    ares_process_fd(res->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    resolver_rearm(res);
}

/* Keeps one loop timer at c-ares's next timeout while lookups are active. */
static void resolver_rearm(aio__resolver *res)
{
    aio__handle_drop(&res->timer);
    if (res->active > 0 && res->cancelled == res->active) {
        /* Only lookups whose futures were cancelled are left: nothing waits
         * for c-ares any more. This runs outside c-ares's callbacks, where
         * ares_cancel() may be called; each is answered ARES_ECANCELLED. */
        ares_cancel(res->channel);
    }
    if (res->active == 0)
        return;
    struct timeval tv;
    if (ares_timeout(res->channel, NULL, &tv) == NULL)
        return;
    aio_exc *pending = aio_err_fetch();
    aio_handle *h = aio__loop_call_later(
        res->loop, &(aio__loop_call_later_args){.delay = (double)tv.tv_sec + tv.tv_usec / 1e6,
                                                .callback = process_timeouts,
                                                .args = res});
    if (h != NULL)
        res->timer = aio_incref(h);
    aio_err_restore(pending);
}

static void on_readable(void *arg)
{
    resolver_fd *w = arg;
    aio__resolver *res = w->res;
    ares_process_fd(res->channel, w->fd, ARES_SOCKET_BAD);
    resolver_rearm(res);
}

static void on_writable(void *arg)
{
    resolver_fd *w = arg;
    aio__resolver *res = w->res;
    ares_process_fd(res->channel, ARES_SOCKET_BAD, w->fd);
    resolver_rearm(res);
}

static resolver_fd *watch_for(aio__resolver *res, int fd, bool create)
{
    for (size_t i = 0; i < res->fds_len; i++) {
        if (res->fds[i]->fd == fd)
            return res->fds[i];
    }
    if (!create)
        return NULL;
    resolver_fd **fds = realloc(res->fds, (res->fds_len + 1) * sizeof *fds);
    resolver_fd *w = malloc(sizeof *w);
    if (fds == NULL || w == NULL) {
        free(w);
        if (fds != NULL)
            res->fds = fds;
        return NULL;
    }
    res->fds = fds;
    w->res = res;
    w->fd = fd;
    res->fds[res->fds_len++] = w;
    return w;
}

static void watch_drop(aio__resolver *res, int fd)
{
    for (size_t i = 0; i < res->fds_len; i++) {
        if (res->fds[i]->fd == fd) {
            free(res->fds[i]);
            res->fds[i] = res->fds[--res->fds_len];
            return;
        }
    }
}

/* c-ares says which of its sockets to watch, and for what. */
static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    aio__resolver *res = data;
    aio_exc *pending = aio_err_fetch();
    resolver_fd *w = watch_for(res, fd, readable || writable);
    if (w != NULL && readable)
        aio__io_add_reader(res->loop, fd, on_readable, w, NULL);
    else
        aio__io_remove_reader(res->loop, fd);
    if (w != NULL && writable)
        aio__io_add_writer(res->loop, fd, on_writable, w, NULL);
    else
        aio__io_remove_writer(res->loop, fd);
    if (!readable && !writable)
        watch_drop(res, fd);
    aio_err_clear();
    aio_err_restore(pending);
}

static pthread_once_t library_once = PTHREAD_ONCE_INIT;

static void init_library(void)
{
    ares_library_init(ARES_LIB_INIT_ALL);
}

/* The timeout c-ares is given, in milliseconds: seconds rounded, at least
 * 1 ms, and at most INT_MAX ms (c-ares keeps an int), which inf and every
 * larger number become. NaN and negative numbers were refused with the
 * options. */
static int timeout_ms(double seconds)
{
    double ms = seconds * 1000.0;
    if (ms >= (double)INT_MAX - 0.5)
        return INT_MAX;
    return ms < 1.0 ? 1 : (int)(ms + 0.5);
}

/* --- The resolver's part of a loop ---------------------------------------------------
 *
 * Two slots per loop (loop.h): c-ares, made at the first lookup that needs
 * it, and the options set with aio_loop_set_resolver_options() (a block
 * that holds their strings too), NULL for the system's. When the loop
 * closes, while it is still open, the lookups in flight end cancelled and
 * both go. */

typedef struct options_block {
    aio_resolver_options options; /* pointing into `strings` */
    char strings[];
} options_block;

static void resolver_closing(aio_loop *loop);

AIO__LOOP_PART(resolver_part) = {
    .name = "resolver", .slots = 2, .order = 10, .closing = resolver_closing};

static inline aio__resolver **resolver_of(aio_loop *loop)
{
    return (aio__resolver **)aio__loop_part_slot(loop, &resolver_part);
}

static inline options_block **options_block_of(aio_loop *loop)
{
    return (options_block **)aio__loop_part_slot(loop, &resolver_part) + 1;
}

static const aio_resolver_options *options_of(aio_loop *loop)
{
    static const aio_resolver_options system_defaults;
    options_block *block = *options_block_of(loop);
    return block != NULL ? &block->options : &system_defaults;
}

static aio__resolver *resolver_get(aio_loop *loop)
{
    if (*resolver_of(loop) != NULL)
        return *resolver_of(loop);
    pthread_once(&library_once, init_library);
    aio__resolver *res = aio__calloc(1, sizeof *res);
    if (res == NULL)
        return NULL;
    res->loop = loop;
    const aio_resolver_options *o = options_of(loop);
    struct ares_options opts;
    memset(&opts, 0, sizeof opts);
    int mask = ARES_OPT_SOCK_STATE_CB;
    opts.sock_state_cb = sock_state;
    opts.sock_state_cb_data = res;
    if (o->timeout > 0) {
        opts.timeout = timeout_ms(o->timeout);
        mask |= ARES_OPT_TIMEOUTMS;
    }
    if (o->tries > 0) {
        opts.tries = o->tries;
        mask |= ARES_OPT_TRIES;
    }
    /* c-ares asks DNS only: the hosts file is read here (hosts.c). */
    opts.lookups = (char *)"b";
    mask |= ARES_OPT_LOOKUPS;
    if (o->no_search) {
        opts.ndomains = 0;
        opts.domains = NULL;
        mask |= ARES_OPT_DOMAINS;
    }
    int status = ares_init_options(&res->channel, &opts, mask);
    if (status == ARES_SUCCESS && o->servers != NULL)
        status = ares_set_servers_ports_csv(res->channel, o->servers);
    if (status != ARES_SUCCESS) {
        if (res->channel != NULL)
            ares_destroy(res->channel);
        free(res);
        if (status == ARES_ENOMEM)
            aio_err_set(aio_MemoryError, NULL);
        else
            aio_err_format(aio_RuntimeError, "cannot start the resolver: %s",
                           ares_strerror(status));
        return NULL;
    }
    *resolver_of(loop) = res;
    return res;
}

/* --- Lookups through the sources ------------------------------------------------------- */

/* The future of a lookup by name or by address: it goes through the
 * sources of the resolver options' lookups in turn; cancelling it cancels
 * what c-ares was asked. */
typedef struct lookup {
    aio_future fut;
    aio__resolver *res;         /* while c-ares has the lookup, else NULL */
    bool cancelled_in_dns;      /* counted in res->cancelled */
    size_t stage;               /* the next source, in the loop's lookups */
    int status;                 /* the last DNS answer that passed it on, or 0 */
    char *host;                 /* by name: the name, port and hints */
    char *port;
    struct addrinfo hints;
    struct sockaddr_storage sa; /* by address: the address, getnameinfo()'s flags */
    socklen_t salen;
    int ni_flags;
} lookup;

static void lookup_dealloc(void *obj)
{
    lookup *l = obj;
    if (!aio__future_finalize(&l->fut))
        return;
    free(l->host);
    free(l->port);
    aio__future_clear(&l->fut);
    free(l);
}

AIO__DEFINE_TYPE(lookup_type) = {"Future", lookup_dealloc, aio__future_repr, 0};

/* Future.cancel(), and the lookup stops once nothing waits for c-ares. */
static int lookup_cancel(aio_future *fut, const char *msg)
{
    lookup *l = (lookup *)fut;
    int rc = aio__future_cancel_plain(fut, msg);
    if (rc > 0 && l->res != NULL) {
        aio__resolver *res = l->res;
        res->cancelled++;
        l->cancelled_in_dns = true;
        resolver_rearm(res); /* cancels them all when nothing else is waited for */
    }
    return rc;
}

static lookup *lookup_new(aio_loop *loop)
{
    lookup *l = aio__calloc(1, sizeof *l);
    if (l == NULL)
        return NULL;
    aio__future_init(&l->fut, &lookup_type, loop);
    l->fut.cancel = lookup_cancel;
    return l;
}

/* The sources, in order: 'f' the hosts file, 'b' DNS. */
static const char *lookups_of(aio_loop *loop)
{
    const char *lookups = options_of(loop)->lookups;
    return lookups != NULL ? lookups : "fb";
}

static const char *hosts_file_of(aio_loop *loop)
{
    const char *path = options_of(loop)->hosts_file;
    return path != NULL ? path : AIO__HOSTS_PATH;
}

/* Hands the lookup to c-ares: the resolver counts it, c-ares holds a
 * reference until it answers. NULL with an exception when the resolver
 * cannot start. */
static aio__resolver *dns_begin(lookup *l)
{
    aio__resolver *res = resolver_get(l->fut.loop);
    if (res == NULL)
        return NULL;
    l->res = res;
    res->active++;
    aio__incref(l);
    return res;
}

/* c-ares answered: true when the future still waits for the answer. */
static bool dns_end(lookup *l)
{
    aio__resolver *res = l->res;
    res->active--;
    if (l->cancelled_in_dns)
        res->cancelled--;
    l->cancelled_in_dns = false;
    l->res = NULL;
    return l->fut.state == AIO__FUTURE_PENDING;
}

/* --- getaddrinfo -------------------------------------------------------------------- */

/* The canonical name c-ares found: the end of the CNAME chain, else the
 * name itself. */
static const char *canonical_name(const struct ares_addrinfo *ai)
{
    const struct ares_addrinfo_cname *c = ai->cnames;
    if (c == NULL)
        return ai->name;
    while (c->next != NULL)
        c = c->next;
    return c->name;
}

/* The addresses c-ares found (asked not to sort them), in the order glibc
 * has them before it sorts: it asks A then AAAA for both families; for
 * IPv6 with AI_V4MAPPED it asks AAAA, then A when there was no IPv6
 * address (or always, with AI_ALL), the IPv4 ones as v4-mapped IPv6. 0, or
 * -1 with MemoryError. */
static int dns_addresses(const struct ares_addrinfo *result, const struct addrinfo *hints,
                         aio__host_addrs *out)
{
    memset(out, 0, sizeof *out);
    bool v4mapped = hints->ai_family == AF_INET6 && (hints->ai_flags & AI_V4MAPPED);
    bool have_ipv6 = false;
    const int order[2] = {hints->ai_family == AF_INET6 ? AF_INET6 : AF_INET,
                          hints->ai_family == AF_INET6 ? AF_INET : AF_INET6};
    for (int pass = 0; pass < 2; pass++) {
        int family = order[pass];
        if (family == AF_INET && hints->ai_family == AF_INET6 &&
            (!v4mapped || (have_ipv6 && !(hints->ai_flags & AI_ALL))))
            break;
        bool added = false;
        for (const struct ares_addrinfo_node *n = result->nodes; n != NULL; n = n->ai_next) {
            if (n->ai_family != family)
                continue;
            unsigned char bytes[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
            int as = family;
            if (family == AF_INET6) {
                memcpy(bytes, &((const struct sockaddr_in6 *)n->ai_addr)->sin6_addr, 16);
            } else if (v4mapped) {
                memcpy(bytes + 12, &((const struct sockaddr_in *)n->ai_addr)->sin_addr, 4);
                as = AF_INET6;
            } else {
                memcpy(bytes, &((const struct sockaddr_in *)n->ai_addr)->sin_addr, 4);
            }
            if (aio__host_addrs_add(out, as, bytes) < 0) {
                aio__host_addrs_clear(out);
                return -1;
            }
            added = true;
        }
        /* glibc notes the family of the last answer that held addresses. */
        if (added)
            have_ipv6 = family == AF_INET6;
    }
    /* With AI_V4MAPPED alone and IPv6 addresses found, v4-mapped ones are
     * dropped. */
    if (v4mapped && have_ipv6 && !(hints->ai_flags & AI_ALL)) {
        size_t kept = 0;
        for (size_t i = 0; i < out->len; i++) {
            if (!IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)out->items[i].bytes))
                out->items[kept++] = out->items[i];
        }
        out->len = kept;
    }
    return 0;
}

static void on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *result);

static int addrinfo_dns(lookup *l)
{
    aio__resolver *res = dns_begin(l);
    if (res == NULL)
        return -1;
    struct ares_addrinfo_hints ahints;
    memset(&ahints, 0, sizeof ahints);
    ahints.ai_family = l->hints.ai_family;
    if (l->hints.ai_family == AF_INET6 && (l->hints.ai_flags & AI_V4MAPPED))
        ahints.ai_family = AF_UNSPEC; /* the IPv4 addresses may be mapped */
    /* In the order DNS gave them: glibc's sort comes afterwards. */
    ahints.ai_flags = ARES_AI_NOSORT | ((l->hints.ai_flags & AI_CANONNAME) ? ARES_AI_CANONNAME : 0);
    ares_getaddrinfo(res->channel, l->host, NULL, &ahints, on_addrinfo, l);
    resolver_rearm(res);
    return 0;
}

/* Goes on with a lookup by name at its next source: the hosts file answers
 * at once; DNS later, in on_addrinfo(), which comes back here when the name
 * is not there. 0, or -1 with an exception (MemoryError, or a resolver that
 * cannot start) and the future left pending. */
static int addrinfo_next(lookup *l)
{
    aio_loop *loop = l->fut.loop;
    const char *stages = lookups_of(loop);
    while (stages[l->stage] != '\0') {
        if (stages[l->stage++] == 'f') {
            aio__host_addrs found;
            int rc = aio__hosts_by_name(hosts_file_of(loop), l->host, l->hints.ai_family,
                                        l->hints.ai_flags, &found);
            if (rc > 0)
                finish_with_addresses(&l->fut, &found,
                                      (l->hints.ai_flags & AI_CANONNAME) ? found.canon : NULL,
                                      l->port, &l->hints);
            aio__host_addrs_clear(&found);
            if (rc != 0)
                return rc < 0 ? -1 : 0;
        } else if (strcmp(l->host, "localhost") != 0) {
            /* c-ares never asks DNS about "localhost" (RFC 6761, 6.3). */
            return addrinfo_dns(l);
        }
    }
    /* No source knows the name. */
    aio__future_fail(&l->fut, gaierror(l->status != 0 ? eai_for_ares(l->status) : EAI_NONAME));
    return 0;
}

static void on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *result)
{
    (void)timeouts;
    lookup *l = arg;
    aio_exc *pending = aio_err_fetch();
    if (dns_end(l)) {
        if (status == ARES_ECANCELLED || status == ARES_EDESTRUCTION) {
            aio__future_cancel_plain(&l->fut, NULL);
        } else if (status == ARES_ENOTFOUND || status == ARES_ENODATA) {
            l->status = status; /* the next source, if there is one */
            if (addrinfo_next(l) < 0)
                aio__future_fail(&l->fut, NULL);
        } else if (status != ARES_SUCCESS) {
            aio__future_fail(&l->fut, gaierror(eai_for_ares(status)));
        } else {
            aio__host_addrs found;
            if (dns_addresses(result, &l->hints, &found) < 0)
                aio__future_fail(&l->fut, NULL);
            else
                finish_with_addresses(
                    &l->fut, &found,
                    (l->hints.ai_flags & AI_CANONNAME) ? canonical_name(result) : NULL, l->port,
                    &l->hints);
            aio__host_addrs_clear(&found);
        }
    }
    if (result != NULL)
        ares_freeaddrinfo(result);
    aio_err_restore(pending);
    aio__decref(l);
}

/* With AI_NUMERICSERV a service name is EAI_NONAME too, which the system
 * reports before it looks at the host: true when the port alone fails so. */
static bool service_refused(const struct addrinfo *hints, const char *port)
{
    if (port == NULL || !(hints->ai_flags & AI_NUMERICSERV))
        return false;
    struct addrinfo probe = *hints, *ai = NULL;
    probe.ai_flags &= ~(AI_CANONNAME | AI_NUMERICHOST);
    int rc = getaddrinfo(NULL, port, &probe, &ai);
    if (ai != NULL)
        freeaddrinfo(ai);
    return rc == EAI_NONAME;
}

/* A future done with gaierror(code); NULL with an exception. */
static aio_future *failed_lookup(aio_loop *loop, int code)
{
    aio_future *fut = aio__loop_create_future(loop);
    if (fut != NULL)
        aio__future_fail(fut, gaierror(code));
    return fut;
}

aio_future *aio__loop_getaddrinfo(aio_loop *loop, const aio__loop_getaddrinfo_args *args)
{
    if (aio__loop_check_closed(loop) < 0)
        return NULL;
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = args->family;
    hints.ai_socktype = args->type;
    hints.ai_protocol = args->proto;
    hints.ai_flags = args->flags;

    /* What the system answers without asking anyone: no host, a numeric
     * one, AI_NUMERICHOST, and every error in the service or the hints. */
    struct addrinfo numeric = hints, *ai = NULL;
    numeric.ai_flags |= AI_NUMERICHOST;
    int rc = getaddrinfo(args->host, args->port, &numeric, &ai);
    bool ask_resolver = rc == EAI_NONAME && args->host != NULL && *args->host != '\0' &&
                        !(args->flags & AI_NUMERICHOST) && !service_refused(&numeric, args->port);
    if (!ask_resolver) {
        if (rc != 0 && args->host != NULL && *args->host == '\0')
            rc = EAI_NONAME;
        if (rc != 0)
            return failed_lookup(loop, rc);
        aio_future *fut = aio__loop_create_future(loop);
        addrinfo_result *r = fut != NULL ? result_new() : NULL;
        if (r == NULL) {
            freeaddrinfo(ai);
            if (fut != NULL)
                aio__decref(fut);
            return NULL;
        }
        finish_addrinfo(fut, r, append_entries(r, ai));
        freeaddrinfo(ai);
        return fut;
    }

    /* AI_ADDRCONFIG: the families the machine has addresses of, which glibc
     * looks at before anything else. */
    if (args->flags & AI_ADDRCONFIG) {
        bool seen_ipv4, seen_ipv6;
        if (aio__addrconfig(&seen_ipv4, &seen_ipv6) < 0)
            return NULL;
        if (hints.ai_family == AF_UNSPEC && seen_ipv4 != seen_ipv6)
            hints.ai_family = seen_ipv4 ? AF_INET : AF_INET6;
        else if ((hints.ai_family == AF_INET && !seen_ipv4) ||
                 (hints.ai_family == AF_INET6 && !seen_ipv6))
            return failed_lookup(loop, EAI_NONAME);
    }

    lookup *l = lookup_new(loop);
    if (l == NULL)
        return NULL;
    l->hints = hints;
    if ((l->host = aio__strdup(args->host)) == NULL ||
        (args->port != NULL && (l->port = aio__strdup(args->port)) == NULL) ||
        addrinfo_next(l) < 0) {
        aio__decref(l);
        return NULL;
    }
    return &l->fut;
}

/* --- getnameinfo ---------------------------------------------------------------------- */

typedef struct nameinfo_result {
    aio_nameinfo info;
    char host[NI_MAXHOST];
    char port[NI_MAXSERV];
} nameinfo_result;

/* The sockaddr socket.getnameinfo() makes of (host, port[, flowinfo,
 * scope_id]): the host must be numeric. 0, or a gai error code. */
static int make_sockaddr(const aio_address *a, struct sockaddr_storage *ss, socklen_t *len)
{
    char port[16];
    snprintf(port, sizeof port, "%d", a->port);
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICHOST;
    int rc = getaddrinfo(a->host, port, &hints, &ai);
    if (rc != 0)
        return rc;
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    if (ai->ai_family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        sin6->sin6_flowinfo = htonl(a->flowinfo);
        sin6->sin6_scope_id = a->scope_id;
    }
    freeaddrinfo(ai);
    return 0;
}

/* Completes a lookup by address with the name found (cut in place by
 * NI_NOFQDN), or, with NULL, none: then the numeric address, or EAI_NONAME
 * with NI_NAMEREQD. The service is the system's, from /etc/services. */
static void finish_nameinfo(lookup *l, char *name)
{
    nameinfo_result *r = aio__calloc(1, sizeof *r);
    if (r == NULL) {
        aio__future_fail(&l->fut, NULL);
        return;
    }
    const struct sockaddr *sa = (const struct sockaddr *)&l->sa;
    int serv_flags = l->ni_flags & (NI_NUMERICSERV | NI_DGRAM);
    int rc;
    if (name == NULL) {
        rc = (l->ni_flags & NI_NAMEREQD)
                 ? EAI_NONAME
                 : getnameinfo(sa, l->salen, r->host, sizeof r->host, r->port, sizeof r->port,
                               NI_NUMERICHOST | serv_flags);
    } else if ((l->ni_flags & NI_NOFQDN) &&
               aio__hosts_trim_domain(hosts_file_of(l->fut.loop), name) < 0) {
        free(r);
        aio__future_fail(&l->fut, NULL);
        return;
    } else if (strlen(name) >= sizeof r->host) {
        rc = EAI_OVERFLOW; /* Python's buffer is NI_MAXHOST too */
    } else {
        strcpy(r->host, name);
        rc = getnameinfo(sa, l->salen, NULL, 0, r->port, sizeof r->port, serv_flags);
    }
    if (rc != 0) {
        free(r);
        aio__future_fail(&l->fut, gaierror(rc));
        return;
    }
    r->info.host = r->host;
    r->info.port = r->port;
    aio__future_finish_result(&l->fut, r, free);
}

static void on_nameinfo(void *arg, int status, int timeouts, char *node, char *service);

static int nameinfo_dns(lookup *l)
{
    aio__resolver *res = dns_begin(l);
    if (res == NULL)
        return -1;
    /* Without a name c-ares would answer the address: see on_nameinfo(). */
    ares_getnameinfo(res->channel, (const struct sockaddr *)&l->sa, l->salen,
                     ARES_NI_LOOKUPHOST | ARES_NI_NAMEREQD, on_nameinfo, l);
    resolver_rearm(res);
    return 0;
}

/* Goes on with a lookup by address at its next source, as addrinfo_next()
 * does by name. */
static int nameinfo_next(lookup *l)
{
    aio_loop *loop = l->fut.loop;
    const char *stages = lookups_of(loop);
    int family = l->sa.ss_family;
    const void *bytes = family == AF_INET6
                            ? (const void *)&((const struct sockaddr_in6 *)&l->sa)->sin6_addr
                            : (const void *)&((const struct sockaddr_in *)&l->sa)->sin_addr;
    while (stages[l->stage] != '\0') {
        if (stages[l->stage++] == 'f') {
            char *name;
            int rc = aio__hosts_by_addr(hosts_file_of(loop), family, bytes, &name);
            if (rc > 0)
                finish_nameinfo(l, name);
            free(name);
            if (rc != 0)
                return rc < 0 ? -1 : 0;
        } else {
            return nameinfo_dns(l);
        }
    }
    finish_nameinfo(l, NULL);
    return 0;
}

static void on_nameinfo(void *arg, int status, int timeouts, char *node, char *service)
{
    (void)timeouts;
    (void)service;
    lookup *l = arg;
    aio_exc *pending = aio_err_fetch();
    if (dns_end(l)) {
        if (status == ARES_SUCCESS && node != NULL) {
            char *name = aio__strdup(node);
            if (name == NULL)
                aio__future_fail(&l->fut, NULL);
            else
                finish_nameinfo(l, name);
            free(name);
        } else if (status == ARES_ENOTFOUND || status == ARES_ENODATA) {
            /* No name, or (c-ares 1.18 turns every failure of the PTR query
             * into "not found") no answer: the next source, if any, else
             * the numeric address as the system writes it (c-ares would
             * add "%0" to every IPv6 one). */
            l->status = status;
            if (nameinfo_next(l) < 0)
                aio__future_fail(&l->fut, NULL);
        } else if (status == ARES_ECANCELLED || status == ARES_EDESTRUCTION) {
            aio__future_cancel_plain(&l->fut, NULL);
        } else {
            aio__future_fail(&l->fut, gaierror(eai_for_ares(status)));
        }
    }
    aio_err_restore(pending);
    aio__decref(l);
}

/* The flags glibc's getnameinfo() knows (NI_IDN's old companions too). */
#define KNOWN_NI_FLAGS \
    (NI_NUMERICHOST | NI_NUMERICSERV | NI_NOFQDN | NI_NAMEREQD | NI_DGRAM | NI_IDN | 0xc0)

aio_future *aio__loop_getnameinfo(aio_loop *loop, const aio__loop_getnameinfo_args *args)
{
    if (aio__loop_check_closed(loop) < 0)
        return NULL;
    if (args->sockaddr == NULL || args->sockaddr->host == NULL) {
        aio_err_set(aio_TypeError, "getnameinfo() argument 1 must be a tuple");
        return NULL;
    }
    lookup *l = lookup_new(loop);
    if (l == NULL)
        return NULL;
    aio_future *fut = &l->fut;
    int rc = make_sockaddr(args->sockaddr, &l->sa, &l->salen);
    if (rc == 0 && (args->flags & ~KNOWN_NI_FLAGS))
        rc = EAI_BADFLAGS;
    if (rc == 0 && (args->flags & NI_NUMERICHOST)) {
        /* Nothing to ask anyone: the system formats it. */
        nameinfo_result *r = aio__calloc(1, sizeof *r);
        if (r == NULL) {
            aio__decref(fut);
            return NULL;
        }
        rc = getnameinfo((struct sockaddr *)&l->sa, l->salen, r->host, sizeof r->host, r->port,
                         sizeof r->port, args->flags);
        if (rc == 0) {
            r->info.host = r->host;
            r->info.port = r->port;
            aio__future_finish_result(fut, r, free);
            return fut;
        }
        free(r);
    }
    if (rc != 0) {
        aio__future_fail(fut, gaierror(rc));
        return fut;
    }
    l->ni_flags = args->flags;
    /* The unspecified IPv6 address has a name nowhere: glibc asks no one. */
    if (l->sa.ss_family == AF_INET6 &&
        IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)&l->sa)->sin6_addr)) {
        finish_nameinfo(l, NULL);
        return fut;
    }
    if (nameinfo_next(l) < 0) {
        aio__decref(fut);
        return NULL;
    }
    return fut;
}

/* --- Options and closing ------------------------------------------------------------------ */

static void resolver_free(aio_loop *loop)
{
    aio__resolver *res = *resolver_of(loop);
    if (res == NULL)
        return;
    /* Every lookup still in flight is answered ARES_EDESTRUCTION (its future
     * cancelled), and every socket is dropped from the loop. */
    ares_destroy(res->channel);
    aio__handle_drop(&res->timer);
    for (size_t i = 0; i < res->fds_len; i++)
        free(res->fds[i]);
    free(res->fds);
    free(res);
    *resolver_of(loop) = NULL;
}

static void resolver_closing(aio_loop *loop)
{
    resolver_free(loop);
    free(*options_block_of(loop));
    *options_block_of(loop) = NULL;
}

int aio_loop_set_resolver_options(aio_loop *loop, const aio_resolver_options *options)
{
    if (loop == NULL) {
        aio_err_set(aio_TypeError, "aio_loop_set_resolver_options() needs a loop");
        return -1;
    }
    if (aio__loop_check_closed(loop) < 0) /* its strings would never be freed */
        return -1;
    if (*resolver_of(loop) != NULL && (*resolver_of(loop))->active > 0) {
        aio_err_set(aio_RuntimeError, "resolver options cannot change while lookups are in flight");
        return -1;
    }
    static const aio_resolver_options defaults;
    if (options == NULL)
        options = &defaults;
    if (options->lookups != NULL && strspn(options->lookups, "fb") != strlen(options->lookups)) {
        aio_err_format(aio_ValueError, "lookups must be made of 'f' and 'b', not '%s'",
                       options->lookups);
        return -1;
    }
    if (isnan(options->timeout) || options->timeout < 0) {
        aio_err_format(aio_ValueError, "timeout must be a number of seconds >= 0, not %g",
                       options->timeout);
        return -1;
    }
    if (options->tries < 0) {
        aio_err_format(aio_ValueError, "tries must be >= 0, not %d", options->tries);
        return -1;
    }
    /* Keep copies of the options and their strings, in one block. */
    const char *given[] = {options->servers, options->lookups, options->hosts_file};
    size_t lens[3], total = 0;
    for (size_t i = 0; i < 3; i++) {
        lens[i] = given[i] != NULL ? strlen(given[i]) + 1 : 0;
        total += lens[i];
    }
    options_block *block = aio__malloc(sizeof *block + total);
    if (block == NULL)
        return -1;
    const char *copies[3] = {NULL, NULL, NULL};
    for (size_t i = 0, at = 0; i < 3; at += lens[i], i++) {
        if (given[i] != NULL) {
            memcpy(block->strings + at, given[i], lens[i]);
            copies[i] = block->strings + at;
        }
    }
    block->options = *options;
    aio_resolver_options copy = block->options;
    block->options.servers = copy.servers = copies[0];
    block->options.lookups = copy.lookups = copies[1];
    block->options.hosts_file = copy.hosts_file = copies[2];
    /* Check the servers now, rather than at the first lookup. */
    if (copy.servers != NULL) {
        ares_channel probe;
        struct ares_options o;
        memset(&o, 0, sizeof o);
        int status = ares_init_options(&probe, &o, 0);
        if (status == ARES_SUCCESS) {
            status = ares_set_servers_ports_csv(probe, copy.servers);
            ares_destroy(probe);
        }
        if (status != ARES_SUCCESS) {
            free(block);
            aio_err_format(aio_ValueError, "invalid resolver servers '%s'", options->servers);
            return -1;
        }
    }
    resolver_free(loop);
    free(*options_block_of(loop));
    *options_block_of(loop) = block;
    return 0;
}

/* What reprs and logs call these callbacks: CPython's names for them. */
AIO__NAME(process_timeouts, "_Resolver.process_timeouts", AIO__NAME_SELF_ARG);
AIO__NAME(on_readable, "_Resolver.on_readable", AIO__NAME_SELF_ARG);
AIO__NAME(on_writable, "_Resolver.on_writable", AIO__NAME_SELF_ARG);
