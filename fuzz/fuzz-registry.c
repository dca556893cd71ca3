/*
 * fuzz-registry.c - drive random sequences of registry, event and pull
 * operations, including the reentrant ones (callbacks that remove other
 * watches, re-arm timers, free the context), and check the invariants the
 * contract states: every release exactly once, nothing called after its
 * removal, no crash, no leak.
 *
 * Built two ways: with -fsanitize=fuzzer (clang) as a libFuzzer target
 * (`make fuzz`), and always as fuzz/fuzz-registry-replay, whose main()
 * replays pseudo-random inputs from a fixed seed in `make check`, so the
 * sanitizer and valgrind runs of the suite cover it too.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "osevent.h"

#define NFD 6
#define NW 16
#define NT 16

struct slot {
    void *h;           /* osev_fd * or osev_timer *, NULL when free */
    int released;      /* how many times release ran */
    bool removed;
};

struct state {
    osev_ctx *ctx;
    int fds[NFD];
    struct slot w[NW], t[NT];
    const uint8_t *in;
    size_t len, pos;
    bool freed;        /* a callback freed the context */
    bool freeing;      /* run_one is freeing the context */
};

static uint8_t next(struct state *st)
{
    return st->pos < st->len ? st->in[st->pos++] : 0;
}

static struct state *cur;

static void release_cb(void *arg)
{
    struct slot *s = arg;

    s->released++;
    if (s->released != 1 || (!s->removed && !cur->freed && !cur->freeing))
        abort(); /* released twice, or while still live */
}

static void remove_watch(struct state *st, int i)
{
    if (!st->w[i].h || st->w[i].removed)
        return;
    st->w[i].removed = true;
    osev_fd_remove(st->w[i].h);
}

static void remove_timer(struct state *st, int i)
{
    if (!st->t[i].h || st->t[i].removed)
        return;
    st->t[i].removed = true;
    osev_timer_remove(st->t[i].h);
}

/* What a callback does: consumes one input byte to decide. */
static void reenter(struct state *st)
{
    uint8_t b = next(st);

    switch (b % 8) {
    case 0:
        remove_watch(st, (b >> 3) % NW);
        break;
    case 1:
        remove_timer(st, (b >> 3) % NT);
        break;
    case 2: {
        struct slot *s = &st->t[(b >> 3) % NT];
        if (s->h && !s->removed)
            osev_timer_set(s->h, osev_now() - 1000 * (b >> 6));
        break;
    }
    case 3:
        if (b == 3) { /* rare: free the context from a callback */
            st->freed = true;
            osev_ctx_free(st->ctx);
        }
        break;
    default:
        break;
    }
}

static void fd_cb(osev_fd *w, int fd, short revents, void *arg)
{
    struct slot *s = arg;

    if (s->removed || s->h != w || fd < 0 || !revents || cur->freed)
        abort(); /* called after removal, or after the free */
    reenter(cur);
}

static void timer_cb(osev_timer *t, osev_time now, void *arg)
{
    struct slot *s = arg;

    (void)now;
    if (s->removed || s->h != t || cur->freed)
        abort();
    reenter(cur);
}

static void defer_cb(osev_ctx *ctx, void *arg)
{
    (void)arg;
    if (ctx != cur->ctx || cur->freed)
        abort();
    reenter(cur);
}

static void do_pull(struct state *st)
{
    struct pollfd fds[NFD + 2];
    int n = NFD + 2, timeout = -1;

    if (osev_beforepoll(st->ctx, &n, fds, &timeout, 0) < 0)
        abort();
    for (int i = 0; i < n; i++) {
        uint8_t b = next(st);

        fds[i].revents = (short)((b & 1 ? POLLIN : 0) | (b & 2 ? POLLOUT : 0) |
                                 (b & 4 ? POLLPRI : 0) | (b & 8 ? POLLHUP : 0) |
                                 (b == 0xff ? POLLNVAL : 0));
    }
    if (next(st) == 0xee)
        n--; /* an array that cannot be from beforepoll */
    osev_afterpoll(st->ctx, n, fds, 0);
}

static void step(struct state *st)
{
    uint8_t op = next(st), a = next(st);
    struct slot *w = &st->w[a % NW], *t = &st->t[a % NT];
    osev_event *ev;

    switch (op % 10) {
    case 0:
        if (!w->h && osev_fd_add(st->ctx, st->fds[(a >> 4) % NFD],
                                 (short)((a >> 1) & 7 & ~2) | POLLIN,
                                 fd_cb, w, (osev_fd **)&w->h) == 0)
            osev_fd_set_release(w->h, release_cb);
        break;
    case 1:
        if (w->h && !w->removed)
            osev_fd_modify(w->h, (short)(a & (POLLIN | POLLOUT | POLLPRI)));
        break;
    case 2:
        remove_watch(st, a % NW);
        break;
    case 3:
        if (!t->h && osev_timer_add(st->ctx, osev_now() + (a >> 4) - 8,
                                    timer_cb, t, (osev_timer **)&t->h) == 0)
            osev_timer_set_release(t->h, release_cb);
        break;
    case 4:
        if (t->h && !t->removed)
            osev_timer_set(t->h, a & 1 ? OSEV_TIME_INFINITY : osev_now());
        break;
    case 5:
        remove_timer(st, a % NT);
        break;
    case 6:
        osev_defer(st->ctx, defer_cb, NULL);
        break;
    case 7:
        ev = osev_event_new(st->ctx, a % 64, a, a % 5);
        if (ev)
            osev_event_post(st->ctx, ev);
        if (osev_event_check(st->ctx, UINT64_C(1) << (a % 64), NULL, NULL,
                             &ev) == 0)
            osev_event_free(st->ctx, ev);
        break;
    case 8:
        do_pull(st);
        break;
    default:
        if (osev_dispatch(st->ctx) == -ESTALE && !st->freed)
            abort();
        break;
    }
}

static int run_one(const uint8_t *data, size_t size)
{
    struct state st = { .in = data, .len = size };

    cur = &st;
    for (int i = 0; i < NFD; i++)
        st.fds[i] = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (osev_ctx_new(NULL, &st.ctx) < 0)
        abort();
    while (st.pos < st.len && !st.freed)
        step(&st);
    if (!st.freed) {
        st.freeing = true;
        osev_ctx_free(st.ctx);
    }
    /* Every watch and timer made was released exactly once. */
    for (int i = 0; i < NW; i++)
        if (st.w[i].h && st.w[i].released != 1)
            abort();
    for (int i = 0; i < NT; i++)
        if (st.t[i].h && st.t[i].released != 1)
            abort();
    for (int i = 0; i < NFD; i++)
        close(st.fds[i]);
    cur = NULL;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return run_one(data, size);
}

#ifndef OSEV_LIBFUZZER
/* The replay driver: many pseudo-random inputs from a fixed seed. */
int main(int argc, char **argv)
{
    uint64_t x = 0x0fe5eedULL;
    int runs = argc > 1 ? atoi(argv[1]) : 400;
    uint8_t buf[2048];

    for (int r = 0; r < runs; r++) {
        size_t len = 64 + (size_t)(r * 37) % (sizeof buf - 64);

        for (size_t i = 0; i < len; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            buf[i] = (uint8_t)(x >> 56);
        }
        run_one(buf, len);
    }
    printf("fuzz-registry: %d inputs replayed\n", runs);
    return 0;
}
#endif
