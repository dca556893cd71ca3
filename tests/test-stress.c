/*
 * test-stress.c - many threads on one context, bounded in time: the
 * stress part of issue 4, meant to run under ThreadSanitizer as well.
 *
 *  1. 8 threads x 100k osev_schedule() calls into the built-in loop: none
 *     lost, none run twice, each thread's calls in its order;
 *  2. 8 waiters in osev_event_wait() with disjoint predicates share 100k
 *     events: each received exactly once, by its waiter, in posting order;
 *  3. push mode: a second thread reports osev_occurred_fd()/_timeout() for
 *     whatever the hooks hold (and for tokens they held before) while the
 *     first adds and removes watches and timers: no crash, no callback
 *     that starts after its remove returned, every release once.
 *
 * OSEV_TEST_SCALE scales every count, in percent of the numbers above
 * (tu_scaled(): 100 by default, 10 under valgrind in scripts/check).  Each
 * test also has a deadline (BOUND) after which it fails instead of
 * hanging.  Helper threads only record; the test's thread asserts.
 */
#include "testutil.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BOUND osev_s(90)

static double seconds_since(osev_time start)
{
    return (double)(osev_now() - start) / 1e9;
}

/* ---- 1. osev_schedule from 8 threads ---- */

#define SCHED_THREADS 8

struct producer {
    pthread_t th;
    osev_ctx *ctx;
    unsigned index;
    long n;
    long failed;
    pthread_barrier_t *go;
};

/* Touched only by the dispatching thread (the test's). */
static long sched_next[SCHED_THREADS];
static long sched_total, sched_out_of_order;

static void sched_call(osev_ctx *ctx, void *arg)
{
    uintptr_t v = (uintptr_t)arg;
    unsigned t = (unsigned)(v % SCHED_THREADS);
    long i = (long)(v / SCHED_THREADS);

    (void)ctx;
    if (i != sched_next[t])
        sched_out_of_order++;
    sched_next[t] = i + 1;
    sched_total++;
}

static void *producer_thread(void *arg)
{
    struct producer *p = arg;

    pthread_barrier_wait(p->go);
    for (long i = 0; i < p->n; i++) {
        uintptr_t v = (uintptr_t)i * SCHED_THREADS + p->index;

        if (osev_schedule(p->ctx, sched_call, NULL, (void *)v) < 0)
            p->failed++;
    }
    return NULL;
}

START_TEST(schedule_from_8_threads)
{
    osev_ctx *ctx = tu_ctx_new();
    struct producer p[SCHED_THREADS];
    pthread_barrier_t go;
    long per = tu_scaled(100000), want = per * SCHED_THREADS, passes = 0;
    osev_time start = osev_now(), deadline = start + BOUND;

    ck_assert_int_eq(pthread_barrier_init(&go, NULL, SCHED_THREADS), 0);
    for (unsigned i = 0; i < SCHED_THREADS; i++) {
        p[i] = (struct producer){ .ctx = ctx, .index = i, .n = per,
                                  .go = &go };
        ck_assert_int_eq(pthread_create(&p[i].th, NULL, producer_thread,
                                        &p[i]), 0);
    }
    while (sched_total < want && osev_now() < deadline) {
        int r = osev_loop_once(ctx, deadline);

        ck_assert_msg(r >= 0 || r == -ETIMEDOUT, "osev_loop_once: %d", r);
        passes++;
    }
    for (unsigned i = 0; i < SCHED_THREADS; i++) {
        pthread_join(p[i].th, NULL);
        ck_assert_int_eq(p[i].failed, 0);
    }
    printf("stress: %d threads x %ld osev_schedule calls in %.2f s, %ld "
           "passes\n", SCHED_THREADS, per, seconds_since(start), passes);
    ck_assert_msg(sched_total == want, "%ld of %ld calls ran before the "
                  "deadline", sched_total, want);
    ck_assert_int_eq(sched_out_of_order, 0);
    for (unsigned i = 0; i < SCHED_THREADS; i++)
        ck_assert_int_eq(sched_next[i], per);
    ck_assert_int_eq(osev_dispatch(ctx), 0); /* nothing more, nothing twice */
    ck_assert_int_eq(sched_total, want);
    pthread_barrier_destroy(&go);
    osev_ctx_free(ctx);
}
END_TEST

/* ---- 2. 8 waiters with disjoint predicates ---- */

#define NWAITERS 8
#define EV_TYPE 3

struct waiter {
    pthread_t th;
    osev_ctx *ctx;
    unsigned index;     /* predicate: for_user % NWAITERS == index */
    osev_time deadline;
    long want, got;
    int result;
    uint64_t *cookies;
};

