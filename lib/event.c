/*
 * event.c - the event queue, its filters and the event hooks.
 *
 * A queued event is on two lists: the global FIFO (ctx->evq_all) and the
 * FIFO of its type (ctx->evq_type[type]), and carries a sequence number.
 * A plain-typemask check compares the heads of at most 64 type lists by
 * sequence, so events of other types are never scanned; a predicate walks
 * the global FIFO, skipping types outside the mask.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static struct osev__event *event_of(osev_event *pub)
{
    return osev__container_of(pub, struct osev__event, pub);
}

OSEV_EXPORT osev_event *osev_event_new(osev_ctx *ctx, unsigned type,
                                       uint64_t for_user, size_t data_size)
{
    struct osev__event *e;

    if (!ctx || type > OSEV_EVENT_TYPE_MAX) {
        errno = EINVAL;
        return NULL;
    }
    if (data_size > SIZE_MAX - sizeof *e) {
        errno = ENOMEM;
        return NULL;
    }
    e = osev__alloc(ctx, sizeof *e + data_size);
    if (!e) {
        errno = ENOMEM;
        return NULL;
    }
    osev__list_init(&e->all_link);
    osev__list_init(&e->type_link);
    e->pub.type = type;
    e->pub.for_user = for_user;
    e->pub.data = data_size ? (void *)e->payload : NULL;
    return &e->pub;
}

OSEV_EXPORT void osev_event_free(osev_ctx *ctx, osev_event *ev)
{
    if (ctx && ev)
        osev__free(ctx, event_of(ev));
}

static bool occurs_hooked(const osev_ctx *ctx, unsigned type)
{
    return ctx->ev_hooks.event_occurs &&
           (ctx->ev_hooks.event_occurs_mask & (UINT64_C(1) << type));
}

/*
 * Queue in post order (by seq), so "oldest" means the same with and
 * without a predicate: an event that waited for event_occurs and whose
 * type was then unhooked arrives late, behind newer ones.  The walk back
 * from the tail stops at once in the common case.
 */
static void queue_for_check(osev_ctx *ctx, struct osev__event *e)
{
    unsigned type = e->pub.type;
    struct osev__list *at;

    for (at = ctx->evq_all.prev; at != &ctx->evq_all &&
         osev__container_of(at, struct osev__event, all_link)->seq > e->seq;
         at = at->prev)
        ;
    osev__list_append(at->next, &e->all_link); /* just after @at */
    for (at = ctx->evq_type[type].prev; at != &ctx->evq_type[type] &&
         osev__container_of(at, struct osev__event, type_link)->seq > e->seq;
         at = at->prev)
        ;
    osev__list_append(at->next, &e->type_link);
    ctx->evq_types |= UINT64_C(1) << type;
}

static bool waiter_wants(const struct osev__waiter *w, const osev_event *ev)
{
    return !w->got && (w->typemask & (UINT64_C(1) << ev->type)) &&
           (!w->pred || w->pred(ev, w->pred_user));
}

/*
 * An event for the check/wait side: straight to the first waiter (in
 * arrival order) whose filter matches, else to the queue.  Each event
 * reaches exactly one waiter; sleepers are woken by the broadcast, the
 * waiter running the loop through the wakeup fd.
 */
static void deliver_or_queue(osev_ctx *ctx, struct osev__event *e)
{
    for (struct osev__list *n = ctx->waiters.next; n != &ctx->waiters;
         n = n->next) {
        struct osev__waiter *w =
            osev__container_of(n, struct osev__waiter, link);

        if (waiter_wants(w, &e->pub)) {
            w->got = &e->pub;
            if (w == ctx->poller)
                osev_wakeup(ctx);
            else
                pthread_cond_broadcast(&ctx->waiters_cond);
            return;
        }
    }
    queue_for_check(ctx, e);
}

OSEV_EXPORT void osev_event_post(osev_ctx *ctx, osev_event *ev)
{
    struct osev__event *e;

    if (!ctx || !ev)
        return;
    if (ev->type > OSEV_EVENT_TYPE_MAX) { /* rewritten since _new: lost */
        osev_event_free(ctx, ev);
        osev_disaster(ctx, 0, "osev_event_post: event type > 63", EINVAL);
        return;
    }
    e = event_of(ev);
    osev__lock(ctx);
    if (ctx->dying) {
        /* From a release run by osev_ctx_free(): nobody can take it. */
        osev__unlock(ctx);
        osev__free(ctx, e);
        return;
    }
    e->seq = ctx->ev_seq++;
    if (occurs_hooked(ctx, ev->type)) {
        /* Delivered from the next pass: a producer posting under its own
         * lock is never re-entered. */
        osev__list_append(&ctx->ev_occur, &e->all_link);
        osev__kick(ctx);
    } else {
        deliver_or_queue(ctx, e);
    }
    osev__unlock(ctx);
}

