/*
 * Executable pages this process has in memory (the present bit of
 * /proc/self/pagemap over every r-x mapping), and the floor under any
 * checker that verifies every resident page once per period: the CPU time
 * to read those pages once; next to it, the time to hash them with the
 * library's own per-page code and nothing else, and the time to ask the
 * kernel what a pass asks before it reads (the mappings, the residency of
 * each selected region), through the library's own calls: the one place
 * outside the public API (src/digest/digest.h, src/os/os.h).
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
#include "digest/digest.h"
#include "os/os.h"
#include "pass/pass.h"

/* Pages per slice of a pass (src/pass/pass.c), as the hashing alone is timed. */
#define SLICE_PAGES 64

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

static void hash_pages(const uintptr_t *pages, size_t count, procsum_algorithm algo);

/*
 * Best of nine reads of the pages, each after a sweep of `sweep` has
 * flushed the caches; in ms of this thread's CPU time, as the checker's
 * figures are (on a shared machine, wall time would count the waits for a
 * CPU into the floor). With `hash`, the pages are hashed with `algo`
 * instead of summed: what hashing alone costs under the same conditions.
 */
static double best_of_nine_ms(const uintptr_t *pages, size_t count, uint64_t *sweep, size_t sweep_len, bool hash,
                              procsum_algorithm algo)
{
    memset(sweep, 1, sweep_len);
    volatile uint64_t sink = 0;
    size_t words = (size_t)sysconf(_SC_PAGESIZE) / sizeof(uint64_t);
    double best = -1;
    for (int round = 0; round < 9; round++) {
        sink += sum_words(sweep, sweep_len / sizeof(*sweep));
        double t = bench_thread_cpu_s();
        if (hash)
            hash_pages(pages, count, algo);
        else
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
 * measured. *hash_ms gets the same for hashing those pages with `algo` by
 * the library's per-page code, in turn under the same conditions: the least
 * any pass over them costs against this floor (-1 if unknown).
 */
double pages_floor_ms(procsum_algorithm algo, double *hash_ms)
{
    *hash_ms = -1;
    int64_t n = pages_present_exec(NULL, 0);
    if (n <= 0)
        return -1;
    uintptr_t *pages = malloc((size_t)n * sizeof(*pages));
    size_t sweep_len = (size_t)128 << 20;
    uint64_t *sweep = malloc(sweep_len);
    double best = -1;
    int64_t got = pages && sweep ? pages_present_exec(pages, (size_t)n) : -1;
    if (got > 0) {
        size_t count = (size_t)(got < n ? got : n);
        best = best_of_nine_ms(pages, count, sweep, sweep_len, false, algo);
        *hash_ms = best_of_nine_ms(pages, count, sweep, sweep_len, true, algo);
    }
    free(sweep);
    free(pages);
    return best;
}

/* What the thread that reads a period after the last does in turn, and what each costs it. */
enum { READ, HASH, ASK, KINDS };

/* The floor read as the checker reads: what the reading thread needs and returns. */
typedef struct period_reads {
    const uintptr_t *pages;
    size_t count;
    double period_s;
    int reads;
    int kinds;              /* READ alone, or all KINDS in turn */
    procsum_algorithm algo; /* hashed with, in the HASH rounds */
    double ms[KINDS];       /* mean CPU time of each kind; -1 if unknown */
    double wake_ms;         /* mean CPU time of a sleep of a period: going to sleep and waking up */
} period_reads;

/*
 * The pages hashed as a pass hashes a run of resident pages, by the
 * library's own per-page code: each run of consecutive pages in slices of
 * 64, one digest per page. What a pass pays for hashing alone, without the
 * listing, residency and bookkeeping around it.
 */
static void hash_pages(const uintptr_t *pages, size_t count, procsum_algorithm algo)
{
    static uint8_t digests[SLICE_PAGES * PROCSUM_MAX_DIGEST];
    for (size_t i = 0; i < count;) {
        size_t run = 1;
        while (i + run < count && run < SLICE_PAGES && pages[i + run] == pages[i] + run * PROCSUM_PAGE_SIZE)
            run++;
        psum_pages_digest_at(algo, NULL, (const uint8_t *)pages[i], run, 0, digests);
        i += run;
    }
}

/*
 * What a pass asks the kernel before it reads anything, and nothing else:
 * the mappings of this process listed as a checker lists them, then the
 * residency of every region the default options select, as many pages at
 * a time as a pass asks (src/pass/walk.h). -1 on a failure.
 */
#define ASK_PAGES 32768

static int ask_as_a_pass(psum_os_target *t, psum_os_region_list *list, bool *flags)
{
    procsum_options o;
    procsum_options_init(&o);
    if (psum_os_list_regions(t, list) != 0)
        return -1;
    for (size_t i = 0; i < list->count; i++) {
        const psum_os_region *r = &list->items[i];
        if (!psum_region_selected(r, &o))
            continue;
        for (uintptr_t at = r->start; at < r->end; at += (uintptr_t)ASK_PAGES * PROCSUM_PAGE_SIZE) {
            size_t n = (r->end - at) / PROCSUM_PAGE_SIZE;
            if (psum_os_resident(t, at, n < ASK_PAGES ? n : ASK_PAGES, flags) != 0)
                return -1;
        }
    }
    return 0;
}

static void *read_each_period(void *arg)
{
    period_reads *pr = arg;
    /* The checker's thread runs at nice 19 (procsum_options.low_priority): so does this one. */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
    volatile uint64_t sink = 0;
    size_t words = (size_t)sysconf(_SC_PAGESIZE) / sizeof(uint64_t);
    double total[KINDS] = {0};
    psum_os_target *t = NULL;
    psum_os_region_list list = {0};
    bool *flags = malloc(ASK_PAGES * sizeof(*flags));
    bool ask_ok = pr->kinds > ASK && flags && psum_os_target_open(0, &t) == 0;
    /*
     * The kinds take turns, each a period after the one before. Round 0 is
     * not timed: every timed round then comes a period after another, as
     * every pass but the first does (before it the caches were swept for
     * the tight-loop floor).
     */
    double waking = 0;
    for (int round = 0; round <= pr->reads * pr->kinds; round++) {
        double asleep = bench_thread_cpu_s();
        bench_sleep_s(pr->period_s);
        int kind = round == 0 ? READ : (round - 1) % pr->kinds;
        double start = bench_thread_cpu_s();
        if (round > 0)
            waking += start - asleep;
        if (kind == HASH) {
            hash_pages(pr->pages, pr->count, pr->algo);
        } else if (kind == ASK) {
            ask_ok = ask_ok && ask_as_a_pass(t, &list, flags) == 0;
        } else {
            for (size_t i = 0; i < pr->count; i++)
                sink += sum_words((const uint64_t *)pr->pages[i], words);
        }
        if (round > 0)
            total[kind] += bench_thread_cpu_s() - start;
    }
    (void)sink;
    for (int k = 0; k < pr->kinds; k++)
        pr->ms[k] = k == ASK && !ask_ok ? -1 : total[k] / pr->reads * 1e3;
    pr->wake_ms = waking / (pr->reads * pr->kinds) * 1e3;
    psum_os_region_list_free(&list);
    if (t)
        psum_os_target_close(t);
    free(flags);
    return NULL;
}

/*
 * The same plain read of the resident executable pages, done the way the
 * checker's passes are: on a thread of its own at the checker's priority,
 * each read a period after the last (the caches, the TLB and the core are
 * left to the rest of the machine in between, no sweep needed), `reads`
 * reads after an untimed one; their mean CPU time in ms, as the checker's
 * CPU per pass is a mean over its passes. With `more` not NULL, as many
 * hashings of the same pages with `algo` (hash_pages) and as many rounds of
 * a pass's questions to the kernel (ask_as_a_pass) take turns with the
 * reads, and `more` gets their means, and the mean CPU time the thread
 * spent in its sleeps (going to sleep, waking up): what each pass pays too,
 * its CPU being counted from one pass to the next, and what the floors,
 * timed from after the sleep, leave out. -1 if it cannot be measured.
 */
double pages_floor_at_period_ms(double period_s, int reads, procsum_algorithm algo, period_more *more)
{
    if (more)
        *more = (period_more){.hash_ms = -1, .ask_ms = -1, .wake_ms = -1};
    int64_t n = pages_present_exec(NULL, 0);
    if (n <= 0 || reads <= 0)
        return -1;
    uintptr_t *pages = malloc((size_t)n * sizeof(*pages));
    int64_t got = pages ? pages_present_exec(pages, (size_t)n) : -1;
    period_reads pr = {.pages = pages, .count = (size_t)(got < n ? got : n), .period_s = period_s, .reads = reads,
                       .kinds = more ? KINDS : 1, .algo = algo, .ms = {-1, -1, -1}};
    pthread_t th;
    bool ran = got > 0 && pthread_create(&th, NULL, read_each_period, &pr) == 0;
    if (ran)
        pthread_join(th, NULL);
    if (more && ran)
        *more = (period_more){.hash_ms = pr.ms[HASH], .ask_ms = pr.ms[ASK], .wake_ms = pr.wake_ms};
    free(pages);
    return ran ? pr.ms[READ] : -1;
}
