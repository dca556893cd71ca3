/*
 * test-inject-verto.c - allocation failure inside libverto, over its
 * glib and libev modules (those built in; tests/adapters/inject.c): every
 * allocation of attach and of the registrations made while attached
 * fails in turn.
 *
 * libverto's own allocations (its events) fail cleanly and fail too; its
 * modules' loops (GLib, libev) abort, so theirs do not.
 */
#include "inject.h"

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
    void *mc; /* glib module: the GMainContext, borrowed (verto owns it) */
    void *el; /* libev module: the ev_loop, borrowed */
};

static void vt_free(void *loop)
{
    verto_free(((struct vloop *)loop)->vctx);
    free(loop);
}

static int vt_attach(osev_ctx *ctx, void *loop)
{
    return osev_verto_attach(ctx, ((struct vloop *)loop)->vctx);
}

static int vt_iterate(void *loop)
{
    verto_run_once(((struct vloop *)loop)->vctx);
    return 0;
}

static struct vloop *vloop_alloc(void)
{
    struct vloop *l = calloc(1, sizeof *l);

    ck_assert_ptr_nonnull(l);
    return l;
}

/* libverto's own allocations (its events) fail cleanly; its modules'
 * loops (GLib, libev) abort, so theirs are not failed. */
static const char *const vt_may_fail[] = { "libverto.", NULL };

#ifdef OSEV_TEST_VERTO_GLIB
static void *vt_glib_new(void)
{
    struct vloop *l = vloop_alloc();

    l->mc = g_main_context_new();
    l->vctx = verto_convert_glib(l->mc, NULL);
    ck_assert_ptr_nonnull(l->vctx);
    return l;
}

static bool vt_glib_empty(void *loop)
{
    return glib_probe_count(((struct vloop *)loop)->mc) == 0;
}
#endif

#ifdef OSEV_TEST_VERTO_LIBEV
static void *vt_libev_new(void)
{
    struct vloop *l = vloop_alloc();

    l->el = ev_loop_new(EVFLAG_AUTO);
    ck_assert_ptr_nonnull(l->el);
    l->vctx = verto_convert_libev(l->el);
    ck_assert_ptr_nonnull(l->vctx);
    return l;
}

static bool vt_libev_empty(void *loop)
{
    return !ev_run(((struct vloop *)loop)->el, EVRUN_NOWAIT);
}
#endif

int main(void)
{
    bool ran = false, failed = false;

#ifdef OSEV_TEST_VERTO_GLIB
    {
        static const struct inject_loop loop = {
            .name = "verto-glib",
            .loop_new = vt_glib_new,
            .loop_free = vt_free,
            .attach = vt_attach,
            .detach = osev_verto_detach,
            .iterate = vt_iterate,
            .is_empty = vt_glib_empty,
            .may_fail = vt_may_fail,
        };

        failed |= inject_main(&loop) != EXIT_SUCCESS;
        ran = true;
    }
#endif
#ifdef OSEV_TEST_VERTO_LIBEV
    {
        static const struct inject_loop loop = {
            .name = "verto-libev",
            .loop_new = vt_libev_new,
            .loop_free = vt_free,
            .attach = vt_attach,
            .detach = osev_verto_detach,
            .iterate = vt_iterate,
            .is_empty = vt_libev_empty,
            .may_fail = vt_may_fail,
        };

        failed |= inject_main(&loop) != EXIT_SUCCESS;
        ran = true;
    }
#endif
    if (!ran) {
        fputs("test-inject-verto: no verto module to look into: skipped\n",
              stderr);
        return 77;
    }
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
