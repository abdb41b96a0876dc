/*
 * procsum watch on Linux: SIGINT and SIGTERM are blocked in every thread
 * (before any checker's thread exists, so that they all inherit it) and
 * taken with sigtimedwait, so no handler runs anywhere.
 */
#include "watch_os.h"

#include <errno.h>
#include <signal.h>
#include <time.h>

static sigset_t stops;

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

void psum_watch_catch_stops(void)
{
    sigemptyset(&stops);
    sigaddset(&stops, SIGINT);
    sigaddset(&stops, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stops, NULL);
}

bool psum_watch_wait(unsigned period_ms)
{
    struct timespec left = {.tv_sec = period_ms / 1000, .tv_nsec = (long)(period_ms % 1000) * 1000000L};
    for (;;) {
        int sig = sigtimedwait(&stops, NULL, &left);
        if (sig == SIGINT || sig == SIGTERM)
            return true;
        if (sig < 0 && errno == EINTR)
            continue; /* another signal: the rest of the period is a little shorter, which is harmless */
        return false;
    }
}
