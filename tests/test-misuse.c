/*
 * test-misuse.c - the bad-input table of docs/guide.md ("Misuse and what
 * you get"), one test per row: test row_NN_* is row NN of the table.
 * Each asserts the answer the table documents, and that a refused call
 * changed nothing it could have changed.
 */
#include "testutil.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static int calls;

static void count_fd(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)arg;
    calls++;
    if (revents & POLLIN)
        tu_drain(fd);
}

static void count_timer(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now, (void)arg;
    calls++;
}

static void count_call(osev_ctx *ctx, void *arg)
{
    (void)ctx, (void)arg;
    calls++;
}

static void nop_signal(osev_signal *s, int signo, void *arg)
{
    (void)s, (void)signo, (void)arg;
}

static void nop_child(osev_child *c, pid_t pid, int status, void *arg)
{
    (void)c, (void)pid, (void)status, (void)arg;
}

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

/* 1: a NULL context */
START_TEST(row_01_null_context)
{
    struct osev_hook_stats st = { .size = sizeof st };
    struct pollfd fds[2];
    int n = 2, timeout = -1, maxfd = -1;
    fd_set r;
    struct timeval tv;
    bool tv_set = false;
    osev_time dl;
    osev_event *ev = NULL;
    osev_fd *w = NULL;
    osev_timer *t = NULL;
    osev_signal *s = NULL;
    osev_child *c = NULL;

    FD_ZERO(&r);
    ck_assert_osev_err(osev_fd_add(NULL, 0, POLLIN, count_fd, NULL, &w),
                       -EINVAL);
    ck_assert_osev_err(osev_timer_add(NULL, 0, count_timer, NULL, &t),
                       -EINVAL);
    ck_assert_osev_err(osev_defer(NULL, count_call, NULL), -EINVAL);
    ck_assert_osev_err(osev_schedule(NULL, count_call, NULL, NULL), -EINVAL);
    ck_assert_osev_err(osev_event_check(NULL, 1, NULL, NULL, &ev), -EINVAL);
    ck_assert_osev_err(osev_event_wait(NULL, 1, NULL, NULL, 0, &ev),
                       -EINVAL);
    ck_assert_osev_err(osev_event_set_hooks(NULL, NULL, 0, NULL), -EINVAL);
    ck_assert_osev_err(osev_set_hooks(NULL, NULL, 0, NULL), -EINVAL);
    ck_assert_osev_err(osev_get_hook_stats(NULL, &st), -EINVAL);
    ck_assert_osev_err(osev_beforepoll(NULL, &n, fds, &timeout, 0), -EINVAL);
    ck_assert_osev_err(osev_beforeselect(NULL, &maxfd, &r, NULL, NULL, &tv,
                                         &tv_set, 0),
                       -EINVAL);
    ck_assert_osev_err(osev_loop_once(NULL, 0), -EINVAL);
    ck_assert_osev_err(osev_loop_run(NULL), -EINVAL);
    ck_assert_osev_err(osev_dispatch(NULL), -EINVAL);
    ck_assert_osev_err(osev_get_fd(NULL), -EINVAL);
    ck_assert_osev_err(osev_get_deadline(NULL, &dl), -EINVAL);
    ck_assert_osev_err(osev_signal_add(NULL, SIGUSR1, nop_signal, NULL, &s),
                       -EINVAL);
    ck_assert_osev_err(osev_child_add(NULL, getpid(), nop_child, NULL, &c),
                       -EINVAL);
    errno = 0;
    ck_assert_ptr_null(osev_event_new(NULL, 1, 0, 0));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert(!w && !t && !ev && !s && !c);
    /* the void ones do nothing */
    osev_ctx_free(NULL);
    osev_event_post(NULL, NULL);
    osev_event_free(NULL, NULL);
    osev_disaster(NULL, 0, "x", 0);
    osev_afterpoll(NULL, n, fds, 0);
    osev_afterselect(NULL, maxfd, &r, NULL, NULL, 0);
    osev_loop_exit(NULL, 0);
    osev_wakeup(NULL);
    osev_occurred_fd(NULL, NULL, 0, POLLIN, POLLIN);
    osev_occurred_timeout(NULL, NULL);
}
END_TEST

/* 2: a NULL handle */
START_TEST(row_02_null_handle)
{
    osev_ctx *ctx = tu_ctx_new();

    ck_assert_osev_err(osev_fd_modify(NULL, POLLIN), -EINVAL);
    ck_assert_osev_err(osev_timer_set(NULL, 0), -EINVAL);
    osev_fd_remove(NULL);
    osev_timer_remove(NULL);
    osev_signal_remove(NULL);
    osev_child_remove(NULL);
    osev_fd_set_release(NULL, NULL);
    osev_timer_set_release(NULL, NULL);
    osev_event_post(ctx, NULL);
    osev_event_free(ctx, NULL);
    ck_assert_int_eq(tu_needed(ctx), 1);
    osev_ctx_free(ctx);
}
END_TEST

