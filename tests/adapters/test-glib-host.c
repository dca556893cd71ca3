/*
 * test-glib-host.c - a GLib GMainContext driven from an osevent loop
 * (osev_glib_host), the reverse of the push scenario.  Every GMainContext
 * here is a fresh one, never the default context.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib-unix.h>

#include "osevent-glib.h"

enum { EXIT_OK = 42, EXIT_GUARD = 99 };

/* What osev_beforepoll() wants polled: the size query. */
static int needed(osev_ctx *ctx)
{
    int n = 0, timeout = -1;

    ck_assert_osev_err(osev_beforepoll(ctx, &n, NULL, &timeout, 0), -ENOBUFS);
    return n;
}

static void guard_cb(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now;
    osev_loop_exit(arg, EXIT_GUARD);
}

/* A bound on an osev_loop_run(): a hang fails, never blocks. */
static void guard(osev_ctx *ctx, osev_time after)
{
    osev_timer *t;

    ck_assert_osev_ok(
        osev_timer_add(ctx, osev_now() + after, guard_cb, ctx, &t));
}

static GSource *attach(GSource *src, GMainContext *gctx, GSourceFunc fn,
                       void *data)
{
    g_source_set_callback(src, fn, data, NULL);
    g_source_attach(src, gctx);
    return src;
}

/* ---- a timeout and an fd source inside osev_loop_run() ---- */

struct sources {
    osev_ctx *ctx;
    int p[2];
    int fd_calls, timeout_calls;
};

static void maybe_exit(struct sources *S)
{
    if (S->fd_calls >= 1 && S->timeout_calls == 3)
        osev_loop_exit(S->ctx, EXIT_OK);
}

static gboolean fd_cb(gint fd, GIOCondition cond, gpointer data)
{
    struct sources *S = data;

    ck_assert(cond & G_IO_IN);
    tu_drain(fd);
    S->fd_calls++;
    maybe_exit(S);
    return G_SOURCE_CONTINUE;
}

static gboolean timeout_cb(gpointer data)
{
    struct sources *S = data;

    S->timeout_calls++;
    maybe_exit(S);
    return S->timeout_calls < 3; /* TRUE twice, then FALSE */
}

/* An osevent timer writes the byte GLib's fd source waits for. */
static void write_cb(osev_timer *t, osev_time now, void *arg)
{
    struct sources *S = arg;

    (void)t, (void)now;
    tu_write_byte(S->p[1]);
}

START_TEST(glib_sources_run_in_osevent_loop)
{
    GMainContext *gctx = g_main_context_new();
    struct sources S = {.ctx = tu_ctx_new()};
    osev_glib_hosting *h;
    osev_timer *wt;
    GSource *fds, *tmo;

    tu_pipe(S.p);
    ck_assert_int_eq(needed(S.ctx), 1); /* the wakeup fd */
    ck_assert_osev_ok(osev_glib_host(S.ctx, gctx, &h));
    ck_assert(g_main_context_is_owner(gctx));
    ck_assert_int_eq(needed(S.ctx), 2); /* and GLib's wakeup fd */
    fds = attach(g_unix_fd_source_new(S.p[0], G_IO_IN), gctx,
                 (GSourceFunc)(void (*)(void))fd_cb, &S);
    tmo = attach(g_timeout_source_new(10), gctx, timeout_cb, &S);
    /* Attached on the owner thread, outside a GLib callback: GLib wakes
     * itself only for other threads (see osev_glib_host(3)). */
    g_main_context_wakeup(gctx);
    ck_assert_osev_ok(
        osev_timer_add(S.ctx, osev_now() + osev_ms(5), write_cb, &S, &wt));
    guard(S.ctx, osev_s(5));

    ck_assert_int_eq(osev_loop_run(S.ctx), EXIT_OK);
    ck_assert_int_eq(S.fd_calls, 1);
    ck_assert_int_eq(S.timeout_calls, 3);
    ck_assert(g_source_is_destroyed(tmo));
    ck_assert_int_eq(needed(S.ctx), 3); /* the pipe is mirrored */

    osev_glib_unhost(h);
    ck_assert_int_eq(needed(S.ctx), 1); /* nothing of the bridge left */
    ck_assert(!g_main_context_is_owner(gctx));

    /* GLib's sources did not notice: its own loop runs them. */
    tu_write_byte(S.p[1]);
    while (S.fd_calls < 2)
        g_main_context_iteration(gctx, TRUE);

    g_source_destroy(fds);
    g_source_unref(fds);
    g_source_unref(tmo);
    g_main_context_unref(gctx);
    osev_ctx_free(S.ctx);
    close(S.p[0]), close(S.p[1]);
}
END_TEST

