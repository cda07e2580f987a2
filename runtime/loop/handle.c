/* handle.c - asyncio.Handle and asyncio.TimerHandle. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "casyncio/api.h"
#include "exc.h"
#include "impl.h"
#include "loop.h"
#include "hot_memory.h"
#include "names.h"

/* --- Allocation ----------------------------------------------------------- */

_Static_assert(sizeof(aio_handle) <= AIO__POOL_BLOCK, "a handle fits a pool block");

/* Lets go of a boxed argument: released unless a one-shot callback took
 * it over. */
static void release_arg(aio_handle *handle)
{
    aio__arg_box *box = handle->arg;
    handle->arg = box->arg;
    handle->boxed = false;
    aio_release_func release = box->release;
    free(box);
    aio_exc *pending = aio_err_fetch(); /* the release runs clean */
    release(handle->arg);
    if (aio_err_occurred() != NULL)
        aio_err_clear(); /* nothing can take an exception from here */
    aio_err_restore(pending);
}

/* Drops the handle's context. */
static void handle_clear_context(aio_handle *handle)
{
    if (handle->has_context)
        aio__decref(handle->context);
    else
        aio__ctxmap_decref(handle->map);
    handle->map = NULL;
    handle->has_context = false;
}

/* Drops what the handle holds to run: its callback and argument. The
 * context stays (Handle.get_context() after cancel(), as in CPython). */
static void handle_clear(aio_handle *handle)
{
    if (handle->boxed)
        release_arg(handle);
    if (handle->kind == AIO__HANDLE_DONE_CALLBACK) {
        aio__decref(handle->future);
        handle->future = NULL;
    }
    handle->callback = NULL;
    if (!handle->repr_frozen)
        handle->arg = NULL;
}

static int handle_repr(const void *obj, aio__strbuf *out);
static void handle_dealloc(void *obj);
static void freed_dealloc(void *obj);
static int freed_repr(const void *obj, aio__strbuf *out);

AIO__DEFINE_TYPE(handle_type) = {"Handle", handle_dealloc, handle_repr, 0};
AIO__DEFINE_TYPE(timer_handle_type) = {"TimerHandle", handle_dealloc, handle_repr, 0};
AIO__DEFINE_TYPE(freed_handle_type) = {"Handle", freed_dealloc, freed_repr, AIO__TYPE_FREED};

/* --- Freed handles ----------------------------------------------------------------
 *
 * call_soon() and friends return borrowed handles, valid while the
 * callback is pending. A program that keeps the pointer and uses it after
 * the callback ran (Handle.cancel() after the fact is a harmless no-op in
 * Python) would act on freed memory, or on another callback's handle once
 * the pool reuses the block. So a freed handle keeps its callback, its
 * argument and a type that marks it freed: every handle function refuses
 * it with RuntimeError, naming it, and changes nothing. The pool reuses
 * blocks at once; in debug mode, and in sanitizer builds (where the pool is
 * bypassed), freed handles wait in a quarantine of the last few thousand
 * first, so that a stale use is caught long after the fact too. */

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define QUARANTINE_ALWAYS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define QUARANTINE_ALWAYS 1
#endif
#endif
#ifndef QUARANTINE_ALWAYS
#define QUARANTINE_ALWAYS 0
#endif

#define QUARANTINE_SIZE 4096

typedef struct quarantine {
    aio_handle *slots[QUARANTINE_SIZE];
    size_t next;
} quarantine;

static _Thread_local quarantine *this_quarantine;
static pthread_key_t quarantine_key;
static pthread_once_t quarantine_once = PTHREAD_ONCE_INIT;

static void quarantine_release(void *ptr)
{
    quarantine *q = ptr;
    for (size_t i = 0; i < QUARANTINE_SIZE; i++) {
        if (q->slots[i] != NULL)
            aio__pool_free(q->slots[i]);
    }
    free(q);
}

