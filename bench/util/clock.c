/* Clocks for the benchmarks: wall (monotonic) time, a thread's CPU time, sleeping. */
#include <errno.h>
#include <time.h>

#include "bench_util.h"

static double timespec_s(struct timespec ts)
{
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double bench_now_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return timespec_s(ts);
}

double bench_thread_cpu_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    return timespec_s(ts);
}

struct timespec bench_timespec(double s)
{
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    return ts;
}

void bench_sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = bench_timespec(s);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

double bench_timeval_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}
