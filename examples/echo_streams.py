# An echo server and its client with asyncio streams, in one program: the
# Python twin of echo_streams.c, printing the same lines.
import asyncio


async def handle_echo(reader, writer):
    while line := await reader.readline():
        print(f"server: got {line.decode()!r}")
        writer.write(line)
        await writer.drain()
    print("server: client hung up")
    writer.close()
    await writer.wait_closed()


async def main():
    server = await asyncio.start_server(handle_echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for message in ("hello\n", "streams\n", "bye\n"):
        writer.write(message.encode())
        await writer.drain()
        reply = await reader.readline()
        print(f"client: sent {message!r}, got back {reply.decode()!r}")
    writer.write_eof()
    print(f"client: after EOF the server sends {await reader.read()!r}")
    writer.close()
    await writer.wait_closed()

    server.close()
    await server.wait_closed()
    print("server: closed")


asyncio.run(main())
