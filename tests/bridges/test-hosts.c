/*
 * test-hosts.c - the hosts of host.h, each driving a stand-in bridge: a
 * pipe whose other end a timer writes, and an event per byte read, typed
 * by name.  What every bridge test relies on: a host delivers fd and
 * timer callbacks and events, its runs are bounded by their deadline,
 * and after the stand-in's detach nothing is left registered.
 */
#include "testutil.h"
#include "host.h"

#include <string.h>
#include <unistd.h>

/* A bridge in miniature: owns a pipe, a watch and a timer. */
struct standin {
    osev_ctx *ctx;
    int type;
    int fds[2];
    osev_fd *w;
    osev_timer *t;
    int sent, read;
};

static void standin_readable(osev_fd *w, int fd, short revents, void *arg)
{
    struct standin *s = arg;
    osev_event *ev;
    char c;

    (void)w;
    ck_assert(revents & POLLIN);
    ck_assert_int_eq(read(fd, &c, 1), 1);
    s->read++;
    ev = osev_event_new(s->ctx, (unsigned)s->type, (uint64_t)s->read, 1);
    ck_assert_ptr_nonnull(ev);
    *(char *)ev->data = c;
    osev_event_post(s->ctx, ev);
}

/* Writes one byte, then re-arms itself until three were sent. */
static void standin_tick(osev_timer *t, osev_time now, void *arg)
{
    struct standin *s = arg;
    char c = (char)('a' + s->sent);

    ck_assert_int_eq(write(s->fds[1], &c, 1), 1);
    if (++s->sent < 3)
        ck_assert_int_eq(osev_timer_set(t, now + osev_ms(1)), 0);
}

static void standin_attach(struct standin *s, osev_ctx *ctx)
{
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    s->type = osev_event_type_get(ctx, "standin.read");
    ck_assert_int_ge(s->type, 0);
    tu_pipe(s->fds);
    ck_assert_int_eq(osev_fd_add(ctx, s->fds[0], POLLIN, standin_readable, s,
                                 &s->w), 0);
    ck_assert_int_eq(osev_timer_add(ctx, osev_now() + osev_ms(1),
                                    standin_tick, s, &s->t), 0);
}

static void standin_detach(struct standin *s)
{
    osev_fd_remove(s->w);
    osev_timer_remove(s->t);
    close(s->fds[0]);
    close(s->fds[1]);
}

START_TEST(events_in_order_then_nothing_left)
{
    struct host *h = host_open(host_names[_i]);
    struct standin s;
    osev_event *ev;

    standin_attach(&s, host_ctx(h));
    for (int i = 1; i <= 3; i++) {
        ck_assert_int_eq(host_wait_event(h, UINT64_C(1) << s.type, 5000, &ev),
                         0);
        ck_assert_uint_eq(ev->type, (unsigned)s.type);
        ck_assert_uint_eq(ev->for_user, (uint64_t)i);
        ck_assert_int_eq(*(char *)ev->data, 'a' + i - 1);
        osev_event_free(host_ctx(h), ev);
    }
    standin_detach(&s);
    /* The stand-in's removals are released by the next dispatch point;
     * what the registry holds is already gone. */
    host_assert_empty(h);
    host_close(h);
}
END_TEST

static bool never(void *arg)
{
    (void)arg;
    return false;
}

/* A run whose condition never holds ends at its deadline, leaving
 * nothing of its own behind; a wait for an event that never comes too. */
START_TEST(runs_end_at_their_deadline)
{
    struct host *h = host_open(host_names[_i]);
    osev_event *ev = (osev_event *)&ev;
    osev_time start = osev_now();

    ck_assert(!host_run_until(h, never, NULL, 20));
    ck_assert_int_ge(osev_now() - start, osev_ms(20));
    ck_assert_int_eq(host_wait_event(h, UINT64_C(1), 20, &ev), -ETIMEDOUT);
    ck_assert_ptr_null(ev);
    host_assert_empty(h);
    host_close(h);
}
END_TEST

/* The empty check fails while something is registered: it can fail. */
START_TEST(empty_check_sees_a_watch)
{
    struct host *h = host_open(host_names[_i]);
    struct standin s;
    struct osev_registry_stats rs = { .size = sizeof rs };

    standin_attach(&s, host_ctx(h));
    osev_timer_remove(s.t);
    ck_assert_int_eq(osev_get_registry_stats(host_ctx(h), &rs), 0);
    ck_assert_uint_eq(rs.fds, 1);
    ck_assert_uint_eq(rs.timers, 0);
    s.t = NULL;
    standin_detach(&s);
    host_assert_empty(h);
    host_close(h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bridge hosts");

    if (host_count() < 2)
        return 1;
    for (int i = 0; host_names[i]; i++) {
        TCase *tc = tcase_create(host_names[i]);

        tcase_set_timeout(tc, 60);
        tcase_add_loop_test(tc, events_in_order_then_nothing_left, i, i + 1);
        tcase_add_loop_test(tc, runs_end_at_their_deadline, i, i + 1);
        tcase_add_loop_test(tc, empty_check_sees_a_watch, i, i + 1);
        suite_add_tcase(s, tc);
    }
    return tu_run_suite(s);
}
