/*
 * test-teardown.c - the end of a context and the release functions.
 *
 * Every object in flight when a context is freed (events handed to a
 * waiter, queued or waiting for event_occurs, scheduled and deferred
 * calls) is freed or released exactly once: the counting allocator ends
 * where it started.  A release function runs as a callback of its
 * context: the dispatch and wait calls are refused with -EBUSY, and
 * osev_ctx_free() from a release takes effect when the call that ran the
 * release is done, which then says -ESTALE.  Releases run by
 * osev_ctx_free() itself cannot add anything to the dying context.
 */
#include "testutil.h"

#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#define BOUND osev_s(10)
#define TYPE 5
#define MASK (UINT64_C(1) << TYPE)

static long live_at_start;

static osev_ctx *counted_ctx(void)
{
    struct osev_ctx_opts o = { .size = sizeof o, .realloc_fn = tu_realloc };
    osev_ctx *ctx;

    tu_alloc_fail_at(-1);
    live_at_start = tu_alloc_live();
    ck_assert_osev_ok(osev_ctx_new(&o, &ctx));
    return ctx;
}

static void assert_nothing_left(void)
{
    ck_assert_int_eq(tu_alloc_live(), live_at_start);
}

static void post(osev_ctx *ctx, uint64_t cookie)
{
    osev_event *ev = osev_event_new(ctx, TYPE, cookie, 16);

    ck_assert_ptr_nonnull(ev);
    osev_event_post(ctx, ev);
}

/* ---- objects in flight at osev_ctx_free() ---- */

static void post_then_free(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now;
    post(arg, 1);       /* handed straight to the waiting thread */
    osev_ctx_free(arg);
}

START_TEST(event_handed_to_waiter_is_freed)
{
    osev_ctx *ctx = counted_ctx();
    osev_event *ev = NULL;
    osev_timer *t;

    ck_assert_osev_ok(osev_timer_add(ctx, 0, post_then_free, ctx, &t));
    ck_assert_osev_err(osev_event_wait(ctx, MASK, NULL, NULL,
                                       osev_now() + BOUND, &ev),
                       -ESTALE);
    ck_assert_ptr_null(ev);
    assert_nothing_left();
}
END_TEST

static void occurs_never(void *user, osev_event *ev)
{
    (void)user, (void)ev;
    ck_abort_msg("an event was delivered after its context was freed");
}

static int releases;

static void count_release(void *arg)
{
    (void)arg;
    releases++;
}

static void never_run(osev_ctx *ctx, void *arg)
{
    (void)ctx, (void)arg;
    ck_abort_msg("a call ran after its context was freed");
}

/* Leave one of everything in flight, then free the context. */
static void fill_then_free(osev_timer *t, osev_time now, void *arg)
{
    osev_ctx *ctx = arg;

    (void)t, (void)now;
    post(ctx, 2);                 /* queued for check */
    post(ctx, 3);                 /* queued for check */
    ck_assert_osev_ok(osev_defer(ctx, never_run, NULL));
    ck_assert_osev_ok(osev_schedule(ctx, never_run, count_release, NULL));
    osev_ctx_free(ctx);
    /* Still inside the pass: more may come, and goes with the context. */
    post(ctx, 4);
    ck_assert_osev_ok(osev_schedule(ctx, never_run, count_release, NULL));
}

START_TEST(everything_in_flight_is_freed_once)
{
    struct osev_event_hooks h = { .event_occurs_mask = UINT64_C(1) << 6,
                                  .event_occurs = occurs_never };
    osev_ctx *ctx = counted_ctx();
    osev_event *ev;
    osev_timer *t;

    ck_assert_osev_ok(osev_event_set_hooks(ctx, &h, sizeof h, NULL));
    ev = osev_event_new(ctx, 6, 0, 8); /* waits for event_occurs */
    ck_assert_ptr_nonnull(ev);
    osev_event_post(ctx, ev);
    releases = 0;
    ck_assert_osev_ok(osev_timer_add(ctx, 0, fill_then_free, ctx, &t));
    ck_assert_osev_err(osev_loop_once(ctx, osev_now() + BOUND), -ESTALE);
    ck_assert_int_eq(releases, 2);
    assert_nothing_left();
}
END_TEST