/* 3: a NULL callback or out-parameter */
START_TEST(row_03_null_callback_or_out)
{
    osev_ctx *ctx = tu_ctx_new();
    struct osev_event_hooks eh = { .event_occurs_mask = 1 };
    int p[2], n = 2, timeout = -1, maxfd = -1;
    struct timeval tv;
    bool tv_set = false;
    fd_set r;
    osev_fd *w = NULL;
    osev_timer *t = NULL;
    osev_signal *s = NULL;
    osev_child *c = NULL;

    tu_pipe(p);
    FD_ZERO(&r);
    ck_assert_osev_err(osev_fd_add(ctx, p[0], POLLIN, NULL, NULL, &w),
                       -EINVAL);
    ck_assert_osev_err(osev_fd_add(ctx, p[0], POLLIN, count_fd, NULL, NULL),
                       -EINVAL);
    ck_assert_osev_err(osev_timer_add(ctx, 0, NULL, NULL, &t), -EINVAL);
    ck_assert_osev_err(osev_timer_add(ctx, 0, count_timer, NULL, NULL),
                       -EINVAL);
    ck_assert_osev_err(osev_defer(ctx, NULL, NULL), -EINVAL);
    ck_assert_osev_err(osev_schedule(ctx, NULL, NULL, NULL), -EINVAL);
    ck_assert_osev_err(osev_signal_add(ctx, SIGUSR1, NULL, NULL, &s),
                       -EINVAL);
    ck_assert_osev_err(osev_signal_add(ctx, SIGUSR1, nop_signal, NULL, NULL),
                       -EINVAL);
    ck_assert_osev_err(osev_child_add(ctx, getpid(), NULL, NULL, &c),
                       -EINVAL);
    ck_assert_osev_err(osev_child_add(ctx, getpid(), nop_child, NULL, NULL),
                       -EINVAL);
    ck_assert_osev_err(osev_event_check(ctx, 1, NULL, NULL, NULL), -EINVAL);
    ck_assert_osev_err(osev_event_wait(ctx, 1, NULL, NULL, 0, NULL),
                       -EINVAL);
    ck_assert_osev_err(osev_get_deadline(ctx, NULL), -EINVAL);
    ck_assert_osev_err(osev_get_hook_stats(ctx, NULL), -EINVAL);
    ck_assert_osev_err(osev_ctx_new(NULL, NULL), -EINVAL);
    ck_assert_osev_err(osev_beforepoll(ctx, NULL, NULL, &timeout, 0),
                       -EINVAL);
    ck_assert_osev_err(osev_beforepoll(ctx, &n, NULL, NULL, 0), -EINVAL);
    ck_assert_osev_err(osev_beforeselect(ctx, NULL, &r, NULL, NULL, &tv,
                                         &tv_set, 0),
                       -EINVAL);
    ck_assert_osev_err(osev_beforeselect(ctx, &maxfd, &r, NULL, NULL, NULL,
                                         &tv_set, 0),
                       -EINVAL);
    ck_assert_osev_err(osev_beforeselect(ctx, &maxfd, &r, NULL, NULL, &tv,
                                         NULL, 0),
                       -EINVAL);
    /* an event_occurs mask needs the hook */
    ck_assert_osev_err(osev_event_set_hooks(ctx, &eh, sizeof eh, NULL),
                       -EINVAL);
    ck_assert(!w && !t && !s && !c);
    ck_assert_int_eq(tu_needed(ctx), 1);
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]);
}
END_TEST

/* 4: event bits that may not be requested */
START_TEST(row_04_bad_event_bits)
{
    osev_ctx *ctx = tu_ctx_new();
    const short bad[] = { POLLERR, POLLHUP, POLLNVAL, 0x4000, -1,
                          POLLIN | POLLHUP };
    int p[2];
    osev_fd *w, *bad_w = NULL;

    tu_pipe(p);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_osev_err(osev_fd_add(ctx, p[0], bad[i], count_fd, NULL,
                                       &bad_w),
                           -EINVAL);
    ck_assert_ptr_null(bad_w);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, count_fd, NULL, &w));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_osev_err(osev_fd_modify(w, bad[i]), -EINVAL);
    tu_write_byte(p[1]);
    calls = 0;
    ck_assert_int_eq(osev_dispatch(ctx), 1); /* still POLLIN */
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]);
}
END_TEST

/* 5: a negative fd */
START_TEST(row_05_negative_fd)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_fd *w = NULL;

    ck_assert_osev_err(osev_fd_add(ctx, -1, POLLIN, count_fd, NULL, &w),
                       -EBADF);
    ck_assert_osev_err(osev_fd_add(ctx, INT_MIN, POLLIN, count_fd, NULL, &w),
                       -EBADF);
    ck_assert_ptr_null(w);
    ck_assert_int_eq(tu_needed(ctx), 1);
    osev_ctx_free(ctx);
}
END_TEST

/* 6: an fd that is not open */
START_TEST(row_06_fd_not_open)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_fd *w = NULL;
    int p[2], closed;

    tu_pipe(p);
    closed = dup(p[0]);
    close(closed);
    ck_assert_osev_err(osev_fd_add(ctx, closed, POLLIN, count_fd, NULL, &w),
                       -EBADF);
    ck_assert_osev_err(osev_fd_add(ctx, INT_MAX, POLLIN, count_fd, NULL, &w),
                       -EBADF);
    ck_assert_ptr_null(w);
    ck_assert_int_eq(tu_needed(ctx), 1);
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]);
}
END_TEST

/* 7: an fd closed while watched (a poll(2)-based poller sees it) */
static short last_revents;

static void rec_fd(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)fd, (void)arg;
    calls++;
    last_revents = revents;
}

START_TEST(row_07_fd_closed_while_watched)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_fd *w;
    int p[2];

    tu_pipe(p);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, rec_fd, NULL, &w));
    close(p[0]);
    calls = 0;
    tu_drive_now(ctx, TU_DRIVE_PULL);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(last_revents, POLLNVAL);
    tu_drive_now(ctx, TU_DRIVE_PULL);
    tu_drive_now(ctx, TU_DRIVE_PULL);
    ck_assert_int_eq(calls, 1); /* once; the watch is muted */
    ck_assert_int_eq(tu_needed(ctx), 1);
    osev_fd_remove(w);
    osev_ctx_free(ctx);
    close(p[1]);
}
END_TEST

/* 8: a negative deadline */
START_TEST(row_08_negative_deadline)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_timer *t = NULL;
    osev_event *ev = NULL;
    osev_time dl;

    ck_assert_osev_err(osev_timer_add(ctx, -1, count_timer, NULL, &t),
                       -EINVAL);
    ck_assert_ptr_null(t);
    ck_assert_osev_ok(osev_timer_add(ctx, OSEV_TIME_INFINITY, count_timer,
                                     NULL, &t));
    ck_assert_osev_err(osev_timer_set(t, -1), -EINVAL);
    ck_assert_osev_err(osev_timer_set(t, INT64_MIN), -EINVAL);
    ck_assert_osev_ok(osev_get_deadline(ctx, &dl));
    ck_assert_int_eq(dl, OSEV_TIME_INFINITY); /* still disarmed */
    ck_assert_osev_err(osev_loop_once(ctx, -1), -EINVAL);
    ck_assert_osev_err(osev_event_wait(ctx, 1, NULL, NULL, -1, &ev), -EINVAL);
    ck_assert_ptr_null(ev);
    osev_ctx_free(ctx);
}
END_TEST

