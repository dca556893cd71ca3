/*
 * reg.h - the registration-churn benchmark's driver (reg.c) and the
 * contexts it runs on (reg-<loop>.c).
 */
#ifndef OSEV_BENCH_REG_H
#define OSEV_BENCH_REG_H

#include "osevent.h"

struct reg_mode {
    const char *name;
    /* Make the context (and its loop). */
    osev_ctx *(*setup)(void);
    /* One non-blocking dispatch pass: where registrations a loop makes
     * lazily reach the kernel. */
    void (*pass)(void);
    void (*teardown)(void);
};

extern const struct reg_mode reg_modes[];

/* Print "reg: <what>: <error>" and exit(1) on a negative @err. */
void reg_check(int err, const char *what);

#endif
