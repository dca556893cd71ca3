/*
 * fdwatch.c - fd watches: the per-fd merge, the fd table and the pollfd
 * array kept in step with it.
 *
 * Each distinct fd with at least one watch has an fdent in ctx->fdtab
 * (indexed by fd).  An fdent whose merged mask is not 0 owns one slot of
 * ctx->pfd, so osev_beforepoll() is a copy of that array; a slot freed in
 * the middle is filled by the last one (swap-remove); the application's
 * poll rounds keep their own list of the fds they handed out.
 */
#include "internal.h"
#include "backend.h"

#include <assert.h>
#include <fcntl.h>
#include <string.h>
#ifdef OSEV_LINUX_APIS
#include <sys/epoll.h>
#endif

static struct osev__fdent *fdent_lookup(const osev_ctx *ctx, int fd)
{
    return fd >= 0 && fd < ctx->fdtab_len ? ctx->fdtab[fd] : NULL;
}

/* Count @w in or out of ctx->held_watches (what keeps a foreign loop
 * running: holds_app() in hooks.c), by the events it has now. */
static inline void watch_held(osev_ctx *ctx, const osev_fd *w, int sign)
{
    if (!w->internal && w->events)
        ctx->held_watches += (unsigned)sign;
}

static int fdtab_reserve(osev_ctx *ctx, int fd)
{
    struct osev__fdent **tab;
    int len = ctx->fdtab_len ? ctx->fdtab_len : 64;

    if (fd < ctx->fdtab_len)
        return 0;
    while (len <= fd)
        len = len > INT32_MAX / 2 ? fd + 1 : len * 2;
    tab = osev__realloc_array(ctx, ctx->fdtab, (size_t)len, sizeof *tab);
    if (!tab)
        return -ENOMEM;
    memset(tab + ctx->fdtab_len, 0,
           (size_t)(len - ctx->fdtab_len) * sizeof *tab);
    ctx->fdtab = tab;
    ctx->fdtab_len = len;
    return 0;
}

/* The application's rounds keep the fds they handed out (pull.c), as
 * many as the pollfd array can hold, so starting a round never fails. */
static int snap_reserve(osev_ctx *ctx, int cap)
{
    int *p;

    if (cap <= ctx->snap_cap)
        return 0;
    p = osev__realloc_array(ctx, ctx->pull_round.fds, (size_t)cap, sizeof *p);
    if (!p)
        return -ENOMEM;
    ctx->pull_round.fds = p;
    p = osev__realloc_array(ctx, ctx->select_round.fds, (size_t)cap,
                            sizeof *p);
    if (!p)
        return -ENOMEM;
    ctx->select_round.fds = p;
    ctx->snap_cap = cap;
    return 0;
}

static int pfd_reserve(osev_ctx *ctx, int n)
{
    struct pollfd *p;
    int cap = ctx->pfd_cap ? ctx->pfd_cap : 16;

    if (n <= ctx->pfd_cap)
        return 0;
    while (cap < n)
        cap *= 2;
    if (snap_reserve(ctx, cap) < 0)
        return -ENOMEM;
    p = osev__realloc_array(ctx, ctx->pfd, (size_t)cap, sizeof *p);
    if (!p)
        return -ENOMEM;
    ctx->pfd = p;
    ctx->pfd_cap = cap;
    return 0;
}

static void slot_add(osev_ctx *ctx, struct osev__fdent *ent, short mask)
{
    ent->slot = ctx->npfd++;
    ctx->pfd[ent->slot] = (struct pollfd){ .fd = ent->fd, .events = mask };
}

static void slot_remove(osev_ctx *ctx, struct osev__fdent *ent)
{
    int last;

    osev__rounds_copy(ctx);
    last = --ctx->npfd;
    if (ent->slot != last) {
        ctx->pfd[ent->slot] = ctx->pfd[last];
        ctx->fdtab[ctx->pfd[last].fd]->slot = ent->slot;
    }
    ent->slot = -1;
}

/*
 * Give @ent a new merged mask, keeping the pollfd array, the application's
 * hooks and the epoll set in step.  Fails only when growing (memory, a
 * hook or epoll refusing, or @check_fd and the fd is not open: see
 * osev__ep_update()), and then changes nothing.
 */
