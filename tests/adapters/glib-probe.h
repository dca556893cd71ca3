/*
 * glib-probe.h - what a GMainContext would poll, for the tests that look
 * into GLib to count what an adapter registered there (test-glib,
 * test-virt: libvirt's default loop is GLib's, test-verto's glib module).
 */
#ifndef OSEV_GLIB_PROBE_H
#define OSEV_GLIB_PROBE_H

#include <glib.h>

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

#endif
