/*
 * test-cares.c - the c-ares bridge in every host: a c-ares channel asks a
 * DNS responder of the test's own (a thread on 127.0.0.1, UDP and TCP)
 * for names it answers, one it does not know (NXDOMAIN) and one whose
 * first query it drops (c-ares must time out and retry), all at once;
 * the bridge's watches and timer carry the channel, the query callbacks
 * post the test's events, and host_wait_event() takes them.  Then:
 * detach with lookups in flight (a later attach finishes them), detach
 * from inside a query callback, the end of the context without a detach
 * (the channel goes on by hand and is destroyed cleanly), a forgotten
 * osev_cares_update() (caught and reported), the idle check turned off,
 * a socket replaced under the same number, and two channels, over UDP
 * and TCP, on one context.
 */
#include "testutil.h"
#include "host.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ares.h>

#include "osevent-cares.h"

enum { DNS_TYPE_A = 1, DNS_CLASS_IN = 1 };

/* c-ares's first timeout; the retry waits twice that (one server). */
#define TIMEOUT_MS 200
/* Any wait for what must happen: far above anything it takes. */
#define WAIT_MS 5000

/* ------------------------------------------------------------------ */
/* The responder                                                       */
/* ------------------------------------------------------------------ */

/* The names it knows; any other gets NXDOMAIN.  "flaky" loses its first
 * query. */
static const struct known {
    const char *name;
    unsigned char addr[4];
    bool flaky;
} known[] = {
    { "alpha.test", { 192, 0, 2, 1 }, false },
    { "beta.test", { 192, 0, 2, 2 }, false },
    { "gamma.test", { 192, 0, 2, 3 }, false },
    { "flaky.test", { 192, 0, 2, 4 }, true },
};
#define NKNOWN (sizeof known / sizeof known[0])
#define UNKNOWN NKNOWN /* the count of names it does not know */

#define MAXHELD 16
#define HOLD_ALL (~0u)
#define HOLD_NONE 0u
#define HOLD(i) (1u << (i))

struct held {
    struct sockaddr_in to;
    unsigned char buf[512];
    size_t len;
};

#define MAXCONN 4

struct conn {
    int fd; /* -1: none */
    unsigned char buf[1024];
    size_t len;
};

struct responder {
    int fd;        /* UDP, 127.0.0.1:port */
    int listener;  /* TCP, the same address */
    struct conn conns[MAXCONN];
    int ctl[2];    /* the test's commands: 'r' release held answers, 'q' */
    int notify[2]; /* a byte per query received, for the test's loop */
    int port;
    pthread_t thread;
    pthread_mutex_t lock;
    /* under lock: */
    int count[NKNOWN + 1]; /* queries received, per name */
    int received;
    int tcp_received;
    unsigned hold; /* keep these names' answers until released: bit i is
                      known[i], bit UNKNOWN the names it does not know */
    struct held held[MAXHELD];
    int nheld;
};

/* The question's name, dotted and lower-case, and where it ends; -1 if
 * the packet is not one question we can read. */
