/*
 * scenario.c - the push-mode scenario, written once and run inside every
 * real foreign loop (tests/adapters/test-<loop>.c say how to drive each).
 *
 * The main scenario: three watches on two pipes (w1 and w2 share pipe A,
 * w3 is on pipe B), two timers (t1 re-armed once from its own callback),
 * w1's callback removing w2 in the pass where both are ready and w3 whose
 * fd was never written, events reaching event_occurs and
 * osev_event_check(), the hook-level count of registrations (distinct
 * fds, the wakeup fd among them, plus one timeout), and after detach a
 * foreign loop with nothing of ours in it.
 *
 * Around it, what every adapter must get right in its loop: detaching
 * with registrations live, a merged mask and a mask that changes, a
 * timeout armed late in a turn, a callback that detaches or frees the
 * context while another fd is ready; a child of fork() that frees or
 * detaches the context it inherited, which must leave the parent's loop
 * working and not woken (and, where a child can go on with its copy of
 * the loop, the watches it abandoned there report nothing); and, where
 * struct scenario_loop says they apply, POLLPRI refused, a timer added
 * from another thread, and the loop's "run until done" call, which
 * returns once the context holds nothing of the application's, and not
 * while it holds a watch, an armed timer, a signal or child watch, or
 * work for a pass.
 */
#include "scenario.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

enum { EV_OCCURS = 1, EV_CHECKED = 2 };

static const struct scenario_loop *L;

struct world {
    osev_ctx *ctx;
    void *loop;
    int a[2], b[2];
    osev_fd *w1, *w2, *w3;
    osev_timer *t1, *t2;
    int w1_calls, w2_calls, w3_calls, t1_calls, t2_calls, occurs_calls;
    int order[8], norder;
    unsigned occurs_type;
};

static void note(struct world *W, int what)
{
    if (W->norder < 8)
        W->order[W->norder++] = what;
}

static void w1_cb(osev_fd *w, int fd, short revents, void *arg)
{
    struct world *W = arg;

    (void)w;
    ck_assert(revents & POLLIN);
    W->w1_calls++;
    tu_drain(fd);
    /* w2 was ready in this very pass: it must not run now. */
    osev_fd_remove(W->w2);
    W->w2 = NULL;
    /* w3's fd then has no watch: its registration must go. */
    osev_fd_remove(W->w3);
    W->w3 = NULL;
    note(W, 'a');
}

static void w2_cb(osev_fd *w, int fd, short revents, void *arg)
{
    struct world *W = arg;

    (void)w, (void)fd, (void)revents;
    W->w2_calls++;
}

static void w3_cb(osev_fd *w, int fd, short revents, void *arg)
{
    struct world *W = arg;

    (void)w, (void)fd, (void)revents;
    W->w3_calls++;
}

static void post(osev_ctx *ctx, unsigned type, int value)
{
    osev_event *ev = osev_event_new(ctx, type, 42, sizeof value);

    ck_assert_ptr_nonnull(ev);
    memcpy(ev->data, &value, sizeof value);
    osev_event_post(ctx, ev);
}

static void t1_cb(osev_timer *t, osev_time now, void *arg)
{
    struct world *W = arg;

    W->t1_calls++;
    note(W, '1');
    if (W->t1_calls == 1) /* re-armed from its own callback, once */
        ck_assert_osev_ok(osev_timer_set(t, now + osev_ms(15)));
    post(W->ctx, EV_OCCURS, W->t1_calls);
}

static void t2_cb(osev_timer *t, osev_time now, void *arg)
{
    struct world *W = arg;

    (void)t, (void)now;
    W->t2_calls++;
    note(W, '2');
    post(W->ctx, EV_CHECKED, 7);
}

static void occurs(void *user, osev_event *ev)
{
    struct world *W = user;

    W->occurs_calls++;
    W->occurs_type = ev->type;
    osev_event_free(W->ctx, ev);
}

static struct osev_hook_stats stats(osev_ctx *ctx)
{
    struct osev_hook_stats st = { .size = sizeof st };

    ck_assert_osev_ok(osev_get_hook_stats(ctx, &st));
    return st;
}

/* What the foreign loop holds of ours when the hooks hold @fds fd and
 * @timeouts timeout registrations, @unref of the fds unreferenced: the
 * same (less those, where the loop counts only what keeps it running),
 * or with aggregate_regs a fixed number while attached (the wakeup fd is
 * registered whenever the context is). */
static int foreign_expected(unsigned fds, unsigned timeouts, unsigned unref)
{
    if (L->aggregate_regs && fds + timeouts > 0)
        return L->aggregate_regs;
    return (int)(fds + timeouts - (L->unref_uncounted ? unref : 0));
}

static void check_regs(struct world *W, unsigned fds, unsigned timeouts)
{
    struct osev_hook_stats st = stats(W->ctx);

    ck_assert_uint_eq(st.fd_regs, fds);
    ck_assert_uint_eq(st.timeout_regs, timeouts);
    if (L->foreign_count)
        ck_assert_int_eq(L->foreign_count(W->loop),
                         foreign_expected(fds, timeouts, st.fd_regs_unref));
}

