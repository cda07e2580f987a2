/* test_run.c - asyncio.run() (runners.py, 3.11): aio_run().
 *
 * Expected behaviour was checked against CPython 3.11.7: main runs as a
 * task on a new loop that becomes the current loop and is closed and unset
 * afterwards, the tasks left over are cancelled and waited for (a failure
 * among them reported as 'unhandled exception during asyncio.run()
 * shutdown'), async generators are closed, main's exception propagates,
 * and the errors for a running loop, a NULL main and the debug flag.
 */
#include "test_support.h"

/* --- Helpers ----------------------------------------------------------------- */

/* What main saw of its loop. */
typedef struct main_state {
    aio_loop *loop;         /* a reference to the running loop */
    aio_loop *current;      /* get_event_loop() inside main */
    bool in_task;
    int debug;
    void *result;
} main_state;

static void *simple_main(void *arg)
{
    main_state *m = arg;
    m->loop = aio_incref(aio_get_running_loop());
    m->current = aio_get_event_loop();
    m->in_task = aio_current_task(NULL) != NULL;
    m->debug = aio_loop_get_debug(m->loop);
    if (aio_sleep(0.001) < 0)
        return NULL;
    return m->result;
}
AIO_NAME_CALLBACK(simple_main);

/* --- Results and the loop ---------------------------------------------------------- */

static void test_run_returns_result(void **state)
{
    (void)state;
    main_state m = {.result = P(42)};
    assert_ptr_equal(aio_run(simple_main, &m, NULL), P(42));
    check_no_exception();
    assert_true(m.in_task);
    assert_ptr_equal(m.current, m.loop);
    aio_decref(m.loop);

    /* a NULL result is no error */
    m = (main_state){.result = NULL};
    assert_null(aio_run(simple_main, &m, NULL));
    check_no_exception();
    aio_decref(m.loop);
    assert_no_leaks();
}

static void test_run_fresh_loop_closed_and_unset(void **state)
{
    (void)state;
    aio_loop *mine = new_loop();
    assert_int_equal(aio_set_event_loop(mine), 0);
    main_state m = {.result = P(1)};
    assert_ptr_equal(aio_run(simple_main, &m, NULL), P(1));
    check_no_exception();
    /* a new loop, not the current one */
    assert_ptr_not_equal(m.loop, mine);
    assert_int_equal(aio_loop_is_closed(m.loop), 1);
    assert_int_equal(aio_loop_is_running(m.loop), 0);
    assert_int_equal(aio_loop_is_closed(mine), 0);
    /* set_event_loop(None) */
    assert_null(aio_get_running_loop());
    assert_raised(aio_RuntimeError, "no running event loop");
    assert_null(aio_get_event_loop());
    assert_raised(aio_RuntimeError, "There is no current event loop in thread 'MainThread'.");

    /* a second run: another new loop */
    main_state m2 = {.result = P(2)};
    assert_ptr_equal(aio_run(simple_main, &m2, NULL), P(2));
    check_no_exception();
    assert_ptr_not_equal(m2.loop, m.loop);
    assert_int_equal(aio_loop_is_closed(m2.loop), 1);
    aio_decref(m.loop);
    aio_decref(m2.loop);
    close_loop(mine);
    assert_no_leaks();
}

