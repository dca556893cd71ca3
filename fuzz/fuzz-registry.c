/*
 * fuzz-registry.c - random sequences of osevent calls, in every mode the
 * library has, checked against a reference model.
 *
 * One input is one context's life.  Its first bytes pick the context's
 * flags and environment (epoll or poll backend, single-threaded or not,
 * the default or a failing allocator, the pidfd or SIGCHLD path for
 * children, signalfd or the self-pipe for signals); then every two bytes
 * are one operation:
 *
 *  - registry changes: fd watches on /dev/null, two pipes and an eventfd
 *    (and an fd above FD_SETSIZE when the limit allows), timers, deferred
 *    and scheduled calls, signal watches (SIGUSR1, SIGUSR2 and SIGURG,
 *    raised to ourselves, SIGURG also while blocked; some in a second
 *    context, which must get them too) and child watches
 *    (a vfork()ed child that exits or is killed at once, or a fork()ed
 *    one that exits when told, while watched);
 *  - events: posts, checks with and without a predicate, osev_event_wait()
 *    with a past deadline, or a near one that a deferred post meets, the
 *    event hooks (event_occurs, disaster) and osev_disaster();
 *  - event types by name: osev_event_type_get/_reserve/_find/_name on
 *    names from a small set (valid, empty, NULL, 63 and 64 bytes long)
 *    and numbered ones enough to run the types out; the event ops then
 *    use the types the names got as well;
 *  - every way of dispatching: osev_beforepoll/afterpoll and
 *    osev_beforeselect/afterselect with fabricated or real results,
 *    osev_loop_once() with a deadline that has passed, osev_dispatch()
 *    and osev_loop_run() that a deferred osev_loop_exit() ends, on either
 *    backend; and push mode through a model foreign loop that holds the
 *    hook registrations, reports readiness with their tokens (stale and
 *    foreign ones too), fires the timeout, and can be told to fail a hook;
 *  - failures: the Nth allocation from now fails, a hook fails.
 *
 * Callbacks take two bytes each and run one more operation from inside
 * the pass: any of the above, so a callback removes or re-arms anything,
 * adds more, posts, schedules, sets or unsets the hooks, reports to
 * osev_occurred_fd() (joining the running pass), or frees the context;
 * the dispatching calls are then refused.
 *
 * No call waits: deadlines are now or past, polls have timeout 0, the only
 * near deadline is one whose event is already queued as a deferred post,
 * and a child's exit is waited for (without reaping) before it matters.
 * Timers are due long before or an hour after the pass, so an input
 * replays the same way every time (OSEV_FUZZ_TRACE=1 prints each step).
 *
 * The model predicts, for each dispatch pass it can predict (one pass per
 * call), exactly which callbacks run and with what: each fd callback's
 * revents from the results handed in (or the fd's real readiness), each
 * due timer in (deadline, arming) order with the pass's now, every
 * deferred and scheduled call queued before the pass in FIFO order, and
 * every event_occurs delivery; a callback it did not predict fails the
 * input, and so does a prediction not met.  A pass that waited on every
 * fd also delivers each signal raised and each child exit that came
 * before it.  Besides:
 *  - exactly once: every release (at a dispatch point, never inside the
 *    remove call, never during a pass), every scheduled call (run, or
 *    released when the context goes), every event (one owner at a time),
 *    every child exit (with its status, -1 when we reaped it first);
 *  - osev_get_registry_stats() counts what the model holds: exactly
 *    between operations, within bounds inside a pass (check_stats());
 *    event type names are the model's, a name keeps its type and its
 *    string, a new one takes the highest free type;
 *  - push mode mirrors the registry: one registration per distinct fd with
 *    the merged mask, one timeout holding the earliest deadline, hook
 *    statistics equal to the calls the foreign loop saw, stale and foreign
 *    tokens ignored, nothing called from inside a hook;
 *  - liveness: after a few turns of whatever drives the context (the
 *    foreign loop in push mode), nothing is pending: no due timer, no
 *    queued call, no unreleased removal, no undelivered signal or exit;
 *  - every error is one the input caused (an injected allocation or hook
 *    failure), and a failed call writes no out-parameter;
 *  - the context's end frees every allocation, closes every fd it opened,
 *    puts back every signal disposition and leaves no zombie.
 *
 * Known faults being fixed in the core are steered around: no thread
 * calls osev_loop_exit() or osev_disaster() while the loop runs (fault
 * a); a callback does not free the context while a waiter holds an event
 * (b, in op_free()); a release calls no osevent function (c); afterpoll
 * gets a foreign array only while the layout cannot have changed (e, in
 * op_afterpoll()); and no watched fd is ever closed (f).
 *
 * Built as a libFuzzer target (`make fuzz`, clang, ASan and UBSan), and
 * always as fuzz/fuzz-registry-replay, whose main() replays the committed
 * corpus (fuzz/corpus) and pseudo-random inputs from a fixed seed in
 * `make check`, so the sanitizer and valgrind runs of the suite cover it
 * too; given files or directories, it replays those (`make coverage`
 * runs it so, built for llvm-cov).
 */
#include "config.h" /* _GNU_SOURCE; OSEV_LINUX_APIS */

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "osevent.h"

#define NFD 8       /* the harness's fds */
#define NW 16       /* fd watch slots */
#define NT 12       /* timer slots */
#define NS 6        /* signal watch slots */
#define NS2 4       /* signal watch slots of the second context */
#define NC 3        /* child slots, and forks per input */
#define NOBJ 384    /* handles made per input */
#define NE 48       /* events */
#define NQ 96       /* deferred and scheduled calls per input */
#define NREG 48     /* the foreign loop's registrations */
#define NSTALE 16   /* tokens it remembers after their deregistration */
#define HOUR ((osev_time)3600 * 1000000000)

#define REQUESTABLE (POLLIN | POLLOUT | POLLPRI)
#define UNREQUESTED (POLLERR | POLLHUP | POLLNVAL)

/* ------------------------------------------------------------------ */
/* The model                                                           */
/* ------------------------------------------------------------------ */

enum { OBJ_FD = 1, OBJ_TIMER, OBJ_SIGNAL, OBJ_CHILD };

/* One handle osevent gave us; never reused within an input, so a late
 * call of a removed one is seen as such. */
struct obj {
    int kind;
    void *h;
    bool removed;
    int released;       /* fd and timer: calls of the release */
    bool has_release;
    uint64_t born;      /* tick of the add */
    int slot;           /* index in its slot array, -1 once let go */
    /* fd watch */
    int fdi;
    short events;       /* what osevent holds for it (muted: 0) */
    short exp;          /* marked, not yet delivered */
    bool late;          /* marked after the fd phase: runs next pass */
    /* timer */
    osev_time deadline; /* OSEV_TIME_INFINITY: disarmed */
    uint64_t seq;       /* arming order */
    uint64_t armed;     /* tick of the arming */
    bool due;           /* collected by the running exact pass */
    /* signal */
    int ctxi;           /* 0: the context; 1: the second one */
    int signo;
    int may;            /* calls allowed: arrivals not yet delivered */
    bool must;          /* a call is required */
    uint64_t must_tick; /* since this tick */
    /* child */
    pid_t pid;
    int code;
    int hold;           /* a waiting child's pipe: a byte lets it exit */
    uint64_t exit_tick; /* when it exited, as far as we know */
    bool exited, stolen, reported, reaped;
};

enum { EV_FREE, EV_OWNED, EV_HELD, EV_OCCUR, EV_QUEUE, EV_WAITER };

struct evm {
    osev_event *ev;
    unsigned type;
    size_t size;        /* payload bytes, all 0xa5 */
    int state;
    uint64_t seq;       /* post order */
    uint64_t tick;      /* tick of the post */
    bool moved;         /* entered the queue after its post */
};

enum { PASS_NONE, PASS_EXACT, PASS_LENIENT };

/* The dispatching call we are inside, and what its pass must do. */
struct pass {
    int mode;
    bool none;          /* the call must run no pass at all */
    uint64_t tick;
    osev_time now_lo, now_hi, tnow;
    bool tnow_set;
    int phase;          /* 1 fd, 2 timers, 3 deferred, 4 scheduled, 5 events */
    int defer_limit, sched_limit;
    osev_time last_dl;
    uint64_t last_seq;
    bool timer_ran;
    int observed;       /* callbacks seen that osevent counts */
    bool real;          /* it waited on every fd: whatever is ready runs */
};

/* The model foreign loop of push mode. */
struct freg {
    bool live;
    int fd;
    short events;
    void *tok;
    bool wide;          /* a shrink failed: it holds more than asked */
};

struct fake {
    bool on;
    bool has_release;
    int releases;
    struct freg reg[NREG];
    int nlive;
    bool tmo_on, tmo_armed, tmo_unsure;
    osev_time tmo_dl;
    void *tmo_tok;
    void *stale[NSTALE];
    int stale_fd[NSTALE];
    int nstale;
    int fail_kind, fail_in; /* fail the fail_in-th next call of a kind */
    int last_err;
    bool reenter;       /* hooks try to call osevent */
    uint64_t n_reg, n_mod, n_dereg, n_treg, n_tmod, n_tdereg;
};

struct state {
    osev_ctx *ctx;
    const uint8_t *in;
    size_t len, pos;
    unsigned flags;
    bool custom_alloc, sigchld_path, pipe_path;
    int fds[NFD];
    int wake_fd;                /* the context's wakeup eventfd */
    struct obj obj[NOBJ];
    int nobj;
    int w[NW], t[NT], s[NS], c[NC];
    /* A second context, pull mode, with signal watches only: every
     * watch of a signal in the process gets it, in whatever context. */
    osev_ctx *ctx2;
    int s2[NS2];
    bool in_ctx2;               /* dispatching it */
    int nforks;
    bool had_sigchild;          /* a signal or child watch was ever made */
    uint64_t tick, timer_seq;
    /* deferred and scheduled calls, FIFO by id */
    int ndefer, defer_ran;
    struct { int ran, released; bool has_release; } sched[NQ];
    int nsched, sched_ran;
    /* events */
    struct evm ev[NE];
    uint64_t ev_seq;
    uint64_t occurs_mask;
    bool disaster_hook, disaster_unhooked;
    int disasters;
    unsigned disaster_type;
    struct { bool active; uint64_t mask; int pred; int got; } waiter;
    /* event type names: the name of each type, as the model holds it */
    bool tnamed[64];
    char tname[64][64];
    const char *tname_ptr[64];  /* what osev_event_type_name() gave */
    int ntnamed;
    /* the running call */
    struct pass pass;
    int cb_depth, hook_depth;
    bool quiet;
    bool release_ok;
    bool in_loop_run;
    int removing;               /* obj being removed, -1 */
    /* pull */
    bool pull_live, sel_live;
    bool pull_clean;            /* nothing happened since beforepoll */
    int pull_n;
    uint64_t pull_tick, sel_tick;
    struct pollfd pfds[NREG + 2];   /* the last round's array */
    fd_set sel_r, sel_w, sel_e;     /* the last select round's sets */
    bool sel_has_w, sel_has_e;
    int sel_maxfd;
    bool exit_pending;
    int exit_code;
    bool aggregate;
    bool urg_blocked;
    bool hub_pending[65];
    bool internal_late;         /* one of osevent's fds marked for the
                                   next pass (osev_occurred_fd() from a
                                   callback after the fd phase) */
    /* the marks before a call that may fail before its pass */
    short saved_exp[NOBJ];
    bool saved_late[NOBJ], saved_internal_late;
    struct fake fake;
    /* allocator */
    long allocs;
    int fail_at;
    bool alloc_failed;
    bool freed, freeing;
};

static struct state *cur;
static int poison;              /* out-parameters start pointing here */
static bool trace;              /* OSEV_FUZZ_TRACE set: print each step */

static void fail(int line, const char *what)
{
    fprintf(stderr, "fuzz-registry.c:%d: check failed: %s (input byte %zu)\n",
            line, what, cur ? cur->pos : 0);
    abort();
}

#define CHECK(cond) ((cond) ? (void)0 : fail(__LINE__, #cond))

static uint8_t next(struct state *st)
{
    return st->pos < st->len ? st->in[st->pos++] : 0;
}

static void *arg_of(int i)
{
    return (void *)(uintptr_t)(i + 1);
}

static struct obj *obj_of(struct state *st, void *arg, int kind)
{
    uintptr_t i = (uintptr_t)arg;

    CHECK(i >= 1 && i <= (uintptr_t)st->nobj);
    CHECK(st->obj[i - 1].kind == kind);
    return &st->obj[i - 1];
}

static int obj_new(struct state *st, int kind)
{
    if (st->nobj == NOBJ)
        return -1;
    memset(&st->obj[st->nobj], 0, sizeof st->obj[0]);
    st->obj[st->nobj].kind = kind;
    st->obj[st->nobj].slot = -1;
    st->obj[st->nobj].deadline = OSEV_TIME_INFINITY;
    return st->nobj++;
}

/* A failed add: the handle never existed. */
static void obj_drop(struct state *st, int i)
{
    CHECK(i == st->nobj - 1);
    st->nobj--;
}

static bool live(const struct obj *o)
{
    return o->h && !o->removed;
}

static short merged(const struct state *st, int fdi)
{
    short m = 0;

    for (int i = 0; i < st->nobj; i++)
        if (st->obj[i].kind == OBJ_FD && live(&st->obj[i]) &&
            st->obj[i].fdi == fdi)
            m |= st->obj[i].events;
    return m;
}

static int fdi_of(const struct state *st, int fd)
{
    for (int i = 0; i < NFD; i++)
        if (st->fds[i] == fd)
            return i;
    return -1;
}

static osev_time earliest(const struct state *st)
{
    osev_time e = OSEV_TIME_INFINITY;

    for (int i = 0; i < st->nobj; i++)
        if (st->obj[i].kind == OBJ_TIMER && live(&st->obj[i]) &&
            st->obj[i].deadline < e)
            e = st->obj[i].deadline;
    return e;
}

static bool hooked(const struct state *st, unsigned type)
{
    return st->occurs_mask & (UINT64_C(1) << type);
}

/* Work that makes osevent's next wait return at once: whether the model
 * knows; *unsure when a pass it could not follow may have changed it. */
static bool work_pending(const struct state *st, bool *unsure)
{
    bool p = st->defer_ran < st->ndefer || st->sched_ran < st->nsched;

    *unsure = false;
    for (int i = 0; i < NE; i++)
        p |= st->ev[i].state == EV_OCCUR;
    for (int i = 0; i < st->nobj; i++)
        if (st->obj[i].kind == OBJ_FD && live(&st->obj[i]) && st->obj[i].exp)
            p = true;
    /* Signal and child watches are fds the model does not see. */
    *unsure |= st->had_sigchild || st->internal_late;
    p |= st->internal_late;
    return p;
}

/* The readiness of an fd now, as poll(2) sees it. */
static short readiness(int fd)
{
    struct pollfd p = { .fd = fd, .events = REQUESTABLE };

    return poll(&p, 1, 0) == 1 ? p.revents : 0;
}

/* A round that started at @before found fd @fdi with @revents: mark what
 * osevent marks (osev__mark_fd's rules, POLLNVAL muting). */
static void mark(struct state *st, int fdi, short revents, uint64_t before)
{
    short unreq = revents & UNREQUESTED;

    for (int i = 0; i < st->nobj; i++) {
        struct obj *o = &st->obj[i];
        short bits;

        if (o->kind != OBJ_FD || !live(o) || o->fdi != fdi ||
            o->born >= before || o->events == 0)
            continue;
        bits = (short)((revents & o->events) | unreq);
        if (!bits)
            continue;
        o->exp |= bits;
        if (st->pass.mode != PASS_NONE && st->pass.phase > 1)
            o->late = true;
        if (trace)
            fprintf(stderr, "  mark watch %d fd %d: %#x -> %#x%s\n", i,
                    st->fds[fdi], revents, o->exp, o->late ? " late" : "");
        if (revents & POLLNVAL)
            o->events = 0;
    }
}

static void mark_real(struct state *st, uint64_t before)
{
    for (int f = 0; f < NFD; f++)
        if (merged(st, f))
            mark(st, f, readiness(st->fds[f]), before);
}

static bool pred_ok(uint64_t id, int k)
{
    return (id * 7 + (uint64_t)k) % 3 != 0;
}

static bool ev_match(const struct state *st, int id, uint64_t mask, int pred)
{
    return (mask & (UINT64_C(1) << st->ev[id].type)) &&
           (pred < 0 || pred_ok((uint64_t)id, pred));
}

/* An event reaches the check side: the waiter, if it wants it, else the
 * queue (deliver_or_queue). */
static void ev_to_check_side(struct state *st, int id, bool moved)
{
    if (st->waiter.active && st->waiter.got < 0 &&
        ev_match(st, id, st->waiter.mask, st->waiter.pred)) {
        st->waiter.got = id;
        st->ev[id].state = EV_WAITER;
        return;
    }
    st->ev[id].state = EV_QUEUE;
    st->ev[id].moved |= moved;
}