static int parse_query(const unsigned char *p, size_t len, char *name,
                       size_t room)
{
    size_t at = 12, out = 0;

    if (len < 12 || p[4] != 0 || p[5] != 1 || (p[2] & 0x80))
        return -1;
    while (at < len && p[at] != 0) {
        size_t l = p[at++];

        if (l > 63 || at + l > len || out + l + 1 >= room)
            return -1;
        if (out)
            name[out++] = '.';
        for (size_t i = 0; i < l; i++) {
            char c = (char)p[at + i];
            name[out++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        }
        at += l;
    }
    name[out] = '\0';
    if (at + 5 > len)
        return -1;
    return (int)(at + 5); /* the root label, type and class */
}

/* The answer to the question of @q (qend bytes of header and question). */
static size_t answer(const unsigned char *q, int qend, const struct known *k,
                     unsigned char *out)
{
    size_t n = (size_t)qend;

    memcpy(out, q, n);
    out[2] = (unsigned char)(0x80 | (q[2] & 0x01)); /* QR, RD as asked */
    out[3] = (unsigned char)(0x80 | (k ? 0 : 3));  /* RA; NXDOMAIN */
    out[6] = 0;
    out[7] = k ? 1 : 0; /* ANCOUNT */
    memset(out + 8, 0, 4); /* NSCOUNT, ARCOUNT */
    if (k) {
        static const unsigned char rr[] = {
            0xc0, 0x0c, 0, DNS_TYPE_A, 0, DNS_CLASS_IN, 0, 0, 0, 60, 0, 4,
        };
        memcpy(out + n, rr, sizeof rr);
        n += sizeof rr;
        memcpy(out + n, k->addr, 4);
        n += 4;
    }
    return n;
}

/*
 * Count the query @q (@n bytes) and write its answer to @a; returns the
 * answer's length, or 0 when there is none to send: unreadable, the flaky
 * name's first query (dropped), or an answer held (over UDP only, to
 * @from).
 */
static size_t respond(struct responder *rs, const unsigned char *q, size_t n,
                      unsigned char *a, const struct sockaddr_in *from)
{
    const struct known *k = NULL;
    char name[256];
    size_t idx = UNKNOWN, alen;
    int qend = parse_query(q, n, name, sizeof name);
    bool drop, hold;

    if (qend < 0)
        return 0;
    for (size_t i = 0; i < NKNOWN; i++)
        if (strcmp(name, known[i].name) == 0)
            k = &known[idx = i];
    alen = answer(q, qend, k, a);

    pthread_mutex_lock(&rs->lock);
    rs->received++;
    rs->tcp_received += !from;
    drop = ++rs->count[idx] == 1 && k && k->flaky;
    hold = from && (rs->hold & 1u << idx) && !drop && rs->nheld < MAXHELD;
    if (hold) {
        rs->held[rs->nheld].to = *from;
        memcpy(rs->held[rs->nheld].buf, a, alen);
        rs->held[rs->nheld].len = alen;
        rs->nheld++;
    }
    pthread_mutex_unlock(&rs->lock);
    (void)!write(rs->notify[1], "q", 1);
    return drop || hold ? 0 : alen;
}

static void serve_udp(struct responder *rs)
{
    unsigned char q[512], a[600];
    struct sockaddr_in from;
    socklen_t fromlen = sizeof from;
    ssize_t n;
    size_t alen;

    n = recvfrom(rs->fd, q, sizeof q, 0, (struct sockaddr *)&from, &fromlen);
    if (n <= 0)
        return;
    alen = respond(rs, q, (size_t)n, a, &from);
    if (alen)
        (void)sendto(rs->fd, a, alen, 0, (struct sockaddr *)&from, sizeof from);
}

/* A TCP connection: messages with a two-byte length before each. */
static void serve_tcp(struct responder *rs, struct conn *c)
{
    unsigned char a[2 + 600];
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    size_t m;

    if (n <= 0) {
        close(c->fd);
        c->fd = -1;
        return;
    }
    c->len += (size_t)n;
    while (c->len >= 2 && c->len >= 2 + (m = (size_t)c->buf[0] << 8 | c->buf[1])) {
        size_t alen = respond(rs, c->buf + 2, m, a + 2, NULL);

        if (alen) {
            a[0] = (unsigned char)(alen >> 8);
            a[1] = (unsigned char)alen;
            (void)send(c->fd, a, alen + 2, MSG_NOSIGNAL);
        }
        memmove(c->buf, c->buf + 2 + m, c->len - 2 - m);
        c->len -= 2 + m;
    }
}

static void release_held(struct responder *rs)
{
    pthread_mutex_lock(&rs->lock);
    for (int i = 0; i < rs->nheld; i++)
        (void)sendto(rs->fd, rs->held[i].buf, rs->held[i].len, 0,
                     (struct sockaddr *)&rs->held[i].to,
                     sizeof rs->held[i].to);
    rs->nheld = 0;
    pthread_mutex_unlock(&rs->lock);
}

static void *responder_main(void *arg)
{
    struct responder *rs = arg;

    for (;;) {
        struct pollfd p[3 + MAXCONN] = {
            { .fd = rs->fd, .events = POLLIN },
            { .fd = rs->ctl[0], .events = POLLIN },
            { .fd = rs->listener, .events = POLLIN },
        };
        char c;

        for (int i = 0; i < MAXCONN; i++)
            p[3 + i] = (struct pollfd){ .fd = rs->conns[i].fd,
                                        .events = POLLIN };
        if (poll(p, 3 + MAXCONN, -1) < 0)
            continue;
        if (p[0].revents)
            serve_udp(rs);
        for (int i = 0; i < MAXCONN; i++)
            if (p[3 + i].revents)
                serve_tcp(rs, &rs->conns[i]);
        if (p[2].revents) {
            int fd = accept4(rs->listener, NULL, NULL, SOCK_CLOEXEC);

            for (int i = 0; i < MAXCONN && fd >= 0; i++)
                if (rs->conns[i].fd < 0) {
                    rs->conns[i].fd = fd;
                    rs->conns[i].len = 0;
                    fd = -1;
                }
            if (fd >= 0)
                close(fd);
        }
        if (p[1].revents && read(rs->ctl[0], &c, 1) == 1) {
            if (c == 'q')
                return NULL;
            release_held(rs);
        }
    }
}

static void responder_start(struct responder *rs, unsigned hold)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t alen = sizeof a;

    memset(rs, 0, sizeof *rs);
    pthread_mutex_init(&rs->lock, NULL);
    rs->hold = hold;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* A free TCP port, then UDP on the same number (the other way round
     * races with nothing of ours, but a TCP port is likelier taken). */
    for (int tries = 0; rs->port == 0; tries++) {
        ck_assert_int_lt(tries, 20);
        a.sin_port = 0;
        rs->listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(rs->listener, 0);
        ck_assert_int_eq(bind(rs->listener, (struct sockaddr *)&a, sizeof a),
                         0);
        ck_assert_int_eq(listen(rs->listener, MAXCONN), 0);
        ck_assert_int_eq(getsockname(rs->listener, (struct sockaddr *)&a,
                                     &alen), 0);
        rs->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(rs->fd, 0);
        if (bind(rs->fd, (struct sockaddr *)&a, sizeof a) == 0) {
            rs->port = ntohs(a.sin_port);
        } else {
            close(rs->fd);
            close(rs->listener);
        }
    }
    for (int i = 0; i < MAXCONN; i++)
        rs->conns[i].fd = -1;
    tu_pipe(rs->ctl);
    tu_pipe(rs->notify);
    ck_assert_int_eq(pthread_create(&rs->thread, NULL, responder_main, rs), 0);
}

