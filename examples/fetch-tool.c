/*
 * fetch-tool.c - a blocking command-line tool that resolves names with
 * c-ares and fetches URLs with libcurl, both hosted by one osevent
 * context through their bridges.
 *
 * SPDX-License-Identifier: MIT
 *
 * usage: fetch-tool [--dns IP:PORT] [--timeout S] URL...
 *        fetch-tool --self-test
 *
 * For each URL: its host is resolved with c-ares (an address literal is
 * used as it is), then the URL is fetched with libcurl on the address
 * found (CURLOPT_RESOLVE), all URLs at once.  One line per URL, in the
 * order they finish: "URL: 200, 1234 bytes", or why it failed.  Exits 0
 * when every URL was fetched with a 2xx status, 1 when one was not, 2 on
 * a usage or system error.  --dns sends the lookups to that server
 * instead of the system's; --timeout bounds the whole run (default 30 s).
 * --self-test starts an HTTP server and a DNS responder on 127.0.0.1, on
 * the same context, and checks what the tool reports against them.
 *
 * There is no loop here.  The tool waits in osev_event_wait() for events
 * of two producers: its own "fetch.resolved" (posted from c-ares's answer
 * callback) and the curl bridge's "curl.done".  Each producer has its
 * event type by name, so neither picks a number the other holds.
 */
#include <osevent.h>
#include <osevent-cares.h>
#include <osevent-curl.h>

#include "fetch-servers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct job {
    struct fetch *f;
    char *url;
    char *host;
    long port;
    char addr[INET6_ADDRSTRLEN];
    int status;             /* c-ares's, for a failed lookup */
    CURL *easy;
    struct curl_slist *resolve;
    size_t bytes;
    unsigned char *check;   /* self-test: body bytes checked so far */
    bool body_ok;
    CURLcode result;
    long http;
};

struct fetch {
    osev_ctx *ctx;
    ares_channel channel;
    CURLM *multi;
    osev_cares *cares;
    osev_curl *curl;
    int resolved_type, done_type;
    struct job *jobs;
    int njobs, pending;
    bool check_bodies;
};

/* ---- resolving ---- */

/* From c-ares's answer callback, which runs in a dispatch pass of the
 * context: hand the answer to the main flow as an event. */
static void on_address(void *arg, int status, int timeouts,
                       struct hostent *he)
{
    struct job *j = arg;
    osev_event *ev;

    (void)timeouts;
    j->status = status;
    if (status == ARES_SUCCESS && he && he->h_addr_list[0])
        inet_ntop(he->h_addrtype, he->h_addr_list[0], j->addr,
                  sizeof j->addr);
    ev = osev_event_new(j->f->ctx, (unsigned)j->f->resolved_type,
                        (uint64_t)(uintptr_t)j, 0);
    if (!ev) {
        osev_disaster(j->f->ctx, (unsigned)j->f->resolved_type,
                      "fetch-tool: cannot report a lookup", errno);
        return;
    }
    osev_event_post(j->f->ctx, ev);
}

static int resolve(struct job *j)
{
    unsigned char buf[sizeof(struct in6_addr)];
    osev_event *ev;

    if (inet_pton(AF_INET, j->host, buf) == 1 ||
        inet_pton(AF_INET6, j->host, buf) == 1) {
        snprintf(j->addr, sizeof j->addr, "%s", j->host);
        ev = osev_event_new(j->f->ctx, (unsigned)j->f->resolved_type,
                            (uint64_t)(uintptr_t)j, 0);
        if (!ev)
            return -ENOMEM;
        osev_event_post(j->f->ctx, ev);
        return 0;
    }
    ares_gethostbyname(j->f->channel, j->host, AF_INET, on_address, j);
    return 0;
}

/* ---- fetching ---- */

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct job *j = arg;

    if (j->f->check_bodies)
        for (size_t i = 0; i < n; i++)
            j->body_ok &= (unsigned char)p[i] ==
                          fetch_servers_pattern(j->bytes + i);
    (void)size; /* always 1 */
    j->bytes += n;
    return n;
}

