/* test_fds.c - loop.add_reader/remove_reader/add_writer/remove_writer.
 *
 * Each expectation was checked against CPython 3.11's selector loop
 * (ASYNCIO-SEMANTICS.md §7): level-triggered readiness, a second reader
 * replacing the first, the reader queued before the writer for one fd, the
 * exact exceptions of selectors/epoll for bad descriptors, and a removed
 * reader's already-queued handle being skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_support.h"

/* --- helpers ------------------------------------------------------------- */

static void make_pair(int fds[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
}

static void close_pair(int fds[2])
{
    close(fds[0]);
    close(fds[1]);
}

static void send_byte(int fd)
{
    assert_int_equal(write(fd, "x", 1), 1);
}

static void drain(int fd)
{
    char buf[256];
    while (read(fd, buf, sizeof buf) > 0)
        ;
}

/* A chain of call_soon() that counts iterations: `it` is the number of the
 * iteration the chain is in (1 for the first). Stops after `max`. */
typedef struct chain {
    aio_loop *loop;
    int it;
    int max;
    trace t;
    int write_at;       /* tick writes a byte to write_fd in this iteration */
    int write_fd;
    int kill_at;        /* tick raises SIGUSR1 in this iteration */
} chain;

static void tick(void *arg)
{
    chain *c = arg;
    c->it++;
    if (c->write_at == c->it) {
        send_byte(c->write_fd);
        trace_add(&c->t, "w%d ", c->it);
    }
    if (c->kill_at == c->it) {
        trace_add(&c->t, "kill%d ", c->it);
        raise(SIGUSR1);
    }
    if (c->it < c->max)
        assert_non_null(aio_loop_call_soon(c->loop, &(aio_loop_call_soon_args){.callback = tick,
                                                                                .args = c}));
    else
        aio_loop_stop(c->loop);
}
AIO_NAME_CALLBACK(tick);

static void start_chain(chain *c)
{
    assert_non_null(aio_loop_call_soon(c->loop, &(aio_loop_call_soon_args){.callback = tick,
                                                                            .args = c}));
}

/* A reader/writer that records "<tag><iteration>" without draining. */
typedef struct probe {
    chain *c;
    const char *tag;
    int fd;             /* drained when >= 0 */
    int calls;
} probe;

static void probe_cb(void *arg)
{
    probe *p = arg;
    p->calls++;
    if (p->fd >= 0)
        drain(p->fd);
    trace_add(&p->c->t, "%s%d ", p->tag, p->c->it);
}
AIO_NAME_CALLBACK(probe_cb);

/* --- level-triggered readiness ------------------------------------------ */

static void test_reader_level_triggered(void **state)
{
    (void)state;
    int sp[2];
    make_pair(sp);
    aio_loop *loop = new_loop();
    chain c = {.loop = loop, .max = 6};
    probe r = {.c = &c, .tag = "r", .fd = -1};

    assert_int_equal(aio_loop_add_reader(loop, sp[0], probe_cb, &r, NULL), 0);
    send_byte(sp[1]);
    start_chain(&c);
    run(loop);
    /* Never drained: the reader runs in every iteration, after the chain's
     * callback (queued before the poll). As CPython. */
    assert_string_equal(c.t.text, "r1 r2 r3 r4 r5 r6 ");

    assert_int_equal(aio_loop_remove_reader(loop, sp[0]), 1);
    assert_int_equal(aio_loop_remove_reader(loop, sp[0]), 0);
    assert_int_equal(aio_loop_remove_writer(loop, sp[0]), 0);

    /* Removed: still readable, no longer called. */
    c.it = 0;
    c.max = 3;
    c.t.text[0] = '\0';
    start_chain(&c);
    run(loop);
    assert_string_equal(c.t.text, "");
    assert_int_equal(r.calls, 6);

    close_loop(loop);
    close_pair(sp);
    assert_no_leaks();
}

static void test_reader_fires_when_data_arrives(void **state)
{
    (void)state;
    int sp[2];
    make_pair(sp);
    aio_loop *loop = new_loop();
    /* A callback writes in iteration 3; the reader runs in iteration 4 (the
     * poll happens every iteration while an fd is registered), once, since
     * it drains. CPython: [('w', 3), ('r', 4)]. */
    chain c = {.loop = loop, .max = 8, .write_at = 3, .write_fd = sp[1]};
    probe r = {.c = &c, .tag = "r", .fd = sp[0]};
    assert_int_equal(aio_loop_add_reader(loop, sp[0], probe_cb, &r, NULL), 0);
    start_chain(&c);
    run(loop);
    assert_string_equal(c.t.text, "w3 r4 ");
    assert_int_equal(r.calls, 1);

    close_loop(loop);
    close_pair(sp);
    assert_no_leaks();
}

static void test_add_reader_twice_replaces(void **state)
{
    (void)state;
    int sp[2];
    make_pair(sp);
    aio_loop *loop = new_loop();
    chain c = {.loop = loop, .max = 2};
    probe first = {.c = &c, .tag = "first", .fd = -1};
    probe second = {.c = &c, .tag = "second", .fd = -1};

    assert_int_equal(aio_loop_add_reader(loop, sp[0], probe_cb, &first, NULL), 0);
    assert_int_equal(aio_loop_add_reader(loop, sp[0], probe_cb, &second, NULL), 0);
    send_byte(sp[1]);
    start_chain(&c);
    run(loop);
    assert_string_equal(c.t.text, "second1 second2 ");
    assert_int_equal(first.calls, 0);

    /* One registration: one removal. */
    assert_int_equal(aio_loop_remove_reader(loop, sp[0]), 1);
    assert_int_equal(aio_loop_remove_reader(loop, sp[0]), 0);

    close_loop(loop);
    close_pair(sp);
    assert_no_leaks();
}

static void test_add_writer_twice_replaces(void **state)
{
    (void)state;
    int sp[2];
    make_pair(sp);
    aio_loop *loop = new_loop();
    chain c = {.loop = loop, .max = 2};
    probe first = {.c = &c, .tag = "first", .fd = -1};
    probe second = {.c = &c, .tag = "second", .fd = -1};

    assert_int_equal(aio_loop_add_writer(loop, sp[1], probe_cb, &first, NULL), 0);
    assert_int_equal(aio_loop_add_writer(loop, sp[1], probe_cb, &second, NULL), 0);
    start_chain(&c);
    run(loop);
    assert_string_equal(c.t.text, "second1 second2 ");
    assert_int_equal(first.calls, 0);
    assert_int_equal(aio_loop_remove_writer(loop, sp[1]), 1);
    assert_int_equal(aio_loop_remove_writer(loop, sp[1]), 0);

    close_loop(loop);
    close_pair(sp);
    assert_no_leaks();
}

static void test_reader_before_writer(void **state)
{
    (void)state;
    int sp[2];
    make_pair(sp);
    aio_loop *loop = new_loop();
    chain c = {.loop = loop, .max = 1};
    probe w = {.c = &c, .tag = "w", .fd = -1};
    probe r = {.c = &c, .tag = "r", .fd = -1};

    /* The writer is added first; the reader still runs first. */
    assert_int_equal(aio_loop_add_writer(loop, sp[0], probe_cb, &w, NULL), 0);
    assert_int_equal(aio_loop_add_reader(loop, sp[0], probe_cb, &r, NULL), 0);
    send_byte(sp[1]);
    start_chain(&c);
    run(loop);
    assert_string_equal(c.t.text, "r1 w1 ");

    /* Removing one side keeps the other. */
    assert_int_equal(aio_loop_remove_writer(loop, sp[0]), 1);
    assert_int_equal(aio_loop_remove_writer(loop, sp[0]), 0);
    c.it = 0;
    c.t.text[0] = '\0';
    start_chain(&c);
    run(loop);
    assert_string_equal(c.t.text, "r1 ");
    assert_int_equal(aio_loop_remove_reader(loop, sp[0]), 1);
    assert_int_equal(aio_loop_remove_reader(loop, sp[0]), 0);

    close_loop(loop);
    close_pair(sp);
    assert_no_leaks();
}

static void test_writer_fires_and_remove_writer(void **state)
{
    (void)state;
    int sp[2];
    make_pair(sp);
    aio_loop *loop = new_loop();
    chain c = {.loop = loop, .max = 3};
    probe w = {.c = &c, .tag = "w", .fd = -1};

    assert_int_equal(aio_loop_add_writer(loop, sp[1], probe_cb, &w, NULL), 0);
    start_chain(&c);
    run(loop);
    /* Always writable: every iteration. */
    assert_string_equal(c.t.text, "w1 w2 w3 ");

    assert_int_equal(aio_loop_remove_writer(loop, sp[1]), 1);
    assert_int_equal(aio_loop_remove_writer(loop, sp[1]), 0);
    assert_int_equal(aio_loop_remove_reader(loop, sp[1]), 0);
    c.it = 0;
    c.t.text[0] = '\0';
    start_chain(&c);
    run(loop);
    assert_string_equal(c.t.text, "");
    assert_int_equal(w.calls, 3);

    close_loop(loop);
    close_pair(sp);
    assert_no_leaks();
}

/* The reader's *args pointer is handed back as is. */
static void *seen_arg;
static void record_arg(void *arg)
{
    seen_arg = arg;
}
AIO_NAME_CALLBACK(record_arg);

static void test_reader_gets_its_arg(void **state)
{
    (void)state;
    int sp[2];
    make_pair(sp);
    aio_loop *loop = new_loop();
    static int token;
    seen_arg = NULL;
    assert_int_equal(aio_loop_add_reader(loop, sp[0], record_arg, &token, NULL), 0);
    send_byte(sp[1]);
    run_one_iteration_via_stop_cb(loop);
    assert_ptr_equal(seen_arg, &token);
    close_loop(loop);
    close_pair(sp);
    assert_no_leaks();
}

/* The reader's handle keeps the context copied at add_reader() time, and
 * what one run sets is seen by the next. CPython: [10, 11, 12], 20. */
typedef struct ctx_probe {
    aio_contextvar *var;
    trace t;
} ctx_probe;

static void ctx_reader(void *arg)
{
    ctx_probe *p = arg;
    intptr_t value = (intptr_t)aio_contextvar_get_or(p->var, (void *)(intptr_t)-1);
    trace_add(&p->t, "%ld ", (long)value);
    aio_contextvar_token *token = aio_contextvar_set(p->var, (void *)(value + 1));
    assert_non_null(token);
    aio_decref(token);
}
AIO_NAME_CALLBACK(ctx_reader);

static void test_reader_context_persists(void **state)
{
    (void)state;
    int sp[2];
    make_pair(sp);
    aio_loop *loop = new_loop();
    ctx_probe p = {.var = aio_contextvar_new("v")};
    assert_non_null(p.var);
    aio_contextvar_token *t10 = aio_contextvar_set(p.var, (void *)(intptr_t)10);
    assert_int_equal(aio_loop_add_reader(loop, sp[0], ctx_reader, &p, NULL), 0);
    aio_contextvar_token *t20 = aio_contextvar_set(p.var, (void *)(intptr_t)20);
    send_byte(sp[1]);
    for (int i = 0; i < 3; i++)
        run_one_iteration_via_stop_cb(loop);
    assert_string_equal(p.t.text, "10 11 12 ");
    assert_int_equal((intptr_t)aio_contextvar_get_or(p.var, NULL), 20);

    close_loop(loop);
    close_pair(sp);
    assert_int_equal(aio_contextvar_reset(p.var, t20), 0);
    assert_int_equal(aio_contextvar_reset(p.var, t10), 0);
    aio_decref(t20);
    aio_decref(t10);
    aio_decref(p.var);
    assert_no_leaks();
}

/* --- bad descriptors ------------------------------------------------------- */

static void test_invalid_fd(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();

    assert_int_equal(aio_loop_add_reader(loop, -1, noop, NULL, NULL), -1);
    assert_raised(aio_ValueError, "Invalid file descriptor: -1");
    assert_int_equal(aio_loop_remove_reader(loop, -1), -1);
    assert_raised(aio_ValueError, "Invalid file descriptor: -1");
    assert_int_equal(aio_loop_add_writer(loop, -1, noop, NULL, NULL), -1);
    assert_raised(aio_ValueError, "Invalid file descriptor: -1");
    assert_int_equal(aio_loop_remove_writer(loop, -1), -1);
    assert_raised(aio_ValueError, "Invalid file descriptor: -1");
    assert_int_equal(aio_loop_add_reader(loop, -7, noop, NULL, NULL), -1);
    assert_raised(aio_ValueError, "Invalid file descriptor: -7");

    /* Nothing was left registered: the loop still runs and closes cleanly. */
    run_one_iteration_via_stop_cb(loop);
    finish(loop);
}

static void test_null_loop(void **state)
{
    (void)state;
    assert_int_equal(aio_loop_add_reader(NULL, 0, noop, NULL, NULL), -1);
    assert_raised(aio_TypeError,
                  "descriptor 'add_reader' for 'BaseEventLoop' objects doesn't apply to a "
                  "'NoneType' object");
    assert_int_equal(aio_loop_remove_writer(NULL, 0), -1);
    assert_raised(aio_TypeError,
                  "descriptor 'remove_writer' for 'BaseEventLoop' objects doesn't apply to a "
                  "'NoneType' object");
    assert_no_leaks();
}

static void test_closed_loop(void **state)
{
    (void)state;
    int sp[2];
    make_pair(sp);
    aio_loop *loop = new_loop();
    assert_int_equal(aio_loop_close(loop), 0);

    /* Closed is checked before the descriptor. */
    assert_int_equal(aio_loop_add_reader(loop, -1, noop, NULL, NULL), -1);
    assert_raised(aio_RuntimeError, "Event loop is closed");
    assert_int_equal(aio_loop_add_reader(loop, sp[0], noop, NULL, NULL), -1);
    assert_raised(aio_RuntimeError, "Event loop is closed");
    assert_int_equal(aio_loop_add_writer(loop, -1, noop, NULL, NULL), -1);
    assert_raised(aio_RuntimeError, "Event loop is closed");
    assert_int_equal(aio_loop_add_writer(loop, sp[1], noop, NULL, NULL), -1);
    assert_raised(aio_RuntimeError, "Event loop is closed");

    /* remove_* answer False, even for a bad descriptor. */
    assert_int_equal(aio_loop_remove_reader(loop, -1), 0);
    assert_int_equal(aio_loop_remove_reader(loop, sp[0]), 0);
    assert_int_equal(aio_loop_remove_writer(loop, -1), 0);
    assert_int_equal(aio_loop_remove_writer(loop, sp[1]), 0);
    check_no_exception();

    aio_decref(loop);
    close_pair(sp);
    assert_no_leaks();
}

static void expect_oserror(const aio_exc_type *type, int errnum, const char *str)
{
    aio_exc *exc = aio_err_fetch();
    assert_non_null(exc);
    assert_ptr_equal(aio_exc_type_of(exc), type);
    assert_int_equal(aio_exc_errno(exc), errnum);
    assert_string_equal(aio_exc_str(exc), str);
    aio_decref(exc);
}

static void test_closed_fd_is_ebadf(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    int sp[2];
    make_pair(sp);
    int dead = sp[0];
    close_pair(sp);

    assert_int_equal(aio_loop_add_reader(loop, dead, noop, NULL, NULL), -1);
    expect_oserror(aio_OSError, EBADF, "[Errno 9] Bad file descriptor");
    assert_int_equal(aio_loop_add_writer(loop, dead, noop, NULL, NULL), -1);
    expect_oserror(aio_OSError, EBADF, "[Errno 9] Bad file descriptor");
    /* Nothing was registered for it. */
    assert_int_equal(aio_loop_remove_reader(loop, dead), 0);
    assert_int_equal(aio_loop_remove_writer(loop, dead), 0);
    check_no_exception();

    /* The number, reused by a live socket, works normally. */
    make_pair(sp);
    chain c = {.loop = loop, .max = 1};
    probe r = {.c = &c, .tag = "r", .fd = sp[0]};
    assert_int_equal(aio_loop_add_reader(loop, sp[0], probe_cb, &r, NULL), 0);
    send_byte(sp[1]);
    start_chain(&c);
    run(loop);
    assert_string_equal(c.t.text, "r1 ");

    close_loop(loop);
    close_pair(sp);
    assert_no_leaks();
}

static void test_regular_file_and_directory(void **state)
{
    (void)state;
    char path[] = "/tmp/casyncio-test-fds-XXXXXX";
    int file = mkstemp(path);
    assert_true(file >= 0);
    unlink(path);
    int dir = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dir >= 0);
    aio_loop *loop = new_loop();

    /* epoll refuses them with EPERM, which Python raises as PermissionError. */
    assert_int_equal(aio_loop_add_reader(loop, file, noop, NULL, NULL), -1);
    expect_oserror(aio_PermissionError, EPERM, "[Errno 1] Operation not permitted");
    assert_int_equal(aio_loop_add_writer(loop, file, noop, NULL, NULL), -1);
    expect_oserror(aio_PermissionError, EPERM, "[Errno 1] Operation not permitted");
    assert_int_equal(aio_loop_add_reader(loop, dir, noop, NULL, NULL), -1);
    expect_oserror(aio_PermissionError, EPERM, "[Errno 1] Operation not permitted");
    assert_int_equal(aio_loop_remove_reader(loop, file), 0);
    assert_int_equal(aio_loop_remove_writer(loop, file), 0);
    assert_int_equal(aio_loop_remove_reader(loop, dir), 0);
    check_no_exception();

    run_one_iteration_via_stop_cb(loop);
    close_loop(loop);
    close(file);
    close(dir);
    assert_no_leaks();
}

