/*
 * test-verto.c - the push-mode scenario inside real libverto contexts,
 * once per verto module built in: glib, then libev.
 *
 * verto itself cannot say what a context holds, so each verto_ctx is made
 * over a loop the test owns (verto_convert_glib, verto_convert_libev), and
 * that loop is asked instead.  GLib tells how many fds its context polls
 * and whether a timeout is pending: a real count.  libev only tells
 * whether any watcher is active: emptiness, no count.
 */
#include "scenario.h"

#include <stdio.h>
#include <stdlib.h>

#include <verto.h>

#include "osevent-verto.h"

#ifdef OSEV_TEST_VERTO_GLIB
#include <verto-glib.h>

#include "glib-probe.h"
#endif
#ifdef OSEV_TEST_VERTO_LIBEV
#include <verto-libev.h>
#endif

struct vloop {
    verto_ctx *vctx;
#ifdef OSEV_TEST_VERTO_GLIB
    GMainContext *mc; /* borrowed: verto owns it */
#endif
#ifdef OSEV_TEST_VERTO_LIBEV
    struct ev_loop *el; /* borrowed: verto destroys it */
#endif
};

static void loop_free(void *loop)
{
    struct vloop *l = loop;

    verto_free(l->vctx);
    free(l);
}

static int attach(osev_ctx *ctx, void *loop)
{
    return osev_verto_attach(ctx, ((struct vloop *)loop)->vctx);
}

static void iterate(void *loop)
{
    verto_run_once(((struct vloop *)loop)->vctx);
}

static struct vloop *vloop_alloc(void)
{
    struct vloop *l = calloc(1, sizeof *l);

    ck_assert_ptr_nonnull(l);
    return l;
}

#ifdef OSEV_TEST_VERTO_GLIB
/* verto takes over the context's reference. */
static void *glib_new(void)
{
    struct vloop *l = vloop_alloc();

    l->mc = g_main_context_new();
    l->vctx = verto_convert_glib(l->mc, NULL);
    ck_assert_ptr_nonnull(l->vctx);
    return l;
}

/* What the context polls besides GLib's own (glib-probe.h). */
static int glib_count(void *loop)
{
    return glib_probe_count(((struct vloop *)loop)->mc);
}

static bool glib_empty(void *loop)
{
    return glib_count(loop) == 0;
}

static void glib_settle(void *loop)
{
    glib_probe_settle(((struct vloop *)loop)->mc);
}

static bool glib_woken(void *loop)
{
    return glib_probe_any_ready(((struct vloop *)loop)->mc);
}

static const struct scenario_loop glib_loop = {
    .name = "verto-glib",
    .loop_new = glib_new,
    .loop_free = loop_free,
    .attach = attach,
    .detach = osev_verto_detach,
    .iterate = iterate,
    .foreign_count = glib_count,
    .is_empty = glib_empty,
    .settle = glib_settle,
    .woken = glib_woken,
    .refuses_pollpri = true, /* no verto flag for it */
};
#endif

#ifdef OSEV_TEST_VERTO_LIBEV
static void *libev_new(void)
{
    struct vloop *l = vloop_alloc();

    l->el = ev_loop_new(EVFLAG_AUTO);
    ck_assert_ptr_nonnull(l->el);
    l->vctx = verto_convert_libev(l->el);
    ck_assert_ptr_nonnull(l->vctx);
    return l;
}

/* ev_run() returns whether any watcher is still active; libev's own
 * watchers (its signal pipe...) do not count. */
static bool libev_empty(void *loop)
{
    return !ev_run(((struct vloop *)loop)->el, EVRUN_NOWAIT);
}

static const struct scenario_loop libev_loop = {
    .name = "verto-libev",
    .loop_new = libev_new,
    .loop_free = loop_free,
    .attach = attach,
    .detach = osev_verto_detach,
    .iterate = iterate,
    .foreign_count = NULL,
    .is_empty = libev_empty,
    .refuses_pollpri = true, /* no verto flag for it */
    /* libev times from ev_now(), cached at the start of the turn, and
     * verto has no call for ev_now_update(). */
    .timeout_from_turn_start = true,
};
#endif

/* Both modules run, whatever the first gave; 77 (skipped) when there is
 * no module the test can look into. */
int main(void)
{
    bool ran = false, failed = false;

#ifdef OSEV_TEST_VERTO_GLIB
    failed |= scenario_main(&glib_loop) != EXIT_SUCCESS;
    ran = true;
#endif
#ifdef OSEV_TEST_VERTO_LIBEV
    failed |= scenario_main(&libev_loop) != EXIT_SUCCESS;
    ran = true;
#endif
    if (!ran) {
        fputs("test-verto: built without glib or libev: skipped\n", stderr);
        return 77;
    }
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
