/*
 * virt.c - libvirt's registered event implementation drives an osevent
 * context, through libvirt's public event API only.
 *
 * SPDX-License-Identifier: MIT
 *
 * Each fd registration is one libvirt handle (virEventAddHandle), each
 * context's timeout one libvirt timer (virEventAddTimeout).  libvirt has
 * no loop object: its implementation is process-global, so the "loop"
 * handed to the shared adapter layer is a sentinel.
 *
 * Records are freed by libvirt's free callback, not by *_stop: libvirt
 * may still be on its way into a handle's callback when another thread
 * removes it (the default implementation dispatches a GSource that
 * another thread just destroyed), and it promises to call ff only once
 * that cannot happen any more.
 */
#include "adapter.h"

#include "osevent-virt.h"

/* What osev__adapter_attach() wants as a loop: any non-NULL pointer. */
static char virt_process_loop;

/* The registration's libvirt watch or timer id. */
struct virt_reg {
    int id;
};

static struct virt_reg *vreg(struct osev__areg *r)
{
    return (struct virt_reg *)r->priv;
}

/* libvirt's ff: no callback of this registration can come any more. */
static void virt_reg_free(void *opaque)
{
    osev__areg_free(opaque);
}

/* POLLPRI has no libvirt counterpart: watching it as readable would never
 * fire on a socket with only urgent data, and would fire on every turn
 * on a sysfs attribute.  Refused instead.  Errors and hang-ups are asked
 * for always: osevent reports them whatever the watch asks. */
static int virt_events(short events, int *virt_out)
{
    if (events & POLLPRI)
        return -EINVAL;
    *virt_out = (events & POLLIN ? VIR_EVENT_HANDLE_READABLE : 0) |
                (events & POLLOUT ? VIR_EVENT_HANDLE_WRITABLE : 0) |
                VIR_EVENT_HANDLE_ERROR | VIR_EVENT_HANDLE_HANGUP;
    return 0;
}

static short poll_events(int virt)
{
    return (short)((virt & VIR_EVENT_HANDLE_READABLE ? POLLIN : 0) |
                   (virt & VIR_EVENT_HANDLE_WRITABLE ? POLLOUT : 0) |
                   (virt & VIR_EVENT_HANDLE_ERROR ? POLLERR : 0) |
                   (virt & VIR_EVENT_HANDLE_HANGUP ? POLLHUP : 0));
}

static void on_handle(int watch, int fd, int events, void *opaque)
{
    (void)watch, (void)fd;
    osev__areg_fd_ready(opaque, poll_events(events));
}

static int virt_fd_start(struct osev__areg *r)
{
    int events, rc = virt_events(r->events, &events);

    if (rc < 0)
        return rc;
    vreg(r)->id = virEventAddHandle(r->fd, events, on_handle, r,
                                    virt_reg_free);
    return vreg(r)->id < 0 ? -EIO : 0;
}

/* virEventUpdateHandle cannot fail on a live watch. */
static int virt_fd_change(struct osev__areg *r, short events)
{
    int virt, rc = virt_events(events, &virt);

    if (rc == 0)
        virEventUpdateHandle(vreg(r)->id, virt);
    return rc;
}

/* On success libvirt owns r until it calls ff (maybe already inside the
 * call): r is not touched afterwards.  A watch libvirt does not know
 * will never see ff. */
static void virt_fd_stop(struct osev__areg *r)
{
    if (virEventRemoveHandle(vreg(r)->id) < 0)
        osev__areg_free(r);
}

/* libvirt timers are periodic: disarm first, so that it does not fire
 * again before osevent re-arms it (or forever, if osevent does not). */
static void on_timeout(int timer, void *opaque)
{
    virEventUpdateTimeout(timer, -1);
    osev__areg_timeout_fired(opaque);
}

/* A frequency counts from when the timer was (re)armed: now. */
static int virt_timeout_start(struct osev__areg *r, osev_time deadline)
{
    vreg(r)->id = virEventAddTimeout(osev__ms_until(deadline), on_timeout, r,
                                     virt_reg_free);
    return vreg(r)->id < 0 ? -EIO : 0;
}

static int virt_timeout_change(struct osev__areg *r, osev_time deadline)
{
    virEventUpdateTimeout(vreg(r)->id, osev__ms_until(deadline));
    return 0;
}

static void virt_timeout_stop(struct osev__areg *r)
{
    if (virEventRemoveTimeout(vreg(r)->id) < 0)
        osev__areg_free(r);
}

static const struct osev__adapter_ops virt_ops = {
    .name = "virt",
    .reg_size = sizeof(struct virt_reg),
    .fd_start = virt_fd_start,
    .fd_change = virt_fd_change,
    .fd_stop = virt_fd_stop,
    .timeout_start = virt_timeout_start,
    .timeout_change = virt_timeout_change,
    .timeout_stop = virt_timeout_stop,
    .stop_frees_later = true,
};

OSEV_EXPORT int osev_virt_attach(osev_ctx *ctx)
{
    return osev__adapter_attach(ctx, &virt_process_loop, &virt_ops);
}

OSEV_EXPORT void osev_virt_detach(osev_ctx *ctx)
{
    osev__adapter_detach(ctx);
}
