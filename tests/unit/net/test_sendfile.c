/* test_sendfile.c - loop.sock_sendfile() and loop.sendfile() (base_events.py,
 * selector_events.py, unix_events.py, 3.11): sendfile(2) from regular
 * files, the read-and-send fallback (a pipe, a /proc file that sendfile(2)
 * refuses, or the fallback called alone as CPython's tests do), the file
 * position afterwards, the argument checks and their messages, and
 * loop.sendfile() over a socket transport: its buffer flushed first, writes
 * refused meanwhile, reading paused and resumed, the fallback through the
 * transport with its flow control.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "sock_sendfile.h"
#include "test_support.h"

/* --- Fixtures -------------------------------------------------------------------------- */

static void pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

static unsigned char pattern(size_t i)
{
    return (unsigned char)(i * 131 + (i >> 11));
}

/* A regular file of `size` pattern bytes, already unlinked. */
static int temp_file(size_t size)
{
    char path[] = "/tmp/casyncio-sendfile-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    unsigned char block[65536];
    for (size_t at = 0; at < size;) {
        size_t n = size - at < sizeof block ? size - at : sizeof block;
        for (size_t i = 0; i < n; i++)
            block[i] = pattern(at + i);
        assert_int_equal(write(fd, block, n), (ssize_t)n);
        at += n;
    }
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    return fd;
}

static int64_t position(int fd)
{
    return (int64_t)lseek(fd, 0, SEEK_CUR);
}

/* The peer's reader: everything that arrives, kept. */
typedef struct sink {
    int fd;
    unsigned char *got;
    size_t len;
    size_t cap;
} sink;

static void sink_cb(void *arg)
{
    sink *k = arg;
    for (;;) {
        if (k->len == k->cap) {
            k->cap = k->cap ? 2 * k->cap : 1 << 20;
            k->got = realloc(k->got, k->cap);
            assert_non_null(k->got);
        }
        ssize_t n = read(k->fd, k->got + k->len, k->cap - k->len);
        if (n <= 0)
            break;
        k->len += (size_t)n;
    }
}
AIO_NAME_CALLBACK(sink_cb);

static void sink_start(aio_loop *loop, sink *k, int fd)
{
    memset(k, 0, sizeof *k);
    k->fd = fd;
    assert_int_equal(aio_loop_add_reader(loop, fd, sink_cb, k, NULL), 0);
}

static void sink_stop(aio_loop *loop, sink *k)
{
    assert_int_equal(aio_loop_remove_reader(loop, k->fd), 1);
    free(k->got);
}

static void wait_done(aio_loop *loop, aio_future *fut)
{
    for (int i = 0; i < 200000 && aio_future_done(fut) != 1; i++)
        run_one_iteration(loop);
    assert_int_equal(aio_future_done(fut), 1);
}

static void wait_bytes(aio_loop *loop, sink *k, size_t n)
{
    for (int i = 0; i < 200000 && k->len < n; i++)
        run_one_iteration(loop);
    assert_int_equal(k->len, n);
}

static bool pattern_at(const unsigned char *data, size_t len, size_t from)
{
    for (size_t i = 0; i < len; i++) {
        if (data[i] != pattern(from + i))
            return false;
    }
    return true;
}

static const char *exc_line(aio_future *fut, char *out, size_t size)
{
    aio_exc *exc = aio_future_exception(fut);
    snprintf(out, size, "%s: %s", exc ? aio_exc_type_of(exc)->name : "none",
             exc ? aio_exc_str(exc) : "");
    return out;
}

/* --- sock_sendfile: native ---------------------------------------------------------------- */

static void test_native_whole_file(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    size_t size = 6u << 20;
    int file = temp_file(size);
    sink k;
    sink_start(loop, &k, sv[1]);
    aio_future *fut = aio_loop_sock_sendfile(
        loop, &(aio_loop_sock_sendfile_args){.sock = sv[0], .file = file});
    assert_non_null(fut);
    wait_done(loop, fut);
    assert_null(aio_future_exception(fut));
    assert_int_equal(AIO_RESULT_INT(aio_future_result(fut)), (int64_t)size);
    wait_bytes(loop, &k, size);
    assert_true(pattern_at(k.got, size, 0));
    assert_int_equal(position(file), (int64_t)size); /* file.seek(offset + sent) */
    aio_decref(fut);
    run_one_iteration(loop);
    assert_int_equal(aio_loop_remove_writer(loop, sv[0]), 0); /* no writer left */
    sink_stop(loop, &k);
    close(file);
    close(sv[0]);
    close(sv[1]);
    finish(loop);
}

