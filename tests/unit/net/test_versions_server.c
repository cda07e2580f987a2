/* test_versions_server.c - binding by target version: the reason in
 * "error while attempting to bind on address ...", strerror lowercased up
 * to 3.12 and str(exc) lowercased from 3.13 ("[errno 98] ..."), for
 * create_server() and create_connection(local_addr=); 3.13's create_server()
 * skipping an address bind() refuses with EADDRNOTAVAIL (logged in debug
 * mode) and failing with "could not bind on any address out of [...]"
 * when none is left; Server.wait_closed() (at once on a closed server up
 * to 3.11; at once with no connection in 3.12.0; waiting for close and the
 * last connection from 3.12.1); create_unix_server()'s socket file, left
 * in place by close() up to 3.12 and removed from 3.13 (unless it was
 * replaced; an unbound sock= is refused by 3.13's cleanup check). Checked
 * beside CPython 3.11.7, 3.12.1 and
 * 3.13.0 (3.12.0 from its source).
 */
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "server_support.h"

static aio_future *serve(aio_loop *loop, server_log *log, const char *host,
                         const char *const *hosts, int port)
{
    return aio_loop_create_server(loop, &(aio_loop_create_server_args){
                                            .protocol_factory = echo_factory,
                                            .protocol_factory_arg = log,
                                            .host = host,
                                            .hosts = hosts,
                                            .port = port});
}

static void expect_failure(aio_loop *loop, aio_future *fut, int err, const char *msg)
{
    assert_non_null(fut);
    assert_null(await_result(loop, fut));
    aio_exc *exc = aio_err_fetch();
    assert_non_null(exc);
    assert_true(aio_exc_isinstance(exc, aio_OSError));
    assert_int_equal(aio_exc_errno(exc), err);
    assert_string_equal(aio_exc_str(exc), msg);
    aio_decref(exc);
    aio_decref(fut);
}

