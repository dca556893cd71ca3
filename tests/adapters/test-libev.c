/*
 * test-libev.c - the push scenario inside a real libev loop.
 *
 * libev's only public count of what a loop holds is ev_run()'s result:
 * the number of active watchers that keep it alive (every one of ours;
 * a loop made with ev_loop_new() has none of its own, unlike the default
 * loop with its SIGCHLD watcher).  Asking means running one
 * non-blocking turn, which dispatches whatever is ready just then; where
 * the scenario counts, nothing that runs then adds or removes a
 * registration (no timer is due, the ready fds keep their watches).
 */
#include "scenario.h"

#include <stdlib.h>
#include <unistd.h>

#include <ev.h>

#include "osevent-libev.h"

static void *lv_loop_new(void)
{
    return ev_loop_new(EVFLAG_AUTO);
}

static void lv_loop_free(void *loop)
{
    ev_loop_destroy(loop);
}

static int lv_attach(osev_ctx *ctx, void *loop)
{
    return osev_libev_attach(ctx, loop);
}

/* One blocking turn: returns after it dispatched what became ready. */
static void lv_iterate(void *loop)
{
    ev_run(loop, EVRUN_ONCE);
}

static int lv_foreign_count(void *loop)
{
    return ev_run(loop, EVRUN_NOWAIT);
}

static bool lv_is_empty(void *loop)
{
    return ev_run(loop, EVRUN_NOWAIT) == 0;
}

static const struct scenario_loop libev_loop = {
    .name = "libev",
    .loop_new = lv_loop_new,
    .loop_free = lv_loop_free,
    .attach = lv_attach,
    .detach = osev_libev_detach,
    .iterate = lv_iterate,
    .foreign_count = lv_foreign_count,
    .is_empty = lv_is_empty,
};

/* ---- what only this adapter decides ---- */

static void count_cb(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)fd, (void)revents;
    ++*(int *)arg;
}

/* POLLPRI has no libev counterpart: refused when registering, when
 * attaching (all or none) and when a mask grows to it, the old watch
 * left working. */
START_TEST(pollpri_refused)
{
    void *loop = lv_loop_new();
    osev_ctx *ctx = tu_ctx_new();
    osev_fd *w, *pri;
    int p[2], calls = 0;

    tu_pipe(p);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLPRI, count_cb, &calls, &pri));
    ck_assert_osev_err(lv_attach(ctx, loop), -EINVAL);
    ck_assert(lv_is_empty(loop)); /* the wakeup fd's went back out */
    osev_fd_remove(pri);

    ck_assert_osev_ok(lv_attach(ctx, loop));
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, count_cb, &calls, &w));
    ck_assert_osev_err(osev_fd_add(ctx, p[1], POLLPRI, count_cb, &calls, &pri),
                       -EINVAL);
    ck_assert_osev_err(osev_fd_add(ctx, p[0], POLLPRI, count_cb, &calls, &pri),
                       -EINVAL);
    ck_assert_osev_err(osev_fd_modify(w, POLLIN | POLLPRI), -EINVAL);
    ck_assert_int_eq(lv_foreign_count(loop), 2);
    tu_write_byte(p[1]);
    while (calls == 0)
        lv_iterate(loop);
    ck_assert_int_eq(calls, 1);

    osev_fd_remove(w);
    osev_ctx_free(ctx);
    ck_assert(lv_is_empty(loop));
    lv_loop_free(loop);
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
    void *loop = lv_loop_new();
    struct slow S = { .ctx = tu_ctx_new() };
    struct osev_hook_stats st = { .size = sizeof st };
    osev_timer *t1;

    ck_assert_osev_ok(lv_attach(S.ctx, loop));
    ck_assert_osev_ok(osev_timer_add(S.ctx, osev_now(), t1_slow_cb, &S, &t1));
    while (S.t2_calls == 0)
        lv_iterate(loop);
    ck_assert_osev_ok(osev_get_hook_stats(S.ctx, &st));
    ck_assert_uint_eq(st.timeout_registers, 1);
    ck_assert_uint_eq(st.timeout_modifies, 1);
    ck_assert_uint_eq(st.timeout_regs, 0);

    osev_timer_remove(t1);
    osev_timer_remove(S.t2);
    osev_ctx_free(S.ctx);
    ck_assert(lv_is_empty(loop));
    lv_loop_free(loop);
}
END_TEST

static Suite *lv_suite(void)
{
    Suite *s = suite_create("libev-only");
    TCase *tc = tcase_create("adapter");

    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, pollpri_refused);
    tcase_add_test(tc, timeout_armed_late_in_turn_not_early);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int shared = scenario_main(&libev_loop);
    int own = tu_run_suite(lv_suite());

    return shared != EXIT_SUCCESS ? shared : own;
}
