/*
 * test-schedule.c - threads handing work to a context, and a context
 * noticing what other threads do to it: the header's osev_schedule and
 * docs/threads.md.
 *
 *  - osev_schedule(): once, FIFO, on the dispatching thread, in every mode
 *    (pull, built-in loop, osev_event_wait, aggregate fd, push), one wakeup
 *    per burst, release when the context is freed first, -ENOMEM;
 *  - a registry change made while another thread is blocked in the
 *    built-in loop or on the aggregate fd wakes it; a waiter whose
 *    deadline passes while another polls leaves cleanly.
 *
 * A test that wants another thread blocked before it acts waits until
 * /proc says that thread is in a polling system call: a condition, not a
 * sleep.  If /proc cannot tell, the test goes on and its assertions still
 * hold (it only exercises the wakeup less surely).  Assertions are made on
 * the thread running the test; helper threads only record.
 */
#include "testutil.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BOUND osev_s(10)   /* "promptly", generous for valgrind and TSan */
#define FAR osev_s(30)     /* a deadline nobody should wait for */

static osev_ctx *ctx_with(unsigned flags, void *(*realloc_fn)(void *, void *,
                                                              size_t))
{
    struct osev_ctx_opts o = {
        .size = sizeof o, .flags = flags, .realloc_fn = realloc_fn
    };
    osev_ctx *ctx;

    ck_assert_osev_ok(osev_ctx_new(&o, &ctx));
    return ctx;
}

/* ---- recording scheduled calls ---- */

#define MAXCALLS 4096

static int calls[MAXCALLS], ncalls;
static int released[MAXCALLS], nreleased;
static pthread_t ran_on;

static void record(osev_ctx *ctx, void *arg)
{
    (void)ctx;
    ck_assert_int_lt(ncalls, MAXCALLS);
    calls[ncalls++] = (int)(intptr_t)arg;
    ran_on = pthread_self();
}

static void record_release(void *arg)
{
    ck_assert_int_lt(nreleased, MAXCALLS);
    released[nreleased++] = (int)(intptr_t)arg;
}

static void reset(void)
{
    ncalls = nreleased = 0;
}

static void assert_calls_in_order(int n)
{
    ck_assert_int_eq(ncalls, n);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(calls[i], i);
}

/* A thread making @n calls with args 0..n-1. */
struct burst {
    osev_ctx *ctx;
    int n;
    int failed;
};

static void *burst_thread(void *arg)
{
    struct burst *b = arg;

    for (int i = 0; i < b->n; i++)
        if (osev_schedule(b->ctx, record, record_release,
                          (void *)(intptr_t)i) < 0)
            b->failed++;
    return NULL;
}

static void burst_from_thread(osev_ctx *ctx, int n)
{
    struct burst b = { .ctx = ctx, .n = n };
    pthread_t th;

    ck_assert_int_eq(pthread_create(&th, NULL, burst_thread, &b), 0);
    pthread_join(th, NULL);
    ck_assert_int_eq(b.failed, 0);
}

/* ---- osev_schedule ---- */

/* Once each, in order, on the dispatching thread, whatever the mode; and
 * a pending call makes the pull timeout 0 and the deadline "now". */
START_TEST(once_in_order_every_mode)
{
    osev_ctx *ctx = tu_ctx_new();
    struct pollfd fds[TU_PULL_ROOM];
    int n = TU_PULL_ROOM, timeout = -1;
    osev_time dl;

    reset();
    burst_from_thread(ctx, 10);
    ck_assert_int_eq(ncalls, 0); /* never inside osev_schedule() */
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_int_eq(timeout, 0);
    ck_assert_osev_ok(osev_get_deadline(ctx, &dl));
    ck_assert_int_eq(dl, 0);
    tu_check_count(tu_drive(ctx, _i), 10);
    assert_calls_in_order(10);
    ck_assert(pthread_equal(ran_on, pthread_self()));
    ck_assert_int_eq(osev_dispatch(ctx), 0); /* once only */
    ck_assert_int_eq(ncalls, 10);
    ck_assert_osev_ok(osev_get_deadline(ctx, &dl));
    ck_assert_int_eq(dl, OSEV_TIME_INFINITY);
    ck_assert_int_eq(nreleased, 0); /* ran: the arg was fn's */
    osev_ctx_free(ctx);
    ck_assert_int_eq(nreleased, 0);
}
END_TEST

static void defer_marker(osev_ctx *ctx, void *arg)
{
    (void)ctx, (void)arg;
    ck_assert_int_lt(ncalls, MAXCALLS);
    calls[ncalls++] = -1;
}

