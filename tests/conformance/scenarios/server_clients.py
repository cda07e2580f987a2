# The connections a TCP server accepted, as 3.13 treats them:
#   - close_clients() closes every connection still attached (one the
#     client ended before is gone from the set); connection_lost() comes
#     one iteration later; the server goes on serving;
#   - abort_clients() ends a connection whose write buffer is full at once,
#     where close_clients() waits for the buffer to drain;
#   - close() then wait_closed() (3.12.1+): the waiter waits for the
#     connections, even when called after close(); close_clients() ends it;
#   - serve_forever() cancelled: close(), then wait_closed(), which waits
#     for the connections; close_clients() lets the cancellation finish.
# Several connections lost in one iteration are printed sorted (the
# server's set is a WeakSet, its order not asyncio's promise).
# Not for every version: Server.close_clients() and abort_clients() are
# new in 3.13.
# versions: 3.13+
import asyncio
import socket

loop = asyncio.new_event_loop()
it = 0
lost = []


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
        self.transport = None
        self.lost = loop.create_future()

    def connection_made(self, transport):
        self.transport = transport

    def connection_lost(self, exc):
        lost.append(f"iteration {it} {self.name} connection_lost {exc}")
        self.lost.set_result(None)


protos = []


def factory():
    p = Proto(f"p{len(protos) + 1}")
    protos.append(p)
    return p


def connect(port):
    c = socket.socket()
    c.connect(("127.0.0.1", port))
    return c


async def until(cond):
    for _ in range(100):
        if cond():
            return
        await asyncio.sleep(0)
    print("timed out")


def made(n):
    return lambda: len(protos) == n and protos[n - 1].transport is not None


async def sleeps(n):
    for _ in range(n):
        await asyncio.sleep(0)


def flush_lost():
    for line in sorted(lost):
        print(line)
    lost.clear()


def reads_eof(c):
    c.setblocking(False)
    try:
        return c.recv(100) == b""
    except ConnectionResetError:
        return True


async def main():
    server = await loop.create_server(factory, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    c1, c2, c3 = connect(port), connect(port), connect(port)
    await until(made(3))
    section("close_clients")
    c1.close()
    await protos[0].lost
    flush_lost()
    server.close_clients()
    print("iteration", it, "close_clients returned; closing:",
          [p.transport.is_closing() for p in protos[1:]])
    await sleeps(2)
    flush_lost()
    print("clients read EOF:", reads_eof(c2), reads_eof(c3))
    print("is_serving:", server.is_serving())
    server.close_clients()
    print("close_clients with none left: ok")
    c2.close()
    c3.close()

    c4 = connect(port)
    await until(made(4))
    section("abort_clients")
    t4 = protos[3].transport
    t4.write(b"x" * (16 << 20))
    await asyncio.sleep(0)
    print("buffered:", t4.get_write_buffer_size() > 0)
    server.close_clients()
    await sleeps(3)
    print("iteration", it, "after close_clients, lost:", protos[3].lost.done())
    server.abort_clients()
    await sleeps(2)
    flush_lost()
    c4.close()

    c5 = connect(port)
    await until(made(5))
    section("close, wait_closed")
    server.close()
    waiter = loop.create_task(server.wait_closed())
    await sleeps(3)
    print("iteration", it, "waiter done with a connection open:", waiter.done())
    server.close_clients()
    await until(waiter.done)
    flush_lost()
    print("iteration", it, "waiter done:", waiter.done())
    await server.wait_closed()
    print("wait_closed again returned at once")
    c5.close()

    server = await loop.create_server(factory, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    c6 = connect(port)
    await until(made(6))
    forever = loop.create_task(server.serve_forever())
    await asyncio.sleep(0)
    section("serve_forever cancelled")
    forever.cancel()
    await sleeps(3)
    print("iteration", it, "is_serving:", server.is_serving(), "forever done:", forever.done())
    server.close_clients()
    await until(forever.done)
    flush_lost()
    print("iteration", it, "forever cancelled:", forever.cancelled())
    c6.close()


loop.call_soon(tick)
loop.run_until_complete(main())
loop.close()