/* From now on answer at once, and send what was held. */
static void responder_release(struct responder *rs)
{
    pthread_mutex_lock(&rs->lock);
    rs->hold = 0;
    pthread_mutex_unlock(&rs->lock);
    ck_assert_int_eq(write(rs->ctl[1], "r", 1), 1);
}

static void responder_hold(struct responder *rs)
{
    pthread_mutex_lock(&rs->lock);
    rs->hold = HOLD_ALL;
    pthread_mutex_unlock(&rs->lock);
}

/* One of the responder's counters (a field of *rs), read under its lock. */
static int responder_read(struct responder *rs, const int *counter)
{
    int n;

    pthread_mutex_lock(&rs->lock);
    n = *counter;
    pthread_mutex_unlock(&rs->lock);
    return n;
}

static void responder_stop(struct responder *rs)
{
    ck_assert_int_eq(write(rs->ctl[1], "q", 1), 1);
    ck_assert_int_eq(pthread_join(rs->thread, NULL), 0);
    close(rs->fd);
    close(rs->listener);
    for (int i = 0; i < MAXCONN; i++)
        if (rs->conns[i].fd >= 0)
            close(rs->conns[i].fd);
    close(rs->ctl[0]);
    close(rs->ctl[1]);
    close(rs->notify[0]);
    close(rs->notify[1]);
    pthread_mutex_destroy(&rs->lock);
}

/* ------------------------------------------------------------------ */
/* Lookups                                                             */
/* ------------------------------------------------------------------ */

struct scen;

struct lookup {
    struct scen *sc;
    const char *name;
    bool done;
    int status, timeouts;
    unsigned char addr[4];
};

struct scen {
    struct host *h;
    osev_ctx *ctx; /* NULL once the context is gone */
    int type;      /* the test's event: a lookup finished */
    struct responder rs;
    ares_channel ch;
    bool dispatching;   /* the test is in host_wait_event/host_run_until */
    bool outside_ok;    /* callbacks may run in the test's own calls */
    struct lookup *detach_in_cb; /* this lookup's callback detaches */
    osev_cares **bridge_of_cb;
};

static void scen_open(struct scen *sc, const char *host, unsigned hold)
{
    memset(sc, 0, sizeof *sc);
    sc->h = host_open(host);
    sc->ctx = host_ctx(sc->h);
    sc->type = osev_event_type_get(sc->ctx, "test.lookup");
    ck_assert_int_ge(sc->type, 0);
    responder_start(&sc->rs, hold);
}

/* A channel that asks only the responder: short timeouts, three tries, no
 * search domains, no hosts file; @flags: ARES_FLAG_*. */