/* ---- a release that frees its context ---- */

static void free_ctx_release(void *arg)
{
    osev_ctx_free(arg);
}

static void noop_timer(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now, (void)arg;
}

/* A timer ended outside any pass, whose release frees the context at the
 * next release point. */
static void arm_freeing_release(osev_ctx *ctx)
{
    osev_timer *t;

    ck_assert_osev_ok(osev_timer_add(ctx, OSEV_TIME_INFINITY, noop_timer,
                                     ctx, &t));
    osev_timer_set_release(t, free_ctx_release);
    osev_timer_remove(t);
}

enum release_point {
    AT_BEFOREPOLL,
    AT_BEFORESELECT,
    AT_LOOP_ONCE,
    AT_DISPATCH,
    AT_EVENT_WAIT,
    RELEASE_POINTS
};

START_TEST(release_frees_ctx_outside_a_pass)
{
    osev_ctx *ctx = counted_ctx();
    struct pollfd fds[8];
    int n = 8, ms = -1, maxfd = -1;
    fd_set rfds;
    struct timeval tv;
    bool tv_set = false;
    osev_event *ev;

    arm_freeing_release(ctx);
    FD_ZERO(&rfds);
    switch (_i) {
    case AT_BEFOREPOLL:
        ck_assert_osev_err(osev_beforepoll(ctx, &n, fds, &ms, 0), -ESTALE);
        break;
    case AT_BEFORESELECT:
        ck_assert_osev_err(osev_beforeselect(ctx, &maxfd, &rfds, NULL, NULL,
                                             &tv, &tv_set, 0),
                           -ESTALE);
        break;
    case AT_LOOP_ONCE:
        ck_assert_osev_err(osev_loop_once(ctx, osev_now() + BOUND), -ESTALE);
        break;
    case AT_DISPATCH:
        ck_assert_osev_err(osev_dispatch(ctx), -ESTALE);
        break;
    case AT_EVENT_WAIT:
        ck_assert_osev_err(osev_event_wait(ctx, MASK, NULL, NULL,
                                           osev_now() + BOUND, &ev),
                           -ESTALE);
        break;
    }
    assert_nothing_left();
}
END_TEST

static void remove_self_read(osev_fd *w, int fd, short revents, void *arg)
{
    (void)revents;
    tu_drain(fd);
    osev_fd_set_release(w, free_ctx_release);
    (void)arg;
    osev_fd_remove(w);
}

/* The release runs at the end of the pass that removed the watch. */
START_TEST(release_frees_ctx_at_end_of_afterpoll)
{
    osev_ctx *ctx = counted_ctx();
    struct pollfd fds[8];
    int n = 8, ms = -1, p[2];
    osev_fd *w;

    tu_pipe(p);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, remove_self_read, ctx,
                                  &w));
    osev_fd_set_release(w, NULL);
    tu_write_byte(p[1]);
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &ms, 0));
    ck_assert_int_ge(poll(fds, (nfds_t)n, 5000), 1);
    osev_afterpoll(ctx, n, fds, 0); /* frees ctx at its end */
    assert_nothing_left();
    close(p[0]), close(p[1]);
}
END_TEST

/* ---- what else a release may call ---- */

struct nested {
    osev_ctx *ctx;
    int wait, loop_once, dispatch, beforepoll;
    osev_time waited;
};

static void try_nested(void *arg)
{
    struct nested *nr = arg;
    struct pollfd fds[8];
    int n = 8, ms = -1;
    osev_time start = osev_now();
    osev_event *ev;

    nr->wait = osev_event_wait(nr->ctx, MASK, NULL, NULL, start + BOUND, &ev);
    nr->waited = osev_now() - start;
    nr->loop_once = osev_loop_once(nr->ctx, osev_now() + BOUND);
    nr->dispatch = osev_dispatch(nr->ctx);
    nr->beforepoll = osev_beforepoll(nr->ctx, &n, fds, &ms, 0);
}

