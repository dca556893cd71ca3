/*
 * dbus.c - a libdbus connection served by an osevent context: the
 * connection's DBusWatches become osev_fd watches, its DBusTimeouts
 * osev_timers, and its messages are dispatched from a timer of the bridge.
 *
 * SPDX-License-Identifier: MIT
 *
 * libdbus calls its watch and timeout functions with the connection's
 * lock held, on whichever thread changed the connection (a send, a
 * blocking call, the loop's own dbus_watch_handle()), and its
 * dispatch-status function right after dropping it: none of them may
 * call back into the connection.  So they only touch the registry, which
 * is thread-safe, and the dispatching is done later, from a dispatch pass:
 *
 *  - Dispatching runs from a timer the bridge always holds, made due
 *    (deadline 0) by a DATA_REMAINS status.  A timer rather than an
 *    osev_defer() call: a deferred call cannot be withdrawn, and a detach
 *    must leave nothing pending in the context (nor a call that would run
 *    on a freed bridge).  A timer armed during a pass runs in a later one,
 *    so dispatching OSEV_DBUS_DISPATCH_MAX messages and re-arming lets
 *    every other callback of the context run in between.
 *  - The same timer tells the bridge that its context ended: its release
 *    runs from osev_ctx_free(), and the bridge then lets go of the
 *    connection as a detach would, without calling osevent again.
 *
 * Each DBusWatch or DBusTimeout has a record with two owners: libdbus,
 * through the object's data (its DBusFreeFunction drops that share, when
 * the remove function clears the data or when libdbus frees the object),
 * and osevent, through the release of the record's watch or timer, which
 * runs after the removal, from a clean stack, or from osev_ctx_free().
 * Whichever comes last frees the record; the release also clears the
 * record's handle, so a remove or toggle that libdbus sends after the
 * context ended does not touch a handle osevent has freed.
 */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "osevent-dbus.h"

/* How long a dispatch that ran out of memory waits before trying again. */
#define NEED_MEMORY_RETRY osev_ms(10)

struct osev_dbus {
    osev_ctx *ctx;
    DBusConnection *conn; /* referenced until the bridge ends */
    osev_timer *timer;    /* due while messages wait; NULL once released */
    int add_err;          /* why our add function told libdbus FALSE */
    bool ctx_ended;       /* the timer's release ran: no osevent call */
    unsigned depth;       /* our callbacks running (the dispatching thread) */
    bool detached;        /* let go of the connection: freed at depth 0 */
};

/* One DBusWatch (w) or DBusTimeout (t), see the top. */
struct rec {
    int refs;        /* atomic: libdbus's share and osevent's */
    osev_dbus *b;    /* for the callbacks, which end before the bridge */
    void *obj;       /* atomic: the DBusWatch/DBusTimeout, NULL once removed */
    osev_fd *w;      /* atomic: NULL once released */
    osev_timer *t;   /* atomic: NULL once released */
};

/*
 * The context whose bridge callback this thread is running, if any.
 * Changes made there are seen by the pass that follows; changes made
 * anywhere else (another thread, or the application's own code) wake the
 * context, since a poll() in pull mode does not see registry changes.
 */
static _Thread_local osev_ctx *serving;

/* The slot marking a connection as served (its value: the bridge). */
static dbus_int32_t slot = -1;
static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;

static void changed(osev_dbus *b)
{
    if (serving != b->ctx)
        osev_wakeup(b->ctx);
}

/* Around every call into libdbus from a callback of ours: a handler may
 * detach the bridge (even from its own connection), and the bridge's
 * memory must outlast the callback.  Returns what leave() restores. */
static osev_ctx *enter(osev_dbus *b)
{
    osev_ctx *outer = serving;

    serving = b->ctx;
    b->depth++;
    return outer;
}

static void leave(osev_dbus *b, osev_ctx *outer)
{
    serving = outer;
    if (--b->depth == 0 && b->detached)
        free(b);
}

/* ---- records ---- */

static struct rec *rec_new(osev_dbus *b, void *obj)
{
    struct rec *r = calloc(1, sizeof *r);

    if (r) {
        r->refs = 2;
        r->b = b;
        r->obj = obj;
    }
    return r;
}

/* libdbus's DBusFreeFunction for the object's data, and the last step
 * of osevent's release: drops one share. */