/* Turn the foreign loop until @done holds, for at most 5 s. */
#define ITERATE_UNTIL(W, done)                                               \
    do {                                                                     \
        osev_time until_ = osev_now() + osev_s(5);                           \
        while (!(done)) {                                                    \
            ck_assert_msg(osev_now() < until_, "timed out: %s", #done);      \
            L->iterate((W)->loop);                                           \
        }                                                                    \
    } while (0)

static void world_open(struct world *W)
{
    memset(W, 0, sizeof *W);
    W->loop = L->loop_new();
    ck_assert_ptr_nonnull(W->loop);
    W->ctx = tu_ctx_new();
    tu_pipe(W->a);
    tu_pipe(W->b);
}

static void world_close(struct world *W)
{
    osev_ctx_free(W->ctx);
    ck_assert(L->is_empty(W->loop));
    L->loop_free(W->loop);
    close(W->a[0]), close(W->a[1]), close(W->b[0]), close(W->b[1]);
}

/* The timers start far off, so nothing fires before the test says. */
static void add_all(struct world *W)
{
    osev_time now = osev_now();

    ck_assert_osev_ok(osev_fd_add(W->ctx, W->a[0], POLLIN, w1_cb, W, &W->w1));
    ck_assert_osev_ok(osev_fd_add(W->ctx, W->a[0], POLLIN, w2_cb, W, &W->w2));
    ck_assert_osev_ok(osev_fd_add(W->ctx, W->b[0], POLLIN, w3_cb, W, &W->w3));
    ck_assert_osev_ok(osev_timer_add(W->ctx, now + osev_s(3600), t1_cb, W,
                                     &W->t1));
    ck_assert_osev_ok(osev_timer_add(W->ctx, now + osev_s(3601), t2_cb, W,
                                     &W->t2));
}

START_TEST(scenario_in_real_loop)
{
    struct world W;
    struct osev_event_hooks eh = { .event_occurs_mask = 1u << EV_OCCURS,
                                   .event_occurs = occurs };
    struct osev_hook_stats st;
    osev_event *ev;
    osev_time base;
    int value;

    world_open(&W);
    ck_assert_osev_ok(osev_event_set_hooks(W.ctx, &eh, sizeof eh, &W));
    ck_assert_osev_ok(L->attach(W.ctx, W.loop));
    check_regs(&W, 1, 0); /* the wakeup fd */

    add_all(&W);
    /* Three watches, two pipes, the wakeup fd; two timers, one timeout. */
    check_regs(&W, 3, 1);

    tu_write_byte(W.a[1]);
    ITERATE_UNTIL(&W, W.w1_calls == 1);
    ck_assert_int_eq(W.w2_calls, 0);
    check_regs(&W, 2, 1); /* pipe B's registration went with w3 */
    tu_write_byte(W.b[1]); /* nobody watches it now */
    /* One base for both: on a loaded machine the test may be preempted
     * between the two calls, and t1's second run must still come after
     * t2, which it does when its deadlines are base + 20 and >= base + 35. */
    base = osev_now();
    ck_assert_osev_ok(osev_timer_set(W.t1, base + osev_ms(20)));
    ck_assert_osev_ok(osev_timer_set(W.t2, base + osev_ms(25)));

    ITERATE_UNTIL(&W, W.t1_calls == 2 && W.t2_calls == 1 &&
                          W.occurs_calls == 2);
    /* t1 at 20 ms, t2 at 25 ms, t1 again at 35 ms or later. */
    ck_assert_int_eq(W.norder, 4);
    ck_assert_int_eq(W.order[0], 'a');
    ck_assert_int_eq(W.order[1], '1');
    ck_assert_int_eq(W.order[2], '2');
    ck_assert_int_eq(W.order[3], '1');
    ck_assert_int_eq(W.w2_calls, 0);
    ck_assert_int_eq(W.w3_calls, 0);
    ck_assert_uint_eq(W.occurs_type, EV_OCCURS);

    /* The other type waits for osev_event_check(), exactly once. */
    ck_assert_osev_ok(osev_event_check(W.ctx, OSEV_EVENTMASK_ALL, NULL, NULL,
                                       &ev));
    ck_assert_uint_eq(ev->type, EV_CHECKED);
    memcpy(&value, ev->data, sizeof value);
    ck_assert_int_eq(value, 7);
    osev_event_free(W.ctx, ev);
    ck_assert_osev_err(osev_event_check(W.ctx, OSEV_EVENTMASK_ALL, NULL, NULL,
                                        &ev),
                       -EAGAIN);
    check_regs(&W, 2, 0); /* no armed timer left: no timeout registration */

    L->detach(W.ctx);
    st = stats(W.ctx);
    ck_assert_uint_eq(st.fd_regs, 0);
    ck_assert_uint_eq(st.timeout_regs, 0);
    ck_assert_uint_eq(st.fd_registers, st.fd_deregisters);
    ck_assert_uint_eq(st.timeout_registers, st.timeout_deregisters);
    ck_assert(L->is_empty(W.loop));
    osev_fd_remove(W.w1);
    osev_timer_remove(W.t1);
    osev_timer_remove(W.t2);
    world_close(&W);
}
END_TEST

/* Detach with watches and timers live: the foreign loop is emptied, and
 * the same registry keeps working in the built-in loop. */
START_TEST(detach_leaves_loop_empty_and_pull_works)
{
    struct world W;

    world_open(&W);
    add_all(&W);
    ck_assert_osev_ok(L->attach(W.ctx, W.loop)); /* all at once */
    check_regs(&W, 3, 1);
    L->detach(W.ctx);
    check_regs(&W, 0, 0);
    ck_assert(L->is_empty(W.loop));

    tu_write_byte(W.a[1]);
    while (W.w1_calls == 0)
        ck_assert_int_ge(osev_loop_once(W.ctx, osev_now() + osev_s(5)), 0);
    ck_assert_int_eq(W.w2_calls, 0);

    /* And attaching again registers what is left. */
    ck_assert_osev_ok(L->attach(W.ctx, W.loop));
    check_regs(&W, 2, 1);
    ck_assert_osev_ok(osev_timer_set(W.t1, 0)); /* long due */
    ITERATE_UNTIL(&W, W.t1_calls >= 1);
    world_close(&W); /* free while attached: the loop is emptied too */
}
END_TEST

/* Readiness the foreign loop reports for a mask that changed, and the
 * write side of the same pipe: one registration, the merged mask. */
START_TEST(merged_mask_follows_watches)
{
    struct world W;
    osev_fd *rd, *wr;
    struct osev_hook_stats st;

    world_open(&W);
    ck_assert_osev_ok(L->attach(W.ctx, W.loop));
    ck_assert_osev_ok(osev_fd_add(W.ctx, W.a[1], POLLOUT, w2_cb, &W, &wr));
    ck_assert_osev_ok(osev_fd_add(W.ctx, W.a[1], 0, w3_cb, &W, &rd));
    check_regs(&W, 2, 0);
    ITERATE_UNTIL(&W, W.w2_calls >= 1); /* a pipe is writable at once */
    ck_assert_int_eq(W.w3_calls, 0);
    st = stats(W.ctx);
    ck_assert_osev_ok(osev_fd_modify(wr, 0)); /* merged mask 0: deregistered */
    check_regs(&W, 1, 0);
    ck_assert_uint_eq(stats(W.ctx).fd_deregisters, st.fd_deregisters + 1);
    osev_fd_remove(wr);
    osev_fd_remove(rd);
    L->detach(W.ctx);
    ck_assert(L->is_empty(W.loop));
    world_close(&W);
}
END_TEST

/*
 * The main scenario never changes a registration's mask to another
 * non-zero one, so fd_modify is tested here: a socket's registration
 * grows from POLLIN to POLLIN|POLLOUT (the new bit must be reported) and
 * shrinks back (the old bit must be gone from the foreign watch: left
 * there, the always-writable socket would wake the loop on every turn
 * before the timer fires, which the turn count shows).
 */
struct mask {
    int in_calls, out_calls, timer_calls;
};

static void in_cb(osev_fd *w, int fd, short revents, void *arg)
{
    struct mask *M = arg;

    (void)w;
    ck_assert(revents & POLLIN);
    tu_drain(fd);
    M->in_calls++;
}

static void out_cb(osev_fd *w, int fd, short revents, void *arg)
{
    struct mask *M = arg;

    (void)w, (void)fd;
    ck_assert(revents & POLLOUT);
    M->out_calls++;
}

static void mask_timer_cb(osev_timer *t, osev_time now, void *arg)
{
    struct mask *M = arg;

    (void)t, (void)now;
    M->timer_calls++;
}

/* Turns of the foreign loop until *count reaches @want (5 s at most). */
static int turn_until(void *loop, const int *count, int want)
{
    osev_time until = osev_now() + osev_s(5);
    int turns = 0;

    while (*count < want) {
        ck_assert_msg(osev_now() < until, "timed out");
        L->iterate(loop);
        turns++;
    }
    return turns;
}

START_TEST(mask_change)
{
    void *loop = L->loop_new();
    osev_ctx *ctx = tu_ctx_new();
    struct osev_hook_stats st = { .size = sizeof st };
    struct mask M = { 0 };
    osev_fd *rd, *wr;
    osev_timer *t;
    int sv[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
                                SOCK_CLOEXEC, 0, sv), 0);
    ck_assert_osev_ok(L->attach(ctx, loop));
    ck_assert_osev_ok(osev_fd_add(ctx, sv[0], POLLIN, in_cb, &M, &rd));
    ck_assert_osev_ok(osev_fd_add(ctx, sv[0], POLLOUT, out_cb, &M, &wr));
    turn_until(loop, &M.out_calls, 1);
    osev_fd_remove(wr);
    tu_write_byte(sv[1]);
    turn_until(loop, &M.in_calls, 1);

    ck_assert_osev_ok(osev_timer_add(ctx, osev_now() + osev_ms(50),
                                     mask_timer_cb, &M, &t));
    ck_assert_int_le(turn_until(loop, &M.timer_calls, 1), 5);
    ck_assert_int_eq(M.out_calls, 1);

    ck_assert_osev_ok(osev_get_hook_stats(ctx, &st));
    ck_assert_uint_eq(st.fd_modifies, 2);
    ck_assert_uint_eq(st.fd_regs, 2); /* the socket and the wakeup fd */
    ck_assert_uint_eq(st.fd_regs_unref, 0); /* the socket holds the loop */
    if (L->foreign_count)
        ck_assert_int_eq(L->foreign_count(loop), foreign_expected(2, 0, 0));
    osev_ctx_free(ctx); /* watch and timer go with it */
    ck_assert(L->is_empty(loop));
    L->loop_free(loop);
    close(sv[0]), close(sv[1]);
}
END_TEST

