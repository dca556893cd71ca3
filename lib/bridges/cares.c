/*
 * cares.c - a c-ares channel served by an osevent context.
 *
 * SPDX-License-Identifier: MIT
 *
 * The bridge never stores anything in the channel (see the header for
 * why): it asks.  A "look" is one call into c-ares (ares_process_fd(),
 * with ARES_SOCKET_BAD for what is not ready) followed by a sync: read
 * ares_getsock() and ares_timeout() and bring the watches and the one
 * timer in line.  Looks run from the bridge's callbacks only, so the
 * query callbacks c-ares calls from them run in dispatch passes.
 *
 * At most ARES_GETSOCK_MAXNUM sockets are wanted at a time, so the
 * watches live in a fixed array inside the bridge: a sync allocates
 * nothing but what osev_fd_add() does.  A slot is the watch's argument.
 *
 * Lifetime: osev_cares_detach() frees the bridge, unless it is called
 * from a query callback inside one of the bridge's calls into c-ares;
 * then the look that made that call frees it on the way out.  The end of
 * the context is learnt from the release of the timer (detach clears
 * that release first), which frees the bridge without touching osevent
 * or the channel.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "osevent-cares.h"

/* The bridge looks at the channel at least this often while attached. */
#define CHECK_MAX osev_s(10)
/* The first look after the channel fell idle; then the gap doubles. */
#define CHECK_FIRST osev_ms(100)
/* A socket the bridge could not watch is tried again this soon. */
#define RETRY osev_ms(50)
/* ares_timeout() truncates to whole milliseconds: never fire before. */
#define SLACK osev_ms(1)

#define NSOCK ARES_GETSOCK_MAXNUM

struct sock {
    osev_cares *b;
    osev_fd *w;   /* NULL: the slot is free */
    int fd;
    short events; /* what the watch asks for */
    dev_t dev;    /* which socket @fd named when it was watched */
    ino_t ino;
};

/* What c-ares wanted at the end of the last sync. */
struct wanted {
    int bits;                 /* ares_getsock()'s bitmap */
    ares_socket_t fds[NSOCK]; /* its sockets, the first n */
    int n;
    bool busy;                /* a query in flight: ares_timeout() gave... */
    struct timeval left;      /* ...the time left to the earliest timeout */
};

struct osev_cares {
    osev_ctx *ctx;
    ares_channel channel;
    unsigned flags;
    osev_timer *timer;
    struct sock socks[NSOCK];
    struct wanted seen;  /* the channel as the last sync left it */
    bool announced;      /* osev_cares_update() since the last sync */
    bool warned;         /* the forgotten-update warning was written */
    bool detached;       /* detached inside a look: free on the way out */
    int depth;           /* looks running (a query callback is inside one) */
    osev_time idle_next; /* the gap before the next idle look */
};

static void on_sock(osev_fd *w, int fd, short revents, void *arg);

/* What c-ares wants now; fills @fds with the first ->n sockets. */
static void ask(osev_cares *b, struct wanted *want, short events[NSOCK])
{
    want->bits = ares_getsock(b->channel, want->fds, NSOCK);
    want->n = 0;
    for (int i = 0; i < NSOCK; i++) {
        /* As ARES_GETSOCK_READABLE/WRITABLE, without their shift into the
         * sign bit of an int for the sixteenth socket. */
        unsigned bits = (unsigned)want->bits;
        short ev = (short)((bits >> i & 1u ? POLLIN : 0) |
                           (bits >> (i + NSOCK) & 1u ? POLLOUT : 0));

        if (!ev)
            break; /* sockets come first to last, without gaps */
        if (events)
            events[i] = ev;
        want->n++;
    }
    want->busy = ares_timeout(b->channel, NULL, &want->left) != NULL;
}

static bool same_wanted(const struct wanted *a, const struct wanted *b)
{
    if (a->bits != b->bits || a->n != b->n || a->busy != b->busy)
        return false;
    for (int i = 0; i < a->n; i++)
        if (a->fds[i] != b->fds[i])
            return false;
    return true;
}

