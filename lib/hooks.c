/*
 * hooks.c - push mode: mirroring the registry into an application's hooks
 * (one registration per distinct fd, one timeout per context), and the
 * way back in, osev_occurred_fd() and osev_occurred_timeout().
 *
 * Hooks run with the context's lock held, from whichever call changed the
 * registry, so a registration always matches the state it mirrors.  A
 * thread-local depth counter tells osev_occurred_*() that it was called
 * from inside a hook, which would otherwise deadlock on that lock.
 *
 * Tokens (for_osev) are slot index + generation, never pointers: a report
 * that races with a deregistration finds the generation moved on and is
 * ignored, however late it comes.
 */
#include "internal.h"

#include <stddef.h>
#include <string.h>
#include <unistd.h>

/* Index in the low half of a pointer-sized token, generation above. */
#define TOK_IDX_BITS (sizeof(uintptr_t) * 4)
#define TOK_IDX_MASK (((uintptr_t)1 << TOK_IDX_BITS) - 1)
#define TOK_NONE UINT32_MAX

/* initial-exec: one %fs-relative access on every osev_occurred_*(), not
 * a __tls_get_addr() call; an int fits the static TLS glibc keeps for
 * libraries loaded later too. */
static _Thread_local int hook_depth __attribute__((tls_model("initial-exec")));

/* Run @stmt, a call of one of the application's hooks, marked as such. */
#define IN_HOOK(stmt)                                                        \
    do {                                                                     \
        hook_depth++;                                                        \
        stmt;                                                                \
        hook_depth--;                                                        \
    } while (0)

/* ---- tokens ---- */

static uint32_t tok_gen_next(uint32_t gen)
{
    /* The generation must fit the token's upper half and never be 0, so
     * a token is never NULL. */
    gen = (uint32_t)((gen + 1) & TOK_IDX_MASK);
    return gen ? gen : 1;
}

static int tok_alloc(osev_ctx *ctx, int fd, uint32_t *idx_out)
{
    struct osev__push *p = &ctx->push;
    uint32_t idx;

    if (p->free_tok != TOK_NONE) {
        idx = p->free_tok;
        p->free_tok = p->toks[idx].next_free;
    } else {
        if (p->ntoks == p->toks_cap) {
            uint32_t cap = p->toks_cap ? p->toks_cap * 2 : 16;
            struct osev__tok *t;

            if (p->toks_cap >= (uint32_t)(TOK_IDX_MASK >> 1))
                return -ENOMEM; /* no index left to encode */
            t = osev__realloc_array(ctx, p->toks, cap, sizeof *t);
            if (!t)
                return -ENOMEM;
            p->toks = t;
            p->toks_cap = cap;
        }
        idx = p->ntoks++;
        p->toks[idx].gen = 1;
    }
    p->toks[idx].used = true;
    p->toks[idx].fd = fd;
    *idx_out = idx;
    return 0;
}

static void tok_release(osev_ctx *ctx, uint32_t idx)
{
    struct osev__tok *t = &ctx->push.toks[idx];

    t->used = false;
    t->gen = tok_gen_next(t->gen);
    t->next_free = ctx->push.free_tok;
    ctx->push.free_tok = idx;
}

static void *tok_encode(const osev_ctx *ctx, uint32_t idx)
{
    return (void *)(((uintptr_t)ctx->push.toks[idx].gen << TOK_IDX_BITS) |
                    idx);
}

/* The live slot a token names, or NULL when it is stale or foreign. */
static struct osev__tok *tok_lookup(osev_ctx *ctx, void *token)
{
    uintptr_t v = (uintptr_t)token;
    uintptr_t idx = v & TOK_IDX_MASK;
    struct osev__tok *t;

    if (idx >= ctx->push.ntoks)
        return NULL;
    t = &ctx->push.toks[idx];
    if (!t->used || t->gen != (v >> TOK_IDX_BITS))
        return NULL;
    return t;
}

/* ---- fds ---- */

