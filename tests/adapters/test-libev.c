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

/* ev_run() returns 0 once no watcher keeps it running. */
static void lv_run_until_done(void *loop)
{
    ck_assert_int_eq(ev_run(loop, 0), 0);
}

/* A timer of the test's own, an hour away: keeps ev_run() running. */
static struct ev_timer holder;

static void holder_fired(struct ev_loop *loop, struct ev_timer *w, int what)
{
    (void)loop, (void)w, (void)what;
    ck_abort_msg("the holder timer fired");
}

static void lv_native_hold(void *loop, bool on)
{
    if (on) {
        ev_timer_init(&holder, holder_fired, 3600., 0.);
        ev_timer_start(loop, &holder);
    } else {
        ev_timer_stop(loop, &holder);
    }
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
    .run_until_done = lv_run_until_done,
    .native_hold = lv_native_hold,
    .unref_uncounted = true, /* ev_run()'s count leaves out ev_unref() */
};

int main(void)
{
    return scenario_main(&libev_loop);
}
