/*
 * qt.cpp - a Qt event loop drives an osevent context.
 *
 * SPDX-License-Identifier: MIT
 *
 * The loop is the Qt event dispatcher of the thread that attaches.  Each
 * fd registration holds up to three QSocketNotifiers (Read, Write,
 * Exception: one per kind of event its mask asks for), each context's
 * timeout one QObject with a precise timer.  The objects live inside the
 * registration records (adapter.c allocates those, so an allocation that
 * fails there is osevent's -ENOMEM), built and destroyed in place, with
 * no parent.  They take their events by overriding QObject::event() and
 * QObject::timerEvent(): no signal, no connection, no moc.
 *
 * Qt throws std::bad_alloc where it runs out of memory; no exception may
 * cross into osevent's C frames, so every call into Qt that may allocate
 * is wrapped, and a failure leaves the registration as it was.
 *
 * Qt's notifiers and timers may only be made, changed and destroyed on
 * their own thread.  The hooks run on whichever thread changes the
 * context: those that make or change an object check the thread first
 * and refuse (-EPERM) a foreign one.  Those that destroy cannot fail, and
 * are the caller's to keep on the loop's thread.
 */
extern "C" {
#include "adapter.h"
}

#include <cerrno>
#include <cstring>
#include <new>
#include <pthread.h>

#include <QtCore/QAbstractEventDispatcher>
#include <QtCore/QEvent>
#include <QtCore/QObject>
#include <QtCore/QSocketNotifier>
#include <QtCore/QTimerEvent>

#include "osevent-qt.h"

namespace {

/* One kind of event on one fd: its activations are reported to osevent
 * as that event.  Qt's dispatchers activate notifiers for hang-ups and
 * errors too, with no word of which: they arrive as that event. */
class Notifier final : public QSocketNotifier {
public:
    Notifier(osev__areg *r, QSocketNotifier::Type type, short bit)
        : QSocketNotifier(r->fd, type), r_(r), bit_(bit)
    {
    }

protected:
    bool event(QEvent *e) override
    {
        if (e->type() != QEvent::SockAct && e->type() != QEvent::SockClose)
            return QSocketNotifier::event(e);
        /* May destroy this notifier and free the record holding it:
         * nothing touches them afterwards.  Qt allows it: the dispatcher
         * forgets a notifier as it is destroyed, its pending activations
         * with it. */
        osev__areg_fd_ready(r_, bit_);
        return true;
    }

private:
    osev__areg *r_;
    short bit_;
};

/* The context's timeout: a one-shot precise timer of this object.  A
 * re-arm starts the new timer before it kills the old one, so a failure
 * leaves the old one running. */
class Timer final : public QObject {
public:
    explicit Timer(osev__areg *r) : r_(r)
    {
    }

