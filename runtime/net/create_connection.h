/* create_connection.h - the state of loop.create_connection() and
 * create_unix_connection() while they resolve and connect, shared with
 * happy_eyeballs.c. Internal. */
#ifndef CASYNCIO_RUNTIME_CREATE_CONNECTION_H
#define CASYNCIO_RUNTIME_CREATE_CONNECTION_H

#include "sock_connect.h"

/* One address to connect to or bind to: an entry of getaddrinfo()'s
 * answer (or what _ipaddr_info() makes of a numeric host). */
typedef struct aio__conn_target {
    int family, type, proto;
    struct sockaddr_storage ss;
    socklen_t len;
    char *display;              /* repr() of Python's address tuple */
} aio__conn_target;

typedef struct aio__conn_targets {
    aio__conn_target *items;
    size_t len;
} aio__conn_targets;

/* Frees the targets' memory (the struct itself is the caller's). */
AIO_INTERNAL void aio__conn_targets_clear(aio__conn_targets *t);
/* _ipaddr_info(): the one target of a numeric host, without asking the
 * resolver, for sockets of `type` (proto 0 becomes TCP or UDP as type
 * says). 1 when host is numeric (a target added to *t), 0 when not, -1
 * with the exception set (OverflowError('<method>(): port must be
 * 0-65535.') for the port). */
AIO_INTERNAL int aio__conn_ipaddr_info(const char *host, int port, int family, int type,
                                       int proto, unsigned flowinfo, unsigned scope_id,
                                       const char *method, aio__conn_targets *t);
/* The answer of getaddrinfo() appended to t as targets. 0 or -1
 * (MemoryError). */
AIO_INTERNAL int aio__conn_targets_from_addrinfo(aio__conn_targets *t,
                                                 const aio_addrinfo_list *infos);

typedef struct aio__create_conn aio__create_conn;

/* One _connect_sock(): its socket, its pending connect and the OSErrors it
 * collected (my_exceptions). */
typedef struct aio__conn_attempt {
    aio__create_conn *cc;
    int fd;                     /* -1 once closed or handed on */
    aio__connect_op *op;        /* while the connect is pending */
    aio_exc **excs;
    size_t nexcs;
} aio__conn_attempt;

struct aio__create_conn {
    aio__object ob;
    aio_loop *loop;
    aio_future *fut;            /* the (transport, protocol) future */
    aio_protocol_factory factory;
    void *factory_arg;
    aio__conn_targets remote, local;
    bool has_local;
    aio_future *lookup;         /* a getaddrinfo() in flight */
    aio__conn_attempt *attempts;    /* one per remote address */
    size_t started;             /* attempts begun, in order */
    size_t running;             /* of them, connects still pending */
    size_t winner;              /* the attempt that connected */
    bool happy_eyeballs;
    bool log_connected;         /* create_connection()'s debug-mode line */
    double delay;
    aio_handle *timer;          /* the next attempt's start (Happy Eyeballs) */
    /* what resolving still needs */
    char *host, *local_host;
    char port[12], local_port[12];
    bool has_port;
    int local_port_num;
    unsigned local_flowinfo, local_scope_id;
    int family, proto, flags, interleave;
};

/* _connect_sock(): the attempt of index i (socket, bind to a local
 * address, connect). 0: connected; 1: connecting; -1: failed, its OSErrors
 * recorded; -2: failed otherwise, the exception set. */
AIO_INTERNAL int aio__conn_attempt_run(aio__create_conn *cc, size_t i);
/* Closes the attempt's socket and forgets its connect. */
AIO_INTERNAL void aio__conn_attempt_close(aio__conn_attempt *a);
/* The attempt of index i connected: the others are dropped and the
 * transport is made. */
AIO_INTERNAL void aio__conn_win(aio__create_conn *cc, size_t i);
/* Every attempt failed: the future gets one OSError, or the combined one. */
AIO_INTERNAL void aio__conn_fail_all(aio__create_conn *cc);
/* The future fails with exc (taken over) and everything in flight stops. */
AIO_INTERNAL void aio__conn_fail(aio__create_conn *cc, aio_exc *exc);

/* Happy Eyeballs (happy_eyeballs.c). _interleave_addrinfos(): reorders
 * targets by family, `first_count` of the first family first. 0, or -1
 * with MemoryError. */
AIO_INTERNAL int aio__interleave_targets(aio__conn_targets *t, int first_count);
/* staggered_race(): starts the next attempt (and arms the timer for the
 * one after it), or reports the end when none is left. */
AIO_INTERNAL void aio__he_next(aio__create_conn *cc);
/* A pending attempt of index i failed (its errors already recorded). */
AIO_INTERNAL void aio__he_attempt_failed(aio__create_conn *cc, size_t i);

#endif /* CASYNCIO_RUNTIME_CREATE_CONNECTION_H */
