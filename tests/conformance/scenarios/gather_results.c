/* gather() without return_exceptions: the results come in argument order
 * whatever the completion order, a repeated awaitable is awaited once and
 * its result repeated; gather() of nothing is done at once with []. The
 * first exception is set on the outer future by its done callback (one
 * iteration after the child fails) and reaches the awaiting task one
 * iteration later; the other children keep running to completion, and an
 * exception raised by one of them later is marked retrieved (no 'never
 * retrieved' report). cancel() on the outer future once it is done returns
 * False and cancels nothing. */
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

static void handler(aio_loop *the_loop, const aio_exception_context *context, void *arg)
{
    (void)the_loop, (void)arg;
    printf("iteration %d handler: %s\n", it, context->message);
}
AIO_NAME_CALLBACK(handler);

typedef struct spec {
    const char *name;
    int steps;
    bool fail;
} spec;

static void *child(void *arg)
{
    spec *s = arg;
    for (int i = 0; i < s->steps; i++)
        if (aio_sleep(0) < 0)
            return NULL;
    if (s->fail) {
        printf("iteration %d %s raises\n", it, s->name);
        aio_err_set(aio_ValueError, s->name);
        return NULL;
    }
    printf("iteration %d %s returns\n", it, s->name);
    return (void *)s->name;
}
AIO_NAME_CALLBACK(child);

static aio_task *create(spec *s)
{
    aio_task *t = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = child, .coro_arg = s, .name = s->name});
    CHECK(t);
    return t;
}

static void set_result(void *arg)
{
    CHECK(aio_future_set_result(arg, "future") == 0);
}
AIO_NAME_CALLBACK(set_result);

static void *main_coro(void *arg)
{
    (void)arg;
    aio_future *empty = aio_gather(NULL, 0, NULL);
    CHECK(empty);
    const aio_gather_list *list = aio_future_result(empty);
    printf("iteration %d gather() done: %s result: %s\n", it, py_bool(aio_future_done(empty)),
           list->len == 0 ? "[]" : "?");
    aio_decref(empty);

    aio_future *fut = aio_loop_create_future(loop);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = set_result, .args = fut}));
    spec sa = {"a", 3, false}, sb = {"b", 1, false};
    aio_task *a = create(&sa), *b = create(&sb);
    aio_future *aws[] = {a, fut, b, a, fut};
    aio_future *g = aio_gather(aws, 5, NULL);
    CHECK(g);
    list = aio_await(g);
    CHECK(list);
    printf("iteration %d results: [", it);
    for (size_t i = 0; i < list->len; i++)
        printf("%s'%s'", i ? ", " : "", (const char *)list->items[i].result);
    printf("]\n");
    aio_decref(g);
    aio_decref(a);
    aio_decref(b);
    aio_decref(fut);

    spec s_slow = {"slow", 6, false}, s_bad = {"bad", 2, true}, s_worse = {"worse", 4, true};
    aio_task *slow = create(&s_slow), *bad = create(&s_bad), *worse = create(&s_worse);
    aio_future *children[] = {slow, bad, worse};
    aio_future *outer = aio_gather(children, 3, NULL);
    CHECK(outer);
    if (aio_await(outer) == NULL && aio_err_matches(aio_ValueError)) {
        printf("iteration %d ", it);
        print_raised("gather raised");
    }
    int cancelled = aio_future_cancel(outer, NULL);
    printf("iteration %d outer done: %s cancel: %s\n", it, py_bool(aio_future_done(outer)),
           py_bool(cancelled));
    printf("iteration %d pending children: [", it);
    int shown = 0;
    for (int i = 0; i < 3; i++)
        if (!aio_future_done(children[i]))
            printf("%s'%s'", shown++ ? ", " : "", aio_task_get_name(children[i]));
    printf("]\n");
    CHECK(aio_await(slow));
    printf("iteration %d slow result: %s worse cancelled: %s\n", it,
           (const char *)aio_future_result(slow), py_bool(aio_future_cancelled(worse)));
    aio_decref(outer);
    aio_decref(slow);
    aio_decref(bad);
    aio_decref(worse);
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    aio_loop_set_exception_handler(loop, handler, NULL);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    aio_task *m = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = main_coro});
    CHECK(m);
    aio_loop_run_until_complete(loop, m);
    CHECK(!aio_err_occurred());
    aio_decref(m);
    printf("closing\n");
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
