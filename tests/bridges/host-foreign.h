/*
 * host-foreign.h - what host.c knows of a foreign loop: the same five
 * calls for each.  Internal to tests/bridges.
 */
#ifndef OSEV_BRIDGE_HOST_FOREIGN_H
#define OSEV_BRIDGE_HOST_FOREIGN_H

#include "osevent.h"

struct foreign {
    const char *name;
    void *(*loop_new)(void);
    void (*loop_free)(void *loop);
    int (*attach)(osev_ctx *ctx, void *loop);
    void (*detach)(osev_ctx *ctx);
    void (*iterate)(void *loop); /* one turn; blocks until work */
};

/* libev's, from host-libev.c. */
void *host_libev_new(void);
void host_libev_free(void *loop);
int host_libev_attach(osev_ctx *ctx, void *loop);
void host_libev_detach(osev_ctx *ctx);
void host_libev_iterate(void *loop);

#define HOST_LIBEV_FOREIGN                                                  \
    { "libev", host_libev_new, host_libev_free, host_libev_attach,          \
      host_libev_detach, host_libev_iterate }

#endif
