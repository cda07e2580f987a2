/* test_streams.c - StreamReader, StreamReaderProtocol and StreamWriter
 * (streams.py, 3.11): the reader fed by hand and over a socketpair made a
 * stream the way open_connection() makes one (connect_accepted_socket()
 * with a StreamReaderProtocol), the limit and the transport's pausing,
 * drain()'s flow control, close/wait_closed, lost and reset connections,
 * cancelled reads, 10 MiB byte-exact, the new exceptions' attributes,
 * misuse, memory errors, scale. The conformance scenarios stream_reader
 * and stream_socketpair hold the traces checked against CPython. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>

extern char **environ;

#include "test_support.h"

#include "streams.h"

/* --- Helpers ------------------------------------------------------------------------ */

static aio_protocol *give_protocol(void *arg)
{
    return arg;
}
AIO_NAME_CALLBACK(give_protocol);

typedef struct stream {
    aio_stream_reader *r;
    aio_stream_writer *w;
    aio_protocol *p;
} stream;

/* open_connection()'s work over a connected socket: inside a task. */
static stream open_stream(int sock, int limit, aio_client_connected_cb cb, void *cb_arg)
{
    aio_loop *loop = aio_get_running_loop();
    stream s;
    s.r = aio_stream_reader_new(&(aio_stream_reader_args){.limit = limit, .loop = loop});
    assert_non_null(s.r);
    s.p = aio_stream_reader_protocol_new(&(aio_stream_reader_protocol_args){
        .stream_reader = s.r, .client_connected_cb = cb, .client_connected_cb_arg = cb_arg});
    assert_non_null(s.p);
    aio_future *fut = aio_loop_connect_accepted_socket(
        loop, &(aio_loop_connect_accepted_socket_args){
                  .protocol_factory = give_protocol, .protocol_factory_arg = s.p, .sock = sock});
    assert_non_null(fut);
    const aio_transport_protocol *tp = aio_await(fut);
    assert_non_null(tp);
    assert_ptr_equal(tp->protocol, s.p);
    s.w = aio_stream_writer_new(tp->transport, s.p, s.r, loop);
    assert_non_null(s.w);
    aio_decref(fut);
    return s;
}

static void stream_drop(stream *s)
{
    if (aio_stream_writer_is_closing(s->w) == 0)
        aio_stream_writer_close(s->w);
    aio_decref(s->w);
    aio_decref(s->r);
}

static void socket_pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

/* Both ends made streams. */
static void stream_pair(stream *a, stream *b, int limit)
{
    int sv[2];
    socket_pair(sv);
    *a = open_stream(sv[0], limit, NULL, NULL);
    *b = open_stream(sv[1], limit, NULL, NULL);
}

/* A bytes result equal to the string s (taken over). */
static void assert_bytes(aio_bytes *b, const char *s)
{
    assert_non_null(b);
    assert_int_equal(aio_bytes_size(b), strlen(s));
    assert_memory_equal(aio_bytes_data(b), s, strlen(s));
    aio_decref(b);
}

static aio_stream_reader *fed_reader(int limit, const char *data)
{
    aio_stream_reader *r = aio_stream_reader_new(&(aio_stream_reader_args){.limit = limit});
    assert_non_null(r);
    if (data != NULL)
        assert_int_equal(aio_stream_reader_feed_data(r, data, strlen(data)), 0);
    return r;
}

static aio_task *spawn(aio_coroutine coro, void *arg)
{
    aio_task *t = aio_loop_create_task(aio_get_running_loop(),
                                       &(aio_loop_create_task_args){.coro = coro, .coro_arg = arg});
    assert_non_null(t);
    return t;
}

static void run_in_task(aio_coroutine coro)
{
    alarm(20);
    aio_loop *loop = new_loop();
    assert_int_equal(aio_set_event_loop(loop), 0);
    run_coro(loop, coro, NULL);
    aio_set_event_loop(NULL);
    finish(loop);
    alarm(0);
}

/* --- The reader fed by hand ----------------------------------------------------------- */

