/*
 * test-curl.c - libcurl's multi interface driven through the curl bridge,
 * in every host of host.h, against a real HTTP/1.1 server on 127.0.0.1.
 *
 * The server is a thread of the test with its own poll() loop.  It serves
 * GET /size/N (N body bytes of a known pattern, Content-Length, then
 * close) and GET /gated/N (the first half, then the rest once the test
 * opens the gate: a transfer held in flight for as long as a test
 * needs, with no timing involved).  A second port accepts and never
 * answers; a third is bound and not listening, so connecting is refused.
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

#include <curl/curl.h>

#include "osevent-curl.h"

/* ------------------------------------------------------------------ */
/* The server                                                          */
/* ------------------------------------------------------------------ */

#define MAX_CONNS 32

/* Body byte @i: a period (251) that no buffer size lines up with. */
static unsigned char pattern(size_t i)
{
    return (unsigned char)(i % 251);
}

enum conn_state { C_FREE, C_REQUEST, C_SEND, C_GATED, C_SILENT };

struct conn {
    int fd;
    enum conn_state state;
    char req[512];
    size_t reqlen;
    char hdr[128];
    size_t hdrlen, hdrsent;
    size_t total, sent, stop; /* body: length, sent, pause until the gate */
};

struct server {
    pthread_t thread;
    int ctl[2];    /* the test writes 'g' (open the gate) or 'q' (quit) */
    int http;      /* serves /size/N and /gated/N */
    int silent;    /* accepts, never answers */
    int refused;   /* bound, not listening */
    int http_port, silent_port, refused_port;
    bool gate_open; /* the server thread's */
    struct conn conns[MAX_CONNS];
};

static int tcp_socket_on_loopback(int *port_out)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port_out = ntohs(a.sin_port);
    return fd;
}

static void conn_close(struct conn *c)
{
    close(c->fd);
    c->state = C_FREE;
}

static void conn_accept(struct server *srv, int lfd, enum conn_state state)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (fd < 0)
        return;
    for (int i = 0; i < MAX_CONNS; i++) {
        struct conn *c = &srv->conns[i];

        if (c->state == C_FREE) {
            memset(c, 0, sizeof *c);
            c->fd = fd;
            c->state = state;
            return;
        }
    }
    close(fd); /* more clients than any test makes */
}

/* A request is whole: answer it. */
static void conn_parse(struct conn *c, bool gate_open)
{
    size_t n = 0;
    bool gated = false;

    if (sscanf(c->req, "GET /size/%zu ", &n) != 1) {
        gated = sscanf(c->req, "GET /gated/%zu ", &n) == 1;
        if (!gated) {
            c->hdrlen = (size_t)snprintf(c->hdr, sizeof c->hdr,
                                         "HTTP/1.1 404 Not Found\r\n"
                                         "Content-Length: 0\r\n"
                                         "Connection: close\r\n\r\n");
            c->state = C_SEND;
            return;
        }
    }
    c->hdrlen = (size_t)snprintf(c->hdr, sizeof c->hdr,
                                 "HTTP/1.1 200 OK\r\n"
                                 "Content-Length: %zu\r\n"
                                 "Connection: close\r\n\r\n",
                                 n);
    c->total = n;
    c->stop = gated && !gate_open ? n / 2 : n;
    c->state = C_SEND;
}

static void conn_read(struct conn *c, bool gate_open)
{
    ssize_t r = read(c->fd, c->req + c->reqlen, sizeof c->req - 1 - c->reqlen);

    if (r <= 0) {
        if (r == 0 || (errno != EAGAIN && errno != EINTR))
            conn_close(c);
        return;
    }
    if (c->state == C_SILENT)
        return; /* read and ignored, to see the client leave */
    c->reqlen += (size_t)r;
    c->req[c->reqlen] = '\0';
    if (strstr(c->req, "\r\n\r\n"))
        conn_parse(c, gate_open);
    else if (c->reqlen == sizeof c->req - 1)
        conn_close(c);
}

