/*
 * test-select.c - osev_beforeselect/afterselect: sets only added to, maxfd
 * only raised, fds that do not fit an fd_set refused with nothing written.
 */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static int calls, last_fd;
static short last_revents;

static void rec_cb(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)arg;
    calls++;
    last_fd = fd;
    last_revents = revents;
    if (revents & POLLIN)
        tu_drain(fd);
}

struct sets {
    fd_set r, w, e;
    int maxfd;
    struct timeval tv;
    bool tv_set;
};

static void sets_init(struct sets *s)
{
    memset(s, 0, sizeof *s);
    FD_ZERO(&s->r);
    FD_ZERO(&s->w);
    FD_ZERO(&s->e);
    s->maxfd = -1;
}

static int before(osev_ctx *ctx, struct sets *s, osev_time now)
{
    return osev_beforeselect(ctx, &s->maxfd, &s->r, &s->w, &s->e, &s->tv,
                             &s->tv_set, now);
}

START_TEST(adds_without_clearing_and_maps_bits)
{
    osev_ctx *ctx = tu_ctx_new();
    int p[2], q[2], own[2];
    osev_fd *wr, *ww, *wp;
    struct sets s;

    tu_pipe(p);
    tu_pipe(q);
    tu_pipe(own);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, rec_cb, NULL, &wr));
    ck_assert_osev_ok(osev_fd_add(ctx, q[1], POLLOUT, rec_cb, NULL, &ww));
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLPRI, rec_cb, NULL, &wp));
    sets_init(&s);
    FD_SET(own[0], &s.r); /* the caller's own bit */
    s.maxfd = 1000;       /* higher than ours: stays */
    ck_assert_osev_ok(before(ctx, &s, 0));
    ck_assert(FD_ISSET(own[0], &s.r));
    ck_assert(FD_ISSET(p[0], &s.r));
    ck_assert(!FD_ISSET(p[0], &s.w));
    ck_assert(FD_ISSET(p[0], &s.e));
    ck_assert(FD_ISSET(q[1], &s.w));
    ck_assert(!FD_ISSET(q[1], &s.r));
    ck_assert_int_eq(s.maxfd, 1000);
    ck_assert(!s.tv_set); /* no timer: still no timeout */

    sets_init(&s);
    ck_assert_osev_ok(before(ctx, &s, 0));
    ck_assert_int_ge(s.maxfd, p[0]);
    ck_assert_int_ge(s.maxfd, q[1]);
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]), close(q[0]), close(q[1]);
    close(own[0]), close(own[1]);
}
END_TEST

static void timer_cb(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now;
    ++*(int *)arg;
}

START_TEST(timeout_lowered_rounded_to_microseconds)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_time now = osev_now();
    osev_timer *t;
    struct sets s;
    int fired = 0;

    ck_assert_osev_ok(osev_timer_add(ctx, now + 1500, timer_cb, &fired, &t));
    sets_init(&s);
    ck_assert_osev_ok(before(ctx, &s, now));
    ck_assert(s.tv_set);
    ck_assert_int_eq(s.tv.tv_sec, 0);
    ck_assert_int_eq(s.tv.tv_usec, 2); /* 1.5 us rounds up to 2 */

    /* a caller's shorter timeout stays */
    ck_assert_osev_ok(osev_timer_set(t, now + osev_s(3)));
    sets_init(&s);
    s.tv = (struct timeval){ .tv_sec = 1 };
    s.tv_set = true;
    ck_assert_osev_ok(before(ctx, &s, now));
    ck_assert_int_eq(s.tv.tv_sec, 1);
    ck_assert_int_eq(s.tv.tv_usec, 0);
    /* a longer one is lowered */
    s.tv = (struct timeval){ .tv_sec = 9 };
    ck_assert_osev_ok(before(ctx, &s, now));
    ck_assert_int_eq(s.tv.tv_sec, 3);
    ck_assert_int_eq(s.tv.tv_usec, 0);
    osev_ctx_free(ctx);
}
END_TEST

