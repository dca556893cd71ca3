/*
 * osevent.h - a registry of file descriptors and timeouts that someone
 * else's event loop drives.
 *
 * SPDX-License-Identifier: MIT
 *
 * Conventions, valid for every function below unless its comment says
 * otherwise:
 *
 *  - An int result >= 0 is success (a count where one is meaningful); a
 *    negative result is a negative errno value, and a failed call changes
 *    no state.  Out-parameters come last and are written only on success.
 *  - Every _free/_remove accepts NULL.
 *  - A struct passed with its size (options, hooks) may be shorter than
 *    this header's (an older caller: the rest is zero) or longer (a newer
 *    one: the bytes this osevent does not know must be zero); a size
 *    below the first version's, or above 4096, is -EINVAL.
 *  - Time is osev_time: nanoseconds on CLOCK_MONOTONIC, never the wall
 *    clock.  OSEV_TIME_INFINITY means "never".
 *  - Event bits are poll(2)'s: POLLIN, POLLOUT, POLLPRI may be requested;
 *    POLLERR, POLLHUP, POLLNVAL may be reported without being requested.
 *  - "Callback" means a function of yours that osevent calls: an fd, timer,
 *    deferred or event callback.  Every callback runs from a dispatch pass
 *    (osev_afterpoll, osev_afterselect, osev_loop_once, osev_loop_run,
 *    osev_dispatch, osev_event_wait), with no osevent lock held, and may
 *    call any function of this header on the same context except where a
 *    comment says it may not.
 *  - A context is thread-safe unless made with OSEV_CTX_SINGLE_THREAD, but
 *    only one thread dispatches it at a time (see the guide).
 */
#ifndef OSEVENT_H
#define OSEVENT_H

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/select.h>
#include <sys/time.h>
#include <sys/types.h>

#include "osevent-version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(OSEV_BUILDING_LIBRARY) && defined(__GNUC__)
#define OSEV_EXPORT __attribute__((visibility("default")))
#else
#define OSEV_EXPORT
#endif

/* ------------------------------------------------------------------ */
/* Errors and time                                                     */
/* ------------------------------------------------------------------ */

/*
 * osev_strerror - a static, human-readable text for an osevent result.
 * Accepts negative errno values as osevent returns them (and positive
 * ones): osevent's own codes are described in its terms, others as the C
 * library describes them (strerrordesc_np() with glibc; elsewhere the
 * first call for an errno copies strerror_r()'s text, kept for the life
 * of the process).  Never returns NULL.  Safe from any thread and from
 * any callback.
 */
OSEV_EXPORT const char *osev_strerror(int err);

/* Nanoseconds on CLOCK_MONOTONIC. */
typedef int64_t osev_time;

#define OSEV_TIME_INFINITY INT64_MAX

/*
 * osev_now - the current CLOCK_MONOTONIC time in nanoseconds.
 * Safe from any thread, any callback, and a signal handler.
 */
OSEV_EXPORT osev_time osev_now(void);

/*
 * osev_ms, osev_s - convert milliseconds or seconds to osev_time,
 * saturating at OSEV_TIME_INFINITY and at -OSEV_TIME_INFINITY instead of
 * overflowing.
 */
static inline osev_time osev_ms(int64_t ms)
{
    if (ms > INT64_MAX / 1000000)
        return OSEV_TIME_INFINITY;
    if (ms < -(INT64_MAX / 1000000))
        return -OSEV_TIME_INFINITY;
    return ms * 1000000;
}

static inline osev_time osev_s(int64_t s)
{
    if (s > INT64_MAX / 1000000000)
        return OSEV_TIME_INFINITY;
    if (s < -(INT64_MAX / 1000000000))
        return -OSEV_TIME_INFINITY;
    return s * 1000000000;
}

/* ------------------------------------------------------------------ */
/* Version                                                             */
/* ------------------------------------------------------------------ */

/*
 * The headers' version is OSEV_VERSION_MAJOR, _MINOR, _PATCH and
 * OSEV_VERSION_HEX (osevent-version.h, included above): what a program
 * was built with.  These two say what it runs with.
 */

/*
 * osev_version - the version of the library that is running, packed as
 * OSEV_VERSION_HEX is: (major << 16) | (minor << 8) | patch.  A program
 * that needs a behaviour of a later release than its soname promises
 * compares it with the OSEV_VERSION_HEX it needs.  Cannot fail; any
 * thread, any callback, a signal handler.
 */
OSEV_EXPORT unsigned osev_version(void);

/*
 * osev_version_string - the version of the library that is running, as
 * "MAJOR.MINOR.PATCH": a static string, never NULL.  Cannot fail; any
 * thread, any callback, a signal handler.
 */
OSEV_EXPORT const char *osev_version_string(void);

/* ------------------------------------------------------------------ */
/* Context                                                             */
/* ------------------------------------------------------------------ */

typedef struct osev_ctx osev_ctx;

/* No locking: the context is used from one thread only. */
#define OSEV_CTX_SINGLE_THREAD 0x1u
/* The built-in loop uses poll(2) instead of epoll.  The environment
 * variable OSEV_BACKEND=poll has the same effect for every context.  A
 * build without epoll (configure --disable-linux-apis) always uses
 * poll(2) and accepts the flag. */
#define OSEV_CTX_BACKEND_POLL 0x2u

struct osev_ctx_opts {
    /* REQUIRED: sizeof(struct osev_ctx_opts) as the caller knows it. */
    size_t size;
    /* optional: OSEV_CTX_* flags; unknown bits are refused (-EINVAL). */
    unsigned flags;
    /* optional: the allocator, realloc(3)-like (size 0 frees and returns
     * NULL).  NULL: the C library's.  Must be safe from any thread that
     * uses the context. */
    void *(*realloc_fn)(void *user, void *ptr, size_t size);
    /* optional: passed to realloc_fn. */
    void *alloc_user;
};