/* --- many descriptors ------------------------------------------------------ */

#define NPAIRS 200

typedef struct many {
    int fd;
    int calls;
} many;

static void many_cb(void *arg)
{
    many *m = arg;
    m->calls++;
    drain(m->fd);
}
AIO_NAME_CALLBACK(many_cb);

static void test_many_fds(void **state)
{
    (void)state;
    static int pairs[NPAIRS][2];
    static many readers[NPAIRS];
    aio_loop *loop = new_loop();
    for (int i = 0; i < NPAIRS; i++) {
        make_pair(pairs[i]);
        readers[i] = (many){.fd = pairs[i][0]};
        assert_int_equal(aio_loop_add_reader(loop, pairs[i][0], many_cb, &readers[i], NULL), 0);
    }
    for (int i = 0; i < NPAIRS; i++)
        send_byte(pairs[i][1]);
    /* All ready in one poll: every reader runs in the first iteration. */
    run_one_iteration_via_stop_cb(loop);
    for (int i = 0; i < NPAIRS; i++)
        assert_int_equal(readers[i].calls, 1);

    /* Drained: nothing more; then only the odd ones get data. */
    for (int i = 1; i < NPAIRS; i += 2)
        send_byte(pairs[i][1]);
    run_one_iteration_via_stop_cb(loop);
    for (int i = 0; i < NPAIRS; i++)
        assert_int_equal(readers[i].calls, i % 2 ? 2 : 1);

    /* Remove the even ones; data on all: only the odd ones run. */
    for (int i = 0; i < NPAIRS; i += 2)
        assert_int_equal(aio_loop_remove_reader(loop, pairs[i][0]), 1);
    for (int i = 0; i < NPAIRS; i++)
        send_byte(pairs[i][1]);
    run_one_iteration_via_stop_cb(loop);
    for (int i = 0; i < NPAIRS; i++)
        assert_int_equal(readers[i].calls, i % 2 ? 3 : 1);

    /* Closed with the odd readers still registered: nothing leaks. */
    close_loop(loop);
    for (int i = 0; i < NPAIRS; i++)
        close_pair(pairs[i]);
    assert_no_leaks();
}

