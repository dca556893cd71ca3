/*
 * test-fork.c - a child of fork() frees a context it inherited, and the
 * parent, which keeps using it, notices nothing (the "Fork" note in
 * osevent.h).
 *
 * The epoll set is shared between parent and child after fork(): if the
 * child's osev_ctx_free() took its fds out of the set one by one, they
 * would be gone from the parent's set too.  Likewise the signal sources
 * (a self-pipe, a signalfd whose mask is kept in the file) are shared.
 * The forked child reports what it saw through its exit status; it never
 * calls Check.
 */
#include "testutil.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BOUND osev_s(10)

static int counter;

static void count_read(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)revents, (void)arg;
    tu_drain(fd);
    counter++;
}

static bool readable(int fd, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int r = poll(&p, 1, timeout_ms);

    ck_assert_int_ge(r, 0);
    return r == 1;
}

/* Fork; the child runs @fn and exits with what it returns.  Returns when
 * the child has exited 0. */
static void in_child(int (*fn)(void *), void *arg)
{
    pid_t pid = fork();
    int status;

    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(fn(arg));
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the forked child failed: status %#x", status);
}

static int free_ctx(void *arg)
{
    osev_ctx_free(arg);
    return 0;
}

/*
 * _i: 0 the epoll backend, its set made by osev_loop_once(); 1 the same,
 * set made by osev_get_fd(); 2 the poll backend, with the aggregate fd's
 * epoll set.  Without the Linux APIs all three are the poll backend, and
 * osev_get_fd() says -ENOSYS: the loop then serves as in 0.
 */
START_TEST(child_frees_inherited_ctx)
{
    struct osev_ctx_opts o = { .size = sizeof o,
                               .flags = _i == 2 ? OSEV_CTX_BACKEND_POLL : 0 };
    osev_ctx *ctx;
    osev_fd *w;
    int p[2], afd = -1;

    ck_assert_osev_ok(osev_ctx_new(&o, &ctx));
    tu_pipe(p);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, count_read, NULL, &w));
    if (_i == 0)
        ck_assert_osev_err(osev_loop_once(ctx, 0), -ETIMEDOUT);
    else
        afd = tu_get_fd(ctx);

    in_child(free_ctx, ctx);

    counter = 0;
    tu_write_byte(p[1]);
    if (afd >= 0) {
        ck_assert(readable(afd, 10000));
        ck_assert_int_eq(osev_dispatch(ctx), 1);
    } else {
        ck_assert_int_eq(osev_loop_once(ctx, osev_now() + BOUND), 1);
    }
    ck_assert_int_eq(counter, 1);
    /* and the watch keeps working */
    tu_write_byte(p[1]);
    ck_assert_int_eq(osev_loop_once(ctx, osev_now() + BOUND), 1);
    ck_assert_int_eq(counter, 2);
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]);
}
END_TEST

/* ---- with signal and child watches ---- */

static int sig_calls, child_calls, child_status;

static void on_sig(osev_signal *s, int signo, void *arg)
{
    (void)s, (void)signo, (void)arg;
    sig_calls++;
}

static void on_child(osev_child *c, pid_t pid, int status, void *arg)
{
    (void)c, (void)pid, (void)arg;
    child_calls++;
    child_status = status;
}

static void (*handler_of(int signo))(int)
{
    struct sigaction sa;

    if (sigaction(signo, NULL, &sa) < 0)
        return SIG_ERR;
    return sa.sa_handler;
}

/* In the forked child: free the inherited context, check the signal is
 * the child's own again, then watch it with a context of its own. */
static int free_and_start_over(void *arg)
{
    osev_time deadline;
    osev_signal *s;
    osev_ctx *mine;
    int bad = 0;

    osev_ctx_free(arg);
    if (handler_of(SIGUSR1) != SIG_DFL)
        bad |= 1;
    sig_calls = 0;
    if (osev_ctx_new(NULL, &mine) < 0 ||
        osev_signal_add(mine, SIGUSR1, on_sig, NULL, &s) < 0)
        return 2;
    kill(getpid(), SIGUSR1);
    deadline = osev_now() + BOUND;
    while (sig_calls == 0 && osev_now() < deadline)
        if (osev_loop_once(mine, deadline) < -ETIMEDOUT)
            break;
    if (sig_calls != 1)
        bad |= 4;
    osev_ctx_free(mine);
    if (handler_of(SIGUSR1) != SIG_DFL)
        bad |= 8;
    return bad;
}

/*
 * _i & 1: the SIGCHLD child path; _i & 2: the self-pipe signal path
 * (else signalfd, with the signals blocked).  Without the Linux APIs
 * every variant is on the SIGCHLD and self-pipe paths, the signals left
 * unblocked as the self-pipe needs.
 */
