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

/* Every event the base holds, internal ones too (the adapter's twins of
 * unreferenced registrations, which the counts above leave out). */
static int count_event(const struct event_base *base, const struct event *ev,
                       void *arg)
{
    (void)base, (void)ev;
    ++*(int *)arg;
    return 0;
}

static bool lev_is_empty(void *loop)
{
    int n = 0;

    ck_assert_int_eq(event_base_foreach_event(loop, count_event, &n), 0);
    return n == 0 && event_base_get_num_events(loop, EVENT_BASE_COUNT_ADDED |
                                                   EVENT_BASE_COUNT_ACTIVE) == 0;
}

/* event_base_dispatch() returns 1 once no event is left to wait for. */
static void lev_run_until_done(void *loop)
{
    ck_assert_int_eq(event_base_dispatch(loop), 1);
}

/* A timer of the test's own, an hour away: keeps the base running. */
static struct event *holder;

static void holder_fired(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    ck_abort_msg("the holder timer fired");
}

static void lev_native_hold(void *loop, bool on)
{
    struct timeval hour = { .tv_sec = 3600 };

    if (on) {
        holder = evtimer_new(loop, holder_fired, NULL);
        ck_assert_ptr_nonnull(holder);
        ck_assert_int_eq(evtimer_add(holder, &hour), 0);
    } else {
        event_free(holder);
        holder = NULL;
    }
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
    .run_until_done = lev_run_until_done,
    .native_hold = lev_native_hold,
    .unref_uncounted = true, /* EVENT_BASE_COUNT_ADDED leaves internal out */
};

int main(void)
{
    return scenario_main(&libevent_loop);
}
