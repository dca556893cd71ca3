/*
 * test-hookref.c - the fd_ref hook: what keeps a foreign loop's "run
 * until done" running.  A test double of a loop with libuv's rule (a
 * registration keeps the loop running while it is referenced; an
 * unreferenced one is still polled and reported) records every fd_ref
 * call, with the thread that made it, and can be told to fail them; its
 * run_until_done() turns while anything referenced or a timeout is held,
 * and no more than a bound, so a loop that would never return fails the
 * test instead of hanging it.
 *
 * The rule under test (fd_ref in osevent.h): the context's own
 * registration (the wakeup fd) is unreferenced exactly while the context
 * holds nothing of the application's that can call it back -- no watch
 * with events, armed timer, signal or child watch, deferred or scheduled
 * call, event_occurs delivery or release waiting for a pass -- and
 * fd_ref is called only on the thread that dispatches the context.
 */
#include "testutil.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXREG 16
/* Turns run_until_done() may take before the test calls it a hang. */
#define MAX_TURNS 100

struct freg {
    bool live, ref;
    int fd;
    short events;
    void *tok;
};

struct fake {
    osev_ctx *ctx;
    struct freg regs[MAXREG];
    bool tmo_live;
    osev_time tmo_deadline;
    void *tmo_tok;
    bool native;            /* a registration of the loop's own holds it */
    int n_ref, n_unref;     /* successful fd_ref calls, by direction */
    int fail_ref;           /* fail the next so many fd_ref calls */
    pthread_t thread;       /* where fd_ref is expected */
    bool wrong_thread;      /* fd_ref was called elsewhere */
};

static struct fake F;

static int f_fd_register(void *user, int fd, void **reg_out, short events,
                         void *tok)
{
    (void)user;
    for (int i = 0; i < MAXREG; i++) {
        if (F.regs[i].live)
            continue;
        F.regs[i] = (struct freg){ true, true, fd, events, tok };
        *reg_out = &F.regs[i];
        return 0;
    }
    return -ENOSPC;
}

static int f_fd_modify(void *user, int fd, void **reg_io, short events)
{
    struct freg *r = *reg_io;

    (void)user, (void)fd;
    r->events = events; /* the reference stays as it is */
    return 0;
}

static void f_fd_deregister(void *user, int fd, void *reg)
{
    struct freg *r = reg;

    (void)user;
    ck_assert_int_eq(r->fd, fd);
    r->live = false;
}

static int f_timeout_register(void *user, void **reg_out, osev_time deadline,
                              void *tok)
{
    (void)user;
    ck_assert(!F.tmo_live);
    F.tmo_live = true;
    F.tmo_deadline = deadline;
    F.tmo_tok = tok;
    *reg_out = &F;
    return 0;
}

static int f_timeout_modify(void *user, void **reg_io, osev_time deadline)
{
    (void)user, (void)reg_io;
    F.tmo_deadline = deadline;
    return 0;
}

static void f_timeout_deregister(void *user, void *reg)
{
    (void)user, (void)reg;
    F.tmo_live = false;
}

static int f_fd_ref(void *user, int fd, void **reg_io, bool ref)
{
    struct freg *r = *reg_io;

    (void)user;
    ck_assert(r->live);
    ck_assert_int_eq(r->fd, fd);
    ck_assert(r->ref != ref); /* only real changes */
    if (!pthread_equal(pthread_self(), F.thread))
        F.wrong_thread = true;
    if (F.fail_ref > 0) {
        F.fail_ref--;
        return -ENOMEM;
    }
    r->ref = ref;
    if (ref)
        F.n_ref++;
    else
        F.n_unref++;
    return 0;
}

static const struct osev_hooks f_hooks = {
    .fd_register = f_fd_register,
    .fd_modify = f_fd_modify,
    .fd_deregister = f_fd_deregister,
    .timeout_register = f_timeout_register,
    .timeout_modify = f_timeout_modify,
    .timeout_deregister = f_timeout_deregister,
    .fd_ref = f_fd_ref,
};

static void fake_open(void)
{
    memset(&F, 0, sizeof F);
    F.ctx = tu_ctx_new();
    F.thread = pthread_self();
    ck_assert_osev_ok(osev_set_hooks(F.ctx, &f_hooks, sizeof f_hooks, &F));
}

static void fake_close(void)
{
    osev_ctx_free(F.ctx);
    for (int i = 0; i < MAXREG; i++)
        ck_assert(!F.regs[i].live);
    ck_assert(!F.tmo_live);
    ck_assert(!F.wrong_thread);
}