static void test_native_offset_count(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    size_t size = 4u << 20;
    int file = temp_file(size);
    sink k;
    sink_start(loop, &k, sv[1]);
    int64_t offset = 1000, count = 3 << 20;
    aio_future *fut = aio_loop_sock_sendfile(
        loop, &(aio_loop_sock_sendfile_args){
                  .sock = sv[0], .file = file, .offset = offset, .count = count});
    wait_done(loop, fut);
    assert_int_equal(AIO_RESULT_INT(aio_future_result(fut)), count);
    wait_bytes(loop, &k, (size_t)count);
    assert_true(pattern_at(k.got, (size_t)count, (size_t)offset));
    assert_int_equal(position(file), offset + count);
    aio_decref(fut);
    /* Past the end: up to the end only. */
    k.len = 0;
    fut = aio_loop_sock_sendfile(loop, &(aio_loop_sock_sendfile_args){
                                           .sock = sv[0], .file = file,
                                           .offset = (int64_t)size - 10, .count = 100});
    wait_done(loop, fut);
    assert_int_equal(AIO_RESULT_INT(aio_future_result(fut)), 10);
    wait_bytes(loop, &k, 10);
    assert_int_equal(position(file), (int64_t)size);
    aio_decref(fut);
    sink_stop(loop, &k);
    close(file);
    close(sv[0]);
    close(sv[1]);
    finish(loop);
}

static void test_native_empty_file(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    int file = temp_file(0);
    aio_future *fut = aio_loop_sock_sendfile(
        loop, &(aio_loop_sock_sendfile_args){.sock = sv[0], .file = file});
    assert_int_equal(aio_future_done(fut), 1);
    assert_int_equal(AIO_RESULT_INT(aio_future_result(fut)), 0);
    assert_int_equal(position(file), 0);
    aio_decref(fut);
    close(file);
    close(sv[0]);
    close(sv[1]);
    finish(loop);
}

static void test_native_cancel(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    int file = temp_file(8u << 20);
    aio_future *fut = aio_loop_sock_sendfile(
        loop, &(aio_loop_sock_sendfile_args){.sock = sv[0], .file = file});
    run_one_iteration(loop);
    assert_int_equal(aio_future_done(fut), 0); /* the peer reads nothing */
    assert_int_equal(aio_future_cancel(fut, NULL), 1);
    run_one_iteration(loop);
    assert_int_equal(aio_loop_remove_writer(loop, sv[0]), 0); /* the writer went */
    aio_decref(fut);
    close(file);
    close(sv[0]);
    close(sv[1]);
    finish(loop);
}

/* The peer is gone: sendfile(2) fails first (no SIGPIPE), the fallback's
 * send() gives BrokenPipeError; without fallback SendfileNotAvailableError.
 * The fallback's read moved the position and nothing was sent, so it
 * stays there, as with CPython's file object. */
static void test_peer_closed(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    close(sv[1]);
    int file = temp_file(100);
    char line[256];
    aio_future *fut = aio_loop_sock_sendfile(
        loop, &(aio_loop_sock_sendfile_args){.sock = sv[0], .file = file});
    wait_done(loop, fut);
    assert_string_equal(exc_line(fut, line, sizeof line), "BrokenPipeError: [Errno 32] Broken pipe");
    assert_int_equal(position(file), 100);
    aio_decref(fut);
    fut = aio_loop_sock_sendfile(loop, &(aio_loop_sock_sendfile_args){
                                           .sock = sv[0], .file = file, .fallback = AIO_FALSE});
    wait_done(loop, fut);
    assert_string_equal(exc_line(fut, line, sizeof line),
                        "SendfileNotAvailableError: os.sendfile call failed");
    assert_int_equal(position(file), 100);
    aio_decref(fut);
    close(file);
    close(sv[0]);
    finish(loop);
}

/* --- sock_sendfile: the fallback ----------------------------------------------------------- */

