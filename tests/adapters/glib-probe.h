/*
 * glib-probe.h - what a GMainContext would poll, for the tests that look
 * into GLib to count what an adapter registered there (test-glib,
 * test-virt: libvirt's default loop is GLib's, test-verto's glib module).
 */
#ifndef OSEV_GLIB_PROBE_H
#define OSEV_GLIB_PROBE_H

#include <glib.h>
#include <stdbool.h>

/*
 * The registrations @gctx holds besides GLib's own: the fds it would poll
 * (one record per distinct fd, whatever their sources), less its own
 * wakeup fd, plus one if a timeout is pending.  GLib has no call that
 * lists a context's sources or fds; g_main_context_prepare() works out
 * the timeout and g_main_context_query() lists the fds.  Sources prepare
 * finds ready stay so for the next iteration, which dispatches them as
 * usual.  Acquires @gctx for the while: call it from the thread that runs
 * the context, outside its dispatch.
 */
int glib_probe_count(GMainContext *gctx);

/*
 * For a test of what a child of fork() may write to the fds the parent's
 * GMainContext polls (GLib's wakeup fd is one, shared after fork()):
 * settle runs iterations that do not block until one dispatches nothing,
 * which leaves no fd of @gctx ready that GLib had seen; any_ready then
 * says whether some fd @gctx polls is ready, without consuming it.
 * From the thread that runs the context, outside its dispatch.
 */
void glib_probe_settle(GMainContext *gctx);
bool glib_probe_any_ready(GMainContext *gctx);

#endif
