/* test_subprocess_streams.c - asyncio.create_subprocess_exec(),
 * create_subprocess_shell() and Process (subprocess.py, 3.11):
 * communicate() through cat, stdout only, stderr=STDOUT, wait() without
 * pipes, returncode before and after, a killed child, a child that does
 * not read its input, the readers' limit, a hundred children in a row (no
 * descriptor, no zombie left), and every allocation of the start failing.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_support.h"

static void assert_no_children(void)
{
    int status;
    assert_int_equal(waitpid(-1, &status, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

/* As assert_no_children(), giving a reaper in the background (a child
 * orphaned by a closing loop) up to five seconds; it reaps nothing itself. */
static void assert_no_children_soon(void)
{
    for (int i = 0; i < 500; i++) {
        siginfo_t info;
        if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD)
            break;
        usleep(10000);
    }
    assert_no_children();
}

static void run_in_task(aio_coroutine coro, void *arg)
{
    alarm(60);
    aio_loop *loop = new_loop();
    run_coro(loop, coro, arg);
    finish(loop);
    alarm(0);
}

static void assert_bytes(aio_bytes *b, const char *want)
{
    assert_non_null(b);
    assert_int_equal(aio_bytes_size(b), strlen(want));
    assert_memory_equal(aio_bytes_data(b), want, strlen(want));
}

/* --- communicate() -------------------------------------------------------------------- */

static void *cat_coro(void *arg)
{
    (void)arg;
    const char *args[] = {NULL};
    aio_process *p = aio_create_subprocess_exec(&(aio_create_subprocess_exec_args){
        .program = "cat", .args = args, .stdin_ = AIO_SUBPROCESS_PIPE,
        .stdout_ = AIO_SUBPROCESS_PIPE});
    assert_non_null(p);
    assert_true(aio_process_pid(p) > 0);
    assert_non_null(aio_process_stdin(p));
    assert_non_null(aio_process_stdout(p));
    assert_null(aio_process_stderr(p));
    assert_int_equal(aio_process_returncode(p), AIO_NONE);
    aio_process_output out =
        aio_process_communicate(p, &(aio_process_communicate_args){"hello\n", 6});
    assert_int_equal(out.error, 0);
    assert_bytes(out.stdout_, "hello\n");
    assert_null(out.stderr_);
    assert_int_equal(aio_process_returncode(p), 0);
    aio_decref(out.stdout_);
    aio_decref(p);
    return NULL;
}
AIO_NAME_CALLBACK(cat_coro);

static void test_communicate_cat(void **state)
{
    (void)state;
    run_in_task(cat_coro, NULL);
}

static void *stdout_only_coro(void *arg)
{
    (void)arg;
    aio_process *p = aio_create_subprocess_shell(&(aio_create_subprocess_shell_args){
        .cmd = "echo out; exit 3", .stdout_ = AIO_SUBPROCESS_PIPE});
    assert_non_null(p);
    assert_null(aio_process_stdin(p));
    aio_process_output out = aio_process_communicate(p, &(aio_process_communicate_args){0});
    assert_int_equal(out.error, 0);
    assert_bytes(out.stdout_, "out\n");
    assert_null(out.stderr_);
    assert_int_equal(aio_process_returncode(p), 3);
    aio_decref(out.stdout_);
    aio_decref(p);
    return NULL;
}
AIO_NAME_CALLBACK(stdout_only_coro);

static void test_stdout_only(void **state)
{
    (void)state;
    run_in_task(stdout_only_coro, NULL);
}

/* communicate(None) with stdin a PIPE leaves stdin open (3.11's _noop()):
 * the child reads a line written while communicate() waits (it would exit
 * 6 on end of file). Given input, stdin is written and closed. */
static void *communicate_none_task(void *arg)
{
    aio_process *p = arg;
    aio_process_output out = aio_process_communicate(p, &(aio_process_communicate_args){0});
    assert_int_equal(out.error, 0);
    assert_bytes(out.stdout_, "");
    aio_decref(out.stdout_);
    return "done";
}
AIO_NAME_CALLBACK(communicate_none_task);

