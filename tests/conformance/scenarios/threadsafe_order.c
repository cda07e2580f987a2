/* call_soon_threadsafe() from the loop's own thread, interleaved with
 * call_soon(), keeps the order of scheduling - both before the loop runs and
 * from a running callback; and callbacks another thread schedules while the
 * loop is not running are queued in the order they were scheduled, after
 * those scheduled before them. */
#include <pthread.h>

#include "conformance.h"

static aio_loop *loop;
static char lines[64][64];
static int nlines;

static void say(void *arg)
{
    printf("%s\n", (const char *)arg);
}
AIO_NAME_CALLBACK(say);

static void *line(const char *tag, const char *what)
{
    snprintf(lines[nlines], sizeof lines[0], "%s %s", tag, what);
    return lines[nlines++];
}

static void soon(void *arg)
{
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = say, .args = arg}));
}

static void threadsafe(void *arg)
{
    CHECK(aio_loop_call_soon_threadsafe(loop, &(aio_loop_call_soon_threadsafe_args){
        .callback = say, .args = arg}));
}

static void interleave(void *tag)
{
    soon(line(tag, "soon 1"));
    threadsafe(line(tag, "threadsafe 2"));
    soon(line(tag, "soon 3"));
    threadsafe(line(tag, "threadsafe 4"));
    soon(line(tag, "soon 5"));
}
AIO_NAME_CALLBACK(interleave);

static void stop(void *arg)
{
    aio_loop_stop(arg);
}
AIO_NAME_CALLBACK(stop);

static void *other_thread(void *arg)
{
    (void)arg;
    static const char *const names[] = {"thread: 0", "thread: 1", "thread: 2"};
    for (int i = 0; i < 3; i++)
        threadsafe((void *)names[i]);
    return NULL;
}

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    interleave("before run:");
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = interleave, .args = "in a callback:"}));
    soon("before run: soon 6");
    CHECK(aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = 0.1, .callback = stop, .args = loop}));
    CHECK(aio_loop_run_forever(loop) == 0);

    soon("main: soon A");
    pthread_t t;
    CHECK(pthread_create(&t, NULL, other_thread, NULL) == 0);
    pthread_join(t, NULL);
    soon("main: soon B");
    threadsafe("main: threadsafe C");
    aio_loop_stop(loop);
    CHECK(aio_loop_run_forever(loop) == 0);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
