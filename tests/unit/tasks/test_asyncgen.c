/* test_asyncgen.c - asynchronous generators (aio_asyncgen_new, aio_yield,
 * aio_anext, asend, athrow, aclose) and the loop's tracking of them
 * (base_events.py: _asyncgen_firstiter_hook, _asyncgen_finalizer_hook,
 * shutdown_asyncgens).
 *
 * Expected behaviour was checked against CPython 3.11.7: awaits inside the
 * generator suspend its consumer, StopAsyncIteration at the end, asend()'s
 * TypeError on a just-started generator, athrow() handled and unhandled,
 * aclose() (cleanup with GeneratorExit, "ignored GeneratorExit", on a
 * generator never started), the "already running" errors, a generator
 * raising StopAsyncIteration, loop.shutdown_asyncgens() and its error
 * report, and the finalizer closing a dropped generator in a task on a
 * later iteration.
 */
#include "test_support.h"

/* --- Helpers ------------------------------------------------------------------- */

/* The state a generator shares with its test. */
typedef struct gen_state {
    trace *log;
    int count;              /* how many values to yield */
    double delay;           /* slept before each yield */
    aio_future *wait;       /* awaited before the first yield */
    void *sent[8];          /* what aio_asyncgen_sent() gave after each yield */
    int resumed;
    bool cleanup_await;     /* await while closing */
    bool cleanup_raise;     /* raise ValueError while closing */
    bool yield_on_exit;     /* yield again after GeneratorExit */
    bool catch_value_error; /* athrow(ValueError) is caught: yields "caught" */
    int cleanups;
    char closed_by[64];     /* the exception that ended it */
} gen_state;

static const char caught[] = "caught";
static int values[8] = {0, 1, 2, 3, 4, 5, 6, 7};

/* Named (AIO_NAME_CALLBACK) so that the generator's repr shows the name. */
static void *numbers(aio_asyncgen *gen, void *arg)
{
    gen_state *s = arg;
    if (s->wait != NULL && aio_await(s->wait) == NULL && aio_err_occurred())
        return NULL;
    for (int i = 0; i < s->count; i++) {
        if (s->delay >= 0 && aio_sleep(s->delay) < 0)
            return NULL;
        if (s->log != NULL)
            trace_add(s->log, "y%d;", i);
        if (aio_yield(gen, &values[i]) == 0) {
            s->sent[s->resumed++] = aio_asyncgen_sent(gen);
            continue;
        }
        /* thrown in, or closed */
        aio_exc *exc = aio_err_occurred();
        snprintf(s->closed_by, sizeof s->closed_by, "%s", aio_exc_type_of(exc)->name);
        if (s->catch_value_error && aio_err_matches(aio_ValueError)) {
            aio_err_clear();
            if (aio_yield(gen, (void *)caught) < 0)
                return NULL;
            continue;
        }
        s->cleanups++;
        if (s->log != NULL)
            trace_add(s->log, "cleanup;");
        if (s->cleanup_await) {
            aio_exc *pending = aio_err_fetch();
            int rc = aio_sleep(0);
            if (s->log != NULL)
                trace_add(s->log, "awaited(%d);", rc);
            aio_err_restore(pending);
        }
        if (s->cleanup_raise) {
            aio_err_set(aio_ValueError, "cleanup failed");
            return NULL;
        }
        if (s->yield_on_exit) {
            aio_exc *pending = aio_err_fetch();
            aio_decref(pending);
            if (aio_yield(gen, &values[7]) < 0)
                return NULL;
            if (s->log != NULL)
                trace_add(s->log, "end;");
        }
        return NULL;
    }
    if (s->log != NULL)
        trace_add(s->log, "exhausted;");
    return NULL;
}
AIO_NAME_CALLBACK(numbers);

static aio_asyncgen *new_gen(gen_state *s)
{
    aio_asyncgen *gen = aio_asyncgen_new(numbers, s, NULL);
    assert_non_null(gen);
    return gen;
}

