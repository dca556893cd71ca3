/*
 * poll-loop.c - an application with its own poll() loop, into which
 * osevent adds the fds of the libraries it serves (here: dirwatch).
 * This is the pattern of Xen's libxl_osevent_beforepoll().
 *
 * SPDX-License-Identifier: MIT
 *
 * usage: poll-loop [--count N] [--timeout S] [--tick MS] DIR
 *        poll-loop --self-test
 *
 * Prints every change in DIR, a tick every MS milliseconds (default 1000,
 * 0 for none), and whatever you type on stdin, which is the application's
 * own fd.  --count N exits (status 0) after N file events, --timeout S
 * exits with status 1 after S seconds.  --self-test makes a directory of
 * its own, changes files in it and checks the events it gets.
 *
 * One turn of the loop (see run_loop()):
 *   1. the application's own fds go at the start of one pollfd array;
 *   2. osev_beforepoll() appends osevent's entries after them and lowers
 *      the timeout, growing the array when it answers -ENOBUFS;
 *   3. one poll() waits for all of them;
 *   4. osev_afterpoll() runs the ready callbacks: dirwatch reads inotify
 *      and posts events;
 *   5. the application serves its own fds, then drains the event queue
 *      with osev_event_check().
 */
#define _GNU_SOURCE /* pipe2() */
#include "dirwatch.h"
#include "example-cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The application's state. */
struct app {
    int own_fd;         /* stdin, or the self-test's pipe; -1 after EOF */
    long count;         /* stop after this many file events; 0: never */
    long file_events;   /* file events seen */
    osev_time deadline; /* give up then (status 1) */
    bool done;          /* leave the loop */
    int status;         /* the exit status */
    struct example_selftest *st; /* NULL unless --self-test */
    int pipe_w; /* --self-test: a byte written here asks for a step */
};

static void fail(struct app *app, const char *what)
{
    fprintf(stderr, "poll-loop: %s\n", what);
    app->status = 1;
    app->done = true;
}

/* ---- the --self-test script ------------------------------------------ */

/* Ask for the next step through our own pipe, which the loop polls next
 * to osevent's fds: the step then runs from step 5 of a later turn. */
static void request_step(struct app *app)
{
    if (write(app->pipe_w, "s", 1) != 1)
        fail(app, "self-test: cannot write to the pipe");
}

static void play_step(struct app *app)
{
    if (!example_selftest_play(app->st))
        fail(app, "self-test: cannot change the file");
}

static void check_event(struct app *app, const osev_event *ev)
{
    switch (example_selftest_check(app->st, ev)) {
    case EXAMPLE_WAIT:
        break;
    case EXAMPLE_NEXT:
        request_step(app);
        break;
    case EXAMPLE_PASSED:
        app->status = 0;
        app->done = true;
        break;
    case EXAMPLE_WRONG:
        fail(app, "self-test: FAILED: an event that no step expects");
        break;
    }
}

/* ---- the application ----------------------------------------------- */

/* Serve the application's own fd (step 5). */
static void serve_own_fd(struct app *app)
{
    char buf[256];
    ssize_t n;

    if (app->st) {
        /* Our pipe is non-blocking: read until EAGAIN; each byte is one
         * step to play. */
        while ((n = read(app->own_fd, buf, sizeof buf)) > 0)
            for (ssize_t i = 0; i < n; i++)
                play_step(app);
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            fail(app, "self-test: the pipe failed");
        return;
    }

    /* stdin is the one fd we leave blocking: O_NONBLOCK would be set on
     * the terminal's open file, which the shell shares with us.  After
     * poll() said POLLIN, a single read() does not block. */
    n = read(app->own_fd, buf, sizeof buf);
    if (n > 0) {
        if (buf[n - 1] == '\n')
            n--;
        printf("poll-loop: stdin says: %.*s\n", (int)n, buf);
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        /* End of input (or stdin closed): stop polling it, but keep
         * watching the directory. */
        app->own_fd = -1;
    }
}

/* Take every queued event, oldest first, and free it (step 5). */
static void drain_events(osev_ctx *ctx, struct app *app)
{
    osev_event *ev;
    int r = -EAGAIN;

    while (!app->done && (r = osev_event_check(ctx, OSEV_EVENTMASK_ALL, NULL,
                                               NULL, &ev)) == 0) {
        example_print_event("poll-loop", ev);
        if (app->st)
            check_event(app, ev);
        else if (ev->type != DIRWATCH_EV_TICK && app->count > 0 &&
                 ++app->file_events == app->count)
            app->done = true;
        osev_event_free(ctx, ev); /* the event was ours since check */
    }
    /* -EAGAIN is "queue empty".  Anything else is -EIO: a producer called
     * osev_disaster() (events were lost) and we set no disaster hook. */
    if (!app->done && r != -EAGAIN)
        fail(app, osev_strerror(r));
}

/* poll()'s timeout in milliseconds until @deadline, rounded up so poll
 * never wakes before it; -1 for none. */
