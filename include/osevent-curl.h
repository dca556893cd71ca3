/*
 * osevent-curl.h - libcurl's multi interface, driven by an osevent
 * context.
 *
 * SPDX-License-Identifier: MIT
 *
 * Link with libosevent-curl (pkg-config osevent-curl).  A bridge takes a
 * CURLM handle's socket and timer callbacks (CURLMOPT_SOCKETFUNCTION,
 * CURLMOPT_TIMERFUNCTION and their DATA): each socket libcurl asks to
 * watch becomes an fd watch of the context, its timeout one timer, and
 * the context's dispatch calls curl_multi_socket_action().  So whatever
 * drives the context drives the transfers: the built-in loop, a poll()
 * loop in pull mode, or any loop an adapter hosts it in.  Each transfer
 * that finishes is reported once, by a callback or as an event.
 *
 * What libcurl asks of such a driver, and what the bridge does:
 *  - curl_multi_socket_action() is never called from inside a libcurl
 *    callback: a timeout of 0 ("now") arms the timer due at once, which
 *    the next dispatch pass runs;
 *  - a socket is removed from the context when libcurl says
 *    CURL_POLL_REMOVE, before libcurl closes it, and never touched after;
 *  - after every call into libcurl, curl_multi_info_read() is drained and
 *    each CURLMSG_DONE reported.
 *
 * Threads: a multi handle is not thread-safe.  Everything about it -- the
 * bridge's calls into libcurl, which run from the context's dispatch, and
 * the application's own (curl_multi_add_handle(), curl_multi_remove_handle(),
 * curl_easy_pause() ...) -- must happen on the one thread that dispatches
 * the context.  The application's calls may in turn call the bridge's
 * socket and timer callbacks; that is expected.
 */
#ifndef OSEVENT_CURL_H
#define OSEVENT_CURL_H

#include <curl/curl.h>

#include <osevent.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct osev_curl osev_curl;

/* The name of the event type of a finished transfer (the payload is a
 * struct osev_curl_done): osev_event_type_get(ctx, OSEV_CURL_EVENT_DONE)
 * gives the type, before or after the attach. */
#define OSEV_CURL_EVENT_DONE "curl.done"

/*
 * The payload (ev->data) of a "curl.done" event.  ev->for_user is the
 * easy handle's CURLINFO_PRIVATE pointer (CURLOPT_PRIVATE), converted with
 * (uint64_t)(uintptr_t); 0 when none was set.
 */
struct osev_curl_done {
    CURLM *multi;    /* the multi handle the transfer ran in */
    CURL *easy;      /* still added to @multi: remove it (and clean it up)
                        when done with it; it has no further effect there */
    CURLcode result; /* the transfer's result: CURLE_OK, or why it failed */
};

/*
 * A finished transfer, reported by callback: @easy is still added to the
 * multi handle (remove it, clean it up, or reuse it), @result its
 * CURLcode, @arg what was given to osev_curl_attach().  Called from a
 * dispatch pass of the context, never from inside libcurl, so it may call
 * libcurl on the multi handle (curl_multi_remove_handle(),
 * curl_easy_cleanup(), curl_multi_add_handle() for a new transfer) and
 * osevent freely, osev_curl_detach() of @bridge included (no further call
 * is then made) and osev_ctx_free() (the other transfers that finished in
 * the same turn are still reported; then the bridge ends with the
 * context).
 */
typedef void osev_curl_done_cb(osev_curl *bridge, CURL *easy, CURLcode result,
                               void *arg);

