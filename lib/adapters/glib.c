/*
 * glib.c - a GLib GMainContext drives an osevent context.
 *
 * GLib holds one poll record of ours, whatever the context watches: the
 * aggregate fd (osev_get_fd()), an epoll set holding every watched fd,
 * the context's wakeup fd and a timerfd armed for the earliest timer
 * deadline.  One GSource polls it for reading, and its dispatch runs
 * osev_dispatch(), which asks epoll what is ready without blocking and
 * runs the callbacks.  A GLib turn then costs the same with ten fds or
 * ten thousand: GLib copies one record into its poll array, and osevent
 * learns the ready fds from epoll instead of GLib scanning every record
 * and osevent looking each one up.  (The adapter used to hand GLib one
 * g_source_add_unix_fd() record per fd and query each on every dispatch:
 * O(N) per event, O(N^2) per dispatch once GLib's list searches count.)
 *
 * Readiness comes only through that fd, but the adapter still installs
 * hooks (osev_set_hooks()), which do nothing but accept: what the core
 * enforces for hooks then holds here too, with no code of ours.  One set
 * of hooks per context, so GLib and another adapter refuse each other
 * (-EBUSY); their release runs at osev_ctx_free() as at detach, which is
 * when the GSource goes; in a forked child the core calls no deregister
 * hook and our release sees the other pid (see "Fork" in adapter.c).  In
 * push mode the core also writes the wakeup fd whenever it leaves work
 * pending for a later pass (a deferred call, a release, a scheduled
 * call, a change from another thread), and the aggregate fd sees it.
 * The hooks keep no record: fd_register leaves app_reg NULL, so a
 * registration costs no allocation.
 *
 * The timeout hooks do nothing either, and there is no prepare(): once
 * osev_get_fd() was called the core keeps the timerfd in the set armed
 * for the earliest deadline on every change (osev__aggregate_sync(),
 * from osev__kick() and after each pass, in push mode too), to the
 * nanosecond, while a GLib timeout would be rounded to milliseconds and a
 * prepare() would take the context's lock on every GLib turn, for any
 * source, only to say what the fd already says.
 *
 * The GSource may recurse (g_source_set_can_recurse()).  A source that
 * may not is blocked by GLib around each dispatch: its poll record taken
 * out and put back, and each of those writes GLib's wakeup fd, two
 * syscalls and an extra GLib turn per dispatch for nothing.  What a
 * blocked source would buy is that a nested GLib loop, run from one of
 * the context's callbacks, does not poll the aggregate fd: osevent cannot
 * be served there (osev_dispatch() refuses from a callback), and the fd,
 * still readable, would make the nested loop spin.  We do it ourselves
 * when it happens: a nested dispatch of ours mutes the record (events 0)
 * and the outer one unmutes it when osev_dispatch() returns.
 *
 * osev_dispatch() also refuses (-EBUSY) while another thread dispatches
 * or waits in the built-in loop, or fails for want of memory; the fd
 * stays readable for as long, and GLib would poll it again at once.  So
 * then the record is muted too, for BACKOFF_US, and the dispatch that
 * GLib makes at that ready time unmutes it: a context that another
 * thread is serving costs GLib two turns per BACKOFF_US, not a spin.  A
 * dispatch that ran nothing (0) needs nothing: the pass consumed what
 * made the fd readable (it drained the wakeup fd, re-armed the timerfd),
 * so the next poll blocks.
 *
 * Threads: GLib dispatches us on the thread that runs the GLib context;
 * the hooks run on whichever thread changes the registry and touch
 * nothing.  The context pointer is what another thread may clear (a
 * detach or free, which the contract allows only while GLib is not
 * running the context, or from its thread): atomic, as the flags the
 * dispatch keeps, so that the context may be run from different threads
 * in turn (GLib's own locks are invisible to the sanitizers).
 */
#include "config.h"

#include <stdbool.h>
#include <unistd.h>

#include "osevent-glib.h"

/* How long a dispatch that could not run waits before GLib polls the
 * aggregate fd again: long enough that a context another thread keeps
 * busy costs GLib little, short enough that work left when that thread
 * stops is not kept waiting long. */
#define BACKOFF_US 2000

