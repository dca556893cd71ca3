/*
 * ctx.c - context life, lock, allocator, errors and time.
 */
#include "internal.h"
#include "backend.h"

#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_STRERRORDESC_NP
/* Static text, unlike strerror(3): safe from any thread. */
static const char *libc_text(int err)
{
    return strerrordesc_np(err);
}
#else
/*
 * Without strerrordesc_np() (musl, the BSDs) nothing gives static text:
 * strerror(3) may reuse one buffer for every thread, strerror_r(3) fills
 * the caller's.  So each errno's text is made once, from strerror_r(),
 * and kept for the life of the process; a thread that loses the race to
 * publish it frees its copy and takes the winner's.
 */
#define LIBC_TEXTS 256 /* above every errno of Linux, the BSDs and macOS */

static _Atomic(char *) libc_texts[LIBC_TEXTS];

static const char *libc_text(int err)
{
    char buf[256], *text, *found = NULL;
    const char *s;
    size_t len;

    if (err >= LIBC_TEXTS)
        return NULL;
    text = atomic_load_explicit(&libc_texts[err], memory_order_acquire);
    if (text)
        return text;
#ifdef STRERROR_R_CHAR_P
    /* GNU: static text, or @buf filled. */
    s = strerror_r(err, buf, sizeof buf);
#else
    /* XSI (musl, the BSDs): 0 and @buf filled, or an errno. */
    s = strerror_r(err, buf, sizeof buf) == 0 ? buf : NULL;
#endif
    if (!s)
        return NULL;
    len = strlen(s) + 1;
    text = malloc(len);
    if (!text)
        return NULL;
    memcpy(text, s, len);
    if (!atomic_compare_exchange_strong_explicit(&libc_texts[err], &found,
                                                 text, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        free(text);
        return found;
    }
    return text;
}
#endif

OSEV_EXPORT const char *osev_strerror(int err)
{
    const char *text;

    /* No errno is INT_MIN, and negating it would overflow. */
    if (err == INT_MIN)
        return "unknown error";
    if (err < 0)
        err = -err;
    switch (err) {
    case 0: return "success";
    case EINVAL: return "invalid argument";
    case ENOMEM: return "out of memory";
    case ENOBUFS: return "caller's array too small";
    case EAGAIN: return "nothing ready";
    case ETIMEDOUT: return "deadline passed";
    case EBADF: return "fd not valid or not representable";
    case EBUSY: return "not allowed now (reentrant call or wrong state)";
    case ESTALE: return "handle no longer valid";
    case EIO: return "events were lost (unhooked disaster)";
    default: break;
    }
    text = libc_text(err);
    return text ? text : "unknown error";
}

OSEV_EXPORT osev_time osev_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (osev_time)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- allocation ---- */

static void *default_realloc(void *user, void *ptr, size_t size)
{
    (void)user;
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, size);
}

void *osev__alloc(osev_ctx *ctx, size_t size)
{
    void *p = ctx->realloc_fn(ctx->alloc_user, NULL, size);

    if (p)
        memset(p, 0, size);
    return p;
}

/* Grow or shrink an array of @n elements, refusing overflow. */
void *osev__realloc_array(osev_ctx *ctx, void *ptr, size_t n, size_t size)
{
    if (n == 0 || size > SIZE_MAX / n)
        return NULL;
    return ctx->realloc_fn(ctx->alloc_user, ptr, n * size);
}

void osev__free(osev_ctx *ctx, void *ptr)
{
    if (ptr)
        ctx->realloc_fn(ctx->alloc_user, ptr, 0);
}

/*
 * No version of a public struct will be this large, so a size above it is
 * not a sizeof but garbage, refused before a byte past the caller's struct
 * is read (as Linux's openat2() and clone3() refuse a size above a page).
 */
#define STRUCT_SIZE_MAX 4096

/*
 * Copy a caller's versioned struct: a shorter one (an older caller) is
 * zero-extended; a longer one (a newer caller) is accepted only if the
 * bytes we do not know are zero, so no request is silently ignored.
 */
