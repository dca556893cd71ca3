/*
 * libev.c - a libev loop drives an osevent context.
 *
 * SPDX-License-Identifier: MIT
 *
 * Each fd registration is one ev_io, each context's timeout one ev_timer
 * without repeat (libev stops it as it fires: then osevent re-arms or
 * deregisters it).  The watchers live inside the registration records.
 * libev's starts and stops cannot fail; only a POLLPRI request is refused.
 *
 * While the context holds nothing of the application's, osevent
 * unreferences its own registration (the wakeup fd: see fd_ref in
 * osevent.h), and the adapter takes its ev_io out of the count that keeps
 * ev_run(loop, 0) running with ev_unref(), as libev's own signal and
 * child watchers do; the watcher is still polled, so a wakeup from
 * another thread still reaches a loop that runs for other reasons.
 * libev's rule is that the count is per loop, not per watcher: an
 * ev_unref() follows the start of an active watcher and is undone by an
 * ev_ref() before that watcher stops (else the count goes wrong and
 * ev_run() never returns, or too early).  Each record says whether it
 * holds one (unrefd), so every stop, ours or libev's (EV_ERROR), is
 * balanced.
 */
#include "adapter.h"

#include <ev.h>

#include "osevent-libev.h"

struct lv_reg {
    union {
        struct ev_io io;
        struct ev_timer timer;
    } w;
    bool unrefd; /* an ev_unref() of ours is in the loop's count for io */
};

static struct lv_reg *lv(struct osev__areg *r)
{
    return (struct lv_reg *)r->priv;
}

/* Give back the ev_unref() of r's io, if it holds one: before any stop. */
static void lv_balance(struct osev__areg *r)
{
    if (lv(r)->unrefd) {
        ev_ref(r->ad->loop);
        lv(r)->unrefd = false;
    }
}

/* Take r's io out of the count if it is to be unreferenced: after any
 * start (only an active watcher is in the count). */
static void lv_apply(struct osev__areg *r, bool unref)
{
    if (unref && !lv(r)->unrefd && ev_is_active(&lv(r)->w.io)) {
        ev_unref(r->ad->loop);
        lv(r)->unrefd = true;
    }
}

/* POLLPRI has no libev counterpart (EV_READ|EV_WRITE only).  Watching it
 * as EV_READ would be wrong both ways: a socket with only urgent data is
 * not readable, so the watch would never fire, and a sysfs attribute is
 * always readable, so it would fire on every turn.  Refused instead. */
static int lv_flags(short events)
{
    if (events & POLLPRI)
        return -EINVAL;
    return (events & POLLIN ? EV_READ : 0) | (events & POLLOUT ? EV_WRITE : 0);
}

/* EV_ERROR: libev met an fd it cannot watch (closed behind our back) and
 * has stopped the watcher; POLLNVAL says so, as poll(2) would, and an
 * ev_unref() the watcher held is given back, its stop being libev's. */
static void on_io(struct ev_loop *loop, struct ev_io *w, int what)
{
    struct osev__areg *r = w->data;
    short revents = (short)((what & EV_READ ? POLLIN : 0) |
                            (what & EV_WRITE ? POLLOUT : 0) |
                            (what & EV_ERROR ? POLLNVAL : 0));

    (void)loop;
    if (!ev_is_active(w))
        lv_balance(r);
    /* May stop w and free the record holding it: nothing touches them
     * afterwards. */
    osev__areg_fd_ready(r, revents);
}

static int lv_fd_start(struct osev__areg *r)
{
    struct ev_io *io = &lv(r)->w.io;
    int flags = lv_flags(r->events);

    if (flags < 0)
        return flags;
    ev_io_init(io, on_io, r->fd, flags);
    io->data = r;
    ev_io_start(r->ad->loop, io);
    return 0;
}

/* A stop clears any readiness pending for the old mask.  An unreferenced
 * watch stays so, its ev_unref() given back around the stop. */
static int lv_fd_change(struct osev__areg *r, short events)
{
    struct ev_io *io = &lv(r)->w.io;
    int flags = lv_flags(events);

    if (flags < 0)
        return flags;
    lv_balance(r);
    ev_io_stop(r->ad->loop, io);
#ifdef ev_io_modify
    ev_io_modify(io, flags); /* same fd: libev need not re-add it */
#else
    ev_io_set(io, r->fd, flags);
#endif
    ev_io_start(r->ad->loop, io);
    lv_apply(r, r->unref);
    return 0;
}

static void lv_fd_stop(struct osev__areg *r)
{
    lv_balance(r);
    ev_io_stop(r->ad->loop, &lv(r)->w.io);
}

/* ev_ref()/ev_unref() only move the count: they cannot fail.  A watcher
 * libev stopped (EV_ERROR) is not in the count; it stays out until a
 * change starts it again, which applies r->unref. */
static int lv_fd_ref(struct osev__areg *r, bool ref)
{
    if (ref)
        lv_balance(r);
    else
        lv_apply(r, true);
    return 0;
}

static void on_timer(struct ev_loop *loop, struct ev_timer *w, int what)
{
    (void)loop, (void)what;
    osev__areg_timeout_fired(w->data);
}

/*
 * libev counts a timer from its cached "now", which inside a callback is
 * when the turn began: refresh it, or the timer fires early by however
 * long the callbacks took (harmless, osevent re-arms, but a wasted turn).
 */
static void lv_timer_arm(struct osev__areg *r, osev_time deadline)
{
    struct ev_timer *t = &lv(r)->w.timer;

    ev_now_update(r->ad->loop);
    ev_timer_set(t, osev__s_until(deadline), 0.);
    ev_timer_start(r->ad->loop, t);
}

static int lv_timeout_start(struct osev__areg *r, osev_time deadline)
{
    struct ev_timer *t = &lv(r)->w.timer;

    ev_init(t, on_timer);
    t->data = r;
    lv_timer_arm(r, deadline);
    return 0;
}

/* Fired or not: a stop makes it inactive either way, then it is set anew. */
static int lv_timeout_change(struct osev__areg *r, osev_time deadline)
{
    ev_timer_stop(r->ad->loop, &lv(r)->w.timer);
    lv_timer_arm(r, deadline);
    return 0;
}

static void lv_timeout_stop(struct osev__areg *r)
{
    ev_timer_stop(r->ad->loop, &lv(r)->w.timer);
}

static const struct osev__adapter_ops libev_ops = {
    .name = "libev",
    .reg_size = sizeof(struct lv_reg),
    .fd_start = lv_fd_start,
    .fd_change = lv_fd_change,
    .fd_stop = lv_fd_stop,
    .timeout_start = lv_timeout_start,
    .timeout_change = lv_timeout_change,
    .timeout_stop = lv_timeout_stop,
    .fd_ref = lv_fd_ref,
};

OSEV_EXPORT int osev_libev_attach(osev_ctx *ctx, struct ev_loop *loop)
{
    return osev__adapter_attach(ctx, loop, &libev_ops);
}

OSEV_EXPORT void osev_libev_detach(osev_ctx *ctx)
{
    osev__adapter_detach(ctx);
}