static void *reader_methods(void *arg)
{
    (void)arg;
    aio_stream_reader *r = fed_reader(0, "one\ntwo\r\nthree");
    assert_bytes(aio_stream_reader_readline(r), "one\n");
    assert_bytes(aio_stream_reader_readuntil(r, "\r\n", 2), "two\r\n");
    assert_bytes(aio_stream_reader_read(r, 2), "th");
    assert_bytes(aio_stream_reader_readexactly(r, 2), "re");
    assert_int_equal(aio_stream_reader_at_eof(r), 0);
    assert_int_equal(aio_stream_reader_feed_eof(r), 0);
    assert_int_equal(aio_stream_reader_at_eof(r), 0); /* a byte is left */
    assert_bytes(aio_stream_reader_read(r, -1), "e");
    assert_int_equal(aio_stream_reader_at_eof(r), 1);
    assert_bytes(aio_stream_reader_read(r, -1), "");
    assert_bytes(aio_stream_reader_readline(r), "");
    assert_null(aio_stream_reader_readexactly(r, 1));
    aio_exc *e = aio_err_fetch();
    assert_true(aio_exc_isinstance(e, aio_IncompleteReadError));
    assert_true(aio_exc_isinstance(e, aio_EOFError));
    assert_string_equal(aio_exc_str(e), "0 bytes read on a total of 1 expected bytes");
    assert_int_equal(aio_bytes_size(aio_exc_incomplete_read_partial(e)), 0);
    assert_int_equal(aio_exc_incomplete_read_expected(e), 1);
    aio_decref(e);
    /* feed_data(b'') after EOF is still refused, as the assert comes first. */
    assert_int_equal(aio_stream_reader_feed_data(r, "", 0), -1);
    assert_raised(aio_AssertionError, "feed_data after feed_eof");
    aio_decref(r);

    /* A reader that never got a byte. */
    r = fed_reader(0, NULL);
    assert_int_equal(aio_stream_reader_feed_eof(r), 0);
    assert_int_equal(aio_stream_reader_at_eof(r), 1);
    assert_bytes(aio_stream_reader_read(r, -1), "");
    assert_bytes(aio_stream_reader_read(r, 7), "");
    assert_bytes(aio_stream_reader_readline(r), "");
    assert_null(aio_stream_reader_readuntil(r, "\r\n", 2));
    e = aio_err_fetch();
    assert_string_equal(aio_exc_str(e), "0 bytes read on a total of undefined expected bytes");
    assert_int_equal(aio_bytes_size(aio_exc_incomplete_read_partial(e)), 0);
    aio_decref(e);
    assert_null(aio_stream_reader_readexactly(r, 3));
    assert_raised(aio_IncompleteReadError, "0 bytes read on a total of 3 expected bytes");
    aio_decref(r);

    /* readuntil(): a separator split over two feeds; the default b'\n'. */
    r = fed_reader(0, "abcSEP");
    aio_task *t = NULL;
    assert_bytes(aio_stream_reader_readuntil(r, "SEPARATOR", 3), "abcSEP");
    assert_int_equal(aio_stream_reader_feed_data(r, "xSEPARA", 7), 0);
    assert_int_equal(aio_stream_reader_feed_data(r, "TORy\n", 5), 0);
    assert_bytes(aio_stream_reader_readuntil(r, "SEPARATOR", 9), "xSEPARATOR");
    assert_bytes(aio_stream_reader_readuntil(r, NULL, 0), "y\n");
    assert_null(aio_stream_reader_readuntil(r, NULL, 3));
    assert_raised(aio_TypeError, "object of type 'NoneType' has no len()");
    assert_null(aio_stream_reader_readuntil(r, "", 0));
    assert_raised(aio_ValueError, "Separator should be at least one-byte string");
    (void)t;
    aio_decref(r);
    return NULL;
}
AIO_NAME_CALLBACK(reader_methods);

static void test_reader_methods(void **state)
{
    (void)state;
    run_in_task(reader_methods);
}

/* The limit: readuntil leaves the data, readline drops the line. */
static void *reader_limits(void *arg)
{
    (void)arg;
    aio_stream_reader *r = fed_reader(4, "abcdefgh");
    assert_null(aio_stream_reader_readuntil(r, "\n", 1));
    aio_exc *e = aio_err_fetch();
    assert_true(aio_exc_isinstance(e, aio_LimitOverrunError));
    assert_string_equal(aio_exc_str(e), "Separator is not found, and chunk exceed the limit");
    assert_int_equal(aio_exc_limit_overrun_consumed(e), 8);
    aio_decref(e);
    /* Still there: a read gets it. */
    assert_bytes(aio_stream_reader_read(r, 3), "abc");
    assert_int_equal(aio_stream_reader_feed_data(r, "\nrest\n", 6), 0);
    assert_null(aio_stream_reader_readuntil(r, "\n", 1));
    e = aio_err_fetch();
    assert_string_equal(aio_exc_str(e), "Separator is found, but chunk is longer than limit");
    assert_int_equal(aio_exc_limit_overrun_consumed(e), 5);
    aio_decref(e);
    assert_null(aio_stream_reader_readline(r));
    e = aio_err_fetch();
    assert_true(aio_exc_isinstance(e, aio_ValueError));
    assert_string_equal(aio_exc_str(e), "Separator is found, but chunk is longer than limit");
    assert_true(aio_exc_isinstance(aio_exc_context(e), aio_LimitOverrunError));
    aio_decref(e);
    assert_bytes(aio_stream_reader_readline(r), "rest\n"); /* the long line went */
    /* Exactly the limit is fine. */
    assert_int_equal(aio_stream_reader_feed_data(r, "1234\n", 5), 0);
    assert_bytes(aio_stream_reader_readline(r), "1234\n");
    /* read() and readexactly() are not bounded by it. */
    assert_int_equal(aio_stream_reader_feed_data(r, "0123456789", 10), 0);
    assert_bytes(aio_stream_reader_readexactly(r, 10), "0123456789");
    assert_int_equal(aio_stream_reader_feed_data(r, "0123456789", 10), 0);
    assert_bytes(aio_stream_reader_read(r, 100), "0123456789");
    aio_decref(r);
    return NULL;
}
AIO_NAME_CALLBACK(reader_limits);

static void test_reader_limits(void **state)
{
    (void)state;
    run_in_task(reader_limits);
}

