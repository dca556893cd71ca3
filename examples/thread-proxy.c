/*
 * thread-proxy.c - worker threads hand their results to the thread that
 * runs the loop, with osev_schedule() (tevent's thread proxy, as in the
 * tevent tutorial's request/reply example).
 *
 * SPDX-License-Identifier: MIT
 *
 * usage: thread-proxy [WORKERS [JOBS]]
 *        thread-proxy --self-test
 *
 * The main thread owns the context and runs osev_loop_run().  Each worker
 * thread gets a batch of requests ("how many primes are there below n?"),
 * works them out, and sends each answer back as a reply: a malloc'd
 * struct whose ownership goes with osev_schedule().  on_reply() then runs
 * on the main thread, never on a worker, so it may touch the main
 * thread's data without a lock: it counts the replies and ends the loop
 * when all have arrived.  The replies of one worker arrive in the order it
 * sent them; a burst of them costs one wakeup of the loop.
 *
 * Were the context freed while replies are still queued, osevent would
 * give each back through reply_free(), the release passed with it: no
 * reply is ever leaked, or delivered to a context that is gone.
 *
 * --self-test runs 4 workers x 250 jobs and exits 0 only if every reply
 * arrived exactly once, on the main thread, in each worker's order, with
 * the right answer; 1 otherwise; 2 on a usage or system error.
 */
#include <osevent.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORKERS 64

/* One worker's requests, and what the main thread knows of its replies. */
struct worker {
    pthread_t thread;
    osev_ctx *ctx;       /* where to send the replies */
    int index;
    int first_job, njobs;
    int failed;          /* osev_schedule() errors, read after join */
};

/* A reply travels from a worker to the main thread. */
struct reply {
    int worker;
    int job;
    unsigned long n;
    unsigned long primes;
};

/* The main thread's state; only on_reply() changes it, on the main
 * thread, so it needs no lock. */
struct tally {
    pthread_t main_thread;
    int expected, arrived;
    int *seen;           /* per job: how many replies */
    int next_of[MAX_WORKERS]; /* per worker: the job expected next */
    int out_of_order, wrong_thread, wrong_answer;
    bool verbose;
};

static struct tally tally;

static unsigned long job_n(int job)
{
    return 1000 + (unsigned long)job * 37;
}

/* The "work": deliberately plain trial division. */
static unsigned long count_primes_below(unsigned long n)
{
    unsigned long count = 0;

    for (unsigned long k = 2; k < n; k++) {
        bool prime = true;

        for (unsigned long d = 2; d * d <= k; d++)
            if (k % d == 0) {
                prime = false;
                break;
            }
        count += prime;
    }
    return count;
}

/* The release: a reply the main thread never got is freed here. */
static void reply_free(void *arg)
{
    free(arg);
}

/* Runs on the thread that dispatches the context: the main thread. */
static void on_reply(osev_ctx *ctx, void *arg)
{
    struct reply *rp = arg; /* ours now */

    if (!pthread_equal(pthread_self(), tally.main_thread))
        tally.wrong_thread++;
    if (rp->job != tally.next_of[rp->worker])
        tally.out_of_order++;
    tally.next_of[rp->worker] = rp->job + 1;
    if (rp->job >= 0 && rp->job < tally.expected)
        tally.seen[rp->job]++;
    if (rp->job == 0 && rp->primes != 168) /* primes below 1000 */
        tally.wrong_answer++;
    if (tally.verbose)
        printf("worker %d: job %d: %lu primes below %lu\n", rp->worker,
               rp->job, rp->primes, rp->n);
    free(rp);
    if (++tally.arrived == tally.expected)
        osev_loop_exit(ctx, 0);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;

    for (int j = w->first_job; j < w->first_job + w->njobs; j++) {
        struct reply *rp = malloc(sizeof *rp);

        if (!rp) {
            w->failed++;
            continue;
        }
        *rp = (struct reply){ .worker = w->index, .job = j, .n = job_n(j) };
        rp->primes = count_primes_below(rp->n);
        /* The reply is the main thread's from here on, or reply_free()'s
         * if the context goes first.  On failure it is still ours. */
        if (osev_schedule(w->ctx, on_reply, reply_free, rp) < 0) {
            free(rp);
            w->failed++;
        }
    }
    return NULL;
}

