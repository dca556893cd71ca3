/*
 * test-signal.c - signal watches: the header's "Signals and child
 * processes" section, first half.
 *
 * Every test is a loop test over the two signal paths, chosen through the
 * environment before the context adds its first signal watch:
 *
 *   _i even: OSEV_SIGNAL_BACKEND=signalfd, and the test thread blocks the
 *            signals it sends, so they stay pending and reach osevent
 *            through the signalfd (the sd-event way);
 *   _i odd:  OSEV_SIGNAL_BACKEND=pipe, signals unblocked: the forwarding
 *            handler writes them to the self-pipe.
 *
 * Without the Linux APIs there is no signalfd: the even variants still
 * ask for it, leave the signals unblocked as the self-pipe path needs,
 * and show that the request falls back to that path and delivers.
 *
 * Signals are sent to the process with kill(getpid(), ...): on the pipe
 * path the handler has run when kill() returns (the only thread has the
 * signal unblocked), on the signalfd path the signal is pending by then.
 */
#include "testutil.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BOUND osev_s(10)

static sigset_t saved_mask;

/* Whether variant @i reads the signals from a signalfd, so blocks them. */
static bool on_signalfd(int i)
{
    return i % 2 == 0 && TU_LINUX_APIS;
}

/* Choose the path for contexts that add their first signal watch from
 * now on; on the signalfd path block SIGUSR1 and SIGUSR2. */
static void use_path(int i)
{
    sigset_t set;

    setenv("OSEV_SIGNAL_BACKEND", i % 2 ? "pipe" : "signalfd", 1);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    ck_assert_int_eq(pthread_sigmask(on_signalfd(i) ? SIG_BLOCK : SIG_UNBLOCK,
                                     &set, &saved_mask),
                     0);
}

/* Consume what is still pending, then give the mask back, so the next
 * test (CK_FORK=no runs them in one process) starts clean. */
static void done_path(void)
{
    struct timespec zero = { 0, 0 };
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    while (sigtimedwait(&set, NULL, &zero) > 0)
        ;
    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, &saved_mask, NULL), 0);
}

static void send_sig(int signo)
{
    ck_assert_int_eq(kill(getpid(), signo), 0);
}

/* The handler the process has for @signo now. */
static void (*handler_of(int signo))(int)
{
    struct sigaction sa;

    ck_assert_int_eq(sigaction(signo, NULL, &sa), 0);
    return sa.sa_handler;
}

/* ---- recording callbacks ---- */

struct rec {
    osev_signal *s;
    osev_ctx *ctx;
    int calls;
    int signo;           /* of the last call */
    bool remove_self;
    struct rec *remove_other;
};

static void rec_cb(osev_signal *s, int signo, void *arg)
{
    struct rec *r = arg;

    ck_assert_ptr_eq(s, r->s);
    r->calls++;
    r->signo = signo;
    if (r->remove_self)
        osev_signal_remove(s);
    if (r->remove_other) {
        osev_signal_remove(r->remove_other->s);
        r->remove_other->s = NULL;
    }
}

static void watch(osev_ctx *ctx, int signo, struct rec *r)
{
    r->ctx = ctx;
    ck_assert_osev_ok(osev_signal_add(ctx, signo, rec_cb, r, &r->s));
    ck_assert_ptr_nonnull(r->s);
}

/* Drive @ctx with the built-in loop until @r has @calls calls. */
static void loop_until(osev_ctx *ctx, const struct rec *r, int calls)
{
    osev_time deadline = osev_now() + BOUND;

    while (r->calls < calls && osev_now() < deadline)
        ck_assert_int_ge(osev_loop_once(ctx, deadline), -ETIMEDOUT);
    ck_assert_int_eq(r->calls, calls);
}

/* A pass that never blocks, where nothing is ready. */
static void drive_idle(osev_ctx *ctx, int mode)
{
    int r = tu_drive_now(ctx, mode);

    if (r != -ETIMEDOUT) /* osev_loop_once() at deadline 0 */
        tu_check_count(r, 0);
}

