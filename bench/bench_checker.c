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
 * in do not make the next one's process bigger. Only procsum.h is used.
 *
 * Prints a table and a CSV to stdout; with --out DIR writes
 * DIR/checker-benchmark.csv and the generated part of
 * DIR/checker-benchmark.md (between the checker-bench:begin and
 * checker-bench:end markers; the rest of the page is kept).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <procsum.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024.0 * 1024.0)

#define MAX_SAMPLES 32
#define MAX_CHECKS 64
#define N_LIBS 5

/* Targets from the issue, and process_consistency's figures as the issue gives them. */
#define TARGET_CPU_BLAKE3 1.0
#define TARGET_CPU_XXH3 0.2
#define TARGET_GROWTH_MIB 1.0
#define PC_CPU_PERCENT 10.5
#define PC_GROWTH_MB 133.0

static const struct {
    const char *name;    /* short */
    const char *package; /* Debian */
    const char *path;
} LIBS[N_LIBS] = {
    {"libLLVM-15", "libllvm15", "/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1"},
    {"libz3", "libz3-4", "/usr/lib/x86_64-linux-gnu/libz3.so.4"},
    {"swrast_dri", "libgl1-mesa-dri", "/usr/lib/x86_64-linux-gnu/dri/swrast_dri.so"},
    {"libx265", "libx265-199", "/usr/lib/x86_64-linux-gnu/libx265.so.199"},
    {"liblapack", "liblapack3", "/usr/lib/x86_64-linux-gnu/liblapack.so.3"},
};

typedef struct lib_info {
    bool loaded;
    char real[PATH_MAX];
    char error[256];
    uint64_t exec_bytes; /* r-x mappings of this file in the process */
} lib_info;

typedef struct mem_status {
    long rss_kb, file_kb, anon_kb, hwm_kb; /* -1: not known */
} mem_status;

/* What one child measures; sent back whole through a pipe. */
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
    mem_status before, after;
    bool hwm_reset; /* VmHWM was reset before the start, so after.hwm_kb is the peak since */
    double window_s;
    uint64_t window_passes, slow_passes;
    double cpu_ms_per_pass;  /* procsum_stats.cpu_ns over the window's passes */
    double floor_ms;         /* reading the resident code pages once, caches flushed (read_floor_ms) */
    double cpu_pct_stats;    /* procsum_stats.cpu_ns */
    double cpu_pct_sched;    /* /proc/self/task/TID/schedstat; < 0 if unknown */
    int samples;
    double latency_ms[MAX_SAMPLES];
    int latency_timeouts;
    uint64_t unexpected_reports; /* reports that were not about the flipped page */
    int dlclose_ran;
    int dlclose_err;          /* first failing procsum_check_now after dlclose, or 0 */
    uint64_t dlclose_reports; /* reports in the checks after dlclose */
    uint64_t regions_after_dlclose;
} result;

/* ------------------------------------------------------------------ helpers */

static double now_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    if (n <= 0)
        return -1;
    double s[MAX_SAMPLES > MAX_CHECKS ? MAX_SAMPLES : MAX_CHECKS];
    memcpy(s, v, (size_t)n * sizeof(*v));
    qsort(s, (size_t)n, sizeof(*s), cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double min_of(const double *v, int n)
{
    double m = n > 0 ? v[0] : -1;
    for (int i = 1; i < n; i++)
        m = v[i] < m ? v[i] : m;
    return m;
}

static double max_of(const double *v, int n)
{
    double m = n > 0 ? v[0] : -1;
    for (int i = 1; i < n; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

static double dmax(double a, double b)
{
    return a > b ? a : b;
}

static double mean_of(const double *v, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += v[i];
    return n > 0 ? s / n : -1;
}

/* Writes all of buf, or returns -1. */
static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads until EOF or n bytes; returns the count read, or -1. */
static ssize_t read_all(int fd, void *buf, size_t n)
{
    char *p = buf;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* VmRSS, RssFile, RssAnon and VmHWM of this process, in kB. */
static int read_mem_status(mem_status *m)
{
    m->rss_kb = m->file_kb = m->anon_kb = m->hwm_kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        long v;
        if (sscanf(line, "VmRSS: %ld kB", &v) == 1)
            m->rss_kb = v;
        else if (sscanf(line, "RssFile: %ld kB", &v) == 1)
            m->file_kb = v;
        else if (sscanf(line, "RssAnon: %ld kB", &v) == 1)
            m->anon_kb = v;
        else if (sscanf(line, "VmHWM: %ld kB", &v) == 1)
            m->hwm_kb = v;
    }
    if (fclose(f) != 0)
        return -1;
    return m->rss_kb >= 0 ? 0 : -1;
}

/* Resets VmHWM to the current RSS (Linux >= 4.0: "5" to clear_refs). */
static bool reset_hwm(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = write(fd, "5", 1) == 1;
    if (close(fd) != 0)
        ok = false;
    return ok;
}

/* Sums the r-x mappings of the process, and those of each loaded library. */
static int count_exec_bytes(result *r)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return -1;
    r->process_exec_bytes = r->libs_exec_bytes = 0;
    for (int i = 0; i < N_LIBS; i++)
        r->libs[i].exec_bytes = 0;
    char line[PATH_MAX + 256];
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perms[8];
        int path_at = 0;
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &lo, &hi, perms, &path_at) < 3)
            continue;
        if (perms[0] != 'r' || perms[2] != 'x' || hi <= lo)
            continue;
        uint64_t size = hi - lo;
        r->process_exec_bytes += size;
        char *path = line + path_at;
        path[strcspn(path, "\n")] = '\0';
        for (int i = 0; i < N_LIBS; i++) {
            if (r->libs[i].loaded && strcmp(path, r->libs[i].real) == 0) {
                r->libs[i].exec_bytes += size;
                r->libs_exec_bytes += size;
            }
        }
    }
    if (fclose(f) != 0)
        return -1;
    return 0;
}

