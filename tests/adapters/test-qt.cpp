/*
 * test-qt.cpp - the push scenario inside a real Qt event loop: the main
 * thread's dispatcher of a QCoreApplication, turned with
 * QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents).  Built
 * twice: test-qt keeps the dispatcher Qt picks (its GLib one, where Qt is
 * built with GLib as Debian's is), test-qt-unix sets QT_NO_GLIB first and
 * gets Qt's own, QEventDispatcherUNIX.  Then what is the Qt adapter's
 * own: POLLPRI watched (Qt has an Exception notifier), a timer moved
 * later leaving no Qt timer at the old deadline, changes from another
 * thread refused, and attach without a dispatcher refused.
 *
 * Qt counts nothing publicly (only the timers of a QObject one names),
 * so what the dispatcher holds is read where it hands it to the system
 * (qt-probe.h): GLib's own list of the fds it polls and its timeout, or
 * the pollfds and timeout the UNIX dispatcher passes to ppoll().
 */
extern "C" {
#include "scenario.h" /* first: config.h */
}

#include <arpa/inet.h>
#include <cstdlib>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <QtCore/QAbstractEventDispatcher>
#include <QtCore/QCoreApplication>
#include <QtCore/QEventLoop>

#include "osevent-qt.h"
#include "qt-probe.h"

static void *qt_loop_new()
{
    return QAbstractEventDispatcher::instance();
}

static void qt_loop_free(void *loop)
{
    (void)loop; /* the application's, for the whole program */
}

static int qt_attach(osev_ctx *ctx, void *loop)
{
    ck_assert_ptr_eq(loop, QAbstractEventDispatcher::instance());
    return osev_qt_attach(ctx);
}

static void qt_iterate(void *loop)
{
    (void)loop;
    QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents);
}

static int qt_foreign_count(void *loop)
{
    (void)loop;
    return qt_probe_count();
}

static bool qt_is_empty(void *loop)
{
    return qt_foreign_count(loop) == 0;
}

static void qt_settle(void *loop)
{
    (void)loop;
    qt_probe_settle();
}

static bool qt_woken(void *loop)
{
    (void)loop;
    return qt_probe_woken();
}

/* ---- what only the Qt adapter does ---- */

static void count_pri(osev_fd *w, int fd, short revents, void *arg)
{
    char c;

    (void)w;
    ck_assert(revents & POLLPRI);
    ck_assert_int_eq(recv(fd, &c, 1, MSG_OOB), 1);
    ++*static_cast<int *>(arg);
}

/* A TCP connection over the loopback: urgent data is what POLLPRI
 * reports on a socket. */
static void tcp_pair(int sv[2])
{
    struct sockaddr_in sa = {};
    socklen_t len = sizeof sa;
    int lst = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(lst, 0);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(lst, reinterpret_cast<struct sockaddr *>(&sa),
                          sizeof sa), 0);
    ck_assert_int_eq(listen(lst, 1), 0);
    ck_assert_int_eq(getsockname(lst, reinterpret_cast<struct sockaddr *>(&sa),
                                 &len), 0);
    sv[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(sv[0], 0);
    ck_assert_int_eq(connect(sv[0], reinterpret_cast<struct sockaddr *>(&sa),
                             sizeof sa), 0);
    sv[1] = accept4(lst, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    ck_assert_int_ge(sv[1], 0);
    close(lst);
}

/* An Exception notifier reports urgent data as POLLPRI, once per byte
 * read back; and the mask grows to POLLPRI while attached. */
START_TEST(pollpri_reported)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_fd *in, *pri;
    int sv[2], calls = 0, in_calls = 0;
    osev_time until = osev_now() + osev_s(5);

    tcp_pair(sv);
    ck_assert_osev_ok(osev_qt_attach(ctx));
    ck_assert_osev_ok(osev_fd_add(ctx, sv[1], POLLIN,
                                  [](osev_fd *, int, short, void *arg) {
                                      ++*static_cast<int *>(arg);
                                  },
                                  &in_calls, &in));
    ck_assert_osev_ok(osev_fd_add(ctx, sv[1], POLLPRI, count_pri, &calls,
                                  &pri));
    ck_assert_int_eq(qt_probe_count(), 2); /* sv[1], the wakeup fd */
    ck_assert_int_eq(send(sv[0], "!", 1, MSG_OOB), 1);
    while (calls == 0) {
        ck_assert(osev_now() < until);
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents);
    }
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(in_calls, 0); /* no in-band data: POLLIN never */
    osev_fd_remove(pri);
    osev_fd_remove(in);
    osev_ctx_free(ctx);
    ck_assert_int_eq(qt_probe_count(), 0);
    close(sv[0]), close(sv[1]);
}
END_TEST

static void count_timer(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now;
    ++*static_cast<int *>(arg);
}

/* A timeout moved later replaces the Qt timer of the old deadline, which
 * would otherwise still fire: a turn of the loop with nothing of ours to
 * run.  One turn, the one that runs the timer at its new deadline. */