/* ---- delivery ---- */

struct kicker {
    pid_t tid;
    pthread_t thread;
};

/* Once the loop's thread is blocked, send it SIGUSR1. */
static void *kick_blocked(void *arg)
{
    struct kicker *k = arg;

    tu_wait_until_polling(k->tid, osev_now() + BOUND);
    ck_assert_int_eq(pthread_kill(k->thread, SIGUSR1), 0);
    return NULL;
}

/* A signal that interrupts the built-in loop's wait is served by the same
 * osev_loop_once() call, not by the next one. */
START_TEST(interrupting_signal_served_in_same_turn)
{
    struct rec r = { 0 };
    struct kicker k = { tu_gettid(), pthread_self() };
    osev_ctx *ctx;
    pthread_t th;

    use_path(_i);
    ctx = tu_ctx_new();
    watch(ctx, SIGUSR1, &r);
    ck_assert_int_eq(pthread_create(&th, NULL, kick_blocked, &k), 0);
    ck_assert_int_ge(osev_loop_once(ctx, osev_now() + BOUND), 1);
    ck_assert_int_eq(r.calls, 1);
    pthread_join(th, NULL);
    osev_ctx_free(ctx);
    done_path();
}
END_TEST

/* Once the loop's thread is blocked, send SIGUSR1 to the process from a
 * thread that blocks it, as another process would: the loop's thread,
 * which leaves it unblocked, runs the handler. */
static void *kill_process_when_blocked(void *arg)
{
    struct kicker *k = arg;
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    tu_wait_until_polling(k->tid, osev_now() + BOUND);
    ck_assert_int_eq(kill(getpid(), SIGUSR1), 0);
    return NULL;
}

/* An unblocked signal sent to the process, on either path: served by the
 * osev_loop_once() call it interrupts, which returns 1, not 0. */
START_TEST(unblocked_process_signal_served_in_same_turn)
{
    struct rec r = { 0 };
    struct kicker k = { tu_gettid(), pthread_self() };
    sigset_t set, old;
    osev_ctx *ctx;
    pthread_t th;

    setenv("OSEV_SIGNAL_BACKEND", _i ? "pipe" : "signalfd", 1);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    ck_assert_int_eq(pthread_sigmask(SIG_UNBLOCK, &set, &old), 0);
    ctx = tu_ctx_new();
    watch(ctx, SIGUSR1, &r);
    ck_assert_int_eq(pthread_create(&th, NULL, kill_process_when_blocked, &k),
                     0);
    ck_assert_int_eq(osev_loop_once(ctx, osev_now() + BOUND), 1);
    ck_assert_int_eq(r.calls, 1);
    pthread_join(th, NULL);
    osev_ctx_free(ctx);
    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
}
END_TEST

START_TEST(delivered_in_each_mode)
{
    int mode = _i / 2;
    osev_ctx *ctx;
    struct rec r = { 0 };

    use_path(_i);
    ctx = tu_ctx_new();
    watch(ctx, SIGUSR1, &r);
    /* nothing yet: a pass that never blocks runs nothing */
    drive_idle(ctx, mode);
    ck_assert_int_eq(r.calls, 0);

    send_sig(SIGUSR1);
    tu_check_count(tu_drive(ctx, mode), 1);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(r.signo, SIGUSR1);

    /* and again: nothing is left over from the first */
    drive_idle(ctx, mode);
    send_sig(SIGUSR1);
    tu_check_count(tu_drive(ctx, mode), 1);
    ck_assert_int_eq(r.calls, 2);

    osev_signal_remove(r.s);
    osev_ctx_free(ctx);
    done_path();
}
END_TEST

/* A minimal foreign loop: the push-mode hooks hold fds in an array that
 * p_turn() polls, reporting back with osev_occurred_fd(). */
#define MAXREG 16

static struct preg {
    bool live;
    int fd;
    short events;
    void *tok;
} P[MAXREG];
static osev_ctx *P_ctx;

