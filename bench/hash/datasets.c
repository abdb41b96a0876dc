/*
 * The data sets: random buffers, and this process's own executable regions
 * read in place; each also as a tmpfs file for the command-line tools.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hash_bench.h"

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

const char *datasets_tmp_dir(void)
{
    if (access("/dev/shm", W_OK) == 0)
        return "/dev/shm";
    const char *t = getenv("TMPDIR");
    return t ? t : "/tmp";
}

/* The data set's bytes in a tmpfs file, for the command-line tools. */
static void write_dataset_file(dataset *d)
{
    snprintf(d->file, sizeof d->file, "%s/procsum-bench-%s-XXXXXX", datasets_tmp_dir(), d->name);
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

/*
 * The code this process has in memory once the big libraries are loaded:
 * one span per run of resident pages of every readable executable region.
 * Residency is asked here, once, so that no timing includes it.
 */
static void resident_dataset(dataset *d, int reps)
{
    for (int i = 0; i < BENCH_N_LIBS; i++)
        if (!dlopen(BENCH_LIBS[i].path, RTLD_LAZY | RTLD_LOCAL))
            fprintf(stderr, "note: %s left out (Debian package %s): %s\n", BENCH_LIBS[i].name,
                    BENCH_LIBS[i].package, dlerror());
    psum_os_target *t;
    psum_os_region_list list = {0};
    if (psum_os_target_open(0, &t) || psum_os_list_regions(t, &list)) {
        fprintf(stderr, "cannot list this process's regions\n");
        exit(1);
    }
    size_t cap = 1024;
    d->name = "resident";
    d->title = "resident code";
    d->spans = malloc(cap * sizeof *d->spans);
    d->reps = reps;
    d->cold = true;
    for (size_t i = 0; i < list.count; i++) {
        const psum_os_region *r = &list.items[i];
        if (!(r->prot & PSUM_PROT_R) || !(r->prot & PSUM_PROT_X) || (r->prot & PSUM_PROT_W))
            continue;
        size_t n = (r->end - r->start) / PROCSUM_PAGE_SIZE;
        bool *in = malloc(n ? n : 1);
        if (!in || psum_os_resident(t, r->start, n, in) != 0) {
            fprintf(stderr, "cannot ask residency\n");
            exit(1);
        }
        for (size_t k = 0; k < n;) {
            if (!in[k]) {
                k++;
                continue;
            }
            size_t j = k;
            while (j < n && in[j])
                j++;
            if (d->nspans == cap) {
                cap *= 2;
                d->spans = realloc(d->spans, cap * sizeof *d->spans);
                if (!d->spans) {
                    perror("realloc");
                    exit(1);
                }
            }
            d->spans[d->nspans].p = (const uint8_t *)(r->start + k * PROCSUM_PAGE_SIZE);
            d->spans[d->nspans].len = (j - k) * PROCSUM_PAGE_SIZE;
            d->bytes += (j - k) * PROCSUM_PAGE_SIZE;
            d->nspans++;
            k = j;
        }
        free(in);
    }
    psum_os_region_list_free(&list);
    psum_os_target_close(t);
    write_dataset_file(d);
}

void datasets_make(dataset sets[N_SETS], int reps, bool big)
{
    memset(sets, 0, N_SETS * sizeof(*sets));
    buffer_dataset(&sets[0], "16MiB", "16 MiB", 16u << 20, reps);
    if (big)
        buffer_dataset(&sets[1], "1GiB", "1 GiB", 1u << 30, reps > 3 ? 3 : reps);
    regions_dataset(&sets[2], reps);
    resident_dataset(&sets[SET_RESIDENT], reps);
}

void datasets_remove_files(const dataset sets[N_SETS])
{
    for (int i = 0; i < N_SETS; i++)
        if (sets[i].spans)
            unlink(sets[i].file);
}
