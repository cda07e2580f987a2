# loop.getaddrinfo() and loop.getnameinfo() with service names, which come
# from the machine's services database (/etc/services, from Debian's
# netbase): a service name as the port of a numeric host and of host None,
# with and without a socket type (a TCP-only service gives its TCP entry
# alone), and getnameinfo() naming the port without NI_NUMERICSERV, with
# NI_DGRAM, and a port that has no name. The trace assumes the standard
# entries: http 80/tcp, https 443/tcp, domain 53/tcp and 53/udp, no name for
# port 12345. Hosts are numeric or None: no hosts file, no DNS server. The
# errors of services (unknown, AI_NUMERICSERV, SOCK_RAW) are in dns_local.
# requires: /etc/services
import asyncio
import socket

AF_INET6 = socket.AF_INET6
STREAM = socket.SOCK_STREAM
DGRAM = socket.SOCK_DGRAM

# label, host, port, family, type, proto, flags
ADDRINFO = [
    ("ipv6 https", "::1", "https", 0, STREAM, 0, 0),
    ("none passive inet6 http", None, "http", AF_INET6, 0, 0, socket.AI_PASSIVE),
    ("http", "127.0.0.1", "http", 0, 0, 0, 0),
    ("domain", "127.0.0.1", "domain", 0, 0, 0, 0),
    ("domain dgram", "127.0.0.1", "domain", 0, DGRAM, 0, 0),
]

# label, sockaddr, flags
NAMEINFO = [
    ("numeric", ("127.0.0.1", 80), socket.NI_NUMERICHOST),
    ("numeric https", ("127.0.0.1", 443), socket.NI_NUMERICHOST),
    ("numeric ipv6 dgram", ("::1", 53, 0, 0), socket.NI_NUMERICHOST | socket.NI_DGRAM),
    ("numeric unknown port", ("::1", 12345), socket.NI_NUMERICHOST),
]


def error(label, e):
    print(label + ":", "%s: %s" % (type(e).__name__, e), "| errno", e.errno,
          "| OSError", isinstance(e, OSError))


async def main():
    loop = asyncio.get_running_loop()
    for label, host, port, family, type_, proto, flags in ADDRINFO:
        try:
            entries = await loop.getaddrinfo(host, port, family=family, type=type_,
                                             proto=proto, flags=flags)
        except socket.gaierror as e:
            error(label, e)
            continue
        print(label + ":", len(entries), "entries")
        for family, type_, proto, canonname, sockaddr in entries:
            print("  %d %d %d %r %r" % (family, type_, proto, canonname, sockaddr))
    for label, sockaddr, flags in NAMEINFO:
        try:
            print(label + ":", await loop.getnameinfo(sockaddr, flags))
        except socket.gaierror as e:
            error(label, e)


asyncio.run(main())
