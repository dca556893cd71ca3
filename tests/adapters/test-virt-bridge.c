/*
 * test-virt-bridge.c - an osevent context as libvirt's event
 * implementation (osev_virt_register_impl), driven by osevent's built-in
 * loop.
 *
 * libvirt's handles and timeouts are reached two ways: through libvirt's
 * public virEventAdd/Update/Remove* calls, which land in the bridge, and
 * through a real libvirt connection to its test driver (test:///default,
 * inside libvirt.so: no daemon), whose domain lifecycle events libvirt
 * delivers from a timer it registers.
 *
 * libvirt's implementation is process-global and cannot be unregistered:
 * each test registers its own context and frees it at the end, which the
 * bridge supports (a freed context is forgotten, the next one takes its
 * place), so the tests run the same forked (each in a fresh process) and
 * with CK_FORK=no (one after another in one process).
 */
#include "testutil.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "osevent-virt.h"

static osev_ctx *bridge_new(void)
{
    osev_ctx *ctx = tu_ctx_new();

    ck_assert_osev_ok(osev_virt_register_impl(ctx));
    return ctx;
}

/* Run a dispatch pass without blocking: the release point of anything
 * removed since the last one. */
static void settle(osev_ctx *ctx)
{
    ck_assert_int_ge(osev_dispatch(ctx), 0);
}

static osev_time deadline_of(osev_ctx *ctx)
{
    osev_time d;

    ck_assert_osev_ok(osev_get_deadline(ctx, &d));
    return d;
}

