/*
 * Detection: change real code bytes of this live process and watch procsum
 * report them. Criterion runs each test in its own process, so a test may
 * corrupt its own code.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <link.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "procsum.h"
#include "test_util.h"
#include "stress_libs.h"

#define PAGE ((uintptr_t)PROCSUM_PAGE_SIZE)
#define MAX_REPORTS 16

typedef struct report_copy {
    char source[4096];
    uintptr_t region_start, region_end;
    uintptr_t first_changed_page;
    size_t changed_pages;
    bool main_executable;
    procsum_region_kind kind;
    size_t digest_len;
    bool digests_differ;
    int stop_from_callback; /* what procsum_stop returned when called from the callback */
    procsum_report_kind report_kind;
    procsum_verdict verdict;
    /* The first changed page against its file. */
    uintptr_t page_addr;
    uint64_t region_file_offset, page_file_offset;
    procsum_file_status file_status;
    procsum_cause cause;
    size_t changed_bytes, changed_bits, run_count, total_runs;
    procsum_byte_run run;
    char symbol[256];
} report_copy;

static pthread_mutex_t reports_lock = PTHREAD_MUTEX_INITIALIZER;
static report_copy reports[MAX_REPORTS];
static atomic_int report_count;
static atomic_int sandbox_patches; /* Criterion's jump over main (test_util.h): the one true finding here */
static atomic_int other_findings;  /* any other page that differed from its file: always wrong here */
static procsum_checker *checker_for_callback;

static void record(const procsum_mismatch *m, void *userdata)
{
    cr_assert_eq(userdata, (void *)&reports, "the callback gets the userdata given to procsum_start");
    /* A page that differed from its file before the checker started is a finding, not a change. */
    if (m->kind != PROCSUM_REPORT_CHANGED) {
        atomic_fetch_add(test_is_sandbox_patch(m) ? &sandbox_patches : &other_findings, 1);
        return;
    }
    pthread_mutex_lock(&reports_lock);
    int n = atomic_load(&report_count);
    if (n < MAX_REPORTS) {
        report_copy *r = &reports[n];
        snprintf(r->source, sizeof(r->source), "%s", m->region->source);
        r->region_start = m->region->start;
        r->region_end = m->region->end;
        r->first_changed_page = m->first_changed_page;
        r->changed_pages = m->changed_pages;
        r->main_executable = m->region->main_executable;
        r->kind = m->region->kind;
        r->digest_len = m->digest_len;
        r->digests_differ = memcmp(m->old_digest, m->new_digest, m->digest_len) != 0;
        r->report_kind = m->kind;
        const procsum_page_change *pc = &m->page_changes[0];
        r->verdict = pc->verdict;
        r->page_addr = pc->addr;
        r->region_file_offset = m->region->file_offset;
        r->page_file_offset = pc->file_offset;
        r->file_status = pc->file_status;
        r->cause = pc->cause;
        r->changed_bytes = pc->changed_bytes;
        r->changed_bits = pc->changed_bits;
        r->run_count = pc->run_count;
        r->total_runs = pc->total_runs;
        r->run = pc->runs[0];
        snprintf(r->symbol, sizeof(r->symbol), "%s", pc->symbol ? pc->symbol : "(null)");
        r->stop_from_callback = checker_for_callback ? procsum_stop(checker_for_callback) : 0;
    }
    atomic_store(&report_count, n + 1);
    pthread_mutex_unlock(&reports_lock);
}

/* Code that nothing calls: its bytes are ours to change. */
int victim_function(int x);
__attribute__((noinline, used)) int victim_function(int x)
{
    return x * 7 + 3;
}

static void flip_bit(uintptr_t addr, int bit)
{
    uintptr_t page = addr & ~(PAGE - 1);
    /* Stay executable: this very code may share the page. */
    cr_assert_eq(mprotect((void *)page, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC), 0);
    *(volatile uint8_t *)addr ^= (uint8_t)(1u << bit);
    cr_assert_eq(mprotect((void *)page, PAGE, PROT_READ | PROT_EXEC), 0);
}

/* Waits, boundedly, until `want` reports arrived; then a few more passes to catch extras. */
static void wait_reports(procsum_checker *c, int want)
{
    for (int i = 0; i < 60000 && atomic_load(&report_count) < want; i++)
        usleep(1000);
    test_wait_passes(c, 5);
}

