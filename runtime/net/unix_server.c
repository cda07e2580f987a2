/* unix_server.c - loop.create_unix_server() (unix_events.py, 3.11.7).
 *
 * A stale socket file at the path is removed before binding (only a
 * socket: a regular file makes bind() fail with asyncio's "Address ... is
 * already in use"); the file is left in place when the server closes up to
 * 3.12, and removed then from 3.13 (cleanup_socket=True, when it is still
 * the file the server bound; for a sock= too). An abstract name cannot be spelled as a C string (its
 * first byte is NUL): bind a socket to it and pass it as sock=.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "casyncio/log.h"
#include "connection.h"
#include "exc.h"
#include "future.h"
#include "server.h"
#include "sockaddr.h"

/* os.stat() then os.remove() of path when `removable` says so; an error
 * but FileNotFoundError logged as "<what> '<path>': <OSError repr>". */
static void remove_socket_file(const char *path, bool (*removable)(const struct stat *, const void *),
                               const void *arg, const char *what)
{
    struct stat st;
    int err = 0;
    if (stat(path, &st) < 0)
        err = errno;
    else if (removable(&st, arg) && unlink(path) < 0)
        err = errno;
    if (err == 0 || err == ENOENT)
        return;
    aio_exc *exc = aio_exc_from_errno(err);
    aio__strbuf sb = AIO__STRBUF_INIT;
    aio__sb_append_pyrepr(&sb, path);
    aio__sb_append(&sb, ": ");
    aio__repr_into(exc, &sb);
    if (!sb.failed)
        aio_log(AIO_LOG_ERROR, NULL, "%s %s", what, sb.data);
    aio__sb_free(&sb);
    aio__decref(exc);
    aio_err_clear();
}

static bool is_socket(const struct stat *st, const void *unused)
{
    (void)unused;
    return S_ISSOCK(st->st_mode);
}

/* A stale socket at the path create_unix_server() binds is replaced. */
static void remove_stale_socket(const char *path)
{
    remove_socket_file(path, is_socket, NULL, "Unable to check or remove stale UNIX socket");
}

static int bind_path(const char *path)
{
    if (path[0] == '\0') {
        aio_err_set(aio_IndexError, "string index out of range");
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t len;
    const aio_address addr = {.path = path, .kind = AIO_ADDRESS_PATH};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        aio_err_set_from_errno(errno);
        return -1;
    }
    remove_stale_socket(path);
    if (aio__sockaddr_from_address(&addr, AF_UNIX, "bind", &ss, &len) != 0)
        goto fail;
    if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
        int err = errno;
        if (err != EADDRINUSE) {
            aio_err_set_from_errno(err);
            goto fail;
        }
        aio__strbuf sb = AIO__STRBUF_INIT;
        aio__sb_append(&sb, "Address ");
        aio__sb_append_pyrepr(&sb, path);
        aio__sb_append(&sb, " is already in use");
        if (!sb.failed) {
            aio_exc *exc = aio_exc_oserror(aio_OSError, EADDRINUSE, sb.data);
            if (exc != NULL)
                aio_err_restore(exc);
        }
        aio__sb_free(&sb);
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return -1;
}

static int check_unix_stream_socket(int fd)
{
    int family, type, proto;
    aio__socket_kind(fd, &family, &type, &proto);
    if (type < 0)
        return aio__check_stream_socket(fd); /* the OSError of a non-socket */
    if (family != AF_UNIX || type != SOCK_STREAM) {
        aio__strbuf sb = AIO__STRBUF_INIT;
        aio__socket_repr(fd, "socket.socket", &sb);
        aio_err_format(aio_ValueError, "A UNIX Domain Stream Socket was expected, got %s",
                       sb.data ? sb.data : "?");
        aio__sb_free(&sb);
        return -1;
    }
    return 0;
}

