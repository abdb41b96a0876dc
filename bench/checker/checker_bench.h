/*
 * bench_checker: what the checker costs in a realistic process.
 *
 * The process dlopen()s five large libraries (libLLVM-15, libz3, Mesa's
 * swrast_dri, libx265, liblapack: about 177 MB of executable code) with
 * RTLD_LAZY | RTLD_LOCAL and never calls them, then runs a checker and
 * measures, for each algorithm, with page residency on (the default: pages
 * the process does not have in memory are not read) and off
 * (include_nonresident = true, which reads everything as process_consistency
 * did):
 *   - the time of one full check (procsum_check_now, wall clock),
 *   - the bytes read per check (procsum_stats.bytes_hashed / passes),
 *   - the growth of the process's resident memory (VmRSS, RssFile, RssAnon,
 *     and the peak through VmHWM), next to procsum's tables
 *     (procsum_stats.table_bytes: the baseline and the one the next pass is
 *     built in),
 *   - the checker thread's CPU share at the default period, from
 *     procsum_stats.cpu_ns and, as a cross-check, from the kernel's
 *     /proc/self/task/TID/schedstat,
 *   - the time from a one-bit change of this program's code to its report.
 *
 * Every configuration runs in a fresh process (this program re-executed with
 * --child), the resident-only ones first, so that the pages one run faults
 * in do not make the next one's process bigger. The checker is driven
 * through procsum.h alone; the library's digest and listing code is called
 * directly only to time parts of a pass without the rest around them.
 *
 * The files, one job each:
 *   main.c       the command line, the configurations, the outputs
 *   child.c      re-executing this program for one configuration, and the
 *                child's side: measure, send the result back
 *   libs.c       the big libraries: load, count their code, unload
 *   measure.c    one configuration, step by step (start, full checks, the
 *                window at the default period, memory, unloading)
 *   flips.c      one-bit changes of this program's code and their reports
 *   pages.c      executable pages in memory, and the floor: reading them once;
 *                hashing them once and nothing else; a pass's questions to
 *                the kernel and nothing else
 *   figures.c    what the reports derive from a result, and its cells
 *   report_md.c  the generated part of docs/checker-benchmark.md
 *   report_csv.c the CSV
 *   report_term.c the terminal's tables
 */
#ifndef PSUM_BENCH_CHECKER_H
#define PSUM_BENCH_CHECKER_H

#include <limits.h>
#include <procsum.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench_util.h"

#define MAX_SAMPLES 32
#define MAX_CHECKS 64
#define N_LIBS BENCH_N_LIBS
#define MAX_CONFIGS 6
/* The short period the one-bit changes are also timed at, after the window at the default period. */
#define FAST_PERIOD_MS 10
#define STR_(x) #x
#define STR(x) STR_(x)

/* Targets from the issue, and process_consistency's figures as the issue gives them. */
#define TARGET_CPU_BLAKE3 1.0
#define TARGET_CPU_XXH3 0.2
#define TARGET_GROWTH_MIB 1.0
/* Checker CPU over the floor (one read of the resident pages), measured in the same run. */
#define TARGET_FLOOR_XXH3 1.25
#define TARGET_FLOOR_BLAKE3 3.5
#define PC_CPU_PERCENT 10.5
#define PC_GROWTH_MB 133.0

typedef struct lib_info {
    bool loaded;
    char real[PATH_MAX];
    char error[256];
    uint64_t exec_bytes; /* r-x mappings of this file in the process */
} lib_info;

/* One configuration: an algorithm, and whether pages not in memory are read too. */
typedef struct config {
    procsum_algorithm algo;
    bool nonresident;
} config;

/* How long each configuration runs. */
typedef struct run_params {
    double seconds; /* at the default period */
    int samples;    /* one-bit changes timed */
    int checks;     /* procsum_check_now calls timed */
} run_params;

/* One-bit changes timed at one period: the time from each change to its report. */
typedef struct latency {
    unsigned period_ms;
    int samples;
    double ms[MAX_SAMPLES];
    int timeouts;
    double pass_ms; /* wall time of the checker's last pass at that period (procsum_stats.last_pass_ns) */
} latency;

/* What one child measures; sent back whole through a pipe. */
/* Besides the floor read at the period: the same pages hashed alone, and a pass's questions to the kernel alone. */
typedef struct period_more {
    double hash_ms, ask_ms;
    double wake_ms; /* CPU time of the reading thread's sleep of a period: going to sleep and waking up */
} period_more;