static bool keyed;

static procsum_checker *start(unsigned period_ms, bool skip_libs, procsum_algorithm algo)
{
    procsum_options o;
    procsum_options_init(&o);
    o.keyed_digests = keyed;
    o.check_period_ms = period_ms;
    o.skip_libs = skip_libs;
    o.algorithm = algo;
    procsum_checker *c = NULL;
    int err = procsum_start(&o, record, &reports, &c);
    cr_assert_eq(err, 0, "procsum_start: %s", procsum_strerror(err));
    cr_assert_not_null(c);
    return c;
}

static const char *self_path(void)
{
    static char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    cr_assert_gt(n, 0);
    path[n] = '\0';
    return path;
}

static void expect_report(int i, uintptr_t page, const char *source)
{
    const report_copy *r = &reports[i];
    cr_expect_str_eq(r->source, source);
    cr_expect_eq(r->first_changed_page, page, "report names page %#lx, not %#lx", (unsigned long)r->first_changed_page,
                 (unsigned long)page);
    cr_expect_eq(r->changed_pages, 1);
    cr_expect(r->region_start <= page && page < r->region_end);
    cr_expect(r->digests_differ, "old and new digests must differ");
    cr_expect_eq(r->report_kind, PROCSUM_REPORT_CHANGED);
    cr_expect_eq(r->page_addr, page);
    cr_expect_eq(r->page_file_offset, r->region_file_offset + (page - r->region_start), "page's file offset %#llx",
                 (unsigned long long)r->page_file_offset);
}

/*
 * Report i is of one bit of the byte at addr flipped against the file
 * (restored false), or of that byte back to the file's (restored true):
 * the verdict, the cause, and the run's address, file offset and bytes.
 */
static void expect_flip(int i, uintptr_t addr, int bit, bool restored, const char *symbol)
{
    const report_copy *r = &reports[i];
    uint8_t now = *(volatile uint8_t *)addr;
    cr_expect_eq(r->file_status, PROCSUM_FILE_COMPARED);
    cr_expect_eq(r->cause, PROCSUM_CAUSE_WRITE, "cause %s", procsum_cause_name(r->cause));
    if (restored) {
        cr_expect_eq(r->verdict, PROCSUM_VERDICT_RESTORED, "verdict %s", procsum_verdict_name(r->verdict));
        cr_expect_eq(r->changed_bytes, 0);
        cr_expect_eq(r->changed_bits, 0);
        cr_expect_eq(r->total_runs, 0);
        return;
    }
    cr_expect_eq(r->verdict, PROCSUM_VERDICT_BITFLIP, "verdict %s", procsum_verdict_name(r->verdict));
    cr_expect_eq(r->changed_bytes, 1);
    cr_expect_eq(r->changed_bits, 1);
    cr_expect_eq(r->run_count, 1);
    cr_expect_eq(r->total_runs, 1);
    cr_expect_eq(r->run.addr, addr, "run at %#lx, not %#lx", (unsigned long)r->run.addr, (unsigned long)addr);
    cr_expect_eq(r->run.file_offset, r->region_file_offset + (addr - r->region_start));
    cr_expect_eq(r->run.len, 1);
    cr_expect_eq(r->run.new_bytes[0], now);
    cr_expect_eq(r->run.old_bytes[0], (uint8_t)(now ^ (1u << bit)));
    cr_expect_eq(r->run.xor_mask[0], (uint8_t)(1u << bit));
    if (symbol)
        cr_expect_str_eq(r->symbol, symbol);
}

static void flip_reported_once(procsum_algorithm algo, unsigned period_ms, bool skip_libs)
{
    procsum_checker *c = start(period_ms, skip_libs, algo);
    uintptr_t addr = (uintptr_t)&victim_function + 5;
    uintptr_t page = addr & ~(PAGE - 1);

    flip_bit(addr, 3);
    wait_reports(c, 1);
    cr_assert_eq(atomic_load(&report_count), 1, "one change gives exactly one report, got %d (kinds %d %d, pages %#lx %#lx, %s)",
                 atomic_load(&report_count), reports[0].report_kind, reports[1].report_kind,
                 (unsigned long)reports[0].first_changed_page, (unsigned long)reports[1].first_changed_page, reports[0].source);
    expect_report(0, page, self_path());
    expect_flip(0, addr, 3, false, "victim_function+0x5");
    cr_expect(reports[0].main_executable);
    cr_expect_eq(reports[0].digest_len, procsum_digest_len(algo));

    flip_bit(addr, 3); /* restoring the byte is a change too */
    wait_reports(c, 2);
    cr_assert_eq(atomic_load(&report_count), 2);
    expect_report(1, page, self_path());
    expect_flip(1, addr, 3, true, NULL);
    cr_assert_eq(atomic_load(&other_findings), 0);
    cr_assert_eq(procsum_mismatch_count(c), 2u + (unsigned)atomic_load(&sandbox_patches));
    cr_assert_eq(procsum_stop(c), 0);
}

