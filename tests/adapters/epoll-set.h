/*
 * epoll-set.h - what a loop's epoll set holds, read from /proc: for the
 * loops that keep a timerfd of their own in it (sd-event, Wayland's
 * wl_event_loop), whose "empty" is no other fd and every timerfd
 * disarmed.  Linux only, like those loops.
 */
#ifndef OSEV_TEST_EPOLL_SET_H
#define OSEV_TEST_EPOLL_SET_H

/* The fds in epoll set @epfd that are not a timerfd, plus one per armed
 * timerfd: 0 when the loop holds nothing that can wake it.  Asserts
 * (Check) that /proc/self/fdinfo and /proc/self/fd can be read. */
int epoll_set_busy(int epfd);

#endif