static void test_fallback_alone(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    size_t size = (5u << 20) + 12345;
    int file = temp_file(size);
    sink k;
    sink_start(loop, &k, sv[1]);
    aio_future *fut = aio__sock_sendfile_fallback(loop, sv[0], file, 0, 0);
    assert_non_null(fut);
    wait_done(loop, fut);
    assert_null(aio_future_exception(fut));
    assert_int_equal(AIO_RESULT_INT(aio_future_result(fut)), (int64_t)size);
    wait_bytes(loop, &k, size);
    assert_true(pattern_at(k.got, size, 0));
    assert_int_equal(position(file), (int64_t)size);
    aio_decref(fut);
    /* offset and count, the count smaller than a block. */
    k.len = 0;
    fut = aio__sock_sendfile_fallback(loop, sv[0], file, 77, 1000);
    wait_done(loop, fut);
    assert_int_equal(AIO_RESULT_INT(aio_future_result(fut)), 1000);
    wait_bytes(loop, &k, 1000);
    assert_true(pattern_at(k.got, 1000, 77));
    assert_int_equal(position(file), 1077);
    aio_decref(fut);
    /* Cancelled while the socket is full. */
    sink_stop(loop, &k);
    fut = aio__sock_sendfile_fallback(loop, sv[0], file, 0, 0);
    for (int i = 0; i < 5; i++)
        run_one_iteration(loop);
    assert_int_equal(aio_future_done(fut), 0);
    assert_int_equal(aio_future_cancel(fut, NULL), 1);
    run_one_iteration(loop);
    assert_int_equal(aio_loop_remove_writer(loop, sv[0]), 0);
    aio_decref(fut);
    close(file);
    close(sv[0]);
    close(sv[1]);
    finish(loop);
}

/* A /proc file that sendfile(2) refuses (EINVAL), seekable: the fallback,
 * or SendfileNotAvailableError when it is not allowed. */
static void test_fallback_proc_file(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    int file = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    assert_true(file >= 0);
    char expected[4096];
    ssize_t len = read(file, expected, sizeof expected);
    assert_true(len > 0);
    assert_int_equal(lseek(file, 0, SEEK_SET), 0);
    aio_future *fut = aio_loop_sock_sendfile(
        loop, &(aio_loop_sock_sendfile_args){
                  .sock = sv[0], .file = file, .count = len, .fallback = AIO_FALSE});
    char line[256];
    wait_done(loop, fut);
    assert_string_equal(exc_line(fut, line, sizeof line),
                        "SendfileNotAvailableError: os.sendfile call failed");
    assert_int_equal(position(file), 0);
    aio_decref(fut);
    sink k;
    sink_start(loop, &k, sv[1]);
    fut = aio_loop_sock_sendfile(
        loop, &(aio_loop_sock_sendfile_args){.sock = sv[0], .file = file, .count = len});
    wait_done(loop, fut);
    assert_null(aio_future_exception(fut));
    assert_int_equal(AIO_RESULT_INT(aio_future_result(fut)), len);
    wait_bytes(loop, &k, (size_t)len);
    assert_memory_equal(k.got, expected, (size_t)len);
    assert_int_equal(position(file), len);
    aio_decref(fut);
    sink_stop(loop, &k);
    close(file);
    close(sv[0]);
    close(sv[1]);
    finish(loop);
}

/* A pipe: without count its size is 0, so nothing is sent (asyncio's
 * "empty file"); with count the fallback sends, and the final seek fails
 * (CPython's file object raises io.UnsupportedOperation there; a
 * descriptor gives ESPIPE). */
static void test_fallback_pipe(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int sv[2], p[2];
    pair(sv);
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_int_equal(write(p[1], "hello world", 11), 11);
    aio_future *fut = aio_loop_sock_sendfile(
        loop, &(aio_loop_sock_sendfile_args){.sock = sv[0], .file = p[0]});
    assert_int_equal(AIO_RESULT_INT(aio_future_result(fut)), 0);
    aio_decref(fut);
    fut = aio_loop_sock_sendfile(loop, &(aio_loop_sock_sendfile_args){
                                           .sock = sv[0], .file = p[0], .count = 5,
                                           .fallback = AIO_FALSE});
    char line[256];
    wait_done(loop, fut);
    assert_string_equal(exc_line(fut, line, sizeof line),
                        "SendfileNotAvailableError: os.sendfile call failed");
    aio_decref(fut);
    fut = aio_loop_sock_sendfile(
        loop, &(aio_loop_sock_sendfile_args){.sock = sv[0], .file = p[0], .count = 5});
    wait_done(loop, fut);
    assert_string_equal(exc_line(fut, line, sizeof line), "OSError: [Errno 29] Illegal seek");
    aio_decref(fut);
    char got[16];
    assert_int_equal(read(sv[1], got, sizeof got), 5);
    assert_memory_equal(got, "hello", 5);
    /* offset on a pipe: the first seek fails. */
    fut = aio_loop_sock_sendfile(loop, &(aio_loop_sock_sendfile_args){
                                           .sock = sv[0], .file = p[0], .offset = 1,
                                           .count = 5});
    wait_done(loop, fut);
    assert_string_equal(exc_line(fut, line, sizeof line), "OSError: [Errno 29] Illegal seek");
    aio_decref(fut);
    close(p[0]);
    close(p[1]);
    close(sv[0]);
    close(sv[1]);
    finish(loop);
}

