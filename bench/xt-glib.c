/*
 * xt-glib.c - cross-thread calls into GLib: g_main_context_invoke() onto
 * a GMainContext that another thread runs with g_main_loop_run() (it owns
 * the context, so each invoke attaches an idle source and wakes it).
 */
#define _GNU_SOURCE
#include <glib.h>

#include "xthread.h"

static GMainContext *gctx;
static GMainLoop *loop;
static GThread *thread;

static gpointer run(gpointer arg)
{
    (void)arg;
    g_main_context_push_thread_default(gctx);
    g_main_loop_run(loop);
    g_main_context_pop_thread_default(gctx);
    return NULL;
}

static gboolean call(gpointer arg)
{
    (void)arg;
    xt_ran();
    return G_SOURCE_REMOVE;
}

static void start(void)
{
    gctx = g_main_context_new();
    loop = g_main_loop_new(gctx, FALSE);
    thread = g_thread_new("loop", run, NULL);
    while (!g_main_loop_is_running(loop)) /* set once it owns gctx */
        g_usleep(1000);
}

static void post(void)
{
    g_main_context_invoke(gctx, call, NULL);
}

static void stop(void)
{
    g_main_loop_quit(loop);
    g_thread_join(thread);
    g_main_loop_unref(loop);
    g_main_context_unref(gctx);
}

const struct xt_mode xt_modes[] = {
    { "glib-invoke", start, post, stop },
    { NULL, NULL, NULL, NULL },
};