/* Deliver a batch taken from ctx->ev_occur at the start of a pass;
 * an event whose type was unhooked meanwhile goes to the queue. */
void osev__events_deliver(osev_ctx *ctx, struct osev__list *batch, int *ran)
{
    struct osev__list *n;

    while (!ctx->free_requested && (n = osev__list_pop(batch))) {
        struct osev__event *e =
            osev__container_of(n, struct osev__event, all_link);
        void (*occurs)(void *, osev_event *) = ctx->ev_hooks.event_occurs;
        void *user = ctx->ev_hooks_user;

        if (!occurs_hooked(ctx, e->pub.type)) {
            deliver_or_queue(ctx, e);
            continue;
        }
        osev__unlock(ctx);
        occurs(user, &e->pub);
        osev__lock(ctx);
        (*ran)++;
    }
}

static void event_unqueue(osev_ctx *ctx, struct osev__event *e)
{
    unsigned type = e->pub.type;

    osev__list_unlink(&e->all_link);
    osev__list_unlink(&e->type_link);
    if (osev__list_empty(&ctx->evq_type[type]))
        ctx->evq_types &= ~(UINT64_C(1) << type);
}

static struct osev__event *oldest_of_types(osev_ctx *ctx, uint64_t typemask)
{
    uint64_t types = typemask & ctx->evq_types;
    struct osev__event *best = NULL;

    while (types) {
        unsigned type = (unsigned)__builtin_ctzll(types);
        struct osev__event *head = osev__container_of(
            ctx->evq_type[type].next, struct osev__event, type_link);

        types &= types - 1;
        if (!best || head->seq < best->seq)
            best = head;
    }
    return best;
}

static struct osev__event *oldest_matching(osev_ctx *ctx, uint64_t typemask,
                                           osev_event_predicate *pred,
                                           void *pred_user)
{
    for (struct osev__list *n = ctx->evq_all.next; n != &ctx->evq_all;
         n = n->next) {
        struct osev__event *e =
            osev__container_of(n, struct osev__event, all_link);

        if ((typemask & (UINT64_C(1) << e->pub.type)) &&
            pred(&e->pub, pred_user))
            return e;
    }
    return NULL;
}

/* Take the oldest matching event; called locked. */
int osev__event_take(osev_ctx *ctx, uint64_t typemask,
                     osev_event_predicate *pred, void *pred_user,
                     osev_event **ev_out)
{
    struct osev__event *e;

    if (ctx->disaster_unhooked)
        return -EIO;
    e = pred ? oldest_matching(ctx, typemask, pred, pred_user)
             : oldest_of_types(ctx, typemask);
    if (!e)
        return -EAGAIN;
    event_unqueue(ctx, e);
    *ev_out = &e->pub;
    return 0;
}

OSEV_EXPORT int osev_event_check(osev_ctx *ctx, uint64_t typemask,
                                 osev_event_predicate *pred, void *pred_user,
                                 osev_event **ev_out)
{
    int r;

    if (!ctx || !ev_out)
        return -EINVAL;
    osev__lock(ctx);
    r = osev__event_take(ctx, typemask, pred, pred_user, ev_out);
    osev__unlock(ctx);
    return r;
}

/* Sleep until a post, the end of the poller's turn, or @deadline. */
static void waiter_sleep(osev_ctx *ctx, osev_time deadline)
{
    struct timespec ts = {
        .tv_sec = (time_t)(deadline / 1000000000),
        .tv_nsec = (long)(deadline % 1000000000),
    };

    if (deadline == OSEV_TIME_INFINITY)
        pthread_cond_wait(&ctx->waiters_cond, &ctx->mutex);
    else
        pthread_cond_timedwait(&ctx->waiters_cond, &ctx->mutex, &ts);
}

/*
 * The waiter lives on the waiting thread's stack and is linked into the
 * context only while this function runs; on the one path that returns
 * with it linked (-ESTALE) the context itself is gone.  GCC cannot see
 * that, hence the pragma.
 */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif

/*
 * Several threads may wait at once.  Each registers as a waiter; posts
 * hand matching events to waiters directly.  One waiter at a time runs
 * the built-in loop (the poller); the others sleep until they are handed
 * an event, their deadline passes, or the poller's turn ends and one of
 * them may take over.  Called locked, with @w's filter set.
 */
