/*
 * The library checking another process: procsum_verify and a verifier
 * find one bit written into a child's code through /proc/PID/mem, at the
 * right file offset, and nothing in a clean child; procsum_start with a pid
 * reports a change, says when the process ran a new program (and reads
 * the new program's pages) and when it exited. The child is forked from
 * the test, so its code is at the same addresses as ours: the test knows
 * where to write. Only procsum.h is used.
 */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procsum.h"
#include "test_util.h"

/* Never run: its bytes are what the tests change in the child. */
int outside_spare_code(int x);
__attribute__((noinline, aligned(64))) int outside_spare_code(int x)
{
    return x * 7 + 3;
}

static uint64_t file_offset_of(uintptr_t addr);
int main(int argc, char *argv[]);

/*
 * Criterion's sandbox patched main in this process (tests/criterion_main.c),
 * and the child inherits that: it writes main's page back from the program
 * file, so that a clean child truly equals its files.
 */
static void restore_main(void)
{
    uintptr_t page = (uintptr_t)&main & ~(uintptr_t)(PROCSUM_PAGE_SIZE - 1);
    uint8_t buf[PROCSUM_PAGE_SIZE];
    int exe = open("/proc/self/exe", O_RDONLY);
    int mem = open("/proc/self/mem", O_RDWR);
    if (exe < 0 || mem < 0 || pread(exe, buf, sizeof(buf), (off_t)file_offset_of(page)) != (ssize_t)sizeof(buf) ||
        pwrite(mem, buf, sizeof(buf), (off_t)page) != (ssize_t)sizeof(buf))
        _exit(4);
    close(exe);
    close(mem);
}

/*
 * A child that waits on a pipe; a byte "e" makes it exec /bin/sleep, "d"
 * drops its private copy of outside_spare_code's page (MADV_DONTNEED: the
 * page leaves memory, and comes back as the file's), end of file makes it
 * exit.
 */
static const volatile uint8_t *child_touches; /* pages the child reads before it is ready: in its memory */
static size_t child_touches_len;

static pid_t start_child(int *command)
{
    int p[2], ready[2];
    cr_assert_eq(pipe(p), 0);
    cr_assert_eq(pipe(ready), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        close(p[1]);
        close(ready[0]);
        restore_main();
        for (size_t off = 0; off < child_touches_len; off += PROCSUM_PAGE_SIZE)
            (void)child_touches[off];
        if (write(ready[1], "r", 1) != 1)
            _exit(5);
        close(ready[1]);
        char c;
        while (read(p[0], &c, 1) == 1) {
            if (c == 'e') {
                execl("/bin/sleep", "sleep", "30", (char *)NULL);
                _exit(3);
            }
            if (c == 'd' && madvise((void *)((uintptr_t)&outside_spare_code & ~(uintptr_t)(PROCSUM_PAGE_SIZE - 1)),
                                    PROCSUM_PAGE_SIZE, MADV_DONTNEED) != 0)
                _exit(6);
        }
        _exit(0);
    }
    close(p[0]);
    close(ready[1]);
    char c;
    cr_assert_eq(read(ready[0], &c, 1), 1, "the child is ready");
    close(ready[0]);
    *command = p[1];
    return pid;
}

static void end_child(pid_t pid, int command)
{
    kill(pid, SIGKILL);
    close(command);
    waitpid(pid, NULL, 0);
}

/* pid's /proc/PID/mem, opened with `flags`. */
static int open_mem(pid_t pid, int flags)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
    int fd = open(path, flags);
    cr_assert_geq(fd, 0, "open %s", path);
    return fd;
}

/* Flips bit `bit` of the byte at addr in pid's memory, as a debugger would; returns the byte's old value. */
static uint8_t flip_bit(pid_t pid, uintptr_t addr, int bit)
{
    int fd = open_mem(pid, O_RDWR);
    uint8_t b;
    cr_assert_eq(pread(fd, &b, 1, (off_t)addr), 1);
    uint8_t nb = (uint8_t)(b ^ (1u << bit));
    cr_assert_eq(pwrite(fd, &nb, 1, (off_t)addr), 1);
    close(fd);
    return b;
}

