/* process_spawn.h - starting a child process as subprocess.Popen does (POSIX,
 * close_fds=True, restore_signals=True). Internal. */
#ifndef CASYNCIO_RUNTIME_PROCESS_SPAWN_H
#define CASYNCIO_RUNTIME_PROCESS_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "object.h"

/* What one of the child's fds 0, 1, 2 becomes. */
#define AIO__SPAWN_INHERIT (-1)  /* None: the parent's */
#define AIO__SPAWN_TO_STDOUT (-2) /* stderr only: a copy of the child's stdout */

typedef struct aio__spawn_spec {
    const char *const *argv;      /* argv[0] included; NULL-terminated */
    const char *executable;       /* what to run; searched in PATH without a '/' */
    const char *const *envp;      /* NULL: this process's environment */
    const char *cwd;              /* NULL: unchanged */
    bool start_new_session;
    const int *pass_fds;
    size_t pass_fds_len;
    int child_fd[3];              /* a descriptor, or AIO__SPAWN_INHERIT/TO_STDOUT */
} aio__spawn_spec;

/* Forks and executes; returns once the child has executed the program (or
 * failed to). 0 with *pid set, or -1 with the exception set: the OSError
 * Popen raises (FileNotFoundError "[Errno 2] No such file or directory:
 * 'prog'" for a program or cwd not found), MemoryError. A child that
 * failed to execute is reaped before this returns. Every descriptor the
 * child does not get (other than pass_fds) is closed in it. */
AIO_INTERNAL int aio__spawn(const aio__spawn_spec *spec, pid_t *pid);

#endif /* CASYNCIO_RUNTIME_PROCESS_SPAWN_H */
