/* io.c - add_reader/remove_reader/add_writer/remove_writer on libev.
 *
 * Each watched file descriptor has one libev watcher asking for read,
 * write or both, and the reader and writer handles asyncio's selector keeps
 * in key.data. The watcher's callback only records the readiness; after the
 * poll, aio__io_dispatch() queues the handles in the order of the events,
 * the reader before the writer for each descriptor. libev invokes the
 * watchers of one poll last-in first-out, so each poll's records are put
 * back in the order epoll_wait() gave them (aio__io_poll_done()), which is
 * the order selectors.EpollSelector hands asyncio.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "casyncio/api.h"
#include "exc.h"
#include "impl.h"
#include "loop.h"

static void on_fd_ready(struct ev_loop *ev, ev_io *io, int revents)
{
    aio_loop *loop = ev_userdata(ev);
    /* A second poll of the same iteration (see poll_once) reports it again. */
    aio__fdwatch *watch = (aio__fdwatch *)((char *)io - offsetof(aio__fdwatch, io));
    if (watch->mark > 0 && watch->mark <= loop->io_events_len &&
        loop->io_events[watch->mark - 1].fd == io->fd) {
        loop->io_events[watch->mark - 1].revents |= revents;
        return;
    }
    if (loop->io_events_len == loop->io_events_cap) {
        size_t cap = loop->io_events_cap ? 2 * loop->io_events_cap : 64;
        aio__io_event *events = realloc(loop->io_events, cap * sizeof *events);
        if (events == NULL)
            return; /* the level-triggered poll reports it again */
        loop->io_events = events;
        loop->io_events_cap = cap;
    }
    loop->io_events[loop->io_events_len].fd = io->fd;
    loop->io_events[loop->io_events_len].revents = revents;
    loop->io_events_len++;
    watch->mark = loop->io_events_len;
}

static aio__fdwatch *watch_find(aio_loop *loop, int fd)
{
    return (size_t)fd < loop->fds_cap ? loop->fds[fd] : NULL;
}

void aio__io_poll_done(aio_loop *loop, size_t first)
{
    size_t n = loop->io_events_len;
    if (n <= first + 1)
        return;
    for (size_t i = first, j = n - 1; i < j; i++, j--) {
        aio__io_event e = loop->io_events[i];
        loop->io_events[i] = loop->io_events[j];
        loop->io_events[j] = e;
    }
    for (size_t i = first; i < n; i++) {
        aio__fdwatch *watch = watch_find(loop, loop->io_events[i].fd);
        if (watch != NULL)
            watch->mark = i + 1;
    }
}

static aio__fdwatch *watch_create(aio_loop *loop, int fd)
{
    if ((size_t)fd >= loop->fds_cap) {
        size_t cap = loop->fds_cap ? loop->fds_cap : 64;
        while (cap <= (size_t)fd)
            cap *= 2;
        aio__fdwatch **fds = aio__realloc(loop->fds, cap * sizeof *fds);
        if (fds == NULL)
            return NULL;
        memset(fds + loop->fds_cap, 0, (cap - loop->fds_cap) * sizeof *fds);
        loop->fds = fds;
        loop->fds_cap = cap;
    }
    aio__fdwatch *watch = aio__calloc(1, sizeof *watch);
    if (watch == NULL)
        return NULL;
    watch->loop = loop;
    ev_io_init(&watch->io, on_fd_ready, fd, 0);
    loop->fds[fd] = watch;
    return watch;
}

/* Mirrors a descriptor's events in the embedding epoll descriptor, when a
 * host program asked for one (0: not watched). Errors are the kernel's to
 * report to libev's own poll; this copy follows as best it can. */
