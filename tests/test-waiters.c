/*
 * test-waiters.c - several threads in osev_event_wait() on one context:
 * each event reaches exactly one waiter whose filter matches, a waiter
 * whose deadline passes leaves cleanly, and when the waiter running the
 * loop leaves, another takes over serving the registry.
 *
 * Whether a post finds its waiter already registered (and hands the event
 * over) or not yet (and queues it for the waiter's first check) depends
 * on scheduling; every assertion holds either way.
 */
#include "testutil.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#define BOUND osev_s(20)
#define NWAITERS 8
#define PER_WAITER 500

struct waiter {
    pthread_t th;
    osev_ctx *ctx;
    uint64_t typemask;
    unsigned index;     /* predicate: for_user % NWAITERS == index */
    bool use_pred;
    osev_time deadline;
    int want;           /* how many events to take */
    int got;
    int result;         /* last osev_event_wait() result */
    uint64_t cookies[PER_WAITER];
};

static int by_index(const osev_event *ev, void *user)
{
    const struct waiter *w = user;

    return ev->for_user % NWAITERS == w->index;
}

static void *wait_thread(void *arg)
{
    struct waiter *w = arg;

    while (w->got < w->want) {
        osev_event *ev;

        w->result = osev_event_wait(w->ctx, w->typemask,
                                    w->use_pred ? by_index : NULL, w,
                                    w->deadline, &ev);
        if (w->result < 0)
            break;
        w->cookies[w->got++] = ev->for_user;
        osev_event_free(w->ctx, ev);
    }
    return NULL;
}

static void start(struct waiter *w, osev_ctx *ctx, uint64_t mask,
                  osev_time deadline, int want)
{
    w->ctx = ctx;
    w->typemask = mask;
    w->deadline = deadline;
    w->want = want;
    ck_assert_int_eq(pthread_create(&w->th, NULL, wait_thread, w), 0);
}

static void post(osev_ctx *ctx, unsigned type, uint64_t cookie)
{
    osev_event *ev = osev_event_new(ctx, type, cookie, 0);

    ck_assert_ptr_nonnull(ev);
    osev_event_post(ctx, ev);
}

static void assert_queue_empty(osev_ctx *ctx)
{
    osev_event *ev;

    ck_assert_osev_err(osev_event_check(ctx, OSEV_EVENTMASK_ALL, NULL, NULL,
                                        &ev),
                       -EAGAIN);
}

/* An event handed to a waiter is that waiter's alone: it is not queued
 * as well, so nothing is left for osev_event_check() afterwards.  (The
 * waiter keeps the event until the check is done.) */
struct one_waiter {
    osev_ctx *ctx;
    pid_t tid;
    int result;
    osev_event *ev;
};

static void *wait_one(void *arg)
{
    struct one_waiter *o = arg;

    __atomic_store_n(&o->tid, tu_gettid(), __ATOMIC_SEQ_CST);
    o->result = osev_event_wait(o->ctx, OSEV_EVENTMASK_ALL, NULL, NULL,
                                osev_now() + BOUND, &o->ev);
    return NULL;
}

START_TEST(handed_event_is_not_also_queued)
{
    osev_ctx *ctx = tu_ctx_new();
    struct one_waiter o = { .ctx = ctx };
    osev_time deadline = osev_now() + BOUND;
    pthread_t th;

    ck_assert_int_eq(pthread_create(&th, NULL, wait_one, &o), 0);
    while (!__atomic_load_n(&o.tid, __ATOMIC_SEQ_CST) && osev_now() < deadline)
        sched_yield();
    tu_wait_until_polling(o.tid, deadline);
    post(ctx, 3, 33);
    pthread_join(th, NULL);
    ck_assert_osev_ok(o.result);
    ck_assert_uint_eq(o.ev->for_user, 33);
    assert_queue_empty(ctx);
    osev_event_free(ctx, o.ev);
    osev_ctx_free(ctx);
}
END_TEST

START_TEST(disjoint_typemasks)
{
    osev_ctx *ctx = tu_ctx_new();
    struct waiter a = { 0 }, b = { 0 };
    osev_time deadline = osev_now() + BOUND;

    start(&a, ctx, UINT64_C(1) << 1, deadline, 1);
    start(&b, ctx, UINT64_C(1) << 2, deadline, 1);
    post(ctx, 2, 20);
    post(ctx, 1, 10);
    pthread_join(a.th, NULL);
    pthread_join(b.th, NULL);
    ck_assert_osev_ok(a.result);
    ck_assert_osev_ok(b.result);
    ck_assert_uint_eq(a.cookies[0], 10);
    ck_assert_uint_eq(b.cookies[0], 20);
    assert_queue_empty(ctx);
    osev_ctx_free(ctx);
}
END_TEST

