/*
 * fetch-servers.c - an HTTP server and a DNS responder on 127.0.0.1,
 * driven by an osevent context like everything else fetch-tool runs.
 * Small on purpose: enough protocol for the self-test, no more.
 */
#define _GNU_SOURCE /* accept4() */
#include "fetch-servers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn {
    struct fetch_servers *s;
    struct conn *next;
    int fd;
    osev_fd *w;
    char req[1024];
    size_t req_len;
    char head[128];
    size_t head_len, head_off;
    size_t body_len, body_off;
};

struct fetch_servers {
    osev_ctx *ctx;
    int http_fd, dns_fd;
    osev_fd *http_w, *dns_w;
    struct conn *conns;
};

unsigned char fetch_servers_pattern(size_t i)
{
    return (unsigned char)('a' + i % 26);
}

static int socket_on_loopback(int type, int *port_out)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -errno;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        (type == SOCK_STREAM && listen(fd, 16) < 0) ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        int r = -errno;

        close(fd);
        return r;
    }
    *port_out = ntohs(sa.sin_port);
    return fd;
}

/* ---- HTTP ---- */

static void conn_end(struct conn *c)
{
    struct conn **at = &c->s->conns;

    while (*at != c)
        at = &(*at)->next;
    *at = c->next;
    osev_fd_remove(c->w); /* before the close */
    close(c->fd);
    free(c);
}

/* Header first, then the body from the pattern, as far as the socket
 * takes it; the connection ends when all is written. */
static void conn_write(struct conn *c)
{
    unsigned char buf[16384];

    while (c->head_off < c->head_len) {
        ssize_t n = write(c->fd, c->head + c->head_off,
                          c->head_len - c->head_off);

        if (n < 0)
            goto again_or_end;
        c->head_off += (size_t)n;
    }
    while (c->body_off < c->body_len) {
        size_t want = c->body_len - c->body_off;
        ssize_t n;

        if (want > sizeof buf)
            want = sizeof buf;
        for (size_t i = 0; i < want; i++)
            buf[i] = fetch_servers_pattern(c->body_off + i);
        n = write(c->fd, buf, want);
        if (n < 0)
            goto again_or_end;
        c->body_off += (size_t)n;
    }
    conn_end(c);
    return;
again_or_end:
    if (errno != EAGAIN && errno != EINTR)
        conn_end(c);
}

static void conn_ready(osev_fd *w, int fd, short revents, void *arg)
{
    struct conn *c = arg;
    unsigned long size;
    ssize_t n;

    if (revents & POLLOUT) {
        conn_write(c);
        return;
    }
    n = read(fd, c->req + c->req_len, sizeof c->req - 1 - c->req_len);
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            conn_end(c);
        return;
    }
    c->req_len += (size_t)n;
    c->req[c->req_len] = '\0';
    if (!strstr(c->req, "\r\n\r\n")) {
        if (c->req_len == sizeof c->req - 1)
            conn_end(c);
        return;
    }
    if (sscanf(c->req, "GET /size/%lu ", &size) == 1) {
        c->body_len = size;
        c->head_len = (size_t)snprintf(c->head, sizeof c->head,
                                       "HTTP/1.0 200 OK\r\n"
                                       "Content-Length: %lu\r\n\r\n", size);
    } else {
        c->head_len = (size_t)snprintf(c->head, sizeof c->head,
                                       "HTTP/1.0 404 Not Found\r\n"
                                       "Content-Length: 0\r\n\r\n");
    }
    if (osev_fd_modify(w, POLLOUT) < 0)
        conn_end(c);
}

