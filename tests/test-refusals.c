/*
 * test-refusals.c - every refusal of the contract, from every kind of
 * callback that can make the call.
 *
 * The matrix: for each kind of callback (an fd, a timer, a deferred call,
 * an osev_schedule() call, an event_occurs delivery, the disaster hook
 * reached from a callback, a signal watch, a child watch; and a release
 * function, in its own test case), one probe makes every call the
 * contract refuses there and records the answers:
 *
 *   osev_loop_once, osev_dispatch, osev_beforepoll, osev_beforeselect,
 *   osev_event_wait, osev_loop_run                       -EBUSY
 *   osev_afterpoll, osev_afterselect                      ignored: no pass
 *   osev_fd_modify / osev_timer_set on a handle removed   -ESTALE
 *   bad arguments                                         -EINVAL
 *
 * and freeing the context from each kind makes the call that ran it
 * return -ESTALE.  The hooks of struct osev_hooks have a matrix of their
 * own: osev_set_hooks() from inside one is -EBUSY and osev_occurred_*()
 * is ignored.
 *
 * The release rows (test_release_refusals, test_release_frees_ctx) state
 * the rule that a release runs as a callback of its context; they fail
 * until the core runs releases that way.
 */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BOUND osev_s(10)
#define EXIT_MARK 42

enum kind {
    K_FD,
    K_TIMER,
    K_DEFER,
    K_SCHEDULE,
    K_OCCURS,
    K_DISASTER,
    K_SIGNAL,
    K_CHILD,
    NKINDS
};

static const char *const kind_name[NKINDS] = {
    "fd callback", "timer callback", "deferred call", "scheduled call",
    "event_occurs", "disaster hook", "signal callback", "child callback",
};

/* What a probe saw; checked by the test once the driving call returned. */
struct probe {
    int ran;
    int loop_once, dispatch, beforepoll, beforeselect, event_wait, loop_run;
    int nfds_after, maxfd_after;
    int sentinel_in_afterpoll, sentinel_in_afterselect;
    int fd_modify_stale, timer_set_stale;
    int fd_modify_einval, timer_add_einval, loop_once_einval;
};

static struct {
    osev_ctx *ctx;
    bool free_ctx;          /* the probe frees the context instead */
    struct probe p;
    int sentinel_runs;
    /* a live poll round and a live select round, from before the pass */
    struct pollfd fds[16];
    int nfds;
    fd_set rfds;
    int maxfd;
    /* handles the probe removes, then uses */
    osev_fd *victim_w;
    osev_timer *victim_t;
    osev_fd *live_w;
    int victim_releases;
    int pipe_fds[2];
} S;

static void sentinel_cb(osev_timer *t, osev_time now, void *arg)
{
    (void)now, (void)arg;
    S.sentinel_runs++;
    osev_timer_remove(t);
}

static void nop_timer(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now, (void)arg;
}

static void nop_fd(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)fd, (void)revents, (void)arg;
}

static void count_release(void *arg)
{
    ++*(int *)arg;
}

