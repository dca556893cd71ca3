/*
 * tm-osev.c - timers on osevent alone, a default context:
 *  - osev-builtin:  turns are osev_loop_once(ctx, 0) (a deadline already
 *                   passed: one pass that does not wait);
 *  - osev-dispatch: turns are osev_dispatch(ctx).
 */
#define _GNU_SOURCE
#include <stdlib.h>

#include "osevent.h"

#include "timers.h"

static osev_ctx *ctx;
static osev_timer **timers;
static osev_time base;

static void on_timer(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now, (void)arg;
    tm_fired();
}

static void setup(int n)
{
    timers = calloc((size_t)n, sizeof *timers);
    if (!timers)
        tm_fail("calloc");
    tm_check(osev_ctx_new(NULL, &ctx), "osev_ctx_new");
    base = osev_now();
}

static void add(int i, double delay)
{
    osev_time d = base + (osev_time)(delay * 1e9);

    tm_check(osev_timer_add(ctx, d < 0 ? 0 : d, on_timer, NULL, &timers[i]),
             "osev_timer_add");
}

static void cancel(int i)
{
    osev_timer_remove(timers[i]);
}

static void loop_turn(void)
{
    int r = osev_loop_once(ctx, 0);

    if (r != -ETIMEDOUT)
        tm_check(r, "osev_loop_once");
}

static void dispatch_turn(void)
{
    tm_check(osev_dispatch(ctx), "osev_dispatch");
}

static void teardown(void)
{
    osev_ctx_free(ctx);
    free(timers);
}

const struct tm_mode tm_modes[] = {
    { "osev-builtin", setup, add, cancel, loop_turn, teardown },
    { "osev-dispatch", setup, add, cancel, dispatch_turn, teardown },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};
