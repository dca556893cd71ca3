/*
 * wait-tool.c - a blocking command-line tool on osevent: wait until a
 * file appears in a directory, like a tiny inotifywait.
 *
 * SPDX-License-Identifier: MIT
 *
 * usage: wait-tool DIR NAME [TIMEOUT_S]
 *        wait-tool --self-test
 *
 * Exits 0 as soon as DIR/NAME exists (it did already, or it was created or
 * moved in), 1 when TIMEOUT_S seconds (decimals allowed; none: forever)
 * pass first, 2 on a usage or system error.  --self-test makes its own
 * directory and checks the tool's logic against a timer that creates
 * files in it.
 *
 * There is no loop here: osev_event_wait() runs osevent's built-in loop,
 * which serves dirwatch's inotify fd, until an event passes our filter: a
 * typemask (CREATED events only) and a predicate (this name only).
 * Events the filter refuses are not lost: they stay queued, in order, and
 * we print them at the end.  (A long-running program would take them with
 * osev_event_check() instead of letting them pile up.)
 */
#include "dirwatch.h"
#include "example-cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The predicate: is this the name we wait for?  It only looks at the
 * event (a predicate must not call osevent).  The typemask already
 * guarantees a CREATED event, so the payload is a name. */
static int is_name(const osev_event *ev, void *user)
{
    return strcmp(dirwatch_event_name(ev), user) == 0;
}

/*
 * Wait until @name exists in the directory @dirfd, which a dirwatch on
 * @ctx watches.  Returns 0 with its CREATED event in *ev_out (the
 * caller's to free), 1 if it existed already, -ETIMEDOUT, or another
 * negative errno.
 */
static int wait_for_name(osev_ctx *ctx, int dirfd, const char *name,
                         osev_time deadline, osev_event **ev_out)
{
    struct stat st;

    /* Look for the file only now that the watch exists.  Looking before
     * creating the watch would race: a file made between the look and the
     * watch would be in neither, and we would wait forever. */
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return 1;
    if (errno != ENOENT)
        return -errno;

    return osev_event_wait(ctx, DIRWATCH_MASK(DIRWATCH_EV_CREATED), is_name,
                           (void *)name, deadline, ev_out);
}

/* Print (and free) whatever the filter passed over. */
static void print_passed_over(osev_ctx *ctx)
{
    osev_event *ev;

    while (osev_event_check(ctx, OSEV_EVENTMASK_ALL, NULL, NULL, &ev) == 0) {
        printf("wait-tool: passed over: %-8s %s\n",
               dirwatch_type_name(ev->type), dirwatch_event_name(ev));
        osev_event_free(ctx, ev);
    }
}

/* ---- the --self-test ------------------------------------------------- */

#define TARGET "target.txt"
#define DECOY  "target.txt.part" /* a longer name: only a prefix matches */

/* A timer of ours plays "the other program" that writes the file the
 * careful way: first TARGET.part, then (one pass later) renamed to TARGET.
 * osev_event_wait() serves this timer like any other registration. */
struct writer {
    int dirfd;
    int step;
    bool failed;
};

static void on_writer_timer(osev_timer *t, osev_time now, void *arg)
{
    struct writer *w = arg;
    int fd;

    if (w->step++ == 0) {
        printf("self-test: (timer) create %s\n", DECOY);
        fd = openat(w->dirfd, DECOY, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                    0600);
        if (fd < 0 || close(fd) < 0)
            w->failed = true;
        osev_timer_set(t, now); /* fire again, in the next pass */
    } else {
        printf("self-test: (timer) rename it to %s\n", TARGET);
        if (renameat(w->dirfd, DECOY, w->dirfd, TARGET) < 0)
            w->failed = true;
    }
}

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "self-test: FAILED at line %d: %s\n", __LINE__,    \
                    #cond);                                                    \
            goto out;                                                          \
        }                                                                      \
    } while (0)