static int value_of(void *v)
{
    assert_non_null(v);
    return *(int *)v;
}

/* --- Iteration ------------------------------------------------------------------- */

typedef struct consumer {
    aio_asyncgen *gen;
    trace *log;
    int got[8];
    int n;
    aio_exc *end;           /* what ended the iteration (a reference) */
} consumer;

static void *consume_all(void *arg)
{
    consumer *c = arg;
    void *v;
    while ((v = aio_anext(c->gen)) != NULL || !aio_err_occurred()) {
        c->got[c->n++] = value_of(v);
        if (c->log != NULL)
            trace_add(c->log, "got%d;", c->got[c->n - 1]);
    }
    c->end = aio_err_fetch();
    return P(1);
}
AIO_NAME_CALLBACK(consume_all);

static void tick(void *arg)
{
    trace_add(arg, "tick;");
}
AIO_NAME_CALLBACK(tick);

static void test_asyncgen_iteration(void **state)
{
    (void)state;
    trace log;
    aio_loop *loop = new_traced_loop(&log);
    gen_state s = {.log = &log, .count = 3, .delay = 0};
    consumer c = {.gen = new_gen(&s), .log = &log};
    char expected[128];
    snprintf(expected, sizeof expected, "<async_generator object numbers at %p>", (void *)c.gen);
    assert_repr(c.gen, expected);
    soon(loop, tick, &log);
    assert_ptr_equal(run_coro(loop, consume_all, &c), P(1));
    /* the sleep(0)s inside the generator gave the loop back */
    assert_string_equal(log.text, "tick;y0;got0;y1;got1;y2;got2;exhausted;");
    assert_int_equal(c.n, 3);
    assert_int_equal(c.got[2], 2);
    /* StopAsyncIteration at the end, and again after */
    assert_ptr_equal(aio_exc_type_of(c.end), aio_StopAsyncIteration);
    aio_decref(c.end);
    c.n = 0;
    assert_ptr_equal(run_coro(loop, consume_all, &c), P(1));
    assert_int_equal(c.n, 0);
    assert_ptr_equal(aio_exc_type_of(c.end), aio_StopAsyncIteration);
    aio_decref(c.end);
    aio_decref(c.gen);
    finish(loop);
}

static void set_wait(void *arg)
{
    aio_future_set_result(arg, NULL);
}
AIO_NAME_CALLBACK(set_wait);

static void test_asyncgen_awaits_a_future(void **state)
{
    (void)state;
    trace log;
    aio_loop *loop = new_traced_loop(&log);
    gen_state s = {.log = &log, .count = 2, .delay = 0.01, .wait = aio_loop_create_future(loop)};
    consumer c = {.gen = aio_asyncgen_new(numbers, &s, &(aio_asyncgen_args){.name = "custom"}),
                  .log = &log};
    char expected[128];
    snprintf(expected, sizeof expected, "<async_generator object custom at %p>", (void *)c.gen);
    assert_repr(c.gen, expected);
    aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = 0.01,
                                                          .callback = set_wait,
                                                          .args = s.wait});
    double start = aio_loop_time(loop);
    assert_ptr_equal(run_coro(loop, consume_all, &c), P(1));
    assert_true(aio_loop_time(loop) - start >= 0.025);
    assert_string_equal(log.text, "y0;got0;y1;got1;exhausted;");
    aio_decref(c.end);
    aio_decref(c.gen);
    aio_decref(s.wait);
    finish(loop);
}

/* --- asend --------------------------------------------------------------------------- */

typedef struct asend_case {
    aio_asyncgen *gen;
    gen_state *s;
} asend_case;

