/* test_signals.c - loop.add_signal_handler/remove_signal_handler.
 *
 * Expectations checked against CPython 3.11's _UnixSelectorEventLoop
 * (ASYNCIO-SEMANTICS.md §7 Signals): the handler runs two iterations after
 * delivery, checks come in Python's order with Python's messages, removal
 * and close() restore SIG_DFL, and the handler runs in the context copied at
 * add_signal_handler() time. Each test runs in its own process; each still
 * leaves SIGUSR1/SIGUSR2 at SIG_DFL.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "test_support.h"

/* --- helpers ------------------------------------------------------------- */

static void *handler_of(int sig)
{
    struct sigaction sa;
    assert_int_equal(sigaction(sig, NULL, &sa), 0);
    return (void *)sa.sa_handler;
}

static void assert_default(int sig)
{
    assert_ptr_equal(handler_of(sig), (void *)SIG_DFL);
}

/* A chain of call_soon() counting iterations (1 for the first), which
 * raises `kill_sig` in iteration `kill_at` and stops after `max`. */
typedef struct chain {
    aio_loop *loop;
    int it;
    int max;
    int kill_at;
    int kill_sig;
    trace t;
} chain;

static void tick(void *arg)
{
    chain *c = arg;
    c->it++;
    if (c->kill_at == c->it) {
        trace_add(&c->t, "send@%d ", c->it);
        raise(c->kill_sig);
    }
    if (c->it < c->max)
        assert_non_null(aio_loop_call_soon(c->loop, &(aio_loop_call_soon_args){.callback = tick,
                                                                                .args = c}));
    else
        aio_loop_stop(c->loop);
}
AIO_NAME_CALLBACK(tick);

static void run_chain(chain *c, int max)
{
    c->it = 0;
    c->max = max;
    assert_non_null(aio_loop_call_soon(c->loop, &(aio_loop_call_soon_args){.callback = tick,
                                                                            .args = c}));
    run(c->loop);
}

/* A handler that records "<tag>@<iteration>". */
typedef struct probe {
    chain *c;
    const char *tag;
    int calls;
} probe;

static void probe_cb(void *arg)
{
    probe *p = arg;
    p->calls++;
    trace_add(&p->c->t, "%s@%d ", p->tag, p->c->it);
}
AIO_NAME_CALLBACK(probe_cb);

/* --- delivery -------------------------------------------------------------- */

static void test_handler_runs_two_iterations_later(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    chain c = {.loop = loop, .kill_at = 2, .kill_sig = SIGUSR1};
    probe h = {.c = &c, .tag = "handler"};
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGUSR1, probe_cb, &h, NULL), 0);
    /* Installed: not the default disposition, restarting system calls. */
    struct sigaction sa;
    assert_int_equal(sigaction(SIGUSR1, NULL, &sa), 0);
    assert_ptr_not_equal((void *)sa.sa_handler, (void *)SIG_DFL);
    assert_ptr_not_equal((void *)sa.sa_handler, (void *)SIG_IGN);
    assert_true(sa.sa_flags & SA_RESTART);

    /* CPython: [('send', 2), ('handler', 4)]. */
    run_chain(&c, 8);
    assert_string_equal(c.t.text, "send@2 handler@4 ");
    assert_int_equal(h.calls, 1);

    /* The handler stays: a second delivery runs it again. */
    c.t.text[0] = '\0';
    c.kill_at = 3;
    run_chain(&c, 8);
    assert_string_equal(c.t.text, "send@3 handler@5 ");
    assert_int_equal(h.calls, 2);

    assert_int_equal(aio_loop_remove_signal_handler(loop, SIGUSR1), 1);
    close_loop(loop);
    assert_default(SIGUSR1);
    assert_no_leaks();
}

static void *seen_arg;
static void record_arg_and_stop(void *arg)
{
    seen_arg = arg;
    aio_loop_stop(aio_get_running_loop());
}
AIO_NAME_CALLBACK(record_arg_and_stop);

static void test_handler_gets_its_arg(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    static int token;
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGUSR2, record_arg_and_stop, &token, NULL), 0);
    raise(SIGUSR2);
    run(loop);
    assert_ptr_equal(seen_arg, &token);
    close_loop(loop);
    assert_default(SIGUSR2);
    assert_no_leaks();
}

/* A signal sent by another thread wakes a loop blocked in its poll. */
static void *send_later(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    kill(getpid(), SIGUSR1);
    return NULL;
}

