/*
 * test-inject-libuv.c - allocation failure inside a libuv loop
 * (tests/adapters/inject.c): every allocation of attach and of the
 * registrations made while attached fails in turn.
 *
 * libuv aborts when growing its watcher array fails: only osevent's
 * allocations fail.
 */
#include "inject.h"

#include <stdlib.h>

#include <uv.h>

#include "osevent-libuv.h"

static void *uv_new(void)
{
    uv_loop_t *loop = malloc(sizeof *loop);

    ck_assert_ptr_nonnull(loop);
    ck_assert_int_eq(uv_loop_init(loop), 0);
    return loop;
}

static void uv_free(void *loop)
{
    ck_assert_int_eq(uv_loop_close(loop), 0);
    free(loop);
}

static int uv_attach(osev_ctx *ctx, void *loop)
{
    return osev_libuv_attach(ctx, loop);
}

static int uv_iterate(void *loop)
{
    uv_run(loop, UV_RUN_ONCE);
    return 0;
}

static void count_all(uv_handle_t *h, void *arg)
{
    (void)h;
    ++*(int *)arg;
}

/* Closes complete on the next turn: run it, then nothing may be left. */
static bool uv_empty(void *loop)
{
    int n = 0;

    uv_run(loop, UV_RUN_NOWAIT);
    uv_walk(loop, count_all, &n);
    return n == 0 && !uv_loop_alive(loop);
}

int main(void)
{
    /* libuv aborts when growing its watcher array fails: only
     * osevent's allocations fail. */
    static const struct inject_loop loop = {
        .name = "libuv",
        .loop_new = uv_new,
        .loop_free = uv_free,
        .attach = uv_attach,
        .detach = osev_libuv_detach,
        .iterate = uv_iterate,
        .is_empty = uv_empty,
    };

    return inject_main(&loop);
}
