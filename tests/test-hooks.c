/*
 * test-hooks.c - push mode against a test double of a foreign loop: a
 * hooks implementation that records every call, can be told to fail, and
 * runs a small poll() loop over what it holds.  Every rule of the header's
 * push-mode section (osev_set_hooks and the osev_occurred_* calls), one by
 * one.
 */
#include "testutil.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

#define MAXREG 16

struct freg {
    bool live;
    int fd;
    short events;
    void *tok;
};

struct fake {
    osev_ctx *ctx;
    struct freg regs[MAXREG];
    int nlive;
    bool tmo_live, tmo_armed;
    osev_time tmo_deadline;
    void *tmo_tok;
    int n_reg, n_mod, n_dereg, n_treg, n_tmod, n_tdereg, n_release;
    int fail_reg_at;      /* fail the Nth fd_register from now; -1 never */
    bool fail_mod, fail_treg, fail_tmod;
    bool reenter;         /* hooks call back into osevent */
    int reenter_rc;
};

static struct fake F;

static int f_fd_register(void *user, int fd, void **reg_out, short events,
                         void *tok)
{
    struct fake *f = user;

    ck_assert_ptr_eq(f, &F);
    ck_assert_int_ne(events, 0);
    if (f->reenter) {
        osev_occurred_fd(f->ctx, tok, fd, events, POLLIN);
        f->reenter_rc = osev_set_hooks(f->ctx, NULL, 0, NULL);
    }
    if (f->fail_reg_at == 0) {
        f->fail_reg_at = -1;
        return -EPERM;
    }
    if (f->fail_reg_at > 0)
        f->fail_reg_at--;
    for (int i = 0; i < MAXREG; i++) {
        if (f->regs[i].live)
            continue;
        f->regs[i] = (struct freg){ true, fd, events, tok };
        *reg_out = &f->regs[i];
        f->nlive++;
        f->n_reg++;
        return 0;
    }
    return -ENOSPC;
}

static int f_fd_modify(void *user, int fd, void **reg_io, short events)
{
    struct fake *f = user;
    struct freg *r = *reg_io;

    ck_assert(r->live);
    ck_assert_int_eq(r->fd, fd);
    ck_assert_int_ne(r->events, events); /* only real changes */
    ck_assert_int_ne(events, 0);
    if (f->fail_mod)
        return -EIO;
    r->events = events;
    f->n_mod++;
    return 0;
}

static void f_fd_deregister(void *user, int fd, void *reg)
{
    struct fake *f = user;
    struct freg *r = reg;

    ck_assert(r->live);
    ck_assert_int_eq(r->fd, fd);
    r->live = false;
    f->nlive--;
    f->n_dereg++;
}

static int f_timeout_register(void *user, void **reg_out, osev_time deadline,
                              void *tok)
{
    struct fake *f = user;

    ck_assert(!f->tmo_live); /* one per context */
    if (f->reenter)
        osev_occurred_timeout(f->ctx, tok);
    if (f->fail_treg)
        return -EIO;
    f->tmo_live = f->tmo_armed = true;
    f->tmo_deadline = deadline;
    f->tmo_tok = tok;
    *reg_out = &f->tmo_live;
    f->n_treg++;
    return 0;
}

static int f_timeout_modify(void *user, void **reg_io, osev_time deadline)
{
    struct fake *f = user;

    ck_assert_ptr_eq(*reg_io, &f->tmo_live);
    if (f->fail_tmod)
        return -EIO;
    f->tmo_armed = true;
    f->tmo_deadline = deadline;
    f->n_tmod++;
    return 0;
}

static void f_timeout_deregister(void *user, void *reg)
{
    struct fake *f = user;

    ck_assert_ptr_eq(reg, &f->tmo_live);
    ck_assert(f->tmo_live);
    f->tmo_live = f->tmo_armed = false;
    f->n_tdereg++;
}

static void f_release(void *user)
{
    ((struct fake *)user)->n_release++;
}

static const struct osev_hooks fake_hooks = {
    .fd_register = f_fd_register,
    .fd_modify = f_fd_modify,
    .fd_deregister = f_fd_deregister,
    .timeout_register = f_timeout_register,
    .timeout_modify = f_timeout_modify,
    .timeout_deregister = f_timeout_deregister,
    .release = f_release,
};

static struct freg *reg_of(int fd)
{
    for (int i = 0; i < MAXREG; i++)
        if (F.regs[i].live && F.regs[i].fd == fd)
            return &F.regs[i];
    return NULL;
}

static osev_ctx *hooked_ctx(void)
{
    memset(&F, 0, sizeof F);
    F.fail_reg_at = -1;
    F.ctx = tu_ctx_new();
    ck_assert_osev_ok(osev_set_hooks(F.ctx, &fake_hooks, sizeof fake_hooks,
                                     &F));
    ck_assert_int_eq(F.nlive, 1); /* the wakeup fd */
    return F.ctx;
}

/*
 * One turn of the fake foreign loop: poll what it holds, for at most
 * @max_ms, then report.  Reports are made from a copy taken before any
 * is delivered, so a registration dropped by an earlier callback of the
 * same turn gets a stale report, as in a real loop.
 */