static void test_run_debug(void **state)
{
    (void)state;
    main_state m = {0};
    assert_null(aio_run(simple_main, &m, &(aio_run_args){.debug = true}));
    check_no_exception();
    assert_int_equal(m.debug, 1);
    aio_decref(m.loop);

    m = (main_state){0};
    assert_null(aio_run(simple_main, &m, &(aio_run_args){.debug = AIO_FALSE}));
    check_no_exception();
    assert_int_equal(m.debug, 0);
    aio_decref(m.loop);

    /* None: the loop's own setting (from the environment) */
    const char *saved = getenv("PYTHONASYNCIODEBUG");
    char *copy = saved != NULL ? strdup(saved) : NULL;
    setenv("PYTHONASYNCIODEBUG", "1", 1);
    m = (main_state){0};
    assert_null(aio_run(simple_main, &m, NULL));
    check_no_exception();
    assert_int_equal(m.debug, 1);
    aio_decref(m.loop);
    m = (main_state){0};
    assert_null(aio_run(simple_main, &m, &(aio_run_args){.debug = AIO_FALSE}));
    check_no_exception();
    assert_int_equal(m.debug, 0);
    aio_decref(m.loop);
    unsetenv("PYTHONASYNCIODEBUG");
    m = (main_state){0};
    assert_null(aio_run(simple_main, &m, &(aio_run_args){.debug = AIO_NONE}));
    check_no_exception();
    assert_int_equal(m.debug, 0);
    aio_decref(m.loop);
    if (copy != NULL) {
        setenv("PYTHONASYNCIODEBUG", copy, 1);
        free(copy);
    }
    assert_no_leaks();
}

/* --- Tasks left over --------------------------------------------------------------------- */

typedef struct leftover {
    int kind;               /* 0: propagates, 1: raises, 2: swallows */
    int cancelled;
    bool finished;
} leftover;

static void *leftover_coro(void *arg)
{
    leftover *l = arg;
    int rc = aio_sleep(10);
    l->finished = true;
    if (rc == 0)
        return NULL;
    l->cancelled += aio_err_matches(aio_CancelledError);
    if (l->kind == 0)
        return NULL;
    aio_err_clear();
    if (l->kind == 1) {
        aio_err_set(aio_RuntimeError, "cleanup failed");
        return NULL;
    }
    assert_int_equal(aio_sleep(0), 0); /* still able to await */
    return P(3);
}
AIO_NAME_CALLBACK(leftover_coro);

typedef struct leftover_main_state {
    handler_report rep;
    leftover tasks[3];
    bool fail;
    aio_loop *loop;
} leftover_main_state;

static void *leftover_main(void *arg)
{
    leftover_main_state *s = arg;
    s->loop = aio_incref(aio_get_running_loop());
    aio_loop_set_exception_handler(s->loop, report_handler, &s->rep);
    for (int i = 0; i < 3; i++) {
        if (s->tasks[i].kind < 0)
            continue;
        aio_task *t = aio_loop_create_task(
            s->loop, &(aio_loop_create_task_args){.coro = leftover_coro, .coro_arg = &s->tasks[i]});
        assert_non_null(t);
        aio_decref(t); /* the loop keeps it */
    }
    if (aio_sleep(0) < 0)
        return NULL;
    if (s->fail) {
        aio_err_set(aio_ValueError, "main failed");
        return NULL;
    }
    return P(1);
}
AIO_NAME_CALLBACK(leftover_main);

static void test_run_cancels_leftover_tasks(void **state)
{
    (void)state;
    leftover_main_state s = {.tasks = {{.kind = 0}, {.kind = 2}, {.kind = -1}}};
    assert_ptr_equal(aio_run(leftover_main, &s, NULL), P(1));
    check_no_exception();
    for (int i = 0; i < 2; i++) {
        assert_true(s.tasks[i].finished);
        assert_int_equal(s.tasks[i].cancelled, 1);
    }
    /* a CancelledError (or a result) is nothing to report */
    assert_int_equal(s.rep.calls, 0);
    aio_decref(s.loop);
    assert_no_leaks();
}

static void test_run_leftover_task_fails(void **state)
{
    (void)state;
    leftover_main_state s = {.tasks = {{.kind = 1}, {.kind = 0}, {.kind = -1}}};
    assert_ptr_equal(aio_run(leftover_main, &s, NULL), P(1));
    check_no_exception();
    assert_int_equal(s.tasks[0].cancelled, 1);
    assert_int_equal(s.tasks[1].cancelled, 1);
    assert_int_equal(s.rep.calls, 1);
    assert_string_equal(s.rep.message, "unhandled exception during asyncio.run() shutdown");
    assert_string_equal(s.rep.exception, "RuntimeError('cleanup failed')");
    assert_true(s.rep.has_task);
    assert_true(strncmp(s.rep.task, "<Task finished name='Task-", 26) == 0);
    aio_decref(s.loop);
    /* the exception was retrieved: no 'Task exception was never retrieved' */
    assert_no_leaks();
}