static void test_address_in_use(void **state)
{
    (void)state;
    static const struct {
        int version;
        const char *reason;
    } cases[] = {{AIO_PY(3, 8), "address already in use"},
                 {AIO_PY(3, 12), "address already in use"},
                 {AIO_PY(3, 13), "[errno 98] address already in use"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aio_loop *loop = new_loop_at(cases[i].version);
        server_log log = {0};
        aio_future *f1;
        aio_server *s = tcp_server(loop, &log, 0, &f1);
        int port = port_of(aio_server_sockets(s)->fds[0]);
        char want[200];
        snprintf(want, sizeof want,
                 "[Errno 98] error while attempting to bind on address ('127.0.0.1', %d): %s",
                 port, cases[i].reason);
        expect_failure(loop, serve(loop, &log, "127.0.0.1", NULL, port), EADDRINUSE, want);
        /* create_connection(local_addr=) words it the same */
        aio_future *fc = aio_loop_create_connection(
            loop, &(aio_loop_create_connection_args){
                      .protocol_factory = echo_factory, .protocol_factory_arg = &log,
                      .host = "127.0.0.1", .port = port,
                      .local_addr = &(aio_address){.host = "127.0.0.1", .port = port}});
        expect_failure(loop, fc, EADDRINUSE, want);
        server_done(loop, s, f1);
        finish(loop);
    }
}

/* 192.0.2.1 (TEST-NET-1) is no local address: bind() says EADDRNOTAVAIL. */
static void test_address_not_available(void **state)
{
    (void)state;
    aio_loop *loop = new_loop_at(AIO_PY(3, 12));
    server_log log = {0};
    expect_failure(loop, serve(loop, &log, "192.0.2.1", NULL, AIO_ZERO), EADDRNOTAVAIL,
                   "[Errno 99] error while attempting to bind on address ('192.0.2.1', 0): "
                   "cannot assign requested address");
    static const char *const both[] = {"127.0.0.1", "192.0.2.1", NULL};
    expect_failure(loop, serve(loop, &log, NULL, both, AIO_ZERO), EADDRNOTAVAIL,
                   "[Errno 99] error while attempting to bind on address ('192.0.2.1', 0): "
                   "cannot assign requested address");
    finish(loop);

    loop = new_loop_at(AIO_PY(3, 13));
    expect_failure(loop, serve(loop, &log, "192.0.2.1", NULL, AIO_ZERO), 0,
                   "could not bind on any address out of [('192.0.2.1', 0)]");
    /* the address left serves alone; debug mode logs the one skipped */
    aio_loop_set_debug(loop, true);
    log_record rec;
    log_record_start(&rec);
    aio_future *f = serve(loop, &log, NULL, both, AIO_ZERO);
    aio_server *s = server_of(loop, f);
    log_record_stop();
    assert_int_equal(aio_server_sockets(s)->len, 1);
    assert_int_equal(rec.count, 1);
    assert_int_equal(rec.level, AIO_LOG_WARNING);
    assert_string_equal(rec.message, "error while attempting to bind on address "
                                     "('192.0.2.1', 0): [errno 99] cannot assign requested "
                                     "address");
    server_done(loop, s, f);
    finish(loop);
}

static void test_wait_closed(void **state)
{
    (void)state;
    static const struct {
        int version;
        int idle_open, closed_with_client; /* done at once? */
    } cases[] = {{AIO_PY(3, 8), 0, 1},
                 {AIO_PY(3, 11), 0, 1},
                 {AIO_PY(3, 12), 1, 0},
                 {AIO_PY_MICRO(3, 12, 1), 0, 0},
                 {AIO_PY(3, 13), 0, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aio_loop *loop = new_loop_at(cases[i].version);
        server_log log = {0};
        aio_future *fut;
        aio_server *s = tcp_server(loop, &log, 0, &fut);
        aio_future *w1 = aio_server_wait_closed(s);
        assert_int_equal(aio_future_done(w1), cases[i].idle_open);
        int c = tcp_client(port_of(aio_server_sockets(s)->fds[0]));
        for (int n = 0; n < 5 && log.made == 0; n++)
            run_one_iteration(loop);
        assert_int_equal(log.made, 1);
        aio_future *w2 = aio_server_wait_closed(s);
        assert_int_equal(aio_future_done(w2), 0);
        aio_server_close(s);
        aio_future *w3 = aio_server_wait_closed(s);
        assert_int_equal(aio_future_done(w3), cases[i].closed_with_client);
        run_one_iteration(loop);
        assert_int_equal(aio_future_done(w2), 0);
        close(c);
        for (int n = 0; n < 5 && log.lost == 0; n++)
            run_one_iteration(loop);
        assert_int_equal(log.lost, 1);
        assert_int_equal(aio_future_done(w1), 1);
        assert_int_equal(aio_future_done(w2), 1);
        assert_int_equal(aio_future_done(w3), 1);
        aio_decref(w1);
        aio_decref(w2);
        aio_decref(w3);
        aio_decref(fut);
        run_one_iteration(loop);
        finish(loop);
    }
}

static aio_server *unix_server(aio_loop *loop, server_log *log, const char *path, int sock,
                               aio_future **fut)
{
    *fut = aio_loop_create_unix_server(loop, &(aio_loop_create_unix_server_args){
                                                 .protocol_factory = echo_factory,
                                                 .protocol_factory_arg = log,
                                                 .path = path,
                                                 .sock = sock});
    return server_of(loop, *fut);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void test_unix_socket_cleanup(void **state)
{
    (void)state;
    char dir[] = "/tmp/aio-vers-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/s", dir);
    server_log log = {0};
    aio_future *f;

    aio_loop *loop = new_loop_at(AIO_PY(3, 12));
    aio_server *s = unix_server(loop, &log, path, 0, &f);
    assert_int_equal(aio_server_close(s), 0);
    assert_true(exists(path)); /* left in place */
    server_done(loop, s, f);
    finish(loop);

    loop = new_loop_at(AIO_PY(3, 13));
    s = unix_server(loop, &log, path, 0, &f);
    assert_true(exists(path));
    assert_int_equal(aio_server_close(s), 0);
    assert_false(exists(path)); /* removed */
    server_done(loop, s, f);

    /* a file put in its place meanwhile stays */
    s = unix_server(loop, &log, path, 0, &f);
    assert_int_equal(unlink(path), 0);
    FILE *other = fopen(path, "w");
    assert_non_null(other);
    fclose(other);
    assert_int_equal(aio_server_close(s), 0);
    assert_true(exists(path));
    server_done(loop, s, f);
    assert_int_equal(unlink(path), 0);

    /* a bound sock= is cleaned up too; an unbound one is refused */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
    s = unix_server(loop, &log, NULL, fd, &f);
    assert_int_equal(aio_server_close(s), 0);
    assert_false(exists(path));
    server_done(loop, s, f);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_null(aio_loop_create_unix_server(loop, &(aio_loop_create_unix_server_args){
                                                      .protocol_factory = echo_factory,
                                                      .protocol_factory_arg = &log,
                                                      .sock = fd}));
    assert_raised(aio_IndexError, "string index out of range");
    close(fd);
    finish(loop);

    /* 3.12 takes the unbound socket, which listen() then refuses */
    loop = new_loop_at(AIO_PY(3, 12));
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_null(aio_loop_create_unix_server(loop, &(aio_loop_create_unix_server_args){
                                                      .protocol_factory = echo_factory,
                                                      .protocol_factory_arg = &log,
                                                      .sock = fd}));
    assert_raised(aio_OSError, "[Errno 22] Invalid argument");
    finish(loop);
    rmdir(dir);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_unix_socket_cleanup),
    cmocka_unit_test(test_wait_closed),
    cmocka_unit_test(test_address_in_use),
    cmocka_unit_test(test_address_not_available),
};

AIO_TEST_MAIN(tests)
