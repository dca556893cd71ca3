/*
 * curl.c - libcurl's multi interface, driven by an osevent context.
 *
 * SPDX-License-Identifier: MIT
 *
 * libcurl tells its driver what to wait for through two callbacks: the
 * socket callback (watch this socket for IN, OUT, both, or stop:
 * CURL_POLL_REMOVE) and the timer callback (call me in N ms; 0: now; -1:
 * never).  The driver calls curl_multi_socket_action() when a socket is
 * ready or the timer expires, never from inside those callbacks, which
 * libcurl runs from within its own functions (curl_multi_socket_action(),
 * and the application's curl_multi_add_handle(), curl_easy_pause() ...).
 *
 * Here each socket is one osev_fd, found again through the pointer
 * libcurl keeps per socket (curl_multi_assign()), and the timeout is one
 * osev_timer, held for the bridge's whole life: its release is how the
 * bridge learns that the context ended.  The callbacks only change
 * watches and arm the timer; "now" arms it due at once, which the next
 * dispatch pass runs.  The calls into libcurl happen from the watches'
 * and the timer's callbacks, and each is followed by a drain of
 * curl_multi_info_read().
 *
 * Re-entrancy of our own: a done callback may detach the bridge (or
 * attach another to the same multi handle, or clean the multi handle up
 * after the detach), so after each report the bridge checks that it is
 * still attached before it touches libcurl again, and its memory goes
 * only when the outermost of its frames returns (busy).
 */
/* curl_multi_socket_all() is deprecated, but it is the one call that has
 * libcurl state afresh what every transfer waits for: see resync(). */
#define CURL_DISABLE_DEPRECATION 1

#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/select.h>

#include "osevent-curl.h"

/* A socket callback's failure (-1) fails the transfers from libcurl 7.81
 * on, which then has a code for it; before, libcurl ignores it. */
#if LIBCURL_VERSION_NUM >= 0x075100
#define ABORTED_BY_CALLBACK(mc) ((mc) == CURLM_ABORTED_BY_CALLBACK)
#else
#define ABORTED_BY_CALLBACK(mc) false
#endif

/* A socket libcurl asked the bridge to watch: curl_multi_assign()'s
 * pointer, and an entry of the bridge's list (for detach). */
struct sock {
    struct sock *prev, *next;
    osev_curl *b;
    osev_fd *w;
    curl_socket_t fd;
    short events;
};

struct osev_curl {
    osev_ctx *ctx;
    CURLM *multi;
    osev_curl_done_cb *done; /* NULL: report by event */
    void *arg;
    int type;           /* the "curl.done" type, -1 with a done callback */
    osev_event *spare;  /* the event for the next report (event mode) */
    osev_timer *timer;  /* libcurl's timeout; its release: the context ended */
    struct sock *socks; /* every socket watched */
    unsigned busy;      /* frames of the bridge's callbacks on the stack */
    bool resync;        /* the next timer run is the attach's full pass */
    bool failed;        /* a socket could not be watched: libcurl was told */
    bool ended;         /* detached or context ended: freed once not busy */
};

static short poll_events(int what)
{
    return (short)((what & CURL_POLL_IN ? POLLIN : 0) |
                   (what & CURL_POLL_OUT ? POLLOUT : 0));
}

/*
 * What a watch's revents tell libcurl.  An error or hang-up on a socket
 * read from is passed as readable too, as libcurl's own poll does: its
 * read then meets the error (or the end) and reports it precisely,
 * where CURL_CSELECT_ERR alone only says "poll error".
 */
static int cselect_bits(short revents, short watched)
{
    int bits = 0;

    if (revents & POLLIN)
        bits |= CURL_CSELECT_IN;
    if (revents & POLLOUT)
        bits |= CURL_CSELECT_OUT;
    if (revents & (POLLERR | POLLHUP | POLLNVAL)) {
        bits |= CURL_CSELECT_ERR;
        if (watched & POLLIN)
            bits |= CURL_CSELECT_IN;
    }
    return bits;
}

