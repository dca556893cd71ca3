/*
 * test-inject-libevent.c - allocation failure inside a libevent
 * event_base (tests/adapters/inject.c): every allocation of attach and
 * of the registrations made while attached fails in turn.
 *
 * libevent returns an error when its allocator fails: its allocations
 * fail too.
 */
#include "inject.h"

#include <stdlib.h>

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