static void conn_write(struct conn *c)
{
    unsigned char buf[65536];
    size_t len;
    ssize_t r;

    if (c->hdrsent < c->hdrlen) {
        r = send(c->fd, c->hdr + c->hdrsent, c->hdrlen - c->hdrsent,
                 MSG_NOSIGNAL);
        if (r < 0)
            goto error;
        c->hdrsent += (size_t)r;
        return;
    }
    len = c->stop - c->sent < sizeof buf ? c->stop - c->sent : sizeof buf;
    for (size_t i = 0; i < len; i++)
        buf[i] = pattern(c->sent + i);
    r = send(c->fd, buf, len, MSG_NOSIGNAL);
    if (r < 0)
        goto error;
    c->sent += (size_t)r;
    if (c->sent == c->total)
        conn_close(c);
    else if (c->sent == c->stop)
        c->state = C_GATED;
    return;
error:
    if (errno != EAGAIN && errno != EINTR)
        conn_close(c); /* the client left */
}

static void *server_main(void *arg)
{
    struct server *srv = arg;

    for (;;) {
        struct pollfd p[3 + MAX_CONNS];
        struct conn *at[3 + MAX_CONNS];
        nfds_t n = 3;

        p[0] = (struct pollfd){ .fd = srv->ctl[0], .events = POLLIN };
        p[1] = (struct pollfd){ .fd = srv->http, .events = POLLIN };
        p[2] = (struct pollfd){ .fd = srv->silent, .events = POLLIN };
        for (int i = 0; i < MAX_CONNS; i++) {
            struct conn *c = &srv->conns[i];
            short ev = c->state == C_REQUEST || c->state == C_SILENT ? POLLIN
                       : c->state == C_SEND                         ? POLLOUT
                                                                    : 0;

            if (ev) {
                at[n] = c;
                p[n++] = (struct pollfd){ .fd = c->fd, .events = ev };
            }
        }
        if (poll(p, n, -1) < 0)
            continue; /* EINTR */
        if (p[0].revents) {
            char cmd;

            if (read(srv->ctl[0], &cmd, 1) == 1 && cmd == 'q')
                break;
            srv->gate_open = true;
            for (int i = 0; i < MAX_CONNS; i++) {
                struct conn *c = &srv->conns[i];

                if (c->state == C_GATED || c->state == C_SEND) {
                    c->stop = c->total;
                    c->state = C_SEND;
                }
            }
            continue; /* the array is stale now */
        }
        if (p[1].revents)
            conn_accept(srv, srv->http, C_REQUEST);
        if (p[2].revents)
            conn_accept(srv, srv->silent, C_SILENT);
        for (nfds_t i = 3; i < n; i++) {
            if (!p[i].revents)
                continue;
            if (at[i]->state == C_SEND)
                conn_write(at[i]);
            else
                conn_read(at[i], srv->gate_open);
        }
    }
    for (int i = 0; i < MAX_CONNS; i++)
        if (srv->conns[i].state != C_FREE)
            conn_close(&srv->conns[i]);
    return NULL;
}

static void server_start(struct server *srv)
{
    memset(srv, 0, sizeof *srv);
    tu_pipe(srv->ctl);
    srv->http = tcp_socket_on_loopback(&srv->http_port);
    ck_assert_int_eq(listen(srv->http, 64), 0);
    srv->silent = tcp_socket_on_loopback(&srv->silent_port);
    ck_assert_int_eq(listen(srv->silent, 64), 0);
    srv->refused = tcp_socket_on_loopback(&srv->refused_port);
    ck_assert_int_eq(pthread_create(&srv->thread, NULL, server_main, srv), 0);
}

static void server_command(struct server *srv, char cmd)
{
    ck_assert_int_eq(write(srv->ctl[1], &cmd, 1), 1);
}

static void server_stop(struct server *srv)
{
    server_command(srv, 'q');
    ck_assert_int_eq(pthread_join(srv->thread, NULL), 0);
    close(srv->http);
    close(srv->silent);
    close(srv->refused);
    close(srv->ctl[0]);
    close(srv->ctl[1]);
}

static unsigned registry_fds(osev_ctx *ctx)
{
    struct osev_registry_stats rs = { .size = sizeof rs };

    ck_assert_int_eq(osev_get_registry_stats(ctx, &rs), 0);
    return rs.fds;
}

/*
 * Open the gate from a deferred call queued just after an attach: it
 * runs in the first pass, after that pass's timers, among them the
 * attach's full pass.  It notes the fd watches the context holds then.
 */
struct gate_opener {
    struct server *srv;
    unsigned fds_then;
    bool ran;
};

