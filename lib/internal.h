/*
 * internal.h - the structures behind the opaque handles, shared by lib/
 * only.  Internal functions that cross files are named osev__x.
 *
 * Locking: every field of a context is guarded by ctx->mutex (absent with
 * OSEV_CTX_SINGLE_THREAD).  Public entry points take it; callbacks run
 * with it released, their objects kept alive because nothing is freed
 * while a dispatch pass runs (see "ended" below).
 */
#ifndef OSEV_INTERNAL_H
#define OSEV_INTERNAL_H

#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "osevent.h"
#include "list.h"

#define OSEV__REQUESTABLE (POLLIN | POLLOUT | POLLPRI)
#define OSEV__UNREQUESTED (POLLERR | POLLHUP | POLLNVAL)
#define OSEV__CTX_FLAGS (OSEV_CTX_SINGLE_THREAD | OSEV_CTX_BACKEND_POLL)

/*
 * What watches and timers share: the part the release queue handles.
 * It comes first in both, so the block starts at the source.
 */
struct osev__source {
    osev_ctx *ctx;
    struct osev__list end_link;  /* on ctx->ended once removed */
    void (*release)(void *arg);
    void *arg;
    bool dead;                   /* removed: never called again */
};

struct osev_fd {
    struct osev__source s;
    osev_fd_cb *cb;
    int fd;
    short events;       /* what this watch asks for; 0 when muted */
    short pending;      /* marked for the running pass: atomic, since the
                           pass takes it with the lock released (see
                           dispatch.c, run_ready_fds) */
    bool internal;      /* the context's own (wakeup): not counted */
    bool by_user;       /* added by osev_fd_add(): in ctx->user_fds */
    uint64_t born;      /* ctx->epoch when added: see osev__mark_fd() */
    struct osev__list fd_link;    /* on its fdent's watches */
    struct osev__list ready_link; /* on ctx->ready while pending */
};

/* How the epoll set holds an fd (backend-epoll.c). */
enum osev__ep_state {
    OSEV__EP_NONE = 0,  /* not in the set */
    OSEV__EP_IN,        /* in the set with ep_mask */
    OSEV__EP_ALWAYS,    /* epoll refused it (a regular file): always ready */
    OSEV__EP_BAD,       /* epoll said EBADF: report POLLNVAL */
};

/* The merged state of all watches on one fd. */
struct osev__fdent {
    struct osev__list watches;
    int fd;
    int slot;           /* index in ctx->pfd, -1 while mask is 0 */
    short mask;         /* union of the live watches' events */
    short ep_mask;      /* what the epoll set holds */
    unsigned char ep_state;
    short hook_mask;    /* what the application's hooks hold; 0: none */
    bool hook_unref;    /* that registration unreferenced (fd_ref false) */
    uint32_t hook_tok;  /* token slot of that registration */
    void *app_reg;      /* the application's handle for it */
};

struct osev_timer {
    struct osev__source s;
    osev_timer_cb *cb;
    uint64_t seq;       /* arming order, for FIFO ties */
    int heap_idx;       /* -1 while not in the heap (disarmed or due) */
    struct osev__list due_link; /* on ctx->due while collected */
    struct osev__list all_link; /* on ctx->timers while live */
};

/* A heap slot: the armed timer and its deadline, kept next to the
 * pointer so that sifting compares without touching the timers (only a
 * tie on the deadline reads their seq). */
struct osev__heap_ent {
    osev_time at;
    osev_timer *t;
};

struct osev__deferred {
    struct osev__list link;
    void (*fn)(osev_ctx *ctx, void *arg);
    void *arg;
};

struct osev__event {
    struct osev__list all_link;  /* ctx->evq_all, or ctx->ev_occur */
    struct osev__list type_link; /* ctx->evq_type[type] */
    uint64_t seq;
    osev_event pub;
    max_align_t payload[];
};

/* A thread blocked in osev_event_wait(), on ctx->waiters. */
struct osev__waiter {
    struct osev__list link;     /* in arrival order */
    uint64_t typemask;
    osev_event_predicate *pred;
    void *pred_user;
    osev_event *got;            /* handed over by a post */
};

/*
 * One poll round handed to a poller (the application's, or ours).  The
 * fds it handed out are ctx->pfd[0..n-1] until the registry moves one of
 * them (a removal fills its slot from the end): then, and only then, the
 * application's rounds copy them first (copy on write, pull.c), so a
 * round that nothing disturbs costs nothing per fd.
 */