/* In the pass: after fds, timers and deferred calls made before it. */
START_TEST(runs_after_deferred_calls)
{
    osev_ctx *ctx = tu_ctx_new();

    reset();
    ck_assert_osev_ok(osev_schedule(ctx, record, NULL, (void *)0));
    ck_assert_osev_ok(osev_defer(ctx, defer_marker, NULL));
    ck_assert_int_eq(osev_dispatch(ctx), 2);
    ck_assert_int_eq(ncalls, 2);
    ck_assert_int_eq(calls[0], -1);
    ck_assert_int_eq(calls[1], 0);
    osev_ctx_free(ctx);
}
END_TEST

/* The whole order of one pass: ready fds, due timers, deferred calls,
 * scheduled calls, then event_occurs deliveries; whatever the order in
 * which they were queued, and whatever drives the context. */
static char pass_order[8];
static int npass;

static void order_fd(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)revents, (void)arg;
    tu_drain(fd);
    pass_order[npass++] = 'f';
}

static void order_timer(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now, (void)arg;
    pass_order[npass++] = 't';
}

static void order_call(osev_ctx *ctx, void *arg)
{
    (void)ctx;
    pass_order[npass++] = *(const char *)arg;
}

static void order_event(void *user, osev_event *ev)
{
    pass_order[npass++] = 'e';
    osev_event_free(user, ev);
}

START_TEST(one_pass_in_order)
{
    osev_ctx *ctx = tu_ctx_new();
    struct osev_event_hooks h = { .event_occurs_mask = 1,
                                  .event_occurs = order_event };
    osev_event *ev = osev_event_new(ctx, 0, 0, 0);
    osev_timer *t;
    osev_fd *w;
    int p[2];

    npass = 0;
    memset(pass_order, 0, sizeof pass_order);
    tu_pipe(p);
    ck_assert_ptr_nonnull(ev);
    ck_assert_osev_ok(osev_event_set_hooks(ctx, &h, sizeof h, ctx));
    /* queued in the reverse of the order they run in */
    osev_event_post(ctx, ev);
    ck_assert_osev_ok(osev_schedule(ctx, order_call, NULL, "s"));
    ck_assert_osev_ok(osev_defer(ctx, order_call, "d"));
    ck_assert_osev_ok(osev_timer_add(ctx, 0, order_timer, NULL, &t));
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, order_fd, NULL, &w));
    tu_write_byte(p[1]);
    tu_check_count(tu_drive(ctx, _i), 5);
    ck_assert_str_eq(pass_order, "ftdse");
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]);
}
END_TEST

static void schedule_from_cb(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)revents;
    tu_drain(fd);
    ck_assert_osev_ok(osev_schedule(arg, record, record_release, (void *)0));
}

/* From a callback: queued, run by the next pass, which comes at once. */
START_TEST(from_a_callback_next_pass)
{
    osev_ctx *ctx = tu_ctx_new();
    int p[2], r;
    osev_fd *w;

    reset();
    tu_pipe(p);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, schedule_from_cb, ctx,
                                  &w));
    tu_write_byte(p[1]);
    r = tu_drive(ctx, _i);
    tu_check_count(r, 1);
    ck_assert_int_eq(ncalls, 0);
    r = tu_drive(ctx, _i); /* would block 5 s if nothing were pending */
    tu_check_count(r, 1);
    assert_calls_in_order(1);
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]);
}
END_TEST

/* Freed first: never run, each release once, in order, nothing leaked. */
START_TEST(release_when_ctx_freed_first)
{
    osev_ctx *ctx = ctx_with(0, tu_realloc);

    reset();
    tu_alloc_fail_at(-1);
    burst_from_thread(ctx, 3);
    ck_assert_osev_ok(osev_schedule(ctx, record, NULL, (void *)3));
    osev_ctx_free(ctx);
    ck_assert_int_eq(ncalls, 0);
    ck_assert_int_eq(nreleased, 3);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(released[i], i);
    ck_assert_int_eq(tu_alloc_live(), 0);
}
END_TEST

static void free_ctx_call(osev_ctx *ctx, void *arg)
{
    (void)arg;
    calls[ncalls++] = 100;
    osev_ctx_free(ctx);
}

/* A scheduled call frees the context: the calls after it in the same
 * pass are not run but released. */
START_TEST(call_frees_the_context)
{
    osev_ctx *ctx = ctx_with(0, tu_realloc);

    reset();
    ck_assert_osev_ok(osev_schedule(ctx, free_ctx_call, record_release,
                                    (void *)100));
    ck_assert_osev_ok(osev_schedule(ctx, record, record_release,
                                    (void *)7));
    ck_assert_osev_err(osev_dispatch(ctx), -ESTALE);
    ck_assert_int_eq(ncalls, 1);
    ck_assert_int_eq(calls[0], 100);
    ck_assert_int_eq(nreleased, 1);
    ck_assert_int_eq(released[0], 7);
    ck_assert_int_eq(tu_alloc_live(), 0);
}
END_TEST

