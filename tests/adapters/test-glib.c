/*
 * test-glib.c - the push scenario inside a real GLib GMainContext (a
 * fresh one, never the default context).
 *
 * GLib has no call that lists a context's sources or fds, but it says
 * what it would poll: g_main_context_prepare() + g_main_context_query()
 * give every fd of every source plus GLib's own wakeup fd, and a timeout
 * that is not -1 only while some source has a ready time.  In a context
 * that holds nothing but our GSource that is our count; and a fresh
 * context numbers its sources from 1, so g_main_context_find_source_by_id()
 * over the first ids tells whether any source is left at all.
 */
#include "scenario.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

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

/* The fds GLib would poll, without its wakeup fd, plus one if a ready
 * time is set: our fd registrations and our timeout. */
static int glib_count(void *loop)
{
    GMainContext *gctx = loop;
    GPollFD fds[64];
    gint prio, timeout, n;

    ck_assert(g_main_context_acquire(gctx));
    g_main_context_prepare(gctx, &prio);
    n = g_main_context_query(gctx, prio, &timeout, fds, G_N_ELEMENTS(fds));
    g_main_context_release(gctx);
    ck_assert_int_ge(n, 1);
    ck_assert_int_le(n, (int)G_N_ELEMENTS(fds));
    return n - 1 + (timeout >= 0);
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

/* ---- GLib-specific: what the scenario does not reach ---- */

struct two {
    osev_ctx *ctx;
    GMainContext *gctx;
    int a[2], b[2];
    osev_fd *wa, *wb;
    int calls;
    bool free_ctx; /* the first callback frees the context, else detaches */
};

static void two_cb(osev_fd *w, int fd, short revents, void *arg)
{
    struct two *T = arg;

    (void)w, (void)revents;
    tu_drain(fd);
    if (T->calls++ > 0)
        return;
    if (T->free_ctx) {
        osev_ctx_free(T->ctx);
        T->ctx = NULL;
    } else {
        osev_glib_detach(T->ctx);
    }
}

/* Two fds ready in one GLib dispatch; the first callback ends the
 * attachment: the second is not reported through GLib, and the GLib
 * context is left empty, not holding a dangling source. */
static void end_in_callback(bool free_ctx)
{
    struct two T = {.free_ctx = free_ctx};

    T.gctx = g_main_context_new();
    T.ctx = tu_ctx_new();
    tu_pipe(T.a);
    tu_pipe(T.b);
    ck_assert_osev_ok(osev_fd_add(T.ctx, T.a[0], POLLIN, two_cb, &T, &T.wa));
    ck_assert_osev_ok(osev_fd_add(T.ctx, T.b[0], POLLIN, two_cb, &T, &T.wb));
    ck_assert_osev_ok(osev_glib_attach(T.ctx, T.gctx));
    tu_write_byte(T.a[1]);
    tu_write_byte(T.b[1]);
    while (T.calls == 0)
        g_main_context_iteration(T.gctx, TRUE);
    ck_assert_int_eq(T.calls, 1);
    ck_assert(glib_empty(T.gctx));
    if (T.ctx) { /* detached: the other watch still works, pulled */
        while (T.calls < 2)
            ck_assert_int_ge(osev_loop_once(T.ctx, osev_now() + osev_s(5)), 0);
        osev_ctx_free(T.ctx);
    }
    g_main_context_unref(T.gctx);
    close(T.a[0]), close(T.a[1]), close(T.b[0]), close(T.b[1]);
}

START_TEST(detach_from_callback)
{
    end_in_callback(false);
}
END_TEST

START_TEST(ctx_free_from_callback)
{
    end_in_callback(true);
}
END_TEST

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

struct adder {
    osev_ctx *ctx;
    int calls;
};

static void *add_timer_thread(void *arg)
{
    struct adder *A = arg;
    osev_timer *t;

    ck_assert_osev_ok(osev_timer_add(A->ctx, 0, count_cb, &A->calls, &t));
    return NULL;
}

/* A timer added from another thread while GLib blocks with no timeout:
 * setting the ready time wakes GLib, which then runs it. */
START_TEST(timer_from_other_thread_wakes_glib)
{
    GMainContext *gctx = g_main_context_new();
    struct adder A = {.ctx = tu_ctx_new()};
    osev_time until = osev_now() + osev_s(5);
    pthread_t th;

    ck_assert_osev_ok(osev_glib_attach(A.ctx, gctx));
    ck_assert_int_eq(pthread_create(&th, NULL, add_timer_thread, &A), 0);
    while (A.calls == 0) {
        ck_assert(osev_now() < until);
        g_main_context_iteration(gctx, TRUE);
    }
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    osev_ctx_free(A.ctx);
    ck_assert(glib_empty(gctx));
    g_main_context_unref(gctx);
}
END_TEST

static int glib_extra(void)
{
    Suite *s = suite_create("glib-extra");
    TCase *tc = tcase_create("glib");

    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, detach_from_callback);
    tcase_add_test(tc, ctx_free_from_callback);
    tcase_add_test(tc, timer_removed_clears_ready_time);
    tcase_add_test(tc, timer_from_other_thread_wakes_glib);
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
    };

    int rc = scenario_main(&loop);

    return glib_extra() != 0 ? EXIT_FAILURE : rc;
}
