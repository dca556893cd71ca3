/*
 * test-timer.c - one-shot timers: order (deadline, then arming order),
 * re-arming, disarming, removal during a pass, the timeout they give
 * osev_beforepoll(), osev_get_deadline(), heap correctness on many
 * timers, and the time helpers.
 *
 * Most deadlines are in the past (a few nanoseconds after the clock's
 * origin), so they are due at once and the tests check order, not
 * durations.  Where a test needs "later", pull mode lets it hand
 * osev_afterpoll() a made-up `now`.
 */
#include "testutil.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A pull round whose afterpoll is given @now (no fd reported). */
static void pull_at(osev_ctx *ctx, osev_time now)
{
    struct pollfd fds[TU_PULL_ROOM];
    int n = TU_PULL_ROOM, timeout = -1;

    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, now));
    for (int i = 0; i < n; i++)
        fds[i].revents = 0;
    osev_afterpoll(ctx, n, fds, now);
}

static int beforepoll_timeout(osev_ctx *ctx, int caller, osev_time now)
{
    struct pollfd fds[TU_PULL_ROOM];
    int n = TU_PULL_ROOM, timeout = caller;

    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, now));
    return timeout;
}

static osev_time get_deadline(osev_ctx *ctx)
{
    osev_time d = -1;

    ck_assert_osev_ok(osev_get_deadline(ctx, &d));
    return d;
}

/* ---- recording timers ---- */

#define MAX_LOG 64

static int fire_log[MAX_LOG], nfire;

struct trec {
    osev_timer *t;
    osev_ctx *ctx;
    int id;
    int calls;
    int released;
    osev_time deadline;   /* what the test armed it for */
    osev_time last_now;   /* the now of the last call */
    /* optional actions, on the first call */
    struct trec *remove_other;
    int estale_result;
    bool remove_self;
    bool free_ctx;
    /* re-arm from the callback while rearm_left > 0 */
    int rearm_left;
    osev_time rearm_step; /* now + step; a negative step: deadline 0 */
};

static int in_callback, release_in_callback;

static void trec_release(void *arg)
{
    struct trec *r = arg;

    r->released++;
    if (in_callback)
        release_in_callback++;
}

static void trec_cb(osev_timer *t, osev_time now, void *arg)
{
    struct trec *r = arg;

    ck_assert_ptr_eq(t, r->t);
    ck_assert_int_le(r->deadline, now);
    in_callback++;
    r->calls++;
    r->last_now = now;
    r->deadline = OSEV_TIME_INFINITY; /* one-shot */
    ck_assert_int_lt(nfire, MAX_LOG);
    fire_log[nfire++] = r->id;
    if (r->calls == 1 && r->remove_other) {
        int before = r->remove_other->released;

        osev_timer_remove(r->remove_other->t);
        ck_assert_int_eq(r->remove_other->released, before);
        r->estale_result = osev_timer_set(r->remove_other->t, 0);
        osev_timer_remove(r->remove_other->t); /* a no-op now */
    }
    if (r->calls == 1 && r->remove_self) {
        osev_timer_remove(t);
        ck_assert_int_eq(r->released, 0);
    }
    if (r->rearm_left > 0) {
        r->rearm_left--;
        r->deadline = r->rearm_step < 0 ? 0 : now + r->rearm_step;
        ck_assert_osev_ok(osev_timer_set(t, r->deadline));
    }
    if (r->calls == 1 && r->free_ctx)
        osev_ctx_free(r->ctx);
    in_callback--;
}

static void trec_add(osev_ctx *ctx, struct trec *r, int id, osev_time deadline)
{
    memset(r, 0, sizeof *r);
    r->ctx = ctx;
    r->id = id;
    r->deadline = deadline;
    r->estale_result = 1;
    ck_assert_osev_ok(osev_timer_add(ctx, deadline, trec_cb, r, &r->t));
    ck_assert_ptr_nonnull(r->t);
    osev_timer_set_release(r->t, trec_release);
}

static void trec_set(struct trec *r, osev_time deadline)
{
    ck_assert_osev_ok(osev_timer_set(r->t, deadline));
    r->deadline = deadline;
}

static void reset_log(void)
{
    nfire = 0;
    in_callback = release_in_callback = 0;
}

static void check_log(const int *expected, int n)
{
    ck_assert_int_eq(nfire, n);
    for (int i = 0; i < n; i++)
        ck_assert_msg(fire_log[i] == expected[i],
                      "fire %d: timer %d, expected %d", i, fire_log[i],
                      expected[i]);
}

/* ---- order ---- */

/* Equal past deadlines: in the order added. */
START_TEST(fifo_ties)
{
    int before = tu_count_fds();
    osev_ctx *ctx = tu_ctx_new();
    struct trec r[8];
    static const int expected[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };

    reset_log();
    for (int i = 0; i < 8; i++)
        trec_add(ctx, &r[i], i, 1);
    tu_check_count(tu_drive(ctx, _i), 8);
    check_log(expected, 8);
    osev_ctx_free(ctx);
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(r[i].released, 1);
    ck_assert_int_eq(tu_count_fds(), before);
}
END_TEST

