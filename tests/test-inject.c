/*
 * test-inject.c - allocation failure and hook failure at every point.
 *
 * Each scenario is one public call that may allocate (or call a hook),
 * made on a context set up with watches on shared and unshared fds,
 * timers, a deferred and a scheduled call, and events already posted.
 * The call is run with the k-th allocation failing, for k = 0, 1, ...
 * until it runs with no failure at all.  Every time:
 *
 *  - the call fails with -ENOMEM (NULL and errno ENOMEM for
 *    osev_event_new) and changes nothing that can be seen: the pollfd
 *    array, the deadline, the fds open in the process, and in push mode
 *    the registrations the hooks hold;
 *  - the same call then works on the same context, and every watch,
 *    timer, deferred and scheduled call, signal and child still runs, and
 *    every event posted before is delivered once;
 *  - once the context is freed, every block it allocated is freed and
 *    every fd it opened is closed.
 *
 * Each scenario runs in pull mode and in push mode, under a test double
 * of a foreign loop (the hooks) that runs its own poll() turns; in push
 * mode the hooks' view is checked against the registry's after every
 * step: one registration per distinct fd with the merged mask, one
 * timeout at the earliest deadline.
 *
 * The hook scenario does the same with the hooks failing instead of the
 * allocator: the k-th call of fd_register, fd_modify, timeout_register or
 * timeout_modify fails, over a sequence that sets the hooks with watches
 * present, adds watches on new and shared fds, changes masks, and adds,
 * re-arms and removes timers.
 *
 * Each scenario prints how many injection points it went through.
 */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- an allocator that fails its k-th allocation ---- */

static struct {
    long countdown; /* the allocation that fails when it reaches 0; -1 */
    long failed;    /* failures injected since arming */
    long live;
    bool paused;    /* the test's own allocations: never failed */
} A = { .countdown = -1 };

static void *inj_realloc(void *user, void *ptr, size_t size)
{
    void *p;

    (void)user;
    if (size == 0) {
        if (ptr)
            A.live--;
        free(ptr);
        return NULL;
    }
    if (A.countdown == 0 && !A.paused) {
        A.countdown = -1;
        A.failed++;
        return NULL;
    }
    if (A.countdown > 0 && !A.paused)
        A.countdown--;
    p = realloc(ptr, size);
    if (p && !ptr)
        A.live++;
    return p;
}

static void arm(long k)
{
    A.countdown = k;
    A.failed = 0;
}

/* Disarm; whether an allocation failed since arm(). */
static bool disarm(void)
{
    A.countdown = -1;
    return A.failed > 0;
}

/* ---- a foreign loop that can fail its k-th hook call ---- */

#define MAXREG 64
#define HOOK_ERR (-EPROTO) /* what a failing hook returns */

struct dreg {
    bool live;
    int fd;
    short events;
    bool wide; /* a shrink was refused: may hold more than the registry */
    void *tok;
};

enum dcall { D_NONE, D_FD_REGISTER, D_FD_MODIFY, D_TMO_REGISTER, D_TMO_MODIFY };

static struct dbl {
    osev_ctx *ctx;
    struct dreg regs[MAXREG];
    int nlive;
    bool tmo_live, tmo_armed;
    bool tmo_early;  /* a later deadline was refused: may fire early */
    osev_time tmo_deadline;
    void *tmo_tok;
    int n_release;
    long countdown;  /* the failable call that fails at 0; -1 never */
    long calls;      /* failable calls so far */
    enum dcall failed; /* what failed, D_NONE if nothing */
    bool tolerable;  /* it was a shrink or a later deadline */
} D;

/* Whether this failable call fails. */
static bool d_fail(enum dcall what, bool tolerable)
{
    D.calls++;
    if (D.countdown < 0)
        return false;
    if (D.countdown-- > 0)
        return false;
    D.failed = what;
    D.tolerable = tolerable;
    return true;
}

static int d_fd_register(void *user, int fd, void **reg_out, short events,
                         void *tok)
{
    ck_assert_ptr_eq(user, &D);
    ck_assert_int_ne(events, 0);
    ck_assert_int_eq(events & ~(POLLIN | POLLOUT | POLLPRI), 0);
    for (int i = 0; i < MAXREG; i++)
        ck_assert(!D.regs[i].live || D.regs[i].fd != fd); /* one per fd */
    if (d_fail(D_FD_REGISTER, false))
        return HOOK_ERR;
    for (int i = 0; i < MAXREG; i++) {
        if (D.regs[i].live)
            continue;
        D.regs[i] = (struct dreg){ .live = true, .fd = fd, .events = events,
                                   .tok = tok };
        *reg_out = &D.regs[i];
        D.nlive++;
        return 0;
    }
    ck_abort_msg("double: more than %d registrations", MAXREG);
    return -ENOSPC;
}

static int d_fd_modify(void *user, int fd, void **reg_io, short events)
{
    struct dreg *r = *reg_io;

    ck_assert_ptr_eq(user, &D);
    ck_assert(r->live);
    ck_assert_int_eq(r->fd, fd);
    ck_assert_int_ne(events, 0);
    ck_assert_int_ne(events, r->events); /* only real changes */
    if (d_fail(D_FD_MODIFY, (events & ~r->events) == 0)) {
        if ((events & ~r->events) == 0)
            r->wide = true;
        return HOOK_ERR;
    }
    r->events = events;
    r->wide = false;
    return 0;
}

static void d_fd_deregister(void *user, int fd, void *reg)
{
    struct dreg *r = reg;

    ck_assert_ptr_eq(user, &D);
    ck_assert(r->live);
    ck_assert_int_eq(r->fd, fd);
    r->live = false;
    D.nlive--;
}

static int d_timeout_register(void *user, void **reg_out, osev_time deadline,
                              void *tok)
{
    ck_assert_ptr_eq(user, &D);
    ck_assert(!D.tmo_live); /* one per context */
    if (d_fail(D_TMO_REGISTER, false))
        return HOOK_ERR;
    D.tmo_live = D.tmo_armed = true;
    D.tmo_early = false;
    D.tmo_deadline = deadline;
    D.tmo_tok = tok;
    *reg_out = &D.tmo_live;
    return 0;
}