static int p_reg(void *user, int fd, void **out, short events, void *tok)
{
    (void)user;
    for (int i = 0; i < MAXREG; i++)
        if (!P[i].live) {
            P[i] = (struct preg){ true, fd, events, tok };
            *out = &P[i];
            return 0;
        }
    return -ENOSPC;
}

static int p_mod(void *user, int fd, void **io, short events)
{
    (void)user, (void)fd;
    ((struct preg *)*io)->events = events;
    return 0;
}

static void p_dereg(void *user, int fd, void *reg)
{
    (void)user, (void)fd;
    ((struct preg *)reg)->live = false;
}

static int p_treg(void *user, void **out, osev_time deadline, void *tok)
{
    (void)user, (void)deadline, (void)tok;
    *out = P;
    return 0;
}

static int p_tmod(void *user, void **io, osev_time deadline)
{
    (void)user, (void)io, (void)deadline;
    return 0;
}

static void p_tdereg(void *user, void *reg)
{
    (void)user, (void)reg;
}

static const struct osev_hooks p_hooks = {
    .fd_register = p_reg,
    .fd_modify = p_mod,
    .fd_deregister = p_dereg,
    .timeout_register = p_treg,
    .timeout_modify = p_tmod,
    .timeout_deregister = p_tdereg,
};

static void p_turn(int ms)
{
    struct pollfd p[MAXREG];
    struct preg copy[MAXREG];
    int n = 0;

    for (int i = 0; i < MAXREG; i++)
        if (P[i].live) {
            copy[n] = P[i];
            p[n++] = (struct pollfd){ P[i].fd, P[i].events, 0 };
        }
    ck_assert_int_ge(poll(p, (nfds_t)n, ms), 0);
    for (int i = 0; i < n; i++)
        if (p[i].revents)
            osev_occurred_fd(P_ctx, copy[i].tok, copy[i].fd, copy[i].events,
                             p[i].revents);
}

START_TEST(delivered_in_push_mode)
{
    struct rec r = { 0 };
    osev_time deadline;

    use_path(_i);
    memset(P, 0, sizeof P);
    P_ctx = tu_ctx_new();
    ck_assert_osev_ok(osev_set_hooks(P_ctx, &p_hooks, sizeof p_hooks, NULL));
    watch(P_ctx, SIGUSR1, &r);
    send_sig(SIGUSR1);
    deadline = osev_now() + BOUND;
    while (r.calls == 0 && osev_now() < deadline)
        p_turn(1000);
    ck_assert_int_eq(r.calls, 1);
    /* the foreign loop holds the watch's fds and drops them with it */
    osev_signal_remove(r.s);
    p_turn(0); /* the release point */
    osev_ctx_free(P_ctx);
    for (int i = 0; i < MAXREG; i++)
        ck_assert(!P[i].live);
    done_path();
}
END_TEST

START_TEST(arrivals_before_dispatch_coalesce)
{
    osev_ctx *ctx;
    struct rec r = { 0 };

    use_path(_i);
    ctx = tu_ctx_new();
    watch(ctx, SIGUSR1, &r);
    /* nobody polls while three arrive: the next dispatch runs it once */
    send_sig(SIGUSR1);
    send_sig(SIGUSR1);
    send_sig(SIGUSR1);
    ck_assert_int_eq(r.calls, 0);
    ck_assert_int_eq(osev_dispatch(ctx), 1);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(osev_dispatch(ctx), 0);
    ck_assert_int_eq(r.calls, 1);
    osev_ctx_free(ctx);
    done_path();
}
END_TEST

/*
 * On the self-pipe path (the only one without the Linux APIs) a signal
 * that every thread blocks stays pending and is not delivered, as the
 * header warns; once a thread unblocks it, the forwarding handler runs
 * (before pthread_sigmask() returns) and the next dispatch delivers it.
 */