/* Dispatch in the built-in loop until @done holds, for at most 5 s. */
#define LOOP_UNTIL(ctx, done)                                                \
    do {                                                                     \
        osev_time until_ = osev_now() + osev_s(5);                           \
        while (!(done)) {                                                    \
            ck_assert_msg(osev_now() < until_, "timed out: %s", #done);      \
            ck_assert_int_ge(osev_loop_once((ctx), until_), 0);              \
        }                                                                    \
    } while (0)

/* ---- a free callback that must run from a clean stack ---- */

struct freed {
    int calls;
    bool in_remove; /* set around virEventRemove*: ff must not run there */
};

static void ff_count(void *opaque)
{
    struct freed *F = opaque;

    ck_assert_msg(!F->in_remove, "ff ran inside virEventRemove*");
    F->calls++;
}

/* @remove (virEventRemoveHandle or virEventRemoveTimeout) on @id, with
 * F->in_remove set around it: ff must not run from inside. */
static int remove_flagged(struct freed *F, int (*remove)(int), int id)
{
    int r;

    F->in_remove = true;
    r = remove(id);
    F->in_remove = false;
    return r;
}

static void never_timer(int timer, void *opaque)
{
    (void)timer, (void)opaque;
    ck_abort_msg("a disabled timeout fired");
}

/* ---- registration ---- */

/* One context at a time; a freed context is forgotten (libvirt's calls
 * then fail, its registrations' free callbacks ran), and another may take
 * its place.  Ids keep growing across contexts. */
START_TEST(register_once_then_replace_freed)
{
    osev_ctx *ctx1 = bridge_new(), *ctx2 = tu_ctx_new();
    struct freed F = { 0 };
    int id1, id2;

    ck_assert_osev_err(osev_virt_register_impl(NULL), -EINVAL);
    ck_assert_osev_err(osev_virt_register_impl(ctx1), -EBUSY);
    ck_assert_osev_err(osev_virt_register_impl(ctx2), -EBUSY);

    id1 = virEventAddTimeout(-1, never_timer, &F, ff_count);
    ck_assert_int_gt(id1, 0);
    osev_ctx_free(ctx1); /* under libvirt's feet: its ff runs here */
    ck_assert_int_eq(F.calls, 1);
    ck_assert_int_eq(virEventAddTimeout(-1, never_timer, &F, NULL), -1);
    ck_assert_int_eq(virEventRemoveTimeout(id1), -1);

    ck_assert_osev_ok(osev_virt_register_impl(ctx2));
    id2 = virEventAddTimeout(-1, never_timer, &F, ff_count);
    ck_assert_int_gt(id2, id1);
    ck_assert_int_eq(remove_flagged(&F, virEventRemoveTimeout, id2), 0);
    settle(ctx2);
    ck_assert_int_eq(F.calls, 2);
    osev_ctx_free(ctx2);
    ck_assert_int_eq(F.calls, 2);
}
END_TEST

/* ---- handles ---- */

struct handle_seen {
    struct freed F; /* first: the opaque is ff_count's too */
    int calls, watch, fd, events;
    bool remove_on_hangup;
};

static void on_handle(int watch, int fd, int events, void *opaque)
{
    struct handle_seen *H = opaque;
    char buf[16];

    H->calls++;
    H->watch = watch;
    H->fd = fd;
    H->events = events;
    if (events & VIR_EVENT_HANDLE_READABLE)
        while (read(fd, buf, sizeof buf) > 0)
            ;
    /* Its own handle, from its own callback. */
    if ((events & VIR_EVENT_HANDLE_HANGUP) && H->remove_on_hangup)
        ck_assert_int_eq(remove_flagged(&H->F, virEventRemoveHandle, watch), 0);
}

/* Events translated both ways, a mask of 0 polled for nothing, removal
 * from the handle's own callback with ff after it, and a removed id
 * forgotten for good. */
START_TEST(handles)
{
    osev_ctx *ctx = bridge_new();
    struct handle_seen H = { .remove_on_hangup = true };
    int sv[2], id, id2;

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
                     0);
    id = virEventAddHandle(sv[0], VIR_EVENT_HANDLE_READABLE, on_handle, &H,
                           ff_count);
    ck_assert_int_gt(id, 0);
    ck_assert_int_eq(tu_needed(ctx), 2); /* the wakeup fd, sv[0] */

    tu_write_byte(sv[1]);
    LOOP_UNTIL(ctx, H.calls == 1);
    ck_assert_int_eq(H.watch, id);
    ck_assert_int_eq(H.fd, sv[0]);
    ck_assert_int_eq(H.events, VIR_EVENT_HANDLE_READABLE);

    virEventUpdateHandle(id, VIR_EVENT_HANDLE_WRITABLE);
    LOOP_UNTIL(ctx, H.calls == 2); /* a socket is writable at once */
    ck_assert_int_eq(H.events, VIR_EVENT_HANDLE_WRITABLE);

    virEventUpdateHandle(id, 0);
    ck_assert_int_eq(tu_needed(ctx), 1);

    /* Another handle gets a new id, never an old one. */
    id2 = virEventAddHandle(sv[1], 0, on_handle, &H, NULL);
    ck_assert_int_gt(id2, id);
    ck_assert_int_eq(virEventRemoveHandle(id2), 0);

    virEventUpdateHandle(id, VIR_EVENT_HANDLE_READABLE);
    close(sv[1]); /* EOF and hang-up: the callback removes its handle */
    LOOP_UNTIL(ctx, H.events & VIR_EVENT_HANDLE_HANGUP);
    ck_assert_int_eq(H.calls, 3);
    ck_assert_int_eq(H.F.calls, 1); /* at the end of that pass */
    ck_assert_int_eq(tu_needed(ctx), 1);

    ck_assert_int_eq(virEventRemoveHandle(id), -1);
    virEventUpdateHandle(id, VIR_EVENT_HANDLE_READABLE); /* ignored */
    ck_assert_int_eq(tu_needed(ctx), 1);
    settle(ctx);
    ck_assert_int_eq(H.calls, 3);
    ck_assert_int_eq(H.F.calls, 1);
    osev_ctx_free(ctx);
    close(sv[0]);
}
END_TEST

/* ff runs at the next dispatch point, not inside virEventRemoveHandle(). */
START_TEST(handle_ff_after_remove)
{
    osev_ctx *ctx = bridge_new();
    struct handle_seen H = { 0 };
    int p[2], id;

    tu_pipe(p);
    id = virEventAddHandle(p[0], VIR_EVENT_HANDLE_READABLE, on_handle, &H,
                           ff_count);
    ck_assert_int_gt(id, 0);
    tu_write_byte(p[1]); /* ready, but removed before any pass */
    ck_assert_int_eq(remove_flagged(&H.F, virEventRemoveHandle, id), 0);
    ck_assert_int_eq(H.F.calls, 0);
    ck_assert_int_eq(tu_needed(ctx), 1);
    settle(ctx);
    ck_assert_int_eq(H.F.calls, 1);
    ck_assert_int_eq(H.calls, 0);
    osev_ctx_free(ctx);
    ck_assert_int_eq(H.F.calls, 1);
    close(p[0]), close(p[1]);
}
END_TEST

