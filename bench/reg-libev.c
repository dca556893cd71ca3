/*
 * reg-libev.c - registration churn on a default context attached to a
 * libev loop (EVBACKEND_EPOLL) with osev_libev_attach(); passes are
 * ev_run(loop, EVRUN_NOWAIT), where libev hands its changes to epoll.
 */
#define _GNU_SOURCE
#include "osevent-libev.h"

#include "reg.h"

static struct ev_loop *loop;
static osev_ctx *ctx;

static osev_ctx *setup(void)
{
    loop = ev_loop_new(EVBACKEND_EPOLL);
    if (!loop)
        reg_check(-ENOMEM, "ev_loop_new");
    reg_check(osev_ctx_new(NULL, &ctx), "osev_ctx_new");
    reg_check(osev_libev_attach(ctx, loop), "osev_libev_attach");
    return ctx;
}

static void pass(void)
{
    ev_run(loop, EVRUN_NOWAIT);
}

static void teardown(void)
{
    osev_ctx_free(ctx);
    ev_loop_destroy(loop);
}

const struct reg_mode reg_modes[] = {
    { "osev-on-libev", setup, pass, teardown },
    { NULL, NULL, NULL, NULL },
};
