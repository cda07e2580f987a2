/* process_spawn.c - fork and exec with Popen's hygiene: the child gets fds 0-2 as
 * asked, every other descriptor but pass_fds closed (marked close-on-exec),
 * SIGPIPE and SIGXFSZ back to their defaults and no blocked signal; an exec
 * or chdir failure comes back over a close-on-exec pipe and is raised in
 * the parent as Popen raises it. The program is looked up in the PATH of
 * the child's environment (os.get_exec_path()) before the fork, so that the
 * child only makes async-signal-safe calls.
 *
 * The child shares the parent's memory until it executes the program, as
 * _posixsubprocess's vfork() does: clone(CLONE_VM | CLONE_VFORK) on a
 * stack of its own, so that no page table is copied (fork()'s cost grows
 * with the parent's size). So the child writes no memory the parent uses:
 * everything is prepared before, every signal is blocked around the clone
 * and the child puts the handlers back to their defaults before it
 * unblocks them (a parent's handler must not run in it). Under the
 * sanitizers, whose runtimes do not expect a second process in their
 * memory, it is a plain fork(). */
#include "process_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exc.h"
#include "object.h"

extern char **environ;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SPAWN_WITH_FORK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define SPAWN_WITH_FORK 1
#endif
#endif

/* The child's stack while it shares the parent's memory. */
enum { CHILD_STACK_SIZE = 256 * 1024 };

/* What the child reports before _exit(). */
enum { FAIL_EXEC = 1, FAIL_CHDIR = 2, FAIL_OTHER = 3 };
typedef struct child_error {
    int kind;
    int err;
} child_error;

static const char *env_path(const char *const *envp)
{
    const char *const *e = envp != NULL ? envp : (const char *const *)environ;
    for (; e != NULL && *e != NULL; e++)
        if (strncmp(*e, "PATH=", 5) == 0)
            return *e + 5;
    return NULL;
}

static void free_list(char **list)
{
    if (list == NULL)
        return;
    for (char **p = list; *p != NULL; p++)
        free(*p);
    free(list);
}

/* The paths to try, in order: NULL-terminated, new; NULL with MemoryError. */
static char **exec_candidates(const char *executable, const char *const *envp)
{
    if (strchr(executable, '/') != NULL) {
        char **list = aio__calloc(2, sizeof *list);
        if (list == NULL)
            return NULL;
        if ((list[0] = aio__strdup(executable)) == NULL) {
            free(list);
            return NULL;
        }
        return list;
    }
    const char *path = env_path(envp);
    if (path == NULL || *path == '\0')
        path = "/bin:/usr/bin"; /* os.defpath */
    size_t n = 1;
    for (const char *p = path; *p; p++)
        n += *p == ':';
    char **list = aio__calloc(n + 1, sizeof *list);
    if (list == NULL)
        return NULL;
    size_t i = 0, elen = strlen(executable);
    for (const char *p = path;; ) {
        const char *end = strchr(p, ':');
        size_t dlen = end ? (size_t)(end - p) : strlen(p);
        char *full = aio__malloc(dlen + 1 + elen + 1);
        if (full == NULL) {
            free_list(list);
            return NULL;
        }
        /* os.path.join('', name) is name */
        if (dlen == 0) {
            memcpy(full, executable, elen + 1);
        } else {
            memcpy(full, p, dlen);
            size_t k = dlen;
            if (full[k - 1] != '/')
                full[k++] = '/';
            memcpy(full + k, executable, elen + 1);
        }
        list[i++] = full;
        if (end == NULL)
            break;
        p = end + 1;
    }
    return list;
}

static void child_fail(int errpipe, int kind, int err)
{
    child_error ce = {kind, err};
    ssize_t w;
    do {
        w = write(errpipe, &ce, sizeof ce);
    } while (w < 0 && errno == EINTR);
    _exit(255);
}

/* Every descriptor from 3 up marked close-on-exec (close_fds=True). */
static void cloexec_from_3(void)
{
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3u, ~0u, 4u /* CLOSE_RANGE_CLOEXEC */) == 0)
        return;
#endif
    struct rlimit rl;
    long max = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        max = rl.rlim_cur > INT_MAX ? INT_MAX : (long)rl.rlim_cur;
    for (long fd = 3; fd < max; fd++) {
        int flags = fcntl((int)fd, F_GETFD);
        if (flags >= 0 && !(flags & FD_CLOEXEC))
            fcntl((int)fd, F_SETFD, flags | FD_CLOEXEC);
    }
}

/* Makes fd the child's target (0, 1 or 2), inheritable. */
static int install_fd(int fd, int target)
{
    if (fd == target)
        return fcntl(fd, F_SETFD, 0);
    return dup2(fd, target) < 0 ? -1 : 0;
}

/* Every caught signal back to its default (the ignored ones stay
 * ignored, as exec keeps them), while all are blocked. */
static void reset_signal_handlers(void)
{
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        struct sigaction sa;
        if (sigaction(sig, NULL, &sa) != 0 || sa.sa_handler == SIG_IGN ||
            sa.sa_handler == SIG_DFL)
            continue;
        sa.sa_handler = SIG_DFL;
        sa.sa_flags = 0;
        sigaction(sig, &sa, NULL);
    }
}

/* The child, before exec: async-signal-safe calls only, and no write to
 * memory the parent uses (it may share it). */
