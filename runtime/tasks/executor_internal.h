/* executor_internal.h - what asyncio's side of the executors (run_in_executor.c)
 * asks of concurrent futures (executor.c). Internal. */
#ifndef CASYNCIO_RUNTIME_EXECUTOR_INTERNAL_H
#define CASYNCIO_RUNTIME_EXECUTOR_INTERNAL_H

#include <stdbool.h>

#include "casyncio/executor.h"

#define AIO__CFUTURE_CANCELLED 0
#define AIO__CFUTURE_FINISHED 1

/* The outcome of a done future: AIO__CFUTURE_CANCELLED, or
 * AIO__CFUTURE_FINISHED with *result and *exc (a new reference, or NULL).
 * With steal the future gives its exception up (a future nobody else sees,
 * so that the exception belongs to the caller's thread alone). */
int aio__cfuture_outcome(aio_cfuture *fut, void **result, aio_exc **exc, bool steal);

/* ThreadPoolExecutor's default max_workers at a target version:
 * min(32, cpu_count + 4) from 3.8, cpu_count * 5 before. */
int aio__default_max_workers(int version);

#endif /* CASYNCIO_RUNTIME_EXECUTOR_INTERNAL_H */
