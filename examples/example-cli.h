/*
 * example-cli.h - what the dirwatch examples share around their loops:
 * poll-loop's and glib-app's command line, and the --self-test script
 * they both play (wait-tool takes its temporary directory from here too).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef EXAMPLE_CLI_H
#define EXAMPLE_CLI_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dirwatch.h"

/*
 * example_main - the main() of poll-loop and glib-app (@prog), whose
 * command line is
 *     PROG [--count N] [--timeout S] [--tick MS] DIR
 *     PROG --self-test
 * --count N: stop (status 0) after N file events; --timeout S: give up
 * (status 1) after S seconds; --tick MS: a tick every MS ms (default
 * 1000, 0 for none); for count and timeout_s, 0 means never.
 * Makes stdout line-buffered (so that the program's lines interleave
 * sensibly with other programs', see demo.sh), parses the command line
 * and runs @self_test() or @watch() on what it gave.  Returns their
 * status, 0 after --help (usage on stdout), 2 after a usage error (usage
 * on stderr).
 */
int example_main(const char *prog, int argc, char **argv,
                 int (*self_test)(void),
                 int (*watch)(const char *dir, long count, long timeout_s,
                              long tick_ms));

/* Print @ev as both programs do: "PROG: tick N" or "PROG: created  NAME". */
void example_print_event(const char *prog, const osev_event *ev);

/*
 * example_mkdtemp - make a fresh directory $TMPDIR/@prog.XXXXXX (/tmp
 * without TMPDIR) and write its name to @dir.  Returns 0, or -1 after
 * saying why on stderr.
 */
int example_mkdtemp(char dir[PATH_MAX], const char *prog);

/*
 * The --self-test script: each step changes a file in a directory of the
 * test's own, and the event it must produce has the step's type.  The
 * program plays one step, waits for its event, then asks for the next, so
 * the order of events is certain.  The test passes once every step's
 * event came, in order, and at least one tick.
 */
struct example_selftest {
    char dir[PATH_MAX]; /* our temporary directory */
    int dirfd;          /* open on it, for openat()/unlinkat() */
    size_t played;      /* steps played */
    size_t seen;        /* steps whose event arrived */
    uint64_t ticks;
};

/*
 * example_selftest_open - make the directory (example_mkdtemp()) and open
 * it.  Returns 0, or -1 after saying why on stderr, with nothing left to
 * undo.  Otherwise example_selftest_close() undoes it.
 */
int example_selftest_open(struct example_selftest *st, const char *prog);

/* Remove what the steps may have left, and the directory. */
void example_selftest_close(struct example_selftest *st);

/* Play the next step, if any is left, saying so on stdout.  Returns false
 * when the file could not be changed. */
bool example_selftest_play(struct example_selftest *st);

/* What example_selftest_check() makes of an event. */
enum example_verdict {
    EXAMPLE_WAIT,   /* fine: wait for more */
    EXAMPLE_NEXT,   /* the step's event: ask for the next step */
    EXAMPLE_PASSED, /* the test passed (said on stdout) */
    EXAMPLE_WRONG,  /* an event that no step expects: the test failed */
};

/* Check one event dirwatch posted against the script. */
enum example_verdict example_selftest_check(struct example_selftest *st,
                                            const osev_event *ev);

#endif /* EXAMPLE_CLI_H */
