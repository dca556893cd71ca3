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
#include <sys/socket.h>
#include <unistd.h>

#include <verto.h>

#include "osevent-verto.h"

#ifdef OSEV_TEST_VERTO_GLIB
#include <verto-glib.h>
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

/*
 * The fds the context polls, less its own wakeup fd, plus one if a
 * timeout is pending: prepare works out the timeout, query lists the fds
 * (one record per distinct fd).  Sources prepare marks ready stay so for
 * the next iteration, which dispatches them as usual.
 */
static int glib_count(void *loop)
{
    struct vloop *l = loop;
    GPollFD fds[16];
    gint prio, timeout, n;

    ck_assert(g_main_context_acquire(l->mc));
    g_main_context_prepare(l->mc, &prio);
    n = g_main_context_query(l->mc, G_MAXINT, &timeout, fds, 16);
    g_main_context_release(l->mc);
    ck_assert_int_ge(n, 1);
    return n - 1 + (timeout >= 0);
}

static bool glib_empty(void *loop)
{
    return glib_count(loop) == 0;
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
};
#endif

/*
 * The shared scenario never changes a registration's mask to another
 * non-zero one, so fd_change is tested here: a socket's registration
 * grows from POLLIN to POLLIN|POLLOUT (the new bit must be reported) and
 * shrinks back (the old bit must be gone from the foreign watch: left
 * there, the always-writable socket would wake the loop on every turn
 * before the timer fires, which the turn count shows).
 */
static const struct scenario_loop *X;
static int in_calls, out_calls, timer_calls;

static void in_cb(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)arg;
    ck_assert(revents & POLLIN);
    tu_drain(fd);
    in_calls++;
}

static void out_cb(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)fd, (void)arg;
    ck_assert(revents & POLLOUT);
    out_calls++;
}

static void timer_cb(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now, (void)arg;
    timer_calls++;
}

/* Turns of the foreign loop until *count reaches @want (5 s at most). */
static int turn_until(void *loop, const int *count, int want)
{
    osev_time until = osev_now() + osev_s(5);
    int turns = 0;

    while (*count < want) {
        ck_assert_msg(osev_now() < until, "timed out");
        X->iterate(loop);
        turns++;
    }
    return turns;
}

START_TEST(mask_change)
{
    void *loop = X->loop_new();
    osev_ctx *ctx = tu_ctx_new();
    struct osev_hook_stats st = { .size = sizeof st };
    osev_fd *rd, *wr;
    osev_timer *t;
    int sv[2];

    in_calls = out_calls = timer_calls = 0;
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
                                SOCK_CLOEXEC, 0, sv), 0);
    ck_assert_osev_ok(X->attach(ctx, loop));
    ck_assert_osev_ok(osev_fd_add(ctx, sv[0], POLLIN, in_cb, NULL, &rd));
    ck_assert_osev_ok(osev_fd_add(ctx, sv[0], POLLOUT, out_cb, NULL, &wr));
    turn_until(loop, &out_calls, 1);
    osev_fd_remove(wr);
    tu_write_byte(sv[1]);
    turn_until(loop, &in_calls, 1);

    ck_assert_osev_ok(osev_timer_add(ctx, osev_now() + osev_ms(50), timer_cb,
                                     NULL, &t));
    ck_assert_int_le(turn_until(loop, &timer_calls, 1), 5);
    ck_assert_int_eq(out_calls, 1);

    ck_assert_osev_ok(osev_get_hook_stats(ctx, &st));
    ck_assert_uint_eq(st.fd_modifies, 2);
    ck_assert_uint_eq(st.fd_regs, 2); /* the socket and the wakeup fd */
    if (X->foreign_count)
        ck_assert_int_eq(X->foreign_count(loop), 2);
    osev_ctx_free(ctx); /* watch and timer go with it */
    ck_assert(X->is_empty(loop));
    X->loop_free(loop);
    close(sv[0]), close(sv[1]);
}
END_TEST

static int run_extra(const struct scenario_loop *sl)
{
    Suite *s = suite_create(sl->name);
    TCase *tc = tcase_create("mask-change");

    X = sl;
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, mask_change);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}

/* Both modules run, whatever the first gave; 77 (skipped) when there is
 * no module the test can look into. */
int main(void)
{
    bool ran = false, failed = false;

#ifdef OSEV_TEST_VERTO_GLIB
    failed |= scenario_main(&glib_loop) != EXIT_SUCCESS;
    failed |= run_extra(&glib_loop) != EXIT_SUCCESS;
    ran = true;
#endif
#ifdef OSEV_TEST_VERTO_LIBEV
    failed |= scenario_main(&libev_loop) != EXIT_SUCCESS;
    failed |= run_extra(&libev_loop) != EXIT_SUCCESS;
    ran = true;
#endif
    if (!ran) {
        fputs("test-verto: built without glib or libev: skipped\n", stderr);
        return 77;
    }
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
