/* test_server_clients.c - the connections a Server accepted, as CPython
 * 3.12/3.13 treat them (base_events.py, Server): close_clients() and
 * abort_clients() (3.13), wait_closed() per target version (3.11, 3.12.0,
 * 3.12.1+), serve_forever()'s cancellation waiting for the connections
 * (3.12+), and the set of connections staying linear at scale.
 */
#define AIO_API_LEVEL AIO_PY_NEWEST
#include "server.h"
#include "server_support.h"

/* A loop at `target`, its server on 127.0.0.1 and n clients accepted. */
typedef struct fixture {
    trace t;
    aio_loop *loop;
    server_log log;
    aio_future *fut;
    aio_server *s;
    int port;
    int clients[8];
    int n;
} fixture;

static void setup(fixture *f, int target, int n)
{
    memset(f, 0, sizeof *f);
    assert_int_equal(aio_set_target_version(AIO_PY(3, 13)), 0); /* outside the loop too */
    f->loop = new_traced_loop_nodebug(&f->t);
    assert_int_equal(aio_loop_set_target_version(f->loop, target), 0);
    f->s = tcp_server(f->loop, &f->log, 0, &f->fut);
    f->port = port_of(aio_server_sockets(f->s)->fds[0]);
    f->n = n;
    for (int i = 0; i < n; i++) {
        f->clients[i] = tcp_client(f->port);
        assert_true(f->clients[i] >= 0);
    }
    for (int i = 0; i < 10 && f->log.made < n; i++)
        run_one_iteration(f->loop);
    assert_int_equal(f->log.made, n);
}

static void run_until_lost(fixture *f, int lost)
{
    for (int i = 0; i < 20 && f->log.lost < lost; i++)
        run_one_iteration(f->loop);
    assert_int_equal(f->log.lost, lost);
}

static void teardown(fixture *f)
{
    for (int i = 0; i < f->n; i++)
        if (f->clients[i] >= 0)
            close(f->clients[i]);
    aio_server_close(f->s);
    for (int i = 0; i < 5; i++)
        run_one_iteration(f->loop);
    aio_decref(f->fut);
    finish(f->loop);
}

/* The peer sees EOF (or a reset) once the server side ended. */
static bool peer_ended(int fd)
{
    char buf[64];
    if (!readable(fd))
        return false;
    ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    return r == 0 || (r < 0 && errno == ECONNRESET);
}

/* close_clients(): every attached connection closes; the server goes on
 * serving; one lost before is not touched again; a second call is a no-op. */
static void test_close_clients(void **state)
{
    (void)state;
    fixture f;
    setup(&f, AIO_PY(3, 13), 3);
    close(f.clients[0]); /* lost by itself first: detached */
    f.clients[0] = -1;
    run_until_lost(&f, 1);

    assert_int_equal(aio_server_close_clients(f.s), 0);
    check_no_exception();
    assert_int_equal(f.log.lost, 1); /* connection_lost() comes later */
    run_until_lost(&f, 3);
    assert_true(peer_ended(f.clients[1]));
    assert_true(peer_ended(f.clients[2]));
    assert_int_equal(aio_server_is_serving(f.s), 1);
    assert_int_equal(aio_server_close_clients(f.s), 0); /* none left */

    /* still accepting: a new client is closed by the next call */
    int c = tcp_client(f.port);
    for (int i = 0; i < 10 && f.log.made < 4; i++)
        run_one_iteration(f.loop);
    assert_int_equal(f.log.made, 4);
    assert_int_equal(aio_server_close_clients(f.s), 0);
    run_until_lost(&f, 4);
    assert_true(peer_ended(c));
    close(c);
    teardown(&f);
}

/* Fills the server side's write buffer of the last connection: the peer
 * reads nothing. */
static void fill_buffer(fixture *f)
{
    static char chunk[1 << 16];
    for (int i = 0; i < 64; i++)
        assert_int_equal(aio_transport_write(f->log.last, chunk, sizeof chunk), 0);
    run_one_iteration(f->loop);
    assert_true(aio_transport_get_write_buffer_size(f->log.last) > 0);
}