struct osev_gsource {
    GSource base;
    osev_ctx *ctx;     /* atomic; NULL once the hooks are released */
    gpointer tag;      /* the aggregate fd's g_source_add_unix_fd() */
    pid_t pid;         /* the process that attached */
    bool dispatching;  /* atomic: osev_dispatch() runs from our dispatch */
    bool muted;        /* atomic: the record's events are 0 for now */
    struct osev_gsource *next_abandoned;
};

/* Sources abandoned in forked children, kept reachable (see glib_release). */
static struct osev_gsource *abandoned;

static osev_ctx *src_ctx(struct osev_gsource *src)
{
    return __atomic_load_n(&src->ctx, __ATOMIC_ACQUIRE);
}

static bool flag_get(const bool *flag)
{
    return __atomic_load_n(flag, __ATOMIC_RELAXED);
}

static void flag_set(bool *flag, bool value)
{
    __atomic_store_n(flag, value, __ATOMIC_RELAXED);
}

/*
 * Take the aggregate fd out of GLib's poll (events 0: GLib then reports
 * only POLLERR, POLLHUP, POLLNVAL, which an epoll fd never has) until
 * unmute(); with @backoff_us > 0, have GLib dispatch us then to unmute.
 * Call it from our dispatch, on a live source.
 */
static void mute(struct osev_gsource *src, gint64 backoff_us)
{
    if (!flag_get(&src->muted)) {
        g_source_modify_unix_fd(&src->base, src->tag, 0);
        flag_set(&src->muted, true);
    }
    if (backoff_us > 0)
        g_source_set_ready_time(&src->base,
                                g_source_get_time(&src->base) + backoff_us);
}

/* Poll the aggregate fd again, as before mute(). */
static void unmute(struct osev_gsource *src)
{
    if (!flag_get(&src->muted))
        return;
    flag_set(&src->muted, false);
    g_source_set_ready_time(&src->base, -1);
    g_source_modify_unix_fd(&src->base, src->tag, G_IO_IN);
}

/* Run one osevent pass and deal with a refusal; @src is not dispatching
 * yet.  A callback may detach or free the context meanwhile: GLib holds
 * a reference for the length of our dispatch, so @src stays, but it is
 * then destroyed and @ctx must not be touched again. */
static void run_pass(struct osev_gsource *src, osev_ctx *ctx)
{
    int r;

    flag_set(&src->dispatching, true);
    r = osev_dispatch(ctx);
    flag_set(&src->dispatching, false);
    if (!src_ctx(src))
        return; /* detached or freed by a callback (-ESTALE among them) */
    if (r < 0)
        mute(src, BACKOFF_US); /* -EBUSY, -ENOMEM: retry later */
    else
        unmute(src); /* a nested dispatch muted it meanwhile */
}

/*
 * GLib found the aggregate fd readable (or our back-off ready time came).
 * A source no context is behind (detached while this dispatch ran, or
 * abandoned in a forked child, where the free closed the fd and GLib sees
 * POLLNVAL on every turn) asks GLib to remove it.
 */
static gboolean src_dispatch(GSource *base, GSourceFunc cb, gpointer data)
{
    struct osev_gsource *src = (struct osev_gsource *)base;
    osev_ctx *ctx = src_ctx(src);

    (void)cb, (void)data;
    if (!ctx)
        return G_SOURCE_REMOVE;
    if (flag_get(&src->dispatching))
        mute(src, 0); /* a nested GLib loop: see the top of the file */
    else if (flag_get(&src->muted))
        unmute(src); /* the back-off is over: poll first, then dispatch */
    else
        run_pass(src, ctx);
    return G_SOURCE_CONTINUE;
}

/* No prepare (see the top of the file), no check: GLib makes the source
 * ready from the record's revents and from the ready time. */
static GSourceFuncs src_funcs = {
    .dispatch = src_dispatch,
};

/* ---- hooks: accept and record nothing ---- */

static int hook_fd_register(void *user, int fd, void **app_reg_out,
                            short events, void *for_osev)
{
    (void)user, (void)fd, (void)events, (void)for_osev;
    *app_reg_out = NULL;
    return 0;
}