/* ---- timeouts ---- */

struct timer_seen {
    struct freed F; /* first: the opaque is ff_count's too */
    int calls, timer;
    int disable_at;   /* on this call, disable itself */
    bool remove_next; /* on the next call, remove itself */
};

static void on_timer(int timer, void *opaque)
{
    struct timer_seen *T = opaque;

    T->calls++;
    T->timer = timer;
    if (T->calls == T->disable_at)
        virEventUpdateTimeout(timer, -1);
    if (T->remove_next) {
        T->remove_next = false;
        ck_assert_int_eq(remove_flagged(&T->F, virEventRemoveTimeout, timer),
                         0);
    }
}

/* Periodic every `frequency` ms until the callback disables it (its own
 * update wins over the periodic re-arm); 0 fires once per pass; removal
 * from its own callback with ff at the end of that pass. */
START_TEST(timeouts)
{
    osev_ctx *ctx = bridge_new();
    struct timer_seen T = { .disable_at = 3 };
    osev_time t0 = osev_now();
    int id, id2;

    id = virEventAddTimeout(10, on_timer, &T, ff_count);
    ck_assert_int_gt(id, 0);
    LOOP_UNTIL(ctx, T.calls == 3);
    ck_assert_int_ge(osev_now() - t0, osev_ms(30));
    ck_assert_int_eq(T.timer, id);
    ck_assert_int_eq(deadline_of(ctx), OSEV_TIME_INFINITY); /* disabled */

    virEventUpdateTimeout(id, 0);
    for (int i = 1; i <= 3; i++) {
        settle(ctx);
        ck_assert_int_eq(T.calls, 3 + i);
    }
    virEventUpdateTimeout(id, -1);
    settle(ctx);
    ck_assert_int_eq(T.calls, 6);
    ck_assert_int_eq(deadline_of(ctx), OSEV_TIME_INFINITY);

    id2 = virEventAddTimeout(-1, never_timer, NULL, NULL);
    ck_assert_int_gt(id2, id);
    ck_assert_int_eq(virEventRemoveTimeout(id2), 0);

    T.remove_next = true;
    virEventUpdateTimeout(id, 0);
    settle(ctx);
    ck_assert_int_eq(T.calls, 7);
    ck_assert_int_eq(T.F.calls, 1);
    ck_assert_int_eq(virEventRemoveTimeout(id), -1);
    virEventUpdateTimeout(id, 0); /* ignored */
    settle(ctx);
    ck_assert_int_eq(T.calls, 7);
    ck_assert_int_eq(deadline_of(ctx), OSEV_TIME_INFINITY);
    osev_ctx_free(ctx);
    ck_assert_int_eq(T.F.calls, 1);
}
END_TEST

/* ---- libvirt's own threads ---- */

enum { EV_LIFECYCLE = 5, EV_FROM_THREAD = 6 };

struct threaded {
    struct freed F; /* first: the opaque is ff_count's too */
    osev_ctx *ctx;
    int timer;
};

/* A frequency-0 timeout fires once, posts, and removes itself. */
static void post_and_remove(int timer, void *opaque)
{
    struct threaded *X = opaque;
    osev_event *ev = osev_event_new(X->ctx, EV_FROM_THREAD, 0, 0);

    ck_assert_ptr_nonnull(ev);
    osev_event_post(X->ctx, ev);
    ck_assert_int_eq(remove_flagged(&X->F, virEventRemoveTimeout, timer), 0);
}

static void *add_from_thread(void *arg)
{
    struct threaded *X = arg;

    X->timer = virEventAddTimeout(0, post_and_remove, X, ff_count);
    return NULL;
}

/* libvirt adds a timeout from one of its threads while the built-in loop
 * blocks with nothing to wait for but the wakeup fd: the loop is woken
 * and serves it.  (TSan sees the locking.) */
