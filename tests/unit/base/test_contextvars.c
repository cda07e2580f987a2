/* test_contextvars.c - contextvars.Context, ContextVar and Token, and the
 * contexts the loop runs callbacks in.
 *
 * Expected behaviour and messages are CPython 3.11's (_contextvars): see
 * ASYNCIO-SEMANTICS.md §2 (handles capture the context at creation).
 */
#include <pthread.h>

#include "context.h"
#include "test_support.h"

/* Each test runs in a fresh, empty context, so that what one leaves set
 * (the scale tests keep hundreds of variables set) is not seen by the next
 * when the binary runs them all in one process. */
static aio_context fresh_context;

static int enter_fresh_context(void **state)
{
    (void)state;
    aio__context_enter_scratch(&fresh_context, NULL);
    return 0;
}

static int leave_fresh_context(void **state)
{
    (void)state;
    aio__context_exit_scratch(&fresh_context);
    return 0;
}

static char *repr_of(const void *obj)
{
    char *repr = aio_repr(obj);
    assert_non_null(repr);
    return repr;
}

/* The current value of var as a number, -1 when it has none. */
static long value_of(aio_contextvar *var)
{
    void *value = P(12345);
    if (aio_contextvar_get(var, &value) < 0) {
        assert_raised(aio_LookupError, NULL);
        return -1;
    }
    return (long)(uintptr_t)value;
}

/* --- ContextVar ------------------------------------------------------------- */

static void test_contextvar_new_name_repr(void **state)
{
    (void)state;
    aio_contextvar *v = aio_contextvar_new("v");
    assert_non_null(v);
    assert_string_equal(aio_contextvar_name(v), "v");
    char expected[128];
    snprintf(expected, sizeof expected, "<ContextVar name='v' at %p>", (void *)v);
    char *repr = repr_of(v);
    assert_string_equal(repr, expected);
    free(repr);

    /* A default shows in the repr; NULL is None. */
    aio_contextvar *w = aio_contextvar_new_default("w", NULL);
    snprintf(expected, sizeof expected, "<ContextVar name='w' default=None at %p>", (void *)w);
    repr = repr_of(w);
    assert_string_equal(repr, expected);
    free(repr);

    aio_contextvar *x = aio_contextvar_new_default("x", P(0x10));
    snprintf(expected, sizeof expected, "<ContextVar name='x' default=%p at %p>", P(0x10),
             (void *)x);
    repr = repr_of(x);
    assert_string_equal(repr, expected);
    free(repr);

    /* The name is quoted the way repr(str) quotes. */
    aio_contextvar *q = aio_contextvar_new("it's");
    snprintf(expected, sizeof expected, "<ContextVar name=\"it's\" at %p>", (void *)q);
    repr = repr_of(q);
    assert_string_equal(repr, expected);
    free(repr);

    /* The name is copied. */
    char name[] = "tmp";
    aio_contextvar *t = aio_contextvar_new(name);
    name[0] = 'X';
    assert_string_equal(aio_contextvar_name(t), "tmp");

    aio_decref(v);
    aio_decref(w);
    aio_decref(x);
    aio_decref(q);
    aio_decref(t);
    assert_no_leaks();
}

static void test_contextvar_bad_arguments(void **state)
{
    (void)state;
    /* ContextVar(None) */
    assert_null(aio_contextvar_new(NULL));
    assert_raised(aio_TypeError, "context variable name must be a str");
    assert_null(aio_contextvar_new_default(NULL, P(1)));
    assert_raised(aio_TypeError, "context variable name must be a str");

    /* ContextVar.get(None), .set(None, 1), .reset(None, None) */
    void *value = P(7);
    assert_int_equal(aio_contextvar_get(NULL, &value), -1);
    assert_raised(aio_TypeError, "descriptor 'get' for '_contextvars.ContextVar' objects "
                                 "doesn't apply to a 'NoneType' object");
    assert_ptr_equal(value, P(7));
    assert_null(aio_contextvar_set(NULL, P(1)));
    assert_raised(aio_TypeError, "descriptor 'set' for '_contextvars.ContextVar' objects "
                                 "doesn't apply to a 'NoneType' object");
    assert_int_equal(aio_contextvar_reset(NULL, NULL), -1);
    assert_raised(aio_TypeError, "descriptor 'reset' for '_contextvars.ContextVar' objects "
                                 "doesn't apply to a 'NoneType' object");

    /* var.reset(None) */
    aio_contextvar *v = aio_contextvar_new("v");
    assert_int_equal(aio_contextvar_reset(v, NULL), -1);
    assert_raised(aio_TypeError, "expected an instance of Token, got None");

    /* get_or and name tolerate NULL. */
    assert_ptr_equal(aio_contextvar_get_or(NULL, P(3)), P(3));
    assert_null(aio_contextvar_name(NULL));
    assert_null(aio_err_occurred());
    aio_decref(v);
    assert_no_leaks();
}