START_TEST(bad_arguments_and_enomem)
{
    osev_ctx *ctx = ctx_with(0, tu_realloc);

    reset();
    ck_assert_osev_err(osev_schedule(NULL, record, NULL, NULL), -EINVAL);
    ck_assert_osev_err(osev_schedule(ctx, NULL, NULL, NULL), -EINVAL);
    tu_alloc_fail_at(0);
    ck_assert_osev_err(osev_schedule(ctx, record, record_release, NULL),
                       -ENOMEM);
    tu_alloc_fail_at(-1);
    ck_assert_int_eq(osev_dispatch(ctx), 0); /* nothing was queued */
    osev_ctx_free(ctx);
    ck_assert_int_eq(ncalls, 0);
    ck_assert_int_eq(nreleased, 0); /* a failed call keeps arg the caller's */
    ck_assert_int_eq(tu_alloc_live(), 0);
}
END_TEST

/* FIFO per calling thread, with several threads at once. */
struct tagged {
    osev_ctx *ctx;
    int thread, n, failed;
};

#define TAG_THREADS 4
#define TAG_CALLS 2000

static int next_of[TAG_THREADS], fifo_broken, tagged_total;

static void tagged_call(osev_ctx *ctx, void *arg)
{
    intptr_t v = (intptr_t)arg;
    int t = (int)(v / TAG_CALLS), i = (int)(v % TAG_CALLS);

    if (next_of[t] != i)
        fifo_broken++;
    next_of[t] = i + 1;
    if (++tagged_total == TAG_THREADS * TAG_CALLS)
        osev_loop_exit(ctx, 0);
}

static void *tagged_thread(void *arg)
{
    struct tagged *t = arg;

    for (int i = 0; i < t->n; i++)
        if (osev_schedule(t->ctx, tagged_call, NULL,
                          (void *)(intptr_t)(t->thread * TAG_CALLS + i)) < 0)
            t->failed++;
    return NULL;
}

static osev_ctx *guarded_ctx;

static void guard_exit(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now, (void)arg;
    osev_loop_exit(guarded_ctx, 1);
}

START_TEST(fifo_per_thread_into_loop_run)
{
    osev_ctx *ctx = tu_ctx_new();
    struct tagged t[TAG_THREADS];
    pthread_t th[TAG_THREADS];
    osev_timer *guard;

    /* bounded: the guard ends the loop with 1 if calls went missing */
    guarded_ctx = ctx;
    ck_assert_osev_ok(osev_timer_add(ctx, osev_now() + FAR, guard_exit, NULL,
                                     &guard));
    for (int i = 0; i < TAG_THREADS; i++) {
        t[i] = (struct tagged){ .ctx = ctx, .thread = i, .n = TAG_CALLS };
        ck_assert_int_eq(pthread_create(&th[i], NULL, tagged_thread, &t[i]),
                         0);
    }
    ck_assert_int_eq(osev_loop_run(ctx), 0);
    for (int i = 0; i < TAG_THREADS; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(t[i].failed, 0);
        ck_assert_int_eq(next_of[i], TAG_CALLS);
    }
    ck_assert_int_eq(fifo_broken, 0);
    ck_assert_int_eq(tagged_total, TAG_THREADS * TAG_CALLS);
    ck_assert_int_eq(osev_dispatch(ctx), 0);
    osev_ctx_free(ctx);
}
END_TEST

/* A burst costs one write of the wakeup fd, and the next burst one more. */
START_TEST(one_wakeup_per_burst)
{
    osev_ctx *ctx = tu_ctx_new();
    struct pollfd fds[TU_PULL_ROOM];
    int n = TU_PULL_ROOM, timeout = -1, wfd;

    reset();
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_int_eq(n, 1); /* nothing but the wakeup fd */
    wfd = fds[0].fd;
    ck_assert_uint_eq(tu_wakeups_pending(wfd), 0);

    for (int round = 1; round <= 2; round++) {
        reset();
        burst_from_thread(ctx, 1000);
        ck_assert_osev_ok(osev_schedule(ctx, record, NULL, (void *)1000));
        ck_assert_uint_eq(tu_wakeups_pending(wfd), 1);
        n = TU_PULL_ROOM;
        timeout = -1;
        ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
        ck_assert_int_eq(timeout, 0);
        ck_assert_int_eq(poll(fds, (nfds_t)n, 0), 1);
        osev_afterpoll(ctx, n, fds, 0);
        assert_calls_in_order(1001);
        ck_assert_uint_eq(tu_wakeups_pending(wfd), 0); /* drained by the pass */
    }
    osev_ctx_free(ctx);
}
END_TEST

/*
 * A call queued by another thread after the pass took its batch, whose
 * wakeup that same pass then drains, is not missed: it is pending work.
 */
static int drained_wfd;

