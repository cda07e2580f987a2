/* test_pipes.c - loop.connect_read_pipe() and loop.connect_write_pipe()
 * (unix_events.py 3.11: _UnixReadPipeTransport, _UnixWritePipeTransport)
 * over pipe(2) pairs, a FIFO, a socketpair, a character device and a
 * regular file (refused). The test drives the other end by hand.
 *
 * SIGPIPE stays at its default disposition throughout: a write to a pipe
 * whose reader is gone must give BrokenPipeError, never kill the test.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_support.h"

/* --- A protocol that records what it is told ----------------------------------------- */

typedef struct rec_protocol {
    aio_protocol base;
    trace *t;
    aio_transport *transport;
    size_t received;
    unsigned char *sink;        /* data_received() copies here when set */
    size_t sink_cap;
    int lost;
    char lost_exc[128];
    int released;
    int pauses, resumes;
    bool pause_on_data;         /* pause_reading() from data_received() */
} rec_protocol;

static rec_protocol *rec(aio_protocol *self)
{
    return (rec_protocol *)self;
}

static void rec_connection_made(aio_protocol *self, aio_transport *t)
{
    rec(self)->transport = t;
    trace_add(rec(self)->t, "made;");
}
AIO_NAME_CALLBACK(rec_connection_made);

static void rec_data_received(aio_protocol *self, const void *data, size_t len)
{
    rec_protocol *p = rec(self);
    if (p->sink != NULL && p->received + len <= p->sink_cap)
        memcpy(p->sink + p->received, data, len);
    p->received += len;
    if (p->sink == NULL)
        trace_add(p->t, "data(%zu);", len);
    if (p->pause_on_data)
        assert_int_equal(aio_transport_pause_reading(p->transport), 0);
}
AIO_NAME_CALLBACK(rec_data_received);

static bool rec_eof_received(aio_protocol *self)
{
    trace_add(rec(self)->t, "eof;");
    return true; /* ignored by a pipe transport */
}
AIO_NAME_CALLBACK(rec_eof_received);

static void rec_connection_lost(aio_protocol *self, aio_exc *exc)
{
    rec_protocol *p = rec(self);
    p->lost++;
    repr_copy(exc, p->lost_exc, sizeof p->lost_exc);
    trace_add(p->t, "lost(%s);", p->lost_exc);
}
AIO_NAME_CALLBACK(rec_connection_lost);

static void rec_pause_writing(aio_protocol *self)
{
    rec(self)->pauses++;
    trace_add(rec(self)->t, "pause;");
}
AIO_NAME_CALLBACK(rec_pause_writing);

static void rec_resume_writing(aio_protocol *self)
{
    rec(self)->resumes++;
    trace_add(rec(self)->t, "resume;");
}
AIO_NAME_CALLBACK(rec_resume_writing);

static void rec_release(aio_protocol *self)
{
    rec(self)->released++;
}
AIO_NAME_CALLBACK(rec_release);

static void rec_init(rec_protocol *p, trace *t)
{
    memset(p, 0, sizeof *p);
    p->t = t;
    p->base.connection_made = rec_connection_made;
    p->base.data_received = rec_data_received;
    p->base.eof_received = rec_eof_received;
    p->base.connection_lost = rec_connection_lost;
    p->base.pause_writing = rec_pause_writing;
    p->base.resume_writing = rec_resume_writing;
    p->base.release = rec_release;
}

static aio_protocol *give_protocol(void *arg)
{
    return arg;
}
AIO_NAME_CALLBACK(give_protocol);

static bool is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

/* --- A pipe transport to test ------------------------------------------------------------ */

typedef struct pconn {
    aio_loop *loop;
    trace t;
    rec_protocol proto;
    aio_future *fut;
    aio_transport *transport;
    int fd;     /* the transport's end */
    int peer;   /* the other end, ours */
} pconn;

static void pconn_start(pconn *c, int fd, int peer, bool write_side)
{
    memset(&c->t, 0, sizeof c->t);
    c->loop = new_loop();
    rec_init(&c->proto, &c->t);
    c->fd = fd;
    c->peer = peer;
    c->fut = write_side ? aio_loop_connect_write_pipe(c->loop, give_protocol, &c->proto, fd)
                        : aio_loop_connect_read_pipe(c->loop, give_protocol, &c->proto, fd);
    assert_non_null(c->fut);
    run_until_future_done(c->loop, c->fut);
    const aio_transport_protocol *pair = aio_future_result(c->fut);
    assert_non_null(pair);
    assert_ptr_equal(pair->protocol, &c->proto.base);
    c->transport = pair->transport;
    assert_ptr_equal(c->proto.transport, c->transport);
}

