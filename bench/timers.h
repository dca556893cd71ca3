/*
 * timers.h - the timer benchmark's shared driver and the interface each
 * loop's modes implement (bench/tm-<loop>.c).
 *
 * Phases, each measured alone (callgrind dump and clock, named):
 *  - add:    T one-shot timers added, deadlines scattered 1 to 2 hours
 *            ahead (as unrelated connections' idle timeouts would be);
 *  - cancel: all T removed, outside any dispatch pass;
 *  - fire:   T timers whose deadlines have passed (added unmeasured),
 *            run by the loop's non-blocking turns until all have fired;
 *  - idle:   TM_IDLE_PASSES non-blocking turns that find nothing to do,
 *            with TM_IDLE_TIMERS far timers pending.
 */
#ifndef OSEV_BENCH_TIMERS_H
#define OSEV_BENCH_TIMERS_H

#define TM_IDLE_TIMERS 100000
#define TM_IDLE_PASSES 1000

struct tm_mode {
    const char *name;
    /* Make the loop, with room for @n timers (indices 0..n-1). */
    void (*setup)(int n);
    /* Add timer @i, due @delay seconds from now (<= 0: already due). */
    void (*add)(int i, double delay);
    /* Remove timer @i (armed or fired). */
    void (*cancel)(int i);
    /* One non-blocking turn of the loop: run whatever is due. */
    void (*turn)(void);
    void (*teardown)(void);
};

extern const struct tm_mode tm_modes[];

/* What every timer callback calls. */
void tm_fired(void);

/* Print "timers: <what>" and exit(1); exit(1) on a negative @err. */
void tm_fail(const char *what) __attribute__((noreturn));
void tm_check(int err, const char *what);

#endif
