/* testutil.c - see testutil.h. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int tu_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own fd */
}

int tu_get_fd(osev_ctx *ctx)
{
    int fd = osev_get_fd(ctx);

    if (TU_LINUX_APIS) {
        ck_assert_osev_ok(fd);
        return fd;
    }
    ck_assert_osev_err(fd, -ENOSYS);
    return -1;
}

unsigned long long tu_wakeups_pending(int fd)
{
    char path[64], line[128];
    unsigned long long count = ~0ULL;
    FILE *f;
    int n;

    if (!TU_LINUX_APIS) {
        ck_assert_int_eq(ioctl(fd, FIONREAD, &n), 0);
        return (unsigned long long)n;
    }
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "eventfd-count: %llx", &count) == 1)
            break;
    fclose(f);
    ck_assert_uint_ne(count, ~0ULL);
    return count;
}

void tu_pipe(int fds[2])
{
    ck_assert_int_eq(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
}

void tu_write_byte(int fd)
{
    char c = 'x';
    ck_assert_int_eq(write(fd, &c, 1), 1);
}

void tu_drain(int fd)
{
    char buf[256];
    while (read(fd, buf, sizeof buf) > 0)
        ;
}

osev_ctx *tu_ctx_new(void)
{
    osev_ctx *ctx = NULL;
    ck_assert_osev_ok(osev_ctx_new(NULL, &ctx));
    ck_assert_ptr_nonnull(ctx);
    return ctx;
}

static long fail_at = -1;
static long live;

void tu_alloc_fail_at(long n)
{
    fail_at = n;
}

long tu_alloc_live(void)
{
    return live;
}

void *tu_realloc(void *user, void *ptr, size_t size)
{
    void *p;

    (void)user;
    if (size == 0) {
        if (ptr)
            live--;
        free(ptr);
        return NULL;
    }
    if (fail_at == 0) {
        fail_at = -1;
        return NULL;
    }
    if (fail_at > 0)
        fail_at--;
    p = realloc(ptr, size);
    if (p && !ptr)
        live++;
    return p;
}

static int drive_with(osev_ctx *ctx, int mode, osev_time deadline,
                      int timeout)
{
    struct pollfd fds[TU_PULL_ROOM];
    int n = TU_PULL_ROOM;

    switch (mode) {
    case TU_DRIVE_DISPATCH:
        return osev_dispatch(ctx);
    case TU_DRIVE_LOOP:
        return osev_loop_once(ctx, deadline);
    default:
        ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
        ck_assert_int_ge(poll(fds, (nfds_t)n, timeout), 0);
        osev_afterpoll(ctx, n, fds, 0);
        return TU_COUNT_UNKNOWN;
    }
}

int tu_drive(osev_ctx *ctx, int mode)
{
    return drive_with(ctx, mode, osev_now() + osev_s(5), 5000);
}

int tu_drive_now(osev_ctx *ctx, int mode)
{
    return drive_with(ctx, mode, 0, 0);
}

void tu_check_count(int got, int expected)
{
    if (got != TU_COUNT_UNKNOWN)
        ck_assert_int_eq(got, expected);
}

int tu_needed(osev_ctx *ctx)
{
    int n = 0, timeout = -1, r;

    r = osev_beforepoll(ctx, &n, NULL, &timeout, 0);
    ck_assert_msg(r == 0 || r == -ENOBUFS, "size query: %d", r);
    ck_assert_int_eq(timeout, -1);
    return n;
}

int tu_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ---- waiting for another thread to block ---- */

static const long polling_calls[] = {
#ifdef SYS_poll
    SYS_poll,
#endif
#ifdef SYS_epoll_wait
    SYS_epoll_wait,
#endif
#ifdef SYS_epoll_pwait2
    SYS_epoll_pwait2,
#endif
    SYS_ppoll, SYS_epoll_pwait,
};

bool tu_wait_until_polling(pid_t tid, osev_time deadline)
{
    char path[64];

    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    while (osev_now() < deadline) {
        FILE *f = fopen(path, "r");
        long nr;
        int got;

        if (!f)
            return false;
        got = fscanf(f, "%ld", &nr);
        fclose(f);
        for (size_t i = 0; got == 1 && i < sizeof polling_calls /
                                               sizeof polling_calls[0]; i++)
            if (nr == polling_calls[i])
                return true;
        sched_yield();
    }
    return false;
}

pid_t tu_gettid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

long tu_scaled(long full)
{
    const char *env = getenv("OSEV_TEST_SCALE");
    double pct = env && *env ? strtod(env, NULL) : 100.0;
    long n = (long)((double)full * pct / 100.0);

    return n < 1 ? 1 : n;
}
