/* dlopen_test.c - casyncio loaded at run time, as a plugin host or Python
 * loads an extension: this program links neither casyncio nor its
 * dependencies.
 *
 *   dlopen_test lib build/libcasyncio.so       dlopen() the shared library,
 *                                              dlsym() the functions it uses
 *   dlopen_test plugin build/.../plugin.so     dlopen() a plugin with the
 *                                              static library linked in
 *   dlopen_test load PATH                      dlopen() only: exit status 0
 *                                              when it loads
 *
 * Each runs scenario.h's loop (callbacks, stop(), a task) on this thread and
 * on a new one, dlclose()s while that thread still lives, lets it end (the
 * library's thread-exit hooks run then), and does all of it once more. The
 * shared library is linked with -z nodelete (and the test plugin too), so
 * that dlclose() leaves it in place for such threads. With the library's
 * thread-locals in the initial-exec model, dlopen() needs room in the static
 * TLS block: run under GLIBC_TUNABLES=glibc.rtld.nns=1:
 * glibc.rtld.optional_static_tls=0, which leaves none, it fails with "cannot
 * allocate memory in static TLS block". */
#include <dlfcn.h>
#include <pthread.h>

#include "scenario.h"

static const char *path;
static int plugin_mode;

/* One function from the object, or NULL with a message. */
static void *resolve(void *handle, const char *name)
{
    dlerror();
    void *sym = dlsym(handle, name);
    if (sym == NULL)
        fprintf(stderr, "dlopen_test: dlsym(%s): %s\n", name, dlerror());
    return sym;
}

/* The scenario with the functions of the loaded object. */
static int run(void *handle, const char *who)
{
    if (plugin_mode) {
        int (*plugin_run)(const char *who);
        *(void **)&plugin_run = resolve(handle, "casyncio_plugin_run");
        return plugin_run == NULL ? -1 : plugin_run(who);
    }
    struct casyncio_api api;
    static const char *const names[] = {
        "aio_new_event_loop", "aio_loop_call_soon", "aio_loop_run_forever",
        "aio_loop_stop", "aio_loop_create_task", "aio_loop_run_until_complete",
        "aio_sleep", "aio_loop_close", "aio_decref", "aio_err_print",
    };
    void **slots[] = {
        (void **)&api.new_event_loop, (void **)&api.call_soon, (void **)&api.run_forever,
        (void **)&api.stop, (void **)&api.create_task, (void **)&api.run_until_complete,
        (void **)&api.sleep, (void **)&api.close, (void **)&api.decref, (void **)&api.err_print,
    };
    _Static_assert(sizeof names / sizeof *names == sizeof slots / sizeof *slots, "one each");
    _Static_assert(sizeof slots / sizeof *slots * sizeof(void (*)(void)) == sizeof api,
                   "every function of the table");
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if ((*slots[i] = resolve(handle, names[i])) == NULL)
            return -1;
    return scenario_run(&api, who);
}

/* A thread that runs the scenario, then waits for the main thread's word
 * before it ends: it ends after dlclose(), when the library's thread-exit
 * hooks (pthread keys) run. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static enum { RUNNING, RAN, FAILED, MAY_END } thread_state;

static void set_state(int state)
{
    pthread_mutex_lock(&lock);
    thread_state = state;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

static int wait_state(void)
{
    pthread_mutex_lock(&lock);
    while (thread_state == RUNNING)
        pthread_cond_wait(&changed, &lock);
    int state = thread_state;
    pthread_mutex_unlock(&lock);
    return state;
}

static void *thread_main(void *handle)
{
    set_state(run(handle, plugin_mode ? "plugin, thread" : "dlopen, thread") < 0 ? FAILED : RAN);
    pthread_mutex_lock(&lock);
    while (thread_state != MAY_END)
        pthread_cond_wait(&changed, &lock);
    pthread_mutex_unlock(&lock);
    return NULL;
}

static int load_run_unload(int round)
{
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        fprintf(stderr, "dlopen_test: dlopen: %s\n", dlerror());
        return -1;
    }
    if (run(handle, plugin_mode ? "plugin" : "dlopen") < 0)
        return -1;
    pthread_t thread;
    thread_state = RUNNING;
    if (pthread_create(&thread, NULL, thread_main, handle) != 0) {
        fprintf(stderr, "dlopen_test: pthread_create failed\n");
        return -1;
    }
    int state = wait_state();
    int closed = dlclose(handle);
    set_state(MAY_END);
    pthread_join(thread, NULL);
    if (state == FAILED)
        return -1;
    if (closed != 0) {
        fprintf(stderr, "dlopen_test: dlclose: %s\n", dlerror());
        return -1;
    }
    handle = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    printf("dlopen_test: round %d: %s: loaded, ran on two threads, dlclose()d, a thread ended "
           "after it; %s\n", round, path,
           handle != NULL ? "the object stays (NODELETE)" : "the object is unloaded");
    if (handle != NULL)
        dlclose(handle);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "lib") != 0 && strcmp(argv[1], "plugin") != 0 &&
                      strcmp(argv[1], "load") != 0)) {
        fprintf(stderr, "usage: dlopen_test lib|plugin|load PATH\n");
        return 2;
    }
    plugin_mode = strcmp(argv[1], "plugin") == 0;
    path = argv[2];
    if (strcmp(argv[1], "load") == 0) {
        if (dlopen(path, RTLD_NOW | RTLD_LOCAL) != NULL)
            return 0;
        printf("dlopen_test: %s\n", dlerror());
        return 1;
    }
    for (int round = 1; round <= 2; round++)
        if (load_run_unload(round) < 0)
            return 1;
    return 0;
}
