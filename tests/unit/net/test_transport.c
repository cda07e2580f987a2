/* test_transport.c - the socket transport (_SelectorSocketTransport, 3.11)
 * and the protocols it calls, over one end of a socketpair() made a
 * transport by loop.connect_accepted_socket(); the test drives the other
 * end by hand.
 *
 * Expected behaviour is CPython 3.11's (selector_events.py, transports.py;
 * ASYNCIO-SEMANTICS.md §8): the three call_soon()s of the start, one recv()
 * per readiness, eof_received()'s return value, the write path and its
 * water marks, close/abort/fatal errors and connection_lost() exactly once.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>

#include "test_support.h"

/* --- A protocol that records what it is told ----------------------------------------- */

typedef struct rec_protocol {
    aio_protocol base;
    trace *t;
    aio_transport *transport;   /* from connection_made */
    size_t received;
    char last[64];
    int lost;
    char lost_exc[128];
    int released;
    bool keep_open;             /* eof_received() returns it */
    bool raise_in_data;         /* data_received() raises RuntimeError */
    int pauses, resumes;
    /* BufferedProtocol */
    char buf[8];
    size_t buf_len;             /* the size get_buffer() gives (0: empty) */
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
    p->received += len;
    snprintf(p->last, sizeof p->last, "%.*s", (int)(len < 60 ? len : 60), (const char *)data);
    trace_add(p->t, "data(%zu);", len);
    if (p->raise_in_data)
        aio_err_set(aio_RuntimeError, "boom in data_received");
}
AIO_NAME_CALLBACK(rec_data_received);