/* ---- the mirror follows GLib: a source that goes takes its watch ---- */

struct once {
    osev_ctx *ctx;
    int calls;
};

static gboolean once_cb(gint fd, GIOCondition cond, gpointer data)
{
    struct once *O = data;

    (void)cond;
    tu_drain(fd);
    O->calls++;
    osev_loop_exit(O->ctx, EXIT_OK);
    return G_SOURCE_REMOVE;
}

START_TEST(watch_follows_glib_source)
{
    GMainContext *gctx = g_main_context_new();
    struct once O = {.ctx = tu_ctx_new()};
    osev_glib_hosting *h;
    int p[2];

    tu_pipe(p);
    g_source_unref(attach(g_unix_fd_source_new(p[0], G_IO_IN), gctx,
                          (GSourceFunc)(void (*)(void))once_cb, &O));
    ck_assert_osev_ok(osev_glib_host(O.ctx, gctx, &h)); /* sees the source */
    ck_assert_int_eq(needed(O.ctx), 3);
    tu_write_byte(p[1]);
    guard(O.ctx, osev_s(5));
    ck_assert_int_eq(osev_loop_run(O.ctx), EXIT_OK);
    ck_assert_int_eq(O.calls, 1);
    ck_assert_int_eq(needed(O.ctx), 2); /* the pipe's watch went */
    osev_glib_unhost(h);
    ck_assert_int_eq(needed(O.ctx), 1);
    g_main_context_unref(gctx);
    osev_ctx_free(O.ctx);
    close(p[0]), close(p[1]);
}
END_TEST

/* ---- an fd osevent cannot watch still reaches GLib ---- */

struct nval {
    osev_ctx *ctx;
    GIOCondition cond;
};

static gboolean nval_cb(gint fd, GIOCondition cond, gpointer data)
{
    struct nval *N = data;

    (void)fd;
    N->cond = cond;
    osev_loop_exit(N->ctx, EXIT_OK);
    return G_SOURCE_REMOVE;
}

/* A GLib source on an fd closed under it: osevent refuses the fd
 * (-EBADF), so the bridge polls it itself and GLib gets G_IO_NVAL, as its
 * own poll would have given.  A high fd number, so that no fd opened
 * meanwhile (the built-in loop's epoll fd...) takes it. */
START_TEST(closed_fd_polled_by_bridge)
{
    GMainContext *gctx = g_main_context_new();
    struct nval N = {.ctx = tu_ctx_new()};
    osev_glib_hosting *h;
    int p[2], fd = (int)(sysconf(_SC_OPEN_MAX) / 2);

    ck_assert_int_gt(fd, 64);
    tu_pipe(p);
    ck_assert_int_eq(dup2(p[0], fd), fd);
    close(p[0]), close(p[1]);
    g_source_unref(attach(g_unix_fd_source_new(fd, G_IO_IN), gctx,
                          (GSourceFunc)(void (*)(void))nval_cb, &N));
    close(fd);
    ck_assert_osev_ok(osev_glib_host(N.ctx, gctx, &h));
    ck_assert_int_eq(needed(N.ctx), 2); /* not the closed fd */
    guard(N.ctx, osev_s(5));
    ck_assert_int_eq(osev_loop_run(N.ctx), EXIT_OK);
    ck_assert_uint_eq(N.cond & G_IO_NVAL, G_IO_NVAL);
    osev_glib_unhost(h);
    ck_assert_int_eq(needed(N.ctx), 1);
    g_main_context_unref(gctx);
    osev_ctx_free(N.ctx);
}
END_TEST