/* 9: a negative `now` */
START_TEST(row_09_negative_now)
{
    osev_ctx *ctx = tu_ctx_new();
    struct pollfd fds[4];
    int n = 4, timeout = 7, maxfd = -1;
    fd_set r;
    struct timeval tv;
    bool tv_set = false;
    osev_timer *t;

    FD_ZERO(&r);
    ck_assert_osev_ok(osev_timer_add(ctx, 0, count_timer, NULL, &t));
    ck_assert_osev_err(osev_beforepoll(ctx, &n, fds, &timeout, -1), -EINVAL);
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(timeout, 7);
    ck_assert_osev_err(osev_beforeselect(ctx, &maxfd, &r, NULL, NULL, &tv,
                                         &tv_set, -1),
                       -EINVAL);
    ck_assert_int_eq(maxfd, -1);
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_osev_ok(osev_beforeselect(ctx, &maxfd, &r, NULL, NULL, &tv,
                                        &tv_set, 0));
    calls = 0;
    osev_afterpoll(ctx, n, fds, -1);
    osev_afterselect(ctx, maxfd, &r, NULL, NULL, -1);
    ck_assert_int_eq(calls, 0); /* ignored: the due timer waits */
    osev_afterpoll(ctx, n, fds, 0);
    ck_assert_int_eq(calls, 1);
    osev_ctx_free(ctx);
}
END_TEST

/* 10: a beforepoll array too small */
START_TEST(row_10_beforepoll_array_too_small)
{
    osev_ctx *ctx = tu_ctx_new();
    struct pollfd fds[4], copy[4];
    int p[2], n = 1, timeout = 9;
    osev_fd *w;
    osev_timer *t;

    tu_pipe(p);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, count_fd, NULL, &w));
    ck_assert_osev_ok(osev_timer_add(ctx, 0, count_timer, NULL, &t));
    memset(fds, 0xa5, sizeof fds);
    memcpy(copy, fds, sizeof fds);
    ck_assert_osev_err(osev_beforepoll(ctx, &n, fds, &timeout, 0), -ENOBUFS);
    ck_assert_int_eq(n, 2);       /* the number needed */
    ck_assert_int_eq(timeout, 9); /* nothing else written */
    ck_assert_int_eq(memcmp(fds, copy, sizeof fds), 0);
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_int_eq(timeout, 0);
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]);
}
END_TEST

/* 11: a negative room, or no array for a room */
START_TEST(row_11_beforepoll_bad_room)
{
    osev_ctx *ctx = tu_ctx_new();
    struct pollfd fds[4];
    int n, timeout = 9;

    n = -1;
    ck_assert_osev_err(osev_beforepoll(ctx, &n, fds, &timeout, 0), -EINVAL);
    ck_assert_int_eq(n, -1);
    n = 4;
    ck_assert_osev_err(osev_beforepoll(ctx, &n, NULL, &timeout, 0), -EINVAL);
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(timeout, 9);
    osev_ctx_free(ctx);
}
END_TEST

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

static int before(osev_ctx *ctx, struct sets *s)
{
    return osev_beforeselect(ctx, &s->maxfd, &s->r, &s->w, &s->e, &s->tv,
                             &s->tv_set, 0);
}

/* 12: an fd >= FD_SETSIZE for select */
START_TEST(row_12_fd_beyond_fd_setsize)
{
    osev_ctx *ctx = tu_ctx_new();
    struct rlimit rl;
    struct sets s, copy;
    osev_fd *w;
    int p[2];

    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur <= FD_SETSIZE) {
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max <= FD_SETSIZE) {
            fprintf(stderr, "row_12: skipped, RLIMIT_NOFILE too low\n");
            osev_ctx_free(ctx);
            return;
        }
        rl.rlim_cur = FD_SETSIZE + 1;
        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    tu_pipe(p);
    ck_assert_int_eq(dup2(p[0], FD_SETSIZE), FD_SETSIZE);
    ck_assert_osev_ok(osev_fd_add(ctx, FD_SETSIZE, POLLIN, count_fd, NULL,
                                  &w));
    sets_init(&s);
    memcpy(&copy, &s, sizeof s);
    ck_assert_osev_err(before(ctx, &s), -EBADF);
    ck_assert_int_eq(memcmp(&copy, &s, sizeof s), 0);
    osev_ctx_free(ctx);
    close(FD_SETSIZE), close(p[0]), close(p[1]);
}
END_TEST

/* 13: no set for a bit a watch asks for */
START_TEST(row_13_missing_fd_set)
{
    osev_ctx *ctx = tu_ctx_new();
    struct sets s;
    osev_fd *w;
    int p[2];

    tu_pipe(p);
    ck_assert_osev_ok(osev_fd_add(ctx, p[1], POLLOUT, count_fd, NULL, &w));
    sets_init(&s);
    ck_assert_osev_err(osev_beforeselect(ctx, &s.maxfd, &s.r, NULL, &s.e,
                                         &s.tv, &s.tv_set, 0),
                       -EINVAL);
    ck_assert_int_eq(s.maxfd, -1);
    ck_assert(!FD_ISSET(p[1], &s.r));
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]);
}
END_TEST

/* 14: a timeval select(2) would refuse */
START_TEST(row_14_bad_timeval)
{
    osev_ctx *ctx = tu_ctx_new();
    struct sets s;

    sets_init(&s);
    s.tv = (struct timeval){ .tv_sec = 1, .tv_usec = 1000000 };
    s.tv_set = true;
    ck_assert_osev_err(before(ctx, &s), -EINVAL);
    s.tv = (struct timeval){ .tv_sec = -1 };
    ck_assert_osev_err(before(ctx, &s), -EINVAL);
    ck_assert_int_eq(s.maxfd, -1);
    osev_ctx_free(ctx);
}
END_TEST