/* --- a reader removing another's queued reader ------------------------------ */

typedef struct remover {
    aio_loop *loop;
    int own_fd;
    int other_fd;
    int calls;
    int removed_other;
    int removed_own;
} remover;

static void remover_cb(void *arg)
{
    remover *r = arg;
    r->calls++;
    r->removed_other = aio_loop_remove_reader(r->loop, r->other_fd);
    r->removed_own = aio_loop_remove_reader(r->loop, r->own_fd);
}
AIO_NAME_CALLBACK(remover_cb);

static void test_reader_removes_queued_reader(void **state)
{
    (void)state;
    int a[2], b[2];
    make_pair(a);
    make_pair(b);
    aio_loop *loop = new_loop();
    remover ra = {.loop = loop, .own_fd = a[0], .other_fd = b[0]};
    remover rb = {.loop = loop, .own_fd = b[0], .other_fd = a[0]};
    assert_int_equal(aio_loop_add_reader(loop, a[0], remover_cb, &ra, NULL), 0);
    assert_int_equal(aio_loop_add_reader(loop, b[0], remover_cb, &rb, NULL), 0);
    send_byte(a[1]);
    send_byte(b[1]);

    /* Both are readable in the same poll, so both handles are queued; the
     * first to run removes (cancels) the other, which is then skipped. The
     * order across fds is the kernel's: either may go first. */
    run_one_iteration_via_stop_cb(loop);
    run_one_iteration_via_stop_cb(loop);
    assert_int_equal(ra.calls + rb.calls, 1);
    remover *ran = ra.calls ? &ra : &rb;
    assert_int_equal(ran->removed_other, 1);
    assert_int_equal(ran->removed_own, 1);
    assert_int_equal(aio_loop_remove_reader(loop, a[0]), 0);
    assert_int_equal(aio_loop_remove_reader(loop, b[0]), 0);

    close_loop(loop);
    close_pair(a);
    close_pair(b);
    assert_no_leaks();
}

