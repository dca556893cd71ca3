/*
 * test-libevent.c - the push scenario inside a real libevent event_base.
 */
#include "scenario.h"

#include <event2/event.h>

#include "osevent-libevent.h"

/*
 * A precise timer: by default libevent reads CLOCK_MONOTONIC_COARSE,
 * which can lag a few ms, so a timeout may fire that much early and be
 * re-armed once (harmless, but the scenario counts re-arms).
 */
static void *lev_loop_new(void)
{
    struct event_config *cfg = event_config_new();
    struct event_base *base;

    if (!cfg)
        return NULL;
    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    return base;
}

static void lev_loop_free(void *loop)
{
    event_base_free(loop);
}

static int lev_attach(osev_ctx *ctx, void *loop)
{
    return osev_libevent_attach(ctx, loop);
}

/* Blocks until an event is active, runs what is active, returns. */
static void lev_iterate(void *loop)
{
    ck_assert_int_eq(event_base_loop(loop, EVLOOP_ONCE), 0);
}

/* Events added to the base, by libevent's own count (its internal events
 * are left out, and the test's base has none: no threads, no signals).
 * A fired timer is no longer added; the scenario never counts one. */
static int lev_foreign_count(void *loop)
{
    return event_base_get_num_events(loop, EVENT_BASE_COUNT_ADDED);
}

static bool lev_is_empty(void *loop)
{
    return event_base_get_num_events(loop, EVENT_BASE_COUNT_ADDED |
                                               EVENT_BASE_COUNT_ACTIVE) == 0;
}

/*
 * libevent's rule for a child that keeps using the base.  It fails (-1)
 * here, yet re-adds every other event: one event the adapter abandoned
 * watches the context's wakeup fd, which osev_ctx_free() closed.
 */
static void lev_child_reinit(void *loop)
{
    (void)event_reinit(loop);
}

static const struct scenario_loop libevent_loop = {
    .name = "libevent",
    .loop_new = lev_loop_new,
    .loop_free = lev_loop_free,
    .attach = lev_attach,
    .detach = osev_libevent_detach,
    .iterate = lev_iterate,
    .foreign_count = lev_foreign_count,
    .is_empty = lev_is_empty,
    .child_reinit = lev_child_reinit,
    .refuses_pollpri = true, /* no EV_PRI */
};

int main(void)
{
    return scenario_main(&libevent_loop);
}
