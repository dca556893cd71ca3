/*
 * timer.c - one-shot timers in a 4-ary min-heap keyed by (deadline, seq).
 *
 * A heap slot holds the timer's deadline next to its pointer, and each
 * timer holds its slot's index, so re-arming and removal are O(log n),
 * the earliest deadline is O(1), and a sift reads no timer unless two
 * deadlines tie.  A slot that moves down goes as in Floyd's heapsort:
 * the hole first sinks along the smaller children to a leaf (three
 * comparisons a level instead of four), then the slot rises from there,
 * which is short because what moves down is nearly always the heap's
 * last slot or a deadline pushed later, both of which belong near the
 * leaves.  The heap's capacity is reserved when a timer is added, so
 * arming never allocates and osev_timer_set() cannot fail for want of
 * memory.
 */
#include "internal.h"
#include "backend.h"

#define HEAP_ARITY 4

typedef struct osev__heap_ent hent;

static inline bool ent_before(const hent *a, const hent *b)
{
    return a->at < b->at || (a->at == b->at && a->t->seq < b->t->seq);
}

static inline void heap_put(hent *h, size_t i, hent e)
{
    h[i] = e;
    e.t->heap_idx = (int)i;
}

/* Fill the hole @i with @e, moving it towards the root, not above @top. */
static inline void rise(hent *h, size_t i, size_t top, hent e)
{
    while (i > top) {
        size_t parent = (i - 1) / HEAP_ARITY;

        if (!ent_before(&e, &h[parent]))
            break;
        heap_put(h, i, h[parent]);
        i = parent;
    }
    heap_put(h, i, e);
}

/* Whether child @k of the four at @p comes before the best so far, @b
 * with deadline @at.  Only a tie on the deadline reads the timers. */
static inline bool child_better(const hent *p, int k, const hent *b,
                                osev_time at)
{
    return p[k].at <= at && (p[k].at < at || p[k].t->seq < b->t->seq);
}

/* Fill the hole @i of a heap of @n slots with @e, which belongs at or
 * below @i: sink the hole to a leaf, then let @e rise to its place. */
static void sink(hent *h, size_t n, size_t i, hent e)
{
    /* the parents of four children are those before @full */
    size_t top = i, full = n > HEAP_ARITY ? (n - 1) / HEAP_ARITY : 0, c;

    while (i < full) {
        const hent *p = h + i * HEAP_ARITY + 1, *b = p;
        osev_time at = p->at;

        /* unrolled: HEAP_ARITY is 4 */
        if (child_better(p, 1, b, at))
            b = p + 1, at = b->at;
        if (child_better(p, 2, b, at))
            b = p + 2, at = b->at;
        if (child_better(p, 3, b, at))
            b = p + 3, at = b->at;
        heap_put(h, i, *b);
        i = (size_t)(b - h);
    }
    c = i * HEAP_ARITY + 1;
    if (c < n) {
        /* the one parent with fewer than four children: theirs are leaves */
        size_t best = c;

        for (size_t k = c + 1; k < n; k++)
            if (ent_before(&h[k], &h[best]))
                best = k;
        heap_put(h, i, h[best]);
        i = best;
    }
    rise(h, i, top, e);
}

/* Fill the hole @i of a heap of @n slots with @e, up or down. */
static inline void heap_place(hent *h, size_t n, size_t i, hent e)
{
    if (i * HEAP_ARITY + 1 >= n /* a leaf */ ||
        (i > 0 && ent_before(&e, &h[(i - 1) / HEAP_ARITY])))
        rise(h, i, 0, e);
    else
        sink(h, n, i, e);
}

static inline void heap_remove(osev_ctx *ctx, osev_timer *t)
{
    size_t i = (size_t)t->heap_idx, last = (size_t)--ctx->nheap;

    t->heap_idx = -1;
    if (i != last)
        heap_place(ctx->heap, last, i, ctx->heap[last]);
}

/* Arm (or disarm with INFINITY) a live timer; never allocates.  An armed
 * timer keeps its slot, which takes the new key in place. */
