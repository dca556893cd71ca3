/*
 * test-registry.c - fd watches, deferred calls and release: every
 * sentence of the header's "The registry" sections about them, driven
 * through osev_dispatch(), osev_loop_once() and the pull API.
 *
 * Many tests are loop tests over the way the context is driven (see
 * tu_drive()), so each rule is shown to hold whatever way the pass starts.
 */
#include "testutil.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- driving a context ---- */

/* How many entries of a fresh beforepoll array name @fd; the events of
 * the last one in *events_out. */
static int entries_for(osev_ctx *ctx, int fd, short *events_out)
{
    struct pollfd fds[TU_PULL_ROOM];
    int n = TU_PULL_ROOM, timeout = -1, count = 0;

    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_int_ge(n, 1);
    for (int i = 0; i < n; i++)
        if (fds[i].fd == fd) {
            count++;
            if (events_out)
                *events_out = fds[i].events;
        }
    return count;
}

/* ---- recording callbacks ---- */

struct rec {
    osev_fd *w;
    int fd;
    int calls;
    short revents;  /* of the last call */
    short all;      /* OR of every call's revents */
    int released;
    int order;      /* value of seq at its first call, -1 before */
    /* optional actions, run by rec_cb on the first call */
    struct rec *remove_other[4];
    struct rec *mute_other;
    bool remove_self;
    bool free_ctx;
    osev_ctx *ctx;
    int estale_result; /* osev_fd_modify() on a watch removed here */
};

static int seq;
static int in_callback;
static int release_in_callback;

static void rec_init(struct rec *r, int fd)
{
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->order = -1;
    r->estale_result = 1;
}

static void rec_release(void *arg)
{
    struct rec *r = arg;

    r->released++;
    if (in_callback)
        release_in_callback++;
}

static void rec_cb(osev_fd *w, int fd, short revents, void *arg)
{
    struct rec *r = arg;

    ck_assert_ptr_eq(w, r->w);
    ck_assert_int_eq(fd, r->fd);
    in_callback++;
    r->revents = revents;
    r->all |= revents;
    if (r->calls++ == 0)
        r->order = seq++;
    if (r->calls == 1) {
        for (int i = 0; i < 4 && r->remove_other[i]; i++) {
            struct rec *o = r->remove_other[i];
            int before = o->released;

            osev_fd_remove(o->w);
            /* Never released from inside the remove call. */
            ck_assert_int_eq(o->released, before);
            if (i == 0 && !r->remove_self) {
                r->estale_result = osev_fd_modify(o->w, POLLIN);
                /* a second remove of a stale handle does nothing */
                osev_fd_remove(o->w);
            }
        }
        if (r->mute_other)
            ck_assert_osev_ok(osev_fd_modify(r->mute_other->w, 0));
        if (r->remove_self) {
            int before = r->released;

            osev_fd_remove(w);
            ck_assert_int_eq(r->released, before);
        }
        if (r->free_ctx)
            osev_ctx_free(r->ctx);
    }
    in_callback--;
}

static void rec_add(osev_ctx *ctx, struct rec *r, int fd, short events)
{
    rec_init(r, fd);
    r->ctx = ctx;
    ck_assert_osev_ok(osev_fd_add(ctx, fd, events, rec_cb, r, &r->w));
    ck_assert_ptr_nonnull(r->w);
    osev_fd_set_release(r->w, rec_release);
}

static void reset_globals(void)
{
    seq = 0;
    in_callback = 0;
    release_in_callback = 0;
}

/* ---- merged watches ---- */

/* Two watches on one fd: one entry with the union; each callback gets
 * only its own bits. */
START_TEST(two_watches_one_fd_merged)
{
    int before = tu_count_fds();
    osev_ctx *ctx = tu_ctx_new();
    struct rec a, b;
    short ev = 0;
    int sv[2];

    reset_globals();
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
                                                 SOCK_CLOEXEC, 0, sv),
                     0);
    ck_assert_int_eq(tu_needed(ctx), 1);
    rec_add(ctx, &a, sv[0], POLLIN);
    rec_add(ctx, &b, sv[0], POLLOUT);
    ck_assert_int_eq(tu_needed(ctx), 2);
    ck_assert_int_eq(entries_for(ctx, sv[0], &ev), 1);
    ck_assert_int_eq(ev, POLLIN | POLLOUT);

    /* Only writable: B alone. */
    tu_check_count(tu_drive(ctx, _i), 1);
    ck_assert_int_eq(a.calls, 0);
    ck_assert_int_eq(b.calls, 1);
    ck_assert_int_eq(b.revents, POLLOUT);

    /* Readable and writable: each gets its own bit only. */
    tu_write_byte(sv[1]);
    tu_check_count(tu_drive(ctx, _i), 2);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.revents, POLLIN);
    ck_assert_int_eq(b.calls, 2);
    ck_assert_int_eq(b.revents, POLLOUT);

    /* The union follows the watches. */
    osev_fd_remove(a.w);
    ck_assert_int_eq(entries_for(ctx, sv[0], &ev), 1);
    ck_assert_int_eq(ev, POLLOUT);
    ck_assert_int_eq(a.released, 1);
    ck_assert_osev_ok(osev_fd_modify(b.w, POLLIN));
    ck_assert_int_eq(entries_for(ctx, sv[0], &ev), 1);
    ck_assert_int_eq(ev, POLLIN);
    tu_check_count(tu_drive(ctx, _i), 1);
    ck_assert_int_eq(b.revents, POLLIN);
    osev_fd_remove(b.w);
    ck_assert_int_eq(entries_for(ctx, sv[0], NULL), 0);
    ck_assert_int_eq(tu_needed(ctx), 1);
    ck_assert_int_eq(b.released, 1);
    ck_assert_int_eq(a.released, 1);
    ck_assert_int_eq(release_in_callback, 0);

    osev_ctx_free(ctx);
    close(sv[0]);
    close(sv[1]);
    ck_assert_int_eq(tu_count_fds(), before);
}
END_TEST