static void pipe_read_conn(pconn *c)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pconn_start(c, p[0], p[1], false);
}

static void pipe_write_conn(pconn *c)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pconn_start(c, p[1], p[0], true);
}

static void run_until_lost(pconn *c, int n)
{
    for (int i = 0; i < n && c->proto.lost == 0; i++)
        run_one_iteration(c->loop);
}

static void pconn_end(pconn *c)
{
    if (c->proto.lost == 0) {
        aio_transport_close(c->transport);
        aio_err_clear();
        run_until_lost(c, 5);
        if (c->proto.lost == 0) {
            aio_transport_abort(c->transport);
            aio_err_clear();
            run_until_lost(c, 5);
        }
    }
    assert_int_equal(c->proto.lost, 1);
    assert_int_equal(c->proto.released, 1);
    assert_false(is_open(c->fd)); /* the transport closed its pipe */
    aio_decref(c->fut);
    if (c->peer >= 0)
        close(c->peer);
    finish(c->loop);
}

/* --- Reading ------------------------------------------------------------------------------ */

/* made in the first iteration, then data, then at end of file eof_received()
 * and connection_lost(None) in the iteration after the read found it. */
static void test_read_order(void **state)
{
    (void)state;
    pconn c;
    pipe_read_conn(&c);
    assert_string_equal(c.t.text, "made;");
    assert_true(fcntl(c.fd, F_GETFL) & O_NONBLOCK);
    assert_int_equal(aio_transport_is_reading(c.transport), 1);
    assert_int_equal(write(c.peer, "hello", 5), 5);
    run_one_iteration(c.loop);
    assert_string_equal(c.t.text, "made;data(5);");
    close(c.peer);
    c.peer = -1;
    run_one_iteration(c.loop); /* the read finds EOF: closing, nothing called yet */
    assert_string_equal(c.t.text, "made;data(5);");
    assert_int_equal(aio_transport_is_closing(c.transport), 1);
    assert_int_equal(aio_transport_is_reading(c.transport), 0);
    run_one_iteration(c.loop);
    assert_string_equal(c.t.text, "made;data(5);eof;lost(None);");
    pconn_end(&c);
}

static void test_read_pause_resume(void **state)
{
    (void)state;
    pconn c;
    pipe_read_conn(&c);
    assert_int_equal(aio_transport_pause_reading(c.transport), 0);
    assert_int_equal(aio_transport_is_reading(c.transport), 0);
    assert_int_equal(aio_transport_pause_reading(c.transport), 0); /* twice: nothing */
    assert_int_equal(write(c.peer, "abc", 3), 3);
    for (int i = 0; i < 3; i++)
        run_one_iteration(c.loop);
    assert_string_equal(c.t.text, "made;");
    assert_int_equal(aio_transport_resume_reading(c.transport), 0);
    assert_int_equal(aio_transport_is_reading(c.transport), 1);
    run_one_iteration(c.loop);
    assert_string_equal(c.t.text, "made;data(3);");
    /* a read transport has no write(): AttributeError */
    assert_int_equal(aio_transport_write(c.transport, "x", 1), -1);
    assert_raised(aio_AttributeError,
                  "'_UnixReadPipeTransport' object has no attribute 'write'");
    assert_int_equal(aio_transport_abort(c.transport), -1);
    assert_raised(aio_AttributeError,
                  "'_UnixReadPipeTransport' object has no attribute 'abort'");
    const int *pipe_fd = aio_transport_get_extra_info(
        c.transport, &(aio_transport_get_extra_info_args){.name = "pipe"});
    assert_non_null(pipe_fd);
    assert_int_equal(*pipe_fd, c.fd);
    assert_int_equal(aio_transport_get_pipe(c.transport), c.fd);
    assert_null(aio_transport_get_extra_info(
        c.transport, &(aio_transport_get_extra_info_args){.name = "socket"}));
    assert_int_equal(aio_transport_get_socket(c.transport), -1);
    char repr[128];
    snprintf(repr, sizeof repr, "<_UnixReadPipeTransport fd=%d polling>", c.fd);
    assert_repr(c.transport, repr);
    assert_int_equal(aio_transport_close(c.transport), 0);
    snprintf(repr, sizeof repr, "<_UnixReadPipeTransport closing fd=%d idle>", c.fd);
    assert_repr(c.transport, repr);
    /* closed while paused: resume does nothing */
    assert_int_equal(aio_transport_resume_reading(c.transport), 0);
    run_until_lost(&c, 3);
    assert_string_equal(c.t.text, "made;data(3);lost(None);");
    pconn_end(&c);
}