/* A deadline already past gives a zero timeout, set; so does one that is
 * due exactly now. */
START_TEST(timeout_for_a_past_deadline_is_zero)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_time now = osev_now();
    osev_timer *t;
    struct sets s;
    int fired = 0;

    ck_assert_osev_ok(osev_timer_add(ctx, now - osev_s(2), timer_cb, &fired,
                                     &t));
    sets_init(&s);
    s.tv = (struct timeval){ .tv_sec = 9 };
    s.tv_set = true;
    ck_assert_osev_ok(before(ctx, &s, now));
    ck_assert(s.tv_set);
    ck_assert_int_eq(s.tv.tv_sec, 0);
    ck_assert_int_eq(s.tv.tv_usec, 0);
    ck_assert_osev_ok(osev_timer_set(t, now));
    sets_init(&s);
    ck_assert_osev_ok(before(ctx, &s, now));
    ck_assert(s.tv_set);
    ck_assert_int_eq(s.tv.tv_sec, 0);
    ck_assert_int_eq(s.tv.tv_usec, 0);
    ck_assert_int_eq(fired, 0);
    osev_ctx_free(ctx);
}
END_TEST

START_TEST(real_select_round_dispatches)
{
    osev_ctx *ctx = tu_ctx_new();
    int p[2], q[2];
    osev_fd *wr, *ww;
    struct sets s;

    tu_pipe(p);
    tu_pipe(q);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, rec_cb, NULL, &wr));
    ck_assert_osev_ok(osev_fd_add(ctx, q[0], POLLIN, rec_cb, NULL, &ww));
    tu_write_byte(p[1]);
    sets_init(&s);
    ck_assert_osev_ok(before(ctx, &s, 0));
    s.tv = (struct timeval){ .tv_sec = 5 };
    ck_assert_int_eq(select(s.maxfd + 1, &s.r, &s.w, &s.e, &s.tv), 1);
    calls = 0;
    osev_afterselect(ctx, s.maxfd, &s.r, &s.w, &s.e, 0);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(last_fd, p[0]);
    ck_assert_int_eq(last_revents, POLLIN);
    /* the same sets again: the round is used up */
    osev_afterselect(ctx, s.maxfd, &s.r, &s.w, &s.e, 0);
    ck_assert_int_eq(calls, 1);
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]), close(q[0]), close(q[1]);
}
END_TEST

START_TEST(stale_rules_like_afterpoll)
{
    osev_ctx *ctx = tu_ctx_new();
    int p[2], q[2];
    osev_fd *gone, *late;
    struct sets s;

    tu_pipe(p);
    tu_pipe(q);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, rec_cb, NULL, &gone));
    sets_init(&s);
    ck_assert_osev_ok(before(ctx, &s, 0));
    osev_fd_remove(gone);
    ck_assert_osev_ok(osev_fd_add(ctx, q[0], POLLIN, rec_cb, NULL, &late));
    /* both "ready" by the application's sets */
    FD_SET(q[0], &s.r);
    if (q[0] > s.maxfd)
        s.maxfd = q[0];
    tu_write_byte(p[1]);
    tu_write_byte(q[1]);
    calls = 0;
    osev_afterselect(ctx, s.maxfd, &s.r, &s.w, &s.e, 0);
    ck_assert_int_eq(calls, 0); /* removed: ignored; added after: waits */
    sets_init(&s);
    ck_assert_osev_ok(before(ctx, &s, 0));
    s.tv = (struct timeval){ .tv_sec = 5 };
    ck_assert_int_eq(select(s.maxfd + 1, &s.r, &s.w, &s.e, &s.tv), 1);
    osev_afterselect(ctx, s.maxfd, &s.r, &s.w, &s.e, 0);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(last_fd, q[0]);
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]), close(q[0]), close(q[1]);
}
END_TEST

