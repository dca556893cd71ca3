/*
 * fetch-servers.h - the two servers fetch-tool's self-test talks to, run
 * by the tool's own context: an HTTP/1.0 server on 127.0.0.1 that answers
 * GET /size/N with N bytes, and a DNS responder on 127.0.0.1 that answers
 * A queries for names under ".test" with 127.0.0.1, except
 * "missing.test", which gets NXDOMAIN.  Two more producers on the same
 * context as the c-ares and libcurl bridges: nothing here blocks.
 */
#ifndef FETCH_SERVERS_H
#define FETCH_SERVERS_H

#include <osevent.h>

struct fetch_servers;

/* Start both on ephemeral ports; *http_port and *dns_port receive them.
 * Returns 0 or a negative errno. */
int fetch_servers_start(osev_ctx *ctx, struct fetch_servers **s_out,
                        int *http_port, int *dns_port);

/* The byte at offset @i of every body: what a client checks. */
unsigned char fetch_servers_pattern(size_t i);

/* Stop both and close every connection.  NULL is fine. */
void fetch_servers_stop(struct fetch_servers *s);

#endif
