/*
 * host-libev.c - libev's host, apart from host.c: libev's ev.h and
 * libevent's event2/event.h both define EV_READ.
 */
#include "host-foreign.h"

#include <ev.h>

#include "osevent-libev.h"

void *host_libev_new(void)
{
    return ev_loop_new(EVFLAG_AUTO);
}

void host_libev_free(void *loop)
{
    ev_loop_destroy(loop);
}

int host_libev_attach(osev_ctx *ctx, void *loop)
{
    return osev_libev_attach(ctx, loop);
}

void host_libev_detach(osev_ctx *ctx)
{
    osev_libev_detach(ctx);
}

/* One blocking turn: returns after it dispatched what became ready. */
void host_libev_iterate(void *loop)
{
    ev_run(loop, EVRUN_ONCE);
}