static void schedule_then_drain(osev_fd *w, int fd, short revents, void *arg)
{
    uint64_t v;

    (void)w, (void)revents;
    tu_drain(fd);
    burst_from_thread(arg, 1);
    ck_assert_int_eq(read(drained_wfd, &v, sizeof v), TU_WAKEUP_SIZE);
}

START_TEST(call_queued_during_the_drain_is_not_missed)
{
    osev_ctx *ctx = tu_ctx_new();
    struct pollfd fds[TU_PULL_ROOM];
    int n = TU_PULL_ROOM, timeout = -1, p[2];
    osev_fd *w;

    reset();
    tu_pipe(p);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, schedule_then_drain,
                                  ctx, &w));
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_int_eq(n, 2);
    drained_wfd = fds[0].fd == p[0] ? fds[1].fd : fds[0].fd;
    tu_write_byte(p[1]);
    ck_assert_int_eq(poll(fds, (nfds_t)n, 5000), 1);
    osev_afterpoll(ctx, n, fds, 0);
    ck_assert_int_eq(ncalls, 0);
    ck_assert_uint_eq(tu_wakeups_pending(drained_wfd), 0);
    n = TU_PULL_ROOM;
    timeout = -1;
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_int_eq(timeout, 0); /* pending, though the fd is quiet */
    ck_assert_int_eq(poll(fds, (nfds_t)n, timeout), 0);
    osev_afterpoll(ctx, n, fds, 0);
    assert_calls_in_order(1);
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]);
}
END_TEST

/* A thread that waits until @tid polls, then makes @n calls. */
struct later {
    osev_ctx *ctx;
    pid_t tid;
    int n;
    void (*act)(struct later *);
    int p[2];
    osev_fd *w;
    osev_timer *t;
    int result;
};

static void *later_thread(void *arg)
{
    struct later *l = arg;

    tu_wait_until_polling(l->tid, osev_now() + BOUND);
    l->act(l);
    return NULL;
}

static void start_later(struct later *l, pthread_t *th)
{
    l->tid = tu_gettid();
    ck_assert_int_eq(pthread_create(th, NULL, later_thread, l), 0);
}

static void act_schedule(struct later *l)
{
    for (int i = 0; i < l->n; i++)
        l->result |= osev_schedule(l->ctx, record, NULL, (void *)(intptr_t)i);
}

/* The built-in loop, blocked with a far deadline, is woken and runs the
 * call on its own thread; likewise a thread in osev_event_wait(). */
static void record_and_post(osev_ctx *ctx, void *arg)
{
    record(ctx, arg);
    if ((intptr_t)arg == 2) {
        osev_event *ev = osev_event_new(ctx, 0, 2, 0);

        ck_assert_ptr_nonnull(ev);
        osev_event_post(ctx, ev);
    }
}

static void act_schedule_and_post(struct later *l)
{
    for (int i = 0; i < l->n; i++)
        l->result |= osev_schedule(l->ctx, record_and_post, NULL,
                                   (void *)(intptr_t)i);
}

/* The built-in loop, blocked with a far deadline, is woken and runs the
 * call on its own thread; likewise a thread in osev_event_wait(). */
START_TEST(wakes_the_built_in_loop)
{
    osev_ctx *ctx = tu_ctx_new();
    struct later l = { .ctx = ctx, .n = 1, .act = act_schedule };
    osev_time start = osev_now();
    osev_event *ev;
    pthread_t th;

    reset();
    start_later(&l, &th);
    ck_assert_int_eq(osev_loop_once(ctx, start + FAR), 1);
    ck_assert_int_lt(osev_now(), start + BOUND);
    pthread_join(th, NULL);
    ck_assert_int_eq(l.result, 0);
    assert_calls_in_order(1);
    ck_assert(pthread_equal(ran_on, pthread_self()));

    /* the last of three calls posts what the waiter waits for */
    reset();
    l.n = 3;
    l.act = act_schedule_and_post;
    start = osev_now();
    start_later(&l, &th);
    ck_assert_osev_ok(osev_event_wait(ctx, 1, NULL, NULL, start + FAR, &ev));
    ck_assert_int_lt(osev_now(), start + BOUND);
    ck_assert_uint_eq(ev->for_user, 2);
    osev_event_free(ctx, ev);
    pthread_join(th, NULL);
    ck_assert_int_eq(l.result, 0);
    assert_calls_in_order(3);
    ck_assert(pthread_equal(ran_on, pthread_self()));
    osev_ctx_free(ctx);
}
END_TEST

