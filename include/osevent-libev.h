/*
 * osevent-libev.h - a libev loop drives an osevent context.
 *
 * SPDX-License-Identifier: MIT
 *
 * Link with libosevent-libev (pkg-config osevent-libev).  The loop then
 * holds one ev_io watcher per distinct fd of the context and one ev_timer
 * for its earliest deadline, whatever the number of watches and timers.
 *
 * libev has no urgent-data event: a context that asks for POLLPRI cannot
 * be attached (-EINVAL), and a POLLPRI watch added while attached is
 * refused with -EINVAL.  Errors and hang-ups arrive as libev reports
 * them: as readiness for the events watched (POLLIN, POLLOUT), or as
 * POLLNVAL when libev finds the fd invalid (EV_ERROR; it then stops the
 * watcher itself).
 */
#ifndef OSEVENT_LIBEV_H
#define OSEVENT_LIBEV_H

#include <ev.h>

#include <osevent.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * osev_libev_attach - let @loop drive @ctx: every fd and the timeout the
 * context has are started as watchers in @loop at once, all or none, and
 * from then on the registry is mirrored into it as it changes; the
 * watchers' callbacks run the context's callbacks from ev_run().
 * A context holds one set of hooks: -EBUSY if @ctx already has some.  The
 * watchers keep a reference on the
 * loop, as any active watcher does: ev_run() does not return for lack of
 * watchers while @ctx is attached (the wakeup fd is always watched).
 *
 * Owns: the watchers it starts, stopped by osev_libev_detach() or
 * osev_ctx_free(), either of which leaves @loop with nothing of ours.
 * @loop is not owned: it must outlive the attachment.
 *
 * Threads: libev loops are not thread-safe.  @loop runs on one thread,
 * and the context's callbacks run there; the context must be changed
 * (watches, timers, attach, detach, free) only from that thread, or with
 * the application's own lock serialising it with the loop (libev's
 * ev_set_loop_release_cb) and an ev_async waking the loop.  Not from
 * inside an osevent hook; from a callback of @ctx is fine.
 *
 * Returns 0, -EINVAL (@ctx or @loop NULL, a POLLPRI watch) or -ENOMEM.
 */
OSEV_EXPORT int osev_libev_attach(osev_ctx *ctx, struct ev_loop *loop);

/*
 * osev_libev_detach - stop driving @ctx from its loop: every watcher of
 * ours is stopped, and @ctx goes back to pull mode, its watches and
 * timers intact.  As osev_set_hooks(ctx, NULL, 0, NULL), it removes
 * whatever hooks @ctx has, another adapter's too; NULL or an unattached
 * @ctx is fine.  Cannot fail.  Same threads as osev_libev_attach(); may
 * be called from a callback of @ctx.
 */
OSEV_EXPORT void osev_libev_detach(osev_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* OSEVENT_LIBEV_H */