static void *stdin_left_open_coro(void *arg)
{
    (void)arg;
    aio_process *p = aio_create_subprocess_shell(&(aio_create_subprocess_shell_args){
        .cmd = "exec >&-; read x && exit 5; exit 6", .stdin_ = AIO_SUBPROCESS_PIPE,
        .stdout_ = AIO_SUBPROCESS_PIPE});
    assert_non_null(p);
    aio_task *t = aio_create_task(communicate_none_task, p, NULL);
    assert_non_null(t);
    for (int i = 0; i < 20; i++)
        assert_int_equal(aio_sleep(0), 0);
    aio_stream_writer *in = aio_process_stdin(p);
    assert_int_equal(aio_stream_writer_is_closing(in), 0);
    assert_int_equal(aio_stream_writer_write(in, "x\n", 2), 0);
    assert_non_null(aio_await((aio_future *)t));
    assert_int_equal(aio_process_returncode(p), 5);
    aio_decref(t);
    aio_decref(p);

    p = aio_create_subprocess_shell(&(aio_create_subprocess_shell_args){
        .cmd = "cat", .stdin_ = AIO_SUBPROCESS_PIPE, .stdout_ = AIO_SUBPROCESS_PIPE});
    assert_non_null(p);
    aio_process_output out = aio_process_communicate(p, &(aio_process_communicate_args){"in", 2});
    assert_int_equal(out.error, 0);
    assert_bytes(out.stdout_, "in");
    aio_decref(out.stdout_);
    assert_int_equal(aio_process_returncode(p), 0);
    aio_decref(p);
    return NULL;
}
AIO_NAME_CALLBACK(stdin_left_open_coro);

static void test_communicate_none_leaves_stdin_open(void **state)
{
    (void)state;
    run_in_task(stdin_left_open_coro, NULL);
}

static void *stderr_to_stdout_coro(void *arg)
{
    (void)arg;
    const char *args[] = {"-c", "echo out; echo err >&2", NULL};
    aio_process *p = aio_create_subprocess_exec(&(aio_create_subprocess_exec_args){
        .program = "sh", .args = args, .stdout_ = AIO_SUBPROCESS_PIPE,
        .stderr_ = AIO_SUBPROCESS_STDOUT});
    assert_non_null(p);
    assert_null(aio_process_stderr(p));
    aio_process_output out = aio_process_communicate(p, &(aio_process_communicate_args){0});
    assert_int_equal(out.error, 0);
    assert_bytes(out.stdout_, "out\nerr\n");
    assert_null(out.stderr_);
    aio_decref(out.stdout_);
    aio_decref(p);
    return NULL;
}
AIO_NAME_CALLBACK(stderr_to_stdout_coro);

static void test_stderr_to_stdout(void **state)
{
    (void)state;
    run_in_task(stderr_to_stdout_coro, NULL);
}

static void *both_pipes_coro(void *arg)
{
    (void)arg;
    aio_process *p = aio_create_subprocess_shell(&(aio_create_subprocess_shell_args){
        .cmd = "echo out; echo err >&2", .stdout_ = AIO_SUBPROCESS_PIPE,
        .stderr_ = AIO_SUBPROCESS_PIPE});
    assert_non_null(p);
    aio_process_output out = aio_process_communicate(p, &(aio_process_communicate_args){0});
    assert_int_equal(out.error, 0);
    assert_bytes(out.stdout_, "out\n");
    assert_bytes(out.stderr_, "err\n");
    aio_decref(out.stdout_);
    aio_decref(out.stderr_);
    aio_decref(p);
    return NULL;
}
AIO_NAME_CALLBACK(both_pipes_coro);

static void test_both_pipes(void **state)
{
    (void)state;
    run_in_task(both_pipes_coro, NULL);
}

/* --- wait(), returncode, signals ------------------------------------------------------ */

