/*
 * bench_hash: throughput of every digest algorithm and SIMD path, next to
 * references measured in the same run, on
 *   (a) a 16 MiB buffer, (b) a 1 GiB buffer (skip with --no-1g),
 *   (c) the real executable regions of this process, hashed in place.
 * References: a plain memory-read loop over the same bytes (the limit);
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
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "digest/blake3.h"
#include "digest/crc64.h"
#include "digest/digest.h"
#include "os/os.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

extern char **environ;

#define SLICE_PAGES 64 /* as src/snapshot.c: 256 KiB per call */

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
    char file[256]; /* the same bytes in a tmpfs file, for b3sum and xxhsum */
} dataset;

static uint8_t *alloc_random(size_t len)
{
    uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    uint64_t x = 0x9E3779B97F4A7C15ull;
    uint64_t *w = (uint64_t *)(void *)p;
    for (size_t i = 0; i < len / 8; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        w[i] = x;
    }
    return p;
}

static const char *tmp_dir(void)
{
    if (access("/dev/shm", W_OK) == 0)
        return "/dev/shm";
    const char *t = getenv("TMPDIR");
    return t ? t : "/tmp";
}

/* The data set's bytes in a tmpfs file, for the command-line tools. */
static void write_dataset_file(dataset *d)
{
    snprintf(d->file, sizeof d->file, "%s/procsum-bench-%s-XXXXXX", tmp_dir(), d->name);
    int fd = mkstemp(d->file);
    if (fd < 0) {
        perror("mkstemp");
        exit(1);
    }
    for (size_t i = 0; i < d->nspans; i++) {
        if (bench_write_all(fd, d->spans[i].p, d->spans[i].len) != 0) {
            perror("write");
            exit(1);
        }
    }
    if (close(fd) != 0) {
        perror("close");
        exit(1);
    }
}

static void buffer_dataset(dataset *d, const char *name, const char *title, size_t len, int reps)
{
    d->name = name;
    d->title = title;
    d->spans = malloc(sizeof *d->spans);
    d->spans[0].p = alloc_random(len);
    d->spans[0].len = len;
    d->nspans = 1;
    d->bytes = len;
    d->reps = reps;
    write_dataset_file(d);
}

/* The readable executable regions of this process, read in place. */
static void regions_dataset(dataset *d, int reps)
{
    psum_os_target *t;
    psum_os_region_list list = {0};
    if (psum_os_target_open(0, &t) || psum_os_list_regions(t, &list)) {
        fprintf(stderr, "cannot list this process's regions\n");
        exit(1);
    }
    d->name = "regions";
    d->title = "exec regions";
    d->spans = calloc(list.count ? list.count : 1, sizeof *d->spans);
    d->nspans = 0;
    d->bytes = 0;
    d->reps = reps;
    for (size_t i = 0; i < list.count; i++) {
        const psum_os_region *r = &list.items[i];
        if (!(r->prot & PSUM_PROT_R) || !(r->prot & PSUM_PROT_X) || r->end <= r->start)
            continue;
        d->spans[d->nspans].p = (const uint8_t *)r->start;
        d->spans[d->nspans].len = r->end - r->start;
        d->bytes += r->end - r->start;
        d->nspans++;
    }
    psum_os_region_list_free(&list);
    psum_os_target_close(t);
    write_dataset_file(d);
}

/* ------------------------------------------------------------------ contenders */

typedef struct contender contender;
typedef void run_fn(const contender *c, const uint8_t *p, size_t len);

typedef enum kind {
    K_MEMREAD,
    K_B3_STREAM,
    K_B3_PAGES,
    K_B3_OFFICIAL,
    K_CRC_STREAM,
    K_CRC_PAGES,
    K_XXH_STREAM,
    K_XXH_PAGES,
    K_XXH_SSE2,
    K_TOOL,
} kind;

