/* bench.h - what the C benchmarks share: a clock, the seeded PRNG and the
 * result line. bench_asyncio.py implements the same PRNG and prints the
 * same line, so run.py reads all implementations alike. */
#ifndef CASYNCIO_BENCH_H
#define CASYNCIO_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <casyncio.h>

/* The seed every implementation uses for the timer delays. */
#define BENCH_SEED UINT64_C(20240611)

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* splitmix64: bit for bit what bench_asyncio.py computes. */
static inline uint64_t bench_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* A double uniform in [0, 1) from the top 53 bits. */
static inline double bench_uniform(uint64_t *state)
{
    return (double)(bench_splitmix64(state) >> 11) * 0x1.0p-53;
}

/* The result line run.py parses. */
static inline void bench_report(const char *workload, long n, double seconds)
{
    printf("BENCH impl=casyncio workload=%s n=%ld seconds=%.9f ops_per_sec=%.1f\n", workload,
           n, seconds, (double)n / seconds);
    fflush(stdout);
}

/* The same, with the time per operation: workloads whose figure is a cost
 * (await, switch) rather than a rate. */
static inline void bench_report_ns(const char *workload, long n, double seconds)
{
    printf("BENCH impl=casyncio workload=%s n=%ld seconds=%.9f ops_per_sec=%.1f ns_per_op=%.3f\n",
           workload, n, seconds, (double)n / seconds, seconds * 1e9 / (double)n);
    fflush(stdout);
}

static inline void bench_die(const char *what)
{
    fprintf(stderr, "bench: %s failed: ", what);
    aio_err_print();
    exit(1);
}

#endif /* CASYNCIO_BENCH_H */
