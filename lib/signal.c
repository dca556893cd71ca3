/*
 * signal.c - signals as ordinary registry fds.
 *
 * A signal is process-wide and a context is not, so there are two layers.
 *
 * The hub (this file's statics, its own mutex) holds, for each signal,
 * how many watches the process has on it, the disposition to give back
 * when the last one goes, and the list of those watches; and the two
 * sources a signal can arrive through:
 *
 *  - a forwarding handler, installed for every watched signal on both
 *    paths: it sets the signal's flag in hub_caught[] and writes one byte
 *    to the self-pipe.  Two atomics and a write(2), errno saved: no
 *    library code runs in it.  Because it is always installed, a watched
 *    signal never takes its default action (terminating the process)
 *    whichever thread it lands on.
 *  - with the Linux APIs, unless OSEV_SIGNAL_BACKEND=pipe, a signalfd
 *    over the watched set, which reads what the application keeps
 *    pending by blocking the signal.
 *
 * The signal mask is never changed: it is the application's, per thread,
 * and a mask set in one thread could not be given back from another.
 *
 * Per context, each source is watched through a dup of its fd (so two
 * contexts in one foreign loop are two registrations, not one fd twice),
 * and each osev_signal has a flag of its own (notify.c: an eventfd, or a
 * pipe without the Linux APIs): an ordinary registry watch, counted like
 * the application's, whose callback runs the application's.  Whichever
 * context reads a source first "fans out" what it read under the hub
 * lock: it sets the flag of every watch of those signals in the
 * process, so two contexts watching one signal both get it whichever of
 * them polls first, and a context that is not polled finds it at its
 * next dispatch.  The reader also marks its own context's
 * watches for the running pass, so one dispatch delivers.  Arrivals
 * between two dispatches coalesce into one callback.
 *
 * Lock order: a context's lock, then the hub's.  The readers take the hub
 * lock with no context lock held, and the context's only after.
 *
 * After fork() the child shares the hub's fds with the parent: the first
 * hub operation in the child lets its copies go (see hub_fork_check())
 * and never touches the shared signalfd's mask.
 */
#include "internal.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef OSEV_LINUX_APIS
#include <sys/signalfd.h>
#define HAVE_SIGNALFD 1
#endif

/* Signals 1..64 are bits 0..63 of a uint64_t. */
#define HUB_NSIG 65
#define SIGBIT(signo) (UINT64_C(1) << ((signo) - 1))
_Static_assert(NSIG <= HUB_NSIG, "more signals than bits");
/* The handler may only use lock-free atomics. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "atomic int not lock-free");

struct osev_signal {
    struct osev__source s;  /* first; s.arg is the signal, s.release
                               closes flag once the watch is freed */
    void (*cb)(osev_signal *s, int signo, void *arg);
    void *arg;
    int signo;
    struct osev__notify flag; /* set by the fan-out */
    osev_fd *w;             /* the registry watch on flag.rfd */
    struct osev__list ctx_link;  /* ctx->sig->signals, under ctx lock */
    struct osev__list hub_link;  /* hub.sig[signo].watches, hub lock */
};

/* A context's part: its watches and its readers of the sources. */
struct osev__sigctx {
    struct osev__list signals;  /* live osev_signal */
    unsigned n;
    bool use_sfd;               /* read the signalfd too */
    osev_fd *pipe_w, *sfd_w;    /* internal watches on dups; while n > 0 */
};

static struct {
    pthread_mutex_t lock;
    pid_t pid;              /* the process the sources were made in */
    int pipe_r;             /* the self-pipe's read end, or -1 */
    int sfd;                /* the signalfd, or -1 */
    sigset_t sfd_mask;      /* every signal with refs > 0 */
    unsigned nwatch;        /* watches in the process */
    struct {
        unsigned refs;
        struct sigaction old;     /* the application's, to give back */
        struct osev__list watches;
    } sig[HUB_NSIG];
} hub = { .lock = PTHREAD_MUTEX_INITIALIZER, .pipe_r = -1, .sfd = -1 };

