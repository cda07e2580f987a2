/* glue_harness.c - runs the glue generated from the fixture spec.
 *
 * Built by test_generate.py with the golden src/glue.c and src/stubs.c. It
 * stands in for the runtime: the exception functions the glue calls, and the
 * impl functions the fixture's status.toml says are implemented, which print
 * the resolved arguments they receive. The test compares the output.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "casyncio.h"
#include "impl.h"

const aio_exc_type aio_TypeError[1] = {{"TypeError", NULL, NULL, NULL}};
const aio_exc_type aio_RuntimeError[1] = {{"RuntimeError", NULL, NULL, NULL}};
const aio_exc_type aio_NotImplementedError[1] = {{"NotImplementedError", NULL, NULL, NULL}};
const aio_exc_type aio_AttributeError[1] = {{"AttributeError", NULL, NULL, NULL}};
const aio_exc_type aio_AssertionError[1] = {{"AssertionError", NULL, NULL, NULL}};

static const aio_exc_type *err_type;
static char err_msg[256];

void aio_err_set(const aio_exc_type *type, const char *msg)
{
    err_type = type;
    snprintf(err_msg, sizeof err_msg, "%s", msg);
}

void aio_err_format(const aio_exc_type *type, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    err_type = type;
    vsnprintf(err_msg, sizeof err_msg, fmt, ap);
    va_end(ap);
}

/* Prints and clears the current exception. */
static void print_err(const char *what)
{
    if (err_type)
        printf("%s: %s: %s\n", what, err_type->name, err_msg);
    else
        printf("%s: no exception\n", what);
    err_type = NULL;
}

static aio_loop *const LOOP = (aio_loop *)&err_type;  /* any non-NULL pointer */
static double slow_callback_duration = 0.1;
static bool closed;

/* The state check create_server's glue runs before its arguments'. */
int aio__loop_check_closed(aio_loop *loop)
{
    (void)loop;
    if (closed) {
        aio_err_set(aio_RuntimeError, "Event loop is closed");
        return -1;
    }
    return 0;
}

/* The target version the version gates compare. */
static int target = AIO_PY(3, 11);

int aio_loop_get_target_version(aio_loop *loop)
{
    (void)loop;
    return target;
}

int aio__current_target_version(void)
{
    return target;
}

aio_loop *aio__get_running_loop(void)
{
    return LOOP;
}

int aio__wait_mode(const aio__wait_mode_args *args)
{
    printf("wait_mode: return_when=%d stack_size=%zu\n", args->return_when, args->stack_size);
    return 0;
}

aio_timer_handle *aio__loop_call_later(aio_loop *loop, const aio__loop_call_later_args *args)
{
    (void)loop;
    /* none_check = "runtime": the glue passed a NULL callback on. */
    if (args->callback == NULL) {
        aio_err_set(aio_TypeError, "a callable object was expected by call_later(), got None");
        return NULL;
    }
    printf("call_later: delay=%g args=%s context=%s\n", args->delay,
           args->args ? "set" : "NULL", args->context ? "set" : "NULL");
    return (aio_timer_handle *)LOOP;
}

static void print_int(const char *name, int value, bool is_none)
{
    if (is_none)
        printf(" %s=None", name);
    else
        printf(" %s=%d", name, value);
}

static void print_bool(const char *name, bool value, bool is_none)
{
    printf(" %s=%s", name, is_none ? "None" : value ? "True" : "False");
}

aio_future *aio__loop_create_server(aio_loop *loop, const aio__loop_create_server_args *a)
{
    (void)loop;
    printf("create_server:");
    printf(" host=%s", a->host ? a->host : "None");
    print_int("port", a->port, a->port_is_none);
    print_int("family", a->family, false);
    print_int("flags", a->flags, false);
    print_int("sock", a->sock, a->sock_is_none);
    print_int("backlog", a->backlog, false);
    print_bool("reuse_address", a->reuse_address, a->reuse_address_is_none);
    print_bool("reuse_port", a->reuse_port, a->reuse_port_is_none);
    if (a->ssl_handshake_timeout_is_none)
        printf(" ssl_handshake_timeout=None");
    else
        printf(" ssl_handshake_timeout=%g", a->ssl_handshake_timeout);
    print_bool("start_serving", a->start_serving, false);
    printf("\n");
    return NULL;
}

aio_future *aio__loop_subprocess_exec(aio_loop *loop, const aio__loop_subprocess_exec_args *a)
{
    (void)loop;
    printf("subprocess_exec:");
    print_int("stdin", a->stdin_, a->stdin__is_none);
    print_int("stdout", a->stdout_, a->stdout__is_none);
    print_int("stderr", a->stderr_, a->stderr__is_none);
    printf("\n");
    return NULL;
}

double aio__loop_slow_callback_duration(aio_loop *loop)
{
    (void)loop;
    return slow_callback_duration;
}

int aio__loop_set_slow_callback_duration(aio_loop *loop, double value)
{
    (void)loop;
    slow_callback_duration = value;
    return 0;
}

static aio_protocol *factory(void *arg)
{
    (void)arg;
    return NULL;
}

static void callback(void *arg)
{
    (void)arg;
}

