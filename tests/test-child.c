/*
 * test-child.c - child watches: the header's "Signals and child
 * processes" section, second half.
 *
 * Every test is a loop test over the two child paths and, for the SIGCHLD
 * path's sake, the two signal paths (bit 0 and bit 1 of _i):
 *
 *   _i & 1:  OSEV_CHILD_BACKEND=sigchld (else the pidfd path);
 *   _i & 2:  OSEV_SIGNAL_BACKEND=pipe; else signalfd, with SIGCHLD
 *            blocked in the test thread so it stays pending for it.
 *
 * Without the Linux APIs there is neither pidfd nor signalfd: every
 * variant asks as above, leaves SIGCHLD unblocked as the self-pipe path
 * needs, and shows that the requests fall back to the SIGCHLD and
 * self-pipe paths and report the same.
 *
 * Children are forked to wait for a byte on a pipe, then exit with a
 * given code: the test decides when each exits, with no sleeping.
 */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BOUND osev_s(10)
#define NPATHS 4

static sigset_t saved_mask;

static void use_paths(int i)
{
    sigset_t set;

    setenv("OSEV_CHILD_BACKEND", i & 1 ? "sigchld" : "pidfd", 1);
    setenv("OSEV_SIGNAL_BACKEND", i & 2 ? "pipe" : "signalfd", 1);
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    ck_assert_int_eq(pthread_sigmask(i & 2 || !TU_LINUX_APIS ? SIG_UNBLOCK
                                                          : SIG_BLOCK,
                                     &set, &saved_mask),
                     0);
}

static void done_paths(void)
{
    struct timespec zero = { 0, 0 };
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    while (sigtimedwait(&set, NULL, &zero) > 0)
        ;
    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, &saved_mask, NULL), 0);
    ck_assert_ptr_eq(signal(SIGCHLD, SIG_DFL), SIG_DFL); /* given back */
}

/* ---- children that exit when told ---- */

struct kid {
    pid_t pid;
    int go;             /* write a byte: the kid exits */
};

/* A kid that exits with @code once told; a negative code: it is killed
 * by signal -code instead. */
static void spawn(struct kid *k, int code)
{
    int p[2];

    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    k->pid = fork();
    ck_assert_int_ge(k->pid, 0);
    if (k->pid == 0) {
        sigset_t all;
        char c;

        close(p[1]);
        if (read(p[0], &c, 1) < 0)
            _exit(99);
        if (code < 0) {
            sigemptyset(&all);
            sigprocmask(SIG_SETMASK, &all, NULL);
            signal(-code, SIG_DFL);
            raise(-code);
        }
        _exit(code);
    }
    close(p[0]);
    k->go = p[1];
}

static void tell(struct kid *k)
{
    tu_write_byte(k->go);
    close(k->go);
    k->go = -1;
}

/* Wait until @k has exited, without reaping it. */
static void wait_zombie(const struct kid *k)
{
    siginfo_t si;

    memset(&si, 0, sizeof si);
    ck_assert_int_eq(waitid(P_PID, (id_t)k->pid, &si, WEXITED | WNOWAIT), 0);
    ck_assert_int_eq(si.si_pid, k->pid);
}

/* Whether @k is still there to be reaped (a zombie nobody reaped). */
static bool unreaped(const struct kid *k)
{
    siginfo_t si;

    memset(&si, 0, sizeof si);
    return waitid(P_PID, (id_t)k->pid, &si,
                  WEXITED | WNOHANG | WNOWAIT) == 0 &&
           si.si_pid == k->pid;
}

/* ---- recording callbacks ---- */

struct rec {
    osev_child *c;
    pid_t pid;
    int calls;
    int status;
    bool remove_self;
};

static void rec_cb(osev_child *c, pid_t pid, int status, void *arg)
{
    struct rec *r = arg;

    ck_assert_ptr_eq(c, r->c);
    r->calls++;
    r->pid = pid;
    r->status = status;
    if (r->remove_self) {
        osev_child_remove(c);
        r->c = NULL;
    }
}