static void quarantine_key_init(void)
{
    pthread_key_create(&quarantine_key, quarantine_release);
}

/* Keeps a freed handle's block out of the pool for a while; frees the
 * block it evicts. Out of memory, the block goes straight back. */
static void quarantine_put(aio_handle *handle)
{
    quarantine *q = this_quarantine;
    if (q == NULL) {
        pthread_once(&quarantine_once, quarantine_key_init);
        q = calloc(1, sizeof *q);
        if (q == NULL || pthread_setspecific(quarantine_key, q) != 0) {
            free(q);
            aio__pool_free(handle);
            return;
        }
        this_quarantine = q;
    }
    aio_handle *evicted = q->slots[q->next];
    q->slots[q->next] = handle;
    q->next = (q->next + 1) % QUARANTINE_SIZE;
    if (evicted != NULL)
        aio__pool_free(evicted);
}

static void handle_dealloc(void *obj)
{
    aio_handle *handle = obj;
    /* What the freed handle keeps to name itself: no references. */
    aio_callback callback = handle->callback;
    void *arg = handle->repr_frozen ? NULL : aio__handle_arg(handle);
    handle_clear(handle);
    handle_clear_context(handle);
    if (handle->repr_frozen)
        free(handle->arg);
    handle->callback = callback;
    handle->arg = arg;
    handle->repr_frozen = false;
    handle->ob.type = &freed_handle_type;
    if (QUARANTINE_ALWAYS || handle->debug)
        quarantine_put(handle);
    else
        aio__pool_free(handle);
}

/* A freed handle is never freed again. */
static void freed_dealloc(void *obj)
{
    (void)obj;
}

static int freed_repr(const void *obj, aio__strbuf *out)
{
    const aio_handle *handle = obj;
    aio__sb_append(out, handle->is_timer ? "<freed TimerHandle " : "<freed Handle ");
    aio__format_callback(out, handle);
    return aio__sb_append(out, ">");
}

/* Refuses a handle that was freed: RuntimeError naming it. */
static int check_live(const aio_handle *handle, const char *method)
{
    if (AIO_LIKELY(handle->ob.type != &freed_handle_type))
        return 0;
    aio__strbuf sb = AIO__STRBUF_INIT;
    freed_repr(handle, &sb);
    aio_err_format(aio_RuntimeError,
                   "%s() called on %s, which was freed once its callback ran or was dropped: "
                   "keep a reference (aio_incref()) to use a handle after that",
                   method, sb.data ? sb.data : "a handle");
    aio__sb_free(&sb);
    return -1;
}

static aio_handle *handle_init(void *block, aio_loop *loop, unsigned char kind)
{
    aio_handle *handle = block;
    aio__object_init(handle, &handle_type);
    handle->loop = loop;
    handle->kind = kind;
    handle->cancelled = false;
    handle->scheduled = false;
    handle->is_timer = false;
    handle->repr_frozen = false;
    handle->boxed = false;
    handle->persistent = false;
    handle->debug = aio__loop_debug(loop); /* any thread (call_soon_threadsafe) */
    int version = loop->target_version; /* a field read: call_soon's path */
    handle->hide_args = !handle->debug && version >= AIO_PY(3, 13);
    handle->old_names = version < AIO_PY(3, 10);
    return handle;
}

static aio_handle *handle_alloc(aio_loop *loop, unsigned char kind)
{
    void *block = aio__pool_alloc();
    return block != NULL ? handle_init(block, loop, kind) : NULL;
}

aio_handle *aio__handle_new(aio_loop *loop, aio_callback callback, void *arg,
                            aio_context *context)
{
    aio_handle *handle = handle_alloc(loop, AIO__HANDLE_CALLBACK);
    if (handle == NULL)
        return NULL;
    handle->callback = callback;
    handle->arg = arg;
    handle->when = 0.0;
    if (context != NULL) {
        aio__incref(context);
        handle->context = context;
        handle->has_context = true;
    } else {
        handle->map = aio__ctxmap_capture();
        handle->has_context = false;
    }
    return handle;
}