/* A FIFO in a temporary directory; its writer going away is the end of
 * file; the FIFO's node stays the program's. */
static void test_fifo_writer_goes_away(void **state)
{
    (void)state;
    char dir[] = "/tmp/casyncio-pipes-XXXXXX";
    char path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/fifo", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    int rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    assert_true(rfd >= 0);
    int wfd = open(path, O_WRONLY | O_CLOEXEC);
    assert_true(wfd >= 0);
    pconn c;
    pconn_start(&c, rfd, wfd, false);
    assert_int_equal(write(wfd, "fifo", 4), 4);
    run_one_iteration(c.loop);
    close(wfd);
    c.peer = -1;
    run_until_lost(&c, 5);
    assert_string_equal(c.t.text, "made;data(4);eof;lost(None);");
    pconn_end(&c);
    unlink(path);
    rmdir(dir);
}

/* A socket works both ways: read one end, write the other, in one loop. */
static void test_socketpair(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    aio_loop *loop = new_loop();
    trace rt = {0}, wt = {0};
    rec_protocol rp, wp;
    rec_init(&rp, &rt);
    rec_init(&wp, &wt);
    aio_future *rf = aio_loop_connect_read_pipe(loop, give_protocol, &rp, sv[0]);
    aio_future *wf = aio_loop_connect_write_pipe(loop, give_protocol, &wp, sv[1]);
    assert_non_null(rf);
    assert_non_null(wf);
    run_until_future_done(loop, rf);
    run_until_future_done(loop, wf);
    assert_int_equal(aio_transport_write(wp.transport, "sock", 4), 0);
    run_one_iteration(loop);
    assert_string_equal(rt.text, "made;data(4);");
    assert_int_equal(aio_transport_close(wp.transport), 0);
    for (int i = 0; i < 5 && rp.lost == 0; i++)
        run_one_iteration(loop);
    assert_string_equal(wt.text, "made;lost(None);");
    assert_string_equal(rt.text, "made;data(4);eof;lost(None);");
    assert_int_equal(rp.released + wp.released, 2);
    assert_false(is_open(sv[0]));
    assert_false(is_open(sv[1]));
    aio_decref(rf);
    aio_decref(wf);
    finish(loop);
}

/* A character device is accepted (/dev/null: writes vanish, reads end at
 * once); a regular file is refused with asyncio's messages, after the
 * factory was called (its protocol released), the descriptor untouched. */
static void test_kinds(void **state)
{
    (void)state;
    int nfd = open("/dev/null", O_RDWR | O_CLOEXEC);
    assert_true(nfd >= 0);
    pconn c;
    pconn_start(&c, nfd, -1, true);
    assert_int_equal(aio_transport_write(c.transport, "gone", 4), 0);
    assert_int_equal(aio_transport_get_write_buffer_size(c.transport), 0);
    pconn_end(&c);

    nfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pconn_start(&c, nfd, -1, false);
    run_until_lost(&c, 5);
    assert_string_equal(c.t.text, "made;eof;lost(None);");
    pconn_end(&c);

    aio_loop *loop = new_loop();
    trace t = {0};
    rec_protocol p;
    rec_init(&p, &t);
    char tmpl[] = "/tmp/casyncio-pipes-file-XXXXXX";
    int ffd = mkstemp(tmpl);
    assert_true(ffd >= 0);
    unlink(tmpl);
    int flags = fcntl(ffd, F_GETFL);
    assert_null(aio_loop_connect_read_pipe(loop, give_protocol, &p, ffd));
    assert_raised(aio_ValueError, "Pipe transport is for pipes/sockets only.");
    assert_int_equal(p.released, 1);
    assert_null(aio_loop_connect_write_pipe(loop, give_protocol, &p, ffd));
    assert_raised(aio_ValueError,
                  "Pipe transport is only for pipes, sockets and character devices");
    assert_int_equal(p.released, 2);
    assert_int_equal(fcntl(ffd, F_GETFL), flags); /* not made non-blocking */
    close(ffd);
    /* a descriptor that is not open: OSError(EBADF) */
    assert_null(aio_loop_connect_read_pipe(loop, give_protocol, &p, 900));
    assert_raised(aio_OSError, NULL);
    /* no factory */
    assert_null(aio_loop_connect_read_pipe(loop, NULL, NULL, 900));
    assert_raised(aio_TypeError, "'NoneType' object is not callable");
    assert_string_equal(t.text, "");
    finish(loop);
}

