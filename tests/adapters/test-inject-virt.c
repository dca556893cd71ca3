/*
 * test-inject-virt.c - allocation failure inside libvirt's default event
 * loop (tests/adapters/inject.c): every allocation of osev_virt_attach()
 * and of the registrations made while attached fails in turn.
 *
 * libvirt allocates through GLib, which aborts: only osevent's
 * allocations fail.
 */
#include "inject.h"

#include "glib-probe.h"
#include "osevent-virt.h"

static bool registered;
static char virt_loop;

static void *virt_new(void)
{
    if (!registered) {
        ck_assert_int_eq(virEventRegisterDefaultImpl(), 0);
        /* what GLib makes on first use stays: make it now */
        g_main_context_iteration(g_main_context_default(), FALSE);
        registered = true;
    }
    return &virt_loop;
}

static void virt_free(void *loop)
{
    (void)loop;
}

static int virt_attach(osev_ctx *ctx, void *loop)
{
    (void)loop;
    return osev_virt_attach(ctx);
}

static int virt_iterate(void *loop)
{
    (void)loop;
    return virEventRunDefaultImpl() < 0 ? -1 : 0;
}

/* libvirt's default loop is GLib's default context: once its deferred
 * clean-ups ran, GLib polls nothing of ours and has no timeout. */
static bool virt_empty(void *loop)
{
    GMainContext *gctx = g_main_context_default();

    (void)loop;
    for (int i = 0; i < 100 && g_main_context_pending(NULL); i++)
        g_main_context_iteration(NULL, FALSE);
    return glib_probe_count(gctx) == 0 && !g_main_context_pending(gctx);
}

int main(void)
{
    /* libvirt allocates through GLib, which aborts: only osevent's
     * allocations fail. */
    static const struct inject_loop loop = {
        .name = "virt",
        .loop_new = virt_new,
        .loop_free = virt_free,
        .attach = virt_attach,
        .detach = osev_virt_detach,
        .iterate = virt_iterate,
        .is_empty = virt_empty,
    };

    return inject_main(&loop);
}