Test(detect, bit_flip_in_own_code_blake3) { flip_reported_once(PROCSUM_ALGO_BLAKE3, 10, false); }
Test(detect, bit_flip_in_own_code_crc64) { flip_reported_once(PROCSUM_ALGO_CRC64, 10, false); }
Test(detect, bit_flip_in_own_code_xxh3) { flip_reported_once(PROCSUM_ALGO_XXH3, 10, false); }
Test(detect, bit_flip_keyed_blake3)
{
    keyed = true;
    flip_reported_once(PROCSUM_ALGO_BLAKE3, 10, false);
}
Test(detect, bit_flip_keyed_xxh3)
{
    keyed = true;
    flip_reported_once(PROCSUM_ALGO_XXH3, 10, false);
}
Test(detect, bit_flip_with_skip_libs) { flip_reported_once(PROCSUM_ALGO_BLAKE3, 10, true); }
/* A period far shorter than a pass: passes run back to back and still report each change once. */
Test(detect, period_shorter_than_a_pass) { flip_reported_once(PROCSUM_ALGO_BLAKE3, 1, false); }

/* A checker that discovers its regions only once. */
static procsum_checker *start_search_once(unsigned period_ms)
{
    procsum_options o;
    procsum_options_init(&o);
    o.check_period_ms = period_ms;
    o.search_once = true;
    procsum_checker *c = NULL;
    cr_assert_eq(procsum_start(&o, record, &reports, &c), 0);
    return c;
}

Test(detect, search_once_still_detects)
{
    procsum_checker *c = start_search_once(10);
    uintptr_t addr = (uintptr_t)&victim_function;
    flip_bit(addr, 0);
    wait_reports(c, 1);
    cr_assert_eq(atomic_load(&report_count), 1);
    expect_report(0, addr & ~(PAGE - 1), self_path());
    cr_assert_eq(procsum_stop(c), 0);
}

Test(detect, change_made_while_page_is_writable_for_many_passes)
{
    /* While rwx the page is not hashed; its baseline must wait for it. */
    procsum_checker *c = start(5, false, PROCSUM_ALGO_BLAKE3);
    uintptr_t addr = (uintptr_t)&victim_function + 1;
    uintptr_t page = addr & ~(PAGE - 1);
    cr_assert_eq(mprotect((void *)page, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC), 0);
    *(volatile uint8_t *)addr ^= 0x80;
    test_wait_passes(c, 5);
    cr_assert_eq(atomic_load(&report_count), 0, "rwx pages are not checked without include_writable_code");
    cr_assert_eq(atomic_load(&other_findings), 0);
    cr_assert_eq(mprotect((void *)page, PAGE, PROT_READ | PROT_EXEC), 0);
    wait_reports(c, 1);
    cr_assert_eq(atomic_load(&report_count), 1);
    expect_report(0, page, self_path());
    cr_assert_eq(procsum_stop(c), 0);
}

/* The page holding the last byte of this program's code, where the next segment of its file follows it at once. */
typedef struct code_end {
    uintptr_t last_byte, next_page;
    bool adjacent;
} code_end;

static int find_code_end(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    code_end *e = arg;
    uintptr_t code_page = 0;
    uint64_t code_offset = 0;
    for (size_t i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uintptr_t start = (info->dlpi_addr + ph->p_vaddr) & ~(PAGE - 1);
        if (ph->p_flags & PF_X) {
            code_page = start;
            code_offset = ph->p_offset & ~(uint64_t)(PAGE - 1);
            e->last_byte = info->dlpi_addr + ph->p_vaddr + ph->p_memsz - 1;
        } else if (code_page && start > code_page) {
            e->next_page = start;
            e->adjacent = start == (e->last_byte & ~(PAGE - 1)) + PAGE &&
                          (ph->p_offset & ~(uint64_t)(PAGE - 1)) - code_offset == start - code_page;
            break;
        }
    }
    return 1; /* the program is listed first */
}