/* fd 0 is a pipe like any other. */
static void test_fd_zero(void **state)
{
    (void)state;
    int saved = dup(0);
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(dup2(p[0], 0), 0);
    close(p[0]);
    pconn c;
    pconn_start(&c, 0, p[1], false);
    assert_int_equal(aio_transport_get_pipe(c.transport), 0);
    assert_int_equal(write(p[1], "z", 1), 1);
    run_one_iteration(c.loop);
    assert_string_equal(c.t.text, "made;data(1);");
    pconn_end(&c);
    assert_int_equal(dup2(saved, 0), 0);
    close(saved);
}

/* A pty's master is a character device; the slave closing is EIO on the
 * master: only logged in debug mode, connection_lost(OSError(EIO)). An
 * exception of data_received() is its callback's ('Exception in callback
 * _UnixReadPipeTransport._read_ready()'), and the transport goes on. */
static bool raise_once;

static void raising_data_received(aio_protocol *self, const void *data, size_t len)
{
    rec_data_received(self, data, len);
    if (raise_once) {
        raise_once = false;
        aio_err_set(aio_RuntimeError, "boom");
    }
}
AIO_NAME_CALLBACK(raising_data_received);

static void test_pty_eio_and_raising_protocol(void **state)
{
    (void)state;
    /* A chroot or container without /dev/pts has no pty to give. */
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) {
        print_message("skipped: no pseudo-terminal here (posix_openpt: %s)\n", strerror(errno));
        skip();
    }
    assert_int_equal(grantpt(m), 0);
    assert_int_equal(unlockpt(m), 0);
    const char *name = ptsname(m);
    int s = name != NULL ? open(name, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
    if (s < 0) {
        print_message("skipped: the pty's slave cannot be opened here (%s)\n", strerror(errno));
        close(m);
        skip();
    }
    pconn c;
    memset(&c.t, 0, sizeof c.t);
    c.loop = new_loop();
    handler_report r = {0};
    aio_loop_set_exception_handler(c.loop, report_handler, &r);
    rec_init(&c.proto, &c.t);
    c.proto.base.data_received = raising_data_received;
    c.fd = m;
    c.peer = -1;
    c.fut = aio_loop_connect_read_pipe(c.loop, give_protocol, &c.proto, m);
    assert_non_null(c.fut);
    run_until_future_done(c.loop, c.fut);
    c.transport = ((const aio_transport_protocol *)aio_future_result(c.fut))->transport;
    raise_once = true;
    assert_int_equal(write(s, "hi\n", 3), 3);
    for (int i = 0; i < 50 && c.proto.received == 0; i++) {
        run_one_iteration(c.loop);
        if (c.proto.received == 0)
            sleep_ms(1);
    }
    assert_int_equal(r.calls, 1);
    assert_string_equal(r.message, "Exception in callback _UnixReadPipeTransport._read_ready()");
    assert_string_equal(r.exception, "RuntimeError('boom')");
    assert_int_equal(aio_transport_is_closing(c.transport), 0);
    close(s);
    for (int i = 0; i < 50 && c.proto.lost == 0; i++) {
        run_one_iteration(c.loop);
        if (c.proto.lost == 0)
            sleep_ms(1);
    }
    assert_string_equal(c.proto.lost_exc, "OSError(5, 'Input/output error')");
    assert_int_equal(r.calls, 1); /* EIO is not reported */
    pconn_end(&c);
}

/* writelines() joins; write_eof() ends the connection once the buffer is
 * written; write() after it is dropped. */
static void test_writelines_write_eof(void **state)
{
    (void)state;
    pconn c;
    pipe_write_conn(&c);
    const aio_bytes_view parts[] = {{"ab", 2}, {"", 0}, {"cde", 3}};
    assert_int_equal(aio_transport_writelines(c.transport, parts, 3), 0);
    assert_int_equal(aio_transport_write_eof(c.transport), 0);
    assert_int_equal(aio_transport_is_closing(c.transport), 1);
    assert_int_equal(aio_transport_write_eof(c.transport), 0);
    assert_int_equal(aio_transport_write(c.transport, "z", 1), 0);
    run_until_lost(&c, 3);
    assert_string_equal(c.t.text, "made;lost(None);");
    char buf[16];
    assert_int_equal(read(c.peer, buf, sizeof buf), 5);
    assert_memory_equal(buf, "abcde", 5);
    assert_int_equal(read(c.peer, buf, sizeof buf), 0); /* closed */
    /* the transport kept past its connection answers like a closed one */
    char repr[96];
    snprintf(repr, sizeof repr, "<_UnixWritePipeTransport closed fd=%d closed>", c.fd);
    assert_repr(c.transport, repr);
    assert_int_equal(aio_transport_abort(c.transport), 0);
    assert_int_equal(aio_transport_close(c.transport), 0);
    assert_int_equal(aio_transport_get_pipe(c.transport), c.fd);
    pconn_end(&c);
}