static int fdent_set_mask(osev_ctx *ctx, struct osev__fdent *ent, short mask,
                          bool check_fd)
{
    int r;

    if (mask == ent->mask)
        return 0;
    if (ent->mask == 0) {
        r = pfd_reserve(ctx, ctx->npfd + 1);
        if (r < 0)
            return r;
    }
    r = osev__hook_fd_update(ctx, ent, mask);
    if (r < 0)
        return r;
    r = osev__ep_update(ctx, ent, mask, check_fd);
    if (r < 0) {
        osev__hook_fd_update(ctx, ent, ent->mask); /* a shrink: cannot fail */
        return r;
    }
    if (ent->mask == 0)
        slot_add(ctx, ent, mask);
    else if (mask == 0)
        slot_remove(ctx, ent);
    else
        ctx->pfd[ent->slot].events = mask;
    ent->mask = mask;
    return 0;
}

static short fdent_union(const struct osev__fdent *ent)
{
    short mask = 0;

    for (struct osev__list *n = ent->watches.next; n != &ent->watches;
         n = n->next)
        mask |= osev__container_of(n, osev_fd, fd_link)->events;
    return mask;
}

/* Shrinking allocates nothing and osev__ep_update() does not fail on a
 * shrink, so this cannot fail; the fdent goes with its last watch. */
static void fdent_shrink(osev_ctx *ctx, struct osev__fdent *ent)
{
    int r = fdent_set_mask(ctx, ent, fdent_union(ent), false);

    assert(r == 0);
    (void)r;
    if (osev__list_empty(&ent->watches)) {
        ctx->fdtab[ent->fd] = NULL;
        osev__free(ctx, ent);
    }
}

static int fd_add_locked(osev_ctx *ctx, int fd, short events, bool check_fd,
                         bool internal, osev_fd_cb *cb, void *arg,
                         osev_fd **w_out)
{
    struct osev__fdent *ent;
    bool new_ent = false;
    osev_fd *w;
    int r;

    if (ctx->dying)
        return -ESTALE;
    r = fdtab_reserve(ctx, fd);
    if (r < 0)
        return r;
    w = osev__alloc(ctx, sizeof *w);
    if (!w)
        return -ENOMEM;
    ent = ctx->fdtab[fd];
    if (!ent) {
        ent = osev__alloc(ctx, sizeof *ent);
        if (!ent) {
            osev__free(ctx, w);
            return -ENOMEM;
        }
        osev__list_init(&ent->watches);
        ent->fd = fd;
        ent->slot = -1;
        new_ent = true;
    }
    r = fdent_set_mask(ctx, ent, ent->mask | events, check_fd);
    if (r < 0) {
        if (new_ent)
            osev__free(ctx, ent);
        osev__free(ctx, w);
        return r;
    }
    if (new_ent)
        ctx->fdtab[fd] = ent;

    osev__source_init(&w->s, ctx, arg, NULL);
    w->cb = cb;
    w->fd = fd;
    w->events = events;
    w->internal = internal;
    w->born = ctx->epoch;
    osev__list_init(&w->ready_link);
    osev__list_append(&ent->watches, &w->fd_link);
    watch_held(ctx, w, 1);
    *w_out = w;
    return 0;
}

/*
 * The library has just opened @fd (an epoll set, a timerfd, an eventfd, a
 * dup...): the kernel gave it the lowest free number, so a watch still on
 * that number is on an fd the application closed without removing the
 * watch.  It must never see the library's fd: it gets POLLNVAL at the
 * next pass, as poll(2) would have said, and is muted.  Called locked.
 */
void osev__claim_fd(osev_ctx *ctx, int fd)
{
    if (fdent_lookup(ctx, fd))
        osev__mark_fd(ctx, fd, POLLNVAL, UINT64_MAX);
}

int osev__fd_add_internal(osev_ctx *ctx, int fd, osev_fd_cb *cb, void *arg,
                          osev_fd **w_out)
{
    osev__claim_fd(ctx, fd);
    return fd_add_locked(ctx, fd, POLLIN, false, true, cb, arg, w_out);
}

/*
 * Whether adding a watch for @events on @fd makes an epoll_ctl() that
 * tells whether @fd is open: the set exists, it holds the fd normally
 * (or not yet), and the merged mask grows.  Not in push mode, where the
 * application's hook sees the fd first; nor for an fd past the fd table,
 * which would be grown for it first (an fd number out of range must not
 * cost an allocation before it is found not open).
 */
static bool epoll_will_check(const osev_ctx *ctx, int fd, short events)
{
    const struct osev__fdent *ent = fdent_lookup(ctx, fd);

    if (ctx->ep.epfd < 0 || ctx->push.on || fd >= ctx->fdtab_len)
        return false;
    if (!ent)
        return events != 0;
    return (ent->ep_state == OSEV__EP_NONE || ent->ep_state == OSEV__EP_IN) &&
           (events & ~ent->mask) != 0;
}

