/*
 * procsum watch on Linux: SIGINT and SIGTERM are blocked in every thread
 * (before any checker's thread exists, so that they all inherit it) and
 * read from a signalfd, so no handler runs anywhere. A guard thread reads
 * them, not the main thread: a write to an output that takes no more (a
 * pipe or FIFO whose reader stopped reading) blocks the main thread or the
 * checkers' for good, and the stop request would wait with it. The guard
 * hands the request on to the main thread's wait, and ends the process
 * when the watch has not ended STOP_GRACE_S later.
 */
#include "watch_os.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static int stops_fd = -1;
/* Readable once the guard read a stop request (for the main thread), once the watch ended (for the guard). */
static int stopping_fd = -1, ended_fd = -1;
static pthread_t guard;
static bool guard_started;

/* How long the watch may take to end after a stop request: far more than stopping the checkers takes, on a busy host too. */
#define STOP_GRACE_S 10
#define STOP_GRACE_WORDS_(s) #s
#define STOP_GRACE_WORDS(s) STOP_GRACE_WORDS_(s)

/* Three per process checked: enough for a host's every process. At most fs.nr_open (1048576 by default). */
#define WANTED_DESCRIPTORS 65536

unsigned long psum_watch_allow_descriptors(void)
{
    /*
     * poll(), never select(): descriptors past FD_SETSIZE are fine. With
     * the right to (CAP_SYS_RESOURCE), past a low hard limit too (`ulimit
     * -n 64` sets both); else up to it. Left as it is if that fails.
     */
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) != 0)
        return 0;
    if (r.rlim_max != RLIM_INFINITY && r.rlim_max < WANTED_DESCRIPTORS) {
        struct rlimit more = {WANTED_DESCRIPTORS, WANTED_DESCRIPTORS};
        if (setrlimit(RLIMIT_NOFILE, &more) == 0)
            return WANTED_DESCRIPTORS;
    }
    if (r.rlim_cur < r.rlim_max) {
        struct rlimit all = {r.rlim_max, r.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &all) == 0)
            r.rlim_cur = r.rlim_max;
    }
    return r.rlim_cur == RLIM_INFINITY ? 0 : (unsigned long)r.rlim_cur;
}

void psum_watch_lock_init(psum_watch_lock *l)
{
    pthread_mutex_init(l, NULL);
}

void psum_watch_lock_destroy(psum_watch_lock *l)
{
    pthread_mutex_destroy(l);
}

void psum_watch_lock_take(psum_watch_lock *l)
{
    pthread_mutex_lock(l);
}

void psum_watch_lock_release(psum_watch_lock *l)
{
    pthread_mutex_unlock(l);
}

static void set(int fd)
{
    uint64_t one = 1;
    (void)!write(fd, &one, sizeof(one));
}

/* The guard: see the top of the file. */
static void *guard_stops(void *unused)
{
    (void)unused;
    for (;;) {
        struct pollfd fds[2] = {{.fd = stops_fd, .events = POLLIN}, {.fd = ended_fd, .events = POLLIN}};
        if (poll(fds, 2, -1) < 0 && errno != EINTR)
            return NULL; /* cannot happen with two good descriptors; the watch then only loses its guard */
        if (fds[1].revents)
            return NULL;
        struct signalfd_siginfo si;
        if ((fds[0].revents & POLLIN) && read(stops_fd, &si, sizeof(si)) == (ssize_t)sizeof(si) &&
            (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM))
            break;
    }
    set(stopping_fd);
    struct pollfd ended = {.fd = ended_fd, .events = POLLIN};
    if (poll(&ended, 1, STOP_GRACE_S * 1000) != 0)
        return NULL; /* ended (or an EINTR that no handler can cause) */
    /* Standard error may be the stuck pipe too: written only when that cannot block. */
    static const char msg[] = "procsum: watch did not end " STOP_GRACE_WORDS(STOP_GRACE_S) " s after the stop request "
                              "(an output that takes no more writes?): ended, what was not written is lost\n";
    struct pollfd err = {.fd = STDERR_FILENO, .events = POLLOUT};
    if (poll(&err, 1, 0) == 1 && (err.revents & POLLOUT))
        (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
    _exit(PSUM_EXIT_FAILURE);
}

int psum_watch_catch_stops(void)
{
    sigset_t stops;
    sigemptyset(&stops);
    sigaddset(&stops, SIGINT);
    sigaddset(&stops, SIGTERM);
    int err = pthread_sigmask(SIG_BLOCK, &stops, NULL);
    if (err)
        return err;
    stops_fd = signalfd(-1, &stops, SFD_CLOEXEC);
    stopping_fd = eventfd(0, EFD_CLOEXEC);
    ended_fd = eventfd(0, EFD_CLOEXEC);
    err = stops_fd < 0 || stopping_fd < 0 || ended_fd < 0 ? errno : pthread_create(&guard, NULL, guard_stops, NULL);
    guard_started = err == 0;
    if (err)
        psum_watch_release_stops();
    return err;
}

void psum_watch_release_stops(void)
{
    if (guard_started) {
        set(ended_fd);
        pthread_join(guard, NULL);
        guard_started = false;
    }
    int *fds[] = {&stops_fd, &stopping_fd, &ended_fd};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool psum_watch_wait(unsigned period_ms, psum_procevents *events,
                     void (*on)(void *ctx, psum_procevent event, long pid), void *ctx)
{
    uint64_t deadline = now_ms() + period_ms;
    for (bool first = true;; first = false) {
        uint64_t now = now_ms();
        if (now >= deadline && !first)
            return false;
        struct pollfd fds[2] = {{.fd = stopping_fd, .events = POLLIN},
                                {.fd = events ? psum_procevents_fd(events) : -1, .events = POLLIN}};
        int n = poll(fds, 2, now >= deadline ? 0 : (int)(deadline - now));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return false; /* cannot wait: go on with the period's work */
        if (fds[0].revents & POLLIN)
            return true; /* left readable: a later wait sees it too */
        if (events && (fds[1].revents & POLLIN) && psum_procevents_read(events, on, ctx) != 0)
            on(ctx, PSUM_PROCEVENT_LOST, 0);
    }
}