static int mine(const osev_event *ev, void *user)
{
    const struct waiter *w = user;

    return ev->for_user % NWAITERS == w->index;
}

static void *waiter_thread(void *arg)
{
    struct waiter *w = arg;

    while (w->got < w->want) {
        osev_event *ev;

        w->result = osev_event_wait(w->ctx, UINT64_C(1) << EV_TYPE, mine, w,
                                    w->deadline, &ev);
        if (w->result < 0)
            break;
        w->cookies[w->got++] = ev->for_user;
        osev_event_free(w->ctx, ev);
    }
    return NULL;
}

START_TEST(waiters_with_disjoint_predicates)
{
    osev_ctx *ctx = tu_ctx_new();
    struct waiter w[NWAITERS];
    long per = tu_scaled(100000) / NWAITERS, total;
    osev_time start = osev_now();
    osev_event *ev;

    if (per < 1)
        per = 1;
    total = per * NWAITERS;
    for (unsigned i = 0; i < NWAITERS; i++) {
        w[i] = (struct waiter){ .ctx = ctx, .index = i, .want = per,
                                .deadline = start + BOUND };
        w[i].cookies = calloc((size_t)per, sizeof *w[i].cookies);
        ck_assert_ptr_nonnull(w[i].cookies);
        ck_assert_int_eq(pthread_create(&w[i].th, NULL, waiter_thread, &w[i]),
                         0);
    }
    for (long c = 0; c < total; c++) {
        ev = osev_event_new(ctx, EV_TYPE, (uint64_t)c, 0);
        ck_assert_ptr_nonnull(ev);
        osev_event_post(ctx, ev);
    }
    for (unsigned i = 0; i < NWAITERS; i++)
        pthread_join(w[i].th, NULL);
    printf("stress: %d waiters took %ld events in %.2f s\n", NWAITERS, total,
           seconds_since(start));
    for (unsigned i = 0; i < NWAITERS; i++) {
        ck_assert_osev_ok(w[i].result);
        ck_assert_int_eq(w[i].got, per);
        /* its own events only, each once, in posting order */
        for (long k = 0; k < per; k++)
            ck_assert_uint_eq(w[i].cookies[k], (uint64_t)k * NWAITERS + i);
        free(w[i].cookies);
    }
    ck_assert_osev_err(osev_event_check(ctx, OSEV_EVENTMASK_ALL, NULL, NULL,
                                        &ev),
                       -EAGAIN);
    osev_ctx_free(ctx);
}
END_TEST

/* ---- 3. occurred_* from one thread racing removal on another ---- */

#define RACE_REGS 16
#define STALE_RING 64
#define RACE_PIPES 4
#define HANDSHAKE_EVERY 16

/*
 * A foreign loop reduced to what it holds: registrations and tokens.
 * Hooks run with the context's lock held, on either thread.  While hold
 * is set, the reporter reports nothing new (see the handshake below).
 */
struct race_loop {
    pthread_mutex_t mu;
    struct race_reg {
        bool live;
        int fd;
        short events;
        void *tok;
    } regs[RACE_REGS], stale[STALE_RING];
    unsigned nstale;
    bool tmo_live;
    void *tmo_tok;
    bool hold;
    long bad_hook;  /* a hook called for a registration not held */
    int released;
};

static struct race_loop RL = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void remember_stale(int fd, void *tok)
{
    RL.stale[RL.nstale++ % STALE_RING] =
        (struct race_reg){ .live = true, .fd = fd, .tok = tok };
}

static int r_fd_register(void *user, int fd, void **reg_out, short events,
                         void *tok)
{
    int r = -ENOSPC;

    (void)user;
    pthread_mutex_lock(&RL.mu);
    for (int i = 0; i < RACE_REGS; i++)
        if (!RL.regs[i].live) {
            RL.regs[i] = (struct race_reg){ true, fd, events, tok };
            *reg_out = &RL.regs[i];
            r = 0;
            break;
        }
    pthread_mutex_unlock(&RL.mu);
    return r;
}

static int r_fd_modify(void *user, int fd, void **reg_io, short events)
{
    struct race_reg *reg = *reg_io;

    (void)user;
    pthread_mutex_lock(&RL.mu);
    if (!reg->live || reg->fd != fd)
        RL.bad_hook++;
    reg->events = events;
    pthread_mutex_unlock(&RL.mu);
    return 0;
}

