/*
 * backend.h - how the built-in loop waits (internal).
 *
 * A backend has one job: block until an fd of the registry is ready, the
 * timeout passes or the wakeup fd is written, and mark what is ready with
 * osev__mark_fd(), or (epoll) leave it for the pass that follows to take
 * (osev__ep_take_found()).  It is called with the context locked and
 * unlocks it while it waits, even for a timeout of 0: threads calling in
 * meanwhile must not queue on the lock for the length of a syscall.
 *
 * The epoll set itself is not tied to the epoll backend: it also makes the
 * aggregate fd of osev_get_fd(), so backend-epoll.c keeps it in step with
 * the fd table whenever it exists, whichever backend waits.
 */
#ifndef OSEV_BACKEND_H
#define OSEV_BACKEND_H

#include "internal.h"

struct osev__backend {
    const char *name;
    /* Returns 0, or a negative errno (EINTR is not an error). */
    int (*wait)(osev_ctx *ctx, int timeout_ms);
};

/* On Linux the epoll bits we use are poll(2)'s: converting is masking. */
static inline short osev__from_epoll(uint32_t ev)
{
    return (short)(ev & (POLLIN | POLLOUT | POLLPRI | POLLERR | POLLHUP));
}

extern const struct osev__backend osev__backend_poll;

#ifdef OSEV_LINUX_APIS
extern const struct osev__backend osev__backend_epoll;

/* backend-epoll.c: the epoll set, made on first need. */
int osev__ep_open(osev_ctx *ctx);
int osev__ep_update(osev_ctx *ctx, struct osev__fdent *ent, short mask,
                    bool check_fd);
int osev__ep_open_timerfd(osev_ctx *ctx);
void osev__ep_arm_timerfd(osev_ctx *ctx, osev_time deadline);
void osev__ep_close(osev_ctx *ctx);
#else
/* Without the Linux APIs (--disable-linux-apis) there is no set: the
 * poll backend waits, ctx->ep.epfd stays -1 and osev_get_fd() says
 * -ENOSYS.  A kqueue port would put its own set here (docs/design.md). */
static inline int osev__ep_open(osev_ctx *ctx)
{
    (void)ctx;
    return -ENOSYS;
}

static inline int osev__ep_update(osev_ctx *ctx, struct osev__fdent *ent,
                                  short mask, bool check_fd)
{
    (void)ctx, (void)ent, (void)mask, (void)check_fd;
    return 0;
}

static inline void osev__ep_arm_timerfd(osev_ctx *ctx, osev_time deadline)
{
    (void)ctx, (void)deadline;
}

static inline void osev__ep_close(osev_ctx *ctx)
{
    (void)ctx;
}
#endif

#endif
