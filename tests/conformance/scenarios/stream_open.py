# open_connection() and start_server() over 127.0.0.1, and their Unix
# twins over a socket in a temporary directory: the order in which the
# server's client_connected_cb task and the client see things (counted in
# loop iterations), lines echoed both ways, the client's EOF ending the
# server's loop, the server closed and waited for; a refused connection;
# a limit of 0.
import asyncio
import os
import socket
import tempfile

it = 0


def tick():
    global it
    it += 1
    asyncio.get_running_loop().call_soon(tick)


async def handle(reader, writer):
    print("iteration", it, "server: connected, peer family",
          socket.AddressFamily(writer.get_extra_info("socket").family).name)
    while line := await reader.readline():
        print("iteration", it, "server: got", line)
        writer.write(line.upper())
        await writer.drain()
    print("iteration", it, "server: EOF")
    writer.close()
    await writer.wait_closed()


async def exchange(reader, writer):
    for line in (b"one\n", b"two\n"):
        writer.write(line)
        await writer.drain()
        print("iteration", it, "client: got", await reader.readline())
    writer.write_eof()
    print("iteration", it, "client: read", await reader.read())
    writer.close()
    await writer.wait_closed()
    print("iteration", it, "client: closed")


async def main():
    asyncio.get_running_loop().call_soon(tick)
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print("iteration", it, "started, serving", server.is_serving(), "sockets",
          len(server.sockets))
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    print("iteration", it, "client: connected, peer port matches",
          writer.get_extra_info("peername")[1] == port)
    await exchange(reader, writer)
    server.close()
    await server.wait_closed()
    print("iteration", it, "server closed, serving", server.is_serving())

    try:
        await asyncio.open_connection("127.0.0.1", port)
    except ConnectionRefusedError as e:
        print("refused:", type(e).__name__, e.errno)
    try:
        await asyncio.open_connection("127.0.0.1", port, limit=0)
    except ValueError as e:
        print("limit=0:", type(e).__name__, e)

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "s.sock")
        server = await asyncio.start_unix_server(handle, path)
        print("iteration", it, "unix server started")
        reader, writer = await asyncio.open_unix_connection(path)
        print("iteration", it, "unix client connected")
        await exchange(reader, writer)
        server.close()
        await server.wait_closed()
        print("iteration", it, "unix server closed")


asyncio.run(main())
