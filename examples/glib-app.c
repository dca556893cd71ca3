/*
 * glib-app.c - a GLib application (GMainLoop) hosting an osevent
 * producer (here: dirwatch) through the GLib adapter.
 *
 * SPDX-License-Identifier: MIT
 *
 * usage: glib-app [--count N] [--timeout S] [--tick MS] DIR
 *        glib-app --self-test
 *
 * The same program as poll-loop.c, with the same options and output, but
 * the loop is GLib's and the application never polls osevent: it calls
 * neither osev_beforepoll() nor osev_event_check().  Prints every change
 * in DIR, a tick every MS milliseconds (default 1000, 0 for none), and
 * whatever you type on stdin, which GLib watches as the application's own
 * fd.  --count N exits (status 0) after N file events, --timeout S exits
 * with status 1 after S seconds.  --self-test makes a directory of its
 * own, changes files in it and checks the events it gets.
 *
 * How the pieces meet (see app_open()):
 *   1. osev_event_set_hooks(): every event dirwatch posts is pushed to
 *      on_event() instead of being queued; lost events are reported to
 *      on_disaster();
 *   2. osev_glib_attach(): osevent's fds (dirwatch's inotify fd) and its
 *      one timeout (the earliest timer: the tick) live in our
 *      GMainContext as one GSource, next to the application's own sources
 *      (stdin, the --timeout, the self-test's steps);
 *   3. g_main_loop_run(): GLib polls everything; when the inotify fd is
 *      ready it dispatches osevent's source, dirwatch reads inotify and
 *      posts events, and osevent hands each to on_event(), from a GLib
 *      dispatch, on this thread.
 */
#include "dirwatch.h"
#include "example-cli.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib.h>
#include <osevent-glib.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The self-test's deadline: it never hangs. */
#define SELFTEST_TIMEOUT_S 10

/* The application's state. */
struct app {
    GMainContext *gctx;  /* the application's GLib context */
    GMainLoop *loop;     /* runs gctx */
    osev_ctx *ctx;       /* attached to gctx */
    struct dirwatch *dw; /* the producer, on ctx */
    long count;          /* stop after this many file events; 0: never */
    long file_events;    /* file events seen */
    bool done;           /* the loop was told to quit */
    int status;          /* the exit status */
    struct example_selftest *st; /* NULL unless --self-test */
};

static void finish(struct app *app, int status)
{
    app->status = status;
    app->done = true;
    g_main_loop_quit(app->loop);
}

static void fail(struct app *app, const char *what)
{
    fprintf(stderr, "glib-app: %s\n", what);
    finish(app, 1);
}

/* Attach a new source to the application's context; the context keeps
 * the only reference. */
static void attach_source(struct app *app, GSource *src, GSourceFunc fn)
{
    g_source_set_callback(src, fn, app, NULL);
    g_source_attach(src, app->gctx);
    g_source_unref(src);
}

/* ---- the --self-test script ------------------------------------------ */

static void play_step(struct app *app)
{
    if (!example_selftest_play(app->st))
        fail(app, "self-test: cannot change the file");
}

static gboolean on_step_idle(gpointer data)
{
    struct app *app = data;

    if (!app->done)
        play_step(app);
    return G_SOURCE_REMOVE;
}

/* Ask for the next step: a GLib idle of the application plays it from a
 * later turn of the loop, not from inside osevent's dispatch. */
static void request_step(struct app *app)
{
    attach_source(app, g_idle_source_new(), on_step_idle);
}

static void check_event(struct app *app, const osev_event *ev)
{
    switch (example_selftest_check(app->st, ev)) {
    case EXAMPLE_WAIT:
        break;
    case EXAMPLE_NEXT:
        request_step(app);
        break;
    case EXAMPLE_PASSED:
        finish(app, 0);
        break;
    case EXAMPLE_WRONG:
        fail(app, "self-test: FAILED: an event that no step expects");
        break;
    }
}

/* ---- the application ------------------------------------------------- */

/* The event_occurs hook: osevent pushes each event here, from a dispatch
 * of its GSource; the event is ours to free. */
static void on_event(void *user, osev_event *ev)
{
    struct app *app = user;

    /* Events delivered in the same pass after we decided to quit. */
    if (app->done)
        goto out;
    example_print_event("glib-app", ev);
    if (app->st)
        check_event(app, ev);
    else if (ev->type != DIRWATCH_EV_TICK && app->count > 0 &&
             ++app->file_events == app->count)
        finish(app, 0);
out:
    osev_event_free(app->ctx, ev);
}

/* The disaster hook: events were lost.  With push delivery nobody would
 * see the -EIO of osev_event_check(), so without this hook a loss would
 * only be a line on stderr.  It must not call osevent; quitting the GLib
 * loop is fine. */
static void on_disaster(void *user, unsigned type, const char *msg,
                        int errnoval)
{
    struct app *app = user;

    fprintf(stderr, "glib-app: events of type %u may be lost: %s%s%s\n", type,
            msg, errnoval ? ": " : "", errnoval ? strerror(errnoval) : "");
    finish(app, 1);
}

