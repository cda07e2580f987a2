#!/usr/bin/env python3
"""CPython asyncio's (or uvloop's) side of the interop tests.

    peer.py [--uvloop] server protocol|streams
        Listens on 127.0.0.1, port 0; prints `LISTENING port=P` and echoes
        every connection until SIGTERM: an asyncio.Protocol writing back
        what data_received() gets (the transport closes at end of file), or
        start_server() with a handler that reads, writes back and drains
        until end of file, then closes.
    peer.py [--uvloop] client PORT FILE
        open_connection() to 127.0.0.1:PORT; sends FILE in 64 KiB writes
        with drain(), then write_eof(), while reading until end of file;
        exit 0 when what came back is exactly FILE, 1 (with a message) when
        not.
"""
import argparse
import asyncio
import signal
import sys

WRITE_SIZE = 64 * 1024


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def echo_stream(reader, writer):
    try:
        while data := await reader.read(WRITE_SIZE):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def serve(style):
    loop = asyncio.get_running_loop()
    if style == "protocol":
        server = await loop.create_server(Echo, "127.0.0.1", 0)
    else:
        server = await asyncio.start_server(echo_stream, "127.0.0.1", 0)
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    print(f"LISTENING port={server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await stop


async def send_file(port, path):
    with open(path, "rb") as f:
        data = f.read()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def send():
        for i in range(0, len(data), WRITE_SIZE):
            writer.write(data[i:i + WRITE_SIZE])
            await writer.drain()
        writer.write_eof()

    sending = asyncio.create_task(send())
    received = bytearray()
    while chunk := await reader.read(1 << 20):
        received += chunk
    await sending
    writer.close()
    await writer.wait_closed()
    if received != data:
        at = next((i for i, (a, b) in enumerate(zip(received, data)) if a != b),
                  min(len(received), len(data)))
        print(f"peer.py: {len(received)} bytes came back for {len(data)} sent; "
              f"first difference at {at}", file=sys.stderr)
        return 1
    print(f"OK sent={len(data)} received={len(received)}")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument("mode", choices=["server", "client"])
    parser.add_argument("args", nargs="+")
    args = parser.parse_args()
    if args.uvloop:
        import uvloop
        uvloop.install()
    signal.alarm(60)
    if args.mode == "server":
        asyncio.run(serve(args.args[0]))
        return 0
    return asyncio.run(send_file(int(args.args[0]), args.args[1]))


if __name__ == "__main__":
    sys.exit(main())
