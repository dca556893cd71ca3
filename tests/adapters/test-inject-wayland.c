/*
 * test-inject-wayland.c - allocation failure inside a wl_event_loop
 * (tests/adapters/inject.c): every allocation of attach and of the
 * registrations made while attached fails in turn, osevent's and
 * libwayland-server's (which returns NULL from wl_event_loop_add_fd()
 * and wl_event_loop_add_timer() when one fails).
 */
#include "inject.h"

#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <wayland-server-core.h>

#include "osevent-wayland.h"

static void *wl_new(void)
{
    return wl_event_loop_create();
}

static void wl_free(void *loop)
{
    wl_event_loop_destroy(loop);
}

static int wl_attach(osev_ctx *ctx, void *loop)
{
    return osev_wayland_attach(ctx, loop);
}

static int wl_iterate(void *loop)
{
    return wl_event_loop_dispatch(loop, -1);
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

/* The loop's epoll set holds an fd per fd source and, once a timer
 * source was made, its timerfd, armed while a timer source is (see
 * test-wayland.c): empty is no other fd, and that one disarmed. */
static bool wl_empty(void *loop)
{
    char path[64], line[256];
    bool empty = true;
    FILE *f;
    int fd;

    snprintf(path, sizeof path, "/proc/self/fdinfo/%d",
             wl_event_loop_get_fd(loop));
    f = fopen(path, "re");
    ck_assert_ptr_nonnull(f);
    while (empty && fgets(line, sizeof line, f)) {
        struct itimerspec its;

        if (sscanf(line, "tfd: %d", &fd) != 1)
            continue;
        empty = is_timerfd(fd) && timerfd_gettime(fd, &its) == 0 &&
                its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0;
    }
    fclose(f);
    return empty;
}

int main(void)
{
    static const char *const may_fail[] = { "libwayland-server", NULL };
    static const struct inject_loop loop = {
        .name = "wayland",
        .loop_new = wl_new,
        .loop_free = wl_free,
        .attach = wl_attach,
        .detach = osev_wayland_detach,
        .iterate = wl_iterate,
        .is_empty = wl_empty,
        .may_fail = may_fail,
    };

    return inject_main(&loop);
}