int main(void)
{
    printf("get_running_loop: %s\n", aio_get_running_loop() == LOOP ? "LOOP" : "?");

    /* call_later: required double, required pointer with none_raises. */
    aio_loop_call_later(LOOP, &(aio_loop_call_later_args){.delay = 1.5, .callback = callback});
    aio_loop_call_later(LOOP, &(aio_loop_call_later_args){.delay = AIO_ZERO,
                                                          .callback = callback});
    if (!aio_loop_call_later(LOOP, &(aio_loop_call_later_args){.delay = AIO_NONE,
                                                               .callback = callback}))
        print_err("call_later(delay=None)");
    if (!aio_loop_call_later(LOOP, &(aio_loop_call_later_args){.delay = 1}))
        print_err("call_later(callback=None)");
    if (!aio_loop_call_later(LOOP, NULL))
        print_err("call_later(NULL args)");
    if (!aio_loop_call_later(NULL, &(aio_loop_call_later_args){.delay = 1,
                                                               .callback = callback}))
        print_err("call_later(self=NULL)");

    /* wait_mode: an enum held as an int (glue_c), a C-only size_t copied. */
    aio_wait_mode(NULL);
    aio_wait_mode(&(aio_wait_mode_args){.return_when = AIO_FIRST_EXCEPTION, .stack_size = 7});
    if (aio_wait_mode(&(aio_wait_mode_args){.return_when = AIO_NONE}) < 0)
        print_err("wait_mode(return_when=None)");

    /* create_server: every kind of default. */
    aio_loop_create_server(LOOP, &(aio_loop_create_server_args){.protocol_factory = factory});
    print_err("create_server(defaults)");
    aio_loop_create_server(LOOP, &(aio_loop_create_server_args){
        .protocol_factory = factory,
        .host = "::1",
        .port = AIO_ZERO,
        .family = 10,
        .flags = AIO_ZERO,
        .sock = AIO_ZERO,
        .backlog = AIO_ZERO,
        .reuse_address = AIO_TRUE,
        .reuse_port = AIO_FALSE,
        .ssl_handshake_timeout = AIO_ZERO,
        .start_serving = AIO_FALSE,
    });
    print_err("create_server(explicit)");
    aio_loop_create_server(LOOP, &(aio_loop_create_server_args){
        .protocol_factory = factory,
        .port = 8888,
        .sock = AIO_NONE,
        .backlog = 5,
        .reuse_address = true,
        .reuse_port = AIO_NONE,
        .ssl_handshake_timeout = 2.5,
        .start_serving = AIO_NONE,
    });
    print_err("create_server(values)");
    aio_loop_create_server(LOOP, &(aio_loop_create_server_args){.protocol_factory = factory,
                                                                .backlog = AIO_NONE});
    print_err("create_server(backlog=None)");
    aio_loop_create_server(LOOP, NULL);
    print_err("create_server(NULL args)");
    closed = true;
    aio_loop_create_server(LOOP, &(aio_loop_create_server_args){.protocol_factory = factory,
                                                                .backlog = AIO_NONE});
    print_err("create_server(backlog=None) on a closed loop");
    closed = false;

    /* subprocess_exec: stdio takes None although its default is PIPE. */
    aio_loop_subprocess_exec(LOOP, NULL);
    aio_loop_subprocess_exec(LOOP, &(aio_loop_subprocess_exec_args){
        .stdin_ = AIO_NONE, .stdout_ = AIO_ZERO, .stderr_ = AIO_SUBPROCESS_STDOUT});

    /* An attribute. */
    printf("slow_callback_duration: %g\n", aio_loop_slow_callback_duration(LOOP));
    aio_loop_set_slow_callback_duration(LOOP, AIO_ZERO);
    printf("slow_callback_duration: %g\n", aio_loop_slow_callback_duration(LOOP));
    if (aio_loop_set_slow_callback_duration(LOOP, AIO_NONE) < 0)
        print_err("slow_callback_duration = None");
    if (aio_loop_slow_callback_duration(NULL) == -1.0)
        print_err("slow_callback_duration of NULL");

    /* Stubs. */
    if (aio_loop_add_reader(LOOP, 0, callback, NULL) < 0)
        print_err("add_reader");
    if (aio_loop_add_reader(LOOP, AIO_NONE, callback, NULL) < 0)
        print_err("add_reader(fd=None)");
    if (aio_transport_get_extra_info((aio_transport *)LOOP, NULL) == NULL)
        print_err("get_extra_info");
    if (aio_handle_cancel(NULL) < 0)
        print_err("cancel(self=NULL)");

    /* Version gates: Python 3.6 has no get_running_loop(), and its
     * create_server() no ssl_handshake_timeout; left out, it is not missed. */
    target = AIO_PY(3, 6);
    if (aio_get_running_loop() == NULL)
        print_err("get_running_loop() at 3.6");
    aio_loop_create_server(LOOP, &(aio_loop_create_server_args){.protocol_factory = factory,
                                                                .ssl_handshake_timeout = 2.5});
    print_err("create_server(ssl_handshake_timeout=2.5) at 3.6");
    aio_loop_create_server(LOOP, &(aio_loop_create_server_args){.protocol_factory = factory});
    print_err("create_server() at 3.6");

    /* None per target (spec none_in): call_later's delay raises another
     * error up to 3.10, at 3.6 and 3.7 after the closed-loop check;
     * create_server's protocol_factory is passed on at 3.6. */
    static const int targets[] = {AIO_PY(3, 6), AIO_PY(3, 9), AIO_PY(3, 11)};
    for (int i = 0; i < 3; i++) {
        target = targets[i];
        for (int c = 0; c < 2; c++) {
            closed = c;
            if (!aio_loop_call_later(LOOP, &(aio_loop_call_later_args){.delay = AIO_NONE,
                                                                       .callback = callback})) {
                printf("3.%d%s ", (target >> 8) & 0xff, closed ? " closed" : "");
                print_err("call_later(delay=None)");
            }
        }
        closed = false;
        aio_loop_create_server(LOOP, &(aio_loop_create_server_args){.port = 1});
        printf("3.%d ", (target >> 8) & 0xff);
        print_err("create_server(protocol_factory=None)");
    }
    return 0;
}