/* Every refused call, from wherever the probe runs. */
static void probe(void)
{
    osev_ctx *ctx = S.ctx;
    struct probe *p = &S.p;
    struct pollfd fds[16];
    int n = 16, timeout = -1, maxfd = -1;
    fd_set r;
    struct timeval tv;
    bool tv_set = false;
    osev_event *ev = NULL;
    osev_timer *sentinel, *t = NULL;

    p->ran++;
    if (S.free_ctx) {
        osev_ctx_free(ctx);
        return;
    }
    /* due now: only a nested pass would run it before this one ends */
    ck_assert_osev_ok(osev_timer_add(ctx, 0, sentinel_cb, NULL, &sentinel));

    p->loop_once = osev_loop_once(ctx, 0);
    p->dispatch = osev_dispatch(ctx);
    p->beforepoll = osev_beforepoll(ctx, &n, fds, &timeout, 0);
    p->nfds_after = n;
    FD_ZERO(&r);
    p->beforeselect = osev_beforeselect(ctx, &maxfd, &r, NULL, NULL, &tv,
                                        &tv_set, 0);
    p->maxfd_after = maxfd;
    p->event_wait = osev_event_wait(ctx, OSEV_EVENTMASK_ALL, NULL, NULL, 0,
                                    &ev);
    osev_afterpoll(ctx, S.nfds, S.fds, 0);
    p->sentinel_in_afterpoll = S.sentinel_runs;
    osev_afterselect(ctx, S.maxfd, &S.rfds, NULL, NULL, 0);
    p->sentinel_in_afterselect = S.sentinel_runs;
    /* were it not refused, the pending exit would end it at once */
    osev_loop_exit(ctx, EXIT_MARK);
    p->loop_run = osev_loop_run(ctx);

    osev_fd_remove(S.victim_w);
    osev_timer_remove(S.victim_t);
    p->fd_modify_stale = osev_fd_modify(S.victim_w, POLLIN);
    p->timer_set_stale = osev_timer_set(S.victim_t, 0);
    osev_fd_remove(S.victim_w); /* a second remove does nothing */

    p->fd_modify_einval = osev_fd_modify(S.live_w, POLLHUP);
    p->timer_add_einval = osev_timer_add(ctx, -1, nop_timer, NULL, &t);
    ck_assert_ptr_null(t);
    p->loop_once_einval = osev_loop_once(ctx, -1);
}

static void check_probe(const char *where)
{
    const struct probe *p = &S.p;

    ck_assert_msg(p->ran == 1, "%s: probe ran %d times", where, p->ran);
#define REFUSED(field, want)                                                 \
    ck_assert_msg(p->field == (want), "%s: %s: expected %d, got %d (%s)",   \
                  where, #field, (int)(want), p->field,                      \
                  osev_strerror(p->field))
    REFUSED(loop_once, -EBUSY);
    REFUSED(dispatch, -EBUSY);
    REFUSED(beforepoll, -EBUSY);
    REFUSED(nfds_after, 16);
    REFUSED(beforeselect, -EBUSY);
    REFUSED(maxfd_after, -1);
    REFUSED(event_wait, -EBUSY);
    REFUSED(sentinel_in_afterpoll, 0);
    REFUSED(sentinel_in_afterselect, 0);
    REFUSED(loop_run, -EBUSY);
    REFUSED(fd_modify_stale, -ESTALE);
    REFUSED(timer_set_stale, -ESTALE);
    REFUSED(fd_modify_einval, -EINVAL);
    REFUSED(timer_add_einval, -EINVAL);
    REFUSED(loop_once_einval, -EINVAL);
#undef REFUSED
}

/* After the pass: nothing the refused calls touched was lost. */
static void check_after(const char *where)
{
    /* the sentinel was left for a later pass, and runs there */
    ck_assert_osev_ok(osev_dispatch(S.ctx));
    ck_assert_msg(S.victim_releases == 1, "%s: victim releases: %d", where,
                  S.victim_releases);
    ck_assert_msg(S.sentinel_runs == 1, "%s: sentinel runs: %d", where,
                  S.sentinel_runs);
    /* the exit asked for inside was not taken by the refused loop_run */
    ck_assert_int_eq(osev_loop_run(S.ctx), EXIT_MARK);
}

/* A context with victims, live rounds of both pull kinds, and a watch. */
static void setup_ctx(void)
{
    struct timeval tv;
    bool tv_set = false;
    int timeout = -1;

    memset(&S, 0, sizeof S);
    S.ctx = tu_ctx_new();
    tu_pipe(S.pipe_fds);
    ck_assert_osev_ok(osev_fd_add(S.ctx, S.pipe_fds[0], POLLIN, nop_fd,
                                  &S.victim_releases, &S.victim_w));
    osev_fd_set_release(S.victim_w, count_release);
    ck_assert_osev_ok(osev_timer_add(S.ctx, OSEV_TIME_INFINITY, nop_timer,
                                     NULL, &S.victim_t));
    ck_assert_osev_ok(osev_fd_add(S.ctx, S.pipe_fds[1], 0, nop_fd, NULL,
                                  &S.live_w));

    S.nfds = 16;
    ck_assert_osev_ok(osev_beforepoll(S.ctx, &S.nfds, S.fds, &timeout, 0));
    FD_ZERO(&S.rfds);
    S.maxfd = -1;
    ck_assert_osev_ok(osev_beforeselect(S.ctx, &S.maxfd, &S.rfds, NULL, NULL,
                                        &tv, &tv_set, 0));
}

