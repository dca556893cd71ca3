/*
 * inject.c - allocation failure across osevent and a foreign loop: the
 * interposed malloc, the context's allocator, and the attach scenarios
 * every adapter runs (see inject.h).
 */
#include "inject.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Code the sanitizer's start-up may run: see malloc() below. */
#define NO_ASAN __attribute__((no_sanitize_address))

/* ThreadSanitizer owns malloc and its allocator cannot be reached from
 * here: under it only the context's allocator fails (as under valgrind). */
#if defined(__SANITIZE_THREAD__)
#define INJECT_NO_INTERPOSE 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define INJECT_NO_INTERPOSE 1
#endif
#endif

/* ---- the countdown ---- */

static struct {
    atomic_bool armed;
    pthread_t thread;     /* the one whose allocations count */
    long countdown;       /* fails at 0 */
    bool failed, ours;
    const char *const *may_fail;
    char where[256];
    bool probing;         /* inj_interposed(): fail the next one */
} I;

/* No counting while the test's own code allocates on the way. */
static _Thread_local bool busy;

NO_ASAN static bool armed_here(void)
{
    return atomic_load_explicit(&I.armed, memory_order_acquire) && !busy &&
           pthread_equal(pthread_self(), I.thread);
}

/* Count one allocation from @where; whether it fails. */
static bool take(const char *where, bool ours)
{
    if (I.countdown < 0)
        return false;
    if (I.countdown-- > 0)
        return false;
    I.failed = true;
    I.ours = ours;
    snprintf(I.where, sizeof I.where, "%s", where);
    return true;
}

/* Whether the file name of @obj starts with @prefix: the library, not
 * a program or directory named after it. */
static bool is_lib(const char *obj, const char *prefix)
{
    const char *base = strrchr(obj, '/');

    base = base ? base + 1 : obj;
    return strncmp(base, prefix, strlen(prefix)) == 0;
}

static bool listed(const char *obj)
{
    for (const char *const *m = I.may_fail; m && *m; m++)
        if (is_lib(obj, *m))
            return true;
    return false;
}

/* An interposed call from code at @caller. */
NO_ASAN __attribute__((unused)) static bool interposed_fails(void *caller)
{
    Dl_info di;
    const char *obj;
    bool fail = false;

    if (I.probing && !busy) {
        I.probing = false;
        return true;
    }
    if (!armed_here())
        return false;
    busy = true;
    obj = dladdr(caller, &di) && di.dli_fname ? di.dli_fname : "?";
    if (is_lib(obj, "libosevent"))
        fail = take(obj, true);
    else if (listed(obj))
        fail = take(obj, false);
    busy = false;
    return fail;
}

void inj_arm(long k, const char *const *may_fail)
{
    I.thread = pthread_self();
    I.countdown = k;
    I.failed = I.ours = false;
    I.may_fail = may_fail;
    I.where[0] = '\0';
    atomic_store_explicit(&I.armed, true, memory_order_release);
}

bool inj_disarm(void)
{
    atomic_store_explicit(&I.armed, false, memory_order_release);
    I.countdown = -1;
    return I.failed;
}

const char *inj_failed_where(void)
{
    return I.where;
}

bool inj_failed_ours(void)
{
    return I.ours;
}

/* ---- malloc, calloc, realloc, free ---- */

#ifndef INJECT_NO_INTERPOSE
/*
 * The next definitions are the sanitizer's where one is linked in (GCC's
 * and older clang's libasan export them as __interceptor_*), else the C
 * library's.  Found without dlsym(), which allocates.  The sanitizer
 * itself calls malloc while it starts, before its shadow memory exists:
 * the code on that path is not instrumented.
 */
extern void *__interceptor_malloc(size_t) __attribute__((weak));
extern void *__interceptor_calloc(size_t, size_t) __attribute__((weak));
extern void *__interceptor_realloc(void *, size_t) __attribute__((weak));
extern void __interceptor_free(void *) __attribute__((weak));
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

