/*
 * push-bench.c - the cost of driving osevent from a libevent event_base
 * (osev_libevent_attach) against the same work done with libevent events
 * directly, on the same work in the same run.
 *
 * WORK=fds (the default): N pipes watched for reading, K of them readable
 * each round (the byte stays, so they are ready every round); one round is
 * one event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK): one poll that
 * never blocks, then one callback per ready pipe.
 *  - "libevent": N persistent EV_READ events, one per pipe;
 *  - "osevent":  N osev_fd_add() watches on a context attached to the
 *                base, which then holds one event per distinct fd (the
 *                context's wakeup fd included).
 * WORK=timers: T timers, each re-armed every round to a new deadline an
 * hour or two away (none fires), then one non-blocking loop turn.  The
 * deadlines are scattered over that hour, as idle timeouts of unrelated
 * connections would be, so a re-arm seldom moves the earliest one.
 *  - "libevent": T evtimer events, each re-armed with event_add() and a
 *                new timeval;
 *  - "osevent":  T osev_timer_add() timers re-armed with osev_timer_set()
 *                on an attached context: the base holds one timer event
 *                for the earliest deadline, re-armed only when that moves
 *                (how often is printed, per round).
 *
 * Reading it: the median ns per round of each side over BENCH_REPS runs
 * (each on a fresh base and context, set up outside the timed part), the
 * ratio osevent/libevent (below 1: osevent is cheaper), and the number of
 * events each side holds in the base
 * (event_base_get_num_events(EVENT_BASE_COUNT_ADDED)).  Times are noisy on
 * a loaded machine; for instruction counts, which are repeatable, run one
 * side under `valgrind --tool=callgrind` with MODE=libevent or
 * MODE=osevent (bench/run-bench.sh does both).  The context is made with
 * default options (locking on), as an application would.
 *
 * usage: push-bench [N [K [ROUNDS]]]        (WORK=fds, default 64 4 20000)
 *        WORK=timers push-bench [T [ROUNDS]] (default 1000 2000)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "osevent-libevent.h"

#include "bench-util.h"
#include "osevent.h"


static int npipes, nready, ntimers, rounds;
static int (*pipes)[2];
static long calls;   /* fd callbacks run in the timed part */
static long fired;   /* timer callbacks run: must stay 0 */
static int regs;     /* events the base held, set by each run */
static double rearms; /* osevent: foreign timer changes per round */

static void fail(const char *what, int err)
{
    fprintf(stderr, "push-bench: %s: %s\n", what,
            err ? osev_strerror(err) : "failed");
    exit(1);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);

    if (!p)
        fail("calloc", -ENOMEM);
    return p;
}

static struct event_base *base_new(void)
{
    struct event_base *base = event_base_new();

    if (!base)
        fail("event_base_new", 0);
    return base;
}

/* Events the base holds; -1 where libevent cannot tell (before 2.1.1). */
static int base_regs(struct event_base *base)
{
#if LIBEVENT_VERSION_NUMBER >= 0x02010100
    return event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED);
#else
    (void)base;
    return -1;
#endif
}

/*
 * One turn: one epoll_wait(timeout 0), then the callbacks of what it found.
 * EVLOOP_NONBLOCK alone would poll again for as long as something is
 * active after a poll, which with pipes that stay readable is forever;
 * EVLOOP_ONCE makes it stop after the callbacks.  0 is "ran", 1 "nothing
 * registered", -1 an error.
 */
static void loop_turn(struct event_base *base)
{
    if (event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK) != 0)
        fail("event_base_loop", 0);
}

/*
 * Timer i's deadline for round r, as an offset from now: somewhere in
 * [1 h, 2 h), scattered by a multiplicative hash so that the order of the
 * deadlines has nothing to do with the order of the re-arms.
 */
static osev_time offset_us(int r, int i)
{
    uint32_t h = ((uint32_t)r * 7919u + (uint32_t)i) * 2654435761u;

    return 3600000000 + (osev_time)(h % 3600000000u);
}

