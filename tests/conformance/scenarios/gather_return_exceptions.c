/* gather(return_exceptions=True): every child's outcome lands in the result
 * list, in argument order: results, exception objects, and for a cancelled
 * child a new CancelledError built from the child's cancel message, so a
 * plain future cancelled with a message keeps it, while a task that ended by
 * letting its CancelledError propagate has no cancel message left (the list
 * holds CancelledError('')), unlike a task that cancelled itself and then
 * returned. The outer future completes one iteration after the last child,
 * never early on a failure, and is not cancelled by a cancelled child. */
#include "conformance.h"

static aio_loop *loop;
static int it;

static void tick(void *arg)
{
    (void)arg;
    it++;
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
}
AIO_NAME_CALLBACK(tick);

typedef struct spec {
    const char *name;
    int steps;
    const aio_exc_type *fail;
} spec;

static void *child(void *arg)
{
    spec *s = arg;
    for (int i = 0; i < s->steps; i++)
        if (aio_sleep(0) < 0)
            return NULL;
    if (s->fail != NULL) {
        printf("iteration %d %s raises %s\n", it, s->name, s->fail->name);
        aio_err_set(s->fail, s->name);
        return NULL;
    }
    printf("iteration %d %s returns\n", it, s->name);
    return (void *)s->name;
}
AIO_NAME_CALLBACK(child);

static void *self_cancelling(void *arg)
{
    (void)arg;
    aio_task_cancel(aio_current_task(NULL), "cancelled itself");
    return "dropped";
}
AIO_NAME_CALLBACK(self_cancelling);

/* repr() of a str without escapes: '...' unless it holds a quote. */
static void print_str_repr(const char *s)
{
    if (strchr(s, '\'') != NULL && strchr(s, '"') == NULL)
        printf("\"%s\"", s);
    else
        printf("'%s'", s);
}

static void describe(const aio_gather_item *item)
{
    if (item->exception != NULL) {
        printf("%s(", aio_exc_type_of(item->exception)->name);
        print_str_repr(aio_exc_str(item->exception));
        printf(")");
    } else {
        print_str_repr(item->result);
    }
    printf("\n");
}

static aio_task *create(aio_coroutine coro, spec *s, const char *name)
{
    aio_task *t = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = coro, .coro_arg = s, .name = name});
    CHECK(t);
    return t;
}

static void outer_done(aio_future *f, void *arg)
{
    (void)f, (void)arg;
    printf("iteration %d outer done\n", it);
}
AIO_NAME_CALLBACK(outer_done);

static void *main_coro(void *arg)
{
    (void)arg;
    aio_future *fut_ok = aio_loop_create_future(loop);
    aio_future *fut_cancelled = aio_loop_create_future(loop);
    spec s_ok = {"ok", 1, NULL}, s_value = {"value_error", 2, aio_ValueError},
         s_key = {"key_error", 1, aio_KeyError}, s_sleeper = {"sleeper", 100, NULL},
         s_never = {"never_started", 0, NULL};
    aio_task *ok = create(child, &s_ok, "ok");
    aio_task *value_error = create(child, &s_value, "value_error");
    aio_task *key_error = create(child, &s_key, "key_error");
    aio_task *sleeper = create(child, &s_sleeper, "sleeper");
    aio_task *never_started = create(child, &s_never, "never_started");
    aio_task_cancel(never_started, "before its first step");
    aio_task *myself = create(self_cancelling, NULL, "myself");
    aio_future *aws[] = {ok, value_error, fut_ok, key_error, sleeper, fut_cancelled,
                         never_started, myself};
    aio_future *outer = aio_gather(aws, 8, &(aio_gather_args){.return_exceptions = true});
    CHECK(outer);
    CHECK(aio_future_add_done_callback(outer, &(aio_future_add_done_callback_args){.callback = outer_done}) == 0);
    CHECK(aio_sleep(0) == 0);
    CHECK(aio_future_set_result(fut_ok, "from a future") == 0);
    aio_future_cancel(fut_cancelled, &(aio_future_cancel_args){.msg = "future message"});
    CHECK(aio_sleep(0) == 0);
    printf("iteration %d cancel sleeper: %s\n", it, py_bool(aio_task_cancel(sleeper, "sleeper message")));
    const aio_gather_list *results = aio_await(outer);
    CHECK(results);
    printf("iteration %d outer cancelled: %s\n", it, py_bool(aio_future_cancelled(outer)));
    for (size_t i = 0; i < results->len; i++) {
        printf("   ");
        describe(&results->items[i]);
    }
    if (aio_future_result(sleeper) == NULL && aio_err_matches(aio_CancelledError)) {
        aio_exc *e = aio_err_fetch();
        aio_gather_item item = {NULL, e};
        printf("sleeper.result() raises: ");
        describe(&item);
        aio_decref(e);
    }
    aio_decref(outer);
    for (size_t i = 0; i < 8; i++)
        aio_decref(aws[i]);
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    aio_task *m = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = main_coro});
    CHECK(m);
    aio_loop_run_until_complete(loop, m);
    CHECK(!aio_err_occurred());
    aio_decref(m);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
