/*
 * glib.c - a GLib GMainContext drives an osevent context.
 *
 * One GSource per attachment rather than one per registration: a
 * registration is then one g_source_add_unix_fd() tag, cheap to add,
 * change (g_source_modify_unix_fd) and remove, the context's single
 * timeout is the same source's ready time, there is one object to attach
 * and destroy, and one dispatch sees every ready fd.  A source per fd
 * would need a second kind of source for the timeout and a destroy per
 * deregistration, for nothing GLib would do better.
 *
 * GLib calls our dispatch with no lock of its own held; the registry may
 * be changed from another thread meanwhile, so the list of fds and the
 * timeout are guarded by our own lock (a pthread mutex: the sanitizers
 * see it, unlike GLib's futex-based GMutex).  That lock is never held
 * while osevent runs callbacks.
 */
#include "adapter.h"

#include <pthread.h>

#include "../list.h"
#include "osevent-glib.h"

/* On Unix GLib's GIOCondition bits are poll(2)'s: no mapping needed. */
G_STATIC_ASSERT(G_IO_IN == POLLIN && G_IO_OUT == POLLOUT &&
                G_IO_PRI == POLLPRI && G_IO_ERR == POLLERR &&
                G_IO_HUP == POLLHUP && G_IO_NVAL == POLLNVAL);

struct osev_gsource {
    GSource base;
    pthread_mutex_t lock;       /* guards what follows */
    osev_ctx *ctx;              /* NULL once detached */
    struct osev__list fds;      /* of struct gfd.link */
    struct osev__areg *timeout; /* the timeout registration, or NULL */
    bool lock_made;             /* for finalize */
};

/* An fd registration's private part. */
struct gfd {
    struct osev__list link;
    gpointer tag;  /* g_source_add_unix_fd()'s */
    short pending; /* revents taken from GLib, not yet reported */
};

struct gstate {
    struct osev_gsource *src;
};

static struct gfd *gfd_of(struct osev__areg *r)
{
    void *priv = r->priv;

    return priv;
}

static struct osev__areg *areg_of(struct osev__list *l)
{
    struct gfd *g = osev__container_of(l, struct gfd, link);

    return osev__container_of((max_align_t *)(void *)g, struct osev__areg,
                              priv);
}

static struct gstate *state_of(struct osev__adapter *ad)
{
    void *state = ad->state;

    return state;
}

static struct osev_gsource *src_of(struct osev__areg *r)
{
    return state_of(r->ad)->src;
}

/*
 * GLib's monotonic clock is CLOCK_MONOTONIC in microseconds on Linux,
 * osev_now()'s clock: a deadline converts exactly, rounded up so GLib
 * never fires early.  Elsewhere the clocks may differ: go through the
 * time left (one microsecond more for the truncated reading).
 */
static gint64 ready_time(osev_time deadline)
{
    if (deadline == OSEV_TIME_INFINITY)
        return -1;
    if (deadline <= 0)
        return 0;
#ifdef __linux__
    return deadline / 1000 + (deadline % 1000 != 0);
#else
    return g_get_monotonic_time() + osev__us_until(deadline) + 1;
#endif
}

/* Copy the revents GLib found on each fd; the reports go out later,
 * without the lock, one by one. */
static void mark_pending(struct osev_gsource *src)
{
    struct osev__list *l;

    for (l = src->fds.next; l != &src->fds; l = l->next) {
        struct gfd *g = osev__container_of(l, struct gfd, link);

        g->pending = (short)g_source_query_unix_fd(&src->base, g->tag);
    }
}

struct report {
    osev_ctx *ctx;
    void *token;
    int fd;
    short events, revents;
};

/* Take the next registration with readiness not yet reported.  Looked up
 * afresh each time: the callbacks of the last report may have stopped
 * any registration, or detached us. */