/*
 * A patch whose mprotect covers the last page of the code and the first
 * of the read-only data after it: the kernel merges the two into one
 * mapping, which no segment the loader lists holds whole. Its change is
 * reported all the same (it was taken for an unloaded library's and never
 * read again).
 */
Test(detect, change_where_an_mprotect_merged_code_with_the_next_segment)
{
    code_end e = {0};
    dl_iterate_phdr(find_code_end, &e);
    cr_assert(e.adjacent, "this test needs the program's data right after its code in memory and in the file");
    uintptr_t page = e.last_byte & ~(PAGE - 1);
    procsum_checker *c = start(10, false, PROCSUM_ALGO_BLAKE3);
    cr_assert_eq(mprotect((void *)page, 2 * PAGE, PROT_READ | PROT_WRITE | PROT_EXEC), 0);
    *(volatile uint8_t *)e.last_byte ^= 0x08;
    cr_assert_eq(mprotect((void *)page, 2 * PAGE, PROT_READ | PROT_EXEC), 0);
    wait_reports(c, 1);
    int reported = atomic_load(&report_count);
    cr_assert_eq(mprotect((void *)page, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC), 0);
    *(volatile uint8_t *)e.last_byte ^= 0x08;
    cr_assert_eq(mprotect((void *)page, PAGE, PROT_READ | PROT_EXEC), 0);
    cr_assert_eq(mprotect((void *)e.next_page, PAGE, PROT_READ), 0);
    cr_assert_eq(procsum_stop(c), 0);
    cr_assert_eq(reported, 1, "one change gives one report, got %d", reported);
    expect_report(0, page, self_path());
    cr_assert_eq(atomic_load(&other_findings), 0);
}

Test(detect, change_in_shared_library)
{
    /* strfry: in libc, never called by this test or by procsum. */
    extern char *strfry(char *);
    procsum_checker *c = start(10, false, PROCSUM_ALGO_BLAKE3);
    uintptr_t addr = (uintptr_t)&strfry + 2;
    flip_bit(addr, 6);
    wait_reports(c, 1);
    cr_assert_eq(atomic_load(&report_count), 1);
    cr_expect(strstr(reports[0].source, "libc.so") != NULL, "source is %s", reports[0].source);
    cr_expect_eq(reports[0].changed_pages, 1);
    cr_expect_eq(reports[0].first_changed_page, addr & ~(PAGE - 1));
    cr_expect_not(reports[0].main_executable);
    expect_flip(0, addr, 6, false, "strfry+0x2");
    flip_bit(addr, 6);
    wait_reports(c, 2);
    cr_assert_eq(atomic_load(&report_count), 2, "the byte put back is reported too");
    expect_report(1, addr & ~(PAGE - 1), reports[0].source);
    expect_flip(1, addr, 6, true, NULL);
    cr_assert_eq(atomic_load(&other_findings), 0);
    cr_assert_eq(procsum_stop(c), 0);
}

/*
 * Many libraries, each its own file, loaded and unloaded for good: the
 * checker's table of files drops them and renumbers the rest, and a change
 * in a library still loaded is caught all the same.
 */
