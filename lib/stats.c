/*
 * stats.c - osev_get_registry_stats(): what the registry holds, counted
 * where it is cheap (user fds) and walked where it is not kept (the rest).
 */
#include "internal.h"

#include <string.h>

OSEV_EXPORT int osev_get_registry_stats(osev_ctx *ctx,
                                        struct osev_registry_stats *stats_io)
{
    struct osev_registry_stats st = { 0 };
    size_t size;

    if (!ctx || !stats_io || stats_io->size < sizeof st)
        return -EINVAL;
    size = sizeof st;
    osev__lock(ctx);
    st.fds = ctx->user_fds;
    st.timers = (unsigned)ctx->ntimers;
    st.armed_timers = (unsigned)ctx->nheap;
    st.children = osev__children_count(ctx);
    st.signals = osev__signals_count(ctx) - osev__children_signal_watches(ctx);
    st.pending = osev__list_len(&ctx->deferred) + osev__list_len(&ctx->sched) +
                 osev__list_len(&ctx->ev_occur);
    osev__unlock(ctx);
    st.size = size;
    memcpy(stats_io, &st, size);
    return 0;
}