/* The application's poll reports more than was asked (pull mode lets the
 * test play the kernel): requested bits are split per watch, the
 * unrequested POLLHUP/POLLERR go to every watch of the fd. */
START_TEST(merged_split_fabricated)
{
    osev_ctx *ctx = tu_ctx_new();
    struct rec a, b, c;
    struct pollfd fds[8];
    int n = 8, timeout = -1, p[2];

    reset_globals();
    tu_pipe(p);
    rec_add(ctx, &a, p[0], POLLIN);
    rec_add(ctx, &b, p[0], POLLPRI);
    rec_add(ctx, &c, p[0], POLLIN | POLLOUT);
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_int_eq(n, 2);
    for (int i = 0; i < n; i++) {
        fds[i].revents = 0;
        if (fds[i].fd == p[0]) {
            ck_assert_int_eq(fds[i].events, POLLIN | POLLOUT | POLLPRI);
            fds[i].revents = POLLOUT | POLLHUP;
        }
    }
    osev_afterpoll(ctx, n, fds, 0);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.revents, POLLHUP);
    ck_assert_int_eq(b.calls, 1);
    ck_assert_int_eq(b.revents, POLLHUP);
    ck_assert_int_eq(c.calls, 1);
    ck_assert_int_eq(c.revents, POLLOUT | POLLHUP);

    n = 8;
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    for (int i = 0; i < n; i++)
        fds[i].revents = fds[i].fd == p[0] ? (POLLIN | POLLPRI) : 0;
    osev_afterpoll(ctx, n, fds, 0);
    ck_assert_int_eq(a.calls, 2);
    ck_assert_int_eq(a.revents, POLLIN);
    ck_assert_int_eq(b.calls, 2);
    ck_assert_int_eq(b.revents, POLLPRI);
    ck_assert_int_eq(c.calls, 2);
    ck_assert_int_eq(c.revents, POLLIN);

    osev_ctx_free(ctx);
    ck_assert_int_eq(a.released + b.released + c.released, 3);
    close(p[0]);
    close(p[1]);
}
END_TEST

/* ---- callbacks changing the registry ---- */

START_TEST(cb_removes_itself)
{
    int before = tu_count_fds();
    osev_ctx *ctx = tu_ctx_new();
    struct rec a;
    int p[2];

    reset_globals();
    tu_pipe(p);
    rec_add(ctx, &a, p[0], POLLIN);
    a.remove_self = true;
    tu_write_byte(p[1]);
    tu_check_count(tu_drive(ctx, _i), 1);
    ck_assert_int_eq(a.calls, 1);
    /* released at the end of the pass, from a clean stack */
    ck_assert_int_eq(a.released, 1);
    ck_assert_int_eq(release_in_callback, 0);
    ck_assert_int_eq(entries_for(ctx, p[0], NULL), 0);

    /* The pipe is still readable: never called again. */
    tu_check_count(tu_drive_now(ctx, _i == TU_DRIVE_LOOP ? TU_DRIVE_DISPATCH : _i), 0);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.released, 1);

    osev_ctx_free(ctx);
    ck_assert_int_eq(a.released, 1);
    close(p[0]);
    close(p[1]);
    ck_assert_int_eq(tu_count_fds(), before);
}
END_TEST

/*
 * The first of two ready watches to run removes the other, which is
 * then not called in that pass (_i / TU_DRIVE_MODES: on two fds, or both on
 * one fd).  Inside that same callback osev_fd_modify() on the removed
 * watch is -ESTALE and a second remove does nothing.
 */
START_TEST(cb_removes_other_ready)
{
    int mode = _i % TU_DRIVE_MODES;
    bool same_fd = _i >= TU_DRIVE_MODES;
    int before = tu_count_fds();
    osev_ctx *ctx = tu_ctx_new();
    struct rec a, b, *first, *second;
    int p[2], q[2];

    reset_globals();
    tu_pipe(p);
    tu_pipe(q);
    rec_add(ctx, &a, p[0], POLLIN);
    rec_add(ctx, &b, same_fd ? p[0] : q[0], POLLIN);
    a.remove_other[0] = &b;
    b.remove_other[0] = &a;
    tu_write_byte(p[1]);
    tu_write_byte(q[1]);

    tu_check_count(tu_drive(ctx, mode), 1);
    ck_assert_int_eq(a.calls + b.calls, 1);
    first = a.calls ? &a : &b;
    second = a.calls ? &b : &a;
    ck_assert_int_eq(second->calls, 0);
    ck_assert_int_eq(first->estale_result, -ESTALE);
    ck_assert_int_eq(second->released, 1);
    ck_assert_int_eq(first->released, 0);
    ck_assert_int_eq(release_in_callback, 0);

    /* The survivor keeps working, the removed one stays silent. */
    tu_check_count(tu_drive(ctx, mode), 1);
    ck_assert_int_eq(first->calls, 2);
    ck_assert_int_eq(second->calls, 0);
    ck_assert_int_eq(second->released, 1);

    osev_ctx_free(ctx);
    ck_assert_int_eq(first->released, 1);
    ck_assert_int_eq(second->released, 1);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
    ck_assert_int_eq(tu_count_fds(), before);
}
END_TEST

/* One callback removes every watch, itself and the context's last one
 * included; the context stays usable. */