static void watch(osev_ctx *ctx, const struct kid *k, struct rec *r)
{
    ck_assert_osev_ok(osev_child_add(ctx, k->pid, rec_cb, r, &r->c));
    ck_assert_ptr_nonnull(r->c);
}

static void loop_until(osev_ctx *ctx, const struct rec *r, int calls)
{
    osev_time deadline = osev_now() + BOUND;

    while (r->calls < calls && osev_now() < deadline)
        ck_assert_int_ge(osev_loop_once(ctx, deadline), -ETIMEDOUT);
    ck_assert_int_eq(r->calls, calls);
}

/* osev_loop_once() until a turn runs something; returns its count. */
static int loop_once_some(osev_ctx *ctx)
{
    osev_time deadline = osev_now() + BOUND;
    int r;

    do
        r = osev_loop_once(ctx, deadline);
    while (r == 0 && osev_now() < deadline);
    return r;
}

static void assert_exited(const struct rec *r, const struct kid *k, int code)
{
    ck_assert_int_eq(r->pid, k->pid);
    ck_assert_msg(WIFEXITED(r->status), "status %#x", r->status);
    ck_assert_int_eq(WEXITSTATUS(r->status), code);
}

/* ---- tests ---- */

START_TEST(exit_status_reported)
{
    osev_ctx *ctx;
    struct kid k, killed;
    struct rec r = { 0 }, rk = { 0 };
    int status;

    use_paths(_i);
    ctx = tu_ctx_new();
    spawn(&k, 7);
    spawn(&killed, 0);
    watch(ctx, &k, &r);
    watch(ctx, &killed, &rk);
    ck_assert_int_eq(osev_dispatch(ctx), 0); /* still running */
    tell(&k);
    /* one callback: the count is the application's callbacks (a turn
     * that SIGCHLD's handler interrupted may come first and run none) */
    ck_assert_int_eq(loop_once_some(ctx), 1);
    ck_assert_int_eq(r.calls, 1);
    assert_exited(&r, &k, 7);
    /* reaped: nothing is left for anyone */
    ck_assert_int_eq(waitpid(k.pid, &status, WNOHANG), -1);
    ck_assert_int_eq(errno, ECHILD);

    ck_assert_int_eq(kill(killed.pid, SIGKILL), 0);
    loop_until(ctx, &rk, 1);
    ck_assert(WIFSIGNALED(rk.status));
    ck_assert_int_eq(WTERMSIG(rk.status), SIGKILL);
    close(killed.go);

    /* reported once; the handles stay until removed */
    ck_assert_int_eq(osev_dispatch(ctx), 0);
    ck_assert_int_eq(r.calls, 1);
    osev_child_remove(r.c);
    osev_child_remove(rk.c);
    osev_ctx_free(ctx);
    done_paths();
}
END_TEST

struct teller {
    pid_t tid;
    struct kid *kid;
};

/* Once the loop's thread is blocked, let the kid exit; SIGCHLD then
 * reaches the loop's thread, not this one. */
static void *tell_when_blocked(void *arg)
{
    struct teller *t = arg;
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    tu_wait_until_polling(t->tid, osev_now() + BOUND);
    tell(t->kid);
    return NULL;
}

/* An exit that ends the wait of osev_loop_once() is reported by that
 * call, on every path, SIGCHLD blocked or not (the default signal path
 * with SIGCHLD left unblocked, as most programs leave it, is rows 4-5):
 * it returns 1, not an empty 0. */
START_TEST(exit_served_in_the_turn_it_ends)
{
    struct rec r = { 0 };
    struct kid k;
    struct teller t = { tu_gettid(), &k };
    sigset_t set;
    osev_ctx *ctx;
    pthread_t th;

    use_paths(_i);
    if (_i >= NPATHS) {
        sigemptyset(&set);
        sigaddset(&set, SIGCHLD);
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    }
    ctx = tu_ctx_new();
    spawn(&k, 4);
    watch(ctx, &k, &r);
    ck_assert_int_eq(pthread_create(&th, NULL, tell_when_blocked, &t), 0);
    ck_assert_int_eq(osev_loop_once(ctx, osev_now() + BOUND), 1);
    ck_assert_int_eq(r.calls, 1);
    assert_exited(&r, &k, 4);
    pthread_join(th, NULL);
    osev_child_remove(r.c);
    osev_ctx_free(ctx);
    done_paths();
}
END_TEST

