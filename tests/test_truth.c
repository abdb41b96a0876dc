/*
 * Reports tell the truth. Each test makes one real change of a known kind
 * in a live process (a file written in place, a bit flipped on the disk
 * below a cached page, a write into the process's own code, a repair from a
 * file that changed meanwhile) or none at all, and checks every field the
 * report promises for it: the cause, which copy of the page memory is, what
 * it was compared with, the file status, the verdict, the run's address and
 * file offset, and the old, new and flipped bits.
 *
 * Needs root: a library is copied onto a fresh ext4 file system on a loop
 * device (mkfs.ext4 must be installed), so that its disk blocks can be
 * changed below the page cache. The mount is made in a mount namespace of
 * the test's own, and undone after each test, failed or not. The changes
 * to a library are made in a forked child, whose exit unmaps the library
 * before the file system is unmounted; the child only records, the test
 * asserts. A missing tool or right fails the test with the reason.
 *
 * Debugger breakpoints and uprobes need tools outside the process:
 * truth_gdb.sh and truth_uprobe.sh, with truth_target.c.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procsum.h"
#include "stress_libs.h"
#include "truth_util.h"

#define PAGE TRUTH_PAGE
/* A small library of the test suite's own, and a function of it whose bytes the tests change. */
#define LIBRARY STRESS_LIB_1
#define LIBRARY_FUNCTION "stress_lib_run"
#define PAYLOAD "EVIL-PAYLOAD"

/* What a forked child did and saw, in memory it shares with the test. */
typedef struct shared {
    truth_log log;
    char error[TRUTH_ERR]; /* why the child could not make its change; "" if it could */
    char lib[PATH_MAX];    /* the library's copy on the test's file system */
    uintptr_t addr, page;  /* the changed byte, and its page */
    uint64_t off, page_off;
    uint8_t before, after; /* the byte in memory before the change, and the one written */
    bool payload_in_memory;
    uint8_t page_before[PAGE], page_after[PAGE]; /* the page's bytes before the change, and at the end */
} shared;

static shared *sh;
static truth_disk disk;

static void setup(void)
{
    void *p = mmap(NULL, sizeof(shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(p, MAP_FAILED, "mmap: %s", strerror(errno));
    sh = p;
    /* A mount made here vanishes with this process, even if it is killed before the cleanup. */
    if (geteuid() == 0 && unshare(CLONE_NEWNS) == 0)
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
}

static void teardown(void)
{
    truth_disk_close(&disk);
    munmap(sh, sizeof(shared));
}

TestSuite(truth, .init = setup, .fini = teardown, .timeout = 180);

/* ---- in the child: make the change, record the reports ------------------ */

static int child_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int child_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sh->error, sizeof(sh->error), fmt, ap);
    va_end(ap);
    return -1;
}

