/* add_signal_handler(): the handler runs with its *args when the signal
 * arrives, two iterations after delivery (the wakeup byte is read by an I/O
 * callback in the next iteration, which queues the handler for the one
 * after); a second handler for the same signal replaces the first; invalid
 * numbers raise ValueError('invalid signal number N') (0, 32, 65 on Linux),
 * SIGKILL and SIGSTOP RuntimeError('sig N cannot be caught');
 * remove_signal_handler() returns True, then False, and checks the number.
 * A signal sent by another thread wakes a loop blocked in a long poll. */
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "conformance.h"

static aio_loop *loop;
static int it;

static void tick(void *arg)
{
    (void)arg;
    it++;
    if (it == 3) {
        printf("iteration %d os.kill(SIGUSR1)\n", it);
        kill(getpid(), SIGUSR1);
    }
    if (it == 8)
        aio_loop_stop(loop);
    else
        CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
}
AIO_NAME_CALLBACK(tick);

static void handler(void *name)
{
    printf("iteration %d handler %s\n", it, (const char *)name);
}
AIO_NAME_CALLBACK(handler);

static void report(const char *label, int rc, int is_bool)
{
    if (rc < 0)
        print_raised(label);
    else if (is_bool)
        printf("%s: returned %s\n", label, py_bool(rc));
    else
        printf("%s: returned None\n", label);
}

static void wake_up(void *arg)
{
    (void)arg;
    printf("signal handler: stop the loop\n");
    aio_loop_stop(loop);
}
AIO_NAME_CALLBACK(wake_up);

static void *send_later(void *arg)
{
    (void)arg;
    nanosleep(&(struct timespec){0, 200 * 1000 * 1000}, NULL);
    kill(getpid(), SIGUSR2);
    return NULL;
}

static void say(void *arg)
{
    printf("%s\n", (const char *)arg);
}
AIO_NAME_CALLBACK(say);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    report("add_signal_handler(SIGUSR1)", aio_loop_add_signal_handler(loop, SIGUSR1, handler, "first", NULL), 0);
    report("replace it", aio_loop_add_signal_handler(loop, SIGUSR1, handler, "second", NULL), 0);
    const int bad[] = {0, 32, 65, -1};
    for (int i = 0; i < 4; i++) {
        char label[64];
        snprintf(label, sizeof label, "add_signal_handler(%d)", bad[i]);
        report(label, aio_loop_add_signal_handler(loop, bad[i], handler, "x", NULL), 0);
    }
    report("add_signal_handler(SIGKILL)", aio_loop_add_signal_handler(loop, SIGKILL, handler, "x", NULL), 0);
    report("add_signal_handler(SIGSTOP)", aio_loop_add_signal_handler(loop, SIGSTOP, handler, "x", NULL), 0);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    CHECK(aio_loop_run_forever(loop) == 0);

    it = 0;
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    CHECK(aio_loop_run_forever(loop) == 0);

    CHECK(aio_loop_add_signal_handler(loop, SIGUSR2, wake_up, NULL, NULL) == 0);
    aio_timer_handle *far = aio_loop_call_later(loop, &(aio_loop_call_later_args){
        .delay = 3600, .callback = say, .args = "the hour passed (wrong)"});
    CHECK(far);
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, send_later, NULL) == 0);
    CHECK(aio_loop_run_forever(loop) == 0);
    pthread_join(thread, NULL);
    printf("woken by the signal; far timer pending: %s\n", py_bool(!aio_handle_cancelled(far)));
    report("remove_signal_handler(SIGUSR2)", aio_loop_remove_signal_handler(loop, SIGUSR2), 1);
    report("remove_signal_handler(SIGUSR1)", aio_loop_remove_signal_handler(loop, SIGUSR1), 1);
    report("remove it again", aio_loop_remove_signal_handler(loop, SIGUSR1), 1);
    report("remove_signal_handler(SIGHUP), never added", aio_loop_remove_signal_handler(loop, SIGHUP), 1);
    report("remove_signal_handler(0)", aio_loop_remove_signal_handler(loop, 0), 1);
    report("remove_signal_handler(SIGKILL)", aio_loop_remove_signal_handler(loop, SIGKILL), 1);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