/* ---- the kinds of callback ---- */

static void fd_cb(osev_fd *w, int fd, short revents, void *arg)
{
    (void)revents, (void)arg;
    tu_drain(fd);
    osev_fd_remove(w);
    probe();
}

static void timer_cb(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now, (void)arg;
    probe();
}

static void defer_cb(osev_ctx *ctx, void *arg)
{
    (void)ctx, (void)arg;
    probe();
}

static void occurs_cb(void *user, osev_event *ev)
{
    (void)user;
    osev_event_free(S.ctx, ev);
    probe();
}

static void disaster_cb(void *user, unsigned type, const char *msg,
                        int errnoval)
{
    (void)user, (void)type, (void)msg, (void)errnoval;
    probe();
}

/* A producer's callback that reports a loss, as producers do when
 * osev_event_new() fails.  The header says the disaster hook must not
 * call osevent; reached from a callback it runs inside that pass, and
 * this row shows the calls it might make anyway are refused there. */
static void producer_cb(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now, (void)arg;
    osev_disaster(S.ctx, 1, "lost", ENOMEM);
}

static void signal_cb(osev_signal *s, int signo, void *arg)
{
    (void)signo, (void)arg;
    osev_signal_remove(s);
    probe();
}

static void child_cb(osev_child *c, pid_t pid, int status, void *arg)
{
    (void)pid, (void)status, (void)arg;
    osev_child_remove(c);
    probe();
}

static pid_t spawn_exiting_child(void)
{
    pid_t pid = fork();

    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(7);
    return pid;
}

/* Make the callback of @kind due (a signal or a child may take more
 * than one turn to arrive). */
static void arm_kind(int kind)
{
    struct osev_event_hooks h = { 0 };
    osev_fd *w;
    osev_timer *t;
    osev_signal *s;
    osev_child *c;
    int p[2];

    switch (kind) {
    case K_FD:
        tu_pipe(p);
        tu_write_byte(p[1]);
        ck_assert_osev_ok(osev_fd_add(S.ctx, p[0], POLLIN, fd_cb, NULL, &w));
        break;
    case K_TIMER:
        ck_assert_osev_ok(osev_timer_add(S.ctx, 0, timer_cb, NULL, &t));
        break;
    case K_DEFER:
        ck_assert_osev_ok(osev_defer(S.ctx, defer_cb, NULL));
        break;
    case K_SCHEDULE:
        ck_assert_osev_ok(osev_schedule(S.ctx, defer_cb, NULL, NULL));
        break;
    case K_OCCURS:
        h.event_occurs_mask = UINT64_C(1) << 1;
        h.event_occurs = occurs_cb;
        ck_assert_osev_ok(osev_event_set_hooks(S.ctx, &h, sizeof h, NULL));
        osev_event_post(S.ctx, osev_event_new(S.ctx, 1, 0, 0));
        break;
    case K_DISASTER:
        h.disaster = disaster_cb;
        ck_assert_osev_ok(osev_event_set_hooks(S.ctx, &h, sizeof h, NULL));
        ck_assert_osev_ok(osev_timer_add(S.ctx, 0, producer_cb, NULL, &t));
        break;
    case K_SIGNAL:
        ck_assert_osev_ok(osev_signal_add(S.ctx, SIGUSR1, signal_cb, NULL,
                                          &s));
        ck_assert_int_eq(raise(SIGUSR1), 0);
        break;
    case K_CHILD:
        ck_assert_osev_ok(osev_child_add(S.ctx, spawn_exiting_child(),
                                         child_cb, NULL, &c));
        break;
    }
}