/* A reader that removes the writer of its own fd, queued in the same
 * iteration: the writer is skipped. CPython: [('r', True), ('r', False)]. */
typedef struct own_writer_remover {
    aio_loop *loop;
    int fd;
    trace t;
} own_writer_remover;

static void remove_own_writer(void *arg)
{
    own_writer_remover *r = arg;
    trace_add(&r->t, "r:%d ", aio_loop_remove_writer(r->loop, r->fd));
}
AIO_NAME_CALLBACK(remove_own_writer);

static void writer_mark(void *arg)
{
    own_writer_remover *r = arg;
    trace_add(&r->t, "w ");
}
AIO_NAME_CALLBACK(writer_mark);

static void test_reader_removes_own_queued_writer(void **state)
{
    (void)state;
    int sp[2];
    make_pair(sp);
    aio_loop *loop = new_loop();
    own_writer_remover r = {.loop = loop, .fd = sp[0]};

    assert_int_equal(aio_loop_add_writer(loop, sp[0], writer_mark, &r, NULL), 0);
    assert_int_equal(aio_loop_add_reader(loop, sp[0], remove_own_writer, &r, NULL), 0);
    send_byte(sp[1]);
    run_one_iteration_via_stop_cb(loop);
    run_one_iteration_via_stop_cb(loop);
    assert_string_equal(r.t.text, "r:1 r:0 ");
    assert_int_equal(aio_loop_remove_reader(loop, sp[0]), 1);

    close_loop(loop);
    close_pair(sp);
    assert_no_leaks();
}

