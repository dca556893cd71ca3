/*
 * timer.c - one-shot timers in a 4-ary min-heap keyed by (deadline, seq).
 *
 * Each timer holds its heap index, so re-arming and removal are
 * O(log n) and the earliest deadline is O(1).  The heap's capacity is
 * reserved when a timer is added, so arming never allocates and
 * osev_timer_set() cannot fail for want of memory.
 */
#include "internal.h"
#include "backend.h"

#define HEAP_ARITY 4

static bool timer_before(const osev_timer *a, const osev_timer *b)
{
    return a->deadline < b->deadline ||
           (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_put(osev_ctx *ctx, int i, osev_timer *t)
{
    ctx->heap[i] = t;
    t->heap_idx = i;
}

static void sift_up(osev_ctx *ctx, int i)
{
    osev_timer *t = ctx->heap[i];

    while (i > 0) {
        int parent = (i - 1) / HEAP_ARITY;

        if (!timer_before(t, ctx->heap[parent]))
            break;
        heap_put(ctx, i, ctx->heap[parent]);
        i = parent;
    }
    heap_put(ctx, i, t);
}

static void sift_down(osev_ctx *ctx, int i)
{
    osev_timer *t = ctx->heap[i];

    for (;;) {
        int first = i * HEAP_ARITY + 1, best = -1;

        for (int c = first; c < first + HEAP_ARITY && c < ctx->nheap; c++)
            if (timer_before(ctx->heap[c], best < 0 ? t : ctx->heap[best]))
                best = c;
        if (best < 0)
            break;
        heap_put(ctx, i, ctx->heap[best]);
        i = best;
    }
    heap_put(ctx, i, t);
}

static void heap_remove(osev_ctx *ctx, osev_timer *t)
{
    int i = t->heap_idx;
    osev_timer *last = ctx->heap[--ctx->nheap];

    t->heap_idx = -1;
    if (last == t)
        return;
    heap_put(ctx, i, last);
    if (i > 0 && timer_before(last, ctx->heap[(i - 1) / HEAP_ARITY]))
        sift_up(ctx, i);
    else
        sift_down(ctx, i);
}

/* Arm (or disarm with INFINITY) a live timer; never allocates. */
static void timer_arm(osev_ctx *ctx, osev_timer *t, osev_time deadline)
{
    bool was_first = t->heap_idx == 0;

    osev__list_unlink(&t->due_link);
    if (t->heap_idx >= 0)
        heap_remove(ctx, t);
    t->deadline = deadline;
    if (deadline == OSEV_TIME_INFINITY)
        return;
    t->seq = ctx->timer_seq++;
    heap_put(ctx, ctx->nheap++, t);
    sift_up(ctx, t->heap_idx);
    if (t->heap_idx == 0 || was_first)
        osev__kick(ctx);
}

osev_time osev__timers_earliest(const osev_ctx *ctx)
{
    return ctx->nheap ? ctx->heap[0]->deadline : OSEV_TIME_INFINITY;
}

/* Move every timer due at @now to ctx->due, in firing order, before any
 * runs: a callback that arms timers cannot starve the pass. */
void osev__timers_collect_due(osev_ctx *ctx, osev_time now)
{
    while (ctx->nheap && ctx->heap[0]->deadline <= now) {
        osev_timer *t = ctx->heap[0];

        heap_remove(ctx, t);
        osev__list_append(&ctx->due, &t->due_link);
    }
}

OSEV_EXPORT int osev_timer_add(osev_ctx *ctx, osev_time deadline,
                               osev_timer_cb *cb, void *arg,
                               osev_timer **t_out)
{
    osev_timer *t;
    int r = 0;

    if (!ctx || !cb || !t_out || deadline < 0)
        return -EINVAL;
    osev__lock(ctx);
    if (ctx->dying) {
        r = -ESTALE;
        goto out;
    }
    if (ctx->ntimers == ctx->heap_cap) {
        int cap = ctx->heap_cap ? ctx->heap_cap * 2 : 16;
        osev_timer **heap;

        if (cap < 0) {
            r = -ENOMEM;
            goto out;
        }
        heap = osev__realloc_array(ctx, ctx->heap, (size_t)cap, sizeof *heap);
        if (!heap) {
            r = -ENOMEM;
            goto out;
        }
        ctx->heap = heap;
        ctx->heap_cap = cap;
    }
    t = osev__alloc(ctx, sizeof *t);
    if (!t) {
        r = -ENOMEM;
        goto out;
    }
    osev__source_init(&t->s, ctx, arg, NULL);
    osev__list_init(&t->due_link);
    t->cb = cb;
    t->heap_idx = -1;
    r = osev__hook_timeout_lower(ctx, deadline);
    if (r < 0) {
        osev__free(ctx, t);
        goto out;
    }
    ctx->ntimers++;
    osev__list_append(&ctx->timers, &t->all_link);
    timer_arm(ctx, t, deadline);
    *t_out = t;
out:
    osev__unlock(ctx);
    return r;
}

OSEV_EXPORT int osev_timer_set(osev_timer *t, osev_time deadline)
{
    int r = 0;

    if (!t || deadline < 0)
        return -EINVAL;
    osev__lock(t->s.ctx);
    if (t->s.dead)
        r = -ESTALE;
    else
        r = osev__hook_timeout_lower(t->s.ctx, deadline);
    if (r == 0) {
        timer_arm(t->s.ctx, t, deadline);
        osev__hook_timeout_sync(t->s.ctx); /* only later now: cannot fail */
    }
    osev__unlock(t->s.ctx);
    return r;
}

static void timer_end(osev_ctx *ctx, osev_timer *t)
{
    t->s.dead = true;
    osev__list_unlink(&t->due_link);
    if (t->heap_idx >= 0)
        heap_remove(ctx, t);
    osev__list_unlink(&t->all_link);
    ctx->ntimers--;
    osev__end_source(ctx, &t->s);
}

OSEV_EXPORT void osev_timer_remove(osev_timer *t)
{
    if (!t)
        return;
    osev__lock(t->s.ctx);
    if (!t->s.dead) {
        timer_end(t->s.ctx, t);
        osev__hook_timeout_sync(t->s.ctx); /* later or none: cannot fail */
    }
    osev__unlock(t->s.ctx);
}

OSEV_EXPORT void osev_timer_set_release(osev_timer *t,
                                        void (*release)(void *arg))
{
    if (!t)
        return;
    osev__lock(t->s.ctx);
    t->s.release = release;
    osev__unlock(t->s.ctx);
}

/* At context end: every live timer ends, armed or not. */
void osev__timers_end_all(osev_ctx *ctx)
{
    struct osev__list *n;

    while ((n = ctx->timers.next) != &ctx->timers)
        timer_end(ctx, osev__container_of(n, osev_timer, all_link));
}
