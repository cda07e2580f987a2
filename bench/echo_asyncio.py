#!/usr/bin/env python3
"""The echo benchmark's servers on CPython's asyncio (and uvloop).

    echo_asyncio.py [--style protocol|streams] [--uvloop] [--port P] [--cpu C]

Listens on 127.0.0.1 (port 0 by default: the kernel picks one), prints
`LISTENING port=P` once it accepts, and runs until SIGTERM or SIGINT.

protocol: an asyncio.Protocol whose data_received() writes what it got
back to its transport. streams: asyncio.start_server() with a handler
task per connection that reads up to 256 KiB at a time and writes it back,
awaiting drain() after each write. --uvloop runs either on uvloop's loop
(Debian's python3-uvloop, importable by /usr/bin/python3).
"""
import argparse
import asyncio
import os
import signal
import sys

READ_SIZE = 256 * 1024


class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def echo_stream(reader, writer):
    try:
        while True:
            data = await reader.read(READ_SIZE)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def serve(style, port):
    loop = asyncio.get_running_loop()
    if style == "protocol":
        server = await loop.create_server(EchoProtocol, "127.0.0.1", port)
    else:
        server = await asyncio.start_server(echo_stream, "127.0.0.1", port)
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set_result, None)
    print(f"LISTENING port={server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await stop


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--style", choices=["protocol", "streams"], default="protocol")
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop's loop")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cpu", type=int, help="pin the server to this CPU")
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    if args.uvloop:
        try:
            import uvloop
        except ImportError:
            sys.exit(f"echo_asyncio.py: {sys.executable} cannot import uvloop "
                     "(Debian's python3-uvloop is for /usr/bin/python3)")
        uvloop.install()
    asyncio.run(serve(args.style, args.port))


if __name__ == "__main__":
    main()
