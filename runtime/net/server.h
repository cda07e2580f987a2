/* server.h - asyncio.Server (base_events.py, 3.11.7) and the accept loop
 * that serves its sockets (selector_events.py). Internal.
 *
 * A server is a reference-counted object. References are held by the
 * future of create_server() (its result), by each listening socket's
 * reader and accept-retry timer, by each connection it accepted (until
 * the connection is lost: Server._attach/_detach, which also keep the
 * set of those connections, for close_clients()), and by a pending
 * serve_forever().
 */
#ifndef CASYNCIO_RUNTIME_SERVER_H
#define CASYNCIO_RUNTIME_SERVER_H

#include <errno.h>
#include <fcntl.h>
#include <sys/types.h>

#include "transport.h"

/* constants.ACCEPT_RETRY_DELAY: seconds accepting pauses after accept()
 * ran out of descriptors or memory. */
#define AIO__ACCEPT_RETRY_DELAY 1.0

/* One listening socket of a server: the argument of its reader. */
typedef struct aio__listener {
    aio_server *server;
    int fd;
} aio__listener;

/* A connection the server accepted and that is not lost yet: one node of
 * the server's `clients` (Server._clients), a circular list around a
 * sentinel so that a node leaves whichever list holds it in constant
 * time. The transport is borrowed: it lives until it detaches. */
typedef struct aio__server_client {
    struct aio__server_client *prev, *next;
    aio_server *server;
    aio_transport *transport;
} aio__server_client;

struct aio_server {
    aio__object ob;
    aio_loop *loop;                 /* a reference */
    aio__listener *listeners;       /* one per socket, in order */
    int *fds;                       /* the same descriptors, for sockets() */
    size_t count;
    bool closed;                    /* _sockets is None */
    aio_socket_list list;           /* what sockets() hands out */
    aio_protocol_factory factory;
    void *factory_arg;
    int backlog;
    bool backlog_is_none;           /* backlog=None: listen() fails */
    size_t active_count;            /* connections attached */
    aio__server_client clients;     /* their sentinel, in order of accept */
    aio_future **waiters;           /* wait_closed()'s, each a reference */
    size_t waiters_len, waiters_cap;
    bool waiters_gone;              /* _waiters is None: woken already */
    bool serving;
    aio_future *serving_forever;    /* _serving_forever_fut (a reference) */
    aio_server *prev, *next;        /* the loop's servers not yet closed */
    char *cleanup_path;             /* 3.13 unix server: the socket file close() removes */
    ino_t cleanup_ino;              /* ... when it is still this one */
};

/* Server(loop, sockets, ...): a server over the n listening descriptors
 * (non-blocking already), which it takes over, whether it is made or not.
 * New reference; NULL with MemoryError. */
AIO_INTERNAL aio_server *aio__server_new(aio_loop *loop, const int *fds, size_t n,
                                         aio_protocol_factory factory, void *factory_arg,
                                         int backlog);

/* Server._start_serving(): listen() and a reader on each socket, unless
 * serving already. 0, or -1 with OSError from listen(). */
AIO_INTERNAL int aio__server_start(aio_server *server);

/* The end of create_server()/create_unix_server(): start serving when
 * asked and complete fut with the server (a reference to it). With
 * start_serving the coroutine ends with `await tasks.sleep(0)`: when that
 * sleep is the caller's own (inline_sleep: fut is returned done to the
 * task about to await it), the first aio_await() of fut yields once;
 * otherwise the caller has already spent that iteration (fut's awaiting
 * task resumes in the next one). Takes the caller's reference to the
 * server. 0, or -1 with the exception set (the server closed). */
AIO_INTERNAL int aio__server_complete(aio_server *server, bool start_serving, aio_future *fut,
                                      bool inline_sleep);

/* 3.13's _stop_serving() for a unix server: removes cleanup_path when it
 * is still the file the server bound (unix_server.c). */
AIO_INTERNAL void aio__unix_server_cleanup(aio_server *server);

/* Server._attach(), in two steps so that the only failure comes before
 * the transport is made: a node for a connection of the server (NULL with
 * MemoryError), then, with the transport made, the node linked into the
 * server's clients, which the connection holds a reference to. A node
 * never attached is freed with free(). */
AIO_INTERNAL aio__server_client *aio__server_client_new(aio_server *server);
AIO_INTERNAL void aio__server_attach(aio__server_client *client, aio_transport *transport);

/* Server._detach() (an aio__transport_detach, given the node): a
 * connection the server accepted is lost; drops the node and the
 * reference the connection held. */
AIO_INTERNAL void aio__server_detach(void *client);

/* The accept loop (accept.c). Adds the reader of one listening socket
 * (loop._start_serving): 0, or -1 with the exception set. */
AIO_INTERNAL int aio__listener_start(aio__listener *l);
/* Removes it and closes the socket (loop._stop_serving). */
AIO_INTERNAL void aio__listener_stop(aio__listener *l);

#endif /* CASYNCIO_RUNTIME_SERVER_H */