START_TEST(timeout_added_from_another_thread)
{
    struct threaded X = { .ctx = bridge_new() };
    pthread_t th;
    osev_event *ev;

    ck_assert_int_eq(pthread_create(&th, NULL, add_from_thread, &X), 0);
    ck_assert_osev_ok(osev_event_wait(X.ctx, 1u << EV_FROM_THREAD, NULL, NULL,
                                      osev_now() + osev_s(5), &ev));
    osev_event_free(X.ctx, ev);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_gt(X.timer, 0);
    ck_assert_int_eq(X.F.calls, 1); /* at the end of that pass */
    ck_assert_int_eq(deadline_of(X.ctx), OSEV_TIME_INFINITY);
    osev_ctx_free(X.ctx);
}
END_TEST

/* ---- a real connection: the test driver's lifecycle events ---- */

struct lifecycle {
    int event, detail;
};

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event,
                        int detail, void *opaque)
{
    osev_ctx *ctx = opaque;
    osev_event *ev = osev_event_new(ctx, EV_LIFECYCLE, 0,
                                    sizeof(struct lifecycle));

    (void)conn, (void)dom;
    ck_assert_ptr_nonnull(ev);
    *(struct lifecycle *)ev->data = (struct lifecycle){ event, detail };
    osev_event_post(ctx, ev);
    return 0;
}

static const char domain_xml[] =
    "<domain type='test'>"
    "  <name>osev-bridge-test</name>"
    "  <memory>8192</memory>"
    "  <os><type>hvm</type></os>"
    "</domain>";

static void expect_lifecycle(osev_ctx *ctx, int event, int detail)
{
    osev_event *ev;
    struct lifecycle got;

    ck_assert_osev_ok(osev_event_wait(ctx, 1u << EV_LIFECYCLE, NULL, NULL,
                                      osev_now() + osev_s(5), &ev));
    got = *(struct lifecycle *)ev->data;
    osev_event_free(ctx, ev);
    ck_assert_int_eq(got.event, event);
    ck_assert_int_eq(got.detail, detail);
}

/* One handle and one disabled timeout of the test's own, taken before and
 * after libvirt's: every id in between was libvirt's. */
struct id_range {
    int handle, timer;
};

static struct id_range id_mark(int fd)
{
    struct id_range m = {
        .handle = virEventAddHandle(fd, 0, on_handle, NULL, NULL),
        .timer = virEventAddTimeout(-1, never_timer, NULL, NULL),
    };

    ck_assert_int_gt(m.handle, 0);
    ck_assert_int_gt(m.timer, 0);
    return m;
}