START_TEST(blocked_signal_waits_on_the_pipe_path)
{
    struct rec r = { 0 };
    sigset_t set, old, pending;
    osev_ctx *ctx;

    setenv("OSEV_SIGNAL_BACKEND", "pipe", 1);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &set, &old), 0);
    ctx = tu_ctx_new();
    watch(ctx, SIGUSR1, &r);
    send_sig(SIGUSR1);
    ck_assert_int_eq(osev_dispatch(ctx), 0);
    ck_assert_int_eq(r.calls, 0);
    ck_assert_int_eq(sigpending(&pending), 0);
    ck_assert(sigismember(&pending, SIGUSR1));

    ck_assert_int_eq(pthread_sigmask(SIG_UNBLOCK, &set, NULL), 0);
    ck_assert_int_eq(sigpending(&pending), 0);
    ck_assert(!sigismember(&pending, SIGUSR1));
    ck_assert_int_eq(osev_dispatch(ctx), 1);
    ck_assert_int_eq(r.calls, 1);
    osev_ctx_free(ctx);
    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
}
END_TEST

START_TEST(other_signal_not_delivered)
{
    osev_ctx *ctx;
    struct rec r1 = { 0 }, r2 = { 0 };

    use_path(_i);
    ctx = tu_ctx_new();
    watch(ctx, SIGUSR1, &r1);
    watch(ctx, SIGUSR2, &r2);
    send_sig(SIGUSR2);
    ck_assert_int_eq(osev_dispatch(ctx), 1);
    ck_assert_int_eq(r1.calls, 0);
    ck_assert_int_eq(r2.calls, 1);
    ck_assert_int_eq(r2.signo, SIGUSR2);
    send_sig(SIGUSR1);
    send_sig(SIGUSR2);
    ck_assert_int_eq(osev_dispatch(ctx), 2);
    ck_assert_int_eq(r1.calls, 1);
    ck_assert_int_eq(r2.calls, 2);
    osev_ctx_free(ctx);
    done_path();
}
END_TEST

/* ---- several watches, several contexts ---- */

START_TEST(two_contexts_both_get_it)
{
    osev_ctx *a, *b;
    struct rec ra = { 0 }, rb1 = { 0 }, rb2 = { 0 }, rb_other = { 0 };

    use_path(_i);
    a = tu_ctx_new();
    b = tu_ctx_new();
    watch(a, SIGUSR1, &ra);
    watch(b, SIGUSR1, &rb1);
    watch(b, SIGUSR1, &rb2); /* two watches in one context */
    watch(b, SIGUSR2, &rb_other);

    /* a reads it first: b, not polled meanwhile, still gets it */
    send_sig(SIGUSR1);
    ck_assert_int_eq(osev_dispatch(a), 1);
    ck_assert_int_eq(ra.calls, 1);
    ck_assert_int_eq(rb1.calls + rb2.calls, 0);
    ck_assert_int_eq(osev_loop_once(b, osev_now() + BOUND), 2);
    ck_assert_int_eq(rb1.calls, 1);
    ck_assert_int_eq(rb2.calls, 1);

    /* b reads it first: a gets it too */
    send_sig(SIGUSR1);
    ck_assert_int_eq(osev_loop_once(b, osev_now() + BOUND), 2);
    ck_assert_int_eq(osev_loop_once(a, osev_now() + BOUND), 1);
    ck_assert_int_eq(ra.calls, 2);
    ck_assert_int_eq(rb1.calls, 2);
    ck_assert_int_eq(rb2.calls, 2);
    ck_assert_int_eq(rb_other.calls, 0);

    /* once a's watch is gone, b alone still gets it */
    osev_signal_remove(ra.s);
    send_sig(SIGUSR1);
    ck_assert_int_eq(osev_dispatch(a), 0);
    ck_assert_int_eq(osev_loop_once(b, osev_now() + BOUND), 2);
    ck_assert_int_eq(ra.calls, 2);
    ck_assert_int_eq(rb1.calls, 3);

    osev_ctx_free(a);
    osev_ctx_free(b);
    done_path();
}
END_TEST