static void test_signal_wakes_blocked_poll(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGUSR1, record_arg_and_stop, loop, NULL), 0);
    /* A safety stop far away: the loop blocks in the poll until then. */
    assert_non_null(aio_loop_call_later(loop, &(aio_loop_call_later_args){
        .delay = 10.0, .callback = stop_cb, .args = loop}));
    double t0 = aio_loop_time(loop);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, send_later, NULL), 0);
    seen_arg = NULL;
    run(loop);
    pthread_join(thread, NULL);
    double elapsed = aio_loop_time(loop) - t0;
    assert_ptr_equal(seen_arg, loop);
    assert_true(elapsed < 5.0);
    close_loop(loop);
    assert_default(SIGUSR1);
    assert_no_leaks();
}

static void test_two_signals_before_run_in_delivery_order(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    chain c = {.loop = loop};
    probe usr1 = {.c = &c, .tag = "usr1"};
    probe usr2 = {.c = &c, .tag = "usr2"};
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGUSR2, probe_cb, &usr2, NULL), 0);
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGUSR1, probe_cb, &usr1, NULL), 0);
    raise(SIGUSR2);
    raise(SIGUSR1);
    raise(SIGUSR1);
    /* CPython: ['usr2@2', 'usr1@2', 'usr1@2']: the self-pipe's reader runs
     * in iteration 1, the handlers in 2, once per delivery, in order. */
    run_chain(&c, 5);
    assert_string_equal(c.t.text, "usr2@2 usr1@2 usr1@2 ");
    close_loop(loop);
    assert_default(SIGUSR1);
    assert_default(SIGUSR2);
    assert_no_leaks();
}

static void test_removed_before_dispatch_does_not_run(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    chain c = {.loop = loop};
    probe usr2 = {.c = &c, .tag = "usr2"};
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGUSR2, probe_cb, &usr2, NULL), 0);
    raise(SIGUSR2); /* its byte waits in the self-pipe */
    assert_int_equal(aio_loop_remove_signal_handler(loop, SIGUSR2), 1);
    assert_default(SIGUSR2);
    run_chain(&c, 5);
    assert_string_equal(c.t.text, "");
    assert_int_equal(usr2.calls, 0);
    finish(loop);
}

/* A signal flagged for a first loop's pipe is not taken for one in the next
 * loop's: CPython ['send@1', 'h@3']. */
static void test_second_loop_keeps_two_iteration_delay(void **state)
{
    (void)state;
    aio_loop *first = new_loop();
    assert_int_equal(aio_loop_add_signal_handler(first, SIGUSR2, noop, NULL, NULL), 0);
    raise(SIGUSR2);
    assert_int_equal(aio_loop_remove_signal_handler(first, SIGUSR2), 1);

    aio_loop *loop = new_loop();
    chain c = {.loop = loop, .kill_at = 1, .kill_sig = SIGUSR1};
    probe h = {.c = &c, .tag = "h"};
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGUSR1, probe_cb, &h, NULL), 0);
    run_chain(&c, 5);
    assert_string_equal(c.t.text, "send@1 h@3 ");
    close_loop(loop);
    close_loop(first);
    assert_default(SIGUSR1);
    assert_no_leaks();
}

/* A signal a real poll (an fd registered) already saw does not make a later
 * skipped poll read the self-pipe early: CPython ['r', 'h@5', 'send@1',
 * 'h@3'] (the first handler run sees the chain's old count). */
static void drain_and_mark(void *arg)
{
    probe *p = arg;
    char buf[16];
    while (read(p->calls, buf, sizeof buf) > 0)
        ;
    trace_add(&p->c->t, "r ");
}
AIO_NAME_CALLBACK(drain_and_mark);

static void test_signal_seen_by_real_poll_then_skipped_polls(void **state)
{
    (void)state;
    int sp[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp), 0);
    aio_loop *loop = new_loop();
    chain c = {.loop = loop, .kill_sig = SIGUSR1};
    probe h = {.c = &c, .tag = "h"};
    probe r = {.c = &c, .calls = sp[0]}; /* `calls` holds the fd to drain */
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGUSR1, probe_cb, &h, NULL), 0);
    run_chain(&c, 5);

    assert_int_equal(aio_loop_add_reader(loop, sp[0], drain_and_mark, &r, NULL), 0);
    raise(SIGUSR1);
    assert_int_equal(write(sp[1], "z", 1), 1);
    run_one_iteration_via_stop_cb(loop);
    run_one_iteration_via_stop_cb(loop);
    assert_int_equal(aio_loop_remove_reader(loop, sp[0]), 1);

    c.kill_at = 1;
    run_chain(&c, 5);
    assert_string_equal(c.t.text, "r h@5 send@1 h@3 ");
    close_loop(loop);
    close(sp[0]);
    close(sp[1]);
    assert_default(SIGUSR1);
    assert_no_leaks();
}

