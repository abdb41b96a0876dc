/*
 * Executable pages this process has in memory (the present bit of
 * /proc/self/pagemap over every r-x mapping), and the floor under any
 * checker that verifies every resident page once per period: the CPU time
 * to read those pages once.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "checker_bench.h"

/* Where present pages are counted and their addresses kept. */
typedef struct present_walk {
    int fd;             /* /proc/self/pagemap */
    unsigned long page; /* bytes */
    uintptr_t *out;     /* NULL, or room for cap addresses */
    size_t cap;
    int64_t present;
} present_walk;

/* Counts the present pages of [lo, hi), 512 pagemap entries at a time; -1 if pagemap cannot be read. */
static int walk_mapping(present_walk *w, unsigned long lo, unsigned long hi)
{
    unsigned long end = hi / w->page;
    for (unsigned long pg = lo / w->page; pg < end;) {
        uint64_t e[512];
        size_t want = end - pg < 512 ? end - pg : 512;
        ssize_t got = pread(w->fd, e, want * sizeof(*e), (off_t)(pg * sizeof(*e)));
        if (got <= 0 || got % (ssize_t)sizeof(*e) != 0)
            return -1;
        for (size_t k = 0; k < (size_t)got / sizeof(*e); k++) {
            if (!(e[k] >> 63))
                continue;
            if (w->out && (size_t)w->present < w->cap)
                w->out[w->present] = (uintptr_t)((pg + k) * w->page);
            w->present++;
        }
        pg += (size_t)got / sizeof(*e);
    }
    return 0;
}

/*
 * The pages of r-x mappings that are in this process's page tables: how
 * many, and the first `cap` of their addresses into `out` (which may be
 * NULL). -1 if unknown.
 */
int64_t pages_present_exec(uintptr_t *out, size_t cap)
{
    long sys = sysconf(_SC_PAGESIZE);
    if (sys <= 0)
        return -1;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return -1;
    present_walk w = {
        .fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC), .page = (unsigned long)sys, .out = out, .cap = cap};
    if (w.fd < 0) {
        fclose(f);
        return -1;
    }
    char line[PATH_MAX + 256];
    while (w.present >= 0 && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r' || perms[2] != 'x')
            continue;
        if (walk_mapping(&w, lo, hi) != 0)
            w.present = -1;
    }
    if (close(w.fd) != 0 || fclose(f) != 0)
        return -1;
    return w.present;
}

static uint64_t sum_words(const uint64_t *w, size_t n)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += w[i];
    return sum;
}

/*
 * Best of nine reads of the pages, each after a sweep of `sweep` has
 * flushed the caches; in ms of this thread's CPU time, as the checker's
 * figures are (on a shared machine, wall time would count the waits for a
 * CPU into the floor).
 */
static double best_read_ms(const uintptr_t *pages, size_t count, uint64_t *sweep, size_t sweep_len)
{
    memset(sweep, 1, sweep_len);
    volatile uint64_t sink = 0;
    size_t words = (size_t)sysconf(_SC_PAGESIZE) / sizeof(uint64_t);
    double best = -1;
    for (int round = 0; round < 9; round++) {
        sink += sum_words(sweep, sweep_len / sizeof(*sweep));
        double t = bench_thread_cpu_s();
        for (size_t i = 0; i < count; i++)
            sink += sum_words((const uint64_t *)pages[i], words);
        double ms = (bench_thread_cpu_s() - t) * 1e3;
        best = best < 0 || ms < best ? ms : best;
    }
    (void)sink;
    return best;
}

/*
 * The time to read the resident executable pages once from memory, with a
 * plain summing loop, after the caches were flushed by a larger sweep (as
 * they are a period later). Best of nine, in ms of CPU time; -1 if it cannot be
 * measured.
 */
double pages_floor_ms(void)
{
    int64_t n = pages_present_exec(NULL, 0);
    if (n <= 0)
        return -1;
    uintptr_t *pages = malloc((size_t)n * sizeof(*pages));
    size_t sweep_len = (size_t)128 << 20;
    uint64_t *sweep = malloc(sweep_len);
    double best = -1;
    int64_t got = pages && sweep ? pages_present_exec(pages, (size_t)n) : -1;
    if (got > 0)
        best = best_read_ms(pages, (size_t)(got < n ? got : n), sweep, sweep_len);
    free(sweep);
    free(pages);
    return best;
}

/* The floor read as the checker reads: what the reading thread needs and returns. */
typedef struct period_reads {
    const uintptr_t *pages;
    size_t count;
    double period_s;
    int reads;
    double ms; /* mean CPU time per read; -1 if unknown */
} period_reads;

static void *read_each_period(void *arg)
{
    period_reads *pr = arg;
    /* The checker's thread runs at nice 19 (procsum_options.low_priority): so does this one. */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
    volatile uint64_t sink = 0;
    size_t words = (size_t)sysconf(_SC_PAGESIZE) / sizeof(uint64_t);
    double total = 0;
    for (int round = 0; round < pr->reads; round++) {
        bench_sleep_s(pr->period_s);
        double t = bench_thread_cpu_s();
        for (size_t i = 0; i < pr->count; i++)
            sink += sum_words((const uint64_t *)pr->pages[i], words);
        total += bench_thread_cpu_s() - t;
    }
    (void)sink;
    pr->ms = total / pr->reads * 1e3;
    return NULL;
}

/*
 * The same plain read of the resident executable pages, done the way the
 * checker's passes are: on a thread of its own at the checker's priority,
 * each read a period after the last (the caches, the TLB and the core are
 * left to the rest of the machine in between, no sweep needed), `reads`
 * reads; their mean CPU time in ms, as the checker's CPU per pass is a mean
 * over its passes. -1 if it cannot be measured.
 */
double pages_floor_at_period_ms(double period_s, int reads)
{
    int64_t n = pages_present_exec(NULL, 0);
    if (n <= 0 || reads <= 0)
        return -1;
    uintptr_t *pages = malloc((size_t)n * sizeof(*pages));
    int64_t got = pages ? pages_present_exec(pages, (size_t)n) : -1;
    period_reads pr = {.pages = pages, .count = (size_t)(got < n ? got : n), .period_s = period_s, .reads = reads,
                       .ms = -1};
    pthread_t th;
    if (got > 0 && pthread_create(&th, NULL, read_each_period, &pr) == 0)
        pthread_join(th, NULL);
    free(pages);
    return pr.ms;
}
