/*
 * test-pull.c - the libxl beforepoll/afterpoll protocol: every sentence of
 * the header's pull-mode section about poll(2).
 */
#include "testutil.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define ROOM 32
#define SENTINEL 0x5a

static int calls, last_fd, nvals;
static short last_revents;
static char order[16];
static int norder;

static void rec_cb(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)arg;
    calls++;
    nvals += !!(revents & POLLNVAL);
    last_fd = fd;
    last_revents = revents;
    order[norder++] = 'f';
}

static void drain_cb(osev_fd *w, int fd, short revents, void *arg)
{
    rec_cb(w, fd, revents, arg);
    tu_drain(fd);
}

static void timer_cb(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now, (void)arg;
    order[norder++] = 't';
}

static void defer_cb(osev_ctx *ctx, void *arg)
{
    (void)ctx, (void)arg;
    order[norder++] = 'd';
}

static void reset(void)
{
    calls = 0;
    nvals = 0;
    last_fd = -1;
    last_revents = 0;
    norder = 0;
    memset(order, 0, sizeof order);
}

START_TEST(size_query_and_short_room)
{
    osev_ctx *ctx = tu_ctx_new();
    struct pollfd fds[ROOM];
    int p[2], q[2], n, timeout = 1234;
    osev_fd *w1, *w2, *w3;

    tu_pipe(p);
    tu_pipe(q);
    ck_assert_int_eq(tu_needed(ctx), 1); /* the wakeup fd alone */
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, rec_cb, NULL, &w1));
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLOUT, rec_cb, NULL, &w2));
    ck_assert_osev_ok(osev_fd_add(ctx, q[1], POLLOUT, rec_cb, NULL, &w3));

    /* fds NULL, room 0: -ENOBUFS with the number; two distinct fds + 1 */
    n = 0;
    ck_assert_osev_err(osev_beforepoll(ctx, &n, NULL, &timeout, 0), -ENOBUFS);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(timeout, 1234);

    /* one short: -ENOBUFS, the need, nothing written */
    memset(fds, SENTINEL, sizeof fds);
    n = 2;
    ck_assert_osev_err(osev_beforepoll(ctx, &n, fds, &timeout, 0), -ENOBUFS);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(timeout, 1234);
    for (size_t i = 0; i < sizeof fds; i++)
        ck_assert_int_eq(((unsigned char *)fds)[i], SENTINEL);

    /* exact room */
    n = 3;
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_int_eq(n, 3);
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]), close(q[0]), close(q[1]);
}
END_TEST

START_TEST(slice_of_a_larger_array)
{
    osev_ctx *ctx = tu_ctx_new();
    struct pollfd all[ROOM];
    unsigned char before[ROOM * sizeof(struct pollfd)];
    int mine[2], lib[2], n, timeout = -1, r;
    const int off = 3;
    osev_fd *w;

    tu_pipe(mine);
    tu_pipe(lib);
    ck_assert_osev_ok(osev_fd_add(ctx, lib[0], POLLIN, drain_cb, NULL, &w));
    memset(all, SENTINEL, sizeof all);
    all[0] = (struct pollfd){ .fd = mine[0], .events = POLLIN };
    memcpy(before, all, sizeof all);

    n = 10;
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, all + off, &timeout, 0));
    ck_assert_int_eq(n, 2);
    /* everything outside [off, off + n) is untouched */
    ck_assert_int_eq(memcmp(before, all, off * sizeof *all), 0);
    ck_assert_int_eq(memcmp(before + (off + n) * sizeof *all, all + off + n,
                            (ROOM - off - n) * sizeof *all),
                     0);

    /* one poll() over the application's fd and osevent's */
    tu_write_byte(mine[1]);
    tu_write_byte(lib[1]);
    for (int i = 1; i < off; i++)
        all[i].fd = -1; /* the application's unused entries */
    reset();
    r = poll(all, (nfds_t)(off + n), 5000);
    ck_assert_int_ge(r, 2);
    ck_assert(all[0].revents & POLLIN);
    osev_afterpoll(ctx, n, all + off, 0);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(last_fd, lib[0]);
    ck_assert_int_eq(last_revents, POLLIN);
    osev_ctx_free(ctx);
    close(mine[0]), close(mine[1]), close(lib[0]), close(lib[1]);
}
END_TEST