/* Added disarmed, then armed in a known order: that order wins ties. */
START_TEST(ties_follow_arming_order)
{
    osev_ctx *ctx = tu_ctx_new();
    struct trec r[6];
    static const int arm[6] = { 3, 1, 5, 0, 4, 2 };

    reset_log();
    for (int i = 0; i < 6; i++)
        trec_add(ctx, &r[i], i, OSEV_TIME_INFINITY);
    for (int i = 0; i < 6; i++)
        trec_set(&r[arm[i]], 7);
    tu_check_count(tu_drive(ctx, _i), 6);
    check_log(arm, 6);
    osev_ctx_free(ctx);
}
END_TEST

/* Re-arming to the same deadline counts as a new arming. */
START_TEST(rearm_same_deadline_goes_last)
{
    osev_ctx *ctx = tu_ctx_new();
    struct trec r[4];
    static const int expected[4] = { 1, 2, 3, 0 };
    static const int expected2[4] = { 1, 3, 0, 2 };

    reset_log();
    for (int i = 0; i < 4; i++)
        trec_add(ctx, &r[i], i, 10);
    trec_set(&r[0], 10);
    tu_check_count(tu_drive(ctx, _i), 4);
    check_log(expected, 4);

    /* Fired timers re-armed: the new arming order counts, not the old. */
    reset_log();
    trec_set(&r[1], 10);
    trec_set(&r[2], 10);
    trec_set(&r[3], 10);
    trec_set(&r[0], 10);
    trec_set(&r[2], 10);
    tu_check_count(tu_drive(ctx, _i), 4);
    check_log(expected2, 4);
    osev_ctx_free(ctx);
}
END_TEST

/* Different past deadlines: deadline order, ties by arming order. */
START_TEST(mixed_deadlines)
{
    osev_ctx *ctx = tu_ctx_new();
    static const osev_time dl[10] = { 50, 10, 30, 10, 40, 30, 10, 20, 1, 50 };
    static const int expected[10] = { 8, 1, 3, 6, 7, 2, 5, 4, 0, 9 };
    struct trec r[10];

    reset_log();
    for (int i = 0; i < 10; i++)
        trec_add(ctx, &r[i], i, dl[i]);
    tu_check_count(tu_drive(ctx, _i), 10);
    check_log(expected, 10);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(r[i].calls, 1);
    osev_ctx_free(ctx);
}
END_TEST

/* Re-arming to an earlier deadline moves a timer ahead; only due timers
 * fire, and the callback sees the pass's now. */
START_TEST(rearm_earlier_moves_ahead)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_time base = osev_now();
    struct trec a, b, c;
    static const int expected[2] = { 1, 0 };
    static const int expected2[1] = { 2 };

    reset_log();
    trec_add(ctx, &a, 0, base + osev_s(3600));
    trec_add(ctx, &b, 1, base + osev_s(7200));
    trec_add(ctx, &c, 2, base + osev_s(5400));
    ck_assert_int_eq(get_deadline(ctx), base + osev_s(3600));
    trec_set(&b, base + osev_s(1800));
    ck_assert_int_eq(get_deadline(ctx), base + osev_s(1800));

    pull_at(ctx, base + osev_s(4500));
    check_log(expected, 2);
    ck_assert_int_eq(a.last_now, base + osev_s(4500));
    ck_assert_int_eq(b.last_now, base + osev_s(4500));
    ck_assert_int_eq(c.calls, 0);
    ck_assert_int_eq(get_deadline(ctx), base + osev_s(5400));

    /* A deadline equal to now is due. */
    reset_log();
    pull_at(ctx, base + osev_s(5400) - 1);
    ck_assert_int_eq(nfire, 0);
    pull_at(ctx, base + osev_s(5400));
    check_log(expected2, 1);
    ck_assert_int_eq(get_deadline(ctx), OSEV_TIME_INFINITY);
    osev_ctx_free(ctx);
}
END_TEST

/* ---- re-arming, one-shot, disarming ---- */

/* A periodic timer: re-armed from its own callback 1 ms ahead, in real
 * time through the built-in loop; fires N times, then stops. */
START_TEST(periodic_from_own_callback)
{
    enum { N = 5 };
    int before = tu_count_fds();
    osev_ctx *ctx = tu_ctx_new();
    osev_time start = osev_now(), limit = start + osev_s(30);
    struct trec r;
    int passes = 0;

    reset_log();
    trec_add(ctx, &r, 0, start + osev_ms(2));
    r.rearm_left = N - 1;
    r.rearm_step = osev_ms(1);
    while (r.calls < N) {
        int ret = osev_loop_once(ctx, osev_now() + osev_s(5));

        ck_assert_int_ge(ret, 0);
        ck_assert_int_le(ret, 1);
        ck_assert_int_lt(osev_now(), limit);
        passes++;
    }
    ck_assert_int_eq(r.calls, N);
    ck_assert_int_le(passes, 4 * N);
    /* each firing at least 1 ms after the one before */
    ck_assert_int_ge(r.last_now, start + osev_ms(2) + osev_ms(N - 1));
    ck_assert_int_ge(osev_now(), r.last_now);

    /* Stopped: disarmed, nothing more. */
    ck_assert_int_eq(get_deadline(ctx), OSEV_TIME_INFINITY);
    ck_assert_int_eq(osev_dispatch(ctx), 0);
    ck_assert_int_eq(osev_loop_once(ctx, osev_now() + osev_ms(20)),
                     -ETIMEDOUT);
    ck_assert_int_eq(r.calls, N);
    ck_assert_int_eq(r.released, 0);
    osev_ctx_free(ctx);
    ck_assert_int_eq(r.released, 1);
    ck_assert_int_eq(tu_count_fds(), before);
}
END_TEST