START_TEST(exited_before_add)
{
    osev_ctx *ctx;
    struct kid k;
    struct rec r = { 0 };

    use_paths(_i);
    ctx = tu_ctx_new();
    spawn(&k, 3);
    tell(&k);
    wait_zombie(&k); /* its SIGCHLD came and went before any watch */
    watch(ctx, &k, &r);
    loop_until(ctx, &r, 1);
    assert_exited(&r, &k, 3);
    osev_child_remove(r.c);
    osev_ctx_free(ctx);
    done_paths();
}
END_TEST

/* The application reaps its children by pid while osevent watches
 * others: every status reaches its owner, and a child nobody watches is
 * left for the application.  The unwatched one is the oldest and a zombie
 * throughout, so a reaper of "any child" would take it first. */
START_TEST(application_reaps_its_own)
{
    osev_ctx *ctx;
    struct kid a1, a2, o1, o2, u;
    struct rec r1 = { 0 }, r2 = { 0 };
    int status;

    use_paths(_i);
    ctx = tu_ctx_new();
    spawn(&u, 31);
    spawn(&a1, 11);
    spawn(&a2, 12);
    spawn(&o1, 21);
    spawn(&o2, 22);
    watch(ctx, &o1, &r1);
    watch(ctx, &o2, &r2);

    /* one nobody watches exits: osevent leaves it alone */
    tell(&u);
    wait_zombie(&u);
    ck_assert_int_eq(osev_dispatch(ctx), 0);
    ck_assert(unreaped(&u));

    /* the application reaps one of its own: SIGCHLD reaches osevent */
    tell(&a1);
    ck_assert_int_eq(waitpid(a1.pid, &status, 0), a1.pid);
    ck_assert_int_eq(WEXITSTATUS(status), 11);
    ck_assert_int_eq(osev_dispatch(ctx), 0);

    tell(&o1);
    loop_until(ctx, &r1, 1);
    assert_exited(&r1, &o1, 21);
    ck_assert(unreaped(&u));

    /* both at once */
    tell(&a2);
    tell(&o2);
    ck_assert_int_eq(waitpid(a2.pid, &status, 0), a2.pid);
    ck_assert_int_eq(WEXITSTATUS(status), 12);
    loop_until(ctx, &r2, 1);
    assert_exited(&r2, &o2, 22);

    ck_assert(unreaped(&u));
    ck_assert_int_eq(waitpid(u.pid, &status, 0), u.pid);
    ck_assert_int_eq(WEXITSTATUS(status), 31);
    ck_assert_int_eq(waitpid(-1, &status, WNOHANG), -1); /* none left */
    ck_assert_int_eq(r1.calls, 1);
    osev_ctx_free(ctx);
    done_paths();
}
END_TEST

START_TEST(many_at_once)
{
    enum { N = 16 };
    osev_ctx *ctx;
    struct kid k[N];
    struct rec r[N];
    osev_time deadline;
    int total;

    use_paths(_i);
    ctx = tu_ctx_new();
    memset(r, 0, sizeof r);
    for (int i = 0; i < N; i++) {
        spawn(&k[i], 40 + i);
        watch(ctx, &k[i], &r[i]);
    }
    for (int i = 0; i < N; i++)
        tell(&k[i]);
    /* SIGCHLDs coalesce; every status still arrives, once */
    deadline = osev_now() + BOUND;
    do {
        ck_assert_int_ge(osev_loop_once(ctx, deadline), -ETIMEDOUT);
        total = 0;
        for (int i = 0; i < N; i++)
            total += r[i].calls;
    } while (total < N && osev_now() < deadline);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(r[i].calls, 1);
        assert_exited(&r[i], &k[i], 40 + i);
    }
    osev_ctx_free(ctx);
    done_paths();
}
END_TEST

