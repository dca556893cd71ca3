/*
 * test-evtype.c - several producers on one context: event types by name
 * (osev_event_type_get/_reserve/_find/_name), and what the registry holds
 * (osev_get_registry_stats), which a producer's detach is checked with.
 */
#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BIT(t) (UINT64_C(1) << (t))

START_TEST(new_names_take_the_highest_free_type)
{
    osev_ctx *ctx = tu_ctx_new();
    int a = osev_event_type_get(ctx, "a.done");
    int b = osev_event_type_get(ctx, "b.done");

    ck_assert_int_eq(a, 63);
    ck_assert_int_eq(b, 62);
    /* Asking again, from either producer, gives the same type. */
    ck_assert_int_eq(osev_event_type_get(ctx, "a.done"), a);
    ck_assert_int_eq(osev_event_type_find(ctx, "b.done"), b);
    ck_assert_str_eq(osev_event_type_name(ctx, 63), "a.done");
    ck_assert_ptr_null(osev_event_type_name(ctx, 0));
    ck_assert_ptr_null(osev_event_type_name(ctx, 64));
    ck_assert_ptr_null(osev_event_type_name(NULL, 63));
    ck_assert_int_eq(osev_event_type_find(ctx, "c.done"), -ENOENT);
    osev_ctx_free(ctx);
}
END_TEST

START_TEST(names_are_copied_and_stay_put)
{
    osev_ctx *ctx = tu_ctx_new();
    char name[] = "lib.event";
    const char *held;
    int t = osev_event_type_get(ctx, name);

    ck_assert_int_ge(t, 0);
    name[0] = 'X';
    held = osev_event_type_name(ctx, (unsigned)t);
    ck_assert_str_eq(held, "lib.event");
    ck_assert_int_eq(osev_event_type_find(ctx, "lib.event"), t);
    ck_assert_int_eq(osev_event_type_find(ctx, name), -ENOENT);
    /* Later names do not move or change the string handed out. */
    for (int i = 0; i < 20; i++) {
        char more[32];

        snprintf(more, sizeof more, "more.%d", i);
        ck_assert_int_ge(osev_event_type_get(ctx, more), 0);
    }
    ck_assert_ptr_eq(osev_event_type_name(ctx, (unsigned)t), held);
    ck_assert_str_eq(held, "lib.event");
    osev_ctx_free(ctx);
}
END_TEST

START_TEST(types_run_out_after_64_names)
{
    osev_ctx *ctx = tu_ctx_new();
    uint64_t seen = 0;
    char name[32];

    for (int i = 0; i < 64; i++) {
        int t;

        snprintf(name, sizeof name, "p%d.done", i);
        t = osev_event_type_get(ctx, name);
        ck_assert_int_ge(t, 0);
        ck_assert_int_le(t, 63);
        ck_assert(!(seen & BIT(t)));
        seen |= BIT(t);
    }
    ck_assert_uint_eq(seen, OSEV_EVENTMASK_ALL);
    ck_assert_int_eq(osev_event_type_get(ctx, "one.more"), -ENOSPC);
    ck_assert_int_eq(osev_event_type_find(ctx, "one.more"), -ENOENT);
    /* A name already held is still found when none is left. */
    ck_assert_int_eq(osev_event_type_get(ctx, "p0.done"), 63);
    ck_assert_int_eq(osev_event_type_reserve(ctx, "late", 5), -EEXIST);
    osev_ctx_free(ctx);
}
END_TEST

START_TEST(reserved_numbers_are_never_handed_out)
{
    osev_ctx *ctx = tu_ctx_new();
    char name[32];

    ck_assert_int_eq(osev_event_type_reserve(ctx, "app.tick", 63), 0);
    ck_assert_int_eq(osev_event_type_reserve(ctx, "app.quit", 0), 0);
    ck_assert_int_eq(osev_event_type_reserve(ctx, "app.tick", 63), 0);
    ck_assert_int_eq(osev_event_type_reserve(ctx, "app.other", 63), -EEXIST);
    ck_assert_int_eq(osev_event_type_reserve(ctx, "app.tick", 7), -EEXIST);
    ck_assert_int_eq(osev_event_type_get(ctx, "lib.done"), 62);
    ck_assert_int_eq(osev_event_type_get(ctx, "app.tick"), 63);
    for (int i = 0; i < 61; i++) {
        int t;

        snprintf(name, sizeof name, "fill.%d", i);
        t = osev_event_type_get(ctx, name);
        ck_assert_int_ge(t, 1);
        ck_assert_int_le(t, 61);
    }
    ck_assert_int_eq(osev_event_type_get(ctx, "none.left"), -ENOSPC);
    ck_assert_str_eq(osev_event_type_name(ctx, 0), "app.quit");
    osev_ctx_free(ctx);
}
END_TEST

