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

#include <talloc.h>
#include <tevent.h>

#include "osevent-tevent.h"

struct held {
    int fds, timers;
};

/* Attached minus detached, by one trace callback's point. */
static void count_trace(int *n, enum tevent_event_trace_point p)
{
    if (p == TEVENT_EVENT_TRACE_ATTACH)
        ++*n;
    else if (p == TEVENT_EVENT_TRACE_DETACH)
        --*n;
}

static void trace_fd(struct tevent_fd *fde, enum tevent_event_trace_point p,
                     void *arg)
{
    (void)fde;
    count_trace(&((struct held *)arg)->fds, p);
}

/* tevent_update_timer() traces a detach and an attach: the sum holds. */
static void trace_timer(struct tevent_timer *te,
                        enum tevent_event_trace_point p, void *arg)
{
    (void)te;
    count_trace(&((struct held *)arg)->timers, p);
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

/* tevent_loop_wait() returns 0 once no event is left. */
static void tev_run_until_done(void *loop)
{
    ck_assert_int_eq(tevent_loop_wait(loop), 0);
}

/* Nothing to call: tevent notices the new process itself (the epoll
 * backend makes a set of its own on its next call). */
static void tev_child_reinit(void *loop)
{
    (void)loop;
}

/* The poll backend; main() makes the epoll one from it. */
static const struct scenario_loop tevent_poll_loop = {
    .name = "tevent-poll",
    .loop_new = tev_loop_new_poll,
    .loop_free = tev_loop_free,
    .attach = tev_attach,
    .detach = osev_tevent_detach,
    .iterate = tev_iterate,
    .foreign_count = tev_foreign_count,
    .is_empty = tev_is_empty,
    .child_reinit = tev_child_reinit,
    .refuses_pollpri = true, /* TEVENT_FD_READ is POLLIN|POLLHUP */
    .run_until_done = tev_run_until_done,
    /* No native_hold: the adapter takes an unreferenced registration out
     * of tevent, which can poll nothing without being kept running by it
     * (see tevent.c); a call scheduled from another thread then does not
     * reach a loop that runs for others. */
    .unref_uncounted = true, /* an unreferenced fde is freed */
};

int main(void)
{
    struct scenario_loop epoll_loop = tevent_poll_loop;
    int poll_rc, epoll_rc;

    epoll_loop.name = "tevent-epoll";
    epoll_loop.loop_new = tev_loop_new_epoll;
    poll_rc = scenario_main(&tevent_poll_loop);
    epoll_rc = scenario_main(&epoll_loop);

    return poll_rc != EXIT_SUCCESS || epoll_rc != EXIT_SUCCESS ? EXIT_FAILURE
                                                               : EXIT_SUCCESS;
}
