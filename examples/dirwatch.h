/*
 * dirwatch.h - a small event producer built on osevent, shared by the
 * examples.
 *
 * SPDX-License-Identifier: MIT
 *
 * dirwatch plays the part of "a library that needs events": it watches
 * one directory with inotify and keeps a periodic tick, and it turns both
 * into typed osevent events.  It never runs a loop of its own and never
 * calls the application back directly: it only registers an fd and a
 * timer with the context, and whoever drives the context (an own poll()
 * loop, osev_event_wait(), a foreign loop) makes it work.
 *
 * The events it posts (ev->for_user is the cookie given to dirwatch_new()):
 *
 *   DIRWATCH_EV_CREATED   a file or directory appeared in the directory
 *                         (created, or renamed/moved into it)
 *   DIRWATCH_EV_DELETED   one disappeared (unlinked, or renamed/moved out)
 *   DIRWATCH_EV_MODIFIED  a file's contents were written or truncated
 *       Payload of these three: ev->data is the entry's name (no
 *       directory part), a NUL-terminated string; dirwatch_event_name().
 *
 *   DIRWATCH_EV_TICK      the tick timer fired
 *       Payload: ev->data points to a uint64_t, the tick count (1, 2, ...);
 *       dirwatch_event_tick().
 *
 * A rename inside the directory is a DELETED of the old name followed by
 * a CREATED of the new one.  When events were lost (the kernel's inotify
 * queue overflowed, no memory for an event, the directory itself went
 * away) dirwatch calls osev_disaster(); with no disaster hook set, later
 * osev_event_check()/osev_event_wait() calls return -EIO.
 */
#ifndef DIRWATCH_H
#define DIRWATCH_H

#include <stddef.h>
#include <stdint.h>

#include "osevent.h"

/*
 * Event types.  They are small numbers because a typemask has one bit per
 * type (1ULL << type, type <= 63).  0 is left unused: osev_disaster()
 * takes 0 to mean "events of any type".  A program that hosts several
 * producers on one context gives each its own numbers.
 */
enum dirwatch_event_type {
    DIRWATCH_EV_CREATED = 1,
    DIRWATCH_EV_DELETED = 2,
    DIRWATCH_EV_MODIFIED = 3,
    DIRWATCH_EV_TICK = 4,
};

/* Typemasks for osev_event_check()/osev_event_wait(). */
#define DIRWATCH_MASK(type) ((uint64_t)1 << (type))
#define DIRWATCH_MASK_FILES                                                    \
    (DIRWATCH_MASK(DIRWATCH_EV_CREATED) | DIRWATCH_MASK(DIRWATCH_EV_DELETED) | \
     DIRWATCH_MASK(DIRWATCH_EV_MODIFIED))
#define DIRWATCH_MASK_ALL                                                      \
    (DIRWATCH_MASK_FILES | DIRWATCH_MASK(DIRWATCH_EV_TICK))

struct dirwatch;

/*
 * dirwatch_new - start watching the directory @dir on @ctx.
 * @tick_period: the time between DIRWATCH_EV_TICK events (> 0), or
 *   OSEV_TIME_INFINITY for no ticks.  Ticks do not drift: each is armed
 *   one period after the previous deadline; after a stall the missed
 *   ticks are skipped, not fired in a burst.
 * @for_user: copied into every event this watcher posts.
 * @out: receives the watcher, the caller's until dirwatch_free().
 * Owns: one inotify fd (non-blocking, close-on-exec), registered with
 * osev_fd_add(), and one osevent timer.  @dir is not kept.
 * Events start with changes made after this call returns: a program that
 * waits for a file to appear must look for it *after* this call, never
 * before (see wait-tool.c).
 * Returns 0, -EINVAL (NULL argument, tick_period <= 0), -ENOMEM, or the
 * errno of inotify: -ENOENT, -ENOTDIR, -EACCES, -EMFILE, -ENOSPC (the
 * per-user watch limit)...  Writes *out only on success.
 * Callable wherever osev_fd_add() is: outside any dispatch, or from a
 * callback of @ctx, on the thread that dispatches @ctx.
 */
int dirwatch_new(osev_ctx *ctx, const char *dir, osev_time tick_period,
                 uint64_t for_user, struct dirwatch **out);

/*
 * dirwatch_free - stop watching: removes the fd watch and the timer and
 * closes the inotify fd.  Nothing of @dw runs afterwards, even later in
 * a dispatch pass that is already running.  Events already posted stay
 * queued in the context (they own copies of their payloads) and are
 * still delivered.  NULL is fine.
 * Callable from anywhere dirwatch_new() is, including from any callback
 * of the context; must be called before osev_ctx_free() of its context.
 */
void dirwatch_free(struct dirwatch *dw);

/*
 * dirwatch_type_name - "created", "deleted", "modified", "tick", or "?"
 * for a type dirwatch does not post.  A static string; callable anywhere.
 */
const char *dirwatch_type_name(unsigned type);

/*
 * dirwatch_event_name - the entry name of a CREATED, DELETED or MODIFIED
 * event, NULL for any other event.  The string belongs to @ev.
 */
static inline const char *dirwatch_event_name(const osev_event *ev)
{
    if (ev->type == DIRWATCH_EV_CREATED || ev->type == DIRWATCH_EV_DELETED ||
        ev->type == DIRWATCH_EV_MODIFIED)
        return (const char *)ev->data;
    return NULL;
}

/* dirwatch_event_tick - the count of a TICK event, 0 for any other. */
static inline uint64_t dirwatch_event_tick(const osev_event *ev)
{
    if (ev->type != DIRWATCH_EV_TICK)
        return 0;
    return *(const uint64_t *)ev->data;
}

#endif /* DIRWATCH_H */
