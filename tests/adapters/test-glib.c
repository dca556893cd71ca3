/*
 * test-glib.c - the push scenario inside a real GLib GMainContext (a
 * fresh one, never the default context).
 *
 * GLib has no call that lists a context's sources or fds, but it says
 * what it would poll (glib-probe.h): every fd of every source, and a
 * timeout while some source has a ready time.  In a context that holds
 * nothing but our GSource that is our count; and a fresh
 * context numbers its sources from 1, so g_main_context_find_source_by_id()
 * over the first ids tells whether any source is left at all.
 */
#include "scenario.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "glib-probe.h"
#include "osevent-glib.h"

static void *glib_new(void)
{
    return g_main_context_new();
}

static void glib_free(void *loop)
{
    g_main_context_unref(loop);
}

static int glib_attach(osev_ctx *ctx, void *loop)
{
    return osev_glib_attach(ctx, loop);
}

static void glib_iterate(void *loop)
{
    g_main_context_iteration(loop, TRUE);
}

/* Our fd registrations and our timeout (a ready time is set). */
static int glib_count(void *loop)
{
    return glib_probe_count(loop);
}

static bool glib_any_source(GMainContext *gctx)
{
    guint id;

    for (id = 1; id <= 1000; id++)
        if (g_main_context_find_source_by_id(gctx, id))
            return true;
    return false;
}

static bool glib_empty(void *loop)
{
    return glib_count(loop) == 0 && !glib_any_source(loop) &&
           !g_main_context_pending(loop);
}

static void glib_settle(void *loop)
{
    glib_probe_settle(loop);
}

static bool glib_woken(void *loop)
{
    return glib_probe_any_ready(loop);
}

/* Nothing to call: a GMainContext has no fork hook.  A child that runs
 * its copy writes GLib's wakeup fd, the parent's too (GLib destroys the
 * abandoned source there, and a destroy wakes the context): GLib's
 * doing, which the scenario lets pass for a child that goes on. */
static void glib_child_reinit(void *loop)
{
    (void)loop;
}

/* ---- GLib-specific: what the scenario does not reach ---- */

static void count_cb(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now;
    ++*(int *)arg;
}

static void count_fd(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)revents;
    tu_drain(fd);
    ++*(int *)arg;
}

/* The poll records @gctx holds (its own wakeup fd among them), however
 * many: g_main_context_query() tells the number needed even when the
 * array is too short. */
static int glib_records(GMainContext *gctx)
{
    gint prio, timeout, n;

    ck_assert(g_main_context_acquire(gctx));
    g_main_context_prepare(gctx, &prio);
    n = g_main_context_query(gctx, G_MAXINT, &timeout, NULL, 0);
    g_main_context_release(gctx);
    return n;
}

/* GLib's own wakeup fd: the one record of a context with no source. */
static int glib_wakeup_fd(GMainContext *gctx)
{
    GPollFD fds[4];
    gint prio, timeout, n;

    ck_assert(g_main_context_acquire(gctx));
    g_main_context_prepare(gctx, &prio);
    n = g_main_context_query(gctx, G_MAXINT, &timeout, fds,
                             G_N_ELEMENTS(fds));
    g_main_context_release(gctx);
    ck_assert_int_eq(n, 1);
    return fds[0].fd;
}

/* How many times GLib's wakeup fd (a non-blocking eventfd) was written
 * since the last call: reading it takes the count and resets it. */
static uint64_t wakeups_taken(int wakeup_fd)
{
    uint64_t n;

    if (read(wakeup_fd, &n, sizeof n) != (ssize_t)sizeof n) {
        ck_assert_int_eq(errno, EAGAIN);
        return 0;
    }
    return n;
}

/* Room for @nfds more fds: the soft limit raised to the hard one.
 * Returns how many of them fit. */
static int fd_room(int nfds)
{
    struct rlimit rl;
    int room;

    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    room = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)INT_MAX
               ? INT_MAX
               : (int)rl.rlim_cur - tu_count_fds() - 64;
    return room < nfds ? room : nfds;
}

/* @npairs socketpairs, both ends watched for reading by count_fd. */
struct pairs {
    int n;
    int (*sv)[2];
    osev_fd **w;
};