/* 15: an afterpoll array that is not the last beforepoll's */
START_TEST(row_15_foreign_afterpoll_array)
{
    osev_ctx *ctx = tu_ctx_new();
    struct pollfd fds[4], other[4];
    int p[2], n = 4, timeout = -1;
    osev_fd *w;
    osev_timer *t;

    tu_pipe(p);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, count_fd, NULL, &w));
    ck_assert_osev_ok(osev_timer_add(ctx, 0, count_timer, NULL, &t));
    tu_write_byte(p[1]);
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_int_eq(n, 2);
    calls = 0;
    /* another count */
    osev_afterpoll(ctx, 1, fds, 0);
    /* the same count, results at an entry for another fd */
    memcpy(other, fds, sizeof fds);
    other[0].fd = p[1];
    other[0].revents = POLLIN;
    other[1].revents = POLLIN;
    osev_afterpoll(ctx, n, other, 0);
    ck_assert_int_eq(calls, 0); /* no pass at all: not even the timer */
    /* the round is still open for the real array */
    ck_assert_int_eq(poll(fds, (nfds_t)n, 0), 1);
    osev_afterpoll(ctx, n, fds, 0);
    ck_assert_int_eq(calls, 2);

    /* An entry without results is not checked: it misdirects nothing. */
    n = 4;
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    tu_write_byte(p[1]);
    ck_assert_int_eq(poll(fds, (nfds_t)n, 0), 1);
    for (int i = 0; i < n; i++)
        if (!fds[i].revents)
            fds[i].fd = p[1];
    calls = 0;
    osev_afterpoll(ctx, n, fds, 0);
    ck_assert_int_eq(calls, 1);
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]);
}
END_TEST

/* 16: afterpoll without a beforepoll, or twice for one round */
START_TEST(row_16_afterpoll_without_round)
{
    osev_ctx *ctx = tu_ctx_new();
    struct pollfd fds[4];
    int n = 1, timeout = -1;
    osev_timer *t;

    ck_assert_osev_ok(osev_timer_add(ctx, 0, count_timer, NULL, &t));
    fds[0] = (struct pollfd){ .fd = 0 };
    calls = 0;
    osev_afterpoll(ctx, 1, fds, 0);
    ck_assert_int_eq(calls, 0);
    n = 4;
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    osev_afterpoll(ctx, n, fds, 0);
    ck_assert_int_eq(calls, 1);
    ck_assert_osev_ok(osev_timer_set(t, 0));
    osev_afterpoll(ctx, n, fds, 0); /* the round was used */
    ck_assert_int_eq(calls, 1);
    osev_ctx_free(ctx);
}
END_TEST

/* 17: afterselect without a beforeselect, or twice for one round */
START_TEST(row_17_afterselect_without_round)
{
    osev_ctx *ctx = tu_ctx_new();
    struct sets s;
    osev_timer *t;

    ck_assert_osev_ok(osev_timer_add(ctx, 0, count_timer, NULL, &t));
    sets_init(&s);
    calls = 0;
    osev_afterselect(ctx, 10, &s.r, &s.w, &s.e, 0);
    ck_assert_int_eq(calls, 0);
    ck_assert_osev_ok(before(ctx, &s));
    FD_ZERO(&s.r);
    osev_afterselect(ctx, s.maxfd, &s.r, &s.w, &s.e, 0);
    ck_assert_int_eq(calls, 1);
    ck_assert_osev_ok(osev_timer_set(t, 0));
    osev_afterselect(ctx, s.maxfd, &s.r, &s.w, &s.e, 0);
    ck_assert_int_eq(calls, 1);
    osev_ctx_free(ctx);
}
END_TEST

/* 18: a handle used after its remove, before its release */
static int released;

static void count_release(void *arg)
{
    (void)arg;
    released++;
}

START_TEST(row_18_stale_handle)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_fd *w;
    osev_timer *t;
    osev_signal *s;
    int p[2];

    tu_pipe(p);
    released = 0;
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, count_fd, NULL, &w));
    ck_assert_osev_ok(osev_timer_add(ctx, 0, count_timer, NULL, &t));
    ck_assert_osev_ok(osev_signal_add(ctx, SIGUSR2, nop_signal, NULL, &s));
    osev_fd_set_release(w, count_release);
    osev_timer_set_release(t, count_release);
    osev_fd_remove(w);
    osev_timer_remove(t);
    osev_signal_remove(s);
    ck_assert_osev_err(osev_fd_modify(w, POLLIN), -ESTALE);
    ck_assert_osev_err(osev_timer_set(t, 0), -ESTALE);
    osev_fd_remove(w); /* a second remove does nothing */
    osev_timer_remove(t);
    osev_signal_remove(s);
    ck_assert_int_eq(released, 0);
    tu_write_byte(p[1]);
    calls = 0;
    ck_assert_int_eq(osev_dispatch(ctx), 0); /* neither is called */
    ck_assert_int_eq(calls, 0);
    ck_assert_int_eq(released, 2); /* once each */
    osev_ctx_free(ctx);
    ck_assert_int_eq(released, 2);
    close(p[0]), close(p[1]);
}
END_TEST

/* 19: a dispatch or wait call from a callback (test-refusals has the
 * matrix for every kind of callback) */
static int nested[6];
static bool nested_afterpoll_ran;