/* The file offset of addr in this program's file, from our own maps (the child's are the same). */
static uint64_t file_offset_of(uintptr_t addr)
{
    FILE *f = fopen("/proc/self/maps", "r");
    cr_assert_not_null(f);
    char line[512];
    uint64_t found = UINT64_MAX;
    while (fgets(line, sizeof(line), f)) {
        unsigned long start, end, off;
        if (sscanf(line, "%lx-%lx %*s %lx", &start, &end, &off) == 3 && addr >= start && addr < end)
            found = off + (addr - start);
    }
    fclose(f);
    cr_assert_neq(found, UINT64_MAX, "no mapping holds %#lx", (unsigned long)addr);
    return found;
}

Test(verify, clean_child_then_one_bit)
{
    int command;
    pid_t pid = start_child(&command);
    procsum_options o;
    procsum_options_init(&o);
    o.pid = pid;
    procsum_verify_result r;
    cr_assert_eq(procsum_verify(&o, &r), 0);
    cr_assert_eq(r.pid, (long)pid);
    cr_assert_gt(r.pages_checked, 0u);
    cr_assert_gt(r.bytes_hashed, 0u);
    cr_assert_eq(r.change_count, 0u, "a clean child differs from its files in %zu page(s)", r.change_count);
    procsum_verify_result_free(&r);

    uintptr_t addr = (uintptr_t)&outside_spare_code + 5;
    uint8_t old = flip_bit(pid, addr, 3);
    cr_assert_eq(procsum_verify(&o, &r), 0);
    cr_assert_eq(r.change_count, 1u);
    const procsum_page_change *pc = &r.changes[0].page;
    cr_assert_eq(pc->verdict, PROCSUM_VERDICT_BITFLIP);
    cr_assert_eq(pc->cause, PROCSUM_CAUSE_WRITE);
    cr_assert_eq(pc->copy, PROCSUM_COPY_PRIVATE);
    cr_assert_eq(pc->changed_bits, 1u);
    cr_assert_eq(pc->run_count, 1u);
    cr_assert_eq(pc->runs[0].addr, addr);
    cr_assert_eq(pc->runs[0].file_offset, file_offset_of(addr));
    cr_assert_eq(pc->runs[0].old_bytes[0], old);
    cr_assert_eq(pc->runs[0].xor_mask[0], 1u << 3);
    cr_assert(r.regions[r.changes[0].region].main_executable);
    procsum_verify_result_free(&r);
    end_child(pid, command);
}

Test(verify, verifier_checks_a_shared_page_once)
{
    int c1, c2;
    pid_t p1 = start_child(&c1), p2 = start_child(&c2);
    procsum_options o;
    procsum_options_init(&o);
    procsum_verifier *v;
    cr_assert_eq(procsum_verifier_new(&o, &v), 0);
    procsum_verify_result a, b;
    cr_assert_eq(procsum_verifier_check(v, p1, &a), 0);
    cr_assert_eq(procsum_verifier_check(v, p2, &b), 0);
    cr_assert_eq(a.change_count + b.change_count, 0u);
    /* The same program and libraries: the second child's page-cache pages were checked with the first's. */
    cr_assert_gt(b.pages_shared, 0u);
    cr_assert_lt(b.bytes_hashed, a.bytes_hashed);
    procsum_verify_result_free(&a);
    procsum_verify_result_free(&b);
    procsum_verifier_free(v);
    end_child(p1, c1);
    end_child(p2, c2);
}

Test(verify, gone_and_invalid)
{
    int command;
    pid_t pid = start_child(&command);
    end_child(pid, command);
    procsum_options o;
    procsum_options_init(&o);
    o.pid = pid;
    procsum_verify_result r;
    cr_assert_eq(procsum_verify(&o, &r), PROCSUM_ESRCH);
    cr_assert_eq(r.change_count, 0u);
    cr_assert_null(r.changes);
    o.pid = -1;
    cr_assert_eq(procsum_verify(&o, &r), PROCSUM_EINVAL);
    procsum_checker *c;
    cr_assert_eq(procsum_start(&o, NULL, NULL, &c), PROCSUM_EINVAL);
    cr_assert_eq(procsum_verify(NULL, &r), PROCSUM_EINVAL);
    procsum_verify_result_free(NULL);
    procsum_verifier_free(NULL);
}

