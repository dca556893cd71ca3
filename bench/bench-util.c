/*
 * bench-util.c - pipes and medians for the benchmark programs.
 */
#define _GNU_SOURCE
#include "bench-util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int (*bench_open_pipes(int n, int nready))[2]
{
    int (*pipes)[2] = calloc((size_t)n, sizeof *pipes);

    if (!pipes) {
        perror("calloc");
        exit(1);
    }
    for (int i = 0; i < n; i++) {
        if (pipe2(pipes[i], O_NONBLOCK | O_CLOEXEC) < 0 ||
            (i < nready && write(pipes[i][1], "x", 1) != 1)) {
            perror("bench pipes");
            exit(1);
        }
    }
    return pipes;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

double bench_median(double (*fn)(void))
{
    double v[BENCH_REPS];

    for (int i = 0; i < BENCH_REPS; i++)
        v[i] = fn();
    qsort(v, BENCH_REPS, sizeof v[0], cmp_double);
    return v[BENCH_REPS / 2];
}