/*
 * osev_curl_attach - let @ctx drive the transfers of @multi.
 * Sets @multi's CURLMOPT_SOCKETFUNCTION, CURLMOPT_SOCKETDATA,
 * CURLMOPT_TIMERFUNCTION and CURLMOPT_TIMERDATA, which the bridge then
 * owns: do not set them while it is attached.  The transfers @multi
 * already has go on where they are: the sockets they wait on are found
 * with curl_multi_fdset() and watched at once, and the next dispatch pass
 * runs every transfer once so that libcurl states afresh what it waits
 * for (a multi handle detached from another bridge, or driven by the
 * application's curl_multi_perform() meanwhile, is taken over as it is).
 * A socket numbered FD_SETSIZE or above, which curl_multi_fdset() cannot
 * report, is found only when libcurl next changes what it waits on it for.
 *
 * Finished transfers (CURLMSG_DONE): with @done non-NULL, each is reported
 * by done(bridge, easy, result, arg) from a dispatch pass, in the order
 * libcurl gives them.  With @done NULL, each is posted to @ctx as an event
 * of the type named OSEV_CURL_EVENT_DONE, for_user the easy handle's
 * CURLINFO_PRIVATE, payload a struct osev_curl_done; an event that cannot
 * be allocated is posted at a later pass, none is lost.  Several bridges
 * (several multi handles) may share one context and its "curl.done" type.
 *
 * Adding a transfer (curl_multi_add_handle()) needs no call to the
 * bridge: libcurl asks for a timeout of 0, the bridge arms its timer due
 * at once, and the next dispatch pass starts the transfer (the pass after
 * the running one, when added from a callback of @ctx).
 *
 * If the bridge cannot watch a socket libcurl asks for (-ENOMEM, or a
 * foreign loop's refusal in push mode), it tells libcurl so, which with
 * libcurl 7.81 or later fails every transfer of @multi with
 * CURLE_ABORTED_BY_CALLBACK; the bridge reports each as finished.  An
 * error of curl_multi_socket_action() itself (CURLM_OUT_OF_MEMORY ...)
 * is reported with osev_disaster(), for the "curl.done" type (0 with a
 * @done callback).
 *
 * Owns: the bridge, its fd watches and timer; freed by osev_curl_detach()
 * or by the end of @ctx.  @multi is the application's: it must outlive the
 * bridge (detach before curl_multi_cleanup()).  @bridge_out receives the
 * bridge.  A multi handle has one bridge at a time, and a context may host
 * any number.
 *
 * When: from the thread that dispatches @ctx, outside and inside its
 * callbacks; not from inside a libcurl callback of @multi (libcurl
 * refuses then: -EBUSY).
 *
 * Returns 0, -EINVAL (NULL @ctx, @multi or @bridge_out, or @multi not a
 * multi handle), -EBUSY (called from inside a libcurl callback of @multi),
 * -ENOMEM, -ENOSPC (@done NULL and every event type of @ctx has another
 * name), -ESTALE (@ctx is being freed: called from one of its releases),
 * or the error osev_fd_add() gives for a socket the transfers already use
 * (in push mode, a foreign loop's refusal).  On failure @multi is left as
 * it was.
 */
OSEV_EXPORT int osev_curl_attach(osev_ctx *ctx, CURLM *multi,
                                 osev_curl_done_cb *done, void *arg,
                                 osev_curl **bridge_out);

/*
 * osev_curl_detach - end @bridge: its watches and timer leave the context,
 * @multi's socket and timer callbacks and their DATA are reset to NULL,
 * the per-socket pointers it set with curl_multi_assign() to NULL, and the
 * bridge is freed (at the end of its own callback, when called from one).
 * The transfers are untouched: a later osev_curl_attach() (on this context
 * or another) goes on with them, or the application drives them itself
 * (curl_multi_perform() and curl_multi_poll()).  Finished transfers not yet
 * reported stay in libcurl's queue (curl_multi_info_read()); events
 * already posted stay queued.  NULL is fine.  Cannot fail.
 * When: as osev_curl_attach(); from a done callback too; not from a
 * release function that osev_ctx_free() runs.  Not after the context was
 * freed: osev_ctx_free() ends the bridge itself, as a detach would, and
 * frees it (so must not be called from inside a libcurl callback of
 * @multi either).  In a child of fork(), free the inherited context
 * rather than detach: a detach takes watches out of it.
 */
OSEV_EXPORT void osev_curl_detach(osev_curl *bridge);

#ifdef __cplusplus
}
#endif

#endif /* OSEVENT_CURL_H */
