/* asyncio.run(main()): main runs as a task (Task-1 in a fresh process) on a
 * new loop; its result is returned. Tasks still pending when main returns
 * are cancelled and awaited: each sees CancelledError at its await and may
 * still await during its cleanup; one that swallows the cancellation and
 * returns is fine; one that ends with another exception is reported to the
 * loop's exception handler as 'unhandled exception during asyncio.run()
 * shutdown'. Shutdown then runs shutdown_asyncgens() and
 * shutdown_default_executor() (one task and two iterations each), so a chain
 * of callbacks started during cleanup runs a fixed number of times before
 * the loop closes. Output of the leftovers is sorted, since asyncio.run()
 * cancels them in set order. */
#include "conformance.h"

static char *events[64];
static size_t n_events;
static int chain;

static void record(const char *fmt, const char *a, const char *b, int n)
{
    char buf[256];
    snprintf(buf, sizeof buf, fmt, a, b, n);
    CHECK(n_events < 64);
    events[n_events++] = strdup(buf);
}

static void handler(aio_loop *loop, const aio_exception_context *context, void *arg)
{
    (void)loop, (void)arg;
    record("handler: %s %s", context->message, aio_exc_type_of(context->exception)->name, 0);
}
AIO_NAME_CALLBACK(handler);

static void link(void *arg)
{
    (void)arg;
    chain++;
    CHECK(aio_loop_call_soon(aio_get_running_loop(), &(aio_loop_call_soon_args){.callback = link}));
}
AIO_NAME_CALLBACK(link);

typedef struct spec {
    const char *name;
    const char *how;
} spec;

static void *leftover(void *arg)
{
    spec *s = arg;
    if (aio_sleep(3600) == 0)
        return NULL;
    aio_exc *e = aio_err_fetch();
    record("%s cancelled: %s, cancelling %d", s->name, exc_line(e),
           aio_task_cancelling(aio_current_task(NULL)));
    if (aio_sleep(0) < 0) {
        aio_decref(e);
        return NULL;
    }
    record("%s cleanup awaited%s", s->name, "", 0);
    if (strcmp(s->how, "swallow") == 0) {
        aio_decref(e);
        return (void *)s->name;
    }
    if (strcmp(s->how, "chain") == 0)
        CHECK(aio_loop_call_soon(aio_get_running_loop(), &(aio_loop_call_soon_args){.callback = link}));
    if (strcmp(s->how, "fail") == 0) {
        aio_decref(e);
        aio_err_set(aio_KeyError, s->name);
        return NULL;
    }
    aio_err_restore(e);
    return NULL;
}
AIO_NAME_CALLBACK(leftover);

static spec specs[] = {
    {"plain", "raise"}, {"swallower", "swallow"}, {"failer", "fail"}, {"chainer", "chain"}};

static void *main_coro(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    aio_loop_set_exception_handler(loop, handler, NULL);
    printf("main is %s\n", aio_task_get_name(aio_current_task(NULL)));
    for (size_t i = 0; i < 4; i++) {
        aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){
                                                     .coro = leftover,
                                                     .coro_arg = &specs[i],
                                                     .name = specs[i].name});
        CHECK(t);
        aio_decref(t);
    }
    if (aio_sleep(0) < 0)
        return NULL;
    size_t n;
    aio_task **tasks = aio_all_tasks(NULL, &n);
    for (size_t i = 0; i < n; i++)
        aio_decref(tasks[i]);
    free(tasks);
    printf("main returns with %d tasks left\n", (int)n - 1);
    return "main result";
}
AIO_NAME_CALLBACK(main_coro);

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void *second(void *arg)
{
    (void)arg;
    printf("second main is %s\n", aio_task_get_name(aio_current_task(NULL)));
    return (void *)2;
}
AIO_NAME_CALLBACK(second);

int main(void)
{
    const char *r = aio_run(main_coro, NULL, NULL);
    CHECK(r);
    printf("asyncio.run returned: %s\n", r);
    qsort(events, n_events, sizeof events[0], compare_strings);
    for (size_t i = 0; i < n_events; i++) {
        printf("%s\n", events[i]);
        free(events[i]);
    }
    printf("chain callbacks run during shutdown: %d\n", chain);
    void *two = aio_run(second, NULL, NULL);
    CHECK(!aio_err_occurred());
    printf("second asyncio.run returned: %d\n", (int)(intptr_t)two);
    return 0;
}