struct contender {
    const char *algo; /* BLAKE3, CRC-64, XXH3, memory read, ... */
    const char *impl; /* path or implementation */
    const char *mode; /* stream, pages, file, ... */
    kind kind;
    psum_simd_path path;
    run_fn *run;            /* in-process runs, per span */
    const char *const *argv; /* external tools: argv, the file appended */
    double best[3];         /* seconds per data set, best of runs */
};

static volatile uint64_t sink;

/* The limit: every byte loaded once, nothing else. */
#if defined(__x86_64__)
__attribute__((target("avx2"))) static uint64_t memread_avx2(const uint8_t *p, size_t len)
{
    __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
    size_t i = 0;
    for (; i + 128 <= len; i += 128) {
        a = _mm256_or_si256(a, _mm256_loadu_si256((const __m256i *)(const void *)(p + i)));
        b = _mm256_or_si256(b, _mm256_loadu_si256((const __m256i *)(const void *)(p + i + 32)));
        c = _mm256_or_si256(c, _mm256_loadu_si256((const __m256i *)(const void *)(p + i + 64)));
        d = _mm256_or_si256(d, _mm256_loadu_si256((const __m256i *)(const void *)(p + i + 96)));
    }
    a = _mm256_or_si256(_mm256_or_si256(a, b), _mm256_or_si256(c, d));
    uint64_t r = (uint64_t)_mm256_extract_epi64(a, 0) | (uint64_t)_mm256_extract_epi64(a, 3);
    for (; i < len; i++)
        r |= p[i];
    return r;
}

__attribute__((target("avx512f"))) static uint64_t memread_avx512(const uint8_t *p, size_t len)
{
    __m512i a = _mm512_setzero_si512(), b = a, c = a, d = a;
    size_t i = 0;
    for (; i + 256 <= len; i += 256) {
        a = _mm512_or_si512(a, _mm512_loadu_si512((const void *)(p + i)));
        b = _mm512_or_si512(b, _mm512_loadu_si512((const void *)(p + i + 64)));
        c = _mm512_or_si512(c, _mm512_loadu_si512((const void *)(p + i + 128)));
        d = _mm512_or_si512(d, _mm512_loadu_si512((const void *)(p + i + 192)));
    }
    a = _mm512_or_si512(_mm512_or_si512(a, b), _mm512_or_si512(c, d));
    uint64_t r = (uint64_t)_mm512_reduce_or_epi64(a);
    for (; i < len; i++)
        r |= p[i];
    return r;
}
#endif

static uint64_t memread_scalar(const uint8_t *p, size_t len)
{
    uint64_t a = 0, b = 0, c = 0, d = 0;
    size_t i = 0;
    for (; i + 32 <= len; i += 32) {
        uint64_t w[4];
        memcpy(w, p + i, 32);
        a |= w[0];
        b |= w[1];
        c |= w[2];
        d |= w[3];
    }
    for (; i < len; i++)
        a |= p[i];
    return a | b | c | d;
}

static bool have_avx2(void)
{
    return psum_simd_path_supported(PSUM_SIMD_AVX2);
}

static bool have_avx512(void)
{
    return psum_simd_path_supported(PSUM_SIMD_AVX512);
}

static void run_memread(const contender *c, const uint8_t *p, size_t len)
{
    (void)c;
#if defined(__x86_64__)
    if (have_avx512()) {
        sink += memread_avx512(p, len);
        return;
    }
    if (have_avx2()) {
        sink += memread_avx2(p, len);
        return;
    }
#endif
    sink += memread_scalar(p, len);
}

static void run_b3_stream(const contender *c, const uint8_t *p, size_t len)
{
    (void)c;
    uint8_t out[32];
    psum_b3_hash(NULL, p, len, out);
    sink += out[0];
}

