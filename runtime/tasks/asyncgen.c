/* asyncgen.c - asynchronous generators: a C function on its own stack that
 * yields values to whoever iterates it, and the loop's tracking of them
 * (base_events.py: _asyncgen_firstiter_hook, _asyncgen_finalizer_hook,
 * shutdown_asyncgens). */
#include <stdio.h>
#include <string.h>

#include "casyncio/api.h"
#include "exc.h"
#include "impl.h"
#include "loop.h"
#include "task.h"
#include "names.h"

typedef enum gen_state {
    GEN_NEW,        /* never started */
    GEN_SUSPENDED,  /* stopped in aio_yield() */
    GEN_RUNNING,
    GEN_DONE,       /* returned, raised, or closed */
} gen_state;

struct aio_asyncgen {
    aio__object ob;
    aio_asyncgen_func func;
    void *arg;
    char *name;
    size_t stack_size;
    aio__coro stack;
    gen_state state;
    bool hooked;            /* the first iteration went through the hooks */
    aio_loop *loop;         /* the loop tracking it (a reference) */
    aio__coro *consumer;    /* where aio_yield() returns to */
    void *value;            /* yielded, or sent */
    aio_exc *throw_exc;     /* raised at the yield point on resume */
    aio_exc *outcome_exc;   /* what the function raised */
    aio_asyncgen *prev, *next; /* the loop's open generators */
};

static void gen_dealloc(void *obj);
static int gen_repr(const void *obj, aio__strbuf *out);

AIO__DEFINE_TYPE(asyncgen_type) = {"async_generator", gen_dealloc, gen_repr, 0};

/* --- Tracking by the loop --------------------------------------------------------- *
 *
 * The async generators' part of a loop (loop.h), two slots: the generators
 * first iterated while it ran and not yet closed (each holds a reference
 * to the loop), and whether shutdown_asyncgens() was called. */

AIO__LOOP_PART(asyncgens_part) = {.name = "asyncgens", .slots = 2, .order = 90};

static inline aio_asyncgen **asyncgens_of(aio_loop *loop)
{
    return (aio_asyncgen **)aio__loop_part_slot(loop, &asyncgens_part);
}

/* shutdown_asyncgens() was called: the second slot is not NULL. */
static inline void **shutdown_called_of(aio_loop *loop)
{
    return aio__loop_part_slot(loop, &asyncgens_part) + 1;
}

static void track(aio_loop *loop, aio_asyncgen *gen)
{
    gen->loop = aio_incref(loop);
    gen->prev = NULL;
    gen->next = *asyncgens_of(loop);
    if (*asyncgens_of(loop) != NULL)
        (*asyncgens_of(loop))->prev = gen;
    *asyncgens_of(loop) = gen;
}

static void untrack(aio_asyncgen *gen)
{
    aio_loop *loop = gen->loop;
    if (loop == NULL)
        return;
    if (gen->prev != NULL)
        gen->prev->next = gen->next;
    else if (*asyncgens_of(loop) == gen)
        *asyncgens_of(loop) = gen->next;
    if (gen->next != NULL)
        gen->next->prev = gen->prev;
    gen->prev = gen->next = NULL;
    gen->loop = NULL;
    aio__decref(loop);
}

/* _asyncgen_firstiter_hook, installed while a loop runs. */
static void first_iteration(aio_asyncgen *gen)
{
    gen->hooked = true;
    aio_loop *loop = aio__running_loop();
    if (loop == NULL)
        return;
    if (*shutdown_called_of(loop) != NULL)
        aio__resource_warning("asynchronous generator %s was scheduled after "
                              "loop.shutdown_asyncgens() call",
                              gen);
    track(loop, gen);
}

/* --- Running the function ------------------------------------------------------------ */

static void gen_entry(void *arg)
{
    aio_asyncgen *gen = arg;
    gen->func(gen, gen->arg);
    gen->outcome_exc = aio_err_fetch();
    gen->state = GEN_DONE;
    aio__coro_exit(aio__coro_current(), gen->consumer);
}

/* Runs the generator until it yields or ends, throwing exc (taken over) in
 * at its yield point. Returns 1 when it yielded (gen->value), 0 when it
 * ended without an exception, -1 with the exception set. */