static ares_channel channel_new_flags(struct scen *sc, int flags)
{
    static char lookups[] = "b";
    struct ares_options o = {
        .flags = flags,
        .timeout = TIMEOUT_MS,
        .tries = 3,
        .ndomains = 0,
        .domains = NULL,
        .lookups = lookups,
    };
    ares_channel ch;
    char csv[64];

    ck_assert_int_eq(ares_init_options(&ch, &o,
                                       ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS |
                                           ARES_OPT_TRIES | ARES_OPT_DOMAINS |
                                           ARES_OPT_LOOKUPS),
                     ARES_SUCCESS);
    snprintf(csv, sizeof csv, "127.0.0.1:%d", sc->rs.port);
    ck_assert_int_eq(ares_set_servers_ports_csv(ch, csv), ARES_SUCCESS);
    return ch;
}

static ares_channel channel_new(struct scen *sc)
{
    return channel_new_flags(sc, 0);
}

static void scen_close(struct scen *sc)
{
    if (sc->ch)
        ares_destroy(sc->ch);
    responder_stop(&sc->rs);
    if (sc->h)
        host_close(sc->h);
}

static void on_answer(void *arg, int status, int timeouts,
                      unsigned char *abuf, int alen)
{
    struct lookup *l = arg;
    struct scen *sc = l->sc;

    /* Query callbacks run from a dispatch pass, through the bridge; only
     * the test's own ares_cancel()/ares_destroy() run them in place. */
    ck_assert_msg(sc->dispatching || sc->outside_ok,
                  "%s: a query callback ran outside a dispatch pass", l->name);
    ck_assert_msg(!l->done, "%s: answered twice", l->name);
    l->done = true;
    l->status = status;
    l->timeouts = timeouts;
    if (status == ARES_SUCCESS) {
        struct ares_addrttl at[2];
        int nat = 2;

        ck_assert_int_eq(ares_parse_a_reply(abuf, alen, NULL, at, &nat),
                         ARES_SUCCESS);
        ck_assert_int_eq(nat, 1);
        memcpy(l->addr, &at[0].ipaddr, 4);
    }
    if (sc->detach_in_cb == l) {
        osev_cares_detach(*sc->bridge_of_cb);
        *sc->bridge_of_cb = NULL;
    }
    if (sc->ctx) {
        osev_event *ev = osev_event_new(sc->ctx, (unsigned)sc->type, 0, 0);

        ck_assert_ptr_nonnull(ev);
        osev_event_post(sc->ctx, ev);
    }
}

static void lookup_start(struct scen *sc, ares_channel ch, struct lookup *l,
                         const char *name)
{
    memset(l, 0, sizeof *l);
    l->sc = sc;
    l->name = name;
    l->status = -1;
    ares_query(ch, name, DNS_CLASS_IN, DNS_TYPE_A, on_answer, l);
    ck_assert_msg(!l->done, "%s: answered inside ares_query()", name);
}

struct pending {
    struct lookup *ls;
    int n;
};

static bool all_done(void *arg)
{
    struct pending *p = arg;

    for (int i = 0; i < p->n; i++)
        if (!p->ls[i].done)
            return false;
    return true;
}

/* Drive the host, taking the test's events, until every lookup of @ls is
 * done. */
static void wait_done(struct scen *sc, struct lookup *ls, int n)
{
    struct pending p = { ls, n };
    osev_time end = osev_now() + osev_ms(WAIT_MS);

    while (!all_done(&p)) {
        osev_event *ev;
        osev_time left = end - osev_now();
        int r;

        ck_assert_msg(left > 0, "%s: lookups not done in time",
                      host_name(sc->h));
        sc->dispatching = true;
        r = host_wait_event(sc->h, UINT64_C(1) << sc->type,
                            (int)(left / osev_ms(1)) + 1, &ev);
        sc->dispatching = false;
        ck_assert_msg(r == 0, "%s: no lookup finished in time",
                      host_name(sc->h));
        osev_event_free(sc->ctx, ev);
    }
}

static void expect_addr(const struct lookup *l, unsigned char last)
{
    ck_assert_msg(l->done && l->status == ARES_SUCCESS,
                  "%s: status %d (%s)", l->name, l->status,
                  l->done ? ares_strerror(l->status) : "not done");
    ck_assert_int_eq(l->addr[0], 192);
    ck_assert_int_eq(l->addr[1], 0);
    ck_assert_int_eq(l->addr[2], 2);
    ck_assert_int_eq(l->addr[3], last);
}

/* ------------------------------------------------------------------ */
/* Waiting for the responder                                           */
/* ------------------------------------------------------------------ */

struct rwait {
    struct responder *rs;
    int n;
};

static bool received_enough(void *arg)
{
    struct rwait *w = arg;

    return responder_read(w->rs, &w->rs->received) >= w->n;
}

static void drain(osev_fd *w, int fd, short revents, void *arg)
{
    (void)w, (void)revents, (void)arg;
    tu_drain(fd);
}

