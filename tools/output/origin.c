/* The wall clock and the host's name, from each platform's own calls. */
#include "origin.h"

#include <string.h>

#ifdef _WIN32
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0602 /* GetSystemTimePreciseAsFileTime: Windows 8 */
#endif
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <time.h>
#include <unistd.h>
#endif

#ifdef _WIN32
/* FILETIME counts 100 ns steps since 1601; the Unix epoch is this many of them later. */
#define EPOCH_1601_TO_1970 116444736000000000ull

static int host_name(char *buf, size_t cap)
{
    DWORD n = (DWORD)cap;
    return GetComputerNameA(buf, &n) ? 0 : -1;
}

static void wall_clock(int64_t *sec, long *nsec)
{
    FILETIME ft;
    GetSystemTimePreciseAsFileTime(&ft);
    uint64_t t = ((uint64_t)ft.dwHighDateTime << 32 | ft.dwLowDateTime) - EPOCH_1601_TO_1970;
    *sec = (int64_t)(t / 10000000u);
    *nsec = (long)(t % 10000000u) * 100;
}

uint64_t psum_monotonic_ns(void)
{
    LARGE_INTEGER now, freq;
    QueryPerformanceCounter(&now);
    QueryPerformanceFrequency(&freq);
    uint64_t n = (uint64_t)now.QuadPart, f = (uint64_t)freq.QuadPart;
    return n / f * 1000000000u + n % f * 1000000000u / f;
}
#else
static int host_name(char *buf, size_t cap)
{
    return gethostname(buf, cap);
}

static void wall_clock(int64_t *sec, long *nsec)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *sec = (int64_t)ts.tv_sec;
    *nsec = ts.tv_nsec;
}

uint64_t psum_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#endif

void psum_event_origin_now(psum_event_origin *at)
{
    static char host[256];
    if (!host[0] && (host_name(host, sizeof(host) - 1) != 0 || !host[0]))
        strcpy(host, "localhost");
    wall_clock(&at->sec, &at->nsec);
    at->host = host;
}