/* A child that exited and was not waited for yet has no memory left: listing it is no success with nothing. */
Test(verify, a_zombie_is_gone_for_every_call)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(0);
    char path[64], state = 0;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    for (int i = 0; i < 5000 && state != 'Z'; i++) {
        usleep(1000);
        FILE *f = fopen(path, "r");
        cr_assert_not_null(f);
        cr_assert_eq(fscanf(f, "%*d (%*[^)]) %c", &state), 1);
        fclose(f);
    }
    cr_assert_eq(state, 'Z');
    procsum_options o;
    procsum_options_init(&o);
    o.pid = pid;
    procsum_region_list l;
    cr_expect_eq(procsum_list_regions(&o, &l), PROCSUM_ESRCH);
    cr_expect_eq(l.count, 0u);
    procsum_benchmark_result b;
    cr_expect_eq(procsum_benchmark(&o, &b), PROCSUM_ESRCH);
    cr_expect_eq(b.region_count, 0u);
    procsum_verify_result r;
    cr_expect_eq(procsum_verify(&o, &r), PROCSUM_ESRCH);
    procsum_checker *c;
    cr_expect_eq(procsum_start(&o, NULL, NULL, &c), PROCSUM_ESRCH);
    cr_assert_eq(waitpid(pid, NULL, 0), pid);
}

static atomic_int changes_seen;
static atomic_uintptr_t changed_page;
static atomic_int other_findings; /* a page other than main's that differed from its file at the start */
/* The first page of the last change against its file. */
static procsum_page_change change_seen;

static void on_change(const procsum_mismatch *m, void *userdata)
{
    (void)userdata;
    if (m->kind == PROCSUM_REPORT_CHANGED) {
        change_seen = m->page_changes[0];
        change_seen.symbol = change_seen.old_insn = change_seen.new_insn = NULL; /* they live in the callback only */
        atomic_store(&changed_page, m->first_changed_page);
        atomic_fetch_add(&changes_seen, 1);
    } else if (!test_is_sandbox_patch(m)) {
        atomic_fetch_add(&other_findings, 1);
    }
}

/* A checker of the child that makes passes only when asked. */
static procsum_checker *check_child(pid_t pid, procsum_callback cb)
{
    procsum_options o;
    procsum_options_init(&o);
    o.pid = pid;
    o.check_period_ms = 60000;
    procsum_checker *c;
    cr_assert_eq(procsum_start(&o, cb, NULL, &c), 0);
    return c;
}

Test(start, another_process_change_exec_exit)
{
    int command;
    pid_t pid = start_child(&command);
    procsum_checker *c = check_child(pid, on_change);
    uintptr_t addr = (uintptr_t)&outside_spare_code + 9;
    flip_bit(pid, addr, 0);
    /* A change is reported when two passes agree on it. */
    int found = 0;
    for (int i = 0; i < 3 && found == 0; i++)
        found = procsum_check_now(c);
    cr_assert_eq(found, 1, "check_now: %d", found);
    cr_assert_eq(atomic_load(&changes_seen), 1);
    cr_assert_eq(atomic_load(&changed_page), addr & ~(uintptr_t)(PROCSUM_PAGE_SIZE - 1));
    cr_expect_eq(change_seen.file_status, PROCSUM_FILE_COMPARED);
    cr_expect_eq(change_seen.verdict, PROCSUM_VERDICT_BITFLIP, "verdict %s", procsum_verdict_name(change_seen.verdict));
    cr_expect_eq(change_seen.cause, PROCSUM_CAUSE_WRITE, "cause %s", procsum_cause_name(change_seen.cause));
    cr_expect_eq(change_seen.copy, PROCSUM_COPY_PRIVATE, "copy %s", procsum_copy_name(change_seen.copy));
    cr_assert_eq(change_seen.run_count, 1);
    cr_expect_eq(change_seen.runs[0].addr, addr);
    cr_expect_eq(change_seen.runs[0].len, 1);
    cr_expect_eq(change_seen.runs[0].xor_mask[0], 0x01);
    cr_expect_eq(atomic_load(&other_findings), 0);

    /* A new program: a fresh baseline, no report, counted. */
    cr_assert_eq(write(command, "e", 1), 1);
    procsum_stats st;
    for (int i = 0; i < 200; i++) {
        cr_assert_geq(procsum_check_now(c), 0);
        cr_assert_eq(procsum_get_stats(c, &st), 0);
        if (st.new_programs > 0)
            break;
        usleep(10000);
    }
    cr_assert_eq(st.new_programs, 1u);
    cr_assert_eq(atomic_load(&changes_seen), 1, "the new program was reported as a change");
    /* Its pages are read in the address space it runs in now, not in the one it left. */
    cr_assert_geq(procsum_check_now(c), 0);
    cr_assert_eq(procsum_get_stats(c, &st), 0);
    cr_assert_gt(st.pages_tracked, 0, "no page of the new program was read");
    cr_assert_eq(st.last_error, 0);
    cr_assert_eq(atomic_load(&other_findings), 0, "a page of the new program differed from its file");

    end_child(pid, command);
    cr_assert_eq(procsum_check_now(c), PROCSUM_ESRCH);
    cr_assert_eq(procsum_get_stats(c, &st), 0);
    cr_assert_eq(st.last_error, PROCSUM_ESRCH);
    cr_assert_eq(procsum_stop(c), 0);
}

