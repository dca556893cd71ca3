/*
 * test-limits.c - every integer parameter of the core at its limits.
 *
 * Each public function of <osevent.h> is called with INT_MIN, -1, 0 and
 * INT_MAX for each int parameter (INT64_MIN, -1, 0, INT64_MAX for
 * osev_time; SIZE_MAX for sizes; values past 63 and UINT_MAX for event
 * types), and must give its documented answer: an error code, or a
 * defined behaviour.  Run in the sanitizer build
 * (-fsanitize=address,undefined -fno-sanitize-recover=all), undefined
 * behaviour on any of these paths fails the test even where the answer
 * happens to come out right.
 */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static const int ints[] = { INT_MIN, -1, 0, INT_MAX };
static const osev_time times[] = { INT64_MIN, -1, 0, INT64_MAX };
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static int calls;

static void count_fd(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)fd, (void)revents, (void)arg;
    calls++;
}

static void count_timer(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now, (void)arg;
    calls++;
}

/* ---- errors and time ---- */

START_TEST(strerror_any_int)
{
    const int extra[] = { -EINVAL, EINVAL, -ESTALE, INT_MIN + 1, -INT_MAX };

    for (size_t i = 0; i < N_OF(ints); i++) {
        const char *s = osev_strerror(ints[i]);

        ck_assert_ptr_nonnull(s);
        ck_assert_int_gt((int)strlen(s), 0);
    }
    for (size_t i = 0; i < N_OF(extra); i++)
        ck_assert_ptr_nonnull(osev_strerror(extra[i]));
    /* INT_MIN is no errno, negated or not */
    ck_assert_str_eq(osev_strerror(INT_MIN), "unknown error");
    ck_assert_str_eq(osev_strerror(0), "success");
}
END_TEST

START_TEST(time_helpers_saturate)
{
    const int64_t ms_max = INT64_MAX / 1000000, s_max = INT64_MAX / 1000000000;

    ck_assert_int_eq(osev_ms(INT64_MIN), -OSEV_TIME_INFINITY);
    ck_assert_int_eq(osev_ms(-1), -1000000);
    ck_assert_int_eq(osev_ms(0), 0);
    ck_assert_int_eq(osev_ms(INT64_MAX), OSEV_TIME_INFINITY);
    ck_assert_int_eq(osev_ms(ms_max), ms_max * 1000000);
    ck_assert_int_eq(osev_ms(ms_max + 1), OSEV_TIME_INFINITY);
    ck_assert_int_eq(osev_ms(-ms_max), -ms_max * 1000000);
    ck_assert_int_eq(osev_ms(-ms_max - 1), -OSEV_TIME_INFINITY);
    ck_assert_int_eq(osev_ms(INT_MIN), (int64_t)INT_MIN * 1000000);
    ck_assert_int_eq(osev_ms(INT_MAX), (int64_t)INT_MAX * 1000000);

    ck_assert_int_eq(osev_s(INT64_MIN), -OSEV_TIME_INFINITY);
    ck_assert_int_eq(osev_s(-1), -1000000000);
    ck_assert_int_eq(osev_s(0), 0);
    ck_assert_int_eq(osev_s(INT64_MAX), OSEV_TIME_INFINITY);
    ck_assert_int_eq(osev_s(s_max), s_max * 1000000000);
    ck_assert_int_eq(osev_s(s_max + 1), OSEV_TIME_INFINITY);
    ck_assert_int_eq(osev_s(-s_max - 1), -OSEV_TIME_INFINITY);
    ck_assert_int_eq(osev_s(INT_MIN), (int64_t)INT_MIN * 1000000000);
    ck_assert_int_eq(osev_s(INT_MAX), (int64_t)INT_MAX * 1000000000);
    ck_assert_int_ge(osev_now(), 0);
}
END_TEST

/* ---- struct sizes and flags ---- */

START_TEST(ctx_opts_sizes_and_flags)
{
    const size_t sizes[] = { 0, 1, SIZE_MAX, SIZE_MAX / 2, 4097 };
    struct osev_ctx_opts o = { .size = sizeof o };
    const unsigned flags[] = { UINT_MAX, 0x80000000u, 0x4u };
    osev_ctx *ctx = NULL;

    /* a size is a sizeof: one no version of the struct will reach is
     * refused before a byte past the caller's struct is read */
    for (size_t i = 0; i < N_OF(sizes); i++) {
        o.size = sizes[i];
        ck_assert_osev_err(osev_ctx_new(&o, &ctx), -EINVAL);
        ck_assert_ptr_null(ctx);
    }
    o.size = sizeof o;
    for (size_t i = 0; i < N_OF(flags); i++) {
        o.flags = flags[i];
        ck_assert_osev_err(osev_ctx_new(&o, &ctx), -EINVAL);
        ck_assert_ptr_null(ctx);
    }
    o.flags = 0;
    ck_assert_osev_ok(osev_ctx_new(&o, &ctx));
    osev_ctx_free(ctx);
}
END_TEST

