/* Pipes: a read pipe's connection_made, data_received, eof_received and
 * connection_lost, by iteration (a ticker counts them); a write pipe whose
 * reader goes away, found by the watch on its write end; a write to a pipe
 * whose reader is gone before the watch ran (BrokenPipeError to
 * connection_lost, no SIGPIPE); writes after close(); a regular file refused
 * with asyncio's messages. */
#include <fcntl.h>
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

typedef struct recorder {
    aio_protocol base;
    const char *name;
    aio_future *lost;
} recorder;

static void made(aio_protocol *self, aio_transport *t)
{
    (void)t;
    printf("iteration %d %s connection_made\n", it, ((recorder *)self)->name);
}

static void data(aio_protocol *self, const void *d, size_t len)
{
    printf("iteration %d %s data_received b'%.*s'\n", it, ((recorder *)self)->name, (int)len,
           (const char *)d);
}

static bool eof(aio_protocol *self)
{
    printf("iteration %d %s eof_received\n", it, ((recorder *)self)->name);
    return false;
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

static aio_protocol plain;

static aio_protocol *make_plain(void *arg)
{
    (void)arg;
    return &plain;
}

/* connect_*_pipe(lambda: Recorder(name, lost), fd), awaited. */
static aio_transport *connect_pipe(recorder *r, const char *name, int fd, bool write_side)
{
    aio_loop *loop = aio_get_running_loop();
    *r = (recorder){.base = {.connection_made = made,
                             .data_received = data,
                             .eof_received = eof,
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

static void wait_lost(recorder *r, aio_transport *t)
{
    CHECK(aio_await(r->lost) == NULL && !aio_err_occurred());
    aio_decref(r->lost);
    (void)t;
}

static void *main_coro(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    CHECK(aio_sleep(0) == 0);
    recorder r;
    int p[2];

    CHECK(pipe(p) == 0);
    printf("iteration %d read start\n", it);
    aio_transport *t = connect_pipe(&r, "read", p[0], false);
    printf("iteration %d read connected %s %s\n", it, is_reading(t),
           py_bool(!(fcntl(p[0], F_GETFL) & O_NONBLOCK)));
    CHECK(write(p[1], "hello", 5) == 5);
    CHECK(aio_sleep(0) == 0);
    CHECK(aio_sleep(0) == 0);
    close(p[1]);
    printf("iteration %d writer closed\n", it);
    wait_lost(&r, t);
    printf("iteration %d read done %s\n", it, py_bool(aio_transport_is_closing(t)));
    aio_decref(t);

    CHECK(pipe(p) == 0);
    printf("iteration %d write start\n", it);
    t = connect_pipe(&r, "write", p[1], true);
    printf("iteration %d write connected %s %lld\n", it, py_bool(aio_transport_can_write_eof(t)),
           (long long)aio_transport_get_write_buffer_size(t));
    CHECK(aio_transport_write(t, "abc", 3) == 0);
    char buf[10];
    ssize_t n = read(p[0], buf, sizeof buf);
    printf("iteration %d read back b'%.*s'\n", it, (int)n, buf);
    close(p[0]);
    printf("iteration %d reader closed\n", it);
    wait_lost(&r, t);
    printf("iteration %d write done %s\n", it, py_bool(aio_transport_is_closing(t)));
    aio_decref(t);

    CHECK(pipe(p) == 0);
    t = connect_pipe(&r, "epipe", p[1], true);
    close(p[0]);
    CHECK(aio_transport_write(t, "x", 1) == 0);
    printf("iteration %d epipe written %s\n", it, py_bool(aio_transport_is_closing(t)));
    wait_lost(&r, t);
    printf("iteration %d epipe done\n", it);
    aio_decref(t);

    CHECK(pipe(p) == 0);
    t = connect_pipe(&r, "close", p[1], true);
    CHECK(aio_transport_close(t) == 0);
    CHECK(aio_transport_write(t, "late", 4) == 0);
    printf("iteration %d closed %s %lld\n", it, py_bool(aio_transport_is_closing(t)),
           (long long)aio_transport_get_write_buffer_size(t));
    wait_lost(&r, t);
    n = read(p[0], buf, sizeof buf);
    printf("iteration %d close done b'%.*s'\n", it, (int)n, buf);
    close(p[0]);
    aio_decref(t);

    FILE *f = tmpfile();
    CHECK(f);
    for (int i = 0; i < 2; i++) {
        aio_future *fut = i == 0 ? aio_loop_connect_read_pipe(loop, make_plain, NULL, fileno(f))
                                 : aio_loop_connect_write_pipe(loop, make_plain, NULL, fileno(f));
        if (fut == NULL || aio_await(fut) == NULL) {
            aio_exc *e = aio_err_fetch();
            CHECK(e);
            printf("iteration %d %s\n", it, exc_line(e));
            aio_decref(e);
        }
        aio_decref(fut);
    }
    fclose(f);
    return NULL;
}

int main(void)
{
    aio_run(main_coro, NULL, NULL);
    CHECK(!aio_err_occurred());
    return 0;
}
