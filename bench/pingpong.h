/*
 * pingpong.h - the ping-pong benchmark's shared core and the interface
 * each loop's modes implement (bench/pp-<loop>.c).
 *
 * Work (libevent's test/bench.c): N socketpairs, the read end of each
 * watched for reading; A chains of one byte each.  A callback recv()s the
 * byte of pair i and send()s one to pair (i + 1) mod N, until E events
 * have been handled: exactly E bytes are ever sent (A to start, E - A
 * forwarded), so the loop ends with every pair drained.
 */
#ifndef OSEV_BENCH_PINGPONG_H
#define OSEV_BENCH_PINGPONG_H

struct pp_mode {
    const char *name;
    /* Register a watch on every pp_rd[i] (i: the pair's index, to pass to
     * pp_readable) and run one non-blocking turn of the loop, so that
     * registrations a loop makes lazily are not counted in the phase. */
    void (*setup)(void);
    /* One blocking turn of the loop. */
    void (*once)(void);
    /* Undo setup. */
    void (*teardown)(void);
};

/* The modes of this program, ended by an entry with a NULL name. */
extern const struct pp_mode pp_modes[];

extern int pp_n;    /* pairs */
extern int *pp_rd;  /* pp_rd[i]: the watched (read) end of pair i */

/* The callback body every mode runs for pair @i: recv 1, count, send 1 on
 * to the next pair. */
void pp_readable(int i);

/* Print "pingpong: <what>" and exit(1). */
void pp_fail(const char *what) __attribute__((noreturn));

/* pp_fail() if @err (a negative errno, or -1 with errno set) is < 0. */
void pp_check(int err, const char *what);

#endif