/*
 * osev_ctx_new - make a context.
 * @opts: NULL for defaults; not kept after the call.
 * @ctx_out: receives the context, which the caller owns and frees with
 *   osev_ctx_free().
 * Opens one wakeup fd (an eventfd, close-on-exec; in a build without the
 * Linux APIs, configure --disable-linux-apis, a pipe: its two ends), the
 * read end watched by the registry.  Returns 0, -EINVAL (bad opts: size
 * too small or above 4096, unknown flag, non-zero bytes past the known
 * struct), -ENOMEM, or the errno of a failed fd creation (-EMFILE, -ENFILE...).
 */
OSEV_EXPORT int osev_ctx_new(const struct osev_ctx_opts *opts,
                             osev_ctx **ctx_out);

/*
 * osev_ctx_free - end a context: every watch and timer ends (each release
 * runs once, here), queued events and pending deferred calls are dropped
 * without being run, pending osev_schedule() calls are dropped with their
 * release, and every fd osevent opened is closed; fds the caller
 * registered are never closed.  NULL is fine.
 * Called from inside a callback of the same context (a release function
 * included), the free takes effect when the dispatch pass, or the call
 * that ran the release, returns; callbacks not yet run in that pass are
 * not run.  Releases that osev_ctx_free() itself runs cannot add to the
 * dying context: osev_fd_add(), osev_timer_add(), osev_defer(),
 * osev_schedule(), osev_signal_add(), osev_child_add() and
 * osev_set_hooks() return -ESTALE there, and osev_event_post() frees the
 * event.  Must not be called while another thread
 * uses the context.  In a child of fork(), freeing an inherited context
 * leaves the parent's use of it intact (see "Fork" below).
 */
OSEV_EXPORT void osev_ctx_free(osev_ctx *ctx);

/* ------------------------------------------------------------------ */
/* The registry: fd watches                                            */
/* ------------------------------------------------------------------ */

typedef struct osev_fd osev_fd;

/*
 * An fd callback: @revents holds the requested bits that are ready, plus
 * POLLERR, POLLHUP or POLLNVAL.  Readiness may be spurious: use
 * non-blocking fds.
 */
typedef void osev_fd_cb(osev_fd *w, int fd, short revents, void *arg);

/*
 * osev_fd_add - watch @fd for @events (POLLIN|POLLOUT|POLLPRI, or 0 to
 * hold the watch without delivering anything).
 * Several watches may name one fd; toward the application they are merged
 * into one pollfd entry whose events are the union, and each callback gets
 * only its own bits.  A watch added during a dispatch pass is first called
 * in a later pass; a watch added after an osev_beforepoll() never gets the
 * results of that poll.
 * The fd stays the caller's: osevent never closes it.  Remove the watch
 * before closing the fd; an fd closed under a watch is reported once as
 * POLLNVAL (when the poller can see it, or when osevent opens an fd of
 * its own that takes the closed fd's number) and the watch is then
 * muted.  An fd that epoll refuses (the context's own aggregate fd, an
 * epoll set that holds it) is reported the same way by the epoll
 * backend; a regular file is always ready, as poll(2) says.
 * @w_out: receives the watch, owned by the caller until osev_fd_remove().
 * Returns 0, -EINVAL (NULL ctx or cb, bad event bits), -EBADF (fd < 0 or
 * not open), -ENOMEM.  May be called from a callback and any thread.
 */
OSEV_EXPORT int osev_fd_add(osev_ctx *ctx, int fd, short events,
                            osev_fd_cb *cb, void *arg, osev_fd **w_out);

/*
 * osev_fd_modify - change what @w waits for.  0 keeps the watch but
 * delivers nothing (also the state after a POLLNVAL).  Bits marked ready
 * for the running pass that are no longer asked for are not delivered.
 * Returns 0, -EINVAL (NULL, bad bits), -ESTALE (@w removed, not yet
 * released), -ENOMEM.  May be called from a callback, its own included.
 */
OSEV_EXPORT int osev_fd_modify(osev_fd *w, short events);

/*
 * osev_fd_remove - end @w.  It is not called again, even if it was already
 * found ready in the running pass.  Its release function, if any, runs
 * later, from the next dispatch point (never inside this call): the end
 * of the running pass, or the next osev_beforepoll(), osev_beforeselect(),
 * osev_afterpoll(), osev_afterselect(), osev_loop_once(), osev_dispatch(),
 * osev_event_wait() or osev_ctx_free().  Until then the handle is stale:
 * osev_fd_modify() returns -ESTALE and a second remove does nothing.
 * After that the handle is freed and must not be used.  NULL is fine.
 */
OSEV_EXPORT void osev_fd_remove(osev_fd *w);

/*
 * osev_fd_set_release - set the function called exactly once with the
 * watch's arg when the watch ends for any reason (removed, or its context
 * freed), from a clean stack.  NULL clears it.
 * A release runs as a callback of the context, with no osevent lock held:
 * it may call what a callback may (add and remove watches and timers,
 * post, defer, schedule, osev_loop_exit(), osev_ctx_free(), which takes
 * effect once the call that ran the release returns); the calls that
 * dispatch or wait (osev_loop_once(), osev_loop_run(), osev_dispatch(),
 * osev_event_wait(), osev_beforepoll(), osev_beforeselect()) return
 * -EBUSY and osev_afterpoll()/osev_afterselect() are ignored.
 */
OSEV_EXPORT void osev_fd_set_release(osev_fd *w, void (*release)(void *arg));

/* ------------------------------------------------------------------ */
/* The registry: timers                                                */
/* ------------------------------------------------------------------ */

typedef struct osev_timer osev_timer;

/* A timer callback; @now is the time the running pass read. */
typedef void osev_timer_cb(osev_timer *t, osev_time now, void *arg);

/*
 * osev_timer_add - a one-shot timer due at @deadline (absolute, on
 * osev_now()'s clock; a time <= now is due at the next pass;
 * OSEV_TIME_INFINITY adds it disarmed).  After it fires it stays allocated,
 * disarmed, until removed, and may be re-armed with osev_timer_set(), from
 * its own callback too.  Due timers run in deadline order, ties in the
 * order they were armed; a timer armed during a pass runs in a later one.
 * Returns 0, -EINVAL (NULL ctx or cb, negative deadline), -ENOMEM.
 */