START_TEST(fd_beyond_fd_setsize_refused_nothing_written)
{
    osev_ctx *ctx = tu_ctx_new();
    struct rlimit rl;
    int p[2], big = 1500, n, timeout = -1;
    osev_fd *w, *wsmall;
    osev_timer *t;
    struct sets s, copy;
    struct pollfd fds[8];

    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur <= (rlim_t)big) {
        rl.rlim_cur = rl.rlim_max > 4096 ? 4096 : rl.rlim_max;
        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    ck_assert_int_gt((long)rl.rlim_cur, big); /* or the test cannot run */
    tu_pipe(p);
    ck_assert_int_eq(dup2(p[0], big), big);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, rec_cb, NULL, &wsmall));
    ck_assert_osev_ok(osev_fd_add(ctx, big, POLLIN, rec_cb, NULL, &w));
    ck_assert_osev_ok(osev_timer_add(ctx, osev_now() + osev_ms(5), timer_cb,
                                     &n, &t));
    sets_init(&s);
    s.maxfd = 3;
    FD_SET(0, &s.r);
    memcpy(&copy, &s, sizeof s);
    ck_assert_osev_err(before(ctx, &s, 0), -EBADF);
    ck_assert_int_eq(memcmp(&copy, &s, sizeof s), 0);

    /* poll has no such limit */
    n = 8;
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_int_eq(n, 3);

    /* once the big fd's watch is gone, select works again */
    osev_fd_remove(w);
    ck_assert_osev_ok(before(ctx, &s, 0));
    ck_assert(FD_ISSET(p[0], &s.r));
    osev_ctx_free(ctx);
    close(big), close(p[0]), close(p[1]);
}
END_TEST

START_TEST(missing_set_for_an_asked_bit)
{
    osev_ctx *ctx = tu_ctx_new();
    int p[2];
    osev_fd *w;
    struct sets s;

    tu_pipe(p);
    ck_assert_osev_ok(osev_fd_add(ctx, p[1], POLLOUT, rec_cb, NULL, &w));
    sets_init(&s);
    ck_assert_osev_err(osev_beforeselect(ctx, &s.maxfd, &s.r, NULL, &s.e,
                                         &s.tv, &s.tv_set, 0),
                       -EINVAL);
    ck_assert_int_eq(s.maxfd, -1);
    /* a set no watch asks for may be NULL (rfds is the wakeup fd's) */
    ck_assert_osev_ok(osev_beforeselect(ctx, &s.maxfd, &s.r, &s.w, NULL,
                                        &s.tv, &s.tv_set, 0));
    ck_assert(FD_ISSET(p[1], &s.w));
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]);
}
END_TEST

/*
 * Only the fds a round handed out take its results: a held watch (0)
 * switched on after osev_beforeselect() does not take a bit the
 * application set for its own use of the same fd.
 */
START_TEST(only_the_rounds_fds_take_results)
{
    osev_ctx *ctx = tu_ctx_new();
    int a[2], c[2];
    osev_fd *wa, *wc;
    struct sets s;

    tu_pipe(a);
    tu_pipe(c);
    ck_assert_osev_ok(osev_fd_add(ctx, a[0], POLLIN, rec_cb, NULL, &wa));
    ck_assert_osev_ok(osev_fd_add(ctx, c[0], 0, rec_cb, NULL, &wc));
    sets_init(&s);
    ck_assert_osev_ok(before(ctx, &s, 0));
    ck_assert(!FD_ISSET(c[0], &s.r));
    FD_SET(c[0], &s.r); /* the application's own interest in c */
    if (c[0] > s.maxfd)
        s.maxfd = c[0];
    tu_write_byte(a[1]);
    tu_write_byte(c[1]);
    ck_assert_int_eq(select(s.maxfd + 1, &s.r, NULL, NULL, NULL), 2);
    ck_assert_osev_ok(osev_fd_modify(wc, POLLIN));
    calls = 0;
    osev_afterselect(ctx, s.maxfd, &s.r, NULL, NULL, 0);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(last_fd, a[0]);
    osev_ctx_free(ctx);
    close(a[0]), close(a[1]), close(c[0]), close(c[1]);
}
END_TEST