static void test_run_main_exception_propagates(void **state)
{
    (void)state;
    leftover_main_state s = {.tasks = {{.kind = 1}, {.kind = 2}, {.kind = 0}}, .fail = true};
    assert_null(aio_run(leftover_main, &s, NULL));
    assert_raised(aio_ValueError, "main failed");
    /* the shutdown happened all the same */
    for (int i = 0; i < 3; i++)
        assert_int_equal(s.tasks[i].cancelled, 1);
    assert_int_equal(s.rep.calls, 1);
    assert_string_equal(s.rep.message, "unhandled exception during asyncio.run() shutdown");
    assert_int_equal(aio_loop_is_closed(s.loop), 1);
    aio_decref(s.loop);
    assert_no_leaks();
}

static void *cancelled_main(void *arg)
{
    (void)arg;
    aio_task_cancel(aio_current_task(NULL), "bye");
    if (aio_sleep(0) < 0)
        return NULL;
    return P(1);
}
AIO_NAME_CALLBACK(cancelled_main);

static void test_run_main_cancelled(void **state)
{
    (void)state;
    assert_null(aio_run(cancelled_main, NULL, NULL));
    assert_raised(aio_CancelledError, "bye");
    assert_no_leaks();
}

/* --- Async generators ------------------------------------------------------------------------ */

typedef struct gen_case {
    int closed;
    char closed_by[64];     /* the exception its yield got */
    bool raise;             /* cleanup raises ValueError */
} gen_case;

static void *open_gen(aio_asyncgen *gen, void *arg)
{
    gen_case *g = arg;
    for (;;) {
        if (aio_yield(gen, P(1)) < 0) {
            g->closed++;
            snprintf(g->closed_by, sizeof g->closed_by, "%s",
                     aio_exc_type_of(aio_err_occurred())->name);
            if (g->raise) {
                aio_err_set(aio_ValueError, "cleanup failed");
                return NULL;
            }
            return NULL;
        }
    }
}
AIO_NAME_CALLBACK(open_gen);

typedef struct asyncgen_main_state {
    gen_case dropped, kept;
    aio_asyncgen *keep;
    handler_report rep;
} asyncgen_main_state;

static void *asyncgen_main(void *arg)
{
    asyncgen_main_state *s = arg;
    aio_loop_set_exception_handler(aio_get_running_loop(), report_handler, &s->rep);
    aio_asyncgen *gen = aio_asyncgen_new(open_gen, &s->dropped, NULL);
    assert_ptr_equal(aio_anext(gen), P(1));
    s->keep = aio_asyncgen_new(open_gen, &s->kept, NULL);
    assert_ptr_equal(aio_anext(s->keep), P(1));
    /* dropped in main's last step: its closing task is scheduled, and
     * cancelled by the shutdown before its first step */
    aio_decref(gen);
    return P(1);
}
AIO_NAME_CALLBACK(asyncgen_main);

static void test_run_shuts_down_asyncgens(void **state)
{
    (void)state;
    asyncgen_main_state s = {0};
    assert_ptr_equal(aio_run(asyncgen_main, &s, NULL), P(1));
    check_no_exception();
    /* as in CPython: the cancelled closing task still throws its
     * CancelledError into the generator */
    assert_int_equal(s.dropped.closed, 1);
    assert_string_equal(s.dropped.closed_by, "CancelledError");
    /* the one still referenced: loop.shutdown_asyncgens() */
    assert_int_equal(s.kept.closed, 1);
    assert_string_equal(s.kept.closed_by, "GeneratorExit");
    assert_int_equal(s.rep.calls, 0);
    aio_decref(s.keep);
    assert_no_leaks();
}

