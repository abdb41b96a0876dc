/*
 * Exact reports: the bytes and bits of a change, against the file the code
 * was mapped from; pages that differ from their file from the start; repair.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "procsum.h"
#include "test_util.h"

#define PAGE ((uintptr_t)PROCSUM_PAGE_SIZE)

typedef struct seen {
    procsum_report_kind kind;
    procsum_page_change page;
    char source[512];
    uintptr_t region_start;
} seen;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static seen reports[8];
static atomic_int count;
static uintptr_t watched_page; /* reports about this page are kept */
static atomic_int elsewhere;   /* pages reported but that one and the sandbox's jump over main: always wrong */

static void record(const procsum_mismatch *m, void *userdata)
{
    (void)userdata;
    if (test_is_sandbox_patch(m))
        return;
    for (size_t i = 0; i < m->changed_pages; i++) {
        if (m->changed_page_addrs[i] != watched_page) {
            atomic_fetch_add(&elsewhere, 1);
            continue;
        }
        pthread_mutex_lock(&lock);
        int n = atomic_load(&count);
        if (n < 8) {
            reports[n].kind = m->kind;
            reports[n].page = m->page_changes[i];
            reports[n].region_start = m->region->start;
            snprintf(reports[n].source, sizeof(reports[n].source), "%s", m->region->source);
        }
        atomic_store(&count, n + 1);
        pthread_mutex_unlock(&lock);
    }
}

static void write_code(uintptr_t addr, const uint8_t *bytes, size_t n)
{
    uintptr_t page = addr & ~(PAGE - 1);
    cr_assert_eq(mprotect((void *)page, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC), 0);
    memcpy((void *)addr, bytes, n);
    cr_assert_eq(mprotect((void *)page, PAGE, PROT_READ | PROT_EXEC), 0);
}

static procsum_checker *start_checker(bool repair)
{
    procsum_options o;
    procsum_options_init(&o);
    o.check_period_ms = 10;
    o.repair = repair;
    procsum_checker *c = NULL;
    int err = procsum_start(&o, record, NULL, &c);
    cr_assert_eq(err, 0, "%s", procsum_strerror(err));
    return c;
}

/* Stops c; nothing but the watched page was reported meanwhile. */
static void stop_checker(procsum_checker *c)
{
    cr_assert_eq(procsum_stop(c), 0);
    cr_assert_eq(atomic_load(&elsewhere), 0, "a page other than the one changed was reported");
}

static void wait_reports(int n)
{
    for (int i = 0; i < 30000 && atomic_load(&count) < n; i++)
        usleep(1000);
    cr_assert_geq(atomic_load(&count), n, "no report about page %#lx", (unsigned long)watched_page);
}

/* libc's executable mapping that holds gnu_get_libc_version, and its file offset. */
static void libc_text(uintptr_t *start, uintptr_t *end, uint64_t *offset)
{
    FILE *f = fopen("/proc/self/maps", "r");
    cr_assert_not_null(f);
    uintptr_t probe = (uintptr_t)&gnu_get_libc_version;
    char line[1024];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f)) {
        unsigned long s, e, off;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s %lx", &s, &e, perms, &off) == 4 && perms[2] == 'x' && s <= probe && probe < e) {
            *start = s;
            *end = e;
            *offset = off;
            found = true;
        }
    }
    fclose(f);
    cr_assert(found);
}

/* Whether this process has the page mapped (pagemap's present bit). */
static bool present(uintptr_t page)
{
    int fd = open("/proc/self/pagemap", O_RDONLY);
    cr_assert_geq(fd, 0);
    uint64_t entry = 0;
    cr_assert_eq(pread(fd, &entry, sizeof(entry), (off_t)(page / PAGE * 8)), (ssize_t)sizeof(entry));
    close(fd);
    return (entry >> 63) & 1;
}

/*
 * One bit of a random page of libc. The page is one this process never had
 * mapped (so it runs none of its code); reading it brings it in, it gets its
 * baseline, then one random bit of it flips.
 */