void aio__handle_discard(aio_handle *handle)
{
    if (handle->boxed) {
        aio__arg_box *box = handle->arg;
        handle->arg = box->arg;
        handle->boxed = false;
        free(box);
    }
    aio__decref(handle);
}

aio_handle *aio__handle_new_owning(aio_loop *loop, aio_callback callback, void *arg,
                                   aio_release_func release, aio_context *context)
{
    if (release == NULL)
        return aio__handle_new(loop, callback, arg, context);
    aio__arg_box *box = aio__malloc(sizeof *box);
    if (box == NULL)
        return NULL;
    aio_handle *handle = aio__handle_new(loop, callback, box, context);
    if (handle == NULL) {
        free(box);
        return NULL;
    }
    box->arg = arg;
    box->release = release;
    handle->boxed = true;
    return handle;
}

static aio_handle *handle_make_done(aio_handle *handle, aio_done_callback fn,
                                    aio_future *future, void *arg, aio__ctxmap *map,
                                    aio_context *context)
{
    if (handle == NULL) {
        aio__ctxmap_decref(map);
        return NULL;
    }
    handle->done_callback = fn;
    handle->arg = arg;
    handle->future = aio_incref(future);
    if (context != NULL) {
        aio__ctxmap_decref(map);
        handle->context = aio_incref(context);
        handle->has_context = true;
    } else {
        handle->map = map;
        handle->has_context = false;
    }
    return handle;
}

aio_handle *aio__handle_new_done(aio_loop *loop, aio_done_callback fn, aio_future *future,
                                 void *arg, aio__ctxmap *map, aio_context *context)
{
    return handle_make_done(handle_alloc(loop, AIO__HANDLE_DONE_CALLBACK), fn, future, arg, map,
                            context);
}

aio_handle *aio__handle_new_done_in(void *block, aio_loop *loop, aio_done_callback fn,
                                    aio_future *future, void *arg, aio_context *context)
{
    return handle_make_done(handle_init(block, loop, AIO__HANDLE_DONE_CALLBACK), fn, future, arg,
                            NULL, context);
}

void aio__handle_make_timer(aio_handle *handle, double when)
{
    handle->ob.type = &timer_handle_type;
    handle->is_timer = true;
    handle->when = when;
}

/* --- repr ---------------------------------------------------------------- */

/* The name of fn and its registry flags (0 when nobody registered it). */
static unsigned append_function(aio__strbuf *out, void (*fn)(void))
{
    Dl_info info;
    void *address;
    memcpy(&address, &fn, sizeof address);
    if (address == NULL) {
        aio__sb_append(out, "None"); /* callback=None: "None(...)" */
        return 0;
    }
    int flags = aio__name_append(out, fn);
    if (flags >= 0)
        return (unsigned)flags;
    if (dladdr(address, &info) != 0 && info.dli_sname != NULL && info.dli_saddr == address)
        aio__sb_append(out, info.dli_sname);
    else
        aio__sb_appendf(out, "%p", address);
    return 0;
}

int aio__format_function(aio__strbuf *out, void (*fn)(void))
{
    append_function(out, fn);
    return out->failed ? -1 : 0;
}