START_TEST(timeout_only_lowered_and_rounded_up)
{
    osev_ctx *ctx = tu_ctx_new();
    struct pollfd fds[ROOM];
    osev_time now = osev_now();
    osev_timer *t;
    int n, timeout;

    /* no timer: -1 stays -1, 5 stays 5 */
    n = ROOM, timeout = -1;
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, now));
    ck_assert_int_eq(timeout, -1);

    ck_assert_osev_ok(osev_timer_add(ctx, now + osev_ms(100), timer_cb, NULL,
                                     &t));
    n = ROOM, timeout = 5;
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, now));
    ck_assert_int_eq(timeout, 5);
    n = ROOM, timeout = -1;
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, now));
    ck_assert_int_eq(timeout, 100);

    /* 1.5 ms ahead: 2, never 1 */
    ck_assert_osev_ok(osev_timer_set(t, now + osev_ms(1) + osev_ms(1) / 2));
    n = ROOM, timeout = -1;
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, now));
    ck_assert_int_eq(timeout, 2);
    /* 1 ns ahead: 1 */
    ck_assert_osev_ok(osev_timer_set(t, now + 1));
    n = ROOM, timeout = -1;
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, now));
    ck_assert_int_eq(timeout, 1);
    /* due: 0 */
    ck_assert_osev_ok(osev_timer_set(t, now));
    n = ROOM, timeout = 7;
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, now));
    ck_assert_int_eq(timeout, 0);
    /* a caller's 0 stays 0 whatever the timers */
    ck_assert_osev_ok(osev_timer_set(t, now + osev_s(10)));
    n = ROOM, timeout = 0;
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, now));
    ck_assert_int_eq(timeout, 0);
    osev_ctx_free(ctx);
}
END_TEST

/* A deadline further than poll(2) can count gives the longest finite
 * timeout, never a negative (infinite) one. */
START_TEST(far_deadline_gives_the_longest_timeout)
{
    osev_ctx *ctx = tu_ctx_new();
    struct pollfd fds[ROOM];
    osev_time now = osev_now();
    osev_timer *t;
    int n = ROOM, timeout = -1;

    ck_assert_osev_ok(osev_timer_add(ctx, now + osev_s(60 * 86400),
                                     timer_cb, NULL, &t));
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, now));
    ck_assert_int_eq(timeout, INT_MAX);
    ck_assert_osev_ok(osev_timer_set(t, OSEV_TIME_INFINITY - 1));
    n = ROOM, timeout = -1;
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, now));
    ck_assert_int_eq(timeout, INT_MAX);
    osev_ctx_free(ctx);
}
END_TEST

/* From a callback (here of osev_dispatch(), while a pull round is open),
 * osev_afterpoll is ignored: no pass inside the pass.  The round is
 * still the application's to complete afterwards. */
static struct pollfd nested_fds[ROOM];
static int nested_n, nested_calls;

static void nested_afterpoll(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)revents;
    tu_drain(fd);
    nested_calls++;
    osev_afterpoll(arg, nested_n, nested_fds, 0);
}