/* Does the watched number still name the socket it named? */
static bool same_socket(const struct sock *s)
{
    struct stat st;

    return fstat(s->fd, &st) == 0 && st.st_dev == s->dev &&
           st.st_ino == s->ino;
}

static void drop(struct sock *s)
{
    osev_fd_remove(s->w);
    s->w = NULL;
}

static struct sock *find(osev_cares *b, int fd)
{
    for (int i = 0; i < NSOCK; i++)
        if (b->socks[i].w && b->socks[i].fd == fd)
            return &b->socks[i];
    return NULL;
}

static int watch(osev_cares *b, int fd, short events)
{
    struct sock *s = NULL;
    struct stat st;
    int r;

    for (int i = 0; i < NSOCK && !s; i++)
        if (!b->socks[i].w)
            s = &b->socks[i];
    /* Every watch whose socket c-ares no longer wants was dropped first,
     * and it wants at most NSOCK. */
    if (!s)
        return -ENOMEM;
    if (fstat(fd, &st) < 0)
        return -errno; /* not open: c-ares's own state is off; retry */
    r = osev_fd_add(b->ctx, fd, events, on_sock, s, &s->w);
    if (r < 0) {
        s->w = NULL;
        return r;
    }
    s->b = b;
    s->fd = fd;
    s->events = events;
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    return 0;
}

/*
 * Bring the watches and the timer in line with what c-ares wants.
 * Returns 0 or the first error met; a socket that could not be watched
 * (or changed) is tried again after RETRY, the others are served.
 */
static int sync_channel(osev_cares *b)
{
    short events[NSOCK];
    struct wanted want;
    osev_time now, wait;
    int err = 0, r;

    ask(b, &want, events);
    /* First drop what is no longer wanted, or no longer the same socket:
     * c-ares may have closed one and opened another under its number. */
    for (int i = 0; i < NSOCK; i++) {
        struct sock *s = &b->socks[i];
        bool wanted = false;

        if (!s->w)
            continue;
        for (int j = 0; j < want.n && !wanted; j++)
            wanted = want.fds[j] == s->fd;
        if (!wanted || !same_socket(s))
            drop(s);
    }
    for (int j = 0; j < want.n; j++) {
        struct sock *s = find(b, want.fds[j]);

        if (!s)
            r = watch(b, want.fds[j], events[j]);
        else if (s->events != events[j] &&
                 (r = osev_fd_modify(s->w, events[j])) == 0)
            s->events = events[j];
        else
            r = 0;
        if (r < 0 && err == 0)
            err = r;
    }

    now = osev_now(); /* after ares_timeout() read its clock */
    if (want.busy) {
        wait = osev_s(want.left.tv_sec) + (osev_time)want.left.tv_usec * 1000 +
               SLACK;
        if (!(b->flags & OSEV_CARES_NO_IDLE_CHECK) && wait > CHECK_MAX)
            wait = CHECK_MAX;
        b->idle_next = CHECK_FIRST;
    } else if (b->flags & OSEV_CARES_NO_IDLE_CHECK) {
        wait = OSEV_TIME_INFINITY;
    } else {
        wait = b->idle_next;
    }
    if (err && wait > RETRY)
        wait = RETRY;
    /* Cannot fail: the timer is ours and live, the deadline positive. */
    (void)osev_timer_set(b->timer,
                         wait == OSEV_TIME_INFINITY ? wait : now + wait);
    b->seen = want;
    b->announced = false;
    return err;
}

/* A look found the channel changed behind the bridge's back. */
static void caught(osev_cares *b)
{
    b->idle_next = CHECK_FIRST;
    if (b->warned)
        return;
    b->warned = true;
    fputs("osevent-cares: c-ares was called without osev_cares_update() "
          "after it; the bridge found out late (see osev_cares_update(3))\n",
          stderr);
}

