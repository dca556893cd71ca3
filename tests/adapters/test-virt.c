/*
 * test-virt.c - the push scenario inside libvirt's default event loop
 * (virEventRegisterDefaultImpl() + virEventRunDefaultImpl()).
 *
 * libvirt has no loop object and no call that counts registrations, so
 * the "loop" is a placeholder and foreign_count is NULL: the scenario's
 * counts are osevent's own (osev_get_hook_stats).  Emptiness is checked
 * in what libvirt's default implementation is made of since libvirt 6.1:
 * GLib's default main context, which the adapter reaches only through
 * libvirt.  Once libvirt's deferred clean-ups (idle sources that unref
 * GSources and run free callbacks) have run, GLib would poll no fd but
 * its own wakeup fd and has no timeout: nothing of ours is left.
 *
 * libvirt's implementation cannot be unregistered: it is registered once
 * per process (a forked test child starts without it).
 */
#include "scenario.h"

#include <glib.h>
#include <stdlib.h>

#include "glib-probe.h"
#include "osevent-virt.h"

static bool registered;
static char virt_loop; /* libvirt's loop is the process's */

static void *virt_new(void)
{
    if (!registered) {
        ck_assert_int_eq(virEventRegisterDefaultImpl(), 0);
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

static void virt_iterate(void *loop)
{
    (void)loop;
    ck_assert_int_eq(virEventRunDefaultImpl(), 0);
}

/* Run libvirt's pending clean-ups without blocking (a bounded number of
 * turns: nothing of ours stays ready once detached). */
static void virt_settle(void)
{
    for (int i = 0; i < 100 && g_main_context_pending(NULL); i++)
        g_main_context_iteration(NULL, FALSE);
}

static bool virt_empty(void *loop)
{
    GMainContext *gctx = g_main_context_default();

    (void)loop;
    virt_settle();
    return glib_probe_count(gctx) == 0 && !g_main_context_pending(gctx);
}

static void virt_settle_loop(void *loop)
{
    (void)loop;
    virt_settle();
    glib_probe_settle(g_main_context_default());
}

static bool virt_woken(void *loop)
{
    (void)loop;
    return glib_probe_any_ready(g_main_context_default());
}

static const struct scenario_loop virt_scenario_loop = {
    .name = "virt",
    .loop_new = virt_new,
    .loop_free = virt_free,
    .attach = virt_attach,
    .detach = osev_virt_detach,
    .iterate = virt_iterate,
    .foreign_count = NULL, /* libvirt cannot tell */
    .is_empty = virt_empty,
    .settle = virt_settle_loop,
    .woken = virt_woken,
    .refuses_pollpri = true, /* no urgent-data event */
    .any_thread = true, /* a timeout added from a thread wakes libvirt */
};

/* ---- what only this adapter decides ---- */

static unsigned fd_regs(osev_ctx *ctx)
{
    struct osev_hook_stats st = { .size = sizeof st };

    ck_assert_osev_ok(osev_get_hook_stats(ctx, &st));
    return st.fd_regs;
}

/* Before any implementation is registered libvirt refuses every
 * registration: attach fails, all or none.  Only meaningful in a process
 * that has not registered yet (a forked child, or this suite running
 * first with CK_FORK=no). */
START_TEST(attach_without_impl_fails)
{
    osev_ctx *ctx = tu_ctx_new();

    if (!registered) {
        ck_assert_osev_err(osev_virt_attach(ctx), -EIO);
        ck_assert_uint_eq(fd_regs(ctx), 0);
    }
    osev_ctx_free(ctx);
}
END_TEST

static Suite *virt_suite(void)
{
    Suite *s = suite_create("virt-only");
    TCase *tc = tcase_create("adapter");

    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, attach_without_impl_fails); /* first: see there */
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int own = tu_run_suite(virt_suite());
    int shared = scenario_main(&virt_scenario_loop);

    return shared != EXIT_SUCCESS ? shared : own;
}
