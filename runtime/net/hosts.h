/* hosts.h - what the system resolver does on its own, without a server:
 * the hosts file (hosts.c) and the ordering of getaddrinfo()'s answers
 * (addrsort.c). Internal; dns.c is their user.
 *
 * Both follow glibc (2.36), whose getaddrinfo() Python calls: the rules of
 * its "files" module for /etc/hosts, the "multi" setting of /etc/host.conf,
 * and the RFC 3484 sort, with the tables of /etc/gai.conf, that it applies
 * to every answer of more than one address.
 */
#ifndef CASYNCIO_RUNTIME_HOSTS_H
#define CASYNCIO_RUNTIME_HOSTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "object.h"

struct addrinfo;

/* The hosts file when the resolver options name none. */
#define AIO__HOSTS_PATH "/etc/hosts"

/* One address of an answer: AF_INET (4 bytes used) or AF_INET6. */
typedef struct aio__host_addr {
    int family;
    unsigned char bytes[16];
} aio__host_addr;

/* The addresses found for a name, in the order the system has them before
 * sorting, and the canonical name. */
typedef struct aio__host_addrs {
    aio__host_addr *items;
    size_t len, cap;
    char *canon; /* the first name of the first line that matched, or NULL */
} aio__host_addrs;

AIO_INTERNAL void aio__host_addrs_clear(aio__host_addrs *a);
/* 0, or -1 with MemoryError. */
AIO_INTERNAL int aio__host_addrs_add(aio__host_addrs *a, int family, const void *bytes);

/* Looks `name` up in the hosts file at `path` as getaddrinfo() does with
 * these hints' family (AF_UNSPEC, AF_INET or AF_INET6) and flags
 * (AI_V4MAPPED, AI_ALL). 1: found, the addresses (at least one) and the
 * canonical name in *out; 0: not there, or no file (the next source is
 * asked); -1: MemoryError. An answer may be found and yet hold no address
 * the hints let through (an AF_INET6 lookup with AI_V4MAPPED of a name with
 * v4-mapped IPv6 lines only): found, and `out` empty; the system then
 * reports EAI_NONAME without asking DNS. */
AIO_INTERNAL int aio__hosts_by_name(const char *path, const char *name, int family, int flags,
                                    aio__host_addrs *out);

/* The name of an address (4 bytes for AF_INET, 16 for AF_INET6) in the
 * hosts file, as getnameinfo() finds it: 1 and a new string in *name (which
 * may be empty: a line with an address alone), 0 not there, -1
 * MemoryError. */
AIO_INTERNAL int aio__hosts_by_addr(const char *path, int family, const void *bytes, char **name);

/* What getnameinfo() with NI_NOFQDN cuts off a name: the local domain,
 * learnt as glibc learns it (from the canonical name of "localhost", the
 * host name, the canonical name of the host name, the name of 127.0.0.1),
 * here from the hosts file at `path` only, never from DNS. Cuts `name` in
 * place. 0, or -1 with MemoryError. */
AIO_INTERNAL int aio__hosts_trim_domain(const char *path, char *name);

/* Reads /etc/host.conf again (or the file RESOLV_HOST_CONF names) and the
 * RESOLV_MULTI variable, as glibc does once per process. For tests. */
AIO_INTERNAL void aio__hosts_reload_conf(void);

/* --- addrsort.c -------------------------------------------------------------------- */

/* Orders the n entries of an answer as glibc's getaddrinfo() orders an
 * answer of more than one address (RFC 3484 with glibc's tables, or those
 * of /etc/gai.conf): each destination is rated by the source address a UDP
 * socket connect()ed to it gets, then the entries are merge-sorted as glibc
 * sorts them, ties in their first order. 0, or -1 with MemoryError. */
AIO_INTERNAL int aio__addrinfo_sort(struct addrinfo **entries, size_t n);

/* What AI_ADDRCONFIG asks, as glibc learns it (netlink): whether the
 * machine has an IPv4 address other than 127.0.0.1, an IPv6 one other than
 * ::1 (both true when that cannot be learnt). 0, or -1 with MemoryError. */
AIO_INTERNAL int aio__addrconfig(bool *seen_ipv4, bool *seen_ipv6);

/* Reads the sort tables again from the gai.conf at `path` (NULL: glibc's
 * own tables, as with no file). For tests; the default is /etc/gai.conf,
 * read at the first sort. */
AIO_INTERNAL void aio__addrsort_reload_conf(const char *path);

#endif /* CASYNCIO_RUNTIME_HOSTS_H */