static int d_timeout_modify(void *user, void **reg_io, osev_time deadline)
{
    bool later = D.tmo_armed && deadline > D.tmo_deadline;

    ck_assert_ptr_eq(user, &D);
    ck_assert_ptr_eq(*reg_io, &D.tmo_live);
    if (d_fail(D_TMO_MODIFY, later)) {
        if (later)
            D.tmo_early = true;
        return HOOK_ERR;
    }
    D.tmo_armed = true;
    D.tmo_early = false;
    D.tmo_deadline = deadline;
    return 0;
}

static void d_timeout_deregister(void *user, void *reg)
{
    ck_assert_ptr_eq(user, &D);
    ck_assert_ptr_eq(reg, &D.tmo_live);
    D.tmo_live = D.tmo_armed = D.tmo_early = false;
}

static void d_release(void *user)
{
    ck_assert_ptr_eq(user, &D);
    D.n_release++;
}

static const struct osev_hooks d_hooks = {
    .fd_register = d_fd_register,
    .fd_modify = d_fd_modify,
    .fd_deregister = d_fd_deregister,
    .timeout_register = d_timeout_register,
    .timeout_modify = d_timeout_modify,
    .timeout_deregister = d_timeout_deregister,
    .release = d_release,
};

/*
 * One turn of the double's loop: poll what it holds for at most @max_ms,
 * then report, from a copy taken before any report (a registration
 * dropped meanwhile gets a stale report, as in a real loop).
 */
static void d_turn(int max_ms)
{
    struct pollfd p[MAXREG];
    struct dreg copy[MAXREG];
    int n = 0, ms = max_ms;

    for (int i = 0; i < MAXREG; i++)
        if (D.regs[i].live) {
            copy[n] = D.regs[i];
            p[n++] = (struct pollfd){ .fd = D.regs[i].fd,
                                      .events = D.regs[i].events };
        }
    if (D.tmo_armed) {
        osev_time left = D.tmo_deadline - osev_now();
        int tms = left <= 0 ? 0 : (int)(left / 1000000 + 1);

        if (tms < ms)
            ms = tms;
    }
    ck_assert_int_ge(poll(p, (nfds_t)n, ms), 0);
    for (int i = 0; i < n; i++)
        if (p[i].revents)
            osev_occurred_fd(D.ctx, copy[i].tok, copy[i].fd, copy[i].events,
                             p[i].revents);
    if (D.tmo_armed && D.tmo_deadline <= osev_now()) {
        D.tmo_armed = false;
        osev_occurred_timeout(D.ctx, D.tmo_tok);
    }
}

/* ---- the world a scenario runs in ---- */

#define MAXS 24 /* socket pairs */
#define MAXW 40 /* watches */
#define MAXT 24 /* timers */

enum { EVQ = 3, EVOCC = 5, EVW = 7 }; /* queued, event_occurs, waited */

struct mwatch {
    osev_fd *w;
    int sock;      /* index in W.socks, or -1 for W.high_fd */
    short events;
    int calls;
};

struct mtimer {
    osev_timer *t;
    osev_time deadline; /* OSEV_TIME_INFINITY: not expected to fire */
    int calls;
    bool posts;         /* posts an EVW event when it fires */
};

static struct world {
    osev_ctx *ctx;
    bool push;
    int fds0;            /* fds open before the world was made */
    int socks[MAXS][2];
    int nsocks;
    int spare;           /* a socket pair no watch uses yet */
    int high_fd;         /* a dup of a socket at a high number, or -1 */
    struct mwatch w[MAXW];
    int nw;
    struct mtimer t[MAXT];
    int nt;
    int deferred, deferred_ran, sched, sched_ran, sched_released;
    int evq_posted, evocc_posted, evocc_got, evw_got;
    osev_signal *sig[2];
    int sig_calls[2];
    int nsig;
    pid_t child;
    osev_child *c;
    int child_calls, child_status;
} W;

static void watch_cb(osev_fd *w, int fd, short revents, void *arg)
{
    struct mwatch *m = arg;
    char buf[64];

    (void)w;
    ck_assert_int_ne(revents & (m->events | POLLERR | POLLHUP | POLLNVAL),
                     0);
    m->calls++;
    while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
        ;
}

/* From callbacks too, which may run inside the call under test: what they
 * allocate is the application's, not a failure point of the call. */
static void post(unsigned type)
{
    osev_event *ev;

    A.paused = true;
    ev = osev_event_new(W.ctx, type, 42, sizeof(int));
    A.paused = false;
    ck_assert_ptr_nonnull(ev);
    osev_event_post(W.ctx, ev);
}

static void timer_cb(osev_timer *t, osev_time now, void *arg)
{
    struct mtimer *m = arg;

    (void)t, (void)now;
    m->calls++;
    if (m->posts)
        post(EVW);
}

static void defer_cb(osev_ctx *ctx, void *arg)
{
    (void)ctx, (void)arg;
    W.deferred_ran++;
}

static void sched_cb(osev_ctx *ctx, void *arg)
{
    (void)ctx, (void)arg;
    W.sched_ran++;
}

static void sched_release(void *arg)
{
    (void)arg;
    W.sched_released++;
}

static void occurs(void *user, osev_event *ev)
{
    (void)user;
    ck_assert_uint_eq(ev->type, EVOCC);
    W.evocc_got++;
    osev_event_free(W.ctx, ev);
}

static void sig_cb(osev_signal *s, int signo, void *arg)
{
    (void)s, (void)signo;
    (*(int *)arg)++;
}

static void child_cb(osev_child *c, pid_t pid, int status, void *arg)
{
    (void)c, (void)arg;
    ck_assert_int_eq(pid, W.child);
    W.child_calls++;
    W.child_status = status;
}

static int sock_new(void)
{
    int i = W.nsocks++;

    ck_assert_int_lt(i, MAXS);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
                                             SOCK_CLOEXEC,
                                0, W.socks[i]),
                     0);
    return i;
}