NO_ASAN void *malloc(size_t n)
{
    if (interposed_fails(__builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    return __interceptor_malloc ? __interceptor_malloc(n) : __libc_malloc(n);
}

NO_ASAN void *calloc(size_t n, size_t size)
{
    if (interposed_fails(__builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    return __interceptor_calloc ? __interceptor_calloc(n, size)
                                : __libc_calloc(n, size);
}

NO_ASAN void *realloc(void *p, size_t n)
{
    if (n && interposed_fails(__builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    return __interceptor_realloc ? __interceptor_realloc(p, n)
                                 : __libc_realloc(p, n);
}

NO_ASAN void free(void *p)
{
    if (__interceptor_free)
        __interceptor_free(p);
    else
        __libc_free(p);
}

#endif

bool inj_interposed(void)
{
    static int known = -1;
    void *(*volatile m)(size_t) = malloc;
    void *p;

#ifdef INJECT_NO_INTERPOSE
    (void)m, (void)p;
    if (known < 0)
        fputs("inject: malloc is not interposed under ThreadSanitizer: "
              "only the context's allocator fails\n",
              stderr);
    known = 0;
    return false;
#endif
    if (known < 0) {
        I.probing = true;
        p = m(16);
        I.probing = false;
        known = p == NULL;
        free(p);
        if (!known)
            fputs("inject: malloc is not interposed (valgrind?): only the "
                  "context's allocator fails\n",
                  stderr);
    }
    return known;
}

/* ---- the context's allocator ---- */

static atomic_long ctx_live;

void *inj_ctx_realloc(void *user, void *ptr, size_t size)
{
    void *p;
    bool saved = busy;

    (void)user;
    if (size == 0) {
        if (ptr)
            atomic_fetch_sub(&ctx_live, 1);
        busy = true;
        free(ptr);
        busy = saved;
        return NULL;
    }
    if (armed_here() && take("the context's allocator", true))
        return NULL;
    busy = true;
    p = realloc(ptr, size);
    busy = saved;
    if (p && !ptr)
        atomic_fetch_add(&ctx_live, 1);
    return p;
}

long inj_ctx_live(void)
{
    return atomic_load(&ctx_live);
}

osev_ctx *inj_ctx_new(void)
{
    struct osev_ctx_opts o = { .size = sizeof o,
                               .realloc_fn = inj_ctx_realloc };
    osev_ctx *ctx = NULL;

    ck_assert_osev_ok(osev_ctx_new(&o, &ctx));
    return ctx;
}

/* ---- the attach scenarios ---- */

static const struct inject_loop *L;

enum { EVQ = 3, EVOCC = 5 };

#define NSOCK 6
#define NWATCH 8
#define NTIMER 6

struct iwatch {
    osev_fd *w;
    int sock;
    short events;
    int calls;
};

struct itimer {
    osev_timer *t;
    osev_time deadline;
    int calls;
};

static struct world {
    void *loop;
    osev_ctx *ctx;
    bool attached;
    int fds0;
    int socks[NSOCK][2];
    int nsocks, spare;
    struct iwatch w[NWATCH];
    int nw;
    struct itimer t[NTIMER];
    int nt;
    int deferred, sched, occurs;
    osev_signal *sig;
    int sig_calls;
} W;

static void watch_cb(osev_fd *w, int fd, short revents, void *arg)
{
    struct iwatch *m = arg;
    char buf[64];

    (void)w, (void)revents;
    m->calls++;
    while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
        ;
}

static void timer_cb(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now;
    ((struct itimer *)arg)->calls++;
}

static void defer_cb(osev_ctx *ctx, void *arg)
{
    (void)ctx, (void)arg;
    W.deferred++;
}

static void sched_cb(osev_ctx *ctx, void *arg)
{
    (void)ctx, (void)arg;
    W.sched++;
}

static void occurs(void *user, osev_event *ev)
{
    (void)user;
    W.occurs++;
    osev_event_free(W.ctx, ev);
}

static void sig_cb(osev_signal *s, int signo, void *arg)
{
    (void)s, (void)signo, (void)arg;
    W.sig_calls++;
}

static int sock_new(void)
{
    int i = W.nsocks++;

    ck_assert_int_lt(i, NSOCK);
    ck_assert_int_eq(socketpair(AF_UNIX,
                                SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                                W.socks[i]),
                     0);
    return i;
}

static int watch_add(int sock, short events)
{
    struct iwatch *m = &W.w[W.nw];
    int r;

    ck_assert_int_lt(W.nw, NWATCH);
    *m = (struct iwatch){ .sock = sock, .events = events };
    r = osev_fd_add(W.ctx, W.socks[sock][0], events, watch_cb, m, &m->w);
    W.nw += r == 0;
    return r;
}

static int timer_add(osev_time deadline)
{
    struct itimer *m = &W.t[W.nt];
    int r;

    ck_assert_int_lt(W.nt, NTIMER);
    *m = (struct itimer){ .deadline = deadline };
    r = osev_timer_add(W.ctx, deadline, timer_cb, m, &m->t);
    W.nt += r == 0;
    return r;
}

static void post(unsigned type)
{
    osev_event *ev = osev_event_new(W.ctx, type, 0, 8);

    ck_assert_ptr_nonnull(ev);
    osev_event_post(W.ctx, ev);
}

#define S_ATTACHED 0x1u /* attached before the call under test */
#define S_NO_TIMERS 0x2u

/*
 * Two watches on one socket, one on another, a POLLOUT watch on a third
 * (always ready: every turn of the loop dispatches something), two
 * timers, a deferred and a scheduled call, one event queued and one for
 * event_occurs, and a spare socket.
 */
static void world_new(unsigned flags)
{
    struct osev_event_hooks eh = { .event_occurs_mask = 1u << EVOCC,
                                   .event_occurs = occurs };
    osev_time now;
    int s0, s1, s2;

    memset(&W, 0, sizeof W);
    W.fds0 = tu_count_fds();
    W.loop = L->loop_new();
    ck_assert_ptr_nonnull(W.loop);
    ck_assert_int_eq(inj_ctx_live(), 0);
    W.ctx = inj_ctx_new();
    ck_assert_osev_ok(osev_event_set_hooks(W.ctx, &eh, sizeof eh, NULL));
    s0 = sock_new(), s1 = sock_new(), s2 = sock_new();
    W.spare = sock_new();
    ck_assert_osev_ok(watch_add(s0, POLLIN));
    ck_assert_osev_ok(watch_add(s0, POLLIN));
    ck_assert_osev_ok(watch_add(s1, POLLIN));
    ck_assert_osev_ok(watch_add(s2, POLLOUT));
    now = osev_now();
    if (!(flags & S_NO_TIMERS)) {
        ck_assert_osev_ok(timer_add(now + osev_ms(3)));
        ck_assert_osev_ok(timer_add(now + osev_ms(5)));
    }
    ck_assert_osev_ok(osev_defer(W.ctx, defer_cb, NULL));
    ck_assert_osev_ok(osev_schedule(W.ctx, sched_cb, NULL, NULL));
    post(EVQ);
    post(EVOCC);
    if (flags & S_ATTACHED) {
        ck_assert_osev_ok(L->attach(W.ctx, W.loop));
        W.attached = true;
    }
}

static bool all_ran(void)
{
    for (int i = 0; i < W.nw; i++)
        if (W.w[i].w && !W.w[i].calls)
            return false;
    for (int i = 0; i < W.nt; i++)
        if (W.t[i].t && !W.t[i].calls)
            return false;
    return W.deferred == 1 && W.sched == 1 && W.occurs == 1 &&
           (!W.sig || W.sig_calls);
}

/* Everything runs once through the real loop, whose turns may fail
 * while an allocation failure is @armed (the application runs the next
 * one). */
static void world_run(bool armed)
{
    osev_time give_up = osev_now() + osev_s(5);
    osev_event *ev;

    ck_assert(W.attached);
    for (int i = 0; i < W.nsocks; i++)
        ck_assert_int_eq(send(W.socks[i][1], "x", 1, MSG_DONTWAIT), 1);
    if (W.sig)
        ck_assert_int_eq(kill(getpid(), SIGUSR1), 0);
    while (!all_ran()) {
        int r;

        ck_assert_msg(osev_now() < give_up, "%s: not everything ran",
                      L->name);
        r = L->iterate(W.loop);
        ck_assert_msg(r >= 0 || armed, "%s: a turn of the loop failed: %d",
                      L->name, r);
    }
    for (int i = 0; i < W.nt; i++)
        if (W.t[i].t)
            ck_assert_int_eq(W.t[i].calls, 1);
    ck_assert_osev_ok(osev_event_check(W.ctx, 1u << EVQ, NULL, NULL, &ev));
    osev_event_free(W.ctx, ev);
    ck_assert_osev_err(osev_event_check(W.ctx, 1u << EVQ, NULL, NULL, &ev),
                       -EAGAIN);
}

/* Detach leaves the loop empty, and the free leaves nothing. */
static void world_free(void)
{
    L->detach(W.ctx);
    ck_assert_msg(L->is_empty(W.loop), "%s: detach left something",
                  L->name);
    osev_ctx_free(W.ctx);
    ck_assert_int_eq(inj_ctx_live(), 0);
    for (int i = 0; i < W.nsocks; i++)
        close(W.socks[i][0]), close(W.socks[i][1]);
    L->loop_free(W.loop);
    ck_assert_int_eq(tu_count_fds(), W.fds0);
}

/*
 * The fds open, less the timerfds and epoll sets: caches a loop makes on
 * first need and keeps (sd-event's timerfd per clock, osevent's own epoll
 * set), which a failed call may leave made.  The rest (eventfds, pipes,
 * signalfds, pidfds, dups) must come back to what they were.
 */
static int count_fds_but_caches(void)
{
    int n = 0;

    for (int fd = 0; fd < 1024; fd++) {
        char path[64], target[64];
        ssize_t len;

        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        len = readlink(path, target, sizeof target - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        n += strcmp(target, "anon_inode:[timerfd]") != 0 &&
             strcmp(target, "anon_inode:[eventpoll]") != 0;
    }
    return n;
}

/* What the registry and its hooks hold, at a dispatch point. */
struct state {
    struct pollfd p[32];
    int n;
    unsigned fd_regs, timeout_regs;
    int fds;
};

static void state_take(struct state *s)
{
    struct osev_hook_stats st = { .size = sizeof st };
    int timeout = -1;

    memset(s, 0, sizeof *s);
    s->n = 32;
    ck_assert_osev_ok(osev_beforepoll(W.ctx, &s->n, s->p, &timeout, 0));
    ck_assert_osev_ok(osev_get_hook_stats(W.ctx, &st));
    s->fd_regs = st.fd_regs;
    s->timeout_regs = st.timeout_regs;
    s->fds = count_fds_but_caches();
}

static void state_same(const struct state *a, const struct state *b)
{
    ck_assert_int_eq(a->n, b->n);
    for (int i = 0; i < a->n; i++) {
        ck_assert_int_eq(a->p[i].fd, b->p[i].fd);
        ck_assert_int_eq(a->p[i].events, b->p[i].events);
    }
    ck_assert_uint_eq(a->fd_regs, b->fd_regs);
    ck_assert_uint_eq(a->timeout_regs, b->timeout_regs);
    ck_assert_int_eq(a->fds, b->fds);
}

typedef int call_fn(void);
typedef void prep_fn(void);

static void inject(const char *name, unsigned flags, prep_fn *prep,
                   call_fn *call)
{
    int ours = 0, foreign = 0, coped = 0;
    long k;

    /* What a loop makes once per process (libvirt's registration) is
     * made before anything is counted. */
    L->loop_free(L->loop_new());
    for (k = 0;; k++) {
        struct state before, after;
        bool failed;
        int r;

        world_new(flags);
        if (prep)
            prep();
        state_take(&before);
        inj_arm(k, L->may_fail);
        r = call();
        failed = inj_disarm();
        if (failed && inj_failed_ours()) {
            ours++;
            ck_assert_msg(r == -ENOMEM, "%s, %s: allocation %ld failing "
                          "(in %s): %d (%s)", L->name, name, k,
                          inj_failed_where(), r, osev_strerror(r));
        } else if (failed) {
            foreign++;
            coped += r == 0;
            ck_assert_msg(r <= 0, "%s, %s: %d", L->name, name, r);
        } else {
            ck_assert_msg(r == 0, "%s, %s: %d (%s)", L->name, name, r,
                          osev_strerror(r));
        }
        if (r < 0) {
            /* all or none: the context, its hooks and the loop are as
             * they were (for attach: the loop holds nothing of ours) */
            state_take(&after);
            state_same(&before, &after);
            if (!W.attached)
                ck_assert_msg(L->is_empty(W.loop), "%s, %s: allocation "
                              "%ld failing (in %s) left something in the "
                              "loop", L->name, name, k, inj_failed_where());
            r = call();
            ck_assert_msg(r == 0, "%s, %s: again after allocation %ld "
                          "failed: %d (%s)", L->name, name, k, r,
                          osev_strerror(r));
        }
        world_run(false);
        world_free();
        if (!failed)
            break;
        ck_assert_int_lt(k, 1000);
    }
    printf("inject: %s %s: %ld allocation points (%d osevent's, %d the "
           "loop library's, of which it coped with %d)\n",
           L->name, name, k, ours, foreign, coped);
}

/* ---- the calls ---- */

static int call_attach(void)
{
    int r = L->attach(W.ctx, W.loop);

    W.attached = r == 0;
    return r;
}

static int call_fd_add_new(void)
{
    return watch_add(W.spare, POLLIN);
}

/* Socket 1: POLLIN becomes POLLIN|POLLOUT. */
static int call_fd_add_shared_grows(void)
{
    return watch_add(1, POLLOUT);
}

/* Socket 1's only watch: POLLIN becomes POLLOUT. */
static int call_fd_modify(void)
{
    int r = osev_fd_modify(W.w[2].w, POLLOUT);

    if (r == 0)
        W.w[2].events = POLLOUT;
    return r;
}

static int call_timer_add_earlier(void)
{
    return timer_add(osev_now() + osev_ms(1));
}

/* A second watch on socket 1 asks for POLLOUT; removing it narrows the
 * fd's registration, which a loop may refuse (osevent then keeps the
 * wider one and filters). */
static void prep_shared_pollout(void)
{
    ck_assert_osev_ok(watch_add(1, POLLOUT));
}

static int call_fd_remove_shrinks(void)
{
    struct iwatch *m = &W.w[W.nw - 1];

    osev_fd_remove(m->w);
    m->w = NULL;
    return 0;
}

/* The earliest timer goes: the timeout moves later, which a loop may
 * refuse (it then fires early, and osevent arms it again). */
static int call_timer_remove_earliest(void)
{
    osev_timer_remove(W.t[0].t);
    W.t[0].t = NULL;
    return 0;
}

static int call_signal_add(void)
{
    int r = osev_signal_add(W.ctx, SIGUSR1, sig_cb, NULL, &W.sig);

    if (r < 0)
        W.sig = NULL;
    return r;
}

START_TEST(attach_with_watches_and_timers)
{
    inject("attach", 0, NULL, call_attach);
}
END_TEST

START_TEST(attach_without_timers)
{
    inject("attach (no timer)", S_NO_TIMERS, NULL, call_attach);
}
END_TEST

START_TEST(attached_fd_add_new_fd)
{
    inject("fd_add (new fd)", S_ATTACHED, NULL, call_fd_add_new);
}
END_TEST

START_TEST(attached_fd_add_shared_fd)
{
    inject("fd_add (shared fd, mask grows)", S_ATTACHED, NULL,
           call_fd_add_shared_grows);
}
END_TEST

START_TEST(attached_fd_modify)
{
    inject("fd_modify", S_ATTACHED, NULL, call_fd_modify);
}
END_TEST

START_TEST(attached_first_timer)
{
    inject("timer_add (first)", S_ATTACHED | S_NO_TIMERS, NULL,
           call_timer_add_earlier);
}
END_TEST

START_TEST(attached_earlier_timer)
{
    inject("timer_add (earlier)", S_ATTACHED, NULL, call_timer_add_earlier);
}
END_TEST

START_TEST(attached_fd_remove_shrinks)
{
    inject("fd_remove (shared fd, mask shrinks)", S_ATTACHED,
           prep_shared_pollout, call_fd_remove_shrinks);
}
END_TEST

START_TEST(attached_timer_remove_earliest)
{
    inject("timer_remove (timeout later)", S_ATTACHED, NULL,
           call_timer_remove_earliest);
}
END_TEST

/*
 * The loop running, attached: timers fire one after the other and
 * osevent re-arms the timeout from inside the loop's callbacks (tevent
 * and verto make a new timer each time), with the k-th allocation
 * failing there.  Nothing fails to the application but, maybe, a turn of
 * the loop itself: a re-arm that failed is tried again on the next turn,
 * and everything runs.
 */
START_TEST(attached_running)
{
    long k;

    L->loop_free(L->loop_new());
    for (k = 0;; k++) {
        osev_time now;
        bool failed;

        world_new(S_ATTACHED | S_NO_TIMERS);
        now = osev_now();
        for (int i = 0; i < 3; i++)
            ck_assert_osev_ok(timer_add(now + osev_ms(5 + 10 * i)));
        inj_arm(k, L->may_fail);
        world_run(true);
        failed = inj_disarm();
        world_free();
        if (!failed)
            break;
        ck_assert_int_lt(k, 1000);
    }
    printf("inject: %s running: %ld allocation points\n", L->name, k);
}
END_TEST

START_TEST(attached_signal_add)
{
    inject("signal_add", S_ATTACHED, NULL, call_signal_add);
}
END_TEST

int inject_main(const struct inject_loop *loop)
{
    Suite *s = suite_create(loop->name);
    TCase *tc = tcase_create("attach");

    L = loop;
    inj_interposed();
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, attach_with_watches_and_timers);
    tcase_add_test(tc, attach_without_timers);
    tcase_add_test(tc, attached_fd_add_new_fd);
    tcase_add_test(tc, attached_fd_add_shared_fd);
    tcase_add_test(tc, attached_fd_modify);
    tcase_add_test(tc, attached_first_timer);
    tcase_add_test(tc, attached_earlier_timer);
    tcase_add_test(tc, attached_fd_remove_shrinks);
    tcase_add_test(tc, attached_timer_remove_earliest);
    tcase_add_test(tc, attached_signal_add);
    tcase_add_test(tc, attached_running);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