static void fake_turn(int max_ms)
{
    struct pollfd p[MAXREG];
    struct freg copy[MAXREG];
    int n = 0, ms = max_ms;

    for (int i = 0; i < MAXREG; i++)
        if (F.regs[i].live) {
            copy[n] = F.regs[i];
            p[n++] = (struct pollfd){ F.regs[i].fd, F.regs[i].events, 0 };
        }
    if (F.tmo_armed) {
        osev_time left = F.tmo_deadline - osev_now();
        int tms = left <= 0 ? 0 : (int)(left / 1000000 + 1);

        if (tms < ms)
            ms = tms;
    }
    ck_assert_int_ge(poll(p, (nfds_t)n, ms), 0);
    for (int i = 0; i < n; i++)
        if (p[i].revents)
            osev_occurred_fd(F.ctx, copy[i].tok, copy[i].fd, copy[i].events,
                             p[i].revents);
    if (F.tmo_armed && F.tmo_deadline <= osev_now()) {
        F.tmo_armed = false;
        osev_occurred_timeout(F.ctx, F.tmo_tok);
    }
}

static struct osev_hook_stats stats(void)
{
    struct osev_hook_stats st = { .size = sizeof st };

    ck_assert_osev_ok(osev_get_hook_stats(F.ctx, &st));
    return st;
}

static int calls;
static short last_revents;

static void count_cb(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)arg;
    calls++;
    last_revents = revents;
    tu_drain(fd);
}

static void timer_cb(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now;
    (*(int *)arg)++;
}

/* ---- registration shape ---- */

START_TEST(one_registration_per_fd_merged)
{
    int a[2], b[2];
    osev_fd *w1, *w2, *w3, *w4;

    hooked_ctx();
    tu_pipe(a), tu_pipe(b);
    ck_assert_osev_ok(osev_fd_add(F.ctx, a[0], POLLIN, count_cb, NULL, &w1));
    ck_assert_osev_ok(osev_fd_add(F.ctx, a[0], POLLIN, count_cb, NULL, &w2));
    ck_assert_osev_ok(osev_fd_add(F.ctx, b[0], POLLIN, count_cb, NULL, &w3));
    ck_assert_int_eq(F.nlive, 3);
    ck_assert_int_eq(F.n_mod, 0); /* a second POLLIN watch changes nothing */
    ck_assert_int_eq(reg_of(a[0])->events, POLLIN);

    ck_assert_osev_ok(osev_fd_add(F.ctx, a[0], POLLOUT, count_cb, NULL, &w4));
    ck_assert_int_eq(F.n_mod, 1);
    ck_assert_int_eq(reg_of(a[0])->events, POLLIN | POLLOUT);
    ck_assert_osev_ok(osev_fd_modify(w4, POLLOUT)); /* same: no call */
    ck_assert_int_eq(F.n_mod, 1);
    osev_fd_remove(w4);
    ck_assert_int_eq(F.n_mod, 2);
    ck_assert_int_eq(reg_of(a[0])->events, POLLIN);

    osev_fd_remove(w1);
    ck_assert_int_eq(F.n_dereg, 0); /* w2 still watches a[0] */
    osev_fd_remove(w2);
    ck_assert_int_eq(F.n_dereg, 1);
    ck_assert_ptr_null(reg_of(a[0]));
    ck_assert_int_eq(stats().fd_regs, 2);

    osev_ctx_free(F.ctx);
    ck_assert_int_eq(F.nlive, 0);
    ck_assert_int_eq(F.n_reg, F.n_dereg);
    ck_assert_int_eq(F.n_release, 1);
    close(a[0]), close(a[1]), close(b[0]), close(b[1]);
}
END_TEST

START_TEST(one_timeout_holds_earliest_deadline)
{
    osev_time now = osev_now();
    osev_timer *t1, *t2, *t3;
    int fired = 0;

    hooked_ctx();
    ck_assert(!F.tmo_live);
    ck_assert_osev_ok(osev_timer_add(F.ctx, now + osev_s(20), timer_cb,
                                     &fired, &t1));
    ck_assert(F.tmo_live);
    ck_assert_int_eq(F.tmo_deadline, now + osev_s(20));
    ck_assert_osev_ok(osev_timer_add(F.ctx, now + osev_s(30), timer_cb,
                                     &fired, &t2));
    ck_assert_int_eq(F.n_tmod, 0); /* later: nothing to do */
    ck_assert_osev_ok(osev_timer_add(F.ctx, now + osev_s(10), timer_cb,
                                     &fired, &t3));
    ck_assert_int_eq(F.n_tmod, 1);
    ck_assert_int_eq(F.tmo_deadline, now + osev_s(10));
    ck_assert_int_eq(F.n_treg, 1);
    ck_assert_int_eq(stats().timeout_regs, 1);

    osev_timer_remove(t3);
    ck_assert_int_eq(F.tmo_deadline, now + osev_s(20));
    ck_assert_osev_ok(osev_timer_set(t1, OSEV_TIME_INFINITY));
    ck_assert_int_eq(F.tmo_deadline, now + osev_s(30));
    osev_timer_remove(t2);
    ck_assert(!F.tmo_live); /* no armed timer: no registration */
    ck_assert_int_eq(F.n_tdereg, 1);
    ck_assert_osev_ok(osev_timer_set(t1, now + osev_s(5)));
    ck_assert(F.tmo_live);
    ck_assert_int_eq(F.n_treg, 2);
    osev_ctx_free(F.ctx);
    ck_assert(!F.tmo_live);
    ck_assert_int_eq(F.n_treg, F.n_tdereg);
    ck_assert_int_eq(fired, 0);
}
END_TEST