static void *asend_coro(void *arg)
{
    asend_case *a = arg;
    /* a just-started generator takes None only */
    assert_null(aio_asyncgen_asend(a->gen, P(5)));
    assert_raised(aio_TypeError, "can't send non-None value to a just-started async generator");
    assert_int_equal(a->s->resumed, 0);
    assert_int_equal(value_of(aio_asyncgen_asend(a->gen, NULL)), 0);
    assert_int_equal(value_of(aio_asyncgen_asend(a->gen, P(5))), 1);
    assert_ptr_equal(a->s->sent[0], P(5));
    assert_int_equal(value_of(aio_anext(a->gen)), 2);
    assert_null(a->s->sent[1]); /* anext sends None */
    assert_null(aio_asyncgen_asend(a->gen, P(6)));
    assert_raised(aio_StopAsyncIteration, NULL);
    assert_ptr_equal(a->s->sent[2], P(6));
    assert_null(aio_asyncgen_asend(a->gen, P(7)));
    assert_raised(aio_StopAsyncIteration, NULL);
    return P(1);
}
AIO_NAME_CALLBACK(asend_coro);

static void test_asyncgen_asend(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    gen_state s = {.count = 3, .delay = -1};
    asend_case a = {.gen = new_gen(&s), .s = &s};
    assert_ptr_equal(run_coro(loop, asend_coro, &a), P(1));
    aio_decref(a.gen);
    finish(loop);
}

/* --- athrow ---------------------------------------------------------------------------- */

static void *athrow_coro(void *arg)
{
    (void)arg;
    /* handled: the generator yields again */
    gen_state s = {.count = 3, .delay = -1, .catch_value_error = true};
    aio_asyncgen *gen = new_gen(&s);
    assert_int_equal(value_of(aio_anext(gen)), 0);
    aio_exc *v = aio_exc_new(aio_ValueError, "v");
    assert_ptr_equal(aio_asyncgen_athrow(gen, v), caught);
    check_no_exception();
    assert_int_equal(value_of(aio_anext(gen)), 1);

    /* unhandled: raised to the caller, the very object; the generator ends */
    aio_exc *t = aio_exc_new(aio_TypeError, "t");
    assert_null(aio_asyncgen_athrow(gen, t));
    assert_ptr_equal(aio_err_occurred(), t);
    assert_raised(aio_TypeError, "t");
    assert_string_equal(s.closed_by, "TypeError");
    assert_null(aio_anext(gen));
    assert_raised(aio_StopAsyncIteration, NULL);
    /* on an exhausted generator: None, nothing raised (as CPython 3.11) */
    assert_null(aio_asyncgen_athrow(gen, t));
    check_no_exception();
    aio_decref(gen);

    /* on a generator never started: raised at once, the function never runs */
    gen_state fresh = {.count = 3, .delay = -1};
    gen = new_gen(&fresh);
    assert_null(aio_asyncgen_athrow(gen, v));
    assert_raised(aio_ValueError, "v");
    assert_int_equal(fresh.cleanups, 0);
    assert_null(aio_anext(gen));
    assert_raised(aio_StopAsyncIteration, NULL);

    assert_null(aio_asyncgen_athrow(gen, NULL));
    assert_raised(aio_TypeError, NULL);
    aio_decref(gen);
    aio_decref(v);
    aio_decref(t);
    return P(1);
}
AIO_NAME_CALLBACK(athrow_coro);

static void test_asyncgen_athrow(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_ptr_equal(run_coro(loop, athrow_coro, NULL), P(1));
    finish(loop);
}

/* --- aclose ------------------------------------------------------------------------------- */

