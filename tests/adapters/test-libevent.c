/*
 * test-libevent.c - the push scenario inside a real libevent event_base.
 */
#include "scenario.h"

#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "osevent-libevent.h"

static void *lev_loop_new(void)
{
    return event_base_new();
}

static void lev_loop_free(void *loop)
{
    event_base_free(loop);
}

static int lev_attach(osev_ctx *ctx, void *loop)
{
    return osev_libevent_attach(ctx, loop);
}

/* Blocks until an event is active, runs what is active, returns. */
static void lev_iterate(void *loop)
{
    ck_assert_int_eq(event_base_loop(loop, EVLOOP_ONCE), 0);
}

/* Events added to the base, by libevent's own count (its internal events
 * are left out, and the test's base has none: no threads, no signals).
 * A fired timer is no longer added; the scenario never counts one. */
static int lev_foreign_count(void *loop)
{
    return event_base_get_num_events(loop, EVENT_BASE_COUNT_ADDED);
}

static bool lev_is_empty(void *loop)
{
    return event_base_get_num_events(loop, EVENT_BASE_COUNT_ADDED |
                                               EVENT_BASE_COUNT_ACTIVE) == 0;
}

static const struct scenario_loop libevent_loop = {
    .name = "libevent",
    .loop_new = lev_loop_new,
    .loop_free = lev_loop_free,
    .attach = lev_attach,
    .detach = osev_libevent_detach,
    .iterate = lev_iterate,
    .foreign_count = lev_foreign_count,
    .is_empty = lev_is_empty,
};

/* ---- what only this adapter decides ---- */

static void count_cb(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)fd, (void)revents;
    ++*(int *)arg;
}

/* POLLPRI has no libevent counterpart: refused when registering, when
 * attaching (all or none) and when a mask grows to it, the old watch
 * left working. */
START_TEST(pollpri_refused)
{
    void *loop = lev_loop_new();
    osev_ctx *ctx = tu_ctx_new();
    osev_fd *w, *pri;
    int p[2], calls = 0;

    tu_pipe(p);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLPRI, count_cb, &calls, &pri));
    ck_assert_osev_err(lev_attach(ctx, loop), -EINVAL);
    ck_assert(lev_is_empty(loop)); /* the wakeup fd's went back out */
    osev_fd_remove(pri);

    ck_assert_osev_ok(lev_attach(ctx, loop));
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, count_cb, &calls, &w));
    ck_assert_osev_err(osev_fd_add(ctx, p[1], POLLPRI, count_cb, &calls, &pri),
                       -EINVAL);
    ck_assert_osev_err(osev_fd_add(ctx, p[0], POLLPRI, count_cb, &calls, &pri),
                       -EINVAL);
    ck_assert_osev_err(osev_fd_modify(w, POLLIN | POLLPRI), -EINVAL);
    ck_assert_int_eq(lev_foreign_count(loop), 2);
    tu_write_byte(p[1]);
    while (calls == 0)
        lev_iterate(loop);
    ck_assert_int_eq(calls, 1);

    osev_fd_remove(w);
    osev_ctx_free(ctx);
    ck_assert(lev_is_empty(loop));
    lev_loop_free(loop);
    close(p[0]), close(p[1]);
}
END_TEST

struct slow {
    osev_ctx *ctx;
    osev_timer *t2;
    osev_time t2_deadline;
    int t2_calls;
};

static void t2_cb(osev_timer *t, osev_time now, void *arg)
{
    struct slow *S = arg;

    (void)t;
    ck_assert_int_ge(now, S->t2_deadline);
    S->t2_calls++;
}

/* A slow callback: its work is simulated by spinning, not waited for. */
static void t1_slow_cb(osev_timer *t, osev_time now, void *arg)
{
    struct slow *S = arg;

    (void)t;
    while (osev_now() < now + osev_ms(30))
        ;
    S->t2_deadline = osev_now() + osev_ms(10);
    ck_assert_osev_ok(osev_timer_add(S->ctx, S->t2_deadline, t2_cb, S,
                                     &S->t2));
}

/* A timeout armed late in a turn counts from the real time, not from the
 * loop's cached one: it fires once, on time, with no early expiry that
 * osevent must re-arm (one timeout_modify: t1's fired timeout to t2). */
START_TEST(timeout_armed_late_in_turn_not_early)
{
    void *loop = lev_loop_new();
    struct slow S = { .ctx = tu_ctx_new() };
    struct osev_hook_stats st = { .size = sizeof st };
    osev_timer *t1;

    ck_assert_osev_ok(lev_attach(S.ctx, loop));
    ck_assert_osev_ok(osev_timer_add(S.ctx, osev_now(), t1_slow_cb, &S, &t1));
    while (S.t2_calls == 0)
        lev_iterate(loop);
    ck_assert_osev_ok(osev_get_hook_stats(S.ctx, &st));
    ck_assert_uint_eq(st.timeout_registers, 1);
    ck_assert_uint_eq(st.timeout_modifies, 1);
    ck_assert_uint_eq(st.timeout_regs, 0);

    osev_timer_remove(t1);
    osev_timer_remove(S.t2);
    osev_ctx_free(S.ctx);
    ck_assert(lev_is_empty(loop));
    lev_loop_free(loop);
}
END_TEST

static Suite *lev_suite(void)
{
    Suite *s = suite_create("libevent-only");
    TCase *tc = tcase_create("adapter");

    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, pollpri_refused);
    tcase_add_test(tc, timeout_armed_late_in_turn_not_early);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int shared = scenario_main(&libevent_loop);
    int own = tu_run_suite(lev_suite());

    return shared != EXIT_SUCCESS ? shared : own;
}