/* --- sock_sendfile: the checks -------------------------------------------------------------- */

static void test_checks(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    int file = temp_file(10);
    assert_null(aio_loop_sock_sendfile(loop, &(aio_loop_sock_sendfile_args){
                                                 .sock = sv[0], .file = file, .count = AIO_ZERO}));
    assert_raised(aio_ValueError, "count must be a positive integer (got 0)");
    assert_null(aio_loop_sock_sendfile(
        loop, &(aio_loop_sock_sendfile_args){.sock = sv[0], .file = file, .count = -1}));
    assert_raised(aio_ValueError, "count must be a positive integer (got -1)");
    assert_null(aio_loop_sock_sendfile(
        loop, &(aio_loop_sock_sendfile_args){.sock = sv[0], .file = file, .offset = -1}));
    assert_raised(aio_ValueError, "offset must be a non-negative integer (got -1)");
    int udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_null(aio_loop_sock_sendfile(
        loop, &(aio_loop_sock_sendfile_args){.sock = udp, .file = file}));
    assert_raised(aio_ValueError, "only SOCK_STREAM type sockets are supported");
    close(udp);
    /* Debug mode: a blocking socket, before anything else. */
    int fl = fcntl(sv[0], F_GETFL);
    fcntl(sv[0], F_SETFL, fl & ~O_NONBLOCK);
    aio_loop_set_debug(loop, true);
    assert_null(aio_loop_sock_sendfile(loop, &(aio_loop_sock_sendfile_args){
                                                 .sock = sv[0], .file = file, .offset = -1}));
    assert_raised(aio_ValueError, "the socket must be non-blocking");
    aio_loop_set_debug(loop, false);
    fcntl(sv[0], F_SETFL, fl);
    /* A file that is not open: native is not possible, the fallback fails
     * reading it. */
    int closed = dup(file);
    close(closed);
    aio_future *fut = aio_loop_sock_sendfile(
        loop, &(aio_loop_sock_sendfile_args){.sock = sv[0], .file = closed});
    char line[256];
    wait_done(loop, fut);
    assert_string_equal(exc_line(fut, line, sizeof line), "OSError: [Errno 9] Bad file descriptor");
    aio_decref(fut);
    fut = aio_loop_sock_sendfile(loop, &(aio_loop_sock_sendfile_args){
                                           .sock = sv[0], .file = closed,
                                           .fallback = AIO_FALSE});
    wait_done(loop, fut);
    assert_string_equal(exc_line(fut, line, sizeof line),
                        "SendfileNotAvailableError: not a regular file");
    aio_decref(fut);
    close(file);
    close(sv[0]);
    close(sv[1]);
    finish(loop);
}

/* --- loop.sendfile() over a transport ------------------------------------------------------- */

typedef struct proto {
    aio_protocol base;
    aio_transport *t;
    int lost;
    int paused, resumed;
} proto;

static void p_made(aio_protocol *self, aio_transport *t)
{
    ((proto *)self)->t = t;
}
AIO_NAME_CALLBACK(p_made);

static void p_lost(aio_protocol *self, aio_exc *exc)
{
    (void)exc;
    ((proto *)self)->lost++;
}
AIO_NAME_CALLBACK(p_lost);

static void p_pause(aio_protocol *self)
{
    ((proto *)self)->paused++;
}
AIO_NAME_CALLBACK(p_pause);

static void p_resume(aio_protocol *self)
{
    ((proto *)self)->resumed++;
}
AIO_NAME_CALLBACK(p_resume);

