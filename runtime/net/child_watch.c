/* child_watch.c - one child, reaped for its owner alone.
 *
 * With a pidfd, the loop polls it: readable once the child has exited,
 * then waitpid(pid, WNOHANG) reaps exactly that child. Without (older
 * kernels, seccomp), a detached thread blocks in waitpid(pid) and writes
 * one byte to a pipe the loop polls; the status goes through a structure
 * the thread and the loop share under a mutex, which whichever lets go of
 * it last frees. */
#include "child_watch.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "casyncio/log.h"
#include "exc.h"
#include "names.h"

static atomic_bool force_threads;

void aio__child_watch_force_threads(bool on)
{
    atomic_store(&force_threads, on);
}

/* What the reaping thread and the loop share. */
typedef struct reaper {
    pthread_mutex_t mu;
    int refs;          /* 2 while both hold it */
    pid_t pid;
    int status;
    int err;           /* waitpid's errno, 0 when it reaped */
    int wfd;           /* the pipe's write end: the thread's */
    bool detached;     /* the loop side let go: no byte to write */
} reaper;

struct aio__child_watch {
    aio_loop *loop;        /* borrowed: the owner holds the loop */
    aio_transport *owner;  /* borrowed */
    pid_t pid;
    int fd;                /* polled: the pidfd, or the pipe's read end */
    bool polling;
    reaper *reaper;        /* NULL with a pidfd */
    aio__child_exited callback;
    void *arg;
};

static void reaper_unref(reaper *r)
{
    pthread_mutex_lock(&r->mu);
    int left = --r->refs;
    pthread_mutex_unlock(&r->mu);
    if (left == 0) {
        pthread_mutex_destroy(&r->mu);
        free(r);
    }
}

static int returncode_of(int status)
{
    if (WIFSIGNALED(status))
        return -WTERMSIG(status);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return status;
}

static void *reaper_main(void *arg)
{
    reaper *r = arg;
    int status = 0, err = 0;
    while (waitpid(r->pid, &status, 0) < 0) {
        if (errno != EINTR) {
            err = errno;
            break;
        }
    }
    pthread_mutex_lock(&r->mu);
    r->status = status;
    r->err = err;
    if (!r->detached && r->wfd >= 0) {
        char b = 1;
        while (write(r->wfd, &b, 1) < 0 && errno == EINTR) {
        }
    }
    if (r->wfd >= 0)
        close(r->wfd);
    r->wfd = -1;
    pthread_mutex_unlock(&r->mu);
    reaper_unref(r);
    return NULL;
}

/* A detached thread running fn(arg), all signals blocked in it. */
static int start_thread(void *(*fn)(void *), void *arg)
{
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0)
        return ENOMEM;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t th;
    int rc = pthread_create(&th, &attr, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return rc;
}

static void stop_polling(aio__child_watch *w)
{
    if (w->polling) {
        w->polling = false;
        aio__io_remove_reader(w->loop, w->fd);
        aio__transports_detach(w->loop, w->fd, w->owner);
    }
}

static void child_ready(void *arg)
{
    aio__child_watch *w = arg;
    int status = 0, err = 0;
    if (w->reaper == NULL) {
        pid_t r = waitpid(w->pid, &status, WNOHANG);
        if (r == 0)
            return; /* not yet */
        if (r < 0) {
            if (errno == EINTR)
                return;
            err = errno;
        }
    } else {
        char b;
        ssize_t n = read(w->fd, &b, 1);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        pthread_mutex_lock(&w->reaper->mu);
        status = w->reaper->status;
        err = w->reaper->err;
        pthread_mutex_unlock(&w->reaper->mu);
    }
    stop_polling(w);
    int returncode;
    if (err != 0) {
        aio_log(AIO_LOG_WARNING, NULL, "Unknown child process pid %d, will report returncode 255",
                (int)w->pid);
        returncode = 255;
    } else {
        returncode = returncode_of(status);
    }
    w->callback(w->arg, returncode);
}

static int pidfd_open_(pid_t pid)
{
#ifdef SYS_pidfd_open
    if (atomic_load(&force_threads))
        return -1;
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

aio__child_watch *aio__child_watch_start(aio_loop *loop, pid_t pid, aio_transport *owner,
                                         aio__child_exited callback, void *arg)
{
    aio__child_watch *w = aio__calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->loop = loop;
    w->owner = owner;
    w->pid = pid;
    w->callback = callback;
    w->arg = arg;
    w->fd = pidfd_open_(pid);
    if (w->fd >= 0) {
        fcntl(w->fd, F_SETFD, FD_CLOEXEC);
    } else {
        /* The fallback: a thread waits for this pid. */
        reaper *r = aio__calloc(1, sizeof *r);
        if (r == NULL)
            goto fail;
        int fds[2];
        if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
            aio_err_set_from_errno(errno);
            free(r);
            goto fail;
        }
        pthread_mutex_init(&r->mu, NULL);
        r->refs = 2;
        r->pid = pid;
        r->wfd = fds[1];
        w->fd = fds[0];
        w->reaper = r;
        int rc = start_thread(reaper_main, r);
        if (rc != 0) {
            close(fds[1]);
            r->wfd = -1;
            reaper_unref(r);
            w->reaper = NULL;
            reaper_unref(r);
            close(fds[0]);
            w->fd = -1;
            aio_err_set_from_errno(rc);
            goto fail;
        }
    }
    if (aio__transports_attach(loop, w->fd, owner) < 0)
        goto fail_fd;
    if (aio__io_add_reader(loop, w->fd, child_ready, w, NULL) < 0) {
        aio__transports_detach(loop, w->fd, owner);
        goto fail_fd;
    }
    w->polling = true;
    return w;

fail_fd:
    if (w->reaper != NULL) {
        /* The thread will reap the child the caller kills; it writes nothing. */
        pthread_mutex_lock(&w->reaper->mu);
        w->reaper->detached = true;
        pthread_mutex_unlock(&w->reaper->mu);
        reaper_unref(w->reaper);
        close(w->fd);
        free(w);
        /* The caller reaps too: its waitpid() or the thread's gets ECHILD. */
        return NULL;
    }
    close(w->fd);
fail:
    free(w);
    return NULL;
}

void aio__child_watch_free(aio__child_watch *w)
{
    if (w == NULL)
        return;
    stop_polling(w);
    if (w->reaper != NULL) {
        pthread_mutex_lock(&w->reaper->mu);
        w->reaper->detached = true;
        pthread_mutex_unlock(&w->reaper->mu);
        reaper_unref(w->reaper);
    }
    if (w->fd >= 0)
        close(w->fd);
    free(w);
}

static void *orphan_main(void *arg)
{
    pid_t pid = (pid_t)(intptr_t)arg;
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return NULL;
}

void aio__child_watch_orphan(aio__child_watch *w)
{
    if (w == NULL)
        return;
    /* The loop may have dropped its reader already (it is closing). */
    if (w->polling && !aio__loop_is_closed(w->loop)) {
        aio__io_remove_reader(w->loop, w->fd);
    }
    if (w->polling)
        aio__transports_detach(w->loop, w->fd, w->owner);
    w->polling = false;
    if (w->reaper == NULL) {
        int status;
        if (waitpid(w->pid, &status, WNOHANG) == 0 &&
            start_thread(orphan_main, (void *)(intptr_t)w->pid) != 0)
            aio_log(AIO_LOG_WARNING, NULL, "child process pid %d left unreaped", (int)w->pid);
    }
    aio__child_watch_free(w);
}

AIO__NAME(child_ready, "ThreadedChildWatcher._do_waitpid", 0);
