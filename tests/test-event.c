/*
 * test-event.c - typed events: every sentence of the header's "Events"
 * section.
 */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void post(osev_ctx *ctx, unsigned type, uint64_t for_user)
{
    osev_event *ev = osev_event_new(ctx, type, for_user, 0);

    ck_assert_ptr_nonnull(ev);
    osev_event_post(ctx, ev);
}

/* Take one event matching @mask and return its cookie (or -1). */
static int64_t take(osev_ctx *ctx, uint64_t mask)
{
    osev_event *ev;
    int64_t cookie;

    if (osev_event_check(ctx, mask, NULL, NULL, &ev) < 0)
        return -1;
    cookie = (int64_t)ev->for_user;
    osev_event_free(ctx, ev);
    return cookie;
}

#define BIT(t) (UINT64_C(1) << (t))

START_TEST(new_zeroes_payload_and_checks_type)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_event *ev = osev_event_new(ctx, 63, 7, 100), *none;

    ck_assert_ptr_nonnull(ev);
    ck_assert_uint_eq(ev->type, 63);
    ck_assert_uint_eq(ev->for_user, 7);
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(((unsigned char *)ev->data)[i], 0);
    ck_assert_uint_eq((uintptr_t)ev->data % _Alignof(max_align_t), 0);
    osev_event_free(ctx, ev);
    ev = osev_event_new(ctx, 0, 0, 0);
    ck_assert_ptr_null(ev->data);
    osev_event_free(ctx, ev);
    errno = 0;
    none = osev_event_new(ctx, 64, 0, 0);
    ck_assert_ptr_null(none);
    ck_assert_int_eq(errno, EINVAL);
    osev_ctx_free(ctx);
}
END_TEST

START_TEST(typemask_fifo)
{
    osev_ctx *ctx = tu_ctx_new();

    post(ctx, 1, 10);
    post(ctx, 2, 20);
    post(ctx, 1, 11);
    post(ctx, 3, 30);
    post(ctx, 1, 12);
    ck_assert_int_eq(take(ctx, BIT(1)), 10);
    ck_assert_int_eq(take(ctx, BIT(1)), 11);
    ck_assert_int_eq(take(ctx, BIT(1)), 12);
    ck_assert_int_eq(take(ctx, BIT(1)), -1);
    /* FIFO across types within a mask */
    post(ctx, 2, 21);
    ck_assert_int_eq(take(ctx, BIT(2) | BIT(3)), 20);
    ck_assert_int_eq(take(ctx, BIT(2) | BIT(3)), 30);
    ck_assert_int_eq(take(ctx, OSEV_EVENTMASK_ALL), 21);
    {
        osev_event *ev;
        ck_assert_osev_err(osev_event_check(ctx, OSEV_EVENTMASK_ALL, NULL,
                                            NULL, &ev),
                           -EAGAIN);
    }
    osev_ctx_free(ctx);
}
END_TEST

START_TEST(other_types_do_not_get_in_the_way)
{
    osev_ctx *ctx = tu_ctx_new();

    for (int i = 0; i < 100000; i++)
        post(ctx, 5, (uint64_t)i);
    post(ctx, 7, 777);
    ck_assert_int_eq(take(ctx, BIT(7)), 777);
    ck_assert_int_eq(take(ctx, BIT(7)), -1);
    ck_assert_int_eq(take(ctx, BIT(5)), 0);
    osev_ctx_free(ctx); /* frees the 99999 still queued */
}
END_TEST

static unsigned pred_seen_types;

static int cookie_is_odd(const osev_event *ev, void *user)
{
    (void)user;
    pred_seen_types |= 1u << ev->type;
    return (int)(ev->for_user & 1);
}