/*
 * exec fills the new program's layout in over a millisecond or so, and a
 * pass that reads the stat line in between must not count a second new
 * program when the layout is whole: a child that runs a shell, which runs
 * itself again 40 times, a twentieth of a second apart, then sleep, under
 * passes a millisecond apart, is 42 new programs at most (and most of them
 * seen). Passes land inside about one exec in twenty.
 */
Test(start, each_exec_is_one_new_program, .timeout = 120)
{
    static const char script[] = "sleep 0.05; if [ \"$1\" -gt 0 ]; then exec /bin/sh -c \"$0\" \"$0\" $(($1 - 1)); fi; "
                                 "exec sleep 30";
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", script, script, "40", (char *)NULL);
        _exit(3);
    }
    procsum_options o;
    procsum_options_init(&o);
    o.pid = pid;
    o.check_period_ms = 1;
    o.max_cpu_percent = 100;
    procsum_checker *c;
    cr_assert_eq(procsum_start(&o, NULL, NULL, &c), 0);
    /* Until the process runs sleep (its stat line's name), then a few more passes. */
    char path[64], comm[32] = "";
    snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
    for (int i = 0; i < 3000 && strcmp(comm, "sleep\n") != 0; i++) {
        usleep(10000);
        FILE *f = fopen(path, "r");
        cr_assert_not_null(f);
        if (!fgets(comm, sizeof(comm), f))
            comm[0] = '\0';
        fclose(f);
    }
    cr_assert_str_eq(comm, "sleep\n");
    usleep(200000);
    procsum_stats st;
    cr_assert_eq(procsum_get_stats(c, &st), 0);
    cr_assert_eq(procsum_stop(c), 0);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    cr_assert_leq(st.new_programs, 42u, "%llu new programs for 42 execs", (unsigned long long)st.new_programs);
    cr_assert_geq(st.new_programs, 21u, "only %llu of 42 execs seen", (unsigned long long)st.new_programs);
}

/* Whether pid has the page at addr in memory (its page table, /proc/PID/pagemap). */
static bool page_present(pid_t pid, uintptr_t addr)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0, "open %s", path);
    uint64_t entry = 0;
    cr_assert_eq(pread(fd, &entry, sizeof(entry), (off_t)(addr / PROCSUM_PAGE_SIZE * sizeof(entry))),
                 (ssize_t)sizeof(entry));
    close(fd);
    return entry >> 63;
}

/* Has the child drop its copy of addr's page (outside_spare_code's), and waits until it is out of memory. */
static void drop_page(pid_t pid, int command, uintptr_t addr)
{
    cr_assert_eq(write(command, "d", 1), 1);
    for (int i = 0; i < 500 && page_present(pid, addr); i++)
        usleep(10000);
    cr_assert(!page_present(pid, addr), "the child dropped its copy of the page");
}

static atomic_int reports_any_kind;

static void count_any(const procsum_mismatch *m, void *userdata)
{
    (void)userdata;
    atomic_fetch_add(&reports_any_kind, (int)m->changed_pages);
}

/*
 * A change that leaves memory with its page and comes back: the private
 * copy holding it is dropped (as the kernel drops a uprobe's page when the
 * probe goes), then the same bytes are written again (the probe put back).
 * The page came back as the file's in between, so it is a change again
 * and must be reported, although it equals what was reported before.
 */
/*
 * A change made in the child, reported; its page dropped and back; then
 * bit `again` flipped there: reported as a change (returns the reports).
 */