/* How many pages of the process's r-x mappings are in its page tables (pagemap bit 63); -1 if unknown. */
/*
 * The pages of r-x mappings that are in this process's page tables
 * (pagemap's present bit): how many, and the first `cap` of their
 * addresses into `out` (which may be NULL). -1 if unknown.
 */
static int64_t present_exec_pages(uintptr_t *out, size_t cap)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return -1;
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fclose(f);
        return -1;
    }
    long sys = sysconf(_SC_PAGESIZE);
    int64_t present = 0;
    char line[PATH_MAX + 256];
    while (present >= 0 && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r' || perms[2] != 'x' || sys <= 0)
            continue;
        for (unsigned long pg = lo / (unsigned long)sys; pg < hi / (unsigned long)sys && present >= 0;) {
            uint64_t e[512];
            size_t want = hi / (unsigned long)sys - pg < 512 ? hi / (unsigned long)sys - pg : 512;
            ssize_t got = pread(fd, e, want * sizeof(*e), (off_t)(pg * sizeof(*e)));
            if (got <= 0 || got % (ssize_t)sizeof(*e) != 0) {
                present = -1;
                break;
            }
            for (size_t k = 0; k < (size_t)got / sizeof(*e); k++) {
                if (!(e[k] >> 63))
                    continue;
                if (out && (size_t)present < cap)
                    out[present] = (uintptr_t)((pg + k) * (unsigned long)sys);
                present++;
            }
            pg += (size_t)got / sizeof(*e);
        }
    }
    if (close(fd) != 0 || fclose(f) != 0)
        return -1;
    return present;
}

static int64_t count_present_exec_pages(void)
{
    return present_exec_pages(NULL, 0);
}

static uint64_t sum_words(const uint64_t *w, size_t n)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += w[i];
    return sum;
}

/*
 * The floor under any checker that verifies every resident page once per
 * period: the time to read those pages once from memory, with a plain
 * summing loop, after the caches were flushed by a larger sweep (as they
 * are a period later). Best of five, in ms; -1 if it cannot be measured.
 */
static double read_floor_ms(void)
{
    int64_t n = present_exec_pages(NULL, 0);
    if (n <= 0)
        return -1;
    uintptr_t *pages = malloc((size_t)n * sizeof(*pages));
    size_t sweep_len = (size_t)128 << 20;
    uint64_t *sweep = malloc(sweep_len);
    double best = -1;
    int64_t got = pages && sweep ? present_exec_pages(pages, (size_t)n) : -1;
    if (got > 0) {
        memset(sweep, 1, sweep_len);
        volatile uint64_t sink = 0;
        long sys = sysconf(_SC_PAGESIZE);
        size_t count = (size_t)(got < n ? got : n);
        for (int round = 0; round < 5; round++) {
            sink += sum_words(sweep, sweep_len / sizeof(*sweep));
            double t = now_s();
            for (size_t i = 0; i < count; i++)
                sink += sum_words((const uint64_t *)pages[i], (size_t)sys / sizeof(uint64_t));
            double ms = (now_s() - t) * 1e3;
            best = best < 0 || ms < best ? ms : best;
        }
        (void)sink;
    }
    free(sweep);
    free(pages);
    return best;
}

/* The thread ids of this process. Returns how many (at most cap), or -1. */
static int list_tasks(pid_t *tids, int cap)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        if (n < cap)
            tids[n++] = (pid_t)atol(e->d_name);
    }
    if (closedir(d) != 0)
        return -1;
    return n;
}

/* CPU time of one thread of this process in ns, from the kernel's schedstat; -1 if unknown. */
static double thread_cpu_ns(pid_t tid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%ld/schedstat", (long)tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    unsigned long long ns;
    int got = fscanf(f, "%llu", &ns);
    if (fclose(f) != 0 || got != 1)
        return -1;
    return (double)ns;
}

static void cpu_name(char *buf, size_t n, bool *avx2, bool *avx512)
{
    snprintf(buf, n, "unknown CPU");
    *avx2 = *avx512 = false;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[4096];
    bool named = false, flagged = false;
    while ((!named || !flagged) && fgets(line, sizeof line, f)) {
        char *v = strchr(line, ':');
        if (!v)
            continue;
        v++;
        while (*v == ' ' || *v == '\t')
            v++;
        v[strcspn(v, "\n")] = '\0';
        if (!named && strncmp(line, "model name", 10) == 0) {
            char *e = v + strlen(v);
            while (e > v && e[-1] == ' ')
                *--e = '\0';
            snprintf(buf, n, "%s", v);
            named = true;
        } else if (!flagged && strncmp(line, "flags", 5) == 0) {
            *avx2 = strstr(v, " avx2") != NULL;
            *avx512 = strstr(v, " avx512f") != NULL;
            flagged = true;
        }
    }
    fclose(f);
}

/* ------------------------------------------------------------------ the child: one configuration */