struct osev__round {
    uint64_t epoch;      /* watches born at or after this do not take part */
    int n;
    bool live;           /* results not yet taken */
    bool copied;         /* fds holds what was handed out */
    int *fds;            /* the application's rounds: room for the copy
                            (capacity ctx->snap_cap); else NULL */
};

struct osev__epoll {
    int epfd;            /* -1 until first needed */
    int tfd;             /* timerfd of the aggregate fd, -1 until needed */
    osev_time tfd_armed; /* what tfd is armed for, INFINITY when not */
    int nspecial;        /* fdents in EP_ALWAYS or EP_BAD state */
    struct epoll_event *evbuf;
    int evcap;
    /* What the last wait found, not yet taken by the pass: evbuf[next..n),
     * for a round of @epoch (osev__ep_take_found()). */
    int found_next, found_n;
    uint64_t found_epoch;
};

/*
 * A hook token slot.  The token handed to the application encodes the
 * slot index and its generation, bumped whenever the slot is let go, so
 * a late osev_occurred_*() for a registration that is gone is recognised.
 * The table only grows while the context lives.
 */
struct osev__tok {
    uint32_t gen;
    uint32_t next_free;  /* free list link, while unused */
    int fd;              /* the fd registered, or -1 for the timeout */
    bool used;
};

/* Push mode: the application's hooks and what they hold (hooks.c). */
struct osev__push {
    bool on;
    struct osev_hooks hooks;
    void *user;
    pid_t pid;           /* the process that set them: see hooks_unset */
    pthread_t thread;    /* the one that dispatches through them: the last
                            to report, or the one that set them; the only
                            one that calls fd_ref (osev__hook_ref_sync) */
    struct osev__tok *toks;
    uint32_t ntoks, toks_cap, free_tok;
    /* the one timeout registration */
    bool tmo_on;
    bool tmo_fired;      /* fired since last armed: re-arm even if same */
    uint32_t tmo_tok;
    void *tmo_reg;
    osev_time tmo_deadline;
    struct osev_hook_stats stats;
};

struct osev__backend;

/* A readiness flag made of fds (notify.c): an eventfd (rfd == wfd), or a
 * self-pipe without the Linux APIs. */
struct osev__notify {
    int rfd;             /* watched; -1 when closed */
    int wfd;             /* written */
};

struct osev_ctx {
    unsigned flags;
    void *(*realloc_fn)(void *user, void *ptr, size_t size);
    void *alloc_user;
    pthread_mutex_t mutex;

    /* fds: table indexed by fd, and the pollfd array kept in step */
    struct osev__fdent **fdtab;
    int fdtab_len;
    struct pollfd *pfd;
    int npfd, pfd_cap;
    int snap_cap;        /* room in pull_round.fds and select_round.fds */
    uint64_t epoch;      /* poll rounds started */
    struct osev__round pull_round, select_round;

    /* timers: 4-ary min-heap on (deadline, seq) */
    struct osev__heap_ent *heap;
    int nheap, heap_cap, ntimers;
    struct osev__list timers;   /* every live timer, armed or not */
    uint64_t timer_seq;

    /* the dispatch pass */
    struct osev__list ready;    /* osev_fd with pending bits */
    struct osev__list due;      /* osev_timer collected for this pass */
    struct osev__list deferred; /* osev__deferred */
    struct osev__list ended;    /* osev__source awaiting release */
    bool dispatching;           /* the application's code runs for us:
                                   a pass, releases, the context's end */
    pthread_t dispatcher;
    bool dying;                 /* osev__ctx_destroy() runs: add nothing */
    bool in_wait;               /* a thread is blocked in the backend */
    bool woken;                 /* the wakeup fd was read this turn */
    bool free_requested;
    bool exit_requested;
    int exit_code;

    /* events */
    struct osev__list evq_all;
    struct osev__list evq_type[OSEV_EVENT_TYPE_MAX + 1];
    uint64_t evq_types;         /* bit set while evq_type[bit] not empty */
    uint64_t ev_seq;
    struct osev__list ev_occur; /* for event_occurs at the next pass */
    struct osev_event_hooks ev_hooks;
    void *ev_hooks_user;
    bool disaster_unhooked;     /* sticky -EIO */

    /* threads in osev_event_wait(): one runs the loop, the rest sleep */
    struct osev__list waiters;
    pthread_cond_t waiters_cond;  /* on CLOCK_MONOTONIC */
    struct osev__waiter *poller;  /* the waiter running the loop, or NULL */