/* Run loop turns until the probe ran (or the context went). */
static int drive_until_probed(void)
{
    osev_time end = osev_now() + BOUND;
    int r = 0;

    while (!S.p.ran && osev_now() < end) {
        r = osev_loop_once(S.ctx, end);
        if (r < 0 && r != -ETIMEDOUT)
            break;
    }
    return r;
}

START_TEST(refusals_from_each_kind_of_callback)
{
    const char *where = kind_name[_i];

    setup_ctx();
    arm_kind(_i);
    ck_assert_int_ge(drive_until_probed(), 0);
    check_probe(where);
    check_after(where);
    osev_ctx_free(S.ctx);
    close(S.pipe_fds[0]), close(S.pipe_fds[1]);
}
END_TEST

START_TEST(ctx_freed_from_each_kind_of_callback)
{
    const char *where = kind_name[_i];
    int releases = 0;
    osev_timer *t;

    setup_ctx();
    ck_assert_osev_ok(osev_timer_add(S.ctx, OSEV_TIME_INFINITY, nop_timer,
                                     &releases, &t));
    osev_timer_set_release(t, count_release);
    S.free_ctx = true;
    arm_kind(_i);
    ck_assert_msg(drive_until_probed() == -ESTALE,
                  "%s: the call that ran it did not say -ESTALE", where);
    ck_assert_int_eq(S.p.ran, 1);
    ck_assert_int_eq(releases, 1);      /* every release ran, once */
    ck_assert_int_eq(S.victim_releases, 1);
    close(S.pipe_fds[0]), close(S.pipe_fds[1]);
}
END_TEST

/*
 * One pass runs the scheduled calls and the event_occurs deliveries, not
 * only fds, timers and deferred calls: each of them is inside it, so a
 * dispatch from any of them is refused, and the pass counts all five.
 */
static int inner[5], ninner;

static void inner_fd(osev_fd *w, int fd, short revents, void *arg)
{
    (void)revents, (void)arg;
    tu_drain(fd);
    osev_fd_remove(w);
    inner[ninner++] = osev_loop_once(S.ctx, 0);
}

static void inner_timer(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now, (void)arg;
    inner[ninner++] = osev_loop_once(S.ctx, 0);
}

static void inner_call(osev_ctx *ctx, void *arg)
{
    (void)arg;
    inner[ninner++] = osev_loop_once(ctx, 0);
}

static void inner_occurs(void *user, osev_event *ev)
{
    (void)user;
    osev_event_free(S.ctx, ev);
    inner[ninner++] = osev_loop_once(S.ctx, 0);
}