static void *wait_coro(void *arg)
{
    (void)arg;
    const char *args[] = {"-c", "exit 7", NULL};
    aio_process *p = aio_create_subprocess_exec(
        &(aio_create_subprocess_exec_args){.program = "sh", .args = args});
    assert_non_null(p);
    assert_null(aio_process_stdin(p));
    assert_null(aio_process_stdout(p));
    assert_null(aio_process_stderr(p));
    assert_int_equal(aio_process_wait(p), 7);
    assert_int_equal(aio_process_returncode(p), 7);
    assert_int_equal(aio_process_wait(p), 7);
    aio_process_output out = aio_process_communicate(p, &(aio_process_communicate_args){0});
    assert_int_equal(out.error, 0);
    assert_null(out.stdout_);
    assert_null(out.stderr_);
    aio_decref(p);
    return NULL;
}
AIO_NAME_CALLBACK(wait_coro);

static void test_wait_without_pipes(void **state)
{
    (void)state;
    run_in_task(wait_coro, NULL);
}

static void *killed_coro(void *arg)
{
    (void)arg;
    const char *args[] = {"30", NULL};
    aio_process *p = aio_create_subprocess_exec(
        &(aio_create_subprocess_exec_args){.program = "sleep", .args = args});
    assert_non_null(p);
    assert_int_equal(aio_process_returncode(p), AIO_NONE);
    assert_int_equal(aio_process_kill(p), 0);
    assert_int_equal(aio_process_wait(p), -9);
    assert_int_equal(aio_process_returncode(p), -9);
    aio_decref(p);

    p = aio_create_subprocess_exec(
        &(aio_create_subprocess_exec_args){.program = "sleep", .args = args});
    assert_non_null(p);
    assert_int_equal(aio_process_terminate(p), 0);
    assert_int_equal(aio_process_wait(p), -SIGTERM);
    aio_decref(p);

    p = aio_create_subprocess_exec(
        &(aio_create_subprocess_exec_args){.program = "sleep", .args = args});
    assert_non_null(p);
    assert_int_equal(aio_process_send_signal(p, SIGINT), 0);
    assert_int_equal(aio_process_wait(p), -SIGINT);
    aio_decref(p);
    return NULL;
}
AIO_NAME_CALLBACK(killed_coro);

static void test_killed(void **state)
{
    (void)state;
    run_in_task(killed_coro, NULL);
}

/* The child exits without reading: the broken pipe is no error. */
static void *no_read_coro(void *arg)
{
    (void)arg;
    size_t n = 1 << 20;
    char *big = calloc(1, n);
    assert_non_null(big);
    aio_process *p = aio_create_subprocess_shell(&(aio_create_subprocess_shell_args){
        .cmd = "exec 0<&-; echo done", .stdin_ = AIO_SUBPROCESS_PIPE,
        .stdout_ = AIO_SUBPROCESS_PIPE});
    assert_non_null(p);
    aio_process_output out =
        aio_process_communicate(p, &(aio_process_communicate_args){big, n});
    free(big);
    assert_int_equal(out.error, 0);
    assert_bytes(out.stdout_, "done\n");
    assert_int_equal(aio_process_returncode(p), 0);
    aio_decref(out.stdout_);
    aio_decref(p);
    return NULL;
}
AIO_NAME_CALLBACK(no_read_coro);

static void test_child_does_not_read(void **state)
{
    (void)state;
    run_in_task(no_read_coro, NULL);
}

/* A line longer than the limit: readline()'s ValueError. */
static void *limit_coro(void *arg)
{
    (void)arg;
    aio_process *p = aio_create_subprocess_shell(&(aio_create_subprocess_shell_args){
        .cmd = "printf '%0100d\\nshort\\n' 0", .stdout_ = AIO_SUBPROCESS_PIPE, .limit = 10});
    assert_non_null(p);
    aio_bytes *line = aio_stream_reader_readline(aio_process_stdout(p));
    assert_null(line);
    assert_raised(aio_ValueError, NULL);
    line = aio_stream_reader_readline(aio_process_stdout(p));
    assert_bytes(line, "short\n");
    aio_decref(line);
    assert_int_equal(aio_process_wait(p), 0);
    aio_decref(p);
    return NULL;
}
AIO_NAME_CALLBACK(limit_coro);