static void ev_post_model(struct state *st, int id)
{
    st->ev[id].seq = st->ev_seq++;
    st->ev[id].tick = ++st->tick;
    st->ev[id].moved = false;
    if (hooked(st, st->ev[id].type))
        st->ev[id].state = EV_OCCUR;
    else
        ev_to_check_side(st, id, false);
    if (trace)
        fprintf(stderr, "  post event %d type %u: state %d\n", id,
                st->ev[id].type, st->ev[id].state);
}

/* ------------------------------------------------------------------ */
/* The allocator                                                       */
/* ------------------------------------------------------------------ */

static void *fuzz_realloc(void *user, void *ptr, size_t size)
{
    struct state *st = user;
    void *p;

    if (size == 0) {
        if (ptr)
            st->allocs--;
        free(ptr);
        return NULL;
    }
    if (st->fail_at >= 0 && st->fail_at-- == 0) {
        st->alloc_failed = true;
        return NULL;
    }
    p = realloc(ptr, size);
    if (p && !ptr)
        st->allocs++;
    return p;
}

/* Before a call that may fail: forget earlier failures. */
static void arm(struct state *st)
{
    st->alloc_failed = false;
    st->fake.last_err = 0;
}

/* A failed call must name a failure the input caused. */
static void check_error(struct state *st, int r)
{
    CHECK(r < 0);
    CHECK((r == -ENOMEM && st->alloc_failed) ||
          (st->fake.last_err && r == st->fake.last_err));
}

/* ------------------------------------------------------------------ */
/* The pass                                                            */
/* ------------------------------------------------------------------ */

static void pass_begin(struct state *st, int mode, osev_time now_lo)
{
    if (trace)
        fprintf(stderr, "  pass %s\n", mode == PASS_EXACT ? "exact" : "lenient");
    st->pass = (struct pass){
        .mode = mode,
        .tick = ++st->tick,
        .now_lo = now_lo,
        .now_hi = OSEV_TIME_INFINITY,
        .defer_limit = st->ndefer,
        .sched_limit = st->nsched,
    };
    st->internal_late = false; /* the pass runs what was marked */
    for (int i = 0; i < st->nobj; i++) {
        struct obj *o = &st->obj[i];

        o->late = false;
        o->due = mode == PASS_EXACT && o->kind == OBJ_TIMER && live(o) &&
                 o->deadline <= now_lo;
    }
}

/* Before a call that may fail before its pass (pass_begin() and the
 * marks come after). */
static void marks_save(struct state *st)
{
    for (int i = 0; i < st->nobj; i++) {
        st->saved_exp[i] = st->obj[i].exp;
        st->saved_late[i] = st->obj[i].late;
    }
    st->saved_internal_late = st->internal_late;
}

/* It failed: no pass ran, nothing was marked. */
static void pass_failed(struct state *st)
{
    CHECK(st->pass.observed == 0);
    for (int i = 0; i < st->nobj; i++) {
        st->obj[i].exp = st->saved_exp[i];
        st->obj[i].late = st->saved_late[i];
        st->obj[i].due = false;
    }
    st->internal_late = st->saved_internal_late;
    st->pass.mode = PASS_NONE;
}

/* A call that must run no pass: any callback fails the input. */
static void pass_none(struct state *st)
{
    st->pass = (struct pass){ .mode = PASS_EXACT, .none = true,
                              .tick = ++st->tick };
}

/* A pass whose now we hand in. */
static void pass_begin_at(struct state *st, osev_time now)
{
    pass_begin(st, PASS_EXACT, now);
    st->pass.now_hi = now;
    st->pass.tnow = now;
    st->pass.tnow_set = true;
}

static void check_all_released(struct state *st)
{
    for (int i = 0; i < st->nobj; i++) {
        const struct obj *o = &st->obj[i];

        if ((o->kind == OBJ_FD || o->kind == OBJ_TIMER) && o->removed)
            CHECK(o->released == (o->has_release ? 1 : 0));
    }
}

static void pass_end(struct state *st)
{
    struct pass *p = &st->pass;

    if (st->freed || p->mode == PASS_NONE) {
        p->mode = PASS_NONE;
        return;
    }
    if (p->mode == PASS_EXACT && !p->none) {
        CHECK(st->defer_ran >= p->defer_limit);
        CHECK(st->sched_ran >= p->sched_limit);
        for (int i = 0; i < st->nobj; i++) {
            const struct obj *o = &st->obj[i];

            CHECK(!o->due);
            CHECK(!(o->kind == OBJ_FD && live(o) && o->exp && !o->late));
        }
        /* The batch of event_occurs deliveries: all delivered, or moved
         * to the queue when their type was unhooked. */
        for (int i = 0; i < NE; i++) {
            struct evm *e = &st->ev[i];

            if (e->state != EV_OCCUR || e->tick >= p->tick)
                continue;
            if (trace)
                fprintf(stderr, "  event %d type %u posted at %llu, pass %llu\n",
                        i, e->type, (unsigned long long)e->tick,
                        (unsigned long long)p->tick);
            CHECK(!hooked(st, e->type));
            ev_to_check_side(st, i, true);
        }
        check_all_released(st);
    }
    if (p->mode == PASS_EXACT && !p->none && p->real) {
        /* The signal read in this pass reaches its watches in it; so
         * does the exit of a child. */
        for (int i = 0; i < st->nobj; i++) {
            const struct obj *o = &st->obj[i];

            if (!live(o) || o->born >= p->tick)
                continue;
            CHECK(!(o->kind == OBJ_SIGNAL && o->ctxi == 0 && o->must &&
                    o->must_tick < p->tick));
            CHECK(!(o->kind == OBJ_CHILD && o->exited && !o->reported &&
                    o->exit_tick < p->tick));
        }
    }
    p->mode = PASS_NONE;
}

/* Every callback starts here. */
static void cb_enter(struct state *st, int phase, bool counted)
{
    struct pass *p = &st->pass;

    CHECK(p->mode != PASS_NONE && !p->none); /* only from a pass we run */
    CHECK(!st->in_ctx2 || phase == 0);
    CHECK(!st->freed);       /* nothing after the context was freed */
    CHECK(st->hook_depth == 0);
    CHECK(st->cb_depth == 0); /* passes never nest */
    if (p->mode == PASS_EXACT && phase > 1)
        CHECK(phase >= p->phase);
    if (phase > p->phase)
        p->phase = phase;
    p->observed += counted;
    st->cb_depth++;
}

static void step(struct state *st, bool in_cb);
static void check_stats(struct state *st);

/* What a callback does: one more operation, from inside the pass. */
static void cb_leave(struct state *st)
{
    check_stats(st);
    if (!st->quiet && !st->freed)
        step(st, true);
    st->cb_depth--;
}

/* ------------------------------------------------------------------ */
/* Callbacks                                                           */
/* ------------------------------------------------------------------ */

static void release_cb(void *arg)
{
    struct state *st = cur;
    struct obj *o = &st->obj[(uintptr_t)arg - 1];

    CHECK((uintptr_t)arg >= 1 && (uintptr_t)arg <= (uintptr_t)st->nobj);
    CHECK(o->kind == OBJ_FD || o->kind == OBJ_TIMER);
    CHECK(o->has_release);
    CHECK(o->released == 0);           /* exactly once */
    CHECK(o->removed || st->freeing || st->freed); /* never while live */
    CHECK(st->release_ok);             /* at a dispatch point */
    CHECK(st->cb_depth == 0 && st->hook_depth == 0); /* clean stack */
    CHECK(st->removing != o - st->obj); /* never inside the remove */
    o->released++;
    if (o->slot >= 0) {
        int *slots = o->kind == OBJ_FD ? st->w : st->t;

        slots[o->slot] = -1;
        o->slot = -1;
    }
}

static void fd_cb(osev_fd *w, int fd, short revents, void *arg)
{
    struct state *st = cur;
    struct obj *o = obj_of(st, arg, OBJ_FD);

    cb_enter(st, 1, true);
    if (trace)
        fprintf(stderr, "  fd_cb watch %d revents %#x exp %#x\n",
                (int)(o - st->obj), revents, o->exp);
    CHECK(o->h == w && !o->removed);
    CHECK(fd == st->fds[o->fdi]);
    CHECK(revents != 0);
    if (st->pass.mode == PASS_EXACT)
        CHECK(revents == o->exp);
    else
        CHECK((revents & ~(o->exp | o->events | UNREQUESTED)) == 0);
    o->exp = 0;
    o->late = false;
    cb_leave(st);
}

static void timer_cb(osev_timer *t, osev_time now, void *arg)
{
    struct state *st = cur;
    struct obj *o = obj_of(st, arg, OBJ_TIMER);
    struct pass *p = &st->pass;

    cb_enter(st, 2, true);
    CHECK(o->h == t && !o->removed);
    CHECK(o->deadline != OSEV_TIME_INFINITY && o->deadline <= now);
    if (p->mode == PASS_EXACT) {
        /* Due at the pass's start, or in the band we cannot tell. */
        CHECK(o->due || (o->deadline > p->now_lo && o->armed < p->tick));
        CHECK(now >= p->now_lo && now <= p->now_hi);
        if (p->tnow_set)
            CHECK(now == p->tnow);
        p->tnow = now;
        p->tnow_set = true;
        if (p->timer_ran)
            CHECK(o->deadline > p->last_dl ||
                  (o->deadline == p->last_dl && o->seq > p->last_seq));
        p->last_dl = o->deadline;
        p->last_seq = o->seq;
        p->timer_ran = true;
    }
    o->due = false;
    o->deadline = OSEV_TIME_INFINITY;
    cb_leave(st);
}

static void defer_cb(osev_ctx *ctx, void *arg)
{
    struct state *st = cur;
    int id = (int)(uintptr_t)arg - 1;

    cb_enter(st, 3, true);
    CHECK(ctx == st->ctx);
    CHECK(id == st->defer_ran); /* FIFO, once */
    if (st->pass.mode == PASS_EXACT)
        CHECK(id < st->pass.defer_limit); /* queued before the pass */
    st->defer_ran++;
    cb_leave(st);
}

/* A deferred call that posts an event a waiter waits for. */
static int wait_post_id = -1;

static void defer_post_cb(osev_ctx *ctx, void *arg)
{
    struct state *st = cur;
    int id = (int)(uintptr_t)arg - 1;

    cb_enter(st, 3, true);
    CHECK(id == st->defer_ran);
    st->defer_ran++;
    if (wait_post_id >= 0) {
        int e = wait_post_id;

        wait_post_id = -1;
        ev_post_model(st, e);
        osev_event_post(ctx, st->ev[e].ev);
    }
    st->cb_depth--;
}

/* A deferred call that ends osev_loop_run(). */
static void defer_exit_cb(osev_ctx *ctx, void *arg)
{
    struct state *st = cur;
    int id = (int)(uintptr_t)arg - 1;

    cb_enter(st, 3, true);
    CHECK(id == st->defer_ran);
    st->defer_ran++;
    st->exit_pending = true;
    st->exit_code = 7;
    osev_loop_exit(ctx, 7);
    st->cb_depth--;
}

static void sched_cb(osev_ctx *ctx, void *arg)
{
    struct state *st = cur;
    int id = (int)(uintptr_t)arg - 1;

    cb_enter(st, 4, true);
    CHECK(ctx == st->ctx);
    CHECK(id == st->sched_ran); /* FIFO */
    CHECK(st->sched[id].ran == 0 && st->sched[id].released == 0);
    if (st->pass.mode == PASS_EXACT)
        CHECK(id < st->pass.sched_limit);
    st->sched[id].ran++;
    st->sched_ran++;
    cb_leave(st);
}

static void sched_release(void *arg)
{
    struct state *st = cur;
    int id = (int)(uintptr_t)arg - 1;

    CHECK(id >= 0 && id < st->nsched);
    CHECK(st->sched[id].has_release);
    CHECK(st->sched[id].ran == 0 && st->sched[id].released == 0);
    CHECK(st->freeing || st->freed); /* only when the context goes */
    CHECK(st->cb_depth == 0);
    st->sched[id].released++;
}

static int ev_id(struct state *st, const osev_event *ev)
{
    int id;

    CHECK(ev != NULL && ev->for_user < NE);
    id = (int)ev->for_user;
    CHECK(st->ev[id].ev == ev);
    CHECK(ev->type == st->ev[id].type);
    for (size_t i = 0; i < st->ev[id].size; i++)
        CHECK(((const uint8_t *)ev->data)[i] == 0xa5); /* payload intact */
    return id;
}

static void occurs_cb(void *user, osev_event *ev)
{
    struct state *st = cur;
    int id = ev_id(st, ev);

    cb_enter(st, 5, true);
    if (trace)
        fprintf(stderr, "  occurs event %d\n", id);
    CHECK(user == &st->ev);
    CHECK(st->ev[id].state == EV_OCCUR);
    CHECK(hooked(st, ev->type));
    if (st->pass.mode == PASS_EXACT)
        CHECK(st->ev[id].tick < st->pass.tick); /* posted before the pass */
    /* Those posted before it went first: delivered, or moved to the
     * queue because their type is no longer hooked. */
    for (int i = 0; i < NE; i++) {
        struct evm *e = &st->ev[i];

        if (e->state != EV_OCCUR || e->seq >= st->ev[id].seq)
            continue;
        CHECK(!hooked(st, e->type));
        ev_to_check_side(st, i, true);
    }
    st->ev[id].state = EV_OWNED;
    cb_leave(st);
}

static void disaster_cb(void *user, unsigned type, const char *msg,
                        int errnoval)
{
    struct state *st = cur;

    CHECK(user == &st->ev);
    CHECK(type == st->disaster_type && errnoval == 5);
    CHECK(msg && strcmp(msg, "lost") == 0);
    st->disasters++;
}

static int pred_fn(const osev_event *ev, void *user)
{
    struct state *st = cur;

    CHECK(ev->for_user < NE && st->ev[ev->for_user].ev == ev);
    return pred_ok(ev->for_user, (int)(uintptr_t)user);
}

static void signal_cb(osev_signal *s, int signo, void *arg)
{
    struct state *st = cur;
    struct obj *o = obj_of(st, arg, OBJ_SIGNAL);

    cb_enter(st, st->in_ctx2 ? 0 : 1, true);
    if (trace)
        fprintf(stderr, "signal %d to watch %d (may %d)\n", signo,
                (int)(o - st->obj), o->may);
    CHECK(o->h == s && !o->removed);
    CHECK(o->ctxi == (st->in_ctx2 ? 1 : 0)); /* from its own context */
    CHECK(signo == o->signo);
    CHECK(o->may > 0);
    o->may--;
    o->must = false;
    if (st->in_ctx2) { /* its callbacks do nothing more */
        st->cb_depth--;
        return;
    }
    cb_leave(st);
}

static void child_cb(osev_child *c, pid_t pid, int status, void *arg)
{
    struct state *st = cur;
    struct obj *o = obj_of(st, arg, OBJ_CHILD);

    cb_enter(st, 1, true);
    if (trace)
        fprintf(stderr, "  child %d exited: status %#x\n", (int)pid, status);
    CHECK(o->h == c && !o->removed && !o->reported);
    CHECK(pid == o->pid);
    if (o->stolen)
        CHECK(status == -1);
    else if (o->code < 0)
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    else
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == o->code);
    o->reported = o->reaped = o->exited = true;
    cb_leave(st);
}

/* ------------------------------------------------------------------ */
/* The model foreign loop (push mode)                                  */
/* ------------------------------------------------------------------ */

enum { FAIL_REG, FAIL_MOD, FAIL_TREG, FAIL_TMOD, FAIL_NONE };

static bool fake_fails(struct fake *f, int kind, int err)
{
    if (f->fail_kind != kind)
        return false;
    if (f->fail_in-- > 0)
        return false;
    f->fail_kind = FAIL_NONE;
    f->last_err = err;
    return true;
}

static void fake_stale(struct fake *f, void *tok, int fd)
{
    f->stale[f->nstale % NSTALE] = tok;
    f->stale_fd[f->nstale % NSTALE] = fd;
    f->nstale++;
}

/* A hook calling back into osevent is refused, and runs nothing. */
static void fake_reenter(struct state *st, void *tok, int fd)
{
    if (!st->fake.reenter)
        return;
    osev_occurred_fd(st->ctx, tok, fd, POLLIN, POLLIN | POLLOUT);
    osev_occurred_timeout(st->ctx, st->fake.tmo_tok);
    CHECK(osev_set_hooks(st->ctx, NULL, 0, NULL) == -EBUSY);
}

static int f_fd_register(void *user, int fd, void **reg_out, short events,
                         void *tok)
{
    struct state *st = cur;
    struct fake *f = user;
    int r = -ENOSPC;

    CHECK(f == &st->fake && f->on && st->hook_depth == 0);
    CHECK(events != 0 && !(events & ~REQUESTABLE));
    CHECK(tok != NULL);
    for (int i = 0; i < NREG; i++)
        CHECK(!(f->reg[i].live && f->reg[i].fd == fd)); /* one per fd */
    st->hook_depth++;
    fake_reenter(st, tok, fd);
    if (fake_fails(f, FAIL_REG, -EIO)) {
        r = -EIO;
        goto out;
    }
    for (int i = 0; i < NREG; i++) {
        if (f->reg[i].live)
            continue;
        f->reg[i] = (struct freg){ true, fd, events, tok, false };
        *reg_out = &f->reg[i];
        f->nlive++;
        f->n_reg++;
        r = 0;
        break;
    }
    CHECK(r == 0);
out:
    st->hook_depth--;
    return r;
}

