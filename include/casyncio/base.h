/* casyncio/base.h - the types every part of casyncio shares.
 *
 * Hand-written. The generated API (casyncio/api.h) builds on these: the
 * opaque object types, reference counting, the callback signatures, and the
 * explicit-value constants that argument structs use.
 */
#ifndef CASYNCIO_BASE_H
#define CASYNCIO_BASE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CASYNCIO_VERSION_MAJOR 0
#define CASYNCIO_VERSION_MINOR 1
#define CASYNCIO_VERSION_PATCH 0

#if defined(__GNUC__) || defined(__clang__)
#define AIO_API __attribute__((visibility("default")))
#define AIO_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define AIO_API
#define AIO_PRINTF(fmt, args)
#endif

/* ------------------------------------------------------------------------
 * Objects.
 *
 * Every object below is reference counted, as in CPython. A function that
 * documents its result as a "new reference" hands the caller one reference,
 * to be dropped with aio_decref(); a "borrowed" result stays valid for as
 * long as the owner named in its documentation keeps it. Reference counts
 * are not atomic: an object belongs to its loop's thread, and only
 * aio_loop_call_soon_threadsafe() may be called from other threads.
 */
typedef struct aio_loop aio_loop;                 /* asyncio event loop */
typedef struct aio_future aio_future;             /* asyncio.Future */
typedef struct aio_future aio_task;               /* asyncio.Task, a Future */
typedef struct aio_handle aio_handle;             /* asyncio.Handle */
typedef struct aio_handle aio_timer_handle;       /* asyncio.TimerHandle, a Handle */
typedef struct aio_server aio_server;             /* asyncio.Server */
typedef struct aio_transport aio_transport;       /* any asyncio transport */
typedef struct aio_context aio_context;           /* contextvars.Context */
typedef struct aio_contextvar aio_contextvar;     /* contextvars.ContextVar */
typedef struct aio_contextvar_token aio_contextvar_token; /* contextvars.Token */
typedef struct aio_exc aio_exc;                   /* an exception instance */
typedef struct aio_executor aio_executor;         /* concurrent.futures.Executor */
typedef struct aio_ssl_context aio_ssl_context;   /* ssl.SSLContext */
typedef struct aio_protocol aio_protocol;         /* generated: protocol callbacks */
typedef struct aio_event_loop_policy aio_event_loop_policy; /* generated */
typedef struct aio_lock aio_lock;                 /* asyncio.Lock */
typedef struct aio_event aio_event;               /* asyncio.Event */
typedef struct aio_condition aio_condition;       /* asyncio.Condition */
typedef struct aio_semaphore aio_semaphore;       /* asyncio.Semaphore, BoundedSemaphore */
typedef struct aio_barrier aio_barrier;           /* asyncio.Barrier */
typedef struct aio_queue aio_queue;               /* asyncio.Queue, PriorityQueue, LifoQueue */
typedef struct aio_task_group aio_task_group;     /* asyncio.TaskGroup */
typedef struct aio_runner aio_runner;             /* asyncio.Runner */
typedef struct aio_timeout aio_timeout;           /* asyncio.Timeout */
typedef struct aio_as_completed_iter aio_as_completed_iter; /* as_completed()'s iterator */
typedef struct aio_stream_reader aio_stream_reader; /* asyncio.StreamReader */
typedef struct aio_process aio_process;             /* asyncio.subprocess.Process */
typedef struct aio_stream_writer aio_stream_writer; /* asyncio.StreamWriter */

/* Takes a reference to any casyncio object and returns it; NULL is
 * returned as is. A pointer that is not a casyncio object is refused:
 * NULL with TypeError set. */
AIO_API void *aio_incref(void *obj);
/* Drops a reference to any casyncio object; NULL is ignored. A pointer that
 * is not a casyncio object is left alone, and an error is logged. */
AIO_API void aio_decref(void *obj);
/* repr(obj) as asyncio would print it, in a string the caller free()s;
 * "None" for NULL. NULL with MemoryError set when out of memory, with
 * TypeError when obj is not a casyncio object. */
AIO_API char *aio_repr(const void *obj);

/* The header that starts every casyncio object. It is public only for the
 * objects whose struct the caller fills in (an event loop policy), where it
 * is the first member; the constructor sets it. */
typedef struct aio_object_head {
    intptr_t refcnt_;
    const void *type_;
} aio_object_head;