/*
 * The boundary itself: FD_SETSIZE - 1 is the last fd an fd_set holds, and
 * FD_SETSIZE the first it does not (a guard written "fd > FD_SETSIZE"
 * would let it through and FD_SET past the end of the set).
 */
START_TEST(fd_setsize_boundary)
{
    osev_ctx *ctx;
    struct rlimit rl;
    int p[2];
    osev_fd *w_last, *w_first_out;
    struct sets s, copy;

    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur <= FD_SETSIZE) {
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max <= FD_SETSIZE) {
            fprintf(stderr, "fd_setsize_boundary: skipped, RLIMIT_NOFILE "
                            "hard limit %lu <= FD_SETSIZE\n",
                    (unsigned long)rl.rlim_max);
            return;
        }
        rl.rlim_cur = FD_SETSIZE + 1;
        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    ctx = tu_ctx_new();
    tu_pipe(p);
    ck_assert_int_eq(dup2(p[0], FD_SETSIZE - 1), FD_SETSIZE - 1);
    ck_assert_int_eq(dup2(p[0], FD_SETSIZE), FD_SETSIZE);

    ck_assert_osev_ok(osev_fd_add(ctx, FD_SETSIZE - 1, POLLIN, rec_cb, NULL,
                                  &w_last));
    sets_init(&s);
    ck_assert_osev_ok(before(ctx, &s, 0));
    ck_assert(FD_ISSET(FD_SETSIZE - 1, &s.r));
    ck_assert_int_eq(s.maxfd, FD_SETSIZE - 1);

    ck_assert_osev_ok(osev_fd_add(ctx, FD_SETSIZE, POLLIN, rec_cb, NULL,
                                  &w_first_out));
    sets_init(&s);
    memcpy(&copy, &s, sizeof s);
    ck_assert_osev_err(before(ctx, &s, 0), -EBADF);
    ck_assert_int_eq(memcmp(&copy, &s, sizeof s), 0);

    osev_ctx_free(ctx);
    close(FD_SETSIZE), close(FD_SETSIZE - 1), close(p[0]), close(p[1]);
}
END_TEST

/* The sets map back to bits: rfds to POLLIN, wfds to POLLOUT, efds to
 * POLLPRI (the test plays select(2) and reports each set alone). */
START_TEST(sets_map_back_to_bits)
{
    osev_ctx *ctx = tu_ctx_new();
    const short want[3] = { POLLIN, POLLOUT, POLLPRI };
    int p[2];
    osev_fd *w;
    struct sets s;

    tu_pipe(p);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN | POLLOUT | POLLPRI,
                                  rec_cb, NULL, &w));
    for (int i = 0; i < 3; i++) {
        sets_init(&s);
        ck_assert_osev_ok(before(ctx, &s, 0));
        ck_assert(FD_ISSET(p[0], &s.r) && FD_ISSET(p[0], &s.w) &&
                  FD_ISSET(p[0], &s.e));
        FD_ZERO(&s.r);
        FD_ZERO(&s.w);
        FD_ZERO(&s.e);
        FD_SET(p[0], i == 0 ? &s.r : i == 1 ? &s.w : &s.e);
        calls = 0;
        osev_afterselect(ctx, s.maxfd, &s.r, &s.w, &s.e, 0);
        ck_assert_int_eq(calls, 1);
        ck_assert_int_eq(last_revents, want[i]);
    }
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]);
}
END_TEST

/* @maxfd is the highest fd afterselect looks at: a ready fd above it
 * takes nothing from the round. */
