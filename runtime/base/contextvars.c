/* contextvars.c - contextvars.Context, ContextVar and Token. */
#include "context.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "casyncio/pyversion.h"
#include "exc.h"

/* The loop layer's (loop.h): the running loop's target version, else the
 * process default. Declared weak here, below that layer, so that the base
 * objects link without it; then the default target's behaviour. */
AIO_INTERNAL int aio__current_target_version(void) __attribute__((weak));

static int target_version(void)
{
    return aio__current_target_version != NULL ? aio__current_target_version()
                                               : AIO_PY_DEFAULT;
}

/* --- Maps: sorted (variable id, value) arrays, shared between threads ---- */

typedef struct map_item {
    uint64_t var_id;
    void *value;
} map_item;

struct aio__ctxmap {
    intptr_t refcnt; /* atomic: maps travel with call_soon_threadsafe() */
    size_t len;
    map_item items[];
};

void aio__ctxmap_incref(aio__ctxmap *map)
{
    if (map != NULL)
        __atomic_fetch_add(&map->refcnt, 1, __ATOMIC_RELAXED);
}

void aio__ctxmap_decref(aio__ctxmap *map)
{
    if (map != NULL && __atomic_sub_fetch(&map->refcnt, 1, __ATOMIC_ACQ_REL) == 0)
        free(map);
}

static size_t map_len(const aio__ctxmap *map)
{
    return map ? map->len : 0;
}

/* Index of var_id in map, or -(insertion point) - 1. */
static ptrdiff_t map_find(const aio__ctxmap *map, uint64_t var_id)
{
    size_t lo = 0, hi = map_len(map);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (map->items[mid].var_id < var_id)
            lo = mid + 1;
        else if (map->items[mid].var_id > var_id)
            hi = mid;
        else
            return (ptrdiff_t)mid;
    }
    return -(ptrdiff_t)lo - 1;
}

static aio__ctxmap *map_new(size_t len)
{
    aio__ctxmap *map = aio__malloc(sizeof *map + len * sizeof(map_item));
    if (map != NULL) {
        map->refcnt = 1;
        map->len = len;
    }
    return map;
}

/* A new map with var_id set to value. */
static aio__ctxmap *map_with(const aio__ctxmap *map, uint64_t var_id, void *value)
{
    ptrdiff_t at = map_find(map, var_id);
    size_t len = map_len(map);
    if (at >= 0) {
        aio__ctxmap *out = map_new(len);
        if (out != NULL) {
            memcpy(out->items, map->items, len * sizeof(map_item));
            out->items[at].value = value;
        }
        return out;
    }
    size_t pos = (size_t)(-at - 1);
    aio__ctxmap *out = map_new(len + 1);
    if (out == NULL)
        return NULL;
    if (pos > 0)
        memcpy(out->items, map->items, pos * sizeof(map_item));
    out->items[pos].var_id = var_id;
    out->items[pos].value = value;
    if (len > pos)
        memcpy(out->items + pos + 1, map->items + pos, (len - pos) * sizeof(map_item));
    return out;
}

/* A new map without var_id (which must be present); NULL when empty. */
static aio__ctxmap *map_without(const aio__ctxmap *map, uint64_t var_id, int *failed)
{
    ptrdiff_t at = map_find(map, var_id);
    size_t len = map_len(map);
    *failed = 0;
    if (len == 1)
        return NULL;
    aio__ctxmap *out = map_new(len - 1);
    if (out == NULL) {
        *failed = 1;
        return NULL;
    }
    memcpy(out->items, map->items, (size_t)at * sizeof(map_item));
    memcpy(out->items + at, map->items + at + 1, (len - (size_t)at - 1) * sizeof(map_item));
    return out;
}

/* --- Contexts ------------------------------------------------------------ */

static uint64_t next_id = 1;

static uint64_t new_id(void)
{
    return __atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED);
}

static void context_dealloc(void *obj)
{
    aio_context *ctx = obj;
    aio__ctxmap_decref(ctx->map);
    free(ctx);
}

static int context_repr(const void *obj, aio__strbuf *out)
{
    return aio__sb_appendf(out, "<_contextvars.Context object at %p>", obj);
}

AIO__DEFINE_TYPE(context_type) = {"Context", context_dealloc, context_repr, 0};

/* Each thread starts in a context of its own, which is never handed out. */
static _Thread_local aio_context base_context = {{AIO__IMMORTAL, &context_type}, NULL,
                                                 NULL, 0, true};
static _Thread_local aio_context *current_context;
static pthread_key_t base_cleanup_key;
static pthread_once_t base_cleanup_once = PTHREAD_ONCE_INIT;

static void base_cleanup(void *unused)
{
    (void)unused;
    aio__ctxmap_decref(base_context.map);
    base_context.map = NULL;
}