static int fd_register(osev_ctx *ctx, struct osev__fdent *ent, short mask)
{
    struct osev__push *p = &ctx->push;
    void *reg = NULL;
    uint32_t idx;
    int r;

    r = tok_alloc(ctx, ent->fd, &idx);
    if (r < 0)
        return r;
    IN_HOOK(r = p->hooks.fd_register(p->user, ent->fd, &reg, mask,
                                   tok_encode(ctx, idx)));
    if (r < 0) {
        tok_release(ctx, idx);
        return r;
    }
    ent->app_reg = reg;
    ent->hook_tok = idx;
    ent->hook_mask = mask;
    p->stats.fd_regs++;
    p->stats.fd_registers++;
    return 0;
}

/* Let go of @ent's registration on our side only. */
static void fd_forget(osev_ctx *ctx, struct osev__fdent *ent)
{
    tok_release(ctx, ent->hook_tok);
    ent->hook_mask = 0;
    ent->app_reg = NULL;
    ctx->push.stats.fd_regs--;
    if (ent->hook_unref) {
        ent->hook_unref = false;
        ctx->push.stats.fd_regs_unref--;
    }
}

static void fd_deregister(osev_ctx *ctx, struct osev__fdent *ent)
{
    struct osev__push *p = &ctx->push;

    IN_HOOK(p->hooks.fd_deregister(p->user, ent->fd, ent->app_reg));
    fd_forget(ctx, ent);
    p->stats.fd_deregisters++;
}

/*
 * Bring the hook registration of @ent to @mask, before the fd table
 * commits it.  A failure changes nothing.  A shrink never fails: if the
 * application cannot narrow its registration, the wider one stays (the
 * extra bits are filtered in osev_occurred_fd()).
 */
int osev__hook_fd_update(osev_ctx *ctx, struct osev__fdent *ent, short mask)
{
    struct osev__push *p = &ctx->push;
    void *reg;
    int r;

    if (!p->on || mask == ent->hook_mask)
        return 0;
    if (ent->hook_mask == 0)
        return fd_register(ctx, ent, mask);
    if (mask == 0) {
        fd_deregister(ctx, ent);
        return 0;
    }
    reg = ent->app_reg;
    IN_HOOK(r = p->hooks.fd_modify(p->user, ent->fd, &reg, mask));
    if (r < 0)
        return (mask & ~ent->hook_mask) ? r : 0;
    ent->app_reg = reg;
    ent->hook_mask = mask;
    p->stats.fd_modifies++;
    return 0;
}

/* ---- the timeout ---- */

static void timeout_forget(osev_ctx *ctx)
{
    struct osev__push *p = &ctx->push;

    tok_release(ctx, p->tmo_tok);
    p->tmo_on = false;
    p->tmo_reg = NULL;
    p->stats.timeout_regs--;
}

static void timeout_deregister(osev_ctx *ctx)
{
    struct osev__push *p = &ctx->push;

    IN_HOOK(p->hooks.timeout_deregister(p->user, p->tmo_reg));
    timeout_forget(ctx);
    p->stats.timeout_deregisters++;
}

static int timeout_register(osev_ctx *ctx, osev_time deadline)
{
    struct osev__push *p = &ctx->push;
    void *reg = NULL;
    uint32_t idx;
    int r;

    r = tok_alloc(ctx, -1, &idx);
    if (r < 0)
        return r;
    IN_HOOK(r = p->hooks.timeout_register(p->user, &reg, deadline,
                                        tok_encode(ctx, idx)));
    if (r < 0) {
        tok_release(ctx, idx);
        return r;
    }
    p->tmo_on = true;
    p->tmo_fired = false;
    p->tmo_tok = idx;
    p->tmo_reg = reg;
    p->tmo_deadline = deadline;
    p->stats.timeout_regs++;
    p->stats.timeout_registers++;
    return 0;
}

/*
 * Make the one timeout registration hold the earliest timer deadline
 * (none when no timer is armed).  Fails only when the application would
 * fire later than a timer needs; moving it later may fail harmlessly (an
 * early expiry runs a pass that finds nothing due and re-arms).
 */
