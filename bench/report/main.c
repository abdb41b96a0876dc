/*
 * bench_report_memory: what the first report costs a process in resident
 * memory. A checker runs over this process; one bit of a function here is
 * flipped; RssFile and RssAnon (/proc/self/status) are read once the
 * checker has settled and again after it reported the flip. The growth is
 * what describing the change (the function's name from the file's symbol
 * table, its instructions decoded) brought in: the decoder's code and
 * tables, read from their files on first use and shared with every process
 * that maps them, and the symbol table kept for the next report.
 *
 * usage: bench_report_memory [--period MS]
 */
#include <procsum.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static atomic_int reports;

static void on_change(const procsum_mismatch *m, void *userdata)
{
    (void)m;
    (void)userdata;
    atomic_fetch_add(&reports, 1);
}

/* The function whose code is flipped; never called. */
int bench_report_victim(int x);
__attribute__((noinline, used)) int bench_report_victim(int x)
{
    return x * 7 + 3;
}

struct rss {
    long file_kb, anon_kb;
};

static int read_rss(struct rss *r)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    r->file_kb = r->anon_kb = -1;
    while (fgets(line, sizeof(line), f)) {
        long v;
        if (sscanf(line, "RssFile: %ld kB", &v) == 1)
            r->file_kb = v;
        else if (sscanf(line, "RssAnon: %ld kB", &v) == 1)
            r->anon_kb = v;
    }
    fclose(f);
    return r->file_kb >= 0 && r->anon_kb >= 0 ? 0 : -1;
}

static void sleep_ms(long ms)
{
    struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0)
        ;
}

/* Flips the lowest bit of the function's second byte, through a writable mapping of its page. */
static int flip_victim(void)
{
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t at = (uintptr_t)&bench_report_victim + 1;
    void *start = (void *)(at & ~(uintptr_t)(page - 1));
    if (mprotect(start, (size_t)page, PROT_READ | PROT_WRITE | PROT_EXEC) != 0)
        return -1;
    *(volatile uint8_t *)at ^= 1;
    return mprotect(start, (size_t)page, PROT_READ | PROT_EXEC);
}

int main(int argc, char **argv)
{
    unsigned period = 50;
    if (argc == 3 && strcmp(argv[1], "--period") == 0)
        period = (unsigned)strtoul(argv[2], NULL, 10);
    else if (argc != 1) {
        fprintf(stderr, "usage: %s [--period MS]\n", argv[0]);
        return 2;
    }
    procsum_options o;
    procsum_options_init(&o);
    o.check_period_ms = period ? period : 50;
    procsum_checker *c;
    int err = procsum_start(&o, on_change, NULL, &c);
    if (err) {
        fprintf(stderr, "procsum_start: %s\n", procsum_strerror(err));
        return 1;
    }
    sleep_ms(10L * o.check_period_ms);
    struct rss before, after;
    if (read_rss(&before) != 0 || flip_victim() != 0) {
        perror("bench_report_memory");
        procsum_stop(c);
        return 1;
    }
    for (int i = 0; i < 200 && atomic_load(&reports) == 0; i++)
        sleep_ms(o.check_period_ms);
    sleep_ms(4L * o.check_period_ms);
    int seen = atomic_load(&reports);
    if (read_rss(&after) != 0) {
        perror("bench_report_memory");
        procsum_stop(c);
        return 1;
    }
    procsum_stop(c);
    if (!seen) {
        fprintf(stderr, "bench_report_memory: the flip was not reported\n");
        return 1;
    }
    printf("first report, resident memory growth: RssFile %+ld KiB (%ld -> %ld), RssAnon %+ld KiB (%ld -> %ld)\n",
           after.file_kb - before.file_kb, before.file_kb, after.file_kb, after.anon_kb - before.anon_kb,
           before.anon_kb, after.anon_kb);
    return 0;
}