/*
 * Arm the timer for libcurl's @deadline, unless the bridge has work of
 * its own for the next pass (the attach's full pass, a failure to pass
 * on, a report waiting for memory): then it stays due at once.  Running
 * libcurl's timeout early is harmless; it states its timeout again after.
 * Cannot fail: the timer is the bridge's until it ends.
 */
static void arm(osev_curl *b, osev_time deadline)
{
    if (b->resync || b->failed || (!b->done && !b->spare))
        deadline = 0;
    (void)osev_timer_set(b->timer, deadline);
}

static void on_ready(osev_fd *w, int fd, short revents, void *arg);

/* Watch @fd for @events; the caller assigns the result to libcurl. */
static int sock_add(osev_curl *b, curl_socket_t fd, short events,
                    struct sock **s_out)
{
    struct sock *s = calloc(1, sizeof *s);
    int r;

    if (!s)
        return -ENOMEM;
    s->b = b;
    s->fd = fd;
    s->events = events;
    r = osev_fd_add(b->ctx, fd, events, on_ready, s, &s->w);
    if (r < 0) {
        free(s);
        return r;
    }
    s->next = b->socks;
    if (b->socks)
        b->socks->prev = s;
    b->socks = s;
    *s_out = s;
    return 0;
}

/* Forget @s.  With the context alive its watch is removed (its callback
 * is then never run again, so @s may go at once); a context being freed
 * ends the watches itself and must not be called. */
static void sock_free(osev_curl *b, struct sock *s, bool ctx_alive)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        b->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    if (ctx_alive)
        osev_fd_remove(s->w);
    free(s);
}

/*
 * CURLMOPT_SOCKETFUNCTION.  Runs inside libcurl: change watches, never
 * call libcurl back (curl_multi_assign() excepted: it only stores the
 * pointer).  CURL_POLL_REMOVE comes before libcurl closes the socket, so
 * the watch goes while the fd is still open.  A socket we do not know
 * (one libcurl announced before the attach and curl_multi_fdset() could
 * not report) is ignored on removal.
 */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp,
                     void *socketp)
{
    osev_curl *b = userp;
    struct sock *s = socketp;
    short events = poll_events(what);
    int r;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (s)
            sock_free(b, s, true);
        return 0;
    }
    if (s) {
        r = osev_fd_modify(s->w, events);
        if (r == 0)
            s->events = events;
    } else {
        r = sock_add(b, fd, events, &s);
        if (r == 0)
            /* libcurl made its entry for @fd before calling: cannot fail */
            (void)curl_multi_assign(b->multi, fd, s);
    }
    if (r == 0)
        return 0;
    /* libcurl (7.81 and later) then fails every transfer; the next pass
     * has them run to that end and reports them (after_action()). */
    b->failed = true;
    arm(b, 0);
    return -1;
}

/* CURLMOPT_TIMERFUNCTION.  Runs inside libcurl: only arm the timer.  0 is
 * "as soon as possible", which must not be here: due at once is the next
 * pass. */
static int on_timeout(CURLM *multi, long timeout_ms, void *userp)
{
    osev_curl *b = userp;

    (void)multi;
    if (timeout_ms < 0)
        arm(b, OSEV_TIME_INFINITY);
    else if (timeout_ms == 0)
        arm(b, 0);
    else
        arm(b, osev_now() + osev_ms(timeout_ms));
    return 0;
}

/* Post the report of @easy in the spare event (there is one), and make
 * the next spare; drain() tries again if that fails. */
static void post_done(osev_curl *b, CURL *easy, CURLcode result)
{
    osev_event *ev = b->spare;
    struct osev_curl_done *d = ev->data;
    char *priv = NULL;

    (void)curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    ev->for_user = (uint64_t)(uintptr_t)priv;
    d->multi = b->multi;
    d->easy = easy;
    d->result = result;
    osev_event_post(b->ctx, ev);
    b->spare = osev_event_new(b->ctx, (unsigned)b->type, 0, sizeof *d);
}

/*
 * Report every finished transfer libcurl has queued.  A message is read
 * only when it can be reported (with an event at hand), so none is lost:
 * without memory for one, the rest stay in libcurl's queue and the timer
 * is due at once to try again.  Stops as soon as a done callback ended
 * the bridge: libcurl's queue is then the next owner's.
 */