/* Never called after the warm-up: its first byte is the bit that changes. */
int bench_checker_victim(int x);
__attribute__((noinline)) int bench_checker_victim(int x)
{
    return x * 3 + 42;
}

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint64_t reports;
    uint64_t unexpected;
    double last_report_s;
    uintptr_t expected_page;
} seen = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void on_report(const procsum_mismatch *m, void *userdata)
{
    (void)userdata;
    double t = now_s();
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

/* Flips one bit of bench_checker_victim through an RWX window. */
static int flip_victim(uintptr_t addr, uintptr_t page)
{
    if (mprotect((void *)page, PROCSUM_PAGE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC) != 0)
        return -1;
    *(volatile uint8_t *)addr ^= 0x10;
    if (mprotect((void *)page, PROCSUM_PAGE_SIZE, PROT_READ | PROT_EXEC) != 0)
        return -1;
    return 0;
}

/* Waits until `reports` exceeds `had` or `deadline` (CLOCK_MONOTONIC seconds); returns the report's time or -1. */
static double wait_report(uint64_t had, double deadline)
{
    double at = -1;
    if (pthread_mutex_lock(&seen.lock) != 0)
        return -1;
    while (seen.reports <= had) {
        struct timespec ts = {.tv_sec = (time_t)deadline,
                              .tv_nsec = (long)((deadline - (double)(time_t)deadline) * 1e9)};
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

#define FAIL(r, ...)                                               \
    do {                                                           \
        snprintf((r)->error, sizeof((r)->error), __VA_ARGS__);     \
        goto out;                                                  \
    } while (0)

static int child_measure(result *r, procsum_algorithm algo, bool nonresident, double seconds, int samples,
                         int checks)
{
    procsum_checker *checker = NULL;
    void *handles[N_LIBS] = {0};
    r->algo = (int)algo;
    r->nonresident = nonresident;

    /* The condition variable waits on CLOCK_MONOTONIC, like now_s(). */
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0 || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&seen.cond, &ca) != 0)
        FAIL(r, "pthread_cond_init failed");
    pthread_condattr_destroy(&ca);

    /* Load the libraries, never call them. */
    for (int i = 0; i < N_LIBS; i++) {
        lib_info *li = &r->libs[i];
        handles[i] = dlopen(LIBS[i].path, RTLD_LAZY | RTLD_LOCAL);
        if (!handles[i]) {
            const char *e = dlerror();
            snprintf(li->error, sizeof li->error, "%s", e ? e : "dlopen failed");
            continue;
        }
        li->loaded = true;
        if (!realpath(LIBS[i].path, li->real))
            snprintf(li->real, sizeof li->real, "%s", LIBS[i].path);
    }
    if (count_exec_bytes(r) != 0)
        FAIL(r, "reading /proc/self/maps: %s", strerror(errno));

    /* The victim is in memory, as code that ran is. */
    int (*volatile victim)(int) = bench_checker_victim;
    if (victim(1) != 45)
        FAIL(r, "victim function misbehaves");
    uintptr_t vaddr = (uintptr_t)&bench_checker_victim;
    uintptr_t vpage = vaddr & ~(uintptr_t)(PROCSUM_PAGE_SIZE - 1);
    seen.expected_page = vpage;

    pid_t before_tids[64];
    int n_before = list_tasks(before_tids, 64);
    if (n_before < 0)
        FAIL(r, "listing /proc/self/task: %s", strerror(errno));

    r->present_before = count_present_exec_pages();
    r->hwm_reset = reset_hwm();
    if (read_mem_status(&r->before) != 0)
        FAIL(r, "reading /proc/self/status");

    procsum_options o;
    procsum_options_init(&o);
    o.algorithm = algo;
    o.include_nonresident = nonresident;
    r->period_ms = o.check_period_ms;
    double period = o.check_period_ms / 1000.0;

    double t = now_s();
    int err = procsum_start(&o, on_report, NULL, &checker);
    r->start_ms = (now_s() - t) * 1e3;
    if (err)
        FAIL(r, "procsum_start: %s", procsum_strerror(err));

    /* The checker's thread: the one that was not there before. */
    pid_t checker_tid = -1;
    pid_t after_tids[64];
    int n_after = list_tasks(after_tids, 64);
    for (int i = 0; i < n_after; i++) {
        bool old = false;
        for (int j = 0; j < n_before; j++)
            old = old || after_tids[i] == before_tids[j];
        if (!old)
            checker_tid = checker_tid == -1 ? after_tids[i] : -2; /* -2: more than one new thread */
    }

    /* Time per full check. */
    procsum_stats s0, s1;
    if ((err = procsum_get_stats(checker, &s0)) != 0)
        FAIL(r, "procsum_get_stats: %s", procsum_strerror(err));
    r->checks = checks;
    for (int i = 0; i < checks; i++) {
        t = now_s();
        err = procsum_check_now(checker);
        r->check_ms[i] = (now_s() - t) * 1e3;
        if (err < 0)
            FAIL(r, "procsum_check_now: %s", procsum_strerror(err));
    }
    if ((err = procsum_get_stats(checker, &s1)) != 0)
        FAIL(r, "procsum_get_stats: %s", procsum_strerror(err));
    if (s1.passes > s0.passes)
        r->bytes_per_check = (s1.bytes_hashed - s0.bytes_hashed) / (s1.passes - s0.passes);
    r->pages_tracked = s1.pages_tracked;
    r->skipped_pages = s1.skipped_pages;
    r->regions = s1.regions;

    /*
     * The checker at its default period, for `seconds`, during which one bit
     * of this program's code is flipped and restored `samples` times. Each
     * flip waits a different fraction of the period first, so that the flips
     * fall evenly over the phase of the checker's passes. The window starts
     * at the end of the last procsum_check_now pass (cpu_ns is sampled at
     * the end of each pass on the checker's thread) and ends at the end of a
     * pass.
     */
    double w0 = now_s();
    double sched0 = checker_tid > 0 ? thread_cpu_ns(checker_tid) : -1;
    procsum_stats a;
    if ((err = procsum_get_stats(checker, &a)) != 0)
        FAIL(r, "procsum_get_stats: %s", procsum_strerror(err));
    bool flipped = false;
    r->samples = 0;
    for (int i = 0; i < samples && i < MAX_SAMPLES; i++) {
        int stratum = (i * 5 + 2) % samples; /* 5 is prime to the usual sample counts: a spread order */
        sleep_s(period * (stratum + 0.5) / samples);
        uint64_t had = reports_now();
        if (flip_victim(vaddr, vpage) != 0)
            FAIL(r, "mprotect: %s", strerror(errno));
        flipped = !flipped;
        double t_flip = now_s();
        double at = wait_report(had, t_flip + 4 * period + 5);
        if (at < 0) {
            r->latency_timeouts++;
            continue;
        }
        r->latency_ms[r->samples++] = (at - t_flip) * 1e3;
    }
    if (flipped) {
        /* Leave the code as it was, and its report outside the figures. */
        uint64_t had = reports_now();
        if (flip_victim(vaddr, vpage) != 0)
            FAIL(r, "mprotect: %s", strerror(errno));
        (void)wait_report(had, now_s() + 4 * period + 5);
    }
    sleep_s(w0 + seconds - now_s());
    /* End at the end of the next pass, so that cpu_ns covers the window exactly. */
    procsum_stats b;
    if ((err = procsum_get_stats(checker, &b)) != 0)
        FAIL(r, "procsum_get_stats: %s", procsum_strerror(err));
    uint64_t mark = b.passes;
    double w1 = now_s(), give_up = w1 + 10 * period + 30;
    while (b.passes == mark) {
        if (w1 > give_up)
            FAIL(r, "no pass ended in %.0f s", 10 * period + 30);
        sleep_s(0.001);
        if ((err = procsum_get_stats(checker, &b)) != 0)
            FAIL(r, "procsum_get_stats: %s", procsum_strerror(err));
        w1 = now_s();
    }
    double sched1 = checker_tid > 0 ? thread_cpu_ns(checker_tid) : -1;
    r->window_s = w1 - w0;
    r->window_passes = b.passes - a.passes;
    r->slow_passes = b.slow_passes;
    r->cpu_pct_stats = (double)(b.cpu_ns - a.cpu_ns) / 1e9 / r->window_s * 100;
    r->cpu_ms_per_pass = r->window_passes ? (double)(b.cpu_ns - a.cpu_ns) / 1e6 / (double)r->window_passes : -1;
    r->cpu_pct_sched = sched0 >= 0 && sched1 >= 0 ? (sched1 - sched0) / 1e9 / r->window_s * 100 : -1;
    r->pages_tracked = b.pages_tracked;
    r->skipped_pages = b.skipped_pages;
    r->table_bytes = b.table_bytes;

    if (read_mem_status(&r->after) != 0)
        FAIL(r, "reading /proc/self/status");
    r->present_after = count_present_exec_pages();
    r->floor_ms = read_floor_ms(); /* after the memory figures: its sweep buffer is not procsum's */
    if (pthread_mutex_lock(&seen.lock) == 0) {
        r->unexpected_reports = seen.unexpected;
        pthread_mutex_unlock(&seen.lock);
    }

    /* process_consistency crashed when a library went away under it: unload them all and check twice. */
    uint64_t m0 = procsum_mismatch_count(checker);
    for (int i = 0; i < N_LIBS; i++) {
        if (handles[i] && dlclose(handles[i]) != 0)
            fprintf(stderr, "  dlclose(%s): %s\n", LIBS[i].name, dlerror());
        handles[i] = NULL;
    }
    r->dlclose_ran = 1;
    for (int i = 0; i < 2; i++) {
        err = procsum_check_now(checker);
        if (err < 0 && r->dlclose_err == 0)
            r->dlclose_err = err;
    }
    r->dlclose_reports = procsum_mismatch_count(checker) - m0;
    procsum_stats c;
    if (procsum_get_stats(checker, &c) == 0)
        r->regions_after_dlclose = c.regions;
    r->ok = 1;
out:
    if (checker && (err = procsum_stop(checker)) != 0 && r->ok) {
        r->ok = 0;
        snprintf(r->error, sizeof r->error, "procsum_stop: %s", procsum_strerror(err));
    }
    for (int i = 0; i < N_LIBS; i++)
        if (handles[i])
            dlclose(handles[i]);
    return r->ok ? 0 : 1;
}

/* ------------------------------------------------------------------ the parent */

typedef struct config {
    procsum_algorithm algo;
    bool nonresident;
} config;

static const char *mode_name(bool nonresident)
{
    return nonresident ? "all pages" : "resident";
}

static const char *algo_title(int a)
{
    return a == PROCSUM_ALGO_BLAKE3 ? "BLAKE3" : a == PROCSUM_ALGO_XXH3 ? "XXH3" : "CRC-64";
}

static int run_child(const config *cfg, double seconds, int samples, int checks, result *r)
{
    memset(r, 0, sizeof(*r));
    int fds[2];
    if (pipe(fds) != 0) {
        perror("pipe");
        return -1;
    }
    if (fcntl(fds[0], F_SETFD, FD_CLOEXEC) != 0) {
        perror("fcntl");
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    char fd_arg[16], sec_arg[32], smp_arg[16], chk_arg[16];
    snprintf(fd_arg, sizeof fd_arg, "%d", fds[1]);
    snprintf(sec_arg, sizeof sec_arg, "%g", seconds);
    snprintf(smp_arg, sizeof smp_arg, "%d", samples);
    snprintf(chk_arg, sizeof chk_arg, "%d", checks);
    char *args[] = {"bench_checker", "--child", (char *)procsum_algorithm_name(cfg->algo),
                    cfg->nonresident ? "all" : "resident", fd_arg, sec_arg, smp_arg, chk_arg, NULL};
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        execv("/proc/self/exe", args);
        perror("execv /proc/self/exe");
        _exit(127);
    }
    if (close(fds[1]) != 0)
        perror("close");
    ssize_t got = read_all(fds[0], r, sizeof(*r));
    if (got < 0)
        perror("read");
    if (close(fds[0]) != 0)
        perror("close");
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            perror("waitpid");
            return -1;
        }
    }
    if (got != (ssize_t)sizeof(*r)) {
        memset(r, 0, sizeof(*r));
        snprintf(r->error, sizeof r->error, "the child ended without a result (%s %d)",
                 WIFSIGNALED(status) ? "signal" : "exit status",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        return -1;
    }
    return r->ok ? 0 : -1;
}