int osev__hook_timeout_sync(osev_ctx *ctx)
{
    struct osev__push *p = &ctx->push;
    osev_time want = osev__timers_earliest(ctx);
    void *reg;
    int r;

    if (!p->on)
        return 0;
    if (want == OSEV_TIME_INFINITY) {
        if (p->tmo_on)
            timeout_deregister(ctx);
        return 0;
    }
    if (!p->tmo_on)
        return timeout_register(ctx, want);
    if (want == p->tmo_deadline && !p->tmo_fired)
        return 0;
    reg = p->tmo_reg;
    IN_HOOK(r = p->hooks.timeout_modify(p->user, &reg, want));
    if (r < 0)
        return (want < p->tmo_deadline || p->tmo_fired) ? r : 0;
    p->tmo_reg = reg;
    p->tmo_deadline = want;
    p->tmo_fired = false;
    p->stats.timeout_modifies++;
    return 0;
}

/*
 * Before a timer is armed at @deadline: make sure the registration fires
 * no later than that, so that the only hook call that can fail comes
 * before anything changed.  Once the timer is armed, osev__hook_timeout_
 * sync() can only move the registration later, which does not fail.
 */
int osev__hook_timeout_lower(osev_ctx *ctx, osev_time deadline)
{
    struct osev__push *p = &ctx->push;
    osev_time want = osev__timers_earliest(ctx);
    void *reg;
    int r;

    if (!p->on || deadline == OSEV_TIME_INFINITY)
        return 0;
    if (deadline < want)
        want = deadline;
    if (!p->tmo_on)
        return timeout_register(ctx, want);
    if (want >= p->tmo_deadline && !p->tmo_fired)
        return 0;
    reg = p->tmo_reg;
    IN_HOOK(r = p->hooks.timeout_modify(p->user, &reg, want));
    if (r < 0)
        return r;
    p->tmo_reg = reg;
    p->tmo_deadline = want;
    p->tmo_fired = false;
    p->stats.timeout_modifies++;
    return 0;
}

/* ---- what keeps the loop running ---- */

/*
 * Whether the context holds anything of the application's that can still
 * call it back: a watch with events (its own, or one behind a signal or
 * child watch), an armed timer, work or a release waiting for a pass.
 * The context's own fds (its wakeup fd) are not counted.
 */
static bool holds_app(const osev_ctx *ctx)
{
    return ctx->held_watches > 0 || ctx->nheap > 0 ||
           !osev__list_empty(&ctx->deferred) ||
           !osev__list_empty(&ctx->sched) ||
           !osev__list_empty(&ctx->ev_occur) ||
           !osev__list_empty(&ctx->ended);
}

/*
 * Make the fd registrations referenced exactly while the context holds
 * something of the application's (holds_app()), through the
 * optional fd_ref hook.  Every registration but the context's own fds
 * exists only while it does, so the state is the context's, and all
 * registrations share it: the common case, nothing to change, is two
 * counters compared.  Only on the thread that dispatches through the
 * hooks (see fd_ref in osevent.h): the loops whose adapters unreference
 * (libuv, libev, libevent, tevent) are not thread-safe, and work queued
 * from another thread must reach them through the wakeup fd alone.  A
 * running pass syncs when it ends (osev__hooks_after_pass()).  A hook
 * that fails leaves its registration as it was: the next sync retries.
 */
void osev__hook_ref_resync(osev_ctx *ctx)
{
    struct osev__push *p = &ctx->push;
    bool ref;

    if (!p->on || !p->hooks.fd_ref || ctx->dispatching)
        return;
    ref = holds_app(ctx);
    if (p->stats.fd_regs_unref == (ref ? 0 : p->stats.fd_regs))
        return;
    if (!pthread_equal(p->thread, pthread_self()))
        return;
    for (int i = 0; i < ctx->npfd; i++) {
        struct osev__fdent *ent = ctx->fdtab[ctx->pfd[i].fd];
        void *reg = ent->app_reg;
        int r;

        if (ent->hook_mask == 0 || ent->hook_unref != ref)
            continue;
        IN_HOOK(r = p->hooks.fd_ref(p->user, ent->fd, &reg, ref));
        if (r < 0)
            continue;
        ent->app_reg = reg;
        ent->hook_unref = !ref;
        if (ref)
            p->stats.fd_regs_unref--;
        else
            p->stats.fd_regs_unref++;
    }
}

