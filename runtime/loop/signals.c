/* signals.c - add_signal_handler/remove_signal_handler.
 *
 * As in asyncio: the C-level handler only writes the signal number to the
 * self-pipe of the loop that installed it (signal.set_wakeup_fd); the pipe's
 * reader, an I/O callback, queues the Python-level handler's Handle and
 * wakes the loop again, so a handler runs two iterations after delivery.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "casyncio/api.h"
#include "casyncio/log.h"
#include "exc.h"
#include "impl.h"
#include "loop.h"

/* signal.set_wakeup_fd(): process-wide, owned by the last loop to add a
 * handler. */
static volatile sig_atomic_t wakeup_fd = -1;
/* Set after each byte is written, so a loop that skips polling still sees
 * the pipe has something. */
static atomic_int wakeup_written;

static void on_signal(int sig)
{
    int saved = errno;
    int fd = wakeup_fd;
    if (fd >= 0) {
        unsigned char byte = (unsigned char)sig;
        ssize_t n = write(fd, &byte, 1);
        (void)n;
        atomic_store(&wakeup_written, 1);
    }
    errno = saved;
}

bool aio__signals_pending(aio_loop *loop)
{
    return loop->self_wfd == wakeup_fd && atomic_exchange(&wakeup_written, 0) != 0;
}

/* signal.valid_signals(): what sigfillset() fills; before 3.8 only the
 * range was checked (sigaction() then refuses what glibc keeps). */
static int check_signal(aio_loop *loop, int sig)
{
    if (aio_loop_get_target_version(loop) < AIO_PY(3, 8)) {
        if (sig >= 1 && sig < NSIG)
            return 0;
        aio_err_format(aio_ValueError, "sig %d out of range(1, %d)", sig, NSIG);
        return -1;
    }
    sigset_t all;
    sigfillset(&all);
    if (sig < 1 || sig >= NSIG || sigismember(&all, sig) != 1) {
        aio_err_format(aio_ValueError, "invalid signal number %d", sig);
        return -1;
    }
    return 0;
}

static void drop_wakeup_fd_if_unused(aio_loop *loop)
{
    if (loop->signal_handler_count == 0)
        wakeup_fd = -1;
}

int aio__loop_add_signal_handler(aio_loop *loop, int sig, aio_callback callback, void *args,
                                 aio_release_func args_release)
{
    if (check_signal(loop, sig) < 0 || aio__loop_check_closed(loop) < 0)
        return -1;
    if (!aio__in_main_thread()) {
        /* 3.9's signal module names the interpreter too */
        aio_err_set(aio_RuntimeError,
                    aio_loop_get_target_version(loop) >= AIO_PY(3, 9)
                        ? "set_wakeup_fd only works in main thread of the main interpreter"
                        : "set_wakeup_fd only works in main thread");
        return -1;
    }
    if (wakeup_fd != loop->self_wfd) {
        /* A byte flagged for another loop's pipe is not in this one. */
        atomic_store(&wakeup_written, 0);
        wakeup_fd = loop->self_wfd;
    }

    aio_handle *handle = aio__handle_new_owning(loop, callback, args, args_release, NULL);
    if (handle == NULL)
        return -1;
    handle->persistent = true;
    aio_handle *old = loop->signal_handlers[sig];
    loop->signal_handlers[sig] = handle;
    if (old == NULL)
        loop->signal_handler_count++;
    aio__decref(old); /* replaced, not cancelled */

    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    action.sa_flags = SA_RESTART; /* signal.siginterrupt(sig, False) */
    sigemptyset(&action.sa_mask);
    if (sigaction(sig, &action, NULL) < 0) {
        int err = errno;
        loop->signal_handlers[sig] = NULL;
        loop->signal_handler_count--;
        aio__handle_discard(handle);
        drop_wakeup_fd_if_unused(loop);
        if (err == EINVAL)
            aio_err_format(aio_RuntimeError, "sig %d cannot be caught", sig);
        else
            aio_err_set_from_errno(err);
        return -1;
    }
    return 0;
}

int aio__loop_remove_signal_handler(aio_loop *loop, int sig)
{
    if (check_signal(loop, sig) < 0)
        return -1;
    aio_handle *handle = loop->signal_handlers[sig];
    if (handle == NULL)
        return 0;
    loop->signal_handlers[sig] = NULL;
    loop->signal_handler_count--;
    aio__decref(handle);

    /* Python restores signal.default_int_handler for SIGINT; a C program's
     * default is SIG_DFL for every signal. */
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    sigemptyset(&action.sa_mask);
    if (sigaction(sig, &action, NULL) < 0) {
        if (errno == EINVAL)
            aio_err_format(aio_RuntimeError, "sig %d cannot be caught", sig);
        else
            aio_err_set_from_errno(errno);
        return -1;
    }
    drop_wakeup_fd_if_unused(loop);
    return 1;
}

/* _process_self_data(): each non-zero byte is a delivered signal. Its
 * handler's Handle joins the ready queue and the loop is woken once more. */
void aio__signals_dispatch(aio_loop *loop, const unsigned char *bytes, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        int sig = bytes[i];
        aio_handle *handle = sig != 0 && sig < NSIG ? loop->signal_handlers[sig] : NULL;
        if (handle == NULL)
            continue;
        if (handle->cancelled) {
            aio__loop_remove_signal_handler(loop, sig);
            aio_err_clear();
        } else if (aio__loop_add_callback(loop, handle) == 0) {
            aio__loop_write_to_self(loop);
        }
    }
}

void aio__signals_close(aio_loop *loop)
{
    for (int sig = 1; sig < NSIG; sig++) {
        if (loop->signal_handlers[sig] != NULL)
            aio__loop_remove_signal_handler(loop, sig);
    }
    aio_err_clear();
}