static int f_fd_modify(void *user, int fd, void **reg_io, short events)
{
    struct state *st = cur;
    struct fake *f = user;
    struct freg *r = *reg_io;

    CHECK(f == &st->fake && f->on && st->hook_depth == 0);
    CHECK(r >= f->reg && r < f->reg + NREG && r->live && r->fd == fd);
    CHECK(events != 0 && events != r->events && !(events & ~REQUESTABLE));
    st->hook_depth++;
    fake_reenter(st, r->tok, fd);
    st->hook_depth--;
    if (fake_fails(f, FAIL_MOD, -ENOSPC)) {
        if (!(events & ~r->events))
            r->wide = true;
        return -ENOSPC;
    }
    r->events = events;
    r->wide = false;
    f->n_mod++;
    /* The registration may move: osevent keeps what we give back. */
    if ((events & POLLPRI) && (r - f->reg) % 2 == 0) {
        for (int i = NREG - 1; i >= 0; i--) {
            if (f->reg[i].live)
                continue;
            f->reg[i] = *r;
            r->live = false;
            *reg_io = &f->reg[i];
            break;
        }
    }
    return 0;
}

static void f_fd_deregister(void *user, int fd, void *reg)
{
    struct state *st = cur;
    struct fake *f = user;
    struct freg *r = reg;

    CHECK(f == &st->fake && f->on && st->hook_depth == 0);
    CHECK(r >= f->reg && r < f->reg + NREG && r->live && r->fd == fd);
    r->live = false;
    f->nlive--;
    f->n_dereg++;
    fake_stale(f, r->tok, fd);
}

static int f_timeout_register(void *user, void **reg_out, osev_time deadline,
                              void *tok)
{
    struct state *st = cur;
    struct fake *f = user;

    CHECK(f == &st->fake && f->on && st->hook_depth == 0);
    CHECK(!f->tmo_on && tok != NULL);
    CHECK(deadline >= 0 && deadline != OSEV_TIME_INFINITY);
    st->hook_depth++;
    fake_reenter(st, tok, 0);
    st->hook_depth--;
    if (fake_fails(f, FAIL_TREG, -EPERM)) {
        f->tmo_unsure = true;
        return -EPERM;
    }
    f->tmo_on = f->tmo_armed = true;
    f->tmo_unsure = false;
    f->tmo_dl = deadline;
    f->tmo_tok = tok;
    *reg_out = &f->tmo_on;
    f->n_treg++;
    return 0;
}

static int f_timeout_modify(void *user, void **reg_io, osev_time deadline)
{
    struct state *st = cur;
    struct fake *f = user;

    CHECK(f == &st->fake && f->on && st->hook_depth == 0);
    CHECK(f->tmo_on && *reg_io == &f->tmo_on);
    CHECK(deadline >= 0 && deadline != OSEV_TIME_INFINITY);
    if (fake_fails(f, FAIL_TMOD, -EIO)) {
        f->tmo_unsure = true;
        return -EIO;
    }
    f->tmo_armed = true;
    f->tmo_unsure = false;
    f->tmo_dl = deadline;
    f->n_tmod++;
    return 0;
}

static void f_timeout_deregister(void *user, void *reg)
{
    struct state *st = cur;
    struct fake *f = user;

    CHECK(f == &st->fake && f->on && st->hook_depth == 0);
    CHECK(f->tmo_on && reg == &f->tmo_on);
    f->tmo_on = f->tmo_armed = f->tmo_unsure = false;
    f->n_tdereg++;
    fake_stale(f, f->tmo_tok, -1);
}

static void f_release(void *user)
{
    struct state *st = cur;
    struct fake *f = user;

    CHECK(f == &st->fake && f->on && f->has_release);
    CHECK(f->nlive == 0 && !f->tmo_on); /* every deregister came first */
    f->releases++;
}

static const struct osev_hooks fake_hooks = {
    .fd_register = f_fd_register,
    .fd_modify = f_fd_modify,
    .fd_deregister = f_fd_deregister,
    .timeout_register = f_timeout_register,
    .timeout_modify = f_timeout_modify,
    .timeout_deregister = f_timeout_deregister,
    .release = f_release,
};

static struct freg *fake_reg_of(struct fake *f, int fd)
{
    for (int i = 0; i < NREG; i++)
        if (f->reg[i].live && f->reg[i].fd == fd)
            return &f->reg[i];
    return NULL;
}

/* What the hooks hold mirrors the registry. */
static void check_mirror(struct state *st)
{
    struct fake *f = &st->fake;
    struct osev_hook_stats hs = { .size = sizeof hs };
    osev_time e;

    CHECK(osev_get_hook_stats(st->ctx, &hs) == 0);
    CHECK(hs.fd_regs == (unsigned)f->nlive);
    CHECK(hs.timeout_regs == (f->tmo_on ? 1u : 0u));
    CHECK(hs.fd_registers == f->n_reg && hs.fd_modifies == f->n_mod &&
          hs.fd_deregisters == f->n_dereg);
    CHECK(hs.timeout_registers == f->n_treg &&
          hs.timeout_modifies == f->n_tmod &&
          hs.timeout_deregisters == f->n_tdereg);
    if (!f->on)
        return;
    for (int i = 0; i < NREG; i++) {
        const struct freg *r = &f->reg[i];
        int fdi;

        if (!r->live)
            continue;
        fdi = fdi_of(st, r->fd);
        if (fdi < 0) /* osevent's own: the wakeup fd, signals, children */
            CHECK(r->events == POLLIN);
    }
    for (int fdi = 0; fdi < NFD; fdi++) {
        short m = merged(st, fdi);
        const struct freg *r = fake_reg_of(f, st->fds[fdi]);

        if (!m) {
            CHECK(r == NULL);
            continue;
        }
        CHECK(r != NULL);
        CHECK(r->events == m || (r->wide && (r->events & m) == m));
    }
    /* Work that needs a pass can get one only through the wakeup fd. */
    if (f->on) {
        bool unsure, pending = work_pending(st, &unsure);

        for (int i = 0; i < st->nobj; i++)
            if ((st->obj[i].kind == OBJ_FD || st->obj[i].kind == OBJ_TIMER) &&
                st->obj[i].removed &&
                st->obj[i].released != st->obj[i].has_release)
                pending = true;
        if (pending && !unsure)
            CHECK(readiness(st->wake_fd) & POLLIN);
    }
    if (f->tmo_unsure)
        return;
    e = earliest(st);
    CHECK(f->tmo_on == (e != OSEV_TIME_INFINITY));
    if (f->tmo_on)
        CHECK(f->tmo_armed && f->tmo_dl == e);
}

/* ------------------------------------------------------------------ */
/* Dispatching calls                                                   */
/* ------------------------------------------------------------------ */

/* A call that released what ended at its start (or ran a pass). */
static void after_dispatch_point(struct state *st)
{
    if (!st->freed)
        check_all_released(st);
}

/* The count a dispatching call returns against the callbacks we saw. */
static void check_count(struct state *st, int r)
{
    CHECK(r >= st->pass.observed);
    if (!st->had_sigchild)
        CHECK(r == st->pass.observed);
}

static void do_occurred_fd(struct state *st, void *tok, int fd, short revents,
                           bool in_cb)
{
    struct fake *f = &st->fake;
    struct freg *reg = NULL;
    int fdi = fdi_of(st, fd);
    short mask, filtered;
    bool runs;

    for (int i = 0; i < NREG; i++)
        if (f->reg[i].live && f->reg[i].tok == tok)
            reg = &f->reg[i];
    mask = fdi >= 0 ? merged(st, fdi) : POLLIN;
    filtered = (short)(revents & (UNREQUESTED | mask));
    runs = f->on && reg && reg->fd == fd && fd >= 0 && filtered;
    if (trace)
        fprintf(stderr, "  occurred fd %d revents %#x%s%s phase %d\n", fd,
                revents, runs ? " runs" : "", in_cb ? " in cb" : "",
                st->pass.phase);
    if (in_cb) {
        /* Joins the running pass; what is marked after the fd phase
         * waits for the next one. */
        if (runs && fdi >= 0)
            mark(st, fdi, filtered, ++st->tick);
        else if (runs && st->pass.phase > 1)
            st->internal_late = true;
        osev_occurred_fd(st->ctx, tok, fd, POLLIN, revents);
        return;
    }
    if (!runs) {
        pass_none(st);
        osev_occurred_fd(st->ctx, tok, fd, POLLIN, revents);
        st->pass.mode = PASS_NONE;
        return;
    }
    pass_begin(st, PASS_EXACT, osev_now());
    if (fdi >= 0)
        mark(st, fdi, filtered, st->pass.tick);
    st->release_ok = true;
    osev_occurred_fd(st->ctx, tok, fd, POLLIN, revents);
    st->release_ok = false;
    st->pass.now_hi = osev_now();
    pass_end(st);
}

static void do_occurred_timeout(struct state *st, void *tok, bool in_cb)
{
    struct fake *f = &st->fake;
    bool runs = f->on && f->tmo_on && tok == f->tmo_tok;

    if (in_cb) {
        osev_occurred_timeout(st->ctx, tok);
        return;
    }
    if (runs)
        pass_begin(st, PASS_EXACT, osev_now());
    else
        pass_none(st);
    st->release_ok = runs;
    osev_occurred_timeout(st->ctx, tok);
    st->release_ok = false;
    st->pass.now_hi = osev_now();
    if (runs)
        pass_end(st);
    st->pass.mode = PASS_NONE;
}

/* One turn of the foreign loop: poll what it holds (or make results
 * up), report each ready registration with its token, fire the timeout
 * when due.  Reports come from a copy taken before any is delivered, so
 * a registration dropped by an earlier callback gets a stale report. */
static void fake_turn(struct state *st, uint8_t a, bool in_cb)
{
    struct fake *f = &st->fake;
    struct freg copy[NREG];
    struct pollfd p[NREG];
    bool fabricate = !st->quiet && (a & 1);
    int n = 0;

    for (int i = 0; i < NREG; i++)
        if (f->reg[i].live) {
            copy[n] = f->reg[i];
            p[n++] = (struct pollfd){ f->reg[i].fd, f->reg[i].events, 0 };
        }
    if (poll(p, (nfds_t)n, 0) < 0)
        n = 0;
    for (int i = 0; i < n && !st->freed; i++) {
        short rev = p[i].revents;

        if (fabricate) {
            uint8_t b = next(st);

            rev = (short)((b & 1 ? POLLIN : 0) | (b & 2 ? POLLOUT : 0) |
                          (b & 4 ? POLLPRI : 0) | (b & 8 ? POLLHUP : 0) |
                          (b & 16 ? POLLERR : 0));
            /* A closed fd only for ours: POLLNVAL mutes a watch, and
             * osevent's own fds are never closed under it. */
            if ((b & 0xe0) == 0xe0 && fdi_of(st, copy[i].fd) >= 0)
                rev |= POLLNVAL;
        }
        if (rev)
            do_occurred_fd(st, copy[i].tok, copy[i].fd, rev, in_cb);
    }
    if (st->freed || !f->tmo_on)
        return;
    if ((f->tmo_armed && f->tmo_dl <= osev_now()) || (fabricate && (a & 2))) {
        f->tmo_armed = false;
        do_occurred_timeout(st, f->tmo_tok, in_cb);
    }
}

/* Reports the foreign loop should not make: all ignored. */
static void fake_bad_reports(struct state *st, uint8_t a, bool in_cb)
{
    struct fake *f = &st->fake;
    uint64_t junk = 0;

    for (int i = 0; i < 8; i++)
        junk = junk << 8 | next(st);
    switch (a % 6) {
    case 0: /* a token whose registration is gone, often the newest */
        if (f->nstale) {
            int i = (a & 8) ? (f->nstale - 1) % NSTALE
                            : (a >> 4) % (f->nstale < NSTALE ? f->nstale
                                                             : NSTALE);

            if (f->stale_fd[i] >= 0)
                do_occurred_fd(st, f->stale[i], f->stale_fd[i], POLLIN, in_cb);
            else
                do_occurred_timeout(st, f->stale[i], in_cb);
        }
        break;
    case 1: /* garbage, unless it happens to be a live token */
        do_occurred_fd(st, (void *)(uintptr_t)junk, st->fds[a % NFD] ,
                       POLLIN | POLLOUT, in_cb);
        break;
    case 2:
        do_occurred_timeout(st, (void *)(uintptr_t)junk, in_cb);
        break;
    case 3: /* a live token with another fd, or none */
        for (int i = 0; i < NREG; i++)
            if (f->reg[i].live) {
                do_occurred_fd(st, f->reg[i].tok, f->reg[i].fd + 1 + (a >> 4),
                               POLLIN, in_cb);
                if (!st->freed && !in_cb)
                    osev_occurred_fd(st->ctx, f->reg[i].tok, -1, 0, POLLIN);
                break;
            }
        break;
    case 4: /* the timeout's token for an fd, an fd's for the timeout */
        if (f->tmo_on)
            do_occurred_fd(st, f->tmo_tok, -1, POLLIN, in_cb);
        for (int i = 0; i < NREG && !st->freed; i++)
            if (f->reg[i].live) {
                do_occurred_timeout(st, f->reg[i].tok, in_cb);
                break;
            }
        break;
    default: /* NULL, and a NULL context */
        do_occurred_fd(st, NULL, st->fds[0], POLLIN, in_cb);
        osev_occurred_fd(NULL, NULL, 0, 0, POLLIN);
        osev_occurred_timeout(NULL, NULL);
        break;
    }
}

/* ------------------------------------------------------------------ */
/* Operations                                                          */
/* ------------------------------------------------------------------ */

static short ev_bits(uint8_t b)
{
    return (short)((b & 1 ? POLLIN : 0) | (b & 2 ? POLLOUT : 0) |
                   (b & 4 ? POLLPRI : 0));
}

static void op_fd_add(struct state *st, uint8_t a, bool in_cb)
{
    uint8_t b = next(st);
    int slot = a % NW, fdi = (b >> 3) % NFD, i, r;
    osev_fd *h = (osev_fd *)&poison;

    if (st->w[slot] >= 0)
        return;
    if (b >= 0xf8) { /* bad arguments */
        CHECK(osev_fd_add(st->ctx, -1, POLLIN, fd_cb, NULL, &h) == -EBADF);
        CHECK(osev_fd_add(st->ctx, st->fds[0], POLLERR, fd_cb, NULL, &h) ==
              -EINVAL);
        CHECK(osev_fd_add(st->ctx, st->fds[0], POLLIN, NULL, NULL, &h) ==
              -EINVAL);
        CHECK(osev_fd_add(NULL, st->fds[0], POLLIN, fd_cb, NULL, &h) ==
              -EINVAL);
        CHECK(osev_fd_add(st->ctx, 1 << 20, POLLIN, fd_cb, NULL, &h) ==
              -EBADF);
        CHECK(h == (osev_fd *)&poison);
        return;
    }
    i = obj_new(st, OBJ_FD);
    if (i < 0)
        return;
    arm(st);
    r = osev_fd_add(st->ctx, st->fds[fdi], ev_bits(b), fd_cb, arg_of(i), &h);
    if (r < 0) {
        check_error(st, r);
        CHECK(h == (osev_fd *)&poison);
        obj_drop(st, i);
        return;
    }
    st->obj[i].h = h;
    st->obj[i].fdi = fdi;
    st->obj[i].events = ev_bits(b);
    st->obj[i].born = ++st->tick;
    st->obj[i].slot = slot;
    st->w[slot] = i;
    if (b & 0x40) {
        st->obj[i].has_release = true;
        osev_fd_set_release(h, release_cb);
    }
    (void)in_cb;
}

/* From a callback, the slot of a watch found ready (or a timer found
 * due) but not yet called in this pass, if one is: the reentrancy that
 * matters most. */
static int target(const struct state *st, const int *slots, int n, int start,
                  bool in_cb)
{
    for (int k = 0; in_cb && k < n; k++) {
        int s = (start + k) % n, i = slots[s];

        if (i >= 0 && live(&st->obj[i]) &&
            (st->obj[i].kind == OBJ_FD ? st->obj[i].exp != 0
                                       : st->obj[i].due))
            return s;
    }
    return start % n;
}

static void op_fd_modify(struct state *st, uint8_t a, bool in_cb)
{
    int i = st->w[target(st, st->w, NW, a, in_cb)], r;
    struct obj *o;
    short ev = ev_bits(a >> 4);

    if (i < 0)
        return;
    o = &st->obj[i];
    if (a & 0x80) {
        CHECK(osev_fd_modify(o->h, POLLERR) == -EINVAL);
        CHECK(osev_fd_modify(NULL, POLLIN) == -EINVAL);
    }
    arm(st);
    r = osev_fd_modify(o->h, ev);
    if (o->removed) {
        CHECK(r == -ESTALE);
        return;
    }
    if (r < 0) {
        check_error(st, r);
        return;
    }
    o->events = ev;
    /* A watch marked for the next pass whose bits are all dropped stays
     * on osevent's ready list, which counts as pending work until that
     * pass (reported: a harmless empty pass): as for osevent's own. */
    if (o->late && o->exp && !(o->exp & (ev ? ev | UNREQUESTED : 0)))
        st->internal_late = true;
    o->exp &= ev ? (short)(ev | UNREQUESTED) : 0;
}

