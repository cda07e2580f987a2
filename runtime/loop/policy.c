/* policy.c - the module-level functions and the default event loop policy
 * (events.py, unix_events.py). */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "casyncio/api.h"
#include "casyncio/policies.h"
#include "casyncio/warnings.h"
#include "exc.h"
#include "impl.h"
#include "loop.h"

/* threading.main_thread(): the process's first thread. */
bool aio__in_main_thread(void)
{
    return (pid_t)syscall(SYS_gettid) == aio__process_id();
}

/* threading.current_thread().name: "MainThread"; the name a thread was
 * given (an executor's workers, "asyncio_0", ...); else "Dummy-N", as
 * Python names a thread it did not start, which every other C thread is. */
static int dummy_counter;
static _Thread_local int dummy_number;
static _Thread_local char given_name[64];

void aio__set_thread_name(const char *name)
{
    snprintf(given_name, sizeof given_name, "%s", name != NULL ? name : "");
}

void aio__thread_name(char *buf, size_t size)
{
    if (aio__in_main_thread()) {
        snprintf(buf, size, "MainThread");
        return;
    }
    if (given_name[0] != '\0') {
        snprintf(buf, size, "%s", given_name);
        return;
    }
    if (dummy_number == 0)
        dummy_number = __atomic_add_fetch(&dummy_counter, 1, __ATOMIC_RELAXED);
    snprintf(buf, size, "Dummy-%d", dummy_number);
}

/* What the version a behaviour follows is: the running loop's, else the
 * process default. */
static bool target_at_least(int version)
{
    return aio__current_target_version() >= version;
}

/* --- Policy objects ------------------------------------------------------------ */

/* What the library keeps of a policy, just before the caller's struct
 * (whose first member is the object header). */
typedef struct policy_prefix {
    pthread_key_t key;      /* the default policy's per-thread state */
    void *watcher;          /* the default policy's child watcher, a reference */
    bool is_default;
    bool implicit;          /* made by get_event_loop_policy() itself */
    _Alignas(16) char struct_start[];
} policy_prefix;

static policy_prefix *prefix_of(aio_event_loop_policy *policy)
{
    return (policy_prefix *)((char *)policy - offsetof(policy_prefix, struct_start));
}

typedef struct thread_state {
    aio_loop *loop;
    bool set_called;
} thread_state;

static void thread_state_free(void *ptr)
{
    thread_state *state = ptr;
    aio__decref(state->loop);
    free(state);
}

static void policy_dealloc(void *obj)
{
    policy_prefix *prefix = prefix_of(obj);
    if (prefix->implicit)
        AIO__TRACK(1); /* it was never counted as a live object */
    if (prefix->is_default) {
        /* Only this thread's state is released. Another thread's loop may
         * be in use in that thread, and references are not atomic, so its
         * state is left behind (a leak when a policy is replaced while
         * other threads hold loops through it). */
        thread_state *state = pthread_getspecific(prefix->key);
        if (state != NULL) {
            pthread_setspecific(prefix->key, NULL);
            thread_state_free(state);
        }
        pthread_key_delete(prefix->key);
        aio__decref_atomic(prefix->watcher);
    }
    free(prefix);
}

static int policy_repr(const void *obj, aio__strbuf *out)
{
    const char *module = aio__type_of(obj)->name[0] == '_' ? "asyncio.unix_events"
                                                           : "asyncio.events";
    return aio__sb_appendf(out, "<%s.%s object at %p>", module, aio__type_of(obj)->name, obj);
}

AIO__DEFINE_TYPE(abstract_policy_type) = {"AbstractEventLoopPolicy", policy_dealloc,
                                          policy_repr, 0};
AIO__DEFINE_TYPE(default_policy_type) = {"_UnixDefaultEventLoopPolicy", policy_dealloc,
                                         policy_repr, 0};

static bool is_policy(const void *obj)
{
    return aio__is_object(obj) && (aio__type_of(obj) == &abstract_policy_type ||
                                   aio__type_of(obj) == &default_policy_type);
}