static void test_limit_overrun(void **state)
{
    (void)state;
    run_in_task(limit_coro, NULL);
}

/* communicate() cancelled while it reads: CancelledError, its reads
 * cancelled with it; the child is still there to kill and wait for. */
typedef struct cancel_run {
    aio_process *p;
    bool cancelled;
} cancel_run;

static void *communicate_task(void *arg)
{
    cancel_run *run = arg;
    aio_process_output out = aio_process_communicate(run->p, &(aio_process_communicate_args){0});
    assert_int_equal(out.error, -1);
    assert_null(out.stdout_);
    run->cancelled = aio_err_matches(aio_CancelledError);
    return NULL;
}
AIO_NAME_CALLBACK(communicate_task);

static void *cancel_coro(void *arg)
{
    (void)arg;
    const char *args[] = {"-c", "echo partial; exec sleep 30", NULL};
    cancel_run run = {NULL, false};
    run.p = aio_create_subprocess_exec(&(aio_create_subprocess_exec_args){
        .program = "sh", .args = args, .stdout_ = AIO_SUBPROCESS_PIPE,
        .stderr_ = AIO_SUBPROCESS_PIPE});
    assert_non_null(run.p);
    aio_task *t = aio_create_task(communicate_task, &run, NULL);
    assert_non_null(t);
    for (int i = 0; i < 5; i++)
        assert_int_equal(aio_sleep(0), 0);
    assert_int_equal(aio_task_cancel(t, NULL), 1);
    assert_null(aio_await((aio_future *)t));
    assert_raised(aio_CancelledError, NULL);
    assert_true(run.cancelled);
    aio_decref(t);
    assert_int_equal(aio_process_returncode(run.p), AIO_NONE);
    assert_int_equal(aio_process_kill(run.p), 0);
    assert_int_equal(aio_process_wait(run.p), -9);
    aio_decref(run.p);
    return NULL;
}
AIO_NAME_CALLBACK(cancel_coro);

static void test_communicate_cancelled(void **state)
{
    (void)state;
    run_in_task(cancel_coro, NULL);
}

/* limit 0: the readers cannot be made; as asyncio's connection_made()
 * raising in its callback, the error goes to the loop's exception handler
 * and the Process has no streams, but runs. */
static int handler_calls;

static void count_handler(aio_loop *loop, const aio_exception_context *context, void *arg)
{
    (void)loop;
    (void)arg;
    assert_non_null(context->exception);
    assert_true(aio_exc_isinstance(context->exception, aio_ValueError));
    handler_calls++;
}
AIO_NAME_CALLBACK(count_handler);

static void *bad_limit_coro(void *arg)
{
    (void)arg;
    handler_calls = 0;
    aio_loop *loop = aio_get_running_loop();
    assert_int_equal(aio_loop_set_exception_handler(loop, count_handler, NULL), 0);
    aio_process *p = aio_create_subprocess_exec(&(aio_create_subprocess_exec_args){
        .program = "true", .stdout_ = AIO_SUBPROCESS_PIPE, .limit = AIO_ZERO});
    assert_non_null(p);
    assert_null(aio_process_stdout(p));
    assert_int_equal(aio_process_wait(p), 0);
    assert_int_equal(handler_calls, 1);
    aio_decref(p);
    return NULL;
}
AIO_NAME_CALLBACK(bad_limit_coro);

static void test_bad_limit(void **state)
{
    (void)state;
    run_in_task(bad_limit_coro, NULL);
}

/* Four megabytes through cat: more than the pipes and the reader's limit
 * hold, so stdin is fed while stdout is read. */