static void test_contextvar_get_without_value(void **state)
{
    (void)state;
    aio_contextvar *v = aio_contextvar_new("v");
    void *value = P(99);
    assert_int_equal(aio_contextvar_get(v, &value), -1);
    assert_ptr_equal(value, P(99)); /* untouched */
    /* LookupError(var): its str is the variable's repr. */
    aio_exc *exc = aio_err_fetch();
    assert_non_null(exc);
    assert_ptr_equal(aio_exc_type_of(exc), aio_LookupError);
    char expected[128];
    snprintf(expected, sizeof expected, "<ContextVar name='v' at %p>", (void *)v);
    assert_string_equal(aio_exc_str(exc), expected);
    assert_int_equal(strncmp(aio_exc_str(exc), "<ContextVar name='v' at 0x", 26), 0);
    aio_decref(exc);

    /* value may be NULL when only the outcome matters. */
    assert_int_equal(aio_contextvar_get(v, NULL), -1);
    assert_raised(aio_LookupError, expected);
    aio_decref(v);
    assert_no_leaks();
}

static void test_contextvar_default(void **state)
{
    (void)state;
    aio_contextvar *v = aio_contextvar_new_default("v", P(5));
    void *value = NULL;
    assert_int_equal(aio_contextvar_get(v, &value), 0);
    assert_ptr_equal(value, P(5));
    assert_int_equal(aio_contextvar_get(v, NULL), 0);

    aio_contextvar_token *token = aio_contextvar_set(v, P(6));
    assert_int_equal(value_of(v), 6);
    assert_int_equal(aio_contextvar_reset(v, token), 0);
    /* back to no value: the default again */
    assert_int_equal(value_of(v), 5);
    aio_decref(token);

    /* A NULL default is a default (None), not "no default". */
    aio_contextvar *n = aio_contextvar_new_default("n", NULL);
    value = P(1);
    assert_int_equal(aio_contextvar_get(n, &value), 0);
    assert_null(value);
    aio_decref(n);
    aio_decref(v);
    assert_no_leaks();
}

static void test_contextvar_get_or(void **state)
{
    (void)state;
    aio_contextvar *v = aio_contextvar_new("v");
    /* v.get(fallback) with no value and no default: the fallback */
    assert_ptr_equal(aio_contextvar_get_or(v, P(7)), P(7));
    assert_null(aio_contextvar_get_or(v, NULL));
    assert_null(aio_err_occurred());
    aio_contextvar_token *token = aio_contextvar_set(v, P(2));
    /* a value wins over the fallback */
    assert_ptr_equal(aio_contextvar_get_or(v, P(7)), P(2));
    /* a value of NULL is a value */
    aio_contextvar_token *token2 = aio_contextvar_set(v, NULL);
    assert_null(aio_contextvar_get_or(v, P(7)));
    assert_int_equal(aio_contextvar_reset(v, token2), 0);
    assert_int_equal(aio_contextvar_reset(v, token), 0);
    assert_ptr_equal(aio_contextvar_get_or(v, P(8)), P(8));
    aio_decref(token);
    aio_decref(token2);

    /* With a variable default and a value set, the value wins. */
    aio_contextvar *d = aio_contextvar_new_default("d", P(3));
    token = aio_contextvar_set(d, P(4));
    assert_ptr_equal(aio_contextvar_get_or(d, P(7)), P(4));
    assert_int_equal(aio_contextvar_reset(d, token), 0);
    aio_decref(token);
    aio_decref(d);
    aio_decref(v);
    assert_no_leaks();
}

/* --- set / reset / Token ---------------------------------------------------- */

static void test_contextvar_set_reset(void **state)
{
    (void)state;
    aio_contextvar *v = aio_contextvar_new("v");
    aio_contextvar_token *t1 = aio_contextvar_set(v, P(1));
    assert_int_equal(value_of(v), 1);
    aio_contextvar_token *t2 = aio_contextvar_set(v, P(2));
    assert_int_equal(value_of(v), 2);

    char expected[256];
    snprintf(expected, sizeof expected, "<Token var=<ContextVar name='v' at %p> at %p>",
             (void *)v, (void *)t2);
    char *repr = repr_of(t2);
    assert_string_equal(repr, expected);
    free(repr);

    assert_int_equal(aio_contextvar_reset(v, t2), 0);
    assert_int_equal(value_of(v), 1);
    snprintf(expected, sizeof expected, "<Token used var=<ContextVar name='v' at %p> at %p>",
             (void *)v, (void *)t2);
    repr = repr_of(t2);
    assert_string_equal(repr, expected);
    free(repr);

    assert_int_equal(aio_contextvar_reset(v, t1), 0);
    assert_int_equal(value_of(v), -1); /* no value at all again */

    /* Resets out of order: t1 restores "no value" whatever came after. */
    aio_contextvar_token *t3 = aio_contextvar_set(v, P(3));
    aio_contextvar_token *t4 = aio_contextvar_set(v, P(4));
    assert_int_equal(aio_contextvar_reset(v, t3), 0);
    assert_int_equal(value_of(v), -1);
    /* t4 still restores its old value (3). */
    assert_int_equal(aio_contextvar_reset(v, t4), 0);
    assert_int_equal(value_of(v), 3);

    aio_decref(t1);
    aio_decref(t2);
    aio_decref(t3);
    aio_decref(t4);
    /* The token kept the variable alive; the value stays in the context. */
    aio_decref(v);
    assert_no_leaks();
}

