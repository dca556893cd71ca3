/*
 * loop.c - the built-in loop and the aggregate fd.
 *
 * One turn: release what ended, work out how long to block (the earlier
 * of the caller's deadline and the registry's next one, 0 when work is
 * pending), let the backend block and mark, then run the one pass.
 */
#include "internal.h"
#include "backend.h"

/*
 * Called locked; unlocked on return only for -ESTALE (context gone).
 *
 * A turn ends when it has something to say: callbacks ran, the deadline
 * passed, or the wakeup fd was written (osev_wakeup(), a loop exit, an
 * event handed to a waiter, a disaster).  A wait that ends with nothing
 * for the application -- interrupted by a signal (EINTR), spurious
 * readiness, or one of our own fds (a signal source) that turned out to
 * have nothing to deliver -- is not an answer: the turn waits again for
 * what is left of the time.
 */
int osev__loop_once_locked(osev_ctx *ctx, osev_time deadline)
{
    osev_time next;
    int r;

    if (osev__busy(ctx))
        return -EBUSY;
    r = osev__release_ended(ctx);
    if (r < 0)
        return r;
    for (;;) {
        ctx->woken = false;
        next = osev__next_deadline(ctx);
        if (deadline < next)
            next = deadline;
        /* The clock is read only when a deadline is in the future. */
        r = ctx->backend->wait(ctx, next == OSEV_TIME_INFINITY ? -1
                                    : next == 0 ? 0
                                    : osev__timeout_ms(next, osev_now()));
        if (r < 0)
            return r;
        r = osev__run_pass(ctx, 0);
        if (r != 0)
            return r; /* callbacks ran, or -ESTALE */
        if (deadline != OSEV_TIME_INFINITY && osev_now() >= deadline)
            return -ETIMEDOUT;
        if (ctx->woken)
            return 0;
    }
}

OSEV_EXPORT int osev_loop_once(osev_ctx *ctx, osev_time deadline)
{
    int r;

    if (!ctx || deadline < 0)
        return -EINVAL;
    osev__lock(ctx);
    r = osev__loop_once_locked(ctx, deadline);
    if (r != -ESTALE)
        osev__unlock(ctx);
    return r;
}

OSEV_EXPORT int osev_loop_run(osev_ctx *ctx)
{
    int r;

    if (!ctx)
        return -EINVAL;
    osev__lock(ctx);
    /* Before the exit check: a pending exit is the running loop's. */
    if (osev__busy(ctx)) {
        osev__unlock(ctx);
        return -EBUSY;
    }
    for (;;) {
        if (ctx->exit_requested) {
            ctx->exit_requested = false;
            r = ctx->exit_code;
            break;
        }
        r = osev__loop_once_locked(ctx, OSEV_TIME_INFINITY);
        if (r == -ESTALE)
            return r;
        if (r < 0)
            break;
    }
    osev__unlock(ctx);
    return r;
}

OSEV_EXPORT void osev_loop_exit(osev_ctx *ctx, int code)
{
    if (!ctx)
        return;
    osev__lock(ctx);
    ctx->exit_requested = true;
    /* A negative code would pass for an errno: stop, but say so. */
    ctx->exit_code = code < 0 ? -EINVAL : code;
    /* Always wake, not only a thread already blocked: the loop's thread
     * may be between the start of its turn (running releases with the
     * lock dropped) and its wait, past its last look at the flag. */
    osev_wakeup(ctx);
    osev__unlock(ctx);
}

OSEV_EXPORT int osev_dispatch(osev_ctx *ctx)
{
    int r;

    if (!ctx)
        return -EINVAL;
    osev__lock(ctx);
    if (osev__busy(ctx)) {
        r = -EBUSY;
        goto out;
    }
    r = osev__release_ended(ctx);
    if (r < 0)
        return r;
#ifdef OSEV_LINUX_APIS
    /* Once the aggregate fd exists, its epoll set is in step with the
     * registry: asking it is O(ready), where poll(2) is O(fds). */
    r = (ctx->aggregate ? &osev__backend_epoll : ctx->backend)->wait(ctx, 0);
#else
    r = ctx->backend->wait(ctx, 0);
#endif
    if (r < 0)
        goto out;
    r = osev__run_pass(ctx, 0);
    if (r == -ESTALE)
        return r;
out:
    osev__unlock(ctx);
    return r;
}

OSEV_EXPORT int osev_get_deadline(osev_ctx *ctx, osev_time *deadline_out)
{
    if (!ctx || !deadline_out)
        return -EINVAL;
    osev__lock(ctx);
    *deadline_out = osev__next_deadline(ctx);
    osev__unlock(ctx);
    return 0;
}

/*
 * Make the aggregate fd tell the truth after a change: the timerfd armed
 * for the earliest deadline (re-arming also clears an expiry already
 * consumed), and the wakeup fd written when work is pending now.
 */
void osev__aggregate_sync(osev_ctx *ctx)
{
    osev__ep_arm_timerfd(ctx, osev__timers_earliest(ctx));
    if (osev__work_pending(ctx) || ctx->ep.nspecial)
        osev_wakeup(ctx);
}

OSEV_EXPORT int osev_get_fd(osev_ctx *ctx)
{
    int r;

    if (!ctx)
        return -EINVAL;
#ifdef OSEV_LINUX_APIS
    osev__lock(ctx);
    r = osev__ep_open(ctx);
    if (r == 0)
        r = osev__ep_open_timerfd(ctx);
    if (r == 0) {
        ctx->aggregate = true;
        osev__aggregate_sync(ctx);
        r = ctx->ep.epfd;
    }
    osev__unlock(ctx);
#else
    /* No epoll: no set to be the aggregate fd (a kqueue would be one). */
    r = -ENOSYS;
#endif
    return r;
}
