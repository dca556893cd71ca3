/*
 * test-sdevent.c - the push scenario inside a real sd-event loop.
 *
 * sd-event counts nothing publicly, so there is no foreign_count.  What
 * it holds can still be seen from outside, through the kernel: every
 * enabled io source is an fd in sd-event's epoll set (sd_event_get_fd(),
 * listed in /proc/self/fdinfo), and an enabled time source keeps the
 * loop's timerfd for its clock armed once a turn has run.  So "empty"
 * here means: after one non-blocking turn that dispatched nothing, the
 * epoll set holds only sd-event's own timerfds, all disarmed.  A source
 * turned off but leaked would not show there; it would keep a reference
 * on the loop, which sd_event_unref() then never frees, and the leak
 * checkers (valgrind, ASan) report it.
 */
#include "scenario.h"
#include "epoll-set.h"

#include <stdint.h>

#include <systemd/sd-event.h>

#include "osevent-sdevent.h"

static void *sdev_loop_new(void)
{
    sd_event *e = NULL;

    ck_assert_int_ge(sd_event_new(&e), 0);
    return e;
}

static void sdev_loop_free(void *loop)
{
    sd_event_unref(loop);
}

static int sdev_attach(osev_ctx *ctx, void *loop)
{
    return osev_sdevent_attach(ctx, loop);
}

/* One blocking turn: sd-event dispatches one source per turn. */
static void sdev_iterate(void *loop)
{
    ck_assert_int_ge(sd_event_run(loop, UINT64_MAX), 0);
}

static bool sdev_is_empty(void *loop)
{
    /* The turn re-arms (here: disarms) the timerfds for what is left;
     * it dispatching anything means something was still there. */
    int r = sd_event_run(loop, 0);

    ck_assert_int_ge(r, 0);
    if (r > 0)
        return false;
    return epoll_set_busy(sd_event_get_fd(loop)) == 0;
}

static const struct scenario_loop sdevent_loop = {
    .name = "sdevent",
    .loop_new = sdev_loop_new,
    .loop_free = sdev_loop_free,
    .attach = sdev_attach,
    .detach = osev_sdevent_detach,
    .iterate = sdev_iterate,
    .foreign_count = NULL, /* sd-event has no count of its sources */
    .is_empty = sdev_is_empty,
};

int main(void)
{
    return scenario_main(&sdevent_loop);
}
