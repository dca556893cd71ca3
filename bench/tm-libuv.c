/*
 * tm-libuv.c - timers on a libuv loop, turns being
 * uv_run(loop, UV_RUN_NOWAIT), one uv_timer_t per timer (mode "libuv";
 * libuv's timeouts are whole milliseconds).
 */
#define _GNU_SOURCE
#include <stdlib.h>

#include <uv.h>

#include "timers.h"

static uv_loop_t loop;
static uv_timer_t *uvt;

static void on_timer(uv_timer_t *t)
{
    (void)t;
    tm_fired();
}

static void setup(int n)
{
    tm_check(uv_loop_init(&loop), "uv_loop_init");
    uvt = calloc((size_t)n, sizeof *uvt);
    if (!uvt)
        tm_fail("calloc");
    for (int i = 0; i < n; i++)
        tm_check(uv_timer_init(&loop, &uvt[i]), "uv_timer_init");
}

static void add(int i, double delay)
{
    tm_check(uv_timer_start(&uvt[i], on_timer,
                            delay <= 0 ? 0 : (uint64_t)(delay * 1000), 0),
             "uv_timer_start");
}

static void cancel(int i)
{
    tm_check(uv_timer_stop(&uvt[i]), "uv_timer_stop");
}

static void turn(void)
{
    uv_run(&loop, UV_RUN_NOWAIT);
}

static void teardown(void)
{
    /* The handles stay initialised: closing 1e6 of them is not measured
     * and the process ends here. */
    free(uvt);
}

const struct tm_mode tm_modes[] = {
    { "libuv", setup, add, cancel, turn, teardown },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};