/* --- replacing and removing ------------------------------------------------ */

static void test_replace_handler(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    chain c = {.loop = loop, .kill_at = 1, .kill_sig = SIGUSR1};
    probe old = {.c = &c, .tag = "old"};
    probe new = {.c = &c, .tag = "new"};
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGUSR1, probe_cb, &old, NULL), 0);
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGUSR1, probe_cb, &new, NULL), 0);
    run_chain(&c, 5);
    assert_string_equal(c.t.text, "send@1 new@3 ");
    assert_int_equal(old.calls, 0);
    /* One registration for the signal. */
    assert_int_equal(aio_loop_remove_signal_handler(loop, SIGUSR1), 1);
    assert_int_equal(aio_loop_remove_signal_handler(loop, SIGUSR1), 0);
    finish(loop);
}

static void test_remove_restores_default(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    /* Never registered: False, the disposition untouched. */
    assert_int_equal(aio_loop_remove_signal_handler(loop, SIGUSR1), 0);
    assert_int_equal(aio_loop_remove_signal_handler(loop, SIGKILL), 0);
    assert_int_equal(aio_loop_remove_signal_handler(loop, SIGINT), 0);

    assert_int_equal(aio_loop_add_signal_handler(loop, SIGUSR1, noop, NULL, NULL), 0);
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGINT, noop, NULL, NULL), 0);
    assert_ptr_not_equal(handler_of(SIGUSR1), (void *)SIG_DFL);
    assert_int_equal(aio_loop_remove_signal_handler(loop, SIGUSR1), 1);
    assert_default(SIGUSR1);
    assert_int_equal(aio_loop_remove_signal_handler(loop, SIGUSR1), 0);
    assert_default(SIGUSR1);
    /* SIGINT too: Python's default_int_handler is a C program's SIG_DFL. */
    assert_int_equal(aio_loop_remove_signal_handler(loop, SIGINT), 1);
    assert_default(SIGINT);

    /* Re-adding after a removal works. */
    chain c = {.loop = loop, .kill_at = 1, .kill_sig = SIGUSR1};
    probe h = {.c = &c, .tag = "h"};
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGUSR1, probe_cb, &h, NULL), 0);
    run_chain(&c, 4);
    assert_string_equal(c.t.text, "send@1 h@3 ");
    assert_int_equal(aio_loop_remove_signal_handler(loop, SIGUSR1), 1);
    close_loop(loop);
    assert_default(SIGUSR1);
    assert_no_leaks();
}

/* A handler that removes itself: later deliveries would kill the process,
 * so only check the return value and the disposition. */
static void remove_self(void *arg)
{
    aio_loop *loop = arg;
    seen_arg = (void *)(intptr_t)aio_loop_remove_signal_handler(loop, SIGUSR2);
    aio_loop_stop(loop);
}
AIO_NAME_CALLBACK(remove_self);

static void test_handler_removes_itself(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGUSR2, remove_self, loop, NULL), 0);
    raise(SIGUSR2);
    seen_arg = NULL;
    run(loop);
    assert_int_equal((intptr_t)seen_arg, 1);
    assert_default(SIGUSR2);
    finish(loop);
}

/* --- bad input --------------------------------------------------------------- */

static void test_invalid_signal_numbers(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    static const int bad[] = {0, -1, 32, 33, 65, NSIG, 1000};
    char msg[64];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(msg, sizeof msg, "invalid signal number %d", bad[i]);
        assert_int_equal(aio_loop_add_signal_handler(loop, bad[i], noop, NULL, NULL), -1);
        assert_raised(aio_ValueError, msg);
        assert_int_equal(aio_loop_remove_signal_handler(loop, bad[i]), -1);
        assert_raised(aio_ValueError, msg);
    }
    /* The valid range's ends are accepted (SIGHUP, SIGRTMAX). */
    assert_int_equal(aio_loop_add_signal_handler(loop, 1, noop, NULL, NULL), 0);
    assert_int_equal(aio_loop_add_signal_handler(loop, NSIG - 1, noop, NULL, NULL), 0);
    assert_int_equal(aio_loop_remove_signal_handler(loop, 1), 1);
    assert_int_equal(aio_loop_remove_signal_handler(loop, NSIG - 1), 1);
    assert_default(1);
    assert_default(NSIG - 1);
    finish(loop);
}

