/*
 * test-libuv.c - the push-mode scenario inside a real libuv loop.
 *
 * The test's loop holds nothing but the adapter's handles, so libuv's own
 * walk over its handles counts ours.
 */
#include "scenario.h"

#include <stdlib.h>

#include <uv.h>

#include "osevent-libuv.h"

static void *loop_new(void)
{
    uv_loop_t *loop = malloc(sizeof *loop);

    ck_assert_ptr_nonnull(loop);
    ck_assert_int_eq(uv_loop_init(loop), 0);
    return loop;
}

/* uv_loop_close() refuses (UV_EBUSY) while any handle is left. */
static void loop_free(void *loop)
{
    ck_assert_int_eq(uv_loop_close(loop), 0);
    free(loop);
}

static int attach(osev_ctx *ctx, void *loop)
{
    return osev_libuv_attach(ctx, loop);
}

static void iterate(void *loop)
{
    uv_run(loop, UV_RUN_ONCE);
}

/* A timer that fired and was not re-armed is inactive, and so is a
 * closing handle: neither is a registration the loop holds. */
static void count_active(uv_handle_t *h, void *arg)
{
    if (uv_is_active(h) && !uv_is_closing(h))
        ++*(int *)arg;
}

static int foreign_count(void *loop)
{
    int n = 0;

    uv_walk(loop, count_active, &n);
    return n;
}

static void count_all(uv_handle_t *h, void *arg)
{
    (void)h;
    ++*(int *)arg;
}

/* One turn runs the close callbacks of what detach or free closed; then
 * the loop must have no handle at all.  uv_loop_alive() alone would miss
 * a handle stopped but never closed (inactive, yet still in the loop). */
static bool is_empty(void *loop)
{
    int n = 0;

    uv_run(loop, UV_RUN_NOWAIT);
    uv_walk(loop, count_all, &n);
    return n == 0 && !uv_loop_alive(loop);
}

static void run_until_done(void *loop)
{
    ck_assert_int_eq(uv_run(loop, UV_RUN_DEFAULT), 0);
}

/* A timer of the test's own, an hour away: keeps uv_run() running.
 * Letting go closes it, which takes the loop one more turn. */
static uv_timer_t holder;

static void holder_fired(uv_timer_t *t)
{
    (void)t;
    ck_abort_msg("the holder timer fired");
}

static void native_hold(void *loop, bool on)
{
    if (on) {
        ck_assert_int_eq(uv_timer_init(loop, &holder), 0);
        ck_assert_int_eq(uv_timer_start(&holder, holder_fired, 3600000, 0), 0);
    } else {
        uv_close((uv_handle_t *)&holder, NULL);
    }
}

static const struct scenario_loop libuv_loop = {
    .name = "libuv",
    .loop_new = loop_new,
    .loop_free = loop_free,
    .attach = attach,
    .detach = osev_libuv_detach,
    .iterate = iterate,
    .foreign_count = foreign_count,
    .is_empty = is_empty,
    .run_until_done = run_until_done,
    .native_hold = native_hold,
    /* uv_walk() sees unreferenced handles too: unref_uncounted stays
     * false. */
    /* No child_reinit: after uv_loop_fork() libuv re-adds every handle,
     * the abandoned one on the wakeup fd osev_ctx_free() closed too, and
     * aborts on epoll_ctl()'s EBADF. */
};

int main(void)
{
    return scenario_main(&libuv_loop);
}