START_TEST(dispatch_through_the_foreign_loop)
{
    int a[2], fired = 0, turns = 0;
    osev_fd *w;
    osev_timer *t;

    hooked_ctx();
    tu_pipe(a);
    ck_assert_osev_ok(osev_fd_add(F.ctx, a[0], POLLIN, count_cb, NULL, &w));
    ck_assert_osev_ok(osev_timer_add(F.ctx, osev_now() + osev_ms(5),
                                     timer_cb, &fired, &t));
    tu_write_byte(a[1]);
    calls = 0;
    fake_turn(1000);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(last_revents, POLLIN);
    while (!fired && turns++ < 100)
        fake_turn(1000);
    ck_assert_int_eq(fired, 1);
    /* Fired and nothing left armed: the registration went. */
    ck_assert(!F.tmo_live);

    /* A timeout that fires early is re-armed even for the same deadline. */
    ck_assert_osev_ok(osev_timer_set(t, osev_now() + osev_s(60)));
    ck_assert_int_eq(F.n_treg, 2);
    osev_occurred_timeout(F.ctx, F.tmo_tok); /* early: nothing due */
    ck_assert_int_eq(fired, 1);
    ck_assert_int_eq(F.n_tmod, 1); /* re-armed for the same deadline */
    osev_ctx_free(F.ctx);
    close(a[0]), close(a[1]);
}
END_TEST

static void deferred(osev_ctx *ctx, void *arg)
{
    (void)ctx;
    (*(int *)arg)++;
}

static int released;
static void release_cb(void *arg)
{
    (void)arg;
    released++;
}

/* Deferred calls, event deliveries and releases need a pass that only the
 * foreign loop can start: the wakeup fd asks for it. */
START_TEST(pending_work_wakes_the_foreign_loop)
{
    int a[2], ran = 0;
    osev_fd *w;

    hooked_ctx();
    tu_pipe(a);
    ck_assert_osev_ok(osev_defer(F.ctx, deferred, &ran));
    fake_turn(5000);
    ck_assert_int_eq(ran, 1);

    ck_assert_osev_ok(osev_fd_add(F.ctx, a[0], POLLIN, count_cb, NULL, &w));
    osev_fd_set_release(w, release_cb);
    released = 0;
    osev_fd_remove(w);
    ck_assert_int_eq(released, 0); /* never from inside the remove */
    fake_turn(5000);
    ck_assert_int_eq(released, 1);
    osev_ctx_free(F.ctx);
    close(a[0]), close(a[1]);
}
END_TEST

/* Work that a pass run for the foreign loop leaves behind (a call its
 * callback deferred) needs one more pass: when the pass returns, the
 * wakeup fd's registration is already ready, so the foreign loop comes
 * back at once. */
static void defer_from_cb(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)revents;
    tu_drain(fd);
    ck_assert_osev_ok(osev_defer(F.ctx, deferred, arg));
}

START_TEST(work_left_by_a_pass_wakes_the_foreign_loop)
{
    int a[2], ran = 0;
    struct pollfd wake = { .fd = -1, .events = POLLIN };
    osev_fd *w;

    hooked_ctx();
    for (int i = 0; i < MAXREG; i++)
        if (F.regs[i].live)
            wake.fd = F.regs[i].fd; /* the wakeup fd, alone so far */
    tu_pipe(a);
    ck_assert_osev_ok(osev_fd_add(F.ctx, a[0], POLLIN, defer_from_cb, &ran,
                                  &w));
    ck_assert_int_eq(poll(&wake, 1, 0), 0);
    tu_write_byte(a[1]);
    osev_occurred_fd(F.ctx, reg_of(a[0])->tok, a[0], POLLIN, POLLIN);
    ck_assert_int_eq(ran, 0); /* deferred: the next pass */
    ck_assert_int_eq(poll(&wake, 1, 0), 1);
    fake_turn(0);
    ck_assert_int_eq(ran, 1);
    osev_ctx_free(F.ctx);
    close(a[0]), close(a[1]);
}
END_TEST

/* A watch a pushed callback removes is released at the end of the pass
 * that osev_occurred_fd() runs, before it returns: not left for a later
 * pass the foreign loop would have to start. */
static void remove_self_cb(osev_fd *w, int fd, short revents, void *arg)
{
    (void)revents;
    tu_drain(fd);
    (*(int *)arg)++;
    osev_fd_remove(w);
    ck_assert_int_eq(released, 0); /* never from inside the remove */
}