/* What the loop holds: fd registrations, the referenced ones. */
static int fake_refs(void)
{
    int n = 0;

    for (int i = 0; i < MAXREG; i++)
        n += F.regs[i].live && F.regs[i].ref;
    return n;
}

static int fake_regs(void)
{
    int n = 0;

    for (int i = 0; i < MAXREG; i++)
        n += F.regs[i].live;
    return n;
}

/* The loop's rule: it runs while a referenced registration, a timeout or
 * a registration of its own holds it. */
static bool fake_alive(void)
{
    return F.native || F.tmo_live || fake_refs() > 0;
}

/* One blocking turn: poll every registration, referenced or not, until
 * one is ready or the timeout is due; report what happened. */
static void fake_turn(void)
{
    struct pollfd pfd[MAXREG];
    struct freg *of[MAXREG];
    int n = 0, ms = -1;

    for (int i = 0; i < MAXREG; i++) {
        if (!F.regs[i].live)
            continue;
        of[n] = &F.regs[i];
        pfd[n++] = (struct pollfd){ .fd = F.regs[i].fd,
                                    .events = F.regs[i].events };
    }
    if (F.tmo_live) {
        osev_time left = F.tmo_deadline - osev_now();

        ms = left <= 0 ? 0 : (int)(left / 1000000 + 1);
    }
    ck_assert_int_ge(poll(pfd, (nfds_t)n, ms), 0);
    for (int i = 0; i < n; i++)
        if (pfd[i].revents && of[i]->live)
            osev_occurred_fd(F.ctx, of[i]->tok, pfd[i].fd, pfd[i].events,
                             pfd[i].revents);
    if (F.tmo_live && F.tmo_deadline <= osev_now())
        osev_occurred_timeout(F.ctx, F.tmo_tok);
}

/* Turn while alive; the number of turns it took. */
static int run_until_done(void)
{
    int turns = 0;

    while (fake_alive()) {
        ck_assert_msg(turns < MAX_TURNS, "the loop never returns");
        fake_turn();
        turns++;
    }
    return turns;
}

static struct osev_hook_stats hook_stats(void)
{
    struct osev_hook_stats st = { .size = sizeof st };

    ck_assert_osev_ok(osev_get_hook_stats(F.ctx, &st));
    return st;
}

/* The state the context should be in: its wakeup fd (and @others fds of
 * the application's) registered, referenced or not. */
static void expect(bool referenced, int others)
{
    struct osev_hook_stats st = hook_stats();

    ck_assert_int_eq(fake_regs(), 1 + others);
    ck_assert_uint_eq(st.fd_regs, (unsigned)(1 + others));
    ck_assert_uint_eq(st.fd_regs_unref, (referenced ? 0u : 1u));
    ck_assert_int_eq(fake_refs(), (referenced ? 1 + others : others));
}

static void count_fd(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)fd, (void)revents;
    ++*(int *)arg;
}

static void count_timer(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now;
    ++*(int *)arg;
}

static void count_release(void *arg)
{
    ++*(int *)arg;
}

/* ---- the state follows what the context holds ---- */

/* Attached with nothing: the wakeup fd is unreferenced at once and the
 * loop has nothing to run. */
START_TEST(idle_context_holds_nothing)
{
    fake_open();
    expect(false, 0);
    ck_assert_int_eq(F.n_unref, 1);
    ck_assert_int_eq(run_until_done(), 0);
    fake_close();
}
END_TEST

/* A watch with events holds the loop from its add to its release; one
 * without events (muted) holds nothing, and osev_fd_modify() moves it
 * in and out. */
START_TEST(fd_watch_holds_until_released)
{
    int p[2], released = 0;
    osev_fd *w;

    tu_pipe(p);
    fake_open();
    ck_assert_osev_ok(osev_fd_add(F.ctx, p[0], 0, count_fd, &released, &w));
    expect(false, 0); /* muted: not even registered */
    ck_assert_osev_ok(osev_fd_modify(w, POLLIN));
    expect(true, 1);
    ck_assert_osev_ok(osev_fd_modify(w, 0));
    expect(false, 0);
    ck_assert_osev_ok(osev_fd_modify(w, POLLIN));
    expect(true, 1);
    osev_fd_set_release(w, count_release);
    osev_fd_remove(w);
    /* Its release waits for a pass, and holds the loop until then. */
    expect(true, 0);
    ck_assert_int_eq(run_until_done(), 1);
    ck_assert_int_eq(released, 1); /* the fd was never ready */
    expect(false, 0);
    fake_close();
    close(p[0]), close(p[1]);
}
END_TEST

