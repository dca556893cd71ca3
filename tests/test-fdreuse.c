/*
 * test-fdreuse.c - an fd closed under its watch, whose number the library
 * itself then takes, and fds the epoll set will not hold.
 *
 * The kernel gives a new fd the lowest free number, so every fd the
 * library opens (the epoll set, the aggregate fd's timerfd, a signal
 * watch's eventfd, a child's pidfd) can take the number of an fd the
 * application closed without removing its watch.  That stale watch gets
 * POLLNVAL once, as poll(2) would say, is muted, and never sees the
 * library's fd; the context keeps serving everything else.  Likewise an
 * fd the epoll set refuses affects its own watch only.
 */
#include "testutil.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BOUND osev_s(10)

struct rec {
    int calls, nvals;
};

static void rec_read(osev_fd *w, int fd, short revents, void *arg)
{
    struct rec *r = arg;

    (void)w;
    r->calls++;
    r->nvals += !!(revents & POLLNVAL);
    if (revents & POLLIN)
        tu_drain(fd);
}

static void rec_timer(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now;
    ((struct rec *)arg)->calls++;
}

/* A watch on a pipe's read end; close_read() then closes that end (the
 * write end stays open, so the number is free again).  Make every fd of
 * the test before closing, or the test itself takes the number. */
static int watched_pipe(osev_ctx *ctx, struct rec *r, int *wr_out)
{
    osev_fd *w;
    int p[2];

    tu_pipe(p);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, rec_read, r, &w));
    *wr_out = p[1];
    return p[0];
}

/* Drive with the built-in loop until @done says so or the bound passes;
 * no turn may fail. */
static void loop_until(osev_ctx *ctx, bool (*done)(void *), void *arg)
{
    osev_time deadline = osev_now() + BOUND;

    while (!done(arg) && osev_now() < deadline)
        ck_assert_int_ge(osev_loop_once(ctx, deadline), -ETIMEDOUT);
    ck_assert_msg(done(arg), "not served");
}

struct world {
    struct rec stale, healthy, timer;
};

static bool world_served(void *arg)
{
    struct world *w = arg;
    return w->stale.nvals && w->healthy.calls && w->timer.calls;
}

static void assert_stale_muted(const struct rec *r)
{
    ck_assert_int_eq(r->nvals, 1);
    ck_assert_int_eq(r->calls, 1);
}

/* The report's smallest input: the epoll set, made lazily by the first
 * turn, takes the closed watch's number. */
START_TEST(lazy_epoll_set_takes_a_stale_number)
{
    osev_ctx *ctx = tu_ctx_new();
    struct world w = { 0 };
    osev_event *ev;
    osev_timer *t;
    osev_fd *hw;
    int wr, q[2];

    tu_pipe(q);
    ck_assert_osev_ok(osev_fd_add(ctx, q[0], POLLIN, rec_read, &w.healthy,
                                  &hw));
    close(watched_pipe(ctx, &w.stale, &wr));
    ck_assert_osev_ok(osev_timer_add(ctx, osev_now() + osev_ms(20),
                                     rec_timer, &w.timer, &t));
    tu_write_byte(q[1]);
    loop_until(ctx, world_served, &w);
    assert_stale_muted(&w.stale);

    /* Everything keeps working, and the stale watch stays quiet. */
    ck_assert_osev_err(osev_loop_once(ctx, osev_now() + osev_ms(5)),
                       -ETIMEDOUT);
    ck_assert_int_ge(osev_dispatch(ctx), 0);
    tu_get_fd(ctx);
    ck_assert_osev_err(osev_event_wait(ctx, 1, NULL, NULL,
                                       osev_now() + osev_ms(5), &ev),
                       -ETIMEDOUT);
    tu_write_byte(q[1]);
    ck_assert_int_eq(osev_loop_once(ctx, osev_now() + BOUND), 1);
    ck_assert_int_eq(w.healthy.calls, 2);
    assert_stale_muted(&w.stale);
    osev_ctx_free(ctx);
    close(wr), close(q[0]), close(q[1]);
}
END_TEST

static bool rec_nval(void *arg)
{
    return ((struct rec *)arg)->nvals > 0;
}

/* The aggregate fd: its epoll set and its timerfd each take a stale
 * number; both stale watches hear POLLNVAL, and the aggregate fd works.
 * Without the Linux APIs osev_get_fd() says -ENOSYS and takes nothing:
 * poll(2) itself finds the closed fds, and the loop serves the timer. */