static double growth_mib(long after_kb, long before_kb)
{
    return after_kb < 0 || before_kb < 0 ? 0 : (double)(after_kb - before_kb) / 1024.0;
}

static double tables_mib(const result *r)
{
    return (double)r->table_bytes / MIB;
}

static double beyond_mib(const result *r)
{
    return growth_mib(r->after.rss_kb, r->before.rss_kb) - tables_mib(r);
}

static double peak_mib(const result *r)
{
    return r->hwm_reset ? growth_mib(r->after.hwm_kb, r->before.rss_kb) : -1;
}

/* Appends to a growing buffer. */
typedef struct text {
    char *p;
    size_t len, cap;
} text;

__attribute__((format(printf, 2, 3))) static void tprintf(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + (size_t)n + 1)
            cap *= 2;
        char *g = realloc(t->p, cap);
        if (!g)
            return;
        t->p = g;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

static void fmt_cpu(char *buf, size_t n, double v)
{
    if (v < 0)
        snprintf(buf, n, "n/a");
    else
        snprintf(buf, n, "%.3f", v);
}

static void fmt_latency(char *buf, size_t n, const result *r)
{
    if (r->samples == 0)
        snprintf(buf, n, "none (%d timeouts)", r->latency_timeouts);
    else
        snprintf(buf, n, "%.0f (%.0f–%.0f)%s", median(r->latency_ms, r->samples), min_of(r->latency_ms, r->samples),
                 max_of(r->latency_ms, r->samples), r->latency_timeouts ? " + timeouts" : "");
}

