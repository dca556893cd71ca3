/*
 * test-inject-adapters.c - allocation failure in every adapter's attach
 * and registrations (tests/adapters/inject.c), and in both bridges.
 *
 * One source, one program per loop: built with -DOSEV_INJECT_<LOOP> for
 * each loop configure found (a program per loop, since libev and
 * libevent export clashing names).  Each section says how to make, run
 * and inspect its loop, as the adapter's own test does, and which of the
 * loop's libraries cope with a failed allocation (their allocations are
 * failed too) and which abort (theirs are not).
 */
#include "inject.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ==================================================================== */
#if defined(OSEV_INJECT_GLIB)

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

/* ==================================================================== */
#elif defined(OSEV_INJECT_LIBEVENT)

#include <event2/event.h>

#include "osevent-libevent.h"

static void *lev_new(void)
{
    struct event_config *cfg = event_config_new();
    struct event_base *base;

    ck_assert_ptr_nonnull(cfg);
    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    return base;
}

static void lev_free(void *loop)
{
    event_base_free(loop);
}

static int lev_attach(osev_ctx *ctx, void *loop)
{
    return osev_libevent_attach(ctx, loop);
}

static int lev_iterate(void *loop)
{
    return event_base_loop(loop, EVLOOP_ONCE) < 0 ? -1 : 0;
}

static bool lev_empty(void *loop)
{
    return event_base_get_num_events(loop, EVENT_BASE_COUNT_ADDED |
                                               EVENT_BASE_COUNT_ACTIVE) == 0;
}

/* libevent returns an error when its allocator fails. */
static const char *const lev_may_fail[] = { "libevent-", "libevent_",
                                              NULL };

int main(void)
{
    static const struct inject_loop loop = {
        .name = "libevent",
        .loop_new = lev_new,
        .loop_free = lev_free,
        .attach = lev_attach,
        .detach = osev_libevent_detach,
        .iterate = lev_iterate,
        .is_empty = lev_empty,
        .may_fail = lev_may_fail,
    };

    return inject_main(&loop);
}

/* ==================================================================== */
#elif defined(OSEV_INJECT_LIBEV)

#include <ev.h>

#include "osevent-libev.h"

static void *lv_new(void)
{
    return ev_loop_new(EVFLAG_AUTO);
}

static void lv_free(void *loop)
{
    ev_loop_destroy(loop);
}

static int lv_attach(osev_ctx *ctx, void *loop)
{
    return osev_libev_attach(ctx, loop);
}

static int lv_iterate(void *loop)
{
    ev_run(loop, EVRUN_ONCE);
    return 0;
}

static bool lv_empty(void *loop)
{
    return ev_run(loop, EVRUN_NOWAIT) == 0;
}

int main(void)
{
    /* libev aborts when an allocation fails: only osevent's fail. */
    static const struct inject_loop loop = {
        .name = "libev",
        .loop_new = lv_new,
        .loop_free = lv_free,
        .attach = lv_attach,
        .detach = osev_libev_detach,
        .iterate = lv_iterate,
        .is_empty = lv_empty,
    };

    return inject_main(&loop);
}

/* ==================================================================== */
#elif defined(OSEV_INJECT_LIBUV)

#include <uv.h>

#include "osevent-libuv.h"

static void *uv_new(void)
{
    uv_loop_t *loop = malloc(sizeof *loop);

    ck_assert_ptr_nonnull(loop);
    ck_assert_int_eq(uv_loop_init(loop), 0);
    return loop;
}

static void uv_free(void *loop)
{
    ck_assert_int_eq(uv_loop_close(loop), 0);
    free(loop);
}

static int uv_attach(osev_ctx *ctx, void *loop)
{
    return osev_libuv_attach(ctx, loop);
}

static int uv_iterate(void *loop)
{
    uv_run(loop, UV_RUN_ONCE);
    return 0;
}

static void count_all(uv_handle_t *h, void *arg)
{
    (void)h;
    ++*(int *)arg;
}

/* Closes complete on the next turn: run it, then nothing may be left. */
static bool uv_empty(void *loop)
{
    int n = 0;

    uv_run(loop, UV_RUN_NOWAIT);
    uv_walk(loop, count_all, &n);
    return n == 0 && !uv_loop_alive(loop);
}

int main(void)
{
    /* libuv aborts when growing its watcher array fails: only
     * osevent's allocations fail. */
    static const struct inject_loop loop = {
        .name = "libuv",
        .loop_new = uv_new,
        .loop_free = uv_free,
        .attach = uv_attach,
        .detach = osev_libuv_detach,
        .iterate = uv_iterate,
        .is_empty = uv_empty,
    };

    return inject_main(&loop);
}

/* ==================================================================== */
#elif defined(OSEV_INJECT_TEVENT)

#include <talloc.h>
#include <tevent.h>