START_TEST(afterpoll_from_a_callback_is_ignored)
{
    osev_ctx *ctx = tu_ctx_new();
    int p[2], q[2], timeout = -1;
    osev_fd *wp, *wq;

    reset();
    nested_calls = 0;
    tu_pipe(p);
    tu_pipe(q);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, nested_afterpoll, ctx,
                                  &wp));
    ck_assert_osev_ok(osev_fd_add(ctx, q[0], POLLIN, drain_cb, NULL, &wq));
    nested_n = ROOM;
    ck_assert_osev_ok(osev_beforepoll(ctx, &nested_n, nested_fds, &timeout,
                                      0));
    tu_write_byte(q[1]);
    ck_assert_int_eq(poll(nested_fds, (nfds_t)nested_n, 5000), 1);
    tu_write_byte(p[1]);
    ck_assert_int_eq(osev_dispatch(ctx), 2); /* p's and q's, no more */
    ck_assert_int_eq(nested_calls, 1);
    ck_assert_int_eq(calls, 1);
    tu_write_byte(q[1]);
    osev_afterpoll(ctx, nested_n, nested_fds, 0); /* the round, here */
    ck_assert_int_eq(calls, 2);
    ck_assert_int_eq(nested_calls, 1);
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]), close(q[0]), close(q[1]);
}
END_TEST

/* However many entries of the array are ready, each one is dispatched
 * (more than afterpoll notes on its first walk, too). */
#define MANY 80

static int many_calls;

static void count_many(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)revents, (void)arg;
    tu_drain(fd);
    many_calls++;
}

START_TEST(many_ready_entries_all_dispatched)
{
    osev_ctx *ctx = tu_ctx_new();
    struct pollfd fds[MANY + 1];
    int p[MANY][2], n = MANY + 1, timeout = -1;
    osev_fd *w[MANY];

    for (int i = 0; i < MANY; i++) {
        tu_pipe(p[i]);
        ck_assert_osev_ok(osev_fd_add(ctx, p[i][0], POLLIN, count_many, NULL,
                                      &w[i]));
        tu_write_byte(p[i][1]);
    }
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_int_eq(n, MANY + 1);
    ck_assert_int_eq(poll(fds, (nfds_t)n, 5000), MANY);
    many_calls = 0;
    osev_afterpoll(ctx, n, fds, 0);
    ck_assert_int_eq(many_calls, MANY);
    osev_ctx_free(ctx);
    for (int i = 0; i < MANY; i++)
        close(p[i][0]), close(p[i][1]);
}
END_TEST

START_TEST(removed_watch_gets_nothing)
{
    osev_ctx *ctx = tu_ctx_new();
    struct pollfd fds[ROOM];
    int p[2], q[2], n = ROOM, timeout = -1;
    osev_fd *gone, *kept;

    tu_pipe(p);
    tu_pipe(q);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, drain_cb, NULL, &gone));
    ck_assert_osev_ok(osev_fd_add(ctx, q[0], POLLIN, drain_cb, NULL, &kept));
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    osev_fd_remove(gone);
    tu_write_byte(p[1]);
    tu_write_byte(q[1]);
    ck_assert_int_ge(poll(fds, (nfds_t)n, 5000), 2);
    reset();
    osev_afterpoll(ctx, n, fds, 0);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(last_fd, q[0]);
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]), close(q[0]), close(q[1]);
}
END_TEST

/* The bug libuv, swift-nio and kqueue users hit: fd N is closed and the
 * number reused between beforepoll and afterpoll. */
START_TEST(reused_fd_number_gets_no_stale_readiness)
{
    osev_ctx *ctx = tu_ctx_new();
    struct pollfd fds[ROOM];
    int p[2], q[2], n = ROOM, timeout = -1, number;
    osev_fd *old, *fresh;

    tu_pipe(p);
    number = p[0];
    ck_assert_osev_ok(osev_fd_add(ctx, number, POLLIN, drain_cb, NULL, &old));
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));

    osev_fd_remove(old);
    close(p[0]);
    tu_pipe(q);
    ck_assert_int_eq(dup2(q[0], number), number); /* the same number */
    ck_assert_osev_ok(osev_fd_add(ctx, number, POLLIN, drain_cb, NULL,
                                  &fresh));
    tu_write_byte(q[1]);
    ck_assert_int_ge(poll(fds, (nfds_t)n, 5000), 1); /* the OLD array */
    reset();
    osev_afterpoll(ctx, n, fds, 0);
    ck_assert_int_eq(calls, 0);

    /* the next round serves the new watch */
    n = ROOM, timeout = -1;
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_int_ge(poll(fds, (nfds_t)n, 5000), 1);
    osev_afterpoll(ctx, n, fds, 0);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(last_fd, number);
    osev_ctx_free(ctx);
    close(number), close(p[1]), close(q[0]), close(q[1]);
}
END_TEST

