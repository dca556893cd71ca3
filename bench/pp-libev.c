/*
 * pp-libev.c - ping-pong on a libev loop (EVBACKEND_EPOLL), driven by
 * ev_run(loop, EVRUN_ONCE):
 *  - libev:         one ev_io (EV_READ) per pair;
 *  - osev-on-libev: a default osevent context attached with
 *                   osev_libev_attach(), one osev_fd_add() per pair.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>

#include "osevent-libev.h"

#include "pingpong.h"

static struct ev_loop *loop;
static ev_io *ios;
static osev_ctx *ctx;

static void on_io(struct ev_loop *l, ev_io *w, int revents)
{
    (void)l, (void)revents;
    pp_readable((int)(intptr_t)w->data);
}

static void on_fd(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)fd, (void)revents;
    pp_readable((int)(intptr_t)arg);
}

static void loop_new(void)
{
    loop = ev_loop_new(EVBACKEND_EPOLL);
    if (!loop || ev_backend(loop) != EVBACKEND_EPOLL)
        pp_fail("ev_loop_new(EVBACKEND_EPOLL)");
}

static void native_setup(void)
{
    loop_new();
    ios = calloc((size_t)pp_n, sizeof *ios);
    if (!ios)
        pp_fail("calloc");
    for (int i = 0; i < pp_n; i++) {
        ev_io_init(&ios[i], on_io, pp_rd[i], EV_READ);
        ios[i].data = (void *)(intptr_t)i;
        ev_io_start(loop, &ios[i]);
    }
    ev_run(loop, EVRUN_NOWAIT);
}

static void osev_setup(void)
{
    osev_fd *w;

    loop_new();
    pp_check(osev_ctx_new(NULL, &ctx), "osev_ctx_new");
    pp_check(osev_libev_attach(ctx, loop), "osev_libev_attach");
    for (int i = 0; i < pp_n; i++)
        pp_check(osev_fd_add(ctx, pp_rd[i], POLLIN, on_fd,
                             (void *)(intptr_t)i, &w),
                 "osev_fd_add");
    ev_run(loop, EVRUN_NOWAIT);
}

static void once(void)
{
    ev_run(loop, EVRUN_ONCE);
}

static void native_teardown(void)
{
    for (int i = 0; i < pp_n; i++)
        ev_io_stop(loop, &ios[i]);
    ev_loop_destroy(loop);
    free(ios);
    ios = NULL;
}

static void osev_teardown(void)
{
    osev_ctx_free(ctx);
    ctx = NULL;
    ev_loop_destroy(loop);
}

const struct pp_mode pp_modes[] = {
    { "libev", native_setup, once, native_teardown },
    { "osev-on-libev", osev_setup, once, osev_teardown },
    { NULL, NULL, NULL, NULL },
};