#include "osevent-tevent.h"

struct held {
    int fds, timers;
};

static void count_trace(int *n, enum tevent_event_trace_point p)
{
    if (p == TEVENT_EVENT_TRACE_ATTACH)
        ++*n;
    else if (p == TEVENT_EVENT_TRACE_DETACH)
        --*n;
}

static void trace_fd(struct tevent_fd *fde, enum tevent_event_trace_point p,
                     void *arg)
{
    (void)fde;
    count_trace(&((struct held *)arg)->fds, p);
}

static void trace_timer(struct tevent_timer *te,
                        enum tevent_event_trace_point p, void *arg)
{
    (void)te;
    count_trace(&((struct held *)arg)->timers, p);
}

static void *tev_new_named(const char *backend)
{
    struct tevent_context *ev = tevent_context_init_byname(NULL, backend);
    struct held *h;

    ck_assert_ptr_nonnull(ev);
    h = talloc_zero(ev, struct held);
    ck_assert_ptr_nonnull(h);
    tevent_set_trace_fd_callback(ev, trace_fd, h);
    tevent_set_trace_timer_callback(ev, trace_timer, h);
    return ev;
}

static void *tev_new_poll(void)
{
    return tev_new_named("poll");
}

static void *tev_new_epoll(void)
{
    return tev_new_named("epoll");
}

static void tev_free(void *loop)
{
    talloc_free(loop);
}

static int tev_attach(osev_ctx *ctx, void *loop)
{
    return osev_tevent_attach(ctx, loop);
}

static int tev_iterate(void *loop)
{
    return tevent_loop_once(loop) == 0 ? 0 : -1;
}

static bool tev_empty(void *loop)
{
    tevent_trace_fd_callback_t cb;
    struct held *h = NULL;

    tevent_get_trace_fd_callback(loop, &cb, &h);
    ck_assert_ptr_nonnull(h);
    return h->fds == 0 && h->timers == 0;
}

/* talloc returns NULL when malloc does, and tevent passes it on. */
static const char *const tev_may_fail[] = { "libtalloc.", "libtevent.",
                                              NULL };

int main(void)
{
    static const struct inject_loop poll_loop = {
        .name = "tevent-poll",
        .loop_new = tev_new_poll,
        .loop_free = tev_free,
        .attach = tev_attach,
        .detach = osev_tevent_detach,
        .iterate = tev_iterate,
        .is_empty = tev_empty,
        .may_fail = tev_may_fail,
    };
    struct inject_loop epoll_loop = poll_loop;
    int poll_rc, epoll_rc;

    epoll_loop.name = "tevent-epoll";
    epoll_loop.loop_new = tev_new_epoll;
    poll_rc = inject_main(&poll_loop);
    epoll_rc = inject_main(&epoll_loop);
    return poll_rc != EXIT_SUCCESS ? poll_rc : epoll_rc;
}

/* ==================================================================== */
#elif defined(OSEV_INJECT_VERTO)

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

/* ==================================================================== */
#elif defined(OSEV_INJECT_SDEVENT)

#include <stdint.h>
#include <sys/timerfd.h>

#include <systemd/sd-event.h>

#include "osevent-sdevent.h"

static void *sdev_new(void)
{
    sd_event *e = NULL;

    ck_assert_int_ge(sd_event_new(&e), 0);
    return e;
}

static void sdev_free(void *loop)
{
    sd_event_unref(loop);
}

static int sdev_attach(osev_ctx *ctx, void *loop)
{
    return osev_sdevent_attach(ctx, loop);
}

static int sdev_iterate(void *loop)
{
    int r = sd_event_run(loop, UINT64_MAX);

    return r < 0 ? r : 0;
}

static bool is_idle_timerfd(int fd)
{
    char path[64], target[64];
    struct itimerspec its;
    ssize_t n;

    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    n = readlink(path, target, sizeof target - 1);
    ck_assert_int_gt(n, 0);
    target[n] = '\0';
    if (strcmp(target, "anon_inode:[timerfd]") != 0)
        return false;
    ck_assert_int_eq(timerfd_gettime(fd, &its), 0);
    return its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0;
}

/* As test-sdevent: after a turn that dispatched nothing, sd-event's epoll
 * set holds only its own disarmed timerfds. */
static bool sdev_empty(void *loop)
{
    char path[64], line[256];
    bool idle = true;
    FILE *f;
    int fd, r = sd_event_run(loop, 0);

    ck_assert_int_ge(r, 0);
    if (r > 0)
        return false;
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", sd_event_get_fd(loop));
    f = fopen(path, "re");
    ck_assert_ptr_nonnull(f);
    while (idle && fgets(line, sizeof line, f))
        if (sscanf(line, "tfd: %d", &fd) == 1)
            idle = is_idle_timerfd(fd);
    fclose(f);
    return idle;
}