/* Debug mode: "Read pipe N connected: (...)" once the pair is there, and
 * "... was closed by peer" at end of file. */
static void test_debug_logs(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    aio_loop *loop = new_loop();
    aio_loop_set_debug(loop, true);
    trace t = {0};
    rec_protocol rp;
    rec_init(&rp, &t);
    log_record log;
    log_record_start(&log);
    int level = aio_log_get_level();
    aio_log_set_level(AIO_LOG_DEBUG);
    aio_future *fut = aio_loop_connect_read_pipe(loop, give_protocol, &rp, p[0]);
    assert_non_null(fut);
    run_until_future_done(loop, fut);
    run_one_iteration(loop);
    char want[128];
    snprintf(want, sizeof want, "Read pipe %d connected: (<_UnixReadPipeTransport fd=%d polling>, ",
             p[0], p[0]);
    if (strncmp(log.message, want, strlen(want)) != 0)
        fail_msg("got: %s", log.message);
    close(p[1]);
    for (int i = 0; i < 5 && rp.lost == 0; i++) {
        run_one_iteration(loop);
        if (log.level == AIO_LOG_INFO)
            break;
    }
    snprintf(want, sizeof want, "<_UnixReadPipeTransport fd=%d polling> was closed by peer", p[0]);
    assert_string_equal(log.message, want);
    log_record_stop();
    aio_log_set_level(level);
    for (int i = 0; i < 5 && rp.lost == 0; i++)
        run_one_iteration(loop);
    assert_int_equal(rp.lost, 1);
    aio_decref(fut);
    finish(loop);
}

/* --- Writing ----------------------------------------------------------------------------- */

static size_t drain(int fd, size_t max)
{
    char buf[65536];
    size_t total = 0;
    while (total < max) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            break;
        total += (size_t)n;
    }
    return total;
}

/* Flow control: a reader that does not read fills the pipe, the buffer
 * passes the high-water mark (pause_writing once), then the reader reads
 * and the buffer empties (resume_writing once). */
static void test_write_flow_control(void **state)
{
    (void)state;
    pconn c;
    pipe_write_conn(&c);
    assert_int_equal(aio_transport_can_write_eof(c.transport), 1);
    aio_write_buffer_limits lim = aio_transport_get_write_buffer_limits(c.transport);
    assert_int_equal(lim.high, 64 * 1024);
    assert_int_equal(lim.low, 16 * 1024);
    static char block[32 * 1024];
    memset(block, 'w', sizeof block);
    size_t written = 0;
    while (c.proto.pauses == 0) {
        assert_int_equal(aio_transport_write(c.transport, block, sizeof block), 0);
        written += sizeof block;
        assert_true(written < 64 * 1024 * 1024);
    }
    assert_true(aio_transport_get_write_buffer_size(c.transport) > 64 * 1024);
    char repr[128];
    snprintf(repr, sizeof repr, "<_UnixWritePipeTransport fd=%d polling bufsize=%lld>", c.fd,
             (long long)aio_transport_get_write_buffer_size(c.transport));
    assert_repr(c.transport, repr);
    fcntl(c.peer, F_SETFL, O_NONBLOCK);
    size_t got = 0;
    for (int i = 0; i < 10000 && aio_transport_get_write_buffer_size(c.transport) > 0; i++) {
        got += drain(c.peer, SIZE_MAX);
        run_one_iteration(c.loop);
    }
    got += drain(c.peer, SIZE_MAX);
    assert_int_equal(got, written);
    assert_int_equal(c.proto.pauses, 1);
    assert_int_equal(c.proto.resumes, 1);
    pconn_end(&c);
}

/* close() with data buffered: connection_lost() once it is written. */
static void test_close_flushes(void **state)
{
    (void)state;
    pconn c;
    pipe_write_conn(&c);
    static char block[256 * 1024];
    memset(block, 'c', sizeof block);
    assert_int_equal(aio_transport_write(c.transport, block, sizeof block), 0);
    assert_true(aio_transport_get_write_buffer_size(c.transport) > 0);
    assert_int_equal(aio_transport_close(c.transport), 0);
    assert_int_equal(aio_transport_is_closing(c.transport), 1);
    /* writes after close are dropped */
    assert_int_equal(aio_transport_write(c.transport, "late", 4), 0);
    fcntl(c.peer, F_SETFL, O_NONBLOCK);
    size_t got = 0;
    for (int i = 0; i < 1000 && c.proto.lost == 0; i++) {
        got += drain(c.peer, SIZE_MAX);
        run_one_iteration(c.loop);
    }
    got += drain(c.peer, SIZE_MAX);
    assert_int_equal(got, sizeof block);
    assert_string_equal(c.t.text, "made;pause;resume;lost(None);");
    pconn_end(&c);
}