static void nested_timer(osev_timer *t, osev_time now, void *arg)
{
    osev_ctx *ctx = arg;
    struct pollfd fds[4];
    int n = 4, timeout = -1, maxfd = -1;
    fd_set r;
    struct timeval tv;
    bool tv_set = false;
    osev_event *ev;
    osev_timer *sentinel;

    (void)t, (void)now;
    FD_ZERO(&r);
    fds[0] = (struct pollfd){ .fd = -1 };
    ck_assert_osev_ok(osev_timer_add(ctx, 0, count_timer, NULL, &sentinel));
    nested[0] = osev_loop_once(ctx, 0);
    nested[1] = osev_dispatch(ctx);
    nested[2] = osev_beforepoll(ctx, &n, fds, &timeout, 0);
    nested[3] = osev_beforeselect(ctx, &maxfd, &r, NULL, NULL, &tv, &tv_set,
                                  0);
    nested[4] = osev_event_wait(ctx, 1, NULL, NULL, 0, &ev);
    nested[5] = osev_loop_run(ctx);
    calls = 0;
    osev_afterpoll(ctx, 1, fds, 0);
    osev_afterselect(ctx, maxfd, &r, NULL, NULL, 0);
    nested_afterpoll_ran = calls != 0;
}

START_TEST(row_19_dispatch_from_a_callback)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_timer *t;

    ck_assert_osev_ok(osev_timer_add(ctx, 0, nested_timer, ctx, &t));
    ck_assert_int_eq(osev_dispatch(ctx), 1);
    for (int i = 0; i < 6; i++)
        ck_assert_osev_err(nested[i], -EBUSY);
    ck_assert(!nested_afterpoll_ran);
    osev_ctx_free(ctx);
}
END_TEST

/* 20: a second dispatching thread */
static pid_t loop_tid;

static void *blocked_loop_tid(void *arg)
{
    __atomic_store_n(&loop_tid, tu_gettid(), __ATOMIC_SEQ_CST);
    return (void *)(intptr_t)osev_loop_once(arg, osev_now() + osev_s(10));
}

START_TEST(row_20_second_dispatcher)
{
    osev_ctx *ctx = tu_ctx_new();
    struct pollfd fds[4] = { { .fd = -1 } };
    int n = 4, timeout = -1;
    pthread_t th;
    void *ret;

    loop_tid = 0;
    ck_assert_int_eq(pthread_create(&th, NULL, blocked_loop_tid, ctx), 0);
    while (__atomic_load_n(&loop_tid, __ATOMIC_SEQ_CST) == 0)
        sched_yield();
    if (tu_wait_until_polling(loop_tid, osev_now() + osev_s(5))) {
        ck_assert_osev_err(osev_dispatch(ctx), -EBUSY);
        ck_assert_osev_err(osev_loop_once(ctx, 0), -EBUSY);
        ck_assert_osev_err(osev_beforepoll(ctx, &n, fds, &timeout, 0),
                           -EBUSY);
        ck_assert_osev_err(osev_loop_run(ctx), -EBUSY);
        osev_afterpoll(ctx, n, fds, 0); /* ignored */
    }
    osev_wakeup(ctx);
    ck_assert_int_eq(pthread_join(th, &ret), 0);
    ck_assert_int_ge((int)(intptr_t)ret, 0);
    osev_ctx_free(ctx);
}
END_TEST

/* 21: hooks set when the context already has hooks */
START_TEST(row_21_hooks_already_set)
{
    osev_ctx *ctx = tu_ctx_new();
    struct osev_hook_stats st = { .size = sizeof st };

    ck_assert_osev_ok(osev_set_hooks(ctx, &plain_hooks, sizeof plain_hooks,
                                     NULL));
    ck_assert_osev_err(osev_set_hooks(ctx, &plain_hooks, sizeof plain_hooks,
                                      NULL),
                       -EBUSY);
    ck_assert_osev_ok(osev_get_hook_stats(ctx, &st));
    ck_assert_uint_eq(st.fd_registers, 1); /* not registered twice */
    ck_assert_osev_ok(osev_set_hooks(ctx, NULL, 0, NULL));
    ck_assert_osev_ok(osev_set_hooks(ctx, &plain_hooks, sizeof plain_hooks,
                                     NULL));
    osev_ctx_free(ctx);
}
END_TEST

/* 22: osevent called from inside a hook of struct osev_hooks (test-
 * refusals has it for each of the six hooks) */
static osev_ctx *hook_ctx;
static int inner_set, inner_set_null;

static int reenter_reg(void *u, int fd, void **reg, short ev, void *tok)
{
    inner_set = osev_set_hooks(hook_ctx, &plain_hooks, sizeof plain_hooks,
                               NULL);
    inner_set_null = osev_set_hooks(hook_ctx, NULL, 0, NULL);
    osev_occurred_fd(hook_ctx, tok, fd, ev, POLLIN);
    osev_occurred_timeout(hook_ctx, tok);
    return h_reg(u, fd, reg, ev, tok);
}

START_TEST(row_22_calls_from_inside_a_hook)
{
    struct osev_hooks h = plain_hooks;
    osev_fd *w;
    int p[2];

    h.fd_register = reenter_reg;
    hook_ctx = tu_ctx_new();
    tu_pipe(p);
    tu_write_byte(p[1]);
    ck_assert_osev_ok(osev_set_hooks(hook_ctx, &h, sizeof h, NULL));
    calls = 0;
    ck_assert_osev_ok(osev_fd_add(hook_ctx, p[0], POLLIN, count_fd, NULL,
                                  &w));
    ck_assert_osev_err(inner_set, -EBUSY);
    ck_assert_osev_err(inner_set_null, -EBUSY);
    ck_assert_int_eq(calls, 0); /* the report was ignored */
    osev_ctx_free(hook_ctx);
    close(p[0]), close(p[1]);
}
END_TEST

/* 23: osev_occurred_* with a stale or foreign token, or the wrong fd */
static void *last_tok[8];
static int last_tok_fd[8], ntok;

static int rec_reg(void *u, int fd, void **reg, short ev, void *tok)
{
    if (ntok < 8) {
        last_tok[ntok] = tok;
        last_tok_fd[ntok++] = fd;
    }
    return h_reg(u, fd, reg, ev, tok);
}

