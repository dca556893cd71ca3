/*
 * test-inject-tevent.c - allocation failure inside a tevent context,
 * with tevent's poll and epoll backends (tests/adapters/inject.c): every
 * allocation of attach and of the registrations made while attached
 * fails in turn.
 *
 * talloc returns NULL when malloc does, and tevent passes it on: their
 * allocations fail too.
 */
#include "inject.h"

#include <stdlib.h>

#include <talloc.h>
#include <tevent.h>

#include "osevent-tevent.h"

struct held {
    int fds, timers;
};

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

static void trace_timer(struct tevent_timer *te,
                        enum tevent_event_trace_point p, void *arg)
{
    (void)te;
    count_trace(&((struct held *)arg)->timers, p);
}

static void *tev_new_named(const char *backend)
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

static void *tev_new_poll(void)
{
    return tev_new_named("poll");
}

static void *tev_new_epoll(void)
{
    return tev_new_named("epoll");
}

static void tev_free(void *loop)
{
    talloc_free(loop);
}

static int tev_attach(osev_ctx *ctx, void *loop)
{
    return osev_tevent_attach(ctx, loop);
}

static int tev_iterate(void *loop)
{
    return tevent_loop_once(loop) == 0 ? 0 : -1;
}

static bool tev_empty(void *loop)
{
    tevent_trace_fd_callback_t cb;
    struct held *h = NULL;

    tevent_get_trace_fd_callback(loop, &cb, &h);
    ck_assert_ptr_nonnull(h);
    return h->fds == 0 && h->timers == 0;
}

/* talloc returns NULL when malloc does, and tevent passes it on. */
static const char *const tev_may_fail[] = { "libtalloc.", "libtevent.",
                                              NULL };

int main(void)
{
    static const struct inject_loop poll_loop = {
        .name = "tevent-poll",
        .loop_new = tev_new_poll,
        .loop_free = tev_free,
        .attach = tev_attach,
        .detach = osev_tevent_detach,
        .iterate = tev_iterate,
        .is_empty = tev_empty,
        .may_fail = tev_may_fail,
    };
    struct inject_loop epoll_loop = poll_loop;
    int poll_rc, epoll_rc;

    epoll_loop.name = "tevent-epoll";
    epoll_loop.loop_new = tev_new_epoll;
    poll_rc = inject_main(&poll_loop);
    epoll_rc = inject_main(&epoll_loop);
    return poll_rc != EXIT_SUCCESS ? poll_rc : epoll_rc;
}