static void open_gate_deferred(osev_ctx *ctx, void *arg)
{
    struct gate_opener *g = arg;

    g->fds_then = registry_fds(ctx);
    g->ran = true;
    server_command(g->srv, 'g');
}

/* ------------------------------------------------------------------ */
/* Transfers                                                           */
/* ------------------------------------------------------------------ */

struct xfer {
    CURL *easy;
    size_t got;
    bool bad;  /* a body byte differed from the pattern */
    bool done; /* reported, exactly once */
    CURLcode result;
    long status;
    int attach_in_write; /* test_refusals: attach from a write callback */
    osev_ctx *ctx;
    CURLM *multi;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct xfer *x = arg;
    size_t len = size * n;

    for (size_t i = 0; i < len; i++)
        if ((unsigned char)p[i] != pattern(x->got + i))
            x->bad = true;
    x->got += len;
    if (x->attach_in_write == 1) {
        osev_curl *b = (osev_curl *)&b;

        x->attach_in_write = osev_curl_attach(x->ctx, x->multi, NULL, NULL, &b);
        ck_assert_ptr_eq(b, (osev_curl *)&b);
    }
    return len;
}

static void xfer_start(struct xfer *x, CURLM *multi, int port,
                       const char *path, long timeout_ms)
{
    char url[128];

    memset(x, 0, sizeof *x);
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    x->easy = curl_easy_init();
    ck_assert_ptr_nonnull(x->easy);
    x->multi = multi;
    curl_easy_setopt(x->easy, CURLOPT_URL, url);
    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
    curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x->easy, CURLOPT_NOPROXY, "*");
    if (timeout_ms > 0)
        curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    ck_assert_int_eq(curl_multi_add_handle(multi, x->easy), CURLM_OK);
}

/* The transfer is reported: note it, take it out of the multi handle. */
static void xfer_finish(struct xfer *x, CURL *easy, CURLcode result)
{
    ck_assert_ptr_eq(easy, x->easy);
    ck_assert_msg(!x->done, "a transfer reported twice");
    x->done = true;
    x->result = result;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &x->status);
    ck_assert_int_eq(curl_multi_remove_handle(x->multi, easy), CURLM_OK);
    curl_easy_cleanup(easy);
    x->easy = NULL;
}

/* A transfer of /size/N or /gated/N ended well. */
static bool xfer_ok(const struct xfer *x, size_t n)
{
    return x->done && x->result == CURLE_OK && x->status == 200 &&
           x->got == n && !x->bad;
}

static void assert_xfer_ok(const struct xfer *x, size_t n)
{
    ck_assert_msg(xfer_ok(x, n),
                  "transfer of %zu bytes: done %d, %s, HTTP %ld, %zu bytes, "
                  "%s",
                  n, x->done, curl_easy_strerror(x->result), x->status, x->got,
                  x->bad ? "wrong content" : "content right");
}

/* Take one "curl.done" event, within 30 s, and finish its transfer. */
static struct xfer *take_done(struct host *h, int type, CURLM *multi)
{
    osev_event *ev;
    struct osev_curl_done *d;
    struct xfer *x;

    ck_assert_int_eq(host_wait_event(h, UINT64_C(1) << type, 30000, &ev), 0);
    ck_assert_uint_eq(ev->type, (unsigned)type);
    d = ev->data;
    x = (struct xfer *)(uintptr_t)ev->for_user;
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_eq(d->multi, multi);
    xfer_finish(x, d->easy, d->result);
    osev_event_free(host_ctx(h), ev);
    return x;
}

/* Drive @multi by hand, as an application without osevent would, until
 * every transfer of @xs is done. */
static void perform_by_hand(CURLM *multi, struct xfer *xs, int n)
{
    osev_time deadline = osev_now() + osev_s(30);

    for (;;) {
        int running, left, done = 0;
        CURLMsg *m;

        ck_assert_int_eq(curl_multi_perform(multi, &running), CURLM_OK);
        while ((m = curl_multi_info_read(multi, &left))) {
            struct xfer *x = NULL;

            ck_assert_int_eq(m->msg, CURLMSG_DONE);
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            xfer_finish(x, m->easy_handle, m->data.result);
        }
        for (int i = 0; i < n; i++)
            done += xs[i].done;
        if (done == n)
            return;
        ck_assert_msg(osev_now() < deadline, "transfers not done in 30 s");
        ck_assert_int_eq(curl_multi_poll(multi, NULL, 0, 1000, NULL),
                         CURLM_OK);
    }
}