static int change_drop_change(bool verify_file, int again)
{
    atomic_store(&reports_any_kind, 0);
    int command;
    pid_t pid = start_child(&command);
    procsum_options o;
    procsum_options_init(&o);
    o.pid = pid;
    o.verify_file = verify_file;
    o.check_period_ms = 60000; /* passes only when asked */
    procsum_checker *c;
    cr_assert_eq(procsum_start(&o, count_any, NULL, &c), 0);
    cr_assert_eq(atomic_load(&reports_any_kind), 0, "a clean child");
    uintptr_t addr = (uintptr_t)&outside_spare_code + 9;
    flip_bit(pid, addr, 2);
    for (int i = 0; i < 3 && atomic_load(&reports_any_kind) == 0; i++)
        cr_assert_geq(procsum_check_now(c), 0);
    cr_assert_eq(atomic_load(&reports_any_kind), 1, "the change");

    drop_page(pid, command, addr);
    cr_assert_geq(procsum_check_now(c), 0);
    cr_assert_eq(atomic_load(&reports_any_kind), 1, "a page out of memory is not read");

    flip_bit(pid, addr, again); /* the file's page comes back, and gets a bit flipped */
    for (int i = 0; i < 3 && atomic_load(&reports_any_kind) == 1; i++)
        cr_assert_geq(procsum_check_now(c), 0);
    end_child(pid, command);
    cr_assert_eq(procsum_stop(c), 0);
    return atomic_load(&reports_any_kind);
}

Test(start, a_change_gone_with_its_page_and_made_again_is_found)
{
    cr_assert_eq(change_drop_change(true, 2), 2, "the same change, made again, is reported");
}

/* Without verify_file, nothing compares a new page with its file: the old baseline is kept, and another change found. */
Test(start, without_verify_file_a_page_back_keeps_its_baseline)
{
    cr_assert_eq(change_drop_change(false, 3), 2, "another change after the page came back is reported");
}

/*
 * Code patched the usual way (made writable, written, made executable
 * again) while passes run every millisecond: a listing made in the middle
 * of it shows the page as a hole in its file's code, and mprotect moves
 * none of the counters that decide whether a listing is kept. Each patch
 * must be the one change procsum_check_now reports. Checked as another
 * process would be (options.pid: this process).
 */
__attribute__((noinline, used, aligned(4096))) int outside_patched(int x);
__attribute__((noinline, used, aligned(4096))) int outside_patched(int x)
{
    return x * 7 + 1;
}

Test(start, a_patch_made_under_passes_is_found_at_once, .timeout = 300)
{
    procsum_options o;
    procsum_options_init(&o);
    o.pid = getpid();
    o.check_period_ms = 1;
    o.low_priority = false;
    o.verify_file = false;
    procsum_checker *c = NULL;
    cr_assert_eq(procsum_start(&o, on_change, NULL, &c), 0);
    uintptr_t addr = (uintptr_t)&outside_patched + 1, page = addr & ~(uintptr_t)(PROCSUM_PAGE_SIZE - 1);
    for (int i = 0; i < 1500; i++) {
        atomic_store(&changes_seen, 0);
        cr_assert_eq(mprotect((void *)page, PROCSUM_PAGE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC), 0);
        *(volatile uint8_t *)addr ^= 0x10;
        cr_assert_eq(mprotect((void *)page, PROCSUM_PAGE_SIZE, PROT_READ | PROT_EXEC), 0);
        cr_assert_geq(procsum_check_now(c), 0);
        cr_assert_eq(atomic_load(&changes_seen), 1, "patch %d: %d reports (1 expected)", i, atomic_load(&changes_seen));
        cr_assert_eq(atomic_load(&changed_page), page);
        cr_assert_eq(procsum_rebaseline(c), 0);
    }
    cr_assert_eq(procsum_stop(c), 0);
}

static atomic_int verdict_seen, cause_seen, file_status_seen, runs_seen;

static void on_page_change(const procsum_mismatch *m, void *userdata)
{
    (void)userdata;
    if (m->kind == PROCSUM_REPORT_CHANGED && m->changed_pages > 0 && m->page_changes) {
        atomic_store(&verdict_seen, (int)m->page_changes[0].verdict);
        atomic_store(&cause_seen, (int)m->page_changes[0].cause);
        atomic_store(&file_status_seen, (int)m->page_changes[0].file_status);
        atomic_store(&runs_seen, (int)m->page_changes[0].total_runs);
        atomic_fetch_add(&changes_seen, 1);
    } else if (!test_is_sandbox_patch(m)) {
        atomic_fetch_add(&other_findings, 1);
    }
}

/*
 * A JIT that maps its code twice (a memfd, written through one mapping and
 * run through the other) changes the file with the page: memory is the
 * file's page before and after, and a tmpfs file's times do not move. That
 * is the file written in place, not a page restored to its file.
 */