/* close() waits for the buffer to drain; abort() does not. */
static void test_abort_clients_drops_buffered_data(void **state)
{
    (void)state;
    fixture f;
    setup(&f, AIO_PY(3, 13), 1);
    fill_buffer(&f);
    assert_int_equal(aio_server_close_clients(f.s), 0);
    for (int i = 0; i < 3; i++)
        run_one_iteration(f.loop);
    assert_int_equal(f.log.lost, 0); /* still writing */
    assert_int_equal(aio_server_abort_clients(f.s), 0);
    run_until_lost(&f, 1);
    assert_non_null(strstr(f.log.t.text, "lost(None);"));
    teardown(&f);
}

/* Without clients, both are no-ops, on an open or a closed server. */
static void test_no_clients(void **state)
{
    (void)state;
    fixture f;
    setup(&f, AIO_PY(3, 13), 0);
    assert_int_equal(aio_server_close_clients(f.s), 0);
    assert_int_equal(aio_server_abort_clients(f.s), 0);
    aio_server_close(f.s);
    assert_int_equal(aio_server_close_clients(f.s), 0);
    assert_int_equal(aio_server_abort_clients(f.s), 0);
    assert_null(aio_server_close_clients(NULL) == 0 ? (void *)1 : NULL);
    assert_non_null(aio_err_occurred());
    aio_err_clear();
    teardown(&f);
}

/* On a closed server the connections it accepted stay until closed, and
 * close_clients() ends them: 3.13's shutdown is close(), close_clients(),
 * wait_closed(); wait_closed() waits for them (3.12.1+). */
static void test_shutdown_sequence(void **state)
{
    (void)state;
    fixture f;
    setup(&f, AIO_PY(3, 13), 2);
    assert_int_equal(aio_server_close(f.s), 0);
    aio_future *w = aio_server_wait_closed(f.s);
    assert_non_null(w);
    run_one_iteration(f.loop);
    assert_int_equal(aio_future_done(w), 0); /* connections open */
    assert_int_equal(aio_server_close_clients(f.s), 0);
    run_until_lost(&f, 2);
    assert_int_equal(aio_future_done(w), 1);
    aio_decref(w);
    /* _waiters is None now: at once */
    w = aio_server_wait_closed(f.s);
    assert_int_equal(aio_future_done(w), 1);
    aio_decref(w);
    teardown(&f);
}

/* wait_closed() per target: 3.11 is done at once after close(); 3.12.1+
 * waits for the connections even then; on an open server without
 * connections 3.12.0 is done at once, 3.12.1+ waits for close(). */
static void test_wait_closed_by_version(void **state)
{
    (void)state;
    fixture f;
    setup(&f, AIO_PY(3, 11), 1);
    aio_server_close(f.s);
    aio_future *w = aio_server_wait_closed(f.s);
    assert_int_equal(aio_future_done(w), 1);
    aio_decref(w);
    teardown(&f);

    setup(&f, AIO_PY_MICRO(3, 12, 1), 1);
    aio_server_close(f.s);
    w = aio_server_wait_closed(f.s);
    assert_int_equal(aio_future_done(w), 0);
    close(f.clients[0]);
    f.clients[0] = -1;
    run_until_lost(&f, 1);
    assert_int_equal(aio_future_done(w), 1);
    aio_decref(w);
    teardown(&f);

    setup(&f, AIO_PY(3, 12), 0);
    w = aio_server_wait_closed(f.s);
    assert_int_equal(aio_future_done(w), 1);
    aio_decref(w);
    teardown(&f);

    setup(&f, AIO_PY(3, 13), 0);
    w = aio_server_wait_closed(f.s);
    run_one_iteration(f.loop);
    assert_int_equal(aio_future_done(w), 0);
    aio_server_close(f.s);
    assert_int_equal(aio_future_done(w), 1);
    aio_decref(w);
    teardown(&f);
}

