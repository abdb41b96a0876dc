/*
 * bench_watch: what watching many processes costs per pass, with the
 * checkers sharing one digest cache (what procsum watch --all does) and
 * without. It starts COPIES processes of one program (sleep) and COPIES
 * python3 interpreters, starts a checker on each (procsum_start with its
 * pid), and runs ROUNDS passes over them (after two not counted), a
 * period (3 s) apart, as a watch does: within a period every checker makes one pass (procsum_check_now,
 * one after the other, at normal priority so that the round fits in the
 * period on a busy machine; the longest round is printed). Printed per pass: bytes read and hashed by all the
 * checkers, their CPU time (procsum_stats.cpu_ns), and the ratio to one
 * sleep and one python3 with the cache, for 1, 2, 10 and all processes
 * with the cache and all without; then the CPU of a pass over all of them
 * against one over one of each (the bytes they read are the unique code
 * resident), and what each process beyond those two adds; last, all of
 * them with a cache that keeps its digests, which leaves each process's
 * own cost (listing, page table, lookups) without the hashing. Then the
 * checkers left to make their passes by themselves, a second apart, as in
 * a watch, with a thread each and on one runner (procsum watch's way): the
 * process's CPU time per period, which counts the threads' wake-ups too,
 * for 2 and for all the processes, and how many of the passes were quiet
 * (an idle process's page table as the last whole pass left it: only bytes
 * compared, the cache's blocks vouched for by their stamps). Last, the kernel's part alone: what
 * any checker of another process must ask it every pass (the stat line that
 * tells an exec or a changed listing, and the page-table entries of every
 * executable mapping, the only place that tells a private copy of a page
 * from the page-cache page), read a period apart as the passes are, for 2
 * and for all the processes: the least each process adds. The targets:
 * all/one <= 1.3 in bytes, and CPU that grows with the unique code, not
 * with the processes.
 * procsum through its public API only; the kernel's part reads /proc itself.
 *
 *   build/bench/bench_watch [COPIES [ROUNDS]]
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "procsum.h"

#define MAX_COPIES 200
/* A watch's --period: the cache keeps a digest this long. Long enough for a round on a busy machine. */
#define PERIOD_MS 3000
/* Rounds not counted: pages that appeared since the start (an interpreter's imports) settle meanwhile. */
#define WARMUP 2

typedef struct figures {
    double bytes, cpu_ms, shared_pages; /* per pass, over all the checkers */
    double round_s;                     /* the longest round, wall time: it must fit in the period */
    double passes;                      /* periodic: passes made per period, over all the checkers */
    double quiet;                       /* periodic: of those, quiet passes (procsum_stats.quiet_passes) */
    int failed;
} figures;

/*
 * Watches pids[0..n) for rounds passes, a period apart, sharing a cache or
 * not. keep: the cache keeps its digests for the whole run, so that no
 * shared page is hashed again and what is left is each process's own cost.
 */
static figures watch(const pid_t *pids, size_t n, bool share, bool keep, int rounds)
{
    figures f = {0};
    procsum_options o;
    procsum_options_init(&o);
    o.check_period_ms = keep ? 600000 : PERIOD_MS;
    procsum_digest_cache *cache = NULL;
    if (share && procsum_digest_cache_new(&o, &cache) != 0) {
        f.failed = 1;
        return f;
    }
    o.digest_cache = cache;
    o.check_period_ms = 600000; /* passes only when asked, below */
    o.low_priority = false;     /* a round must fit in the period on a busy machine */
    procsum_checker **c = calloc(n, sizeof(*c));
    for (size_t i = 0; c && i < n; i++) {
        o.pid = pids[i];
        if (procsum_start(&o, NULL, NULL, &c[i]) != 0)
            f.failed++;
    }
    uint64_t bytes = 0, cpu = 0, shared = 0;
    for (int r = 0; c && r < WARMUP + rounds; r++) {
        bench_sleep_s(PERIOD_MS / 1000.0); /* the cache's digests of the last round are stale now */
        double t0 = bench_now_s();
        for (size_t i = 0; i < n; i++) {
            procsum_stats before, after;
            if (!c[i] || procsum_get_stats(c[i], &before) != 0 || procsum_check_now(c[i]) < 0 ||
                procsum_get_stats(c[i], &after) != 0) {
                f.failed++;
                continue;
            }
            if (r < WARMUP)
                continue;
            bytes += after.bytes_hashed - before.bytes_hashed;
            cpu += after.cpu_ns - before.cpu_ns;
            shared += after.pages_shared;
        }
        double took = bench_now_s() - t0;
        if (r >= WARMUP && took > f.round_s)
            f.round_s = took;
    }
    for (size_t i = 0; c && i < n; i++)
        procsum_stop(c[i]);
    free(c);
    procsum_digest_cache_free(cache);
    f.bytes = (double)bytes / rounds;
    f.cpu_ms = (double)cpu / 1e6 / rounds;
    f.shared_pages = (double)shared / rounds;
    return f;
}

