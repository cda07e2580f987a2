/* dns.c - loop.getaddrinfo() and loop.getnameinfo() on the loop itself.
 *
 * asyncio runs socket.getaddrinfo() in a thread. Here, what the system
 * resolver answers without asking anyone (numeric addresses, a None host,
 * AI_NUMERICHOST, service names from /etc/services) is answered at once by
 * the system's own getaddrinfo(), and names go to c-ares: its sockets are
 * watched by the loop, its timeouts are loop timers. Each address c-ares
 * finds is turned into entries by the system's getaddrinfo() again, with
 * AI_NUMERICHOST, so that the entries (one per socket type, the port, the
 * sockaddr) are exactly those Python would get.
 */
#include <arpa/inet.h>
#include <ares.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "casyncio/api.h"
#include "casyncio/resolver.h"
#include "future.h"
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

/* Appends each entry of a system getaddrinfo() list, as socket.getaddrinfo()
 * makes its tuples. canonname, when not NULL, goes on the first entry of
 * the whole result. 0, or -1 with MemoryError. */
static int append_entries(addrinfo_result *r, const struct addrinfo *ai, const char *canonname)
{
    for (; ai != NULL; ai = ai->ai_next) {
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
        const char *canon = r->list.len == 0 && canonname != NULL ? canonname
                            : r->list.len == 0 && ai->ai_canonname != NULL ? ai->ai_canonname
                                                                           : "";
        char host[NI_MAXHOST];
        if (getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof host, NULL, 0,
                        NI_NUMERICHOST) != 0)
            continue; /* not an address family Python would show either */
        if ((item->canonname = keep_string(r, canon)) == NULL ||
            (item->sockaddr.host = keep_string(r, host)) == NULL)
            return -1;
        if (ai->ai_family == AF_INET6) {
            const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ai->ai_addr;
            item->sockaddr.port = ntohs(sin6->sin6_port);
            item->sockaddr.flowinfo = ntohl(sin6->sin6_flowinfo);
            item->sockaddr.scope_id = sin6->sin6_scope_id;
        } else {
            item->sockaddr.port = ntohs(((const struct sockaddr_in *)ai->ai_addr)->sin_port);
        }
        r->list.len++;
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
        aio__loop_add_reader(res->loop, fd, on_readable, w, NULL);
    else
        aio__loop_remove_reader(res->loop, fd);
    if (w != NULL && writable)
        aio__loop_add_writer(res->loop, fd, on_writable, w, NULL);
    else
        aio__loop_remove_writer(res->loop, fd);
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

static aio__resolver *resolver_get(aio_loop *loop)
{
    if (loop->resolver != NULL)
        return loop->resolver;
    pthread_once(&library_once, init_library);
    aio__resolver *res = aio__calloc(1, sizeof *res);
    if (res == NULL)
        return NULL;
    res->loop = loop;
    const aio_resolver_options *o = &loop->resolver_options;
    struct ares_options opts;
    memset(&opts, 0, sizeof opts);
    int mask = ARES_OPT_SOCK_STATE_CB;
    opts.sock_state_cb = sock_state;
    opts.sock_state_cb_data = res;
    if (o->timeout > 0) {
        opts.timeout = (int)(o->timeout * 1000.0 + 0.5);
        mask |= ARES_OPT_TIMEOUTMS;
    }
    if (o->tries > 0) {
        opts.tries = o->tries;
        mask |= ARES_OPT_TRIES;
    }
    if (o->lookups != NULL) {
        opts.lookups = (char *)o->lookups;
        mask |= ARES_OPT_LOOKUPS;
    }
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
    loop->resolver = res;
    return res;
}

/* --- getaddrinfo -------------------------------------------------------------------- */

/* The future of a lookup c-ares answers: cancelling it cancels the lookup. */
typedef struct lookup {
    aio_future fut;
    aio__resolver *res;     /* NULL once c-ares answered */
    char *port;
    struct addrinfo hints;  /* what each address is expanded with */
} lookup;

static void lookup_dealloc(void *obj)
{
    lookup *l = obj;
    if (!aio__future_finalize(&l->fut))
        return;
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

/* Appends the entries the system makes of one numeric address. For any
 * socket type it makes one per type (stream and datagram where the service
 * exists, raw for a numeric or no port) and then sorts them (RFC 3484),
 * which costs a socket, a connect() and a getsockname() per entry. Asked
 * one type at a time it has one entry each and nothing to sort: the same
 * entries in the same order, without those system calls. */
static int expand_address(addrinfo_result *r, const char *host, const char *port,
                          const struct addrinfo *hints, const char *canon)
{
    if (hints->ai_socktype != 0 || hints->ai_protocol != 0) {
        struct addrinfo *ai = NULL;
        if (getaddrinfo(host, port, hints, &ai) != 0)
            return 0;
        int rc = append_entries(r, ai, r->list.len == 0 ? canon : NULL);
        freeaddrinfo(ai);
        return rc;
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
        int rc = append_entries(r, ai, r->list.len == 0 ? canon : NULL);
        freeaddrinfo(ai);
        if (rc < 0)
            return -1;
    }
    return 0;
}

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

static void on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *result)
{
    (void)timeouts;
    lookup *l = arg;
    aio__resolver *res = l->res;
    res->active--;
    if (l->fut.state != AIO__FUTURE_PENDING)
        res->cancelled--;
    l->res = NULL;
    aio_exc *pending = aio_err_fetch();
    if (l->fut.state == AIO__FUTURE_PENDING) {
        if (status == ARES_ECANCELLED || status == ARES_EDESTRUCTION) {
            aio__future_cancel_plain(&l->fut, NULL);
        } else if (status != ARES_SUCCESS) {
            /* ARES_ECONNREFUSED is also c-ares's status before any lookup:
             * with the hosts file alone, the name was just not found. */
            const char *lookups = res->loop->resolver_options.lookups;
            bool dns = lookups == NULL || strchr(lookups, 'b') != NULL;
            int code = status == ARES_ECONNREFUSED && !dns ? EAI_NONAME : eai_for_ares(status);
            aio__future_fail(&l->fut, gaierror(code));
        } else {
            addrinfo_result *r = result_new();
            int rc = r != NULL ? 0 : -1;
            const char *canon = (l->hints.ai_flags & AI_CANONNAME) ? canonical_name(result) : NULL;
            /* AF_INET6 with AI_V4MAPPED: c-ares was asked for both families;
             * the IPv4 addresses become ::ffff:a.b.c.d when there is no IPv6
             * one (or always with AI_ALL), as the system does. */
            bool v4mapped = l->hints.ai_family == AF_INET6 && (l->hints.ai_flags & AI_V4MAPPED);
            bool have_ipv6 = false;
            for (const struct ares_addrinfo_node *n = result->nodes; n != NULL; n = n->ai_next)
                have_ipv6 |= n->ai_family == AF_INET6;
            for (const struct ares_addrinfo_node *n = result->nodes; rc == 0 && n != NULL;
                 n = n->ai_next) {
                if (v4mapped && n->ai_family == AF_INET && have_ipv6 &&
                    !(l->hints.ai_flags & AI_ALL))
                    continue;
                char host[INET6_ADDRSTRLEN];
                const void *addr = n->ai_family == AF_INET6
                                       ? (const void *)&((struct sockaddr_in6 *)n->ai_addr)->sin6_addr
                                       : (const void *)&((struct sockaddr_in *)n->ai_addr)->sin_addr;
                if (inet_ntop(n->ai_family, addr, host, sizeof host) == NULL)
                    continue;
                struct addrinfo hints = l->hints;
                hints.ai_family = v4mapped ? AF_INET6 : n->ai_family;
                hints.ai_flags = (hints.ai_flags & ~AI_CANONNAME) | AI_NUMERICHOST;
                rc = expand_address(r, host, l->port, &hints, canon);
            }
            if (r == NULL) {
                aio__future_fail(&l->fut, NULL);
            } else if (rc == 0 && r->list.len == 0) {
                /* Every address was filtered out by the hints. */
                addrinfo_result_free(r);
                aio__future_fail(&l->fut, gaierror(EAI_NONAME));
            } else {
                finish_addrinfo(&l->fut, r, rc);
            }
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
        aio_future *fut = aio__loop_create_future(loop);
        if (fut == NULL) {
            if (ai != NULL)
                freeaddrinfo(ai);
            return NULL;
        }
        if (rc != 0 && args->host != NULL && *args->host == '\0')
            rc = EAI_NONAME;
        if (rc != 0) {
            aio__future_fail(fut, gaierror(rc));
            return fut;
        }
        addrinfo_result *r = result_new();
        if (r == NULL) {
            freeaddrinfo(ai);
            aio__decref(fut);
            return NULL;
        }
        finish_addrinfo(fut, r, append_entries(r, ai, NULL));
        freeaddrinfo(ai);
        return fut;
    }

    aio__resolver *res = resolver_get(loop);
    if (res == NULL)
        return NULL;
    lookup *l = lookup_new(loop);
    if (l == NULL)
        return NULL;
    if (args->port != NULL && (l->port = aio__strdup(args->port)) == NULL) {
        aio__decref(l);
        return NULL;
    }
    l->hints = hints;
    l->res = res;
    struct ares_addrinfo_hints ahints;
    memset(&ahints, 0, sizeof ahints);
    ahints.ai_family = args->family;
    if (args->family == AF_INET6 && (args->flags & AI_V4MAPPED))
        ahints.ai_family = AF_UNSPEC; /* the IPv4 addresses may be mapped */
    ahints.ai_flags = (args->flags & AI_CANONNAME) ? ARES_AI_CANONNAME : 0;
    res->active++;
    aio__incref(l); /* c-ares's reference, dropped in on_addrinfo() */
    ares_getaddrinfo(res->channel, args->host, NULL, &ahints, on_addrinfo, l);
    resolver_rearm(res);
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

typedef struct reverse {
    aio_future *fut;
    aio__resolver *res;
    struct sockaddr_storage sa;
    socklen_t salen;
    int flags;
} reverse;

static void on_nameinfo(void *arg, int status, int timeouts, char *node, char *service)
{
    (void)timeouts;
    (void)service;
    reverse *rv = arg;
    aio_future *fut = rv->fut;
    rv->res->active--;
    if (fut->state != AIO__FUTURE_PENDING)
        rv->res->cancelled--;
    ((lookup *)fut)->res = NULL;
    aio_exc *pending = aio_err_fetch();
    if (fut->state == AIO__FUTURE_PENDING) {
        nameinfo_result *r = aio__calloc(1, sizeof *r);
        int rc = EAI_MEMORY;
        if (r != NULL && status == ARES_SUCCESS && node != NULL) {
            snprintf(r->host, sizeof r->host, "%s", node);
            /* The service as the system names it, from /etc/services. */
            rc = getnameinfo((struct sockaddr *)&rv->sa, rv->salen, NULL, 0, r->port,
                             sizeof r->port, rv->flags & (NI_NUMERICSERV | NI_DGRAM));
        } else if (r != NULL && (status == ARES_ENOTFOUND || status == ARES_ENODATA)) {
            /* No name: the numeric address as the system writes it (c-ares
             * would add "%0" to every IPv6 one), or EAI_NONAME. */
            rc = (rv->flags & NI_NAMEREQD)
                     ? EAI_NONAME
                     : getnameinfo((struct sockaddr *)&rv->sa, rv->salen, r->host, sizeof r->host,
                                   r->port, sizeof r->port,
                                   NI_NUMERICHOST | (rv->flags & (NI_NUMERICSERV | NI_DGRAM)));
        } else if (r != NULL) {
            rc = status == ARES_ECANCELLED || status == ARES_EDESTRUCTION ? -1
                                                                          : eai_for_ares(status);
        }
        if (rc == 0) {
            r->info.host = r->host;
            r->info.port = r->port;
            aio__future_finish_result(fut, r, free);
        } else {
            free(r);
            if (rc == -1) {
                aio__future_cancel_plain(fut, NULL);
            } else {
                aio__future_fail(fut, gaierror(rc));
            }
        }
    }
    aio_err_restore(pending);
    aio__decref(fut);
    free(rv);
}

aio_future *aio__loop_getnameinfo(aio_loop *loop, const aio__loop_getnameinfo_args *args)
{
    if (aio__loop_check_closed(loop) < 0)
        return NULL;
    if (args->sockaddr == NULL || args->sockaddr->host == NULL) {
        aio_err_set(aio_TypeError, "getnameinfo() argument 1 must be a tuple");
        return NULL;
    }
    /* A lookup future: cancelling it stops the query. */
    lookup *l = lookup_new(loop);
    if (l == NULL)
        return NULL;
    aio_future *fut = &l->fut;
    struct sockaddr_storage ss;
    socklen_t len = 0;
    int rc = make_sockaddr(args->sockaddr, &ss, &len);
    if (rc == 0 && (args->flags & NI_NUMERICHOST)) {
        /* Nothing to ask anyone: the system formats it. */
        nameinfo_result *r = aio__calloc(1, sizeof *r);
        if (r == NULL) {
            aio__decref(fut);
            return NULL;
        }
        rc = getnameinfo((struct sockaddr *)&ss, len, r->host, sizeof r->host, r->port,
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
    aio__resolver *res = resolver_get(loop);
    reverse *rv = res != NULL ? aio__calloc(1, sizeof *rv) : NULL;
    if (rv == NULL) {
        aio__decref(fut);
        return NULL;
    }
    rv->fut = aio_incref(fut);
    rv->res = res;
    l->res = res;
    rv->sa = ss;
    rv->salen = len;
    rv->flags = args->flags;
    int aflags = ARES_NI_LOOKUPHOST | ARES_NI_NAMEREQD; /* no name: see on_nameinfo() */
    if (args->flags & NI_NOFQDN)
        aflags |= ARES_NI_NOFQDN;
    res->active++;
    ares_getnameinfo(res->channel, (struct sockaddr *)&ss, len, aflags, on_nameinfo, rv);
    resolver_rearm(res);
    return fut;
}

/* --- Options and closing ------------------------------------------------------------------ */

static void resolver_free(aio_loop *loop)
{
    aio__resolver *res = loop->resolver;
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
    loop->resolver = NULL;
}

void aio__dns_close(aio_loop *loop)
{
    resolver_free(loop);
    free(loop->resolver_strings);
    loop->resolver_strings = NULL;
}

int aio_loop_set_resolver_options(aio_loop *loop, const aio_resolver_options *options)
{
    if (loop == NULL) {
        aio_err_set(aio_TypeError, "aio_loop_set_resolver_options() needs a loop");
        return -1;
    }
    if (aio__loop_check_closed(loop) < 0) /* its strings would never be freed */
        return -1;
    if (loop->resolver != NULL && loop->resolver->active > 0) {
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
    if (options->timeout < 0 || options->tries < 0) {
        aio_err_set(aio_ValueError, "timeout and tries must not be negative");
        return -1;
    }
    /* Keep copies of the strings, in one block. */
    size_t servers_len = options->servers ? strlen(options->servers) + 1 : 0;
    size_t lookups_len = options->lookups ? strlen(options->lookups) + 1 : 0;
    char *strings = NULL;
    if (servers_len + lookups_len > 0 &&
        (strings = aio__malloc(servers_len + lookups_len)) == NULL)
        return -1;
    aio_resolver_options copy = *options;
    if (servers_len > 0) {
        memcpy(strings, options->servers, servers_len);
        copy.servers = strings;
    }
    if (lookups_len > 0) {
        memcpy(strings + servers_len, options->lookups, lookups_len);
        copy.lookups = strings + servers_len;
    }
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
            free(strings);
            aio_err_format(aio_ValueError, "invalid resolver servers '%s'", options->servers);
            return -1;
        }
    }
    resolver_free(loop);
    free(loop->resolver_strings);
    loop->resolver_strings = strings;
    loop->resolver_options = copy;
    return 0;
}

/* What reprs and logs call these callbacks: CPython's names for them. */
AIO__NAME(process_timeouts, "_Resolver.process_timeouts", AIO__NAME_SELF_ARG);
AIO__NAME(on_readable, "_Resolver.on_readable", AIO__NAME_SELF_ARG);
AIO__NAME(on_writable, "_Resolver.on_writable", AIO__NAME_SELF_ARG);