int aio__format_callback(aio__strbuf *out, const aio_handle *handle)
{
    /* A cancelled handle has dropped its arguments (its `arg` may hold the
     * frozen repr instead). */
    const void *arg = handle->repr_frozen ? NULL : aio__handle_arg(handle);
    bool hide = handle->hide_args;
    if (handle->kind == AIO__HANDLE_DONE_CALLBACK) {
        void (*fn)(void) = (void (*)(void))handle->done_callback;
        aio__strbuf name = AIO__STRBUF_INIT;
        unsigned flags = append_function(&name, fn);
        if (flags & AIO__NAME_STEP) {
            aio__sb_appendf(out, "<%s object at %p>()", (name.data ? name.data : ""),
                            (const void *)handle->future);
            aio__sb_free(&name);
            return 0;
        }
        if ((flags & AIO__NAME_WAKEUP) && handle->old_names)
            aio__sb_appendf(out, "<" AIO__WAKEUP_WRAPPER_NAME " object at %p>", arg);
        else
            aio__sb_append(out, (name.data ? name.data : ""));
        aio__sb_free(&name);
        aio__sb_append(out, "(");
        if (hide)
            return aio__sb_append(out, ")");
        if (handle->future != NULL)
            aio__repr_into(handle->future, out);
        if (arg != NULL && !(flags & AIO__NAME_SELF_ARG)) {
            aio__sb_append(out, handle->future ? ", " : "");
            if (flags & AIO__NAME_ARG_OBJECT)
                aio__repr_into(arg, out);
            else
                aio__sb_appendf(out, "%p", arg);
        }
        return aio__sb_append(out, ")");
    }
    unsigned flags = append_function(out, (void (*)(void))handle->callback);
    if (hide || arg == NULL || (flags & AIO__NAME_SELF_ARG))
        return aio__sb_append(out, "()");
    if (flags & AIO__NAME_ARG_OBJECT) {
        aio__sb_append(out, "(");
        aio__repr_into(arg, out);
        return aio__sb_append(out, ")");
    }
    return aio__sb_appendf(out, "(%p)", arg);
}

void *aio__handle_logged_self(const aio_handle *handle)
{
    if (handle->repr_frozen)
        return NULL;
    bool done = handle->kind == AIO__HANDLE_DONE_CALLBACK;
    int flags = aio__name_append(NULL, done ? (void (*)(void))handle->done_callback
                                            : (void (*)(void))handle->callback);
    if (flags < 0 || !(flags & AIO__NAME_LOGGED_AS_SELF))
        return NULL;
    return (flags & AIO__NAME_STEP) ? (void *)handle->future : handle->arg;
}

static int handle_repr(const void *obj, aio__strbuf *out)
{
    const aio_handle *handle = obj;
    if (handle->repr_frozen)
        return aio__sb_append(out, handle->arg);
    aio__sb_append(out, handle->is_timer ? "<TimerHandle" : "<Handle");
    if (handle->cancelled)
        aio__sb_append(out, " cancelled");
    if (handle->is_timer) {
        aio__sb_append(out, " when=");
        aio__sb_append_float(out, handle->when);
    }
    bool has_callback = handle->kind == AIO__HANDLE_DONE_CALLBACK ? handle->done_callback != NULL
                                                                  : handle->callback != NULL;
    if (has_callback) {
        aio__sb_append(out, " ");
        aio__format_callback(out, handle);
    }
    return aio__sb_append(out, ">");
}

/* --- Cancel and run ----------------------------------------------------- */

int aio__handle_cancel(aio_handle *handle)
{
    if (AIO_UNLIKELY(check_live(handle, "Handle.cancel") < 0))
        return -1;
    if (handle->cancelled)
        return 0;
    if (handle->is_timer && handle->scheduled)
        handle->loop->timer_cancelled_count++;
    handle->cancelled = true;
    /* Debug mode keeps the repr readable once the callback is gone. */
    char *frozen = NULL;
    if (handle->debug) {
        aio_exc *pending = aio_err_fetch(); /* cancel() inside an except block */
        frozen = aio_repr(handle);
        aio_err_restore(pending);
    }
    handle_clear(handle);
    if (frozen != NULL) {
        handle->arg = frozen;
        handle->repr_frozen = true;
    }
    return 0;
}

void aio__handle_drop(aio_handle **handle)
{
    if (*handle != NULL) {
        aio__handle_cancel(*handle);
        aio__decref(*handle);
        *handle = NULL;
    }
}

