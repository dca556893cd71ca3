/*
 * backend-epoll.c - the epoll set: the built-in loop's default backend and
 * the aggregate fd of osev_get_fd().
 *
 * The set is made on first need (pull-only users pay no epoll syscall) and
 * is then kept in step with the fd table on mask changes only.  An fd
 * epoll will not hold is still served, as poll(2) would serve it: a
 * regular file (EPERM) is always ready, and any other refusal (not open,
 * our own epoll fd, a loop of epoll sets) reports POLLNVAL once.  While
 * any exists the wait does not block.
 */
#include "backend.h"

#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

/* On Linux the epoll bits we use are poll(2)'s: converting is masking. */
_Static_assert(EPOLLIN == POLLIN && EPOLLOUT == POLLOUT &&
                   EPOLLPRI == POLLPRI && EPOLLERR == POLLERR &&
                   EPOLLHUP == POLLHUP,
               "epoll and poll bits differ");

static uint32_t to_epoll(short mask)
{
    return (uint32_t)mask & (EPOLLIN | EPOLLOUT | EPOLLPRI);
}

static void set_special(osev_ctx *ctx, struct osev__fdent *ent,
                        enum osev__ep_state state)
{
    bool was = ent->ep_state == OSEV__EP_ALWAYS || ent->ep_state == OSEV__EP_BAD;
    bool is = state == OSEV__EP_ALWAYS || state == OSEV__EP_BAD;

    ctx->ep.nspecial += (int)is - (int)was;
    ent->ep_state = (unsigned char)state;
}

/* Called before the fd table commits @mask; a failure changes nothing,
 * and a shrink never fails.  @check_fd: the fd was not checked before
 * (osev_fd_add()), so a kernel that says it is not open (EBADF) fails the
 * call instead of making the fd report POLLNVAL. */
int osev__ep_update(osev_ctx *ctx, struct osev__fdent *ent, short mask,
                    bool check_fd)
{
    struct epoll_event ev = { .events = to_epoll(mask), .data.fd = ent->fd };
    int op, r;

    if (ctx->ep.epfd < 0)
        return 0;
    if (mask == 0) {
        if (ent->ep_state == OSEV__EP_IN)
            epoll_ctl(ctx->ep.epfd, EPOLL_CTL_DEL, ent->fd, &ev);
        set_special(ctx, ent, OSEV__EP_NONE);
        ent->ep_mask = 0;
        return 0;
    }
    if (ent->ep_state == OSEV__EP_ALWAYS || ent->ep_state == OSEV__EP_BAD) {
        ent->ep_mask = mask;
        return 0;
    }
    op = ent->ep_state == OSEV__EP_IN ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    r = epoll_ctl(ctx->ep.epfd, op, ent->fd, &ev);
    /* The fd was closed and its number reused: the kernel dropped it. */
    if (r < 0 && errno == ENOENT && op == EPOLL_CTL_MOD)
        r = epoll_ctl(ctx->ep.epfd, EPOLL_CTL_ADD, ent->fd, &ev);
    if (r < 0 && errno == EEXIST && op == EPOLL_CTL_ADD)
        r = epoll_ctl(ctx->ep.epfd, EPOLL_CTL_MOD, ent->fd, &ev);
    if (r < 0) {
        if (errno == EBADF && check_fd)
            return -EBADF;
        if (errno == ENOMEM || errno == ENOSPC) {
            /* The system's limits, not this fd: the caller hears it.  A
             * shrink may stay wider (spurious events are filtered). */
            return (mask & ~ent->ep_mask) == 0 ? 0 : -errno;
        }
        /* epoll will not hold this fd: a regular file (EPERM) is always
         * ready, as poll(2) says; anything else about the fd itself (not
         * open, an epoll set holding us, our own epoll fd...) is what
         * poll(2) would call POLLNVAL: reported once, then the watch is
         * muted.  Never an error for the whole context. */
        set_special(ctx, ent, errno == EPERM ? OSEV__EP_ALWAYS : OSEV__EP_BAD);
        ent->ep_mask = mask;
        return 0;
    }
    set_special(ctx, ent, OSEV__EP_IN);
    ent->ep_mask = mask;
    return 0;
}

int osev__ep_open(osev_ctx *ctx)
{
    int r;

    if (ctx->ep.epfd >= 0)
        return 0;
    ctx->ep.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (ctx->ep.epfd < 0) {
        ctx->ep.epfd = -1;
        return -errno;
    }
    osev__claim_fd(ctx, ctx->ep.epfd);
    for (int i = 0; i < ctx->npfd; i++) {
        struct osev__fdent *ent = ctx->fdtab[ctx->pfd[i].fd];

        r = osev__ep_update(ctx, ent, ent->mask, false);
        if (r < 0) {
            osev__ep_close(ctx);
            return r;
        }
    }
    return 0;
}

