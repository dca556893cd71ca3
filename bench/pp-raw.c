/*
 * pp-raw.c - ping-pong on hand-written loops, the floors the libraries
 * are compared with:
 *  - raw-epoll:        epoll_wait(64 events), level-triggered;
 *  - raw-poll-static:  one pollfd array built once; poll() and a scan of
 *                      every entry per pass;
 *  - raw-poll-rebuilt: the pollfd array rebuilt from the application's
 *                      watch list before every poll(), then scanned.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "pingpong.h"

#define MAXEVENTS 64

static int epfd;
static struct pollfd *pfd;

/* The application's registry that raw-poll-rebuilt copies each pass. */
static struct watch {
    int fd;
    short events;
} *watches;

static void epoll_setup(void)
{
    epfd = epoll_create1(EPOLL_CLOEXEC);
    pp_check(epfd, "epoll_create1");
    for (int i = 0; i < pp_n; i++) {
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (unsigned)i };

        pp_check(epoll_ctl(epfd, EPOLL_CTL_ADD, pp_rd[i], &ev), "epoll_ctl");
    }
}

static void epoll_once(void)
{
    struct epoll_event evs[MAXEVENTS];
    int n = epoll_wait(epfd, evs, MAXEVENTS, -1);

    pp_check(n, "epoll_wait");
    for (int k = 0; k < n; k++)
        pp_readable((int)evs[k].data.u32);
}

static void epoll_teardown(void)
{
    close(epfd);
}

static void scan(void)
{
    for (int i = 0; i < pp_n; i++)
        if (pfd[i].revents & POLLIN)
            pp_readable(i);
}

static void static_setup(void)
{
    pfd = calloc((size_t)pp_n, sizeof *pfd);
    if (!pfd)
        pp_fail("calloc");
    for (int i = 0; i < pp_n; i++)
        pfd[i] = (struct pollfd){ .fd = pp_rd[i], .events = POLLIN };
}

static void static_once(void)
{
    pp_check(poll(pfd, (nfds_t)pp_n, -1), "poll");
    scan();
}

static void rebuilt_setup(void)
{
    pfd = calloc((size_t)pp_n, sizeof *pfd);
    watches = calloc((size_t)pp_n, sizeof *watches);
    if (!pfd || !watches)
        pp_fail("calloc");
    for (int i = 0; i < pp_n; i++)
        watches[i] = (struct watch){ .fd = pp_rd[i], .events = POLLIN };
}

static void rebuilt_once(void)
{
    for (int i = 0; i < pp_n; i++)
        pfd[i] = (struct pollfd){ .fd = watches[i].fd,
                                  .events = watches[i].events };
    pp_check(poll(pfd, (nfds_t)pp_n, -1), "poll");
    scan();
}

static void poll_teardown(void)
{
    free(pfd);
    free(watches);
    pfd = NULL;
    watches = NULL;
}

const struct pp_mode pp_modes[] = {
    { "raw-epoll", epoll_setup, epoll_once, epoll_teardown },
    { "raw-poll-static", static_setup, static_once, poll_teardown },
    { "raw-poll-rebuilt", rebuilt_setup, rebuilt_once, poll_teardown },
    { NULL, NULL, NULL, NULL },
};
