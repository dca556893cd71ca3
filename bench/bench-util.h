/*
 * bench-util.h - what the benchmark programs share: the pipes they watch
 * and the median of repeated runs.
 */
#ifndef OSEV_BENCH_UTIL_H
#define OSEV_BENCH_UTIL_H

/* Repetitions whose median is reported. */
#define BENCH_REPS 7

/* @n non-blocking pipes, the first @nready with one byte left in them, so
 * they are readable every round.  Exits the program on failure. */
int (*bench_open_pipes(int n, int nready))[2];

/* The median of BENCH_REPS calls of @fn (ns per round). */
double bench_median(double (*fn)(void));

#endif
