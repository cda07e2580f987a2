# Pipes: a write pipe's flow control (pause_writing past the high-water
# mark, resume_writing once the reader has drained it) and writes after the
# reader went away counted and logged from the fifth on; a read pipe paused
# and resumed; a FIFO whose writer goes away; a socketpair as a pipe.
import asyncio
import logging
import os
import socket
import tempfile

it = 0


def tick():
    global it
    it += 1
    asyncio.get_running_loop().call_soon(tick)


class Handler(logging.Handler):
    def emit(self, record):
        print("iteration", it, "log:", record.levelname, record.getMessage().splitlines()[0])


class Recorder(asyncio.Protocol):
    def __init__(self, name, lost):
        self.name = name
        self.lost = lost

    def connection_made(self, transport):
        print("iteration", it, self.name, "connection_made")

    def data_received(self, data):
        print("iteration", it, self.name, "data_received", len(data))

    def eof_received(self):
        print("iteration", it, self.name, "eof_received")

    def pause_writing(self):
        print("iteration", it, self.name, "pause_writing")

    def resume_writing(self):
        print("iteration", it, self.name, "resume_writing")

    def connection_lost(self, exc):
        print("iteration", it, self.name, "connection_lost",
              "None" if exc is None else f"{type(exc).__name__}: {exc}")
        self.lost.set_result(None)


async def main():
    loop = asyncio.get_running_loop()
    logging.getLogger("asyncio").addHandler(Handler())
    logging.getLogger("asyncio").propagate = False
    loop.call_soon(tick)
    await asyncio.sleep(0)

    r, w = os.pipe()
    lost = loop.create_future()
    t, _ = await loop.connect_write_pipe(lambda: Recorder("flow", lost),
                                         open(w, "wb", buffering=0))
    t.set_write_buffer_limits(high=4096, low=1024)
    print("iteration", it, "limits", t.get_write_buffer_limits())
    total = 0
    while t.get_write_buffer_size() == 0:
        t.write(b"x" * 1000)
        total += 1000
    t.write(b"x" * 5000)
    total += 5000
    print("iteration", it, "buffered", t.get_write_buffer_size() > 4096)
    os.set_blocking(r, False)
    got = 0
    while got < total:
        await asyncio.sleep(0)
        try:
            got += len(os.read(r, 1 << 20))
        except BlockingIOError:
            pass
    print("iteration", it, "drained", got == total, t.get_write_buffer_size())
    os.close(r)
    for _ in range(7):
        t.write(b"y")
    await lost
    for _ in range(3):
        t.write(b"z")
    print("iteration", it, "flow done")

    r, w = os.pipe()
    lost = loop.create_future()
    t, _ = await loop.connect_read_pipe(lambda: Recorder("paused", lost),
                                        open(r, "rb", buffering=0))
    t.pause_reading()
    os.write(w, b"abc")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    print("iteration", it, "resume", t.is_reading())
    t.resume_reading()
    print("iteration", it, "resumed", t.is_reading())
    await asyncio.sleep(0)
    os.close(w)
    await lost
    print("iteration", it, "paused done")

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "fifo")
        os.mkfifo(path)
        rfd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        wfd = os.open(path, os.O_WRONLY)
        lost = loop.create_future()
        t, _ = await loop.connect_read_pipe(lambda: Recorder("fifo", lost),
                                            open(rfd, "rb", buffering=0))
        os.write(wfd, b"fifo")
        await asyncio.sleep(0)
        os.close(wfd)
        print("iteration", it, "fifo writer gone")
        await lost
        print("iteration", it, "fifo done")

    a, b = socket.socketpair()
    lost_a = loop.create_future()
    lost_b = loop.create_future()
    ta, _ = await loop.connect_read_pipe(lambda: Recorder("sock read", lost_a), a)
    tb, _ = await loop.connect_write_pipe(lambda: Recorder("sock write", lost_b), b)
    tb.write(b"over a socket")
    tb.close()
    await lost_b
    await lost_a
    print("iteration", it, "sock done")


asyncio.run(main())
