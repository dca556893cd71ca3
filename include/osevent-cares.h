/*
 * osevent-cares.h - a c-ares channel served by an osevent context.
 *
 * SPDX-License-Identifier: MIT
 *
 * Link with libosevent-cares (pkg-config osevent-cares).  A bridge watches
 * the sockets a c-ares channel wants watched, as fd watches of the
 * context, and holds one timer for the channel's earliest timeout; their
 * callbacks call ares_process_fd().  Whatever drives the context (pull
 * mode, the built-in loop, an adapter's loop) then resolves names, and
 * the query callbacks run from the context's dispatch passes.
 *
 * How the bridge learns what c-ares wants.  c-ares (1.16 to 1.18 at
 * least) takes its socket-state callback only at ares_init_options() and
 * keeps it for the life of the channel (ares_dup() copies it too): a
 * bridge that used it could never be taken out of the channel again.
 * (The socket-create callback and the socket functions can be set and
 * cleared later, but a channel has one of each, the application's, and
 * ares_dup() copies them into channels the bridge never sees.)  So the
 * bridge puts nothing of its own in the channel -- no socket-state,
 * socket-create or socket-configure callback, no socket functions -- and
 * asks instead: after every call it makes into c-ares it reads
 * ares_getsock() and ares_timeout() and brings its watches and its timer
 * in line with them.  Hence:
 *  - any channel can be attached, however it was made, and keeps the
 *    callbacks the application gave it;
 *  - osev_cares_detach() and osev_ctx_free() leave the channel exactly as
 *    it was, with nothing that could call into osevent: its queries stay
 *    in flight, its sockets open, for a later attach (or the
 *    application's own loop) to finish;
 *  - the application tells the bridge when it called c-ares itself:
 *    osev_cares_update(), the one rule of this bridge.
 *
 * The rule.  ares_query(), ares_search(), ares_send(), ares_gethostbyname(),
 * ares_gethostbyaddr(), ares_getaddrinfo(), ares_getnameinfo() send
 * packets, open sockets and start timeouts; ares_cancel() and
 * ares_set_servers*() close sockets.  c-ares tells nobody.  After such
 * calls call osev_cares_update(bridge): once after a batch of calls is
 * enough, it cannot fail, and it may be called anywhere on the channel's
 * thread.  Calls on the channel made from one of its query callbacks
 * that the bridge runs (an answer starting the next lookup) need none:
 * the bridge looks at the channel after each of its own calls anyway.
 *
 * Forgetting it is caught: the bridge also looks at the channel by itself,
 * at least every 10 s while it is attached (100 ms after the channel fell
 * idle, then at doubling intervals), and whenever one of its sockets is
 * ready.  A look that finds the channel changed without an update serves
 * it from then on and writes one warning to stderr per bridge: the lookup
 * was late, never lost.  OSEV_CARES_NO_IDLE_CHECK turns the idle looks off
 * for an application that never forgets and wants no wakeup at all while
 * no lookup runs.
 *
 * Identity of sockets.  c-ares closes its sockets inside its own calls
 * (when the last query ends, on a server error, in ares_cancel()), before
 * the bridge can remove their watches, and may open a new socket under
 * the same number at once.  The bridge compares each socket's identity
 * (device and inode) at every look and replaces the watch of a number
 * that now names another socket, so an epoll set or a foreign loop never
 * keeps watching a socket that is gone.
 *
 * Limits: ares_getsock() reports at most ARES_GETSOCK_MAXNUM (16)
 * sockets; a channel with more open at once (more than 8 servers in use
 * over both UDP and TCP in c-ares 1.18) is served on its first 16 only.
 * Results are c-ares's own query callbacks; the bridge posts no events
 * (a callback may post the application's own).
 */
#ifndef OSEVENT_CARES_H
#define OSEVENT_CARES_H

/* First: it brings <sys/select.h>, which c-ares 1.18's ares.h uses for
 * fd_set without including it where the C library hides it (strict C99
 * with _POSIX_C_SOURCE). */
#include <osevent.h>

#include <ares.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct osev_cares osev_cares;

