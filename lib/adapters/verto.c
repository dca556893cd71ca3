/*
 * verto.c - a libverto context drives an osevent context.
 *
 * SPDX-License-Identifier: MIT
 *
 * Each fd registration is one persistent io event, the context's timeout
 * one timeout event without VERTO_EV_FLAG_PERSIST: verto deletes such an
 * event itself once its callback has run, so the record forgets it then,
 * and a re-arm adds a new one.  Each event's private pointer is its
 * record.  verto defers a verto_del() made from the event's own callback
 * to the callback's end, so a record may go from inside its callback.
 */
#include "adapter.h"

#include <poll.h>

#include <verto.h>

#include "osevent-verto.h"

struct vt_reg {
    verto_ev *ev; /* NULL once a one-shot timeout has fired */
};

static struct vt_reg *vt(struct osev__areg *r)
{
    return (struct vt_reg *)r->priv;
}

/* POLLPRI has no verto flag, and VERTO_EV_FLAG_IO_READ means POLLIN in
 * some modules (libev) and POLLIN|POLLPRI in others (glib): watching it as
 * a read would never fire on urgent data in the first, and fire on every
 * turn for an fd that is readable but not urgent in the second. */
static int vt_io_flags(short events)
{
    if (events & POLLPRI)
        return -EINVAL;
    return VERTO_EV_FLAG_PERSIST |
           (events & POLLIN ? VERTO_EV_FLAG_IO_READ : 0) |
           (events & POLLOUT ? VERTO_EV_FLAG_IO_WRITE : 0);
}

/* verto's error flag stands for POLLERR, POLLHUP or POLLNVAL, and verto
 * then drops the read and write flags, though a hang-up may leave data to
 * read: poll(2) says which.  Should the fd have nothing left by then,
 * POLLERR reports what verto saw. */
static short error_revents(const struct osev__areg *r)
{
    struct pollfd p = { .fd = r->fd, .events = r->events };

    return poll(&p, 1, 0) == 1 ? p.revents : POLLERR;
}

static void on_io(verto_ctx *vctx, verto_ev *ev)
{
    struct osev__areg *r = verto_get_private(ev);
    verto_ev_flag state = verto_get_fd_state(ev);
    short revents;

    (void)vctx;
    if (state & VERTO_EV_FLAG_IO_ERROR)
        revents = error_revents(r);
    else
        revents = (short)((state & VERTO_EV_FLAG_IO_READ ? POLLIN : 0) |
                          (state & VERTO_EV_FLAG_IO_WRITE ? POLLOUT : 0));
    /* May delete ev (deferred by verto) and free r: neither is touched
     * afterwards. */
    osev__areg_fd_ready(r, revents);
}

/* verto returns NULL for every failure without a reason: allocation is
 * the likely one (a module's add fails for little else). */
static int vt_add_io(struct osev__areg *r, short events, verto_ev **ev_out)
{
    int flags = vt_io_flags(events);
    verto_ev *ev;

    if (flags < 0)
        return flags;
    ev = verto_add_io(r->ad->loop, (verto_ev_flag)flags, on_io, r->fd);
    if (!ev)
        return -ENOMEM;
    verto_set_private(ev, r, NULL);
    *ev_out = ev;
    return 0;
}

static int vt_fd_start(struct osev__areg *r)
{
    return vt_add_io(r, r->events, &vt(r)->ev);
}

/*
 * Not verto_set_flags(), though read and write are mutable: a module
 * without a set_flags of its own (libevent's) makes verto delete and
 * re-add the event, and abort if the add fails.  A new event first, the
 * old one deleted only once that worked, can fail cleanly in any module.
 */
static int vt_fd_change(struct osev__areg *r, short events)
{
    verto_ev *ev;
    int rc = vt_add_io(r, events, &ev);

    if (rc < 0)
        return rc;
    verto_del(vt(r)->ev);
    vt(r)->ev = ev;
    return 0;
}

static void vt_stop(struct osev__areg *r)
{
    verto_del(vt(r)->ev); /* NULL (a fired timeout) is fine */
}

/* verto deletes this one-shot event when we return: the record forgets it
 * first, as the report may re-arm (a new event) or free the record. */
static void on_timeout(verto_ctx *vctx, verto_ev *ev)
{
    struct osev__areg *r = verto_get_private(ev);

    (void)vctx;
    vt(r)->ev = NULL;
    osev__areg_timeout_fired(r);
}

/* The old event, if still pending, goes only once the new one is in. */
static int vt_timeout_arm(struct osev__areg *r, osev_time deadline)
{
    verto_ev *ev = verto_add_timeout(r->ad->loop, VERTO_EV_FLAG_NONE,
                                     on_timeout,
                                     (time_t)osev__ms_until(deadline));

    if (!ev)
        return -ENOMEM;
    verto_set_private(ev, r, NULL);
    verto_del(vt(r)->ev);
    vt(r)->ev = ev;
    return 0;
}

static const struct osev__adapter_ops verto_ops = {
    .name = "verto",
    .reg_size = sizeof(struct vt_reg),
    .fd_start = vt_fd_start,
    .fd_change = vt_fd_change,
    .fd_stop = vt_stop,
    .timeout_start = vt_timeout_arm,
    .timeout_change = vt_timeout_arm,
    .timeout_stop = vt_stop,
};

OSEV_EXPORT int osev_verto_attach(osev_ctx *ctx, verto_ctx *vctx)
{
    return osev__adapter_attach(ctx, vctx, &verto_ops);
}

OSEV_EXPORT void osev_verto_detach(osev_ctx *ctx)
{
    osev__adapter_detach(ctx);
}
