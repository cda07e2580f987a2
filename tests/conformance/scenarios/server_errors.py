# create_server() and create_unix_server(): the argument errors in
# asyncio's order and with its messages, the bind error rewritten with the
# address (the ephemeral port printed as PORT), a stale Unix socket file
# replaced, a regular file refused (the temporary directory printed as
# DIR), and sock= given a socket of the wrong kind.
#
# Not for every version: create_server(ssl_shutdown_timeout=) is new in 3.11.
# versions: 3.11+
import asyncio
import os
import socket
import tempfile

loop = asyncio.new_event_loop()


class P(asyncio.Protocol):
    pass


def show(what, e, port=None, tmp=None):
    text = str(e)
    if port is not None:
        text = text.replace(str(port), "PORT")
    if tmp is not None:
        text = text.replace(tmp, "DIR")
    print(what, "->", type(e).__name__ + ":", text)


async def attempt(what, coro, port=None, tmp=None):
    try:
        server = await coro
    except Exception as e:
        show(what, e, port, tmp)
    else:
        print(what, "-> a server with", len(server.sockets), "socket(s)")
        server.close()


async def main():
    await attempt("ssl=True", loop.create_server(P, "127.0.0.1", 0, ssl=True))
    await attempt("handshake timeout", loop.create_server(P, "127.0.0.1", 0,
                                                          ssl_handshake_timeout=1))
    await attempt("shutdown timeout", loop.create_server(P, "127.0.0.1", 0,
                                                         ssl_shutdown_timeout=1))
    await attempt("nothing", loop.create_server(P))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    await attempt("host and sock", loop.create_server(P, "127.0.0.1", sock=udp))
    await attempt("port and sock", loop.create_server(P, port=0, sock=udp))
    try:
        await loop.create_server(P, sock=udp)
    except ValueError as e:
        print("datagram sock -> ValueError:", str(e).split(" fd=")[0])
    udp.close()

    first = await loop.create_server(P, "127.0.0.1", 0)
    port = first.sockets[0].getsockname()[1]
    await attempt("port in use", loop.create_server(P, "127.0.0.1", port), port=port)
    await attempt("port in use, reuse_port", loop.create_server(
        P, "127.0.0.1", port, reuse_address=False, reuse_port=True), port=port)
    first.close()
    await attempt("two hosts, one address", loop.create_server(
        P, ["127.0.0.1", "127.0.0.1"], 0))

    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "s.sock")
    await attempt("unix: ssl=True", loop.create_unix_server(P, path, ssl=True))
    await attempt("unix: handshake timeout", loop.create_unix_server(
        P, path, ssl_handshake_timeout=1))
    await attempt("unix: shutdown timeout", loop.create_unix_server(
        P, path, ssl_shutdown_timeout=1))
    await attempt("unix: nothing", loop.create_unix_server(P))
    tcp = socket.socket()
    await attempt("unix: path and sock", loop.create_unix_server(P, path, sock=tcp))
    try:
        await loop.create_unix_server(P, sock=tcp)
    except ValueError as e:
        print("unix: tcp sock -> ValueError:", str(e).split(" fd=")[0])
    tcp.close()
    await attempt("unix: empty path", loop.create_unix_server(P, ""))
    await attempt("unix: no directory", loop.create_unix_server(
        P, os.path.join(tmp, "no", "s.sock")), tmp=tmp)
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()
    await attempt("unix: stale socket file", loop.create_unix_server(P, path))
    print("file left after close:", os.path.exists(path))
    os.unlink(path)
    with open(path, "w"):
        pass
    await attempt("unix: regular file", loop.create_unix_server(P, path), tmp=tmp)
    print("regular file left alone:", os.path.isfile(path))
    os.unlink(path)
    os.rmdir(tmp)


loop.run_until_complete(main())
loop.close()