int aio__handle_cancelled(aio_handle *handle)
{
    if (AIO_UNLIKELY(check_live(handle, "Handle.cancelled") < 0))
        return -1;
    return handle->cancelled;
}

double aio__timer_handle_when(aio_timer_handle *handle)
{
    if (AIO_UNLIKELY(check_live(handle, "TimerHandle.when") < 0))
        return -1.0;
    if (!handle->is_timer) {
        aio_err_set(aio_TypeError, "descriptor 'when' for 'TimerHandle' objects doesn't "
                                   "apply to a 'Handle' object");
        return -1.0;
    }
    return handle->when;
}

aio_context *aio__handle_get_context(aio_handle *handle)
{
    if (AIO_UNLIKELY(check_live(handle, "Handle.get_context") < 0))
        return NULL;
    if (!handle->has_context) {
        /* The handle kept only the map it captured; the object Python's
         * copy_context() would have made is made now, once, and the
         * callback runs in it from then on. */
        aio_context *ctx = aio__context_from_map(handle->map);
        if (ctx == NULL)
            return NULL;
        aio__ctxmap_decref(handle->map);
        handle->context = ctx;
        handle->has_context = true;
    }
    return handle->context;
}

static int report_exception(aio_handle *handle)
{
    aio_exc *exc = aio_err_fetch();
    if (aio_exc_isinstance(exc, aio_SystemExit) ||
        aio_exc_isinstance(exc, aio_KeyboardInterrupt)) {
        aio_err_restore(exc);
        return -1;
    }
    aio__strbuf sb = AIO__STRBUF_INIT;
    aio__sb_append(&sb, "Exception in callback ");
    aio__format_callback(&sb, handle);
    char *message = aio__sb_finish(&sb);
    aio_exception_context context = {
        .message = message ? message : "Exception in callback",
        .exception = exc,
        .handle = handle,
    };
    int rc = aio__loop_call_exception_handler(handle->loop, &context);
    free(message);
    aio__decref(exc);
    return rc;
}

int aio__handle_run(aio_handle *handle)
{
    aio_context scratch;
    aio_context *ctx = handle->has_context ? handle->context : NULL;
    if (ctx != NULL) {
        if (aio__context_enter(ctx) < 0)
            return report_exception(handle);
        aio__incref(ctx); /* the callback may cancel the handle */
    } else {
        aio__context_enter_scratch(&scratch, handle->map);
    }

    if (handle->kind == AIO__HANDLE_CALLBACK) {
        void *arg = handle->arg;
        if (AIO_UNLIKELY(handle->boxed)) {
            aio__arg_box *box = arg;
            arg = box->arg;
            if (!handle->persistent) {
                /* A one-shot callback takes its argument over. */
                handle->arg = arg;
                handle->boxed = false;
                free(box);
            }
        }
        if (AIO_LIKELY(handle->callback != NULL))
            handle->callback(arg);
        else
            aio_err_set(aio_TypeError, "'NoneType' object is not callable");
    } else {
        if (handle->done_callback != NULL)
            handle->done_callback(handle->future, handle->arg);
        else
            aio_err_set(aio_TypeError, "'NoneType' object is not callable");
    }

    if (ctx != NULL) {
        aio__context_exit(ctx);
        aio__decref(ctx);
    } else {
        /* Python's handle keeps its context object: a reader, writer or
         * signal handler runs again with what its last run set, and
         * get_context() shows it, after cancel() too. When the callback
         * asked for get_context() itself, the object made then takes it. */
        aio__ctxmap **kept = handle->has_context ? &handle->context->map : &handle->map;
        if (scratch.map != *kept) {
            aio__ctxmap_incref(scratch.map);
            aio__ctxmap_decref(*kept);
            *kept = scratch.map;
        }
        aio__context_exit_scratch(&scratch);
    }
    if (AIO_UNLIKELY(aio_err_occurred() != NULL))
        return report_exception(handle);
    return 0;
}