static int sock_fd(int sock)
{
    return sock < 0 ? W.high_fd : W.socks[sock][0];
}

/* Add a watch to the model if osevent takes it. */
static int watch_add(int sock, short events)
{
    struct mwatch *m = &W.w[W.nw];
    int r;

    ck_assert_int_lt(W.nw, MAXW);
    *m = (struct mwatch){ .sock = sock, .events = events };
    r = osev_fd_add(W.ctx, sock_fd(sock), events, watch_cb, m, &m->w);
    if (r == 0)
        W.nw++;
    return r;
}

static int timer_add(osev_time deadline, bool posts)
{
    struct mtimer *m = &W.t[W.nt];
    int r;

    ck_assert_int_lt(W.nt, MAXT);
    *m = (struct mtimer){ .deadline = deadline, .posts = posts };
    r = osev_timer_add(W.ctx, deadline, timer_cb, m, &m->t);
    if (r == 0)
        W.nt++;
    return r;
}

static void set_hooks(void)
{
    ck_assert_osev_ok(osev_set_hooks(W.ctx, &d_hooks, sizeof d_hooks, &D));
    W.push = true;
}

static void world_new(void)
{
    struct osev_ctx_opts o = { .size = sizeof o, .realloc_fn = inj_realloc };
    struct osev_event_hooks eh = { .event_occurs_mask = 1u << EVOCC,
                                   .event_occurs = occurs };

    memset(&W, 0, sizeof W);
    memset(&D, 0, sizeof D);
    D.countdown = -1;
    W.high_fd = W.spare = -1;
    W.child = -1;
    W.fds0 = tu_count_fds();
    ck_assert_int_eq(A.live, 0);
    disarm();
    ck_assert_osev_ok(osev_ctx_new(&o, &W.ctx));
    D.ctx = W.ctx;
    ck_assert_osev_ok(osev_event_set_hooks(W.ctx, &eh, sizeof eh, NULL));
}

/* ---- what a scenario runs on ---- */

#define S_PUSH 0x1u /* hooks set during setup */
#define S_MANY 0x2u /* pollfd array and timer heap full: the next grows */
#define S_HOOKS_LATE 0x4u /* push mode comes from the call under test */
#define S_TOKS_FULL 0x8u  /* push mode: the hook token table is full */
#define S_LOOP 0x10u      /* the call runs the built-in loop */

/*
 * The usual world: a socket with two POLLIN watches (a shared fd), one
 * with one, one with a POLLOUT watch (always ready), two timers, work
 * pending of every kind, and a spare socket for the call under test.
 * With S_MANY, more sockets and timers, so that the pollfd array (16
 * slots, the wakeup fd's included) and the timer heap (16) are full; with
 * S_TOKS_FULL one socket less, so that in push mode the hook token table
 * (16: one per fd, one for the timeout) is.
 */
static void setup(unsigned flags)
{
    osev_time now = osev_now();
    int s0 = sock_new(), s1 = sock_new(), s2 = sock_new();

    ck_assert_osev_ok(watch_add(s0, POLLIN));
    ck_assert_osev_ok(watch_add(s0, POLLIN));
    ck_assert_osev_ok(watch_add(s1, POLLIN));
    ck_assert_osev_ok(watch_add(s2, POLLOUT));
    ck_assert_osev_ok(timer_add(now + osev_ms(3), false));
    ck_assert_osev_ok(timer_add(now + osev_ms(5), false));
    if (flags & S_TOKS_FULL) {
        for (int i = 0; i < 11; i++)
            ck_assert_osev_ok(watch_add(sock_new(), POLLIN));
    }
    if (flags & S_MANY) {
        for (int i = 0; i < 12; i++)
            ck_assert_osev_ok(watch_add(sock_new(), POLLIN));
        for (int i = 0; i < 14; i++)
            ck_assert_osev_ok(timer_add(now + osev_ms(4 + i), false));
        ck_assert_int_eq(tu_needed(W.ctx), 16);
    }
    W.spare = sock_new();
    ck_assert_osev_ok(osev_defer(W.ctx, defer_cb, NULL));
    W.deferred++;
    ck_assert_osev_ok(osev_schedule(W.ctx, sched_cb, sched_release, NULL));
    W.sched++;
    post(EVQ);
    W.evq_posted++;
    post(EVOCC);
    W.evocc_posted++;
    if (flags & S_PUSH)
        set_hooks();
}

/* ---- views: what the registry and the hooks say ---- */

struct view {
    struct pollfd p[MAXREG];
    int n;
    osev_time deadline;
    unsigned fd_regs, timeout_regs;
    struct dreg regs[MAXREG];
    int nregs;
    bool tmo_live;
    osev_time tmo_deadline;
};

static int by_fd(const void *a, const void *b)
{
    return ((const struct pollfd *)a)->fd - ((const struct pollfd *)b)->fd;
}

static int reg_by_fd(const void *a, const void *b)
{
    return ((const struct dreg *)a)->fd - ((const struct dreg *)b)->fd;
}

/* A dispatch point: what ended is released (its fds closed) first. */
static void view_take(struct view *v)
{
    struct osev_hook_stats st = { .size = sizeof st };
    int timeout = -1;

    memset(v, 0, sizeof *v);
    v->n = MAXREG;
    ck_assert_osev_ok(osev_beforepoll(W.ctx, &v->n, v->p, &timeout, 0));
    qsort(v->p, (size_t)v->n, sizeof v->p[0], by_fd);
    ck_assert_osev_ok(osev_get_deadline(W.ctx, &v->deadline));
    ck_assert_osev_ok(osev_get_hook_stats(W.ctx, &st));
    v->fd_regs = st.fd_regs;
    v->timeout_regs = st.timeout_regs;
    for (int i = 0; i < MAXREG; i++)
        if (D.regs[i].live)
            v->regs[v->nregs++] = D.regs[i];
    qsort(v->regs, (size_t)v->nregs, sizeof v->regs[0], reg_by_fd);
    v->tmo_live = D.tmo_live;
    v->tmo_deadline = D.tmo_deadline;
}

