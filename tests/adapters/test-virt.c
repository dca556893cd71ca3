/*
 * test-virt.c - the push scenario inside libvirt's default event loop
 * (virEventRegisterDefaultImpl() + virEventRunDefaultImpl()).
 *
 * libvirt has no loop object and no call that counts registrations, so
 * the "loop" is a placeholder and foreign_count is NULL: the scenario's
 * counts are osevent's own (osev_get_hook_stats).  Emptiness is checked
 * in what libvirt's default implementation is made of since libvirt 6.1:
 * GLib's default main context, which the adapter reaches only through
 * libvirt.  Once libvirt's deferred clean-ups (idle sources that unref
 * GSources and run free callbacks) have run, GLib would poll no fd but
 * its own wakeup fd and has no timeout: nothing of ours is left.
 *
 * libvirt's implementation cannot be unregistered: it is registered once
 * per process (a forked test child starts without it).
 */
#include "scenario.h"

#include <glib.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "osevent-virt.h"

static bool registered;
static char virt_loop; /* libvirt's loop is the process's */

static void *virt_new(void)
{
    if (!registered) {
        ck_assert_int_eq(virEventRegisterDefaultImpl(), 0);
        registered = true;
    }
    return &virt_loop;
}

static void virt_free(void *loop)
{
    (void)loop;
}

static int virt_attach(osev_ctx *ctx, void *loop)
{
    (void)loop;
    return osev_virt_attach(ctx);
}

static void virt_iterate(void *loop)
{
    (void)loop;
    ck_assert_int_eq(virEventRunDefaultImpl(), 0);
}

/* Run libvirt's pending clean-ups without blocking (a bounded number of
 * turns: nothing of ours stays ready once detached). */
static void virt_settle(void)
{
    for (int i = 0; i < 100 && g_main_context_pending(NULL); i++)
        g_main_context_iteration(NULL, FALSE);
}

static bool virt_empty(void *loop)
{
    GMainContext *gctx = g_main_context_default();
    GPollFD fds[64];
    gint prio, timeout, n;

    (void)loop;
    virt_settle();
    ck_assert(g_main_context_acquire(gctx));
    g_main_context_prepare(gctx, &prio);
    n = g_main_context_query(gctx, G_MAXINT, &timeout, fds,
                             G_N_ELEMENTS(fds));
    g_main_context_release(gctx);
    ck_assert_int_ge(n, 1); /* GLib's own wakeup fd */
    return n == 1 && timeout == -1 && !g_main_context_pending(gctx);
}

static const struct scenario_loop virt_scenario_loop = {
    .name = "virt",
    .loop_new = virt_new,
    .loop_free = virt_free,
    .attach = virt_attach,
    .detach = osev_virt_detach,
    .iterate = virt_iterate,
    .foreign_count = NULL, /* libvirt cannot tell */
    .is_empty = virt_empty,
};

/* ---- what only this adapter decides ---- */

static void count_fd(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)revents;
    tu_drain(fd);
    ++*(int *)arg;
}

static void count_timer(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now;
    ++*(int *)arg;
}

static unsigned fd_regs(osev_ctx *ctx)
{
    struct osev_hook_stats st = { .size = sizeof st };

    ck_assert_osev_ok(osev_get_hook_stats(ctx, &st));
    return st.fd_regs;
}

/* Before any implementation is registered libvirt refuses every
 * registration: attach fails, all or none.  Only meaningful in a process
 * that has not registered yet (a forked child, or this suite running
 * first with CK_FORK=no). */
START_TEST(attach_without_impl_fails)
{
    osev_ctx *ctx = tu_ctx_new();

    if (!registered) {
        ck_assert_osev_err(osev_virt_attach(ctx), -EIO);
        ck_assert_uint_eq(fd_regs(ctx), 0);
    }
    osev_ctx_free(ctx);
}
END_TEST

/* libvirt has no urgent-data event: refused when attaching (all or none)
 * and when a mask grows to it, the old watch left working. */
