/* Watch a file descriptor for read events with add_reader() - the Event
 * Loop page's third example.
 *
 *   rsock, wsock = socketpair()
 *   loop = asyncio.get_event_loop()
 *
 *   def reader():
 *       data = rsock.recv(100)
 *       print("Received:", data.decode())
 *       loop.remove_reader(rsock)
 *       loop.stop()
 *
 *   loop.add_reader(rsock, reader)
 *   loop.call_soon(wsock.send, 'abc'.encode())
 *   try:
 *       loop.run_forever()
 *   finally:
 *       rsock.close()
 *       wsock.close()
 *       loop.close()
 */
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <casyncio.h>

static aio_loop *loop;
static int rsock, wsock;

static void reader(void *arg)
{
    (void)arg;
    char data[100];
    ssize_t n = recv(rsock, data, sizeof data, 0);
    printf("Received: %.*s\n", (int)(n > 0 ? n : 0), data);
    aio_loop_remove_reader(loop, rsock);
    aio_loop_stop(loop);
}
AIO_NAME_CALLBACK(reader);

static void send_abc(void *arg)
{
    (void)arg;
    if (send(wsock, "abc", 3, 0) != 3)
        aio_err_set_from_errno(errno);
}
AIO_NAME_CALLBACK(send_abc);

int main(void)
{
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) < 0) {
        perror("socketpair");
        return 1;
    }
    rsock = pair[0];
    wsock = pair[1];
    loop = aio_get_event_loop();
    if (loop == NULL || aio_loop_add_reader(loop, rsock, reader, NULL, NULL) < 0) {
        aio_err_print();
        return 1;
    }
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = send_abc});
    int rc = aio_loop_run_forever(loop);
    close(rsock);
    close(wsock);
    aio_loop_close(loop);
    if (rc < 0) {
        aio_err_print();
        return 1;
    }
    return 0;
}
