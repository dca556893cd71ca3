/*
 * wayland.c - a Wayland server's wl_event_loop drives an osevent context.
 *
 * SPDX-License-Identifier: MIT
 *
 * Each fd registration is one fd source (wl_event_loop_add_fd(), which
 * watches a dup of the fd in the loop's epoll set), each context's
 * timeout one timer source, armed with wl_event_source_timer_update().
 * The loop owns the sources; the registration records point at them.
 *
 * What wl_event_loop cannot say, and what is done about it:
 *  - No urgent-data event (WL_EVENT_READABLE and WL_EVENT_WRITABLE
 *    only): a POLLPRI request is refused.
 *  - Timers count whole milliseconds from the time of the call, and a
 *    delay of 0 disarms: a deadline is rounded up to the next
 *    millisecond, and one already due is armed 1 ms ahead, so it fires
 *    on the next turn that waits for it, never early.
 */
#include "adapter.h"

#include <errno.h>

#include <wayland-server-core.h>

#include "osevent-wayland.h"

/* The loop's source: an fd source or a timer source, by r->fd. */
struct wl_reg {
    struct wl_event_source *source;
};

static struct wl_reg *wr(struct osev__areg *r)
{
    return (struct wl_reg *)r->priv;
}

/* The loop's errno for a call that failed (ENOMEM if it left none). */
static int wl_err(void)
{
    return errno > 0 ? -errno : -ENOMEM;
}

/* POLLPRI has no wl_event_loop counterpart.  Watching it as readable
 * would be wrong both ways: a socket with only urgent data is not
 * readable, so the watch would never fire, and a sysfs attribute is
 * always readable, so it would fire on every turn.  Refused instead. */
static int wl_mask(short events, uint32_t *mask)
{
    if (events & POLLPRI)
        return -EINVAL;
    *mask = (events & POLLIN ? WL_EVENT_READABLE : 0u) |
            (events & POLLOUT ? WL_EVENT_WRITABLE : 0u);
    return 0;
}

/* Hang-ups and errors come whatever the mask (epoll always reports
 * them): passed on as POLLHUP and POLLERR.  @fd is the loop's dup. */
static int on_fd(int fd, uint32_t mask, void *data)
{
    short revents = (short)((mask & WL_EVENT_READABLE ? POLLIN : 0) |
                            (mask & WL_EVENT_WRITABLE ? POLLOUT : 0) |
                            (mask & WL_EVENT_HANGUP ? POLLHUP : 0) |
                            (mask & WL_EVENT_ERROR ? POLLERR : 0));

    (void)fd;
    /* May remove the source and free the record: nothing touches them
     * afterwards (the loop skips a removed source, and frees it after
     * the turn). */
    osev__areg_fd_ready(data, revents);
    return 0;
}

static int wl_fd_start(struct osev__areg *r)
{
    uint32_t mask;
    int rc = wl_mask(r->events, &mask);

    if (rc < 0)
        return rc;
    errno = 0;
    wr(r)->source = wl_event_loop_add_fd(r->ad->loop, r->fd, mask, on_fd, r);
    return wr(r)->source ? 0 : wl_err();
}

/* One epoll_ctl(EPOLL_CTL_MOD): a failure leaves the old mask. */
static int wl_fd_change(struct osev__areg *r, short events)
{
    uint32_t mask;
    int rc = wl_mask(events, &mask);

    if (rc < 0)
        return rc;
    errno = 0;
    return wl_event_source_fd_update(wr(r)->source, mask) < 0 ? wl_err() : 0;
}

/* Closes the loop's dup at once; the loop frees the source on its next
 * turn, or when it is destroyed. */
static void wl_source_stop(struct osev__areg *r)
{
    wl_event_source_remove(wr(r)->source);
}

static int on_timer(void *data)
{
    osev__areg_timeout_fired(data);
    return 0;
}

/* Whole milliseconds, at least 1 (0 would disarm).  The timer heap
 * holds its deadline as now + delay, now read at this call: a timeout
 * armed late in a turn does not fire early. */
static int wl_timer_arm(struct osev__areg *r, osev_time deadline)
{
    int ms = osev__ms_until(deadline);

    errno = 0;
    if (wl_event_source_timer_update(wr(r)->source, ms > 0 ? ms : 1) < 0)
        return wl_err();
    return 0;
}

static int wl_timeout_start(struct osev__areg *r, osev_time deadline)
{
    int rc;

    errno = 0;
    wr(r)->source = wl_event_loop_add_timer(r->ad->loop, on_timer, r);
    if (!wr(r)->source)
        return wl_err();
    rc = wl_timer_arm(r, deadline);
    if (rc < 0)
        wl_event_source_remove(wr(r)->source);
    return rc;
}

/* Fired (then disarmed) or not, the update sets the new deadline.  Only
 * a failing timerfd_settime() fails it, which valid times do not do. */
static int wl_timeout_change(struct osev__areg *r, osev_time deadline)
{
    return wl_timer_arm(r, deadline);
}

static const struct osev__adapter_ops wayland_ops = {
    .name = "wayland",
    .reg_size = sizeof(struct wl_reg),
    .fd_start = wl_fd_start,
    .fd_change = wl_fd_change,
    .fd_stop = wl_source_stop,
    .timeout_start = wl_timeout_start,
    .timeout_change = wl_timeout_change,
    .timeout_stop = wl_source_stop,
};

OSEV_EXPORT int osev_wayland_attach(osev_ctx *ctx, struct wl_event_loop *loop)
{
    return osev__adapter_attach(ctx, loop, &wayland_ops);
}

OSEV_EXPORT void osev_wayland_detach(osev_ctx *ctx)
{
    osev__adapter_detach(ctx);
}
