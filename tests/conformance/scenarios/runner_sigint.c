/* Runner.run() and SIGINT: the first Ctrl-C cancels the main task, and the
 * run raises KeyboardInterrupt once the task ends cancelled; a main task
 * that swallows the cancellation returns its result. The runner stays
 * usable, and SIGINT's handler is given back after each run. */
#include <signal.h>

#include "conformance.h"

static void *main_coro(void *arg)
{
    int swallow = arg != NULL;
    raise(SIGINT);
    if (aio_sleep(1) < 0 && aio_err_matches(aio_CancelledError)) {
        printf("main cancelled by the first SIGINT\n");
        if (!swallow)
            return NULL;
        aio_err_clear();
    }
    return "swallowed";
}
AIO_NAME_CALLBACK(main_coro);

static void *plain(void *arg)
{
    (void)arg;
    return "runner still usable";
}
AIO_NAME_CALLBACK(plain);

int main(void)
{
    /* Whatever SIGINT's disposition was inherited as (ignored in a
     * background job), start from the default, which the Runner replaces. */
    signal(SIGINT, SIG_DFL);
    aio_runner *r = aio_runner_new(NULL);
    CHECK(r);
    CHECK(aio_runner_enter(r) == 0);
    if (aio_runner_run(r, main_coro, NULL, NULL) == NULL && aio_err_matches(aio_KeyboardInterrupt)) {
        aio_err_clear();
        printf("run raised KeyboardInterrupt\n");
    }
    printf("%s\n", (const char *)aio_runner_run(r, main_coro, "swallow", NULL));
    printf("%s\n", (const char *)aio_runner_run(r, plain, NULL, NULL));
    CHECK(aio_runner_exit(r) == 0);
    aio_decref(r);
    struct sigaction sa;
    CHECK(sigaction(SIGINT, NULL, &sa) == 0);
    printf("default handler back: %s\n", py_bool(sa.sa_handler == SIG_DFL));
    CHECK(!aio_err_occurred());
    return 0;
}