OSEV_EXPORT int osev_timer_add(osev_ctx *ctx, osev_time deadline,
                               osev_timer_cb *cb, void *arg,
                               osev_timer **t_out);

/*
 * osev_timer_set - re-arm @t for @deadline (OSEV_TIME_INFINITY disarms).
 * Re-arming counts as a new arming for the order of ties.  Returns 0,
 * -EINVAL (NULL, negative deadline), -ESTALE (removed).
 */
OSEV_EXPORT int osev_timer_set(osev_timer *t, osev_time deadline);

/* osev_timer_remove - as osev_fd_remove(), for a timer: until the release
 * point osev_timer_set() returns -ESTALE. */
OSEV_EXPORT void osev_timer_remove(osev_timer *t);

/* osev_timer_set_release - as osev_fd_set_release(), for a timer. */
OSEV_EXPORT void osev_timer_set_release(osev_timer *t,
                                        void (*release)(void *arg));

/*
 * osev_defer - run fn(ctx, arg) once, at the next dispatch pass (a call
 * made during a pass runs in the next one).  While one is pending,
 * osev_beforepoll() gives timeout 0.  Calls run in the order made.
 * If the context is freed first, fn is not run (free arg yourself in that
 * case: keep it reachable).  Returns 0, -EINVAL, -ENOMEM.
 */
OSEV_EXPORT int osev_defer(osev_ctx *ctx, void (*fn)(osev_ctx *, void *arg),
                           void *arg);

/* ------------------------------------------------------------------ */
/* Events                                                              */
/* ------------------------------------------------------------------ */

typedef struct osev_event {
    unsigned type;     /* 0..63: bit (1ULL << type) of a typemask */
    uint64_t for_user; /* the application's cookie for this event, copied
                          by the producer from what the application gave it */
    void *data;        /* the payload, data_size bytes, freed with the
                          event; NULL when data_size was 0 */
} osev_event;

#define OSEV_EVENTMASK_ALL UINT64_MAX
#define OSEV_EVENT_TYPE_MAX 63u

/*
 * Event types by name: how several producers share one context.
 *
 * A library that posts events to its caller's context does not pick type
 * numbers itself: it asks for them by name, and the context hands each
 * new name a type no other name holds.  Names are the producer's,
 * "library.event" by convention ("curl.done", "ares.result"); a name is
 * registered once and keeps its type for the life of the context (a
 * library that detaches and attaches again gets the same type back).
 * The application looks the same names up to build its typemasks.
 * New names take the highest free type (63 downward), so an application
 * that numbers its own types from 0 meets them last; on a context shared
 * with libraries it should claim those numbers with
 * osev_event_type_reserve(), so no name is given them.
 * Types run out after 64 names: osev_event_type_get() then returns
 * -ENOSPC and the library falls back to what it offers besides events
 * (a callback, a context of its own).
 */

/* The longest name, in bytes, without the terminating NUL. */
#define OSEV_EVENT_TYPE_NAME_MAX 63u

/*
 * osev_event_type_get - the type registered on @ctx under @name,
 * registering @name with the highest free type if it has none yet.  The
 * name is copied.  Returns the type (0..63), -EINVAL (NULL ctx or name,
 * an empty name, or one longer than OSEV_EVENT_TYPE_NAME_MAX bytes),
 * -ENOSPC (every type has a name), -ENOMEM.  Any thread, any callback.
 */
OSEV_EXPORT int osev_event_type_get(osev_ctx *ctx, const char *name);

/*
 * osev_event_type_reserve - register @name as exactly @type on @ctx: how
 * an application that numbers its own types keeps them from being handed
 * to a library.  Returns 0 (registered now, or already so), -EEXIST
 * (@type has another name, or @name another type), -EINVAL (as
 * osev_event_type_get(), or @type > 63), -ENOMEM.  Any thread, any
 * callback.
 */
OSEV_EXPORT int osev_event_type_reserve(osev_ctx *ctx, const char *name,
                                        unsigned type);

/*
 * osev_event_type_find - the type registered on @ctx under @name, without
 * registering it.  Returns the type (0..63), -ENOENT (no such name),
 * -EINVAL (NULL ctx or name).  Any thread, any callback.
 */
OSEV_EXPORT int osev_event_type_find(osev_ctx *ctx, const char *name);

/*
 * osev_event_type_name - the name registered for @type on @ctx, or NULL
 * (no name, NULL ctx, @type > 63).  The string is the context's and
 * stays valid, unchanged, until osev_ctx_free().  Any thread, any
 * callback.
 */
OSEV_EXPORT const char *osev_event_type_name(osev_ctx *ctx, unsigned type);

/*
 * osev_event_new - allocate an event of @type (0..63) with @data_size
 * zeroed payload bytes at ev->data.  Allocation happens here, where the
 * producer can still react; posting cannot fail.  Returns NULL with errno
 * EINVAL (NULL ctx, type > 63) or ENOMEM.  The event belongs to the caller
 * until posted or freed.
 */
OSEV_EXPORT osev_event *osev_event_new(osev_ctx *ctx, unsigned type,
                                       uint64_t for_user, size_t data_size);

/*
 * osev_event_post - queue @ev (made by osev_event_new() on @ctx); it then
 * belongs to osevent until delivered.  Delivered exactly once: to the
 * event_occurs hook if its type is in that hook's mask (called from the
 * next dispatch pass, never from inside this call), else to the first
 * osev_event_check()/osev_event_wait() that matches it.  Cannot fail.
 * An event whose type was set past 63 since osev_event_new() matches
 * nothing: it is freed and reported with osev_disaster(type 0, EINVAL).
 * Any thread, any callback.
 */
OSEV_EXPORT void osev_event_post(osev_ctx *ctx, osev_event *ev);

/*
 * osev_disaster - report that events of @type (0: of any type) may be
 * missing, because @msg (with @errnoval, 0 if none).  Both values are
 * passed on as given, unchecked.  Calls the disaster hook if one is set;
 * otherwise writes the message to stderr, every later
 * osev_event_check()/osev_event_wait() on @ctx returns -EIO, and a
 * thread blocked in osev_event_wait() is woken to return it.
 */
