/*
 * glib-probe.c - what a GMainContext would poll (see glib-probe.h).
 */
#include "testutil.h" /* first: config.h */

#include "glib-probe.h"

int glib_probe_count(GMainContext *gctx)
{
    GPollFD fds[64];
    gint prio, timeout, n;

    ck_assert(g_main_context_acquire(gctx));
    g_main_context_prepare(gctx, &prio);
    /* G_MAXINT: every source's fds, not only those of the ready ones. */
    n = g_main_context_query(gctx, G_MAXINT, &timeout, fds, G_N_ELEMENTS(fds));
    g_main_context_release(gctx);
    ck_assert_int_ge(n, 1); /* GLib's own wakeup fd */
    ck_assert_int_le(n, (int)G_N_ELEMENTS(fds));
    return n - 1 + (timeout >= 0);
}

void glib_probe_settle(GMainContext *gctx)
{
    for (int i = 0; i < 100; i++)
        if (!g_main_context_iteration(gctx, FALSE))
            return;
    ck_abort_msg("the GLib context does not settle");
}

bool glib_probe_any_ready(GMainContext *gctx)
{
    GPollFD fds[64];
    gint prio, timeout, n;

    ck_assert(g_main_context_acquire(gctx));
    g_main_context_prepare(gctx, &prio);
    n = g_main_context_query(gctx, G_MAXINT, &timeout, fds, G_N_ELEMENTS(fds));
    g_main_context_release(gctx);
    ck_assert_int_le(n, (int)G_N_ELEMENTS(fds));
    return g_poll(fds, (guint)n, 0) > 0;
}
