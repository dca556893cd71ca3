/* epoll-set.c - what a loop's epoll set holds (epoll-set.h). */
#include "config.h"

#include "epoll-set.h"

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

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

/* fdinfo lists one "tfd: <fd> events: ..." line per fd in the set. */
int epoll_set_busy(int epfd)
{
    char path[64], line[256];
    int fd, n = 0;
    FILE *f;

    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", epfd);
    f = fopen(path, "re");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "tfd: %d", &fd) == 1)
            n += is_timerfd(fd) ? timerfd_armed(fd) : 1;
    fclose(f);
    return n;
}
