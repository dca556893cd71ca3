/*
 * virt-events.c - print libvirt domain lifecycle events, with an osevent
 * context as libvirt's event loop.
 *
 * SPDX-License-Identifier: MIT
 *
 * usage: virt-events [--timeout SECONDS] [URI]
 *        virt-events --self-test [URI]
 *
 * Opens URI (default test:///default, libvirt's built-in test driver: no
 * daemon needed) and prints each domain lifecycle event as it arrives,
 * until SECONDS pass (default 10; 0: forever).  Exits 0, or 2 on a usage
 * or libvirt error.  --self-test defines, starts, destroys and undefines a
 * domain itself and exits 0 only if the four events (defined, started,
 * stopped, undefined) arrived in that order within 10 s.
 *
 * There is no loop here: osev_virt_register_impl() makes the context
 * libvirt's event implementation, and osev_event_wait() runs osevent's
 * built-in loop, which serves libvirt's handles and timers (libvirt
 * delivers domain events from a timer) until our callback has posted an
 * event.  The callback only copies the event into an osevent event: the
 * printing happens here, in plain sequential code.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <osevent-virt.h>

#define EV_LIFECYCLE 1u

struct lifecycle {
    int event, detail;
    char domain[64];
};

static const char *event_name(int event)
{
    static const char *const names[] = {
        [VIR_DOMAIN_EVENT_DEFINED] = "defined",
        [VIR_DOMAIN_EVENT_UNDEFINED] = "undefined",
        [VIR_DOMAIN_EVENT_STARTED] = "started",
        [VIR_DOMAIN_EVENT_SUSPENDED] = "suspended",
        [VIR_DOMAIN_EVENT_RESUMED] = "resumed",
        [VIR_DOMAIN_EVENT_STOPPED] = "stopped",
        [VIR_DOMAIN_EVENT_SHUTDOWN] = "shutdown",
        [VIR_DOMAIN_EVENT_PMSUSPENDED] = "pmsuspended",
        [VIR_DOMAIN_EVENT_CRASHED] = "crashed",
    };

    if (event >= 0 && (size_t)event < sizeof names / sizeof *names &&
        names[event])
        return names[event];
    return "unknown";
}

/*
 * libvirt's callback, run from osevent's loop (inside osev_event_wait()).
 * An event that cannot be allocated is reported, not dropped silently:
 * osev_event_wait() then fails with -EIO.
 */
static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event,
                        int detail, void *opaque)
{
    osev_ctx *ctx = opaque;
    osev_event *ev = osev_event_new(ctx, EV_LIFECYCLE, 0,
                                    sizeof(struct lifecycle));
    struct lifecycle *lc;
    const char *name = virDomainGetName(dom);

    (void)conn;
    if (!ev) {
        osev_disaster(ctx, EV_LIFECYCLE, "virt-events: event lost", errno);
        return 0;
    }
    lc = ev->data;
    lc->event = event;
    lc->detail = detail;
    snprintf(lc->domain, sizeof lc->domain, "%s", name ? name : "?");
    osev_event_post(ctx, ev);
    return 0;
}

/* Wait for the next lifecycle event and print it: 0 with *lc filled,
 * -ETIMEDOUT, or another negative errno. */
static int next_event(osev_ctx *ctx, osev_time deadline,
                      struct lifecycle *lc)
{
    osev_event *ev;
    int r = osev_event_wait(ctx, 1u << EV_LIFECYCLE, NULL, NULL, deadline,
                            &ev);

    if (r < 0)
        return r;
    *lc = *(struct lifecycle *)ev->data;
    osev_event_free(ctx, ev);
    printf("virt-events: %-10s domain %s (detail %d)\n",
           event_name(lc->event), lc->domain, lc->detail);
    fflush(stdout);
    return 0;
}

/* ---- the --self-test ------------------------------------------------- */