START_TEST(pollpri_refused)
{
    osev_ctx *ctx = tu_ctx_new();
    osev_fd *w, *pri;
    int p[2], calls = 0;

    virt_new();
    tu_pipe(p);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLPRI, count_fd, &calls, &pri));
    ck_assert_osev_err(osev_virt_attach(ctx), -EINVAL);
    ck_assert(virt_empty(NULL)); /* the wakeup fd's handle went again */
    osev_fd_remove(pri);

    ck_assert_osev_ok(osev_virt_attach(ctx));
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, count_fd, &calls, &w));
    ck_assert_osev_err(osev_fd_add(ctx, p[1], POLLPRI, count_fd, &calls, &pri),
                       -EINVAL);
    ck_assert_osev_err(osev_fd_modify(w, POLLIN | POLLPRI), -EINVAL);
    ck_assert_uint_eq(fd_regs(ctx), 2);
    tu_write_byte(p[1]);
    while (calls == 0)
        virt_iterate(NULL);
    ck_assert_int_eq(calls, 1);

    osev_fd_remove(w);
    osev_ctx_free(ctx);
    ck_assert(virt_empty(NULL));
    close(p[0]), close(p[1]);
}
END_TEST

struct two {
    osev_ctx *ctx;
    int a[2], b[2];
    osev_fd *wa, *wb;
    int calls;
    bool free_ctx; /* the first callback frees the context, else detaches */
};

static void two_cb(osev_fd *w, int fd, short revents, void *arg)
{
    struct two *T = arg;

    (void)w, (void)revents;
    tu_drain(fd);
    if (T->calls++ > 0)
        return;
    if (T->free_ctx) {
        osev_ctx_free(T->ctx);
        T->ctx = NULL;
    } else {
        osev_virt_detach(T->ctx);
    }
}

/* Two fds ready in one turn of libvirt's loop; the first callback ends
 * the attachment: the second is not reported through libvirt, and the
 * records libvirt was still holding are freed by its free callbacks (the
 * memory checkers see any use after free). */
static void end_in_callback(bool free_ctx)
{
    struct two T = { .free_ctx = free_ctx };

    virt_new();
    T.ctx = tu_ctx_new();
    tu_pipe(T.a);
    tu_pipe(T.b);
    ck_assert_osev_ok(osev_fd_add(T.ctx, T.a[0], POLLIN, two_cb, &T, &T.wa));
    ck_assert_osev_ok(osev_fd_add(T.ctx, T.b[0], POLLIN, two_cb, &T, &T.wb));
    ck_assert_osev_ok(osev_virt_attach(T.ctx));
    tu_write_byte(T.a[1]);
    tu_write_byte(T.b[1]);
    while (T.calls == 0)
        virt_iterate(NULL);
    ck_assert_int_eq(T.calls, 1);
    ck_assert(virt_empty(NULL));
    ck_assert_int_eq(T.calls, 1);
    if (T.ctx) { /* detached: the other watch still works, pulled */
        while (T.calls < 2)
            ck_assert_int_ge(osev_loop_once(T.ctx, osev_now() + osev_s(5)), 0);
        osev_ctx_free(T.ctx);
    }
    close(T.a[0]), close(T.a[1]), close(T.b[0]), close(T.b[1]);
}

START_TEST(detach_from_callback)
{
    end_in_callback(false);
}
END_TEST

START_TEST(ctx_free_from_callback)
{
    end_in_callback(true);
}
END_TEST

struct adder {
    osev_ctx *ctx;
    int calls;
};

static void *add_timer_thread(void *arg)
{
    struct adder *A = arg;
    osev_timer *t;

    ck_assert_osev_ok(osev_timer_add(A->ctx, 0, count_timer, &A->calls, &t));
    return NULL;
}

/* A timer added from another thread while libvirt's loop blocks with no
 * timeout: libvirt's timer, added from that thread, wakes the loop. */
START_TEST(timer_from_other_thread_wakes_loop)
{
    struct adder A = { .ctx = tu_ctx_new() };
    osev_time until = osev_now() + osev_s(5);
    pthread_t th;

    virt_new();
    ck_assert_osev_ok(osev_virt_attach(A.ctx));
    ck_assert_int_eq(pthread_create(&th, NULL, add_timer_thread, &A), 0);
    while (A.calls == 0) {
        ck_assert(osev_now() < until);
        virt_iterate(NULL);
    }
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    osev_ctx_free(A.ctx);
    ck_assert(virt_empty(NULL));
}
END_TEST

static Suite *virt_suite(void)
{
    Suite *s = suite_create("virt-only");
    TCase *tc = tcase_create("adapter");

    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, attach_without_impl_fails); /* first: see there */
    tcase_add_test(tc, pollpri_refused);
    tcase_add_test(tc, detach_from_callback);
    tcase_add_test(tc, ctx_free_from_callback);
    tcase_add_test(tc, timer_from_other_thread_wakes_loop);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int own = tu_run_suite(virt_suite());
    int shared = scenario_main(&virt_scenario_loop);

    return shared != EXIT_SUCCESS ? shared : own;
}