/* abort() drops the buffer: connection_lost(None) in the next iteration. */
static void test_abort(void **state)
{
    (void)state;
    pconn c;
    pipe_write_conn(&c);
    static char block[256 * 1024];
    memset(block, 'a', sizeof block);
    assert_int_equal(aio_transport_write(c.transport, block, sizeof block), 0);
    assert_int_equal(aio_transport_abort(c.transport), 0);
    assert_int_equal(aio_transport_get_write_buffer_size(c.transport), 0);
    assert_int_equal(aio_transport_abort(c.transport), 0); /* twice: once lost */
    run_one_iteration(c.loop);
    assert_string_equal(c.t.text, "made;pause;lost(None);");
    pconn_end(&c);
}

/* The reader goes away with nothing buffered: found by the reader on the
 * write end, connection_lost(None) one iteration later; with data
 * buffered: BrokenPipeError. */
static void test_reader_goes_away(void **state)
{
    (void)state;
    pconn c;
    pipe_write_conn(&c);
    close(c.peer);
    c.peer = -1;
    run_one_iteration(c.loop); /* the watch fires: closing */
    assert_int_equal(aio_transport_is_closing(c.transport), 1);
    assert_int_equal(c.proto.lost, 0);
    run_one_iteration(c.loop);
    assert_string_equal(c.t.text, "made;lost(None);");
    pconn_end(&c);

    pipe_write_conn(&c);
    static char block[256 * 1024];
    assert_int_equal(aio_transport_write(c.transport, block, sizeof block), 0);
    close(c.peer);
    c.peer = -1;
    run_until_lost(&c, 5);
    assert_string_equal(c.t.text, "made;pause;lost(BrokenPipeError());");
    pconn_end(&c);
}

/* A write to a pipe whose reader is gone before the transport could tell:
 * EPIPE, BrokenPipeError to connection_lost(), no report, no SIGPIPE (at
 * its default disposition, it would kill the test). Writes after it are
 * counted and logged from the fifth on. */
static void test_epipe_no_sigpipe(void **state)
{
    (void)state;
    struct sigaction dfl = {.sa_handler = SIG_DFL}, old;
    sigaction(SIGPIPE, &dfl, &old);
    pconn c;
    pipe_write_conn(&c);
    handler_report r = {0};
    aio_loop_set_exception_handler(c.loop, report_handler, &r);
    close(c.peer);
    c.peer = -1;
    assert_int_equal(aio_transport_write(c.transport, "x", 1), 0); /* before the watch ran */
    assert_int_equal(aio_transport_is_closing(c.transport), 1);
    log_record log;
    log_record_start(&log);
    for (int i = 0; i < 6; i++)
        assert_int_equal(aio_transport_write(c.transport, "y", 1), 0);
    log_record_stop();
    assert_int_equal(log.count, 2); /* at conn_lost 5 and 6 (the failed write was 1) */
    assert_string_equal(log.message,
                        "pipe closed by peer or os.write(pipe, data) raised exception.");
    run_until_lost(&c, 5);
    assert_string_equal(c.t.text, "made;lost(BrokenPipeError(32, 'Broken pipe'));");
    assert_int_equal(r.calls, 0);
    sigset_t pending;
    sigpending(&pending);
    assert_false(sigismember(&pending, SIGPIPE));
    pconn_end(&c);
    sigaction(SIGPIPE, &old, NULL);
}