static const char *verdict(bool ok)
{
    return ok ? "met" : "missed";
}

static void fmt_present(char *buf, size_t n, const result *r, const char *arrow)
{
    if (r->present_before < 0 || r->present_after < 0)
        snprintf(buf, n, "n/a");
    else
        snprintf(buf, n, "%lld %s %lld", (long long)r->present_before, arrow, (long long)r->present_after);
}

/* The two markdown tables: what a check costs, and what it does to the process's memory. */
static void table_md(text *t, const result *rs, const config *cf, int n)
{
    tprintf(t, "#### Cost\n\n"
               "| Algorithm | Pages read | Full check, wall (ms, mean / min) | Read per check (MB) | Pages tracked | "
               "Checker CPU per pass (ms) | Checker CPU at %u ms (%% of a core: procsum / kernel) | "
               "Floor: reading those pages once (ms) | "
               "One-bit change to report (ms, median (min–max)) |\n"
               "|---|---|---:|---:|---:|---:|---:|---:|---:|\n",
            rs[0].period_ms ? rs[0].period_ms : 1000u);
    for (int i = 0; i < n; i++) {
        const result *r = &rs[i];
        if (!r->ok) {
            tprintf(t, "| %s | %s | failed: %s | | | | | | |\n", algo_title((int)cf[i].algo),
                    mode_name(cf[i].nonresident), r->error);
            continue;
        }
        char cpu1[32], cpu2[32], lat[96];
        fmt_cpu(cpu1, sizeof cpu1, r->cpu_pct_stats);
        fmt_cpu(cpu2, sizeof cpu2, r->cpu_pct_sched);
        fmt_latency(lat, sizeof lat, r);
        tprintf(t, "| %s | %s | %.1f / %.1f | %.1f | %llu | %.1f | %s / %s | %.2f | %s |\n", algo_title(r->algo),
                mode_name(r->nonresident), mean_of(r->check_ms, r->checks), min_of(r->check_ms, r->checks),
                (double)r->bytes_per_check / 1e6, (unsigned long long)r->pages_tracked, r->cpu_ms_per_pass, cpu1,
                cpu2, r->floor_ms, lat);
    }
    tprintf(t, "\n#### Resident memory\n\n"
               "| Algorithm | Pages read | Executable pages in memory (start → end) | RSS growth (MiB) | "
               "of which file / anon | Peak growth (MiB) | procsum's tables (MiB) | Growth beyond tables (MiB) |\n"
               "|---|---|---:|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < n; i++) {
        const result *r = &rs[i];
        if (!r->ok)
            continue;
        char peak[32], present[64];
        if (peak_mib(r) < 0)
            snprintf(peak, sizeof peak, "n/a");
        else
            snprintf(peak, sizeof peak, "%.2f", peak_mib(r));
        fmt_present(present, sizeof present, r, "→");
        tprintf(t, "| %s | %s | %s | %.2f | %.2f / %.2f | %s | %.2f | %.2f |\n", algo_title(r->algo),
                mode_name(r->nonresident), present, growth_mib(r->after.rss_kb, r->before.rss_kb),
                growth_mib(r->after.file_kb, r->before.file_kb), growth_mib(r->after.anon_kb, r->before.anon_kb), peak,
                tables_mib(r), beyond_mib(r));
    }
}