    /* the built-in loop */
    const struct osev__backend *backend;
    struct osev__epoll ep;
    bool aggregate;             /* osev_get_fd() was called */
    struct pollfd *pbuf;        /* the poll backend's copy */
    int pbuf_cap;
    struct osev__notify wake;
    osev_fd *wake_watch;

    struct osev__push push;

    /* osev_schedule (thread.c) */
    struct osev__list sched;    /* calls from any thread, FIFO */

    /* osev_get_registry_stats() (stats.c) */
    unsigned user_fds;          /* live watches from osev_fd_add() */
    /* live watches with events that are not the context's own (internal):
     * the application's, those behind its signal and child watches */
    unsigned held_watches;

    /* event type names (evtype.c): NULL where a type has none */
    char *evtype_name[OSEV_EVENT_TYPE_MAX + 1];

    /* signals and children (signal.c, child.c) */
    struct osev__sigctx *sig;     /* NULL until the first signal watch */
    struct osev__childctx *child; /* NULL until the first child watch */
};

/* The context's lock (none with OSEV_CTX_SINGLE_THREAD); inline, as
 * every public call and every stretch of callbacks takes it. */
static inline void osev__lock(osev_ctx *ctx)
{
    if (!(ctx->flags & OSEV_CTX_SINGLE_THREAD))
        pthread_mutex_lock(&ctx->mutex);
}

static inline void osev__unlock(osev_ctx *ctx)
{
    if (!(ctx->flags & OSEV_CTX_SINGLE_THREAD))
        pthread_mutex_unlock(&ctx->mutex);
}

/*
 * Whether a dispatch may not start now: a pass is running (the caller is
 * one of its callbacks, or another thread) or another thread waits in the
 * backend.  One dispatcher at a time; several waiters come later.
 */
static inline bool osev__busy(const osev_ctx *ctx)
{
    return ctx->dispatching || ctx->in_wait;
}

/* Work that makes the next wait return at once.  A requested loop exit
 * is not: osev_loop_run() looks for it after every turn, and counting it
 * would make a pull loop spin when nobody runs osev_loop_run(). */
static inline bool osev__work_pending(const osev_ctx *ctx)
{
    return !osev__list_empty(&ctx->deferred) ||
           !osev__list_empty(&ctx->sched) ||
           !osev__list_empty(&ctx->ev_occur) ||
           !osev__list_empty(&ctx->ready);
}

/* The earliest armed timer's deadline, OSEV_TIME_INFINITY for none. */
static inline osev_time osev__timers_earliest(const osev_ctx *ctx)
{
    return ctx->nheap ? ctx->heap[0].at : OSEV_TIME_INFINITY;
}

/* ctx.c */
void *osev__alloc(osev_ctx *ctx, size_t size);
void *osev__realloc_array(osev_ctx *ctx, void *ptr, size_t n, size_t size);
void osev__free(osev_ctx *ctx, void *ptr);
bool osev__in_own_callback(const osev_ctx *ctx);
int osev__copy_struct(void *dst, size_t dst_size, const void *src,
                      size_t src_size, size_t min_size);
void osev__kick(osev_ctx *ctx);
osev_time osev__next_deadline(const osev_ctx *ctx);

/* notify.c.  osev__notify_set() is async-signal-safe and keeps errno;
 * osev__notify_clear() says whether the flag was set.  osev__pipe():
 * non-blocking, close-on-exec. */
int osev__notify_open(struct osev__notify *n);
void osev__notify_set(int wfd);
bool osev__notify_clear(int rfd);
void osev__notify_close(struct osev__notify *n);
int osev__pipe(int fds[2]);

/* fdwatch.c */
void osev__mark_fd(osev_ctx *ctx, int fd, short revents, uint64_t epoch);
osev_fd *osev__mark_fd_one(osev_ctx *ctx, int fd, short revents,
                           uint64_t epoch);
void osev__fds_end_all(osev_ctx *ctx);
void osev__claim_fd(osev_ctx *ctx, int fd);
int osev__fd_add_internal(osev_ctx *ctx, int fd, osev_fd_cb *cb, void *arg,
                          osev_fd **w_out);

/* timer.c */
void osev__timers_collect_due(osev_ctx *ctx, osev_time now);
void osev__timers_end_all(osev_ctx *ctx);

