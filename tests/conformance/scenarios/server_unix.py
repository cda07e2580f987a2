# A Unix server's life, by iteration, with a plain AF_UNIX client: the
# factory one iteration after accept(), connection_made() one after that,
# the peer's name '' (an unnamed client) and the socket's own name the path
# (the temporary directory printed as DIR), data echoed, the client's EOF,
# connection_lost(); close() leaves the socket file in place (3.11); a
# stale socket file is replaced by the next server; a server over a socket
# bound to an abstract name (sock=; the process id in it printed as PID).
import asyncio
import os
import socket
import tempfile

loop = asyncio.new_event_loop()
it = 0
tmp = tempfile.mkdtemp()


def tick():
    global it
    it += 1
    loop.call_soon(tick)


def section(title):
    global it
    it = 0
    print("--", title)


class Echo(asyncio.Protocol):
    def __init__(self):
        print("iteration", it, "factory")
        self.lost = loop.create_future()

    def connection_made(self, transport):
        self.transport = transport
        print("iteration", it, "connection_made peername:",
              repr(transport.get_extra_info("peername")), "sockname:",
              repr(transport.get_extra_info("sockname")).replace(tmp, "DIR")
              .replace(str(os.getpid()), "PID"))
        made.append(self)

    def data_received(self, data):
        print("iteration", it, "data_received", data)
        self.transport.write(data[::-1])

    def eof_received(self):
        print("iteration", it, "eof_received")

    def connection_lost(self, exc):
        print("iteration", it, "connection_lost", exc)
        self.lost.set_result(None)


made = []


async def until_made(n):
    while len(made) < n:
        await asyncio.sleep(0)


async def serve_one(server, address):
    section("a connection")
    c = socket.socket(socket.AF_UNIX)
    c.connect(address)
    await until_made(len(made) + 1)
    c.send(b"abc")
    for _ in range(3):
        await asyncio.sleep(0)
    print("client got:", c.recv(100))
    c.shutdown(socket.SHUT_WR)
    await made[-1].lost
    c.close()


async def main():
    path = os.path.join(tmp, "s.sock")
    server = await loop.create_unix_server(Echo, path)
    print("sockets:", len(server.sockets), "is_serving:", server.is_serving())
    await serve_one(server, path)
    server.close()
    await server.wait_closed()
    print("socket file left after close:", os.path.exists(path))

    server = await loop.create_unix_server(Echo, path)
    print("stale file replaced: is_serving:", server.is_serving())
    await serve_one(server, path)
    server.close()
    os.unlink(path)

    name = b"\0casyncio-conformance-%d" % os.getpid()
    s = socket.socket(socket.AF_UNIX)
    s.bind(name)
    server = await loop.create_unix_server(Echo, sock=s)
    print("abstract: listening on a name that starts with NUL:",
          server.sockets[0].getsockname()[:1] == b"\0")
    c = socket.socket(socket.AF_UNIX)
    c.connect(name)
    section("abstract")
    await until_made(len(made) + 1)
    c.close()
    await made[-1].lost
    server.close()
    os.rmdir(tmp)


loop.call_soon(tick)
loop.run_until_complete(main())
loop.close()