struct thr {
    osev_ctx *ctx;
    struct rec r;
    int ready[2];       /* written once the watch is in place */
};

static void *thread_loop(void *arg)
{
    struct thr *t = arg;
    osev_time deadline = osev_now() + BOUND;

    t->ctx = tu_ctx_new();
    watch(t->ctx, SIGUSR1, &t->r);
    tu_write_byte(t->ready[1]);
    while (t->r.calls == 0 && osev_now() < deadline)
        if (osev_loop_once(t->ctx, deadline) < 0)
            break;
    osev_ctx_free(t->ctx);
    return NULL;
}

static void wait_readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };

    ck_assert_int_eq(poll(&p, 1, 10000), 1);
}

/* Two threads, each looping on its own context: one signal wakes both. */
START_TEST(two_threads_both_get_it)
{
    struct thr t[2];
    pthread_t th[2];

    use_path(_i); /* the threads inherit the mask */
    memset(t, 0, sizeof t);
    for (int i = 0; i < 2; i++) {
        tu_pipe(t[i].ready);
        ck_assert_int_eq(pthread_create(&th[i], NULL, thread_loop, &t[i]),
                         0);
    }
    for (int i = 0; i < 2; i++)
        wait_readable(t[i].ready[0]);
    send_sig(SIGUSR1);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(t[i].r.calls, 1);
        close(t[i].ready[0]), close(t[i].ready[1]);
    }
    done_path();
}
END_TEST

/* ---- the application's disposition and mask ---- */

static volatile sig_atomic_t app_calls;

static void app_handler(int signo)
{
    (void)signo;
    app_calls++;
}

static bool same_mask(const sigset_t *a, const sigset_t *b)
{
    for (int signo = 1; signo < NSIG; signo++)
        if (sigismember(a, signo) != sigismember(b, signo))
            return false;
    return true;
}

START_TEST(disposition_and_mask_restored)
{
    struct sigaction app = { .sa_handler = app_handler,
                             .sa_flags = SA_NODEFER }, now;
    sigset_t before, after;
    osev_ctx *a, *b;
    struct rec ra = { 0 }, rb = { 0 };

    use_path(_i);
    sigemptyset(&app.sa_mask);
    sigaddset(&app.sa_mask, SIGTERM);
    ck_assert_int_eq(sigaction(SIGUSR1, &app, NULL), 0);
    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, NULL, &before), 0);
    app_calls = 0;

    a = tu_ctx_new();
    b = tu_ctx_new();
    watch(a, SIGUSR1, &ra);
    watch(b, SIGUSR1, &rb);
    /* osevent owns the disposition now: the app's handler does not run */
    ck_assert_ptr_ne(handler_of(SIGUSR1), app_handler);
    send_sig(SIGUSR1);
    loop_until(a, &ra, 1);
    ck_assert_int_eq(app_calls, 0);
    /* and the mask is untouched */
    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, NULL, &after), 0);
    ck_assert(same_mask(&before, &after));

    /* not the last watch: still osevent's */
    osev_signal_remove(ra.s);
    ck_assert_ptr_ne(handler_of(SIGUSR1), app_handler);
    /* the last one: the application's, flags and mask included */
    osev_signal_remove(rb.s);
    ck_assert_int_eq(sigaction(SIGUSR1, NULL, &now), 0);
    ck_assert_ptr_eq(now.sa_handler, app_handler);
    ck_assert(now.sa_flags & SA_NODEFER);
    ck_assert(sigismember(&now.sa_mask, SIGTERM));
    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, NULL, &after), 0);
    ck_assert(same_mask(&before, &after));

    /* and it works: the application's handler gets the next one (on
     * the signalfd path once the application unblocks it) */
    send_sig(SIGUSR1);
    if (on_signalfd(_i)) {
        sigset_t set;

        ck_assert_int_eq(app_calls, 0); /* pending: the app blocks it */
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        ck_assert_int_eq(pthread_sigmask(SIG_UNBLOCK, &set, NULL), 0);
    }
    ck_assert_int_eq(app_calls, 1);

    /* a default disposition comes back as default */
    ck_assert_ptr_eq(handler_of(SIGUSR2), SIG_DFL);
    watch(a, SIGUSR2, &ra);
    ck_assert_ptr_ne(handler_of(SIGUSR2), SIG_DFL);
    osev_signal_remove(ra.s);
    ck_assert_ptr_eq(handler_of(SIGUSR2), SIG_DFL);

    osev_ctx_free(a);
    osev_ctx_free(b);
    signal(SIGUSR1, SIG_DFL);
    done_path();
}
END_TEST