START_TEST(aggregate_fds_take_stale_numbers)
{
    osev_ctx *ctx = tu_ctx_new();
    struct rec s1 = { 0 }, s2 = { 0 }, tr = { 0 };
    struct pollfd pfd;
    osev_timer *t;
    int rd1, rd2, wr1, wr2, fd, n;

    rd1 = watched_pipe(ctx, &s1, &wr1);
    rd2 = watched_pipe(ctx, &s2, &wr2);
    close(rd1), close(rd2);
    fd = tu_get_fd(ctx);
    ck_assert_int_ge(osev_dispatch(ctx), 2);
    assert_stale_muted(&s1);
    assert_stale_muted(&s2);

    ck_assert_osev_ok(osev_timer_add(ctx, osev_now() + osev_ms(10),
                                     rec_timer, &tr, &t));
    if (fd >= 0) {
        pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
        n = poll(&pfd, 1, 5000);
        ck_assert_int_eq(n, 1);
        ck_assert_int_eq(osev_dispatch(ctx), 1);
    } else {
        ck_assert_int_eq(osev_loop_once(ctx, osev_now() + BOUND), 1);
    }
    ck_assert_int_eq(tr.calls, 1);
    assert_stale_muted(&s1);
    assert_stale_muted(&s2);
    osev_ctx_free(ctx);
    close(wr1), close(wr2);
}
END_TEST

static struct rec sig_rec;

static void on_sig(osev_signal *s, int signo, void *arg)
{
    (void)s, (void)signo, (void)arg;
    sig_rec.calls++;
}

#define NSTALE 4

static bool all_stale_and_sig_served(void *arg)
{
    const struct rec *r = arg;

    for (int i = 0; i < NSTALE; i++)
        if (!r[i].nvals)
            return false;
    return sig_rec.calls > 0;
}

/*
 * The first signal watch of the process opens a signal's eventfd, the
 * self-pipe (and a signalfd), and this context's dups of them: each may
 * take a stale number.  Every stale watch gets POLLNVAL, none sees (or
 * drains) the signal sources; the signal is delivered.  Both paths.
 */
START_TEST(signal_fds_take_stale_numbers)
{
    osev_ctx *ctx = tu_ctx_new();
    struct rec stale[NSTALE] = { { 0 } };
    int rd[NSTALE], wr[NSTALE];
    sigset_t set, old;
    osev_signal *s;

    setenv("OSEV_SIGNAL_BACKEND", _i ? "pipe" : "signalfd", 1);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    /* no signalfd without the Linux APIs: the self-pipe path then,
     * which needs the signal unblocked */
    ck_assert_int_eq(pthread_sigmask(_i || !TU_LINUX_APIS ? SIG_UNBLOCK
                                                         : SIG_BLOCK,
                                     &set, &old),
                     0);
    for (int i = 0; i < NSTALE; i++)
        rd[i] = watched_pipe(ctx, &stale[i], &wr[i]);
    for (int i = 0; i < NSTALE; i++)
        close(rd[i]);
    sig_rec.calls = 0;
    ck_assert_osev_ok(osev_signal_add(ctx, SIGUSR2, on_sig, NULL, &s));
    ck_assert_int_eq(kill(getpid(), SIGUSR2), 0);
    loop_until(ctx, all_stale_and_sig_served, stale);
    for (int i = 0; i < NSTALE; i++)
        assert_stale_muted(&stale[i]);
    ck_assert_int_eq(sig_rec.calls, 1);
    osev_signal_remove(s);
    osev_ctx_free(ctx);
    for (int i = 0; i < NSTALE; i++)
        close(wr[i]);
    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
}
END_TEST

static int child_calls;

static void on_child(osev_child *c, pid_t pid, int status, void *arg)
{
    (void)c, (void)pid, (void)arg;
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 3);
    child_calls++;
}

static bool child_served(void *arg)
{
    return child_calls > 0 && rec_nval(arg);
}

/* A child's pidfd (or eventfd) takes the stale number. */
START_TEST(child_fd_takes_a_stale_number)
{
    osev_ctx *ctx = tu_ctx_new();
    struct rec stale = { 0 };
    osev_child *c;
    pid_t pid;
    int wr;

    close(watched_pipe(ctx, &stale, &wr));
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(3);
    child_calls = 0;
    ck_assert_osev_ok(osev_child_add(ctx, pid, on_child, NULL, &c));
    loop_until(ctx, child_served, &stale);
    assert_stale_muted(&stale);
    ck_assert_int_eq(child_calls, 1);
    osev_child_remove(c);
    osev_ctx_free(ctx);
    close(wr);
}
END_TEST