static void embed_sync(aio_loop *loop, int fd, int events)
{
    if (loop->embed_fd < 0)
        return;
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = ((events & EV_READ) ? EPOLLIN : 0) | ((events & EV_WRITE) ? EPOLLOUT : 0);
    ev.data.fd = fd;
    if (events == 0) {
        epoll_ctl(loop->embed_fd, EPOLL_CTL_DEL, fd, &ev);
    } else if (epoll_ctl(loop->embed_fd, EPOLL_CTL_MOD, fd, &ev) < 0 && errno == ENOENT) {
        epoll_ctl(loop->embed_fd, EPOLL_CTL_ADD, fd, &ev);
    }
}

int aio__io_embed_start(aio_loop *loop)
{
    int efd = epoll_create1(EPOLL_CLOEXEC);
    if (efd < 0) {
        aio_err_set_from_errno(errno);
        return -1;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.fd = loop->self_rfd;
    if (epoll_ctl(efd, EPOLL_CTL_ADD, loop->self_rfd, &ev) < 0) {
        aio_err_set_from_errno(errno);
        close(efd);
        return -1;
    }
    loop->embed_fd = efd;
    for (size_t fd = 0; fd < loop->fds_cap; fd++) {
        if (loop->fds[fd] != NULL && loop->fds[fd]->events != 0)
            embed_sync(loop, (int)fd, loop->fds[fd]->events);
    }
    return 0;
}

/* Asks libev for what the handles need; frees the watch when nothing. */
static void watch_update(aio_loop *loop, aio__fdwatch *watch)
{
    int fd = watch->io.fd;
    int events = (watch->reader ? EV_READ : 0) | (watch->writer ? EV_WRITE : 0);
    if (events == watch->events && events != 0)
        return;
    embed_sync(loop, fd, events);
    if (watch->events != 0) {
        ev_io_stop(loop->ev, &watch->io);
        loop->fds_active--;
    }
    if (events != 0) {
        ev_io_set(&watch->io, fd, events);
        ev_io_start(loop->ev, &watch->io);
        loop->fds_active++;
        watch->events = events;
    } else {
        loop->fds[fd] = NULL;
        free(watch);
    }
}

/* What selectors' register() checks: a valid fd that epoll can watch. */
static int check_pollable(int fd)
{
    if (fd < 0) {
        aio_err_format(aio_ValueError, "Invalid file descriptor: %d", fd);
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        aio_err_set_from_errno(errno);
        return -1;
    }
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
        aio_err_set_from_errno(EPERM);
        return -1;
    }
    return 0;
}

/* _add_reader/_add_writer: replaces (and cancels) a previous handle. */
static int add_handle(aio_loop *loop, int fd, aio_callback callback, void *args,
                      aio_release_func release, bool reading)
{
    if (aio__loop_check_closed(loop) < 0 || aio__ev_reserve() < 0)
        return -1;
    aio__fdwatch *watch = fd >= 0 ? watch_find(loop, fd) : NULL;
    if (watch == NULL) {
        if (check_pollable(fd) < 0 || (watch = watch_create(loop, fd)) == NULL)
            return -1;
    }
    aio_handle *handle = aio__handle_new_owning(loop, callback, args, release, NULL);
    if (handle == NULL) {
        watch_update(loop, watch);
        return -1;
    }
    handle->persistent = true;
    aio_handle **slot = reading ? &watch->reader : &watch->writer;
    aio_handle *old = *slot;
    *slot = handle;
    watch_update(loop, watch);
    if (old != NULL) {
        aio__handle_cancel(old);
        aio__decref(old);
    }
    return 0;
}

/* _remove_reader/_remove_writer: 1 when a handle was removed, else 0. */
static int remove_handle(aio_loop *loop, int fd, bool reading)
{
    if (atomic_load(&loop->closed))
        return 0;
    if (fd < 0) {
        aio_err_format(aio_ValueError, "Invalid file descriptor: %d", fd);
        return -1;
    }
    aio__fdwatch *watch = watch_find(loop, fd);
    if (watch == NULL)
        return 0;
    aio_handle **slot = reading ? &watch->reader : &watch->writer;
    aio_handle *old = *slot;
    *slot = NULL;
    if (aio__ev_reserve() < 0)
        aio_err_clear(); /* libev rarely allocates here; the reserve is the fallback */
    watch_update(loop, watch);
    if (old == NULL)
        return 0;
    aio__handle_cancel(old);
    aio__decref(old);
    return 1;
}

