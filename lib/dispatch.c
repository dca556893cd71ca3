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
    bool first = osev__list_empty(&ctx->ended);

    osev__list_append(&ctx->ended, &s->end_link);
    /* In push mode only the foreign loop starts a pass, and a release
     * must not wait for an fd that may never be ready.  One wakeup per
     * batch: the pass it starts releases every source ended until then,
     * and the list is empty again only once that pass has run. */
    if (first && ctx->push.on && !ctx->dispatching)
        osev_wakeup(ctx);
    /* The release is the application's: it keeps the foreign loop
     * running until a pass ran it (osev__hook_ref_sync()). */
    osev__hook_ref_sync(ctx);
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

/*
 * Ready watches run in batches: up to FD_BATCH are taken off ctx->ready,
 * then from what the epoll wait found (taken only now, so a watch one of
 * these callbacks removes is simply not found), under the lock; then they
 * are called with the lock released once for the whole batch, not around
 * every callback.  Each call takes the watch's pending
 * bits with an atomic exchange at the moment it is made, and whatever
 * ends a watch or narrows it (osev_fd_remove(), osev_fd_modify(), from a
 * callback of this batch or from another thread) clears those bits
 * atomically under the lock: so a removed watch is not called again, and
 * bits no longer asked for are not delivered, exactly as if the lock had
 * been taken before each call.  The watch itself cannot go away meanwhile:
 * nothing is freed before the pass's releases, after this.
 */
#define FD_BATCH 64

static int run_fd_batch(osev_ctx *ctx, osev_fd **batch, int n)
{
    int ran = 0;

    for (int i = 0; i < n; i++) {
        osev_fd *w = batch[i];
        short revents = __atomic_exchange_n(&w->pending, 0, __ATOMIC_ACQ_REL);

        if (!revents)
            continue;
        ran += !w->internal;
        w->cb(w, w->fd, revents, w->s.arg);
        if (ctx->free_requested)
            break;
    }
    return ran;
}