START_TEST(replaced_disposition_left_alone)
{
    osev_ctx *ctx;
    struct rec r = { 0 };

    use_path(_i);
    ctx = tu_ctx_new();
    watch(ctx, SIGUSR1, &r);
    /* the application takes the signal back while osevent watches it */
    ck_assert_ptr_ne(signal(SIGUSR1, app_handler), SIG_ERR);
    osev_signal_remove(r.s);
    ck_assert_ptr_eq(handler_of(SIGUSR1), app_handler);
    osev_ctx_free(ctx);
    signal(SIGUSR1, SIG_DFL);
    done_path();
}
END_TEST

START_TEST(ctx_free_restores_and_closes)
{
    int fds_before = tu_count_fds();
    osev_ctx *a, *b;
    struct rec r[4] = { { 0 } };

    use_path(_i);
    a = tu_ctx_new();
    b = tu_ctx_new();
    watch(a, SIGUSR1, &r[0]);
    watch(a, SIGUSR2, &r[1]);
    watch(b, SIGUSR1, &r[2]);
    ck_assert_int_gt(tu_count_fds(), fds_before + 2);
    send_sig(SIGUSR1); /* pending, never dispatched */
    osev_ctx_free(a);
    ck_assert_ptr_eq(handler_of(SIGUSR2), SIG_DFL);
    ck_assert_ptr_ne(handler_of(SIGUSR1), SIG_DFL); /* b still has one */
    /* b gets the one a never dispatched */
    ck_assert_int_eq(osev_loop_once(b, osev_now() + BOUND), 1);
    ck_assert_int_eq(r[2].calls, 1);
    watch(b, SIGUSR2, &r[3]);
    osev_ctx_free(b);
    ck_assert_ptr_eq(handler_of(SIGUSR1), SIG_DFL);
    ck_assert_ptr_eq(handler_of(SIGUSR2), SIG_DFL);
    ck_assert_int_eq(tu_count_fds(), fds_before);
    done_path();
}
END_TEST

/* The fds a context opens for its signal watches (an eventfd each, its
 * dups of the process's sources) close with the watches, not with the
 * context: once the last one is removed and released, the count of open
 * fds is what it was before the first; a new watch then works again. */
START_TEST(last_remove_closes_the_fds)
{
    int fds_start = tu_count_fds(), fds_before;
    struct rec r[2] = { { 0 } };
    osev_ctx *ctx;

    use_path(_i);
    ctx = tu_ctx_new();
    ck_assert_int_ge(osev_dispatch(ctx), 0); /* its epoll set, if any */
    fds_before = tu_count_fds();
    watch(ctx, SIGUSR1, &r[0]);
    watch(ctx, SIGUSR2, &r[1]);
    ck_assert_int_gt(tu_count_fds(), fds_before + 2);
    osev_signal_remove(r[0].s);
    osev_signal_remove(r[1].s);
    ck_assert_int_eq(osev_dispatch(ctx), 0); /* the release point */
    ck_assert_int_eq(tu_count_fds(), fds_before);
    watch(ctx, SIGUSR1, &r[0]);
    send_sig(SIGUSR1);
    loop_until(ctx, &r[0], 1);
    osev_ctx_free(ctx);
    ck_assert_int_eq(tu_count_fds(), fds_start);
    done_path();
}
END_TEST

