# accept() out of descriptors (EMFILE): the exception handler hears
# 'socket.accept() out of system resource' with the OSError and the
# socket, once per remaining accept attempt of that readiness (backlog=3:
# three times), accepting pauses (the socket stays readable, yet nothing
# more is reported and no connection is made while the loop runs on), and
# the pending connection is accepted after ACCEPT_RETRY_DELAY.
import asyncio
import os
import resource
import socket

loop = asyncio.new_event_loop()
reports = []


def handler(loop_, context):
    exc = context.get("exception")
    print("handler:", context["message"], "|", type(exc).__name__, exc.errno,
          "| socket" if "socket" in context else "")
    reports.append(context)


loop.set_exception_handler(handler)
made = loop.create_future()


class P(asyncio.Protocol):
    def connection_made(self, transport):
        print("connection_made")
        transport.close()

    def connection_lost(self, exc):
        print("connection_lost", exc)
        made.set_result(None)


async def main():
    server = await loop.create_server(P, "127.0.0.1", 0, backlog=3)
    port = server.sockets[0].getsockname()[1]
    client = socket.socket()
    client.connect(("127.0.0.1", port))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    filler = []
    try:
        while True:
            filler.append(os.open("/dev/null", os.O_RDONLY))
    except OSError:
        pass
    while not reports:
        await asyncio.sleep(0)
    for fd in filler:
        os.close(fd)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    for _ in range(20):
        await asyncio.sleep(0)
    print("reports:", len(reports), "accepted yet:", made.done())
    await asyncio.wait_for(made, 5)
    print("reports after the retry:", len(reports))
    client.close()
    server.close()


loop.run_until_complete(main())
loop.close()
