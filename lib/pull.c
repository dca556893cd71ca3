/*
 * pull.c - the application's own poll()/select() loop:
 * osev_beforepoll/afterpoll and osev_beforeselect/afterselect.
 *
 * A poll round is what one "before" call handed out: the poll epoch it
 * started (watches born at or after it take no results from it), the
 * number of entries and, for the application's rounds, the fds in the
 * order handed out (the context's own array until the registry moves one,
 * then a copy): results are taken for those fds only, and a poll array
 * with results for any other fd at an entry is refused, whatever changed
 * in the registry meanwhile.  The poll backend of the built-in loop uses the
 * same round and marking code on its own buffer.
 */
#include "internal.h"

#include <limits.h>
#include <string.h>

/* Milliseconds until @deadline for poll(2), rounded up so poll never
 * returns before the deadline; -1 for no deadline. */
int osev__timeout_ms(osev_time deadline, osev_time now)
{
    osev_time left, ms;

    if (deadline == OSEV_TIME_INFINITY)
        return -1;
    if (deadline <= now)
        return 0;
    left = deadline - now;
    ms = left / 1000000 + (left % 1000000 != 0);
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

void osev__round_start(osev_ctx *ctx, struct osev__round *r)
{
    r->epoch = ++ctx->epoch;
    r->n = ctx->npfd;
    r->live = true;
    r->copied = false;
}

/* The fd a round handed out at @i. */
static inline int round_fd(const osev_ctx *ctx, const struct osev__round *r,
                           int i)
{
    return r->copied ? r->fds[i] : ctx->pfd[i].fd;
}

static void round_copy(osev_ctx *ctx, struct osev__round *r)
{
    if (!r->live || r->copied || !r->fds)
        return;
    /* Nothing was removed since the round started (this is the first
     * time), so the array still holds at least r->n entries. */
    for (int i = 0; i < r->n; i++)
        r->fds[i] = ctx->pfd[i].fd;
    r->copied = true;
}

/*
 * fdwatch.c is about to move an fd within ctx->pfd (a removal fills its
 * slot from the end): a live application round keeps what it handed
 * out.  Appending and changing events move nothing.  Room for the copy
 * is kept by fdwatch.c's pfd_reserve().
 */
void osev__rounds_copy(osev_ctx *ctx)
{
    round_copy(ctx, &ctx->pull_round);
    round_copy(ctx, &ctx->select_round);
}

/*
 * The first entry of @fds at or after @i with results, or @n.  Most
 * entries of a large array have none: blocks of eight are skipped with
 * one test, so walking the array costs well under the poll(2) that
 * filled it.
 */
static inline int next_ready(const struct pollfd *fds, int n, int i)
{
    while (i + 8 <= n &&
           !(fds[i].revents | fds[i + 1].revents | fds[i + 2].revents |
             fds[i + 3].revents | fds[i + 4].revents | fds[i + 5].revents |
             fds[i + 6].revents | fds[i + 7].revents))
        i += 8;
    while (i < n && !fds[i].revents)
        i++;
    return i;
}

/* Mark what entries @from.. of @fds found. */
static void mark_from(osev_ctx *ctx, int n, const struct pollfd *fds,
                      int from, uint64_t epoch)
{
    for (int i = next_ready(fds, n, from); i < n;
         i = next_ready(fds, n, i + 1))
        if (fds[i].fd >= 0)
            osev__mark_fd(ctx, fds[i].fd, fds[i].revents, epoch);
}

void osev__mark_pollfds(osev_ctx *ctx, int n, const struct pollfd *fds,
                        uint64_t epoch)
{
    mark_from(ctx, n, fds, 0, epoch);
}

#define READY_NOTED 64

/*
 * Whether @fds can be the array the pull round handed out: the same count,
 * and at every entry with results the fd handed out there (an entry with
 * no results carries nothing to misdirect).  The same walk notes the
 * first ready entries, so marking need not walk them again.  Returns the
 * number of ready entries, or -1 to reject the array.
 */
static int round_check(const osev_ctx *ctx, const struct osev__round *r,
                       int nfds, const struct pollfd *fds, int *noted)
{
    int nready = 0;

    if (!r->live || nfds != r->n)
        return -1;
    for (int i = next_ready(fds, nfds, 0); i < nfds;
         i = next_ready(fds, nfds, i + 1)) {
        if (fds[i].fd != round_fd(ctx, r, i))
            return -1;
        if (nready < READY_NOTED)
            noted[nready] = i;
        nready++;
    }
    return nready;
}

OSEV_EXPORT int osev_beforepoll(osev_ctx *ctx, int *nfds_io,
                                struct pollfd *fds, int *timeout_ms_io,
                                osev_time now)
{
    int need, ms, r = 0;

    if (!ctx || !nfds_io || !timeout_ms_io || *nfds_io < 0 ||
        (!fds && *nfds_io > 0) || now < 0)
        return -EINVAL;
    osev__lock(ctx);
    if (osev__busy(ctx)) {
        r = -EBUSY;
        goto out;
    }
    r = osev__release_ended(ctx);
    if (r < 0)
        return r; /* a release freed the context: it is gone */
    need = ctx->npfd;
    if (*nfds_io < need) {
        *nfds_io = need;
        r = -ENOBUFS;
        goto out;
    }
    memcpy(fds, ctx->pfd, (size_t)need * sizeof *fds);
    osev__round_start(ctx, &ctx->pull_round);
    *nfds_io = need;
    ms = osev__timeout_ms(osev__next_deadline(ctx), now ? now : osev_now());
    if (ms >= 0 && (*timeout_ms_io < 0 || ms < *timeout_ms_io))
        *timeout_ms_io = ms;
out:
    osev__unlock(ctx);
    return r;
}

OSEV_EXPORT void osev_afterpoll(osev_ctx *ctx, int nfds,
                                const struct pollfd *fds, osev_time now)
{
    int noted[READY_NOTED], nready;

    if (!ctx || nfds < 0 || (nfds > 0 && !fds) || now < 0)
        return;
    osev__lock(ctx);
    nready = osev__busy(ctx)
                 ? -1
                 : round_check(ctx, &ctx->pull_round, nfds, fds, noted);
    if (nready < 0) {
        osev__unlock(ctx);
        return;
    }
    ctx->pull_round.live = false;
    for (int i = 0; i < nready && i < READY_NOTED; i++)
        osev__mark_fd(ctx, fds[noted[i]].fd, fds[noted[i]].revents,
                      ctx->pull_round.epoch);
    if (nready > READY_NOTED) /* the rest, after the last one noted */
        mark_from(ctx, nfds, fds, noted[READY_NOTED - 1] + 1,
                  ctx->pull_round.epoch);
    if (osev__run_pass(ctx, now) != -ESTALE)
        osev__unlock(ctx);
}

/* ---- select ---- */

static int64_t timeval_us(const struct timeval *tv)
{
    if (tv->tv_sec < 0)
        return 0;
    if (tv->tv_sec > INT64_MAX / 1000000 - 1)
        return INT64_MAX;
    return (int64_t)tv->tv_sec * 1000000 + tv->tv_usec;
}

static void lower_timeval(osev_time deadline, osev_time now,
                          struct timeval *tv, bool *tv_set)
{
    osev_time left, us;

    if (deadline == OSEV_TIME_INFINITY)
        return;
    left = deadline > now ? deadline - now : 0;
    us = left / 1000 + (left % 1000 != 0);
    if (*tv_set && timeval_us(tv) <= us)
        return;
    tv->tv_sec = (time_t)(us / 1000000);
    tv->tv_usec = (suseconds_t)(us % 1000000);
    *tv_set = true;
}

/* Every fd must fit in an fd_set and every set asked for must exist,
 * before anything is written. */
static int select_check(const osev_ctx *ctx, const fd_set *rfds,
                        const fd_set *wfds, const fd_set *efds)
{
    for (int i = 0; i < ctx->npfd; i++) {
        short ev = ctx->pfd[i].events;

        if (ctx->pfd[i].fd >= FD_SETSIZE)
            return -EBADF;
        if (((ev & POLLIN) && !rfds) || ((ev & POLLOUT) && !wfds) ||
            ((ev & POLLPRI) && !efds))
            return -EINVAL;
    }
    return 0;
}

OSEV_EXPORT int osev_beforeselect(osev_ctx *ctx, int *maxfd_io,
                                  fd_set *rfds, fd_set *wfds, fd_set *efds,
                                  struct timeval *tv_io, bool *tv_set_io,
                                  osev_time now)
{
    int r;

    if (!ctx || !maxfd_io || !tv_io || !tv_set_io || now < 0)
        return -EINVAL;
    /* A timeout select(2) would refuse; timeval_us() would overflow. */
    if (*tv_set_io && (tv_io->tv_sec < 0 || tv_io->tv_usec < 0 ||
                       tv_io->tv_usec >= 1000000))
        return -EINVAL;
    osev__lock(ctx);
    if (osev__busy(ctx)) {
        r = -EBUSY;
        goto out;
    }
    r = osev__release_ended(ctx);
    if (r < 0)
        return r; /* a release freed the context: it is gone */
    r = select_check(ctx, rfds, wfds, efds);
    if (r < 0)
        goto out;
    for (int i = 0; i < ctx->npfd; i++) {
        int fd = ctx->pfd[i].fd;
        short ev = ctx->pfd[i].events;

        if (ev & POLLIN)
            FD_SET(fd, rfds);
        if (ev & POLLOUT)
            FD_SET(fd, wfds);
        if (ev & POLLPRI)
            FD_SET(fd, efds);
        if (fd > *maxfd_io)
            *maxfd_io = fd;
    }
    osev__round_start(ctx, &ctx->select_round);
    lower_timeval(osev__next_deadline(ctx), now ? now : osev_now(), tv_io,
                  tv_set_io);
out:
    osev__unlock(ctx);
    return r;
}

OSEV_EXPORT void osev_afterselect(osev_ctx *ctx, int maxfd,
                                  const fd_set *rfds, const fd_set *wfds,
                                  const fd_set *efds, osev_time now)
{
    if (!ctx || now < 0)
        return;
    osev__lock(ctx);
    if (osev__busy(ctx) || !ctx->select_round.live) {
        osev__unlock(ctx);
        return;
    }
    ctx->select_round.live = false;
    /* Only the fds the round handed out take results. */
    for (int i = 0; i < ctx->select_round.n; i++) {
        int fd = round_fd(ctx, &ctx->select_round, i);
        short rev = 0;

        if (fd > maxfd || fd >= FD_SETSIZE)
            continue;
        if (rfds && FD_ISSET(fd, rfds))
            rev |= POLLIN;
        if (wfds && FD_ISSET(fd, wfds))
            rev |= POLLOUT;
        if (efds && FD_ISSET(fd, efds))
            rev |= POLLPRI;
        if (rev)
            osev__mark_fd(ctx, fd, rev, ctx->select_round.epoch);
    }
    if (osev__run_pass(ctx, now) != -ESTALE)
        osev__unlock(ctx);
}
