/*
 * child.c - child processes: one exit status each, reaped only for the
 * children the application named.
 *
 * Each watched child has an fd and an ordinary registry watch on it,
 * counted like the application's, whose callback reaps the child and runs
 * the application's:
 *
 *  - pidfd path (the default where the kernel has pidfd_open, Linux 5.3):
 *    the fd is the child's pidfd, readable once the child has exited, and
 *    waitid(P_PIDFD) reaps exactly that process even if its pid number
 *    was meanwhile reaped by someone else and reused.  SIGCHLD is not
 *    touched.
 *  - SIGCHLD path (OSEV_CHILD_BACKEND=sigchld, no pidfd_open, or a
 *    build without the Linux APIs): the context watches SIGCHLD through
 *    signal.c (an internal, uncounted signal watch); on each SIGCHLD it
 *    calls waitpid(pid, WNOHANG) for each child it watches on this path,
 *    never waitpid(-1), and on an exit stores the status and sets the
 *    child's flag (notify.c: an eventfd, or a pipe without the Linux
 *    APIs), whose read end is then the fd its watch sees.
 *
 * Either way a child that exited before osev_child_add() is reported: a
 * pidfd of a zombie is readable at once, and the SIGCHLD path looks once
 * after its handler is in place.
 */
#include "internal.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef OSEV_LINUX_APIS
#include <sys/syscall.h>
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 /* the same number on every architecture */
#endif
#endif
#define OSEV_P_PIDFD 3     /* idtype_t P_PIDFD, Linux 5.4 */

struct osev_child {
    struct osev__source s;  /* first; s.arg is the child, s.release
                               closes fd and wfd */
    void (*cb)(osev_child *c, pid_t pid, int status, void *arg);
    void *arg;
    pid_t pid;
    int fd;                 /* the pidfd, or the SIGCHLD path's flag */
    int wfd;                /* the flag's write end (fd for an eventfd);
                               -1 for a pidfd */
    osev_fd *w;             /* the watch on fd, until reported or removed */
    bool pidfd;
    bool exited;            /* SIGCHLD path: reaped, status set */
    int status;
    struct osev__list link; /* ctx->child->children while live */
};

struct osev__childctx {
    struct osev__list children;
    unsigned nsigchld;      /* watched on the SIGCHLD path */
    osev_signal *sigchld;   /* the context's SIGCHLD watch, while any */
};

/* waitpid()'s status from waitid()'s siginfo. */
static int wait_status(const siginfo_t *si)
{
    switch (si->si_code) {
    case CLD_EXITED:
        return (si->si_status & 0xff) << 8;
    case CLD_KILLED:
        return si->si_status & 0x7f;
    case CLD_DUMPED:
        return (si->si_status & 0x7f) | 0x80;
    default:
        return -1;
    }
}

/* Reap through the pidfd.  False while the child still runs (spurious
 * readiness); a status of -1 when someone else reaped it first. */
static bool pidfd_reap(const osev_child *c, int *status)
{
    siginfo_t si;
    int r;

    memset(&si, 0, sizeof si);
    r = waitid((idtype_t)OSEV_P_PIDFD, (id_t)c->fd, &si, WEXITED | WNOHANG);
    if (r < 0 && errno == EINVAL) /* Linux 5.3: pidfd_open, no P_PIDFD */
        r = waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG);
    if (r < 0) {
        *status = -1;
        return true;
    }
    if (si.si_pid == 0)
        return false;
    *status = wait_status(&si);
    return true;
}

/* SIGCHLD path, called locked: reap @c if it exited, store its status and
 * make its fd readable.  Returns whether it did. */
static bool sigchld_reap(osev_child *c)
{
    int st;
    pid_t r = waitpid(c->pid, &st, WNOHANG);

    if (r == 0 || (r < 0 && errno == EINTR))
        return false;
    c->exited = true;
    c->status = r == c->pid ? st : -1; /* ECHILD: someone else reaped it */
    osev__notify_set(c->wfd);
    return true;
}

