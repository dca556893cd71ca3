/*
 * test-loop.c - the built-in loop, the aggregate fd and wakeups: the
 * header's built-in loop and aggregate fd (the single-dispatcher part).  The suite runs
 * under whichever backend the environment selects, and some tests make a
 * context of each backend explicitly.
 */
#include "testutil.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define BOUND osev_s(10) /* generous: a noisy 2-core machine */

static osev_ctx *ctx_with(unsigned flags)
{
    struct osev_ctx_opts o = { .size = sizeof o, .flags = flags };
    osev_ctx *ctx;

    ck_assert_osev_ok(osev_ctx_new(&o, &ctx));
    return ctx;
}

static int counter;

static void count_read(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)revents, (void)arg;
    tu_drain(fd);
    counter++;
}

static void count_timer(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now, (void)arg;
    counter++;
}

START_TEST(loop_once_both_backends)
{
    osev_ctx *ctx = ctx_with(_i ? OSEV_CTX_BACKEND_POLL : 0);
    osev_time start;
    int p[2];
    osev_fd *w;
    osev_timer *t;

    tu_pipe(p);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, count_read, NULL, &w));
    counter = 0;
    tu_write_byte(p[1]);
    ck_assert_int_eq(osev_loop_once(ctx, osev_now() + BOUND), 1);
    ck_assert_int_eq(counter, 1);

    ck_assert_osev_ok(osev_timer_add(ctx, osev_now() + osev_ms(20),
                                     count_timer, NULL, &t));
    ck_assert_int_eq(osev_loop_once(ctx, osev_now() + BOUND), 1);
    ck_assert_int_eq(counter, 2);

    start = osev_now();
    ck_assert_osev_err(osev_loop_once(ctx, start + osev_ms(30)), -ETIMEDOUT);
    ck_assert_int_ge(osev_now(), start + osev_ms(30));
    ck_assert_int_eq(counter, 2);
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]);
}
END_TEST

static void exit_seven(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now;
    osev_loop_exit(arg, 7);
}

START_TEST(loop_run_until_exit)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_timer *t;
    struct pollfd fds[4];
    int n = 4, timeout = -1;

    ck_assert_osev_ok(osev_timer_add(ctx, osev_now() + osev_ms(10),
                                     exit_seven, ctx, &t));
    ck_assert_int_eq(osev_loop_run(ctx), 7);
    /* an exit asked for with no loop running does not make pull spin,
     * and makes the next run return at once */
    osev_loop_exit(ctx, 3);
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_int_eq(timeout, -1);
    ck_assert_int_eq(osev_loop_run(ctx), 3);
    /* ... and only the next one: this one runs until asked again */
    ck_assert_osev_ok(osev_timer_set(t, osev_now() + osev_ms(10)));
    ck_assert_int_eq(osev_loop_run(ctx), 7);
    osev_ctx_free(ctx);
}
END_TEST

static bool readable(int fd, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int r = poll(&p, 1, timeout_ms);

    ck_assert_int_ge(r, 0);
    return r == 1;
}

START_TEST(aggregate_fd_timer_and_fd)
{
    osev_ctx *ctx = ctx_with(_i ? OSEV_CTX_BACKEND_POLL : 0);
    int afd = tu_get_fd(ctx), p[2];
    osev_timer *t, *early;
    osev_fd *w;

    if (afd < 0) { /* no aggregate fd without the Linux APIs: -ENOSYS */
        ck_assert_osev_err(osev_get_fd(ctx), -ENOSYS); /* each time */
        osev_ctx_free(ctx);
        return;
    }
    ck_assert_int_eq(osev_get_fd(ctx), afd); /* the same fd each time */
    ck_assert(!readable(afd, 0));           /* no work */

    /* a timer falling due makes it readable */
    counter = 0;
    ck_assert_osev_ok(osev_timer_add(ctx, osev_now() + osev_ms(20),
                                     count_timer, NULL, &t));
    ck_assert(readable(afd, 10000));
    ck_assert_int_ge(osev_now(), osev_ms(0)); /* (clock sanity) */
    ck_assert_int_eq(osev_dispatch(ctx), 1);
    ck_assert_int_eq(counter, 1);
    ck_assert(!readable(afd, 0)); /* handled: quiet again */

    /* a watched fd becoming ready makes it readable */
    tu_pipe(p);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, count_read, NULL, &w));
    ck_assert(!readable(afd, 0));
    tu_write_byte(p[1]);
    ck_assert(readable(afd, 10000));
    ck_assert_int_eq(osev_dispatch(ctx), 1);
    ck_assert(!readable(afd, 0));

    /* a far timer, then an earlier one: the fd follows the earlier */
    ck_assert_osev_ok(osev_timer_set(t, osev_now() + osev_s(3600)));
    ck_assert_osev_ok(osev_timer_add(ctx, osev_now() + osev_ms(20),
                                     count_timer, NULL, &early));
    ck_assert(readable(afd, 10000));
    ck_assert_int_eq(osev_dispatch(ctx), 1);
    ck_assert_int_eq(counter, 3);
    ck_assert(!readable(afd, 0));
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]);
}
END_TEST

