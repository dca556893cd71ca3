/*
 * xthread.h - the cross-thread benchmark's driver (xthread.c) and the
 * loops it hands work to (xt-<loop>.c).
 */
#ifndef OSEV_BENCH_XTHREAD_H
#define OSEV_BENCH_XTHREAD_H

struct xt_mode {
    const char *name;
    /* Start a thread running the loop; return once it runs. */
    void (*start)(void);
    /* From the calling (other) thread: have xt_ran() called once on the
     * loop's thread. */
    void (*post)(void);
    /* Stop the loop and join its thread. */
    void (*stop)(void);
};

extern const struct xt_mode xt_modes[];

/* What each posted call runs, on the loop's thread. */
void xt_ran(void);

/* Print "xthread: <what>" and exit(1). */
void xt_fail(const char *what) __attribute__((noreturn));

#endif
