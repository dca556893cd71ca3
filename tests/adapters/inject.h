/*
 * inject.h - allocation failure injection across osevent and the foreign
 * loops, for the adapter and bridge tests (tests/adapters/inject.c).
 *
 * Two sources of allocations fail on demand, counted together: the
 * context's allocator (struct osev_ctx_opts.realloc_fn) and malloc,
 * calloc and realloc, which the test program interposes (it defines
 * them, so every library's calls reach it first).  An interposed call
 * counts only when it comes straight from an osevent library
 * (libosevent*: adapter.c's records, the bridges' tables) or from one of
 * the foreign libraries the test names as handling a failed allocation
 * (libevent, talloc...): GLib, libev and libuv abort instead, so theirs
 * never fail, nor do the test's own (Check's included).  Only calls made
 * on the thread that armed the injection count.
 *
 * Under valgrind, which replaces malloc in the test program too, the
 * interposed functions never run: then only the context's allocator
 * fails (inj_interposed() says which).
 */
#ifndef OSEV_INJECT_H
#define OSEV_INJECT_H

#include "testutil.h"

#include <stdbool.h>

/* Fail the k-th counted allocation from now (k >= 0).  @may_fail: the
 * foreign libraries (prefixes of their file names) whose own
 * allocations count, NULL-terminated, or NULL for none. */
void inj_arm(long k, const char *const *may_fail);

/* Stop failing; whether an allocation failed since inj_arm(). */
bool inj_disarm(void);

/* Where the failed allocation was: "the context's allocator", or the
 * file of the library that called malloc.  Whether that was osevent's
 * own (the context's allocator or a libosevent* library). */
const char *inj_failed_where(void);
bool inj_failed_ours(void);

/* The allocator for struct osev_ctx_opts, and the number of blocks it
 * handed out that are not freed yet. */
void *inj_ctx_realloc(void *user, void *ptr, size_t size);
long inj_ctx_live(void);

/* A context using inj_ctx_realloc (no failure armed). */
osev_ctx *inj_ctx_new(void);

/* Whether the interposed malloc runs (not under valgrind). */
bool inj_interposed(void);

/* ---- the attach scenarios every adapter runs (inject.c) ---- */

struct inject_loop {
    const char *name;
    /* Make and free one foreign loop. */
    void *(*loop_new)(void);
    void (*loop_free)(void *loop);
    /* The adapter's attach and detach. */
    int (*attach)(osev_ctx *ctx, void *loop);
    void (*detach)(osev_ctx *ctx);
    /* One turn of the loop: returns once it dispatched something (the
     * scenario always has an fd ready); < 0 if the loop itself failed
     * (only while an allocation is made to fail). */
    int (*iterate)(void *loop);
    /* True when the loop holds nothing of ours (may run it once). */
    bool (*is_empty)(void *loop);
    /* The foreign libraries whose allocations may fail, as for
     * inj_arm(); NULL when the loop's library aborts on failure. */
    const char *const *may_fail;
};

/*
 * Run the suite: each call that makes the adapter register something
 * (attach on a context with watches and timers; then, attached, a watch
 * on a new fd, one that grows a shared fd's mask, a mask that changes,
 * the first timer, an earlier timer, a removal that narrows a shared
 * fd's mask, one that moves the timeout later, a signal) with the k-th
 * allocation failing, for every k until it runs clean.  A failure must
 * leave the context and the loop as they were (all or none for attach);
 * where the failed allocation is osevent's the call must fail with
 * -ENOMEM, where it is the foreign library's the call may fail with its
 * error or succeed (the library coped).  Then the same call works, every
 * watch, timer, deferred and scheduled call, signal and posted event runs
 * once through the real loop, detach leaves the loop empty and the free
 * leaves no block.  Returns the process exit status.
 */
int inject_main(const struct inject_loop *loop);

#endif