OSEV_EXPORT void osev_disaster(osev_ctx *ctx, unsigned type, const char *msg,
                               int errnoval);

/* A predicate: non-zero when @ev is wanted.  Must not call osevent. */
typedef int osev_event_predicate(const osev_event *ev, void *user);

/*
 * osev_event_check - take the oldest queued event whose type bit is in
 * @typemask and, if @pred is not NULL, for which pred(ev, pred_user) is
 * true.  Never blocks and runs no callback.  With pred NULL the cost does
 * not depend on the number of events of other types.  @ev_out receives the
 * event, now the caller's (osev_event_free()).  Returns 0, -EAGAIN (none),
 * -EINVAL, -EIO (an unhooked disaster happened).
 */
OSEV_EXPORT int osev_event_check(osev_ctx *ctx, uint64_t typemask,
                                 osev_event_predicate *pred, void *pred_user,
                                 osev_event **ev_out);

/*
 * osev_event_wait - as osev_event_check(), but runs the built-in loop
 * until a matching event is queued or @deadline (absolute) passes; the
 * registry is served meanwhile, whatever mode the application otherwise
 * uses.  Several threads may wait on one context at once: each event
 * reaches exactly one waiter whose filter matches (the earliest to start
 * waiting), one waiter at a time runs the loop and the others sleep, and
 * when it leaves another takes over.  Returns 0, -ETIMEDOUT, -EINVAL
 * (negative deadline...), -EIO, -EBUSY (called from a callback or release
 * of @ctx), -ESTALE (the context was freed by a callback or release
 * meanwhile: do not touch it again), -ENOMEM, -EMFILE, -ENFILE or another
 * errno when the built-in loop could not be set up (its epoll set and
 * buffers are made when first needed).  The predicate runs with the
 * context's lock held, on whichever thread posts.
 */
OSEV_EXPORT int osev_event_wait(osev_ctx *ctx, uint64_t typemask,
                                osev_event_predicate *pred, void *pred_user,
                                osev_time deadline, osev_event **ev_out);

/* osev_event_free - free an event and its payload.  NULL is fine. */
OSEV_EXPORT void osev_event_free(osev_ctx *ctx, osev_event *ev);

struct osev_event_hooks {
    /* optional: the types sent to event_occurs instead of the queue. */
    uint64_t event_occurs_mask;
    /* optional (REQUIRED when the mask is not 0): receives each event of
     * the mask, which is then the application's to osev_event_free().
     * Called from a dispatch pass; may call osevent. */
    void (*event_occurs)(void *user, osev_event *ev);
    /* optional: see osev_disaster().  Must not call osevent. */
    void (*disaster)(void *user, unsigned type, const char *msg,
                     int errnoval);
};

/*
 * osev_event_set_hooks - set (copy) the event hooks, or with @h NULL clear
 * them.  @h_size is sizeof(struct osev_event_hooks) as the caller knows
 * it.  Events already queued stay queued.  Returns 0 or -EINVAL.
 */
OSEV_EXPORT int osev_event_set_hooks(osev_ctx *ctx,
                                     const struct osev_event_hooks *h,
                                     size_t h_size, void *user);

/* ------------------------------------------------------------------ */
/* Pull: the application's own poll()/select() loop                    */
/* ------------------------------------------------------------------ */

/*
 * osev_beforepoll - fill @fds with the entries osevent wants polled and
 * lower *timeout_ms_io to its next deadline.
 * @nfds_io: on entry the room at @fds, on return the number of entries
 *   osevent wants (0 or more: one is always the wakeup fd).
 * @fds: may point into a larger array holding the application's own fds;
 *   nothing outside [fds, fds + room) is touched.  May be NULL when the
 *   room is 0, to ask the number.
 * @timeout_ms_io: poll(2)'s timeout (negative: infinite), only ever
 *   lowered, rounded up to whole milliseconds so poll never wakes early;
 *   0 while deferred or scheduled calls or event_occurs deliveries are
 *   pending.
 * @now: osev_now(), or 0 to have it read.
 * Returns 0; -ENOBUFS when the room is short (then *nfds_io is the number
 * needed and nothing else is written); -EINVAL; -ESTALE when a release
 * function this call ran freed @ctx (do not touch it again).
 * Each call starts a new poll round: the results are for watches that
 * existed at this call only.  Not from a callback of @ctx (-EBUSY).
 */
OSEV_EXPORT int osev_beforepoll(osev_ctx *ctx, int *nfds_io,
                                struct pollfd *fds, int *timeout_ms_io,
                                osev_time now);

/*
 * osev_afterpoll - dispatch the results of poll(2) on the array of the
 * most recent osev_beforepoll(): ready fd callbacks, then due timers, then
 * deferred calls.  @nfds must be the number that call returned.  Entries
 * of watches removed since are ignored, watches added since never receive
 * these results, and an array that is not the one that call filled
 * (another count, or results at an entry for another fd than the one
 * handed out there) gets no dispatch at all, whatever changed in the
 * registry since.  Not from a callback of @ctx (ignored).
 */
OSEV_EXPORT void osev_afterpoll(osev_ctx *ctx, int nfds,
                                const struct pollfd *fds, osev_time now);

/*
 * osev_beforeselect - add osevent's fds to the caller's sets (never
 * clearing a bit) and raise *maxfd_io to the highest fd added (select's
 * first argument is then *maxfd_io + 1; start it at -1).  POLLIN maps to
 * @rfds, POLLOUT to @wfds, POLLPRI to @efds (each may be NULL only if no
 * watch asks for its bit).  The timeout is lowered as in
 * osev_beforepoll(): *tv_set_io false means "no timeout" (select's NULL),
 * and it is rounded up to whole microseconds.
 * Returns 0; -EBADF if any fd is >= FD_SETSIZE, and then nothing is
 * written; -EINVAL (also for a *tv_io that select(2) would refuse:
 * *tv_set_io true with tv_sec < 0 or tv_usec outside 0..999999); -ESTALE
 * as osev_beforepoll().  Not from a callback of @ctx (-EBUSY).
 */