/* What the handler touches. */
static atomic_int hub_wfd = -1;      /* the self-pipe's write end */
static atomic_int hub_in_handler;    /* handlers running now */
static atomic_int hub_caught[HUB_NSIG];

static pthread_once_t hub_once = PTHREAD_ONCE_INIT;

static void hub_handler(int signo)
{
    int saved = errno;
    unsigned char b = (unsigned char)signo;
    int fd;

    atomic_fetch_add(&hub_in_handler, 1);
    if (signo > 0 && signo < HUB_NSIG)
        atomic_store(&hub_caught[signo], 1);
    /* After the flag: a reader that drains this byte then sees it. */
    fd = atomic_load(&hub_wfd);
    if (fd >= 0 && write(fd, &b, 1) < 0)
        (void)0; /* full: a byte is already there, which is enough */
    atomic_fetch_sub(&hub_in_handler, 1);
    errno = saved;
}

/* A fork while another thread holds the hub lock must not leave the
 * child with the lock taken. */
static void hub_prepare(void)
{
    pthread_mutex_lock(&hub.lock);
}

static void hub_after(void)
{
    pthread_mutex_unlock(&hub.lock);
}

static void hub_init_once(void)
{
    (void)pthread_atfork(hub_prepare, hub_after, hub_after);
}

static void hub_lock(void)
{
    pthread_once(&hub_once, hub_init_once);
    pthread_mutex_lock(&hub.lock);
}

static void hub_unlock(void)
{
    pthread_mutex_unlock(&hub.lock);
}

/* Close the sources, once no handler can still be writing to the pipe:
 * a handler that counted itself in before the exchange is waited for,
 * one that counts itself in after it finds -1. */
static void hub_close_sources(void)
{
    int wfd = atomic_exchange(&hub_wfd, -1);

    while (atomic_load(&hub_in_handler) > 0)
        sched_yield();
    if (wfd >= 0)
        close(wfd);
    if (hub.pipe_r >= 0)
        close(hub.pipe_r);
    if (hub.sfd >= 0)
        close(hub.sfd);
    hub.pipe_r = hub.sfd = -1;
}

/*
 * In a child of fork() the sources are the parent's too: reading them
 * would steal the parent's signals and changing the signalfd's mask would
 * change the parent's.  Let our copies go (the parent keeps its own); the
 * child makes new ones if it watches signals itself.  The counts stay:
 * they describe the watches of the contexts the child inherited, which it
 * may only free.
 */
static void hub_fork_check(void)
{
    if ((hub.pipe_r < 0 && hub.sfd < 0) || hub.pid == getpid())
        return;
    atomic_store(&hub_in_handler, 0); /* a parent thread's, not ours */
    hub_close_sources();
    for (int i = 0; i < HUB_NSIG; i++)
        atomic_store(&hub_caught[i], 0);
}