static aio_protocol *give_proto(void *arg)
{
    return arg;
}
AIO_NAME_CALLBACK(give_proto);

static aio_transport *make_transport(aio_loop *loop, int fd, proto *p)
{
    memset(p, 0, sizeof *p);
    p->base.connection_made = p_made;
    p->base.connection_lost = p_lost;
    p->base.pause_writing = p_pause;
    p->base.resume_writing = p_resume;
    aio_future *fut = aio_loop_connect_accepted_socket(
        loop, &(aio_loop_connect_accepted_socket_args){.protocol_factory = give_proto,
                                                       .protocol_factory_arg = p,
                                                       .sock = fd});
    assert_non_null(fut);
    wait_done(loop, fut);
    aio_decref(fut);
    assert_non_null(p->t);
    return p->t;
}

static void close_transport(aio_loop *loop, aio_transport *t, proto *p)
{
    aio_transport_close(t);
    for (int i = 0; i < 1000 && p->lost == 0; i++)
        run_one_iteration(loop);
    assert_int_equal(p->lost, 1);
}

static void test_transport_native(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    proto p;
    aio_transport *t = make_transport(loop, sv[0], &p);
    /* Data buffered before: 2 MiB that the socket cannot take at once. */
    size_t before = 2u << 20;
    unsigned char *head = malloc(before);
    memset(head, 'H', before);
    assert_int_equal(aio_transport_write(t, head, before), 0);
    assert_true(aio_transport_get_write_buffer_size(t) > 0);
    size_t size = 5u << 20;
    int file = temp_file(size);
    aio_future *fut = aio_loop_sendfile(
        loop, &(aio_loop_sendfile_args){.transport = t, .file = file});
    assert_non_null(fut);
    assert_int_equal(aio_future_done(fut), 0);
    /* Meanwhile writes are refused, reading is paused, and the descriptor
     * is not the transport's. */
    assert_int_equal(aio_transport_write(t, "x", 1), -1);
    assert_raised(aio_RuntimeError, "unable to write; sendfile is in progress");
    assert_int_equal(aio_transport_is_reading(t), 0);
    sink k;
    sink_start(loop, &k, sv[1]);
    wait_done(loop, fut);
    assert_null(aio_future_exception(fut));
    assert_int_equal(AIO_RESULT_INT(aio_future_result(fut)), (int64_t)size);
    wait_bytes(loop, &k, before + size);
    for (size_t i = 0; i < before; i++)
        assert_int_equal(k.got[i], 'H');
    assert_true(pattern_at(k.got + before, size, 0));
    assert_int_equal(position(file), (int64_t)size);
    aio_decref(fut);
    /* Afterwards: writes go, reading is back, the descriptor is the transport's. */
    assert_int_equal(aio_transport_is_reading(t), 1);
    assert_int_equal(aio_transport_write(t, "after", 5), 0);
    wait_bytes(loop, &k, before + size + 5);
    assert_memory_equal(k.got + before + size, "after", 5);
    assert_int_equal(aio_loop_add_reader(loop, sv[0], noop, NULL, NULL), -1);
    assert_raised(aio_RuntimeError, NULL);
    sink_stop(loop, &k);
    close_transport(loop, t, &p);
    free(head);
    close(file);
    close(sv[1]);
    finish(loop);
}

static void test_transport_checks(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    proto p;
    aio_transport *t = make_transport(loop, sv[0], &p);
    int file = temp_file(100);
    /* Checks of sock_sendfile(), in the future (after the flush). */
    aio_future *fut = aio_loop_sendfile(
        loop, &(aio_loop_sendfile_args){.transport = t, .file = file, .offset = -5});
    wait_done(loop, fut);
    char line[256];
    assert_string_equal(exc_line(fut, line, sizeof line),
                        "ValueError: offset must be a non-negative integer (got -5)");
    aio_decref(fut);
    assert_int_equal(aio_transport_is_reading(t), 1); /* put back */
    assert_int_equal(aio_transport_write(t, "ok", 2), 0);
    fut = aio_loop_sendfile(loop, &(aio_loop_sendfile_args){.transport = t, .file = file,
                                                              .count = AIO_ZERO});
    wait_done(loop, fut);
    assert_string_equal(exc_line(fut, line, sizeof line),
                        "ValueError: count must be a positive integer (got 0)");
    aio_decref(fut);
    assert_null(aio_loop_sendfile(loop, &(aio_loop_sendfile_args){.file = file}));
    assert_raised(aio_AttributeError, "'NoneType' object has no attribute 'is_closing'");
    aio_incref(t); /* kept past its connection: a closed transport */
    close_transport(loop, t, &p);
    assert_null(aio_loop_sendfile(loop, &(aio_loop_sendfile_args){.transport = t, .file = file}));
    assert_raised(aio_RuntimeError, "Transport is closing");
    aio_decref(t);
    close(file);
    close(sv[1]);
    finish(loop);
}

