/* handle.c - asyncio.Handle and asyncio.TimerHandle. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "casyncio/api.h"
#include "exc.h"
#include "impl.h"
#include "loop.h"

/* --- Allocation: a per-thread free list keeps call_soon() cheap --------- */

#define FREE_LIST_MAX 1024

static _Thread_local aio_handle *free_list;
static _Thread_local size_t free_count;
static pthread_key_t free_list_key;
static pthread_once_t free_list_once = PTHREAD_ONCE_INIT;

static void free_list_release(void *unused)
{
    (void)unused;
    while (free_list != NULL) {
        aio_handle *next = (aio_handle *)free_list->arg;
        free(free_list);
        free_list = next;
    }
    free_count = 0;
}

static void free_list_init(void)
{
    pthread_key_create(&free_list_key, free_list_release);
}

static aio_handle *handle_alloc(void)
{
    aio_handle *handle = free_list;
    if (AIO_LIKELY(handle != NULL)) {
        free_list = (aio_handle *)handle->arg;
        free_count--;
        return handle;
    }
    pthread_once(&free_list_once, free_list_init);
    pthread_setspecific(free_list_key, &free_list);
    return aio__malloc(sizeof(aio_handle));
}

static void handle_clear(aio_handle *handle)
{
    aio__ctxmap_decref(handle->map);
    handle->map = NULL;
    aio__decref(handle->context);
    handle->context = NULL;
    aio__decref(handle->future);
    handle->future = NULL;
    handle->callback = NULL;
    handle->done_callback = NULL;
    handle->arg = NULL;
}

static void handle_dealloc(void *obj)
{
    aio_handle *handle = obj;
    handle_clear(handle);
    free(handle->frozen_repr);
    if (free_count < FREE_LIST_MAX) {
        handle->arg = free_list;
        free_list = handle;
        free_count++;
    } else {
        free(handle);
    }
}

static int handle_repr(const void *obj, aio__strbuf *out);

static const aio__type handle_type = {"Handle", handle_dealloc, handle_repr};
static const aio__type timer_handle_type = {"TimerHandle", handle_dealloc, handle_repr};

static aio_handle *handle_init(aio_loop *loop, aio_context *context)
{
    aio_handle *handle = handle_alloc();
    if (handle == NULL)
        return NULL;
    aio__object_init(handle, &handle_type);
    handle->loop = loop;
    handle->debug = loop->debug;
    handle->future = NULL;
    handle->frozen_repr = NULL;
    handle->when = 0.0;
    handle->cancelled = false;
    handle->scheduled = false;
    handle->is_timer = false;
    if (context != NULL) {
        aio__incref(context);
        handle->context = context;
        handle->map = NULL;
    } else {
        handle->context = NULL;
        handle->map = aio__ctxmap_capture();
    }
    return handle;
}

aio_handle *aio__handle_new(aio_loop *loop, aio_callback callback, void *arg,
                            aio_context *context)
{
    aio_handle *handle = handle_init(loop, context);
    if (handle == NULL)
        return NULL;
    handle->kind = AIO__HANDLE_CALLBACK;
    handle->callback = callback;
    handle->done_callback = NULL;
    handle->arg = arg;
    return handle;
}

aio_handle *aio__handle_new_done(aio_loop *loop, aio_done_callback fn, aio_future *future,
                                 void *arg, aio__ctxmap *map, aio_context *context)
{
    aio_handle *handle = handle_alloc();
    if (handle == NULL) {
        aio__ctxmap_decref(map);
        return NULL;
    }
    aio__object_init(handle, &handle_type);
    handle->loop = loop;
    handle->debug = loop->debug;
    handle->kind = AIO__HANDLE_DONE_CALLBACK;
    handle->callback = NULL;
    handle->done_callback = fn;
    handle->arg = arg;
    handle->future = aio_incref(future);
    handle->map = map;
    handle->context = aio_incref(context);
    handle->frozen_repr = NULL;
    handle->when = 0.0;
    handle->cancelled = false;
    handle->scheduled = false;
    handle->is_timer = false;
    return handle;
}

void aio__handle_make_timer(aio_handle *handle, double when)
{
    handle->ob.type = &timer_handle_type;
    handle->is_timer = true;
    handle->when = when;
}

/* --- repr ---------------------------------------------------------------- */

int aio__format_function(aio__strbuf *out, void (*fn)(void))
{
    Dl_info info;
    void *address;
    memcpy(&address, &fn, sizeof address);
    if (address == NULL)
        return aio__sb_append(out, "None"); /* callback=None: "None(...)" */
    if (dladdr(address, &info) != 0 && info.dli_sname != NULL && info.dli_saddr == address)
        return aio__sb_append(out, info.dli_sname);
    return aio__sb_appendf(out, "%p", address);
}

int aio__format_callback(aio__strbuf *out, const aio_handle *handle)
{
    if (handle->kind == AIO__HANDLE_DONE_CALLBACK) {
        aio__format_function(out, (void (*)(void))handle->done_callback);
        aio__sb_append(out, "(");
        aio__repr_into(handle->future, out);
        if (handle->arg != NULL)
            aio__sb_appendf(out, ", %p", handle->arg);
        return aio__sb_append(out, ")");
    }
    aio__format_function(out, (void (*)(void))handle->callback);
    if (handle->arg != NULL)
        return aio__sb_appendf(out, "(%p)", handle->arg);
    return aio__sb_append(out, "()");
}

static int handle_repr(const void *obj, aio__strbuf *out)
{
    const aio_handle *handle = obj;
    if (handle->frozen_repr != NULL)
        return aio__sb_append(out, handle->frozen_repr);
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
    if (handle->cancelled)
        return 0;
    if (handle->is_timer && handle->scheduled)
        handle->loop->timer_cancelled_count++;
    handle->cancelled = true;
    if (handle->debug) {
        /* Debug mode keeps the repr readable once the callback is gone. */
        handle->frozen_repr = aio_repr(handle);
        aio_err_clear();
    }
    handle_clear(handle);
    return 0;
}

int aio__handle_cancelled(aio_handle *handle)
{
    return handle->cancelled;
}

double aio__timer_handle_when(aio_timer_handle *handle)
{
    if (!handle->is_timer) {
        aio_err_set(aio_TypeError, "descriptor 'when' for 'TimerHandle' objects doesn't "
                                   "apply to a 'Handle' object");
        return -1.0;
    }
    return handle->when;
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
    aio_context *ctx = handle->context;
    if (ctx != NULL) {
        if (aio__context_enter(ctx) < 0)
            return report_exception(handle);
    } else {
        aio__context_enter_scratch(&scratch, handle->map);
    }

    if (handle->kind == AIO__HANDLE_CALLBACK) {
        if (AIO_LIKELY(handle->callback != NULL))
            handle->callback(handle->arg);
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
    } else {
        /* Python's handle keeps its context object: a reader, writer or
         * signal handler runs again with what its last run set. */
        if (scratch.map != handle->map && !handle->cancelled) {
            aio__ctxmap_incref(scratch.map);
            aio__ctxmap_decref(handle->map);
            handle->map = scratch.map;
        }
        aio__context_exit_scratch(&scratch);
    }
    if (AIO_UNLIKELY(aio_err_occurred() != NULL))
        return report_exception(handle);
    return 0;
}

