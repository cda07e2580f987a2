/* casyncio/pyversion.h - which CPython's asyncio a program gets.
 *
 * Hand-written. Two choices, made apart:
 *
 * - The API level, at compile time: define AIO_API_LEVEL before including
 *   <casyncio.h> to code against one CPython's API. A function or an
 *   argument field that CPython added after that level, or removed by it,
 *   is then a compile-time error. The library's ABI is the same at every
 *   level: argument structs keep every field, under a reserved name where
 *   the level hides it.
 *
 * - The target version, at run time: each loop behaves as one CPython's
 *   asyncio does (messages, which parameters exist, which behaviours apply).
 *   New loops take the process default, aio_set_target_version(); a loop can
 *   be given its own with aio_loop_set_target_version().
 *
 * Both default to AIO_PY_DEFAULT, the CPython the library is checked
 * against line by line (tests/conformance/TARGET).
 */
#ifndef CASYNCIO_PYVERSION_H
#define CASYNCIO_PYVERSION_H

#include "casyncio/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A CPython version as one integer, ordered as the versions are:
 * AIO_PY(3, 11) == 0x030B00; AIO_PY_MICRO(3, 8, 1) == 0x030801. */
#define AIO_PY(major, minor) (((major) << 16) | ((minor) << 8))
#define AIO_PY_MICRO(major, minor, micro) (AIO_PY(major, minor) | (micro))

#define AIO_PY_OLDEST AIO_PY(3, 6)   /* the oldest version the spec records */
#define AIO_PY_NEWEST AIO_PY(3, 13)  /* the newest */
#define AIO_PY_DEFAULT AIO_PY(3, 11) /* the default level and target */

#ifndef AIO_API_LEVEL
#define AIO_API_LEVEL AIO_PY_DEFAULT
#endif
#if AIO_API_LEVEL < AIO_PY_OLDEST || AIO_API_LEVEL > (AIO_PY_NEWEST | 0xff)
#error "AIO_API_LEVEL must be AIO_PY(3, 6) to AIO_PY(3, 13)"
#endif

/* The process default target version, for loops created from now on and
 * for module functions called outside any loop. `version` is AIO_PY(3, N)
 * or AIO_PY_MICRO(3, N, micro) with N from 6 to 13; anything else raises
 * ValueError and returns -1. Thread-safe. */
AIO_API int aio_set_target_version(int version);
AIO_API int aio_get_target_version(void);

/* One loop's target version: the same values, ValueError otherwise; from
 * the loop's thread. Behaviours take it from the loop they run on. */
AIO_API int aio_loop_set_target_version(aio_loop *loop, int version);
AIO_API int aio_loop_get_target_version(aio_loop *loop);

#ifdef __cplusplus
}
#endif

#endif /* CASYNCIO_PYVERSION_H */
