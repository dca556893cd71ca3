/*
 * pp-libuv.c - ping-pong on a libuv loop, driven by uv_run(UV_RUN_ONCE)
 * (events are always ready, so ONCE never sleeps long and each call is
 * one poll and its callbacks):
 *  - libuv:         one uv_poll_t (UV_READABLE) per pair;
 *  - osev-on-libuv: a default osevent context attached with
 *                   osev_libuv_attach(), one osev_fd_add() per pair.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>

#include "osevent-libuv.h"

#include "pingpong.h"

static uv_loop_t loop;
static uv_poll_t *polls;
static osev_ctx *ctx;

static void on_poll(uv_poll_t *h, int status, int events)
{
    (void)events;
    pp_check(status, "uv_poll callback");
    pp_readable((int)(intptr_t)h->data);
}

static void on_fd(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)fd, (void)revents;
    pp_readable((int)(intptr_t)arg);
}

static void loop_init(void)
{
    pp_check(uv_loop_init(&loop), "uv_loop_init");
}

static void prime(void)
{
    uv_run(&loop, UV_RUN_NOWAIT);
}

static void native_setup(void)
{
    loop_init();
    polls = calloc((size_t)pp_n, sizeof *polls);
    if (!polls)
        pp_fail("calloc");
    for (int i = 0; i < pp_n; i++) {
        pp_check(uv_poll_init(&loop, &polls[i], pp_rd[i]), "uv_poll_init");
        polls[i].data = (void *)(intptr_t)i;
        pp_check(uv_poll_start(&polls[i], UV_READABLE, on_poll),
                 "uv_poll_start");
    }
    prime();
}

static void osev_setup(void)
{
    osev_fd *w;

    loop_init();
    pp_check(osev_ctx_new(NULL, &ctx), "osev_ctx_new");
    pp_check(osev_libuv_attach(ctx, &loop), "osev_libuv_attach");
    for (int i = 0; i < pp_n; i++)
        pp_check(osev_fd_add(ctx, pp_rd[i], POLLIN, on_fd,
                             (void *)(intptr_t)i, &w),
                 "osev_fd_add");
    prime();
}

static void once(void)
{
    uv_run(&loop, UV_RUN_ONCE);
}

static void loop_close(void)
{
    uv_run(&loop, UV_RUN_DEFAULT); /* finish the closes */
    pp_check(uv_loop_close(&loop), "uv_loop_close");
}

static void native_teardown(void)
{
    for (int i = 0; i < pp_n; i++)
        uv_close((uv_handle_t *)&polls[i], NULL);
    loop_close();
    free(polls);
    polls = NULL;
}

static void osev_teardown(void)
{
    osev_ctx_free(ctx);
    ctx = NULL;
    loop_close();
}

const struct pp_mode pp_modes[] = {
    { "libuv", native_setup, once, native_teardown },
    { "osev-on-libuv", osev_setup, once, osev_teardown },
    { NULL, NULL, NULL, NULL },
};