static void test_uncatchable_signals(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGKILL, noop, NULL, NULL), -1);
    assert_raised(aio_RuntimeError, "sig 9 cannot be caught");
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGSTOP, noop, NULL, NULL), -1);
    assert_raised(aio_RuntimeError, "sig 19 cannot be caught");
    /* Not left registered. */
    assert_int_equal(aio_loop_remove_signal_handler(loop, SIGKILL), 0);
    assert_int_equal(aio_loop_remove_signal_handler(loop, SIGSTOP), 0);
    check_no_exception();

    /* A failed add leaves an existing handler of another signal working. */
    chain c = {.loop = loop, .kill_at = 1, .kill_sig = SIGUSR1};
    probe h = {.c = &c, .tag = "h"};
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGUSR1, probe_cb, &h, NULL), 0);
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGKILL, noop, NULL, NULL), -1);
    assert_raised(aio_RuntimeError, "sig 9 cannot be caught");
    run_chain(&c, 4);
    assert_string_equal(c.t.text, "send@1 h@3 ");
    close_loop(loop);
    assert_default(SIGUSR1);
    assert_no_leaks();
}

static void test_null_loop(void **state)
{
    (void)state;
    assert_int_equal(aio_loop_add_signal_handler(NULL, SIGUSR1, noop, NULL, NULL), -1);
    assert_raised(aio_TypeError, "descriptor 'add_signal_handler' for 'BaseEventLoop' objects "
                                 "doesn't apply to a 'NoneType' object");
    assert_int_equal(aio_loop_remove_signal_handler(NULL, SIGUSR1), -1);
    assert_raised(aio_TypeError, "descriptor 'remove_signal_handler' for 'BaseEventLoop' "
                                 "objects doesn't apply to a 'NoneType' object");
    assert_default(SIGUSR1);
    assert_no_leaks();
}

typedef struct thread_result {
    aio_loop *loop;
    int sig;
    int rc;
    const aio_exc_type *type;
    char message[128];
} thread_result;

static void *add_from_thread(void *arg)
{
    thread_result *r = arg;
    r->rc = aio_loop_add_signal_handler(r->loop, r->sig, noop, NULL, NULL);
    aio_exc *exc = aio_err_fetch();
    if (exc != NULL) {
        r->type = aio_exc_type_of(exc);
        snprintf(r->message, sizeof r->message, "%s", aio_exc_str(exc));
        aio_decref(exc);
    }
    return NULL;
}

static void test_non_main_thread(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    thread_result r = {.loop = loop, .sig = SIGUSR1};
    run_in_thread(add_from_thread, &r);
    assert_int_equal(r.rc, -1);
    assert_ptr_equal(r.type, aio_RuntimeError);
    assert_string_equal(r.message,
                        "set_wakeup_fd only works in main thread of the main interpreter");
    assert_default(SIGUSR1);

    /* The signal number is checked first, SIGKILL is valid. */
    r = (thread_result){.loop = loop, .sig = 0};
    run_in_thread(add_from_thread, &r);
    assert_ptr_equal(r.type, aio_ValueError);
    assert_string_equal(r.message, "invalid signal number 0");
    r = (thread_result){.loop = loop, .sig = SIGKILL};
    run_in_thread(add_from_thread, &r);
    assert_ptr_equal(r.type, aio_RuntimeError);
    assert_string_equal(r.message,
                        "set_wakeup_fd only works in main thread of the main interpreter");

    /* Nothing was registered. */
    assert_int_equal(aio_loop_remove_signal_handler(loop, SIGUSR1), 0);
    finish(loop);
}

static void test_closed_loop(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_int_equal(aio_loop_close(loop), 0);

    /* The signal number is checked before the loop's state. */
    assert_int_equal(aio_loop_add_signal_handler(loop, 0, noop, NULL, NULL), -1);
    assert_raised(aio_ValueError, "invalid signal number 0");
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGUSR1, noop, NULL, NULL), -1);
    assert_raised(aio_RuntimeError, "Event loop is closed");
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGKILL, noop, NULL, NULL), -1);
    assert_raised(aio_RuntimeError, "Event loop is closed");
    assert_default(SIGUSR1);

    assert_int_equal(aio_loop_remove_signal_handler(loop, 0), -1);
    assert_raised(aio_ValueError, "invalid signal number 0");
    assert_int_equal(aio_loop_remove_signal_handler(loop, SIGUSR1), 0);
    check_no_exception();

    /* Closed from another thread's point of view too: closed comes first. */
    thread_result r = {.loop = loop, .sig = SIGUSR1};
    run_in_thread(add_from_thread, &r);
    assert_ptr_equal(r.type, aio_RuntimeError);
    assert_string_equal(r.message, "Event loop is closed");

    aio_decref(loop);
    assert_no_leaks();
}