START_TEST(scheduled_calls_and_deliveries_are_inside_the_pass)
{
    struct osev_event_hooks h = { .event_occurs_mask = 1,
                                  .event_occurs = inner_occurs };
    osev_fd *w;
    osev_timer *t;
    int p[2];

    memset(&S, 0, sizeof S);
    ninner = 0;
    S.ctx = tu_ctx_new();
    tu_pipe(p);
    tu_write_byte(p[1]);
    ck_assert_osev_ok(osev_fd_add(S.ctx, p[0], POLLIN, inner_fd, NULL, &w));
    ck_assert_osev_ok(osev_timer_add(S.ctx, 0, inner_timer, NULL, &t));
    ck_assert_osev_ok(osev_defer(S.ctx, inner_call, NULL));
    ck_assert_osev_ok(osev_schedule(S.ctx, inner_call, NULL, NULL));
    ck_assert_osev_ok(osev_event_set_hooks(S.ctx, &h, sizeof h, NULL));
    osev_event_post(S.ctx, osev_event_new(S.ctx, 0, 0, 0));
    ck_assert_int_eq(osev_dispatch(S.ctx), 5);
    ck_assert_int_eq(ninner, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_osev_err(inner[i], -EBUSY);
    osev_ctx_free(S.ctx);
    close(p[0]), close(p[1]);
}
END_TEST

/* ---- inside the hooks of struct osev_hooks ---- */

enum hook {
    H_FD_REGISTER,
    H_FD_MODIFY,
    H_FD_DEREGISTER,
    H_TIMEOUT_REGISTER,
    H_TIMEOUT_MODIFY,
    H_TIMEOUT_DEREGISTER,
    NHOOKS
};

static const char *const hook_name[NHOOKS] = {
    "fd_register", "fd_modify", "fd_deregister",
    "timeout_register", "timeout_modify", "timeout_deregister",
};

static struct {
    osev_ctx *ctx;
    int armed;          /* the hook that probes, or -1 */
    int probed;
    int set_hooks, set_hooks_null;
    int ready_fd;
    void *ready_tok, *tmo_tok;
    int fd_calls, timer_calls;
} H;

static const struct osev_hooks probe_hooks;

static void hook_probe(int which, void *tok)
{
    if (H.armed != which)
        return;
    H.armed = -1;
    H.probed++;
    H.set_hooks = osev_set_hooks(H.ctx, &probe_hooks, sizeof probe_hooks,
                                 NULL);
    H.set_hooks_null = osev_set_hooks(H.ctx, NULL, 0, NULL);
    /* were they not refused, these would dispatch (or deadlock) here */
    osev_occurred_fd(H.ctx, H.ready_tok, H.ready_fd, POLLIN, POLLIN);
    osev_occurred_timeout(H.ctx, H.tmo_tok ? H.tmo_tok : tok);
}

static int p_fd_register(void *u, int fd, void **reg, short ev, void *tok)
{
    (void)u, (void)ev;
    *reg = tok;
    if (fd == H.ready_fd)
        H.ready_tok = tok;
    hook_probe(H_FD_REGISTER, NULL);
    return 0;
}

static int p_fd_modify(void *u, int fd, void **reg, short ev)
{
    (void)u, (void)fd, (void)reg, (void)ev;
    hook_probe(H_FD_MODIFY, NULL);
    return 0;
}

static void p_fd_deregister(void *u, int fd, void *reg)
{
    (void)u, (void)fd, (void)reg;
    hook_probe(H_FD_DEREGISTER, NULL);
}

static int p_timeout_register(void *u, void **reg, osev_time dl, void *tok)
{
    (void)u, (void)dl;
    *reg = tok;
    hook_probe(H_TIMEOUT_REGISTER, tok);
    H.tmo_tok = tok;
    return 0;
}

static int p_timeout_modify(void *u, void **reg, osev_time dl)
{
    (void)u, (void)reg, (void)dl;
    hook_probe(H_TIMEOUT_MODIFY, NULL);
    return 0;
}

static void p_timeout_deregister(void *u, void *reg)
{
    (void)u, (void)reg;
    hook_probe(H_TIMEOUT_DEREGISTER, NULL);
    H.tmo_tok = NULL;
}

static const struct osev_hooks probe_hooks = {
    .fd_register = p_fd_register,
    .fd_modify = p_fd_modify,
    .fd_deregister = p_fd_deregister,
    .timeout_register = p_timeout_register,
    .timeout_modify = p_timeout_modify,
    .timeout_deregister = p_timeout_deregister,
};

static void h_fd_cb(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)fd, (void)revents, (void)arg;
    H.fd_calls++;
}

static void h_timer_cb(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now, (void)arg;
    H.timer_calls++;
}

/* _i: the hook (bits 0..2 as enum hook), single-threaded context (+8):
 * without a lock to deadlock on, a call not refused would run a pass
 * inside the hook, which the counts would show. */