int osev__ep_open_timerfd(osev_ctx *ctx)
{
    struct epoll_event ev = { .events = EPOLLIN };
    int fd;

    if (ctx->ep.tfd >= 0)
        return 0;
    fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    osev__claim_fd(ctx, fd);
    ev.data.fd = fd;
    if (epoll_ctl(ctx->ep.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int r = -errno;

        close(fd);
        return r;
    }
    ctx->ep.tfd = fd;
    ctx->ep.tfd_armed = OSEV_TIME_INFINITY;
    return 0;
}

void osev__ep_arm_timerfd(osev_ctx *ctx, osev_time deadline)
{
    struct itimerspec its = { 0 };

    if (ctx->ep.tfd < 0 || deadline == ctx->ep.tfd_armed)
        return;
    if (deadline != OSEV_TIME_INFINITY) {
        /* An all-zero it_value would disarm: a past deadline is 1 ns. */
        osev_time at = deadline > 0 ? deadline : 1;

        its.it_value.tv_sec = (time_t)(at / 1000000000);
        its.it_value.tv_nsec = (long)(at % 1000000000);
    }
    if (timerfd_settime(ctx->ep.tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
        ctx->ep.tfd_armed = deadline;
}

/* At context end, or when opening failed half-way. */
void osev__ep_close(osev_ctx *ctx)
{
    for (int i = 0; i < ctx->npfd; i++) {
        struct osev__fdent *ent = ctx->fdtab[ctx->pfd[i].fd];

        set_special(ctx, ent, OSEV__EP_NONE);
        ent->ep_mask = 0;
    }
    if (ctx->ep.tfd >= 0)
        close(ctx->ep.tfd);
    if (ctx->ep.epfd >= 0)
        close(ctx->ep.epfd);
    ctx->ep.epfd = ctx->ep.tfd = -1;
    osev__free(ctx, ctx->ep.evbuf);
    ctx->ep.evbuf = NULL;
    ctx->ep.evcap = 0;
    ctx->ep.found_next = ctx->ep.found_n = 0;
}

/* Serve the fds epoll would not hold.  Backwards: a POLLNVAL mutes its
 * fd, and the slot then filled from the end was already visited. */
static void mark_special(osev_ctx *ctx, uint64_t epoch)
{
    for (int i = ctx->npfd - 1; i >= 0; i--) {
        int fd = ctx->pfd[i].fd;
        struct osev__fdent *ent = ctx->fdtab[fd];

        if (ent->ep_state == OSEV__EP_ALWAYS)
            osev__mark_fd(ctx, fd, ent->mask & (POLLIN | POLLOUT), epoch);
        else if (ent->ep_state == OSEV__EP_BAD)
            osev__mark_fd(ctx, fd, POLLNVAL, epoch);
    }
}

/* Room for one wait's results: every fd, between 8 and 1024 (more are
 * taken by the next wait). */
static int ep_want(const osev_ctx *ctx)
{
    return ctx->npfd < 8 ? 8 : ctx->npfd > 1024 ? 1024 : ctx->npfd;
}

static int ep_reserve(osev_ctx *ctx)
{
    int want = ep_want(ctx);
    struct epoll_event *buf;

    if (want <= ctx->ep.evcap)
        return 0;
    buf = osev__realloc_array(ctx, ctx->ep.evbuf, (size_t)want, sizeof *buf);
    if (!buf)
        return -ENOMEM;
    ctx->ep.evbuf = buf;
    ctx->ep.evcap = want;
    return 0;
}

static int epoll_wait_and_mark(osev_ctx *ctx, int timeout_ms)
{
    uint64_t epoch;
    int n, err, r;

    if (ctx->ep.epfd < 0 || ctx->ep.evcap < ep_want(ctx)) {
        r = osev__ep_open(ctx);
        if (r == 0)
            r = ep_reserve(ctx);
        if (r < 0)
            return r;
    }
    /* Opening the set may have found work (osev__claim_fd()). */
    if (ctx->ep.nspecial || !osev__list_empty(&ctx->ready))
        timeout_ms = 0;
    epoch = ++ctx->epoch; /* a round of our own: see osev__round_start() */

    /* Even a wait that does not block lets go of the lock: other threads
     * (osev_schedule() callers) would otherwise queue on it for the
     * length of the syscall. */
    ctx->in_wait = true;
    osev__unlock(ctx);
    n = epoll_wait(ctx->ep.epfd, ctx->ep.evbuf, ctx->ep.evcap, timeout_ms);
    err = errno;
    osev__lock(ctx);
    ctx->in_wait = false;

    if (n < 0)
        return err == EINTR ? 0 : -err; /* the turn waits again */
    /* The pass that follows takes these (osev__ep_take_found()). */
    ctx->ep.found_next = 0;
    ctx->ep.found_n = n;
    ctx->ep.found_epoch = epoch;
    if (ctx->ep.nspecial)
        mark_special(ctx, epoch);
    return 0;
}

const struct osev__backend osev__backend_epoll = {
    .name = "epoll",
    .wait = epoll_wait_and_mark,
};