START_TEST(row_23_stale_or_foreign_token)
{
    struct osev_hooks h = plain_hooks;
    osev_ctx *ctx = tu_ctx_new(), *other = tu_ctx_new();
    osev_fd *w, *w2;
    void *tok, *other_tok;
    int p[2], q[2];

    h.fd_register = rec_reg;
    tu_pipe(p);
    tu_pipe(q);
    tu_write_byte(p[1]);
    tu_write_byte(q[1]);
    ck_assert_osev_ok(osev_set_hooks(ctx, &h, sizeof h, NULL));
    ck_assert_osev_ok(osev_set_hooks(other, &h, sizeof h, NULL));
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, count_fd, NULL, &w));
    tok = last_tok[ntok - 1];
    ck_assert_osev_ok(osev_fd_add(other, q[0], POLLIN, count_fd, NULL, &w2));
    other_tok = last_tok[ntok - 1];
    calls = 0;
    osev_occurred_fd(ctx, tok, q[0], POLLIN, POLLIN);     /* wrong fd */
    osev_occurred_fd(ctx, other_tok, q[0], POLLIN, POLLIN); /* foreign */
    osev_occurred_fd(ctx, (void *)(uintptr_t)0xdeadbeef, p[0], POLLIN,
                     POLLIN);
    osev_occurred_timeout(ctx, tok); /* an fd's token, not the timeout's */
    ck_assert_int_eq(calls, 0);
    osev_fd_remove(w); /* deregistered: the token goes stale */
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, count_fd, NULL, &w));
    osev_occurred_fd(ctx, tok, p[0], POLLIN, POLLIN);
    ck_assert_int_eq(calls, 0);
    /* the live one works */
    osev_occurred_fd(ctx, last_tok[ntok - 1], p[0], POLLIN, POLLIN);
    ck_assert_int_eq(calls, 1);
    osev_ctx_free(ctx);
    osev_ctx_free(other);
    close(p[0]), close(p[1]), close(q[0]), close(q[1]);
}
END_TEST

/* 24: osev_occurred_* on a context without hooks */
START_TEST(row_24_occurred_without_hooks)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_fd *w;
    osev_timer *t;
    int p[2];

    tu_pipe(p);
    tu_write_byte(p[1]);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, count_fd, NULL, &w));
    ck_assert_osev_ok(osev_timer_add(ctx, 0, count_timer, NULL, &t));
    calls = 0;
    for (uintptr_t tok = 0; tok < 4; tok++) {
        osev_occurred_fd(ctx, (void *)tok, p[0], POLLIN, POLLIN);
        osev_occurred_timeout(ctx, (void *)tok);
    }
    ck_assert_int_eq(calls, 0);
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]);
}
END_TEST

/* 25: a struct with a wrong size */
START_TEST(row_25_wrong_struct_size)
{
    struct osev_ctx_opts o = { .size = sizeof o };
    struct {
        struct osev_hooks h;
        uint64_t future;
    } big = { .h = plain_hooks, .future = 1 };
    struct osev_event_hooks eh = { 0 };
    struct osev_hook_stats st = { .size = 4 };
    osev_ctx *ctx = NULL;

    o.size = 1;
    ck_assert_osev_err(osev_ctx_new(&o, &ctx), -EINVAL);
    o.size = 4097;
    ck_assert_osev_err(osev_ctx_new(&o, &ctx), -EINVAL);
    ck_assert_ptr_null(ctx);
    ctx = tu_ctx_new();
    ck_assert_osev_err(osev_set_hooks(ctx, &plain_hooks, 8, NULL), -EINVAL);
    ck_assert_osev_err(osev_set_hooks(ctx, &big.h, sizeof big, NULL),
                       -EINVAL); /* a newer caller's request we cannot do */
    ck_assert_osev_err(osev_set_hooks(ctx, &plain_hooks, SIZE_MAX, NULL),
                       -EINVAL);
    ck_assert_osev_err(osev_event_set_hooks(ctx, &eh, 1, NULL), -EINVAL);
    ck_assert_osev_err(osev_event_set_hooks(ctx, &eh, SIZE_MAX, NULL),
                       -EINVAL);
    ck_assert_osev_err(osev_get_hook_stats(ctx, &st), -EINVAL);
    big.future = 0;
    ck_assert_osev_ok(osev_set_hooks(ctx, &big.h, sizeof big, NULL));
    osev_ctx_free(ctx);
}
END_TEST

/* 26: unknown context flags */
START_TEST(row_26_unknown_flags)
{
    struct osev_ctx_opts o = { .size = sizeof o };
    osev_ctx *ctx = NULL;

    for (unsigned bit = 2; bit < 32; bit++) {
        o.flags = 1u << bit;
        ck_assert_osev_err(osev_ctx_new(&o, &ctx), -EINVAL);
    }
    ck_assert_ptr_null(ctx);
}
END_TEST

/* 27: a required hook left NULL */
START_TEST(row_27_required_hook_null)
{
    osev_ctx *ctx = tu_ctx_new();
    struct osev_hook_stats st = { .size = sizeof st };

    for (int i = 0; i < 6; i++) {
        struct osev_hooks h = plain_hooks;

        switch (i) {
        case 0: h.fd_register = NULL; break;
        case 1: h.fd_modify = NULL; break;
        case 2: h.fd_deregister = NULL; break;
        case 3: h.timeout_register = NULL; break;
        case 4: h.timeout_modify = NULL; break;
        default: h.timeout_deregister = NULL; break;
        }
        ck_assert_osev_err(osev_set_hooks(ctx, &h, sizeof h, NULL), -EINVAL);
    }
    ck_assert_osev_ok(osev_get_hook_stats(ctx, &st));
    ck_assert_uint_eq(st.fd_regs, 0);
    osev_ctx_free(ctx);
}
END_TEST

/* 28: a signal number out of range */
START_TEST(row_28_signo_out_of_range)
{
    osev_ctx *ctx = tu_ctx_new();
    const int bad[] = { 0, -1, NSIG, NSIG + 1, INT_MAX, INT_MIN };
    osev_signal *s = NULL;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_osev_err(osev_signal_add(ctx, bad[i], nop_signal, NULL, &s),
                           -EINVAL);
    ck_assert_ptr_null(s);
    osev_ctx_free(ctx);
}
END_TEST