static void *aclose_coro(void *arg)
{
    trace *log = arg;
    /* cleanup runs with GeneratorExit, and may await */
    gen_state s = {.log = log, .count = 3, .delay = -1, .cleanup_await = true};
    aio_asyncgen *gen = new_gen(&s);
    assert_int_equal(value_of(aio_anext(gen)), 0);
    assert_int_equal(aio_asyncgen_aclose(gen), 0);
    check_no_exception();
    assert_string_equal(s.closed_by, "GeneratorExit");
    assert_int_equal(s.cleanups, 1);
    assert_null(aio_anext(gen));
    assert_raised(aio_StopAsyncIteration, NULL);
    assert_int_equal(aio_asyncgen_aclose(gen), 0); /* closed: nothing */
    assert_int_equal(s.cleanups, 1);
    aio_decref(gen);

    /* an error during cleanup comes out of aclose() */
    gen_state bad = {.count = 3, .delay = -1, .cleanup_raise = true};
    gen = new_gen(&bad);
    assert_int_equal(value_of(aio_anext(gen)), 0);
    assert_int_equal(aio_asyncgen_aclose(gen), -1);
    assert_raised(aio_ValueError, "cleanup failed");
    assert_null(aio_anext(gen));
    assert_raised(aio_StopAsyncIteration, NULL);
    aio_decref(gen);
    return P(1);
}
AIO_NAME_CALLBACK(aclose_coro);

static void test_asyncgen_aclose(void **state)
{
    (void)state;
    trace log;
    aio_loop *loop = new_traced_loop(&log);
    assert_ptr_equal(run_coro(loop, aclose_coro, &log), P(1));
    assert_string_equal(log.text, "y0;cleanup;awaited(0);");
    finish(loop);
}

static void *aclose_ignored_coro(void *arg)
{
    trace *log = arg;
    gen_state s = {.log = log, .count = 3, .delay = -1, .yield_on_exit = true};
    aio_asyncgen *gen = new_gen(&s);
    assert_int_equal(value_of(aio_anext(gen)), 0);
    assert_int_equal(aio_asyncgen_aclose(gen), -1);
    assert_raised(aio_RuntimeError, "async generator ignored GeneratorExit");
    /* still suspended at its second yield: anext resumes it, and it ends */
    assert_null(aio_anext(gen));
    assert_raised(aio_StopAsyncIteration, NULL);
    aio_decref(gen);
    return P(1);
}
AIO_NAME_CALLBACK(aclose_ignored_coro);

static void test_asyncgen_aclose_ignored(void **state)
{
    (void)state;
    trace log;
    aio_loop *loop = new_traced_loop(&log);
    assert_ptr_equal(run_coro(loop, aclose_ignored_coro, &log), P(1));
    assert_string_equal(log.text, "y0;cleanup;end;");
    finish(loop);
}

static void *aclose_fresh_coro(void *arg)
{
    (void)arg;
    gen_state s = {.count = 3, .delay = -1};
    aio_asyncgen *gen = new_gen(&s);
    assert_int_equal(aio_asyncgen_aclose(gen), 0);
    check_no_exception();
    /* the function never ran */
    assert_int_equal(s.cleanups, 0);
    assert_null(aio_anext(gen));
    assert_raised(aio_StopAsyncIteration, NULL);
    assert_null(aio_asyncgen_asend(gen, NULL));
    assert_raised(aio_StopAsyncIteration, NULL);
    assert_int_equal(aio_asyncgen_aclose(gen), 0);
    aio_decref(gen);
    return P(1);
}
AIO_NAME_CALLBACK(aclose_fresh_coro);

static void test_asyncgen_aclose_never_started(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_ptr_equal(run_coro(loop, aclose_fresh_coro, NULL), P(1));
    finish(loop);
}

/* --- Errors ------------------------------------------------------------------------------------ */

typedef struct running_case {
    aio_asyncgen *gen;
    gen_state s;
    void *first;
} running_case;

static void *first_consumer(void *arg)
{
    running_case *r = arg;
    r->first = aio_anext(r->gen);
    return P(1);
}
AIO_NAME_CALLBACK(first_consumer);