/* As the library does: slices of 64 pages, one digest per page and one for the region. */
static void run_pages(procsum_algorithm algo, const uint8_t *p, size_t len)
{
    static uint8_t digests[SLICE_PAGES * PROCSUM_MAX_DIGEST];
    psum_region_hasher h;
    psum_region_hasher_init(&h, algo);
    size_t pages = len / PROCSUM_PAGE_SIZE;
    for (size_t done = 0; done < pages;) {
        size_t n = pages - done < SLICE_PAGES ? pages - done : SLICE_PAGES;
        psum_region_hasher_pages(&h, p + done * PROCSUM_PAGE_SIZE, n, digests);
        done += n;
    }
    uint8_t out[PROCSUM_MAX_DIGEST];
    psum_region_hasher_final(&h, out);
    sink += out[0] + digests[0];
}

static void run_b3_pages(const contender *c, const uint8_t *p, size_t len)
{
    (void)c;
    run_pages(PROCSUM_ALGO_BLAKE3, p, len);
}

static void run_crc_stream(const contender *c, const uint8_t *p, size_t len)
{
    (void)c;
    sink += psum_crc64(0, p, len);
}

static void run_crc_pages(const contender *c, const uint8_t *p, size_t len)
{
    (void)c;
    run_pages(PROCSUM_ALGO_CRC64, p, len);
}

static void run_xxh_stream(const contender *c, const uint8_t *p, size_t len)
{
    (void)c;
    sink += psum_xxh3(p, len);
}

static void run_xxh_pages(const contender *c, const uint8_t *p, size_t len)
{
    (void)c;
    run_pages(PROCSUM_ALGO_XXH3, p, len);
}

static void run_xxh_sse2(const contender *c, const uint8_t *p, size_t len)
{
    (void)c;
    sink += XXH3_64bits(p, len);
}

/* The official BLAKE3 C code, loaded from a module built from Debian's copy. */
typedef struct official {
    const char *label;
    void *dl;
    void (*init)(void *);
    void (*update)(void *, const void *, size_t);
    void (*finalize)(const void *, uint8_t *, size_t);
} official;

static official officials[2];

static bool load_official(official *o, const char *label, const char *path)
{
    if (!path || !*path)
        return false;
    o->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!o->dl) {
        fprintf(stderr, "note: %s\n", dlerror());
        return false;
    }
    o->label = label;
    *(void **)&o->init = dlsym(o->dl, "blake3_hasher_init");
    *(void **)&o->update = dlsym(o->dl, "blake3_hasher_update");
    *(void **)&o->finalize = dlsym(o->dl, "blake3_hasher_finalize");
    return o->init && o->update && o->finalize;
}

static void run_official(const contender *c, const uint8_t *p, size_t len)
{
    const official *o = &officials[c->path]; /* path doubles as the index here */
    _Alignas(64) static unsigned char hasher[4096]; /* blake3_hasher is under 2 KiB */
    uint8_t out[32];
    o->init(hasher);
    o->update(hasher, p, len);
    o->finalize(hasher, out, 32);
    sink += out[0];
}

/* CPU time (user + system) of one run of argv + file, through posix_spawnp; < 0 on failure. */
static double time_tool(const char *const *argv, const char *file)
{
    const char *args[8];
    int n = 0;
    while (argv[n] && n < 6) {
        args[n] = argv[n];
        n++;
    }
    args[n++] = file;
    args[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0); /* xxhsum's progress line */
    pid_t pid;
    int err = posix_spawnp(&pid, args[0], &fa, NULL, (char *const *)(void *)args, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err)
        return -1;
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    return bench_timeval_s(ru.ru_utime) + bench_timeval_s(ru.ru_stime);
}

static bool tool_available(const char *const *argv)
{
    char path[64];
    snprintf(path, sizeof path, "%s/procsum-bench-probe-XXXXXX", tmp_dir());
    int fd = mkstemp(path);
    if (fd < 0)
        return false;
    ssize_t w = write(fd, "x", 1);
    close(fd);
    double t = w == 1 ? time_tool(argv, path) : -1;
    unlink(path);
    return t >= 0;
}

/* ------------------------------------------------------------------ the run */

