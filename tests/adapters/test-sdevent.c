/*
 * test-sdevent.c - the push scenario inside a real sd-event loop.
 *
 * sd-event counts nothing publicly, so there is no foreign_count.  What
 * it holds can still be seen from outside, through the kernel: every
 * enabled io source is an fd in sd-event's epoll set (sd_event_get_fd(),
 * listed in /proc/self/fdinfo), and an enabled time source keeps the
 * loop's timerfd for its clock armed once a turn has run.  So "empty"
 * here means: after one non-blocking turn that dispatched nothing, the
 * epoll set holds only sd-event's own timerfds, all disarmed.  A source
 * turned off but leaked would not show there; it would keep a reference
 * on the loop, which sd_event_unref() then never frees, and the leak
 * checkers (valgrind, ASan) report it.
 */
#include "scenario.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "osevent-sdevent.h"

static void *sdev_loop_new(void)
{
    sd_event *e = NULL;

    ck_assert_int_ge(sd_event_new(&e), 0);
    return e;
}

static void sdev_loop_free(void *loop)
{
    sd_event_unref(loop);
}

static int sdev_attach(osev_ctx *ctx, void *loop)
{
    return osev_sdevent_attach(ctx, loop);
}

/* One blocking turn: sd-event dispatches one source per turn. */
static void sdev_iterate(void *loop)
{
    ck_assert_int_ge(sd_event_run(loop, UINT64_MAX), 0);
}

static bool is_timerfd(int fd)
{
    char path[64], target[64];
    ssize_t n;

    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    n = readlink(path, target, sizeof target - 1);
    ck_assert_int_gt(n, 0);
    target[n] = '\0';
    return strcmp(target, "anon_inode:[timerfd]") == 0;
}

static bool timerfd_armed(int fd)
{
    struct itimerspec its;

    ck_assert_int_eq(timerfd_gettime(fd, &its), 0);
    return its.it_value.tv_sec != 0 || its.it_value.tv_nsec != 0;
}

/* True when every fd in epoll set @epfd is a disarmed timerfd; fdinfo
 * lists one "tfd: <fd> events: ..." line per fd in the set. */
static bool epoll_holds_only_idle_timers(int epfd)
{
    char path[64], line[256];
    bool idle = true;
    FILE *f;
    int fd;

    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", epfd);
    f = fopen(path, "re");
    ck_assert_ptr_nonnull(f);
    while (idle && fgets(line, sizeof line, f))
        if (sscanf(line, "tfd: %d", &fd) == 1)
            idle = is_timerfd(fd) && !timerfd_armed(fd);
    fclose(f);
    return idle;
}

static bool sdev_is_empty(void *loop)
{
    /* The turn re-arms (here: disarms) the timerfds for what is left;
     * it dispatching anything means something was still there. */
    int r = sd_event_run(loop, 0);

    ck_assert_int_ge(r, 0);
    if (r > 0)
        return false;
    return epoll_holds_only_idle_timers(sd_event_get_fd(loop));
}

static const struct scenario_loop sdevent_loop = {
    .name = "sdevent",
    .loop_new = sdev_loop_new,
    .loop_free = sdev_loop_free,
    .attach = sdev_attach,
    .detach = osev_sdevent_detach,
    .iterate = sdev_iterate,
    .foreign_count = NULL, /* sd-event has no count of its sources */
    .is_empty = sdev_is_empty,
};

int main(void)
{
    return scenario_main(&sdevent_loop);
}
