/*
 * osevent-verto.h - a libverto context drives an osevent context.
 *
 * SPDX-License-Identifier: MIT
 *
 * Link with libosevent-verto (pkg-config osevent-verto).  The verto_ctx
 * then holds one persistent io event per distinct fd of the context and
 * one one-shot timeout event for its earliest deadline, whatever the
 * number of watches and timers.  Any verto module that provides io and
 * timeout events will do (glib, libev, libevent, tevent...).
 *
 * verto has no urgent-data flag, and its read flag means POLLIN|POLLPRI
 * in one module and POLLIN alone in another: a context that asks for
 * POLLPRI cannot be attached (-EINVAL), and a POLLPRI watch added while
 * attached is refused with -EINVAL.  verto folds POLLERR, POLLHUP and
 * POLLNVAL into one error flag and then hides readability: on that flag
 * the adapter asks poll(2) for the exact bits, so a hang-up with data
 * still to read arrives as POLLIN|POLLHUP.
 *
 * A module's timeouts count milliseconds from its own idea of now, which
 * may be cached (libev's is when the turn began): then a timeout can
 * fire early, which osevent notices and re-arms for the rest.
 */
#ifndef OSEVENT_VERTO_H
#define OSEVENT_VERTO_H

#include <verto.h>

#include <osevent.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * osev_verto_attach - let @vctx drive @ctx: every fd and the timeout the
 * context has are added as events to @vctx at once, all or none, and
 * from then on the registry is mirrored into it as it changes; the
 * events' callbacks run the context's callbacks from verto_run() or
 * verto_run_once().  A context holds one set of hooks: -EBUSY if @ctx
 * already has some.
 *
 * Owns: the verto events it adds, deleted by osev_verto_detach() or
 * osev_ctx_free(), either of which leaves @vctx with nothing of ours.
 * @vctx is not owned: it must outlive the attachment (verto_free() would
 * delete the events under the adapter's feet).
 *
 * Threads: verto contexts are not thread-safe, and osevent calls into
 * the context from whichever thread changes the registry.  @vctx runs on
 * one thread, the context's callbacks run there, and the context must be
 * changed (watches, timers, attach, detach, free) only from that thread.
 * Not from inside an osevent hook; from a callback of @ctx is fine.
 *
 * Returns 0, -EINVAL (@ctx or @vctx NULL, a POLLPRI watch) or -ENOMEM
 * (verto could not add an event: it does not say why).
 */
OSEV_EXPORT int osev_verto_attach(osev_ctx *ctx, verto_ctx *vctx);

/*
 * osev_verto_detach - stop driving @ctx from its verto context: every
 * event of ours is deleted, and @ctx goes back to pull mode, its watches
 * and timers intact.  As osev_set_hooks(ctx, NULL, 0, NULL), it removes
 * whatever hooks @ctx has, another adapter's too; NULL or an unattached
 * @ctx is fine.  Cannot fail.  Same threads as osev_verto_attach(); may
 * be called from a callback of @ctx.
 */
OSEV_EXPORT void osev_verto_detach(osev_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* OSEVENT_VERTO_H */
