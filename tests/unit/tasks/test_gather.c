/* test_gather.c - asyncio.gather() and asyncio.shield() (tasks.py, 3.11).
 *
 * Expected behaviour was checked against CPython 3.11.7: results in argument
 * order, a repeated future awaited once, the empty gather, the first
 * exception (the very object) with return_exceptions=False while the other
 * children run on, CancelledError instances in the list with
 * return_exceptions=True, cancelling the outer future (it ends with a
 * CancelledError *exception*, not cancelled, once the children are done,
 * after the same number of loop iterations), and shield()'s one-way
 * cancellation.
 */
#include "test_support.h"

#include "future.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

/* --- Helpers ----------------------------------------------------------------- */

/* What a child task does: sleep `delay`, then return `result` or raise. */
typedef struct job {
    double delay;
    aio_future *gate;      /* awaited instead of sleeping, when set */
    void *result;
    aio_exc *raise;        /* raised as is (the job keeps its reference) */
    bool catch_cancel;     /* on CancelledError: two sleep(0)s, then re-raise */
    trace *log;
    const char *name;
} job;

static void *job_coro(void *arg)
{
    job *j = arg;
    if (j->gate != NULL ? aio_await(j->gate) == NULL && aio_err_occurred() != NULL
                        : aio_sleep(j->delay) < 0) {
        if (!j->catch_cancel || !aio_err_matches(aio_CancelledError))
            return NULL;
        aio_exc *cancelled = aio_err_fetch();
        if (j->log != NULL)
            trace_add(j->log, "c%s;", j->name);
        int rc = aio_sleep(0);
        if (rc == 0)
            rc = aio_sleep(0);
        if (j->log != NULL)
            trace_add(j->log, "end%s;", j->name);
        if (rc < 0) {
            aio_decref(cancelled);
            return NULL;
        }
        aio_err_restore(cancelled);
        return NULL;
    }
    if (j->log != NULL)
        trace_add(j->log, "done%s;", j->name);
    if (j->raise != NULL) {
        aio_err_set_exc(j->raise);
        return NULL;
    }
    return j->result;
}
AIO_NAME_CALLBACK(job_coro);

static aio_task *spawn(aio_loop *loop, job *j)
{
    aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = job_coro,
                                                                          .coro_arg = j});
    assert_non_null(t);
    return t;
}

/* The outer future's list (borrowed); the outer must have a result. */
static const aio_gather_list *gather_list(aio_future *outer)
{
    assert_int_equal(aio_future_done(outer), 1);
    assert_int_equal(aio_future_cancelled(outer), 0);
    assert_null(aio_future_exception(outer));
    check_no_exception();
    const aio_gather_list *list = aio_future_result(outer);
    check_no_exception();
    assert_non_null(list);
    return list;
}

static void set_result_cb(void *arg)
{
    assert_int_equal(aio_future_set_result(arg, P(4)), 0);
}
AIO_NAME_CALLBACK(set_result_cb);

/* --- gather: results ------------------------------------------------------------- */

static void test_gather_results_in_argument_order(void **state)
{
    (void)state;
    trace log;
    aio_loop *loop = new_traced_loop(&log);
    /* The jobs finish in the order their gates open: b, c, then a (gates
     * rather than sleeps, so that a slow machine cannot reorder them). */
    aio_future *gate_a = aio_loop_create_future(loop), *gate_b = aio_loop_create_future(loop),
               *gate_c = aio_loop_create_future(loop);
    job a = {.gate = gate_a, .result = P(1), .log = &log, .name = "a"};
    job b = {.gate = gate_b, .result = P(2), .log = &log, .name = "b"};
    job c = {.gate = gate_c, .result = P(3), .log = &log, .name = "c"};
    aio_future *fut = aio_loop_create_future(loop);
    aio_future *children[] = {spawn(loop, &a), spawn(loop, &b), spawn(loop, &c), fut};
    aio_future *outer = aio_gather(children, 4, NULL);
    assert_non_null(outer);
    assert_ptr_equal(aio_future_get_loop(outer), loop);
    assert_repr(outer, "<_GatheringFuture pending>");
    run_one_iteration(loop); /* the jobs start and wait */
    soon(loop, set_result_cb, gate_b);
    soon(loop, set_result_cb, gate_c);
    soon(loop, set_result_cb, gate_a);
    soon(loop, set_result_cb, fut);

    const aio_gather_list *list = aio_loop_run_until_complete(loop, outer);
    check_no_exception();
    /* completion order b, c, a; results in argument order */
    assert_string_equal(log.text, "doneb;donec;donea;");
    assert_ptr_equal(list, gather_list(outer));
    assert_int_equal(list->len, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_ptr_equal(list->items[i].result, P(i + 1));
        assert_null(list->items[i].exception);
    }
    for (size_t i = 0; i < 4; i++)
        aio_decref(children[i]);
    aio_decref(outer);
    aio_decref(gate_a);
    aio_decref(gate_b);
    aio_decref(gate_c);
    finish(loop);
}