START_TEST(removal_from_a_pushed_callback_released_by_its_pass)
{
    int a[2], ran = 0;
    osev_fd *w;
    void *tok;

    hooked_ctx();
    tu_pipe(a);
    ck_assert_osev_ok(osev_fd_add(F.ctx, a[0], POLLIN, remove_self_cb, &ran,
                                  &w));
    osev_fd_set_release(w, release_cb);
    released = 0;
    tok = reg_of(a[0])->tok;
    tu_write_byte(a[1]);
    osev_occurred_fd(F.ctx, tok, a[0], POLLIN, POLLIN);
    ck_assert_int_eq(ran, 1);
    ck_assert_int_eq(released, 1);
    ck_assert_ptr_null(reg_of(a[0]));
    osev_ctx_free(F.ctx);
    ck_assert_int_eq(released, 1);
    close(a[0]), close(a[1]);
}
END_TEST

/* ---- stale and foreign reports ---- */

START_TEST(stale_tokens_are_ignored)
{
    int a[2], fired = 0;
    osev_fd *w;
    osev_timer *t;
    void *old_tok, *old_ttok;

    hooked_ctx();
    tu_pipe(a);
    ck_assert_osev_ok(osev_fd_add(F.ctx, a[0], POLLIN, count_cb, NULL, &w));
    old_tok = reg_of(a[0])->tok;
    calls = 0;
    osev_fd_remove(w);
    osev_occurred_fd(F.ctx, old_tok, a[0], POLLIN, POLLIN);
    ck_assert_int_eq(calls, 0);

    /* The same fd registered again gets a new token; the old stays dead. */
    ck_assert_osev_ok(osev_fd_add(F.ctx, a[0], POLLIN, count_cb, NULL, &w));
    ck_assert_ptr_ne(reg_of(a[0])->tok, old_tok);
    osev_occurred_fd(F.ctx, old_tok, a[0], POLLIN, POLLIN);
    ck_assert_int_eq(calls, 0);
    /* A live token with another fd, garbage, NULL: ignored. */
    osev_occurred_fd(F.ctx, reg_of(a[0])->tok, a[1], POLLIN, POLLIN);
    osev_occurred_fd(F.ctx, (void *)(uintptr_t)0xdeadbeef, a[0], POLLIN,
                     POLLIN);
    osev_occurred_fd(F.ctx, NULL, a[0], POLLIN, POLLIN);
    ck_assert_int_eq(calls, 0);
    /* An fd token is no timeout token. */
    osev_occurred_timeout(F.ctx, reg_of(a[0])->tok);
    /* The live one works. */
    osev_occurred_fd(F.ctx, reg_of(a[0])->tok, a[0], POLLIN, POLLIN);
    ck_assert_int_eq(calls, 1);

    ck_assert_osev_ok(osev_timer_add(F.ctx, 1, timer_cb, &fired, &t));
    old_ttok = F.tmo_tok;
    osev_timer_remove(t);
    ck_assert(!F.tmo_live);
    ck_assert_osev_ok(osev_timer_add(F.ctx, 1, timer_cb, &fired, &t));
    osev_occurred_timeout(F.ctx, old_ttok);
    ck_assert_int_eq(fired, 0);
    osev_occurred_timeout(F.ctx, F.tmo_tok);
    ck_assert_int_eq(fired, 1);

    /* After the hooks go, none of their tokens is accepted. */
    old_tok = reg_of(a[0])->tok;
    ck_assert_osev_ok(osev_set_hooks(F.ctx, NULL, 0, NULL));
    osev_occurred_fd(F.ctx, old_tok, a[0], POLLIN, POLLIN);
    ck_assert_int_eq(calls, 1);
    osev_ctx_free(F.ctx);
    close(a[0]), close(a[1]);
}
END_TEST

/* A live token names one registration: reported with another watched
 * fd, or as the timeout, it is ignored, even when that fd is ready and a
 * timer is due. */
START_TEST(tokens_of_another_registration_are_ignored)
{
    int a[2], b[2], fired = 0;
    osev_fd *wa, *wb;
    osev_timer *t;

    hooked_ctx();
    tu_pipe(a), tu_pipe(b);
    ck_assert_osev_ok(osev_fd_add(F.ctx, a[0], POLLIN, count_cb, NULL, &wa));
    ck_assert_osev_ok(osev_fd_add(F.ctx, b[0], POLLIN, count_cb, NULL, &wb));
    ck_assert_osev_ok(osev_timer_add(F.ctx, 1, timer_cb, &fired, &t));
    tu_write_byte(a[1]), tu_write_byte(b[1]);
    calls = 0;
    osev_occurred_fd(F.ctx, reg_of(a[0])->tok, b[0], POLLIN, POLLIN);
    osev_occurred_fd(F.ctx, reg_of(b[0])->tok, a[0], POLLIN, POLLIN);
    osev_occurred_timeout(F.ctx, reg_of(a[0])->tok);
    ck_assert_int_eq(calls, 0);
    ck_assert_int_eq(fired, 0);
    /* Each with its own token: served. */
    osev_occurred_fd(F.ctx, reg_of(b[0])->tok, b[0], POLLIN, POLLIN);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(fired, 1); /* the pass found the timer due */
    osev_ctx_free(F.ctx);
    close(a[0]), close(a[1]), close(b[0]), close(b[1]);
}
END_TEST