START_TEST(cb_removes_all)
{
    int before = tu_count_fds();
    osev_ctx *ctx = tu_ctx_new();
    struct rec r[4], extra;
    int p[2], q[2];
    int ran = 0;

    reset_globals();
    tu_pipe(p);
    tu_pipe(q);
    rec_add(ctx, &r[0], p[0], POLLIN);
    rec_add(ctx, &r[1], p[0], POLLIN);
    rec_add(ctx, &r[2], q[0], POLLIN);
    rec_add(ctx, &r[3], q[0], POLLOUT); /* never ready: not on q[0] */
    for (int i = 0; i < 4; i++) {
        int k = 0;

        for (int j = 0; j < 4; j++)
            if (j != i)
                r[i].remove_other[k++] = &r[j];
        r[i].remove_self = true;
    }
    ck_assert_int_eq(tu_needed(ctx), 3);
    tu_write_byte(p[1]);
    tu_write_byte(q[1]);

    tu_check_count(tu_drive(ctx, _i), 1);
    for (int i = 0; i < 4; i++) {
        ran += r[i].calls;
        ck_assert_int_eq(r[i].released, 1);
    }
    ck_assert_int_eq(ran, 1);
    ck_assert_int_eq(release_in_callback, 0);
    ck_assert_int_eq(tu_needed(ctx), 1);

    /* Still a working context. */
    rec_add(ctx, &extra, q[0], POLLIN);
    tu_check_count(tu_drive(ctx, _i), 1);
    ck_assert_int_eq(extra.calls, 1);
    ran = 0;
    for (int i = 0; i < 4; i++)
        ran += r[i].calls;
    ck_assert_int_eq(ran, 1);

    osev_ctx_free(ctx);
    ck_assert_int_eq(extra.released, 1);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(r[i].released, 1);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
    ck_assert_int_eq(tu_count_fds(), before);
}
END_TEST

struct adder {
    osev_ctx *ctx;
    struct rec *same, *other; /* added from the callback */
    int fd_same, fd_other;
    int calls;
};

static void adder_cb(osev_fd *w, int fd, short revents, void *arg)
{
    struct adder *ad = arg;

    (void)w, (void)fd;
    ck_assert_int_eq(revents, POLLIN);
    if (ad->calls++ == 0) {
        rec_add(ad->ctx, ad->same, ad->fd_same, POLLIN);
        rec_add(ad->ctx, ad->other, ad->fd_other, POLLIN);
    }
}

/* A watch added in a callback, on the ready fd itself or another ready
 * fd, is first called in a later pass. */
START_TEST(watch_added_in_cb_later_pass)
{
    int before = tu_count_fds();
    osev_ctx *ctx = tu_ctx_new();
    struct rec same, other;
    struct adder ad = { .ctx = ctx, .same = &same, .other = &other };
    osev_fd *w;
    int p[2], q[2];

    reset_globals();
    tu_pipe(p);
    tu_pipe(q);
    ad.fd_same = p[0];
    ad.fd_other = q[0];
    tu_write_byte(p[1]);
    tu_write_byte(q[1]);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, adder_cb, &ad, &w));

    tu_check_count(tu_drive(ctx, _i), 1);
    ck_assert_int_eq(ad.calls, 1);
    ck_assert_int_eq(same.calls, 0);
    ck_assert_int_eq(other.calls, 0);

    tu_check_count(tu_drive(ctx, _i), 3);
    ck_assert_int_eq(ad.calls, 2);
    ck_assert_int_eq(same.calls, 1);
    ck_assert_int_eq(same.revents, POLLIN);
    ck_assert_int_eq(other.calls, 1);
    ck_assert_int_eq(other.revents, POLLIN);

    osev_ctx_free(ctx);
    ck_assert_int_eq(same.released, 1);
    ck_assert_int_eq(other.released, 1);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
    ck_assert_int_eq(tu_count_fds(), before);
}
END_TEST

/* A callback that mutes another ready watch (events 0) keeps it from
 * being called in that pass; modifying back re-enables it. */
START_TEST(cb_mutes_other_ready)
{
    osev_ctx *ctx = tu_ctx_new();
    struct rec a, b, *first, *second;
    int p[2], q[2];

    reset_globals();
    tu_pipe(p);
    tu_pipe(q);
    rec_add(ctx, &a, p[0], POLLIN);
    rec_add(ctx, &b, q[0], POLLIN);
    a.mute_other = &b;
    b.mute_other = &a;
    tu_write_byte(p[1]);
    tu_write_byte(q[1]);

    tu_check_count(tu_drive(ctx, _i), 1);
    ck_assert_int_eq(a.calls + b.calls, 1);
    first = a.calls ? &a : &b;
    second = a.calls ? &b : &a;
    ck_assert_int_eq(entries_for(ctx, second->fd, NULL), 0);

    tu_check_count(tu_drive(ctx, _i), 1);
    ck_assert_int_eq(first->calls, 2);
    ck_assert_int_eq(second->calls, 0);
    ck_assert_int_eq(second->released, 0);

    ck_assert_osev_ok(osev_fd_modify(second->w, POLLIN));
    tu_check_count(tu_drive(ctx, _i), 2);
    ck_assert_int_eq(first->calls, 3);
    ck_assert_int_eq(second->calls, 1);
    ck_assert_int_eq(second->revents, POLLIN);

    osev_ctx_free(ctx);
    ck_assert_int_eq(a.released, 1);
    ck_assert_int_eq(b.released, 1);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
}
END_TEST

/* ---- osev_fd_modify ---- */

