/*
 * thread.c - osev_schedule(): calls handed from any thread to the thread
 * that dispatches a context (tevent's thread proxy).
 *
 * One FIFO under the context's lock holds the calls; its order is the
 * order in which callers took the lock, which is each calling thread's
 * own order.  The dispatch pass takes the whole queue at its start
 * (dispatch.c) and runs it after the deferred calls.
 *
 * One wakeup per burst: only the call that makes the queue non-empty
 * writes the wakeup fd.  Nothing queued can wait without one: a pass
 * empties the queue under the lock when it takes its batch, so the next
 * call writes again; and a call queued after that, whose wakeup the same
 * pass may drain, is still pending work (osev__work_pending()), which
 * every way of waiting looks at before it blocks.
 */
#include "internal.h"

struct osev__sched {
    struct osev__list link;
    void (*fn)(osev_ctx *ctx, void *arg);
    void (*release)(void *arg);
    void *arg;
};

OSEV_EXPORT int osev_schedule(osev_ctx *ctx, void (*fn)(osev_ctx *, void *arg),
                              void (*release)(void *arg), void *arg)
{
    struct osev__sched *s;
    bool was_empty;

    if (!ctx || !fn)
        return -EINVAL;
    s = osev__alloc(ctx, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->fn = fn;
    s->release = release;
    s->arg = arg;

    osev__lock(ctx);
    if (ctx->dying) {
        /* From a release run by osev_ctx_free(): arg stays the caller's. */
        osev__unlock(ctx);
        osev__free(ctx, s);
        return -ESTALE;
    }
    was_empty = osev__list_empty(&ctx->sched);
    osev__list_append(&ctx->sched, &s->link);
    /* A callback of the running pass needs no wakeup: the pass ends by
     * looking for pending work.  The write happens under the lock: once
     * we unlock, the dispatching thread may run the call and free the
     * context, and we must not touch it after that. */
    if (was_empty && !osev__in_own_callback(ctx))
        osev_wakeup(ctx);
    /* Keeps the foreign loop running until the call ran; from another
     * thread than the loop's this does nothing (see fd_ref). */
    osev__hook_ref_sync(ctx);
    osev__unlock(ctx);
    return 0;
}

/* Run a batch taken from ctx->sched at the start of a pass, in order,
 * each call with the lock released.  Called locked; returns the count. */
int osev__sched_run(osev_ctx *ctx, struct osev__list *batch)
{
    struct osev__list *n;
    int ran = 0;

    while (!ctx->free_requested && (n = osev__list_pop(batch))) {
        struct osev__sched *s = osev__container_of(n, struct osev__sched, link);
        void (*fn)(osev_ctx *, void *) = s->fn;
        void *arg = s->arg;

        osev__free(ctx, s);
        osev__unlock(ctx);
        fn(ctx, arg); /* arg is fn's now: no release */
        osev__lock(ctx);
        ran++;
    }
    return ran;
}

/*
 * At context end: drop every call not run, giving each arg back through
 * its release (lock released, as for the release queue).  Called locked,
 * outside any pass.
 */
void osev__sched_drop_all(osev_ctx *ctx)
{
    struct osev__list batch;
    struct osev__list *n;

    while (!osev__list_empty(&ctx->sched)) {
        osev__list_init(&batch);
        osev__list_splice(&batch, &ctx->sched);
        osev__unlock(ctx);
        while ((n = osev__list_pop(&batch)) != NULL) {
            struct osev__sched *s =
                osev__container_of(n, struct osev__sched, link);

            if (s->release)
                s->release(s->arg);
            osev__free(ctx, s);
        }
        osev__lock(ctx);
    }
}
