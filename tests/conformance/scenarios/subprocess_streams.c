/* subprocess_streams.c - the C twin of subprocess_streams.py:
 * create_subprocess_exec()/create_subprocess_shell() and Process (see the
 * Python script for what it covers). */
#include <signal.h>

#include "conformance.h"

#define PIPE AIO_SUBPROCESS_PIPE

static const char *tf(bool b)
{
    return b ? "True" : "False";
}

static void streams(const char *what, aio_process *p)
{
    printf("%s streams (%s, %s, %s)\n", what, tf(aio_process_stdin(p) != NULL),
           tf(aio_process_stdout(p) != NULL), tf(aio_process_stderr(p) != NULL));
}

static void show_rc(const char *what, int rc)
{
    CHECK(rc != INT_MIN);
    if (rc == AIO_NONE)
        printf("%s None\n", what);
    else
        printf("%s %d\n", what, rc);
}

static char *bytes_repr(aio_bytes *b)
{
    return b == NULL ? NULL : aio_repr(b);
}

static void show_output(const char *what, aio_process_output out)
{
    CHECK(out.error == 0);
    char *o = bytes_repr(out.stdout_), *e = bytes_repr(out.stderr_);
    printf("%s (%s, %s)\n", what, o ? o : "None", e ? e : "None");
    free(o);
    free(e);
    aio_decref(out.stdout_);
    aio_decref(out.stderr_);
}

static aio_process *sleeper(void)
{
    const char *args[] = {"30", NULL};
    aio_process *p = aio_create_subprocess_exec(
        &(aio_create_subprocess_exec_args){.program = "sleep", .args = args});
    CHECK(p != NULL);
    return p;
}

static void *main_coro(void *arg)
{
    (void)arg;
    aio_process *p = aio_create_subprocess_exec(
        &(aio_create_subprocess_exec_args){.program = "cat", .stdin_ = PIPE, .stdout_ = PIPE});
    CHECK(p != NULL);
    streams("cat", p);
    show_rc("cat returncode", aio_process_returncode(p));
    show_output("cat communicate", aio_process_communicate(
                                       p, &(aio_process_communicate_args){"hello\nworld\n", 12}));
    show_rc("cat returncode", aio_process_returncode(p));
    aio_decref(p);

    p = aio_create_subprocess_shell(&(aio_create_subprocess_shell_args){
        .cmd = "echo out; echo err >&2; exit 3", .stdout_ = PIPE, .stderr_ = PIPE});
    CHECK(p != NULL);
    streams("shell", p);
    show_output("shell communicate", aio_process_communicate(p, &(aio_process_communicate_args){0}));
    show_rc("shell returncode", aio_process_returncode(p));
    aio_decref(p);

    const char *merged_args[] = {"-c", "echo out; echo err >&2", NULL};
    p = aio_create_subprocess_exec(&(aio_create_subprocess_exec_args){
        .program = "sh", .args = merged_args, .stdout_ = PIPE, .stderr_ = AIO_SUBPROCESS_STDOUT});
    CHECK(p != NULL);
    streams("merged", p);
    show_output("merged communicate",
                aio_process_communicate(p, &(aio_process_communicate_args){0}));
    aio_decref(p);

    const char *plain_args[] = {"-c", "exit 5", NULL};
    p = aio_create_subprocess_exec(
        &(aio_create_subprocess_exec_args){.program = "sh", .args = plain_args});
    CHECK(p != NULL);
    streams("plain", p);
    show_rc("plain wait", aio_process_wait(p));
    show_rc("plain wait again", aio_process_wait(p));
    show_output("plain communicate", aio_process_communicate(p, &(aio_process_communicate_args){0}));
    aio_decref(p);

    static const char *const names[] = {"kill", "terminate", "send_signal"};
    for (int i = 0; i < 3; i++) {
        char what[64];
        p = sleeper();
        snprintf(what, sizeof what, "%s before", names[i]);
        show_rc(what, aio_process_returncode(p));
        int rc = i == 0 ? aio_process_kill(p)
                 : i == 1 ? aio_process_terminate(p)
                          : aio_process_send_signal(p, SIGINT);
        CHECK(rc == 0);
        snprintf(what, sizeof what, "%s wait", names[i]);
        show_rc(what, aio_process_wait(p));
        snprintf(what, sizeof what, "%s returncode", names[i]);
        show_rc(what, aio_process_returncode(p));
        aio_decref(p);
    }

    size_t n = 1 << 20;
    char *big = malloc(n);
    CHECK(big != NULL);
    memset(big, 'x', n);
    p = aio_create_subprocess_shell(&(aio_create_subprocess_shell_args){
        .cmd = "exec 0<&-; echo done", .stdin_ = PIPE, .stdout_ = PIPE});
    CHECK(p != NULL);
    show_output("no reader communicate",
                aio_process_communicate(p, &(aio_process_communicate_args){big, n}));
    free(big);
    show_rc("no reader returncode", aio_process_returncode(p));
    aio_decref(p);

    p = aio_create_subprocess_shell(&(aio_create_subprocess_shell_args){
        .cmd = "printf '%0100d\\nshort\\n' 0", .stdout_ = PIPE, .limit = 10});
    CHECK(p != NULL);
    aio_bytes *line = aio_stream_reader_readline(aio_process_stdout(p));
    CHECK(line == NULL);
    aio_exc *e = aio_err_fetch();
    printf("long line %s\n", exc_line(e));
    aio_decref(e);
    line = aio_stream_reader_readline(aio_process_stdout(p));
    CHECK(line != NULL);
    char *repr = aio_repr(line);
    printf("next line %s\n", repr);
    free(repr);
    aio_decref(line);
    show_rc("limit wait", aio_process_wait(p));
    aio_decref(p);

    p = aio_create_subprocess_exec(
        &(aio_create_subprocess_exec_args){.program = "/nonexistent/program"});
    CHECK(p == NULL);
    e = aio_err_fetch();
    printf("missing %s\n", exc_line(e));
    aio_decref(e);
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    aio_run(main_coro, NULL, NULL);
    CHECK(aio_err_occurred() == NULL);
    return 0;
}
