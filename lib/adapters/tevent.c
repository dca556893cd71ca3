/*
 * tevent.c - a tevent context drives an osevent context.
 *
 * SPDX-License-Identifier: MIT
 *
 * Each fd registration is one struct tevent_fd, the context's timeout one
 * struct tevent_timer.  Both are talloc children of a context the adapter
 * owns (made at attach, freed at detach), never of the tevent context or
 * of anything the application owns: so freeing them is always ours to
 * do, and at detach that context is freed whole.  The registration records
 * themselves are adapter.c's (malloc), out of talloc's reach.
 *
 * Unreferenced registrations.  While the context holds nothing of the
 * application's, osevent unreferences its own registration (the wakeup
 * fd: see fd_ref in osevent.h), so that tevent_loop_wait() may return.
 * tevent counts every fde it holds, whatever its flags, and has no way to
 * poll one without counting it (only its own wakeup fd is left out), so
 * the fde is freed meanwhile and added again when the registration is
 * referenced; that add allocates and may fail, which osevent retries.
 * The price: while unreferenced the wakeup fd is not polled, so a call
 * another thread schedules (osev_schedule()) does not reach a tevent loop
 * that runs for other reasons; it runs at the context's next pass (see
 * osev_tevent_attach(3)).
 */
#include "adapter.h"

#include <talloc.h>
#include <tevent.h>

#include "osevent-tevent.h"

/* The loop-wide state: the talloc parent of every fde and timer. */
struct tev_state {
    TALLOC_CTX *mem;
};

/* The registration's tevent object: an fde (NULL while unreferenced), or
 * the armed timer (NULL once it fired: tevent frees a timer after its
 * handler). */
struct tev_reg {
    struct tevent_fd *fde;
    struct tevent_timer *te;
};

static struct tev_reg *tev(struct osev__areg *r)
{
    return (struct tev_reg *)r->priv;
}

static struct tev_state *tev_state(struct osev__adapter *ad)
{
    return (struct tev_state *)ad->state;
}

static int tev_attach(struct osev__adapter *ad)
{
    tev_state(ad)->mem = talloc_named_const(NULL, 0, "osevent-tevent");
    return tev_state(ad)->mem ? 0 : -ENOMEM;
}

/*
 * Every registration was stopped.  One fde may still be a child here: the
 * one whose handler is running, when the detach (or osev_ctx_free) comes
 * from an fd callback.  tevent refuses to free it until its handler
 * returns, so talloc moves it out of our context and tevent frees it
 * then; tevent no longer dispatches it.
 */
static void tev_detach(struct osev__adapter *ad)
{
    talloc_free(tev_state(ad)->mem);
}

/*
 * POLLPRI has no tevent counterpart (TEVENT_FD_READ is POLLIN|POLLHUP
 * only): watching it as READ would never fire for urgent data alone and
 * would fire on every turn for an always-readable fd.  Refused instead.
 * Where tevent can report errors to any fde (TEVENT_FD_ERROR, newer than
 * 0.14) we ask for them, as the hooks contract wants; tevent 0.14 reports
 * POLLERR/POLLHUP only to fdes that have TEVENT_FD_READ.
 */
static int tev_flags(short events, uint16_t *flags_out)
{
    uint16_t flags = 0;

    if (events & POLLPRI)
        return -EINVAL;
    if (events & POLLIN)
        flags |= TEVENT_FD_READ;
    if (events & POLLOUT)
        flags |= TEVENT_FD_WRITE;
#ifdef TEVENT_FD_ERROR
    flags |= TEVENT_FD_ERROR;
#endif
    *flags_out = flags;
    return 0;
}

static void on_fd(struct tevent_context *ev, struct tevent_fd *fde,
                  uint16_t flags, void *arg)
{
    short revents = 0;

    (void)ev, (void)fde;
    if (flags & TEVENT_FD_READ)
        revents |= POLLIN;
    if (flags & TEVENT_FD_WRITE)
        revents |= POLLOUT;
#ifdef TEVENT_FD_ERROR
    if (flags & TEVENT_FD_ERROR)
        revents |= POLLERR;
#endif
    /* May free fde (tevent defers that past the handler) and arg. */
    osev__areg_fd_ready(arg, revents);
}