/* ---- removal ---- */

START_TEST(remove_from_own_callback)
{
    osev_ctx *ctx;
    struct rec r = { .remove_self = true };

    use_path(_i);
    ctx = tu_ctx_new();
    watch(ctx, SIGUSR1, &r);
    send_sig(SIGUSR1);
    ck_assert_int_eq(osev_dispatch(ctx), 1);
    ck_assert_int_eq(r.calls, 1);
    /* the last watch: the disposition is back at once */
    ck_assert_ptr_eq(handler_of(SIGUSR1), SIG_DFL);
    ck_assert_int_eq(osev_dispatch(ctx), 0);
    osev_ctx_free(ctx);
    done_path();
}
END_TEST

START_TEST(remove_other_in_same_pass)
{
    osev_ctx *ctx;
    struct rec r1 = { 0 }, r2 = { 0 };

    use_path(_i);
    ctx = tu_ctx_new();
    watch(ctx, SIGUSR1, &r1);
    watch(ctx, SIGUSR1, &r2);
    r1.remove_other = &r2;
    r2.remove_other = &r1;
    send_sig(SIGUSR1);
    /* both ready in one pass; whichever runs first ends the other */
    ck_assert_int_eq(osev_dispatch(ctx), 1);
    ck_assert_int_eq(r1.calls + r2.calls, 1);
    osev_signal_remove(r1.s);
    osev_signal_remove(r2.s);
    osev_ctx_free(ctx);
    done_path();
}
END_TEST

START_TEST(removed_while_pending)
{
    osev_ctx *ctx;
    struct rec r = { 0 }, keep = { 0 };

    use_path(_i);
    ctx = tu_ctx_new();
    watch(ctx, SIGUSR1, &keep); /* keeps the disposition osevent's */
    watch(ctx, SIGUSR1, &r);
    send_sig(SIGUSR1);
    osev_signal_remove(r.s);
    ck_assert_int_eq(osev_dispatch(ctx), 1);
    ck_assert_int_eq(r.calls, 0);
    ck_assert_int_eq(keep.calls, 1);
    osev_signal_remove(NULL);
    osev_ctx_free(ctx);
    done_path();
}
END_TEST

/* ---- errors ---- */

START_TEST(bad_arguments)
{
    static const int bad[] = { 0, -1, NSIG, SIGKILL, SIGSTOP, SIGSEGV,
                               SIGBUS, SIGFPE, SIGILL };
    int fds_before;
    osev_ctx *ctx;
    osev_signal *s = NULL;

    use_path(_i);
    ctx = tu_ctx_new();
    fds_before = tu_count_fds();
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
        ck_assert_osev_err(osev_signal_add(ctx, bad[k], rec_cb, NULL, &s),
                           -EINVAL);
    ck_assert_osev_err(osev_signal_add(NULL, SIGUSR1, rec_cb, NULL, &s),
                       -EINVAL);
    ck_assert_osev_err(osev_signal_add(ctx, SIGUSR1, NULL, NULL, &s),
                       -EINVAL);
    ck_assert_osev_err(osev_signal_add(ctx, SIGUSR1, rec_cb, NULL, NULL),
                       -EINVAL);
    /* one the C library keeps for itself: sigaction refuses it */
    ck_assert_osev_err(osev_signal_add(ctx, SIGRTMIN - 1, rec_cb, NULL, &s),
                       -EINVAL);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(tu_count_fds(), fds_before);
    ck_assert_ptr_eq(handler_of(SIGUSR1), SIG_DFL);
    osev_ctx_free(ctx);
    done_path();
}
END_TEST