typedef struct result {
    int ok;
    char error[512];
    int algo;
    bool nonresident;
    unsigned period_ms;
    lib_info libs[N_LIBS];
    uint64_t libs_exec_bytes, process_exec_bytes;
    /* Executable pages this process has in memory (pagemap's present bit), before the start and at the end. */
    int64_t present_before, present_after;
    double start_ms; /* procsum_start: the first baseline */
    uint64_t pages_tracked, skipped_pages, regions;
    uint64_t table_bytes; /* procsum_stats.table_bytes at the end */
    int checks;
    double check_ms[MAX_CHECKS];
    uint64_t bytes_per_check;
    bench_mem_status before, after;
    bool hwm_reset; /* VmHWM was reset before the start, so after.hwm_kb is the peak since */
    double window_s;
    uint64_t window_passes, slow_passes;
    double cpu_ms_per_pass; /* procsum_stats.cpu_ns over the window's passes */
    double floor_ms;        /* reading the resident code pages once, caches flushed (pages_floor_ms) */
    double floor_hash_ms;   /* hashing them once under the same conditions (pages_floor_ms) */
    double floor_period_ms; /* the same read a period after the last, at the checker's priority (pages_floor_at_period_ms) */
    int floor_period_reads;
    period_more period;     /* the same pages hashed alone, and a pass's kernel questions alone, in turn with those reads */
    double cpu_pct_stats;   /* procsum_stats.cpu_ns */
    double cpu_pct_sched;   /* /proc/self/task/TID/schedstat; < 0 if unknown */
    latency lat;      /* at the default period, during the window */
    latency lat_fast; /* at FAST_PERIOD_MS */
    uint64_t unexpected_reports; /* reports that were not about the flipped page */
    int dlclose_ran;
    int dlclose_err;          /* first failing procsum_check_now after dlclose, or 0 */
    uint64_t dlclose_reports; /* reports in the checks after dlclose */
    uint64_t regions_after_dlclose;
} result;

/* All the runs, and what the reports say about the run as a whole. */
typedef struct run_set {
    config cf[MAX_CONFIGS];
    result rs[MAX_CONFIGS];
    int n;
    run_params params;
    bench_host host;
    double elapsed_s;
} run_set;

/* child.c */
int child_run(const config *cfg, const run_params *p, result *r);
bool child_is_invocation(int argc, char **argv);
int child_main(int argc, char **argv);

/* libs.c */
void libs_load(result *r, void *handles[N_LIBS]);
int libs_count_exec_bytes(result *r);
void libs_unload(void *handles[N_LIBS], bool quietly);
int libs_loaded_count(const result *r);
const result *libs_first_listing(const run_set *s);

/* measure.c */
int measure_config(result *r, procsum_algorithm algo, bool nonresident, const run_params *p);

/* flips.c */
int flips_init(void);
int flips_prepare(result *r);
void flips_on_report(const procsum_mismatch *m, void *userdata);
int flips_sample(result *r, latency *l, const run_params *p, unsigned period_ms);
uint64_t flips_unexpected(void);

/* pages.c */
int64_t pages_present_exec(uintptr_t *out, size_t cap);
double pages_floor_ms(procsum_algorithm algo, double *hash_ms);
double pages_floor_at_period_ms(double period_s, int reads, procsum_algorithm algo, period_more *more);

/* figures.c */
const char *mode_name(bool nonresident);
const char *algo_title(int algo);
const char *verdict(bool ok);
double growth_mib(long after_kb, long before_kb);
double tables_mib(const result *r);
double beyond_mib(const result *r);
double peak_mib(const result *r);
double floor_pct(const result *r);
double cpu_of(const result *r);
double cpu_ms_per_pass_of(const result *r);
double over_floor(const result *r);
double over_period_floor(const result *r);
double over_hash_period(const result *r);
double hash_and_ask_over_floor(const result *r);
const result *find_result(const run_set *s, procsum_algorithm a, bool nonresident);
void fmt_cpu(char *buf, size_t n, double v);
void fmt_latency(char *buf, size_t n, const latency *l);
void fmt_present(char *buf, size_t n, const result *r, const char *arrow);
unsigned period_of(const run_set *s);

/* report_md.c */
#define BEGIN_MARK "<!-- checker-bench:begin"
#define END_MARK "<!-- checker-bench:end -->"
void report_targets(bench_text *t, const run_set *s);
void report_page(bench_text *t, const run_set *s);

/* report_csv.c */
void report_csv(bench_text *t, const run_set *s);

/* report_term.c */
void report_terminal(const run_set *s, const char *csv);

#endif