START_TEST(bad_names_and_types_refused)
{
    osev_ctx *ctx = tu_ctx_new();
    char longest[OSEV_EVENT_TYPE_NAME_MAX + 2];

    ck_assert_int_eq(osev_event_type_get(NULL, "x"), -EINVAL);
    ck_assert_int_eq(osev_event_type_get(ctx, NULL), -EINVAL);
    ck_assert_int_eq(osev_event_type_get(ctx, ""), -EINVAL);
    ck_assert_int_eq(osev_event_type_reserve(NULL, "x", 1), -EINVAL);
    ck_assert_int_eq(osev_event_type_reserve(ctx, NULL, 1), -EINVAL);
    ck_assert_int_eq(osev_event_type_reserve(ctx, "", 1), -EINVAL);
    ck_assert_int_eq(osev_event_type_reserve(ctx, "x", 64), -EINVAL);
    ck_assert_int_eq(osev_event_type_find(NULL, "x"), -EINVAL);
    ck_assert_int_eq(osev_event_type_find(ctx, NULL), -EINVAL);
    memset(longest, 'n', sizeof longest);
    longest[OSEV_EVENT_TYPE_NAME_MAX + 1] = '\0'; /* one byte too long */
    ck_assert_int_eq(osev_event_type_get(ctx, longest), -EINVAL);
    ck_assert_int_eq(osev_event_type_reserve(ctx, longest, 3), -EINVAL);
    longest[OSEV_EVENT_TYPE_NAME_MAX] = '\0';
    ck_assert_int_eq(osev_event_type_get(ctx, longest), 63);
    ck_assert_str_eq(osev_event_type_name(ctx, 63), longest);
    /* Nothing refused took a type. */
    ck_assert_int_eq(osev_event_type_get(ctx, "next"), 62);
    osev_ctx_free(ctx);
}
END_TEST

START_TEST(no_memory_takes_no_type)
{
    struct osev_ctx_opts o = { .size = sizeof o, .realloc_fn = tu_realloc };
    osev_ctx *ctx;

    ck_assert_int_eq(osev_ctx_new(&o, &ctx), 0);
    tu_alloc_fail_at(0);
    ck_assert_int_eq(osev_event_type_get(ctx, "a.done"), -ENOMEM);
    tu_alloc_fail_at(0);
    ck_assert_int_eq(osev_event_type_reserve(ctx, "b.done", 4), -ENOMEM);
    tu_alloc_fail_at(-1);
    ck_assert_int_eq(osev_event_type_find(ctx, "a.done"), -ENOENT);
    ck_assert_ptr_null(osev_event_type_name(ctx, 4));
    ck_assert_int_eq(osev_event_type_get(ctx, "a.done"), 63);
    osev_ctx_free(ctx);
    ck_assert_int_eq(tu_alloc_live(), 0); /* the names went with it */
}
END_TEST

/* ---- two producers on one context ---- */

struct producer {
    osev_ctx *ctx;
    const char *name;
    int type;
    int posted;
};

static void producer_attach(struct producer *p, osev_ctx *ctx,
                            const char *name)
{
    p->ctx = ctx;
    p->name = name;
    p->type = osev_event_type_get(ctx, name);
    p->posted = 0;
    ck_assert_int_ge(p->type, 0);
}

/* Each event carries its producer's name and its number. */
static void producer_post(struct producer *p)
{
    osev_event *ev = osev_event_new(p->ctx, (unsigned)p->type,
                                    (uint64_t)++p->posted, strlen(p->name) + 1);

    ck_assert_ptr_nonnull(ev);
    memcpy(ev->data, p->name, strlen(p->name) + 1);
    osev_event_post(p->ctx, ev);
}

static void assert_from(osev_event *ev, const struct producer *p, int n)
{
    ck_assert_uint_eq(ev->type, (unsigned)p->type);
    ck_assert_str_eq(ev->data, p->name);
    ck_assert_uint_eq(ev->for_user, (uint64_t)n);
}