static int h_reg(void *u, int fd, void **reg, short ev, void *tok)
{
    (void)u, (void)fd, (void)ev;
    *reg = tok;
    return 0;
}
static int h_mod(void *u, int fd, void **reg, short ev)
{
    (void)u, (void)fd, (void)reg, (void)ev;
    return 0;
}
static void h_dereg(void *u, int fd, void *reg)
{
    (void)u, (void)fd, (void)reg;
}
static int h_treg(void *u, void **reg, osev_time dl, void *tok)
{
    (void)u, (void)dl;
    *reg = tok;
    return 0;
}
static int h_tmod(void *u, void **reg, osev_time dl)
{
    (void)u, (void)reg, (void)dl;
    return 0;
}
static void h_tdereg(void *u, void *reg)
{
    (void)u, (void)reg;
}

static const struct osev_hooks plain_hooks = {
    .fd_register = h_reg,
    .fd_modify = h_mod,
    .fd_deregister = h_dereg,
    .timeout_register = h_treg,
    .timeout_modify = h_tmod,
    .timeout_deregister = h_tdereg,
};

START_TEST(hook_struct_sizes)
{
    const size_t sizes[] = { 0, 1, SIZE_MAX, SIZE_MAX / 2, 4097 };
    osev_ctx *ctx = tu_ctx_new();
    struct osev_event_hooks eh = { 0 };
    struct osev_hook_stats st;

    for (size_t i = 0; i < N_OF(sizes); i++) {
        ck_assert_osev_err(osev_set_hooks(ctx, &plain_hooks, sizes[i], NULL),
                           -EINVAL);
        ck_assert_osev_err(osev_event_set_hooks(ctx, &eh, sizes[i], NULL),
                           -EINVAL);
    }
    /* NULL hooks: the size is not looked at */
    ck_assert_osev_ok(osev_set_hooks(ctx, NULL, SIZE_MAX, NULL));
    ck_assert_osev_ok(osev_event_set_hooks(ctx, NULL, SIZE_MAX, NULL));

    /* stats: too small is refused; larger gets what is known */
    st.size = 0;
    ck_assert_osev_err(osev_get_hook_stats(ctx, &st), -EINVAL);
    st.size = SIZE_MAX;
    ck_assert_osev_ok(osev_get_hook_stats(ctx, &st));
    ck_assert_uint_eq(st.size, sizeof st);
    osev_ctx_free(ctx);
}
END_TEST

/* ---- fd watches ---- */

START_TEST(fd_add_fd_limits)
{
    osev_ctx *ctx = tu_ctx_new();
    struct rlimit rl;
    osev_fd *w = NULL;
    int p[2], high;

    for (size_t i = 0; i < N_OF(ints); i++) {
        int fd = ints[i];
        int want = fd >= 0 && fcntl(fd, F_GETFD) >= 0 ? 0 : -EBADF;
        int r = osev_fd_add(ctx, fd, POLLIN, count_fd, NULL, &w);

        ck_assert_osev_err(r, want);
        if (r == 0)
            osev_fd_remove(w);
    }
    /* no fd table grew toward INT_MAX: the count is the wakeup fd only */
    ck_assert_osev_ok(osev_dispatch(ctx));
    ck_assert_int_eq(tu_needed(ctx), 1);
    /* the highest fd the process may have is accepted */
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    tu_pipe(p);
    high = rl.rlim_cur > (1 << 20) ? (1 << 20) - 1 : (int)rl.rlim_cur - 1;
    ck_assert_int_eq(dup2(p[0], high), high);
    ck_assert_osev_ok(osev_fd_add(ctx, high, POLLIN, count_fd, NULL, &w));
    ck_assert_int_eq(tu_needed(ctx), 2);
    osev_ctx_free(ctx);
    close(high), close(p[0]), close(p[1]);
}
END_TEST

START_TEST(fd_event_bits_limits)
{
    const short bits[] = { SHRT_MIN, -1, 0, SHRT_MAX };
    osev_ctx *ctx = tu_ctx_new();
    osev_fd *w = NULL, *live;
    int p[2];

    tu_pipe(p);
    for (size_t i = 0; i < N_OF(bits); i++) {
        int r = osev_fd_add(ctx, p[0], bits[i], count_fd, NULL, &w);

        ck_assert_osev_err(r, bits[i] == 0 ? 0 : -EINVAL);
        if (r == 0)
            osev_fd_remove(w);
    }
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, count_fd, NULL, &live));
    for (size_t i = 0; i < N_OF(bits); i++)
        ck_assert_osev_err(osev_fd_modify(live, bits[i]),
                           bits[i] == 0 ? 0 : -EINVAL);
    ck_assert_osev_ok(osev_fd_modify(live, POLLIN));
    tu_write_byte(p[1]);
    calls = 0;
    ck_assert_int_eq(osev_dispatch(ctx), 1);
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]);
}
END_TEST