    int id = 0; /* the running timer, 0 for none */

protected:
    void timerEvent(QTimerEvent *e) override
    {
        if (e->timerId() != id)
            return;
        killTimer(id); /* one-shot */
        id = 0;
        /* May re-arm, or destroy this object and free its record. */
        osev__areg_timeout_fired(r_);
    }

private:
    osev__areg *r_;
};

const struct {
    QSocketNotifier::Type type;
    short bit;
} kinds[3] = {
    { QSocketNotifier::Read, POLLIN },
    { QSocketNotifier::Write, POLLOUT },
    { QSocketNotifier::Exception, POLLPRI },
};

/* A registration's objects, built in place: a fd registration uses the
 * notifiers, the timeout the timer. */
struct QtReg {
    Notifier *n[3]; /* built in nmem[i], or nullptr */
    Timer *t;       /* built in tmem, or nullptr */
    alignas(Notifier) unsigned char nmem[3][sizeof(Notifier)];
    alignas(Timer) unsigned char tmem[sizeof(Timer)];
};
static_assert(alignof(QtReg) <= alignof(max_align_t),
              "osev__areg.priv is max_align_t-aligned");

/* The adapter's own state (osev__adapter.state): the pthread_t of the
 * thread whose dispatcher it uses, copied in and out. */

QtReg *qr(osev__areg *r)
{
    return static_cast<QtReg *>(static_cast<void *>(r->priv));
}

/* Whether the calling thread is the one that attached. */
bool on_loop_thread(osev__adapter *ad)
{
    pthread_t loop_thread;

    std::memcpy(&loop_thread, ad->state, sizeof loop_thread);
    return pthread_equal(pthread_self(), loop_thread);
}

/* The notifiers for @events: the missing ones are built first (a
 * failure destroys those, and leaves the old ones), then the ones no
 * longer asked for are destroyed. */
int set_notifiers(osev__areg *r, short events) noexcept
{
    QtReg *q = qr(r);
    Notifier *made[3] = { nullptr, nullptr, nullptr };

    try {
        for (int i = 0; i < 3; i++)
            if ((events & kinds[i].bit) && !q->n[i])
                made[i] = new (q->nmem[i])
                    Notifier(r, kinds[i].type, kinds[i].bit);
    } catch (...) { /* std::bad_alloc: Qt throws nothing else here */
        for (Notifier *n : made)
            if (n)
                n->~Notifier();
        return -ENOMEM;
    }
    for (int i = 0; i < 3; i++) {
        if (made[i]) {
            q->n[i] = made[i];
        } else if (!(events & kinds[i].bit) && q->n[i]) {
            q->n[i]->~Notifier();
            q->n[i] = nullptr;
        }
    }
    return 0;
}

int qt_fd_start(osev__areg *r)
{
    if (!on_loop_thread(r->ad))
        return -EPERM;
    return set_notifiers(r, r->events);
}

int qt_fd_change(osev__areg *r, short events)
{
    if (!on_loop_thread(r->ad))
        return -EPERM;
    return set_notifiers(r, events);
}

void qt_fd_stop(osev__areg *r)
{
    set_notifiers(r, 0); /* builds nothing: cannot fail */
}

/* Whole milliseconds, rounded up (osev__ms_until(): never early); 0 for
 * a deadline already due is a timer that fires on the next turn. */
int timer_arm(osev__areg *r, osev_time deadline) noexcept
{
    Timer *t = qr(r)->t;
    int id;

    if (!on_loop_thread(r->ad))
        return -EPERM;
    try {
        id = t->startTimer(osev__ms_until(deadline), Qt::PreciseTimer);
    } catch (...) {
        return -ENOMEM;
    }
    if (id == 0) /* no dispatcher on this thread any more */
        return -EPERM;
    if (t->id)
        t->killTimer(t->id);
    t->id = id;
    return 0;
}

void timer_destroy(osev__areg *r)
{
    QtReg *q = qr(r);

    q->t->~Timer(); /* kills its timer, if running */
    q->t = nullptr;
}

int qt_timeout_start(osev__areg *r, osev_time deadline)
{
    QtReg *q = qr(r);
    int rc;

    if (!on_loop_thread(r->ad))
        return -EPERM;
    try {
        q->t = new (q->tmem) Timer(r);
    } catch (...) {
        return -ENOMEM;
    }
    rc = timer_arm(r, deadline);
    if (rc < 0)
        timer_destroy(r);
    return rc;
}

int qt_timeout_change(osev__areg *r, osev_time deadline)
{
    return timer_arm(r, deadline);
}

void qt_timeout_stop(osev__areg *r)
{
    timer_destroy(r);
}

int qt_attach(osev__adapter *ad)
{
    pthread_t self = pthread_self();

    std::memcpy(ad->state, &self, sizeof self);
    return 0;
}

osev__adapter_ops make_ops()
{
    osev__adapter_ops ops = {};

    ops.name = "qt";
    ops.reg_size = sizeof(QtReg);
    ops.state_size = sizeof(pthread_t);
    ops.attach = qt_attach;
    ops.fd_start = qt_fd_start;
    ops.fd_change = qt_fd_change;
    ops.fd_stop = qt_fd_stop;
    ops.timeout_start = qt_timeout_start;
    ops.timeout_change = qt_timeout_change;
    ops.timeout_stop = qt_timeout_stop;
    return ops;
}

const osev__adapter_ops qt_ops = make_ops();

} // namespace

extern "C" OSEV_EXPORT int osev_qt_attach(osev_ctx *ctx)
{
    QAbstractEventDispatcher *dispatcher;

    if (!ctx)
        return -EINVAL;
    try {
        /* The calling thread's; Qt may allocate its per-thread data. */
        dispatcher = QAbstractEventDispatcher::instance();
    } catch (...) {
        return -ENOMEM;
    }
    if (!dispatcher)
        return -EINVAL;
    return osev__adapter_attach(ctx, dispatcher, &qt_ops);
}

extern "C" OSEV_EXPORT void osev_qt_detach(osev_ctx *ctx)
{
    osev__adapter_detach(ctx);
}