/* Misuse: outside a task, bad arguments, another loop's reader. */
static void test_misuse(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_stream_reader *r = aio_stream_reader_new(&(aio_stream_reader_args){.loop = loop});
    assert_non_null(r);
    assert_null(aio_stream_reader_read(r, 1));
    assert_raised(aio_RuntimeError, "aio_stream_reader_read() must be called from inside a task");
    assert_null(aio_stream_reader_readline(r));
    assert_raised(aio_RuntimeError,
                  "aio_stream_reader_readline() must be called from inside a task");
    assert_null(aio_stream_reader_readexactly(r, 1));
    assert_raised(aio_RuntimeError, NULL);
    assert_null(aio_stream_reader_readuntil(r, NULL, 0));
    assert_raised(aio_RuntimeError, NULL);
    assert_null(aio_stream_reader_read(NULL, 1));
    assert_raised(aio_TypeError, NULL);
    assert_null(aio_stream_reader_new(&(aio_stream_reader_args){.limit = AIO_ZERO, .loop = loop}));
    assert_raised(aio_ValueError, "Limit cannot be <= 0");
    assert_null(aio_stream_reader_new(&(aio_stream_reader_args){.limit = -5, .loop = loop}));
    assert_raised(aio_ValueError, "Limit cannot be <= 0");
    assert_null(aio_stream_reader_new(&(aio_stream_reader_args){.limit = AIO_NONE, .loop = loop}));
    assert_raised(aio_TypeError, "'<=' not supported between instances of 'NoneType' and 'int'");
    /* A writer needs a StreamReaderProtocol and a transport. */
    aio_protocol plain = {0};
    assert_null(aio_stream_writer_new(NULL, &plain, r, loop));
    assert_raised(aio_TypeError, NULL);
    aio_protocol *p = aio_stream_reader_protocol_new(
        &(aio_stream_reader_protocol_args){.stream_reader = r, .loop = loop});
    assert_non_null(p);
    assert_null(aio_stream_writer_new(NULL, p, r, loop));
    assert_raised(aio_TypeError, NULL);
    /* Never handed to a transport: released by hand. */
    p->release(p);
    /* The open functions and drain() need a task too. */
    aio_stream_pair pair = aio_open_connection(&(aio_open_connection_args){.host = "127.0.0.1", .port = 1});
    assert_null(pair.reader);
    assert_null(pair.writer);
    assert_raised(aio_RuntimeError, "aio_open_connection() must be called from inside a task");
    assert_null(aio_start_server(NULL));
    assert_raised(aio_RuntimeError, "aio_start_server() must be called from inside a task");
    pair = aio_open_connection(&(aio_open_connection_args){.limit = AIO_NONE});
    assert_raised(aio_TypeError, "'<=' not supported between instances of 'NoneType' and 'int'");
    aio_decref(r);
    finish(loop);
}

/* The exceptions' constructors and attributes. */
static void test_exceptions(void **state)
{
    (void)state;
    aio_exc *e = aio_exc_incomplete_read_new("ab", 2, -1);
    assert_string_equal(aio_exc_str(e), "2 bytes read on a total of undefined expected bytes");
    assert_repr(e, "IncompleteReadError('2 bytes read on a total of undefined expected bytes')");
    assert_memory_equal(aio_bytes_data(aio_exc_incomplete_read_partial(e)), "ab", 2);
    assert_int_equal(aio_exc_incomplete_read_expected(e), -1);
    assert_int_equal(aio_exc_limit_overrun_consumed(e), -1);
    aio_decref(e);
    e = aio_exc_limit_overrun_new("too long", 42);
    assert_repr(e, "LimitOverrunError('too long')");
    assert_int_equal(aio_exc_limit_overrun_consumed(e), 42);
    assert_null(aio_exc_incomplete_read_partial(e));
    assert_int_equal(aio_exc_incomplete_read_expected(e), -1);
    aio_decref(e);
    e = aio_exc_new(aio_ValueError, "x");
    assert_null(aio_exc_incomplete_read_partial(e));
    assert_int_equal(aio_exc_limit_overrun_consumed(e), -1);
    aio_decref(e);
    assert_no_leaks();
}

/* --- Concurrency and cancellation ----------------------------------------------------- */

typedef struct reading {
    aio_stream_reader *r;
    int n;
    aio_bytes *got;
    aio_exc *exc;
} reading;

static void *read_task(void *arg)
{
    reading *rd = arg;
    rd->got = aio_stream_reader_readexactly(rd->r, rd->n);
    if (rd->got == NULL)
        rd->exc = aio_err_fetch();
    return NULL;
}
AIO_NAME_CALLBACK(read_task);

static void *cancel_and_refuse(void *arg)
{
    (void)arg;
    aio_stream_reader *r = fed_reader(0, NULL);
    reading rd = {r, 4, NULL, NULL};
    aio_task *t = spawn(read_task, &rd);
    assert_int_equal(aio_sleep(0), 0);
    /* A second reader is refused while the first waits. */
    assert_null(aio_stream_reader_read(r, 1));
    assert_raised(aio_RuntimeError,
                  "read() called while another coroutine is already waiting for incoming data");
    assert_null(aio_stream_reader_readuntil(r, "x", 1));
    assert_raised(aio_RuntimeError, "readuntil() called while another coroutine is already "
                                    "waiting for incoming data");
    assert_int_equal(aio_task_cancel(t, NULL), 1);
    assert_null(aio_await(t)); /* read_task caught it */
    check_no_exception();
    aio_decref(t);
    assert_true(aio_exc_isinstance(rd.exc, aio_CancelledError));
    aio_decref(rd.exc);
    /* The waiter went with it: data fed now is there for the next read. */
    assert_int_equal(aio_stream_reader_feed_data(r, "abcd", 4), 0);
    assert_bytes(aio_stream_reader_readexactly(r, 4), "abcd");
    /* A read woken by data but cancelled before it ran leaves the data. */
    rd = (reading){r, 2, NULL, NULL};
    t = spawn(read_task, &rd);
    assert_int_equal(aio_sleep(0), 0);
    assert_int_equal(aio_stream_reader_feed_data(r, "xy", 2), 0);
    assert_int_equal(aio_task_cancel(t, NULL), 1);
    aio_await(t);
    aio_err_clear();
    aio_decref(t);
    aio_decref(rd.exc);
    assert_bytes(aio_stream_reader_read(r, 100), "xy");
    aio_decref(r);
    return NULL;
}
AIO_NAME_CALLBACK(cancel_and_refuse);

static void test_cancel_and_refuse(void **state)
{
    (void)state;
    run_in_task(cancel_and_refuse);
}


