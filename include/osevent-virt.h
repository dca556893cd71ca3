/*
 * osevent-virt.h - osevent and libvirt's event loop, both ways round.
 *
 * SPDX-License-Identifier: MIT
 *
 * Link with libosevent-virt (pkg-config osevent-virt).  Two directions:
 *
 *  - osev_virt_attach(): the libvirt event implementation the application
 *    registered (virEventRegisterDefaultImpl() and a thread running
 *    virEventRunDefaultImpl(), or its own virEventRegisterImpl()) hosts
 *    an osevent context.  Through libvirt's public API only: one
 *    virEventAddHandle() per distinct fd of the context and one
 *    virEventAddTimeout() for its earliest deadline, whatever the number
 *    of watches and timers.
 *
 *  - osev_virt_register_impl(): the other way, an osevent context *is*
 *    libvirt's event implementation; libvirt's handles and timeouts become
 *    osevent watches and timers, served by whatever drives the context
 *    (osev_event_wait(), osev_loop_run(), a poll() loop, another adapter).
 *
 * A process has one libvirt event implementation: it is global, cannot be
 * changed once registered, and cannot be unregistered.
 */
#ifndef OSEVENT_VIRT_H
#define OSEVENT_VIRT_H

#include <libvirt/libvirt.h>

#include <osevent.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * osev_virt_attach - let libvirt's registered event implementation drive
 * @ctx: every fd and the timeout the context has are registered with
 * virEventAddHandle() and virEventAddTimeout() at once, all or none, and
 * from then on the registry is mirrored as it changes; libvirt's event
 * loop (virEventRunDefaultImpl(), or the application's own) then runs the
 * context's callbacks.  There is no loop argument: libvirt's is
 * process-wide.  Any number of contexts may be attached.
 *
 * libvirt timers are periodic: the adapter disarms its timer each time it
 * fires, and osevent re-arms it for the next deadline.  libvirt handles
 * have no urgent-data event: a context that asks for POLLPRI cannot be
 * attached (-EINVAL), and a POLLPRI watch added while attached is refused
 * with -EINVAL.  VIR_EVENT_HANDLE_ERROR and _HANGUP arrive as POLLERR and
 * POLLHUP.
 *
 * Owns: the handles and the timer it registers, removed by
 * osev_virt_detach() or osev_ctx_free(), either of which leaves libvirt
 * watching nothing of ours.  The small record behind each registration is
 * freed by libvirt's free callback (ff), which libvirt runs from its loop
 * once no callback can still be on its way: the default implementation
 * does so on its next turn.  The registered implementation must outlive
 * the attachment (it always does: libvirt never unregisters one).
 *
 * Threads: libvirt's loop runs on one thread, and the context's callbacks
 * run there.  The registry may change on any thread (libvirt's event
 * functions are thread-safe); attach, detach and osev_ctx_free() of an
 * attached context belong on the loop's thread, or where the loop is not
 * running.  Not from inside an osevent hook; from a callback of @ctx is
 * fine.
 *
 * Returns 0, -EINVAL (@ctx NULL, a POLLPRI watch), -ENOMEM, -EIO (libvirt
 * refused a registration: typically no event implementation registered
 * yet), or -EBUSY (@ctx already has hooks: detach them first).
 */
OSEV_EXPORT int osev_virt_attach(osev_ctx *ctx);

/*
 * osev_virt_detach - stop libvirt's loop from driving @ctx: every handle
 * and timer of ours is removed, and @ctx goes back to pull mode, its
 * watches and timers intact.  As osev_set_hooks(ctx, NULL, 0, NULL), it
 * removes whatever hooks @ctx has, another adapter's too; NULL or an
 * unattached @ctx is fine.  Cannot fail.  Same threads as
 * osev_virt_attach(); may be called from a callback of @ctx.
 */
OSEV_EXPORT void osev_virt_detach(osev_ctx *ctx);

/*
 * osev_virt_register_impl - make @ctx libvirt's event implementation
 * (virEventRegisterImpl()): each handle libvirt adds becomes an osev_fd
 * watch and each timeout an osev_timer (periodic as libvirt wants: every
 * `frequency` ms, 0 on every dispatch pass, -1 disabled), served whenever
 * @ctx is dispatched: osev_event_wait(), osev_loop_once()/_run(),
 * osev_dispatch(), a poll() loop, or an adapter.  Call it before opening
 * any connection.  libvirt's watch and timer ids are positive and never
 * reused.  libvirt's free callbacks run from a clean stack, at the next
 * dispatch point of @ctx after the removal (never inside
 * virEventRemoveHandle() or virEventRemoveTimeout(), where libvirt holds
 * locks).
 *
 * Owns nothing of the caller's; @ctx is not owned.  Lifetime: the
 * implementation is process-global and libvirt offers no way to
 * unregister it, so @ctx must outlive every libvirt connection and every
 * libvirt object that may use the event loop.  If @ctx is freed anyway,
 * what libvirt still had registered is forgotten (each free callback
 * runs, from osev_ctx_free()) and libvirt's later calls fail cleanly; a
 * new context may then be registered in its place.
 *
 * Fork: in a child of fork() @ctx is the parent's copy, its epoll set
 * one kernel object for both, so the bridge leaves it alone: libvirt's
 * adds fail there, its updates are ignored, a removal only forgets the
 * id, and no free callback runs, not even from osev_ctx_free() (what it
 * would release is the parent's copy; disposing of it may act on what
 * the two share, a socket path or a helper process): the child leaks
 * those objects instead.  Once the child has freed @ctx it may register
 * a context of its own.
 *
 * Threads: libvirt adds, changes and removes handles and timeouts from
 * its own threads too: @ctx must not be made with OSEV_CTX_SINGLE_THREAD
 * (a thread blocked in the built-in loop is woken when libvirt changes
 * the registry).  libvirt's callbacks run on the thread dispatching @ctx.
 * Callable from any thread, not from inside an osevent hook.
 *
 * Returns 0; -EINVAL (@ctx NULL); -ENOMEM; -EBUSY when a context is
 * registered already, or when another event implementation was
 * registered with libvirt first (libvirt would ignore this one).
 */
OSEV_EXPORT int osev_virt_register_impl(osev_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* OSEVENT_VIRT_H */