/* The fallback through the transport: a pipe of 1 MiB (sendfile(2)
 * refuses pipes) written in 16 KiB blocks, pausing when the transport's
 * buffer passes its high-water mark while the peer reads nothing. */
static void test_transport_fallback(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int sv[2], pp[2];
    pair(sv);
    assert_int_equal(pipe2(pp, O_CLOEXEC | O_NONBLOCK), 0);
    size_t size = 1u << 20;
    assert_true(fcntl(pp[1], F_SETPIPE_SZ, (int)size) >= (int)size);
    unsigned char *data = malloc(size);
    for (size_t i = 0; i < size; i++)
        data[i] = pattern(i);
    assert_int_equal(write(pp[1], data, size), (ssize_t)size);
    proto p;
    aio_transport *t = make_transport(loop, sv[0], &p);
    /* fallback=False: SendfileNotAvailableError, nothing changed. */
    aio_future *fut = aio_loop_sendfile(loop, &(aio_loop_sendfile_args){
                                                  .transport = t, .file = pp[0],
                                                  .count = (int64_t)size,
                                                  .fallback = AIO_FALSE});
    char line[256];
    wait_done(loop, fut);
    assert_string_equal(exc_line(fut, line, sizeof line),
                        "SendfileNotAvailableError: os.sendfile call failed");
    aio_decref(fut);
    assert_int_equal(aio_transport_is_reading(t), 1);
    fut = aio_loop_sendfile(loop, &(aio_loop_sendfile_args){
                                      .transport = t, .file = pp[0], .count = (int64_t)size});
    for (int i = 0; i < 200; i++)
        run_one_iteration(loop);
    assert_int_equal(aio_future_done(fut), 0); /* paused: the peer reads nothing */
    assert_int_equal(p.paused, 0);             /* the fallback's protocol was told */
    assert_int_equal(aio_transport_is_reading(t), 0);
    sink k;
    sink_start(loop, &k, sv[1]);
    wait_done(loop, fut);
    /* All sent; then the pipe cannot seek (ESPIPE). */
    assert_string_equal(exc_line(fut, line, sizeof line), "OSError: [Errno 29] Illegal seek");
    aio_decref(fut);
    wait_bytes(loop, &k, size);
    assert_true(pattern_at(k.got, size, 0));
    /* The program's protocol is back, reading too. */
    assert_int_equal(aio_transport_is_reading(t), 1);
    assert_ptr_equal(aio_transport_get_protocol(t), &p.base);
    sink_stop(loop, &k);
    close_transport(loop, t, &p);
    free(data);
    close(pp[0]);
    close(pp[1]);
    close(sv[1]);
    finish(loop);
}

/* The fallback from a seekable file sendfile(2) refuses: the position. */
static void test_transport_fallback_proc(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    int file = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    char expected[4096];
    ssize_t len = read(file, expected, sizeof expected);
    assert_true(len > 0);
    lseek(file, 0, SEEK_SET);
    proto p;
    aio_transport *t = make_transport(loop, sv[0], &p);
    sink k;
    sink_start(loop, &k, sv[1]);
    aio_future *fut = aio_loop_sendfile(
        loop, &(aio_loop_sendfile_args){.transport = t, .file = file, .count = len});
    wait_done(loop, fut);
    assert_null(aio_future_exception(fut));
    assert_int_equal(AIO_RESULT_INT(aio_future_result(fut)), len);
    wait_bytes(loop, &k, (size_t)len);
    assert_memory_equal(k.got, expected, (size_t)len);
    assert_int_equal(position(file), len);
    aio_decref(fut);
    sink_stop(loop, &k);
    close_transport(loop, t, &p);
    close(file);
    close(sv[1]);
    finish(loop);
}

