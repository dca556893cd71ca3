/*
 * glib-host.c - an osevent loop drives a GLib GMainContext.
 *
 * GLib's loop is prepare, query, poll, check, dispatch.  The bridge keeps
 * one such round open at a time and lets osevent do the poll: after
 * g_main_context_prepare() and g_main_context_query() the GPollFDs GLib
 * asked for are mirrored into osevent watches (one per distinct fd, the
 * union of its events; only what changed since the last round is
 * touched), and GLib's timeout into one osevent timer.  A ready watch
 * writes its revents into the GPollFD array and makes the timer due; the
 * timer's callback closes the round (g_main_context_check() and, when
 * something is ready, g_main_context_dispatch()) and opens the next.
 * Finishing from the timer rather than from each fd callback lets every
 * fd found ready in one osevent pass reach GLib's check together, and a
 * timer armed during a pass runs in a later one, so a GLib source that
 * is always ready cannot hold the osevent loop.
 *
 * This is what QEMU's glib_pollfds_fill/poll and libvirt's GLib bridge
 * do, minus the per-turn re-prepare: osevent has no hook that runs before
 * each poll, so a new round starts only when the last one ends.  GLib
 * wakes a context that another thread owns whenever a source is attached
 * from elsewhere, and its wakeup fd is one of the mirrored fds.
 *
 * Arrays are GLib's (g_renew): GLib aborts on allocation failure, as it
 * does in its own loop.  An fd osevent refuses to watch (closed: -EBADF,
 * or -ENOMEM) is polled by the bridge itself, at most 10 ms apart, so
 * GLib still gets its readiness (POLLNVAL for a closed fd, as its own
 * poll would give).
 *
 * Fork: the osevent context's epoll set is shared with the parent after
 * fork(), so osev_glib_unhost() in a child takes no watch out of it (that
 * would take the parent's out); the watches stay for osev_ctx_free(), and
 * only the bridge's memory goes.
 */
#include "adapter.h"

#include <stdlib.h>
#include <unistd.h>

#include "osevent-glib.h"

G_STATIC_ASSERT(G_IO_IN == POLLIN && G_IO_OUT == POLLOUT &&
                G_IO_PRI == POLLPRI && G_IO_ERR == POLLERR &&
                G_IO_HUP == POLLHUP && G_IO_NVAL == POLLNVAL);

#define WATCHABLE (POLLIN | POLLOUT | POLLPRI)
#define REPORTED  (POLLERR | POLLHUP | POLLNVAL)
/* How often an fd osevent could not watch is polled by the bridge. */
#define SELF_POLL_NS osev_ms(10)

/* One osevent watch, for every GPollFD of the round with this fd. */
struct hwatch {
    int fd;
    short events;
    osev_fd *w;
};

struct osev_glib_hosting {
    osev_ctx *ctx;
    GMainContext *gctx;
    /* The open round: what GLib's query gave. */
    GPollFD *fds;
    gint nfds, room;
    gint max_priority;
    bool self_poll; /* some fd of the round has no osevent watch */
    bool closing;   /* the timer is due: the round closes next pass */
    struct hwatch *watches;
    size_t nwatches, wroom;
    osev_timer *timer; /* GLib's timeout, or due: close the round */
    bool in_dispatch;  /* inside g_main_context_check/dispatch */
    bool unhosted;     /* osev_glib_unhost() ran from inside it */
    pid_t pid;         /* the process that hosted */
};

static struct hwatch *find_watch(struct osev_glib_hosting *h, int fd)
{
    size_t i;

    for (i = 0; i < h->nwatches; i++)
        if (h->watches[i].fd == fd)
            return &h->watches[i];
    return NULL;
}

/* The union of what the round's GPollFDs on @fd ask for.  Older GLib
 * gives one entry per source even when sources share an fd. */
static short wanted(const struct osev_glib_hosting *h, int fd)
{
    short events = 0;
    gint i;

    for (i = 0; i < h->nfds; i++)
        if (h->fds[i].fd == fd)
            events |= (short)(h->fds[i].events & WATCHABLE);
    return events;
}

/* osevent found @fd ready: note it for GLib's check, and make the timer
 * due so the round closes once this pass has reported every fd.  Only
 * once per round: the fd stays ready until GLib has dispatched, and a
 * timer re-armed in every pass would never be due in any. */
static void on_fd(osev_fd *w, int fd, short revents, void *arg)
{
    struct osev_glib_hosting *h = arg;
    gint i;

    (void)w;
    for (i = 0; i < h->nfds; i++)
        if (h->fds[i].fd == fd)
            h->fds[i].revents |=
                (gushort)(revents & (h->fds[i].events | REPORTED));
    if (!h->closing) {
        h->closing = true;
        osev_timer_set(h->timer, 0);
    }
}

