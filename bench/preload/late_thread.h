/*
 * The floor for a checker that starts late, as procsum's does: nothing in
 * a process until the delay is over (a timer, os/linux/late_start.c), then
 * one thread, which here only sleeps, as a checker's does between passes.
 * What remains is what any in-process checker costs a process that lives
 * past the delay: the C library switches a process to its multi-threaded
 * paths for good at its first thread (fork, for one, then takes and resets
 * every allocator and stdio lock), and each fork's child takes back the
 * stacks of the threads it does not have, writing to each one's page.
 * Preloaded as a reference by bench/preload/preload_cost.sh and bench_lazy.
 */
#ifndef PSUM_BENCH_LATE_THREAD_H
#define PSUM_BENCH_LATE_THREAD_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <unistd.h>

#include "os/linux/late_start.h"

#define BENCH_LATE_DELAY_NS 100000000u /* procsum's default lazy delay, 100 ms */

/* Sleeps for good: every signal is blocked (it was started from the handler), so pause() never returns. */
static void *bench_sleep_for_good(void *arg)
{
    for (;;)
        pause();
    return arg;
}

/* From the timer's signal handler: a detached thread, every signal blocked (the handler's mask). */
static int bench_start_nothing(void *arg)
{
    (void)arg;
    pthread_attr_t attr;
    int err = pthread_attr_init(&attr);
    if (err)
        return err;
    (void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    err = pthread_create(&t, &attr, bench_sleep_for_good, NULL);
    pthread_attr_destroy(&attr);
    return err;
}

/* Arms the late thread; a forked child arms its own (its handler calls this again). */
static inline void bench_arm_late_thread(void)
{
    uint32_t id;
    (void)psum_late_arm(bench_start_nothing, NULL, BENCH_LATE_DELAY_NS, &id);
}

static inline void bench_late_thread_init(void)
{
    (void)psum_late_prepare();
    (void)pthread_atfork(NULL, NULL, bench_arm_late_thread);
    bench_arm_late_thread();
}

#endif