/* The application looks both names up and takes each producer's events
 * apart, with check and with wait, whatever order they were posted in. */
START_TEST(two_producers_each_get_their_own_through_check_and_wait)
{
    osev_ctx *ctx = tu_ctx_new();
    struct producer a, b;
    uint64_t mask_a, mask_b;
    osev_event *ev;

    producer_attach(&a, ctx, "alpha.result");
    producer_attach(&b, ctx, "beta.result");
    ck_assert_int_ne(a.type, b.type);
    mask_a = BIT(osev_event_type_find(ctx, "alpha.result"));
    mask_b = BIT(osev_event_type_find(ctx, "beta.result"));
    for (int i = 0; i < 3; i++) {
        producer_post(&b);
        producer_post(&a);
    }
    for (int i = 1; i <= 3; i++) {
        ck_assert_int_eq(osev_event_check(ctx, mask_a, NULL, NULL, &ev), 0);
        assert_from(ev, &a, i);
        osev_event_free(ctx, ev);
    }
    ck_assert_int_eq(osev_event_check(ctx, mask_a, NULL, NULL, &ev), -EAGAIN);
    for (int i = 1; i <= 3; i++) {
        ck_assert_int_eq(osev_event_wait(ctx, mask_b, NULL, NULL,
                                         osev_now() + osev_s(5), &ev), 0);
        assert_from(ev, &b, i);
        osev_event_free(ctx, ev);
    }
    ck_assert_int_eq(osev_event_wait(ctx, mask_b, NULL, NULL, osev_now(), &ev),
                     -ETIMEDOUT);
    osev_ctx_free(ctx);
}
END_TEST

struct occurs_log {
    osev_ctx *ctx;
    const struct producer *want;
    int got;
};

static void on_occurs(void *user, osev_event *ev)
{
    struct occurs_log *log = user;

    assert_from(ev, log->want, ++log->got);
    osev_event_free(log->ctx, ev);
}

/* The application hooks one producer's type for event_occurs and takes
 * the other's with check: each reaches only its own way, in every mode. */
START_TEST(two_producers_one_hooked_one_checked)
{
    osev_ctx *ctx = tu_ctx_new();
    struct producer a, b;
    struct occurs_log log = { ctx, &a, 0 };
    struct osev_event_hooks h = { 0 };
    osev_event *ev;

    producer_attach(&a, ctx, "alpha.result");
    producer_attach(&b, ctx, "beta.result");
    h.event_occurs_mask = BIT(osev_event_type_find(ctx, "alpha.result"));
    h.event_occurs = on_occurs;
    ck_assert_int_eq(osev_event_set_hooks(ctx, &h, sizeof h, &log), 0);
    producer_post(&a);
    producer_post(&b);
    producer_post(&a);
    /* Nothing of alpha's is in the queue; beta's is. */
    ck_assert_int_eq(osev_event_check(ctx, BIT(a.type), NULL, NULL, &ev),
                     -EAGAIN);
    tu_drive(ctx, _i);
    ck_assert_int_eq(log.got, 2);
    ck_assert_int_eq(osev_event_check(ctx, OSEV_EVENTMASK_ALL, NULL, NULL, &ev),
                     0);
    assert_from(ev, &b, 1);
    osev_event_free(ctx, ev);
    ck_assert_int_eq(osev_event_check(ctx, OSEV_EVENTMASK_ALL, NULL, NULL, &ev),
                     -EAGAIN);
    osev_ctx_free(ctx);
}
END_TEST

/* ---- what the registry holds ---- */

static void fd_nop(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)fd, (void)revents, (void)arg;
}

static void timer_nop(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now, (void)arg;
}

static void defer_nop(osev_ctx *ctx, void *arg)
{
    (void)ctx, (void)arg;
}

static void signal_nop(osev_signal *s, int signo, void *arg)
{
    (void)s, (void)signo, (void)arg;
}

static void child_nop(osev_child *c, pid_t pid, int status, void *arg)
{
    (void)c, (void)pid, (void)status, (void)arg;
}

static struct osev_registry_stats stats(osev_ctx *ctx)
{
    struct osev_registry_stats st = { .size = sizeof st };