/* A watch ready on every turn that removes itself on the third: three
 * turns, then the loop returns. */
static void remove_on_third(osev_fd *w, int fd, short revents, void *arg)
{
    (void)fd, (void)revents;
    if (++*(int *)arg == 3)
        osev_fd_remove(w);
}

START_TEST(loop_returns_after_last_watch)
{
    int p[2], calls = 0;
    osev_fd *w;

    tu_pipe(p);
    tu_write_byte(p[1]);
    fake_open();
    ck_assert_osev_ok(osev_fd_add(F.ctx, p[0], POLLIN, remove_on_third,
                                  &calls, &w));
    ck_assert_int_eq(run_until_done(), 3);
    ck_assert_int_eq(calls, 3);
    expect(false, 0);
    fake_close();
    close(p[0]), close(p[1]);
}
END_TEST

/* Only an armed timer holds: disarmed (added so, set to infinity, or
 * fired and not re-armed) it holds nothing. */
START_TEST(armed_timer_holds)
{
    osev_timer *t;
    int fired = 0;

    fake_open();
    ck_assert_osev_ok(osev_timer_add(F.ctx, OSEV_TIME_INFINITY, count_timer,
                                     &fired, &t));
    expect(false, 0);
    ck_assert_osev_ok(osev_timer_set(t, osev_now() + osev_s(3600)));
    expect(true, 0);
    ck_assert_osev_ok(osev_timer_set(t, OSEV_TIME_INFINITY));
    expect(false, 0);
    ck_assert_osev_ok(osev_timer_set(t, osev_now() + osev_ms(5)));
    expect(true, 0);
    ck_assert_int_ge(run_until_done(), 1);
    ck_assert_int_eq(fired, 1);
    expect(false, 0);
    osev_timer_remove(t);
    expect(true, 0); /* its release waits for a pass */
    fake_close();
}
END_TEST

/* Work queued for a pass holds the loop until the pass ran it: a
 * deferred call, a call scheduled from the loop's thread, an event for
 * event_occurs, a release. */
static void count_call(osev_ctx *ctx, void *arg)
{
    (void)ctx;
    ++*(int *)arg;
}

static void occurs(void *user, osev_event *ev)
{
    ++*(int *)user;
    osev_event_free(F.ctx, ev);
}

START_TEST(pending_work_holds)
{
    int deferred = 0, scheduled = 0, delivered = 0, released = 0;
    struct osev_event_hooks eh = { .event_occurs_mask = 1u << 3,
                                   .event_occurs = occurs };
    osev_timer *t;

    fake_open();
    ck_assert_osev_ok(osev_event_set_hooks(F.ctx, &eh, sizeof eh,
                                           &delivered));
    ck_assert_osev_ok(osev_defer(F.ctx, count_call, &deferred));
    expect(true, 0);
    ck_assert_int_eq(run_until_done(), 1);
    ck_assert_int_eq(deferred, 1);
    expect(false, 0);

    ck_assert_osev_ok(osev_schedule(F.ctx, count_call, NULL, &scheduled));
    expect(true, 0);
    ck_assert_int_eq(run_until_done(), 1);
    ck_assert_int_eq(scheduled, 1);
    expect(false, 0);

    osev_event_post(F.ctx, osev_event_new(F.ctx, 3, 0, 0));
    expect(true, 0);
    ck_assert_int_eq(run_until_done(), 1);
    ck_assert_int_eq(delivered, 1);
    expect(false, 0);

    /* A disarmed timer holds nothing, but its release does. */
    ck_assert_osev_ok(osev_timer_add(F.ctx, OSEV_TIME_INFINITY, count_timer,
                                     &released, &t));
    osev_timer_set_release(t, count_release);
    expect(false, 0);
    osev_timer_remove(t);
    expect(true, 0);
    ck_assert_int_eq(run_until_done(), 1);
    ck_assert_int_eq(released, 1);
    expect(false, 0);
    fake_close();
}
END_TEST

/* Signal and child watches hold the loop through fds of their own, until
 * they are removed (and, for a child, reported). */
static void count_signal(osev_signal *s, int signo, void *arg)
{
    (void)s, (void)signo;
    ++*(int *)arg;
}

