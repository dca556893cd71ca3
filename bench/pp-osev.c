/*
 * pp-osev.c - ping-pong on osevent alone: one osev_fd_add() watch per
 * pair on a context, driven
 *  - osev-builtin[-st][-poll]: by osev_loop_once(ctx, OSEV_TIME_INFINITY)
 *      on a default context, one made with OSEV_CTX_SINGLE_THREAD ("-st"),
 *      and each with OSEV_CTX_BACKEND_POLL ("-poll");
 *  - osev-dispatch: by poll() on osev_get_fd() then osev_dispatch();
 *  - osev-pull: by osev_beforepoll() into the application's own pollfd
 *      array (grown on -ENOBUFS), poll(), osev_afterpoll().
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>

#include "osevent.h"

#include "pingpong.h"

static osev_ctx *ctx;
static struct pollfd *pfd;
static int pfd_room;

static void on_fd(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)fd, (void)revents;
    pp_readable((int)(intptr_t)arg);
}

static void watch_all(unsigned flags)
{
    struct osev_ctx_opts opts = { .size = sizeof opts, .flags = flags };
    osev_fd *w;

    pp_check(osev_ctx_new(&opts, &ctx), "osev_ctx_new");
    for (int i = 0; i < pp_n; i++)
        pp_check(osev_fd_add(ctx, pp_rd[i], POLLIN, on_fd,
                             (void *)(intptr_t)i, &w),
                 "osev_fd_add");
}

static void builtin_prime(void)
{
    int r = osev_loop_once(ctx, 0);

    if (r != -ETIMEDOUT)
        pp_check(r < 0 ? r : -EPROTO, "priming osev_loop_once");
}

static void builtin_setup(void)
{
    watch_all(0);
    builtin_prime();
}

static void builtin_st_setup(void)
{
    watch_all(OSEV_CTX_SINGLE_THREAD);
    builtin_prime();
}

static void builtin_poll_setup(void)
{
    watch_all(OSEV_CTX_BACKEND_POLL);
    builtin_prime();
}

static void builtin_st_poll_setup(void)
{
    watch_all(OSEV_CTX_SINGLE_THREAD | OSEV_CTX_BACKEND_POLL);
    builtin_prime();
}

static void builtin_once(void)
{
    pp_check(osev_loop_once(ctx, OSEV_TIME_INFINITY), "osev_loop_once");
}

static void dispatch_setup(void)
{
    watch_all(0);
    pp_check(osev_get_fd(ctx), "osev_get_fd");
    pp_check(osev_dispatch(ctx), "priming osev_dispatch");
}

static void dispatch_once(void)
{
    struct pollfd p = { .fd = osev_get_fd(ctx), .events = POLLIN };

    pp_check(poll(&p, 1, -1), "poll");
    pp_check(osev_dispatch(ctx), "osev_dispatch");
}

/* One pull round; @timeout: poll's. */
static void pull_round(int timeout)
{
    int n = pfd_room, r;

    while ((r = osev_beforepoll(ctx, &n, pfd, &timeout, 0)) == -ENOBUFS) {
        pfd = realloc(pfd, (size_t)n * sizeof *pfd);
        if (!pfd)
            pp_fail("realloc");
        pfd_room = n;
    }
    pp_check(r, "osev_beforepoll");
    pp_check(poll(pfd, (nfds_t)n, timeout), "poll");
    osev_afterpoll(ctx, n, pfd, 0);
}

static void pull_setup(void)
{
    watch_all(0);
    pull_round(0);
}

static void pull_once(void)
{
    pull_round(-1);
}

static void teardown(void)
{
    osev_ctx_free(ctx);
    ctx = NULL;
    free(pfd);
    pfd = NULL;
    pfd_room = 0;
}

const struct pp_mode pp_modes[] = {
    { "osev-builtin", builtin_setup, builtin_once, teardown },
    { "osev-builtin-st", builtin_st_setup, builtin_once, teardown },
    { "osev-builtin-poll", builtin_poll_setup, builtin_once, teardown },
    { "osev-builtin-st-poll", builtin_st_poll_setup, builtin_once,
      teardown },
    { "osev-dispatch", dispatch_setup, dispatch_once, teardown },
    { "osev-pull", pull_setup, pull_once, teardown },
    { NULL, NULL, NULL, NULL },
};
