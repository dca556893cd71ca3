/*
 * osevent-dbus.h - a libdbus connection served by an osevent context.
 *
 * SPDX-License-Identifier: MIT
 *
 * Link with libosevent-dbus (pkg-config osevent-dbus).  A DBusConnection
 * has sockets and timeouts of its own and asks its application to watch
 * them (dbus_connection_set_watch_functions() and friends).  The bridge
 * answers those requests with the context's registry: each DBusWatch
 * becomes an osev_fd watch, each DBusTimeout an osev_timer, and the
 * connection's incoming messages are dispatched from a dispatch pass of
 * the context.  Whatever drives the context then serves the connection:
 * osev_event_wait(), the built-in loop, a poll() loop in pull mode, or
 * any event library through its adapter (osevent-glib.h, ...).  Several
 * connections, of one process or bus or not, may share one context, and
 * with them any other bridge or producer.
 *
 * What the bridge does, in libdbus's terms:
 *
 *  - A DBusWatch becomes a watch of its fd (dbus_watch_get_unix_fd())
 *    for POLLIN and/or POLLOUT as its flags say, or for nothing while it
 *    is disabled; libdbus keeps a read and a write DBusWatch on one
 *    socket, and osevent merges them into one entry.  Readiness is handed
 *    to dbus_watch_handle() with DBUS_WATCH_READABLE, _WRITABLE, _ERROR
 *    (POLLERR, POLLNVAL) and _HANGUP (POLLHUP) as they happened.
 *  - A DBusTimeout becomes a timer due its interval after it was added or
 *    enabled, and again one interval after each expiry (libdbus's
 *    timeouts repeat until disabled or removed); it calls
 *    dbus_timeout_handle().  This is what times out the replies of
 *    dbus_connection_send_with_reply().
 *  - Messages are dispatched with dbus_connection_dispatch(), never from
 *    inside libdbus's own callbacks (where libdbus holds its locks) but
 *    from a timer of the bridge that is made due whenever the dispatch
 *    status says DBUS_DISPATCH_DATA_REMAINS, at attach time too, since
 *    messages may be queued already.  At most OSEV_DBUS_DISPATCH_MAX
 *    messages are dispatched in one pass; the rest wait for the next, so
 *    one busy connection cannot hold the context's other work.  (A libuv
 *    loop older than 1.45 runs a timer made due again from its own
 *    callback within the same turn: there the context's fds wait until
 *    the backlog is dispatched, its timers do not.)  With
 *    DBUS_DISPATCH_NEED_MEMORY the dispatch is tried again 10 ms later.
 *    Your handlers (filters, object paths, pending-call notifications)
 *    run from there: as callbacks of the context.
 *  - When another thread queues a message (libdbus's wakeup-main
 *    function), or changes the connection's watches, timeouts or
 *    dispatch status from outside the bridge's callbacks, the context is
 *    woken (osev_wakeup()), so a poll() in pull mode sees the change.
 */
#ifndef OSEVENT_DBUS_H
#define OSEVENT_DBUS_H

#include <dbus/dbus.h>

#include <osevent.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The most messages a bridge dispatches in one dispatch pass. */
#define OSEV_DBUS_DISPATCH_MAX 32

typedef struct osev_dbus osev_dbus;