Test(exact, random_libc_bit_flip_reported_with_offset_and_bit)
{
    uintptr_t start = 0, end = 0;
    uint64_t offset = 0;
    libc_text(&start, &end, &offset);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    size_t pages = (end - start) / PAGE;
    uintptr_t page = 0;
    for (int tries = 0; tries < 1000 && !page; tries++) {
        uintptr_t p = start + (uintptr_t)(rand() % (int)pages) * PAGE;
        if (!present(p))
            page = p;
    }
    if (!page)
        cr_skip_test("every page of libc is mapped in this process already");
    size_t at = (size_t)rand() % PAGE;
    int bit = rand() % 8;
    cr_log_info("flipping bit %d of byte %#zx of libc page %#lx", bit, at, (unsigned long)page);
    (void)*(volatile uint8_t *)page; /* bring it in */
    watched_page = page;

    procsum_checker *c = start_checker(false);
    cr_assert_eq(procsum_check_now(c), 0);
    cr_assert_eq(procsum_check_now(c), 0, "the page has its baseline now");
    uint8_t b = (uint8_t)(*(volatile uint8_t *)(page + at) ^ (1u << bit));
    write_code(page + at, &b, 1);
    wait_reports(1);

    const seen *r = &reports[0];
    cr_expect_eq(r->kind, PROCSUM_REPORT_CHANGED);
    cr_expect(strstr(r->source, "libc.so") != NULL, "%s", r->source);
    cr_expect_eq(r->page.file_status, PROCSUM_FILE_COMPARED);
    cr_expect_eq(r->page.verdict, PROCSUM_VERDICT_BITFLIP, "verdict %s", procsum_verdict_name(r->page.verdict));
    cr_expect_eq(r->page.changed_bits, 1);
    cr_assert_eq(r->page.run_count, 1);
    cr_expect_eq(r->page.runs[0].addr, page + at);
    cr_expect_eq(r->page.runs[0].file_offset, offset + (page - start) + at);
    cr_expect_eq(r->page.runs[0].len, 1);
    cr_expect_eq(r->page.runs[0].xor_mask[0], 1u << bit);
    cr_expect_eq(r->page.runs[0].new_bytes[0], b);
    cr_expect_eq((uint8_t)(r->page.runs[0].old_bytes[0] ^ r->page.runs[0].new_bytes[0]), 1u << bit);

    b ^= (uint8_t)(1u << bit);
    write_code(page + at, &b, 1);
    wait_reports(2);
    cr_expect_eq(reports[1].page.verdict, PROCSUM_VERDICT_RESTORED, "the page equals its file again");
    cr_assert_eq(procsum_check_now(c), 0);
    cr_assert_eq(atomic_load(&count), 2, "one report for the flip, one for the byte put back");
    cr_expect_eq(reports[0].page.cause, PROCSUM_CAUSE_WRITE, "cause %s", procsum_cause_name(reports[0].page.cause));
    stop_checker(c);
}

int exact_victim(int x);
__attribute__((noinline, used)) int exact_victim(int x)
{
    return x * 13 + 7;
}

Test(exact, five_byte_hook_is_a_patch_with_its_bytes)
{
    uintptr_t addr = (uintptr_t)&exact_victim;
    watched_page = addr & ~(PAGE - 1);
    procsum_checker *c = start_checker(false);
    uint8_t old[5], hook[5] = {0xe9, 0x11, 0x22, 0x33, 0x44}; /* jmp rel32 */
    memcpy(old, (void *)addr, 5);
    write_code(addr, hook, 5);
    cr_assert_eq(procsum_check_now(c), 1);
    const seen *r = &reports[0];
    cr_expect_eq(r->page.verdict, PROCSUM_VERDICT_PATCH);
    cr_assert_eq(r->page.run_count, 1);
    cr_expect_eq(r->page.runs[0].addr + r->page.runs[0].len <= addr + 5, true);
    cr_expect_geq(r->page.runs[0].addr, addr);
    size_t skip = r->page.runs[0].addr - addr; /* hook bytes that equal the old ones are not changes */
    cr_expect_arr_eq(r->page.runs[0].new_bytes, hook + skip, r->page.runs[0].len);
    cr_expect_arr_eq(r->page.runs[0].old_bytes, old + skip, r->page.runs[0].len);
    write_code(addr, old, 5);
    stop_checker(c);
}