static void test_token_reuse(void **state)
{
    (void)state;
    aio_contextvar *v = aio_contextvar_new("v");
    aio_contextvar_token *t = aio_contextvar_set(v, P(1));
    assert_int_equal(aio_contextvar_reset(v, t), 0);
    assert_int_equal(aio_contextvar_reset(v, t), -1);
    char expected[256];
    snprintf(expected, sizeof expected,
             "<Token used var=<ContextVar name='v' at %p> at %p> has already been used once",
             (void *)v, (void *)t);
    assert_raised(aio_RuntimeError, expected);
    assert_int_equal(value_of(v), -1);
    aio_decref(t);
    aio_decref(v);
    assert_no_leaks();
}

static void test_token_other_var(void **state)
{
    (void)state;
    aio_contextvar *v = aio_contextvar_new("v");
    aio_contextvar *w = aio_contextvar_new("w");
    aio_contextvar_token *t = aio_contextvar_set(v, P(1));
    assert_int_equal(aio_contextvar_reset(w, t), -1);
    char expected[256];
    snprintf(expected, sizeof expected,
             "<Token var=<ContextVar name='v' at %p> at %p> was created by a different "
             "ContextVar",
             (void *)v, (void *)t);
    assert_raised(aio_ValueError, expected);
    /* nothing changed, and the token is still usable */
    assert_int_equal(value_of(v), 1);
    assert_int_equal(aio_contextvar_reset(v, t), 0);
    assert_int_equal(value_of(v), -1);

    /* Used and of another variable: "used" is checked first (RuntimeError). */
    assert_int_equal(aio_contextvar_reset(w, t), -1);
    snprintf(expected, sizeof expected,
             "<Token used var=<ContextVar name='v' at %p> at %p> has already been used once",
             (void *)v, (void *)t);
    assert_raised(aio_RuntimeError, expected);
    aio_decref(t);
    aio_decref(v);
    aio_decref(w);
    assert_no_leaks();
}

typedef struct reset_probe {
    aio_contextvar *var;
    aio_contextvar *other;
    aio_contextvar_token *token;
    char err1[512];
    char err2[512];
    long seen;
} reset_probe;

static void record_error(char *out, size_t size)
{
    aio_exc *exc = aio_err_fetch();
    if (exc == NULL) {
        snprintf(out, size, "no error");
        return;
    }
    snprintf(out, size, "%s: %s", aio_exc_type_of(exc)->name, aio_exc_str(exc));
    aio_decref(exc);
}

static void reset_in_other_context(void *arg)
{
    reset_probe *p = arg;
    p->seen = value_of(p->var); /* the copy sees the value */
    aio_contextvar_reset(p->var, p->token);
    record_error(p->err1, sizeof p->err1);
    /* another var and another context: the variable is checked first */
    aio_contextvar_reset(p->other, p->token);
    record_error(p->err2, sizeof p->err2);
}
AIO_NAME_CALLBACK(reset_in_other_context);

static void test_token_other_context(void **state)
{
    (void)state;
    reset_probe p = {0};
    p.var = aio_contextvar_new("v");
    p.other = aio_contextvar_new("w");
    p.token = aio_contextvar_set(p.var, P(1));
    aio_context *ctx = aio_copy_context();
    assert_int_equal(aio_context_run(ctx, reset_in_other_context, &p), 0);
    assert_int_equal(p.seen, 1);
    char expected[512];
    snprintf(expected, sizeof expected,
             "ValueError: <Token var=<ContextVar name='v' at %p> at %p> was created in a "
             "different Context",
             (void *)p.var, (void *)p.token);
    assert_string_equal(p.err1, expected);
    snprintf(expected, sizeof expected,
             "ValueError: <Token var=<ContextVar name='v' at %p> at %p> was created by a "
             "different ContextVar",
             (void *)p.var, (void *)p.token);
    assert_string_equal(p.err2, expected);
    /* Back in the original context the token works. */
    assert_int_equal(aio_contextvar_reset(p.var, p.token), 0);
    assert_int_equal(value_of(p.var), -1);
    /* The copy still has the value. */
    void *value = NULL;
    assert_int_equal(aio_context_get(ctx, p.var, &value), 1);
    assert_ptr_equal(value, P(1));
    aio_decref(ctx);
    aio_decref(p.token);
    aio_decref(p.var);
    aio_decref(p.other);
    assert_no_leaks();
}