/* The aggregate fd becomes readable; osev_dispatch() runs the calls. */
START_TEST(makes_the_aggregate_fd_readable)
{
    osev_ctx *ctx = tu_ctx_new();
    struct later l = { .ctx = ctx, .n = 5, .act = act_schedule };
    int afd = tu_get_fd(ctx);
    struct pollfd p = { .fd = afd, .events = POLLIN };
    osev_time start = osev_now(), dl;
    pthread_t th;

    reset();
    if (afd < 0) { /* no aggregate fd without the Linux APIs: -ENOSYS */
        osev_ctx_free(ctx);
        return;
    }
    ck_assert_osev_ok(osev_get_deadline(ctx, &dl));
    ck_assert_int_eq(dl, OSEV_TIME_INFINITY);
    start_later(&l, &th);
    ck_assert_int_eq(poll(&p, 1, (int)(FAR / osev_ms(1))), 1);
    ck_assert_int_lt(osev_now(), start + BOUND);
    pthread_join(th, NULL);
    ck_assert_int_eq(osev_dispatch(ctx), 5);
    assert_calls_in_order(5);
    ck_assert_int_eq(poll(&p, 1, 0), 0);
    osev_ctx_free(ctx);
}
END_TEST

/* ---- push mode: a minimal foreign loop ---- */

#define PUSH_REGS 8

struct push_reg {
    bool live;
    int fd;
    short events;
    void *tok;
};

static struct push_reg pregs[PUSH_REGS];

static int p_fd_register(void *user, int fd, void **reg_out, short events,
                         void *tok)
{
    (void)user;
    for (int i = 0; i < PUSH_REGS; i++)
        if (!pregs[i].live) {
            pregs[i] = (struct push_reg){ true, fd, events, tok };
            *reg_out = &pregs[i];
            return 0;
        }
    return -ENOSPC;
}

static int p_fd_modify(void *user, int fd, void **reg_io, short events)
{
    (void)user, (void)fd;
    ((struct push_reg *)*reg_io)->events = events;
    return 0;
}

static void p_fd_deregister(void *user, int fd, void *reg)
{
    (void)user, (void)fd;
    ((struct push_reg *)reg)->live = false;
}

static int p_timeout_register(void *user, void **reg_out, osev_time deadline,
                              void *tok)
{
    (void)user, (void)deadline, (void)tok;
    *reg_out = pregs;
    return 0;
}

static int p_timeout_modify(void *user, void **reg_io, osev_time deadline)
{
    (void)user, (void)reg_io, (void)deadline;
    return 0;
}

static void p_timeout_deregister(void *user, void *reg)
{
    (void)user, (void)reg;
}

static const struct osev_hooks push_hooks = {
    .fd_register = p_fd_register,
    .fd_modify = p_fd_modify,
    .fd_deregister = p_fd_deregister,
    .timeout_register = p_timeout_register,
    .timeout_modify = p_timeout_modify,
    .timeout_deregister = p_timeout_deregister,
};

/* One turn of the foreign loop: poll what it holds, report what is
 * ready.  Returns how many registrations were ready. */
static int push_turn(osev_ctx *ctx, int max_ms)
{
    struct pollfd p[PUSH_REGS];
    struct push_reg copy[PUSH_REGS];
    int n = 0, ready;

    for (int i = 0; i < PUSH_REGS; i++)
        if (pregs[i].live) {
            copy[n] = pregs[i];
            p[n++] = (struct pollfd){ pregs[i].fd, pregs[i].events, 0 };
        }
    ready = poll(p, (nfds_t)n, max_ms);
    ck_assert_int_ge(ready, 0);
    for (int i = 0; i < n; i++)
        if (p[i].revents)
            osev_occurred_fd(ctx, copy[i].tok, copy[i].fd, copy[i].events,
                             p[i].revents);
    return ready;
}

/* The wakeup fd is a registered fd: the foreign loop sees it and its
 * osev_occurred_fd() runs the calls, on the foreign loop's thread. */
START_TEST(push_mode_foreign_loop_runs_the_calls)
{
    osev_ctx *ctx = tu_ctx_new();
    struct later l = { .ctx = ctx, .n = 1, .act = act_schedule };
    osev_time start = osev_now();
    pthread_t th;

    reset();
    memset(pregs, 0, sizeof pregs);
    ck_assert_osev_ok(osev_set_hooks(ctx, &push_hooks, sizeof push_hooks,
                                     NULL));
    start_later(&l, &th);
    ck_assert_int_eq(push_turn(ctx, (int)(FAR / osev_ms(1))), 1);
    ck_assert_int_lt(osev_now(), start + BOUND);
    pthread_join(th, NULL);
    assert_calls_in_order(1);
    ck_assert(pthread_equal(ran_on, pthread_self()));
    ck_assert_int_eq(push_turn(ctx, 0), 0); /* drained */
    osev_ctx_free(ctx);
}
END_TEST

/* ---- osev_wakeup from a signal handler ---- */

static osev_ctx *signal_ctx;
static volatile sig_atomic_t errno_kept;

static void on_usr2(int signo)
{
    (void)signo;
    errno = EXDEV;
    osev_wakeup(signal_ctx);
    osev_wakeup(signal_ctx);
    errno_kept = errno == EXDEV;
}

