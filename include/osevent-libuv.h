/*
 * osevent-libuv.h - a libuv loop drives an osevent context.
 *
 * SPDX-License-Identifier: MIT
 *
 * Link with libosevent-libuv (pkg-config osevent-libuv).  The loop then
 * holds one uv_poll_t per distinct fd of the context and one uv_timer_t
 * for its earliest deadline, whatever the number of watches and timers.
 *
 * As any uv_poll_t does, registering an fd puts it in non-blocking mode,
 * and an fd that another handle of the same loop already polls cannot be
 * registered (-EEXIST).  POLLIN, POLLOUT and POLLPRI map to UV_READABLE,
 * UV_WRITABLE and UV_PRIORITIZED.  A hang-up arrives as libuv reports it,
 * as readiness for the events watched; an error on the fd as POLLERR,
 * after which libuv has stopped that handle until the watches on the fd
 * change.
 *
 * libuv closes handles asynchronously: after osev_libuv_detach() or
 * osev_ctx_free() the handles of ours are closing, not yet closed.  The
 * loop's next turn (uv_run() in any mode) finishes them and frees their
 * memory; only then can uv_loop_close() succeed.
 */
#ifndef OSEVENT_LIBUV_H
#define OSEVENT_LIBUV_H

#include <uv.h>

#include <osevent.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * osev_libuv_attach - let @loop drive @ctx: every fd and the timeout the
 * context has are started as handles in @loop at once, all or none, and
 * from then on the registry is mirrored into it as it changes; the
 * handles' callbacks run the context's callbacks from uv_run().  A
 * context holds one set of hooks: -EBUSY if @ctx already has some.  The
 * handles are active and referenced: uv_run()
 * does not return for lack of work while @ctx is attached (the wakeup fd
 * is always polled).
 *
 * Owns: the handles it makes, closed by osev_libuv_detach() or
 * osev_ctx_free(), either of which leaves @loop with nothing of ours once
 * it has turned once more (see above).  @loop is not owned: it must
 * outlive the attachment and those last close callbacks.
 *
 * Threads: libuv loops are not thread-safe, and osevent calls into the
 * loop from whichever thread changes the registry.  @loop runs on one
 * thread, the context's callbacks run there, and the context must be
 * changed (watches, timers, attach, detach, free) only from that thread.
 * Not from inside an osevent hook; from a callback of @ctx is fine.
 *
 * Returns 0, -EINVAL (@ctx or @loop NULL), -ENOMEM, or libuv's error for
 * an fd it cannot poll (-EEXIST, -EPERM for a regular file, ...).
 */
OSEV_EXPORT int osev_libuv_attach(osev_ctx *ctx, uv_loop_t *loop);

/*
 * osev_libuv_detach - stop driving @ctx from its loop: every handle of
 * ours is closed (freed at the loop's next turn), and @ctx goes back to
 * pull mode, its watches and timers intact.  As osev_set_hooks(ctx, NULL,
 * 0, NULL), it removes whatever hooks @ctx has, another adapter's too;
 * NULL or an unattached @ctx is fine.  Cannot fail.  Same threads as
 * osev_libuv_attach(); may be called from a callback of @ctx.
 */
OSEV_EXPORT void osev_libuv_detach(osev_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* OSEVENT_LIBUV_H */