START_TEST(modify_to_zero_and_back)
{
    int before = tu_count_fds();
    osev_ctx *ctx = tu_ctx_new();
    struct rec a, b, z;
    short ev = 0;
    int p[2];

    reset_globals();
    tu_pipe(p);
    tu_write_byte(p[1]);
    rec_add(ctx, &a, p[0], POLLIN);
    ck_assert_int_eq(tu_needed(ctx), 2);

    /* The only watch of its fd: the entry goes, nothing is delivered. */
    ck_assert_osev_ok(osev_fd_modify(a.w, 0));
    ck_assert_int_eq(tu_needed(ctx), 1);
    ck_assert_int_eq(entries_for(ctx, p[0], NULL), 0);
    tu_check_count(tu_drive_now(ctx, _i), _i == TU_DRIVE_LOOP ? -ETIMEDOUT : 0);
    tu_check_count(tu_drive_now(ctx, TU_DRIVE_DISPATCH), 0);
    ck_assert_int_eq(a.calls, 0);
    ck_assert_int_eq(a.released, 0);

    /* Back: the same watch is called again. */
    ck_assert_osev_ok(osev_fd_modify(a.w, POLLIN));
    ck_assert_int_eq(entries_for(ctx, p[0], &ev), 1);
    ck_assert_int_eq(ev, POLLIN);
    tu_check_count(tu_drive(ctx, _i), 1);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.revents, POLLIN);

    /* Not the only watch: the entry stays with the others' union. */
    rec_add(ctx, &b, p[0], POLLOUT);
    rec_add(ctx, &z, p[0], 0); /* added held: never delivered */
    ck_assert_osev_ok(osev_fd_modify(a.w, 0));
    ck_assert_int_eq(entries_for(ctx, p[0], &ev), 1);
    ck_assert_int_eq(ev, POLLOUT);
    /* p[0] is readable only: nobody asks for that now. */
    tu_check_count(tu_drive_now(ctx, _i), _i == TU_DRIVE_LOOP ? -ETIMEDOUT : 0);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(b.calls, 0);
    ck_assert_int_eq(z.calls, 0);
    ck_assert_osev_ok(osev_fd_modify(a.w, POLLIN));
    ck_assert_int_eq(entries_for(ctx, p[0], &ev), 1);
    ck_assert_int_eq(ev, POLLIN | POLLOUT);
    tu_check_count(tu_drive(ctx, _i), 1);
    ck_assert_int_eq(a.calls, 2);
    ck_assert_int_eq(z.calls, 0);

    osev_ctx_free(ctx);
    ck_assert_int_eq(a.released + b.released + z.released, 3);
    close(p[0]);
    close(p[1]);
    ck_assert_int_eq(tu_count_fds(), before);
}
END_TEST

/* ---- what the poller reports ---- */

/* POLLHUP is reported without being asked for, whatever drives the
 * context (the epoll backend translates it too). */
START_TEST(hup_delivered_in_every_mode)
{
    osev_ctx *ctx = tu_ctx_new();
    struct rec a;
    int p[2];

    reset_globals();
    tu_pipe(p);
    rec_add(ctx, &a, p[0], POLLIN);
    close(p[1]); /* the write end goes: the read end hangs up */
    tu_check_count(tu_drive(ctx, _i), 1);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_msg(a.revents & POLLHUP, "revents 0x%x", a.revents);
    ck_assert_int_eq(a.revents & POLLNVAL, 0);
    osev_ctx_free(ctx);
    close(p[0]);
}
END_TEST

/* A watch held at 0 delivers nothing, not even the POLLHUP its fd's other
 * watch is called for. */
START_TEST(held_watch_gets_no_hup)
{
    osev_ctx *ctx = tu_ctx_new();
    struct rec a, held;
    int p[2];

    reset_globals();
    tu_pipe(p);
    rec_add(ctx, &a, p[0], POLLIN);
    rec_add(ctx, &held, p[0], 0);
    close(p[1]);
    tu_check_count(tu_drive(ctx, _i), 1);
    ck_assert_int_eq(a.calls, 1);
    ck_assert(a.revents & POLLHUP);
    ck_assert_int_eq(held.calls, 0);
    osev_ctx_free(ctx);
    close(p[0]);
}
END_TEST

/* A regular file is always ready, as poll(2) says, under either backend
 * (epoll refuses regular files): reported as readable at every pass,
 * never as POLLNVAL, never muted. */
START_TEST(regular_file_always_ready)
{
    int before = tu_count_fds();
    osev_ctx *ctx = tu_ctx_new();
    char path[] = "/tmp/osev-regular-XXXXXX";
    int fd = mkstemp(path);
    struct rec a;

    reset_globals();
    ck_assert_int_ge(fd, 0);
    unlink(path);
    rec_add(ctx, &a, fd, POLLIN);
    for (int pass = 1; pass <= 3; pass++) {
        tu_check_count(tu_drive(ctx, _i), 1);
        ck_assert_int_eq(a.calls, pass);
        ck_assert_int_eq(a.revents, POLLIN);
    }
    ck_assert_int_eq(entries_for(ctx, fd, NULL), 1);
    osev_ctx_free(ctx);
    close(fd);
    ck_assert_int_eq(tu_count_fds(), before);
}
END_TEST

/* ---- release ---- */

enum release_point {
    RP_DISPATCH,
    RP_LOOP_ONCE,
    RP_BEFOREPOLL,
    RP_AFTERPOLL,
    RP_BEFORESELECT,
    RP_CTX_FREE,
    RP_COUNT
};

/* Removed outside any pass: released at the next dispatch point, never
 * inside osev_fd_remove(), and exactly once. */
