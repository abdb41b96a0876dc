/* The terminal: the libraries, the cost and memory tables in columns, the target lines and the CSV. */
#include <stdio.h>

#include "checker_bench.h"

static void term_libs(const result *src)
{
    for (int i = 0; i < N_LIBS; i++) {
        const lib_info *li = &src->libs[i];
        if (li->loaded)
            printf("  %-11s %8.1f MB executable  %s\n", BENCH_LIBS[i].name, (double)li->exec_bytes / 1e6, li->real);
        else
            printf("  %-11s missing (Debian package %s): %s\n", BENCH_LIBS[i].name, BENCH_LIBS[i].package, li->error);
    }
    printf("  %d loaded:   %8.1f MB executable; the whole process: %.1f MB\n\n", libs_loaded_count(src),
           (double)src->libs_exec_bytes / 1e6, (double)src->process_exec_bytes / 1e6);
}

static void term_cost(const run_set *s)
{
    printf("%-6s %-9s %10s %9s %8s %9s %8s %8s %9s %7s %9s %7s %9s %7s %9s  %-20s %s\n", "algo", "pages",
           "check ms", "MB/check", "tracked", "CPU ms/ps", "CPU%", "CPU%krn", "floor ms", "x floor", "@period", "x it",
           "hash@per", "x it", "ask@per", "change -> report, ms",
           "at " STR(FAST_PERIOD_MS) " ms");
    for (int i = 0; i < s->n; i++) {
        const result *r = &s->rs[i];
        if (!r->ok) {
            printf("%-6s %-9s failed: %s\n", algo_title((int)s->cf[i].algo), mode_name(s->cf[i].nonresident), r->error);
            continue;
        }
        char lat[96], fast[96];
        fmt_latency(lat, sizeof lat, &r->lat);
        fmt_latency(fast, sizeof fast, &r->lat_fast);
        printf("%-6s %-9s %10.1f %9.1f %8llu %9.1f %8.3f %8.3f %9.2f %7.2f %9.2f %7.2f %9.2f %7.2f %9.2f  %-20s %s\n",
               algo_title(r->algo), mode_name(r->nonresident), bench_mean(r->check_ms, r->checks),
               (double)r->bytes_per_check / 1e6, (unsigned long long)r->pages_tracked, r->cpu_ms_per_pass,
               r->cpu_pct_stats, r->cpu_pct_sched, r->floor_ms, over_floor(r), r->floor_period_ms,
               over_period_floor(r), r->period.hash_ms, over_hash_period(r), r->period.ask_ms, lat, fast);
    }
}

static void term_memory(const run_set *s)
{
    printf("\n%-6s %-9s %-17s %8s %8s %8s %8s %8s %8s\n", "algo", "pages", "exec pages in mem", "RSS+MiB", "file+",
           "anon+", "peak+", "tables", "beyond");
    for (int i = 0; i < s->n; i++) {
        const result *r = &s->rs[i];
        if (!r->ok)
            continue;
        char present[64];
        fmt_present(present, sizeof present, r, "->");
        printf("%-6s %-9s %-17s %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f\n", algo_title(r->algo), mode_name(r->nonresident),
               present, growth_mib(r->after.rss_kb, r->before.rss_kb), growth_mib(r->after.file_kb, r->before.file_kb),
               growth_mib(r->after.anon_kb, r->before.anon_kb), peak_mib(r), tables_mib(r), beyond_mib(r));
    }
}

void report_terminal(const run_set *s, const char *csv)
{
    const bench_host *h = &s->host;
    printf("procsum checker benchmark — %s, %ld cores, Linux %s, %s\n", h->cpu.name, h->cores, h->kernel, h->date);
    const result *lib_src = libs_first_listing(s);
    if (lib_src)
        term_libs(lib_src);
    term_cost(s);
    term_memory(s);
    bench_text tg = {0};
    report_targets(&tg, s);
    printf("\n%s\nCSV:\n%s", bench_text_str(&tg), csv);
    bench_text_free(&tg);
}