static void op_fd_remove(struct state *st, uint8_t a, bool in_cb)
{
    int i = st->w[target(st, st->w, NW, a, in_cb)];
    struct obj *o;

    if (i < 0)
        return;
    o = &st->obj[i];
    st->removing = i;
    osev_fd_remove(o->h);
    if (a & 0x80)
        osev_fd_remove(o->h); /* a second remove does nothing */
    st->removing = -1;
    if (!o->removed && (a & 0x40) && o->has_release == false) {
        /* A release set and cleared again: none runs. */
    }
    o->removed = true;
    o->exp = 0;
    if (!o->has_release && o->slot >= 0) {
        /* No release tells us when it is freed: let the slot go. */
        st->w[o->slot] = -1;
        o->slot = -1;
    }
    osev_fd_remove(NULL);
}

static osev_time pick_deadline(uint8_t b)
{
    osev_time now = osev_now();

    switch (b & 7) {
    case 0: return now;
    case 1: return now - (osev_time)(b >> 3) * 1000;
    case 2: return 0;
    case 3: return OSEV_TIME_INFINITY;
    case 4: return now + HOUR + (b >> 3);
    case 5: return OSEV_TIME_INFINITY - 1 - (b >> 3);
    default: return now - (osev_time)(b >> 3);
    }
}

static void op_timer_add(struct state *st, uint8_t a)
{
    uint8_t b = next(st);
    int slot = a % NT, i, r;
    osev_timer *h = (osev_timer *)&poison;
    osev_time dl = pick_deadline(b);

    if (st->t[slot] >= 0)
        return;
    if (b == 0xff) {
        CHECK(osev_timer_add(st->ctx, -1, timer_cb, NULL, &h) == -EINVAL);
        CHECK(osev_timer_add(st->ctx, 0, NULL, NULL, &h) == -EINVAL);
        CHECK(osev_timer_add(NULL, 0, timer_cb, NULL, &h) == -EINVAL);
        CHECK(h == (osev_timer *)&poison);
        return;
    }
    i = obj_new(st, OBJ_TIMER);
    if (i < 0)
        return;
    arm(st);
    r = osev_timer_add(st->ctx, dl, timer_cb, arg_of(i), &h);
    if (r < 0) {
        check_error(st, r);
        CHECK(h == (osev_timer *)&poison);
        obj_drop(st, i);
        return;
    }
    st->obj[i].h = h;
    st->obj[i].deadline = dl;
    st->obj[i].seq = st->timer_seq++;
    st->obj[i].born = st->obj[i].armed = ++st->tick;
    st->obj[i].slot = slot;
    st->t[slot] = i;
    if (a & 0x80) {
        st->obj[i].has_release = true;
        osev_timer_set_release(h, release_cb);
    }
}

static void op_timer_set(struct state *st, uint8_t a, bool in_cb)
{
    uint8_t b = next(st);
    int i = st->t[target(st, st->t, NT, a, in_cb)], r;
    struct obj *o;
    osev_time dl = pick_deadline(b);

    if (i < 0)
        return;
    o = &st->obj[i];
    if (b == 0xff) {
        CHECK(osev_timer_set(o->h, -1) == -EINVAL);
        CHECK(osev_timer_set(NULL, 0) == -EINVAL);
    }
    arm(st);
    r = osev_timer_set(o->h, dl);
    if (o->removed) {
        CHECK(r == -ESTALE);
        return;
    }
    if (r < 0) {
        check_error(st, r);
        return;
    }
    o->deadline = dl;
    o->seq = st->timer_seq++;
    o->armed = ++st->tick;
    o->due = false;
}

static void op_timer_remove(struct state *st, uint8_t a, bool in_cb)
{
    int i = st->t[target(st, st->t, NT, a, in_cb)];
    struct obj *o;

    if (i < 0)
        return;
    o = &st->obj[i];
    st->removing = i;
    osev_timer_remove(o->h);
    if (a & 0x80)
        osev_timer_remove(o->h);
    st->removing = -1;
    o->removed = true;
    o->due = false;
    if (!o->has_release && o->slot >= 0) {
        st->t[o->slot] = -1;
        o->slot = -1;
    }
    osev_timer_remove(NULL);
}

static void op_defer(struct state *st, uint8_t a)
{
    int r;

    if (st->ndefer == NQ)
        return;
    if (a == 0xff)
        CHECK(osev_defer(st->ctx, NULL, NULL) == -EINVAL &&
              osev_defer(NULL, defer_cb, NULL) == -EINVAL);
    arm(st);
    r = osev_defer(st->ctx, defer_cb, arg_of(st->ndefer));
    if (r < 0) {
        check_error(st, r);
        return;
    }
    st->ndefer++;
    ++st->tick;
}

static void op_schedule(struct state *st, uint8_t a)
{
    int r;

    if (st->nsched == NQ)
        return;
    if (a == 0xff)
        CHECK(osev_schedule(st->ctx, NULL, NULL, NULL) == -EINVAL &&
              osev_schedule(NULL, sched_cb, NULL, NULL) == -EINVAL);
    arm(st);
    r = osev_schedule(st->ctx, sched_cb, a & 1 ? sched_release : NULL,
                      arg_of(st->nsched));
    if (r < 0) {
        check_error(st, r);
        return;
    }
    st->sched[st->nsched].has_release = a & 1;
    st->nsched++;
    ++st->tick;
}

static int ev_free_slot(struct state *st)
{
    for (int i = 0; i < NE; i++)
        if (st->ev[i].state == EV_FREE)
            return i;
    return -1;
}

/* One of the first five types, any type, or (once names exist, so never
 * in an input without them) the type of one of the names. */
static unsigned pick_type(const struct state *st, uint8_t a)
{
    if ((a & 0xc0) == 0xc0 && st->ntnamed > 0) {
        int k = (a & 0x3f) % st->ntnamed;

        for (unsigned t = 64; t-- > 0;)
            if (st->tnamed[t] && k-- == 0)
                return t;
    }
    return a & 0x80 ? (unsigned)(a % 64) : (unsigned)(a % 5);
}

static uint64_t pick_mask(const struct state *st, uint8_t a)
{
    switch (a % 4) {
    case 0: return OSEV_EVENTMASK_ALL;
    case 1: /* one type; with 0x80, once names exist, a named one */
        if ((a & 0x80) && st->ntnamed > 0)
            return UINT64_C(1) << pick_type(st, (uint8_t)(0xc0 | a >> 2));
        return UINT64_C(1) << pick_type(st, (uint8_t)(a >> 2));
    case 2: return 0;
    default: return (UINT64_C(1) << (a >> 5)) | (UINT64_C(1) << ((a >> 2) & 7));
    }
}

/* A new event, ours until posted. */
static int ev_make(struct state *st, uint8_t a, uint8_t b)
{
    int id = ev_free_slot(st);
    unsigned type = pick_type(st, a);
    osev_event *ev;

    if (id < 0)
        return -1;
    arm(st);
    errno = 0;
    ev = osev_event_new(st->ctx, type, (uint64_t)id, b % 40);
    if (!ev) {
        CHECK(errno == ENOMEM && st->alloc_failed);
        return -1;
    }
    CHECK(ev->for_user == (uint64_t)id && ev->type == type);
    CHECK((b % 40 == 0) == (ev->data == NULL));
    if (ev->data)
        memset(ev->data, 0xa5, b % 40);
    st->ev[id] = (struct evm){
        .ev = ev, .type = ev->type, .size = b % 40, .state = EV_OWNED
    };
    return id;
}

static void op_event_post(struct state *st, uint8_t a)
{
    uint8_t b = next(st);
    int id;

    if (b == 0xff) {
        errno = 0;
        CHECK(osev_event_new(st->ctx, 64, 0, 0) == NULL && errno == EINVAL);
        CHECK(osev_event_new(NULL, 0, 0, 0) == NULL && errno == EINVAL);
        CHECK(osev_event_new(st->ctx, 0, 0, SIZE_MAX) == NULL &&
              errno == ENOMEM);
        osev_event_post(NULL, NULL);
        osev_event_post(st->ctx, NULL);
        return;
    }
    id = ev_make(st, a, b);
    if (id < 0 || (b & 0x80))
        return; /* kept: posted or freed later */
    ev_post_model(st, id);
    osev_event_post(st->ctx, st->ev[id].ev);
}

/* An event that is ours: post it again, or free it. */
static void op_event_owned(struct state *st, uint8_t a)
{
    for (int k = 0; k < NE; k++) {
        int id = (a + k) % NE;

        if (st->ev[id].state != EV_OWNED)
            continue;
        if (a & 0x80) {
            osev_event_free(st->ctx, st->ev[id].ev);
            st->ev[id].state = EV_FREE;
            st->ev[id].ev = NULL;
        } else {
            ev_post_model(st, id);
            osev_event_post(st->ctx, st->ev[id].ev);
        }
        return;
    }
    osev_event_free(st->ctx, NULL);
    osev_event_free(NULL, NULL);
}

/* The event the check side must hand out for (mask, pred), -1 for none;
 * *exact false when events moved from the event_occurs side make the
 * order one we do not predict. */
static int ev_expect(const struct state *st, uint64_t mask, int pred,
                     bool *exact)
{
    int best = -1;

    *exact = true;
    for (int i = 0; i < NE; i++) {
        const struct evm *e = &st->ev[i];

        if (e->state != EV_QUEUE || !ev_match(st, i, mask, pred))
            continue;
        /* An event that reached the queue from the event_occurs side,
         * after newer ones were queued directly, is taken first without
         * a predicate and after them with one: which is "oldest" is not
         * settled (reported), so no order is checked then. */
        if (e->moved)
            *exact = false;
        if (best < 0 || e->seq < st->ev[best].seq)
            best = i;
    }
    return best;
}

/* Check what a check or wait handed out against the model. */
static void ev_taken(struct state *st, int r, osev_event *ev, uint64_t mask,
                     int pred, int expect, bool exact)
{
    int id;

    if (st->disaster_unhooked) {
        CHECK(r == -EIO);
        return;
    }
    if (r == -EAGAIN || r == -ETIMEDOUT) {
        CHECK(expect < 0);
        return;
    }
    CHECK(r == 0);
    id = ev_id(st, ev);
    CHECK(ev_match(st, id, mask, pred));
    if (exact)
        CHECK(id == expect);
    CHECK(st->ev[id].state == EV_QUEUE);
    st->ev[id].state = EV_OWNED;
}

static void op_event_check(struct state *st, uint8_t a)
{
    uint8_t b = next(st);
    uint64_t mask = pick_mask(st, a);
    int pred = b & 1 ? (b >> 1) % 3 : -1, expect, r;
    osev_event *ev = (osev_event *)&poison;
    bool exact;

    if (b == 0xff)
        CHECK(osev_event_check(st->ctx, mask, NULL, NULL, NULL) == -EINVAL &&
              osev_event_check(NULL, mask, NULL, NULL, &ev) == -EINVAL);
    expect = ev_expect(st, mask, pred, &exact);
    r = osev_event_check(st->ctx, mask, pred >= 0 ? pred_fn : NULL,
                         (void *)(uintptr_t)pred, &ev);
    if (r < 0)
        CHECK(ev == (osev_event *)&poison);
    ev_taken(st, r, ev, mask, pred, expect, exact);
}

static void op_event_wait(struct state *st, uint8_t a, bool in_cb)
{
    uint8_t b = next(st);
    uint64_t mask = pick_mask(st, a);
    int pred = b & 1 ? (b >> 1) % 3 : -1, expect, r, post = -1;
    osev_event *ev = (osev_event *)&poison;
    osev_time dl = b & 2 ? 0 : osev_now() - 1;
    bool exact, near = (b & 0x0c) == 0x0c && !in_cb;

    if (b == 0xff)
        CHECK(osev_event_wait(st->ctx, mask, NULL, NULL, -1, &ev) == -EINVAL &&
              osev_event_wait(st->ctx, mask, NULL, NULL, 0, NULL) == -EINVAL &&
              osev_event_wait(NULL, mask, NULL, NULL, 0, &ev) == -EINVAL);
    if (in_cb) {
        CHECK(osev_event_wait(st->ctx, mask, NULL, NULL, 0, &ev) == -EBUSY);
        return;
    }
    expect = ev_expect(st, mask, pred, &exact);
    /* The passes of a near wait are not followed one by one: none may
     * have an event to move from the event_occurs side to the queue
     * (the hooks change only between operations). */
    for (int i = 0; i < NE; i++)
        if (st->ev[i].state == EV_OCCUR && !hooked(st, st->ev[i].type))
            near = false;
    if (near && expect < 0 && st->ndefer < NQ && !st->disaster_unhooked) {
        /* A near deadline, met by a deferred post: the built-in loop
         * runs as the waiter, once, without blocking. */
        int id = ev_make(st, (uint8_t)(a >> 2), 0);

        if (id >= 0 && ev_match(st, id, mask, pred) &&
            !hooked(st, st->ev[id].type)) {
            arm(st);
            if (osev_defer(st->ctx, defer_post_cb, arg_of(st->ndefer)) == 0) {
                st->ndefer++;
                ++st->tick;
                post = id;
                st->ev[id].state = EV_HELD; /* the deferred call posts it */
            }
        }
        if (post < 0 && id >= 0) {
            osev_event_free(st->ctx, st->ev[id].ev);
            st->ev[id].state = EV_FREE;
        }
    }
    st->waiter.active = true;
    st->waiter.mask = mask;
    st->waiter.pred = pred;
    st->waiter.got = -1;
    if (post >= 0) {
        wait_post_id = post;
        marks_save(st);
        pass_begin(st, PASS_LENIENT, osev_now());
        st->release_ok = true;
        arm(st);
        r = osev_event_wait(st->ctx, mask, pred >= 0 ? pred_fn : NULL,
                            (void *)(uintptr_t)pred, osev_now() + 5000000,
                            &ev);
        st->release_ok = false;
        if (wait_post_id >= 0)
            st->ev[post].state = EV_OWNED; /* its deferred call did not run */
        wait_post_id = -1;
        if (r == -ESTALE) {
            CHECK(st->freed);
            return;
        }
        if (st->pass.observed == 0) {
            /* Perhaps no pass ran: what was marked is still marked. */
            for (int i = 0; i < st->nobj; i++) {
                st->obj[i].exp |= st->saved_exp[i];
                st->obj[i].late |= st->saved_late[i];
            }
            st->internal_late |= st->saved_internal_late;
        }
        pass_end(st);
        if (r == 0 && st->waiter.got >= 0) {
            CHECK(ev == st->ev[st->waiter.got].ev);
            st->ev[st->waiter.got].state = EV_OWNED;
        } else if (r < 0 && r != -ETIMEDOUT && r != -EIO) {
            check_error(st, r); /* the loop could not run */
        } else {
            ev_taken(st, r, ev, mask, pred, -1, false);
        }
    } else {
        r = osev_event_wait(st->ctx, mask, pred >= 0 ? pred_fn : NULL,
                            (void *)(uintptr_t)pred, dl, &ev);
        CHECK(st->waiter.got < 0);
        ev_taken(st, r, ev, mask, pred, expect, exact);
    }
    if (r < 0)
        CHECK(ev == (osev_event *)&poison);
    st->waiter.active = false;
}

static void op_event_hooks(struct state *st, uint8_t a, bool in_cb)
{
    struct osev_event_hooks h = {
        .event_occurs_mask = pick_mask(st, a) & ~(UINT64_C(1) << 4),
        .event_occurs = occurs_cb,
        .disaster = (a & 0x40) ? disaster_cb : NULL,
    };
    uint8_t big[sizeof h + 8] = { 0 };

    /* The model follows hook changes between passes only. */
    if (in_cb)
        return;
    if (a == 0xff) {
        h.event_occurs = NULL;
        CHECK(osev_event_set_hooks(st->ctx, &h, sizeof h, NULL) == -EINVAL);
        CHECK(osev_event_set_hooks(st->ctx, &h, 4, NULL) == -EINVAL);
        CHECK(osev_event_set_hooks(NULL, NULL, 0, NULL) == -EINVAL);
        memcpy(big, &h, sizeof h);
        big[sizeof h] = 1;
        CHECK(osev_event_set_hooks(st->ctx, (void *)big, sizeof big, NULL) ==
              -EINVAL);
        return;
    }
    if (a & 0x20) {
        CHECK(osev_event_set_hooks(st->ctx, NULL, 0, NULL) == 0);
        st->occurs_mask = 0;
        st->disaster_hook = false;
        return;
    }
    if (a & 0x10) {
        memcpy(big, &h, sizeof h);
        CHECK(osev_event_set_hooks(st->ctx, (void *)big, sizeof big,
                                   &st->ev) == 0);
    } else {
        CHECK(osev_event_set_hooks(st->ctx, &h, sizeof h, &st->ev) == 0);
    }
    st->occurs_mask = h.event_occurs_mask;
    st->disaster_hook = h.disaster != NULL;
}