static void timer_arm(osev_ctx *ctx, osev_timer *t, osev_time deadline)
{
    bool was_first = t->heap_idx == 0;
    hent e = { deadline, t };

    osev__list_unlink(&t->due_link);
    if (deadline == OSEV_TIME_INFINITY) {
        if (t->heap_idx >= 0)
            heap_remove(ctx, t);
        return;
    }
    t->seq = ctx->timer_seq++;
    if (t->heap_idx < 0)
        rise(ctx->heap, (size_t)ctx->nheap++, 0, e);
    else
        heap_place(ctx->heap, (size_t)ctx->nheap, (size_t)t->heap_idx, e);
    if (t->heap_idx == 0 || was_first)
        osev__kick(ctx);
}

/* Move every timer due at @now to ctx->due, in firing order, before any
 * runs: a callback that arms timers cannot starve the pass. */
void osev__timers_collect_due(osev_ctx *ctx, osev_time now)
{
    hent *h = ctx->heap;
    size_t n = (size_t)ctx->nheap;

    while (n && h[0].at <= now) {
        osev_timer *t = h[0].t;

        t->heap_idx = -1;
        if (--n)
            sink(h, n, 0, h[n]);
        osev__list_append(&ctx->due, &t->due_link);
    }
    ctx->nheap = (int)n;
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
        hent *heap;

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
    /* Not osev__alloc(): every field is set below, so its memset of the
     * whole block would only cost. */
    t = osev__realloc_array(ctx, NULL, 1, sizeof *t);
    if (!t) {
        r = -ENOMEM;
        goto out;
    }
    t->s = (struct osev__source){ 0 };
    osev__source_init(&t->s, ctx, arg, NULL);
    t->cb = cb;
    t->seq = 0;
    t->heap_idx = -1;
    osev__list_init(&t->due_link);
    /* The hook calls do nothing outside push mode: skip them. */
    if (ctx->push.on)
        r = osev__hook_timeout_lower(ctx, deadline);
    if (r < 0) {
        osev__free(ctx, t);
        goto out;
    }
    ctx->ntimers++;
    osev__list_append(&ctx->timers, &t->all_link);
    if (deadline != OSEV_TIME_INFINITY) {
        /* timer_arm() for a timer in no list and no slot */
        t->seq = ctx->timer_seq++;
        rise(ctx->heap, (size_t)ctx->nheap++, 0, (hent){ deadline, t });
        if (t->heap_idx == 0)
            osev__kick(ctx);
    }
    *t_out = t;
out:
    osev__unlock(ctx);
    return r;
}

OSEV_EXPORT int osev_timer_set(osev_timer *t, osev_time deadline)
{
    osev_ctx *ctx;
    int r = 0;

    if (!t || deadline < 0)
        return -EINVAL;
    ctx = t->s.ctx;
    osev__lock(ctx);
    if (t->s.dead)
        r = -ESTALE;
    else if (ctx->push.on)
        r = osev__hook_timeout_lower(ctx, deadline);
    if (r == 0) {
        timer_arm(ctx, t, deadline);
        if (ctx->push.on) {
            osev__hook_timeout_sync(ctx); /* only later now: cannot fail */
            osev__hook_ref_sync(ctx); /* armed, or maybe the last disarmed */
        }
    }
    osev__unlock(ctx);
    return r;
}

static void timer_end(osev_ctx *ctx, osev_timer *t)
{
    t->s.dead = true;
    if (t->heap_idx >= 0)
        heap_remove(ctx, t);
    else
        osev__list_unlink(&t->due_link); /* due ones are out of the heap */
    osev__list_unlink(&t->all_link);
    ctx->ntimers--;
    osev__end_source(ctx, &t->s);
}

OSEV_EXPORT void osev_timer_remove(osev_timer *t)
{
    osev_ctx *ctx;

    if (!t)
        return;
    ctx = t->s.ctx;
    osev__lock(ctx);
    if (!t->s.dead) {
        timer_end(ctx, t);
        if (ctx->push.on)
            osev__hook_timeout_sync(ctx); /* later or none: cannot fail */
    }
    osev__unlock(ctx);
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
