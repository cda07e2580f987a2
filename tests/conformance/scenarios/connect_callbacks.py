# loop.create_connection() to a plain listening socket on 127.0.0.1: the
# iterations in which connection_made(), the awaiting task's wakeup, the
# data, eof_received() and connection_lost() come, counted by a ticker;
# then a refused connection (a socket bound but not listening), whose
# OSError comes back in the iteration after the refusal is seen, and
# sock_connect() succeeding and refused. Ports are printed as PORT.
import asyncio
import socket

it = 0


def tick():
    global it
    it += 1
    asyncio.get_running_loop().call_soon(tick)


def hide(text, port):
    return str(text).replace(str(port), "PORT")


class Recorder(asyncio.Protocol):
    def __init__(self, lost):
        self.lost = lost

    def connection_made(self, transport):
        print("iteration", it, "connection_made")

    def data_received(self, data):
        print("iteration", it, "data_received", data)

    def eof_received(self):
        print("iteration", it, "eof_received")

    def connection_lost(self, exc):
        print("iteration", it, "connection_lost", exc)
        self.lost.set_result(None)


async def main():
    loop = asyncio.get_running_loop()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    port = listener.getsockname()[1]
    loop.call_soon(tick)
    await asyncio.sleep(0)
    print("iteration", it, "create_connection")
    lost = loop.create_future()
    transport, protocol = await loop.create_connection(
        lambda: Recorder(lost), "127.0.0.1", port)
    print("iteration", it, "connected", type(protocol).__name__)
    peer, _ = listener.accept()
    peer.sendall(b"hello")
    peer.close()
    await lost
    print("iteration", it, "lost awaited")

    refusing = socket.socket()
    refusing.bind(("127.0.0.1", 0))
    rport = refusing.getsockname()[1]
    print("iteration", it, "create_connection refused")
    try:
        await loop.create_connection(asyncio.Protocol, "127.0.0.1", rport)
    except OSError as e:
        print("iteration", it, type(e).__name__, hide(e, rport), e.errno)

    sock = socket.socket()
    sock.setblocking(False)
    print("iteration", it, "sock_connect")
    result = await loop.sock_connect(sock, ("127.0.0.1", port))
    print("iteration", it, "sock_connect ->", result)
    listener.accept()[0].close()
    sock.close()
    sock = socket.socket()
    sock.setblocking(False)
    print("iteration", it, "sock_connect refused")
    try:
        await loop.sock_connect(sock, ("127.0.0.1", rport))
    except OSError as e:
        print("iteration", it, type(e).__name__, hide(e, rport), e.errno)
    sock.close()
    refusing.close()
    listener.close()


asyncio.run(main())