/* The application's own fd, watched by GLib: what is typed on stdin.
 * stdin stays blocking (see poll-loop.c); after G_IO_IN one read() does
 * not block. */
static gboolean on_stdin(gint fd, GIOCondition cond, gpointer data)
{
    char buf[256];
    ssize_t n;

    (void)cond, (void)data;
    n = read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return G_SOURCE_CONTINUE;
    if (n <= 0)
        return G_SOURCE_REMOVE; /* EOF: keep watching the directory */
    if (buf[n - 1] == '\n')
        n--;
    printf("glib-app: stdin says: %.*s\n", (int)n, buf);
    return G_SOURCE_CONTINUE;
}

static void watch_stdin(struct app *app)
{
    GSource *src = g_unix_fd_source_new(STDIN_FILENO, G_IO_IN);

    g_source_set_callback(src, G_SOURCE_FUNC(on_stdin), app, NULL);
    g_source_attach(src, app->gctx);
    g_source_unref(src);
}

static gboolean on_timeout(gpointer data)
{
    fail(data, "timed out");
    return G_SOURCE_REMOVE;
}

static void add_timeout(struct app *app, long seconds)
{
    guint s = seconds > (long)G_MAXUINT ? G_MAXUINT : (guint)seconds;

    attach_source(app, g_timeout_source_new_seconds(s), on_timeout);
}

/*
 * Set up the GLib loop, the osevent context driven by it, and dirwatch on
 * @dir.  Returns 0, or a negative errno with @what naming the step that
 * failed.  What was made is undone by app_close().
 */
static int app_open(struct app *app, const char *dir, osev_time tick,
                    const char **what)
{
    /* A context for one thread: GLib runs it on ours. */
    const struct osev_ctx_opts opts = {
        .size = sizeof opts,
        .flags = OSEV_CTX_SINGLE_THREAD,
    };
    const struct osev_event_hooks hooks = {
        .event_occurs_mask = DIRWATCH_MASK_ALL,
        .event_occurs = on_event,
        .disaster = on_disaster,
    };
    int r;

    /* The application's own context; the default one (NULL) would do as
     * well.  GLib aborts rather than fail for lack of memory. */
    app->gctx = g_main_context_new();
    app->loop = g_main_loop_new(app->gctx, FALSE);

    *what = "osev_ctx_new";
    r = osev_ctx_new(&opts, &app->ctx);
    if (r < 0)
        return r;
    *what = "osev_event_set_hooks";
    r = osev_event_set_hooks(app->ctx, &hooks, sizeof hooks, app);
    if (r < 0)
        return r;
    *what = "osev_glib_attach";
    r = osev_glib_attach(app->ctx, app->gctx);
    if (r < 0)
        return r;
    /* dirwatch registers its fd and timer with osevent, which passes them
     * on to GLib: dirwatch does not know there is a GLib. */
    *what = dir;
    return dirwatch_new(app->ctx, dir, tick, 0, &app->dw);
}

static void app_close(struct app *app)
{
    dirwatch_free(app->dw);
    /* osev_ctx_free() would detach too; detaching first leaves gctx
     * holding nothing of ours while the context still exists. */
    osev_glib_detach(app->ctx);
    osev_ctx_free(app->ctx);
    if (app->loop)
        g_main_loop_unref(app->loop);
    if (app->gctx)
        g_main_context_unref(app->gctx); /* destroys our remaining sources */
}

/* strerror(): dirwatch passes on inotify's errors too (ENOENT,
 * ENOTDIR...), which osev_strerror() does not name. */
static void report_open_error(const char *what, int r)
{
    fprintf(stderr, "glib-app: %s: %s\n", what, strerror(-r));
}

/* ---- the two modes ---------------------------------------------------- */

static int watch(const char *dir, long count, long timeout_s, long tick_ms)
{
    struct app app = {.count = count};
    const char *what;
    int r;

    /* No ticks: OSEV_TIME_INFINITY. */
    r = app_open(&app, dir, tick_ms > 0 ? osev_ms(tick_ms) : OSEV_TIME_INFINITY,
                 &what);
    if (r < 0) {
        report_open_error(what, r);
        app_close(&app);
        return 1;
    }
    watch_stdin(&app);
    if (timeout_s > 0)
        add_timeout(&app, timeout_s);
    printf("glib-app: watching %s\n", dir);
    g_main_loop_run(app.loop);
    app_close(&app);
    return app.status;
}

static int self_test(void)
{
    struct example_selftest st;
    struct app app = {
        .status = 1, /* failed, until check_event() says otherwise */
        .st = &st,
    };
    const char *what;
    int r;

    if (example_selftest_open(&st, "glib-app") < 0)
        return 1;
    r = app_open(&app, st.dir, osev_ms(100), &what);
    if (r < 0) {
        report_open_error(what, r);
        goto out;
    }
    add_timeout(&app, SELFTEST_TIMEOUT_S);
    printf("self-test: watching %s\n", st.dir);
    request_step(&app); /* the first step; each event asks for the next */
    g_main_loop_run(app.loop);

out:
    app_close(&app);
    example_selftest_close(&st);
    return app.status;
}

int main(int argc, char **argv)
{
    return example_main("glib-app", argc, argv, self_test, watch);
}