static void *big_cat_coro(void *arg)
{
    (void)arg;
    size_t n = 4u << 20;
    char *big = malloc(n);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    aio_process *p = aio_create_subprocess_exec(&(aio_create_subprocess_exec_args){
        .program = "cat", .stdin_ = AIO_SUBPROCESS_PIPE, .stdout_ = AIO_SUBPROCESS_PIPE,
        .stderr_ = AIO_SUBPROCESS_PIPE, .limit = 1024});
    assert_non_null(p);
    aio_process_output out =
        aio_process_communicate(p, &(aio_process_communicate_args){big, n});
    assert_int_equal(out.error, 0);
    assert_int_equal(aio_bytes_size(out.stdout_), n);
    assert_memory_equal(aio_bytes_data(out.stdout_), big, n);
    assert_bytes(out.stderr_, "");
    free(big);
    aio_decref(out.stdout_);
    aio_decref(out.stderr_);
    aio_decref(p);
    return NULL;
}
AIO_NAME_CALLBACK(big_cat_coro);

static void test_big_through_cat(void **state)
{
    (void)state;
    run_in_task(big_cat_coro, NULL);
}

/* Once the transport has lost its process: ProcessLookupError. And the
 * glue's argument errors. */
static void *gone_coro(void *arg)
{
    (void)arg;
    aio_process *p = aio_create_subprocess_exec(&(aio_create_subprocess_exec_args){
        .program = "true"});
    assert_non_null(p);
    assert_int_equal(aio_process_wait(p), 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(aio_sleep(0), 0);
    assert_int_equal(aio_process_kill(p), -1);
    assert_raised(aio_ProcessLookupError, NULL);
    assert_int_equal(aio_process_terminate(p), -1);
    assert_raised(aio_ProcessLookupError, NULL);
    assert_int_equal(aio_process_send_signal(p, SIGTERM), -1);
    assert_raised(aio_ProcessLookupError, NULL);
    assert_int_equal(aio_process_returncode(p), 0);
    aio_decref(p);

    assert_null(aio_create_subprocess_exec(&(aio_create_subprocess_exec_args){0}));
    assert_raised(aio_TypeError,
                  "create_subprocess_exec() missing 1 required positional argument: 'program'");
    assert_null(aio_create_subprocess_shell(&(aio_create_subprocess_shell_args){0}));
    assert_raised(aio_ValueError, "cmd must be a string");
    assert_null(aio_create_subprocess_exec(
        &(aio_create_subprocess_exec_args){.program = "/nonexistent/program"}));
    assert_raised(aio_FileNotFoundError,
                  "[Errno 2] No such file or directory: '/nonexistent/program'");
    return NULL;
}
AIO_NAME_CALLBACK(gone_coro);

static void test_process_gone_and_bad_arguments(void **state)
{
    (void)state;
    run_in_task(gone_coro, NULL);
}

/* --- scale and faults ----------------------------------------------------------------- */

static void *hundred_coro(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100; i++) {
        aio_process *p = aio_create_subprocess_exec(&(aio_create_subprocess_exec_args){
            .program = "cat", .stdin_ = AIO_SUBPROCESS_PIPE, .stdout_ = AIO_SUBPROCESS_PIPE,
            .stderr_ = AIO_SUBPROCESS_PIPE});
        assert_non_null(p);
        aio_process_output out =
            aio_process_communicate(p, &(aio_process_communicate_args){"x", 1});
        assert_int_equal(out.error, 0);
        assert_bytes(out.stdout_, "x");
        assert_bytes(out.stderr_, "");
        aio_decref(out.stdout_);
        aio_decref(out.stderr_);
        aio_decref(p);
    }
    return NULL;
}
AIO_NAME_CALLBACK(hundred_coro);

static void test_hundred_in_a_row(void **state)
{
    (void)state;
    int before = count_fds();
    run_in_task(hundred_coro, NULL);
    assert_int_equal(count_fds(), before);
    assert_no_children();
}

/* The loop closes with the child running and its pipes open, the Process
 * already dropped: nothing leaked, the child killed and reaped. */
