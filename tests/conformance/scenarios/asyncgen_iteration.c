/* An async generator runs inside the consuming task: anext() runs it until
 * its next yield without a loop iteration of its own, and each await inside
 * it suspends the consumer. Exhausting it raises StopAsyncIteration (async
 * for ends) after its cleanup ran. aclose() on a suspended generator raises
 * GeneratorExit at the yield: its finally block runs and may await; anext()
 * afterwards raises StopAsyncIteration; aclose() again is a no-op. asend()
 * passes a value in; athrow() raises at the yield; an exception escaping
 * the generator reaches the consumer; yielding after GeneratorExit makes
 * aclose() raise RuntimeError. */
#include "conformance.h"

static aio_loop *loop;
static int it;

static void tick(void *arg)
{
    (void)arg;
    it++;
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
}
AIO_NAME_CALLBACK(tick);

static void show(const char *label)
{
    printf("iteration %d ", it);
    print_raised(label);
}

typedef struct numbers_spec {
    const char *label;
    int n;
    char values[16][16];
} numbers_spec;

static void *numbers(aio_asyncgen *gen, void *arg)
{
    numbers_spec *s = arg;
    int i;
    for (i = 0; i < s->n; i++) {
        if (aio_sleep(0) < 0)
            break;
        snprintf(s->values[i], sizeof s->values[i], "v%d", i);
        printf("iteration %d %s yields %s\n", it, s->label, s->values[i]);
        if (aio_yield(gen, s->values[i]) < 0) {
            if (aio_err_matches(aio_GeneratorExit))
                printf("iteration %d %s got GeneratorExit\n", it, s->label);
            break;
        }
    }
    if (i == s->n)
        printf("iteration %d %s exhausted\n", it, s->label);
    /* finally: */
    printf("iteration %d %s finally\n", it, s->label);
    aio_exc *pending = aio_err_fetch();
    if (aio_sleep(0) < 0) {
        aio_decref(pending);
        return NULL;
    }
    printf("iteration %d %s finally after an await\n", it, s->label);
    aio_err_restore(pending);
    return NULL;
}
AIO_NAME_CALLBACK(numbers);

static void *echo(aio_asyncgen *gen, void *arg)
{
    (void)arg;
    static char buf[64];
    if (aio_yield(gen, "ready") < 0)
        return NULL;
    for (;;) {
        snprintf(buf, sizeof buf, "echo %d", (int)(intptr_t)aio_asyncgen_sent(gen));
        if (aio_yield(gen, buf) < 0) {
            if (!aio_err_matches(aio_KeyError))
                return NULL;
            snprintf(buf, sizeof buf, "caught %s", aio_exc_type_of(aio_err_occurred())->name);
            aio_err_clear();
            if (aio_yield(gen, buf) < 0)
                return NULL;
        }
    }
}
AIO_NAME_CALLBACK(echo);

static void *failing(aio_asyncgen *gen, void *arg)
{
    (void)arg;
    if (aio_yield(gen, "first") < 0)
        return NULL;
    aio_err_set(aio_ValueError, "generator failed");
    return NULL;
}
AIO_NAME_CALLBACK(failing);

static void *stubborn(aio_asyncgen *gen, void *arg)
{
    (void)arg;
    aio_yield(gen, "one");
    /* finally: yield "yield in finally" */
    aio_exc *pending = aio_err_fetch();
    if (aio_yield(gen, "yield in finally") < 0) {
        aio_decref(pending);
        return NULL;
    }
    aio_err_restore(pending);
    return NULL;
}
AIO_NAME_CALLBACK(stubborn);

static aio_asyncgen *make(aio_asyncgen_func fn, void *arg)
{
    aio_asyncgen *g = aio_asyncgen_new(fn, arg, NULL);
    CHECK(g);
    return g;
}

static void *main_coro(void *arg)
{
    (void)arg;
    numbers_spec full = {"full", 2, {{0}}};
    aio_asyncgen *g = make(numbers, &full);
    for (;;) {
        const char *v = aio_anext(g);
        if (v == NULL && aio_err_occurred()) {
            CHECK(aio_err_matches(aio_StopAsyncIteration));
            aio_err_clear();
            break;
        }
        printf("iteration %d consumer got %s\n", it, v);
    }
    printf("iteration %d async for ended\n", it);
    aio_decref(g);

    numbers_spec partial = {"partial", 10, {{0}}};
    g = make(numbers, &partial);
    int start = it;
    const char *v = aio_anext(g);
    CHECK(v);
    printf("iteration %d first anext: %s took %d iterations\n", it, v, it - start);
    v = aio_anext(g);
    CHECK(v);
    printf("iteration %d second anext: %s\n", it, v);
    start = it;
    CHECK(aio_asyncgen_aclose(g) == 0);
    printf("iteration %d aclose returned None\n", it);
    printf("aclose took %d iterations\n", it - start);
    CHECK(aio_anext(g) == NULL);
    show("anext after aclose");
    CHECK(aio_asyncgen_aclose(g) == 0);
    printf("iteration %d aclose again returned None\n", it);
    aio_decref(g);

    aio_asyncgen *e = make(echo, NULL);
    printf("asend(None): %s\n", (const char *)aio_asyncgen_asend(e, NULL));
    printf("asend(1): %s\n", (const char *)aio_asyncgen_asend(e, (void *)1));
    aio_exc *key_error = aio_exc_new(aio_KeyError, "k");
    printf("athrow(KeyError): %s\n", (const char *)aio_asyncgen_athrow(e, key_error));
    aio_decref(key_error);
    printf("asend(2): %s\n", (const char *)aio_asyncgen_asend(e, (void *)2));
    CHECK(aio_asyncgen_aclose(e) == 0);
    aio_decref(e);

    aio_asyncgen *f = make(failing, NULL);
    printf("failing first: %s\n", (const char *)aio_anext(f));
    CHECK(aio_anext(f) == NULL);
    show("failing raised");
    CHECK(aio_anext(f) == NULL);
    show("failing after its error");
    aio_decref(f);

    aio_asyncgen *s = make(stubborn, NULL);
    printf("stubborn: %s\n", (const char *)aio_anext(s));
    CHECK(aio_asyncgen_aclose(s) < 0);
    show("stubborn aclose");
    aio_decref(s);
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    aio_task *m = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = main_coro});
    CHECK(m);
    aio_loop_run_until_complete(loop, m);
    CHECK(!aio_err_occurred());
    aio_decref(m);
    aio_future *shutdown = aio_loop_shutdown_asyncgens(loop);
    CHECK(shutdown);
    aio_loop_run_until_complete(loop, shutdown);
    CHECK(!aio_err_occurred());
    aio_decref(shutdown);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