static void view_same(const struct view *a, const struct view *b)
{
    ck_assert_int_eq(a->n, b->n);
    for (int i = 0; i < a->n; i++) {
        ck_assert_int_eq(a->p[i].fd, b->p[i].fd);
        ck_assert_int_eq(a->p[i].events, b->p[i].events);
    }
    ck_assert_int_eq(a->deadline, b->deadline);
    ck_assert_uint_eq(a->fd_regs, b->fd_regs);
    ck_assert_uint_eq(a->timeout_regs, b->timeout_regs);
    ck_assert_int_eq(a->nregs, b->nregs);
    for (int i = 0; i < a->nregs; i++) {
        ck_assert_int_eq(a->regs[i].fd, b->regs[i].fd);
        ck_assert_int_eq(a->regs[i].events, b->regs[i].events);
    }
    ck_assert_int_eq(a->tmo_live, b->tmo_live);
    if (a->tmo_live)
        ck_assert_int_eq(a->tmo_deadline, b->tmo_deadline);
}

static osev_time model_earliest(void)
{
    osev_time e = OSEV_TIME_INFINITY;

    for (int i = 0; i < W.nt; i++)
        if (W.t[i].t && !W.t[i].calls && W.t[i].deadline < e)
            e = W.t[i].deadline;
    return e;
}

static short model_mask(int fd)
{
    short m = 0;

    for (int i = 0; i < W.nw; i++)
        if (W.w[i].w && sock_fd(W.w[i].sock) == fd)
            m |= W.w[i].events;
    return m;
}

/*
 * The registry holds what the model says (each of the model's fds with
 * the union of its watches), and in push mode the hooks hold what the
 * registry holds: the same fds with the same masks (more where a shrink
 * was refused), and one timeout at the earliest deadline (earlier where
 * a later one was refused).  Outside a pass only.
 */
static void views_agree(void)
{
    struct view v;

    view_take(&v);
    for (int i = 0; i < W.nw; i++) {
        int fd = sock_fd(W.w[i].sock);
        short want = model_mask(fd);
        bool found = false;

        for (int j = 0; j < v.n; j++)
            if (v.p[j].fd == fd) {
                ck_assert_int_eq(v.p[j].events, want);
                found = true;
            }
        ck_assert_int_eq(found, want != 0);
    }
    if (!W.push) {
        ck_assert_int_eq(v.nregs, 0);
        ck_assert(!v.tmo_live);
        ck_assert_uint_eq(v.fd_regs, 0);
        return;
    }
    ck_assert_int_eq(v.nregs, v.n);
    ck_assert_uint_eq(v.fd_regs, (unsigned)v.n);
    for (int i = 0; i < v.n; i++) {
        ck_assert_int_eq(v.regs[i].fd, v.p[i].fd);
        if (v.regs[i].wide)
            ck_assert_int_eq(v.p[i].events & ~v.regs[i].events, 0);
        else
            ck_assert_int_eq(v.regs[i].events, v.p[i].events);
    }
    ck_assert_int_eq(v.tmo_live, model_earliest() != OSEV_TIME_INFINITY);
    ck_assert_uint_eq(v.timeout_regs, v.tmo_live);
    if (v.tmo_live && D.tmo_early)
        ck_assert_int_le(v.tmo_deadline, model_earliest());
    else if (v.tmo_live)
        ck_assert_int_eq(v.tmo_deadline, model_earliest());
}

/*
 * The built-in loop makes its epoll set on first need and keeps it, a
 * failed turn too: an fd osevent owns and closes with the context, not
 * one a failed call may leave behind otherwise.
 */
