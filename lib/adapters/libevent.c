/*
 * libevent.c - a libevent event_base drives an osevent context.
 *
 * SPDX-License-Identifier: MIT
 *
 * Each fd registration is one persistent struct event, each context's
 * timeout one timer event (one-shot, as the contract wants: once it fired
 * libevent holds it no more, and osevent re-arms or deregisters it).
 */
#include "adapter.h"

#include <event2/event.h>

#include "osevent-libevent.h"

/* The registration's event: ours, made with event_new(). */
struct lev_reg {
    struct event *ev;
};

static struct lev_reg *lev(struct osev__areg *r)
{
    return (struct lev_reg *)r->priv;
}

/*
 * libevent returns a bare -1; where the cause was a system call errno
 * still tells it (epoll_ctl's EPERM for a regular file...).  The caller
 * clears errno first, so a stale value is not taken for the cause.
 */
static int lev_error(void)
{
    return errno > 0 ? -errno : -EIO;
}

/* POLLPRI has no libevent counterpart (no EV_PRI).  Watching it as
 * EV_READ would be wrong both ways: a socket with only urgent data is
 * not readable, so the watch would never fire, and a sysfs attribute is
 * always readable, so it would fire on every turn.  Refused instead. */
static int lev_flags(short events, short *flags_out)
{
    if (events & POLLPRI)
        return -EINVAL;
    *flags_out = (short)(EV_PERSIST | (events & POLLIN ? EV_READ : 0) |
                         (events & POLLOUT ? EV_WRITE : 0));
    return 0;
}

static void on_fd(evutil_socket_t fd, short what, void *arg)
{
    short revents = (short)((what & EV_READ ? POLLIN : 0) |
                            (what & EV_WRITE ? POLLOUT : 0));

    (void)fd;
    /* May free the event and r: nothing touches them afterwards. */
    osev__areg_fd_ready(arg, revents);
}

/* A new event for r's fd with @events, added; NULL and *err on failure. */
static struct event *lev_fd_event(struct osev__areg *r, short events,
                                  int *err)
{
    struct event *ev;
    short flags;

    *err = lev_flags(events, &flags);
    if (*err < 0)
        return NULL;
    ev = event_new(r->ad->loop, r->fd, flags, on_fd, r);
    if (!ev) {
        *err = -ENOMEM;
        return NULL;
    }
    errno = 0;
    if (event_add(ev, NULL) < 0) {
        *err = lev_error();
        event_free(ev);
        return NULL;
    }
    return ev;
}

static int lev_fd_start(struct osev__areg *r)
{
    int err;

    lev(r)->ev = lev_fd_event(r, r->events, &err);
    return lev(r)->ev ? 0 : err;
}

/*
 * The new event is added before the old one goes, so a failure leaves the
 * old watch exactly as it was (deleting first and re-adding on failure
 * could fail again).  libevent merges two events on one fd.
 */
static int lev_fd_change(struct osev__areg *r, short events)
{
    struct event *ev;
    int err;

    ev = lev_fd_event(r, events, &err);
    if (!ev)
        return err;
    event_free(lev(r)->ev);
    lev(r)->ev = ev;
    return 0;
}

static void lev_fd_stop(struct osev__areg *r)
{
    event_free(lev(r)->ev); /* deletes it first */
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    osev__areg_timeout_fired(arg);
}

/*
 * libevent counts a relative timeout from its cached time, which inside a
 * callback is when the turn began: refresh it, or the timer fires early
 * by however long the callbacks took (harmless, osevent re-arms, but a
 * wasted turn).  A pending timer is re-scheduled in place; a failure
 * (heap growth) happens before anything changed.
 */
static int lev_timer_add(struct osev__areg *r, osev_time deadline)
{
    struct timeval tv;

#if LIBEVENT_VERSION_NUMBER >= 0x02010100
    event_base_update_cache_time(r->ad->loop);
#endif
    tv = osev__tv_until(deadline);
    errno = 0;
    return event_add(lev(r)->ev, &tv) < 0 ? lev_error() : 0;
}

static int lev_timeout_start(struct osev__areg *r, osev_time deadline)
{
    int err;

    lev(r)->ev = evtimer_new(r->ad->loop, on_timeout, r);
    if (!lev(r)->ev)
        return -ENOMEM;
    err = lev_timer_add(r, deadline);
    if (err < 0)
        event_free(lev(r)->ev);
    return err;
}

static int lev_timeout_change(struct osev__areg *r, osev_time deadline)
{
    return lev_timer_add(r, deadline);
}

static void lev_timeout_stop(struct osev__areg *r)
{
    event_free(lev(r)->ev);
}

static const struct osev__adapter_ops libevent_ops = {
    .name = "libevent",
    .reg_size = sizeof(struct lev_reg),
    .fd_start = lev_fd_start,
    .fd_change = lev_fd_change,
    .fd_stop = lev_fd_stop,
    .timeout_start = lev_timeout_start,
    .timeout_change = lev_timeout_change,
    .timeout_stop = lev_timeout_stop,
};

OSEV_EXPORT int osev_libevent_attach(osev_ctx *ctx, struct event_base *base)
{
    return osev__adapter_attach(ctx, base, &libevent_ops);
}

OSEV_EXPORT void osev_libevent_detach(osev_ctx *ctx)
{
    osev__adapter_detach(ctx);
}