/* ---- another thread hands work to the hosted context ---- */

struct cross {
    osev_ctx *ctx;
    GMainContext *gctx;
    pthread_t host_thread;
    int invoked, idled, invoked_seen_by_idle;
    bool invoke_on_host_thread;
};

static gboolean invoke_cb(gpointer data)
{
    struct cross *X = data;

    X->invoked++;
    X->invoke_on_host_thread = pthread_equal(pthread_self(), X->host_thread);
    return G_SOURCE_REMOVE;
}

static gboolean idle_cb(gpointer data)
{
    struct cross *X = data;

    X->idled++;
    X->invoked_seen_by_idle = X->invoked;
    osev_loop_exit(X->ctx, EXIT_OK);
    return G_SOURCE_REMOVE;
}

/* Touches nothing of X but through GLib, which carries it across. */
static void *poster(void *arg)
{
    struct cross *X = arg;
    GSource *idle = g_idle_source_new();

    g_main_context_invoke(X->gctx, invoke_cb, X);
    g_source_unref(attach(idle, X->gctx, idle_cb, X));
    return NULL;
}

START_TEST(other_thread_invoke_and_idle)
{
    struct cross X = {.ctx = tu_ctx_new(),
                      .gctx = g_main_context_new(),
                      .host_thread = pthread_self()};
    osev_glib_hosting *h;
    pthread_t th;

    ck_assert_osev_ok(osev_glib_host(X.ctx, X.gctx, &h));
    guard(X.ctx, osev_s(5));
    ck_assert_int_eq(pthread_create(&th, NULL, poster, &X), 0);
    ck_assert_int_eq(osev_loop_run(X.ctx), EXIT_OK);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(X.invoked, 1);
    ck_assert(X.invoke_on_host_thread);
    ck_assert_int_eq(X.idled, 1);
    ck_assert_int_eq(X.invoked_seen_by_idle, 1); /* priority order kept */
    osev_glib_unhost(h);
    ck_assert_int_eq(needed(X.ctx), 1);
    g_main_context_unref(X.gctx);
    osev_ctx_free(X.ctx);
}
END_TEST

/* ---- unhost from inside a GLib callback the bridge dispatches ---- */

struct self_end {
    osev_ctx *ctx;
    osev_glib_hosting *h;
    int calls;
};

static gboolean unhost_cb(gpointer data)
{
    struct self_end *E = data;

    if (E->calls++ == 0) {
        osev_glib_unhost(E->h);
        osev_loop_exit(E->ctx, EXIT_OK);
    }
    return G_SOURCE_CONTINUE; /* ready again at once */
}

START_TEST(unhost_from_glib_callback)
{
    GMainContext *gctx = g_main_context_new();
    struct self_end E = {.ctx = tu_ctx_new()};
    GSource *idle;

    ck_assert_osev_ok(osev_glib_host(E.ctx, gctx, &E.h));
    idle = attach(g_idle_source_new(), gctx, unhost_cb, &E);
    g_main_context_wakeup(gctx); /* attached on the owner thread */
    guard(E.ctx, osev_s(5));
    ck_assert_int_eq(osev_loop_run(E.ctx), EXIT_OK);
    ck_assert_int_eq(E.calls, 1);
    ck_assert_int_eq(needed(E.ctx), 1);
    ck_assert(!g_main_context_is_owner(gctx));
    /* The osevent loop no longer runs GLib's ever-ready idle... */
    guard(E.ctx, osev_ms(30));
    ck_assert_int_eq(osev_loop_run(E.ctx), EXIT_GUARD);
    ck_assert_int_eq(E.calls, 1);
    /* ...GLib's own loop does. */
    ck_assert(g_main_context_iteration(gctx, FALSE));
    ck_assert_int_eq(E.calls, 2);
    g_source_destroy(idle);
    g_source_unref(idle);
    g_main_context_unref(gctx);
    osev_ctx_free(E.ctx);
}
END_TEST