static void r_fd_deregister(void *user, int fd, void *app_reg)
{
    struct race_reg *reg = app_reg;

    (void)user;
    pthread_mutex_lock(&RL.mu);
    if (!reg->live || reg->fd != fd)
        RL.bad_hook++;
    reg->live = false;
    remember_stale(fd, reg->tok);
    pthread_mutex_unlock(&RL.mu);
}

static int r_timeout_register(void *user, void **reg_out, osev_time deadline,
                              void *tok)
{
    (void)user, (void)deadline;
    pthread_mutex_lock(&RL.mu);
    if (RL.tmo_live)
        RL.bad_hook++;
    RL.tmo_live = true;
    RL.tmo_tok = tok;
    *reg_out = &RL.tmo_live;
    pthread_mutex_unlock(&RL.mu);
    return 0;
}

/* Every deadline is treated as due: early reports are allowed. */
static int r_timeout_modify(void *user, void **reg_io, osev_time deadline)
{
    (void)user, (void)reg_io, (void)deadline;
    return 0;
}

static void r_timeout_deregister(void *user, void *reg)
{
    (void)user, (void)reg;
    pthread_mutex_lock(&RL.mu);
    if (!RL.tmo_live)
        RL.bad_hook++;
    RL.tmo_live = false;
    remember_stale(-1, RL.tmo_tok);
    pthread_mutex_unlock(&RL.mu);
}

static void r_release(void *user)
{
    (void)user;
    pthread_mutex_lock(&RL.mu);
    RL.released++;
    pthread_mutex_unlock(&RL.mu);
}

static const struct osev_hooks race_hooks = {
    .fd_register = r_fd_register,
    .fd_modify = r_fd_modify,
    .fd_deregister = r_fd_deregister,
    .timeout_register = r_timeout_register,
    .timeout_modify = r_timeout_modify,
    .timeout_deregister = r_timeout_deregister,
    .release = r_release,
};

static void race_hold(bool on)
{
    pthread_mutex_lock(&RL.mu);
    RL.hold = on;
    pthread_mutex_unlock(&RL.mu);
}

/* What a watch or timer of the race carries; freed by its release. */
#define ITEM_LIVE 0x11fe11feu
#define ITEM_DEAD 0xdeaddeadu

struct item {
    unsigned magic;
    long iter;
    int kind;               /* 0: fd watch, 1: timer */
    bool quiet;             /* on a pipe never readable: never called */
    struct item *victim;    /* handshake: remove this one meanwhile */
    osev_fd *w;             /* the handle, for the test's thread */
    osev_timer *t;
    atomic_bool removed;    /* set once its remove returned */
};

static osev_ctx *race_ctx;
static pthread_t reporter_self;       /* set by the reporter itself */
static atomic_bool race_stop;
static atomic_long removed_upto = -1; /* items <= this: remove returned */
static long reporter_snap;            /* removed_upto before this report */
static atomic_long late_calls, bad_items, wrong_thread, releases;
static atomic_long item_calls[2], reports, stale_reports, quiet_calls;

/*
 * The handshake: a callback that has a victim stops in the middle of its
 * pass until the test's thread has removed the victim, which that same
 * pass found ready (a second watch on the same fd, or a second timer due
 * at once).  The victim must then not be called: not "maybe racing", but
 * strictly after its remove returned.
 */
static pthread_mutex_t hs_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hs_cond;
static struct item *hs_in;     /* the callback waiting, or NULL */
static long hs_timeouts;

static bool hs_wait(osev_time deadline)
{
    struct timespec ts = { .tv_sec = (time_t)(deadline / 1000000000),
                           .tv_nsec = (long)(deadline % 1000000000) };

    return pthread_cond_timedwait(&hs_cond, &hs_mu, &ts) == 0;
}

static void handshake(struct item *it)
{
    osev_time deadline = osev_now() + BOUND;

    pthread_mutex_lock(&hs_mu);
    hs_in = it;
    pthread_cond_broadcast(&hs_cond);
    while (hs_in == it && osev_now() < deadline)
        hs_wait(deadline);
    if (hs_in == it) {
        hs_in = NULL;
        hs_timeouts++;
    }
    pthread_mutex_unlock(&hs_mu);
}

static void item_ran(struct item *it)
{
    if (!pthread_equal(pthread_self(), reporter_self))
        atomic_fetch_add(&wrong_thread, 1);
    if (it->magic != ITEM_LIVE)
        atomic_fetch_add(&bad_items, 1);
    /* Reports are made only by the reporter, which read removed_upto
     * just before: an item removed before that must not be called; nor
     * a victim removed while its pass stood still. */
    if (it->iter <= reporter_snap || atomic_load(&it->removed))
        atomic_fetch_add(&late_calls, 1);
    /* only an old token, accepted, could report it */
    if (it->quiet)
        atomic_fetch_add(&quiet_calls, 1);
    atomic_fetch_add(&item_calls[it->kind], 1);
    if (it->victim)
        handshake(it);
}