/* Fetch on the address found; the transfer starts at the next pass. */
static int start_transfer(struct job *j)
{
    char entry[512];

    snprintf(entry, sizeof entry, "%s:%ld:%s%s%s", j->host, j->port,
             strchr(j->addr, ':') ? "[" : "", j->addr,
             strchr(j->addr, ':') ? "]" : "");
    j->resolve = curl_slist_append(NULL, entry);
    j->easy = curl_easy_init();
    if (!j->resolve || !j->easy)
        return -ENOMEM;
    j->body_ok = true;
    curl_easy_setopt(j->easy, CURLOPT_URL, j->url);
    curl_easy_setopt(j->easy, CURLOPT_RESOLVE, j->resolve);
    curl_easy_setopt(j->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(j->easy, CURLOPT_WRITEDATA, j);
    curl_easy_setopt(j->easy, CURLOPT_PRIVATE, j);
    curl_easy_setopt(j->easy, CURLOPT_NOSIGNAL, 1L);
    return curl_multi_add_handle(j->f->multi, j->easy) == CURLM_OK ? 0
                                                                   : -ENOMEM;
}

static void job_finished(struct job *j, const char *why)
{
    if (why)
        printf("%s: %s\n", j->url, why);
    else
        printf("%s: %ld, %zu bytes%s\n", j->url, j->http, j->bytes,
               j->body_ok ? "" : " (wrong content)");
    j->f->pending--;
}

/* ---- the URLs ---- */

static int job_init(struct fetch *f, struct job *j, const char *url)
{
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL;
    int r = -EINVAL;

    j->f = f;
    j->url = strdup(url);
    if (!u || !j->url)
        goto out;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
            CURLUE_OK)
        goto out;
    /* An IPv6 literal comes bracketed. */
    if (host[0] == '[') {
        host[strlen(host) - 1] = '\0';
        memmove(host, host + 1, strlen(host));
    }
    j->host = strdup(host);
    j->port = strtol(port, NULL, 10);
    r = j->host ? 0 : -ENOMEM;
out:
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return r;
}

static void job_free(struct fetch *f, struct job *j)
{
    if (j->easy) {
        curl_multi_remove_handle(f->multi, j->easy);
        curl_easy_cleanup(j->easy);
    }
    curl_slist_free_all(j->resolve);
    free(j->host);
    free(j->url);
}

/* ---- one run ---- */

static int fetch_open(struct fetch *f, const char *dns)
{
    struct ares_options o = { .lookups = (char *)"b" };
    int r;

    r = osev_ctx_new(NULL, &f->ctx);
    if (r < 0)
        return r;
    /* The tool's own type first, by name, like the bridge's. */
    f->resolved_type = osev_event_type_get(f->ctx, "fetch.resolved");
    if (f->resolved_type < 0)
        return f->resolved_type;
    if (ares_init_options(&f->channel, &o, ARES_OPT_LOOKUPS) != ARES_SUCCESS)
        return -ENOMEM;
    if (dns && ares_set_servers_ports_csv(f->channel, dns) != ARES_SUCCESS)
        return -EINVAL;
    f->multi = curl_multi_init();
    if (!f->multi)
        return -ENOMEM;
    r = osev_cares_attach(f->ctx, f->channel, 0, &f->cares);
    if (r < 0)
        return r;
    /* No callback: finished transfers come as "curl.done" events. */
    r = osev_curl_attach(f->ctx, f->multi, NULL, NULL, &f->curl);
    if (r < 0)
        return r;
    f->done_type = osev_event_type_find(f->ctx, OSEV_CURL_EVENT_DONE);
    return f->done_type < 0 ? f->done_type : 0;
}

static void fetch_close(struct fetch *f)
{
    for (int i = 0; i < f->njobs; i++)
        job_free(f, &f->jobs[i]);
    free(f->jobs);
    /* Detach, then free the libraries' handles, then the context. */
    osev_curl_detach(f->curl);
    osev_cares_detach(f->cares);
    if (f->multi)
        curl_multi_cleanup(f->multi);
    if (f->channel)
        ares_destroy(f->channel);
    osev_ctx_free(f->ctx);
}

/* One event of either producer. */
static int handle(struct fetch *f, osev_event *ev)
{
    struct job *j;

    if ((int)ev->type == f->resolved_type) {
        j = (struct job *)(uintptr_t)ev->for_user;
        if (j->status != ARES_SUCCESS || !j->addr[0]) {
            char why[128];

            snprintf(why, sizeof why, "cannot resolve %s: %s", j->host,
                     ares_strerror(j->status));
            job_finished(j, why);
            return 0;
        }
        return start_transfer(j);
    }
    {
        const struct osev_curl_done *done = ev->data;

        j = (struct job *)(uintptr_t)ev->for_user;
        j->result = done->result;
        curl_easy_getinfo(done->easy, CURLINFO_RESPONSE_CODE, &j->http);
        job_finished(j, done->result == CURLE_OK
                            ? NULL
                            : curl_easy_strerror(done->result));
    }
    return 0;
}

