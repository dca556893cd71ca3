/*
 * backend-poll.c - the built-in loop on poll(2): the pull protocol run on
 * the context's own buffer (copy the array, poll, mark), so nothing about
 * readiness is written twice.
 */
#include "backend.h"

#include <string.h>

static int poll_wait(osev_ctx *ctx, int timeout_ms)
{
    struct osev__round round = { 0 };
    int n = ctx->npfd, r, err;

    if (n > ctx->pbuf_cap) {
        struct pollfd *p =
            osev__realloc_array(ctx, ctx->pbuf, (size_t)n, sizeof *p);

        if (!p)
            return -ENOMEM;
        ctx->pbuf = p;
        ctx->pbuf_cap = n;
    }
    memcpy(ctx->pbuf, ctx->pfd, (size_t)n * sizeof *ctx->pbuf);
    osev__round_start(ctx, &round);

    ctx->in_wait = true;
    osev__unlock(ctx);
    r = poll(ctx->pbuf, (nfds_t)n, timeout_ms);
    err = errno;
    osev__lock(ctx);
    ctx->in_wait = false;

    if (r < 0)
        return err == EINTR ? 0 : -err; /* the turn waits again */
    osev__mark_pollfds(ctx, n, ctx->pbuf, round.epoch);
    return 0;
}

const struct osev__backend osev__backend_poll = {
    .name = "poll",
    .wait = poll_wait,
};