static void drop_watch(struct osev_glib_hosting *h, size_t i)
{
    osev_fd_remove(h->watches[i].w);
    h->watches[i] = h->watches[--h->nwatches];
}

static int add_watch(struct osev_glib_hosting *h, int fd, short events)
{
    osev_fd *w;
    int r = osev_fd_add(h->ctx, fd, events, on_fd, h, &w);

    if (r < 0)
        return r;
    if (h->nwatches == h->wroom) {
        h->wroom = h->wroom ? 2 * h->wroom : 8;
        h->watches = g_renew(struct hwatch, h->watches, h->wroom);
    }
    h->watches[h->nwatches++] =
        (struct hwatch){.fd = fd, .events = events, .w = w};
    return 0;
}

/* Make the watches match the round: drop the fds GLib no longer polls,
 * change the ones whose events changed, add the new ones. */
static void sync_watches(struct osev_glib_hosting *h)
{
    size_t i = 0;
    gint j;

    h->self_poll = false;
    while (i < h->nwatches) {
        struct hwatch *hw = &h->watches[i];
        short want = wanted(h, hw->fd);

        if (!want) {
            drop_watch(h, i);
            continue;
        }
        if (want != hw->events) {
            if (osev_fd_modify(hw->w, want) == 0)
                hw->events = want;
            else
                h->self_poll = true;
        }
        i++;
    }
    for (j = 0; j < h->nfds; j++) {
        int fd = h->fds[j].fd;
        short want = wanted(h, fd);

        if (fd >= 0 && want && !find_watch(h, fd) && add_watch(h, fd, want) < 0)
            h->self_poll = true;
    }
}

/* Open a round: ask GLib what to wait for, and wait for it in osevent. */
static void start_round(struct osev_glib_hosting *h)
{
    gint timeout, n, i;
    osev_time now, deadline;

    g_main_context_prepare(h->gctx, &h->max_priority);
    while ((n = g_main_context_query(h->gctx, h->max_priority, &timeout, h->fds,
                                     h->room)) > h->room) {
        h->room = n;
        h->fds = g_renew(GPollFD, h->fds, h->room);
    }
    h->nfds = n;
    h->closing = timeout == 0;
    for (i = 0; i < n; i++)
        h->fds[i].revents = 0;
    sync_watches(h);
    now = osev_now();
    deadline = timeout < 0 ? OSEV_TIME_INFINITY : now + osev_ms(timeout);
    if (h->self_poll && deadline > now + SELF_POLL_NS)
        deadline = now + SELF_POLL_NS;
    osev_timer_set(h->timer, deadline);
}

static void hosting_free(struct osev_glib_hosting *h)
{
    g_main_context_release(h->gctx);
    g_free(h->fds);
    g_free(h->watches);
    free(h);
}

/* The timer: a watched fd was ready, GLib's timeout passed, or the
 * bridge polls for itself.  Close the round and open the next.  GLib's
 * callbacks run from here, so osev_glib_unhost() may be called inside:
 * then the bridge goes once dispatch has returned. */
static void on_timer(osev_timer *t, osev_time now, void *arg)
{
    struct osev_glib_hosting *h = arg;

    (void)t, (void)now;
    if (h->self_poll)
        g_poll(h->fds, (guint)h->nfds, 0);
    h->in_dispatch = true;
    if (g_main_context_check(h->gctx, h->max_priority, h->fds, h->nfds))
        g_main_context_dispatch(h->gctx);
    h->in_dispatch = false;
    if (h->unhosted)
        hosting_free(h);
    else
        start_round(h);
}

OSEV_EXPORT int osev_glib_host(osev_ctx *ctx, GMainContext *gctx,
                               osev_glib_hosting **h_out)
{
    struct osev_glib_hosting *h;
    int r;

    if (!ctx || !gctx || !h_out)
        return -EINVAL;
    h = calloc(1, sizeof *h);
    if (!h)
        return -ENOMEM;
    *h = (struct osev_glib_hosting){.ctx = ctx, .gctx = gctx, .pid = getpid()};
    r = osev_timer_add(ctx, OSEV_TIME_INFINITY, on_timer, h, &h->timer);
    if (r < 0)
        goto fail;
    if (!g_main_context_acquire(gctx)) {
        r = -EBUSY;
        goto fail_timer;
    }
    start_round(h);
    *h_out = h;
    return 0;

fail_timer:
    osev_timer_remove(h->timer);
fail:
    free(h);
    return r;
}

OSEV_EXPORT void osev_glib_unhost(osev_glib_hosting *h)
{
    if (!h)
        return;
    /* In a forked child the context is to be freed only (see the top). */
    if (h->pid == getpid()) {
        while (h->nwatches)
            drop_watch(h, h->nwatches - 1);
        osev_timer_remove(h->timer);
        h->timer = NULL;
    }
    if (h->in_dispatch)
        h->unhosted = true;
    else
        hosting_free(h);
}
