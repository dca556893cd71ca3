/*
 * host.h - the hosts a bridge's scenario runs in: whatever drives an
 * osevent context.  A bridge's test is written once against this and run
 * in every host built here:
 *   "builtin"  the built-in loop, through osev_event_wait()
 *   "pull"     the test's own poll() loop (osev_beforepoll/afterpoll)
 *   "glib", "libevent", "libev", "libuv", "tevent", "verto", "sdevent",
 *   "virt"     a real foreign loop with the adapter attached
 * Each host blocks in its loop between events: nothing here busy-waits.
 */
#ifndef OSEV_BRIDGE_HOST_H
#define OSEV_BRIDGE_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include "osevent.h"

struct host;

/* The hosts compiled into this build, NULL-terminated, in the order
 * above.  CI builds every one. */
extern const char *const host_names[];

/* The number of names in host_names. */
int host_count(void);

/* Make a context and the loop that drives it, attached.  Aborts the test
 * (ck_assert) on any failure. */
struct host *host_open(const char *name);

const char *host_name(const struct host *h);
osev_ctx *host_ctx(const struct host *h);

/* The foreign loop (GMainContext *, struct event_base *, struct ev_loop *,
 * uv_loop_t *, struct tevent_context *, verto_ctx *, sd_event *), NULL
 * for "builtin", "pull" and "virt" (libvirt's loop is process-wide). */
void *host_loop(const struct host *h);

/*
 * Drive the context until done(arg) is true or @timeout_ms passes; done
 * is checked before the first turn and after every turn.  Returns true
 * when done.  May be called from nowhere inside a callback.
 */
bool host_run_until(struct host *h, bool (*done)(void *arg), void *arg,
                    int timeout_ms);

/*
 * Drive the context until an event whose type is in @typemask is queued,
 * and take it (the caller frees it with osev_event_free()).  "builtin"
 * waits in osev_event_wait(); the others turn their loop and take it with
 * osev_event_check().  Returns 0, or -ETIMEDOUT after @timeout_ms.
 */
int host_wait_event(struct host *h, uint64_t typemask, int timeout_ms,
                    osev_event **ev_out);

/*
 * Assert that the context's registry holds nothing (no fd watch, timer,
 * signal, child or pending call: osev_get_registry_stats()), and in a
 * foreign host that the loop holds nothing of the context's but what an
 * empty attached context keeps.  Call after a bridge's detach.
 */
void host_assert_empty(struct host *h);

/* Detach, free the context, then free the loop, asserting that the loop
 * holds nothing of ours. */
void host_close(struct host *h);

#endif
