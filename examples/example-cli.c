/*
 * example-cli.c - the command line and the --self-test script of the
 * dirwatch examples (see example-cli.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "example-cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the command line ------------------------------------------------- */

static bool parse_long(const char *s, long min, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min)
        return false;
    *out = v;
    return true;
}

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s [--count N] [--timeout S] [--tick MS] DIR\n"
            "       %s --self-test\n",
            prog, prog);
}

/* The command line, parsed. */
struct example_args {
    long count, timeout_s, tick_ms;
    bool self_test;
    const char *dir; /* NULL with --self-test */
};

/* Returns -1 when the program is to run with *args, else the status to
 * exit with. */
static int parse_args(const char *prog, int argc, char **argv,
                      struct example_args *args)
{
    static const struct option options[] = {
        {"count", required_argument, NULL, 'c'},
        {"timeout", required_argument, NULL, 't'},
        {"tick", required_argument, NULL, 'k'},
        {"self-test", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    *args = (struct example_args){.tick_ms = 1000};
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            if (!parse_long(optarg, 1, &args->count))
                goto bad;
            break;
        case 't':
            if (!parse_long(optarg, 1, &args->timeout_s))
                goto bad;
            break;
        case 'k':
            if (!parse_long(optarg, 0, &args->tick_ms))
                goto bad;
            break;
        case 's':
            args->self_test = true;
            break;
        case 'h':
            usage(stdout, prog);
            return 0;
        default:
            goto bad;
        }
    }
    if (args->self_test && optind == argc)
        return -1;
    if (!args->self_test && optind == argc - 1) {
        args->dir = argv[optind];
        return -1;
    }
bad:
    usage(stderr, prog);
    return 2;
}

int example_main(const char *prog, int argc, char **argv,
                 int (*self_test)(void),
                 int (*watch)(const char *dir, long count, long timeout_s,
                              long tick_ms))
{
    struct example_args args;
    int r;

    setvbuf(stdout, NULL, _IOLBF, 0);
    r = parse_args(prog, argc, argv, &args);
    if (r >= 0)
        return r;
    if (args.self_test)
        return self_test();
    return watch(args.dir, args.count, args.timeout_s, args.tick_ms);
}

void example_print_event(const char *prog, const osev_event *ev)
{
    if (ev->type == DIRWATCH_EV_TICK)
        printf("%s: tick %" PRIu64 "\n", prog, dirwatch_event_tick(ev));
    else
        printf("%s: %-8s %s\n", prog, dirwatch_type_name(ev->type),
               dirwatch_event_name(ev));
}

/* ---- the --self-test script ------------------------------------------- */

struct step {
    unsigned type; /* CREATED: create it, MODIFIED: append, DELETED: unlink */
    const char *name;
};
static const struct step steps[] = {
    {DIRWATCH_EV_CREATED, "alpha.txt"},  {DIRWATCH_EV_CREATED, "beta.log"},
    {DIRWATCH_EV_MODIFIED, "alpha.txt"}, {DIRWATCH_EV_DELETED, "alpha.txt"},
    {DIRWATCH_EV_DELETED, "beta.log"},
};
#define NSTEPS (sizeof steps / sizeof steps[0])

int example_mkdtemp(char dir[PATH_MAX], const char *prog)
{
    const char *tmp = getenv("TMPDIR");
    int r;

    if (!tmp || !*tmp)
        tmp = "/tmp";
    r = snprintf(dir, PATH_MAX, "%s/%s.XXXXXX", tmp, prog);
    if (r < 0 || r >= PATH_MAX || !mkdtemp(dir)) {
        fprintf(stderr, "%s: mkdtemp: %s\n", prog, strerror(errno));
        return -1;
    }
    return 0;
}

int example_selftest_open(struct example_selftest *st, const char *prog)
{
    *st = (struct example_selftest){.dirfd = -1};
    if (example_mkdtemp(st->dir, prog) < 0)
        return -1;
    st->dirfd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (st->dirfd < 0) {
        fprintf(stderr, "%s: open: %s\n", prog, strerror(errno));
        rmdir(st->dir);
        return -1;
    }
    return 0;
}

void example_selftest_close(struct example_selftest *st)
{
    /* A failed run may leave files behind. */
    for (size_t i = 0; i < NSTEPS; i++)
        unlinkat(st->dirfd, steps[i].name, 0);
    close(st->dirfd);
    rmdir(st->dir);
}

bool example_selftest_play(struct example_selftest *st)
{
    const struct step *s;
    bool ok = false;
    int fd;

    if (st->played == NSTEPS)
        return true;
    s = &steps[st->played++];
    switch (s->type) {
    case DIRWATCH_EV_CREATED:
        printf("self-test: create %s\n", s->name);
        fd = openat(st->dirfd, s->name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                    0600);
        ok = fd >= 0 && close(fd) == 0;
        break;
    case DIRWATCH_EV_MODIFIED:
        printf("self-test: append to %s\n", s->name);
        fd = openat(st->dirfd, s->name, O_WRONLY | O_APPEND | O_CLOEXEC);
        ok = fd >= 0 && write(fd, "hello\n", 6) == 6;
        if (fd >= 0)
            close(fd);
        break;
    case DIRWATCH_EV_DELETED:
        printf("self-test: delete %s\n", s->name);
        ok = unlinkat(st->dirfd, s->name, 0) == 0;
        break;
    }
    return ok;
}

/* Every file event must be the one the next step expects, in order. */
enum example_verdict example_selftest_check(struct example_selftest *st,
                                            const osev_event *ev)
{
    enum example_verdict v = EXAMPLE_WAIT;

    if (ev->type == DIRWATCH_EV_TICK) {
        st->ticks++;
    } else {
        const struct step *want = st->seen < NSTEPS ? &steps[st->seen] : NULL;

        if (!want || ev->type != want->type ||
            strcmp(dirwatch_event_name(ev), want->name) != 0)
            return EXAMPLE_WRONG;
        if (++st->seen < NSTEPS)
            v = EXAMPLE_NEXT;
    }
    if (st->seen == NSTEPS && st->ticks > 0) {
        printf("self-test: passed (%zu file events in order, %" PRIu64
               " tick(s))\n",
               st->seen, st->ticks);
        v = EXAMPLE_PASSED;
    }
    return v;
}