/* --- closing with registrations ------------------------------------------ */

static void test_close_with_readers_registered(void **state)
{
    (void)state;
    int a[2], b[2];
    make_pair(a);
    make_pair(b);
    aio_loop *loop = new_loop();
    chain c = {.loop = loop, .max = 1};
    probe r = {.c = &c, .tag = "r", .fd = -1};
    probe w = {.c = &c, .tag = "w", .fd = -1};
    assert_int_equal(aio_loop_add_reader(loop, a[0], probe_cb, &r, NULL), 0);
    assert_int_equal(aio_loop_add_writer(loop, a[0], probe_cb, &w, NULL), 0);
    assert_int_equal(aio_loop_add_reader(loop, b[0], probe_cb, &r, NULL), 0);
    assert_int_equal(aio_loop_add_writer(loop, b[1], probe_cb, &w, NULL), 0);
    send_byte(a[1]);

    assert_int_equal(aio_loop_close(loop), 0);
    assert_int_equal(aio_loop_remove_reader(loop, a[0]), 0);
    assert_int_equal(aio_loop_remove_writer(loop, a[0]), 0);
    assert_int_equal(r.calls + w.calls, 0);
    aio_decref(loop);

    /* The descriptors themselves are the caller's: still open. */
    assert_int_equal(fcntl(a[0], F_GETFD) >= 0, 1);
    assert_int_equal(fcntl(b[1], F_GETFD) >= 0, 1);
    close_pair(a);
    close_pair(b);
    assert_no_leaks();
}