struct slow {
    osev_ctx *ctx;
    osev_timer *t2;
    osev_time t2_deadline;
    int t2_calls;
};

static void slow_t2_cb(osev_timer *t, osev_time now, void *arg)
{
    struct slow *S = arg;

    (void)t;
    ck_assert_int_ge(now, S->t2_deadline);
    S->t2_calls++;
}

/* A slow callback: its work is simulated by spinning, not waited for. */
static void slow_t1_cb(osev_timer *t, osev_time now, void *arg)
{
    struct slow *S = arg;

    (void)t;
    while (osev_now() < now + osev_ms(30))
        ;
    S->t2_deadline = osev_now() + osev_ms(10);
    ck_assert_osev_ok(osev_timer_add(S->ctx, S->t2_deadline, slow_t2_cb, S,
                                     &S->t2));
}

/* A timeout armed late in a turn counts from the real time, not from the
 * loop's cached one: it fires once, on time, with no early expiry that
 * osevent must re-arm (one timeout_modify: t1's fired timeout to t2).
 * Where the loop cannot help it, on time is all that holds. */
START_TEST(timeout_armed_late_in_turn_not_early)
{
    void *loop = L->loop_new();
    struct slow S = { .ctx = tu_ctx_new() };
    struct osev_hook_stats st = { .size = sizeof st };
    osev_timer *t1;

    ck_assert_osev_ok(L->attach(S.ctx, loop));
    ck_assert_osev_ok(osev_timer_add(S.ctx, osev_now(), slow_t1_cb, &S, &t1));
    while (S.t2_calls == 0)
        L->iterate(loop);
    ck_assert_osev_ok(osev_get_hook_stats(S.ctx, &st));
    ck_assert_uint_eq(st.timeout_registers, 1);
    if (L->timeout_from_turn_start)
        ck_assert_uint_ge(st.timeout_modifies, 1);
    else
        ck_assert_uint_eq(st.timeout_modifies, 1);
    ck_assert_uint_eq(st.timeout_regs, 0);

    osev_timer_remove(t1);
    osev_timer_remove(S.t2);
    osev_ctx_free(S.ctx);
    ck_assert(L->is_empty(loop));
    L->loop_free(loop);
}
END_TEST

