/*
 * host.c - the hosts of host.h.  Each foreign host is the same five calls
 * (make, free, attach, detach, one blocking turn); which ones exist is
 * decided by configure (HOST_<LOOP>, set in tests/bridges/local.mk where
 * the adapter is built).  A run is bounded by a timer of the host's own
 * on the context, so every blocking turn ends by the deadline.  libev's
 * host is in host-libev.c: ev.h and libevent's headers cannot meet.
 */
#include "host.h"
#include "host-foreign.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#ifdef HOST_GLIB
#include <glib.h>
#include "osevent-glib.h"
#endif
#ifdef HOST_LIBEVENT
#include <event2/event.h>
#include "osevent-libevent.h"
#endif
#ifdef HOST_LIBUV
#include <uv.h>
#include "osevent-libuv.h"
#endif
#ifdef HOST_TEVENT
#include <talloc.h>
#include <tevent.h>
#include "osevent-tevent.h"
#endif
#ifdef HOST_VERTO
#include <verto.h>
#include "osevent-verto.h"
#endif
#ifdef HOST_SDEVENT
#include <systemd/sd-event.h>
#include "osevent-sdevent.h"
#endif
#ifdef HOST_VIRT
#include <libvirt/libvirt.h>
#include "osevent-virt.h"
#endif


struct host {
    const char *name;
    const struct foreign *f; /* NULL: "builtin" or "pull" */
    bool pull;
    osev_ctx *ctx;
    void *loop;
};

/* ------------------------------------------------------------------ */
/* The foreign loops                                                   */
/* ------------------------------------------------------------------ */

#ifdef HOST_GLIB
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
#endif

#ifdef HOST_LIBEVENT
static void *lev_new(void)
{
    return event_base_new();
}

static void lev_free(void *loop)
{
    event_base_free(loop);
}

static int lev_attach(osev_ctx *ctx, void *loop)
{
    return osev_libevent_attach(ctx, loop);
}

static void lev_iterate(void *loop)
{
    ck_assert_int_eq(event_base_loop(loop, EVLOOP_ONCE), 0);
}
#endif

#ifdef HOST_LIBUV
static void *uv_new(void)
{
    uv_loop_t *loop = malloc(sizeof *loop);

    ck_assert_ptr_nonnull(loop);
    ck_assert_int_eq(uv_loop_init(loop), 0);
    return loop;
}

/* Closed handles go once their close callbacks ran: one turn that does
 * not block runs them, then the loop must have nothing left. */
static void uv_free(void *loop)
{
    uv_run(loop, UV_RUN_NOWAIT);
    ck_assert_int_eq(uv_loop_close(loop), 0);
    free(loop);
}

static int uv_attach(osev_ctx *ctx, void *loop)
{
    return osev_libuv_attach(ctx, loop);
}

static void uv_iterate(void *loop)
{
    uv_run(loop, UV_RUN_ONCE);
}
#endif

#ifdef HOST_TEVENT
static void *tev_new(void)
{
    struct tevent_context *ev = tevent_context_init(NULL);

    ck_assert_ptr_nonnull(ev);
    return ev;
}

static void tev_free(void *loop)
{
    talloc_free(loop);
}

static int tev_attach(osev_ctx *ctx, void *loop)
{
    return osev_tevent_attach(ctx, loop);
}

static void tev_iterate(void *loop)
{
    ck_assert_int_eq(tevent_loop_once(loop), 0);
}
#endif

#ifdef HOST_VERTO
/* Whichever module libverto picks first; CI has glib and libev. */
static void *verto_new_any(void)
{
    verto_ctx *v = verto_new(NULL, VERTO_EV_TYPE_IO | VERTO_EV_TYPE_TIMEOUT);

    ck_assert_ptr_nonnull(v);
    return v;
}

static void verto_free_any(void *loop)
{
    verto_free(loop);
}

static int verto_attach_any(osev_ctx *ctx, void *loop)
{
    return osev_verto_attach(ctx, loop);
}

static void verto_iterate(void *loop)
{
    verto_run_once(loop);
}
#endif

