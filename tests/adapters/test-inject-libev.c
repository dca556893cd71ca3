/*
 * test-inject-libev.c - allocation failure inside a libev loop
 * (tests/adapters/inject.c): every allocation of attach and of the
 * registrations made while attached fails in turn.
 *
 * libev aborts when an allocation fails: only osevent's fail.
 */
#include "inject.h"

#include <stdlib.h>

#include <ev.h>

#include "osevent-libev.h"

static void *lv_new(void)
{
    return ev_loop_new(EVFLAG_AUTO);
}

static void lv_free(void *loop)
{
    ev_loop_destroy(loop);
}

static int lv_attach(osev_ctx *ctx, void *loop)
{
    return osev_libev_attach(ctx, loop);
}

static int lv_iterate(void *loop)
{
    ev_run(loop, EVRUN_ONCE);
    return 0;
}

static bool lv_empty(void *loop)
{
    return ev_run(loop, EVRUN_NOWAIT) == 0;
}

int main(void)
{
    /* libev aborts when an allocation fails: only osevent's fail. */
    static const struct inject_loop loop = {
        .name = "libev",
        .loop_new = lv_new,
        .loop_free = lv_free,
        .attach = lv_attach,
        .detach = osev_libev_detach,
        .iterate = lv_iterate,
        .is_empty = lv_empty,
    };

    return inject_main(&loop);
}