OSEV_EXPORT int osev_beforeselect(osev_ctx *ctx, int *maxfd_io,
                                  fd_set *rfds, fd_set *wfds, fd_set *efds,
                                  struct timeval *tv_io, bool *tv_set_io,
                                  osev_time now);

/*
 * osev_afterselect - dispatch the results of select(2) on the sets of the
 * most recent osev_beforeselect(), as osev_afterpoll() does: only the fds
 * that call added take results.  @maxfd is the highest fd to look at.
 */
OSEV_EXPORT void osev_afterselect(osev_ctx *ctx, int maxfd,
                                  const fd_set *rfds, const fd_set *wfds,
                                  const fd_set *efds, osev_time now);

/* ------------------------------------------------------------------ */
/* Push: the application's event library takes over registration       */
/* ------------------------------------------------------------------ */

/*
 * The hooks an application (or an adapter: libosevent-glib, -libevent,
 * ...) hands to osev_set_hooks().  osevent mirrors its registry into them:
 *
 *  - one fd registration per distinct fd, whose events are the union of
 *    every watch on that fd (the wakeup fd counts as one such fd);
 *  - one timeout registration per context, holding the earliest timer
 *    deadline (absolute, osev_now()'s clock).  A deadline <= now means
 *    "as soon as possible": fire on the loop's next turn.
 *
 * The foreign loop then holds O(distinct fds) + 1 registrations, whatever
 * the number of watches and timers.  It reports readiness with
 * osev_occurred_fd() and expiry with osev_occurred_timeout(), passing
 * back the @for_osev token it was given.
 *
 * Every member but release and fd_ref is REQUIRED.  Each hook is called
 * with the context's lock held, on whichever thread changed the registry
 * (fd_ref: see there): it must not call any osevent function
 * (osev_occurred_* from inside a hook is refused).  A hook that fails
 * returns a negative errno and must leave its registration as it was;
 * the osevent call that caused it then fails with that value and changes
 * nothing (fd_ref: see there).
 *
 * fd_register: start watching @fd for @events (POLLIN, POLLOUT, POLLPRI;
 *   never 0).  Store what you need to find the registration again in
 *   *app_reg_out; keep @for_osev for osev_occurred_fd().  Errors (POLLERR,
 *   POLLHUP, POLLNVAL) are to be reported whatever @events holds.
 * fd_modify: the merged events changed (never to 0, never to the same
 *   value).  *app_reg_io may be replaced.
 * fd_deregister: stop watching; the registration is gone.  Called exactly
 *   once for every successful fd_register, except in a forked child (see
 *   below).  Cannot fail.
 * timeout_register: arm a one-shot timeout at @deadline.
 * timeout_modify: re-arm it at @deadline, whether or not it has fired.
 * timeout_deregister: disarm it for good.  Called exactly once for every
 *   successful timeout_register, except in a forked child.  Cannot fail.
 * release: the hooks are no longer the context's (osev_set_hooks() with
 *   NULL, or osev_ctx_free()); every deregister has run and no
 *   osev_occurred_*() with their tokens will be accepted.  Free @user here
 *   if you own it.  Optional (NULL); called without the lock, but it must
 *   not call osevent on this context (it may be on its way out).
 *
 * In a child of fork() - a process other than the one that called
 * osev_set_hooks() - ending push mode (osev_ctx_free(), or
 * osev_set_hooks() with NULL) calls no deregister hook: the foreign
 * loop's registrations may live in kernel objects the child shares with
 * the parent (an epoll set), and removing them there would remove the
 * parent's.  osevent forgets them on its side; release is still called,
 * once, and must not touch the loop either: a release that finds itself
 * in another process (compare getpid() with the one at osev_set_hooks())
 * abandons the loop's registrations and frees only what the loop can no
 * longer reach.
 *
 * A timeout that fired stays registered (disarmed) until osevent modifies
 * or deregisters it; a foreign timer that is periodic must be disarmed by
 * the adapter when it fires.
 *
 * fd_ref (optional; NULL: every registration keeps the loop running, as
 *   before this member existed): whether an fd registration should keep
 *   the loop's "run until done" call running (uv_run(UV_RUN_DEFAULT),
 *   ev_run(loop, 0), event_base_dispatch(), tevent_loop_wait()), as
 *   libuv's uv_ref()/uv_unref() say for a handle.  Registrations start
 *   referenced.  osevent unreferences (@ref false) those of its own fds --
 *   in practice the wakeup fd: the fds behind signal and child watches
 *   exist only while such a watch does -- whenever the context holds
 *   nothing of the application's that can still call it back: no fd
 *   watch with events, no armed timer, no signal watch, no child watch
 *   not yet reported, no deferred or scheduled call, event_occurs
 *   delivery or release waiting for a pass; and references them again
 *   (@ref true) as soon as it holds any.  The registrations of the
 *   application's fds and the timeout are never unreferenced (they exist
 *   only while there is such work).  So a loop that holds nothing else
 *   returns from "run until done" once the application's work in the
 *   context is over, and keeps running while any is left.
 *   An unreferenced registration should still be polled and reported
 *   where the loop can do that without being kept running by it (libuv,
 *   libev): then a wakeup from another thread (osev_schedule()) still
 *   reaches a loop that runs for other reasons.  A loop that cannot may
 *   take it out of its poll set until it is referenced again.
 *   *app_reg_io may be replaced.  A failure (a negative errno) leaves the
 *   registration as it was, fails no osevent call, and is tried again at
 *   the next change or pass.  fd_modify keeps the state; fd_deregister
 *   comes in either state.
 *   Threads: fd_ref is called only on the thread that dispatches the
 *   context through these hooks (the last one to call osev_occurred_fd()
 *   or osev_occurred_timeout(), until then the one that set the hooks).
 *   Work queued from another thread (osev_schedule(), osev_event_post())
 *   references nothing there: it writes the wakeup fd, which wakes the
 *   loop if it polls it, and the pass that runs the work brings the
 *   state up to date.  Until then that work does not keep a loop from
 *   returning, and a loop that has returned leaves it for the context's
 *   next pass (the next change made on the loop's thread, or an
 *   osev_dispatch() there).  A watch or timer added from another thread
 *   (where the loop allows it) keeps the loop running through its own
 *   registration.
 */
