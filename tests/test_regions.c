/* Discovery and the benchmark pass, on this live process. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "procsum.h"

#define PAGE ((size_t)PROCSUM_PAGE_SIZE)

static procsum_benchmark_result bench(bool skip_libs, bool writable, procsum_algorithm algo)
{
    procsum_options o;
    procsum_options_init(&o);
    o.include_nonresident = true;
    o.skip_libs = skip_libs;
    o.include_writable_code = writable;
    o.algorithm = algo;
    procsum_benchmark_result r;
    int err = procsum_benchmark(&o, &r);
    cr_assert_eq(err, 0, "procsum_benchmark: %s", procsum_strerror(err));
    return r;
}

static const procsum_region *containing(const procsum_benchmark_result *r, uintptr_t addr)
{
    for (size_t i = 0; i < r->region_count; i++)
        if (r->regions[i].start <= addr && addr < r->regions[i].end)
            return &r->regions[i];
    return NULL;
}

static uint64_t total_bytes(const procsum_benchmark_result *r)
{
    uint64_t n = 0;
    for (size_t i = 0; i < r->region_count; i++)
        n += r->regions[i].end - r->regions[i].start;
    return n;
}

Test(regions, benchmark_lists_libc_and_reads_what_it_lists)
{
    procsum_benchmark_result r = bench(false, false, PROCSUM_ALGO_BLAKE3);
    const procsum_region *libc = containing(&r, (uintptr_t)&gnu_get_libc_version);
    cr_assert_not_null(libc, "libc's code must lie in a listed region");
    cr_expect(strstr(libc->source, "libc.so") != NULL, "gnu_get_libc_version is in %s", libc->source);
    cr_expect_eq(libc->kind, PROCSUM_REGION_FILE);
    cr_expect_not(libc->main_executable);
    cr_assert_gt(r.hashed_bytes, 0);
    cr_assert_leq(r.hashed_bytes, total_bytes(&r), "never more than the regions hold");
    cr_assert_eq(r.hashed_bytes, total_bytes(&r), "nothing was unmapped, so every listed byte was read");
    cr_assert_gt(r.hash_ns, 0);
    for (size_t i = 0; i < r.region_count; i++) {
        const procsum_region *g = &r.regions[i];
        cr_assert_lt(g->start, g->end);
        cr_assert_eq(g->start % PAGE, 0);
        cr_assert_eq(g->end % PAGE, 0);
        cr_assert(i == 0 || r.regions[i - 1].end <= g->start, "sorted and disjoint");
        cr_assert_not(g->writable);
        uint8_t zero[PROCSUM_MAX_DIGEST] = {0};
        cr_assert(g->digest_valid);
        cr_assert_neq(memcmp(g->digest, zero, 32), 0, "each region carries its digest");
    }
    procsum_benchmark_result_free(&r);
    cr_assert_eq(r.regions, NULL);
}

Test(regions, main_executable_found_by_identity)
{
    procsum_benchmark_result r = bench(false, false, PROCSUM_ALGO_CRC64);
    const procsum_region *exe = containing(&r, (uintptr_t)&total_bytes);
    cr_assert_not_null(exe);
    cr_expect(exe->main_executable);
    char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    cr_assert_gt(n, 0);
    path[n] = '\0';
    cr_expect_str_eq(exe->source, path);
    procsum_benchmark_result_free(&r);
}

Test(regions, skip_libs_leaves_only_the_executable)
{
    procsum_benchmark_result all = bench(false, false, PROCSUM_ALGO_XXH3);
    procsum_benchmark_result r = bench(true, false, PROCSUM_ALGO_XXH3);
    cr_assert_gt(r.region_count, 0);
    cr_assert_lt(r.region_count, all.region_count);
    for (size_t i = 0; i < r.region_count; i++)
        cr_expect(r.regions[i].main_executable, "%s is not the executable", r.regions[i].source);
    cr_assert_null(containing(&r, (uintptr_t)&gnu_get_libc_version));
    cr_assert_lt(r.hashed_bytes, all.hashed_bytes);
    procsum_benchmark_result_free(&r);
    procsum_benchmark_result_free(&all);
}

/* The patterns of skip_files: the files they match are not listed, hashed or checked, by a pass or a checker. */
Test(regions, skip_files_leaves_out_what_matches)
{
    procsum_benchmark_result all = bench(false, false, PROCSUM_ALGO_XXH3);
    const procsum_region *libc = containing(&all, (uintptr_t)&gnu_get_libc_version);
    cr_assert_not_null(libc);
    procsum_options o;
    procsum_options_init(&o);
    o.include_nonresident = true;
    o.algorithm = PROCSUM_ALGO_XXH3;
    const char *skip[] = {"/nowhere/*", "*/libc.so*", NULL};
    o.skip_files = skip;
    procsum_benchmark_result r;
    cr_assert_eq(procsum_benchmark(&o, &r), 0);
    cr_assert_null(containing(&r, (uintptr_t)&gnu_get_libc_version), "libc is left out");
    cr_assert_not_null(containing(&r, (uintptr_t)&total_bytes), "the executable is still listed");
    cr_assert_lt(r.hashed_bytes, all.hashed_bytes);
    for (size_t i = 0; i < r.region_count; i++)
        cr_expect_null(strstr(r.regions[i].source, "/libc.so"), "%s is listed", r.regions[i].source);
    procsum_benchmark_result_free(&r);

    /* A checker keeps its own copy: the caller's list may go at once. */
    char **list = calloc(2, sizeof(*list));
    cr_assert_not_null(list);
    list[0] = strdup(libc->source);
    o.skip_files = (const char *const *)list;
    procsum_checker *c;
    cr_assert_eq(procsum_start(&o, NULL, NULL, &c), 0);
    free(list[0]);
    free(list);
    o.skip_files = NULL;
    procsum_checker *every;
    cr_assert_eq(procsum_start(&o, NULL, NULL, &every), 0);
    cr_assert_eq(procsum_check_now(c), 0);
    cr_assert_eq(procsum_check_now(every), 0);
    procsum_stats with, without;
    cr_assert_eq(procsum_get_stats(c, &with), 0);
    cr_assert_eq(procsum_get_stats(every, &without), 0);
    cr_assert_lt(with.regions, without.regions, "libc's regions are not hashed");
    cr_assert_lt(with.pages_tracked, without.pages_tracked);
    /* A bit of libc's code flipped (strfry: nothing here calls it): reported only where libc is not skipped. */
    extern char *strfry(char *);
    uintptr_t addr = (uintptr_t)&strfry + 2;
    uintptr_t page = addr & ~(uintptr_t)(PAGE - 1);
    cr_assert_eq(mprotect((void *)page, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC), 0);
    *(volatile uint8_t *)addr ^= 0x20;
    cr_assert_eq(mprotect((void *)page, PAGE, PROT_READ | PROT_EXEC), 0);
    cr_assert_eq(procsum_check_now(every), 1, "the change in libc is found without skip_files");
    cr_assert_eq(procsum_check_now(c), 0, "and not reported where libc is skipped");
    cr_assert_eq(procsum_mismatch_count(c), procsum_mismatch_count(every) - 1);
    cr_assert_eq(mprotect((void *)page, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC), 0);
    *(volatile uint8_t *)addr ^= 0x20;
    cr_assert_eq(mprotect((void *)page, PAGE, PROT_READ | PROT_EXEC), 0);
    cr_assert_eq(procsum_stop(c), 0);
    cr_assert_eq(procsum_stop(every), 0);

    /* An empty pattern matches nothing a process maps: refused. */
    const char *empty[] = {"", NULL};
    o.skip_files = empty;
    cr_assert_eq(procsum_benchmark(&o, &r), PROCSUM_EINVAL);
    procsum_benchmark_result_free(&all);
}

