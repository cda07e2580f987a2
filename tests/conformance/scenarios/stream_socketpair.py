# StreamReader and StreamWriter over both ends of a socketpair, each made
# a stream the way open_connection() makes one (StreamReader,
# StreamReaderProtocol, loop.connect_accepted_socket(), StreamWriter):
#   - write/writelines/readline/readexactly across; write_eof() gives the
#     peer's reader EOF while the transport stays open (eof_received()
#     keeps it);
#   - drain() with the peer not reading: the writer pauses above the high
#     water mark and drain() waits until the peer reads;
#   - close() then drain(): one pass of the loop, then ConnectionResetError
#     ('Connection lost'); wait_closed(); the peer reads EOF;
#   - writing to a peer that went away: drain() reports the lost connection;
#   - a reset: the reader's read() raises it, so do drain() and
#     wait_closed();
#   - a client_connected_cb protocol (a server's) echoing lines, and one
#     whose callback fails: the handler's message, the transport closed.
#
# Not for every version: on 3.8 to 3.10 the script never ends (killed after 10 s), so it has no trace there.
# versions: 3.11+
import asyncio
import socket


def raised(what, e):
    print(what, f"{type(e).__name__}: {e}")


async def stream(sock, limit=2**16, cb=None):
    loop = asyncio.get_running_loop()
    r = asyncio.StreamReader(limit=limit, loop=loop)
    p = asyncio.StreamReaderProtocol(r, cb, loop=loop)
    t, _ = await loop.connect_accepted_socket(lambda: p, sock)
    return r, asyncio.StreamWriter(t, p, r, loop)


async def pair():
    a, b = socket.socketpair()
    return await stream(a), await stream(b)


async def main():
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda l, c: print(
        "handler:", c["message"], "|", type(c.get("exception")).__name__,
        "| transport" if "transport" in c else ""))

    (r1, w1), (r2, w2) = await pair()
    print("can_write_eof", w1.can_write_eof(), "is_closing", w1.is_closing())
    print("socket", w1.get_extra_info("socket") is not None,
          "nothing", w1.get_extra_info("nothing", "dflt"))
    print("transport", w1.transport is w1.get_extra_info("socket") or type(w1.transport).__name__)
    w1.write(b"line one\n")
    w1.writelines([b"line ", b"two\n", b"tail"])
    await w1.drain()
    print("readline", await r2.readline())
    print("readline", await r2.readline())
    print("readexactly", await r2.readexactly(4))
    w1.write_eof()
    print("read at eof", await r2.read())
    print("at_eof", r2.at_eof(), "w1 closing", w1.is_closing())
    w2.write(b"still open\n")
    await w2.drain()
    print("back", await r1.readline())
    w2.close()
    await w2.wait_closed()
    print("w2 closed", w2.is_closing(), "r1 read", await r1.read())
    w1.close()
    await w1.wait_closed()

    # Flow control: the peer does not read, then reads.
    (r1, w1), (r2, w2) = await pair()
    w1.transport.set_write_buffer_limits(high=4096)
    chunk = bytes(range(256)) * 256
    total = 0
    while w1.transport.get_write_buffer_size() <= 1 << 20:
        w1.write(chunk)
        total += len(chunk)
    print("buffered", w1.transport.get_write_buffer_size() > 1 << 20)
    drained = asyncio.create_task(w1.drain())
    await asyncio.sleep(0.01)
    print("drain waits", not drained.done())
    got = 0
    while not drained.done() or got < total:
        data = await r2.read(65536)
        got += len(data)
        if got >= total:
            break
    await drained
    print("drained, peer got all", got == total)

    # close() then drain(): one pass of the loop, then the lost connection.
    w1.close()
    try:
        await w1.drain()
    except ConnectionResetError as e:
        raised("drain after close", e)
    await w1.wait_closed()
    print("peer reads", await r2.read(), r2.at_eof())
    # Writing to a peer that went away.
    w2.write(b"x")
    try:
        await w2.drain()
    except ConnectionError as e:
        raised("drain to a closed peer", e)
    try:
        await w2.wait_closed()
        print("wait_closed ok")
    except ConnectionError as e:
        raised("wait_closed", e)

    # A reset: unread data at the peer (not reading) when it aborts.
    (r1, w1), (r2, w2) = await pair()
    w2.transport.pause_reading()
    w1.write(b"unread")
    await w1.drain()
    await asyncio.sleep(0.01)
    w2.transport.abort()
    await w2.wait_closed()
    try:
        await r1.read(1)
    except ConnectionError as e:
        raised("read", e)
    try:
        await w1.drain()
    except ConnectionError as e:
        raised("drain", e)
    try:
        await w1.wait_closed()
    except ConnectionError as e:
        raised("wait_closed", e)
    print("w1 closing", w1.is_closing())

    # A server-side protocol: client_connected_cb runs as a task.
    done = loop.create_future()

    async def echo(reader, writer):
        while line := await reader.readline():
            writer.write(line.upper())
            await writer.drain()
        writer.close()
        await writer.wait_closed()
        done.set_result("echo done")

    a, b = socket.socketpair()
    server_side = await stream(a, cb=echo)
    rc, wc = await stream(b)
    for word in (b"alpha\n", b"beta\n"):
        wc.write(word)
        print("echo", await rc.readline())
    wc.write_eof()
    print(await done)
    print("client reads", await rc.read())
    wc.close()
    await wc.wait_closed()

    async def failing(reader, writer):
        await reader.readline()
        raise RuntimeError("boom")

    a, b = socket.socketpair()
    server_side = await stream(a, cb=failing)
    rc, wc = await stream(b)
    wc.write(b"hi\n")
    print("client reads", await rc.read())
    wc.close()
    await wc.wait_closed()
    server_side[1].close()


asyncio.run(main())