/* --- Context ---------------------------------------------------------------- */

static aio_contextvar *g_var;

static void set_to_2(void *arg)
{
    (void)arg;
    set_contextvar(g_var, 2);
}
AIO_NAME_CALLBACK(set_to_2);

static void read_into(void *arg)
{
    *(long *)arg = value_of(g_var);
}
AIO_NAME_CALLBACK(read_into);

static void test_copy_context_isolation(void **state)
{
    (void)state;
    g_var = aio_contextvar_new("v");
    set_contextvar(g_var, 1);
    aio_context *copy = aio_copy_context();
    assert_int_equal(aio_context_len(copy), 1);

    /* Changes inside run() stay in that context... */
    assert_int_equal(aio_context_run(copy, set_to_2, NULL), 0);
    assert_int_equal(value_of(g_var), 1);
    /* ...and persist there. */
    long seen = 0;
    assert_int_equal(aio_context_run(copy, read_into, &seen), 0);
    assert_int_equal(seen, 2);
    void *value = NULL;
    assert_int_equal(aio_context_get(copy, g_var, &value), 1);
    assert_ptr_equal(value, P(2));
    assert_int_equal(aio_context_len(copy), 1);

    /* Changing the outer context after the copy does not reach the copy. */
    set_contextvar(g_var, 3);
    assert_int_equal(aio_context_run(copy, read_into, &seen), 0);
    assert_int_equal(seen, 2);
    assert_int_equal(value_of(g_var), 3);

    /* A second copy is another context. */
    aio_context *copy2 = aio_copy_context();
    assert_ptr_not_equal(copy2, copy);
    assert_int_equal(aio_context_get(copy2, g_var, &value), 1);
    assert_ptr_equal(value, P(3));

    aio_decref(copy);
    aio_decref(copy2);
    aio_decref(g_var);
    assert_no_leaks();
}

static void test_context_new_empty_len_get(void **state)
{
    (void)state;
    g_var = aio_contextvar_new("v");
    aio_contextvar *w = aio_contextvar_new("w");
    set_contextvar(g_var, 1);
    aio_context *empty = aio_context_new();
    assert_int_equal(aio_context_len(empty), 0);
    void *value = P(42);
    assert_int_equal(aio_context_get(empty, g_var, &value), 0);
    assert_ptr_equal(value, P(42));

    /* Inside a new Context() nothing is set. */
    long seen = 0;
    assert_int_equal(aio_context_run(empty, read_into, &seen), 0);
    assert_int_equal(seen, -1);
    assert_int_equal(aio_context_run(empty, set_to_2, NULL), 0);
    assert_int_equal(aio_context_len(empty), 1);
    assert_int_equal(aio_context_get(empty, g_var, NULL), 1);
    assert_int_equal(aio_context_get(empty, w, NULL), 0);

    /* len counts variables, not sets. */
    aio_context *copy = aio_copy_context();
    assert_int_equal(aio_context_len(copy), 1);
    set_contextvar(g_var, 5);
    set_contextvar(w, 6);
    aio_decref(copy);
    copy = aio_copy_context();
    assert_int_equal(aio_context_len(copy), 2);

    /* NULL context or variable: nothing. */
    assert_int_equal(aio_context_len(NULL), 0);
    assert_int_equal(aio_context_get(NULL, g_var, NULL), 0);
    assert_int_equal(aio_context_get(copy, NULL, NULL), 0);
    assert_null(aio_err_occurred());

    aio_decref(copy);
    aio_decref(empty);
    aio_decref(w);
    aio_decref(g_var);
    assert_no_leaks();
}

typedef struct reenter_probe {
    aio_context *ctx;
    int rc;
    char err[256];
} reenter_probe;

static void reenter(void *arg)
{
    reenter_probe *p = arg;
    p->rc = aio_context_run(p->ctx, noop, NULL);
    record_error(p->err, sizeof p->err);
}
AIO_NAME_CALLBACK(reenter);

static void test_context_run_already_entered(void **state)
{
    (void)state;
    reenter_probe p = {0};
    p.ctx = aio_context_new();
    assert_int_equal(aio_context_run(p.ctx, reenter, &p), 0);
    assert_int_equal(p.rc, -1);
    char expected[256];
    snprintf(expected, sizeof expected,
             "RuntimeError: cannot enter context: <_contextvars.Context object at %p> is "
             "already entered",
             (void *)p.ctx);
    assert_string_equal(p.err, expected);
    /* and the repr of a context */
    char *repr = repr_of(p.ctx);
    snprintf(expected, sizeof expected, "<_contextvars.Context object at %p>", (void *)p.ctx);
    assert_string_equal(repr, expected);
    free(repr);
    /* Once run() returned it may be entered again. */
    assert_int_equal(aio_context_run(p.ctx, noop, NULL), 0);
    aio_decref(p.ctx);
    assert_no_leaks();
}