static void *second_consumer(void *arg)
{
    running_case *r = arg;
    /* the generator is suspended in an await inside (on its future): it
     * is running */
    assert_null(aio_anext(r->gen));
    assert_raised(aio_RuntimeError, "anext(): asynchronous generator is already running");
    assert_null(aio_asyncgen_asend(r->gen, NULL));
    assert_raised(aio_RuntimeError, "anext(): asynchronous generator is already running");
    aio_exc *exc = aio_exc_new(aio_ValueError, NULL);
    assert_null(aio_asyncgen_athrow(r->gen, exc));
    assert_raised(aio_RuntimeError, "athrow(): asynchronous generator is already running");
    aio_decref(exc);
    assert_int_equal(aio_asyncgen_aclose(r->gen), -1);
    assert_raised(aio_RuntimeError, "aclose(): asynchronous generator is already running");
    return P(2);
}
AIO_NAME_CALLBACK(second_consumer);

static void test_asyncgen_anext_while_running(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    running_case r = {.s = {.count = 1, .delay = -1, .wait = aio_loop_create_future(loop)}};
    r.gen = new_gen(&r.s);
    aio_task *t1 = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = first_consumer, .coro_arg = &r});
    run_one_iteration(loop); /* t1 drives the generator into its sleep */
    check_no_exception();
    assert_ptr_equal(run_coro(loop, second_consumer, &r), P(2));
    aio_future_set_result(r.s.wait, NULL);
    aio_loop_run_until_complete(loop, t1);
    check_no_exception();
    assert_int_equal(value_of(r.first), 0);
    assert_int_equal(aio_asyncgen_aclose(r.gen), 0);
    aio_decref(t1);
    aio_decref(r.gen);
    aio_decref(r.s.wait);
    finish(loop);
}

static void *self_iterating(aio_asyncgen *gen, void *arg)
{
    (void)arg;
    assert_null(aio_anext(gen));
    assert_raised(aio_RuntimeError, "anext(): asynchronous generator is already running");
    return NULL;
}
AIO_NAME_CALLBACK(self_iterating);

static void *self_iterating_coro(void *arg)
{
    (void)arg;
    aio_asyncgen *gen = aio_asyncgen_new(self_iterating, NULL, NULL);
    assert_null(aio_anext(gen));
    assert_raised(aio_StopAsyncIteration, NULL);
    aio_decref(gen);
    return P(1);
}
AIO_NAME_CALLBACK(self_iterating_coro);

static void test_asyncgen_anext_from_inside(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_ptr_equal(run_coro(loop, self_iterating_coro, NULL), P(1));
    finish(loop);
}

static void *raises_stop(aio_asyncgen *gen, void *arg)
{
    (void)arg;
    if (aio_yield(gen, &values[1]) < 0)
        return NULL;
    aio_err_set(aio_StopAsyncIteration, "s");
    return NULL;
}
AIO_NAME_CALLBACK(raises_stop);

static void *raises_stop_coro(void *arg)
{
    (void)arg;
    aio_asyncgen *gen = aio_asyncgen_new(raises_stop, NULL, NULL);
    assert_int_equal(value_of(aio_anext(gen)), 1);
    assert_null(aio_anext(gen));
    aio_exc *exc = aio_err_occurred();
    assert_non_null(exc);
    /* raised from the StopAsyncIteration, as _PyErr_FormatFromCause() does */
    aio_exc *cause = aio_exc_cause(exc);
    assert_non_null(cause);
    assert_ptr_equal(aio_exc_type_of(cause), aio_StopAsyncIteration);
    assert_string_equal(aio_exc_str(cause), "s");
    assert_raised(aio_RuntimeError, "async generator raised StopAsyncIteration");
    assert_null(aio_anext(gen));
    assert_raised(aio_StopAsyncIteration, NULL);
    aio_decref(gen);
    return P(1);
}
AIO_NAME_CALLBACK(raises_stop_coro);

static void test_asyncgen_raises_stop_async_iteration(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    assert_ptr_equal(run_coro(loop, raises_stop_coro, NULL), P(1));
    finish(loop);
}