START_TEST(predicate_filters_in_fifo_order)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_event *ev;

    post(ctx, 1, 2);
    post(ctx, 2, 3); /* type outside the mask: the predicate never sees it */
    post(ctx, 1, 5);
    post(ctx, 1, 4);
    post(ctx, 1, 7);
    pred_seen_types = 0;
    ck_assert_osev_ok(osev_event_check(ctx, BIT(1), cookie_is_odd, NULL, &ev));
    ck_assert_uint_eq(ev->for_user, 5);
    osev_event_free(ctx, ev);
    ck_assert_osev_ok(osev_event_check(ctx, BIT(1), cookie_is_odd, NULL, &ev));
    ck_assert_uint_eq(ev->for_user, 7);
    osev_event_free(ctx, ev);
    ck_assert_osev_err(osev_event_check(ctx, BIT(1), cookie_is_odd, NULL, &ev),
                       -EAGAIN);
    ck_assert_uint_eq(pred_seen_types, 1u << 1);
    /* what the predicate refused is still there, in order */
    ck_assert_int_eq(take(ctx, BIT(1)), 2);
    ck_assert_int_eq(take(ctx, BIT(1)), 4);
    ck_assert_int_eq(take(ctx, BIT(2)), 3);
    osev_ctx_free(ctx);
}
END_TEST

/* ---- event_occurs ---- */

struct occurs {
    osev_ctx *ctx;
    int calls;
    uint64_t seen[16];
    bool in_post; /* set around osev_event_post */
    bool reenter;
};

static void on_occurs(void *user, osev_event *ev)
{
    struct occurs *o = user;

    ck_assert(!o->in_post); /* never from inside osev_event_post */
    ck_assert_int_lt(o->calls, 16);
    o->seen[o->calls++] = ev->for_user;
    if (o->reenter) { /* calling the library from event_occurs is allowed */
        osev_event *mine;
        post(o->ctx, 5, 333);
        ck_assert_osev_ok(osev_event_check(o->ctx, BIT(5), NULL, NULL, &mine));
        ck_assert_uint_eq(mine->for_user, 333);
        osev_event_free(o->ctx, mine);
    }
    osev_event_free(o->ctx, ev); /* the application's now */
}

START_TEST(occurs_exactly_once_never_in_post)
{
    osev_ctx *ctx = tu_ctx_new();
    struct occurs o = { .ctx = ctx, .reenter = true };
    struct osev_event_hooks h = { .event_occurs_mask = BIT(2),
                                  .event_occurs = on_occurs };
    struct pollfd fds[4];
    int n = 4, timeout = -1;

    ck_assert_osev_ok(osev_event_set_hooks(ctx, &h, sizeof h, &o));
    o.in_post = true;
    post(ctx, 2, 21);
    post(ctx, 3, 31);
    post(ctx, 2, 22);
    o.in_post = false;
    ck_assert_int_eq(o.calls, 0);
    /* a pending delivery makes beforepoll give timeout 0 */
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_int_eq(timeout, 0);
    ck_assert_int_eq(take(ctx, BIT(2)), -1); /* never to check */
    ck_assert_int_eq(osev_dispatch(ctx), 2);
    ck_assert_int_eq(o.calls, 2);
    ck_assert_uint_eq(o.seen[0], 21);
    ck_assert_uint_eq(o.seen[1], 22);
    ck_assert_int_eq(osev_dispatch(ctx), 0); /* once only */
    ck_assert_int_eq(o.calls, 2);
    ck_assert_int_eq(take(ctx, OSEV_EVENTMASK_ALL), 31);
    ck_assert_int_eq(take(ctx, OSEV_EVENTMASK_ALL), -1);
    osev_ctx_free(ctx);
}
END_TEST

/* An event posted during a pass, by a callback or by event_occurs
 * itself, reaches event_occurs in the next pass, never in the running
 * one: a hook that posts again cannot starve the loop. */
static void occurs_posts_again(void *user, osev_event *ev)
{
    struct occurs *o = user;

    ck_assert_int_lt(o->calls, 16);
    o->seen[o->calls++] = ev->for_user;
    if (ev->for_user < 3)
        post(o->ctx, 2, ev->for_user + 1);
    osev_event_free(o->ctx, ev);
}

static void post_from_defer(osev_ctx *ctx, void *arg)
{
    (void)arg;
    post(ctx, 2, 1);
}