static void raise_value_error(void *arg)
{
    (void)arg;
    set_contextvar(g_var, 9);
    aio_err_set(aio_ValueError, "from fn");
}
AIO_NAME_CALLBACK(raise_value_error);

static void test_context_run_propagates_exception(void **state)
{
    (void)state;
    g_var = aio_contextvar_new("v");
    aio_context *ctx = aio_context_new();
    assert_int_equal(aio_context_run(ctx, raise_value_error, NULL), -1);
    assert_raised(aio_ValueError, "from fn");
    /* the change made before raising stays in ctx; the caller is out of it */
    assert_int_equal(aio_context_get(ctx, g_var, NULL), 1);
    assert_int_equal(value_of(g_var), -1);
    assert_int_equal(aio_context_run(ctx, noop, NULL), 0);

    /* Context.run(None) and Context.run(ctx, None) */
    assert_int_equal(aio_context_run(NULL, noop, NULL), -1);
    assert_raised(aio_TypeError, "descriptor 'run' for '_contextvars.Context' objects doesn't "
                                 "apply to a 'NoneType' object");
    assert_int_equal(aio_context_run(ctx, NULL, NULL), -1);
    assert_raised(aio_TypeError, "'NoneType' object is not callable");
    aio_decref(ctx);
    aio_decref(g_var);
    assert_no_leaks();
}

typedef struct nest_probe {
    aio_context *inner;
    long before, in_inner, after;
} nest_probe;

static void nest_outer(void *arg)
{
    nest_probe *p = arg;
    set_contextvar(g_var, 10);
    p->before = value_of(g_var);
    assert_int_equal(aio_context_run(p->inner, read_into, &p->in_inner), 0);
    p->after = value_of(g_var);
}
AIO_NAME_CALLBACK(nest_outer);

static void test_context_run_nested(void **state)
{
    (void)state;
    g_var = aio_contextvar_new("v");
    nest_probe p = {0};
    p.inner = aio_context_new();
    aio_context *outer = aio_context_new();
    assert_int_equal(aio_context_run(outer, nest_outer, &p), 0);
    assert_int_equal(p.before, 10);
    assert_int_equal(p.in_inner, -1);
    assert_int_equal(p.after, 10);
    assert_int_equal(value_of(g_var), -1);
    aio_decref(outer);
    aio_decref(p.inner);
    aio_decref(g_var);
    assert_no_leaks();
}

/* --- Handles run in the context captured when they were scheduled --------- */

static trace g_trace;

static void trace_value(void *arg)
{
    trace_add(&g_trace, "%s=%ld;", (const char *)arg, value_of(g_var));
}
AIO_NAME_CALLBACK(trace_value);

static void trace_and_set(void *arg)
{
    trace_add(&g_trace, "%s=%ld;", (const char *)arg, value_of(g_var));
    set_contextvar(g_var, 99);
}
AIO_NAME_CALLBACK(trace_and_set);

static void test_handles_capture_context(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    g_var = aio_contextvar_new("v");
    aio_loop *loop = aio_new_event_loop();
    assert_non_null(loop);

    set_contextvar(g_var, 1);
    assert_non_null(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){
                                                 .callback = trace_and_set, .args = "a"}));
    set_contextvar(g_var, 2);
    /* this one was scheduled with v=2, and does not see a's v=99 */
    assert_non_null(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){
                                                 .callback = trace_and_set, .args = "b"}));
    aio_contextvar_token *t = aio_contextvar_set(g_var, P(3));
    assert_non_null(aio_loop_call_later(loop, &(aio_loop_call_later_args){
                                                  .delay = 0, .callback = trace_value,
                                                  .args = "c"}));
    assert_int_equal(aio_contextvar_reset(g_var, t), 0);
    aio_decref(t);
    run_one_iteration(loop);
    assert_string_equal(g_trace.text, "a=1;b=2;c=3;");
    /* nothing leaked out into the caller's context */
    assert_int_equal(value_of(g_var), 2);

    assert_int_equal(aio_loop_close(loop), 0);
    aio_decref(loop);
    aio_decref(g_var);
    assert_no_leaks();
}