static int count_epoll_fds(void)
{
    int n = 0;

    for (int fd = 0; fd < 1024; fd++) {
        char path[64], target[64];
        ssize_t len;

        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        len = readlink(path, target, sizeof target - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        n += strcmp(target, "anon_inode:[eventpoll]") == 0;
    }
    return n;
}

/* ---- running it all ---- */

static bool all_ran(void)
{
    for (int i = 0; i < W.nw; i++)
        if (W.w[i].w && W.w[i].events && !W.w[i].calls)
            return false;
    for (int i = 0; i < W.nt; i++)
        if (W.t[i].t && W.t[i].deadline != OSEV_TIME_INFINITY &&
            !W.t[i].calls)
            return false;
    for (int i = 0; i < W.nsig; i++)
        if (!W.sig_calls[i])
            return false;
    return W.deferred_ran == W.deferred && W.sched_ran == W.sched &&
           W.evocc_got == W.evocc_posted && (!W.c || W.child_calls);
}

/* One turn of whatever drives the world: the double's loop in push
 * mode, else each way of pull mode in turn. */
static void turn(int i)
{
    struct pollfd fds[MAXREG];
    int n = MAXREG, timeout = 10, r;

    if (W.push) {
        d_turn(10);
        return;
    }
    switch (i % 3) {
    case 0:
        ck_assert_int_ge(osev_dispatch(W.ctx), 0);
        poll(NULL, 0, 1);
        break;
    case 1:
        r = osev_loop_once(W.ctx, osev_now() + osev_ms(10));
        ck_assert_msg(r >= 0 || r == -ETIMEDOUT, "loop_once: %d", r);
        break;
    default:
        ck_assert_osev_ok(osev_beforepoll(W.ctx, &n, fds, &timeout, 0));
        ck_assert_int_ge(poll(fds, (nfds_t)n, timeout), 0);
        osev_afterpoll(W.ctx, n, fds, 0);
        break;
    }
}

/*
 * Make everything ready and run until everything ran: each watch at
 * least once, each timer, deferred and scheduled call exactly once, each
 * event delivered exactly once.
 */
static void world_run(void)
{
    osev_time give_up = osev_now() + osev_s(5);
    osev_event *ev;
    int evq = 0;

    for (int i = 0; i < W.nsocks; i++)
        ck_assert_int_eq(send(W.socks[i][1], "x", 1, MSG_DONTWAIT), 1);
    for (int i = 0; i < W.nsig; i++)
        ck_assert_int_eq(kill(getpid(), SIGUSR1 + i * (SIGUSR2 - SIGUSR1)),
                         0);
    for (int i = 0; !all_ran(); i++) {
        ck_assert_msg(osev_now() < give_up, "not everything ran");
        turn(i);
    }
    for (int i = 0; i < W.nt; i++)
        if (W.t[i].t && W.t[i].deadline != OSEV_TIME_INFINITY)
            ck_assert_int_eq(W.t[i].calls, 1);
    while (osev_event_check(W.ctx, UINT64_C(1) << EVQ, NULL, NULL, &ev) ==
           0) {
        evq++;
        osev_event_free(W.ctx, ev);
    }
    ck_assert_int_eq(evq, W.evq_posted);
    ck_assert_int_eq(W.deferred_ran, W.deferred);
    ck_assert_int_eq(W.sched_ran, W.sched);
    ck_assert_int_eq(W.sched_released, 0);
    ck_assert_int_eq(W.evocc_got, W.evocc_posted);
    if (W.c) {
        ck_assert_int_eq(W.child_calls, 1);
        ck_assert(WIFEXITED(W.child_status));
        ck_assert_int_eq(WEXITSTATUS(W.child_status), 7);
    }
    views_agree();
}

static void world_free(void)
{
    osev_ctx_free(W.ctx);
    W.ctx = NULL;
    ck_assert_int_eq(A.live, 0);
    ck_assert_int_eq(D.nlive, 0);
    ck_assert(!D.tmo_live);
    ck_assert_int_eq(D.n_release, W.push ? 1 : 0);
    for (int i = 0; i < W.nsocks; i++)
        close(W.socks[i][0]), close(W.socks[i][1]);
    if (W.high_fd >= 0)
        close(W.high_fd);
    if (W.child > 0 && !W.child_calls)
        waitpid(W.child, NULL, 0);
    ck_assert_int_eq(tu_count_fds(), W.fds0);
}

/*
 * The heart of it: @call, on the world @flags makes, with the k-th
 * allocation failing for k = 0, 1, ... until it runs clean.  Returns the
 * number of injection points.
 */
typedef int call_fn(void);
typedef void prep_fn(void);

static int inject(const char *name, unsigned flags, prep_fn *prep,
                  call_fn *call)
{
    long k;

    for (k = 0;; k++) {
        struct view before, after;
        int fds, epfds, r;
        bool failed;

        world_new();
        setup(flags);
        if (prep)
            prep();
        views_agree();
        view_take(&before);
        fds = tu_count_fds();
        epfds = count_epoll_fds();
        arm(k);
        r = call();
        failed = disarm();
        if (failed) {
            ck_assert_msg(r == -ENOMEM, "%s, allocation %ld failing: %d (%s)",
                          name, k, r, osev_strerror(r));
            view_take(&after);
            view_same(&before, &after);
            if (flags & S_LOOP) {
                int made = count_epoll_fds() - epfds;

                ck_assert_int_le(made, 1);
                ck_assert_int_eq(tu_count_fds() - made, fds);
            } else {
                ck_assert_int_eq(tu_count_fds(), fds);
            }
            if (flags & S_HOOKS_LATE)
                ck_assert_int_eq(D.n_release, 0);
            /* the same call works on the same context */
            r = call();
            ck_assert_msg(r == 0, "%s, again after allocation %ld failed: "
                          "%d (%s)", name, k, r, osev_strerror(r));
        } else {
            ck_assert_msg(r == 0, "%s: %d (%s)", name, r, osev_strerror(r));
        }
        views_agree();
        world_run();
        world_free();
        if (!failed)
            break;
        ck_assert_int_lt(k, 1000);
    }
    printf("inject: %s (%s%s%s%s): %ld allocation points\n", name,
           flags & (S_PUSH | S_HOOKS_LATE) ? "push" : "pull",
           flags & S_MANY ? ", arrays full" : "",
           flags & S_TOKS_FULL ? ", tokens full" : "",
           getenv("OSEV_BACKEND") ? ", OSEV_BACKEND set" : "", k);
    return (int)k;
}

/* ---- the calls under test ---- */

/* Each returns 0 or a negative errno, and on success updates the model. */

static int call_fd_add_new(void)
{
    return watch_add(W.spare, POLLIN);
}

static int call_fd_add_shared(void)
{
    return watch_add(0, POLLIN); /* socket 0 has two POLLIN watches */
}

static int call_fd_add_shared_grows(void)
{
    return watch_add(1, POLLOUT); /* socket 1: POLLIN becomes both */
}

/* A dup far past the fd table's size: the table grows. */
static void prep_high_fd(void)
{
    W.high_fd = fcntl(W.socks[W.spare][0], F_DUPFD_CLOEXEC, 700);
    ck_assert_int_ge(W.high_fd, 700);
}

static int call_fd_add_high(void)
{
    return watch_add(-1, POLLIN);
}

/* A watch held with no events takes no pollfd slot until it asks for
 * some: then it may need the array to grow. */
static void prep_muted_watch(void)
{
    ck_assert_osev_ok(watch_add(W.spare, 0));
}

static int call_fd_modify_from_zero(void)
{
    struct mwatch *m = &W.w[W.nw - 1];
    int r;

    r = osev_fd_modify(m->w, POLLIN);
    if (r == 0)
        m->events = POLLIN;
    return r;
}

static int call_timer_add(void)
{
    return timer_add(osev_now() + osev_ms(2), false);
}

/* Push mode: every token taken by an fd, none left for the timeout. */
static void prep_tokens_full_no_timeout(void)
{
    for (int i = 0; i < W.nt; i++) {
        osev_timer_remove(W.t[i].t);
        W.t[i].t = NULL;
    }
    ck_assert_osev_ok(watch_add(W.spare, POLLIN));
}

static int call_timer_add_disarmed(void)
{
    return timer_add(OSEV_TIME_INFINITY, false);
}

static int call_defer(void)
{
    int r = osev_defer(W.ctx, defer_cb, NULL);

    W.deferred += r == 0;
    return r;
}

static int call_schedule(void)
{
    int r = osev_schedule(W.ctx, sched_cb, sched_release, NULL);

    W.sched += r == 0;
    return r;
}

static int call_event_new(void)
{
    osev_event *ev;

    errno = 0;
    ev = osev_event_new(W.ctx, EVQ, 1, 100);
    if (!ev) {
        ck_assert_int_ne(errno, 0);
        return -errno;
    }
    osev_event_post(W.ctx, ev);
    W.evq_posted++;
    return 0;
}

static int call_set_hooks(void)
{
    int r = osev_set_hooks(W.ctx, &d_hooks, sizeof d_hooks, &D);

    if (r == 0)
        W.push = true;
    return r;
}

/* No allocation expected: the select round reuses the pollfd array. */
static int call_select(void)
{
    fd_set rfds, wfds, efds;
    struct timeval tv = { 0 };
    bool tv_set = true;
    int maxfd = -1, r;

    FD_ZERO(&rfds);
    FD_ZERO(&wfds);
    FD_ZERO(&efds);
    r = osev_beforeselect(W.ctx, &maxfd, &rfds, &wfds, &efds, &tv, &tv_set,
                          0);
    if (r < 0)
        return r;
    ck_assert_int_ge(select(maxfd + 1, &rfds, &wfds, &efds, &tv), 0);
    osev_afterselect(W.ctx, maxfd, &rfds, &wfds, &efds, 0);
    return 0;
}

/* The built-in loop makes its buffers on first use. */
static int call_loop_once(void)
{
    int r = osev_loop_once(W.ctx, osev_now() + osev_s(2));

    return r > 0 ? 0 : r;
}

static int call_dispatch(void)
{
    int r = osev_dispatch(W.ctx);

    return r > 0 ? 0 : r;
}

/* A waiter runs the built-in loop until a timer's callback posts what it
 * waits for. */
static void prep_poster(void)
{
    ck_assert_osev_ok(timer_add(osev_now(), true));
}

static int call_event_wait(void)
{
    osev_event *ev = NULL;
    int r;

    r = osev_event_wait(W.ctx, UINT64_C(1) << EVW, NULL, NULL,
                        osev_now() + osev_s(5), &ev);
    if (r == 0) {
        ck_assert_uint_eq(ev->type, EVW);
        osev_event_free(W.ctx, ev);
        W.evw_got++;
    }
    return r;
}

static int signal_add(int i)
{
    int signo = i ? SIGUSR2 : SIGUSR1;
    int r;

    W.sig_calls[i] = 0;
    r = osev_signal_add(W.ctx, signo, sig_cb, &W.sig_calls[i], &W.sig[i]);
    if (r == 0)
        W.nsig = i + 1;
    return r;
}

static int call_signal_add(void)
{
    return signal_add(0);
}

/* A second signal: the context's part and its readers exist already. */
static void prep_first_signal(void)
{
    ck_assert_osev_ok(signal_add(0));
}

static int call_signal_add_second(void)
{
    return signal_add(1);
}

static void prep_child(void)
{
    W.child = fork();
    ck_assert_int_ge(W.child, 0);
    if (W.child == 0)
        _exit(7);
}

static int call_child_add(void)
{
    int r;

    r = osev_child_add(W.ctx, W.child, child_cb, NULL, &W.c);
    if (r < 0)
        W.c = NULL;
    return r;
}

/* ---- allocation scenarios ---- */

/* _i: 0 pull, 1 push. */
#define MODE(i) ((i) ? S_PUSH : 0u)

#define ALLOC_TEST(name, flags, prep, call)                                  \
    START_TEST(alloc_##name)                                                 \
    {                                                                        \
        inject(#name, MODE(_i) | (flags), prep, call);                       \
    }                                                                        \
    END_TEST

ALLOC_TEST(fd_add_new_fd, 0, NULL, call_fd_add_new)
ALLOC_TEST(fd_add_new_fd_array_grows, S_MANY, NULL, call_fd_add_new)
ALLOC_TEST(fd_add_new_fd_tokens_grow, S_TOKS_FULL, NULL, call_fd_add_new)
ALLOC_TEST(fd_add_shared_fd, 0, NULL, call_fd_add_shared)
ALLOC_TEST(fd_add_shared_fd_mask_grows, 0, NULL, call_fd_add_shared_grows)
ALLOC_TEST(fd_add_high_fd, 0, prep_high_fd, call_fd_add_high)
ALLOC_TEST(fd_modify_from_no_events, S_MANY, prep_muted_watch,
           call_fd_modify_from_zero)
ALLOC_TEST(timer_add, 0, NULL, call_timer_add)
ALLOC_TEST(timer_add_heap_grows, S_MANY, NULL, call_timer_add)
ALLOC_TEST(timer_add_tokens_grow, S_TOKS_FULL, prep_tokens_full_no_timeout,
           call_timer_add)
ALLOC_TEST(timer_add_disarmed, 0, NULL, call_timer_add_disarmed)
ALLOC_TEST(defer, 0, NULL, call_defer)
ALLOC_TEST(schedule, 0, NULL, call_schedule)
ALLOC_TEST(event_new, 0, NULL, call_event_new)
ALLOC_TEST(select_round, 0, NULL, call_select)
ALLOC_TEST(loop_once, S_LOOP, NULL, call_loop_once)
ALLOC_TEST(dispatch, S_LOOP | S_MANY, NULL, call_dispatch)
ALLOC_TEST(event_wait, S_LOOP, prep_poster, call_event_wait)
ALLOC_TEST(signal_add, 0, NULL, call_signal_add)
ALLOC_TEST(signal_add_second, 0, prep_first_signal, call_signal_add_second)

/* Hooks set on a context that has watches and timers: with S_MANY the
 * token table fills during the registration and grows. */
START_TEST(alloc_set_hooks_with_watches)
{
    inject("set_hooks_with_watches", S_HOOKS_LATE | (_i ? S_MANY : 0u), NULL,
           call_set_hooks);
}
END_TEST

/* _i: 0 pidfd or the system's default, 1 the SIGCHLD path. */
START_TEST(alloc_child_add)
{
    const char *name = _i ? "child_add (sigchld)" : "child_add";

    if (_i)
        setenv("OSEV_CHILD_BACKEND", "sigchld", 1);
    inject(name, 0, prep_child, call_child_add);
    inject(name, S_PUSH, prep_child, call_child_add);
    unsetenv("OSEV_CHILD_BACKEND");
}
END_TEST

/* _i: 0 signalfd and self-pipe, 1 the self-pipe only. */
START_TEST(alloc_signal_add_pipe_only)
{
    setenv("OSEV_SIGNAL_BACKEND", "pipe", 1);
    inject("signal_add (pipe)", MODE(_i), NULL, call_signal_add);
    inject("signal_add_second (pipe)", MODE(_i), prep_first_signal,
           call_signal_add_second);
    unsetenv("OSEV_SIGNAL_BACKEND");
}
END_TEST

START_TEST(alloc_ctx_new)
{
    struct osev_ctx_opts o = { .size = sizeof o, .realloc_fn = inj_realloc };
    struct osev_event_hooks eh = { .event_occurs_mask = 1u << EVOCC,
                                   .event_occurs = occurs };
    int fds0 = tu_count_fds();
    osev_ctx *ctx;
    long k;

    for (k = 0;; k++) {
        bool failed;
        int r;

        ctx = NULL;
        arm(k);
        r = osev_ctx_new(&o, &ctx);
        failed = disarm();
        if (!failed) {
            ck_assert_osev_ok(r);
            break;
        }
        ck_assert_osev_err(r, -ENOMEM);
        ck_assert_ptr_null(ctx);
        ck_assert_int_eq(A.live, 0);
        ck_assert_int_eq(tu_count_fds(), fds0);
    }
    /* the context made is a working one */
    memset(&W, 0, sizeof W);
    memset(&D, 0, sizeof D);
    D.countdown = -1;
    W.ctx = D.ctx = ctx;
    W.fds0 = fds0;
    W.high_fd = W.spare = W.child = -1;
    ck_assert_osev_ok(osev_event_set_hooks(ctx, &eh, sizeof eh, NULL));
    setup(0);
    world_run();
    world_free();
    printf("inject: ctx_new: %ld allocation points\n", k);
}
END_TEST

/* ---- hook failure ---- */

/*
 * The sequence the hooks fail in: each step one osevent call, made on a
 * world that starts in pull mode with watches and timers.
 */
static osev_time t0;

static int step_set_hooks(void)
{
    return call_set_hooks();
}

static int step_fd_add_new(void)
{
    return watch_add(W.spare, POLLIN);
}

static int step_fd_add_shared_same(void)
{
    return watch_add(0, POLLIN);
}

static int step_fd_add_shared_grows(void)
{
    return watch_add(1, POLLOUT);
}

static int modify(int i, short events)
{
    int r = osev_fd_modify(W.w[i].w, events);

    if (r == 0)
        W.w[i].events = events;
    return r;
}

/* W.w[2] is socket 1's POLLIN watch; W.w[3] socket 2's POLLOUT one. */
static int step_modify_grows(void)
{
    return modify(3, POLLIN | POLLOUT);
}

static int step_modify_shrinks(void)
{
    return modify(3, POLLOUT);
}

static int step_modify_moves(void)
{
    return modify(2, POLLOUT);
}

static int remove_watch(int i)
{
    osev_fd_remove(W.w[i].w);
    W.w[i].w = NULL;
    return 0;
}

/* Socket 1's POLLOUT watch, added by step_fd_add_shared_grows: its mask
 * shrinks back. */
static int step_remove_shrinks(void)
{
    for (int i = W.nw - 1; i >= 0; i--)
        if (W.w[i].w && W.w[i].sock == 1 && W.w[i].events == POLLOUT)
            return remove_watch(i);
    return 0;
}

static int timer_set(int i, osev_time deadline)
{
    int r = osev_timer_set(W.t[i].t, deadline);

    if (r == 0)
        W.t[i].deadline = deadline;
    return r;
}

/* Timers 0 and 1 are at about t0 + 3 and + 5 ms (more follow with
 * S_MANY, all later). */
static int t_early = -1;

static int step_timer_add_earlier(void)
{
    int r = timer_add(t0 + osev_ms(2), false);

    if (r == 0)
        t_early = W.nt - 1;
    return r;
}

static int step_timer_add_later(void)
{
    return timer_add(t0 + osev_ms(9), false);
}

static int step_timer_rearm_earlier(void)
{
    return timer_set(1, t0 + osev_ms(1));
}

/* Timer 1 was the earliest: the timeout moves later. */
static int step_timer_rearm_later(void)
{
    return timer_set(1, t0 + osev_ms(6));
}

static int step_timer_remove_earliest(void)
{
    osev_timer_remove(W.t[t_early].t);
    W.t[t_early].t = NULL;
    return 0;
}

static int step_timers_all_disarmed(void)
{
    for (int i = 0; i < W.nt; i++)
        if (W.t[i].t)
            ck_assert_osev_ok(timer_set(i, OSEV_TIME_INFINITY));
    return 0;
}

/* From no timeout registration to one: timeout_register. */
static int step_timer_rearm_from_none(void)
{
    return timer_set(0, osev_now() + osev_ms(2));
}

/* The others go back to firing (for world_run), all later than timer 0:
 * no hook call. */
static int step_timers_rearm_rest(void)
{
    osev_time at = W.t[0].deadline + osev_ms(1);

    for (int i = 1; i < W.nt; i++)
        if (W.t[i].t)
            ck_assert_osev_ok(timer_set(i, at));
    return 0;
}

static int step_fd_remove_last_on_fd(void)
{
    /* socket 2: its only watch goes, and its registration */
    return remove_watch(3);
}

static int step_fd_add_after_deregister(void)
{
    return watch_add(2, POLLIN);
}

static int step_signal_add(void)
{
    return signal_add(0);
}

static int step_child_add(void)
{
    if (W.child < 0)
        prep_child();
    return call_child_add();
}

static call_fn *const steps[] = {
    step_set_hooks,
    step_fd_add_new,
    step_fd_add_shared_same,
    step_fd_add_shared_grows,
    step_modify_grows,
    step_modify_shrinks,
    step_remove_shrinks,
    step_modify_moves,
    step_timer_add_earlier,
    step_timer_add_later,
    step_timer_rearm_earlier,
    step_timer_rearm_later,
    step_timer_remove_earliest,
    step_timers_all_disarmed,
    step_timer_rearm_from_none,
    step_timers_rearm_rest,
    step_fd_remove_last_on_fd,
    step_fd_add_after_deregister,
    step_signal_add,
    step_child_add,
};

#define NSTEPS (sizeof steps / sizeof steps[0])

/* _i: bit 0 more fds and timers, bit 1 the self-pipe for signals and
 * the SIGCHLD path for children. */
START_TEST(hooks_fail_at_every_call)
{
    long k;
    int failing_calls = 0, tolerated = 0;

    if (_i & 2) {
        setenv("OSEV_SIGNAL_BACKEND", "pipe", 1);
        setenv("OSEV_CHILD_BACKEND", "sigchld", 1);
    }
    for (k = 0;; k++) {
        bool failed_in_steps = false;

        world_new();
        t0 = osev_now();
        setup(_i & 1 ? S_MANY : 0u);
        D.countdown = k;
        for (size_t i = 0; i < NSTEPS; i++) {
            struct view before, after;
            int fds, r;

            view_take(&before);
            fds = tu_count_fds();
            D.failed = D_NONE;
            r = steps[i]();
            if (D.failed == D_NONE) {
                ck_assert_msg(r == 0, "step %zu: %d", i, r);
            } else if (r < 0) {
                failed_in_steps = true;
                failing_calls++;
                ck_assert_msg(r == HOOK_ERR, "step %zu, hook call %ld: %d",
                              i, k, r);
                /* a failed call changes nothing */
                view_take(&after);
                view_same(&before, &after);
                ck_assert_int_eq(tu_count_fds(), fds);
                if (i == 0)
                    ck_assert_int_eq(D.n_release, 0);
                /* and then works */
                D.failed = D_NONE;
                r = steps[i]();
                ck_assert_msg(r == 0, "step %zu again: %d", i, r);
            } else {
                /* a shrink or a later deadline: the hooks may keep the
                 * wider registration, and the call does not fail */
                failed_in_steps = true;
                tolerated++;
                ck_assert_msg(D.tolerable, "step %zu: hook call %ld "
                              "failed, call returned 0", i, k);
            }
            views_agree();
        }
        world_run();
        world_free();
        if (!failed_in_steps && D.failed == D_NONE)
            break;
        ck_assert_int_lt(k, 1000);
    }
    unsetenv("OSEV_SIGNAL_BACKEND");
    unsetenv("OSEV_CHILD_BACKEND");
    printf("inject: hooks_fail_at_every_call (%s%s): %ld hook calls, "
           "%d failed their osevent call, %d tolerated\n",
           _i & 1 ? "arrays full" : "few", _i & 2 ? ", pipe, sigchld" : "",
           k, failing_calls, tolerated);
}
END_TEST

static Suite *inject_suite(void)
{
    Suite *s = suite_create("inject");
    TCase *alloc = tcase_create("allocation");
    TCase *more = tcase_create("signals, children, context");
    TCase *hooks = tcase_create("hooks");

    tcase_set_timeout(alloc, 120);
    tcase_set_timeout(more, 120);
    tcase_set_timeout(hooks, 120);
    tcase_add_loop_test(alloc, alloc_fd_add_new_fd, 0, 2);
    tcase_add_loop_test(alloc, alloc_fd_add_new_fd_array_grows, 0, 2);
    tcase_add_loop_test(alloc, alloc_fd_add_new_fd_tokens_grow, 0, 2);
    tcase_add_loop_test(alloc, alloc_fd_add_shared_fd, 0, 2);
    tcase_add_loop_test(alloc, alloc_fd_add_shared_fd_mask_grows, 0, 2);
    tcase_add_loop_test(alloc, alloc_fd_add_high_fd, 0, 2);
    tcase_add_loop_test(alloc, alloc_fd_modify_from_no_events, 0, 2);
    tcase_add_loop_test(alloc, alloc_timer_add, 0, 2);
    tcase_add_loop_test(alloc, alloc_timer_add_heap_grows, 0, 2);
    tcase_add_loop_test(alloc, alloc_timer_add_tokens_grow, 0, 2);
    tcase_add_loop_test(alloc, alloc_timer_add_disarmed, 0, 2);
    tcase_add_loop_test(alloc, alloc_defer, 0, 2);
    tcase_add_loop_test(alloc, alloc_schedule, 0, 2);
    tcase_add_loop_test(alloc, alloc_event_new, 0, 2);
    tcase_add_loop_test(alloc, alloc_set_hooks_with_watches, 0, 2);
    tcase_add_loop_test(alloc, alloc_select_round, 0, 2);
    tcase_add_loop_test(alloc, alloc_loop_once, 0, 2);
    tcase_add_loop_test(alloc, alloc_dispatch, 0, 2);
    tcase_add_loop_test(alloc, alloc_event_wait, 0, 2);
    tcase_add_test(more, alloc_ctx_new);
    tcase_add_loop_test(more, alloc_signal_add, 0, 2);
    tcase_add_loop_test(more, alloc_signal_add_second, 0, 2);
    tcase_add_loop_test(more, alloc_signal_add_pipe_only, 0, 2);
    tcase_add_loop_test(more, alloc_child_add, 0, 2);
    tcase_add_loop_test(hooks, hooks_fail_at_every_call, 0, 4);
    suite_add_tcase(s, alloc);
    suite_add_tcase(s, more);
    suite_add_tcase(s, hooks);
    return s;
}

int main(void)
{
    return tu_run_suite(inject_suite());
}