/* The peer goes away during the native send: the future fails, the
 * transport's protocol hears it once. */
static void test_transport_peer_gone(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    proto p;
    aio_transport *t = make_transport(loop, sv[0], &p);
    int file = temp_file(8u << 20);
    aio_future *fut = aio_loop_sendfile(
        loop, &(aio_loop_sendfile_args){.transport = t, .file = file});
    run_one_iteration(loop);
    close(sv[1]);
    wait_done(loop, fut);
    assert_non_null(aio_future_exception(fut));
    assert_true(aio_exc_isinstance(aio_future_exception(fut), aio_OSError));
    aio_decref(fut);
    close_transport(loop, t, &p);
    close(file);
    finish(loop);
}

/* A second sendfile() while one runs: CPython's KeyError of the
 * descriptor. Cancelling the first gives the transport back. */
static void test_transport_concurrent_cancel(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    proto p;
    aio_transport *t = make_transport(loop, sv[0], &p);
    int file = temp_file(8u << 20);
    aio_future *fut = aio_loop_sendfile(
        loop, &(aio_loop_sendfile_args){.transport = t, .file = file});
    run_one_iteration(loop);
    assert_int_equal(aio_future_done(fut), 0); /* the peer reads nothing */
    assert_null(aio_loop_sendfile(loop, &(aio_loop_sendfile_args){.transport = t, .file = file}));
    /* KeyError(fd); C's KeyError holds a string, so its str() is quoted. */
    assert_raised(aio_KeyError, NULL);
    assert_int_equal(aio_loop_add_reader(loop, sv[0], noop, NULL, NULL), 0); /* not the transport's */
    assert_int_equal(aio_loop_remove_reader(loop, sv[0]), 1);
    assert_int_equal(aio_future_cancel(fut, NULL), 1);
    run_one_iteration(loop); /* the future's callback cancels sock_sendfile()'s */
    run_one_iteration(loop); /* whose callbacks remove its writer, then restore */
    assert_int_equal(aio_transport_is_reading(t), 1);
    assert_int_equal(aio_transport_write(t, "x", 1), 0);
    assert_int_equal(aio_loop_add_reader(loop, sv[0], noop, NULL, NULL), -1);
    assert_raised(aio_RuntimeError, NULL);
    aio_decref(fut);
    close(sv[1]); /* the peer never reads: its going ends the flush */
    close_transport(loop, t, &p);
    close(file);
    finish(loop);
}

/* --- Memory running out ------------------------------------------------------------- */

enum { VIA_SOCK, VIA_FALLBACK, VIA_TRANSPORT, VIA_TRANSPORT_FALLBACK };

/* sendfile with its n-th allocation failing: MemoryError from the call or
 * in the future (or the future ends well), nothing leaks, the transport is
 * usable after. True when no allocation failed. */
static bool sendfile_failing(int via, long n)
{
    aio_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    int file = temp_file(300000);
    int pp[2] = {-1, -1};
    proto p;
    aio_transport *t = NULL;
    if (via >= VIA_TRANSPORT)
        t = make_transport(loop, sv[0], &p);
    if (via == VIA_TRANSPORT_FALLBACK) {
        assert_int_equal(pipe2(pp, O_CLOEXEC), 0);
        assert_int_equal(write(pp[1], "0123456789", 10), 10);
    }
    aio__fail_alloc_after = n;
    aio_future *fut = NULL;
    switch (via) {
    case VIA_SOCK:
        fut = aio_loop_sock_sendfile(
            loop, &(aio_loop_sock_sendfile_args){.sock = sv[0], .file = file});
        break;
    case VIA_FALLBACK:
        fut = aio__sock_sendfile_fallback(loop, sv[0], file, 0, 0);
        break;
    case VIA_TRANSPORT:
        fut = aio_loop_sendfile(loop, &(aio_loop_sendfile_args){.transport = t, .file = file});
        break;
    default:
        fut = aio_loop_sendfile(
            loop, &(aio_loop_sendfile_args){.transport = t, .file = pp[0], .count = 10});
        break;
    }
    static char drained[1 << 20];
    for (int i = 0; i < 200 && fut != NULL && aio_future_done(fut) != 1; i++) {
        while (read(sv[1], drained, sizeof drained) > 0)
            ;
        aio_loop_stop(loop);
        aio_loop_run_forever(loop);
        aio_err_clear();
    }
    bool untouched = aio__fail_alloc_after >= 0;
    aio__fail_alloc_after = -1;
    if (fut == NULL) {
        assert_raised(aio_MemoryError, NULL);
    } else {
        if (aio_future_done(fut) != 1) {
            aio_future_cancel(fut, NULL);
            for (int i = 0; i < 3; i++)
                run_one_iteration(loop);
        }
        aio_exc *exc = aio_future_cancelled(fut) == 1 ? NULL : aio_future_exception(fut);
        /* The pipe's final seek fails once anything was sent (ESPIPE). */
        if (exc != NULL && !aio_exc_isinstance(exc, aio_MemoryError))
            assert_int_equal(via, VIA_TRANSPORT_FALLBACK);
        aio_decref(fut);
    }
    aio_err_clear();
    if (t != NULL) {
        assert_int_equal(aio_transport_is_reading(t), 1);
        close(sv[1]);
        close_transport(loop, t, &p);
    } else {
        close(sv[0]);
        close(sv[1]);
    }
    if (pp[0] >= 0) {
        close(pp[0]);
        close(pp[1]);
    }
    close(file);
    finish(loop);
    return untouched;
}