static void *abandon_coro(void *arg)
{
    (void)arg;
    const char *args[] = {"30", NULL};
    aio_process *p = aio_create_subprocess_exec(&(aio_create_subprocess_exec_args){
        .program = "sleep", .args = args, .stdin_ = AIO_SUBPROCESS_PIPE,
        .stdout_ = AIO_SUBPROCESS_PIPE, .stderr_ = AIO_SUBPROCESS_PIPE});
    assert_non_null(p);
    aio_decref(p);
    return NULL;
}
AIO_NAME_CALLBACK(abandon_coro);

static void test_loop_closed_with_child_running(void **state)
{
    (void)state;
    int before = count_fds();
    run_in_task(abandon_coro, NULL);
    assert_int_equal(count_fds(), before);
    assert_no_children_soon();
}

typedef struct fault_run {
    long k;
    bool reached;
} fault_run;

static void *fault_coro(void *arg)
{
    fault_run *run = arg;
    if (getenv("FAULT_TRACE") != NULL)
        fprintf(stderr, "k=%ld\n", run->k);
    aio__fail_alloc_after = run->k;
    aio_process *p = aio_create_subprocess_exec(&(aio_create_subprocess_exec_args){
        .program = "cat", .stdin_ = AIO_SUBPROCESS_PIPE, .stdout_ = AIO_SUBPROCESS_PIPE});
    /* Still counting: the k-th allocation was not reached, none failed. */
    if (aio__fail_alloc_after >= 0)
        run->reached = true;
    aio__fail_alloc_after = -1;
    if (p == NULL) {
        if (!aio_err_matches(aio_MemoryError)) {
            aio_exc *e = aio_err_fetch();
            char *r = aio_repr(e);
            fprintf(stderr, "k=%ld: %s\n", run->k, r ? r : "?");
            free(r);
            aio_err_restore(e);
        }
        assert_raised(aio_MemoryError, NULL);
        return NULL;
    }
    /* A MemoryError of a pipe's reader failed the start above; one in the
     * protocol's connection_made() (its streams) is the loop's to report,
     * as in asyncio, and may leave the Process without a stream: so no
     * communicate() here, only the end of the child, which wait() sees
     * once every pipe is lost (each pipe's reader runs). */
    aio_err_clear();
    assert_int_equal(aio_process_kill(p), 0);
    assert_int_equal(aio_process_wait(p), -9);
    aio_decref(p);
    return NULL;
}
AIO_NAME_CALLBACK(fault_coro);

static void test_allocation_failures(void **state)
{
    (void)state;
    fault_run run = {0, false};
    /* Every allocation of the whole start (the call and the loop's
     * callbacks of its start while it waits) fails in turn, until k is past
     * their number (none failed). */
    for (run.k = getenv("FAULT_FROM") != NULL ? atol(getenv("FAULT_FROM")) : 0; !run.reached && run.k < 400; run.k++) {
        int before = count_fds();
        alarm(60);
        aio_loop *loop = new_loop();
        run_coro(loop, fault_coro, &run);
        for (int i = 0; i < 20; i++)
            run_one_iteration(loop);
        aio_err_clear();
        finish(loop);
        alarm(0);
        assert_no_children_soon();
        assert_int_equal(count_fds(), before);
    }
    assert_true(run.reached);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_DFL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_communicate_cat),
        cmocka_unit_test(test_stdout_only),
        cmocka_unit_test(test_communicate_none_leaves_stdin_open),
        cmocka_unit_test(test_stderr_to_stdout),
        cmocka_unit_test(test_both_pipes),
        cmocka_unit_test(test_wait_without_pipes),
        cmocka_unit_test(test_killed),
        cmocka_unit_test(test_child_does_not_read),
        cmocka_unit_test(test_limit_overrun),
        cmocka_unit_test(test_communicate_cancelled),
        cmocka_unit_test(test_bad_limit),
        cmocka_unit_test(test_big_through_cat),
        cmocka_unit_test(test_process_gone_and_bad_arguments),
        cmocka_unit_test(test_hundred_in_a_row),
        cmocka_unit_test(test_loop_closed_with_child_running),
        cmocka_unit_test(test_allocation_failures),
    };
    return AIO_TEST_RUN(tests, argc, argv);
}