/* Dropping the last reference of an unclosed loop with readers closes it. */
static void test_decref_unclosed_loop_with_readers(void **state)
{
    (void)state;
    int sp[2];
    make_pair(sp);
    aio_loop *loop = new_loop();
    assert_int_equal(aio_loop_add_reader(loop, sp[0], noop, NULL, NULL), 0);
    assert_int_equal(aio_loop_add_writer(loop, sp[1], noop, NULL, NULL), 0);
    aio_decref(loop);
    close_pair(sp);
    assert_no_leaks();
}

/* --- the poll-skipping optimisation ------------------------------------------ */

static chain *sig_chain;
static void on_usr1(void *arg)
{
    (void)arg;
    trace_add(&sig_chain->t, "handler%d ", sig_chain->it);
}
AIO_NAME_CALLBACK(on_usr1);

static void test_poll_skip_keeps_signals(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    /* No fd registered: a chain of call_soon never needs a real poll, yet
     * a signal delivered mid-chain still runs its handler, two iterations
     * later, as CPython: [('send', 2), ('handler', 4)]. */
    chain c = {.loop = loop, .max = 8, .kill_at = 2};
    sig_chain = &c;
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGUSR1, on_usr1, NULL, NULL), 0);
    start_chain(&c);
    run(loop);
    assert_string_equal(c.t.text, "kill2 handler4 ");

    /* And again, after the first one was consumed. */
    c.it = 0;
    c.t.text[0] = '\0';
    c.kill_at = 5;
    start_chain(&c);
    run(loop);
    assert_string_equal(c.t.text, "kill5 handler7 ");

    close_loop(loop);
    struct sigaction sa;
    assert_int_equal(sigaction(SIGUSR1, NULL, &sa), 0);
    assert_ptr_equal((void *)sa.sa_handler, (void *)SIG_DFL);
    assert_no_leaks();
}