static void pairs_open(struct pairs *P, osev_ctx *ctx, int npairs,
                       int *calls)
{
    P->n = npairs;
    P->sv = calloc((size_t)npairs, sizeof *P->sv);
    P->w = calloc((size_t)npairs * 2, sizeof *P->w);
    ck_assert(P->sv && P->w);
    for (int i = 0; i < npairs; i++) {
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
                                                 SOCK_CLOEXEC,
                                    0, P->sv[i]),
                         0);
        for (int j = 0; j < 2; j++)
            ck_assert_osev_ok(osev_fd_add(ctx, P->sv[i][j], POLLIN, count_fd,
                                          calls, &P->w[2 * i + j]));
    }
}

static void pairs_close(struct pairs *P)
{
    for (int i = 0; i < P->n; i++) {
        osev_fd_remove(P->w[2 * i]);
        osev_fd_remove(P->w[2 * i + 1]);
        close(P->sv[i][0]), close(P->sv[i][1]);
    }
    free(P->sv);
    free(P->w);
}

/* The poll records a GLib context holds for an attached osevent context
 * watching @nfds fds (both ends of nfds / 2 socketpairs). */
static int records_for(int nfds)
{
    GMainContext *gctx = g_main_context_new();
    osev_ctx *ctx = tu_ctx_new();
    struct pairs P;
    int calls = 0, n;

    pairs_open(&P, ctx, nfds / 2, &calls);
    ck_assert_osev_ok(osev_glib_attach(ctx, gctx));
    n = glib_records(gctx);
    pairs_close(&P);
    osev_ctx_free(ctx);
    ck_assert(glib_empty(gctx));
    g_main_context_unref(gctx);
    return n;
}

/* GLib holds one record of ours, the aggregate fd, however many fds the
 * context watches: what GLib copies, polls and scans on each turn does
 * not grow with them. */
START_TEST(one_poll_record_whatever_the_fds)
{
    int big = fd_room(1000);

    ck_assert_int_ge(big, 100);
    ck_assert_int_eq(records_for(10), 2); /* GLib's wakeup fd, ours */
    ck_assert_int_eq(records_for(big), 2);
}
END_TEST

/*
 * A GLib turn that dispatches osevent writes GLib's wakeup fd not once,
 * with 1000 fds watched: no poll record leaves and comes back around a
 * dispatch (a source GLib blocks while it dispatches costs two writes
 * per record, and a turn more), and nothing else of ours wakes GLib.
 * Each turn runs every callback that is ready.
 */
START_TEST(dispatch_never_wakes_glib)
{
    GMainContext *gctx = g_main_context_new();
    int wakeup_fd = glib_wakeup_fd(gctx);
    osev_ctx *ctx = tu_ctx_new();
    struct pairs P;
    int calls = 0, npairs = fd_room(1000) / 2;

    ck_assert_int_ge(npairs, 50);
    pairs_open(&P, ctx, npairs, &calls);
    ck_assert_osev_ok(osev_glib_attach(ctx, gctx));
    glib_probe_settle(gctx);
    (void)wakeups_taken(wakeup_fd);
    for (int round = 1; round <= 5; round++) {
        for (int i = 0; i < 10; i++)
            tu_write_byte(P.sv[i * (npairs / 10)][round & 1]);
        ck_assert(g_main_context_iteration(gctx, TRUE));
        ck_assert_int_eq(calls, 10 * round);
        ck_assert_uint_eq(wakeups_taken(wakeup_fd), 0);
    }
    ck_assert(!g_main_context_iteration(gctx, FALSE));
    pairs_close(&P);
    osev_ctx_free(ctx);
    ck_assert(glib_empty(gctx));
    g_main_context_unref(gctx);
}
END_TEST

/* A timer needs no GLib timeout: the aggregate fd's timerfd wakes GLib,
 * on time, and GLib's record count stays one of ours, armed or not. */