START_TEST(disjoint_predicates_exactly_once_in_order)
{
    osev_ctx *ctx = tu_ctx_new();
    struct waiter *w = calloc(NWAITERS, sizeof *w);
    osev_time deadline = osev_now() + BOUND;

    ck_assert_ptr_nonnull(w);
    for (unsigned i = 0; i < NWAITERS; i++) {
        w[i].index = i;
        w[i].use_pred = true;
        start(&w[i], ctx, UINT64_C(1) << 3, deadline, PER_WAITER);
    }
    for (uint64_t c = 0; c < NWAITERS * PER_WAITER; c++)
        post(ctx, 3, c);
    for (unsigned i = 0; i < NWAITERS; i++) {
        pthread_join(w[i].th, NULL);
        ck_assert_osev_ok(w[i].result);
        ck_assert_int_eq(w[i].got, PER_WAITER);
        /* exactly its own events, each once, in posting order */
        for (int k = 0; k < PER_WAITER; k++)
            ck_assert_uint_eq(w[i].cookies[k], (uint64_t)k * NWAITERS + i);
    }
    assert_queue_empty(ctx);
    free(w);
    osev_ctx_free(ctx);
}
END_TEST

START_TEST(deadline_leaves_cleanly)
{
    osev_ctx *ctx = tu_ctx_new();
    struct waiter early = { 0 }, late = { 0 };
    osev_time now = osev_now();

    start(&early, ctx, UINT64_C(1) << 1, now + osev_ms(50), 1);
    start(&late, ctx, UINT64_C(1) << 2, now + BOUND, 1);
    pthread_join(early.th, NULL);
    ck_assert_osev_err(early.result, -ETIMEDOUT);
    ck_assert_int_ge(osev_now(), now + osev_ms(50));
    post(ctx, 1, 11); /* nobody waits for it any more: queued */
    post(ctx, 2, 22);
    pthread_join(late.th, NULL);
    ck_assert_osev_ok(late.result);
    ck_assert_uint_eq(late.cookies[0], 22);
    ck_assert_int_eq(early.got, 0);
    {
        osev_event *ev;
        ck_assert_osev_ok(osev_event_check(ctx, UINT64_C(1) << 1, NULL,
                                           NULL, &ev));
        ck_assert_uint_eq(ev->for_user, 11);
        osev_event_free(ctx, ev);
    }
    osev_ctx_free(ctx);
}
END_TEST

static void post_two(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now;
    post(arg, 2, 222);
}

/* The waiter running the loop leaves at its deadline; the one asleep
 * must take over, or the timer that makes its event never runs. */
START_TEST(another_waiter_takes_over_the_loop)
{
    osev_ctx *ctx = tu_ctx_new();
    struct waiter first = { 0 }, second = { 0 };
    osev_time now = osev_now();
    osev_timer *t;

    ck_assert_osev_ok(osev_timer_add(ctx, now + osev_ms(150), post_two, ctx,
                                     &t));
    start(&first, ctx, UINT64_C(1) << 1, now + osev_ms(30), 1);
    start(&second, ctx, UINT64_C(1) << 2, now + BOUND, 1);
    pthread_join(first.th, NULL);
    ck_assert_osev_err(first.result, -ETIMEDOUT);
    pthread_join(second.th, NULL);
    ck_assert_osev_ok(second.result);
    ck_assert_uint_eq(second.cookies[0], 222);
    ck_assert_int_lt(osev_now(), now + BOUND);
    osev_ctx_free(ctx);
}
END_TEST

static void post_to_other(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now;
    post(arg, 5, 55);
}

/* Whoever polls, an event made by a callback of its pass reaches the
 * waiter it is for, and the poller keeps waiting for its own. */
START_TEST(event_made_in_a_pass_reaches_a_sleeper)
{
    osev_ctx *ctx = tu_ctx_new();
    struct waiter a = { 0 }, b = { 0 };
    osev_time now = osev_now();
    osev_timer *t;

    ck_assert_osev_ok(osev_timer_add(ctx, now + osev_ms(20), post_to_other,
                                     ctx, &t));
    start(&a, ctx, UINT64_C(1) << 4, now + BOUND, 1);
    start(&b, ctx, UINT64_C(1) << 5, now + BOUND, 1);
    pthread_join(b.th, NULL);
    ck_assert_osev_ok(b.result);
    ck_assert_uint_eq(b.cookies[0], 55);
    post(ctx, 4, 44);
    pthread_join(a.th, NULL);
    ck_assert_osev_ok(a.result);
    ck_assert_uint_eq(a.cookies[0], 44);
    osev_ctx_free(ctx);
}
END_TEST

static Suite *waiters_suite(void)
{
    Suite *s = suite_create("waiters");
    TCase *tc = tcase_create("waiters");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, handed_event_is_not_also_queued);
    tcase_add_test(tc, disjoint_typemasks);
    tcase_add_test(tc, disjoint_predicates_exactly_once_in_order);
    tcase_add_test(tc, deadline_leaves_cleanly);
    tcase_add_test(tc, another_waiter_takes_over_the_loop);
    tcase_add_test(tc, event_made_in_a_pass_reaches_a_sleeper);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(waiters_suite());
}