/* Drive the host until the responder has received @n queries in all:
 * its notify pipe wakes the loop (a watch of the test's, gone after). */
static void wait_received(struct scen *sc, int n)
{
    struct rwait w = { &sc->rs, n };
    osev_fd *fw;
    bool ok;

    ck_assert_int_eq(osev_fd_add(sc->ctx, sc->rs.notify[0], POLLIN, drain,
                                 NULL, &fw), 0);
    sc->dispatching = true;
    ok = host_run_until(sc->h, received_enough, &w, WAIT_MS);
    sc->dispatching = false;
    osev_fd_remove(fw);
    ck_assert_msg(ok, "%s: the responder got %d queries, not %d",
                  host_name(sc->h), responder_read(&sc->rs, &sc->rs.received), n);
}

static bool never(void *arg)
{
    (void)arg;
    return false;
}

/* Captures what is written to stderr between start and stop. */
struct capture {
    int saved;
    FILE *f;
};

static void capture_start(struct capture *c)
{
    fflush(stderr);
    c->f = tmpfile();
    ck_assert_ptr_nonnull(c->f);
    c->saved = dup(2);
    ck_assert_int_ge(c->saved, 0);
    ck_assert_int_ge(dup2(fileno(c->f), 2), 0);
}

/* The number of times @needle was written. */
static int capture_stop(struct capture *c, const char *needle)
{
    char buf[4096];
    size_t n;
    int count = 0;

    fflush(stderr);
    ck_assert_int_ge(dup2(c->saved, 2), 0);
    close(c->saved);
    rewind(c->f);
    n = fread(buf, 1, sizeof buf - 1, c->f);
    buf[n] = '\0';
    fclose(c->f);
    for (char *p = buf; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        count++;
    return count;
}

/* ------------------------------------------------------------------ */
/* The scenario                                                        */
/* ------------------------------------------------------------------ */

/* Three names, one unknown, one dropped once, all at once. */
START_TEST(lookups_answers_nxdomain_retry)
{
    struct scen sc;
    struct lookup l[4];
    struct capture cap;
    osev_cares *b;
    int answers = 0, nx = 0, retried = 0;

    scen_open(&sc, host_names[_i], HOLD_NONE);
    sc.ch = channel_new(&sc);
    capture_start(&cap);
    ck_assert_int_eq(osev_cares_attach(sc.ctx, sc.ch, 0, &b), 0);
    lookup_start(&sc, sc.ch, &l[0], "alpha.test");
    lookup_start(&sc, sc.ch, &l[1], "beta.test");
    lookup_start(&sc, sc.ch, &l[2], "flaky.test");
    lookup_start(&sc, sc.ch, &l[3], "nosuch.test");
    osev_cares_update(b);
    wait_done(&sc, l, 4);

    expect_addr(&l[0], 1);
    expect_addr(&l[1], 2);
    expect_addr(&l[2], 4);
    ck_assert_int_eq(l[3].status, ARES_ENOTFOUND);
    /* The update was enough: the bridge was never caught unaware. */
    ck_assert_int_eq(capture_stop(&cap, "osevent-cares"), 0);
    /* The flaky name was answered on the second try only: c-ares timed
     * out once, through the bridge's timer, and asked again. */
    ck_assert_int_eq(l[2].timeouts, 1);
    ck_assert_int_eq(responder_read(&sc.rs, &sc.rs.count[3]), 2);
    for (int i = 0; i < 4; i++) {
        answers += l[i].status == ARES_SUCCESS;
        nx += l[i].status == ARES_ENOTFOUND;
        retried += l[i].timeouts > 0;
    }
    printf("cares x %s: %d answers, %d NXDOMAIN, %d retried\n",
           host_names[_i], answers, nx, retried);

    osev_cares_detach(b);
    host_assert_empty(sc.h);
    scen_close(&sc);
}
END_TEST

/* Detach while lookups are in flight: none is cancelled, nothing runs
 * them meanwhile, and a bridge attached later finishes them. */
START_TEST(detach_with_lookups_in_flight)
{
    struct scen sc;
    struct lookup l[3];
    osev_cares *b;

    scen_open(&sc, host_names[_i], HOLD_ALL);
    sc.ch = channel_new(&sc);
    ck_assert_int_eq(osev_cares_attach(sc.ctx, sc.ch, 0, &b), 0);
    lookup_start(&sc, sc.ch, &l[0], "alpha.test");
    lookup_start(&sc, sc.ch, &l[1], "gamma.test");
    lookup_start(&sc, sc.ch, &l[2], "nosuch.test");
    osev_cares_update(b);
    wait_received(&sc, 3);

    osev_cares_detach(b);
    host_assert_empty(sc.h);
    /* The answers arrive at sockets nobody serves now. */
    responder_release(&sc.rs);
    sc.dispatching = true;
    ck_assert(!host_run_until(sc.h, never, NULL, 50));
    sc.dispatching = false;
    for (int i = 0; i < 3; i++)
        ck_assert_msg(!l[i].done, "%s: ran without a bridge", l[i].name);

    ck_assert_int_eq(osev_cares_attach(sc.ctx, sc.ch, 0, &b), 0);
    wait_done(&sc, l, 3);
    expect_addr(&l[0], 1);
    expect_addr(&l[1], 3);
    ck_assert_int_eq(l[2].status, ARES_ENOTFOUND);
    osev_cares_detach(b);
    host_assert_empty(sc.h);
    scen_close(&sc);
}
END_TEST

/* A query callback detaches the bridge inside the bridge's own call into
 * c-ares; the lookup still in flight (the responder holds its answer) is
 * finished by the next bridge. */
START_TEST(detach_from_a_query_callback)
{
    struct scen sc;
    struct lookup l[2];
    osev_cares *b;

    scen_open(&sc, host_names[_i], HOLD(2));
    sc.ch = channel_new(&sc);
    ck_assert_int_eq(osev_cares_attach(sc.ctx, sc.ch, 0, &b), 0);
    lookup_start(&sc, sc.ch, &l[0], "alpha.test");
    lookup_start(&sc, sc.ch, &l[1], "gamma.test");
    sc.detach_in_cb = &l[0];
    sc.bridge_of_cb = &b;
    osev_cares_update(b);
    wait_done(&sc, l, 1);
    ck_assert_ptr_null(b);
    ck_assert(!l[1].done);
    host_assert_empty(sc.h);

    ck_assert_int_eq(osev_cares_attach(sc.ctx, sc.ch, 0, &b), 0);
    responder_release(&sc.rs);
    wait_done(&sc, l, 2);
    expect_addr(&l[0], 1);
    expect_addr(&l[1], 3);
    osev_cares_detach(b);
    host_assert_empty(sc.h);
    scen_close(&sc);
}
END_TEST

/* The channel's own loop, as an application without osevent writes it. */
static void drive_by_hand(ares_channel ch, struct lookup *ls, int n)
{
    struct pending p = { ls, n };
    osev_time end = osev_now() + osev_ms(WAIT_MS);

    while (!all_done(&p)) {
        ares_socket_t socks[ARES_GETSOCK_MAXNUM];
        struct pollfd pf[ARES_GETSOCK_MAXNUM];
        struct timeval tv, *tvp;
        int bits = ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM), np = 0;
        int ms = 100, r;

        ck_assert_msg(osev_now() < end, "the channel stalled");
        for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
            short ev = (short)(((unsigned)bits >> i & 1u ? POLLIN : 0) |
                               ((unsigned)bits >> (i + 16) & 1u ? POLLOUT : 0));
            if (!ev)
                break;
            pf[np++] = (struct pollfd){ .fd = socks[i], .events = ev };
        }
        tvp = ares_timeout(ch, NULL, &tv);
        if (tvp)
            ms = (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000) + 1;
        r = poll(pf, (nfds_t)np, ms);
        ck_assert(r >= 0);
        for (int i = 0; i < np; i++)
            ares_process_fd(ch,
                            pf[i].revents & (POLLIN | POLLERR | POLLHUP)
                                ? pf[i].fd : ARES_SOCKET_BAD,
                            pf[i].revents & POLLOUT ? pf[i].fd
                                                    : ARES_SOCKET_BAD);
        if (r == 0)
            ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    }
}