/* ---- timers and deadlines ---- */

START_TEST(timer_deadline_limits)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_timer *t = NULL, *far;
    osev_time dl;
    struct pollfd fds[4];
    int n, timeout;

    for (size_t i = 0; i < N_OF(times); i++) {
        int r = osev_timer_add(ctx, times[i], count_timer, NULL, &t);

        ck_assert_osev_err(r, times[i] < 0 ? -EINVAL : 0);
        if (r == 0)
            osev_timer_remove(t);
    }
    ck_assert_osev_ok(osev_dispatch(ctx)); /* releases; nothing ran */
    ck_assert_osev_ok(osev_timer_add(ctx, OSEV_TIME_INFINITY, count_timer,
                                     NULL, &t));
    ck_assert_osev_ok(osev_get_deadline(ctx, &dl));
    ck_assert_int_eq(dl, OSEV_TIME_INFINITY); /* disarmed */
    for (size_t i = 0; i < N_OF(times); i++)
        ck_assert_osev_err(osev_timer_set(t, times[i]),
                           times[i] < 0 ? -EINVAL : 0);
    ck_assert_osev_ok(osev_get_deadline(ctx, &dl));
    ck_assert_int_eq(dl, OSEV_TIME_INFINITY); /* the last set disarmed */

    /* the latest armed deadline: every timeout computed from it clamps */
    ck_assert_osev_ok(osev_timer_add(ctx, OSEV_TIME_INFINITY - 1,
                                     count_timer, NULL, &far));
    ck_assert_osev_ok(osev_get_deadline(ctx, &dl));
    ck_assert_int_eq(dl, OSEV_TIME_INFINITY - 1);
    n = 4;
    timeout = -1;
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_int_eq(timeout, INT_MAX);
    tu_get_fd(ctx); /* timerfd far away; -ENOSYS without the Linux APIs */
    calls = 0;
    ck_assert_int_eq(osev_dispatch(ctx), 0);
    ck_assert_int_eq(calls, 0);
    osev_ctx_free(ctx);
}
END_TEST

START_TEST(loop_once_deadline_limits)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_timer *t;

    ck_assert_osev_err(osev_loop_once(ctx, INT64_MIN), -EINVAL);
    ck_assert_osev_err(osev_loop_once(ctx, -1), -EINVAL);
    ck_assert_osev_err(osev_loop_once(ctx, 0), -ETIMEDOUT);
    ck_assert_osev_ok(osev_timer_add(ctx, 0, count_timer, NULL, &t));
    calls = 0;
    ck_assert_int_eq(osev_loop_once(ctx, INT64_MAX), 1); /* never times out */
    ck_assert_int_eq(calls, 1);
    osev_ctx_free(ctx);
}
END_TEST

START_TEST(event_wait_deadline_limits)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_event *ev = NULL;

    ck_assert_osev_err(osev_event_wait(ctx, 1, NULL, NULL, INT64_MIN, &ev),
                       -EINVAL);
    ck_assert_osev_err(osev_event_wait(ctx, 1, NULL, NULL, -1, &ev), -EINVAL);
    ck_assert_osev_err(osev_event_wait(ctx, 1, NULL, NULL, 0, &ev),
                       -ETIMEDOUT);
    ck_assert_ptr_null(ev);
    osev_event_post(ctx, osev_event_new(ctx, 0, 7, 0));
    ck_assert_osev_ok(osev_event_wait(ctx, 1, NULL, NULL, INT64_MAX, &ev));
    ck_assert_uint_eq(ev->for_user, 7);
    osev_event_free(ctx, ev);
    osev_ctx_free(ctx);
}
END_TEST

/* ---- pull: poll ---- */

START_TEST(beforepoll_room_limits)
{
    osev_ctx *ctx = tu_ctx_new();
    struct pollfd fds[4];
    int n, timeout;

    for (size_t i = 0; i < N_OF(ints); i++) {
        n = ints[i];
        timeout = 5;
        if (n < 0) {
            ck_assert_osev_err(osev_beforepoll(ctx, &n, fds, &timeout, 0),
                               -EINVAL);
            ck_assert_int_eq(n, ints[i]);
        } else if (n == 0) {
            ck_assert_osev_err(osev_beforepoll(ctx, &n, NULL, &timeout, 0),
                               -ENOBUFS);
            ck_assert_int_eq(n, 1);
        } else {
            /* the caller vouches for the room; one entry is written */
            ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
            ck_assert_int_eq(n, 1);
        }
        ck_assert_int_eq(timeout, 5); /* nothing due: not lowered */
    }
    osev_ctx_free(ctx);
}
END_TEST