/* Fetch every URL; returns 0, 1 (one failed) or a negative errno. */
static int fetch_run(struct fetch *f, char **urls, int n, osev_time deadline)
{
    uint64_t mask = (UINT64_C(1) << f->resolved_type) |
                    (UINT64_C(1) << f->done_type);
    int r, failed = 0;

    f->jobs = calloc((size_t)n, sizeof *f->jobs);
    if (!f->jobs)
        return -ENOMEM;
    f->njobs = n;
    for (int i = 0; i < n; i++) {
        r = job_init(f, &f->jobs[i], urls[i]);
        if (r < 0) {
            fprintf(stderr, "fetch-tool: %s: not a URL\n", urls[i]);
            return r;
        }
    }
    for (int i = 0; i < n; i++) {
        r = resolve(&f->jobs[i]);
        if (r < 0)
            return r;
        f->pending++;
    }
    osev_cares_update(f->cares); /* lookups were started: look again */
    while (f->pending > 0) {
        osev_event *ev;

        r = osev_event_wait(f->ctx, mask, NULL, NULL, deadline, &ev);
        if (r < 0)
            return r;
        r = handle(f, ev);
        osev_event_free(f->ctx, ev);
        if (r < 0)
            return r;
    }
    for (int i = 0; i < n; i++)
        failed |= f->jobs[i].result != CURLE_OK || !f->jobs[i].easy ||
                  f->jobs[i].http / 100 != 2 || !f->jobs[i].body_ok;
    return failed;
}

/* ---- self-test ---- */

static int self_test(void)
{
    struct fetch f = { .check_bodies = true };
    struct fetch_servers *srv = NULL;
    int http_port, dns_port, closed_port, r, ok = 0;
    char dns[64], urls[5][128];
    char *argv[5];

    r = fetch_open(&f, NULL);
    if (r == 0)
        r = fetch_servers_start(f.ctx, &srv, &http_port, &dns_port);
    if (r < 0)
        goto out;
    /* A port nothing listens on: the DNS port, over TCP. */
    closed_port = dns_port;
    snprintf(dns, sizeof dns, "127.0.0.1:%d", dns_port);
    if (ares_set_servers_ports_csv(f.channel, dns) != ARES_SUCCESS) {
        r = -EINVAL;
        goto out;
    }
    snprintf(urls[0], sizeof urls[0], "http://one.test:%d/size/1000",
             http_port);
    snprintf(urls[1], sizeof urls[1], "http://two.test:%d/size/300000",
             http_port);
    snprintf(urls[2], sizeof urls[2], "http://127.0.0.1:%d/size/0",
             http_port);
    snprintf(urls[3], sizeof urls[3], "http://missing.test:%d/size/1",
             http_port);
    snprintf(urls[4], sizeof urls[4], "http://127.0.0.1:%d/", closed_port);
    for (int i = 0; i < 5; i++)
        argv[i] = urls[i];
    r = fetch_run(&f, argv, 5, osev_now() + osev_s(20));
    if (r < 0)
        goto out;
    /* What each URL must have given. */
    ok = f.jobs[0].result == CURLE_OK && f.jobs[0].http == 200 &&
         f.jobs[0].bytes == 1000 && f.jobs[0].body_ok &&
         f.jobs[1].result == CURLE_OK && f.jobs[1].bytes == 300000 &&
         f.jobs[1].body_ok && strcmp(f.jobs[1].addr, "127.0.0.1") == 0 &&
         f.jobs[2].result == CURLE_OK && f.jobs[2].bytes == 0 &&
         f.jobs[3].status == ARES_ENOTFOUND && !f.jobs[3].easy &&
         f.jobs[4].result == CURLE_COULDNT_CONNECT;
out:
    fetch_servers_stop(srv);
    fetch_close(&f);
    if (r < 0)
        fprintf(stderr, "fetch-tool: self-test: %s\n", osev_strerror(r));
    printf("self-test: %s\n", r >= 0 && ok ? "ok" : "FAILED");
    return r >= 0 && ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct fetch f = { 0 };
    const char *dns = NULL;
    double timeout_s = 30;
    int i = 1, r;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
        ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
        return 2;
    if (argc == 2 && strcmp(argv[1], "--self-test") == 0) {
        r = self_test();
        goto out;
    }
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (strcmp(argv[i], "--dns") == 0)
            dns = argv[i + 1];
        else if (strcmp(argv[i], "--timeout") == 0)
            timeout_s = strtod(argv[i + 1], NULL);
        else
            break;
    }
    if (i >= argc || argv[i][0] == '-' || timeout_s <= 0) {
        fprintf(stderr, "usage: fetch-tool [--dns IP:PORT] [--timeout S] "
                        "URL...\n       fetch-tool --self-test\n");
        r = 2;
        goto out;
    }
    r = fetch_open(&f, dns);
    if (r == 0)
        r = fetch_run(&f, argv + i, argc - i,
                      osev_now() + (osev_time)(timeout_s * 1e9));
    if (r < 0) {
        fprintf(stderr, "fetch-tool: %s\n", osev_strerror(r));
        r = 2;
    }
    fetch_close(&f);
out:
    ares_library_cleanup();
    curl_global_cleanup();
    return r;
}