static void rec_drop(void *arg)
{
    struct rec *r = arg;

    if (__atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(r);
}

/* The release of the record's watch or timer: the handle is freed after
 * this, so forget it first. */
static void rec_released(void *arg)
{
    struct rec *r = arg;

    __atomic_store_n(&r->w, NULL, __ATOMIC_RELEASE);
    __atomic_store_n(&r->t, NULL, __ATOMIC_RELEASE);
    rec_drop(r);
}

/* ---- watches ---- */

/* A disabled watch is held with no events: it delivers nothing. */
static short watch_events(DBusWatch *watch)
{
    unsigned flags;

    if (!dbus_watch_get_enabled(watch))
        return 0;
    flags = dbus_watch_get_flags(watch);
    return (short)((flags & DBUS_WATCH_READABLE ? POLLIN : 0) |
                   (flags & DBUS_WATCH_WRITABLE ? POLLOUT : 0));
}

/* POLLNVAL (the fd was closed under the watch) is an error to libdbus,
 * which then disconnects; osevent mutes the watch after reporting it. */
static unsigned watch_flags(short revents)
{
    return (revents & POLLIN ? DBUS_WATCH_READABLE : 0u) |
           (revents & POLLOUT ? DBUS_WATCH_WRITABLE : 0u) |
           (revents & (POLLERR | POLLNVAL) ? DBUS_WATCH_ERROR : 0u) |
           (revents & POLLHUP ? DBUS_WATCH_HANGUP : 0u);
}

static void on_fd(osev_fd *w, int fd, short revents, void *arg)
{
    struct rec *r = arg;
    osev_dbus *b = r->b;
    DBusWatch *watch = __atomic_load_n(&r->obj, __ATOMIC_ACQUIRE);
    osev_ctx *outer;

    (void)w;
    (void)fd;
    if (!watch)
        return;
    outer = enter(b);
    /* FALSE is out of memory: the fd stays ready, and the next pass
     * tries again. */
    (void)dbus_watch_handle(watch, watch_flags(revents));
    leave(b, outer);
}

static dbus_bool_t add_watch(DBusWatch *watch, void *data)
{
    osev_dbus *b = data;
    struct rec *r;
    int e;

    if (b->ctx_ended)
        return FALSE;
    r = rec_new(b, watch);
    if (!r) {
        b->add_err = -ENOMEM;
        return FALSE;
    }
    e = osev_fd_add(b->ctx, dbus_watch_get_unix_fd(watch),
                    watch_events(watch), on_fd, r, &r->w);
    if (e < 0) {
        free(r);
        b->add_err = e;
        return FALSE;
    }
    osev_fd_set_release(r->w, rec_released);
    dbus_watch_set_data(watch, r, rec_drop);
    changed(b);
    return TRUE;
}

static void remove_watch(DBusWatch *watch, void *data)
{
    struct rec *r = dbus_watch_get_data(watch);

    (void)data;
    if (!r)
        return;
    __atomic_store_n(&r->obj, NULL, __ATOMIC_RELEASE);
    /* Not called again from here on; NULL: released with its context. */
    osev_fd_remove(__atomic_load_n(&r->w, __ATOMIC_ACQUIRE));
    dbus_watch_set_data(watch, NULL, NULL); /* rec_drop: libdbus's share */
}

/*
 * libdbus gives no way to report a failure here.  A modify fails only
 * when the poller refuses the change (epoll_ctl(), or a foreign loop the
 * context is attached to, out of memory): the watch then keeps its old
 * events until libdbus toggles it again; libdbus also writes directly
 * from every send, so a write watch left off delays, and does not lose,
 * what is queued.
 */
static void toggle_watch(DBusWatch *watch, void *data)
{
    struct rec *r = dbus_watch_get_data(watch);
    osev_fd *w;

    if (!r)
        return;
    w = __atomic_load_n(&r->w, __ATOMIC_ACQUIRE);
    if (w && osev_fd_modify(w, watch_events(watch)) == 0)
        changed(data);
}

/* ---- timeouts ---- */

static osev_time timeout_deadline(DBusTimeout *timeout, osev_time now)
{
    if (!dbus_timeout_get_enabled(timeout))
        return OSEV_TIME_INFINITY;
    return now + osev_ms(dbus_timeout_get_interval(timeout));
}

/*
 * libdbus's timeouts repeat until disabled or removed: the next expiry is
 * set before the handler runs, so that whatever the handler does to its
 * timeout (a pending call's removes it) wins.
 */
static void on_timeout(osev_timer *t, osev_time now, void *arg)
{
    struct rec *r = arg;
    osev_dbus *b = r->b;
    DBusTimeout *timeout = __atomic_load_n(&r->obj, __ATOMIC_ACQUIRE);
    osev_ctx *outer;

    if (!timeout)
        return;
    osev_timer_set(t, timeout_deadline(timeout, now));
    outer = enter(b);
    (void)dbus_timeout_handle(timeout); /* FALSE: out of memory, retried */
    leave(b, outer);
}

static dbus_bool_t add_timeout(DBusTimeout *timeout, void *data)
{
    osev_dbus *b = data;
    struct rec *r;
    int e;

    if (b->ctx_ended)
        return FALSE;
    r = rec_new(b, timeout);
    if (!r) {
        b->add_err = -ENOMEM;
        return FALSE;
    }
    e = osev_timer_add(b->ctx, timeout_deadline(timeout, osev_now()),
                       on_timeout, r, &r->t);
    if (e < 0) {
        free(r);
        b->add_err = e;
        return FALSE;
    }
    osev_timer_set_release(r->t, rec_released);
    dbus_timeout_set_data(timeout, r, rec_drop);
    changed(b);
    return TRUE;
}

static void remove_timeout(DBusTimeout *timeout, void *data)
{
    struct rec *r = dbus_timeout_get_data(timeout);

    (void)data;
    if (!r)
        return;
    __atomic_store_n(&r->obj, NULL, __ATOMIC_RELEASE);
    osev_timer_remove(__atomic_load_n(&r->t, __ATOMIC_ACQUIRE));
    dbus_timeout_set_data(timeout, NULL, NULL);
}

/* Enabled again: the interval counts from now. */
static void toggle_timeout(DBusTimeout *timeout, void *data)
{
    struct rec *r = dbus_timeout_get_data(timeout);
    osev_timer *t;

    if (!r)
        return;
    t = __atomic_load_n(&r->t, __ATOMIC_ACQUIRE);
    if (t && osev_timer_set(t, timeout_deadline(timeout, osev_now())) == 0)
        changed(data);
}

/* ---- dispatching ---- */

/* Make the bridge's timer due for @status (not COMPLETE); false if the
 * timer is gone with its context. */
static bool want_dispatch(osev_dbus *b, DBusDispatchStatus status,
                          osev_time now)
{
    osev_time at = 0; /* due at the next pass */

    if (status == DBUS_DISPATCH_NEED_MEMORY)
        at = (now ? now : osev_now()) + NEED_MEMORY_RETRY;
    return b->timer && osev_timer_set(b->timer, at) == 0;
}

static void on_dispatch(osev_timer *t, osev_time now, void *arg)
{
    osev_dbus *b = arg;
    DBusDispatchStatus status = DBUS_DISPATCH_DATA_REMAINS;
    osev_ctx *outer = enter(b);

    (void)t;
    for (int n = 0; n < OSEV_DBUS_DISPATCH_MAX && !b->detached &&
                    status == DBUS_DISPATCH_DATA_REMAINS;
         n++)
        status = dbus_connection_dispatch(b->conn);
    /* More than one pass's worth, or no memory: come back later. */
    if (!b->detached && status != DBUS_DISPATCH_COMPLETE)
        want_dispatch(b, status, now);
    leave(b, outer);
}

/* Called without libdbus's lock, but possibly from inside its calls
 * (dbus_watch_handle(), another thread's blocking call): only arm. */
static void dispatch_status(DBusConnection *conn, DBusDispatchStatus status,
                            void *data)
{
    osev_dbus *b = data;

    (void)conn;
    if (status != DBUS_DISPATCH_COMPLETE && want_dispatch(b, status, 0))
        changed(b);
}

/* Another thread queued something to send. */
static void wakeup_main(void *data)
{
    changed(data);
}

/* ---- attach and detach ---- */

/* Each bridge holds one reference on the slot (libdbus counts them). */
static int slot_claim(DBusConnection *conn, osev_dbus *b)
{
    int r = 0;

    pthread_mutex_lock(&slot_lock);
    if (!dbus_connection_allocate_data_slot(&slot)) {
        pthread_mutex_unlock(&slot_lock);
        return -ENOMEM;
    }
    if (dbus_connection_get_data(conn, slot))
        r = -EBUSY;
    else if (!dbus_connection_set_data(conn, slot, b, NULL))
        r = -ENOMEM;
    if (r < 0)
        dbus_connection_free_data_slot(&slot);
    pthread_mutex_unlock(&slot_lock);
    return r;
}

static void slot_release(DBusConnection *conn)
{
    pthread_mutex_lock(&slot_lock);
    dbus_connection_set_data(conn, slot, NULL, NULL);
    dbus_connection_free_data_slot(&slot);
    pthread_mutex_unlock(&slot_lock);
}

/* Leave the connection with no function of ours, then let go of it. */
static void withdraw(osev_dbus *b)
{
    DBusConnection *conn = b->conn;

    dbus_connection_set_dispatch_status_function(conn, NULL, NULL, NULL);
    dbus_connection_set_wakeup_main_function(conn, NULL, NULL, NULL);
    /* libdbus calls remove_watch and remove_timeout for each it gave. */
    dbus_connection_set_watch_functions(conn, NULL, NULL, NULL, NULL, NULL);
    dbus_connection_set_timeout_functions(conn, NULL, NULL, NULL, NULL,
                                          NULL);
    slot_release(conn);
    dbus_connection_unref(conn);
    b->detached = true;
}

/* The context ended (osev_ctx_free()): the timer goes after this. */
static void on_ctx_end(void *arg)
{
    osev_dbus *b = arg;

    b->ctx_ended = true;
    b->timer = NULL;
    withdraw(b);
    if (b->depth == 0)
        free(b);
}

OSEV_EXPORT int osev_dbus_attach(osev_ctx *ctx, DBusConnection *conn,
                                 osev_dbus **bridge_out)
{
    DBusDispatchStatus status;
    osev_ctx *outer;
    osev_dbus *b;
    int r;

    if (!ctx || !conn || !bridge_out)
        return -EINVAL;
    b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    b->ctx = ctx;
    b->conn = conn;
    r = slot_claim(conn, b);
    if (r < 0)
        goto fail_free;
    r = osev_timer_add(ctx, OSEV_TIME_INFINITY, on_dispatch, b, &b->timer);
    if (r < 0)
        goto fail_slot;
    dbus_connection_ref(conn);
    /* Attaching happens where the context is dispatched, or where nothing
     * dispatches it: what it registers needs no wakeup. */
    outer = serving;
    serving = ctx;
    b->add_err = -ENOMEM;
    if (!dbus_connection_set_watch_functions(conn, add_watch, remove_watch,
                                             toggle_watch, b, NULL)) {
        r = b->add_err;
        goto fail_ref;
    }
    b->add_err = -ENOMEM;
    if (!dbus_connection_set_timeout_functions(conn, add_timeout,
                                               remove_timeout, toggle_timeout,
                                               b, NULL)) {
        r = b->add_err;
        goto fail_watches;
    }
    dbus_connection_set_wakeup_main_function(conn, wakeup_main, b, NULL);
    dbus_connection_set_dispatch_status_function(conn, dispatch_status, b,
                                                 NULL);
    osev_timer_set_release(b->timer, on_ctx_end);
    /* The status function reports changes only: messages read before
     * (by dbus_bus_register(), a blocking call) are waiting already. */
    status = dbus_connection_get_dispatch_status(conn);
    if (status != DBUS_DISPATCH_COMPLETE)
        want_dispatch(b, status, 0);
    serving = outer;
    *bridge_out = b;
    return 0;

fail_watches:
    dbus_connection_set_watch_functions(conn, NULL, NULL, NULL, NULL, NULL);
fail_ref:
    serving = outer;
    dbus_connection_unref(conn);
    osev_timer_remove(b->timer);
fail_slot:
    slot_release(conn);
fail_free:
    free(b);
    return r;
}

OSEV_EXPORT void osev_dbus_detach(osev_dbus *bridge)
{
    if (!bridge)
        return;
    withdraw(bridge);
    /* Its release would say the context ended: the bridge ends here. */
    osev_timer_set_release(bridge->timer, NULL);
    osev_timer_remove(bridge->timer);
    if (bridge->depth == 0)
        free(bridge);
}