static void test_close_removes_handlers(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGUSR1, noop, NULL, NULL), 0);
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGUSR2, noop, NULL, NULL), 0);
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGHUP, noop, NULL, NULL), 0);
    assert_ptr_not_equal(handler_of(SIGUSR2), (void *)SIG_DFL);
    assert_int_equal(aio_loop_close(loop), 0);
    assert_default(SIGUSR1);
    assert_default(SIGUSR2);
    assert_default(SIGHUP);
    assert_int_equal(aio_loop_remove_signal_handler(loop, SIGUSR1), 0);
    assert_int_equal(aio_loop_remove_signal_handler(loop, SIGUSR2), 0);
    check_no_exception();
    aio_decref(loop);
    assert_no_leaks();
}

/* Dropping the last reference of an unclosed loop closes it, removing its
 * handlers too. */
static void test_decref_unclosed_loop_removes_handlers(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGUSR1, noop, NULL, NULL), 0);
    aio_decref(loop);
    assert_default(SIGUSR1);
    assert_no_leaks();
}

/* --- context -------------------------------------------------------------- */

typedef struct ctx_probe {
    aio_contextvar *var;
    aio_loop *loop;
    int calls;
    trace t;
} ctx_probe;

static void ctx_handler(void *arg)
{
    ctx_probe *p = arg;
    intptr_t value = (intptr_t)aio_contextvar_get_or(p->var, (void *)(intptr_t)-1);
    trace_add(&p->t, "%ld ", (long)value);
    aio_contextvar_token *token = aio_contextvar_set(p->var, (void *)(value + 1));
    assert_non_null(token);
    aio_decref(token);
    if (++p->calls == 2)
        aio_loop_stop(p->loop);
}
AIO_NAME_CALLBACK(ctx_handler);

static void raise_usr1(void *arg)
{
    (void)arg;
    raise(SIGUSR1);
}
AIO_NAME_CALLBACK(raise_usr1);

static void test_handler_runs_in_context_copied_at_add(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    ctx_probe p = {.var = aio_contextvar_new("v"), .loop = loop};
    assert_non_null(p.var);

    aio_contextvar_token *t10 = aio_contextvar_set(p.var, (void *)(intptr_t)10);
    assert_int_equal(aio_loop_add_signal_handler(loop, SIGUSR1, ctx_handler, &p, NULL), 0);
    aio_contextvar_token *t20 = aio_contextvar_set(p.var, (void *)(intptr_t)20);

    /* CPython: ['A', 'A+'], and 'B' outside: the handler sees the value at
     * add time, and its own change persists in its (one) context. */
    assert_non_null(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = raise_usr1}));
    assert_non_null(aio_loop_call_later(loop, &(aio_loop_call_later_args){
        .delay = 0.05, .callback = raise_usr1}));
    assert_non_null(aio_loop_call_later(loop, &(aio_loop_call_later_args){
        .delay = 10.0, .callback = stop_cb, .args = loop})); /* only if it hangs */
    run(loop);
    assert_string_equal(p.t.text, "10 11 ");
    assert_int_equal((intptr_t)aio_contextvar_get_or(p.var, NULL), 20);

    close_loop(loop);
    assert_int_equal(aio_contextvar_reset(p.var, t20), 0);
    assert_int_equal(aio_contextvar_reset(p.var, t10), 0);
    aio_decref(t20);
    aio_decref(t10);
    aio_decref(p.var);
    assert_default(SIGUSR1);
    assert_no_leaks();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_handler_runs_two_iterations_later),
    cmocka_unit_test(test_handler_gets_its_arg),
    cmocka_unit_test(test_signal_wakes_blocked_poll),
    cmocka_unit_test(test_two_signals_before_run_in_delivery_order),
    cmocka_unit_test(test_removed_before_dispatch_does_not_run),
    cmocka_unit_test(test_second_loop_keeps_two_iteration_delay),
    cmocka_unit_test(test_signal_seen_by_real_poll_then_skipped_polls),
    cmocka_unit_test(test_replace_handler),
    cmocka_unit_test(test_remove_restores_default),
    cmocka_unit_test(test_handler_removes_itself),
    cmocka_unit_test(test_invalid_signal_numbers),
    cmocka_unit_test(test_uncatchable_signals),
    cmocka_unit_test(test_null_loop),
    cmocka_unit_test(test_non_main_thread),
    cmocka_unit_test(test_closed_loop),
    cmocka_unit_test(test_close_removes_handlers),
    cmocka_unit_test(test_decref_unclosed_loop_removes_handlers),
    cmocka_unit_test(test_handler_runs_in_context_copied_at_add),
};

AIO_TEST_MAIN(tests)
