# loop.getaddrinfo() and loop.getnameinfo() on what is answered without a
# name server, the hosts file or the services database, so that the trace is
# the same on every machine: numeric IPv4 and IPv6 hosts, host None with and
# without AI_PASSIVE, AI_CANONNAME (on the first entry only), numeric ports,
# family/type/proto filters, and the errors: socket.gaierror's type, errno
# and text (AI_NUMERICHOST with a name, an unknown service, a family that
# does not fit, None and None, ...). getnameinfo() with NI_NUMERICHOST |
# NI_NUMERICSERV and on hosts that are not numeric. Every entry is printed
# as (family, type, proto, canonname, sockaddr) with the enums as numbers.
# No DNS server is asked.
# Names from the hosts file (localhost, the reverse lookup of 127.0.0.1)
# depend on the machine's /etc/hosts; tests/unit/net/test_dns.c tests those
# lookups, against hosts files the test controls. Service names ('http',
# getnameinfo() without NI_NUMERICSERV) come from /etc/services: see
# dns_services.
import asyncio
import socket

AF_INET = socket.AF_INET
AF_INET6 = socket.AF_INET6
STREAM = socket.SOCK_STREAM
DGRAM = socket.SOCK_DGRAM
RAW = socket.SOCK_RAW

# label, host, port, family, type, proto, flags
ADDRINFO = [
    ("ipv4", "127.0.0.1", 80, 0, 0, 0, 0),
    ("ipv4 no port", "127.0.0.1", None, 0, 0, 0, 0),
    ("ipv4 stream", "10.1.2.3", 8080, 0, STREAM, 0, 0),
    ("ipv4 udp proto", "127.0.0.1", 53, 0, 0, socket.IPPROTO_UDP, 0),
    ("ipv6", "::1", 80, 0, 0, 0, 0),
    ("ipv6 mapped", "::ffff:10.0.0.1", 53, 0, DGRAM, 0, 0),
    ("v4 as v6 mapped", "127.0.0.1", 80, AF_INET6, STREAM, 0, socket.AI_V4MAPPED),
    ("none passive", None, 80, 0, 0, 0, socket.AI_PASSIVE),
    ("none", None, 80, 0, 0, 0, 0),
    ("none stream", None, 0, 0, STREAM, 0, 0),
    ("canonname ipv4", "127.0.0.1", 80, 0, 0, 0, socket.AI_CANONNAME),
    ("canonname ipv6", "::1", None, 0, STREAM, 0, socket.AI_CANONNAME),
    ("numericserv", "127.0.0.1", "8080", 0, STREAM, 0, socket.AI_NUMERICSERV),
    ("numerichost name", "localhost", 80, 0, 0, 0, socket.AI_NUMERICHOST),
    ("numerichost other name", "no-such-host.invalid", 80, 0, 0, 0, socket.AI_NUMERICHOST),
    ("bad service", "127.0.0.1", "nosuchservice", 0, 0, 0, 0),
    ("bad service name", "localhost", "nosuchservice", 0, 0, 0, 0),
    ("bad service unknown name", "no-such-host.invalid", "nosuchservice", 0, 0, 0, 0),
    ("numericserv name", "localhost", "http", 0, 0, 0, socket.AI_NUMERICSERV),
    ("raw with port", "127.0.0.1", 80, 0, RAW, 0, 0),
    ("ipv4 as inet6", "127.0.0.1", 80, AF_INET6, 0, 0, 0),
    ("ipv6 as inet", "::1", 80, AF_INET, 0, 0, 0),
    ("unix family", "127.0.0.1", 80, socket.AF_UNIX, 0, 0, 0),
    ("bad type", "localhost", 80, 0, 12345, 0, 0),
    ("stream udp", "127.0.0.1", 80, 0, STREAM, socket.IPPROTO_UDP, 0),
    ("bad flags", "localhost", 80, 0, 0, 0, 0x10000),
    ("empty host", "", 80, 0, 0, 0, 0),
    ("none none", None, None, 0, 0, 0, 0),
    ("none canonname", None, 80, 0, 0, 0, socket.AI_CANONNAME),
]

# label, sockaddr, flags
NAMEINFO = [
    ("numeric serv", ("127.0.0.1", 80), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV),
    ("numeric ipv6 dgram serv", ("::1", 53, 0, 0),
     socket.NI_NUMERICHOST | socket.NI_NUMERICSERV | socket.NI_DGRAM),
    ("name", ("localhost", 80), 0),
    ("name numeric", ("localhost", 80), socket.NI_NUMERICHOST),
    ("empty", ("", 80), socket.NI_NUMERICHOST),
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