static bool take_ready(struct osev_gsource *src, struct report *rep)
{
    struct osev__list *l;
    bool found = false;

    pthread_mutex_lock(&src->lock);
    for (l = src->fds.next; src->ctx && l != &src->fds; l = l->next) {
        struct osev__areg *r = areg_of(l);
        struct gfd *g = gfd_of(r);

        if (g->pending) {
            *rep = (struct report){.ctx = src->ctx,
                                   .token = r->token,
                                   .fd = r->fd,
                                   .events = r->events,
                                   .revents = g->pending};
            g->pending = 0;
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&src->lock);
    return found;
}

/* The timeout fired if GLib's time reached the ready time; it is then
 * disarmed (osevent re-arms it with timeout_change). */
static bool take_timeout(struct osev_gsource *src, struct report *rep)
{
    gint64 rt;
    bool fired = false;

    pthread_mutex_lock(&src->lock);
    rt = g_source_get_ready_time(&src->base);
    if (src->ctx && src->timeout && rt != -1 &&
        rt <= g_source_get_time(&src->base)) {
        g_source_set_ready_time(&src->base, -1);
        *rep = (struct report){.ctx = src->ctx, .token = src->timeout->token};
        fired = true;
    }
    pthread_mutex_unlock(&src->lock);
    return fired;
}

/* A source no context is behind (detached while this dispatch ran, or
 * abandoned in a forked child) asks GLib to remove it: in a child's copy
 * of the loop its fds may stay ready (the wakeup fd is closed there:
 * POLLNVAL), and it would be dispatched on every turn. */
static gboolean src_dispatch(GSource *base, GSourceFunc cb, gpointer data)
{
    struct osev_gsource *src = (struct osev_gsource *)base;
    struct report rep;
    bool live;

    (void)cb, (void)data;
    pthread_mutex_lock(&src->lock);
    live = src->ctx != NULL;
    if (live)
        mark_pending(src);
    pthread_mutex_unlock(&src->lock);
    if (!live)
        return G_SOURCE_REMOVE;
    while (take_ready(src, &rep))
        osev_occurred_fd(rep.ctx, rep.token, rep.fd, rep.events, rep.revents);
    if (take_timeout(src, &rep))
        osev_occurred_timeout(rep.ctx, rep.token);
    return G_SOURCE_CONTINUE;
}

static void src_finalize(GSource *base)
{
    struct osev_gsource *src = (struct osev_gsource *)base;

    if (src->lock_made)
        pthread_mutex_destroy(&src->lock);
}

/* No prepare or check: GLib itself makes a source ready from its unix
 * fds' revents and its ready time. */
static GSourceFuncs src_funcs = {
    .dispatch = src_dispatch,
    .finalize = src_finalize,
};

static int glib_attach(struct osev__adapter *ad)
{
    struct gstate *st = state_of(ad);
    struct osev_gsource *src;

    src = (struct osev_gsource *)g_source_new(&src_funcs, sizeof *src);
    if (pthread_mutex_init(&src->lock, NULL) != 0) {
        g_source_unref(&src->base);
        return -ENOMEM;
    }
    src->lock_made = true;
    src->ctx = ad->ctx;
    osev__list_init(&src->fds);
    g_source_set_name(&src->base, "osevent");
    g_source_attach(&src->base, ad->loop);
    st->src = src;
    return 0;
}

/* Every registration is stopped.  A dispatch of ours may still be running
 * (osev_ctx_free() from a callback): it holds a reference, and sees ctx
 * NULL before it reports anything more. */
static void glib_detach(struct osev__adapter *ad)
{
    struct osev_gsource *src = state_of(ad)->src;

    pthread_mutex_lock(&src->lock);
    src->ctx = NULL;
    pthread_mutex_unlock(&src->lock);
    g_source_destroy(&src->base);
    g_source_unref(&src->base);
}

/* In a forked child: the GSource stays attached (destroying it would
 * write GLib's wakeup fd, the parent's too); a dispatch the child's copy
 * of the context may still run reports nothing and lets GLib remove it. */
static void glib_abandon(struct osev__adapter *ad)
{
    struct osev_gsource *src = state_of(ad)->src;

    pthread_mutex_lock(&src->lock);
    src->ctx = NULL;
    pthread_mutex_unlock(&src->lock);
}

static int glib_fd_start(struct osev__areg *r)
{
    struct osev_gsource *src = src_of(r);
    struct gfd *g = gfd_of(r);

    pthread_mutex_lock(&src->lock);
    g->tag = g_source_add_unix_fd(&src->base, r->fd, (GIOCondition)r->events);
    osev__list_append(&src->fds, &g->link);
    pthread_mutex_unlock(&src->lock);
    return 0;
}

static int glib_fd_change(struct osev__areg *r, short events)
{
    struct osev_gsource *src = src_of(r);

    pthread_mutex_lock(&src->lock);
    g_source_modify_unix_fd(&src->base, gfd_of(r)->tag, (GIOCondition)events);
    pthread_mutex_unlock(&src->lock);
    return 0;
}

static void glib_fd_stop(struct osev__areg *r)
{
    struct osev_gsource *src = src_of(r);
    struct gfd *g = gfd_of(r);

    pthread_mutex_lock(&src->lock);
    g_source_remove_unix_fd(&src->base, g->tag);
    osev__list_unlink(&g->link);
    pthread_mutex_unlock(&src->lock);
}

/* Start and change alike: set the ready time (which wakes GLib). */
static int glib_timeout_set(struct osev__areg *r, osev_time deadline)
{
    struct osev_gsource *src = src_of(r);

    pthread_mutex_lock(&src->lock);
    src->timeout = r;
    g_source_set_ready_time(&src->base, ready_time(deadline));
    pthread_mutex_unlock(&src->lock);
    return 0;
}

static void glib_timeout_stop(struct osev__areg *r)
{
    struct osev_gsource *src = src_of(r);

    pthread_mutex_lock(&src->lock);
    src->timeout = NULL;
    g_source_set_ready_time(&src->base, -1);
    pthread_mutex_unlock(&src->lock);
}

static const struct osev__adapter_ops glib_ops = {
    .name = "glib",
    .reg_size = sizeof(struct gfd),
    .state_size = sizeof(struct gstate),
    .attach = glib_attach,
    .fd_start = glib_fd_start,
    .fd_change = glib_fd_change,
    .fd_stop = glib_fd_stop,
    .timeout_start = glib_timeout_set,
    .timeout_change = glib_timeout_set,
    .timeout_stop = glib_timeout_stop,
    .detach = glib_detach,
    .abandon = glib_abandon,
};

int osev_glib_attach(osev_ctx *ctx, GMainContext *gctx)
{
    return osev__adapter_attach(ctx, gctx, &glib_ops);
}

void osev_glib_detach(osev_ctx *ctx)
{
    osev__adapter_detach(ctx);
}