static void op_disaster(struct state *st, uint8_t a)
{
    st->disaster_type = a % 5;
    if (st->disaster_hook) {
        int before = st->disasters;

        osev_disaster(st->ctx, st->disaster_type, "lost", 5);
        CHECK(st->disasters == before + 1);
        return;
    }
    /* Unhooked, it writes to stderr and sticks: once per input at most. */
    if (st->disaster_unhooked || a != 0x42)
        return;
    osev_disaster(st->ctx, st->disaster_type, "lost", 5);
    st->disaster_unhooked = true;
    osev_disaster(NULL, 0, NULL, 0);
}

/* ---- event types by name ---- */

#define S16 "abcdefghijklmnop"
static const char name63[] = S16 S16 S16 "abcdefghijklmno";
static const char name63b[] = S16 S16 S16 "abcdefghijklmnX";
static const char name64[] = S16 S16 S16 "abcdefghijklmnop";
_Static_assert(sizeof name63 == OSEV_EVENT_TYPE_NAME_MAX + 1, "63 bytes");
_Static_assert(sizeof name64 == OSEV_EVENT_TYPE_NAME_MAX + 2, "64 bytes");

/* A small set, so names repeat: prefixes of each other, a case apart,
 * the longest valid one and one that differs from it in its last byte
 * only, and the invalid ones (empty, NULL, a byte too long). */
static const char *const tnames[] = {
    "a", "ab", "A", "curl.done", "ares.result", "x.\xff", "b",
    name63, name63b, "", NULL, name64,
};
#define NTNAMES ((int)(sizeof tnames / sizeof tnames[0]))

static bool tname_valid(const char *name)
{
    return name && name[0] && strlen(name) <= OSEV_EVENT_TYPE_NAME_MAX;
}

/* The model's type of @name, or -1. */
static int tname_type(const struct state *st, const char *name)
{
    for (int t = 0; t < 64; t++)
        if (name && st->tnamed[t] && strcmp(st->tname[t], name) == 0)
            return t;
    return -1;
}

/* The type a new name gets: the highest free one, or -1. */
static int tname_free(const struct state *st)
{
    for (int t = 63; t >= 0; t--)
        if (!st->tnamed[t])
            return t;
    return -1;
}

static void tname_set(struct state *st, int t, const char *name)
{
    CHECK(!st->tnamed[t] && tname_type(st, name) < 0);
    st->tnamed[t] = true;
    memcpy(st->tname[t], name, strlen(name) + 1);
    st->ntnamed++;
}

/* osev_event_type_name(@type) against the model: the registered string,
 * a copy (not the caller's buffer), the same pointer every time. */
static void tname_check(struct state *st, unsigned type)
{
    const char *p = osev_event_type_name(st->ctx, type);

    if (type > 63 || !st->tnamed[type]) {
        CHECK(p == NULL);
        return;
    }
    CHECK(p != NULL && strcmp(p, st->tname[type]) == 0);
    if (st->tname_ptr[type])
        CHECK(p == st->tname_ptr[type]);
    st->tname_ptr[type] = p;
}

/* After -ENOMEM: nothing was registered. */
static void tname_unchanged(struct state *st, const char *name)
{
    CHECK(osev_event_type_find(st->ctx, name) == -ENOENT);
    for (unsigned t = 0; t < 64; t++)
        if (!st->tnamed[t])
            CHECK(osev_event_type_name(st->ctx, t) == NULL);
}

/* Every type's name against the model. */
static void tnames_check_all(struct state *st)
{
    for (unsigned t = 0; t <= 64; t++)
        tname_check(st, t);
}

static int tname_get(struct state *st, const char *name)
{
    int held = tname_type(st, name), t = tname_free(st), r;

    arm(st);
    r = osev_event_type_get(st->ctx, name);
    if (trace)
        fprintf(stderr, "  type_get %s: %d\n", name ? name : "(null)", r);
    if (!tname_valid(name))
        CHECK(r == -EINVAL);
    else if (held >= 0) /* a held name keeps its type, and cannot fail */
        CHECK(r == held);
    else if (t < 0)
        CHECK(r == -ENOSPC);
    else if (r < 0) {
        check_error(st, r);
        tname_unchanged(st, name);
    } else {
        CHECK(r == t); /* the highest free type */
        tname_set(st, t, name);
    }
    return r;
}

static void tname_reserve(struct state *st, const char *name, unsigned type)
{
    int held = tname_type(st, name), r;

    arm(st);
    r = osev_event_type_reserve(st->ctx, name, type);
    if (trace)
        fprintf(stderr, "  type_reserve %s %u: %d\n", name ? name : "(null)",
                type, r);
    if (!tname_valid(name) || type > 63)
        CHECK(r == -EINVAL);
    else if (held == (int)type)
        CHECK(r == 0);
    else if (held >= 0 || st->tnamed[type])
        CHECK(r == -EEXIST);
    else if (r < 0) {
        check_error(st, r);
        tname_unchanged(st, name);
    } else {
        tname_set(st, (int)type, name);
    }
}

/* A type for reserve and name: any, one near the top (where new names
 * go), the name's own, or one past 63. */
static unsigned pick_name_type(const struct state *st, const char *name,
                               uint8_t b)
{
    int held = tname_type(st, name);

    switch (b >> 6) {
    case 0: return b & 63u;
    case 1: return 63u - (b & 7u);
    case 2: return held >= 0 ? (unsigned)held : b & 63u;
    default: return b == 0xff ? UINT_MAX : 64u + (b & 63u);
    }
}

/*
 * osev_event_type_get/_reserve/_find/_name against the model (a & 3) on
 * a name of the set or a generated "gen.N" ((a >> 2) & 15), the type
 * from the next byte.  With 0x40: get "gen.0", "gen.1"... up to N, which
 * runs the types out (-ENOSPC), or the NULL context's -EINVAL first.
 * Any thread, any callback: nothing here depends on the pass.
 */
static void op_evtype(struct state *st, uint8_t a)
{
    uint8_t b = next(st);
    int k = (a >> 2) & 15;
    const char *name = k < NTNAMES ? tnames[k] : NULL;
    char gen[16];
    unsigned type;

    if (k >= NTNAMES) {
        snprintf(gen, sizeof gen, "gen.%u", b % 72u);
        name = gen;
    }
    if (a & 0x40) {
        if ((a & 3) == 0) {
            for (unsigned u = 0; u <= b % 72u; u++) {
                int r;

                snprintf(gen, sizeof gen, "gen.%u", u);
                r = tname_get(st, gen);
                if (r == -ENOSPC || r == -ENOMEM)
                    break;
            }
            return;
        }
        CHECK(osev_event_type_get(NULL, "a") == -EINVAL);
        CHECK(osev_event_type_reserve(NULL, "a", 0) == -EINVAL);
        CHECK(osev_event_type_find(NULL, "a") == -EINVAL);
        CHECK(osev_event_type_name(NULL, 0) == NULL);
        /* The bounds, whatever the model holds: these change nothing. */
        CHECK(osev_event_type_get(st->ctx, name64) == -EINVAL);
        CHECK(osev_event_type_reserve(st->ctx, name64, 0) == -EINVAL);
        CHECK(osev_event_type_get(st->ctx, "") == -EINVAL);
        CHECK(osev_event_type_reserve(st->ctx, "a", 64) == -EINVAL);
        CHECK(osev_event_type_find(st->ctx, name64) == -ENOENT);
    }
    type = pick_name_type(st, name, b);
    switch (a & 3) {
    case 0:
        tname_get(st, name);
        break;
    case 1:
        tname_reserve(st, name, type);
        break;
    case 2: {
        int held = tname_type(st, name);

        CHECK(osev_event_type_find(st->ctx, name) ==
              (!name ? -EINVAL : held >= 0 ? held : -ENOENT));
        break;
    }
    default:
        tname_check(st, type);
        break;
    }
}

/* ---- the pull protocol ---- */

static void check_array(struct state *st, const struct pollfd *fds, int n)
{
    int seen[NFD] = { 0 };

    for (int i = 0; i < n; i++) {
        int fdi = fdi_of(st, fds[i].fd);

        CHECK(fds[i].revents == 0);
        for (int j = 0; j < i; j++)
            CHECK(fds[j].fd != fds[i].fd);
        if (fdi < 0) {
            CHECK(fds[i].events == POLLIN); /* osevent's own */
            continue;
        }
        seen[fdi]++;
        CHECK(fds[i].events == merged(st, fdi));
    }
    for (int f = 0; f < NFD; f++)
        CHECK(seen[f] == (merged(st, f) ? 1 : 0));
}

