/*
 * tm-libev.c - timers on a libev loop (EVBACKEND_EPOLL), turns being
 * ev_run(loop, EVRUN_NOWAIT):
 *  - libev:         one ev_timer per timer;
 *  - osev-on-libev: osev_timer_add() on a default context attached with
 *                   osev_libev_attach(); the loop holds one ev_timer for
 *                   the earliest deadline.  Its cancel phase's WRITES
 *                   are the wakeup writes removals cost in push mode.
 */
#define _GNU_SOURCE
#include <stdlib.h>

#include "osevent-libev.h"

#include "timers.h"

static struct ev_loop *loop;
static ev_timer *evt;
static osev_ctx *ctx;
static osev_timer **timers;
static osev_time base;

static void on_ev_timer(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)l, (void)w, (void)revents;
    tm_fired();
}

static void on_timer(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now, (void)arg;
    tm_fired();
}

static void loop_new(void)
{
    loop = ev_loop_new(EVBACKEND_EPOLL);
    if (!loop)
        tm_fail("ev_loop_new");
}

static void native_setup(int n)
{
    loop_new();
    evt = calloc((size_t)n, sizeof *evt);
    if (!evt)
        tm_fail("calloc");
}

static void native_add(int i, double delay)
{
    ev_timer_init(&evt[i], on_ev_timer, delay, 0.);
    ev_timer_start(loop, &evt[i]);
}

static void native_cancel(int i)
{
    ev_timer_stop(loop, &evt[i]);
}

static void native_teardown(void)
{
    ev_loop_destroy(loop);
    free(evt);
}

static void osev_setup(int n)
{
    loop_new();
    timers = calloc((size_t)n, sizeof *timers);
    if (!timers)
        tm_fail("calloc");
    tm_check(osev_ctx_new(NULL, &ctx), "osev_ctx_new");
    tm_check(osev_libev_attach(ctx, loop), "osev_libev_attach");
    base = osev_now();
}

static void osev_add(int i, double delay)
{
    osev_time d = base + (osev_time)(delay * 1e9);

    tm_check(osev_timer_add(ctx, d < 0 ? 0 : d, on_timer, NULL, &timers[i]),
             "osev_timer_add");
}

static void osev_cancel(int i)
{
    osev_timer_remove(timers[i]);
}

static void osev_teardown(void)
{
    osev_ctx_free(ctx);
    ev_loop_destroy(loop);
    free(timers);
}

static void turn(void)
{
    ev_run(loop, EVRUN_NOWAIT);
}

const struct tm_mode tm_modes[] = {
    { "libev", native_setup, native_add, native_cancel, turn,
      native_teardown },
    { "osev-on-libev", osev_setup, osev_add, osev_cancel, turn,
      osev_teardown },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};