/* Up to this many executable mappings a process, for the kernel's part alone. */
#define MAX_CODE_MAPPINGS 512

typedef struct code_mappings {
    int stat_fd, pagemap_fd;
    size_t count, pages;
    uint64_t start[MAX_CODE_MAPPINGS], end[MAX_CODE_MAPPINGS];
} code_mappings;

/* pid's executable mappings in user space, listed once (a checker keeps its listing while nothing moves). */
static int list_code(pid_t pid, code_mappings *m)
{
    char path[64], line[4096];
    m->stat_fd = m->pagemap_fd = -1; /* never 0, standard input, when the listing fails */
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    m->count = m->pages = 0;
    while (fgets(line, sizeof(line), f) && m->count < MAX_CODE_MAPPINGS) {
        unsigned long long a, b;
        char perms[8];
        /* [vsyscall] lies above user space: pagemap has no entries there. */
        if (sscanf(line, "%llx-%llx %7s", &a, &b, perms) == 3 && perms[2] == 'x' && b <= 0x800000000000ull) {
            m->start[m->count] = a;
            m->end[m->count++] = b;
            m->pages += (size_t)((b - a) / 4096);
        }
    }
    fclose(f);
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    m->stat_fd = open(path, O_RDONLY | O_CLOEXEC);
    snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
    m->pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
    return m->stat_fd >= 0 && m->pagemap_fd >= 0 ? 0 : -1;
}

/*
 * The kernel's part of a pass over pids[0..n), alone: per pass, each
 * process's stat line and the page-table entries of its executable
 * mappings (one read a mapping), a period apart. CPU ms per pass in cpu_ms.
 */
static figures kernel_part(const pid_t *pids, size_t n, int rounds)
{
    figures f = {0};
    code_mappings *m = calloc(n, sizeof(*m));
    size_t most = 0;
    for (size_t i = 0; m && i < n; i++) {
        if (list_code(pids[i], &m[i]) != 0)
            f.failed++;
        most = m[i].pages > most ? m[i].pages : most;
    }
    uint64_t *entries = malloc((most + 1) * sizeof(*entries));
    char stat[1024];
    double cpu = 0;
    for (int r = 0; m && entries && r < WARMUP + rounds; r++) {
        bench_sleep_s(PERIOD_MS / 1000.0); /* out of every cache, as a pass's questions are */
        double t0 = bench_thread_cpu_s();
        for (size_t i = 0; i < n; i++) {
            if (pread(m[i].stat_fd, stat, sizeof(stat), 0) <= 0)
                f.failed++;
            for (size_t k = 0; k < m[i].count; k++) {
                size_t len = (size_t)((m[i].end[k] - m[i].start[k]) / 4096) * sizeof(*entries);
                if (pread(m[i].pagemap_fd, entries, len, (off_t)(m[i].start[k] / 4096 * sizeof(*entries))) !=
                    (ssize_t)len)
                    f.failed++;
            }
        }
        if (r >= WARMUP)
            cpu += bench_thread_cpu_s() - t0;
    }
    for (size_t i = 0; m && i < n; i++) {
        if (m[i].stat_fd >= 0)
            close(m[i].stat_fd);
        if (m[i].pagemap_fd >= 0)
            close(m[i].pagemap_fd);
    }
    if (!m || !entries)
        f.failed++;
    free(entries);
    free(m);
    f.cpu_ms = cpu * 1e3 / rounds;
    return f;
}

/* The period of the checkers left to themselves (periodic). */
#define PERIODIC_MS 1000