OSEV_EXPORT int osev_fd_add(osev_ctx *ctx, int fd, short events,
                            osev_fd_cb *cb, void *arg, osev_fd **w_out)
{
    bool check_by_epoll;
    int r;

    if (!ctx || !cb || !w_out || (events & ~OSEV__REQUESTABLE))
        return -EINVAL;
    if (fd < 0)
        return -EBADF;
    osev__lock(ctx);
    /* One syscall at most: where the epoll set is about to take the fd,
     * its EBADF is the check; anywhere else fcntl(2) is. */
    check_by_epoll = epoll_will_check(ctx, fd, events);
    if (!check_by_epoll && fcntl(fd, F_GETFD) < 0)
        r = -EBADF;
    else
        r = fd_add_locked(ctx, fd, events, check_by_epoll, false, cb, arg,
                          w_out);
    if (r == 0) {
        (*w_out)->by_user = true;
        ctx->user_fds++;
        osev__kick(ctx);
    }
    osev__unlock(ctx);
    return r;
}

OSEV_EXPORT int osev_fd_modify(osev_fd *w, short events)
{
    osev_ctx *ctx;
    short old;
    int r;

    if (!w || (events & ~OSEV__REQUESTABLE))
        return -EINVAL;
    ctx = w->s.ctx;
    osev__lock(ctx);
    if (w->s.dead) {
        r = -ESTALE;
        goto out;
    }
    old = w->events;
    w->events = events;
    r = fdent_set_mask(ctx, ctx->fdtab[w->fd], fdent_union(ctx->fdtab[w->fd]),
                       false);
    if (r < 0) {
        w->events = old;
        goto out;
    }
    if (!w->internal)
        ctx->held_watches += (unsigned)(events != 0) - (unsigned)(old != 0);
    /* What was marked for this pass but is no longer wanted is dropped
     * (atomically: the pass takes the bits unlocked, dispatch.c). */
    __atomic_fetch_and(&w->pending,
                       (short)(events ? (events | OSEV__UNREQUESTED) : 0),
                       __ATOMIC_RELEASE);
    if (events & ~old)
        osev__kick(ctx);
    else
        osev__hook_ref_sync(ctx); /* the last events may have gone */
out:
    osev__unlock(ctx);
    return r;
}

/* Unlink @w from everything that could call it; called locked. */
static void fd_end(osev_ctx *ctx, osev_fd *w)
{
    struct osev__fdent *ent = ctx->fdtab[w->fd];

    watch_held(ctx, w, -1);
    w->s.dead = true;
    osev__list_unlink(&w->fd_link);
    osev__list_unlink(&w->ready_link);
    /* It may be in a batch the pass runs unlocked (dispatch.c). */
    __atomic_store_n(&w->pending, 0, __ATOMIC_RELEASE);
    fdent_shrink(ctx, ent);
    osev__end_source(ctx, &w->s);
}

OSEV_EXPORT void osev_fd_remove(osev_fd *w)
{
    osev_ctx *ctx;

    if (!w)
        return;
    ctx = w->s.ctx;
    osev__lock(ctx);
    if (!w->s.dead) {
        ctx->user_fds -= w->by_user;
        fd_end(ctx, w);
    }
    osev__unlock(ctx);
}

OSEV_EXPORT void osev_fd_set_release(osev_fd *w, void (*release)(void *arg))
{
    if (!w)
        return;
    osev__lock(w->s.ctx);
    w->s.release = release;
    osev__unlock(w->s.ctx);
}

/* At context end: every watch ends, the internal ones too. */
void osev__fds_end_all(osev_ctx *ctx)
{
    for (int fd = 0; fd < ctx->fdtab_len; fd++) {
        struct osev__fdent *ent = ctx->fdtab[fd];
        struct osev__list *n;

        while (ent && (n = ent->watches.next) != &ent->watches) {
            bool last = n->next == &ent->watches;

            fd_end(ctx, osev__container_of(n, osev_fd, fd_link));
            if (last)
                break; /* ent is freed with its last watch */
        }
    }
}

/* Mark one watch of a ready fd; whether POLLNVAL muted it. */
/* Give @w its bits of @revents from a round of @epoch, if it takes part
 * (it existed when the round started, is not muted, and asked for one of
 * them, or they are unrequested ones); whether it did. */
static inline bool watch_take(osev_fd *w, short revents, uint64_t epoch)
{
    short bits = (short)((revents & w->events) | (revents & OSEV__UNREQUESTED));

    if (w->born >= epoch || w->events == 0 || !bits)
        return false;
    __atomic_fetch_or(&w->pending, bits, __ATOMIC_RELEASE);
    return true;
}

