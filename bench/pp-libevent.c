/*
 * pp-libevent.c - ping-pong on a libevent event_base (epoll backend),
 * driven by event_base_loop(base, EVLOOP_ONCE):
 *  - libevent:         one persistent EV_READ event per pair;
 *  - osev-on-libevent: a default osevent context attached with
 *                      osev_libevent_attach(), one osev_fd_add() per pair.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osevent-libevent.h"

#include "pingpong.h"

static struct event_base *base;
static struct event **evs;
static osev_ctx *ctx;

static void on_event(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    pp_readable((int)(intptr_t)arg);
}

static void on_fd(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)fd, (void)revents;
    pp_readable((int)(intptr_t)arg);
}

static void base_new(void)
{
    struct event_config *cfg = event_config_new();

    if (!cfg)
        pp_fail("event_config_new");
    event_config_avoid_method(cfg, "poll");
    event_config_avoid_method(cfg, "select");
    base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!base || strcmp(event_base_get_method(base), "epoll") != 0)
        pp_fail("an epoll event_base");
}

static void prime(void)
{
    pp_check(event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK),
             "event_base_loop");
}

static void native_setup(void)
{
    base_new();
    evs = calloc((size_t)pp_n, sizeof *evs);
    if (!evs)
        pp_fail("calloc");
    for (int i = 0; i < pp_n; i++) {
        evs[i] = event_new(base, pp_rd[i], EV_READ | EV_PERSIST, on_event,
                           (void *)(intptr_t)i);
        if (!evs[i] || event_add(evs[i], NULL) < 0)
            pp_fail("event_new/event_add");
    }
    prime();
}

static void osev_setup(void)
{
    osev_fd *w;

    base_new();
    pp_check(osev_ctx_new(NULL, &ctx), "osev_ctx_new");
    pp_check(osev_libevent_attach(ctx, base), "osev_libevent_attach");
    for (int i = 0; i < pp_n; i++)
        pp_check(osev_fd_add(ctx, pp_rd[i], POLLIN, on_fd,
                             (void *)(intptr_t)i, &w),
                 "osev_fd_add");
    prime();
}

static void once(void)
{
    pp_check(event_base_loop(base, EVLOOP_ONCE), "event_base_loop");
}

static void native_teardown(void)
{
    for (int i = 0; i < pp_n; i++)
        event_free(evs[i]);
    event_base_free(base);
    free(evs);
    evs = NULL;
}

static void osev_teardown(void)
{
    osev_ctx_free(ctx);
    ctx = NULL;
    event_base_free(base);
}

const struct pp_mode pp_modes[] = {
    { "libevent", native_setup, once, native_teardown },
    { "osev-on-libevent", osev_setup, once, osev_teardown },
    { NULL, NULL, NULL, NULL },
};
