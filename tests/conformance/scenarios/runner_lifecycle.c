/* asyncio.Runner: the loop is made on first use; run() runs coroutines one
 * after another on the same loop and in the runner's one context (a
 * context variable set by one run is seen by the next) unless context= is
 * given; a failing run leaves the runner usable; run() inside a running
 * loop, and anything after close(), is refused; close() cancels the tasks
 * left over and closes the loop; close() twice, or on a runner never used,
 * does nothing (the loop can still be made after it); debug= reaches the
 * loop; loop_factory= makes the loop. */
#include "conformance.h"

static aio_contextvar *var;
static aio_task *left;

static void show_raised(const char *label)
{
    print_raised(label);
}

static void *leftover(void *arg)
{
    (void)arg;
    if (aio_sleep(3600) < 0 && aio_err_matches(aio_CancelledError))
        printf("leftover cancelled at close\n");
    return NULL;
}
AIO_NAME_CALLBACK(leftover);

static void *first(void *arg)
{
    (void)arg;
    aio_contextvar_token *token = aio_contextvar_set(var, "first");
    CHECK(token);
    aio_decref(token);
    aio_loop *loop = aio_get_running_loop();
    left = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = leftover});
    CHECK(left);
    return "first result";
}
AIO_NAME_CALLBACK(first);

static void *second(void *arg)
{
    (void)arg;
    static char buf[64];
    snprintf(buf, sizeof buf, "second sees var=%s", (const char *)aio_contextvar_get_or(var, "unset"));
    return buf;
}
AIO_NAME_CALLBACK(second);

static void *failing(void *arg)
{
    (void)arg;
    if (aio_sleep(0) < 0)
        return NULL;
    aio_err_set(aio_ValueError, "failing");
    return NULL;
}
AIO_NAME_CALLBACK(failing);

static void *nested(void *arg)
{
    aio_runner *r = arg;
    if (aio_runner_run(r, second, NULL, NULL) == NULL)
        show_raised("run inside a loop");
    return "nested result";
}
AIO_NAME_CALLBACK(nested);

static aio_loop *made[4];
static int nmade;

static aio_loop *factory(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_new_event_loop();
    made[nmade++] = loop;
    return loop ? aio_incref(loop) : NULL;
}
AIO_NAME_CALLBACK(factory);

int main(void)
{
    var = aio_contextvar_new("var");
    CHECK(var);

    aio_runner *r = aio_runner_new(NULL);
    CHECK(r);
    CHECK(aio_runner_close(r) == 0);
    aio_loop *early = aio_runner_get_loop(r);
    CHECK(early);
    aio_incref(early);
    printf("close() before use does nothing: get_loop() makes the loop: %s\n",
           py_bool(!aio_loop_is_closed(early)));
    CHECK(aio_runner_close(r) == 0);
    printf("closed now: %s\n", py_bool(aio_loop_is_closed(early)));
    aio_decref(early);
    aio_decref(r);

    r = aio_runner_new(NULL);
    CHECK(r);
    CHECK(aio_runner_enter(r) == 0);
    aio_loop *loop = aio_runner_get_loop(r);
    CHECK(loop);
    aio_incref(loop);
    printf("loop made: %s %s\n", py_bool(aio_loop_is_closed(loop)), py_bool(aio_loop_get_debug(loop)));
    printf("%s\n", (const char *)aio_runner_run(r, first, NULL, NULL));
    printf("same loop: %s\n", py_bool(aio_runner_get_loop(r) == loop));
    printf("%s\n", (const char *)aio_runner_run(r, second, NULL, NULL));
    aio_context *ctx = aio_context_new();
    CHECK(ctx);
    printf("%s (context=)\n",
           (const char *)aio_runner_run(r, second, NULL, &(aio_runner_run_args){.context = ctx}));
    aio_decref(ctx);
    if (aio_runner_run(r, failing, NULL, NULL) == NULL)
        show_raised("run raised");
    printf("%s after a failure\n", (const char *)aio_runner_run(r, second, NULL, NULL));
    printf("%s\n", (const char *)aio_runner_run(r, nested, r, NULL));
    if (aio_runner_run(r, NULL, NULL, NULL) == NULL)
        show_raised("run(None)");
    CHECK(aio_runner_exit(r) == 0);
    printf("after the with: %s %s\n", py_bool(aio_loop_is_closed(loop)),
           py_bool(aio_future_cancelled(left)));
    aio_decref(left);
    aio_decref(loop);
    if (aio_runner_run(r, second, NULL, NULL) == NULL)
        show_raised("run after close");
    if (aio_runner_get_loop(r) == NULL)
        show_raised("get_loop after close");
    CHECK(aio_runner_close(r) == 0);
    printf("close twice: nothing\n");
    aio_decref(r);

    r = aio_runner_new(&(aio_runner_args){.debug = true});
    CHECK(r);
    CHECK(aio_runner_enter(r) == 0);
    printf("debug: %s\n", py_bool(aio_loop_get_debug(aio_runner_get_loop(r))));
    CHECK(aio_runner_exit(r) == 0);
    aio_decref(r);

    r = aio_runner_new(&(aio_runner_args){.loop_factory = factory});
    CHECK(r);
    CHECK(aio_runner_enter(r) == 0);
    printf("factory loop: %s %d\n", py_bool(aio_runner_get_loop(r) == made[0]), nmade);
    CHECK(aio_runner_exit(r) == 0);
    aio_decref(r);
    printf("factory loop closed: %s\n", py_bool(aio_loop_is_closed(made[0])));
    aio_decref(made[0]);
    aio_decref(var);
    CHECK(!aio_err_occurred());
    return 0;
}
