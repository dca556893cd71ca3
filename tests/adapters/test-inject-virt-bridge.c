/*
 * test-inject-virt-bridge.c - allocation failure in an osevent context
 * made libvirt's event implementation (osev_virt_register_impl): the
 * registration, first in its process, and libvirt's adds through the
 * bridge.
 *
 * Only osevent's allocations fail (libvirt's go through GLib, which
 * aborts).
 */
#include "inject.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "osevent-virt.h"

static struct bridge {
    osev_ctx *ctx;
    int s[2];
    int handle_calls, timeout_calls, ff_calls;
    int handle, timeout;
    int fds0;
} B;

static void on_handle(int watch, int fd, int events, void *opaque)
{
    char buf[16];

    (void)watch, (void)events, (void)opaque;
    while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
        ;
    B.handle_calls++;
}

static void on_timeout(int timer, void *opaque)
{
    (void)timer, (void)opaque;
    B.timeout_calls++;
}

static void ff(void *opaque)
{
    (void)opaque;
    B.ff_calls++;
}

static void bridge_world(void)
{
    memset(&B, 0, sizeof B);
    B.fds0 = tu_count_fds();
    ck_assert_int_eq(inj_ctx_live(), 0);
    B.ctx = inj_ctx_new();
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
                                             SOCK_CLOEXEC,
                                0, B.s),
                     0);
}

static int add_handle(void)
{
    B.handle = virEventAddHandle(B.s[0], VIR_EVENT_HANDLE_READABLE,
                                 on_handle, NULL, ff);
    return B.handle;
}

static int add_timeout(void)
{
    B.timeout = virEventAddTimeout(1, on_timeout, NULL, ff);
    return B.timeout;
}

/* libvirt's handle and timeout run from the osevent loop; removed, their
 * free callbacks run at the next dispatch point; nothing is left. */
static void bridge_run_and_free(void)
{
    osev_time give_up = osev_now() + osev_s(5);

    if (B.handle <= 0)
        ck_assert_int_gt(add_handle(), 0);
    if (B.timeout <= 0)
        ck_assert_int_gt(add_timeout(), 0);
    ck_assert_int_eq(send(B.s[1], "x", 1, MSG_DONTWAIT), 1);
    while (!B.handle_calls || !B.timeout_calls) {
        int r = osev_loop_once(B.ctx, osev_now() + osev_ms(50));

        ck_assert_msg(r >= 0 || r == -ETIMEDOUT, "loop_once: %d", r);
        ck_assert_msg(osev_now() < give_up, "libvirt's callbacks did not "
                      "run");
    }
    ck_assert_int_eq(virEventRemoveHandle(B.handle), 0);
    ck_assert_int_eq(virEventRemoveTimeout(B.timeout), 0);
    ck_assert_int_ge(osev_dispatch(B.ctx), 0);
    ck_assert_int_eq(B.ff_calls, 2);
    osev_ctx_free(B.ctx);
    ck_assert_int_eq(inj_ctx_live(), 0);
    close(B.s[0]), close(B.s[1]);
    ck_assert_int_eq(tu_count_fds(), B.fds0);
}

/*
 * The first osev_virt_register_impl() of a process, with the k-th
 * allocation failing: it fails with -ENOMEM and the next call works, or
 * it works (a failure it could absorb); either way libvirt's handle and
 * timeout then run through the context.  What libvirt registers is made
 * once per process, so each k runs in a process of its own, which
 * reports a failure through a pipe (Check's asserts stay in this one).
 */
#define CHILD_CHECK(cond, ...)                                               \
    do {                                                                     \
        if (!(cond)) {                                                       \
            dprintf(report, __VA_ARGS__);                                    \
            _exit(1);                                                        \
        }                                                                    \
    } while (0)

enum { CHILD_RECOVERED = 0, CHILD_FAILED = 1, CHILD_CLEAN = 2 };

