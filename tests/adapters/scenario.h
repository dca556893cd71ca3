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
};

/* Run the scenario suite for @loop; returns the process exit status. */
int scenario_main(const struct scenario_loop *loop);

#endif