/* ------------------------------------------------------------------------
 * Argument structs: zero means "left out".
 *
 * Each method with optional or keyword arguments takes one struct of its
 * arguments; a field the caller leaves out (zero) means the Python default,
 * and a NULL struct pointer means "all defaults". Where Python tells an
 * explicit zero, False or None apart from the default, write it with these:
 *
 *   .backlog = AIO_ZERO              backlog=0            (default is 100)
 *   .start_serving = AIO_FALSE       start_serving=False  (default is True)
 *   .ssl_handshake_timeout = AIO_ZERO  a timeout of 0, not None
 *   .stdin = AIO_NONE                stdin=None           (default is PIPE)
 *
 * Pointer fields need none of this: NULL is None.
 */
#define AIO_ZERO INT_MIN           /* an explicit 0, 0.0 or fd 0 */
#define AIO_FALSE AIO_ZERO         /* an explicit False */
#define AIO_TRUE 1                 /* an explicit True (plain `true` works too) */
#define AIO_NONE (INT_MIN + 1)     /* an explicit None where None is not the default */

/* ssl=True: a default, verifying SSL context. */
#define AIO_SSL_TRUE ((aio_ssl_context *)1)

/* subprocess.PIPE, subprocess.STDOUT and subprocess.DEVNULL, as in Python. */
#define AIO_SUBPROCESS_PIPE (-1)
#define AIO_SUBPROCESS_STDOUT (-2)
#define AIO_SUBPROCESS_DEVNULL (-3)

/* ------------------------------------------------------------------------
 * Callbacks. A Python callable with *args becomes a function pointer with one
 * `void *` argument; a callable without *args gets a companion `<name>_arg`
 * field that is passed back to it. A callback raises by setting the current
 * exception (aio_err_set()) before it returns.
 */
typedef void (*aio_callback)(void *arg);
typedef void (*aio_done_callback)(aio_future *fut, void *arg);
typedef aio_protocol *(*aio_protocol_factory)(void *arg);
typedef void *(*aio_coroutine)(void *arg);
typedef aio_future *(*aio_task_factory)(aio_loop *loop, aio_coroutine coro,
                                        void *coro_arg, void *arg);
typedef void *(*aio_executor_func)(void *arg);
/* A Runner's loop_factory: a new event loop (a new reference), or NULL with
 * the exception set. */
typedef aio_loop *(*aio_loop_factory)(void *arg);
/* start_server()'s client_connected_cb(reader, writer): run as a task for
 * each connection (Python's coroutine case), with the connection's reader
 * and writer (valid while it runs) and the arg given beside it; its return
 * value is the task's result, NULL with the exception set fails it. */
typedef void *(*aio_client_connected_cb)(aio_stream_reader *reader, aio_stream_writer *writer,
                                         void *arg);
/* The order of a PriorityQueue's items: negative when a sorts before b (a <
 * b in Python), which is all the queue asks, as heapq only uses `<`. */
typedef int (*aio_compare_func)(const void *a, const void *b, void *arg);
/* A predicate (Condition.wait_for): 1 true, 0 false, -1 with the exception
 * set. */
typedef int (*aio_predicate)(void *arg);
/* Releases a callback's argument the loop will not hand to the callback
 * (the `args_release` of call_soon() and friends): free(), or a function
 * of the caller's. */
typedef void (*aio_release_func)(void *arg);

/* Naming callbacks. asyncio prints a callback by its name: "Exception in
 * callback tick()", `<Handle tick()>`, `<Future pending cb=[tick()]>`. A C
 * function has an address and, unless it is exported and the program
 * linked with -rdynamic, no name the library can find. Name each callback
 * once, after its declaration:
 *
 *     static void tick(void *arg) { ... }
 *     AIO_NAME_CALLBACK(tick);
 *
 * which registers "tick" when the program starts, or at run time, under any
 * name, with aio_name_callback((void (*)(void))tick, "Clock.tick"). A
 * function named neither way is printed by its dynamic symbol, else as its
 * address. 0, or -1 with ValueError (NULL fn or empty name) or MemoryError.
 * Thread-safe; naming a function again replaces its name. */