/*
 * One look: check for calls the application did not announce, let c-ares
 * process @rfd/@wfd (ARES_SOCKET_BAD: nothing ready that way) and its
 * timeouts, then sync.  Query callbacks run inside ares_process_fd(); one
 * may detach the bridge (freed here on the way out) or free the context
 * (which takes effect when the pass ends: the bridge is released then).
 */
static void look(osev_cares *b, ares_socket_t rfd, ares_socket_t wfd,
                 bool timer)
{
    if (!b->announced) {
        struct wanted now;

        ask(b, &now, NULL);
        if (!same_wanted(&now, &b->seen))
            caught(b);
        else if (timer && !b->seen.busy) /* an idle look found nothing */
            b->idle_next = b->idle_next < CHECK_MAX / 2 ? b->idle_next * 2
                                                        : CHECK_MAX;
    }
    b->depth++;
    ares_process_fd(b->channel, rfd, wfd);
    b->depth--;
    if (b->detached) {
        if (b->depth == 0)
            free(b);
        return;
    }
    (void)sync_channel(b); /* a failure is retried by the timer */
}

static void on_sock(osev_fd *w, int fd, short revents, void *arg)
{
    struct sock *s = arg;
    ares_socket_t rfd = ARES_SOCKET_BAD, wfd = ARES_SOCKET_BAD;

    (void)w;
    /* POLLNVAL: the number is closed; c-ares has no socket there and the
     * sync after the look drops the watch.  Errors and hang-ups go to the
     * direction watched, where c-ares meets them reading or writing. */
    if (!(revents & POLLNVAL)) {
        if ((s->events & POLLIN) && (revents & (POLLIN | POLLERR | POLLHUP)))
            rfd = fd;
        if ((s->events & POLLOUT) && (revents & (POLLOUT | POLLERR | POLLHUP)))
            wfd = fd;
    }
    look(s->b, rfd, wfd, false); /* may drop this watch: s is not used after */
}

static void on_timer(osev_timer *t, osev_time now, void *arg)
{
    (void)t;
    (void)now;
    look(arg, ARES_SOCKET_BAD, ARES_SOCKET_BAD, true);
}

/* The context is ending: every watch and the timer end with it. */
static void on_timer_released(void *arg)
{
    free(arg);
}

/* Remove everything from the context; the caller frees the bridge. */
static void unhook(osev_cares *b)
{
    for (int i = 0; i < NSOCK; i++)
        if (b->socks[i].w)
            drop(&b->socks[i]);
    osev_timer_set_release(b->timer, NULL);
    osev_timer_remove(b->timer);
    b->timer = NULL;
}

OSEV_EXPORT int osev_cares_attach(osev_ctx *ctx, ares_channel channel,
                                  unsigned flags, osev_cares **bridge_out)
{
    osev_cares *b;
    int r;

    if (!ctx || !channel || !bridge_out || (flags & ~OSEV_CARES_NO_IDLE_CHECK))
        return -EINVAL;
    b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    b->ctx = ctx;
    b->channel = channel;
    b->flags = flags;
    b->idle_next = CHECK_FIRST;
    r = osev_timer_add(ctx, OSEV_TIME_INFINITY, on_timer, b, &b->timer);
    if (r < 0) {
        free(b);
        return r;
    }
    osev_timer_set_release(b->timer, on_timer_released);
    r = sync_channel(b);
    if (r < 0) {
        unhook(b);
        free(b);
        return r;
    }
    *bridge_out = b;
    return 0;
}

OSEV_EXPORT void osev_cares_update(osev_cares *bridge)
{
    if (!bridge || bridge->detached)
        return;
    bridge->announced = true;
    /* Due now: the look runs from the next pass, never in here. */
    (void)osev_timer_set(bridge->timer, 0);
}

OSEV_EXPORT void osev_cares_detach(osev_cares *bridge)
{
    if (!bridge || bridge->detached)
        return;
    unhook(bridge);
    if (bridge->depth > 0) {
        bridge->detached = true; /* the running look frees it */
        return;
    }
    free(bridge);
}