static void test_gather_repeated_future_awaited_once(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_future *f = aio_loop_create_future(loop);
    aio_future *g = aio_loop_create_future(loop);
    aio_future *children[] = {f, g, f, f};
    aio_future *outer = aio_gather(children, 4, NULL);
    assert_non_null(outer);
    /* one done callback on f, as Python's arg_to_fut dict gives */
    assert_int_equal(f->callbacks_len, 1);
    assert_int_equal(g->callbacks_len, 1);

    assert_int_equal(aio_future_set_result(f, P(7)), 0);
    run_one_iteration(loop);
    check_no_exception();
    assert_int_equal(aio_future_done(outer), 0); /* g is still pending */
    assert_int_equal(aio_future_set_result(g, P(8)), 0);
    run_one_iteration(loop);
    check_no_exception();

    const aio_gather_list *list = gather_list(outer);
    assert_int_equal(list->len, 4);
    assert_ptr_equal(list->items[0].result, P(7));
    assert_ptr_equal(list->items[1].result, P(8));
    assert_ptr_equal(list->items[2].result, P(7));
    assert_ptr_equal(list->items[3].result, P(7));

    /* A repeated task: one callback, its result repeated. */
    job j = {.delay = 0, .result = P(9)};
    aio_future *t = spawn(loop, &j);
    aio_future *again[] = {t, t};
    aio_future *outer2 = aio_gather(again, 2, NULL);
    assert_non_null(outer2);
    assert_int_equal(t->callbacks_len, 1);
    aio_loop_run_until_complete(loop, outer2);
    check_no_exception();
    list = gather_list(outer2);
    assert_int_equal(list->len, 2);
    assert_ptr_equal(list->items[0].result, P(9));
    assert_ptr_equal(list->items[1].result, P(9));
    aio_decref(outer2);
    aio_decref(t);
    aio_decref(outer);
    aio_decref(f);
    aio_decref(g);
    finish(loop);
}

static void *gather_nothing_coro(void *arg)
{
    (void)arg;
    aio_future *outer = aio_gather(NULL, 0, NULL); /* the running loop's */
    assert_non_null(outer);
    assert_ptr_equal(aio_future_get_loop(outer), aio_get_running_loop());
    const aio_gather_list *list = aio_await(outer);
    check_no_exception();
    assert_non_null(list);
    assert_int_equal(list->len, 0);
    aio_decref(outer);
    return P(1);
}
AIO_NAME_CALLBACK(gather_nothing_coro);

static void test_gather_empty(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_future *outer = aio_gather(NULL, 0, &(aio_gather_args){.loop = loop});
    assert_non_null(outer);
    /* done at once, with an empty list */
    assert_ptr_equal(aio_future_get_loop(outer), loop);
    const aio_gather_list *list = gather_list(outer);
    assert_int_equal(list->len, 0);
    aio_decref(outer);

    outer = aio_gather(NULL, 0, &(aio_gather_args){.loop = loop, .return_exceptions = true});
    assert_non_null(outer);
    assert_int_equal(gather_list(outer)->len, 0);
    aio_decref(outer);

    assert_ptr_equal(run_coro(loop, gather_nothing_coro, NULL), P(1));
    finish(loop);
}

/* --- gather: exceptions -------------------------------------------------------------- */

typedef struct first_exc {
    aio_loop *loop;
    job a, b, c;
    aio_task *ta, *tb, *tc;
    aio_future *outer;
} first_exc;

static void *first_exception_main(void *arg)
{
    first_exc *s = arg;
    s->ta = spawn(s->loop, &s->a);
    s->tb = spawn(s->loop, &s->b);
    s->tc = spawn(s->loop, &s->c);
    aio_future *children[] = {s->ta, s->tb, s->tc};
    s->outer = aio_gather(children, 3, NULL);
    assert_non_null(s->outer);
    assert_null(aio_await(s->outer));
    /* the first exception, the very object */
    assert_ptr_equal(aio_err_occurred(), s->a.raise);
    assert_raised(aio_ValueError, "first");
    assert_int_equal(aio_future_done(s->outer), 1);
    assert_int_equal(aio_future_cancelled(s->outer), 0);
    assert_ptr_equal(aio_future_exception(s->outer), s->a.raise);
    /* the other children were not cancelled: they run on */
    assert_int_equal(aio_future_done(s->tb), 0);
    assert_int_equal(aio_future_done(s->tc), 0);
    assert_int_equal(aio_future_set_result(s->c.gate, NULL), 0);
    assert_int_equal(aio_future_set_result(s->b.gate, NULL), 0);
    aio_wait_result done;
    aio_future *rest[] = {s->tb, s->tc};
    assert_int_equal(aio_wait(rest, 2, NULL, &done), 0);
    aio_wait_result_clear(&done);
    assert_int_equal(aio_future_done(s->tc), 1);
    assert_int_equal(aio_future_cancelled(s->tc), 0);
    assert_ptr_equal(aio_future_result(s->tc), P(3));
    assert_int_equal(aio_future_done(s->tb), 1);
    assert_int_equal(aio_future_cancelled(s->tb), 0);
    return P(1);
}
AIO_NAME_CALLBACK(first_exception_main);