#define MAX_CONTENDERS 32
static contender cs[MAX_CONTENDERS];
static int ncs;

static contender *add(const char *algo, const char *impl, const char *mode, kind k, psum_simd_path path, run_fn *run)
{
    contender *c = &cs[ncs++];
    memset(c, 0, sizeof *c);
    c->algo = algo;
    c->impl = impl;
    c->mode = mode;
    c->kind = k;
    c->path = path;
    c->run = run;
    for (int i = 0; i < 3; i++)
        c->best[i] = -1;
    return c;
}

static const char *const B3SUM_ARGV[] = {"b3sum", "--num-threads", "1", NULL};
static const char *const XXHSUM_ARGV[] = {"xxhsum", "-H3", NULL};
static double tool_startup[2]; /* b3sum, xxhsum on a 1-byte file */
static char tiny_file[256];

/* CPU time of one run of a tool over the data set's file, its start-up subtracted; < 0 if it failed. */
static double time_tool_run(const contender *c, const dataset *d)
{
    double t = time_tool(c->argv, d->file);
    if (t < 0)
        return -1;
    t -= tool_startup[c->argv == B3SUM_ARGV ? 0 : 1];
    return t > 0 ? t : -1;
}

/*
 * CPU time of one in-process run over the data set. Every contender finds
 * the bytes as warm as a read can make them, and the core busy for a few
 * milliseconds (after a tool ran, it may be idle and slow to clock up).
 * Timings are CPU time, not wall time (see bench_thread_cpu_s).
 */
static double time_run(const contender *c, const dataset *d)
{
    if (c->kind == K_B3_STREAM || c->kind == K_B3_PAGES)
        psum_b3_set_path(c->path);
    double warm = bench_thread_cpu_s();
    do {
        for (size_t s = 0; s < d->nspans; s++)
            run_memread(c, d->spans[s].p, d->spans[s].len);
    } while (bench_thread_cpu_s() - warm < 0.003);
    double t = bench_thread_cpu_s();
    for (size_t s = 0; s < d->nspans; s++)
        c->run(c, d->spans[s].p, d->spans[s].len);
    return bench_thread_cpu_s() - t;
}

/* Each contender's best time per data set, the runs of all contenders interleaved. */
static void measure(dataset *sets, int nsets)
{
    for (int di = 0; di < nsets; di++) {
        const dataset *d = &sets[di];
        if (!d->spans)
            continue;
        fprintf(stderr, "measuring %s (%.1f MiB, best of %d)...\n", d->title, d->bytes / BENCH_MIB, d->reps);
        for (int rep = 0; rep < d->reps; rep++) {
            for (int ci = 0; ci < ncs; ci++) {
                contender *c = &cs[ci];
                double t = c->kind == K_TOOL ? time_tool_run(c, d) : time_run(c, d);
                if (t >= 0 && (c->best[di] < 0 || t < c->best[di]))
                    c->best[di] = t;
            }
        }
    }
}

static double gbps(const contender *c, const dataset *d, int di)
{
    return c->best[di] > 0 ? (double)d->bytes / c->best[di] / 1e9 : 0;
}

static const contender *find(kind k, psum_simd_path path)
{
    for (int i = 0; i < ncs; i++)
        if (cs[i].kind == k && (k == K_TOOL || cs[i].path == path))
            return &cs[i];
    return NULL;
}

/* What each row is compared with, and the target, if any. */
static const contender *reference_of(const contender *c, psum_simd_path best_path, double *target)
{
    *target = 0;
    switch (c->kind) {
    case K_B3_STREAM:
    case K_B3_PAGES:
        if (c->path == best_path && c->kind == K_B3_PAGES)
            *target = 1.0;
        return officials[0].dl ? find(K_B3_OFFICIAL, 0) : NULL;
    case K_B3_OFFICIAL:
        return c->path == 0 ? NULL : find(K_B3_OFFICIAL, 0);
    case K_CRC_STREAM:
    case K_CRC_PAGES:
    case K_XXH_STREAM:
    case K_XXH_PAGES:
    case K_XXH_SSE2:
        if (c->kind != K_XXH_SSE2)
            *target = 0.9;
        return find(K_MEMREAD, 0);
    case K_TOOL:
        return c->argv == B3SUM_ARGV ? find(K_B3_PAGES, best_path) : find(K_XXH_PAGES, 0);
    case K_MEMREAD:
        return NULL;
    }
    return NULL;
}