int osev__copy_struct(void *dst, size_t dst_size, const void *src,
                      size_t src_size, size_t min_size)
{
    const unsigned char *extra = (const unsigned char *)src + dst_size;

    if (src_size < min_size || src_size > STRUCT_SIZE_MAX)
        return -EINVAL;
    if (src_size > dst_size) {
        for (size_t i = 0; i < src_size - dst_size; i++)
            if (extra[i])
                return -EINVAL;
        src_size = dst_size;
    }
    memset(dst, 0, dst_size);
    memcpy(dst, src, src_size);
    return 0;
}

/* ---- lock and state ---- */

/* Whether the caller is a callback of this context's running pass. */
bool osev__in_own_callback(const osev_ctx *ctx)
{
    return ctx->dispatching &&
           ((ctx->flags & OSEV_CTX_SINGLE_THREAD) ||
            pthread_equal(ctx->dispatcher, pthread_self()));
}

osev_time osev__next_deadline(const osev_ctx *ctx)
{
    return osev__work_pending(ctx) ? 0 : osev__timers_earliest(ctx);
}

/*
 * The registry changed in a way a blocked waiter or an embedding loop
 * must see: a new earliest deadline, new pending work.  During a pass on
 * this thread nothing is needed now: the pass ends by syncing the
 * aggregate fd.
 */
void osev__kick(osev_ctx *ctx)
{
    if (ctx->in_wait) {
        osev_wakeup(ctx);
        return;
    }
    if (ctx->dispatching)
        return;
    if (ctx->aggregate)
        osev__aggregate_sync(ctx);
    /* Push mode: the foreign loop sees the wakeup fd and calls back, and
     * is kept running until it did. */
    if (ctx->push.on) {
        osev__hook_ref_sync(ctx);
        if (osev__work_pending(ctx))
            osev_wakeup(ctx);
    }
}

OSEV_EXPORT void osev_wakeup(osev_ctx *ctx)
{
    /* Async-signal-safe: one write(2), no lock.  EAGAIN (counter or pipe
     * full) means a wakeup is already pending, which is all we want. */
    if (ctx && ctx->wake.wfd >= 0)
        osev__notify_set(ctx->wake.wfd);
}

/* The wakeup fd's callback: a turn of the built-in loop that was woken
 * returns (see osev__loop_once_locked()). */
static void wakeup_drain(osev_fd *w, int fd, short revents, void *arg)
{
    (void)revents, (void)arg;
    w->s.ctx->woken = true; /* unlocked, but only the dispatcher runs it */
    osev__notify_clear(fd);
}

/* ---- life ---- */

static const struct osev__backend *choose_backend(unsigned flags)
{
#ifdef OSEV_LINUX_APIS
    const char *env = getenv("OSEV_BACKEND");

    if (flags & OSEV_CTX_BACKEND_POLL)
        return &osev__backend_poll;
    if (env && strcmp(env, "poll") == 0)
        return &osev__backend_poll;
    return &osev__backend_epoll;
#else
    (void)flags;
    return &osev__backend_poll;
#endif
}

/* Waiters' deadlines are on osev_now()'s clock, not the wall clock. */
static int cond_init_monotonic(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    int r;

    r = pthread_condattr_init(&attr);
    if (r == 0)
        r = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (r == 0)
        r = pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
    return -r;
}

static void ctx_init_lists(osev_ctx *ctx)
{
    osev__list_init(&ctx->ready);
    osev__list_init(&ctx->due);
    osev__list_init(&ctx->deferred);
    osev__list_init(&ctx->ended);
    osev__list_init(&ctx->timers);
    osev__list_init(&ctx->evq_all);
    osev__list_init(&ctx->ev_occur);
    osev__list_init(&ctx->waiters);
    osev__list_init(&ctx->sched);
    for (unsigned i = 0; i <= OSEV_EVENT_TYPE_MAX; i++)
        osev__list_init(&ctx->evq_type[i]);
}