static void race_fd_cb(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)fd, (void)revents;
    item_ran(arg); /* the pipe is never read: it stays readable */
}

static void race_timer_cb(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now;
    item_ran(arg);
}

static void item_release(void *arg)
{
    struct item *it = arg;

    if (it->magic != ITEM_LIVE)
        atomic_fetch_add(&bad_items, 1);
    it->magic = ITEM_DEAD;
    free(it);
    atomic_fetch_add(&releases, 1);
}

static void report(struct race_reg *r, short revents, bool stale)
{
    reporter_snap = atomic_load(&removed_upto);
    if (r->fd >= 0)
        osev_occurred_fd(race_ctx, r->tok, r->fd, r->events ? r->events
                                                            : POLLIN,
                         revents);
    else
        osev_occurred_timeout(race_ctx, r->tok);
    atomic_fetch_add(stale ? &stale_reports : &reports, 1);
}

/* The foreign loop's thread: every fd it holds is "ready", the timeout
 * always "fired", and now and then an old token is reported too. */
static void *reporter_thread(void *arg)
{
    struct race_reg now[RACE_REGS + 1], old[4];
    struct pollfd pfd[RACE_REGS + 1];
    unsigned turn = 0;

    (void)arg;
    reporter_self = pthread_self();
    while (!atomic_load(&race_stop)) {
        int n = 0, nold = 0;
        unsigned held;

        pthread_mutex_lock(&RL.mu);
        for (int i = 0; i < RACE_REGS && !RL.hold; i++)
            if (RL.regs[i].live)
                now[n++] = RL.regs[i];
        if (RL.tmo_live && !RL.hold)
            now[n++] = (struct race_reg){ .live = true, .fd = -1,
                                          .tok = RL.tmo_tok };
        held = RL.nstale < STALE_RING ? RL.nstale : STALE_RING;
        for (unsigned k = 0; k < 4 && k < held; k++)
            old[nold++] = RL.stale[(turn * 5 + k * 17) % held];
        pthread_mutex_unlock(&RL.mu);

        /* live registrations: what poll says (the timeout: always) */
        for (int i = 0; i < n; i++)
            pfd[i] = (struct pollfd){ .fd = now[i].fd,
                                      .events = now[i].events };
        if (poll(pfd, (nfds_t)n, 0) < 0)
            atomic_fetch_add(&bad_items, 1);
        for (int i = 0; i < n; i++)
            if (now[i].fd < 0 || pfd[i].revents)
                report(&now[i], pfd[i].revents, false);
        /* old tokens: a lie that must be ignored */
        for (int i = 0; i < nold; i++)
            report(&old[i], POLLIN, true);
        turn++;
        sched_yield();
    }
    return NULL;
}

static struct item *item_new(long iter, int kind)
{
    struct item *it = malloc(sizeof *it);

    ck_assert_ptr_nonnull(it);
    *it = (struct item){ .magic = ITEM_LIVE, .iter = iter, .kind = kind };
    atomic_init(&it->removed, false);
    return it;
}

static void add_watch(struct item *it, int fd)
{
    ck_assert_osev_ok(osev_fd_add(race_ctx, fd, POLLIN, race_fd_cb, it,
                                  &it->w));
    osev_fd_set_release(it->w, item_release);
}

static void add_timer(struct item *it)
{
    ck_assert_osev_ok(osev_timer_add(race_ctx, osev_now(), race_timer_cb, it,
                                     &it->t));
    osev_timer_set_release(it->t, item_release);
}

/*
 * Serve the two handshakes of one round (in whichever order the passes
 * bring them): remove each victim while its pass stands still.  Returns
 * the number served before the deadline.
 */
static int serve_handshakes(osev_time deadline)
{
    int served = 0;

    pthread_mutex_lock(&hs_mu);
    while (served < 2) {
        struct item *v;

        while (!hs_in && osev_now() < deadline)
            hs_wait(deadline);
        if (!hs_in)
            break;
        v = hs_in->victim;
        /* the reporter is stopped inside a callback: no lock held */
        if (v->kind == 0)
            osev_fd_remove(v->w);
        else
            osev_timer_remove(v->t);
        atomic_store(&v->removed, true);
        hs_in->victim = NULL;
        hs_in = NULL;
        pthread_cond_broadcast(&hs_cond);
        served++;
    }
    pthread_mutex_unlock(&hs_mu);
    return served;
}