static void *yields_foreign(aio_asyncgen *gen, void *arg)
{
    aio_asyncgen *other = arg;
    /* another generator's yield */
    assert_int_equal(aio_yield(other, NULL), -1);
    assert_raised(aio_RuntimeError, "aio_yield() must be called by the generator's own function");
    (void)gen;
    return NULL;
}
AIO_NAME_CALLBACK(yields_foreign);

static void test_asyncgen_yield_outside(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    gen_state s = {.count = 1, .delay = -1};
    aio_asyncgen *gen = new_gen(&s);
    assert_int_equal(aio_yield(gen, NULL), -1);
    assert_raised(aio_RuntimeError, "aio_yield() must be called by the generator's own function");
    assert_int_equal(aio_yield(NULL, NULL), -1);
    assert_raised(aio_RuntimeError, "aio_yield() must be called by the generator's own function");
    aio_asyncgen *other = aio_asyncgen_new(yields_foreign, gen, NULL);
    consumer c = {.gen = other};
    assert_ptr_equal(run_coro(loop, consume_all, &c), P(1));
    assert_int_equal(c.n, 0);
    assert_ptr_equal(aio_exc_type_of(c.end), aio_StopAsyncIteration);
    aio_decref(c.end);
    aio_decref(other);
    aio_decref(gen);

    assert_null(aio_asyncgen_new(NULL, NULL, NULL));
    assert_raised(aio_TypeError, NULL);
    finish(loop);
}

/* --- The loop's tracking ------------------------------------------------------------------------ */

typedef struct tracked {
    gen_state s[3];
    aio_asyncgen *gens[3];
} tracked;

static void *start_gens(void *arg)
{
    tracked *t = arg;
    for (int i = 0; i < 3; i++) {
        t->gens[i] = new_gen(&t->s[i]);
        assert_int_equal(value_of(aio_anext(t->gens[i])), 0);
    }
    /* the last one runs to its end: no longer tracked */
    assert_null(aio_anext(t->gens[2]));
    assert_raised(aio_StopAsyncIteration, NULL);
    return P(1);
}
AIO_NAME_CALLBACK(start_gens);

static void test_asyncgen_shutdown_asyncgens(void **state)
{
    (void)state;
    trace log;
    aio_loop *loop = new_traced_loop(&log);
    handler_report rep = {0};
    aio_loop_set_exception_handler(loop, report_handler, &rep);
    tracked t = {.s = {{.count = 3, .delay = -1, .cleanup_await = true, .log = &log},
                       {.count = 3, .delay = -1, .cleanup_raise = true},
                       {.count = 1, .delay = -1}}};
    assert_ptr_equal(run_coro(loop, start_gens, &t), P(1));
    assert_string_equal(log.text, "y0;");

    aio_future *shutdown = aio_loop_shutdown_asyncgens(loop);
    assert_non_null(shutdown);
    assert_null(aio_loop_run_until_complete(loop, shutdown));
    check_no_exception();
    aio_decref(shutdown);
    /* both open ones were closed (with GeneratorExit), in tasks */
    assert_string_equal(log.text, "y0;cleanup;awaited(0);");
    assert_string_equal(t.s[0].closed_by, "GeneratorExit");
    assert_int_equal(t.s[1].cleanups, 1);
    assert_int_equal(t.s[2].cleanups, 0);
    /* the error during the second's close went to the handler */
    assert_int_equal(rep.calls, 1);
    char expected[256];
    snprintf(expected, sizeof expected,
             "an error occurred during closing of asynchronous generator "
             "<async_generator object numbers at %p>",
             (void *)t.gens[1]);
    assert_string_equal(rep.message, expected);
    assert_string_equal(rep.exception, "ValueError('cleanup failed')");
    assert_ptr_equal(rep.asyncgen, t.gens[1]);
    for (int i = 0; i < 3; i++) {
        assert_null(aio_anext(t.gens[i]));
        assert_raised(aio_StopAsyncIteration, NULL);
        aio_decref(t.gens[i]);
    }

    /* nothing left to close: done at once */
    shutdown = aio_loop_shutdown_asyncgens(loop);
    assert_null(aio_loop_run_until_complete(loop, shutdown));
    check_no_exception();
    aio_decref(shutdown);
    assert_int_equal(rep.calls, 1);
    finish(loop);
}