static void label_of(const contender *c, char *buf, size_t n)
{
    snprintf(buf, n, "%s %s%s%s", c->algo, c->impl, *c->mode ? " " : "", c->mode);
}

/* ------------------------------------------------------------------ setting up */

typedef struct options {
    const char *out_dir;
    const char *asm_module, *c_module;
    bool big;
    int reps;
} options;

static _Noreturn void usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: bench_hash [--out DIR] [--quick] [--no-1g] [--reps N] [--official-asm MODULE] [--official-c MODULE]\n"
            "  --quick: a short look, --no-1g --reps 1\n");
    exit(status);
}

static void parse_options(options *o, int argc, char **argv)
{
    *o = (options){.asm_module = PSUM_BENCH_OFFICIAL_ASM, .c_module = PSUM_BENCH_OFFICIAL_C, .big = true, .reps = 5};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            o->out_dir = argv[++i];
        else if (strcmp(argv[i], "--no-1g") == 0)
            o->big = false;
        else if (strcmp(argv[i], "--quick") == 0) {
            o->big = false;
            o->reps = 1;
        }
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            o->reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--official-asm") == 0 && i + 1 < argc)
            o->asm_module = argv[++i];
        else if (strcmp(argv[i], "--official-c") == 0 && i + 1 < argc)
            o->c_module = argv[++i];
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            usage(0);
        else
            usage(2);
    }
    if (o->reps < 1)
        o->reps = 1;
}

/* Every in-process contender: the memory read, each BLAKE3 path, the official code, CRC-64 and XXH3. */
static void add_contenders(const options *o)
{
    add("memory read", have_avx512() ? "avx512 loads" : have_avx2() ? "avx2 loads" : "scalar loads", "", K_MEMREAD, 0,
        run_memread);
    for (int p = 0; p < PSUM_SIMD_PATH_COUNT; p++) {
        if (!psum_simd_path_supported((psum_simd_path)p))
            continue;
        add("BLAKE3", psum_simd_path_name((psum_simd_path)p), "stream", K_B3_STREAM, (psum_simd_path)p,
            run_b3_stream);
        add("BLAKE3", psum_simd_path_name((psum_simd_path)p), "pages", K_B3_PAGES, (psum_simd_path)p, run_b3_pages);
    }
    if (load_official(&officials[0], "official C (asm)", o->asm_module))
        add("BLAKE3", "official C, asm kernels", "stream", K_B3_OFFICIAL, 0, run_official);
    if (load_official(&officials[1], "official C (intrinsics)", o->c_module))
        add("BLAKE3", "official C, intrinsics", "stream", K_B3_OFFICIAL, 1, run_official);
    add("CRC-64", "ISA-L", "stream", K_CRC_STREAM, 0, run_crc_stream);
    add("CRC-64", "ISA-L", "pages", K_CRC_PAGES, 0, run_crc_pages);
    add("XXH3", "libxxhash dispatch", "stream", K_XXH_STREAM, 0, run_xxh_stream);
    add("XXH3", "libxxhash dispatch", "pages", K_XXH_PAGES, 0, run_xxh_pages);
    add("XXH3", "XXH3_64bits (SSE2)", "stream", K_XXH_SSE2, 0, run_xxh_sse2);
}

