/* test_stream_open.c - open_connection(), start_server(),
 * open_unix_connection() and start_unix_server() (streams.py, 3.11) over
 * real sockets: 127.0.0.1 and Unix sockets in a mkdtemp() directory.
 *
 * They ride on loop.create_connection() and friends. Argument errors of
 * the stream functions themselves are checked too. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/un.h>

#include "test_support.h"

typedef struct outcome {
    bool skipped;
} outcome;

static void run_in_task(aio_coroutine coro, outcome *out)
{
    alarm(30);
    aio_loop *loop = new_loop();
    run_coro(loop, coro, out);
    finish(loop);
    alarm(0);
    if (out->skipped)
        skip();
}

/* client_connected_cb: echoes lines back upper-cased until EOF, then closes. */
static void *echo_client(aio_stream_reader *reader, aio_stream_writer *writer, void *arg)
{
    int *served = arg;
    for (;;) {
        aio_bytes *line = aio_stream_reader_readline(reader);
        if (line == NULL)
            return NULL;
        size_t n = aio_bytes_size(line);
        if (n == 0) {
            aio_decref(line);
            break;
        }
        char *up = malloc(n);
        for (size_t i = 0; i < n; i++)
            up[i] = (char)toupper(((const unsigned char *)aio_bytes_data(line))[i]);
        aio_decref(line);
        int rc = aio_stream_writer_write(writer, up, n);
        free(up);
        if (rc < 0 || aio_stream_writer_drain(writer) < 0)
            return NULL;
    }
    (*served)++;
    aio_stream_writer_close(writer);
    aio_stream_writer_wait_closed(writer);
    aio_err_clear();
    return NULL;
}
AIO_NAME_CALLBACK(echo_client);

/* One client's exchange with the echo server. */
static void talk(aio_stream_pair pair, const char *line, const char *expected)
{
    assert_int_equal(aio_stream_writer_write(pair.writer, line, strlen(line)), 0);
    assert_int_equal(aio_stream_writer_drain(pair.writer), 0);
    aio_bytes *reply = aio_stream_reader_readline(pair.reader);
    assert_non_null(reply);
    assert_int_equal(aio_bytes_size(reply), strlen(expected));
    assert_memory_equal(aio_bytes_data(reply), expected, strlen(expected));
    aio_decref(reply);
}

static void hang_up(aio_stream_pair pair)
{
    assert_int_equal(aio_stream_writer_write_eof(pair.writer), 0);
    aio_bytes *rest = aio_stream_reader_read(pair.reader, -1);
    assert_non_null(rest);
    assert_int_equal(aio_bytes_size(rest), 0);
    aio_decref(rest);
    assert_int_equal(aio_stream_writer_close(pair.writer), 0);
    assert_int_equal(aio_stream_writer_wait_closed(pair.writer), 0);
    aio_decref(pair.writer);
    aio_decref(pair.reader);
}

static void close_server(aio_server *server)
{
    assert_int_equal(aio_server_close(server), 0);
    aio_future *closed = aio_server_wait_closed(server);
    assert_non_null(closed);
    aio_await(closed);
    check_no_exception();
    aio_decref(closed);
    aio_decref(server);
}

static int server_port(aio_server *server)
{
    const aio_socket_list *socks = aio_server_sockets(server);
    assert_non_null(socks);
    assert_true(socks->len >= 1);
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    assert_int_equal(getsockname(socks->fds[0], (struct sockaddr *)&sin, &len), 0);
    return ntohs(sin.sin_port);
}

/* --- TCP --------------------------------------------------------------------------- */

