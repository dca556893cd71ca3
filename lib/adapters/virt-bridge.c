/*
 * virt-bridge.c - an osevent context as libvirt's event implementation
 * (virEventRegisterImpl): libvirt's handles become osev_fd watches, its
 * timeouts osev_timers.
 *
 * SPDX-License-Identifier: MIT
 *
 * libvirt names its registrations by int ids, one space for handles and
 * one for timeouts, and may name an id again (update, remove) from any of
 * its threads at any time, a removed one too.  So each space is a table
 * id -> record, ids counting up from 1 and never reused, kept sorted by
 * appending, searched by bisection.  A record leaves its table when
 * libvirt removes it, and is freed from the release function of its watch
 * or timer: osevent calls that from a clean stack at the next dispatch
 * point, which is where libvirt's free callback (ff) must run (libvirt
 * holds its locks inside remove).
 *
 * Fork: in a child of fork() the context is a copy of the parent's, and
 * its epoll set one kernel object for both, so the bridge leaves it
 * alone: libvirt's adds fail there, updates are ignored, and a removal
 * only forgets the id (the watch or timer goes when the child frees the
 * context).  Nor does libvirt's free callback run in the child: the
 * object it would release is the parent's copy, and disposing of it may
 * act on what the two share (a socket path, a helper process); the child
 * leaks it instead.  A context the child registers itself is served as
 * usual.
 *
 * Locking: one mutex guards the tables and the records' fields.  It is
 * taken before the context's lock (osevent calls are made under it) and
 * never held while libvirt's code runs (its callbacks and ff call back
 * into us).  Callbacks run with no osevent lock held, so the order is
 * always ours, then the context's.
 */
#include "adapter.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "osevent-virt.h"

struct vb_table;

/* One libvirt handle (w, hcb) or timeout (t, tcb). */
struct vb_rec {
    struct vb_table *tab; /* vb.handles or vb.timeouts */
    int id;
    bool removed;  /* libvirt removed it: call nothing more */
    int frequency; /* timeouts: ms, 0 every pass, -1 disabled */
    osev_fd *w;
    osev_timer *t;
    virEventHandleCallback hcb;
    virEventTimeoutCallback tcb;
    void *opaque;
    virFreeCallback ff;
};

struct vb_table {
    struct vb_rec **recs; /* sorted by id */
    size_t n, cap;
    int last_id;
};

static struct {
    pthread_mutex_t lock;
    osev_ctx *ctx;        /* NULL: none, or it was freed */
    pid_t pid;            /* the process that registered ctx */
    osev_timer *sentinel; /* never armed; its release says ctx is gone */
    enum { VB_UNKNOWN, VB_OURS, VB_FOREIGN } impl; /* libvirt's */
    bool probe_seen;
    struct vb_table handles, timeouts;
} vb = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* ---- the id tables (locked) ---- */

