# StreamReader fed by hand (feed_data, feed_eof, set_exception), read from
# tasks: read(n) and read(-1), readline() and its limit (the line dropped,
# ValueError), readuntil() with one- and multi-byte separators, the two
# LimitOverrunError messages and their consumed, IncompleteReadError's
# partial and expected, readexactly(), at_eof(), a read waiting for data
# and woken by feed_data, a second read refused while one waits, a waiting
# read cancelled, set_exception() waking a waiting read, the argument
# errors, and the reader's repr.
import asyncio
import re


def show(what, value):
    print(what, value)


def raised(what, e):
    print(what, f"{type(e).__name__}: {e}")


async def main():
    loop = asyncio.get_running_loop()
    r = asyncio.StreamReader(loop=loop)
    r.feed_data(b"hello\nworld")
    show("readline", await r.readline())
    show("read(3)", await r.read(3))
    show("read(0)", await r.read(0))
    show("at_eof", r.at_eof())
    show("repr", repr(r))
    r.feed_data(b"!\nmore")
    r.feed_eof()
    show("read(-1)", await r.read(-1))
    show("at_eof", r.at_eof())
    show("read(5) at eof", await r.read(5))
    show("readline at eof", await r.readline())
    show("repr", repr(r))
    try:
        r.feed_data(b"x")
    except AssertionError as e:
        raised("feed_data after eof", e)

    r = asyncio.StreamReader(limit=10, loop=loop)
    r.feed_data(b"0123456789abcdef")
    try:
        await r.readuntil(b"\n")
    except asyncio.LimitOverrunError as e:
        raised("readuntil", e)
        show("consumed", e.consumed)
    r.feed_data(b"xyz\n")
    try:
        await r.readuntil(b"\n")
    except asyncio.LimitOverrunError as e:
        raised("readuntil", e)
        show("consumed", e.consumed)
    show("repr", repr(r))
    try:
        await r.readline()
    except ValueError as e:
        raised("readline", e)
        show("context", type(e.__context__).__name__)
    show("repr", repr(r))
    r.feed_data(b"0123456789ABCDEFGH")
    try:
        await r.readline()
    except ValueError as e:
        raised("readline", e)
    r.feed_data(b"ab\r\ncd\r")
    show("readuntil crlf", await r.readuntil(b"\r\n"))
    r.feed_data(b"\nef")
    show("readuntil crlf", await r.readuntil(b"\r\n"))
    r.feed_eof()
    try:
        await r.readuntil(b"\r\n")
    except asyncio.IncompleteReadError as e:
        raised("readuntil at eof", e)
        show("partial", e.partial)
        show("expected", e.expected)
    try:
        await r.readuntil(b"")
    except ValueError as e:
        raised("readuntil empty", e)

    r = asyncio.StreamReader(loop=loop)
    r.feed_data(b"abcdefgh")
    show("readexactly(3)", await r.readexactly(3))
    show("readexactly(0)", await r.readexactly(0))
    try:
        await r.readexactly(-1)
    except ValueError as e:
        raised("readexactly(-1)", e)
    r.feed_eof()
    try:
        await r.readexactly(10)
    except asyncio.IncompleteReadError as e:
        raised("readexactly(10)", e)
        show("partial", e.partial)
        show("expected", e.expected)
    show("at_eof", r.at_eof())

    # A read waits for data; a second one is refused meanwhile.
    r = asyncio.StreamReader(loop=loop)

    async def reader(name, coro):
        try:
            show(name, await coro)
        except BaseException as e:
            raised(name, e)

    t1 = asyncio.create_task(reader("read waiting", r.read(100)))
    await asyncio.sleep(0)
    # 3.8 and 3.9 show the waiter's callback with its address: cut it
    show("repr", re.sub(r" at 0x[0-9a-f]+", "", repr(r)))
    t2 = asyncio.create_task(reader("second read", r.read(100)))
    t3 = asyncio.create_task(reader("second readline", r.readline()))
    t4 = asyncio.create_task(reader("second readexactly", r.readexactly(2)))
    await asyncio.sleep(0)
    r.feed_data(b"data")
    await asyncio.gather(t1, t2, t3, t4)

    # A waiting read cancelled; the reader still works.
    t = asyncio.create_task(reader("readexactly cancelled", r.readexactly(5)))
    await asyncio.sleep(0)
    t.cancel()
    await t
    r.feed_data(b"12345")
    show("readexactly after", await r.readexactly(5))

    # set_exception wakes a waiting read; later reads raise it too.
    t = asyncio.create_task(reader("readline woken", r.readline()))
    await asyncio.sleep(0)
    r.set_exception(ConnectionResetError("gone"))
    await t
    try:
        await r.read(1)
    except ConnectionResetError as e:
        raised("read after exception", e)
    show("exception", repr(r.exception()))
    try:
        await r.readexactly(-1)
    except ValueError as e:
        raised("readexactly(-1) first", e)

    try:
        asyncio.StreamReader(limit=0, loop=loop)
    except ValueError as e:
        raised("limit=0", e)
    try:
        asyncio.StreamReader(limit=-1, loop=loop)
    except ValueError as e:
        raised("limit=-1", e)
    show("repr", repr(asyncio.StreamReader(limit=5, loop=loop)))


asyncio.run(main())