static void csv_out(text *t, const result *rs, const config *cf, int n)
{
    tprintf(t, "algorithm,pages,ok,libs_exec_bytes,process_exec_bytes,present_pages_before,present_pages_after,start_ms,check_ms_mean,check_ms_min,"
               "bytes_per_check,pages_tracked,skipped_pages,regions,period_ms,window_s,window_passes,slow_passes,"
               "cpu_ms_per_pass,cpu_pct_stats,cpu_pct_schedstat,floor_ms,rss_before_kb,rss_after_kb,rss_file_before_kb,rss_file_after_kb,"
               "rss_anon_before_kb,rss_anon_after_kb,peak_growth_kb,tables_kb,growth_beyond_tables_kb,"
               "latency_median_ms,latency_min_ms,latency_max_ms,latency_samples,latency_timeouts,unexpected_reports,"
               "dlclose_check_error,dlclose_reports\n");
    for (int i = 0; i < n; i++) {
        const result *r = &rs[i];
        if (!r->ok) {
            tprintf(t, "%s,%s,0\n", procsum_algorithm_name(cf[i].algo), cf[i].nonresident ? "all" : "resident");
            continue;
        }
        tprintf(t,
                "%s,%s,1,%llu,%llu,%lld,%lld,%.2f,%.3f,%.3f,%llu,%llu,%llu,%llu,%u,%.3f,%llu,%llu,%.3f,%.4f,%.4f,%.3f,%ld,%ld,%ld,%ld,%ld,"
                "%ld,%ld,%.0f,%.0f,%.1f,%.1f,%.1f,%d,%d,%llu,%s,%llu\n",
                procsum_algorithm_name((procsum_algorithm)r->algo), r->nonresident ? "all" : "resident",
                (unsigned long long)r->libs_exec_bytes, (unsigned long long)r->process_exec_bytes,
                (long long)r->present_before, (long long)r->present_after, r->start_ms,
                mean_of(r->check_ms, r->checks), min_of(r->check_ms, r->checks),
                (unsigned long long)r->bytes_per_check, (unsigned long long)r->pages_tracked,
                (unsigned long long)r->skipped_pages, (unsigned long long)r->regions, r->period_ms, r->window_s,
                (unsigned long long)r->window_passes, (unsigned long long)r->slow_passes, r->cpu_ms_per_pass, r->cpu_pct_stats,
                r->cpu_pct_sched, r->floor_ms, r->before.rss_kb, r->after.rss_kb, r->before.file_kb, r->after.file_kb,
                r->before.anon_kb, r->after.anon_kb,
                r->hwm_reset && r->after.hwm_kb >= 0 ? r->after.hwm_kb - r->before.rss_kb : -1L,
                tables_mib(r) * 1024, beyond_mib(r) * 1024, median(r->latency_ms, r->samples),
                min_of(r->latency_ms, r->samples), max_of(r->latency_ms, r->samples), r->samples, r->latency_timeouts,
                (unsigned long long)r->unexpected_reports, r->dlclose_err ? procsum_err_name(r->dlclose_err) : "0",
                (unsigned long long)r->dlclose_reports);
    }
}

static const result *find(const result *rs, const config *cf, int n, procsum_algorithm a, bool nonresident)
{
    for (int i = 0; i < n; i++)
        if (cf[i].algo == a && cf[i].nonresident == nonresident && rs[i].ok)
            return &rs[i];
    return NULL;
}

/* The floor as a share of a core at the period: reading the resident code once per period, nothing else. */
static double floor_pct(const result *r)
{
    return r->floor_ms >= 0 && r->period_ms ? r->floor_ms / r->period_ms * 100 : -1;
}

/* The CPU share a verdict uses: the larger of procsum's figure and the kernel's. */
static double cpu_of(const result *r)
{
    return r->cpu_pct_sched >= 0 ? dmax(r->cpu_pct_stats, r->cpu_pct_sched) : r->cpu_pct_stats;
}

/* Target lines: computed from the figures, so they stay true when the page is regenerated. */
static void targets_md(text *t, const result *rs, const config *cf, int n)
{
    const result *b = find(rs, cf, n, PROCSUM_ALGO_BLAKE3, false);
    const result *x = find(rs, cf, n, PROCSUM_ALGO_XXH3, false);
    const result *b_all = find(rs, cf, n, PROCSUM_ALGO_BLAKE3, true);
    const result *x_all = find(rs, cf, n, PROCSUM_ALGO_XXH3, true);
    tprintf(t, "| Target (defaults: resident pages only, %u ms) | Measured | Verdict | process_consistency (from the "
               "issue) |\n|---|---:|---|---:|\n",
            rs[0].period_ms ? rs[0].period_ms : 1000u);
    if (b)
        tprintf(t, "| checker CPU, BLAKE3 < %.1f%% of a core | %.3f%% (floor %.3f%%) | %s | %.1f%% |\n",
                TARGET_CPU_BLAKE3, cpu_of(b), floor_pct(b), verdict(cpu_of(b) < TARGET_CPU_BLAKE3), PC_CPU_PERCENT);
    if (x)
        tprintf(t, "| checker CPU, XXH3 < %.1f%% of a core | %.3f%% (floor %.3f%%) | %s | %.1f%% |\n", TARGET_CPU_XXH3,
                cpu_of(x), floor_pct(x), verdict(cpu_of(x) < TARGET_CPU_XXH3), PC_CPU_PERCENT);
    for (int i = 0; i < n; i++) {
        const result *r = &rs[i];
        if (!r->ok || r->nonresident)
            continue;
        tprintf(t, "| RSS growth beyond procsum's tables < %.0f MiB, %s | %.2f MiB (tables %.2f MiB) | %s | %.0f MB |\n",
                TARGET_GROWTH_MIB, algo_title(r->algo), beyond_mib(r), tables_mib(r),
                verdict(beyond_mib(r) < TARGET_GROWTH_MIB), PC_GROWTH_MB);
    }
    for (int i = 0; i < n; i++) {
        const result *r = &rs[i];
        if (!r->ok || r->nonresident || r->present_before < 0 || r->present_after < 0)
            continue;
        int64_t faulted = r->present_after - r->present_before;
        if (faulted > 256 || growth_mib(r->after.file_kb, r->before.file_kb) > 1.0)
            tprintf(t, "\n**Warning**: with residency on, %s's run brought %lld executable pages into the process "
                       "(%lld → %lld in memory, RssFile +%.1f MiB) and read %llu pages per check: pages that were "
                       "not in memory were read.\n",
                    algo_title(r->algo), (long long)faulted, (long long)r->present_before,
                    (long long)r->present_after, growth_mib(r->after.file_kb, r->before.file_kb),
                    (unsigned long long)(r->bytes_per_check / PROCSUM_PAGE_SIZE));
    }
    if (b_all || x_all) {
        tprintf(t, "\nWith every page read (include_nonresident = true, the reference), the same targets would be:");
        if (b_all)
            tprintf(t, " BLAKE3 CPU %.3f%% (%s),", cpu_of(b_all), verdict(cpu_of(b_all) < TARGET_CPU_BLAKE3));
        if (x_all)
            tprintf(t, " XXH3 CPU %.3f%% (%s),", cpu_of(x_all), verdict(cpu_of(x_all) < TARGET_CPU_XXH3));
        const result *g = b_all ? b_all : x_all;
        tprintf(t, " RSS growth beyond tables %.1f MiB (%s), of which %.1f MiB file-backed (the code read in).\n",
                beyond_mib(g), verdict(beyond_mib(g) < TARGET_GROWTH_MIB),
                growth_mib(g->after.file_kb, g->before.file_kb));
    }
}

