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
 * struct scenario_loop says they apply, POLLPRI refused and a timer
 * added from another thread.
 */
#include "scenario.h"

#include <pthread.h>
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
 * @timeouts timeout registrations: the same, or with aggregate_regs a
 * fixed number while attached (the wakeup fd is registered whenever the
 * context is). */
static int foreign_expected(unsigned fds, unsigned timeouts)
{
    if (L->aggregate_regs && fds + timeouts > 0)
        return L->aggregate_regs;
    return (int)(fds + timeouts);
}

static void check_regs(struct world *W, unsigned fds, unsigned timeouts)
{
    struct osev_hook_stats st = stats(W->ctx);

    ck_assert_uint_eq(st.fd_regs, fds);
    ck_assert_uint_eq(st.timeout_regs, timeouts);
    if (L->foreign_count)
        ck_assert_int_eq(L->foreign_count(W->loop),
                         foreign_expected(fds, timeouts));
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
    osev_time now;
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
    /* From one reading of the clock: the first set may take a while
     * (valgrind translating the hooks' code for the first time). */
    now = osev_now();
    ck_assert_osev_ok(osev_timer_set(W.t1, now + osev_ms(20)));
    ck_assert_osev_ok(osev_timer_set(W.t2, now + osev_ms(25)));

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
    if (L->foreign_count)
        ck_assert_int_eq(L->foreign_count(loop), foreign_expected(2, 0));
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
    return tu_run_suite(s);
}
