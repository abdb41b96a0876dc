/* The CSV: one row per configuration, every figure a result holds (docs/checker-benchmark.csv). */
#include <stdio.h>

#include "checker_bench.h"

static void csv_header(bench_text *t)
{
    bench_printf(t,
                 "algorithm,pages,ok,libs_exec_bytes,process_exec_bytes,present_pages_before,present_pages_after,"
                 "start_ms,check_ms_mean,check_ms_min,"
                 "bytes_per_check,pages_tracked,skipped_pages,regions,period_ms,window_s,window_passes,slow_passes,"
                 "cpu_ms_per_pass,cpu_pct_stats,cpu_pct_schedstat,floor_ms,floor_period_ms,floor_period_reads,hash_period_ms,ask_period_ms,wake_ms,rss_before_kb,rss_after_kb,"
                 "rss_file_before_kb,rss_file_after_kb,"
                 "rss_anon_before_kb,rss_anon_after_kb,peak_growth_kb,tables_kb,growth_beyond_tables_kb,"
                 "latency_median_ms,latency_min_ms,latency_max_ms,latency_samples,latency_timeouts,pass_ms,"
                 "fast_period_ms,fast_latency_median_ms,fast_latency_min_ms,fast_latency_max_ms,fast_latency_samples,"
                 "fast_latency_timeouts,fast_pass_ms,unexpected_reports,"
                 "dlclose_check_error,dlclose_reports,floor_hash_ms\n");
}

/* median,min,max,samples,timeouts,pass_ms, for one period (with the period first for the fast one). */
static void latency_cells(char *buf, size_t n, const latency *l, bool with_period)
{
    char period[16] = "";
    if (with_period)
        snprintf(period, sizeof period, "%u,", l->period_ms);
    snprintf(buf, n, "%s%.1f,%.1f,%.1f,%d,%d,%.3f,", period, bench_median(l->ms, l->samples),
             bench_min(l->ms, l->samples), bench_max(l->ms, l->samples), l->samples, l->timeouts, l->pass_ms);
}

static void csv_row(bench_text *t, const result *r)
{
    char lat[160], fast[160];
    latency_cells(lat, sizeof lat, &r->lat, false);
    latency_cells(fast, sizeof fast, &r->lat_fast, true);
    bench_printf(t,
                 "%s,%s,1,%llu,%llu,%lld,%lld,%.2f,%.3f,%.3f,%llu,%llu,%llu,%llu,%u,%.3f,%llu,%llu,%.3f,%.4f,%.4f,%.3f,%.3f,%d,%.3f,%.3f,%.3f,"
                 "%ld,%ld,%ld,%ld,%ld,"
                 "%ld,%ld,%.0f,%.0f,%s%s%llu,%s,%llu,%.3f\n",
                 procsum_algorithm_name((procsum_algorithm)r->algo), r->nonresident ? "all" : "resident",
                 (unsigned long long)r->libs_exec_bytes, (unsigned long long)r->process_exec_bytes,
                 (long long)r->present_before, (long long)r->present_after, r->start_ms,
                 bench_mean(r->check_ms, r->checks), bench_min(r->check_ms, r->checks),
                 (unsigned long long)r->bytes_per_check, (unsigned long long)r->pages_tracked,
                 (unsigned long long)r->skipped_pages, (unsigned long long)r->regions, r->period_ms, r->window_s,
                 (unsigned long long)r->window_passes, (unsigned long long)r->slow_passes, r->cpu_ms_per_pass,
                 r->cpu_pct_stats, r->cpu_pct_sched, r->floor_ms, r->floor_period_ms, r->floor_period_reads, r->period.hash_ms, r->period.ask_ms, r->period.wake_ms, r->before.rss_kb, r->after.rss_kb, r->before.file_kb,
                 r->after.file_kb, r->before.anon_kb, r->after.anon_kb,
                 r->hwm_reset && r->after.hwm_kb >= 0 ? r->after.hwm_kb - r->before.rss_kb : -1L, tables_mib(r) * 1024,
                 beyond_mib(r) * 1024, lat, fast,
                 (unsigned long long)r->unexpected_reports, r->dlclose_err ? procsum_err_name(r->dlclose_err) : "0",
                 (unsigned long long)r->dlclose_reports, r->floor_hash_ms);
}

void report_csv(bench_text *t, const run_set *s)
{
    csv_header(t);
    for (int i = 0; i < s->n; i++) {
        if (s->rs[i].ok)
            csv_row(t, &s->rs[i]);
        else
            bench_printf(t, "%s,%s,0\n", procsum_algorithm_name(s->cf[i].algo),
                         s->cf[i].nonresident ? "all" : "resident");
    }
}
