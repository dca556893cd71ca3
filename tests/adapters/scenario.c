/*
 * scenario.c - the push-mode scenario, written once and run inside every
 * real foreign loop (tests/adapters/test-<loop>.c say how to drive each).
 *
 * The main scenario: three watches on two pipes (w1 and w2 share pipe A,
 * w3 is on pipe B), two timers (t1 re-armed once from its own callback),
 * w1's callback removing w2 in the pass where both are ready and w3 whose
 * fd was never written, events reaching event_occurs and
 * osev_event_check(), the hook-level count of registrations (distinct
 * fds, the wakeup fd among them, plus one timeout), and after detach a
 * foreign loop with nothing of ours in it.
 */
#include "scenario.h"

#include <string.h>
#include <unistd.h>

enum { EV_OCCURS = 1, EV_CHECKED = 2 };

static const struct scenario_loop *L;

struct world {
    osev_ctx *ctx;
    void *loop;
    int a[2], b[2];
    osev_fd *w1, *w2, *w3;
    osev_timer *t1, *t2;
    int w1_calls, w2_calls, w3_calls, t1_calls, t2_calls, occurs_calls;
    int order[8], norder;
    unsigned occurs_type;
};

static void note(struct world *W, int what)
{
    if (W->norder < 8)
        W->order[W->norder++] = what;
}

static void w1_cb(osev_fd *w, int fd, short revents, void *arg)
{
    struct world *W = arg;

    (void)w;
    ck_assert(revents & POLLIN);
    W->w1_calls++;
    tu_drain(fd);
    /* w2 was ready in this very pass: it must not run now. */
    osev_fd_remove(W->w2);
    W->w2 = NULL;
    /* w3's fd then has no watch: its registration must go. */
    osev_fd_remove(W->w3);
    W->w3 = NULL;
    note(W, 'a');
}

static void w2_cb(osev_fd *w, int fd, short revents, void *arg)
{
    struct world *W = arg;

    (void)w, (void)fd, (void)revents;
    W->w2_calls++;
}

static void w3_cb(osev_fd *w, int fd, short revents, void *arg)
{
    struct world *W = arg;

    (void)w, (void)fd, (void)revents;
    W->w3_calls++;
}

static void post(osev_ctx *ctx, unsigned type, int value)
{
    osev_event *ev = osev_event_new(ctx, type, 42, sizeof value);

    ck_assert_ptr_nonnull(ev);
    memcpy(ev->data, &value, sizeof value);
    osev_event_post(ctx, ev);
}

static void t1_cb(osev_timer *t, osev_time now, void *arg)
{
    struct world *W = arg;

    W->t1_calls++;
    note(W, '1');
    if (W->t1_calls == 1) /* re-armed from its own callback, once */
        ck_assert_osev_ok(osev_timer_set(t, now + osev_ms(15)));
    post(W->ctx, EV_OCCURS, W->t1_calls);
}

static void t2_cb(osev_timer *t, osev_time now, void *arg)
{
    struct world *W = arg;

    (void)t, (void)now;
    W->t2_calls++;
    note(W, '2');
    post(W->ctx, EV_CHECKED, 7);
}

static void occurs(void *user, osev_event *ev)
{
    struct world *W = user;

    W->occurs_calls++;
    W->occurs_type = ev->type;
    osev_event_free(W->ctx, ev);
}

static struct osev_hook_stats stats(osev_ctx *ctx)
{
    struct osev_hook_stats st = { .size = sizeof st };

    ck_assert_osev_ok(osev_get_hook_stats(ctx, &st));
    return st;
}

static void check_regs(struct world *W, unsigned fds, unsigned timeouts)
{
    struct osev_hook_stats st = stats(W->ctx);

    ck_assert_uint_eq(st.fd_regs, fds);
    ck_assert_uint_eq(st.timeout_regs, timeouts);
    if (L->foreign_count)
        ck_assert_int_eq(L->foreign_count(W->loop), (int)(fds + timeouts));
}

