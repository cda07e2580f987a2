/* sockaddr.c - socket addresses between Python's forms and the kernel's
 * (sockaddr.h), as Modules/socketmodule.c's makesockaddr() and
 * getsockaddrarg() have them. */
#include "sockaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "casyncio/exceptions.h"
#include "exc.h"
#include "loop.h"

void aio__address_from_sockaddr(aio__address_buf *out, const struct sockaddr *sa, socklen_t len)
{
    memset(out, 0, sizeof *out);
    out->addr.host = out->host;
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &sin->sin_addr, out->host, sizeof out->host);
        out->addr.port = ntohs(sin->sin_port);
        out->addr.kind = AIO_ADDRESS_PAIR;
    } else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &sin6->sin6_addr, out->host, sizeof out->host);
        /* Python writes a link-local scope as %name (ifindex when unnamed). */
        if (sin6->sin6_scope_id != 0 && IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr)) {
            char ifname[IF_NAMESIZE];
            size_t n = strlen(out->host);
            if (if_indextoname(sin6->sin6_scope_id, ifname) != NULL)
                snprintf(out->host + n, sizeof out->host - n, "%%%s", ifname);
            else
                snprintf(out->host + n, sizeof out->host - n, "%%%u", sin6->sin6_scope_id);
        }
        out->addr.port = ntohs(sin6->sin6_port);
        out->addr.flowinfo = ntohl(sin6->sin6_flowinfo);
        out->addr.scope_id = sin6->sin6_scope_id;
        out->addr.kind = AIO_ADDRESS_QUAD;
    } else if (sa->sa_family == AF_UNIX) {
        const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;
        size_t n = len > offsetof(struct sockaddr_un, sun_path)
                       ? (size_t)len - offsetof(struct sockaddr_un, sun_path) : 0;
        if (n > sizeof sun->sun_path)
            n = sizeof sun->sun_path;
        out->addr.host = NULL;
        out->addr.path = out->path;
        if (n == 0) {
            out->addr.kind = AIO_ADDRESS_UNNAMED;
        } else if (sun->sun_path[0] == '\0') {
            memcpy(out->path, sun->sun_path, n);
            out->addr.path_len = n;
            out->addr.kind = AIO_ADDRESS_ABSTRACT;
        } else {
            size_t m = strnlen(sun->sun_path, n);
            memcpy(out->path, sun->sun_path, m);
            out->path[m] = '\0';
            out->addr.kind = m == 0 ? AIO_ADDRESS_UNNAMED : AIO_ADDRESS_PATH;
        }
    } else {
        out->addr.host = NULL;
        out->addr.kind = AIO_ADDRESS_AUTO;
    }
}

void aio__address_buf_copy(aio__address_buf *dst, const aio__address_buf *src)
{
    *dst = *src;
    if (src->addr.host == src->host)
        dst->addr.host = dst->host;
    if (src->addr.path == src->path)
        dst->addr.path = dst->path;
}

aio_address_kind aio__address_kind(const aio_address *a)
{
    if (a->kind != AIO_ADDRESS_AUTO)
        return a->kind;
    if (a->path != NULL)
        return *a->path ? AIO_ADDRESS_PATH : AIO_ADDRESS_UNNAMED;
    return AIO_ADDRESS_PAIR;
}

int aio__sockaddr_from_address(const aio_address *a, int family, const char *method,
                               struct sockaddr_storage *ss, socklen_t *len)
{
    aio_address_kind kind = aio__address_kind(a);
    bool inet_form = kind == AIO_ADDRESS_PAIR || kind == AIO_ADDRESS_QUAD;
    memset(ss, 0, sizeof *ss);
    if (family == AF_UNIX) {
        if (inet_form) {
            aio_err_set(aio_TypeError, "a bytes-like object is required, not 'tuple'");
            return -1;
        }
        struct sockaddr_un *sun = (struct sockaddr_un *)ss;
        size_t n = kind == AIO_ADDRESS_ABSTRACT ? a->path_len
                   : kind == AIO_ADDRESS_UNNAMED ? 0 : strlen(a->path);
        if (n >= sizeof sun->sun_path + (kind == AIO_ADDRESS_ABSTRACT)) {
            aio_err_set(aio_OSError, "AF_UNIX path too long");
            return -1;
        }
        sun->sun_family = AF_UNIX;
        if (n > 0)
            memcpy(sun->sun_path, a->path, n);
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
                           (kind == AIO_ADDRESS_PATH)); /* a path ends with its NUL */
        return 0;
    }
    if (family != AF_INET && family != AF_INET6) {
        aio_err_format(aio_OSError, "%s(): bad family", method);
        return -1;
    }
    if (!inet_form) {
        aio_err_format(aio_TypeError, "%s(): %s address must be tuple, not %s", method,
                       family == AF_INET ? "AF_INET" : "AF_INET6",
                       kind == AIO_ADDRESS_ABSTRACT ? "bytes" : "str");
        return -1;
    }
    if (family == AF_INET && kind == AIO_ADDRESS_QUAD) {
        aio_err_set(aio_TypeError, "AF_INET address must be a pair (host, port)");
        return -1;
    }
    if (a->host == NULL) {
        aio_err_format(aio_TypeError, "str, bytes or bytearray expected, not NoneType");
        return -1;
    }
    if (a->port < 0 || a->port > 65535) {
        aio_err_format(aio_OverflowError, "%s(): port must be 0-65535.", method);
        return -1;
    }
    /* The host: numeric here (with a %scope for IPv6); anything else is
     * the caller's to resolve. "" is INADDR_ANY, "<broadcast>" too. */
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)a->port);
        if (*a->host == '\0')
            sin->sin_addr.s_addr = htonl(INADDR_ANY);
        else if (strcmp(a->host, "<broadcast>") == 0)
            sin->sin_addr.s_addr = htonl(INADDR_BROADCAST);
        else if (inet_pton(AF_INET, a->host, &sin->sin_addr) != 1)
            return 1;
        *len = sizeof *sin;
        return 0;
    }
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)a->port);
    sin6->sin6_flowinfo = htonl(a->flowinfo);
    sin6->sin6_scope_id = a->scope_id;
    if (*a->host != '\0') {
        char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
        snprintf(host, sizeof host, "%s", a->host);
        char *scope = strchr(host, '%');
        if (scope != NULL) {
            *scope++ = '\0';
            unsigned index = if_nametoindex(scope);
            if (index == 0)
                return 1; /* what getaddrinfo() makes of it */
            sin6->sin6_scope_id = index;
        }
        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
            return 1;
    }
    *len = sizeof *sin6;
    return 0;
}

