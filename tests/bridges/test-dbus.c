/*
 * test-dbus.c - the dbus bridge in every host (host.h), on a private
 * dbus-daemon this test starts and stops.
 *
 * Two connections on one context, through two bridges: a server that
 * exports an object (an echo, a method that fails, one that emits a
 * signal, one that never answers) and a client that calls it with
 * pending calls and receives the signal through a match rule and a
 * filter.  What each part shows:
 *   - replies, error replies and the signal reach the right handlers:
 *     watches are served both ways, dispatching happens;
 *   - a call to a name nobody owns gets the bus's ServiceUnknown, and a
 *     call nobody answers gets NoReply once its 200 ms run out: libdbus's
 *     timeouts are served;
 *   - messages queued before attach are dispatched (the status is looked
 *     at on attach), at most OSEV_DBUS_DISPATCH_MAX per pass, in order,
 *     and a handler may detach its own bridge: nothing more is
 *     dispatched, and a later bridge goes on from the next message;
 *   - a detach with a call in flight leaves it pending: its reply, which
 *     arrives while nothing serves the connection, is delivered once a
 *     new bridge is attached;
 *   - osev_ctx_free() without a detach leaves the connection with no
 *     function of ours (it can be used, attached elsewhere, closed);
 *   - another thread may make blocking calls on a served connection,
 *     and a call it starts wakes a loop blocked in poll() (its timeout
 *     is new to the loop), where the host accepts registry changes from
 *     another thread;
 *   - after each detach the context holds nothing (host_assert_empty).
 * Each cell of the main scenario prints one line for the matrix.
 */
#include "testutil.h"
#include "host.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "osevent-dbus.h"

#define OBJ_PATH "/org/osevent/Test"
#define IFACE "org.osevent.Test"
#define ERR_FAILED "org.osevent.Test.Error.Failed"
#define MATCH "type='signal',interface='" IFACE "'"
#define NOBODY "org.osevent.Nobody"
#define FLOOD 100
#define RUN_MS 20000

/* ------------------------------------------------------------------ */
/* The private bus                                                     */
/* ------------------------------------------------------------------ */

static char bus_dir[] = "/tmp/osev-dbus-XXXXXX";
static char bus_conf[sizeof bus_dir + 16];
static char bus_sock[sizeof bus_dir + 16];
static char bus_address[1024];
static pid_t bus_pid;

/* A session-like bus on a socket of ours: no activation (no service
 * directory), anyone may talk to anyone. */
static const char bus_config[] =
    "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus "
    "Configuration 1.0//EN\"\n"
    " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
    "<busconfig>\n"
    "  <type>session</type>\n"
    "  <listen>unix:path=%s</listen>\n"
    "  <auth>EXTERNAL</auth>\n"
    "  <policy context=\"default\">\n"
    "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
    "    <allow eavesdrop=\"true\"/>\n"
    "    <allow own=\"*\"/>\n"
    "  </policy>\n"
    "</busconfig>\n";

/* Start dbus-daemon and read its address from the pipe it prints to:
 * once printed, it listens.  false if it could not start. */