/* Loads the library's copy, runs the function (its page is then in memory), and picks its 4th byte. */
static int child_load_library(void)
{
    void *h = dlopen(sh->lib, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return child_fail("dlopen(%s): %s", sh->lib, dlerror());
    int (*volatile fn)(int) = (int (*)(int))(uintptr_t)dlsym(h, LIBRARY_FUNCTION);
    if (!fn)
        return child_fail("dlsym(%s): %s", LIBRARY_FUNCTION, dlerror());
    fn(1);
    sh->addr = (uintptr_t)fn + 3;
    sh->page = sh->addr & ~(PAGE - 1);
    char path[PATH_MAX];
    if (truth_file_offset((const void *)sh->addr, &sh->off, path, sizeof(path), sh->error) != 0)
        return -1;
    if (strcmp(path, sh->lib) != 0)
        return child_fail("%s was loaded from %s, not from the copy %s", LIBRARY_FUNCTION, path, sh->lib);
    sh->page_off = sh->off - (sh->addr - sh->page);
    sh->before = *(const volatile uint8_t *)sh->addr;
    memcpy(sh->page_before, (const void *)sh->page, PAGE);
    return 0;
}

static procsum_checker *child_start(unsigned period_ms, bool repair)
{
    procsum_options o;
    procsum_options_init(&o);
    o.check_period_ms = period_ms;
    o.verify_file = true;
    o.repair = repair;
    procsum_checker *c = NULL;
    int err = procsum_start(&o, truth_record, &sh->log, &c);
    if (err) {
        child_fail("procsum_start: %s", procsum_strerror(err));
        return NULL;
    }
    return c;
}

static uint64_t child_passes(procsum_checker *c)
{
    procsum_stats s;
    return procsum_get_stats(c, &s) == 0 ? s.passes : 0;
}

static int child_wait_passes(procsum_checker *c, uint64_t n)
{
    uint64_t target = child_passes(c) + n;
    for (int i = 0; i < 60000 && child_passes(c) < target; i++)
        usleep(1000);
    return child_passes(c) >= target ? 0 : child_fail("the checker stopped making passes");
}

/* Waits (20 s at most) for a report about the library, then five more passes to catch any extra report. */
static int child_wait_report(procsum_checker *c)
{
    for (int i = 0; i < 20000 && truth_log_count(&sh->log, sh->lib, 0) == 0; i++)
        usleep(1000);
    return child_wait_passes(c, 5);
}

static int child_finish(procsum_checker *c, int rc)
{
    memcpy(sh->page_after, (const void *)sh->page, PAGE);
    sh->payload_in_memory = memmem(sh->page_after, PAGE, PAYLOAD, strlen(PAYLOAD)) != NULL;
    int err = procsum_stop(c);
    if (rc == 0 && err)
        return child_fail("procsum_stop: %s", procsum_strerror(err));
    return rc;
}

/* Runs body in a forked child (which exits, unmapping the library); fails the test if the child could not do its part. */
static void in_child(int (*body)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        _exit(body() == 0 ? 0 : 1);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "setup failed in the child (status %#x): %s", status,
              sh->error[0] ? sh->error : "(it died before saying why)");
}

/* ---- in the test: the library on a disk, and what the reports must say --- */

static void library_on_disk(void)
{
    char err[TRUTH_ERR];
    cr_assert_eq(truth_disk_open(&disk, truth_tmp_dir(), err), 0, "setup: an ext4 file system on a loop device: %s",
                 err);
    snprintf(sh->lib, sizeof(sh->lib), "%s/libprocsum_truth.so", disk.mnt);
    cr_assert_eq(truth_copy_file(LIBRARY, sh->lib, err), 0, "setup: %s", err);
}

/* Every page the log holds, one truth_print_page text: for messages. */
static char *log_text(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_not_null(f);
    int n = atomic_load(&sh->log.pages);
    fprintf(f, "%d page(s) reported%s\n", n, n ? ":" : "");
    for (int i = 0; i < n && i < TRUTH_MAX_PAGES; i++)
        truth_print_page(f, &sh->log.page[i]);
    fclose(f);
    return text;
}

/* The one report about `page` of `source`; fails unless there is exactly one. */
static const truth_page *only_report(const char *what, const char *source, uintptr_t page)
{
    int n = truth_log_count(&sh->log, source, page);
    cr_assert_eq(n, 1, "%s: expected exactly one report about page %#lx of %s, got %d; %s", what,
                 (unsigned long)page, source, n, log_text());
    for (int i = 0; i < TRUTH_MAX_PAGES; i++)
        if (strcmp(sh->log.page[i].source, source) == 0 && sh->log.page[i].change.addr == page)
            return &sh->log.page[i];
    cr_assert_fail("unreachable");
    return NULL;
}

/* Changed pages reported anywhere but `page`: a change nobody made. */
static void expect_no_other_change(const char *what, uintptr_t page)
{
    int n = atomic_load(&sh->log.pages), others = 0;
    for (int i = 0; i < n && i < TRUTH_MAX_PAGES; i++)
        others += sh->log.page[i].kind == PROCSUM_REPORT_CHANGED && sh->log.page[i].change.addr != page;
    cr_expect_lt(n, TRUTH_MAX_PAGES, "%s: more reports than the log keeps", what);
    cr_expect_eq(others, 0, "%s: %d changed page(s) reported that nobody changed; %s", what, others, log_text());
}