Test(exact, hook_installed_before_start_is_found_once)
{
    uintptr_t addr = (uintptr_t)&exact_victim + 4;
    watched_page = addr & ~(PAGE - 1);
    uint8_t int3 = 0xcc;
    write_code(addr, &int3, 1); /* a breakpoint, set before the checker exists */
    procsum_checker *c = start_checker(false);
    cr_assert_eq(atomic_load(&count), 1, "reported by the first pass, inside procsum_start");
    cr_expect_eq(reports[0].kind, PROCSUM_REPORT_DIFFERS_FROM_FILE);
    cr_expect_eq(reports[0].page.verdict, PROCSUM_VERDICT_PATCH, "0xcc over code changes several bits");
    cr_expect_eq(reports[0].page.runs[0].addr, addr);
    cr_expect_eq(reports[0].page.runs[0].new_bytes[0], 0xcc);
    cr_assert_eq(procsum_check_now(c), 0);
    cr_assert_eq(procsum_check_now(c), 0);
    cr_assert_eq(atomic_load(&count), 1, "and only once");
    stop_checker(c);
}

/*
 * A reported page made writable for a moment is not read while it is, but
 * its content stays: it keeps the reported baseline. Dropped as if it had
 * left memory, the same content was reported again as differing from the
 * file, and a restore made in that moment was never reported.
 */
Test(exact, a_reported_page_made_writable_for_a_moment_keeps_its_baseline)
{
    uintptr_t addr = (uintptr_t)&exact_victim + 2;
    uintptr_t page = addr & ~(PAGE - 1);
    watched_page = page;
    procsum_checker *c = start_checker(false);
    uint8_t old = *(volatile uint8_t *)addr, flipped = old ^ 0x10;
    write_code(addr, &flipped, 1);
    wait_reports(1);
    cr_expect_eq(reports[0].page.verdict, PROCSUM_VERDICT_BITFLIP);

    cr_assert_eq(mprotect((void *)page, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC), 0);
    cr_assert_geq(procsum_check_now(c), 0);
    cr_assert_eq(mprotect((void *)page, PAGE, PROT_READ | PROT_EXEC), 0);
    cr_assert_geq(procsum_check_now(c), 0);
    cr_assert_geq(procsum_check_now(c), 0);
    cr_assert_eq(atomic_load(&count), 1, "the content already reported is not reported again");

    cr_assert_eq(mprotect((void *)page, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC), 0);
    *(volatile uint8_t *)addr = old;
    cr_assert_geq(procsum_check_now(c), 0);
    cr_assert_eq(mprotect((void *)page, PAGE, PROT_READ | PROT_EXEC), 0);
    wait_reports(2);
    cr_expect_eq(reports[1].kind, PROCSUM_REPORT_CHANGED);
    cr_expect_eq(reports[1].page.verdict, PROCSUM_VERDICT_RESTORED, "the restore is reported");
    cr_assert_eq(procsum_check_now(c), 0);
    cr_assert_eq(atomic_load(&count), 2);
    cr_assert_eq(procsum_stop(c), 0);
}

int repair_victim(int x);
__attribute__((noinline, used)) int repair_victim(int x)
{
    return x + 1000;
}