static void base_cleanup_init(void)
{
    pthread_key_create(&base_cleanup_key, base_cleanup);
}

aio_context *aio__context_current(void)
{
    return current_context ? current_context : &base_context;
}

/* Replaces the current context's map, taking over the reference. */
static void set_current_map(aio__ctxmap *map)
{
    aio_context *ctx = aio__context_current();
    if (ctx == &base_context && map != NULL) {
        /* The thread's own map must be released when the thread ends. */
        pthread_once(&base_cleanup_once, base_cleanup_init);
        pthread_setspecific(base_cleanup_key, &base_context);
    }
    aio__ctxmap_decref(ctx->map);
    ctx->map = map;
}

aio__ctxmap *aio__ctxmap_capture(void)
{
    aio__ctxmap *map = aio__context_current()->map;
    aio__ctxmap_incref(map);
    return map;
}

static aio_context *context_alloc(aio__ctxmap *map)
{
    aio_context *ctx = aio__calloc(1, sizeof *ctx);
    if (ctx == NULL) {
        aio__ctxmap_decref(map);
        return NULL;
    }
    aio__object_init(ctx, &context_type);
    ctx->map = map;
    return ctx;
}

aio_context *aio__context_from_map(aio__ctxmap *map)
{
    aio__ctxmap_incref(map);
    return context_alloc(map);
}

aio_context *aio_context_new(void)
{
    return context_alloc(NULL);
}

aio_context *aio_copy_context(void)
{
    return context_alloc(aio__ctxmap_capture());
}

int aio__context_enter(aio_context *ctx)
{
    if (ctx->entered) {
        /* the type's repr named its module from 3.10 */
        aio_err_format(aio_RuntimeError, "cannot enter context: <%s object at %p> is already entered",
                       target_version() >= AIO_PY(3, 10) ? "_contextvars.Context" : "Context",
                       (void *)ctx);
        return -1;
    }
    ctx->prev = current_context;
    ctx->entered = true;
    current_context = ctx;
    return 0;
}

void aio__context_exit(aio_context *ctx)
{
    current_context = ctx->prev;
    ctx->prev = NULL;
    ctx->entered = false;
}

void aio__context_enter_scratch(aio_context *scratch, aio__ctxmap *map)
{
    scratch->ob.refcnt = AIO__IMMORTAL;
    scratch->ob.type = &context_type;
    scratch->map = map;
    scratch->id = 0;
    aio__ctxmap_incref(map);
    scratch->prev = current_context;
    scratch->entered = true;
    current_context = scratch;
}

void aio__context_exit_scratch(aio_context *scratch)
{
    current_context = scratch->prev;
    aio__ctxmap_decref(scratch->map);
}

int aio_context_run(aio_context *ctx, aio_callback fn, void *arg)
{
    if (ctx == NULL || fn == NULL) {
        aio_err_set(aio_TypeError, ctx ? "'NoneType' object is not callable"
                                       : "descriptor 'run' for '_contextvars.Context' "
                                         "objects doesn't apply to a 'NoneType' object");
        return -1;
    }
    if (aio__context_enter(ctx) < 0)
        return -1;
    fn(arg);
    aio__context_exit(ctx);
    return aio_err_occurred() ? -1 : 0;
}

size_t aio_context_len(aio_context *ctx)
{
    return ctx ? map_len(ctx->map) : 0;
}

/* --- Context variables --------------------------------------------------- */

struct aio_contextvar {
    aio__object ob;
    uint64_t id;
    char *name;
    void *default_value;
    bool has_default;
};

static void var_dealloc(void *obj)
{
    aio_contextvar *var = obj;
    free(var->name);
    free(var);
}

static int var_repr(const void *obj, aio__strbuf *out)
{
    const aio_contextvar *var = obj;
    aio__sb_append(out, "<ContextVar name=");
    aio__sb_append_pyrepr(out, var->name);
    if (var->has_default && var->default_value == NULL)
        aio__sb_append(out, " default=None");
    else if (var->has_default)
        aio__sb_appendf(out, " default=%p", var->default_value);
    return aio__sb_appendf(out, " at %p>", obj);
}

AIO__DEFINE_TYPE(var_type) = {"ContextVar", var_dealloc, var_repr, 0};

int aio_context_get(aio_context *ctx, aio_contextvar *var, void **value)
{
    if (ctx == NULL || var == NULL)
        return 0;
    ptrdiff_t at = map_find(ctx->map, var->id);
    if (at < 0)
        return 0;
    if (value != NULL)
        *value = ctx->map->items[at].value;
    return 1;
}