static void first_register_in_child(long k, int report)
{
    struct osev_ctx_opts o = { .size = sizeof o,
                               .realloc_fn = inj_ctx_realloc };
    osev_time give_up;
    bool failed;
    int r;

    memset(&B, 0, sizeof B);
    CHILD_CHECK(osev_ctx_new(&o, &B.ctx) == 0, "ctx_new");
    CHILD_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, B.s) == 0,
                "socketpair");
    inj_arm(k, NULL);
    r = osev_virt_register_impl(B.ctx);
    failed = inj_disarm();
    CHILD_CHECK(!failed || inj_failed_ours(), "failed in %s",
                inj_failed_where());
    if (!failed)
        CHILD_CHECK(r == 0, "register_impl: %d (%s)", r, osev_strerror(r));
    else
        CHILD_CHECK(r == -ENOMEM || r == 0, "register_impl, allocation %ld "
                    "failing (in %s): %d (%s)", k, inj_failed_where(), r,
                    osev_strerror(r));
    if (r < 0) {
        r = osev_virt_register_impl(B.ctx);
        CHILD_CHECK(r == 0, "register_impl again after allocation %ld "
                    "failed (in %s): %d (%s)", k, inj_failed_where(), r,
                    osev_strerror(r));
    }
    CHILD_CHECK(add_handle() > 0, "virEventAddHandle");
    CHILD_CHECK(add_timeout() > 0, "virEventAddTimeout");
    CHILD_CHECK(send(B.s[1], "x", 1, MSG_DONTWAIT) == 1, "send");
    give_up = osev_now() + osev_s(5);
    while (!B.handle_calls || !B.timeout_calls) {
        r = osev_loop_once(B.ctx, osev_now() + osev_ms(50));
        CHILD_CHECK(r >= 0 || r == -ETIMEDOUT, "loop_once: %d", r);
        CHILD_CHECK(osev_now() < give_up, "libvirt's callbacks did not run");
    }
    CHILD_CHECK(virEventRemoveHandle(B.handle) == 0, "virEventRemoveHandle");
    CHILD_CHECK(virEventRemoveTimeout(B.timeout) == 0,
                "virEventRemoveTimeout");
    CHILD_CHECK(osev_dispatch(B.ctx) >= 0, "dispatch");
    CHILD_CHECK(B.ff_calls == 2, "free callbacks: %d", B.ff_calls);
    osev_ctx_free(B.ctx);
    CHILD_CHECK(inj_ctx_live() == 0, "blocks left: %ld", inj_ctx_live());
    _exit(failed ? CHILD_RECOVERED : CHILD_CLEAN);
}

START_TEST(first_register_impl)
{
    long k;

    for (k = 0;; k++) {
        char msg[512] = "";
        int p[2], status;
        ssize_t n;
        pid_t pid;

        ck_assert_int_eq(pipe(p), 0);
        fflush(NULL);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            close(p[0]);
            first_register_in_child(k, p[1]);
        }
        close(p[1]);
        n = read(p[0], msg, sizeof msg - 1);
        msg[n > 0 ? n : 0] = '\0';
        close(p[0]);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != CHILD_FAILED,
                      "k = %ld: %s", k, msg[0] ? msg : "child died");
        if (WEXITSTATUS(status) == CHILD_CLEAN)
            break;
        ck_assert_int_lt(k, 1000);
    }
    printf("inject: virt register_impl (first in its process): %ld "
           "allocation points\n", k);
}
END_TEST

/* libvirt adds a handle or a timeout through the bridge with the k-th
 * allocation failing: libvirt is told (-1), nothing is left (and its free
 * callback is not called: libvirt keeps its opaque), and the next add
 * works. */
static void add_fails_cleanly(const char *name, int (*add)(void))
{
    long k;

    for (k = 0;; k++) {
        bool failed;
        int id, n;

        bridge_world();
        ck_assert_osev_ok(osev_virt_register_impl(B.ctx));
        n = tu_needed(B.ctx);
        inj_arm(k, NULL);
        id = add();
        failed = inj_disarm();
        if (failed) {
            ck_assert_msg(id == -1, "%s, allocation %ld failing (in %s): "
                          "%d", name, k, inj_failed_where(), id);
            ck_assert_int_eq(tu_needed(B.ctx), n);
            ck_assert_int_eq(B.ff_calls, 0);
        } else {
            ck_assert_int_gt(id, 0);
        }
        bridge_run_and_free();
        if (!failed)
            break;
        ck_assert_int_lt(k, 1000);
    }
    printf("inject: virt bridge %s: %ld allocation points\n", name, k);
}

START_TEST(add_handle_fails_cleanly)
{
    add_fails_cleanly("virEventAddHandle", add_handle);
}
END_TEST

START_TEST(add_timeout_fails_cleanly)
{
    add_fails_cleanly("virEventAddTimeout", add_timeout);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("virt-bridge");
    TCase *tc = tcase_create("bridge");

    inj_interposed();
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, first_register_impl);
    tcase_add_test(tc, add_handle_fails_cleanly);
    tcase_add_test(tc, add_timeout_fails_cleanly);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
