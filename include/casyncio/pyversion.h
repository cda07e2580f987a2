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
 * AIO_PY(3, 11) == 0x030B00 is 3.11.0; AIO_PY_MICRO(3, 8, 1) == 0x030801.
 * The point release matters only where CPython changed a behaviour within
 * one (reuse_address refused from 3.8.1; docs/c-api.md, "Target
 * versions"). */
#define AIO_PY(major, minor) (((major) << 16) | ((minor) << 8))
#define AIO_PY_MICRO(major, minor, micro) (AIO_PY(major, minor) | (micro))

#define AIO_PY_OLDEST AIO_PY(3, 6)   /* the oldest version the spec records */
#define AIO_PY_NEWEST AIO_PY(3, 13)  /* the newest */
#define AIO_PY_DEFAULT AIO_PY_MICRO(3, 11, 7) /* the default level and target */

#ifndef AIO_API_LEVEL
#define AIO_API_LEVEL AIO_PY_DEFAULT
#endif
#if AIO_API_LEVEL < AIO_PY_OLDEST || AIO_API_LEVEL > (AIO_PY_NEWEST | 0xff)
#error "AIO_API_LEVEL must be AIO_PY(3, 6) to AIO_PY(3, 13)"
#endif

/* How a header marks what the API level leaves out (generated headers do it
 * from the spec's history, hand-written ones by hand). A function CPython
 * added in 3.N is declared with AIO__SINCE_3_N, one it removed in 3.N with
 * AIO__UNTIL_3_N: below (or from) that level a call, or taking its address,
 * is a compile-time error naming the version ("unavailable" with gcc 12+
 * and clang; gcc before 12 catches calls only); the function stays
 * exported at every level. An argument-struct field CPython added in 3.N
 * has its own name only from that level on: below it the field is
 * aio__since_3_N_NAME (aio__until_3_N_NAME for a removed one), so using the
 * name fails ("no member named 'context'") while the struct's layout, and
 * sizeof, stay the same at every level.
 *
 * The library and its tests define AIO__API_ALL: they see every function
 * and every field of every version (AIO__LEVEL_MIN is the oldest level,
 * AIO__LEVEL_MAX the newest). A program never defines it. */
#ifdef AIO__API_ALL
#define AIO__LEVEL_MIN AIO_PY_OLDEST
#define AIO__LEVEL_MAX (AIO_PY_NEWEST | 0xff)
#else
#define AIO__LEVEL_MIN AIO_API_LEVEL
#define AIO__LEVEL_MAX AIO_API_LEVEL
#endif

#if defined(__has_attribute)
#if __has_attribute(unavailable)
#define AIO__UNAVAILABLE(msg) __attribute__((unavailable(msg)))
#elif __has_attribute(error)
#define AIO__UNAVAILABLE(msg) __attribute__((error(msg)))
#endif
#endif
#ifndef AIO__UNAVAILABLE
#define AIO__UNAVAILABLE(msg)
#endif

#if AIO__LEVEL_MAX >= AIO_PY(3, 7)
#define AIO__SINCE_3_7
#else
#define AIO__SINCE_3_7 AIO__UNAVAILABLE("added in Python 3.7, after AIO_API_LEVEL")
#endif
#if AIO__LEVEL_MIN < AIO_PY(3, 7)
#define AIO__UNTIL_3_7
#else
#define AIO__UNTIL_3_7 AIO__UNAVAILABLE("removed in Python 3.7, at or before AIO_API_LEVEL")
#endif
#if AIO__LEVEL_MAX >= AIO_PY(3, 8)
#define AIO__SINCE_3_8
#else
#define AIO__SINCE_3_8 AIO__UNAVAILABLE("added in Python 3.8, after AIO_API_LEVEL")
#endif
#if AIO__LEVEL_MIN < AIO_PY(3, 8)
#define AIO__UNTIL_3_8
#else
#define AIO__UNTIL_3_8 AIO__UNAVAILABLE("removed in Python 3.8, at or before AIO_API_LEVEL")
#endif
#if AIO__LEVEL_MAX >= AIO_PY(3, 9)
#define AIO__SINCE_3_9
#else
#define AIO__SINCE_3_9 AIO__UNAVAILABLE("added in Python 3.9, after AIO_API_LEVEL")
#endif
#if AIO__LEVEL_MIN < AIO_PY(3, 9)
#define AIO__UNTIL_3_9
#else
#define AIO__UNTIL_3_9 AIO__UNAVAILABLE("removed in Python 3.9, at or before AIO_API_LEVEL")
#endif
#if AIO__LEVEL_MAX >= AIO_PY(3, 10)
#define AIO__SINCE_3_10
#else
#define AIO__SINCE_3_10 AIO__UNAVAILABLE("added in Python 3.10, after AIO_API_LEVEL")
#endif
#if AIO__LEVEL_MIN < AIO_PY(3, 10)
#define AIO__UNTIL_3_10
#else
#define AIO__UNTIL_3_10 AIO__UNAVAILABLE("removed in Python 3.10, at or before AIO_API_LEVEL")
#endif
#if AIO__LEVEL_MAX >= AIO_PY(3, 11)
#define AIO__SINCE_3_11
#else
#define AIO__SINCE_3_11 AIO__UNAVAILABLE("added in Python 3.11, after AIO_API_LEVEL")
#endif
#if AIO__LEVEL_MIN < AIO_PY(3, 11)
#define AIO__UNTIL_3_11
#else
#define AIO__UNTIL_3_11 AIO__UNAVAILABLE("removed in Python 3.11, at or before AIO_API_LEVEL")
#endif
#if AIO__LEVEL_MAX >= AIO_PY(3, 12)
#define AIO__SINCE_3_12
#else
#define AIO__SINCE_3_12 AIO__UNAVAILABLE("added in Python 3.12, after AIO_API_LEVEL")
#endif
#if AIO__LEVEL_MIN < AIO_PY(3, 12)
#define AIO__UNTIL_3_12
#else
#define AIO__UNTIL_3_12 AIO__UNAVAILABLE("removed in Python 3.12, at or before AIO_API_LEVEL")
#endif
#if AIO__LEVEL_MAX >= AIO_PY(3, 13)
#define AIO__SINCE_3_13
#else
#define AIO__SINCE_3_13 AIO__UNAVAILABLE("added in Python 3.13, after AIO_API_LEVEL")
#endif
#if AIO__LEVEL_MIN < AIO_PY(3, 13)
#define AIO__UNTIL_3_13
#else
#define AIO__UNTIL_3_13 AIO__UNAVAILABLE("removed in Python 3.13, at or before AIO_API_LEVEL")
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