/* sd-event returns -ENOMEM when an allocation fails. */
static const char *const sdev_may_fail[] = { "libsystemd.", NULL };

int main(void)
{
    static const struct inject_loop loop = {
        .name = "sdevent",
        .loop_new = sdev_new,
        .loop_free = sdev_free,
        .attach = sdev_attach,
        .detach = osev_sdevent_detach,
        .iterate = sdev_iterate,
        .is_empty = sdev_empty,
        .may_fail = sdev_may_fail,
    };

    return inject_main(&loop);
}

/* ==================================================================== */
#elif defined(OSEV_INJECT_VIRT)

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

/* ==================================================================== */
#elif defined(OSEV_INJECT_VIRT_BRIDGE)

#include <sys/wait.h>

#include "osevent-virt.h"

static struct bridge {
    osev_ctx *ctx;
    int s[2];
    int handle_calls, timeout_calls, ff_calls;
    int handle, timeout;
    int fds0;
} B;

static void on_handle(int watch, int fd, int events, void *opaque)
{
    char buf[16];

    (void)watch, (void)events, (void)opaque;
    while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
        ;
    B.handle_calls++;
}

static void on_timeout(int timer, void *opaque)
{
    (void)timer, (void)opaque;
    B.timeout_calls++;
}

static void ff(void *opaque)
{
    (void)opaque;
    B.ff_calls++;
}

static void bridge_world(void)
{
    memset(&B, 0, sizeof B);
    B.fds0 = tu_count_fds();
    ck_assert_int_eq(inj_ctx_live(), 0);
    B.ctx = inj_ctx_new();
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
                                             SOCK_CLOEXEC,
                                0, B.s),
                     0);
}

static int add_handle(void)
{
    B.handle = virEventAddHandle(B.s[0], VIR_EVENT_HANDLE_READABLE,
                                 on_handle, NULL, ff);
    return B.handle;
}

static int add_timeout(void)
{
    B.timeout = virEventAddTimeout(1, on_timeout, NULL, ff);
    return B.timeout;
}

/* libvirt's handle and timeout run from the osevent loop; removed, their
 * free callbacks run at the next dispatch point; nothing is left. */
static void bridge_run_and_free(void)
{
    osev_time give_up = osev_now() + osev_s(5);

    if (B.handle <= 0)
        ck_assert_int_gt(add_handle(), 0);
    if (B.timeout <= 0)
        ck_assert_int_gt(add_timeout(), 0);
    ck_assert_int_eq(send(B.s[1], "x", 1, MSG_DONTWAIT), 1);
    while (!B.handle_calls || !B.timeout_calls) {
        int r = osev_loop_once(B.ctx, osev_now() + osev_ms(50));

        ck_assert_msg(r >= 0 || r == -ETIMEDOUT, "loop_once: %d", r);
        ck_assert_msg(osev_now() < give_up, "libvirt's callbacks did not "
                      "run");
    }
    ck_assert_int_eq(virEventRemoveHandle(B.handle), 0);
    ck_assert_int_eq(virEventRemoveTimeout(B.timeout), 0);
    ck_assert_int_ge(osev_dispatch(B.ctx), 0);
    ck_assert_int_eq(B.ff_calls, 2);
    osev_ctx_free(B.ctx);
    ck_assert_int_eq(inj_ctx_live(), 0);
    close(B.s[0]), close(B.s[1]);
    ck_assert_int_eq(tu_count_fds(), B.fds0);
}

/*
 * The first osev_virt_register_impl() of a process, with the k-th
 * allocation failing: it fails with -ENOMEM and the next call works, or
 * it works (a failure it could absorb); either way libvirt's handle and
 * timeout then run through the context.  What libvirt registers is made
 * once per process, so each k runs in a process of its own, which
 * reports a failure through a pipe (Check's asserts stay in this one).
 */
#define CHILD_CHECK(cond, ...)                                               \
    do {                                                                     \
        if (!(cond)) {                                                       \
            dprintf(report, __VA_ARGS__);                                    \
            _exit(1);                                                        \
        }                                                                    \
    } while (0)

enum { CHILD_RECOVERED = 0, CHILD_FAILED = 1, CHILD_CLEAN = 2 };