/* Async-signal-safe: callable from a handler that interrupts this very
 * thread, and errno is kept.  Two calls are two writes, but one pass
 * drains both: the loop returns once. */
START_TEST(wakeup_from_a_handler_on_the_loop_thread)
{
    struct sigaction sa = { .sa_handler = on_usr2 }, old;
    osev_time start;
    int n = 0, timeout = -1;
    struct pollfd fds[2];

    signal_ctx = tu_ctx_new();
    ck_assert_int_eq(sigaction(SIGUSR2, &sa, &old), 0);
    ck_assert_int_eq(raise(SIGUSR2), 0); /* runs the handler on return */
    ck_assert(errno_kept);
    n = 2;
    ck_assert_osev_ok(osev_beforepoll(signal_ctx, &n, fds, &timeout, 0));
    ck_assert_uint_eq(tu_wakeups_pending(fds[0].fd), 2);
    start = osev_now();
    ck_assert_int_eq(osev_loop_once(signal_ctx, start + FAR), 0);
    ck_assert_int_lt(osev_now(), start + BOUND);
    ck_assert_uint_eq(tu_wakeups_pending(fds[0].fd), 0);
    sigaction(SIGUSR2, &old, NULL);
    osev_ctx_free(signal_ctx);
}
END_TEST

/* errno is kept even when the write fails: a full eventfd counter, or
 * without the Linux APIs a full pipe (a wakeup is certainly pending
 * then), makes write(2) fail with EAGAIN. */
START_TEST(wakeup_keeps_errno_when_the_counter_is_full)
{
    osev_ctx *ctx = tu_ctx_new();
    uint64_t full = UINT64_MAX - 1;
    struct pollfd fds[2];
    int n = 2, timeout = -1;

    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_int_eq(n, 1); /* the wakeup fd alone */
    if (TU_LINUX_APIS) {
        ck_assert_int_eq(write(fds[0].fd, &full, sizeof full), sizeof full);
    } else {
        /* A pipe, whose write end is the library's: fill it by waking,
         * at the least capacity Linux allows (one page). */
        unsigned long long before;
        int tries = 0;

        ck_assert_int_ge(fcntl(fds[0].fd, F_SETPIPE_SZ, 4096), 4096);
        do {
            before = tu_wakeups_pending(fds[0].fd);
            osev_wakeup(ctx);
        } while (tu_wakeups_pending(fds[0].fd) > before && ++tries < 1 << 20);
        ck_assert_uint_ge(before, 4096);
    }
    errno = EXDEV;
    osev_wakeup(ctx);
    ck_assert_int_eq(errno, EXDEV);
    ck_assert_int_eq(osev_loop_once(ctx, osev_now() + BOUND), 0);
    ck_assert_uint_eq(tu_wakeups_pending(fds[0].fd), 0);
    osev_ctx_free(ctx);
}
END_TEST

/* ---- registry changes wake a blocked thread ---- */

static int fired;

static void count_timer(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now, (void)arg;
    fired++;
}

static void count_read(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)fd, (void)revents, (void)arg;
    fired++;
}

static void act_add_timer_due_now(struct later *l)
{
    l->result = osev_timer_add(l->ctx, osev_now(), count_timer, NULL, &l->t);
}

static void act_add_ready_watch(struct later *l)
{
    tu_write_byte(l->p[1]);
    l->result = osev_fd_add(l->ctx, l->p[0], POLLIN, count_read, NULL, &l->w);
}

static void act_add_near_timer(struct later *l)
{
    l->result = osev_timer_add(l->ctx, osev_now() + osev_ms(20), count_timer,
                               NULL, &l->t);
}

START_TEST(timer_added_wakes_the_loop)
{
    osev_ctx *ctx = ctx_with(_i ? OSEV_CTX_BACKEND_POLL : 0, NULL);
    struct later l = { .ctx = ctx, .act = act_add_timer_due_now };
    osev_time start = osev_now();
    pthread_t th;

    fired = 0;
    start_later(&l, &th);
    /* the wakeup's pass finds the timer due and runs it */
    ck_assert_int_eq(osev_loop_once(ctx, start + FAR), 1);
    ck_assert_int_lt(osev_now(), start + BOUND);
    pthread_join(th, NULL);
    ck_assert_osev_ok(l.result);
    ck_assert_int_eq(fired, 1);
    osev_ctx_free(ctx);
}
END_TEST

START_TEST(watch_added_wakes_the_loop)
{
    osev_ctx *ctx = ctx_with(_i ? OSEV_CTX_BACKEND_POLL : 0, NULL);
    struct later l = { .ctx = ctx, .act = act_add_ready_watch };
    osev_time start = osev_now();
    pthread_t th;
    int turns = 0;

    fired = 0;
    tu_pipe(l.p);
    start_later(&l, &th);
    /* the wakeup returns (0: nothing ran), the next wait sees the watch */
    while (fired == 0 && osev_now() < start + BOUND && turns++ < 3)
        ck_assert_int_ge(osev_loop_once(ctx, start + FAR), 0);
    ck_assert_int_lt(osev_now(), start + BOUND);
    ck_assert_int_eq(fired, 1);
    pthread_join(th, NULL);
    ck_assert_osev_ok(l.result);
    osev_ctx_free(ctx);
    close(l.p[0]), close(l.p[1]);
}
END_TEST