static aio_contextvar *var_new(const char *name, bool has_default, void *default_value)
{
    if (name == NULL) {
        aio_err_set(aio_TypeError, "context variable name must be a str");
        return NULL;
    }
    aio_contextvar *var = aio__calloc(1, sizeof *var);
    if (var == NULL)
        return NULL;
    aio__object_init(var, &var_type);
    var->id = new_id();
    var->has_default = has_default;
    var->default_value = default_value;
    if ((var->name = aio__strdup(name)) == NULL) {
        aio__decref(var);
        return NULL;
    }
    return var;
}

aio_contextvar *aio_contextvar_new(const char *name)
{
    return var_new(name, false, NULL);
}

aio_contextvar *aio_contextvar_new_default(const char *name, void *default_value)
{
    return var_new(name, true, default_value);
}

const char *aio_contextvar_name(aio_contextvar *var)
{
    return var ? var->name : NULL;
}

int aio_contextvar_get(aio_contextvar *var, void **value)
{
    if (var == NULL) {
        aio_err_set(aio_TypeError, "descriptor 'get' for '_contextvars.ContextVar' objects "
                                   "doesn't apply to a 'NoneType' object");
        return -1;
    }
    if (aio_context_get(aio__context_current(), var, value))
        return 0;
    if (var->has_default) {
        if (value != NULL)
            *value = var->default_value;
        return 0;
    }
    char *repr = aio_repr(var);
    aio_err_set(aio_LookupError, repr);
    free(repr);
    return -1;
}

void *aio_contextvar_get_or(aio_contextvar *var, void *fallback)
{
    /* Python's get(default) prefers its argument to the variable's default. */
    void *value = fallback;
    if (var != NULL)
        aio_context_get(aio__context_current(), var, &value);
    return value;
}

/* --- Tokens ---------------------------------------------------------------- */

struct aio_contextvar_token {
    aio__object ob;
    aio_contextvar *var;
    uint64_t context_id;
    void *old_value;
    bool had_value;
    bool used;
};

static void token_dealloc(void *obj)
{
    aio_contextvar_token *token = obj;
    aio__decref(token->var);
    free(token);
}

static int token_repr(const void *obj, aio__strbuf *out)
{
    const aio_contextvar_token *token = obj;
    aio__sb_append(out, token->used ? "<Token used var=" : "<Token var=");
    aio__repr_into(token->var, out);
    return aio__sb_appendf(out, " at %p>", obj);
}

AIO__DEFINE_TYPE(token_type) = {"Token", token_dealloc, token_repr, 0};

static uint64_t context_id(aio_context *ctx)
{
    if (ctx->id == 0)
        ctx->id = new_id();
    return ctx->id;
}

aio_contextvar_token *aio_contextvar_set(aio_contextvar *var, void *value)
{
    if (var == NULL) {
        aio_err_set(aio_TypeError, "descriptor 'set' for '_contextvars.ContextVar' objects "
                                   "doesn't apply to a 'NoneType' object");
        return NULL;
    }
    aio_context *ctx = aio__context_current();
    aio_contextvar_token *token = aio__calloc(1, sizeof *token);
    if (token == NULL)
        return NULL;
    aio__ctxmap *map = map_with(ctx->map, var->id, value);
    if (map == NULL) {
        free(token);
        return NULL;
    }
    aio__object_init(token, &token_type);
    token->var = aio_incref(var);
    token->context_id = context_id(ctx);
    token->had_value = aio_context_get(ctx, var, &token->old_value);
    set_current_map(map);
    return token;
}

static void token_error(const aio_exc_type *type, aio_contextvar_token *token,
                        const char *what)
{
    char *repr = aio_repr(token);
    aio_err_format(type, "%s %s", repr ? repr : "<Token>", what);
    free(repr);
}

int aio_contextvar_reset(aio_contextvar *var, aio_contextvar_token *token)
{
    if (var == NULL || token == NULL) {
        aio_err_set(aio_TypeError, var ? "expected an instance of Token, got None"
                                       : "descriptor 'reset' for '_contextvars.ContextVar' "
                                         "objects doesn't apply to a 'NoneType' object");
        return -1;
    }
    if (token->used) {
        token_error(aio_RuntimeError, token, "has already been used once");
        return -1;
    }
    if (token->var != var) {
        token_error(aio_ValueError, token, "was created by a different ContextVar");
        return -1;
    }
    aio_context *ctx = aio__context_current();
    if (context_id(ctx) != token->context_id) {
        token_error(aio_ValueError, token, "was created in a different Context");
        return -1;
    }
    aio__ctxmap *map;
    if (token->had_value) {
        if ((map = map_with(ctx->map, var->id, token->old_value)) == NULL)
            return -1;
    } else if (map_find(ctx->map, var->id) >= 0) {
        int failed;
        map = map_without(ctx->map, var->id, &failed);
        if (failed)
            return -1;
    } else {
        token->used = true;
        return 0;
    }
    set_current_map(map);
    token->used = true;
    return 0;
}
