/*
 * pp-glib.c - ping-pong on a GMainContext, driven by
 * g_main_context_iteration(gctx, TRUE):
 *  - glib:         ONE custom GSource holding a GPollFD per pair
 *                  (g_source_add_poll), whose check and dispatch scan
 *                  them: the cheapest native way to watch many fds.
 *                  It may recurse (g_source_set_can_recurse): otherwise
 *                  GLib blocks the source around each dispatch, taking
 *                  every poll fd out of the context and putting it back
 *                  (O(N) list work and two wakeup writes per fd, per
 *                  dispatch);
 *  - osev-on-glib: a default osevent context attached with
 *                  osev_glib_attach(), one osev_fd_add() per pair.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>

#include "osevent-glib.h"

#include "pingpong.h"

static GMainContext *gctx;
static GSource *src;
static osev_ctx *ctx;

struct pairs_source {
    GSource base;
    GPollFD *fds; /* fds[i]: pair i */
};

static gboolean pairs_prepare(GSource *s, gint *timeout)
{
    (void)s;
    *timeout = -1;
    return FALSE;
}

static gboolean pairs_check(GSource *s)
{
    struct pairs_source *ps = (struct pairs_source *)s;

    for (int i = 0; i < pp_n; i++)
        if (ps->fds[i].revents)
            return TRUE;
    return FALSE;
}

static gboolean pairs_dispatch(GSource *s, GSourceFunc cb, gpointer data)
{
    struct pairs_source *ps = (struct pairs_source *)s;

    (void)cb, (void)data;
    for (int i = 0; i < pp_n; i++)
        if (ps->fds[i].revents & G_IO_IN)
            pp_readable(i);
    return G_SOURCE_CONTINUE;
}

static void pairs_finalize(GSource *s)
{
    g_free(((struct pairs_source *)s)->fds);
}

static GSourceFuncs pairs_funcs = {
    .prepare = pairs_prepare,
    .check = pairs_check,
    .dispatch = pairs_dispatch,
    .finalize = pairs_finalize,
};

static void on_fd(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)fd, (void)revents;
    pp_readable((int)(intptr_t)arg);
}

static void prime(void)
{
    while (g_main_context_iteration(gctx, FALSE))
        ;
}

static void native_setup(void)
{
    struct pairs_source *ps;

    gctx = g_main_context_new();
    src = g_source_new(&pairs_funcs, sizeof *ps);
    ps = (struct pairs_source *)src;
    ps->fds = g_new0(GPollFD, pp_n);
    for (int i = 0; i < pp_n; i++) {
        ps->fds[i] = (GPollFD){ .fd = pp_rd[i], .events = G_IO_IN };
        g_source_add_poll(src, &ps->fds[i]);
    }
    g_source_set_can_recurse(src, TRUE);
    g_source_attach(src, gctx);
    prime();
}

static void osev_setup(void)
{
    osev_fd *w;

    gctx = g_main_context_new();
    pp_check(osev_ctx_new(NULL, &ctx), "osev_ctx_new");
    pp_check(osev_glib_attach(ctx, gctx), "osev_glib_attach");
    for (int i = 0; i < pp_n; i++)
        pp_check(osev_fd_add(ctx, pp_rd[i], POLLIN, on_fd,
                             (void *)(intptr_t)i, &w),
                 "osev_fd_add");
    prime();
}

static void once(void)
{
    g_main_context_iteration(gctx, TRUE);
}

static void native_teardown(void)
{
    g_source_destroy(src);
    g_source_unref(src);
    src = NULL;
    g_main_context_unref(gctx);
}

static void osev_teardown(void)
{
    osev_ctx_free(ctx);
    ctx = NULL;
    g_main_context_unref(gctx);
}

const struct pp_mode pp_modes[] = {
    { "glib", native_setup, once, native_teardown },
    { "osev-on-glib", osev_setup, once, osev_teardown },
    { NULL, NULL, NULL, NULL },
};