START_TEST(occurs_for_a_post_in_a_pass_comes_next_pass)
{
    osev_ctx *ctx = tu_ctx_new();
    struct occurs o = { .ctx = ctx };
    struct osev_event_hooks h = { .event_occurs_mask = BIT(2),
                                  .event_occurs = occurs_posts_again };

    ck_assert_osev_ok(osev_event_set_hooks(ctx, &h, sizeof h, &o));
    ck_assert_osev_ok(osev_defer(ctx, post_from_defer, NULL));
    ck_assert_int_eq(osev_dispatch(ctx), 1); /* the deferred call only */
    ck_assert_int_eq(o.calls, 0);
    for (int pass = 1; pass <= 3; pass++) {
        ck_assert_int_eq(osev_dispatch(ctx), 1);
        ck_assert_int_eq(o.calls, pass);
        ck_assert_uint_eq(o.seen[pass - 1], pass);
    }
    ck_assert_int_eq(osev_dispatch(ctx), 0);
    osev_ctx_free(ctx);
}
END_TEST

START_TEST(unhooked_before_delivery_goes_to_queue)
{
    osev_ctx *ctx = tu_ctx_new();
    struct occurs o = { .ctx = ctx };
    struct osev_event_hooks h = { .event_occurs_mask = BIT(2),
                                  .event_occurs = on_occurs };

    ck_assert_osev_ok(osev_event_set_hooks(ctx, &h, sizeof h, &o));
    post(ctx, 2, 1);
    ck_assert_osev_ok(osev_event_set_hooks(ctx, NULL, 0, NULL));
    ck_assert_int_eq(osev_dispatch(ctx), 0);
    ck_assert_int_eq(o.calls, 0);
    ck_assert_int_eq(take(ctx, BIT(2)), 1); /* not lost */
    osev_ctx_free(ctx);
}
END_TEST

/*
 * The hook stays but its mask no longer has the type: an event posted
 * before the narrowing goes to check/wait, once, and never also to
 * event_occurs; the same when the hooks are cleared with NULL.
 */
START_TEST(narrowed_mask_before_delivery_goes_to_queue_once)
{
    osev_ctx *ctx = tu_ctx_new();
    struct occurs o = { .ctx = ctx };
    struct osev_event_hooks h = { .event_occurs_mask = BIT(2) | BIT(3),
                                  .event_occurs = on_occurs };
    osev_event *ev;

    ck_assert_osev_ok(osev_event_set_hooks(ctx, &h, sizeof h, &o));
    post(ctx, 2, 21);
    post(ctx, 2, 22);
    post(ctx, 3, 31);
    h.event_occurs_mask = BIT(3); /* type 2 no longer hooked */
    ck_assert_osev_ok(osev_event_set_hooks(ctx, &h, sizeof h, &o));
    ck_assert_int_eq(osev_dispatch(ctx), 1); /* type 3 only */
    ck_assert_int_eq(o.calls, 1);
    ck_assert_uint_eq(o.seen[0], 31);
    ck_assert_int_eq(take(ctx, BIT(2)), 21);
    ck_assert_osev_ok(osev_event_wait(ctx, BIT(2), NULL, NULL, 0, &ev));
    ck_assert_uint_eq(ev->for_user, 22);
    osev_event_free(ctx, ev);
    ck_assert_int_eq(take(ctx, OSEV_EVENTMASK_ALL), -1);
    ck_assert_int_eq(osev_dispatch(ctx), 0);
    ck_assert_int_eq(o.calls, 1);

    /* one waiting in osev_event_wait gets it from the pass itself */
    h.event_occurs_mask = BIT(2);
    ck_assert_osev_ok(osev_event_set_hooks(ctx, &h, sizeof h, &o));
    post(ctx, 2, 23);
    h.event_occurs_mask = 0;
    ck_assert_osev_ok(osev_event_set_hooks(ctx, &h, sizeof h, &o));
    post(ctx, 3, 32); /* not hooked either now: queued at once */
    ck_assert_osev_ok(osev_event_wait(ctx, BIT(2), NULL, NULL,
                                      osev_now() + osev_s(5), &ev));
    ck_assert_uint_eq(ev->for_user, 23);
    osev_event_free(ctx, ev);
    ck_assert_int_eq(take(ctx, OSEV_EVENTMASK_ALL), 32);

    /* cleared with NULL: the same */
    h.event_occurs_mask = BIT(4);
    ck_assert_osev_ok(osev_event_set_hooks(ctx, &h, sizeof h, &o));
    post(ctx, 4, 41);
    ck_assert_osev_ok(osev_event_set_hooks(ctx, NULL, 0, NULL));
    ck_assert_int_eq(osev_dispatch(ctx), 0);
    ck_assert_int_eq(take(ctx, BIT(4)), 41);
    ck_assert_int_eq(take(ctx, OSEV_EVENTMASK_ALL), -1);
    ck_assert_int_eq(osev_dispatch(ctx), 0);
    ck_assert_int_eq(o.calls, 1);
    osev_ctx_free(ctx);
}
END_TEST

