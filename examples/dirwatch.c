/*
 * dirwatch.c - a directory watcher built on osevent (see dirwatch.h).
 *
 * SPDX-License-Identifier: MIT
 *
 * This is what a producer looks like: it registers a non-blocking fd and
 * a timer with the context, and its callbacks turn what they find into
 * events with osev_event_new() + osev_event_post().  It does not know,
 * and does not need to know, which loop drives the context.
 */
#include "dirwatch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

struct dirwatch {
    osev_ctx *ctx;
    uint64_t for_user;
    int ifd;             /* the inotify fd, non-blocking */
    osev_fd *watch;      /* our registration of ifd */
    osev_timer *tick;    /* the tick timer, re-armed from its callback */
    osev_time period;    /* OSEV_TIME_INFINITY: no ticks */
    osev_time next_tick; /* the deadline the timer is armed for */
    uint64_t ticks;      /* ticks posted so far */
};

/* What we ask inotify for.  A move into or out of the directory counts as
 * a creation or a deletion; IN_ONLYDIR refuses to watch a plain file. */
#define DIRWATCH_IN_MASK                                                       \
    (IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_MODIFY |         \
     IN_ONLYDIR)

/* Reads per callback.  The watch is level-triggered: whatever we leave in
 * the fd makes it ready again at the next poll, so a bound here costs
 * nothing and keeps a flood of changes from starving other callbacks. */
#define READS_PER_CALLBACK 8

static osev_time add_saturating(osev_time t, osev_time d)
{
    return t > OSEV_TIME_INFINITY - d ? OSEV_TIME_INFINITY : t + d;
}

/* Post one event whose payload is @size bytes: @len bytes of @data, then
 * zeroes (osev_event_new() zeroes the payload).  Allocation is the only
 * step that can fail, and it happens while we can still say so:
 * osev_disaster() tells the consumer that events of this type may be
 * missing.  Posting itself cannot fail. */
static void post_event(struct dirwatch *dw, unsigned type, const void *data,
                       size_t len, size_t size)
{
    osev_event *ev = osev_event_new(dw->ctx, type, dw->for_user, size);

    if (!ev) {
        osev_disaster(dw->ctx, type, "dirwatch: cannot allocate an event",
                      errno);
        return;
    }
    memcpy(ev->data, data, len);
    osev_event_post(dw->ctx, ev); /* ev is osevent's now */
}

static void handle_inotify_event(struct dirwatch *dw,
                                 const struct inotify_event *ie)
{
    unsigned type;

    if (ie->mask & IN_Q_OVERFLOW) {
        osev_disaster(dw->ctx, 0, "dirwatch: inotify queue overflowed", 0);
        return;
    }
    if (ie->mask & IN_IGNORED) {
        /* The kernel dropped the watch: the directory was deleted or its
         * file system unmounted.  No event will ever come again. */
        osev_disaster(dw->ctx, 0, "dirwatch: the directory went away", 0);
        return;
    }
    if (ie->mask & (IN_CREATE | IN_MOVED_TO))
        type = DIRWATCH_EV_CREATED;
    else if (ie->mask & (IN_DELETE | IN_MOVED_FROM))
        type = DIRWATCH_EV_DELETED;
    else if (ie->mask & IN_MODIFY)
        type = DIRWATCH_EV_MODIFIED;
    else
        return;
    if (ie->len == 0)
        return; /* about the directory itself, not an entry in it */

    /* ie->len counts the name plus its NUL padding; the payload is the
     * name and one NUL. */
    size_t name_len = strnlen(ie->name, ie->len);
    post_event(dw, type, ie->name, name_len, name_len + 1);
}