START_TEST(release_at_next_dispatch_point)
{
    int before = tu_count_fds();
    osev_ctx *ctx = tu_ctx_new();
    struct rec a, keep;
    struct pollfd fds[TU_PULL_ROOM];
    int n = TU_PULL_ROOM, timeout = 0, p[2], maxfd = -1;
    fd_set rfds, wfds, efds;
    struct timeval tv = { 0 };
    bool tv_set = false;

    reset_globals();
    tu_pipe(p);
    rec_add(ctx, &a, p[0], POLLIN);
    rec_add(ctx, &keep, p[1], POLLOUT);
    if (_i == RP_AFTERPOLL)
        ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));

    osev_fd_remove(a.w);
    ck_assert_int_eq(a.released, 0);

    switch (_i) {
    case RP_DISPATCH:
        ck_assert_int_eq(osev_dispatch(ctx), 1);
        break;
    case RP_LOOP_ONCE:
        ck_assert_int_eq(osev_loop_once(ctx, osev_now() + osev_s(5)), 1);
        break;
    case RP_BEFOREPOLL:
        n = TU_PULL_ROOM;
        ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
        break;
    case RP_AFTERPOLL:
        ck_assert_int_ge(poll(fds, (nfds_t)n, 0), 1);
        osev_afterpoll(ctx, n, fds, 0);
        ck_assert_int_eq(keep.calls, 1);
        break;
    case RP_BEFORESELECT:
        FD_ZERO(&rfds);
        FD_ZERO(&wfds);
        FD_ZERO(&efds);
        ck_assert_osev_ok(osev_beforeselect(ctx, &maxfd, &rfds, &wfds, &efds,
                                            &tv, &tv_set, 0));
        break;
    default:
        osev_ctx_free(ctx);
        ctx = NULL;
        break;
    }
    ck_assert_int_eq(a.released, 1);
    ck_assert_int_eq(a.calls, 0);
    if (ctx) {
        ck_assert_int_eq(osev_dispatch(ctx), 1);
        ck_assert_int_eq(a.released, 1);
        osev_ctx_free(ctx);
    }
    ck_assert_int_eq(a.released, 1);
    ck_assert_int_eq(keep.released, 1);
    close(p[0]);
    close(p[1]);
    ck_assert_int_eq(tu_count_fds(), before);
}
END_TEST

/* Removed inside a callback: released when the pass ends, not in the
 * callback, even after the callback returned (a later callback of the
 * same pass still sees it unreleased). */
struct late_check {
    struct rec *removed;
    int seen_released;
    int calls;
};

static void late_check_cb(osev_fd *w, int fd, short revents, void *arg)
{
    struct late_check *lc = arg;

    (void)w, (void)fd, (void)revents;
    if (lc->calls++ == 0)
        lc->seen_released = lc->removed->released;
}

static void late_remover_cb(osev_fd *w, int fd, short revents, void *arg)
{
    struct rec *r = arg;

    (void)fd, (void)revents;
    if (r->calls++ == 0) {
        osev_fd_remove(w);
        ck_assert_int_eq(r->released, 0);
    }
}

START_TEST(release_after_pass_not_in_it)
{
    osev_ctx *ctx = tu_ctx_new();
    struct rec r;
    struct late_check lc = { .removed = &r, .seen_released = -1 };
    osev_fd *w;
    int p[2], q[2];

    reset_globals();
    tu_pipe(p);
    tu_pipe(q);
    rec_init(&r, p[0]);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, late_remover_cb, &r,
                                  &r.w));
    osev_fd_set_release(r.w, rec_release);
    ck_assert_osev_ok(osev_fd_add(ctx, q[0], POLLIN, late_check_cb, &lc, &w));
    tu_write_byte(p[1]);
    tu_write_byte(q[1]);

    tu_check_count(tu_drive(ctx, _i), 2);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(lc.calls, 1);
    ck_assert_int_eq(r.released, 1);
    /* The other callback ran before or after the removal: either way
     * the release had not run yet. */
    ck_assert_int_eq(lc.seen_released, 0);

    osev_ctx_free(ctx);
    ck_assert_int_eq(r.released, 1);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
}
END_TEST

/* osev_ctx_free() releases every watch once; a release set to NULL is
 * not called; the caller's fds stay open; no fd of the context leaks. */
START_TEST(release_once_on_ctx_free)
{
    int before = tu_count_fds();
    osev_ctx *ctx = tu_ctx_new();
    struct rec r[6], cleared;
    int p[2], q[2];

    reset_globals();
    tu_pipe(p);
    tu_pipe(q);
    rec_add(ctx, &r[0], p[0], POLLIN);
    rec_add(ctx, &r[1], p[0], POLLIN);
    rec_add(ctx, &r[2], p[1], POLLOUT);
    rec_add(ctx, &r[3], q[0], 0);
    rec_add(ctx, &r[4], q[1], POLLOUT);
    rec_add(ctx, &r[5], q[0], POLLIN);
    rec_add(ctx, &cleared, q[0], POLLIN);
    osev_fd_set_release(cleared.w, NULL);
    tu_write_byte(p[1]);
    /* a pass first, so the epoll set (if any) exists at free time */
    ck_assert_int_ge(osev_dispatch(ctx), 1);
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(r[i].released, 0);

    osev_ctx_free(ctx);
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(r[i].released, 1);
    ck_assert_int_eq(cleared.released, 0);
    ck_assert_int_ne(fcntl(p[0], F_GETFD), -1);
    ck_assert_int_ne(fcntl(p[1], F_GETFD), -1);
    ck_assert_int_ne(fcntl(q[0], F_GETFD), -1);
    ck_assert_int_ne(fcntl(q[1], F_GETFD), -1);
    ck_assert_int_eq(tu_count_fds(), before + 4);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
    ck_assert_int_eq(tu_count_fds(), before);
}
END_TEST

static int timer_ran, defer_ran;

static void count_timer_cb(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now, (void)arg;
    timer_ran++;
}