/* Bits no watch asks for any more (a report for an old, wider mask) are
 * dropped; errors always pass. */
START_TEST(bits_for_an_old_mask_are_filtered)
{
    int a[2];
    osev_fd *w;

    hooked_ctx();
    tu_pipe(a);
    ck_assert_osev_ok(osev_fd_add(F.ctx, a[1], POLLIN, count_cb, NULL, &w));
    calls = 0;
    osev_occurred_fd(F.ctx, reg_of(a[1])->tok, a[1], POLLOUT, POLLOUT);
    ck_assert_int_eq(calls, 0);
    osev_occurred_fd(F.ctx, reg_of(a[1])->tok, a[1], POLLIN, POLLERR);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(last_revents, POLLERR);
    osev_ctx_free(F.ctx);
    close(a[0]), close(a[1]);
}
END_TEST

START_TEST(pollnval_delivered_once_then_deregistered)
{
    int a[2];
    osev_fd *w;
    void *tok;

    hooked_ctx();
    tu_pipe(a);
    ck_assert_osev_ok(osev_fd_add(F.ctx, a[0], POLLIN, count_cb, NULL, &w));
    tok = reg_of(a[0])->tok;
    calls = 0;
    osev_occurred_fd(F.ctx, tok, a[0], POLLIN, POLLNVAL);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(last_revents, POLLNVAL);
    ck_assert_ptr_null(reg_of(a[0])); /* muted: nothing left to watch */
    osev_occurred_fd(F.ctx, tok, a[0], POLLIN, POLLNVAL);
    ck_assert_int_eq(calls, 1);
    osev_fd_remove(w);
    osev_ctx_free(F.ctx);
    close(a[0]), close(a[1]);
}
END_TEST

/* ---- failures roll back ---- */

START_TEST(failing_fd_register_fails_the_add)
{
    int a[2];
    osev_fd *w = NULL;
    struct osev_hook_stats before;

    hooked_ctx();
    tu_pipe(a);
    before = stats();
    F.fail_reg_at = 0;
    ck_assert_osev_err(osev_fd_add(F.ctx, a[0], POLLIN, count_cb, NULL, &w),
                       -EPERM);
    ck_assert_ptr_null(w);
    ck_assert_int_eq(tu_needed(F.ctx), 1); /* nothing entered the registry */
    ck_assert_uint_eq(stats().fd_regs, before.fd_regs);
    ck_assert_osev_ok(osev_fd_add(F.ctx, a[0], POLLIN, count_cb, NULL, &w));
    ck_assert_int_eq(tu_needed(F.ctx), 2);
    osev_ctx_free(F.ctx);
    close(a[0]), close(a[1]);
}
END_TEST

/* osev_set_hooks() on a context with three fds (the wakeup fd and two
 * pipes) and a timer, fd_register failing at position _i: all or none. */
START_TEST(set_hooks_all_or_none)
{
    int a[2], b[2], fired = 0;
    osev_fd *wa, *wb;
    osev_timer *t;
    osev_ctx *ctx = tu_ctx_new();

    tu_pipe(a), tu_pipe(b);
    ck_assert_osev_ok(osev_fd_add(ctx, a[0], POLLIN, count_cb, NULL, &wa));
    ck_assert_osev_ok(osev_fd_add(ctx, b[0], POLLIN, count_cb, NULL, &wb));
    ck_assert_osev_ok(osev_timer_add(ctx, osev_now() + osev_s(9), timer_cb,
                                     &fired, &t));
    memset(&F, 0, sizeof F);
    F.ctx = ctx;
    F.fail_reg_at = _i;
    if (_i < 3) {
        ck_assert_osev_err(osev_set_hooks(ctx, &fake_hooks,
                                          sizeof fake_hooks, &F),
                           -EPERM);
        ck_assert_int_eq(F.nlive, 0);
        ck_assert_int_eq(F.n_reg, F.n_dereg);
        ck_assert_int_eq(F.n_reg, _i);
        ck_assert(!F.tmo_live);
        ck_assert_int_eq(F.n_release, 0); /* never accepted */
    } else {
        /* The timeout failing undoes the fds too. */
        F.fail_reg_at = -1;
        F.fail_treg = true;
        ck_assert_osev_err(osev_set_hooks(ctx, &fake_hooks,
                                          sizeof fake_hooks, &F),
                           -EIO);
        ck_assert_int_eq(F.nlive, 0);
        ck_assert_int_eq(F.n_reg, 3);
        ck_assert_int_eq(F.n_dereg, 3);
    }
    /* And nothing changed: hooks can be set now. */
    F.fail_reg_at = -1;
    F.fail_treg = false;
    ck_assert_osev_ok(osev_set_hooks(ctx, &fake_hooks, sizeof fake_hooks, &F));
    ck_assert_int_eq(F.nlive, 3);
    ck_assert(F.tmo_live);
    osev_ctx_free(ctx);
    ck_assert_int_eq(F.nlive, 0);
    ck_assert_int_eq(F.n_release, 1);
    close(a[0]), close(a[1]), close(b[0]), close(b[1]);
}
END_TEST