static void test_gather_first_exception_propagates(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    handler_report rep = {0};
    aio_loop_set_exception_handler(loop, report_handler, &rep);
    first_exc s = {
        .loop = loop,
        .a = {.delay = 0.01, .raise = aio_exc_new(aio_ValueError, "first")},
        .b = {.gate = aio_loop_create_future(loop), .raise = aio_exc_new(aio_TypeError, "second")},
        .c = {.gate = aio_loop_create_future(loop), .result = P(3)},
    };
    assert_ptr_equal(run_coro(loop, first_exception_main, &s), P(1));
    aio_decref(s.ta);
    aio_decref(s.tb); /* its exception was retrieved by gather: not reported */
    aio_decref(s.tc);
    aio_decref(s.outer);
    aio_decref(s.a.raise);
    aio_decref(s.b.raise);
    aio_decref(s.b.gate);
    aio_decref(s.c.gate);
    assert_int_equal(rep.calls, 0);
    finish(loop);
}

static void test_gather_return_exceptions(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    handler_report rep = {0};
    aio_loop_set_exception_handler(loop, report_handler, &rep);
    job ok = {.delay = 0.01, .result = P(1)};
    job bad = {.delay = 0, .raise = aio_exc_new(aio_ValueError, "bad")};
    aio_future *bye = aio_loop_create_future(loop);
    aio_future *plain = aio_loop_create_future(loop);
    aio_task *tok = spawn(loop, &ok), *tbad = spawn(loop, &bad);
    aio_future *children[] = {tok, tbad, bye, plain};
    aio_future *outer =
        aio_gather(children, 4, &(aio_gather_args){.return_exceptions = true});
    assert_non_null(outer);
    assert_int_equal(aio_future_cancel(bye, &(aio_future_cancel_args){.msg = "bye"}), 1);
    assert_int_equal(aio_future_cancel(plain, NULL), 1);

    aio_loop_run_until_complete(loop, outer);
    check_no_exception();
    const aio_gather_list *list = gather_list(outer);
    assert_int_equal(list->len, 4);
    assert_ptr_equal(list->items[0].result, P(1));
    assert_null(list->items[0].exception);
    /* the child's exception object itself */
    assert_ptr_equal(list->items[1].exception, bad.raise);
    assert_null(list->items[1].result);
    /* a cancelled child: a CancelledError carrying its message */
    assert_non_null(list->items[2].exception);
    assert_ptr_equal(aio_exc_type_of(list->items[2].exception), aio_CancelledError);
    assert_string_equal(aio_exc_str(list->items[2].exception), "bye");
    /* no message: CancelledError('' if fut._cancel_message is None ...) */
    assert_non_null(list->items[3].exception);
    assert_ptr_equal(aio_exc_type_of(list->items[3].exception), aio_CancelledError);
    assert_repr(list->items[3].exception, "CancelledError('')");

    aio_decref(outer);
    aio_decref(tok);
    aio_decref(tbad); /* retrieved by gather: not reported */
    aio_decref(bye);
    aio_decref(plain);
    aio_decref(bad.raise);
    assert_int_equal(rep.calls, 0);
    finish(loop);
}

/* --- gather: cancellation -------------------------------------------------------------- */

static void cancel_outer_case(bool return_exceptions)
{
    trace log;
    aio_loop *loop = new_traced_loop(&log);
    job j1 = {.delay = 10, .catch_cancel = true, .log = &log, .name = "1"};
    job j2 = {.delay = 10, .catch_cancel = true, .log = &log, .name = "2"};
    aio_task *t1 = spawn(loop, &j1), *t2 = spawn(loop, &j2);
    run_one_iteration(loop); /* both sleep */
    check_no_exception();
    aio_future *children[] = {t1, t2};
    aio_future *outer =
        aio_gather(children, 2, &(aio_gather_args){.return_exceptions = return_exceptions});
    assert_non_null(outer);
    assert_int_equal(aio_future_cancel(outer, &(aio_future_cancel_args){.msg = "m"}), 1);
    /* the children are cancelled; the outer waits for them */
    assert_int_equal(aio_future_done(outer), 0);
    assert_int_equal(aio_task_cancelling(t1), 1);
    assert_int_equal(aio_task_cancelling(t2), 1);
    run_one_iteration(loop);
    assert_string_equal(log.text, "c1;c2;");
    assert_int_equal(aio_future_done(outer), 0);
    run_one_iteration(loop);
    assert_int_equal(aio_future_done(outer), 0);
    run_one_iteration(loop);
    assert_string_equal(log.text, "c1;c2;end1;end2;");
    assert_int_equal(aio_future_done(outer), 0);
    run_one_iteration(loop);
    check_no_exception();
    assert_int_equal(aio_future_done(outer), 1);
    /* not cancelled itself: it holds a CancelledError exception */
    assert_int_equal(aio_future_cancelled(outer), 0);
    aio_exc *exc = aio_future_exception(outer);
    check_no_exception();
    assert_non_null(exc);
    assert_ptr_equal(aio_exc_type_of(exc), aio_CancelledError);
    assert_string_equal(aio_exc_str(exc), "m");
    assert_null(aio_future_result(outer));
    assert_raised(aio_CancelledError, "m");
    assert_int_equal(aio_future_cancelled(t1), 1);
    assert_int_equal(aio_future_cancelled(t2), 1);
    /* cancelling a done outer does nothing */
    assert_int_equal(aio_future_cancel(outer, NULL), 0);

    aio_decref(outer);
    aio_decref(t1);
    aio_decref(t2);
    finish(loop);
}