START_TEST(hooks_struct_sizes)
{
    osev_ctx *ctx = tu_ctx_new();
    struct {
        struct osev_event_hooks h;
        uint64_t future;
    } big = { .h = { .event_occurs_mask = 0 } };
    struct occurs o = { .ctx = ctx };
    struct osev_event_hooks h = { .event_occurs_mask = BIT(4),
                                  .event_occurs = on_occurs };

    /* an older caller's shorter struct: the disaster hook is absent */
    ck_assert_osev_ok(osev_event_set_hooks(
        ctx, &h, offsetof(struct osev_event_hooks, disaster), &o));
    post(ctx, 4, 44);
    ck_assert_int_eq(osev_dispatch(ctx), 1);
    ck_assert_int_eq(o.calls, 1);
    /* a newer caller's longer one: unknown bytes must be zero */
    ck_assert_osev_ok(osev_event_set_hooks(ctx, &big.h, sizeof big, &o));
    big.future = 1;
    ck_assert_osev_err(osev_event_set_hooks(ctx, &big.h, sizeof big, &o),
                       -EINVAL);
    ck_assert_osev_err(osev_event_set_hooks(ctx, &h, 4, &o), -EINVAL);
    osev_ctx_free(ctx);
}
END_TEST

/* ---- disaster ---- */

struct disaster {
    int calls;
    unsigned type;
    char msg[64];
    int errnoval;
};

static void on_disaster(void *user, unsigned type, const char *msg,
                        int errnoval)
{
    struct disaster *d = user;

    d->calls++;
    d->type = type;
    snprintf(d->msg, sizeof d->msg, "%s", msg);
    d->errnoval = errnoval;
}

START_TEST(disaster_with_hook)
{
    osev_ctx *ctx = tu_ctx_new();
    struct disaster d = { 0 };
    struct osev_event_hooks h = { .disaster = on_disaster };

    ck_assert_osev_ok(osev_event_set_hooks(ctx, &h, sizeof h, &d));
    osev_disaster(ctx, 9, "queue overflow", ENOSPC);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_uint_eq(d.type, 9);
    ck_assert_str_eq(d.msg, "queue overflow");
    ck_assert_int_eq(d.errnoval, ENOSPC);
    post(ctx, 9, 1); /* the queue goes on working */
    ck_assert_int_eq(take(ctx, BIT(9)), 1);
    osev_ctx_free(ctx);
}
END_TEST

START_TEST(disaster_without_hook_is_loud_and_sticky)
{
    osev_ctx *ctx = tu_ctx_new();
    char path[] = "/tmp/osev-stderr-XXXXXX", buf[512] = { 0 };
    int tmp = mkstemp(path), saved = dup(2);
    osev_event *ev;

    ck_assert_int_ge(tmp, 0);
    unlink(path);
    post(ctx, 1, 1);
    fflush(stderr);
    ck_assert_int_eq(dup2(tmp, 2), 2);
    osev_disaster(ctx, 1, "producer lost its socket", ECONNRESET);
    fflush(stderr);
    ck_assert_int_eq(dup2(saved, 2), 2);
    close(saved);
    ck_assert_int_gt(pread(tmp, buf, sizeof buf - 1, 0), 0);
    close(tmp);
    ck_assert_ptr_nonnull(strstr(buf, "producer lost its socket"));
    /* every later check and wait fails, even with an event queued */
    ck_assert_osev_err(osev_event_check(ctx, OSEV_EVENTMASK_ALL, NULL, NULL,
                                        &ev),
                       -EIO);
    ck_assert_osev_err(osev_event_wait(ctx, OSEV_EVENTMASK_ALL, NULL, NULL,
                                       OSEV_TIME_INFINITY, &ev),
                       -EIO);
    ck_assert_osev_err(osev_event_check(ctx, OSEV_EVENTMASK_ALL, NULL, NULL,
                                        &ev),
                       -EIO);
    osev_ctx_free(ctx);
}
END_TEST