/* Re-armed in the past from its own callback: once per pass, never a
 * loop inside one pass. */
START_TEST(rearm_past_once_per_pass)
{
    osev_ctx *ctx = tu_ctx_new();
    struct trec r, other;

    reset_log();
    trec_add(ctx, &r, 0, 1);
    trec_add(ctx, &other, 1, 2);
    r.rearm_left = 3;
    r.rearm_step = -1;
    for (int pass = 1; pass <= 4; pass++) {
        tu_check_count(tu_drive(ctx, _i), pass == 1 ? 2 : 1);
        ck_assert_int_eq(r.calls, pass);
        ck_assert_int_eq(other.calls, 1);
        ck_assert_int_eq(beforepoll_timeout(ctx, -1, 0),
                         pass < 4 ? 0 : -1);
    }
    ck_assert_int_eq(osev_dispatch(ctx), 0);
    ck_assert_int_eq(r.calls, 4);
    osev_ctx_free(ctx);
}
END_TEST

/* One-shot: fired, it stays allocated and disarmed, can be re-armed. */
START_TEST(oneshot_stays_and_rearms)
{
    osev_ctx *ctx = tu_ctx_new();
    struct trec r;

    reset_log();
    trec_add(ctx, &r, 0, 1);
    tu_check_count(tu_drive(ctx, _i), 1);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(osev_dispatch(ctx), 0);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(r.released, 0);
    ck_assert_int_eq(get_deadline(ctx), OSEV_TIME_INFINITY);
    ck_assert_int_eq(beforepoll_timeout(ctx, -1, 0), -1);

    trec_set(&r, 2);
    tu_check_count(tu_drive(ctx, _i), 1);
    ck_assert_int_eq(r.calls, 2);
    ck_assert_int_eq(osev_dispatch(ctx), 0);
    ck_assert_int_eq(r.calls, 2);

    osev_timer_remove(r.t);
    ck_assert_int_eq(r.released, 0);
    ck_assert_int_eq(osev_dispatch(ctx), 0);
    ck_assert_int_eq(r.released, 1);
    osev_ctx_free(ctx);
    ck_assert_int_eq(r.released, 1);
}
END_TEST

/* OSEV_TIME_INFINITY disarms; a failed set changes nothing. */
START_TEST(infinity_disarms)
{
    osev_ctx *ctx = tu_ctx_new();
    struct trec a, b;
    osev_timer *t = NULL;

    reset_log();
    trec_add(ctx, &a, 0, 1);
    trec_add(ctx, &b, 1, OSEV_TIME_INFINITY);
    ck_assert_int_le(get_deadline(ctx), 1);
    trec_set(&a, OSEV_TIME_INFINITY);
    ck_assert_int_eq(get_deadline(ctx), OSEV_TIME_INFINITY);
    ck_assert_int_eq(osev_dispatch(ctx), 0);
    ck_assert_int_eq(a.calls + b.calls, 0);

    /* A negative deadline is refused and the timer keeps its state. */
    trec_set(&a, 5);
    ck_assert_osev_err(osev_timer_set(a.t, -1), -EINVAL);
    ck_assert_osev_err(osev_timer_set(b.t, -1), -EINVAL);
    ck_assert_osev_err(osev_timer_add(ctx, -1, trec_cb, &a, &t), -EINVAL);
    ck_assert_ptr_null(t);
    tu_check_count(tu_drive(ctx, _i), 1);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(b.calls, 0);
    osev_ctx_free(ctx);
    ck_assert_int_eq(a.released, 1);
    ck_assert_int_eq(b.released, 1);
}
END_TEST

/* ---- arming and removing during a pass ---- */

struct armer {
    osev_ctx *ctx;
    struct trec *added;    /* added from the callback, deadline 0 */
    struct trec *disarmed; /* armed from the callback, deadline 0 */
    osev_timer *self;
    int calls;
};

static void armer_cb(osev_timer *t, osev_time now, void *arg)
{
    struct armer *a = arg;

    (void)now;
    ck_assert_int_lt(nfire, MAX_LOG);
    fire_log[nfire++] = 100;
    if (a->calls++ == 0) {
        trec_add(a->ctx, a->added, 1, 0);
        trec_set(a->disarmed, 0);
        ck_assert_osev_ok(osev_timer_set(t, 0));
    }
}

/* Timers armed during a pass with a past deadline run in a later pass,
 * in arming order. */
