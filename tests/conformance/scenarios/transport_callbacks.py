# The socket transport's callbacks, in order and by iteration, over
# connect_accepted_socket() on one end of a socketpair whose other end the
# script drives with plain send()/shutdown()/close():
#   - connection_made comes one iteration after the call, the future's
#     result after it; data, then the peer's EOF: eof_received() returning
#     a false value closes the transport (connection_lost(None));
#   - eof_received() returning True keeps it open for writing; write_eof()
#     and close() then end it;
#   - a write the socket cannot take at once is buffered, pause_writing()
#     comes when the buffer passes the high water mark and resume_writing()
#     when the peer has drained it to the low one (these two print no
#     iteration: how much the kernel takes at a time varies);
#   - a BufferedProtocol gets get_buffer(-1)/buffer_updated(n) instead of
#     data_received();
#   - a peer that resets the connection gives connection_lost() an OSError;
#   - an exception in data_received() is a fatal error: the handler's
#     message, then connection_lost() with it.
import asyncio
import logging
import socket
import struct

loop = asyncio.new_event_loop()
it = 0


def tick():
    global it
    it += 1
    loop.call_soon(tick)


def handler(loop_, context):
    exc = context.get("exception")
    print("iteration", it, "handler:", context["message"], "|",
          type(exc).__name__ if exc else None,
          "| protocol" if "protocol" in context else "",
          "| transport" if "transport" in context else "")


loop.set_exception_handler(handler)


class Recorder(asyncio.Protocol):
    def __init__(self, name, eof_result=None, fail_on_data=False):
        self.name = name
        self.eof_result = eof_result
        self.fail_on_data = fail_on_data
        self.transport = None
        self.lost = loop.create_future()

    def say(self, *what):
        print("iteration", it, self.name, *what)

    def connection_made(self, transport):
        self.transport = transport
        self.say("connection_made", transport.get_extra_info("peername") == "")

    def data_received(self, data):
        self.say("data_received", data)
        if self.fail_on_data:
            raise ValueError("bad data")

    def eof_received(self):
        self.say("eof_received ->", self.eof_result)
        return self.eof_result

    # How much the kernel takes at a time varies: these say no iteration.
    def pause_writing(self):
        print(self.name, "pause_writing, above high:",
              self.transport.get_write_buffer_size() > 16384)

    def resume_writing(self):
        print(self.name, "resume_writing, at or below low:",
              self.transport.get_write_buffer_size() <= 1024)

    def connection_lost(self, exc):
        self.say("connection_lost", exc_line(exc))
        self.lost.set_result(None)


class Buffered(asyncio.BufferedProtocol):
    def __init__(self, name):
        self.name = name
        self.buf = bytearray(4)
        self.got = b""
        self.lost = loop.create_future()

    def say(self, *what):
        print("iteration", it, self.name, *what)

    def connection_made(self, transport):
        self.say("connection_made")

    def get_buffer(self, sizehint):
        self.say("get_buffer", sizehint)
        return self.buf

    def buffer_updated(self, nbytes):
        self.got += bytes(self.buf[:nbytes])
        self.say("buffer_updated", nbytes, bytes(self.buf[:nbytes]))

    def eof_received(self):
        self.say("eof_received, got", self.got)

    def connection_lost(self, exc):
        self.say("connection_lost", exc_line(exc))
        self.lost.set_result(None)


def section(title):
    """Iterations count from 0 again in each section."""
    global it
    it = 0
    print("--", title)


def exc_line(exc):
    return None if exc is None else f"{type(exc).__name__}: {exc}"


def pair():
    a, b = socket.socketpair()
    b.setblocking(False)
    return a, b


async def accept(proto, sock):
    start = it
    transport, got = await loop.connect_accepted_socket(lambda: proto, sock)
    print("iteration", it, "result after", it - start, "iterations, same protocol:", got is proto)
    return transport


async def main():
    section("eof_received returns None")
    a, peer = pair()
    p = Recorder("p1")
    t = await accept(p, a)
    peer.send(b"hello")
    peer.shutdown(socket.SHUT_WR)
    await p.lost
    print("is_closing:", t.is_closing())
    peer.close()

    section("eof_received returns True")
    a, peer = pair()
    p = Recorder("p2", eof_result=True)
    t = await accept(p, a)
    peer.shutdown(socket.SHUT_WR)
    for _ in range(3):
        await asyncio.sleep(0)
    print("is_closing after eof:", t.is_closing(), "can_write_eof:", t.can_write_eof())
    t.write(b"reply")
    t.write_eof()
    for _ in range(2):
        await asyncio.sleep(0)
    print("peer got:", peer.recv(100), peer.recv(100))
    t.close()
    await p.lost
    peer.close()

    section("flow control")
    a, peer = pair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    p = Recorder("p3")
    t = await accept(p, a)
    t.set_write_buffer_limits(high=16384, low=1024)
    print("limits:", t.get_write_buffer_limits())
    chunk = b"x" * 8192
    for _ in range(64):
        t.write(chunk)
        if p.transport.get_write_buffer_size() > 16384:
            break
    total = 0
    while True:
        await asyncio.sleep(0)
        try:
            data = peer.recv(1 << 20)
        except BlockingIOError:
            data = b""
        total += len(data)
        if t.get_write_buffer_size() == 0 and not data:
            break
    print("peer drained everything:", total % 8192 == 0 and total > 16384)
    section("close after the drain")
    t.close()
    await p.lost
    peer.close()

    section("BufferedProtocol")
    a, peer = pair()
    p = Buffered("p4")
    await accept(p, a)
    peer.send(b"0123456789")
    peer.shutdown(socket.SHUT_WR)
    await p.lost
    peer.close()

    section("peer resets")
    a, peer = pair()
    p = Recorder("p5")
    t = await accept(p, a)
    t.write(b"unread")
    lingering = socket.socket(fileno=peer.detach())
    lingering.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    lingering.close()
    for _ in range(3):
        t.write(b"more")
        await asyncio.sleep(0)
    await p.lost
    section("data_received raises")
    a, peer = pair()
    p = Recorder("p6", fail_on_data=True)
    await accept(p, a)
    peer.send(b"boom")
    await p.lost
    peer.close()


loop.call_soon(tick)
loop.run_until_complete(main())
loop.close()
