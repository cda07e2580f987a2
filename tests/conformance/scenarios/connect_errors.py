# The argument checks of create_connection(), create_unix_connection() and
# sock_connect(), and the errors of connecting: a local address of no
# matching family, a local address in use (asyncio's rewrite of the bind
# error), a Unix socket path that does not exist; then a Unix connection
# that works. Ports are printed as PORT, and a socket's repr is cut before
# its fd.
#
# Not for every version: create_connection(ssl_shutdown_timeout=) is new in 3.11.
# versions: 3.11+
import asyncio
import os
import socket
import tempfile


def show(label, e, port=None):
    text = str(e).split(" fd=")[0]
    if port is not None:
        text = text.replace(str(port), "PORT")
    print(label + ":", type(e).__name__ + ":", text)


async def attempt(label, coro, port=None):
    try:
        result = await coro
    except Exception as e:
        show(label, e, port)
    else:
        print(label + ": returned", type(result).__name__)
        return result


async def main():
    loop = asyncio.get_running_loop()
    P = asyncio.Protocol
    stream = socket.socket()
    dgram = socket.socket(type=socket.SOCK_DGRAM, proto=socket.IPPROTO_UDP)
    unix = socket.socket(socket.AF_UNIX)
    await attempt("nothing", loop.create_connection(P))
    await attempt("host and sock", loop.create_connection(P, "127.0.0.1", 80, sock=stream))
    await attempt("port and sock", loop.create_connection(P, port=80, sock=stream))
    await attempt("server_hostname", loop.create_connection(P, "127.0.0.1", 80, server_hostname="x"))
    await attempt("ssl_handshake_timeout",
                  loop.create_connection(P, "127.0.0.1", 80, ssl_handshake_timeout=1.0))
    await attempt("ssl_shutdown_timeout",
                  loop.create_connection(P, "127.0.0.1", 80, ssl_shutdown_timeout=1.0))
    await attempt("datagram sock", loop.create_connection(P, sock=dgram))
    await attempt("local_addr family",
                  loop.create_connection(P, "127.0.0.1", 80, local_addr=("::1", 0)))
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    tport = taken.getsockname()[1]
    await attempt("local_addr in use",
                  loop.create_connection(P, "127.0.0.1", tport, local_addr=("127.0.0.1", tport)),
                  tport)

    await attempt("unix nothing", loop.create_unix_connection(P))
    await attempt("unix path and sock", loop.create_unix_connection(P, "/x", sock=unix))
    await attempt("unix server_hostname", loop.create_unix_connection(P, "/x", server_hostname="x"))
    await attempt("unix ssl_handshake_timeout",
                  loop.create_unix_connection(P, "/x", ssl_handshake_timeout=1.0))
    await attempt("unix ssl_shutdown_timeout",
                  loop.create_unix_connection(P, "/x", ssl_shutdown_timeout=1.0))
    await attempt("unix inet sock", loop.create_unix_connection(P, sock=stream))
    await attempt("unix missing path",
                  loop.create_unix_connection(P, "/nonexistent/casyncio/socket"))
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "s")
        server = socket.socket(socket.AF_UNIX)
        server.bind(path)
        server.listen(1)
        pair = await attempt("unix path", loop.create_unix_connection(P, path))
        pair[0].close()
        server.accept()[0].close()
        server.close()

    blocking = socket.socket()
    loop.set_debug(True)
    await attempt("sock_connect blocking (debug)", loop.sock_connect(blocking, ("127.0.0.1", 80)))
    loop.set_debug(False)
    for s in (stream, dgram, unix, taken, blocking):
        s.close()


asyncio.run(main())