struct two {
    osev_ctx *ctx;
    void *loop;
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
        L->detach(T->ctx);
    }
}

/* Two fds ready in one turn of the foreign loop; the first callback ends
 * the attachment: the second is not reported through the loop, and the
 * loop is left empty, not holding a dangling registration (the memory
 * checkers see any use after free).  Where a turn runs a whole osevent
 * pass (aggregate_regs), a detach ends the attachment but not that pass,
 * in which the second fd was found ready too: its callback runs there. */
static void end_in_callback(bool free_ctx)
{
    struct two T = { .free_ctx = free_ctx };
    int in_turn = L->aggregate_regs && !free_ctx ? 2 : 1;

    T.loop = L->loop_new();
    T.ctx = tu_ctx_new();
    tu_pipe(T.a);
    tu_pipe(T.b);
    ck_assert_osev_ok(osev_fd_add(T.ctx, T.a[0], POLLIN, two_cb, &T, &T.wa));
    ck_assert_osev_ok(osev_fd_add(T.ctx, T.b[0], POLLIN, two_cb, &T, &T.wb));
    ck_assert_osev_ok(L->attach(T.ctx, T.loop));
    tu_write_byte(T.a[1]);
    tu_write_byte(T.b[1]);
    while (T.calls == 0)
        L->iterate(T.loop);
    ck_assert_int_eq(T.calls, in_turn);
    ck_assert(L->is_empty(T.loop)); /* may run the loop: still nothing */
    ck_assert_int_eq(T.calls, in_turn);
    if (T.ctx) { /* detached: the other watch still works, pulled */
        while (T.calls < 2)
            ck_assert_int_ge(osev_loop_once(T.ctx, osev_now() + osev_s(5)), 0);
        osev_ctx_free(T.ctx);
    }
    L->loop_free(T.loop);
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

static void count_fd(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)revents;
    tu_drain(fd);
    ++*(int *)arg;
}

/* A POLLPRI watch taken in pull mode makes attaching fail, all or none;
 * once it is gone, attaching works. */
static void attach_refused_for_pollpri(osev_ctx *ctx, void *loop, int fd)
{
    osev_fd *pri;
    int calls = 0;

    ck_assert_osev_ok(osev_fd_add(ctx, fd, POLLPRI, count_fd, &calls, &pri));
    ck_assert_osev_err(L->attach(ctx, loop), -EINVAL);
    ck_assert(L->is_empty(loop)); /* the wakeup fd's went back out */
    osev_fd_remove(pri);
    ck_assert_osev_ok(L->attach(ctx, loop));
}

/* For loops that refuse POLLPRI: refused when adding (the registry
 * unchanged), when attaching and when a mask grows to it, the old watch
 * left working; never watched as something else. */