START_TEST(watch_added_after_beforepoll_waits)
{
    osev_ctx *ctx = tu_ctx_new();
    struct pollfd fds[ROOM];
    int p[2], n = ROOM, timeout = -1, late_calls = 0;
    osev_fd *first, *late;

    tu_pipe(p);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, rec_cb, NULL, &first));
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, rec_cb, &late_calls,
                                  &late));
    tu_write_byte(p[1]);
    ck_assert_int_ge(poll(fds, (nfds_t)n, 5000), 1);
    reset();
    osev_afterpoll(ctx, n, fds, 0);
    ck_assert_int_eq(calls, 1); /* the first only */

    n = ROOM;
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_int_ge(poll(fds, (nfds_t)n, 5000), 1);
    reset();
    osev_afterpoll(ctx, n, fds, 0);
    ck_assert_int_eq(calls, 2); /* both now */
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]);
}
END_TEST

START_TEST(foreign_array_gets_no_dispatch)
{
    osev_ctx *ctx = tu_ctx_new();
    struct pollfd fds[ROOM], copy[ROOM];
    int p[2], q[2], n = ROOM, timeout = -1;
    osev_fd *w;
    osev_timer *t;

    tu_pipe(p);
    tu_pipe(q);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, rec_cb, NULL, &w));
    ck_assert_osev_ok(osev_timer_add(ctx, 0, timer_cb, NULL, &t));
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    tu_write_byte(p[1]);
    ck_assert_int_ge(poll(fds, (nfds_t)n, 5000), 1);
    memcpy(copy, fds, sizeof fds);

    reset();
    osev_afterpoll(ctx, n - 1, fds, 0); /* another count */
    ck_assert_int_eq(norder, 0);
    osev_afterpoll(ctx, n + 1, fds, 0);
    ck_assert_int_eq(norder, 0);
    for (int i = 0; i < n; i++)
        if (copy[i].fd == p[0])
            copy[i].fd = q[0]; /* another fd */
    osev_afterpoll(ctx, n, copy, 0);
    ck_assert_int_eq(norder, 0);
    osev_afterpoll(ctx, -1, fds, 0);
    osev_afterpoll(ctx, n, NULL, 0);
    ck_assert_int_eq(norder, 0);

    osev_afterpoll(ctx, n, fds, 0); /* the real one */
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(norder, 2);
    osev_afterpoll(ctx, n, fds, 0); /* a second time: ignored */
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(norder, 2);
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]), close(q[0]), close(q[1]);
}
END_TEST

enum layout_change {
    CHANGE_ADD,        /* a watch on a new fd */
    CHANGE_REMOVE,     /* the only watch on an fd removed */
    CHANGE_MASK_ZERO,  /* a watch modified to 0: its entry goes */
    CHANGE_MASK_ON,    /* a held watch (0) modified to POLLIN: one comes */
    CHANGE_MUTE,       /* a closed fd found POLLNVAL and muted meanwhile */
    CHANGE_NONE,
    LAYOUT_CHANGES
};

/*
 * Whatever changed in the registry between osev_beforepoll() and
 * osev_afterpoll(), an array that is not the one handed out (the right
 * count, other fds: no wakeup fd, one fd twice) gets no dispatch at all,
 * and the one handed out still does.
 */
static void no_signal(osev_signal *s, int signo, void *arg)
{
    (void)s, (void)signo, (void)arg;
    ck_abort_msg("no signal was sent");
}

