/*
 * procsum watch on Linux: SIGINT and SIGTERM are blocked in every thread
 * (before any checker's thread exists, so that they all inherit it) and
 * read from a signalfd, polled together with the process events, so no
 * handler runs anywhere.
 */
#include "watch_os.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

static int stops_fd = -1;

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
    return stops_fd < 0 ? errno : 0;
}

void psum_watch_release_stops(void)
{
    if (stops_fd >= 0)
        close(stops_fd);
    stops_fd = -1;
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
        struct pollfd fds[2] = {{.fd = stops_fd, .events = POLLIN},
                                {.fd = events ? psum_procevents_fd(events) : -1, .events = POLLIN}};
        int n = poll(fds, 2, now >= deadline ? 0 : (int)(deadline - now));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return false; /* cannot wait: go on with the period's work */
        if (fds[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(stops_fd, &si, sizeof(si)) == (ssize_t)sizeof(si) &&
                (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM))
                return true;
        }
        if (events && (fds[1].revents & POLLIN) && psum_procevents_read(events, on, ctx) != 0)
            on(ctx, PSUM_PROCEVENT_LOST, 0);
    }
}