/* The fd callback: the inotify fd is readable (or so poll said). */
static void on_inotify(osev_fd *w, int fd, short revents, void *arg)
{
    struct dirwatch *dw = arg;
    /* inotify_event records have a variable length (a header, then a
     * padded name) and the kernel lays them out aligned for the header,
     * so the buffer must be aligned the same way.  Its size holds at
     * least one record with the longest name (NAME_MAX), so read() never
     * fails with EINVAL for lack of room. */
    union {
        struct inotify_event align;
        char bytes[4096];
    } buf;

    if (revents & (POLLERR | POLLNVAL)) {
        /* Not expected from inotify; mute the watch rather than spin. */
        osev_disaster(dw->ctx, 0, "dirwatch: the inotify fd failed", 0);
        osev_fd_modify(w, 0);
        return;
    }

    for (int i = 0; i < READS_PER_CALLBACK; i++) {
        ssize_t n = read(fd, buf.bytes, sizeof buf.bytes);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return; /* drained; or the readiness was spurious */
        if (n <= 0) {
            osev_disaster(dw->ctx, 0, "dirwatch: reading inotify failed",
                          n < 0 ? errno : EIO);
            osev_fd_modify(w, 0);
            return;
        }

        /* One read returns whole records only, as many as fit; walk them
         * by their lengths, and never trust a length that would run past
         * what was read. */
        size_t off = 0, len = (size_t)n;
        while (len - off >= sizeof(struct inotify_event)) {
            const struct inotify_event *ie =
                (const struct inotify_event *)(buf.bytes + off);
            size_t rec = sizeof *ie + ie->len;

            if (rec > len - off)
                break;
            handle_inotify_event(dw, ie);
            off += rec;
        }
    }
}

/* The timer callback: post a tick and arm the next one. */
static void on_tick(osev_timer *t, osev_time now, void *arg)
{
    struct dirwatch *dw = arg;

    /* Step from the previous deadline, not from now, so ticks keep their
     * rhythm; after a stall (a long callback, a stopped process) skip the
     * missed ticks instead of firing them all at once.  A timer is
     * one-shot: re-arming it from its own callback is how it repeats. */
    dw->next_tick = add_saturating(dw->next_tick, dw->period);
    if (dw->next_tick <= now)
        dw->next_tick = add_saturating(now, dw->period);
    osev_timer_set(t, dw->next_tick);

    dw->ticks++;
    post_event(dw, DIRWATCH_EV_TICK, &dw->ticks, sizeof dw->ticks,
               sizeof dw->ticks);
}

int dirwatch_new(osev_ctx *ctx, const char *dir, osev_time tick_period,
                 uint64_t for_user, struct dirwatch **out)
{
    struct dirwatch *dw;
    int r;

    if (!ctx || !dir || !out || tick_period <= 0)
        return -EINVAL;
    dw = calloc(1, sizeof *dw);
    if (!dw)
        return -ENOMEM;
    dw->ctx = ctx;
    dw->for_user = for_user;
    dw->period = tick_period;

    /* Non-blocking: a callback must never block the loop that runs it,
     * and readiness can be spurious. */
    dw->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (dw->ifd < 0) {
        r = -errno;
        goto fail;
    }
    if (inotify_add_watch(dw->ifd, dir, DIRWATCH_IN_MASK) < 0) {
        r = -errno;
        goto fail;
    }
    r = osev_fd_add(ctx, dw->ifd, POLLIN, on_inotify, dw, &dw->watch);
    if (r < 0)
        goto fail;
    /* With no ticks the timer is added disarmed (deadline INFINITY). */
    dw->next_tick = add_saturating(osev_now(), tick_period);
    r = osev_timer_add(ctx, dw->next_tick, on_tick, dw, &dw->tick);
    if (r < 0)
        goto fail;

    *out = dw;
    return 0;

fail:
    osev_fd_remove(dw->watch); /* NULL is fine */
    if (dw->ifd >= 0)
        close(dw->ifd);
    free(dw);
    return r;
}

void dirwatch_free(struct dirwatch *dw)
{
    if (!dw)
        return;
    /* Remove the registrations first, then close the fd they named: the
     * context must never hold a watch on a closed (or reused) fd number.
     * After the removes neither callback runs again, so dw can go now. */
    osev_timer_remove(dw->tick);
    osev_fd_remove(dw->watch);
    close(dw->ifd);
    free(dw);
}

const char *dirwatch_type_name(unsigned type)
{
    switch (type) {
    case DIRWATCH_EV_CREATED:
        return "created";
    case DIRWATCH_EV_DELETED:
        return "deleted";
    case DIRWATCH_EV_MODIFIED:
        return "modified";
    case DIRWATCH_EV_TICK:
        return "tick";
    default:
        return "?";
    }
}
