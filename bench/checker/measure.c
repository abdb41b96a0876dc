/*
 * One configuration, measured in this (child) process step by step: load
 * the libraries, start a checker, time full checks, let it run at its
 * default period while one bit of code changes now and then, take the
 * memory figures, then unload the libraries under it. Each step fills its
 * part of the result; the first that fails says why in r->error.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "checker_bench.h"

/* What the steps share. */
typedef struct run {
    result *r;
    const run_params *p;
    procsum_checker *checker;
    void *handles[N_LIBS];
    double period_s;
    pid_t checker_tid; /* -1: not found, -2: more than one new thread */
} run;

#define FAIL(r, ...)                                           \
    do {                                                       \
        snprintf((r)->error, sizeof((r)->error), __VA_ARGS__); \
        return -1;                                             \
    } while (0)

/* The process under test: the libraries loaded and never called, the victim in memory. */
static int load_process(run *x)
{
    result *r = x->r;
    if (flips_init() != 0)
        FAIL(r, "pthread_cond_init failed");
    libs_load(r, x->handles);
    if (libs_count_exec_bytes(r) != 0)
        FAIL(r, "reading /proc/self/maps: %s", strerror(errno));
    return flips_prepare(r);
}

/* The figures before the start, then procsum_start with the defaults but for the configuration. */
static int start_checker(run *x)
{
    result *r = x->r;
    pid_t before[64], after[64];
    int n_before = bench_list_tasks(before, 64);
    if (n_before < 0)
        FAIL(r, "listing /proc/self/task: %s", strerror(errno));

    r->present_before = pages_present_exec(NULL, 0);
    r->hwm_reset = bench_reset_hwm();
    if (bench_read_mem_status(&r->before) != 0)
        FAIL(r, "reading /proc/self/status");

    procsum_options o;
    procsum_options_init(&o);
    o.algorithm = (procsum_algorithm)r->algo;
    o.include_nonresident = r->nonresident;
    r->period_ms = o.check_period_ms;
    x->period_s = o.check_period_ms / 1000.0;

    double t = bench_now_s();
    int err = procsum_start(&o, flips_on_report, NULL, &x->checker);
    r->start_ms = (bench_now_s() - t) * 1e3;
    if (err)
        FAIL(r, "procsum_start: %s", procsum_strerror(err));
    x->checker_tid = bench_new_task(before, n_before, after, bench_list_tasks(after, 64));
    return 0;
}

/* Wall time of each of p->checks full checks, and the bytes one of them reads. */
static int time_checks(run *x)
{
    result *r = x->r;
    procsum_stats s0, s1;
    int err;
    if ((err = procsum_get_stats(x->checker, &s0)) != 0)
        FAIL(r, "procsum_get_stats: %s", procsum_strerror(err));
    r->checks = x->p->checks;
    for (int i = 0; i < r->checks; i++) {
        double t = bench_now_s();
        err = procsum_check_now(x->checker);
        r->check_ms[i] = (bench_now_s() - t) * 1e3;
        if (err < 0)
            FAIL(r, "procsum_check_now: %s", procsum_strerror(err));
    }
    if ((err = procsum_get_stats(x->checker, &s1)) != 0)
        FAIL(r, "procsum_get_stats: %s", procsum_strerror(err));
    if (s1.passes > s0.passes)
        r->bytes_per_check = (s1.bytes_hashed - s0.bytes_hashed) / (s1.passes - s0.passes);
    r->pages_tracked = s1.pages_tracked;
    r->skipped_pages = s1.skipped_pages;
    r->regions = s1.regions;
    return 0;
}

/* Waits for the end of the pass after the one `b` has seen, and leaves its stats in b. */
static int wait_pass_end(run *x, procsum_stats *b)
{
    result *r = x->r;
    int err;
    uint64_t mark = b->passes;
    double give_up = bench_now_s() + 10 * x->period_s + 30;
    while (b->passes == mark) {
        if (bench_now_s() > give_up)
            FAIL(r, "no pass ended in %.0f s", 10 * x->period_s + 30);
        bench_sleep_s(0.001);
        if ((err = procsum_get_stats(x->checker, b)) != 0)
            FAIL(r, "procsum_get_stats: %s", procsum_strerror(err));
    }
    return 0;
}

/*
 * The checker at its default period for p->seconds, during which the
 * one-bit changes are timed. The window starts at the end of the last
 * procsum_check_now pass (cpu_ns is sampled at the end of each pass on the
 * checker's thread) and ends at the end of a pass, so that cpu_ns covers
 * it exactly.
 */
