# The loop iterations servers and connections take, counted by a ticker
# that calls itself with call_soon(): create_server() with a numeric host,
# a list of hosts, sock= (each with start_serving True, and False followed
# by start_serving() or by a serve_forever() task), create_unix_server()
# with a path and with sock=; against each, create_connection() to a
# numeric host or create_unix_connection() to the path: when the server's
# and the client's connection_made() run (and which first), when the
# connecting task resumes, when the data crosses and when the connection
# is lost on both sides. Last, names: create_server() with host None and
# create_connection() to "localhost", whose lookups take as long as
# asyncio's thread takes: only the iterations after the client's
# connection_made() are printed, counted from it.
import asyncio
import os
import socket
import tempfile

it = 0


def tick():
    global it
    it += 1
    asyncio.get_running_loop().call_soon(tick)


relative = None  # a list of (iteration, words) while counting from the client


def say(*words):
    if relative is None:
        print("iteration", it, *words)
    else:
        relative.append((it, words))


class Side(asyncio.Protocol):
    def __init__(self, name, lost):
        self.name = name
        self.lost = lost

    def connection_made(self, transport):
        say(self.name, "connection_made")
        self.transport = transport
        if self.name == "client":
            transport.write(b"ping")

    def data_received(self, data):
        say(self.name, "data_received", data.decode())
        if self.name == "server":
            self.transport.write(data)
            self.transport.close()

    def connection_lost(self, exc):
        say(self.name, "connection_lost", exc)
        self.lost.set_result(None)


async def session(server, connect):
    """One client against `server`, to the end of both sides."""
    loop = asyncio.get_running_loop()
    server_lost = loop.create_future()
    client_lost = loop.create_future()
    pending["server lost"] = server_lost
    say("connect")
    transport, _ = await connect(lambda: Side("client", client_lost))
    say("connected")
    await client_lost
    await server_lost
    say("both lost")
    transport.close()


pending = {}


def factory():
    """The servers' protocol factory: the side of the current session."""
    return Side("server", pending["server lost"])


async def serve(name, make, connect, then=None):
    say(name, "start")
    server = await make()
    say(name, "created, serving", server.is_serving(), "sockets", len(server.sockets))
    task = None
    if then == "start_serving":
        await server.start_serving()
        say(name, "start_serving() returned, serving", server.is_serving())
    elif then == "serve_forever":
        task = asyncio.create_task(server.serve_forever())
        await asyncio.sleep(0)
        say(name, "serve_forever task started, serving", server.is_serving())
    await session(server, lambda f: connect(server, f))
    server.close()
    await server.wait_closed()
    say(name, "closed")
    if task is not None:
        try:
            await task
        except asyncio.CancelledError:
            say(name, "serve_forever cancelled")


def tcp_connect(server, f):
    port = server.sockets[0].getsockname()[1]
    return asyncio.get_running_loop().create_connection(f, "127.0.0.1", port)


async def by_name():
    global relative
    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, None, 0)
    port = next(s.getsockname()[1] for s in server.sockets if s.family == socket.AF_INET)
    relative = []
    await session(server, lambda f: loop.create_connection(f, "localhost", port))
    server.close()
    await server.wait_closed()
    say("closed")
    lines, relative = relative, None
    base = next(i for i, words in lines if words == ("client", "connection_made"))
    for i, words in lines:
        if i >= base:
            print("names: iteration +%d" % (i - base), *words)


async def main():
    loop = asyncio.get_running_loop()
    loop.call_soon(tick)
    await asyncio.sleep(0)

    await serve("host", lambda: loop.create_server(factory, "127.0.0.1", 0),
                tcp_connect)
    await serve("hosts", lambda: loop.create_server(factory, ["127.0.0.1", "127.0.0.1"], 0),
                tcp_connect)
    await serve("host, start_serving=False then start_serving()",
                lambda: loop.create_server(factory, "127.0.0.1", 0, start_serving=False),
                tcp_connect, "start_serving")
    await serve("host, start_serving=False then serve_forever()",
                lambda: loop.create_server(factory, "127.0.0.1", 0, start_serving=False),
                tcp_connect, "serve_forever")

    def tcp_sock():
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        return s

    await serve("sock", lambda: loop.create_server(factory, sock=tcp_sock()), tcp_connect)
    await serve("sock, start_serving=False then start_serving()",
                lambda: loop.create_server(factory, sock=tcp_sock(), start_serving=False),
                tcp_connect, "start_serving")

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "s")

        def unix_connect(server, f):
            return loop.create_unix_connection(f, path)

        await serve("unix path", lambda: loop.create_unix_server(factory, path), unix_connect)

        def unix_sock():
            os.unlink(path)
            s = socket.socket(socket.AF_UNIX)
            s.bind(path)
            return s

        await serve("unix sock", lambda: loop.create_unix_server(factory, sock=unix_sock()),
                    unix_connect)
        await serve("unix path, start_serving=False then serve_forever()",
                    lambda: loop.create_unix_server(factory, path, start_serving=False),
                    unix_connect, "serve_forever")

    await by_name()


asyncio.run(main())