static void count_child(osev_child *c, pid_t pid, int status, void *arg)
{
    (void)c, (void)pid, (void)status;
    ++*(int *)arg;
}

START_TEST(signal_and_child_watches_hold)
{
    osev_signal *s;
    osev_child *c;
    int caught = 0, exited = 0;
    pid_t pid;

    fake_open();
    ck_assert_osev_ok(osev_signal_add(F.ctx, SIGUSR2, count_signal, &caught,
                                      &s));
    ck_assert_uint_eq(hook_stats().fd_regs_unref, 0);
    ck_assert_int_eq(kill(getpid(), SIGUSR2), 0);
    while (caught == 0)
        fake_turn();
    ck_assert_uint_eq(hook_stats().fd_regs_unref, 0); /* still watched */
    osev_signal_remove(s);
    run_until_done();
    expect(false, 0);

    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(0);
    ck_assert_osev_ok(osev_child_add(F.ctx, pid, count_child, &exited, &c));
    ck_assert_uint_eq(hook_stats().fd_regs_unref, 0);
    /* Reported, the watch is inert: the loop returns with it still
     * there. */
    run_until_done();
    ck_assert_int_eq(exited, 1);
    expect(false, 0);
    osev_child_remove(c);
    fake_close();
}
END_TEST

/* A watch whose fd was closed under it is reported once as POLLNVAL and
 * muted: it holds nothing more, and the loop returns. */
START_TEST(pollnval_muted_watch_holds_nothing)
{
    int p[2], calls = 0;
    osev_fd *w;

    tu_pipe(p);
    fake_open();
    ck_assert_osev_ok(osev_fd_add(F.ctx, p[0], POLLIN, count_fd, &calls, &w));
    close(p[0]);
    ck_assert_int_eq(run_until_done(), 1);
    ck_assert_int_eq(calls, 1);
    expect(false, 0);
    osev_fd_remove(w);
    fake_close();
    close(p[1]);
}
END_TEST

/* ---- threads ---- */

static void let_go_native(osev_ctx *ctx, void *arg)
{
    (void)ctx, (void)arg;
    F.native = false;
}

static void *schedule_from_thread(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)osev_schedule(F.ctx, let_go_native, NULL, NULL);
}

static void *add_timer_from_thread(void *arg)
{
    return (void *)(intptr_t)osev_timer_add(F.ctx, 0, count_timer, arg,
                                            &(osev_timer *){ NULL });
}

/*
 * Work queued from another thread references nothing there (fd_ref is
 * never called off the loop's thread): it writes the wakeup fd, which
 * the loop, running for a registration of its own, still polls, and the
 * call runs on the loop's thread.  A timer added from another thread
 * holds the loop through its own registration.
 */
START_TEST(other_threads_never_call_fd_ref)
{
    pthread_t th;
    void *rc;
    int fired = 0;

    fake_open();
    F.native = true;
    ck_assert_int_eq(pthread_create(&th, NULL, schedule_from_thread, NULL), 0);
    ck_assert_int_eq(pthread_join(th, &rc), 0);
    ck_assert_int_eq((int)(intptr_t)rc, 0);
    expect(false, 0); /* the call is queued; nothing referenced */
    ck_assert_int_ge(run_until_done(), 1);
    ck_assert(!F.native);
    expect(false, 0);

    ck_assert_int_eq(pthread_create(&th, NULL, add_timer_from_thread, &fired),
                     0);
    ck_assert_int_eq(pthread_join(th, &rc), 0);
    ck_assert_int_eq((int)(intptr_t)rc, 0);
    ck_assert(F.tmo_live); /* the timeout holds the loop */
    ck_assert_int_ge(run_until_done(), 1);
    ck_assert_int_eq(fired, 1);
    expect(false, 0);
    ck_assert(!F.wrong_thread);
    fake_close();
}
END_TEST

/* The loop may run on another thread than the one that set the hooks:
 * its first report makes it the one fd_ref is called on. */
static int loop_calls;

static void *run_loop_thread(void *arg)
{
    (void)arg;
    F.thread = pthread_self();
    return (void *)(intptr_t)run_until_done();
}