typedef struct dropped {
    trace *log;
    gen_state s;
} dropped;

static void *drop_coro(void *arg)
{
    dropped *d = arg;
    aio_asyncgen *gen = new_gen(&d->s);
    assert_int_equal(value_of(aio_anext(gen)), 0);
    aio_decref(gen); /* the last reference, while suspended */
    trace_add(d->log, "dropped;");
    assert_int_equal(aio_sleep(0), 0);
    trace_add(d->log, "s1;");
    assert_int_equal(aio_sleep(0), 0);
    trace_add(d->log, "s2;");
    assert_int_equal(aio_sleep(0), 0);
    trace_add(d->log, "s3;");
    return P(1);
}
AIO_NAME_CALLBACK(drop_coro);

static void test_asyncgen_dropped_while_suspended(void **state)
{
    (void)state;
    trace log;
    aio_loop *loop = new_traced_loop(&log);
    dropped d = {.log = &log, .s = {.log = &log, .count = 3, .delay = -1}};
    assert_ptr_equal(run_coro(loop, drop_coro, &d), P(1));
    /* closed by a task the finalizer hook scheduled: a later iteration */
    assert_string_equal(log.text, "y0;dropped;s1;cleanup;s2;s3;");
    assert_string_equal(d.s.closed_by, "GeneratorExit");
    finish(loop);
}

static void *cancel_closer_coro(void *arg)
{
    dropped *d = arg;
    aio_asyncgen *gen = new_gen(&d->s);
    assert_int_equal(value_of(aio_anext(gen)), 0);
    aio_decref(gen);
    assert_int_equal(aio_sleep(0), 0);
    /* the closing task exists now, and has not run yet */
    size_t n;
    aio_task **tasks = aio_all_tasks(NULL, &n);
    assert_int_equal(n, 2);
    aio_task *closer = tasks[0] == aio_current_task(NULL) ? tasks[1] : tasks[0];
    aio_incref(closer);
    for (size_t i = 0; i < n; i++)
        aio_decref(tasks[i]);
    free(tasks);
    assert_int_equal(aio_future_cancel(closer, &(aio_future_cancel_args){.msg = "bye"}), 1);
    assert_int_equal(aio_task_cancelling(closer), 1);
    assert_int_equal(aio_sleep(0), 0);
    /* its CancelledError went into the generator, at its yield */
    assert_string_equal(d->s.closed_by, "CancelledError");
    assert_int_equal(aio_future_done(closer), 1);
    assert_int_equal(aio_future_cancelled(closer), 1);
    assert_null(aio_future_result(closer));
    assert_raised(aio_CancelledError, "bye");
    aio_decref(closer);
    return P(1);
}
AIO_NAME_CALLBACK(cancel_closer_coro);

static void test_asyncgen_closing_task_cancelled_before_start(void **state)
{
    (void)state;
    /* A C task cancelled before its first step never runs its function;
     * the generator must be closed (and released) all the same. */
    trace log;
    aio_loop *loop = new_traced_loop(&log);
    dropped d = {.log = &log, .s = {.log = &log, .count = 3, .delay = -1}};
    assert_ptr_equal(run_coro(loop, cancel_closer_coro, &d), P(1));
    assert_string_equal(log.text, "y0;cleanup;");
    finish(loop);
}