/* --- The waiting read's future ------------------------------------------------------- */

/* A read that waits waits on a pending future each time, however many
 * times; the reader waits again on a done one only when nobody else holds
 * it (one held elsewhere stays done, with its result), and a cancelled
 * read's future is not waited on again. */
typedef struct waits {
    aio_stream_reader *r;
    int i;
    aio_future *held[8];
    int nheld;
} waits;

static void feed_later(void *arg)
{
    waits *w = arg;
    char repr[256];
    repr_copy(w->r, repr, sizeof repr);
    if (strstr(repr, "waiter=<Future pending") == NULL)
        fail_msg("%s", repr);
    assert_int_equal(aio_future_done(w->r->waiter), 0);
    if (w->i % 1000 == 7 && w->nheld < 8)
        w->held[w->nheld++] = aio_incref(w->r->waiter); /* someone else's now */
    char data[32];
    int n = snprintf(data, sizeof data, "chunk %d", w->i);
    assert_int_equal(aio_stream_reader_feed_data(w->r, data, (size_t)n), 0);
}
AIO_NAME_CALLBACK(feed_later);

static void *read_forever(void *arg)
{
    aio_stream_reader *r = arg;
    aio_bytes *b = aio_stream_reader_read(r, 100);
    assert_null(b);
    assert_true(aio_err_matches(aio_CancelledError));
    return NULL; /* the exception stays: the task ends cancelled */
}
AIO_NAME_CALLBACK(read_forever);

static void *waiter_reuse(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    waits w = {.r = fed_reader(0, NULL)};
    for (w.i = 0; w.i < 10000; w.i++) {
        assert_non_null(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = feed_later, .args = &w}));
        aio_bytes *b = aio_stream_reader_read(w.r, 100);
        char expected[32];
        snprintf(expected, sizeof expected, "chunk %d", w.i);
        assert_bytes(b, expected);
        if (w.i % 1000 == 500) {
            /* A read cancelled while it waits, then a read that works. */
            aio_task *t = spawn(read_forever, w.r);
            assert_int_equal(aio_sleep(0), 0);
            assert_non_null(w.r->waiter);
            aio_future *cancelled_waiter = aio_incref(w.r->waiter);
            assert_int_equal(aio_task_cancel(t, NULL), 1);
            while (!aio_future_done((aio_future *)t))
                assert_int_equal(aio_sleep(0), 0);
            assert_int_equal(aio_future_cancelled(cancelled_waiter), 1);
            aio_decref(cancelled_waiter);
            aio_decref(t);
        }
    }
    for (int k = 0; k < w.nheld; k++) {
        assert_int_equal(aio_future_done(w.held[k]), 1);
        assert_int_equal(aio_future_cancelled(w.held[k]), 0);
        assert_null(aio_future_result(w.held[k]));
        assert_null(aio_err_occurred());
        aio_decref(w.held[k]);
    }
    assert_int_equal(w.nheld, 8);
    aio_decref(w.r);
    return NULL;
}
AIO_NAME_CALLBACK(waiter_reuse);

static void test_waiter_reuse(void **state)
{
    (void)state;
    run_in_task(waiter_reuse);
}

/* --- Over a socketpair ---------------------------------------------------------------- */

/* Above twice the limit the transport stops reading; reading resumes it,
 * and readexactly() of more than the limit does not wait forever. */
static void *pause_reading(void *arg)
{
    (void)arg;
    int sv[2];
    socket_pair(sv);
    stream s = open_stream(sv[0], 16, NULL, NULL);
    aio_transport *t = aio_stream_writer_transport(s.w);
    char buf[200];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (char)('a' + i % 26);
    assert_int_equal(write(sv[1], buf, sizeof buf), (ssize_t)sizeof buf);
    for (int i = 0; i < 20 && aio_transport_is_reading(t) == 1; i++)
        assert_int_equal(aio_sleep(0), 0);
    assert_int_equal(aio_transport_is_reading(t), 0);
    char repr[512];
    repr_copy(s.r, repr, sizeof repr);
    assert_non_null(strstr(repr, "<StreamReader 200 bytes limit=16 transport=<_SelectorSocketTransport"));
    assert_non_null(strstr(repr, " paused>"));
    /* 170 bytes left: still above the limit, still paused. */
    aio_bytes *b = aio_stream_reader_read(s.r, 30);
    assert_memory_equal(aio_bytes_data(b), buf, 30);
    aio_decref(b);
    assert_int_equal(aio_transport_is_reading(t), 0);
    b = aio_stream_reader_readexactly(s.r, 160);
    assert_memory_equal(aio_bytes_data(b), buf + 30, 160);
    aio_decref(b);
    assert_int_equal(aio_transport_is_reading(t), 1);
    /* readexactly() of 300 while paused: it resumes reading itself. */
    char big[400];
    memset(big, 'z', sizeof big);
    assert_int_equal(write(sv[1], big, sizeof big), (ssize_t)sizeof big);
    b = aio_stream_reader_readexactly(s.r, 300);
    assert_non_null(b);
    assert_int_equal(aio_bytes_size(b), 300);
    aio_decref(b);
    close(sv[1]);
    b = aio_stream_reader_read(s.r, -1);
    assert_int_equal(aio_bytes_size(b), 10 + 100);
    aio_decref(b);
    assert_int_equal(aio_stream_reader_at_eof(s.r), 1);
    /* The peer's EOF leaves the transport open for writing. */
    assert_int_equal(aio_stream_writer_is_closing(s.w), 0);
    assert_int_equal(aio_stream_writer_close(s.w), 0);
    assert_int_equal(aio_stream_writer_wait_closed(s.w), 0);
    stream_drop(&s);
    return NULL;
}
AIO_NAME_CALLBACK(pause_reading);

