/* version_gates.c - the C twin of version_gates.py: at each target version,
 * a loop method, a parameter or a module function that version does not
 * have, and the behaviours that changed with a warning or an error between
 * 3.8 and 3.13; warnings are errors, as warnings.simplefilter("error").
 * The harness sets the target version and builds with every version's API
 * visible. */

#include <math.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conformance.h"

/* attempt(label, ...): "label: ok", or "label: Type: message" and false. */
static bool attempt(const char *label, bool failed)
{
    if (failed) {
        aio_exc *e = aio_err_fetch();
        printf("%s: %s\n", label, exc_line(e));
        aio_decref(e);
        return false;
    }
    printf("%s: ok\n", label);
    return true;
}

/* "  awaited: ..." or `done` for a future awaited. */
static void *await_or_report(aio_future *f, const char *done)
{
    void *result = aio_await(f);
    if (result == NULL && aio_err_occurred()) {
        aio_exc *e = aio_err_fetch();
        printf("  awaited: %s\n", exc_line(e));
        aio_decref(e);
    } else if (done != NULL) {
        printf("  %s\n", done);
    }
    return result;
}

static void *nothing(void *arg)
{
    (void)arg;
    return (void *)1;
}
AIO_NAME_CALLBACK(nothing);

static void *length(void *arg)
{
    return (void *)(uintptr_t)strlen(arg);
}
AIO_NAME_CALLBACK(length);

static aio_protocol *plain(void *arg)
{
    static aio_protocol p;
    (void)arg;
    return &p;
}
AIO_NAME_CALLBACK(plain);

static void *main_coro(void *arg)
{
    aio_loop *loop = arg;
    int pair[2];
    CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, pair) == 0);
    CHECK(send(pair[1], "x", 1, 0) == 1);
    aio_future *f = aio_loop_sock_recvfrom(loop, pair[0], 10);
    if (attempt("loop.sock_recvfrom", f == NULL)) {
        aio_datagram *d = aio_await(f);
        CHECK(d != NULL);
        printf("  got: b'%.*s'\n", (int)aio_bytes_size(d->data),
               (const char *)aio_bytes_data(d->data));
    }
    aio_decref(f);
    close(pair[0]);
    close(pair[1]);

    aio_context *ctx = aio_copy_context();
    aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){
                                                 .coro = nothing, .context = ctx});
    aio_decref(ctx);
    if (attempt("create_task(context=)", t == NULL))
        printf("  result: %d\n", (int)(uintptr_t)aio_await(t));
    aio_decref(t);
    t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = nothing, .name = "n"});
    if (attempt("create_task(name=)", t == NULL)) {
        printf("  name: %s\n", aio_task_get_name(t));
        aio_await(t);
    }
    aio_decref(t);

    void *n = aio_to_thread(length, "abc");
    if (attempt("asyncio.to_thread", n == NULL && aio_err_occurred() != NULL))
        printf("  result: %d\n", (int)(uintptr_t)n);
    aio_task_group *group = aio_task_group_new();
    attempt("asyncio.TaskGroup", group == NULL);
    aio_decref(group);
    aio_timeout *timeout = aio_timeout_after(1.0);
    attempt("asyncio.timeout", timeout == NULL);
    aio_decref(timeout);

    const int values[] = {AIO_TRUE, AIO_FALSE};
    const char *names[] = {"True", "False"};
    for (int i = 0; i < 2; i++) {
        char label[64];
        snprintf(label, sizeof label, "create_datagram_endpoint(reuse_address=%s)", names[i]);
        f = aio_loop_create_datagram_endpoint(
            loop, &(aio_loop_create_datagram_endpoint_args){
                      .protocol_factory = plain,
                      .local_addr = &(aio_address){.host = "127.0.0.1", .port = AIO_ZERO},
                      .reuse_address = values[i]});
        if (attempt(label, f == NULL)) {
            aio_transport_protocol *ep = await_or_report(f, "endpoint");
            if (ep != NULL)
                aio_transport_close(ep->transport);
        }
        aio_decref(f);
    }
    CHECK(aio_sleep(0) == 0);

    /* asyncio.sleep(nan) is a coroutine: what it raises comes at the await. */
    printf("sleep(nan): ok\n");
    if (aio_sleep(NAN) == 0) {
        printf("  slept\n");
    } else {
        aio_exc *e = aio_err_fetch();
        printf("  awaited: %s\n", exc_line(e));
        aio_decref(e);
    }
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    CHECK(aio_warnings_set_action(aio_Warning, AIO_WARN_ERROR) == 0);
    aio_loop *loop = aio_new_event_loop();
    CHECK(loop != NULL);
    aio_task *main_task = aio_loop_create_task(loop, &(aio_loop_create_task_args){
                                                         .coro = main_coro, .coro_arg = loop});
    CHECK(main_task != NULL);
    aio_loop_run_until_complete(loop, main_task);
    CHECK(!aio_err_occurred());
    aio_decref(main_task);
    aio_loop_close(loop);
    aio_decref(loop);

    CHECK(aio_set_event_loop_policy(NULL) == 0);
    aio_loop *l2 = aio_get_event_loop();
    if (attempt("get_event_loop()", l2 == NULL))
        aio_loop_close(l2);
    return 0;
}
