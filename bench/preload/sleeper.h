/*
 * One thread that only sleeps, started with every signal blocked: the floor
 * for any checker that waits inside a process (bench/preload/floor.c and
 * bench_lazy's floor library start it from their constructors).
 */
#ifndef PSUM_BENCH_SLEEPER_H
#define PSUM_BENCH_SLEEPER_H

#include <pthread.h>
#include <signal.h>
#include <time.h>

static void *bench_sleeper(void *arg)
{
    (void)arg;
    struct timespec day = {.tv_sec = 86400};
    for (;;)
        (void)nanosleep(&day, NULL);
    return NULL;
}

static inline void bench_start_sleeper(void)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) == 0) {
        (void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_t t;
        (void)pthread_create(&t, &attr, bench_sleeper, NULL);
        pthread_attr_destroy(&attr);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

#endif