static char *read_whole(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    text t = {0};
    char buf[8192];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        tprintf(&t, "%.*s", (int)got, buf);
    fclose(f);
    return t.p;
}

static int write_file(const char *path, const char *a, size_t alen, const char *b, const char *c)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return -1;
    }
    fwrite(a, 1, alen, f);
    if (b)
        fputs(b, f);
    if (c)
        fputs(c, f);
    if (ferror(f) | (fclose(f) != 0)) {
        perror(path);
        return -1;
    }
    return 0;
}

#define BEGIN_MARK "<!-- checker-bench:begin"
#define END_MARK "<!-- checker-bench:end -->"

static int write_docs(const char *dir, const char *generated, const char *csv)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/checker-benchmark.csv", dir);
    if (write_file(path, csv, strlen(csv), NULL, NULL) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/checker-benchmark.md", dir);
    char *old = read_whole(path);
    char *begin = old ? strstr(old, BEGIN_MARK) : NULL;
    char *end = begin ? strstr(begin, END_MARK) : NULL;
    int err;
    if (begin && end) {
        end += strlen(END_MARK);
        if (*end == '\n')
            end++;
        err = write_file(path, old, (size_t)(begin - old), generated, end);
    } else {
        const char *head = "# Checker benchmark\n\n";
        err = write_file(path, head, strlen(head), generated, NULL);
    }
    free(old);
    if (!err)
        fprintf(stderr, "wrote %s/checker-benchmark.md (generated part) and %s/checker-benchmark.csv\n", dir, dir);
    return err;
}