int aio__address_repr(const aio_address *a, aio__strbuf *out)
{
    switch (aio__address_kind(a)) {
    case AIO_ADDRESS_PATH:
        return aio__sb_append_pyrepr(out, a->path);
    case AIO_ADDRESS_UNNAMED:
        return aio__sb_append(out, "''");
    case AIO_ADDRESS_ABSTRACT:
        return aio__sb_append_bytes_repr(out, a->path, a->path_len);
    case AIO_ADDRESS_QUAD:
        aio__sb_append(out, "(");
        aio__sb_append_pyrepr(out, a->host);
        return aio__sb_appendf(out, ", %d, %u, %u)", a->port, a->flowinfo, a->scope_id);
    default:
        aio__sb_append(out, "(");
        aio__sb_append_pyrepr(out, a->host);
        return aio__sb_appendf(out, ", %d)", a->port);
    }
}

void aio__socket_kind(int fd, int *family, int *type, int *proto)
{
    socklen_t len = sizeof *family;
    *family = *type = *proto = -1;
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, family, &len) < 0)
        *family = -1;
    len = sizeof *type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, type, &len) < 0)
        *type = -1;
    len = sizeof *proto;
    if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, proto, &len) < 0)
        *proto = -1;
}

/* Python's socket repr shows an address only when it is "truthy": not an
 * unnamed AF_UNIX ''. */
static void append_name(aio__strbuf *out, const char *label, int fd, bool peer)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int rc = peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
                  : getsockname(fd, (struct sockaddr *)&ss, &len);
    if (rc < 0)
        return;
    aio__address_buf buf;
    aio__address_from_sockaddr(&buf, (struct sockaddr *)&ss, len);
    if (buf.addr.kind == AIO_ADDRESS_UNNAMED || buf.addr.kind == AIO_ADDRESS_AUTO)
        return;
    aio__sb_appendf(out, ", %s=", label);
    if (buf.addr.kind == AIO_ADDRESS_PATH)
        aio__sb_append(out, buf.addr.path); /* str(laddr): a path is not quoted */
    else
        aio__address_repr(&buf.addr, out);
}

/* Up to 3.10 str() of socket's IntEnums gave their qualified names
 * (AddressFamily.AF_INET); 3.11 made it the number. */
static void append_enum(aio__strbuf *out, const char *key, int value, bool names,
                        const char *enum_name, const int *values, const char *const *labels,
                        size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        if (values[i] == value) {
            aio__sb_appendf(out, ", %s=%s.%s", key, enum_name, labels[i]);
            return;
        }
    aio__sb_appendf(out, ", %s=%d", key, value);
}

int aio__socket_repr(int fd, const char *name, aio__strbuf *out)
{
    return aio__socket_repr_at(fd, name, aio__current_target_version(), out);
}

int aio__socket_repr_at(int fd, const char *name, int version, aio__strbuf *out)
{
    static const int families[] = {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, AF_PACKET};
    static const char *const family_names[] = {"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK",
                                               "AF_PACKET"};
    static const int kinds[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_RDM, SOCK_SEQPACKET};
    static const char *const kind_names[] = {"SOCK_STREAM", "SOCK_DGRAM", "SOCK_RAW",
                                             "SOCK_RDM", "SOCK_SEQPACKET"};
    bool names = version < AIO_PY(3, 11);
    if (version < AIO_PY(3, 8) && strcmp(name, "asyncio.TransportSocket") == 0)
        name = "socket.socket"; /* 3.6 and 3.7 hand out the socket itself */
    int family, type, proto;
    aio__socket_kind(fd, &family, &type, &proto);
    aio__sb_appendf(out, "<%s fd=%d", name, fd);
    append_enum(out, "family", family, names, "AddressFamily", families, family_names, 5);
    append_enum(out, "type", type, names, "SocketKind", kinds, kind_names, 5);
    aio__sb_appendf(out, ", proto=%d", proto);
    append_name(out, "laddr", fd, false);
    append_name(out, "raddr", fd, true);
    return aio__sb_append(out, ">");
}

int aio__set_socket_flag(int fd, int level, int name)
{
    int one = 1;
    if (setsockopt(fd, level, name, &one, sizeof one) < 0) {
        aio_err_set_from_errno(errno);
        return -1;
    }
    return 0;
}