START_TEST(armed_during_pass_runs_later)
{
    osev_ctx *ctx = tu_ctx_new();
    struct trec added, disarmed;
    struct armer a = { .ctx = ctx, .added = &added, .disarmed = &disarmed };
    static const int first[1] = { 100 };
    static const int second[3] = { 1, 2, 100 };

    reset_log();
    trec_add(ctx, &disarmed, 2, OSEV_TIME_INFINITY);
    ck_assert_osev_ok(osev_timer_add(ctx, 1, armer_cb, &a, &a.self));
    tu_check_count(tu_drive(ctx, _i), 1);
    check_log(first, 1);
    ck_assert_int_eq(beforepoll_timeout(ctx, -1, 0), 0);
    reset_log();
    tu_check_count(tu_drive(ctx, _i), 3);
    check_log(second, 3);
    ck_assert_int_eq(osev_dispatch(ctx), 0);
    osev_ctx_free(ctx);
    ck_assert_int_eq(added.released, 1);
    ck_assert_int_eq(disarmed.released, 1);
}
END_TEST

/* A timer an fd callback arms, for the past, runs in a later pass: the
 * pass collects its due timers before any of its callbacks runs. */
static int fd_armed_fired;

static void fd_armed_timer(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now, (void)arg;
    fd_armed_fired++;
}

static void arm_from_fd(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)revents;
    tu_drain(fd);
    ck_assert_osev_ok(osev_timer_set(*(osev_timer **)arg, 0));
}

START_TEST(armed_by_fd_cb_runs_later)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_timer *t;
    osev_fd *w;
    int p[2];

    fd_armed_fired = 0;
    tu_pipe(p);
    ck_assert_osev_ok(osev_timer_add(ctx, OSEV_TIME_INFINITY, fd_armed_timer,
                                     NULL, &t));
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, arm_from_fd, &t, &w));
    tu_write_byte(p[1]);
    tu_check_count(tu_drive(ctx, _i), 1);
    ck_assert_int_eq(fd_armed_fired, 0);
    ck_assert_int_eq(beforepoll_timeout(ctx, -1, 0), 0);
    tu_check_count(tu_drive(ctx, _i), 1);
    ck_assert_int_eq(fd_armed_fired, 1);
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]);
}
END_TEST

/* A timer callback removes another timer due in the same pass: that one
 * is not called, -ESTALE meanwhile, released once after the pass. */
START_TEST(cb_removes_other_due)
{
    int before = tu_count_fds();
    osev_ctx *ctx = tu_ctx_new();
    struct trec a, b, c;
    static const int expected[2] = { 0, 2 };

    reset_log();
    trec_add(ctx, &a, 0, 1);
    trec_add(ctx, &b, 1, 2);
    trec_add(ctx, &c, 2, 2);
    a.remove_other = &b;
    tu_check_count(tu_drive(ctx, _i), 2);
    check_log(expected, 2);
    ck_assert_int_eq(a.estale_result, -ESTALE);
    ck_assert_int_eq(b.calls, 0);
    ck_assert_int_eq(b.released, 1);
    ck_assert_int_eq(release_in_callback, 0);
    ck_assert_int_eq(osev_dispatch(ctx), 0);
    ck_assert_int_eq(b.released, 1);
    osev_ctx_free(ctx);
    ck_assert_int_eq(a.released, 1);
    ck_assert_int_eq(b.released, 1);
    ck_assert_int_eq(c.released, 1);
    ck_assert_int_eq(tu_count_fds(), before);
}
END_TEST

/* A timer removes itself from its callback: released once, after. */
START_TEST(cb_removes_itself)
{
    osev_ctx *ctx = tu_ctx_new();
    struct trec a, b;

    reset_log();
    trec_add(ctx, &a, 0, 1);
    trec_add(ctx, &b, 1, 1);
    a.remove_self = true;
    tu_check_count(tu_drive(ctx, _i), 2);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.released, 1);
    ck_assert_int_eq(release_in_callback, 0);
    trec_set(&b, 1);
    tu_check_count(tu_drive(ctx, _i), 1);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(b.calls, 2);
    osev_ctx_free(ctx);
    ck_assert_int_eq(a.released, 1);
    ck_assert_int_eq(b.released, 1);
}
END_TEST

/* osev_ctx_free() from a timer callback: the later due timers of that
 * pass do not run; every timer is released once. */