static void drain(osev_curl *b)
{
    CURLMsg *m;
    CURL *easy;
    CURLcode result;
    int left;

    while (!b->ended) {
        if (!b->done && !b->spare) {
            b->spare = osev_event_new(b->ctx, (unsigned)b->type, 0,
                                      sizeof(struct osev_curl_done));
            if (!b->spare) {
                arm(b, 0);
                return;
            }
        }
        m = curl_multi_info_read(b->multi, &left);
        if (!m)
            return;
        if (m->msg != CURLMSG_DONE)
            continue;
        /* m is libcurl's until the next call: take what is needed. */
        easy = m->easy_handle;
        result = m->data.result;
        if (b->done)
            b->done(b, easy, result, b->arg);
        else
            post_done(b, easy, result);
    }
}

static void bridge_free(osev_curl *b)
{
    osev_event_free(b->ctx, b->spare);
    free(b);
}

/* A frame of ours ends: the last one frees a bridge that ended under it. */
static void leave(osev_curl *b)
{
    if (--b->busy == 0 && b->ended)
        bridge_free(b);
}

/*
 * What follows every call into libcurl.  A socket callback that failed
 * made libcurl fail its transfers (its multi handle is "dead"): one
 * curl_multi_perform() has each of them run to that end, so that they
 * are reported like any other.  A failure of libcurl itself may leave
 * transfers unreported: that is a disaster for the type.
 */
static void after_action(osev_curl *b, CURLMcode mc)
{
    int running;

    if (b->ended)
        return;
    if (b->failed || ABORTED_BY_CALLBACK(mc)) {
        b->failed = false;
        mc = curl_multi_perform(b->multi, &running);
        if (b->ended)
            return;
    }
    if (mc != CURLM_OK && !ABORTED_BY_CALLBACK(mc))
        osev_disaster(b->ctx, b->type < 0 ? 0 : (unsigned)b->type,
                      curl_multi_strerror(mc),
                      mc == CURLM_OUT_OF_MEMORY ? ENOMEM : EIO);
    drain(b);
}

static void on_ready(osev_fd *w, int fd, short revents, void *arg)
{
    struct sock *s = arg;
    osev_curl *b = s->b;
    int bits = cselect_bits(revents, s->events);
    int running;
    CURLMcode mc;

    (void)w;
    /* From here @s may go (CURL_POLL_REMOVE): it is not used again. */
    b->busy++;
    mc = curl_multi_socket_action(b->multi, fd, bits, &running);
    after_action(b, mc);
    leave(b);
}

/*
 * The first pass after an attach: every transfer runs once and libcurl
 * compares what it waits for with what it last told a socket callback
 * (curl_multi_socket_all()), so a socket it opened while nobody listened
 * (the application's curl_multi_perform() between a detach and this
 * attach) is announced now, and one whose interest changed meanwhile is
 * told again.  libcurl states a timeout only when it changes, so it is
 * asked for it afterwards.
 */
static CURLMcode resync(osev_curl *b)
{
    CURLMcode mc;
    long ms = -1;
    int running;

    b->resync = false;
    mc = curl_multi_socket_all(b->multi, &running);
    if (b->ended || mc != CURLM_OK)
        return mc;
    mc = curl_multi_timeout(b->multi, &ms);
    if (mc == CURLM_OK)
        on_timeout(b->multi, ms, b);
    return mc;
}

static void on_timer(osev_timer *t, osev_time now, void *arg)
{
    osev_curl *b = arg;
    int running;
    CURLMcode mc;

    (void)t;
    (void)now;
    b->busy++;
    if (b->resync)
        mc = resync(b);
    else
        mc = curl_multi_socket_action(b->multi, CURL_SOCKET_TIMEOUT, 0,
                                      &running);
    after_action(b, mc);
    leave(b);
}

/*
 * Leave @multi with nothing of ours: no callback, no per-socket pointer.
 * curl_multi_setopt() refuses only from inside a libcurl callback, which
 * the header rules out for detach and context end.
 */