static void test_pause_reading(void **state)
{
    (void)state;
    run_in_task(pause_reading);
}

/* drain() with a peer that does not read, then reads. */
typedef struct drainer_state {
    aio_stream_writer *w;
    int rc;
    bool done;
} drainer_state;

static void *drainer(void *arg)
{
    drainer_state *d = arg;
    d->rc = aio_stream_writer_drain(d->w);
    d->done = true;
    return NULL;
}
AIO_NAME_CALLBACK(drainer);

static void *drain_flow(void *arg)
{
    (void)arg;
    int sv[2];
    socket_pair(sv);
    stream s = open_stream(sv[0], 0, NULL, NULL);
    aio_transport *t = aio_stream_writer_transport(s.w);
    static char chunk[1 << 16];
    memset(chunk, 'q', sizeof chunk);
    int64_t total = 0;
    /* Nothing buffered: drain() returns at once. */
    assert_int_equal(aio_stream_writer_drain(s.w), 0);
    while (aio_transport_get_write_buffer_size(t) <= 256 * 1024) {
        assert_int_equal(aio_stream_writer_write(s.w, chunk, sizeof chunk), 0);
        total += (int64_t)sizeof chunk;
    }
    drainer_state d = {s.w, 0, false};
    aio_task *task = spawn(drainer, &d);
    for (int i = 0; i < 10; i++)
        assert_int_equal(aio_sleep(0), 0);
    assert_false(d.done);
    /* Two drains wait together. */
    drainer_state d2 = {s.w, 0, false};
    aio_task *task2 = spawn(drainer, &d2);
    assert_int_equal(aio_sleep(0), 0);
    assert_false(d2.done);
    /* The peer reads, from another thread's point of view: here, by hand. */
    int flags = fcntl(sv[1], F_GETFL);
    fcntl(sv[1], F_SETFL, flags | O_NONBLOCK);
    int64_t got = 0;
    static char sink[1 << 16];
    while (got < total) {
        ssize_t n = read(sv[1], sink, sizeof sink);
        if (n > 0) {
            got += n;
            continue;
        }
        assert_true(n < 0 && errno == EAGAIN);
        assert_int_equal(aio_sleep(0), 0);
    }
    aio_await(task);
    aio_await(task2);
    assert_true(d.done && d2.done);
    assert_int_equal(d.rc, 0);
    assert_int_equal(d2.rc, 0);
    aio_decref(task);
    aio_decref(task2);
    assert_int_equal(got, total);
    assert_int_equal(aio_transport_get_write_buffer_size(t), 0);

    /* A drain waiting when the connection is lost gets its exception. */
    while (aio_transport_get_write_buffer_size(t) <= 256 * 1024)
        assert_int_equal(aio_stream_writer_write(s.w, chunk, sizeof chunk), 0);
    d = (drainer_state){s.w, 0, false};
    task = spawn(drainer, &d);
    assert_int_equal(aio_sleep(0), 0);
    assert_false(d.done);
    close(sv[1]); /* unread data: the writer's next send fails */
    aio_await(task);
    assert_true(d.done);
    assert_int_equal(d.rc, -1);
    aio_decref(task);
    assert_int_equal(aio_stream_writer_is_closing(s.w), 1);
    assert_int_equal(aio_stream_writer_wait_closed(s.w), -1);
    aio_exc *e = aio_err_fetch();
    assert_true(aio_exc_isinstance(e, aio_ConnectionError));
    aio_decref(e);
    /* Afterwards: the reader's exception, first. */
    assert_int_equal(aio_stream_writer_drain(s.w), -1);
    assert_raised(aio_ConnectionError, NULL);
    stream_drop(&s);
    return NULL;
}
AIO_NAME_CALLBACK(drain_flow);

static void test_drain_flow(void **state)
{
    (void)state;
    run_in_task(drain_flow);
}

/* close(), wait_closed(), a writer without a reader: drain() after the
 * connection is lost is ConnectionResetError('Connection lost'). */
static void *close_and_wait(void *arg)
{
    (void)arg;
    int sv[2];
    socket_pair(sv);
    stream s = open_stream(sv[0], 0, NULL, NULL);
    aio_stream_writer *bare = aio_stream_writer_new(aio_stream_writer_transport(s.w), s.p, NULL,
                                                    aio_get_running_loop());
    assert_non_null(bare);
    assert_int_equal(aio_stream_writer_is_closing(bare), 0);
    assert_int_equal(aio_stream_writer_can_write_eof(bare), 1);
    const int *fd = aio_stream_writer_get_extra_info(
        bare, &(aio_stream_writer_get_extra_info_args){.name = "socket"});
    assert_non_null(fd);
    assert_int_equal(*fd, sv[0]);
    assert_int_equal(aio_stream_writer_close(bare), 0);
    assert_int_equal(aio_stream_writer_is_closing(s.w), 1);
    assert_int_equal(aio_stream_writer_drain(bare), -1);
    assert_raised(aio_ConnectionResetError, "Connection lost");
    assert_int_equal(aio_stream_writer_wait_closed(bare), 0);
    assert_int_equal(aio_stream_writer_wait_closed(s.w), 0);
    assert_int_equal(aio_stream_reader_at_eof(s.r), 1);
    /* Writes after the end are dropped (logged from the fifth on). */
    assert_int_equal(aio_stream_writer_write(bare, "x", 1), 0);
    char c;
    assert_int_equal(read(sv[1], &c, 1), 0);
    close(sv[1]);
    aio_decref(bare);
    stream_drop(&s);
    return NULL;
}
AIO_NAME_CALLBACK(close_and_wait);