/* 29: a signal that cannot be caught, or a fault */
START_TEST(row_29_signo_uncatchable)
{
    osev_ctx *ctx = tu_ctx_new();
    const int bad[] = { SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL };
    osev_signal *s = NULL;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_osev_err(osev_signal_add(ctx, bad[i], nop_signal, NULL, &s),
                           -EINVAL);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(tu_needed(ctx), 1);
    osev_ctx_free(ctx);
}
END_TEST

/* 30: a signal the C library keeps for itself */
START_TEST(row_30_signo_reserved)
{
    osev_ctx *ctx = tu_ctx_new();
    int fds_before = tu_count_fds();
    osev_signal *s = NULL;

    /* glibc keeps the first real-time signals (32, 33) below SIGRTMIN */
    for (int signo = 32; signo < SIGRTMIN; signo++)
        ck_assert_osev_err(osev_signal_add(ctx, signo, nop_signal, NULL, &s),
                           -EINVAL);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(tu_count_fds(), fds_before); /* nothing left open */
    ck_assert_int_eq(tu_needed(ctx), 1);
    osev_ctx_free(ctx);
}
END_TEST

/* 31: a pid <= 0 */
START_TEST(row_31_pid_not_positive)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_child *c = NULL;

    ck_assert_osev_err(osev_child_add(ctx, 0, nop_child, NULL, &c), -EINVAL);
    ck_assert_osev_err(osev_child_add(ctx, -1, nop_child, NULL, &c), -EINVAL);
    ck_assert_osev_err(osev_child_add(ctx, -getpid(), nop_child, NULL, &c),
                       -EINVAL);
    ck_assert_ptr_null(c);
    osev_ctx_free(ctx);
}
END_TEST

/* 32: a pid that is not an unreaped child of ours */
START_TEST(row_32_pid_not_a_child)
{
    osev_ctx *ctx = tu_ctx_new();
    int fds_before = tu_count_fds();
    osev_child *c = NULL;
    pid_t reaped;
    int status;

    ck_assert_osev_err(osev_child_add(ctx, getpid(), nop_child, NULL, &c),
                       -ECHILD);
    ck_assert_osev_err(osev_child_add(ctx, getppid(), nop_child, NULL, &c),
                       -ECHILD);
    ck_assert_osev_err(osev_child_add(ctx, 1, nop_child, NULL, &c), -ECHILD);
    reaped = fork();
    ck_assert_int_ge(reaped, 0);
    if (reaped == 0)
        _exit(0);
    ck_assert_int_eq(waitpid(reaped, &status, 0), reaped);
    ck_assert_osev_err(osev_child_add(ctx, reaped, nop_child, NULL, &c),
                       -ECHILD);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(tu_count_fds(), fds_before);
    osev_ctx_free(ctx);
}
END_TEST

/* 33: an event type past 63 */
START_TEST(row_33_event_type_past_63)
{
    osev_ctx *ctx = tu_ctx_new();

    errno = 0;
    ck_assert_ptr_null(osev_event_new(ctx, 64, 0, 0));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(osev_event_new(ctx, UINT_MAX, 0, 0));
    ck_assert_int_eq(errno, EINVAL);
    osev_ctx_free(ctx);
}
END_TEST

/* 34: an event retyped past 63 before its post */
struct seen {
    int calls;
    unsigned type;
    int errnoval;
};

static void on_disaster(void *user, unsigned type, const char *msg,
                        int errnoval)
{
    struct seen *d = user;

    (void)msg;
    d->calls++;
    d->type = type;
    d->errnoval = errnoval;
}

START_TEST(row_34_event_retyped_before_post)
{
    osev_ctx *ctx = tu_ctx_new();
    struct seen d = { 0 };
    struct osev_event_hooks h = { .disaster = on_disaster };
    osev_event *ev = osev_event_new(ctx, 1, 0, 16);

    ck_assert_osev_ok(osev_event_set_hooks(ctx, &h, sizeof h, &d));
    ev->type = 64;
    osev_event_post(ctx, ev); /* freed, and the loss reported */
    ck_assert_int_eq(d.calls, 1);
    ck_assert_uint_eq(d.type, 0);
    ck_assert_int_eq(d.errnoval, EINVAL);
    ck_assert_osev_err(osev_event_check(ctx, OSEV_EVENTMASK_ALL, NULL, NULL,
                                        &ev),
                       -EAGAIN);
    osev_ctx_free(ctx);
}
END_TEST

/* 35: a payload too large */
START_TEST(row_35_payload_too_large)
{
    osev_ctx *ctx = tu_ctx_new();

    errno = 0;
    ck_assert_ptr_null(osev_event_new(ctx, 1, 0, SIZE_MAX));
    ck_assert_int_eq(errno, ENOMEM);
    osev_ctx_free(ctx);
}
END_TEST

/* 36: a negative exit code */
static void exit_negative(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now;
    osev_loop_exit(arg, -1);
}

START_TEST(row_36_negative_exit_code)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_timer *t;

    ck_assert_osev_ok(osev_timer_add(ctx, 0, exit_negative, ctx, &t));
    ck_assert_osev_err(osev_loop_run(ctx), -EINVAL); /* stopped all the same */
    osev_ctx_free(ctx);
}
END_TEST

/* 37: the context freed by a callback */
static void free_it(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now;
    osev_ctx_free(arg);
}

START_TEST(row_37_ctx_freed_by_a_callback)
{
    osev_ctx *ctx = tu_ctx_new();
    struct pollfd fds[4];
    int n = 4, timeout = -1;
    osev_timer *t;

    released = 0;
    ck_assert_osev_ok(osev_timer_add(ctx, 0, free_it, ctx, &t));
    osev_timer_set_release(t, count_release);
    ck_assert_osev_err(osev_dispatch(ctx), -ESTALE);
    ck_assert_int_eq(released, 1);

    ctx = tu_ctx_new();
    ck_assert_osev_ok(osev_timer_add(ctx, 0, free_it, ctx, &t));
    ck_assert_osev_err(osev_loop_once(ctx, 0), -ESTALE);

    ctx = tu_ctx_new();
    ck_assert_osev_ok(osev_timer_add(ctx, 0, free_it, ctx, &t));
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    osev_afterpoll(ctx, n, fds, 0); /* just returns */
}
END_TEST