static void unhook(osev_curl *b, bool ctx_alive)
{
    (void)curl_multi_setopt(b->multi, CURLMOPT_SOCKETFUNCTION,
                            (curl_socket_callback)NULL);
    (void)curl_multi_setopt(b->multi, CURLMOPT_SOCKETDATA, (void *)NULL);
    (void)curl_multi_setopt(b->multi, CURLMOPT_TIMERFUNCTION,
                            (curl_multi_timer_callback)NULL);
    (void)curl_multi_setopt(b->multi, CURLMOPT_TIMERDATA, (void *)NULL);
    while (b->socks) {
        (void)curl_multi_assign(b->multi, b->socks->fd, NULL);
        sock_free(b, b->socks, ctx_alive);
    }
}

/* The release of the timer: the context is being freed.  Its watches and
 * timer end with it; osevent must not be called. */
static void on_ctx_end(void *arg)
{
    osev_curl *b = arg;

    unhook(b, false);
    b->ended = true;
    if (b->busy == 0)
        bridge_free(b);
}

OSEV_EXPORT int osev_curl_attach(osev_ctx *ctx, CURLM *multi,
                                 osev_curl_done_cb *done, void *arg,
                                 osev_curl **bridge_out)
{
    fd_set rd, wr, ex;
    int maxfd = -1, r;
    osev_curl *b;
    struct sock *s;
    CURLMcode mc;

    if (!ctx || !multi || !bridge_out)
        return -EINVAL;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_ZERO(&ex);
    /* What the transfers already wait for: libcurl will not say it again. */
    mc = curl_multi_fdset(multi, &rd, &wr, &ex, &maxfd);
    if (mc != CURLM_OK)
        return mc == CURLM_RECURSIVE_API_CALL ? -EBUSY
               : mc == CURLM_OUT_OF_MEMORY    ? -ENOMEM
                                              : -EINVAL;
    b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    b->ctx = ctx;
    b->multi = multi;
    b->done = done;
    b->arg = arg;
    b->type = -1;
    if (!done) {
        r = osev_event_type_get(ctx, OSEV_CURL_EVENT_DONE);
        if (r < 0)
            goto fail;
        b->type = r;
        b->spare = osev_event_new(ctx, (unsigned)b->type, 0,
                                  sizeof(struct osev_curl_done));
        if (!b->spare) {
            r = -ENOMEM;
            goto fail;
        }
    }
    /* Due at once: the full pass of resync(). */
    b->resync = true;
    r = osev_timer_add(ctx, 0, on_timer, b, &b->timer);
    if (r < 0)
        goto fail;
    for (curl_socket_t fd = 0; fd <= maxfd; fd++) {
        short events = (short)((FD_ISSET(fd, &rd) ? POLLIN : 0) |
                               (FD_ISSET(fd, &wr) ? POLLOUT : 0));

        if (!events)
            continue;
        r = sock_add(b, fd, events, &s);
        if (r < 0)
            goto fail;
        /* A socket libcurl never announced has no entry to hold the
         * pointer: resync() has it announced. */
        if (curl_multi_assign(multi, fd, s) != CURLM_OK)
            sock_free(b, s, true);
    }
    osev_timer_set_release(b->timer, on_ctx_end);
    (void)curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    (void)curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, b);
    (void)curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timeout);
    (void)curl_multi_setopt(multi, CURLMOPT_TIMERDATA, b);
    *bridge_out = b;
    return 0;

fail:
    while (b->socks) {
        (void)curl_multi_assign(multi, b->socks->fd, NULL);
        sock_free(b, b->socks, true);
    }
    osev_timer_remove(b->timer);
    bridge_free(b);
    return r;
}

OSEV_EXPORT void osev_curl_detach(osev_curl *b)
{
    if (!b || b->ended)
        return;
    unhook(b, true);
    /* Ended here, not by the context: its release must not run. */
    osev_timer_set_release(b->timer, NULL);
    osev_timer_remove(b->timer);
    b->ended = true;
    if (b->busy == 0)
        bridge_free(b);
}
