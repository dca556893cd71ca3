/*
 * scenario.h - the one push-mode scenario every adapter runs inside its
 * real foreign loop.  An adapter's test fills a struct scenario_loop and
 * returns scenario_main(&loop) from main().
 */
#ifndef OSEV_SCENARIO_H
#define OSEV_SCENARIO_H

#include "testutil.h"

#include <stdbool.h>

struct scenario_loop {
    const char *name;
    /* Make and free one foreign loop. */
    void *(*loop_new)(void);
    void (*loop_free)(void *loop);
    /* The adapter's attach and detach calls. */
    int (*attach)(osev_ctx *ctx, void *loop);
    void (*detach)(osev_ctx *ctx);
    /* One blocking turn of the foreign loop: returns after it dispatched
     * something (the scenario always has something pending). */
    void (*iterate)(void *loop);
    /* Registrations the foreign loop itself says it holds, by its own
     * introspection; NULL where the loop has no way to tell. */
    int (*foreign_count)(void *loop);
    /* True when the foreign loop holds nothing of ours: detach and
     * context free must get it there.  May run the loop once (libuv
     * closes handles asynchronously). */
    bool (*is_empty)(void *loop);

    /* Optional tests, by what the loop can do; false leaves them out. */

    /* Loops with a wakeup fd of their own (GLib's), which a child of
     * fork() shares with the parent: settle runs turns that do not block
     * until nothing is left to do, and woken says whether any fd the
     * loop polls has been made ready since.  NULL elsewhere. */
    void (*settle)(void *loop);
    bool (*woken)(void *loop);
    /* In a child of fork(): make the parent's loop usable there as the
     * loop asks (event_reinit(), uv_loop_fork()...).  NULL where a child
     * cannot go on with the parent's loop. */
    void (*child_reinit)(void *loop);

    /* The loop has no urgent-data event: the adapter refuses POLLPRI when
     * a watch is added, when it attaches (all or none) and when a mask
     * grows to it, and the watches it took go on working. */
    bool refuses_pollpri;
    /* The loop's own calls may be made from any thread: a timer added
     * from another thread while the loop blocks wakes it. */
    bool any_thread;

    /* The adapter hands the loop one fd, the context's aggregate fd
     * (osev_get_fd()), and runs osev_dispatch() when it is readable,
     * instead of mirroring each registration: while attached the loop
     * then holds this many registrations of ours, whatever the registry
     * holds (foreign_count is checked against it, the hook-level counts
     * as for every adapter); and one turn of the loop runs a whole
     * osevent pass, which a callback that detaches does not cut short.
     * 0, the default: the loop holds one registration per distinct fd,
     * plus one while a timer is armed. */
    int aggregate_regs;

    /* Known gaps: what this loop does not do as every other one does (the
     * reason stands where the flag is set).  The default, false, is the
     * rule. */

    /* The loop counts a timeout from the time it cached at the start of
     * its turn, and the adapter cannot refresh that time: a timeout armed
     * late in a turn expires early and osevent re-arms it (it still runs
     * on time, after more than one timeout_modify). */
    bool timeout_from_turn_start;

    /* "Run until done": the loops that have it and whose adapter lets it
     * return (fd_ref in osevent.h).  NULL leaves the run-until-done tests
     * out; the adapter's man page says what holds there instead. */

    /* The loop's own run-to-completion call (uv_run(UV_RUN_DEFAULT),
     * ev_run(loop, 0), ...): returns once nothing keeps the loop running.
     * Asserts what the call returns then. */
    void (*run_until_done)(void *loop);
    /* Keep the loop running with a registration of the loop's own, none
     * of osevent's (@on), or let it go (the loop may take a turn to let
     * go of it).  For adapters that keep polling an unreferenced
     * registration: a call scheduled from another thread then reaches a
     * loop that runs for others while the context holds nothing.  NULL
     * where the adapter takes it out of the loop instead. */
    void (*native_hold)(void *loop, bool on);
    /* foreign_count leaves out what the adapter unreferenced (the hooks'
     * fd_regs_unref): the loop counts only what keeps it running. */
    bool unref_uncounted;
};

/* Run the scenario suite for @loop; returns the process exit status. */
int scenario_main(const struct scenario_loop *loop);

#endif