START_TEST(failing_modify_rolls_back)
{
    int a[2];
    osev_fd *w1, *w2;

    hooked_ctx();
    tu_pipe(a);
    ck_assert_osev_ok(osev_fd_add(F.ctx, a[1], POLLIN, count_cb, NULL, &w1));
    ck_assert_osev_ok(osev_fd_add(F.ctx, a[1], 0, count_cb, NULL, &w2));
    F.fail_mod = true;
    /* Growing: refused, the watch keeps its events. */
    ck_assert_osev_err(osev_fd_modify(w2, POLLOUT), -EIO);
    ck_assert_osev_err(osev_fd_add(F.ctx, a[1], POLLOUT, count_cb, NULL, &w2),
                       -EIO);
    calls = 0;
    osev_occurred_fd(F.ctx, reg_of(a[1])->tok, a[1], POLLIN, POLLOUT);
    ck_assert_int_eq(calls, 0);
    F.fail_mod = false;
    ck_assert_osev_ok(osev_fd_modify(w1, POLLIN | POLLOUT));
    /* Shrinking cannot fail: the wider registration stays, its extra
     * bits filtered. */
    F.fail_mod = true;
    ck_assert_osev_ok(osev_fd_modify(w1, POLLIN));
    ck_assert_int_eq(reg_of(a[1])->events, POLLIN | POLLOUT);
    osev_occurred_fd(F.ctx, reg_of(a[1])->tok, a[1], POLLIN | POLLOUT,
                     POLLOUT);
    ck_assert_int_eq(calls, 0);
    osev_ctx_free(F.ctx);
    ck_assert_int_eq(F.nlive, 0);
    close(a[0]), close(a[1]);
}
END_TEST

/*
 * fd_modify is for a change of what the registration holds, never for
 * its present value: not when the merged mask comes back to what a
 * refused shrink left registered, not when one watch of several changes
 * without changing the union.  f_fd_modify asserts it, and the counts
 * say no call was made.
 */
START_TEST(no_modify_to_the_mask_already_held)
{
    int a[2];
    osev_fd *w1, *w2;
    struct freg *reg;

    hooked_ctx();
    tu_pipe(a);
    ck_assert_osev_ok(osev_fd_add(F.ctx, a[1], POLLIN | POLLOUT, count_cb,
                                  NULL, &w1));
    reg = reg_of(a[1]);
    ck_assert_int_eq(reg->events, POLLIN | POLLOUT);

    /* a shrink the loop refuses leaves IN|OUT registered ... */
    F.fail_mod = true;
    ck_assert_osev_ok(osev_fd_modify(w1, POLLIN));
    F.fail_mod = false;
    ck_assert_int_eq(reg->events, POLLIN | POLLOUT);
    /* ... so growing back to IN|OUT needs no call */
    ck_assert_osev_ok(osev_fd_modify(w1, POLLIN | POLLOUT));
    ck_assert_int_eq(F.n_mod, 0);
    ck_assert_int_eq(reg->events, POLLIN | POLLOUT);
    /* and the next real change still happens */
    ck_assert_osev_ok(osev_fd_modify(w1, POLLIN));
    ck_assert_int_eq(F.n_mod, 1);
    ck_assert_int_eq(reg->events, POLLIN);

    /* the mask going away and back: deregister and register, no modify */
    ck_assert_osev_ok(osev_fd_modify(w1, 0));
    ck_assert_ptr_null(reg_of(a[1]));
    ck_assert_osev_ok(osev_fd_modify(w1, POLLIN));
    ck_assert_ptr_nonnull(reg_of(a[1]));
    ck_assert_int_eq(F.n_mod, 1);

    /* two watches on the fd: changes of one inside the union are silent */
    ck_assert_osev_ok(osev_fd_add(F.ctx, a[1], POLLIN, count_cb, NULL, &w2));
    ck_assert_osev_ok(osev_fd_modify(w2, 0));
    ck_assert_osev_ok(osev_fd_modify(w2, POLLIN));
    osev_fd_remove(w2);
    ck_assert_int_eq(F.n_mod, 1);
    ck_assert_int_eq(F.n_reg, 3); /* the wakeup fd, a[1] twice */
    ck_assert_int_eq(F.n_dereg, 1);
    ck_assert_uint_eq(stats().fd_modifies, 1);
    osev_ctx_free(F.ctx);
    close(a[0]), close(a[1]);
}
END_TEST