static int loaded_count(const result *r)
{
    int n = 0;
    for (int i = 0; i < N_LIBS; i++)
        n += r->libs[i].loaded;
    return n;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_checker [--out DIR] [--seconds S] [--samples N] [--checks N]\n"
                    "                     [--algos blake3,xxh3,crc64] [--modes resident,all]\n"
                    "  --seconds: time at the default period per configuration (default 12)\n"
                    "  --samples: one-bit changes timed per configuration (default 6)\n"
                    "  --checks:  procsum_check_now calls timed per configuration (default 5)\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc == 8 && strcmp(argv[1], "--child") == 0) {
        result r;
        memset(&r, 0, sizeof r);
        procsum_algorithm a;
        int fd = atoi(argv[4]);
        double seconds = atof(argv[5]);
        int samples = atoi(argv[6]), checks = atoi(argv[7]);
        if (procsum_algorithm_parse(argv[2], &a) != 0)
            snprintf(r.error, sizeof r.error, "unknown algorithm %s", argv[2]);
        else
            child_measure(&r, a, strcmp(argv[3], "all") == 0, seconds, samples, checks);
        if (write_all(fd, &r, sizeof r) != 0) {
            perror("write");
            return 1;
        }
        return r.ok ? 0 : 1;
    }

    const char *out_dir = NULL, *algos = "blake3,xxh3,crc64", *modes = "resident,all";
    double seconds = 12;
    int samples = 6, checks = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out_dir = argv[++i];
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc)
            samples = atoi(argv[++i]);
        else if (strcmp(argv[i], "--checks") == 0 && i + 1 < argc)
            checks = atoi(argv[++i]);
        else if (strcmp(argv[i], "--algos") == 0 && i + 1 < argc)
            algos = argv[++i];
        else if (strcmp(argv[i], "--modes") == 0 && i + 1 < argc)
            modes = argv[++i];
        else
            usage();
    }
    if (seconds < 1 || seconds > 3600 || samples < 0 || samples > MAX_SAMPLES || checks < 1 || checks > MAX_CHECKS)
        usage();

    /* Resident-only first: each in its own process anyway, but never after a run that read everything. */
    config cf[6];
    int n = 0;
    const procsum_algorithm order[3] = {PROCSUM_ALGO_BLAKE3, PROCSUM_ALGO_XXH3, PROCSUM_ALGO_CRC64};
    for (int m = 0; m < 2; m++) {
        if (!strstr(modes, m ? "all" : "resident"))
            continue;
        for (int k = 0; k < 3; k++)
            if (strstr(algos, procsum_algorithm_name(order[k])))
                cf[n++] = (config){order[k], m == 1};
    }
    if (n == 0)
        usage();

    char cpu[256];
    bool avx2, avx512;
    cpu_name(cpu, sizeof cpu, &avx2, &avx512);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    struct utsname un;
    if (uname(&un) != 0)
        snprintf(un.release, sizeof un.release, "unknown");
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    if (!gmtime_r(&now, &tm) || strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", &tm) == 0)
        snprintf(date, sizeof date, "unknown date");

    result rs[6];
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        fprintf(stderr, "[%d/%d] %s, pages read: %s; %.0f s at the default period...\n", i + 1, n,
                algo_title((int)cf[i].algo), mode_name(cf[i].nonresident), seconds);
        if (run_child(&cf[i], seconds, samples, checks, &rs[i]) != 0)
            fprintf(stderr, "  failed: %s\n", rs[i].error);
    }
    double elapsed = now_s() - t0;

    /* The libraries, from the first run that got that far. */
    const result *lib_src = NULL;
    for (int i = 0; i < n && !lib_src; i++)
        if (rs[i].ok)
            lib_src = &rs[i];

    text md = {0}, csv = {0}, gen = {0};
    tprintf(&gen, BEGIN_MARK " (generated by `ninja -C build bench-checker-docs`; do not edit by hand) -->\n");
    tprintf(&gen, "Run %s on %s (%ld cores online%s), Linux %s. Each configuration in a fresh process: %.0f s "
                  "at the default period with %d one-bit changes, %d timed full checks. Whole run: %.0f s.\n\n",
            date, cpu, cores, avx512 ? ", AVX-512" : avx2 ? ", AVX2" : "", un.release, seconds, samples, checks,
            elapsed);
    if (lib_src) {
        tprintf(&gen, "| Library (Debian package) | Loaded from | Executable bytes mapped |\n|---|---|---:|\n");
        for (int i = 0; i < N_LIBS; i++) {
            const lib_info *li = &lib_src->libs[i];
            if (li->loaded)
                tprintf(&gen, "| %s (%s) | `%s` | %.1f MB |\n", LIBS[i].name, LIBS[i].package, li->real,
                        (double)li->exec_bytes / 1e6);
            else
                tprintf(&gen, "| %s (%s) | missing: %s | – |\n", LIBS[i].name, LIBS[i].package, li->error);
        }
        tprintf(&gen, "| **the %d loaded** | | **%.1f MB** |\n| the whole process (with their dependencies) | | %.1f MB |\n\n",
                loaded_count(lib_src), (double)lib_src->libs_exec_bytes / 1e6, (double)lib_src->process_exec_bytes / 1e6);
    }
    table_md(&md, rs, cf, n);
    tprintf(&gen, "%s\n", md.p ? md.p : "");
    targets_md(&gen, rs, cf, n);
    tprintf(&gen, "\nAfter unloading the libraries with dlclose() while the checker runs:");
    for (int i = 0; i < n; i++) {
        const result *r = &rs[i];
        if (!r->ok)
            continue;
        tprintf(&gen, "%s %s/%s %s, %llu report(s)", i ? ";" : "", algo_title(r->algo), mode_name(r->nonresident),
                r->dlclose_err ? procsum_err_name(r->dlclose_err) : "checks ok",
                (unsigned long long)r->dlclose_reports);
    }
    if (lib_src)
        tprintf(&gen, " (executable regions checked: %llu before, %llu after)",
                (unsigned long long)lib_src->regions, (unsigned long long)lib_src->regions_after_dlclose);
    tprintf(&gen, ". Reports other than the flipped page during the runs:");
    uint64_t unexpected = 0;
    for (int i = 0; i < n; i++)
        unexpected += rs[i].ok ? rs[i].unexpected_reports : 0;
    tprintf(&gen, " %llu.\n", (unsigned long long)unexpected);
    tprintf(&gen, END_MARK "\n");
    csv_out(&csv, rs, cf, n);

    /* The terminal. */
    printf("procsum checker benchmark — %s, %ld cores, Linux %s, %s\n", cpu, cores, un.release, date);
    if (lib_src) {
        for (int i = 0; i < N_LIBS; i++) {
            const lib_info *li = &lib_src->libs[i];
            if (li->loaded)
                printf("  %-11s %8.1f MB executable  %s\n", LIBS[i].name, (double)li->exec_bytes / 1e6, li->real);
            else
                printf("  %-11s missing (Debian package %s): %s\n", LIBS[i].name, LIBS[i].package, li->error);
        }
        printf("  %d loaded:   %8.1f MB executable; the whole process: %.1f MB\n\n", loaded_count(lib_src),
               (double)lib_src->libs_exec_bytes / 1e6, (double)lib_src->process_exec_bytes / 1e6);
    }
    printf("%-6s %-9s %10s %9s %8s %9s %8s %8s %9s  %s\n", "algo", "pages", "check ms", "MB/check", "tracked",
           "CPU ms/ps", "CPU%", "CPU%krn", "floor ms", "one-bit change -> report, ms");
    for (int i = 0; i < n; i++) {
        const result *r = &rs[i];
        if (!r->ok) {
            printf("%-6s %-9s failed: %s\n", algo_title((int)cf[i].algo), mode_name(cf[i].nonresident), r->error);
            continue;
        }
        char lat[96];
        fmt_latency(lat, sizeof lat, r);
        printf("%-6s %-9s %10.1f %9.1f %8llu %9.1f %8.3f %8.3f %9.2f  %s\n", algo_title(r->algo),
               mode_name(r->nonresident), mean_of(r->check_ms, r->checks), (double)r->bytes_per_check / 1e6,
               (unsigned long long)r->pages_tracked, r->cpu_ms_per_pass, r->cpu_pct_stats, r->cpu_pct_sched,
               r->floor_ms, lat);
    }
    printf("\n%-6s %-9s %-17s %8s %8s %8s %8s %8s %8s\n", "algo", "pages", "exec pages in mem", "RSS+MiB", "file+",
           "anon+", "peak+", "tables", "beyond");
    for (int i = 0; i < n; i++) {
        const result *r = &rs[i];
        if (!r->ok)
            continue;
        char present[64];
        fmt_present(present, sizeof present, r, "->");
        printf("%-6s %-9s %-17s %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f\n", algo_title(r->algo), mode_name(r->nonresident),
               present, growth_mib(r->after.rss_kb, r->before.rss_kb), growth_mib(r->after.file_kb, r->before.file_kb),
               growth_mib(r->after.anon_kb, r->before.anon_kb), peak_mib(r), tables_mib(r), beyond_mib(r));
    }
    text tg = {0};
    targets_md(&tg, rs, cf, n);
    printf("\n%s\nCSV:\n%s", tg.p ? tg.p : "", csv.p ? csv.p : "");

    int status = 0;
    fflush(stdout);
    if (out_dir && write_docs(out_dir, gen.p ? gen.p : "", csv.p ? csv.p : "") != 0)
        status = 1;
    for (int i = 0; i < n; i++)
        if (!rs[i].ok)
            status = 1;
    free(md.p);
    free(csv.p);
    free(gen.p);
    free(tg.p);
    return status;
}