static void test_gather_cancel_outer(void **state)
{
    (void)state;
    cancel_outer_case(false);
}

static void test_gather_cancel_outer_return_exceptions(void **state)
{
    (void)state;
    cancel_outer_case(true);
}

static void test_gather_cancel_outer_children_done(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_future *f = aio_loop_create_future(loop);
    aio_future *children[] = {f};
    aio_future *outer = aio_gather(children, 1, NULL);
    assert_int_equal(aio_future_set_result(f, P(1)), 0);
    /* the child is done (its callback not yet run): nothing to cancel */
    assert_int_equal(aio_future_cancel(outer, NULL), 0);
    run_one_iteration(loop);
    check_no_exception();
    assert_ptr_equal(gather_list(outer)->items[0].result, P(1));
    aio_decref(outer);
    aio_decref(f);
    finish(loop);
}

static void test_gather_child_cancelled(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_future *a = aio_loop_create_future(loop);
    aio_future *b = aio_loop_create_future(loop);
    aio_future *children[] = {a, b};
    aio_future *outer = aio_gather(children, 2, NULL);
    assert_int_equal(aio_future_cancel(a, &(aio_future_cancel_args){.msg = "x"}), 1);
    run_until_future_done(loop, outer);
    /* return_exceptions=False: the outer fails with CancelledError */
    assert_int_equal(aio_future_cancelled(outer), 0);
    aio_exc *exc = aio_future_exception(outer);
    assert_non_null(exc);
    assert_ptr_equal(aio_exc_type_of(exc), aio_CancelledError);
    assert_string_equal(aio_exc_str(exc), "x");
    assert_int_equal(aio_future_done(b), 0);
    assert_int_equal(aio_future_set_result(b, P(2)), 0);
    run_one_iteration(loop);
    check_no_exception();
    aio_decref(outer);
    aio_decref(a);
    aio_decref(b);
    finish(loop);
}

static void *await_gather_of_cancelled_coro(void *arg)
{
    aio_future *outer = arg;
    assert_null(aio_await(outer));
    assert_raised(aio_CancelledError, NULL);
    return P(1);
}
AIO_NAME_CALLBACK(await_gather_of_cancelled_coro);

static void test_gather_child_cancelled_awaiter(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_future *a = aio_loop_create_future(loop);
    aio_future *children[] = {a};
    aio_future *outer = aio_gather(children, 1, NULL);
    aio_future_cancel(a, NULL);
    /* the awaiting task gets the CancelledError, and is not cancelled */
    assert_ptr_equal(run_coro(loop, await_gather_of_cancelled_coro, outer), P(1));
    aio_decref(outer);
    aio_decref(a);
    finish(loop);
}

/* Catches its cancellation, waits two iterations and returns 5. */
static void *swallow_coro(void *arg)
{
    (void)arg;
    if (aio_sleep(10) == 0)
        return NULL;
    assert_raised(aio_CancelledError, NULL);
    assert_int_equal(aio_sleep(0), 0);
    assert_int_equal(aio_sleep(0), 0);
    return P(5);
}
AIO_NAME_CALLBACK(swallow_coro);

/* The outer's CancelledError is fut._make_cancelled_error() of the last
 * child in argument order (Python's loop variable), whichever finished
 * last. */
static void cancel_outer_last_argument_case(bool swallow_first, const char *expected)
{
    aio_loop *loop = new_loop();
    job plain = {.delay = 10};
    aio_task *ts = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = swallow_coro});
    aio_task *tp = spawn(loop, &plain);
    run_one_iteration(loop);
    aio_future *children[2] = {ts, tp};
    if (!swallow_first) {
        children[0] = tp;
        children[1] = ts;
    }
    aio_future *outer =
        aio_gather(children, 2, &(aio_gather_args){.return_exceptions = true});
    assert_int_equal(aio_future_cancel(outer, &(aio_future_cancel_args){.msg = "m"}), 1);
    run_until_future_done(loop, outer);
    assert_int_equal(aio_future_cancelled(outer), 0);
    assert_repr(aio_future_exception(outer), expected);
    assert_ptr_equal(aio_future_result(ts), P(5));
    assert_int_equal(aio_future_cancelled(tp), 1);
    aio_decref(outer);
    aio_decref(ts);
    aio_decref(tp);
    finish(loop);
}