static void test_close_and_wait(void **state)
{
    (void)state;
    run_in_task(close_and_wait);
}

/* A writer dropped with its transport open closes it. */
static void *writer_dropped(void *arg)
{
    (void)arg;
    int sv[2];
    socket_pair(sv);
    stream s = open_stream(sv[0], 0, NULL, NULL);
    aio_transport *t = aio_incref(aio_stream_writer_transport(s.w));
    aio_decref(s.w);
    assert_int_equal(aio_transport_is_closing(t), 1);
    assert_int_equal(aio_sleep(0), 0);
    char c;
    assert_int_equal(read(sv[1], &c, 1), 0);
    close(sv[1]);
    aio_decref(t);
    aio_decref(s.r);
    return NULL;
}
AIO_NAME_CALLBACK(writer_dropped);

static void test_writer_dropped(void **state)
{
    (void)state;
    run_in_task(writer_dropped);
}

/* 10 MiB each way at once, byte-exact, through readexactly() on one side
 * and read(-1) on the other. */
#define BIG (10 * 1024 * 1024)

static unsigned char pattern(size_t i, unsigned seed)
{
    return (unsigned char)((i * 2654435761u + seed) >> 13);
}

typedef struct sender {
    aio_stream_writer *w;
    unsigned seed;
    int rc;
} sender;

static void *send_big(void *arg)
{
    sender *s = arg;
    static _Thread_local unsigned char chunk[100003];
    size_t sent = 0;
    while (sent < BIG) {
        size_t n = BIG - sent < sizeof chunk ? BIG - sent : sizeof chunk;
        for (size_t i = 0; i < n; i++)
            chunk[i] = pattern(sent + i, s->seed);
        if (aio_stream_writer_write(s->w, chunk, n) < 0 || aio_stream_writer_drain(s->w) < 0) {
            s->rc = -1;
            return NULL;
        }
        sent += n;
    }
    s->rc = aio_stream_writer_write_eof(s->w);
    return NULL;
}
AIO_NAME_CALLBACK(send_big);

static void *ten_mib(void *arg)
{
    (void)arg;
    stream a, b;
    stream_pair(&a, &b, 0);
    sender sa = {a.w, 1, 0}, sb = {b.w, 2, 0};
    aio_task *ta = spawn(send_big, &sa), *tb = spawn(send_big, &sb);
    /* b reads a's bytes in pieces of 65537. */
    size_t got = 0;
    while (got < BIG) {
        size_t n = BIG - got < 65537 ? BIG - got : 65537;
        aio_bytes *piece = aio_stream_reader_readexactly(b.r, (int)n);
        assert_non_null(piece);
        const unsigned char *p = aio_bytes_data(piece);
        for (size_t i = 0; i < n; i++) {
            if (p[i] != pattern(got + i, 1))
                fail_msg("byte %zu differs", got + i);
        }
        got += n;
        aio_decref(piece);
    }
    assert_bytes(aio_stream_reader_read(b.r, -1), "");
    /* a reads b's bytes all at once. */
    aio_bytes *all = aio_stream_reader_read(a.r, -1);
    assert_non_null(all);
    assert_int_equal(aio_bytes_size(all), BIG);
    const unsigned char *p = aio_bytes_data(all);
    for (size_t i = 0; i < BIG; i++) {
        if (p[i] != pattern(i, 2))
            fail_msg("byte %zu differs", i);
    }
    aio_decref(all);
    aio_await(ta);
    aio_await(tb);
    assert_int_equal(sa.rc, 0);
    assert_int_equal(sb.rc, 0);
    aio_decref(ta);
    aio_decref(tb);
    stream_drop(&a);
    stream_drop(&b);
    return NULL;
}
AIO_NAME_CALLBACK(ten_mib);

static void test_ten_mib(void **state)
{
    (void)state;
    run_in_task(ten_mib);
}

/* client_connected_cb: runs as a task with the reader and a writer that
 * stay valid while it runs; a failure is reported and closes the
 * transport. */
typedef struct served {
    int calls;
    aio_stream_reader *reader;
} served;

static void *serve_one(aio_stream_reader *reader, aio_stream_writer *writer, void *arg)
{
    served *s = arg;
    s->calls++;
    s->reader = reader;
    aio_bytes *req = aio_stream_reader_readexactly(reader, 3);
    if (req == NULL)
        return NULL;
    aio_stream_writer_write(writer, aio_bytes_data(req), aio_bytes_size(req));
    aio_decref(req);
    if (aio_stream_writer_drain(writer) < 0)
        return NULL;
    aio_err_set(aio_ValueError, "after the reply");
    return NULL;
}
AIO_NAME_CALLBACK(serve_one);

/* read() on the peer's end without blocking the loop: yields until data
 * or EOF come. */
static ssize_t peer_read(int fd, char *buf, size_t len)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    for (;;) {
        ssize_t n = read(fd, buf, len);
        if (n >= 0 || errno != EAGAIN)
            return n;
        assert_int_equal(aio_sleep(0), 0);
    }
}