#define MANY_LIBS 80
Test(detect, change_caught_after_many_libraries_came_and_went, .timeout = 120)
{
    char dir[] = "/tmp/psum-many-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    /* Passes only when asked: the change below is seen by the pass that drops the files, confirmed by the next. */
    procsum_checker *c = start(3600 * 1000, false, PROCSUM_ALGO_BLAKE3);
    void *handles[MANY_LIBS];
    static char path[MANY_LIBS][256];
    for (int i = 0; i < MANY_LIBS; i++) {
        snprintf(path[i], sizeof(path[i]), "%s/libmany%d.so", dir, i);
        char cmd[1024];
        int n = snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", STRESS_LIB_0, path[i]);
        cr_assert(n > 0 && (size_t)n < sizeof(cmd));
        cr_assert_eq(system(cmd), 0);
        handles[i] = dlopen(path[i], RTLD_NOW | RTLD_LOCAL);
        cr_assert_not_null(handles[i], "%s", dlerror());
    }
    cr_assert_eq(procsum_check_now(c), 0);
    cr_assert_eq(procsum_check_now(c), 0); /* every library's pages have settled baselines */
    for (int i = 0; i < MANY_LIBS; i++) {
        cr_assert_eq(dlclose(handles[i]), 0);
        unlink(path[i]);
    }
    rmdir(dir);
    extern char *strfry(char *);
    uintptr_t addr = (uintptr_t)&strfry + 2;
    flip_bit(addr, 5);
    cr_assert_eq(procsum_check_now(c), 1, "the change in libc is found across the renumbering");
    cr_assert_eq(atomic_load(&report_count), 1);
    cr_expect(strstr(reports[0].source, "libc.so") != NULL, "source is %s", reports[0].source);
    expect_report(0, addr & ~(PAGE - 1), reports[0].source);
    expect_flip(0, addr, 5, false, "strfry+0x2");
    flip_bit(addr, 5);
    cr_assert_eq(atomic_load(&other_findings), 0);
    cr_assert_eq(procsum_stop(c), 0);
}

/*
 * The program itself takes a code page of a loaded library away
 * (mprotect PROT_NONE, as some hot-patching and sandboxing tools do), and
 * the checker, which never re-reads the mappings here (search_once), reads
 * that library in place: the fault is caught, the process lives on, and
 * checking goes on.
 */
Test(detect, library_page_made_inaccessible_is_no_crash, .timeout = 60)
{
    void *h = dlopen(STRESS_LIB_3, RTLD_NOW | RTLD_LOCAL);
    cr_assert_not_null(h, "%s", dlerror());
    int (*run)(int) = (int (*)(int))(uintptr_t)dlsym(h, "stress_lib_run");
    cr_assert_not_null(run);
    procsum_checker *c = start_search_once(2);
    /* A page of the library's code padding, away from the code that runs at unload. */
    uintptr_t page = (((uintptr_t)run + 4 * PAGE) & ~(PAGE - 1));
    cr_assert_eq(mprotect((void *)page, PAGE, PROT_NONE), 0);
    test_wait_passes(c, 20);
    cr_assert_eq(mprotect((void *)page, PAGE, PROT_READ | PROT_EXEC), 0);
    test_wait_passes(c, 5);
    cr_assert_eq(atomic_load(&report_count), 0, "nothing changed: no report");
    cr_assert_eq(atomic_load(&other_findings), 0);
    cr_assert_eq(procsum_stop(c), 0);
    cr_assert_eq(dlclose(h), 0);
}

Test(detect, library_change_ignored_with_skip_libs)
{
    extern char *strfry(char *);
    procsum_checker *c = start(10, true, PROCSUM_ALGO_BLAKE3);
    flip_bit((uintptr_t)&strfry + 2, 6);
    test_wait_passes(c, 10);
    cr_assert_eq(atomic_load(&report_count), 0, "skip_libs checks only the main executable");
    cr_assert_eq(atomic_load(&other_findings), 0);
    cr_assert_eq(procsum_stop(c), 0);
}

/*
 * Nothing changes: no change is reported, and the only finding is the one
 * page that truly differs from its file, Criterion's jump over main
 * (test_util.h). tests/patch_target.c checks a process Criterion did not
 * touch, where there is no finding at all.
 */
Test(detect, quiet_process_gives_no_report)
{
    procsum_checker *c = start(10, false, PROCSUM_ALGO_BLAKE3);
    test_wait_passes(c, 50);
    cr_assert_eq(atomic_load(&report_count), 0);
    cr_assert_eq(atomic_load(&other_findings), 0, "a page other than main's differed from its file");
    cr_assert_eq(atomic_load(&sandbox_patches), 1, "the sandbox's jump over main is found once");
    cr_assert_eq(procsum_mismatch_count(c), 1u);
    procsum_stats s;
    cr_assert_eq(procsum_get_stats(c, &s), 0);
    cr_assert_gt(s.pages_tracked, 0);
    cr_assert_gt(s.bytes_hashed, 0);
    cr_assert_eq(s.last_error, 0);
    cr_assert_eq(procsum_stop(c), 0);
}