static int resume(aio_asyncgen *gen, aio_exc *exc)
{
    if (gen->state == GEN_NEW) {
        if (!gen->hooked)
            first_iteration(gen);
        if (exc != NULL) {
            /* Thrown into a generator that never started: raised at once. */
            gen->state = GEN_DONE;
            aio_err_restore(exc);
            return -1;
        }
        if (aio__coro_init(&gen->stack, gen->stack_size, gen_entry, gen) < 0) {
            gen->state = GEN_DONE;
            return -1;
        }
        gen->stack.label = (const char *const *)&gen->name;
    } else {
        gen->throw_exc = exc;
    }
    gen->state = GEN_RUNNING;
    gen->consumer = aio__coro_current();
    aio__incref(gen);
    aio_exc *pending = aio_err_fetch();
    aio__coro_switch(gen->consumer, &gen->stack);
    aio_err_restore(pending);
    int rc = 1;
    if (gen->state == GEN_DONE) {
        /* Still tracked: the loop's _asyncgens is a WeakSet, which keeps a
         * finished generator until it is destroyed, and shutdown_asyncgens()
         * gives it an aclose() task too. */
        aio__coro_release(&gen->stack);
        aio_exc *raised = gen->outcome_exc;
        gen->outcome_exc = NULL;
        if (raised == NULL) {
            rc = 0;
        } else {
            if (aio_exc_type_of(raised) == aio_StopAsyncIteration) {
                /* _PyErr_FormatFromCause(): raised from it */
                aio_exc *stop = raised;
                raised = aio_exc_new(aio_RuntimeError, "async generator raised StopAsyncIteration");
                aio_exc_set_cause(raised, stop);
                aio_exc_set_context(raised, stop);
                aio__decref(stop);
            }
            aio_err_restore(raised);
            rc = -1;
        }
    }
    aio__decref(gen);
    return rc;
}

static int check_not_running(aio_asyncgen *gen, const char *method)
{
    if (gen == NULL) {
        aio_err_format(aio_TypeError, "%s expected an async generator, got None", method);
        return -1;
    }
    if (gen->state == GEN_RUNNING) {
        aio_err_format(aio_RuntimeError, "%s: asynchronous generator is already running", method);
        return -1;
    }
    return 0;
}

static void *stop_iteration(void)
{
    aio_err_set(aio_StopAsyncIteration, NULL);
    return NULL;
}

void *aio_asyncgen_asend(aio_asyncgen *gen, void *value)
{
    if (check_not_running(gen, "anext()") < 0) /* asend() and anext() share an awaitable */
        return NULL;
    if (gen->state == GEN_DONE)
        return stop_iteration();
    if (gen->state == GEN_NEW && value != NULL) {
        aio_err_set(aio_TypeError, "can't send non-None value to a just-started async generator");
        return NULL;
    }
    gen->value = value;
    int rc = resume(gen, NULL);
    if (rc == 0)
        return stop_iteration();
    return rc > 0 ? gen->value : NULL;
}

void *aio_anext(aio_asyncgen *gen)
{
    if (check_not_running(gen, "anext()") < 0)
        return NULL;
    if (gen->state == GEN_DONE)
        return stop_iteration();
    gen->value = NULL;
    int rc = resume(gen, NULL);
    if (rc == 0)
        return stop_iteration();
    return rc > 0 ? gen->value : NULL;
}

void *aio_asyncgen_athrow(aio_asyncgen *gen, aio_exc *exc)
{
    if (check_not_running(gen, "athrow()") < 0)
        return NULL;
    if (exc == NULL) {
        aio_err_set(aio_TypeError, "exceptions must be classes or instances deriving from "
                                   "BaseException, not NoneType");
        return NULL;
    }
    if (gen->state == GEN_DONE)
        return NULL; /* the frame is complete: StopIteration, so the await gives None */
    int rc = resume(gen, aio_incref(exc));
    if (rc == 0)
        return stop_iteration();
    return rc > 0 ? gen->value : NULL;
}

int aio_asyncgen_aclose(aio_asyncgen *gen)
{
    if (check_not_running(gen, "aclose()") < 0)
        return -1;
    if (gen->state == GEN_NEW) {
        if (!gen->hooked)
            first_iteration(gen); /* aclose() runs the firstiter hook too */
        gen->state = GEN_DONE;
        return 0;
    }
    if (gen->state == GEN_DONE)
        return 0;
    int rc = resume(gen, aio_exc_new(aio_GeneratorExit, NULL));
    if (rc > 0) {
        aio_err_set(aio_RuntimeError, "async generator ignored GeneratorExit");
        return -1;
    }
    if (rc < 0 && (aio_err_matches(aio_GeneratorExit) || aio_err_matches(aio_StopAsyncIteration))) {
        aio_err_clear();
        return 0;
    }
    return rc;
}

