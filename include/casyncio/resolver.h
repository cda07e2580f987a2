/* casyncio/resolver.h - the loop's DNS resolver.
 *
 * Hand-written; C only. asyncio hands loop.getaddrinfo() and getnameinfo()
 * to the system resolver in a thread; casyncio resolves on the loop itself,
 * with the answers Python gets from glibc: numeric addresses, None hosts and
 * AI_NUMERICHOST lookups at once, as the system answers them; names from
 * the hosts file, read at once by glibc's rules (its "multi" setting from
 * /etc/host.conf, the order of /etc/gai.conf), then from DNS with c-ares
 * (its sockets watched by the loop, its timeouts on the loop's timers). By
 * default it reads the system's configuration (/etc/resolv.conf,
 * /etc/hosts); these options point one loop at other servers or another
 * hosts file, for tests or for programs that need their own.
 */
#ifndef CASYNCIO_RESOLVER_H
#define CASYNCIO_RESOLVER_H

#include "casyncio/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aio_resolver_options {
    /* The name servers, "host[:port]" separated by commas, IPv6 in brackets:
     * "127.0.0.1:5353,[::1]:53". NULL: those of /etc/resolv.conf. */
    const char *servers;
    /* Seconds to wait for each try of each server; 0: the system's (or 2).
     * A timeout of 0 cannot be asked for. Rounded to milliseconds, at least
     * 1 ms; inf and anything above INT_MAX ms (about 24.8 days, the most
     * c-ares takes) mean that most. NaN or negative: ValueError. */
    double timeout;
    /* How many tries per server; 0: the system's (or 3). 0 tries cannot be
     * asked for. */
    int tries;
    /* Where names are looked up, in order: 'f' the hosts file, 'b' DNS.
     * NULL: "fb", as the system does for hosts: files dns. A source that
     * does not know the name (or address) hands it to the next; DNS is
     * never asked about "localhost" (c-ares's rule, RFC 6761). */
    const char *lookups;
    /* Ignore the search domains of /etc/resolv.conf: names are asked as
     * given. */
    bool no_search;
    /* The hosts file, read by glibc's rules on every lookup (as glibc reads
     * it): names match case-insensitively, every matching line counts
     * (with "multi on" in /etc/host.conf), an IPv4 lookup also takes the
     * ::1 line as 127.0.0.1. A file that is missing or unreadable knows no
     * name. NULL: /etc/hosts. */
    const char *hosts_file;
} aio_resolver_options;

/* Sets the resolver options of `loop` (NULL: back to the system's); the
 * strings are copied. 0, or -1 with RuntimeError when lookups are in
 * flight or the loop is closed, ValueError for a servers string c-ares
 * rejects, a lookups string of other letters than 'f' and 'b', a timeout
 * that is NaN or negative, negative tries. */
AIO_API int aio_loop_set_resolver_options(aio_loop *loop, const aio_resolver_options *options);

#ifdef __cplusplus
}
#endif

#endif /* CASYNCIO_RESOLVER_H */