/* A timer due since the start of the clock (deadline 0, or any time
 * already past) makes the aggregate fd readable at once. */
START_TEST(aggregate_fd_past_deadline)
{
    osev_ctx *ctx = ctx_with(_i ? OSEV_CTX_BACKEND_POLL : 0);
    int afd = tu_get_fd(ctx);
    osev_timer *t;

    if (afd < 0) { /* no aggregate fd without the Linux APIs: -ENOSYS */
        osev_ctx_free(ctx);
        return;
    }
    ck_assert(!readable(afd, 0));
    counter = 0;
    ck_assert_osev_ok(osev_timer_add(ctx, 0, count_timer, NULL, &t));
    ck_assert(readable(afd, 10000));
    ck_assert_int_eq(osev_dispatch(ctx), 1);
    ck_assert_int_eq(counter, 1);
    ck_assert(!readable(afd, 0));
    /* re-armed for the past from outside a pass: readable again */
    ck_assert_osev_ok(osev_timer_set(t, 0));
    ck_assert(readable(afd, 10000));
    ck_assert_int_eq(osev_dispatch(ctx), 1);
    ck_assert_int_eq(counter, 2);
    osev_ctx_free(ctx);
}
END_TEST

static void noop_defer(osev_ctx *ctx, void *arg)
{
    (void)ctx, (void)arg;
    counter++;
}

START_TEST(deadline_and_deferred)
{
    osev_ctx *ctx = tu_ctx_new();
    int afd = tu_get_fd(ctx);
    osev_time dl, at = osev_now() + osev_s(60);
    osev_timer *t;

    ck_assert_osev_ok(osev_get_deadline(ctx, &dl));
    ck_assert_int_eq(dl, OSEV_TIME_INFINITY);
    ck_assert_osev_ok(osev_timer_add(ctx, at, count_timer, NULL, &t));
    ck_assert_osev_ok(osev_get_deadline(ctx, &dl));
    ck_assert_int_eq(dl, at);
    counter = 0;
    ck_assert_osev_ok(osev_defer(ctx, noop_defer, NULL));
    ck_assert_osev_ok(osev_get_deadline(ctx, &dl));
    ck_assert_int_eq(dl, 0);
    if (afd >= 0)
        ck_assert(readable(afd, 0)); /* pending work shows on the fd */
    ck_assert_int_eq(osev_dispatch(ctx), 1);
    ck_assert_int_eq(counter, 1);
    ck_assert_osev_ok(osev_get_deadline(ctx, &dl));
    ck_assert_int_eq(dl, at);
    osev_ctx_free(ctx);
}
END_TEST

START_TEST(dispatch_never_blocks)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_timer *t;
    osev_time start;

    ck_assert_osev_ok(osev_timer_add(ctx, osev_now() + osev_s(3600),
                                     count_timer, NULL, &t));
    start = osev_now();
    ck_assert_int_eq(osev_dispatch(ctx), 0);
    ck_assert_int_lt(osev_now() - start, osev_s(3));
    osev_ctx_free(ctx);
}
END_TEST

/* ---- wakeups ---- */

static osev_ctx *signal_ctx;

static void on_usr1(int signo)
{
    (void)signo;
    osev_wakeup(signal_ctx); /* the only osevent call a handler may make */
}