static int hub_open_sources(bool want_sfd)
{
    int p[2];

    if (hub.pipe_r < 0) {
        int r = osev__pipe(p);

        if (r < 0)
            return r;
        hub.pipe_r = p[0];
        hub.pid = getpid();
        atomic_store(&hub_wfd, p[1]);
    }
#ifdef HAVE_SIGNALFD
    if (want_sfd && hub.sfd < 0) {
        hub.sfd = signalfd(-1, &hub.sfd_mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (hub.sfd < 0) {
            hub.sfd = -1;
            return -errno;
        }
    }
#else
    (void)want_sfd;
#endif
    return 0;
}

static void hub_sfd_update(void)
{
#ifdef HAVE_SIGNALFD
    if (hub.sfd >= 0)
        (void)signalfd(hub.sfd, &hub.sfd_mask, 0);
#endif
}

/* One more watch of @signo; on the first, our handler goes in.  Called
 * with the hub lock; a failure changes nothing. */
static int hub_ref(int signo, bool want_sfd)
{
    int r;

    hub_fork_check();
    r = hub_open_sources(want_sfd);
    if (r == 0 && hub.sig[signo].refs == 0) {
        struct sigaction sa = { .sa_handler = hub_handler,
                                .sa_flags = SA_RESTART };

        sigemptyset(&sa.sa_mask);
        if (sigaction(signo, &sa, &hub.sig[signo].old) < 0) {
            r = -errno;
        } else {
            osev__list_init(&hub.sig[signo].watches);
            sigaddset(&hub.sfd_mask, signo);
            hub_sfd_update();
        }
    }
    if (r < 0) {
        if (hub.nwatch == 0)
            hub_close_sources();
        return r;
    }
    hub.sig[signo].refs++;
    hub.nwatch++;
    return 0;
}

/* One watch of @signo less; with the last, the application's disposition
 * comes back (unless it replaced ours meanwhile: then it is left alone),
 * and with the last of the process, the sources close. */
static void hub_unref(int signo)
{
    hub_fork_check();
    if (--hub.sig[signo].refs == 0) {
        struct sigaction cur;

        if (sigaction(signo, NULL, &cur) == 0 &&
            !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == hub_handler)
            sigaction(signo, &hub.sig[signo].old, NULL);
        sigdelset(&hub.sfd_mask, signo);
        hub_sfd_update();
        atomic_store(&hub_caught[signo], 0);
    }
    if (--hub.nwatch == 0)
        hub_close_sources();
}

/* Tell every watch of the signals in @bits.  Called with the hub lock. */
static void hub_fan_out(uint64_t bits)
{
    for (int signo = 1; bits && signo < HUB_NSIG; signo++) {
        struct osev__list *head = &hub.sig[signo].watches;

        if (!(bits & SIGBIT(signo)) || hub.sig[signo].refs == 0)
            continue;
        bits &= ~SIGBIT(signo);
        for (struct osev__list *n = head->next; n != head; n = n->next) {
            osev_signal *s = osev__container_of(n, osev_signal, hub_link);

            osev__notify_set(s->flag.wfd);
        }
    }
}

/* The reader's own watches of @bits run in the pass that read them.
 * Watches born in this round wait for the next, as fd watches do. */
static void mark_own(osev_ctx *ctx, uint64_t bits)
{
    struct osev__list *head;

    if (!bits)
        return;
    osev__lock(ctx);
    head = &ctx->sig->signals;
    for (struct osev__list *n = head->next; n != head; n = n->next) {
        osev_signal *s = osev__container_of(n, osev_signal, ctx_link);

        if (bits & SIGBIT(s->signo))
            osev__mark_fd(ctx, s->flag.rfd, POLLIN, ctx->epoch);
    }
    osev__unlock(ctx);
}

static void read_pipe(osev_fd *w, int fd, short revents, void *arg)
{
    uint64_t bits = 0;
    char buf[128];

    (void)revents, (void)arg;
    hub_lock();
    /* Drain first, then the flags: see hub_handler(). */
    while (read(fd, buf, sizeof buf) > 0)
        ;
    for (int signo = 1; signo < HUB_NSIG; signo++)
        if (atomic_exchange(&hub_caught[signo], 0))
            bits |= SIGBIT(signo);
    hub_fan_out(bits);
    hub_unlock();
    mark_own(w->s.ctx, bits);
}

#ifdef HAVE_SIGNALFD
static void read_sfd(osev_fd *w, int fd, short revents, void *arg)
{
    struct signalfd_siginfo si[8];
    uint64_t bits = 0;
    ssize_t n;

    (void)revents, (void)arg;
    hub_lock();
    while ((n = read(fd, si, sizeof si)) > 0)
        for (size_t i = 0; i < (size_t)n / sizeof *si; i++)
            if (si[i].ssi_signo > 0 && si[i].ssi_signo < HUB_NSIG)
                bits |= SIGBIT(si[i].ssi_signo);
    hub_fan_out(bits);
    hub_unlock();
    mark_own(w->s.ctx, bits);
}
#endif

/* The release of a reader watch: its arg is the dup it watched. */
static void close_fd(void *arg)
{
    close((int)(intptr_t)arg);
}

/* Watch a dup of @src (a hub source; the caller holds the hub lock). */
static int reader_add(osev_ctx *ctx, int src, osev_fd_cb *cb, osev_fd **w_out)
{
    int fd = fcntl(src, F_DUPFD_CLOEXEC, 0);
    int r;

    if (fd < 0)
        return -errno;
    r = osev__fd_add_internal(ctx, fd, cb, (void *)(intptr_t)fd, w_out);
    if (r < 0) {
        close(fd);
        return r;
    }
    (*w_out)->s.release = close_fd;
    return 0;
}

static void readers_stop(osev_ctx *ctx, struct osev__sigctx *sc)
{
    if (sc->pipe_w)
        osev__fd_remove_locked(sc->pipe_w);
    if (sc->sfd_w)
        osev__fd_remove_locked(sc->sfd_w);
    sc->pipe_w = sc->sfd_w = NULL;
}

/* Called with the context's lock, after a hub_ref() (so the sources are
 * open and stay so). */
static int readers_start(osev_ctx *ctx, struct osev__sigctx *sc)
{
    int r;

    hub_lock();
    /* The process-wide sources are not in any registry, but the numbers
     * they took may be those of fds this context still watches after
     * the application closed them: those watches must not see them. */
    osev__claim_fd(ctx, hub.pipe_r);
    osev__claim_fd(ctx, atomic_load(&hub_wfd));
    if (hub.sfd >= 0)
        osev__claim_fd(ctx, hub.sfd);
    r = reader_add(ctx, hub.pipe_r, read_pipe, &sc->pipe_w);
#ifdef HAVE_SIGNALFD
    if (r == 0 && sc->use_sfd)
        r = reader_add(ctx, hub.sfd, read_sfd, &sc->sfd_w);
#endif
    hub_unlock();
    if (r < 0)
        readers_stop(ctx, sc);
    return r;
}

static int sigctx_get(osev_ctx *ctx, struct osev__sigctx **sc_out)
{
    struct osev__sigctx *sc = ctx->sig;
    const char *env;

    if (!sc) {
        sc = osev__alloc(ctx, sizeof *sc);
        if (!sc)
            return -ENOMEM;
        osev__list_init(&sc->signals);
        env = getenv("OSEV_SIGNAL_BACKEND");
#ifdef HAVE_SIGNALFD
        sc->use_sfd = !(env && strcmp(env, "pipe") == 0);
#else
        (void)env;
#endif
        ctx->sig = sc;
    }
    *sc_out = sc;
    return 0;
}

static void signal_fired(osev_fd *w, int fd, short revents, void *arg)
{
    osev_signal *s = arg;

    (void)w, (void)revents;
    if (!osev__notify_clear(fd))
        return;
    s->cb(s, s->signo, s->arg);
}

/* The release of the signal itself, after its watch's. */
static void signal_release(void *arg)
{
    osev__notify_close(&((osev_signal *)arg)->flag);
}

int osev__signal_add_locked(osev_ctx *ctx, int signo, bool counted,
                            void (*cb)(osev_signal *, int, void *),
                            void *arg, osev_signal **s_out)
{
    struct osev__sigctx *sc;
    osev_signal *s;
    int r;

    if (ctx->dying)
        return -ESTALE;
    r = sigctx_get(ctx, &sc);
    if (r < 0)
        return r;
    s = osev__alloc(ctx, sizeof *s);
    if (!s)
        return -ENOMEM;
    r = osev__notify_open(&s->flag);
    if (r < 0)
        goto fail_free;
    /* A pipe's write end: a stale watch on its number must not see it
     * either (the read end is claimed by the watch made on it). */
    if (s->flag.wfd != s->flag.rfd)
        osev__claim_fd(ctx, s->flag.wfd);
    hub_lock();
    r = hub_ref(signo, sc->use_sfd);
    hub_unlock();
    if (r < 0)
        goto fail_close;
    if (sc->n == 0) {
        r = readers_start(ctx, sc);
        if (r < 0)
            goto fail_unref;
    }
    if (counted)
        r = osev__fd_add_locked(ctx, s->flag.rfd, POLLIN, signal_fired, s,
                                &s->w);
    else
        r = osev__fd_add_internal(ctx, s->flag.rfd, signal_fired, s, &s->w);
    if (r < 0)
        goto fail_readers;

    osev__source_init(&s->s, ctx, s, signal_release);
    s->cb = cb;
    s->arg = arg;
    s->signo = signo;
    hub_lock();
    osev__list_append(&hub.sig[signo].watches, &s->hub_link);
    hub_unlock();
    osev__list_append(&sc->signals, &s->ctx_link);
    sc->n++;
    osev__kick(ctx);
    *s_out = s;
    return 0;

fail_readers:
    if (sc->n == 0)
        readers_stop(ctx, sc);
fail_unref:
    hub_lock();
    hub_unref(signo);
    hub_unlock();
fail_close:
    osev__notify_close(&s->flag);
fail_free:
    osev__free(ctx, s);
    return r;
}

/* Unlink @s from everything that could call it; called locked. */
void osev__signal_remove_locked(osev_signal *s)
{
    osev_ctx *ctx = s->s.ctx;
    struct osev__sigctx *sc = ctx->sig;

    if (s->s.dead)
        return;
    s->s.dead = true;
    osev__list_unlink(&s->ctx_link);
    hub_lock();
    osev__list_unlink(&s->hub_link);
    hub_unref(s->signo);
    hub_unlock();
    /* The watch ends first, so its release (none) and free come before
     * the signal's release closes the flag it watched. */
    osev__fd_remove_locked(s->w);
    if (--sc->n == 0)
        readers_stop(ctx, sc);
    osev__end_source(ctx, &s->s);
}

/* At context end (locked, the epoll set already closed). */
void osev__signals_end_all(osev_ctx *ctx)
{
    struct osev__sigctx *sc = ctx->sig;

    if (!sc)
        return;
    while (!osev__list_empty(&sc->signals))
        osev__signal_remove_locked(osev__container_of(sc->signals.next,
                                                      osev_signal, ctx_link));
    ctx->sig = NULL;
    osev__free(ctx, sc);
}

/* Signals that cannot be caught, or whose handler would turn a fault
 * into an endless loop of faults. */
static bool signo_ok(int signo)
{
    if (signo <= 0 || signo >= NSIG)
        return false;
    switch (signo) {
    case SIGKILL:
    case SIGSTOP:
    case SIGSEGV:
    case SIGBUS:
    case SIGFPE:
    case SIGILL:
        return false;
    default:
        return true;
    }
}

OSEV_EXPORT int osev_signal_add(osev_ctx *ctx, int signo,
                                void (*cb)(osev_signal *, int signo,
                                           void *arg),
                                void *arg, osev_signal **s_out)
{
    int r;

    if (!ctx || !cb || !s_out || !signo_ok(signo))
        return -EINVAL;
    osev__lock(ctx);
    r = osev__signal_add_locked(ctx, signo, true, cb, arg, s_out);
    osev__unlock(ctx);
    return r;
}

OSEV_EXPORT void osev_signal_remove(osev_signal *s)
{
    osev_ctx *ctx;

    if (!s)
        return;
    ctx = s->s.ctx;
    osev__lock(ctx);
    osev__signal_remove_locked(s);
    osev__unlock(ctx);
}

/* The live signal watches of @ctx, the children's SIGCHLD one included. */
unsigned osev__signals_count(const osev_ctx *ctx)
{
    return ctx->sig ? ctx->sig->n : 0;
}