START_TEST(pollpri_refused)
{
    struct world W = { .loop = L->loop_new(), .ctx = tu_ctx_new() };
    osev_fd *w, *pri;
    int p[2], calls = 0;

    tu_pipe(p);
    ck_assert_osev_ok(L->attach(W.ctx, W.loop));
    check_regs(&W, 1, 0); /* the wakeup fd */
    ck_assert_osev_err(osev_fd_add(W.ctx, p[0], POLLIN | POLLPRI, count_fd,
                                   &calls, &w),
                       -EINVAL);
    check_regs(&W, 1, 0);
    L->detach(W.ctx);
    ck_assert(L->is_empty(W.loop));
    attach_refused_for_pollpri(W.ctx, W.loop, p[0]); /* after a detach */
    osev_ctx_free(W.ctx);
    ck_assert(L->is_empty(W.loop));

    W.ctx = tu_ctx_new();
    attach_refused_for_pollpri(W.ctx, W.loop, p[0]); /* never attached */
    ck_assert_osev_ok(osev_fd_add(W.ctx, p[0], POLLIN, count_fd, &calls, &w));
    ck_assert_osev_err(osev_fd_add(W.ctx, p[1], POLLPRI, count_fd, &calls,
                                   &pri),
                       -EINVAL);
    ck_assert_osev_err(osev_fd_add(W.ctx, p[0], POLLPRI, count_fd, &calls,
                                   &pri),
                       -EINVAL);
    ck_assert_osev_err(osev_fd_modify(w, POLLIN | POLLPRI), -EINVAL);
    check_regs(&W, 2, 0);
    tu_write_byte(p[1]);
    ITERATE_UNTIL(&W, calls > 0);
    ck_assert_int_eq(calls, 1);

    osev_fd_remove(w);
    osev_ctx_free(W.ctx);
    ck_assert(L->is_empty(W.loop));
    L->loop_free(W.loop);
    close(p[0]), close(p[1]);
}
END_TEST

static void count_timer(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now;
    ++*(int *)arg;
}

/*
 * In the forked child: end the inherited attachment (@detach_first: with
 * the adapter's detach, then free), and with @go_on run a turn of the
 * child's copy of the loop with the watched fd ready: the watch the
 * adapter abandoned there fires and must report nothing, its context
 * being gone.  The byte is read back before the child exits: the pipe is
 * the parent's too.
 */
static int fork_child(struct world *W, bool detach_first, bool go_on,
                      const int *calls)
{
    if (detach_first)
        L->detach(W->ctx);
    osev_ctx_free(W->ctx);
    if (!go_on)
        return 0;
    L->child_reinit(W->loop);
    if (write(W->a[1], "x", 1) != 1)
        return 2;
    L->iterate(W->loop);
    tu_drain(W->a[0]);
    return *calls == 1 ? 0 : 3;
}

/*
 * The child of fork() ends the attachment of the context it inherited
 * (_i & 1: detaches, then frees; else frees) and exits.  The loop's kernel
 * objects (an epoll set, a wakeup fd) are the parent's too, so the child
 * must leave them alone: the parent's watch still fires and, unless the
 * child ran its copy of the loop (@go_on), the parent's loop was not
 * woken.  The child reports nothing but its exit status.
 */
static void fork_and_end_in_child(bool detach_first, bool go_on)
{
    struct world W;
    osev_fd *w;
    osev_timer *guard;
    int calls = 0, guard_calls = 0, status;
    pid_t pid;

    world_open(&W);
    ck_assert_osev_ok(osev_fd_add(W.ctx, W.a[0], POLLIN, count_fd, &calls,
                                  &w));
    /* Bounds the turns below, and gives the child a timeout to leave. */
    ck_assert_osev_ok(osev_timer_add(W.ctx, osev_now() + osev_s(10),
                                     count_timer, &guard_calls, &guard));
    ck_assert_osev_ok(L->attach(W.ctx, W.loop));
    /* A report proves the fd is in the loop's kernel object: libuv and
     * libev make their epoll_ctl calls on their next turn. */
    tu_write_byte(W.a[1]);
    ITERATE_UNTIL(&W, calls == 1);
    if (L->settle)
        L->settle(W.loop);

    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(fork_child(&W, detach_first, go_on, &calls));
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the forked child failed: status %#x", status);
    if (L->woken && !go_on)
        ck_assert_msg(!L->woken(W.loop), "the child woke the parent's loop");

    tu_write_byte(W.a[1]);
    while (calls < 2 && guard_calls == 0)
        L->iterate(W.loop);
    ck_assert_msg(calls == 2, "the parent's watch fires no more");
    ck_assert_int_eq(guard_calls, 0);
    check_regs(&W, 2, 1); /* the wakeup fd, the pipe; the guard */

    osev_fd_remove(w);
    osev_timer_remove(guard);
    world_close(&W);
}

START_TEST(fork_child_ends_inherited_attachment)
{
    fork_and_end_in_child(_i & 1, false);
}
END_TEST

/* For loops a child can go on with: the same, and the child then runs
 * its copy of the loop. */
