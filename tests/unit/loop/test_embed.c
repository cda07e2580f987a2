/* test_embed.c - the loop driven from another program's main loop.
 *
 * A host waits on aio_loop_backend_fd() for at most
 * aio_loop_backend_timeout() seconds, then runs one iteration with
 * aio_loop_run_once(loop, 0). The same program (callbacks, a timer, a
 * reader fed by another thread, call_soon_threadsafe) must give the same
 * trace under a plain poll() host, under a libev loop of the host's own,
 * and under run_forever(). The poll hooks run only around a poll that
 * waits, and an exception the after-hook sets ends the run.
 */
#include <ev.h>
#include <math.h>
#include <poll.h>

#include "test_support.h"

/* --- The program --------------------------------------------------------------- */

typedef struct program {
    aio_loop *loop;
    trace t;
    int fds[2];
    pthread_t thread;
    int stage; /* how far the loop got, for the feeder thread (atomic) */
} program;

static void step(void *arg);

static void note(program *p, const char *what)
{
    trace_add(&p->t, "%s;", what);
}

static void advance(program *p)
{
    __atomic_add_fetch(&p->stage, 1, __ATOMIC_RELEASE);
}

static void wait_stage(program *p, int stage)
{
    while (__atomic_load_n(&p->stage, __ATOMIC_ACQUIRE) < stage)
        sleep_ms(1);
}

static void on_soon(void *arg)
{
    note(arg, "soon");
    advance(arg);
}
AIO_NAME_CALLBACK(on_soon);

static void on_timer(void *arg);

static void on_threadsafe(void *arg)
{
    program *p = arg;
    note(p, "threadsafe");
    aio_loop_call_later(p->loop, &(aio_loop_call_later_args){.delay = 0.02, .callback = on_timer,
                                                             .args = p});
}
AIO_NAME_CALLBACK(on_threadsafe);

static void on_readable(void *arg)
{
    program *p = arg;
    char buf[8];
    ssize_t n = read(p->fds[0], buf, sizeof buf);
    trace_add(&p->t, "read %zd;", n);
    aio_loop_remove_reader(p->loop, p->fds[0]);
    advance(p);
}
AIO_NAME_CALLBACK(on_readable);

static void on_timer(void *arg)
{
    program *p = arg;
    note(p, "timer");
    aio_loop_call_later(p->loop, &(aio_loop_call_later_args){.delay = 0.03, .callback = step,
                                                             .args = p});
}
AIO_NAME_CALLBACK(on_timer);

static void on_stop(void *arg)
{
    program *p = arg;
    note(p, "stop");
    aio_loop_stop(p->loop);
}
AIO_NAME_CALLBACK(on_stop);

/* After the second timer: the end. */
static void step(void *arg)
{
    program *p = arg;
    note(p, "step");
    aio_loop_call_soon(p->loop, &(aio_loop_call_soon_args){.callback = on_stop, .args = p});
}
AIO_NAME_CALLBACK(step);

/* Another thread: bytes for the reader once the first callback ran, then
 * a callback once they were read (each step waits for the loop, so that
 * the order does not depend on timing). */
static void *feeder(void *arg)
{
    program *p = arg;
    wait_stage(p, 1);
    sleep_ms(5);
    (void)!write(p->fds[1], "ab", 2);
    wait_stage(p, 2);
    sleep_ms(5);
    aio_loop_call_soon_threadsafe(p->loop, &(aio_loop_call_soon_threadsafe_args){
                                               .callback = on_threadsafe, .args = p});
    return NULL;
}

static void program_start(program *p)
{
    memset(p, 0, sizeof *p);
    p->loop = new_loop();
    assert_int_equal(pipe(p->fds), 0);
    aio_loop_call_soon(p->loop, &(aio_loop_call_soon_args){.callback = on_soon, .args = p});
    assert_int_equal(aio_loop_add_reader(p->loop, p->fds[0], on_readable, p, NULL), 0);
    assert_int_equal(pthread_create(&p->thread, NULL, feeder, p), 0);
}

static void program_end(program *p, const char *expected)
{
    pthread_join(p->thread, NULL);
    assert_string_equal(p->t.text, expected);
    close(p->fds[0]);
    close(p->fds[1]);
    finish(p->loop);
}

#define EXPECTED "soon;read 2;threadsafe;timer;step;stop;"

/* --- Hosts ------------------------------------------------------------------------ */

static void test_run_forever_reference(void **state)
{
    (void)state;
    program p;
    program_start(&p);
    assert_int_equal(aio_loop_run_forever(p.loop), 0);
    program_end(&p, EXPECTED);
}