START_TEST(refusals_inside_each_hook)
{
    const int which = _i & 7;
    struct osev_ctx_opts o = { .size = sizeof o,
                               .flags = _i & 8 ? OSEV_CTX_SINGLE_THREAD : 0 };
    osev_time now = osev_now();
    osev_fd *ready, *other = NULL, *grow;
    osev_timer *due = NULL, *late = NULL, *t;
    int p[2], q[2];

    memset(&H, 0, sizeof H);
    H.armed = -1;
    tu_pipe(p);
    tu_pipe(q);
    H.ready_fd = p[0];
    ck_assert_osev_ok(osev_ctx_new(&o, &H.ctx));
    /* something ready and something due, that only a pass would serve */
    tu_write_byte(p[1]);
    ck_assert_osev_ok(osev_fd_add(H.ctx, p[0], POLLIN, h_fd_cb, NULL,
                                  &ready));
    ck_assert_osev_ok(osev_fd_add(H.ctx, p[0], 0, h_fd_cb, NULL, &grow));
    if (which != H_TIMEOUT_REGISTER)
        ck_assert_osev_ok(osev_timer_add(H.ctx, now, h_timer_cb, NULL, &due));
    if (which == H_TIMEOUT_MODIFY)
        ck_assert_osev_ok(osev_timer_add(H.ctx, now + osev_s(60), h_timer_cb,
                                         NULL, &late));
    if (which == H_FD_DEREGISTER)
        ck_assert_osev_ok(osev_fd_add(H.ctx, q[0], POLLIN, h_fd_cb, NULL,
                                      &other));
    ck_assert_osev_ok(osev_set_hooks(H.ctx, &probe_hooks, sizeof probe_hooks,
                                     NULL));
    ck_assert_ptr_nonnull(H.ready_tok);

    H.armed = which;
    switch (which) {
    case H_FD_REGISTER:
        ck_assert_osev_ok(osev_fd_add(H.ctx, q[0], POLLIN, h_fd_cb, NULL,
                                      &other));
        break;
    case H_FD_MODIFY:
        ck_assert_osev_ok(osev_fd_modify(grow, POLLOUT));
        break;
    case H_FD_DEREGISTER:
        osev_fd_remove(other);
        break;
    case H_TIMEOUT_REGISTER:
        ck_assert_osev_ok(osev_timer_add(H.ctx, now, h_timer_cb, NULL, &t));
        break;
    case H_TIMEOUT_MODIFY:
        osev_timer_remove(due); /* the registration moves later */
        break;
    case H_TIMEOUT_DEREGISTER:
        osev_timer_remove(due);
        break;
    }
    ck_assert_msg(H.probed == 1, "%s: hook not reached", hook_name[which]);
    ck_assert_msg(H.set_hooks == -EBUSY, "%s: set_hooks: %d",
                  hook_name[which], H.set_hooks);
    ck_assert_msg(H.set_hooks_null == -EBUSY, "%s: set_hooks(NULL): %d",
                  hook_name[which], H.set_hooks_null);
    ck_assert_msg(H.fd_calls == 0 && H.timer_calls == 0,
                  "%s: occurred_* dispatched from inside the hook",
                  hook_name[which]);
    /* the refusals changed nothing: the hooks are still set */
    ck_assert_osev_err(osev_set_hooks(H.ctx, &probe_hooks,
                                      sizeof probe_hooks, NULL),
                       -EBUSY);
    osev_occurred_fd(H.ctx, H.ready_tok, p[0], POLLIN, POLLIN);
    ck_assert_int_eq(H.fd_calls, 1);
    osev_ctx_free(H.ctx);
    (void)late;
    close(p[0]), close(p[1]), close(q[0]), close(q[1]);
}
END_TEST

/* ---- release functions (the core's coming rule) ---- */

/*
 * A release runs as a callback of its context: the dispatch and wait
 * calls are -EBUSY from it, afterpoll/afterselect are ignored, and
 * osev_ctx_free() from it takes effect when the call that ran the
 * release returns, which then says -ESTALE (void calls just return).
 *
 * _i, where the release runs:
 *   0  removed in a callback: at the end of that pass (osev_dispatch)
 *   1  removed outside a pass: at the start of osev_dispatch
 *   2  removed outside a pass: at the start of osev_beforepoll
 *   3  removed between beforepoll and afterpoll: from afterpoll
 *   4  removed outside a pass: at the start of osev_loop_once
 * (timers for 2 and 4, fd watches for the others)
 */
#define NRELEASE_PATHS 5

static osev_fd *rel_w;
static osev_timer *rel_t;

static void release_probe(void *arg)
{
    (void)arg;
    probe();
}