static void test_gather_cancel_outer_exception_of_last_argument(void **state)
{
    (void)state;
    /* gather(swallowing, plain): plain (last argument) was cancelled with 'm' */
    cancel_outer_last_argument_case(true, "CancelledError('m')");
    /* gather(plain, swallowing): the swallowing task was never cancelled */
    cancel_outer_last_argument_case(false, "CancelledError()");
}

static void test_gather_cancelled_task_in_list(void **state)
{
    (void)state;
    /* A task whose function let CancelledError('tm') propagate has no
     * _cancel_message: the list shows CancelledError(''). */
    aio_loop *loop = new_loop();
    job j = {.delay = 10};
    aio_task *t = spawn(loop, &j);
    run_one_iteration(loop);
    assert_int_equal(aio_task_cancel(t, "tm"), 1);
    aio_future *children[] = {t};
    aio_future *outer = aio_gather(children, 1, &(aio_gather_args){.return_exceptions = true});
    aio_loop_run_until_complete(loop, outer);
    check_no_exception();
    const aio_gather_list *list = gather_list(outer);
    assert_repr(list->items[0].exception, "CancelledError('')");
    aio_decref(outer);

    /* return_exceptions=False: the outer fails with the task's own
     * CancelledError('tm'). */
    outer = aio_gather(children, 1, NULL);
    run_until_future_done(loop, outer);
    assert_repr(aio_future_exception(outer), "CancelledError('tm')");
    aio_decref(outer);
    aio_decref(t);
    finish(loop);
}

static void test_gather_exception_never_retrieved(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    handler_report rep = {0};
    aio_loop_set_exception_handler(loop, report_handler, &rep);
    aio_future *f = aio_loop_create_future(loop);
    aio_future *children[] = {f};
    aio_future *outer = aio_gather(children, 1, NULL);
    aio_exc *exc = aio_exc_new(aio_ValueError, "x");
    assert_int_equal(aio_future_set_exception(f, exc), 0);
    aio_decref(exc);
    run_one_iteration(loop);
    check_no_exception();
    assert_int_equal(aio_future_done(outer), 1);
    aio_decref(f); /* retrieved by gather */
    assert_int_equal(rep.calls, 0);
    aio_decref(outer);
    /* Future.__del__ names the class */
    assert_int_equal(rep.calls, 1);
    assert_string_equal(rep.message, "_GatheringFuture exception was never retrieved");
    assert_string_equal(rep.exception, "ValueError('x')");
    finish(loop);
}

/* --- gather: bad arguments ---------------------------------------------------------------- */

static void test_gather_different_loops(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_loop *other = new_loop();
    aio_future *a = aio_loop_create_future(loop);
    aio_future *b = aio_loop_create_future(other);
    aio_future *children[] = {a, b};
    assert_null(aio_gather(children, 2, NULL));
    assert_raised(aio_ValueError, "The future belongs to a different loop than the one "
                                  "specified as the loop argument");
    /* nothing was registered on the first */
    assert_int_equal(a->callbacks_len, 0);
    aio_decref(a);
    aio_decref(b);
    close_loop(other);
    finish(loop);
}

static void test_gather_null_entry(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_future *a = aio_loop_create_future(loop);
    aio_future *children[] = {a, NULL};
    assert_null(aio_gather(children, 2, NULL));
    assert_raised(aio_TypeError, "An asyncio.Future, a coroutine or an awaitable is required");
    assert_null(aio_gather(children, 2, &(aio_gather_args){.return_exceptions = true}));
    assert_raised(aio_TypeError, "An asyncio.Future, a coroutine or an awaitable is required");
    assert_int_equal(a->callbacks_len, 0);
    aio_decref(a);
    finish(loop);
}

static void test_gather_null_array(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    /* gather(*None) */
    assert_null(aio_gather(NULL, 3, NULL));
    assert_raised(aio_TypeError,
                  "asyncio.tasks.gather() argument after * must be an iterable, not NoneType");
    assert_null(aio_gather(NULL, 1, &(aio_gather_args){.loop = loop, .return_exceptions = true}));
    assert_raised(aio_TypeError,
                  "asyncio.tasks.gather() argument after * must be an iterable, not NoneType");
    /* with n = 0 it is gather() of nothing */
    aio_future *outer = aio_gather(NULL, 0, &(aio_gather_args){.loop = loop});
    assert_non_null(outer);
    assert_int_equal(gather_list(outer)->len, 0);
    aio_decref(outer);
    finish(loop);
}

/* --- gather: scale ----------------------------------------------------------------------- */

/* 400,000 arguments over 300,000 futures, every fourth argument one seen
 * before: linear in the arguments, as CPython's dict makes it (well under a
 * second here). The earlier scan of every earlier argument took 7.7 s over
 * half as many, and would take four times that here: the test's time limit
 * (tests/run-unit.sh) is what tells them apart. */