#define EXPECT_NAMED(what, field, got, want, name_fn)                                                          \
    cr_expect_eq((int)(got), (int)(want), "%s: " field " is %s (%d), expected %s (%d)", what, name_fn(got), \
                 (int)(got), name_fn(want), (int)(want))
#define EXPECT_NUM(what, field, got, want)                                                                      \
    cr_expect_eq((unsigned long long)(got), (unsigned long long)(want), "%s: " field " is %#llx, expected %#llx", \
                 what, (unsigned long long)(got), (unsigned long long)(want))

/* A page compared with the file: where its reference came from must be said (the disk, or the cache). */
static void expect_compared(const char *what, const procsum_page_change *c)
{
    cr_expect(c->reference == PROCSUM_REFERENCE_DISK || c->reference == PROCSUM_REFERENCE_CACHE,
              "%s: reference is %s, expected disk or cache (the page was compared with its file)", what,
              procsum_reference_name(c->reference));
}

/* The page, its offset, the file status and the repair: the same in every report here. */
static void expect_page(const char *what, const truth_page *p, procsum_report_kind kind, procsum_file_status status)
{
    const procsum_page_change *c = &p->change;
    EXPECT_NAMED(what, "kind", p->kind, kind, procsum_report_kind_name);
    EXPECT_NUM(what, "page address", c->addr, sh->page);
    EXPECT_NUM(what, "page file offset", c->file_offset, sh->page_off);
    EXPECT_NAMED(what, "file status", c->file_status, status, procsum_file_status_name);
    cr_expect(sh->page >= p->region_start && sh->page < p->region_end, "%s: the page lies outside its region", what);
    EXPECT_NUM(what, "region file offset + page's place in it", p->region_file_offset + (sh->page - p->region_start),
               sh->page_off);
}

/* Exactly one byte differs from the file: at `addr` (file offset `off`), the file's `old`, memory's `now`. */
static void expect_one_byte(const char *what, const procsum_page_change *c, uintptr_t addr, uint64_t off, uint8_t old,
                            uint8_t now)
{
    uint8_t mask = (uint8_t)(old ^ now);
    procsum_verdict verdict = __builtin_popcount(mask) == 1 ? PROCSUM_VERDICT_BITFLIP : PROCSUM_VERDICT_PATCH;
    EXPECT_NAMED(what, "verdict", c->verdict, verdict, procsum_verdict_name);
    EXPECT_NUM(what, "changed bytes", c->changed_bytes, 1);
    EXPECT_NUM(what, "changed bits", c->changed_bits, __builtin_popcount(mask));
    EXPECT_NUM(what, "run count", c->run_count, 1);
    EXPECT_NUM(what, "total runs", c->total_runs, 1);
    if (c->run_count < 1)
        return;
    const procsum_byte_run *r = &c->runs[0];
    EXPECT_NUM(what, "run address", r->addr, addr);
    EXPECT_NUM(what, "run file offset", r->file_offset, off);
    EXPECT_NUM(what, "run length", r->len, 1);
    EXPECT_NUM(what, "old byte (the file's)", r->old_bytes[0], old);
    EXPECT_NUM(what, "new byte (memory's)", r->new_bytes[0], now);
    EXPECT_NUM(what, "xor mask", r->xor_mask[0], mask);
}

static void expect_no_repair(const char *what, const procsum_page_change *c)
{
    EXPECT_NAMED(what, "repair", c->repair, PROCSUM_REPAIR_NONE, procsum_repair_name);
    cr_expect(!c->repaired, "%s: repaired is true without the option", what);
}

/* ---- 1. the file written in place; memory follows ------------------------- */

