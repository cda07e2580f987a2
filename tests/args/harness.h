/* harness.h - the C side of the argument table test (tests/args/).
 *
 * generated/tests/args_table.c defines args_cases[]: one function per case,
 * each making one call on the fixtures below and reporting its outcome with
 * an args_report_*() function. harness.c runs every case once per state of
 * its owner, on fresh fixtures, and prints one line per run:
 *
 *   loop.call_later(delay=None) [closed]: TypeError: delay must not be None
 *
 * tests/args/harness.py does the same on CPython; tests/args/run.py compares.
 * The fixtures are those gen/layout.toml [args_test] lists.
 */
#ifndef CASYNCIO_ARGS_HARNESS_H
#define CASYNCIO_ARGS_HARNESS_H

#include "casyncio.h"

typedef struct args_fixture {
    const char *owner;                  /* the case's owner: asyncio, loop, future */
    const char *state;                  /* the state it runs in */
    aio_loop *loop;                     /* the case's loop (closed in state "closed") */
    aio_future *fut;                    /* a future of the loop, in the future states */
    aio_future *done_fut;               /* a future of the loop, done with None */
    aio_exc *exc;                       /* ValueError('boom') */
    aio_callback noop;
    aio_done_callback noop_done;
    aio_exception_handler handler;
    aio_task_factory factory;
    aio_coroutine coro;
    aio_protocol_factory proto_factory; /* a factory of protocols that do nothing */
    int sock;                           /* a connected stream socket (AF_UNIX) */
    int sock_peer;                      /* (its peer) */
    int dgram;                          /* a non-blocking UDP socket, one datagram queued */
    int rfd;                            /* the read end of a pipe */
    int wfd;                            /* (its write end) */
    int badfd;                          /* a descriptor number that is not open */
    int filefd;                         /* a regular file */
    int rpipe;                          /* a pipe of its own a transport may take over */
    int wpipe;                          /* (its write end) */
    int filepipe;                       /* a regular file a pipe transport refuses */
    int binfile;                        /* a regular file of 4 bytes, at its start */
    const void *empty;                  /* empty bytes (length 0) */
    void *buf;                          /* an empty writable buffer (length 0) */
    const aio_exception_context *ctx;   /* {'message': 'boom'} */
    const aio_address *addr;            /* ('127.0.0.1', 80) */
    int sigusr1;
    aio_executor *pool;                 /* a ThreadPoolExecutor */
    aio_executor_func work;             /* returns None */
    void *stand_in;                     /* the object of a stub's method: never read */
} args_fixture;

typedef struct args_case {
    const char *name;                   /* loop.call_later(delay=None) */
    const char *owner;                  /* gen/layout.toml [args_test.states] */
    const char *const *states;          /* NULL-terminated */
    void (*run)(args_fixture *fx);
} args_case;

/* The generated table, ended by an entry whose name is NULL. */
extern const args_case args_cases[];

/* The outcome of a call, by the C type of its result: 0 or -1 (none), 1, 0
 * or -1 (bool), a value or -1 (int), a borrowed or new pointer or NULL, a
 * future (run to its end on an open loop), a double or -1.0. */
void args_report_none(args_fixture *fx, int result);
void args_report_bool(args_fixture *fx, int result);
void args_report_int(args_fixture *fx, int result);
void args_report_int64(args_fixture *fx, int64_t result);
void args_report_ptr(args_fixture *fx, const void *result);
void args_report_new(args_fixture *fx, void *result);
void args_report_future(args_fixture *fx, aio_future *result);
void args_report_double(args_fixture *fx, double result);

#endif /* CASYNCIO_ARGS_HARNESS_H */