Test(regions, vdso_is_listed)
{
    procsum_benchmark_result r = bench(false, false, PROCSUM_ALGO_BLAKE3);
    bool found = false;
    for (size_t i = 0; i < r.region_count; i++)
        if (r.regions[i].kind == PROCSUM_REGION_VDSO)
            found = strcmp(r.regions[i].source, "[vdso]") == 0;
    cr_expect(found);
    procsum_benchmark_result_free(&r);
}

Test(regions, anonymous_rx_mapping_is_listed_and_harmless)
{
    uint8_t *p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(p, MAP_FAILED);
    memset(p, 0xcc, 4 * PAGE);
    cr_assert_eq(mprotect(p, 4 * PAGE, PROT_READ | PROT_EXEC), 0);
    procsum_benchmark_result r = bench(false, false, PROCSUM_ALGO_BLAKE3);
    const procsum_region *g = containing(&r, (uintptr_t)p);
    cr_assert_not_null(g);
    cr_expect_eq(g->kind, PROCSUM_REGION_ANON);
    cr_expect_str_eq(g->source, "[anon]");
    procsum_benchmark_result_free(&r);
    cr_assert_eq(munmap(p, 4 * PAGE), 0);
}

Test(regions, execute_only_memory_is_never_read)
{
    uint8_t *p = mmap(NULL, 2 * PAGE, PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(p, MAP_FAILED);
    procsum_benchmark_result r = bench(false, true, PROCSUM_ALGO_BLAKE3);
    cr_assert_null(containing(&r, (uintptr_t)p), "--x memory cannot be read and must not be listed");
    procsum_benchmark_result_free(&r);
    munmap(p, 2 * PAGE);
}

Test(regions, writable_code_only_when_asked)
{
    uint8_t *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(p, MAP_FAILED);
    p[0] = 0xc3;
    procsum_benchmark_result without = bench(false, false, PROCSUM_ALGO_BLAKE3);
    cr_assert_null(containing(&without, (uintptr_t)p));
    procsum_benchmark_result with = bench(false, true, PROCSUM_ALGO_BLAKE3);
    const procsum_region *g = containing(&with, (uintptr_t)p);
    cr_assert_not_null(g);
    cr_expect(g->writable);
    procsum_benchmark_result_free(&without);
    procsum_benchmark_result_free(&with);
    munmap(p, 2 * PAGE);
}

Test(regions, deleted_file_is_flagged)
{
    char path[] = "/tmp/procsum-deleted-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    uint8_t page[PROCSUM_PAGE_SIZE];
    memset(page, 0xc3, sizeof(page));
    cr_assert_eq(write(fd, page, sizeof(page)), (ssize_t)sizeof(page));
    void *p = mmap(NULL, PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED)
        cr_skip_test("cannot map /tmp executable here (noexec mount)");
    close(fd);
    unlink(path);
    procsum_benchmark_result r = bench(false, false, PROCSUM_ALGO_BLAKE3);
    const procsum_region *g = containing(&r, (uintptr_t)p);
    cr_assert_not_null(g);
    cr_expect(g->file_deleted);
    cr_expect_str_eq(g->source, path, "the path without the \" (deleted)\" mark");
    procsum_benchmark_result_free(&r);
    munmap(p, PAGE);
}

static procsum_benchmark_result bench_keyed(procsum_algorithm algo)
{
    procsum_options o;
    procsum_options_init(&o);
    o.skip_libs = true;
    o.keyed_digests = true;
    o.include_nonresident = true;
    o.algorithm = algo;
    procsum_benchmark_result r;
    cr_assert_eq(procsum_benchmark(&o, &r), 0);
    return r;
}

/* Keyed digests: unlike plain ones, and drawn afresh for every checker. */
static void keyed_digests_unpredictable(procsum_algorithm algo)
{
    procsum_benchmark_result plain = bench(true, false, algo);
    procsum_benchmark_result k1 = bench_keyed(algo), k2 = bench_keyed(algo);
    cr_assert_eq(plain.region_count, k1.region_count);
    cr_assert_gt(plain.region_count, 0);
    size_t n = procsum_digest_len(algo);
    for (size_t i = 0; i < plain.region_count; i++) {
        cr_assert_eq(plain.regions[i].start, k1.regions[i].start);
        cr_expect_neq(memcmp(plain.regions[i].digest, k1.regions[i].digest, n), 0);
        cr_expect_neq(memcmp(k1.regions[i].digest, k2.regions[i].digest, n), 0);
    }
    procsum_benchmark_result_free(&plain);
    procsum_benchmark_result_free(&k1);
    procsum_benchmark_result_free(&k2);
}

Test(regions, keyed_blake3_is_unpredictable) { keyed_digests_unpredictable(PROCSUM_ALGO_BLAKE3); }
Test(regions, keyed_xxh3_is_unpredictable) { keyed_digests_unpredictable(PROCSUM_ALGO_XXH3); }

/* Resident set size of this process, from /proc/self/statm. */
static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    cr_assert_not_null(f);
    unsigned long size = 0, resident = 0;
    cr_assert_eq(fscanf(f, "%lu %lu", &size, &resident), 2);
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

/*
 * Code the process never ran is not loaded by checking it: map 64 MiB of a
 * file as code, untouched and out of the page cache, and compare resident
 * memory and bytes read with residency on (the default) and off.
 */
Test(regions, pages_not_in_memory_are_not_read)
{
    const size_t size = 64u << 20;
    char path[] = "/var/tmp/procsum-cold-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    static uint8_t block[1 << 20];
    memset(block, 0xc3, sizeof(block));
    for (size_t done = 0; done < size; done += sizeof(block))
        cr_assert_eq(write(fd, block, sizeof(block)), (ssize_t)sizeof(block));
    cr_assert_eq(fsync(fd), 0);
    cr_assert_eq(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
    uint8_t *code = mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
    if (code == MAP_FAILED)
        cr_skip_test("cannot map /var/tmp executable here (noexec mount)");
    close(fd);
    unlink(path);
    unsigned char probe[1];
    cr_assert_eq(mincore(code + size / 2, 4096, probe), 0);
    if (probe[0] & 1)
        cr_skip_test("the file system kept the file cached; residency cannot be shown here");

    /* One page in memory: the region has a hole in its first slice and cold slices after it. */
    (void)*(volatile uint8_t *)code;
    procsum_options o;
    procsum_options_init(&o);
    size_t before = rss_bytes();
    procsum_benchmark_result r;
    cr_assert_eq(procsum_benchmark(&o, &r), 0);
    size_t grown = rss_bytes() - before;
    const procsum_region *g = containing(&r, (uintptr_t)code);
    cr_assert_not_null(g, "the cold region is listed");
    cr_expect_not(g->digest_valid, "it was not read, so it has no digest");
    cr_expect_lt(r.hashed_bytes, total_bytes(&r) - size / 2, "the cold pages were not read");
    cr_expect_lt(grown, size / 16, "resident memory grew by %zu bytes", grown);
    procsum_benchmark_result_free(&r);

    /* The reference: reading everything loads the whole file. */
    o.include_nonresident = true;
    before = rss_bytes();
    cr_assert_eq(procsum_benchmark(&o, &r), 0);
    grown = rss_bytes() - before;
    cr_expect_geq(r.hashed_bytes, size);
    cr_expect_gt(grown, size / 2, "reading everything faults the file in (grew %zu)", grown);
    procsum_benchmark_result_free(&r);
    munmap(code, size);
}