static int hook_fd_modify(void *user, int fd, void **app_reg_io,
                          short events)
{
    (void)user, (void)fd, (void)app_reg_io, (void)events;
    return 0;
}

static void hook_fd_deregister(void *user, int fd, void *app_reg)
{
    (void)user, (void)fd, (void)app_reg;
}

static int hook_timeout_register(void *user, void **app_reg_out,
                                 osev_time deadline, void *for_osev)
{
    (void)user, (void)deadline, (void)for_osev;
    *app_reg_out = NULL;
    return 0;
}

static int hook_timeout_modify(void *user, void **app_reg_io,
                               osev_time deadline)
{
    (void)user, (void)app_reg_io, (void)deadline;
    return 0;
}

static void hook_timeout_deregister(void *user, void *app_reg)
{
    (void)user, (void)app_reg;
}

/* Keep @src reachable for good, without a lock (a forked child may have
 * inherited one held by a thread it does not have). */
static void abandon(struct osev_gsource *src)
{
    struct osev_gsource *head = __atomic_load_n(&abandoned, __ATOMIC_RELAXED);

    do
        src->next_abandoned = head;
    while (!__atomic_compare_exchange_n(&abandoned, &head, src, true,
                                        __ATOMIC_RELEASE, __ATOMIC_RELAXED));
}

/*
 * The hooks are no longer the context's (detach, osev_ctx_free(), or a
 * failed attach): the GSource goes, and a dispatch of ours still running
 * (a callback detached or freed) sees no context and reports nothing.
 * In a forked child GLib's context is the parent's too (destroying the
 * source would write GLib's wakeup fd, which both share), so the source
 * stays attached there, inert, with our reference, kept reachable (see
 * "Fork" in adapter.c); the child's copy of GLib removes it the first
 * time it dispatches it.
 */
static void hook_release(void *user)
{
    struct osev_gsource *src = user;

    __atomic_store_n(&src->ctx, NULL, __ATOMIC_RELEASE);
    if (src->pid != getpid()) {
        abandon(src);
        return;
    }
    g_source_destroy(&src->base);
    g_source_unref(&src->base);
}

static const struct osev_hooks glib_hooks = {
    .fd_register = hook_fd_register,
    .fd_modify = hook_fd_modify,
    .fd_deregister = hook_fd_deregister,
    .timeout_register = hook_timeout_register,
    .timeout_modify = hook_timeout_modify,
    .timeout_deregister = hook_timeout_deregister,
    .release = hook_release,
};

/* ---- attach and detach ---- */

/* A new GSource for @ctx, not attached yet; the caller holds its one
 * reference. */
static struct osev_gsource *src_new(osev_ctx *ctx)
{
    struct osev_gsource *src =
        (struct osev_gsource *)g_source_new(&src_funcs, sizeof *src);

    src->ctx = ctx;
    src->pid = getpid();
    g_source_set_name(&src->base, "osevent");
    g_source_set_can_recurse(&src->base, TRUE);
    return src;
}

/*
 * The hooks go in first: they are what refuses a context another adapter
 * holds, or a call from inside a hook, before anything is made.  Then the
 * aggregate fd; if it cannot be made, unsetting the hooks releases the
 * source.  Nothing is registered in GLib until both are there.
 */
int osev_glib_attach(osev_ctx *ctx, GMainContext *gctx)
{
    struct osev_gsource *src;
    int fd, r;

    if (!ctx || !gctx)
        return -EINVAL;
    src = src_new(ctx);
    r = osev_set_hooks(ctx, &glib_hooks, sizeof glib_hooks, src);
    if (r < 0)
        goto unref;
    fd = osev_get_fd(ctx);
    if (fd < 0) {
        r = fd;
        goto unhook;
    }
    src->tag = g_source_add_unix_fd(&src->base, fd, G_IO_IN);
    g_source_attach(&src->base, gctx);
    return 0;

unhook:
    osev_set_hooks(ctx, NULL, 0, NULL); /* releases src */
    return r;
unref:
    g_source_unref(&src->base);
    return r;
}

void osev_glib_detach(osev_ctx *ctx)
{
    if (ctx)
        osev_set_hooks(ctx, NULL, 0, NULL);
}