static void count_defer_fn(osev_ctx *ctx, void *arg)
{
    (void)ctx, (void)arg;
    defer_ran++;
}

/*
 * osev_ctx_free() from a callback: the context goes when the pass
 * returns; the other ready watch, the due timer and the deferred call
 * of that pass are not run; every release runs once, after the callback.
 */
START_TEST(ctx_free_from_callback)
{
    int before = tu_count_fds();
    osev_ctx *ctx = tu_ctx_new();
    struct rec a, b, *first, *second;
    osev_timer *t;
    int p[2], q[2], r;

    reset_globals();
    timer_ran = defer_ran = 0;
    tu_pipe(p);
    tu_pipe(q);
    rec_add(ctx, &a, p[0], POLLIN);
    rec_add(ctx, &b, q[0], POLLIN);
    /* both would free: the second must never run */
    a.free_ctx = b.free_ctx = true;
    ck_assert_osev_ok(osev_timer_add(ctx, 1, count_timer_cb, NULL, &t));
    ck_assert_osev_ok(osev_defer(ctx, count_defer_fn, NULL));
    tu_write_byte(p[1]);
    tu_write_byte(q[1]);

    r = tu_drive(ctx, _i);
    if (r != TU_COUNT_UNKNOWN)
        ck_assert_int_eq(r, -ESTALE);
    ck_assert_int_eq(a.calls + b.calls, 1);
    first = a.calls ? &a : &b;
    second = a.calls ? &b : &a;
    ck_assert_int_eq(second->calls, 0);
    ck_assert_int_eq(timer_ran, 0);
    ck_assert_int_eq(defer_ran, 0);
    ck_assert_int_eq(first->released, 1);
    ck_assert_int_eq(second->released, 1);
    ck_assert_int_eq(release_in_callback, 0);

    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
    ck_assert_int_eq(tu_count_fds(), before);
}
END_TEST

/* ---- POLLNVAL (pull mode: the test's own poll) ---- */

START_TEST(pollnval_once_then_muted)
{
    int before = tu_count_fds();
    osev_ctx *ctx = tu_ctx_new();
    struct rec a, b;
    struct pollfd fds[8];
    int n = 8, timeout = -1, p[2], closed_fd, hits = 0;

    reset_globals();
    tu_pipe(p);
    closed_fd = p[0];
    rec_init(&b, -1);
    rec_add(ctx, &a, closed_fd, POLLIN);
    if (_i)
        rec_add(ctx, &b, closed_fd, POLLOUT);
    ck_assert_int_eq(tu_needed(ctx), 2);

    close(closed_fd);
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_int_eq(n, 2);
    ck_assert_int_ge(poll(fds, (nfds_t)n, 0), 1);
    for (int i = 0; i < n; i++)
        if (fds[i].fd == closed_fd) {
            ck_assert_int_eq(fds[i].revents, POLLNVAL);
            hits++;
        }
    ck_assert_int_eq(hits, 1);
    osev_afterpoll(ctx, n, fds, 0);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.revents, POLLNVAL);
    if (_i) {
        ck_assert_int_eq(b.calls, 1);
        ck_assert_int_eq(b.revents, POLLNVAL);
    }

    /* Muted: gone from the array, never called again, never released. */
    for (int round = 0; round < 3; round++) {
        n = 8;
        timeout = -1;
        ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
        ck_assert_int_eq(n, 1);
        ck_assert_int_ne(fds[0].fd, closed_fd);
        ck_assert_int_eq(poll(fds, (nfds_t)n, 0), 0);
        osev_afterpoll(ctx, n, fds, 0);
    }
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.released, 0);
    if (_i) {
        ck_assert_int_eq(b.calls, 1);
        ck_assert_int_eq(b.released, 0);
    }

    /* The watch stays until the owner removes it. */
    osev_fd_remove(a.w);
    if (_i)
        osev_fd_remove(b.w);
    ck_assert_int_eq(tu_needed(ctx), 1);
    ck_assert_int_eq(a.released, 1);
    if (_i)
        ck_assert_int_eq(b.released, 1);
    osev_ctx_free(ctx);
    ck_assert_int_eq(a.released, 1);
    close(p[1]);
    ck_assert_int_eq(tu_count_fds(), before);
}
END_TEST

/* ---- osev_defer ---- */

#define MAX_LOG 16

static int defer_log[MAX_LOG], ndefer_log;

static void log_defer_fn(osev_ctx *ctx, void *arg)
{
    (void)ctx;
    ck_assert_int_lt(ndefer_log, MAX_LOG);
    defer_log[ndefer_log++] = (int)(intptr_t)arg;
}