/* 38: check or wait after a disaster nobody hooked */
START_TEST(row_38_unhooked_disaster)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_event *ev;
    int saved;

    osev_event_post(ctx, osev_event_new(ctx, 1, 0, 0));
    saved = silence_stderr();
    osev_disaster(ctx, 1, "lost", ENOMEM);
    restore_stderr(saved);
    ck_assert_osev_err(osev_event_check(ctx, OSEV_EVENTMASK_ALL, NULL, NULL,
                                        &ev),
                       -EIO);
    ck_assert_osev_err(osev_event_wait(ctx, OSEV_EVENTMASK_ALL, NULL, NULL,
                                       OSEV_TIME_INFINITY, &ev),
                       -EIO);
    osev_ctx_free(ctx);
}
END_TEST

/* 39: a typemask of 0 */
START_TEST(row_39_empty_typemask)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_event *ev;

    osev_event_post(ctx, osev_event_new(ctx, 1, 0, 0));
    ck_assert_osev_err(osev_event_check(ctx, 0, NULL, NULL, &ev), -EAGAIN);
    ck_assert_osev_err(osev_event_wait(ctx, 0, NULL, NULL,
                                       osev_now() + osev_ms(5), &ev),
                       -ETIMEDOUT);
    ck_assert_osev_ok(osev_event_check(ctx, 2, NULL, NULL, &ev));
    osev_event_free(ctx, ev);
    osev_ctx_free(ctx);
}
END_TEST

/* 40: osev_strerror of a value that is no errno */
START_TEST(row_40_strerror_of_anything)
{
    ck_assert_str_eq(osev_strerror(INT_MIN), "unknown error");
    ck_assert_ptr_nonnull(osev_strerror(INT_MAX));
    ck_assert_ptr_nonnull(osev_strerror(-123456));
    ck_assert_str_eq(osev_strerror(-EBUSY), osev_strerror(EBUSY));
}
END_TEST

/* 41: osev_disaster with a type past 63 */
START_TEST(row_41_disaster_type_past_63)
{
    osev_ctx *ctx = tu_ctx_new();
    struct seen d = { 0 };
    struct osev_event_hooks h = { .disaster = on_disaster };

    ck_assert_osev_ok(osev_event_set_hooks(ctx, &h, sizeof h, &d));
    osev_disaster(ctx, 1000, "x", 0);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_uint_eq(d.type, 1000); /* passed on as given */
    osev_ctx_free(ctx);
}
END_TEST

static Suite *misuse_suite(void)
{
    Suite *s = suite_create("misuse");
    TCase *args = tcase_create("arguments");
    TCase *pull = tcase_create("pull");
    TCase *state = tcase_create("state");
    TCase *push = tcase_create("push");
    TCase *procs = tcase_create("signals and children");
    TCase *events = tcase_create("events and the rest");

    tcase_add_test(args, row_01_null_context);
    tcase_add_test(args, row_02_null_handle);
    tcase_add_test(args, row_03_null_callback_or_out);
    tcase_add_test(args, row_04_bad_event_bits);
    tcase_add_test(args, row_05_negative_fd);
    tcase_add_test(args, row_06_fd_not_open);
    tcase_add_test(args, row_07_fd_closed_while_watched);
    tcase_add_test(args, row_08_negative_deadline);
    tcase_add_test(pull, row_09_negative_now);
    tcase_add_test(pull, row_10_beforepoll_array_too_small);
    tcase_add_test(pull, row_11_beforepoll_bad_room);
    tcase_add_test(pull, row_12_fd_beyond_fd_setsize);
    tcase_add_test(pull, row_13_missing_fd_set);
    tcase_add_test(pull, row_14_bad_timeval);
    tcase_add_test(pull, row_15_foreign_afterpoll_array);
    tcase_add_test(pull, row_16_afterpoll_without_round);
    tcase_add_test(pull, row_17_afterselect_without_round);
    tcase_add_test(state, row_18_stale_handle);
    tcase_add_test(state, row_19_dispatch_from_a_callback);
    tcase_add_test(state, row_20_second_dispatcher);
    tcase_add_test(push, row_21_hooks_already_set);
    tcase_add_test(push, row_22_calls_from_inside_a_hook);
    tcase_add_test(push, row_23_stale_or_foreign_token);
    tcase_add_test(push, row_24_occurred_without_hooks);
    tcase_add_test(push, row_25_wrong_struct_size);
    tcase_add_test(push, row_26_unknown_flags);
    tcase_add_test(push, row_27_required_hook_null);
    tcase_add_test(procs, row_28_signo_out_of_range);
    tcase_add_test(procs, row_29_signo_uncatchable);
    tcase_add_test(procs, row_30_signo_reserved);
    tcase_add_test(procs, row_31_pid_not_positive);
    tcase_add_test(procs, row_32_pid_not_a_child);
    tcase_add_test(events, row_33_event_type_past_63);
    tcase_add_test(events, row_34_event_retyped_before_post);
    tcase_add_test(events, row_35_payload_too_large);
    tcase_add_test(events, row_36_negative_exit_code);
    tcase_add_test(events, row_37_ctx_freed_by_a_callback);
    tcase_add_test(events, row_38_unhooked_disaster);
    tcase_add_test(events, row_39_empty_typemask);
    tcase_add_test(events, row_40_strerror_of_anything);
    tcase_add_test(events, row_41_disaster_type_past_63);
    suite_add_tcase(s, args);
    suite_add_tcase(s, pull);
    suite_add_tcase(s, state);
    suite_add_tcase(s, push);
    suite_add_tcase(s, procs);
    suite_add_tcase(s, events);
    return s;
}

int main(void)
{
    return tu_run_suite(misuse_suite());
}