static double process_cpu_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
        return 0.0;
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/*
 * Watches pids[0..n) with the checkers making their passes by themselves,
 * a period apart, sharing a cache; on one runner or a thread each. Per
 * period over `periods` (after WARMUP): the process's CPU time (cpu_ms),
 * the bytes hashed, and the passes made.
 */
static figures periodic(const pid_t *pids, size_t n, bool one_thread, int periods)
{
    figures f = {0};
    procsum_options o;
    procsum_options_init(&o);
    o.check_period_ms = PERIODIC_MS;
    o.low_priority = false; /* as above: every pass within its period on a busy machine */
    procsum_digest_cache *cache = NULL;
    procsum_runner *runner = NULL;
    procsum_checker **c = calloc(n, sizeof(*c));
    if (!c || procsum_digest_cache_new(&o, &cache) != 0 || (one_thread && procsum_runner_new(&o, &runner) != 0)) {
        f.failed = 1;
        goto out;
    }
    o.digest_cache = cache;
    o.runner = runner;
    for (size_t i = 0; i < n; i++) {
        o.pid = pids[i];
        if (procsum_start(&o, NULL, NULL, &c[i]) != 0)
            f.failed++;
    }
    bench_sleep_s(WARMUP * PERIODIC_MS / 1000.0);
    uint64_t bytes = 0, passes = 0, quiet = 0;
    procsum_stats st;
    for (size_t i = 0; i < n; i++)
        if (c[i] && procsum_get_stats(c[i], &st) == 0) {
            bytes -= st.bytes_hashed;
            passes -= st.passes;
            quiet -= st.quiet_passes;
        }
    double cpu = process_cpu_ms();
    bench_sleep_s(periods * PERIODIC_MS / 1000.0);
    cpu = process_cpu_ms() - cpu;
    for (size_t i = 0; i < n; i++)
        if (c[i] && procsum_get_stats(c[i], &st) == 0) {
            bytes += st.bytes_hashed;
            passes += st.passes;
            quiet += st.quiet_passes;
        }
    f.cpu_ms = cpu / periods;
    f.quiet = (double)quiet / periods;
    f.bytes = (double)bytes / periods;
    f.passes = (double)passes / periods;
out:
    for (size_t i = 0; c && i < n; i++)
        procsum_stop(c[i]);
    free(c);
    if (procsum_runner_free(runner) != 0)
        f.failed++;
    procsum_digest_cache_free(cache);
    return f;
}

static void print_periodic(const char *what, size_t processes, const figures *f, const figures *two)
{
    printf("| %-34s | %9zu | %8.1f | %8.1f | %10.2f | %8.2f | %8.2f |%s\n", what, processes, f->passes, f->quiet,
           f->bytes / BENCH_MIB, f->cpu_ms, two->cpu_ms > 0 ? f->cpu_ms / two->cpu_ms : 0.0,
           f->failed ? " (some failed)" : "");
}

static void print_row(const char *what, size_t processes, const figures *f, const figures *one)
{
    printf("| %-34s | %9zu | %10.2f | %12.0f | %8.2f | %7.2f | %8.2f |%s\n", what, processes, f->bytes / BENCH_MIB,
           f->shared_pages, f->cpu_ms, f->round_s, one->bytes > 0 ? f->bytes / one->bytes : 0.0,
           f->failed ? " (some failed)" : "");
}