/* ------------------------------------------------------------------ */
/* The scenario, in every host                                         */
/* ------------------------------------------------------------------ */

static const size_t sizes[] = { 0, 1, 4097, 200003, 1u << 20 };
#define NSIZES (sizeof sizes / sizeof sizes[0])

/*
 * Five transfers of known sizes (1 MiB is more than a socket buffer holds,
 * so the server's writes block and the client reads in many turns), one
 * refused, one that times out, all at once on one multi handle; each
 * reported once, as an event, with its result and CURLOPT_PRIVATE.  The
 * detach leaves nothing registered.
 */
START_TEST(transfers_in_every_host)
{
    struct server srv;
    struct host *h;
    osev_ctx *ctx;
    CURLM *multi;
    osev_curl *b;
    struct xfer xs[NSIZES + 2], *refused = &xs[NSIZES],
                                *silent = &xs[NSIZES + 1];
    struct osev_registry_stats rs = { .size = sizeof rs };
    osev_event *ev;
    int type, ok = 0;
    char path[64];

    server_start(&srv);
    h = host_open(host_names[_i]);
    ctx = host_ctx(h);
    type = osev_event_type_get(ctx, OSEV_CURL_EVENT_DONE);
    ck_assert_int_ge(type, 0);
    multi = curl_multi_init();
    ck_assert_ptr_nonnull(multi);
    ck_assert_int_eq(osev_curl_attach(ctx, multi, NULL, NULL, &b), 0);

    for (size_t i = 0; i < NSIZES; i++) {
        snprintf(path, sizeof path, "/size/%zu", sizes[i]);
        xfer_start(&xs[i], multi, srv.http_port, path, 0);
    }
    xfer_start(refused, multi, srv.refused_port, "/size/1", 0);
    /* Whatever the machine's speed, a server that never answers makes
     * this time out: the bound is small only to keep the test quick. */
    xfer_start(silent, multi, srv.silent_port, "/size/1", 200);

    for (size_t i = 0; i < NSIZES + 2; i++)
        take_done(h, type, multi);
    ck_assert_int_eq(osev_event_check(ctx, UINT64_C(1) << type, NULL, NULL,
                                      &ev),
                     -EAGAIN);

    for (size_t i = 0; i < NSIZES; i++)
        ok += xfer_ok(&xs[i], sizes[i]);
    printf("curl x %s: %d ok, %d refused, %d timed out\n", host_names[_i], ok,
           refused->result == CURLE_COULDNT_CONNECT,
           silent->result == CURLE_OPERATION_TIMEDOUT);
    fflush(stdout);
    for (size_t i = 0; i < NSIZES; i++)
        assert_xfer_ok(&xs[i], sizes[i]);
    ck_assert_msg(refused->result == CURLE_COULDNT_CONNECT, "refused: %s",
                  curl_easy_strerror(refused->result));
    ck_assert_msg(silent->result == CURLE_OPERATION_TIMEDOUT, "silent: %s",
                  curl_easy_strerror(silent->result));

    /* Every socket was removed as libcurl let it go, and with no transfer
     * left libcurl deleted its timeout: the bridge holds its timer,
     * disarmed, and nothing else. */
    ck_assert_int_eq(osev_get_registry_stats(ctx, &rs), 0);
    ck_assert_uint_eq(rs.fds, 0);
    ck_assert_uint_eq(rs.timers, 1);
    ck_assert_uint_eq(rs.armed_timers, 0);

    osev_curl_detach(b);
    host_assert_empty(h);
    ck_assert_int_eq(curl_multi_cleanup(multi), CURLM_OK);
    host_close(h);
    server_stop(&srv);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Detach and context end with transfers in flight                     */
/* ------------------------------------------------------------------ */

#define GATED 262144u

struct halves {
    struct xfer *xs;
    int n;
};

static bool halves_arrived(void *arg)
{
    struct halves *hv = arg;

    for (int i = 0; i < hv->n; i++)
        if (hv->xs[i].got < GATED / 2)
            return false;
    return true;
}

/* Two gated transfers, each held after the first half of its body. */
static void start_gated(struct host *h, struct server *srv, CURLM *multi,
                        struct xfer xs[2])
{
    char path[64];
    struct halves hv = { xs, 2 };

    snprintf(path, sizeof path, "/gated/%u", GATED);
    xfer_start(&xs[0], multi, srv->http_port, path, 0);
    xfer_start(&xs[1], multi, srv->http_port, path, 0);
    ck_assert(host_run_until(h, halves_arrived, &hv, 30000));
    ck_assert_uint_eq(xs[0].got, GATED / 2);
    ck_assert_uint_eq(xs[1].got, GATED / 2);
}

/* A second bridge, attached after the first's detach, finishes what the
 * first started.  libcurl does not announce again the sockets it already
 * announced, so the attach finds them itself and watches them at once.
 * The gate opens only after the attach's first pass, so the data
 * arrives on a socket the new bridge must already watch. */
START_TEST(detach_in_flight_then_attach_again)
{
    struct server srv;
    struct gate_opener g = { .srv = &srv };
    struct host *h;
    osev_ctx *ctx;
    CURLM *multi;
    osev_curl *b;
    struct xfer xs[2];
    int type;

    server_start(&srv);
    h = host_open(host_names[_i]);
    ctx = host_ctx(h);
    type = osev_event_type_get(ctx, OSEV_CURL_EVENT_DONE);
    multi = curl_multi_init();
    ck_assert_int_eq(osev_curl_attach(ctx, multi, NULL, NULL, &b), 0);
    start_gated(h, &srv, multi, xs);

    osev_curl_detach(b);
    host_assert_empty(h);

    ck_assert_int_eq(osev_curl_attach(ctx, multi, NULL, NULL, &b), 0);
    ck_assert_uint_eq(registry_fds(ctx), 2);
    ck_assert_int_eq(osev_defer(ctx, open_gate_deferred, &g), 0);
    take_done(h, type, multi);
    take_done(h, type, multi);
    ck_assert(g.ran);
    assert_xfer_ok(&xs[0], GATED);
    assert_xfer_ok(&xs[1], GATED);
    osev_curl_detach(b);
    host_assert_empty(h);
    ck_assert_int_eq(curl_multi_cleanup(multi), CURLM_OK);
    host_close(h);
    server_stop(&srv);
}
END_TEST

/* After a detach the application drives the transfers itself, and
 * nothing reaches the context: the multi handle has no callback of
 * ours left. */
START_TEST(detach_in_flight_then_perform)
{
    struct server srv;
    struct host *h;
    CURLM *multi;
    osev_curl *b;
    struct xfer xs[2];

    server_start(&srv);
    h = host_open(host_names[_i]);
    multi = curl_multi_init();
    ck_assert_int_eq(osev_curl_attach(host_ctx(h), multi, NULL, NULL, &b), 0);
    start_gated(h, &srv, multi, xs);

    osev_curl_detach(b);
    host_assert_empty(h);
    server_command(&srv, 'g');
    perform_by_hand(multi, xs, 2);
    assert_xfer_ok(&xs[0], GATED);
    assert_xfer_ok(&xs[1], GATED);
    host_assert_empty(h);
    ck_assert_int_eq(curl_multi_cleanup(multi), CURLM_OK);
    host_close(h);
    server_stop(&srv);
}
END_TEST

/* osev_ctx_free() without a detach: the bridge ends with the context and
 * leaves the multi handle with no callback into it (valgrind sees any
 * use of the freed bridge or context); the transfers go on by hand and
 * the multi handle cleans up. */
START_TEST(ctx_free_without_detach)
{
    struct server srv;
    struct host *h;
    CURLM *multi;
    osev_curl *b;
    struct xfer xs[2];

    server_start(&srv);
    h = host_open(host_names[_i]);
    multi = curl_multi_init();
    ck_assert_int_eq(osev_curl_attach(host_ctx(h), multi, NULL, NULL, &b), 0);
    start_gated(h, &srv, multi, xs);

    host_close(h);
    server_command(&srv, 'g');
    perform_by_hand(multi, xs, 2);
    assert_xfer_ok(&xs[0], GATED);
    assert_xfer_ok(&xs[1], GATED);
    ck_assert_int_eq(curl_multi_cleanup(multi), CURLM_OK);
    server_stop(&srv);
}
END_TEST

/* Between a detach and the next attach the application ran the multi
 * handle itself, and a new transfer opened its socket then, unannounced
 * (libcurl announces sockets only to a socket callback): the attach's
 * first pass has libcurl announce it, so by the end of that pass the
 * context watches the three sockets. */
START_TEST(perform_between_detach_and_attach)
{
    struct server srv;
    struct gate_opener g = { .srv = &srv };
    struct host *h;
    osev_ctx *ctx;
    CURLM *multi;
    osev_curl *b;
    struct xfer xs[3];
    int type, running;
    char path[64];

    server_start(&srv);
    h = host_open(host_names[_i]);
    ctx = host_ctx(h);
    type = osev_event_type_get(ctx, OSEV_CURL_EVENT_DONE);
    multi = curl_multi_init();
    ck_assert_int_eq(osev_curl_attach(ctx, multi, NULL, NULL, &b), 0);
    start_gated(h, &srv, multi, xs);
    osev_curl_detach(b);

    snprintf(path, sizeof path, "/gated/%u", GATED);
    xfer_start(&xs[2], multi, srv.http_port, path, 0);
    ck_assert_int_eq(curl_multi_perform(multi, &running), CURLM_OK);
    ck_assert_int_eq(running, 3);
    host_assert_empty(h);

    ck_assert_int_eq(osev_curl_attach(ctx, multi, NULL, NULL, &b), 0);
    ck_assert_int_eq(osev_defer(ctx, open_gate_deferred, &g), 0);
    for (int i = 0; i < 3; i++)
        take_done(h, type, multi);
    ck_assert(g.ran);
    ck_assert_uint_eq(g.fds_then, 3);
    for (int i = 0; i < 3; i++)
        assert_xfer_ok(&xs[i], GATED);
    osev_curl_detach(b);
    host_assert_empty(h);
    ck_assert_int_eq(curl_multi_cleanup(multi), CURLM_OK);
    host_close(h);
    server_stop(&srv);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Reports by callback                                                 */
/* ------------------------------------------------------------------ */

#define CHAIN 3

struct chain {
    struct server *srv;
    CURLM *multi;
    osev_curl *b;
    struct xfer xs[CHAIN];
    int started, finished;
    bool detached;
};

/* Each report starts the next transfer, from the context's callback;
 * the last detaches the bridge from inside its own callback. */
static void chain_done(osev_curl *bridge, CURL *easy, CURLcode result,
                       void *arg)
{
    struct chain *ch = arg;
    struct xfer *x = NULL;

    ck_assert_ptr_eq(bridge, ch->b);
    ck_assert(!ch->detached);
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
    ck_assert_ptr_eq(x, &ch->xs[ch->finished]);
    xfer_finish(x, easy, result);
    ch->finished++;
    if (ch->started < CHAIN) {
        xfer_start(&ch->xs[ch->started++], ch->multi, ch->srv->http_port,
                   "/size/70000", 0);
    } else {
        osev_curl_detach(bridge);
        ch->detached = true;
    }
}

static bool chain_detached(void *arg)
{
    return ((struct chain *)arg)->detached;
}

START_TEST(callbacks_chain_then_detach_inside)
{
    struct server srv;
    struct host *h;
    struct chain ch = { .srv = &srv };

    server_start(&srv);
    h = host_open(host_names[_i]);
    ch.multi = curl_multi_init();
    ck_assert_int_eq(osev_curl_attach(host_ctx(h), ch.multi, chain_done, &ch,
                                      &ch.b),
                     0);
    /* No event type is taken when reports go to a callback. */
    ck_assert_int_eq(osev_event_type_find(host_ctx(h), OSEV_CURL_EVENT_DONE),
                     -ENOENT);
    xfer_start(&ch.xs[ch.started++], ch.multi, srv.http_port, "/size/70000",
               0);
    ck_assert(host_run_until(h, chain_detached, &ch, 30000));
    ck_assert_int_eq(ch.finished, CHAIN);
    for (int i = 0; i < CHAIN; i++)
        assert_xfer_ok(&ch.xs[i], 70000);
    host_assert_empty(h);
    ck_assert_int_eq(curl_multi_cleanup(ch.multi), CURLM_OK);
    host_close(h);
    server_stop(&srv);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Refusals                                                            */
/* ------------------------------------------------------------------ */

/* A release that osev_ctx_free() runs tries an attach on the dying
 * context. */
struct late_attach {
    osev_ctx *ctx;
    CURLM *multi;
    int r;
};

static void late_attach_release(void *arg)
{
    struct late_attach *la = arg;
    osev_curl *b = (osev_curl *)&b;

    la->r = osev_curl_attach(la->ctx, la->multi, NULL, NULL, &b);
    ck_assert_ptr_eq(b, (osev_curl *)&b);
}

static void never_called(osev_timer *t, osev_time now, void *arg)
{
    (void)t;
    (void)now;
    (void)arg;
    ck_abort_msg("a disarmed timer ran");
}

START_TEST(attach_refusals)
{
    struct server srv;
    struct host *h = host_open("builtin");
    osev_ctx *ctx = host_ctx(h), *full;
    CURLM *multi = curl_multi_init();
    osev_curl *b = (osev_curl *)&b;
    struct late_attach la = { .r = 1 };
    osev_timer *t;
    struct xfer x;
    CURL *easy;
    int type;

    ck_assert_int_eq(osev_curl_attach(NULL, multi, NULL, NULL, &b), -EINVAL);
    ck_assert_int_eq(osev_curl_attach(ctx, NULL, NULL, NULL, &b), -EINVAL);
    ck_assert_int_eq(osev_curl_attach(ctx, multi, NULL, NULL, NULL), -EINVAL);
    easy = curl_easy_init();
    ck_assert_int_eq(osev_curl_attach(ctx, (CURLM *)easy, NULL, NULL, &b),
                     -EINVAL);
    curl_easy_cleanup(easy);
    ck_assert_ptr_eq(b, (osev_curl *)&b);
    osev_curl_detach(NULL);

    /* From a release of a context being freed. */
    ck_assert_int_eq(osev_ctx_new(NULL, &la.ctx), 0);
    la.multi = multi;
    ck_assert_int_eq(osev_timer_add(la.ctx, OSEV_TIME_INFINITY, never_called,
                                    &la, &t),
                     0);
    osev_timer_set_release(t, late_attach_release);
    osev_ctx_free(la.ctx);
    ck_assert_int_eq(la.r, -ESTALE);

    /* Every type named otherwise: no events, but a callback will do. */
    ck_assert_int_eq(osev_ctx_new(NULL, &full), 0);
    for (unsigned ty = 0; ty <= OSEV_EVENT_TYPE_MAX; ty++) {
        char name[16];

        snprintf(name, sizeof name, "app.%u", ty);
        ck_assert_int_eq(osev_event_type_reserve(full, name, ty), 0);
    }
    ck_assert_int_eq(osev_curl_attach(full, multi, NULL, NULL, &b), -ENOSPC);
    ck_assert_ptr_eq(b, (osev_curl *)&b);
    ck_assert_int_eq(osev_curl_attach(full, multi, chain_done, NULL, &b), 0);
    osev_curl_detach(b);
    osev_ctx_free(full);

    /* From inside a libcurl callback, libcurl refuses: so does attach. */
    server_start(&srv);
    type = osev_event_type_get(ctx, OSEV_CURL_EVENT_DONE);
    ck_assert_int_eq(osev_curl_attach(ctx, multi, NULL, NULL, &b), 0);
    xfer_start(&x, multi, srv.http_port, "/size/10", 0);
    x.ctx = ctx;
    x.attach_in_write = 1;
    take_done(h, type, multi);
    assert_xfer_ok(&x, 10);
    ck_assert_int_eq(x.attach_in_write, -EBUSY);
    osev_curl_detach(b);
    host_assert_empty(h);
    ck_assert_int_eq(curl_multi_cleanup(multi), CURLM_OK);
    host_close(h);
    server_stop(&srv);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Allocation failures                                                 */
/* ------------------------------------------------------------------ */

/* An allocator for the context that fails the allocation numbered
 * fail_countdown from now (counting sizes > 0), once; tu_realloc()
 * counts what stays allocated. */
static long fail_countdown = -1;
static bool fail_happened;

static void *failing_realloc(void *user, void *ptr, size_t size)
{
    if (size > 0 && fail_countdown >= 0 && fail_countdown-- == 0) {
        fail_happened = true;
        return NULL;
    }
    return tu_realloc(user, ptr, size);
}

/*
 * Each allocation osevent makes from the attach on fails once, in turn:
 * the attach refuses (-ENOMEM, nothing kept), or the transfer is still
 * reported exactly once, either well (a report that found no memory for
 * its event is retried) or with CURLE_ABORTED_BY_CALLBACK (a socket that
 * could not be watched: libcurl fails its transfers, the bridge reports
 * them); nothing hangs, and nothing is left allocated.
 */
START_TEST(allocation_failures)
{
    struct server srv;
    int refused = 0, ok = 0, aborted = 0;

    server_start(&srv);
    fail_happened = true;
    for (long n = 0; fail_happened; n++) {
        struct osev_ctx_opts o = { .size = sizeof o,
                                   .realloc_fn = failing_realloc };
        osev_ctx *ctx;
        CURLM *multi = curl_multi_init();
        osev_curl *b;
        osev_event *ev;
        struct xfer x;
        int type, r;

        ck_assert_int_eq(osev_ctx_new(&o, &ctx), 0);
        type = osev_event_type_get(ctx, OSEV_CURL_EVENT_DONE);
        fail_happened = false;
        fail_countdown = n;
        r = osev_curl_attach(ctx, multi, NULL, NULL, &b);
        if (r == 0) {
            xfer_start(&x, multi, srv.http_port, "/size/5000", 0);
            do /* the built-in loop's own set-up may fail too: once */
                r = osev_event_wait(ctx, UINT64_C(1) << type, NULL, NULL,
                                    osev_now() + osev_s(30), &ev);
            while (r == -ENOMEM);
            ck_assert_int_eq(r, 0);
            ck_assert_uint_eq(ev->for_user, (uint64_t)(uintptr_t)&x);
            xfer_finish(&x, ((struct osev_curl_done *)ev->data)->easy,
                        ((struct osev_curl_done *)ev->data)->result);
            osev_event_free(ctx, ev);
            ck_assert_int_eq(osev_event_check(ctx, UINT64_C(1) << type, NULL,
                                              NULL, &ev),
                             -EAGAIN);
            if (x.result == CURLE_ABORTED_BY_CALLBACK) {
                aborted++;
            } else {
                assert_xfer_ok(&x, 5000);
                ok++;
            }
            osev_curl_detach(b);
            ck_assert_uint_eq(registry_fds(ctx), 0);
        } else {
            ck_assert_int_eq(r, -ENOMEM);
            refused++;
        }
        fail_countdown = -1;
        ck_assert_int_eq(curl_multi_cleanup(multi), CURLM_OK);
        osev_ctx_free(ctx);
        ck_assert_int_eq(tu_alloc_live(), 0);
    }
    /* Each way out was taken: the attach's allocations, a watch's, and
     * the rest (events, the loop's). */
    ck_assert_int_gt(refused, 0);
    ck_assert_int_gt(aborted, 0);
    ck_assert_int_gt(ok, 0);
    server_stop(&srv);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("curl bridge");
    TCase *tc;
    int r;

    /* Once, before Check forks: not thread-safe, and costly. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    for (int i = 0; host_names[i]; i++) {
        tc = tcase_create(host_names[i]);
        tcase_set_timeout(tc, 120);
        tcase_add_loop_test(tc, transfers_in_every_host, i, i + 1);
        tcase_add_loop_test(tc, detach_in_flight_then_attach_again, i, i + 1);
        tcase_add_loop_test(tc, detach_in_flight_then_perform, i, i + 1);
        tcase_add_loop_test(tc, ctx_free_without_detach, i, i + 1);
        tcase_add_loop_test(tc, perform_between_detach_and_attach, i, i + 1);
        tcase_add_loop_test(tc, callbacks_chain_then_detach_inside, i, i + 1);
        suite_add_tcase(s, tc);
    }
    tc = tcase_create("refusals");
    tcase_add_test(tc, attach_refusals);
#if LIBCURL_VERSION_NUM >= 0x075100
    /* Before 7.81 libcurl ignores a socket callback's failure. */
    tcase_add_test(tc, allocation_failures);
#endif
    suite_add_tcase(s, tc);
    r = tu_run_suite(s);
    curl_global_cleanup();
    return r;
}
