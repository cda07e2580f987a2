/* Pipes: a write pipe's flow control (pause_writing past the high-water
 * mark, resume_writing once the reader has drained it) and writes after the
 * reader went away counted and logged from the fifth on; a read pipe paused
 * and resumed; a FIFO whose writer goes away; a socketpair as a pipe. */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conformance.h"

/* str(transport.is_reading()): a read pipe transport has none before 3.11
 * (ReadTransport's raises NotImplementedError), which the script does not
 * catch: the exception on stderr, exit status 1, as Python's. */
static const char *is_reading(aio_transport *t)
{
    int r = aio_transport_is_reading(t);
    if (r < 0) {
        fflush(stdout);
        aio_err_print();
        exit(1);
    }
    return py_bool(r);
}

static int it;

static void tick(void *arg)
{
    (void)arg;
    it++;
    CHECK(aio_loop_call_soon(aio_get_running_loop(), &(aio_loop_call_soon_args){.callback = tick}));
}

static void log_handler(int level, const char *message, aio_exc *exc, void *arg)
{
    (void)exc;
    (void)arg;
    printf("iteration %d log: %s %s\n", it, level_name(level), first_line(message));
}

typedef struct recorder {
    aio_protocol base;
    const char *name;
    aio_future *lost;
} recorder;

static const char *name_of(aio_protocol *self)
{
    return ((recorder *)self)->name;
}

static void made(aio_protocol *self, aio_transport *t)
{
    (void)t;
    printf("iteration %d %s connection_made\n", it, name_of(self));
}

static void data(aio_protocol *self, const void *d, size_t len)
{
    (void)d;
    printf("iteration %d %s data_received %zu\n", it, name_of(self), len);
}

static bool eof(aio_protocol *self)
{
    printf("iteration %d %s eof_received\n", it, name_of(self));
    return false;
}

static void pause_writing(aio_protocol *self)
{
    printf("iteration %d %s pause_writing\n", it, name_of(self));
}

static void resume_writing(aio_protocol *self)
{
    printf("iteration %d %s resume_writing\n", it, name_of(self));
}

static void lost(aio_protocol *self, aio_exc *exc)
{
    recorder *r = (recorder *)self;
    printf("iteration %d %s connection_lost %s\n", it, r->name, exc_line(exc));
    CHECK(aio_future_set_result(r->lost, NULL) == 0);
}

static aio_protocol *give(void *arg)
{
    return arg;
}

static aio_transport *connect_pipe(recorder *r, const char *name, int fd, bool write_side)
{
    aio_loop *loop = aio_get_running_loop();
    *r = (recorder){.base = {.connection_made = made,
                             .data_received = data,
                             .eof_received = eof,
                             .pause_writing = pause_writing,
                             .resume_writing = resume_writing,
                             .connection_lost = lost},
                    .name = name};
    CHECK(r->lost = aio_loop_create_future(loop));
    aio_future *fut = write_side ? aio_loop_connect_write_pipe(loop, give, r, fd)
                                 : aio_loop_connect_read_pipe(loop, give, r, fd);
    CHECK(fut);
    const aio_transport_protocol *pair = aio_await(fut);
    CHECK(pair);
    aio_transport *t = aio_incref(pair->transport);
    aio_decref(fut);
    return t;
}

static void wait_lost(recorder *r)
{
    CHECK(aio_await(r->lost) == NULL && !aio_err_occurred());
    aio_decref(r->lost);
}

static void *main_coro(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    aio_log_set_handler(log_handler, NULL);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    CHECK(aio_sleep(0) == 0);
    recorder r, r2;
    int p[2];
    static char block[5000];
    memset(block, 'x', sizeof block);

    CHECK(pipe(p) == 0);
    aio_transport *t = connect_pipe(&r, "flow", p[1], true);
    CHECK(aio_transport_set_write_buffer_limits(
              t, &(aio_transport_set_write_buffer_limits_args){.high = 4096, .low = 1024}) == 0);
    aio_write_buffer_limits lim = aio_transport_get_write_buffer_limits(t);
    printf("iteration %d limits (%lld, %lld)\n", it, (long long)lim.low, (long long)lim.high);
    size_t total = 0;
    while (aio_transport_get_write_buffer_size(t) == 0) {
        CHECK(aio_transport_write(t, block, 1000) == 0);
        total += 1000;
    }
    CHECK(aio_transport_write(t, block, 5000) == 0);
    total += 5000;
    printf("iteration %d buffered %s\n", it,
           py_bool(aio_transport_get_write_buffer_size(t) > 4096));
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    size_t got = 0;
    static char sink[1 << 20];
    while (got < total) {
        CHECK(aio_sleep(0) == 0);
        ssize_t n = read(p[0], sink, sizeof sink);
        if (n > 0)
            got += (size_t)n;
    }
    printf("iteration %d drained %s %lld\n", it, py_bool(got == total),
           (long long)aio_transport_get_write_buffer_size(t));
    close(p[0]);
    for (int i = 0; i < 7; i++)
        CHECK(aio_transport_write(t, "y", 1) == 0);
    wait_lost(&r);
    for (int i = 0; i < 3; i++)
        CHECK(aio_transport_write(t, "z", 1) == 0);
    printf("iteration %d flow done\n", it);
    aio_decref(t);

    CHECK(pipe(p) == 0);
    t = connect_pipe(&r, "paused", p[0], false);
    CHECK(aio_transport_pause_reading(t) == 0);
    CHECK(write(p[1], "abc", 3) == 3);
    CHECK(aio_sleep(0) == 0);
    CHECK(aio_sleep(0) == 0);
    printf("iteration %d resume %s\n", it, is_reading(t));
    CHECK(aio_transport_resume_reading(t) == 0);
    printf("iteration %d resumed %s\n", it, is_reading(t));
    CHECK(aio_sleep(0) == 0);
    close(p[1]);
    wait_lost(&r);
    printf("iteration %d paused done\n", it);
    aio_decref(t);

    char dir[] = "/tmp/casyncio-fifo-XXXXXX";
    CHECK(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/fifo", dir);
    CHECK(mkfifo(path, 0600) == 0);
    int rfd = open(path, O_RDONLY | O_NONBLOCK);
    int wfd = open(path, O_WRONLY);
    CHECK(rfd >= 0 && wfd >= 0);
    t = connect_pipe(&r, "fifo", rfd, false);
    CHECK(write(wfd, "fifo", 4) == 4);
    CHECK(aio_sleep(0) == 0);
    close(wfd);
    printf("iteration %d fifo writer gone\n", it);
    wait_lost(&r);
    printf("iteration %d fifo done\n", it);
    aio_decref(t);
    unlink(path);
    rmdir(dir);

    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    aio_transport *ta = connect_pipe(&r, "sock read", sv[0], false);
    aio_transport *tb = connect_pipe(&r2, "sock write", sv[1], true);
    CHECK(aio_transport_write(tb, "over a socket", 13) == 0);
    CHECK(aio_transport_close(tb) == 0);
    wait_lost(&r2);
    wait_lost(&r);
    printf("iteration %d sock done\n", it);
    aio_decref(ta);
    aio_decref(tb);
    aio_log_set_handler(NULL, NULL);
    return NULL;
}

int main(void)
{
    aio_run(main_coro, NULL, NULL);
    CHECK(!aio_err_occurred());
    return 0;
}