/*
 * A watch another thread adds while the loop's thread waits takes no part
 * in the results of that wait, as a watch added after osev_beforepoll()
 * takes none from its poll: it is first called in the next turn.  The fd
 * is made ready from the allocator, inside osev_fd_add(), while the adding
 * thread holds the context: the wait returns with it ready before the new
 * watch exists, and the loop's thread can mark it only after.
 */
static int ready_on_alloc = -1;
static int first_calls, late_calls;

static void *alloc_makes_ready(void *user, void *ptr, size_t size)
{
    int fd = __atomic_exchange_n(&ready_on_alloc, -1, __ATOMIC_SEQ_CST);
    char c = 'x';

    (void)user;
    if (fd >= 0 && write(fd, &c, 1) != 1)
        abort();
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, size);
}

static void count_first(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)fd, (void)revents, (void)arg;
    first_calls++;
}

static void count_late(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)fd, (void)revents, (void)arg;
    late_calls++;
}

static void *add_late_watch_when_blocked(void *arg)
{
    struct later *l = arg;

    l->n = tu_wait_until_polling(l->tid, osev_now() + BOUND);
    __atomic_store_n(&ready_on_alloc, l->p[1], __ATOMIC_SEQ_CST);
    l->result = osev_fd_add(l->ctx, l->p[0], POLLIN, count_late, NULL, &l->w);
    return NULL;
}

START_TEST(watch_added_during_the_wait_waits_a_turn)
{
    osev_ctx *ctx = ctx_with(_i ? OSEV_CTX_BACKEND_POLL : 0,
                             alloc_makes_ready);
    struct later l = { .ctx = ctx };
    osev_time start = osev_now();
    osev_fd *first;
    pthread_t th;
    int r;

    first_calls = late_calls = 0;
    tu_pipe(l.p);
    ck_assert_osev_ok(osev_fd_add(ctx, l.p[0], POLLIN, count_first, NULL,
                                  &first));
    l.tid = tu_gettid();
    ck_assert_int_eq(pthread_create(&th, NULL, add_late_watch_when_blocked,
                                    &l),
                     0);
    r = osev_loop_once(ctx, start + FAR);
    pthread_join(th, NULL);
    ck_assert_osev_ok(l.result);
    ck_assert_int_eq(first_calls, 1);
    if (l.n) { /* seen waiting: the wait predates the late watch */
        ck_assert_int_eq(r, 1);
        ck_assert_int_eq(late_calls, 0);
    }
    /* The next turn serves both (nobody drains the pipe). */
    ck_assert_int_eq(osev_loop_once(ctx, start + FAR), 2);
    ck_assert_int_eq(first_calls, 2);
    ck_assert_int_ge(late_calls, 1);
    ck_assert_int_lt(osev_now(), start + BOUND);
    osev_ctx_free(ctx);
    close(l.p[0]), close(l.p[1]);
}
END_TEST

/* A thread polling the aggregate fd with the old deadline (none) sees it
 * readable once another thread adds a near timer, or a ready watch. */
START_TEST(aggregate_fd_follows_other_threads)
{
    osev_ctx *ctx = ctx_with(_i ? OSEV_CTX_BACKEND_POLL : 0, NULL);
    struct later l = { .ctx = ctx, .act = act_add_near_timer };
    int afd = tu_get_fd(ctx);
    struct pollfd p = { .fd = afd, .events = POLLIN };
    osev_time start = osev_now(), dl;
    pthread_t th;

    fired = 0;
    if (afd < 0) { /* no aggregate fd without the Linux APIs: -ENOSYS */
        osev_ctx_free(ctx);
        return;
    }
    ck_assert_osev_ok(osev_get_deadline(ctx, &dl));
    ck_assert_int_eq(dl, OSEV_TIME_INFINITY);
    start_later(&l, &th);
    ck_assert_int_eq(poll(&p, 1, (int)(FAR / osev_ms(1))), 1);
    ck_assert_int_lt(osev_now(), start + BOUND);
    pthread_join(th, NULL);
    ck_assert_osev_ok(l.result);
    ck_assert_int_eq(osev_dispatch(ctx), 1);
    ck_assert_int_eq(fired, 1);
    ck_assert_int_eq(poll(&p, 1, 0), 0);

    fired = 0;
    tu_pipe(l.p);
    l.act = act_add_ready_watch;
    start = osev_now();
    start_later(&l, &th);
    ck_assert_int_eq(poll(&p, 1, (int)(FAR / osev_ms(1))), 1);
    ck_assert_int_lt(osev_now(), start + BOUND);
    pthread_join(th, NULL);
    ck_assert_osev_ok(l.result);
    ck_assert_int_eq(osev_dispatch(ctx), 1);
    ck_assert_int_eq(fired, 1);
    osev_ctx_free(ctx);
    close(l.p[0]), close(l.p[1]);
}
END_TEST