/* Runs once, at the next pass, in call order; timeout 0 while pending. */
START_TEST(defer_once_in_order)
{
    int before = tu_count_fds();
    osev_ctx *ctx = tu_ctx_new();
    int n = TU_PULL_ROOM, timeout;
    struct pollfd fds[TU_PULL_ROOM];

    ndefer_log = 0;
    timeout = -1;
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_int_eq(timeout, -1);

    for (int i = 1; i <= 5; i++)
        ck_assert_osev_ok(osev_defer(ctx, log_defer_fn, (void *)(intptr_t)i));
    ck_assert_int_eq(ndefer_log, 0);
    n = TU_PULL_ROOM;
    timeout = -1;
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_int_eq(timeout, 0);
    n = TU_PULL_ROOM;
    timeout = 1000;
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_int_eq(timeout, 0);
    ck_assert_int_eq(ndefer_log, 0);

    tu_check_count(tu_drive(ctx, _i), 5);
    ck_assert_int_eq(ndefer_log, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(defer_log[i], i + 1);

    /* Once: nothing left, and the timeout is no longer lowered. */
    n = TU_PULL_ROOM;
    timeout = -1;
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_int_eq(timeout, -1);
    ck_assert_int_eq(osev_dispatch(ctx), 0);
    ck_assert_int_eq(ndefer_log, 5);

    osev_ctx_free(ctx);
    ck_assert_int_eq(tu_count_fds(), before);
}
END_TEST

static void chain_defer_fn(osev_ctx *ctx, void *arg)
{
    int depth = (int)(intptr_t)arg;

    ck_assert_int_lt(ndefer_log, MAX_LOG);
    defer_log[ndefer_log++] = depth;
    if (depth < 3)
        ck_assert_osev_ok(osev_defer(ctx, chain_defer_fn,
                                     (void *)(intptr_t)(depth + 1)));
}

/* A defer made inside a deferred call runs in the next pass. */
START_TEST(defer_in_defer_next_pass)
{
    osev_ctx *ctx = tu_ctx_new();
    int n, timeout;
    struct pollfd fds[TU_PULL_ROOM];

    ndefer_log = 0;
    ck_assert_osev_ok(osev_defer(ctx, chain_defer_fn, (void *)(intptr_t)1));
    for (int pass = 1; pass <= 3; pass++) {
        n = TU_PULL_ROOM;
        timeout = -1;
        ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
        ck_assert_int_eq(timeout, 0);
        tu_check_count(tu_drive(ctx, _i), 1);
        ck_assert_int_eq(ndefer_log, pass);
        ck_assert_int_eq(defer_log[pass - 1], pass);
    }
    n = TU_PULL_ROOM;
    timeout = -1;
    ck_assert_osev_ok(osev_beforepoll(ctx, &n, fds, &timeout, 0));
    ck_assert_int_eq(timeout, -1);
    ck_assert_int_eq(osev_dispatch(ctx), 0);
    ck_assert_int_eq(ndefer_log, 3);
    osev_ctx_free(ctx);
}
END_TEST

struct defer_from_fd {
    osev_ctx *ctx;
    int calls;
    int log_at_call; /* ndefer_log when the fd callback ran */
};

static void defer_from_fd_cb(osev_fd *w, int fd, short revents, void *arg)
{
    struct defer_from_fd *d = arg;

    (void)w, (void)fd, (void)revents;
    d->log_at_call = ndefer_log;
    if (d->calls++ == 0)
        ck_assert_osev_ok(osev_defer(d->ctx, log_defer_fn,
                                     (void *)(intptr_t)42));
}

/* A defer made by an fd callback runs in the next pass, not the one
 * that is running (even though deferred calls run after fd callbacks). */
START_TEST(defer_from_fd_cb_next_pass)
{
    osev_ctx *ctx = tu_ctx_new();
    struct defer_from_fd d = { .ctx = ctx };
    osev_fd *w;
    int p[2];

    ndefer_log = 0;
    tu_pipe(p);
    tu_write_byte(p[1]);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, defer_from_fd_cb, &d,
                                  &w));
    tu_check_count(tu_drive(ctx, _i), 1);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(ndefer_log, 0);
    osev_fd_remove(w);
    tu_check_count(tu_drive(ctx, _i), 1);
    ck_assert_int_eq(ndefer_log, 1);
    ck_assert_int_eq(defer_log[0], 42);
    ck_assert_int_eq(d.calls, 1);
    osev_ctx_free(ctx);
    close(p[0]);
    close(p[1]);
}
END_TEST

/* A context freed first drops its pending deferred calls unrun. */
START_TEST(defer_dropped_on_free)
{
    int before = tu_count_fds();
    osev_ctx *ctx = tu_ctx_new();

    ndefer_log = 0;
    ck_assert_osev_ok(osev_defer(ctx, log_defer_fn, (void *)(intptr_t)7));
    osev_ctx_free(ctx);
    ck_assert_int_eq(ndefer_log, 0);
    ck_assert_int_eq(tu_count_fds(), before);
}
END_TEST

/* ---- several contexts ---- */

START_TEST(contexts_independent)
{
    int before = tu_count_fds();
    osev_ctx *ctx1 = tu_ctx_new(), *ctx2 = tu_ctx_new();
    struct rec a, b, c;
    struct pollfd fds[TU_PULL_ROOM];
    int n = TU_PULL_ROOM, timeout = -1, p[2], q[2];

    reset_globals();
    ndefer_log = 0;
    tu_pipe(p);
    tu_pipe(q);
    rec_add(ctx1, &a, p[0], POLLIN);
    tu_write_byte(p[1]);
    ck_assert_osev_ok(osev_defer(ctx1, log_defer_fn, (void *)(intptr_t)1));

    /* ctx2 sees none of it: one entry (its wakeup), no p[0], no lowered
     * timeout, nothing dispatched. */
    ck_assert_int_eq(tu_needed(ctx2), 1);
    ck_assert_osev_ok(osev_beforepoll(ctx2, &n, fds, &timeout, 0));
    ck_assert_int_eq(n, 1);
    ck_assert_int_ne(fds[0].fd, p[0]);
    ck_assert_int_eq(timeout, -1);
    ck_assert_int_eq(osev_dispatch(ctx2), 0);
    ck_assert_int_eq(osev_loop_once(ctx2, 0), -ETIMEDOUT);
    ck_assert_int_eq(a.calls, 0);
    ck_assert_int_eq(ndefer_log, 0);

    /* The same fd watched by both: each context calls its own. */
    rec_add(ctx2, &b, p[0], POLLIN);
    rec_add(ctx2, &c, q[0], POLLIN);
    ck_assert_int_eq(osev_dispatch(ctx2), 1);
    ck_assert_int_eq(b.calls, 1);
    ck_assert_int_eq(a.calls, 0);
    ck_assert_int_eq(osev_dispatch(ctx1), 2);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(b.calls, 1);
    ck_assert_int_eq(ndefer_log, 1);

    /* ctx1's release belongs to ctx1's dispatch points. */
    osev_fd_remove(a.w);
    ck_assert_int_eq(osev_dispatch(ctx2), 1);
    ck_assert_int_eq(a.released, 0);
    ck_assert_int_eq(osev_dispatch(ctx1), 0);
    ck_assert_int_eq(a.released, 1);

    /* Freeing ctx1 leaves ctx2 whole. */
    osev_ctx_free(ctx1);
    ck_assert_int_eq(b.released, 0);
    tu_write_byte(q[1]);
    ck_assert_int_eq(osev_loop_once(ctx2, osev_now() + osev_s(5)), 2);
    ck_assert_int_eq(b.calls, 3);
    ck_assert_int_eq(c.calls, 1);
    ck_assert_int_eq(tu_needed(ctx2), 3);
    osev_ctx_free(ctx2);
    ck_assert_int_eq(b.released, 1);
    ck_assert_int_eq(c.released, 1);
    ck_assert_int_eq(a.released, 1);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
    ck_assert_int_eq(tu_count_fds(), before);
}
END_TEST

