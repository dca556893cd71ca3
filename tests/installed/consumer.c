/*
 * consumer.c - a program built only from what `make install` put in
 * place (header, library, pkg-config file), as a user would build one.
 * scripts/check compiles it with `pkg-config --cflags --libs osevent`.
 */
#include <osevent.h>
#include <stdio.h>

static void fire(osev_timer *t, osev_time now, void *arg)
{
    (void)t, (void)now;
    osev_loop_exit(arg, 42);
}

int main(void)
{
    osev_ctx *ctx;
    osev_timer *t;
    int r;

    if (osev_ctx_new(NULL, &ctx) < 0 ||
        osev_timer_add(ctx, osev_now() + osev_ms(1), fire, ctx, &t) < 0)
        return 1;
    r = osev_loop_run(ctx);
    osev_ctx_free(ctx);
    printf("installed osevent: loop_run returned %d\n", r);
    return r == 42 ? 0 : 1;
}
