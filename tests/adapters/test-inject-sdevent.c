/*
 * test-inject-sdevent.c - allocation failure inside an sd-event loop
 * (tests/adapters/inject.c): every allocation of attach and of the
 * registrations made while attached fails in turn.
 *
 * sd-event returns -ENOMEM when an allocation fails: its allocations
 * fail too.
 */
#include "inject.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "osevent-sdevent.h"

static void *sdev_new(void)
{
    sd_event *e = NULL;

    ck_assert_int_ge(sd_event_new(&e), 0);
    return e;
}

static void sdev_free(void *loop)
{
    sd_event_unref(loop);
}

static int sdev_attach(osev_ctx *ctx, void *loop)
{
    return osev_sdevent_attach(ctx, loop);
}

static int sdev_iterate(void *loop)
{
    int r = sd_event_run(loop, UINT64_MAX);

    return r < 0 ? r : 0;
}

static bool is_idle_timerfd(int fd)
{
    char path[64], target[64];
    struct itimerspec its;
    ssize_t n;

    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    n = readlink(path, target, sizeof target - 1);
    ck_assert_int_gt(n, 0);
    target[n] = '\0';
    if (strcmp(target, "anon_inode:[timerfd]") != 0)
        return false;
    ck_assert_int_eq(timerfd_gettime(fd, &its), 0);
    return its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0;
}

/* As test-sdevent: after a turn that dispatched nothing, sd-event's epoll
 * set holds only its own disarmed timerfds. */
static bool sdev_empty(void *loop)
{
    char path[64], line[256];
    bool idle = true;
    FILE *f;
    int fd, r = sd_event_run(loop, 0);

    ck_assert_int_ge(r, 0);
    if (r > 0)
        return false;
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", sd_event_get_fd(loop));
    f = fopen(path, "re");
    ck_assert_ptr_nonnull(f);
    while (idle && fgets(line, sizeof line, f))
        if (sscanf(line, "tfd: %d", &fd) == 1)
            idle = is_idle_timerfd(fd);
    fclose(f);
    return idle;
}

/* sd-event returns -ENOMEM when an allocation fails. */
static const char *const sdev_may_fail[] = { "libsystemd.", NULL };

int main(void)
{
    static const struct inject_loop loop = {
        .name = "sdevent",
        .loop_new = sdev_new,
        .loop_free = sdev_free,
        .attach = sdev_attach,
        .detach = osev_sdevent_detach,
        .iterate = sdev_iterate,
        .is_empty = sdev_empty,
        .may_fail = sdev_may_fail,
    };

    return inject_main(&loop);
}
