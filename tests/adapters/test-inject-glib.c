/*
 * test-inject-glib.c - allocation failure inside a GLib GMainContext
 * (tests/adapters/inject.c): every allocation of osev_glib_attach() and
 * of the registrations made while attached fails in turn; and the other
 * way round, osev_glib_host() and a round of the bridge.
 *
 * GLib aborts when an allocation fails: only osevent's fail.
 */
#include "inject.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>

#include "glib-probe.h"
#include "osevent-glib.h"

static void *glib_new(void)
{
    return g_main_context_new();
}

static void glib_free(void *loop)
{
    g_main_context_unref(loop);
}

static int glib_attach(osev_ctx *ctx, void *loop)
{
    return osev_glib_attach(ctx, loop);
}

static int glib_iterate(void *loop)
{
    g_main_context_iteration(loop, TRUE);
    return 0;
}

static bool glib_empty(void *loop)
{
    for (guint id = 1; id <= 1000; id++)
        if (g_main_context_find_source_by_id(loop, id))
            return false;
    return glib_probe_count(loop) == 0;
}

/* GLib aborts when an allocation fails: only osevent's fail. */
static const struct inject_loop glib_loop = {
    .name = "glib",
    .loop_new = glib_new,
    .loop_free = glib_free,
    .attach = glib_attach,
    .detach = osev_glib_detach,
    .iterate = glib_iterate,
    .is_empty = glib_empty,
};

/* ---- osev_glib_host: osevent runs a GMainContext ---- */

static struct host {
    osev_ctx *ctx;
    GMainContext *gctx;
    osev_glib_hosting *h;
    int p[2], q[2];
    int fd_calls, q_calls, tmo_calls;
    int fds0;
} H;

static gboolean host_fd_cb(gint fd, GIOCondition cond, gpointer data)
{
    (void)cond;
    tu_drain(fd);
    ++*(int *)data;
    return G_SOURCE_CONTINUE;
}

static gboolean host_tmo_cb(gpointer data)
{
    (void)data;
    H.tmo_calls++;
    return G_SOURCE_REMOVE;
}

static void add_fd_source(int fd, int *calls)
{
    GSource *src = g_unix_fd_source_new(fd, G_IO_IN);

    g_source_set_callback(src, (GSourceFunc)(void (*)(void))host_fd_cb,
                          calls, NULL);
    g_source_attach(src, H.gctx);
    g_source_unref(src);
}

/* A GLib context with an fd source and a timeout, and an osevent context
 * with nothing yet. */
static void host_world(void)
{
    GSource *tmo;

    memset(&H, 0, sizeof H);
    H.fds0 = tu_count_fds();
    ck_assert_int_eq(inj_ctx_live(), 0);
    H.gctx = g_main_context_new();
    H.ctx = inj_ctx_new();
    tu_pipe(H.p);
    tu_pipe(H.q);
    add_fd_source(H.p[0], &H.fd_calls);
    tmo = g_timeout_source_new(5);
    g_source_set_callback(tmo, host_tmo_cb, NULL, NULL);
    g_source_attach(tmo, H.gctx);
    g_source_unref(tmo);
}

/* Run the osevent loop until a GLib source ran.  A turn may fail for
 * want of memory (the loop's own buffers) while a failure is armed: the
 * application runs the next one. */
static void host_run_until(const int *calls, int want, bool armed)
{
    osev_time give_up = osev_now() + osev_s(5);

    while (*calls < want) {
        int r;

        ck_assert_msg(osev_now() < give_up, "GLib's source did not run");
        r = osev_loop_once(H.ctx, osev_now() + osev_ms(50));
        ck_assert_msg(r >= 0 || r == -ETIMEDOUT || (armed && r == -ENOMEM),
                      "loop_once: %d", r);
    }
}

static void host_free(void)
{
    osev_glib_unhost(H.h);
    osev_ctx_free(H.ctx);
    ck_assert_int_eq(inj_ctx_live(), 0);
    g_main_context_unref(H.gctx);
    close(H.p[0]), close(H.p[1]), close(H.q[0]), close(H.q[1]);
    ck_assert_int_eq(tu_count_fds(), H.fds0);
}

/*
 * osev_glib_host() with the k-th allocation failing: -ENOMEM with the
 * GLib context released and nothing left in osevent, or (a watch osevent
 * could not make) the bridge polls that fd itself; either way GLib's
 * sources then run from the osevent loop.
 */
START_TEST(glib_host)
{
    int ours = 0, coped = 0;
    long k;

    for (k = 0;; k++) {
        bool failed;
        int r, n;

        host_world();
        n = tu_needed(H.ctx);
        inj_arm(k, NULL);
        r = osev_glib_host(H.ctx, H.gctx, &H.h);
        failed = inj_disarm();
        if (failed) {
            ck_assert(inj_failed_ours());
            ours++;
            ck_assert_msg(r == -ENOMEM || r == 0,
                          "glib_host, allocation %ld failing (in %s): %d",
                          k, inj_failed_where(), r);
        } else {
            ck_assert_osev_ok(r);
        }
        if (r < 0) {
            ck_assert_int_eq(tu_needed(H.ctx), n);
            ck_assert(!g_main_context_is_owner(H.gctx));
            ck_assert(g_main_context_acquire(H.gctx));
            g_main_context_release(H.gctx);
            ck_assert_osev_ok(osev_glib_host(H.ctx, H.gctx, &H.h));
        } else {
            coped += failed;
        }
        tu_write_byte(H.p[1]);
        host_run_until(&H.fd_calls, 1, false);
        host_run_until(&H.tmo_calls, 1, false);
        host_free();
        if (!failed)
            break;
        ck_assert_int_lt(k, 1000);
    }
    printf("inject: glib host: %ld allocation points (%d osevent's, the "
           "bridge polled for itself after %d)\n",
           k, ours, coped);
}
END_TEST

/*
 * The bridge running: GLib gets a new fd source, and the round that
 * mirrors it runs with the k-th allocation failing; the bridge then
 * polls the fd itself, and the source runs all the same.
 */
START_TEST(glib_host_new_fd_in_a_round)
{
    long k;

    for (k = 0;; k++) {
        bool failed;

        host_world();
        ck_assert_osev_ok(osev_glib_host(H.ctx, H.gctx, &H.h));
        add_fd_source(H.q[0], &H.q_calls);
        g_main_context_wakeup(H.gctx);
        tu_write_byte(H.q[1]);
        inj_arm(k, NULL);
        host_run_until(&H.q_calls, 1, true);
        failed = inj_disarm();
        if (failed)
            ck_assert(inj_failed_ours());
        tu_write_byte(H.p[1]);
        host_run_until(&H.fd_calls, 1, false);
        host_run_until(&H.tmo_calls, 1, false);
        host_free();
        if (!failed)
            break;
        ck_assert_int_lt(k, 1000);
    }
    printf("inject: glib host, a new fd in a round: %ld allocation points\n",
           k);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("glib-host");
    TCase *tc = tcase_create("host");
    int attach_rc, host_rc;

    attach_rc = inject_main(&glib_loop);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, glib_host);
    tcase_add_test(tc, glib_host_new_fd_in_a_round);
    suite_add_tcase(s, tc);
    host_rc = tu_run_suite(s);
    return attach_rc != EXIT_SUCCESS ? attach_rc : host_rc;
}