static void *raise_usr1(void *arg)
{
    (void)arg;
    raise(SIGUSR1); /* this thread has SIGUSR1 unblocked */
    return NULL;
}

START_TEST(wakeup_from_signal_handler)
{
    struct sigaction sa = { .sa_handler = on_usr1 };
    pthread_t th;
    osev_time start;

    signal_ctx = tu_ctx_new();
    ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
    /* raise() signals the helper thread itself, so the handler runs there
     * and the loop is woken through the wakeup fd, not by EINTR */
    ck_assert_int_eq(pthread_create(&th, NULL, raise_usr1, NULL), 0);
    start = osev_now();
    ck_assert_int_eq(osev_loop_once(signal_ctx, start + BOUND), 0);
    ck_assert_int_lt(osev_now(), start + BOUND);
    pthread_join(th, NULL);
    osev_ctx_free(signal_ctx);
}
END_TEST

static void *wake_later(void *arg)
{
    osev_wakeup(arg);
    return NULL;
}

START_TEST(wakeup_reaches_the_applications_poll)
{
    osev_ctx *ctx = tu_ctx_new();
    struct pollfd fds[4];
    int n = 4, timeout = -1;
    pthread_t th;

    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_int_eq(pthread_create(&th, NULL, wake_later, ctx), 0);
    ck_assert_int_eq(poll(fds, (nfds_t)n, 10000), 1);
    pthread_join(th, NULL);
    osev_afterpoll(ctx, n, fds, 0);
    /* drained by the pass: the next poll is quiet */
    n = 4;
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_int_eq(poll(fds, (nfds_t)n, 0), 0);
    osev_ctx_free(ctx);
}
END_TEST

static int handoff[2];

/* Posts once told to, which the waiter does from inside its wait. */
static void *post_when_told(void *arg)
{
    struct pollfd p = { .fd = handoff[0], .events = POLLIN };
    osev_event *ev;

    if (poll(&p, 1, 10000) == 1) {
        ev = osev_event_new(arg, 2, 22, 0);
        osev_event_post(arg, ev);
    }
    return NULL;
}

static void tell(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now, (void)arg;
    tu_write_byte(handoff[1]);
}

START_TEST(post_from_another_thread_wakes_event_wait)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_time start = osev_now();
    osev_event *ev;
    osev_timer *t;
    pthread_t th;

    tu_pipe(handoff);
    ck_assert_osev_ok(osev_timer_add(ctx, start + osev_ms(10), tell, NULL,
                                     &t));
    ck_assert_int_eq(pthread_create(&th, NULL, post_when_told, ctx), 0);
    ck_assert_osev_ok(osev_event_wait(ctx, UINT64_C(1) << 2, NULL, NULL,
                                      start + BOUND, &ev));
    ck_assert_int_lt(osev_now(), start + BOUND);
    ck_assert_uint_eq(ev->for_user, 22);
    osev_event_free(ctx, ev);
    pthread_join(th, NULL);
    osev_ctx_free(ctx);
    close(handoff[0]), close(handoff[1]);
}
END_TEST

/* ---- what ends a turn ---- */

static volatile sig_atomic_t alarms;

static void on_alarm(int signo)
{
    (void)signo;
    alarms++;
}

/*
 * The application's own signal, interrupting the wait many times a
 * second, is not an answer: osev_loop_once() returns only when a callback
 * ran (1) or its deadline passed (-ETIMEDOUT), never an empty 0.
 */
START_TEST(foreign_signals_do_not_end_the_turn)
{
    osev_ctx *ctx = ctx_with(_i ? OSEV_CTX_BACKEND_POLL : 0);
    struct sigaction sa = { .sa_handler = on_alarm }, old;
    struct itimerval every3ms = { { 0, 3000 }, { 0, 3000 } }, off = { 0 };
    osev_timer *t;

    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGALRM, &sa, &old), 0);
    counter = 0;
    alarms = 0;
    ck_assert_osev_ok(osev_timer_add(ctx, osev_now() + osev_ms(60),
                                     count_timer, NULL, &t));
    ck_assert_int_eq(setitimer(ITIMER_REAL, &every3ms, NULL), 0);
    ck_assert_int_eq(osev_loop_once(ctx, osev_now() + BOUND), 1);
    ck_assert_int_eq(counter, 1);
    ck_assert_osev_err(osev_loop_once(ctx, osev_now() + osev_ms(40)),
                       -ETIMEDOUT);
    setitimer(ITIMER_REAL, &off, NULL);
    ck_assert_int_gt(alarms, 0); /* the waits were interrupted */
    ck_assert_int_eq(sigaction(SIGALRM, &old, NULL), 0);
    osev_ctx_free(ctx);
}
END_TEST