struct osev_hooks {
    int (*fd_register)(void *user, int fd, void **app_reg_out, short events,
                       void *for_osev);
    int (*fd_modify)(void *user, int fd, void **app_reg_io, short events);
    void (*fd_deregister)(void *user, int fd, void *app_reg);
    int (*timeout_register)(void *user, void **app_reg_out,
                            osev_time deadline, void *for_osev);
    int (*timeout_modify)(void *user, void **app_reg_io, osev_time deadline);
    void (*timeout_deregister)(void *user, void *app_reg);
    void (*release)(void *user);
    int (*fd_ref)(void *user, int fd, void **app_reg_io, bool ref);
};

/*
 * osev_set_hooks - hand the context's registrations to @hooks (copied:
 * the caller's struct need not outlive the call), passing @user to each.
 * @hooks_size: sizeof(struct osev_hooks), so the struct can grow.
 * Every fd and the timeout the context already has are registered at
 * once, all or none: if a hook fails, those already made are deregistered
 * and its error is returned.  NULL @hooks deregisters everything, calls
 * the old hooks' release, and goes back to pull mode only; it cannot
 * fail.  A context holds one set of hooks at a time: to change them, set
 * NULL first.  Pull mode, the built-in loop and osev_event_wait() keep
 * working beside the hooks.  Returns 0, -EINVAL (a member NULL, a bad
 * size), -ENOMEM, a hook's error, or -EBUSY (hooks already set, or called
 * from inside a hook).  May be called from a callback of @ctx and from
 * any thread.
 */
OSEV_EXPORT int osev_set_hooks(osev_ctx *ctx, const struct osev_hooks *hooks,
                               size_t hooks_size, void *user);

/*
 * osev_occurred_fd - the foreign loop found @fd ready: dispatch it.
 * @for_osev: the token fd_register was given; @events: the events the
 * registration held (informational); @revents: what happened.  A stale
 * token (the registration was deregistered or re-made since: a late or
 * racing report) or an @fd that does not match it is ignored, and so are
 * bits no watch asks for any more.  Runs a dispatch pass on the calling
 * thread, unless another thread is dispatching or waiting in the built-in
 * loop: then that thread is woken to run it.  Called from a callback of
 * @ctx, the results join the running pass.  From any thread; never from
 * inside a hook (refused, ignored).
 */
OSEV_EXPORT void osev_occurred_fd(osev_ctx *ctx, void *for_osev, int fd,
                                  short events, short revents);

/*
 * osev_occurred_timeout - the timeout registered with token @for_osev
 * fired: run due timers (and whatever else is pending) as
 * osev_occurred_fd() does.  The registration then counts as disarmed:
 * osevent re-arms it with timeout_modify, or deregisters it.  A stale
 * token is ignored.  From any thread; never from inside a hook.
 */
OSEV_EXPORT void osev_occurred_timeout(osev_ctx *ctx, void *for_osev);

/*
 * What the hooks hold and how often each was called, for tests, adapters
 * and diagnostics.  Counts only calls that succeeded.
 */
struct osev_hook_stats {
    size_t size;             /* set by the caller: sizeof(struct ...) */
    unsigned fd_regs;        /* fd registrations held now */
    unsigned timeout_regs;   /* timeout registrations held now: 0 or 1 */
    uint64_t fd_registers, fd_modifies, fd_deregisters;
    uint64_t timeout_registers, timeout_modifies, timeout_deregisters;
    unsigned fd_regs_unref;  /* of fd_regs, those fd_ref unreferenced now */
};

/*
 * osev_get_hook_stats - fill *stats_io (whose size member the caller set)
 * with the context's hook accounting.  The counters run for the life of
 * the context, across osev_set_hooks() calls.  Returns 0 or -EINVAL.
 * From any thread and any callback; not from inside a hook.
 */
OSEV_EXPORT int osev_get_hook_stats(osev_ctx *ctx,
                                    struct osev_hook_stats *stats_io);

/*
 * What the registry holds, for tests and diagnostics (a library checking
 * that its detach left nothing behind, an application asking whether
 * anything is left to wait for).  The context's own fds (its wakeup fd,
 * those behind signal and child watches) are not counted.
 */
struct osev_registry_stats {
    size_t size;           /* set by the caller: sizeof(struct ...) */
    unsigned fds;          /* fd watches added and not removed */
    unsigned timers;       /* timers added and not removed, armed or not */
    unsigned armed_timers; /* of those, the armed ones */
    unsigned signals;      /* signal watches added and not removed */
    unsigned children;     /* child watches added and not removed */
    unsigned pending;      /* deferred and scheduled calls and event_occurs
                              deliveries waiting for a pass */
};

/*
 * osev_get_registry_stats - fill *stats_io (whose size member the caller
 * set) with what @ctx holds now.  Costs O(pending calls).  Returns 0 or
 * -EINVAL (NULL, or size smaller than the first version of the struct).
 * From any thread and any callback; not from inside a hook.
 */
OSEV_EXPORT int osev_get_registry_stats(osev_ctx *ctx,
                                        struct osev_registry_stats *stats_io);

/* ------------------------------------------------------------------ */
/* Signals and child processes                                         */
/* ------------------------------------------------------------------ */

typedef struct osev_signal osev_signal;