static void http_accept(osev_fd *w, int fd, short revents, void *arg)
{
    struct fetch_servers *s = arg;
    struct conn *c;
    int cfd;

    (void)w, (void)revents;
    while ((cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        c = calloc(1, sizeof *c);
        if (!c || osev_fd_add(s->ctx, cfd, POLLIN, conn_ready, c, &c->w) < 0) {
            free(c);
            close(cfd);
            continue;
        }
        c->s = s;
        c->fd = cfd;
        c->next = s->conns;
        s->conns = c;
    }
}

/* ---- DNS ---- */

/* The end of the question at offset 12 of @q, or 0 if it is malformed;
 * @name receives the name, dotted. */
static size_t question_end(const unsigned char *q, size_t len, char *name,
                           size_t room)
{
    size_t at = 12, out = 0;

    while (at < len && q[at] != 0) {
        size_t label = q[at++];

        if (label > 63 || at + label > len || out + label + 1 >= room)
            return 0;
        if (out)
            name[out++] = '.';
        memcpy(name + out, q + at, label);
        out += label;
        at += label;
    }
    name[out] = '\0';
    return at + 5 <= len ? at + 5 : 0; /* the 0, QTYPE, QCLASS */
}

static void dns_ready(osev_fd *w, int fd, short revents, void *arg)
{
    static const unsigned char answer[] = {
        0xc0, 0x0c,             /* the name: the question's */
        0x00, 0x01, 0x00, 0x01, /* A, IN */
        0x00, 0x00, 0x00, 0x3c, /* TTL 60 s */
        0x00, 0x04, 127, 0, 0, 1,
    };
    unsigned char q[512], r[512 + sizeof answer];
    struct sockaddr_storage from;
    socklen_t from_len = sizeof from;
    char name[256];
    size_t end, n;
    ssize_t got;
    bool found, type_a;

    (void)w, (void)revents, (void)arg;
    while ((got = recvfrom(fd, q, sizeof q, 0, (struct sockaddr *)&from,
                           &from_len)) >= 0) {
        n = (size_t)got;
        end = n >= 12 ? question_end(q, n, name, sizeof name) : 0;
        if (!end)
            continue;
        type_a = q[end - 4] == 0 && q[end - 3] == 1;
        found = strcmp(name, "missing.test") != 0 &&
                strlen(name) > 5 && strcmp(name + strlen(name) - 5, ".test") == 0;
        memcpy(r, q, end);
        r[2] = 0x81;                 /* a response, recursion desired */
        r[3] = found ? 0x80 : 0x83;  /* recursion available; NXDOMAIN */
        r[4] = 0, r[5] = 1;          /* one question */
        r[6] = 0, r[7] = found && type_a ? 1 : 0;
        memset(r + 8, 0, 4);         /* no authority, no additional */
        if (found && type_a) {
            memcpy(r + end, answer, sizeof answer);
            end += sizeof answer;
        }
        sendto(fd, r, end, 0, (struct sockaddr *)&from, from_len);
        from_len = sizeof from;
    }
}

/* ---- start and stop ---- */

int fetch_servers_start(osev_ctx *ctx, struct fetch_servers **s_out,
                        int *http_port, int *dns_port)
{
    struct fetch_servers *s = calloc(1, sizeof *s);
    int r;

    if (!s)
        return -ENOMEM;
    s->ctx = ctx;
    s->http_fd = s->dns_fd = -1;
    r = s->http_fd = socket_on_loopback(SOCK_STREAM, http_port);
    if (r < 0)
        goto fail;
    r = s->dns_fd = socket_on_loopback(SOCK_DGRAM, dns_port);
    if (r < 0)
        goto fail;
    r = osev_fd_add(ctx, s->http_fd, POLLIN, http_accept, s, &s->http_w);
    if (r < 0)
        goto fail;
    r = osev_fd_add(ctx, s->dns_fd, POLLIN, dns_ready, s, &s->dns_w);
    if (r < 0)
        goto fail;
    *s_out = s;
    return 0;
fail:
    fetch_servers_stop(s);
    return r;
}

void fetch_servers_stop(struct fetch_servers *s)
{
    if (!s)
        return;
    while (s->conns)
        conn_end(s->conns);
    osev_fd_remove(s->http_w);
    osev_fd_remove(s->dns_w);
    if (s->http_fd >= 0)
        close(s->http_fd);
    if (s->dns_fd >= 0)
        close(s->dns_fd);
    free(s);
}