START_TEST(allocation_failure_changes_nothing)
{
    struct osev_ctx_opts o = { .size = sizeof o, .realloc_fn = tu_realloc };
    int fds0 = tu_count_fds(), fds_before, failures = 0;
    osev_ctx *ctx;
    struct rec r = { 0 };
    long live;

    use_path(_i);
    tu_alloc_fail_at(-1);
    ck_assert_osev_ok(osev_ctx_new(&o, &ctx));
    ck_assert_int_eq(osev_dispatch(ctx), 0); /* makes the epoll set */
    fds_before = tu_count_fds();
    live = tu_alloc_live();
    for (long k = 0;; k++) {
        int res;

        tu_alloc_fail_at(k);
        res = osev_signal_add(ctx, SIGUSR1, rec_cb, &r, &r.s);
        tu_alloc_fail_at(-1);
        if (res == 0)
            break;
        failures++;
        ck_assert_osev_err(res, -ENOMEM);
        ck_assert_ptr_eq(handler_of(SIGUSR1), SIG_DFL);
        /* what a failed add set up and let go of is gone by the next
         * dispatch point; the per-context part may stay */
        ck_assert_int_eq(osev_dispatch(ctx), 0);
        ck_assert_int_eq(tu_count_fds(), fds_before);
        ck_assert_int_le(tu_alloc_live(), live + 1); /* + the part */
        ck_assert_int_lt(k, 100);
    }
    ck_assert_int_gt(failures, 0);
    send_sig(SIGUSR1);
    ck_assert_int_eq(osev_dispatch(ctx), 1);
    ck_assert_int_eq(r.calls, 1);
    osev_ctx_free(ctx);
    ck_assert_int_eq(tu_alloc_live(), 0);
    ck_assert_int_eq(tu_count_fds(), fds0);
    done_path();
}
END_TEST

static Suite *signal_suite(void)
{
    Suite *s = suite_create("signal");
    TCase *deliver = tcase_create("deliver");
    TCase *several = tcase_create("several");
    TCase *dispo = tcase_create("disposition");
    TCase *removal = tcase_create("removal");
    TCase *errors = tcase_create("errors");

    tcase_add_loop_test(deliver, delivered_in_each_mode, 0,
                        2 * TU_DRIVE_MODES);
    tcase_add_loop_test(deliver, delivered_in_push_mode, 0, 2);
    tcase_add_loop_test(deliver, interrupting_signal_served_in_same_turn, 0,
                        2);
    tcase_add_loop_test(deliver, unblocked_process_signal_served_in_same_turn,
                        0, 2);
    tcase_add_loop_test(deliver, arrivals_before_dispatch_coalesce, 0, 2);
    tcase_add_loop_test(deliver, other_signal_not_delivered, 0, 2);
    tcase_add_test(deliver, blocked_signal_waits_on_the_pipe_path);
    tcase_add_loop_test(several, two_contexts_both_get_it, 0, 2);
    tcase_add_loop_test(several, two_threads_both_get_it, 0, 2);
    tcase_add_loop_test(dispo, disposition_and_mask_restored, 0, 2);
    tcase_add_loop_test(dispo, replaced_disposition_left_alone, 0, 2);
    tcase_add_loop_test(dispo, ctx_free_restores_and_closes, 0, 2);
    tcase_add_loop_test(dispo, last_remove_closes_the_fds, 0, 2);
    tcase_add_loop_test(removal, remove_from_own_callback, 0, 2);
    tcase_add_loop_test(removal, remove_other_in_same_pass, 0, 2);
    tcase_add_loop_test(removal, removed_while_pending, 0, 2);
    tcase_add_loop_test(errors, bad_arguments, 0, 2);
    tcase_add_loop_test(errors, allocation_failure_changes_nothing, 0, 2);
    tcase_set_timeout(deliver, 30);
    tcase_set_timeout(several, 30);
    tcase_set_timeout(dispo, 30);
    tcase_set_timeout(removal, 30);
    tcase_set_timeout(errors, 30);
    suite_add_tcase(s, deliver);
    suite_add_tcase(s, several);
    suite_add_tcase(s, dispo);
    suite_add_tcase(s, removal);
    suite_add_tcase(s, errors);
    return s;
}

int main(void)
{
    return tu_run_suite(signal_suite());
}