static int run_ready_fds(osev_ctx *ctx, osev_fd *first)
{
    osev_fd *batch[FD_BATCH];
    struct osev__list *l;
    int ran = 0;

    while (!ctx->free_requested) {
        int n = 0;

        if (first) {
            batch[n++] = first;
            first = NULL;
        }

        while (n < FD_BATCH && (l = osev__list_pop(&ctx->ready)) != NULL)
            batch[n++] = osev__container_of(l, osev_fd, ready_link);
        if (n < FD_BATCH && osev__ep_found_left(ctx))
            n += osev__ep_take_found(ctx, batch + n, FD_BATCH - n);
        if (n == 0 && osev__list_empty(&ctx->ready))
            break;
        osev__unlock(ctx);
        ran += run_fd_batch(ctx, batch, n);
        osev__lock(ctx);
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

/* The calls queued before the pass (deferred, scheduled, event_occurs
 * deliveries): taken at its start, so what callbacks add waits for the
 * next pass. */
struct queued {
    struct osev__list deferred, sched, occur;
};

static bool queued_take(osev_ctx *ctx, struct queued *q)
{
    if (osev__list_empty(&ctx->deferred) && osev__list_empty(&ctx->sched) &&
        osev__list_empty(&ctx->ev_occur))
        return false;
    osev__list_init(&q->deferred);
    osev__list_init(&q->sched);
    osev__list_init(&q->occur);
    osev__list_splice(&q->deferred, &ctx->deferred);
    osev__list_splice(&q->sched, &ctx->sched);
    osev__list_splice(&q->occur, &ctx->ev_occur);
    return true;
}

static int queued_run(osev_ctx *ctx, struct queued *q)
{
    int ran = run_deferred(ctx, &q->deferred);

    ran += osev__sched_run(ctx, &q->sched);
    osev__events_deliver(ctx, &q->occur, &ran);
    /* Left over only when a callback freed the context. */
    osev__list_splice(&ctx->deferred, &q->deferred);
    osev__list_splice(&ctx->sched, &q->sched);
    osev__list_splice(&ctx->ev_occur, &q->occur);
    return ran;
}

/*
 * One dispatch pass at @now (0: read the clock only if a timer is armed,
 * which is the only thing that needs it).  Called locked.  Returns the
 * number of callbacks run; or, when a callback freed the context, frees
 * it and returns -ESTALE with the lock gone.  What is empty costs a test.
 */
/* Nothing to run and nothing to sync after: the pass would be empty. */
static bool pass_idle(const osev_ctx *ctx)
{
    return osev__list_empty(&ctx->ready) && !osev__ep_found_left(ctx) &&
           osev__list_empty(&ctx->deferred) && osev__list_empty(&ctx->sched) &&
           osev__list_empty(&ctx->ev_occur) && osev__list_empty(&ctx->ended) &&
           !ctx->push.tmo_fired;
}

/* The pass proper, for osev__run_pass() once it is known to have work:
 * kept out of line, so an idle pass does not pay for its frame. */
static __attribute__((noinline)) int run_pass_full(osev_ctx *ctx,
                                                   osev_time now, bool due,
                                                   osev_fd *first)
{
    struct queued q;
    bool have_queued;
    int ran = 0;

    callbacks_begin(ctx);
    if (due)
        osev__timers_collect_due(ctx, now);
    have_queued = queued_take(ctx, &q);

    if (first || !osev__list_empty(&ctx->ready) || osev__ep_found_left(ctx))
        ran = run_ready_fds(ctx, first);
    if (!osev__list_empty(&ctx->due))
        ran += run_due_timers(ctx, now);
    if (have_queued)
        ran += queued_run(ctx, &q);

    if (!ctx->free_requested && !osev__list_empty(&ctx->ended))
        osev__release_all(ctx);
    if (ctx->free_requested) {
        osev__ctx_destroy(ctx);
        return -ESTALE;
    }
    callbacks_end(ctx);
    return ran;
}

int osev__run_pass(osev_ctx *ctx, osev_time now)
{
    osev_time earliest = osev__timers_earliest(ctx);
    bool due = false;

    if (earliest != OSEV_TIME_INFINITY) {
        if (!now)
            now = osev_now();
        due = earliest <= now;
    }
    if (!due && pass_idle(ctx))
        return 0;
    return run_pass_full(ctx, now, due, NULL);
}

/*
 * The pass for one reported fd in push mode (hooks.c): @w, already marked
 * and out of the ready list's way (osev__mark_fd_one()), or NULL when the
 * fd's watches were marked the general way.  When @w is all there is to
 * run, it is called here, without the general pass's batches and queues;
 * what its callback leaves (work queued, removals) is handled as at the
 * end of any pass.  Called locked; returns as osev__run_pass().
 */
int osev__run_one(osev_ctx *ctx, osev_fd *w)
{
    osev_time earliest = osev__timers_earliest(ctx);
    osev_time now = 0;
    short revents;
    int ran;

    if (earliest != OSEV_TIME_INFINITY) {
        now = osev_now();
        if (earliest <= now)
            return run_pass_full(ctx, now, true, w);
    }
    if (!w)
        return pass_idle(ctx) ? 0 : run_pass_full(ctx, now, false, NULL);
    if (!pass_idle(ctx))
        return run_pass_full(ctx, now, false, w);

    callbacks_begin(ctx);
    osev__unlock(ctx);
    revents = __atomic_exchange_n(&w->pending, 0, __ATOMIC_ACQ_REL);
    ran = revents && !w->internal;
    if (revents)
        w->cb(w, w->fd, revents, w->s.arg);
    osev__lock(ctx);
    /* Marked meanwhile (a report from inside the callback, or from
     * another thread): the fd stage of a pass runs until none is left. */
    if (!ctx->free_requested && !osev__list_empty(&ctx->ready))
        ran += run_ready_fds(ctx, NULL);

    if (!ctx->free_requested && !osev__list_empty(&ctx->ended))
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