/* 3.13's cleanup_socket: the socket's path and its file's inode, to
 * remove at close. 0 (nothing to clean up: an abstract name, no file), 1
 * (recorded), -1 with the exception set. */
static int record_cleanup(int fd, char **path, ino_t *ino)
{
    struct sockaddr_un sun;
    socklen_t len = sizeof sun;
    memset(&sun, 0, sizeof sun);
    if (getsockname(fd, (struct sockaddr *)&sun, &len) < 0) {
        aio_err_set_from_errno(errno);
        return -1;
    }
    size_t n = len > offsetof(struct sockaddr_un, sun_path)
                   ? len - offsetof(struct sockaddr_un, sun_path)
                   : 0;
    if (n == 0) { /* unbound: path[0] of '' */
        aio_err_set(aio_IndexError, "string index out of range");
        return -1;
    }
    if (sun.sun_path[0] == '\0')
        return 0;
    char buf[sizeof sun.sun_path + 1];
    memcpy(buf, sun.sun_path, n < sizeof sun.sun_path ? n : sizeof sun.sun_path);
    buf[n < sizeof sun.sun_path ? n : sizeof sun.sun_path] = '\0';
    struct stat st;
    if (stat(buf, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        aio_err_set_from_errno(errno);
        return -1;
    }
    if ((*path = aio__strdup(buf)) == NULL)
        return -1;
    *ino = st.st_ino;
    return 1;
}

/* Still the file the server bound: the same inode. */
static bool is_bound_file(const struct stat *st, const void *ino)
{
    return st->st_ino == *(const ino_t *)ino;
}

void aio__unix_server_cleanup(aio_server *s)
{
    char *path = s->cleanup_path;
    s->cleanup_path = NULL;
    remove_socket_file(path, is_bound_file, &s->cleanup_ino,
                       "Unable to clean up listening UNIX socket");
    free(path);
}

aio_future *aio__loop_create_unix_server(aio_loop *loop,
                                         const aio__loop_create_unix_server_args *args)
{
    if (args->ssl == AIO_SSL_TRUE) {
        aio_err_set(aio_TypeError, "ssl argument must be an SSLContext or None");
        return NULL;
    }
    if (aio__check_no_ssl(args->ssl, !args->ssl_handshake_timeout_is_none,
                          !args->ssl_shutdown_timeout_is_none) < 0)
        return NULL;
    int fd;
    if (args->path != NULL) {
        if (!args->sock_is_none) {
            aio_err_set(aio_ValueError, "path and sock can not be specified at the same time");
            return NULL;
        }
        if ((fd = bind_path(args->path)) < 0)
            return NULL;
    } else {
        if (args->sock_is_none) {
            aio_err_set(aio_ValueError, "path was not specified, and no sock specified");
            return NULL;
        }
        if (check_unix_stream_socket(args->sock) < 0)
            return NULL;
        fd = args->sock;
    }
    char *cleanup_path = NULL;
    ino_t cleanup_ino = 0;
    aio_future *fut = NULL;
    if ((aio_loop_get_target_version(loop) >= AIO_PY(3, 13) &&
         record_cleanup(fd, &cleanup_path, &cleanup_ino) < 0) ||
        aio__set_nonblocking(fd) < 0 || (fut = aio__loop_create_future(loop)) == NULL) {
        free(cleanup_path);
        if (args->path != NULL)
            close(fd);
        return NULL;
    }
    aio_server *s = aio__server_new(loop, &fd, 1, args->protocol_factory,
                                    args->protocol_factory_arg, args->backlog);
    if (s != NULL) {
        s->backlog_is_none = args->backlog_is_none;
        s->cleanup_path = cleanup_path;
        s->cleanup_ino = cleanup_ino;
    } else {
        free(cleanup_path);
    }
    if (s == NULL || aio__server_complete(s, args->start_serving, fut, true) < 0) {
        aio__decref(fut);
        return NULL;
    }
    return fut;
}
