/*
 * qt-probe.h - what the main thread's Qt event dispatcher holds, for the
 * tests of the Qt adapter (test-qt.cpp, test-inject-qt.cpp).
 *
 * Qt has no call that lists a dispatcher's socket notifiers or says
 * whether it has a timer, so the probe reads what the dispatcher hands to
 * the system.  Under Qt's GLib dispatcher: GLib's own account of the
 * thread's GMainContext (glib-probe.h), whose poll records are Qt's
 * notifiers (one per distinct fd) and GLib's wakeup fd, and whose
 * timeout is Qt's next timer.  Under Qt's UNIX dispatcher: the pollfds
 * and timeout of its ppoll() call (the program interposes ppoll), one
 * pollfd per distinct fd of its notifiers plus its own wakeup eventfd,
 * last, and a timeout exactly while a timer is registered.  Either way
 * the count is the registrations of ours: distinct fds, plus one while a
 * timer runs (Qt keeps no notifier or timer of its own on the main
 * thread of a QCoreApplication).
 */
#ifndef OSEV_QT_PROBE_H
#define OSEV_QT_PROBE_H

/* Once the QCoreApplication exists: find which dispatcher it made, and
 * deliver the events Qt posted while starting. */
void qt_probe_init();

/* Whether the dispatcher is Qt's GLib one. */
bool qt_probe_glib();

/* Distinct fds of the notifiers, plus one if a timer is registered.
 * Under the UNIX dispatcher this runs one turn of the loop (woken first,
 * so it does not block), which dispatches whatever is ready then. */
int qt_probe_count();

/* GLib dispatcher only: run turns that do not block until none
 * dispatches anything; then whether some fd GLib polls is ready. */
void qt_probe_settle();
bool qt_probe_woken();

#endif