START_TEST(timeout_moved_later_leaves_no_timer)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_timer *t;
    int calls = 0, turns = 0;
    osev_time until = osev_now() + osev_s(5);

    ck_assert_osev_ok(osev_qt_attach(ctx));
    ck_assert_osev_ok(osev_timer_add(ctx, osev_now() + osev_ms(10),
                                     count_timer, &calls, &t));
    ck_assert_osev_ok(osev_timer_set(t, osev_now() + osev_ms(60)));
    while (calls == 0) {
        ck_assert(osev_now() < until);
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents);
        turns++;
    }
    ck_assert_int_eq(turns, 1);
    ck_assert_int_eq(qt_probe_count(), 1); /* the wakeup fd alone */
    osev_timer_remove(t);
    osev_ctx_free(ctx);
}
END_TEST

struct foreign {
    osev_ctx *ctx;
    int fd;
    int fd_rc, timer_rc, attach_rc;
};

static void nop_fd(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)fd, (void)revents, (void)arg;
}

static void nop_timer(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now, (void)arg;
}

static void *change_from_thread(void *arg)
{
    struct foreign *F = static_cast<struct foreign *>(arg);
    osev_fd *w = nullptr;
    osev_timer *t = nullptr;

    F->fd_rc = osev_fd_add(F->ctx, F->fd, POLLIN, nop_fd, nullptr, &w);
    F->timer_rc = osev_timer_add(F->ctx, osev_now() + osev_s(1), nop_timer,
                                 nullptr, &t);
    return nullptr;
}

/* Qt's objects belong to their thread: a change from another thread
 * that needs one is refused with -EPERM and changes nothing. */
START_TEST(change_from_other_thread_refused)
{
    struct foreign F = {};
    struct osev_hook_stats st = {};
    pthread_t th;
    int p[2];

    tu_pipe(p);
    F.ctx = tu_ctx_new();
    F.fd = p[0];
    ck_assert_osev_ok(osev_qt_attach(F.ctx));
    ck_assert_int_eq(pthread_create(&th, nullptr, change_from_thread, &F), 0);
    ck_assert_int_eq(pthread_join(th, nullptr), 0);
    st.size = sizeof st;
    ck_assert_osev_err(F.fd_rc, -EPERM);
    ck_assert_osev_err(F.timer_rc, -EPERM);
    ck_assert_osev_ok(osev_get_hook_stats(F.ctx, &st));
    ck_assert_uint_eq(st.fd_regs, 1); /* the wakeup fd alone */
    ck_assert_uint_eq(st.timeout_regs, 0);
    ck_assert_int_eq(qt_probe_count(), 1);
    osev_ctx_free(F.ctx);
    ck_assert_int_eq(qt_probe_count(), 0);
    close(p[0]), close(p[1]);
}
END_TEST

static void *attach_from_thread(void *arg)
{
    struct foreign *F = static_cast<struct foreign *>(arg);

    F->attach_rc = osev_qt_attach(F->ctx);
    return nullptr;
}

/* A thread Qt runs no event loop in has no dispatcher to attach to. */
START_TEST(attach_needs_dispatcher)
{
    struct foreign F = {};
    pthread_t th;

    ck_assert_osev_err(osev_qt_attach(nullptr), -EINVAL);
    F.ctx = tu_ctx_new();
    ck_assert_int_eq(pthread_create(&th, nullptr, attach_from_thread, &F), 0);
    ck_assert_int_eq(pthread_join(th, nullptr), 0);
    ck_assert_osev_err(F.attach_rc, -EINVAL);
    ck_assert_osev_ok(osev_qt_attach(F.ctx)); /* here it has one */
    osev_qt_detach(F.ctx);
    osev_ctx_free(F.ctx);
}
END_TEST

static int qt_own_suite(const char *name)
{
    Suite *s = suite_create(name);
    TCase *tc = tcase_create("qt");

    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, pollpri_reported);
    tcase_add_test(tc, timeout_moved_later_leaves_no_timer);
    tcase_add_test(tc, change_from_other_thread_refused);
    tcase_add_test(tc, attach_needs_dispatcher);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}

int main(int argc, char **argv)
{
    struct scenario_loop loop = {};
    int scenario_rc, own_rc;

#if defined(OSEV_TEST_QT_NO_GLIB) || !defined(OSEV_TEST_QT_GLIB_PROBE)
    setenv("QT_NO_GLIB", "1", 1); /* Qt's own dispatcher */
#endif
    QCoreApplication app(argc, argv);

    qt_probe_init();
    loop.name = qt_probe_glib() ? "qt-glib" : "qt-unix";
    loop.loop_new = qt_loop_new;
    loop.loop_free = qt_loop_free;
    loop.attach = qt_attach;
    loop.detach = osev_qt_detach;
    loop.iterate = qt_iterate;
    loop.foreign_count = qt_foreign_count;
    loop.is_empty = qt_is_empty;
    /* GLib's wakeup fd is shared with a forked child: it must not be
     * written there.  Qt's UNIX dispatcher has an eventfd of its own
     * (the probe cannot tell when it was written). */
    if (qt_probe_glib()) {
        loop.settle = qt_settle;
        loop.woken = qt_woken;
    }
    /* No child_reinit: Qt has no way to give a child its own dispatcher.
     * POLLPRI is watched (Exception notifiers), not refused.  Qt objects
     * are used from their thread only: no any_thread. */
    scenario_rc = scenario_main(&loop);
    own_rc = qt_own_suite(loop.name);
    return scenario_rc != EXIT_SUCCESS || own_rc != EXIT_SUCCESS
               ? EXIT_FAILURE
               : EXIT_SUCCESS;
}
