/*
 * test-wakeups.c - no state change is lost on a thread that is about to
 * block.
 *
 * The loop's thread drops the lock between the start of its turn and its
 * wait (it runs the releases of what ended, with the lock released).  A
 * change made by another thread in that window, after the loop's last look
 * at it, must still end the wait.  The window is made deterministic: a
 * release hands control to the test's thread and waits until its call
 * has returned, then lets the loop go on into its wait.  Each row is a
 * kind of change a blocked loop or waiter must notice.
 */
#include "testutil.h"

#include <pthread.h>
#include <semaphore.h>
#include <time.h>

#define BOUND osev_s(10) /* generous: a noisy 2-core machine */

static sem_t in_release, change_done;

/* A release that lets the test's thread act while the loop's thread is
 * between the start of its turn and its wait. */
static void hand_off(void *arg)
{
    (void)arg;
    sem_post(&in_release);
    sem_wait(&change_done);
}

static void bound_wait(sem_t *sem)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    ck_assert_msg(sem_timedwait(sem, &ts) == 0, "hand-off never came");
}

static void never_called(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now, (void)arg;
    ck_abort_msg("a timer that was never armed ran");
}

/* Queue hand_off() for the next release point of @ctx. */
static void arm_hand_off(osev_ctx *ctx)
{
    osev_timer *t;

    ck_assert_int_eq(sem_init(&in_release, 0, 0), 0);
    ck_assert_int_eq(sem_init(&change_done, 0, 0), 0);
    ck_assert_osev_ok(osev_timer_add(ctx, OSEV_TIME_INFINITY, never_called,
                                     NULL, &t));
    osev_timer_set_release(t, hand_off);
    osev_timer_remove(t);
}

enum waiter_kind { RUN, WAIT };

struct loop_thread {
    osev_ctx *ctx;
    enum waiter_kind kind;
    int result;
    osev_event *ev;
};

static void *loop_main(void *arg)
{
    struct loop_thread *lt = arg;

    if (lt->kind == RUN)
        lt->result = osev_loop_run(lt->ctx);
    else
        lt->result = osev_event_wait(lt->ctx, UINT64_C(1) << 5, NULL, NULL,
                                     OSEV_TIME_INFINITY, &lt->ev);
    return NULL;
}

/*
 * Start the loop's thread, make @change in the window, and return once the
 * thread is done; fails (after unblocking it) if it stays blocked.
 */
static void run_window(struct loop_thread *lt, void (*change)(osev_ctx *))
{
    struct timespec ts;
    pthread_t th;
    bool joined;

    arm_hand_off(lt->ctx);
    ck_assert_int_eq(pthread_create(&th, NULL, loop_main, lt), 0);
    bound_wait(&in_release);
    change(lt->ctx);
    sem_post(&change_done);
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    joined = pthread_timedjoin_np(th, NULL, &ts) == 0;
    if (!joined) {
        /* Unblock it so the process can end, then say what went wrong. */
        osev_loop_exit(lt->ctx, 99);
        osev_disaster(lt->ctx, 0, "test cleanup", 0);
        pthread_join(th, NULL);
    }
    ck_assert_msg(joined, "the loop stayed blocked: the change was lost");
    sem_destroy(&in_release);
    sem_destroy(&change_done);
}

/* ---- the changes ---- */

static void change_exit(osev_ctx *ctx)
{
    osev_loop_exit(ctx, 5);
}

static void change_disaster(osev_ctx *ctx)
{
    osev_disaster(ctx, 0, "events lost on purpose (test)", 0);
}

static void change_post(osev_ctx *ctx)
{
    osev_event *ev = osev_event_new(ctx, 5, 55, 0);

    ck_assert_ptr_nonnull(ev);
    osev_event_post(ctx, ev);
}

static void post_from_loop(osev_ctx *ctx, void *arg)
{
    (void)arg;
    change_post(ctx);
}

static void change_schedule(osev_ctx *ctx)
{
    ck_assert_osev_ok(osev_schedule(ctx, post_from_loop, NULL, NULL));
}

static void exit_from_timer(osev_timer *t, osev_time now, void *arg)
{
    (void)now, (void)arg;
    osev_loop_exit(arg, 6);
    osev_timer_remove(t);
}

static void change_timer(osev_ctx *ctx)
{
    osev_timer *t;

    ck_assert_osev_ok(osev_timer_add(ctx, osev_now(), exit_from_timer, ctx,
                                     &t));
}

static void exit_deferred(osev_ctx *ctx, void *arg)
{
    (void)arg;
    osev_loop_exit(ctx, 7);
}

static void change_defer(osev_ctx *ctx)
{
    ck_assert_osev_ok(osev_defer(ctx, exit_deferred, NULL));
}

/* ---- one test per change ---- */

START_TEST(loop_exit_in_the_window)
{
    struct loop_thread lt = { .ctx = tu_ctx_new(), .kind = RUN };

    run_window(&lt, change_exit);
    ck_assert_int_eq(lt.result, 5);
    osev_ctx_free(lt.ctx);
}
END_TEST

START_TEST(unhooked_disaster_in_the_window)
{
    struct loop_thread lt = { .ctx = tu_ctx_new(), .kind = WAIT };

    run_window(&lt, change_disaster);
    ck_assert_osev_err(lt.result, -EIO);
    osev_ctx_free(lt.ctx);
}
END_TEST

START_TEST(post_in_the_window)
{
    struct loop_thread lt = { .ctx = tu_ctx_new(), .kind = WAIT };

    run_window(&lt, change_post);
    ck_assert_osev_ok(lt.result);
    ck_assert_uint_eq(lt.ev->for_user, 55);
    osev_event_free(lt.ctx, lt.ev);
    osev_ctx_free(lt.ctx);
}
END_TEST

START_TEST(schedule_in_the_window)
{
    struct loop_thread lt = { .ctx = tu_ctx_new(), .kind = WAIT };

    run_window(&lt, change_schedule);
    ck_assert_osev_ok(lt.result);
    ck_assert_uint_eq(lt.ev->for_user, 55);
    osev_event_free(lt.ctx, lt.ev);
    osev_ctx_free(lt.ctx);
}
END_TEST

START_TEST(timer_added_in_the_window)
{
    struct loop_thread lt = { .ctx = tu_ctx_new(), .kind = RUN };

    run_window(&lt, change_timer);
    ck_assert_int_eq(lt.result, 6);
    osev_ctx_free(lt.ctx);
}
END_TEST

START_TEST(defer_in_the_window)
{
    struct loop_thread lt = { .ctx = tu_ctx_new(), .kind = RUN };

    run_window(&lt, change_defer);
    ck_assert_int_eq(lt.result, 7);
    osev_ctx_free(lt.ctx);
}
END_TEST

static Suite *wakeups_suite(void)
{
    Suite *s = suite_create("wakeups");
    TCase *tc = tcase_create("window");

    tcase_add_test(tc, loop_exit_in_the_window);
    tcase_add_test(tc, unhooked_disaster_in_the_window);
    tcase_add_test(tc, post_in_the_window);
    tcase_add_test(tc, schedule_in_the_window);
    tcase_add_test(tc, timer_added_in_the_window);
    tcase_add_test(tc, defer_in_the_window);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(wakeups_suite());
}