/*
 * osev_signal_add - call cb(s, signo, arg) from a dispatch pass after
 * @signo is delivered to the process.
 * Signals reach the context through ordinary registry fds, so this works
 * in every mode (pull, push, the built-in loop).  No osevent code runs in
 * a signal handler beyond forwarding the signal to an fd.  Arrivals
 * between two passes coalesce into one call; a signal that arrives while
 * nothing polls is delivered at the next dispatch.  Every watch of @signo
 * in the process gets it, in whatever context: two contexts (or two
 * watches in one) watching SIGTERM are each called for one SIGTERM.
 *
 * While the process has a watch of @signo, osevent owns its disposition:
 * a forwarding handler (SA_RESTART) replaces yours, so the signal never
 * takes its default action and your handler does not run.  When the last
 * watch goes, the disposition you had is put back, unless you installed
 * another meanwhile, which is then left alone.
 * osevent never changes a signal mask, and a watched signal is delivered
 * whether your threads block it or not: a thread that leaves it unblocked
 * runs the forwarding handler, and where it is blocked osevent reads it
 * from a signalfd (Linux).  To have no handler run at all and no system
 * call interrupted, block the signal in every thread (pthread_sigmask in
 * main before creating threads).  On the self-pipe path (systems without
 * signalfd, a build without the Linux APIs, or OSEV_SIGNAL_BACKEND=pipe
 * in the environment when the context adds its first signal watch) a
 * blocked signal stays pending: leave it unblocked in at least one
 * thread.  A signal sent to one thread (pthread_kill, raise in a threaded
 * program) that this thread blocks is read only if that thread is the one
 * dispatching.
 *
 * @signo: 1 to NSIG - 1, except SIGKILL and SIGSTOP (they cannot be
 *   caught) and SIGSEGV, SIGBUS, SIGFPE and SIGILL (a handler that
 *   returns would turn a fault into an endless loop of faults).
 * @s_out: receives the watch, the caller's until osev_signal_remove().
 * Opens an eventfd per watch (a pipe, two fds, in a build without the
 * Linux APIs) and, per context with signal watches, a dup of the
 * process-wide self-pipe and signalfd; all close with the watches.
 * Returns 0, -EINVAL (NULL ctx, cb or s_out; a bad @signo, or one the C
 * library reserves), -ENOMEM, or the errno of a failed fd creation
 * (-EMFILE, -ENFILE...) or sigaction.  May be called from a callback and
 * any thread; never from a signal handler.
 */
OSEV_EXPORT int osev_signal_add(osev_ctx *ctx, int signo,
                                void (*cb)(osev_signal *s, int signo,
                                           void *arg),
                                void *arg, osev_signal **s_out);

/*
 * osev_signal_remove - end @s: it is not called again, even if its signal
 * already arrived.  With the last watch of its signal in the process the
 * application's disposition comes back (see osev_signal_add()).  The
 * handle is freed at the next dispatch point, as osev_fd_remove() says.
 * NULL is fine.  May be called from a callback, its own included, and any
 * thread.
 */
OSEV_EXPORT void osev_signal_remove(osev_signal *s);

typedef struct osev_child osev_child;

/*
 * osev_child_add - call cb(c, pid, status, arg) once, from a dispatch
 * pass, when the child process @pid has exited; osevent reaps it.  A
 * child that exited before this call is reported too.
 * @status is as waitpid(2) gives it (WIFEXITED, WEXITSTATUS, WIFSIGNALED,
 * WTERMSIG...), or -1, which matches none of those, when the status was
 * lost: something else reaped the child first (your own wait, a second
 * watch of the same pid, SIGCHLD set to SIG_IGN).  Stops and continues
 * are not reported.
 * osevent reaps only the children it is asked to watch, never with
 * waitpid(-1): go on reaping your other children with waitpid on their
 * pids.  Where the kernel has pidfd_open (Linux 5.3), the child is
 * watched through a pidfd and SIGCHLD is not touched.  Elsewhere (a build
 * without the Linux APIs too), or with OSEV_CHILD_BACKEND=sigchld in the
 * environment, the context watches
 * SIGCHLD as osev_signal_add() does, with its rules, and calls
 * waitpid(pid, WNOHANG) for each child it watches on that path; then do
 * not reap a watched child yourself: its pid could be reused by the time
 * osevent looks.
 * After the callback the watch stays allocated, inert, until
 * osev_child_remove(), which the callback may call.
 * @pid: a child of the calling process, not yet reaped.
 * @c_out: receives the watch, the caller's until osev_child_remove().
 * Returns 0, -EINVAL (NULL ctx, cb or c_out; @pid <= 0), -ECHILD (@pid is
 * not an unreaped child of this process), -ENOMEM, or the errno of a
 * failed fd creation (-EMFILE, -ENFILE...).  May be called from a
 * callback and any thread.
 */
OSEV_EXPORT int osev_child_add(osev_ctx *ctx, pid_t pid,
                               void (*cb)(osev_child *c, pid_t pid,
                                          int status, void *arg),
                               void *arg, osev_child **c_out);

/*
 * osev_child_remove - end @c: its callback is not called (again).  If the
 * child has not exited, osevent will not reap it: that is yours to do
 * now.  The handle is freed at the next dispatch point, as
 * osev_fd_remove() says.  NULL is fine.  May be called from a callback,
 * its own included, and any thread.
 */
OSEV_EXPORT void osev_child_remove(osev_child *c);

/*
 * Fork.  A child of fork() may osev_ctx_free() a context it inherited
 * without disturbing the parent, which keeps using it: the epoll set they
 * share is closed before any fd is taken out of it (taking them out would
 * take them out of the parent's set), signal and child watches only
 * close the child's copies of their fds, never reading from them or
 * changing what they watch, and nothing is written to the wakeup fd.  In
 * push mode the application's loop is the parent's too: no deregister
 * hook runs in the child (see struct osev_hooks), and the adapters
 * (osevent-<loop>.h) leave their watches in the child's copy of the loop,
 * inert, keeping the memory it still points at: a bounded leak, the
 * child's only.  Detaching in the child (osev_set_hooks() with NULL, an
 * adapter's detach) does the same, and so do the bridges'
 * osev_glib_unhost() and libvirt removals.  Freeing, after a detach or
 * not, is the only use the child may make of an inherited context; it
 * may make new contexts of its own, signal watches included.  A child
 * that needs an event loop should make a new one too: its copy of the
 * parent's keeps the abandoned watches.
 */

/* ------------------------------------------------------------------ */
/* Own loop and the aggregate fd                                       */
/* ------------------------------------------------------------------ */

