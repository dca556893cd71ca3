/*
 * test-tevent.c - the push scenario inside a real tevent context, once
 * with tevent's "poll" backend and once with "epoll" (they differ in how
 * they hold fds and dispatch them).
 *
 * tevent counts nothing publicly, but it traces: every tevent_fd and
 * tevent_timer is reported when attached to the context and when
 * detached from it (freed, or run and freed, for a timer).  The test
 * installs those trace callbacks on a context it made for itself, so
 * attached minus detached is exactly what the context holds, by tevent's
 * own account, and nothing in it is anyone's but ours.
 */
#include "scenario.h"

#include <stdlib.h>
#include <unistd.h>

#include <talloc.h>
#include <tevent.h>

#include "osevent-tevent.h"

struct held {
    int fds, timers;
};

static void trace_fd(struct tevent_fd *fde, enum tevent_event_trace_point p,
                     void *arg)
{
    struct held *h = arg;

    (void)fde;
    if (p == TEVENT_EVENT_TRACE_ATTACH)
        h->fds++;
    else if (p == TEVENT_EVENT_TRACE_DETACH)
        h->fds--;
}

/* tevent_update_timer() traces a detach and an attach: the sum holds. */
static void trace_timer(struct tevent_timer *te,
                        enum tevent_event_trace_point p, void *arg)
{
    struct held *h = arg;

    (void)te;
    if (p == TEVENT_EVENT_TRACE_ATTACH)
        h->timers++;
    else if (p == TEVENT_EVENT_TRACE_DETACH)
        h->timers--;
}

static struct held *held(void *loop)
{
    tevent_trace_fd_callback_t cb;
    struct held *h = NULL;

    tevent_get_trace_fd_callback(loop, &cb, &h);
    ck_assert_ptr_eq(cb, trace_fd);
    ck_assert_ptr_nonnull(h);
    return h;
}

static void *tev_loop_new_named(const char *backend)
{
    struct tevent_context *ev = tevent_context_init_byname(NULL, backend);
    struct held *h;

    ck_assert_ptr_nonnull(ev);
    h = talloc_zero(ev, struct held);
    ck_assert_ptr_nonnull(h);
    tevent_set_trace_fd_callback(ev, trace_fd, h);
    tevent_set_trace_timer_callback(ev, trace_timer, h);
    return ev;
}

static void *tev_loop_new_poll(void)
{
    return tev_loop_new_named("poll");
}

static void *tev_loop_new_epoll(void)
{
    return tev_loop_new_named("epoll");
}

static void tev_loop_free(void *loop)
{
    talloc_free(loop);
}

static int tev_attach(osev_ctx *ctx, void *loop)
{
    return osev_tevent_attach(ctx, loop);
}

/* One blocking turn: tevent runs one timer or one fd handler per turn. */
static void tev_iterate(void *loop)
{
    ck_assert_int_eq(tevent_loop_once(loop), 0);
}

static int tev_foreign_count(void *loop)
{
    struct held *h = held(loop);

    return h->fds + h->timers;
}

static bool tev_is_empty(void *loop)
{
    struct held *h = held(loop);

    return h->fds == 0 && h->timers == 0;
}

static const struct scenario_loop tevent_poll_loop = {
    .name = "tevent-poll",
    .loop_new = tev_loop_new_poll,
    .loop_free = tev_loop_free,
    .attach = tev_attach,
    .detach = osev_tevent_detach,
    .iterate = tev_iterate,
    .foreign_count = tev_foreign_count,
    .is_empty = tev_is_empty,
};

static const struct scenario_loop tevent_epoll_loop = {
    .name = "tevent-epoll",
    .loop_new = tev_loop_new_epoll,
    .loop_free = tev_loop_free,
    .attach = tev_attach,
    .detach = osev_tevent_detach,
    .iterate = tev_iterate,
    .foreign_count = tev_foreign_count,
    .is_empty = tev_is_empty,
};

static void nop_cb(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)fd, (void)revents, (void)arg;
}

/* tevent cannot watch POLLPRI: refused at add (the registry unchanged)
 * and at attach (all or none), never watched as something else. */
START_TEST(pollpri_refused)
{
    void *loop = tev_loop_new_poll();
    osev_ctx *ctx = tu_ctx_new();
    osev_fd *w;
    int p[2];

    tu_pipe(p);
    ck_assert_osev_ok(osev_tevent_attach(ctx, loop));
    ck_assert_int_eq(tev_foreign_count(loop), 1); /* the wakeup fd */
    ck_assert_osev_err(osev_fd_add(ctx, p[0], POLLIN | POLLPRI, nop_cb, NULL,
                                   &w),
                       -EINVAL);
    ck_assert_int_eq(tev_foreign_count(loop), 1);
    osev_tevent_detach(ctx);
    ck_assert(tev_is_empty(loop));

    /* Pull mode takes it; attaching then fails and registers nothing. */
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLPRI, nop_cb, NULL, &w));
    ck_assert_osev_err(osev_tevent_attach(ctx, loop), -EINVAL);
    ck_assert(tev_is_empty(loop));
    osev_fd_remove(w);
    ck_assert_osev_ok(osev_tevent_attach(ctx, loop));
    osev_ctx_free(ctx);
    ck_assert(tev_is_empty(loop));
    tev_loop_free(loop);
    close(p[0]), close(p[1]);
}
END_TEST

static int extra_main(void)
{
    Suite *s = suite_create("tevent");
    TCase *tc = tcase_create("tevent-only");

    tcase_add_test(tc, pollpri_refused);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}

int main(void)
{
    int poll_rc = scenario_main(&tevent_poll_loop);
    int epoll_rc = scenario_main(&tevent_epoll_loop);
    int extra_rc = extra_main();

    return poll_rc != EXIT_SUCCESS || epoll_rc != EXIT_SUCCESS ||
                   extra_rc != EXIT_SUCCESS
               ? EXIT_FAILURE
               : EXIT_SUCCESS;
}