START_TEST(beforepoll_timeout_and_now_limits)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_time now = osev_now();
    struct pollfd fds[4];
    osev_timer *t;
    int n, timeout;

    /* no timer: any timeout stays as it was */
    for (size_t i = 0; i < N_OF(ints); i++) {
        n = 4;
        timeout = ints[i];
        ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
        ck_assert_int_eq(timeout, ints[i]);
    }
    /* a timer 2 s away lowers infinite (any negative) and longer ones */
    ck_assert_osev_ok(osev_timer_add(ctx, now + osev_s(2), count_timer, NULL,
                                     &t));
    for (size_t i = 0; i < N_OF(ints); i++) {
        n = 4;
        timeout = ints[i];
        ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, now));
        ck_assert_int_eq(timeout, ints[i] == 0 ? 0 : 2000);
    }
    for (size_t i = 0; i < N_OF(times); i++) {
        n = 4;
        timeout = -1;
        if (times[i] < 0) {
            ck_assert_osev_err(osev_beforepoll(ctx, &n, fds, &timeout,
                                               times[i]),
                               -EINVAL);
            ck_assert_int_eq(timeout, -1);
            continue;
        }
        ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, times[i]));
        if (times[i] == INT64_MAX)
            ck_assert_int_eq(timeout, 0); /* everything is due by then */
        else
            ck_assert_int_ge(timeout, 1900); /* 0: read the clock */
    }
    osev_ctx_free(ctx);
}
END_TEST

START_TEST(afterpoll_nfds_and_now_limits)
{
    osev_ctx *ctx = tu_ctx_new();
    struct pollfd fds[4];
    osev_timer *t;
    int n = 4, timeout = -1;

    ck_assert_osev_ok(osev_timer_add(ctx, 0, count_timer, NULL, &t));
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    calls = 0;
    for (size_t i = 0; i < N_OF(ints); i++)
        osev_afterpoll(ctx, ints[i], fds, 0); /* not the round's count */
    osev_afterpoll(ctx, n, fds, INT64_MIN);
    osev_afterpoll(ctx, n, fds, -1);
    ck_assert_int_eq(calls, 0); /* all ignored: the due timer waits */

    /* a clock far ahead makes every armed timer due */
    ck_assert_osev_ok(osev_timer_set(t, osev_now() + osev_s(3600)));
    osev_afterpoll(ctx, n, fds, INT64_MAX);
    ck_assert_int_eq(calls, 1);

    /* a foreign array once a slot moved: any fd, any bits, no harm */
    {
        int p[2];
        osev_fd *w;

        n = 4;
        ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
        tu_pipe(p);
        ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, count_fd, NULL,
                                      &w));
        fds[0] = (struct pollfd){ .fd = INT_MAX, .revents = -1 };
        calls = 0;
        osev_afterpoll(ctx, 1, fds, 0);
        fds[0] = (struct pollfd){ .fd = INT_MIN, .revents = SHRT_MIN };
        osev_afterpoll(ctx, 1, fds, 0);
        ck_assert_int_eq(calls, 0);
        osev_ctx_free(ctx);
        close(p[0]), close(p[1]);
    }
}
END_TEST

/* ---- pull: select ---- */

struct sets {
    fd_set r, w, e;
    int maxfd;
    struct timeval tv;
    bool tv_set;
};

static void sets_init(struct sets *s, int maxfd)
{
    memset(s, 0, sizeof *s);
    FD_ZERO(&s->r);
    FD_ZERO(&s->w);
    FD_ZERO(&s->e);
    s->maxfd = maxfd;
}

static int before(osev_ctx *ctx, struct sets *s, osev_time now)
{
    return osev_beforeselect(ctx, &s->maxfd, &s->r, &s->w, &s->e, &s->tv,
                             &s->tv_set, now);
}

START_TEST(beforeselect_maxfd_and_now_limits)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_timer *t;
    struct sets s;

    for (size_t i = 0; i < N_OF(ints); i++) {
        sets_init(&s, ints[i]);
        ck_assert_osev_ok(before(ctx, &s, 0));
        /* only raised: to the wakeup fd, or left at INT_MAX */
        if (ints[i] == INT_MAX)
            ck_assert_int_eq(s.maxfd, INT_MAX);
        else
            ck_assert(s.maxfd >= 0 && s.maxfd < FD_SETSIZE);
    }
    ck_assert_osev_ok(osev_timer_add(ctx, osev_now() + osev_s(2),
                                     count_timer, NULL, &t));
    for (size_t i = 0; i < N_OF(times); i++) {
        sets_init(&s, -1);
        if (times[i] < 0) {
            ck_assert_osev_err(before(ctx, &s, times[i]), -EINVAL);
            ck_assert_int_eq(s.maxfd, -1);
            continue;
        }
        ck_assert_osev_ok(before(ctx, &s, times[i]));
        ck_assert(s.tv_set);
        if (times[i] == INT64_MAX) {
            ck_assert_int_eq(s.tv.tv_sec, 0);
            ck_assert_int_eq(s.tv.tv_usec, 0);
        }
    }
    osev_ctx_free(ctx);
}
END_TEST