static void test_handles_explicit_context(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    g_var = aio_contextvar_new("v");
    aio_loop *loop = aio_new_event_loop();
    aio_context *ctx = aio_context_new();
    assert_int_equal(aio_context_run(ctx, set_to_2, NULL), 0);
    set_contextvar(g_var, 1);

    /* Both run in ctx: the first one's set is seen by the second, and stays in ctx. */
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){
                                 .callback = trace_and_set, .args = "x", .context = ctx});
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){
                                 .callback = trace_value, .args = "y", .context = ctx});
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = trace_value, .args = "z"});
    aio_loop_call_soon_threadsafe(loop, &(aio_loop_call_soon_threadsafe_args){
                                            .callback = trace_value, .args = "t",
                                            .context = ctx});
    run_one_iteration(loop);
    assert_string_equal(g_trace.text, "x=2;y=99;z=1;t=99;");
    void *value = NULL;
    assert_int_equal(aio_context_get(ctx, g_var, &value), 1);
    assert_ptr_equal(value, P(99));
    assert_int_equal(value_of(g_var), 1);

    assert_int_equal(aio_loop_close(loop), 0);
    aio_decref(loop);
    aio_decref(ctx);
    aio_decref(g_var);
    assert_no_leaks();
}

/* A callback that schedules another: the new one captures the callback's
 * context, including what the callback set. */
static aio_loop *g_loop;

static void set_and_schedule(void *arg)
{
    (void)arg;
    set_contextvar(g_var, 7);
    aio_loop_call_soon(g_loop, &(aio_loop_call_soon_args){.callback = trace_value, .args = "n"});
}
AIO_NAME_CALLBACK(set_and_schedule);

static void test_handle_scheduled_from_callback(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    g_var = aio_contextvar_new("v");
    g_loop = aio_new_event_loop();
    aio_loop_call_soon(g_loop, &(aio_loop_call_soon_args){.callback = set_and_schedule});
    aio_loop_call_soon(g_loop, &(aio_loop_call_soon_args){.callback = trace_value, .args = "o"});
    run_one_iteration(g_loop);
    assert_string_equal(g_trace.text, "o=-1;");
    run_one_iteration(g_loop);
    assert_string_equal(g_trace.text, "o=-1;n=7;");
    assert_int_equal(value_of(g_var), -1);
    aio_loop_close(g_loop);
    aio_decref(g_loop);
    aio_decref(g_var);
    assert_no_leaks();
}

/* A handle whose context is already entered fails like Context.run(). */
static aio_context *g_ctx;
static char g_never[] = "never";
static aio_exception_context g_seen;
static char g_seen_message[512];
static char g_seen_exc[512];
static int g_handler_calls;

static void record_handler(aio_loop *loop, const aio_exception_context *context, void *arg)
{
    (void)loop;
    (void)arg;
    g_handler_calls++;
    g_seen = *context;
    snprintf(g_seen_message, sizeof g_seen_message, "%s", context->message);
    repr_copy(context->exception, g_seen_exc, sizeof g_seen_exc);
}
AIO_NAME_CALLBACK(record_handler);

static void run_loop_inside_context(void *arg)
{
    aio_loop *loop = arg;
    /* ctx is entered now: a handle that runs in it cannot enter it */
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){
                                 .callback = trace_value, .args = g_never, .context = g_ctx});
    run_one_iteration(loop);
}
AIO_NAME_CALLBACK(run_loop_inside_context);

static void test_handle_context_already_entered(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    g_handler_calls = 0;
    g_var = aio_contextvar_new("v");
    aio_loop *loop = aio_new_event_loop();
    aio_loop_set_exception_handler(loop, record_handler, NULL);
    g_ctx = aio_context_new();
    assert_int_equal(aio_context_run(g_ctx, run_loop_inside_context, loop), 0);
    assert_string_equal(g_trace.text, "");
    assert_int_equal(g_handler_calls, 1);
    char expected[512];
    snprintf(expected, sizeof expected, "Exception in callback trace_value(%p)",
             (void *)g_never);
    assert_string_equal(g_seen_message, expected);
    snprintf(expected, sizeof expected,
             "RuntimeError('cannot enter context: <_contextvars.Context object at %p> is "
             "already entered')",
             (void *)g_ctx);
    assert_string_equal(g_seen_exc, expected);
    aio_loop_close(loop);
    aio_decref(loop);
    aio_decref(g_ctx);
    aio_decref(g_var);
    assert_no_leaks();
}

/* --- Threads have contexts of their own --------------------------------- */

typedef struct thread_probe {
    long seen_at_start;
    long seen_after_set;
    long seen_in_copy;
} thread_probe;

static void *thread_main(void *arg)
{
    thread_probe *p = arg;
    p->seen_at_start = value_of(g_var);
    set_contextvar(g_var, 20);
    p->seen_after_set = value_of(g_var);
    aio_context *copy = aio_copy_context();
    void *value = NULL;
    p->seen_in_copy = aio_context_get(copy, g_var, &value) ? (long)(uintptr_t)value : -1;
    aio_decref(copy);
    /* The thread's value is left set: its context map is freed at thread exit. */
    return NULL;
}

