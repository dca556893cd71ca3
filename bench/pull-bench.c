/*
 * pull-bench.c - the cost of osevent's pull protocol against the loop an
 * application would write by hand, on the same work in the same run.
 *
 * Work: N pipes watched for POLLIN, K of them readable each round; each
 * round is one poll(2) over all N and a callback per ready fd.
 *  - "hand":    a fixed pollfd array and a switch on revents, the floor;
 *  - "osevent": osev_beforepoll() + poll(2) + osev_afterpoll().
 * Prints the median ns per round of each over several repetitions and the
 * ratio.  For instruction counts, which do not depend on the machine's
 * load, run it under `valgrind --tool=callgrind` with MODE=hand or
 * MODE=osevent (bench/run-bench.sh does both).
 *
 * usage: pull-bench [N] [K] [ROUNDS]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "osevent.h"

#include "bench-util.h"

static int npipes, nready, rounds;
static int (*pipes)[2];
static long calls;

static void on_ready(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)fd, (void)revents, (void)arg;
    calls++; /* the byte stays: the fd is ready every round */
}

static double run_hand(void)
{
    struct pollfd *fds = calloc((size_t)npipes, sizeof *fds);
    osev_time t0;

    for (int i = 0; i < npipes; i++)
        fds[i] = (struct pollfd){ .fd = pipes[i][0], .events = POLLIN };
    t0 = osev_now();
    for (int r = 0; r < rounds; r++) {
        if (poll(fds, (nfds_t)npipes, 0) < 0)
            abort();
        for (int i = 0; i < npipes; i++)
            if (fds[i].revents & POLLIN)
                on_ready(NULL, fds[i].fd, fds[i].revents, NULL);
    }
    t0 = osev_now() - t0;
    free(fds);
    return (double)t0 / rounds;
}

static double run_osevent(void)
{
    osev_ctx *ctx;
    osev_fd **w = calloc((size_t)npipes, sizeof *w);
    struct pollfd *fds = calloc((size_t)npipes + 1, sizeof *fds);
    osev_time t0;

    if (osev_ctx_new(NULL, &ctx) < 0)
        abort();
    for (int i = 0; i < npipes; i++)
        if (osev_fd_add(ctx, pipes[i][0], POLLIN, on_ready, NULL, &w[i]) < 0)
            abort();
    t0 = osev_now();
    for (int r = 0; r < rounds; r++) {
        int n = npipes + 1, timeout = 0;

        if (osev_beforepoll(ctx, &n, fds, &timeout, 0) < 0 ||
            poll(fds, (nfds_t)n, timeout) < 0)
            abort();
        osev_afterpoll(ctx, n, fds, 0);
    }
    t0 = osev_now() - t0;
    osev_ctx_free(ctx);
    free(fds);
    free(w);
    return (double)t0 / rounds;
}

int main(int argc, char **argv)
{
    const char *mode = getenv("MODE");
    double hand, osev;

    npipes = argc > 1 ? atoi(argv[1]) : 64;
    nready = argc > 2 ? atoi(argv[2]) : 4;
    rounds = argc > 3 ? atoi(argv[3]) : 20000;
    if (npipes < 1 || nready < 0 || nready > npipes || rounds < 1)
        return 2;
    pipes = bench_open_pipes(npipes, nready);
    if (mode && strcmp(mode, "hand") == 0) {
        run_hand();
        return 0;
    }
    if (mode && strcmp(mode, "osevent") == 0) {
        run_osevent();
        return 0;
    }
    hand = bench_median(run_hand);
    osev = bench_median(run_osevent);
    printf("pull round, %d fds, %d ready, %d rounds, median of %d:\n",
           npipes, nready, rounds, BENCH_REPS);
    printf("  hand-written poll loop  %9.0f ns/round\n", hand);
    printf("  osevent before/afterpoll %8.0f ns/round  (%.2fx)\n", osev,
           osev / hand);
    return 0;
}