START_TEST(beforeselect_timeval_limits)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_time now = osev_now();
    const struct timeval bad[] = {
        { .tv_sec = -1 },
        { .tv_sec = 0, .tv_usec = -1 },
        { .tv_sec = 0, .tv_usec = 1000000 },
        { .tv_sec = INT64_MAX / 1000000 - 1, .tv_usec = LONG_MAX },
        { .tv_sec = LONG_MIN, .tv_usec = LONG_MIN },
    };
    osev_timer *t;
    struct sets s;

    /* select(2) refuses these (EINVAL); so does beforeselect, before
     * anything is written, rather than compute with them */
    ck_assert_osev_ok(osev_timer_add(ctx, now + osev_s(2), count_timer, NULL,
                                     &t));
    for (size_t i = 0; i < N_OF(bad); i++) {
        sets_init(&s, -1);
        s.tv = bad[i];
        s.tv_set = true;
        ck_assert_osev_err(before(ctx, &s, now), -EINVAL);
        ck_assert_int_eq(s.maxfd, -1);
        ck_assert_int_eq(s.tv.tv_sec, bad[i].tv_sec);
        ck_assert_int_eq(s.tv.tv_usec, bad[i].tv_usec);
    }
    /* not set: whatever the struct holds is not looked at */
    sets_init(&s, -1);
    s.tv = bad[3];
    s.tv_set = false;
    ck_assert_osev_ok(before(ctx, &s, now));
    ck_assert(s.tv_set);
    ck_assert_int_eq(s.tv.tv_sec, 2);
    /* the largest valid timeouts are lowered */
    sets_init(&s, -1);
    s.tv = (struct timeval){ .tv_sec = LONG_MAX, .tv_usec = 999999 };
    s.tv_set = true;
    ck_assert_osev_ok(before(ctx, &s, now));
    ck_assert_int_eq(s.tv.tv_sec, 2);
    sets_init(&s, -1);
    s.tv = (struct timeval){ .tv_sec = INT64_MAX / 1000000 - 1,
                             .tv_usec = 999999 };
    s.tv_set = true;
    ck_assert_osev_ok(before(ctx, &s, now));
    ck_assert_int_eq(s.tv.tv_sec, 2);
    osev_ctx_free(ctx);
}
END_TEST

START_TEST(afterselect_maxfd_and_now_limits)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_timer *t;
    osev_fd *w;
    struct sets s;
    int p[2];

    tu_pipe(p);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, count_fd, NULL, &w));
    ck_assert_osev_ok(osev_timer_add(ctx, 0, count_timer, NULL, &t));
    for (size_t i = 0; i < N_OF(ints); i++) {
        sets_init(&s, -1);
        ck_assert_osev_ok(before(ctx, &s, 0));
        /* every set as if all were ready */
        memset(&s.r, 0xff, sizeof s.r);
        memset(&s.w, 0xff, sizeof s.w);
        memset(&s.e, 0xff, sizeof s.e);
        calls = 0;
        osev_afterselect(ctx, ints[i], &s.r, &s.w, &s.e, INT64_MIN);
        osev_afterselect(ctx, ints[i], &s.r, &s.w, &s.e, -1);
        ck_assert_int_eq(calls, 0); /* a negative now is ignored */
        ck_assert_osev_ok(osev_timer_set(t, 0));
        osev_afterselect(ctx, ints[i], &s.r, &s.w, &s.e, 0);
        /* the timer always; the fd only when maxfd reaches it */
        ck_assert_int_eq(calls, ints[i] >= p[0] ? 2 : 1);
    }
    sets_init(&s, -1);
    ck_assert_osev_ok(before(ctx, &s, 0));
    ck_assert_osev_ok(osev_timer_set(t, osev_now() + osev_s(3600)));
    FD_ZERO(&s.r); /* nothing ready but the clock */
    calls = 0;
    osev_afterselect(ctx, s.maxfd, &s.r, &s.w, &s.e, INT64_MAX);
    ck_assert_int_eq(calls, 1);
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]);
}
END_TEST

/* ---- the built-in loop ---- */

START_TEST(loop_exit_code_limits)
{
    osev_ctx *ctx = tu_ctx_new();

    for (size_t i = 0; i < N_OF(ints); i++) {
        /* a negative code would read as an errno: the loop still stops,
         * and says the code was refused */
        osev_loop_exit(ctx, ints[i]);
        ck_assert_int_eq(osev_loop_run(ctx), ints[i] < 0 ? -EINVAL : ints[i]);
    }
    osev_ctx_free(ctx);
}
END_TEST

/* ---- events ---- */

/* An allocator that says no to absurd sizes, as any would, without the
 * sanitizers' allocator aborting on them first. */