/* The index of @id in @tab, or -1. */
static ptrdiff_t table_find(const struct vb_table *tab, int id)
{
    size_t lo = 0, hi = tab->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (tab->recs[mid]->id == id)
            return (ptrdiff_t)mid;
        if (tab->recs[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Give @rec the next id and append it: ids only grow, so the table stays
 * sorted.  Running out of ids fails rather than reuse one libvirt may
 * still hold. */
static int table_add(struct vb_table *tab, struct vb_rec *rec)
{
    if (tab->last_id == INT_MAX)
        return -1;
    if (tab->n == tab->cap) {
        size_t cap = tab->cap ? tab->cap * 2 : 16;
        struct vb_rec **recs = realloc(tab->recs, cap * sizeof *recs);

        if (!recs)
            return -1;
        tab->recs = recs;
        tab->cap = cap;
    }
    rec->tab = tab;
    rec->id = ++tab->last_id;
    tab->recs[tab->n++] = rec;
    return rec->id;
}

static void table_del(struct vb_table *tab, ptrdiff_t i)
{
    size_t at = (size_t)i;

    memmove(&tab->recs[at], &tab->recs[at + 1],
            (tab->n - at - 1) * sizeof *tab->recs);
    tab->n--;
}

/* The live record libvirt calls @id, unlinked and marked removed; NULL
 * when libvirt names an id we do not hold (removed twice, never ours). */
static struct vb_rec *table_take(struct vb_table *tab, int id)
{
    ptrdiff_t i = table_find(tab, id);
    struct vb_rec *rec;

    if (i < 0)
        return NULL;
    rec = tab->recs[i];
    table_del(tab, i);
    rec->removed = true;
    return rec;
}

static struct vb_rec *table_get(const struct vb_table *tab, int id)
{
    ptrdiff_t i = table_find(tab, id);

    return i < 0 ? NULL : tab->recs[i];
}

/* A child of fork() holds the parent's context: hands off (see the top). */
static bool forked(void)
{
    return vb.pid != getpid();
}

/* ---- records ---- */

static struct vb_rec *rec_new(void *opaque, virFreeCallback ff)
{
    struct vb_rec *rec = calloc(1, sizeof *rec);

    if (rec) {
        rec->opaque = opaque;
        rec->ff = ff;
    }
    return rec;
}

/*
 * The release of a record's watch or timer, from a clean stack: libvirt's
 * ff may run.  A record still in its table means the context is being
 * freed under libvirt: forget the id, so that libvirt's later update or
 * remove finds nothing instead of freed memory.
 */
static void rec_release(void *arg)
{
    struct vb_rec *rec = arg;
    bool in_child;

    pthread_mutex_lock(&vb.lock);
    if (!rec->removed)
        table_take(rec->tab, rec->id);
    in_child = forked();
    pthread_mutex_unlock(&vb.lock);
    if (rec->ff && !in_child)
        rec->ff(rec->opaque);
    free(rec);
}

/* Undo a record that never reached libvirt (no ff: libvirt keeps its
 * opaque when an add fails). */
static void rec_abort(struct vb_rec *rec)
{
    table_take(rec->tab, rec->id);
    free(rec);
}

/* ---- handles ---- */

/* Errors and hang-ups need no asking: osevent reports them always. */
static short vb_poll_events(int virt)
{
    return (short)((virt & VIR_EVENT_HANDLE_READABLE ? POLLIN : 0) |
                   (virt & VIR_EVENT_HANDLE_WRITABLE ? POLLOUT : 0));
}

/* POLLNVAL (the fd was closed under the watch) is an error to libvirt,
 * which has no such bit; osevent mutes the watch after reporting it. */
static int vb_virt_events(short revents)
{
    return (revents & POLLIN ? VIR_EVENT_HANDLE_READABLE : 0) |
           (revents & POLLOUT ? VIR_EVENT_HANDLE_WRITABLE : 0) |
           (revents & (POLLERR | POLLNVAL) ? VIR_EVENT_HANDLE_ERROR : 0) |
           (revents & POLLHUP ? VIR_EVENT_HANDLE_HANGUP : 0);
}

static void vb_on_fd(osev_fd *w, int fd, short revents, void *arg)
{
    struct vb_rec *rec = arg;
    bool live;
    int id;

    (void)w;
    pthread_mutex_lock(&vb.lock);
    live = !rec->removed;
    id = rec->id;
    pthread_mutex_unlock(&vb.lock);
    /* rec stays allocated until its release, after this pass. */
    if (live)
        rec->hcb(id, fd, vb_virt_events(revents), rec->opaque);
}

static int vb_add_handle(int fd, int events, virEventHandleCallback cb,
                         void *opaque, virFreeCallback ff)
{
    struct vb_rec *rec = rec_new(opaque, ff);
    int id = -1;

    if (!rec)
        return -1;
    rec->hcb = cb;
    pthread_mutex_lock(&vb.lock);
    if (!vb.ctx || forked() || table_add(&vb.handles, rec) < 0) {
        free(rec);
        goto out;
    }
    if (osev_fd_add(vb.ctx, fd, vb_poll_events(events), vb_on_fd, rec,
                    &rec->w) < 0) {
        rec_abort(rec);
        goto out;
    }
    osev_fd_set_release(rec->w, rec_release);
    id = rec->id;
out:
    pthread_mutex_unlock(&vb.lock);
    return id;
}

static void vb_update_handle(int watch, int events)
{
    struct vb_rec *rec;

    pthread_mutex_lock(&vb.lock);
    rec = table_get(&vb.handles, watch);
    if (rec && !forked())
        osev_fd_modify(rec->w, vb_poll_events(events));
    pthread_mutex_unlock(&vb.lock);
}

static int vb_remove_handle(int watch)
{
    struct vb_rec *rec;

    pthread_mutex_lock(&vb.lock);
    rec = table_take(&vb.handles, watch);
    if (rec && !forked())
        osev_fd_remove(rec->w); /* rec_release runs later */
    pthread_mutex_unlock(&vb.lock);
    return rec ? 0 : -1;
}

/* ---- timeouts ---- */

static osev_time vb_deadline(int frequency, osev_time now)
{
    if (frequency < 0)
        return OSEV_TIME_INFINITY;
    return now + osev_ms(frequency);
}

/*
 * Periodic: the next expiry is set before libvirt's callback runs, so that
 * whatever the callback does to its timer (disable it, change the
 * frequency, remove it) wins, as in libvirt's own loops.  A frequency of
 * 0 re-arms for this pass's time: osevent runs a timer armed during a pass
 * in a later one, so it fires once per pass and never holds the loop.
 */
static void vb_on_timer(osev_timer *t, osev_time now, void *arg)
{
    struct vb_rec *rec = arg;
    bool live;
    int id;

    pthread_mutex_lock(&vb.lock);
    live = !rec->removed;
    id = rec->id;
    if (live && rec->frequency >= 0)
        osev_timer_set(t, vb_deadline(rec->frequency, now));
    pthread_mutex_unlock(&vb.lock);
    if (live)
        rec->tcb(id, rec->opaque);
}

/* The timeout osev_virt_register_impl() adds to see whose it is. */
static void probe_fired(int timer, void *opaque)
{
    (void)timer, (void)opaque; /* disabled, removed at once */
}

static int vb_add_timeout(int frequency, virEventTimeoutCallback cb,
                          void *opaque, virFreeCallback ff)
{
    struct vb_rec *rec;
    int id = -1;

    /* The probe reached us: libvirt's implementation is ours, whether or
     * not the timeout can be added (it is removed at once anyway). */
    if (cb == probe_fired) {
        pthread_mutex_lock(&vb.lock);
        vb.probe_seen = true;
        pthread_mutex_unlock(&vb.lock);
    }
    rec = rec_new(opaque, ff);
    if (!rec)
        return -1;
    rec->tcb = cb;
    rec->frequency = frequency;
    pthread_mutex_lock(&vb.lock);
    if (!vb.ctx || forked() || table_add(&vb.timeouts, rec) < 0) {
        free(rec);
        goto out;
    }
    if (osev_timer_add(vb.ctx, vb_deadline(frequency, osev_now()),
                       vb_on_timer, rec, &rec->t) < 0) {
        rec_abort(rec);
        goto out;
    }
    osev_timer_set_release(rec->t, rec_release);
    id = rec->id;
out:
    pthread_mutex_unlock(&vb.lock);
    return id;
}

static void vb_update_timeout(int timer, int frequency)
{
    struct vb_rec *rec;

    pthread_mutex_lock(&vb.lock);
    rec = table_get(&vb.timeouts, timer);
    if (rec && !forked()) {
        rec->frequency = frequency;
        osev_timer_set(rec->t, vb_deadline(frequency, osev_now()));
    }
    pthread_mutex_unlock(&vb.lock);
}

static int vb_remove_timeout(int timer)
{
    struct vb_rec *rec;

    pthread_mutex_lock(&vb.lock);
    rec = table_take(&vb.timeouts, timer);
    if (rec && !forked())
        osev_timer_remove(rec->t);
    pthread_mutex_unlock(&vb.lock);
    return rec ? 0 : -1;
}

/* ---- registration ---- */

static void sentinel_fired(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now, (void)arg; /* never armed */
}

/* The context is being freed: libvirt's calls fail from now on, and
 * another context may take its place. */
static void sentinel_release(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&vb.lock);
    vb.ctx = NULL;
    vb.sentinel = NULL;
    pthread_mutex_unlock(&vb.lock);
}

/*
 * libvirt ignores virEventRegisterImpl() once an implementation is
 * registered (with a log line only), so ask: does a timeout added now
 * reach us?  A disabled one, removed at once, whoever got it.
 */
static bool install(void)
{
    int id;
    bool ours;

    virEventRegisterImpl(vb_add_handle, vb_update_handle, vb_remove_handle,
                         vb_add_timeout, vb_update_timeout,
                         vb_remove_timeout);
    pthread_mutex_lock(&vb.lock);
    vb.probe_seen = false;
    pthread_mutex_unlock(&vb.lock);
    id = virEventAddTimeout(-1, probe_fired, NULL, NULL);
    pthread_mutex_lock(&vb.lock);
    ours = vb.probe_seen;
    pthread_mutex_unlock(&vb.lock);
    if (id >= 0)
        virEventRemoveTimeout(id);
    return ours;
}

/* Claim the bridge for @ctx: 0, or -EBUSY when it has a context. */
static int claim(osev_ctx *ctx)
{
    int r;

    pthread_mutex_lock(&vb.lock);
    if (vb.ctx) {
        r = -EBUSY;
    } else {
        r = osev_timer_add(ctx, OSEV_TIME_INFINITY, sentinel_fired, NULL,
                           &vb.sentinel);
        if (r >= 0) {
            osev_timer_set_release(vb.sentinel, sentinel_release);
            vb.ctx = ctx;
            vb.pid = getpid();
        }
    }
    pthread_mutex_unlock(&vb.lock);
    return r;
}

static void unclaim(void)
{
    osev_timer *sentinel;

    pthread_mutex_lock(&vb.lock);
    sentinel = vb.sentinel;
    osev_timer_set_release(sentinel, NULL);
    vb.ctx = NULL;
    vb.sentinel = NULL;
    pthread_mutex_unlock(&vb.lock);
    osev_timer_remove(sentinel);
}

/*
 * Only the claimer touches vb.impl, and claims are exclusive.  Once ours,
 * libvirt keeps calling us: a later context just takes the place of a
 * freed one.
 */
OSEV_EXPORT int osev_virt_register_impl(osev_ctx *ctx)
{
    int r;

    if (!ctx)
        return -EINVAL;
    r = claim(ctx);
    if (r < 0)
        return r;
    if (vb.impl == VB_UNKNOWN)
        vb.impl = install() ? VB_OURS : VB_FOREIGN;
    if (vb.impl == VB_FOREIGN) {
        /* Another implementation was there first: libvirt keeps it. */
        unclaim();
        return -EBUSY;
    }
    return 0;
}