START_TEST(fd_ref_follows_the_reporting_thread)
{
    int p[2];
    osev_fd *w;
    pthread_t th;
    void *rc;

    tu_pipe(p);
    tu_write_byte(p[1]);
    fake_open();
    loop_calls = 0;
    ck_assert_osev_ok(osev_fd_add(F.ctx, p[0], POLLIN, remove_on_third,
                                  &loop_calls, &w));
    expect(true, 1);
    ck_assert_int_eq(pthread_create(&th, NULL, run_loop_thread, NULL), 0);
    ck_assert_int_eq(pthread_join(th, &rc), 0);
    ck_assert_int_eq((int)(intptr_t)rc, 3);
    expect(false, 0);
    ck_assert(!F.wrong_thread);
    F.thread = pthread_self(); /* the free unreferences nothing */
    fake_close();
    close(p[0]), close(p[1]);
}
END_TEST

/* ---- failures, older callers ---- */

/* A failing fd_ref leaves its registration as it was and fails no
 * osevent call; the next change or pass tries again. */
START_TEST(failing_fd_ref_is_retried)
{
    int p[2], calls = 0;
    osev_fd *w;

    tu_pipe(p);
    memset(&F, 0, sizeof F);
    F.ctx = tu_ctx_new();
    F.thread = pthread_self();
    F.fail_ref = 1;
    ck_assert_osev_ok(osev_set_hooks(F.ctx, &f_hooks, sizeof f_hooks, &F));
    expect(true, 0); /* the unref failed: still referenced */
    ck_assert_osev_ok(osev_defer(F.ctx, count_call, &calls));
    ck_assert_int_eq(run_until_done(), 1); /* the pass after it retried */
    ck_assert_int_eq(calls, 1);
    expect(false, 0);

    F.fail_ref = 1;
    ck_assert_osev_ok(osev_fd_add(F.ctx, p[0], POLLIN, count_fd, &calls,
                                  &w));
    expect(false, 1); /* the ref failed; the add did not */
    tu_write_byte(p[1]);
    fake_turn(); /* the pass retries */
    expect(true, 1);
    osev_fd_remove(w);
    run_until_done();
    expect(false, 0);
    fake_close();
    close(p[0]), close(p[1]);
}
END_TEST

/* Hooks from a caller that knows no fd_ref (a shorter struct): every
 * registration stays referenced, as before the member existed. */
START_TEST(hooks_without_fd_ref)
{
    struct osev_hook_stats st;

    memset(&F, 0, sizeof F);
    F.ctx = tu_ctx_new();
    F.thread = pthread_self();
    ck_assert_osev_ok(osev_set_hooks(F.ctx, &f_hooks,
                                     offsetof(struct osev_hooks, fd_ref),
                                     &F));
    st = hook_stats();
    ck_assert_uint_eq(st.fd_regs, 1);
    ck_assert_uint_eq(st.fd_regs_unref, 0);
    ck_assert_int_eq(fake_refs(), 1);
    ck_assert_int_eq(F.n_ref + F.n_unref, 0);
    fake_close();
}
END_TEST

/* Unsetting the hooks forgets the state with the registrations. */
START_TEST(detach_forgets_the_state)
{
    struct osev_hook_stats st;

    fake_open();
    expect(false, 0);
    osev_set_hooks(F.ctx, NULL, 0, NULL);
    st = hook_stats();
    ck_assert_uint_eq(st.fd_regs, 0);
    ck_assert_uint_eq(st.fd_regs_unref, 0);
    ck_assert_osev_ok(osev_set_hooks(F.ctx, &f_hooks, sizeof f_hooks, &F));
    expect(false, 0);
    fake_close();
}
END_TEST

static Suite *hookref_suite(void)
{
    Suite *s = suite_create("hookref");
    TCase *state = tcase_create("state");
    TCase *threads = tcase_create("threads");
    TCase *rules = tcase_create("rules");

    tcase_add_test(state, idle_context_holds_nothing);
    tcase_add_test(state, fd_watch_holds_until_released);
    tcase_add_test(state, loop_returns_after_last_watch);
    tcase_add_test(state, armed_timer_holds);
    tcase_add_test(state, pending_work_holds);
    tcase_add_test(state, signal_and_child_watches_hold);
    tcase_add_test(state, pollnval_muted_watch_holds_nothing);
    tcase_add_test(threads, other_threads_never_call_fd_ref);
    tcase_add_test(threads, fd_ref_follows_the_reporting_thread);
    tcase_add_test(rules, failing_fd_ref_is_retried);
    tcase_add_test(rules, hooks_without_fd_ref);
    tcase_add_test(rules, detach_forgets_the_state);
    suite_add_tcase(s, state);
    suite_add_tcase(s, threads);
    suite_add_tcase(s, rules);
    return s;
}

int main(void)
{
    return tu_run_suite(hookref_suite());
}
