# loop.sock_recv(), sock_recv_into(), sock_sendall() and sock_accept() on
# non-blocking sockets: results at once when the system call succeeds, a
# wait for readiness when it would block, cancellation removing the reader,
# and the errors: a negative nbytes, a closed descriptor, a connected
# socket given to accept(), a transport's descriptor, and debug mode's
# refusal of a blocking socket.
import asyncio
import os
import socket

loop = asyncio.new_event_loop()


def error(what, e):
    print(what + ":", type(e).__name__ + ":", e)


async def main():
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)

    b.send(b"hello")
    print("recv:", await loop.sock_recv(a, 100))
    print("recv 0:", await loop.sock_recv(a, 0))
    fut = asyncio.ensure_future(loop.sock_recv(a, 3))
    await asyncio.sleep(0)
    print("recv waits:", fut.done())
    b.send(b"later")
    print("recv waited:", await fut)
    print("recv rest:", await loop.sock_recv(a, 100))

    buf = bytearray(4)
    b.send(b"abcdef")
    n = await loop.sock_recv_into(a, buf)
    print("recv_into:", n, bytes(buf[:n]))
    n = await loop.sock_recv_into(a, buf)
    print("recv_into:", n, bytes(buf[:n]))
    print("recv_into empty:", await loop.sock_recv_into(a, bytearray()))

    print("sendall:", await loop.sock_sendall(a, b"x" * 10), b.recv(100))
    print("sendall empty:", await loop.sock_sendall(a, b""))
    big = bytes(range(256)) * 8192  # 2 MiB, more than the socket takes
    fut = asyncio.ensure_future(loop.sock_sendall(a, big))
    await asyncio.sleep(0)
    print("sendall waits:", fut.done())
    got = bytearray()
    while len(got) < len(big):
        await asyncio.sleep(0)
        try:
            got += b.recv(1 << 20)
        except BlockingIOError:
            pass
    print("sendall waited:", await fut, got == big)

    fut = asyncio.ensure_future(loop.sock_recv(a, 10))
    await asyncio.sleep(0)
    fut.cancel()
    await asyncio.sleep(0)
    print("cancelled:", fut.cancelled(), "reader left:", loop.remove_reader(a.fileno()))

    try:
        await loop.sock_recv(a, -1)
    except Exception as e:
        error("recv -1", e)
    try:
        await loop.sock_accept(a)
    except Exception as e:
        error("accept on a connected socket", e)
    c = socket.socket()
    c.setblocking(False)
    os.close(c.fileno())
    try:
        await loop.sock_recv(c, 10)
    except Exception as e:
        error("recv on a closed descriptor", e)
    c.detach()

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    fut = asyncio.ensure_future(loop.sock_accept(listener))
    await asyncio.sleep(0)
    print("accept waits:", fut.done())
    client = socket.create_connection(listener.getsockname())
    conn, address = await fut
    print("accepted:", conn.getblocking(), address[0], type(address[1]).__name__)
    client.send(b"over tcp")
    print("recv conn:", await loop.sock_recv(conn, 100))
    conn.close()
    client.close()
    fut = asyncio.ensure_future(loop.sock_accept(listener))
    await asyncio.sleep(0)
    fut.cancel()
    await asyncio.sleep(0)
    print("accept cancelled:", fut.cancelled(), "reader left:",
          loop.remove_reader(listener.fileno()))
    listener.close()

    s1, s2 = socket.socketpair()
    transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, s1)
    try:
        await loop.sock_recv(s1, 10)
    except Exception as e:
        print("transport's descriptor:", type(e).__name__,
              str(e).startswith("File descriptor "), "is used by transport" in str(e))
    transport.close()
    await asyncio.sleep(0)
    s2.close()

    blocking, peer = socket.socketpair()
    loop.set_debug(True)
    for name, call in [
        ("sock_recv", lambda: loop.sock_recv(blocking, 1)),
        ("sock_recv_into", lambda: loop.sock_recv_into(blocking, bytearray(1))),
        ("sock_sendall", lambda: loop.sock_sendall(blocking, b"x")),
        ("sock_accept", lambda: loop.sock_accept(blocking)),
        ("sock_sendfile", lambda: loop.sock_sendfile(blocking, None)),
    ]:
        try:
            await call()
        except Exception as e:
            error("debug " + name, e)
    loop.set_debug(False)
    blocking.close()
    peer.close()
    a.close()
    b.close()


loop.run_until_complete(main())
loop.close()