/* serve_forever() cancelled: close(), then `await wait_closed()`, which
 * from 3.12 on waits for the connections; cancelled again, it ends. */
static void test_serve_forever_cancel_waits_for_clients(void **state)
{
    (void)state;
    fixture f;
    setup(&f, AIO_PY(3, 13), 2);
    aio_future *forever = aio_server_serve_forever(f.s);
    assert_non_null(forever);
    run_one_iteration(f.loop);
    assert_int_equal(aio_future_cancel(forever, NULL), 1);
    run_one_iteration(f.loop);
    assert_int_equal(aio_server_is_serving(f.s), 0);
    assert_int_equal(aio_future_done(forever), 0); /* in wait_closed() */
    assert_int_equal(aio_server_close_clients(f.s), 0);
    run_until_lost(&f, 2);
    assert_int_equal(aio_future_done(forever), 0); /* resumes in the next iteration */
    run_one_iteration(f.loop);
    assert_int_equal(aio_future_cancelled(forever), 1);
    aio_decref(forever);
    teardown(&f);

    /* a second cancel() ends the wait */
    setup(&f, AIO_PY(3, 13), 1);
    forever = aio_server_serve_forever(f.s);
    run_one_iteration(f.loop);
    assert_int_equal(aio_future_cancel(forever, NULL), 1);
    run_one_iteration(f.loop);
    assert_int_equal(aio_future_done(forever), 0);
    assert_int_equal(aio_future_cancel(forever, &(aio_future_cancel_args){.msg = "again"}), 1);
    for (int i = 0; i < 3 && aio_future_done(forever) != 1; i++)
        run_one_iteration(f.loop);
    assert_int_equal(aio_future_cancelled(forever), 1);
    assert_int_equal(f.log.lost, 0); /* the connection stays */
    aio_decref(forever);
    teardown(&f);

    /* 3.11: cancelled in the next step, connections or not */
    setup(&f, AIO_PY(3, 11), 1);
    forever = aio_server_serve_forever(f.s);
    run_one_iteration(f.loop);
    assert_int_equal(aio_future_cancel(forever, NULL), 1);
    run_one_iteration(f.loop);
    assert_int_equal(aio_future_cancelled(forever), 1);
    aio_decref(forever);
    teardown(&f);
}

/* A serve_forever() future dropped while it waits in wait_closed() leaves
 * nothing behind (the wait's callback holds it borrowed). */
static void test_serve_forever_dropped_while_waiting(void **state)
{
    (void)state;
    fixture f;
    setup(&f, AIO_PY(3, 13), 1);
    aio_future *forever = aio_server_serve_forever(f.s);
    run_one_iteration(f.loop);
    aio_future_cancel(forever, NULL);
    run_one_iteration(f.loop);
    assert_int_equal(aio_future_done(forever), 0);
    aio_decref(forever);
    close(f.clients[0]);
    f.clients[0] = -1;
    run_until_lost(&f, 1);
    teardown(&f);
}

/* The factory of a connection whose node cannot be allocated: the next
 * allocation of the runtime after it (the node's) fails. */
static aio_protocol *factory_then_no_memory(void *arg)
{
    aio_protocol *p = echo_factory(arg);
    aio__fail_alloc_after = 0;
    return p;
}
AIO_NAME_CALLBACK(factory_then_no_memory);

/* Out of memory for the connection's node: the connection is refused as a
 * transport that could not be made (the protocol released, the socket
 * closed, nothing attached), and the server goes on. */