START_TEST(ctx_free_from_timer_cb)
{
    int before = tu_count_fds();
    osev_ctx *ctx = tu_ctx_new();
    struct trec r[4];
    int ret;

    reset_log();
    for (int i = 0; i < 4; i++)
        trec_add(ctx, &r[i], i, (osev_time)i + 1);
    r[1].free_ctx = true;
    ret = tu_drive(ctx, _i);
    if (ret != TU_COUNT_UNKNOWN)
        ck_assert_int_eq(ret, -ESTALE);
    ck_assert_int_eq(r[0].calls, 1);
    ck_assert_int_eq(r[1].calls, 1);
    ck_assert_int_eq(r[2].calls, 0);
    ck_assert_int_eq(r[3].calls, 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(r[i].released, 1);
    ck_assert_int_eq(release_in_callback, 0);
    ck_assert_int_eq(tu_count_fds(), before);
}
END_TEST

/* Every timer, armed, disarmed or fired, is released once at free. */
START_TEST(release_once_on_ctx_free)
{
    osev_ctx *ctx = tu_ctx_new();
    struct trec fired, armed, disarmed, cleared;

    reset_log();
    trec_add(ctx, &fired, 0, 1);
    trec_add(ctx, &armed, 1, osev_now() + osev_s(3600));
    trec_add(ctx, &disarmed, 2, OSEV_TIME_INFINITY);
    trec_add(ctx, &cleared, 3, OSEV_TIME_INFINITY);
    osev_timer_set_release(cleared.t, NULL);
    ck_assert_int_eq(osev_dispatch(ctx), 1);
    ck_assert_int_eq(fired.released + armed.released + disarmed.released, 0);
    osev_ctx_free(ctx);
    ck_assert_int_eq(fired.released, 1);
    ck_assert_int_eq(armed.released, 1);
    ck_assert_int_eq(disarmed.released, 1);
    ck_assert_int_eq(cleared.released, 0);
    ck_assert_int_eq(armed.calls, 0);
}
END_TEST

/* ---- the timeout and the deadline they give ---- */

START_TEST(beforepoll_timeout_from_timer)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_time base = osev_now();
    struct trec r, never;

    reset_log();
    trec_add(ctx, &never, 1, OSEV_TIME_INFINITY);
    /* A disarmed timer lowers nothing. */
    ck_assert_int_eq(beforepoll_timeout(ctx, -1, base), -1);
    ck_assert_int_eq(beforepoll_timeout(ctx, 50, base), 50);

    trec_add(ctx, &r, 0, base + osev_ms(1) + osev_ms(1) / 2);
    ck_assert_int_eq(beforepoll_timeout(ctx, -1, base), 2);
    ck_assert_int_eq(beforepoll_timeout(ctx, -5, base), 2);
    ck_assert_int_eq(beforepoll_timeout(ctx, 0, base), 0);
    ck_assert_int_eq(beforepoll_timeout(ctx, 1, base), 1);
    ck_assert_int_eq(beforepoll_timeout(ctx, 2, base), 2);
    ck_assert_int_eq(beforepoll_timeout(ctx, 100, base), 2);

    /* Rounded up, never down. */
    trec_set(&r, base + osev_ms(1));
    ck_assert_int_eq(beforepoll_timeout(ctx, -1, base), 1);
    trec_set(&r, base + osev_ms(1) + 1);
    ck_assert_int_eq(beforepoll_timeout(ctx, -1, base), 2);
    trec_set(&r, base + 1);
    ck_assert_int_eq(beforepoll_timeout(ctx, -1, base), 1);
    trec_set(&r, base + osev_s(3600));
    ck_assert_int_eq(beforepoll_timeout(ctx, -1, base), 3600000);
    ck_assert_int_eq(beforepoll_timeout(ctx, 7, base), 7);

    /* Due: 0. */
    trec_set(&r, base);
    ck_assert_int_eq(beforepoll_timeout(ctx, -1, base), 0);
    trec_set(&r, 1);
    ck_assert_int_eq(beforepoll_timeout(ctx, 1000, base), 0);

    /* now 0: the clock is read. */
    trec_set(&r, osev_now() + osev_s(10));
    {
        int t = beforepoll_timeout(ctx, -1, 0);

        ck_assert_int_gt(t, 0);
        ck_assert_int_le(t, 10000);
    }

    /* Back to disarmed: no lowering again. */
    trec_set(&r, OSEV_TIME_INFINITY);
    ck_assert_int_eq(beforepoll_timeout(ctx, -1, base), -1);
    ck_assert_int_eq(r.calls + never.calls, 0);
    osev_ctx_free(ctx);
}
END_TEST

START_TEST(get_deadline_earliest)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_time base = osev_now();
    struct trec a, b, c;

    reset_log();
    ck_assert_int_eq(get_deadline(ctx), OSEV_TIME_INFINITY);
    trec_add(ctx, &c, 2, OSEV_TIME_INFINITY);
    ck_assert_int_eq(get_deadline(ctx), OSEV_TIME_INFINITY);
    trec_add(ctx, &a, 0, base + osev_s(5));
    ck_assert_int_eq(get_deadline(ctx), base + osev_s(5));
    trec_add(ctx, &b, 1, base + osev_s(3));
    ck_assert_int_eq(get_deadline(ctx), base + osev_s(3));
    osev_timer_remove(b.t);
    ck_assert_int_eq(get_deadline(ctx), base + osev_s(5));
    trec_set(&c, base + osev_s(4));
    ck_assert_int_eq(get_deadline(ctx), base + osev_s(4));
    trec_set(&c, base + osev_s(7));
    ck_assert_int_eq(get_deadline(ctx), base + osev_s(5));
    trec_set(&a, OSEV_TIME_INFINITY);
    ck_assert_int_eq(get_deadline(ctx), base + osev_s(7));
    trec_set(&c, OSEV_TIME_INFINITY);
    ck_assert_int_eq(get_deadline(ctx), OSEV_TIME_INFINITY);
    ck_assert_osev_err(osev_get_deadline(NULL, &base), -EINVAL);
    ck_assert_osev_err(osev_get_deadline(ctx, NULL), -EINVAL);
    osev_ctx_free(ctx);
    ck_assert_int_eq(b.released, 1);
}
END_TEST

/* ---- many timers: the heap ---- */

