/* test_versions_streams.c - a server stream's client_connected_cb task by
 * target version: up to 3.10 nothing watches it (its failure stays the
 * task's; the transport stays open); from 3.11 a failure is reported
 * ("Unhandled exception in client_connected_cb") and closes the
 * transport; a cancelled task raises CancelledError out of the done
 * callback in 3.11 and 3.12 (the loop reports "Exception in callback
 * ..."), and closes the transport quietly from 3.13. Checked against
 * CPython 3.10.13, 3.12.1 and 3.13.0's streams.py.
 */
#include <sys/socket.h>

#include "test_support.h"

static aio_protocol *give_protocol(void *arg)
{
    return arg;
}
AIO_NAME_CALLBACK(give_protocol);

static void *fails_at_once(aio_stream_reader *reader, aio_stream_writer *writer, void *arg)
{
    (void)reader;
    (void)writer;
    (void)arg;
    aio_err_set(aio_ValueError, "boom");
    return NULL;
}
AIO_NAME_CALLBACK(fails_at_once);

static void *cancels_itself(aio_stream_reader *reader, aio_stream_writer *writer, void *arg)
{
    (void)reader;
    (void)writer;
    (void)arg;
    aio_task_cancel(aio_current_task(aio_get_running_loop()), NULL);
    aio_sleep(0); /* CancelledError */
    return NULL;
}
AIO_NAME_CALLBACK(cancels_itself);

typedef struct scenario {
    aio_client_connected_cb cb;
    handler_report *rep;
    int closing;   /* the server side's writer is_closing() after a while */
} scenario;

static void *serve(void *arg)
{
    scenario *sc = arg;
    aio_loop *loop = aio_get_running_loop();
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    aio_stream_reader *r = aio_stream_reader_new(&(aio_stream_reader_args){.loop = loop});
    aio_protocol *p = aio_stream_reader_protocol_new(&(aio_stream_reader_protocol_args){
        .stream_reader = r, .client_connected_cb = sc->cb});
    aio_future *fut = aio_loop_connect_accepted_socket(
        loop, &(aio_loop_connect_accepted_socket_args){
                  .protocol_factory = give_protocol, .protocol_factory_arg = p, .sock = sv[0]});
    const aio_transport_protocol *tp = aio_await(fut);
    assert_non_null(tp);
    aio_transport *t = tp->transport;
    for (int i = 0; i < 5; i++)
        assert_int_equal(aio_sleep(0), 0);
    sc->closing = aio_transport_is_closing(t);
    if (!sc->closing)
        aio_transport_close(t);
    for (int i = 0; i < 3; i++)
        assert_int_equal(aio_sleep(0), 0);
    aio_decref(fut);
    aio_decref(r);
    close(sv[1]);
    return NULL;
}

static void run_scenario(int version, scenario *sc)
{
    aio_loop *loop = new_loop();
    assert_int_equal(aio_loop_set_target_version(loop, version), 0);
    aio_loop_set_exception_handler(loop, report_handler, sc->rep);
    run_coro(loop, serve, sc);
    finish(loop);
}

static void test_failing_client_cb(void **state)
{
    (void)state;
    handler_report rep = {0};
    scenario sc = {fails_at_once, &rep, -1};
    run_scenario(AIO_PY(3, 10), &sc);
    assert_int_equal(sc.closing, 0);
    /* only the task's own "never retrieved", when it goes */
    assert_true(rep.calls <= 1);
    if (rep.calls == 1)
        assert_string_equal(rep.message, "Task exception was never retrieved");

    memset(&rep, 0, sizeof rep);
    sc = (scenario){fails_at_once, &rep, -1};
    run_scenario(AIO_PY(3, 11), &sc);
    assert_int_equal(sc.closing, 1);
    assert_int_equal(rep.calls, 1);
    assert_string_equal(rep.message, "Unhandled exception in client_connected_cb");
    assert_string_equal(rep.exception, "ValueError('boom')");
}

static void test_cancelled_client_cb(void **state)
{
    (void)state;
    handler_report rep = {0};
    scenario sc = {cancels_itself, &rep, -1};
    run_scenario(AIO_PY(3, 12), &sc);
    assert_int_equal(sc.closing, 0);
    assert_int_equal(rep.calls, 1);
    assert_memory_equal(rep.message, "Exception in callback ", strlen("Exception in callback "));
    assert_string_equal(rep.exception, "CancelledError()");

    memset(&rep, 0, sizeof rep);
    sc = (scenario){cancels_itself, &rep, -1};
    run_scenario(AIO_PY(3, 13), &sc);
    assert_int_equal(sc.closing, 1);
    assert_int_equal(rep.calls, 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_failing_client_cb),
    cmocka_unit_test(test_cancelled_client_cb),
};

AIO_TEST_MAIN(tests)