/* ---- wait ---- */

static void post_from_timer(osev_timer *t, osev_time now, void *arg)
{
    osev_ctx *ctx = arg;

    (void)t, (void)now;
    post(ctx, 6, 66);
}

START_TEST(wait_returns_queued_event_at_once)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_event *ev;

    post(ctx, 1, 1);
    ck_assert_osev_ok(osev_event_wait(ctx, BIT(1), NULL, NULL,
                                      OSEV_TIME_INFINITY, &ev));
    ck_assert_uint_eq(ev->for_user, 1);
    osev_event_free(ctx, ev);
    /* deadline 0 is a check */
    ck_assert_osev_err(osev_event_wait(ctx, BIT(1), NULL, NULL, 0, &ev),
                       -ETIMEDOUT);
    osev_ctx_free(ctx);
}
END_TEST

START_TEST(wait_deadline)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_time deadline = osev_now() + osev_ms(50);
    osev_event *ev;

    ck_assert_osev_err(osev_event_wait(ctx, OSEV_EVENTMASK_ALL, NULL, NULL,
                                       deadline, &ev),
                       -ETIMEDOUT);
    ck_assert_int_ge(osev_now(), deadline);            /* not early */
    ck_assert_int_lt(osev_now(), deadline + osev_s(5)); /* and bounded */
    osev_ctx_free(ctx);
}
END_TEST

START_TEST(wait_serves_timers_meanwhile)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_timer *t;
    osev_event *ev;

    ck_assert_osev_ok(osev_timer_add(ctx, osev_now() + osev_ms(20),
                                     post_from_timer, ctx, &t));
    ck_assert_osev_ok(osev_event_wait(ctx, BIT(6), NULL, NULL,
                                      osev_now() + osev_s(5), &ev));
    ck_assert_uint_eq(ev->for_user, 66);
    osev_event_free(ctx, ev);
    osev_ctx_free(ctx);
}
END_TEST

static void post_on_read(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)revents;
    tu_drain(fd);
    post(arg, 8, 88);
}

START_TEST(wait_serves_fds_meanwhile)
{
    osev_ctx *ctx = tu_ctx_new();
    int p[2];
    osev_fd *w;
    osev_event *ev;

    tu_pipe(p);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, post_on_read, ctx, &w));
    tu_write_byte(p[1]);
    post(ctx, 1, 1); /* not what the wait wants */
    ck_assert_osev_ok(osev_event_wait(ctx, BIT(8), NULL, NULL,
                                      osev_now() + osev_s(5), &ev));
    ck_assert_uint_eq(ev->for_user, 88);
    osev_event_free(ctx, ev);
    ck_assert_int_eq(take(ctx, BIT(1)), 1);
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]);
}
END_TEST

static int wait_result;

static void wait_from_callback(osev_timer *t, osev_time now, void *arg)
{
    osev_event *ev;

    (void)t, (void)now;
    post(arg, 1, 1);
    wait_result = osev_event_wait(arg, BIT(1), NULL, NULL, 0, &ev);
}

START_TEST(wait_from_callback_is_busy)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_timer *t;

    ck_assert_osev_ok(osev_timer_add(ctx, 0, wait_from_callback, ctx, &t));
    ck_assert_int_eq(osev_dispatch(ctx), 1);
    ck_assert_osev_err(wait_result, -EBUSY);
    ck_assert_int_eq(take(ctx, BIT(1)), 1);
    osev_ctx_free(ctx);
}
END_TEST