/* The command-line tools that are installed, each with its start-up: best of many runs on a 1-byte file. */
static int add_tools(void)
{
    snprintf(tiny_file, sizeof tiny_file, "%s/procsum-bench-tiny-XXXXXX", tmp_dir());
    int tfd = mkstemp(tiny_file);
    if (tfd < 0 || write(tfd, "x", 1) != 1) {
        perror("tiny file");
        return -1;
    }
    close(tfd);
    const char *const *tools[2] = {B3SUM_ARGV, XXHSUM_ARGV};
    for (int i = 0; i < 2; i++) {
        if (!tool_available(tools[i])) {
            fprintf(stderr, "note: %s not found; its reference is left out\n", tools[i][0]);
            continue;
        }
        contender *c = add(i == 0 ? "BLAKE3" : "XXH3", i == 0 ? "b3sum --num-threads 1" : "xxhsum -H3", "file",
                           K_TOOL, 0, NULL);
        c->argv = tools[i];
        double best = -1;
        for (int r = 0; r < 15; r++) {
            double t = time_tool(tools[i], tiny_file);
            if (t >= 0 && (best < 0 || t < best))
                best = t;
        }
        tool_startup[i] = best;
    }
    return 0;
}

#define N_SETS 3

static void make_datasets(dataset sets[N_SETS], const options *o)
{
    memset(sets, 0, N_SETS * sizeof(*sets));
    buffer_dataset(&sets[0], "16MiB", "16 MiB", 16u << 20, o->reps);
    if (o->big)
        buffer_dataset(&sets[1], "1GiB", "1 GiB", 1u << 30, o->reps > 3 ? 3 : o->reps);
    regions_dataset(&sets[2], o->reps);
}

/* ------------------------------------------------------------------ reports */

/* What the reports need besides the contenders. */
typedef struct hash_run {
    dataset sets[N_SETS];
    psum_simd_path best_path; /* the dispatcher's choice (PROCSUM_SIMD caps it) */
    bench_cpu cpu;
    int reps;
    double elapsed_s;
} hash_run;

/* One contender's row of the throughput table: GB/s per data set, its reference and the ratios. */
static void throughput_row(bench_text *t, const hash_run *h, const contender *c)
{
    double target;
    const contender *ref = reference_of(c, h->best_path, &target);
    bench_printf(t, "| %s | %s | %s |", c->algo, c->impl, c->mode);
    for (int di = 0; di < N_SETS; di++)
        if (h->sets[di].spans && c->best[di] > 0)
            bench_printf(t, " %.2f |", gbps(c, &h->sets[di], di));
        else
            bench_printf(t, " – |");
    if (ref) {
        char l[128];
        label_of(ref, l, sizeof l);
        bench_printf(t, " %s |", l);
    } else {
        bench_printf(t, " |");
    }
    for (int di = 0; di < N_SETS; di++) {
        if (ref && h->sets[di].spans && c->best[di] > 0 && ref->best[di] > 0) {
            double r = ref->best[di] / c->best[di];
            bench_printf(t, " %.2f%s |", r, target > 0 ? (r >= target ? " ✓" : " ✗") : "");
        } else {
            bench_printf(t, " – |");
        }
    }
    if (target > 0)
        bench_printf(t, " ≥ %.1f× |\n", target);
    else
        bench_printf(t, " |\n");
}

static void throughput_table(bench_text *t, const hash_run *h)
{
    bench_printf(t,
                 "| Algorithm | Implementation | Mode | 16 MiB | 1 GiB | exec regions (%.1f MiB) | compared with | ratio "
                 "16 MiB | ratio 1 GiB | ratio regions | target |\n",
                 h->sets[2].bytes / BENCH_MIB);
    bench_printf(t, "|---|---|---|---:|---:|---:|---|---:|---:|---:|---|\n");
    for (int ci = 0; ci < ncs; ci++)
        throughput_row(t, h, &cs[ci]);
}

/* The stream form of a pages contender's algorithm, or -1 for a contender that is not one. */
static int stream_kind_of(kind k)
{
    return k == K_B3_PAGES ? K_B3_STREAM : k == K_CRC_PAGES ? K_CRC_STREAM : k == K_XXH_PAGES ? K_XXH_STREAM : -1;
}