/* No looks of the bridge's own: its timer is armed only for c-ares's
 * timeouts, while a query is in flight (not capped at 10 s), so nothing
 * wakes the loop for the bridge while the channel is idle; a forgotten
 * osev_cares_update() then leaves a lookup started from idle waiting
 * until the next update. */
#define OSEV_CARES_NO_IDLE_CHECK 0x1u

/*
 * osev_cares_attach - serve @channel from @ctx: watch the sockets c-ares
 * wants watched now (a channel with queries in flight is taken as it is)
 * and arm one timer for its earliest timeout; from then on the bridge's
 * callbacks call ares_process_fd(), and c-ares runs the query callbacks
 * from them, in dispatch passes of @ctx.
 * @flags: 0 or OSEV_CARES_NO_IDLE_CHECK.
 * @bridge_out: receives the bridge, which the caller owns until
 *   osev_cares_detach() or the end of @ctx, whichever comes first: once
 *   osev_ctx_free(ctx) ran, the bridge is gone (it frees itself when its
 *   timer is released) and the handle must not be used again.
 * Owns: its watches and its timer on @ctx.  @channel is not owned and
 *   must outlive the bridge: destroy it after osev_cares_detach() or
 *   osev_ctx_free().  The bridge stores nothing in the channel, so it
 *   keeps its own callbacks; while attached, the bridge drives it: do not
 *   call ares_process() or ares_process_fd() yourself.  One bridge per
 *   channel at a time; several bridges, of c-ares or of other libraries,
 *   may share one context.
 * Threads: a c-ares channel is not thread-safe and the bridge calls into
 *   it from callbacks of @ctx, so the channel, its bridge and the
 *   dispatch of @ctx share one thread: attach, update, detach and every
 *   c-ares call on @channel are made there (or from any one thread at a
 *   time while nothing dispatches @ctx).  May be called from a callback
 *   of @ctx, a query callback included.
 * Runs no query callback itself, and calls nothing of c-ares but
 * ares_getsock() and ares_timeout().
 * Returns 0, -EINVAL (@ctx, @channel or @bridge_out NULL, an unknown flag),
 * -ENOMEM, -ESTALE (@ctx is being freed: called from a release that
 * osev_ctx_free() runs), -EEXIST (the loop of an adapter attached to @ctx
 * already polls one of the channel's sockets: libuv), or any other error
 * osev_fd_add() gives for one of them.  On error nothing is left on @ctx.
 */
OSEV_EXPORT int osev_cares_attach(osev_ctx *ctx, ares_channel channel,
                                  unsigned flags, osev_cares **bridge_out);

/*
 * osev_cares_update - tell the bridge that the application called c-ares
 * (started or cancelled queries, changed servers): it looks at the channel
 * again at the next dispatch pass of its context, never inside this call,
 * and watches and times what it finds.  Any number of calls before that
 * pass cost one look.  NULL is fine.  Cannot fail.  On the channel's
 * thread (see osev_cares_attach()); from anywhere there: a callback of
 * the context, a query callback (where it is not needed, and harmless),
 * before the loop runs.  Not needed after osev_cares_attach(), which
 * looks itself.
 */
OSEV_EXPORT void osev_cares_update(osev_cares *bridge);

/*
 * osev_cares_detach - end the bridge: its watches and its timer are
 * removed, so the context holds nothing of it, and the bridge is freed.
 * The channel is left as it was: queries in flight stay in flight (none
 * is cancelled, no query callback runs), sockets stay open, and nothing
 * in the channel calls into osevent.  A later osev_cares_attach(), on
 * this context or another, takes the channel up where it was left.
 * NULL is fine.  Cannot fail.  On the channel's thread; may be called
 * from a callback of the context, a query callback that the bridge runs
 * included (the bridge is then freed when that call into c-ares
 * returns).  Not after osev_ctx_free() of its context: the bridge is
 * already gone.
 */
OSEV_EXPORT void osev_cares_detach(osev_cares *bridge);

#ifdef __cplusplus
}
#endif

#endif /* OSEVENT_CARES_H */