int aio_yield(aio_asyncgen *gen, void *value)
{
    if (gen == NULL || aio__coro_current() != &gen->stack) {
        aio_err_set(aio_RuntimeError, "aio_yield() must be called by the generator's own function");
        return -1;
    }
    gen->value = value;
    gen->state = GEN_SUSPENDED;
    aio__coro_switch(&gen->stack, gen->consumer);
    aio_exc *exc = gen->throw_exc;
    gen->throw_exc = NULL;
    if (exc != NULL) {
        aio_err_restore(exc);
        return -1;
    }
    return 0;
}

void *aio_asyncgen_sent(aio_asyncgen *gen)
{
    return gen != NULL ? gen->value : NULL;
}

aio_asyncgen *aio_asyncgen_new(aio_asyncgen_func func, void *arg, const aio_asyncgen_args *args)
{
    static const aio_asyncgen_args defaults;
    if (args == NULL)
        args = &defaults;
    if (func == NULL) {
        aio_err_set(aio_TypeError, "an async generator function was expected, got None");
        return NULL;
    }
    aio_asyncgen *gen = aio__calloc(1, sizeof *gen);
    if (gen == NULL)
        return NULL;
    aio__object_init(gen, &asyncgen_type);
    gen->func = func;
    gen->arg = arg;
    gen->stack_size = args->stack_size;
    if (args->name != NULL) {
        gen->name = aio__strdup(args->name);
    } else {
        aio__strbuf sb = AIO__STRBUF_INIT;
        aio__format_function(&sb, (void (*)(void))func);
        gen->name = aio__sb_finish(&sb);
    }
    if (gen->name == NULL) {
        aio__decref(gen);
        return NULL;
    }
    return gen;
}

/* --- Finalization ------------------------------------------------------------------------- */

static int closer_cancel(aio_future *task, const char *msg);

/* A task's `agen.aclose()`; the task holds a reference to gen. */
static void *aclose_coro(void *arg)
{
    aio_asyncgen *gen = arg;
    aio_task *self = aio__current_task(NULL);
    if (self != NULL && self->cancel == closer_cancel && aio__task_cancelling(self) > 0) {
        /* Cancelled before its first step: the task throws the
         * CancelledError into the aclose() awaitable, which throws it into
         * the generator (athrow's throw() in aclose mode). */
        aio_exc *exc = aio_exc_new(aio_CancelledError, ((aio__task *)self)->cancel_msg);
        if (gen->state != GEN_SUSPENDED && gen->state != GEN_NEW) {
            aio_err_restore(exc);
        } else {
            int rc = resume(gen, exc);
            if (rc > 0)
                aio_err_set(aio_RuntimeError, "async generator ignored GeneratorExit");
            else if (aio_err_matches(aio_GeneratorExit) || aio_err_matches(aio_StopAsyncIteration))
                aio_err_clear();
        }
    } else {
        aio_asyncgen_aclose(gen);
    }
    aio__decref(gen);
    return NULL;
}

/* Task.cancel() of a task running aclose_coro(). A C task cancelled before
 * its first step never runs its function, where Python's still throws the
 * CancelledError into the generator (and asyncio.run() cancels the closing
 * task of a generator dropped in main's last step before it ever ran): the
 * request is counted, but left for aclose_coro() to throw in. */
static int closer_cancel(aio_future *task, const char *msg)
{
    aio__task *t = (aio__task *)task;
    bool fresh = t->run == AIO__TASK_NEW;
    int rc = aio__task_request_cancel(task, msg);
    if (rc > 0 && fresh)
        t->must_cancel = false;
    return rc;
}

/* loop.create_task(agen.aclose()), taking over a reference to gen. */
static aio_task *create_closer(aio_loop *loop, aio_asyncgen *gen)
{
    aio_task *task = aio__loop_create_task(loop, &(aio__loop_create_task_args){
                                                     .coro = aclose_coro,
                                                     .coro_arg = gen,
                                                 });
    if (task != NULL && aio__is_task(task) && ((aio__task *)task)->coro == aclose_coro)
        task->cancel = closer_cancel;
    return task;
}

/* call_soon_threadsafe(create_task, agen.aclose()). */
static void schedule_aclose(void *arg)
{
    aio_asyncgen *gen = arg;
    aio_loop *loop = aio__running_loop();
    aio_task *task = loop != NULL ? create_closer(loop, gen) : NULL;
    if (task == NULL) {
        aio__decref(gen); /* closed below, synchronously */
        return;
    }
    aio__decref(task);
}

