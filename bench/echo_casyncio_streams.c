/* echo_casyncio_streams.c - the echo benchmark's server on casyncio, task
 * style: the C twin of `echo_asyncio.py --style streams`.
 *
 *   echo_casyncio_streams [--port P] [--cpu C]
 *
 * start_server() on 127.0.0.1 (port 0 by default: the kernel picks one)
 * runs echo_stream() as a task for each connection: read(256 KiB),
 * write() it back, drain(), until end of file; a ConnectionError ends it
 * quietly, and the writer is closed however it ends. Prints
 * `LISTENING port=P accept=start_server` once it accepts, and runs until SIGTERM
 * or SIGINT, as the Python server does (`async with server: await stop`).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <casyncio.h>

#define READ_SIZE (256 * 1024)

static void *echo_stream(aio_stream_reader *reader, aio_stream_writer *writer, void *arg)
{
    (void)arg;
    for (;;) {
        aio_bytes *data = aio_stream_reader_read(reader, READ_SIZE);
        if (data == NULL)
            break;
        size_t len = aio_bytes_size(data);
        if (len == 0) {
            aio_decref(data);
            break;
        }
        int rc = aio_stream_writer_write(writer, aio_bytes_data(data), len);
        aio_decref(data);
        if (rc < 0 || aio_stream_writer_drain(writer) < 0)
            break;
    }
    /* except ConnectionError: pass; anything else fails the task (the
     * loop's handler reports it). */
    if (aio_err_occurred() != NULL && aio_err_matches(aio_ConnectionError))
        aio_err_clear();
    aio_exc *pending = aio_err_fetch(); /* finally: writer.close() */
    aio_stream_writer_close(writer);
    aio_err_restore(pending);
    return NULL;
}
AIO_NAME_CALLBACK(echo_stream);

static void on_signal(void *arg)
{
    aio_future *stop = arg;
    if (!aio_future_done(stop))
        aio_future_set_result(stop, NULL);
}
AIO_NAME_CALLBACK(on_signal);

static void *serve(void *arg)
{
    int port = *(int *)arg;
    aio_loop *loop = aio_get_running_loop();
    aio_server *server = aio_start_server(&(aio_start_server_args){
        .client_connected_cb = echo_stream,
        .host = "127.0.0.1",
        .port = port ? port : AIO_ZERO});
    if (server == NULL)
        return NULL;
    const aio_socket_list *socks = aio_server_sockets(server);
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    if (socks == NULL || socks->len == 0 ||
        getsockname(socks->fds[0], (struct sockaddr *)&sin, &len) < 0) {
        fprintf(stderr, "echo_casyncio_streams: the server has no socket\n");
        exit(1);
    }
    aio_future *stop = aio_loop_create_future(loop);
    if (stop == NULL || aio_loop_add_signal_handler(loop, SIGTERM, on_signal, stop, NULL) < 0 ||
        aio_loop_add_signal_handler(loop, SIGINT, on_signal, stop, NULL) < 0) {
        aio_decref(stop);
        aio_decref(server);
        return NULL;
    }
    printf("LISTENING port=%d accept=start_server\n", ntohs(sin.sin_port));
    fflush(stdout);
    aio_await(stop);
    aio_loop_remove_signal_handler(loop, SIGTERM);
    aio_loop_remove_signal_handler(loop, SIGINT);
    aio_decref(stop);
    aio_server_close(server);
    aio_future *closed = aio_server_wait_closed(server);
    if (closed != NULL)
        aio_await(closed);
    aio_decref(closed);
    aio_decref(server);
    return NULL;
}
AIO_NAME_CALLBACK(serve);

int main(int argc, char **argv)
{
    int port = 0, cpu = -1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port"))
            port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--cpu"))
            cpu = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: echo_casyncio_streams [--port P] [--cpu C]\n");
            return 2;
        }
    }
    if (argc % 2 == 0) {
        fprintf(stderr, "usage: echo_casyncio_streams [--port P] [--cpu C]\n");
        return 2;
    }
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        sched_setaffinity(0, sizeof set, &set);
    }
    aio_run(serve, &port, NULL);
    if (aio_err_occurred() != NULL) {
        fprintf(stderr, "echo_casyncio_streams: ");
        aio_err_print();
        return 1;
    }
    return 0;
}