START_TEST(failing_timeout_hooks_fail_the_timer_call)
{
    osev_time now = osev_now();
    osev_timer *t1, *t2 = NULL;
    int fired = 0;

    hooked_ctx();
    F.fail_treg = true;
    ck_assert_osev_err(osev_timer_add(F.ctx, now + osev_s(10), timer_cb,
                                      &fired, &t1),
                       -EIO);
    F.fail_treg = false;
    ck_assert_osev_ok(osev_timer_add(F.ctx, now + osev_s(10), timer_cb,
                                     &fired, &t1));
    F.fail_tmod = true;
    /* Earlier than the registration: must be refused, unchanged. */
    ck_assert_osev_err(osev_timer_add(F.ctx, now + osev_s(1), timer_cb,
                                      &fired, &t2),
                       -EIO);
    ck_assert_ptr_null(t2);
    ck_assert_osev_err(osev_timer_set(t1, now + osev_s(1)), -EIO);
    ck_assert_int_eq(F.tmo_deadline, now + osev_s(10));
    /* Later: harmless, accepted (the early expiry re-arms). */
    ck_assert_osev_ok(osev_timer_set(t1, now + osev_s(20)));
    ck_assert_int_eq(F.tmo_deadline, now + osev_s(10));
    F.fail_tmod = false;
    osev_occurred_timeout(F.ctx, F.tmo_tok);
    ck_assert_int_eq(fired, 0);
    ck_assert_int_eq(F.tmo_deadline, now + osev_s(20));
    osev_ctx_free(F.ctx);
}
END_TEST

/* ---- the rules of calling ---- */

START_TEST(occurred_from_inside_a_hook_is_refused)
{
    int a[2];
    osev_fd *w;
    osev_timer *t;
    int fired = 0;

    hooked_ctx();
    tu_pipe(a);
    tu_write_byte(a[1]);
    F.reenter = true;
    calls = 0;
    ck_assert_osev_ok(osev_fd_add(F.ctx, a[0], POLLIN, count_cb, NULL, &w));
    ck_assert_osev_ok(osev_timer_add(F.ctx, 1, timer_cb, &fired, &t));
    ck_assert_int_eq(F.reenter_rc, -EBUSY); /* set_hooks from a hook */
    ck_assert_int_eq(calls, 0);             /* no recursion, no deadlock */
    ck_assert_int_eq(fired, 0);
    F.reenter = false;
    ck_assert(reg_of(a[0]) != NULL);
    osev_ctx_free(F.ctx);
    close(a[0]), close(a[1]);
}
END_TEST

START_TEST(hooks_struct_is_copied)
{
    struct osev_hooks h = fake_hooks;
    int a[2];
    osev_fd *w;
    osev_ctx *ctx = tu_ctx_new();

    memset(&F, 0, sizeof F);
    F.fail_reg_at = -1;
    tu_pipe(a);
    ck_assert_osev_ok(osev_set_hooks(ctx, &h, sizeof h, &F));
    memset(&h, 0, sizeof h);
    ck_assert_osev_ok(osev_fd_add(ctx, a[0], POLLIN, count_cb, NULL, &w));
    ck_assert_int_eq(F.nlive, 2);
    osev_ctx_free(ctx);
    ck_assert_int_eq(F.nlive, 0);
    close(a[0]), close(a[1]);
}
END_TEST

START_TEST(bad_arguments)
{
    struct osev_hooks h = fake_hooks;
    struct osev_hook_stats st = { .size = 1 };
    osev_ctx *ctx = tu_ctx_new();

    ck_assert_osev_err(osev_set_hooks(NULL, &h, sizeof h, &F), -EINVAL);
    ck_assert_osev_err(osev_set_hooks(ctx, &h, 3, &F), -EINVAL);
    h.timeout_modify = NULL;
    ck_assert_osev_err(osev_set_hooks(ctx, &h, sizeof h, &F), -EINVAL);
    h = fake_hooks;
    h.release = NULL; /* optional */
    memset(&F, 0, sizeof F);
    F.fail_reg_at = -1;
    ck_assert_osev_ok(osev_set_hooks(ctx, &h, sizeof h, &F));
    ck_assert_osev_err(osev_set_hooks(ctx, &h, sizeof h, &F), -EBUSY);
    ck_assert_osev_err(osev_get_hook_stats(ctx, &st), -EINVAL);
    ck_assert_osev_err(osev_get_hook_stats(ctx, NULL), -EINVAL);
    osev_occurred_fd(NULL, NULL, 0, 0, 0);
    osev_occurred_timeout(NULL, NULL);
    ck_assert_osev_ok(osev_set_hooks(ctx, NULL, 0, NULL));
    ck_assert_osev_ok(osev_set_hooks(ctx, NULL, 0, NULL)); /* twice: fine */
    ck_assert_int_eq(F.nlive, 0);
    osev_ctx_free(ctx);
}
END_TEST

/* Every member but release is required: each one NULL is -EINVAL, and
 * nothing is registered. */