START_TEST(contexts_do_not_share_events)
{
    osev_ctx *a = tu_ctx_new(), *b = tu_ctx_new();

    post(a, 1, 1);
    ck_assert_int_eq(take(b, OSEV_EVENTMASK_ALL), -1);
    ck_assert_int_eq(take(a, OSEV_EVENTMASK_ALL), 1);
    osev_ctx_free(a);
    osev_ctx_free(b);
}
END_TEST

static void occurs_ignore(void *u, osev_event *ev)
{
    (void)u, (void)ev;
    ck_abort_msg("an unhooked type reached event_occurs");
}

static int any_event(const osev_event *ev, void *u)
{
    (void)ev, (void)u;
    return 1;
}

/*
 * "The oldest" is by post order, with or without a predicate: an event
 * that waited for event_occurs and whose type was then unhooked reaches
 * the queue behind a newer one, and is still taken first.
 */
START_TEST(oldest_is_by_post_order_after_unhooking)
{
    struct osev_event_hooks h = { .event_occurs_mask = UINT64_C(1) << 3,
                                  .event_occurs = occurs_ignore };
    osev_ctx *ctx = tu_ctx_new();
    osev_event *ev;

    ck_assert_osev_ok(osev_event_set_hooks(ctx, &h, sizeof h, NULL));
    osev_event_post(ctx, osev_event_new(ctx, 3, 1, 0)); /* for occurs */
    ck_assert_osev_ok(osev_event_set_hooks(ctx, NULL, 0, NULL));
    osev_event_post(ctx, osev_event_new(ctx, 3, 2, 0)); /* queued now */
    osev_event_post(ctx, osev_event_new(ctx, 4, 3, 0)); /* queued now */
    ck_assert_int_ge(osev_dispatch(ctx), 0);           /* 1 joins late */
    for (uint64_t want = 1; want <= 3; want++) {
        ck_assert_osev_ok(osev_event_check(ctx, UINT64_C(3) << 3,
                                           _i ? any_event : NULL, NULL,
                                           &ev));
        ck_assert_uint_eq(ev->for_user, want);
        osev_event_free(ctx, ev);
    }
    osev_ctx_free(ctx);
}
END_TEST

static Suite *event_suite(void)
{
    Suite *s = suite_create("event");
    TCase *queue = tcase_create("queue");
    TCase *hooks = tcase_create("hooks");
    TCase *wait = tcase_create("wait");

    tcase_add_test(queue, new_zeroes_payload_and_checks_type);
    tcase_add_test(queue, typemask_fifo);
    tcase_add_test(queue, other_types_do_not_get_in_the_way);
    tcase_add_test(queue, predicate_filters_in_fifo_order);
    tcase_add_test(queue, contexts_do_not_share_events);
    tcase_add_test(hooks, occurs_exactly_once_never_in_post);
    tcase_add_test(hooks, unhooked_before_delivery_goes_to_queue);
    tcase_add_test(hooks, narrowed_mask_before_delivery_goes_to_queue_once);
    tcase_add_test(hooks, occurs_for_a_post_in_a_pass_comes_next_pass);
    tcase_add_test(hooks, hooks_struct_sizes);
    tcase_add_test(hooks, disaster_with_hook);
    tcase_add_test(hooks, disaster_without_hook_is_loud_and_sticky);
    tcase_add_test(wait, wait_returns_queued_event_at_once);
    tcase_add_loop_test(wait, oldest_is_by_post_order_after_unhooking, 0, 2);
    tcase_add_test(wait, wait_deadline);
    tcase_add_test(wait, wait_serves_timers_meanwhile);
    tcase_add_test(wait, wait_serves_fds_meanwhile);
    tcase_add_test(wait, wait_from_callback_is_busy);
    tcase_set_timeout(queue, 30);
    suite_add_tcase(s, queue);
    suite_add_tcase(s, hooks);
    suite_add_tcase(s, wait);
    return s;
}

int main(void)
{
    return tu_run_suite(event_suite());
}