static int tev_fd_start(struct osev__areg *r)
{
    uint16_t flags;
    int err = tev_flags(r->events, &flags);

    if (err < 0)
        return err;
    tev(r)->fde = tevent_add_fd(r->ad->loop, tev_state(r->ad)->mem, r->fd,
                                flags, on_fd, r);
    /* tevent reports no cause: allocation is what fails in practice. */
    return tev(r)->fde ? 0 : -ENOMEM;
}

/* tevent_fd_set_flags() cannot fail, so nothing is to be undone.  An
 * unreferenced registration has no fde: the new events are r->events
 * when it is added again. */
static int tev_fd_change(struct osev__areg *r, short events)
{
    uint16_t flags;
    int err = tev_flags(events, &flags);

    if (err < 0)
        return err;
    if (tev(r)->fde)
        tevent_fd_set_flags(tev(r)->fde, flags);
    return 0;
}

static void tev_fd_stop(struct osev__areg *r)
{
    /* From inside its own handler too: tevent defers the free.  NULL (an
     * unreferenced registration) is fine. */
    talloc_free(tev(r)->fde);
}

/* Out of tevent while unreferenced (see the top of the file); from inside
 * the fde's own handler too, as for a stop. */
static int tev_fd_ref(struct osev__areg *r, bool ref)
{
    if (ref)
        return tev_fd_start(r);
    talloc_free(tev(r)->fde);
    tev(r)->fde = NULL;
    return 0;
}

static void on_timer(struct tevent_context *ev, struct tevent_timer *te,
                     struct timeval now, void *arg)
{
    struct osev__areg *r = arg;

    (void)ev, (void)te, (void)now;
    /* tevent frees te when we return: a re-arm from the dispatch below
     * must add a new timer, not update this one. */
    tev(r)->te = NULL;
    osev__areg_timeout_fired(r);
}

/*
 * tevent's timers run on its own clock, gettimeofday() (the wall clock),
 * so the monotonic deadline becomes "now on tevent's clock + what is
 * left".  A wall-clock step moves the timer with it; firing early costs
 * osevent a turn (it re-arms), firing late delays the timers.  What is
 * due now becomes tevent's zero time, which it runs on its next turn
 * without reading the clock.
 */
static struct timeval tev_when(osev_time deadline)
{
    struct timeval left = osev__tv_until(deadline);
    struct timeval tv;

    if (left.tv_sec == 0 && left.tv_usec == 0)
        return tevent_timeval_zero();
    /* Not tevent_timeval_add(): its uint32_t seconds would wrap. */
    tv = tevent_timeval_current();
    tv.tv_sec += left.tv_sec;
    tv.tv_usec += left.tv_usec;
    if (tv.tv_usec >= 1000000) {
        tv.tv_sec++;
        tv.tv_usec -= 1000000;
    }
    return tv;
}

static int tev_timeout_start(struct osev__areg *r, osev_time deadline)
{
    tev(r)->te = tevent_add_timer(r->ad->loop, tev_state(r->ad)->mem,
                                  tev_when(deadline), on_timer, r);
    return tev(r)->te ? 0 : -ENOMEM;
}

static int tev_timeout_change(struct osev__areg *r, osev_time deadline)
{
    if (!tev(r)->te) /* it fired: tevent holds nothing any more */
        return tev_timeout_start(r, deadline);
    tevent_update_timer(tev(r)->te, tev_when(deadline));
    return 0;
}

static void tev_timeout_stop(struct osev__areg *r)
{
    talloc_free(tev(r)->te); /* NULL (fired) is fine */
}

static const struct osev__adapter_ops tev_ops = {
    .name = "tevent",
    .reg_size = sizeof(struct tev_reg),
    .state_size = sizeof(struct tev_state),
    .attach = tev_attach,
    .fd_start = tev_fd_start,
    .fd_change = tev_fd_change,
    .fd_stop = tev_fd_stop,
    .timeout_start = tev_timeout_start,
    .timeout_change = tev_timeout_change,
    .timeout_stop = tev_timeout_stop,
    .fd_ref = tev_fd_ref,
    .detach = tev_detach,
};

OSEV_EXPORT int osev_tevent_attach(osev_ctx *ctx, struct tevent_context *ev)
{
    return osev__adapter_attach(ctx, ev, &tev_ops);
}

OSEV_EXPORT void osev_tevent_detach(osev_ctx *ctx)
{
    osev__adapter_detach(ctx);
}