static void *tcp_echo(void *arg)
{
    (void)arg;
    int served = 0;
    aio_server *server = aio_start_server(&(aio_start_server_args){
        .client_connected_cb = echo_client, .client_connected_cb_arg = &served,
        .host = "127.0.0.1", .port = AIO_ZERO});
    assert_non_null(server);
    int port = server_port(server);
    aio_stream_pair c = aio_open_connection(
        &(aio_open_connection_args){.host = "127.0.0.1", .port = port});
    assert_non_null(c.reader);
    assert_non_null(c.writer);
    const aio_address *peer = aio_stream_writer_get_extra_info(
        c.writer, &(aio_stream_writer_get_extra_info_args){.name = "peername"});
    assert_non_null(peer);
    assert_int_equal(peer->port, port);
    talk(c, "hello\n", "HELLO\n");
    talk(c, "world\n", "WORLD\n");
    hang_up(c);
    for (int i = 0; i < 20 && served == 0; i++)
        assert_int_equal(aio_sleep(0), 0);
    assert_int_equal(served, 1);
    close_server(server);
    return NULL;
}
AIO_NAME_CALLBACK(tcp_echo);

static void test_tcp_echo(void **state)
{
    (void)state;
    outcome out = {false};
    run_in_task(tcp_echo, &out);
}

/* 50 clients at once, each 100 lines. */
typedef struct client_job {
    int port;
    int id;
    int ok;
} client_job;

static void *one_client(void *arg)
{
    client_job *job = arg;
    aio_stream_pair c = aio_open_connection(
        &(aio_open_connection_args){.host = "127.0.0.1", .port = job->port});
    if (c.reader == NULL)
        return NULL;
    for (int i = 0; i < 100; i++) {
        char line[64], expected[64];
        snprintf(line, sizeof line, "client %d line %d\n", job->id, i);
        snprintf(expected, sizeof expected, "CLIENT %d LINE %d\n", job->id, i);
        talk(c, line, expected);
    }
    hang_up(c);
    job->ok = 1;
    return NULL;
}
AIO_NAME_CALLBACK(one_client);

static void *many_clients(void *arg)
{
    (void)arg;
    int served = 0;
    aio_server *server = aio_start_server(&(aio_start_server_args){
        .client_connected_cb = echo_client, .client_connected_cb_arg = &served,
        .host = "127.0.0.1", .port = AIO_ZERO});
    assert_non_null(server);
    enum { N = 50 };
    client_job jobs[N];
    aio_task *tasks[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (client_job){server_port(server), i, 0};
        tasks[i] = aio_loop_create_task(aio_get_running_loop(),
                                        &(aio_loop_create_task_args){.coro = one_client,
                                                                     .coro_arg = &jobs[i]});
        assert_non_null(tasks[i]);
    }
    aio_future *all = aio_gather(tasks, N, &(aio_gather_args){.return_exceptions = true});
    aio_await(all);
    aio_decref(all);
    for (int i = 0; i < N; i++)
        aio_decref(tasks[i]);
    for (int i = 0; i < N; i++)
        assert_int_equal(jobs[i].ok, 1);
    for (int i = 0; i < 50 && served < N; i++)
        assert_int_equal(aio_sleep(0), 0);
    assert_int_equal(served, N);
    close_server(server);
    return NULL;
}
AIO_NAME_CALLBACK(many_clients);

static void test_many_clients(void **state)
{
    (void)state;
    outcome out = {false};
    run_in_task(many_clients, &out);
}

/* A refused connection: create_connection()'s error, nothing left behind. */
static void *refused(void *arg)
{
    (void)arg;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd); /* the port is now (almost certainly) closed */
    aio_stream_pair c = aio_open_connection(
        &(aio_open_connection_args){.host = "127.0.0.1", .port = ntohs(sin.sin_port)});
    assert_null(c.reader);
    assert_null(c.writer);
    assert_raised(aio_ConnectionRefusedError, NULL);
    return NULL;
}
AIO_NAME_CALLBACK(refused);

static void test_refused(void **state)
{
    (void)state;
    outcome out = {false};
    run_in_task(refused, &out);
}

/* The stream functions' own argument errors come first. */
static void *bad_limits(void *arg)
{
    (void)arg;
    aio_stream_pair c = aio_open_connection(
        &(aio_open_connection_args){.host = "127.0.0.1", .port = 1, .limit = AIO_ZERO});
    assert_null(c.reader);
    assert_raised(aio_ValueError, "Limit cannot be <= 0");
    c = aio_open_unix_connection(&(aio_open_unix_connection_args){.path = "/nope", .limit = -1});
    assert_null(c.reader);
    assert_raised(aio_ValueError, "Limit cannot be <= 0");
    c = aio_open_connection(&(aio_open_connection_args){.limit = AIO_NONE});
    assert_raised(aio_TypeError, "'<=' not supported between instances of 'NoneType' and 'int'");
    return NULL;
}
AIO_NAME_CALLBACK(bad_limits);

