# loop.sock_sendfile() and loop.sendfile(): sendfile(2) from a regular file
# (the bytes sent, the file position afterwards, offset and count), the
# fallback for a file sendfile(2) refuses (/proc/self/cmdline: its size
# says 0, so count is given), SendfileNotAvailableError without fallback,
# the argument checks and their messages; over a transport: the data it
# had buffered goes first, write() is refused and reading paused meanwhile,
# both back afterwards, and a closing transport is refused.
import asyncio
import socket
import tempfile

loop = asyncio.new_event_loop()


def error(what, e):
    print(what + ":", type(e).__name__ + ":", e)


def pattern(n):
    return bytes((i * 131 + (i >> 11)) & 0xFF for i in range(n))


async def read_all(sock, n):
    got = bytearray()
    while len(got) < n:
        await asyncio.sleep(0)
        try:
            got += sock.recv(1 << 20)
        except BlockingIOError:
            pass
    return bytes(got)


async def main():
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    size = 3 << 20
    data = pattern(size)
    f = tempfile.TemporaryFile()
    f.write(data)
    f.seek(0)

    task = asyncio.ensure_future(loop.sock_sendfile(a, f))
    got = await read_all(b, size)
    print("sock_sendfile:", await task, got == data, f.tell())
    task = asyncio.ensure_future(loop.sock_sendfile(a, f, 1000, 5000))
    got = await read_all(b, 5000)
    print("offset, count:", await task, got == data[1000:6000], f.tell())
    print("past the end:", await loop.sock_sendfile(a, f, size - 10, 100), f.tell())
    await read_all(b, 10)
    empty = tempfile.TemporaryFile()
    print("empty file:", await loop.sock_sendfile(a, empty), empty.tell())

    for kw in [dict(count=0), dict(count=-1), dict(offset=-1)]:
        try:
            await loop.sock_sendfile(a, f, **kw)
        except Exception as e:
            error("sock_sendfile " + ", ".join(f"{k}={v}" for k, v in kw.items()), e)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setblocking(False)
    try:
        await loop.sock_sendfile(udp, f)
    except Exception as e:
        error("sock_sendfile on a datagram socket", e)
    udp.close()

    proc = open("/proc/self/cmdline", "rb")
    cmdline = proc.read()
    proc.seek(0)
    try:
        await loop.sock_sendfile(a, proc, count=len(cmdline), fallback=False)
    except Exception as e:
        error("no fallback", e)
    task = asyncio.ensure_future(loop.sock_sendfile(a, proc, count=len(cmdline)))
    got = await read_all(b, len(cmdline))
    print("fallback:", await task == len(cmdline), got == cmdline, proc.tell() == len(cmdline))

    s1, s2 = socket.socketpair()
    s2.setblocking(False)
    transport, protocol = await loop.connect_accepted_socket(asyncio.Protocol, s1)
    before = b"H" * (2 << 20)
    transport.write(before)
    print("buffered before:", transport.get_write_buffer_size() > 0)
    f.seek(0)
    task = asyncio.ensure_future(loop.sendfile(transport, f))
    await asyncio.sleep(0)
    try:
        transport.write(b"x")
    except Exception as e:
        error("write during sendfile", e)
    print("reading during sendfile:", transport.is_reading())
    got = await read_all(s2, len(before) + size)
    print("sendfile:", await task, got == before + data, f.tell())
    print("reading after:", transport.is_reading())
    transport.write(b"after")
    print("write after:", await read_all(s2, 5))
    proc.seek(0)
    try:
        await loop.sendfile(transport, proc, count=len(cmdline), fallback=False)
    except Exception as e:
        error("sendfile without fallback", e)
    task = asyncio.ensure_future(loop.sendfile(transport, proc, count=len(cmdline)))
    got = await read_all(s2, len(cmdline))
    print("sendfile fallback:", await task == len(cmdline), got == cmdline,
          proc.tell() == len(cmdline), transport.get_protocol() is protocol,
          transport.is_reading())
    try:
        await loop.sendfile(transport, f, offset=-1)
    except Exception as e:
        error("sendfile offset=-1", e)
    transport.close()
    try:
        await loop.sendfile(transport, f)
    except Exception as e:
        error("sendfile on a closing transport", e)
    await asyncio.sleep(0)
    s2.close()
    proc.close()
    f.close()
    empty.close()
    a.close()
    b.close()


loop.run_until_complete(main())
loop.close()