#ifdef HOST_SDEVENT
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

static void sdev_iterate(void *loop)
{
    ck_assert_int_ge(sd_event_run(loop, UINT64_MAX), 0);
}
#endif

#ifdef HOST_VIRT
/* libvirt's loop is the process's, registered once per process (a test
 * forked by Check registers its own). */
static void *virt_new(void)
{
    static bool registered;

    if (!registered) {
        ck_assert_int_eq(virEventRegisterDefaultImpl(), 0);
        registered = true;
    }
    return NULL;
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
#endif

static const struct foreign foreigns[] = {
#ifdef HOST_GLIB
    { "glib", glib_new, glib_free, glib_attach, osev_glib_detach,
      glib_iterate },
#endif
#ifdef HOST_LIBEVENT
    { "libevent", lev_new, lev_free, lev_attach, osev_libevent_detach,
      lev_iterate },
#endif
#ifdef HOST_LIBEV
    HOST_LIBEV_FOREIGN,
#endif
#ifdef HOST_LIBUV
    { "libuv", uv_new, uv_free, uv_attach, osev_libuv_detach, uv_iterate },
#endif
#ifdef HOST_TEVENT
    { "tevent", tev_new, tev_free, tev_attach, osev_tevent_detach,
      tev_iterate },
#endif
#ifdef HOST_VERTO
    { "verto", verto_new_any, verto_free_any, verto_attach_any,
      osev_verto_detach, verto_iterate },
#endif
#ifdef HOST_SDEVENT
    { "sdevent", sdev_new, sdev_free, sdev_attach, osev_sdevent_detach,
      sdev_iterate },
#endif
#ifdef HOST_VIRT
    { "virt", virt_new, virt_free, virt_attach, osev_virt_detach,
      virt_iterate },
#endif
};

#define NFOREIGN (sizeof foreigns / sizeof foreigns[0])

const char *const host_names[] = {
    "builtin", "pull",
#ifdef HOST_GLIB
    "glib",
#endif
#ifdef HOST_LIBEVENT
    "libevent",
#endif
#ifdef HOST_LIBEV
    "libev",
#endif
#ifdef HOST_LIBUV
    "libuv",
#endif
#ifdef HOST_TEVENT
    "tevent",
#endif
#ifdef HOST_VERTO
    "verto",
#endif
#ifdef HOST_SDEVENT
    "sdevent",
#endif
#ifdef HOST_VIRT
    "virt",
#endif
    NULL
};

int host_count(void)
{
    return (int)(sizeof host_names / sizeof host_names[0]) - 1;
}

/* ------------------------------------------------------------------ */
/* Open and close                                                      */
/* ------------------------------------------------------------------ */

struct host *host_open(const char *name)
{
    struct host *h = calloc(1, sizeof *h);

    ck_assert_ptr_nonnull(h);
    h->name = name;
    ck_assert_int_eq(osev_ctx_new(NULL, &h->ctx), 0);
    if (strcmp(name, "builtin") == 0)
        return h;
    if (strcmp(name, "pull") == 0) {
        h->pull = true;
        return h;
    }
    /* (A pointer, not an index: with no foreign loop built, NFOREIGN is
     * 0 and an unsigned i < 0 fails -Werror=type-limits.) */
    for (const struct foreign *f = foreigns; f < foreigns + NFOREIGN; f++)
        if (strcmp(f->name, name) == 0)
            h->f = f;
    ck_assert_msg(h->f != NULL, "no host %s in this build", name);
    h->loop = h->f->loop_new();
    ck_assert_int_eq(h->f->attach(h->ctx, h->loop), 0);
    return h;
}

const char *host_name(const struct host *h)
{
    return h->name;
}

osev_ctx *host_ctx(const struct host *h)
{
    return h->ctx;
}

void *host_loop(const struct host *h)
{
    return h->loop;
}

void host_assert_empty(struct host *h)
{
    struct osev_registry_stats rs = { .size = sizeof rs };
    struct osev_hook_stats hs = { .size = sizeof hs };

    ck_assert_int_eq(osev_get_registry_stats(h->ctx, &rs), 0);
    ck_assert_msg(rs.fds == 0 && rs.timers == 0 && rs.signals == 0 &&
                      rs.children == 0 && rs.pending == 0,
                  "%s: the registry still holds %u fds, %u timers, "
                  "%u signals, %u children, %u pending calls",
                  h->name, rs.fds, rs.timers, rs.signals, rs.children,
                  rs.pending);
    if (!h->f)
        return;
    /* An empty attached context keeps at most its wakeup fd (none where
     * the adapter hands the loop the aggregate fd) and no timeout. */
    ck_assert_int_eq(osev_get_hook_stats(h->ctx, &hs), 0);
    ck_assert_msg(hs.fd_regs <= 1 && hs.timeout_regs == 0,
                  "%s: the loop still holds %u fds and %u timeouts of ours",
                  h->name, hs.fd_regs, hs.timeout_regs);
}

void host_close(struct host *h)
{
    if (h->f)
        h->f->detach(h->ctx);
    osev_ctx_free(h->ctx);
    if (h->f)
        h->f->loop_free(h->loop);
    free(h);
}

/* ------------------------------------------------------------------ */
/* Running                                                             */
/* ------------------------------------------------------------------ */

static void deadline_passed(osev_timer *t, osev_time now, void *arg)
{
    (void)t;
    (void)now;
    *(bool *)arg = true;
}

/* One turn of the application's own poll() loop, as pull mode asks. */
static void pull_turn(struct host *h, osev_time deadline)
{
    struct pollfd fds[256];
    int n = (int)(sizeof fds / sizeof fds[0]), timeout = -1, r;
    osev_time now = osev_now();

    if (deadline != OSEV_TIME_INFINITY)
        timeout = deadline > now ? (int)((deadline - now) / 1000000) + 1 : 0;
    ck_assert_int_eq(osev_beforepoll(h->ctx, &n, fds, &timeout, 0), 0);
    r = poll(fds, (nfds_t)n, timeout);
    ck_assert(r >= 0 || errno == EINTR);
    osev_afterpoll(h->ctx, n, fds, 0);
}

bool host_run_until(struct host *h, bool (*done)(void *arg), void *arg,
                    int timeout_ms)
{
    osev_time deadline = osev_now() + osev_ms(timeout_ms);
    bool passed = false;
    osev_timer *t = NULL;

    if (done(arg))
        return true;
    /* Every host's blocking turn ends by then: the timer is a registry
     * timer like any other. */
    ck_assert_int_eq(osev_timer_add(h->ctx, deadline, deadline_passed,
                                    &passed, &t), 0);
    while (!done(arg) && !passed) {
        if (h->f) {
            h->f->iterate(h->loop);
        } else if (h->pull) {
            pull_turn(h, deadline);
        } else {
            int r = osev_loop_once(h->ctx, OSEV_TIME_INFINITY);

            ck_assert_msg(r >= 0, "osev_loop_once: %s", osev_strerror(r));
        }
    }
    osev_timer_remove(t);
    return done(arg);
}

struct event_take {
    osev_ctx *ctx;
    uint64_t typemask;
    osev_event *ev;
};

static bool event_taken(void *arg)
{
    struct event_take *take = arg;

    return take->ev ||
           osev_event_check(take->ctx, take->typemask, NULL, NULL,
                            &take->ev) == 0;
}

int host_wait_event(struct host *h, uint64_t typemask, int timeout_ms,
                    osev_event **ev_out)
{
    struct event_take take = { h->ctx, typemask, NULL };

    *ev_out = NULL;
    if (!h->f && !h->pull) {
        int r = osev_event_wait(h->ctx, typemask, NULL, NULL,
                                osev_now() + osev_ms(timeout_ms), ev_out);

        ck_assert_msg(r == 0 || r == -ETIMEDOUT, "osev_event_wait: %s",
                      osev_strerror(r));
        return r;
    }
    if (!host_run_until(h, event_taken, &take, timeout_ms))
        return -ETIMEDOUT;
    *ev_out = take.ev;
    return 0;
}
