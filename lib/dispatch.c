/*
 * dispatch.c - the one dispatch pass every mode ends in, and the release
 * queue.
 *
 * Every way in (afterpoll, afterselect, the built-in loop, osev_dispatch)
 * first marks ready watches with osev__mark_fd(), then calls
 * osev__run_pass().  The pass reads top to bottom:
 *
 *   1. collect due timers, take the deferred calls, the scheduled calls
 *      (osev_schedule, thread.c) and event deliveries made so far (what
 *      callbacks add now waits for the next pass);
 *   2. run ready fd callbacks, then due timers, then deferred calls, then
 *      scheduled calls, then event_occurs deliveries, each with the lock
 *      released;
 *   3. release what was removed, from this clean stack, still as part
 *      of the pass (a release is a callback too).
 *
 * Nothing is freed while callbacks run: a removed watch or timer is only
 * unlinked (so it is not called again) and put on ctx->ended.
 */
#include "internal.h"

void osev__source_init(struct osev__source *s, osev_ctx *ctx, void *arg,
                       void (*release)(void *arg))
{
    s->ctx = ctx;
    s->arg = arg;
    s->release = release;
    osev__list_init(&s->end_link);
}

void osev__end_source(osev_ctx *ctx, struct osev__source *s)
{
    osev__list_append(&ctx->ended, &s->end_link);
    /* In push mode only the foreign loop starts a pass, and a release
     * must not wait for an fd that may never be ready. */
    if (ctx->push.on && !ctx->dispatching)
        osev_wakeup(ctx);
}

/*
 * Run the release of every ended source, then free it, the lock released
 * around each release.  Called locked, with ctx->dispatching set: a
 * release runs as a callback of its context, so what it may call is what
 * a callback may (a dispatch or a wait is refused with -EBUSY, and
 * osev_ctx_free() takes effect once the releasing call is done).
 */
void osev__release_all(osev_ctx *ctx)
{
    struct osev__list batch;
    struct osev__list *n;

    while (!osev__list_empty(&ctx->ended)) {
        osev__list_init(&batch);
        osev__list_splice(&batch, &ctx->ended);
        osev__unlock(ctx);
        while ((n = osev__list_pop(&batch)) != NULL) {
            struct osev__source *s =
                osev__container_of(n, struct osev__source, end_link);

            if (s->release)
                s->release(s->arg);
            osev__free(ctx, s);
        }
        osev__lock(ctx);
    }
}

/* Begin or end a stretch in which this thread runs the application's
 * code for @ctx (a pass, releases, the end of the context). */
static void callbacks_begin(osev_ctx *ctx)
{
    ctx->dispatching = true;
    ctx->dispatcher = pthread_self();
}

/*
 * What every stretch of callbacks ends with once the lock is ours again:
 * the blocked, the waiting and the embedding learn what changed while it
 * ran.  Waiters asleep while it ran may take over the loop; a change the
 * callbacks made (osev__kick() defers to us while they run) reaches the
 * aggregate fd and the hooks.
 */
static void callbacks_end(osev_ctx *ctx)
{
    ctx->dispatching = false;
    if (ctx->aggregate)
        osev__aggregate_sync(ctx);
    osev__hooks_after_pass(ctx);
    if (!osev__list_empty(&ctx->waiters))
        pthread_cond_broadcast(&ctx->waiters_cond);
}

/*
 * The release point outside a pass (the "before" calls, a turn of the
 * built-in loop, osev_dispatch).  Called locked.  Returns 0, or -ESTALE
 * when a release freed the context: then it is gone, lock and all.
 */
int osev__release_ended(osev_ctx *ctx)
{
    if (osev__list_empty(&ctx->ended))
        return 0;
    if (ctx->dispatching)
        return 0; /* the running stretch releases at its end */
    callbacks_begin(ctx);
    osev__release_all(ctx);
    if (ctx->free_requested) {
        osev__ctx_destroy(ctx);
        return -ESTALE;
    }
    callbacks_end(ctx);
    return 0;
}

static int run_ready_fds(osev_ctx *ctx)
{
    struct osev__list *n;
    int ran = 0;

    while (!ctx->free_requested && (n = osev__list_pop(&ctx->ready))) {
        osev_fd *w = osev__container_of(n, osev_fd, ready_link);
        short revents = w->pending;

        w->pending = 0;
        if (!revents)
            continue;
        osev__unlock(ctx);
        w->cb(w, w->fd, revents, w->s.arg);
        osev__lock(ctx);
        ran += !w->internal;
    }
    return ran;
}

static int run_due_timers(osev_ctx *ctx, osev_time now)
{
    struct osev__list *n;
    int ran = 0;

    while (!ctx->free_requested && (n = osev__list_pop(&ctx->due))) {
        osev_timer *t = osev__container_of(n, osev_timer, due_link);

        osev__unlock(ctx);
        t->cb(t, now, t->s.arg);
        osev__lock(ctx);
        ran++;
    }
    return ran;
}

static int run_deferred(osev_ctx *ctx, struct osev__list *batch)
{
    struct osev__list *n;
    int ran = 0;

    while (!ctx->free_requested && (n = osev__list_pop(batch))) {
        struct osev__deferred *d =
            osev__container_of(n, struct osev__deferred, link);

        osev__unlock(ctx);
        d->fn(ctx, d->arg);
        osev__lock(ctx);
        osev__free(ctx, d);
        ran++;
    }
    return ran;
}

/*
 * One dispatch pass at @now, over what is marked.  Called locked.
 * Returns the number of callbacks run; or, when a callback freed the
 * context, frees it and returns -ESTALE with the lock gone.
 */
int osev__run_pass(osev_ctx *ctx, osev_time now)
{
    struct osev__list deferred, sched, occur;
    int ran;

    osev__list_init(&deferred);
    osev__list_init(&sched);
    osev__list_init(&occur);
    callbacks_begin(ctx);
    osev__timers_collect_due(ctx, now);
    osev__list_splice(&deferred, &ctx->deferred);
    osev__list_splice(&sched, &ctx->sched);
    osev__list_splice(&occur, &ctx->ev_occur);

    ran = run_ready_fds(ctx);
    ran += run_due_timers(ctx, now);
    ran += run_deferred(ctx, &deferred);
    ran += osev__sched_run(ctx, &sched);
    osev__events_deliver(ctx, &occur, &ran);

    /* Left over only when a callback freed the context. */
    osev__list_splice(&ctx->deferred, &deferred);
    osev__list_splice(&ctx->sched, &sched);
    osev__list_splice(&ctx->ev_occur, &occur);
    if (!ctx->free_requested)
        osev__release_all(ctx);
    if (ctx->free_requested) {
        osev__ctx_destroy(ctx);
        return -ESTALE;
    }
    callbacks_end(ctx);
    return ran;
}

OSEV_EXPORT int osev_defer(osev_ctx *ctx, void (*fn)(osev_ctx *, void *arg),
                           void *arg)
{
    struct osev__deferred *d;

    if (!ctx || !fn)
        return -EINVAL;
    d = osev__alloc(ctx, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->fn = fn;
    d->arg = arg;
    osev__lock(ctx);
    if (ctx->dying) {
        osev__unlock(ctx);
        osev__free(ctx, d);
        return -ESTALE;
    }
    osev__list_append(&ctx->deferred, &d->link);
    osev__kick(ctx);
    osev__unlock(ctx);
    return 0;
}
