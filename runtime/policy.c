/* policy.c - the running loop, the module-level functions and the default
 * event loop policy (events.py, unix_events.py). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "casyncio/api.h"
#include "exc.h"
#include "impl.h"
#include "loop.h"

/* The process id, kept up to date across fork(): getpid() is a system call
 * in current glibc, and the running loop is looked up on every await. */
static pid_t process_id;
static pthread_once_t process_id_once = PTHREAD_ONCE_INIT;

static void refresh_process_id(void)
{
    process_id = getpid();
}

static void process_id_setup(void)
{
    refresh_process_id();
    pthread_atfork(NULL, NULL, refresh_process_id);
}

static inline pid_t current_pid(void)
{
    pthread_once(&process_id_once, process_id_setup);
    return process_id;
}

/* threading.main_thread(): the process's first thread. */
bool aio__in_main_thread(void)
{
    return (pid_t)syscall(SYS_gettid) == current_pid();
}

/* --- The running loop: per thread, tagged with the process id ------------ */

static _Thread_local aio_loop *running_loop;
static _Thread_local pid_t running_loop_pid;

aio_loop *aio__running_loop(void)
{
    if (running_loop != NULL && running_loop_pid == current_pid())
        return running_loop;
    return NULL;
}

void aio__set_running_loop(aio_loop *loop)
{
    running_loop = loop;
    running_loop_pid = loop ? current_pid() : 0;
}

aio_loop *aio__get_running_loop(void)
{
    aio_loop *loop = aio__running_loop();
    if (loop == NULL)
        aio_err_set(aio_RuntimeError, "no running event loop");
    return loop;
}

/* threading.current_thread().name: "MainThread", or "Dummy-N" for a
 * thread Python did not start, which is what every C thread is. */
static int dummy_counter;
static _Thread_local int dummy_number;

static void current_thread_name(char *buf, size_t size)
{
    if (aio__in_main_thread()) {
        snprintf(buf, size, "MainThread");
        return;
    }
    if (dummy_number == 0)
        dummy_number = __atomic_add_fetch(&dummy_counter, 1, __ATOMIC_RELAXED);
    snprintf(buf, size, "Dummy-%d", dummy_number);
}

/* --- The default policy ----------------------------------------------------- */

typedef struct thread_state {
    aio_loop *loop;
    bool set_called;
} thread_state;

typedef struct default_policy {
    aio_event_loop_policy base;
    pthread_key_t key;
} default_policy;

static void thread_state_free(void *ptr)
{
    thread_state *state = ptr;
    aio__decref(state->loop);
    free(state);
}

static thread_state *state_of(aio_event_loop_policy *self)
{
    default_policy *policy = (default_policy *)self;
    thread_state *state = pthread_getspecific(policy->key);
    if (state == NULL) {
        state = aio__calloc(1, sizeof *state);
        if (state != NULL)
            pthread_setspecific(policy->key, state);
    }
    return state;
}

static aio_loop *policy_new_event_loop(aio_event_loop_policy *self)
{
    (void)self;
    return aio__loop_new();
}

static void policy_set_event_loop(aio_event_loop_policy *self, aio_loop *loop)
{
    thread_state *state = state_of(self);
    if (state == NULL)
        return;
    state->set_called = true;
    aio_loop *old = state->loop;
    state->loop = aio_incref(loop);
    aio__decref(old);
}

static aio_loop *policy_get_event_loop(aio_event_loop_policy *self)
{
    thread_state *state = state_of(self);
    if (state == NULL)
        return NULL;
    if (state->loop == NULL && !state->set_called && aio__in_main_thread()) {
        aio_loop *loop = policy_new_event_loop(self);
        if (loop == NULL)
            return NULL;
        policy_set_event_loop(self, loop);
        aio__decref(loop); /* the policy keeps it */
    }
    if (state->loop == NULL) {
        char name[32];
        current_thread_name(name, sizeof name);
        aio_err_format(aio_RuntimeError, "There is no current event loop in thread '%s'.",
                       name);
        return NULL;
    }
    return state->loop;
}