static int wait_as_waiter(osev_ctx *ctx, struct osev__waiter *w,
                          osev_time deadline)
{
    int r;

    osev__list_append(&ctx->waiters, &w->link);
    for (;;) {
        if (w->got) {
            r = 0;
            break;
        }
        if (ctx->disaster_unhooked) {
            r = -EIO;
            break;
        }
        if (osev_now() >= deadline) {
            r = -ETIMEDOUT;
            break;
        }
        if (ctx->poller || osev__busy(ctx)) {
            waiter_sleep(ctx, deadline);
            continue;
        }
        ctx->poller = w;
        r = osev__loop_once_locked(ctx, deadline);
        if (r == -ESTALE)
            return r; /* a callback freed the context */
        ctx->poller = NULL;
        pthread_cond_broadcast(&ctx->waiters_cond); /* let one take over */
        if (r < 0 && r != -ETIMEDOUT && !w->got)
            break;
    }
    osev__list_unlink(&w->link);
    return r;
}

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic pop
#endif

OSEV_EXPORT int osev_event_wait(osev_ctx *ctx, uint64_t typemask,
                                osev_event_predicate *pred, void *pred_user,
                                osev_time deadline, osev_event **ev_out)
{
    struct osev__waiter w = {
        .typemask = typemask, .pred = pred, .pred_user = pred_user
    };
    int r;

    if (!ctx || !ev_out || deadline < 0)
        return -EINVAL;
    osev__lock(ctx);
    if (osev__in_own_callback(ctx)) {
        osev__unlock(ctx);
        return -EBUSY;
    }
    r = osev__event_take(ctx, typemask, pred, pred_user, ev_out);
    if (r == -EAGAIN) {
        r = wait_as_waiter(ctx, &w, deadline);
        if (r == -ESTALE)
            return r;
        if (r == 0)
            *ev_out = w.got;
    }
    osev__unlock(ctx);
    return r;
}

OSEV_EXPORT int osev_event_set_hooks(osev_ctx *ctx,
                                     const struct osev_event_hooks *h,
                                     size_t h_size, void *user)
{
    struct osev_event_hooks copy = { 0 };
    int r;

    if (!ctx)
        return -EINVAL;
    if (h) {
        r = osev__copy_struct(&copy, sizeof copy, h, h_size,
                              offsetof(struct osev_event_hooks, disaster));
        if (r < 0)
            return r;
        if (copy.event_occurs_mask && !copy.event_occurs)
            return -EINVAL;
    }
    osev__lock(ctx);
    ctx->ev_hooks = copy;
    ctx->ev_hooks_user = h ? user : NULL;
    osev__unlock(ctx);
    return 0;
}

OSEV_EXPORT void osev_disaster(osev_ctx *ctx, unsigned type, const char *msg,
                               int errnoval)
{
    void (*hook)(void *, unsigned, const char *, int);
    void *user;

    if (!ctx)
        return;
    osev__lock(ctx);
    hook = ctx->ev_hooks.disaster;
    user = ctx->ev_hooks_user;
    if (!hook) {
        /* Nothing may fail silently: say it, and make every later
         * check and wait fail.  Always wake: a waiter may be on its way
         * into the backend, past its last look at the flag. */
        ctx->disaster_unhooked = true;
        osev__kick(ctx);
        osev_wakeup(ctx);
        pthread_cond_broadcast(&ctx->waiters_cond);
    }
    osev__unlock(ctx);
    if (hook) {
        hook(user, type, msg, errnoval);
        return;
    }
    fprintf(stderr, "osevent: disaster: events%s%.0u may be lost: %s%s%s\n",
            type ? " of type " : "", type, msg ? msg : "(no message)",
            errnoval ? ": " : "", errnoval ? strerror(errnoval) : "");
}

/* At the end of the context: every event it holds, queued, waiting for
 * event_occurs, or handed to a waiter that will now return -ESTALE. */
void osev__events_free_all(osev_ctx *ctx)
{
    struct osev__list *n;

    for (n = ctx->waiters.next; n != &ctx->waiters; n = n->next) {
        struct osev__waiter *w =
            osev__container_of(n, struct osev__waiter, link);

        if (w->got)
            osev__free(ctx, event_of(w->got));
        w->got = NULL;
    }

    while ((n = osev__list_pop(&ctx->evq_all)) != NULL)
        osev__free(ctx, osev__container_of(n, struct osev__event, all_link));
    while ((n = osev__list_pop(&ctx->ev_occur)) != NULL)
        osev__free(ctx, osev__container_of(n, struct osev__event, all_link));
    for (unsigned i = 0; i <= OSEV_EVENT_TYPE_MAX; i++)
        osev__list_init(&ctx->evq_type[i]);
    ctx->evq_types = 0;
}
