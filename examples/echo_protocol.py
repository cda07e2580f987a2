# The TCP echo server and client of the asyncio "Transports and Protocols"
# page, in one program: the server listens on a free port of 127.0.0.1, the
# client sends one message, the server echoes it and closes the connection.
# examples/echo_protocol.c is the same program in C and prints the same.
import asyncio


class EchoServerProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        peername = transport.get_extra_info('peername')
        print('Server: connection from {}'.format(peername[0]))
        self.transport = transport

    def data_received(self, data):
        message = data.decode()
        print('Server: data received: {!r}'.format(message))
        print('Server: send: {!r}'.format(message))
        self.transport.write(data)
        print('Server: close the client socket')
        self.transport.close()


class EchoClientProtocol(asyncio.Protocol):
    def __init__(self, message, on_con_lost):
        self.message = message
        self.on_con_lost = on_con_lost

    def connection_made(self, transport):
        transport.write(self.message.encode())
        print('Client: data sent: {!r}'.format(self.message))

    def data_received(self, data):
        print('Client: data received: {!r}'.format(data.decode()))

    def connection_lost(self, exc):
        print('Client: the server closed the connection')
        self.on_con_lost.set_result(True)


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(EchoServerProtocol, '127.0.0.1', 0)
    port = server.sockets[0].getsockname()[1]

    on_con_lost = loop.create_future()
    transport, protocol = await loop.create_connection(
        lambda: EchoClientProtocol('Hello World!', on_con_lost),
        '127.0.0.1', port)
    try:
        await on_con_lost
    finally:
        transport.close()
    server.close()
    await server.wait_closed()


asyncio.run(main())