START_TEST(child_frees_ctx_with_signal_and_child_watches)
{
    osev_ctx *ctx;
    osev_signal *s;
    osev_child *c;
    osev_fd *w;
    sigset_t set, saved;
    struct timespec zero = { 0, 0 };
    osev_time deadline;
    int p[2], go[2];
    pid_t kid;
    char b;

    setenv("OSEV_CHILD_BACKEND", _i & 1 ? "sigchld" : "pidfd", 1);
    setenv("OSEV_SIGNAL_BACKEND", _i & 2 ? "pipe" : "signalfd", 1);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGCHLD);
    ck_assert_int_eq(pthread_sigmask(_i & 2 || !TU_LINUX_APIS ? SIG_UNBLOCK
                                                            : SIG_BLOCK,
                                     &set, &saved),
                     0);

    /* a kid that exits with 42 when told */
    ck_assert_int_eq(pipe(go), 0);
    kid = fork();
    ck_assert_int_ge(kid, 0);
    if (kid == 0) {
        close(go[1]);
        _exit(read(go[0], &b, 1) == 1 ? 42 : 99);
    }
    close(go[0]);

    ctx = tu_ctx_new();
    tu_pipe(p);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, count_read, NULL, &w));
    ck_assert_osev_ok(osev_signal_add(ctx, SIGUSR1, on_sig, NULL, &s));
    ck_assert_osev_ok(osev_child_add(ctx, kid, on_child, NULL, &c));
    tu_get_fd(ctx); /* the epoll set exists (not without the Linux APIs) */

    in_child(free_and_start_over, ctx);

    /* the parent's registrations are intact: the fd ... */
    counter = sig_calls = child_calls = 0;
    tu_write_byte(p[1]);
    deadline = osev_now() + BOUND;
    while (counter == 0 && osev_now() < deadline)
        ck_assert_int_ge(osev_loop_once(ctx, deadline), -ETIMEDOUT);
    ck_assert_int_eq(counter, 1);
    /* ... the signal, still osevent's in the parent ... */
    ck_assert_ptr_ne(handler_of(SIGUSR1), SIG_DFL);
    ck_assert_int_eq(kill(getpid(), SIGUSR1), 0);
    while (sig_calls == 0 && osev_now() < deadline)
        ck_assert_int_ge(osev_loop_once(ctx, deadline), -ETIMEDOUT);
    ck_assert_int_eq(sig_calls, 1);
    /* ... and the child watch */
    ck_assert_int_eq(write(go[1], "x", 1), 1);
    while (child_calls == 0 && osev_now() < deadline)
        ck_assert_int_ge(osev_loop_once(ctx, deadline), -ETIMEDOUT);
    ck_assert_int_eq(child_calls, 1);
    ck_assert(WIFEXITED(child_status));
    ck_assert_int_eq(WEXITSTATUS(child_status), 42);

    osev_ctx_free(ctx);
    close(p[0]), close(p[1]), close(go[1]);
    while (sigtimedwait(&set, NULL, &zero) > 0)
        ;
    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, &saved, NULL), 0);
}
END_TEST

/* ---- push mode: the hooks are the parent's too ---- */

/*
 * A test double for struct osev_hooks: it counts every call.  After
 * fork() the registrations it stands for would be the parent's as much
 * as the child's (an epoll set, a shared kernel object), so a child must
 * not deregister them.
 */
struct double_hooks {
    int fd_registers, fd_deregisters, timeout_registers, timeout_deregisters;
    int releases;
    int fds[4];    /* the fds registered, in order */
    void *toks[4]; /* and their tokens */
};

static int dh_fd_register(void *user, int fd, void **app_reg_out, short events,
                          void *for_osev)
{
    struct double_hooks *D = user;

    (void)events;
    if (D->fd_registers < 4) {
        D->fds[D->fd_registers] = fd;
        D->toks[D->fd_registers] = for_osev;
    }
    D->fd_registers++;
    *app_reg_out = D;
    return 0;
}

static int dh_fd_modify(void *user, int fd, void **app_reg_io, short events)
{
    (void)user, (void)fd, (void)app_reg_io, (void)events;
    return 0;
}

static void dh_fd_deregister(void *user, int fd, void *app_reg)
{
    (void)fd, (void)app_reg;
    ((struct double_hooks *)user)->fd_deregisters++;
}

static int dh_timeout_register(void *user, void **app_reg_out,
                               osev_time deadline, void *for_osev)
{
    (void)deadline, (void)for_osev;
    ((struct double_hooks *)user)->timeout_registers++;
    *app_reg_out = user;
    return 0;
}

static int dh_timeout_modify(void *user, void **app_reg_io, osev_time deadline)
{
    (void)user, (void)app_reg_io, (void)deadline;
    return 0;
}

static void dh_timeout_deregister(void *user, void *app_reg)
{
    (void)app_reg;
    ((struct double_hooks *)user)->timeout_deregisters++;
}