static int run_window(run *x)
{
    result *r = x->r;
    procsum_stats a, b;
    int err;
    double w0 = bench_now_s();
    double sched0 = x->checker_tid > 0 ? bench_task_cpu_ns(x->checker_tid) : -1;
    if ((err = procsum_get_stats(x->checker, &a)) != 0)
        FAIL(r, "procsum_get_stats: %s", procsum_strerror(err));
    if (flips_sample(r, &r->lat, x->p, r->period_ms) != 0)
        return -1;
    bench_sleep_s(w0 + x->p->seconds - bench_now_s());
    if ((err = procsum_get_stats(x->checker, &b)) != 0)
        FAIL(r, "procsum_get_stats: %s", procsum_strerror(err));
    if (wait_pass_end(x, &b) != 0)
        return -1;
    double w1 = bench_now_s();
    double sched1 = x->checker_tid > 0 ? bench_task_cpu_ns(x->checker_tid) : -1;
    r->window_s = w1 - w0;
    r->window_passes = b.passes - a.passes;
    r->slow_passes = b.slow_passes;
    r->cpu_pct_stats = (double)(b.cpu_ns - a.cpu_ns) / 1e9 / r->window_s * 100;
    r->cpu_ms_per_pass = r->window_passes ? (double)(b.cpu_ns - a.cpu_ns) / 1e6 / (double)r->window_passes : -1;
    r->cpu_pct_sched = sched0 >= 0 && sched1 >= 0 ? (sched1 - sched0) / 1e9 / r->window_s * 100 : -1;
    r->pages_tracked = b.pages_tracked;
    r->skipped_pages = b.skipped_pages;
    r->table_bytes = b.table_bytes;
    r->lat.pass_ms = (double)b.last_pass_ns / 1e6;
    return 0;
}

/* The process at the end of the window, then the floor (its sweep buffer is not procsum's, so after). */
static int end_figures(run *x)
{
    result *r = x->r;
    if (bench_read_mem_status(&r->after) != 0)
        FAIL(r, "reading /proc/self/status");
    r->present_after = pages_present_exec(NULL, 0);
    r->floor_ms = pages_floor_ms((procsum_algorithm)r->algo, &r->floor_hash_ms);
    /* As many reads as the window had passes, within 3..8: a few seconds at the default period. */
    int reads = (int)(x->p->seconds / x->period_s);
    r->floor_period_reads = reads < 3 ? 3 : reads > 8 ? 8 : reads;
    r->floor_period_ms =
        pages_floor_at_period_ms(x->period_s, r->floor_period_reads, (procsum_algorithm)r->algo, &r->period);
    r->unexpected_reports = flips_unexpected();
    return 0;
}

/*
 * The one-bit changes again with a checker at FAST_PERIOD_MS: the first
 * one is stopped and a second one started (its first baseline taken), which
 * the unloading step then uses.
 */
static int fast_latency(run *x)
{
    result *r = x->r;
    int err = procsum_stop(x->checker);
    x->checker = NULL;
    if (err)
        FAIL(r, "procsum_stop: %s", procsum_strerror(err));
    procsum_options o;
    procsum_options_init(&o);
    o.algorithm = (procsum_algorithm)r->algo;
    o.include_nonresident = r->nonresident;
    o.check_period_ms = FAST_PERIOD_MS;
    if ((err = procsum_start(&o, flips_on_report, NULL, &x->checker)) != 0)
        FAIL(r, "procsum_start at %u ms: %s", FAST_PERIOD_MS, procsum_strerror(err));
    if (flips_sample(r, &r->lat_fast, x->p, FAST_PERIOD_MS) != 0)
        return -1;
    procsum_stats s;
    if ((err = procsum_get_stats(x->checker, &s)) != 0)
        FAIL(r, "procsum_get_stats: %s", procsum_strerror(err));
    r->lat_fast.pass_ms = (double)s.last_pass_ns / 1e6;
    return 0;
}

/* process_consistency crashed when a library went away under it: unload them all and check twice. */
static void unload_and_check(run *x)
{
    result *r = x->r;
    uint64_t m0 = procsum_mismatch_count(x->checker);
    libs_unload(x->handles, false);
    r->dlclose_ran = 1;
    for (int i = 0; i < 2; i++) {
        int err = procsum_check_now(x->checker);
        if (err < 0 && r->dlclose_err == 0)
            r->dlclose_err = err;
    }
    r->dlclose_reports = procsum_mismatch_count(x->checker) - m0;
    procsum_stats c;
    if (procsum_get_stats(x->checker, &c) == 0)
        r->regions_after_dlclose = c.regions;
}

int measure_config(result *r, procsum_algorithm algo, bool nonresident, const run_params *p)
{
    run x = {.r = r, .p = p, .checker_tid = -1};
    r->algo = (int)algo;
    r->nonresident = nonresident;
    if (load_process(&x) == 0 && start_checker(&x) == 0 && time_checks(&x) == 0 && run_window(&x) == 0 &&
        end_figures(&x) == 0 && fast_latency(&x) == 0) {
        unload_and_check(&x);
        r->ok = 1;
    }
    int err;
    if (x.checker && (err = procsum_stop(x.checker)) != 0 && r->ok) {
        r->ok = 0;
        snprintf(r->error, sizeof r->error, "procsum_stop: %s", procsum_strerror(err));
    }
    libs_unload(x.handles, true);
    return r->ok ? 0 : 1;
}
