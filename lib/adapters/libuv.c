/*
 * libuv.c - a libuv loop drives an osevent context.
 *
 * SPDX-License-Identifier: MIT
 *
 * Each fd registration is one uv_poll_t, the context's timeout one
 * uv_timer_t without repeat (libuv stops it as it fires: then osevent
 * re-arms or deregisters it).  The handles live inside the registration
 * records.  libuv closes handles asynchronously, so a stopped record is
 * freed from its close callback (stop_frees_later); that callback must
 * not touch the adapter, which may be gone by then.
 *
 * While the context holds nothing of the application's, osevent
 * unreferences its own registration (the wakeup fd: see fd_ref in
 * osevent.h), and the handle is uv_unref()ed, as libuv does with its own
 * internal handles: uv_run(UV_RUN_DEFAULT) returns once nothing else is
 * left, and the handle is still polled, so a wakeup from another thread
 * still reaches a loop that runs for other reasons.  The flag is the
 * handle's: uv_poll_start() and uv_close() keep it as it is.
 */
#include "adapter.h"

#include <assert.h>
#include <stdint.h>

#include <uv.h>

#include "osevent-libuv.h"

union uv_reg {
    uv_handle_t handle;
    uv_poll_t poll;
    uv_timer_t timer;
};

static union uv_reg *uvr(struct osev__areg *r)
{
    return (union uv_reg *)r->priv;
}

static int uv_events(short events)
{
    return (events & POLLIN ? UV_READABLE : 0) |
           (events & POLLOUT ? UV_WRITABLE : 0) |
           (events & POLLPRI ? UV_PRIORITIZED : 0);
}

/* The handle's memory is the record's: both go when libuv is done. */
static void on_close(uv_handle_t *h)
{
    osev__areg_free(h->data);
}

/* status < 0: libuv met POLLERR and has stopped the handle itself (a new
 * uv_poll_start, on the next change of mask, restarts it).  A hang-up
 * comes as readiness for what is watched. */
static void on_poll(uv_poll_t *h, int status, int events)
{
    short revents = POLLERR;

    if (status >= 0)
        revents = (short)((events & UV_READABLE ? POLLIN : 0) |
                          (events & UV_WRITABLE ? POLLOUT : 0) |
                          (events & UV_PRIORITIZED ? POLLPRI : 0));
    /* May close h: its memory stays until on_close, but nothing here
     * needs it afterwards. */
    osev__areg_fd_ready(h->data, revents);
}

static int uvr_fd_start(struct osev__areg *r)
{
    uv_poll_t *p = &uvr(r)->poll;
    int rc = uv_poll_init(r->ad->loop, p, r->fd);

    if (rc < 0)
        return rc; /* libuv holds nothing yet: the record may go at once */
    p->data = r;
    rc = uv_poll_start(p, uv_events(r->events), on_poll);
    /* libuv refuses only an fd another handle polls, which uv_poll_init
     * has just ruled out; a failure here could not be undone, since the
     * record is freed at once while the handle would stay in the loop. */
    assert(rc == 0);
    return rc;
}

/* A new start replaces the mask; it cannot fail on a handle of ours
 * (uv_poll_start's only error is another handle owning the fd). */
static int uvr_fd_change(struct osev__areg *r, short events)
{
    return uv_poll_start(&uvr(r)->poll, uv_events(events), on_poll);
}

static void uvr_stop(struct osev__areg *r)
{
    uv_close(&uvr(r)->handle, on_close);
}

/* uv_ref()/uv_unref() only move the handle in or out of what keeps the
 * loop alive: they cannot fail. */
static int uvr_fd_ref(struct osev__areg *r, bool ref)
{
    if (ref)
        uv_ref(&uvr(r)->handle);
    else
        uv_unref(&uvr(r)->handle);
    return 0;
}

static void on_timer(uv_timer_t *t)
{
    osev__areg_timeout_fired(t->data);
}

/*
 * libuv counts from its loop time, cached when the turn began and cut to
 * whole milliseconds: refresh it, and add the millisecond the cut can
 * take, so that the timer never fires before @deadline.  A deadline due
 * now stays 0: the next turn.  Starting an active timer restarts it.
 */
static int uvr_timer_arm(struct osev__areg *r, osev_time deadline)
{
    uint64_t ms = (uint64_t)osev__ms_until(deadline);

    uv_update_time(r->ad->loop);
    return uv_timer_start(&uvr(r)->timer, on_timer, ms ? ms + 1 : 0, 0);
}

static int uvr_timeout_start(struct osev__areg *r, osev_time deadline)
{
    uv_timer_t *t = &uvr(r)->timer;
    int rc;

    uv_timer_init(r->ad->loop, t); /* cannot fail */
    t->data = r;
    rc = uvr_timer_arm(r, deadline);
    /* Only a closing handle or a NULL callback is refused: not ours. */
    assert(rc == 0);
    return rc;
}

static int uvr_timeout_change(struct osev__areg *r, osev_time deadline)
{
    return uvr_timer_arm(r, deadline);
}

static const struct osev__adapter_ops libuv_ops = {
    .name = "libuv",
    .reg_size = sizeof(union uv_reg),
    .fd_start = uvr_fd_start,
    .fd_change = uvr_fd_change,
    .fd_stop = uvr_stop,
    .timeout_start = uvr_timeout_start,
    .timeout_change = uvr_timeout_change,
    .timeout_stop = uvr_stop,
    .fd_ref = uvr_fd_ref,
    .stop_frees_later = true,
};

OSEV_EXPORT int osev_libuv_attach(osev_ctx *ctx, uv_loop_t *loop)
{
    return osev__adapter_attach(ctx, loop, &libuv_ops);
}

OSEV_EXPORT void osev_libuv_detach(osev_ctx *ctx)
{
    osev__adapter_detach(ctx);
}