/* dispatch.c */
int osev__run_pass(osev_ctx *ctx, osev_time now);
int osev__run_one(osev_ctx *ctx, osev_fd *w);
int osev__release_ended(osev_ctx *ctx);
void osev__release_all(osev_ctx *ctx);
void osev__source_init(struct osev__source *s, osev_ctx *ctx, void *arg,
                       void (*release)(void *arg));
void osev__end_source(osev_ctx *ctx, struct osev__source *s);
void osev__ctx_destroy(osev_ctx *ctx);

/* pull.c */
void osev__round_start(osev_ctx *ctx, struct osev__round *r);
void osev__rounds_copy(osev_ctx *ctx);
void osev__mark_pollfds(osev_ctx *ctx, int n, const struct pollfd *fds,
                        uint64_t epoch);
int osev__timeout_ms(osev_time deadline, osev_time now);

/* event.c */
void osev__events_deliver(osev_ctx *ctx, struct osev__list *batch, int *ran);
void osev__events_free_all(osev_ctx *ctx);
int osev__event_take(osev_ctx *ctx, uint64_t typemask,
                     osev_event_predicate *pred, void *pred_user,
                     osev_event **ev_out);

/* hooks.c */
int osev__hook_fd_update(osev_ctx *ctx, struct osev__fdent *ent, short mask);
int osev__hook_timeout_sync(osev_ctx *ctx);
int osev__hook_timeout_lower(osev_ctx *ctx, osev_time deadline);
void osev__hook_ref_resync(osev_ctx *ctx);
/*
 * Make the fd registrations referenced exactly while the context holds
 * something of the application's (hooks.c, holds_app()).  Called after
 * every push-mode pass and every change that may end or start the last
 * watch or timer, so the common cases stay inline: no fd_ref hook (the
 * built-in loop, pull mode, hooks without it), or every registration
 * referenced while a watch or an armed timer holds them.
 */
static inline void osev__hook_ref_sync(osev_ctx *ctx)
{
    if (!ctx->push.hooks.fd_ref)
        return;
    if (ctx->push.stats.fd_regs_unref == 0 &&
        (ctx->held_watches > 0 || ctx->nheap > 0))
        return;
    osev__hook_ref_resync(ctx);
}
void osev__hooks_after_pass(osev_ctx *ctx);
struct osev__hooks_release {
    void (*fn)(void *user);
    void *user;
};
struct osev__hooks_release osev__hooks_unset(osev_ctx *ctx);

/* fdwatch.c: the pass takes what the last epoll wait found */
#ifdef OSEV_LINUX_APIS
int osev__ep_take_found(osev_ctx *ctx, osev_fd **batch, int max);

static inline bool osev__ep_found_left(const osev_ctx *ctx)
{
    return ctx->ep.found_next < ctx->ep.found_n;
}
#else
static inline int osev__ep_take_found(osev_ctx *ctx, osev_fd **batch,
                                      int max)
{
    (void)ctx, (void)batch, (void)max;
    return 0;
}

static inline bool osev__ep_found_left(const osev_ctx *ctx)
{
    (void)ctx;
    return false;
}
#endif

/* loop.c */
int osev__loop_once_locked(osev_ctx *ctx, osev_time deadline);
void osev__aggregate_sync(osev_ctx *ctx);

/* thread.c */
int osev__sched_run(osev_ctx *ctx, struct osev__list *batch);
void osev__sched_drop_all(osev_ctx *ctx);

/* fdwatch.c: for the library's own fds, called locked */
int osev__fd_add_locked(osev_ctx *ctx, int fd, short events, osev_fd_cb *cb,
                        void *arg, osev_fd **w_out);
void osev__fd_remove_locked(osev_fd *w);

/* signal.c; counted: whether its callback counts as the application's */
int osev__signal_add_locked(osev_ctx *ctx, int signo, bool counted,
                            void (*cb)(osev_signal *, int, void *),
                            void *arg, osev_signal **s_out);
void osev__signal_remove_locked(osev_signal *s);
void osev__signals_end_all(osev_ctx *ctx);

/* stats.c: the live user signal and child watches (locked). */
unsigned osev__signals_count(const osev_ctx *ctx);
unsigned osev__children_count(const osev_ctx *ctx);
/* child.c: the signal watches the children hold (0 or 1, locked). */
unsigned osev__children_signal_watches(const osev_ctx *ctx);
/* evtype.c: at context end */
void osev__evtypes_free(osev_ctx *ctx);

/* child.c: at context end, the children, then the signals */
void osev__sigchild_end_all(osev_ctx *ctx);

#endif
