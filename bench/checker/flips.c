/*
 * One-bit changes of this program's own code, and the time until the
 * checker reports them. A function that is never called after the warm-up
 * has one bit of its first byte flipped through an RWX window and later
 * flipped back; the report callback notes when a report about exactly that
 * page arrives, and counts every other report as unexpected.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "checker_bench.h"

/* Never called after the warm-up: its first byte is the bit that changes. */
int bench_checker_victim(int x);
__attribute__((noinline)) int bench_checker_victim(int x)
{
    return x * 3 + 42;
}

static uintptr_t victim_addr, victim_page;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint64_t reports;
    uint64_t unexpected;
    double last_report_s;
    uintptr_t expected_page;
} seen = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The condition variable waits on CLOCK_MONOTONIC, like bench_now_s(). */
int flips_init(void)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        return -1;
    int err = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 || pthread_cond_init(&seen.cond, &ca) != 0;
    pthread_condattr_destroy(&ca);
    return err ? -1 : 0;
}

/* Runs the victim once, so that it is in memory as code that ran is, and notes its page. */
int flips_prepare(result *r)
{
    int (*volatile victim)(int) = bench_checker_victim;
    if (victim(1) != 45) {
        snprintf(r->error, sizeof r->error, "victim function misbehaves");
        return -1;
    }
    victim_addr = (uintptr_t)&bench_checker_victim;
    victim_page = victim_addr & ~(uintptr_t)(PROCSUM_PAGE_SIZE - 1);
    seen.expected_page = victim_page;
    return 0;
}

void flips_on_report(const procsum_mismatch *m, void *userdata)
{
    (void)userdata;
    double t = bench_now_s();
    if (pthread_mutex_lock(&seen.lock) != 0)
        return;
    if (m->first_changed_page == seen.expected_page && m->changed_pages == 1 && m->region->main_executable) {
        seen.reports++;
        seen.last_report_s = t;
    } else {
        seen.unexpected++;
        fprintf(stderr, "  unexpected report: %s, %zu page(s) from %#lx\n", m->region->source, m->changed_pages,
                (unsigned long)m->first_changed_page);
    }
    pthread_cond_broadcast(&seen.cond);
    pthread_mutex_unlock(&seen.lock);
}

/* Flips one bit of bench_checker_victim through an RWX window; on failure says so in r. */
static int flip_victim(result *r)
{
    if (mprotect((void *)victim_page, PROCSUM_PAGE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC) != 0)
        goto fail;
    *(volatile uint8_t *)victim_addr ^= 0x10;
    if (mprotect((void *)victim_page, PROCSUM_PAGE_SIZE, PROT_READ | PROT_EXEC) != 0)
        goto fail;
    return 0;
fail:
    snprintf(r->error, sizeof r->error, "mprotect: %s", strerror(errno));
    return -1;
}

/* Waits until `reports` exceeds `had` or `deadline` (CLOCK_MONOTONIC seconds); returns the report's time or -1. */
static double wait_report(uint64_t had, double deadline)
{
    double at = -1;
    if (pthread_mutex_lock(&seen.lock) != 0)
        return -1;
    while (seen.reports <= had) {
        struct timespec ts = bench_timespec(deadline);
        int e = pthread_cond_timedwait(&seen.cond, &seen.lock, &ts);
        if (e == ETIMEDOUT || (e != 0 && e != EINTR))
            break;
    }
    if (seen.reports > had)
        at = seen.last_report_s;
    pthread_mutex_unlock(&seen.lock);
    return at;
}

static uint64_t reports_now(void)
{
    uint64_t n = 0;
    if (pthread_mutex_lock(&seen.lock) == 0) {
        n = seen.reports;
        pthread_mutex_unlock(&seen.lock);
    }
    return n;
}

/*
 * Flips the bit and restores it, p->samples changes in all, and notes in l
 * the time from each to its report by a checker at period_ms. Each change waits a different fraction of
 * the period first, so that the changes fall evenly over the phase of the
 * checker's passes. The code is left as it was, and the report of the last
 * restore outside the figures.
 */
int flips_sample(result *r, latency *l, const run_params *p, unsigned period_ms)
{
    int samples = p->samples;
    double period = period_ms / 1000.0;
    bool flipped = false;
    l->period_ms = period_ms;
    l->samples = 0;
    for (int i = 0; i < samples && i < MAX_SAMPLES; i++) {
        int stratum = (i * 5 + 2) % samples; /* 5 is prime to the usual sample counts: a spread order */
        bench_sleep_s(period * (stratum + 0.5) / samples);
        uint64_t had = reports_now();
        if (flip_victim(r) != 0)
            return -1;
        flipped = !flipped;
        double t_flip = bench_now_s();
        double at = wait_report(had, t_flip + 4 * period + 5);
        if (at < 0) {
            l->timeouts++;
            continue;
        }
        l->ms[l->samples++] = (at - t_flip) * 1e3;
    }
    if (flipped) {
        uint64_t had = reports_now();
        if (flip_victim(r) != 0)
            return -1;
        (void)wait_report(had, bench_now_s() + 4 * period + 5);
    }
    return 0;
}

uint64_t flips_unexpected(void)
{
    uint64_t n = 0;
    if (pthread_mutex_lock(&seen.lock) == 0) {
        n = seen.unexpected;
        pthread_mutex_unlock(&seen.lock);
    }
    return n;
}
