/* Tasks and contexts: a task runs every step in its own context, a copy of
 * the context current at create_task() (later changes by the creator are not
 * seen, and the task's changes persist across its awaits without leaking
 * out); a callback scheduled or a task created from inside a task copies
 * the task's context; the task's done callbacks run in the context current
 * at add_done_callback(). create_task(context=ctx) runs the task in ctx
 * itself: two tasks given the same ctx see each other's changes, and ctx
 * keeps them afterwards. asyncio.run() runs main in a copy of the caller's
 * context. create_task(context=) is aio_task_new() with args.context. */
#include "conformance.h"

static aio_contextvar *var;
static aio_loop *loop;

static const char *get(void)
{
    void *value;
    CHECK(aio_contextvar_get(var, &value) == 0);
    return value;
}

static void set(const char *value)
{
    aio_contextvar_token *token = aio_contextvar_set(var, (void *)value);
    CHECK(token);
    aio_decref(token);
}

static void show(void *label)
{
    printf("%s: %s\n", (const char *)label, get());
}
AIO_NAME_CALLBACK(show);

static void show_labeled(const char *label, const char *what)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s%s", label, what);
    show(buf);
}

static char callback_label[64];

static void *child_task(void *arg)
{
    show_labeled(arg, "'s child task");
    return NULL;
}
AIO_NAME_CALLBACK(child_task);

typedef struct spec {
    const char *label;
    const char *value;
} spec;

static void *worker(void *arg)
{
    spec *s = arg;
    show_labeled(s->label, " starts, sees");
    set(s->value);
    if (aio_sleep(0) < 0)
        return NULL;
    show_labeled(s->label, " after an await, sees");
    snprintf(callback_label, sizeof callback_label, "%s's callback", s->label);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = show, .args = callback_label}));
    aio_task *child = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = child_task, .coro_arg = (void *)s->label});
    CHECK(child);
    aio_await(child);
    aio_decref(child);
    return (void *)s->label;
}
AIO_NAME_CALLBACK(worker);

static void *sharer(void *arg)
{
    spec *s = arg;
    show_labeled(s->label, " starts, sees");
    set(s->value);
    if (aio_sleep(0) < 0)
        return NULL;
    show_labeled(s->label, " after an await, sees");
    return NULL;
}
AIO_NAME_CALLBACK(sharer);

static void done_callback(aio_future *f, void *arg)
{
    (void)f, (void)arg;
    show("done callback");
}
AIO_NAME_CALLBACK(done_callback);

static void *main_coro(void *arg)
{
    (void)arg;
    show("asyncio.run main sees");
    set("set by main");
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    var = aio_contextvar_new_default("var", "default");
    CHECK(var);
    loop = aio_new_event_loop();
    CHECK(loop);

    set("outer");
    spec w = {"task", "set in task"};
    aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = worker, .coro_arg = &w});
    CHECK(t);
    set("changed after create_task");
    CHECK(aio_future_add_done_callback(t, &(aio_future_add_done_callback_args){.callback = done_callback}) == 0);
    set("changed after add_done_callback");
    aio_loop_run_until_complete(loop, t);
    CHECK(!aio_err_occurred());
    aio_decref(t);
    show("caller after the task");

    aio_context *ctx = aio_copy_context();
    CHECK(ctx);
    spec sa = {"a", "a's value"}, sb = {"b", "b's value"};
    aio_task *a = aio_task_new(sharer, &sa, &(aio_task_args){.loop = loop, .context = ctx});
    aio_task *b = aio_task_new(sharer, &sb, &(aio_task_args){.loop = loop, .context = ctx});
    CHECK(a && b);
    aio_future *both = aio_gather((aio_future *[]){a, b}, 2, NULL);
    CHECK(both);
    CHECK(aio_loop_run_until_complete(loop, both));
    void *held;
    CHECK(aio_context_get(ctx, var, &held) == 1);
    printf("ctx holds: %s\n", (const char *)held);
    show("caller after the shared context");
    aio_decref(both);
    aio_decref(a);
    aio_decref(b);
    aio_decref(ctx);
    aio_loop_close(loop);
    aio_decref(loop);

    aio_run(main_coro, NULL, NULL);
    CHECK(!aio_err_occurred());
    show("caller after asyncio.run");
    return 0;
}
