/*
 * osevent-tevent.h - a tevent (Samba) context drives an osevent context.
 *
 * SPDX-License-Identifier: MIT
 *
 * Link with libosevent-tevent (pkg-config osevent-tevent).  The tevent
 * context then holds one tevent_fd per distinct fd of the osevent context
 * and one tevent_timer for its earliest deadline, whatever the number of
 * watches and timers.  Any tevent backend works ("poll", "epoll",
 * "standard"...): osevent never hands tevent the same fd twice.
 *
 * tevent has no urgent-data event: a context that asks for POLLPRI
 * cannot be attached (-EINVAL), and a POLLPRI watch added while attached
 * is refused with -EINVAL.  Errors and hang-ups arrive as tevent reports
 * them: as POLLIN for a registration that watches POLLIN.  tevent 0.14
 * does not report them to an fd watched for POLLOUT only (select(2)
 * semantics): it silently stops watching that fd for writing, and the
 * writer learns of the error from its next write(2).  A tevent that has
 * TEVENT_FD_ERROR reports them to every registration, as POLLERR.
 *
 * tevent's timers run on the wall clock (gettimeofday()): the monotonic
 * deadline is converted when the timer is armed, so a step of the wall
 * clock moves the timer by as much.  A timer that fires early only costs
 * a turn: osevent re-arms it for what is left.
 */
#ifndef OSEVENT_TEVENT_H
#define OSEVENT_TEVENT_H

#include <tevent.h>

#include <osevent.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * osev_tevent_attach - let @ev drive @ctx: every fd and the timeout the
 * context has are added to @ev at once, all or none, and from then on
 * the registry is mirrored into it as it changes; tevent's handlers run
 * the context's callbacks from tevent_loop_once() and tevent_loop_wait().
 * A context holds one set of hooks: -EBUSY if @ctx already has some.
 * tevent_loop_wait() does not return
 * for lack of events while @ctx is attached (the wakeup fd is always
 * watched).
 *
 * Owns: the tevent_fd and tevent_timer objects it adds, talloc children
 * of a talloc context of its own (never of @ev or of yours), freed by
 * osev_tevent_detach() or osev_ctx_free(), either of which leaves @ev
 * with nothing of ours.  @ev is not owned: it must outlive the
 * attachment.
 *
 * Threads: a tevent context is not thread-safe.  @ev runs on one thread,
 * and the context's callbacks run there; the context must be changed
 * (watches, timers, attach, detach, free) only from that thread, since
 * each change may add, change or free a tevent object.  Not from inside
 * an osevent hook; from a callback of @ctx is fine.
 *
 * Returns 0, -EINVAL (@ctx or @ev NULL, a POLLPRI watch) or -ENOMEM.
 */
OSEV_EXPORT int osev_tevent_attach(osev_ctx *ctx, struct tevent_context *ev);

/*
 * osev_tevent_detach - stop driving @ctx from its tevent context: every
 * tevent object of ours is freed, and @ctx goes back to pull mode, its
 * watches and timers intact.  As osev_set_hooks(ctx, NULL, 0, NULL), it
 * removes whatever hooks @ctx has, another adapter's too; NULL or an
 * unattached @ctx is fine.  Cannot fail.  Same threads as
 * osev_tevent_attach(); may be called from a callback of @ctx.
 */
OSEV_EXPORT void osev_tevent_detach(osev_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* OSEVENT_TEVENT_H */
