/* asyncio.run() passes main's outcome on after the shutdown: an exception
 * raised by main comes out of run() once the leftover tasks have been
 * cancelled and finished; a main cancelled (here by itself) makes run()
 * raise CancelledError; asyncio.run() inside a running loop raises
 * RuntimeError (before any loop is made), and asyncio.run(None) ValueError
 * (after the runner made its loop, which it still shuts down). Tasks are
 * numbered on across runs: each run uses one number for main and two for
 * the shutdown steps, whatever main did; run(None) uses the two. */
#include "conformance.h"

static void attempt(const char *label, aio_coroutine main_fn)
{
    void *value = aio_run(main_fn, NULL, NULL);
    if (aio_err_occurred())
        print_raised(label);
    else if (value == (void *)42)
        printf("%s: returned 42\n", label);
    else
        printf("%s: returned %s\n", label, (const char *)value);
}

static const char *current_name(void)
{
    return aio_task_get_name(aio_current_task(NULL));
}

static void *leftover(void *arg)
{
    (void)arg;
    if (aio_sleep(3600) < 0)
        printf("leftover %s cancelled\n", current_name());
    return NULL;
}
AIO_NAME_CALLBACK(leftover);

static void *raising(void *arg)
{
    (void)arg;
    printf("raising main is %s\n", current_name());
    aio_task *t = aio_loop_create_task(aio_get_running_loop(), &(aio_loop_create_task_args){.coro = leftover});
    CHECK(t);
    aio_decref(t);
    if (aio_sleep(0) < 0)
        return NULL;
    aio_err_set(aio_ValueError, "main failed");
    return NULL;
}
AIO_NAME_CALLBACK(raising);

static void *self_cancelling(void *arg)
{
    (void)arg;
    printf("self-cancelling main is %s\n", current_name());
    aio_task_cancel(aio_current_task(NULL), "main cancelled itself");
    aio_sleep(0);
    return NULL;
}
AIO_NAME_CALLBACK(self_cancelling);

static void *nested_inner(void *arg)
{
    (void)arg;
    return "never";
}
AIO_NAME_CALLBACK(nested_inner);

static void *nesting(void *arg)
{
    (void)arg;
    printf("nesting main is %s\n", current_name());
    if (aio_run(nested_inner, NULL, NULL) == NULL && aio_err_matches(aio_RuntimeError))
        print_raised("nested run");
    return "nesting done";
}
AIO_NAME_CALLBACK(nesting);

static void *plain(void *arg)
{
    (void)arg;
    printf("plain main is %s\n", current_name());
    return (void *)42;
}
AIO_NAME_CALLBACK(plain);

int main(void)
{
    attempt("raising", raising);
    attempt("self-cancelling", self_cancelling);
    attempt("nesting", nesting);
    attempt("None", NULL);
    attempt("plain", plain);
    return 0;
}
