/*
 * test-inject-qt.cpp - allocation failure inside a Qt event loop
 * (tests/adapters/inject.c): every allocation of attach and of the
 * registrations made while attached fails in turn, under the dispatcher
 * Qt picks.
 *
 * Qt allocates with operator new, which throws when it fails, and Qt
 * does not promise to survive that: only osevent's allocations fail
 * (adapter.c's records, which hold the adapter's Qt objects, and the
 * context's).  The adapter's catch of std::bad_alloc is not reached here.
 */
extern "C" {
#include "inject.h" /* first: config.h */
}

#include <cstdlib>

#include <QtCore/QAbstractEventDispatcher>
#include <QtCore/QCoreApplication>
#include <QtCore/QEventLoop>

#include "osevent-qt.h"
#include "qt-probe.h"

static void *qt_new()
{
    return QAbstractEventDispatcher::instance();
}

static void qt_free(void *loop)
{
    (void)loop;
}

static int qt_attach(osev_ctx *ctx, void *loop)
{
    (void)loop;
    return osev_qt_attach(ctx);
}

static int qt_iterate(void *loop)
{
    (void)loop;
    QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents);
    return 0;
}

static bool qt_empty(void *loop)
{
    (void)loop;
    return qt_probe_count() == 0;
}

int main(int argc, char **argv)
{
#ifndef OSEV_TEST_QT_GLIB_PROBE
    setenv("QT_NO_GLIB", "1", 1);
#endif
    QCoreApplication app(argc, argv);
    struct inject_loop loop = {};

    qt_probe_init();
    loop.name = qt_probe_glib() ? "qt-glib" : "qt-unix";
    loop.loop_new = qt_new;
    loop.loop_free = qt_free;
    loop.attach = qt_attach;
    loop.detach = osev_qt_detach;
    loop.iterate = qt_iterate;
    loop.is_empty = qt_empty;
    return inject_main(&loop);
}
