/*
 * Helpers the Criterion test programs share: reproducible filler bytes,
 * waiting for a running checker's passes, telling Criterion's own patch
 * of the test process from any other finding, and which files it maps.
 */
#ifndef PSUM_TEST_UTIL_H
#define PSUM_TEST_UTIL_H

#include <criterion/criterion.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "procsum.h"

/* len bytes (at least one allocated) from xorshift64 seeded by seed: the same bytes for the same seed. */
static inline uint8_t *test_random_bytes(size_t len, uint64_t seed)
{
    uint8_t *buf = malloc(len ? len : 1);
    cr_assert_not_null(buf);
    uint64_t x = seed * 0x9E3779B97F4A7C15u + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (uint8_t)(x >> 24);
    }
    return buf;
}

/* Whether a file whose name starts with `name` is mapped in this process. */
static inline bool test_mapped(const char *name)
{
    FILE *f = fopen("/proc/self/maps", "r");
    cr_assert_not_null(f);
    char line[PATH_MAX + 128];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f)) {
        const char *base = strrchr(line, '/');
        found = base && strncmp(base + 1, name, strlen(name)) == 0;
    }
    fclose(f);
    return found;
}

/* Passes the checker has completed. */
static inline uint64_t test_passes(procsum_checker *c)
{
    procsum_stats s;
    cr_assert_eq(procsum_get_stats(c, &s), 0);
    return s.passes;
}

/* Waits, boundedly (a minute), until the checker has completed n more passes. */
static inline void test_wait_passes(procsum_checker *c, uint64_t n)
{
    uint64_t target = test_passes(c) + n;
    for (int i = 0; i < 60000 && test_passes(c) < target; i++)
        usleep(1000);
    cr_assert_geq(test_passes(c), target, "the checker stopped making passes");
}

/* Flips one bit of the code byte at addr, its page writable only for the write, as a patch would be made. */
static inline void test_flip_code(uintptr_t addr, int bit)
{
    uintptr_t page = addr & ~((uintptr_t)PROCSUM_PAGE_SIZE - 1);
    cr_assert_eq(mprotect((void *)page, PROCSUM_PAGE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC), 0);
    *(volatile uint8_t *)addr ^= (uint8_t)(1u << bit);
    cr_assert_eq(mprotect((void *)page, PROCSUM_PAGE_SIZE, PROT_READ | PROT_EXEC), 0);
}

static inline uint64_t test_monotonic_ns(void)
{
    struct timespec ts;
    cr_assert_eq(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The nice value of thread tid of this process (0: the calling thread), from /proc. */
static inline int test_thread_nice(long tid)
{
    char path[64];
    if (tid == 0)
        snprintf(path, sizeof(path), "/proc/thread-self/stat");
    else
        snprintf(path, sizeof(path), "/proc/self/task/%ld/stat", tid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    char buf[1024];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* After the name in parentheses (which may hold anything): field 3 onwards; nice is field 19. */
    const char *p = strrchr(buf, ')');
    cr_assert_not_null(p);
    p++;
    for (int field = 3; field < 19; field++) { /* from the space before field 3 to the one before 19 */
        p = strchr(p + 1, ' ');
        cr_assert_not_null(p);
    }
    return atoi(p + 1);
}

/*
 * Criterion's sandbox (BoxFort) starts every test process by writing a jump
 * over the first bytes of main (tests/criterion_main.c), so that the page
 * holding main truly differs from the program's file: with verify_file, a
 * checker started in a test process reports it once, as
 * PROCSUM_REPORT_DIFFERS_FROM_FILE. This tells that report from any other:
 * one page, main's, whose changed bytes lie within the jump's 16 bytes.
 */
int main(int argc, char *argv[]);
static inline bool test_is_sandbox_patch(const procsum_mismatch *m)
{
    uintptr_t entry = (uintptr_t)&main;
    if (m->kind != PROCSUM_REPORT_DIFFERS_FROM_FILE || !m->region->main_executable || m->changed_pages != 1)
        return false;
    const procsum_page_change *pc = &m->page_changes[0];
    if (pc->addr != (entry & ~(uintptr_t)(PROCSUM_PAGE_SIZE - 1)) || pc->file_status != PROCSUM_FILE_COMPARED ||
        pc->total_runs != 1)
        return false;
    const procsum_byte_run *run = &pc->runs[0];
    return run->addr >= entry && run->addr + run->len <= entry + 16;
}

#endif