/* The context ends without a detach: the bridge goes with it, and the
 * channel, untouched, goes on without osevent and is destroyed cleanly
 * (valgrind runs this binary whole). */
START_TEST(context_free_without_detach)
{
    struct scen sc;
    struct lookup l[3];
    osev_cares *b;

    scen_open(&sc, host_names[_i], HOLD_ALL);
    sc.ch = channel_new(&sc);
    ck_assert_int_eq(osev_cares_attach(sc.ctx, sc.ch, 0, &b), 0);
    lookup_start(&sc, sc.ch, &l[0], "alpha.test");
    lookup_start(&sc, sc.ch, &l[1], "beta.test");
    osev_cares_update(b);
    wait_received(&sc, 2);

    host_close(sc.h); /* frees the context, and with it the bridge */
    sc.h = NULL;
    sc.ctx = NULL;
    responder_release(&sc.rs);
    sc.outside_ok = true;
    drive_by_hand(sc.ch, l, 2);
    expect_addr(&l[0], 1);
    expect_addr(&l[1], 2);

    /* A lookup still in flight when the channel goes. */
    responder_hold(&sc.rs);
    lookup_start(&sc, sc.ch, &l[2], "gamma.test");
    ares_destroy(sc.ch);
    sc.ch = NULL;
    ck_assert(l[2].done);
    ck_assert_int_eq(l[2].status, ARES_EDESTRUCTION);
    scen_close(&sc);
}
END_TEST