/* Per-page digests against one stream, same path. */
static void page_cost_table(bench_text *t, const hash_run *h)
{
    bench_printf(t, "| Algorithm | Path | cost of per-page digests, 16 MiB | 1 GiB | exec regions | target |\n");
    bench_printf(t, "|---|---|---:|---:|---:|---|\n");
    for (int ci = 0; ci < ncs; ci++) {
        const contender *c = &cs[ci];
        int stream_kind = stream_kind_of(c->kind);
        if (stream_kind < 0)
            continue;
        const contender *s = find((kind)stream_kind, c->path);
        bench_printf(t, "| %s | %s |", c->algo, c->impl);
        for (int di = 0; di < N_SETS; di++) {
            if (h->sets[di].spans && s && c->best[di] > 0 && s->best[di] > 0) {
                double over = (c->best[di] / s->best[di] - 1.0) * 100.0;
                bench_printf(t, " %+.1f %%%s |", over, c->kind == K_B3_PAGES ? (over <= 5.0 ? " ✓" : " ✗") : "");
            } else {
                bench_printf(t, " – |");
            }
        }
        bench_printf(t, c->kind == K_B3_PAGES ? " ≤ 5 %% |\n" : " |\n");
    }
}

/* CSV: one row per contender and data set. */
static void csv_table(bench_text *t, const hash_run *h)
{
    bench_printf(t, "dataset,bytes,algorithm,implementation,mode,seconds,gbps,reference,reference_gbps,ratio,target\n");
    for (int di = 0; di < N_SETS; di++) {
        const dataset *d = &h->sets[di];
        if (!d->spans)
            continue;
        for (int ci = 0; ci < ncs; ci++) {
            const contender *c = &cs[ci];
            if (c->best[di] <= 0)
                continue;
            double target;
            const contender *ref = reference_of(c, h->best_path, &target);
            char l[128] = "";
            if (ref)
                label_of(ref, l, sizeof l);
            double rg = ref && ref->best[di] > 0 ? gbps(ref, d, di) : 0;
            bench_printf(t, "%s,%zu,%s,%s,%s,%.6f,%.3f,%s,%.3f,%.3f,%.1f\n", d->name, d->bytes, c->algo, c->impl,
                         c->mode, c->best[di], gbps(c, d, di), l, rg, rg > 0 ? gbps(c, d, di) / rg : 0, target);
        }
    }
}

/* Chart: gnuplot, a clustered bar per contender and data set, from a data file removed afterwards. */
static int write_chart(const char *out_dir, const hash_run *h)
{
    bench_text dat = {0};
    bench_printf(&dat, "label\t16MiB\t1GiB\tregions\n");
    for (int ci = 0; ci < ncs; ci++) {
        const contender *c = &cs[ci];
        char l[128];
        label_of(c, l, sizeof l);
        bench_printf(&dat, "\"%s\"", l);
        for (int di = 0; di < N_SETS; di++)
            bench_printf(&dat, "\t%.3f", h->sets[di].spans && c->best[di] > 0 ? gbps(c, &h->sets[di], di) : 0.0);
        bench_printf(&dat, "\n");
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/bench-hash.dat", out_dir);
    int err = bench_write_file(path, bench_text_str(&dat));
    bench_text_free(&dat);
    if (err)
        return -1;
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "gnuplot -e \"set terminal pngcairo size 1400,800 font ',10'; set output '%s/bench-hash.png'; "
             "set title 'procsum hashing throughput, one thread (%s)'; set ylabel 'GB/s'; set style data histograms; "
             "set style histogram clustered gap 1; set style fill solid 0.85 border -1; set boxwidth 0.9; "
             "set grid ytics; set xtics rotate by -35 left; set key top right; set bmargin 9; set yrange [0:*]; "
             "plot '%s' using 2:xtic(1) title '16 MiB', '' using 3 title '1 GiB', '' using 4 title "
             "'exec regions'\"",
             out_dir, h->cpu.name, path);
    if (system(cmd) != 0)
        fprintf(stderr, "note: gnuplot failed or is not installed; no chart\n");
    unlink(path);
    return 0;
}