/* Turn the foreign loop until @done holds, for at most 5 s. */
#define ITERATE_UNTIL(W, done)                                               \
    do {                                                                     \
        osev_time until_ = osev_now() + osev_s(5);                           \
        while (!(done)) {                                                    \
            ck_assert_msg(osev_now() < until_, "timed out: %s", #done);      \
            L->iterate((W)->loop);                                           \
        }                                                                    \
    } while (0)

static void world_open(struct world *W)
{
    memset(W, 0, sizeof *W);
    W->loop = L->loop_new();
    ck_assert_ptr_nonnull(W->loop);
    W->ctx = tu_ctx_new();
    tu_pipe(W->a);
    tu_pipe(W->b);
}

static void world_close(struct world *W)
{
    osev_ctx_free(W->ctx);
    ck_assert(L->is_empty(W->loop));
    L->loop_free(W->loop);
    close(W->a[0]), close(W->a[1]), close(W->b[0]), close(W->b[1]);
}

/* The timers start far off, so nothing fires before the test says. */
static void add_all(struct world *W)
{
    osev_time now = osev_now();

    ck_assert_osev_ok(osev_fd_add(W->ctx, W->a[0], POLLIN, w1_cb, W, &W->w1));
    ck_assert_osev_ok(osev_fd_add(W->ctx, W->a[0], POLLIN, w2_cb, W, &W->w2));
    ck_assert_osev_ok(osev_fd_add(W->ctx, W->b[0], POLLIN, w3_cb, W, &W->w3));
    ck_assert_osev_ok(osev_timer_add(W->ctx, now + osev_s(3600), t1_cb, W,
                                     &W->t1));
    ck_assert_osev_ok(osev_timer_add(W->ctx, now + osev_s(3601), t2_cb, W,
                                     &W->t2));
}

START_TEST(scenario_in_real_loop)
{
    struct world W;
    struct osev_event_hooks eh = { .event_occurs_mask = 1u << EV_OCCURS,
                                   .event_occurs = occurs };
    struct osev_hook_stats st;
    osev_event *ev;
    int value;

    world_open(&W);
    ck_assert_osev_ok(osev_event_set_hooks(W.ctx, &eh, sizeof eh, &W));
    ck_assert_osev_ok(L->attach(W.ctx, W.loop));
    check_regs(&W, 1, 0); /* the wakeup fd */

    add_all(&W);
    /* Three watches, two pipes, the wakeup fd; two timers, one timeout. */
    check_regs(&W, 3, 1);

    tu_write_byte(W.a[1]);
    ITERATE_UNTIL(&W, W.w1_calls == 1);
    ck_assert_int_eq(W.w2_calls, 0);
    check_regs(&W, 2, 1); /* pipe B's registration went with w3 */
    tu_write_byte(W.b[1]); /* nobody watches it now */
    ck_assert_osev_ok(osev_timer_set(W.t1, osev_now() + osev_ms(20)));
    ck_assert_osev_ok(osev_timer_set(W.t2, osev_now() + osev_ms(25)));

    ITERATE_UNTIL(&W, W.t1_calls == 2 && W.t2_calls == 1 &&
                          W.occurs_calls == 2);
    /* t1 at 20 ms, t2 at 25 ms, t1 again at 35 ms or later. */
    ck_assert_int_eq(W.norder, 4);
    ck_assert_int_eq(W.order[0], 'a');
    ck_assert_int_eq(W.order[1], '1');
    ck_assert_int_eq(W.order[2], '2');
    ck_assert_int_eq(W.order[3], '1');
    ck_assert_int_eq(W.w2_calls, 0);
    ck_assert_int_eq(W.w3_calls, 0);
    ck_assert_uint_eq(W.occurs_type, EV_OCCURS);

    /* The other type waits for osev_event_check(), exactly once. */
    ck_assert_osev_ok(osev_event_check(W.ctx, OSEV_EVENTMASK_ALL, NULL, NULL,
                                       &ev));
    ck_assert_uint_eq(ev->type, EV_CHECKED);
    memcpy(&value, ev->data, sizeof value);
    ck_assert_int_eq(value, 7);
    osev_event_free(W.ctx, ev);
    ck_assert_osev_err(osev_event_check(W.ctx, OSEV_EVENTMASK_ALL, NULL, NULL,
                                        &ev),
                       -EAGAIN);
    check_regs(&W, 2, 0); /* no armed timer left: no timeout registration */

    L->detach(W.ctx);
    st = stats(W.ctx);
    ck_assert_uint_eq(st.fd_regs, 0);
    ck_assert_uint_eq(st.timeout_regs, 0);
    ck_assert_uint_eq(st.fd_registers, st.fd_deregisters);
    ck_assert_uint_eq(st.timeout_registers, st.timeout_deregisters);
    ck_assert(L->is_empty(W.loop));
    osev_fd_remove(W.w1);
    osev_timer_remove(W.t1);
    osev_timer_remove(W.t2);
    world_close(&W);
}
END_TEST

/* Detach with watches and timers live: the foreign loop is emptied, and
 * the same registry keeps working in the built-in loop. */
START_TEST(detach_leaves_loop_empty_and_pull_works)
{
    struct world W;

    world_open(&W);
    add_all(&W);
    ck_assert_osev_ok(L->attach(W.ctx, W.loop)); /* all at once */
    check_regs(&W, 3, 1);
    L->detach(W.ctx);
    check_regs(&W, 0, 0);
    ck_assert(L->is_empty(W.loop));

    tu_write_byte(W.a[1]);
    while (W.w1_calls == 0)
        ck_assert_int_ge(osev_loop_once(W.ctx, osev_now() + osev_s(5)), 0);
    ck_assert_int_eq(W.w2_calls, 0);

    /* And attaching again registers what is left. */
    ck_assert_osev_ok(L->attach(W.ctx, W.loop));
    check_regs(&W, 2, 1);
    ck_assert_osev_ok(osev_timer_set(W.t1, 0)); /* long due */
    ITERATE_UNTIL(&W, W.t1_calls >= 1);
    world_close(&W); /* free while attached: the loop is emptied too */
}
END_TEST

/* Readiness the foreign loop reports for a mask that changed, and the
 * write side of the same pipe: one registration, the merged mask. */
START_TEST(merged_mask_follows_watches)
{
    struct world W;
    osev_fd *rd, *wr;
    struct osev_hook_stats st;

    world_open(&W);
    ck_assert_osev_ok(L->attach(W.ctx, W.loop));
    ck_assert_osev_ok(osev_fd_add(W.ctx, W.a[1], POLLOUT, w2_cb, &W, &wr));
    ck_assert_osev_ok(osev_fd_add(W.ctx, W.a[1], 0, w3_cb, &W, &rd));
    check_regs(&W, 2, 0);
    ITERATE_UNTIL(&W, W.w2_calls >= 1); /* a pipe is writable at once */
    ck_assert_int_eq(W.w3_calls, 0);
    st = stats(W.ctx);
    ck_assert_osev_ok(osev_fd_modify(wr, 0)); /* merged mask 0: deregistered */
    check_regs(&W, 1, 0);
    ck_assert_uint_eq(stats(W.ctx).fd_deregisters, st.fd_deregisters + 1);
    osev_fd_remove(wr);
    osev_fd_remove(rd);
    L->detach(W.ctx);
    ck_assert(L->is_empty(W.loop));
    world_close(&W);
}
END_TEST

int scenario_main(const struct scenario_loop *loop)
{
    Suite *s = suite_create(loop->name);
    TCase *tc = tcase_create("real-loop");

    L = loop;
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, scenario_in_real_loop);
    tcase_add_test(tc, detach_leaves_loop_empty_and_pull_works);
    tcase_add_test(tc, merged_mask_follows_watches);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