static void *modest_realloc(void *user, void *ptr, size_t size)
{
    (void)user;
    if (size > ((size_t)1 << 30))
        return NULL;
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, size);
}

START_TEST(event_new_type_and_size_limits)
{
    struct osev_ctx_opts o = { .size = sizeof o,
                               .realloc_fn = modest_realloc };
    osev_ctx *ctx;
    const unsigned bad_types[] = { OSEV_EVENT_TYPE_MAX + 1, 64, 1000,
                                   UINT_MAX, (unsigned)INT_MAX,
                                   (unsigned)INT_MIN };
    const size_t bad_sizes[] = { SIZE_MAX, SIZE_MAX - 1, SIZE_MAX / 2 + 1 };
    osev_event *ev;

    ck_assert_osev_ok(osev_ctx_new(&o, &ctx));
    for (size_t i = 0; i < N_OF(bad_types); i++) {
        errno = 0;
        ck_assert_ptr_null(osev_event_new(ctx, bad_types[i], 0, 0));
        ck_assert_int_eq(errno, EINVAL);
    }
    for (size_t i = 0; i < N_OF(bad_sizes); i++) {
        errno = 0;
        ck_assert_ptr_null(osev_event_new(ctx, 0, 0, bad_sizes[i]));
        ck_assert_int_eq(errno, ENOMEM);
    }
    ev = osev_event_new(ctx, OSEV_EVENT_TYPE_MAX, UINT64_MAX, 0);
    ck_assert_ptr_nonnull(ev);
    ck_assert_ptr_null(ev->data);
    osev_event_post(ctx, ev);
    ck_assert_osev_ok(osev_event_check(ctx, UINT64_C(1) << 63, NULL, NULL,
                                       &ev));
    ck_assert_uint_eq(ev->for_user, UINT64_MAX);
    osev_event_free(ctx, ev);
    osev_ctx_free(ctx);
}
END_TEST

static int silence_stderr(void)
{
    int saved, nul;

    fflush(stderr);
    saved = dup(2);
    nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
    ck_assert_int_eq(dup2(nul, 2), 2);
    close(nul);
    return saved;
}

static void restore_stderr(int saved)
{
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
}

START_TEST(event_post_with_type_changed_past_63)
{
    osev_ctx *ctx = tu_ctx_new();
    const unsigned bad_types[] = { 64, UINT_MAX };
    osev_event *ev, *got;
    int saved;

    /* ev->type is the producer's to write until the post: a value past
     * 63 is no type; the event is dropped and the loss reported */
    for (size_t i = 0; i < N_OF(bad_types); i++) {
        ev = osev_event_new(ctx, 1, 0, 8);
        ck_assert_ptr_nonnull(ev);
        ev->type = bad_types[i];
        saved = silence_stderr();
        osev_event_post(ctx, ev);
        restore_stderr(saved);
        ck_assert_osev_err(osev_event_check(ctx, OSEV_EVENTMASK_ALL, NULL,
                                            NULL, &got),
                           -EIO);
    }
    osev_ctx_free(ctx);
}
END_TEST

static int match_all(const osev_event *ev, void *user)
{
    (void)ev, (void)user;
    return 1;
}

START_TEST(event_typemask_limits)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_event *ev;

    osev_event_post(ctx, osev_event_new(ctx, 63, 1, 0));
    osev_event_post(ctx, osev_event_new(ctx, 0, 2, 0));
    ck_assert_osev_err(osev_event_check(ctx, 0, NULL, NULL, &ev), -EAGAIN);
    ck_assert_osev_err(osev_event_check(ctx, 0, match_all, NULL, &ev),
                       -EAGAIN);
    ck_assert_osev_err(osev_event_wait(ctx, 0, NULL, NULL, 0, &ev),
                       -ETIMEDOUT);
    ck_assert_osev_ok(osev_event_check(ctx, UINT64_MAX, match_all, NULL,
                                       &ev));
    ck_assert_uint_eq(ev->for_user, 1);
    osev_event_free(ctx, ev);
    ck_assert_osev_ok(osev_event_check(ctx, UINT64_MAX, NULL, NULL, &ev));
    ck_assert_uint_eq(ev->for_user, 2);
    osev_event_free(ctx, ev);
    osev_ctx_free(ctx);
}
END_TEST

struct disaster_seen {
    int calls;
    unsigned type;
    int errnoval;
};

static void on_disaster(void *user, unsigned type, const char *msg,
                        int errnoval)
{
    struct disaster_seen *d = user;

    (void)msg;
    d->calls++;
    d->type = type;
    d->errnoval = errnoval;
}

