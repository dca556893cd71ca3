/*
 * notify.c - a readiness flag made of fds: set from anywhere (a signal
 * handler included), watched like any other fd, cleared by its reader.
 * The context's wakeup, each signal watch and each child on the SIGCHLD
 * path have one.
 *
 * With the Linux APIs it is an eventfd: one fd, a counter that does not
 * fill up in practice.  Without them (--disable-linux-apis, and what a
 * port starts from) it is a self-pipe: two fds, and a full pipe means a
 * byte is already waiting, which is all a flag needs.
 */
#include "internal.h"

#include <fcntl.h>
#include <unistd.h>

#ifdef OSEV_LINUX_APIS
#include <sys/eventfd.h>
#endif

int osev__pipe(int fds[2])
{
#ifdef HAVE_PIPE2
    return pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0 ? -errno : 0;
#else
    /* A fork() and exec() by another thread between pipe() and fcntl()
     * takes the ends along: without pipe2() nothing closes that gap. */
    if (pipe(fds) < 0)
        return -errno;
    for (int i = 0; i < 2; i++) {
        int fl = fcntl(fds[i], F_GETFL);

        if (fl < 0 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) < 0 ||
            fcntl(fds[i], F_SETFD, FD_CLOEXEC) < 0) {
            int r = -errno;

            close(fds[0]);
            close(fds[1]);
            return r;
        }
    }
    return 0;
#endif
}

int osev__notify_open(struct osev__notify *n)
{
#ifdef OSEV_LINUX_APIS
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

    if (fd < 0)
        return -errno;
    n->rfd = n->wfd = fd;
    return 0;
#else
    int fds[2];
    int r = osev__pipe(fds);

    if (r < 0)
        return r;
    n->rfd = fds[0];
    n->wfd = fds[1];
    return 0;
#endif
}

/* One write(2); errno as it was.  A counter or pipe that is full already
 * has the flag set. */
void osev__notify_set(int wfd)
{
    int saved = errno;
#ifdef OSEV_LINUX_APIS
    uint64_t one = 1;

    if (write(wfd, &one, sizeof one) < 0)
        (void)0;
#else
    unsigned char b = 0;

    if (write(wfd, &b, 1) < 0)
        (void)0;
#endif
    errno = saved;
}

bool osev__notify_clear(int rfd)
{
    uint64_t buf[8]; /* an eventfd wants 8 bytes at least */
    bool was = false;

    while (read(rfd, buf, sizeof buf) > 0)
        was = true;
    return was;
}

void osev__notify_close(struct osev__notify *n)
{
    if (n->wfd >= 0 && n->wfd != n->rfd)
        close(n->wfd);
    if (n->rfd >= 0)
        close(n->rfd);
    n->rfd = n->wfd = -1;
}
