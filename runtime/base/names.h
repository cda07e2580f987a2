/* names.h - what reprs and logs call C functions. Internal.
 *
 * asyncio prints a callback by its qualified name (`Task.task_wakeup`,
 * `gather.<locals>._done_callback`, `tick`). C functions have addresses;
 * the names come from a registry that callers fill with
 * aio_name_callback() or AIO_NAME_CALLBACK(), and that the runtime fills
 * for its own callbacks with the names CPython's would print. A function
 * nobody named is looked up in the dynamic symbol table (dladdr), and
 * printed as its address when it has no symbol there either.
 */
#ifndef CASYNCIO_RUNTIME_NAMES_H
#define CASYNCIO_RUNTIME_NAMES_H

#include "object.h"

/* How a named runtime callback relates to its arguments, so that a Handle's
 * repr shows what CPython's shows. */
enum {
    AIO__NAME_SELF_ARG = 1,     /* a bound method: `arg` is self, not shown */
    AIO__NAME_ARG_OBJECT = 2,   /* `arg` is an object: shown by its repr */
    AIO__NAME_STEP = 4,         /* a Task's step: `<TaskStepMethWrapper ...>()`,
                                 * the future (the task) is self */
    AIO__NAME_LOGGED_AS_SELF = 8,  /* a slow-callback warning shows self (the
                                     * future for a step, else `arg`) instead
                                     * of the handle: a Task's methods */
    AIO__NAME_WAKEUP = 16,      /* Task.task_wakeup, which up to 3.9 was a
                                 * `<TaskWakeupMethWrapper object at ...>`
                                 * (the target of the handle's loop) */
};

/* What a Task's wakeup callback was called up to 3.9: its repr is
 * `<NAME object at ADDRESS>`. */
#define AIO__WAKEUP_WRAPPER_NAME "TaskWakeupMethWrapper"

/* Appends the registered name of fn (unless out is NULL) and returns its
 * flags; -1 when nobody named it (nothing appended). */
AIO_INTERNAL int aio__name_append(aio__strbuf *out, void (*fn)(void));
/* Registers a runtime callback's name (a string literal) and flags. */
AIO_INTERNAL int aio__name_register(void (*fn)(void), const char *name, unsigned flags);

/* Names a runtime callback as CPython's equivalent is named, at load time. */
#define AIO__NAME(fn, name, flags)                                                 \
    __attribute__((constructor)) static void aio__name_##fn##_(void)              \
    {                                                                              \
        aio__name_register((void (*)(void))(fn), (name), (flags));                 \
    }                                                                              \
    extern int aio__names_sentinel_

#endif /* CASYNCIO_RUNTIME_NAMES_H */