START_TEST(lifecycle_events_through_builtin_loop)
{
    osev_ctx *ctx = bridge_new();
    struct id_range lo, hi;
    virConnectPtr conn;
    virDomainPtr dom;
    osev_event *ev;
    int p[2], cb;

    tu_pipe(p);
    lo = id_mark(p[0]);
    conn = virConnectOpen("test:///default");
    ck_assert_ptr_nonnull(conn);
    cb = virConnectDomainEventRegisterAny(
        conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
        VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), ctx, NULL);
    ck_assert_int_ge(cb, 0);

    dom = virDomainDefineXML(conn, domain_xml);
    ck_assert_ptr_nonnull(dom);
    ck_assert_int_eq(virDomainCreate(dom), 0);
    ck_assert_int_eq(virDomainDestroy(dom), 0);
    ck_assert_int_eq(virDomainUndefine(dom), 0);
    ck_assert_int_eq(virDomainFree(dom), 0);

    /* Nothing arrives until the context is dispatched: libvirt delivers
     * from its timer, which only osevent's loop runs. */
    ck_assert_osev_err(osev_event_check(ctx, OSEV_EVENTMASK_ALL, NULL, NULL,
                                        &ev),
                       -EAGAIN);
    expect_lifecycle(ctx, VIR_DOMAIN_EVENT_DEFINED,
                     VIR_DOMAIN_EVENT_DEFINED_ADDED);
    expect_lifecycle(ctx, VIR_DOMAIN_EVENT_STARTED,
                     VIR_DOMAIN_EVENT_STARTED_BOOTED);
    expect_lifecycle(ctx, VIR_DOMAIN_EVENT_STOPPED,
                     VIR_DOMAIN_EVENT_STOPPED_DESTROYED);
    expect_lifecycle(ctx, VIR_DOMAIN_EVENT_UNDEFINED,
                     VIR_DOMAIN_EVENT_UNDEFINED_REMOVED);
    ck_assert_osev_err(osev_event_check(ctx, OSEV_EVENTMASK_ALL, NULL, NULL,
                                        &ev),
                       -EAGAIN);

    ck_assert_int_eq(virConnectDomainEventDeregisterAny(conn, cb), 0);
    ck_assert_int_eq(virConnectClose(conn), 0);
    settle(ctx); /* the release point of what libvirt removed */

    /* The bridge holds nothing of libvirt's any more: no fd but the
     * wakeup fd and ours, no armed timer, no id libvirt was given. */
    ck_assert_int_eq(tu_needed(ctx), 1);
    ck_assert_int_eq(deadline_of(ctx), OSEV_TIME_INFINITY);
    hi = id_mark(p[0]);
    ck_assert_int_gt(hi.timer, lo.timer + 1); /* libvirt had one at least */
    for (int id = lo.handle + 1; id < hi.handle; id++)
        ck_assert_int_eq(virEventRemoveHandle(id), -1);
    for (int id = lo.timer + 1; id < hi.timer; id++)
        ck_assert_int_eq(virEventRemoveTimeout(id), -1);
    ck_assert_int_eq(virEventRemoveHandle(lo.handle), 0);
    ck_assert_int_eq(virEventRemoveHandle(hi.handle), 0);
    ck_assert_int_eq(virEventRemoveTimeout(lo.timer), 0);
    ck_assert_int_eq(virEventRemoveTimeout(hi.timer), 0);
    settle(ctx);
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]);
}
END_TEST

/* ---- fork ---- */

/* In the forked child: end what it inherited and exit 0 when no free
 * callback of libvirt's ran. */
static int end_in_child(osev_ctx *ctx, int id, bool remove_first,
                        const struct handle_seen *H)
{
    if (remove_first && virEventRemoveHandle(id) != 0)
        return 2;
    osev_ctx_free(ctx);
    return H->F.calls == 0 ? 0 : 3;
}

/*
 * The child of fork() ends the bridge's context it inherited (_i 1:
 * libvirt removes its handle first, as a connection closing in the child
 * would) and exits.  The context's epoll set is the parent's too: the
 * child must not take the handle's fd out of it.  Nor does libvirt's free
 * callback run in the child: libvirt's objects there are the parent's
 * copies, and disposing of one may act on what both share (a socket
 * path, a helper process).  The parent's handle still fires.
 */
START_TEST(fork_child_leaves_parent_handles)
{
    osev_ctx *ctx = bridge_new();
    struct handle_seen H = { 0 };
    int p[2], id, status;
    pid_t pid;

    tu_pipe(p);
    id = virEventAddHandle(p[0], VIR_EVENT_HANDLE_READABLE, on_handle, &H,
                           ff_count);
    ck_assert_int_gt(id, 0);
    tu_write_byte(p[1]);
    LOOP_UNTIL(ctx, H.calls == 1); /* the pipe is in the epoll set */

    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(end_in_child(ctx, id, _i == 1, &H));
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the forked child failed: status %#x", status);

    tu_write_byte(p[1]);
    LOOP_UNTIL(ctx, H.calls == 2);
    ck_assert_int_eq(virEventRemoveHandle(id), 0);
    settle(ctx);
    ck_assert_int_eq(H.F.calls, 1);
    osev_ctx_free(ctx);
    close(p[0]), close(p[1]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("virt-bridge");
    TCase *tc = tcase_create("bridge");

    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, register_once_then_replace_freed);
    tcase_add_test(tc, handles);
    tcase_add_test(tc, handle_ff_after_remove);
    tcase_add_test(tc, timeouts);
    tcase_add_test(tc, timeout_added_from_another_thread);
    tcase_add_test(tc, lifecycle_events_through_builtin_loop);
    tcase_add_loop_test(tc, fork_child_leaves_parent_handles, 0, 2);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