START_TEST(fork_child_loop_reports_nothing)
{
    fork_and_end_in_child(_i & 1, true);
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

/* For loops callable from any thread: a timer added from another thread
 * while the loop blocks with no timeout; the registration the adapter
 * makes from that thread wakes the loop, which then runs it. */
START_TEST(timer_from_other_thread_wakes_loop)
{
    void *loop = L->loop_new();
    struct adder A = { .ctx = tu_ctx_new() };
    osev_time until = osev_now() + osev_s(5);
    pthread_t th;

    ck_assert_osev_ok(L->attach(A.ctx, loop));
    ck_assert_int_eq(pthread_create(&th, NULL, add_timer_thread, &A), 0);
    while (A.calls == 0) {
        ck_assert(osev_now() < until);
        L->iterate(loop);
    }
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    osev_ctx_free(A.ctx);
    ck_assert(L->is_empty(loop));
    L->loop_free(loop);
}
END_TEST

/* ---- run until done ------------------------------------------------ */

/*
 * The loop's "run until done" call (run_until_done) returns once the
 * context, attached and alive, holds nothing of the application's, and
 * not before.  Every holder is bounded by the test itself: a callback
 * counts the turns and lets go on the last one, so a loop that returns
 * too early shows in the counts and the order, and one that never
 * returns (every adapter before fd_ref) in the tcase's time limit.
 */
enum { RUD_TURNS = 3 };

struct rud {
    osev_ctx *ctx;
    void *loop;
    int p[2];
    osev_fd *w;
    osev_timer *t;
    int turns, ticks, status;
    osev_time last_now;
    pthread_t loop_thread;
    bool on_loop_thread, native;
    char order[16];
    int norder;
};

static void rud_note(struct rud *R, char what)
{
    ck_assert_int_lt(R->norder, (int)sizeof R->order - 1);
    R->order[R->norder++] = what;
}

static void rud_open(struct rud *R)
{
    memset(R, 0, sizeof *R);
    R->loop = L->loop_new();
    ck_assert_ptr_nonnull(R->loop);
    R->ctx = tu_ctx_new();
    R->loop_thread = pthread_self();
    tu_pipe(R->p);
    ck_assert_osev_ok(L->attach(R->ctx, R->loop));
}

/* Run until done.  Then the context's own fd (the wakeup fd) is all the
 * hooks hold, unreferenced, and the context stays attached. */
static void rud_run(struct rud *R)
{
    struct osev_hook_stats st;

    L->run_until_done(R->loop);
    st = stats(R->ctx);
    ck_assert_uint_eq(st.fd_regs, 1);
    ck_assert_uint_eq(st.fd_regs_unref, 1);
    ck_assert_uint_eq(st.timeout_regs, 0);
}

static void rud_close(struct rud *R)
{
    osev_ctx_free(R->ctx);
    ck_assert(L->is_empty(R->loop));
    L->loop_free(R->loop);
    close(R->p[0]);
    if (R->p[1] >= 0)
        close(R->p[1]);
}

/* Attached with nothing, or nothing that can call back (a watch without
 * events, a disarmed timer): the call returns at once. */
START_TEST(run_until_done_idle)
{
    struct rud R;
    osev_fd *muted;
    osev_timer *disarmed;

    rud_open(&R);
    rud_run(&R);
    tu_write_byte(R.p[1]);
    ck_assert_osev_ok(osev_fd_add(R.ctx, R.p[0], 0, count_fd, &R.turns,
                                  &muted));
    ck_assert_osev_ok(osev_timer_add(R.ctx, OSEV_TIME_INFINITY, count_timer,
                                     &R.ticks, &disarmed));
    rud_run(&R);
    osev_fd_remove(muted);
    osev_timer_remove(disarmed);
    rud_run(&R); /* their releases wait for a pass: it runs them */
    ck_assert_int_eq(R.turns + R.ticks, 0);
    rud_close(&R);
}
END_TEST

/* An fd left ready: its watch holds the loop for as many turns as it
 * stays, and the loop returns once the callback removed it. */
static void rud_fd_cb(osev_fd *w, int fd, short revents, void *arg)
{
    struct rud *R = arg;

    (void)fd, (void)revents;
    rud_note(R, 'f');
    if (++R->turns == RUD_TURNS) {
        osev_fd_remove(w);
        R->w = NULL;
    }
}

START_TEST(run_until_done_fd_watch)
{
    struct rud R;

    rud_open(&R);
    tu_write_byte(R.p[1]); /* never drained: ready on every turn */
    ck_assert_osev_ok(osev_fd_add(R.ctx, R.p[0], POLLIN, rud_fd_cb, &R,
                                  &R.w));
    rud_run(&R);
    ck_assert_str_eq(R.order, "fff");
    rud_close(&R);
}
END_TEST

/* A timer re-armed for now from its callback holds the loop for as many
 * turns; once it is left disarmed (not removed) the loop returns.  Armed
 * again for a later deadline, it holds the loop until it fired. */
static void rud_timer_cb(osev_timer *t, osev_time now, void *arg)
{
    struct rud *R = arg;

    rud_note(R, 't');
    R->last_now = now;
    if (++R->ticks < RUD_TURNS)
        ck_assert_osev_ok(osev_timer_set(t, now));
}

START_TEST(run_until_done_timer)
{
    struct rud R;
    osev_time deadline;

    rud_open(&R);
    ck_assert_osev_ok(osev_timer_add(R.ctx, osev_now(), rud_timer_cb, &R,
                                     &R.t));
    rud_run(&R);
    ck_assert_str_eq(R.order, "ttt");

    deadline = osev_now() + osev_ms(10);
    ck_assert_osev_ok(osev_timer_set(R.t, deadline));
    rud_run(&R);
    ck_assert_str_eq(R.order, "tttt");
    ck_assert_int_ge(R.last_now, deadline);
    osev_timer_remove(R.t);
    rud_close(&R);
}
END_TEST

/* Two holders: the fd watch's last turn removes it and makes a timer
 * armed an hour away due; the loop runs on for the timer. */
static void rud_fd_then_timer(osev_fd *w, int fd, short revents, void *arg)
{
    struct rud *R = arg;

    rud_fd_cb(w, fd, revents, arg);
    if (!R->w)
        ck_assert_osev_ok(osev_timer_set(R->t, 0));
}

START_TEST(run_until_done_waits_for_every_holder)
{
    struct rud R;

    rud_open(&R);
    R.ticks = RUD_TURNS; /* rud_timer_cb: fire once, re-arm nothing */
    ck_assert_osev_ok(osev_timer_add(R.ctx, osev_now() + osev_s(3600),
                                     rud_timer_cb, &R, &R.t));
    tu_write_byte(R.p[1]);
    ck_assert_osev_ok(osev_fd_add(R.ctx, R.p[0], POLLIN, rud_fd_then_timer,
                                  &R, &R.w));
    rud_run(&R);
    ck_assert_str_eq(R.order, "ffft");
    osev_timer_remove(R.t);
    rud_close(&R);
}
END_TEST

/*
 * A ticker timer runs RUD_TURNS turns and on the last one lets a holder
 * that cannot fire by itself be fired (a signal raised, a child let go),
 * re-arming nothing: from then on only that holder keeps the loop
 * running, and the loop must wait for it.  A loop that let go of it
 * returns after the last tick, its callback not run.
 */
static void rud_tick(osev_timer *t, osev_time now, void *arg)
{
    struct rud *R = arg;

    rud_note(R, 't');
    if (++R->ticks < RUD_TURNS) {
        ck_assert_osev_ok(osev_timer_set(t, now));
        return;
    }
    if (R->p[1] >= 0) { /* the child waits for the pipe's end */
        close(R->p[1]);
        R->p[1] = -1;
    } else {
        ck_assert_int_eq(kill(getpid(), SIGUSR1), 0);
    }
}

static void rud_signal_cb(osev_signal *s, int signo, void *arg)
{
    struct rud *R = arg;

    ck_assert_int_eq(signo, SIGUSR1);
    rud_note(R, 's');
    osev_signal_remove(s);
}

START_TEST(run_until_done_signal)
{
    struct rud R;
    osev_signal *s;

    rud_open(&R);
    close(R.p[1]);
    R.p[1] = -1; /* rud_tick: raise the signal */
    ck_assert_osev_ok(osev_signal_add(R.ctx, SIGUSR1, rud_signal_cb, &R, &s));
    ck_assert_osev_ok(osev_timer_add(R.ctx, osev_now(), rud_tick, &R, &R.t));
    rud_run(&R);
    ck_assert_str_eq(R.order, "ttts");
    osev_timer_remove(R.t);
    rud_close(&R);
}
END_TEST

static void rud_child_cb(osev_child *c, pid_t pid, int status, void *arg)
{
    struct rud *R = arg;

    (void)pid;
    rud_note(R, 'c');
    R->status = status;
    osev_child_remove(c);
}

START_TEST(run_until_done_child)
{
    struct rud R;
    osev_child *c;
    int gate[2];
    pid_t pid;

    rud_open(&R);
    /* A blocking pipe: the child exits once the last tick closes it. */
    close(R.p[0]), close(R.p[1]);
    ck_assert_int_eq(pipe2(gate, O_CLOEXEC), 0);
    R.p[0] = gate[0], R.p[1] = gate[1];
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char b;

        close(gate[1]);
        while (read(gate[0], &b, 1) > 0)
            ;
        _exit(7);
    }
    ck_assert_osev_ok(osev_child_add(R.ctx, pid, rud_child_cb, &R, &c));
    ck_assert_osev_ok(osev_timer_add(R.ctx, osev_now(), rud_tick, &R, &R.t));
    rud_run(&R);
    ck_assert_str_eq(R.order, "tttc");
    /* Not the code itself: under valgrind the child's leak check (the
     * loop and context it inherited) may make it exit 1. */
    ck_assert(WIFEXITED(R.status));
    osev_timer_remove(R.t);
    rud_close(&R);
}
END_TEST