static void first_register_in_child(long k, int report)
{
    struct osev_ctx_opts o = { .size = sizeof o,
                               .realloc_fn = inj_ctx_realloc };
    osev_time give_up;
    bool failed;
    int r;

    memset(&B, 0, sizeof B);
    CHILD_CHECK(osev_ctx_new(&o, &B.ctx) == 0, "ctx_new");
    CHILD_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, B.s) == 0,
                "socketpair");
    inj_arm(k, NULL);
    r = osev_virt_register_impl(B.ctx);
    failed = inj_disarm();
    CHILD_CHECK(!failed || inj_failed_ours(), "failed in %s",
                inj_failed_where());
    if (!failed)
        CHILD_CHECK(r == 0, "register_impl: %d (%s)", r, osev_strerror(r));
    else
        CHILD_CHECK(r == -ENOMEM || r == 0, "register_impl, allocation %ld "
                    "failing (in %s): %d (%s)", k, inj_failed_where(), r,
                    osev_strerror(r));
    if (r < 0) {
        r = osev_virt_register_impl(B.ctx);
        CHILD_CHECK(r == 0, "register_impl again after allocation %ld "
                    "failed (in %s): %d (%s)", k, inj_failed_where(), r,
                    osev_strerror(r));
    }
    CHILD_CHECK(add_handle() > 0, "virEventAddHandle");
    CHILD_CHECK(add_timeout() > 0, "virEventAddTimeout");
    CHILD_CHECK(send(B.s[1], "x", 1, MSG_DONTWAIT) == 1, "send");
    give_up = osev_now() + osev_s(5);
    while (!B.handle_calls || !B.timeout_calls) {
        r = osev_loop_once(B.ctx, osev_now() + osev_ms(50));
        CHILD_CHECK(r >= 0 || r == -ETIMEDOUT, "loop_once: %d", r);
        CHILD_CHECK(osev_now() < give_up, "libvirt's callbacks did not run");
    }
    CHILD_CHECK(virEventRemoveHandle(B.handle) == 0, "virEventRemoveHandle");
    CHILD_CHECK(virEventRemoveTimeout(B.timeout) == 0,
                "virEventRemoveTimeout");
    CHILD_CHECK(osev_dispatch(B.ctx) >= 0, "dispatch");
    CHILD_CHECK(B.ff_calls == 2, "free callbacks: %d", B.ff_calls);
    osev_ctx_free(B.ctx);
    CHILD_CHECK(inj_ctx_live() == 0, "blocks left: %ld", inj_ctx_live());
    _exit(failed ? CHILD_RECOVERED : CHILD_CLEAN);
}

START_TEST(first_register_impl)
{
    long k;

    for (k = 0;; k++) {
        char msg[512] = "";
        int p[2], status;
        ssize_t n;
        pid_t pid;

        ck_assert_int_eq(pipe(p), 0);
        fflush(NULL);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            close(p[0]);
            first_register_in_child(k, p[1]);
        }
        close(p[1]);
        n = read(p[0], msg, sizeof msg - 1);
        msg[n > 0 ? n : 0] = '\0';
        close(p[0]);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != CHILD_FAILED,
                      "k = %ld: %s", k, msg[0] ? msg : "child died");
        if (WEXITSTATUS(status) == CHILD_CLEAN)
            break;
        ck_assert_int_lt(k, 1000);
    }
    printf("inject: virt register_impl (first in its process): %ld "
           "allocation points\n", k);
}
END_TEST

/* libvirt adds a handle or a timeout through the bridge with the k-th
 * allocation failing: libvirt is told (-1), nothing is left (and its free
 * callback is not called: libvirt keeps its opaque), and the next add
 * works. */
static void add_fails_cleanly(const char *name, int (*add)(void))
{
    long k;

    for (k = 0;; k++) {
        bool failed;
        int id, n;

        bridge_world();
        ck_assert_osev_ok(osev_virt_register_impl(B.ctx));
        n = tu_needed(B.ctx);
        inj_arm(k, NULL);
        id = add();
        failed = inj_disarm();
        if (failed) {
            ck_assert_msg(id == -1, "%s, allocation %ld failing (in %s): "
                          "%d", name, k, inj_failed_where(), id);
            ck_assert_int_eq(tu_needed(B.ctx), n);
            ck_assert_int_eq(B.ff_calls, 0);
        } else {
            ck_assert_int_gt(id, 0);
        }
        bridge_run_and_free();
        if (!failed)
            break;
        ck_assert_int_lt(k, 1000);
    }
    printf("inject: virt bridge %s: %ld allocation points\n", name, k);
}

START_TEST(add_handle_fails_cleanly)
{
    add_fails_cleanly("virEventAddHandle", add_handle);
}
END_TEST

START_TEST(add_timeout_fails_cleanly)
{
    add_fails_cleanly("virEventAddTimeout", add_timeout);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("virt-bridge");
    TCase *tc = tcase_create("bridge");

    inj_interposed();
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, first_register_impl);
    tcase_add_test(tc, add_handle_fails_cleanly);
    tcase_add_test(tc, add_timeout_fails_cleanly);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}

#else
#error "build with one of -DOSEV_INJECT_GLIB, _LIBEVENT, _LIBEV, _LIBUV, _TEVENT, _VERTO, _SDEVENT, _VIRT, _VIRT_BRIDGE"
#endif