/* The watch of @ent when it has exactly one, else NULL. */
static inline osev_fd *lone_watch(const struct osev__fdent *ent)
{
    struct osev__list *n = ent->watches.next;

    return n->next == &ent->watches ? osev__container_of(n, osev_fd, fd_link)
                                    : NULL;
}

static inline bool mark_watch(osev_ctx *ctx, osev_fd *w, short revents,
                              uint64_t epoch)
{
    if (!watch_take(w, revents, epoch))
        return false;
    if (osev__list_empty(&w->ready_link))
        osev__list_append(&ctx->ready, &w->ready_link);
    if (!(revents & POLLNVAL))
        return false;
    watch_held(ctx, w, -1);
    w->events = 0;
    return true;
}

/*
 * Record that a poll round that started at @epoch found @fd with @revents.
 * Only watches that existed when the round started take part, so results
 * for an fd number closed and reused since reach nobody.  POLLNVAL mutes
 * the watches it reaches: delivered once, never a busy loop.
 */
void osev__mark_fd(osev_ctx *ctx, int fd, short revents, uint64_t epoch)
{
    struct osev__fdent *ent = fdent_lookup(ctx, fd);
    osev_fd *lone;
    bool muted = false;

    if (!ent)
        return;
    /* The common case: one watch on the fd. */
    lone = lone_watch(ent);
    if (lone && !(revents & POLLNVAL)) {
        mark_watch(ctx, lone, revents, epoch);
        return;
    }
    for (struct osev__list *n = ent->watches.next; n != &ent->watches;
         n = n->next)
        muted |= mark_watch(ctx, osev__container_of(n, osev_fd, fd_link),
                            revents, epoch);
    if (muted)
        fdent_shrink(ctx, ent);
}

#ifdef OSEV_LINUX_APIS
/*
 * Take up to @max watches from what the last epoll wait found, for the
 * pass to call (dispatch.c): a watch alone on its fd that takes part goes
 * straight into @batch with its bits marked; an fd with several watches
 * is marked the general way, on ctx->ready.  Called locked, from the pass
 * that follows the wait; the loop keeps what it reads often in registers,
 * since it runs once per ready fd.
 */
int osev__ep_take_found(osev_ctx *ctx, osev_fd **batch, int max)
{
    struct osev__epoll *ep = &ctx->ep;
    const struct epoll_event *evbuf = ep->evbuf;
    struct osev__fdent *const *tab = ctx->fdtab;
    unsigned len = (unsigned)ctx->fdtab_len;
    uint64_t epoch = ep->found_epoch;
    int i = ep->found_next, end = ep->found_n, tfd = ep->tfd, n = 0;

    while (n < max && i < end) {
        const struct epoll_event *e = &evbuf[i++];
        int fd = e->data.fd;
        short rev = osev__from_epoll(e->events);
        struct osev__fdent *ent;
        osev_fd *w;

        /* The timerfd only makes the aggregate fd readable; the pass
         * finds due timers itself and re-arming clears the expiry. */
        if ((unsigned)fd >= len || !(ent = tab[fd]) || fd == tfd)
            continue;
        w = lone_watch(ent);
        if (!w)
            osev__mark_fd(ctx, fd, rev, epoch);
        else if (watch_take(w, rev, epoch))
            batch[n++] = w;
    }
    ep->found_next = i;
    return n;
}
#endif

/*
 * For push mode (hooks.c): mark @fd as osev__mark_fd() does, but when it
 * has one watch that takes part, return that watch for the pass to call
 * first instead of queueing it on ctx->ready; else NULL.
 */
osev_fd *osev__mark_fd_one(osev_ctx *ctx, int fd, short revents,
                           uint64_t epoch)
{
    struct osev__fdent *ent = fdent_lookup(ctx, fd);
    osev_fd *w = ent ? lone_watch(ent) : NULL;

    if (!w || (revents & POLLNVAL)) {
        osev__mark_fd(ctx, fd, revents, epoch);
        return NULL;
    }
    return watch_take(w, revents, epoch) ? w : NULL;
}

/* For the library's own fds (signal.c, child.c), called locked: a watch
 * counted like the application's, and osev_fd_remove(). */
int osev__fd_add_locked(osev_ctx *ctx, int fd, short events, osev_fd_cb *cb,
                        void *arg, osev_fd **w_out)
{
    osev__claim_fd(ctx, fd);
    return fd_add_locked(ctx, fd, events, false, false, cb, arg, w_out);
}

void osev__fd_remove_locked(osev_fd *w)
{
    if (!w->s.dead)
        fd_end(w->s.ctx, w);
}
