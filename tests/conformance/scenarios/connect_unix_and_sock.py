# create_unix_connection() to a listening Unix socket in a temporary
# directory, and create_connection(sock=) and create_unix_connection(sock=)
# with sockets connected already: the iterations of connection_made(), the
# awaiting task's wakeup and connection_lost() after close(), counted by a
# ticker; then a Unix path nobody listens on (the socket file exists):
# ConnectionRefusedError from connect() itself.
import asyncio
import os
import socket
import tempfile

it = 0


def tick():
    global it
    it += 1
    asyncio.get_running_loop().call_soon(tick)


class Recorder(asyncio.Protocol):
    def __init__(self, name, lost):
        self.name = name
        self.lost = lost

    def connection_made(self, transport):
        print("iteration", it, self.name, "connection_made")

    def connection_lost(self, exc):
        print("iteration", it, self.name, "connection_lost", exc)
        self.lost.set_result(None)


async def run(name, make):
    loop = asyncio.get_running_loop()
    lost = loop.create_future()
    print("iteration", it, name, "start")
    transport, protocol = await make(lambda: Recorder(name, lost))
    print("iteration", it, name, "connected")
    transport.close()
    await lost
    print("iteration", it, name, "done")


async def main():
    loop = asyncio.get_running_loop()
    loop.call_soon(tick)
    await asyncio.sleep(0)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "s")
        server = socket.socket(socket.AF_UNIX)
        server.bind(path)
        server.listen(5)
        await run("unix path", lambda f: loop.create_unix_connection(f, path))
        server.accept()[0].close()

        a = socket.socket(socket.AF_UNIX)
        a.connect(path)
        await run("unix sock", lambda f: loop.create_unix_connection(f, sock=a))
        server.accept()[0].close()

        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        b = socket.socket()
        b.connect(listener.getsockname())
        await run("tcp sock", lambda f: loop.create_connection(f, sock=b))
        listener.accept()[0].close()
        listener.close()

        server.close()
        print("iteration", it, "refused path")
        try:
            await loop.create_unix_connection(asyncio.Protocol, path)
        except OSError as e:
            print("iteration", it, type(e).__name__, e)


asyncio.run(main())