static void test_bad_limits(void **state)
{
    (void)state;
    outcome out = {false};
    run_in_task(bad_limits, &out);
}

/* --- Interop with CPython's asyncio (python3 on PATH; skipped without) ------- */

extern char **environ;

/* Starts python3 -c script args...; its stdout into *out_fd when asked. */
static pid_t spawn_python(const char *script, const char *arg, int *out_fd)
{
    int pipefd[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (out_fd != NULL) {
        assert_int_equal(pipe(pipefd), 0);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
        posix_spawn_file_actions_addclose(&fa, pipefd[0]);
    }
    char *argv[] = {"python3", "-c", (char *)script, (char *)arg, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "python3", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (out_fd != NULL) {
        close(pipefd[1]);
        *out_fd = pipefd[0];
    }
    return rc == 0 ? pid : -1;
}

static int wait_python(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, WNOHANG) == 0)
        assert_int_equal(aio_sleep(0.01), 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* CPython's open_connection() against our start_server(). */
static const char client_script[] =
    "import asyncio, sys\n"
    "async def main():\n"
    "    r, w = await asyncio.open_connection('127.0.0.1', int(sys.argv[1]))\n"
    "    lines = [b'line %d\\n' % i for i in range(5000)]\n"
    "    async def send():\n"
    "        for line in lines:\n"
    "            w.write(line)\n"
    "            await w.drain()\n"
    "        w.write_eof()\n"
    "    t = asyncio.create_task(send())\n"
    "    for line in lines:\n"
    "        if await r.readline() != line.upper():\n"
    "            sys.exit(1)\n"
    "    await t\n"
    "    if await r.read() != b'':\n"
    "        sys.exit(2)\n"
    "    w.close()\n"
    "    await w.wait_closed()\n"
    "asyncio.run(main())\n";

static void *python_client(void *arg)
{
    outcome *out = arg;
    int served = 0;
    aio_server *server = aio_start_server(&(aio_start_server_args){
        .client_connected_cb = echo_client, .client_connected_cb_arg = &served,
        .host = "127.0.0.1", .port = AIO_ZERO});
    assert_non_null(server);
    char port[16];
    snprintf(port, sizeof port, "%d", server_port(server));
    pid_t pid = spawn_python(client_script, port, NULL);
    if (pid < 0) {
        fprintf(stderr, "SKIP: no python3\n");
        out->skipped = true;
    } else {
        assert_int_equal(wait_python(pid), 0);
        for (int i = 0; i < 20 && served == 0; i++)
            assert_int_equal(aio_sleep(0), 0);
        assert_int_equal(served, 1);
    }
    close_server(server);
    return NULL;
}
AIO_NAME_CALLBACK(python_client);

static void test_python_client(void **state)
{
    (void)state;
    outcome out = {false};
    run_in_task(python_client, &out);
}

/* Our open_connection() against CPython's start_server(). */
static const char server_script[] =
    "import asyncio, sys\n"
    "async def handle(r, w):\n"
    "    while line := await r.readline():\n"
    "        w.write(line[::-1])\n"
    "        await w.drain()\n"
    "    w.close()\n"
    "    await w.wait_closed()\n"
    "    server.close()\n"
    "async def main():\n"
    "    global server\n"
    "    server = await asyncio.start_server(handle, '127.0.0.1', 0)\n"
    "    print(server.sockets[0].getsockname()[1], flush=True)\n"
    "    await server.wait_closed()\n"
    "    await asyncio.sleep(0.1)\n"
    "asyncio.run(main())\n";

static void *python_server(void *arg)
{
    outcome *out = arg;
    int fd;
    pid_t pid = spawn_python(server_script, "", &fd);
    if (pid < 0) {
        close(fd);
        fprintf(stderr, "SKIP: no python3\n");
        out->skipped = true;
        return NULL;
    }
    /* The port and a newline (print() may write them apart); this blocks
     * until the server listens. */
    char buf[32] = {0};
    size_t got = 0;
    while (got < sizeof buf - 1 && strchr(buf, '\n') == NULL) {
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        assert_true(n > 0);
        got += (size_t)n;
    }
    close(fd);
    aio_stream_pair c =
        aio_open_connection(&(aio_open_connection_args){.host = "127.0.0.1", .port = atoi(buf)});
    assert_non_null(c.reader);
    for (int i = 0; i < 1000; i++) {
        char line[32], reversed[32];
        int len = snprintf(line, sizeof line, "abc%d\n", i);
        for (int k = 0; k < len; k++)
            reversed[k] = line[len - 1 - k];
        reversed[len] = '\0';
        assert_int_equal(aio_stream_writer_write(c.writer, line, (size_t)len), 0);
        assert_int_equal(aio_stream_writer_drain(c.writer), 0);
        /* The reply ends with the line's first character, not a newline:
         * read exactly its length. */
        aio_bytes *reply = aio_stream_reader_readexactly(c.reader, len);
        assert_non_null(reply);
        assert_memory_equal(aio_bytes_data(reply), reversed, (size_t)len);
        aio_decref(reply);
    }
    hang_up(c);
    assert_int_equal(wait_python(pid), 0);
    return NULL;
}
AIO_NAME_CALLBACK(python_server);

static void test_python_server(void **state)
{
    (void)state;
    outcome out = {false};
    run_in_task(python_server, &out);
}

/* --- Unix sockets ---------------------------------------------------------------------- */

static void *unix_echo(void *arg)
{
    (void)arg;
    char dir[] = "/tmp/casyncio-streams-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/echo.sock", dir);
    int served = 0;
    aio_server *server = aio_start_unix_server(&(aio_start_unix_server_args){
        .client_connected_cb = echo_client, .client_connected_cb_arg = &served, .path = path});
    assert_non_null(server);
    aio_stream_pair c = aio_open_unix_connection(&(aio_open_unix_connection_args){.path = path});
    assert_non_null(c.reader);
    talk(c, "unix\n", "UNIX\n");
    hang_up(c);
    for (int i = 0; i < 20 && served == 0; i++)
        assert_int_equal(aio_sleep(0), 0);
    assert_int_equal(served, 1);
    close_server(server);
    unlink(path);
    rmdir(dir);
    return NULL;
}
AIO_NAME_CALLBACK(unix_echo);

static void test_unix_echo(void **state)
{
    (void)state;
    outcome out = {false};
    run_in_task(unix_echo, &out);
}

/* open_connection(sock=...) on one end of a socketpair. */
static void *open_with_sock(void *arg)
{
    (void)arg;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    aio_stream_pair c = aio_open_unix_connection(&(aio_open_unix_connection_args){.sock = sv[0]});
    assert_non_null(c.reader);
    assert_int_equal(write(sv[1], "ping\n", 5), 5);
    aio_bytes *line = aio_stream_reader_readline(c.reader);
    assert_non_null(line);
    assert_memory_equal(aio_bytes_data(line), "ping\n", 5);
    aio_decref(line);
    close(sv[1]);
    aio_stream_writer_close(c.writer);
    aio_stream_writer_wait_closed(c.writer);
    aio_err_clear();
    aio_decref(c.writer);
    aio_decref(c.reader);
    return NULL;
}
AIO_NAME_CALLBACK(open_with_sock);

static void test_open_with_sock(void **state)
{
    (void)state;
    outcome out = {false};
    run_in_task(open_with_sock, &out);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_limits),     cmocka_unit_test(test_tcp_echo),
        cmocka_unit_test(test_many_clients),   cmocka_unit_test(test_refused),
        cmocka_unit_test(test_unix_echo),      cmocka_unit_test(test_open_with_sock),
        cmocka_unit_test(test_python_client),  cmocka_unit_test(test_python_server),
    };
    return AIO_TEST_RUN(tests, argc, argv);
}