static int ms_until(osev_time deadline, osev_time now)
{
    osev_time ms;

    if (deadline == OSEV_TIME_INFINITY)
        return -1;
    if (deadline <= now)
        return 0;
    ms = (deadline - now + 999999) / 1000000;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

static void run_loop(osev_ctx *ctx, struct app *app)
{
    /* Start with room for our own fd only, so the first turn shows how
     * the array grows.  osevent keeps no pointer into it: we may move it
     * between turns. */
    int cap = 1;
    struct pollfd *pfds = calloc((size_t)cap, sizeof *pfds);

    if (!pfds) {
        fail(app, "out of memory");
        return;
    }
    while (!app->done) {
        osev_time now = osev_now();
        int nown = 0, nosev, timeout, r;

        if (now >= app->deadline) {
            fail(app, "timed out");
            break;
        }
        timeout = ms_until(app->deadline, now);

        /* 1. Our own entries first. */
        if (app->own_fd >= 0)
            pfds[nown++] = (struct pollfd){.fd = app->own_fd, .events = POLLIN};

        /* 2. osevent's entries after ours.  We offer the rest of the
         * array; when it is too small osevent answers -ENOBUFS, writes
         * nothing, and sets nosev to the number it needs: grow, ask
         * again.  The timeout is only ever lowered. */
        for (;;) {
            nosev = cap - nown;
            r = osev_beforepoll(ctx, &nosev, pfds + nown, &timeout, now);
            if (r != -ENOBUFS)
                break;
            struct pollfd *bigger =
                realloc(pfds, (size_t)(nown + nosev) * sizeof *pfds);
            if (!bigger) {
                r = -ENOMEM;
                break;
            }
            pfds = bigger;
            cap = nown + nosev;
        }
        if (r < 0) {
            fail(app, osev_strerror(r));
            break;
        }

        /* 3. One poll() for everything. */
        if (poll(pfds, (nfds_t)(nown + nosev), timeout) < 0) {
            if (errno == EINTR)
                continue; /* the next osev_beforepoll() starts afresh */
            fail(app, strerror(errno));
            break;
        }

        /* 4. osevent's slice, with exactly the count beforepoll gave.
         * now 0: read the clock again, poll() may have slept. */
        osev_afterpoll(ctx, nosev, pfds + nown, 0);

        /* 5. Our own fd, then the events the callbacks posted. */
        if (nown > 0 && pfds[0].revents)
            serve_own_fd(app);
        drain_events(ctx, app);
    }
    free(pfds);
}

/* A context for one thread: we never touch it from another, so it needs
 * no locking. */
static int new_ctx(osev_ctx **ctx)
{
    const struct osev_ctx_opts opts = {
        .size = sizeof opts,
        .flags = OSEV_CTX_SINGLE_THREAD,
    };

    return osev_ctx_new(&opts, ctx);
}

/* ---- the two modes ---------------------------------------------------- */

static int watch(const char *dir, long count, long timeout_s, long tick_ms)
{
    struct app app = {
        .own_fd = STDIN_FILENO,
        .count = count,
        .deadline = OSEV_TIME_INFINITY,
    };
    osev_time tick;
    osev_ctx *ctx;
    struct dirwatch *dw;
    int r;

    if (timeout_s > 0)
        app.deadline = osev_now() + osev_s(timeout_s);
    r = new_ctx(&ctx);
    if (r < 0) {
        fprintf(stderr, "poll-loop: osev_ctx_new: %s\n", osev_strerror(r));
        return 1;
    }
    /* No ticks: OSEV_TIME_INFINITY. */
    tick = tick_ms > 0 ? osev_ms(tick_ms) : OSEV_TIME_INFINITY;
    r = dirwatch_new(ctx, dir, tick, 0, &dw);
    if (r < 0) {
        /* strerror(): dirwatch passes on inotify's errors too (ENOENT,
         * ENOTDIR...), which osev_strerror() does not name. */
        fprintf(stderr, "poll-loop: %s: %s\n", dir, strerror(-r));
        osev_ctx_free(ctx);
        return 1;
    }
    printf("poll-loop: watching %s\n", dir);
    run_loop(ctx, &app);
    dirwatch_free(dw);
    osev_ctx_free(ctx);
    return app.status;
}

static int self_test(void)
{
    struct example_selftest st;
    struct app app = {
        .own_fd = -1,
        .pipe_w = -1,
        .status = 1, /* failed, until check_event() says otherwise */
        .deadline = osev_now() + osev_s(10), /* never hang */
        .st = &st,
    };
    osev_ctx *ctx = NULL;
    struct dirwatch *dw = NULL;
    int pipefd[2], r;

    if (example_selftest_open(&st, "poll-loop") < 0)
        return 1;
    if (pipe2(pipefd, O_NONBLOCK | O_CLOEXEC) < 0) {
        perror("poll-loop: pipe2");
        goto out;
    }
    app.own_fd = pipefd[0];
    app.pipe_w = pipefd[1];
    r = new_ctx(&ctx);
    if (r >= 0)
        r = dirwatch_new(ctx, st.dir, osev_ms(100), 0, &dw);
    if (r < 0) {
        fprintf(stderr, "poll-loop: %s\n", strerror(-r));
        goto out;
    }
    printf("self-test: watching %s\n", st.dir);
    request_step(&app); /* the first step; each event asks for the next */
    run_loop(ctx, &app);

out:
    dirwatch_free(dw);
    osev_ctx_free(ctx);
    example_selftest_close(&st);
    if (app.pipe_w >= 0) {
        close(pipefd[0]);
        close(pipefd[1]);
    }
    return app.status;
}

int main(int argc, char **argv)
{
    return example_main("poll-loop", argc, argv, self_test, watch);
}