    ck_assert_int_eq(osev_get_registry_stats(ctx, &st), 0);
    ck_assert_uint_eq(st.size, sizeof st);
    return st;
}

START_TEST(registry_stats_count_what_the_user_added)
{
    osev_ctx *ctx = tu_ctx_new();
    struct osev_registry_stats st;
    int p[2];
    osev_fd *w1, *w2;
    osev_timer *t1, *t2;
    osev_signal *s;
    osev_child *c;
    pid_t pid;

    st = stats(ctx);
    ck_assert_uint_eq(st.fds + st.timers + st.armed_timers + st.signals +
                          st.children + st.pending, 0);
    tu_pipe(p);
    ck_assert_int_eq(osev_fd_add(ctx, p[0], POLLIN, fd_nop, NULL, &w1), 0);
    ck_assert_int_eq(osev_fd_add(ctx, p[0], POLLOUT, fd_nop, NULL, &w2), 0);
    ck_assert_int_eq(osev_timer_add(ctx, osev_now() + osev_s(60), timer_nop,
                                    NULL, &t1), 0);
    ck_assert_int_eq(osev_timer_add(ctx, OSEV_TIME_INFINITY, timer_nop, NULL,
                                    &t2), 0);
    ck_assert_int_eq(osev_defer(ctx, defer_nop, NULL), 0);
    ck_assert_int_eq(osev_signal_add(ctx, SIGUSR2, signal_nop, NULL, &s), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(0);
    ck_assert_int_eq(osev_child_add(ctx, pid, child_nop, NULL, &c), 0);
    st = stats(ctx);
    ck_assert_uint_eq(st.fds, 2);
    ck_assert_uint_eq(st.timers, 2);
    ck_assert_uint_eq(st.armed_timers, 1);
    ck_assert_uint_eq(st.signals, 1); /* the child's own fds not counted */
    ck_assert_uint_eq(st.children, 1);
    ck_assert_uint_eq(st.pending, 1);

    tu_drive_now(ctx, TU_DRIVE_DISPATCH); /* runs the deferred call */
    osev_fd_remove(w1);
    osev_timer_remove(t1);
    osev_signal_remove(s);
    osev_child_remove(c);
    st = stats(ctx);
    ck_assert_uint_eq(st.fds, 1);
    ck_assert_uint_eq(st.timers, 1);
    ck_assert_uint_eq(st.armed_timers, 0);
    ck_assert_uint_eq(st.signals, 0);
    ck_assert_uint_eq(st.children, 0);
    ck_assert_uint_eq(st.pending, 0);
    osev_fd_remove(w2);
    osev_fd_remove(w2); /* a second remove does nothing */
    osev_timer_remove(t2);
    st = stats(ctx);
    ck_assert_uint_eq(st.fds + st.timers, 0);
    osev_ctx_free(ctx);
    waitpid(pid, NULL, 0);
    close(p[0]);
    close(p[1]);
}
END_TEST

START_TEST(registry_stats_refuse_bad_arguments)
{
    osev_ctx *ctx = tu_ctx_new();
    struct osev_registry_stats st = { .size = sizeof st - 1 };

    ck_assert_int_eq(osev_get_registry_stats(NULL, &st), -EINVAL);
    ck_assert_int_eq(osev_get_registry_stats(ctx, NULL), -EINVAL);
    ck_assert_int_eq(osev_get_registry_stats(ctx, &st), -EINVAL);
    osev_ctx_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("evtype");
    TCase *tc = tcase_create("names");

    tcase_add_test(tc, new_names_take_the_highest_free_type);
    tcase_add_test(tc, names_are_copied_and_stay_put);
    tcase_add_test(tc, types_run_out_after_64_names);
    tcase_add_test(tc, reserved_numbers_are_never_handed_out);
    tcase_add_test(tc, bad_names_and_types_refused);
    tcase_add_test(tc, no_memory_takes_no_type);
    suite_add_tcase(s, tc);
    tc = tcase_create("producers");
    tcase_add_test(tc, two_producers_each_get_their_own_through_check_and_wait);
    tcase_add_loop_test(tc, two_producers_one_hooked_one_checked, 0,
                        TU_DRIVE_MODES);
    suite_add_tcase(s, tc);
    tc = tcase_create("registry");
    tcase_add_test(tc, registry_stats_count_what_the_user_added);
    tcase_add_test(tc, registry_stats_refuse_bad_arguments);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