static void test_threads_have_separate_contexts(void **state)
{
    (void)state;
    g_var = aio_contextvar_new("v");
    set_contextvar(g_var, 10);
    thread_probe p = {0};
    run_in_thread(thread_main, &p);
    assert_int_equal(p.seen_at_start, -1);
    assert_int_equal(p.seen_after_set, 20);
    assert_int_equal(p.seen_in_copy, 20);
    assert_int_equal(value_of(g_var), 10);
    aio_decref(g_var);
    assert_no_leaks();
}

/* Many sets and copies: maps are shared and released (ASan checks for leaks). */
static void test_context_maps_released(void **state)
{
    (void)state;
    enum { NVARS = 20 };
    aio_contextvar *vars[NVARS];
    aio_contextvar_token *tokens[NVARS];
    for (int i = 0; i < NVARS; i++) {
        char name[16];
        snprintf(name, sizeof name, "v%d", i);
        vars[i] = aio_contextvar_new(name);
    }
    aio_context *copies[NVARS];
    for (int i = 0; i < NVARS; i++) {
        tokens[i] = aio_contextvar_set(vars[i], P(i + 1));
        copies[i] = aio_copy_context();
        assert_int_equal(aio_context_len(copies[i]), (size_t)i + 1);
    }
    for (int i = 0; i < NVARS; i++) {
        void *value = NULL;
        assert_int_equal(aio_context_get(copies[NVARS - 1], vars[i], &value), 1);
        assert_ptr_equal(value, P(i + 1));
        assert_int_equal(aio_context_get(copies[0], vars[i], NULL), i == 0);
    }
    /* reset in reverse: back to empty */
    for (int i = NVARS - 1; i >= 0; i--)
        assert_int_equal(aio_contextvar_reset(vars[i], tokens[i]), 0);
    aio_context *now = aio_copy_context();
    assert_int_equal(aio_context_len(now), 0);
    aio_decref(now);
    for (int i = 0; i < NVARS; i++) {
        aio_decref(tokens[i]);
        aio_decref(copies[i]);
        aio_decref(vars[i]);
    }
    assert_no_leaks();
}

/* A callback scheduled with context= that cancels its own handle while it
 * runs: the handle drops its reference to the context, which must stay
 * alive (and entered) until the callback returns. The test holds no
 * reference of its own, so the handle's is the last one. */
static aio_handle *g_own_handle;

static void cancel_own_handle_then_use_context(void *arg)
{
    (void)arg;
    aio_handle_cancel(g_own_handle);
    set_contextvar(g_var, 5);         /* writes into the running context */
    trace_add(&g_trace, "v=%ld;", value_of(g_var));
}
AIO_NAME_CALLBACK(cancel_own_handle_then_use_context);

static void test_context_callback_cancels_own_handle(void **state)
{
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    g_var = aio_contextvar_new("v");
    aio_loop *loop = aio_new_event_loop();
    aio_context *ctx = aio_context_new();
    g_own_handle = aio_loop_call_soon(loop, &(aio_loop_call_soon_args){
        .callback = cancel_own_handle_then_use_context, .context = ctx});
    assert_non_null(g_own_handle);
    aio_decref(ctx); /* the handle holds the only reference */
    run_one_iteration(loop);
    assert_string_equal(g_trace.text, "v=5;");
    assert_int_equal(value_of(g_var), -1); /* the outer context is untouched */
    assert_int_equal(aio_loop_close(loop), 0);
    aio_decref(loop);
    aio_decref(g_var);
    assert_no_leaks();
}

/* Variables set out of their creation order, read back, and reset from
 * the middle of the map; a copy taken between keeps what it saw. Then the
 * same at scale, against a plain array. */