/*
 * After every pass: the timers changed (due ones were taken, callbacks
 * re-armed some), and work left pending (a deferred call, an event to
 * deliver, readiness reported meanwhile) needs another pass, which in
 * push mode only the foreign loop can start: it sees the wakeup fd.
 */
void osev__hooks_after_pass(osev_ctx *ctx)
{
    const struct osev__push *p = &ctx->push;

    if (!p->on)
        return;
    osev__hook_ref_sync(ctx);
    /* The common case: the registration holds the earliest deadline
     * already, and nothing is left to do. */
    if (!p->tmo_fired && !osev__work_pending(ctx) &&
        (p->tmo_on ? p->tmo_deadline == osev__timers_earliest(ctx)
                   : osev__timers_earliest(ctx) == OSEV_TIME_INFINITY))
        return;
    /* A failure leaves tmo_fired or the old deadline set, so the next
     * sync tries again; the wakeup makes that happen soon. */
    if (osev__hook_timeout_sync(ctx) < 0 || osev__work_pending(ctx))
        osev_wakeup(ctx);
}

/* ---- setting and unsetting ---- */

/* Deregister every fd, newest slot first (any order would do); or, with
 * @forget, let them go on our side only. */
static void fds_deregister_all(osev_ctx *ctx, bool forget)
{
    for (int i = ctx->npfd - 1; i >= 0; i--) {
        struct osev__fdent *ent = ctx->fdtab[ctx->pfd[i].fd];

        if (ent->hook_mask == 0)
            continue;
        if (forget)
            fd_forget(ctx, ent);
        else
            fd_deregister(ctx, ent);
    }
}

static int register_all(osev_ctx *ctx)
{
    int r = 0;

    for (int i = 0; i < ctx->npfd && r == 0; i++) {
        struct osev__fdent *ent = ctx->fdtab[ctx->pfd[i].fd];

        r = fd_register(ctx, ent, ent->mask);
    }
    if (r == 0)
        r = osev__hook_timeout_sync(ctx);
    if (r < 0)
        fds_deregister_all(ctx, false);
    return r;
}

/*
 * Deregister everything and leave push mode; called locked.  Returns the
 * release to call once unlocked.
 *
 * In a child of fork() (the process is not the one that set the hooks)
 * no deregister hook runs: what the application registered lives in
 * objects the child shares with the parent (an epoll set, a wakeup fd),
 * and taking the child's registrations out would take the parent's out
 * too.  The child forgets them on its side only; release still runs, so
 * the application (an adapter) can let go of its memory.
 */
struct osev__hooks_release osev__hooks_unset(osev_ctx *ctx)
{
    struct osev__push *p = &ctx->push;
    struct osev__hooks_release rel = { 0 };
    bool forked;

    if (!p->on)
        return rel;
    forked = p->pid != getpid();
    fds_deregister_all(ctx, forked);
    if (p->tmo_on && forked)
        timeout_forget(ctx);
    else if (p->tmo_on)
        timeout_deregister(ctx);
    rel.fn = p->hooks.release;
    rel.user = p->user;
    p->on = false;
    p->user = NULL;
    return rel;
}

static int hooks_check(struct osev_hooks *h, const struct osev_hooks *hooks,
                       size_t hooks_size)
{
    int r = osev__copy_struct(h, sizeof *h, hooks, hooks_size,
                              offsetof(struct osev_hooks, release));

    if (r < 0)
        return r;
    if (!h->fd_register || !h->fd_modify || !h->fd_deregister ||
        !h->timeout_register || !h->timeout_modify || !h->timeout_deregister)
        return -EINVAL;
    return 0;
}