static int file_modified_child(void)
{
    if (child_load_library() != 0)
        return -1;
    procsum_checker *c = child_start(100, false);
    if (!c || child_wait_passes(c, 2) != 0)
        return -1;
    sh->after = sh->before ^ 0x04;
    if (truth_write_in_place(sh->lib, sh->off, &sh->after, 1, sh->error) != 0)
        return child_finish(c, -1);
    if (*(const volatile uint8_t *)sh->addr != sh->after)
        return child_finish(c, child_fail("memory at %#lx did not follow the file written in place: %#x, not %#x",
                                          (unsigned long)sh->addr, *(const volatile uint8_t *)sh->addr, sh->after));
    return child_finish(c, child_wait_report(c));
}

Test(truth, file_modified)
{
    library_on_disk();
    in_child(file_modified_child);
    const char *what = "a library's file written in place (pwrite, one byte)";
    const truth_page *p = only_report(what, sh->lib, sh->page);
    const procsum_page_change *c = &p->change;
    expect_page(what, p, PROCSUM_REPORT_CHANGED, PROCSUM_FILE_MODIFIED);
    EXPECT_NAMED(what, "cause", c->cause, PROCSUM_CAUSE_FILE_MODIFIED, procsum_cause_name);
    EXPECT_NAMED(what, "copy", c->copy, PROCSUM_COPY_SHARED, procsum_copy_name);
    cr_expect_neq(c->verdict, PROCSUM_VERDICT_RESTORED, "%s: verdict is restored: memory equals the file only "
                  "because the file changed with it", what);
    /* The file's old bytes are gone: none may be shown as if they were the file's. */
    EXPECT_NUM(what, "run count (no old bytes to show)", c->run_count, 0);
    EXPECT_NUM(what, "total runs (no old bytes to show)", c->total_runs, 0);
    expect_no_repair(what, c);
    expect_no_other_change(what, sh->page);
}

/* ---- 2. the disk below a cached page differs: RAM or cache corruption ---- */

static int memory_corruption_child(void)
{
    if (child_load_library() != 0)
        return -1;
    uint8_t cached, below;
    uint64_t image_off;
    const uint8_t mask = 0x10;
    if (truth_disk_image_offset(sh->lib, sh->off, &image_off, sh->error) != 0 ||
        truth_disk_flip(&disk, image_off, mask, sh->error) != 0)
        return -1;
    if (truth_read_byte(sh->lib, sh->off, true, &below, sh->error) != 0 ||
        truth_read_byte(sh->lib, sh->off, false, &cached, sh->error) != 0)
        return -1;
    if (below != (uint8_t)(sh->before ^ mask))
        return child_fail("the bit flipped in the image at %#llx does not show below the library's cache: "
                          "O_DIRECT reads %#x at file offset %#llx, expected %#x",
                          (unsigned long long)image_off, below, (unsigned long long)sh->off, sh->before ^ mask);
    if (cached != sh->before || *(const volatile uint8_t *)sh->addr != sh->before)
        return child_fail("the library's cached page changed with the disk (cache %#x, memory %#x, was %#x)", cached,
                          *(const volatile uint8_t *)sh->addr, sh->before);
    sh->after = (uint8_t)(sh->before ^ mask); /* here: the disk's byte */
    procsum_checker *c = child_start(100, false);
    if (!c)
        return -1;
    return child_finish(c, child_wait_report(c));
}

Test(truth, memory_corruption)
{
    library_on_disk();
    in_child(memory_corruption_child);
    const char *what = "one bit flipped on the disk below a library's cached page";
    const truth_page *p = only_report(what, sh->lib, sh->page);
    const procsum_page_change *c = &p->change;
    expect_page(what, p, PROCSUM_REPORT_DIFFERS_FROM_FILE, PROCSUM_FILE_COMPARED);
    EXPECT_NAMED(what, "cause", c->cause, PROCSUM_CAUSE_MEMORY_CORRUPTION, procsum_cause_name);
    EXPECT_NAMED(what, "copy", c->copy, PROCSUM_COPY_SHARED, procsum_copy_name);
    EXPECT_NAMED(what, "reference", c->reference, PROCSUM_REFERENCE_DISK, procsum_reference_name);
    /* The file's byte is the disk's (flipped); memory's is the cached, original one. */
    expect_one_byte(what, c, sh->addr, sh->off, sh->after, sh->before);
    expect_no_repair(what, c);
    expect_no_other_change(what, 0);
}

