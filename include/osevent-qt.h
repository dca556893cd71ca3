/*
 * osevent-qt.h - a Qt event loop drives an osevent context.
 *
 * SPDX-License-Identifier: MIT
 *
 * Link with libosevent-qt (pkg-config osevent-qt), a C++ library built on
 * QtCore (Qt 6, or Qt 5 where configure found only that) whose two calls
 * are plain C: this header includes no Qt header, and compiles as C and
 * as C++.  The loop is the Qt event dispatcher of the thread that
 * attaches, whatever runs it (QCoreApplication::exec(), a QEventLoop,
 * QThread::exec(), processEvents(), or GLib's loop under Qt's GLib
 * dispatcher).  It then holds one QSocketNotifier per distinct fd of the
 * context and kind of event (Read for POLLIN, Write for POLLOUT,
 * Exception for POLLPRI) and one precise timer for its earliest deadline,
 * whatever the number of watches and timers.
 *
 * Qt reports no hang-up or error of its own: they arrive as Qt reports
 * them, as readiness for the events watched.  Its timers count whole
 * milliseconds: a deadline fires up to 1 ms after it is due, never
 * before.
 */
#ifndef OSEVENT_QT_H
#define OSEVENT_QT_H

#include <osevent.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * osev_qt_attach - let the calling thread's Qt event dispatcher drive
 * @ctx: every fd and the timeout the context has become socket notifiers
 * and a timer there at once, all or none, and from then on the registry
 * is mirrored into it as it changes; their events run the context's
 * callbacks from whatever runs that thread's Qt event loop.  A context
 * holds one set of hooks: -EBUSY if @ctx already has some.
 *
 * Owns: the notifiers and the timer it makes (QObjects of that thread),
 * destroyed by osev_qt_detach() or osev_ctx_free(), either of which
 * leaves the dispatcher with nothing of ours.  The dispatcher is not
 * owned: it must outlive the attachment (on the main thread, the
 * QCoreApplication is destroyed after the detach or the free; on a
 * QThread, the thread finishes after it).
 *
 * Threads: the thread that attaches is the loop's, and needs a Qt event
 * dispatcher: the main thread once the QCoreApplication (or
 * QGuiApplication, QApplication) exists, a QThread once it runs.  Qt's
 * notifiers and timers are used from their own thread only, so the
 * context must be changed (watches, timers, attach, detach, free) only
 * from that thread.  A change made from another thread that needs a new
 * or changed notifier or timer is refused: the osevent call that made it
 * (osev_fd_add(), osev_timer_set()...) fails with EPERM and changes
 * nothing.  A detach or free from another thread is not allowed.  Not
 * from inside an osevent hook; from a callback of @ctx is fine.
 *
 * Returns 0, -EINVAL (@ctx NULL, or the calling thread has no Qt event
 * dispatcher) or -ENOMEM.
 */
OSEV_EXPORT int osev_qt_attach(osev_ctx *ctx);

/*
 * osev_qt_detach - stop driving @ctx from the Qt event loop: every
 * notifier and timer of ours is destroyed, and @ctx goes back to pull
 * mode, its watches and timers intact.  As osev_set_hooks(ctx, NULL, 0,
 * NULL), it removes whatever hooks @ctx has, another adapter's too; NULL
 * or an unattached @ctx is fine.  Cannot fail.  From the thread that
 * attached only, as osev_qt_attach() says; may be called from a callback
 * of @ctx.
 */
OSEV_EXPORT void osev_qt_detach(osev_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* OSEVENT_QT_H */