OSEV_EXPORT int osev_set_hooks(osev_ctx *ctx, const struct osev_hooks *hooks,
                               size_t hooks_size, void *user)
{
    struct osev__hooks_release rel = { 0 };
    struct osev_hooks h;
    int r = 0;

    if (!ctx)
        return -EINVAL;
    if (hook_depth)
        return -EBUSY;
    if (hooks) {
        r = hooks_check(&h, hooks, hooks_size);
        if (r < 0)
            return r;
    }
    osev__lock(ctx);
    if (!hooks) {
        rel = osev__hooks_unset(ctx);
    } else if (ctx->dying) {
        r = -ESTALE;
    } else if (ctx->push.on) {
        r = -EBUSY;
    } else {
        ctx->push.hooks = h;
        ctx->push.user = user;
        ctx->push.pid = getpid();
        ctx->push.thread = pthread_self();
        ctx->push.on = true;
        r = register_all(ctx);
        if (r < 0) {
            ctx->push.on = false;
        } else {
            if (osev__work_pending(ctx) || !osev__list_empty(&ctx->ended))
                osev_wakeup(ctx); /* the foreign loop takes over at once */
            osev__hook_ref_sync(ctx);
        }
    }
    osev__unlock(ctx);
    if (rel.fn)
        rel.fn(rel.user);
    return r;
}

/* ---- the way back in ---- */

/* Run a pass for what was just marked, here, unless another thread (or
 * the running pass on this one) will: then make sure it does.  Called
 * locked; returns unlocked. */
static void dispatch_now(osev_ctx *ctx)
{
    if (osev__busy(ctx)) {
        /* A thread blocked in the backend is woken; a running pass takes
         * the marks itself, or ends in osev__hooks_after_pass(), which
         * sees them pending. */
        osev__kick(ctx);
        osev__unlock(ctx);
        return;
    }
    if (osev__run_pass(ctx, 0) != -ESTALE)
        osev__unlock(ctx);
}

OSEV_EXPORT void osev_occurred_fd(osev_ctx *ctx, void *for_osev, int fd,
                                  short events, short revents)
{
    struct osev__tok *t;
    struct osev__fdent *ent;

    (void)events; /* the current mask is what counts */
    if (!ctx || hook_depth || fd < 0)
        return;
    osev__lock(ctx);
    t = tok_lookup(ctx, for_osev);
    ent = t && t->fd == fd && fd < ctx->fdtab_len ? ctx->fdtab[fd] : NULL;
    revents &= (short)(OSEV__UNREQUESTED | (ent ? ent->mask : 0));
    if (!ent || ent->hook_mask == 0 || !revents) {
        osev__unlock(ctx);
        return;
    }
    ctx->push.thread = pthread_self(); /* the loop's: see fd_ref */
    /* Every watch that exists now takes part: the token already proved
     * the fd is the one registered.  The common case, one watch on the
     * fd and no pass running, goes to the pass directly. */
    if (!osev__busy(ctx)) {
        osev_fd *w = osev__mark_fd_one(ctx, fd, revents, ++ctx->epoch);

        if (osev__run_one(ctx, w) != -ESTALE)
            osev__unlock(ctx);
        return;
    }
    osev__mark_fd(ctx, fd, revents, ++ctx->epoch);
    dispatch_now(ctx);
}

OSEV_EXPORT void osev_occurred_timeout(osev_ctx *ctx, void *for_osev)
{
    struct osev__tok *t;

    if (!ctx || hook_depth)
        return;
    osev__lock(ctx);
    t = tok_lookup(ctx, for_osev);
    if (!t || t->fd != -1 || !ctx->push.tmo_on) {
        osev__unlock(ctx);
        return;
    }
    ctx->push.tmo_fired = true;
    ctx->push.thread = pthread_self();
    dispatch_now(ctx);
}

OSEV_EXPORT int osev_get_hook_stats(osev_ctx *ctx,
                                    struct osev_hook_stats *stats_io)
{
    struct osev_hook_stats st;
    size_t size;

    if (!ctx || !stats_io || stats_io->size < offsetof(struct osev_hook_stats,
                                                       fd_registers))
        return -EINVAL;
    size = stats_io->size < sizeof st ? stats_io->size : sizeof st;
    osev__lock(ctx);
    st = ctx->push.stats;
    osev__unlock(ctx);
    st.size = size;
    memcpy(stats_io, &st, size);
    return 0;
}