START_TEST(disaster_type_and_errno_limits)
{
    const unsigned types[] = { 0, 63, 64, UINT_MAX };
    osev_ctx *ctx = tu_ctx_new();
    struct disaster_seen d = { 0 };
    struct osev_event_hooks h = { .disaster = on_disaster };
    osev_event *ev;
    int saved;

    /* with a hook: both passed on as given */
    ck_assert_osev_ok(osev_event_set_hooks(ctx, &h, sizeof h, &d));
    for (size_t i = 0; i < N_OF(types); i++)
        for (size_t j = 0; j < N_OF(ints); j++) {
            osev_disaster(ctx, types[i], "x", ints[j]);
            ck_assert_uint_eq(d.type, types[i]);
            ck_assert_int_eq(d.errnoval, ints[j]);
        }
    ck_assert_int_eq(d.calls, (int)(N_OF(types) * N_OF(ints)));
    /* without: printed, whatever the values, then -EIO */
    ck_assert_osev_ok(osev_event_set_hooks(ctx, NULL, 0, NULL));
    saved = silence_stderr();
    for (size_t i = 0; i < N_OF(types); i++)
        for (size_t j = 0; j < N_OF(ints); j++)
            osev_disaster(ctx, types[i], NULL, ints[j]);
    restore_stderr(saved);
    ck_assert_osev_err(osev_event_check(ctx, 1, NULL, NULL, &ev), -EIO);
    osev_ctx_free(ctx);
}
END_TEST

/* ---- push ---- */

START_TEST(occurred_any_fd_any_token)
{
    osev_ctx *ctx = tu_ctx_new();
    void *const tokens[] = { NULL, (void *)1, (void *)UINTPTR_MAX,
                             (void *)(UINTPTR_MAX >> 1),
                             (void *)((uintptr_t)1 << (sizeof(void *) * 4)) };
    const short bits[] = { SHRT_MIN, -1, 0, SHRT_MAX };
    int p[2];
    osev_fd *w;
    osev_timer *t;

    tu_pipe(p);
    ck_assert_osev_ok(osev_set_hooks(ctx, &plain_hooks, sizeof plain_hooks,
                                     NULL));
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, count_fd, NULL, &w));
    ck_assert_osev_ok(osev_timer_add(ctx, 0, count_timer, NULL, &t));
    tu_write_byte(p[1]);
    calls = 0;
    for (size_t i = 0; i < N_OF(tokens); i++) {
        for (size_t j = 0; j < N_OF(ints); j++)
            for (size_t k = 0; k < N_OF(bits); k++)
                osev_occurred_fd(ctx, tokens[i], ints[j], bits[k], bits[k]);
        osev_occurred_fd(ctx, tokens[i], p[0], POLLIN, POLLIN);
        osev_occurred_timeout(ctx, tokens[i]);
    }
    ck_assert_int_eq(calls, 0); /* none of those tokens is ours */
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]);
}
END_TEST

/* A hook's result: negative is an error passed on as given, INT_MIN
 * included; anything else is success. */
static int hook_rc;

static int rc_reg(void *u, int fd, void **reg, short ev, void *tok)
{
    (void)u, (void)fd, (void)ev;
    *reg = tok;
    return hook_rc;
}

static int rc_treg(void *u, void **reg, osev_time dl, void *tok)
{
    (void)u, (void)dl;
    *reg = tok;
    return hook_rc;
}

START_TEST(hook_results_limits)
{
    struct osev_hooks h = plain_hooks;
    struct osev_hook_stats st = { .size = sizeof st };
    osev_ctx *ctx = tu_ctx_new();
    osev_fd *w = NULL;
    osev_timer *t = NULL;
    int p[2];

    h.fd_register = rc_reg;
    h.timeout_register = rc_treg;
    tu_pipe(p);
    hook_rc = 0;
    ck_assert_osev_ok(osev_set_hooks(ctx, &h, sizeof h, NULL));
    for (size_t i = 0; i < N_OF(ints); i++) {
        hook_rc = ints[i];
        ck_assert_int_eq(osev_fd_add(ctx, p[0], POLLIN, count_fd, NULL, &w),
                         ints[i] < 0 ? ints[i] : 0);
        ck_assert_int_eq(osev_timer_add(ctx, 0, count_timer, NULL, &t),
                         ints[i] < 0 ? ints[i] : 0);
        if (ints[i] >= 0) {
            osev_fd_remove(w);
            osev_timer_remove(t);
        }
    }
    ck_assert_ptr_nonnull(osev_strerror(INT_MIN));
    ck_assert_osev_ok(osev_get_hook_stats(ctx, &st));
    ck_assert_uint_eq(st.fd_regs, 1); /* the wakeup fd */
    ck_assert_uint_eq(st.timeout_regs, 0);
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]);
}
END_TEST

static int occurs_calls;

static void count_occurs(void *user, osev_event *ev)
{
    occurs_calls++;
    osev_event_free(user, ev);
}