Test(start, code_written_through_a_shared_mapping_is_no_restore)
{
    int fd = memfd_create("procsum-double-map", 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, 2 * PROCSUM_PAGE_SIZE), 0);
    uint8_t *rw = mmap(NULL, 2 * PROCSUM_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    cr_assert_neq(rw, MAP_FAILED);
    memset(rw, 0xc3, 2 * PROCSUM_PAGE_SIZE); /* ret */
    uint8_t *rx = mmap(NULL, 2 * PROCSUM_PAGE_SIZE, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
    cr_assert_neq(rx, MAP_FAILED);
    child_touches = rx;
    child_touches_len = 2 * PROCSUM_PAGE_SIZE;
    int command;
    pid_t pid = start_child(&command);
    procsum_checker *c = check_child(pid, on_page_change);
    for (int k = 0; k < 2; k++) {
        rw[PROCSUM_PAGE_SIZE + 100 + k] = 0x90; /* nop: the child's executable mapping shows it */
        for (int i = 0; i < 3 && atomic_load(&changes_seen) == k; i++)
            cr_assert_geq(procsum_check_now(c), 0);
        cr_assert_eq(atomic_load(&changes_seen), k + 1, "write %d", k);
        cr_expect_neq(atomic_load(&verdict_seen), PROCSUM_VERDICT_RESTORED,
                      "write %d: a page that never differed from its file is no restore", k);
        cr_expect_eq(atomic_load(&cause_seen), PROCSUM_CAUSE_FILE_MODIFIED, "write %d: cause %s", k,
                     procsum_cause_name((procsum_cause)atomic_load(&cause_seen)));
        /* The file's bytes now are not the page's old content: none is shown. */
        cr_expect_eq(atomic_load(&file_status_seen), PROCSUM_FILE_MODIFIED, "write %d: file %s", k,
                     procsum_file_status_name((procsum_file_status)atomic_load(&file_status_seen)));
        cr_expect_eq(atomic_load(&runs_seen), 0, "write %d: runs shown", k);
    }
    cr_expect_eq(atomic_load(&other_findings), 0);
    end_child(pid, command);
    cr_assert_eq(procsum_stop(c), 0);
    munmap(rx, 2 * PROCSUM_PAGE_SIZE);
    munmap(rw, 2 * PROCSUM_PAGE_SIZE);
    close(fd);
}

/* Reads the byte at addr in pid's memory, as a debugger would: a page out of memory comes back, the file's. */
static void touch_byte(pid_t pid, uintptr_t addr)
{
    int fd = open_mem(pid, O_RDONLY);
    uint8_t b;
    cr_assert_eq(pread(fd, &b, 1, (off_t)addr), 1);
    close(fd);
}

/*
 * A change whose page leaves memory and comes back as the file's (the
 * kernel drops a uprobe's page when the probe goes; an outside checker,
 * which reads only pages in memory, never sees the probe's byte taken out):
 * that is the change undone, and reported as a restore, or the change would
 * stand in the reports for good.
 */
Test(start, a_change_gone_with_its_page_comes_back_restored)
{
    atomic_store(&changes_seen, 0);
    atomic_store(&verdict_seen, -1);
    int command;
    pid_t pid = start_child(&command);
    procsum_checker *c = check_child(pid, on_page_change);
    uintptr_t addr = (uintptr_t)&outside_spare_code + 9;
    flip_bit(pid, addr, 2);
    for (int i = 0; i < 3 && atomic_load(&changes_seen) == 0; i++)
        cr_assert_geq(procsum_check_now(c), 0);
    cr_assert_eq(atomic_load(&changes_seen), 1, "the change");
    cr_assert_eq(atomic_load(&verdict_seen), PROCSUM_VERDICT_BITFLIP);

    drop_page(pid, command, addr);
    cr_assert_geq(procsum_check_now(c), 0);
    cr_assert_eq(atomic_load(&changes_seen), 1, "a page out of memory is not read");

    touch_byte(pid, addr);
    cr_assert(page_present(pid, addr), "the file's page is back");
    for (int i = 0; i < 3 && atomic_load(&changes_seen) == 1; i++)
        cr_assert_geq(procsum_check_now(c), 0);
    cr_assert_eq(atomic_load(&changes_seen), 2, "the page back as its file's is reported");
    cr_assert_eq(atomic_load(&verdict_seen), PROCSUM_VERDICT_RESTORED, "verdict %s",
                 procsum_verdict_name((procsum_verdict)atomic_load(&verdict_seen)));
    cr_assert_geq(procsum_check_now(c), 0);
    cr_assert_eq(atomic_load(&changes_seen), 2, "the restore is reported once");
    end_child(pid, command);
    cr_assert_eq(procsum_stop(c), 0);
}
