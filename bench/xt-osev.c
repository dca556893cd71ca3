/*
 * xt-osev.c - cross-thread calls into osevent: osev_schedule() onto a
 * default context whose loop thread runs osev_loop_run().
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "osevent.h"

#include "xthread.h"

static osev_ctx *ctx;
static pthread_t thread;

static void *run(void *arg)
{
    (void)arg;
    if (osev_loop_run(ctx) < 0)
        xt_fail("osev_loop_run");
    return NULL;
}

static void call(osev_ctx *c, void *arg)
{
    (void)c, (void)arg;
    xt_ran();
}

static void start(void)
{
    if (osev_ctx_new(NULL, &ctx) < 0 ||
        pthread_create(&thread, NULL, run, NULL) != 0)
        xt_fail("start");
}

static void post(void)
{
    if (osev_schedule(ctx, call, NULL, NULL) < 0)
        xt_fail("osev_schedule");
}

static void stop(void)
{
    osev_loop_exit(ctx, 0);
    pthread_join(thread, NULL);
    osev_ctx_free(ctx);
}

const struct xt_mode xt_modes[] = {
    { "osev-schedule", start, post, stop },
    { NULL, NULL, NULL, NULL },
};