START_TEST(event_hook_mask_limits)
{
    osev_ctx *ctx = tu_ctx_new();
    struct osev_event_hooks h = { .event_occurs_mask = UINT64_MAX,
                                  .event_occurs = count_occurs };

    ck_assert_osev_ok(osev_event_set_hooks(ctx, &h, sizeof h, ctx));
    osev_event_post(ctx, osev_event_new(ctx, 0, 0, 0));
    osev_event_post(ctx, osev_event_new(ctx, 63, 0, 0));
    ck_assert_int_eq(osev_dispatch(ctx), 2);
    ck_assert_int_eq(occurs_calls, 2);
    osev_ctx_free(ctx);
}
END_TEST

/* ---- signals and children ---- */

static void on_signal(osev_signal *s, int signo, void *arg)
{
    (void)s, (void)signo, (void)arg;
}

static void probe_handler(int signo)
{
    (void)signo;
}

START_TEST(signal_number_limits)
{
    const int bad[] = { INT_MIN, -1, 0, INT_MAX, NSIG, NSIG + 1, 65, 128 };
    osev_ctx *ctx = tu_ctx_new();
    osev_signal *s = NULL;
    struct sigaction sa, probe = { .sa_handler = probe_handler };

    for (size_t i = 0; i < N_OF(bad); i++) {
        ck_assert_osev_err(osev_signal_add(ctx, bad[i], on_signal, NULL, &s),
                           -EINVAL);
        ck_assert_ptr_null(s);
    }
    /* The highest number there is works, where the process may handle
     * it at all (valgrind keeps it for itself: sigaction's EINVAL). */
    if (sigaction(NSIG - 1, &probe, &sa) == 0 &&
        sigaction(NSIG - 1, &sa, NULL) == 0) {
        ck_assert_osev_ok(osev_signal_add(ctx, NSIG - 1, on_signal, NULL,
                                          &s));
        osev_signal_remove(s);
    } else {
        ck_assert_osev_err(osev_signal_add(ctx, NSIG - 1, on_signal, NULL,
                                           &s),
                           -EINVAL);
    }
    osev_ctx_free(ctx);
}
END_TEST

static void on_child(osev_child *c, pid_t pid, int status, void *arg)
{
    (void)c, (void)pid, (void)status, (void)arg;
}

START_TEST(child_pid_limits)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_child *c = NULL;

    for (size_t i = 0; i < N_OF(ints); i++) {
        pid_t pid = (pid_t)ints[i];

        ck_assert_osev_err(osev_child_add(ctx, pid, on_child, NULL, &c),
                           pid <= 0 ? -EINVAL : -ECHILD);
        ck_assert_ptr_null(c);
    }
    osev_ctx_free(ctx);
}
END_TEST

static Suite *limits_suite(void)
{
    Suite *s = suite_create("limits");
    TCase *basics = tcase_create("errors, time, sizes");
    TCase *registry = tcase_create("registry");
    TCase *pull = tcase_create("pull");
    TCase *loop = tcase_create("loop");
    TCase *events = tcase_create("events");
    TCase *push = tcase_create("push, signals, children");

    tcase_add_test(basics, strerror_any_int);
    tcase_add_test(basics, time_helpers_saturate);
    tcase_add_test(basics, ctx_opts_sizes_and_flags);
    tcase_add_test(basics, hook_struct_sizes);
    tcase_add_test(registry, fd_add_fd_limits);
    tcase_add_test(registry, fd_event_bits_limits);
    tcase_add_test(registry, timer_deadline_limits);
    tcase_add_test(pull, beforepoll_room_limits);
    tcase_add_test(pull, beforepoll_timeout_and_now_limits);
    tcase_add_test(pull, afterpoll_nfds_and_now_limits);
    tcase_add_test(pull, beforeselect_maxfd_and_now_limits);
    tcase_add_test(pull, beforeselect_timeval_limits);
    tcase_add_test(pull, afterselect_maxfd_and_now_limits);
    tcase_add_test(loop, loop_once_deadline_limits);
    tcase_add_test(loop, event_wait_deadline_limits);
    tcase_add_test(loop, loop_exit_code_limits);
    tcase_add_test(events, event_new_type_and_size_limits);
    tcase_add_test(events, event_post_with_type_changed_past_63);
    tcase_add_test(events, event_typemask_limits);
    tcase_add_test(events, disaster_type_and_errno_limits);
    tcase_add_test(push, occurred_any_fd_any_token);
    tcase_add_test(push, hook_results_limits);
    tcase_add_test(events, event_hook_mask_limits);
    tcase_add_test(push, signal_number_limits);
    tcase_add_test(push, child_pid_limits);
    suite_add_tcase(s, basics);
    suite_add_tcase(s, registry);
    suite_add_tcase(s, pull);
    suite_add_tcase(s, loop);
    suite_add_tcase(s, events);
    suite_add_tcase(s, push);
    return s;
}

int main(void)
{
    return tu_run_suite(limits_suite());
}
