/* The default policy's behaviours that change with the version, as the
 * target shows them: get_event_loop() creates the main thread's loop
 * without a warning; the child watcher is made on first use and kept, and
 * neither child watcher method warns; set_child_watcher() refuses what is
 * not a watcher (AssertionError) and set_event_loop() what is not a loop
 * (TypeError; AssertionError before 3.11), which still counts as having
 * called it; a worker thread of a ThreadPoolExecutor is named in
 * get_event_loop()'s error; an abstract policy's child watcher methods
 * raise NotImplementedError. */
#include "conformance.h"

/* warnings.simplefilter("always"), shown warnings collected. */
static char shown[2048];

static void collect(const aio_exc_type *category, const char *message, void *arg)
{
    (void)arg;
    size_t len = strlen(shown);
    snprintf(shown + len, sizeof shown - len, "%s%s: %s", len ? ", " : "", category->name,
             message);
}
AIO_NAME_CALLBACK(collect);

static const char *warned(void)
{
    static char text[sizeof shown];
    snprintf(text, sizeof text, "%s", shown[0] ? shown : "none");
    shown[0] = '\0';
    return text;
}

/* type(obj).__name__, from its repr "<module.Name object at 0x...>". */
static const char *class_name(const void *obj)
{
    static char buf[128];
    char *repr = aio_repr(obj);
    CHECK(repr != NULL);
    char *end = strstr(repr, " object at ");
    if (end != NULL)
        *end = '\0';
    const char *dot = strrchr(repr, '.');
    snprintf(buf, sizeof buf, "%s", dot != NULL ? dot + 1 : repr + 1);
    char *space = strchr(buf, ' ');
    if (space != NULL)
        *space = '\0';
    free(repr);
    return buf;
}

static void *no_loop(void *arg)
{
    char *out = arg;
    if (aio_get_event_loop() == NULL) {
        aio_exc *e = aio_err_fetch();
        snprintf(out, 1024, "%s", exc_line(e));
        aio_decref(e);
    }
    return out;
}
AIO_NAME_CALLBACK(no_loop);

int main(void)
{
    CHECK(aio_warnings_set_action(aio_Warning, AIO_WARN_ALWAYS) == 0);
    aio_warnings_set_handler(collect, NULL);

    aio_loop *loop = aio_get_event_loop();
    CHECK(loop != NULL);
    printf("implicit loop: %s | warnings: %s\n", class_name(loop), warned());
    printf("again the same: %s | warnings: %s\n", py_bool(aio_get_event_loop() == loop),
           warned());

    aio_event_loop_policy *policy = aio_get_event_loop_policy();
    aio_incref(policy);
    void *watcher = aio_get_child_watcher();
    CHECK(watcher != NULL);
    printf("child watcher: %s | warnings: %s\n", class_name(watcher), warned());
    bool kept = policy->get_child_watcher(policy) == watcher;
    printf("kept: %s | warnings: %s\n", py_bool(kept), warned());
    aio_incref(watcher); /* for the comparison below */
    CHECK(aio_set_child_watcher(NULL) == 0);
    printf("set None | warnings: %s\n", warned());
    void *again = aio_get_child_watcher();
    CHECK(again != NULL);
    printf("made again: %s %s | warnings: %s\n", class_name(again), py_bool(again != watcher),
           warned());
    aio_decref(watcher);
    if (aio_set_child_watcher(policy) < 0) {
        aio_exc *e = aio_err_fetch();
        printf("%s | warnings: %s\n", exc_line(e), warned());
        aio_decref(e);
    }
    printf("unchanged: %s\n", py_bool(aio_get_child_watcher() == again));
    CHECK(aio_set_child_watcher(NULL) == 0);
    warned();
    aio_loop_close(loop);

    CHECK(aio_set_event_loop_policy(NULL) == 0);
    if (aio_set_event_loop((aio_loop *)policy) < 0)
        printf("%s\n", exc_line(aio_err_occurred()));
    aio_err_clear();
    if (aio_get_event_loop() == NULL) {
        aio_exc *e = aio_err_fetch();
        printf("%s | warnings: %s\n", exc_line(e), warned());
        aio_decref(e);
    }
    aio_decref(policy);

    aio_executor *pool = aio_thread_pool_executor_new(
        &(aio_thread_pool_executor_args){.thread_name_prefix = "asyncio"});
    CHECK(pool != NULL);
    char out[1024] = "";
    aio_cfuture *f = aio_executor_submit(pool, no_loop, out);
    CHECK(f != NULL);
    CHECK(aio_cfuture_result(f, AIO_FOREVER) == out);
    aio_decref(f);
    printf("in a worker: %s\n", out);
    CHECK(aio_executor_shutdown(pool, true, false) == 0);
    aio_decref(pool);

    aio_event_loop_policy *abstract = aio_event_loop_policy_new(0);
    CHECK(abstract != NULL);
    CHECK(aio_set_event_loop_policy(abstract) == 0);
    aio_decref(abstract);
    if (aio_get_child_watcher() == NULL)
        print_raised("get_child_watcher");
    if (aio_set_child_watcher(NULL) < 0)
        print_raised("set_child_watcher");
    CHECK(aio_set_event_loop_policy(NULL) == 0);
    printf("warnings at the end: %s\n", warned());
    return 0;
}