static bool bus_start(void)
{
    char arg[sizeof bus_conf + 16];
    size_t len = 0;
    int p[2];
    FILE *f;

    if (!mkdtemp(bus_dir))
        return false;
    snprintf(bus_conf, sizeof bus_conf, "%s/bus.conf", bus_dir);
    snprintf(bus_sock, sizeof bus_sock, "%s/bus", bus_dir);
    snprintf(arg, sizeof arg, "--config-file=%s", bus_conf);
    f = fopen(bus_conf, "w");
    if (!f)
        return false;
    fprintf(f, bus_config, bus_sock);
    if (fclose(f) != 0 || pipe2(p, O_CLOEXEC) < 0)
        return false;
    bus_pid = fork();
    if (bus_pid < 0)
        return false;
    if (bus_pid == 0) {
        /* Gone with the test, whatever way it ends. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (dup2(p[1], STDOUT_FILENO) < 0)
            _exit(127);
        execl(OSEV_DBUS_DAEMON, "dbus-daemon", arg, "--nofork",
              "--nopidfile", "--print-address", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    while (len < sizeof bus_address - 1) {
        ssize_t n = read(p[0], bus_address + len, sizeof bus_address - 1 - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (memchr(bus_address, '\n', len))
            break;
    }
    close(p[0]);
    bus_address[len] = '\0';
    bus_address[strcspn(bus_address, "\n")] = '\0';
    return bus_address[0] != '\0';
}

static void bus_stop(void)
{
    if (bus_pid > 0) {
        kill(bus_pid, SIGTERM);
        while (waitpid(bus_pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    unlink(bus_sock);
    unlink(bus_conf);
    rmdir(bus_dir);
}

static DBusConnection *bus_connect(void)
{
    DBusError err;
    DBusConnection *c;

    dbus_error_init(&err);
    c = dbus_connection_open_private(bus_address, &err);
    ck_assert_msg(c != NULL, "open %s: %s", bus_address, err.message);
    ck_assert_msg(dbus_bus_register(c, &err), "register: %s", err.message);
    dbus_connection_set_exit_on_disconnect(c, FALSE);
    return c;
}

static void bus_disconnect(DBusConnection *c)
{
    dbus_connection_close(c);
    dbus_connection_unref(c);
}

/* ------------------------------------------------------------------ */
/* The server: an object with four methods                             */
/* ------------------------------------------------------------------ */

struct server {
    int echoes, fails, emits, nevers;
};

static const char *string_arg(DBusMessage *m)
{
    const char *s = NULL;

    ck_assert(dbus_message_get_args(m, NULL, DBUS_TYPE_STRING, &s,
                                    DBUS_TYPE_INVALID));
    return s;
}

static DBusHandlerResult server_message(DBusConnection *c, DBusMessage *m,
                                        void *arg)
{
    struct server *s = arg;
    DBusMessage *reply;

    if (dbus_message_is_method_call(m, IFACE, "Echo")) {
        const char *text = string_arg(m);

        reply = dbus_message_new_method_return(m);
        ck_assert(dbus_message_append_args(reply, DBUS_TYPE_STRING, &text,
                                           DBUS_TYPE_INVALID));
        s->echoes++;
    } else if (dbus_message_is_method_call(m, IFACE, "Fail")) {
        reply = dbus_message_new_error(m, ERR_FAILED, "failed on purpose");
        s->fails++;
    } else if (dbus_message_is_method_call(m, IFACE, "Emit")) {
        const char *text = string_arg(m);
        dbus_int32_t number = 42;
        DBusMessage *sig = dbus_message_new_signal(OBJ_PATH, IFACE, "Pinged");

        ck_assert(dbus_message_append_args(sig, DBUS_TYPE_STRING, &text,
                                           DBUS_TYPE_INT32, &number,
                                           DBUS_TYPE_INVALID));
        ck_assert(dbus_connection_send(c, sig, NULL));
        dbus_message_unref(sig);
        reply = dbus_message_new_method_return(m);
        s->emits++;
    } else if (dbus_message_is_method_call(m, IFACE, "Never")) {
        s->nevers++;
        return DBUS_HANDLER_RESULT_HANDLED; /* and no reply, ever */
    } else {
        return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
    }
    ck_assert_ptr_nonnull(reply);
    ck_assert(dbus_connection_send(c, reply, NULL));
    dbus_message_unref(reply);
    return DBUS_HANDLER_RESULT_HANDLED;
}

static const DBusObjectPathVTable server_vtable = {
    .message_function = server_message,
};

static void server_export(DBusConnection *c, struct server *s)
{
    ck_assert(dbus_connection_register_object_path(c, OBJ_PATH,
                                                   &server_vtable, s));
}

/* ------------------------------------------------------------------ */
/* The client: pending calls and a signal filter                       */
/* ------------------------------------------------------------------ */

struct call {
    DBusPendingCall *pending;
    bool done;
    int type;       /* DBUS_MESSAGE_TYPE_METHOD_RETURN or _ERROR */
    char error[128];
    char text[64];
};

static void call_done(DBusPendingCall *p, void *arg)
{
    struct call *c = arg;
    DBusMessage *reply = dbus_pending_call_steal_reply(p);
    const char *text = NULL;

    ck_assert_ptr_nonnull(reply);
    ck_assert(!c->done);
    c->type = dbus_message_get_type(reply);
    if (c->type == DBUS_MESSAGE_TYPE_ERROR)
        snprintf(c->error, sizeof c->error, "%s",
                 dbus_message_get_error_name(reply));
    else if (dbus_message_get_args(reply, NULL, DBUS_TYPE_STRING, &text,
                                   DBUS_TYPE_INVALID))
        snprintf(c->text, sizeof c->text, "%s", text);
    dbus_message_unref(reply);
    c->done = true;
}

static void call_start(DBusConnection *conn, struct call *c, const char *dest,
                       const char *method, const char *text, int timeout_ms)
{
    DBusMessage *m = dbus_message_new_method_call(dest, OBJ_PATH, IFACE,
                                                  method);

    memset(c, 0, sizeof *c);
    ck_assert_ptr_nonnull(m);
    if (text)
        ck_assert(dbus_message_append_args(m, DBUS_TYPE_STRING, &text,
                                           DBUS_TYPE_INVALID));
    ck_assert(dbus_connection_send_with_reply(conn, m, &c->pending,
                                              timeout_ms));
    ck_assert_ptr_nonnull(c->pending);
    ck_assert(dbus_pending_call_set_notify(c->pending, call_done, c, NULL));
    dbus_message_unref(m);
}

static void call_end(struct call *c)
{
    if (!c->pending)
        return;
    if (!c->done)
        dbus_pending_call_cancel(c->pending);
    dbus_pending_call_unref(c->pending);
    c->pending = NULL;
}

static void assert_reply(const struct call *c, const char *text)
{
    ck_assert(c->done);
    ck_assert_int_eq(c->type, DBUS_MESSAGE_TYPE_METHOD_RETURN);
    ck_assert_str_eq(c->text, text);
}

static void assert_error(const struct call *c, const char *name)
{
    ck_assert(c->done);
    ck_assert_int_eq(c->type, DBUS_MESSAGE_TYPE_ERROR);
    ck_assert_str_eq(c->error, name);
}

struct client {
    int signals;
    char text[64];
    dbus_int32_t number;
};

static DBusHandlerResult client_filter(DBusConnection *c, DBusMessage *m,
                                       void *arg)
{
    struct client *cl = arg;
    const char *text = NULL;

    (void)c;
    if (!dbus_message_is_signal(m, IFACE, "Pinged"))
        return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
    ck_assert(dbus_message_get_args(m, NULL, DBUS_TYPE_STRING, &text,
                                    DBUS_TYPE_INT32, &cl->number,
                                    DBUS_TYPE_INVALID));
    snprintf(cl->text, sizeof cl->text, "%s", text);
    cl->signals++;
    return DBUS_HANDLER_RESULT_HANDLED;
}

/* ------------------------------------------------------------------ */
/* The scenario                                                        */
/* ------------------------------------------------------------------ */

struct scenario {
    struct call echo, fail, emit, unknown, never;
    struct client client;
};

static bool scenario_done(void *arg)
{
    struct scenario *sc = arg;

    return sc->echo.done && sc->fail.done && sc->emit.done &&
           sc->unknown.done && sc->never.done && sc->client.signals > 0;
}

START_TEST(calls_errors_timeouts_and_a_signal)
{
    struct host *h = host_open(host_names[_i]);
    DBusConnection *srv = bus_connect(), *cli = bus_connect();
    const char *dest = dbus_bus_get_unique_name(srv);
    struct server server = { 0 };
    struct scenario sc;
    osev_dbus *bs, *bc;
    struct call *all[] = { &sc.echo, &sc.fail, &sc.emit, &sc.unknown,
                           &sc.never };
    int replies = 0, errors = 0, noreply = 0;

    memset(&sc, 0, sizeof sc);
    server_export(srv, &server);
    ck_assert(dbus_connection_add_filter(cli, client_filter, &sc.client,
                                         NULL));
    /* Without a DBusError this does not block; the bus handles it before
     * the calls below, which the same connection sends after it. */
    dbus_bus_add_match(cli, MATCH, NULL);
    ck_assert_osev_ok(osev_dbus_attach(host_ctx(h), srv, &bs));
    ck_assert_osev_ok(osev_dbus_attach(host_ctx(h), cli, &bc));

    call_start(cli, &sc.echo, dest, "Echo", "hello", DBUS_TIMEOUT_USE_DEFAULT);
    call_start(cli, &sc.fail, dest, "Fail", NULL, DBUS_TIMEOUT_USE_DEFAULT);
    call_start(cli, &sc.emit, dest, "Emit", "ping", DBUS_TIMEOUT_USE_DEFAULT);
    call_start(cli, &sc.unknown, NOBODY, "Echo", "anyone?",
               DBUS_TIMEOUT_USE_DEFAULT);
    call_start(cli, &sc.never, dest, "Never", NULL, 200);
    ck_assert(host_run_until(h, scenario_done, &sc, RUN_MS));

    assert_reply(&sc.echo, "hello");
    assert_error(&sc.fail, ERR_FAILED);
    assert_reply(&sc.emit, "");
    assert_error(&sc.unknown, DBUS_ERROR_SERVICE_UNKNOWN);
    /* It reached the server, which kept quiet: the timeout ended it. */
    assert_error(&sc.never, DBUS_ERROR_NO_REPLY);
    ck_assert_int_eq(server.echoes, 1);
    ck_assert_int_eq(server.fails, 1);
    ck_assert_int_eq(server.emits, 1);
    ck_assert_int_eq(server.nevers, 1);
    ck_assert_int_eq(sc.client.signals, 1);
    ck_assert_str_eq(sc.client.text, "ping");
    ck_assert_int_eq(sc.client.number, 42);

    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (all[i]->type == DBUS_MESSAGE_TYPE_METHOD_RETURN)
            replies++;
        else if (strcmp(all[i]->error, DBUS_ERROR_NO_REPLY) == 0)
            noreply++;
        else
            errors++;
        call_end(all[i]);
    }
    printf("dbus x %s: %d calls (%d replies, %d errors, %d no reply), "
           "%d signal\n",
           host_name(h), (int)(sizeof all / sizeof all[0]), replies, errors,
           noreply, sc.client.signals);
    fflush(stdout);

    osev_dbus_detach(bc);
    osev_dbus_detach(bs);
    host_assert_empty(h);
    bus_disconnect(cli);
    bus_disconnect(srv);
    host_close(h);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Detach with a call in flight                                        */
/* ------------------------------------------------------------------ */

static bool echoed(void *arg)
{
    return ((struct server *)arg)->echoes > 0;
}

static bool call_finished(void *arg)
{
    return ((struct call *)arg)->done;
}

START_TEST(detach_with_a_call_in_flight)
{
    struct host *h = host_open(host_names[_i]);
    DBusConnection *srv = bus_connect(), *cli = bus_connect();
    struct server server = { 0 };
    struct call late;
    osev_dbus *bs, *bc;

    server_export(srv, &server);
    ck_assert_osev_ok(osev_dbus_attach(host_ctx(h), srv, &bs));
    ck_assert_osev_ok(osev_dbus_attach(host_ctx(h), cli, &bc));
    call_start(cli, &late, dbus_bus_get_unique_name(srv), "Echo", "late",
               DBUS_TIMEOUT_USE_DEFAULT);
    /* Sent (libdbus writes at once), not answered yet. */
    osev_dbus_detach(bc);
    ck_assert(host_run_until(h, echoed, &server, RUN_MS));
    /* Answered; the reply is on its way to a connection nothing serves. */
    ck_assert(!late.done);
    osev_dbus_detach(bs);
    host_assert_empty(h);

    ck_assert_osev_ok(osev_dbus_attach(host_ctx(h), cli, &bc));
    ck_assert(host_run_until(h, call_finished, &late, RUN_MS));
    assert_reply(&late, "late");
    ck_assert_int_eq(server.echoes, 1);
    osev_dbus_detach(bc);
    host_assert_empty(h);

    call_end(&late);
    bus_disconnect(cli);
    bus_disconnect(srv);
    host_close(h);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The context freed under attached bridges                            */
/* ------------------------------------------------------------------ */

START_TEST(context_freed_without_detach)
{
    struct host *h = host_open(host_names[_i]);
    DBusConnection *srv = bus_connect(), *cli = bus_connect();
    const char *dest = dbus_bus_get_unique_name(srv);
    struct server server = { 0 };
    struct call echo, never;
    osev_dbus *bs, *bc;
    DBusError err;
    char *id;

    server_export(srv, &server);
    ck_assert_osev_ok(osev_dbus_attach(host_ctx(h), srv, &bs));
    ck_assert_osev_ok(osev_dbus_attach(host_ctx(h), cli, &bc));
    call_start(cli, &echo, dest, "Echo", "before", DBUS_TIMEOUT_USE_DEFAULT);
    ck_assert(host_run_until(h, call_finished, &echo, RUN_MS));
    assert_reply(&echo, "before");
    /* A call in flight: its timeout is one of the bridge's timers. */
    call_start(cli, &never, dest, "Never", NULL, 60000);

    host_close(h); /* osev_ctx_free(): both bridges end there */

    /* Nothing of ours is left in the connections: a blocking call makes
     * libdbus add and remove a timeout and toggle watches (valgrind would
     * see a call into the freed bridge), and each connection may be
     * served again (its data slot was let go). */
    dbus_error_init(&err);
    id = dbus_bus_get_id(cli, &err);
    ck_assert_msg(id != NULL, "GetId: %s", err.message);
    dbus_free(id);
    h = host_open(host_names[_i]);
    ck_assert_osev_ok(osev_dbus_attach(host_ctx(h), cli, &bc));
    ck_assert_osev_ok(osev_dbus_attach(host_ctx(h), srv, &bs));
    osev_dbus_detach(bs);
    osev_dbus_detach(bc);
    host_assert_empty(h);
    host_close(h);

    ck_assert(!never.done);
    call_end(&never);
    call_end(&echo);
    bus_disconnect(cli);
    bus_disconnect(srv);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Queued before attach; the bound per pass; detach from a handler     */
/* ------------------------------------------------------------------ */

struct flood {
    osev_dbus *bridge;
    osev_timer *ticker;
    unsigned tick;      /* passes, counted by a timer due at every one */
    unsigned last_tick; /* the pass of the last message */
    int in_pass, most;  /* messages in that pass; most in any */
    int next;           /* the next Flood number expected */
    int stop_at;        /* detach the bridge after this one */
    bool (*done)(void *fl); /* the end of the phase */
};

static bool flood_detached(void *arg)
{
    return ((struct flood *)arg)->bridge == NULL;
}

static bool flood_all_in(void *arg)
{
    return ((struct flood *)arg)->next == FLOOD;
}

/*
 * Due again at once, until the phase is over: a timer armed during a pass
 * runs in the next.  (Not for ever: libuv before 1.45 runs a timer that
 * its callback made due again within the same uv_run() turn, which would
 * then never return.)
 */
static void tick(osev_timer *t, osev_time now, void *arg)
{
    struct flood *fl = arg;

    (void)now;
    fl->tick++;
    if (!fl->done(fl))
        ck_assert_int_eq(osev_timer_set(t, 0), 0);
}

static DBusHandlerResult flood_filter(DBusConnection *c, DBusMessage *m,
                                      void *arg)
{
    struct flood *fl = arg;
    dbus_int32_t n;

    (void)c;
    ck_assert_ptr_nonnull(fl->bridge); /* nothing after the detach */
    if (fl->tick != fl->last_tick || fl->in_pass == 0) {
        fl->last_tick = fl->tick;
        fl->in_pass = 0;
    }
    if (++fl->in_pass > fl->most)
        fl->most = fl->in_pass;
    if (!dbus_message_is_signal(m, IFACE, "Flood"))
        return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
    ck_assert(dbus_message_get_args(m, NULL, DBUS_TYPE_INT32, &n,
                                    DBUS_TYPE_INVALID));
    ck_assert_int_eq(n, fl->next);
    fl->next++;
    if (n == fl->stop_at) {
        osev_dbus_detach(fl->bridge);
        fl->bridge = NULL;
    }
    return DBUS_HANDLER_RESULT_HANDLED;
}

START_TEST(queued_before_attach_then_detach_from_a_handler)
{
    struct host *h = host_open(host_names[_i]);
    DBusConnection *cli = bus_connect();
    struct flood fl = { .stop_at = 69, .done = flood_detached };
    DBusError err;
    char *id;

    ck_assert(dbus_connection_add_filter(cli, flood_filter, &fl, NULL));
    dbus_error_init(&err);
    dbus_bus_add_match(cli, MATCH, &err);
    ck_assert_msg(!dbus_error_is_set(&err), "AddMatch: %s", err.message);
    /* The bus sends our own signals back to us (the match rule), in the
     * order we sent them, and answers GetId after routing them: when
     * the blocking call returns, all of them are read and queued. */
    for (dbus_int32_t i = 0; i < FLOOD; i++) {
        DBusMessage *sig = dbus_message_new_signal(OBJ_PATH, IFACE, "Flood");

        ck_assert(dbus_message_append_args(sig, DBUS_TYPE_INT32, &i,
                                           DBUS_TYPE_INVALID));
        ck_assert(dbus_connection_send(cli, sig, NULL));
        dbus_message_unref(sig);
    }
    id = dbus_bus_get_id(cli, &err);
    ck_assert_msg(id != NULL, "GetId: %s", err.message);
    dbus_free(id);
    ck_assert_int_eq(dbus_connection_get_dispatch_status(cli),
                     DBUS_DISPATCH_DATA_REMAINS);

    /* Nothing else will happen on the socket: only the look at the
     * status on attach can start the dispatching.  The ticker is armed
     * before the bridge's timer, both for 0, and each re-arms from its
     * own run: ties run in arming order, so every pass runs the ticker,
     * then one batch of the bridge, which sees that pass's tick. */
    ck_assert_int_eq(osev_timer_add(host_ctx(h), 0, tick, &fl, &fl.ticker),
                     0);
    ck_assert_osev_ok(osev_dbus_attach(host_ctx(h), cli, &fl.bridge));
    ck_assert(host_run_until(h, flood_detached, &fl, RUN_MS));
    ck_assert_int_eq(fl.next, fl.stop_at + 1);
    ck_assert_int_eq(fl.most, OSEV_DBUS_DISPATCH_MAX);
    osev_timer_remove(fl.ticker);
    host_assert_empty(h);

    /* The rest waited in the connection; a new bridge goes on. */
    fl.in_pass = fl.most = 0;
    fl.done = flood_all_in;
    ck_assert_int_eq(osev_timer_add(host_ctx(h), 0, tick, &fl, &fl.ticker),
                     0);
    ck_assert_osev_ok(osev_dbus_attach(host_ctx(h), cli, &fl.bridge));
    ck_assert(host_run_until(h, flood_all_in, &fl, RUN_MS));
    ck_assert_int_le(fl.most, OSEV_DBUS_DISPATCH_MAX);
    osev_timer_remove(fl.ticker);
    osev_dbus_detach(fl.bridge);
    host_assert_empty(h);

    bus_disconnect(cli);
    host_close(h);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Another thread's blocking calls on a served connection              */
/* ------------------------------------------------------------------ */

struct caller {
    osev_ctx *ctx;
    DBusConnection *conn;
    const char *dest;
    int replies;
    bool done; /* atomic */
};

static void *caller_main(void *arg)
{
    struct caller *c = arg;

    for (int i = 0; i < 3; i++) {
        DBusMessage *m = dbus_message_new_method_call(c->dest, OBJ_PATH,
                                                      IFACE, "Echo");
        const char *text = "from a thread";
        DBusMessage *reply;
        DBusError err;

        dbus_error_init(&err);
        ck_assert(dbus_message_append_args(m, DBUS_TYPE_STRING, &text,
                                           DBUS_TYPE_INVALID));
        reply = dbus_connection_send_with_reply_and_block(
            c->conn, m, DBUS_TIMEOUT_USE_DEFAULT, &err);
        dbus_message_unref(m);
        if (reply) {
            if (strcmp(string_arg(reply), text) == 0)
                c->replies++;
            dbus_message_unref(reply);
        }
        dbus_error_free(&err);
    }
    __atomic_store_n(&c->done, true, __ATOMIC_RELEASE);
    osev_wakeup(c->ctx); /* the loop sees done at its next turn */
    return NULL;
}

static bool caller_done(void *arg)
{
    return __atomic_load_n(&((struct caller *)arg)->done, __ATOMIC_ACQUIRE);
}

/*
 * A call started on another thread while the loop's thread is blocked:
 * its timeout is a timer added from that thread, which a poll() in pull
 * mode would not see before its own timeout (here the run's end).  The
 * bridge wakes the context; without that, the call's NoReply would come
 * only after the run's deadline.  The callee is a connection nothing
 * serves, so the socket stays quiet and nothing else wakes the loop.
 */
struct starter {
    DBusConnection *conn;
    const char *dest;
    pid_t loop_tid;
    struct call *call;
    DBusPendingCall *pending; /* the caller's, once joined */
};

/* The loop's thread reads st->call->done meanwhile: only libdbus writes
 * here, the notify on the loop's thread. */
static void *starter_main(void *arg)
{
    struct starter *st = arg;
    DBusMessage *m = dbus_message_new_method_call(st->dest, OBJ_PATH, IFACE,
                                                  "Never");

    ck_assert_ptr_nonnull(m);
    tu_wait_until_polling(st->loop_tid, osev_now() + osev_s(5));
    ck_assert(dbus_connection_send_with_reply(st->conn, m, &st->pending,
                                              200));
    ck_assert_ptr_nonnull(st->pending);
    ck_assert(dbus_pending_call_set_notify(st->pending, call_done, st->call,
                                           NULL));
    dbus_message_unref(m);
    return NULL;
}

START_TEST(a_call_started_on_another_thread_wakes_the_loop)
{
    struct host *h = host_open(host_names[_i]);
    DBusConnection *hole = bus_connect(), *cli = bus_connect();
    struct call never = { 0 };
    struct starter st = { .conn = cli, .dest = dbus_bus_get_unique_name(hole),
                          .loop_tid = tu_gettid(), .call = &never };
    osev_dbus *bc;
    pthread_t tid;

    ck_assert_osev_ok(osev_dbus_attach(host_ctx(h), cli, &bc));
    ck_assert_int_eq(pthread_create(&tid, NULL, starter_main, &st), 0);
    ck_assert(host_run_until(h, call_finished, &never, 10000));
    ck_assert_int_eq(pthread_join(tid, NULL), 0);
    never.pending = st.pending;
    assert_error(&never, DBUS_ERROR_NO_REPLY);
    osev_dbus_detach(bc);
    host_assert_empty(h);
    call_end(&never);
    bus_disconnect(cli);
    bus_disconnect(hole);
    host_close(h);
}
END_TEST

/* Only the hosts that take registry changes from another thread. */
static bool host_takes_threads(const char *name)
{
    return strcmp(name, "builtin") == 0 || strcmp(name, "pull") == 0 ||
           strcmp(name, "glib") == 0 || strcmp(name, "virt") == 0;
}

START_TEST(blocking_calls_from_another_thread)
{
    struct host *h = host_open(host_names[_i]);
    DBusConnection *srv = bus_connect(), *cli = bus_connect();
    struct server server = { 0 };
    struct caller c = { .ctx = host_ctx(h), .conn = cli,
                        .dest = dbus_bus_get_unique_name(srv) };
    osev_dbus *bs, *bc;
    pthread_t tid;

    server_export(srv, &server);
    ck_assert_osev_ok(osev_dbus_attach(host_ctx(h), srv, &bs));
    ck_assert_osev_ok(osev_dbus_attach(host_ctx(h), cli, &bc));
    ck_assert_int_eq(pthread_create(&tid, NULL, caller_main, &c), 0);
    ck_assert(host_run_until(h, caller_done, &c, RUN_MS));
    ck_assert_int_eq(pthread_join(tid, NULL), 0);
    ck_assert_int_eq(c.replies, 3);
    ck_assert_int_eq(server.echoes, 3);
    osev_dbus_detach(bc);
    osev_dbus_detach(bs);
    host_assert_empty(h);
    bus_disconnect(cli);
    bus_disconnect(srv);
    host_close(h);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Refusals                                                            */
/* ------------------------------------------------------------------ */

START_TEST(refusals)
{
    osev_ctx *ctx = tu_ctx_new(), *other = tu_ctx_new();
    DBusConnection *c = bus_connect();
    osev_dbus *b, *b2 = (osev_dbus *)&b2;

    ck_assert_osev_err(osev_dbus_attach(NULL, c, &b), -EINVAL);
    ck_assert_osev_err(osev_dbus_attach(ctx, NULL, &b), -EINVAL);
    ck_assert_osev_err(osev_dbus_attach(ctx, c, NULL), -EINVAL);
    osev_dbus_detach(NULL);
    ck_assert_osev_ok(osev_dbus_attach(ctx, c, &b));
    /* One bridge per connection, whatever the context. */
    ck_assert_osev_err(osev_dbus_attach(ctx, c, &b2), -EBUSY);
    ck_assert_osev_err(osev_dbus_attach(other, c, &b2), -EBUSY);
    ck_assert_ptr_eq(b2, (osev_dbus *)&b2);
    osev_dbus_detach(b);
    ck_assert_osev_ok(osev_dbus_attach(other, c, &b2));
    osev_dbus_detach(b2);
    osev_ctx_free(other);
    osev_ctx_free(ctx);
    bus_disconnect(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dbus bridge");
    TCase *tc;
    int status;

    if (OSEV_DBUS_DAEMON[0] == '\0') {
        printf("dbus-daemon not found by configure: skipped\n");
        return 77;
    }
    if (!bus_start()) {
        fprintf(stderr, "cannot start %s\n", OSEV_DBUS_DAEMON);
        bus_stop();
        return 1;
    }
    tc = tcase_create("refusals");
    tcase_add_test(tc, refusals);
    suite_add_tcase(s, tc);
    for (int i = 0; host_names[i]; i++) {
        tc = tcase_create(host_names[i]);
        tcase_set_timeout(tc, 60);
        tcase_add_loop_test(tc, calls_errors_timeouts_and_a_signal, i, i + 1);
        tcase_add_loop_test(tc, detach_with_a_call_in_flight, i, i + 1);
        tcase_add_loop_test(tc, context_freed_without_detach, i, i + 1);
        tcase_add_loop_test(tc, queued_before_attach_then_detach_from_a_handler,
                            i, i + 1);
        if (host_takes_threads(host_names[i])) {
            tcase_add_loop_test(tc, blocking_calls_from_another_thread, i,
                                i + 1);
            tcase_add_loop_test(tc,
                                a_call_started_on_another_thread_wakes_the_loop,
                                i, i + 1);
        }
        suite_add_tcase(s, tc);
    }
    status = tu_run_suite(s);
    bus_stop();
    /* Last: libdbus's global state, so valgrind sees no leak. */
    dbus_shutdown();
    return status;
}