int main(int argc, char **argv)
{
    size_t copies = argc > 1 ? (size_t)atoi(argv[1]) : 20;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (copies < 5 || copies > MAX_COPIES || rounds < 1) {
        fprintf(stderr, "usage: bench_watch [COPIES (5-%d) [ROUNDS (1 or more)]]\n", MAX_COPIES);
        return 2;
    }
    pid_t pids[2 * MAX_COPIES];
    size_t n = 2 * copies;
    if (bench_start_sleepers(copies, pids) != 0)
        return 1;
    bench_sleep_s(5.0); /* every interpreter started (through a version manager's shim, maybe) and imported */
    /* pids alternate: sleep, python3, sleep, ... so the first k hold k/2 of each. */
    /* Without the cache first: every process is read whole a few times before the figures that share. */
    figures each = watch(pids, n, false, false, rounds);
    figures one = watch(pids, 2, true, false, rounds);
    figures first = watch(pids, 1, true, false, rounds);
    figures ten = watch(pids, 10, true, false, rounds);
    figures all = watch(pids, n, true, false, rounds);
    figures kept = watch(pids, n, true, true, rounds);
    /* Each case in turn with its counterpart, so that a drift of the machine's speed touches both. */
    figures threads_two = periodic(pids, 2, false, rounds), runner_two = periodic(pids, 2, true, rounds);
    figures threads_all = periodic(pids, n, false, rounds), runner_all = periodic(pids, n, true, rounds);
    figures kernel_two = kernel_part(pids, 2, rounds), kernel_all = kernel_part(pids, n, rounds);
    bench_stop_sleepers(pids, n);
    printf("| %-34s | %9s | %10s | %12s | %8s | %7s | %8s |\n", "watched, per pass", "processes", "MiB hashed",
           "pages shared", "CPU ms", "round s", "x one");
    printf("|%.36s|%.11s|%.12s|%.14s|%.10s|%.9s|%.10s|\n", "------------------------------------", "-----------",
           "------------", "--------------", "----------", "---------", "----------");
    print_row("one sleep, shared cache", 1, &first, &one);
    print_row("one sleep and one python3, cache", 2, &one, &one);
    print_row("5 of each, shared cache", 10, &ten, &one);
    print_row("all, shared cache", n, &all, &one);
    print_row("all, no cache (a checker each)", n, &each, &one);
    print_row("all, cache keeping its digests", n, &kept, &one);
    printf("\nCPU per pass, shared cache: %.2f ms for 2 processes, %.2f ms for %zu: %.2f times, %.1f us for each "
           "process beyond 2; unique code read per pass %.2f MiB\n",
           one.cpu_ms, all.cpu_ms, n, one.cpu_ms > 0 ? all.cpu_ms / one.cpu_ms : 0.0,
           (all.cpu_ms - one.cpu_ms) * 1000.0 / (double)(n - 2), one.bytes / BENCH_MIB);
    printf("With the cache keeping its digests (no shared page hashed again): %.1f us a pass for each process\n",
           kept.cpu_ms * 1000.0 / (double)n);
    printf("\n| %-34s | %9s | %8s | %8s | %10s | %8s | %8s |\n", "left to themselves, per period (1 s)",
           "processes", "passes", "quiet", "MiB hashed", "CPU ms", "x two");
    printf("|%.36s|%.11s|%.10s|%.10s|%.12s|%.10s|%.10s|\n", "------------------------------------", "-----------",
           "----------", "----------", "------------", "----------", "----------");
    print_periodic("a thread each", 2, &threads_two, &threads_two);
    print_periodic("a thread each", n, &threads_all, &threads_two);
    print_periodic("one runner (procsum watch)", 2, &runner_two, &runner_two);
    print_periodic("one runner (procsum watch)", n, &runner_all, &runner_two);
    printf("\nEach process beyond 2, CPU a period: %.1f us with a thread each, %.1f us on one runner\n",
           (threads_all.cpu_ms - threads_two.cpu_ms) * 1000.0 / (double)(n - 2),
           (runner_all.cpu_ms - runner_two.cpu_ms) * 1000.0 / (double)(n - 2));
    double beyond_kernel = (kernel_all.cpu_ms - kernel_two.cpu_ms) * 1000.0 / (double)(n - 2);
    double beyond_pass = (all.cpu_ms - one.cpu_ms) * 1000.0 / (double)(n - 2);
    double beyond_runner = (runner_all.cpu_ms - runner_two.cpu_ms) * 1000.0 / (double)(n - 2);
    printf("\nThe kernel's part alone (each process's stat line and the page-table entries of its executable "
           "mappings, a period apart), CPU per pass: %.2f ms for 2 processes, %.2f ms for %zu: %.1f us for each "
           "process beyond 2; a pass of procsum's asked for (above) adds %.1f us, %.2f times the kernel's part; "
           "on one runner (procsum watch's way) %.1f us, %.2f times\n",
           kernel_two.cpu_ms, kernel_all.cpu_ms, n, beyond_kernel, beyond_pass,
           beyond_kernel > 0 ? beyond_pass / beyond_kernel : 0.0, beyond_runner,
           beyond_kernel > 0 ? beyond_runner / beyond_kernel : 0.0);
    return kernel_two.failed || kernel_all.failed || one.failed || first.failed || ten.failed || all.failed || each.failed || kept.failed || threads_two.failed ||
                   runner_two.failed || threads_all.failed || runner_all.failed
               ? 1
               : 0;
}