static void check_calls(const char *side)
{
    if (calls != (long)rounds * nready) {
        fprintf(stderr, "push-bench: %s ran %ld fd callbacks, not %ld\n",
                side, calls, (long)rounds * nready);
        exit(1);
    }
    if (fired) {
        fprintf(stderr, "push-bench: %s fired %ld timers\n", side, fired);
        exit(1);
    }
}

/* ---- fds ---- */

static void on_lev_fd(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    calls++; /* the byte stays: the fd is ready every round */
}

static void on_osev_fd(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)fd, (void)revents, (void)arg;
    calls++;
}

static double fds_libevent(void)
{
    struct event_base *base = base_new();
    struct event **ev = xcalloc((size_t)npipes, sizeof *ev);
    osev_time t;

    for (int i = 0; i < npipes; i++) {
        ev[i] = event_new(base, pipes[i][0], EV_READ | EV_PERSIST, on_lev_fd,
                          NULL);
        if (!ev[i])
            fail("event_new", 0);
        if (event_add(ev[i], NULL) < 0)
            fail("event_add", 0);
    }
    regs = base_regs(base);
    calls = 0;
    t = osev_now();
    for (int r = 0; r < rounds; r++)
        loop_turn(base);
    t = osev_now() - t;
    check_calls("libevent");
    for (int i = 0; i < npipes; i++)
        event_free(ev[i]);
    free(ev);
    event_base_free(base);
    return (double)t / rounds;
}

static double fds_osevent(void)
{
    struct event_base *base = base_new();
    osev_fd **w = xcalloc((size_t)npipes, sizeof *w);
    osev_ctx *ctx;
    osev_time t;
    int err;

    err = osev_ctx_new(NULL, &ctx);
    if (err < 0)
        fail("osev_ctx_new", err);
    err = osev_libevent_attach(ctx, base);
    if (err < 0)
        fail("osev_libevent_attach", err);
    for (int i = 0; i < npipes; i++) {
        err = osev_fd_add(ctx, pipes[i][0], POLLIN, on_osev_fd, NULL, &w[i]);
        if (err < 0)
            fail("osev_fd_add", err);
    }
    regs = base_regs(base);
    calls = 0;
    t = osev_now();
    for (int r = 0; r < rounds; r++)
        loop_turn(base);
    t = osev_now() - t;
    check_calls("osevent");
    osev_ctx_free(ctx); /* frees the watches and every event of ours */
    free(w);
    event_base_free(base);
    return (double)t / rounds;
}

/* ---- timers ---- */

static void on_lev_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    fired++;
}

static void on_osev_timer(osev_timer *tm, osev_time now, void *arg)
{
    (void)tm, (void)now, (void)arg;
    fired++;
}

static double timers_libevent(void)
{
    struct event_base *base = base_new();
    struct event **ev = xcalloc((size_t)ntimers, sizeof *ev);
    osev_time t;

    for (int i = 0; i < ntimers; i++) {
        osev_time us = offset_us(-1, i);
        struct timeval tv = { .tv_sec = (time_t)(us / 1000000),
                              .tv_usec = (suseconds_t)(us % 1000000) };

        ev[i] = evtimer_new(base, on_lev_timer, NULL);
        if (!ev[i])
            fail("evtimer_new", 0);
        if (evtimer_add(ev[i], &tv) < 0)
            fail("evtimer_add", 0);
    }
    regs = base_regs(base);
    calls = fired = 0;
    t = osev_now();
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < ntimers; i++) {
            osev_time us = offset_us(r, i);
            struct timeval tv = { .tv_sec = (time_t)(us / 1000000),
                                  .tv_usec = (suseconds_t)(us % 1000000) };

            if (evtimer_add(ev[i], &tv) < 0)
                fail("evtimer_add", 0);
        }
        loop_turn(base);
    }
    t = osev_now() - t;
    check_calls("libevent");
    for (int i = 0; i < ntimers; i++)
        event_free(ev[i]);
    free(ev);
    event_base_free(base);
    return (double)t / rounds;
}