static int self_test(void)
{
    char dir[PATH_MAX];
    struct writer w = {.dirfd = -1};
    osev_ctx *ctx = NULL;
    struct dirwatch *dw = NULL;
    osev_timer *timer = NULL;
    osev_event *ev = NULL;
    osev_time deadline, short_deadline;
    int r, status = 1;

    if (example_mkdtemp(dir, "wait-tool") < 0)
        return 1;
    w.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(w.dirfd >= 0);
    CHECK(osev_ctx_new(NULL, &ctx) == 0);
    CHECK(dirwatch_new(ctx, dir, OSEV_TIME_INFINITY, 0, &dw) == 0);
    CHECK(osev_timer_add(ctx, osev_now(), on_writer_timer, &w, &timer) == 0);
    printf("self-test: waiting for %s in %s\n", TARGET, dir);
    deadline = osev_now() + osev_s(10); /* never hang */

    /* 1. The wait returns TARGET's event, made by the rename. */
    r = wait_for_name(ctx, w.dirfd, TARGET, deadline, &ev);
    CHECK(r == 0);
    CHECK(!w.failed && w.step == 2);
    CHECK(ev->type == DIRWATCH_EV_CREATED);
    CHECK(strcmp(dirwatch_event_name(ev), TARGET) == 0);
    printf("self-test: got: %s %s\n", dirwatch_type_name(ev->type),
           dirwatch_event_name(ev));
    osev_event_free(ctx, ev);
    ev = NULL;

    /* 2. DECOY's events came first, and the filter left them queued, in
     * order: its creation (refused by the predicate), then its rename
     * away (refused by the typemask).  Nothing else is queued. */
    CHECK(osev_event_check(ctx, OSEV_EVENTMASK_ALL, NULL, NULL, &ev) == 0);
    CHECK(ev->type == DIRWATCH_EV_CREATED);
    CHECK(strcmp(dirwatch_event_name(ev), DECOY) == 0);
    osev_event_free(ctx, ev);
    ev = NULL;
    CHECK(osev_event_check(ctx, OSEV_EVENTMASK_ALL, NULL, NULL, &ev) == 0);
    CHECK(ev->type == DIRWATCH_EV_DELETED);
    CHECK(strcmp(dirwatch_event_name(ev), DECOY) == 0);
    osev_event_free(ctx, ev);
    ev = NULL;
    CHECK(osev_event_check(ctx, OSEV_EVENTMASK_ALL, NULL, NULL, &ev) ==
          -EAGAIN);
    printf("self-test: %s was passed over, not returned, not lost\n", DECOY);

    /* 3. A name that never comes: -ETIMEDOUT, not before the deadline. */
    short_deadline = osev_now() + osev_ms(200);
    r = wait_for_name(ctx, w.dirfd, "never.txt", short_deadline, &ev);
    CHECK(r == -ETIMEDOUT);
    CHECK(osev_now() >= short_deadline);
    printf("self-test: never.txt timed out\n");

    /* 4. A file that exists already is found without any event. */
    r = wait_for_name(ctx, w.dirfd, TARGET, deadline, &ev);
    CHECK(r == 1);
    printf("self-test: %s found already there\n", TARGET);

    printf("self-test: passed\n");
    status = 0;
out:
    osev_event_free(ctx, ev); /* taken events are ours, even on failure */
    osev_timer_remove(timer);
    dirwatch_free(dw);
    osev_ctx_free(ctx); /* also frees events still queued */
    if (w.dirfd >= 0) {
        unlinkat(w.dirfd, TARGET, 0);
        unlinkat(w.dirfd, DECOY, 0);
        close(w.dirfd);
    }
    rmdir(dir);
    return status;
}

/* ---- the tool ---------------------------------------------------------- */

int main(int argc, char **argv)
{
    osev_time deadline = OSEV_TIME_INFINITY;
    osev_ctx *ctx = NULL;
    struct dirwatch *dw = NULL;
    osev_event *ev = NULL;
    const char *dir, *name;
    int dirfd = -1, r, status = 2;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 2 && strcmp(argv[1], "--self-test") == 0)
        return self_test();
    if (argc < 3 || argc > 4 || argv[1][0] == '-' || !argv[2][0] ||
        strchr(argv[2], '/')) {
        fprintf(stderr, "usage: wait-tool DIR NAME [TIMEOUT_S]\n"
                        "       wait-tool --self-test\n"
                        "NAME is a name in DIR, without '/'.\n");
        return 2;
    }
    dir = argv[1];
    name = argv[2];
    if (argc == 4) {
        char *end;
        double s = strtod(argv[3], &end);

        if (end == argv[3] || *end || !(s >= 0)) {
            fprintf(stderr, "wait-tool: bad timeout: %s\n", argv[3]);
            return 2;
        }
        if (s < 1e9) /* else: as good as forever */
            deadline = osev_now() + (osev_time)(s * 1e9);
    }

    r = osev_ctx_new(NULL, &ctx);
    if (r == 0)
        r = dirwatch_new(ctx, dir, OSEV_TIME_INFINITY, 0, &dw); /* no ticks */
    if (r == 0) {
        dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        r = dirfd < 0 ? -errno : 0;
    }
    if (r < 0) {
        /* strerror(): dirwatch passes on inotify's errors too (ENOENT,
         * ENOTDIR...), which osev_strerror() does not name. */
        fprintf(stderr, "wait-tool: %s: %s\n", dir, strerror(-r));
        goto out;
    }
    printf("wait-tool: waiting for %s in %s\n", name, dir);

    r = wait_for_name(ctx, dirfd, name, deadline, &ev);
    if (r == 0) {
        printf("wait-tool: %-8s %s\n", dirwatch_type_name(ev->type),
               dirwatch_event_name(ev));
        osev_event_free(ctx, ev);
        status = 0;
    } else if (r == 1) {
        printf("wait-tool: %s is there already\n", name);
        status = 0;
    } else if (r == -ETIMEDOUT) {
        printf("wait-tool: timed out\n");
        status = 1;
    } else {
        fprintf(stderr, "wait-tool: %s\n", strerror(-r));
    }
    print_passed_over(ctx);
out:
    if (dirfd >= 0)
        close(dirfd);
    dirwatch_free(dw);
    osev_ctx_free(ctx);
    return status;
}