/* 10 MiB through a pipe, byte for byte, the two ends in one loop. */
static void test_ten_mib(void **state)
{
    (void)state;
    size_t total = 10 * 1024 * 1024;
    unsigned char *src = malloc(total), *dst = malloc(total);
    assert_non_null(src);
    assert_non_null(dst);
    for (size_t i = 0; i < total; i++)
        src[i] = (unsigned char)(i * 2654435761u >> 13);
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    aio_loop *loop = new_loop();
    trace rt = {0}, wt = {0};
    rec_protocol rp, wp;
    rec_init(&rp, &rt);
    rec_init(&wp, &wt);
    rp.sink = dst;
    rp.sink_cap = total;
    aio_future *rf = aio_loop_connect_read_pipe(loop, give_protocol, &rp, p[0]);
    aio_future *wf = aio_loop_connect_write_pipe(loop, give_protocol, &wp, p[1]);
    assert_non_null(rf);
    assert_non_null(wf);
    run_until_future_done(loop, wf);
    run_until_future_done(loop, rf);
    for (size_t off = 0; off < total; off += 1000 * 1000) {
        size_t n = total - off < 1000 * 1000 ? total - off : 1000 * 1000;
        assert_int_equal(aio_transport_write(wp.transport, src + off, n), 0);
    }
    assert_int_equal(aio_transport_write_eof(wp.transport), 0);
    for (int i = 0; i < 100000 && rp.lost == 0; i++)
        run_one_iteration(loop);
    assert_int_equal(wp.lost, 1);
    assert_int_equal(rp.lost, 1);
    assert_int_equal(rp.received, total);
    assert_memory_equal(src, dst, total);
    assert_string_equal(rt.text, "made;eof;lost(None);");
    aio_decref(rf);
    aio_decref(wf);
    free(src);
    free(dst);
    finish(loop);
}

/* The loop closing with a transport open: a ResourceWarning, the pipe
 * closed, the protocol released without connection_lost(). */
static void test_loop_closed_with_open_transport(void **state)
{
    (void)state;
    pconn c;
    pipe_read_conn(&c);
    aio_incref(c.transport);
    assert_int_equal(aio_loop_close(c.loop), 0); /* (a ResourceWarning in dev mode) */
    /* kept past the loop, it answers like a closed pipe */
    assert_int_equal(aio_transport_is_closing(c.transport), 1);
    assert_int_equal(aio_transport_close(c.transport), 0);
    assert_int_equal(aio_transport_pause_reading(c.transport), 0);
    assert_int_equal(aio_transport_resume_reading(c.transport), 0);
    aio_decref(c.transport);
    assert_false(is_open(c.fd));
    assert_int_equal(c.proto.lost, 0);
    assert_int_equal(c.proto.released, 1);
    aio_decref(c.fut);
    close(c.peer);
    aio_decref(c.loop);
    assert_no_leaks();
}

/* The same for a write pipe with data buffered: abort(), write() and
 * write_eof() on it after the loop closed do nothing. */
static void test_loop_closed_with_open_write_pipe(void **state)
{
    (void)state;
    pconn c;
    pipe_write_conn(&c);
    static char block[128 * 1024];
    assert_int_equal(aio_transport_write(c.transport, block, sizeof block), 0);
    aio_transport *t = aio_incref(c.transport);
    assert_int_equal(aio_loop_close(c.loop), 0);
    assert_false(is_open(c.fd));
    assert_int_equal(aio_transport_get_write_buffer_size(t), 0);
    assert_int_equal(aio_transport_abort(t), 0);
    assert_int_equal(aio_transport_write(t, "x", 1), 0);
    assert_int_equal(aio_transport_write_eof(t), 0);
    assert_int_equal(aio_transport_close(t), 0);
    assert_int_equal(c.proto.lost, 0);
    assert_int_equal(c.proto.released, 1);
    aio_decref(t);
    aio_decref(c.fut);
    close(c.peer);
    aio_decref(c.loop);
    assert_no_leaks();
}

/* Cancelled before the pair is there: the transport is closed. */
static void test_cancel_before_made(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    trace t = {0};
    rec_protocol p;
    rec_init(&p, &t);
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    aio_future *fut = aio_loop_connect_read_pipe(loop, give_protocol, &p, fds[0]);
    assert_non_null(fut);
    assert_int_equal(aio_future_cancel(fut, NULL), 1);
    for (int i = 0; i < 4; i++)
        run_one_iteration(loop);
    assert_string_equal(t.text, "made;lost(None);");
    assert_int_equal(p.released, 1);
    assert_false(is_open(fds[0]));
    aio_decref(fut);
    close(fds[1]);
    finish(loop);
}

/* Every allocation failing in turn: MemoryError or a working pipe, no
 * leak, no descriptor left. */
