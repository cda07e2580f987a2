/* scenario.h - what every packaging test runs, through a table of the
 * library's functions: filled by the linker in a program built against the
 * installed library (consumer.c) or the static one in a plugin (plugin.c),
 * by dlsym() in a program that never links it (dlopen_test.c).
 *
 * A fresh loop runs a chain of call_soon() callbacks, the last of which
 * calls stop(); then a task that yields with sleep(0) and sleeps 1 ms runs
 * to completion under run_until_complete(); then the loop is closed. */
#ifndef CASYNCIO_PACKAGING_SCENARIO_H
#define CASYNCIO_PACKAGING_SCENARIO_H

#include <stdio.h>
#include <string.h>

#include <casyncio.h>

struct casyncio_api {
    aio_loop *(*new_event_loop)(void);
    aio_handle *(*call_soon)(aio_loop *loop, const aio_loop_call_soon_args *args);
    int (*run_forever)(aio_loop *loop);
    int (*stop)(aio_loop *loop);
    aio_task *(*create_task)(aio_loop *loop, const aio_loop_create_task_args *args);
    void *(*run_until_complete)(aio_loop *loop, aio_future *future);
    int (*sleep)(double delay);
    int (*close)(aio_loop *loop);
    void (*decref)(void *obj);
    void (*err_print)(void);
};

/* The table of a program or plugin linked against casyncio: the assignments
 * check the header's prototypes against the table's. */
#define CASYNCIO_API_LINKED                                                            \
    {aio_new_event_loop, aio_loop_call_soon, aio_loop_run_forever, aio_loop_stop,      \
     aio_loop_create_task, aio_loop_run_until_complete, aio_sleep, aio_loop_close,     \
     aio_decref, aio_err_print}

#define SCENARIO_CALLBACKS 5

struct scenario {
    const struct casyncio_api *api;
    aio_loop *loop;
    int calls;
    int yields;
};

static void scenario_callback(void *arg)
{
    struct scenario *s = arg;
    if (++s->calls < SCENARIO_CALLBACKS) {
        if (s->api->call_soon(s->loop, &(aio_loop_call_soon_args){.callback = scenario_callback,
                                                                   .args = s}) == NULL)
            s->api->err_print();
    } else {
        s->api->stop(s->loop);
    }
}

static void *scenario_coro(void *arg)
{
    struct scenario *s = arg;
    for (int i = 0; i < 3; i++) {
        if (s->api->sleep(0) < 0)
            return NULL;
        s->yields++;
    }
    if (s->api->sleep(0.001) < 0)
        return NULL;
    return "done";
}

/* 0 when everything happened as it should; else -1, with a message on
 * stderr. who names the caller in the messages. */
static int scenario_run(const struct casyncio_api *api, const char *who)
{
    struct scenario s = {api, NULL, 0, 0};
    s.loop = api->new_event_loop();
    if (s.loop == NULL) {
        api->err_print();
        return -1;
    }
    int ok = api->call_soon(s.loop, &(aio_loop_call_soon_args){.callback = scenario_callback,
                                                                .args = &s}) != NULL &&
             api->run_forever(s.loop) == 0;
    const char *result = NULL;
    if (ok) {
        aio_task *task = api->create_task(
            s.loop, &(aio_loop_create_task_args){.coro = scenario_coro, .coro_arg = &s});
        if (task != NULL) {
            result = api->run_until_complete(s.loop, task);
            api->decref(task);
        }
        ok = result != NULL;
    }
    if (!ok)
        api->err_print();
    if (api->close(s.loop) < 0) {
        api->err_print();
        ok = 0;
    }
    api->decref(s.loop);
    if (!ok || s.calls != SCENARIO_CALLBACKS || s.yields != 3 || strcmp(result, "done") != 0) {
        fprintf(stderr, "%s: FAIL: %d callbacks (of %d), %d yields (of 3), result %s\n", who,
                s.calls, SCENARIO_CALLBACKS, s.yields, result != NULL ? result : "NULL");
        return -1;
    }
    printf("%s: casyncio %d.%d.%d: %d callbacks, a task's result '%s'\n", who,
           CASYNCIO_VERSION_MAJOR, CASYNCIO_VERSION_MINOR, CASYNCIO_VERSION_PATCH, s.calls,
           result);
    return 0;
}

#endif