static void test_each_allocation_failing(void **state)
{
    (void)state;
    for (int via = VIA_SOCK; via <= VIA_TRANSPORT_FALLBACK; via++) {
        long n;
        for (n = 0; n < 200 && !sendfile_failing(via, n); n++)
            ;
        assert_true(n > 0 && n < 200);
    }
}

/* The loop closes while sendfile() runs (native, then the fallback): the
 * transport is let go of as its __del__ would, the program's protocol is
 * released once, and the future can be dropped afterwards. */
static int released;

static void count_release(aio_protocol *self)
{
    (void)self;
    released++;
}
AIO_NAME_CALLBACK(count_release);

static void test_loop_closed_during_sendfile(void **state)
{
    (void)state;
    for (int fallback = 0; fallback < 2; fallback++) {
        aio_loop *loop = new_loop();
        int sv[2], pp[2];
        pair(sv);
        assert_int_equal(pipe2(pp, O_CLOEXEC | O_NONBLOCK), 0);
        assert_true(fcntl(pp[1], F_SETPIPE_SZ, 1 << 20) >= 1 << 20);
        static char data[1 << 20];
        assert_int_equal(write(pp[1], data, sizeof data), (ssize_t)sizeof data);
        int file = temp_file(8u << 20);
        proto p;
        aio_transport *t = make_transport(loop, sv[0], &p);
        p.base.release = count_release;
        released = 0;
        aio_future *fut = aio_loop_sendfile(
            loop, &(aio_loop_sendfile_args){.transport = t,
                                            .file = fallback ? pp[0] : file,
                                            .count = fallback ? (int64_t)sizeof data : 0});
        assert_non_null(fut);
        for (int i = 0; i < 50; i++)
            run_one_iteration(loop);
        assert_int_equal(aio_future_done(fut), 0); /* the peer reads nothing */
        aio_loop_close(loop);
        aio_err_clear();
        aio_decref(fut);
        aio_decref(loop);
        assert_int_equal(released, 1);
        assert_int_equal(p.lost, 0);
        close(sv[1]);
        close(pp[0]);
        close(pp[1]);
        close(file);
        assert_no_leaks();
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_native_whole_file),
    cmocka_unit_test(test_native_offset_count),
    cmocka_unit_test(test_native_empty_file),
    cmocka_unit_test(test_native_cancel),
    cmocka_unit_test(test_peer_closed),
    cmocka_unit_test(test_fallback_alone),
    cmocka_unit_test(test_fallback_proc_file),
    cmocka_unit_test(test_fallback_pipe),
    cmocka_unit_test(test_checks),
    cmocka_unit_test(test_transport_native),
    cmocka_unit_test(test_transport_checks),
    cmocka_unit_test(test_transport_fallback),
    cmocka_unit_test(test_transport_fallback_proc),
    cmocka_unit_test(test_transport_peer_gone),
    cmocka_unit_test(test_transport_concurrent_cancel),
    cmocka_unit_test(test_each_allocation_failing),
    cmocka_unit_test(test_loop_closed_during_sendfile),
};

AIO_TEST_MAIN(tests)
