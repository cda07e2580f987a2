/* loop.shutdown_asyncgens() closes the async generators the loop saw first
 * iterated and that are still alive: a generator left suspended at a yield
 * gets aclose() in a task of its own (its finally block runs and may await);
 * a generator whose cleanup raises is reported to the exception handler
 * ('an error occurred during closing of asynchronous generator ...', keys
 * asyncgen/exception/message). Every generator still alive counts, even one
 * already exhausted or closed: each gets its own aclose() task (a no-op), so
 * the task numbers move on by one per generator; a generator never iterated
 * is not known to the loop. A second shutdown_asyncgens() has nothing left.
 * The closing tasks run in set order: their output is collected and sorted. */
#include "conformance.h"

static aio_loop *loop;
static char *events[16];
static size_t n_events;

static void record(const char *line)
{
    CHECK(n_events < 16);
    events[n_events++] = strdup(line);
}

static void handler(aio_loop *the_loop, const aio_exception_context *context, void *arg)
{
    (void)the_loop, (void)arg;
    static const char prefix[] = "an error occurred during closing of asynchronous generator";
    char line[4096];
    snprintf(line, sizeof line, "handler: %s %s ",
             py_bool(strncmp(context->message, prefix, sizeof prefix - 1) == 0),
             context_keys(context));
    strncat(line, exc_line(context->exception), sizeof line - strlen(line) - 1);
    record(line);
}
AIO_NAME_CALLBACK(handler);

static void *open_gen(aio_asyncgen *gen, void *arg)
{
    (void)arg;
    if (aio_yield(gen, "open 1") == 0)
        aio_yield(gen, "open 2");
    /* finally: */
    aio_exc *pending = aio_err_fetch();
    record("open_gen cleanup starts");
    if (aio_sleep(0) < 0) {
        aio_decref(pending);
        return NULL;
    }
    record("open_gen cleanup done");
    aio_err_restore(pending);
    return NULL;
}
AIO_NAME_CALLBACK(open_gen);

static void *bad_cleanup(aio_asyncgen *gen, void *arg)
{
    (void)arg;
    aio_yield(gen, "bad 1");
    /* finally: raise KeyError, replacing what was pending */
    aio_err_clear();
    record("bad_cleanup raises");
    aio_err_set(aio_KeyError, "cleanup failed");
    return NULL;
}
AIO_NAME_CALLBACK(bad_cleanup);

static void *short_gen(aio_asyncgen *gen, void *arg)
{
    (void)arg;
    aio_yield(gen, "short 1");
    return NULL;
}
AIO_NAME_CALLBACK(short_gen);

static void *untouched(aio_asyncgen *gen, void *arg)
{
    (void)arg;
    printf("untouched runs (it must not)\n");
    aio_yield(gen, "never");
    return NULL;
}
AIO_NAME_CALLBACK(untouched);

static void *name_of_a_new_task(void *arg)
{
    (void)arg;
    static char name[32]; /* the task's own string goes with the task */
    snprintf(name, sizeof name, "%s", aio_task_get_name(aio_current_task(NULL)));
    return name;
}
AIO_NAME_CALLBACK(name_of_a_new_task);

static aio_asyncgen *kept[5];

static aio_asyncgen *make(aio_asyncgen_func fn)
{
    aio_asyncgen *g = aio_asyncgen_new(fn, NULL, NULL);
    CHECK(g);
    return g;
}

static void *main_coro(void *arg)
{
    (void)arg;
    aio_asyncgen *g = kept[0] = make(open_gen);
    printf("got %s\n", (const char *)aio_anext(g));
    aio_asyncgen *b = kept[1] = make(bad_cleanup);
    printf("got %s\n", (const char *)aio_anext(b));
    aio_asyncgen *s = kept[2] = make(short_gen);
    for (;;) {
        const char *v = aio_anext(s);
        if (v == NULL && aio_err_matches(aio_StopAsyncIteration)) {
            aio_err_clear();
            break;
        }
        printf("got %s\n", v);
    }
    aio_asyncgen *c = kept[3] = make(short_gen);
    printf("got %s\n", (const char *)aio_anext(c));
    CHECK(aio_asyncgen_aclose(c) == 0);
    kept[4] = make(untouched);
    printf("main is %s\n", aio_task_get_name(aio_current_task(NULL)));
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

static void *run(aio_coroutine coro)
{
    aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = coro});
    CHECK(t);
    void *r = aio_loop_run_until_complete(loop, t);
    CHECK(!aio_err_occurred());
    aio_decref(t);
    return r;
}

static void shutdown_asyncgens(void)
{
    aio_future *f = aio_loop_shutdown_asyncgens(loop);
    CHECK(f);
    aio_loop_run_until_complete(loop, f);
    CHECK(!aio_err_occurred());
    aio_decref(f);
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    aio_loop_set_exception_handler(loop, handler, NULL);
    run(main_coro);
    printf("shutdown_asyncgens\n");
    shutdown_asyncgens();
    qsort(events, n_events, sizeof events[0], compare_strings);
    for (size_t i = 0; i < n_events; i++) {
        printf("%s\n", events[i]);
        free(events[i]);
    }
    printf("next task: %s\n", (const char *)run(name_of_a_new_task));
    printf("shutdown_asyncgens again\n");
    shutdown_asyncgens();
    printf("next task: %s\n", (const char *)run(name_of_a_new_task));
    aio_loop_close(loop);
    for (size_t i = 0; i < 5; i++)
        aio_decref(kept[i]);
    aio_decref(loop);
    return 0;
}