static void test_plain_poll_host(void **state)
{
    (void)state;
    program p;
    program_start(&p);
    int fd = aio_loop_backend_fd(p.loop);
    assert_true(fd >= 0);
    assert_int_equal(aio_loop_backend_fd(p.loop), fd); /* the same one each time */
    int rc = 0, waits = 0;
    while (rc == 0) {
        double wait = aio_loop_backend_timeout(p.loop);
        assert_true(wait >= 0.0);
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int ms = isinf(wait) ? -1 : (int)ceil(wait * 1e3);
        if (ms != 0)
            waits++;
        poll(&pfd, 1, ms);
        rc = aio_loop_run_once(p.loop, 0);
    }
    assert_int_equal(rc, 1); /* stop() */
    assert_true(waits >= 3);  /* the host did the waiting */
    program_end(&p, EXPECTED);
}

/* A libev loop of the host's own, with the backend fd as an ev_io and the
 * deadline as an ev_timer. */
typedef struct ev_host {
    struct ev_loop *ev;
    ev_io io;
    ev_timer timer;
    aio_loop *loop;
    int rc;
} ev_host;

static void host_iterate(ev_host *h)
{
    if (h->rc != 0)
        return; /* stopped: libev may still call a watcher that was pending */
    h->rc = aio_loop_run_once(h->loop, 0);
    if (h->rc != 0) {
        ev_break(h->ev, EVBREAK_ALL);
        return;
    }
    double wait = aio_loop_backend_timeout(h->loop);
    ev_timer_stop(h->ev, &h->timer);
    if (!isinf(wait)) {
        ev_timer_set(&h->timer, wait, 0.0);
        ev_timer_start(h->ev, &h->timer);
    }
}

static void host_io(struct ev_loop *ev, ev_io *w, int revents)
{
    (void)ev;
    (void)revents;
    host_iterate((ev_host *)((char *)w - offsetof(ev_host, io)));
}

static void host_timer(struct ev_loop *ev, ev_timer *w, int revents)
{
    (void)ev;
    (void)revents;
    host_iterate((ev_host *)((char *)w - offsetof(ev_host, timer)));
}

static void test_libev_host(void **state)
{
    (void)state;
    program p;
    program_start(&p);
    ev_host h = {.ev = ev_loop_new(EVFLAG_AUTO), .loop = p.loop};
    assert_non_null(h.ev);
    ev_io_init(&h.io, host_io, aio_loop_backend_fd(p.loop), EV_READ);
    ev_io_start(h.ev, &h.io);
    ev_init(&h.timer, host_timer);
    host_iterate(&h); /* the first iteration, then whatever comes */
    ev_run(h.ev, 0);
    assert_int_equal(h.rc, 1);
    ev_io_stop(h.ev, &h.io);
    ev_timer_stop(h.ev, &h.timer);
    ev_loop_destroy(h.ev);
    program_end(&p, EXPECTED);
}

/* --- run_once, backend_timeout ------------------------------------------------------- */

static void check_running(void *arg)
{
    aio_loop *loop = arg;
    assert_ptr_equal(aio_get_running_loop(), loop);
    assert_int_equal(aio_loop_is_running(loop), 1);
    /* Another run inside this one is refused, as run_forever() refuses it. */
    assert_int_equal(aio_loop_run_once(loop, 0), -1);
    assert_raised(aio_RuntimeError, "This event loop is already running");
}
AIO_NAME_CALLBACK(check_running);

static void test_run_once_and_timeout(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_true(isinf(aio_loop_backend_timeout(loop)));
    soon(loop, check_running, loop);
    assert_true(aio_loop_backend_timeout(loop) == 0.0);
    assert_int_equal(aio_loop_run_once(loop, 0), 0);
    assert_int_equal(aio_loop_is_running(loop), 0);
    check_no_exception();

    aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = 5.0, .callback = noop});
    double wait = aio_loop_backend_timeout(loop);
    assert_true(wait > 4.0 && wait <= 5.0);
    /* run_once with a limit: the poll waits no longer than asked. */
    double t0 = monotonic_now();
    assert_int_equal(aio_loop_run_once(loop, 0.01), 0);
    assert_true(monotonic_now() - t0 < 4.0);

    aio_loop_stop(loop);
    assert_true(aio_loop_backend_timeout(loop) == 0.0);
    assert_int_equal(aio_loop_run_once(loop, 0), 1);
    assert_int_equal(aio_loop_run_once(loop, 0), 0); /* the stop was spent */

    assert_int_equal(aio_loop_run_once(loop, -1.0), -1);
    assert_raised(aio_ValueError, NULL);
    assert_int_equal(aio_loop_run_once(loop, NAN), -1);
    assert_raised(aio_ValueError, NULL);
    assert_int_equal(aio_loop_run_once(NULL, 0), -1);
    assert_raised(aio_TypeError, NULL);

    assert_int_equal(aio_loop_close(loop), 0);
    assert_int_equal(aio_loop_backend_fd(loop), -1);
    assert_raised(aio_RuntimeError, "Event loop is closed");
    assert_true(aio_loop_backend_timeout(loop) == -1.0);
    assert_raised(aio_RuntimeError, "Event loop is closed");
    assert_int_equal(aio_loop_run_once(loop, 0), -1);
    assert_raised(aio_RuntimeError, "Event loop is closed");
    aio_decref(loop);
    assert_no_leaks();
}