/*
 * osev_loop_once - wait in the built-in loop (epoll, or poll) until
 * something is ready, @deadline passes or osev_wakeup() is called, then
 * run one dispatch pass.  Returns:
 *  - the number of callbacks run (1 or more), once any ran;
 *  - -ETIMEDOUT, when @deadline passed and nothing ran;
 *  - 0, when nothing ran but the wakeup fd was written: osev_wakeup(),
 *    osev_loop_exit(), an event handed to an osev_event_wait() caller, an
 *    unhooked osev_disaster(), a registry change made from another thread;
 *  - -EINVAL, -EBUSY (from a callback of @ctx), -ESTALE (a callback or
 *    release freed @ctx), or the error of setting up the built-in loop or
 *    of the wait itself (-ENOMEM, -EMFILE, -ENFILE...).
 * A wait that ends with nothing for the application -- interrupted by a
 * signal (EINTR), or one of osevent's own fds (a signal or child source)
 * that turns out to have nothing to deliver -- does not end the call: it
 * waits again until @deadline.
 */
OSEV_EXPORT int osev_loop_once(osev_ctx *ctx, osev_time deadline);

/*
 * osev_loop_run - run osev_loop_once() until osev_loop_exit() is called;
 * returns the code given to it, or a negative errno as osev_loop_once()
 * does: -EINVAL (NULL ctx, or a negative code given to osev_loop_exit()),
 * -EBUSY (from a callback of @ctx), -ESTALE (a callback or release freed
 * @ctx), or the error of setting up the built-in loop or of the wait
 * (-ENOMEM, -EMFILE, -ENFILE...).
 */
OSEV_EXPORT int osev_loop_run(osev_ctx *ctx);

/*
 * osev_loop_exit - make osev_loop_run() return @code (>= 0) after the
 * running pass; called when no osev_loop_run() runs, it makes the next
 * one return @code at once.  A negative @code, which would read as an
 * errno, still stops the loop, and osev_loop_run() returns -EINVAL.
 * From a callback, a release, or another thread: the wakeup fd is always
 * written, so a loop about to block sees it too (an osev_loop_once() not
 * under osev_loop_run() then returns 0).
 */
OSEV_EXPORT void osev_loop_exit(osev_ctx *ctx, int code);

/*
 * osev_get_fd - one fd that is readable whenever the context has work
 * (a watched fd ready, a timer due, a deferred call or a wakeup pending),
 * for a foreign loop to watch before calling osev_dispatch().  Owned by
 * the context: do not close it.  Watch it with osev_get_deadline() too.
 * Returns the fd, or a negative errno: -EINVAL (NULL ctx), -ENOSYS in a
 * build without epoll (configure --disable-linux-apis, or a system
 * without it): there is no aggregate fd, embed with osev_beforepoll()
 * instead; or the errno of a failed fd creation (-EMFILE, -ENFILE,
 * -ENOMEM...).
 */
OSEV_EXPORT int osev_get_fd(osev_ctx *ctx);

/*
 * osev_get_deadline - the earliest timer deadline, 0 when work is pending
 * now, OSEV_TIME_INFINITY when there is no timer.  Returns 0 or -EINVAL.
 */
OSEV_EXPORT int osev_get_deadline(osev_ctx *ctx, osev_time *deadline_out);

/*
 * osev_dispatch - run what is ready now (fds, due timers, deferred calls,
 * event deliveries) without blocking: one turn of the built-in loop that
 * never waits.  Once osev_get_fd() was called it asks the aggregate fd's
 * epoll set, whatever the backend, so its cost grows with the fds that
 * are ready, not with those watched; in a build without epoll it polls
 * every watched fd with poll(2).  Returns the number of callbacks
 * run, -EINVAL, -EBUSY (from a callback or release), -ESTALE (a callback
 * or release freed ctx), -ENOMEM, -EMFILE, -ENFILE or another errno when
 * the built-in loop could not be set up (its epoll set and buffers are
 * made when first needed).
 */
OSEV_EXPORT int osev_dispatch(osev_ctx *ctx);

/*
 * osev_wakeup - make the context's wakeup fd readable, so that a thread
 * blocked in the built-in loop, or an application's poll() given the
 * osev_beforepoll() array, returns.  Async-signal-safe and callable from
 * any thread; a burst of calls costs one wakeup.
 */
OSEV_EXPORT void osev_wakeup(osev_ctx *ctx);

/*
 * osev_schedule - run fn(ctx, arg) once on the thread that dispatches
 * @ctx, from its next dispatch pass, after the deferred calls: how another
 * thread hands work or a result to the loop's thread (tevent's thread
 * proxy).
 * Order: calls run in the order they were queued, so the calls of each
 * thread run in the order it made them.  A call made from a callback of
 * @ctx runs in the next pass.
 * Wakeup: whatever drives @ctx is woken through the wakeup fd (the
 * built-in loop, osev_event_wait(), a poll() on the osev_beforepoll()
 * array, the aggregate fd, a foreign loop through the hooks); the calls
 * queued before the dispatching thread takes them cost one wakeup.  A
 * foreign loop's "run until done" call is kept running by a call queued
 * from its own thread, not by one from another thread (see fd_ref in
 * struct osev_hooks).
 * While a call is pending, osev_beforepoll() gives timeout 0.
 * Ownership: @arg passes with the call.  Once fn runs, arg is fn's.  If
 * @ctx is freed first, fn is not run: release(arg) is called instead,
 * once, from osev_ctx_free() (or from the pass whose callback freed the
 * context), with no osevent lock held.  @release may be NULL.
 * Returns 0, -EINVAL (NULL ctx or fn), -ENOMEM (nothing queued: arg is
 * still the caller's and release is not called).
 * From any thread and any callback; not from a hook (it takes the lock)
 * nor a signal handler (it allocates: use osev_wakeup() there).  With
 * OSEV_CTX_SINGLE_THREAD, only from the context's own thread.  The
 * context must outlive the call: free it only once no thread can be in
 * osev_schedule() on it (count the replies, or join the threads, first).
 */
OSEV_EXPORT int osev_schedule(osev_ctx *ctx,
                              void (*fn)(osev_ctx *, void *arg),
                              void (*release)(void *arg), void *arg);

#ifdef __cplusplus
}
#endif

#endif /* OSEVENT_H */
