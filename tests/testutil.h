/*
 * testutil.h - helpers shared by the Check suites.
 *
 * The typed asserts come from Check itself (ck_assert_int_eq and friends
 * print both expressions and both values); what is here is what Check
 * lacks: fd-leak accounting, pipes, an allocator that fails on demand,
 * and a runner that keeps fork mode on.
 */
#ifndef OSEV_TESTUTIL_H
#define OSEV_TESTUTIL_H

#include "config.h" /* first: _GNU_SOURCE for pipe2(), dup3()... */

#include <check.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "osevent.h"

/* Assert an osevent result, printing its name on failure. */
#define ck_assert_osev_ok(expr)                                              \
    do {                                                                     \
        int ck_r_ = (expr);                                                  \
        ck_assert_msg(ck_r_ >= 0, "%s failed: %d (%s)", #expr, ck_r_,        \
                      osev_strerror(ck_r_));                                 \
    } while (0)

#define ck_assert_osev_err(expr, err)                                        \
    do {                                                                     \
        int ck_r_ = (expr);                                                  \
        ck_assert_msg(ck_r_ == (err), "%s: expected %d (%s), got %d (%s)",   \
                      #expr, (int)(err), osev_strerror(err), ck_r_,          \
                      osev_strerror(ck_r_));                                 \
    } while (0)

/*
 * Whether the library was built with the Linux APIs (epoll, eventfd,
 * timerfd, signalfd, pidfd) or for POSIX only (--disable-linux-apis).
 * Without them osev_get_fd() gives -ENOSYS, OSEV_SIGNAL_BACKEND=signalfd
 * and OSEV_CHILD_BACKEND=pidfd are ignored (the self-pipe and SIGCHLD
 * paths serve), and every wakeup flag is a pipe, not an eventfd: a
 * test whose rule differs there says so and checks what holds instead.
 */
#ifdef OSEV_LINUX_APIS
#define TU_LINUX_APIS true
#else
#define TU_LINUX_APIS false
#endif

/* osev_get_fd(@ctx), asserted to be an fd with the Linux APIs; without
 * them asserted to be -ENOSYS, and then -1. */
int tu_get_fd(osev_ctx *ctx);

/* How many wakeups a wakeup flag (the context's wakeup fd, as
 * osev_beforepoll() hands it out) holds, without taking them: an
 * eventfd's counter, or the bytes in a pipe. */
unsigned long long tu_wakeups_pending(int fd);

/* What one wakeup writes, so what reading one takes: an eventfd's 8
 * bytes, or a pipe's 1. */
#define TU_WAKEUP_SIZE (TU_LINUX_APIS ? 8 : 1)

/* The number of fds open in this process (reads /proc/self/fd). */
int tu_count_fds(void);

/* A non-blocking, close-on-exec pipe; fails the test on error. */
void tu_pipe(int fds[2]);

/* Write one byte to fd; fails the test on error. */
void tu_write_byte(int fd);

/* Read and discard whatever is readable on a non-blocking fd. */
void tu_drain(int fd);

/* A context with default options (or OSEV_CTX_BACKEND_POLL when the
 * environment asks for it, which the library also honours itself). */
osev_ctx *tu_ctx_new(void);

/*
 * An allocator for struct osev_ctx_opts.realloc_fn that fails the Nth
 * allocation from now (counting calls with size > 0): tu_alloc_fail_at(0)
 * fails the next one, a negative value never fails.  tu_alloc_live() is
 * the number of blocks it handed out and has not seen freed.
 */
void *tu_realloc(void *user, void *ptr, size_t size);
void tu_alloc_fail_at(long n);
long tu_alloc_live(void);

/*
 * The ways a test can start a dispatch pass, so a rule can be shown to
 * hold whichever way the application drives the context.
 */
enum tu_drive_mode {
    TU_DRIVE_DISPATCH, /* osev_dispatch() */
    TU_DRIVE_LOOP,     /* osev_loop_once() with a bounded deadline */
    TU_DRIVE_PULL,     /* osev_beforepoll() + poll(2) + osev_afterpoll() */
    TU_DRIVE_MODES
};

#define TU_PULL_ROOM 64
/* What tu_drive() returns in pull mode, where no count is reported. */
#define TU_COUNT_UNKNOWN INT_MIN

/* One pass expecting something ready (blocks up to 5 s for it); returns
 * the count osev_dispatch()/osev_loop_once() gave, or TU_COUNT_UNKNOWN. */
int tu_drive(osev_ctx *ctx, int mode);

/* One pass that never blocks: nothing need be ready. */
int tu_drive_now(osev_ctx *ctx, int mode);

/* Assert a count from tu_drive(), unless it is TU_COUNT_UNKNOWN. */
void tu_check_count(int got, int expected);

/* The number of entries osev_beforepoll() wants (the size query); the
 * query must write no timeout. */
int tu_needed(osev_ctx *ctx);

/*
 * Until thread @tid (a tu_gettid() value) sits in poll/epoll_wait, or
 * @deadline passes, or /proc cannot tell: a condition to wait for before
 * acting on a blocked thread, never a sleep.  Returns whether it was seen
 * blocked; a test must hold either way.
 */
bool tu_wait_until_polling(pid_t tid, osev_time deadline);
pid_t tu_gettid(void);

/*
 * @full scaled by OSEV_TEST_SCALE, in percent (default 100), and at least
 * 1: the size of a randomised or stress test's run.  scripts/check sets
 * 10 under valgrind, which is some 30 times slower; ASan, TSan and the
 * plain builds run the full size.
 */
long tu_scaled(long full);

/* Run @s with fork mode as the environment says (CK_FORK) and return the
 * process exit status: 0 when every test passed. */
int tu_run_suite(Suite *s);

#endif