/* An fd the epoll set refuses (here the context's own epoll set, the
 * aggregate fd) affects its own watch only: POLLNVAL once under epoll,
 * never an error for the whole context. */
START_TEST(fd_the_set_refuses_affects_its_watch_only)
{
    struct osev_ctx_opts o = { .size = sizeof o };
    struct rec self = { 0 }, healthy = { 0 };
    osev_ctx *ctx;
    osev_fd *ws, *wh;
    int q[2], agg;

    ck_assert_osev_ok(osev_ctx_new(&o, &ctx));
    tu_pipe(q);
    agg = tu_get_fd(ctx);
    if (agg < 0) { /* no set to refuse anything without the Linux APIs */
        osev_ctx_free(ctx);
        close(q[0]), close(q[1]);
        return;
    }
    ck_assert_osev_ok(osev_fd_add(ctx, agg, POLLIN, rec_read, &self, &ws));
    ck_assert_osev_ok(osev_fd_add(ctx, q[0], POLLIN, rec_read, &healthy,
                                  &wh));
    tu_write_byte(q[1]);
    for (int i = 0; i < 3; i++)
        ck_assert_int_ge(osev_loop_once(ctx, osev_now() + osev_ms(20)),
                         -ETIMEDOUT);
    ck_assert_int_eq(healthy.calls, 1);
    ck_assert_int_le(self.nvals, 1);
    osev_fd_remove(ws);
    osev_ctx_free(ctx);
    close(q[0]), close(q[1]);
}
END_TEST

/* The stale watch found when the lazily made epoll set takes its number
 * is work: the turn that made the set serves it at once, without waiting
 * for its deadline. */
START_TEST(stale_number_served_without_waiting)
{
    osev_ctx *ctx = tu_ctx_new();
    struct rec stale = { 0 };
    osev_time deadline;
    int wr;

    close(watched_pipe(ctx, &stale, &wr));
    deadline = osev_now() + BOUND;
    ck_assert_int_eq(osev_loop_once(ctx, deadline), 1);
    ck_assert_msg(osev_now() < deadline, "the turn waited for its deadline");
    assert_stale_muted(&stale);
    osev_ctx_free(ctx);
    close(wr);
}
END_TEST

/* A context on the epoll backend, whatever OSEV_BACKEND says (the
 * environment is read when a context is made). */
static osev_ctx *epoll_ctx_new(void)
{
    const char *env = getenv("OSEV_BACKEND");
    char *saved = env ? strdup(env) : NULL;
    osev_ctx *ctx;

    unsetenv("OSEV_BACKEND");
    ctx = tu_ctx_new();
    if (saved) {
        setenv("OSEV_BACKEND", saved, 1);
        free(saved);
    }
    return ctx;
}

/* Under the epoll backend an fd the set refuses (here the context's own
 * epoll set) is reported as poll(2) reports a closed fd: POLLNVAL once,
 * then the watch is muted; it is never reported readable. */
START_TEST(refused_fd_pollnval_once_under_epoll)
{
    struct rec self = { 0 };
    osev_ctx *ctx = epoll_ctx_new();
    int agg = tu_get_fd(ctx);
    osev_fd *ws;

    if (agg < 0) { /* no epoll without the Linux APIs: -ENOSYS */
        osev_ctx_free(ctx);
        return;
    }
    ck_assert_osev_ok(osev_fd_add(ctx, agg, POLLIN, rec_read, &self, &ws));
    for (int i = 0; i < 3; i++)
        ck_assert_int_ge(osev_loop_once(ctx, osev_now() + osev_ms(20)),
                         -ETIMEDOUT);
    ck_assert_int_eq(self.calls, 1);
    ck_assert_int_eq(self.nvals, 1);
    osev_fd_remove(ws);
    osev_ctx_free(ctx);
}
END_TEST

static Suite *fdreuse_suite(void)
{
    Suite *s = suite_create("fdreuse");
    TCase *tc = tcase_create("reuse");

    tcase_add_test(tc, lazy_epoll_set_takes_a_stale_number);
    tcase_add_test(tc, aggregate_fds_take_stale_numbers);
    tcase_add_loop_test(tc, signal_fds_take_stale_numbers, 0, 2);
    tcase_add_test(tc, child_fd_takes_a_stale_number);
    tcase_add_test(tc, fd_the_set_refuses_affects_its_watch_only);
    tcase_add_test(tc, stale_number_served_without_waiting);
    tcase_add_test(tc, refused_fd_pollnval_once_under_epoll);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(fdreuse_suite());
}