static void *client_connected(void *arg)
{
    handler_report *rep = arg;
    int sv[2];
    socket_pair(sv);
    served s = {0, NULL};
    stream server = open_stream(sv[0], 0, serve_one, &s);
    /* Its task started in the iteration before the pair came back. */
    assert_int_equal(s.calls, 1);
    assert_ptr_equal(s.reader, server.r);
    assert_int_equal(write(sv[1], "abc", 3), 3);
    char buf[8];
    assert_int_equal(peer_read(sv[1], buf, sizeof buf), 3);
    assert_memory_equal(buf, "abc", 3);
    for (int i = 0; i < 10 && aio_stream_writer_is_closing(server.w) == 0; i++)
        assert_int_equal(aio_sleep(0), 0);
    assert_int_equal(aio_stream_writer_is_closing(server.w), 1);
    assert_int_equal(aio_stream_writer_wait_closed(server.w), 0);
    assert_string_equal(rep->message, "Unhandled exception in client_connected_cb");
    assert_string_equal(rep->exception, "ValueError('after the reply')");
    assert_int_equal(rep->calls, 1);
    assert_int_equal(peer_read(sv[1], buf, sizeof buf), 0);
    close(sv[1]);
    stream_drop(&server);
    return NULL;
}
AIO_NAME_CALLBACK(client_connected);

static void test_client_connected(void **state)
{
    (void)state;
    alarm(20);
    aio_loop *loop = new_loop();
    handler_report rep;
    memset(&rep, 0, sizeof rep);
    aio_loop_set_exception_handler(loop, report_handler, &rep);
    run_coro(loop, client_connected, &rep);
    finish(loop);
    alarm(0);
}

/* The loop closes with a server-side connection still open: the
 * transport lets go of its protocol, and with it the writer the protocol
 * made, the reader and the rest (no cycle left behind). */
static void *quick_cb(aio_stream_reader *reader, aio_stream_writer *writer, void *arg)
{
    (void)reader, (void)writer;
    (*(int *)arg)++;
    return NULL;
}
AIO_NAME_CALLBACK(quick_cb);

static void *left_open(void *arg)
{
    int *fds = arg;
    int calls = 0;
    socket_pair(fds);
    aio_loop *loop = aio_get_running_loop();
    aio_stream_reader *r = aio_stream_reader_new(&(aio_stream_reader_args){.loop = loop});
    aio_protocol *p = aio_stream_reader_protocol_new(&(aio_stream_reader_protocol_args){
        .stream_reader = r, .client_connected_cb = quick_cb, .client_connected_cb_arg = &calls});
    assert_non_null(p);
    aio_future *fut = aio_loop_connect_accepted_socket(
        loop, &(aio_loop_connect_accepted_socket_args){
                  .protocol_factory = give_protocol, .protocol_factory_arg = p, .sock = fds[0]});
    assert_non_null(aio_await(fut));
    aio_decref(fut);
    assert_int_equal(aio_sleep(0), 0);
    assert_int_equal(calls, 1);
    aio_decref(r);
    return NULL;
}
AIO_NAME_CALLBACK(left_open);

static void test_left_open_at_close(void **state)
{
    (void)state;
    alarm(20);
    int fds[2];
    aio_loop *loop = new_loop();
    run_coro(loop, left_open, fds);
    close(fds[1]);
    finish(loop);
    alarm(0);
}

/* Interop: CPython's asyncio streams at the other end (python3 on PATH;
 * skipped without it), echoing 20,000 lines upper-cased while we send
 * them, then the byte count. */
static const char peer_script[] =
    "import asyncio, socket, sys\n"
    "async def main():\n"
    "    s = socket.socket(fileno=int(sys.argv[1]))\n"
    "    r, w = await asyncio.open_connection(sock=s)\n"
    "    n = 0\n"
    "    while line := await r.readline():\n"
    "        n += len(line)\n"
    "        w.write(line.upper())\n"
    "        await w.drain()\n"
    "    w.write(b'total %d\\n' % n)\n"
    "    await w.drain()\n"
    "    w.close()\n"
    "    await w.wait_closed()\n"
    "asyncio.run(main())\n";

enum { PEER_LINES = 20000 };

static void *send_lines(void *arg)
{
    aio_stream_writer *w = arg;
    for (int i = 0; i < PEER_LINES; i++) {
        char line[64];
        int n = snprintf(line, sizeof line, "line %d of the stream test\n", i);
        if (aio_stream_writer_write(w, line, (size_t)n) < 0 || aio_stream_writer_drain(w) < 0)
            return NULL;
    }
    aio_stream_writer_write_eof(w);
    return w;
}
AIO_NAME_CALLBACK(send_lines);

static void *python_peer(void *arg)
{
    bool *skipped = arg;
    int sv[2];
    socket_pair(sv);
    fcntl(sv[1], F_SETFD, 0); /* the child's */
    char fdarg[16];
    snprintf(fdarg, sizeof fdarg, "%d", sv[1]);
    char *argv[] = {"python3", "-c", (char *)peer_script, fdarg, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "python3", NULL, NULL, argv, environ);
    close(sv[1]);
    if (rc != 0) {
        close(sv[0]);
        fprintf(stderr, "SKIP: no python3 to talk to\n");
        *skipped = true;
        return NULL;
    }
    stream s = open_stream(sv[0], 0, NULL, NULL);
    aio_task *sending = spawn(send_lines, s.w);
    long expected_total = 0;
    for (int i = 0; i < PEER_LINES; i++) {
        char line[64];
        int n = snprintf(line, sizeof line, "LINE %d OF THE STREAM TEST\n", i);
        expected_total += n;
        assert_bytes(aio_stream_reader_readline(s.r), line);
    }
    char total[64];
    snprintf(total, sizeof total, "total %ld\n", expected_total);
    assert_bytes(aio_stream_reader_readline(s.r), total);
    assert_bytes(aio_stream_reader_read(s.r, -1), "");
    assert_non_null(aio_await(sending));
    aio_decref(sending);
    stream_drop(&s);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return NULL;
}
AIO_NAME_CALLBACK(python_peer);

static void test_python_peer(void **state)
{
    (void)state;
    alarm(60);
    bool skipped = false;
    aio_loop *loop = new_loop();
    run_coro(loop, python_peer, &skipped);
    finish(loop);
    alarm(0);
    if (skipped)
        skip();
}