/* Work queued for a pass before the loop runs: a deferred call that
 * defers itself, a call scheduled from the loop's thread, an event for
 * event_occurs, a release.  The loop runs them all, then returns. */
enum { RUD_EVENT = 5 };

static void rud_defer(osev_ctx *ctx, void *arg)
{
    struct rud *R = arg;

    rud_note(R, 'd');
    if (++R->turns < RUD_TURNS)
        ck_assert_osev_ok(osev_defer(ctx, rud_defer, R));
}

static void rud_sched(osev_ctx *ctx, void *arg)
{
    (void)ctx;
    rud_note(arg, 's');
}

static void rud_occurs(void *user, osev_event *ev)
{
    struct rud *R = user;

    rud_note(R, 'o');
    osev_event_free(R->ctx, ev);
}

static void rud_release(void *arg)
{
    rud_note(arg, 'r');
}

static int rud_count(const struct rud *R, char what)
{
    int n = 0;

    for (int i = 0; i < R->norder; i++)
        n += R->order[i] == what;
    return n;
}

START_TEST(run_until_done_pending_work)
{
    struct osev_event_hooks eh = { .event_occurs_mask = 1u << RUD_EVENT,
                                   .event_occurs = rud_occurs };
    struct rud R;
    osev_timer *t;

    rud_open(&R);
    ck_assert_osev_ok(osev_event_set_hooks(R.ctx, &eh, sizeof eh, &R));
    ck_assert_osev_ok(osev_timer_add(R.ctx, OSEV_TIME_INFINITY,
                                     rud_timer_cb, &R, &t));
    osev_timer_set_release(t, rud_release);
    osev_timer_remove(t); /* released from a pass, with arg R */
    ck_assert_osev_ok(osev_defer(R.ctx, rud_defer, &R));
    ck_assert_osev_ok(osev_schedule(R.ctx, rud_sched, NULL, &R));
    osev_event_post(R.ctx, osev_event_new(R.ctx, RUD_EVENT, 0, 0));
    rud_run(&R);
    ck_assert_int_eq(rud_count(&R, 'd'), RUD_TURNS);
    ck_assert_int_eq(rud_count(&R, 's'), 1);
    ck_assert_int_eq(rud_count(&R, 'o'), 1);
    ck_assert_int_eq(rud_count(&R, 'r'), 1);
    ck_assert_int_eq(R.norder, RUD_TURNS + 3);
    rud_close(&R);
}
END_TEST