/* Lookups started without osev_cares_update(): the bridge's own looks
 * find them, serve them, and say so once. */
START_TEST(forgotten_update_is_caught)
{
    struct scen sc;
    struct lookup l[2];
    struct capture cap;
    osev_cares *b;

    scen_open(&sc, host_names[_i], HOLD_NONE);
    sc.ch = channel_new(&sc);
    ck_assert_int_eq(osev_cares_attach(sc.ctx, sc.ch, 0, &b), 0);
    capture_start(&cap);
    lookup_start(&sc, sc.ch, &l[0], "alpha.test"); /* no update */
    wait_done(&sc, l, 1);
    lookup_start(&sc, sc.ch, &l[1], "beta.test");  /* again */
    wait_done(&sc, l + 1, 1);
    ck_assert_int_eq(capture_stop(&cap, "without osev_cares_update()"), 1);
    expect_addr(&l[0], 1);
    expect_addr(&l[1], 2);
    osev_cares_detach(b);
    host_assert_empty(sc.h);
    scen_close(&sc);
}
END_TEST

/* OSEV_CARES_NO_IDLE_CHECK: no armed timer while the channel is idle, so
 * a lookup waits for its update; the update is what serves it, and the
 * retry of the flaky name comes from c-ares's own timeout alone. */
START_TEST(no_idle_check_waits_for_update)
{
    struct scen sc;
    struct lookup l[1];
    struct osev_registry_stats rs = { .size = sizeof rs };
    osev_cares *b;

    scen_open(&sc, host_names[_i], HOLD_NONE);
    sc.ch = channel_new(&sc);
    ck_assert_int_eq(osev_cares_attach(sc.ctx, sc.ch, 0x2, &b), -EINVAL);
    ck_assert_int_eq(osev_cares_attach(sc.ctx, sc.ch,
                                       OSEV_CARES_NO_IDLE_CHECK, &b), 0);
    ck_assert_int_eq(osev_get_registry_stats(sc.ctx, &rs), 0);
    ck_assert_uint_eq(rs.timers, 1);
    ck_assert_uint_eq(rs.armed_timers, 0);
    lookup_start(&sc, sc.ch, &l[0], "flaky.test"); /* no update yet */
    sc.dispatching = true;
    ck_assert(!host_run_until(sc.h, all_done, &(struct pending){ l, 1 }, 150));
    sc.dispatching = false;
    ck_assert_int_eq(osev_get_registry_stats(sc.ctx, &rs), 0);
    ck_assert_uint_eq(rs.fds, 0);
    osev_cares_update(b);
    wait_done(&sc, l, 1);
    expect_addr(&l[0], 4);
    ck_assert_int_eq(l[0].timeouts, 1);
    ck_assert_int_eq(osev_get_registry_stats(sc.ctx, &rs), 0);
    ck_assert_uint_eq(rs.armed_timers, 0);
    osev_cares_detach(b);
    host_assert_empty(sc.h);
    scen_close(&sc);
}
END_TEST

/* ares_cancel() closes the socket; the next lookup's socket gets the same
 * number.  The bridge must watch the new socket, not trust the number
 * (an epoll set, and a foreign loop's, dropped the old one). */