START_TEST(occurred_races_remove)
{
    long n = tu_scaled(20000), rounds = 0, handshakes = 0, served = 0;
    long late, quiet_n, bad, wrong, rel;
    osev_time start = osev_now(), deadline = start + BOUND;
    pthread_condattr_t ca;
    pthread_t reporter;
    int pipes[RACE_PIPES][2], quiet[2];

    ck_assert_int_eq(pthread_condattr_init(&ca), 0);
    ck_assert_int_eq(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC), 0);
    ck_assert_int_eq(pthread_cond_init(&hs_cond, &ca), 0);
    pthread_condattr_destroy(&ca);
    for (int i = 0; i < RACE_PIPES; i++) {
        tu_pipe(pipes[i]);
        tu_write_byte(pipes[i][1]); /* readable for good */
    }
    tu_pipe(quiet); /* never written */
    race_ctx = tu_ctx_new();
    ck_assert_osev_ok(osev_set_hooks(race_ctx, &race_hooks, sizeof race_hooks,
                                     NULL));
    ck_assert_int_eq(pthread_create(&reporter, NULL, reporter_thread, NULL),
                     0);

    for (long i = 0; i < n && osev_now() < deadline; i++) {
        int fd = pipes[i % RACE_PIPES][0];
        struct item *fi = item_new(i, 0), *ti = item_new(i, 1);
        struct item *qi = item_new(i, 0);

        if (i % HANDSHAKE_EVERY == 0) {
            /* both pairs made before the reporter may see either */
            struct item *fv = item_new(i, 0), *tv = item_new(i, 1);

            fi->victim = fv;
            ti->victim = tv;
            race_hold(true);
            add_watch(fi, fd);
            add_watch(fv, fd);
            add_timer(ti);
            add_timer(tv);
            race_hold(false);
            handshakes += 2;
            served += serve_handshakes(deadline);
        } else {
            add_watch(fi, fd);
            add_timer(ti);
        }
        qi->quiet = true;
        add_watch(qi, quiet[0]);
        if (i % 2) {
            osev_fd_remove(fi->w);
            osev_timer_remove(ti->t);
        } else {
            osev_timer_remove(ti->t);
            osev_fd_remove(fi->w);
        }
        osev_fd_remove(qi->w);
        atomic_store(&removed_upto, i);
        rounds++;
    }
    atomic_store(&race_stop, true);
    pthread_join(reporter, NULL);
    osev_ctx_free(race_ctx);
    printf("stress: %ld add/remove rounds against %ld reports (%ld stale) "
           "in %.2f s; %ld fd and %ld timer callbacks\n", rounds,
           atomic_load(&reports), atomic_load(&stale_reports),
           seconds_since(start), atomic_load(&item_calls[0]),
           atomic_load(&item_calls[1]));

    ck_assert_msg(rounds == n, "only %ld of %ld rounds before the deadline",
                  rounds, n);
    ck_assert_int_eq(served, handshakes);
    ck_assert_int_eq(hs_timeouts, 0);
    late = atomic_load(&late_calls);
    quiet_n = atomic_load(&quiet_calls);
    bad = atomic_load(&bad_items);
    wrong = atomic_load(&wrong_thread);
    rel = atomic_load(&releases);
    ck_assert_int_eq(late, 0);
    ck_assert_int_eq(quiet_n, 0);
    ck_assert_int_eq(bad, 0);
    ck_assert_int_eq(wrong, 0);
    ck_assert_int_eq(rel, 3 * rounds + handshakes);
    /* the foreign loop holds nothing any more, and was told so once */
    ck_assert_int_eq(RL.bad_hook, 0);
    ck_assert_int_eq(RL.released, 1);
    ck_assert(!RL.tmo_live);
    for (int i = 0; i < RACE_REGS; i++)
        ck_assert(!RL.regs[i].live);
    for (int i = 0; i < RACE_PIPES; i++)
        close(pipes[i][0]), close(pipes[i][1]);
    close(quiet[0]), close(quiet[1]);
    pthread_cond_destroy(&hs_cond);
}
END_TEST

static Suite *stress_suite(void)
{
    Suite *s = suite_create("stress");
    TCase *tc = tcase_create("stress");

    /* BOUND fails a test long before this kills it */
    tcase_set_timeout(tc, 150);
    tcase_add_test(tc, schedule_from_8_threads);
    tcase_add_test(tc, waiters_with_disjoint_predicates);
    tcase_add_test(tc, occurred_races_remove);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(stress_suite());
}