static void test_gather_many_with_repeats(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    const size_t n = RUNNING_ON_VALGRIND ? 20000 : 400000;
    aio_future **args = malloc(n * sizeof *args);
    size_t *first = malloc(n * sizeof *first); /* the argument each one repeats */
    assert_non_null(args);
    assert_non_null(first);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++) {
        if (i % 4 == 3) {
            first[i] = first[(i * 7919) % i];
            args[i] = args[first[i]];
        } else {
            first[i] = i;
            args[i] = aio_loop_create_future(loop);
            assert_non_null(args[i]);
            distinct++;
        }
    }
    aio_future *outer = aio_gather(args, n, NULL);
    assert_non_null(outer);
    check_no_exception();
    /* one callback per distinct future */
    for (size_t i = 0; i < n; i++)
        assert_int_equal(args[i]->callbacks_len, 1);
    /* all but the last argument's future done: still pending */
    size_t last = first[n - 1];
    for (size_t i = 0; i < n; i++) {
        if (first[i] == i && i != last)
            assert_int_equal(aio_future_set_result(args[i], P(i + 1)), 0);
    }
    run_one_iteration(loop);
    check_no_exception();
    assert_int_equal(aio_future_done(outer), 0);
    assert_int_equal(aio_future_set_result(args[last], P(last + 1)), 0);
    run_one_iteration(loop);
    const aio_gather_list *list = gather_list(outer);
    assert_int_equal(list->len, n);
    for (size_t i = 0; i < n; i++) {
        assert_null(list->items[i].exception);
        assert_ptr_equal(list->items[i].result, P(first[i] + 1));
    }
    aio_decref(outer);
    for (size_t i = 0; i < n; i++) {
        if (first[i] == i)
            aio_decref(args[i]);
    }
    assert_true(distinct > n / 2);
    free(first);
    free(args);
    finish(loop);
}

/* --- gather: MemoryError --------------------------------------------------------------------- */

/* Every allocation aio_gather() makes fails in turn: each time it raises
 * MemoryError and leaves the futures as they were (no callback left on
 * them); then it succeeds and works. Over few futures and over enough
 * for its set of seen ones to need memory of its own. */
static void gather_memory_errors(size_t n)
{
    aio_loop *loop = new_loop();
    aio_future **args = calloc(n, sizeof *args);
    assert_non_null(args);
    aio_future *done = aio_loop_create_future(loop);
    assert_int_equal(aio_future_set_result(done, P(100)), 0);
    for (size_t i = 0; i < n; i++) {
        if (i == 1)
            args[i] = done;
        else if (i % 3 == 2)
            args[i] = args[i - 2]; /* a repeat */
        else
            args[i] = aio_loop_create_future(loop);
    }
    aio_future *outer = NULL;
    int failures = 0;
    for (long k = 0; outer == NULL; k++) {
        assert_true(k < 1000);
        aio__fail_alloc_after = k;
        outer = aio_gather(args, n, NULL);
        aio__fail_alloc_after = -1;
        if (outer != NULL)
            break;
        assert_raised(aio_MemoryError, NULL);
        failures++;
        for (size_t i = 0; i < n; i++)
            assert_int_equal(args[i]->callbacks_len, 0);
        /* What was scheduled for the done one runs, and frees the rest. */
        run_one_iteration(loop);
        check_no_exception();
        assert_int_equal(aio_future_done(args[0]), 0);
    }
    assert_true(failures >= 2); /* the set or the outer future, and a callback */
    for (size_t i = 0; i < n; i++) {
        if (!aio_future_done(args[i]))
            assert_int_equal(aio_future_set_result(args[i], P(i)), 0);
    }
    aio_loop_run_until_complete(loop, outer);
    const aio_gather_list *list = gather_list(outer);
    assert_int_equal(list->len, n);
    for (size_t i = 0; i < n; i++)
        assert_ptr_equal(list->items[i].result, i == 1 ? P(100) : P(i % 3 == 2 ? i - 2 : i));
    aio_decref(outer);

    /* The results' list itself cannot be made: the outer future fails. */
    for (size_t i = 0; i < n; i++) {
        if (i != 1 && i % 3 != 2) {
            aio_decref(args[i]);
            args[i] = aio_loop_create_future(loop);
        } else if (i % 3 == 2) {
            args[i] = args[i - 2];
        }
    }
    outer = aio_gather(args, n, NULL);
    assert_non_null(outer);
    for (size_t i = 0; i < n; i++) {
        if (!aio_future_done(args[i]))
            assert_int_equal(aio_future_set_result(args[i], P(i)), 0);
    }
    aio__fail_alloc_after = 0;
    while (!aio_future_done(outer))
        run_one_iteration(loop);
    aio__fail_alloc_after = -1;
    check_no_exception();
    char repr[64];
    assert_string_equal(repr_copy(aio_future_exception(outer), repr, sizeof repr), "MemoryError()");
    aio_decref(outer);
    for (size_t i = 0; i < n; i++) {
        if (i != 1 && i % 3 != 2)
            aio_decref(args[i]);
    }
    aio_decref(done);
    free(args);
    finish(loop);
}