static const char selftest_xml[] =
    "<domain type='test'>"
    "<name>virt-events-selftest</name>"
    "<memory>8192</memory>"
    "<os><type>hvm</type></os>"
    "</domain>";

/* Define, start, destroy, undefine: 0, or -1 (libvirt printed why). */
static int domain_round_trip(virConnectPtr conn)
{
    virDomainPtr dom = virDomainDefineXML(conn, selftest_xml);
    int r = -1;

    if (!dom)
        return -1;
    if (virDomainCreate(dom) < 0 || virDomainDestroy(dom) < 0)
        goto out;
    r = virDomainUndefine(dom);
out:
    if (r < 0)
        virDomainUndefine(dom);
    virDomainFree(dom);
    return r < 0 ? -1 : 0;
}

static int self_test(osev_ctx *ctx, virConnectPtr conn)
{
    static const int want[] = {
        VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_STARTED,
        VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_UNDEFINED,
    };
    osev_time deadline = osev_now() + osev_s(10);
    struct lifecycle lc;

    if (domain_round_trip(conn) < 0)
        return 2;
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        int r = next_event(ctx, deadline, &lc);

        if (r < 0) {
            fprintf(stderr, "virt-events: waiting for %s: %s\n",
                    event_name(want[i]), osev_strerror(r));
            return 1;
        }
        if (lc.event != want[i]) {
            fprintf(stderr, "virt-events: expected %s, got %s\n",
                    event_name(want[i]), event_name(lc.event));
            return 1;
        }
    }
    printf("virt-events: self-test passed\n");
    return 0;
}

/* ---- watching -------------------------------------------------------- */

static int watch(osev_ctx *ctx, const char *uri, long seconds)
{
    osev_time deadline = seconds > 0 ? osev_now() + osev_s(seconds)
                                     : OSEV_TIME_INFINITY;
    struct lifecycle lc;
    int r;

    printf("virt-events: watching %s\n", uri);
    fflush(stdout);
    while ((r = next_event(ctx, deadline, &lc)) == 0)
        ;
    if (r == -ETIMEDOUT)
        return 0;
    fprintf(stderr, "virt-events: %s\n", osev_strerror(r));
    return 2;
}

static int usage(void)
{
    fprintf(stderr, "usage: virt-events [--timeout SECONDS] [URI]\n"
                    "       virt-events --self-test [URI]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *uri = "test:///default";
    bool selftest = false;
    long seconds = 10;
    virConnectPtr conn = NULL;
    osev_ctx *ctx = NULL;
    int cb = -1, rc = 2, r;

    for (int i = 1; i < argc; i++) {
        char *end;

        if (strcmp(argv[i], "--self-test") == 0) {
            selftest = true;
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            seconds = strtol(argv[++i], &end, 10);
            if (*end || seconds < 0)
                return usage();
        } else if (argv[i][0] == '-' || i + 1 != argc) {
            return usage();
        } else {
            uri = argv[i];
        }
    }

    /* The implementation first: libvirt wants it before any connection. */
    r = osev_ctx_new(NULL, &ctx);
    if (r == 0)
        r = osev_virt_register_impl(ctx);
    if (r < 0) {
        fprintf(stderr, "virt-events: %s\n", osev_strerror(r));
        goto out;
    }
    conn = virConnectOpen(uri);
    if (!conn)
        goto out;
    cb = virConnectDomainEventRegisterAny(
        conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
        VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), ctx, NULL);
    if (cb < 0)
        goto out;

    rc = selftest ? self_test(ctx, conn) : watch(ctx, uri, seconds);

out:
    if (cb >= 0)
        virConnectDomainEventDeregisterAny(conn, cb);
    if (conn)
        virConnectClose(conn);
    /* The context outlives the connection, as libvirt requires; one
     * dispatch pass runs the free callbacks of what libvirt removed. */
    if (ctx) {
        osev_dispatch(ctx);
        osev_ctx_free(ctx);
    }
    return rc;
}
