/*
 * osevent-libevent.h - a libevent event_base drives an osevent context.
 *
 * SPDX-License-Identifier: MIT
 *
 * Link with libosevent-libevent (pkg-config osevent-libevent).  The base
 * then holds one struct event per distinct fd of the context (EV_PERSIST,
 * EV_READ and/or EV_WRITE) and one timer event for its earliest deadline,
 * whatever the number of watches and timers.
 *
 * libevent has no urgent-data event: a context that asks for POLLPRI
 * cannot be attached (-EINVAL), and a POLLPRI watch added while attached
 * is refused with -EINVAL.  Errors and hang-ups arrive as libevent
 * reports them: as readiness for the events watched (POLLIN, POLLOUT).
 */
#ifndef OSEVENT_LIBEVENT_H
#define OSEVENT_LIBEVENT_H

#include <event2/event.h>

#include <osevent.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * osev_libevent_attach - let @base drive @ctx: every fd and the timeout
 * the context has are added to @base at once, all or none, and from then
 * on the registry is mirrored into it as it changes; the events' callbacks
 * run the context's callbacks from event_base_loop() or
 * event_base_dispatch().  A context holds one set of hooks: -EBUSY if @ctx
 * already has some.
 *
 * Owns: the events it adds to @base, freed by osev_libevent_detach() or
 * osev_ctx_free(), either of which leaves @base with nothing of ours.
 * @base is not owned: it must outlive the attachment.
 *
 * Threads: @base runs on one thread, and the context's callbacks run
 * there.  A watch or timer changed on another thread adds or changes an
 * event from that thread: the base must then have been made after
 * evthread_use_pthreads() (or equivalent), else change the context only
 * from the loop's thread.  Not from inside an osevent hook; from a
 * callback of @ctx is fine.
 *
 * Returns 0, -EINVAL (@ctx or @base NULL, a POLLPRI watch), -ENOMEM, or
 * the error libevent met (-errno, -EIO when it gave none).
 */
OSEV_EXPORT int osev_libevent_attach(osev_ctx *ctx, struct event_base *base);

/*
 * osev_libevent_detach - stop driving @ctx from its base: every event of
 * ours is deleted and freed, and @ctx goes back to pull mode, its watches
 * and timers intact.  As osev_set_hooks(ctx, NULL, 0, NULL), it removes
 * whatever hooks @ctx has, another adapter's too; NULL or an unattached
 * @ctx is fine.  Cannot fail.  Same threads as osev_libevent_attach();
 * may be called from a callback of @ctx.
 */
OSEV_EXPORT void osev_libevent_detach(osev_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* OSEVENT_LIBEVENT_H */