static int expected_ms(struct state *st, osev_time now, bool *unsure)
{
    osev_time e, left, ms;

    if (work_pending(st, unsure))
        return 0;
    e = earliest(st);
    if (e == OSEV_TIME_INFINITY)
        return -1;
    if (e <= now)
        return 0;
    left = e - now;
    ms = left / 1000000 + (left % 1000000 != 0);
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* The now handed to a pull round: read by osevent, now, far ahead, a
 * little ahead, or exactly the earliest deadline (due at once). */
static osev_time pick_now(const struct state *st, uint8_t b)
{
    osev_time e;

    switch (b & 7) {
    case 0:
    case 4:
        return 0;
    case 1:
        return osev_now();
    case 2:
        return osev_now() + 2 * HOUR;
    case 3:
        e = earliest(st);
        if (e != OSEV_TIME_INFINITY && e > 0)
            return e;
        return osev_now();
    default:
        return osev_now() + (osev_time)(b >> 3) * 1000000;
    }
}

/* A pass on results the harness hands in: begin it, mark, call. */
static void pass_begin_given(struct state *st, osev_time now)
{
    if (now)
        pass_begin_at(st, now);
    else
        pass_begin(st, PASS_EXACT, osev_now());
}

static void pass_end_given(struct state *st, osev_time now, bool accepted)
{
    if (!now)
        st->pass.now_hi = osev_now();
    if (accepted)
        pass_end(st);
    st->pass.mode = PASS_NONE;
}

static void op_beforepoll(struct state *st, uint8_t a, bool in_cb)
{
    struct pollfd fds[NREG + 2];
    int room = NREG + 2, n, timeout = a & 1 ? -1 : 100000, r, ms;
    osev_time now = pick_now(st, a >> 1);
    bool unsure;

    if (in_cb) {
        n = room;
        CHECK(osev_beforepoll(st->ctx, &n, fds, &timeout, 0) == -EBUSY);
        CHECK(n == room && timeout == (a & 1 ? -1 : 100000));
        return;
    }
    if (a == 0xff) {
        n = 1;
        CHECK(osev_beforepoll(NULL, &n, fds, &timeout, 0) == -EINVAL);
        CHECK(osev_beforepoll(st->ctx, &n, NULL, &timeout, 0) == -EINVAL);
        CHECK(osev_beforepoll(st->ctx, NULL, fds, &timeout, 0) == -EINVAL);
        CHECK(osev_beforepoll(st->ctx, &n, fds, NULL, 0) == -EINVAL);
        CHECK(osev_beforepoll(st->ctx, &n, fds, &timeout, -1) == -EINVAL);
        n = -1;
        CHECK(osev_beforepoll(st->ctx, &n, fds, &timeout, 0) == -EINVAL);
        osev_afterpoll(NULL, 0, NULL, 0);
        osev_afterpoll(st->ctx, -1, NULL, 0);
        osev_afterpoll(st->ctx, 1, NULL, 0);
        osev_afterpoll(st->ctx, 0, NULL, -1);
    }
    if (a & 0x40) { /* ask the size first, or offer too little room */
        int small = (a & 0x80) ? 1 : 0;

        n = small;
        st->release_ok = true;
        r = osev_beforepoll(st->ctx, &n, n ? fds : NULL, &timeout, now);
        st->release_ok = false;
        after_dispatch_point(st);
        if (r == -ENOBUFS) {
            CHECK(n > small);
            room = n;
        } else {
            CHECK(r == 0 && n == 1); /* the wakeup fd alone */
        }
    }
    n = room;
    st->release_ok = true;
    r = osev_beforepoll(st->ctx, &n, fds, &timeout, now);
    st->release_ok = false;
    CHECK(r == 0);
    after_dispatch_point(st);
    check_array(st, fds, n);
    ms = expected_ms(st, now ? now : osev_now(), &unsure);
    if (trace)
        fprintf(stderr, "beforepoll: timeout %d, model %d%s\n", timeout, ms,
                unsure ? " (unsure)" : "");
    if (now && !unsure)
        CHECK(timeout == (a & 1 ? ms : (ms < 0 || ms > 100000 ? 100000 : ms)));
    memcpy(st->pfds, fds, (size_t)n * sizeof *fds);
    st->pull_n = n;
    st->pull_live = true;
    st->pull_clean = true;
    st->pull_tick = ++st->tick;
}

/* The results of the last round: made up or real, maybe handed in with a
 * count that cannot be theirs, from a callback, or twice. */
static void op_afterpoll(struct state *st, uint8_t a, bool in_cb)
{
    struct pollfd fds[NREG + 2];
    int n = st->pull_n;
    osev_time now = pick_now(st, a >> 2);
    bool accept;

    memcpy(fds, st->pfds, (size_t)n * sizeof *fds);
    if (a & 1) {
        if (poll(fds, (nfds_t)n, 0) < 0)
            return;
    } else {
        for (int i = 0; i < n; i++) {
            uint8_t b = next(st);

            fds[i].revents = (short)(ev_bits(b) | (b & 8 ? POLLHUP : 0) |
                                     (b & 16 ? POLLERR : 0));
            /* POLLNVAL only for ours: osevent's own are never closed. */
            if ((b & 0xe0) == 0xe0 && fdi_of(st, fds[i].fd) >= 0)
                fds[i].revents |= POLLNVAL;
        }
    }
    if (in_cb) {
        osev_afterpoll(st->ctx, n, fds, now); /* ignored: the round stays */
        return;
    }
    if ((a & 2) && n > 0) {
        /* A count that cannot be from beforepoll: no dispatch. */
        pass_none(st);
        osev_afterpoll(st->ctx, (a & 0x80) ? n - 1 : n + 1, fds, now);
        st->pass.mode = PASS_NONE;
    }
    if ((a & 0x40) && st->pull_clean && st->pull_live && n >= 2 &&
        fds[0].fd != fds[1].fd && (fds[0].revents || fds[1].revents)) {
        /* Results for another fd than the one handed out at an entry,
         * with nothing changed since the round began: no dispatch.  (An
         * entry with no results carries nothing to misdirect, and is not
         * checked.  After a change of the array's layout osevent cannot
         * tell: fault (e), not tried.) */
        struct pollfd t = fds[0];

        fds[0] = fds[1];
        fds[1] = t;
        pass_none(st);
        osev_afterpoll(st->ctx, n, fds, now);
        st->pass.mode = PASS_NONE;
        fds[1] = fds[0];
        fds[0] = t;
    }
    accept = st->pull_live;
    if (accept)
        pass_begin_given(st, now);
    else
        pass_none(st);
    if (accept)
        for (int i = 0; i < n; i++) {
            int fdi = fdi_of(st, fds[i].fd);

            if (fdi >= 0 && fds[i].revents)
                mark(st, fdi, fds[i].revents, st->pull_tick);
        }
    st->release_ok = accept;
    osev_afterpoll(st->ctx, n, fds, now);
    st->release_ok = false;
    st->pull_live = false;
    pass_end_given(st, now, accept);
}

static void op_beforeselect(struct state *st, uint8_t a, bool in_cb)
{
    fd_set rs, ws, es, r0, w0, e0;
    struct timeval tv = { 5, 0 }, tv0;
    bool tv_set = a & 1, tv_set0, unsure, high = false, need_w = false,
         need_e = false;
    int maxfd = a & 2 ? -1 : FD_SETSIZE - 1, maxfd0, r;
    osev_time now = pick_now(st, a >> 2);
    uint8_t b = next(st);
    fd_set *rp = &rs, *wp = &ws, *ep = &es;

    FD_ZERO(&rs);
    FD_ZERO(&ws);
    FD_ZERO(&es);
    FD_SET(FD_SETSIZE - 1, &rs); /* the application's: never cleared */
    if (in_cb) {
        CHECK(osev_beforeselect(st->ctx, &maxfd, rp, wp, ep, &tv, &tv_set,
                                0) == -EBUSY);
        return;
    }
    if (a == 0xff) {
        CHECK(osev_beforeselect(NULL, &maxfd, rp, wp, ep, &tv, &tv_set, 0) ==
              -EINVAL);
        CHECK(osev_beforeselect(st->ctx, NULL, rp, wp, ep, &tv, &tv_set, 0) ==
              -EINVAL);
        CHECK(osev_beforeselect(st->ctx, &maxfd, rp, wp, ep, NULL, &tv_set,
                                0) == -EINVAL);
        CHECK(osev_beforeselect(st->ctx, &maxfd, rp, wp, ep, &tv, NULL, 0) ==
              -EINVAL);
        CHECK(osev_beforeselect(st->ctx, &maxfd, rp, wp, ep, &tv, &tv_set,
                                -1) == -EINVAL);
        osev_afterselect(NULL, 0, NULL, NULL, NULL, 0);
        osev_afterselect(st->ctx, 0, NULL, NULL, NULL, -1);
    }
    if (b & 1)
        wp = NULL;
    if (b & 2)
        ep = NULL;
    r0 = rs, w0 = ws, e0 = es, tv0 = tv, tv_set0 = tv_set, maxfd0 = maxfd;
    st->release_ok = true;
    r = osev_beforeselect(st->ctx, &maxfd, rp, wp, ep, &tv, &tv_set, now);
    st->release_ok = false;
    after_dispatch_point(st);
    for (int f = 0; f < NFD; f++) {
        short m = merged(st, f);

        high |= m && st->fds[f] >= FD_SETSIZE;
        need_w |= (m & POLLOUT) != 0;
        need_e |= (m & POLLPRI) != 0;
    }
    /* Our fds decide: osevent's own are never above FD_SETSIZE nor ask
     * for POLLOUT or POLLPRI.  Which error comes first is the order of
     * the array's slots. */
    if (high)
        CHECK(r == -EBADF || r == -EINVAL);
    else if ((need_w && !wp) || (need_e && !ep))
        CHECK(r == -EINVAL);
    else
        CHECK(r == 0);
    if (r < 0) { /* nothing written */
        CHECK(memcmp(&rs, &r0, sizeof rs) == 0 && tv_set == tv_set0 &&
              maxfd == maxfd0 && tv.tv_sec == tv0.tv_sec &&
              tv.tv_usec == tv0.tv_usec);
        if (wp)
            CHECK(memcmp(&ws, &w0, sizeof ws) == 0);
        if (ep)
            CHECK(memcmp(&es, &e0, sizeof es) == 0);
        return;
    }
    CHECK(FD_ISSET(FD_SETSIZE - 1, &rs));
    FD_CLR(FD_SETSIZE - 1, &rs);
    for (int f = 0; f < NFD; f++) {
        short m = merged(st, f);
        int fd = st->fds[f];

        if (fd >= FD_SETSIZE)
            continue;
        CHECK(!!FD_ISSET(fd, &rs) == !!(m & POLLIN));
        if (wp)
            CHECK(!!FD_ISSET(fd, &ws) == !!(m & POLLOUT));
        if (ep)
            CHECK(!!FD_ISSET(fd, &es) == !!(m & POLLPRI));
        if (m)
            CHECK(maxfd >= fd);
    }
    if (now) {
        /* Lowered to the next deadline in whole microseconds, rounded
         * up; 0 while work is pending. */
        osev_time e = earliest(st), left;
        int64_t us = -1;

        if (work_pending(st, &unsure))
            us = 0;
        else if (e != OSEV_TIME_INFINITY)
            left = e > now ? e - now : 0, us = left / 1000 + (left % 1000 != 0);
        if (trace)
            fprintf(stderr, "beforeselect: tv %s %ld.%06ld, model %lld us%s\n",
                    tv_set ? "set" : "unset", (long)tv.tv_sec,
                    (long)tv.tv_usec, (long long)us, unsure ? " (unsure)" : "");
        if (!unsure && (us < 0 || (tv_set0 && us >= 5000000)))
            CHECK(tv_set == tv_set0 && tv.tv_sec == tv0.tv_sec &&
                  tv.tv_usec == tv0.tv_usec);
        else if (!unsure)
            CHECK(tv_set && tv.tv_sec == (time_t)(us / 1000000) &&
                  tv.tv_usec == (suseconds_t)(us % 1000000));
    }
    st->sel_r = rs;
    st->sel_w = ws;
    st->sel_e = es;
    st->sel_has_w = wp != NULL;
    st->sel_has_e = ep != NULL;
    st->sel_maxfd = maxfd;
    st->sel_live = true;
    st->sel_tick = ++st->tick;
}

static void op_afterselect(struct state *st, uint8_t a, bool in_cb)
{
    fd_set rs = st->sel_r, ws = st->sel_w, es = st->sel_e;
    fd_set *wp = st->sel_has_w ? &ws : NULL, *ep = st->sel_has_e ? &es : NULL;
    int maxfd = st->sel_maxfd;
    osev_time now = pick_now(st, a >> 3);
    bool accept;

    if (a & 1) {
        struct timeval z = { 0, 0 };

        if (select(maxfd + 1, &rs, wp, ep, &z) < 0)
            return;
    } else {
        for (int f = 0; f < NFD; f++) {
            uint8_t c = next(st);

            if (st->fds[f] >= FD_SETSIZE)
                continue;
            if (!(c & 1))
                FD_CLR(st->fds[f], &rs);
            if (wp && !(c & 2))
                FD_CLR(st->fds[f], wp);
            if (ep && !(c & 4))
                FD_CLR(st->fds[f], ep);
        }
    }
    if (a & 2) /* look at fewer fds than were handed out */
        maxfd = (int)next(st) % (maxfd + 2);
    if (in_cb) {
        osev_afterselect(st->ctx, maxfd, &rs, wp, ep, now); /* ignored */
        return;
    }
    accept = st->sel_live;
    if (accept)
        pass_begin_given(st, now);
    else
        pass_none(st);
    if (accept)
        for (int f = 0; f < NFD; f++) {
            int fd = st->fds[f];
            short rev = 0;

            if (fd > maxfd || fd >= FD_SETSIZE)
                continue;
            if (FD_ISSET(fd, &rs))
                rev |= POLLIN;
            if (wp && FD_ISSET(fd, wp))
                rev |= POLLOUT;
            if (ep && FD_ISSET(fd, ep))
                rev |= POLLPRI;
            if (rev)
                mark(st, f, rev, st->sel_tick);
        }
    st->release_ok = accept;
    osev_afterselect(st->ctx, maxfd, &rs, wp, ep, now);
    st->release_ok = false;
    st->sel_live = false;
    pass_end_given(st, now, accept);
}

/* ---- the built-in loop ---- */

static void op_loop_once(struct state *st, uint8_t a, bool in_cb)
{
    osev_time dl;
    int r;

    if (in_cb) {
        CHECK(osev_loop_once(st->ctx, 0) == -EBUSY);
        CHECK(osev_dispatch(st->ctx) == -EBUSY);
        return;
    }
    if (a == 0xff)
        CHECK(osev_loop_once(NULL, 0) == -EINVAL &&
              osev_loop_once(st->ctx, -1) == -EINVAL &&
              osev_dispatch(NULL) == -EINVAL);
    marks_save(st);
    pass_begin(st, PASS_EXACT, osev_now());
    st->pass.real = true;
    mark_real(st, st->pass.tick);
    dl = a & 1 ? 0 : osev_now();
    st->release_ok = true;
    arm(st);
    r = a & 2 ? osev_dispatch(st->ctx) : osev_loop_once(st->ctx, dl);
    st->release_ok = false;
    st->pass.now_hi = osev_now();
    if (st->freed) {
        CHECK(r == -ESTALE);
        return;
    }
    if (r < 0 && r != -ETIMEDOUT) {
        /* The set or its buffer could not be made: no pass. */
        check_error(st, r);
        pass_failed(st);
        return;
    }
    after_dispatch_point(st);
    if (r == -ETIMEDOUT)
        CHECK(!(a & 2) && st->pass.observed == 0);
    else
        check_count(st, r);
    if (!(a & 2) && r >= 0)
        CHECK(r > 0);
    pass_end(st);
}

static void op_loop_run(struct state *st, uint8_t a, bool in_cb)
{
    int r;

    if (in_cb) {
        /* Refused, and a pending exit stays for the loop it was for. */
        if (st->in_loop_run)
            return;
        r = osev_loop_run(st->ctx);
        CHECK(r == -EBUSY);
        return;
    }
    if (a == 0xfe) /* (op_misc() passes a % 8 == 6) */
        CHECK(osev_loop_run(NULL) == -EINVAL);
    if (!st->exit_pending) {
        /* Ended by a deferred osev_loop_exit() in its first pass. */
        if (st->ndefer == NQ)
            return;
        arm(st);
        r = osev_defer(st->ctx, defer_exit_cb, arg_of(st->ndefer));
        if (r < 0) {
            check_error(st, r);
            return;
        }
        st->ndefer++;
        ++st->tick;
        marks_save(st);
        pass_begin(st, PASS_EXACT, osev_now());
        st->pass.real = true;
        mark_real(st, st->pass.tick);
    } else {
        pass_none(st);
    }
    st->in_loop_run = true;
    st->release_ok = !st->exit_pending;
    arm(st);
    r = osev_loop_run(st->ctx);
    st->release_ok = false;
    st->in_loop_run = false;
    st->pass.now_hi = osev_now();
    if (st->freed) {
        CHECK(r == -ESTALE);
        return;
    }
    if (r < 0) {
        check_error(st, r);
        pass_failed(st);
        return;
    }
    CHECK(st->exit_pending && r == st->exit_code);
    st->exit_pending = false;
    pass_end(st);
    st->pass.mode = PASS_NONE;
}

/* ---- signals ---- */

static int pick_signo(uint8_t a)
{
    static const int sigs[] = { SIGUSR1, SIGUSR2, SIGURG };

    return sigs[a % 3];
}

static int watchers(const struct state *st, int signo)
{
    int n = 0;

    for (int i = 0; i < st->nobj; i++)
        n += st->obj[i].kind == OBJ_SIGNAL && live(&st->obj[i]) &&
             st->obj[i].signo == signo;
    return n;
}

static bool urg_pending(void)
{
    sigset_t set;

    return sigpending(&set) == 0 && sigismember(&set, SIGURG) == 1;
}

static void op_signal_add(struct state *st, uint8_t a)
{
    int slot = (a >> 2) % NS, signo = pick_signo(a), i, r;
    osev_signal *h = (osev_signal *)&poison;

    if (st->s[slot] >= 0)
        return;
    if (a >= 0xf0) {
        static const int bad[] = { 0, SIGKILL, SIGSTOP, SIGSEGV, SIGBUS,
                                   SIGFPE, SIGILL, NSIG, -1, 65 };

        for (unsigned k = 0; k < sizeof bad / sizeof bad[0]; k++)
            CHECK(osev_signal_add(st->ctx, bad[k], signal_cb, NULL, &h) ==
                  -EINVAL);
        CHECK(osev_signal_add(NULL, SIGUSR1, signal_cb, NULL, &h) == -EINVAL);
        CHECK(osev_signal_add(st->ctx, SIGUSR1, NULL, NULL, &h) == -EINVAL);
        CHECK(osev_signal_add(st->ctx, SIGUSR1, signal_cb, NULL, NULL) ==
              -EINVAL);
        CHECK(h == (osev_signal *)&poison);
        osev_signal_remove(NULL);
        return;
    }
    i = obj_new(st, OBJ_SIGNAL);
    if (i < 0)
        return;
    arm(st);
    r = osev_signal_add(st->ctx, signo, signal_cb, arg_of(i), &h);
    if (r < 0) {
        check_error(st, r);
        CHECK(h == (osev_signal *)&poison);
        obj_drop(st, i);
        return;
    }
    st->had_sigchild = true;
    st->obj[i].h = h;
    st->obj[i].signo = signo;
    st->obj[i].born = ++st->tick;
    st->obj[i].slot = slot;
    /* A signal caught before, not yet read, may reach it. */
    st->obj[i].may = st->hub_pending[signo] ||
                     (signo == SIGURG && urg_pending());
    st->obj[i].must = false;
    st->s[slot] = i;
}

static void op_signal_remove(struct state *st, uint8_t a)
{
    int i = st->s[a % NS];
    struct obj *o;

    if (i < 0)
        return;
    o = &st->obj[i];
    osev_signal_remove(o->h);
    if (a & 0x80)
        osev_signal_remove(o->h);
    o->removed = true;
    st->s[a % NS] = -1;
    o->slot = -1;
    if (watchers(st, o->signo) == 0)
        st->hub_pending[o->signo] = false;
}

/* Arrivals coalesce when osevent reads them together, which the model
 * does not see: each allows one more call. */
static void signal_may(struct state *st, struct obj *o)
{
    (void)st;
    if (o->may < 4)
        o->may++;
}

/* ---- the second context ---- */

/* One pass of it; each signal raised before reaches its watches. */
static void ctx2_dispatch(struct state *st)
{
    struct pass saved = st->pass;
    int r;

    st->pass = (struct pass){ .mode = PASS_LENIENT, .tick = ++st->tick };
    st->in_ctx2 = true;
    r = osev_dispatch(st->ctx2);
    st->in_ctx2 = false;
    CHECK(r >= st->pass.observed);
    for (int i = 0; i < st->nobj; i++) {
        const struct obj *o = &st->obj[i];

        if (o->kind == OBJ_SIGNAL && o->ctxi == 1 && live(o) &&
            o->born < st->pass.tick)
            CHECK(!(o->must && o->must_tick < st->pass.tick));
    }
    st->pass = saved;
}

static void ctx2_free(struct state *st)
{
    if (!st->ctx2)
        return;
    osev_ctx_free(st->ctx2);
    st->ctx2 = NULL;
    for (int i = 0; i < st->nobj; i++)
        if (st->obj[i].kind == OBJ_SIGNAL && st->obj[i].ctxi == 1)
            st->obj[i].removed = true;
    for (int k = 0; k < NS2; k++)
        st->s2[k] = -1;
    for (int signo = 0; signo < 65; signo++)
        if (watchers(st, signo) == 0)
            st->hub_pending[signo] = false;
}

static void op_ctx2(struct state *st, uint8_t b)
{
    int slot = (b >> 2) % NS2, signo = pick_signo(b >> 4), i;
    osev_signal *h = (osev_signal *)&poison;

    if (!st->ctx2) {
        if (osev_ctx_new(NULL, &st->ctx2) < 0)
            abort();
        return;
    }
    switch (b % 4) {
    case 0:
        ctx2_free(st);
        break;
    case 1:
        if (st->s2[slot] >= 0 || (i = obj_new(st, OBJ_SIGNAL)) < 0)
            break;
        CHECK(osev_signal_add(st->ctx2, signo, signal_cb, arg_of(i), &h) == 0);
        st->obj[i].h = h;
        st->obj[i].ctxi = 1;
        st->obj[i].signo = signo;
        st->obj[i].born = ++st->tick;
        st->obj[i].slot = slot;
        st->obj[i].may = st->hub_pending[signo] ||
                         (signo == SIGURG && urg_pending());
        st->s2[slot] = i;
        break;
    case 2:
        if ((i = st->s2[slot]) < 0)
            break;
        osev_signal_remove(st->obj[i].h);
        st->obj[i].removed = true;
        st->obj[i].slot = -1;
        st->s2[slot] = -1;
        if (watchers(st, st->obj[i].signo) == 0)
            st->hub_pending[st->obj[i].signo] = false;
        break;
    default:
        ctx2_dispatch(st);
        break;
    }
}

static void signal_arrives(struct state *st, int signo)
{
    if (watchers(st, signo) == 0)
        return;
    st->hub_pending[signo] = true;
    for (int i = 0; i < st->nobj; i++) {
        struct obj *o = &st->obj[i];

        if (o->kind == OBJ_SIGNAL && live(o) && o->signo == signo) {
            signal_may(st, o);
            if (!o->must)
                o->must_tick = ++st->tick;
            o->must = true;
        }
    }
}

static void op_raise(struct state *st, uint8_t a)
{
    int signo = pick_signo(a);
    sigset_t set;

    if (a & 0x80) {
        /* SIGURG's default is to be ignored: safe to block, unblock and
         * raise with or without a watch. */
        sigemptyset(&set);
        sigaddset(&set, SIGURG);
        if (st->urg_blocked) {
            bool pending = urg_pending();

            sigprocmask(SIG_UNBLOCK, &set, NULL);
            st->urg_blocked = false;
            if (pending)
                signal_arrives(st, SIGURG);
        } else {
            sigprocmask(SIG_BLOCK, &set, NULL);
            st->urg_blocked = true;
        }
        return;
    }
    /* Only a watched signal: the others would end the process. */
    if (signo != SIGURG && watchers(st, signo) == 0)
        return;
    if (trace)
        fprintf(stderr, "raise %d (%d watches)%s\n", signo,
                watchers(st, signo), st->urg_blocked ? " urg blocked" : "");
    raise(signo);
    if (signo == SIGURG && st->urg_blocked) {
        for (int i = 0; i < st->nobj; i++)
            if (st->obj[i].kind == OBJ_SIGNAL && live(&st->obj[i]) &&
                st->obj[i].signo == SIGURG)
                signal_may(st, &st->obj[i]);
        return;
    }
    signal_arrives(st, signo);
}

/* ---- children ---- */

/* A child that exits with @code at once, or is killed by SIGKILL when
 * @code is -1.  vfork(): no page tables to copy, and the parent goes on
 * only once the child has exited, so its exit is at the same point of
 * every replay. */
static pid_t spawn_exit(int code)
{
    pid_t pid = vfork();

    if (pid == 0) {
        if (code < 0)
            kill(getpid(), SIGKILL);
        _exit(code & 0x7f);
    }
    return pid;
}

/* A child that waits for a line on a pipe, then exits with @code: its
 * exit comes while osevent watches it.  A shell, spawned (vfork and
 * exec): a fork() of this process would copy all that ASan maps. */
static pid_t spawn_waiting(int code, int *hold)
{
    static char sh[] = "sh", opt[] = "-c";
    char script[32];
    char *argv[] = { sh, opt, script, NULL };
    posix_spawn_file_actions_t fa;
    int p[2], r;
    pid_t pid;

    snprintf(script, sizeof script, "read x; exit %d", code);
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[0], 0);
    r = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[0]);
    if (r != 0) {
        close(p[1]);
        return -1;
    }
    *hold = p[1];
    return pid;
}

