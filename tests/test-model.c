/*
 * test-model.c - random sequences of registry operations checked against
 * a model small enough to be obviously right.
 *
 * The pull API lets the test play the kernel: osev_afterpoll() takes
 * whatever revents the array holds and whatever `now` it is given, so the
 * test fabricates readiness and time and predicts every callback.
 */
#include "testutil.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NFDS 12
#define NWATCH 48
#define NTIMER 64
#define STEPS 3000 /* per run, tu_scaled() */

/* A small deterministic generator, so a failure can be replayed. */
static uint64_t rng_state;

static unsigned rnd(unsigned n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)(rng_state >> 33) % n;
}

static short rnd_mask(void)
{
    static const short bits[] = { POLLIN, POLLOUT, POLLPRI };
    short m = 0;

    for (unsigned i = 0; i < 3; i++)
        if (rnd(2))
            m |= bits[i];
    return m;
}

/* ---- fd watches ---- */

struct mwatch {
    osev_fd *w;
    int fd;
    short events;
    short got;  /* revents received this round */
    int calls;  /* callbacks this round */
};

static struct mwatch watches[NWATCH];

static void watch_cb(osev_fd *w, int fd, short revents, void *arg)
{
    struct mwatch *m = arg;

    ck_assert_ptr_eq(m->w, w);
    ck_assert_int_eq(m->fd, fd);
    m->got |= revents;
    m->calls++;
}

static short model_union(int fd)
{
    short u = 0;

    for (int i = 0; i < NWATCH; i++)
        if (watches[i].w && watches[i].fd == fd)
            u |= watches[i].events;
    return u;
}

/* The array beforepoll hands out is exactly the fds with a non-zero
 * union, each once with that union, plus the one wakeup entry. */
static void check_array(const struct pollfd *fds, int n, const int *fdv)
{
    int expected = 0, wake = 0;

    for (int f = 0; f < NFDS; f++)
        if (model_union(fdv[f]))
            expected++;
    ck_assert_int_eq(n, expected + 1);
    for (int i = 0; i < n; i++) {
        int known = -1;

        for (int f = 0; f < NFDS; f++)
            if (fds[i].fd == fdv[f])
                known = f;
        if (known < 0) {
            wake++;
            continue;
        }
        ck_assert_int_eq(fds[i].events, model_union(fds[i].fd));
        for (int j = 0; j < i; j++)
            ck_assert_int_ne(fds[j].fd, fds[i].fd);
    }
    ck_assert_int_eq(wake, 1);
}

static void fd_step(osev_ctx *ctx, const int *fdv)
{
    struct mwatch *m = &watches[rnd(NWATCH)];
    unsigned op = rnd(4);

    if (!m->w) {
        m->fd = fdv[rnd(NFDS)];
        m->events = rnd_mask();
        ck_assert_osev_ok(osev_fd_add(ctx, m->fd, m->events, watch_cb, m,
                                      &m->w));
    } else if (op == 0) {
        osev_fd_remove(m->w);
        m->w = NULL;
    } else if (op == 1) {
        m->events = rnd_mask();
        ck_assert_osev_ok(osev_fd_modify(m->w, m->events));
    }
}

static void fd_round(osev_ctx *ctx, const int *fdv)
{
    struct pollfd fds[NFDS + 1];
    int n = NFDS + 1, timeout = -1;
    short rev[NFDS + 1];

    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    check_array(fds, n, fdv);
    for (int i = 0; i < n; i++) {
        /* Any bits, asked for or not, as a kernel may report them
         * (never POLLNVAL here: that mutes, tested elsewhere). */
        rev[i] = rnd(3) ? 0 : (short)(rnd_mask() | (rnd(4) ? 0 : POLLHUP));
        fds[i].revents = rev[i];
    }
    for (int i = 0; i < NWATCH; i++)
        watches[i].got = 0, watches[i].calls = 0;
    osev_afterpoll(ctx, n, fds, 0);
    for (int i = 0; i < NWATCH; i++) {
        struct mwatch *m = &watches[i];
        short want = 0;

        if (!m->w)
            continue;
        for (int j = 0; j < n; j++)
            if (fds[j].fd == m->fd && m->events)
                want = (rev[j] & m->events) | (rev[j] & POLLHUP);
        ck_assert_int_eq(m->got, want);
        ck_assert_int_le(m->calls, 1);
    }
}