AIO_API int aio_name_callback(void (*fn)(void), const char *name);
#if defined(__GNUC__) || defined(__clang__)
#define AIO_NAME_CALLBACK(fn)                                                      \
    __attribute__((constructor)) static void aio_name_callback_##fn##_(void)      \
    {                                                                              \
        aio_name_callback((void (*)(void))(fn), #fn);                              \
    }                                                                              \
    extern int aio_name_callback_sentinel_
#else
#define AIO_NAME_CALLBACK(fn) extern int aio_name_callback_sentinel_
#endif

/* The forms a socket address takes in Python, which an aio_address says
 * it is in. A caller may leave it AIO_ADDRESS_AUTO: a path makes it an
 * AF_UNIX path, else it is a (host, port) pair. */
typedef enum aio_address_kind {
    AIO_ADDRESS_AUTO = 0,
    AIO_ADDRESS_PAIR,       /* (host, port): AF_INET, or AF_INET6 with 0s */
    AIO_ADDRESS_QUAD,       /* (host, port, flowinfo, scope_id): AF_INET6 */
    AIO_ADDRESS_PATH,       /* an AF_UNIX path: '/run/app.sock' */
    AIO_ADDRESS_ABSTRACT,   /* an AF_UNIX abstract name: b'\0name' (path,
                               path_len bytes, the first a NUL) */
    AIO_ADDRESS_UNNAMED,    /* an unnamed AF_UNIX socket: '' */
} aio_address_kind;

/* A socket address, as Python spells it: (host, port), (host, port,
 * flowinfo, scope_id) for IPv6, or an AF_UNIX path. Addresses the library
 * hands out (peername, sockname, getaddrinfo(), sock_accept()) say their
 * kind and point to strings they own. */
typedef struct aio_address {
    const char *host;
    int port;
    unsigned flowinfo;
    unsigned scope_id;
    const char *path;
    aio_address_kind kind;
    size_t path_len;        /* AIO_ADDRESS_ABSTRACT: the name's length (its
                               first byte, NUL, included); else unused */
} aio_address;

/* A writable buffer (BufferedProtocol.get_buffer) and a read-only view of
 * bytes (one element of transport.writelines()). */
typedef struct aio_buffer {
    void *data;
    size_t len;
} aio_buffer;

typedef struct aio_bytes_view {
    const void *data;
    size_t len;
} aio_bytes_view;

/* An immutable, reference-counted bytes object (sock_recv() results). */
typedef struct aio_bytes aio_bytes;

/* Server.sockets: the listening sockets' file descriptors. */
typedef struct aio_socket_list {
    size_t len;
    const int *fds;
} aio_socket_list;

/* Results of coroutine methods, owned by their future.
 *
 * A coroutine method whose Python result is an int (sock_recv_into(),
 * sock_sendfile(), sendfile()) completes its future with the number itself
 * in the pointer: read it with AIO_RESULT_INT(aio_future_result(fut)) (or of
 * aio_await()'s return); the NULL of an error is told from a 0 result by
 * aio_err_occurred(). A bytes result (sock_recv()) is an aio_bytes the
 * future owns (casyncio/net.h). */
#define AIO_RESULT_INT(result) ((int64_t)(intptr_t)(result))

/* asyncio.wait()'s return_when (spec type return_when). */
typedef enum aio_return_when {
    AIO_ALL_COMPLETED = 0,  /* the default */
    AIO_FIRST_COMPLETED = 1,
    AIO_FIRST_EXCEPTION = 2
} aio_return_when;

/* asyncio.wait()'s (done, pending) sets: arrays in argument order, each
 * entry a new reference; aio_wait_result_clear() releases them. */
typedef struct aio_wait_result {
    aio_future **done;
    size_t done_len;
    aio_future **pending;
    size_t pending_len;
} aio_wait_result;

/* The (reader, writer) pair of open_connection() and
 * open_unix_connection(): two new references, which the caller drops with
 * aio_decref(); both NULL with the exception set on failure. */
typedef struct aio_stream_pair {
    aio_stream_reader *reader;
    aio_stream_writer *writer;
} aio_stream_pair;

/* What Process.communicate() gives: the data read from the child's stdout
 * and stderr, new references (NULL for None: that stream was not a PIPE).
 * On failure both are NULL and error is -1 with the exception set; else
 * error is 0. Field names avoid stdout/stderr, macros of the C library. */
typedef struct aio_process_output {
    aio_bytes *stdout_;
    aio_bytes *stderr_;
    int error;
} aio_process_output;

/* asyncio.streams._DEFAULT_LIMIT: a StreamReader's default limit, 64 KiB. */
#define AIO_STREAM_DEFAULT_LIMIT 65536

typedef struct aio_transport_protocol {
    aio_transport *transport;
    aio_protocol *protocol;
} aio_transport_protocol;

/* WriteTransport.get_write_buffer_limits(): Python's (low, high) tuple;
 * both -1 with the exception set when there are none to give. */
typedef struct aio_write_buffer_limits {
    int64_t low;
    int64_t high;
} aio_write_buffer_limits;

typedef struct aio_socket_address {
    int conn;
    aio_address address;
} aio_socket_address;

/* sock_recvfrom()'s result, (bytes, address), and sock_recvfrom_into()'s,
 * (nbytes, address). Owned by the future: valid while it is. data: the
 * datagram (aio_bytes_data(), aio_bytes_size()) for sock_recvfrom(), NULL
 * for sock_recvfrom_into(); nbytes: the bytes received (written into the
 * buffer); address: the sender's, NULL where Python gives None. */
typedef struct aio_datagram {
    aio_bytes *data;
    size_t nbytes;
    const aio_address *address;
} aio_datagram;

typedef struct aio_nameinfo {
    const char *host;
    const char *port;
} aio_nameinfo;

/* One entry of getaddrinfo()'s list: (family, type, proto, canonname,
 * sockaddr). canonname is "" except on the first entry with AI_CANONNAME. */
typedef struct aio_addrinfo {
    int family;
    int type;
    int proto;
    const char *canonname;
    aio_address sockaddr;   /* (host, port), or (host, port, flowinfo, scope_id) */
    /* C only: the same address in binary, for connect() or bind(). */
    struct sockaddr_storage addr;
    socklen_t addrlen;
} aio_addrinfo;

typedef struct aio_addrinfo_list {
    size_t len;
    aio_addrinfo *items;
} aio_addrinfo_list;

/* One extra key of an exception-handler context: its name and the repr of
 * its value. */
typedef struct aio_context_item {
    const char *key;
    const char *value;
} aio_context_item;

/* The `context` dict of loop.call_exception_handler(). A NULL (or zero)
 * field is a key that is absent. */
typedef struct aio_exception_context aio_exception_context;
struct aio_exception_context {
    const char *message;           /* 'message' */
    aio_exc *exception;            /* 'exception' */
    aio_future *future;            /* 'future' */
    aio_task *task;                /* 'task' */
    aio_handle *handle;            /* 'handle' */
    aio_protocol *protocol;        /* 'protocol' */
    aio_transport *transport;      /* 'transport' */
    int socket;                    /* 'socket': a file descriptor (AIO_ZERO: fd 0) */
    void *asyncgen;                /* 'asyncgen' */
    const char *source_traceback;  /* 'source_traceback', already formatted */
    const char *handle_traceback;  /* 'handle_traceback', already formatted */
    const aio_exception_context *context; /* 'context' (handler failures) */
    const aio_context_item *extra; /* further keys, in any order */
    size_t extra_len;
};

/* An exception handler: handler(loop, context). The context is NULL only
 * when a caller passed None to loop.call_exception_handler(). */
typedef void (*aio_exception_handler)(aio_loop *loop,
                                      const aio_exception_context *context,
                                      void *arg);

/* Subprocess keyword arguments handed to the process spawner. A field left
 * 0 or NULL is Popen's default. */
typedef struct aio_popen_options {
    const char *cwd;               /* NULL: None (default), the current directory */
    const char *const *env;        /* NULL: None (default), this environment; else a
                                      NULL-terminated "NAME=value" list */
    const char *executable;        /* NULL: None (default), args[0] */
    bool start_new_session;        /* false (default): False */
    const int *pass_fds;           /* pass_fds_len of them; NULL: () (default) */
    size_t pass_fds_len;
    /* The Popen options asyncio refuses (its streams are bytes only), here
     * so that a caller passing them gets asyncio's ValueError, checked in
     * asyncio's order: universal_newlines, shell, bufsize, text, encoding,
     * errors. */
    bool universal_newlines;       /* true: ValueError "universal_newlines must be False" */
    int shell;                     /* 0: not given; AIO_FALSE: False; else True.
                                      subprocess_exec() refuses True ("shell must be
                                      False"), subprocess_shell() False ("shell must
                                      be True") */
    int bufsize;                   /* 0 or AIO_ZERO: 0 (default); else ValueError
                                      "bufsize must be 0" */
    bool text;                     /* true: ValueError "text must be False" */
    const char *encoding;          /* NULL: None (default); else ValueError
                                      "encoding must be None" */
    const char *errors;            /* NULL: None (default); else ValueError
                                      "errors must be None" */
} aio_popen_options;

#ifdef __cplusplus
}
#endif

/* The API level and the target version (their macros serve the generated
 * headers, which include this one). */
#include "casyncio/pyversion.h"

#endif /* CASYNCIO_BASE_H */