/* ---- a GMainContext another thread owns cannot be hosted ---- */

struct busy {
    osev_ctx *ctx;
    GMainContext *gctx;
    int r;
};

static void *try_host(void *arg)
{
    struct busy *B = arg;
    osev_glib_hosting *h = NULL;

    B->r = osev_glib_host(B->ctx, B->gctx, &h);
    osev_glib_unhost(h);
    return NULL;
}

START_TEST(host_refused_when_owned)
{
    struct busy B = {.ctx = tu_ctx_new(), .gctx = g_main_context_new()};
    pthread_t th;

    ck_assert(g_main_context_acquire(B.gctx));
    ck_assert_int_eq(pthread_create(&th, NULL, try_host, &B), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_osev_err(B.r, -EBUSY);
    ck_assert_int_eq(needed(B.ctx), 1); /* nothing was left behind */
    g_main_context_release(B.gctx);
    ck_assert_osev_err(osev_glib_host(NULL, B.gctx, NULL), -EINVAL);
    g_main_context_unref(B.gctx);
    osev_ctx_free(B.ctx);
}
END_TEST

/* ---- fork: the child lets go of the bridge, not of the parent's ---- */

static gboolean count_src_cb(gint fd, GIOCondition cond, gpointer data)
{
    (void)cond;
    tu_drain(fd);
    ++*(int *)data;
    return G_SOURCE_CONTINUE;
}

/* Turns of the osevent loop until *calls reaches @want, or 5 s pass. */
static void loop_until_calls(osev_ctx *ctx, const int *calls, int want)
{
    osev_time until = osev_now() + osev_s(5);

    while (*calls < want && osev_now() < until)
        ck_assert_int_ge(osev_loop_once(ctx, until), -ETIMEDOUT);
    ck_assert_int_eq(*calls, want);
}

/*
 * The child of fork() ends the bridge and the context it inherited (_i 1:
 * osev_glib_unhost(), then osev_ctx_free(); 0: the free only) and exits.
 * The context's epoll set is the parent's too: taking the bridge's
 * watches out of it would take them out of the parent's set.  The parent
 * still gets its GLib source called.
 */
START_TEST(fork_child_unhosts)
{
    GMainContext *gctx = g_main_context_new();
    osev_ctx *ctx = tu_ctx_new();
    osev_glib_hosting *h;
    GSource *src;
    int p[2], calls = 0, status;
    pid_t pid;

    tu_pipe(p);
    ck_assert_osev_ok(osev_glib_host(ctx, gctx, &h));
    src = attach(g_unix_fd_source_new(p[0], G_IO_IN), gctx,
                 (GSourceFunc)(void (*)(void))count_src_cb, &calls);
    g_main_context_wakeup(gctx); /* attached on the owner thread */
    tu_write_byte(p[1]);
    loop_until_calls(ctx, &calls, 1); /* the pipe is in the epoll set */

    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (_i == 1)
            osev_glib_unhost(h);
        osev_ctx_free(ctx);
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the forked child failed: status %#x", status);

    tu_write_byte(p[1]);
    loop_until_calls(ctx, &calls, 2);

    osev_glib_unhost(h);
    g_source_destroy(src);
    g_source_unref(src);
    g_main_context_unref(gctx);
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("glib-host");
    TCase *tc = tcase_create("bridge");

    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, glib_sources_run_in_osevent_loop);
    tcase_add_test(tc, watch_follows_glib_source);
    tcase_add_test(tc, closed_fd_polled_by_bridge);
    tcase_add_test(tc, other_thread_invoke_and_idle);
    tcase_add_test(tc, unhost_from_glib_callback);
    tcase_add_test(tc, host_refused_when_owned);
    tcase_add_loop_test(tc, fork_child_unhosts, 0, 2);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