START_TEST(afterselect_looks_up_to_maxfd)
{
    osev_ctx *ctx = tu_ctx_new();
    int p[2], q[2];
    osev_fd *wp, *wq;
    struct sets s;

    tu_pipe(p);
    tu_pipe(q); /* q[0] > p[0] */
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, rec_cb, NULL, &wp));
    ck_assert_osev_ok(osev_fd_add(ctx, q[0], POLLIN, rec_cb, NULL, &wq));
    tu_write_byte(p[1]);
    tu_write_byte(q[1]);
    sets_init(&s);
    ck_assert_osev_ok(before(ctx, &s, 0));
    ck_assert_int_ge(s.maxfd, q[0]);
    s.tv = (struct timeval){ .tv_sec = 5 };
    ck_assert_int_eq(select(s.maxfd + 1, &s.r, &s.w, &s.e, &s.tv), 2);
    calls = 0;
    osev_afterselect(ctx, q[0] - 1, &s.r, &s.w, &s.e, 0);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(last_fd, p[0]);
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]), close(q[0]), close(q[1]);
}
END_TEST

/* From a callback (here of osev_dispatch(), while a select round is
 * open), osev_afterselect is ignored: no pass inside the pass.  The
 * round is still the application's to complete afterwards. */
static struct sets nested_sets;
static osev_ctx *nested_ctx;
static int nested_calls;

static void nested_afterselect(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)revents, (void)arg;
    tu_drain(fd);
    nested_calls++;
    osev_afterselect(nested_ctx, nested_sets.maxfd, &nested_sets.r,
                     &nested_sets.w, &nested_sets.e, 0);
}

START_TEST(afterselect_from_a_callback_is_ignored)
{
    osev_ctx *ctx = tu_ctx_new();
    int p[2], q[2];
    osev_fd *wp, *wq;

    nested_ctx = ctx;
    nested_calls = calls = 0;
    tu_pipe(p);
    tu_pipe(q);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, nested_afterselect,
                                  NULL, &wp));
    ck_assert_osev_ok(osev_fd_add(ctx, q[0], POLLIN, rec_cb, NULL, &wq));
    sets_init(&nested_sets);
    ck_assert_osev_ok(before(ctx, &nested_sets, 0));
    tu_write_byte(q[1]);
    nested_sets.tv = (struct timeval){ .tv_sec = 5 };
    ck_assert_int_eq(select(nested_sets.maxfd + 1, &nested_sets.r,
                            &nested_sets.w, &nested_sets.e, &nested_sets.tv),
                     1);
    tu_write_byte(p[1]);
    ck_assert_int_eq(osev_dispatch(ctx), 2); /* p's and q's, no more */
    ck_assert_int_eq(nested_calls, 1);
    ck_assert_int_eq(calls, 1);
    tu_write_byte(q[1]);
    osev_afterselect(ctx, nested_sets.maxfd, &nested_sets.r, &nested_sets.w,
                     &nested_sets.e, 0); /* the round, completed here */
    ck_assert_int_eq(calls, 2);
    ck_assert_int_eq(nested_calls, 1);
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]), close(q[0]), close(q[1]);
}
END_TEST

static Suite *select_suite(void)
{
    Suite *s = suite_create("select");
    TCase *tc = tcase_create("select");

    tcase_add_test(tc, adds_without_clearing_and_maps_bits);
    tcase_add_test(tc, timeout_lowered_rounded_to_microseconds);
    tcase_add_test(tc, timeout_for_a_past_deadline_is_zero);
    tcase_add_test(tc, real_select_round_dispatches);
    tcase_add_test(tc, stale_rules_like_afterpoll);
    tcase_add_test(tc, only_the_rounds_fds_take_results);
    tcase_add_test(tc, sets_map_back_to_bits);
    tcase_add_test(tc, afterselect_looks_up_to_maxfd);
    tcase_add_test(tc, afterselect_from_a_callback_is_ignored);
    tcase_add_test(tc, fd_beyond_fd_setsize_refused_nothing_written);
    tcase_add_test(tc, fd_setsize_boundary);
    tcase_add_test(tc, missing_set_for_an_asked_bit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(select_suite());
}