/* --- Poll hooks --------------------------------------------------------------------------- */

typedef struct hooks {
    int before, after;
    double last_timeout;
    bool raise_after;
    bool in_poll;
    bool callback_in_poll; /* a callback ran between before and after */
} hooks;

static void hook_before(aio_loop *loop, double timeout, void *arg)
{
    (void)loop;
    hooks *h = arg;
    h->before++;
    h->last_timeout = timeout;
    h->in_poll = true;
}
AIO_NAME_CALLBACK(hook_before);

static void hook_after(aio_loop *loop, double timeout, void *arg)
{
    (void)loop;
    (void)timeout;
    hooks *h = arg;
    h->after++;
    h->in_poll = false;
    if (h->raise_after) {
        h->raise_after = false;
        aio_err_set(aio_KeyboardInterrupt, NULL);
    }
}
AIO_NAME_CALLBACK(hook_after);

static hooks *g_hooks;
static int g_reads;
static trace T_dummy;

static void hooked_reader(void *arg)
{
    int *fds = arg;
    char c;
    if (read(fds[0], &c, 1) == 1)
        g_reads++;
}
AIO_NAME_CALLBACK(hooked_reader);

static void hooked_callback(void *arg)
{
    (void)arg;
    if (g_hooks->in_poll)
        g_hooks->callback_in_poll = true;
}
AIO_NAME_CALLBACK(hooked_callback);

static void test_poll_hooks(void **state)
{
    (void)state;
    hooks h = {0};
    g_hooks = &h;
    aio_loop *loop = new_loop();
    assert_int_equal(aio_loop_set_poll_hooks(loop, hook_before, hook_after, &h), 0);
    /* Polls that do not wait: no hooks. */
    soon(loop, hooked_callback, NULL);
    run_one_iteration(loop);
    assert_int_equal(h.before + h.after, 0);
    /* A poll that waits for a timer: both hooks, around it only. */
    aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = 0.01,
                                                         .callback = hooked_callback});
    aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = 0.02, .callback = stop_cb,
                                                         .args = loop});
    assert_int_equal(aio_loop_run_forever(loop), 0);
    assert_true(h.before >= 1);
    assert_int_equal(h.before, h.after);
    assert_true(h.last_timeout > 0.0 && h.last_timeout <= 0.02);
    assert_false(h.callback_in_poll);

    /* An exception from the after-hook ends the run; the reader whose data
     * the poll found runs in the next one. */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    memset(&T_dummy, 0, sizeof T_dummy);
    h.raise_after = true;
    assert_int_equal(aio_loop_add_reader(loop, fds[0], hooked_reader, fds, NULL), 0);
    assert_int_equal(write(fds[1], "x", 1), 1);
    assert_int_equal(aio_loop_run_forever(loop), -1);
    assert_raised(aio_KeyboardInterrupt, NULL);
    assert_int_equal(g_reads, 0);
    run_one_iteration(loop);
    assert_int_equal(g_reads, 1);
    aio_loop_remove_reader(loop, fds[0]);
    close(fds[0]);
    close(fds[1]);

    /* Hooks removed. */
    assert_int_equal(aio_loop_set_poll_hooks(loop, NULL, NULL, NULL), 0);
    int before = h.before;
    aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = 0.005, .callback = stop_cb,
                                                         .args = loop});
    assert_int_equal(aio_loop_run_forever(loop), 0);
    assert_int_equal(h.before, before);
    assert_int_equal(aio_loop_set_poll_hooks(NULL, NULL, NULL, NULL), -1);
    assert_raised(aio_TypeError, NULL);
    finish(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_run_forever_reference),
    cmocka_unit_test(test_plain_poll_host),
    cmocka_unit_test(test_libev_host),
    cmocka_unit_test(test_run_once_and_timeout),
    cmocka_unit_test(test_poll_hooks),
};

AIO_TEST_MAIN(tests)