/* A bare osev_wakeup() does end the turn, with 0. */
START_TEST(bare_wakeup_ends_the_turn_with_zero)
{
    osev_ctx *ctx = ctx_with(_i ? OSEV_CTX_BACKEND_POLL : 0);

    osev_wakeup(ctx);
    ck_assert_int_eq(osev_loop_once(ctx, osev_now() + BOUND), 0);
    osev_ctx_free(ctx);
}
END_TEST

/* ---- reentrancy ---- */

static int nested_result;

static void nest(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now;
    nested_result = osev_loop_once(arg, 0);
}

START_TEST(loop_once_from_callback_is_busy)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_timer *t;

    ck_assert_osev_ok(osev_timer_add(ctx, 0, nest, ctx, &t));
    ck_assert_int_eq(osev_loop_once(ctx, osev_now() + BOUND), 1);
    ck_assert_osev_err(nested_result, -EBUSY);
    osev_ctx_free(ctx);
}
END_TEST

static void free_ctx(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now;
    osev_ctx_free(arg);
}

START_TEST(ctx_freed_by_callback_in_loop_once)
{
    osev_ctx *ctx = ctx_with(_i ? OSEV_CTX_BACKEND_POLL : 0);
    int fds_before = tu_count_fds();
    osev_timer *t, *other;

    (void)tu_get_fd(ctx);
    ck_assert_osev_ok(osev_timer_add(ctx, 0, free_ctx, ctx, &t));
    ck_assert_osev_ok(osev_timer_add(ctx, 0, count_timer, NULL, &other));
    counter = 0;
    ck_assert_osev_err(osev_loop_once(ctx, osev_now() + BOUND), -ESTALE);
    ck_assert_int_eq(counter, 0); /* the rest of the pass did not run */
    ck_assert_int_lt(tu_count_fds(), fds_before); /* its fds are closed */
}
END_TEST

/*
 * Two watches found ready in the same turn run in one batch, with the
 * lock released once for it: whichever runs first has another thread
 * remove the other, and waits until that osev_fd_remove() has returned.
 * The other must not be called, though it was already taken for the
 * batch.  (Both backends; the hand-off is a join, not a sleep.)
 */
struct batch_remove {
    osev_fd *w[2];
    int calls;
};

static void *remove_other(void *arg)
{
    osev_fd_remove(arg);
    return NULL;
}

static void remove_the_other(osev_fd *w, int fd, short revents, void *arg)
{
    struct batch_remove *b = arg;
    pthread_t th;

    (void)revents;
    tu_drain(fd);
    b->calls++;
    ck_assert_int_eq(pthread_create(&th, NULL, remove_other,
                                    b->w[w == b->w[0]]), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
}

START_TEST(removed_by_another_thread_mid_batch)
{
    osev_ctx *ctx = ctx_with(_i ? OSEV_CTX_BACKEND_POLL : 0);
    struct batch_remove b = { .calls = 0 };
    int p[2], q[2];

    tu_pipe(p);
    tu_pipe(q);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, remove_the_other, &b,
                                  &b.w[0]));
    ck_assert_osev_ok(osev_fd_add(ctx, q[0], POLLIN, remove_the_other, &b,
                                  &b.w[1]));
    tu_write_byte(p[1]);
    tu_write_byte(q[1]);
    ck_assert_int_eq(osev_loop_once(ctx, osev_now() + BOUND), 1);
    ck_assert_int_eq(b.calls, 1);
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]), close(q[0]), close(q[1]);
}
END_TEST

/*
 * A watch added by a callback takes no part in the results of the wait
 * that started the pass, as a watch added after osev_beforepoll() takes
 * none from its poll: it is first called in the next turn.  More fds are
 * ready than one batch of the pass takes (64), so under epoll the pass
 * takes the rest of the wait's results only after the first batch's
 * callbacks ran: the first callback to run replaces every other watch
 * (remove, then add again on the same fd), and none of the new watches
 * may be called in this turn, whichever batch their fd was found in.
 */