static void sigchld_fired(osev_signal *s, int signo, void *arg)
{
    osev_ctx *ctx = arg;
    struct osev__list *head;

    (void)s, (void)signo;
    osev__lock(ctx);
    head = &ctx->child->children;
    for (struct osev__list *n = head->next; n != head; n = n->next) {
        osev_child *c = osev__container_of(n, osev_child, link);

        /* Marked for this pass, so one dispatch delivers. */
        if (!c->pidfd && c->w && !c->exited && sigchld_reap(c))
            osev__mark_fd(ctx, c->fd, POLLIN, ctx->epoch);
    }
    osev__unlock(ctx);
}

/* Stop watching @c's fd (reported, or removed); called locked. */
static void child_unwatch(osev_ctx *ctx, osev_child *c)
{
    struct osev__childctx *cc = ctx->child;

    if (!c->w)
        return;
    osev__fd_remove_locked(c->w);
    c->w = NULL;
    if (!c->pidfd && --cc->nsigchld == 0) {
        osev__signal_remove_locked(cc->sigchld);
        cc->sigchld = NULL;
    }
}

static void child_fired(osev_fd *w, int fd, short revents, void *arg)
{
    osev_child *c = arg;
    osev_ctx *ctx = w->s.ctx;
    int status;
    bool done;

    (void)revents;
    if (c->pidfd) {
        if (!pidfd_reap(c, &status))
            return;
    } else {
        osev__notify_clear(fd);
        osev__lock(ctx);
        done = c->exited;
        status = c->status;
        osev__unlock(ctx);
        if (!done)
            return;
    }
    osev__lock(ctx);
    if (c->s.dead) { /* removed by another thread meanwhile */
        osev__unlock(ctx);
        return;
    }
    child_unwatch(ctx, c);
    osev__unlock(ctx);
    c->cb(c, c->pid, status, c->arg);
}

static void child_close(osev_child *c)
{
    struct osev__notify fds = { .rfd = c->fd, .wfd = c->wfd };

    osev__notify_close(&fds);
}

static void child_release(void *arg)
{
    child_close(arg);
}

/* The fds to watch and write: a pidfd unless forced or unavailable. */
static int child_open_fd(osev_child *c, pid_t pid)
{
    const char *env = getenv("OSEV_CHILD_BACKEND");
    struct osev__notify flag;
    int r;

#ifdef SYS_pidfd_open
    if (!(env && strcmp(env, "sigchld") == 0)) {
        /* close-on-exec is implied */
        int fd = (int)syscall(SYS_pidfd_open, pid, 0);

        if (fd >= 0) {
            c->fd = fd;
            c->wfd = -1;
            c->pidfd = true;
            return 0;
        }
        if (errno == ESRCH)
            return -ECHILD; /* reaped since it was checked */
        /* No pidfd_open: an old kernel, or a sandbox refusing it. */
        if (errno != ENOSYS && errno != EPERM)
            return -errno;
    }
#else
    (void)env, (void)pid;
#endif
    r = osev__notify_open(&flag);
    if (r < 0)
        return r;
    c->fd = flag.rfd;
    c->wfd = flag.wfd;
    c->pidfd = false;
    return 0;
}

static int childctx_get(osev_ctx *ctx, struct osev__childctx **cc_out)
{
    struct osev__childctx *cc = ctx->child;

    if (!cc) {
        cc = osev__alloc(ctx, sizeof *cc);
        if (!cc)
            return -ENOMEM;
        osev__list_init(&cc->children);
        ctx->child = cc;
    }
    *cc_out = cc;
    return 0;
}

