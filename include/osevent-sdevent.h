/*
 * osevent-sdevent.h - an sd-event loop (libsystemd) drives an osevent
 * context.
 *
 * SPDX-License-Identifier: MIT
 *
 * Link with libosevent-sdevent (pkg-config osevent-sdevent).  The loop
 * then holds one io source per distinct fd of the context and one
 * CLOCK_MONOTONIC time source for its earliest deadline, whatever the
 * number of watches and timers.  Every event bit carries over: POLLIN,
 * POLLOUT and POLLPRI are watched, POLLERR and POLLHUP reported as
 * sd-event sees them.  The sources have sd-event's default priority
 * (SD_EVENT_PRIORITY_NORMAL) and a time accuracy of 1 µs, so sd-event
 * does not delay osevent's timers to coalesce wakeups.
 *
 * Embedding the other way round (osevent driving sd-event) needs no
 * adapter: watch sd_event_get_fd() with osev_fd_add().
 */
#ifndef OSEVENT_SDEVENT_H
#define OSEVENT_SDEVENT_H

#include <systemd/sd-event.h>

#include <osevent.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * osev_sdevent_attach - let @e drive @ctx: every fd and the timeout the
 * context has are added to @e as sources at once, all or none, and from
 * then on the registry is mirrored into it as it changes; the sources'
 * callbacks run the context's callbacks from sd_event_run() or
 * sd_event_loop().  A context holds one set of hooks: -EBUSY if @ctx already
 * has some.  @e is a loop from
 * sd_event_new() or sd_event_default(), not the SD_EVENT_DEFAULT
 * placeholder.
 *
 * Owns: the sources it adds (each holds a reference on @e, as every
 * sd-event source does), turned off and unreferenced by
 * osev_sdevent_detach() or osev_ctx_free(), either of which leaves @e
 * with nothing of ours.  @e is not owned: it must outlive the
 * attachment.
 *
 * Threads: an sd-event loop belongs to one thread.  @e runs there, and
 * the context's callbacks run there; the context must be changed
 * (watches, timers, attach, detach, free) only from that thread, since
 * each change may add, change or drop a source.  Not across fork():
 * sd-event refuses a loop made in the parent (-ECHILD); a child may still
 * free or detach an inherited context, which leaves @e alone (see "Fork"
 * in osevent.h).  Not from inside an osevent hook; from a callback of
 * @ctx is fine.
 *
 * Returns 0, -EINVAL (@ctx or @e NULL), -ENOMEM, or sd-event's error for
 * a source it refuses: -EEXIST when @e already watches that fd through a
 * source of yours (epoll holds an fd once), -EPERM for an fd epoll cannot
 * watch (a regular file), -ECHILD after fork()...
 */
OSEV_EXPORT int osev_sdevent_attach(osev_ctx *ctx, sd_event *e);

/*
 * osev_sdevent_detach - stop driving @ctx from its sd-event loop: every
 * source of ours is turned off and unreferenced, and @ctx goes back to
 * pull mode, its watches and timers intact.  As osev_set_hooks(ctx, NULL,
 * 0, NULL), it removes whatever hooks @ctx has, another adapter's too;
 * NULL or an unattached @ctx is fine.  Cannot fail.  Same threads as
 * osev_sdevent_attach(); may be called from a callback of @ctx.
 */
OSEV_EXPORT void osev_sdevent_detach(osev_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* OSEVENT_SDEVENT_H */
