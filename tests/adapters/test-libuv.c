/*
 * test-libuv.c - the push-mode scenario inside a real libuv loop.
 *
 * The test's loop holds nothing but the adapter's handles, so libuv's own
 * walk over its handles counts ours.
 */
#include "scenario.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

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

static const struct scenario_loop libuv_loop = {
    .name = "libuv",
    .loop_new = loop_new,
    .loop_free = loop_free,
    .attach = attach,
    .detach = osev_libuv_detach,
    .iterate = iterate,
    .foreign_count = foreign_count,
    .is_empty = is_empty,
};

/*
 * The shared scenario never changes a registration's mask to another
 * non-zero one, so fd_change is tested here: a socket's registration
 * grows from POLLIN to POLLIN|POLLOUT (the new bit must be reported) and
 * shrinks back (the old bit must be gone from the foreign watch: left
 * there, the always-writable socket would wake the loop on every turn
 * before the timer fires, which the turn count shows).
 */
static const struct scenario_loop *X;
static int in_calls, out_calls, timer_calls;

static void in_cb(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)arg;
    ck_assert(revents & POLLIN);
    tu_drain(fd);
    in_calls++;
}

static void out_cb(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)fd, (void)arg;
    ck_assert(revents & POLLOUT);
    out_calls++;
}

static void timer_cb(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now, (void)arg;
    timer_calls++;
}

/* Turns of the foreign loop until *count reaches @want (5 s at most). */
static int turn_until(void *loop, const int *count, int want)
{
    osev_time until = osev_now() + osev_s(5);
    int turns = 0;

    while (*count < want) {
        ck_assert_msg(osev_now() < until, "timed out");
        X->iterate(loop);
        turns++;
    }
    return turns;
}

START_TEST(mask_change)
{
    void *loop = X->loop_new();
    osev_ctx *ctx = tu_ctx_new();
    struct osev_hook_stats st = { .size = sizeof st };
    osev_fd *rd, *wr;
    osev_timer *t;
    int sv[2];

    in_calls = out_calls = timer_calls = 0;
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
                                SOCK_CLOEXEC, 0, sv), 0);
    ck_assert_osev_ok(X->attach(ctx, loop));
    ck_assert_osev_ok(osev_fd_add(ctx, sv[0], POLLIN, in_cb, NULL, &rd));
    ck_assert_osev_ok(osev_fd_add(ctx, sv[0], POLLOUT, out_cb, NULL, &wr));
    turn_until(loop, &out_calls, 1);
    osev_fd_remove(wr);
    tu_write_byte(sv[1]);
    turn_until(loop, &in_calls, 1);

    ck_assert_osev_ok(osev_timer_add(ctx, osev_now() + osev_ms(50), timer_cb,
                                     NULL, &t));
    ck_assert_int_le(turn_until(loop, &timer_calls, 1), 5);
    ck_assert_int_eq(out_calls, 1);

    ck_assert_osev_ok(osev_get_hook_stats(ctx, &st));
    ck_assert_uint_eq(st.fd_modifies, 2);
    ck_assert_uint_eq(st.fd_regs, 2); /* the socket and the wakeup fd */
    if (X->foreign_count)
        ck_assert_int_eq(X->foreign_count(loop), 2);
    osev_ctx_free(ctx); /* watch and timer go with it */
    ck_assert(X->is_empty(loop));
    X->loop_free(loop);
    close(sv[0]), close(sv[1]);
}
END_TEST

static int run_extra(const struct scenario_loop *sl)
{
    Suite *s = suite_create(sl->name);
    TCase *tc = tcase_create("mask-change");

    X = sl;
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, mask_change);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}

int main(void)
{
    int a = scenario_main(&libuv_loop), b = run_extra(&libuv_loop);

    return a == EXIT_SUCCESS && b == EXIT_SUCCESS ? EXIT_SUCCESS
                                                  : EXIT_FAILURE;
}