/*
 * osev_dbus_attach - serve @conn from @ctx: sets the connection's watch,
 * timeout, wakeup-main and dispatch-status functions (see the top of this
 * header), registers every watch and timeout the connection already has
 * at once, all or none, and makes the bridge's timer due if messages are
 * already waiting to be dispatched.
 *
 * Owns: a reference on @conn (dbus_connection_ref()), held until the
 * bridge ends, so the connection stays valid while attached; the caller
 * keeps its own reference and its duty to close a private connection
 * before its last unref.  The bridge's watches and timers, and one
 * always-held timer whose release tells the bridge that @ctx ended; a
 * connection data slot (dbus_connection_allocate_data_slot()) marking
 * @conn as attached.  @ctx is not owned.
 *
 * The bridge ends with osev_dbus_detach(), or with osev_ctx_free() of
 * @ctx: then it lets go of the connection as osev_dbus_detach() would,
 * from that call, and *bridge_out must no longer be used.  In both cases
 * @conn is left with no function of ours, its messages, pending calls,
 * filters and objects intact: a new bridge, on this or another context,
 * may serve it again.
 *
 * While attached, do not set the connection's watch, timeout,
 * wakeup-main or dispatch-status functions yourself, and do not
 * dispatch it yourself (dbus_connection_dispatch(),
 * dbus_connection_read_write_dispatch()).  Sending, blocking calls
 * (dbus_connection_send_with_reply_and_block()) and flushing are fine.
 *
 * Threads: the bridge's callbacks, and so your message handlers, run on
 * the thread that dispatches @ctx.  libdbus calls the bridge from
 * whichever thread uses the connection: other threads may send on @conn
 * and make blocking calls if @ctx was made without
 * OSEV_CTX_SINGLE_THREAD and whatever drives @ctx accepts registry
 * changes from another thread (the built-in loop, pull mode and the
 * aggregate fd do, and so do the GLib and libvirt adapters; the others
 * say so in their headers: with a libuv, libev, tevent, libverto or
 * sd-event loop, use @conn on the loop's thread only).
 * Closing @conn, attach, detach and osev_ctx_free() belong on the thread
 * that dispatches @ctx, or where nothing dispatches it, with no other
 * thread using @conn meanwhile: libdbus offers no way to keep a
 * DBusWatch alive while the loop is about to handle it.  May be called
 * from a callback of @ctx (a message handler of another connection
 * included); not from inside an osevent hook nor from a libdbus
 * watch, timeout or dispatch-status function.
 *
 * Fork: a libdbus connection cannot be used on both sides of fork().  In
 * a child, the only use of an inherited, attached context is
 * osev_ctx_free(): the bridge then resets the functions of the child's
 * copy of @conn and drops its reference on it, in the child's memory
 * only (nothing is written to the socket while the child's own reference
 * keeps the copy alive).
 *
 * @bridge_out: receives the bridge, the caller's until osev_dbus_detach()
 *   or osev_ctx_free() of @ctx; written only on success.
 * Returns 0; -EINVAL (@ctx, @conn or @bridge_out NULL); -EBUSY (@conn is
 * already served by a bridge); -ENOMEM; -ESTALE (@ctx is being freed:
 * called from a release that osev_ctx_free() runs); -EBADF (a watch's fd
 * is not open); or the error of a loop the context is attached to that
 * refused a watch or a timeout, as osev_fd_add() and osev_timer_add()
 * return it (-EEXIST, -EPERM...).  On failure @conn has no function of
 * the bridge's and @ctx holds nothing of it.
 */
OSEV_EXPORT int osev_dbus_attach(osev_ctx *ctx, DBusConnection *conn,
                                 osev_dbus **bridge_out);

/*
 * osev_dbus_detach - stop serving the bridge's connection: its four
 * function pairs are set back to NULL (libdbus then removes every watch
 * and timeout it had given, and the bridge takes each out of the
 * context), the bridge's own timer is removed and its reference on the
 * connection dropped.  Messages already read and not yet dispatched stay
 * queued in the connection, pending calls stay pending, and replies that
 * arrive meanwhile wait in the socket: a bridge attached later (on any
 * context) serves them.  The context's registry holds nothing of the
 * bridge afterwards.  NULL is fine; a bridge whose context was freed is
 * gone already and must not be passed.  Cannot fail.
 *
 * May be called from a message handler the bridge runs, its own
 * connection's included: no further message is dispatched after that one
 * returns, and the bridge's memory goes once its callback returns.  Same
 * threads as osev_dbus_attach().
 */
OSEV_EXPORT void osev_dbus_detach(osev_dbus *bridge);

#ifdef __cplusplus
}
#endif

#endif /* OSEVENT_DBUS_H */