/* ---- 3. a write into the process's own code ------------------------------ */

/* Code that nothing calls: its bytes are ours to change. */
int truth_victim(int x);
__attribute__((noinline, used)) int truth_victim(int x)
{
    return x * 11 + 7;
}

Test(truth, write)
{
    char err[TRUTH_ERR], exe[PATH_MAX];
    sh->addr = (uintptr_t)&truth_victim + 5;
    sh->page = sh->addr & ~(PAGE - 1);
    cr_assert_eq(truth_file_offset((const void *)sh->addr, &sh->off, exe, sizeof(exe), err), 0, "%s", err);
    sh->page_off = sh->off - (sh->addr - sh->page);
    sh->before = *(const volatile uint8_t *)sh->addr;
    uint8_t in_file;
    cr_assert_eq(truth_read_byte(exe, sh->off, false, &in_file, err), 0, "%s", err);
    cr_assert_eq(in_file, sh->before, "setup: the test's code differs from its file before any change");

    procsum_options o;
    procsum_options_init(&o);
    o.check_period_ms = 20;
    o.verify_file = true;
    procsum_checker *c = NULL;
    int e = procsum_start(&o, truth_record, &sh->log, &c);
    cr_assert_eq(e, 0, "procsum_start: %s", procsum_strerror(e));
    int before = truth_log_count(&sh->log, NULL, sh->page);
    cr_assert_eq(before, 0, "the page was reported before it changed; %s", log_text());

    sh->after = (uint8_t)(sh->before ^ 0x08);
    cr_assert_eq(truth_flip_code(sh->addr, 0x08, err), 0, "%s", err);
    for (int i = 0; i < 60000 && truth_log_count(&sh->log, NULL, sh->page) == 0; i++)
        usleep(1000);
    for (int i = 0; i < 5; i++) /* any extra report would come in these */
        cr_assert_geq(procsum_check_now(c), 0);
    cr_assert_eq(procsum_stop(c), 0);

    const char *what = "one byte of the process's own code written (mprotect + write)";
    const truth_page *p = only_report(what, exe, sh->page);
    const procsum_page_change *pc = &p->change;
    expect_page(what, p, PROCSUM_REPORT_CHANGED, PROCSUM_FILE_COMPARED);
    cr_expect(p->main_executable, "%s: the region is not called the main executable", what);
    EXPECT_NAMED(what, "cause", pc->cause, PROCSUM_CAUSE_WRITE, procsum_cause_name);
    EXPECT_NAMED(what, "copy", pc->copy, PROCSUM_COPY_PRIVATE, procsum_copy_name);
    expect_compared(what, pc);
    expect_one_byte(what, pc, sh->addr, sh->off, sh->before, sh->after);
    expect_no_repair(what, pc);
    expect_no_other_change(what, sh->page);
}

/* ---- 6. repair never copies from a file that changed ---------------------- */

static int repair_child(void)
{
    if (child_load_library() != 0)
        return -1;
    /* A period that never comes: passes run only when asked, so the file changes between two of them. */
    procsum_checker *c = child_start(3600u * 1000u, true);
    if (!c)
        return -1;
    sh->after = (uint8_t)(sh->before ^ 0x20);
    if (truth_flip_code(sh->addr, 0x20, sh->error) != 0 ||
        truth_write_in_place(sh->lib, sh->off, PAYLOAD, strlen(PAYLOAD), sh->error) != 0)
        return child_finish(c, -1);
    if (*(const volatile uint8_t *)sh->addr != sh->after)
        return child_finish(c, child_fail("the written page is not the process's own copy: memory reads %#x, not %#x",
                                          *(const volatile uint8_t *)sh->addr, sh->after));
    for (int i = 0; i < 4; i++) {
        int n = procsum_check_now(c);
        if (n < 0)
            return child_finish(c, child_fail("procsum_check_now: %s", procsum_strerror(n)));
    }
    return child_finish(c, 0);
}