#define BEGIN_MARK "<!-- bench:begin"
#define END_MARK "<!-- bench:end -->"

/* The generated part of docs/benchmarks.md. */
static int write_page(const char *out_dir, const hash_run *h, const char *throughput, const char *page_cost)
{
    bench_text gen = {0};
    bench_printf(&gen,
                 BEGIN_MARK " (generated by `ninja -C build bench-docs`; do not edit by hand) -->\n"
                 "Machine: %s, one thread; BLAKE3 path chosen by the dispatcher: `%s`. "
                 "Best of %d runs (1 GiB: %d) in CPU time, the runs of all contenders interleaved. Whole run: %.0f s.\n\n"
                 "![throughput chart](bench-hash.png)\n\n"
                 "### Throughput (GB/s, 10^9 bytes per second)\n\n%s\n"
                 "### Cost of per-page digests\n\n"
                 "Time of *pages* over time of *stream*, same path, minus one.\n\n%s" END_MARK "\n",
                 h->cpu.name, psum_simd_path_name(h->best_path), h->reps, h->sets[1].reps, h->elapsed_s, throughput,
                 page_cost);
    char path[1024];
    snprintf(path, sizeof path, "%s/benchmarks.md", out_dir);
    int err = bench_write_section(path, BEGIN_MARK, END_MARK, "# Hashing benchmarks\n\n", bench_text_str(&gen));
    bench_text_free(&gen);
    return err;
}

static int write_docs(const char *out_dir, const hash_run *h, const char *throughput, const char *page_cost)
{
    bench_text csv = {0};
    csv_table(&csv, h);
    char path[1024];
    snprintf(path, sizeof path, "%s/bench-hash.csv", out_dir);
    int err = bench_write_file(path, bench_text_str(&csv));
    bench_text_free(&csv);
    if (err || write_chart(out_dir, h) != 0 || write_page(out_dir, h, throughput, page_cost) != 0)
        return -1;
    fprintf(stderr, "wrote %s/bench-hash.csv, bench-hash.png, benchmarks.md\n", out_dir);
    return 0;
}

int main(int argc, char **argv)
{
    options o;
    parse_options(&o, argc, argv);
    static hash_run h; /* large: the data sets' tmpfs file names */
    double t_start = bench_now_s();
    h.best_path = psum_b3_path();
    h.reps = o.reps;

    add_contenders(&o);
    if (add_tools() != 0)
        return 1;
    make_datasets(h.sets, &o);
    measure(h.sets, N_SETS);
    psum_b3_set_path(h.best_path);
    unlink(tiny_file);
    for (int i = 0; i < N_SETS; i++)
        if (h.sets[i].spans)
            unlink(h.sets[i].file);

    bench_cpu_info(&h.cpu);
    bench_text throughput = {0}, page_cost = {0};
    throughput_table(&throughput, &h);
    page_cost_table(&page_cost, &h);
    h.elapsed_s = bench_now_s() - t_start;
    printf("CPU: %s; BLAKE3 path chosen: %s; best of %d runs (1 GiB: %d); %.0f s\n\n", h.cpu.name,
           psum_simd_path_name(h.best_path), h.reps, h.sets[1].reps, h.elapsed_s);
    printf("Throughput in GB/s (10^9 bytes per second)\n\n%s\n%s", bench_text_str(&throughput),
           bench_text_str(&page_cost));
    int status = 0;
    if (o.out_dir) {
        fflush(stdout);
        status = write_docs(o.out_dir, &h, bench_text_str(&throughput), bench_text_str(&page_cost)) != 0;
    }
    bench_text_free(&throughput);
    bench_text_free(&page_cost);
    return status;
}
