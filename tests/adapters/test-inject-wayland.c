/*
 * test-inject-wayland.c - allocation failure inside a wl_event_loop
 * (tests/adapters/inject.c): every allocation of attach and of the
 * registrations made while attached fails in turn, osevent's and
 * libwayland-server's (which returns NULL from wl_event_loop_add_fd()
 * and wl_event_loop_add_timer() when one fails).
 */
#include "inject.h"
#include "epoll-set.h"


#include <wayland-server-core.h>

#include "osevent-wayland.h"

static void *wl_new(void)
{
    return wl_event_loop_create();
}

static void wl_free(void *loop)
{
    wl_event_loop_destroy(loop);
}

static int wl_attach(osev_ctx *ctx, void *loop)
{
    return osev_wayland_attach(ctx, loop);
}

static int wl_iterate(void *loop)
{
    return wl_event_loop_dispatch(loop, -1);
}

/* The loop's epoll set holds an fd per fd source and, once a timer
 * source was made, its timerfd, armed while a timer source is (see
 * test-wayland.c): empty is no other fd, and that one disarmed. */
static bool wl_empty(void *loop)
{
    return epoll_set_busy(wl_event_loop_get_fd(loop)) == 0;
}

int main(void)
{
    static const char *const may_fail[] = { "libwayland-server", NULL };
    static const struct inject_loop loop = {
        .name = "wayland",
        .loop_new = wl_new,
        .loop_free = wl_free,
        .attach = wl_attach,
        .detach = osev_wayland_detach,
        .iterate = wl_iterate,
        .is_empty = wl_empty,
        .may_fail = may_fail,
    };

    return inject_main(&loop);
}