static aio_event_loop_policy *policy_alloc(size_t size, const aio__type *type)
{
    if (size == 0)
        size = sizeof(aio_event_loop_policy);
    if (size < sizeof(aio_event_loop_policy)) {
        aio_err_format(aio_ValueError, "a policy needs at least %zu bytes, not %zu",
                       sizeof(aio_event_loop_policy), size);
        return NULL;
    }
    if (size > SIZE_MAX / 2) {
        aio_err_set(aio_MemoryError, NULL);
        return NULL;
    }
    policy_prefix *prefix = aio__calloc(1, sizeof(policy_prefix) + size);
    if (prefix == NULL)
        return NULL;
    aio_event_loop_policy *policy = (aio_event_loop_policy *)prefix->struct_start;
    aio__object_init(policy, type);
    return policy;
}

aio_event_loop_policy *aio_event_loop_policy_new(size_t size)
{
    return policy_alloc(size, &abstract_policy_type);
}

/* --- The default policy (events.py: BaseDefaultEventLoopPolicy) ------------ */

static thread_state *state_of(aio_event_loop_policy *self)
{
    policy_prefix *prefix = prefix_of(self);
    thread_state *state = pthread_getspecific(prefix->key);
    if (state == NULL) {
        state = aio__calloc(1, sizeof *state);
        if (state != NULL && pthread_setspecific(prefix->key, state) != 0) {
            free(state);
            state = NULL;
            aio_err_set(aio_MemoryError, NULL);
        }
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
    /* Marked first: even a refused call stops the implicit loop. */
    state->set_called = true;
    if (loop != NULL && !aio__is_loop(loop)) {
        if (!target_at_least(AIO_PY(3, 11)))
            aio_err_set(aio_AssertionError, NULL); /* assert isinstance(loop, ...) */
        else if (aio__is_object(loop))
            aio_err_format(aio_TypeError, "loop must be an instance of AbstractEventLoop or "
                           "None, not '%s'", aio__type_of(loop)->name);
        else
            aio_err_set(aio_TypeError, "loop must be an instance of AbstractEventLoop or None, "
                        "not a plain struct (make one with aio_new_event_loop())");
        return;
    }
    aio_loop *old = state->loop;
    state->loop = aio_incref(loop);
    aio__decref(old);
}

/* self.new_event_loop() and self.set_event_loop(loop), through the fields,
 * so that a caller's overrides see the calls as a subclass's would. */
static aio_loop *call_new_event_loop(aio_event_loop_policy *self)
{
    if (self->new_event_loop == NULL) {
        aio_err_set(aio_NotImplementedError, NULL);
        return NULL;
    }
    aio_loop *loop = self->new_event_loop(self);
    if (loop == NULL && !aio_err_occurred())
        aio_err_set(aio_RuntimeError, "the policy's new_event_loop() returned NULL");
    return loop;
}

static int call_set_event_loop(aio_event_loop_policy *self, aio_loop *loop)
{
    if (self->set_event_loop == NULL) {
        aio_err_set(aio_NotImplementedError, NULL);
        return -1;
    }
    self->set_event_loop(self, loop);
    return aio_err_occurred() ? -1 : 0;
}

static aio_loop *policy_get_event_loop(aio_event_loop_policy *self)
{
    thread_state *state = state_of(self);
    if (state == NULL)
        return NULL;
    if (state->loop == NULL && !state->set_called && aio__in_main_thread()) {
        /* 3.12 and 3.13 warn first: under AIO_WARN_ERROR no loop is made. */
        if (target_at_least(AIO_PY(3, 12)) &&
            aio_warn(aio_DeprecationWarning, "There is no current event loop") < 0)
            return NULL;
        aio_loop *loop = call_new_event_loop(self);
        if (loop == NULL)
            return NULL;
        int rc = call_set_event_loop(self, loop);
        aio__decref(loop); /* the policy keeps it, if its set_event_loop() did */
        if (rc < 0)
            return NULL;
    }
    if (state->loop == NULL) {
        char name[80];
        aio__thread_name(name, sizeof name);
        aio_err_format(aio_RuntimeError, "There is no current event loop in thread '%s'.",
                       name);
        return NULL;
    }
    return state->loop;
}

/* --- Child watchers (unix_events.py) ---------------------------------------- */

/* A child watcher stands for the library's own reaping of children, which
 * the policy does not change: its class is the one CPython's policy would
 * make for the target version (SafeChildWatcher before 3.8,
 * ThreadedChildWatcher, PidfdChildWatcher from 3.12 where the kernel has
 * pidfds). Any thread may hold one, hence atomic references. */
typedef struct child_watcher {
    aio__object ob;
} child_watcher;

static void watcher_dealloc(void *obj)
{
    free(obj);
}

static int watcher_repr(const void *obj, aio__strbuf *out)
{
    return aio__sb_appendf(out, "<asyncio.unix_events.%s object at %p>", aio__type_of(obj)->name,
                           obj);
}

AIO__DEFINE_TYPE(safe_watcher_type) = {"SafeChildWatcher", watcher_dealloc, watcher_repr,
                                       AIO__TYPE_ATOMIC};
AIO__DEFINE_TYPE(threaded_watcher_type) = {"ThreadedChildWatcher", watcher_dealloc,
                                           watcher_repr, AIO__TYPE_ATOMIC};
AIO__DEFINE_TYPE(pidfd_watcher_type) = {"PidfdChildWatcher", watcher_dealloc, watcher_repr,
                                        AIO__TYPE_ATOMIC};

static bool is_child_watcher(const void *obj)
{
    if (!aio__is_object(obj))
        return false;
    const aio__type *type = aio__type_of(obj);
    return type == &safe_watcher_type || type == &threaded_watcher_type ||
           type == &pidfd_watcher_type;
}

/* unix_events.can_use_pidfd(): pidfd_open() works on this process. */
static bool can_use_pidfd(void)
{
#ifdef SYS_pidfd_open
    int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (fd < 0)
        return false;
    close(fd);
    return true;
#else
    return false;
#endif
}

static void *watcher_new(void)
{
    const aio__type *type = &threaded_watcher_type;
    if (!target_at_least(AIO_PY(3, 8)))
        type = &safe_watcher_type;
    else if (target_at_least(AIO_PY(3, 12)) && can_use_pidfd())
        type = &pidfd_watcher_type;
    child_watcher *watcher = aio__malloc(sizeof *watcher);
    if (watcher != NULL)
        aio__object_init(watcher, type);
    return watcher;
}

/* The default policy's watcher, shared by every thread. */
static pthread_mutex_t watcher_lock = PTHREAD_MUTEX_INITIALIZER;

static int warn_deprecated(const char *name)
{
    if (!target_at_least(AIO_PY(3, 12)))
        return 0;
    return aio_warn_format(aio_DeprecationWarning,
                           "'%s' is deprecated as of Python 3.12 and will be removed in "
                           "Python 3.14.", name);
}

static void *policy_get_child_watcher(aio_event_loop_policy *self)
{
    policy_prefix *prefix = prefix_of(self);
    pthread_mutex_lock(&watcher_lock);
    if (prefix->watcher == NULL)
        prefix->watcher = watcher_new();
    void *watcher = prefix->watcher;
    pthread_mutex_unlock(&watcher_lock);
    if (watcher == NULL || warn_deprecated("get_child_watcher") < 0)
        return NULL;
    return watcher;
}

static void policy_set_child_watcher(aio_event_loop_policy *self, void *watcher)
{
    if (watcher != NULL && !is_child_watcher(watcher)) {
        aio_err_set(aio_AssertionError, NULL); /* assert isinstance(watcher, ...) */
        return;
    }
    if (watcher != NULL)
        aio__incref_atomic(watcher);
    policy_prefix *prefix = prefix_of(self);
    pthread_mutex_lock(&watcher_lock);
    void *old = prefix->watcher;
    prefix->watcher = watcher;
    pthread_mutex_unlock(&watcher_lock);
    aio__decref_atomic(old); /* old.close(): nothing to stop, the library reaps */
    warn_deprecated("set_child_watcher");
}

aio_event_loop_policy *aio_default_event_loop_policy_new(size_t size)
{
    aio_event_loop_policy *policy = policy_alloc(size, &default_policy_type);
    if (policy == NULL)
        return NULL;
    policy_prefix *prefix = prefix_of(policy);
    if (pthread_key_create(&prefix->key, thread_state_free) != 0) {
        free(prefix);
        AIO__TRACK(-1);
        aio_err_set(aio_MemoryError, NULL);
        return NULL;
    }
    prefix->is_default = true;
    policy->get_event_loop = policy_get_event_loop;
    policy->set_event_loop = policy_set_event_loop;
    policy->new_event_loop = policy_new_event_loop;
    policy->get_child_watcher = policy_get_child_watcher;
    policy->set_child_watcher = policy_set_child_watcher;
    return policy;
}

/* --- The process-wide policy ------------------------------------------------ */

static pthread_mutex_t policy_lock = PTHREAD_MUTEX_INITIALIZER;
static aio_event_loop_policy *current_policy; /* a reference */

aio_event_loop_policy *aio__get_event_loop_policy(void)
{
    pthread_mutex_lock(&policy_lock);
    if (current_policy == NULL) {
        current_policy = aio_default_event_loop_policy_new(0);
        if (current_policy != NULL) {
            /* Process-wide state, as in Python: not a leak of whoever
             * happened to ask first (test builds count live objects). */
            prefix_of(current_policy)->implicit = true;
            AIO__TRACK(-1);
        }
    }
    aio_event_loop_policy *policy = current_policy;
    pthread_mutex_unlock(&policy_lock);
    return policy;
}

int aio__set_event_loop_policy(aio_event_loop_policy *policy)
{
    if (policy != NULL && !is_policy(policy)) {
        if (aio__is_object(policy) && aio__current_target_version() < AIO_PY(3, 11))
            aio_err_set(aio_AssertionError, NULL); /* up to 3.10 an assert statement */
        else if (aio__is_object(policy))
            aio_err_format(aio_TypeError, "policy must be an instance of "
                           "AbstractEventLoopPolicy or None, not '%s'",
                           aio__type_of(policy)->name);
        else
            aio_err_set(aio_TypeError, "policy must be an instance of AbstractEventLoopPolicy "
                        "or None, not a plain struct (make one with "
                        "aio_event_loop_policy_new() or aio_default_event_loop_policy_new())");
        return -1;
    }
    if (policy != NULL)
        aio__incref(policy);
    pthread_mutex_lock(&policy_lock);
    aio_event_loop_policy *old = current_policy;
    current_policy = policy; /* NULL: a new default policy on next use */
    pthread_mutex_unlock(&policy_lock);
    aio__decref(old);
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
    return policy != NULL ? call_set_event_loop(policy, loop) : -1;
}

aio_loop *aio__new_event_loop(void)
{
    aio_event_loop_policy *policy = aio__get_event_loop_policy();
    return policy != NULL ? call_new_event_loop(policy) : NULL;
}

void *aio__get_child_watcher(void)
{
    aio_event_loop_policy *policy = aio__get_event_loop_policy();
    if (policy == NULL)
        return NULL;
    if (policy->get_child_watcher == NULL) {
        aio_err_set(aio_NotImplementedError, NULL);
        return NULL;
    }
    void *watcher = policy->get_child_watcher(policy);
    return aio_err_occurred() ? NULL : watcher;
}

int aio__set_child_watcher(void *watcher)
{
    aio_event_loop_policy *policy = aio__get_event_loop_policy();
    if (policy == NULL)
        return -1;
    if (policy->set_child_watcher == NULL) {
        aio_err_set(aio_NotImplementedError, NULL);
        return -1;
    }
    policy->set_child_watcher(policy, watcher);
    return aio_err_occurred() ? -1 : 0;
}
