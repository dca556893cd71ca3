/*
 * osevent-wayland.h - a Wayland server's wl_event_loop drives an osevent
 * context.
 *
 * SPDX-License-Identifier: MIT
 *
 * Link with libosevent-wayland (pkg-config osevent-wayland).  The loop
 * (libwayland-server's: wl_display_get_event_loop(), or one made with
 * wl_event_loop_create()) then holds one fd source per distinct fd of the
 * context and one timer source for its earliest deadline, whatever the
 * number of watches and timers.
 *
 * wl_event_loop has no urgent-data event: a context that asks for
 * POLLPRI cannot be attached (-EINVAL), and a POLLPRI watch added while
 * attached is refused with -EINVAL.  Hang-ups and errors arrive as
 * POLLHUP and POLLERR, whatever the events watched.  Its timers count
 * whole milliseconds: a deadline fires up to 1 ms after it is due, never
 * before.
 */
#ifndef OSEVENT_WAYLAND_H
#define OSEVENT_WAYLAND_H

#include <wayland-server-core.h>

#include <osevent.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * osev_wayland_attach - let @loop drive @ctx: every fd and the timeout
 * the context has are added as sources to @loop at once, all or none,
 * and from then on the registry is mirrored into it as it changes; the
 * sources' callbacks run the context's callbacks from
 * wl_event_loop_dispatch() (and so from wl_display_run()).  A context
 * holds one set of hooks: -EBUSY if @ctx already has some.
 *
 * Owns: the sources it adds, removed by osev_wayland_detach() or
 * osev_ctx_free(), either of which leaves @loop with nothing of ours.
 * An fd source watches a dup of the fd, closed when the source is
 * removed: an fd must be removed from @ctx before it is closed, as for
 * any epoll-based loop.  @loop is not owned: it must outlive the
 * attachment (wl_event_loop_destroy() and wl_display_destroy() come
 * after the detach or the free).
 *
 * Threads: wl_event_loop is not thread-safe.  @loop runs on one thread,
 * and the context's callbacks run there; the context must be changed
 * (watches, timers, attach, detach, free) only from that thread, or with
 * the application's own lock serialising it with the loop.  Not from
 * inside an osevent hook; from a callback of @ctx is fine.
 *
 * Returns 0, -EINVAL (@ctx or @loop NULL, a POLLPRI watch), -EBUSY
 * (@ctx already has hooks), -ENOMEM, or the errno with which the loop
 * refused an fd: -EPERM (a regular file, which epoll cannot watch),
 * -EMFILE (no fd left for its dup).
 */
OSEV_EXPORT int osev_wayland_attach(osev_ctx *ctx,
                                    struct wl_event_loop *loop);

/*
 * osev_wayland_detach - stop driving @ctx from its loop: every source of
 * ours is removed, and @ctx goes back to pull mode, its watches and
 * timers intact.  As osev_set_hooks(ctx, NULL, 0, NULL), it removes
 * whatever hooks @ctx has, another adapter's too; NULL or an unattached
 * @ctx is fine.  Cannot fail.  Same threads as osev_wayland_attach();
 * may be called from a callback of @ctx.
 */
OSEV_EXPORT void osev_wayland_detach(osev_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* OSEVENT_WAYLAND_H */
