/*
 * sdevent.c - an sd-event loop (libsystemd) drives an osevent context.
 *
 * SPDX-License-Identifier: MIT
 *
 * Each fd registration is one io source, the context's timeout one
 * CLOCK_MONOTONIC time source (osev_now()'s clock, so no conversion but
 * ns to µs).  Time sources are one-shot: once it fired sd-event turns it
 * off but keeps it, and osevent re-arms it in place or deregisters it.
 */
#include "adapter.h"

#include <stdint.h>
#include <sys/epoll.h>
#include <time.h>

#include <systemd/sd-event.h>

#include "osevent-sdevent.h"

struct sdev_reg {
    sd_event_source *src;
};

static struct sdev_reg *sdev(struct osev__areg *r)
{
    return (struct sdev_reg *)r->priv;
}

/* Written out rather than assumed: EPOLL* and POLL* agree on Linux,
 * but the contract speaks poll(2). */
static uint32_t sdev_epoll_events(short events)
{
    return (events & POLLIN ? EPOLLIN : 0u) |
           (events & POLLOUT ? EPOLLOUT : 0u) |
           (events & POLLPRI ? EPOLLPRI : 0u);
}

static short sdev_poll_revents(uint32_t revents)
{
    return (short)((revents & EPOLLIN ? POLLIN : 0) |
                   (revents & EPOLLOUT ? POLLOUT : 0) |
                   (revents & EPOLLPRI ? POLLPRI : 0) |
                   (revents & EPOLLERR ? POLLERR : 0) |
                   (revents & EPOLLHUP ? POLLHUP : 0));
}

/*
 * sd-event's sources die with sd_event_source_unref() when nobody else
 * holds a reference; turning it off first makes sure it never fires
 * again even if someone does (sd_event_source_disable_unref() does the
 * same, but only from libsystemd 243 on).  From inside its own callback
 * too: sd-event only disconnects a source that is dispatching.
 */
static void sdev_drop(struct osev__areg *r)
{
    sd_event_source_set_enabled(sdev(r)->src, SD_EVENT_OFF);
    sd_event_source_unref(sdev(r)->src);
    sdev(r)->src = NULL;
}

/* Return 0 always: a negative return makes sd-event turn the source off
 * behind osevent's back. */
static int on_io(sd_event_source *s, int fd, uint32_t revents, void *arg)
{
    (void)s, (void)fd;
    /* May drop the source and free arg. */
    osev__areg_fd_ready(arg, sdev_poll_revents(revents));
    return 0;
}

static int sdev_fd_start(struct osev__areg *r)
{
    int err = sd_event_add_io(r->ad->loop, &sdev(r)->src, r->fd,
                              sdev_epoll_events(r->events), on_io, r);

    if (err < 0)
        return err;
    /* For sd-event's debug logs; a failure here costs only the name. */
    (void)sd_event_source_set_description(sdev(r)->src, "osevent-fd");
    return 0;
}

/* epoll_ctl(MOD) either happens or not: a failure changes nothing. */
static int sdev_fd_change(struct osev__areg *r, short events)
{
    return sd_event_source_set_io_events(sdev(r)->src,
                                         sdev_epoll_events(events));
}

static void sdev_fd_stop(struct osev__areg *r)
{
    sdev_drop(r);
}

static int on_time(sd_event_source *s, uint64_t usec, void *arg)
{
    (void)s, (void)usec;
    /* sd-event already turned the one-shot source off: nothing to disarm. */
    osev__areg_timeout_fired(arg);
    return 0;
}

/*
 * Rounded up, so the source never fires before the deadline.  A past
 * deadline fires on the next turn as it is; 0 is avoided all the same
 * (1 µs after boot is just as past).  OSEV_TIME_INFINITY, which would
 * overflow the rounding, is sd-event's "never".
 */
static uint64_t sdev_usec(osev_time deadline)
{
    if (deadline == OSEV_TIME_INFINITY)
        return UINT64_MAX;
    if (deadline <= 0)
        return 1;
    return (uint64_t)deadline / 1000 + ((uint64_t)deadline % 1000 != 0);
}

/* Accuracy 1 µs: sd-event's default (0) lets it fire up to 250 ms late
 * to coalesce wakeups, which osevent's timers do not allow. */
static int sdev_timeout_start(struct osev__areg *r, osev_time deadline)
{
    int err = sd_event_add_time(r->ad->loop, &sdev(r)->src, CLOCK_MONOTONIC,
                                sdev_usec(deadline), 1, on_time, r);

    if (err < 0)
        return err;
    (void)sd_event_source_set_description(sdev(r)->src, "osevent-timeout");
    return 0;
}

/* Re-armed in place, fired (off) or not; on failure the old time and
 * state are put back, as the contract wants. */
static int sdev_timeout_change(struct osev__areg *r, osev_time deadline)
{
    sd_event_source *src = sdev(r)->src;
    uint64_t old;
    int enabled, err;

    err = sd_event_source_get_time(src, &old);
    if (err >= 0)
        err = sd_event_source_get_enabled(src, &enabled);
    if (err < 0)
        return err;
    err = sd_event_source_set_time(src, sdev_usec(deadline));
    if (err < 0)
        return err;
    err = sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
    if (err < 0) {
        sd_event_source_set_time(src, old);
        sd_event_source_set_enabled(src, enabled);
    }
    return err;
}

static void sdev_timeout_stop(struct osev__areg *r)
{
    sdev_drop(r);
}

static const struct osev__adapter_ops sdev_ops = {
    .name = "sdevent",
    .reg_size = sizeof(struct sdev_reg),
    .fd_start = sdev_fd_start,
    .fd_change = sdev_fd_change,
    .fd_stop = sdev_fd_stop,
    .timeout_start = sdev_timeout_start,
    .timeout_change = sdev_timeout_change,
    .timeout_stop = sdev_timeout_stop,
};

OSEV_EXPORT int osev_sdevent_attach(osev_ctx *ctx, sd_event *e)
{
    return osev__adapter_attach(ctx, e, &sdev_ops);
}

OSEV_EXPORT void osev_sdevent_detach(osev_ctx *ctx)
{
    osev__adapter_detach(ctx);
}