START_TEST(socket_replaced_under_same_number)
{
    struct scen sc;
    struct lookup l[2];
    ares_socket_t s1[ARES_GETSOCK_MAXNUM], s2[ARES_GETSOCK_MAXNUM];
    osev_cares *b;

    scen_open(&sc, host_names[_i], HOLD_ALL);
    sc.ch = channel_new(&sc);
    ck_assert_int_eq(osev_cares_attach(sc.ctx, sc.ch, 0, &b), 0);
    lookup_start(&sc, sc.ch, &l[0], "alpha.test");
    osev_cares_update(b);
    wait_received(&sc, 1);
    ck_assert_int_eq(ares_getsock(sc.ch, s1, ARES_GETSOCK_MAXNUM), 1);

    sc.outside_ok = true;
    ares_cancel(sc.ch);
    sc.outside_ok = false;
    ck_assert(l[0].done);
    ck_assert_int_eq(l[0].status, ARES_ECANCELLED);
    responder_release(&sc.rs);
    lookup_start(&sc, sc.ch, &l[1], "beta.test");
    osev_cares_update(b);
    ck_assert_int_eq(ares_getsock(sc.ch, s2, ARES_GETSOCK_MAXNUM), 1);
    ck_assert_int_eq(s1[0], s2[0]); /* the number came back */
    wait_done(&sc, l + 1, 1);
    expect_addr(&l[1], 2);
    osev_cares_detach(b);
    host_assert_empty(sc.h);
    scen_close(&sc);
}
END_TEST

/* Two channels, two bridges, one context: one channel over UDP, one over
 * TCP (ARES_FLAG_USEVC), whose socket is watched for writing while c-ares
 * has a query queued on it (the connect, then the send), for reading
 * after. */
START_TEST(udp_and_tcp_channels_one_context)
{
    struct scen sc;
    struct lookup l[3];
    ares_channel tcp;
    osev_cares *b1, *b2;

    scen_open(&sc, host_names[_i], HOLD_NONE);
    sc.ch = channel_new(&sc);
    tcp = channel_new_flags(&sc, ARES_FLAG_USEVC);
    ck_assert_int_eq(osev_cares_attach(sc.ctx, sc.ch, 0, &b1), 0);
    ck_assert_int_eq(osev_cares_attach(sc.ctx, tcp, 0, &b2), 0);
    lookup_start(&sc, sc.ch, &l[0], "alpha.test");
    lookup_start(&sc, tcp, &l[1], "beta.test");
    lookup_start(&sc, tcp, &l[2], "nosuch.test");
    osev_cares_update(b1);
    osev_cares_update(b2);
    wait_done(&sc, l, 3);
    expect_addr(&l[0], 1);
    expect_addr(&l[1], 2);
    ck_assert_int_eq(l[2].status, ARES_ENOTFOUND);
    ck_assert_int_eq(responder_read(&sc.rs, &sc.rs.tcp_received), 2);
    osev_cares_detach(b1);
    osev_cares_detach(b2);
    host_assert_empty(sc.h);
    ares_destroy(tcp);
    scen_close(&sc);
}
END_TEST

/* The arguments: every refusal, and the NULL handles. */
START_TEST(arguments)
{
    osev_ctx *ctx = tu_ctx_new();
    ares_channel ch;
    osev_cares *b = (osev_cares *)&b;

    ck_assert_int_eq(ares_init(&ch), ARES_SUCCESS);
    ck_assert_int_eq(osev_cares_attach(NULL, ch, 0, &b), -EINVAL);
    ck_assert_int_eq(osev_cares_attach(ctx, NULL, 0, &b), -EINVAL);
    ck_assert_int_eq(osev_cares_attach(ctx, ch, 0, NULL), -EINVAL);
    ck_assert_int_eq(osev_cares_attach(ctx, ch, ~OSEV_CARES_NO_IDLE_CHECK, &b),
                     -EINVAL);
    ck_assert_ptr_eq(b, (osev_cares *)&b); /* not written on failure */
    osev_cares_detach(NULL);
    osev_cares_update(NULL);
    ares_destroy(ch);
    osev_ctx_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cares bridge");
    TCase *tc;
    int r;

    if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
        return 1;
    for (int i = 0; host_names[i]; i++) {
        tc = tcase_create(host_names[i]);
        tcase_set_timeout(tc, 60);
        tcase_add_loop_test(tc, lookups_answers_nxdomain_retry, i, i + 1);
        tcase_add_loop_test(tc, detach_with_lookups_in_flight, i, i + 1);
        tcase_add_loop_test(tc, detach_from_a_query_callback, i, i + 1);
        tcase_add_loop_test(tc, context_free_without_detach, i, i + 1);
        tcase_add_loop_test(tc, forgotten_update_is_caught, i, i + 1);
        tcase_add_loop_test(tc, no_idle_check_waits_for_update, i, i + 1);
        tcase_add_loop_test(tc, socket_replaced_under_same_number, i, i + 1);
        tcase_add_loop_test(tc, udp_and_tcp_channels_one_context, i, i + 1);
        suite_add_tcase(s, tc);
    }
    tc = tcase_create("api");
    tcase_add_test(tc, arguments);
    suite_add_tcase(s, tc);
    r = tu_run_suite(s);
    ares_library_cleanup();
    return r;
}
