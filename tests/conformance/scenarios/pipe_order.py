# Pipes: a read pipe's connection_made, data_received, eof_received and
# connection_lost, by iteration (a ticker counts them); a write pipe whose
# reader goes away, found by the watch on its write end; a write to a pipe
# whose reader is gone before the watch ran (BrokenPipeError to
# connection_lost, no SIGPIPE); writes after close(); a regular file refused
# with asyncio's messages.
import asyncio
import os
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

    def data_received(self, data):
        print("iteration", it, self.name, "data_received", data)

    def eof_received(self):
        print("iteration", it, self.name, "eof_received")

    def connection_lost(self, exc):
        print("iteration", it, self.name, "connection_lost",
              "None" if exc is None else f"{type(exc).__name__}: {exc}")
        self.lost.set_result(None)


async def main():
    loop = asyncio.get_running_loop()
    loop.call_soon(tick)
    await asyncio.sleep(0)

    r, w = os.pipe()
    lost = loop.create_future()
    print("iteration", it, "read start")
    t, _ = await loop.connect_read_pipe(lambda: Recorder("read", lost),
                                        open(r, "rb", buffering=0))
    print("iteration", it, "read connected", t.is_reading(), os.get_blocking(r))
    os.write(w, b"hello")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    os.close(w)
    print("iteration", it, "writer closed")
    await lost
    print("iteration", it, "read done", t.is_closing())

    r, w = os.pipe()
    lost = loop.create_future()
    print("iteration", it, "write start")
    t, _ = await loop.connect_write_pipe(lambda: Recorder("write", lost),
                                         open(w, "wb", buffering=0))
    print("iteration", it, "write connected", t.can_write_eof(), t.get_write_buffer_size())
    t.write(b"abc")
    print("iteration", it, "read back", os.read(r, 10))
    os.close(r)
    print("iteration", it, "reader closed")
    await lost
    print("iteration", it, "write done", t.is_closing())

    r, w = os.pipe()
    lost = loop.create_future()
    t, _ = await loop.connect_write_pipe(lambda: Recorder("epipe", lost),
                                         open(w, "wb", buffering=0))
    os.close(r)
    t.write(b"x")
    print("iteration", it, "epipe written", t.is_closing())
    await lost
    print("iteration", it, "epipe done")

    r, w = os.pipe()
    lost = loop.create_future()
    t, _ = await loop.connect_write_pipe(lambda: Recorder("close", lost),
                                         open(w, "wb", buffering=0))
    t.close()
    t.write(b"late")
    print("iteration", it, "closed", t.is_closing(), t.get_write_buffer_size())
    await lost
    print("iteration", it, "close done", os.read(r, 10))
    os.close(r)

    with tempfile.TemporaryFile() as f:
        for connect in (loop.connect_read_pipe, loop.connect_write_pipe):
            try:
                await connect(asyncio.Protocol, f)
            except ValueError as e:
                print("iteration", it, "ValueError:", e)


asyncio.run(main())