Test(exact, repair_restores_a_flipped_page)
{
    int (*volatile fn)(int) = repair_victim;
    cr_assert_eq(fn(1), 1001);
    uintptr_t addr = (uintptr_t)&repair_victim;
    watched_page = addr & ~(PAGE - 1);
    procsum_checker *c = start_checker(true);
    /* Find the immediate 1000 (e8 03 00 00) in the function and flip a bit of it. */
    uint8_t *code = (uint8_t *)addr;
    size_t at = 0;
    while (at < 64 && !(code[at] == 0xe8 && code[at + 1] == 0x03 && code[at + 2] == 0 && code[at + 3] == 0))
        at++;
    cr_assert_lt(at, 64, "the constant 1000 is in the function's code");
    uint8_t b = code[at] ^ 0x01;
    write_code(addr + at, &b, 1);
    cr_assert_eq(fn(1), 1002, "the flip (1000 to 1001) changed what the code does");
    cr_assert_eq(procsum_check_now(c), 1);
    cr_assert_eq(atomic_load(&count), 1);
    cr_expect(reports[0].page.repaired);
    cr_expect_eq(reports[0].page.repair, PROCSUM_REPAIR_DONE, "repair %s", procsum_repair_name(reports[0].page.repair));
    cr_expect_eq(reports[0].page.verdict, PROCSUM_VERDICT_BITFLIP);
    cr_expect_eq(reports[0].page.runs[0].addr, addr + at);
    cr_expect_eq(reports[0].page.runs[0].xor_mask[0], 0x01);
    cr_assert_eq(fn(1), 1001, "repaired code runs correctly again");
    cr_assert_eq(procsum_check_now(c), 0, "the repaired page is the baseline, no second report");
    stop_checker(c);
}

/*
 * Repair writes only where the file was compared: a changed page whose
 * file was replaced since it was mapped has nothing true to be restored
 * from, so the change is reported and memory is left as it is.
 */
Test(exact, repair_leaves_a_page_whose_file_was_replaced)
{
    char path[] = "/tmp/psum-repair-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    static uint8_t content[2 * PROCSUM_PAGE_SIZE];
    memset(content, 0xc3, sizeof(content));
    cr_assert_eq(write(fd, content, sizeof(content)), (ssize_t)sizeof(content));
    uint8_t *map = mmap(NULL, 2 * PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        unlink(path);
        cr_skip_test("cannot map /tmp executable here (noexec mount)");
    }
    watched_page = (uintptr_t)map + PAGE;
    (void)*(volatile uint8_t *)watched_page; /* in memory, so that it gets its baseline */
    procsum_checker *c = start_checker(true);
    cr_assert_eq(procsum_check_now(c), 0);

    /* Another file at the same path: the mapped one is gone. */
    cr_assert_eq(unlink(path), 0);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    cr_assert_geq(fd, 0);
    memset(content, 0x90, sizeof(content));
    cr_assert_eq(write(fd, content, sizeof(content)), (ssize_t)sizeof(content));
    close(fd);

    uint8_t changed = 0xc3 ^ 0x08;
    write_code(watched_page + 10, &changed, 1);
    int found = procsum_check_now(c);
    cr_assert_eq(found, 1, "check_now: %d, reports %d, kind %d", found, atomic_load(&count), reports[0].kind);
    cr_assert_eq(atomic_load(&count), 1);
    cr_expect_eq(reports[0].kind, PROCSUM_REPORT_CHANGED);
    cr_expect_eq(reports[0].page.file_status, PROCSUM_FILE_REPLACED, "status %s",
                 procsum_file_status_name(reports[0].page.file_status));
    cr_expect_not(reports[0].page.repaired);
    cr_expect_eq(reports[0].page.repair, PROCSUM_REPAIR_REFUSED_NO_FILE, "repair %s",
                 procsum_repair_name(reports[0].page.repair));
    for (size_t i = 0; i < PAGE; i++)
        cr_assert_eq(map[PAGE + i], i == 10 ? changed : 0xc3, "byte %zu of the page was written", i);
    cr_assert_eq(procsum_check_now(c), 0, "the change is the baseline now");
    cr_assert_eq(map[PAGE + 10], changed);
    stop_checker(c);
    munmap(map, 2 * PAGE);
    unlink(path);
}
