/*
 * timers.c - the timer benchmark's driver, linked into every tm-<loop>
 * program (see timers.h for the phases).  For each phase it prints
 *     MODE T PHASE OPS NS WRITES
 * with OPS the operations it made (timers, or turns for idle), NS its
 * wall time and WRITES the write(2)-family calls the process made
 * meanwhile (/proc/self/io syscw: the wakeup writes a removal may cost).
 * Under callgrind each phase is dumped under its name.  It fails if a
 * timer fires when none should or fewer than T fire when all should.
 *
 * usage: tm-<loop> MODE T | --list
 */
#define _GNU_SOURCE
#include "timers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase.h"

static const struct tm_mode *mode;
static int ntimers;
static long fired;

void tm_fired(void)
{
    fired++;
}

void tm_fail(const char *what)
{
    fprintf(stderr, "timers: %s\n", what);
    exit(1);
}

void tm_check(int err, const char *what)
{
    if (err < 0) {
        fprintf(stderr, "timers: %s: %s\n", what,
                strerror(err == -1 ? errno : -err));
        exit(1);
    }
}

static long syscw(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    char line[128];
    long v = -1;

    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "syscw: %ld", &v) == 1)
            break;
    fclose(f);
    return v;
}

static long phase_w0;

static int64_t begin(void)
{
    phase_w0 = syscw();
    return bench_phase_begin();
}

static void end(int64_t t0, const char *name, long ops)
{
    int64_t dt = bench_phase_end(t0, name);
    long w = syscw();

    printf("%s %d %s %ld %lld %ld\n", mode->name, ntimers, name, ops,
           (long long)dt, phase_w0 < 0 || w < 0 ? -1 : w - phase_w0);
}

static void expect_fired(long n, const char *when)
{
    if (fired != n) {
        fprintf(stderr, "timers: %s: %ld fired %s, want %ld\n", mode->name,
                fired, when, n);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    double *delay;
    int64_t t0;
    int idle = TM_IDLE_TIMERS;

    mode = tm_modes;
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (; mode->name; mode++)
            puts(mode->name);
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODE T | --list\n", argv[0]);
        return 2;
    }
    while (mode->name && strcmp(mode->name, argv[1]) != 0)
        mode++;
    ntimers = atoi(argv[2]);
    if (!mode->name || ntimers < 1) {
        fprintf(stderr, "%s: unknown mode or bad T\n", argv[0]);
        return 2;
    }
    if (idle > ntimers)
        idle = ntimers;
    delay = calloc((size_t)ntimers, sizeof *delay);
    if (!delay)
        tm_fail("calloc");
    srand(1);
    for (int i = 0; i < ntimers; i++)
        delay[i] = 3600.0 + 3600.0 * rand() / RAND_MAX;
    mode->setup(ntimers);

    t0 = begin();
    for (int i = 0; i < ntimers; i++)
        mode->add(i, delay[i]);
    end(t0, "add", ntimers);
    t0 = begin();
    for (int i = 0; i < ntimers; i++)
        mode->cancel(i);
    end(t0, "cancel", ntimers);
    mode->turn(); /* whatever the removals left for a pass */
    expect_fired(0, "after cancel");

    for (int i = 0; i < ntimers; i++)
        mode->add(i, -1.0);
    t0 = begin();
    for (long turns = 0; fired < ntimers; turns++) {
        if (turns > ntimers + 1000L)
            break; /* they do not fire: expect_fired() says so */
        mode->turn();
    }
    end(t0, "fire", ntimers);
    expect_fired(ntimers, "after fire");
    for (int i = 0; i < ntimers; i++)
        mode->cancel(i);
    mode->turn();

    fired = 0;
    for (int i = 0; i < idle; i++)
        mode->add(i, delay[i]);
    mode->turn();
    t0 = begin();
    for (int k = 0; k < TM_IDLE_PASSES; k++)
        mode->turn();
    end(t0, "idle", TM_IDLE_PASSES);
    expect_fired(0, "while idle");
    for (int i = 0; i < idle; i++)
        mode->cancel(i);
    mode->teardown();
    free(delay);
    return 0;
}