static void remover_cb(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now, (void)arg;
    osev_fd_remove(rel_w);
}

static void arm_release(int path)
{
    ck_assert_osev_ok(osev_fd_add(S.ctx, S.pipe_fds[0], POLLIN, nop_fd, NULL,
                                  &rel_w));
    osev_fd_set_release(rel_w, release_probe);
    ck_assert_osev_ok(osev_timer_add(S.ctx, OSEV_TIME_INFINITY, nop_timer,
                                     NULL, &rel_t));
    osev_timer_set_release(rel_t, release_probe);
    if (path == 2 || path == 4)
        osev_fd_set_release(rel_w, NULL);
    else
        osev_timer_set_release(rel_t, NULL);
}

/* Run the release by @path; returns what the call that ran it said
 * (0 for a void call). */
static int run_release(int path)
{
    struct pollfd fds[16];
    int n = 16, timeout = -1, r;
    osev_timer *t;

    switch (path) {
    case 0:
        ck_assert_osev_ok(osev_timer_add(S.ctx, 0, remover_cb, NULL, &t));
        return osev_dispatch(S.ctx);
    case 1:
        osev_fd_remove(rel_w);
        return osev_dispatch(S.ctx);
    case 2:
        osev_timer_remove(rel_t);
        r = osev_beforepoll(S.ctx, &n, fds, &timeout, 0);
        return r;
    case 3:
        ck_assert_osev_ok(osev_beforepoll(S.ctx, &n, fds, &timeout, 0));
        osev_fd_remove(rel_w);
        for (int i = 0; i < n; i++)
            fds[i].revents = 0;
        osev_afterpoll(S.ctx, n, fds, 0);
        return 0;
    default:
        osev_timer_remove(rel_t);
        return osev_loop_once(S.ctx, 0);
    }
}

START_TEST(test_release_refusals)
{
    char where[32];
    int r;

    snprintf(where, sizeof where, "release, path %d", _i);
    setup_ctx();
    arm_release(_i);
    r = run_release(_i);
    /* osev_loop_once(ctx, 0) that ran no callback says -ETIMEDOUT */
    ck_assert_msg(r >= 0 || (_i == 4 && r == -ETIMEDOUT), "%s: %d", where, r);
    check_probe(where);
    check_after(where);
    osev_ctx_free(S.ctx);
    close(S.pipe_fds[0]), close(S.pipe_fds[1]);
}
END_TEST

START_TEST(test_release_frees_ctx)
{
    int r;

    setup_ctx();
    arm_release(_i);
    S.free_ctx = true;
    r = run_release(_i);
    ck_assert_int_eq(S.p.ran, 1);
    if (_i != 3)
        ck_assert_osev_err(r, -ESTALE);
    ck_assert_int_eq(S.victim_releases, 1);
    close(S.pipe_fds[0]), close(S.pipe_fds[1]);
}
END_TEST

static Suite *refusals_suite(void)
{
    Suite *s = suite_create("refusals");
    TCase *callbacks = tcase_create("callbacks");
    TCase *hooks = tcase_create("hooks");
    TCase *release = tcase_create("release (runs as a callback)");

    tcase_add_loop_test(callbacks, refusals_from_each_kind_of_callback, 0,
                        NKINDS);
    tcase_add_loop_test(callbacks, ctx_freed_from_each_kind_of_callback, 0,
                        NKINDS);
    tcase_add_test(callbacks,
                   scheduled_calls_and_deliveries_are_inside_the_pass);
    tcase_add_loop_test(hooks, refusals_inside_each_hook, 0, NHOOKS);
    tcase_add_loop_test(hooks, refusals_inside_each_hook, 8, 8 + NHOOKS);
    tcase_add_loop_test(release, test_release_refusals, 0, NRELEASE_PATHS);
    tcase_add_loop_test(release, test_release_frees_ctx, 0, NRELEASE_PATHS);
    suite_add_tcase(s, callbacks);
    suite_add_tcase(s, hooks);
    suite_add_tcase(s, release);
    return s;
}

int main(void)
{
    return tu_run_suite(refusals_suite());
}