START_TEST(removed_before_exit_is_not_reaped)
{
    osev_ctx *ctx;
    struct kid k;
    struct rec r = { 0 };
    int status;

    use_paths(_i);
    ctx = tu_ctx_new();
    spawn(&k, 5);
    watch(ctx, &k, &r);
    osev_child_remove(r.c);
    tell(&k);
    wait_zombie(&k);
    ck_assert_int_eq(osev_dispatch(ctx), 0);
    ck_assert_int_eq(r.calls, 0);
    ck_assert(unreaped(&k));
    ck_assert_int_eq(waitpid(k.pid, &status, 0), k.pid);
    ck_assert_int_eq(WEXITSTATUS(status), 5);
    osev_child_remove(NULL);
    osev_ctx_free(ctx);
    done_paths();
}
END_TEST

START_TEST(remove_from_callback)
{
    osev_ctx *ctx;
    struct kid k;
    struct rec r = { .remove_self = true };

    use_paths(_i);
    ctx = tu_ctx_new();
    spawn(&k, 9);
    watch(ctx, &k, &r);
    tell(&k);
    loop_until(ctx, &r, 1);
    assert_exited(&r, &k, 9);
    ck_assert_ptr_null(r.c);
    ck_assert_int_eq(osev_dispatch(ctx), 0);
    osev_ctx_free(ctx);
    done_paths();
}
END_TEST

START_TEST(ctx_free_leaves_child_alone)
{
    int fds_before = tu_count_fds(), status;
    osev_ctx *ctx;
    struct kid k;
    struct rec r = { 0 };

    use_paths(_i);
    spawn(&k, 6);
    ctx = tu_ctx_new();
    watch(ctx, &k, &r);
    osev_ctx_free(ctx);
    ck_assert_int_eq(tu_count_fds(), fds_before + 1); /* k.go */
    tell(&k);
    ck_assert_int_eq(waitpid(k.pid, &status, 0), k.pid);
    ck_assert_int_eq(WEXITSTATUS(status), 6);
    ck_assert_int_eq(r.calls, 0);
    done_paths(); /* SIGCHLD's disposition is back too */
}
END_TEST

START_TEST(two_contexts)
{
    osev_ctx *a, *b;
    struct kid ka, kb;
    struct rec ra = { 0 }, rb = { 0 };

    use_paths(_i);
    a = tu_ctx_new();
    b = tu_ctx_new();
    spawn(&ka, 1);
    spawn(&kb, 2);
    watch(a, &ka, &ra);
    watch(b, &kb, &rb);
    tell(&kb);
    tell(&ka);
    loop_until(a, &ra, 1);
    loop_until(b, &rb, 1);
    assert_exited(&ra, &ka, 1);
    assert_exited(&rb, &kb, 2);
    osev_ctx_free(a);
    osev_ctx_free(b);
    done_paths();
}
END_TEST

/* Watched twice: one watch gets the status, the other -1 ("lost"). */
START_TEST(second_watch_reports_lost)
{
    osev_ctx *ctx;
    struct kid k;
    struct rec r1 = { 0 }, r2 = { 0 };
    osev_time deadline;

    use_paths(_i);
    ctx = tu_ctx_new();
    spawn(&k, 4);
    watch(ctx, &k, &r1);
    watch(ctx, &k, &r2);
    tell(&k);
    deadline = osev_now() + BOUND;
    while (r1.calls + r2.calls < 2 && osev_now() < deadline)
        ck_assert_int_ge(osev_loop_once(ctx, deadline), -ETIMEDOUT);
    ck_assert_int_eq(r1.calls, 1);
    ck_assert_int_eq(r2.calls, 1);
    ck_assert_int_eq(r1.status == -1 ? r2.status : r1.status, 4 << 8);
    ck_assert_int_eq(r1.status == -1 ? r1.status : r2.status, -1);
    osev_ctx_free(ctx);
    done_paths();
}
END_TEST

static int user_sigchld;

static void count_sigchld(osev_signal *s, int signo, void *arg)
{
    (void)s, (void)arg;
    ck_assert_int_eq(signo, SIGCHLD);
    user_sigchld++;
}

/* The application's own SIGCHLD watch and osevent's child watch share
 * the signal: both are served. */