static void *policy_get_child_watcher(aio_event_loop_policy *self)
{
    (void)self;
    aio_err_set(aio_NotImplementedError,
                "AbstractEventLoopPolicy.get_child_watcher() is not implemented yet");
    return NULL;
}

static void policy_set_child_watcher(aio_event_loop_policy *self, void *watcher)
{
    (void)self;
    (void)watcher;
    aio_err_set(aio_NotImplementedError,
                "AbstractEventLoopPolicy.set_child_watcher() is not implemented yet");
}

static default_policy *default_policy_new(void)
{
    default_policy *policy = aio__calloc(1, sizeof *policy);
    if (policy == NULL)
        return NULL;
    if (pthread_key_create(&policy->key, thread_state_free) != 0) {
        free(policy);
        aio_err_set(aio_MemoryError, NULL);
        return NULL;
    }
    policy->base.get_event_loop = policy_get_event_loop;
    policy->base.set_event_loop = policy_set_event_loop;
    policy->base.new_event_loop = policy_new_event_loop;
    policy->base.get_child_watcher = policy_get_child_watcher;
    policy->base.set_child_watcher = policy_set_child_watcher;
    return policy;
}

static void default_policy_free(default_policy *policy)
{
    /* Only this thread's state is released. Another thread's loop may be in
     * use in that thread, and references are not atomic, so its state is
     * left behind (a leak when a policy is replaced while other threads
     * hold loops through it). */
    thread_state *state = pthread_getspecific(policy->key);
    if (state != NULL) {
        pthread_setspecific(policy->key, NULL);
        thread_state_free(state);
    }
    pthread_key_delete(policy->key);
    free(policy);
}

/* --- The process-wide policy ------------------------------------------------ */

static pthread_mutex_t policy_lock = PTHREAD_MUTEX_INITIALIZER;
static aio_event_loop_policy *current_policy;
static default_policy *owned_default;  /* the default instance, when current */

aio_event_loop_policy *aio__get_event_loop_policy(void)
{
    pthread_mutex_lock(&policy_lock);
    if (current_policy == NULL) {
        owned_default = default_policy_new();
        current_policy = owned_default ? &owned_default->base : NULL;
    }
    aio_event_loop_policy *policy = current_policy;
    pthread_mutex_unlock(&policy_lock);
    return policy;
}

int aio__set_event_loop_policy(aio_event_loop_policy *policy)
{
    pthread_mutex_lock(&policy_lock);
    default_policy *old_default = owned_default;
    owned_default = NULL;
    current_policy = policy; /* NULL: a new default policy on next use */
    pthread_mutex_unlock(&policy_lock);
    if (old_default != NULL)
        default_policy_free(old_default);
    return 0;
}

/* --- Module functions --------------------------------------------------------- */

aio_loop *aio__get_event_loop(void)
{
    aio_loop *loop = aio__running_loop();
    if (loop != NULL)
        return loop;
    aio_event_loop_policy *policy = aio__get_event_loop_policy();
    if (policy == NULL)
        return NULL;
    if (policy->get_event_loop == NULL) {
        aio_err_set(aio_NotImplementedError, NULL); /* raise NotImplementedError */
        return NULL;
    }
    loop = policy->get_event_loop(policy);
    return aio_err_occurred() ? NULL : loop;
}

int aio__set_event_loop(aio_loop *loop)
{
    aio_event_loop_policy *policy = aio__get_event_loop_policy();
    if (policy == NULL)
        return -1;
    if (policy->set_event_loop == NULL) {
        aio_err_set(aio_NotImplementedError, NULL);
        return -1;
    }
    policy->set_event_loop(policy, loop);
    return aio_err_occurred() ? -1 : 0;
}

aio_loop *aio__new_event_loop(void)
{
    aio_event_loop_policy *policy = aio__get_event_loop_policy();
    if (policy == NULL)
        return NULL;
    if (policy->new_event_loop == NULL) {
        aio_err_set(aio_NotImplementedError, NULL);
        return NULL;
    }
    aio_loop *loop = policy->new_event_loop(policy);
    if (loop == NULL && !aio_err_occurred())
        aio_err_set(aio_RuntimeError, "the policy's new_event_loop() returned NULL");
    return loop;
}