static void test_gather_memory_error(void **state)
{
    (void)state;
    gather_memory_errors(5);
    gather_memory_errors(100);
}

/* --- shield ----------------------------------------------------------------------------- */

typedef struct shield_case {
    aio_task *inner;
    aio_future *outer;
    bool cancelled;
} shield_case;

static void *await_shield_coro(void *arg)
{
    shield_case *s = arg;
    s->outer = aio_shield(s->inner);
    assert_non_null(s->outer);
    assert_null(aio_await(s->outer));
    s->cancelled = aio_err_matches(aio_CancelledError);
    return NULL; /* cancelled, as the awaiter */
}
AIO_NAME_CALLBACK(await_shield_coro);

static void test_shield_outer_cancelled_inner_runs_on(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    job j = {.delay = 0.1, .result = P(7)};
    shield_case s = {.inner = spawn(loop, &j)};
    aio_task *waiter = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = await_shield_coro, .coro_arg = &s});
    run_one_iteration(loop);
    run_one_iteration(loop);
    check_no_exception();
    assert_non_null(s.outer);
    assert_int_equal(aio_future_done(s.outer), 0);
    /* cancelling the awaiting task cancels the outer only */
    assert_int_equal(aio_task_cancel(waiter, NULL), 1);
    assert_int_equal(aio_future_cancelled(s.outer), 1);
    assert_int_equal(aio_future_done(s.inner), 0);
    assert_int_equal(aio_task_cancelling(s.inner), 0);
    /* the outer let go of the inner */
    run_one_iteration(loop);
    check_no_exception();
    assert_int_equal(s.inner->callbacks_len, 0);
    assert_true(s.cancelled);
    assert_int_equal(aio_future_cancelled(waiter), 1);

    /* the inner finishes; its result goes to nobody */
    aio_loop_run_until_complete(loop, s.inner);
    check_no_exception();
    assert_int_equal(aio_future_cancelled(s.inner), 0);
    assert_ptr_equal(aio_future_result(s.inner), P(7));
    run_one_iteration(loop);
    assert_int_equal(aio_future_cancelled(s.outer), 1);

    aio_decref(waiter);
    aio_decref(s.outer);
    aio_decref(s.inner);
    finish(loop);
}

static void test_shield_cancel_outer_directly(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_future *inner = aio_loop_create_future(loop);
    aio_future *outer = aio_shield(inner);
    assert_non_null(outer);
    assert_ptr_not_equal(outer, inner);
    assert_ptr_equal(aio_future_get_loop(outer), loop);
    assert_int_equal(aio_future_cancel(outer, NULL), 1);
    assert_int_equal(aio_future_cancelled(outer), 1);
    assert_int_equal(aio_future_done(inner), 0);
    run_one_iteration(loop);
    check_no_exception();
    assert_int_equal(aio_future_done(inner), 0);
    assert_int_equal(aio_future_set_result(inner, P(3)), 0);
    run_one_iteration(loop);
    check_no_exception();
    assert_int_equal(aio_future_cancelled(outer), 1);
    aio_decref(outer);
    aio_decref(inner);
    finish(loop);
}

static void test_shield_inner_fails_after_outer_cancelled(void **state)
{
    (void)state;
    /* As in CPython: the outer took its callback back, so the inner's
     * exception is nobody's and is reported when the task goes away. */
    aio_loop *loop = new_loop();
    handler_report rep = {0};
    aio_loop_set_exception_handler(loop, report_handler, &rep);
    job j = {.delay = 0.01, .raise = aio_exc_new(aio_ValueError, "late")};
    aio_task *inner = spawn(loop, &j);
    aio_future *outer = aio_shield(inner);
    assert_int_equal(aio_future_cancel(outer, NULL), 1);
    aio_loop_run_until_complete(loop, inner);
    assert_raised(aio_ValueError, "late");
    aio_decref(inner); /* retrieved by run_until_complete */
    assert_int_equal(rep.calls, 0);
    aio_decref(outer);

    /* Not retrieved: reported. */
    inner = spawn(loop, &j);
    outer = aio_shield(inner);
    assert_int_equal(aio_future_cancel(outer, NULL), 1);
    aio_decref(outer);
    while (aio_future_done(inner) != 1)
        run_one_iteration(loop);
    check_no_exception();
    aio_decref(inner);
    assert_int_equal(rep.calls, 1);
    assert_string_equal(rep.message, "Task exception was never retrieved");
    assert_string_equal(rep.exception, "ValueError('late')");
    aio_decref(j.raise);
    finish(loop);
}