#define MANY_READY 80

struct late_rec {
    osev_ctx *ctx;
    int rd, wr;
    osev_fd *w;
    bool replaced;
};

static struct late_rec late_recs[MANY_READY];
static int early_calls, late_calls;

static void late_read(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)revents, (void)arg;
    tu_drain(fd);
    late_calls++;
}

static void replace_others(osev_fd *w, int fd, short revents, void *arg)
{
    struct late_rec *self = arg;

    (void)w, (void)revents;
    tu_drain(fd);
    if (early_calls++)
        return;
    for (int i = 0; i < MANY_READY; i++) {
        struct late_rec *r = &late_recs[i];

        if (r == self)
            continue;
        osev_fd_remove(r->w);
        ck_assert_osev_ok(osev_fd_add(r->ctx, r->rd, POLLIN, late_read, r,
                                      &r->w));
        r->replaced = true;
    }
}

START_TEST(watch_added_by_a_callback_waits_a_turn)
{
    osev_ctx *ctx = ctx_with(_i ? OSEV_CTX_BACKEND_POLL : 0);
    int p[2];

    early_calls = late_calls = 0;
    for (int i = 0; i < MANY_READY; i++) {
        struct late_rec *r = &late_recs[i];

        tu_pipe(p);
        *r = (struct late_rec){ .ctx = ctx, .rd = p[0], .wr = p[1] };
        ck_assert_osev_ok(osev_fd_add(ctx, r->rd, POLLIN, replace_others, r,
                                      &r->w));
    }
    for (int i = 0; i < MANY_READY; i++)
        tu_write_byte(late_recs[i].wr);
    ck_assert_int_eq(osev_loop_once(ctx, osev_now() + BOUND), 1);
    ck_assert_int_eq(early_calls, 1);
    ck_assert_int_eq(late_calls, 0);
    /* The next turn: every new watch, its fd still readable. */
    ck_assert_int_eq(osev_loop_once(ctx, osev_now() + BOUND),
                     MANY_READY - 1);
    ck_assert_int_eq(early_calls, 1);
    ck_assert_int_eq(late_calls, MANY_READY - 1);
    osev_ctx_free(ctx);
    for (int i = 0; i < MANY_READY; i++)
        close(late_recs[i].rd), close(late_recs[i].wr);
}
END_TEST

static Suite *loop_suite(void)
{
    Suite *s = suite_create("loop");
    TCase *loop = tcase_create("loop");
    TCase *agg = tcase_create("aggregate");
    TCase *wake = tcase_create("wakeup");

    tcase_add_loop_test(loop, loop_once_both_backends, 0, 2);
    tcase_add_test(loop, loop_run_until_exit);
    tcase_add_test(loop, dispatch_never_blocks);
    tcase_add_loop_test(loop, foreign_signals_do_not_end_the_turn, 0, 2);
    tcase_add_loop_test(loop, bare_wakeup_ends_the_turn_with_zero, 0, 2);
    tcase_add_test(loop, loop_once_from_callback_is_busy);
    tcase_add_loop_test(loop, ctx_freed_by_callback_in_loop_once, 0, 2);
    tcase_add_loop_test(loop, removed_by_another_thread_mid_batch, 0, 2);
    tcase_add_loop_test(loop, watch_added_by_a_callback_waits_a_turn, 0, 2);
    tcase_add_loop_test(agg, aggregate_fd_timer_and_fd, 0, 2);
    tcase_add_loop_test(agg, aggregate_fd_past_deadline, 0, 2);
    tcase_add_test(agg, deadline_and_deferred);
    tcase_add_test(wake, wakeup_from_signal_handler);
    tcase_add_test(wake, wakeup_reaches_the_applications_poll);
    tcase_add_test(wake, post_from_another_thread_wakes_event_wait);
    tcase_set_timeout(wake, 30);
    tcase_set_timeout(agg, 30);
    suite_add_tcase(s, loop);
    suite_add_tcase(s, agg);
    suite_add_tcase(s, wake);
    return s;
}

int main(void)
{
    return tu_run_suite(loop_suite());
}
