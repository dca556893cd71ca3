/*
 * osevent-glib.h - osevent and GLib, both ways round.
 *
 * SPDX-License-Identifier: MIT
 *
 * osev_glib_attach(): a GLib GMainContext drives an osevent context (the
 * context's fds and timeout live in the GLib loop).
 * osev_glib_host(): an osevent loop drives a GMainContext (a GLib-based
 * library runs inside a program whose loop is osevent's).
 * Use one direction or the other for a given pair, never both.
 */
#ifndef OSEVENT_GLIB_H
#define OSEVENT_GLIB_H

#include <glib.h>
#include <osevent.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * osev_glib_attach - let @gctx drive @ctx: @gctx gets one GSource of ours
 * polling one fd, @ctx's aggregate fd (osev_get_fd(): an epoll set of
 * every fd @ctx watches, its wakeup fd and a timerfd armed for its
 * earliest timer), whatever @ctx watches; when it is readable, GLib's
 * dispatch runs osev_dispatch(), and @ctx's callbacks run from there.  A
 * GLib turn costs the same with ten watches or ten thousand.  The source
 * sets no GLib timeout: the timerfd wakes GLib for the timers.  What @ctx
 * already has is served at once; the call registers all or nothing.
 * @gctx is not referenced: it must outlive the attachment (call
 * osev_glib_detach() or osev_ctx_free() before its last unref).
 * Threads: run @gctx on one thread; @ctx's callbacks then run there.  The
 * registry may be changed from any thread (GLib is woken to see it).
 * While another thread dispatches @ctx or waits in its built-in loop,
 * GLib leaves it to that thread and looks again every few milliseconds.
 * A nested GLib loop run from one of @ctx's callbacks does not serve
 * @ctx (osevent does not dispatch from inside its own callbacks).
 * Returns 0, -EINVAL (NULL argument), -ENOMEM, the errno of a failed fd
 * creation (-EMFILE, -ENFILE...), or -EBUSY: @ctx already has hooks
 * (another adapter, or GLib already: a context holds one set of hooks),
 * or the call was made from inside an osevent hook.  Attached, @ctx refuses
 * other hooks (-EBUSY) until detached.
 */
OSEV_EXPORT int osev_glib_attach(osev_ctx *ctx, GMainContext *gctx);

/*
 * osev_glib_detach - take @ctx out of the GLib context it was attached
 * to: afterwards that context holds nothing of ours (the GSource is
 * destroyed), and @ctx is back in pull mode with its watches and timers
 * intact.  osev_ctx_free() does the same.  NULL is fine, and so is a
 * context that is not attached (any other hooks it has are removed too).
 * Call it from the thread that runs the GLib context, or while that
 * context is not running; a callback of @ctx may call it (GLib then
 * dispatches nothing more of @ctx, but the osevent pass the callback runs
 * in goes on to its end: the callbacks found ready in it still run).
 */
OSEV_EXPORT void osev_glib_detach(osev_ctx *ctx);

/* The bridge that lets an osevent loop drive a GMainContext. */
typedef struct osev_glib_hosting osev_glib_hosting;

/*
 * osev_glib_host - drive @gctx from @ctx's dispatching: the calling
 * thread acquires @gctx (g_main_context_acquire), and from then on each
 * GLib round is run by osevent: the fds and timeout GLib asks for
 * (g_main_context_prepare/query) become osevent watches and one osevent
 * timer, and when one of them fires the bridge calls
 * g_main_context_check() and g_main_context_dispatch() from that osevent
 * callback, then asks GLib again.  GLib's own wakeup fd is among those
 * fds, so sources attached and g_main_context_invoke() calls made from
 * other threads run on the hosting thread.
 * @h_out receives the bridge, the caller's until osev_glib_unhost().
 * Neither context is referenced: both must outlive the bridge.
 * Threads: call it on the thread that dispatches @ctx (which then owns
 * @gctx), and dispatch @ctx on that thread only.  Code of that thread
 * that attaches a GLib source without an fd (an idle, a timeout) from
 * outside a GLib callback - from an osevent callback, say - must call
 * g_main_context_wakeup(@gctx) for the bridge to see it: GLib wakes
 * itself only for other threads.  While a GLib callback runs a nested
 * GLib loop (g_main_loop_run() in a modal wait), osevent is not served.
 * May be called from a callback of @ctx.
 * Returns 0, -EINVAL (NULL argument), -EBUSY (another thread owns
 * @gctx), -ENOMEM.
 */
OSEV_EXPORT int osev_glib_host(osev_ctx *ctx, GMainContext *gctx,
                               osev_glib_hosting **h_out);

/*
 * osev_glib_unhost - end the bridge @h: its watches and timer leave the
 * osevent context at once and @gctx is released, so it can be run with
 * g_main_context_iteration() or hosted again.  Sources in @gctx are
 * untouched.  Call it on the hosting thread: from an osevent callback, a
 * GLib callback the bridge dispatches (then the bridge goes when that
 * dispatch returns), or outside both.  NULL is fine.
 * In a child of fork() (a process other than the one that hosted) the
 * watches and timer stay in the inherited context, whose epoll set the
 * parent shares, for osev_ctx_free() to end; only the bridge's memory
 * goes, and @gctx is released.
 */
OSEV_EXPORT void osev_glib_unhost(osev_glib_hosting *h);

#ifdef __cplusplus
}
#endif

#endif