OSEV_EXPORT int osev_ctx_new(const struct osev_ctx_opts *opts,
                             osev_ctx **ctx_out)
{
    struct osev_ctx_opts o = { .size = sizeof o };
    osev_ctx *ctx;
    int r;

    if (!ctx_out)
        return -EINVAL;
    if (opts) {
        r = osev__copy_struct(&o, sizeof o, opts, opts->size,
                              offsetof(struct osev_ctx_opts, realloc_fn));
        if (r < 0)
            return r;
    }
    if (o.flags & ~OSEV__CTX_FLAGS)
        return -EINVAL;
    if (!o.realloc_fn)
        o.realloc_fn = default_realloc;

    ctx = o.realloc_fn(o.alloc_user, NULL, sizeof *ctx);
    if (!ctx)
        return -ENOMEM;
    memset(ctx, 0, sizeof *ctx);
    ctx->flags = o.flags;
    ctx->realloc_fn = o.realloc_fn;
    ctx->alloc_user = o.alloc_user;
    ctx->backend = choose_backend(o.flags);
    ctx->ep.epfd = ctx->ep.tfd = -1;
    ctx->ep.tfd_armed = OSEV_TIME_INFINITY;
    ctx->push.free_tok = UINT32_MAX;
    ctx_init_lists(ctx);

    r = pthread_mutex_init(&ctx->mutex, NULL);
    if (r) {
        r = -r;
        goto fail_free;
    }
    r = cond_init_monotonic(&ctx->waiters_cond);
    if (r < 0)
        goto fail_mutex;
    r = osev__notify_open(&ctx->wake);
    if (r < 0)
        goto fail_cond;
    r = osev__fd_add_internal(ctx, ctx->wake.rfd, wakeup_drain, NULL,
                              &ctx->wake_watch);
    if (r < 0)
        goto fail_close;
    *ctx_out = ctx;
    return 0;

fail_close:
    osev__notify_close(&ctx->wake);
    osev__free(ctx, ctx->fdtab);
    osev__free(ctx, ctx->pfd);
    osev__free(ctx, ctx->pull_round.fds);
    osev__free(ctx, ctx->select_round.fds);
fail_cond:
    pthread_cond_destroy(&ctx->waiters_cond);
fail_mutex:
    pthread_mutex_destroy(&ctx->mutex);
fail_free:
    o.realloc_fn(o.alloc_user, ctx, 0);
    return r;
}

OSEV_EXPORT void osev_ctx_free(osev_ctx *ctx)
{
    if (!ctx)
        return;
    osev__lock(ctx);
    if (ctx->dispatching) {
        /* From a callback: the pass that runs it frees the context. */
        ctx->free_requested = true;
        osev__unlock(ctx);
        return;
    }
    osev__ctx_destroy(ctx);
}

/*
 * Called locked, outside any pass or at the end of the pass whose callback
 * freed the context; returns with the context gone.  The releases that run
 * from here run as callbacks (a nested osev_ctx_free() only asks again,
 * a wait is refused), and nothing can be added any more: every object in
 * flight is dropped or released exactly once.
 */
void osev__ctx_destroy(osev_ctx *ctx)
{
    void *(*realloc_fn)(void *, void *, size_t) = ctx->realloc_fn;
    void *alloc_user = ctx->alloc_user;
    struct osev__hooks_release hooks_rel;
    struct osev__list *n;

    ctx->dispatching = true;
    ctx->dispatcher = pthread_self();
    ctx->dying = true;
    /* The application's loop first: it must hold nothing of ours. */
    hooks_rel = osev__hooks_unset(ctx);
    /* Close the epoll set first: removing fds from it one by one would
     * also remove them from a parent's set after fork(). */
    osev__ep_close(ctx);
    osev__sigchild_end_all(ctx);
    osev__fds_end_all(ctx);
    osev__timers_end_all(ctx);
    while ((n = osev__list_pop(&ctx->deferred)) != NULL)
        osev__free(ctx, osev__container_of(n, struct osev__deferred, link));
    osev__sched_drop_all(ctx); /* each release runs, lock released */
    osev__events_free_all(ctx);
    osev__release_all(ctx);
    osev__evtypes_free(ctx);

    osev__notify_close(&ctx->wake);
    osev__free(ctx, ctx->fdtab);
    osev__free(ctx, ctx->pfd);
    osev__free(ctx, ctx->pull_round.fds);
    osev__free(ctx, ctx->select_round.fds);
    osev__free(ctx, ctx->pbuf);
    osev__free(ctx, ctx->heap);
    osev__free(ctx, ctx->push.toks);
    osev__unlock(ctx);
    if (hooks_rel.fn)
        hooks_rel.fn(hooks_rel.user);
    pthread_cond_destroy(&ctx->waiters_cond);
    pthread_mutex_destroy(&ctx->mutex);
    realloc_fn(alloc_user, ctx, 0);
}