Test(detect, stop_does_not_wait_out_the_period)
{
    procsum_checker *c = start(3600 * 1000, false, PROCSUM_ALGO_BLAKE3);
    time_t before = time(NULL);
    cr_assert_eq(procsum_stop(c), 0);
    /* Generous: the point is that it does not wait for the hour-long period. */
    cr_assert_lt(time(NULL) - before, 60);
}

Test(detect, stop_from_inside_the_callback_is_refused)
{
    procsum_checker *c = start(10, false, PROCSUM_ALGO_BLAKE3);
    checker_for_callback = c;
    flip_bit((uintptr_t)&victim_function, 1);
    wait_reports(c, 1);
    checker_for_callback = NULL;
    cr_assert_eq(atomic_load(&report_count), 1, "one change, one report: the refused stop changed nothing");
    expect_report(0, (uintptr_t)&victim_function & ~(PAGE - 1), self_path());
    expect_flip(0, (uintptr_t)&victim_function, 1, false, "victim_function+0x0");
    cr_assert_eq(reports[0].stop_from_callback, PROCSUM_EBUSY);
    cr_assert_eq(atomic_load(&other_findings), 0);
    cr_assert_eq(procsum_stop(c), 0);
}

Test(detect, null_callback_still_counts)
{
    procsum_options o;
    procsum_options_init(&o);
    o.check_period_ms = 10;
    o.verify_file = false; /* no callback to tell file findings from changes */
    procsum_checker *c = NULL;
    cr_assert_eq(procsum_start(&o, NULL, NULL, &c), 0);
    flip_bit((uintptr_t)&victim_function + 7, 2);
    for (int i = 0; i < 60000 && procsum_mismatch_count(c) == 0; i++)
        usleep(1000);
    test_wait_passes(c, 5);
    cr_assert_eq(procsum_mismatch_count(c), 1u, "verify_file is off: the change is the only report");
    cr_assert_eq(procsum_stop(c), 0);
}

/* An anonymous r-x mapping, as a JIT makes: checked, reported when changed, and harmless when unmapped. */
Test(detect, anonymous_code_changed_then_unmapped)
{
    uint8_t *jit = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(jit, MAP_FAILED);
    memset(jit, 0xc3, 3 * PAGE); /* ret */
    cr_assert_eq(mprotect(jit, 3 * PAGE, PROT_READ | PROT_EXEC), 0);
    procsum_checker *c = start(5, false, PROCSUM_ALGO_XXH3);

    flip_bit((uintptr_t)jit + PAGE + 100, 4);
    wait_reports(c, 1);
    cr_assert_eq(atomic_load(&report_count), 1);
    cr_expect_eq(reports[0].kind, PROCSUM_REGION_ANON);
    cr_expect_str_eq(reports[0].source, "[anon]");
    cr_expect_eq(reports[0].first_changed_page, (uintptr_t)jit + PAGE);
    cr_expect_eq(reports[0].changed_pages, 1);
    /* No file to compare with: no verdict, no bytes, but the process's own write. */
    cr_expect_eq(reports[0].file_status, PROCSUM_FILE_NONE, "file %s", procsum_file_status_name(reports[0].file_status));
    cr_expect_eq(reports[0].verdict, PROCSUM_VERDICT_UNKNOWN, "verdict %s", procsum_verdict_name(reports[0].verdict));
    cr_expect_eq(reports[0].total_runs, 0);
    cr_expect_eq(atomic_load(&other_findings), 0);

    cr_assert_eq(munmap(jit, 3 * PAGE), 0);
    test_wait_passes(c, 10);
    cr_assert_eq(atomic_load(&report_count), 1, "an unmapped region leaves without a report");
    cr_assert_eq(procsum_stop(c), 0);
}

/*
 * Map and unmap executable memory as fast as possible while the checker runs
 * at 1 ms: regions vanish between discovery and reading, and reappear at the
 * same addresses. Each thread owns a window of addresses that only ever
 * holds one content (untouched anonymous pages, or a file) or nothing
 * readable, so any report would be false. (Two different contents taking
 * turns at one address faster than a pass cannot be told from a change:
 * docs/limits.md.)
 */
static atomic_bool churn_stop;

typedef struct churn_job {
    uint8_t *window;
    int fd; /* -1: anonymous */
    unsigned long cycles, failures; /* a race that never mapped anything would prove nothing */
} churn_job;