#define MANY 10000 /* timers, tu_scaled() */
#define MANY_FUTURE osev_s(1000000)

struct mtimer {
    osev_timer *t;
    osev_time deadline; /* INFINITY: disarmed */
    uint64_t armed;     /* arming order */
    int calls;
    int released;
    bool removed;
};

static struct mtimer *many;
static int nmany; /* tu_scaled(MANY) */
static int *many_log, nmany_log;
static uint64_t rng_state, arm_seq;

static unsigned rnd(unsigned n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)(rng_state >> 33) % n;
}

static void many_cb(osev_timer *t, osev_time now, void *arg)
{
    struct mtimer *m = arg;

    ck_assert_ptr_eq(m->t, t);
    ck_assert_int_le(m->deadline, now);
    ck_assert_int_lt(nmany_log, nmany);
    many_log[nmany_log++] = (int)(m - many);
    m->calls++;
}

static void many_release(void *arg)
{
    ((struct mtimer *)arg)->released++;
}

static void many_arm(struct mtimer *m, osev_time deadline)
{
    ck_assert_osev_ok(osev_timer_set(m->t, deadline));
    m->deadline = deadline;
    m->armed = arm_seq++;
}

static int many_cmp(const void *pa, const void *pb)
{
    const struct mtimer *a = &many[*(const int *)pa];
    const struct mtimer *b = &many[*(const int *)pb];

    if (a->deadline != b->deadline)
        return a->deadline < b->deadline ? -1 : 1;
    return a->armed < b->armed ? -1 : a->armed > b->armed;
}

/*
 * MANY timers with pseudo-random past deadlines (many ties).  Variants
 * (bits of _i): 1 removes a random half before dispatch; 2 re-arms a
 * random subset (some to other past deadlines, some far ahead, some
 * disarmed); 4 fires them in several pull passes with a made-up now
 * instead of one osev_dispatch().  Every live armed timer due fires
 * exactly once, in (deadline, arming) order.
 */
START_TEST(many_timers_heap_order)
{
    osev_ctx *ctx = tu_ctx_new();
    bool remove_half = _i & 1, rearm = _i & 2, stepped = _i & 4;
    osev_time base = osev_now();
    int *expected, nexpected = 0;
    osev_time next_future = OSEV_TIME_INFINITY;

    nmany = (int)tu_scaled(MANY);
    rng_state = 0xc0ffee00u + (uint64_t)_i;
    arm_seq = 0;
    nmany_log = 0;
    many = calloc(nmany, sizeof *many);
    many_log = calloc(nmany, sizeof *many_log);
    expected = calloc(nmany, sizeof *expected);
    ck_assert_ptr_nonnull(many);
    ck_assert_ptr_nonnull(many_log);
    ck_assert_ptr_nonnull(expected);

    for (int i = 0; i < nmany; i++) {
        struct mtimer *m = &many[i];

        m->deadline = 1 + (osev_time)rnd(3000);
        m->armed = arm_seq++;
        ck_assert_osev_ok(osev_timer_add(ctx, m->deadline, many_cb, m, &m->t));
        osev_timer_set_release(m->t, many_release);
    }
    if (rearm)
        for (int k = 0; k < nmany / 3; k++) {
            struct mtimer *m = &many[rnd(nmany)];
            unsigned what = rnd(10);

            if (what == 0)
                many_arm(m, OSEV_TIME_INFINITY);
            else if (what == 1)
                many_arm(m, base + MANY_FUTURE + (osev_time)rnd(1000));
            else
                many_arm(m, 1 + (osev_time)rnd(3000));
        }
    if (remove_half)
        for (int k = 0; k < nmany / 2; k++) {
            struct mtimer *m = &many[rnd(nmany)];

            if (!m->removed) {
                osev_timer_remove(m->t);
                m->removed = true;
            }
        }
    for (int i = 0; i < nmany; i++) {
        struct mtimer *m = &many[i];

        if (m->removed || m->deadline == OSEV_TIME_INFINITY)
            continue;
        if (m->deadline > base) {
            if (m->deadline < next_future)
                next_future = m->deadline;
            continue;
        }
        expected[nexpected++] = i;
    }
    qsort(expected, (size_t)nexpected, sizeof *expected, many_cmp);

    if (stepped) {
        int done = 0;

        /* now in steps of 250 ns over the deadlines' range: each pass
         * fires exactly the next slice of the order */
        for (osev_time now = 250; now <= 3250; now += 250) {
            int upto = done;

            while (upto < nexpected && many[expected[upto]].deadline <= now)
                upto++;
            pull_at(ctx, now);
            ck_assert_int_eq(nmany_log, upto);
            done = upto;
        }
    } else {
        ck_assert_int_eq(osev_dispatch(ctx), nexpected);
    }
    ck_assert_int_eq(nmany_log, nexpected);
    for (int k = 0; k < nexpected; k++)
        ck_assert_msg(many_log[k] == expected[k],
                      "fire %d: timer %d (deadline %lld), expected %d "
                      "(deadline %lld)",
                      k, many_log[k], (long long)many[many_log[k]].deadline,
                      expected[k], (long long)many[expected[k]].deadline);
    for (int k = 1; k < nmany_log; k++)
        ck_assert_int_le(many[many_log[k - 1]].deadline,
                         many[many_log[k]].deadline);
    for (int i = 0; i < nmany; i++) {
        struct mtimer *m = &many[i];
        bool due = !m->removed && m->deadline <= base;

        ck_assert_int_eq(m->calls, due ? 1 : 0);
        ck_assert_int_eq(m->released, m->removed ? 1 : 0);
    }
    ck_assert_int_eq(get_deadline(ctx), next_future);
    ck_assert_int_eq(osev_dispatch(ctx), 0);

    osev_ctx_free(ctx);
    for (int i = 0; i < nmany; i++) {
        ck_assert_int_eq(many[i].released, 1);
        ck_assert_int_le(many[i].calls, 1);
    }
    free(expected);
    free(many_log);
    free(many);
}
END_TEST