/* An fd callback may remove a timer that is due in the same pass (fd
 * callbacks run first): the timer is not called. */
struct timer_killer {
    osev_timer *victim;
    int calls;
};

static void timer_killer_cb(osev_fd *w, int fd, short revents, void *arg)
{
    struct timer_killer *k = arg;

    (void)w, (void)fd, (void)revents;
    if (k->calls++ == 0) {
        osev_timer_remove(k->victim);
        ck_assert_int_eq(osev_timer_set(k->victim, 0), -ESTALE);
    }
}

START_TEST(fd_cb_removes_due_timer)
{
    osev_ctx *ctx = tu_ctx_new();
    struct timer_killer k = { 0 };
    struct rec tr;
    osev_fd *w;
    int p[2];

    timer_ran = 0;
    rec_init(&tr, -1);
    tu_pipe(p);
    tu_write_byte(p[1]);
    ck_assert_osev_ok(osev_timer_add(ctx, 1, count_timer_cb, &tr, &k.victim));
    osev_timer_set_release(k.victim, rec_release);
    ck_assert_osev_ok(osev_fd_add(ctx, p[0], POLLIN, timer_killer_cb, &k, &w));
    tu_check_count(tu_drive(ctx, _i), 1);
    ck_assert_int_eq(k.calls, 1);
    ck_assert_int_eq(timer_ran, 0);
    ck_assert_int_eq(tr.released, 1);
    osev_ctx_free(ctx);
    ck_assert_int_eq(tr.released, 1);
    close(p[0]);
    close(p[1]);
}
END_TEST

static Suite *registry_suite(void)
{
    Suite *s = suite_create("registry");
    TCase *tc;

    tc = tcase_create("merge");
    tcase_add_loop_test(tc, two_watches_one_fd_merged, 0, TU_DRIVE_MODES);
    tcase_add_test(tc, merged_split_fabricated);
    suite_add_tcase(s, tc);

    tc = tcase_create("reentrancy");
    tcase_add_loop_test(tc, cb_removes_itself, 0, TU_DRIVE_MODES);
    tcase_add_loop_test(tc, cb_removes_other_ready, 0, 2 * TU_DRIVE_MODES);
    tcase_add_loop_test(tc, cb_removes_all, 0, TU_DRIVE_MODES);
    tcase_add_loop_test(tc, watch_added_in_cb_later_pass, 0, TU_DRIVE_MODES);
    tcase_add_loop_test(tc, cb_mutes_other_ready, 0, TU_DRIVE_MODES);
    tcase_add_loop_test(tc, fd_cb_removes_due_timer, 0, TU_DRIVE_MODES);
    suite_add_tcase(s, tc);

    tc = tcase_create("reports");
    tcase_add_loop_test(tc, hup_delivered_in_every_mode, 0, TU_DRIVE_MODES);
    tcase_add_loop_test(tc, held_watch_gets_no_hup, 0, TU_DRIVE_MODES);
    tcase_add_loop_test(tc, regular_file_always_ready, 0, TU_DRIVE_MODES);
    suite_add_tcase(s, tc);

    tc = tcase_create("modify");
    tcase_add_loop_test(tc, modify_to_zero_and_back, 0, TU_DRIVE_MODES);
    suite_add_tcase(s, tc);

    tc = tcase_create("release");
    tcase_add_loop_test(tc, release_at_next_dispatch_point, 0, RP_COUNT);
    tcase_add_loop_test(tc, release_after_pass_not_in_it, 0, TU_DRIVE_MODES);
    tcase_add_test(tc, release_once_on_ctx_free);
    tcase_add_loop_test(tc, ctx_free_from_callback, 0, TU_DRIVE_MODES);
    suite_add_tcase(s, tc);

    tc = tcase_create("pollnval");
    tcase_add_loop_test(tc, pollnval_once_then_muted, 0, 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("defer");
    tcase_add_loop_test(tc, defer_once_in_order, 0, TU_DRIVE_MODES);
    tcase_add_loop_test(tc, defer_in_defer_next_pass, 0, TU_DRIVE_MODES);
    tcase_add_loop_test(tc, defer_from_fd_cb_next_pass, 0, TU_DRIVE_MODES);
    tcase_add_test(tc, defer_dropped_on_free);
    suite_add_tcase(s, tc);

    tc = tcase_create("contexts");
    tcase_add_test(tc, contexts_independent);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(registry_suite());
}
