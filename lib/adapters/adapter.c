/*
 * adapter.c - the part of every adapter that does not depend on the loop:
 * registration records, the hooks struct, attach and detach, time.
 *
 * Fork.  A child of fork() that frees an inherited context, or detaches
 * it, must leave the parent's loop as it was, and the foreign loop is the
 * parent's as much as the child's: its epoll set or wakeup fd is one
 * kernel object for both.  Stopping a watch there would act on it
 * (libevent's event_del() and libuv's uv_close() are an EPOLL_CTL_DEL on
 * the shared set: the parent's watch would never fire again; GLib writes
 * its wakeup fd).  So in the child osevent calls no deregister hook, and
 * the release hook here, finding itself in another process than the one
 * that attached, calls nothing of the loop: the records are abandoned,
 * not stopped.  They stay allocated, since the loop still points at them
 * and a child that goes on with its copy of the loop (after
 * event_reinit(), uv_loop_fork()...) may still run their callbacks; they
 * are marked, so those callbacks report nothing.  The leak is bounded by
 * what the context had registered, is the child's only, and stays
 * reachable from a static list, so leak checkers see it as kept, not
 * lost.  Freeing it instead would leave the child's loop with dangling
 * pointers.  The price is the child's: its copy of the loop keeps
 * watches it cannot remove, one on the wakeup fd the free closed, which
 * libev and libuv abort on when their fork re-initialisation re-adds it.
 * A child that needs a loop makes its own.
 */
#include "adapter.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

/* Adapters abandoned in forked children (see "Fork" above). */
static pthread_mutex_t abandoned_lock = PTHREAD_MUTEX_INITIALIZER;
static struct osev__adapter *abandoned;

static struct osev__areg *areg_new(struct osev__adapter *ad, int fd,
                                   void *token)
{
    struct osev__areg *r = calloc(1, sizeof *r + ad->ops->reg_size);

    if (r) {
        osev__list_init(&r->link);
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
    osev__list_append(&ad->regs, &r->link);
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
    osev__list_unlink(&r->link);
    r->ad->ops->fd_stop(r);
    areg_stop_done(r);
}

static int hook_fd_ref(void *user, int fd, void **app_reg_io, bool ref)
{
    struct osev__areg *r = *app_reg_io;
    int rc = r->ad->ops->fd_ref(r, ref);

    (void)user, (void)fd;
    if (rc == 0)
        r->unref = !ref;
    return rc;
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
    osev__list_append(&ad->regs, &r->link);
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
    osev__list_unlink(&r->link);
    r->ad->ops->timeout_stop(r);
    areg_stop_done(r);
}

/* In a forked child: leave every record in the loop, inert, and keep
 * them and the adapter (see "Fork" above). */
static void adapter_abandon(struct osev__adapter *ad)
{
    for (struct osev__list *n = ad->regs.next; n != &ad->regs; n = n->next)
        osev__container_of(n, struct osev__areg, link)->abandoned = true;
    if (ad->ops->abandon)
        ad->ops->abandon(ad);
    pthread_mutex_lock(&abandoned_lock);
    ad->next_abandoned = abandoned;
    abandoned = ad;
    pthread_mutex_unlock(&abandoned_lock);
}

/* Every registration is gone: the adapter goes with the hooks.  In a
 * forked child none was deregistered, and the loop is not ours to touch. */
static void hook_release(void *user)
{
    struct osev__adapter *ad = user;

    if (ad->pid != getpid()) {
        adapter_abandon(ad);
        return;
    }
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
    struct osev_hooks hooks = adapter_hooks;
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
    ad->pid = getpid();
    osev__list_init(&ad->regs);
    if (ops->attach) {
        r = ops->attach(ad);
        if (r < 0) {
            free(ad);
            return r;
        }
    }
    /* A loop without fd_ref is kept running by every registration. */
    if (ops->fd_ref)
        hooks.fd_ref = hook_fd_ref;
    /* On failure nothing was registered and release was not called. */
    r = osev_set_hooks(ctx, &hooks, sizeof hooks, ad);
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
    if (!r->abandoned) /* else its context is gone */
        osev_occurred_fd(r->ad->ctx, r->token, r->fd, r->events, revents);
}

void osev__areg_timeout_fired(struct osev__areg *r)
{
    if (!r->abandoned)
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