START_TEST(foreign_array_refused_after_any_change)
{
    osev_ctx *ctx = tu_ctx_new();
    struct pollfd fds[ROOM], foreign[ROOM];
    int a[2], b[2], c[2], d[2], n = ROOM, timeout = -1;
    osev_fd *wa, *wb, *wc, *wd = NULL;
    osev_signal *sig = NULL;
    osev_timer *t;

    tu_pipe(a);
    tu_pipe(b);
    tu_pipe(c);
    tu_pipe(d);
    ck_assert_osev_ok(osev_fd_add(ctx, a[0], POLLIN, drain_cb, NULL, &wa));
    ck_assert_osev_ok(osev_fd_add(ctx, b[0], POLLIN, drain_cb, NULL, &wb));
    ck_assert_osev_ok(osev_fd_add(ctx, c[0], _i == CHANGE_MASK_ON ? 0 : POLLIN,
                                  drain_cb, NULL, &wc));
    if (_i == CHANGE_MUTE)
        ck_assert_osev_ok(osev_fd_add(ctx, d[0], POLLIN, drain_cb, NULL, &wd));
    ck_assert_osev_ok(osev_timer_add(ctx, 0, timer_cb, NULL, &t));
    tu_write_byte(a[1]);
    tu_write_byte(b[1]);
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_int_ge(poll(fds, (nfds_t)n, 5000), 2);

    reset();
    switch (_i) {
    case CHANGE_ADD:
        ck_assert_osev_ok(osev_fd_add(ctx, d[0], POLLIN, drain_cb, NULL, &wd));
        break;
    case CHANGE_REMOVE:
        osev_fd_remove(wc);
        break;
    case CHANGE_MASK_ZERO:
        ck_assert_osev_ok(osev_fd_modify(wc, 0));
        break;
    case CHANGE_MASK_ON:
        ck_assert_osev_ok(osev_fd_modify(wc, POLLIN));
        break;
    case CHANGE_MUTE:
        /* d closed under its watch, and its number taken by the library
         * (the aggregate fd's epoll set; without the Linux APIs, which
         * have none, a signal watch's pipe): the watch is found POLLNVAL
         * and muted, its entry goes, its callback waits for the pass. */
        close(d[0]);
        if (TU_LINUX_APIS) {
            ck_assert_int_eq(osev_get_fd(ctx), d[0]);
        } else {
            ck_assert_osev_ok(osev_signal_add(ctx, SIGUSR2, no_signal, NULL,
                                              &sig));
            ck_assert_int_ge(fcntl(d[0], F_GETFD), 0); /* taken */
        }
        d[0] = -1;
        break;
    }

    for (int i = 0; i < n; i++)
        foreign[i] = (struct pollfd){ .fd = i % 2 ? a[0] : b[0],
                                      .events = POLLIN, .revents = POLLIN };
    osev_afterpoll(ctx, n, foreign, 0);
    ck_assert_int_eq(calls, 0);
    ck_assert_int_eq(norder, 0); /* not even the due timer */

    osev_afterpoll(ctx, n, fds, 0); /* the one handed out */
    ck_assert_int_eq(calls, _i == CHANGE_MUTE ? 3 : 2);
    ck_assert_int_eq(nvals, _i == CHANGE_MUTE);
    ck_assert_int_ge(norder, 1);
    ck_assert_int_eq(order[norder - 1], 't');
    osev_signal_remove(sig);
    osev_ctx_free(ctx);
    for (int i = 0; i < 2; i++)
        if (d[i] >= 0)
            close(d[i]);
    close(a[0]), close(a[1]), close(b[0]), close(b[1]);
    close(c[0]), close(c[1]);
}
END_TEST

