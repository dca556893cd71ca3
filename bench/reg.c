/*
 * reg.c - the registration-churn benchmark's driver: what it costs to
 * start and stop watching fds that are already open.  On K eventfds, each
 * phase measured alone (callgrind dump and clock, named):
 *  - add:      K osev_fd_add(POLLIN), one per fd, outside any pass;
 *  - pass-add: the next non-blocking pass (lazy registrations land);
 *  - modify:   (OPS "am" only) osev_fd_modify(POLLIN) on every watch: the
 *              merged mask does not change, so no hook call and no
 *              epoll_ctl should follow; prints the hook's fd_modifies;
 *  - pass-modify;
 *  - remove:   K osev_fd_remove();
 *  - pass-remove.
 * Prints "MODE K PHASE OPS NS [HOOK_MODIFIES]" per phase.  bench/run
 * counts system calls by running it under strace -c with K and with K=0
 * (and with OPS "a" and "am") and dividing the differences by K.
 *
 * usage: reg-<loop> MODE K a|am | --list
 */
#define _GNU_SOURCE
#include "reg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "phase.h"

static const struct reg_mode *mode;
static int nfds;

void reg_check(int err, const char *what)
{
    if (err < 0) {
        fprintf(stderr, "reg: %s: %s\n", what, osev_strerror(err));
        exit(1);
    }
}

static void on_fd(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)fd, (void)revents, (void)arg;
    fprintf(stderr, "reg: an fd callback ran: nothing is readable\n");
    exit(1);
}

static void end(int64_t t0, const char *name)
{
    int64_t dt = bench_phase_end(t0, name);

    printf("%s %d %s %d %lld\n", mode->name, nfds, name, nfds,
           (long long)dt);
}

static void pass(const char *name)
{
    int64_t t0 = bench_phase_begin();

    mode->pass();
    end(t0, name);
}

static uint64_t hook_modifies(osev_ctx *ctx)
{
    struct osev_hook_stats st = { .size = sizeof st };

    reg_check(osev_get_hook_stats(ctx, &st), "osev_get_hook_stats");
    return st.fd_modifies;
}

int main(int argc, char **argv)
{
    struct rlimit rl;
    osev_ctx *ctx;
    osev_fd **w;
    int *fds;
    int64_t t0;
    uint64_t m0;

    mode = reg_modes;
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (; mode->name; mode++)
            puts(mode->name);
        return 0;
    }
    if (argc != 4) {
        fprintf(stderr, "usage: %s MODE K a|am | --list\n", argv[0]);
        return 2;
    }
    while (mode->name && strcmp(mode->name, argv[1]) != 0)
        mode++;
    nfds = atoi(argv[2]);
    if (!mode->name || nfds < 0) {
        fprintf(stderr, "%s: unknown mode or bad K\n", argv[0]);
        return 2;
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    fds = calloc((size_t)nfds + 1, sizeof *fds);
    w = calloc((size_t)nfds + 1, sizeof *w);
    if (!fds || !w)
        reg_check(-ENOMEM, "calloc");
    for (int i = 0; i < nfds; i++) {
        fds[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        reg_check(fds[i] < 0 ? -errno : 0, "eventfd");
    }
    ctx = mode->setup();
    mode->pass();

    t0 = bench_phase_begin();
    for (int i = 0; i < nfds; i++)
        reg_check(osev_fd_add(ctx, fds[i], POLLIN, on_fd, NULL, &w[i]),
                  "osev_fd_add");
    end(t0, "add");
    pass("pass-add");
    if (strcmp(argv[3], "am") == 0) {
        m0 = hook_modifies(ctx);
        t0 = bench_phase_begin();
        for (int i = 0; i < nfds; i++)
            reg_check(osev_fd_modify(w[i], POLLIN), "osev_fd_modify");
        end(t0, "modify");
        printf("%s %d hook-modifies %d %llu\n", mode->name, nfds, nfds,
               (unsigned long long)(hook_modifies(ctx) - m0));
        pass("pass-modify");
    }
    t0 = bench_phase_begin();
    for (int i = 0; i < nfds; i++)
        osev_fd_remove(w[i]);
    end(t0, "remove");
    pass("pass-remove");
    mode->teardown();
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    free(fds);
    free(w);
    return 0;
}