Test(truth, repair_refused_when_the_file_changed)
{
    library_on_disk();
    in_child(repair_child);
    const char *what = "repair, after the library's file was written in place at the changed page";
    int n = truth_log_count(&sh->log, sh->lib, sh->page);
    cr_assert_geq(n, 1, "%s: no report about page %#lx; %s", what, (unsigned long)sh->page, log_text());
    const truth_page *p = NULL;
    for (int i = 0; i < TRUTH_MAX_PAGES && !p; i++)
        if (strcmp(sh->log.page[i].source, sh->lib) == 0 && sh->log.page[i].change.addr == sh->page)
            p = &sh->log.page[i];
    cr_assert_not_null(p);
    const procsum_page_change *c = &p->change;
    expect_page(what, p, PROCSUM_REPORT_CHANGED, PROCSUM_FILE_MODIFIED);
    EXPECT_NAMED(what, "cause", c->cause, PROCSUM_CAUSE_WRITE, procsum_cause_name);
    EXPECT_NAMED(what, "copy", c->copy, PROCSUM_COPY_PRIVATE, procsum_copy_name);
    EXPECT_NAMED(what, "repair", c->repair, PROCSUM_REPAIR_REFUSED_FILE_CHANGED, procsum_repair_name);
    cr_expect(!c->repaired, "%s: repaired is true", what);
    cr_expect_neq(c->verdict, PROCSUM_VERDICT_RESTORED, "%s: verdict restored", what);
    EXPECT_NUM(what, "run count (no old bytes to show)", c->run_count, 0);
    EXPECT_NUM(what, "total runs (no old bytes to show)", c->total_runs, 0);
    /* Every later report about the page refuses too: the file never becomes trustworthy again. */
    for (int i = 0; i < TRUTH_MAX_PAGES; i++) {
        const truth_page *q = &sh->log.page[i];
        if (q == p || strcmp(q->source, sh->lib) != 0 || q->change.addr != sh->page)
            continue;
        EXPECT_NAMED(what, "a later report's repair", q->change.repair, PROCSUM_REPAIR_REFUSED_FILE_CHANGED,
                     procsum_repair_name);
        cr_expect(!q->change.repaired, "%s: a later report says repaired", what);
    }
    cr_expect(!sh->payload_in_memory, "%s: memory now holds " PAYLOAD ": the page was repaired from the changed file",
              what);
    /* Nothing at all was written: the page is the original with the one flipped bit. */
    sh->page_before[sh->addr - sh->page] ^= 0x20;
    cr_expect_arr_eq(sh->page_after, sh->page_before, PAGE, "%s: memory of the page changed beyond the flipped bit",
                     what);
    expect_no_other_change(what, sh->page);
}

/* ---- 7. no change, no report ----------------------------------------------- */

Test(truth, clean_process_reports_nothing)
{
    char cmd[2 * PATH_MAX];
    snprintf(cmd, sizeof(cmd), "'%s' clean '%s' 2>&1", TRUTH_TARGET, LIBRARY);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f, "popen(%s): %s", cmd, strerror(errno));
    static char out[1 << 16];
    size_t len = fread(out, 1, sizeof(out) - 1, f);
    out[len] = '\0';
    int status = pclose(f);
    unsigned long long passes = 0;
    int reports = -1, stop = -1;
    const char *line = strstr(out, "clean passes ");
    cr_assert_not_null(line, "truth_target clean did not finish (status %#x):\n%s", status, out);
    cr_assert_eq(sscanf(line, "clean passes %llu reports %d stop %d", &passes, &reports, &stop), 3, "%s", out);
    cr_expect_eq(reports, 0, "a process nobody changed got %d report(s) over %llu passes:\n%s", reports, passes, out);
    cr_expect_null(strstr(out, "page "), "a process nobody changed got reports:\n%s", out);
    cr_expect_geq(passes, 11, "the checker made %llu passes, not 11", passes);
    cr_expect_eq(stop, 0, "procsum_stop: %s", procsum_strerror(stop));
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "truth_target clean exited with status %#x:\n%s", status,
              out);
}