static void test_no_memory_for_the_node(void **state)
{
    (void)state;
    trace t;
    assert_int_equal(aio_set_target_version(AIO_PY(3, 13)), 0);
    aio_loop *loop = new_traced_loop_nodebug(&t);
    assert_int_equal(aio_loop_set_target_version(loop, AIO_PY(3, 13)), 0);
    server_log log = {0};
    aio_future *fut = aio_loop_create_server(loop, &(aio_loop_create_server_args){
                                                       .protocol_factory = factory_then_no_memory,
                                                       .protocol_factory_arg = &log,
                                                       .host = "127.0.0.1",
                                                       .port = AIO_ZERO});
    aio_server *s = server_of(loop, fut);
    int c = tcp_client(port_of(aio_server_sockets(s)->fds[0]));
    for (int i = 0; i < 10 && log.released == 0; i++)
        run_one_iteration(loop);
    aio__fail_alloc_after = -1;
    check_no_exception();
    assert_int_equal(log.factory_calls, 1);
    assert_int_equal(log.released, 1);
    assert_int_equal(log.made, 0);
    assert_int_equal(s->active_count, 0);
    assert_ptr_equal(s->clients.next, &s->clients);
    assert_true(peer_ended(c));
    close(c);
    assert_int_equal(aio_server_close_clients(s), 0);
    aio_server_close(s);
    aio_future *w = aio_server_wait_closed(s);
    assert_int_equal(aio_future_done(w), 1);
    aio_decref(w);
    run_one_iteration(loop);
    aio_decref(fut);
    finish(loop);
}

/* Below 3.13 a Server has neither: AttributeError (the server's loop's
 * target decides), and the connections stay. */
static void test_refused_before_313(void **state)
{
    (void)state;
    fixture f;
    setup(&f, AIO_PY(3, 12), 1);
    assert_int_equal(aio_server_close_clients(f.s), -1);
    assert_raised(aio_AttributeError, "'Server' object has no attribute 'close_clients'");
    assert_int_equal(aio_server_abort_clients(f.s), -1);
    assert_raised(aio_AttributeError, "'Server' object has no attribute 'abort_clients'");
    for (int i = 0; i < 3; i++)
        run_one_iteration(f.loop);
    assert_int_equal(f.log.lost, 0);
    teardown(&f);
}

/* 10^5 connections attach and detach in constant time each: the set is
 * a list whose nodes the connections hold. */
static void test_attach_detach_scale(void **state)
{
    (void)state;
    enum { N = 100000 };
    aio_loop *loop = new_loop();
    aio_server *s = aio__server_new(loop, NULL, 0, echo_factory, NULL, 100);
    assert_non_null(s);
    aio__server_client **nodes = calloc(N, sizeof *nodes);
    assert_non_null(nodes);
    double t0 = monotonic_now();
    for (int i = 0; i < N; i++) {
        nodes[i] = aio__server_client_new(s);
        assert_non_null(nodes[i]);
        aio__server_attach(nodes[i], (aio_transport *)(uintptr_t)(i + 1)); /* never called */
    }
    assert_int_equal(s->active_count, N);
    /* detach from the middle outwards, then the rest */
    for (int i = N / 2; i < N; i++)
        aio__server_detach(nodes[i]);
    for (int i = 0; i < N / 2; i++)
        aio__server_detach(nodes[i]);
    double elapsed = monotonic_now() - t0;
    assert_int_equal(s->active_count, 0);
    assert_ptr_equal(s->clients.next, &s->clients);
    assert_true(elapsed < 1.0);
    free(nodes);
    aio_server_close(s);
    aio_decref(s);
    finish(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_close_clients),
    cmocka_unit_test(test_abort_clients_drops_buffered_data),
    cmocka_unit_test(test_no_clients),
    cmocka_unit_test(test_shutdown_sequence),
    cmocka_unit_test(test_wait_closed_by_version),
    cmocka_unit_test(test_serve_forever_cancel_waits_for_clients),
    cmocka_unit_test(test_serve_forever_dropped_while_waiting),
    cmocka_unit_test(test_no_memory_for_the_node),
    cmocka_unit_test(test_attach_detach_scale),
    cmocka_unit_test(test_refused_before_313),
};

AIO_TEST_MAIN(tests)