START_TEST(every_required_member_checked)
{
    osev_ctx *ctx = tu_ctx_new();

    memset(&F, 0, sizeof F);
    F.fail_reg_at = -1;
    for (int i = 0; i < 6; i++) {
        struct osev_hooks h = fake_hooks;

        switch (i) {
        case 0: h.fd_register = NULL; break;
        case 1: h.fd_modify = NULL; break;
        case 2: h.fd_deregister = NULL; break;
        case 3: h.timeout_register = NULL; break;
        case 4: h.timeout_modify = NULL; break;
        default: h.timeout_deregister = NULL; break;
        }
        ck_assert_osev_err(osev_set_hooks(ctx, &h, sizeof h, &F), -EINVAL);
        ck_assert_int_eq(F.n_reg, 0);
    }
    osev_ctx_free(ctx);
    ck_assert_int_eq(F.n_release, 0);
}
END_TEST

/* Pull mode and the built-in loop keep working beside the hooks. */
START_TEST(pull_and_loop_beside_hooks)
{
    int a[2];
    osev_fd *w;

    hooked_ctx();
    tu_pipe(a);
    ck_assert_osev_ok(osev_fd_add(F.ctx, a[0], POLLIN, count_cb, NULL, &w));
    calls = 0;
    tu_write_byte(a[1]);
    tu_drive(F.ctx, TU_DRIVE_PULL);
    ck_assert_int_eq(calls, 1);
    tu_write_byte(a[1]);
    tu_check_count(tu_drive(F.ctx, TU_DRIVE_LOOP), 1);
    ck_assert_int_eq(calls, 2);
    ck_assert_int_eq(F.nlive, 2);
    osev_ctx_free(F.ctx);
    close(a[0]), close(a[1]);
}
END_TEST

static void free_ctx_cb(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)fd, (void)revents;
    osev_ctx_free(arg);
}

START_TEST(ctx_freed_from_a_pushed_callback)
{
    int a[2];
    osev_fd *w;

    hooked_ctx();
    tu_pipe(a);
    ck_assert_osev_ok(osev_fd_add(F.ctx, a[0], POLLIN, free_ctx_cb, F.ctx,
                                  &w));
    tu_write_byte(a[1]);
    fake_turn(5000);
    ck_assert_int_eq(F.nlive, 0);
    ck_assert_int_eq(F.n_reg, F.n_dereg);
    ck_assert_int_eq(F.n_release, 1);
    close(a[0]), close(a[1]);
}
END_TEST

/* A report from another thread runs the pass on that thread. */
static void *report_thread(void *arg)
{
    struct freg *r = arg;

    osev_occurred_fd(F.ctx, r->tok, r->fd, r->events, POLLIN);
    return NULL;
}

START_TEST(occurred_from_another_thread)
{
    int a[2];
    osev_fd *w;
    pthread_t th;

    hooked_ctx();
    tu_pipe(a);
    ck_assert_osev_ok(osev_fd_add(F.ctx, a[0], POLLIN, count_cb, NULL, &w));
    tu_write_byte(a[1]);
    calls = 0;
    ck_assert_int_eq(pthread_create(&th, NULL, report_thread, reg_of(a[0])),
                     0);
    pthread_join(th, NULL);
    ck_assert_int_eq(calls, 1);
    osev_ctx_free(F.ctx);
    close(a[0]), close(a[1]);
}
END_TEST

static Suite *hooks_suite(void)
{
    Suite *s = suite_create("hooks");
    TCase *shape = tcase_create("shape");
    TCase *stale = tcase_create("stale");
    TCase *fail = tcase_create("failure");
    TCase *rules = tcase_create("rules");

    tcase_add_test(shape, one_registration_per_fd_merged);
    tcase_add_test(shape, one_timeout_holds_earliest_deadline);
    tcase_add_test(shape, dispatch_through_the_foreign_loop);
    tcase_add_test(shape, pending_work_wakes_the_foreign_loop);
    tcase_add_test(shape, work_left_by_a_pass_wakes_the_foreign_loop);
    tcase_add_test(shape, removal_from_a_pushed_callback_released_by_its_pass);
    tcase_add_test(stale, stale_tokens_are_ignored);
    tcase_add_test(stale, tokens_of_another_registration_are_ignored);
    tcase_add_test(stale, bits_for_an_old_mask_are_filtered);
    tcase_add_test(stale, pollnval_delivered_once_then_deregistered);
    tcase_add_test(fail, failing_fd_register_fails_the_add);
    tcase_add_loop_test(fail, set_hooks_all_or_none, 0, 4);
    tcase_add_test(fail, failing_modify_rolls_back);
    tcase_add_test(fail, no_modify_to_the_mask_already_held);
    tcase_add_test(fail, failing_timeout_hooks_fail_the_timer_call);
    tcase_add_test(rules, occurred_from_inside_a_hook_is_refused);
    tcase_add_test(rules, hooks_struct_is_copied);
    tcase_add_test(rules, bad_arguments);
    tcase_add_test(rules, every_required_member_checked);
    tcase_add_test(rules, pull_and_loop_beside_hooks);
    tcase_add_test(rules, ctx_freed_from_a_pushed_callback);
    tcase_add_test(rules, occurred_from_another_thread);
    suite_add_tcase(s, shape);
    suite_add_tcase(s, stale);
    suite_add_tcase(s, fail);
    suite_add_tcase(s, rules);
    return s;
}

int main(void)
{
    return tu_run_suite(hooks_suite());
}
