/*
 * The floor for any checker that waits inside the process, preloaded as a
 * reference by bench/preload/preload_cost.sh: its constructor starts one
 * thread that only sleeps, and a forked child starts one more (as the
 * preload library does while its delay is not over). Nothing is loaded
 * and nothing is read: what it costs is the thread itself (its start, a
 * process that is no longer single-threaded, its end at exec or exit).
 * The thread is started the way the C library does by default, with every
 * signal blocked.
 */
#include <pthread.h>
#include <signal.h>
#include <time.h>

static void *sleeper(void *arg)
{
    (void)arg;
    struct timespec day = {.tv_sec = 86400};
    for (;;)
        (void)nanosleep(&day, NULL);
    return NULL;
}

static void start_sleeper(void)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) == 0) {
        (void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_t t;
        (void)pthread_create(&t, &attr, sleeper, NULL);
        pthread_attr_destroy(&attr);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

__attribute__((constructor)) static void psum_bench_floor_init(void)
{
    (void)pthread_atfork(NULL, NULL, start_sleeper);
    start_sleeper();
}