static void gen_dealloc(void *obj)
{
    aio_asyncgen *gen = obj;
    if (gen->state == GEN_SUSPENDED) {
        gen->ob.refcnt = 1; /* alive while it is being closed */
        aio_exc *saved = aio_err_fetch();
        /* untrack() may drop the last reference to the loop */
        aio_loop *loop = gen->loop != NULL ? aio_incref(gen->loop) : NULL;
        untrack(gen);
        /* _asyncgen_finalizer_hook: the loop closes it in a task. */
        aio_handle *h = NULL;
        if (loop != NULL && !atomic_load(&loop->closed))
            h = aio__loop_call_soon_threadsafe(loop, &(aio__loop_call_soon_threadsafe_args){
                                                         .callback = schedule_aclose,
                                                         .args = gen,
                                                     });
        if (h == NULL) {
            /* No loop to do it: closed here; it cannot await any more. */
            aio_err_clear();
            if (aio_asyncgen_aclose(gen) < 0)
                aio_err_clear();
            gen->ob.refcnt--;
        }
        aio__decref(loop);
        aio_err_restore(saved);
        if (gen->ob.refcnt > 0) {
            AIO__TRACK(1);
            return;
        }
    }
    untrack(gen);
    aio__coro_release(&gen->stack);
    aio__decref(gen->throw_exc);
    aio__decref(gen->outcome_exc);
    free(gen->name);
    free(gen);
}

static int gen_repr(const void *obj, aio__strbuf *out)
{
    const aio_asyncgen *gen = obj;
    return aio__sb_appendf(out, "<async_generator object %s at %p>", gen->name, obj);
}

/* --- loop.shutdown_asyncgens() ------------------------------------------------------------- */

static void *shutdown_asyncgens_coro(void *arg)
{
    aio_loop *loop = arg;
    *shutdown_called_of(loop) = loop; /* any pointer but NULL */
    size_t n = 0;
    for (aio_asyncgen *gen = *asyncgens_of(loop); gen != NULL; gen = gen->next)
        n++;
    if (n == 0)
        return NULL;
    aio_asyncgen **gens = aio__malloc(n * sizeof *gens);
    aio_future **closing = aio__calloc(n, sizeof *closing);
    if (gens == NULL || closing == NULL) {
        free(gens);
        free(closing);
        return NULL;
    }
    size_t i = 0;
    while (*asyncgens_of(loop) != NULL) {
        gens[i] = aio_incref(*asyncgens_of(loop));
        untrack(gens[i]);
        i++;
    }
    /* gather(*[ag.aclose() for ag in closing_agens], return_exceptions=True) */
    for (i = 0; i < n; i++) {
        aio_incref(gens[i]);
        closing[i] = create_closer(loop, gens[i]);
        if (closing[i] == NULL) {
            aio_decref(gens[i]);
            break;
        }
    }
    aio_future *all = i == n ? aio_gather(closing, n, &(aio_gather_args){.return_exceptions = true})
                             : NULL;
    const aio_gather_list *results = all != NULL ? aio_await(all) : NULL;
    for (i = 0; results != NULL && i < n; i++) {
        aio_exc *exc = results->items[i].exception;
        if (exc != NULL && aio_exc_isinstance(exc, aio_Exception)) {
            char *repr = aio_repr(gens[i]);
            char message[512];
            snprintf(message, sizeof message,
                     "an error occurred during closing of asynchronous generator %s",
                     repr ? repr : "?");
            free(repr);
            aio_exception_context context = {
                .message = message,
                .exception = exc,
                .asyncgen = gens[i],
            };
            aio__loop_call_exception_handler(loop, &context);
        }
    }
    aio__decref(all);
    for (i = 0; i < n; i++) {
        aio__decref(closing[i]);
        aio__decref(gens[i]);
    }
    free(closing);
    free(gens);
    return NULL;
}

aio_future *aio__loop_shutdown_asyncgens(aio_loop *loop)
{
    return aio_task_new(shutdown_asyncgens_coro, loop, &(aio_task_args){.loop = loop});
}

/* What reprs and logs call these callbacks: CPython's names for them. */
AIO__NAME(schedule_aclose, "BaseEventLoop._asyncgen_finalizer_hook", AIO__NAME_SELF_ARG);
