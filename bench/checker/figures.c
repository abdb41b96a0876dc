/* What every report derives from a result, and the cells they share, so that the page, CSV and terminal agree. */
#include <stdio.h>

#include "checker_bench.h"

const char *mode_name(bool nonresident)
{
    return nonresident ? "all pages" : "resident";
}

const char *algo_title(int algo)
{
    return algo == PROCSUM_ALGO_BLAKE3 ? "BLAKE3" : algo == PROCSUM_ALGO_XXH3 ? "XXH3" : "CRC-64";
}

const char *verdict(bool ok)
{
    return ok ? "met" : "missed";
}

double growth_mib(long after_kb, long before_kb)
{
    return after_kb < 0 || before_kb < 0 ? 0 : (double)(after_kb - before_kb) / 1024.0;
}

double tables_mib(const result *r)
{
    return (double)r->table_bytes / BENCH_MIB;
}

double beyond_mib(const result *r)
{
    return growth_mib(r->after.rss_kb, r->before.rss_kb) - tables_mib(r);
}

double peak_mib(const result *r)
{
    return r->hwm_reset ? growth_mib(r->after.hwm_kb, r->before.rss_kb) : -1;
}

/*
 * The checker's CPU per pass over the window, the larger of procsum's
 * figure and the kernel's (as cpu_of). Per pass, not per second: on a busy
 * machine a pass at the lowest priority ends late, the passes spread out,
 * and a share of a core would fall with no pass getting cheaper.
 */
double cpu_ms_per_pass_of(const result *r)
{
    double sched = r->cpu_pct_sched >= 0 && r->window_passes
                       ? r->cpu_pct_sched / 100 * r->window_s * 1e3 / (double)r->window_passes
                       : -1;
    return sched > r->cpu_ms_per_pass ? sched : r->cpu_ms_per_pass;
}

/* Checker CPU per pass as a multiple of the floor, both from the same run; -1 if either is unknown. */
double over_floor(const result *r)
{
    return r->floor_ms > 0 && cpu_ms_per_pass_of(r) >= 0 ? cpu_ms_per_pass_of(r) / r->floor_ms : -1;
}

/*
 * The same against the floor read as the checker reads: a period after the
 * last read, at the same priority, the mean of several.
 */
double over_period_floor(const result *r)
{
    return r->floor_period_ms > 0 && cpu_ms_per_pass_of(r) >= 0 ? cpu_ms_per_pass_of(r) / r->floor_period_ms : -1;
}

/* The same against the same pages hashed alone a period after the last: what the rest of a pass adds. */
double over_hash_period(const result *r)
{
    return r->period.hash_ms > 0 && cpu_ms_per_pass_of(r) >= 0 ? cpu_ms_per_pass_of(r) / r->period.hash_ms : -1;
}

/*
 * Hashing alone and a pass's questions to the kernel alone, over the floor
 * read at the period: what no bookkeeping, however light, can go below.
 */
double hash_and_ask_over_floor(const result *r)
{
    if (r->period.hash_ms < 0 || r->period.ask_ms < 0 || r->floor_period_ms <= 0)
        return -1;
    return (r->period.hash_ms + r->period.ask_ms) / r->floor_period_ms;
}

/* The floor as a share of a core at the period: reading the resident code once per period, nothing else. */
double floor_pct(const result *r)
{
    return r->floor_ms >= 0 && r->period_ms ? r->floor_ms / r->period_ms * 100 : -1;
}

/* The CPU share a verdict uses: the larger of procsum's figure and the kernel's. */
double cpu_of(const result *r)
{
    if (r->cpu_pct_sched < 0)
        return r->cpu_pct_stats;
    return r->cpu_pct_stats > r->cpu_pct_sched ? r->cpu_pct_stats : r->cpu_pct_sched;
}

/* The successful run of a configuration, or NULL. */
const result *find_result(const run_set *s, procsum_algorithm a, bool nonresident)
{
    for (int i = 0; i < s->n; i++)
        if (s->cf[i].algo == a && s->cf[i].nonresident == nonresident && s->rs[i].ok)
            return &s->rs[i];
    return NULL;
}

/* The default period the runs had, as the headings name it. */
unsigned period_of(const run_set *s)
{
    return s->rs[0].period_ms ? s->rs[0].period_ms : 1000u;
}

void fmt_cpu(char *buf, size_t n, double v)
{
    if (v < 0)
        snprintf(buf, n, "n/a");
    else
        snprintf(buf, n, "%.3f", v);
}

void fmt_latency(char *buf, size_t n, const latency *l)
{
    if (l->samples == 0)
        snprintf(buf, n, "none (%d timeouts)", l->timeouts);
    else
        snprintf(buf, n, "%.0f (%.0f–%.0f)%s", bench_median(l->ms, l->samples), bench_min(l->ms, l->samples),
                 bench_max(l->ms, l->samples), l->timeouts ? " + timeouts" : "");
}

void fmt_present(char *buf, size_t n, const result *r, const char *arrow)
{
    if (r->present_before < 0 || r->present_after < 0)
        snprintf(buf, n, "n/a");
    else
        snprintf(buf, n, "%lld %s %lld", (long long)r->present_before, arrow, (long long)r->present_after);
}