START_TEST(timer_needs_no_glib_timeout)
{
    GMainContext *gctx = g_main_context_new();
    osev_ctx *ctx = tu_ctx_new();
    osev_time due;
    osev_timer *t;
    int calls = 0;

    ck_assert_osev_ok(osev_glib_attach(ctx, gctx));
    ck_assert_osev_ok(
        osev_timer_add(ctx, osev_now() + osev_s(60), count_cb, &calls, &t));
    ck_assert_int_eq(glib_count(gctx), 1); /* the aggregate fd, no timeout */
    due = osev_now() + osev_ms(20);
    ck_assert_osev_ok(osev_timer_set(t, due));
    ck_assert_int_eq(glib_count(gctx), 1);
    while (calls == 0)
        g_main_context_iteration(gctx, TRUE);
    ck_assert_int_ge(osev_now(), due);
    osev_timer_remove(t);
    ck_assert_int_eq(glib_count(gctx), 1);
    osev_ctx_free(ctx);
    ck_assert(glib_empty(gctx));
    g_main_context_unref(gctx);
}
END_TEST

/* One set of hooks per context: GLib refuses a context another adapter
 * (or application) holds, and whatever comes after GLib is refused. */
static int nop_register(void *user, int fd, void **reg, short ev, void *tok)
{
    (void)user, (void)fd, (void)reg, (void)ev, (void)tok;
    return 0;
}
static int nop_modify(void *user, int fd, void **reg, short ev)
{
    (void)user, (void)fd, (void)reg, (void)ev;
    return 0;
}
static void nop_deregister(void *user, int fd, void *reg)
{
    (void)user, (void)fd, (void)reg;
}
static int nop_tmo_register(void *user, void **reg, osev_time d, void *tok)
{
    (void)user, (void)reg, (void)d, (void)tok;
    return 0;
}
static int nop_tmo_modify(void *user, void **reg, osev_time d)
{
    (void)user, (void)reg, (void)d;
    return 0;
}
static void nop_tmo_deregister(void *user, void *reg)
{
    (void)user, (void)reg;
}

static const struct osev_hooks nop_hooks = {
    .fd_register = nop_register,
    .fd_modify = nop_modify,
    .fd_deregister = nop_deregister,
    .timeout_register = nop_tmo_register,
    .timeout_modify = nop_tmo_modify,
    .timeout_deregister = nop_tmo_deregister,
};

START_TEST(one_set_of_hooks)
{
    GMainContext *gctx = g_main_context_new(), *other = g_main_context_new();
    osev_ctx *ctx = tu_ctx_new();

    ck_assert_osev_ok(osev_set_hooks(ctx, &nop_hooks, sizeof nop_hooks, NULL));
    ck_assert_osev_err(osev_glib_attach(ctx, gctx), -EBUSY);
    ck_assert(glib_empty(gctx));
    ck_assert_osev_ok(osev_set_hooks(ctx, NULL, 0, NULL));

    ck_assert_osev_ok(osev_glib_attach(ctx, gctx));
    ck_assert_osev_err(osev_glib_attach(ctx, other), -EBUSY);
    ck_assert_osev_err(osev_set_hooks(ctx, &nop_hooks, sizeof nop_hooks, NULL),
                       -EBUSY);
    ck_assert(glib_empty(other));
    ck_assert_int_eq(glib_count(gctx), 1);
    osev_glib_detach(ctx);
    ck_assert(glib_empty(gctx));
    osev_ctx_free(ctx);
    g_main_context_unref(gctx);
    g_main_context_unref(other);
}
END_TEST

/* A dispatch that runs nothing (a wakeup only) leaves nothing readable:
 * the next turn finds nothing to do. */
START_TEST(empty_dispatch_does_not_spin)
{
    GMainContext *gctx = g_main_context_new();
    osev_ctx *ctx = tu_ctx_new();

    ck_assert_osev_ok(osev_glib_attach(ctx, gctx));
    glib_probe_settle(gctx);
    osev_wakeup(ctx);
    ck_assert(g_main_context_iteration(gctx, FALSE));
    ck_assert(!g_main_context_iteration(gctx, FALSE));
    osev_ctx_free(ctx);
    ck_assert(glib_empty(gctx));
    g_main_context_unref(gctx);
}
END_TEST

/* Another thread dispatches: its callback holds the context busy, with
 * its fd still readable, until told to go on. */
struct busy {
    osev_ctx *ctx;
    int p[2];
    int in_cb, go, calls; /* atomic */
};

static void busy_cb(osev_fd *w, int fd, short revents, void *arg)
{
    struct busy *B = arg;

    (void)w, (void)revents;
    __atomic_store_n(&B->in_cb, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&B->go, __ATOMIC_ACQUIRE))
        usleep(1000);
    tu_drain(fd);
    __atomic_add_fetch(&B->calls, 1, __ATOMIC_RELEASE);
}