START_TEST(with_an_application_sigchld_watch)
{
    osev_ctx *ctx;
    osev_signal *s;
    struct kid k;
    struct rec r = { 0 };
    struct sigaction sa;
    osev_time deadline;

    use_paths(_i);
    ctx = tu_ctx_new();
    user_sigchld = 0;
    ck_assert_osev_ok(osev_signal_add(ctx, SIGCHLD, count_sigchld, NULL, &s));
    spawn(&k, 8);
    watch(ctx, &k, &r);
    tell(&k);
    deadline = osev_now() + BOUND;
    while ((r.calls == 0 || user_sigchld == 0) && osev_now() < deadline)
        ck_assert_int_ge(osev_loop_once(ctx, deadline), -ETIMEDOUT);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_ge(user_sigchld, 1);
    assert_exited(&r, &k, 8);
    /* the SIGCHLD path lets go of its own watch, not the application's */
    osev_child_remove(r.c);
    ck_assert_int_eq(sigaction(SIGCHLD, NULL, &sa), 0);
    ck_assert_ptr_ne(sa.sa_handler, SIG_DFL);
    osev_signal_remove(s);
    osev_ctx_free(ctx);
    done_paths();
}
END_TEST

START_TEST(bad_arguments)
{
    int fds_before, status;
    osev_ctx *ctx;
    osev_child *c = NULL;
    struct kid k;

    use_paths(_i);
    ctx = tu_ctx_new();
    fds_before = tu_count_fds();
    ck_assert_osev_err(osev_child_add(ctx, 0, rec_cb, NULL, &c), -EINVAL);
    ck_assert_osev_err(osev_child_add(ctx, -1, rec_cb, NULL, &c), -EINVAL);
    ck_assert_osev_err(osev_child_add(NULL, 1, rec_cb, NULL, &c), -EINVAL);
    ck_assert_osev_err(osev_child_add(ctx, 1, NULL, NULL, &c), -EINVAL);
    ck_assert_osev_err(osev_child_add(ctx, 1, rec_cb, NULL, NULL), -EINVAL);
    /* not children of ours */
    ck_assert_osev_err(osev_child_add(ctx, getpid(), rec_cb, NULL, &c),
                       -ECHILD);
    ck_assert_osev_err(osev_child_add(ctx, 1, rec_cb, NULL, &c), -ECHILD);
    /* a child already reaped */
    spawn(&k, 0);
    tell(&k);
    ck_assert_int_eq(waitpid(k.pid, &status, 0), k.pid);
    ck_assert_osev_err(osev_child_add(ctx, k.pid, rec_cb, NULL, &c),
                       -ECHILD);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(tu_count_fds(), fds_before);
    ck_assert_ptr_eq(signal(SIGCHLD, SIG_DFL), SIG_DFL);
    osev_ctx_free(ctx);
    done_paths();
}
END_TEST

static Suite *child_suite(void)
{
    Suite *s = suite_create("child");
    TCase *tc = tcase_create("child");

    tcase_add_loop_test(tc, exit_status_reported, 0, NPATHS);
    tcase_add_loop_test(tc, exit_served_in_the_turn_it_ends, 0, NPATHS + 2);
    tcase_add_loop_test(tc, exited_before_add, 0, NPATHS);
    tcase_add_loop_test(tc, application_reaps_its_own, 0, NPATHS);
    tcase_add_loop_test(tc, many_at_once, 0, NPATHS);
    tcase_add_loop_test(tc, removed_before_exit_is_not_reaped, 0, NPATHS);
    tcase_add_loop_test(tc, remove_from_callback, 0, NPATHS);
    tcase_add_loop_test(tc, ctx_free_leaves_child_alone, 0, NPATHS);
    tcase_add_loop_test(tc, two_contexts, 0, NPATHS);
    tcase_add_loop_test(tc, second_watch_reports_lost, 0, NPATHS);
    tcase_add_loop_test(tc, with_an_application_sigchld_watch, 0, NPATHS);
    tcase_add_loop_test(tc, bad_arguments, 0, NPATHS);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(child_suite());
}