/* A guard, so that a lost reply fails instead of hanging. */
static void on_guard(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now;
    fprintf(stderr, "thread-proxy: replies missing after 30 s\n");
    osev_loop_exit(arg, 1);
}

static int run(int nworkers, int jobs_per_worker, bool verbose)
{
    struct worker workers[MAX_WORKERS];
    osev_ctx *ctx = NULL;
    osev_timer *guard = NULL;
    int started = 0, r, status = 2;
    int failed = 0;

    tally = (struct tally){ .main_thread = pthread_self(),
                            .expected = nworkers * jobs_per_worker,
                            .verbose = verbose };
    tally.seen = calloc((size_t)tally.expected, sizeof *tally.seen);
    if (!tally.seen)
        return 2;
    r = osev_ctx_new(NULL, &ctx);
    if (r == 0)
        r = osev_timer_add(ctx, osev_now() + osev_s(30), on_guard, ctx,
                           &guard);
    if (r < 0) {
        fprintf(stderr, "thread-proxy: %s\n", osev_strerror(r));
        goto out;
    }
    for (; started < nworkers; started++) {
        struct worker *w = &workers[started];

        *w = (struct worker){ .ctx = ctx, .index = started,
                              .first_job = started * jobs_per_worker,
                              .njobs = jobs_per_worker };
        tally.next_of[started] = w->first_job;
        r = pthread_create(&w->thread, NULL, worker_main, w);
        if (r != 0) {
            fprintf(stderr, "thread-proxy: pthread_create: %s\n",
                    strerror(r));
            break;
        }
    }
    /* Without all workers, do not wait: the replies of those that did
     * start are freed by osev_ctx_free() below. */
    if (started == nworkers)
        status = osev_loop_run(ctx) == 0 ? 0 : 1;

out:
    /* Join first: the context must outlive every osev_schedule() call. */
    for (int i = 0; i < started; i++) {
        pthread_join(workers[i].thread, NULL);
        failed += workers[i].failed;
    }
    osev_timer_remove(guard);
    osev_ctx_free(ctx); /* would free replies still queued */
    if (status == 0 && failed) {
        fprintf(stderr, "thread-proxy: %d replies could not be sent\n",
                failed);
        status = 1;
    }
    return status;
}

static int self_test(void)
{
    const int nworkers = 4, jobs = 250;
    int status = run(nworkers, jobs, false), once = 0;

    for (int j = 0; j < tally.expected; j++)
        once += tally.seen[j] == 1;
    for (int i = 0; i < nworkers; i++)
        if (tally.next_of[i] != (i + 1) * jobs)
            tally.out_of_order++;
    printf("self-test: %d of %d replies arrived exactly once; %d out of "
           "order, %d on another thread, %d wrong\n", once, tally.expected,
           tally.out_of_order, tally.wrong_thread, tally.wrong_answer);
    if (status == 0 && once == tally.expected &&
        tally.arrived == tally.expected && !tally.out_of_order &&
        !tally.wrong_thread && !tally.wrong_answer) {
        printf("self-test: passed\n");
    } else {
        fprintf(stderr, "self-test: FAILED\n");
        if (status == 0)
            status = 1;
    }
    free(tally.seen);
    return status;
}

int main(int argc, char **argv)
{
    int nworkers = 4, jobs = 5, status;

    if (argc == 2 && strcmp(argv[1], "--self-test") == 0)
        return self_test();
    if (argc > 3 || (argc > 1 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: thread-proxy [WORKERS [JOBS]]\n"
                        "       thread-proxy --self-test\n");
        return 2;
    }
    if (argc > 1)
        nworkers = atoi(argv[1]);
    if (argc > 2)
        jobs = atoi(argv[2]);
    if (nworkers < 1 || nworkers > MAX_WORKERS || jobs < 1 ||
        jobs > 100000) {
        fprintf(stderr, "thread-proxy: 1..%d workers, 1..100000 jobs\n",
                MAX_WORKERS);
        return 2;
    }
    status = run(nworkers, jobs, true);
    free(tally.seen);
    return status;
}