static void *busy_thread(void *arg)
{
    struct busy *B = arg;

    ck_assert_int_ge(osev_loop_once(B->ctx, osev_now() + osev_s(10)), 1);
    return NULL;
}

/*
 * While another thread dispatches, osev_dispatch() refuses (-EBUSY) and
 * the aggregate fd stays readable: GLib must not spin on it.  Twenty GLib
 * turns then take some milliseconds (the adapter backs off), where a
 * spinning adapter takes microseconds.  Once the other thread is done,
 * GLib serves the context again.
 */
START_TEST(busy_elsewhere_does_not_spin)
{
    GMainContext *gctx = g_main_context_new();
    struct busy B = { .ctx = tu_ctx_new() };
    osev_time start;
    pthread_t th;
    osev_fd *w;

    tu_pipe(B.p);
    ck_assert_osev_ok(osev_fd_add(B.ctx, B.p[0], POLLIN, busy_cb, &B, &w));
    ck_assert_osev_ok(osev_glib_attach(B.ctx, gctx));
    glib_probe_settle(gctx);
    tu_write_byte(B.p[1]);
    ck_assert_int_eq(pthread_create(&th, NULL, busy_thread, &B), 0);
    while (!__atomic_load_n(&B.in_cb, __ATOMIC_ACQUIRE))
        usleep(1000);
    start = osev_now();
    for (int i = 0; i < 20; i++)
        g_main_context_iteration(gctx, TRUE);
    ck_assert_int_ge(osev_now() - start, osev_ms(10));
    ck_assert_int_eq(__atomic_load_n(&B.calls, __ATOMIC_ACQUIRE), 0);
    __atomic_store_n(&B.go, 1, __ATOMIC_RELEASE);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(B.calls, 1);

    tu_write_byte(B.p[1]);
    while (__atomic_load_n(&B.calls, __ATOMIC_ACQUIRE) < 2)
        g_main_context_iteration(gctx, TRUE);
    osev_fd_remove(w);
    osev_ctx_free(B.ctx);
    ck_assert(glib_empty(gctx));
    g_main_context_unref(gctx);
    close(B.p[0]), close(B.p[1]);
}
END_TEST

/* A callback that runs a nested GLib loop: osevent cannot be served
 * there (an fd made ready meanwhile waits), and the nested loop does not
 * spin on the aggregate fd; the outer loop serves it afterwards. */
struct nest {
    GMainContext *gctx;
    int p[2], q[2];
    int p_calls, q_calls, nested_busy;
};

static void nest_q_cb(osev_fd *w, int fd, short revents, void *arg)
{
    struct nest *N = arg;

    (void)w, (void)revents;
    tu_drain(fd);
    N->q_calls++;
}

static void nest_p_cb(osev_fd *w, int fd, short revents, void *arg)
{
    struct nest *N = arg;

    (void)w, (void)revents;
    tu_drain(fd);
    N->p_calls++;
    tu_write_byte(N->q[1]);
    for (int i = 0; i < 10; i++)
        N->nested_busy += g_main_context_iteration(N->gctx, FALSE);
}

START_TEST(nested_loop_does_not_spin)
{
    struct nest N = { .gctx = g_main_context_new() };
    osev_ctx *ctx = tu_ctx_new();
    osev_fd *wp, *wq;

    tu_pipe(N.p);
    tu_pipe(N.q);
    ck_assert_osev_ok(osev_fd_add(ctx, N.p[0], POLLIN, nest_p_cb, &N, &wp));
    ck_assert_osev_ok(osev_fd_add(ctx, N.q[0], POLLIN, nest_q_cb, &N, &wq));
    ck_assert_osev_ok(osev_glib_attach(ctx, N.gctx));
    glib_probe_settle(N.gctx);
    tu_write_byte(N.p[1]);
    while (N.p_calls == 0)
        g_main_context_iteration(N.gctx, TRUE);
    ck_assert_int_eq(N.q_calls, 0);
    ck_assert_int_le(N.nested_busy, 1);
    while (N.q_calls == 0)
        g_main_context_iteration(N.gctx, TRUE);
    ck_assert_int_eq(N.p_calls, 1);
    osev_fd_remove(wp);
    osev_fd_remove(wq);
    osev_ctx_free(ctx);
    ck_assert(glib_empty(N.gctx));
    g_main_context_unref(N.gctx);
    close(N.p[0]), close(N.p[1]), close(N.q[0]), close(N.q[1]);
}
END_TEST

