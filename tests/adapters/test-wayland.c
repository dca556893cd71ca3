/*
 * test-wayland.c - the push scenario inside a real wl_event_loop
 * (libwayland-server).
 *
 * wl_event_loop counts nothing publicly, but everything it waits on is
 * in one epoll set, wl_event_loop_get_fd(), which the kernel lists in
 * /proc/self/fdinfo: one "tfd:" line per fd in the set.  An fd source
 * is its own fd there (the loop's dup of the watched one); every timer
 * source shares one timerfd, made at the first wl_event_loop_add_timer()
 * and kept, which is armed exactly while some timer source is.  So the
 * loop holds, by the kernel's account, one registration per fd in the
 * set that is not a timerfd, plus one while its timerfd is armed.  A
 * timer source left disarmed but not removed would not show there; the
 * loop would free it only at wl_event_loop_destroy(), too late for the
 * leak checkers to miss a record of ours it points at, but the count
 * would not see it.
 */
#include "scenario.h"
#include "epoll-set.h"


#include <wayland-server-core.h>

#include "osevent-wayland.h"

static void *wl_loop_new(void)
{
    return wl_event_loop_create();
}

static void wl_loop_free(void *loop)
{
    wl_event_loop_destroy(loop);
}

static int wl_attach(osev_ctx *ctx, void *loop)
{
    return osev_wayland_attach(ctx, loop);
}

/* One blocking turn: returns after it dispatched what became ready. */
static void wl_iterate(void *loop)
{
    ck_assert_int_eq(wl_event_loop_dispatch(loop, -1), 0);
}

/* The fds in the loop's epoll set that are not a timerfd, plus one per
 * armed timerfd (the loop has one at most). */
static int wl_foreign_count(void *loop)
{
    return epoll_set_busy(wl_event_loop_get_fd(loop));
}

static bool wl_is_empty(void *loop)
{
    return wl_foreign_count(loop) == 0;
}

static const struct scenario_loop wayland_loop = {
    .name = "wayland",
    .loop_new = wl_loop_new,
    .loop_free = wl_loop_free,
    .attach = wl_attach,
    .detach = osev_wayland_detach,
    .iterate = wl_iterate,
    .foreign_count = wl_foreign_count,
    .is_empty = wl_is_empty,
    /* No child_reinit: a wl_event_loop has no way to leave its parent's
     * epoll set for one of its own. */
    .refuses_pollpri = true, /* WL_EVENT_READABLE|WL_EVENT_WRITABLE only */
};

int main(void)
{
    return scenario_main(&wayland_loop);
}