/*
 * The heap against a model through a random mix of adds, re-arms
 * (earlier, later, disarmed, many ties), removals and pull passes at a
 * made-up now, the number armed swinging between none and a few hundred
 * (heaps of every depth, the last parent with any number of children):
 * after every step osev_get_deadline() gives the model's earliest
 * deadline, and every pass fires exactly the model's due timers in
 * (deadline, arming) order.  Catches a heap slot whose cached deadline
 * or index went stale.
 */
#define MIX_SLOTS 400
#define MIX_STEPS 20000 /* tu_scaled() */

struct mix {
    osev_timer *t;
    osev_time deadline; /* INFINITY: disarmed */
    uint64_t armed;
    bool live;
};

static struct mix mix[MIX_SLOTS];
static int mix_log[MIX_SLOTS], nmix_log;

static void mix_cb(osev_timer *t, osev_time now, void *arg)
{
    struct mix *m = arg;

    ck_assert_ptr_eq(m->t, t);
    ck_assert_int_le(m->deadline, now);
    ck_assert_int_lt(nmix_log, MIX_SLOTS);
    mix_log[nmix_log++] = (int)(m - mix);
}

static int mix_cmp(const void *pa, const void *pb)
{
    const struct mix *a = &mix[*(const int *)pa];
    const struct mix *b = &mix[*(const int *)pb];

    if (a->deadline != b->deadline)
        return a->deadline < b->deadline ? -1 : 1;
    return a->armed < b->armed ? -1 : a->armed > b->armed;
}

static osev_time mix_deadline(osev_time now)
{
    unsigned r = rnd(10);

    if (r == 0)
        return OSEV_TIME_INFINITY;
    if (r == 1)
        return now - (osev_time)rnd(5); /* due at the next pass */
    if (r < 5)
        return now + 1 + (osev_time)rnd(8); /* ties */
    return now + 1 + (osev_time)rnd(3000);
}

START_TEST(heap_matches_model)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_time now = 10;
    int due[MIX_SLOTS];

    rng_state = 0x5eed0000u + (uint64_t)_i;
    arm_seq = 0;
    memset(mix, 0, sizeof mix);
    /* Eight phases, growing and shrinking the heap in turn. */
    long steps = tu_scaled(MIX_STEPS), phase = steps >= 8 ? steps / 8 : 1;

    for (long step = 0; step < steps; step++) {
        struct mix *m = &mix[rnd(MIX_SLOTS)];
        unsigned what = rnd(20);
        bool grow = (step / phase) % 2 == 0;
        osev_time earliest = OSEV_TIME_INFINITY;

        if (what < 2) {
            int ndue = 0;

            now += (osev_time)rnd(400);
            for (int i = 0; i < MIX_SLOTS; i++)
                if (mix[i].live && mix[i].deadline <= now)
                    due[ndue++] = i;
            qsort(due, (size_t)ndue, sizeof *due, mix_cmp);
            nmix_log = 0;
            pull_at(ctx, now);
            ck_assert_int_eq(nmix_log, ndue);
            for (int k = 0; k < ndue; k++) {
                ck_assert_int_eq(mix_log[k], due[k]);
                mix[due[k]].deadline = OSEV_TIME_INFINITY; /* one-shot */
            }
        } else if (!m->live) {
            if (grow || rnd(3) == 0) {
                m->deadline = mix_deadline(now);
                m->armed = arm_seq++;
                m->live = true;
                ck_assert_osev_ok(osev_timer_add(ctx, m->deadline, mix_cb, m,
                                                 &m->t));
            }
        } else if (what < (grow ? 5u : 12u)) {
            osev_timer_remove(m->t);
            m->live = false;
        } else {
            m->deadline = mix_deadline(now);
            m->armed = arm_seq++;
            ck_assert_osev_ok(osev_timer_set(m->t, m->deadline));
        }
        for (int i = 0; i < MIX_SLOTS; i++)
            if (mix[i].live && mix[i].deadline < earliest)
                earliest = mix[i].deadline;
        ck_assert_int_eq(get_deadline(ctx), earliest);
    }
    osev_ctx_free(ctx);
}
END_TEST

/* ---- time ---- */