struct adder {
    osev_ctx *ctx;
    int fd;
    int calls; /* the loop thread's */
    osev_fd *w;
};

static void *add_fd_thread(void *arg)
{
    struct adder *A = arg;

    ck_assert_osev_ok(osev_fd_add(A->ctx, A->fd, POLLIN, count_fd, &A->calls,
                                  &A->w));
    return NULL;
}

/* A watch added from another thread on an fd already readable wakes GLib
 * (the epoll set holding the aggregate fd gains a ready fd). */
START_TEST(fd_from_other_thread_wakes_glib)
{
    GMainContext *gctx = g_main_context_new();
    struct adder A = { .ctx = tu_ctx_new() };
    int p[2];
    pthread_t th;

    tu_pipe(p);
    tu_write_byte(p[1]);
    A.fd = p[0];
    ck_assert_osev_ok(osev_glib_attach(A.ctx, gctx));
    glib_probe_settle(gctx);
    ck_assert_int_eq(pthread_create(&th, NULL, add_fd_thread, &A), 0);
    while (A.calls == 0)
        g_main_context_iteration(gctx, TRUE);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    osev_fd_remove(A.w);
    osev_ctx_free(A.ctx);
    ck_assert(glib_empty(gctx));
    g_main_context_unref(gctx);
    close(p[0]), close(p[1]);
}
END_TEST

/* In the forked child: after the free, the abandoned GSource polls the
 * wakeup fd the free closed (POLLNVAL, ready on every turn): its first
 * dispatch must let GLib remove it, or the child's copy of the context
 * would spin. */
static int spin_check_in_child(osev_ctx *ctx, GMainContext *gctx)
{
    osev_ctx_free(ctx);
    if (!g_main_context_iteration(gctx, FALSE))
        return 2; /* the source was not even there */
    return g_main_context_iteration(gctx, FALSE) ? 3 : 0;
}

START_TEST(fork_abandoned_source_goes_from_child_copy)
{
    GMainContext *gctx = g_main_context_new();
    osev_ctx *ctx = tu_ctx_new();
    int status;
    pid_t pid;

    ck_assert_osev_ok(osev_glib_attach(ctx, gctx));
    glib_probe_settle(gctx);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(spin_check_in_child(ctx, gctx));
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the forked child failed: status %#x", status);
    osev_ctx_free(ctx);
    ck_assert(glib_empty(gctx));
    g_main_context_unref(gctx);
}
END_TEST

static int glib_extra(void)
{
    Suite *s = suite_create("glib-extra");
    TCase *tc = tcase_create("glib");

    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, one_poll_record_whatever_the_fds);
    tcase_add_test(tc, dispatch_never_wakes_glib);
    tcase_add_test(tc, timer_needs_no_glib_timeout);
    tcase_add_test(tc, one_set_of_hooks);
    tcase_add_test(tc, empty_dispatch_does_not_spin);
    tcase_add_test(tc, busy_elsewhere_does_not_spin);
    tcase_add_test(tc, nested_loop_does_not_spin);
    tcase_add_test(tc, fd_from_other_thread_wakes_glib);
    tcase_add_test(tc, fork_abandoned_source_goes_from_child_copy);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}

int main(void)
{
    static const struct scenario_loop loop = {
        .name = "glib",
        .loop_new = glib_new,
        .loop_free = glib_free,
        .attach = glib_attach,
        .detach = osev_glib_detach,
        .iterate = glib_iterate,
        .foreign_count = glib_count,
        .is_empty = glib_empty,
        .settle = glib_settle,
        .woken = glib_woken,
        .child_reinit = glib_child_reinit,
        .any_thread = true, /* the aggregate fd's timerfd wakes GLib */
        .aggregate_regs = 1, /* GLib polls the aggregate fd, nothing else */
    };

    int rc = scenario_main(&loop);

    return glib_extra() != 0 ? EXIT_FAILURE : rc;
}
