/*
 * test-glib.c - the push scenario inside a real GLib GMainContext (a
 * fresh one, never the default context).
 *
 * GLib has no call that lists a context's sources or fds, but it says
 * what it would poll (glib-probe.h): every fd of every source, and a
 * timeout while some source has a ready time.  In a context that holds
 * nothing but our GSource that is our count; and a fresh
 * context numbers its sources from 1, so g_main_context_find_source_by_id()
 * over the first ids tells whether any source is left at all.
 */
#include "scenario.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

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

static void glib_iterate(void *loop)
{
    g_main_context_iteration(loop, TRUE);
}

/* Our fd registrations and our timeout (a ready time is set). */
static int glib_count(void *loop)
{
    return glib_probe_count(loop);
}

static bool glib_any_source(GMainContext *gctx)
{
    guint id;

    for (id = 1; id <= 1000; id++)
        if (g_main_context_find_source_by_id(gctx, id))
            return true;
    return false;
}

static bool glib_empty(void *loop)
{
    return glib_count(loop) == 0 && !glib_any_source(loop) &&
           !g_main_context_pending(loop);
}

static void glib_settle(void *loop)
{
    glib_probe_settle(loop);
}

static bool glib_woken(void *loop)
{
    return glib_probe_any_ready(loop);
}

/* Nothing to call: a GMainContext has no fork hook.  A child that runs
 * its copy writes GLib's wakeup fd, the parent's too (a dispatching
 * source's fds leave the poll and come back, each time a wakeup): GLib's
 * doing, which the scenario lets pass for a child that goes on. */
static void glib_child_reinit(void *loop)
{
    (void)loop;
}

/* ---- GLib-specific: what the scenario does not reach ---- */

static void count_cb(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now;
    ++*(int *)arg;
}

/* Removing the last armed timer while attached clears the ready time. */
START_TEST(timer_removed_clears_ready_time)
{
    GMainContext *gctx = g_main_context_new();
    osev_ctx *ctx = tu_ctx_new();
    osev_timer *t;
    int calls = 0;

    ck_assert_osev_ok(osev_glib_attach(ctx, gctx));
    ck_assert_osev_ok(
        osev_timer_add(ctx, osev_now() + osev_s(60), count_cb, &calls, &t));
    ck_assert_int_eq(glib_count(gctx), 2); /* wakeup fd, timeout */
    osev_timer_remove(t);
    ck_assert_int_eq(glib_count(gctx), 1);
    ck_assert_int_eq(calls, 0);
    osev_ctx_free(ctx);
    ck_assert(glib_empty(gctx));
    g_main_context_unref(gctx);
}
END_TEST

/* In the forked child: after the free, the abandoned GSource polls the
 * wakeup fd the free closed (POLLNVAL, ready on every turn): its first
 * dispatch must let GLib remove it, or the child's copy of the context
 * would spin. */
static int spin_check_in_child(osev_ctx *ctx, GMainContext *gctx)
{
    osev_ctx_free(ctx);
    if (!g_main_context_iteration(gctx, FALSE))
        return 2; /* the source was not even there */
    return g_main_context_iteration(gctx, FALSE) ? 3 : 0;
}

START_TEST(fork_abandoned_source_goes_from_child_copy)
{
    GMainContext *gctx = g_main_context_new();
    osev_ctx *ctx = tu_ctx_new();
    int status;
    pid_t pid;

    ck_assert_osev_ok(osev_glib_attach(ctx, gctx));
    glib_probe_settle(gctx);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(spin_check_in_child(ctx, gctx));
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the forked child failed: status %#x", status);
    osev_ctx_free(ctx);
    ck_assert(glib_empty(gctx));
    g_main_context_unref(gctx);
}
END_TEST

static int glib_extra(void)
{
    Suite *s = suite_create("glib-extra");
    TCase *tc = tcase_create("glib");

    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, timer_removed_clears_ready_time);
    tcase_add_test(tc, fork_abandoned_source_goes_from_child_copy);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}

int main(void)
{
    static const struct scenario_loop loop = {
        .name = "glib",
        .loop_new = glib_new,
        .loop_free = glib_free,
        .attach = glib_attach,
        .detach = osev_glib_detach,
        .iterate = glib_iterate,
        .foreign_count = glib_count,
        .is_empty = glib_empty,
        .settle = glib_settle,
        .woken = glib_woken,
        .child_reinit = glib_child_reinit,
        .any_thread = true, /* g_source_set_ready_time() wakes GLib */
    };

    int rc = scenario_main(&loop);

    return glib_extra() != 0 ? EXIT_FAILURE : rc;
}