START_TEST(time_helpers_saturate)
{
    ck_assert_int_eq(osev_ms(0), 0);
    ck_assert_int_eq(osev_ms(1), 1000000);
    ck_assert_int_eq(osev_s(1), 1000000000);
    ck_assert_int_eq(osev_s(-1), -1000000000);
    ck_assert_int_eq(osev_ms(-1), -1000000);
    ck_assert_int_eq(osev_s(INT64_MAX), OSEV_TIME_INFINITY);
    ck_assert_int_eq(osev_ms(INT64_MAX), OSEV_TIME_INFINITY);
    ck_assert_int_eq(osev_s(INT64_MAX / 1000000000 + 1), OSEV_TIME_INFINITY);
    ck_assert_int_eq(osev_ms(INT64_MAX / 1000000 + 1), OSEV_TIME_INFINITY);
    ck_assert_int_eq(osev_s(INT64_MAX / 1000000000),
                     (INT64_MAX / 1000000000) * 1000000000);
    ck_assert_int_eq(osev_ms(INT64_MAX / 1000000),
                     (INT64_MAX / 1000000) * 1000000);
    ck_assert_int_eq(osev_s(INT64_MIN), -OSEV_TIME_INFINITY);
    ck_assert_int_eq(osev_ms(INT64_MIN), -OSEV_TIME_INFINITY);
    ck_assert_int_eq(osev_s(-(INT64_MAX / 1000000000) - 1),
                     -OSEV_TIME_INFINITY);
    ck_assert_int_eq(OSEV_TIME_INFINITY, INT64_MAX);
}
END_TEST

static osev_time mono_ns(void)
{
    struct timespec ts;

    ck_assert_int_eq(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
    return (osev_time)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* osev_now() is CLOCK_MONOTONIC and never goes back. */
START_TEST(now_monotonic)
{
    osev_time prev = osev_now();

    ck_assert_int_gt(prev, 0);
    for (long i = 0, n = tu_scaled(100000); i < n; i++) {
        osev_time t = osev_now();

        ck_assert_int_ge(t, prev);
        prev = t;
    }
    for (int i = 0; i < 100; i++) {
        osev_time lo = mono_ns(), t = osev_now(), hi = mono_ns();

        ck_assert_int_le(lo, t);
        ck_assert_int_le(t, hi);
    }
}
END_TEST

/* A real-time timer through the built-in loop fires no earlier than its
 * deadline, well within a generous bound. */
START_TEST(real_deadline_not_early)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_time start = osev_now(), dl = start + osev_ms(20);
    struct trec r;
    int ret;

    reset_log();
    trec_add(ctx, &r, 0, dl);
    do
        ret = osev_loop_once(ctx, start + osev_s(10));
    while (ret == 0);
    ck_assert_int_eq(ret, 1);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_ge(r.last_now, dl);
    ck_assert_int_ge(osev_now(), dl);
    ck_assert_int_lt(osev_now(), start + osev_s(10));
    osev_ctx_free(ctx);
}
END_TEST

static Suite *timer_suite(void)
{
    Suite *s = suite_create("timer");
    TCase *tc;

    tc = tcase_create("order");
    tcase_add_loop_test(tc, fifo_ties, 0, TU_DRIVE_MODES);
    tcase_add_loop_test(tc, ties_follow_arming_order, 0, TU_DRIVE_MODES);
    tcase_add_loop_test(tc, rearm_same_deadline_goes_last, 0, TU_DRIVE_MODES);
    tcase_add_loop_test(tc, mixed_deadlines, 0, TU_DRIVE_MODES);
    tcase_add_test(tc, rearm_earlier_moves_ahead);
    suite_add_tcase(s, tc);

    tc = tcase_create("rearm");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, periodic_from_own_callback);
    tcase_add_loop_test(tc, rearm_past_once_per_pass, 0, TU_DRIVE_MODES);
    tcase_add_loop_test(tc, oneshot_stays_and_rearms, 0, TU_DRIVE_MODES);
    tcase_add_loop_test(tc, infinity_disarms, 0, TU_DRIVE_MODES);
    tcase_add_test(tc, real_deadline_not_early);
    suite_add_tcase(s, tc);

    tc = tcase_create("reentrancy");
    tcase_add_loop_test(tc, armed_during_pass_runs_later, 0, TU_DRIVE_MODES);
    tcase_add_loop_test(tc, armed_by_fd_cb_runs_later, 0, TU_DRIVE_MODES);
    tcase_add_loop_test(tc, cb_removes_other_due, 0, TU_DRIVE_MODES);
    tcase_add_loop_test(tc, cb_removes_itself, 0, TU_DRIVE_MODES);
    tcase_add_loop_test(tc, ctx_free_from_timer_cb, 0, TU_DRIVE_MODES);
    tcase_add_test(tc, release_once_on_ctx_free);
    suite_add_tcase(s, tc);

    tc = tcase_create("timeout");
    tcase_add_test(tc, beforepoll_timeout_from_timer);
    tcase_add_test(tc, get_deadline_earliest);
    suite_add_tcase(s, tc);

    tc = tcase_create("heap");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, many_timers_heap_order, 0, 8);
    tcase_add_loop_test(tc, heap_matches_model, 0, 4);
    suite_add_tcase(s, tc);

    tc = tcase_create("time");
    tcase_add_test(tc, time_helpers_saturate);
    tcase_add_test(tc, now_monotonic);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(timer_suite());
}