/* --- Memory and scale ----------------------------------------------------------------- */

static void *memory_errors(void *arg)
{
    (void)arg;
    aio_stream_reader *r = fed_reader(0, "abc");
    /* The buffer cannot grow: MemoryError, nothing lost or added. */
    static char big[100000];
    memset(big, 'b', sizeof big);
    aio__fail_alloc_after = 0;
    assert_int_equal(aio_stream_reader_feed_data(r, big, sizeof big), -1);
    aio__fail_alloc_after = -1;
    assert_raised(aio_MemoryError, NULL);
    assert_bytes(aio_stream_reader_read(r, 100), "abc");
    /* Making the result fails: the data stays for the next read. */
    assert_int_equal(aio_stream_reader_feed_data(r, "line\nz", 6), 0);
    aio__fail_alloc_after = 0;
    assert_null(aio_stream_reader_readline(r));
    aio__fail_alloc_after = -1;
    assert_raised(aio_MemoryError, NULL);
    assert_bytes(aio_stream_reader_readline(r), "line\n");
    assert_bytes(aio_stream_reader_read(r, 1), "z");
    /* Data partly read, then more data whose copy into the buffer cannot
     * be made: what was left stays, and nothing is added. */
    assert_int_equal(aio_stream_reader_feed_data(r, "12345", 5), 0);
    assert_bytes(aio_stream_reader_read(r, 2), "12");
    for (long n = 0; n < 3; n++) {
        aio__fail_alloc_after = n;
        int rc = aio_stream_reader_feed_data(r, big, sizeof big);
        aio__fail_alloc_after = -1;
        if (rc == 0) {
            assert_true(n > 0);
            assert_bytes(aio_stream_reader_read(r, 3), "345");
            aio_bytes *rest = aio_stream_reader_read(r, (int)sizeof big);
            assert_int_equal(aio_bytes_size(rest), sizeof big);
            assert_memory_equal(aio_bytes_data(rest), big, sizeof big);
            aio_decref(rest);
            break;
        }
        assert_raised(aio_MemoryError, NULL);
        char repr[64];
        assert_string_equal(repr_copy(r, repr, sizeof repr), "<StreamReader 3 bytes>");
    }
    /* A read that would wait cannot make its future. */
    aio__fail_alloc_after = 0;
    assert_null(aio_stream_reader_readuntil(r, "\n", 1));
    aio__fail_alloc_after = -1;
    assert_raised(aio_MemoryError, NULL);
    /* Each allocation of a read failing in turn: the data stays. */
    for (long n = 0; n < 4; n++) {
        assert_int_equal(aio_stream_reader_feed_data(r, "ab\n", 3), 0);
        aio__fail_alloc_after = n;
        aio_bytes *b = aio_stream_reader_readuntil(r, "\n", 1);
        aio__fail_alloc_after = -1;
        if (b == NULL) {
            assert_raised(aio_MemoryError, NULL);
            b = aio_stream_reader_readuntil(r, "\n", 1);
        }
        assert_bytes(b, "ab\n");
    }
    aio_decref(r);
    for (long n = 0; n < 6; n++) {
        aio__fail_alloc_after = n;
        aio_stream_reader *r2 = aio_stream_reader_new(NULL);
        aio_protocol *p = r2 ? aio_stream_reader_protocol_new(
                                   &(aio_stream_reader_protocol_args){.stream_reader = r2})
                             : NULL;
        aio__fail_alloc_after = -1;
        if (p != NULL)
            p->release(p);
        aio_err_clear();
        aio_decref(r2);
    }
    return NULL;
}
AIO_NAME_CALLBACK(memory_errors);

static void test_memory_errors(void **state)
{
    (void)state;
    run_in_task(memory_errors);
}

/* 100,000 lines fed at once and read one by one; then fed a byte at a time. */
static void *many_lines(void *arg)
{
    (void)arg;
    aio_stream_reader *r = fed_reader(0, NULL);
    enum { LINES = 100000 };
    for (int i = 0; i < LINES; i++) {
        char line[32];
        int n = snprintf(line, sizeof line, "line %d\n", i);
        assert_int_equal(aio_stream_reader_feed_data(r, line, (size_t)n), 0);
    }
    assert_int_equal(aio_stream_reader_feed_eof(r), 0);
    for (int i = 0; i < LINES; i++) {
        char line[32];
        snprintf(line, sizeof line, "line %d\n", i);
        assert_bytes(aio_stream_reader_readline(r), line);
    }
    assert_int_equal(aio_stream_reader_at_eof(r), 1);
    aio_decref(r);
    return NULL;
}
AIO_NAME_CALLBACK(many_lines);

static void test_many_lines(void **state)
{
    (void)state;
    run_in_task(many_lines);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_methods),
        cmocka_unit_test(test_reader_limits),
        cmocka_unit_test(test_misuse),
        cmocka_unit_test(test_exceptions),
        cmocka_unit_test(test_cancel_and_refuse),
        cmocka_unit_test(test_waiter_reuse),
        cmocka_unit_test(test_pause_reading),
        cmocka_unit_test(test_drain_flow),
        cmocka_unit_test(test_close_and_wait),
        cmocka_unit_test(test_writer_dropped),
        cmocka_unit_test(test_ten_mib),
        cmocka_unit_test(test_client_connected),
        cmocka_unit_test(test_left_open_at_close),
        cmocka_unit_test(test_python_peer),
        cmocka_unit_test(test_memory_errors),
        cmocka_unit_test(test_many_lines),
    };
    return AIO_TEST_RUN(tests, argc, argv);
}