/* ---- a waiter leaving at its deadline while another polls ---- */

struct poller {
    osev_ctx *ctx;
    _Atomic pid_t tid;
    osev_event *ev;
    int result;
};

static void *poll_waiter(void *arg)
{
    struct poller *p = arg;

    atomic_store(&p->tid, tu_gettid());
    p->result = osev_event_wait(p->ctx, UINT64_C(1) << 1, NULL, NULL,
                                osev_now() + BOUND, &p->ev);
    return NULL;
}

static void post(osev_ctx *ctx, unsigned type, uint64_t cookie)
{
    osev_event *ev = osev_event_new(ctx, type, cookie, 0);

    ck_assert_ptr_nonnull(ev);
    osev_event_post(ctx, ev);
}

START_TEST(sleeping_waiter_leaves_at_its_deadline)
{
    osev_ctx *ctx = tu_ctx_new();
    struct poller p = { .ctx = ctx };
    osev_time start;
    osev_event *ev;
    pthread_t th;

    ck_assert_int_eq(pthread_create(&th, NULL, poll_waiter, &p), 0);
    while (atomic_load(&p.tid) == 0)
        sched_yield();
    /* p is the poller, blocked in the backend: we sleep beside it */
    tu_wait_until_polling(atomic_load(&p.tid), osev_now() + BOUND);
    start = osev_now();
    ck_assert_osev_err(osev_event_wait(ctx, UINT64_C(1) << 2, NULL, NULL,
                                       start + osev_ms(50), &ev),
                       -ETIMEDOUT);
    ck_assert_int_ge(osev_now(), start + osev_ms(50));
    ck_assert_int_lt(osev_now(), start + BOUND);
    /* we left: an event for us now is queued, not handed to a dead
     * waiter; the poller is still served */
    post(ctx, 2, 22);
    ck_assert_osev_ok(osev_event_check(ctx, UINT64_C(1) << 2, NULL, NULL,
                                       &ev));
    ck_assert_uint_eq(ev->for_user, 22);
    osev_event_free(ctx, ev);
    post(ctx, 1, 11);
    pthread_join(th, NULL);
    ck_assert_osev_ok(p.result);
    ck_assert_uint_eq(p.ev->for_user, 11);
    osev_event_free(ctx, p.ev);
    osev_ctx_free(ctx);
}
END_TEST

static Suite *schedule_suite(void)
{
    Suite *s = suite_create("schedule");
    TCase *tc = tcase_create("schedule");
    TCase *wk = tcase_create("wakeups");

    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, once_in_order_every_mode, 0, TU_DRIVE_MODES);
    tcase_add_test(tc, runs_after_deferred_calls);
    tcase_add_loop_test(tc, one_pass_in_order, 0, TU_DRIVE_MODES);
    tcase_add_loop_test(tc, from_a_callback_next_pass, 0, TU_DRIVE_MODES);
    tcase_add_test(tc, release_when_ctx_freed_first);
    tcase_add_test(tc, call_frees_the_context);
    tcase_add_test(tc, bad_arguments_and_enomem);
    tcase_add_test(tc, fifo_per_thread_into_loop_run);
    tcase_add_test(tc, one_wakeup_per_burst);
    tcase_add_test(tc, call_queued_during_the_drain_is_not_missed);
    tcase_add_test(tc, wakes_the_built_in_loop);
    tcase_add_test(tc, makes_the_aggregate_fd_readable);
    tcase_add_test(tc, push_mode_foreign_loop_runs_the_calls);
    tcase_add_test(tc, wakeup_from_a_handler_on_the_loop_thread);
    tcase_add_test(tc, wakeup_keeps_errno_when_the_counter_is_full);
    suite_add_tcase(s, tc);

    tcase_set_timeout(wk, 60);
    tcase_add_loop_test(wk, timer_added_wakes_the_loop, 0, 2);
    tcase_add_loop_test(wk, watch_added_wakes_the_loop, 0, 2);
    tcase_add_loop_test(wk, aggregate_fd_follows_other_threads, 0, 2);
    tcase_add_loop_test(wk, watch_added_during_the_wait_waits_a_turn, 0, 2);
    tcase_add_test(wk, sleeping_waiter_leaves_at_its_deadline);
    suite_add_tcase(s, wk);
    return s;
}

int main(void)
{
    return tu_run_suite(schedule_suite());
}