/* The loop's own _add_reader() and friends, for the parts of the runtime
 * that watch descriptors they own (the resolver, transports). */
int aio__io_add_reader(aio_loop *loop, int fd, aio_callback callback, void *args,
                       aio_release_func release)
{
    return add_handle(loop, fd, callback, args, release, true);
}

int aio__io_remove_reader(aio_loop *loop, int fd)
{
    return remove_handle(loop, fd, true);
}

int aio__io_add_writer(aio_loop *loop, int fd, aio_callback callback, void *args,
                       aio_release_func release)
{
    return add_handle(loop, fd, callback, args, release, false);
}

int aio__io_remove_writer(aio_loop *loop, int fd)
{
    return remove_handle(loop, fd, false);
}

/* The public methods first refuse a descriptor a part of the runtime owns
 * (_ensure_fd_no_transport), as the selector loop's do. */
int aio__loop_add_reader(aio_loop *loop, int fd, aio_callback callback, void *args,
                         aio_release_func args_release)
{
    if (aio__loop_check_fd(loop, fd) < 0)
        return -1;
    return add_handle(loop, fd, callback, args, args_release, true);
}

int aio__loop_remove_reader(aio_loop *loop, int fd)
{
    if (aio__loop_check_fd(loop, fd) < 0)
        return -1;
    return remove_handle(loop, fd, true);
}

int aio__loop_add_writer(aio_loop *loop, int fd, aio_callback callback, void *args,
                         aio_release_func args_release)
{
    if (aio__loop_check_fd(loop, fd) < 0)
        return -1;
    return add_handle(loop, fd, callback, args, args_release, false);
}

int aio__loop_remove_writer(aio_loop *loop, int fd)
{
    if (aio__loop_check_fd(loop, fd) < 0)
        return -1;
    return remove_handle(loop, fd, false);
}

/* _process_events: queue each ready descriptor's reader, then writer. */
void aio__io_dispatch(aio_loop *loop)
{
    if (loop->self_readable)
        aio__loop_add_callback(loop, loop->self_reader);
    size_t n = loop->io_events_len;
    for (size_t i = 0; i < n; i++) {
        int fd = loop->io_events[i].fd;
        int revents = loop->io_events[i].revents;
        aio__fdwatch *watch = watch_find(loop, fd);
        if (watch == NULL)
            continue;
        if ((revents & EV_READ) && watch->reader != NULL) {
            if (watch->reader->cancelled) {
                remove_handle(loop, fd, true);
                watch = watch_find(loop, fd);
            } else {
                aio__loop_add_callback(loop, watch->reader);
            }
        }
        if (watch != NULL && (revents & EV_WRITE) && watch->writer != NULL) {
            if (watch->writer->cancelled)
                remove_handle(loop, fd, false);
            else
                aio__loop_add_callback(loop, watch->writer);
        }
    }
    loop->io_events_len = 0;
}

/* close(): forget every descriptor without cancelling its handles. */
void aio__io_close(aio_loop *loop)
{
    for (size_t fd = 0; fd < loop->fds_cap; fd++) {
        aio__fdwatch *watch = loop->fds[fd];
        if (watch == NULL)
            continue;
        if (watch->events != 0 && loop->ev != NULL)
            ev_io_stop(loop->ev, &watch->io);
        aio__decref(watch->reader);
        aio__decref(watch->writer);
        free(watch);
    }
    free(loop->fds);
    loop->fds = NULL;
    loop->fds_cap = 0;
    loop->fds_active = 0;
    free(loop->io_events);
    loop->io_events = NULL;
    loop->io_events_len = loop->io_events_cap = 0;
    if (loop->embed_fd >= 0)
        close(loop->embed_fd);
    loop->embed_fd = -1;
}