static void test_contextvars_out_of_order(void **state)
{
    (void)state;
    aio_contextvar *a = aio_contextvar_new("a");
    aio_contextvar *b = aio_contextvar_new("b");
    aio_contextvar *c = aio_contextvar_new("c");
    aio_contextvar_token *tb = aio_contextvar_set(b, P(2));
    aio_contextvar_token *ta = aio_contextvar_set(a, P(1));
    aio_contextvar_token *tc = aio_contextvar_set(c, P(3));
    assert_int_equal(value_of(b), 2);
    assert_int_equal(value_of(a), 1);
    assert_int_equal(value_of(c), 3);
    aio_context *snapshot = aio_copy_context();
    assert_int_equal(aio_context_len(snapshot), 3);
    /* Remove from the middle: a, then b (set first). */
    assert_int_equal(aio_contextvar_reset(a, ta), 0);
    assert_int_equal(value_of(a), -1);
    assert_int_equal(value_of(b), 2);
    assert_int_equal(value_of(c), 3);
    assert_int_equal(aio_contextvar_reset(b, tb), 0);
    assert_int_equal(value_of(b), -1);
    assert_int_equal(value_of(c), 3);
    void *value = NULL;
    assert_int_equal(aio_context_get(snapshot, a, &value), 1);
    assert_ptr_equal(value, P(1));
    assert_int_equal(aio_context_get(snapshot, b, &value), 1);
    assert_ptr_equal(value, P(2));
    assert_int_equal(aio_contextvar_reset(c, tc), 0);
    aio_decref(ta);
    aio_decref(tb);
    aio_decref(tc);
    aio_decref(snapshot);
    aio_decref(a);
    aio_decref(b);
    aio_decref(c);

    enum { N = 600 };
    aio_contextvar *vars[N];
    long model[N], before_set[N];
    aio_contextvar_token *tokens[N] = {0};
    for (int i = 0; i < N; i++) {
        char name[16];
        snprintf(name, sizeof name, "v%d", i);
        vars[i] = aio_contextvar_new(name);
        model[i] = before_set[i] = -1;
    }
    uint32_t x = 12345;
    for (int step = 0; step < 20000; step++) {
        x = x * 1103515245u + 12345u;
        int i = (int)((x >> 8) % N);
        if ((x >> 4) % 3 != 0 || tokens[i] == NULL) {
            /* set(): the token kept is the latest, so a reset gives back
             * what was there just before this set. */
            aio_decref(tokens[i]);
            tokens[i] = aio_contextvar_set(vars[i], P(step + 1));
            assert_non_null(tokens[i]);
            before_set[i] = model[i];
            model[i] = step + 1;
        } else {
            assert_int_equal(aio_contextvar_reset(vars[i], tokens[i]), 0);
            aio_decref(tokens[i]);
            tokens[i] = NULL;
            model[i] = before_set[i];
        }
        assert_int_equal(value_of(vars[i]), model[i]);
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(value_of(vars[i]), model[i]);
    for (int i = 0; i < N; i++) {
        if (tokens[i] != NULL)
            aio_decref(tokens[i]);
        aio_decref(vars[i]);
    }
    check_no_exception();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_context_callback_cancels_own_handle, enter_fresh_context, leave_fresh_context),
    cmocka_unit_test_setup_teardown(test_contextvars_out_of_order, enter_fresh_context, leave_fresh_context),
    cmocka_unit_test_setup_teardown(test_contextvar_new_name_repr, enter_fresh_context, leave_fresh_context),
    cmocka_unit_test_setup_teardown(test_contextvar_bad_arguments, enter_fresh_context, leave_fresh_context),
    cmocka_unit_test_setup_teardown(test_contextvar_get_without_value, enter_fresh_context, leave_fresh_context),
    cmocka_unit_test_setup_teardown(test_contextvar_default, enter_fresh_context, leave_fresh_context),
    cmocka_unit_test_setup_teardown(test_contextvar_get_or, enter_fresh_context, leave_fresh_context),
    cmocka_unit_test_setup_teardown(test_contextvar_set_reset, enter_fresh_context, leave_fresh_context),
    cmocka_unit_test_setup_teardown(test_token_reuse, enter_fresh_context, leave_fresh_context),
    cmocka_unit_test_setup_teardown(test_token_other_var, enter_fresh_context, leave_fresh_context),
    cmocka_unit_test_setup_teardown(test_token_other_context, enter_fresh_context, leave_fresh_context),
    cmocka_unit_test_setup_teardown(test_copy_context_isolation, enter_fresh_context, leave_fresh_context),
    cmocka_unit_test_setup_teardown(test_context_new_empty_len_get, enter_fresh_context, leave_fresh_context),
    cmocka_unit_test_setup_teardown(test_context_run_already_entered, enter_fresh_context, leave_fresh_context),
    cmocka_unit_test_setup_teardown(test_context_run_propagates_exception, enter_fresh_context, leave_fresh_context),
    cmocka_unit_test_setup_teardown(test_context_run_nested, enter_fresh_context, leave_fresh_context),
    cmocka_unit_test_setup_teardown(test_handles_capture_context, enter_fresh_context, leave_fresh_context),
    cmocka_unit_test_setup_teardown(test_handles_explicit_context, enter_fresh_context, leave_fresh_context),
    cmocka_unit_test_setup_teardown(test_handle_scheduled_from_callback, enter_fresh_context, leave_fresh_context),
    cmocka_unit_test_setup_teardown(test_handle_context_already_entered, enter_fresh_context, leave_fresh_context),
    cmocka_unit_test_setup_teardown(test_threads_have_separate_contexts, enter_fresh_context, leave_fresh_context),
    cmocka_unit_test_setup_teardown(test_context_maps_released, enter_fresh_context, leave_fresh_context),
};

AIO_TEST_MAIN(tests)
