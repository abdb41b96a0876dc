/*
 * bench_hash: throughput of every digest algorithm and SIMD path, next to
 * references measured in the same run, on
 *   (a) a 16 MiB buffer, (b) a 1 GiB buffer (skip with --no-1g or --quick),
 *   (c) the real executable regions of this process, hashed in place,
 *   (d) the resident code of a realistic process: the pages of the five
 *       big libraries (bench_util.h) and the rest of this process's code
 *       that are in memory, read in place from cold caches, run by run of
 *       resident pages (residency asked once, before any timing).
 * References: a memory-read loop over the same bytes with the widest loads
 * (the limit), and a plain summing loop page by page (what bench_checker
 * calls the floor);
 * `b3sum --num-threads 1` and `xxhsum -H3` over the same bytes in a tmpfs
 * file, their start-up (timed on a 1-byte file) subtracted; and, when built
 * (Debian: librust-blake3-dev), the official BLAKE3 C code, loaded with
 * dlopen in two builds: its assembly kernels and its intrinsics kernels.
 *
 * Every figure is the best of several runs, the runs of all contenders
 * interleaved so that a burst of load elsewhere hits them alike.
 *
 * Writes the table to stdout and, with --out DIR, DIR/bench-hash.csv,
 * DIR/bench-hash.png (through gnuplot) and DIR/benchmarks.md.
 *
 * The files, one job each:
 *   main.c        the command line; set up, measure, report
 *   datasets.c    the data sets and their tmpfs files
 *   kernels.c     what each in-process contender runs over the bytes
 *   tools.c       b3sum and xxhsum: timing their process, their start-up
 *   contenders.c  the list of contenders, and what each is compared with
 *   measure.c     the interleaved runs, best time per contender and data set
 *   report.c      the tables, the CSV, the chart and the docs page
 */
#ifndef PSUM_BENCH_HASH_H
#define PSUM_BENCH_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench_util.h"
#include "digest/blake3.h"
#include "digest/crc64.h"
#include "digest/digest.h"
#include "os/os.h"

#define N_SETS 4 /* 16 MiB, 1 GiB, exec regions, resident code */
#define SET_RESIDENT 3
#define MAX_CONTENDERS 32

/* ------------------------------------------------------------------ data sets */

typedef struct span {
    const uint8_t *p;
    size_t len;
} span;

typedef struct dataset {
    const char *name;  /* short, for the CSV */
    const char *title; /* for the table */
    span *spans;
    size_t nspans;
    size_t bytes;
    int reps;
    bool cold;      /* each run starts with the caches flushed, as a checker's pass a period later does */
    char file[256]; /* the same bytes in a tmpfs file, for b3sum and xxhsum */
} dataset;

/* ------------------------------------------------------------------ contenders */

typedef struct contender contender;
typedef void run_fn(const contender *c, const uint8_t *p, size_t len);

typedef enum kind {
    K_MEMREAD,
    K_READLOOP,
    K_B3_STREAM,
    K_B3_PAGES,
    K_B3_OFFICIAL,
    K_CRC_STREAM,
    K_CRC_PAGES,
    K_CRC_PAGES_PLAIN,
    K_CRC_CLMUL, /* what runs without ISA-L: the carry-less multiply */
    K_CRC_TABLE, /* and without it either: the table */
    K_XXH_STREAM,
    K_XXH_PAGES,
    K_XXH_PAGES_PLAIN,
    K_XXH_SSE2,
    K_TOOL,
} kind;

struct contender {
    const char *algo; /* BLAKE3, CRC-64, XXH3, memory read, ... */
    const char *impl; /* path or implementation */
    const char *mode; /* stream, pages, file, ... */
    kind kind;
    psum_simd_path path;
    run_fn *run;             /* in-process runs, per span */
    const char *const *argv; /* external tools: argv, the file appended */
    double best[N_SETS];     /* seconds per data set, best of runs */
};

/* The official BLAKE3 C code, loaded from a module built from Debian's copy. */
typedef struct official {
    const char *label;
    void *dl;
    void (*init)(void *);
    void (*update)(void *, const void *, size_t);
    void (*finalize)(const void *, uint8_t *, size_t);
} official;

extern official officials[2];

/* What the reports need besides the contenders. */
typedef struct hash_run {
    dataset sets[N_SETS];
    psum_simd_path best_path; /* the dispatcher's choice (PROCSUM_SIMD caps it) */
    bench_cpu cpu;
    int reps;
    double elapsed_s;
} hash_run;

/* datasets.c */
const char *datasets_tmp_dir(void);
void datasets_make(dataset sets[N_SETS], int reps, bool big);
void datasets_remove_files(const dataset sets[N_SETS]);

/* kernels.c */
bool have_avx2(void);
bool have_avx512(void);
run_fn run_memread, run_readloop, run_b3_stream, run_b3_pages, run_crc_stream, run_crc_pages, run_crc_pages_plain, run_crc_clmul,
    run_crc_table, run_xxh_stream,
    run_xxh_pages, run_xxh_pages_plain, run_xxh_sse2, run_official;
/* Evicts the caches: reads a buffer several times the size of the last level. */
void flush_caches(void);
bool load_official(official *o, const char *label, const char *path);

/* tools.c */
extern const char *const B3SUM_ARGV[];
extern const char *const XXHSUM_ARGV[];
int tools_add(void);
double tools_time_run(const contender *c, const dataset *d);
void tools_remove_files(void);

/* contenders.c */
extern contender contenders[MAX_CONTENDERS];
extern int n_contenders;
contender *contender_add(const char *algo, const char *impl, const char *mode, kind k, psum_simd_path path,
                         run_fn *run);
void contenders_add_all(const char *asm_module, const char *c_module);
double contender_gbps(const contender *c, const dataset *d, int di);
const contender *contender_find(kind k, psum_simd_path path);
const contender *contender_reference(const contender *c, psum_simd_path best_path, double *target);
void contender_label(const contender *c, char *buf, size_t n);

/* measure.c */
void measure_all(dataset *sets, int nsets);

/* report.c */
void throughput_table(bench_text *t, const hash_run *h);
void resident_table(bench_text *t, const hash_run *h);
void page_cost_table(bench_text *t, const hash_run *h);
int write_docs(const char *out_dir, const hash_run *h, const char *throughput, const char *resident,
               const char *page_cost);

#endif
