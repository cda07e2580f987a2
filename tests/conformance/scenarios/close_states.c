/* close(): refused while running (RuntimeError 'Cannot close a running event
 * loop'); idempotent; is_closed() reports it; pending callbacks and timers
 * are dropped without running and without being marked cancelled; afterwards
 * scheduling, running and adding readers/writers/signal handlers raise
 * RuntimeError('Event loop is closed'), while remove_reader(),
 * remove_writer() and remove_signal_handler() just return False. */
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conformance.h"

static aio_loop *loop;

static void say(void *arg)
{
    printf("%s\n", (const char *)arg);
}
AIO_NAME_CALLBACK(say);

static void report_int(const char *label, int rc, int is_bool)
{
    if (rc < 0)
        print_raised(label);
    else if (is_bool)
        printf("%s: returned %s\n", label, py_bool(rc));
    else
        printf("%s: returned None\n", label);
}

static void report_handle(const char *label, void *h)
{
    if (h == NULL)
        print_raised(label);
    else
        printf("%s: returned a handle\n", label);
}

static void inside(void *arg)
{
    (void)arg;
    report_int("close() while running", aio_loop_close(loop), 0);
    printf("is_closed while running: %s is_running: %s\n", py_bool(aio_loop_is_closed(loop)),
           py_bool(aio_loop_is_running(loop)));
    aio_loop_stop(loop);
}
AIO_NAME_CALLBACK(inside);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = inside}));
    CHECK(aio_loop_run_forever(loop) == 0);
    printf("is_closed before close: %s\n", py_bool(aio_loop_is_closed(loop)));
    aio_handle *pending = aio_loop_call_soon(loop, &(aio_loop_call_soon_args){
        .callback = say, .args = "pending callback ran (wrong)"});
    aio_timer_handle *timer = aio_loop_call_later(loop, &(aio_loop_call_later_args){
        .delay = 0, .callback = say, .args = "pending timer ran (wrong)"});
    CHECK(pending && timer);
    aio_incref(pending); /* kept past close() to ask cancelled() */
    aio_incref(timer);
    report_int("close()", aio_loop_close(loop), 0);
    printf("is_closed: %s is_running: %s\n", py_bool(aio_loop_is_closed(loop)),
           py_bool(aio_loop_is_running(loop)));
    report_int("close() again", aio_loop_close(loop), 0);
    printf("pending handles cancelled: %s %s\n", py_bool(aio_handle_cancelled(pending)),
           py_bool(aio_handle_cancelled(timer)));
    aio_decref(pending);
    aio_decref(timer);

    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    report_handle("call_soon", aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = say, .args = "x"}));
    report_handle("call_later", aio_loop_call_later(loop, &(aio_loop_call_later_args){
        .delay = 1, .callback = say, .args = "x"}));
    report_handle("call_at", aio_loop_call_at(loop, &(aio_loop_call_at_args){
        .when = aio_loop_time(loop) + 1, .callback = say, .args = "x"}));
    report_handle("call_soon_threadsafe", aio_loop_call_soon_threadsafe(loop,
        &(aio_loop_call_soon_threadsafe_args){.callback = say, .args = "x"}));
    report_int("run_forever", aio_loop_run_forever(loop), 0);
    aio_future *fut = aio_loop_create_future(loop);
    CHECK(fut);
    void *result = aio_loop_run_until_complete(loop, fut);
    (void)result;
    print_raised("run_until_complete");
    aio_decref(fut);
    report_int("add_reader", aio_loop_add_reader(loop, sv[0], say, NULL, NULL), 0);
    report_int("add_writer", aio_loop_add_writer(loop, sv[0], say, NULL, NULL), 0);
    report_int("add_signal_handler", aio_loop_add_signal_handler(loop, SIGUSR1, say, NULL, NULL), 0);
    report_int("add_signal_handler(0)", aio_loop_add_signal_handler(loop, 0, say, NULL, NULL), 0);
    report_int("remove_reader", aio_loop_remove_reader(loop, sv[0]), 1);
    report_int("remove_writer", aio_loop_remove_writer(loop, sv[0]), 1);
    report_int("remove_signal_handler", aio_loop_remove_signal_handler(loop, SIGUSR1), 1);
    report_int("stop", aio_loop_stop(loop), 0);
    close(sv[0]);
    close(sv[1]);
    aio_decref(loop);
    return 0;
}
