/*
 * qt-probe.cpp - what the main thread's Qt event dispatcher holds (see
 * qt-probe.h).
 */
#undef _FORTIFY_SOURCE /* ppoll() is defined here, not inlined */

extern "C" {
#include "testutil.h" /* first: config.h */
}

#include <dlfcn.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>

#include <QtCore/QAbstractEventDispatcher>
#include <QtCore/QCoreApplication>
#include <QtCore/QEventLoop>
#include <QtCore/QMetaObject>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "qt-probe.h"

#ifdef OSEV_TEST_QT_GLIB_PROBE
#include <glib.h> /* outside extern "C": it has C++ parts */
extern "C" {
#include "glib-probe.h"
}
#endif

static bool glib;
static pthread_t main_thread;

/* ---- the UNIX dispatcher's ppoll() ---- */

static struct {
    bool armed;   /* record the next ppoll() of the main thread */
    bool taken;
    int nfds;     /* pollfds passed, less the wakeup eventfd */
    bool timeout; /* a timeout was passed: a timer is registered */
} rec;

typedef int ppoll_fn(struct pollfd *, nfds_t, const struct timespec *,
                     const sigset_t *);

extern "C" int ppoll(struct pollfd *fds, nfds_t nfds,
                     const struct timespec *timeout, const sigset_t *sigmask)
{
    static ppoll_fn *next;

    if (!next)
        next = reinterpret_cast<ppoll_fn *>(dlsym(RTLD_NEXT, "ppoll"));
    if (rec.armed && pthread_equal(pthread_self(), main_thread)) {
        rec.armed = false;
        rec.taken = true;
        rec.nfds = static_cast<int>(nfds) - 1;
        rec.timeout = timeout != nullptr;
    }
    return next(fds, nfds, timeout, sigmask);
}

/* One turn that cannot block: the dispatcher is woken first, which does
 * not change the timeout it computes from its timers. */
static int unix_count()
{
    rec = {};
    rec.armed = true;
    QAbstractEventDispatcher::instance()->wakeUp();
    QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents);
    rec.armed = false;
    ck_assert_msg(rec.taken, "Qt's dispatcher did not call ppoll()");
    ck_assert_int_ge(rec.nfds, 0);
    return rec.nfds + rec.timeout;
}

/* ---- either ---- */

/* Outside any test: no Check assertion here. */
void qt_probe_init()
{
    const char *cls =
        QAbstractEventDispatcher::instance()->metaObject()->className();

    main_thread = pthread_self();
    glib = std::strcmp(cls, "QEventDispatcherGlib") == 0;
    if (!glib && std::strcmp(cls, "QEventDispatcherUNIX") != 0) {
        std::fprintf(stderr, "qt-probe: a Qt dispatcher this test does "
                             "not know: %s\n", cls);
        std::exit(EXIT_FAILURE);
    }
#ifndef OSEV_TEST_QT_GLIB_PROBE
    if (glib) {
        std::fprintf(stderr, "qt-probe: Qt's GLib dispatcher, but no GLib "
                             "probe built\n");
        std::exit(EXIT_FAILURE);
    }
#endif
    QCoreApplication::sendPostedEvents();
    QCoreApplication::processEvents();
}

bool qt_probe_glib()
{
    return glib;
}

#ifdef OSEV_TEST_QT_GLIB_PROBE
/* Qt's GLib dispatcher makes its GMainContext the thread's default. */
static int glib_count()
{
    GMainContext *gctx = g_main_context_ref_thread_default();
    int n = glib_probe_count(gctx);

    g_main_context_unref(gctx);
    return n;
}

void qt_probe_settle()
{
    GMainContext *gctx = g_main_context_ref_thread_default();

    glib_probe_settle(gctx);
    g_main_context_unref(gctx);
}

bool qt_probe_woken()
{
    GMainContext *gctx = g_main_context_ref_thread_default();
    bool woken = glib_probe_any_ready(gctx);

    g_main_context_unref(gctx);
    return woken;
}
#else
static int glib_count()
{
    ck_abort_msg("no GLib probe");
    return -1;
}

void qt_probe_settle()
{
    ck_abort_msg("no GLib probe");
}

bool qt_probe_woken()
{
    ck_abort_msg("no GLib probe");
    return false;
}
#endif

int qt_probe_count()
{
    return glib ? glib_count() : unix_count();
}