static bool rec_eof_received(aio_protocol *self)
{
    trace_add(rec(self)->t, "eof;");
    return rec(self)->keep_open;
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

static aio_buffer rec_get_buffer(aio_protocol *self, int sizehint)
{
    rec_protocol *p = rec(self);
    trace_add(p->t, "get_buffer(%d);", sizehint);
    return (aio_buffer){p->buf, p->buf_len};
}
AIO_NAME_CALLBACK(rec_get_buffer);

static void rec_buffer_updated(aio_protocol *self, int nbytes)
{
    rec_protocol *p = rec(self);
    p->received += (size_t)nbytes;
    trace_add(p->t, "updated(%d:%.*s);", nbytes, nbytes, p->buf);
}
AIO_NAME_CALLBACK(rec_buffer_updated);

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

/* --- A connection to test ------------------------------------------------------------ */

typedef struct conn {
    aio_loop *loop;
    trace t;
    rec_protocol proto;
    aio_future *fut;          /* connect_accepted_socket()'s */
    aio_transport *transport; /* borrowed from the future's result */
    int peer;                 /* the other end, blocking, ours */
    int fd;                   /* the transport's end */
} conn;

static void conn_open_with(conn *c, bool buffered)
{
    memset(&c->t, 0, sizeof c->t);
    c->loop = new_loop();
    rec_init(&c->proto, &c->t);
    if (buffered) {
        c->proto.base.data_received = NULL;
        c->proto.base.get_buffer = rec_get_buffer;
        c->proto.base.buffer_updated = rec_buffer_updated;
        c->proto.buf_len = sizeof c->proto.buf;
    }
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    c->fd = sv[0];
    c->peer = sv[1];
    c->fut = aio_loop_connect_accepted_socket(
        c->loop, &(aio_loop_connect_accepted_socket_args){
                     .protocol_factory = give_protocol, .protocol_factory_arg = &c->proto,
                     .sock = c->fd});
    assert_non_null(c->fut);
    run_until_future_done(c->loop, c->fut);
    const aio_transport_protocol *pair = aio_future_result(c->fut);
    assert_non_null(pair);
    assert_ptr_equal(pair->protocol, &c->proto.base);
    c->transport = pair->transport;
    assert_ptr_equal(c->proto.transport, c->transport);
}

static void conn_open(conn *c)
{
    conn_open_with(c, false);
}

/* Runs iterations until the protocol lost its connection (at most n). */
static void run_until_lost(conn *c, int n)
{
    for (int i = 0; i < n && c->proto.lost == 0; i++)
        run_one_iteration(c->loop);
}

static void conn_close(conn *c)
{
    if (c->proto.lost == 0) {
        aio_transport_abort(c->transport);
        run_until_lost(c, 5);
    }
    assert_int_equal(c->proto.lost, 1);
    assert_int_equal(c->proto.released, 1);
    aio_decref(c->fut);
    close(c->peer);
    finish(c->loop);
}

/* --- The start, reading, end of file ------------------------------------------------ */

/* connection_made, the reader, the waiter: three call_soon()s of one
 * iteration; the future of connect_accepted_socket() one iteration later. */
static void test_start_order(void **state)
{
    (void)state;
    conn c;
    memset(&c.t, 0, sizeof c.t);
    c.loop = new_loop();
    rec_init(&c.proto, &c.t);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    c.peer = sv[1];
    assert_int_equal(write(c.peer, "hi", 2), 2);
    c.fut = aio_loop_connect_accepted_socket(
        c.loop, &(aio_loop_connect_accepted_socket_args){
                    .protocol_factory = give_protocol, .protocol_factory_arg = &c.proto,
                    .sock = sv[0]});
    assert_non_null(c.fut);
    assert_string_equal(c.t.text, "");
    run_one_iteration(c.loop);
    /* made; the reader added; the waiter done (the future is asyncio's
     * waiter: a task awaiting it wakes in the next iteration, as the task
     * running the coroutine does); nothing read yet */
    assert_string_equal(c.t.text, "made;");
    assert_int_equal(aio_future_done(c.fut), 1);
    run_one_iteration(c.loop);
    /* the data is read */
    assert_string_equal(c.t.text, "made;data(2);");
    c.transport = ((const aio_transport_protocol *)aio_future_result(c.fut))->transport;
    conn_close(&c);
}

/* eof_received() returning false closes the transport: connection_lost(None)
 * one iteration later; the protocol is released after it. */
static void test_eof_closes(void **state)
{
    (void)state;
    conn c;
    conn_open(&c);
    assert_int_equal(write(c.peer, "abc", 3), 3);
    shutdown(c.peer, SHUT_WR);
    run_one_iteration(c.loop);
    assert_string_equal(c.t.text, "made;data(3);");
    run_one_iteration(c.loop);
    assert_string_equal(c.t.text, "made;data(3);eof;");
    assert_int_equal(aio_transport_is_closing(c.transport), 1);
    assert_int_equal(c.proto.released, 0);
    run_one_iteration(c.loop);
    assert_string_equal(c.t.text, "made;data(3);eof;lost(None);");
    assert_int_equal(c.proto.released, 1);
    /* the socket is closed: the peer reads EOF */
    char b;
    assert_int_equal(read(c.peer, &b, 1), 0);
    conn_close(&c);
}

/* eof_received() returning true keeps it open for writing. */
static void test_eof_keep_open(void **state)
{
    (void)state;
    conn c;
    conn_open(&c);
    c.proto.keep_open = true;
    shutdown(c.peer, SHUT_WR);
    run_one_iteration(c.loop);
    assert_string_equal(c.t.text, "made;eof;");
    assert_int_equal(aio_transport_is_closing(c.transport), 0);
    assert_int_equal(aio_transport_is_reading(c.transport), 1); /* not paused, not closing */
    assert_int_equal(aio_transport_write(c.transport, "bye", 3), 0);
    char buf[8];
    assert_int_equal(read(c.peer, buf, sizeof buf), 3);
    run_one_iteration(c.loop);
    assert_int_equal(c.proto.lost, 0);
    assert_int_equal(aio_transport_close(c.transport), 0);
    run_one_iteration(c.loop);
    assert_string_equal(c.t.text, "made;eof;lost(None);");
    conn_close(&c);
}

/* pause_reading()/resume_reading(), idempotent. */
static void test_pause_resume_reading(void **state)
{
    (void)state;
    conn c;
    conn_open(&c);
    assert_int_equal(aio_transport_pause_reading(c.transport), 0);
    assert_int_equal(aio_transport_pause_reading(c.transport), 0);
    assert_int_equal(aio_transport_is_reading(c.transport), 0);
    assert_int_equal(write(c.peer, "x", 1), 1);
    run_one_iteration(c.loop);
    run_one_iteration(c.loop);
    assert_string_equal(c.t.text, "made;");
    assert_int_equal(aio_transport_resume_reading(c.transport), 0);
    assert_int_equal(aio_transport_resume_reading(c.transport), 0);
    assert_int_equal(aio_transport_is_reading(c.transport), 1);
    run_one_iteration(c.loop);
    assert_string_equal(c.t.text, "made;data(1);");
    conn_close(&c);
}

/* A BufferedProtocol: get_buffer(-1), recv_into, buffer_updated(n). */
static void test_buffered_protocol(void **state)
{
    (void)state;
    conn c;
    conn_open_with(&c, true);
    assert_int_equal(write(c.peer, "0123456789", 10), 10);
    run_one_iteration(c.loop);
    assert_string_equal(c.t.text, "made;get_buffer(-1);updated(8:01234567);");
    run_one_iteration(c.loop);
    assert_string_equal(c.t.text,
                        "made;get_buffer(-1);updated(8:01234567);get_buffer(-1);updated(2:89);");
    conn_close(&c);
}

static handler_report g_report;

/* An empty buffer is a fatal error, reported as asyncio reports it. */
static void test_buffered_protocol_empty_buffer(void **state)
{
    (void)state;
    conn c;
    conn_open_with(&c, true);
    memset(&g_report, 0, sizeof g_report);
    aio_loop_set_exception_handler(c.loop, report_handler, &g_report);
    c.proto.buf_len = 0;
    assert_int_equal(write(c.peer, "x", 1), 1);
    run_until_lost(&c, 5);
    assert_int_equal(g_report.calls, 1);
    assert_string_equal(g_report.message, "Fatal error: protocol.get_buffer() call failed.");
    assert_string_equal(g_report.exception,
                        "RuntimeError('get_buffer() returned an empty buffer')");
    assert_string_equal(c.proto.lost_exc,
                        "RuntimeError('get_buffer() returned an empty buffer')");
    conn_close(&c);
}

/* A protocol callback that raises: reported, then connection_lost(exc). */
static void test_data_received_raises(void **state)
{
    (void)state;
    conn c;
    conn_open(&c);
    memset(&g_report, 0, sizeof g_report);
    aio_loop_set_exception_handler(c.loop, report_handler, &g_report);
    c.proto.raise_in_data = true;
    assert_int_equal(write(c.peer, "x", 1), 1);
    run_until_lost(&c, 5);
    assert_int_equal(g_report.calls, 1);
    assert_string_equal(g_report.message, "Fatal error: protocol.data_received() call failed.");
    assert_string_equal(c.proto.lost_exc, "RuntimeError('boom in data_received')");
    conn_close(&c);
}

/* --- Writing ------------------------------------------------------------------------------ */

static void test_write_immediate_and_buffered(void **state)
{
    (void)state;
    conn c;
    conn_open(&c);
    assert_int_equal(aio_transport_write(c.transport, "hello", 5), 0);
    assert_int_equal(aio_transport_get_write_buffer_size(c.transport), 0); /* sent at once */
    char buf[16];
    assert_int_equal(read(c.peer, buf, sizeof buf), 5);
    /* An empty write is nothing; None is a TypeError. */
    assert_int_equal(aio_transport_write(c.transport, "", 0), 0);
    assert_int_equal(aio_transport_write(c.transport, NULL, 0), -1);
    assert_raised(aio_TypeError, "data argument must be a bytes-like object, not 'NoneType'");
    /* More than the socket takes: the rest waits in the buffer, above the
     * high water mark: pause_writing(). */
    size_t big = 4 * 1024 * 1024;
    char *data = malloc(big);
    for (size_t i = 0; i < big; i++)
        data[i] = (char)('a' + i % 26);
    assert_int_equal(aio_transport_write(c.transport, data, big), 0);
    int64_t pending = aio_transport_get_write_buffer_size(c.transport);
    assert_true(pending > 64 * 1024);
    assert_int_equal(c.proto.pauses, 1);
    /* Drain it from the peer while the loop writes: resume_writing() once
     * the buffer is down to the low water mark. */
    int flags = fcntl(c.peer, F_GETFL);
    fcntl(c.peer, F_SETFL, flags | O_NONBLOCK);
    size_t got = 0;
    char *back = malloc(big);
    while (got < big) {
        ssize_t n = read(c.peer, back + got, big - got);
        if (n > 0)
            got += (size_t)n;
        run_one_iteration(c.loop);
    }
    assert_int_equal(memcmp(back, data, big), 0);
    assert_int_equal(aio_transport_get_write_buffer_size(c.transport), 0);
    assert_int_equal(c.proto.resumes, 1);
    free(data);
    free(back);
    conn_close(&c);
}

static void test_write_buffer_limits(void **state)
{
    (void)state;
    conn c;
    conn_open(&c);
    aio_transport_set_write_buffer_limits_args a = {0};
    aio_write_buffer_limits got = aio_transport_get_write_buffer_limits(c.transport);
    assert_int_equal(got.low, 16 * 1024);
    assert_int_equal(got.high, 64 * 1024);
    /* high=None, low=None: 64 KiB and a quarter of it */
    assert_int_equal(aio_transport_set_write_buffer_limits(c.transport, &a), 0);
    a.high = 100; /* low = high // 4 */
    assert_int_equal(aio_transport_set_write_buffer_limits(c.transport, &a), 0);
    got = aio_transport_get_write_buffer_limits(c.transport);
    assert_int_equal(got.low, 25);
    assert_int_equal(got.high, 100);
    a.high = AIO_NONE;
    a.low = 100; /* high = 4 * low */
    assert_int_equal(aio_transport_set_write_buffer_limits(c.transport, &a), 0);
    got = aio_transport_get_write_buffer_limits(c.transport);
    assert_int_equal(got.low, 100);
    assert_int_equal(got.high, 400);
    a.high = 10;
    a.low = 20;
    assert_int_equal(aio_transport_set_write_buffer_limits(c.transport, &a), -1);
    assert_raised(aio_ValueError, "high (10) must be >= low (20) must be >= 0");
    a.high = 10;
    a.low = -1;
    assert_int_equal(aio_transport_set_write_buffer_limits(c.transport, &a), -1);
    assert_raised(aio_ValueError, "high (10) must be >= low (-1) must be >= 0");
    got = aio_transport_get_write_buffer_limits(c.transport); /* unchanged by the errors */
    assert_int_equal(got.low, 100);
    assert_int_equal(got.high, 400);
    got = aio_transport_get_write_buffer_limits(NULL);
    assert_int_equal(got.low, -1);
    assert_raised(aio_TypeError, NULL);
    /* A limit below what is buffered pauses at once. */
    int small = 1024;
    setsockopt(c.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    char chunk[4096] = {0};
    for (int i = 0; i < 200 && aio_transport_get_write_buffer_size(c.transport) == 0; i++)
        aio_transport_write(c.transport, chunk, sizeof chunk);
    assert_true(aio_transport_get_write_buffer_size(c.transport) > 0);
    int pauses = c.proto.pauses;
    a.high = 1;
    a.low = AIO_ZERO;
    assert_int_equal(aio_transport_set_write_buffer_limits(c.transport, &a), 0);
    assert_int_equal(c.proto.pauses, pauses + (pauses == 0));
    conn_close(&c);
}

static void test_write_eof(void **state)
{
    (void)state;
    conn c;
    conn_open(&c);
    assert_int_equal(aio_transport_can_write_eof(c.transport), 1);
    assert_int_equal(aio_transport_write(c.transport, "end", 3), 0);
    assert_int_equal(aio_transport_write_eof(c.transport), 0);
    assert_int_equal(aio_transport_write_eof(c.transport), 0); /* again: nothing */
    char buf[8];
    assert_int_equal(read(c.peer, buf, sizeof buf), 3);
    assert_int_equal(read(c.peer, buf, sizeof buf), 0); /* EOF */
    assert_int_equal(aio_transport_write(c.transport, "x", 1), -1);
    assert_raised(aio_RuntimeError, "Cannot call write() after write_eof()");
    /* Still reading. */
    assert_int_equal(write(c.peer, "yo", 2), 2);
    run_one_iteration(c.loop);
    assert_string_equal(c.t.text, "made;data(2);");
    conn_close(&c);
}

/* close() with data buffered: flushed first, then connection_lost(None),
 * called from the writer (no extra iteration). */
static void test_close_flushes(void **state)
{
    (void)state;
    conn c;
    conn_open(&c);
    int small = 1024;
    setsockopt(c.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    char chunk[8192];
    memset(chunk, 'z', sizeof chunk);
    for (int i = 0; i < 64; i++)
        aio_transport_write(c.transport, chunk, sizeof chunk);
    assert_true(aio_transport_get_write_buffer_size(c.transport) > 0);
    assert_int_equal(aio_transport_close(c.transport), 0);
    assert_int_equal(aio_transport_is_closing(c.transport), 1);
    assert_int_equal(aio_transport_close(c.transport), 0);
    /* write() does not look at closing: more is queued and flushed too. */
    assert_int_equal(aio_transport_write(c.transport, "tail", 4), 0);
    size_t total = 64 * sizeof chunk + 4, got = 0;
    char buf[65536];
    int flags = fcntl(c.peer, F_GETFL);
    fcntl(c.peer, F_SETFL, flags | O_NONBLOCK);
    for (int i = 0; i < 10000 && c.proto.lost == 0; i++) {
        ssize_t n = read(c.peer, buf, sizeof buf);
        if (n > 0)
            got += (size_t)n;
        run_one_iteration(c.loop);
    }
    while (true) {
        ssize_t n = read(c.peer, buf, sizeof buf);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    assert_int_equal(got, total);
    assert_string_equal(strstr(c.t.text, "lost"), "lost(None);");
    conn_close(&c);
}

/* abort(): the buffer dropped, connection_lost(None) at the next iteration. */
static void test_abort_drops_buffer(void **state)
{
    (void)state;
    conn c;
    conn_open(&c);
    int small = 1024;
    setsockopt(c.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    char chunk[8192] = {0};
    for (int i = 0; i < 16; i++)
        aio_transport_write(c.transport, chunk, sizeof chunk);
    assert_true(aio_transport_get_write_buffer_size(c.transport) > 0);
    assert_int_equal(aio_transport_abort(c.transport), 0);
    assert_int_equal(aio_transport_get_write_buffer_size(c.transport), 0);
    assert_int_equal(aio_transport_abort(c.transport), 0);
    run_one_iteration(c.loop);
    assert_int_equal(c.proto.lost, 1);
    assert_string_equal(c.proto.lost_exc, "None");
    conn_close(&c);
}

/* Writes after the connection is lost: dropped, silently the first 4 times,
 * then logged 'socket.send() raised exception.' each time. */
static void test_writes_after_loss_logged(void **state)
{
    (void)state;
    conn c;
    conn_open(&c);
    assert_int_equal(aio_transport_abort(c.transport), 0);
    log_record rec;
    log_record_start(&rec);
    for (int i = 0; i < 6; i++)
        assert_int_equal(aio_transport_write(c.transport, "x", 1), 0);
    log_record_stop();
    assert_int_equal(rec.count, 2); /* the 5th and 6th writes */
    assert_string_equal(rec.message, "socket.send() raised exception.");
    conn_close(&c);
}

/* The peer goes away while we write: a fatal OSError, not reported to the
 * handler (asyncio only logs it in debug mode), connection_lost(exc). */
static void test_peer_gone_while_writing(void **state)
{
    (void)state;
    conn c;
    conn_open(&c);
    memset(&g_report, 0, sizeof g_report);
    aio_loop_set_exception_handler(c.loop, report_handler, &g_report);
    close(c.peer);
    c.peer = -1;
    for (int i = 0; i < 4 && c.proto.lost == 0; i++) {
        aio_transport_write(c.transport, "data", 4);
        run_one_iteration(c.loop);
    }
    run_until_lost(&c, 5);
    assert_int_equal(c.proto.lost, 1);
    assert_int_equal(g_report.calls, 0);
    assert_true(strncmp(c.proto.lost_exc, "BrokenPipeError(", 16) == 0 ||
                strncmp(c.proto.lost_exc, "ConnectionResetError(", 21) == 0 ||
                strcmp(c.proto.lost_exc, "None") == 0);
    aio_decref(c.fut);
    finish(c.loop);
}

/* --- The rest of BaseTransport ---------------------------------------------------------------- */

static void test_extra_info(void **state)
{
    (void)state;
    conn c;
    conn_open(&c);
    const int *fd = aio_transport_get_extra_info(
        c.transport, &(aio_transport_get_extra_info_args){.name = "socket"});
    assert_non_null(fd);
    assert_int_equal(*fd, c.fd);
    assert_int_equal(aio_transport_get_socket(c.transport), c.fd);
    const aio_address *peer = aio_transport_get_peername(c.transport);
    assert_non_null(peer);
    assert_int_equal(peer->kind, AIO_ADDRESS_UNNAMED); /* a socketpair's: '' */
    assert_non_null(aio_transport_get_sockname(c.transport));
    static int fallback = 7;
    const void *v = aio_transport_get_extra_info(
        c.transport, &(aio_transport_get_extra_info_args){.name = "nosuchkey",
                                                           .default_ = &fallback});
    assert_ptr_equal(v, &fallback);
    assert_ptr_equal(aio_transport_get_protocol(c.transport), &c.proto.base);
    char expected[96];
    snprintf(expected, sizeof expected,
             "<_SelectorSocketTransport fd=%d read=polling write=<idle, bufsize=0>>", c.fd);
    assert_repr(c.transport, expected);
    conn_close(&c);
}

/* The loop's add_reader() refuses a transport's descriptor. */
static void test_fd_owned_by_transport(void **state)
{
    (void)state;
    conn c;
    conn_open(&c);
    assert_int_equal(aio_loop_add_reader(c.loop, c.fd, noop, NULL, NULL), -1);
    aio_exc *exc = aio_err_fetch();
    assert_non_null(exc);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "File descriptor %d is used by transport <", c.fd);
    assert_true(strncmp(aio_exc_str(exc), prefix, strlen(prefix)) == 0);
    aio_decref(exc);
    assert_int_equal(aio_loop_remove_writer(c.loop, c.fd), -1);
    assert_raised(aio_RuntimeError, NULL);
    /* Once the transport is closing, they are allowed. */
    aio_transport_close(c.transport);
    assert_int_equal(aio_loop_remove_reader(c.loop, c.fd), 0);
    run_until_lost(&c, 5);
    conn_close(&c);
}

/* set_protocol() switches the read path; the old protocol is handed back
 * (not released), the new one is released after connection_lost. */
static void test_set_protocol(void **state)
{
    (void)state;
    conn c;
    conn_open(&c);
    rec_protocol other;
    trace t2 = {{0}};
    rec_init(&other, &t2);
    other.base.get_buffer = rec_get_buffer;
    other.base.buffer_updated = rec_buffer_updated;
    other.buf_len = 4;
    assert_int_equal(aio_transport_set_protocol(c.transport, &other.base), 0);
    assert_ptr_equal(aio_transport_get_protocol(c.transport), &other.base);
    assert_int_equal(write(c.peer, "abcdef", 6), 6);
    run_one_iteration(c.loop);
    assert_string_equal(t2.text, "get_buffer(-1);updated(4:abcd);");
    aio_transport_abort(c.transport);
    run_one_iteration(c.loop);
    assert_int_equal(other.lost, 1);
    assert_int_equal(other.released, 1);
    assert_int_equal(c.proto.released, 0); /* handed back to us at set_protocol() */
    assert_int_equal(c.proto.lost, 0);
    c.proto.lost = 1;
    c.proto.released = 1;
    conn_close(&c);
}

/* The loop closes with the transport open: no connection_lost(), the socket
 * closed, the protocol released (what the transport's __del__ does). */
static void test_loop_closed_with_open_transport(void **state)
{
    (void)state;
    conn c;
    conn_open(&c);
    aio_decref(c.fut);
    assert_int_equal(aio_loop_close(c.loop), 0);
    assert_int_equal(c.proto.lost, 0);
    assert_int_equal(c.proto.released, 1);
    char b;
    assert_int_equal(read(c.peer, &b, 1), 0); /* closed */
    close(c.peer);
    aio_decref(c.loop);
    assert_no_leaks();
}

/* --- connect_accepted_socket()'s checks ------------------------------------------------------ */

static void test_connect_accepted_socket_checks(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    rec_protocol p;
    trace t = {{0}};
    rec_init(&p, &t);
    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    assert_null(aio_loop_connect_accepted_socket(
        loop, &(aio_loop_connect_accepted_socket_args){.protocol_factory = give_protocol,
                                                       .protocol_factory_arg = &p,
                                                       .sock = udp}));
    aio_exc *exc = aio_err_fetch();
    char expected[128];
    snprintf(expected, sizeof expected,
             "A Stream Socket was expected, got <socket.socket fd=%d, family=2, type=2, "
             "proto=17, laddr=('0.0.0.0', 0)>", udp);
    assert_string_equal(aio_exc_str(exc), expected);
    assert_true(aio_exc_isinstance(exc, aio_ValueError));
    aio_decref(exc);
    close(udp);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_null(aio_loop_connect_accepted_socket(
        loop, &(aio_loop_connect_accepted_socket_args){.protocol_factory = give_protocol,
                                                       .protocol_factory_arg = &p,
                                                       .sock = sv[0],
                                                       .ssl_handshake_timeout = 5}));
    assert_raised(aio_ValueError, "ssl_handshake_timeout is only meaningful with ssl");
    assert_null(aio_loop_connect_accepted_socket(
        loop, &(aio_loop_connect_accepted_socket_args){.protocol_factory = give_protocol,
                                                       .protocol_factory_arg = &p,
                                                       .sock = sv[0],
                                                       .ssl_shutdown_timeout = AIO_ZERO}));
    assert_raised(aio_ValueError, "ssl_shutdown_timeout is only meaningful with ssl");
    assert_null(aio_loop_connect_accepted_socket(
        loop, &(aio_loop_connect_accepted_socket_args){.protocol_factory = give_protocol,
                                                       .protocol_factory_arg = &p,
                                                       .sock = sv[0],
                                                       .ssl = AIO_SSL_TRUE}));
    assert_raised(aio_NotImplementedError, NULL);
    assert_null(aio_loop_connect_accepted_socket(
        loop, &(aio_loop_connect_accepted_socket_args){.protocol_factory = give_protocol,
                                                       .protocol_factory_arg = &p}));
    assert_raised(aio_AttributeError, "'NoneType' object has no attribute 'type'");
    assert_int_equal(p.released, 0); /* the factory was never called */
    close(sv[0]);
    close(sv[1]);
    finish(loop);
}

/* Cancelling the future before connection_made ran: the transport is
 * closed (connection_lost(None) follows connection_made). */
static void test_cancel_before_made(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    rec_protocol p;
    trace t = {{0}};
    rec_init(&p, &t);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    aio_future *fut = aio_loop_connect_accepted_socket(
        loop, &(aio_loop_connect_accepted_socket_args){.protocol_factory = give_protocol,
                                                       .protocol_factory_arg = &p,
                                                       .sock = sv[0]});
    assert_non_null(fut);
    assert_int_equal(aio_future_cancel(fut, NULL), 1);
    for (int i = 0; i < 5; i++)
        run_one_iteration(loop);
    assert_int_equal(aio_future_cancelled(fut), 1);
    assert_string_equal(t.text, "made;lost(None);");
    assert_int_equal(p.released, 1);
    aio_decref(fut);
    close(sv[1]);
    finish(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_start_order),
    cmocka_unit_test(test_eof_closes),
    cmocka_unit_test(test_eof_keep_open),
    cmocka_unit_test(test_pause_resume_reading),
    cmocka_unit_test(test_buffered_protocol),
    cmocka_unit_test(test_buffered_protocol_empty_buffer),
    cmocka_unit_test(test_data_received_raises),
    cmocka_unit_test(test_write_immediate_and_buffered),
    cmocka_unit_test(test_write_buffer_limits),
    cmocka_unit_test(test_write_eof),
    cmocka_unit_test(test_close_flushes),
    cmocka_unit_test(test_abort_drops_buffer),
    cmocka_unit_test(test_writes_after_loss_logged),
    cmocka_unit_test(test_peer_gone_while_writing),
    cmocka_unit_test(test_extra_info),
    cmocka_unit_test(test_fd_owned_by_transport),
    cmocka_unit_test(test_set_protocol),
    cmocka_unit_test(test_loop_closed_with_open_transport),
    cmocka_unit_test(test_connect_accepted_socket_checks),
    cmocka_unit_test(test_cancel_before_made),
};

AIO_TEST_MAIN(tests)