static void test_run_asyncgen_cleanup_errors(void **state)
{
    (void)state;
    asyncgen_main_state s = {.dropped = {.raise = true}, .kept = {.raise = true}};
    assert_ptr_equal(aio_run(asyncgen_main, &s, NULL), P(1));
    check_no_exception();
    assert_int_equal(s.dropped.closed, 1);
    assert_int_equal(s.kept.closed, 1);
    /* the closing task failed: reported as a task left over, then the
     * error closing the other one */
    assert_int_equal(s.rep.calls, 2);
    char expected[256];
    snprintf(expected, sizeof expected,
             "an error occurred during closing of asynchronous generator "
             "<async_generator object open_gen at %p>",
             (void *)s.keep);
    assert_string_equal(s.rep.message, expected);
    assert_string_equal(s.rep.exception, "ValueError('cleanup failed')");
    aio_decref(s.keep);
    assert_no_leaks();
}

/* --- Errors ------------------------------------------------------------------------------------ */

typedef struct nested_run {
    void *result;
    aio_exc *exc;
} nested_run;

static void *nested_main(void *arg)
{
    nested_run *n = arg;
    main_state m = {0};
    n->result = aio_run(simple_main, &m, NULL);
    n->exc = aio_err_fetch();
    assert_null(m.loop); /* main never ran */
    return P(1);
}
AIO_NAME_CALLBACK(nested_main);

static void test_run_from_running_loop(void **state)
{
    (void)state;
    nested_run n = {0};
    assert_ptr_equal(aio_run(nested_main, &n, NULL), P(1));
    check_no_exception();
    assert_null(n.result);
    aio_err_restore(n.exc);
    assert_raised(aio_RuntimeError, "asyncio.run() cannot be called from a running event loop");

    /* checked before main itself */
    aio_loop *loop = new_loop();
    n = (nested_run){0};
    aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = nested_main,
                                                                          .coro_arg = &n});
    assert_ptr_equal(aio_loop_run_until_complete(loop, t), P(1));
    aio_err_restore(n.exc);
    assert_raised(aio_RuntimeError, "asyncio.run() cannot be called from a running event loop");
    aio_decref(t);
    finish(loop);
}

static void in_callback(void *arg)
{
    int *ran = arg;
    assert_null(aio_run(NULL, NULL, NULL)); /* the running loop is checked first */
    assert_raised(aio_RuntimeError, "asyncio.run() cannot be called from a running event loop");
    (*ran)++;
}
AIO_NAME_CALLBACK(in_callback);

static void test_run_null_main(void **state)
{
    (void)state;
    assert_null(aio_run(NULL, NULL, NULL));
    assert_raised(aio_ValueError, "a coroutine was expected, got None");
    assert_null(aio_run(NULL, NULL, &(aio_run_args){.debug = true}));
    assert_raised(aio_ValueError, "a coroutine was expected, got None");

    aio_loop *loop = new_loop();
    int ran = 0;
    soon(loop, in_callback, &ran);
    run_one_iteration(loop);
    check_no_exception();
    assert_int_equal(ran, 1);
    finish(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_run_returns_result),
    cmocka_unit_test(test_run_fresh_loop_closed_and_unset),
    cmocka_unit_test(test_run_debug),
    cmocka_unit_test(test_run_cancels_leftover_tasks),
    cmocka_unit_test(test_run_leftover_task_fails),
    cmocka_unit_test(test_run_main_exception_propagates),
    cmocka_unit_test(test_run_main_cancelled),
    cmocka_unit_test(test_run_shuts_down_asyncgens),
    cmocka_unit_test(test_run_asyncgen_cleanup_errors),
    cmocka_unit_test(test_run_from_running_loop),
    cmocka_unit_test(test_run_null_main),
};

AIO_TEST_MAIN(tests)
