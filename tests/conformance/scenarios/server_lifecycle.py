# A TCP server's life, by iteration, with plain-socket clients:
#   - create_server() on 127.0.0.1 port 0: serving, one socket;
#   - an accepted connection: the factory one iteration after accept(),
#     connection_made() one after that, then data, the client's EOF
#     (eof_received() returning None closes it) and connection_lost();
#   - wait_closed() (3.11.7): pending on an open server; close() stops
#     listening and empties sockets but leaves the connection open, so the
#     waiter ends only when the last connection is lost; a wait_closed()
#     on a closed server returns at once;
#   - start_serving=False: not serving (a client is refused) until
#     start_serving() (the iterations it and create_server() take are not
#     printed: asyncio's coroutines take more than casyncio's futures);
#     serve_forever(): the "already being awaited" and
#     "is closed" errors; cancelling it closes the server in the next
#     iteration.
#
# Not for every version: on 3.12 and 3.13 the script never ends (killed after 10 s), so it has no trace there.
# versions: 3.8-3.11
import asyncio
import socket

loop = asyncio.new_event_loop()
it = 0


def tick():
    global it
    it += 1
    loop.call_soon(tick)


def section(title):
    global it
    it = 0
    print("--", title)


class Proto(asyncio.Protocol):
    def __init__(self, name):
        self.name = name
        self.lost = loop.create_future()

    def say(self, *what):
        print("iteration", it, self.name, *what)

    def connection_made(self, transport):
        self.transport = transport
        self.say("connection_made")

    def data_received(self, data):
        self.say("data_received", data)
        self.transport.write(data.upper())

    def eof_received(self):
        self.say("eof_received")

    def connection_lost(self, exc):
        self.say("connection_lost", exc)
        self.lost.set_result(None)


protos = []


def factory():
    name = f"p{len(protos) + 1}"
    print("iteration", it, "factory", name)
    p = Proto(name)
    protos.append(p)
    return p


def connect(server):
    port = server.sockets[0].getsockname()[1]
    c = socket.socket()
    c.connect(("127.0.0.1", port))
    return c


async def until(cond):
    for _ in range(100):
        if cond():
            return
        await asyncio.sleep(0)
    print("timed out")


async def main():
    section("create_server")
    server = await loop.create_server(factory, "127.0.0.1", 0)
    print("is_serving:", server.is_serving(), "sockets:", len(server.sockets),
          "loop:", server.get_loop() is loop)

    section("a connection")
    c1 = connect(server)
    await until(lambda: len(protos) == 1 and hasattr(protos[0], "transport"))
    c1.send(b"hello")
    for _ in range(3):
        await asyncio.sleep(0)
    print("client got:", c1.recv(100))
    c1.shutdown(socket.SHUT_WR)
    await protos[0].lost
    print("client reads EOF:", c1.recv(100))
    c1.close()

    section("wait_closed")
    c2 = connect(server)
    await until(lambda: len(protos) == 2 and hasattr(protos[1], "transport"))
    waiter = loop.create_task(server.wait_closed())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    print("iteration", it, "waiter done:", waiter.done())
    server.close()
    server.close()
    print("iteration", it, "closed: is_serving:", server.is_serving(), "sockets:",
          server.sockets, repr(server))
    await server.wait_closed()
    print("iteration", it, "wait_closed on a closed server returned")
    for _ in range(3):
        await asyncio.sleep(0)
    print("iteration", it, "waiter done with a connection open:", waiter.done())
    c2.close()
    await protos[1].lost
    await until(waiter.done)
    print("waiter done after the last connection:", waiter.done())

    server = await loop.create_server(factory, "127.0.0.1", 0, start_serving=False)
    section("start_serving=False")
    print("is_serving:", server.is_serving())
    try:
        connect(server)
    except OSError as e:
        print("client:", type(e).__name__)
    await server.start_serving()
    print("after start_serving: is_serving:", server.is_serving())
    section("a connection to it")
    c3 = connect(server)
    await until(lambda: len(protos) == 3 and hasattr(protos[2], "transport"))

    section("serve_forever")
    forever = loop.create_task(server.serve_forever())
    await asyncio.sleep(0)
    try:
        await server.serve_forever()
    except RuntimeError as e:
        print("RuntimeError:", str(e).replace(repr(server), "<Server ...>"))
    forever.cancel()
    print("iteration", it, "cancelled: is_serving:", server.is_serving())
    await asyncio.sleep(0)
    print("iteration", it, "is_serving:", server.is_serving(), "sockets:", server.sockets,
          "done:", forever.done())
    await asyncio.sleep(0)
    print("iteration", it, "forever cancelled:", forever.cancelled())
    try:
        await server.serve_forever()
    except RuntimeError as e:
        print("RuntimeError:", e)
    print("connection still open:", not protos[2].transport.is_closing())
    c3.close()
    await protos[2].lost


loop.call_soon(tick)
loop.run_until_complete(main())
loop.close()