static void test_poll_every_iteration_with_fd(void **state)
{
    (void)state;
    int sp[2];
    make_pair(sp);
    aio_loop *loop = new_loop();
    /* An fd registered (here a writer-less reader on another socket) makes
     * every iteration poll: data written in iteration 5 is seen in 6. */
    chain c = {.loop = loop, .max = 10, .write_at = 5, .write_fd = sp[1]};
    probe r = {.c = &c, .tag = "r", .fd = sp[0]};
    assert_int_equal(aio_loop_add_reader(loop, sp[0], probe_cb, &r, NULL), 0);
    start_chain(&c);
    run(loop);
    assert_string_equal(c.t.text, "w5 r6 ");

    /* With a signal handler too, both arrive on time. */
    c.it = 0;
    c.t.text[0] = '\0';
    c.kill_at = 2;
    c.write_at = 3;
    sig_chain = &c;
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGUSR1, on_usr1, NULL, NULL), 0);
    start_chain(&c);
    run(loop);
    assert_string_equal(c.t.text, "kill2 w3 handler4 r4 ");

    close_loop(loop);
    close_pair(sp);
    assert_no_leaks();
}


static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_reader_level_triggered),
    cmocka_unit_test(test_reader_fires_when_data_arrives),
    cmocka_unit_test(test_add_reader_twice_replaces),
    cmocka_unit_test(test_add_writer_twice_replaces),
    cmocka_unit_test(test_reader_before_writer),
    cmocka_unit_test(test_writer_fires_and_remove_writer),
    cmocka_unit_test(test_reader_gets_its_arg),
    cmocka_unit_test(test_reader_context_persists),
    cmocka_unit_test(test_invalid_fd),
    cmocka_unit_test(test_null_loop),
    cmocka_unit_test(test_closed_loop),
    cmocka_unit_test(test_closed_fd_is_ebadf),
    cmocka_unit_test(test_regular_file_and_directory),
    cmocka_unit_test(test_many_fds),
    cmocka_unit_test(test_reader_removes_queued_reader),
    cmocka_unit_test(test_reader_removes_own_queued_writer),
    cmocka_unit_test(test_close_with_readers_registered),
    cmocka_unit_test(test_decref_unclosed_loop_with_readers),
    cmocka_unit_test(test_poll_skip_keeps_signals),
    cmocka_unit_test(test_poll_every_iteration_with_fd),
};

AIO_TEST_MAIN(tests)