static void *keep_open_coro(void *arg)
{
    aio_asyncgen *gen = arg;
    assert_int_equal(value_of(aio_anext(gen)), 0);
    return P(1);
}
AIO_NAME_CALLBACK(keep_open_coro);

static void test_asyncgen_dropped_after_loop_closed(void **state)
{
    (void)state;
    /* No loop to close it in a task: closed at once, when dropped. */
    trace log;
    aio_loop *loop = new_traced_loop(&log);
    gen_state s = {.log = &log, .count = 3, .delay = -1};
    aio_asyncgen *gen = new_gen(&s);
    assert_ptr_equal(run_coro(loop, keep_open_coro, gen), P(1));
    close_loop(loop);
    assert_string_equal(log.text, "y0;");
    aio_decref(gen);
    assert_string_equal(log.text, "y0;cleanup;");
    assert_no_leaks();
}

/* A generator first iterated after shutdown_asyncgens(): the ResourceWarning
 * asyncio gives, shown (like Python's default filters show it) only in
 * development mode. */
static void *one_value(aio_asyncgen *gen, void *arg)
{
    (void)arg;
    static int value = 1;
    aio_yield(gen, &value);
    return NULL;
}
AIO_NAME_CALLBACK(one_value);

static void *iterate_once(void *arg)
{
    aio_asyncgen *gen = arg;
    return aio_anext(gen);
}
AIO_NAME_CALLBACK(iterate_once);

static void test_asyncgen_iterated_after_shutdown_warns(void **state)
{
    (void)state;
    for (int dev = 0; dev < 2; dev++) {
        if (dev)
            setenv("PYTHONDEVMODE", "1", 1);
        aio_loop *loop = new_loop();
        aio_future *shutdown = aio_loop_shutdown_asyncgens(loop);
        assert_non_null(shutdown);
        assert_null(aio_loop_run_until_complete(loop, shutdown));
        check_no_exception();
        aio_decref(shutdown);

        aio_asyncgen *gen = aio_asyncgen_new(one_value, NULL, &(aio_asyncgen_args){.name = "late"});
        log_record rec;
        log_record_start(&rec);
        assert_non_null(run_coro(loop, iterate_once, gen));
        log_record_stop();
        unsetenv("PYTHONDEVMODE");
        if (dev) {
            assert_int_equal(rec.count, 1);
            assert_non_null(strstr(rec.message, "ResourceWarning: asynchronous generator "
                                                "<async_generator object late at 0x"));
            assert_non_null(strstr(rec.message,
                                   "> was scheduled after loop.shutdown_asyncgens() call"));
        } else {
            assert_int_equal(rec.count, 0);
        }
        /* Still tracked: closing it is the loop's job again. */
        assert_int_equal(aio_asyncgen_aclose(gen), 0);
        aio_decref(gen);
        finish(loop);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_asyncgen_iteration),
    cmocka_unit_test(test_asyncgen_awaits_a_future),
    cmocka_unit_test(test_asyncgen_asend),
    cmocka_unit_test(test_asyncgen_athrow),
    cmocka_unit_test(test_asyncgen_aclose),
    cmocka_unit_test(test_asyncgen_aclose_ignored),
    cmocka_unit_test(test_asyncgen_aclose_never_started),
    cmocka_unit_test(test_asyncgen_anext_while_running),
    cmocka_unit_test(test_asyncgen_anext_from_inside),
    cmocka_unit_test(test_asyncgen_raises_stop_async_iteration),
    cmocka_unit_test(test_asyncgen_yield_outside),
    cmocka_unit_test(test_asyncgen_shutdown_asyncgens),
    cmocka_unit_test(test_asyncgen_dropped_while_suspended),
    cmocka_unit_test(test_asyncgen_closing_task_cancelled_before_start),
    cmocka_unit_test(test_asyncgen_dropped_after_loop_closed),
    cmocka_unit_test(test_asyncgen_iterated_after_shutdown_warns),
};

AIO_TEST_MAIN(tests)