OSEV_EXPORT int osev_child_add(osev_ctx *ctx, pid_t pid,
                               void (*cb)(osev_child *, pid_t pid,
                                          int status, void *arg),
                               void *arg, osev_child **c_out)
{
    struct osev__childctx *cc;
    osev_child *c;
    siginfo_t si;
    int r;

    if (!ctx || !cb || !c_out || pid <= 0)
        return -EINVAL;
    c = osev__alloc(ctx, sizeof *c);
    if (!c)
        return -ENOMEM;
    r = child_open_fd(c, pid);
    if (r < 0)
        goto fail_free;
    /* Our child, not reaped yet?  WNOWAIT: this reaps nothing.  Through
     * the pidfd, so a pid reused since cannot pass for it. */
    memset(&si, 0, sizeof si);
    r = c->pidfd ? waitid((idtype_t)OSEV_P_PIDFD, (id_t)c->fd, &si,
                          WEXITED | WNOHANG | WNOWAIT)
                 : -1;
    if (!c->pidfd || (r < 0 && errno == EINVAL))
        r = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT);
    if (r < 0) {
        r = -errno;
        child_close(c);
        goto fail_free;
    }

    osev__lock(ctx);
    r = ctx->dying ? -ESTALE : childctx_get(ctx, &cc);
    if (r < 0)
        goto fail_unlock;
    if (!c->pidfd && cc->nsigchld == 0) {
        r = osev__signal_add_locked(ctx, SIGCHLD, false, sigchld_fired, ctx,
                                    &cc->sigchld);
        if (r < 0)
            goto fail_unlock;
    }
    /* A pipe's write end: a stale watch on its number must not see it
     * either (the read end is claimed by the watch made on it). */
    if (c->wfd >= 0 && c->wfd != c->fd)
        osev__claim_fd(ctx, c->wfd);
    r = osev__fd_add_locked(ctx, c->fd, POLLIN, child_fired, c, &c->w);
    if (r < 0) {
        if (!c->pidfd && cc->nsigchld == 0) {
            osev__signal_remove_locked(cc->sigchld);
            cc->sigchld = NULL;
        }
        goto fail_unlock;
    }
    osev__source_init(&c->s, ctx, c, child_release);
    c->cb = cb;
    c->arg = arg;
    c->pid = pid;
    osev__list_append(&cc->children, &c->link);
    if (!c->pidfd) {
        cc->nsigchld++;
        /* It may have exited before the SIGCHLD handler was in place. */
        sigchld_reap(c);
    }
    osev__kick(ctx);
    osev__unlock(ctx);
    *c_out = c;
    return 0;

fail_unlock:
    osev__unlock(ctx);
    child_close(c);
fail_free:
    osev__free(ctx, c);
    return r;
}

/* Called locked. */
static void child_end_locked(osev_ctx *ctx, osev_child *c)
{
    c->s.dead = true;
    osev__list_unlink(&c->link);
    child_unwatch(ctx, c);
    osev__end_source(ctx, &c->s);
}

OSEV_EXPORT void osev_child_remove(osev_child *c)
{
    osev_ctx *ctx;

    if (!c)
        return;
    ctx = c->s.ctx;
    osev__lock(ctx);
    if (!c->s.dead)
        child_end_locked(ctx, c);
    osev__unlock(ctx);
}

/* At context end (locked, the epoll set already closed): the children
 * first, whose SIGCHLD watch is a signal watch, then the signals. */
void osev__sigchild_end_all(osev_ctx *ctx)
{
    struct osev__childctx *cc = ctx->child;

    if (cc) {
        while (!osev__list_empty(&cc->children))
            child_end_locked(ctx, osev__container_of(cc->children.next,
                                                     osev_child, link));
        ctx->child = NULL;
        osev__free(ctx, cc);
    }
    osev__signals_end_all(ctx);
}

unsigned osev__children_count(const osev_ctx *ctx)
{
    unsigned n = 0;

    if (!ctx->child)
        return 0;
    for (const struct osev__list *l = ctx->child->children.next;
         l != &ctx->child->children; l = l->next)
        n += !osev__container_of(l, const osev_child, link)->s.dead;
    return n;
}

unsigned osev__children_signal_watches(const osev_ctx *ctx)
{
    return ctx->child && ctx->child->sigchld ? 1 : 0;
}