/* Run on the loop's thread, scheduled from another: let go of what held
 * the loop. */
static void rud_from_thread(osev_ctx *ctx, void *arg)
{
    struct rud *R = arg;

    (void)ctx;
    rud_note(R, 'x');
    R->on_loop_thread = pthread_equal(pthread_self(), R->loop_thread);
    osev_fd_remove(R->w);
    R->w = NULL;
    osev_timer_remove(R->t);
    R->t = NULL;
    if (R->native)
        L->native_hold(R->loop, false);
}

static void *rud_schedule_thread(void *arg)
{
    struct rud *R = arg;

    return (void *)(intptr_t)osev_schedule(R->ctx, rud_from_thread, NULL, R);
}

/*
 * A call scheduled from another thread reaches the running loop, which
 * runs it on its own thread, and returns once the call let go of what
 * held it: an fd watch that never fires (_i 0), an armed timer that would
 * fire in an hour (1), or, with the context holding nothing at all, a
 * registration of the loop's own (2, native_hold): the wakeup fd the
 * adapter unreferenced is still polled.  Whether the other thread
 * schedules before the loop runs or while it blocks, the wakeup fd is
 * written and stays readable until a pass takes it.
 */
START_TEST(run_until_done_schedule_from_thread)
{
    struct rud R;
    pthread_t th;
    void *rc;

    rud_open(&R);
    if (_i == 0)
        ck_assert_osev_ok(osev_fd_add(R.ctx, R.p[0], POLLIN, count_fd,
                                      &R.turns, &R.w));
    else if (_i == 1)
        ck_assert_osev_ok(osev_timer_add(R.ctx, osev_now() + osev_s(3600),
                                         count_timer, &R.ticks, &R.t));
    else
        L->native_hold(R.loop, R.native = true);
    ck_assert_int_eq(pthread_create(&th, NULL, rud_schedule_thread, &R), 0);
    rud_run(&R);
    ck_assert_int_eq(pthread_join(th, &rc), 0);
    ck_assert_int_eq((int)(intptr_t)rc, 0);
    ck_assert_str_eq(R.order, "x");
    ck_assert(R.on_loop_thread);
    ck_assert_int_eq(R.turns + R.ticks, 0);
    rud_close(&R);
}
END_TEST

static TCase *run_until_done_tcase(const struct scenario_loop *loop)
{
    TCase *tc = tcase_create("run-until-done");

    /* A loop that never returns fails here, not by running out the
     * suite's time. */
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, run_until_done_idle);
    tcase_add_test(tc, run_until_done_fd_watch);
    tcase_add_test(tc, run_until_done_timer);
    tcase_add_test(tc, run_until_done_waits_for_every_holder);
    tcase_add_test(tc, run_until_done_signal);
    tcase_add_test(tc, run_until_done_child);
    tcase_add_test(tc, run_until_done_pending_work);
    tcase_add_loop_test(tc, run_until_done_schedule_from_thread, 0,
                        loop->native_hold ? 3 : 2);
    return tc;
}

int scenario_main(const struct scenario_loop *loop)
{
    Suite *s = suite_create(loop->name);
    TCase *tc = tcase_create("real-loop");

    L = loop;
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, scenario_in_real_loop);
    tcase_add_test(tc, detach_leaves_loop_empty_and_pull_works);
    tcase_add_test(tc, merged_mask_follows_watches);
    tcase_add_test(tc, mask_change);
    tcase_add_test(tc, timeout_armed_late_in_turn_not_early);
    tcase_add_test(tc, detach_from_callback);
    tcase_add_test(tc, ctx_free_from_callback);
    tcase_add_loop_test(tc, fork_child_ends_inherited_attachment, 0, 2);
    if (loop->child_reinit)
        tcase_add_loop_test(tc, fork_child_loop_reports_nothing, 0, 2);
    if (loop->refuses_pollpri)
        tcase_add_test(tc, pollpri_refused);
    if (loop->any_thread)
        tcase_add_test(tc, timer_from_other_thread_wakes_loop);
    suite_add_tcase(s, tc);
    if (loop->run_until_done)
        suite_add_tcase(s, run_until_done_tcase(loop));
    return tu_run_suite(s);
}