/* Let a waiting child exit, and wait until it has (without reaping). */
static void child_let_go(struct state *st, struct obj *o)
{
    siginfo_t si;

    if (o->hold < 0)
        return;
    if (write(o->hold, "x\n", 2) < 0)
        (void)0;
    close(o->hold);
    o->hold = -1;
    memset(&si, 0, sizeof si);
    if (o->reaped || waitid(P_PID, (id_t)o->pid, &si, WEXITED | WNOWAIT) == 0)
        o->exited = true;
    o->exit_tick = ++st->tick;
}

static void op_child_add(struct state *st, uint8_t a)
{
    int slot = a % NC, i, r;
    osev_child *h = (osev_child *)&poison;
    siginfo_t si;
    pid_t pid;

    if (a >= 0xf8) {
        CHECK(osev_child_add(st->ctx, 0, child_cb, NULL, &h) == -EINVAL);
        CHECK(osev_child_add(NULL, 1, child_cb, NULL, &h) == -EINVAL);
        CHECK(osev_child_add(st->ctx, 1, NULL, NULL, &h) == -EINVAL);
        CHECK(osev_child_add(st->ctx, 1, child_cb, NULL, NULL) == -EINVAL);
        arm(st);
        r = osev_child_add(st->ctx, getpid(), child_cb, NULL, &h);
        CHECK(r == -ECHILD || (r == -ENOMEM && st->alloc_failed));
        CHECK(h == (osev_child *)&poison);
        osev_child_remove(NULL);
        return;
    }
    if (st->c[slot] >= 0 || st->nforks == NC)
        return;
    i = obj_new(st, OBJ_CHILD);
    if (i < 0)
        return;
    st->obj[i].hold = -1;
    if ((a & 0xc0) == 0xc0) {
        st->obj[i].code = a >> 3 & 7;
        pid = spawn_waiting(st->obj[i].code, &st->obj[i].hold);
    } else {
        st->obj[i].code = (a >> 3 & 7) == 7 ? -1 : a >> 3 & 7;
        pid = spawn_exit(st->obj[i].code);
    }
    if (pid < 0) {
        obj_drop(st, i);
        return;
    }
    st->nforks++;
    st->obj[i].pid = pid;
    if (st->obj[i].hold < 0) {
        /* Exited: wait for it without reaping, to be sure. */
        memset(&si, 0, sizeof si);
        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) == 0)
            st->obj[i].exited = true;
    }
    arm(st);
    r = osev_child_add(st->ctx, pid, child_cb, arg_of(i), &h);
    if (r < 0) {
        int status;

        check_error(st, r);
        CHECK(h == (osev_child *)&poison);
        child_let_go(st, &st->obj[i]);
        CHECK(waitpid(pid, &status, 0) == pid);
        obj_drop(st, i);
        return;
    }
    st->had_sigchild = true;
    st->obj[i].h = h;
    st->obj[i].born = ++st->tick;
    st->obj[i].slot = slot;
    st->c[slot] = i;
    if (trace)
        fprintf(stderr, "  child %d watched%s\n", (int)pid,
                st->obj[i].hold >= 0 ? ", waiting" : "");
}

static void op_child_remove(struct state *st, uint8_t a)
{
    int i = st->c[a % NC], status;
    struct obj *o;

    if (i < 0)
        return;
    o = &st->obj[i];
    if ((a & 0x60) == 0x20) { /* a waiting child exits now */
        child_let_go(st, o);
        return;
    }
    if ((a & 0x40) && !st->sigchld_path && !o->removed && !o->reported &&
        !o->stolen) {
        /* Reap it under osevent (the pidfd path allows it): the exit is
         * then reported with status -1. */
        if (waitpid(o->pid, &status, WNOHANG) == o->pid)
            o->stolen = o->reaped = o->exited = true;
        return;
    }
    osev_child_remove(o->h);
    if (a & 0x80)
        osev_child_remove(o->h);
    o->removed = true;
    st->c[a % NC] = -1;
    o->slot = -1;
    if (!o->reaped) {
        /* Ours to reap now; osevent must not have. */
        child_let_go(st, o);
        CHECK(waitpid(o->pid, &status, 0) == o->pid || st->sigchld_path);
        o->reaped = true;
    }
}

/* ---- push mode ---- */

static void op_hooks(struct state *st, uint8_t a, bool in_cb)
{
    struct fake *f = &st->fake;
    struct osev_hooks h = fake_hooks;
    uint8_t big[sizeof h + 8] = { 0 };
    size_t size = sizeof h;
    const void *hp = &h;
    int r, before;

    if (a == 0xff) {
        h.fd_modify = NULL;
        CHECK(osev_set_hooks(st->ctx, &h, sizeof h, f) == -EINVAL);
        CHECK(osev_set_hooks(st->ctx, &fake_hooks, 8, f) == -EINVAL);
        CHECK(osev_set_hooks(NULL, NULL, 0, NULL) == -EINVAL);
        memcpy(big, &fake_hooks, sizeof h);
        big[sizeof h + 3] = 1;
        CHECK(osev_set_hooks(st->ctx, (void *)big, sizeof big, f) == -EINVAL);
        return;
    }
    if (f->on) {
        if (a & 1) {
            CHECK(osev_set_hooks(st->ctx, &fake_hooks, sizeof fake_hooks,
                                 f) == -EBUSY);
            return;
        }
        before = f->releases;
        CHECK(osev_set_hooks(st->ctx, NULL, 0, NULL) == 0);
        CHECK(f->nlive == 0 && !f->tmo_on);
        CHECK(f->releases == before + (f->has_release ? 1 : 0));
        f->on = false;
        return;
    }
    switch ((a >> 1) & 3) {
    case 0: /* without the optional release */
        size = offsetof(struct osev_hooks, release);
        break;
    case 1: /* a newer caller's struct: the tail is zero */
        memcpy(big, &fake_hooks, sizeof h);
        hp = big;
        size = sizeof big;
        break;
    default:
        break;
    }
    f->on = true;
    f->has_release = size > offsetof(struct osev_hooks, release);
    before = f->releases;
    arm(st);
    r = osev_set_hooks(st->ctx, hp, size, f);
    if (r < 0) {
        /* All or none. */
        check_error(st, r);
        CHECK(f->nlive == 0 && !f->tmo_on && f->releases == before);
        f->on = false;
        f->tmo_unsure = false;
        return;
    }
    for (int i = 0; i < NREG; i++)
        f->reg[i].wide = false;
    f->releases = 0; /* counted per set of hooks */
    (void)in_cb;
}

static void op_fake_knobs(struct state *st, uint8_t a)
{
    struct fake *f = &st->fake;

    if (a & 0x80) {
        f->reenter = !f->reenter;
        return;
    }
    f->fail_kind = a % 5;
    f->fail_in = (a >> 3) % 4;
}

/* ---- registry stats ---- */

/*
 * osev_get_registry_stats() against the model.  The watch counts (fds,
 * timers, signals, children) change only in the add and remove calls,
 * which the model follows one by one: they are exact anywhere.  So is
 * everything between operations, when no pass runs: a pass runs all the
 * due timers it collected and all the calls it took.  Inside a pass two
 * counts are only bounded, because the pass has taken work out of the
 * registry that the model still holds as not yet run:
 *  - armed_timers: the due timers collected at the pass's start left
 *    the heap, but the model sees one only when its callback runs, and
 *    which timers were due in the band between the pass's now and ours
 *    it cannot tell.  At most the timers armed and not yet fired; at
 *    least (in a pass the model follows exactly) those armed since the
 *    pass began or due after its now, which no collection took;
 *  - pending: the deferred and scheduled calls and event_occurs
 *    deliveries queued before the pass are its batch, no longer
 *    counted.  At most everything not yet run; at least (exact pass)
 *    what was queued since the pass began, which waits for the next.
 * A pass the model follows only leniently (several passes in one call)
 * gets the upper bounds alone.
 */
static void check_stats(struct state *st)
{
    struct osev_registry_stats rs;
    const struct pass *p = &st->pass;
    bool in_pass = st->cb_depth > 0, exact = p->mode == PASS_EXACT && !p->none;
    unsigned fds = 0, timers = 0, armed = 0, armed_lo = 0, sigs = 0;
    unsigned sigs2 = 0, kids = 0, pending, pending_lo = 0;
    osev_time pass_now = p->tnow_set ? p->tnow : osev_now();

    if (st->freed)
        return;
    for (int i = 0; i < st->nobj; i++) {
        const struct obj *o = &st->obj[i];

        if (!live(o))
            continue;
        switch (o->kind) {
        case OBJ_FD: fds++; break;
        case OBJ_TIMER:
            timers++;
            if (o->deadline == OSEV_TIME_INFINITY)
                break;
            armed++;
            if (exact && (o->armed > p->tick || o->deadline > pass_now))
                armed_lo++;
            break;
        case OBJ_SIGNAL: *(o->ctxi ? &sigs2 : &sigs) += 1; break;
        default: kids++; break;
        }
    }
    pending = (unsigned)(st->ndefer - st->defer_ran + st->nsched -
                         st->sched_ran);
    for (int i = 0; i < NE; i++) {
        if (st->ev[i].state != EV_OCCUR)
            continue;
        pending++;
        if (exact && st->ev[i].tick > p->tick)
            pending_lo++;
    }
    if (exact)
        pending_lo += (unsigned)(st->ndefer - p->defer_limit + st->nsched -
                                 p->sched_limit);
    memset(&rs, 0xa5, sizeof rs);
    rs.size = sizeof rs;
    CHECK(osev_get_registry_stats(st->ctx, &rs) == 0);
    if (trace)
        fprintf(stderr, "  stats%s: fds %u/%u timers %u/%u armed %u/%u..%u "
                "signals %u/%u children %u/%u pending %u/%u..%u\n",
                in_pass ? " in pass" : "", rs.fds, fds, rs.timers, timers,
                rs.armed_timers, armed_lo, armed, rs.signals, sigs,
                rs.children, kids, rs.pending, pending_lo, pending);
    CHECK(rs.size == sizeof rs);
    CHECK(rs.fds == fds && rs.timers == timers);
    CHECK(rs.signals == sigs && rs.children == kids);
    if (in_pass) {
        CHECK(rs.armed_timers <= armed && rs.armed_timers >= armed_lo);
        CHECK(rs.pending <= pending && rs.pending >= pending_lo);
    } else {
        CHECK(rs.armed_timers == armed && rs.pending == pending);
    }
    if (st->ctx2) { /* signal watches only, never dispatched from here */
        memset(&rs, 0, sizeof rs);
        rs.size = sizeof rs;
        CHECK(osev_get_registry_stats(st->ctx2, &rs) == 0);
        CHECK(rs.signals == sigs2 && rs.fds == 0 && rs.timers == 0 &&
              rs.armed_timers == 0 && rs.children == 0 && rs.pending == 0);
    }
}

/* Its arguments: a newer caller's struct keeps its tail, a short one
 * (or a NULL) is refused and left as it was. */
static void check_stats_args(struct state *st)
{
    struct osev_registry_stats rs;
    uint8_t big[sizeof rs + 8];

    memset(big, 0x5a, sizeof big);
    rs.size = sizeof big;
    memcpy(big, &rs.size, sizeof rs.size);
    CHECK(osev_get_registry_stats(st->ctx, (void *)big) == 0);
    memcpy(&rs, big, sizeof rs);
    CHECK(rs.size == sizeof rs);
    for (size_t i = sizeof rs; i < sizeof big; i++)
        CHECK(big[i] == 0x5a);
    for (size_t size = 0; size < sizeof rs; size += sizeof rs.size) {
        memset(&rs, 0x5a, sizeof rs);
        rs.size = size;
        CHECK(osev_get_registry_stats(st->ctx, &rs) == -EINVAL);
        CHECK(rs.size == size && rs.fds == 0x5a5a5a5au);
    }
    rs.size = sizeof rs - 1;
    CHECK(osev_get_registry_stats(st->ctx, &rs) == -EINVAL);
    rs.size = sizeof rs;
    CHECK(osev_get_registry_stats(NULL, &rs) == -EINVAL);
    CHECK(osev_get_registry_stats(st->ctx, NULL) == -EINVAL);
}

/* ---- the rest ---- */

static void check_deadline(struct state *st)
{
    osev_time d = -1, e = earliest(st);
    bool unsure, pending = work_pending(st, &unsure);

    CHECK(osev_get_deadline(st->ctx, &d) == 0);
    CHECK(osev_get_deadline(st->ctx, NULL) == -EINVAL);
    CHECK(osev_get_deadline(NULL, &d) == -EINVAL);
    if (unsure)
        CHECK(d == 0 || d == e);
    else
        CHECK(d == (pending ? 0 : e));
}

/* The aggregate fd is readable while there is work. */
static void check_aggregate(struct state *st)
{
    struct pollfd p;
    bool unsure, must = work_pending(st, &unsure) && !unsure;
    osev_time now = osev_now();
    int fd;

    if (!st->aggregate)
        return;
    if (earliest(st) <= now)
        must = true;
    for (int f = 0; f < NFD; f++)
        if (merged(st, f) & readiness(st->fds[f]))
            must = true;
    fd = osev_get_fd(st->ctx);
    CHECK(fd >= 0);
    p = (struct pollfd){ .fd = fd, .events = POLLIN };
    CHECK(poll(&p, 1, 0) >= 0);
    if (must)
        CHECK(p.revents & POLLIN);
}

static void op_misc(struct state *st, uint8_t a, bool in_cb)
{
    struct osev_hook_stats hs;

    switch (a % 8) {
    case 0:
        if (!in_cb)
            check_deadline(st);
        break;
    case 1:
        arm(st);
#ifdef OSEV_LINUX_APIS
        if (osev_get_fd(st->ctx) >= 0)
            st->aggregate = true;
        else
            CHECK(st->alloc_failed);
#else
        CHECK(osev_get_fd(st->ctx) == -ENOSYS); /* no aggregate fd */
#endif
        CHECK(osev_get_fd(NULL) == -EINVAL);
        break;
    case 2:
        osev_wakeup(st->ctx);
        osev_wakeup(NULL);
        break;
    case 3:
        osev_loop_exit(st->ctx, a >> 3);
        osev_loop_exit(NULL, 0);
        st->exit_pending = true;
        st->exit_code = a >> 3;
        break;
    case 4: {
        static const int codes[] = { 0, EINVAL, ENOMEM, ENOBUFS, EAGAIN,
                                     ETIMEDOUT, EBADF, EBUSY, ESTALE, EIO,
                                     EPERM, 4095, -1 };
        int code = codes[(a >> 3) % 13];

        CHECK(osev_strerror(-code) != NULL && osev_strerror(code) != NULL);
        CHECK(osev_strerror(INT_MAX) != NULL);
        break;
    }
    case 5:
        memset(&hs, 0, sizeof hs);
        hs.size = (a & 8) ? offsetof(struct osev_hook_stats, fd_registers)
                          : sizeof hs + 8;
        CHECK(osev_get_hook_stats(st->ctx, &hs) == 0);
        hs.size = 1;
        CHECK(osev_get_hook_stats(st->ctx, &hs) == -EINVAL);
        CHECK(osev_get_hook_stats(NULL, &hs) == -EINVAL);
        CHECK(osev_get_hook_stats(st->ctx, NULL) == -EINVAL);
        /* The registry's too, from inside a pass as well. */
        check_stats(st);
        check_stats_args(st);
        break;
    case 6:
        op_loop_run(st, a, in_cb);
        break;
    default:
        /* Fail the Nth allocation from now. */
        if (st->custom_alloc)
            st->fail_at = (a >> 3) % 8;
        break;
    }
}

/* Readiness the harness makes: data in a pipe or the eventfd. */
static void op_io(struct state *st, uint8_t a)
{
    char buf[64];
    uint64_t one = 1;

    switch (a % 4) {
    case 0:
        if (write(st->fds[3], "x", 1) < 0)
            (void)0;
        break;
    case 1:
        if (write(st->fds[5], "yy", 2) < 0)
            (void)0;
        break;
    case 2:
        while (read(st->fds[a & 4 ? 2 : 4], buf, sizeof buf) > 0)
            ;
        break;
    default:
        if (a & 4) {
            if (write(st->fds[6], &one, sizeof one) < 0)
                (void)0;
        } else if (read(st->fds[6], &one, sizeof one) < 0) {
            (void)0;
        }
        break;
    }
}