static void test_allocation_failures(void **state)
{
    (void)state;
    int base = count_fds();
    bool reached = false;
    for (int k = 0; !reached && k < 500; k++) {
        aio_loop *loop = new_loop();
        trace t = {0};
        rec_protocol rp, wp;
        rec_init(&rp, &t);
        rec_init(&wp, &t);
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        aio__fail_alloc_after = k;
        aio_future *rf = aio_loop_connect_read_pipe(loop, give_protocol, &rp, p[0]);
        if (rf == NULL) {
            assert_raised(aio_MemoryError, NULL);
            close(p[0]);
        }
        aio_future *wf = aio_loop_connect_write_pipe(loop, give_protocol, &wp, p[1]);
        if (wf == NULL) {
            aio_err_clear();
            close(p[1]);
        }
        for (int i = 0; i < 4; i++)
            run_one_iteration(loop);
        aio_err_clear();
        if (wf != NULL && aio_future_done(wf) == 1 && aio_future_cancelled(wf) != 1 &&
            aio_future_exception(wf) == NULL) {
            aio_transport_write(wp.transport, "data", 4);
            aio_err_clear();
            aio_transport_close(wp.transport);
            aio_err_clear();
        }
        for (int i = 0; i < 6; i++)
            run_one_iteration(loop);
        aio_err_clear();
        reached = aio__fail_alloc_after < 0;
        aio__fail_alloc_after = -1;
        assert_int_equal(aio_loop_close(loop), 0);
        aio_err_clear();
        aio_decref(rf);
        aio_decref(wf);
        aio_decref(loop);
        aio_err_clear();
        assert_no_leaks();
        assert_int_equal(count_fds(), base);
        assert_true(rp.released <= 1 && wp.released <= 1);
    }
    assert_true(reached);
}

/* The reader of a pipe (of the write side: its watch of the reader going
 * away) cannot start for want of memory: a transport that would never read
 * is not handed out; the await raises MemoryError, the transport is closed
 * (connection_made() then connection_lost(None), as the coroutine's
 * `except: transport.close(); raise` gives), the pipe closed, nothing
 * leaked. Each allocation of the iteration that starts it fails in turn. */
static void reader_start_fails(bool write_side)
{
    int base = count_fds();
    bool failed_once = false, reached = false;
    for (int k = 0; !reached && k < 50; k++) {
        aio_loop *loop = new_loop();
        trace t = {0};
        rec_protocol p;
        rec_init(&p, &t);
        int fds[2];
        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        int mine = write_side ? fds[1] : fds[0], peer = write_side ? fds[0] : fds[1];
        aio_future *fut = write_side ? aio_loop_connect_write_pipe(loop, give_protocol, &p, mine)
                                     : aio_loop_connect_read_pipe(loop, give_protocol, &p, mine);
        assert_non_null(fut);
        aio__fail_alloc_after = k;
        run_one_iteration(loop);
        reached = aio__fail_alloc_after >= 0;
        aio__fail_alloc_after = -1;
        aio_err_clear();
        for (int i = 0; i < 4; i++)
            run_one_iteration(loop);
        aio_err_clear();
        assert_int_equal(aio_future_done(fut), 1);
        aio_exc *exc = aio_future_exception(fut);
        if (exc != NULL) {
            assert_true(aio_exc_isinstance(exc, aio_MemoryError));
            failed_once = true;
            assert_string_equal(t.text, "made;lost(None);");
            assert_int_equal(p.released, 1);
            assert_false(is_open(mine));
        } else {
            const aio_transport_protocol *pair = aio_future_result(fut);
            assert_non_null(pair);
            aio_transport_close(pair->transport);
            aio_err_clear();
        }
        aio_decref(fut);
        close(peer);
        finish(loop);
        assert_int_equal(count_fds(), base);
    }
    assert_true(reached);
    assert_true(failed_once);
}

static void test_reader_start_fails(void **state)
{
    (void)state;
    reader_start_fails(false);
    reader_start_fails(true);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_read_order),
    cmocka_unit_test(test_read_pause_resume),
    cmocka_unit_test(test_fifo_writer_goes_away),
    cmocka_unit_test(test_socketpair),
    cmocka_unit_test(test_kinds),
    cmocka_unit_test(test_fd_zero),
    cmocka_unit_test(test_pty_eio_and_raising_protocol),
    cmocka_unit_test(test_writelines_write_eof),
    cmocka_unit_test(test_debug_logs),
    cmocka_unit_test(test_write_flow_control),
    cmocka_unit_test(test_close_flushes),
    cmocka_unit_test(test_abort),
    cmocka_unit_test(test_reader_goes_away),
    cmocka_unit_test(test_epipe_no_sigpipe),
    cmocka_unit_test(test_ten_mib),
    cmocka_unit_test(test_loop_closed_with_open_transport),
    cmocka_unit_test(test_loop_closed_with_open_write_pipe),
    cmocka_unit_test(test_cancel_before_made),
    cmocka_unit_test(test_allocation_failures),
    cmocka_unit_test(test_reader_start_fails),
};

int main(int argc, char **argv)
{
    alarm(120); /* no test may hang */
    return AIO_TEST_RUN(tests, argc, argv);
}
