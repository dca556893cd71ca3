/*
 * libevent.c - a libevent event_base drives an osevent context.
 *
 * SPDX-License-Identifier: MIT
 *
 * Each fd registration is one persistent struct event, each context's
 * timeout one timer event (one-shot, as the contract wants: once it fired
 * libevent holds it no more, and osevent re-arms or deregisters it).
 *
 * Unreferenced registrations.  While the context holds nothing of the
 * application's, osevent unreferences its own registration (the wakeup
 * fd: see fd_ref in osevent.h), so that event_base_dispatch() may return.
 * libevent has no public unref; what it has is what it does for its own
 * events (the signal pipe, the thread-notify fd): an event flagged
 * EVLIST_INTERNAL is polled and dispatched like any other but left out of
 * the count that keeps the loop running (event_count, what
 * event_haveevents() reads and EVENT_BASE_COUNT_ADDED reports).  The
 * flag is in the public struct of <event2/event_struct.h>, stable within
 * libevent's ABI (2.1.x: struct event is allocated by event_assign()
 * users), so the adapter sets it on an event of its own, once, before it
 * is ever added: the count is taken at add and given back at delete by
 * the same flag, so it never goes wrong.  An unreferenced registration
 * is thus a second event on the same fd (the twin), flagged, made the
 * first time it is needed; exactly one of the two is added at any time.
 * Swapping adds the new one before deleting the old: with the fd already
 * polled for the same events, libevent then makes no backend call and
 * allocates nothing, so neither step fails in practice (both are checked
 * all the same).  Taking the wakeup fd out of the base instead would be
 * simpler, but then a wakeup from another thread (osev_schedule()) would
 * no longer reach a loop that runs for other reasons; and flipping the
 * flag on an added event would make the count wrong.  Older libevents
 * (2.0, whose struct event is laid out differently) have no fd_ref: every
 * registration keeps the loop running there.
 */
#include "adapter.h"

#include <stdbool.h>

#include <event2/event.h>

#include "osevent-libevent.h"

#if LIBEVENT_VERSION_NUMBER >= 0x02010100
#include <event2/event_struct.h>
#define LEV_UNREF 1
#endif

/*
 * The registration's events: ours, made with event_new().  @ev is the
 * one libevent counts, added while the registration is referenced; @twin
 * the same watch flagged internal, added while it is not (NULL until the
 * first time).  A timeout has @ev only.
 */
struct lev_reg {
    struct event *ev;
    struct event *twin;
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

/* Add @ev (not pending); 0 or the cause of the failure. */
static int lev_add(struct event *ev)
{
    errno = 0;
    return event_add(ev, NULL) < 0 ? lev_error() : 0;
}

/* A new event for r's fd with @events, not added yet; flagged internal
 * (a twin: see the top of the file) with @internal.  NULL and *err on
 * failure. */
static struct event *lev_fd_new(struct osev__areg *r, short events,
                                bool internal, int *err)
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
#ifdef LEV_UNREF
    if (internal)
        ev->ev_evcallback.evcb_flags |= EVLIST_INTERNAL;
#else
    (void)internal;
#endif
    return ev;
}

/* As lev_fd_new(), added. */
static struct event *lev_fd_event(struct osev__areg *r, short events,
                                  bool internal, int *err)
{
    struct event *ev = lev_fd_new(r, events, internal, err);

    if (ev && (*err = lev_add(ev)) < 0) {
        event_free(ev);
        return NULL;
    }
    return ev;
}

static int lev_fd_start(struct osev__areg *r)
{
    int err;

    lev(r)->ev = lev_fd_event(r, r->events, false, &err);
    return lev(r)->ev ? 0 : err;
}

/*
 * The new event is added before the old one goes, so a failure leaves the
 * old watch exactly as it was (deleting first and re-adding on failure
 * could fail again).  libevent merges two events on one fd.  An
 * unreferenced registration stays so: its new twin is added, and the
 * counted event, not pending, is made anew for the new events, before
 * anything is let go.  A twin not pending goes; it is made again when
 * needed.
 */
static int lev_fd_change(struct osev__areg *r, short events)
{
    struct lev_reg *l = lev(r);
    struct event *ev, *twin = NULL;
    int err;

    if (r->unref) {
        ev = lev_fd_new(r, events, false, &err);
        if (ev && !(twin = lev_fd_event(r, events, true, &err))) {
            event_free(ev);
            ev = NULL;
        }
    } else {
        ev = lev_fd_event(r, events, false, &err);
    }
    if (!ev)
        return err;
    event_free(l->ev);
    if (l->twin)
        event_free(l->twin);
    l->ev = ev;
    l->twin = twin;
    return 0;
}

static void lev_fd_stop(struct osev__areg *r)
{
    event_free(lev(r)->ev); /* deletes it first */
    if (lev(r)->twin)
        event_free(lev(r)->twin);
}

#ifdef LEV_UNREF
/*
 * Swap the added event for the other one (see the top of the file): the
 * twin while unreferenced, the counted event while referenced.  The one
 * that comes in is added first; it watches the fd for what the other
 * already does, so libevent neither calls its backend nor allocates, and
 * the delete that follows cannot fail.  Called from the event's own
 * callback too (the wakeup fd's, at the end of the pass it ran): libevent
 * allows deleting an event there.
 */
static int lev_fd_ref(struct osev__areg *r, bool ref)
{
    struct lev_reg *l = lev(r);
    int err;

    if (ref) {
        err = lev_add(l->ev);
        if (err < 0)
            return err;
        event_del(l->twin);
        return 0;
    }
    if (!l->twin) {
        l->twin = lev_fd_new(r, r->events, true, &err);
        if (!l->twin)
            return err;
    }
    err = lev_add(l->twin);
    if (err < 0)
        return err;
    event_del(l->ev);
    return 0;
}
#endif

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
#ifdef LEV_UNREF
    .fd_ref = lev_fd_ref,
#endif
};

OSEV_EXPORT int osev_libevent_attach(osev_ctx *ctx, struct event_base *base)
{
    return osev__adapter_attach(ctx, base, &libevent_ops);
}

OSEV_EXPORT void osev_libevent_detach(osev_ctx *ctx)
{
    osev__adapter_detach(ctx);
}