static bool quiescent(struct state *st, osev_time start, bool final)
{
    bool q = st->defer_ran == st->ndefer && st->sched_ran == st->nsched;

    for (int i = 0; i < NE; i++)
        if (st->ev[i].state == EV_OCCUR && hooked(st, st->ev[i].type))
            q = false;
    for (int i = 0; i < st->nobj; i++) {
        const struct obj *o = &st->obj[i];

        if (!live(o)) {
            if ((o->kind == OBJ_FD || o->kind == OBJ_TIMER) && o->removed &&
                o->released != (o->has_release ? 1 : 0))
                q = false;
            continue;
        }
        if (o->kind == OBJ_TIMER && o->deadline <= start)
            q = false;
        if (o->kind == OBJ_FD && o->exp)
            q = false;
        if (o->kind == OBJ_SIGNAL && o->must)
            q = false;
        if (o->kind == OBJ_CHILD && o->exited && !o->reported)
            q = false;
    }
    if (final && !q) {
        CHECK(st->defer_ran == st->ndefer);
        CHECK(st->sched_ran == st->nsched);
        for (int i = 0; i < st->nobj; i++) {
            const struct obj *o = &st->obj[i];

            CHECK(!(live(o) && o->kind == OBJ_TIMER && o->deadline <= start));
            CHECK(!(live(o) && o->kind == OBJ_SIGNAL && o->must));
            CHECK(!(live(o) && o->kind == OBJ_CHILD && o->exited &&
                    !o->reported));
        }
        CHECK(q);
    }
    return q;
}

/* Liveness: a few turns of whatever drives the context, callbacks quiet,
 * and nothing may be left pending. */
static void drain(struct state *st)
{
    osev_time start = osev_now();
    int r;

    st->quiet = true;
    st->fail_at = -1;
    st->fake.fail_kind = FAIL_NONE;
    st->fake.reenter = false;
    for (int turn = 0; turn < 8 && !st->freed; turn++) {
        if (st->ctx2)
            ctx2_dispatch(st);
        if (st->fake.on) {
            fake_turn(st, 0, false);
        } else {
            pass_begin(st, PASS_EXACT, osev_now());
            st->pass.real = true;
            mark_real(st, st->pass.tick);
            st->release_ok = true;
            r = osev_dispatch(st->ctx);
            st->release_ok = false;
            st->pass.now_hi = osev_now();
            CHECK(r >= 0);
            check_count(st, r);
            pass_end(st);
        }
        if (!st->freed && quiescent(st, start, false))
            break;
    }
    st->quiet = false;
    if (!st->freed) {
        quiescent(st, start, true);
        if (st->fake.on)
            check_mirror(st);
        check_deadline(st);
        tnames_check_all(st);
    }
}

static void op_free(struct state *st, bool in_cb)
{
    /* Fault (b): an event handed to a waiter leaks when a callback frees
     * the context; not while one waits and got one. */
    if (st->waiter.active && st->waiter.got >= 0)
        return;
    if (!in_cb)
        return;
    /* Our events need the context to be freed. */
    for (int i = 0; i < NE; i++)
        if (st->ev[i].state == EV_OWNED || st->ev[i].state == EV_HELD) {
            osev_event_free(st->ctx, st->ev[i].ev);
            st->ev[i].state = EV_FREE;
        }
    st->freed = true;
    osev_ctx_free(st->ctx);
}

static void step(struct state *st, bool in_cb)
{
    uint8_t op = next(st), a = next(st);

    if (trace)
        fprintf(stderr, "%s@%zu op %d a 0x%02x\n", in_cb ? "    cb " : "",
                st->pos - 2, op % 30, a);
    if (!in_cb && !(op % 30 == 15 && (a & 1)))
        st->pull_clean = false;

    switch (op % 30) {
    case 0: case 1: op_fd_add(st, a, in_cb); break;
    case 2: op_fd_modify(st, a, in_cb); break;
    case 3: op_fd_remove(st, a, in_cb); break;
    case 4: op_timer_add(st, a); break;
    case 5: op_timer_set(st, a, in_cb); break;
    case 6: op_timer_remove(st, a, in_cb); break;
    case 7: op_defer(st, a); break;
    case 8: op_schedule(st, a); break;
    case 9: op_event_post(st, a); break;
    case 10: op_event_check(st, a); break;
    case 11: op_event_owned(st, a); break;
    case 12: op_event_wait(st, a, in_cb); break;
    case 13: op_event_hooks(st, a, in_cb); break;
    case 14:
        if (a & 0x80)
            op_evtype(st, a);
        else
            op_disaster(st, a);
        break;
    case 15:
        if (a & 1)
            op_afterpoll(st, next(st), in_cb);
        else
            op_beforepoll(st, next(st), in_cb);
        break;
    case 16:
        if (a & 1)
            op_afterselect(st, next(st), in_cb);
        else
            op_beforeselect(st, next(st), in_cb);
        break;
    case 17: case 18: op_loop_once(st, a, in_cb); break;
    case 19: op_hooks(st, a, in_cb); break;
    case 20: case 21:
        /* Fault-free path only in passes we follow exactly: marks made
         * from a lenient pass's callback would be lost to the model. */
        if (!(in_cb && st->pass.mode != PASS_EXACT))
            fake_turn(st, a, in_cb);
        break;
    case 22:
        if (!(in_cb && st->pass.mode != PASS_EXACT))
            fake_bad_reports(st, a, in_cb);
        break;
    case 23: op_fake_knobs(st, a); break;
    case 24: op_signal_add(st, a); break;
    case 25:
        if ((a & 0x60) == 0x60 && !in_cb)
            op_ctx2(st, next(st));
        else
            op_signal_remove(st, a);
        break;
    case 26: op_raise(st, a); break;
    case 27:
        if (a & 1)
            op_child_remove(st, next(st));
        else
            op_child_add(st, next(st));
        break;
    case 28:
        if (a == 0x5a) {
            /* Rare: a callback frees the context; a drain at top level. */
            if (in_cb)
                op_free(st, true);
            else
                drain(st);
        } else if ((a & 1) && !in_cb) {
            op_io(st, next(st));
        } else {
            op_misc(st, next(st), in_cb);
        }
        break;
    default:
        if (!in_cb)
            drain(st);
        else
            op_misc(st, a, true);
        break;
    }
    if (!in_cb && !st->freed) {
        /* Between operations: the structural checks. */
        if (st->fake.on)
            check_mirror(st);
        if (!(op % 7))
            check_aggregate(st);
        check_stats(st);
    }
}

/* ------------------------------------------------------------------ */
/* One input                                                           */
/* ------------------------------------------------------------------ */

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void open_fds(struct state *st)
{
    int p[2];

    st->fds[0] = open("/dev/null", O_RDWR | O_CLOEXEC);
    st->fds[1] = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0)
        st->fds[2] = p[0], st->fds[3] = p[1];
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0)
        st->fds[4] = p[0], st->fds[5] = p[1];
    st->fds[6] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    /* An fd select() cannot hold, when the limit allows one. */
    st->fds[7] = fcntl(st->fds[0], F_DUPFD_CLOEXEC, FD_SETSIZE + 3);
    if (st->fds[7] < 0)
        st->fds[7] = open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int i = 0; i < NFD; i++)
        if (st->fds[i] < 0)
            abort(); /* the harness itself cannot run */
}

/* The context's end, whoever freed it: everything released once, the
 * hooks let go, nothing left behind. */
static void check_end(struct state *st)
{
    struct fake *f = &st->fake;

    for (int i = 0; i < st->nobj; i++) {
        const struct obj *o = &st->obj[i];

        if (o->kind == OBJ_FD || o->kind == OBJ_TIMER)
            CHECK(o->released == (o->has_release ? 1 : 0));
    }
    for (int i = 0; i < st->nsched; i++)
        CHECK(st->sched[i].ran + st->sched[i].released ==
              (st->sched[i].ran || st->sched[i].has_release ? 1 : 0));
    if (f->on) {
        CHECK(f->nlive == 0 && !f->tmo_on);
        CHECK(f->releases == (f->has_release ? 1 : 0));
    }
    if (st->custom_alloc)
        CHECK(st->allocs == 0);
}

static void header(struct state *st)
{
    uint8_t h = next(st);

    st->flags = (h & 1 ? OSEV_CTX_BACKEND_POLL : 0) |
                (h & 2 ? OSEV_CTX_SINGLE_THREAD : 0);
    st->custom_alloc = !(h & 4);
    st->sigchld_path = (h & 0x18) == 0x18;
    st->pipe_path = (h & 0x60) == 0x60;
#ifndef OSEV_LINUX_APIS
    /* no pidfd, no signalfd: these paths are the only ones */
    st->sigchld_path = st->pipe_path = true;
#endif
    if (st->sigchld_path)
        setenv("OSEV_CHILD_BACKEND", "sigchld", 1);
    if (st->pipe_path)
        setenv("OSEV_SIGNAL_BACKEND", "pipe", 1);
    if (h == 0x80)
        setenv("OSEV_BACKEND", "poll", 1);
}

/* A new context's one entry is its wakeup fd: the first pull round
 * names it (and stays the round afterpoll may answer). */
static void find_wake_fd(struct state *st)
{
    int n = 1, timeout = -1;

    CHECK(osev_beforepoll(st->ctx, &n, st->pfds, &timeout, 0) == 0);
    CHECK(n == 1 && st->pfds[0].events == POLLIN && timeout == -1);
    st->wake_fd = st->pfds[0].fd;
    st->pull_n = 1;
    st->pull_live = true;
    st->pull_tick = ++st->tick;
}

static int ctx_make(struct state *st)
{
    struct osev_ctx_opts o = {
        .size = sizeof o,
        .flags = st->flags,
        .realloc_fn = st->custom_alloc ? fuzz_realloc : NULL,
        .alloc_user = st,
    };
    uint8_t big[sizeof o + 8] = { 0 };
    size_t big_size = sizeof big;
    uint8_t b = next(st);
    osev_ctx *ctx = (osev_ctx *)&poison;
    int r;

    if (b == 0xff) {
        o.flags = 0x80;
        CHECK(osev_ctx_new(&o, &ctx) == -EINVAL);
        o.flags = st->flags;
        o.size = 4;
        CHECK(osev_ctx_new(&o, &ctx) == -EINVAL);
        o.size = sizeof o;
        memcpy(big, &o, sizeof o);
        memcpy(big, &big_size, sizeof big_size);
        big[sizeof o + 1] = 1;
        CHECK(osev_ctx_new((void *)big, &ctx) == -EINVAL);
        CHECK(osev_ctx_new(NULL, NULL) == -EINVAL);
        CHECK(ctx == (osev_ctx *)&poison);
    }
    if (st->custom_alloc && (b & 0xf0) == 0x80) {
        /* A context that cannot be made leaves nothing behind. */
        int fds = count_fds();

        st->fail_at = b & 7;
        arm(st);
        r = osev_ctx_new(&o, &ctx);
        if (r == 0) {
            osev_ctx_free(ctx);
        } else {
            CHECK(r == -ENOMEM && st->alloc_failed);
            CHECK(ctx == (osev_ctx *)&poison);
        }
        CHECK(st->allocs == 0 && count_fds() == fds);
        st->fail_at = -1;
    }
    if (!st->custom_alloc && (b & 1))
        return osev_ctx_new(st->flags ? &o : NULL, &st->ctx);
    /* A newer caller's struct, its tail zero. */
    memset(big, 0, sizeof big);
    memcpy(big, &o, sizeof o);
    memcpy(big, &big_size, sizeof big_size);
    return osev_ctx_new(b & 2 ? (void *)big : (void *)&o, &st->ctx);
}

static int run_one(const uint8_t *data, size_t size)
{
    static struct state state;
    struct state *st = &state;
    struct sigaction old[3], now;
    int fds_before = count_fds(), status;
    sigset_t urg;

    memset(st, 0, sizeof *st);
    st->in = data;
    st->len = size;
    st->fail_at = -1;
    st->removing = -1;
    st->waiter.got = -1;
    st->fake.fail_kind = FAIL_NONE;
    for (int i = 0; i < NW; i++)
        st->w[i] = -1;
    for (int i = 0; i < NT; i++)
        st->t[i] = -1;
    for (int i = 0; i < NS; i++)
        st->s[i] = -1;
    for (int i = 0; i < NS2; i++)
        st->s2[i] = -1;
    for (int i = 0; i < NC; i++)
        st->c[i] = -1;
    cur = st;
    trace = getenv("OSEV_FUZZ_TRACE") != NULL;
    for (int i = 0; i < 3; i++)
        sigaction(pick_signo((uint8_t)i), NULL, &old[i]);
    header(st);
    if (trace)
        fprintf(stderr, "flags %#x%s%s%s\n", st->flags,
                st->custom_alloc ? " custom-alloc" : "",
                st->sigchld_path ? " sigchld" : "",
                st->pipe_path ? " pipe" : "");
    open_fds(st);
    if (ctx_make(st) < 0)
        abort();
    find_wake_fd(st);

    while (st->pos < st->len && !st->freed) {
        if (st->in[st->pos] == 0xfe && st->pos + 1 < st->len &&
            st->in[st->pos + 1] == 0xfe)
            break; /* an explicit end: free at top level */
        step(st, false);
    }
    if (!st->freed) {
        drain(st);
        if (!st->freed) {
            for (int i = 0; i < NE; i++)
                if (st->ev[i].state == EV_OWNED)
                    osev_event_free(st->ctx, st->ev[i].ev);
            st->freeing = true;
            st->release_ok = true;
            osev_ctx_free(st->ctx);
            st->release_ok = false;
        }
    }
    check_end(st);
    ctx2_free(st);

    /* Children osevent did not report are ours to reap. */
    for (int i = 0; i < st->nobj; i++) {
        struct obj *o = &st->obj[i];

        if (o->kind != OBJ_CHILD || o->reaped)
            continue;
        child_let_go(st, o);
        CHECK(waitpid(o->pid, &status, 0) == o->pid || st->sigchld_path ||
              st->freed);
    }
    /* No zombie left (libFuzzer has children of its own: ask by pid). */
    for (int i = 0; i < st->nobj; i++)
        if (st->obj[i].kind == OBJ_CHILD)
            CHECK(waitpid(st->obj[i].pid, &status, WNOHANG) < 0 &&
                  errno == ECHILD);
    /* Dispositions are back. */
    for (int i = 0; i < 3; i++) {
        sigaction(pick_signo((uint8_t)i), NULL, &now);
        CHECK(now.sa_handler == old[i].sa_handler);
    }
    if (st->urg_blocked) {
        struct timespec zero = { 0, 0 };

        sigemptyset(&urg);
        sigaddset(&urg, SIGURG);
        while (sigtimedwait(&urg, NULL, &zero) == SIGURG)
            ;
        sigprocmask(SIG_UNBLOCK, &urg, NULL);
    }
    for (int i = 0; i < NFD; i++)
        CHECK(fcntl(st->fds[i], F_GETFD) >= 0); /* never closed for us */
    for (int i = 0; i < NFD; i++)
        close(st->fds[i]);
    CHECK(count_fds() == fds_before);
    unsetenv("OSEV_CHILD_BACKEND");
    unsetenv("OSEV_SIGNAL_BACKEND");
    unsetenv("OSEV_BACKEND");
    cur = NULL;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Drivers                                                             */
/* ------------------------------------------------------------------ */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return run_one(data, size);
}

#ifndef OSEV_LIBFUZZER
static int replay_file(const char *path)
{
    static uint8_t buf[1 << 16];
    FILE *f = fopen(path, "rb");
    size_t n;

    if (!f) {
        perror(path);
        return -1;
    }
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    run_one(buf, n);
    return 0;
}

/* A file, or every file of a directory. */
static int replay_path(const char *path)
{
    struct dirent **names;
    struct stat sb;
    char file[4096];
    int n, done = 0;

    if (stat(path, &sb) < 0) {
        perror(path);
        return -1;
    }
    if (!S_ISDIR(sb.st_mode))
        return replay_file(path) < 0 ? -1 : 1;
    n = scandir(path, &names, NULL, alphasort);
    if (n < 0) {
        perror(path);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            snprintf(file, sizeof file, "%s/%s", path, names[i]->d_name);
            if (replay_file(file) == 0)
                done++;
        }
        free(names[i]);
    }
    free(names);
    return done;
}

/* Without arguments: the committed corpus, then pseudo-random inputs
 * from a fixed seed (OSEV_FUZZ_RUNS of them, 400 by default).  With
 * arguments: those files and directories only. */
int main(int argc, char **argv)
{
    const char *env = getenv("OSEV_FUZZ_RUNS");
    uint64_t x = 0x0fe5eedULL;
    int runs = env ? atoi(env) : 400, files = 0, n;
    uint8_t buf[2048];

    if (argc > 1) {
        for (int i = 1; i < argc; i++) {
            n = replay_path(argv[i]);
            if (n < 0)
                return 1;
            files += n;
        }
        printf("fuzz-registry: %d inputs replayed\n", files);
        return 0;
    }
#ifdef OSEV_FUZZ_CORPUS
    n = replay_path(OSEV_FUZZ_CORPUS);
    if (n < 0)
        return 1;
    files += n;
#endif
    for (int r = 0; r < runs; r++) {
        size_t len = 64 + (size_t)(r * 37) % (sizeof buf - 64);

        for (size_t i = 0; i < len; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            buf[i] = (uint8_t)(x >> 56);
        }
        if (getenv("OSEV_FUZZ_SAVE")) { /* the input about to run */
            FILE *f = fopen(getenv("OSEV_FUZZ_SAVE"), "wb");

            if (f) {
                fwrite(buf, 1, len, f);
                fclose(f);
            }
        }
        run_one(buf, len);
    }
    printf("fuzz-registry: %d corpus files and %d random inputs replayed\n",
           files, runs);
    return 0;
}
#endif
