/*
 * adapter.c - the part of every adapter that does not depend on the loop:
 * registration records, the hooks struct, attach and detach, time.
 */
#include "adapter.h"

#include <limits.h>
#include <stdlib.h>

static struct osev__areg *areg_new(struct osev__adapter *ad, int fd,
                                   void *token)
{
    struct osev__areg *r = calloc(1, sizeof *r + ad->ops->reg_size);

    if (r) {
        r->ad = ad;
        r->fd = fd;
        r->token = token;
    }
    return r;
}

void osev__areg_free(struct osev__areg *r)
{
    free(r);
}

static void areg_stop_done(struct osev__areg *r)
{
    if (!r->ad->ops->stop_frees_later)
        free(r);
}

static int hook_fd_register(void *user, int fd, void **app_reg_out,
                            short events, void *for_osev)
{
    struct osev__adapter *ad = user;
    struct osev__areg *r = areg_new(ad, fd, for_osev);
    int rc;

    if (!r)
        return -ENOMEM;
    r->events = events;
    rc = ad->ops->fd_start(r);
    if (rc < 0) {
        free(r);
        return rc;
    }
    *app_reg_out = r;
    return 0;
}

static int hook_fd_modify(void *user, int fd, void **app_reg_io, short events)
{
    struct osev__areg *r = *app_reg_io;
    int rc = r->ad->ops->fd_change(r, events);

    (void)user, (void)fd;
    if (rc == 0)
        r->events = events;
    return rc;
}

static void hook_fd_deregister(void *user, int fd, void *app_reg)
{
    struct osev__areg *r = app_reg;

    (void)user, (void)fd;
    r->ad->ops->fd_stop(r);
    areg_stop_done(r);
}

static int hook_timeout_register(void *user, void **app_reg_out,
                                 osev_time deadline, void *for_osev)
{
    struct osev__adapter *ad = user;
    struct osev__areg *r = areg_new(ad, -1, for_osev);
    int rc;

    if (!r)
        return -ENOMEM;
    rc = ad->ops->timeout_start(r, deadline);
    if (rc < 0) {
        free(r);
        return rc;
    }
    *app_reg_out = r;
    return 0;
}

static int hook_timeout_modify(void *user, void **app_reg_io,
                               osev_time deadline)
{
    struct osev__areg *r = *app_reg_io;

    (void)user;
    return r->ad->ops->timeout_change(r, deadline);
}

static void hook_timeout_deregister(void *user, void *app_reg)
{
    struct osev__areg *r = app_reg;

    (void)user;
    r->ad->ops->timeout_stop(r);
    areg_stop_done(r);
}

/* Every registration is gone: the adapter goes with the hooks. */
static void hook_release(void *user)
{
    struct osev__adapter *ad = user;

    if (ad->ops->detach)
        ad->ops->detach(ad);
    free(ad);
}

static const struct osev_hooks adapter_hooks = {
    .fd_register = hook_fd_register,
    .fd_modify = hook_fd_modify,
    .fd_deregister = hook_fd_deregister,
    .timeout_register = hook_timeout_register,
    .timeout_modify = hook_timeout_modify,
    .timeout_deregister = hook_timeout_deregister,
    .release = hook_release,
};

int osev__adapter_attach(osev_ctx *ctx, void *loop,
                         const struct osev__adapter_ops *ops)
{
    struct osev__adapter *ad;
    int r;

    if (!ctx || !loop)
        return -EINVAL;
    ad = calloc(1, sizeof *ad + ops->state_size);
    if (!ad)
        return -ENOMEM;
    ad->ops = ops;
    ad->ctx = ctx;
    ad->loop = loop;
    if (ops->attach) {
        r = ops->attach(ad);
        if (r < 0) {
            free(ad);
            return r;
        }
    }
    /* On failure nothing was registered and release was not called. */
    r = osev_set_hooks(ctx, &adapter_hooks, sizeof adapter_hooks, ad);
    if (r < 0) {
        if (ops->detach)
            ops->detach(ad);
        free(ad);
    }
    return r;
}

void osev__adapter_detach(osev_ctx *ctx)
{
    if (ctx)
        osev_set_hooks(ctx, NULL, 0, NULL);
}

void osev__areg_fd_ready(struct osev__areg *r, short revents)
{
    osev_occurred_fd(r->ad->ctx, r->token, r->fd, r->events, revents);
}

void osev__areg_timeout_fired(struct osev__areg *r)
{
    osev_occurred_timeout(r->ad->ctx, r->token);
}

osev_time osev__us_until(osev_time deadline)
{
    osev_time left = deadline - osev_now();

    if (deadline == OSEV_TIME_INFINITY)
        return INT64_MAX / 1000;
    return left <= 0 ? 0 : left / 1000 + (left % 1000 != 0);
}

int osev__ms_until(osev_time deadline)
{
    osev_time us = osev__us_until(deadline);
    osev_time ms = us / 1000 + (us % 1000 != 0);

    return ms > INT_MAX ? INT_MAX : (int)ms;
}

struct timeval osev__tv_until(osev_time deadline)
{
    osev_time us = osev__us_until(deadline);

    return (struct timeval){ .tv_sec = (time_t)(us / 1000000),
                             .tv_usec = (suseconds_t)(us % 1000000) };
}

double osev__s_until(osev_time deadline)
{
    return (double)osev__us_until(deadline) / 1e6;
}
