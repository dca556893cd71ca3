/*
 * adapter.h - what every adapter shares (internal to lib/adapters).
 *
 * An adapter fills one struct osev__adapter_ops with the handful of calls
 * that start, change and stop a foreign watch or timer; adapter.c turns
 * that into a struct osev_hooks, keeps one record per registration, and
 * does attach and detach.  What is left for each loop is the part only
 * that loop knows.  Compiled into every libosevent-<loop> with hidden
 * visibility, so two adapters in one program do not clash.
 */
#ifndef OSEV_ADAPTER_H
#define OSEV_ADAPTER_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/time.h>
#include <sys/types.h>

#include "osevent.h"
#include "../list.h"

struct osev__adapter;

/*
 * One registration the foreign loop holds: an fd (fd >= 0) or the
 * context's timeout (fd == -1).  @priv holds ops->reg_size bytes of the
 * loop's own state (its io watcher, its timer...), zeroed at start.
 */
struct osev__areg {
    struct osev__list link; /* first: on ad->regs while registered */
    struct osev__adapter *ad;
    int fd;
    short events;     /* what the foreign watch holds; updated on success */
    bool unref;       /* fd_ref made it not keep the loop running; updated
                         on success */
    bool abandoned;   /* left in a forked child's loop: report nothing */
    void *token;      /* for_osev, handed back on every report */
    max_align_t priv[];
};

struct osev__adapter_ops {
    const char *name;   /* "glib", ...: for messages */
    size_t reg_size;    /* bytes of priv in each registration */
    size_t state_size;  /* bytes of osev__adapter.state */
    /* Optional: set up the loop-wide state, before any registration. */
    int (*attach)(struct osev__adapter *ad);
    /* Start watching r->fd for r->events (POLLIN/POLLOUT/POLLPRI). */
    int (*fd_start)(struct osev__areg *r);
    /* Change to @events; r->events still holds the old ones.  A failure
     * must leave the foreign watch as it was. */
    int (*fd_change)(struct osev__areg *r, short events);
    void (*fd_stop)(struct osev__areg *r);
    /* Arm (start) or re-arm (change) a one-shot timer at @deadline;
     * deadline <= osev_now() means "on the next turn". */
    int (*timeout_start)(struct osev__areg *r, osev_time deadline);
    int (*timeout_change)(struct osev__areg *r, osev_time deadline);
    void (*timeout_stop)(struct osev__areg *r);
    /* Optional, for loops with a "run until done" call: make r's fd watch
     * keep that call running (@ref) or not (see fd_ref in osevent.h; only
     * ever the context's own fds).  r->unref still holds the old state.
     * fd_change keeps the state (it may read r->unref), fd_stop comes in
     * either.  NULL: the hooks have no fd_ref, every watch keeps the loop
     * running. */
    int (*fd_ref)(struct osev__areg *r, bool ref);
    /* Set when a *_stop cannot let go of the record at once (libuv's
     * uv_close): then the loop calls osev__areg_free() when it can. */
    bool stop_frees_later;
    /* Optional: tear down the loop-wide state, after every stop. */
    void (*detach)(struct osev__adapter *ad);
    /* Optional: in a child of fork(), instead of any stop and detach,
     * make the loop-wide state report nothing more, without calling into
     * the loop (see adapter.c, "Fork"). */
    void (*abandon)(struct osev__adapter *ad);
};

struct osev__adapter {
    const struct osev__adapter_ops *ops;
    osev_ctx *ctx;
    void *loop;         /* GMainContext *, struct event_base *, ... */
    pid_t pid;          /* the process that attached */
    struct osev__list regs; /* the records the loop holds */
    struct osev__adapter *next_abandoned;
    max_align_t state[]; /* ops->state_size bytes, zeroed */
};

/*
 * Attach @ctx to @loop through @ops: the context's fds and timeout are
 * registered in the loop at once, all or none.  Returns 0, -EINVAL,
 * -ENOMEM or the loop's error.
 */
int osev__adapter_attach(osev_ctx *ctx, void *loop,
                         const struct osev__adapter_ops *ops);

/* Detach whatever hooks @ctx has: afterwards the loop holds nothing of
 * ours (in a forked child: nothing that reports).  NULL is fine. */
void osev__adapter_detach(osev_ctx *ctx);

/* The foreign loop found r's fd ready with @revents (poll bits).  Does
 * nothing for an abandoned record. */
void osev__areg_fd_ready(struct osev__areg *r, short revents);

/* The foreign timer of @r fired.  Does nothing for an abandoned record. */
void osev__areg_timeout_fired(struct osev__areg *r);

/* For loops with stop_frees_later: let go of a stopped record. */
void osev__areg_free(struct osev__areg *r);

/* Time left until @deadline on osev_now()'s clock, never negative,
 * rounded up so the foreign loop never fires early: in milliseconds
 * (capped at INT_MAX), microseconds, as a timeval, in seconds. */
int osev__ms_until(osev_time deadline);
osev_time osev__us_until(osev_time deadline);
struct timeval osev__tv_until(osev_time deadline);
double osev__s_until(osev_time deadline);

#endif