START_TEST(release_cannot_dispatch_or_wait)
{
    osev_ctx *ctx = tu_ctx_new();
    struct nested nr = { .ctx = ctx };
    osev_timer *t;

    ck_assert_osev_ok(osev_timer_add(ctx, OSEV_TIME_INFINITY, noop_timer,
                                     &nr, &t));
    osev_timer_set_release(t, try_nested);
    osev_timer_remove(t);
    /* The release runs from this turn's start, as a callback would. */
    ck_assert_osev_err(osev_loop_once(ctx, osev_now() + osev_ms(1)),
                       -ETIMEDOUT);
    ck_assert_osev_err(nr.wait, -EBUSY);
    ck_assert_int_lt(nr.waited, BOUND);
    ck_assert_osev_err(nr.loop_once, -EBUSY);
    ck_assert_osev_err(nr.dispatch, -EBUSY);
    ck_assert_osev_err(nr.beforepoll, -EBUSY);
    osev_ctx_free(ctx);
}
END_TEST

/* ---- releases run by osev_ctx_free() itself ---- */

static void noop_read(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)fd, (void)revents, (void)arg;
}

struct late {
    osev_ctx *ctx;
    int timer, fd, defer, schedule;
    int pipe_r;
};

static void try_adding(void *arg)
{
    struct late *lt = arg;
    osev_timer *t;
    osev_fd *w;

    osev_ctx_free(lt->ctx); /* asks again: nothing more happens */
    lt->timer = osev_timer_add(lt->ctx, 0, noop_timer, NULL, &t);
    lt->fd = osev_fd_add(lt->ctx, lt->pipe_r, POLLIN, noop_read, NULL, &w);
    lt->defer = osev_defer(lt->ctx, never_run, NULL);
    lt->schedule = osev_schedule(lt->ctx, never_run, count_release, NULL);
    post(lt->ctx, 9); /* nobody can take it: freed */
}

START_TEST(releases_at_free_add_nothing)
{
    osev_ctx *ctx = counted_ctx();
    struct late lt = { .ctx = ctx };
    osev_timer *t;
    int p[2];

    tu_pipe(p);
    lt.pipe_r = p[0];
    ck_assert_osev_ok(osev_timer_add(ctx, OSEV_TIME_INFINITY, noop_timer,
                                     &lt, &t));
    osev_timer_set_release(t, try_adding);
    releases = 0;
    osev_ctx_free(ctx);
    ck_assert_osev_err(lt.timer, -ESTALE);
    ck_assert_osev_err(lt.fd, -ESTALE);
    ck_assert_osev_err(lt.defer, -ESTALE);
    ck_assert_osev_err(lt.schedule, -ESTALE);
    ck_assert_int_eq(releases, 0); /* refused: arg stayed the caller's */
    assert_nothing_left();
    close(p[0]), close(p[1]);
}
END_TEST

static Suite *teardown_suite(void)
{
    Suite *s = suite_create("teardown");
    TCase *flight = tcase_create("in flight");
    TCase *rel = tcase_create("release");

    tcase_add_test(flight, event_handed_to_waiter_is_freed);
    tcase_add_test(flight, everything_in_flight_is_freed_once);
    tcase_add_loop_test(rel, release_frees_ctx_outside_a_pass, 0,
                        RELEASE_POINTS);
    tcase_add_test(rel, release_frees_ctx_at_end_of_afterpoll);
    tcase_add_test(rel, release_cannot_dispatch_or_wait);
    tcase_add_test(rel, releases_at_free_add_nothing);
    tcase_set_timeout(rel, 30);
    suite_add_tcase(s, flight);
    suite_add_tcase(s, rel);
    return s;
}

int main(void)
{
    return tu_run_suite(teardown_suite());
}
