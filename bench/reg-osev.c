/*
 * reg-osev.c - registration churn on osevent alone: a default context
 * (osev-builtin, passes osev_loop_once(ctx, 0): no wait).
 */
#define _GNU_SOURCE
#include "reg.h"

static osev_ctx *ctx;

static osev_ctx *setup(void)
{
    reg_check(osev_ctx_new(NULL, &ctx), "osev_ctx_new");
    return ctx;
}

static void pass(void)
{
    int r = osev_loop_once(ctx, 0);

    if (r != -ETIMEDOUT)
        reg_check(r < 0 ? r : -EPROTO, "osev_loop_once");
}

static void teardown(void)
{
    osev_ctx_free(ctx);
}

const struct reg_mode reg_modes[] = {
    { "osev-builtin", setup, pass, teardown },
    { NULL, NULL, NULL, NULL },
};