static void dh_release(void *user)
{
    ((struct double_hooks *)user)->releases++;
}

static const struct osev_hooks double_hooks = {
    .fd_register = dh_fd_register,
    .fd_modify = dh_fd_modify,
    .fd_deregister = dh_fd_deregister,
    .timeout_register = dh_timeout_register,
    .timeout_modify = dh_timeout_modify,
    .timeout_deregister = dh_timeout_deregister,
    .release = dh_release,
};

struct hooks_child {
    osev_ctx *ctx;
    struct double_hooks *D;
    bool unset_first; /* osev_set_hooks(NULL) before osev_ctx_free() */
    int report;       /* the pipe the child writes its counts to */
};

/* In the forked child: end the inherited push mode, and tell the parent
 * which hooks ran (the counts are the child's copy). */
static int end_hooks_and_report(void *arg)
{
    struct hooks_child *H = arg;

    if (H->unset_first && osev_set_hooks(H->ctx, NULL, 0, NULL) < 0)
        return 2;
    osev_ctx_free(H->ctx);
    if (write(H->report, H->D, sizeof *H->D) != (ssize_t)sizeof *H->D)
        return 3;
    return 0;
}

static void count_timer(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now;
    ++*(int *)arg;
}

/*
 * A context in push mode, a watch and an armed timer; the child frees
 * the context (_i 1: it sets the hooks to NULL first).  The child calls no
 * deregister hook and the release hook once, and writes nothing the
 * parent reads (the wakeup fd stays quiet); in the parent every
 * registration is intact.
 */
START_TEST(child_ends_push_mode_without_deregistering)
{
    struct double_hooks D = { 0 }, seen;
    struct hooks_child H = { .D = &D, .unset_first = _i == 1 };
    struct osev_hook_stats st = { .size = sizeof st };
    osev_fd *w;
    osev_timer *t;
    int p[2], rep[2], wake_fd, timer_calls = 0;

    H.ctx = tu_ctx_new();
    tu_pipe(p);
    tu_pipe(rep);
    H.report = rep[1];
    ck_assert_osev_ok(osev_fd_add(H.ctx, p[0], POLLIN, count_read, NULL, &w));
    ck_assert_osev_ok(osev_timer_add(H.ctx, osev_now() + osev_s(3600),
                                     count_timer, &timer_calls, &t));
    ck_assert_osev_ok(osev_set_hooks(H.ctx, &double_hooks,
                                     sizeof double_hooks, &D));
    ck_assert_int_eq(D.fd_registers, 2); /* the wakeup fd, the pipe */
    ck_assert_int_eq(D.timeout_registers, 1);
    wake_fd = D.fds[0] == p[0] ? D.fds[1] : D.fds[0];
    ck_assert(!readable(wake_fd, 0));

    in_child(end_hooks_and_report, &H);

    ck_assert(readable(rep[0], 0));
    ck_assert_int_eq(read(rep[0], &seen, sizeof seen), (ssize_t)sizeof seen);
    ck_assert_int_eq(seen.fd_deregisters, 0);
    ck_assert_int_eq(seen.timeout_deregisters, 0);
    ck_assert_int_eq(seen.releases, 1);
    ck_assert_int_eq(seen.fd_registers, 2); /* nothing new either */
    ck_assert_int_eq(seen.timeout_registers, 1);
    ck_assert_msg(!readable(wake_fd, 0), "the child woke the parent");

    /* The parent's push mode is as it was, and still works. */
    ck_assert_int_eq(D.fd_deregisters + D.timeout_deregisters + D.releases, 0);
    ck_assert_osev_ok(osev_get_hook_stats(H.ctx, &st));
    ck_assert_uint_eq(st.fd_regs, 2);
    ck_assert_uint_eq(st.timeout_regs, 1);
    counter = 0;
    tu_write_byte(p[1]);
    osev_occurred_fd(H.ctx, D.toks[D.fds[0] == p[0] ? 0 : 1], p[0], POLLIN,
                     POLLIN);
    ck_assert_int_eq(counter, 1);

    osev_ctx_free(H.ctx);
    ck_assert_int_eq(D.fd_deregisters, 2);
    ck_assert_int_eq(D.timeout_deregisters, 1);
    ck_assert_int_eq(D.releases, 1);
    ck_assert_int_eq(timer_calls, 0);
    close(p[0]), close(p[1]), close(rep[0]), close(rep[1]);
}
END_TEST

static Suite *fork_suite(void)
{
    Suite *s = suite_create("fork");
    TCase *tc = tcase_create("fork");

    tcase_add_loop_test(tc, child_frees_inherited_ctx, 0, 3);
    tcase_add_loop_test(tc, child_frees_ctx_with_signal_and_child_watches,
                        0, 4);
    tcase_add_loop_test(tc, child_ends_push_mode_without_deregistering, 0, 2);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(fork_suite());
}