START_TEST(fd_watches_match_model)
{
    osev_ctx *ctx = tu_ctx_new();
    int fdv[NFDS];

    rng_state = 0x5eed0000u + (uint64_t)_i;
    memset(watches, 0, sizeof watches);
    for (int f = 0; f < NFDS; f++)
        ck_assert_int_ge(fdv[f] = open("/dev/null", O_RDONLY | O_CLOEXEC), 0);
    for (long step = 0, n = tu_scaled(STEPS); step < n; step++) {
        fd_step(ctx, fdv);
        if (rnd(4) == 0)
            fd_round(ctx, fdv);
    }
    fd_round(ctx, fdv);
    osev_ctx_free(ctx);
    for (int f = 0; f < NFDS; f++)
        close(fdv[f]);
}
END_TEST

/* ---- timers, on a simulated clock ---- */

struct mtimer {
    osev_timer *t;
    osev_time deadline; /* INFINITY: disarmed */
    uint64_t armed;     /* model arming order */
};

static struct mtimer timers[NTIMER];
static int fired[NTIMER * 4], nfired;
static uint64_t arm_seq;

static void timer_cb(osev_timer *t, osev_time now, void *arg)
{
    struct mtimer *m = arg;

    ck_assert_ptr_eq(m->t, t);
    ck_assert_int_le(m->deadline, now);
    ck_assert_int_lt(nfired, NTIMER * 4);
    fired[nfired++] = (int)(m - timers);
    m->deadline = OSEV_TIME_INFINITY;
}

static void arm(struct mtimer *m, osev_time deadline)
{
    m->deadline = deadline;
    m->armed = arm_seq++;
}

static void timer_step(osev_ctx *ctx, osev_time now)
{
    struct mtimer *m = &timers[rnd(NTIMER)];
    osev_time d = rnd(8) ? now + (osev_time)rnd(1000) - 200
                         : OSEV_TIME_INFINITY;

    if (d < 0)
        d = 0;
    if (!m->t) {
        ck_assert_osev_ok(osev_timer_add(ctx, d, timer_cb, m, &m->t));
        arm(m, d);
    } else if (rnd(3) == 0) {
        osev_timer_remove(m->t);
        m->t = NULL;
    } else {
        ck_assert_osev_ok(osev_timer_set(m->t, d));
        arm(m, d);
    }
}

/* The model: every live armed timer due at @now, by (deadline, armed). */
static int model_due(osev_time now, int *order)
{
    int n = 0;

    for (int i = 0; i < NTIMER; i++)
        if (timers[i].t && timers[i].deadline <= now)
            order[n++] = i;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0; j--) {
            struct mtimer *a = &timers[order[j - 1]], *b = &timers[order[j]];

            if (a->deadline < b->deadline ||
                (a->deadline == b->deadline && a->armed < b->armed))
                break;
            int tmp = order[j];
            order[j] = order[j - 1];
            order[j - 1] = tmp;
        }
    return n;
}

static void timer_round(osev_ctx *ctx, osev_time now)
{
    struct pollfd fds[4];
    int n = 4, timeout = -1, expect[NTIMER], nexpect;
    osev_time next = OSEV_TIME_INFINITY, got;

    for (int i = 0; i < NTIMER; i++)
        if (timers[i].t && timers[i].deadline < next)
            next = timers[i].deadline;
    ck_assert_osev_ok(osev_get_deadline(ctx, &got));
    ck_assert_int_eq(got, next);

    nexpect = model_due(now, expect);
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, now));
    nfired = 0;
    osev_afterpoll(ctx, n, fds, now);
    ck_assert_int_eq(nfired, nexpect);
    for (int i = 0; i < nexpect; i++)
        ck_assert_int_eq(fired[i], expect[i]);
}

START_TEST(timers_match_model)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_time now = osev_s(1000);

    rng_state = 0x71e40000u + (uint64_t)_i;
    memset(timers, 0, sizeof timers);
    for (long step = 0, n = tu_scaled(STEPS); step < n; step++) {
        timer_step(ctx, now);
        if (rnd(5) == 0) {
            now += rnd(300);
            timer_round(ctx, now);
        }
    }
    osev_ctx_free(ctx);
}
END_TEST

static Suite *model_suite(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("random");

    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, fd_watches_match_model, 0, 8);
    tcase_add_loop_test(tc, timers_match_model, 0, 8);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(model_suite());
}