static void child_exec(const aio__spawn_spec *s, char *const *candidates, int errpipe)
{
    reset_signal_handlers();
    signal(SIGPIPE, SIG_DFL);
    signal(SIGXFSZ, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    int in = s->child_fd[0], out = s->child_fd[1], err = s->child_fd[2];
    /* Keep the sources out of the way of the targets written before them. */
    if (out == 0 && (out = dup(out)) < 0)
        child_fail(errpipe, FAIL_OTHER, errno);
    while (err == 0 || err == 1) {
        if ((err = dup(err)) < 0)
            child_fail(errpipe, FAIL_OTHER, errno);
    }
    if (in == AIO__SPAWN_TO_STDOUT || out == AIO__SPAWN_TO_STDOUT ||
        (in < 0 && in != AIO__SPAWN_INHERIT) || (out < 0 && out != AIO__SPAWN_INHERIT) ||
        (err < 0 && err != AIO__SPAWN_INHERIT && err != AIO__SPAWN_TO_STDOUT))
        child_fail(errpipe, FAIL_OTHER, EBADF);
    if (in >= 0 && install_fd(in, 0) < 0)
        child_fail(errpipe, FAIL_OTHER, errno);
    if (out >= 0 && install_fd(out, 1) < 0)
        child_fail(errpipe, FAIL_OTHER, errno);
    if (err == AIO__SPAWN_TO_STDOUT)
        err = 1;
    if (err >= 0 && install_fd(err, 2) < 0)
        child_fail(errpipe, FAIL_OTHER, errno);

    if (s->start_new_session && setsid() < 0)
        child_fail(errpipe, FAIL_OTHER, errno);
    if (s->cwd != NULL && chdir(s->cwd) < 0)
        child_fail(errpipe, FAIL_CHDIR, errno);

    cloexec_from_3();
    for (size_t i = 0; i < s->pass_fds_len; i++) {
        if (s->pass_fds[i] > 2 && s->pass_fds[i] != errpipe)
            fcntl(s->pass_fds[i], F_SETFD, 0);
    }

    char *const *argv = (char *const *)s->argv;
    char *const *envp = s->envp != NULL ? (char *const *)s->envp : environ;
    int saved = 0;
    for (char *const *c = candidates; *c != NULL; c++) {
        execve(*c, argv, envp);
        if (errno != ENOENT && errno != ENOTDIR && saved == 0)
            saved = errno;
    }
    child_fail(errpipe, FAIL_EXEC, saved != 0 ? saved : errno);
}

typedef struct child_args {
    const aio__spawn_spec *spec;
    char *const *candidates;
    int errpipe[2];
} child_args;

static int child_main(void *arg)
{
    const child_args *a = arg;
    close(a->errpipe[0]);
    child_exec(a->spec, a->candidates, a->errpipe[1]);
    return 255; /* not reached: child_exec() executes or exits */
}

/* Starts child_main(a) in a new process; its pid, or -1 with errno set. */
static pid_t start_child(child_args *a)
{
#ifdef SPAWN_WITH_FORK
    pid_t pid = fork();
    if (pid == 0)
        _exit(child_main(a));
    return pid;
#else
    /* A guard page below it: an overflow faults in the child instead of
     * writing over the parent's memory. */
    size_t guard = (size_t)sysconf(_SC_PAGESIZE);
    char *map = mmap(NULL, guard + CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (map == MAP_FAILED)
        return -1;
    pid_t pid = -1;
    if (mprotect(map, guard, PROT_NONE) == 0) {
        /* The parent waits (CLONE_VFORK) until the child has executed the
         * program or exited: then the stack is free again. */
        pid = clone(child_main, map + guard + CHILD_STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD,
                    a);
    }
    int err = errno;
    munmap(map, guard + CHILD_STACK_SIZE);
    errno = err;
    return pid;
#endif
}

int aio__spawn(const aio__spawn_spec *s, pid_t *pid_out)
{
    char **candidates = exec_candidates(s->executable, s->envp);
    if (candidates == NULL)
        return -1;
    child_args a = {.spec = s, .candidates = candidates};
    if (pipe2(a.errpipe, O_CLOEXEC) < 0) {
        aio_err_set_from_errno(errno);
        free_list(candidates);
        return -1;
    }
    int *errpipe = a.errpipe;
    /* No handler of ours may run in the child before it has reset them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = start_child(&a);
    int fork_err = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(errpipe[1]);
    free_list(candidates);
    if (pid < 0) {
        close(errpipe[0]);
        aio_err_set_from_errno(fork_err);
        return -1;
    }
    child_error ce;
    size_t got = 0;
    while (got < sizeof ce) {
        ssize_t r = read(errpipe[0], (char *)&ce + got, sizeof ce - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(errpipe[0]);
    if (got == 0) {
        *pid_out = pid;
        return 0;
    }
    /* The child failed before or at exec: reap it, raise its error. */
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (got < sizeof ce) {
        aio_err_set(aio_RuntimeError, "Bad exception data from child");
        return -1;
    }
    const char *filename = ce.kind == FAIL_EXEC    ? s->executable
                           : ce.kind == FAIL_CHDIR ? s->cwd
                                                   : NULL;
    aio_exc *exc = aio__exc_oserror_filename(ce.err, filename);
    aio_err_set_exc(exc);
    aio__decref(exc);
    return -1;
}