static void test_shield_inner_done_outer_cancelled_same_iteration(void **state)
{
    (void)state;
    /* The inner's callback is scheduled, then the outer is cancelled: the
     * inner's exception counts as retrieved. */
    aio_loop *loop = new_loop();
    handler_report rep = {0};
    aio_loop_set_exception_handler(loop, report_handler, &rep);
    aio_future *inner = aio_loop_create_future(loop);
    aio_future *outer = aio_shield(inner);
    aio_exc *exc = aio_exc_new(aio_ValueError, "x");
    assert_int_equal(aio_future_set_exception(inner, exc), 0);
    aio_decref(exc);
    assert_int_equal(aio_future_cancel(outer, NULL), 1);
    run_one_iteration(loop);
    run_one_iteration(loop);
    check_no_exception();
    assert_int_equal(aio_future_cancelled(outer), 1);
    aio_decref(inner);
    aio_decref(outer);
    assert_int_equal(rep.calls, 0);
    finish(loop);
}

static void test_shield_follows_inner(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();

    /* result */
    aio_future *inner = aio_loop_create_future(loop);
    aio_future *outer = aio_shield(inner);
    char repr[128];
    /* Python: <Future pending cb=[shield.<locals>._outer_done_callback() ...]> */
    assert_true(strncmp(repr_copy(outer, repr, sizeof repr), "<Future pending cb=[", 20) == 0);
    assert_int_equal(aio_future_set_result(inner, P(5)), 0);
    run_one_iteration(loop);
    check_no_exception();
    assert_int_equal(aio_future_done(outer), 1);
    assert_ptr_equal(aio_future_result(outer), P(5));
    check_no_exception();
    aio_decref(outer);
    aio_decref(inner);

    /* exception: the same object */
    inner = aio_loop_create_future(loop);
    outer = aio_shield(inner);
    aio_exc *exc = aio_exc_new(aio_ValueError, "inner");
    assert_int_equal(aio_future_set_exception(inner, exc), 0);
    run_one_iteration(loop);
    check_no_exception();
    assert_int_equal(aio_future_cancelled(outer), 0);
    assert_ptr_equal(aio_future_exception(outer), exc);
    assert_null(aio_future_result(outer));
    assert_ptr_equal(aio_err_occurred(), exc);
    assert_raised(aio_ValueError, "inner");
    aio_decref(exc);
    aio_decref(outer);
    aio_decref(inner);

    /* cancellation (without the inner's message, as outer.cancel() does) */
    inner = aio_loop_create_future(loop);
    outer = aio_shield(inner);
    assert_int_equal(aio_future_cancel(inner, &(aio_future_cancel_args){.msg = "m"}), 1);
    run_one_iteration(loop);
    check_no_exception();
    assert_int_equal(aio_future_cancelled(outer), 1);
    assert_repr(outer, "<Future cancelled>");
    assert_null(aio_future_result(outer));
    assert_raised(aio_CancelledError, NULL);
    aio_decref(outer);
    aio_decref(inner);
    finish(loop);
}

static void test_shield_done_future_returned(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    aio_future *inner = aio_loop_create_future(loop);
    assert_int_equal(aio_future_set_result(inner, P(1)), 0);
    aio_future *outer = aio_shield(inner);
    assert_ptr_equal(outer, inner); /* a new reference to it */
    aio_decref(outer);

    aio_future_cancel(inner, NULL); /* done: no change */
    assert_ptr_equal(aio_future_result(inner), P(1));
    aio_decref(inner);

    inner = aio_loop_create_future(loop);
    aio_future_cancel(inner, NULL);
    outer = aio_shield(inner);
    assert_ptr_equal(outer, inner);
    aio_decref(outer);
    aio_decref(inner);

    assert_null(aio_shield(NULL));
    assert_raised(aio_TypeError, "An asyncio.Future, a coroutine or an awaitable is required");
    finish(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_gather_results_in_argument_order),
    cmocka_unit_test(test_gather_repeated_future_awaited_once),
    cmocka_unit_test(test_gather_empty),
    cmocka_unit_test(test_gather_first_exception_propagates),
    cmocka_unit_test(test_gather_return_exceptions),
    cmocka_unit_test(test_gather_cancel_outer),
    cmocka_unit_test(test_gather_cancel_outer_return_exceptions),
    cmocka_unit_test(test_gather_cancel_outer_children_done),
    cmocka_unit_test(test_gather_child_cancelled),
    cmocka_unit_test(test_gather_child_cancelled_awaiter),
    cmocka_unit_test(test_gather_cancel_outer_exception_of_last_argument),
    cmocka_unit_test(test_gather_cancelled_task_in_list),
    cmocka_unit_test(test_gather_exception_never_retrieved),
    cmocka_unit_test(test_gather_different_loops),
    cmocka_unit_test(test_gather_null_entry),
    cmocka_unit_test(test_gather_null_array),
    cmocka_unit_test(test_gather_many_with_repeats),
    cmocka_unit_test(test_gather_memory_error),
    cmocka_unit_test(test_shield_outer_cancelled_inner_runs_on),
    cmocka_unit_test(test_shield_cancel_outer_directly),
    cmocka_unit_test(test_shield_inner_fails_after_outer_cancelled),
    cmocka_unit_test(test_shield_inner_done_outer_cancelled_same_iteration),
    cmocka_unit_test(test_shield_follows_inner),
    cmocka_unit_test(test_shield_done_future_returned),
};

AIO_TEST_MAIN(tests)
