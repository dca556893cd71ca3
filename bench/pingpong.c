/*
 * pingpong.c - the ping-pong benchmark's driver, linked into every
 * pp-<loop> program (see pingpong.h for the work).
 *
 * Measured phase: the dispatch loop only, from the A initial writes
 * having been made to the E-th event; making the sockets, registering the
 * watches and tearing down are outside it.  Each repetition registers
 * afresh on the same sockets and prints nothing; the program then prints
 *     MODE N A E NS_PER_EVENT
 * with the median ns per event over the repetitions.  Under callgrind
 * (bench/run: one repetition) each phase is dumped as "phase".
 * Every repetition checks that exactly E callbacks ran, each with a byte
 * to read, and that every pair is empty afterwards; otherwise it fails.
 * With BUDGET_MS, a first, unreported repetition of a few events (2A, at
 * least 100) estimates the cost per event, and where E of them would
 * take over 3 BUDGET_MS, E is lowered to what takes BUDGET_MS (never
 * below that first repetition's count): the printed E is the one used.
 *
 * usage: pp-<loop> MODE N A E [REPS [BUDGET_MS]]  (exit 77: too few fds)
 *        pp-<loop> --list                (the modes it has)
 */
#define _GNU_SOURCE
#include "pingpong.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "phase.h"

int pp_n;
int *pp_rd;
static int *pp_wr;
static int pp_a;
static long pp_e;
static long calls, empty, forwarded;

void pp_fail(const char *what)
{
    fprintf(stderr, "pingpong: %s\n", what);
    exit(1);
}

void pp_check(int err, const char *what)
{
    if (err < 0) {
        fprintf(stderr, "pingpong: %s: %s\n", what,
                strerror(err == -1 ? errno : -err));
        exit(1);
    }
}

void pp_readable(int i)
{
    char c;

    calls++;
    if (recv(pp_rd[i], &c, 1, 0) != 1) {
        empty++;
        return;
    }
    if (forwarded < pp_e - pp_a) {
        forwarded++;
        if (send(pp_wr[i + 1 == pp_n ? 0 : i + 1], &c, 1, 0) != 1)
            pp_fail("send");
    }
}

/* Room for 2 fds per pair and the loops' own: raise the soft limit to
 * the hard one when needed; exit 77 (skipped) if even that is short. */
static void need_fds(int n)
{
    struct rlimit rl;
    rlim_t want = 2 * (rlim_t)n + 64;

    pp_check(getrlimit(RLIMIT_NOFILE, &rl), "getrlimit");
    if (rl.rlim_cur >= want)
        return;
    if (rl.rlim_max < want) {
        fprintf(stderr, "pingpong: %d pairs need %lu fds, hard limit %lu\n",
                n, (unsigned long)want, (unsigned long)rl.rlim_max);
        exit(77);
    }
    rl.rlim_cur = rl.rlim_max;
    pp_check(setrlimit(RLIMIT_NOFILE, &rl), "setrlimit");
}

static void open_pairs(void)
{
    pp_rd = calloc((size_t)pp_n, sizeof *pp_rd);
    pp_wr = calloc((size_t)pp_n, sizeof *pp_wr);
    if (!pp_rd || !pp_wr)
        pp_fail("calloc");
    for (int i = 0; i < pp_n; i++) {
        int sv[2];

        pp_check(socketpair(AF_UNIX,
                            SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                            sv),
                 "socketpair");
        pp_rd[i] = sv[0];
        pp_wr[i] = sv[1];
    }
}

/* One repetition; returns ns per event. */
static double run(const struct pp_mode *m)
{
    int64_t t0, dt;
    char c;

    m->setup();
    calls = empty = forwarded = 0;
    for (int k = 0; k < pp_a; k++)
        if (send(pp_wr[(int)((long)k * pp_n / pp_a)], "x", 1, 0) != 1)
            pp_fail("initial send");
    t0 = bench_phase_begin();
    while (calls - empty < pp_e)
        m->once();
    dt = bench_phase_end(t0, "phase");
    m->teardown();
    if (calls != pp_e || empty != 0) {
        fprintf(stderr, "pingpong: %s: %ld callbacks (%ld without a byte), "
                "want %ld\n", m->name, calls, empty, pp_e);
        exit(1);
    }
    for (int i = 0; i < pp_n; i++)
        if (recv(pp_rd[i], &c, 1, 0) != -1 || errno != EAGAIN)
            pp_fail("a pair is not empty after the run");
    return (double)dt / (double)pp_e;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const struct pp_mode *m = pp_modes;
    double *ns;
    int reps;
    long budget_ms;

    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (; m->name; m++)
            puts(m->name);
        return 0;
    }
    if (argc < 5) {
        fprintf(stderr, "usage: %s MODE N A E [REPS] | --list\n", argv[0]);
        return 2;
    }
    while (m->name && strcmp(m->name, argv[1]) != 0)
        m++;
    pp_n = atoi(argv[2]);
    pp_a = atoi(argv[3]);
    pp_e = atol(argv[4]);
    reps = argc > 5 ? atoi(argv[5]) : 1;
    budget_ms = argc > 6 ? atol(argv[6]) : 0;
    if (!m->name || pp_n < 1 || pp_a < 1 || pp_a > pp_n || pp_e < pp_a ||
        reps < 1 || budget_ms < 0) {
        fprintf(stderr, "%s: unknown mode or bad N A E REPS\n", argv[0]);
        return 2;
    }
    need_fds(pp_n);
    open_pairs();
    ns = calloc((size_t)reps, sizeof *ns);
    if (!ns)
        pp_fail("calloc");
    if (budget_ms > 0) {
        long e = pp_e, ecal = 2L * pp_a < 100 ? 100 : 2L * pp_a;
        double per;

        pp_e = ecal < e ? ecal : e;
        per = run(m);
        /* 3x: the estimate is rough (few events, a cold start) */
        if ((double)e * per > 3.0 * (double)budget_ms * 1e6)
            e = (long)((double)budget_ms * 1e6 / per);
        pp_e = e < pp_e ? pp_e : e;
    }
    for (int r = 0; r < reps; r++)
        ns[r] = run(m);
    qsort(ns, (size_t)reps, sizeof *ns, cmp_double);
    printf("%s %d %d %ld %.1f\n", m->name, pp_n, pp_a, pp_e, ns[reps / 2]);
    return 0;
}
