/*
 * phase.h - how every benchmark program brackets what it measures: a
 * monotonic clock for the native runs, and callgrind client requests so
 * that a run under `valgrind --tool=callgrind --collect-atstart=no`
 * counts only the bracketed part and dumps it as one file named after
 * the phase (bench/run reads its "totals:" line).  Outside valgrind the
 * requests cost a few instructions and do nothing.
 */
#ifndef OSEV_BENCH_PHASE_H
#define OSEV_BENCH_PHASE_H

#include <stdint.h>
#include <time.h>

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define BENCH_HAVE_CALLGRIND 1
#endif
#endif
#ifndef BENCH_HAVE_CALLGRIND
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_TOGGLE_COLLECT
#define CALLGRIND_DUMP_STATS_AT(name) ((void)(name))
#endif

static inline int64_t bench_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Start a measured phase: returns the time it started. */
static inline int64_t bench_phase_begin(void)
{
    CALLGRIND_ZERO_STATS;
    CALLGRIND_TOGGLE_COLLECT;
    return bench_ns();
}

/* End the phase begun at @t0: returns its length in ns, and under
 * callgrind dumps its counts as @name. */
static inline int64_t bench_phase_end(int64_t t0, const char *name)
{
    int64_t dt = bench_ns() - t0;

    CALLGRIND_TOGGLE_COLLECT;
    CALLGRIND_DUMP_STATS_AT(name);
    return dt;
}

#endif
