# create_datagram_endpoint() on 127.0.0.1: an echoing server endpoint and a
# connected client. The iterations in which connection_made(), the
# awaiting task's wakeup, datagram_received() and connection_lost() come,
# counted by a ticker; sendto()'s checks (b'' sends nothing, another
# address than the connected one is refused); error_received() with
# ECONNREFUSED on a connected socket whose peer port is closed, the
# transport staying open; the argument errors. Ports are printed as PORT.
import asyncio
import socket

it = 0


def tick():
    global it
    it += 1
    asyncio.get_running_loop().call_soon(tick)


def hide(text, port):
    return str(text).replace(str(port), "PORT")


class Recorder(asyncio.DatagramProtocol):
    def __init__(self, name, done, echo=False):
        self.name = name
        self.done = done
        self.echo = echo
        self.peer = None

    def connection_made(self, transport):
        self.transport = transport
        print("iteration", it, self.name, "connection_made")

    def datagram_received(self, data, addr):
        print("iteration", it, self.name, "datagram_received", data, addr == self.peer)
        if self.echo:
            self.transport.sendto(data.upper(), addr)
        elif not self.done.done():
            self.done.set_result(None)

    def error_received(self, exc):
        print("iteration", it, self.name, "error_received", type(exc).__name__, exc.errno)
        if not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc):
        print("iteration", it, self.name, "connection_lost", exc)


async def main():
    loop = asyncio.get_running_loop()
    loop.call_soon(tick)
    await asyncio.sleep(0)
    got = loop.create_future()
    print("iteration", it, "server endpoint")
    st, sp = await loop.create_datagram_endpoint(
        lambda: Recorder("server", None, echo=True), local_addr=("127.0.0.1", 0))
    port = st.get_extra_info("sockname")[1]
    print("iteration", it, "server ready", st.get_extra_info("peername"))
    ct, cp = await loop.create_datagram_endpoint(
        lambda: Recorder("client", got), remote_addr=("127.0.0.1", port))
    print("iteration", it, "client ready", hide(ct.get_extra_info("peername"), port))
    sp.peer = ct.get_extra_info("sockname")
    cp.peer = ("127.0.0.1", port)
    ct.sendto(b"")
    ct.sendto(b"ping")
    try:
        ct.sendto(b"x", ("127.0.0.1", port + 1))
    except ValueError as e:
        print("iteration", it, "ValueError", hide(e, port))
    await got
    print("iteration", it, "echo awaited", ct.get_write_buffer_size())
    ct.close()
    print("iteration", it, "client closing", ct.is_closing())
    st.close()
    await asyncio.sleep(0)
    await asyncio.sleep(0)

    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.bind(("127.0.0.1", 0))
    cport = closed.getsockname()[1]
    closed.close()
    refused = loop.create_future()
    rt, rp = await loop.create_datagram_endpoint(
        lambda: Recorder("refused", refused), remote_addr=("127.0.0.1", cport))
    rt.sendto(b"?")
    await refused
    print("iteration", it, "after error", rt.is_closing())
    rt.close()
    await asyncio.sleep(0)

    for kwargs in ({}, {"reuse_address": True}, {"family": socket.AF_UNIX, "local_addr": ("a", 1)},
                   {"remote_addr": "/x"}):
        try:
            await loop.create_datagram_endpoint(asyncio.DatagramProtocol, **kwargs)
        except (TypeError, ValueError) as e:
            print(type(e).__name__, e)


asyncio.run(main())