START_TEST(fds_then_timers_then_deferred)
{
    osev_ctx *ctx = tu_ctx_new();
    struct pollfd fds[ROOM];
    int p[2], n = ROOM, timeout = -1;
    osev_fd *w;
    osev_timer *t;

    tu_pipe(p);
    ck_assert_osev_ok(osev_defer(ctx, defer_cb, NULL));
    ck_assert_osev_ok(osev_timer_add(ctx, 0, timer_cb, NULL, &t));
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, drain_cb, NULL, &w));
    tu_write_byte(p[1]);
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_int_eq(timeout, 0);
    ck_assert_int_ge(poll(fds, (nfds_t)n, 5000), 1);
    reset();
    osev_afterpoll(ctx, n, fds, 0);
    ck_assert_str_eq(order, "ftd");
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]);
}
END_TEST

START_TEST(unrequested_hup_is_delivered)
{
    osev_ctx *ctx = tu_ctx_new();
    struct pollfd fds[ROOM];
    int p[2], n = ROOM, timeout = -1;
    osev_fd *w;

    tu_pipe(p);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, rec_cb, NULL, &w));
    close(p[1]); /* the reader sees POLLHUP */
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_int_ge(poll(fds, (nfds_t)n, 5000), 1);
    reset();
    osev_afterpoll(ctx, n, fds, 0);
    ck_assert_int_eq(calls, 1);
    ck_assert(last_revents & POLLHUP);
    osev_ctx_free(ctx);
    close(p[0]);
}
END_TEST

START_TEST(pull_mixes_with_event_wait)
{
    osev_ctx *ctx = tu_ctx_new();
    struct pollfd fds[ROOM];
    int p[2], n = ROOM, timeout = -1;
    osev_fd *w;
    osev_event *ev;

    tu_pipe(p);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, drain_cb, NULL, &w));
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    /* the built-in loop runs between the application's before and after */
    tu_write_byte(p[1]);
    reset();
    ck_assert_osev_err(osev_event_wait(ctx, OSEV_EVENTMASK_ALL, NULL, NULL,
                                       osev_now() + osev_ms(50), &ev),
                       -ETIMEDOUT);
    ck_assert_int_eq(calls, 1);
    /* the application's round still completes; nothing is ready now */
    ck_assert_int_ge(poll(fds, (nfds_t)n, 0), 0);
    osev_afterpoll(ctx, n, fds, 0);
    ck_assert_int_eq(calls, 1);
    tu_write_byte(p[1]);
    n = ROOM;
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_int_ge(poll(fds, (nfds_t)n, 5000), 1);
    osev_afterpoll(ctx, n, fds, 0);
    ck_assert_int_eq(calls, 2);
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]);
}
END_TEST

static Suite *pull_suite(void)
{
    Suite *s = suite_create("pull");
    TCase *proto = tcase_create("protocol");
    TCase *stale = tcase_create("stale");

    tcase_add_test(proto, size_query_and_short_room);
    tcase_add_test(proto, slice_of_a_larger_array);
    tcase_add_test(proto, timeout_only_lowered_and_rounded_up);
    tcase_add_test(proto, far_deadline_gives_the_longest_timeout);
    tcase_add_test(proto, afterpoll_from_a_callback_is_ignored);
    tcase_add_test(proto, many_ready_entries_all_dispatched);
    tcase_add_test(proto, fds_then_timers_then_deferred);
    tcase_add_test(proto, unrequested_hup_is_delivered);
    tcase_add_test(proto, pull_mixes_with_event_wait);
    tcase_add_test(stale, removed_watch_gets_nothing);
    tcase_add_test(stale, reused_fd_number_gets_no_stale_readiness);
    tcase_add_test(stale, watch_added_after_beforepoll_waits);
    tcase_add_test(stale, foreign_array_gets_no_dispatch);
    tcase_add_loop_test(stale, foreign_array_refused_after_any_change, 0,
                        LAYOUT_CHANGES);
    suite_add_tcase(s, proto);
    suite_add_tcase(s, stale);
    return s;
}

int main(void)
{
    return tu_run_suite(pull_suite());
}
