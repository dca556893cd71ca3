/*
 * xthread.c - the cross-thread benchmark's driver: one thread runs a
 * loop, the main thread posts K calls to it back to back, each of which
 * counts itself on the loop's thread.  Per repetition: the time from the
 * first post until the K-th call has run (end to end), and the time the
 * poster spent in its K posts (the caller's share).  Prints
 *     MODE K NS_PER_CALL_END_TO_END NS_PER_CALL_CALLER
 * as medians over REPS.  Fails if a call runs twice or not at all.
 *
 * usage: xt-<loop> MODE K [REPS] | --list
 */
#define _GNU_SOURCE
#include "xthread.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t all_ran = PTHREAD_COND_INITIALIZER;
static long ran, want;

void xt_ran(void)
{
    pthread_mutex_lock(&lock);
    if (++ran == want)
        pthread_cond_signal(&all_ran);
    pthread_mutex_unlock(&lock);
}

void xt_fail(const char *what)
{
    fprintf(stderr, "xthread: %s\n", what);
    exit(1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const struct xt_mode *m = xt_modes;
    double *e2e, *caller;
    long k;
    int reps;

    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (; m->name; m++)
            puts(m->name);
        return 0;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODE K [REPS] | --list\n", argv[0]);
        return 2;
    }
    while (m->name && strcmp(m->name, argv[1]) != 0)
        m++;
    k = atol(argv[2]);
    reps = argc > 3 ? atoi(argv[3]) : 5;
    if (!m->name || k < 1 || reps < 1) {
        fprintf(stderr, "%s: unknown mode or bad K REPS\n", argv[0]);
        return 2;
    }
    e2e = calloc((size_t)reps, sizeof *e2e);
    caller = calloc((size_t)reps, sizeof *caller);
    if (!e2e || !caller)
        xt_fail("calloc");
    m->start();
    for (int r = 0; r < reps; r++) {
        int64_t t0, t1;

        pthread_mutex_lock(&lock);
        ran = 0;
        want = k;
        pthread_mutex_unlock(&lock);
        t0 = bench_ns();
        for (long i = 0; i < k; i++)
            m->post();
        t1 = bench_ns();
        pthread_mutex_lock(&lock);
        while (ran < want)
            pthread_cond_wait(&all_ran, &lock);
        pthread_mutex_unlock(&lock);
        e2e[r] = (double)(bench_ns() - t0) / (double)k;
        caller[r] = (double)(t1 - t0) / (double)k;
    }
    m->stop();
    if (ran != k)
        xt_fail("a call ran more than once");
    qsort(e2e, (size_t)reps, sizeof *e2e, cmp_double);
    qsort(caller, (size_t)reps, sizeof *caller, cmp_double);
    printf("%s %ld %.1f %.1f\n", m->name, k, e2e[reps / 2],
           caller[reps / 2]);
    return 0;
}