static double timers_osevent(void)
{
    struct event_base *base = base_new();
    osev_timer **tm = xcalloc((size_t)ntimers, sizeof *tm);
    struct osev_hook_stats st0 = { .size = sizeof st0 };
    struct osev_hook_stats st1 = { .size = sizeof st1 };
    osev_ctx *ctx;
    osev_time t, now;
    int err;

    err = osev_ctx_new(NULL, &ctx);
    if (err < 0)
        fail("osev_ctx_new", err);
    err = osev_libevent_attach(ctx, base);
    if (err < 0)
        fail("osev_libevent_attach", err);
    now = osev_now();
    for (int i = 0; i < ntimers; i++) {
        err = osev_timer_add(ctx, now + 1000 * offset_us(-1, i),
                             on_osev_timer, NULL, &tm[i]);
        if (err < 0)
            fail("osev_timer_add", err);
    }
    regs = base_regs(base);
    err = osev_get_hook_stats(ctx, &st0);
    if (err < 0)
        fail("osev_get_hook_stats", err);
    calls = fired = 0;
    t = osev_now();
    for (int r = 0; r < rounds; r++) {
        now = osev_now(); /* deadlines are absolute: one clock read */
        for (int i = 0; i < ntimers; i++) {
            err = osev_timer_set(tm[i], now + 1000 * offset_us(r, i));
            if (err < 0)
                fail("osev_timer_set", err);
        }
        loop_turn(base);
    }
    t = osev_now() - t;
    check_calls("osevent");
    err = osev_get_hook_stats(ctx, &st1);
    if (err < 0)
        fail("osev_get_hook_stats", err);
    rearms = (double)(st1.timeout_modifies - st0.timeout_modifies) / rounds;
    osev_ctx_free(ctx);
    free(tm);
    event_base_free(base);
    return (double)t / rounds;
}

/* ---- driver ---- */

int main(int argc, char **argv)
{
    const char *mode = getenv("MODE"), *work = getenv("WORK");
    bool timers = work && strcmp(work, "timers") == 0;
    double (*lev_fn)(void) = timers ? timers_libevent : fds_libevent;
    double (*osev_fn)(void) = timers ? timers_osevent : fds_osevent;
    double lev_ns, osev_ns;
    int lev_regs;

    if (work && !timers && strcmp(work, "fds") != 0) {
        fprintf(stderr, "push-bench: WORK is fds or timers\n");
        return 2;
    }
    if (timers) {
        ntimers = argc > 1 ? atoi(argv[1]) : 1000;
        rounds = argc > 2 ? atoi(argv[2]) : 2000;
        if (ntimers < 1 || rounds < 1)
            return 2;
    } else {
        npipes = argc > 1 ? atoi(argv[1]) : 64;
        nready = argc > 2 ? atoi(argv[2]) : 4;
        rounds = argc > 3 ? atoi(argv[3]) : 20000;
        if (npipes < 1 || nready < 0 || nready > npipes || rounds < 1)
            return 2;
        pipes = bench_open_pipes(npipes, nready);
    }
    if (mode && strcmp(mode, "libevent") == 0) {
        lev_fn();
        return 0;
    }
    if (mode && strcmp(mode, "osevent") == 0) {
        osev_fn();
        return 0;
    }
    if (mode) {
        fprintf(stderr, "push-bench: MODE is libevent or osevent\n");
        return 2;
    }
    lev_ns = bench_median(lev_fn);
    lev_regs = regs;
    osev_ns = bench_median(osev_fn);
    if (timers)
        printf("push round, %d timers re-armed, %d rounds, median of %d:\n",
               ntimers, rounds, BENCH_REPS);
    else
        printf("push round, %d fds, %d ready, %d rounds, median of %d:\n",
               npipes, nready, rounds, BENCH_REPS);
    printf("  libevent events directly  %9.0f ns/round          "
           "%5d events in the base\n",
           lev_ns, lev_regs);
    printf("  osevent attached          %9.0f ns/round  (%5.2fx)  "
           "%5d events in the base",
           osev_ns, osev_ns / lev_ns, regs);
    if (timers)
        printf(", its timer re-armed %.1f times/round", rearms);
    printf("\n");
    return 0;
}