static void *churn(void *arg)
{
    churn_job *job = arg;
    int flags = MAP_PRIVATE | MAP_FIXED | (job->fd < 0 ? MAP_ANONYMOUS : 0);
    while (!atomic_load(&churn_stop)) {
        job->failures += mmap(job->window, 16 * PAGE, PROT_READ | PROT_EXEC, flags, job->fd, 0) == MAP_FAILED;
        /* Back to an unreadable placeholder, so nothing else can be mapped here. */
        job->failures += mmap(job->window, 16 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0) ==
                         MAP_FAILED;
        job->cycles++;
    }
    return NULL;
}

Test(detect, munmap_races_cause_no_crash_and_no_report)
{
    int fd = memfd_create("procsum-churn", 0);
    cr_assert_geq(fd, 0);
    static uint8_t code[16 * PROCSUM_PAGE_SIZE];
    memset(code, 0x90, sizeof(code));
    cr_assert_eq(write(fd, code, sizeof(code)), (ssize_t)sizeof(code));
    uint8_t *windows = mmap(NULL, 32 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(windows, MAP_FAILED);
    churn_job jobs[2] = {{windows, -1, 0, 0}, {windows + 16 * PAGE, fd, 0, 0}};
    procsum_checker *c = start(1, false, PROCSUM_ALGO_CRC64);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, churn, &jobs[i]), 0);
    test_wait_passes(c, 50);
    atomic_store(&churn_stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    close(fd);
    munmap(windows, 32 * PAGE);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(jobs[i].failures, 0, "window %d: %lu maps failed", i, jobs[i].failures);
        cr_assert_gt(jobs[i].cycles, 50, "window %d: only %lu cycles", i, jobs[i].cycles);
    }
    cr_assert_eq(atomic_load(&report_count), 0, "no report expected; first: %s [%#lx, %#lx) page %#lx, %zu pages",
                 reports[0].source, (unsigned long)reports[0].region_start, (unsigned long)reports[0].region_end,
                 (unsigned long)reports[0].first_changed_page, reports[0].changed_pages);
    cr_assert_eq(atomic_load(&other_findings), 0);
    cr_assert_eq(procsum_stop(c), 0);
}

/*
 * Where process_vm_readv is refused (a seccomp filter, as some sandboxes
 * install), memory that is not read in place is read through
 * /proc/self/mem instead, and a change there is still found. The filter
 * makes process_vm_readv fail with EPERM in this test's process (Criterion
 * runs each test in a process of its own) and its threads.
 */
#if defined(__x86_64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef TEST_AUDIT_ARCH
static void refuse_process_vm_readv(void)
{
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TEST_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_process_vm_readv, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof(code) / sizeof(code[0])), code};
    cr_assert_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
    cr_assert_eq(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog), 0, "seccomp: %s",
                 strerror(errno));
}

Test(detect, change_found_when_process_vm_readv_is_refused)
{
    uint8_t *jit = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(jit, MAP_FAILED);
    memset(jit, 0xc3, 2 * PAGE);
    cr_assert_eq(mprotect(jit, 2 * PAGE, PROT_READ | PROT_EXEC), 0);
    refuse_process_vm_readv();
    uint8_t byte;
    struct iovec local = {&byte, 1}, remote = {jit, 1};
    errno = 0;
    cr_assert_eq(process_vm_readv(getpid(), &local, 1, &remote, 1, 0), -1);
    cr_assert_eq(errno, EPERM, "the filter refuses process_vm_readv");

    procsum_checker *c = start(3600 * 1000, false, PROCSUM_ALGO_BLAKE3);
    cr_assert_eq(procsum_check_now(c), 0);
    flip_bit((uintptr_t)jit + PAGE + 5, 1);
    cr_assert_eq(procsum_check_now(c), 1, "the anonymous code is read through /proc/self/mem");
    cr_assert_eq(atomic_load(&report_count), 1);
    cr_expect_eq(reports[0].kind, PROCSUM_REGION_ANON);
    cr_expect_eq(reports[0].first_changed_page, (uintptr_t)jit + PAGE);
    procsum_stats s;
    cr_assert_eq(procsum_get_stats(c, &s), 0);
    cr_assert_eq(s.last_error, 0);
    cr_assert_eq(atomic_load(&other_findings), 0);
    cr_assert_eq(procsum_stop(c), 0);
}
#endif
