/* Loops and threads: in a thread the program starts itself (a C thread; in
 * Python a _thread thread, which threading names 'Dummy-1'),
 * get_running_loop() raises 'no running event loop', get_event_loop()
 * creates nothing and raises "There is no current event loop in thread
 * 'Dummy-1'.", and add_signal_handler() raises RuntimeError('set_wakeup_fd
 * only works in main thread of the main interpreter'); set_event_loop()
 * makes a loop current for that thread only. Each thread has its own
 * running loop: a second loop runs in the thread while the main one runs,
 * and reports back with call_soon_threadsafe(). */
#include <pthread.h>
#include <signal.h>

#include "conformance.h"

static aio_loop *main_loop;

static void report_ptr(const char *label, void *value)
{
    if (value == NULL)
        print_raised(label);
    else
        printf("%s: returned a loop\n", label);
}

static void report(void *text)
{
    printf("main loop got: %s\n", (const char *)text);
    aio_loop_stop(main_loop);
}
AIO_NAME_CALLBACK(report);

static void in_thread_loop(void *arg)
{
    aio_loop *loop = arg;
    printf("thread loop: get_running_loop() is its loop: %s\n", py_bool(aio_get_running_loop() == loop));
    CHECK(aio_loop_call_soon_threadsafe(main_loop, &(aio_loop_call_soon_threadsafe_args){
        .callback = report, .args = "hello from the thread's loop"}));
    aio_loop_stop(loop);
}
AIO_NAME_CALLBACK(in_thread_loop);

static void nothing(void *arg)
{
    (void)arg;
}
AIO_NAME_CALLBACK(nothing);

static void *thread_main(void *arg)
{
    (void)arg;
    report_ptr("thread: get_running_loop()", aio_get_running_loop());
    report_ptr("thread: get_event_loop()", aio_get_event_loop());
    aio_loop *loop = aio_new_event_loop();
    CHECK(loop);
    if (aio_loop_add_signal_handler(loop, SIGUSR1, nothing, NULL, NULL) < 0)
        print_raised("thread: add_signal_handler()");
    else
        printf("thread: add_signal_handler(): returned None\n");
    CHECK(aio_set_event_loop(loop) == 0);
    printf("thread: get_event_loop() is the set loop: %s\n", py_bool(aio_get_event_loop() == loop));
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = in_thread_loop, .args = loop}));
    CHECK(aio_loop_run_forever(loop) == 0);
    CHECK(aio_set_event_loop(NULL) == 0);
    aio_loop_close(loop);
    aio_decref(loop);
    return NULL;
}

static pthread_t thread;

static void start(void *arg)
{
    (void)arg;
    printf("main loop running: %s\n", py_bool(aio_loop_is_running(main_loop)));
    CHECK(pthread_create(&thread, NULL, thread_main, NULL) == 0);
}
AIO_NAME_CALLBACK(start);

int main(void)
{
    main_loop = aio_new_event_loop();
    CHECK(main_loop);
    CHECK(aio_loop_call_soon(main_loop, &(aio_loop_call_soon_args){.callback = start}));
    CHECK(aio_loop_call_later(main_loop, &(aio_loop_call_later_args){
        .delay = 5, .callback = report, .args = "timeout (wrong)"}));
    CHECK(aio_loop_run_forever(main_loop) == 0);
    pthread_join(thread, NULL);
    printf("main: get_running_loop() raises after the run\n");
    report_ptr("main: get_running_loop()", aio_get_running_loop());
    aio_loop_close(main_loop);
    aio_decref(main_loop);
    return 0;
}
