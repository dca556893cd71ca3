/*
 * test-libev.c - the push scenario inside a real libev loop.
 *
 * libev's only public count of what a loop holds is ev_run()'s result:
 * the number of active watchers that keep it alive (every one of ours;
 * a loop made with ev_loop_new() has none of its own, unlike the default
 * loop with its SIGCHLD watcher).  Asking means running one
 * non-blocking turn, which dispatches whatever is ready just then; where
 * the scenario counts, nothing that runs then adds or removes a
 * registration (no timer is due, the ready fds keep their watches).
 */
#include "scenario.h"

#include <ev.h>

#include "osevent-libev.h"

static void *lv_loop_new(void)
{
    return ev_loop_new(EVFLAG_AUTO);
}

static void lv_loop_free(void *loop)
{
    ev_loop_destroy(loop);
}

static int lv_attach(osev_ctx *ctx, void *loop)
{
    return osev_libev_attach(ctx, loop);
}

/* One blocking turn: returns after it dispatched what became ready. */
static void lv_iterate(void *loop)
{
    ev_run(loop, EVRUN_ONCE);
}

static int lv_foreign_count(void *loop)
{
    return ev_run(loop, EVRUN_NOWAIT);
}

static bool lv_is_empty(void *loop)
{
    return ev_run(loop, EVRUN_NOWAIT) == 0;
}

static const struct scenario_loop libev_loop = {
    .name = "libev",
    .loop_new = lv_loop_new,
    .loop_free = lv_loop_free,
    .attach = lv_attach,
    .detach = osev_libev_detach,
    .iterate = lv_iterate,
    .foreign_count = lv_foreign_count,
    .is_empty = lv_is_empty,
    /* No child_reinit: after ev_loop_fork() libev re-adds every watcher,
     * the abandoned one on the wakeup fd osev_ctx_free() closed too, and
     * asserts on epoll_ctl()'s EBADF. */
    .refuses_pollpri = true, /* EV_READ|EV_WRITE only */
};

int main(void)
{
    return scenario_main(&libev_loop);
}
